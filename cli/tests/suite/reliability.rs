//! The reliability round (issue 12) through the real binary: signals, crashes, hostile text on
//! a terminal, secrets in the environment, unclear errors, and the demo near a real repository.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{agents_of, bin, git, repo, write_config, write_config_full};

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn state(dir: &Path, feature: &str, wp: &str) -> serde_json::Value {
    let text = git(dir, &["show", &format!("refs/kitty/wp/{feature}/{wp}:state.json")]);
    serde_json::from_str(&text).unwrap()
}

fn agent_started(dir: &Path, feature: &str) -> bool {
    dir.join(format!(".kittify/logs/{feature}/WP01-implementation-1.log")).exists()
        && state(dir, feature, "WP01")["pid"].is_number()
}

// 6a. Closing the terminal (SIGHUP) stops the agents and records the abort, like Ctrl-C.
#[test]
fn sighup_aborts_the_run_cleanly() {
    let tmp = repo("201-hup", 1, "FAKE_MODE = \"sigterm_tree\"");
    let dir = tmp.path();
    let mut child =
        bin().args(["run", "201-hup", "--grace", "1", "--repo"]).arg(dir).stdout(Stdio::null()).spawn().unwrap();
    wait_for("the agent", Duration::from_secs(30), || agent_started(dir, "201-hup"));
    std::thread::sleep(Duration::from_millis(300));
    assert!(Command::new("kill").args(["-HUP", &child.id().to_string()]).status().unwrap().success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(3), "aborted");
    assert_eq!(agents_of("201-hup"), Vec::<i32>::new());
    let wp = state(dir, "201-hup", "WP01");
    assert_eq!((wp["lane"].as_str(), wp["owner"].is_null()), (Some("doing"), true), "{wp}");
    let run = git(dir, &["show", "refs/kitty/run/201-hup:state.json"]);
    assert!(run.contains("\"status\": \"aborted\""), "{run}");
}

// 6d. `abort` after a crash ends the process groups the dead run left behind.
#[test]
fn abort_after_a_crash_ends_the_orphans() {
    let tmp = repo("202-crash", 1, "FAKE_MODE = \"sigterm_tree\"");
    let dir = tmp.path();
    let mut child = bin().args(["run", "202-crash", "--repo"]).arg(dir).stdout(Stdio::null()).spawn().unwrap();
    wait_for("the agent", Duration::from_secs(30), || agent_started(dir, "202-crash"));
    let log = dir.join(".kittify/logs/202-crash/WP01-implementation-1.log");
    wait_for("the process tree", Duration::from_secs(30), || {
        std::fs::read_to_string(&log).is_ok_and(|l| l.contains("tree started"))
    });
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!agents_of("202-crash").is_empty(), "the test needs orphans");
    let out = bin().args(["abort", "202-crash", "--repo"]).arg(dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(agents_of("202-crash"), Vec::<i32>::new());
    let run = git(dir, &["show", "refs/kitty/run/202-crash:state.json"]);
    assert!(run.contains("\"status\": \"aborted\""), "{run}");
}

// 12. A panicking WP task ends as that WP blocked (with the message); the rest of the run goes
//     on and the run is recorded. Absurd durations are refused up front.
#[test]
fn a_panicking_wp_is_blocked_and_the_run_goes_on() {
    let tmp = repo("203-panic", 4, "");
    let dir = tmp.path();
    let out = bin().args(["run", "203-panic", "--repo"]).arg(dir).env("KITTY_DEBUG_PANIC_WP", "WP02").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let wp02 = state(dir, "203-panic", "WP02");
    assert_eq!(wp02["lane"], "blocked");
    assert!(
        wp02["reason"].as_str().unwrap().contains("internal error: the work package's task panicked: injected"),
        "{wp02}"
    );
    assert_eq!(state(dir, "203-panic", "WP01")["lane"], "done");
    // WP04 depends on nothing: it runs to done although WP02's task panicked.
    assert_eq!(state(dir, "203-panic", "WP04")["lane"], "done");
    let run = git(dir, &["show", "refs/kitty/run/203-panic:state.json"]);
    assert!(run.contains("\"status\": \"finished\""), "{run}");

    for args in [["--grace", "18446744073709551615"], ["--max-concurrent", "0"]] {
        let out = bin().args(["run", "203-panic"]).args(args).arg("--repo").arg(dir).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("out of range"), "{stderr}");
    }
}

