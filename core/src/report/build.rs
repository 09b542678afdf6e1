//! Gathering the report from the state in git: the WP chains, the run chain's latest merge
//! (its verification rounds and resolutions), and each WP's own commits.

use git2::{Oid, Repository};

use super::model::{FeatureReport, ReportAttempt, ReportCommit, ReportLanding, ReportOutcome, ReportWp};
use crate::feature::Feature;
use crate::land::{LandingVerification, Resolution, VerifyRound};
use crate::lane::Lane;
use crate::redact::Redactor;
use crate::state::{HistoryEntry, RunEvent, RunState, StateError, StateStore, WpEvent};

/// Most commits listed per WP.
const MAX_COMMITS: usize = 50;

/// Run-chain events read back for the latest merge.
const RUN_EVENTS: usize = 1000;

/// One line, no control characters, secrets redacted, bounded: text from agents made safe for a
/// report (and a pull request body).
pub fn clean_line(text: &str, redactor: &Redactor) -> String {
    let text: String = redactor
        .apply(text)
        .chars()
        .filter(|c| c.is_control() || !crate::display::is_unsafe(*c))
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect();
    text.trim().to_string()
}

/// The commits `base..head` that are the WP's own (merge commits of its bases left out).
fn own_commits(repo: &Repository, base: Option<&str>, head: Oid, redactor: &Redactor) -> Vec<ReportCommit> {
    let Ok(mut walk) = repo.revwalk() else { return Vec::new() };
    if walk.push(head).is_err() {
        return Vec::new();
    }
    if let Some(base) = base.and_then(|b| Oid::from_str(b).ok()) {
        let _ = walk.hide(base);
    }
    let _ = walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::REVERSE);
    walk.flatten()
        .filter_map(|oid| repo.find_commit(oid).ok())
        .filter(|c| c.parent_count() <= 1)
        .take(MAX_COMMITS)
        .map(|c| ReportCommit {
            id: c.id().to_string(),
            subject: clean_line(c.summary().ok().flatten().unwrap_or_default(), redactor),
            author: clean_line(c.author().name().ok().unwrap_or_default(), redactor),
        })
        .collect()
}

/// The agent runs of one WP's chain (oldest first): each `agent_finished` with its start (the
/// matching `agent_started`) and, for a review, the verdict that followed.
fn runs(history: &[HistoryEntry]) -> Vec<ReportAttempt> {
    let mut runs = Vec::new();
    let mut started: Option<String> = None;
    for (i, entry) in history.iter().enumerate() {
        match &entry.event {
            WpEvent::AgentStarted { .. } => started = Some(entry.state.updated_at.clone()),
            WpEvent::AgentFinished { agent, role, attempt, failure, cost_usd, duration_ms, .. } => {
                let verdict = history[i + 1..].iter().map(|e| &e.event).find_map(|e| match e {
                    WpEvent::Approved { .. } => Some("approved"),
                    WpEvent::Rejected { .. } => Some("rejected"),
                    WpEvent::AgentStarted { .. } | WpEvent::AgentFinished { .. } => Some(""),
                    _ => None,
                });
                let outcome = match (failure, *role, verdict) {
                    (Some(class), _, _) => class.as_str().to_string(),
                    (None, crate::role::Role::Review, Some(v)) if !v.is_empty() => v.to_string(),
                    (None, _, _) => "succeeded".to_string(),
                };
                runs.push(ReportAttempt {
                    role: *role,
                    agent: agent.clone(),
                    attempt: *attempt,
                    started_at: started.take().unwrap_or_else(|| entry.state.updated_at.clone()),
                    duration_ms: *duration_ms,
                    outcome,
                    cost_usd: *cost_usd,
                });
            }
            _ => {}
        }
    }
    runs
}

