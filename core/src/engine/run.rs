//! A run: lock, import, claim, schedule every WP the moment it can start, record the end. The
//! scheduler is event-driven — a WP task's completion wakes it — and a WP task that fails or
//! panics ends as that WP blocked while the rest of the run goes on.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use super::blocking::off_thread;
use super::commands;
use super::ctx::Ctx;
use super::events::{Event, EventSink};
use super::options::RunOptions;
use super::orchestrator::{LIVE_RUNS, Orchestrator, redactor_for};
use super::reports::{RunOutcome, RunSummary};
use super::roster::Roster;
use super::shared_run::SharedRun;
use crate::ids::WpId;
use crate::lane::Lane;
use crate::redact::Redactor;
use crate::state::{Owner, RunEvent, WpState};
use crate::sync::SharedState;
use crate::worktree::WorktreeManager;

impl Orchestrator {
    /// Runs (or resumes) `feature` until nothing more can start. Blocks only the calling task;
    /// cancel `cancel` (or call [`Orchestrator::abort`]) to abort. With `auto_merge`, a run that
    /// completes ends with `merge` (and its push and pull request when configured); the summary
    /// holds the merge's report.
    pub async fn run(
        &self,
        feature: &str,
        opts: RunOptions,
        events: EventSink,
        cancel: CancellationToken,
    ) -> Result<RunSummary, crate::Error> {
        let (mut summary, run_id) = self.run_locked(feature, opts, events.clone(), cancel.clone()).await?;
        if self.config.auto_merge && summary.outcome == RunOutcome::Completed && !cancel.is_cancelled() {
            match self.merge(feature, super::MergeOptions::default(), events.clone(), cancel).await {
                Ok(report) => {
                    if report.outcome == super::MergeOutcome::VerifyFailed {
                        summary.outcome = RunOutcome::Blocked;
                    }
                    summary.merge = Some(Box::new(report));
                }
                Err(err) => {
                    summary.outcome = RunOutcome::Blocked;
                    summary.merge_error = Some(super::PushError { code: err.code(), message: err.to_string() });
                }
            }
        }
        events(Event::RunFinished { feature: summary.feature.clone(), run_id, summary: summary.clone() });
        Ok(summary)
    }

