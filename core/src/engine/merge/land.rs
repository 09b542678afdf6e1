//! `merge`: the done WPs of a feature land on the target branch, in dependency order — planned
//! and integrated in memory, verified (and fixed by agents) in an integration worktree when
//! `verify_command` is set, then made visible by one compare-and-swap of the target ref, and
//! recorded on the run chain and on each landed WP's chain. Holds the run lock, so no run of the
//! feature moves a WP meanwhile.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use git2::Oid;
use tokio_util::sync::CancellationToken;

use super::options::MergeOptions;
use super::resolve::resolve_conflict;
use super::verify::verify_and_fix;
use crate::engine::blocking::off_thread;
use crate::engine::ctx::Ctx;
use crate::engine::events::{Event, EventSink};
use crate::engine::options::RunOptions;
use crate::engine::orchestrator::{Orchestrator, redactor_for};
use crate::engine::reports::{MergeOutcome, MergeReport, PushError};
use crate::engine::roster::Roster;
use crate::feature::Feature;
use crate::ids::WpId;
use crate::land::{self, Authors, Integration, LandError, Plan, PlanInput};
use crate::merge_strategy::MergeStrategy;
use crate::state::{Append, Owner, RunEvent, StateStore, WpEvent};
use crate::worktree::{IntegrationTree, WorktreeManager};

/// What a landing came to, and what follows it: the `merged` event, the push.
struct Landed {
    report: MergeReport,
    announce: bool,
    push: bool,
}

/// Where and how one merge lands.
pub(super) struct Landing {
    pub(super) feature: Arc<Feature>,
    pub(super) target: String,
    pub(super) base: String,
    pub(super) strategy: MergeStrategy,
    pub(super) names: WorktreeManager,
    pub(super) opts: MergeOptions,
    pub(super) owner: Owner,
}

impl Orchestrator {
    /// Lands the done WPs of `feature` on the target branch (see [`MergeOptions`]). Nothing
    /// visible changes until the integration is complete, clean and verified: a conflict, a
    /// dirty checkout of the target or a target that moved meanwhile is an error, a verification
    /// that still fails after the fix rounds is [`MergeOutcome::VerifyFailed`], and the target is
    /// as it was. A second merge with nothing new is [`MergeOutcome::NothingToMerge`].
    pub async fn merge(
        &self,
        feature: &str,
        opts: MergeOptions,
        events: EventSink,
        cancel: CancellationToken,
    ) -> Result<MergeReport, crate::Error> {
        opts.validate()?;
        let feature = Arc::new(self.feature(feature)?);
        let names = WorktreeManager::new(&self.repo_root, &feature, &self.config)?;
        let base = names.target_branch().to_string();
        let owner = Owner { run_id: crate::state::new_event_id(), pid: std::process::id(), host: self.host_id() };
        // A dry run only reads: it may look while a run goes on.
        let lock = if opts.dry_run { None } else { Some(self.store.lock_run(&feature.slug, &owner)?) };
        if cancel.is_cancelled() {
            let why = format!("the merge of {} was aborted before it began", feature.slug);
            return Err(crate::error::EngineError::Aborted(why).into());
        }
        // A landing a killed merge left half done is finished or undone first (said in a line).
        let settled = if opts.dry_run { Vec::new() } else { land::recover(&self.store.repo()?) };
        // spec-kitty lands its own missions (lanes → mission branch → target, done events),
        // squashed unless told otherwise.
        let mission = names.mission().is_some();
        let default_strategy = if mission { MergeStrategy::Squash } else { self.config.merge_strategy };
        let landing = Arc::new(Landing {
            target: opts.into.clone().unwrap_or_else(|| base.clone()),
            strategy: opts.strategy.unwrap_or(default_strategy),
            feature,
            base,
            names,
            opts,
            owner,
        });
        let mut landed = if mission {
            let report = self.merge_mission(&landing, &cancel).await?;
            let merged = report.outcome == MergeOutcome::Merged;
            Landed { report, announce: merged, push: merged }
        } else {
            self.integrate_and_land(&landing, &events, &cancel).await?
        };
        landed.report.warnings.splice(0..0, settled);
        if landed.announce {
            let report = &landed.report;
            let merged = Event::Merged {
                feature: report.feature.clone(),
                target: report.target.clone(),
                commit: report.commit.clone().unwrap_or_default(),
                strategy: report.strategy,
                wps: report.merged().iter().map(|w| w.to_string()).collect(),
            };
            events(merged.redacted(&redactor_for(&self.config)));
        }
        drop(lock);
        Ok(if landed.push { self.push_after(&landing, landed.report, &cancel).await } else { landed.report })
    }

