//! Races and crashes against the git state store: threads and processes claiming the same WPs,
//! processes writing notes at once, and writers killed with SIGKILL mid-append.
//!
//! Child processes are this test binary re-run on the ignored test `child`, driven by env vars.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use crate::common::{assert_fsck_clean, flat_feature, lock_files, repo};
use kitty_orchestrator::role::Role;
use kitty_orchestrator::state::{Append, Owner, StateStore, WpEvent, this_host};
use kitty_orchestrator::{FeatureSlug, Lane, WpId};

const ROUNDS: usize = 200;

fn owner(run: &str) -> Owner {
    Owner { run_id: run.into(), pid: std::process::id(), host: this_host() }
}

fn wp(i: usize) -> WpId {
    WpId::parse(&format!("WP{i:03}")).unwrap()
}

/// Spawns this test binary as a child running `role`.
fn spawn_child(role: &str, repo: &Path, name: &str, extra: &[(&str, String)]) -> std::process::Child {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "state_races::child", "--ignored", "--nocapture", "--test-threads=1"])
        .env("KITTY_CHILD", role)
        .env("KITTY_CHILD_REPO", repo)
        .env("KITTY_CHILD_NAME", name)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    cmd.spawn().expect("child starts")
}

/// Entry point of child processes; does nothing in a normal test run.
#[test]
#[ignore = "runs only as a child process of the other tests"]
fn child() {
    let Ok(role) = std::env::var("KITTY_CHILD") else { return };
    let repo = std::path::PathBuf::from(std::env::var("KITTY_CHILD_REPO").unwrap());
    let name = std::env::var("KITTY_CHILD_NAME").unwrap();
    let store = StateStore::open(&repo).unwrap();
    let slug = FeatureSlug::parse("001-race").unwrap();
    // Start together: wait for the go file.
    if let Ok(go) = std::env::var("KITTY_CHILD_GO") {
        while !Path::new(&go).exists() {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    match role.as_str() {
        "claim" => {
            for i in 1..=ROUNDS {
                match store.append(&slug, &wp(i), &Append::new(WpEvent::Claimed { owner: owner(&name) }).run(&name)) {
                    Ok(_) => println!("WON {}", wp(i)),
                    Err(err) => assert_eq!(err.code(), "state_conflict", "{err}"),
                }
            }
        }
        "notes" => {
            let targets: Vec<String> =
                std::env::var("KITTY_CHILD_TARGETS").unwrap().split(',').map(String::from).collect();
            for (i, target) in targets.iter().enumerate() {
                store.add_note(target, &serde_json::json!({"writer": name, "i": i})).unwrap();
            }
        }
        "append-loop" => {
            let id = wp(1);
            for attempt in 1.. {
                let start = WpEvent::AgentStarted {
                    agent: "codex".into(),
                    role: Role::Implementation,
                    attempt,
                    pid: None,
                    log: None,
                };
                // The children act for the run that owns the WP (the parent's).
                store.append(&slug, &id, &Append::new(start).run("parent").body("x".repeat(2000))).unwrap();
                let finish = WpEvent::AgentFinished {
                    agent: "codex".into(),
                    role: Role::Implementation,
                    attempt,
                    failure: None,
                    cost_usd: Some(0.01),
                    duration_ms: 1,
                    head: None,
                    withheld: Vec::new(),
                    refused: Vec::new(),
                    session: None,
                };
                store.append(&slug, &id, &Append::new(finish).run("parent")).unwrap();
            }
        }
        other => panic!("unknown child role {other}"),
    }
}

#[test]
fn eight_threads_race_to_claim_each_wp_exactly_one_wins() {
    let tmp = repo();
    let f = flat_feature(tmp.path(), "001-race", ROUNDS);
    let store = StateStore::open(tmp.path()).unwrap();
    store.import_feature(&f, None).unwrap();
    let threads = 8;
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let store = store.clone();
            let barrier = barrier.clone();
            let slug = f.slug.clone();
            std::thread::spawn(move || {
                let mut wins = Vec::new();
                for i in 1..=ROUNDS {
                    barrier.wait();
                    let run = format!("thread-{t}");
                    match store.append(&slug, &wp(i), &Append::new(WpEvent::Claimed { owner: owner(&run) }).run(&run)) {
                        Ok(state) => {
                            assert_eq!(state.owner.unwrap().run_id, run);
                            wins.push(i);
                        }
                        Err(err) => assert_eq!(err.code(), "state_conflict", "{err}"),
                    }
                }
                wins
            })
        })
        .collect();
    let mut winners: BTreeMap<usize, usize> = BTreeMap::new();
    for handle in handles {
        for i in handle.join().unwrap() {
            *winners.entry(i).or_default() += 1;
        }
    }
    assert_eq!(winners.len(), ROUNDS, "every round has a winner");
    assert!(winners.values().all(|&n| n == 1), "exactly one winner per round");
    for i in 1..=ROUNDS {
        let history = store.history(&f.slug, &wp(i)).unwrap();
        assert_eq!(history.len(), 2, "import + one claim, nothing lost or duplicated ({})", wp(i));
        assert_eq!(history[1].state.lane, Lane::Doing);
    }
    assert!(lock_files(&tmp.path().join(".git")).is_empty());
    assert_fsck_clean(tmp.path());
}

