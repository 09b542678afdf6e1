//! The executor with real child processes: the fake agents under tests/fixtures/agents behave
//! like the real CLIs (prompt on stdin, JSON output, the same failures).

use crate::common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use kitty_orchestrator::FailureClass;
use kitty_orchestrator::agents::builtin_profiles;
use kitty_orchestrator::command::{AgentCommand, Delivery, OutputKind};
use kitty_orchestrator::executor::{AgentRun, KittyStatus, Outcome, Verdict, execute, group_members};
use kitty_orchestrator::role::Role;
use tokio_util::sync::CancellationToken;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/agents").join(name)
}

/// The claude-code profile's real argv, run by the fake agent.
fn command(env: &[(&str, &str)], output: OutputKind, delivery: Delivery) -> AgentCommand {
    let claude = builtin_profiles().into_iter().find(|p| p.id == "claude-code").unwrap();
    AgentCommand {
        resume: None,
        agent: "claude-code".into(),
        program: fixture("fake-agent").display().to_string(),
        args: claude.implementation.clone(),
        delivery,
        output,
        driver: kitty_orchestrator::command::Driver::Cli,
        env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        redact: Vec::new(),
        checked_version: claude.checked_version.map(str::to_string),
        api: None,
    }
}

fn agent_run(dir: &Path, command: AgentCommand, role: Role, prompt: &str) -> AgentRun {
    AgentRun {
        session: None,
        command,
        role,
        attempt: 1,
        feature: "001-demo".into(),
        wp: "WP01".into(),
        cwd: dir.to_path_buf(),
        prompt: prompt.into(),
        log_path: AgentRun::log_path_for(dir, "001-demo", "WP01", role, 1),
        timeout: Duration::from_secs(30),
        idle_timeout: Duration::from_secs(30),
        grace: Duration::from_millis(200),
        confinement: None,
    }
}

async fn run(run: AgentRun) -> Outcome {
    execute(run, None, CancellationToken::new()).await.unwrap()
}

/// No process of the agent's group is left, zombie or not.
fn assert_group_gone(outcome: &Outcome) {
    let pgid = outcome.pid.expect("started") as i32;
    let left = group_members(pgid);
    assert!(left.is_empty(), "survivors of group {pgid}: {left:?}");
}

fn log_text(outcome: &Outcome) -> String {
    std::fs::read_to_string(&outcome.log_path).unwrap()
}

fn assert_log_complete(outcome: &Outcome) {
    let log = log_text(outcome);
    assert!(log.starts_with("# kitty-orchestrator agent log\n# agent: claude-code"), "{log}");
    assert!(log.contains("# argv: ") && log.contains("# cwd: ") && log.contains("# started: "), "{log}");
    assert!(log.contains("# exit: ") && log.contains("# outcome: ") && log.contains("# ended: "), "{log}");
}

#[tokio::test]
async fn implementation_succeeds_commits_and_reports_status() {
    let tmp = common::repo();
    let outcome = run(agent_run(
        tmp.path(),
        command(&[], OutputKind::ClaudeResult, Delivery::Stdin),
        Role::Implementation,
        "do it",
    ))
    .await;
    assert!(outcome.success(), "{}", outcome.describe());
    assert_eq!(outcome.status, Some(KittyStatus::Done));
    assert_eq!(outcome.result.cost_usd, Some(0.0123));
    assert_eq!(outcome.result.session_id.as_deref(), Some("fake-session"));
    assert_eq!(outcome.exit.code, Some(0));
    assert!(tmp.path().join("WP01.txt").exists());
    assert_eq!(common::git(tmp.path(), &["log", "-1", "--format=%s"]).trim(), "WP01: work by fake agent");
    assert_log_complete(&outcome);
    let log = log_text(&outcome);
    assert!(log.contains("# prompt: 5 bytes via stdin"), "{log}");
    assert!(log.contains("KITTY_WP=WP01") && log.contains("KITTY_ROLE=implementation"), "{log}");
    assert!(log.contains("--permission-mode acceptEdits"), "{log}");
    assert_group_gone(&outcome);
}

