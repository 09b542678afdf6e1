//! One WP through its lifecycle: claim → worktree → implementation (retries, fallback) →
//! for_review → review → done, or back to doing on rejection, or blocked.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::commands::{self, Setup};
use super::events::Event;
use super::{Ctx, EngineError, prompt};
use crate::config::FallbackStrategy;
use crate::executor::{AgentRun, KittyStatus, Outcome, OutputLine, Verdict, execute_with};
use crate::failure::FailureClass;
use crate::feature::WorkPackage;
use crate::ids::WpId;
use crate::lane::Lane;
use crate::state::{Actor, Append, Liveness, Role, StateError, WpEvent, WpState, liveness};
use crate::worktree::Prepared;

/// Drives `wp` as far as it can go in this run; returns its final state.
pub async fn drive(ctx: Arc<Ctx>, wp: WorkPackage) -> Result<WpState, crate::Error> {
    let mut state = ctx.state_of(&wp)?;
    // An agent was running when its orchestrator died: what it left in the worktree is not work.
    let mut interrupted = state.pid.is_some() || matches!(state.last_event, WpEvent::AgentStarted { .. });
    state = claim(&ctx, &wp, state).await?;
    #[cfg(debug_assertions)]
    injected_panic(&wp);
    loop {
        if ctx.cancel.is_cancelled() {
            return release(&ctx, &wp, state);
        }
        state = match state.lane {
            Lane::Doing => implement(&ctx, &wp, state, std::mem::take(&mut interrupted)).await?,
            Lane::ForReview => review(&ctx, &wp, state).await?,
            _ => return Ok(state),
        };
    }
}

/// Debug builds only: `KITTY_DEBUG_PANIC_WP=WP02` makes that WP's task panic once claimed, so
/// tests can check that a panicking WP ends blocked while the rest of the run goes on.
#[cfg(debug_assertions)]
fn injected_panic(wp: &WorkPackage) {
    if std::env::var("KITTY_DEBUG_PANIC_WP").is_ok_and(|v| v == wp.id.as_str()) {
        panic!("injected by KITTY_DEBUG_PANIC_WP for a test");
    }
}

/// After a WP's task panicked (a bug): records the WP blocked with the message, so the run goes
/// on and a person sees why. `None` if it could not be recorded (another run holds it).
pub fn block_after_panic(ctx: &Ctx, id: &WpId, why: &str) -> Option<WpState> {
    let wp = ctx.feature.work_package(id)?;
    ctx.worktrees.clear_stale_locks(id);
    match block(ctx, wp, format!("internal error: {why}"), None) {
        Ok(state) => Some(state),
        Err(err) => {
            tracing::error!(wp = %id, %err, "could not record a panicked WP as blocked");
            ctx.emit(Event::WpBlocked {
                feature: ctx.feature.slug.to_string(),
                wp: id.to_string(),
                reason: format!("internal error: {why}"),
                log: None,
            });
            None
        }
    }
}

/// Takes ownership: `planned → doing`, or an unowned in-flight WP, or one whose owner is dead
/// (after ending any agent process group it left behind).
async fn claim(ctx: &Ctx, wp: &WorkPackage, state: WpState) -> Result<WpState, crate::Error> {
    match &state.owner {
        Some(owner) if owner.run_id == ctx.owner.run_id => Ok(state),
        Some(owner) => {
            // We hold this machine's run lock for the feature, so another owner on this machine is
            // a dead run. On another machine we cannot tell: leave the WP alone.
            if liveness(owner) == Liveness::Unknown {
                return Err(StateError::Conflict {
                    reference: crate::state::wp_ref(&ctx.feature.slug, &wp.id),
                    why: format!(
                        "owned by {owner} on another machine; run it there, or if that run is gone, `kitty-orchestrator release {} {}` frees it",
                        ctx.feature.slug, wp.id
                    ),
                }
                .into());
            }
            // End whatever the dead run left running for this WP, recorded or not.
            let worktree = ctx.worktrees.path_for(&wp.id);
            for pgid in crate::executor::find_agent_groups(ctx.feature.slug.as_str(), wp.id.as_str(), &worktree) {
                tracing::warn!(wp = %wp.id, pgid, "ending an agent process group a dead run left behind");
                crate::executor::terminate_group(pgid, ctx.opts.grace).await;
            }
            // Nothing else works in this worktree now: locks there are leftovers of the dead run.
            ctx.worktrees.clear_stale_locks(&wp.id);
            let event = WpEvent::Reclaimed { owner: ctx.owner.clone(), previous: owner.clone() };
            ctx.record(wp, Append::new(event).body(format!("The previous owner, {owner}, is no longer running.")))
        }
        None => ctx.record(wp, Append::new(WpEvent::Claimed { owner: ctx.owner.clone() })),
    }
}