    /// The run itself, under the run lock (released before an automatic merge takes it).
    async fn run_locked(
        &self,
        feature: &str,
        opts: RunOptions,
        events: EventSink,
        cancel: CancellationToken,
    ) -> Result<(RunSummary, String), crate::Error> {
        opts.validate()?;
        let started = Instant::now();
        let feature = Arc::new(self.feature(feature)?);
        let roster = Roster::new(&self.config, opts.impl_agents.as_deref(), opts.review_agents.as_deref())?;
        super::confine::preflight(&self.config, &roster)?;
        let host = self.host_id();
        let owner = Owner { run_id: crate::state::new_event_id(), pid: std::process::id(), host: host.clone() };
        let _lock = self.store.lock_run(&feature.slug, &owner)?;
        let abort_file = self.abort_file(&feature.slug);
        let _ = std::fs::remove_file(&abort_file);
        let worktrees = WorktreeManager::new(&self.repo_root, &feature, &self.config)?;
        // We hold the lock: attempts' temporary directories still there belong to a dead run.
        let paths: Vec<_> = feature.work_packages.iter().map(|wp| worktrees.path_for(&wp.id)).collect();
        off_thread(move || super::attempt_temps::remove_dead_temps(paths.iter().map(|p| p.as_path()))).await?;
        let redactor = Arc::new(redactor_for(&self.config));
        let sync = self.shared_run(&feature, &worktrees, &opts, &host, &redactor)?;
        if let Some(sync) = &sync {
            // We hold this machine's lock: agents of this feature still running here belong to a
            // dead run — also those of WPs another machine has since reclaimed.
            let (me, slug) = (self.clone(), feature.slug.clone());
            off_thread(move || me.end_orphans(&slug)).await?;
            sync.bootstrap(&self.store, &feature, &owner.run_id).await?;
        }
        let mut states = self.begin(&feature, &owner, &events, &redactor).await?;
        let mirror = self.mirror_for(&feature, &worktrees);
        let mut warnings = Vec::new();
        if let Some(mirror) = mirror.clone() {
            // Whatever a crash kept out of spec-kitty's log goes in now, before anything moves.
            let (store, f) = (self.store.clone(), feature.clone());
            let ids: Vec<WpId> = f.work_packages.iter().map(|wp| wp.id.clone()).collect();
            match off_thread(move || mirror.sync_all(&store, &f.slug, &ids)).await? {
                Ok(report) if report.appended > 0 => {
                    tracing::info!(lines = report.appended, "caught spec-kitty's status log up with our state")
                }
                Ok(_) => {}
                Err(err) => {
                    tracing::warn!(%err, "spec-kitty's files were not updated");
                    warnings.push(redactor.apply(&format!("spec-kitty's files were not updated: {err}")));
                }
            }
        }
        let ctx = Arc::new(Ctx {
            feature: feature.clone(),
            store: self.store.clone(),
            worktrees,
            roster,
            config: self.config.clone(),
            owner: owner.clone(),
            events: events.clone(),
            cancel: cancel.clone(),
            repo_root: self.repo_root.clone(),
            opts: opts.clone(),
            logs: Mutex::new(BTreeMap::new()),
            redactor,
            mirror,
            warnings: Mutex::new(warnings),
            ticks: self.config.tick_tasks.then(|| crate::ticks::Ticks::for_feature(&feature)).flatten(),
            activity: Default::default(),
            wp_cancel: Default::default(),
            idle_worktrees: Default::default(),
            recycled: Default::default(),
            host,
            sync: sync.clone(),
        });
        // Boxes of WPs done before (a crash between done and tick) are ticked now.
        for (id, state) in &states {
            if let Some(wp) = ctx.feature.work_package(id) {
                ctx.tick(wp, state.lane);
            }
        }
        let live = (self.store.common_dir().to_path_buf(), feature.slug.to_string());
        LIVE_RUNS.lock().unwrap_or_else(|e| e.into_inner()).push((live.0.clone(), live.1.clone(), cancel.clone()));
        let slots = opts.max_concurrent.unwrap_or(self.config.max_concurrent_wps);
        let beating = CancellationToken::new();
        let heartbeats = sync
            .clone()
            .map(|s| tokio::spawn(s.heartbeats(ctx.clone() as Arc<dyn super::shared_run::RunView>, beating.clone())));
        let result = super::schedule::schedule(&ctx, &mut states, slots, &abort_file).await;
        if let Some(sync) = &sync {
            sync.send_last_notes(&*ctx).await;
        }
        beating.cancel();
        if let Some(heartbeats) = heartbeats {
            let _ = heartbeats.await;
        }
        if let Some(sync) = &sync {
            sync.finished();
        }
        LIVE_RUNS.lock().unwrap_or_else(|e| e.into_inner()).retain(|(d, f, _)| !(*d == live.0 && *f == live.1));
        result?;
        let summary = self.end(&ctx, started).await?;
        let _ = std::fs::remove_file(&abort_file);
        Ok((summary, owner.run_id.clone()))
    }

    /// The shared side of the run when it has a remote (`--remote`, `sync_remote`).
    fn shared_run(
        &self,
        feature: &crate::feature::Feature,
        worktrees: &WorktreeManager,
        opts: &RunOptions,
        host: &str,
        redactor: &Arc<Redactor>,
    ) -> Result<Option<Arc<SharedRun>>, crate::Error> {
        let Some(remote) = opts.remote.clone().or_else(|| self.config.sync_remote.clone()) else { return Ok(None) };
        let refuse = |key: &str, message: String| crate::config::ConfigError {
            path: "<run options>".into(),
            key: Some(key.to_string()),
            line: None,
            message,
        };
        if let Err(why) = crate::ids::check_ref_component(host) {
            return Err(refuse(
                "host_id",
                format!("this machine's id `{host}` is not usable in a ref: {why}; set KITTY_HOST_ID or host_id"),
            )
            .into());
        }
        if worktrees.mission().is_some() {
            return Err(refuse(
                "remote",
                format!(
                    "{} is a spec-kitty mission (its lanes share worktrees): it cannot be shared across machines yet",
                    feature.slug
                ),
            )
            .into());
        }
        let shared = SharedState::new(self.store.clone(), &self.repo_root, &remote, redactor.clone());
        // Not the run's token: an aborted run still sends its releases (each command is bounded by
        // its timeout instead).
        let network = CancellationToken::new();
        Ok(Some(Arc::new(SharedRun::new(&self.config, shared, host, &feature.slug, network))))
    }