#[tokio::test]
async fn review_verdicts_are_parsed_exactly() {
    let tmp = common::repo();
    for (verdict, expected) in [("approve", Some(Verdict::Approve)), ("reject", Some(Verdict::Reject)), ("none", None)]
    {
        let cmd = command(&[("FAKE_VERDICT", verdict)], OutputKind::ClaudeResult, Delivery::Stdin);
        let outcome = run(agent_run(tmp.path(), cmd, Role::Review, "review it")).await;
        assert!(outcome.success());
        assert_eq!(outcome.verdict, expected, "{verdict}");
        if verdict == "reject" {
            assert_eq!(outcome.feedback(), "Reviewed the diff.\nPlease add tests for the edge cases.");
        }
    }
}

#[tokio::test]
async fn every_failure_mode_has_its_class_a_complete_log_and_no_survivor() {
    let tmp = common::repo();
    let cases: [(&str, OutputKind, FailureClass); 8] = [
        ("auth", OutputKind::ClaudeResult, FailureClass::Auth),
        ("rate_limit", OutputKind::ClaudeResult, FailureClass::RateLimit),
        ("network", OutputKind::ClaudeResult, FailureClass::Network),
        ("nonzero", OutputKind::ClaudeResult, FailureClass::NonzeroExit),
        ("crash", OutputKind::ClaudeResult, FailureClass::Crash),
        ("silent", OutputKind::ClaudeResult, FailureClass::InvalidOutput),
        ("auth", OutputKind::CodexJsonl, FailureClass::Auth),
        ("auth", OutputKind::JsonDocument, FailureClass::Auth),
    ];
    for (mode, output, class) in cases {
        let format = match output {
            OutputKind::CodexJsonl => "codex",
            OutputKind::JsonDocument => "gemini",
            _ => "claude",
        };
        let cmd = command(&[("FAKE_MODE", mode), ("FAKE_FORMAT", format)], output, Delivery::Stdin);
        let outcome = run(agent_run(tmp.path(), cmd, Role::Implementation, "x")).await;
        assert_eq!(outcome.failure, Some(class), "{mode}/{format}: {}", outcome.describe());
        assert_log_complete(&outcome);
        assert_group_gone(&outcome);
    }
    // Idle: no output at all; wall clock: output but never done.
    let mut idle = agent_run(
        tmp.path(),
        command(&[("FAKE_MODE", "hang")], OutputKind::ClaudeResult, Delivery::Stdin),
        Role::Implementation,
        "x",
    );
    idle.idle_timeout = Duration::from_millis(500);
    let outcome = run(idle).await;
    assert_eq!(outcome.failure, Some(FailureClass::IdleTimeout));
    assert!(log_text(&outcome).contains("no output (idle timeout)"));
    assert_group_gone(&outcome);
    let mut wall = agent_run(
        tmp.path(),
        command(&[("FAKE_MODE", "chatty_hang")], OutputKind::ClaudeResult, Delivery::Stdin),
        Role::Implementation,
        "x",
    );
    wall.timeout = Duration::from_millis(1500);
    wall.idle_timeout = Duration::from_secs(20);
    let outcome = run(wall).await;
    assert_eq!(outcome.failure, Some(FailureClass::Timeout));
    assert!(outcome.lines >= 1);
    assert_group_gone(&outcome);
    // A program that does not exist.
    let mut missing = command(&[], OutputKind::ClaudeResult, Delivery::Stdin);
    missing.program = "/nonexistent/agent".into();
    let outcome = run(agent_run(tmp.path(), missing, Role::Implementation, "x")).await;
    assert_eq!(outcome.failure, Some(FailureClass::Spawn));
    assert!(outcome.describe().contains("/nonexistent/agent"), "{}", outcome.describe());
}

