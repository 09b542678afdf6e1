//! The scheduler of a run: starts every WP whose dependencies are done while slots are free,
//! and is woken by what happens — a WP task ending, the abort file appearing, the time to look
//! at a shared run's remote. It ends when nothing runs and nothing more can start. A WP task
//! that fails or panics ends as that WP blocked (a panic with its message), and the rest of the
//! run goes on.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::{Id, JoinError, JoinSet};

use super::ctx::Ctx;
use super::events::Event;
use super::shared_run::SharedRun;
use super::wp;
use crate::error::EngineError;
use crate::ids::WpId;
use crate::lane::Lane;
use crate::state::WpState;

type WpTasks = JoinSet<Result<WpState, crate::Error>>;

/// Runs the WPs of `ctx`'s feature to the end, keeping `states` current; at most `slots` at once.
pub(super) async fn schedule(
    ctx: &Arc<Ctx>,
    states: &mut BTreeMap<WpId, WpState>,
    slots: usize,
    abort_file: &Path,
) -> Result<(), crate::Error> {
    let mut board = Board::new(ctx.clone());
    let mut tasks = WpTasks::new();
    let mut abort_check = tokio::time::interval(Duration::from_millis(200));
    let sync = ctx.sync.clone();
    let mut sync_check = tokio::time::interval(sync.as_ref().map_or(Duration::from_secs(3600), |s| s.interval()));
    sync_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    sync_check.reset();
    loop {
        if !ctx.cancel.is_cancelled() {
            board.start_ready(&mut tasks, states, slots);
        }
        if tasks.is_empty() && !board.must_wait(states) {
            return Ok(());
        }
        tokio::select! {
            joined = tasks.join_next_with_id(), if !tasks.is_empty() => {
                if let Some(joined) = joined {
                    board.finished(joined, states).await;
                }
            }
            _ = abort_check.tick() => {
                if abort_file.exists() {
                    ctx.cancel.cancel();
                }
            }
            _ = sync_check.tick(), if sync.is_some() => {
                if let Some(sync) = &sync {
                    board.look_at_remote(sync, states).await?;
                }
            }
        }
    }
}

/// What the scheduler keeps between wake-ups.
struct Board {
    ctx: Arc<Ctx>,
    /// The WP each running task works on.
    running: HashMap<Id, WpId>,
    /// WPs whose task failed in this run: not started again.
    skipped: HashSet<WpId>,
    /// Shared runs: WPs this machine could not take now (claimed elsewhere, remote away),
    /// looked at again after the next look at the remote.
    deferred: HashSet<WpId>,
}

impl Board {
    fn new(ctx: Arc<Ctx>) -> Board {
        Board { ctx, running: HashMap::new(), skipped: HashSet::new(), deferred: HashSet::new() }
    }

    fn sync(&self) -> Option<&Arc<SharedRun>> {
        self.ctx.sync.as_ref()
    }

    /// Starts a task for every WP that can start now, while slots are free.
    fn start_ready(&mut self, tasks: &mut WpTasks, states: &BTreeMap<WpId, WpState>, slots: usize) {
        let sync = self.sync();
        // A dependent builds only on what the remote has: a WP done here but not sent yet does
        // not count.
        let done: HashSet<WpId> = states
            .iter()
            .filter(|(id, s)| s.lane == Lane::Done && !sync.is_some_and(|s| s.is_pending(id)))
            .map(|(id, _)| id.clone())
            .collect();
        let feature = self.ctx.feature.clone();
        for id in feature.graph().ready(&done) {
            if self.running.len() >= slots {
                break;
            }
            let Some(state) = states.get(&id) else { continue };
            if self.running.values().any(|r| *r == id)
                || self.skipped.contains(&id)
                || self.deferred.contains(&id)
                || self.sync().is_some_and(|s| s.owned_elsewhere(state))
                || !matches!(state.lane, Lane::Planned | Lane::Doing | Lane::ForReview)
            {
                continue;
            }
            let wp = feature.work_package(&id).expect("ids come from the feature").clone();
            let handle = tasks.spawn(wp::drive(self.ctx.clone(), wp));
            self.running.insert(handle.id(), id);
        }
    }

    /// Nothing runs: whether a shared run still has WPs another machine may hand back.
    fn must_wait(&self, states: &BTreeMap<WpId, WpState>) -> bool {
        !self.ctx.cancel.is_cancelled() && self.sync().is_some_and(|s| s.must_wait(states, &self.deferred))
    }

