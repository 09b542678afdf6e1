//! What a run did, per WP and in total: returned by `run` and recorded on the run chain.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::feature::Feature;
use crate::lane::Lane;
use crate::state::WpState;

/// How the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    /// Every WP is done (or canceled).
    Completed,
    /// Nothing more could start: some WPs are blocked or wait on blocked ones.
    Blocked,
    /// Aborted; `resume` continues.
    Aborted,
}

/// One WP in the summary.
#[derive(Debug, Clone, Serialize)]
pub struct WpSummary {
    /// Id, title, lane at the end, agents, attempts, review cycles, time, cost, reason.
    #[serde(flatten)]
    pub facts: crate::state::WpFacts,
    /// Branch head.
    pub head: Option<String>,
    /// Logs written in this run.
    pub logs: Vec<String>,
    /// The run that holds the WP when it is not this one (a run on another host, or a dead run):
    /// `kitty-orchestrator release` frees it.
    pub owner: Option<String>,
    /// Paths auto-commit left out of its commits (secret-looking files, `.worktreeinclude`
    /// copies): they are in the worktree, not on the branch.
    pub withheld: Vec<String>,
    /// Writes the sandbox refused, as the agents' own output reported them ("Permission
    /// denied" lines, clipped): what a confined agent tried to write outside its reach.
    pub refused: Vec<String>,
    /// Its worktree directory, while it has one.
    pub worktree: Option<String>,
    /// The WP its worktree went to when this run recycled it (`recycle_worktrees`); its work is
    /// on its branch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worktree_recycled_to: Option<String>,
}

use crate::state::CorruptState;

/// The result of the final verification command.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyResult {
    /// The command.
    pub command: Vec<String>,
    /// Passed.
    pub success: bool,
    /// Exit code.
    pub exit_code: Option<i32>,
    /// Its log.
    pub log: String,
}

/// What a run did.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    /// Feature slug.
    pub feature: String,
    /// Run id.
    pub run_id: String,
    /// How it ended.
    pub outcome: RunOutcome,
    /// Per WP, in id order.
    pub wps: Vec<WpSummary>,
    /// WPs done.
    pub done: usize,
    /// WPs blocked.
    pub blocked: usize,
    /// WPs neither done, canceled nor blocked.
    pub remaining: usize,
    /// Total reported cost, USD.
    pub cost_usd: f64,
    /// Wall time of this run, ms.
    pub duration_ms: u64,
    /// Final verification, if configured and reached.
    pub verify: Option<VerifyResult>,
    /// WP refs whose state could not be read (those WPs were left alone).
    pub corrupt: Vec<CorruptState>,
    /// The merge that ended the run (`auto_merge`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merge: Option<Box<super::MergeReport>>,
    /// Why that merge failed (the WPs stay done, their branches unmerged).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merge_error: Option<super::PushError>,
    /// What did not stop the run but needs a person: spec-kitty's files that could not be
    /// written (each says why; the next run catches up once it is fixed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl RunSummary {
    /// Builds the summary from the board in git.
    pub fn from_board(
        feature: &Feature,
        run_id: &str,
        board: &crate::state::Board,
        logs: &BTreeMap<String, Vec<String>>,
        aborted: bool,
        duration_ms: u64,
    ) -> RunSummary {
        let mut summary = Self::from_states(feature, run_id, &board.states, logs, aborted, duration_ms);
        summary.corrupt = board.corrupt.clone();
        for wp in &mut summary.wps {
            if wp.facts.reason.is_none()
                && let Some(corrupt) =
                    board.corrupt.iter().find(|c| c.reference.ends_with(&format!("/{}", wp.facts.id)))
            {
                wp.facts.reason = Some(format!("state cannot be read: {}", corrupt.why));
            }
        }
        summary
    }

    /// Builds the summary from the WP states in git.
    pub fn from_states(
        feature: &Feature,
        run_id: &str,
        states: &BTreeMap<crate::ids::WpId, WpState>,
        logs: &BTreeMap<String, Vec<String>>,
        aborted: bool,
        duration_ms: u64,
    ) -> RunSummary {
        let wps: Vec<WpSummary> = feature
            .work_packages
            .iter()
            .map(|wp| {
                let state = states.get(&wp.id);
                WpSummary {
                    facts: crate::state::WpFacts::of(wp, state),
                    head: state.and_then(|s| s.head.clone()),
                    logs: logs.get(wp.id.as_str()).cloned().unwrap_or_default(),
                    owner: state.and_then(|s| s.owner.as_ref()).filter(|o| o.run_id != run_id).map(ToString::to_string),
                    withheld: state.map(|s| s.withheld.clone()).unwrap_or_default(),
                    refused: state.map(|s| s.refused.clone()).unwrap_or_default(),
                    worktree: state
                        .and_then(|s| s.worktree.clone())
                        .filter(|w| std::path::Path::new(w).join(".git").exists()),
                    worktree_recycled_to: None,
                }
            })
            .collect();
        let count = |lane: Lane| wps.iter().filter(|w| w.facts.lane == lane).count();
        let done = count(Lane::Done);
        let blocked = count(Lane::Blocked);
        let remaining = wps.len() - done - blocked - count(Lane::Canceled);
        let outcome = if aborted {
            RunOutcome::Aborted
        } else if remaining == 0 && blocked == 0 {
            RunOutcome::Completed
        } else {
            RunOutcome::Blocked
        };
        RunSummary {
            feature: feature.slug.to_string(),
            run_id: run_id.to_string(),
            outcome,
            cost_usd: wps.iter().map(|w| w.facts.cost_usd).sum(),
            wps,
            done,
            blocked,
            remaining,
            duration_ms,
            verify: None,
            merge: None,
            merge_error: None,
            corrupt: Vec::new(),
            warnings: Vec::new(),
        }
    }
}
