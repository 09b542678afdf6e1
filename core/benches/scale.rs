//! The largest feature a WP id allows (`cargo bench -p kitty-orchestrator --bench scale`): ids are
//! `WP` and 2-4 digits (DESIGN.md), so `KITTY_BENCH_WPS` defaults to 9999 WPs — flat layout,
//! random DAG, realistic frontmatter and a 2 KiB prompt each. Measures loading, validating and
//! planning it (`Orchestrator::plan`, what `run --dry-run` does) next to merely reading the same
//! files' bytes (what `cat tasks/*` costs), and, when `KITTY_BENCH_CLI` names the binary, the
//! whole `kitty-orchestrator validate` process. Prints `FIGURE|…` lines; no assertion.

use std::path::Path;
use std::process::Command;

use kitty_orchestrator::engine::RunOptions;
use kitty_orchestrator::{Config, Orchestrator};
use support::time_ms as time;

mod support;

const SLUG: &str = "980-scale";

fn generate(dir: &Path, count: usize) {
    let ok = Command::new("git").args(["init", "-q", "-b", "main"]).current_dir(dir).status().unwrap().success();
    assert!(ok);
    support::generate_tasks(&dir.join(format!("kitty-specs/{SLUG}/tasks")), count);
}

fn main() {
    let count: usize = std::env::var("KITTY_BENCH_WPS").ok().and_then(|v| v.parse().ok()).unwrap_or(9999);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    generate(dir, count);
    let tasks = dir.join(format!("kitty-specs/{SLUG}/tasks"));
    let cfg = "[agents]\nimplementation = [\"t\"]\nreview = [\"t\"]\n[agents.t]\ncommand = [\"true\"]\n";
    let config = Config::from_toml_str(cfg, "bench").unwrap();

    let read_only = time(7, || {
        let mut bytes = 0;
        for entry in std::fs::read_dir(&tasks).unwrap() {
            bytes += std::fs::read(entry.unwrap().path()).unwrap().len();
        }
        assert!(bytes > 0);
    });
    let plan = time(7, || {
        let orch = Orchestrator::open(dir, Some(config.clone())).unwrap();
        let plan = orch.plan(SLUG, &RunOptions::default()).unwrap();
        assert_eq!(plan.wps.len(), count);
    });
    println!(
        "FIGURE|{count}-WP feature: load + validate + plan (Orchestrator::plan, in-process)|{plan:.0} ms|reading the same files (cat)|{read_only:.0} ms|{:.2}|< 1 s",
        plan / read_only
    );
    if let Some(cli) = std::env::var_os("KITTY_BENCH_CLI") {
        let validate = time(5, || {
            let out = Command::new(&cli).args(["validate", SLUG]).current_dir(dir).output().unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
        });
        let cat = time(5, || {
            let files: Vec<_> = std::fs::read_dir(&tasks).unwrap().map(|e| e.unwrap().path()).collect();
            let out = Command::new("cat").args(&files).output().unwrap();
            assert!(out.status.success());
        });
        println!(
            "FIGURE|{count}-WP feature: `kitty-orchestrator validate`, whole process|{validate:.0} ms|`cat` of the same files|{cat:.0} ms|{:.2}|< 1 s",
            validate / cat
        );
    }
}