    /// A WP task ended: its state recorded; a failure blocks that WP (a panic with its message).
    async fn finished(
        &mut self,
        joined: Result<(Id, Result<WpState, crate::Error>), JoinError>,
        states: &mut BTreeMap<WpId, WpState>,
    ) {
        let (task, result) = match joined {
            Ok((task, result)) => (task, result),
            Err(err) => {
                let task = err.id();
                (task, Err(EngineError::Internal(panic_message(err)).into()))
            }
        };
        let Some(id) = self.running.remove(&task) else { return };
        let ctx = self.ctx.clone();
        ctx.forget_wp_token(&id);
        let shared = self.sync().is_some();
        match result {
            Ok(state) => {
                if matches!(state.lane, Lane::Done | Lane::Blocked) {
                    ctx.offer_worktree(&id);
                }
                if shared
                    && state.owner.as_ref().is_none_or(|o| o.run_id != ctx.owner.run_id)
                    && matches!(state.lane, Lane::Planned | Lane::Doing | Lane::ForReview)
                {
                    self.deferred.insert(id.clone());
                }
                states.insert(id, state);
            }
            Err(err) if shared && lost_to_another_machine(&ctx, &id, &err) => {
                tracing::warn!(wp = %id, %err, "another machine holds this WP now; leaving it to them");
                self.deferred.insert(id.clone());
                if let Ok(Some(state)) = ctx.store.wp_state(&ctx.feature.slug, &id) {
                    states.insert(id, state);
                }
            }
            Err(err) => {
                tracing::error!(wp = %id, %err, "work package stopped");
                self.skipped.insert(id.clone());
                let state = match &err {
                    crate::Error::Engine(EngineError::Internal(why)) => wp::block_after_panic(&ctx, &id, why).await,
                    _ => {
                        ctx.emit(Event::WpBlocked {
                            feature: ctx.feature.slug.to_string(),
                            wp: id.to_string(),
                            reason: err.to_string(),
                            log: None,
                        });
                        None
                    }
                };
                if let Some(state) = state.or_else(|| ctx.store.wp_state(&ctx.feature.slug, &id).ok().flatten()) {
                    states.insert(id, state);
                }
            }
        }
    }

    /// A shared run's look at its remote: WPs lost while away are stopped here, an abort
    /// recorded there aborts this run, and the board takes the remote's states of WPs not
    /// running here.
    async fn look_at_remote(
        &mut self,
        sync: &SharedRun,
        states: &mut BTreeMap<WpId, WpState>,
    ) -> Result<(), crate::Error> {
        let ctx = &self.ctx;
        let busy: HashSet<WpId> = self.running.values().cloned().collect();
        let fresh = sync.refresh(&**ctx, &busy).await?;
        for (id, owner) in sync.take_lost() {
            ctx.warn(format!(
                "{id} was taken over by {owner} while this machine could not renew its lease; its attempt here was stopped and its uncommitted work kept under refs/kitty/backup/"
            ));
            ctx.stop_wp(&id);
        }
        if let Some(why) = sync.abort_requested()
            && !ctx.cancel.is_cancelled()
        {
            ctx.warn(format!("aborted: {why}"));
            ctx.cancel.cancel();
        }
        if let Some(fresh) = fresh {
            for (id, state) in fresh {
                if !busy.contains(&id) {
                    states.insert(id, state);
                }
            }
            self.deferred.clear();
        }
        Ok(())
    }
}

/// A shared run's WP task ended because another machine holds the WP now (it claimed it first,
/// or reclaimed it while we were away): not a failure of the WP.
fn lost_to_another_machine(ctx: &Ctx, id: &WpId, err: &crate::Error) -> bool {
    // Refused as a conflict, or as a transition the remote's chain (now adopted) does not allow.
    let conflict = matches!(
        err,
        crate::Error::State(
            crate::state::StateError::Conflict { .. } | crate::state::StateError::IllegalTransition { .. }
        )
    );
    let elsewhere = ctx
        .store
        .wp_state(&ctx.feature.slug, id)
        .ok()
        .flatten()
        .and_then(|s| s.owner)
        .is_some_and(|o| o.run_id != ctx.owner.run_id);
    conflict && elsewhere
}

/// The message of a panicked (or cancelled) task.
fn panic_message(err: tokio::task::JoinError) -> String {
    if err.is_cancelled() {
        return "its task was cancelled".into();
    }
    let payload = err.into_panic();
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into());
    format!("the work package's task panicked: {text}")
}