    /// Plans and integrates the landing in memory, lets agents resolve conflicts and fix a
    /// failing verification in an integration worktree, then moves the target.
    async fn integrate_and_land(
        &self,
        landing: &Arc<Landing>,
        events: &EventSink,
        cancel: &CancellationToken,
    ) -> Result<Landed, crate::Error> {
        let resolving = !landing.opts.dry_run && (landing.opts.resolve || self.config.resolve_conflicts);
        let (this, l) = (self.clone(), landing.clone());
        let (plan, integration, mut report) = off_thread(move || this.integrate(&l, resolving)).await??;
        if landing.opts.dry_run {
            return Ok(Landed { report, announce: false, push: false });
        }
        if report.outcome == MergeOutcome::NothingToMerge {
            if plan.expected.is_none() {
                // A new branch (`--into`) whose base holds every done WP already: it is made
                // there, and the WPs are recorded as landed on it too (landings are per branch).
                let (this, l, p, start) = (self.clone(), landing.clone(), plan.clone(), plan.from);
                report = off_thread(move || this.land(&l, &p, start, report)).await??;
            }
            return Ok(Landed { report, announce: false, push: true });
        }
        let ctx = self.merge_ctx(landing, events.clone(), cancel.clone(), resolving);
        let (plan, tip, mut tree) = self.resolve_all(&ctx, landing, plan, integration, &mut report).await?;
        report.steps = plan.steps.clone();
        let mut tip = tip;
        if let Some(command) = self.config.verify_command.clone() {
            let t = match tree.take() {
                Some(t) => {
                    landing.names.reset_integration(&t, tip)?;
                    t
                }
                None => self.integration_tree(landing, tip).await?,
            };
            let verification = verify_and_fix(&ctx, &t, command).await?;
            tip = landing.names.integration_head(&t)?;
            let passed = verification.passed;
            report.verify = Some(verification);
            if !passed {
                report.outcome = MergeOutcome::VerifyFailed;
                report.integration_worktree = Some(t.path.display().to_string());
                report.report = self.report_for(&landing.feature).ok();
                return Ok(Landed { report, announce: false, push: false });
            }
            tree = Some(t);
        }
        let (this, l, p) = (self.clone(), landing.clone(), plan.clone());
        report = off_thread(move || this.land(&l, &p, tip, report)).await??;
        if let Some(t) = tree {
            let (worktrees, path) = (landing.names.clone(), t.path.display().to_string());
            if !off_thread(move || worktrees.remove_integration(&t, tip)).await?? {
                report.integration_worktree = Some(path);
            }
        }
        Ok(Landed { report, announce: true, push: true })
    }

    /// Has agents resolve each conflict the integration stops at, in order, continuing the
    /// integration after each; returns the plan, the integrated tip and the integration
    /// worktree, when one was made. A refused resolution is saved in a backup ref and ends
    /// the merge.
    async fn resolve_all(
        &self,
        ctx: &Ctx,
        landing: &Arc<Landing>,
        mut plan: Plan,
        mut integration: Integration,
        report: &mut MergeReport,
    ) -> Result<(Plan, Oid, Option<IntegrationTree>), crate::Error> {
        let mut tree: Option<IntegrationTree> = None;
        while let Some(stopped) = integration.stopped.clone() {
            let acc = integration.tip;
            let t = match &tree {
                Some(t) => t.clone(),
                None => self.integration_tree(landing, acc).await?,
            };
            tree = Some(t.clone());
            let resolution = match resolve_conflict(ctx, &t, &plan, &stopped, acc, landing.strategy).await {
                Ok(r) => r,
                Err(err) => {
                    // The conflict can be made again; what the agents did is saved in a backup ref.
                    let worktrees = landing.names.clone();
                    match off_thread(move || worktrees.discard_integration(&t, acc)).await? {
                        Ok(Some(backup)) => tracing::info!(%backup, "saved the refused resolution"),
                        Ok(None) => {}
                        Err(e) => tracing::warn!(%e, "could not remove the integration worktree"),
                    }
                    return Err(err);
                }
            };
            plan.steps[stopped.step].commit = Some(resolution.commit.clone());
            report.resolutions.push(resolution);
            let (this, l) = (self.clone(), landing.clone());
            (plan, integration) = off_thread(move || this.continue_integration(&l, plan)).await??;
        }
        Ok((plan, integration.tip, tree))
    }

