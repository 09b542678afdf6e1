//! `clone_workspace`, `list_workspaces` and `remove_workspace`: workspaces from Python (dicts,
//! typed by the package). Clones and removals run off the GIL; Ctrl-C stops them cleanly.

use std::path::PathBuf;

use kitty_orchestrator::workspace::{self, CloneOptions};
use pyo3::prelude::*;

use crate::convert::to_py as value_to_py;
use crate::engine::drive;
use crate::errors::to_py;

fn dir_or_default(dir: Option<PathBuf>) -> PathBuf {
    dir.unwrap_or_else(workspace::default_workspace_dir)
}

/// Clones `url` into `<workspace_dir>/<name>` (or reuses that clone); a dict.
#[pyfunction]
#[pyo3(signature = (url, workspace_dir=None, branch=None))]
pub fn clone_workspace(
    py: Python<'_>,
    url: String,
    workspace_dir: Option<PathBuf>,
    branch: Option<String>,
) -> PyResult<Py<PyAny>> {
    let mut options = CloneOptions::new(url, dir_or_default(workspace_dir));
    options.branch = branch;
    drive(py, None, "clone", move |_, token| async move { Ok(workspace::clone_workspace(&options, &token).await?) })
}

/// Every workspace in `workspace_dir`, with its features' progress; a list of dicts.
#[pyfunction]
#[pyo3(signature = (workspace_dir=None))]
pub fn list_workspaces(py: Python<'_>, workspace_dir: Option<PathBuf>) -> PyResult<Py<PyAny>> {
    let dir = dir_or_default(workspace_dir);
    let listed = py.detach(|| workspace::list_workspaces(&dir));
    match listed {
        Ok(list) => value_to_py(py, &list),
        Err(err) => Err(to_py(py, err.into())),
    }
}

/// Removes the workspace `name` (backed up first; refused with unsaved work unless `force`).
#[pyfunction]
#[pyo3(signature = (name, workspace_dir=None, force=false))]
pub fn remove_workspace(
    py: Python<'_>,
    name: String,
    workspace_dir: Option<PathBuf>,
    force: bool,
) -> PyResult<Py<PyAny>> {
    let dir = dir_or_default(workspace_dir);
    drive(py, None, "removal", move |_, token| async move {
        Ok(workspace::remove_workspace(&dir, &name, force, &token).await?)
    })
}
