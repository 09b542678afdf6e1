//! Lane `doing`: implementation attempts until one adds commits. An attempt is judged by what it
//! adds to the branch as it was when the attempt began; what a failed, cancelled or interrupted
//! attempt left uncommitted goes to a backup ref, never onto the branch.

use std::path::Path;

use super::attempts::{Attempt, Prompt, Ran, attempts, blocked_for_tampering, finish, note_in_log, run_agent};
use super::{block, ready_worktree};
use crate::command::Driver;
use crate::engine::ctx::Ctx;
use crate::engine::prompt;
use crate::error::EngineError;
use crate::executor::{KittyStatus, Outcome, SessionToContinue};
use crate::failure::FailureClass;
use crate::feature::WorkPackage;
use crate::lane::Lane;
use crate::role::Role;
use crate::state::{Actor, Append, WpEvent, WpState};
use crate::worktree::AttemptChanges;

/// What every implementation attempt of one lane visit works from.
struct Job {
    path: String,
    base: String,
    prompt: String,
    /// After a rejection: the message that continues the implementer's own session.
    rework: Option<String>,
}

/// Lane `doing`: worktree, then implementation attempts until one adds commits. `interrupted`:
/// an attempt was running when the previous orchestrator died.
pub(super) async fn implement(
    ctx: &Ctx,
    wp: &WorkPackage,
    state: WpState,
    interrupted: bool,
) -> Result<WpState, crate::Error> {
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
        if let Some(next) = submit_if_committed(ctx, wp, &base, &agent, attempt, &state).await? {
            return Ok(next);
        }
    }
    if interrupted {
        set_leftovers_aside(ctx, wp, "an attempt interrupted when its orchestrator died", None);
    }
    let feedback = state.feedback.clone().filter(|_| state.review_cycle > 0);
    let prompt = prompt::implementation(&ctx.feature, wp, &path, &prepared.branch, feedback.as_deref());
    let rework = feedback.filter(|f| !f.trim().is_empty()).map(|f| prompt::rework(wp, &prepared.branch, &f));
    let job = Job { path, base, prompt, rework };
    attempts(ctx, wp, Role::Implementation, state, |agent, state| one_attempt(ctx, wp, agent, state, &job)).await
}

/// One implementation attempt: run the agent, then judge and record what it added.
async fn one_attempt(
    ctx: &Ctx,
    wp: &WorkPackage,
    agent: String,
    state: WpState,
    job: &Job,
) -> Result<(Attempt, WpState), crate::Error> {
    // The attempt is judged by what it adds to the branch as it is now.
    let head_before = ctx.worktrees.head(&wp.id).ok().or_else(|| state.head.clone()).unwrap_or(job.base.clone());
    // What the worktree was, to put it back if the attempt gives up (its work is kept aside).
    let before = ctx.worktrees.snapshot(&wp.id).ok();
    let session = continuation(ctx, &agent, &state, job);
    let prompt = match (&session, &job.rework) {
        (Some(_), Some(rework)) => rework.clone(),
        _ => job.prompt.clone(),
    };
    let Ran { outcome, state, tampered } =
        run_agent(ctx, wp, Role::Implementation, &agent, &job.path, Prompt { text: prompt, session }, state).await?;
    // The agent's process group and every escaped descendant are gone: any git lock left in its
    // worktree is stale and would refuse the next attempt.
    ctx.worktrees.clear_stale_locks(&wp.id);
    if let Some(reason) = tampered {
        set_leftovers_aside(ctx, wp, "an attempt that changed refs outside its reach", Some(&outcome.log_path));
        return blocked_for_tampering(ctx, wp, &outcome, reason).await;
    }
    if outcome.cancelled {
        set_leftovers_aside(
            ctx,
            wp,
            "an attempt cancelled (abort, or the WP taken over elsewhere)",
            Some(&outcome.log_path),
        );
        return Ok((Attempt::Cancelled(state.clone()), state));
    }
    if let Some(class) = outcome.failure {
        set_leftovers_aside(ctx, wp, &format!("a failed attempt ({class})"), Some(&outcome.log_path));
        let head = ctx.worktrees.head(&wp.id).ok();
        let state = finish(ctx, wp, &outcome, (Some(class), None), head, Vec::new()).await?;
        return Ok((Attempt::Failed(class, outcome.describe()), state));
    }
    if let (Some(KittyStatus::Blocked(why) | KittyStatus::Kickback(why)), Some(before)) = (&outcome.status, &before) {
        return gave_up(ctx, wp, &agent, &outcome, why, before).await;
    }
    let changes = match collect(ctx, wp, &agent, outcome.attempt, &job.base, &head_before).await? {
        Ok(changes) => changes,
        Err(err) => {
            let state = finish(ctx, wp, &outcome, (None, None), None, Vec::new()).await?;
            let reason = format!("cannot read the worktree after the attempt: {err}");
            let blocked = block(ctx, wp, reason, Some(outcome.log_path.display().to_string())).await?;
            return Ok((Attempt::Finished(blocked), state));
        }
    };
    judge(ctx, wp, &agent, &outcome, &changes, Path::new(&job.path)).await
}

