//! Worktree recycling at scale (`cargo bench -p kitty-orchestrator --bench recycle`): a flat
//! feature of `KITTY_BENCH_WPS` (1000) WPs whose agents fail at once, at concurrency 4, in a
//! repository of as many task files plus `KITTY_BENCH_FILES` (0) more — run with
//! `recycle_worktrees` off (a fresh worktree per WP, every file written each time) and on
//! (finished WPs hand their worktrees on), side by side. Prints wall times and the ratio.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use kitty_orchestrator::engine::{RunOptions, RunOutcome, no_events};
use kitty_orchestrator::{Config, Orchestrator};
use tokio_util::sync::CancellationToken;

fn git(dir: &Path, args: &[&str]) {
    let ok = Command::new("git").args(args).current_dir(dir).status().unwrap().success();
    assert!(ok, "git {args:?}");
}

fn feature(dir: &Path, wps: usize, extra: usize) {
    git(dir, &["init", "-q", "-b", "main"]);
    let tasks = dir.join("kitty-specs/960-fail/tasks");
    std::fs::create_dir_all(&tasks).unwrap();
    for k in 1..=wps {
        let text = format!("---\nwork_package_id: WP{k:04}\ndependencies: []\n---\nwork\n");
        std::fs::write(tasks.join(format!("WP{k:04}-x.md")), text).unwrap();
    }
    for i in 0..extra {
        let sub = dir.join(format!("src/d{}", i / 100));
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join(format!("f{i}.txt")), format!("file {i}\n")).unwrap();
    }
    git(dir, &["add", "-A"]);
    git(dir, &["-c", "user.name=b", "-c", "user.email=b@b", "commit", "-q", "-m", "feature"]);
}

/// Wall time of the run, and how many worktree directories it left.
fn run(wps: usize, extra: usize, recycle: bool) -> (Duration, usize) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    feature(dir, wps, extra);
    let cfg = format!(
        "max_concurrent_wps = 4\nmax_retries = 0\nfallback_strategy = \"fail\"\nrecycle_worktrees = {recycle}\n\
         [agents]\nimplementation = [\"f\"]\nreview = [\"f\"]\n[agents.f]\ncommand = [\"false\"]\noutput = \"stream-json\"\n"
    );
    let orch = Orchestrator::open(dir, Some(Config::from_toml_str(&cfg, "bench").unwrap())).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let opts = RunOptions { grace: Duration::from_secs(1), ..RunOptions::default() };
    let start = Instant::now();
    let summary = runtime.block_on(orch.run("960-fail", opts, no_events(), CancellationToken::new())).unwrap();
    let wall = start.elapsed();
    assert_eq!((summary.outcome, summary.blocked), (RunOutcome::Blocked, wps), "{summary:#?}");
    let left = std::fs::read_dir(dir.join(".worktrees")).map_or(0, |d| d.count());
    (wall, left)
}

fn main() {
    let wps: usize = std::env::var("KITTY_BENCH_WPS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let extra: usize = std::env::var("KITTY_BENCH_FILES").ok().and_then(|v| v.parse().ok()).unwrap_or(0);
    let (fresh, fresh_left) = run(wps, extra, false);
    let (recycled, recycled_left) = run(wps, extra, true);
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "FIGURE|{wps} fail-fast WPs at concurrency 4, {} files, worktrees recycled ({recycled_left} left)|{:.0} ms|fresh worktree per WP, as before recycling ({fresh_left} left)|{:.0} ms|{:.2}|<= 0.2 (5x faster)",
        wps + extra,
        ms(recycled),
        ms(fresh),
        ms(recycled) / ms(fresh)
    );
}
