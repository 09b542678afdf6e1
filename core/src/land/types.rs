//! What a landing plans, finds and reports: the steps in dependency order, the conflicts, and the
//! report a merge returns (the CLI's `merge --json`).

use serde::Serialize;

use crate::ids::WpId;
use crate::lane::Lane;
use crate::merge_strategy::MergeStrategy;

/// What happens to one WP when the feature lands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum StepAction {
    /// Its branch is integrated (in a dry run: would be).
    Merge,
    /// Its branch tip is already on the target (merged before, or by hand).
    AlreadyMerged,
    /// Done without a branch of its own (imported as done): its work is on the target already.
    InTarget,
    /// Done, but its branch has no change of its own: nothing to land (reported, never merged as
    /// an empty commit).
    NoChanges,
    /// Not done: it does not land (only with `partial`).
    NotDone {
        /// Its lane.
        lane: Lane,
    },
    /// Done, but a WP it depends on does not land: landing it would bring that WP's work along.
    Excluded {
        /// The dependency that does not land.
        because: WpId,
    },
    /// Its branch conflicts (see the report's `conflicts`).
    Conflicts,
    /// Not tried: a dependency conflicts.
    AfterConflict {
        /// The conflicting dependency.
        because: WpId,
    },
}

/// One WP of a landing, in dependency order.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// The WP.
    pub wp: WpId,
    /// Its title.
    pub title: String,
    /// Its branch, when it has one.
    pub branch: Option<String>,
    /// Its branch tip.
    pub head: Option<String>,
    /// What happens to it.
    #[serde(flatten)]
    pub action: StepAction,
    /// The commit on the target that holds its work, once integrated.
    pub commit: Option<String>,
}

/// Two sides that do not merge: a WP and what it collides with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conflict {
    /// The WP whose branch did not merge.
    pub wp: String,
    /// What it collides with: WPs integrated before it, and/or the target branch.
    pub with: Vec<String>,
    /// The conflicting paths.
    pub paths: Vec<String>,
}

/// A conflict an agent resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resolution {
    /// The WP whose merge conflicted.
    pub wp: String,
    /// What it collided with.
    pub with: Vec<String>,
    /// The conflicting paths.
    pub paths: Vec<String>,
    /// The agent that resolved it.
    pub agent: String,
    /// The commit that lands the WP with the resolution.
    pub commit: String,
    /// The agent's log.
    pub log: String,
}

/// How a merge ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MergeOutcome {
    /// The target branch moved to a new commit holding the WPs.
    Merged,
    /// Nothing new to land: every done WP is on the target already. Nothing was changed.
    NothingToMerge,
    /// A dry run: nothing was changed; the steps say what would happen.
    DryRun,
    /// `verify_command` still failed after the fix rounds: nothing landed (the integration
    /// worktree is kept; `verify` names the logs).
    VerifyFailed,
}

/// One verification of a merge's integration, after the fix round that preceded it.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyRound {
    /// The fix round it followed (0: the first verification, before any fix).
    pub round: u32,
    /// The agent that made the fix.
    pub fix_agent: Option<String>,
    /// The fix agent's log.
    pub fix_log: Option<String>,
    /// The fix commit (`None`: the agent changed nothing).
    pub fix_commit: Option<String>,
    /// Whether the verification passed.
    pub passed: bool,
    /// Its exit code.
    pub exit_code: Option<i32>,
    /// Its log.
    pub log: String,
}

/// How a merge's verification went.
#[derive(Debug, Clone, Serialize)]
pub struct LandingVerification {
    /// The command.
    pub command: Vec<String>,
    /// Whether it passed in the end.
    pub passed: bool,
    /// Fix rounds it took (0: it passed at once).
    pub fix_rounds: u32,
    /// Every verification, in order.
    pub rounds: Vec<VerifyRound>,
    /// The last verification's log.
    pub log: String,
    /// Why fixing stopped early, if it did (no agent, aborted, an agent that gave up).
    pub note: Option<String>,
}

/// What a merge did (or, in a dry run, would do).
#[derive(Debug, Clone, Serialize)]
pub struct MergeReport {
    /// The feature.
    pub feature: String,
    /// The branch landed on.
    pub target: String,
    /// How WPs land.
    pub strategy: MergeStrategy,
    /// How it ended.
    pub outcome: MergeOutcome,
    /// The target's tip before (`None`: the branch did not exist).
    pub previous: Option<String>,
    /// The target's tip after (dry run: the integration commit that would land).
    pub commit: Option<String>,
    /// Every WP, in the order they land.
    pub steps: Vec<Step>,
    /// Conflicts (predicted, in a dry run).
    pub conflicts: Vec<Conflict>,
    /// Conflicts agents resolved (`resolve`).
    pub resolutions: Vec<Resolution>,
    /// The worktree that had the target checked out and was brought to the new commit.
    pub worktree_updated: Option<String>,
    /// The verification, when `verify_command` is configured.
    pub verify: Option<LandingVerification>,
    /// The integration worktree, when it was kept (the merge did not land, or it holds
    /// uncommitted files).
    pub integration_worktree: Option<String>,
    /// The push afterwards (`push`, `auto_push`).
    pub pushed: Option<crate::remote::PushReport>,
    /// Why the push afterwards failed (the landing stands): `{code, message}`.
    pub push_error: Option<PushError>,
    /// The feature's report after the merge (not for a dry run).
    pub report: Option<crate::report::FeatureReport>,
}

/// A push after a merge that failed (the merge itself landed).
#[derive(Debug, Clone, Serialize)]
pub struct PushError {
    /// The error code (`push_rejected`, `remote_failed`, …).
    pub code: crate::ErrorCode,
    /// What went wrong.
    pub message: String,
}

impl MergeReport {
    /// The WPs that landed (or would), in order.
    pub fn merged(&self) -> Vec<&WpId> {
        self.steps.iter().filter(|s| s.action == StepAction::Merge).map(|s| &s.wp).collect()
    }
}
