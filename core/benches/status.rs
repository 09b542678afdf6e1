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

use std::process::Command;

use kitty_orchestrator::Orchestrator;
use support::{git, time_ms as time};

mod support;

fn main() {
    let wps: usize = std::env::var("KITTY_BENCH_WPS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let runs = 15;
    let keep = std::env::var_os("KITTY_BENCH_KEEP").map(std::path::PathBuf::from);
    let tmp = tempfile::tempdir().unwrap();
    let dir = keep.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&dir).unwrap();
    support::populate_cycled(&dir, wps);

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
