//! Interop with spec-kitty 3.x and 4.0 missions (`docs/SPEC-KITTY.md`): we run a mission in its own
//! execution lanes and worktrees, and mirror every lane change into its status log in its exact
//! wire format, so `spec-kitty` (its board, `orchestrator-api mission-state`, `merge`) sees our
//! work as if its own tools had done it.
//!
//! - [`mission`]: detecting a coordination mission (`meta.json`, `lanes.json`) and its names.
//! - [`version`]: which spec-kitty the project runs with, and every difference between 3.x and
//!   4.0 as a method of [`Generation`].
//! - [`reduce`]: spec-kitty's reducer — the `status.json` it would write for a log.
//! - [`event`] / [`mirror`]: our WP history as spec-kitty lines, with ids derived from ours.
//! - [`log`] / [`sync`]: writing those lines under spec-kitty's lock and committing them in the
//!   coordination worktree.
//! - [`union`]: its union merge rule for event logs, applied by our libgit2 merges.
//! - [`json`]: Python's `json.dumps` byte for byte.

mod continuity;
mod error;
pub mod event;
pub mod files;
pub mod json;
pub mod log;
pub mod mirror;
pub mod mission;
pub mod reduce;
pub mod sync;
mod transition;
pub mod union;
pub mod version;
pub mod wp_file;

pub use error::SpecKittyError;
pub use files::FilesMirror;
pub use log::{StatusLog, SyncReport};
pub use mission::{ExecutionLane, Mission};
pub use sync::{FeatureMirror, MissionMirror};
pub use version::{Generation, SpecKitty, SpecKittyVersion, VersionSource};
