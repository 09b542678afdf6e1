//! What a merge returns: how it ended, each WP's step, conflicts and resolutions, the
//! verification, the push and pull request afterwards, and the feature's report.

use serde::Serialize;

use crate::ids::WpId;
use crate::land::{Conflict, LandingVerification, Resolution, Step, StepAction};
use crate::merge_strategy::MergeStrategy;

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
    /// What was cleaned up after landing (`cleanup`).
    pub cleanup: Vec<Cleaned>,
    /// The pull request opened or updated afterwards (`pr`, `auto_pr`).
    pub pull_request: Option<crate::forge::PrReport>,
    /// Why the pull request afterwards failed (the landing stands).
    pub pr_error: Option<PushError>,
    /// WPs whose task box (Kiro `tasks.md`, a `PLAN.md`) the landing ticked (`tick_tasks`);
    /// boxes ticked when the WP was done are not listed again.
    pub ticked: Vec<WpId>,
    /// Problems the landing went on after (a task line changed since it was read).
    pub warnings: Vec<String>,
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
    /// A report of `outcome` with its steps and nothing else yet: the later phases of a merge
    /// (resolutions, verification, push, pull request, cleanup) fill in the rest.
    pub(crate) fn of_steps(
        feature: String,
        target: String,
        strategy: MergeStrategy,
        outcome: MergeOutcome,
        steps: Vec<Step>,
    ) -> MergeReport {
        MergeReport {
            feature,
            target,
            strategy,
            outcome,
            previous: None,
            commit: None,
            steps,
            conflicts: Vec::new(),
            resolutions: Vec::new(),
            worktree_updated: None,
            verify: None,
            integration_worktree: None,
            pushed: None,
            push_error: None,
            report: None,
            cleanup: Vec::new(),
            pull_request: None,
            pr_error: None,
            ticked: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// The WPs that landed (or would), in order.
    pub fn merged(&self) -> Vec<&WpId> {
        self.steps.iter().filter(|s| s.action == StepAction::Merge).map(|s| &s.wp).collect()
    }
}

/// What cleaning up did for one WP.
#[derive(Debug, Clone, Serialize)]
pub struct Cleaned {
    /// The WP.
    pub wp: String,
    /// Its worktree was removed.
    pub worktree_removed: bool,
    /// The backup ref its uncommitted work was saved to, if it had any.
    pub backup: Option<String>,
    /// Its branch was deleted.
    pub branch_deleted: bool,
    /// Where the branch's tip is kept, when the target does not contain it.
    pub kept_as: Option<String>,
    /// Why something was left (a branch checked out elsewhere, an error).
    pub note: Option<String>,
    /// What git ignored in the removed worktree, and what became of each path (saved in
    /// `backup`, moved aside, or dropped as build output or over the size cap).
    pub ignored: Vec<crate::worktree::IgnoredPath>,
}
