//! A spec-kitty feature directory (`kitty-specs/<NNN-slug>/`) loaded into typed work packages.
//!
//! Three real layouts are read (DESIGN.md §3): flat `tasks/WPxx-*.md` with `lane:` in the
//! frontmatter; legacy `tasks/<lane>/WPxx-*.md` where the directory is the lane; and the newer
//! one where lanes live in `status.events.jsonl` / `status.json`. Every problem in the feature is
//! collected and reported together, each naming its file and line.

mod frontmatter;
mod kiro;
mod load;
mod model;
mod problem;
mod status;
mod wp_file;

pub use kiro::{is_kiro_spec, load_kiro, load_task_list};
pub use load::load_feature;
pub use model::{Feature, FeatureMeta, Layout, WorkPackage};
pub use problem::{FeatureError, Problem, ProblemKind};