/// The session a rework attempt continues: the first attempt after a rejection, by the agent
/// that did the work, when it named its session and can continue one (over ACP, or a CLI with
/// resume arguments). A retry after a failed attempt starts afresh with the whole prompt.
fn continuation(ctx: &Ctx, agent: &str, state: &WpState, job: &Job) -> Option<SessionToContinue> {
    job.rework.as_ref()?;
    let retry = matches!(state.last_event, WpEvent::AgentFinished { .. } | WpEvent::RetryScheduled { .. });
    let can = ctx.roster.spec(agent).is_some_and(|s| {
        let command = s.command(Role::Implementation);
        command.driver == Driver::Acp || command.resume.is_some()
    });
    if retry || !can || state.session_agent.as_deref() != Some(agent) {
        return None;
    }
    let id = crate::limits::valid_session(state.session.as_deref())?;
    Some(SessionToContinue { id, fresh_prompt: job.prompt.clone() })
}

/// An attempt that reported `blocked` or `kickback`: what it did — commits and uncommitted
/// changes alike — goes to a backup ref and the worktree and branch are put back as they were,
/// so a retry after the cause is fixed is judged by what *it* adds (never `no_changes` because
/// the blocked attempt's half-work was already on the branch). The WP is blocked with the
/// agent's reason and where the work went.
async fn gave_up(
    ctx: &Ctx,
    wp: &WorkPackage,
    agent: &str,
    outcome: &Outcome,
    why: &str,
    before: &crate::worktree::WorkSnapshot,
) -> Result<(Attempt, WpState), crate::Error> {
    let word = if matches!(outcome.status, Some(KittyStatus::Kickback(_))) {
        "kicked the work package back"
    } else {
        "reported blocked"
    };
    let aside = format!("an attempt that {word}");
    let kept = match ctx.worktrees.restore_snapshot(&wp.id, before, &aside) {
        Ok(Some(backup)) => {
            let line = format!(
                "the attempt's work ({} path(s) and its commits) saved to {} and put back",
                backup.files.len(),
                backup.reference
            );
            note_in_log(&outcome.log_path, &line);
            format!(" (its work is kept at {})", backup.reference)
        }
        Ok(None) => String::new(),
        Err(err) => {
            tracing::warn!(wp = %wp.id, %err, "the work of an attempt that gave up could not be set aside");
            String::new()
        }
    };
    finish(ctx, wp, outcome, (None, None), Some(before.head.clone()), Vec::new()).await?;
    let log = Some(outcome.log_path.display().to_string());
    let reason = match outcome.status {
        Some(KittyStatus::Kickback(_)) => format!("{agent} kicked the work package back: {why}{kept}"),
        _ => format!("{agent} reported blocked: {why}{kept}"),
    };
    let blocked = block(ctx, wp, reason, log).await?;
    Ok((Attempt::Finished(blocked.clone()), blocked))
}

