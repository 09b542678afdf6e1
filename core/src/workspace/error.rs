//! Workspace errors; each names the URL (credentials masked), directory or workspace at fault and
//! what to do.

use std::path::PathBuf;

/// What went wrong cloning, listing or removing a workspace.
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    /// No repository name can be taken from the URL.
    #[error("cannot name a workspace after `{url}`: {why}")]
    BadUrl {
        /// The URL (credentials masked).
        url: String,
        /// Why.
        why: String,
    },
    /// `git clone` failed; nothing was left behind.
    #[error("cloning {url} failed (nothing was left in {}): {why}", dir.display())]
    CloneFailed {
        /// The URL (credentials masked).
        url: String,
        /// The workspace directory.
        dir: PathBuf,
        /// git's last lines of error output, or why it could not run.
        why: String,
    },
    /// The workspace exists and is a clone of another repository.
    #[error(
        "{} is a clone of {existing}, not of {url}; use another --workspace-dir, or remove it with `workspaces remove`",
        path.display()
    )]
    OtherOrigin {
        /// The workspace.
        path: PathBuf,
        /// Its origin (credentials masked; empty when it has none).
        existing: String,
        /// The URL asked for (credentials masked).
        url: String,
    },
    /// The path exists and is not a git clone.
    #[error("{} exists and is not a git clone of {url}; move it away or use another --workspace-dir", path.display())]
    NotAClone {
        /// The path.
        path: PathBuf,
        /// The URL asked for (credentials masked).
        url: String,
    },
    /// The branch to run on could not be checked out.
    #[error("{}: cannot check out branch `{branch}`: {why}", path.display())]
    Checkout {
        /// The workspace.
        path: PathBuf,
        /// The branch.
        branch: String,
        /// git's reason.
        why: String,
    },
    /// No workspace of that name.
    #[error("no workspace `{name}` in {} (`workspaces list` shows them)", dir.display())]
    NotFound {
        /// The workspace directory.
        dir: PathBuf,
        /// The name asked for.
        name: String,
    },
    /// The workspace holds work that exists nowhere else.
    #[error(
        "workspace {} has unsaved work: {}; push or commit it, or pass --force (a backup bundle is written first)",
        path.display(), unsaved.join("; ")
    )]
    Unsaved {
        /// The workspace.
        path: PathBuf,
        /// Each worktree with uncommitted files and each branch not on a remote.
        unsaved: Vec<String>,
    },
    /// A run is going in the workspace.
    #[error("a run of {feature} is going in {} (abort it first)", path.display())]
    RunGoing {
        /// The workspace.
        path: PathBuf,
        /// The feature running.
        feature: String,
    },
    /// A local git operation failed.
    #[error("{}: {context}: {why}", path.display())]
    Git {
        /// The repository.
        path: PathBuf,
        /// What was being done.
        context: String,
        /// Why.
        why: String,
    },
    /// A file or directory could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl WorkspaceError {
    /// The stable code of this error's kind.
    pub fn code(&self) -> crate::ErrorCode {
        use crate::ErrorCode;
        match self {
            WorkspaceError::BadUrl { .. } | WorkspaceError::CloneFailed { .. } => ErrorCode::RemoteFailed,
            WorkspaceError::OtherOrigin { .. } | WorkspaceError::NotAClone { .. } => ErrorCode::WorktreePathTaken,
            WorkspaceError::NotFound { .. } => ErrorCode::NotARepository,
            WorkspaceError::Unsaved { .. } => ErrorCode::WorktreeDirty,
            WorkspaceError::RunGoing { .. } => ErrorCode::RunLocked,
            WorkspaceError::Checkout { .. } | WorkspaceError::Git { .. } => ErrorCode::Git,
            WorkspaceError::Io { .. } => ErrorCode::Io,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> WorkspaceError {
        let path = path.into();
        move |source| WorkspaceError::Io { path, source }
    }

    pub(crate) fn git(
        path: &std::path::Path,
        context: impl Into<String>,
    ) -> impl FnOnce(git2::Error) -> WorkspaceError {
        let (path, context) = (path.to_path_buf(), context.into());
        move |err| WorkspaceError::Git { path, context, why: err.message().to_string() }
    }
}