fn release(ctx: &Ctx, wp: &WorkPackage, state: WpState) -> Result<WpState, crate::Error> {
    if state.owner.is_none() || state.lane.is_terminal() || state.lane == Lane::Blocked {
        return Ok(state);
    }
    ctx.record(wp, Append::new(WpEvent::Released { reason: "interrupted: the run was aborted".into() }))
}

fn block(ctx: &Ctx, wp: &WorkPackage, reason: String, log: Option<String>) -> Result<WpState, crate::Error> {
    let body = match &log {
        Some(log) => format!("{reason}\n\nLast log: {log}"),
        None => reason.clone(),
    };
    let state = ctx.record(wp, Append::new(WpEvent::Blocked { reason: reason.clone() }).body(body))?;
    ctx.emit(Event::WpBlocked { feature: ctx.feature.slug.to_string(), wp: wp.id.to_string(), reason, log });
    Ok(state)
}

/// The order in which agents are tried for `role`, per the fallback strategy.
fn agent_order(ctx: &Ctx, role: Role, state: &WpState) -> Vec<String> {
    let candidates = ctx.roster.candidates(role).to_vec();
    let implementer = state.agents_used.first().cloned().or_else(|| state.agent.clone());
    let mut order = match role {
        Role::Implementation => candidates,
        Role::Review if ctx.config.single_agent_mode => match &implementer {
            Some(i) if ctx.roster.spec(i).is_some() => vec![i.clone()],
            _ => candidates,
        },
        // Prefer a reviewer other than the implementer; fall back to it last.
        Role::Review => {
            let (mut others, same): (Vec<String>, Vec<String>) =
                candidates.into_iter().partition(|a| Some(a) != implementer.as_ref());
            others.extend(same);
            others
        }
    };
    if ctx.config.fallback_strategy != FallbackStrategy::NextAvailable {
        order.truncate(1);
    }
    order
}

/// What one agent attempt came to.
enum Attempt {
    /// The role's goal was reached: the new state.
    Finished(WpState),
    /// Failed; may be retried.
    Failed(FailureClass, String),
    /// The run was cancelled during it.
    Cancelled(WpState),
}

/// Runs attempts over the agents in order, with retries and backoff, until one finishes.
async fn attempts<F, Fut>(
    ctx: &Ctx,
    wp: &WorkPackage,
    role: Role,
    mut state: WpState,
    mut one: F,
) -> Result<WpState, crate::Error>
where
    F: FnMut(String, WpState) -> Fut,
    Fut: std::future::Future<Output = Result<(Attempt, WpState), crate::Error>>,
{
    let order = agent_order(ctx, role, &state);
    let rounds = if ctx.config.fallback_strategy == FallbackStrategy::SameAgent { 2 } else { 1 };
    let mut last: Option<(FailureClass, String)> = None;
    for _round in 0..rounds {
        for agent in &order {
            let mut retries_left = ctx.config.max_retries;
            loop {
                let (attempt, after) = one(agent.clone(), state).await?;
                state = after;
                match attempt {
                    Attempt::Finished(done) => return Ok(done),
                    Attempt::Cancelled(s) => return release(ctx, wp, s),
                    Attempt::Failed(class, detail) => {
                        last = Some((class, detail));
                        if state.lane == Lane::Blocked {
                            return Ok(state);
                        }
                        // Credentials and missing binaries do not fix themselves: next agent.
                        if matches!(class, FailureClass::Auth | FailureClass::Spawn) || retries_left == 0 {
                            break;
                        }
                        retries_left -= 1;
                        let delay = backoff(ctx, class, ctx.config.max_retries - retries_left);
                        let next = state.attempts_total + 1;
                        state = ctx.record(
                            wp,
                            Append::new(WpEvent::RetryScheduled {
                                agent: agent.clone(),
                                attempt: next,
                                delay_ms: delay.as_millis() as u64,
                                failure: class,
                            }),
                        )?;
                        ctx.emit(Event::RetryScheduled {
                            feature: ctx.feature.slug.to_string(),
                            wp: wp.id.to_string(),
                            agent: agent.clone(),
                            attempt: next,
                            delay_ms: delay.as_millis() as u64,
                            failure: class,
                        });
                        tokio::select! {
                            _ = tokio::time::sleep(delay) => {}
                            _ = ctx.cancel.cancelled() => return release(ctx, wp, state),
                        }
                    }
                }
            }
        }
    }
    let (class, detail) = last.unwrap_or((FailureClass::Spawn, "no agent could run".into()));
    let reason =
        format!("{} failed on every agent tried ({}): last {class}: {detail}", role.as_str(), order.join(", "));
    let log = state.log.clone();
    block(ctx, wp, reason, log)
}

