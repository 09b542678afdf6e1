//! A feature loaded into typed work packages, from one of several readers behind
//! [`FeatureSource`]: a spec-kitty feature directory (`kitty-specs/<NNN-slug>/`), a Kiro spec
//! (`.kiro/specs/<name>/`) or a markdown task list (a `PLAN.md`).
//!
//! For spec-kitty, three real layouts are read (DESIGN.md §3): flat `tasks/WPxx-*.md` with `lane:` in the
//! frontmatter; legacy `tasks/<lane>/WPxx-*.md` where the directory is the lane; and the newer
//! one where lanes live in `status.events.jsonl` / `status.json`. Every problem in the feature is
//! collected and reported together, each naming its file and line.

mod frontmatter;
mod kiro;
mod load;
mod model;
mod problem;
mod source;
mod status;
mod text;
mod wp_file;

pub use kiro::{is_kiro_spec, load_kiro, load_kiro_with, load_task_list, load_task_list_with};
pub use model::{Feature, FeatureMeta, Layout, WorkPackage};
pub use problem::{FeatureError, Problem, ProblemKind};
pub use source::{
    FeatureFormat, FeatureSource, LoadOptions, detect_format, load_feature, load_feature_with, source_for, sources,
};
