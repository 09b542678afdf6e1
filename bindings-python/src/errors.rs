//! The exception hierarchy: `KittyError` (with `.code`) and one subclass per error kind, whose
//! `code` class attribute is the same stable code the CLI and Node report.

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyType};

use kitty_orchestrator::ErrorCode;

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
    MergeError,
    KittyError,
    "Done WPs could not land on the target branch (nothing was changed): not ready, conflicts, or the target moved or is dirty."
);
create_exception!(
    kitty_orchestrator,
    RemoteError,
    KittyError,
    "A remote refused a push (or moved under us), or could not be reached."
);
create_exception!(
    kitty_orchestrator,
    GitError,
    KittyError,
    "The git repository or the state in it could not be read or written."
);

/// The exception class of each error code: exhaustive, so a new code cannot be forgotten here.
fn class_of(py: Python<'_>, code: ErrorCode) -> Bound<'_, PyType> {
    use ErrorCode::*;
    match code {
        FeatureInvalid | FeatureNotFound | WpIdInvalid | WpNotFound => py.get_type::<FeatureError>(),
        ConfigInvalid => py.get_type::<ConfigError>(),
        NoAgents | UnknownAgent | SandboxUnavailable => py.get_type::<AgentError>(),
        Io => py.get_type::<IoError>(),
        Git | NotARepository | StateCorrupt | StateMissing => py.get_type::<GitError>(),
        IllegalTransition | StateConflict | RunLocked => py.get_type::<StateConflictError>(),
        WorktreeConflict | WorktreeMissingBase | WorktreePathTaken | WorktreeBranchInUse | WorktreeLocked
        | WorktreeDirty | WorktreeSetupFailed => py.get_type::<WorktreeError>(),
        MergeNotReady | MergeConflict | TargetMoved | TargetDirty => py.get_type::<MergeError>(),
        PushRejected | RemoteFailed | PrAuthMissing | PrFailed => py.get_type::<RemoteError>(),
        Aborted | Internal => py.get_type::<KittyError>(),
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    // Each class's `code` attribute: the first code that maps to it (instances carry the exact one).
    let classes = [
        ("KittyError", py.get_type::<KittyError>(), ErrorCode::Internal),
        ("FeatureError", py.get_type::<FeatureError>(), ErrorCode::FeatureInvalid),
        ("ConfigError", py.get_type::<ConfigError>(), ErrorCode::ConfigInvalid),
        ("IoError", py.get_type::<IoError>(), ErrorCode::Io),
        ("StateConflictError", py.get_type::<StateConflictError>(), ErrorCode::StateConflict),
        ("GitError", py.get_type::<GitError>(), ErrorCode::Git),
        ("WorktreeError", py.get_type::<WorktreeError>(), ErrorCode::WorktreeConflict),
        ("AgentError", py.get_type::<AgentError>(), ErrorCode::NoAgents),
        ("MergeError", py.get_type::<MergeError>(), ErrorCode::MergeConflict),
        ("RemoteError", py.get_type::<RemoteError>(), ErrorCode::PushRejected),
    ];
    for (name, class, code) in classes {
        class.setattr("code", code.as_str())?;
        m.add(name, class)?;
    }
    // Every code with its class, for callers (and the test that checks the vocabularies agree).
    let table = PyDict::new(py);
    for code in ErrorCode::ALL {
        table.set_item(code.as_str(), class_of(py, code))?;
    }
    m.add("ERROR_CODES", table)?;
    Ok(())
}

/// Maps a core error to its Python exception (message identical to the CLI's).
pub fn to_py(py: Python<'_>, err: kitty_orchestrator::Error) -> PyErr {
    let message = err.to_string();
    let code = err.code();
    let exc = PyErr::from_type(class_of(py, code), message);
    let problems: Vec<crate::problem::Problem> = match &err {
        kitty_orchestrator::Error::Feature(feature_err) => {
            feature_err.problems.iter().map(crate::problem::Problem::from).collect()
        }
        _ => Vec::new(),
    };
    let attach = || -> PyResult<()> {
        let value = exc.value(py);
        // The class groups related kinds; the instance carries the exact code.
        value.setattr("code", code.as_str())?;
        if class_of(py, code).is(py.get_type::<FeatureError>()) {
            value.setattr("problems", PyList::new(py, problems)?)?;
        }
        Ok(())
    };
    match attach() {
        Ok(()) => exc,
        Err(err) => err,
    }
}
