//! Status at git speed (`cargo bench -p kitty-orchestrator --bench status`): the board of a
//! 1000-WP feature whose WPs went through a whole implement → review → done cycle (9 events
//! each, refs packed as a run leaves them), read three ways, each next to `git for-each-ref`
//! printing the same refs' commit messages (whose trailers restate the state):
//!
//! - in-process: `Orchestrator::status` with a fresh orchestrator each time (nothing cached);
//! - whole process: `kitty-orchestrator status <feature> --json` when `KITTY_BENCH_CLI` names the
//!   binary (`scripts/bench` builds it);
//! - `KITTY_BENCH_KEEP=<dir>` leaves the repository there, so Python and Node can be timed on it.
//!
//! Prints medians; no assertion (machines are noisy).

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use kitty_orchestrator::role::Role;
use kitty_orchestrator::state::{Append, Owner, StateStore, WpEvent, this_host};
use kitty_orchestrator::{Orchestrator, load_feature};
use support::time_ms as time;

mod support;

fn git(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("git").args(args).current_dir(dir).output().expect("git");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// A feature of `wps` WPs, each taken through one whole cycle.
fn populate(dir: &Path, wps: usize) {
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["-c", "user.name=b", "-c", "user.email=b@b", "commit", "-q", "--allow-empty", "-m", "init"]);
    let feature_dir = dir.join("kitty-specs/900-bench");
    std::fs::create_dir_all(feature_dir.join("tasks")).unwrap();
    for i in 1..=wps {
        let text = format!("---\nwork_package_id: WP{i:04}\ntitle: Work package {i}\nlane: planned\n---\nbody\n");
        std::fs::write(feature_dir.join(format!("tasks/WP{i:04}-x.md")), text).unwrap();
    }
    let feature = load_feature(&feature_dir).unwrap();
    let store = StateStore::open(dir).unwrap();
    store.import_feature(&feature, None).unwrap();
    let head = String::from_utf8(git(dir, &["rev-parse", "HEAD"])).unwrap().trim().to_string();
    let owner = Owner { run_id: "bench-run".into(), pid: std::process::id(), host: this_host() };
    for wp in &feature.work_packages {
        let finished = |role| WpEvent::AgentFinished {
            agent: "codex".into(),
            role,
            attempt: 1,
            failure: None,
            cost_usd: Some(0.25),
            duration_ms: 1200,
            head: Some(head.clone()),
            withheld: Vec::new(),
            refused: Vec::new(),
        };
        let started = |role| WpEvent::AgentStarted { agent: "codex".into(), role, attempt: 1, pid: Some(1), log: None };
        let events = [
            WpEvent::Claimed { owner: owner.clone() },
            WpEvent::WorktreeReady {
                path: format!("/work/.worktrees/900-bench-{}", wp.id),
                branch: format!("kitty/900-bench/{}", wp.id),
                base: head.clone(),
            },
            started(Role::Implementation),
            finished(Role::Implementation),
            WpEvent::Submitted { head: head.clone() },
            started(Role::Review),
            finished(Role::Review),
            WpEvent::Approved { reviewer: "claude".into() },
        ];
        for event in events {
            store.append(&feature.slug, &wp.id, &Append::new(event).run("bench-run")).unwrap();
        }
    }
    // What the end of a run does.
    let start = Instant::now();
    let packed = store.pack_objects(&feature.slug).unwrap();
    let pack_ms = start.elapsed().as_secs_f64() * 1e3;
    store.pack_refs().unwrap();
    println!("(packing {packed} state objects at the end of the run took {pack_ms:.0} ms)");
}

fn main() {
    let wps: usize = std::env::var("KITTY_BENCH_WPS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let runs = 15;
    let keep = std::env::var_os("KITTY_BENCH_KEEP").map(std::path::PathBuf::from);
    let tmp = tempfile::tempdir().unwrap();
    let dir = keep.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&dir).unwrap();
    populate(&dir, wps);

    let for_each_ref = time(runs, || {
        git(&dir, &["for-each-ref", "--format=%(objectname) %(refname) %(contents)", "refs/kitty/wp/900-bench/"]);
    });
    let core = time(runs, || {
        let orch = Orchestrator::open(&dir, None).unwrap();
        assert_eq!(orch.status("900-bench").unwrap().wps.len(), wps);
    });
    println!(
        "FIGURE|status of {wps} WPs, in-process (Orchestrator::status, nothing cached)|{core:.1} ms|git for-each-ref with messages|{for_each_ref:.1} ms|{:.2}|core time",
        core / for_each_ref
    );
    if let Some(cli) = std::env::var_os("KITTY_BENCH_CLI") {
        let cli_ms = time(runs, || {
            let out = Command::new(&cli).args(["status", "900-bench", "--json"]).current_dir(&dir).output().unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        });
        println!(
            "FIGURE|status of {wps} WPs, whole process (kitty-orchestrator status --json)|{cli_ms:.1} ms|git for-each-ref with messages|{for_each_ref:.1} ms|{:.2}|<= 2x",
            cli_ms / for_each_ref
        );
    }
    if keep.is_some() {
        println!("CORE_STATUS_MS={core:.3}");
    }
}
