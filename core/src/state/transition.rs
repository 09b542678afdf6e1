//! The lane state machine: how an event changes a snapshot, or why it may not.
//!
//! Pure functions over snapshots, so that the CAS loop can re-validate an event against whatever
//! tip it finds on each try.

use super::model::{MergeRecord, Owner, RunEvent, RunState, RunStatus, STATE_FORMAT, WpEvent, WpState};
use crate::lane::Lane;
use crate::limits::{bounded_text, valid_cost};
use crate::role::Role;

/// Why an event cannot be applied.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// Not allowed from this lane (a programming or user error).
    Illegal(String),
    /// Someone else holds the WP (a race lost, or a live owner).
    Conflict(String),
}

/// The snapshot of a WP chain's first commit.
pub fn imported(feature: &str, wp: &str, lane: Lane, event_id: &str, run_id: Option<&str>, now: &str) -> WpState {
    WpState {
        format: STATE_FORMAT,
        feature: feature.to_string(),
        wp: wp.to_string(),
        lane,
        seq: 0,
        event_id: event_id.to_string(),
        last_event: WpEvent::Imported { lane },
        run_id: run_id.map(str::to_string),
        owner: None,
        agent: None,
        role: None,
        attempt: 0,
        attempts_total: 0,
        review_cycle: 0,
        agents_used: Vec::new(),
        pid: None,
        log: None,
        failure: None,
        reason: None,
        feedback: None,
        worktree: None,
        branch: None,
        base: None,
        head: None,
        cost_usd: 0.0,
        agent_ms: 0,
        withheld: Vec::new(),
        refused: Vec::new(),
        session: None,
        session_agent: None,
        merged: None,
        landings: Vec::new(),
        created_at: now.to_string(),
        updated_at: now.to_string(),
    }
}

fn illegal(why: impl Into<String>) -> Refusal {
    Refusal::Illegal(why.into())
}

/// Only the run that holds a WP may move it along: an event from any other writer (a run that
/// lost the WP to a reclaim, a second orchestrator) is refused.
fn require_owner(current: &WpState, run_id: Option<&str>, event: &WpEvent) -> Result<(), Refusal> {
    match (&current.owner, run_id) {
        (Some(owner), Some(run)) if owner.run_id == run => Ok(()),
        (Some(owner), writer) => Err(Refusal::Conflict(format!(
            "`{}` must come from the WP's owner, {owner}, not from {}",
            event.name(),
            writer.map_or_else(|| "a writer outside any run".to_string(), |r| format!("run {r}"))
        ))),
        (None, _) => Err(Refusal::Conflict(format!(
            "`{}` must come from the WP's owner, and nobody owns it (claim it first)",
            event.name()
        ))),
    }
}

/// Events a person may also record (blocking, canceling): when someone owns the WP, only the
/// owner may.
fn require_owner_if_owned(current: &WpState, run_id: Option<&str>, event: &WpEvent) -> Result<(), Refusal> {
    if current.owner.is_some() { require_owner(current, run_id, event) } else { Ok(()) }
}