#[tokio::test]
async fn hundred_timeouts_of_a_tree_ignoring_sigterm_leave_nothing() {
    let tmp = common::repo();
    let mut cmd = command(&[], OutputKind::Text, Delivery::Stdin);
    cmd.program = fixture("sigterm-tree").display().to_string();
    cmd.args = Vec::new();
    for i in 0..100 {
        let mut r = agent_run(tmp.path(), cmd.clone(), Role::Implementation, "x");
        r.timeout = Duration::from_millis(150);
        r.grace = Duration::from_millis(50);
        let outcome = run(r).await;
        assert_eq!(outcome.failure, Some(FailureClass::Timeout), "round {i}");
        // Once the tree printed that it started, it ignores SIGTERM: SIGKILL was needed.
        assert!(outcome.killed || outcome.lines == 0, "round {i}: SIGTERM is ignored, SIGKILL must have been needed");
        assert_group_gone(&outcome);
    }
}

#[tokio::test]
async fn large_prompts_arrive_intact_on_stdin_and_through_a_file_for_argv_agents() {
    use sha2_free::sha256_hex;
    let tmp = common::repo();
    let prompt: String = "---\nwork_package_id: WP01\n---\n".to_string() + &"0123456789abcdef".repeat(65536);
    assert_eq!(prompt.len(), 1_048_576 + 30);
    let expected = sha256_hex(prompt.as_bytes());
    // stdin
    let outcome = run(agent_run(
        tmp.path(),
        command(&[("FAKE_MODE", "echo_prompt")], OutputKind::ClaudeResult, Delivery::Stdin),
        Role::Implementation,
        &prompt,
    ))
    .await;
    assert!(outcome.result.text.contains(&expected), "{}", outcome.result.text);
    // A child that writes 1 MiB before reading its stdin must not deadlock against our writes.
    let outcome = run(agent_run(
        tmp.path(),
        command(&[("FAKE_MODE", "write_first")], OutputKind::ClaudeResult, Delivery::Stdin),
        Role::Implementation,
        &prompt,
    ))
    .await;
    assert!(outcome.result.text.contains(&expected), "{}", outcome.describe());
    // argv-only agent: the prompt goes to a file, the argument points at it.
    let mut cmd = command(&[("FAKE_MODE", "echo_prompt")], OutputKind::ClaudeResult, Delivery::Arg);
    cmd.args.push("{prompt}".into());
    let outcome = run(agent_run(tmp.path(), cmd, Role::Implementation, &prompt)).await;
    assert!(outcome.result.text.contains(&expected), "{}", outcome.result.text);
    let log = log_text(&outcome);
    assert!(log.contains(".prompt.md") && log.contains("Your task is in the file"), "{}", &log[..log.len().min(2000)]);
    // A short prompt on argv is passed as is.
    let mut cmd = command(&[("FAKE_MODE", "echo_prompt")], OutputKind::ClaudeResult, Delivery::Arg);
    cmd.args.push("{prompt}".into());
    let outcome = run(agent_run(tmp.path(), cmd, Role::Implementation, "short task")).await;
    assert!(outcome.result.text.contains(&sha256_hex(b"short task")), "{}", outcome.result.text);
}

#[tokio::test]
async fn secrets_never_reach_the_log() {
    let tmp = common::repo();
    let secret = "sk-test-7f3a9c2e1b5d";
    let cmd = command(
        &[("FAKE_MODE", "secret"), ("FAKE_SECRET_NAME", "OPENAI_API_KEY"), ("OPENAI_API_KEY", secret)],
        OutputKind::ClaudeResult,
        Delivery::Stdin,
    );
    let outcome = run(agent_run(tmp.path(), cmd, Role::Implementation, "x")).await;
    let log = log_text(&outcome);
    assert!(!log.contains(secret), "secret in log:\n{log}");
    assert!(log.contains("OPENAI_API_KEY=[REDACTED]"), "{log}");
    assert!(log.contains("my key is [REDACTED:OPENAI_API_KEY]"), "{log}");
    assert!(!outcome.result.text.contains(secret));
    assert!(outcome.tail.iter().all(|l| !l.contains(secret)));
}

