//! Several machines sharing one feature's state through one bare remote (`file://` and a
//! `git daemon --enable=receive-pack` on loopback): every machine is its own clone with its own
//! host id, and a claim is a compare-and-swap on the remote — so machines racing for the same WP
//! never both get it.

use crate::common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use kitty_orchestrator::ids::{FeatureSlug, WpId};
use kitty_orchestrator::redact::Redactor;
use kitty_orchestrator::state::{Append, Owner, StateStore, WpEvent, wp_ref};
use kitty_orchestrator::sync::SharedState;

use crate::common::git;

/// A bare remote holding a one-WP feature whose chain was published by a first clone; `n`
/// machines, each a clone that fetched and adopted it.
struct Fleet {
    _tmp: tempfile::TempDir,
    machines: Vec<(PathBuf, SharedState)>,
    slug: FeatureSlug,
    wp: WpId,
    bare: PathBuf,
}

fn fleet(n: usize, url: impl Fn(&Path) -> String) -> Fleet {
    let tmp = tempfile::tempdir().unwrap();
    let bare = tmp.path().join("remote.git");
    git(tmp.path(), &["init", "-q", "--bare", "-b", "main", bare.to_str().unwrap()]);
    let seed = common::repo();
    let feature = common::feature(seed.path(), "100-shared", &[("WP01", "planned", &[])]);
    git(seed.path(), &["add", "-A"]);
    git(seed.path(), &["commit", "-qm", "feature"]);
    StateStore::open(seed.path()).unwrap().import_feature(&feature, None).unwrap();
    let remote = url(&bare);
    git(seed.path(), &["push", "-q", &remote, "main", "refs/kitty/wp/100-shared/WP01"]);
    let wp = feature.work_packages[0].id.clone();
    let slug = feature.slug.clone();
    let machines = (0..n)
        .map(|i| {
            let dir = tmp.path().join(format!("machine-{i}"));
            git(tmp.path(), &["clone", "-q", &remote, dir.to_str().unwrap()]);
            let store = StateStore::open(&dir).unwrap();
            let shared = SharedState::new(store, &dir, "origin", Arc::new(Redactor::from_env(&[])));
            (dir, shared)
        })
        .collect();
    Fleet { _tmp: tmp, machines, slug, wp, bare }
}

fn owner(i: usize, round: usize) -> Owner {
    Owner { run_id: format!("run-{i}-{round}"), pid: 1000 + i as u32, host: format!("host-{i}") }
}