    /// Pushes the landed branch when asked (`push`, `auto_push`); a failure is in the report
    /// (the landing stands).
    pub(super) async fn push_after(
        &self,
        landing: &Landing,
        mut report: MergeReport,
        cancel: &CancellationToken,
    ) -> MergeReport {
        report.report = self.report_for(&landing.feature).ok();
        if landing.opts.pr || self.config.auto_pr {
            let opts = crate::engine::PrOptions { remote: None, head: Some(landing.target.clone()), base: None };
            match self.pull_request(landing.feature.slug.as_str(), opts, cancel.clone()).await {
                Ok(pr) => {
                    report.pushed = Some(pr.pushed.clone());
                    report.pull_request = Some(pr);
                }
                Err(err) => report.pr_error = Some(PushError { code: err.code(), message: err.to_string() }),
            }
            return report;
        }
        if !(landing.opts.push || self.config.auto_push) {
            return report;
        }
        let opts = crate::engine::PushOptions { remote: None, branch: Some(landing.target.clone()), branches: false };
        match self.push(landing.feature.slug.as_str(), opts, cancel.clone()).await {
            Ok(pushed) => report.pushed = Some(pushed),
            Err(err) => report.push_error = Some(PushError { code: err.code(), message: err.to_string() }),
        }
        report
    }

    async fn integration_tree(&self, landing: &Landing, at: Oid) -> Result<IntegrationTree, crate::Error> {
        let (worktrees, id) = (landing.names.clone(), landing.owner.run_id.clone());
        Ok(off_thread(move || worktrees.integration_tree(&id, at)).await??)
    }

    /// The context agents of a merge run in (fix rounds, conflict resolution).
    fn merge_ctx(&self, landing: &Landing, events: EventSink, cancel: CancellationToken, resolving: bool) -> Ctx {
        let fixing = self.config.verify_command.is_some() && self.config.max_fix_rounds > 0;
        let roster = if fixing || resolving {
            Roster::implementers(&self.config).unwrap_or_else(|err| {
                tracing::warn!(%err, "no implementation agent for the merge's fix rounds");
                Roster::none()
            })
        } else {
            Roster::none()
        };
        Ctx {
            feature: landing.feature.clone(),
            store: self.store.clone(),
            worktrees: landing.names.clone(),
            roster,
            config: self.config.clone(),
            owner: landing.owner.clone(),
            events,
            cancel,
            repo_root: self.repo_root.clone(),
            opts: RunOptions::default(),
            logs: Mutex::new(BTreeMap::new()),
            redactor: Arc::new(redactor_for(&self.config)),
            mirror: None,
            warnings: Mutex::new(Vec::new()),
            ticks: None,
            activity: Default::default(),
            wp_cancel: Default::default(),
            idle_worktrees: Default::default(),
            recycled: Default::default(),
            host: landing.owner.host.clone(),
            sync: None,
        }
    }