#[tokio::test]
async fn background_processes_left_behind_are_ended() {
    let tmp = common::repo();
    let outcome = run(agent_run(
        tmp.path(),
        command(&[("FAKE_MODE", "daemon")], OutputKind::ClaudeResult, Delivery::Stdin),
        Role::Implementation,
        "x",
    ))
    .await;
    assert!(outcome.success(), "{}", outcome.describe());
    assert_group_gone(&outcome);
}

#[tokio::test]
async fn cancel_and_drop_end_the_whole_group() {
    let tmp = common::repo();
    let cancel = CancellationToken::new();
    let r = agent_run(
        tmp.path(),
        command(&[("FAKE_MODE", "sigterm_tree")], OutputKind::Text, Delivery::Stdin),
        Role::Implementation,
        "x",
    );
    let handle = tokio::spawn(execute(r, None, cancel.clone()));
    tokio::time::sleep(Duration::from_millis(400)).await;
    cancel.cancel();
    let outcome = handle.await.unwrap().unwrap();
    assert!(outcome.cancelled && outcome.failure.is_none());
    assert_group_gone(&outcome);

    // Dropping the future mid-run kills the group too.
    let r = agent_run(
        tmp.path(),
        command(&[("FAKE_MODE", "sigterm_tree")], OutputKind::Text, Delivery::Stdin),
        Role::Implementation,
        "x",
    );
    let log_path = r.log_path.clone();
    let result = tokio::time::timeout(Duration::from_millis(400), execute(r, None, CancellationToken::new())).await;
    assert!(result.is_err(), "still running when dropped");
    let log = std::fs::read_to_string(&log_path).unwrap();
    let pgid: i32 = log
        .lines()
        .find_map(|l| l.strip_prefix("# pid: "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .expect("the log records the pid");
    // Nothing runs any more; the leader's zombie is reaped by tokio's orphan queue on its next
    // turn, so give that a moment.
    let left = group_members(pgid);
    assert!(left.iter().all(|p| p.zombie), "dropping the run left {left:?} running");
    let until = std::time::Instant::now() + Duration::from_secs(5);
    while !group_members(pgid).is_empty() && std::time::Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let left = group_members(pgid);
    assert!(left.is_empty(), "dropping the run left {left:?}");
}

#[tokio::test]
async fn output_floods_are_streamed_with_bounded_buffers() {
    let tmp = common::repo();
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let r = agent_run(
        tmp.path(),
        command(&[("FAKE_MODE", "flood"), ("FAKE_FLOOD_MB", "20")], OutputKind::ClaudeResult, Delivery::Stdin),
        Role::Implementation,
        "x",
    );
    // A subscriber that reads slowly: it misses lines, the log does not.
    let reader = tokio::spawn(async move {
        let mut seen = 0u64;
        while let Some(_line) = rx.recv().await {
            seen += 1;
            if seen.is_multiple_of(100) {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        seen
    });
    let outcome = execute(r, Some(tx), CancellationToken::new()).await.unwrap();
    let seen = reader.await.unwrap();
    assert!(outcome.success(), "{}", outcome.describe());
    assert!(outcome.lines >= 20 * 1024, "{}", outcome.lines);
    assert_eq!(seen + outcome.dropped_lines, outcome.lines);
    let log_size = std::fs::metadata(&outcome.log_path).unwrap().len();
    assert!(log_size > 20 * 1024 * 1024, "{log_size}");
}

/// A tiny SHA-256 for comparing prompts (keeps the test free of extra dependencies).
mod sha2_free {
    pub fn sha256_hex(data: &[u8]) -> String {
        let out = std::process::Command::new("sha256sum")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                child.stdin.take().unwrap().write_all(data)?;
                child.wait_with_output()
            })
            .unwrap();
        String::from_utf8(out.stdout).unwrap().split_whitespace().next().unwrap().to_string()
    }
}
