//! Agents driven over the Agent Client Protocol, end to end through `kitty-orchestrator run`,
//! confined: the ACP fixture agent (`tests/fixtures/agents/acp-agent`) writes through our
//! `fs/write_text_file`, commits through our `terminal/*`, and asks permission first; as a
//! reviewer it tries to write four ways, and as a hostile implementer it asks for paths outside
//! its worktree. The real `gemini --acp`, `qwen --acp` and `opencode acp` are in `real_clis`.

use std::path::{Path, PathBuf};

use crate::common::{self, bin, git};
use kitty_test_support::toml_string;

const SLUG: &str = "001-acp";

fn acp_agent() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/agents/acp-agent").display().to_string()
}

/// A repository whose implementer and reviewer are the ACP fixture in `impl_mode` / `rev_mode`,
/// recording what it was answered in `state`.
fn repo(impl_mode: &str, rev_mode: &str, state: &Path) -> tempfile::TempDir {
    let tmp = common::repo(SLUG, 3, "");
    let agent = toml_string(&acp_agent());
    let state = toml_string(&state.display().to_string());
    std::fs::write(
        tmp.path().join(".kittify/orchestrator.toml"),
        format!(
            "max_retries = 0\n[agents]\nimplementation = [\"acp-impl\"]\nreview = [\"acp-rev\"]\n\
             [agents.acp-impl]\ncommand = [{agent}]\ndriver = \"acp\"\nwritable = [{state}]\nenv = {{ ACP_MODE = \"{impl_mode}\", ACP_STATE_DIR = {state} }}\n\
             [agents.acp-rev]\ncommand = [{agent}]\ndriver = \"acp\"\nwritable = [{state}]\nenv = {{ ACP_MODE = \"{rev_mode}\", ACP_STATE_DIR = {state} }}\n"
        ),
    )
    .unwrap();
    git(tmp.path(), &["commit", "-q", "-am", "agents over ACP"]);
    tmp
}

fn events(state: &Path) -> String {
    std::fs::read_to_string(state.join("events.log")).unwrap_or_default()
}

/// Runs the feature with `--json`; returns the events' JSON lines, after checking every WP done.
fn run_to_done(dir: &Path, state: &Path) -> Vec<serde_json::Value> {
    let out = bin().args(["run", SLUG, "--json"]).current_dir(dir).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let logs = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("tail -n 40 {}/.kittify/logs/{SLUG}/*.log", dir.display()))
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let said = format!(
        "stdout:\n{stdout}\nstderr:\n{}\nevents.log:\n{}\nlogs:\n{logs}",
        String::from_utf8_lossy(&out.stderr),
        events(state)
    );
    assert_eq!(out.status.code(), Some(0), "{said}");
    let status = bin().args(["status", SLUG, "--json"]).current_dir(dir).output().unwrap();
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    let lanes: Vec<&str> = status["wps"].as_array().unwrap().iter().map(|w| w["lane"].as_str().unwrap()).collect();
    assert_eq!(lanes, ["done", "done", "done"], "{said}");
    stdout.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

#[test]
fn a_feature_runs_to_done_over_acp_with_typed_activity() {
    let state = tempfile::tempdir().unwrap();
    let tmp = repo("ok", "ok", state.path());
    let dir = tmp.path();
    let events_json = run_to_done(dir, state.path());
    for wp in ["WP01", "WP02", "WP03"] {
        let file = git(dir, &["show", &format!("{SLUG}-{wp}:{}.txt", wp.to_ascii_lowercase())]);
        assert_eq!(file, format!("{wp} by the ACP fixture\n"));
        let subjects = git(dir, &["log", "--format=%s", &format!("{SLUG}-{wp}")]);
        assert!(subjects.lines().any(|s| s == format!("{wp}: {}.txt", wp.to_ascii_lowercase())), "{subjects}");
    }
    let said = events(state.path());
    assert!(said.contains("initialize: fs={\"readTextFile\": true, \"writeTextFile\": true} terminal=True"), "{said}");
    assert_eq!(said.matches("permission edit wp0").count(), 3, "{said}");
    assert!(!said.contains("refused"), "{said}");
    assert_eq!(said.matches("add exit 0").count(), 3, "a command line runs: {said}");
    assert_eq!(said.matches("commit exit 0").count(), 3, "{said}");
    // Typed activity: tool calls with their status, the plan, our permission answers, usage.
    let activities: Vec<&serde_json::Value> =
        events_json.iter().filter(|e| e["type"] == "agent_activity").map(|e| &e["activity"]).collect();
    let kinds = |kind: &str| activities.iter().filter(|a| a["type"] == kind).count();
    assert!(kinds("tool_call") >= 12 && kinds("plan") == 3 && kinds("usage") == 3, "{activities:?}");
    assert!(
        activities.iter().any(|a| a["type"] == "tool_call"
            && a["title"] == "Write wp01.txt"
            && a["status"] == "completed"
            && a["paths"][0] == "wp01.txt"),
        "{activities:?}"
    );
    assert!(activities.iter().any(|a| a["type"] == "permission" && a["allowed"] == true && a["tool"] == "edit"));
    let finished: Vec<&serde_json::Value> =
        events_json.iter().filter(|e| e["type"] == "agent_finished" && e["role"] == "implementation").collect();
    assert!(finished.iter().all(|e| e["cost_usd"] == 0.0042), "{finished:?}");
    // The attempt log says what the agent did, line by line.
    let log = std::fs::read_to_string(dir.join(format!(".kittify/logs/{SLUG}/WP01-implementation-1.log"))).unwrap();
    for expected in ["# driver: acp", "[fs] wrote wp01.txt", "[terminal] term-", "[message] KITTY-STATUS: done"] {
        assert!(log.contains(expected), "{expected} in\n{log}");
    }
}

