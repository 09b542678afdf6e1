//! The report of a feature: what was done, by whom, at what cost, and where it landed — the
//! return value of `report`, the body of the pull request.

use serde::Serialize;

use crate::land::{LandingVerification, Resolution};
use crate::merge_strategy::MergeStrategy;

/// The feature's overall state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportOutcome {
    /// Every WP is done (and, once the feature landed, every one landed).
    Complete,
    /// Some WPs are done, not all.
    Partial,
    /// None is done, or the last merge's verification failed.
    Failed,
}

/// One commit of a WP's branch.
#[derive(Debug, Clone, Serialize)]
pub struct ReportCommit {
    /// Its id.
    pub id: String,
    /// Its subject (cleaned: one line, no control characters, secrets redacted).
    pub subject: String,
    /// Its author's name.
    pub author: String,
}

/// One agent run on a WP: the bars of the report's timeline.
#[derive(Debug, Clone, Serialize)]
pub struct ReportAttempt {
    /// Implementation or review.
    pub role: crate::role::Role,
    /// The agent.
    pub agent: String,
    /// Attempt number for its role in its cycle (1-based).
    pub attempt: u32,
    /// When it started (RFC 3339).
    pub started_at: String,
    /// How long it ran.
    pub duration_ms: u64,
    /// `succeeded`, `approved` / `rejected` (a review's verdict), or the failure class.
    pub outcome: String,
    /// Its reported cost, USD.
    pub cost_usd: Option<f64>,
}

/// One WP in the report.
#[derive(Debug, Clone, Serialize)]
pub struct ReportWp {
    /// Id, title, lane, agents, attempts, review cycles, time, cost and why it is blocked or
    /// canceled (title and reason as one clean line each).
    #[serde(flatten)]
    pub facts: crate::state::WpFacts,
    /// The WPs it depends on.
    pub depends_on: Vec<String>,
    /// Its agent runs, oldest first.
    pub runs: Vec<ReportAttempt>,
    /// Its branch.
    pub branch: Option<String>,
    /// Its own commits (base..head), oldest first.
    pub commits: Vec<ReportCommit>,
    /// The commit on the target that holds it, once it landed.
    pub landed: Option<String>,
}

/// Where the feature landed, and how the latest merge went.
#[derive(Debug, Clone, Serialize)]
pub struct ReportLanding {
    /// The branch.
    pub into: String,
    /// Its tip after the merge.
    pub commit: String,
    /// How WPs landed.
    pub strategy: MergeStrategy,
    /// The WPs that landed in the latest merge.
    pub wps: Vec<String>,
    /// Verification fix rounds it took.
    pub fix_rounds: u32,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct FeatureReport {
    /// Feature slug.
    pub feature: String,
    /// Overall state.
    pub outcome: ReportOutcome,
    /// WPs done.
    pub done: usize,
    /// WPs in all.
    pub total: usize,
    /// Sum of reported costs, USD.
    pub cost_usd: f64,
    /// Sum of agent wall time, ms.
    pub agent_ms: u64,
    /// Every WP, in dependency order.
    pub wps: Vec<ReportWp>,
    /// The latest landing, if the feature landed.
    pub landing: Option<ReportLanding>,
    /// The latest merge's verification rounds (also when it failed).
    pub verify: Option<LandingVerification>,
    /// Conflicts agents resolved in the latest merge.
    pub resolutions: Vec<Resolution>,
    /// The feature's pull request, once `pr` opened one.
    pub pull_request: Option<crate::state::PullRequestRecord>,
}
