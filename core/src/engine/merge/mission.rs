//! `merge` of a spec-kitty mission: delegated to spec-kitty's own landing command — `merge` in
//! 3.x, `consolidate` in 4.0 (which removed `merge`) — which lands its missions its own way (each lane into the mission branch, the mission squashed — or merged — into the
//! target, `approved → done` recorded for every WP, lanes cleaned up). Doing those steps with
//! spec-kitty's own code keeps its bookkeeping (mission number, flattened metadata, merge
//! state for `--resume`) exactly as its users expect. Our chains then record where each WP
//! landed.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::land::Landing;
use crate::engine::blocking::off_thread;
use crate::engine::orchestrator::{Orchestrator, redactor_for};
use crate::engine::reports::{MergeOutcome, MergeReport};
use crate::ids::WpId;
use crate::land::{LandError, Step, StepAction};
use crate::lane::Lane;
use crate::merge_strategy::MergeStrategy;
use crate::state::{Append, WpEvent, WpState};

/// The longest spec-kitty's landing may take.
const MERGE_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// `consolidate`'s exit code when the landing stands but the coordination or mission branch
/// moved after it and was kept (its `--resume` finishes the teardown).
const COORD_MOVED_AFTER_LANDING: i32 = 75;

/// What lands is what review approved: each lane branch (`heads`: WP, branch, tip) must be at
/// the approved head of one of its WPs (the lane's WPs build on one another, so its newest
/// approval covers the rest). Each WP of a lane that is not, with the lane's newest approval.
fn lanes_moved_since_approval(
    heads: &[(crate::ids::WpId, String, Option<String>)],
    states: &std::collections::BTreeMap<crate::ids::WpId, crate::state::WpState>,
) -> Vec<crate::land::MovedSinceApproval> {
    let mut moved = Vec::new();
    let mut branches: Vec<&str> = heads.iter().map(|(_, b, _)| b.as_str()).collect();
    branches.dedup();
    for branch in branches {
        let lane: Vec<_> = heads.iter().filter(|(_, b, _)| b == branch).collect();
        let approved: Vec<String> = lane.iter().filter_map(|(wp, _, _)| states.get(wp)?.head.clone()).collect();
        let Some(tip) = lane.first().and_then(|(_, _, tip)| tip.clone()) else { continue };
        if approved.is_empty() || approved.contains(&tip) {
            continue;
        }
        moved.extend(lane.iter().map(|(wp, _, _)| crate::land::MovedSinceApproval {
            wp: wp.to_string(),
            branch: branch.to_string(),
            approved: approved.last().cloned().unwrap_or_default(),
            tip: tip.clone(),
        }));
    }
    moved
}

impl Orchestrator {
    /// Lands a spec-kitty mission through spec-kitty's own landing command (`merge` in 3.x,
    /// `consolidate` in 4.0): every WP must be done and its lane branch still at the head review
    /// approved; spec-kitty lands; we record each WP as landed.
    pub(super) async fn merge_mission(
        &self,
        landing: &Landing,
        cancel: &CancellationToken,
    ) -> Result<MergeReport, crate::Error> {
        let slug = landing.feature.slug.clone();
        let states = self.store.feature_states(&slug)?;
        all_done(landing, &states)?;
        let Some(program) = crate::spec_kitty::version::program() else {
            return Err(LandError::SpecKittyMerge {
                command: format!("spec-kitty merge --mission {slug}"),
                why: "spec-kitty is not on PATH (install spec-kitty-cli, or set KITTY_SPEC_KITTY to its path)".into(),
            }
            .into());
        };
        let generation = {
            let program = program.clone();
            off_thread(move || crate::spec_kitty::version::installed_version(&program)).await?
        }
        .map(|v| v.generation())
        .unwrap_or_default();
        let args = mission_args(landing, generation);
        let previous = self.branch_tip(&landing.target);
        // Lane branches are deleted by spec-kitty's cleanup: read their tips first.
        let heads: Vec<(WpId, String, Option<String>)> = landing
            .feature
            .work_packages
            .iter()
            .map(|wp| {
                let branch = landing.names.branch(&wp.id);
                let head = self.branch_tip(&branch);
                (wp.id.clone(), branch, head)
            })
            .collect();
        let moved = lanes_moved_since_approval(&heads, &states);
        if !moved.is_empty() {
            return Err(LandError::MovedSinceApproval { feature: slug.to_string(), moved }.into());
        }
        self.run_spec_kitty_merge(&program, &args, cancel).await?;
        let commit = if landing.opts.dry_run { None } else { self.branch_tip(&landing.target) };
        if let Some(commit) = &commit {
            self.record_landed(landing, &heads, commit, generation.land_command()).await?;
        }
        Ok(mission_report(landing, &heads, previous, commit))
    }

