//! What several benches share: the generated feature and the timing loop. Each bench uses part
//! of it, hence the allowance below.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use kitty_orchestrator::load_feature;
use kitty_orchestrator::role::Role;
use kitty_orchestrator::state::{Append, Owner, StateStore, WpEvent, this_host};

/// Writes `count` spec-kitty WP files into `tasks`: flat layout, a random DAG (0–3 dependencies
/// on earlier WPs, same seed every time), realistic frontmatter and a 2 KiB prompt each.
pub fn generate_tasks(tasks: &Path, count: usize) {
    std::fs::create_dir_all(tasks).expect("mkdir");
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let body = "Implement the thing described here, with tests.\n".repeat(40);
    for n in 1..=count {
        let deps: Vec<String> = if n == 1 {
            Vec::new()
        } else {
            let k = (next() % 4) as usize;
            let mut d: Vec<usize> = (0..k).map(|_| 1 + (next() as usize % (n - 1))).collect();
            d.sort();
            d.dedup();
            d.iter().map(|i| format!("  - \"WP{i:04}\"")).collect()
        };
        let deps = if deps.is_empty() { " []".to_string() } else { format!("\n{}", deps.join("\n")) };
        let text = format!(
            "---\nwork_package_id: \"WP{n:04}\"\nsubtasks:\n  - \"T{n}1\"\n  - \"T{n}2\"\ntitle: \"Generated work package {n}\"\nphase: \"Phase 1\"\nlane: \"planned\"\nassignee: \"\"\nagent: \"\"\nshell_pid: \"\"\ndependencies:{deps}\nhistory:\n  - timestamp: \"2026-01-18T16:21:51Z\"\n    lane: \"planned\"\n    agent: \"system\"\n    action: \"Prompt generated\"\n---\n\n# Work Package Prompt: WP{n:04}\n\n{body}"
        );
        std::fs::write(tasks.join(format!("WP{n:04}-generated.md")), text).expect("write");
    }
}

/// The median of `times`, in milliseconds.
pub fn median_ms(mut times: Vec<Duration>) -> f64 {
    times.sort();
    times[times.len() / 2].as_secs_f64() * 1e3
}

/// `f` once to warm up, then the median of `runs` timed calls, in milliseconds.
pub fn time_ms(runs: usize, mut f: impl FnMut()) -> f64 {
    f();
    median_ms((0..runs).map(|_| (Instant::now(), f())).map(|(t, ())| t.elapsed()).collect())
}

/// `git args` in `dir`, its output.
pub fn git(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("git").args(args).current_dir(dir).output().expect("git");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// A feature `900-bench` of `wps` WPs, each taken through one whole implement → review → done
/// cycle (9 events), refs packed as a run leaves them.
pub fn populate_cycled(dir: &Path, wps: usize) {
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
            session: None,
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
