//! Lane `for_review`: review attempts until one gives a verdict. A reviewer only reads: an
//! attempt that changed the branch or the worktree is undone (after a backup) and fails as
//! `read_only_violation`; a review without a verdict is a failed attempt, never an approval.

use super::attempts::{Attempt, Prompt, Ran, attempts, blocked_for_tampering, finish, note_in_log, run_agent};
use super::{block, ready_worktree};
use crate::engine::ctx::Ctx;
use crate::engine::prompt;
use crate::executor::{Outcome, Verdict};
use crate::failure::FailureClass;
use crate::feature::WorkPackage;
use crate::role::Role;
use crate::state::{Actor, Append, WpEvent, WpState};
use crate::worktree::WorkSnapshot;

/// What every review attempt of one lane visit works from.
struct Job {
    path: String,
    head: String,
    prompt: String,
}

/// Lane `for_review`: review attempts until one gives a verdict.
pub(super) async fn review(ctx: &Ctx, wp: &WorkPackage, state: WpState) -> Result<WpState, crate::Error> {
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
    let prompt = prompt::review(&ctx.feature, wp, &path, &base, &head);
    let job = Job { path, head, prompt };
    attempts(ctx, wp, Role::Review, state, |agent, state| one_attempt(ctx, wp, agent, state, &job)).await
}

/// One review attempt: run the reviewer, undo whatever it changed, then act on its verdict.
async fn one_attempt(
    ctx: &Ctx,
    wp: &WorkPackage,
    agent: String,
    state: WpState,
    job: &Job,
) -> Result<(Attempt, WpState), crate::Error> {
    let before = ctx.worktrees.snapshot(&wp.id).ok();
    let Ran { outcome, state, tampered } =
        run_agent(ctx, wp, Role::Review, &agent, &job.path, Prompt::new(job.prompt.clone()), state).await?;
    ctx.worktrees.clear_stale_locks(&wp.id);
    let changed = before.and_then(|before| undo_changes(ctx, wp, &agent, &outcome, &before));
    if let Some(reason) = tampered {
        return blocked_for_tampering(ctx, wp, &outcome, reason).await;
    }
    if outcome.cancelled {
        return Ok((Attempt::Cancelled(state.clone()), state));
    }
    if let Some(detail) = changed {
        let class = FailureClass::ReadOnlyViolation;
        let state = finish(ctx, wp, &outcome, (Some(class), Some(detail.clone())), None, Vec::new()).await?;
        return Ok((Attempt::Failed(class, format!("{agent}: {detail}")), state));
    }
    let judged = match (outcome.failure, outcome.verdict) {
        (Some(class), _) => (Some(class), None),
        (None, None) => (Some(FailureClass::InvalidOutput), Some("the review has no KITTY-VERDICT line".into())),
        (None, Some(_)) => (None, None),
    };
    let state = finish(ctx, wp, &outcome, judged, None, Vec::new()).await?;
    if let Some(class) = outcome.failure {
        return Ok((Attempt::Failed(class, outcome.describe()), state));
    }
    match outcome.verdict {
        Some(verdict) => act_on_verdict(ctx, wp, &agent, &outcome, verdict, &job.head, state).await,
        None => {
            let why = format!("{agent}'s review has no KITTY-VERDICT line");
            Ok((Attempt::Failed(FailureClass::InvalidOutput, why), state))
        }
    }
}

/// When the reviewer changed the branch or the worktree: saves what it did in a backup ref and
/// puts everything back as it was before the review. Returns what to tell a person.
fn undo_changes(ctx: &Ctx, wp: &WorkPackage, agent: &str, outcome: &Outcome, before: &WorkSnapshot) -> Option<String> {
    let after = ctx.worktrees.snapshot(&wp.id).ok()?;
    if after == *before {
        return None;
    }
    let why = format!("undoing changes made by reviewer {agent}");
    let saved = match ctx.worktrees.restore_snapshot(&wp.id, before, &why) {
        Ok(Some(b)) => format!("; what it did is saved in {}", b.reference),
        Ok(None) => String::new(),
        Err(err) => format!("; undoing them failed: {err}"),
    };
    note_in_log(&outcome.log_path, &format!("the review changed the worktree or branch: undone{saved}"));
    Some(format!("the reviewer changed the branch or worktree it was only to read (undone{saved})"))
}

/// Approve (`done`), reject (back to `doing` with the feedback), or block after too many
/// rejections; a provenance note on the reviewed head either way.
async fn act_on_verdict(
    ctx: &Ctx,
    wp: &WorkPackage,
    agent: &str,
    outcome: &Outcome,
    verdict: Verdict,
    head: &str,
    state: WpState,
) -> Result<(Attempt, WpState), crate::Error> {
    let word = if verdict == Verdict::Approve { "approve" } else { "reject" };
    let record = serde_json::json!({
        "wp": wp.id, "feature": ctx.feature.slug, "reviewer": agent, "role": "review", "verdict": word,
        "attempt": outcome.attempt, "run": ctx.owner.run_id, "cost_usd": outcome.result.cost_usd,
    });
    ctx.note(head, record).await?;
    let next = match verdict {
        Verdict::Approve => {
            let approve = Append::new(WpEvent::Approved { reviewer: agent.to_string() }).by(Actor::agent(agent));
            let approved = ctx.record(wp, approve).await?;
            // No rework will continue the implementer's session now.
            crate::engine::attempt_temps::forget_sessions(&ctx.worktrees.path_for(&wp.id));
            approved
        }
        Verdict::Reject if state.review_cycle + 1 >= ctx.config.max_review_cycles => {
            let feedback = outcome.feedback();
            let first = feedback.lines().next().unwrap_or("");
            let reason = format!(
                "rejected by review {} times (max_review_cycles); last feedback: {first}",
                state.review_cycle + 1
            );
            block(ctx, wp, reason, Some(outcome.log_path.display().to_string())).await?
        }
        Verdict::Reject => {
            let feedback = outcome.feedback();
            let event = WpEvent::Rejected { reviewer: agent.to_string(), feedback: feedback.clone() };
            ctx.record(wp, Append::new(event).body(feedback).by(Actor::agent(agent))).await?
        }
    };
    Ok((Attempt::Finished(next.clone()), next))
}
