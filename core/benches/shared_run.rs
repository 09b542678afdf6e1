//! A feature's wall time on one machine and on two sharing it through a loopback `git daemon`
//! (run with `cargo bench -p kitty-orchestrator --bench shared_run`). `KITTY_BENCH_WPS` (12)
//! independent WPs, agents that sleep `KITTY_BENCH_SLEEP_MS` (1000) per attempt — so the
//! machines' CPU is not the limit — and two WPs at a time per machine. Prints both wall times and
//! their ratio; the two-machine figure includes every claim, heartbeat and branch push.

use std::path::Path;
use std::time::{Duration, Instant};

use kitty_orchestrator::engine::{RunOptions, RunOutcome, no_events};
use kitty_orchestrator::{Config, Orchestrator};
use kitty_test_support::{GitDaemon, agent_table, git};
use tokio_util::sync::CancellationToken;

const SLUG: &str = "300-bench-shared";

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A bare remote `remote.git` under `served` holding the feature, and `n` clones of it.
fn fleet(tmp: &Path, served: &Path, url: &str, wps: usize, n: usize) -> Vec<std::path::PathBuf> {
    git(served, &["init", "-q", "--bare", "-b", "main", "remote.git"]);
    let seed = tmp.join("seed");
    git(tmp, &["init", "-q", "-b", "main", seed.to_str().unwrap()]);
    let ids: Vec<String> = (1..=wps).map(|i| format!("WP{i:02}")).collect();
    let list: Vec<(&str, &str, &[&str])> = ids.iter().map(|id| (id.as_str(), "planned", &[][..])).collect();
    kitty_test_support::write_feature(&seed, SLUG, &list);
    git(&seed, &["add", "-A"]);
    git(&seed, &["-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "feature"]);
    git(&seed, &["push", "-q", url, "main"]);
    (0..n)
        .map(|i| {
            let dir = tmp.join(format!("machine-{i}"));
            git(tmp, &["clone", "-q", url, dir.to_str().unwrap()]);
            git(&dir, &["config", "user.name", "bench"]);
            git(&dir, &["config", "user.email", "bench@example.com"]);
            dir
        })
        .collect()
}

fn config(i: usize, shared: bool, sleep_ms: usize) -> Config {
    let sleep = sleep_ms.to_string();
    let env = [("FAKE_SLEEP_MS", sleep.as_str())];
    let sync = if shared {
        format!(
            "sync_remote = \"origin\"\nhost_id = \"bench-{i}\"\nlease_seconds = 30\nlease_renew_seconds = 2\nsync_interval_seconds = 1\n"
        )
    } else {
        String::new()
    };
    let text = format!(
        "max_concurrent_wps = 2\n{sync}[agents]\nimplementation = [\"impl\"]\nreview = [\"rev\"]\n{}\n{}",
        agent_table("impl", &env),
        agent_table("rev", &env)
    );
    Config::from_toml_str(&text, "bench.toml").unwrap()
}

async fn wall_time(machines: usize, wps: usize, sleep_ms: usize) -> Duration {
    let tmp = tempfile::tempdir().unwrap();
    let served = tmp.path().join("served");
    std::fs::create_dir_all(&served).unwrap();
    let daemon = GitDaemon::start(&served);
    let clones = fleet(tmp.path(), &served, &daemon.url("remote.git"), wps, machines);
    let shared = machines > 1;
    let opts = || RunOptions { retry_base: Duration::from_millis(20), ..RunOptions::default() };
    let started = Instant::now();
    let mut runs = tokio::task::JoinSet::new();
    for (i, dir) in clones.iter().enumerate() {
        let orch = Orchestrator::open(dir, Some(config(i, shared, sleep_ms))).unwrap();
        runs.spawn(async move { orch.run(SLUG, opts(), no_events(), CancellationToken::new()).await });
    }
    for summary in runs.join_all().await {
        let summary = summary.unwrap();
        assert_eq!((summary.outcome, summary.done), (RunOutcome::Completed, wps), "{summary:#?}");
    }
    started.elapsed()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() {
    let (wps, sleep_ms) = (env_or("KITTY_BENCH_WPS", 12), env_or("KITTY_BENCH_SLEEP_MS", 1000));
    let one = wall_time(1, wps, sleep_ms).await;
    let two = wall_time(2, wps, sleep_ms).await;
    println!("shared run, {wps} WPs, agents sleeping {sleep_ms} ms, 2 WPs at a time per machine:");
    println!("  one machine:  {:>8.2} s", one.as_secs_f64());
    println!("  two machines: {:>8.2} s (through a loopback git daemon)", two.as_secs_f64());
    println!("  speed-up:     {:>8.2}x", one.as_secs_f64() / two.as_secs_f64());
}
