//! Remote errors; each names the remote, the refs at fault and what to do. Remote URLs and git's
//! output are redacted (credentials in a URL never appear).

/// What went wrong talking to a remote.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// `git` could not be started.
    #[error("cannot run `{command}`: {source}")]
    Spawn {
        /// The command (redacted).
        command: String,
        /// Why.
        source: std::io::Error,
    },
    /// A git command took too long (and was ended, with everything it started).
    #[error(
        "`{command}` did not finish within {seconds} s and was stopped; check the network and the remote, then retry"
    )]
    Timeout {
        /// The command (redacted).
        command: String,
        /// The limit.
        seconds: u64,
    },
    /// The operation was cancelled.
    #[error("`{command}` was cancelled")]
    Cancelled {
        /// The command (redacted).
        command: String,
    },
    /// The remote could not be read or written (unknown remote, unreachable, authentication).
    #[error("remote `{remote}`: `{command}` failed: {why}")]
    Failed {
        /// The remote.
        remote: String,
        /// The command (redacted).
        command: String,
        /// git's last lines of error output (redacted).
        why: String,
    },
    /// The remote has commits on refs we push that we do not have: pushing would drop them.
    #[error("remote `{remote}` moved under us: {} (nothing was pushed); fetch and merge them, then push again", moved.iter().map(|(r, why)| format!("{r} {why}")).collect::<Vec<_>>().join("; "))]
    Moved {
        /// The remote.
        remote: String,
        /// Each ref with what is wrong.
        moved: Vec<(String, String)>,
    },
    /// The remote refused the push (protected branch, hook, a lease that no longer held).
    #[error("remote `{remote}` rejected the push (nothing was pushed): {}", rejected.iter().map(|(r, why)| format!("{r} ({why})")).collect::<Vec<_>>().join("; "))]
    Rejected {
        /// The remote.
        remote: String,
        /// Each rejected ref with git's reason.
        rejected: Vec<(String, String)>,
    },
    /// Nothing to push: no landed branch and no such branch.
    #[error("nothing to push for {feature}: {why}")]
    NothingToPush {
        /// The feature.
        feature: String,
        /// Why.
        why: String,
    },
}

impl RemoteError {
    /// The stable code of this error's kind.
    pub fn code(&self) -> crate::ErrorCode {
        use crate::ErrorCode;
        match self {
            RemoteError::Moved { .. } | RemoteError::Rejected { .. } => ErrorCode::PushRejected,
            RemoteError::NothingToPush { .. } => ErrorCode::MergeNotReady,
            RemoteError::Cancelled { .. } => ErrorCode::Aborted,
            RemoteError::Spawn { .. } | RemoteError::Timeout { .. } | RemoteError::Failed { .. } => {
                ErrorCode::RemoteFailed
            }
        }
    }
}
