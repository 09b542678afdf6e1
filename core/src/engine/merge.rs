//! `merge`: the done WPs of a feature land on the target branch, in dependency order — planned,
//! integrated in memory, then made visible by one compare-and-swap of the target ref, and
//! recorded on the run chain and on each landed WP's chain. Holds the run lock, so no run of the
//! feature moves a WP meanwhile.

use std::collections::HashMap;

use tokio_util::sync::CancellationToken;

use super::ctx::off_thread;
use super::events::{Event, EventSink};
use super::merge_options::MergeOptions;
use super::orchestrator::Orchestrator;
use crate::feature::Feature;
use crate::ids::WpId;
use crate::land::{self, Authors, LandError, MergeOutcome, MergeReport, PlanInput};
use crate::merge_strategy::MergeStrategy;
use crate::state::{Append, Owner, RunEvent, WpEvent, this_host};
use crate::worktree::WorktreeManager;

/// Where and how one merge lands.
struct Landing {
    feature: Feature,
    target: String,
    base: String,
    strategy: MergeStrategy,
    names: WorktreeManager,
    opts: MergeOptions,
    owner: Owner,
}

impl Orchestrator {
    /// Lands the done WPs of `feature` on the target branch (see [`MergeOptions`]). Nothing
    /// visible changes until the integration is complete and clean: a conflict, a dirty checkout
    /// of the target or a target that moved meanwhile is an error, and the repository is as it
    /// was. A second merge with nothing new is [`MergeOutcome::NothingToMerge`].
    pub async fn merge(
        &self,
        feature: &str,
        opts: MergeOptions,
        events: EventSink,
        cancel: CancellationToken,
    ) -> Result<MergeReport, crate::Error> {
        opts.validate()?;
        let feature = self.feature(feature)?;
        let names = WorktreeManager::new(&self.repo_root, &feature, &self.config)?;
        let base = names.target_branch().to_string();
        let owner = Owner { run_id: crate::state::new_event_id(), pid: std::process::id(), host: this_host() };
        // A dry run only reads: it may look while a run goes on.
        let _lock = if opts.dry_run { None } else { Some(self.store.lock_run(&feature.slug, &owner)?) };
        if cancel.is_cancelled() {
            return Err(super::EngineError::Aborted(format!(
                "the merge of {} was aborted before it began",
                feature.slug
            ))
            .into());
        }
        let landing = Landing {
            target: opts.into.clone().unwrap_or_else(|| base.clone()),
            strategy: opts.strategy.unwrap_or(self.config.merge_strategy),
            feature,
            base,
            names,
            opts,
            owner,
        };
        let this = self.clone();
        let report = off_thread(move || this.land(&landing)).await??;
        if report.outcome == MergeOutcome::Merged {
            let redactor = super::orchestrator::redactor_for(&self.config);
            events(
                Event::Merged {
                    feature: report.feature.clone(),
                    target: report.target.clone(),
                    commit: report.commit.clone().unwrap_or_default(),
                    strategy: report.strategy,
                    wps: report.merged().iter().map(|w| w.to_string()).collect(),
                }
                .redacted(&redactor),
            );
        }
        Ok(report)
    }

    /// The landing itself: git work, on a blocking thread.
    fn land(&self, landing: &Landing) -> Result<MergeReport, crate::Error> {
        let slug = &landing.feature.slug;
        let states = self.store.feature_states(slug)?;
        let repo = self.store.repo()?;
        // A dry run writes its objects to memory only: afterwards the object database is as it was.
        let odb = repo.odb().map_err(LandError::git("opening the object database"))?;
        let _mempack = if landing.opts.dry_run {
            Some(odb.add_new_mempack_backend(1000).map_err(LandError::git("adding an in-memory object store"))?)
        } else {
            None
        };
        let branch_of = |wp: &WpId| landing.names.name(wp);
        let mut plan = land::plan(&PlanInput {
            repo: &repo,
            feature: &landing.feature,
            states: &states,
            branch_of: &branch_of,
            target: &landing.target,
            base: &landing.base,
            strategy: landing.strategy,
            partial: landing.opts.partial,
        })?;
        let deps: HashMap<WpId, Vec<WpId>> =
            landing.feature.work_packages.iter().map(|wp| (wp.id.clone(), wp.dependencies.clone())).collect();
        let authors = Authors {
            committer: crate::state::StateStore::committer(&repo),
            agents: states.iter().map(|(id, s)| (id.clone(), s.agents_used.clone())).collect(),
            run_id: landing.owner.run_id.clone(),
            feature: slug.to_string(),
        };
        let integration = land::integrate(&repo, &mut plan, landing.strategy, &deps, &authors)?;
        let mut report = MergeReport {
            feature: slug.to_string(),
            target: landing.target.clone(),
            strategy: landing.strategy,
            outcome: MergeOutcome::DryRun,
            previous: plan.expected.map(|o| o.to_string()),
            commit: (!integration.commits.is_empty()).then(|| integration.tip.to_string()),
            steps: plan.steps.clone(),
            conflicts: integration.conflicts.clone(),
            worktree_updated: None,
        };
        if landing.opts.dry_run {
            return Ok(report);
        }
        if !integration.conflicts.is_empty() {
            return Err(LandError::Conflict { target: landing.target.clone(), conflicts: integration.conflicts }.into());
        }
        if integration.commits.is_empty() {
            report.outcome = MergeOutcome::NothingToMerge;
            report.commit = report.previous.clone();
            return Ok(report);
        }
        let message = format!("kitty-orchestrator: merge {slug} ({})", landing.strategy);
        let moved =
            land::advance(&repo, &plan.reference, plan.expected, integration.tip, &authors.committer, &message)?;
        report.outcome = MergeOutcome::Merged;
        report.worktree_updated = moved.first().map(|d| d.display().to_string());
        self.record_landing(landing, &report, &integration.commits)?;
        Ok(report)
    }

    /// The landing on each landed WP's chain and on the run chain.
    fn record_landing(
        &self,
        landing: &Landing,
        report: &MergeReport,
        commits: &[(WpId, git2::Oid)],
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
            fix_rounds: 0,
        };
        let body = format!("{} landed on {}: {}.", slug, landing.target, wps.join(", "));
        self.store.append_run(slug, &event, &body)?;
        Ok(())
    }
}