    /// Plans and integrates in memory (a dry run's objects stay in memory too); conflicts are an
    /// error unless this is a dry run.
    fn integrate(
        &self,
        landing: &Landing,
        stop_at_conflict: bool,
    ) -> Result<(Plan, Integration, MergeReport), crate::Error> {
        let slug = &landing.feature.slug;
        let states = self.store.feature_states(slug)?;
        let repo = self.store.repo()?;
        let odb = repo.odb().map_err(LandError::git("opening the object database"))?;
        let _mempack = if landing.opts.dry_run {
            Some(odb.add_new_mempack_backend(1000).map_err(LandError::git("adding an in-memory object store"))?)
        } else {
            None
        };
        let branch_of = |wp: &WpId| landing.names.branch(wp);
        let planned = land::plan(&PlanInput {
            repo: &repo,
            feature: &landing.feature,
            states: &states,
            branch_of: &branch_of,
            target: &landing.target,
            base: &landing.base,
            strategy: landing.strategy,
            partial: landing.opts.partial,
        });
        let mut plan = match planned {
            Err(LandError::MovedSinceApproval { moved, .. }) if landing.opts.reopen_moved && !landing.opts.dry_run => {
                return Err(self.reopen(&landing.feature, &moved).unwrap_or_else(|err| err));
            }
            planned => planned?,
        };
        let integration = self.integrate_plan(landing, &repo, &mut plan, stop_at_conflict)?;
        let (feature, target) = (slug.to_string(), landing.target.clone());
        let mut report =
            MergeReport::of_steps(feature, target, landing.strategy, MergeOutcome::DryRun, plan.steps.clone());
        report.previous = plan.expected.map(|o| o.to_string());
        report.commit = (!integration.commits.is_empty()).then(|| integration.tip.to_string());
        report.conflicts = integration.conflicts.clone();
        if !landing.opts.dry_run {
            if !integration.conflicts.is_empty() {
                let conflicts = integration.conflicts.clone();
                return Err(LandError::Conflict { target: landing.target.clone(), conflicts }.into());
            }
            if integration.commits.is_empty() && integration.stopped.is_none() {
                report.outcome = MergeOutcome::NothingToMerge;
                report.commit = report.previous.clone();
            }
        }
        Ok((plan, integration, report))
    }

    /// Sends each done WP of `moved` back to review at its branch's tip; the error that stops
    /// the merge then lists them (nothing lands until they are approved again).
    fn reopen(&self, feature: &Feature, moved: &[land::MovedSinceApproval]) -> Result<crate::Error, crate::Error> {
        let actor = crate::state::Actor { name: "kitty-orchestrator merge".into(), email: "merge@kitty.local".into() };
        let mut not_done = Vec::new();
        for m in moved {
            let id = WpId::parse(&m.wp).map_err(|why| crate::error::EngineError::Internal(why.to_string()))?;
            let reason = format!(
                "its branch {} moved after review approved {}: {} is reviewed again",
                m.branch, m.approved, m.tip
            );
            let event = WpEvent::Reopened { head: m.tip.clone(), reason: reason.clone() };
            self.store.append(&feature.slug, &id, &Append::new(event).by(actor.clone()).body(reason))?;
            not_done.push(format!("{} (for_review: sent back to review, its branch moved after approval)", m.wp));
        }
        Ok(LandError::NotReady { feature: feature.slug.to_string(), not_done }.into())
    }

    /// Integrates the steps of `plan` not integrated yet (after a resolution), stopping at the
    /// next conflict.
    fn continue_integration(&self, landing: &Landing, mut plan: Plan) -> Result<(Plan, Integration), crate::Error> {
        let repo = self.store.repo()?;
        let integration = self.integrate_plan(landing, &repo, &mut plan, true)?;
        Ok((plan, integration))
    }

    fn integrate_plan(
        &self,
        landing: &Landing,
        repo: &git2::Repository,
        plan: &mut Plan,
        stop_at_conflict: bool,
    ) -> Result<Integration, crate::Error> {
        let states = self.store.feature_states(&landing.feature.slug)?;
        let deps: HashMap<WpId, Vec<WpId>> =
            landing.feature.work_packages.iter().map(|wp| (wp.id.clone(), wp.dependencies.clone())).collect();
        let authors = Authors {
            resolved_by: None,
            committer: StateStore::committer(repo),
            agents: states.iter().map(|(id, s)| (id.clone(), s.agents_used.clone())).collect(),
            run_id: landing.owner.run_id.clone(),
            feature: landing.feature.slug.to_string(),
            template: self.config.commit_template.clone(),
        };
        Ok(land::integrate(repo, plan, landing.strategy, &deps, &authors, stop_at_conflict)?)
    }