/// The snapshot after `event`, or why `event` may not happen now. `run_id` is the writer's run.
pub fn apply(
    current: &WpState,
    event: &WpEvent,
    event_id: &str,
    run_id: Option<&str>,
    now: &str,
) -> Result<WpState, Refusal> {
    let mut next = current.clone();
    next.seq = current.seq + 1;
    next.event_id = event_id.to_string();
    next.last_event = event.clone();
    next.run_id = run_id.map(str::to_string);
    next.updated_at = now.to_string();
    let lane = current.lane;
    let in_flight = matches!(lane, Lane::Doing | Lane::ForReview);
    match event {
        WpEvent::Imported { .. } => {
            return Err(illegal("the WP already has a state chain; imports never overwrite one"));
        }
        WpEvent::Claimed { owner } => {
            if let Some(holder) = &current.owner {
                return Err(Refusal::Conflict(format!("already claimed by {holder}")));
            }
            match lane {
                Lane::Planned => next.lane = Lane::Doing,
                Lane::Doing | Lane::ForReview => {}
                _ => return Err(illegal("only planned WPs, or unowned doing/for_review WPs, can be claimed")),
            }
            next.owner = Some(owner.clone());
            next.reason = None;
        }
        WpEvent::Reclaimed { owner, previous } => {
            if current.owner.as_ref() != Some(previous) {
                let holder = current.owner.as_ref().map_or_else(|| "nobody".to_string(), Owner::to_string);
                return Err(Refusal::Conflict(format!("cannot reclaim from {previous}: the WP is held by {holder}")));
            }
            if !in_flight {
                return Err(illegal("only doing/for_review WPs are reclaimed"));
            }
            next.owner = Some(owner.clone());
            next.pid = None;
        }
        WpEvent::Released { reason } => {
            if current.owner.is_none() {
                return Err(illegal("the WP has no owner to release it"));
            }
            require_owner(current, run_id, event)?;
            next.owner = None;
            next.pid = None;
            next.reason = Some(bounded_text(reason));
        }
        WpEvent::ForceReleased { previous, reason } => {
            if current.owner.as_ref() != Some(previous) {
                let holder = current.owner.as_ref().map_or_else(|| "nobody".to_string(), Owner::to_string);
                return Err(Refusal::Conflict(format!(
                    "cannot release it from {previous}: the WP is held by {holder}"
                )));
            }
            if !in_flight {
                return Err(illegal("only doing/for_review WPs are held by a run"));
            }
            next.owner = None;
            next.pid = None;
            next.reason = Some(bounded_text(reason));
        }
        WpEvent::WorktreeReady { path, branch, base } => {
            require_in_flight(lane)?;
            require_owner(current, run_id, event)?;
            next.worktree = Some(path.clone());
            next.branch = Some(branch.clone());
            next.base = Some(base.clone());
            if next.head.is_none() {
                next.head = Some(base.clone());
            }
        }
        WpEvent::AgentStarted { agent, role, attempt, pid, log } => {
            let expected = match role {
                Role::Implementation => Lane::Doing,
                Role::Review => Lane::ForReview,
            };
            if lane != expected {
                return Err(illegal(format!("a {} agent runs only in lane {expected}", role.as_str())));
            }
            require_owner(current, run_id, event)?;
            next.agent = Some(agent.clone());
            next.role = Some(*role);
            next.attempt = *attempt;
            next.attempts_total = current.attempts_total + 1;
            next.pid = *pid;
            next.log = log.clone();
            if !next.agents_used.contains(agent) {
                next.agents_used.push(agent.clone());
            }
        }
        WpEvent::AgentFinished {
            agent,
            role,
            failure,
            cost_usd,
            duration_ms,
            head,
            withheld,
            refused,
            session,
            ..
        } => {
            require_in_flight(lane)?;
            require_owner(current, run_id, event)?;
            next.pid = None;
            next.failure = *failure;
            let total = current.cost_usd + valid_cost(*cost_usd).unwrap_or(0.0);
            // A snapshot whose sum is not a finite number could not be stored as JSON.
            next.cost_usd = if total.is_finite() { total } else { current.cost_usd };
            next.agent_ms = current.agent_ms.saturating_add(*duration_ms);
            // Re-checked here: a chain can come from another machine.
            if *role == Role::Implementation
                && let Some(session) = crate::limits::valid_session(session.as_deref())
            {
                next.session = Some(session);
                next.session_agent = Some(agent.clone());
            }
            if head.is_some() {
                next.head = head.clone();
            }
            for path in withheld {
                if !next.withheld.contains(path) && next.withheld.len() < 1000 {
                    next.withheld.push(path.clone());
                }
            }
            for line in refused {
                if !next.refused.contains(line) && next.refused.len() < super::model::MAX_REFUSED {
                    next.refused.push(line.clone());
                }
            }
        }
        WpEvent::RetryScheduled { failure, .. } => {
            require_in_flight(lane)?;
            require_owner(current, run_id, event)?;
            next.failure = Some(*failure);
        }
        WpEvent::Submitted { head } => {
            if lane != Lane::Doing {
                return Err(illegal("only a WP in doing can be submitted for review"));
            }
            require_owner(current, run_id, event)?;
            next.lane = Lane::ForReview;
            next.head = Some(head.clone());
            next.failure = None;
        }
        WpEvent::Approved { .. } => {
            if lane != Lane::ForReview {
                return Err(illegal("only a WP in for_review can be approved"));
            }
            require_owner(current, run_id, event)?;
            next.lane = Lane::Done;
            next.owner = None;
            next.failure = None;
        }
        WpEvent::Rejected { feedback, .. } => {
            if lane != Lane::ForReview {
                return Err(illegal("only a WP in for_review can be rejected"));
            }
            require_owner(current, run_id, event)?;
            next.lane = Lane::Doing;
            next.review_cycle = current.review_cycle + 1;
            next.feedback = Some(bounded_text(feedback));
        }
        WpEvent::Blocked { reason } => {
            if !matches!(lane, Lane::Planned | Lane::Doing | Lane::ForReview) {
                return Err(illegal("only planned, doing or for_review WPs can be blocked"));
            }
            require_owner_if_owned(current, run_id, event)?;
            next.lane = Lane::Blocked;
            next.owner = None;
            next.pid = None;
            next.reason = Some(bounded_text(reason));
        }
        WpEvent::Canceled { reason } => {
            if lane.is_terminal() {
                return Err(illegal("the WP is already finished"));
            }
            require_owner_if_owned(current, run_id, event)?;
            next.lane = Lane::Canceled;
            next.owner = None;
            next.pid = None;
            next.reason = Some(bounded_text(reason));
        }
        WpEvent::Merged { into, commit, strategy, head } => {
            if lane != Lane::Done {
                return Err(illegal("only a done WP can land on a branch"));
            }
            let record = MergeRecord {
                into: into.clone(),
                commit: commit.clone(),
                strategy: *strategy,
                head: Some(head.clone()),
            };
            next.landings.retain(|m| m.into != *into);
            next.landings.push(record.clone());
            next.merged = Some(record);
        }
        WpEvent::Reopened { head, reason } => {
            if lane != Lane::Done {
                return Err(illegal("only a done WP can be sent back to review"));
            }
            next.lane = Lane::ForReview;
            next.owner = None;
            next.head = Some(head.clone());
            next.reason = Some(bounded_text(reason));
        }
        WpEvent::Retried => {
            if lane != Lane::Blocked {
                return Err(illegal("only blocked WPs can be retried"));
            }
            next.lane = Lane::Planned;
            next.attempt = 0;
            next.review_cycle = 0;
            next.failure = None;
            next.reason = None;
        }
    }
    Ok(next)
}

