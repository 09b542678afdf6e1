//! Worktree errors; each names the path, branch or WP at fault and what to do.

use std::path::PathBuf;

/// What went wrong preparing, inspecting or removing a WP worktree.
#[derive(Debug, thiserror::Error)]
pub enum WorktreeError {
    /// A libgit2 operation failed.
    #[error("git error while {context}: {source}")]
    Git {
        /// What we were doing.
        context: String,
        /// libgit2's error.
        source: git2::Error,
    },
    /// A file operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file at fault.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The dependencies' branches do not merge cleanly.
    #[error("{wp}: the branches of its dependencies {} conflict in {}; resolve the conflict on one dependency branch (or merge them by hand into a branch) and retry", deps.join(", "), paths.join(", "))]
    MergeConflict {
        /// The WP whose base could not be made.
        wp: String,
        /// The dependency branches merged.
        deps: Vec<String>,
        /// Conflicting paths.
        paths: Vec<String>,
    },
    /// The base branch (target branch or a dependency's branch) does not exist.
    #[error("{wp}: base branch `{branch}` does not exist ({why})")]
    MissingBase {
        /// The WP.
        wp: String,
        /// The branch looked for.
        branch: String,
        /// Why it was needed.
        why: String,
    },
    /// The worktree path exists but is not a git worktree of this repository.
    #[error("{}: exists but is not a registered worktree of this repository; move it away or delete it, then retry", path.display())]
    UnregisteredDirectory {
        /// The directory.
        path: PathBuf,
    },
    /// The WP branch is checked out in another worktree.
    #[error("branch `{branch}` is already checked out at {}; remove that worktree (`git worktree remove`) or switch it to another branch", path.display())]
    BranchInUse {
        /// The branch.
        branch: String,
        /// Where it is checked out.
        path: PathBuf,
    },
    /// The worktree is locked and cannot be repaired automatically.
    #[error("worktree `{name}` is locked ({reason}) and its directory {} is missing; run `git worktree unlock {name}` if it is not on removable media", path.display())]
    Locked {
        /// Worktree name.
        name: String,
        /// Lock reason.
        reason: String,
        /// Its path.
        path: PathBuf,
    },
    /// The worktree has uncommitted work and no backup was allowed.
    #[error("{}: has uncommitted changes ({}); commit them, or remove with a backup", path.display(), files.join(", "))]
    Dirty {
        /// The worktree.
        path: PathBuf,
        /// Changed files (first few).
        files: Vec<String>,
    },
    /// The configured setup command failed in the new worktree.
    #[error("setup command `{command}` failed in {} ({status}); see {}", path.display(), log.display())]
    SetupFailed {
        /// The command.
        command: String,
        /// Exit status.
        status: String,
        /// The worktree.
        path: PathBuf,
        /// Its output.
        log: PathBuf,
    },
    /// A backup ref could not be written.
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    /// The spec-kitty mission the worktrees belong to cannot be read.
    #[error(transparent)]
    SpecKitty(#[from] crate::spec_kitty::SpecKittyError),
}

impl WorktreeError {
    /// The stable code of this error's kind.
    pub fn code(&self) -> crate::ErrorCode {
        use crate::ErrorCode;
        match self {
            WorktreeError::Git { .. } => ErrorCode::Git,
            WorktreeError::Io { .. } => ErrorCode::Io,
            WorktreeError::MergeConflict { .. } => ErrorCode::WorktreeConflict,
            WorktreeError::MissingBase { .. } => ErrorCode::WorktreeMissingBase,
            WorktreeError::UnregisteredDirectory { .. } => ErrorCode::WorktreePathTaken,
            WorktreeError::BranchInUse { .. } => ErrorCode::WorktreeBranchInUse,
            WorktreeError::Locked { .. } => ErrorCode::WorktreeLocked,
            WorktreeError::Dirty { .. } => ErrorCode::WorktreeDirty,
            WorktreeError::SetupFailed { .. } => ErrorCode::WorktreeSetupFailed,
            WorktreeError::State(err) => err.code(),
            WorktreeError::SpecKitty(err) => err.code(),
        }
    }

    pub(crate) fn git(context: impl Into<String>) -> impl FnOnce(git2::Error) -> WorktreeError {
        let context = context.into();
        move |source| WorktreeError::Git { context, source }
    }

    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> WorktreeError {
        let path = path.into();
        move |source| WorktreeError::Io { path, source }
    }
}
