//! The one error vocabulary: every error kind has exactly one [`ErrorCode`], the same string in
//! the CLI's `--json`, Python's `KittyError.code` and Node's `err.code`. The CLI's exit codes,
//! Python's exception classes and Node's typings are derived from it (and a test checks that
//! the README, `lib/index.d.ts` and the Python table list exactly [`ErrorCode::ALL`]).

use serde::{Deserialize, Serialize};

/// A stable error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// A feature directory is invalid (every problem is listed).
    FeatureInvalid,
    /// No feature by that name: no directory, no slug under `kitty-specs/`, no state in the refs.
    FeatureNotFound,
    /// Text given as a WP id is not one (`WP` + 2–4 digits).
    WpIdInvalid,
    /// A well-formed WP id the feature does not have.
    WpNotFound,
    /// The configuration (file, dict/object, or run options) is invalid.
    ConfigInvalid,
    /// No installed, enabled agent for a role.
    NoAgents,
    /// An agent id that is neither built in nor configured.
    UnknownAgent,
    /// `sandbox = "required"` on a machine that cannot confine agents (nothing was started).
    SandboxUnavailable,
    /// The path given as the repository is not inside a git repository.
    NotARepository,
    /// A file could not be read or written.
    Io,
    /// A git operation failed.
    Git,
    /// The event is not allowed from the WP's lane.
    IllegalTransition,
    /// Another orchestrator owns the WP, or won the race for it.
    StateConflict,
    /// State in git that cannot be read as ours.
    StateCorrupt,
    /// The WP (or run) has no state yet.
    StateMissing,
    /// Another orchestrator process runs this feature on this machine.
    RunLocked,
    /// The branches of a WP's dependencies conflict.
    WorktreeConflict,
    /// A base branch does not exist.
    WorktreeMissingBase,
    /// A directory that is not our worktree is where the WP's worktree goes.
    WorktreePathTaken,
    /// The WP's branch is checked out elsewhere.
    WorktreeBranchInUse,
    /// The WP's worktree is locked.
    WorktreeLocked,
    /// The worktree has uncommitted work and no backup was allowed.
    WorktreeDirty,
    /// The setup command failed in a new worktree.
    WorktreeSetupFailed,
    /// Nothing can land yet: WPs not done (without `partial`), or no branch to land on.
    MergeNotReady,
    /// Done WPs conflict with each other or with the target branch (nothing was changed).
    MergeConflict,
    /// The target branch moved while a merge was computed (nothing was changed).
    TargetMoved,
    /// The target branch is checked out with uncommitted changes the merge would touch.
    TargetDirty,
    /// A remote refused a push, or moved under us (nothing was pushed).
    PushRejected,
    /// A remote could not be reached or read (unknown remote, network, authentication, timeout).
    RemoteFailed,
    /// No credentials for the pull-request host (`gh` not logged in, no token in the environment).
    PrAuthMissing,
    /// The pull-request host refused or failed a request, or the remote names no repository.
    PrFailed,
    /// A run was refused because it was aborted before it started (the bindings' abort signals).
    Aborted,
    /// Something inside the orchestrator failed: a bug (the message says what).
    Internal,
}

/// What kind of failure a code is, for callers that react by kind (the CLI's exit codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The input is wrong: a feature, a configuration, an argument, an id. Fix it and retry.
    BadInput,
    /// Someone else holds what was asked for: wait, or stop them.
    Busy,
    /// The run was stopped before it could start.
    Aborted,
    /// The environment or the orchestrator failed (git, files, a bug, state in git).
    Failure,
}

