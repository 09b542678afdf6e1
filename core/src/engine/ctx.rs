//! What the WP tasks of one run share, and the two things they all do: record an event as this
//! run, and report it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

use super::blocking::off_thread;
use super::events::{Event, EventSink};
use super::options::RunOptions;
use super::roster::Roster;
use crate::config::Config;
use crate::feature::{Feature, WorkPackage};
use crate::redact::Redactor;
use crate::state::{Append, Owner, StateStore, WpState};
use crate::worktree::WorktreeManager;

/// Shared by the WP tasks of one run.
pub(crate) struct Ctx {
    pub(super) feature: Arc<Feature>,
    pub(super) store: StateStore,
    pub(super) worktrees: WorktreeManager,
    pub(super) roster: Roster,
    pub(super) config: Config,
    pub(super) owner: Owner,
    pub(super) events: EventSink,
    pub(super) cancel: CancellationToken,
    pub(super) repo_root: PathBuf,
    pub(super) opts: RunOptions,
    pub(super) logs: Mutex<BTreeMap<String, Vec<String>>>,
    pub(super) redactor: Arc<Redactor>,
    /// spec-kitty's files our lane changes are mirrored into, if any (`mirror`).
    pub(super) mirror: Option<crate::spec_kitty::FeatureMirror>,
    /// Problems the run went on after (each once), for the summary.
    pub(super) warnings: Mutex<Vec<String>>,
    /// Task boxes to tick as WPs finish (`tick_tasks`, Kiro specs and task lists).
    pub(super) ticks: Option<crate::ticks::Ticks>,
    /// Which branches WP tasks are working on (for the after-attempt ref check).
    pub(super) activity: super::activity::Activity,
    /// This machine's name in owners (`host_id`).
    pub(super) host: String,
    /// The remote this run shares the feature through, if any (`run --remote`, `sync_remote`).
    pub(super) sync: Option<Arc<super::shared_run::SharedRun>>,
    /// Per WP, a child of `cancel`: stops that WP alone (a shared run's WP another machine
    /// took over).
    pub(super) wp_cancel: Mutex<BTreeMap<crate::ids::WpId, CancellationToken>>,
    /// Worktrees of WPs that finished in this run, free for the next WP (`recycle_worktrees`).
    pub(super) idle_worktrees: Mutex<Vec<crate::ids::WpId>>,
    /// Whose worktree each recycled one became (finished WP → the WP now in it).
    pub(super) recycled: Mutex<BTreeMap<crate::ids::WpId, crate::ids::WpId>>,
}

impl Ctx {
    /// `wp` finished with a worktree: the next WP that needs one may take it.
    pub(super) fn offer_worktree(&self, wp: &crate::ids::WpId) {
        if self.config.recycle_worktrees && self.worktrees.mission().is_none() && self.worktrees.path_for(wp).exists() {
            self.idle_worktrees.lock().unwrap_or_else(|e| e.into_inner()).push(wp.clone());
        }
    }

    /// A finished WP's worktree to recycle, most recent first (its files are likeliest to be
    /// close to the next WP's base).
    pub(super) fn take_idle_worktree(&self) -> Option<crate::ids::WpId> {
        self.idle_worktrees.lock().unwrap_or_else(|e| e.into_inner()).pop()
    }

    /// `from`'s worktree is `to`'s now.
    pub(super) fn note_recycled(&self, from: &crate::ids::WpId, to: &crate::ids::WpId) {
        self.recycled.lock().unwrap_or_else(|e| e.into_inner()).insert(from.clone(), to.clone());
    }

    /// What stops `wp`'s work: the run's abort, or that WP's own stop ([`Ctx::stop_wp`]).
    pub(super) fn wp_token(&self, wp: &crate::ids::WpId) -> CancellationToken {
        let mut tokens = self.wp_cancel.lock().unwrap_or_else(|e| e.into_inner());
        tokens.entry(wp.clone()).or_insert_with(|| self.cancel.child_token()).clone()
    }

    /// The WP's task ended: a later task of it starts with a fresh stop token.
    pub(super) fn forget_wp_token(&self, wp: &crate::ids::WpId) {
        self.wp_cancel.lock().unwrap_or_else(|e| e.into_inner()).remove(wp);
    }

    /// Stops `wp`'s agent (its attempt ends as cancelled: leftovers kept in a backup ref).
    pub(super) fn stop_wp(&self, wp: &crate::ids::WpId) {
        self.wp_token(wp).cancel();
    }

