//! Landing errors; each names the WPs, paths, branch or ref at fault and what to do.

use std::path::PathBuf;

use super::types::Conflict;

/// What stopped done WPs from landing. Nothing was changed when one of these is returned.
#[derive(Debug, thiserror::Error)]
pub enum LandError {
    /// A libgit2 operation failed.
    #[error("git error while {context}: {source}")]
    Git {
        /// What we were doing.
        context: String,
        /// libgit2's error.
        source: git2::Error,
    },
    /// Some WPs are not done (and `partial` was not asked for).
    #[error("{feature}: not every WP is done ({}); finish them (`kitty-orchestrator run {feature}`), or land the done ones with --partial", not_done.join(", "))]
    NotReady {
        /// The feature.
        feature: String,
        /// `WP03 (doing)` for each WP not done.
        not_done: Vec<String>,
    },
    /// Neither the branch to land on nor the feature's target branch exists.
    #[error(
        "branch `{branch}` does not exist, and neither does `{base}` to start it from; create it, or give --into an existing branch"
    )]
    NoTarget {
        /// The branch asked for.
        branch: String,
        /// The feature's target branch.
        base: String,
    },
    /// WPs conflict with each other or with the target branch.
    #[error(
        "{target}: the WPs do not merge cleanly, nothing was changed: {}; resolve them on the WP branches, or let an agent resolve them (--resolve)",
        describe(conflicts)
    )]
    Conflict {
        /// The branch being landed on.
        target: String,
        /// Every conflict found.
        conflicts: Vec<Conflict>,
    },
    /// No agent resolved a conflict (markers left, a path unresolved, or it gave up).
    #[error("{}: {} conflicts with {} in {} and no agent resolved it ({}); see {}; nothing was changed", .0.target, .0.wp, .0.with.join(" and "), .0.paths.join(", "), .0.why, .0.log)]
    Unresolved(Box<Unresolved>),
    /// The target branch moved while the merge was computed.
    #[error(
        "{reference} moved while the merge was computed (expected {expected}, found {found}); nothing was changed, merge again"
    )]
    TargetMoved {
        /// The ref.
        reference: String,
        /// The tip read at the start (`none` when it did not exist).
        expected: String,
        /// Its tip now.
        found: String,
    },
    /// The target branch is checked out with uncommitted changes the merge would touch.
    #[error("{} has uncommitted changes in paths the merge changes ({}); commit or stash them, then merge again (nothing was changed)", worktree.display(), paths.join(", "))]
    TargetDirty {
        /// The worktree that has the target branch checked out.
        worktree: PathBuf,
        /// The paths at stake.
        paths: Vec<String>,
    },
    /// Done WPs whose branch moved after review approved it: what would land is not what was
    /// reviewed.
    #[error(
        "{feature}: {} moved after review approved {}; nothing was landed: send {} back to review (`merge --reopen-moved`, then `resume`), or reset each branch to its approved head",
        moved.iter().map(|m| format!("{}'s branch {} (approved {}, now {})", m.wp, m.branch, m.approved, m.tip)).collect::<Vec<_>>().join(", "),
        if moved.len() == 1 { "it" } else { "them" },
        if moved.len() == 1 { "it" } else { "them" }
    )]
    MovedSinceApproval {
        /// The feature.
        feature: String,
        /// Each WP whose branch moved.
        moved: Vec<MovedSinceApproval>,
    },
    /// `spec-kitty merge` (3.x) or `spec-kitty consolidate` (4.0), which lands spec-kitty
    /// missions, could not be run or refused.
    #[error("`{command}` did not land the mission: {why}")]
    SpecKittyMerge {
        /// The command run.
        command: String,
        /// What it said (its last lines), or why it could not start.
        why: String,
    },
    /// The record of a landing in progress could not be written (nothing was changed).
    #[error("{}: the record of the landing could not be written ({why}); nothing was changed", path.display())]
    Journal {
        /// The record's file.
        path: PathBuf,
        /// Why.
        why: String,
    },
    /// Reading or writing state failed.
    #[error(transparent)]
    State(#[from] crate::state::StateError),
}

/// A done WP whose branch is not at the head its review approved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MovedSinceApproval {
    /// The WP.
    pub wp: String,
    /// Its branch.
    pub branch: String,
    /// The head review approved.
    pub approved: String,
    /// The branch's tip now (`none`: the branch is gone).
    pub tip: String,
}

/// A conflict no agent resolved.
#[derive(Debug, Clone)]
pub struct Unresolved {
    /// The branch being landed on.
    pub target: String,
    /// The WP whose merge conflicted.
    pub wp: String,
    /// What it collides with.
    pub with: Vec<String>,
    /// The conflicting paths.
    pub paths: Vec<String>,
    /// What the last agent left wrong.
    pub why: String,
    /// The last agent's log.
    pub log: String,
}

fn describe(conflicts: &[Conflict]) -> String {
    conflicts
        .iter()
        .map(|c| format!("{} with {} in {}", c.wp, c.with.join(" and "), c.paths.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
}

impl LandError {
    /// The stable code of this error's kind.
    pub fn code(&self) -> crate::ErrorCode {
        use crate::ErrorCode;
        match self {
            LandError::Git { .. } => ErrorCode::Git,
            LandError::Journal { .. } => ErrorCode::Io,
            LandError::NotReady { .. }
            | LandError::NoTarget { .. }
            | LandError::SpecKittyMerge { .. }
            | LandError::MovedSinceApproval { .. } => ErrorCode::MergeNotReady,
            LandError::Conflict { .. } | LandError::Unresolved(_) => ErrorCode::MergeConflict,
            LandError::TargetMoved { .. } => ErrorCode::TargetMoved,
            LandError::TargetDirty { .. } => ErrorCode::TargetDirty,
            LandError::State(err) => err.code(),
        }
    }

    pub(crate) fn git(context: impl Into<String>) -> impl FnOnce(git2::Error) -> LandError {
        let context = context.into();
        move |source| LandError::Git { context, source }
    }
}
