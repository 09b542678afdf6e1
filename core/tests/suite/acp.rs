//! The ACP driver against a hostile or broken peer, run by the executor with real processes: the
//! fixture agent (`tests/fixtures/agents/acp-agent`) prints what is not ACP, floods updates,
//! never ends its turn, waits on a terminal when cancelled, or wants a sign-in. Each ends in a
//! clear failure class (or success, for a flood that ends), with `session/cancel` sent where a
//! turn was running, and no process left behind.

use crate::common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use kitty_orchestrator::FailureClass;
use kitty_orchestrator::command::{AgentCommand, Delivery, Driver, OutputKind};
use kitty_orchestrator::executor::{AgentRun, KittyStatus, Outcome, execute, group_members};
use kitty_orchestrator::role::Role;
use tokio_util::sync::CancellationToken;

fn acp_run(dir: &Path, state: &Path, mode: &str) -> AgentRun {
    AgentRun {
        session: None,
        command: AgentCommand {
            resume: None,
            agent: "acp-fixture".into(),
            program: PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../tests/fixtures/agents/acp-agent")
                .display()
                .to_string(),
            args: Vec::new(),
            delivery: Delivery::Stdin,
            output: OutputKind::Text,
            driver: Driver::Acp,
            env: vec![("ACP_MODE".into(), mode.into()), ("ACP_STATE_DIR".into(), state.display().to_string())],
            redact: Vec::new(),
            checked_version: None,
            api: None,
        },
        role: Role::Implementation,
        attempt: 1,
        feature: "001-acp".into(),
        wp: "WP01".into(),
        cwd: dir.to_path_buf(),
        prompt: "Say done.".into(),
        log_path: AgentRun::log_path_for(dir, "001-acp", "WP01", Role::Implementation, 1),
        timeout: Duration::from_secs(60),
        idle_timeout: Duration::from_secs(30),
        grace: Duration::from_millis(500),
        confinement: None,
    }
}

fn said(state: &Path) -> String {
    std::fs::read_to_string(state.join("events.log")).unwrap_or_default()
}

fn log_of(outcome: &Outcome) -> String {
    std::fs::read_to_string(&outcome.log_path).unwrap_or_default()
}

/// Neither the agent's group nor any process carrying this attempt's variables (a terminal's
/// command) is left.
fn assert_nothing_left(outcome: &Outcome, dir: &Path) {
    let worktree = format!("KITTY_WORKTREE={}", dir.display());
    let pgid = outcome.pid.expect("started") as i32;
    let until = std::time::Instant::now() + Duration::from_secs(5);
    while !group_members(pgid).is_empty() && std::time::Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(group_members(pgid).is_empty(), "the agent's group is left: {:?}", group_members(pgid));
    let ours: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let env = std::fs::read(e.path().join("environ")).ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            let zombie = stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z'));
            let mine = env.split(|&b| b == 0).any(|v| v == worktree.as_bytes());
            (mine && !zombie).then(|| e.file_name().to_string_lossy().into_owned())
        })
        .collect();
    assert!(ours.is_empty(), "processes of the attempt are left: {ours:?}");
}

#[tokio::test]
async fn an_acp_turn_ends_with_the_final_message_read() {
    let tmp = common::repo();
    let state = tempfile::tempdir().unwrap();
    let outcome = execute(acp_run(tmp.path(), state.path(), "ok"), None, CancellationToken::new()).await.unwrap();
    assert!(outcome.success(), "{}\n{}", outcome.describe(), log_of(&outcome));
    assert_eq!(outcome.status, Some(KittyStatus::Done));
    assert!(
        outcome.result.session_id.as_deref().is_some_and(|s| s.starts_with("fixture-")),
        "{:?}",
        outcome.result.session_id
    );
    assert_nothing_left(&outcome, tmp.path());
}

#[tokio::test]
async fn a_program_that_is_no_acp_agent_is_invalid_output() {
    let tmp = common::repo();
    let state = tempfile::tempdir().unwrap();
    let outcome = execute(acp_run(tmp.path(), state.path(), "noise"), None, CancellationToken::new()).await.unwrap();
    assert_eq!(outcome.failure, Some(FailureClass::InvalidOutput), "{}", outcome.describe());
    assert!(outcome.describe().contains("not ACP messages"), "{}", outcome.describe());
    assert_nothing_left(&outcome, tmp.path());
}

#[tokio::test]
async fn a_flood_of_updates_is_taken_with_bounded_memory() {
    let tmp = common::repo();
    let state = tempfile::tempdir().unwrap();
    let mut run = acp_run(tmp.path(), state.path(), "flood");
    run.command.env.push(("ACP_FLOOD".into(), "100000".into()));
    let outcome = execute(run, None, CancellationToken::new()).await.unwrap();
    // 100,000 chunks (9 MB) arrive, each logged; the final message kept is bounded.
    assert!(outcome.lines >= 100_000, "{} lines", outcome.lines);
    assert!(outcome.result.text.len() <= 2 * 1024 * 1024 + 1024, "{} bytes kept", outcome.result.text.len());
    assert_eq!(outcome.failure, None, "{}", outcome.describe());
    assert_nothing_left(&outcome, tmp.path());
}

#[tokio::test]
async fn a_never_ending_turn_is_cancelled_then_ended() {
    let tmp = common::repo();
    let state = tempfile::tempdir().unwrap();
    let mut run = acp_run(tmp.path(), state.path(), "hang");
    run.idle_timeout = Duration::from_secs(2);
    let outcome = execute(run, None, CancellationToken::new()).await.unwrap();
    assert_eq!(outcome.failure, Some(FailureClass::IdleTimeout), "{}", outcome.describe());
    assert!(said(state.path()).contains("cancel received"), "session/cancel was sent: {}", said(state.path()));
    assert!(log_of(&outcome).contains("session/cancel sent"));
    assert_nothing_left(&outcome, tmp.path());
}

#[tokio::test]
async fn an_abort_mid_tool_call_ends_the_terminal_and_the_agent() {
    let tmp = common::repo();
    let state = tempfile::tempdir().unwrap();
    let cancel = CancellationToken::new();
    let run = acp_run(tmp.path(), state.path(), "slow_tool");
    let log = run.log_path.clone();
    let handle = tokio::spawn(execute(run, None, cancel.clone()));
    // Wait until the terminal's `sleep 60` runs.
    let until = std::time::Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(&log).unwrap_or_default().contains("[terminal] term-1: sleep 60") {
        assert!(std::time::Instant::now() < until, "the terminal never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    cancel.cancel();
    let outcome = handle.await.unwrap().unwrap();
    assert!(outcome.cancelled && outcome.failure.is_none(), "{}", outcome.describe());
    assert!(outcome.duration_ms < 20_000, "ended promptly: {} ms", outcome.duration_ms);
    assert!(said(state.path()).contains("cancel received"), "{}", said(state.path()));
    assert!(log_of(&outcome).contains("1 terminal(s) ended"), "{}", log_of(&outcome));
    assert_nothing_left(&outcome, tmp.path());
}

#[tokio::test]
async fn an_agent_that_wants_a_sign_in_is_an_auth_failure() {
    let tmp = common::repo();
    let state = tempfile::tempdir().unwrap();
    let outcome = execute(acp_run(tmp.path(), state.path(), "auth"), None, CancellationToken::new()).await.unwrap();
    assert_eq!(outcome.failure, Some(FailureClass::Auth), "{}", outcome.describe());
    assert!(outcome.describe().contains("signed in"), "{}", outcome.describe());
    assert_nothing_left(&outcome, tmp.path());
}