/// The latest merge on the run chain: its `merged` event (if it landed), verification rounds
/// and resolutions, oldest first. Newest first, a merge reads: `merged`, its verifications (last
/// round down to round 0), its resolutions; anything else ends it.
fn latest_merge(states: &[RunState]) -> (Option<RunEvent>, Vec<VerifyRound>, Vec<Resolution>) {
    let (mut merged, mut rounds, mut resolutions) = (None, Vec::new(), Vec::new());
    let mut past_round_zero = false;
    for state in states {
        match &state.last_event {
            RunEvent::Merged { .. } if merged.is_none() && rounds.is_empty() && resolutions.is_empty() => {
                merged = Some(state.last_event.clone());
            }
            RunEvent::Verified { round, passed, agent, commit, log } if !past_round_zero && resolutions.is_empty() => {
                rounds.push(VerifyRound {
                    round: *round,
                    fix_agent: agent.clone(),
                    fix_log: None,
                    fix_commit: commit.clone(),
                    passed: *passed,
                    exit_code: None,
                    log: log.clone(),
                });
                past_round_zero = *round == 0;
            }
            RunEvent::Resolved { wp, with, paths, agent, commit, log } => resolutions.push(Resolution {
                wp: wp.clone(),
                with: with.clone(),
                paths: paths.clone(),
                agent: agent.clone(),
                commit: commit.clone(),
                log: log.clone(),
            }),
            _ => break,
        }
    }
    rounds.reverse();
    resolutions.reverse();
    (merged, rounds, resolutions)
}

/// The report of `feature` from the state in `store`.
pub fn build(
    store: &StateStore,
    feature: &Feature,
    verify_command: Option<&[String]>,
    redactor: &Redactor,
) -> Result<FeatureReport, StateError> {
    let repo = store.repo()?;
    let states = store.feature_states(&feature.slug)?;
    let mut wps = Vec::new();
    for id in feature.topological_order() {
        let Some(wp) = feature.work_package(&id) else { continue };
        let state = states.get(&id);
        let branch = state.and_then(|s| s.branch.clone());
        let head = branch
            .as_deref()
            .and_then(|b| repo.find_branch(b, git2::BranchType::Local).ok())
            .and_then(|b| b.get().target());
        let commits = match head {
            Some(head) => own_commits(&repo, state.and_then(|s| s.base.as_deref()), head, redactor),
            None => Vec::new(),
        };
        let mut facts = crate::state::WpFacts::of(wp, state);
        facts.title = clean_line(&facts.title, redactor);
        facts.reason = facts.reason.map(|r| clean_line(&r, redactor));
        let history = store.history(&feature.slug, &id)?;
        wps.push(ReportWp {
            facts,
            depends_on: wp.dependencies.iter().map(ToString::to_string).collect(),
            runs: runs(&history),
            branch,
            commits,
            landed: state.and_then(|s| s.merged.as_ref()).map(|m| m.commit.clone()),
        });
    }
    let run_states = store.recent_run_states(&feature.slug, RUN_EVENTS)?;
    let (merged, rounds, resolutions) = latest_merge(&run_states);
    let landing = match merged {
        Some(RunEvent::Merged { into, commit, strategy, wps, fix_rounds, .. }) => {
            Some(ReportLanding { into, commit, strategy, wps, fix_rounds })
        }
        // The latest merge did not land; an earlier one did.
        _ => run_states.first().and_then(|s| s.merged.clone()).map(|m| ReportLanding {
            into: m.into,
            commit: m.commit,
            strategy: m.strategy,
            wps: Vec::new(),
            fix_rounds: 0,
        }),
    };
    let verify = rounds.last().map(|last| LandingVerification {
        command: verify_command.map(<[String]>::to_vec).unwrap_or_default(),
        passed: last.passed,
        fix_rounds: rounds.iter().filter(|r| r.round > 0).count() as u32,
        log: last.log.clone(),
        rounds: rounds.clone(),
        note: None,
    });
    let done = wps.iter().filter(|w| w.facts.lane == Lane::Done).count();
    let verify_failed = verify.as_ref().is_some_and(|v| !v.passed);
    let outcome = if done == 0 || verify_failed {
        ReportOutcome::Failed
    } else if done == wps.len() {
        ReportOutcome::Complete
    } else {
        ReportOutcome::Partial
    };
    Ok(FeatureReport {
        feature: feature.slug.to_string(),
        outcome,
        done,
        total: wps.len(),
        cost_usd: wps.iter().map(|w| w.facts.cost_usd).sum(),
        agent_ms: wps.iter().map(|w| w.facts.agent_ms).sum(),
        wps,
        landing,
        verify,
        resolutions,
        pull_request: run_states.first().and_then(|s| s.pull_request.clone()),
    })
}
