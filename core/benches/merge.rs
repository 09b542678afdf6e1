//! Landing cost (`cargo bench -p kitty-orchestrator --bench merge`): a feature of 100 done WPs
//! on 100 branches (one file each, in chains of five) landed with `merge` (in-memory
//! integration, one CAS, the checkout brought along, every landing recorded on the chains),
//! against a script doing the same merges with `git merge --no-ff` in a copy of the repository —
//! side by side, in one run.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use kitty_orchestrator::engine::{MergeOptions, MergeOutcome, no_events};
use kitty_orchestrator::{Config, Orchestrator};
use tokio_util::sync::CancellationToken;

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(["-c", "user.name=b", "-c", "user.email=b@b"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn main() {
    let n: usize = std::env::var("KITTY_BENCH_WPS").ok().and_then(|v| v.parse().ok()).unwrap_or(100);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ours");
    std::fs::create_dir_all(&dir).unwrap();
    git(&dir, &["init", "-q", "-b", "main"]);
    git(&dir, &["commit", "-q", "--allow-empty", "-m", "init"]);
    let tasks = dir.join("kitty-specs/960-land/tasks");
    std::fs::create_dir_all(&tasks).unwrap();
    let mut order = Vec::new();
    for k in 1..=n {
        let dep = if k % 5 == 1 { None } else { Some(k - 1) };
        let deps = dep.map(|d| format!("WP{d:03}")).unwrap_or_default();
        std::fs::write(
            tasks.join(format!("WP{k:03}-x.md")),
            format!("---\nwork_package_id: WP{k:03}\nlane: done\ndependencies: [{deps}]\n---\nwork\n"),
        )
        .unwrap();
        let from = dep.map(|d| format!("960-land-WP{d:03}")).unwrap_or_else(|| "main".into());
        git(&dir, &["branch", &format!("960-land-WP{k:03}"), &from]);
        git(&dir, &["checkout", "-q", &format!("960-land-WP{k:03}")]);
        std::fs::write(dir.join(format!("WP{k:03}.txt")), format!("work of WP{k:03}\n")).unwrap();
        git(&dir, &["add", &format!("WP{k:03}.txt")]);
        git(&dir, &["commit", "-q", "-m", &format!("WP{k:03}: work")]);
        order.push(format!("960-land-WP{k:03}"));
    }
    git(&dir, &["checkout", "-q", "main"]);
    git(&dir, &["add", "kitty-specs"]);
    git(&dir, &["commit", "-q", "-m", "feature"]);
    let script = tmp.path().join("script");
    git(tmp.path(), &["clone", "-q", dir.to_str().unwrap(), script.to_str().unwrap()]);
    for branch in &order {
        git(&script, &["branch", "-q", branch, &format!("origin/{branch}")]);
    }

    let orch = Orchestrator::open(&dir, Some(Config::default())).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    // Import the chains first (as a run would have), so the timing is the landing alone.
    orch.store().import_feature(&orch.feature("960-land").unwrap(), None).unwrap();
    let started = Instant::now();
    let report = runtime
        .block_on(orch.merge("960-land", MergeOptions::default(), no_events(), CancellationToken::new()))
        .unwrap();
    let ours = started.elapsed();
    assert_eq!(report.outcome, MergeOutcome::Merged);
    assert_eq!(report.merged().len(), n);

    let started = Instant::now();
    for branch in &order {
        git(&script, &["merge", "-q", "--no-ff", "-m", &format!("Merge {branch}"), branch]);
    }
    let theirs = started.elapsed();
    println!(
        "merge of {n} WPs: kitty-orchestrator {:.0} ms (in memory, one CAS, checkout, {n} landings recorded) vs a `git merge --no-ff` script {:.0} ms: ratio {:.2}",
        ours.as_secs_f64() * 1000.0,
        theirs.as_secs_f64() * 1000.0,
        ours.as_secs_f64() / theirs.as_secs_f64()
    );
}