impl ErrorCode {
    /// Every code, in the order of the documentation.
    pub const ALL: [ErrorCode; 33] = [
        ErrorCode::FeatureInvalid,
        ErrorCode::FeatureNotFound,
        ErrorCode::WpIdInvalid,
        ErrorCode::WpNotFound,
        ErrorCode::ConfigInvalid,
        ErrorCode::NoAgents,
        ErrorCode::UnknownAgent,
        ErrorCode::SandboxUnavailable,
        ErrorCode::NotARepository,
        ErrorCode::Io,
        ErrorCode::Git,
        ErrorCode::IllegalTransition,
        ErrorCode::StateConflict,
        ErrorCode::StateCorrupt,
        ErrorCode::StateMissing,
        ErrorCode::RunLocked,
        ErrorCode::WorktreeConflict,
        ErrorCode::WorktreeMissingBase,
        ErrorCode::WorktreePathTaken,
        ErrorCode::WorktreeBranchInUse,
        ErrorCode::WorktreeLocked,
        ErrorCode::WorktreeDirty,
        ErrorCode::WorktreeSetupFailed,
        ErrorCode::MergeNotReady,
        ErrorCode::MergeConflict,
        ErrorCode::TargetMoved,
        ErrorCode::TargetDirty,
        ErrorCode::PushRejected,
        ErrorCode::RemoteFailed,
        ErrorCode::PrAuthMissing,
        ErrorCode::PrFailed,
        ErrorCode::Aborted,
        ErrorCode::Internal,
    ];

    /// The code as text (`"feature_invalid"`).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::FeatureInvalid => "feature_invalid",
            ErrorCode::FeatureNotFound => "feature_not_found",
            ErrorCode::WpIdInvalid => "wp_id_invalid",
            ErrorCode::WpNotFound => "wp_not_found",
            ErrorCode::ConfigInvalid => "config_invalid",
            ErrorCode::NoAgents => "no_agents",
            ErrorCode::UnknownAgent => "unknown_agent",
            ErrorCode::SandboxUnavailable => "sandbox_unavailable",
            ErrorCode::NotARepository => "not_a_repository",
            ErrorCode::Io => "io",
            ErrorCode::Git => "git",
            ErrorCode::IllegalTransition => "illegal_transition",
            ErrorCode::StateConflict => "state_conflict",
            ErrorCode::StateCorrupt => "state_corrupt",
            ErrorCode::StateMissing => "state_missing",
            ErrorCode::RunLocked => "run_locked",
            ErrorCode::WorktreeConflict => "worktree_conflict",
            ErrorCode::WorktreeMissingBase => "worktree_missing_base",
            ErrorCode::WorktreePathTaken => "worktree_path_taken",
            ErrorCode::WorktreeBranchInUse => "worktree_branch_in_use",
            ErrorCode::WorktreeLocked => "worktree_locked",
            ErrorCode::WorktreeDirty => "worktree_dirty",
            ErrorCode::WorktreeSetupFailed => "worktree_setup_failed",
            ErrorCode::MergeNotReady => "merge_not_ready",
            ErrorCode::MergeConflict => "merge_conflict",
            ErrorCode::TargetMoved => "target_moved",
            ErrorCode::TargetDirty => "target_dirty",
            ErrorCode::PushRejected => "push_rejected",
            ErrorCode::RemoteFailed => "remote_failed",
            ErrorCode::PrAuthMissing => "pr_auth_missing",
            ErrorCode::PrFailed => "pr_failed",
            ErrorCode::Aborted => "aborted",
            ErrorCode::Internal => "internal",
        }
    }

    /// The code named by `text`, if any.
    pub fn parse(text: &str) -> Option<ErrorCode> {
        Self::ALL.into_iter().find(|c| c.as_str() == text)
    }

    /// The kind of failure.
    pub fn kind(self) -> ErrorKind {
        use ErrorCode::*;
        match self {
            FeatureInvalid | FeatureNotFound | WpIdInvalid | WpNotFound | ConfigInvalid | NoAgents | UnknownAgent
            | SandboxUnavailable | NotARepository | IllegalTransition | StateMissing | MergeNotReady
            | MergeConflict | TargetDirty | PrAuthMissing => ErrorKind::BadInput,
            StateConflict | RunLocked | TargetMoved | PushRejected => ErrorKind::Busy,
            Aborted => ErrorKind::Aborted,
            Io | Git | StateCorrupt | WorktreeConflict | WorktreeMissingBase | WorktreePathTaken
            | WorktreeBranchInUse | WorktreeLocked | WorktreeDirty | WorktreeSetupFailed | RemoteFailed | PrFailed
            | Internal => ErrorKind::Failure,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// Codes compare with their text, so `err.code() == "state_conflict"` reads as it says.
impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<str> for ErrorCode {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_listed_once_and_serializes_as_its_text() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code.as_str()), "{code} twice");
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
            assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
        }
    }
}