/// Auto-commits what the attempt left (withheld paths excepted) and lists its commits, off the
/// async threads (git work).
async fn collect(
    ctx: &Ctx,
    wp: &WorkPackage,
    agent: &str,
    attempt: u32,
    base: &str,
    since: &str,
) -> Result<Result<AttemptChanges, crate::worktree::WorktreeError>, crate::Error> {
    let manager = ctx.worktrees.clone();
    let (wp_c, agent, base, since) = (wp.clone(), agent.to_string(), base.to_string(), since.to_string());
    let auto = ctx.config.auto_commit;
    tokio::task::spawn_blocking(move || manager.collect(&wp_c, &agent, attempt, &base, &since, auto))
        .await
        .map_err(|e| EngineError::Internal(format!("reading the worktree of {}: {e}", wp.id)).into())
}

/// Records the attempt's end, then what it came to: blocked or kicked back as the agent said,
/// `no_changes` when it added nothing, else provenance notes and the submission for review.
async fn judge(
    ctx: &Ctx,
    wp: &WorkPackage,
    agent: &str,
    outcome: &Outcome,
    changes: &AttemptChanges,
    worktree: &Path,
) -> Result<(Attempt, WpState), crate::Error> {
    let no_changes = changes.new_commits.is_empty() && outcome.status.as_ref().is_none_or(|s| *s == KittyStatus::Done);
    let reported_done = outcome.status.as_ref().is_none_or(|s| *s == KittyStatus::Done);
    // A task list's own Verify command judges the work too: failing it fails the attempt.
    let verify_failed = if no_changes || !reported_done {
        None
    } else {
        crate::engine::commands::verify_task(ctx, wp, worktree, outcome.attempt).await.err()
    };
    let judged = if no_changes {
        (Some(FailureClass::NoChanges), Some("the attempt added no commit and left no change".to_string()))
    } else if let Some(why) = &verify_failed {
        (Some(FailureClass::NonzeroExit), Some(why.clone()))
    } else {
        (None, None)
    };
    let state = finish(ctx, wp, outcome, judged, Some(changes.head.clone()), changes.withheld.clone()).await?;
    let log = Some(outcome.log_path.display().to_string());
    let stopped = match &outcome.status {
        Some(KittyStatus::Blocked(reason)) => Some(format!("{agent} reported blocked: {reason}")),
        Some(KittyStatus::Kickback(reason)) => Some(format!("{agent} kicked the work package back: {reason}")),
        _ => None,
    };
    if let Some(reason) = stopped {
        let blocked = block(ctx, wp, reason, log).await?;
        return Ok((Attempt::Finished(blocked.clone()), blocked));
    }
    if no_changes {
        let why = format!("{agent} made no new commit and left no change");
        return Ok((Attempt::Failed(FailureClass::NoChanges, why), state));
    }
    if let Some(why) = verify_failed {
        return Ok((Attempt::Failed(FailureClass::NonzeroExit, format!("{agent}'s work failed {why}")), state));
    }
    record_provenance(ctx, wp, agent, outcome, changes).await?;
    let submit = Append::new(WpEvent::Submitted { head: changes.head.clone() }).by(Actor::agent(agent));
    let submitted = ctx.record(wp, submit).await?;
    Ok((Attempt::Finished(submitted.clone()), submitted))
}

/// A note on every commit the attempt made: agent, attempt, run, cost, whether we auto-committed it.
async fn record_provenance(
    ctx: &Ctx,
    wp: &WorkPackage,
    agent: &str,
    outcome: &Outcome,
    changes: &AttemptChanges,
) -> Result<(), crate::Error> {
    for commit in &changes.new_commits {
        let record = serde_json::json!({
            "wp": wp.id, "feature": ctx.feature.slug, "agent": agent, "role": "implementation",
            "attempt": outcome.attempt, "run": ctx.owner.run_id, "cost_usd": outcome.result.cost_usd,
            "auto_commit": changes.auto_commit.as_deref() == Some(commit.as_str()),
        });
        ctx.note(commit, record).await?;
    }
    Ok(())
}

/// After a crash between a successful attempt and its submission: submit what is committed.
async fn submit_if_committed(
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
    let submit = Append::new(WpEvent::Submitted { head: changes.head }).by(Actor::agent(agent));
    Ok(Some(ctx.record(wp, submit).await?))
}

/// Saves what a failed, cancelled or interrupted attempt left uncommitted into a backup ref and
/// resets the worktree: half-work never lands on the branch as if it were work.
fn set_leftovers_aside(ctx: &Ctx, wp: &WorkPackage, why: &str, log: Option<&Path>) {
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
