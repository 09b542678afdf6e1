//! What can go wrong reading a spec-kitty mission or writing its status log; each error names the
//! file, branch or lock at fault and what to do.

use std::path::PathBuf;

use crate::error_code::ErrorCode;

/// A spec-kitty interop error.
#[derive(Debug, thiserror::Error)]
pub enum SpecKittyError {
    /// `meta.json` / `lanes.json` cannot be used.
    #[error("{}: {why}", path.display())]
    Mission {
        /// The file at fault.
        path: PathBuf,
        /// What is wrong and what to do.
        why: String,
    },
    /// spec-kitty's status log cannot be read (a broken line, a conflict left in it).
    #[error("{}:{line}: {why}; fix or restore the line (`git -C <coord worktree> diff`), then run again", path.display())]
    Log {
        /// The log file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        why: String,
    },
    /// The coordination worktree is not in a state we may commit in.
    #[error("coordination worktree {}: {why}", path.display())]
    Coord {
        /// The worktree.
        path: PathBuf,
        /// What is wrong and what to do.
        why: String,
    },
    /// spec-kitty's lock stayed held.
    #[error("{} stayed locked for {seconds} s (a spec-kitty command is writing the status log); retry when it is done", path.display())]
    Locked {
        /// The lock file.
        path: PathBuf,
        /// How long we waited.
        seconds: u64,
    },
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Our own state could not be read.
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    /// A git operation failed.
    #[error("{context}: {source}")]
    Git {
        /// What we were doing.
        context: String,
        /// libgit2's error.
        source: git2::Error,
    },
}

impl SpecKittyError {
    /// The stable code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            SpecKittyError::Mission { .. } | SpecKittyError::Log { .. } => ErrorCode::FeatureInvalid,
            SpecKittyError::Coord { .. } => ErrorCode::WorktreeDirty,
            SpecKittyError::Locked { .. } => ErrorCode::RunLocked,
            SpecKittyError::Io { .. } => ErrorCode::Io,
            SpecKittyError::Git { .. } => ErrorCode::Git,
            SpecKittyError::State(err) => err.code(),
        }
    }

    pub(crate) fn git(context: impl Into<String>) -> impl FnOnce(git2::Error) -> SpecKittyError {
        let context = context.into();
        move |source| SpecKittyError::Git { context, source }
    }

    pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> SpecKittyError + '_ {
        move |source| SpecKittyError::Io { path: path.to_path_buf(), source }
    }
}