/// Exponential backoff with jitter; rate limits wait four times longer.
fn backoff(ctx: &Ctx, class: FailureClass, retry: u32) -> Duration {
    let base = ctx.opts.retry_base.as_millis() as u64;
    let factor = if class == FailureClass::RateLimit { 4 } else { 1 };
    let ms = base.saturating_mul(factor).saturating_mul(1u64 << retry.min(10).saturating_sub(1));
    Duration::from_millis(ms / 2 + fastrand::u64(0..=ms / 2 + 1))
}

/// Runs one agent process for `wp` and records its start and end.
async fn run_agent(
    ctx: &Ctx,
    wp: &WorkPackage,
    role: Role,
    agent: &str,
    cwd: &str,
    prompt: String,
    state: WpState,
) -> Result<(Outcome, WpState), crate::Error> {
    let spec = ctx.roster.spec(agent).expect("roster agents have specs");
    let attempt = state.attempts_total + 1;
    let log_path = AgentRun::log_path_for(&ctx.repo_root, ctx.feature.slug.as_str(), wp.id.as_str(), role, attempt);
    let run = AgentRun {
        command: spec.command(role).clone(),
        role,
        attempt,
        feature: ctx.feature.slug.to_string(),
        wp: wp.id.to_string(),
        cwd: cwd.into(),
        prompt,
        log_path: log_path.clone(),
        timeout: spec.timeout,
        idle_timeout: spec.idle_timeout,
        grace: ctx.opts.grace,
    };
    let _permit = tokio::select! {
        permit = ctx.roster.acquire(agent) => permit,
        _ = ctx.cancel.cancelled() => return Ok((cancelled_outcome(agent, role, attempt, &log_path), state)),
    };
    let log = log_path.display().to_string();
    ctx.add_log(wp, &log);
    let subscriber = ctx.opts.output_lines.then(|| {
        let (tx, mut rx) = mpsc::channel::<OutputLine>(256);
        let events = ctx.events.clone();
        let feature = ctx.feature.slug.to_string();
        tokio::spawn(async move {
            while let Some(line) = rx.recv().await {
                events(Event::AgentOutput {
                    feature: feature.clone(),
                    wp: line.wp,
                    agent: line.agent,
                    stream: line.stream,
                    line: line.line,
                });
            }
        });
        tx
    });
    let started = std::sync::Mutex::new(None);
    let on_spawn = |pid: u32| {
        let event =
            WpEvent::AgentStarted { agent: agent.to_string(), role, attempt, pid: Some(pid), log: Some(log.clone()) };
        let recorded = ctx.record(wp, Append::new(event).run(&ctx.owner.run_id).by(Actor::agent(agent)));
        let ok = recorded.is_ok();
        *started.lock().unwrap_or_else(|e| e.into_inner()) = Some(recorded);
        ctx.emit(Event::AgentStarted {
            feature: ctx.feature.slug.to_string(),
            wp: wp.id.to_string(),
            agent: agent.to_string(),
            role,
            attempt,
            pid: Some(pid),
            log: log.clone(),
        });
        ok
    };
    let outcome = execute_with(run, subscriber, ctx.cancel.child_token(), on_spawn)
        .await
        .map_err(|e| crate::Error::Io { path: e.path, source: e.source })?;
    let state = match started.into_inner().unwrap_or_else(|e| e.into_inner()) {
        Some(result) => result?,
        // Never spawned: record the attempt so its number is used once.
        None => ctx.record(
            wp,
            Append::new(WpEvent::AgentStarted {
                agent: agent.to_string(),
                role,
                attempt,
                pid: None,
                log: Some(log.clone()),
            }),
        )?,
    };
    Ok((outcome, state))
}

