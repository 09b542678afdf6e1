//! The sandbox modes as real processes, on a kernel without Landlock (simulated with
//! `KITTY_SANDBOX_UNSUPPORTED=1`): `required` refuses the run before anything starts and says
//! why; `best_effort` runs unconfined and says so; `agents` and `doctor` report the sandbox.

use crate::common;

use crate::common::{bin, repo, write_config_full};

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
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("sandbox = \"required\" for "), "{text}");
    assert!(text.contains("Landlock is unavailable") && text.contains("nothing was started"), "{text}");
    // Refused before anything: no state, no worktree, no attempt.
    assert_eq!(common::git(dir, &["for-each-ref", "refs/kitty/"]), "");
    assert!(!dir.join(".kittify/logs/070-box").exists());

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

#[test]
fn doctor_reports_the_sandbox_and_each_agents_writable_set() {
    let tmp = repo("071-doc", 1, "");
    let dir = tmp.path();
    write_config_full(dir, "sandbox = \"required\"\nwritable = [\"/srv/shared\"]", "", "");
    let out = bin().args(["doctor", "--json"]).env("KITTY_SANDBOX_UNSUPPORTED", "1").current_dir(dir).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["sandbox"]["available"], false, "{report:#}");
    assert_eq!(report["sandbox"]["mode"], "required");
    let codex = report["agents"].as_array().unwrap().iter().find(|a| a["id"] == "codex").unwrap();
    assert_eq!(codex["sandbox"]["confined"], false);
    let writes = |role: &str| -> Vec<String> {
        codex["sandbox"][role].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
    };
    let implementation = writes("implementation_writable");
    for expected in [
        "<worktree>",
        "<git-common-dir>/worktrees/<worktree-name>",
        "<git-common-dir>/kitty/quarantine/<worktree-name>",
        "<attempt-tmp>",
        "/srv/shared",
    ] {
        assert!(implementation.iter().any(|p| p == expected), "{expected} in {implementation:?}");
    }
    // Never the repository's objects or refs: an attempt adds objects and moves its branch
    // through its private store only.
    for never in ["<git-common-dir>/objects", "<git-common-dir>/refs"] {
        assert!(!implementation.iter().any(|p| p.starts_with(never)), "{never} in {implementation:?}");
    }
    // Nothing under the home directory: codex works on a private copy of its own directory.
    let home = std::env::var("HOME").unwrap();
    assert!(!implementation.iter().any(|p| p.starts_with(&home)), "{implementation:?}");
    let copies = codex["sandbox"]["private_copies"].as_array().unwrap();
    assert!(copies.iter().any(|c| c.as_str().unwrap().starts_with("CODEX_HOME=<attempt-tmp>/")), "{copies:?}");
    assert!(!implementation.iter().any(|p| p.contains("refs/kitty")), "{implementation:?}");
    let review = writes("review_writable");
    assert!(!review.iter().any(|p| p.contains("<worktree>") || p.contains("<git-common-dir>")), "{review:?}");

    let here = bin().args(["doctor", "--json"]).current_dir(dir).output().unwrap();
    let here: serde_json::Value = serde_json::from_slice(&here.stdout).unwrap();
    if here["sandbox"]["available"] == true {
        assert!(here["sandbox"]["abi"].as_u64().is_some_and(|v| v >= 1), "{here:#}");
        let scoped = here["sandbox"]["scopes"].as_array().unwrap().len();
        assert_eq!(scoped > 0, here["sandbox"]["abi"].as_u64() >= Some(6), "{here:#}");
    }

    let text = bin().args(["doctor"]).env("KITTY_SANDBOX_UNSUPPORTED", "1").current_dir(dir).output().unwrap();
    let text = String::from_utf8_lossy(&text.stdout).into_owned();
    assert!(text.starts_with("sandbox: unavailable") && text.contains("runs are refused"), "{text}");
    assert!(text.contains("codex") && text.contains("refused: Landlock is unavailable"), "{text}");
}