// 13. The demo never writes into a directory that is in use.
#[test]
fn demo_refuses_an_existing_repository() {
    let tmp = repo("204-mine", 1, "");
    let dir = tmp.path();
    std::fs::write(dir.join("secrets.txt"), "mine\n").unwrap();
    let head = git(dir, &["rev-parse", "HEAD"]);
    let out = bin().args(["demo", "--dir"]).arg(dir).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(git(dir, &["rev-parse", "HEAD"]), head);
    assert_eq!(git(dir, &["status", "--porcelain"]), "?? secrets.txt\n");
}

// 17. Escape sequences from agents never reach the terminal raw.
#[test]
fn terminal_escapes_from_agents_are_stripped() {
    let tmp = repo("205-escape", 1, "FAKE_STATUS = \"blocked \\u001b[2J\\u001b]0;pwned\\u0007 gone\"");
    let dir = tmp.path();
    let out = bin().args(["run", "205-escape", "--repo"]).arg(dir).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(!out.stdout.contains(&0x1b), "{}", String::from_utf8_lossy(&out.stdout));
    let wp = state(dir, "205-escape", "WP01");
    assert!(wp["reason"].as_str().unwrap().contains('\u{1b}'), "the state keeps the text as given: {wp}");
    for args in [vec!["status", "205-escape"], vec!["log", "205-escape", "WP01"]] {
        let out = bin().args(&args).arg("--repo").arg(dir).output().unwrap();
        assert!(out.status.success());
        assert!(
            !out.stdout.contains(&0x1b) && !out.stdout.contains(&0x07),
            "{args:?}: {:?}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("gone") || args[0] == "log");
    }
}

// 18. Clear errors with the right exit codes, and a board that survives one corrupt ref.
#[test]
fn errors_are_clear_and_exit_2_for_bad_input() {
    let tmp = repo("206-errors", 2, "");
    let dir = tmp.path();
    let out = bin().args(["run", "206-errors", "--repo"]).arg(dir).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let cases: [(&[&str], &str); 3] = [
        (&["status", "206-erors"], "no feature `206-erors`"),
        (&["retry", "206-errors", "WP1"], "`WP1` is not a work package id"),
        (&["retry", "206-errors", "WP77"], "has no work package WP77"),
    ];
    for (args, message) in cases {
        let out = bin().args(args).arg("--repo").arg(dir).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
    let elsewhere = tempfile::tempdir().unwrap();
    let out = bin().args(["status", "206-errors", "--repo"]).arg(elsewhere.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a git repository"));
    let blob = git(dir, &["hash-object", "-w", ".kittify/orchestrator.toml"]);
    git(dir, &["update-ref", "refs/kitty/wp/206-errors/WP02", blob.trim()]);
    let out = bin().args(["status", "206-errors", "--repo"]).arg(dir).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("WP01   done"), "{stdout}");
    assert!(stdout.contains("unreadable: refs/kitty/wp/206-errors/WP02"), "{stdout}");
}

// 10 + 9. Secrets in the orchestrator's environment — URL credentials, AWS keys, MySQL's
//         password, a GitHub token printed by the setup command — reach nothing we write.
#[test]
fn secrets_in_the_environment_reach_no_ref_note_log_or_event() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["config", "user.name", "T"]);
    git(dir, &["config", "user.email", "t@example.com"]);
    std::fs::write(dir.join("README.md"), "hello\n").unwrap();
    let tasks = dir.join("kitty-specs/207-leak/tasks");
    std::fs::create_dir_all(&tasks).unwrap();
    std::fs::write(tasks.join("WP01-x.md"), "---\nwork_package_id: WP01\ntitle: X\n---\nDo X.\n").unwrap();
    write_config_full(
        dir,
        "setup_command = [\"sh\", \"-c\", \"echo token is $GITHUB_TOKEN; echo db is $DATABASE_URL\"]",
        "FAKE_MODE = \"leak\", FAKE_LEAK = \"MYSQL_PWD,DATABASE_URL,AWS_ACCESS_KEY_ID,HTTPS_PROXY\"",
        "",
    );
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "feature"]);
    let secrets = [
        ("MYSQL_PWD", "mysql-pw-9f8e7d"),
        ("DATABASE_URL", "postgres://app:db-pw-5c4b3a@db.internal/app"),
        ("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE"),
        ("HTTPS_PROXY", "http://proxyuser:proxy-pw-1a2b3c@proxy:3128"),
        ("GITHUB_TOKEN", "ghp_0123456789abcdefghijABCDEFGHIJ012345"),
    ];
    let out = bin().args(["run", "207-leak", "--json", "--output", "--repo"]).arg(dir).envs(secrets).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let objects = Command::new("git")
        .args(["cat-file", "--batch-all-objects", "--batch", "--unordered"])
        .current_dir(dir)
        .output()
        .unwrap();
    let mut written = String::from_utf8_lossy(&objects.stdout).into_owned();
    written.push_str(&String::from_utf8_lossy(&out.stdout));
    written.push_str(&String::from_utf8_lossy(&out.stderr));
    for entry in std::fs::read_dir(dir.join(".kittify/logs/207-leak")).unwrap().flatten() {
        written.push_str(&std::fs::read_to_string(entry.path()).unwrap());
    }
    assert!(written.contains("[REDACTED:MYSQL_PWD]"), "the agent did print it");
    for needle in
        ["mysql-pw-9f8e7d", "db-pw-5c4b3a", "AKIAIOSFODNN7EXAMPLE", "proxy-pw-1a2b3c", "ghp_0123456789abcdefghij"]
    {
        assert!(!written.contains(needle), "{needle} was written");
    }
    let setup = std::fs::read_to_string(dir.join(".kittify/logs/207-leak/WP01-setup.log")).unwrap();
    assert!(setup.contains("token is [REDACTED:GITHUB_TOKEN]"), "{setup}");
}