/// Records the end of an attempt with the failure class judged at the role's level (a review
/// without a verdict, an implementation without commits), and reports it.
fn finish(
    ctx: &Ctx,
    wp: &WorkPackage,
    outcome: &Outcome,
    judged: (Option<FailureClass>, Option<String>),
    head: Option<String>,
    withheld: Vec<String>,
) -> Result<WpState, crate::Error> {
    let (failure, detail) = judged;
    if !withheld.is_empty() {
        note_in_log(
            &outcome.log_path,
            &format!("auto-commit withheld (secret-looking or .worktreeinclude): {}", withheld.join(", ")),
        );
    }
    let finished = WpEvent::AgentFinished {
        agent: outcome.agent.clone(),
        role: outcome.role,
        attempt: outcome.attempt,
        failure,
        cost_usd: outcome.result.cost_usd,
        duration_ms: outcome.duration_ms,
        head,
        withheld,
    };
    let summary = match (failure, outcome.failure, detail) {
        (Some(judged), None, Some(detail)) => format!("{judged}: {detail}"),
        (Some(judged), None, None) => format!("{judged}"),
        _ => outcome.describe(),
    };
    let body = format!("{summary}\n\nLog: {}", outcome.log_path.display());
    let state = ctx.record(wp, Append::new(finished).body(body).by(Actor::agent(&outcome.agent)))?;
    ctx.emit(Event::AgentFinished {
        feature: ctx.feature.slug.to_string(),
        wp: wp.id.to_string(),
        agent: outcome.agent.clone(),
        role: outcome.role,
        attempt: outcome.attempt,
        success: failure.is_none(),
        failure,
        summary,
        duration_ms: outcome.duration_ms,
        cost_usd: outcome.result.cost_usd,
    });
    Ok(state)
}

/// Adds a `# …` line to an attempt's log after the fact (what the engine did with its work).
fn note_in_log(log: &std::path::Path, line: &str) {
    use std::io::Write;
    if let Ok(mut file) = std::fs::OpenOptions::new().append(true).open(log) {
        let _ = writeln!(file, "# {line}");
    }
}

/// Saves what a failed, cancelled or interrupted attempt left uncommitted into a backup ref and
/// resets the worktree: half-work never lands on the branch as if it were work.
fn set_leftovers_aside(ctx: &Ctx, wp: &WorkPackage, why: &str, log: Option<&std::path::Path>) {
    match ctx.worktrees.discard_leftovers(&wp.id, why) {
        Ok(Some(backup)) => {
            let line = format!(
                "uncommitted leftovers ({} path(s)) saved to {} and reset",
                backup.files.len(),
                backup.reference
            );
            tracing::info!(wp = %wp.id, "{line}");
            if let Some(log) = log {
                note_in_log(log, &line);
            }
        }
        Ok(None) => {}
        Err(err) => tracing::warn!(wp = %wp.id, %err, "could not set the leftovers of an attempt aside"),
    }
}

fn cancelled_outcome(agent: &str, role: Role, attempt: u32, log: &std::path::Path) -> Outcome {
    Outcome {
        agent: agent.to_string(),
        role,
        attempt,
        pid: None,
        exit: crate::executor::ExitInfo { code: None, signal: None },
        duration_ms: 0,
        result: Default::default(),
        status: None,
        verdict: None,
        failure: None,
        cancelled: true,
        killed: false,
        lines: 0,
        dropped_lines: 0,
        log_path: log.to_path_buf(),
        tail: Vec::new(),
    }
}

