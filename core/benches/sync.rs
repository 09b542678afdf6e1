//! Claims through a shared remote (run with `cargo bench -p kitty-orchestrator --bench sync`):
//! one machine claiming and releasing a WP back to back through a `git daemon` on loopback and
//! through `file://` — claims per second, next to a bare `git push` of one ref to the same remote
//! (the floor: one claim is a fetch plus a push) — then `KITTY_BENCH_MACHINES` (default 4)
//! machines racing for it `KITTY_BENCH_ROUNDS` (default 1000) rounds: double claims (must be 0)
//! and the winners' claim latency distribution. Prints figures; no assertion besides 0 double
//! claims.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kitty_orchestrator::redact::Redactor;
use kitty_orchestrator::state::{Append, Owner, StateStore, WpEvent};
use kitty_orchestrator::sync::SharedState;
use kitty_orchestrator::{FeatureSlug, WpId, load_feature};
use kitty_test_support::{GitDaemon, git};

fn owner(i: usize, n: usize) -> Owner {
    Owner { run_id: format!("run-{i}-{n}"), pid: 1, host: format!("host-{i}") }
}

/// A bare remote under `base` with a one-WP feature's chain, and `machines` clones of it.
fn setup(base: &Path, url: &str, machines: usize) -> (FeatureSlug, WpId, Vec<SharedState>) {
    git(base, &["init", "-q", "--bare", "-b", "main", "remote.git"]);
    let seed = base.join("seed");
    git(base, &["init", "-q", "-b", "main", seed.to_str().unwrap()]);
    let dir = kitty_test_support::write_feature(&seed, "100-bench", &[("WP01", "planned", &[])]);
    git(&seed, &["add", "-A"]);
    git(&seed, &["-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "feature"]);
    let feature = load_feature(&dir).unwrap();
    StateStore::open(&seed).unwrap().import_feature(&feature, None).unwrap();
    git(&seed, &["push", "-q", url, "main", "refs/kitty/wp/100-bench/WP01"]);
    let clones = (0..machines)
        .map(|i| {
            let clone = base.join(format!("m{i}"));
            git(base, &["clone", "-q", url, clone.to_str().unwrap()]);
            SharedState::new(StateStore::open(&clone).unwrap(), &clone, "origin", Arc::new(Redactor::from_env(&[])))
        })
        .collect();
    (feature.slug.clone(), feature.work_packages[0].id.clone(), clones)
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * q) as usize]
}

async fn sequential(label: &str, url: &str, base: &Path, claims: usize) {
    let (slug, wp, machines) = setup(base, url, 1);
    let shared = &machines[0];
    let started = Instant::now();
    for n in 0..claims {
        let claim = Append::new(WpEvent::Claimed { owner: owner(0, n) }).run(format!("run-0-{n}"));
        shared.append(&slug, &wp, &claim, &[]).await.unwrap();
        let release = Append::new(WpEvent::Released { reason: "bench".into() }).run(format!("run-0-{n}"));
        shared.append(&slug, &wp, &release, &[]).await.unwrap();
    }
    let per_claim = started.elapsed() / (claims as u32 * 2);
    // The floor: one bare `git push` of a ref to the same remote, as many times.
    let seed = base.join("seed");
    let pushes = Instant::now();
    for n in 0..claims {
        git(&seed, &["push", "-q", url, &format!("HEAD:refs/bench/{n}")]);
    }
    let per_push = pushes.elapsed() / claims as u32;
    println!(
        "{label}: {:.1} shared writes/s ({per_claim:?} each: fetch + push) vs bare `git push` {per_push:?} ({:.2}×)",
        1.0 / per_claim.as_secs_f64(),
        per_claim.as_secs_f64() / per_push.as_secs_f64()
    );
}

async fn racing(label: &str, url: &str, base: &Path, machines: usize, rounds: usize) {
    let (slug, wp, fleet) = setup(base, url, machines);
    let mut latencies = Vec::new();
    let mut doubles = 0;
    let started = Instant::now();
    for round in 0..rounds {
        let barrier = Arc::new(tokio::sync::Barrier::new(machines));
        let mut tasks = tokio::task::JoinSet::new();
        for (i, shared) in fleet.iter().enumerate() {
            let (shared, slug, wp, barrier) = (shared.clone(), slug.clone(), wp.clone(), barrier.clone());
            tasks.spawn(async move {
                barrier.wait().await;
                let claim = Append::new(WpEvent::Claimed { owner: owner(i, round) }).run(format!("run-{i}-{round}"));
                (i, shared.append(&slug, &wp, &claim, &[]).await.map(|s| s.latency))
            });
        }
        let winners: Vec<(usize, Duration)> =
            tasks.join_all().await.into_iter().filter_map(|(i, r)| r.ok().map(|l| (i, l))).collect();
        doubles += winners.len().saturating_sub(1);
        let (winner, latency) = winners[0];
        latencies.push(latency);
        let release =
            Append::new(WpEvent::Released { reason: "round over".into() }).run(format!("run-{winner}-{round}"));
        fleet[winner].append(&slug, &wp, &release, &[]).await.unwrap();
    }
    latencies.sort();
    println!(
        "{label}: {machines} machines × {rounds} rounds in {:.1} s: {doubles} double claims; winner's claim latency p50 {:?}, p90 {:?}, p99 {:?}, max {:?}",
        started.elapsed().as_secs_f64(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.9),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0)
    );
    assert_eq!(doubles, 0, "double claims");
}

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() {
    let machines = std::env::var("KITTY_BENCH_MACHINES").ok().and_then(|v| v.parse().ok()).unwrap_or(4);
    let rounds = std::env::var("KITTY_BENCH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    for (label, daemon) in [("git daemon", true), ("file://", false)] {
        let base = tempfile::tempdir().unwrap();
        let served = daemon.then(|| GitDaemon::start(base.path()));
        let url = match &served {
            Some(d) => d.url("remote.git"),
            None => format!("file://{}/remote.git", base.path().display()),
        };
        sequential(label, &url, base.path(), 100).await;
        let race = tempfile::tempdir().unwrap();
        let served = daemon.then(|| GitDaemon::start(race.path()));
        let url = match &served {
            Some(d) => d.url("remote.git"),
            None => format!("file://{}/remote.git", race.path().display()),
        };
        racing(label, &url, race.path(), machines, rounds).await;
    }
}
