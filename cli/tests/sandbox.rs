//! The sandbox modes as real processes, on a kernel without Landlock (simulated with
//! `KITTY_SANDBOX_UNSUPPORTED=1`): `required` refuses to start the agent and says why;
//! `best_effort` runs unconfined and says so; `agents` reports the sandbox.

mod common;

use common::{bin, repo, write_config_full};

fn run(dir: &std::path::Path) -> (Option<i32>, String) {
    let out = bin()
        .args(["run", "070-box", "--grace", "1"])
        .env("KITTY_SANDBOX_UNSUPPORTED", "1")
        .current_dir(dir)
        .output()
        .unwrap();
    (out.status.code(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn required_refuses_without_landlock_and_best_effort_says_it_runs_unconfined() {
    let tmp = repo("070-box", 1, "");
    let dir = tmp.path();
    write_config_full(dir, "sandbox = \"required\"\nmax_retries = 0", "", "");
    let (code, text) = run(dir);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("sandbox = \"required\" but Landlock is unavailable"), "{text}");
    let log = std::fs::read_to_string(dir.join(".kittify/logs/070-box/WP01-implementation-1.log")).unwrap();
    assert!(log.contains("# not started: sandbox = \"required\""), "{log}");

    let tmp = repo("070-box", 1, "");
    let dir = tmp.path();
    write_config_full(dir, "max_retries = 0", "", "");
    let (code, text) = run(dir);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("agents run unconfined (sandbox = \"best_effort\")"), "{text}");
    let log = std::fs::read_to_string(dir.join(".kittify/logs/070-box/WP01-implementation-1.log")).unwrap();
    assert!(log.contains("# sandbox: unconfined (Landlock is unavailable"), "{log}");

    let agents = bin().args(["agents"]).env("KITTY_SANDBOX_UNSUPPORTED", "1").current_dir(dir).output().unwrap();
    assert!(
        String::from_utf8_lossy(&agents.stdout).starts_with("sandbox: unavailable"),
        "{}",
        String::from_utf8_lossy(&agents.stdout)
    );
    let here = bin().args(["agents"]).current_dir(dir).output().unwrap();
    let first = String::from_utf8_lossy(&here.stdout).lines().next().unwrap_or_default().to_string();
    assert!(first.starts_with("sandbox: landlock") || first.starts_with("sandbox: unavailable"), "{first}");
}