fn require_in_flight(lane: Lane) -> Result<(), Refusal> {
    if matches!(lane, Lane::Doing | Lane::ForReview) {
        Ok(())
    } else {
        Err(illegal("this event happens only while a WP is in doing or for_review"))
    }
}

/// The run snapshot after `event` (`current` is `None` for a feature never run).
pub fn apply_run(
    feature: &str,
    current: Option<&RunState>,
    event: &RunEvent,
    event_id: &str,
    now: &str,
) -> Result<RunState, Refusal> {
    let mut next = match current {
        Some(state) => state.clone(),
        None => RunState {
            format: STATE_FORMAT,
            feature: feature.to_string(),
            seq: 0,
            event_id: String::new(),
            last_event: event.clone(),
            status: RunStatus::Running,
            owner: None,
            runs: 0,
            summary: None,
            merged: None,
            pull_request: None,
            started_at: now.to_string(),
            updated_at: now.to_string(),
        },
    };
    if let Some(state) = current {
        next.seq = state.seq + 1;
    }
    next.event_id = event_id.to_string();
    next.last_event = event.clone();
    next.updated_at = now.to_string();
    match event {
        // A run may start whatever the previous one left: the run lock, not this chain, decides
        // whether another orchestrator is alive.
        RunEvent::Started { owner } => {
            next.status = RunStatus::Running;
            next.owner = Some(owner.clone());
            next.runs += 1;
            next.started_at = now.to_string();
        }
        RunEvent::Aborted { .. } | RunEvent::Finished { .. } => {
            if current.map(|s| s.status) != Some(RunStatus::Running) {
                return Err(illegal("no run is in progress"));
            }
            if let RunEvent::Finished { summary } = event {
                next.status = RunStatus::Finished;
                next.summary = Some(summary.clone());
            } else {
                next.status = RunStatus::Aborted;
            }
        }
        // Landing happens between runs (it holds the run lock): the status stays what it was.
        RunEvent::Verified { .. } | RunEvent::Resolved { .. } => {}
        RunEvent::Merged { into, commit, strategy, .. } => {
            next.merged =
                Some(MergeRecord { into: into.clone(), commit: commit.clone(), strategy: *strategy, head: None });
        }
        RunEvent::PullRequest { pull_request, .. } => next.pull_request = Some(pull_request.clone()),
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(run: &str) -> Owner {
        Owner { run_id: run.into(), pid: 1, host: "h".into() }
    }

    #[test]
    fn only_a_done_wp_lands_and_its_lane_stays_done() {
        let merged = WpEvent::Merged {
            into: "main".into(),
            commit: "c".into(),
            strategy: crate::merge_strategy::MergeStrategy::Squash,
            head: "h".into(),
        };
        let planned = imported("f", "WP01", Lane::Planned, "e0", None, "now");
        assert!(matches!(apply(&planned, &merged, "e1", Some("m"), "now"), Err(Refusal::Illegal(_))));
        let done = imported("f", "WP01", Lane::Done, "e0", None, "now");
        let after = apply(&done, &merged, "e1", Some("m"), "now").unwrap();
        assert_eq!(after.lane, Lane::Done);
        let record = after.merged.unwrap();
        assert_eq!((record.into.as_str(), record.head.as_deref()), ("main", Some("h")));
    }

    fn step(state: &WpState, event: WpEvent) -> Result<WpState, Refusal> {
        apply(state, &event, "e", Some("r"), "now")
    }

    #[test]
    fn happy_path_with_one_rejection() {
        let s = imported("f", "WP01", Lane::Planned, "e0", None, "now");
        let s = step(&s, WpEvent::Claimed { owner: owner("r") }).unwrap();
        assert_eq!(s.lane, Lane::Doing);
        let s = step(
            &s,
            WpEvent::AgentStarted {
                agent: "codex".into(),
                role: Role::Implementation,
                attempt: 1,
                pid: Some(9),
                log: None,
            },
        )
        .unwrap();
        assert_eq!((s.attempt, s.attempts_total, s.pid), (1, 1, Some(9)));
        let s = step(&s, WpEvent::Submitted { head: "abc".into() }).unwrap();
        assert_eq!(s.lane, Lane::ForReview);
        let s = step(&s, WpEvent::Rejected { reviewer: "claude-code".into(), feedback: "add tests".into() }).unwrap();
        assert_eq!((s.lane, s.review_cycle, s.feedback.as_deref()), (Lane::Doing, 1, Some("add tests")));
        let s = step(&s, WpEvent::Submitted { head: "def".into() }).unwrap();
        let s = step(&s, WpEvent::Approved { reviewer: "claude-code".into() }).unwrap();
        assert_eq!((s.lane, s.owner.clone(), s.seq), (Lane::Done, None, 6));
    }

    #[test]
    fn illegal_transitions_are_refused() {
        let planned = imported("f", "WP01", Lane::Planned, "e0", None, "now");
        assert!(matches!(step(&planned, WpEvent::Approved { reviewer: "x".into() }), Err(Refusal::Illegal(_))));
        assert!(matches!(step(&planned, WpEvent::Submitted { head: "x".into() }), Err(Refusal::Illegal(_))));
        assert!(matches!(step(&planned, WpEvent::Retried), Err(Refusal::Illegal(_))));
        let done = imported("f", "WP01", Lane::Done, "e0", None, "now");
        assert!(matches!(step(&done, WpEvent::Blocked { reason: "x".into() }), Err(Refusal::Illegal(_))));
        assert!(matches!(step(&done, WpEvent::Claimed { owner: owner("r") }), Err(Refusal::Illegal(_))));
    }

    #[test]
    fn second_claim_is_a_conflict_and_reclaim_needs_the_dead_owner() {
        let s = imported("f", "WP01", Lane::Planned, "e0", None, "now");
        let s = step(&s, WpEvent::Claimed { owner: owner("a") }).unwrap();
        assert!(matches!(step(&s, WpEvent::Claimed { owner: owner("b") }), Err(Refusal::Conflict(_))));
        assert!(matches!(
            step(&s, WpEvent::Reclaimed { owner: owner("b"), previous: owner("x") }),
            Err(Refusal::Conflict(_))
        ));
        let s = step(&s, WpEvent::Reclaimed { owner: owner("b"), previous: owner("a") }).unwrap();
        assert_eq!(s.owner, Some(owner("b")));
    }

    #[test]
    fn only_the_owner_moves_a_wp_along() {
        let s = imported("f", "WP01", Lane::Planned, "e0", None, "now");
        let s = apply(&s, &WpEvent::Claimed { owner: owner("a") }, "e1", Some("a"), "now").unwrap();
        let submit = WpEvent::Submitted { head: "h".into() };
        // A stale writer (a run that lost the WP), or one outside any run, is refused.
        assert!(matches!(apply(&s, &submit, "e2", Some("b"), "now"), Err(Refusal::Conflict(_))));
        assert!(matches!(apply(&s, &submit, "e2", None, "now"), Err(Refusal::Conflict(_))));
        let blocked = WpEvent::Blocked { reason: "x".into() };
        assert!(matches!(apply(&s, &blocked, "e2", Some("b"), "now"), Err(Refusal::Conflict(_))));
        assert!(apply(&s, &submit, "e2", Some("a"), "now").is_ok());
        // After a reclaim the old owner is a stale writer.
        let s =
            apply(&s, &WpEvent::Reclaimed { owner: owner("b"), previous: owner("a") }, "e3", Some("b"), "now").unwrap();
        assert!(matches!(apply(&s, &submit, "e4", Some("a"), "now"), Err(Refusal::Conflict(_))));
        assert!(apply(&s, &submit, "e4", Some("b"), "now").is_ok());
    }

    #[test]
    fn a_person_force_releases_only_from_the_current_owner() {
        let s = imported("f", "WP01", Lane::Planned, "e0", None, "now");
        let s = apply(&s, &WpEvent::Claimed { owner: owner("a") }, "e1", Some("a"), "now").unwrap();
        let wrong = WpEvent::ForceReleased { previous: owner("z"), reason: "gone".into() };
        assert!(matches!(apply(&s, &wrong, "e2", None, "now"), Err(Refusal::Conflict(_))));
        let right = WpEvent::ForceReleased { previous: owner("a"), reason: "host gone".into() };
        let s = apply(&s, &right, "e2", None, "now").unwrap();
        assert_eq!((s.lane, s.owner.clone()), (Lane::Doing, None));
        // Unowned and in flight: the next run may claim it.
        assert!(apply(&s, &WpEvent::Claimed { owner: owner("c") }, "e3", Some("c"), "now").is_ok());
    }

    #[test]
    fn hostile_costs_and_texts_are_bounded() {
        use crate::limits::MAX_TEXT;
        let s = imported("f", "WP01", Lane::Planned, "e0", None, "now");
        let s = apply(&s, &WpEvent::Claimed { owner: owner("a") }, "e1", Some("a"), "now").unwrap();
        let finished = |cost: f64| WpEvent::AgentFinished {
            agent: "x".into(),
            role: Role::Implementation,
            attempt: 1,
            failure: None,
            cost_usd: Some(cost),
            duration_ms: u64::MAX,
            head: None,
            withheld: Vec::new(),
            refused: Vec::new(),
            session: None,
        };
        let mut state = s;
        for cost in [1.7e308, 1.7e308, f64::INFINITY, f64::NAN, -5.0, 0.5] {
            state = apply(&state, &finished(cost), "e", Some("a"), "now").unwrap();
        }
        assert_eq!(state.cost_usd, 0.5);
        assert_eq!(state.agent_ms, u64::MAX);
        assert!(serde_json::to_string(&state).unwrap().contains("\"cost_usd\":0.5"));
        let huge = "r".repeat(10 * MAX_TEXT);
        let state = apply(&state, &WpEvent::Blocked { reason: huge }, "e", Some("a"), "now").unwrap();
        assert!(state.reason.unwrap().len() < MAX_TEXT + 100);
    }

    #[test]
    fn blocked_then_retried_goes_back_to_planned() {
        let s = imported("f", "WP01", Lane::Doing, "e0", None, "now");
        let s = step(&s, WpEvent::Blocked { reason: "auth".into() }).unwrap();
        assert_eq!(s.lane, Lane::Blocked);
        let s = step(&s, WpEvent::Retried).unwrap();
        assert_eq!((s.lane, s.reason.clone()), (Lane::Planned, None));
    }
}
