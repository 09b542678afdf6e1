//! Landing end to end: real repositories, the fake agents as real processes, `git` itself to
//! check what landed.

use crate::common;

use std::path::Path;

use crate::common::{F020, agent, assert_fsck_clean, config, fast, git, sample_repo};
use kitty_orchestrator::engine::MergeOutcome;
use kitty_orchestrator::engine::{MergeOptions, RunOutcome, no_events};
use kitty_orchestrator::land::StepAction;
use kitty_orchestrator::merge_strategy::MergeStrategy;
use kitty_orchestrator::{ErrorCode, Orchestrator};
use tokio_util::sync::CancellationToken;

fn agents(env: &[(&str, &str)]) -> kitty_orchestrator::Config {
    config("[agents]\nimplementation = [\"impl\"]\nreview = [\"rev\"]", &[agent("impl", env), agent("rev", &[])])
}

async fn run_to_done(orch: &Orchestrator, feature: &str) {
    let summary = orch.run(feature, fast(), no_events(), CancellationToken::new()).await.unwrap();
    assert_eq!(summary.outcome, RunOutcome::Completed, "{summary:#?}");
}

async fn merge(
    orch: &Orchestrator,
    feature: &str,
    opts: MergeOptions,
) -> kitty_orchestrator::Result<kitty_orchestrator::engine::MergeReport> {
    orch.merge(feature, opts, no_events(), CancellationToken::new()).await
}

fn rev(dir: &Path, what: &str) -> String {
    git(dir, &["rev-parse", what]).trim().to_string()
}