/// The WP's worktree, made (or reused) and set up: `Err(state)` when the WP stopped instead
/// (blocked on a worktree or setup failure, released on abort).
async fn ready_worktree(
    ctx: &Ctx,
    wp: &WorkPackage,
    state: WpState,
    what: &str,
) -> Result<Result<(Prepared, WpState), WpState>, crate::Error> {
    let manager = ctx.worktrees.clone();
    let wp_owned = wp.clone();
    let prepared = tokio::task::spawn_blocking(move || manager.ensure(&wp_owned))
        .await
        .map_err(|e| EngineError::Internal(format!("preparing the worktree of {}: {e}", wp.id)))?;
    let prepared = match prepared {
        Ok(p) => p,
        Err(err) => return Ok(Err(block(ctx, wp, format!("cannot prepare the worktree{what}: {err}"), None)?)),
    };
    if prepared.setup_pending {
        match commands::setup(ctx, wp, &prepared.path).await {
            Setup::Ready => {}
            Setup::Failed(why) => {
                let log = ctx.worktrees.setup_log_path(&wp.id).display().to_string();
                return Ok(Err(block(ctx, wp, why, Some(log))?));
            }
            Setup::Cancelled => return Ok(Err(release(ctx, wp, state)?)),
        }
    }
    let path = prepared.path.display().to_string();
    let mut state = state;
    if state.worktree.as_deref() != Some(path.as_str()) || state.base.is_none() {
        let base =
            state.base.clone().filter(|_| !prepared.created || prepared.reused_branch).unwrap_or(prepared.base.clone());
        state = ctx.record(wp, Append::new(WpEvent::WorktreeReady { path, branch: prepared.branch.clone(), base }))?;
    }
    Ok(Ok((prepared, state)))
}

