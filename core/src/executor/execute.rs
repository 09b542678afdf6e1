//! One headless CLI run, in phases: start (log, prompt, no-shell spawn in its own process group),
//! feed the prompt and read the output (separate tasks, so neither side can deadlock the other),
//! supervise (wall and idle limits, cancellation, the agent's own exit), wind down (end the group
//! and any escaped descendant, take the rest of the output), and conclude (parse, classify, log).

use std::collections::VecDeque;
use std::io::{BufWriter, Write};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::process::Child;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::classify::{self, Ended, ExitInfo};
use super::log::{write_footer, write_header};
use super::output::OutputParser;
use super::prompt::{kitty_env, prepare_prompt, prompt_file_path};
use super::protocol::{self, KittyStatus, PromptLines};
use super::sink::{LineSink, TAIL_LINES};
use super::stream::{LineReader, Piece};
use super::types::{AgentRun, ExecError, Outcome, OutputLine, Stream};
use super::{orphans, process};
use crate::command::OutputKind;
use crate::failure::FailureClass;
use crate::redact::Redactor;

type Log = BufWriter<std::fs::File>;
type Lines = mpsc::Receiver<(Stream, Piece)>;

/// A headless CLI run: the prompt in, the output parsed.
pub(super) async fn run_cli(
    run: AgentRun,
    subscriber: Option<mpsc::Sender<OutputLine>>,
    cancel: CancellationToken,
    on_spawn: impl FnOnce(u32) -> bool + Send,
) -> Result<Outcome, ExecError> {
    let started = Instant::now();
    let redactor = Redactor::from_env(&run.command.env)
        .with_values(run.command.redact.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let log_err = |source| ExecError { path: run.log_path.clone(), source };
    let (mut log, mut child, stdin_prompt, confined) = match start(&run, &redactor)? {
        Started::Running { log, child, stdin_prompt, confined } => (log, child, stdin_prompt, confined),
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
    log.flush().map_err(log_err)?;
    if !on_spawn(pid) {
        cancel.cancel();
    }
    let mut line_rx = feed_and_read(&mut child, stdin_prompt);
    writeln!(log, "----").map_err(log_err)?;
    let mut parser = OutputParser::new(run.command.output);
    let mut tail: VecDeque<String> = VecDeque::with_capacity(TAIL_LINES);
    let mut sink = LineSink {
        log: &mut log,
        parser: &mut parser,
        tail: &mut tail,
        subscriber: &subscriber,
        run: &run,
        redactor: &redactor,
        lines: 0,
        dropped: 0,
        refused: confined.then(Vec::new),
    };
    let (ended, exit_status) = supervise(&run, &mut child, &mut line_rx, &mut sink, &cancel).await.map_err(log_err)?;
    let (killed, status) =
        wind_down(&run, &mut child, pgid, exit_status, &mut line_rx, &mut sink).await.map_err(log_err)?;
    let (lines, dropped) = (sink.lines, sink.dropped);
    let refused = sink.refused.take().unwrap_or_default();
    guard.armed = false;
    drop(guard);

    let mut outcome = Outcome::empty(&run);
    outcome.pid = Some(pid);
    outcome.exit = ExitInfo::of(&status);
    outcome.duration_ms = started.elapsed().as_millis() as u64;
    outcome.cancelled = ended == Ended::Cancelled;
    outcome.killed = killed;
    outcome.lines = lines;
    outcome.dropped_lines = dropped;
    outcome.tail = tail.into_iter().collect();
    outcome.refused = refused;
    conclude(&run, &redactor, parser, ended, &mut outcome);
    write_footer(&mut log, &outcome, ended).map_err(log_err)?;
    log.flush().map_err(log_err)?;
    Ok(outcome)
}

pub(super) enum Started {
    Running {
        log: Log,
        child: Child,
        stdin_prompt: Option<String>,
        /// Under Landlock.
        confined: bool,
    },
    /// The program could not be started: a `spawn` failure, already in the log.
    Failed(Outcome),
}

/// The log with its header, then the agent: no shell, its own process group, killed if dropped,
/// and dying with the thread that started it.
pub(super) fn start(run: &AgentRun, redactor: &Redactor) -> Result<Started, ExecError> {
    let log_err = |source| ExecError { path: run.log_path.clone(), source };
    if let Some(dir) = run.log_path.parent() {
        std::fs::create_dir_all(dir).map_err(log_err)?;
    }
    let file = std::fs::File::create(&run.log_path).map_err(log_err)?;
    let mut log = BufWriter::with_capacity(64 * 1024, file);
    let (args, stdin_prompt, prompt_file) =
        prepare_prompt(run).map_err(|source| ExecError { path: prompt_file_path(&run.log_path), source })?;
    let env = kitty_env(run, prompt_file.as_deref());
    write_header(&mut log, run, &args, &env, redactor, prompt_file.as_deref()).map_err(log_err)?;
    let ruleset = match run.confinement.as_ref().map(crate::sandbox::prepare) {
        None => None,
        Some(Ok(crate::sandbox::Prepared::Confine(ruleset))) => {
            let show = |paths: &[std::path::PathBuf]| paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>();
            let writable = run.confinement.as_ref().map(|c| show(&c.writable)).unwrap_or_default();
            writeln!(log, "# sandbox: landlock, writable: {}", writable.join(" ")).map_err(log_err)?;
            let git = run.confinement.as_ref().map(|c| show(&c.git_writable)).unwrap_or_default();
            if !git.is_empty() {
                writeln!(log, "# sandbox: git (files and directories only): {}", git.join(" ")).map_err(log_err)?;
            }
            Some(ruleset)
        }
        Some(Ok(crate::sandbox::Prepared::Unconfined(why))) => {
            let why = why.unwrap_or_else(|| "sandbox = \"off\"".into());
            writeln!(log, "# sandbox: unconfined ({why})").map_err(log_err)?;
            None
        }
        Some(Err(why)) => {
            writeln!(log, "----\n# not started: {why}").map_err(log_err)?;
            log.flush().map_err(log_err)?;
            let mut outcome = Outcome::empty(run);
            outcome.failure = Some(FailureClass::Spawn);
            outcome.result.error = Some(why);
            return Ok(Started::Failed(outcome));
        }
    };

    let mut cmd = tokio::process::Command::new(&run.command.program);
    cmd.args(&args)
        .current_dir(&run.cwd)
        .envs(run.command.env.iter().map(|(k, v)| (k, v)))
        .envs(env.iter().map(|(k, v)| (k, v)))
        // Our own PWD names the user's checkout; CLIs that take their directory from $PWD
        // (opencode, kilo) would work there. The worktree is theirs, by both names.
        .env("PWD", &run.cwd)
        .env_remove("OLDPWD")
        .stdin(if stdin_prompt.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    process::die_with_parent(&mut cmd);
    let confined = ruleset.is_some();
    if let Some(ruleset) = ruleset {
        crate::sandbox::confine_child(&mut cmd, ruleset);
    }
    match cmd.spawn() {
        Ok(child) => Ok(Started::Running { log, child, stdin_prompt, confined }),
        Err(err) => {
            let message = format!("cannot start `{}`: {err}", run.command.program);
            writeln!(log, "----\n# spawn failed: {message}").map_err(log_err)?;
            log.flush().map_err(log_err)?;
            let mut outcome = Outcome::empty(run);
            outcome.failure = Some(FailureClass::Spawn);
            outcome.result.error = Some(message);
            Ok(Started::Failed(outcome))
        }
    }
}

/// Feeds the prompt from its own task (a child that writes before it reads must not deadlock
/// against us writing a large prompt) and reads stdout and stderr in pieces from two more.
fn feed_and_read(child: &mut Child, stdin_prompt: Option<String>) -> Lines {
    if let (Some(prompt), Some(mut stdin)) = (stdin_prompt, child.stdin.take()) {
        tokio::spawn(async move {
            // A child that exits without reading gives EPIPE: not our failure.
            let _ = stdin.write_all(prompt.as_bytes()).await;
            let _ = stdin.shutdown().await;
        });
    }
    let (line_tx, line_rx) = mpsc::channel::<(Stream, Piece)>(1024);
    for (stream, reader) in [
        (Stream::Stdout, child.stdout.take().map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>)),
        (Stream::Stderr, child.stderr.take().map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>)),
    ] {
        let Some(reader) = reader else { continue };
        let tx = line_tx.clone();
        tokio::spawn(async move {
            let mut lines = LineReader::new(reader);
            while let Ok(Some(piece)) = lines.next_piece().await {
                if tx.send((stream, piece)).await.is_err() {
                    break;
                }
            }
        });
    }
    line_rx
}

/// Takes output until the agent ends by itself (its exit, then its pipes closed or half a second
/// for descendants holding them) or we end it: wall-clock or idle limit, or cancellation.
async fn supervise<W: Write>(
    run: &AgentRun,
    child: &mut Child,
    line_rx: &mut Lines,
    sink: &mut LineSink<'_, W>,
    cancel: &CancellationToken,
) -> std::io::Result<(Ended, Option<std::io::Result<std::process::ExitStatus>>)> {
    let wall = tokio::time::Instant::now() + run.timeout;
    let mut idle = tokio::time::Instant::now() + run.idle_timeout;
    let mut exit_status = None;
    let mut streams_open = true;
    let mut drain_deadline: Option<tokio::time::Instant> = None;
    let ended = loop {
        if exit_status.is_some() && !streams_open {
            break Ended::ByItself;
        }
        tokio::select! {
            piece = line_rx.recv(), if streams_open => match piece {
                Some((stream, piece)) => {
                    sink.take(stream, &piece)?;
                    idle = tokio::time::Instant::now() + run.idle_timeout;
                    if line_rx.is_empty() {
                        sink.log.flush()?;
                    }
                }
                None => streams_open = false,
            },
            status = child.wait(), if exit_status.is_none() => {
                exit_status = Some(status);
                // Descendants may keep the pipes open: give them a moment, then end the group.
                drain_deadline = Some(tokio::time::Instant::now() + Duration::from_millis(500));
            }
            _ = sleep_until_opt(drain_deadline) => break Ended::ByItself,
            _ = tokio::time::sleep_until(wall) => break Ended::Timeout,
            _ = tokio::time::sleep_until(idle) => break Ended::Idle,
            _ = cancel.cancelled() => break Ended::Cancelled,
        }
    };
    Ok((ended, exit_status))
}

/// Ends whatever is left of the group (everything, after a timeout or cancel; background
/// descendants after a normal exit) and every descendant that escaped it, keeping the output
/// flowing meanwhile; then reaps the agent and takes the rest of its output. Returns whether
/// SIGKILL was needed, and the exit status.
async fn wind_down<W: Write>(
    run: &AgentRun,
    child: &mut Child,
    pgid: i32,
    exit_status: Option<std::io::Result<std::process::ExitStatus>>,
    line_rx: &mut Lines,
    sink: &mut LineSink<'_, W>,
) -> std::io::Result<(bool, std::io::Result<std::process::ExitStatus>)> {
    let terminate = process::terminate_group(pgid, Some(pgid), run.grace);
    tokio::pin!(terminate);
    let killed = loop {
        tokio::select! {
            killed = &mut terminate => break killed,
            Some((stream, piece)) = line_rx.recv() => sink.take(stream, &piece)?,
        }
    };
    // Descendants that left the group (`setsid`, double forks) still carry our KITTY_*
    // variables: end them too, so nothing of this attempt outlives it.
    let escaped = orphans::end_agent_processes(&run.feature, &run.wp, &run.cwd, run.grace).await;
    if escaped > 0 {
        writeln!(sink.log, "# ended {escaped} descendant process(es) that had left the agent's process group")?;
    }
    let status = match exit_status {
        Some(status) => status,
        None => child.wait().await,
    };
    // The group is gone, so the pipes are closed: take the rest of the output.
    while let Ok(Some((stream, piece))) = tokio::time::timeout(Duration::from_secs(2), line_rx.recv()).await {
        sink.take(stream, &piece)?;
    }
    Ok((killed, status))
}

/// The parsed result, the protocol lines (from the raw final result, never from the prompt
/// echoed back; their reasons redacted), the redacted text, and the failure class.
fn conclude(run: &AgentRun, redactor: &Redactor, parser: OutputParser, ended: Ended, outcome: &mut Outcome) {
    let mut result = parser.finish();
    // Read before redaction: a configured env value may be a word like `reject`.
    let prompt_lines = PromptLines::of(&run.prompt);
    outcome.status = protocol::status_excluding(&result.text, &prompt_lines).map(|s| match s {
        KittyStatus::Blocked(reason) => KittyStatus::Blocked(redactor.apply(&reason)),
        KittyStatus::Kickback(reason) => KittyStatus::Kickback(redactor.apply(&reason)),
        done => done,
    });
    outcome.verdict = protocol::verdict_excluding(&result.text, &prompt_lines);
    result.text = redactor.apply(&result.text);
    result.error = result.error.map(|e| redactor.apply(&e));
    for warning in &result.warnings {
        tracing::warn!(agent = %run.command.agent, wp = %run.wp, "{warning}");
    }
    let structured_expected = run.command.output != OutputKind::Text;
    outcome.failure = classify::classify(
        &run.command.agent,
        ended,
        outcome.exit,
        &result,
        structured_expected,
        &outcome.tail.join("\n"),
    );
    outcome.result = result;
}

/// Kills the process group if the run is dropped before it finished.
pub(super) struct GroupGuard {
    pub(super) pgid: i32,
    pub(super) armed: bool,
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if self.armed {
            process::kill_group_now(self.pgid, Some(self.pgid));
        }
        process::unregister_group(self.pgid);
    }
}

pub(super) async fn sleep_until_opt(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
