//! Workspaces from Node: clone (or reuse), list and remove; each settles through `on_done`
//! (`{ok: true, value}` or `{ok: false, code, message}`), off the JS thread.

use kitty_orchestrator::workspace::{self, CloneOptions};
use napi_derive::napi;
use tokio_util::sync::CancellationToken;

use crate::engine::{settle_blocking, spawn_settled};
use crate::errors::{Code, guard};

fn dir_or_default(dir: Option<String>) -> std::path::PathBuf {
    dir.map(Into::into).unwrap_or_else(workspace::default_workspace_dir)
}

/// Clones `url` into `<workspace_dir>/<name>` through `git` (or reuses that clone): the
/// workspace goes to `on_done`.
#[napi]
pub fn clone_workspace_async(
    url: String,
    workspace_dir: Option<String>,
    branch: Option<String>,
    on_done: crate::engine::JsCallback,
) -> napi::Result<(), Code> {
    guard(|| {
        let mut options = CloneOptions::new(url, dir_or_default(workspace_dir));
        options.branch = branch;
        spawn_settled(None, on_done, "clone", "value", move |_| async move {
            Ok(workspace::clone_workspace(&options, &CancellationToken::new()).await?)
        });
        Ok(())
    })
}

/// Every workspace in `workspace_dir` with its features' progress: the list goes to `on_done`.
#[napi]
pub fn list_workspaces_async(
    workspace_dir: Option<String>,
    on_done: crate::engine::JsCallback,
) -> napi::Result<(), Code> {
    guard(|| {
        let dir = dir_or_default(workspace_dir);
        settle_blocking(on_done, move || Ok(workspace::list_workspaces(&dir)?));
        Ok(())
    })
}

/// Removes workspace `name` (backed up first; refused with unsaved work unless `force`).
#[napi]
pub fn remove_workspace_async(
    name: String,
    workspace_dir: Option<String>,
    force: Option<bool>,
    on_done: crate::engine::JsCallback,
) -> napi::Result<(), Code> {
    guard(|| {
        let dir = dir_or_default(workspace_dir);
        let force = force.unwrap_or(false);
        spawn_settled(None, on_done, "removal", "value", move |_| async move {
            Ok(workspace::remove_workspace(&dir, &name, force, &CancellationToken::new()).await?)
        });
        Ok(())
    })
}