/// Lane `doing`: worktree, then implementation attempts until one adds commits. `interrupted`:
/// an attempt was running when the previous orchestrator died.
async fn implement(ctx: &Ctx, wp: &WorkPackage, state: WpState, interrupted: bool) -> Result<WpState, crate::Error> {
    let (prepared, state) = match ready_worktree(ctx, wp, state, "").await? {
        Ok(ready) => ready,
        Err(stopped) => return Ok(stopped),
    };
    let path = prepared.path.display().to_string();
    let base = state.base.clone().expect("set by worktree_ready");
    // A crash after a successful attempt but before the submission: the work is there; submit it.
    if let WpEvent::AgentFinished { role: Role::Implementation, failure: None, agent, attempt, .. } = &state.last_event
    {
        let (agent, attempt) = (agent.clone(), *attempt);
        if let Some(next) = submit_if_committed(ctx, wp, &base, &agent, attempt, &state)? {
            return Ok(next);
        }
    }
    if interrupted {
        set_leftovers_aside(ctx, wp, "an attempt interrupted when its orchestrator died", None);
    }
    let feedback = state.feedback.clone().filter(|_| state.review_cycle > 0);
    let prompt_text = prompt::implementation(&ctx.feature, wp, &path, &prepared.branch, feedback.as_deref());
    attempts(ctx, wp, Role::Implementation, state, |agent, state| {
        let prompt_text = prompt_text.clone();
        let path = path.clone();
        let base = base.clone();
        async move {
            // The attempt is judged by what it adds to the branch as it is now.
            let head_before = ctx.worktrees.head(&wp.id).ok().or_else(|| state.head.clone()).unwrap_or(base.clone());
            let (outcome, state) = run_agent(ctx, wp, Role::Implementation, &agent, &path, prompt_text, state).await?;
            // The agent's process group and every escaped descendant are gone: any git lock
            // left in its worktree is stale and would refuse the next attempt.
            ctx.worktrees.clear_stale_locks(&wp.id);
            if outcome.cancelled {
                set_leftovers_aside(ctx, wp, "an attempt cancelled by abort", Some(&outcome.log_path));
                return Ok((Attempt::Cancelled(state.clone()), state));
            }
            if let Some(class) = outcome.failure {
                set_leftovers_aside(ctx, wp, &format!("a failed attempt ({class})"), Some(&outcome.log_path));
                let head = ctx.worktrees.head(&wp.id).ok();
                let state = finish(ctx, wp, &outcome, (Some(class), None), head, Vec::new())?;
                return Ok((Attempt::Failed(class, outcome.describe()), state));
            }
            let manager = ctx.worktrees.clone();
            let (wp_c, agent_c, base_c, since) = (wp.clone(), agent.clone(), base.clone(), head_before.clone());
            let auto = ctx.config.auto_commit;
            let attempt = outcome.attempt;
            let changes =
                tokio::task::spawn_blocking(move || manager.collect(&wp_c, &agent_c, attempt, &base_c, &since, auto))
                    .await
                    .map_err(|e| EngineError::Internal(format!("reading the worktree of {}: {e}", wp.id)))?;
            let changes = match changes {
                Ok(c) => c,
                Err(err) => {
                    let state = finish(ctx, wp, &outcome, (None, None), None, Vec::new())?;
                    let reason = format!("cannot read the worktree after the attempt: {err}");
                    let s = block(ctx, wp, reason, Some(outcome.log_path.display().to_string()))?;
                    return Ok((Attempt::Finished(s), state));
                }
            };
            let no_changes =
                changes.new_commits.is_empty() && outcome.status.as_ref().is_none_or(|s| *s == KittyStatus::Done);
            let judged = if no_changes {
                (Some(FailureClass::NoChanges), Some("the attempt added no commit and left no change".to_string()))
            } else {
                (None, None)
            };
            let state = finish(ctx, wp, &outcome, judged, Some(changes.head.clone()), changes.withheld.clone())?;
            match &outcome.status {
                Some(KittyStatus::Blocked(reason)) => {
                    let s = block(
                        ctx,
                        wp,
                        format!("{agent} reported blocked: {reason}"),
                        Some(outcome.log_path.display().to_string()),
                    )?;
                    return Ok((Attempt::Finished(s.clone()), s));
                }
                Some(KittyStatus::Kickback(reason)) => {
                    let s = block(
                        ctx,
                        wp,
                        format!("{agent} kicked the work package back: {reason}"),
                        Some(outcome.log_path.display().to_string()),
                    )?;
                    return Ok((Attempt::Finished(s.clone()), s));
                }
                _ => {}
            }
            if no_changes {
                return Ok((
                    Attempt::Failed(FailureClass::NoChanges, format!("{agent} made no new commit and left no change")),
                    state,
                ));
            }
            // Provenance on every commit this attempt made.
            for commit in &changes.new_commits {
                let record = serde_json::json!({
                    "wp": wp.id, "feature": ctx.feature.slug, "agent": agent, "role": "implementation",
                    "attempt": attempt, "run": ctx.owner.run_id, "cost_usd": outcome.result.cost_usd,
                    "auto_commit": changes.auto_commit.as_deref() == Some(commit.as_str()),
                });
                ctx.store.add_note(commit, &record)?;
            }
            let s = ctx
                .record(wp, Append::new(WpEvent::Submitted { head: changes.head.clone() }).by(Actor::agent(&agent)))?;
            Ok((Attempt::Finished(s.clone()), s))
        }
    })
    .await
}

fn submit_if_committed(
    ctx: &Ctx,
    wp: &WorkPackage,
    base: &str,
    agent: &str,
    attempt: u32,
    state: &WpState,
) -> Result<Option<WpState>, crate::Error> {
    let changes = match ctx.worktrees.collect(wp, agent, attempt, base, base, ctx.config.auto_commit) {
        Ok(c) => c,
        Err(_) => return Ok(None),
    };
    if changes.commits.is_empty() || state.lane != Lane::Doing {
        return Ok(None);
    }
    Ok(Some(ctx.record(wp, Append::new(WpEvent::Submitted { head: changes.head }).by(Actor::agent(agent)))?))
}