    pub(super) fn state_of(&self, wp: &WorkPackage) -> Result<WpState, crate::Error> {
        self.store.wp_state(&self.feature.slug, &wp.id)?.ok_or_else(|| {
            crate::state::StateError::Missing { reference: crate::state::wp_ref(&self.feature.slug, &wp.id) }.into()
        })
    }

    /// Appends an event (as this run) and reports a lane change. The write runs on the blocking
    /// pool: a compare-and-swap that loses a race backs off with a sleep, which must not hold up
    /// the runtime's worker threads.
    pub(super) async fn record(&self, wp: &WorkPackage, append: Append) -> Result<WpState, crate::Error> {
        let append = append.run(&self.owner.run_id);
        let (from, after) = match &self.sync {
            Some(sync) => {
                let from = self.store.wp_state(&self.feature.slug, &wp.id)?.map(|s| s.lane);
                let after = sync.record(self, wp, append).await?;
                (from.unwrap_or(after.lane), after)
            }
            None => {
                let (store, slug, id) = (self.store.clone(), self.feature.slug.clone(), wp.id.clone());
                off_thread(move || store.append_tracked(&slug, &id, &append)).await??
            }
        };
        self.mirror_wp(wp).await;
        if from != after.lane {
            self.tick(wp, after.lane);
        }
        if from != after.lane {
            self.emit(Event::LaneChanged {
                feature: self.feature.slug.to_string(),
                wp: wp.id.to_string(),
                from_lane: from,
                to_lane: after.lane,
                agent: after.agent.clone(),
            });
        }
        Ok(after)
    }

    /// Brings spec-kitty's status log up to date with the WP's history. A log we cannot write
    /// never stops the run: our refs stay the record, and the next sync catches up.
    async fn mirror_wp(&self, wp: &WorkPackage) {
        let Some(mirror) = self.mirror.clone() else { return };
        let (store, slug, id) = (self.store.clone(), self.feature.slug.clone(), wp.id.clone());
        let why = match off_thread(move || mirror.sync_wp(&store, &slug, &id)).await {
            Ok(Ok(_)) => return,
            Ok(Err(err)) => err.to_string(),
            Err(err) => err.to_string(),
        };
        tracing::warn!(wp = %wp.id, %why, "spec-kitty's files were not updated");
        self.warn(format!("spec-kitty's files were not updated for {}: {why}", wp.id));
    }

    /// Ticks the WP's box in its task file once it is done; a line changed since is a warning.
    pub(super) fn tick(&self, wp: &WorkPackage, lane: crate::lane::Lane) {
        let Some(ticks) = &self.ticks else { return };
        if let Err(err) = ticks.tick(wp.id.as_str(), lane) {
            tracing::warn!(wp = %wp.id, %err, "a task box was not ticked");
            self.warn(err.to_string());
        }
    }

    /// Records a problem the run goes on after (once per distinct message), for the summary.
    pub(super) fn warn(&self, message: String) {
        let message = self.redactor.apply(&message);
        let mut warnings = self.warnings.lock().unwrap_or_else(|e| e.into_inner());
        if !warnings.contains(&message) {
            warnings.push(message);
        }
    }

    /// Adds a provenance record to a code commit's note (a CAS loop too: off the async threads).
    pub(super) async fn note(&self, commit: &str, record: serde_json::Value) -> Result<(), crate::Error> {
        let (store, commit) = (self.store.clone(), commit.to_string());
        Ok(off_thread(move || store.add_note(&commit, &record)).await??)
    }

    pub(super) fn emit(&self, event: Event) {
        (self.events)(event.redacted(&self.redactor));
    }

    pub(super) fn add_log(&self, wp: &WorkPackage, log: &str) {
        self.logs.lock().unwrap_or_else(|e| e.into_inner()).entry(wp.id.to_string()).or_default().push(log.to_string());
    }
}

impl super::shared_run::RunView for Ctx {
    fn store(&self) -> &StateStore {
        &self.store
    }
    fn worktrees(&self) -> &WorktreeManager {
        &self.worktrees
    }
    fn work_packages(&self) -> &[WorkPackage] {
        &self.feature.work_packages
    }
    fn run_id(&self) -> &str {
        &self.owner.run_id
    }
    fn activity(&self) -> &super::activity::Activity {
        &self.activity
    }
    fn warn(&self, message: String) {
        Ctx::warn(self, message)
    }
}