// 11. `release` frees a WP a run on another host holds.
#[test]
fn release_frees_a_wp_held_on_another_host() {
    let tmp = repo("208-release", 1, "");
    let dir = tmp.path();
    let orch = kitty_orchestrator::Orchestrator::open(dir, None).unwrap();
    let f = orch.feature("208-release").unwrap();
    orch.store().import_feature(&f, None).unwrap();
    let owner = kitty_orchestrator::state::Owner { run_id: "01ELSEWHERE".into(), pid: 7, host: "old-laptop".into() };
    let wp = kitty_orchestrator::WpId::parse("WP01").unwrap();
    let claim = kitty_orchestrator::state::Append::new(kitty_orchestrator::state::WpEvent::Claimed { owner });
    orch.store().append(&f.slug, &wp, &claim.run("01ELSEWHERE")).unwrap();
    let out = bin().args(["status", "208-release", "--repo"]).arg(dir).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("held by run 01ELSEWHERE (pid 7 on old-laptop) (another host"), "{stdout}");
    let out = bin().args(["run", "208-release", "--repo"]).arg(dir).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("kitty-orchestrator release 208-release WP01"), "{stdout}");
    let out = bin().args(["release", "208-release", "WP01", "--repo"]).arg(dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    write_config(dir, "");
    let out = bin().args(["run", "208-release", "--repo"]).arg(dir).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
}
