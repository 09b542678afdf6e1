//! Benchmarks of the git state store (run with `cargo bench -p kitty-orchestrator --bench state`):
//! single-writer transitions per second, and reading the state of a 1000-WP feature with loose
//! and with packed refs, next to `git for-each-ref` on the same refs. Prints figures; no assertion.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use kitty_orchestrator::role::Role;
use kitty_orchestrator::state::{Append, Owner, StateStore, WpEvent, this_host};
use kitty_orchestrator::{WpId, load_feature};

fn git(dir: &std::path::Path, args: &[&str]) {
    let ok = Command::new("git").args(args).current_dir(dir).output().expect("git").status.success();
    assert!(ok, "git {args:?}");
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let wps: usize = std::env::var("KITTY_BENCH_WPS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["-c", "user.name=b", "-c", "user.email=b@b", "commit", "-q", "--allow-empty", "-m", "init"]);
    let feature_dir = dir.join("kitty-specs/900-bench");
    std::fs::create_dir_all(feature_dir.join("tasks")).unwrap();
    for i in 1..=wps {
        std::fs::write(
            feature_dir.join(format!("tasks/WP{i:04}-x.md")),
            format!("---\nwork_package_id: WP{i:04}\ntitle: t\nlane: planned\n---\nbody\n"),
        )
        .unwrap();
    }
    let feature = load_feature(&feature_dir).unwrap();
    let store = StateStore::open(dir).unwrap();

    let start = Instant::now();
    store.import_feature(&feature, None).unwrap();
    let import = start.elapsed();
    println!("import {wps} WPs (create {wps} chains): {:.0} ms", import.as_secs_f64() * 1e3);

    write_rate(None);
    if Path::new("/dev/shm").is_dir() {
        // The same on a RAM file system: what the writes cost in this process, without the disk.
        write_rate(Some(Path::new("/dev/shm")));
    }

    let measure = |label: &str| {
        let ours = median(
            (0..11)
                .map(|_| {
                    // A fresh store each time: nothing cached from the writes above.
                    let store = StateStore::open(dir).unwrap();
                    let t = Instant::now();
                    assert_eq!(store.feature_states(&feature.slug).unwrap().len(), wps);
                    t.elapsed()
                })
                .collect(),
        );
        let plain = median(
            (0..11)
                .map(|_| {
                    let t = Instant::now();
                    git(dir, &["for-each-ref", "--format=%(objectname) %(refname)", "refs/kitty/wp/900-bench/"]);
                    t.elapsed()
                })
                .collect(),
        );
        println!(
            "status of {wps} WPs, {label}: feature_states {:.1} ms (reads every state.json) vs `git for-each-ref` {:.1} ms (names only)",
            ours.as_secs_f64() * 1e3,
            plain.as_secs_f64() * 1e3
        );
    };
    measure("loose objects and refs");
    store.pack_objects(&feature.slug).unwrap();
    store.pack_refs().unwrap();
    measure("packed objects and refs, as a run leaves them");
}

/// Single writer: a claim, then agent started/finished pairs on one WP of a one-WP feature in a
/// new repository under `base` (the system's temp dir when `None`), next to plain files written
/// in the same directory.
fn write_rate(base: Option<&Path>) {
    let tmp = match base {
        Some(base) => tempfile::tempdir_in(base).unwrap(),
        None => tempfile::tempdir().unwrap(),
    };
    let dir = tmp.path();
    git(dir, &["init", "-q", "-b", "main"]);
    let feature_dir = dir.join("kitty-specs/900-bench");
    std::fs::create_dir_all(feature_dir.join("tasks")).unwrap();
    std::fs::write(
        feature_dir.join("tasks/WP0001-x.md"),
        "---\nwork_package_id: WP0001\ntitle: t\nlane: planned\n---\nbody\n",
    )
    .unwrap();
    let feature = load_feature(&feature_dir).unwrap();
    let store = StateStore::open(dir).unwrap();
    store.import_feature(&feature, None).unwrap();
    let wp = WpId::parse("WP0001").unwrap();
    let owner = Owner { run_id: "bench".into(), pid: std::process::id(), host: this_host() };
    store.append(&feature.slug, &wp, &Append::new(WpEvent::Claimed { owner }).run("bench")).unwrap();
    let (where_, target) = match base {
        Some(base) => (format!(" on {} (tmpfs: no disk)", base.display()), "CPU cost"),
        None => (String::new(), ">= 2000/s"),
    };
    // The side-by-side reference: the same snapshots written as plain files, atomically (a new
    // file renamed over the old, as `cat state.json > tmp && mv tmp state` does) — one file per
    // transition, where a git event needs four (three objects and the ref's lock). The two are
    // interleaved in rounds, so both see the disk in the same mood (its file-creation rate swings
    // several-fold within a minute, with what was deleted just before).
    let json = serde_json::to_vec_pretty(&store.wp_state(&feature.slug, &wp).unwrap().unwrap()).unwrap();
    let plain = dir.join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    let (rounds, per_round) = (10u32, 100u32);
    let n = rounds * per_round;
    let (mut elapsed, mut plain_elapsed) = (Duration::ZERO, Duration::ZERO);
    for round in 0..rounds {
        let start = Instant::now();
        for i in 0..per_round / 2 {
            let attempt = round * per_round / 2 + i + 1;
            let started = WpEvent::AgentStarted {
                agent: "codex".into(),
                role: Role::Implementation,
                attempt,
                pid: None,
                log: None,
            };
            store.append(&feature.slug, &wp, &Append::new(started).run("bench")).unwrap();
            let finished = WpEvent::AgentFinished {
                agent: "codex".into(),
                role: Role::Implementation,
                attempt,
                failure: None,
                cost_usd: None,
                duration_ms: 1,
                head: None,
                withheld: Vec::new(),
                refused: Vec::new(),
                session: None,
            };
            store.append(&feature.slug, &wp, &Append::new(finished).run("bench")).unwrap();
        }
        elapsed += start.elapsed();
        let start = Instant::now();
        for i in 0..per_round {
            let tmp = plain.join(format!("state.json.{}", round * per_round + i));
            std::fs::write(&tmp, &json).unwrap();
            std::fs::rename(&tmp, plain.join("state.json")).unwrap();
        }
        plain_elapsed += start.elapsed();
    }
    let ours = f64::from(n) / elapsed.as_secs_f64();
    let files = f64::from(n) / plain_elapsed.as_secs_f64();
    println!(
        "FIGURE|state writes, single writer{where_}: transitions per second ({:.0} µs each)|{ours:.0}/s|plain file written and renamed per transition (cat > file)|{files:.0}/s|{:.2}|{target}",
        elapsed.as_secs_f64() * 1e6 / f64::from(n),
        ours / files
    );
}