    /// Runs spec-kitty's landing command in the primary checkout (its directory on PATH: its git merges
    /// call `spec-kitty merge-driver-event-log`); a failure names the command and its last lines.
    async fn run_spec_kitty_merge(
        &self,
        program: &Path,
        args: &[String],
        cancel: &CancellationToken,
    ) -> Result<(), crate::Error> {
        let mut env = vec![("SPEC_KITTY_NON_INTERACTIVE".to_string(), "1".to_string())];
        if let Some(dir) = program.parent() {
            let path = std::env::var_os("PATH").unwrap_or_default();
            let joined = std::env::join_paths(std::iter::once(dir.to_path_buf()).chain(std::env::split_paths(&path)))
                .unwrap_or(path);
            env.push(("PATH".to_string(), joined.to_string_lossy().into_owned()));
        }
        let redactor = redactor_for(&self.config);
        let repo = self.primary_checkout();
        let output = crate::remote::run_program(
            program,
            args,
            Some(&repo),
            &env,
            command_line(args),
            MERGE_TIMEOUT,
            cancel,
            &redactor,
        )
        .await
        .map_err(|err| LandError::SpecKittyMerge { command: command_line(args), why: err.to_string() })?;
        if output.success() {
            return Ok(());
        }
        if output.code == Some(COORD_MOVED_AFTER_LANDING) && args.first().is_some_and(|a| a == "consolidate") {
            tracing::warn!(
                command = %command_line(args),
                "the mission landed, but its coordination or mission branch moved after the landing and was kept: `spec-kitty consolidate --resume` finishes the teardown"
            );
            return Ok(());
        }
        let text = format!("{}\n{}", output.stdout, output.stderr);
        let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        let mut why = format!(
            "exit {}: {}",
            output.code.map_or("by a signal".to_string(), |c| c.to_string()),
            lines[lines.len().saturating_sub(8)..].join(" / ")
        );
        if text.contains("--origin-check") {
            // Its advice names its own flag; ours is how a user of this tool passes it.
            why.push_str(
                " (through kitty-orchestrator: `merge --origin-check warn|off`, `origin_check` in the bindings' merge options)",
            );
        }
        Err(LandError::SpecKittyMerge { command: command_line(args), why }.into())
    }

    /// Records on each WP's chain that it landed at `commit` (off the async threads).
    async fn record_landed(
        &self,
        landing: &Landing,
        heads: &[(WpId, String, Option<String>)],
        commit: &str,
        command: &'static str,
    ) -> Result<(), crate::Error> {
        let (store, slug, target, strategy, run) = (
            self.store.clone(),
            landing.feature.slug.clone(),
            landing.target.clone(),
            landing.strategy,
            landing.owner.run_id.clone(),
        );
        let records: Vec<(WpId, String)> =
            heads.iter().map(|(wp, _, head)| (wp.clone(), head.clone().unwrap_or_default())).collect();
        let commit = commit.to_string();
        off_thread(move || -> Result<(), crate::Error> {
            for (wp, head) in records {
                let event = WpEvent::Merged { into: target.clone(), commit: commit.clone(), strategy, head };
                let body = format!("Landed on {target} by spec-kitty {command} (run {run}).");
                store.append(&slug, &wp, &Append::new(event).run(&run).body(body))?;
            }
            Ok(())
        })
        .await?
    }

    fn branch_tip(&self, branch: &str) -> Option<String> {
        let repo = git2::Repository::open(Path::new(&self.repo_root)).ok()?;
        let tip = repo.find_branch(branch, git2::BranchType::Local).ok()?.get().peel_to_commit().ok()?.id().to_string();
        Some(tip)
    }
}

/// spec-kitty merges a mission only when every WP is approved: refused before, naming the rest.
fn all_done(landing: &Landing, states: &BTreeMap<WpId, WpState>) -> Result<(), crate::Error> {
    let not_done: Vec<String> = landing
        .feature
        .work_packages
        .iter()
        .filter_map(|wp| {
            let lane = states.get(&wp.id).map_or(Lane::Planned, |s| s.lane);
            (lane != Lane::Done).then(|| format!("{} ({lane})", wp.id))
        })
        .collect();
    if not_done.is_empty() {
        return Ok(());
    }
    Err(LandError::NotReady { feature: landing.feature.slug.to_string(), not_done }.into())
}

fn command_line(args: &[String]) -> String {
    format!("spec-kitty {}", args.join(" "))
}

/// `merge --mission <slug> --yes` (3.x) or `consolidate --mission <slug> --yes` (4.0), with the
/// target, strategy, dry run and (4.0) origin check the options name.
fn mission_args(landing: &Landing, generation: crate::spec_kitty::Generation) -> Vec<String> {
    let mut args = vec![
        generation.land_command().to_string(),
        "--mission".into(),
        landing.feature.slug.to_string(),
        "--yes".into(),
    ];
    if landing.opts.into.is_some() {
        args.extend(["--target".to_string(), landing.target.clone()]);
    }
    if landing.opts.strategy.is_some() {
        let strategy = match landing.strategy {
            MergeStrategy::Merge => "merge",
            MergeStrategy::Squash => "squash",
        };
        args.extend(["--strategy".to_string(), strategy.to_string()]);
    }
    if landing.opts.dry_run {
        args.extend(["--dry-run".to_string(), "--json".to_string()]);
    }
    if let Some(check) = landing.opts.origin_check.filter(|_| generation.checks_origin()) {
        args.extend(["--origin-check".to_string(), check.as_str().to_string()]);
    }
    args
}

/// The report of a mission's landing: every WP one merge step.
fn mission_report(
    landing: &Landing,
    heads: &[(WpId, String, Option<String>)],
    previous: Option<String>,
    commit: Option<String>,
) -> MergeReport {
    let steps: Vec<Step> = heads
        .iter()
        .map(|(wp, branch, head)| Step {
            wp: wp.clone(),
            title: landing.feature.work_package(wp).map(|w| w.title.clone()).unwrap_or_default(),
            branch: Some(branch.clone()),
            head: head.clone(),
            action: StepAction::Merge,
            commit: commit.clone(),
        })
        .collect();
    let outcome = if landing.opts.dry_run { MergeOutcome::DryRun } else { MergeOutcome::Merged };
    let (feature, target) = (landing.feature.slug.to_string(), landing.target.clone());
    let mut report = MergeReport::of_steps(feature, target, landing.strategy, outcome, steps);
    report.previous = previous;
    report.commit = commit;
    report
}