    /// Moves the target to `tip` and records the landing.
    fn land(
        &self,
        landing: &Landing,
        plan: &Plan,
        tip: Oid,
        mut report: MergeReport,
    ) -> Result<MergeReport, crate::Error> {
        let repo = self.store.repo()?;
        let message = format!("kitty-orchestrator: merge {} ({})", landing.feature.slug, landing.strategy);
        let moved = land::advance(&repo, &plan.reference, plan.expected, tip, &message)?;
        report.outcome = MergeOutcome::Merged;
        report.commit = Some(tip.to_string());
        report.worktree_updated = moved.first().map(|d| d.display().to_string());
        let mut commits: Vec<(WpId, Oid)> = plan
            .steps
            .iter()
            .filter(|s| s.action == land::StepAction::Merge)
            .filter_map(|s| Some((s.wp.clone(), Oid::from_str(s.commit.as_deref()?).ok()?)))
            .collect();
        if plan.expected.is_none() {
            // A new branch: the WPs its base already held landed on it with it.
            commits.extend(
                plan.steps.iter().filter(|s| s.action == land::StepAction::AlreadyMerged).map(|s| (s.wp.clone(), tip)),
            );
        }
        self.record_landing(landing, &report, &commits)?;
        let landed: Vec<WpId> = plan
            .steps
            .iter()
            .filter(|s| matches!(s.action, land::StepAction::Merge | land::StepAction::AlreadyMerged))
            .map(|s| s.wp.clone())
            .collect();
        report.cleanup = self.clean_up(&landing.names, &landing.feature.slug, &landed, tip);
        self.tick_landed(landing, &landed, &mut report);
        Ok(report)
    }

    /// Ticks the boxes of landed tasks again (a box ticked when done stays ticked; one that was
    /// not — the file was checked out again, the run was elsewhere — is ticked now).
    fn tick_landed(&self, landing: &Landing, landed: &[WpId], report: &mut MergeReport) {
        if !self.config.tick_tasks {
            return;
        }
        let Some(ticks) = crate::ticks::Ticks::for_feature(&landing.feature) else { return };
        for wp in landed {
            match ticks.tick(wp.as_str(), crate::lane::Lane::Done) {
                Ok(true) => report.ticked.push(wp.clone()),
                Ok(false) => {}
                Err(err) => {
                    tracing::warn!(%wp, %err, "a task box was not ticked");
                    report.warnings.push(err.to_string());
                }
            }
        }
    }

    /// The landing on each landed WP's chain and on the run chain.
    fn record_landing(
        &self,
        landing: &Landing,
        report: &MergeReport,
        commits: &[(WpId, Oid)],
    ) -> Result<(), crate::Error> {
        let slug = &landing.feature.slug;
        for (wp, commit) in commits {
            let head = report.steps.iter().find(|s| &s.wp == wp).and_then(|s| s.head.clone()).unwrap_or_default();
            let event = WpEvent::Merged {
                into: landing.target.clone(),
                commit: commit.to_string(),
                strategy: landing.strategy,
                head,
            };
            let body = format!("Landed on {} by merge {}.", landing.target, landing.owner.run_id);
            self.store.append(slug, wp, &Append::new(event).run(&landing.owner.run_id).body(body))?;
        }
        let wps: Vec<String> = commits.iter().map(|(wp, _)| wp.to_string()).collect();
        let event = RunEvent::Merged {
            into: landing.target.clone(),
            commit: report.commit.clone().unwrap_or_default(),
            previous: report.previous.clone(),
            strategy: landing.strategy,
            wps: wps.clone(),
            fix_rounds: report.verify.as_ref().map_or(0, |v| v.fix_rounds),
        };
        let body = format!("{} landed on {}: {}.", slug, landing.target, wps.join(", "));
        self.store.append_run(slug, &event, &body)?;
        if let Some(mirror) = self.mirror_for(&landing.feature, &landing.names) {
            // spec-kitty's `done` means merged: each landed WP gets its approved → done.
            let landed: Vec<WpId> = commits.iter().map(|(wp, _)| wp.clone()).collect();
            if let Err(err) = mirror.sync_all(&self.store, slug, &landed) {
                tracing::warn!(%err, "spec-kitty's status log was not updated after landing");
            }
        }
        Ok(())
    }
}
