//! The exception hierarchy: `KittyError` (with `.code`) and one subclass per error kind, whose
//! `code` class attribute is the same stable code the CLI and Node report.

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyList;

use kitty_orchestrator::error::codes;

create_exception!(
    kitty_orchestrator,
    KittyError,
    PyException,
    "Base class of every kitty-orchestrator error; `.code` is a stable error code."
);
create_exception!(
    kitty_orchestrator,
    FeatureError,
    KittyError,
    "A feature directory is invalid; `.problems` lists every problem found."
);
create_exception!(kitty_orchestrator, ConfigError, KittyError, "The orchestrator configuration is invalid.");
create_exception!(kitty_orchestrator, IoError, KittyError, "A file could not be read or written.");
create_exception!(kitty_orchestrator, AgentError, KittyError, "No usable agent for a role, or an unknown agent id.");
create_exception!(
    kitty_orchestrator,
    WorktreeError,
    KittyError,
    "A WP worktree could not be prepared, inspected or removed."
);
create_exception!(
    kitty_orchestrator,
    StateConflictError,
    KittyError,
    "The state in git refused the change: another orchestrator holds the WP or the feature, or the transition is not allowed."
);
create_exception!(
    kitty_orchestrator,
    GitError,
    KittyError,
    "The git repository or the state in it could not be read or written."
);

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let classes = [
        ("KittyError", py.get_type::<KittyError>(), "internal"),
        ("FeatureError", py.get_type::<FeatureError>(), codes::FEATURE),
        ("ConfigError", py.get_type::<ConfigError>(), codes::CONFIG),
        ("IoError", py.get_type::<IoError>(), codes::IO),
        ("StateConflictError", py.get_type::<StateConflictError>(), "state_conflict"),
        ("GitError", py.get_type::<GitError>(), "git"),
        ("WorktreeError", py.get_type::<WorktreeError>(), "worktree_conflict"),
        ("AgentError", py.get_type::<AgentError>(), "no_agents"),
    ];
    for (name, class, code) in classes {
        class.setattr("code", code)?;
        m.add(name, class)?;
    }
    Ok(())
}

/// Maps a core error to its Python exception (message identical to the CLI's).
pub fn to_py(py: Python<'_>, err: kitty_orchestrator::Error) -> PyErr {
    let message = err.to_string();
    match err {
        kitty_orchestrator::Error::Feature(feature_err) => {
            let exc = FeatureError::new_err(message);
            let problems: Vec<crate::feature::Problem> =
                feature_err.problems.iter().map(crate::feature::Problem::from).collect();
            let attach = || -> PyResult<()> {
                let list = PyList::new(py, problems)?;
                exc.value(py).setattr("problems", list)?;
                Ok(())
            };
            match attach() {
                Ok(()) => exc,
                Err(err) => err,
            }
        }
        kitty_orchestrator::Error::Config(_) => ConfigError::new_err(message),
        kitty_orchestrator::Error::Io { .. } => IoError::new_err(message),
        kitty_orchestrator::Error::State(_)
        | kitty_orchestrator::Error::Worktree(_)
        | kitty_orchestrator::Error::Engine(_) => {
            let code = err.code();
            let exc = match code {
                "no_agents" | "unknown_agent" => AgentError::new_err(message),
                "feature_not_found" | "wp_id_invalid" | "wp_not_found" => FeatureError::new_err(message),
                "internal" => KittyError::new_err(message),
                "state_conflict" | "illegal_transition" | "run_locked" => StateConflictError::new_err(message),
                c if c.starts_with("worktree_") => WorktreeError::new_err(message),
                "io" => IoError::new_err(message),
                _ => GitError::new_err(message),
            };
            // The class groups related kinds; the instance carries the exact code.
            if matches!(code, "feature_not_found" | "wp_id_invalid" | "wp_not_found") {
                let _ = exc.value(py).setattr("problems", pyo3::types::PyList::empty(py));
            }
            match exc.value(py).setattr("code", code) {
                Ok(()) => exc,
                Err(err) => err,
            }
        }
    }
}
