//! Workspaces: repositories cloned from a URL to run features in (`run --clone URL`), listed with
//! their features' progress (`workspaces list`) and removed only with their work backed up
//! (`workspaces remove`).
//!
//! A workspace is `<workspace dir>/<repo name>`, a plain `git clone` made through the `git`
//! binary (the user's credential helpers, SSH agent and proxies work). A second clone of the same
//! URL reuses it (fetched, fast-forwarded when clean); one of another URL is refused. A clone
//! that fails leaves nothing behind: it is made in a hidden directory beside the workspace and
//! renamed into place only when complete.

mod clone;
mod error;
mod list;
mod name;
mod remove;

pub use clone::{CloneOptions, Cloned, clone_workspace, default_workspace_dir};
pub use error::WorkspaceError;
pub use list::{Workspace, WorkspaceFeature, describe_workspace, list_workspaces};
pub use name::{repo_name, same_url};
pub use remove::{Removed, remove_workspace};