/// Lane `for_review`: review attempts until one gives a verdict. A reviewer only reads: an
/// attempt that changed the branch or the worktree is undone (after a backup) and fails.
async fn review(ctx: &Ctx, wp: &WorkPackage, state: WpState) -> Result<WpState, crate::Error> {
    let (prepared, state) = match ready_worktree(ctx, wp, state, " for review").await? {
        Ok(ready) => ready,
        Err(stopped) => return Ok(stopped),
    };
    let path = prepared.path.display().to_string();
    let base = state.base.clone().unwrap_or(prepared.base.clone());
    let head = match &state.head {
        Some(h) => h.clone(),
        None => ctx.worktrees.head(&wp.id).unwrap_or_else(|_| base.clone()),
    };
    let prompt_text = prompt::review(&ctx.feature, wp, &path, &base, &head);
    attempts(ctx, wp, Role::Review, state, |agent, state| {
        let prompt_text = prompt_text.clone();
        let path = path.clone();
        let head = head.clone();
        async move {
            let before = ctx.worktrees.snapshot(&wp.id).ok();
            let (outcome, state) = run_agent(ctx, wp, Role::Review, &agent, &path, prompt_text, state).await?;
            ctx.worktrees.clear_stale_locks(&wp.id);
            let changed = match &before {
                Some(before) => match ctx.worktrees.snapshot(&wp.id) {
                    Ok(after) if after != *before => {
                        let why = format!("undoing changes made by reviewer {agent}");
                        let saved = ctx.worktrees.restore_snapshot(&wp.id, before, &why);
                        let saved = match saved {
                            Ok(Some(b)) => format!("; what it did is saved in {}", b.reference),
                            Ok(None) => String::new(),
                            Err(err) => format!("; undoing them failed: {err}"),
                        };
                        note_in_log(
                            &outcome.log_path,
                            &format!("the review changed the worktree or branch: undone{saved}"),
                        );
                        Some(format!("the reviewer changed the branch or worktree it was only to read (undone{saved})"))
                    }
                    _ => None,
                },
                None => None,
            };
            if outcome.cancelled {
                return Ok((Attempt::Cancelled(state.clone()), state));
            }
            if let Some(detail) = changed {
                let class = FailureClass::ReadOnlyViolation;
                let state = finish(ctx, wp, &outcome, (Some(class), Some(detail.clone())), None, Vec::new())?;
                return Ok((Attempt::Failed(class, format!("{agent}: {detail}")), state));
            }
            let judged = match (outcome.failure, outcome.verdict) {
                (Some(class), _) => (Some(class), None),
                (None, None) => {
                    (Some(FailureClass::InvalidOutput), Some("the review has no KITTY-VERDICT line".into()))
                }
                (None, Some(_)) => (None, None),
            };
            let state = finish(ctx, wp, &outcome, judged, None, Vec::new())?;
            if let Some(class) = outcome.failure {
                return Ok((Attempt::Failed(class, outcome.describe()), state));
            }
            let note = |verdict: &str| {
                let record = serde_json::json!({
                    "wp": wp.id, "feature": ctx.feature.slug, "reviewer": agent, "role": "review", "verdict": verdict,
                    "attempt": outcome.attempt, "run": ctx.owner.run_id, "cost_usd": outcome.result.cost_usd,
                });
                ctx.store.add_note(&head, &record)
            };
            match outcome.verdict {
                Some(Verdict::Approve) => {
                    note("approve")?;
                    let s = ctx.record(
                        wp,
                        Append::new(WpEvent::Approved { reviewer: agent.clone() }).by(Actor::agent(&agent)),
                    )?;
                    Ok((Attempt::Finished(s.clone()), s))
                }
                Some(Verdict::Reject) => {
                    note("reject")?;
                    let feedback = outcome.feedback();
                    if state.review_cycle + 1 >= ctx.config.max_review_cycles {
                        let first = feedback.lines().next().unwrap_or("").to_string();
                        let s = block(
                            ctx,
                            wp,
                            format!(
                                "rejected by review {} times (max_review_cycles); last feedback: {first}",
                                state.review_cycle + 1
                            ),
                            Some(outcome.log_path.display().to_string()),
                        )?;
                        return Ok((Attempt::Finished(s.clone()), s));
                    }
                    let s = ctx.record(
                        wp,
                        Append::new(WpEvent::Rejected { reviewer: agent.clone(), feedback: feedback.clone() })
                            .body(feedback)
                            .by(Actor::agent(&agent)),
                    )?;
                    Ok((Attempt::Finished(s.clone()), s))
                }
                None => Ok((
                    Attempt::Failed(FailureClass::InvalidOutput, format!("{agent}'s review has no KITTY-VERDICT line")),
                    state,
                )),
            }
        }
    })
    .await
}