    /// Imports the feature (chains for WPs that have none), records the run's start, says which
    /// WPs cannot be read (they are left alone; the others go on) and returns the readable states.
    async fn begin(
        &self,
        feature: &Arc<crate::feature::Feature>,
        owner: &Owner,
        events: &EventSink,
        redactor: &Redactor,
    ) -> Result<BTreeMap<WpId, WpState>, crate::Error> {
        let (store, f, o) = (self.store.clone(), feature.clone(), owner.clone());
        off_thread(move || -> Result<(), crate::Error> {
            store.import_feature(&f, Some(&o.run_id))?;
            let started = RunEvent::Started { owner: o.clone() };
            store.append_run(&f.slug, &started, &format!("pid {} on {}", o.pid, o.host))?;
            Ok(())
        })
        .await??;
        let board = self.store.board(&feature.slug)?;
        for corrupt in &board.corrupt {
            let (reference, why) = (&corrupt.reference, &corrupt.why);
            tracing::error!(reference = %reference, %why, "skipping a WP whose state cannot be read");
            let blocked = Event::WpBlocked {
                feature: feature.slug.to_string(),
                wp: reference.rsplit('/').next().unwrap_or_default().to_string(),
                reason: format!("its state cannot be read ({reference}: {why})"),
                log: None,
            };
            events(blocked.redacted(redactor));
        }
        events(Event::RunStarted {
            feature: feature.slug.to_string(),
            run_id: owner.run_id.clone(),
            wps: feature.work_packages.len(),
            done: board.states.values().filter(|s| s.lane == Lane::Done).count(),
        });
        Ok(board.states)
    }

    /// The summary (with the final verification when every WP is done), recorded on the run
    /// chain; refs packed.
    async fn end(&self, ctx: &Ctx, started: Instant) -> Result<RunSummary, crate::Error> {
        let feature = &ctx.feature;
        let board = self.store.board(&feature.slug)?;
        let logs = ctx.logs.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let aborted = ctx.cancel.is_cancelled();
        let elapsed = started.elapsed().as_millis() as u64;
        let mut summary = RunSummary::from_board(feature, &ctx.owner.run_id, &board, &logs, aborted, elapsed);
        summary.warnings = ctx.warnings.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let recycled = ctx.recycled.lock().unwrap_or_else(|e| e.into_inner()).clone();
        for wp in &mut summary.wps {
            wp.worktree_recycled_to =
                recycled.iter().find(|(from, _)| from.as_str() == wp.facts.id).map(|(_, to)| to.to_string());
        }
        // With auto_merge, the merge verifies (and fixes) before anything lands.
        if summary.outcome == RunOutcome::Completed
            && !self.config.auto_merge
            && let Some(command) = self.config.verify_command.clone()
        {
            let result = commands::verify(ctx, command).await;
            if !result.success {
                summary.outcome = RunOutcome::Blocked;
            }
            summary.verify = Some(result);
        }
        let event = if aborted {
            RunEvent::Aborted { reason: "abort requested".into() }
        } else {
            RunEvent::Finished { summary: serde_json::to_value(&summary).expect("summary serializes") }
        };
        let body = format!(
            "{:?}: {} done, {} blocked, {} remaining",
            summary.outcome, summary.done, summary.blocked, summary.remaining
        );
        let (store, slug) = (self.store.clone(), feature.slug.clone());
        off_thread(move || -> Result<(), crate::Error> {
            store.append_run(&slug, &event, &body)?;
            if let Err(err) = store.pack_objects(&slug) {
                tracing::warn!(%err, "could not pack the state objects at the end of the run");
            }
            if let Err(err) = store.pack_refs() {
                tracing::warn!(%err, "could not pack refs at the end of the run");
            }
            Ok(())
        })
        .await??;
        Ok(summary)
    }
}
