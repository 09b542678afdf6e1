//! Errors of the git state store. Each names the ref at fault.

use crate::lane::Lane;

/// What went wrong reading or writing state in git.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// A libgit2 operation failed.
    #[error("git error while {context}: {source}")]
    Git {
        /// What we were doing.
        context: String,
        /// libgit2's error.
        source: git2::Error,
    },
    /// The event is not allowed from the WP's current state (the ref is unchanged).
    #[error("{reference}: cannot apply `{event}` to a WP in lane {lane}: {why}")]
    IllegalTransition {
        /// The WP's ref.
        reference: String,
        /// The event's name.
        event: &'static str,
        /// The lane the WP is in.
        lane: Lane,
        /// Why not.
        why: String,
    },
    /// Another orchestrator owns the WP (or won the race for it).
    #[error("{reference}: {why}")]
    Conflict {
        /// The ref at stake.
        reference: String,
        /// Who holds it, and what to do.
        why: String,
    },
    /// The state in git cannot be read as ours.
    #[error("{reference}: corrupt state: {why}")]
    Corrupt {
        /// The ref (or commit) at fault.
        reference: String,
        /// What is wrong with it.
        why: String,
    },
    /// The WP (or run) has no state yet: the feature was never imported.
    #[error("{reference} does not exist: import the feature first (`kitty-orchestrator run` does it)")]
    Missing {
        /// The ref that was looked for.
        reference: String,
    },
    /// Another orchestrator process runs this feature on this machine.
    #[error(
        "feature {feature} is already being run by {holder} (lock {path}); wait for it, or `kitty-orchestrator abort {feature}`"
    )]
    RunLocked {
        /// The feature slug.
        feature: String,
        /// pid/host/run id of the holder, as recorded in the lock file.
        holder: String,
        /// The lock file.
        path: String,
    },
    /// A lock file could not be created or read.
    #[error("{path}: {source}")]
    Io {
        /// The file at fault.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl StateError {
    /// The stable code of this error's kind (shared with the CLI, Python and Node).
    pub fn code(&self) -> crate::ErrorCode {
        use crate::ErrorCode;
        match self {
            StateError::Git { .. } => ErrorCode::Git,
            StateError::IllegalTransition { .. } => ErrorCode::IllegalTransition,
            StateError::Conflict { .. } => ErrorCode::StateConflict,
            StateError::Corrupt { .. } => ErrorCode::StateCorrupt,
            StateError::Missing { .. } => ErrorCode::StateMissing,
            StateError::RunLocked { .. } => ErrorCode::RunLocked,
            StateError::Io { .. } => ErrorCode::Io,
        }
    }

    pub(crate) fn git(context: impl Into<String>) -> impl FnOnce(git2::Error) -> StateError {
        let context = context.into();
        move |source| StateError::Git { context, source }
    }
}