#[test]
fn a_reviewer_over_acp_cannot_write_by_any_way() {
    let state = tempfile::tempdir().unwrap();
    let tmp = repo("ok", "reviewer_writes", state.path());
    let dir = tmp.path();
    run_to_done(dir, state.path());
    let said = events(state.path());
    // Our answer to its permission request, our file service, our terminal (under its
    // read-only confinement), and the kernel, for a write of its own.
    assert_eq!(said.matches("permission edit evil.txt: refused").count(), 3, "{said}");
    assert_eq!(said.matches("reviewer fs write: refused").count(), 3, "{said}");
    assert!(!said.contains("reviewer terminal write: exit 0"), "{said}");
    assert_eq!(said.matches("reviewer own write: refused").count(), 3, "{said}");
    for wp in ["WP01", "WP02", "WP03"] {
        let worktree = dir.join(format!(".worktrees/{SLUG}-{wp}"));
        for evil in ["evil.txt", "evil-by-terminal.txt", "evil-by-itself.txt"] {
            assert!(!worktree.join(evil).exists() && !dir.join(evil).exists(), "{wp}: {evil} was written");
        }
    }
}

#[test]
fn an_implementer_over_acp_gets_nothing_outside_its_worktree() {
    let state = tempfile::tempdir().unwrap();
    let tmp = repo("outside", "ok", state.path());
    let dir = tmp.path();
    run_to_done(dir, state.path());
    let said = events(state.path());
    for refused in [
        "read /etc/passwd: refused",
        "write ../escape.txt: refused",
        "write .git/hooks/pre-commit: refused",
        "edit outside: refused",
    ] {
        assert_eq!(said.matches(refused).count(), 3, "{refused}: {said}");
    }
    assert!(!dir.join(".worktrees/escape.txt").exists());
    assert!(!dir.join(".git/hooks/pre-commit").exists());
}

/// The WP's events in `state.json` order, and its state.
fn wp_state(dir: &Path, wp: &str) -> serde_json::Value {
    serde_json::from_str(&git(dir, &["show", &format!("refs/kitty/wp/{SLUG}/{wp}:state.json")])).unwrap()
}

/// A review rejects each WP once: the rework continues the implementer's own session
/// (`session/load`, the feedback alone as the prompt; the replayed history is not taken as the
/// attempt's), and the session id is in the WP's state.
#[test]
fn a_rework_over_acp_continues_the_implementers_session() {
    let state = tempfile::tempdir().unwrap();
    let tmp = repo("ok", "reject_once", state.path());
    let dir = tmp.path();
    run_to_done(dir, state.path());
    let said = events(state.path());
    assert_eq!(said.matches(": ok\n").count(), 3, "three sessions loaded: {said}");
    assert_eq!(said.matches("whole prompt False").count(), 3, "{said}");
    assert!(!said.contains("whole prompt True"), "{said}");
    for wp in ["WP01", "WP02", "WP03"] {
        let file = git(dir, &["show", &format!("{SLUG}-{wp}:{}.txt", wp.to_ascii_lowercase())]);
        assert_eq!(file, format!("{wp} by the ACP fixture\nsecond line, as the reviewer asked\n"));
        let state = wp_state(dir, wp);
        let session = state["session"].as_str().unwrap();
        assert!(session.starts_with("fixture-"), "{state}");
        assert_eq!(state["session_agent"], "acp-impl");
        // The rework attempt's log: the load, and none of the replayed history as its own.
        let logs = dir.join(format!(".kittify/logs/{SLUG}"));
        let rework = std::fs::read_dir(&logs)
            .unwrap()
            .flatten()
            .map(|e| std::fs::read_to_string(e.path()).unwrap())
            .find(|l| l.contains(&format!("session: {session} continued")))
            .unwrap_or_else(|| panic!("no log of {wp} says its session was continued"));
        assert!(!rework.contains("REPLAYED-HISTORY"), "{rework}");
    }
}

/// When the agent cannot load the session, the rework gets a new one with the whole prompt.
#[test]
fn a_rework_whose_session_cannot_be_loaded_starts_afresh_with_the_whole_prompt() {
    let state = tempfile::tempdir().unwrap();
    let tmp = repo("load_fails", "reject_once", state.path());
    let dir = tmp.path();
    run_to_done(dir, state.path());
    let said = events(state.path());
    assert_eq!(said.matches(": not found").count(), 3, "{said}");
    assert_eq!(said.matches("rework WP0").count(), 3, "{said}");
    assert!(!said.contains("whole prompt False"), "{said}");
}