/// `rounds` rounds of every machine claiming the WP at once; the winner releases it. Returns the
/// claim latencies (fetch to accepted push) of the winners.
async fn race(fleet: &Fleet, rounds: usize) -> Vec<Duration> {
    let mut latencies = Vec::new();
    for round in 0..rounds {
        let barrier = Arc::new(tokio::sync::Barrier::new(fleet.machines.len()));
        let mut tasks = tokio::task::JoinSet::new();
        for (i, (_, shared)) in fleet.machines.iter().enumerate() {
            let (shared, slug, wp, barrier) = (shared.clone(), fleet.slug.clone(), fleet.wp.clone(), barrier.clone());
            tasks.spawn(async move {
                barrier.wait().await;
                let claim = Append::new(WpEvent::Claimed { owner: owner(i, round) }).run(format!("run-{i}-{round}"));
                (i, shared.append(&slug, &wp, &claim, &[]).await)
            });
        }
        let mut winners = Vec::new();
        for (i, result) in tasks.join_all().await {
            match result {
                Ok(shared) => {
                    latencies.push(shared.latency);
                    winners.push(i);
                }
                Err(err) => assert!(
                    err.to_string().contains("already claimed by run"),
                    "round {round}, machine {i}: a lost race must say who won: {err}"
                ),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: exactly one machine claims the WP, not {winners:?}");
        let winner = winners[0];
        let release = Append::new(WpEvent::Released { reason: format!("round {round} over") })
            .run(format!("run-{winner}-{round}"));
        fleet.machines[winner].1.append(&fleet.slug, &fleet.wp, &release, &[]).await.unwrap();
    }
    latencies
}

/// The remote's chain: claims and releases alternate, one claim per round, each by the round's
/// winner; the remote is a sound repository.
fn check_remote_chain(fleet: &Fleet, rounds: usize) {
    let name = wp_ref(&fleet.slug, &fleet.wp);
    let subjects = git(&fleet.bare, &["log", "--format=%s", "--reverse", &name]);
    let events: Vec<&str> = subjects.lines().skip(1).collect();
    assert_eq!(events.len(), rounds * 2, "{subjects}");
    for pair in events.chunks(2) {
        assert!(!pair[0].contains("released") && pair[1].contains("released"), "{pair:?}");
    }
    kitty_test_support::assert_fsck_clean(&fleet.bare);
}

fn report(what: &str, mut latencies: Vec<Duration>) {
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    eprintln!(
        "{what}: {} claims, 0 double claims; latency p50 {:?}, p90 {:?}, max {:?}",
        latencies.len(),
        at(0.5),
        at(0.9),
        at(1.0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn machines_racing_for_a_wp_over_file_never_both_get_it() {
    let fleet = fleet(4, |bare| format!("file://{}", bare.display()));
    let rounds = 25;
    let latencies = race(&fleet, rounds).await;
    check_remote_chain(&fleet, rounds);
    report("file://, 4 machines", latencies);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn machines_racing_for_a_wp_over_git_daemon_never_both_get_it() {
    let base = tempfile::tempdir().unwrap();
    let daemon = kitty_test_support::GitDaemon::start(base.path());
    let port = daemon.port;
    // The bare repository must live under the daemon's base path: make it there, then point
    // the fleet at it through git://.
    let fleet = fleet(3, |bare| {
        let served = base.path().join("remote.git");
        if !served.exists() {
            std::os::unix::fs::symlink(bare, &served).unwrap();
        }
        format!("git://127.0.0.1:{port}/remote.git")
    });
    let rounds = 15;
    let latencies = race(&fleet, rounds).await;
    check_remote_chain(&fleet, rounds);
    report("git daemon, 3 machines", latencies);
    drop(daemon);
}

/// A WP chain force-pushed back on the remote after we saw it further on: not adopted (nothing
/// is redone from a rewound history), the WP is blocked here with a reason saying so, and every
/// later look finds the same — the tracking ref keeps what the remote had.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_rewound_on_the_remote_blocks_its_wp_instead_of_being_redone() {
    let fleet = fleet(1, |bare| format!("file://{}", bare.display()));
    let (dir, shared) = &fleet.machines[0];
    let name = wp_ref(&fleet.slug, &fleet.wp);
    let tips = shared.fetch(std::slice::from_ref(&name)).await.unwrap();
    shared.adopt(&name, tips.get(&name).copied()).unwrap();
    let imported = git(dir, &["rev-parse", &name]);
    let claim = Append::new(WpEvent::Claimed { owner: owner(0, 0) }).run("run-0-0");
    shared.append(&fleet.slug, &fleet.wp, &claim, &[]).await.unwrap();
    let claimed = git(dir, &["rev-parse", &name]);
    assert_ne!(claimed.trim(), imported.trim());
    // Someone rewinds the remote's chain to the import.
    git(&fleet.bare, &["update-ref", &name, imported.trim()]);
    let tips = shared.fetch(std::slice::from_ref(&name)).await.unwrap();
    assert_eq!(tips[&name].to_string(), imported.trim());
    let rewound = shared.rewound();
    assert_eq!(rewound.len(), 1, "{rewound:?}");
    shared.adopt(&name, tips.get(&name).copied()).unwrap();
    let state = StateStore::open(dir).unwrap().wp_state(&fleet.slug, &fleet.wp).unwrap().unwrap();
    assert_eq!(state.lane, kitty_orchestrator::Lane::Blocked, "{state:#?}");
    assert!(state.reason.as_deref().unwrap_or_default().contains("moved backwards"), "{state:#?}");
    // The local chain was not replaced by the rewound one; the next look finds the same.
    assert_ne!(git(dir, &["rev-parse", &name]).trim(), imported.trim());
    shared.fetch(std::slice::from_ref(&name)).await.unwrap();
    assert_eq!(shared.rewound().len(), 1);
    assert_eq!(git(&fleet.bare, &["rev-parse", &name]).trim(), imported.trim(), "nothing was pushed over it");
}
