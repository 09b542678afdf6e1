//! One ACP attempt, in phases: start the agent as the CLI driver does (log, confinement, its own
//! process group), talk to it (`initialize`, `session/new` in the worktree, `session/prompt`
//! with the WP prompt; its requests answered by [`super::client`]), supervise (wall and idle
//! limits, abort — each sends `session/cancel` and gives the turn `grace` to end), wind down
//! (terminals, the agent's group, escaped descendants), and conclude (the final message's
//! protocol lines, cost, the failure class).

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use agent_client_protocol::Lines;
use agent_client_protocol::v1::schema::StopReason;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::super::classify::{Ended, ExitInfo, text_class};
use super::super::execute::{GroupGuard, Started, start};
use super::super::log::write_footer;
use super::super::protocol::{self, KittyStatus, PromptLines};
use super::super::stream::LineReader;
use super::super::types::{AgentRun, ExecError, Outcome, OutputLine};
use super::super::{orphans, process};
use super::client::{Conversation, converse};
use super::clock::Clock;
use super::journal::Journal;
use super::shared::Shared;
use super::terminals::Terminals;
use super::updates::Turn;
use crate::failure::FailureClass;
use crate::redact::Redactor;

/// Longest protocol message read (a file written through `fs/write_text_file`, JSON-escaped).
const MAX_MESSAGE: usize = 40 * 1024 * 1024;
/// Lines on stdout that are not protocol messages before the agent is taken for not speaking
/// ACP at all.
const MAX_NOISE: u64 = 10_000;
/// The same, before its first protocol message (a program that is no ACP agent at all).
const MAX_NOISE_FIRST: u64 = 200;

