//! A whole run against a bare script doing the same physical work
//! (`cargo bench -p kitty-orchestrator --bench run_vs_script`): a flat feature of
//! `KITTY_BENCH_WPS` (100) WPs at concurrency 4 with a trivial committing agent, next to a bash
//! script that for each WP runs `git worktree add`, the same agent as implementer and as
//! reviewer, 4 WPs at a time (`xargs -P4`). Then the peak RSS of a `KITTY_BENCH_RSS_WPS` (1000)
//! WP run, measured in a child process of its own so nothing else is counted.
//! Prints `FIGURE|…` lines; no assertion.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use kitty_orchestrator::engine::{RunOptions, RunOutcome, no_events};
use kitty_orchestrator::{Config, Orchestrator};
use tokio_util::sync::CancellationToken;

const SLUG: &str = "970-flat";

fn git(dir: &Path, args: &[&str]) {
    let ok = Command::new("git").args(args).current_dir(dir).status().unwrap().success();
    assert!(ok, "git {args:?}");
}

fn agent() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/agents/trivial-agent")
}

fn feature(dir: &Path, wps: usize) {
    git(dir, &["init", "-q", "-b", "main"]);
    let tasks = dir.join(format!("kitty-specs/{SLUG}/tasks"));
    std::fs::create_dir_all(&tasks).unwrap();
    for k in 1..=wps {
        let text = format!("---\nwork_package_id: WP{k:04}\ntitle: Work package {k}\ndependencies: []\n---\nwork\n");
        std::fs::write(tasks.join(format!("WP{k:04}-x.md")), text).unwrap();
    }
    git(dir, &["add", "-A"]);
    git(dir, &["-c", "user.name=b", "-c", "user.email=b@b", "commit", "-q", "-m", "feature"]);
}

/// Runs the feature in `dir` through the orchestrator; returns the wall time.
fn orchestrate(dir: &Path, wps: usize) -> Duration {
    let cfg = format!(
        "max_concurrent_wps = 4\n[agents]\nimplementation = [\"t\"]\nreview = [\"r\"]\n[agents.t]\ncommand = [\"{0}\"]\noutput = \"stream-json\"\n[agents.r]\ncommand = [\"{0}\"]\noutput = \"stream-json\"\n",
        agent().display()
    );
    let orch = Orchestrator::open(dir, Some(Config::from_toml_str(&cfg, "bench").unwrap())).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let opts = RunOptions { grace: Duration::from_secs(1), ..RunOptions::default() };
    let start = Instant::now();
    let summary = runtime.block_on(orch.run(SLUG, opts, no_events(), CancellationToken::new())).unwrap();
    let wall = start.elapsed();
    assert_eq!((summary.outcome, summary.done), (RunOutcome::Completed, wps), "{summary:#?}");
    wall
}

/// The bare script: worktree, implement, review, 4 WPs at a time.
fn script(dir: &Path, wps: usize) -> Duration {
    let body = r#"set -e
one() {
  wp=$1
  git worktree add -q -b "bare/$wp" ".bare/$wp" main
  cd ".bare/$wp"
  KITTY_ROLE=implementation KITTY_WP=$wp "$AGENT" < /dev/null > /dev/null
  KITTY_ROLE=review KITTY_WP=$wp "$AGENT" < /dev/null > /dev/null
}
export -f one
seq -f 'WP%04g' 1 "$WPS" | xargs -P4 -I{} bash -c 'one {}'
"#;
    let path = dir.join("bare.sh");
    std::fs::write(&path, body).unwrap();
    let start = Instant::now();
    let ok = Command::new("bash")
        .arg(&path)
        .current_dir(dir)
        .env("AGENT", agent())
        .env("WPS", wps.to_string())
        .status()
        .unwrap()
        .success();
    let wall = start.elapsed();
    assert!(ok, "the bare script failed");
    wall
}

fn main() {
    // The child half: one run, then its own peak RSS.
    if let Ok(dir) = std::env::var("KITTY_BENCH_CHILD_RUN") {
        let wps: usize = std::env::var("KITTY_BENCH_RSS_WPS").unwrap().parse().unwrap();
        let wall = orchestrate(Path::new(&dir), wps);
        let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF).unwrap();
        println!("{} {}", usage.max_rss(), wall.as_millis());
        return;
    }
    let wps: usize = std::env::var("KITTY_BENCH_WPS").ok().and_then(|v| v.parse().ok()).unwrap_or(100);
    let rss_wps: usize = std::env::var("KITTY_BENCH_RSS_WPS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let ours_dir = tempfile::tempdir().unwrap();
    feature(ours_dir.path(), wps);
    let theirs_dir = tempfile::tempdir().unwrap();
    feature(theirs_dir.path(), wps);
    let theirs = script(theirs_dir.path(), wps).as_secs_f64() * 1e3;
    let ours = orchestrate(ours_dir.path(), wps).as_secs_f64() * 1e3;
    println!(
        "FIGURE|{wps}-WP flat feature, concurrency 4, trivial agent: whole run|{ours:.0} ms|bare script (git worktree add + implement + review, xargs -P4)|{theirs:.0} ms|{:.2}|~1x",
        ours / theirs
    );

    let rss_dir = tempfile::tempdir().unwrap();
    feature(rss_dir.path(), rss_wps);
    let out = Command::new(std::env::current_exe().unwrap())
        .env("KITTY_BENCH_CHILD_RUN", rss_dir.path())
        .env("KITTY_BENCH_RSS_WPS", rss_wps.to_string())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let mut fields = text.split_whitespace();
    let kib: f64 = fields.next().unwrap().parse().unwrap();
    let wall: f64 = fields.next().unwrap().parse().unwrap();
    println!(
        "FIGURE|peak RSS of the orchestrator over a {rss_wps}-WP run ({:.1} s, trivial agent)|{:.1} MiB|target|100 MiB|{:.2}|< 1",
        wall / 1e3,
        kib / 1024.0,
        kib / 1024.0 / 100.0
    );
}
