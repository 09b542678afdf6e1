//! One WP through its lifecycle: claim → worktree → implementation (retries, fallback) →
//! for_review → review → done, or back to doing on rejection, or blocked. This file holds the
//! lifecycle itself (claim, release, block, the worktree); `attempts` runs agents with retries
//! and fallback, `implement` and `review` are the two lanes' work.

mod attempts;
mod implement;
mod review;

use std::sync::Arc;

use super::commands::{self, Setup};
use super::ctx::Ctx;
use super::events::Event;
use crate::error::EngineError;
use crate::feature::WorkPackage;
use crate::ids::WpId;
use crate::lane::Lane;
use crate::state::{Append, Liveness, StateError, WpEvent, WpState, liveness_on};
use crate::worktree::Prepared;

/// Drives `wp` as far as it can go in this run; returns its final state.
pub async fn drive(ctx: Arc<Ctx>, wp: WorkPackage) -> Result<WpState, crate::Error> {
    // Until this task ends, moves of this WP's branch are ours (see `ref_guard`).
    let _on_branch = ctx.activity.enter(ctx.worktrees.branch(&wp.id));
    let mut state = ctx.state_of(&wp)?;
    // An agent was running when its orchestrator died: what it left in the worktree is not work.
    let mut interrupted = state.pid.is_some() || matches!(state.last_event, WpEvent::AgentStarted { .. });
    state = claim(&ctx, &wp, state).await?;
    if state.owner.as_ref().is_none_or(|o| o.run_id != ctx.owner.run_id) {
        // A shared run: another machine holds it, or the remote could not be reached to claim it.
        return Ok(state);
    }
    #[cfg(debug_assertions)]
    injected_panic(&wp);
    loop {
        if ctx.wp_token(&wp.id).is_cancelled() {
            return release(&ctx, &wp, state).await;
        }
        state = match state.lane {
            Lane::Doing => implement::implement(&ctx, &wp, state, std::mem::take(&mut interrupted)).await?,
            Lane::ForReview => review::review(&ctx, &wp, state).await?,
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
pub async fn block_after_panic(ctx: &Ctx, id: &WpId, why: &str) -> Option<WpState> {
    let wp = ctx.feature.work_package(id)?;
    ctx.worktrees.clear_stale_locks(id);
    match block(ctx, wp, format!("internal error: {why}"), None).await {
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
            // a dead run. On another machine we cannot tell — unless we share the feature with it
            // and have seen its heartbeat stop for a whole lease.
            if liveness_on(owner, &ctx.host) == Liveness::Unknown {
                if let Some(sync) = &ctx.sync {
                    let Some(silent) = sync.lapsed(owner) else { return Ok(state) };
                    let event = WpEvent::Reclaimed { owner: ctx.owner.clone(), previous: owner.clone() };
                    let body = format!(
                        "No heartbeat from {} for {} s (seen from {}): its lease lapsed.",
                        owner.host,
                        silent.as_secs(),
                        ctx.host
                    );
                    return shared_claim(ctx, wp, state, Append::new(event).body(body)).await;
                }
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
            ctx.record(wp, Append::new(event).body(format!("The previous owner, {owner}, is no longer running."))).await
        }
        None if ctx.sync.is_some() => {
            shared_claim(ctx, wp, state, Append::new(WpEvent::Claimed { owner: ctx.owner.clone() })).await
        }
        None => ctx.record(wp, Append::new(WpEvent::Claimed { owner: ctx.owner.clone() })).await,
    }
}

/// A claim through the shared remote: lost to another machine (or not made, the remote being
/// away) is not an error — the WP's state as this machine now knows it is returned.
async fn shared_claim(ctx: &Ctx, wp: &WorkPackage, state: WpState, claim: Append) -> Result<WpState, crate::Error> {
    match ctx.record(wp, claim).await {
        Ok(state) => Ok(state),
        Err(err @ (crate::Error::State(StateError::Conflict { .. }) | crate::Error::Remote(_))) => {
            tracing::info!(wp = %wp.id, %err, "not claimed");
            Ok(ctx.store.wp_state(&ctx.feature.slug, &wp.id)?.unwrap_or(state))
        }
        Err(err) => Err(err),
    }
}

async fn release(ctx: &Ctx, wp: &WorkPackage, state: WpState) -> Result<WpState, crate::Error> {
    release_because(ctx, wp, state, "interrupted: the run was aborted".into()).await
}

async fn release_because(ctx: &Ctx, wp: &WorkPackage, state: WpState, reason: String) -> Result<WpState, crate::Error> {
    if state.owner.is_none() || state.lane.is_terminal() || state.lane == Lane::Blocked {
        return Ok(state);
    }
    ctx.record(wp, Append::new(WpEvent::Released { reason })).await
}

async fn block(ctx: &Ctx, wp: &WorkPackage, reason: String, log: Option<String>) -> Result<WpState, crate::Error> {
    let body = match &log {
        Some(log) => format!("{reason}\n\nLast log: {log}"),
        None => reason.clone(),
    };
    let state = ctx.record(wp, Append::new(WpEvent::Blocked { reason: reason.clone() }).body(body)).await?;
    ctx.emit(Event::WpBlocked { feature: ctx.feature.slug.to_string(), wp: wp.id.to_string(), reason, log });
    Ok(state)
}

/// The WP's worktree, made (or reused) and set up: `Err(state)` when the WP stopped instead
/// (blocked on a worktree or setup failure, released on abort).
async fn ready_worktree(
    ctx: &Ctx,
    wp: &WorkPackage,
    state: WpState,
    what: &str,
) -> Result<Result<(Prepared, WpState), WpState>, crate::Error> {
    if let Some(sync) = &ctx.sync
        && !ctx.worktrees.path_for(&wp.id).exists()
        && let Err(err) = sync.sync_bases(ctx, wp).await
    {
        // A base is made only from what the remote has: the WP waits for the remote instead.
        tracing::warn!(wp = %wp.id, %err, "the dependencies' branches could not be fetched; the WP waits");
        let reason = format!("waiting for remote {}: {err}", sync.remote());
        return Ok(Err(release_because(ctx, wp, state, reason).await?));
    }
    let manager = ctx.worktrees.clone();
    let wp_owned = wp.clone();
    // A finished WP's worktree, when there is one to recycle and this WP has none yet.
    let donors: Vec<_> = if manager.path_for(&wp.id).exists() {
        Vec::new()
    } else {
        std::iter::from_fn(|| ctx.take_idle_worktree()).take(1).collect()
    };
    let prepared = tokio::task::spawn_blocking(move || {
        for donor in &donors {
            match manager.recycle(donor, &wp_owned) {
                Ok(Some(prepared)) => return Ok(prepared),
                Ok(None) => {}
                Err(err) => {
                    tracing::warn!(%donor, wp = %wp_owned.id, %err, "could not recycle a worktree; making a fresh one")
                }
            }
        }
        manager.ensure(&wp_owned)
    })
    .await
    .map_err(|e| EngineError::Internal(format!("preparing the worktree of {}: {e}", wp.id)))?;
    let prepared = match prepared {
        Ok(p) => p,
        Err(err) => return Ok(Err(block(ctx, wp, format!("cannot prepare the worktree{what}: {err}"), None).await?)),
    };
    if let Some(donor) = &prepared.recycled_from {
        ctx.note_recycled(donor, &wp.id);
    }
    if prepared.setup_pending {
        match commands::setup(ctx, wp, &prepared.path).await {
            Setup::Ready => {}
            Setup::Failed(why) => {
                let log = ctx.worktrees.setup_log_path(&wp.id).display().to_string();
                return Ok(Err(block(ctx, wp, why, Some(log)).await?));
            }
            Setup::Cancelled => return Ok(Err(release(ctx, wp, state).await?)),
        }
    }
    let path = prepared.path.display().to_string();
    let mut state = state;
    if state.worktree.as_deref() != Some(path.as_str()) || state.base.is_none() {
        let base =
            state.base.clone().filter(|_| !prepared.created || prepared.reused_branch).unwrap_or(prepared.base.clone());
        state =
            ctx.record(wp, Append::new(WpEvent::WorktreeReady { path, branch: prepared.branch.clone(), base })).await?;
    }
    Ok(Ok((prepared, state)))
}