/// Runs `run` over ACP to the end; the contract of [`crate::executor::execute_with`].
pub(crate) async fn execute(
    run: AgentRun,
    subscriber: Option<mpsc::Sender<OutputLine>>,
    cancel: CancellationToken,
    on_spawn: impl FnOnce(u32) -> bool + Send,
) -> Result<Outcome, ExecError> {
    let started = Instant::now();
    let redactor = Redactor::from_env(&run.command.env)
        .with_values(run.command.redact.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let log_err = |source| ExecError { path: run.log_path.clone(), source };
    let (mut log, mut child, confined) = match start(&run, &redactor)? {
        Started::Running { log, child, confined, .. } => (log, child, confined),
        Started::Failed(mut outcome) => {
            outcome.duration_ms = started.elapsed().as_millis() as u64;
            return Ok(outcome);
        }
    };
    let pid = child.id().unwrap_or(0);
    let pgid = pid as i32;
    process::register_group(pgid);
    let mut guard = GroupGuard { pgid, armed: true };
    writeln!(log, "# pid: {pid} (process group {pgid})").map_err(log_err)?;
    writeln!(log, "# driver: acp (Agent Client Protocol over stdin/stdout)").map_err(log_err)?;
    writeln!(log, "----").map_err(log_err)?;
    log.flush().map_err(log_err)?;
    if !on_spawn(pid) {
        cancel.cancel();
    }
    let clock = Arc::new(Clock::new());
    clock.touch();
    let shared = Arc::new(Shared {
        root: run.cwd.canonicalize().unwrap_or_else(|_| run.cwd.clone()),
        journal: std::sync::Mutex::new(Journal::new(
            log,
            subscriber,
            redactor.clone(),
            &run.command.agent,
            &run.wp,
            confined,
        )),
        turn: std::sync::Mutex::new(Turn::default()),
        terminals: Terminals::new(&run, clock.clone()),
        clock,
        noise: AtomicU64::new(0),
        replaying: std::sync::atomic::AtomicBool::new(false),
        replayed: AtomicU64::new(0),
        run: run.clone(),
    });

    let (stdin, stdout, stderr) = (child.stdin.take(), child.stdout.take(), child.stderr.take());
    let readers = [stderr.map(|stderr| tokio::spawn(read_stderr(stderr, shared.clone())))];
    let (line_tx, line_rx) = mpsc::channel::<std::io::Result<String>>(64);
    let stdout_reader = stdout.map(|stdout| tokio::spawn(read_protocol(stdout, line_tx, shared.clone())));
    let outgoing = futures::sink::unfold(stdin, |mut stdin, line: String| async move {
        if let Some(pipe) = stdin.as_mut() {
            pipe.write_all(line.as_bytes()).await?;
            pipe.write_all(b"\n").await?;
            pipe.flush().await?;
        }
        Ok::<_, std::io::Error>(stdin)
    });
    let incoming = futures::stream::unfold(line_rx, |mut rx| async move { rx.recv().await.map(|line| (line, rx)) });
    let transport = Lines::new(Box::pin(outgoing), Box::pin(incoming));

    let stop = CancellationToken::new();
    // Boxed, so that dropping it below closes the transport (the agent's stdin).
    let mut conversation = Box::pin(converse(shared.clone(), transport, stop.clone()));
    let (ended, talked) = tokio::select! {
        talked = &mut conversation => (Ended::ByItself, talked),
        ended = supervise(&run, &shared.clock, &cancel) => {
            // Ask the agent to end its turn, and give it the grace period to say it has.
            stop.cancel();
            let wait = run.grace.max(Duration::from_secs(1));
            let talked = match tokio::time::timeout(wait, &mut conversation).await {
                Ok(talked) => talked,
                Err(_) => Ok(Conversation::Unfinished),
            };
            (ended, talked)
        }
    };
    // Closing stdin (the transport is gone) ends most agents; the rest are ended below.
    drop(conversation);

    let terminals = shared.terminals.shut_down().await;
    if terminals > 0 {
        shared.journal().note(&format!("{terminals} terminal(s) ended"));
    }
    let exited = tokio::time::timeout(Duration::from_millis(500), child.wait()).await.ok();
    let killed = process::terminate_group(pgid, Some(pgid), run.grace).await;
    let escaped = orphans::end_agent_processes(&run.feature, &run.wp, &run.cwd, run.grace).await;
    if escaped > 0 {
        shared
            .journal()
            .note(&format!("ended {escaped} descendant process(es) that had left the agent's process group"));
    }
    let status = match exited {
        Some(status) => status,
        None => child.wait().await,
    };
    for reader in readers.into_iter().flatten().chain(stdout_reader) {
        let _ = tokio::time::timeout(Duration::from_secs(2), reader).await;
    }
    guard.armed = false;
    drop(guard);

    let mut outcome = Outcome::empty(&run);
    outcome.pid = Some(pid);
    outcome.exit = ExitInfo::of(&status);
    outcome.duration_ms = started.elapsed().as_millis() as u64;
    outcome.cancelled = ended == Ended::Cancelled;
    outcome.killed = killed;
    conclude(&run, &shared, &redactor, ended, talked, &mut outcome);
    let mut journal = shared.journal();
    outcome.lines = journal.lines;
    outcome.dropped_lines = journal.dropped;
    outcome.tail = journal.tail.iter().cloned().collect();
    outcome.refused = journal.refused.take().unwrap_or_default();
    if let Some(err) = journal.failed.take() {
        return Err(log_err(err));
    }
    write_footer(&mut journal.log, &outcome, ended).map_err(log_err)?;
    journal.log.flush().map_err(log_err)?;
    Ok(outcome)
}

/// Waits until the attempt must be ended by us: wall-clock or idle limit, or cancellation.
async fn supervise(run: &AgentRun, clock: &Clock, cancel: &CancellationToken) -> Ended {
    let wall = tokio::time::Instant::now() + run.timeout;
    loop {
        let idle = clock.idle_deadline(run.idle_timeout);
        tokio::select! {
            _ = tokio::time::sleep_until(wall) => return Ended::Timeout,
            _ = tokio::time::sleep_until(idle) => {
                if clock.idle_deadline(run.idle_timeout) <= tokio::time::Instant::now() {
                    return Ended::Idle;
                }
            }
            _ = cancel.cancelled() => return Ended::Cancelled,
        }
    }
}

/// Stdout: protocol messages to the transport (whole, up to [`MAX_MESSAGE`]); anything else an
/// agent prints there goes to the log, and too much of it ends the conversation.
async fn read_protocol(
    stdout: tokio::process::ChildStdout,
    lines: mpsc::Sender<std::io::Result<String>>,
    shared: Arc<Shared>,
) {
    let mut reader = LineReader::new(stdout);
    let mut pending = String::new();
    let mut oversized = false;
    let mut messages = 0u64;
    while let Ok(Some(piece)) = reader.next_piece().await {
        shared.clock.touch();
        if !oversized {
            pending.push_str(&piece.text);
            if pending.len() > MAX_MESSAGE {
                oversized = true;
                pending = String::new();
            }
        }
        if !piece.ends_line {
            continue;
        }
        let line = std::mem::take(&mut pending);
        if std::mem::take(&mut oversized) {
            let why = format!("the agent sent a protocol message over {} MiB", MAX_MESSAGE / (1024 * 1024));
            let _ = lines.send(Err(std::io::Error::other(why))).await;
            return;
        }
        if line.trim().is_empty() {
            continue;
        }
        // Whatever is not one JSON object is not ours to relay (the crate would answer each
        // with an error and go on): it is logged and counted.
        if line.trim_start().starts_with('{') && serde_json::from_str::<serde::de::IgnoredAny>(&line).is_ok() {
            messages += 1;
            if lines.send(Ok(line)).await.is_err() {
                return;
            }
            continue;
        }
        shared.journal().line("stdout", &line);
        let noise = shared.noise.fetch_add(1, Ordering::Relaxed) + 1;
        if noise >= MAX_NOISE || (messages == 0 && noise >= MAX_NOISE_FIRST) {
            let why =
                format!("the agent printed {noise} lines on stdout that are not ACP messages: is it an ACP agent?");
            let _ = lines.send(Err(std::io::Error::other(why))).await;
            return;
        }
    }
}

async fn read_stderr(stderr: tokio::process::ChildStderr, shared: Arc<Shared>) {
    let mut reader = LineReader::new(stderr);
    while let Ok(Some(piece)) = reader.next_piece().await {
        shared.clock.touch();
        shared.journal().line("stderr", &piece.text);
    }
}

/// The result, its protocol lines, and the failure class.
fn conclude(
    run: &AgentRun,
    shared: &Shared,
    redactor: &Redactor,
    ended: Ended,
    talked: Result<Conversation, agent_client_protocol::Error>,
    outcome: &mut Outcome,
) {
    let mut turn = std::mem::take(&mut *shared.turn());
    turn.flush_lines(&mut shared.journal());
    let result = &mut outcome.result;
    result.structured = true;
    result.cost_usd = turn.cost_usd;
    let prompt_lines = PromptLines::of(&run.prompt);
    outcome.status = protocol::status_excluding(&turn.message, &prompt_lines).map(|s| match s {
        KittyStatus::Blocked(reason) => KittyStatus::Blocked(redactor.apply(&reason)),
        KittyStatus::Kickback(reason) => KittyStatus::Kickback(redactor.apply(&reason)),
        done => done,
    });
    outcome.verdict = protocol::verdict_excluding(&turn.message, &prompt_lines);
    result.text = redactor.apply(&turn.message);
    let tail = shared.journal().tail.iter().cloned().collect::<Vec<_>>().join("\n");
    let failure = match (ended, talked) {
        (Ended::Timeout, _) => Some(FailureClass::Timeout),
        (Ended::Idle, _) => Some(FailureClass::IdleTimeout),
        (Ended::Cancelled, _) => None,
        (Ended::ByItself, Ok(Conversation::Ended { stop_reason, session_id, input_tokens, output_tokens })) => {
            result.session_id = Some(session_id);
            result.input_tokens = input_tokens;
            result.output_tokens = output_tokens;
            match stop_reason {
                StopReason::EndTurn => None,
                other => {
                    let name = serde_json::to_value(other).ok().and_then(|v| v.as_str().map(str::to_string));
                    let why = format!("the agent ended its turn: {}", name.unwrap_or_else(|| "unknown".into()));
                    result.is_error = true;
                    result.error = Some(why.clone());
                    Some(text_class(&format!("{why}\n{tail}")).unwrap_or(FailureClass::NonzeroExit))
                }
            }
        }
        (Ended::ByItself, Ok(Conversation::AuthRequired(methods))) => {
            result.is_error = true;
            result.error = Some(format!(
                "the agent asks to be signed in first (its methods: {}); sign it in as its documentation says, or set its API key variable",
                if methods.is_empty() { "none named".to_string() } else { methods.join(", ") }
            ));
            Some(FailureClass::Auth)
        }
        (Ended::ByItself, Ok(Conversation::Unfinished)) => Some(FailureClass::Timeout),
        (Ended::ByItself, Err(err)) => {
            let why =
                format!("ACP: {}{}", err.message, err.data.as_ref().map(|d| format!(" ({d})")).unwrap_or_default());
            result.is_error = true;
            result.error = Some(redactor.apply(&why));
            Some(if outcome.exit.signal.is_some() && !outcome.killed {
                FailureClass::Crash
            } else {
                text_class(&format!("{why}\n{tail}")).unwrap_or(FailureClass::InvalidOutput)
            })
        }
    };
    result.error = result.error.take().map(|e| redactor.apply(&e));
    outcome.failure = failure;
    if turn.tool_calls > 0 || turn.updates > 0 {
        shared.journal().note(&format!("{} update(s), {} tool call(s)", turn.updates, turn.tool_calls));
    }
}