#[test]
fn four_processes_race_to_claim_each_wp_exactly_one_wins() {
    let tmp = repo();
    let f = flat_feature(tmp.path(), "001-race", ROUNDS);
    let store = StateStore::open(tmp.path()).unwrap();
    store.import_feature(&f, None).unwrap();
    let go = tmp.path().join(".git/go");
    let children: Vec<_> = (0..4)
        .map(|n| {
            spawn_child("claim", tmp.path(), &format!("proc-{n}"), &[("KITTY_CHILD_GO", go.display().to_string())])
        })
        .collect();
    std::fs::write(&go, "").unwrap();
    let mut winners: BTreeMap<String, usize> = BTreeMap::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "child failed");
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            // libtest prints "test child ... " without a newline before the child's own output.
            if let Some(id) = line.split("WON ").nth(1) {
                *winners.entry(id.to_string()).or_default() += 1;
            }
        }
    }
    assert_eq!(winners.len(), ROUNDS, "every WP was claimed");
    assert!(winners.values().all(|&n| n == 1), "exactly one winner per WP: {winners:?}");
    for i in 1..=ROUNDS {
        assert_eq!(store.history(&f.slug, &wp(i)).unwrap().len(), 2, "{}", wp(i));
    }
    std::fs::remove_file(&go).unwrap();
    assert!(lock_files(&tmp.path().join(".git")).is_empty());
    assert_fsck_clean(tmp.path());
}

#[test]
fn two_processes_writing_notes_lose_none() {
    let tmp = repo();
    let git2_repo = git2::Repository::open(tmp.path()).unwrap();
    let sig = git2::Signature::now("t", "t@example.com").unwrap();
    let tree = git2_repo.find_tree(git2_repo.treebuilder(None).unwrap().write().unwrap()).unwrap();
    let targets: Vec<String> = (0..ROUNDS)
        .map(|i| git2_repo.commit(None, &sig, &sig, &format!("code commit {i}"), &tree, &[]).unwrap().to_string())
        .collect();
    let go = tmp.path().join(".git/go");
    let extra = [("KITTY_CHILD_GO", go.display().to_string()), ("KITTY_CHILD_TARGETS", targets.join(","))];
    let children: Vec<_> = ["a", "b"].iter().map(|name| spawn_child("notes", tmp.path(), name, &extra)).collect();
    std::fs::write(&go, "").unwrap();
    for child in children {
        assert!(child.wait_with_output().unwrap().status.success());
    }
    std::fs::remove_file(&go).unwrap();
    let store = StateStore::open(tmp.path()).unwrap();
    let mut total = 0;
    for target in &targets {
        let notes = store.notes(target).unwrap();
        let writers: Vec<&str> = notes.iter().map(|n| n["writer"].as_str().unwrap()).collect();
        assert!(writers.contains(&"a") && writers.contains(&"b"), "{target}: {writers:?}");
        total += notes.len();
    }
    assert_eq!(total, 2 * ROUNDS);
    assert_fsck_clean(tmp.path());
}

#[test]
fn sigkill_mid_append_never_leaves_a_torn_state() {
    let tmp = repo();
    let f = flat_feature(tmp.path(), "001-race", 1);
    let store = StateStore::open(tmp.path()).unwrap();
    store.import_feature(&f, None).unwrap();
    store.append(&f.slug, &wp(1), &Append::new(WpEvent::Claimed { owner: owner("parent") }).run("parent")).unwrap();
    let mut last_seq = 1;
    for round in 0..50 {
        let mut child = spawn_child("append-loop", tmp.path(), "killed", &[]);
        // Kill it once it is inside its loop of appends (machines under load start slowly).
        let started = std::time::Instant::now();
        while store.wp_state(&f.slug, &wp(1)).unwrap().unwrap().seq <= last_seq
            && started.elapsed() < Duration::from_secs(20)
        {
            std::thread::sleep(Duration::from_millis(2));
        }
        std::thread::sleep(Duration::from_millis(fastrand::u64(0..40)));
        // SIGKILL: no destructor, no cleanup, at whatever instruction the child is on.
        child.kill().unwrap();
        child.wait().unwrap();
        let state = store.wp_state(&f.slug, &wp(1)).unwrap_or_else(|e| panic!("round {round}: {e}")).unwrap();
        assert!(state.seq >= last_seq, "round {round}: state went backwards");
        last_seq = state.seq;
    }
    // The chain is whole (history() checks every link) and still writable.
    let history = store.history(&f.slug, &wp(1)).unwrap();
    assert_eq!(history.len() as u64, last_seq + 1);
    assert!(last_seq > 50, "every child appended events before it was killed ({last_seq})");
    store
        .append(&f.slug, &wp(1), &Append::new(WpEvent::Blocked { reason: "done testing".into() }).run("parent"))
        .unwrap();
    assert_fsck_clean(tmp.path());
}