/// Every ref and the object count: what "nothing changed" means.
fn snapshot(dir: &Path) -> (String, String) {
    (git(dir, &["for-each-ref", "--format=%(refname) %(objectname)"]), git(dir, &["count-objects"]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_020_feature_runs_and_lands_on_main_one_merge_per_wp_in_dependency_order() {
    let tmp = sample_repo(true);
    let dir = tmp.path();
    let orch = Orchestrator::open(dir, Some(agents(&[]))).unwrap();
    run_to_done(&orch, F020).await;
    let before = rev(dir, "main");
    let report = merge(&orch, F020, MergeOptions::default()).await.unwrap();
    assert_eq!(report.outcome, MergeOutcome::Merged, "{report:#?}");
    assert_eq!(report.merged().len(), 9);
    assert_eq!(report.previous.as_deref(), Some(before.as_str()));
    // main (checked out here) holds every WP's file, in the working tree too.
    for step in &report.steps {
        let file = format!("{}.txt", step.wp);
        assert!(git(dir, &["ls-tree", "--name-only", "main"]).lines().any(|l| l == file), "{file} on main");
        assert!(dir.join(&file).exists(), "{file} checked out");
    }
    assert_eq!(git(dir, &["status", "--porcelain", "--untracked-files=no"]), "", "the checkout matches main");
    // One merge per WP on the first-parent line, in dependency order.
    let subjects: Vec<String> =
        git(dir, &["log", "--first-parent", "--reverse", "--format=%s", &format!("{before}..main")])
            .lines()
            .map(str::to_string)
            .collect();
    let feature = orch.feature(F020).unwrap();
    let order: Vec<String> = feature.topological_order().iter().map(|w| w.to_string()).collect();
    let merged: Vec<String> =
        subjects.iter().map(|s| s.split(':').next().unwrap().trim_start_matches("Merge ").to_string()).collect();
    assert_eq!(merged, order, "{subjects:?}");
    for wp in &feature.work_packages {
        let at = merged.iter().position(|w| *w == wp.id.as_str()).unwrap();
        for dep in &wp.dependencies {
            assert!(merged.iter().position(|w| w == dep.as_str()).unwrap() < at, "{dep} before {}", wp.id);
        }
    }
    let tip = git(
        dir,
        &[
            "log",
            "-1",
            "--format=%P%n%(trailers:key=Kitty-WP,valueonly)%(trailers:key=Kitty-Feature,valueonly)",
            "main",
        ],
    );
    assert_eq!(tip.lines().next().unwrap().split(' ').count(), 2, "a merge commit: {tip}");
    assert!(tip.contains(F020) && tip.contains(order.last().unwrap()), "{tip}");
    assert_fsck_clean(dir);
    // Recorded: on each WP's chain and on the run chain.
    let status = orch.status(F020).unwrap();
    for (wp, state) in &status.wps {
        let landed = state.merged.as_ref().unwrap_or_else(|| panic!("{wp} records its landing"));
        assert_eq!(landed.into, "main");
        assert_eq!(landed.strategy, MergeStrategy::Merge);
    }
    let run = status.run.unwrap();
    assert_eq!(run.merged.unwrap().commit, rev(dir, "main"));
    // A second merge has nothing to do, says so, and writes nothing.
    let unchanged = snapshot(dir);
    let again = merge(&orch, F020, MergeOptions::default()).await.unwrap();
    assert_eq!(again.outcome, MergeOutcome::NothingToMerge);
    assert!(again.steps.iter().all(|s| s.action == StepAction::AlreadyMerged), "{again:#?}");
    assert_eq!(snapshot(dir), unchanged);
}

/// Two independent WPs that both write `shared.txt`.
async fn colliding(dir: &Path) -> Orchestrator {
    common::feature(dir, "040-collide", &[("WP01", "planned", &[]), ("WP02", "planned", &[])]);
    let orch = Orchestrator::open(dir, Some(agents(&[("FAKE_EXTRA_FILES", "shared.txt")]))).unwrap();
    run_to_done(&orch, "040-collide").await;
    orch
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn colliding_wps_are_refused_naming_both_and_the_path_and_nothing_changes() {
    let tmp = common::repo();
    let dir = tmp.path();
    let orch = colliding(dir).await;
    let before = snapshot(dir);
    // The dry run predicts it, changing nothing (not even loose objects).
    let dry = merge(&orch, "040-collide", MergeOptions { dry_run: true, ..MergeOptions::default() }).await.unwrap();
    assert_eq!(dry.outcome, MergeOutcome::DryRun);
    assert_eq!(dry.conflicts.len(), 1, "{dry:#?}");
    assert_eq!(dry.conflicts[0].wp, "WP02");
    assert_eq!(dry.conflicts[0].with, ["WP01"]);
    assert_eq!(dry.conflicts[0].paths, ["shared.txt"]);
    assert_eq!(snapshot(dir), before, "a dry run changes nothing");
    let err = merge(&orch, "040-collide", MergeOptions::default()).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::MergeConflict);
    let text = err.to_string();
    assert!(text.contains("WP02") && text.contains("WP01") && text.contains("shared.txt"), "{text}");
    assert_eq!(before.0, snapshot(dir).0, "no ref moved");
    assert!(!dir.join("shared.txt").exists());
    assert!(orch.status("040-collide").unwrap().wps.values().all(|s| s.merged.is_none()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn squash_lands_one_commit_per_wp_authored_by_its_agent() {
    let tmp = common::repo();
    let dir = tmp.path();
    common::feature(dir, "050-squash", &[("WP01", "planned", &[]), ("WP02", "planned", &["WP01"])]);
    let orch = Orchestrator::open(dir, Some(agents(&[]))).unwrap();
    run_to_done(&orch, "050-squash").await;
    let before = rev(dir, "main");
    let opts = MergeOptions { strategy: Some(MergeStrategy::Squash), ..MergeOptions::default() };
    let report = merge(&orch, "050-squash", opts.clone()).await.unwrap();
    assert_eq!(report.outcome, MergeOutcome::Merged);
    let log = git(dir, &["log", "--reverse", "--format=%P|%an|%s", &format!("{before}..main")]);
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 2, "{log}");
    for (line, wp) in lines.iter().zip(["WP01", "WP02"]) {
        let parts: Vec<&str> = line.split('|').collect();
        assert_eq!(parts[0].split(' ').count(), 1, "one parent: {line}");
        assert_eq!(parts[1], "impl", "authored by the implementing agent: {line}");
        assert!(parts[2].starts_with(&format!("{wp}: ")), "{line}");
    }
    // Exactly each WP's own changes: WP02's commit adds WP02.txt only.
    let files = git(dir, &["show", "--name-only", "--format=", "main"]);
    assert_eq!(files.trim(), "WP02.txt");
    assert_fsck_clean(dir);
    let again = merge(&orch, "050-squash", opts).await.unwrap();
    assert_eq!(again.outcome, MergeOutcome::NothingToMerge, "{again:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dirty_checkout_of_the_target_in_a_touched_path_is_refused_and_kept() {
    let tmp = common::repo();
    let dir = tmp.path();
    common::feature(dir, "060-dirty", &[("WP01", "planned", &[])]);
    let orch = Orchestrator::open(dir, Some(agents(&[]))).unwrap();
    run_to_done(&orch, "060-dirty").await;
    std::fs::write(dir.join("WP01.txt"), "my own notes\n").unwrap();
    std::fs::write(dir.join("README.md"), "edited, not committed\n").unwrap();
    let main = rev(dir, "main");
    let err = merge(&orch, "060-dirty", MergeOptions::default()).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::TargetDirty, "{err}");
    assert!(err.to_string().contains("WP01.txt"), "{err}");
    assert_eq!(rev(dir, "main"), main);
    assert_eq!(std::fs::read_to_string(dir.join("WP01.txt")).unwrap(), "my own notes\n");
    // Once the touched path is clean, it lands; the edit elsewhere is kept as it was.
    std::fs::remove_file(dir.join("WP01.txt")).unwrap();
    let report = merge(&orch, "060-dirty", MergeOptions::default()).await.unwrap();
    assert_eq!(report.outcome, MergeOutcome::Merged);
    assert_eq!(
        report.worktree_updated.as_deref().map(Path::new).map(|p| p.canonicalize().unwrap()),
        Some(dir.canonicalize().unwrap())
    );
    assert!(dir.join("WP01.txt").exists());
    assert_eq!(std::fs::read_to_string(dir.join("README.md")).unwrap(), "edited, not committed\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_lands_the_dependency_closed_done_set_and_into_creates_a_branch() {
    let tmp = common::repo();
    let dir = tmp.path();
    let wps: &[(&str, &str, &[&str])] = &[
        ("WP01", "planned", &[]),
        ("WP02", "planned", &[]),
        ("WP03", "planned", &["WP02"]),
        ("WP04", "planned", &["WP01"]),
        ("WP05", "done", &["WP02"]),
    ];
    common::feature(dir, "070-partial", wps);
    let cfg = config(
        "max_retries = 0\nfallback_strategy = \"fail\"\n[agents]\nimplementation = [\"impl\"]\nreview = [\"rev\"]",
        &[agent("impl", &[("FAKE_FAIL_WPS", "WP02")]), agent("rev", &[])],
    );
    let orch = Orchestrator::open(dir, Some(cfg)).unwrap();
    let summary = orch.run("070-partial", fast(), no_events(), CancellationToken::new()).await.unwrap();
    assert_eq!(summary.outcome, RunOutcome::Blocked);
    let main = rev(dir, "main");
    let err = merge(&orch, "070-partial", MergeOptions::default()).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::MergeNotReady);
    assert!(err.to_string().contains("WP02 (blocked)") && err.to_string().contains("--partial"), "{err}");
    let opts = MergeOptions { partial: true, into: Some("feature/070".into()), ..MergeOptions::default() };
    let report = merge(&orch, "070-partial", opts).await.unwrap();
    let actions: Vec<(String, StepAction)> =
        report.steps.iter().map(|s| (s.wp.to_string(), s.action.clone())).collect();
    assert!(actions.contains(&("WP01".into(), StepAction::Merge)), "{actions:?}");
    assert!(actions.contains(&("WP04".into(), StepAction::Merge)), "{actions:?}");
    assert!(actions.iter().any(|(w, a)| w == "WP03" && matches!(a, StepAction::NotDone { .. })), "{actions:?}");
    assert!(
        actions
            .iter()
            .any(|(w, a)| w == "WP05" && matches!(a, StepAction::Excluded { because } if because.as_str() == "WP02")),
        "{actions:?}"
    );
    assert_eq!(rev(dir, "main"), main, "main is not where it landed");
    let files = git(dir, &["ls-tree", "--name-only", "feature/070"]);
    assert!(files.contains("WP01.txt") && files.contains("WP04.txt") && !files.contains("WP03.txt"), "{files}");
    assert_eq!(report.previous, None, "the branch was created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_done_wp_whose_branch_changes_nothing_is_reported_not_merged() {
    let tmp = common::repo();
    let dir = tmp.path();
    common::feature(dir, "080-empty", &[("WP01", "done", &[]), ("WP02", "done", &[])]);
    // WP01 done by hand on a branch with an empty commit; WP02 done without a branch.
    git(dir, &["branch", "080-empty-WP01", "main"]);
    git(dir, &["checkout", "-q", "080-empty-WP01"]);
    git(dir, &["commit", "-q", "--allow-empty", "-m", "nothing"]);
    git(dir, &["checkout", "-q", "main"]);
    let orch = Orchestrator::open(dir, Some(agents(&[]))).unwrap();
    run_to_done(&orch, "080-empty").await;
    let report = merge(&orch, "080-empty", MergeOptions::default()).await.unwrap();
    assert_eq!(report.outcome, MergeOutcome::NothingToMerge);
    assert_eq!(report.steps[0].action, StepAction::NoChanges, "{report:#?}");
    assert_eq!(report.steps[1].action, StepAction::InTarget);
}

#[test]
fn a_target_that_moved_since_the_merge_began_is_refused_naming_the_ref() {
    let tmp = common::repo();
    let dir = tmp.path();
    let first = rev(dir, "main");
    git(dir, &["commit", "-q", "--allow-empty", "-m", "someone else"]);
    let repo = git2::Repository::open(dir).unwrap();
    let second = git2::Oid::from_str(&rev(dir, "main")).unwrap();
    let err = kitty_orchestrator::land::advance(
        &repo,
        "refs/heads/main",
        Some(git2::Oid::from_str(&first).unwrap()),
        second,
        "test",
    )
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::TargetMoved);
    assert!(err.to_string().contains("refs/heads/main"), "{err}");
    assert_eq!(rev(dir, "main"), second.to_string());
}

const VERIFY: &str = "verify_command = ['python3', '-c', 'import os, sys; print(\"checking\"); sys.exit(0 if os.path.exists(\"merge.txt\") else 3)']";

/// A repository with a two-WP feature run to done, and an orchestrator for its merge whose
/// implementation agent (the fixer) has `env`.
async fn verified(dir: &Path, env: &[(&str, &str)]) -> Orchestrator {
    common::feature(dir, "090-verify", &[("WP01", "planned", &[]), ("WP02", "planned", &["WP01"])]);
    run_to_done(&Orchestrator::open(dir, Some(agents(&[]))).unwrap(), "090-verify").await;
    let head = format!("{VERIFY}\n[agents]\nimplementation = [\"impl\"]\nreview = [\"rev\"]");
    Orchestrator::open(dir, Some(config(&head, &[agent("impl", env), agent("rev", &[])]))).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_verification_fixed_in_round_two_lands_with_two_rounds_reported() {
    let tmp = common::repo();
    let dir = tmp.path();
    let state = tempfile::tempdir().unwrap();
    let s = state.path().display().to_string();
    let orch = verified(dir, &[("FAKE_FIRST_MODE", "noop"), ("FAKE_STATE_DIR", &s)]).await;
    let (sink, events) = common::recorder();
    let report = orch.merge("090-verify", MergeOptions::default(), sink, CancellationToken::new()).await.unwrap();
    assert_eq!(report.outcome, MergeOutcome::Merged, "{report:#?}");
    let verify = report.verify.as_ref().unwrap();
    assert!(verify.passed);
    assert_eq!(verify.fix_rounds, 2, "{verify:#?}");
    assert_eq!(verify.rounds.iter().map(|r| r.passed).collect::<Vec<_>>(), [false, false, true]);
    assert!(verify.rounds[1].fix_commit.is_none(), "round 1 changed nothing");
    let fix = verify.rounds[2].fix_commit.clone().unwrap();
    assert_eq!(rev(dir, "main"), fix, "the fix is the tip that landed");
    assert!(git(dir, &["ls-tree", "--name-only", "main"]).contains("merge.txt"));
    for round in &verify.rounds {
        assert!(std::fs::read_to_string(&round.log).unwrap().contains("checking"), "{}", round.log);
    }
    // Every round on the run chain and as an event; the integration worktree and branch are gone.
    let run_log = git(dir, &["log", "--format=%s", "refs/kitty/run/090-verify"]);
    assert_eq!(run_log.lines().filter(|l| l.contains("verified")).count(), 3, "{run_log}");
    let seen =
        events.lock().unwrap().iter().filter(|e| matches!(e, kitty_orchestrator::Event::MergeVerified { .. })).count();
    assert_eq!(seen, 3);
    assert!(report.integration_worktree.is_none(), "{report:#?}");
    assert!(!git(dir, &["branch", "--list"]).contains("-merge-"), "{}", git(dir, &["branch", "--list"]));
    assert_eq!(orch.status("090-verify").unwrap().run.unwrap().merged.unwrap().commit, fix);
    assert_fsck_clean(dir);
    // The report says it all: landed, two fix rounds, each WP's commits.
    let full = orch.report("090-verify").unwrap();
    assert_eq!(full.outcome, kitty_orchestrator::report::ReportOutcome::Complete);
    assert_eq!(full.landing.as_ref().unwrap().fix_rounds, 2);
    assert_eq!(full.verify.as_ref().unwrap().rounds.len(), 3);
    assert!(full.wps.iter().all(|w| !w.commits.is_empty() && w.landed.is_some()), "{full:#?}");
    let md = kitty_orchestrator::report::markdown(&full);
    assert!(md.contains("# 090-verify: complete") && md.contains("2/2 work packages done"), "{md}");
    assert!(md.contains("verification passed after 2 fix round(s)") && md.contains("| WP02 |"), "{md}");
    assert!(report.report.is_some(), "merge returns the report too");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixer_that_never_fixes_lands_nothing_after_three_rounds_and_names_the_log() {
    let tmp = common::repo();
    let dir = tmp.path();
    let orch = verified(dir, &[("FAKE_MODE", "noop")]).await;
    let main = rev(dir, "main");
    let report = merge(&orch, "090-verify", MergeOptions::default()).await.unwrap();
    assert_eq!(report.outcome, MergeOutcome::VerifyFailed, "{report:#?}");
    let verify = report.verify.as_ref().unwrap();
    assert_eq!(verify.fix_rounds, 3);
    assert!(verify.log.ends_with("merge-verify-3.log"), "{}", verify.log);
    assert_eq!(rev(dir, "main"), main, "nothing landed");
    assert!(orch.status("090-verify").unwrap().wps.values().all(|s| s.merged.is_none()));
    let kept = report.integration_worktree.clone().unwrap();
    assert!(Path::new(&kept).join("WP02.txt").exists(), "the integration is kept for a person: {kept}");
    let full = orch.report("090-verify").unwrap();
    assert_eq!(full.outcome, kitty_orchestrator::report::ReportOutcome::Failed, "{full:#?}");
    assert!(full.landing.is_none());
    assert_eq!(full.verify.unwrap().fix_rounds, 3);
}

/// An orchestrator for the colliding feature's merge whose implementation agent has `mode`.
fn resolver(dir: &Path, mode: &str) -> Orchestrator {
    Orchestrator::open(dir, Some(agents(&[("FAKE_MODE", mode)]))).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolve_gives_a_conflict_to_an_agent_and_lands_its_resolution() {
    let tmp = common::repo();
    let dir = tmp.path();
    colliding(dir).await;
    let orch = resolver(dir, "resolve");
    let opts = MergeOptions { resolve: true, ..MergeOptions::default() };
    let report = merge(&orch, "040-collide", opts.clone()).await.unwrap();
    assert_eq!(report.outcome, MergeOutcome::Merged, "{report:#?}");
    assert_eq!(report.resolutions.len(), 1);
    let r = &report.resolutions[0];
    assert_eq!(
        (r.wp.as_str(), r.with.as_slice(), r.paths.as_slice()),
        ("WP02", &["WP01".to_string()][..], &["shared.txt".to_string()][..])
    );
    let shared = git(dir, &["show", "main:shared.txt"]);
    assert_eq!(shared, "written by WP01\nwritten by WP02\n", "both sides kept, no markers");
    // The resolution is WP02's landing: a merge commit whose second parent is WP02's branch.
    let parents = git(dir, &["log", "-1", "--format=%P", "main"]);
    assert!(parents.trim().ends_with(&rev(dir, "040-collide-WP02")), "{parents}");
    // The landing commit says an agent resolved the conflict, and the agent was told which WP.
    let message = git(dir, &["log", "-1", "--format=%B", "main"]);
    assert!(message.contains("Kitty-Resolved-By: impl") && message.contains("resolved by the agent impl"), "{message}");
    let log = std::fs::read_to_string(std::path::Path::new(&r.log)).unwrap();
    assert!(log.contains("KITTY_WP=WP02"), "{log}");
    let run_log = git(dir, &["log", "--format=%s", "refs/kitty/run/040-collide"]);
    assert!(run_log.contains("resolved"), "{run_log}");
    assert!(!git(dir, &["branch", "--list"]).contains("-merge-"));
    assert_fsck_clean(dir);
    let again = merge(&orch, "040-collide", opts).await.unwrap();
    assert_eq!(again.outcome, MergeOutcome::NothingToMerge);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resolution_that_leaves_conflict_markers_is_refused_and_nothing_lands() {
    let tmp = common::repo();
    let dir = tmp.path();
    colliding(dir).await;
    let before = git(dir, &["for-each-ref", "--format=%(refname) %(objectname)", "refs/heads"]);
    let orch = resolver(dir, "markers");
    let err = merge(&orch, "040-collide", MergeOptions { resolve: true, ..MergeOptions::default() }).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::MergeConflict, "{err}");
    let text = err.to_string();
    assert!(text.contains("left conflict markers in shared.txt") && text.contains("merge-resolve-WP02"), "{text}");
    assert_eq!(
        git(dir, &["for-each-ref", "--format=%(refname) %(objectname)", "refs/heads"]),
        before,
        "no branch moved or left"
    );
    assert!(!dir.join("shared.txt").exists());
    let saved = git(dir, &["for-each-ref", "--format=%(refname)", "refs/kitty/backup/040-collide/"]);
    assert!(saved.contains("040-collide-merge-"), "the refused resolution is kept in a backup ref: {saved}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_merge_ends_a_completed_run_with_its_landing() {
    let tmp = common::repo();
    let dir = tmp.path();
    common::feature(dir, "110-auto", &[("WP01", "planned", &[]), ("WP02", "planned", &["WP01"])]);
    let head = "auto_merge = true\n[agents]\nimplementation = [\"impl\"]\nreview = [\"rev\"]";
    let orch = Orchestrator::open(dir, Some(config(head, &[agent("impl", &[]), agent("rev", &[])]))).unwrap();
    let (sink, events) = common::recorder();
    let summary = orch.run("110-auto", fast(), sink, CancellationToken::new()).await.unwrap();
    assert_eq!(summary.outcome, RunOutcome::Completed);
    let merge = summary.merge.as_ref().expect("the run ended with a merge");
    assert_eq!(merge.outcome, MergeOutcome::Merged);
    assert!(git(dir, &["ls-tree", "--name-only", "main"]).contains("WP02.txt"));
    let events = events.lock().unwrap();
    let names: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            kitty_orchestrator::Event::Merged { .. } => Some("merged"),
            kitty_orchestrator::Event::RunFinished { .. } => Some("run_finished"),
            _ => None,
        })
        .collect();
    assert_eq!(names, ["merged", "run_finished"], "the run's end says how the merge went");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn landing_removes_worktrees_saving_uncommitted_work_and_can_delete_branches_losing_no_commit() {
    let tmp = common::repo();
    let dir = tmp.path();
    common::feature(dir, "120-clean", &[("WP01", "planned", &[]), ("WP02", "planned", &["WP01"])]);
    // Both worktrees kept after the run (not recycled), to be removed by the landing.
    let head = "recycle_worktrees = false\ncleanup = \"worktrees+branches\"\nmerge_strategy = \"squash\"\n[agents]\nimplementation = [\"impl\"]\nreview = [\"rev\"]";
    let orch = Orchestrator::open(dir, Some(config(head, &[agent("impl", &[]), agent("rev", &[])]))).unwrap();
    run_to_done(&orch, "120-clean").await;
    let wp1 = dir.join(".worktrees/120-clean-WP01");
    std::fs::write(wp1.join("notes.txt"), "a person's notes, never committed\n").unwrap();
    let tips: Vec<String> = ["WP01", "WP02"].iter().map(|w| rev(dir, &format!("120-clean-{w}"))).collect();
    let report = merge(&orch, "120-clean", MergeOptions::default()).await.unwrap();
    assert_eq!(report.outcome, MergeOutcome::Merged);
    assert_eq!(report.cleanup.len(), 2, "{:#?}", report.cleanup);
    assert!(report.cleanup.iter().all(|c| c.worktree_removed && c.branch_deleted), "{:#?}", report.cleanup);
    assert!(!wp1.exists());
    let backup = report.cleanup[0].backup.clone().expect("the uncommitted notes were saved");
    assert_eq!(git(dir, &["show", &format!("{backup}:notes.txt")]), "a person's notes, never committed\n");
    assert!(git(dir, &["branch", "--list", "120-clean-*"]).trim().is_empty());
    // Squashed: the branches' own commits stay reachable through refs/kitty/landed.
    for (wp, tip) in ["WP01", "WP02"].iter().zip(&tips) {
        assert_eq!(&rev(dir, &format!("refs/kitty/landed/120-clean/{wp}")), tip);
    }
    assert_fsck_clean(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn branch_and_commit_templates_name_what_the_run_and_the_merge_write() {
    let tmp = common::repo();
    let dir = tmp.path();
    common::feature(dir, "130-kiro", &[("WP01", "planned", &[]), ("WP02", "planned", &["WP01"])]);
    let head = "branch_template = \"kiro/{feature}/{number}-{title}\"\ncommit_template = \"spirit({scope}): {description}\"\n\
                [agents]\nimplementation = [\"impl\"]\nreview = [\"rev\"]";
    let cfg = config(head, &[agent("impl", &[("FAKE_EXTRA_FILES", "left.txt")]), agent("rev", &[])]);
    let orch = Orchestrator::open(dir, Some(cfg)).unwrap();
    run_to_done(&orch, "130-kiro").await;
    let branches = git(dir, &["branch", "--list", "kiro/*", "--format=%(refname:short)"]);
    assert_eq!(
        branches.lines().collect::<Vec<_>>(),
        ["kiro/130-kiro/01-work-wp01", "kiro/130-kiro/02-work-wp02"],
        "{branches}"
    );
    let auto = git(dir, &["log", "-1", "--format=%s", "kiro/130-kiro/02-work-wp02"]);
    assert_eq!(auto.trim(), "spirit(WP02): Work WP02", "the auto-commit's subject");
    let report = merge(&orch, "130-kiro", MergeOptions::default()).await.unwrap();
    assert_eq!(report.outcome, MergeOutcome::Merged);
    assert_eq!(report.steps[1].branch.as_deref(), Some("kiro/130-kiro/02-work-wp02"));
    let subjects = git(dir, &["log", "--first-parent", "-2", "--format=%s", "main"]);
    assert_eq!(
        subjects.lines().collect::<Vec<_>>(),
        ["spirit(WP02): merge Work WP02", "spirit(WP01): merge Work WP01"]
    );
}

/// What lands is what review approved: a commit added to a done WP's branch after approval is
/// refused by `merge` (both strategies) and by `push --branches`, naming the WP, the approved
/// head and the tip; nothing changes. `reopen_moved` sends the WP back to review at the tip, a
/// run reviews it, and the next merge lands it — the added commit included, now reviewed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_branch_moved_after_approval_is_refused_or_sent_back_to_review() {
    let tmp = common::repo();
    let dir = tmp.path();
    common::feature(dir, "080-approved", &[("WP01", "planned", &[]), ("WP02", "planned", &["WP01"])]);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-qm", "feature"]);
    let orch = Orchestrator::open(dir, Some(agents(&[]))).unwrap();
    run_to_done(&orch, "080-approved").await;
    let approved = rev(dir, "080-approved-WP01");
    // Someone adds a commit to the done WP's branch after its approval.
    let side = tempfile::tempdir().unwrap();
    let wt = side.path().join("wt");
    git(dir, &["worktree", "add", "-q", &wt.display().to_string(), "080-approved-WP01"]);
    std::fs::write(wt.join("late.txt"), "not reviewed\n").unwrap();
    git(&wt, &["add", "late.txt"]);
    git(&wt, &["commit", "-qm", "unreviewed"]);
    let tip = rev(dir, "080-approved-WP01");
    git(dir, &["worktree", "remove", &wt.display().to_string()]);
    let before = snapshot(dir);
    for strategy in [MergeStrategy::Merge, MergeStrategy::Squash] {
        let opts = MergeOptions { strategy: Some(strategy), ..MergeOptions::default() };
        let err = merge(&orch, "080-approved", opts).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::MergeNotReady, "{err}");
        let text = err.to_string();
        assert!(text.contains("WP01") && text.contains(&approved) && text.contains(&tip), "{text}");
        assert_eq!(snapshot(dir), before, "nothing changed");
    }
    let push = kitty_orchestrator::engine::PushOptions { remote: None, branch: Some("main".into()), branches: true };
    let err = orch.push("080-approved", push, CancellationToken::new()).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::MergeNotReady, "{err}");
    // Sent back to review: the WP is for_review at the tip, and nothing lands yet.
    let opts = MergeOptions { reopen_moved: true, ..MergeOptions::default() };
    let err = merge(&orch, "080-approved", opts).await.unwrap_err();
    assert!(err.to_string().contains("WP01 (for_review"), "{err}");
    let state = orch.status("080-approved").unwrap();
    let wp01 = state.wps.values().find(|w| w.wp == "WP01").unwrap();
    assert_eq!((wp01.lane, wp01.head.as_deref()), (kitty_orchestrator::Lane::ForReview, Some(tip.as_str())));
    let event = git(dir, &["show", "-s", "--format=%B", "refs/kitty/wp/080-approved/WP01"]);
    assert!(event.contains("Kitty-Event: reopened"), "{event}");
    run_to_done(&orch, "080-approved").await;
    let report = merge(&orch, "080-approved", MergeOptions::default()).await.unwrap();
    assert_eq!(report.outcome, MergeOutcome::Merged, "{report:#?}");
    assert_eq!(git(dir, &["show", "main:late.txt"]), "not reviewed\n");
    assert_fsck_clean(dir);
}

/// Removing a landed WP's worktree never deletes what git ignores there without a trace: build
/// output is named and dropped, secret-looking files are moved aside, everything else is saved
/// in the backup ref — and the report says which.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleanup_lists_ignored_files_and_keeps_those_that_are_not_build_output() {
    let tmp = common::repo();
    let dir = tmp.path();
    common::feature(dir, "081-ignored", &[("WP01", "planned", &[])]);
    std::fs::write(dir.join(".gitignore"), "*.local\ntarget/\n.env\n").unwrap();
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-qm", "feature"]);
    let orch =
        Orchestrator::open(dir, Some(agents(&[("FAKE_EXTRA_FILES", "notes.local,target/debug/app,.env")]))).unwrap();
    run_to_done(&orch, "081-ignored").await;
    let report = merge(&orch, "081-ignored", MergeOptions::default()).await.unwrap();
    assert_eq!(report.outcome, MergeOutcome::Merged, "{report:#?}");
    let cleaned = report.cleanup.iter().find(|c| c.wp == "WP01").expect("WP01 cleaned up");
    assert!(cleaned.worktree_removed, "{cleaned:#?}");
    let fate = |path: &str| cleaned.ignored.iter().find(|i| i.path == path).map(|i| i.fate.clone());
    assert_eq!(fate("notes.local").as_deref(), Some("saved"), "{cleaned:#?}");
    assert_eq!(fate("target/").as_deref(), Some("build_output"), "{cleaned:#?}");
    assert_eq!(fate(".env").as_deref(), Some("moved_aside"), "{cleaned:#?}");
    let backup = cleaned.backup.clone().expect("a backup ref");
    assert_eq!(git(dir, &["show", &format!("{backup}:notes.local")]), "written by WP01\n");
    let in_ref =
        std::process::Command::new("git").args(["show", &format!("{backup}:.env")]).current_dir(dir).output().unwrap();
    assert!(!in_ref.status.success(), "a secret-looking file never goes into a ref");
    let aside = git(dir, &["rev-parse", "--git-common-dir"]);
    let withheld = dir.join(aside.trim()).join("kitty/withheld/081-ignored-WP01");
    let kept: Vec<_> = std::fs::read_dir(&withheld).unwrap().flatten().map(|e| e.path().join(".env")).collect();
    assert!(kept.iter().any(|p| p.exists()), "{kept:?}");
}

/// Landings are per branch: after landing on `main`, `merge --into B` makes `B` (its base holds
/// every done WP already) and records the WPs as landed there too; a merge onto either branch
/// then finds nothing to do — a squash is never landed twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn landing_on_a_second_branch_makes_it_and_each_branch_keeps_its_landing() {
    let tmp = common::repo();
    let dir = tmp.path();
    common::feature(dir, "082-twice", &[("WP01", "planned", &[]), ("WP02", "planned", &["WP01"])]);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-qm", "feature"]);
    let orch = Orchestrator::open(dir, Some(agents(&[]))).unwrap();
    run_to_done(&orch, "082-twice").await;
    let squash = || MergeOptions { strategy: Some(MergeStrategy::Squash), ..MergeOptions::default() };
    let first = merge(&orch, "082-twice", squash()).await.unwrap();
    assert_eq!(first.outcome, MergeOutcome::Merged, "{first:#?}");
    let into = MergeOptions { into: Some("feature/082".into()), ..squash() };
    let second = merge(&orch, "082-twice", into.clone()).await.unwrap();
    assert_eq!(second.outcome, MergeOutcome::Merged, "{second:#?}");
    assert_eq!(rev(dir, "feature/082"), rev(dir, "main"), "made where its base holds every WP");
    let status = orch.status("082-twice").unwrap();
    for wp in status.wps.values() {
        let targets: Vec<&str> = wp.landings.iter().map(|m| m.into.as_str()).collect();
        assert_eq!(targets, ["main", "feature/082"], "{wp:#?}");
    }
    let main_before = rev(dir, "main");
    assert_eq!(merge(&orch, "082-twice", into).await.unwrap().outcome, MergeOutcome::NothingToMerge);
    assert_eq!(merge(&orch, "082-twice", squash()).await.unwrap().outcome, MergeOutcome::NothingToMerge);
    assert_eq!(rev(dir, "main"), main_before, "nothing landed twice");
}
