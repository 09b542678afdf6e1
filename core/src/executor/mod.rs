//! Running one agent process: spawned without a shell in its own process group, prompt piped,
//! output streamed line by line to a log file and to subscribers with bounded memory, wall-clock
//! and idle timeouts that end the whole group, and a typed outcome.

mod classify;
mod orphans;
mod output;
mod process;
mod protocol;
mod stream;

use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub use crate::command::OutputKind;
pub use classify::{Ended, ExitInfo};
pub use orphans::{end_agent_processes, find_agent_groups, terminate_group, terminate_group_blocking};
pub use output::{AgentResult, MAX_RESULT_LINE, OutputParser};
pub use process::group_members;

pub use crate::redact::{Redactor, is_secret_name};
pub use protocol::{KittyStatus, PromptLines, Verdict};
pub use stream::{MAX_LINE, Piece};

use crate::command::{AgentCommand, Delivery};
use crate::failure::FailureClass;
use crate::role::Role;

/// Prompts longer than this never go on argv (Linux limits one argument to 128 KiB).
pub const ARG_PROMPT_LIMIT: usize = 96 * 1024;

/// One agent run to execute.
#[derive(Debug, Clone)]
pub struct AgentRun {
    /// What to run.
    pub command: AgentCommand,
    /// Its job.
    pub role: Role,
    /// Attempt number (1-based), for the log name and `KITTY_ATTEMPT`.
    pub attempt: u32,
    /// Feature slug (`KITTY_FEATURE`).
    pub feature: String,
    /// WP id (`KITTY_WP`).
    pub wp: String,
    /// Working directory: the WP's worktree (`KITTY_WORKTREE`).
    pub cwd: PathBuf,
    /// The prompt.
    pub prompt: String,
    /// Log file (`.kittify/logs/<feature>/<WP>-<role>-<attempt>.log`).
    pub log_path: PathBuf,
    /// Wall-clock limit.
    pub timeout: Duration,
    /// No-output limit.
    pub idle_timeout: Duration,
    /// Time between SIGTERM and SIGKILL.
    pub grace: Duration,
}

impl AgentRun {
    /// The conventional log path: `<repo>/.kittify/logs/<feature>/<WP>-<role>-<attempt>.log`.
    pub fn log_path_for(repo: &Path, feature: &str, wp: &str, role: Role, attempt: u32) -> PathBuf {
        repo.join(".kittify/logs").join(feature).join(format!("{wp}-{}-{attempt}.log", role.as_str()))
    }
}

/// Which stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// One line of agent output, for subscribers (secrets already redacted).
#[derive(Debug, Clone, Serialize)]
pub struct OutputLine {
    /// Agent id.
    pub agent: String,
    /// WP id.
    pub wp: String,
    /// Which stream.
    pub stream: Stream,
    /// The line.
    pub line: String,
}

/// How an agent run ended.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// Agent id.
    pub agent: String,
    /// Its job.
    pub role: Role,
    /// Attempt number.
    pub attempt: u32,
    /// The agent's process id (also its process group), when it started.
    pub pid: Option<u32>,
    /// Exit code or signal.
    pub exit: ExitInfo,
    /// Wall time.
    pub duration_ms: u64,
    /// Parsed final result (text redacted).
    pub result: AgentResult,
    /// `KITTY-STATUS` from the result, if any.
    pub status: Option<KittyStatus>,
    /// `KITTY-VERDICT` from the result, if any.
    pub verdict: Option<Verdict>,
    /// Why it failed; `None` for success or cancellation.
    pub failure: Option<FailureClass>,
    /// Ended by [`CancellationToken`] (abort).
    pub cancelled: bool,
    /// Whether the group had to be SIGKILLed.
    pub killed: bool,
    /// Lines of output seen (stdout + stderr).
    pub lines: u64,
    /// Lines subscribers missed because they were slow (the log has them all).
    pub dropped_lines: u64,
    /// The log file.
    pub log_path: PathBuf,
    /// Last lines of output (redacted), for error messages.
    pub tail: Vec<String>,
}

impl Outcome {
    /// Succeeded: not failed, not cancelled.
    pub fn success(&self) -> bool {
        self.failure.is_none() && !self.cancelled
    }

    /// The reviewer's feedback: the result text without protocol lines.
    pub fn feedback(&self) -> String {
        protocol::feedback(&self.result.text)
    }

    /// A one-line description for people.
    pub fn describe(&self) -> String {
        match (&self.failure, self.cancelled) {
            (_, true) => "cancelled".to_string(),
            (None, _) => "succeeded".to_string(),
            (Some(class), _) => {
                let detail = self
                    .result
                    .error
                    .clone()
                    .or_else(|| {
                        (self.result.is_error && !self.result.text.is_empty()).then(|| self.result.text.clone())
                    })
                    .or_else(|| self.tail.iter().rev().find(|l| !l.trim().is_empty() && l.trim() != "}").cloned())
                    .unwrap_or_default();
                if detail.is_empty() { class.to_string() } else { format!("{class}: {}", clip(&detail, 160)) }
            }
        }
    }
}

fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(max).collect::<String>())
    }
}

/// An error that prevents running at all (the log cannot be written).
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", path.display())]
pub struct ExecError {
    /// The file at fault.
    pub path: PathBuf,
    /// What failed.
    pub source: std::io::Error,
}

/// Kills the process group if the run is dropped before it finished.
struct GroupGuard {
    pgid: i32,
    armed: bool,
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if self.armed {
            process::kill_group_now(self.pgid, Some(self.pgid));
        }
        process::unregister_group(self.pgid);
    }
}

/// Lines of output kept for the outcome's `tail`.
const TAIL_LINES: usize = 40;

/// Runs `run` to the end. Output lines go to the log and, if given, to `subscriber` (never
/// blocking on it: a slow subscriber misses lines, counted in `dropped_lines`). `cancel` ends the
/// run (group terminated, `cancelled` set). Dropping the returned future kills the group too.
pub async fn execute(
    run: AgentRun,
    subscriber: Option<mpsc::Sender<OutputLine>>,
    cancel: CancellationToken,
) -> Result<Outcome, ExecError> {
    execute_with(run, subscriber, cancel, |_| true).await
}

/// [`execute`], calling `on_spawn(pid)` right after the process started (the engine records the
/// pid in git there). If it returns `false` the run is cancelled at once.
pub async fn execute_with(
    run: AgentRun,
    subscriber: Option<mpsc::Sender<OutputLine>>,
    cancel: CancellationToken,
    on_spawn: impl FnOnce(u32) -> bool + Send,
) -> Result<Outcome, ExecError> {
    let started = Instant::now();
    let redactor = Redactor::from_env(&run.command.env)
        .with_values(run.command.redact.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let log_err = |source| ExecError { path: run.log_path.clone(), source };
    if let Some(dir) = run.log_path.parent() {
        std::fs::create_dir_all(dir).map_err(log_err)?;
    }
    let file = std::fs::File::create(&run.log_path).map_err(log_err)?;
    let mut log = std::io::BufWriter::with_capacity(64 * 1024, file);

    let (args, stdin_prompt, prompt_file) =
        prepare_prompt(&run).map_err(|source| ExecError { path: prompt_file_path(&run.log_path), source })?;
    let env = kitty_env(&run, prompt_file.as_deref());
    write_header(&mut log, &run, &args, &env, &redactor, prompt_file.as_deref()).map_err(log_err)?;

    let mut cmd = tokio::process::Command::new(&run.command.program);
    cmd.args(&args)
        .current_dir(&run.cwd)
        .envs(run.command.env.iter().map(|(k, v)| (k, v)))
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(if stdin_prompt.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    process::die_with_parent(&mut cmd);
    let mut base = Outcome {
        agent: run.command.agent.clone(),
        role: run.role,
        attempt: run.attempt,
        pid: None,
        exit: ExitInfo { code: None, signal: None },
        duration_ms: 0,
        result: AgentResult::default(),
        status: None,
        verdict: None,
        failure: None,
        cancelled: false,
        killed: false,
        lines: 0,
        dropped_lines: 0,
        log_path: run.log_path.clone(),
        tail: Vec::new(),
    };
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(err) => {
            let message = format!("cannot start `{}`: {err}", run.command.program);
            writeln!(log, "----\n# spawn failed: {message}").map_err(log_err)?;
            log.flush().map_err(log_err)?;
            base.failure = Some(FailureClass::Spawn);
            base.result.error = Some(message);
            base.duration_ms = started.elapsed().as_millis() as u64;
            return Ok(base);
        }
    };
    let pid = child.id().unwrap_or(0);
    base.pid = Some(pid);
    let pgid = pid as i32;
    process::register_group(pgid);
    let mut guard = GroupGuard { pgid, armed: true };
    writeln!(log, "# pid: {pid} (process group {pgid})").map_err(log_err)?;
    log.flush().map_err(log_err)?;
    if !on_spawn(pid) {
        cancel.cancel();
    }

    // Feed the prompt from its own task: a child that writes before it reads must not deadlock
    // against us writing a large prompt.
    if let (Some(prompt), Some(mut stdin)) = (stdin_prompt, child.stdin.take()) {
        tokio::spawn(async move {
            // A child that exits without reading gives EPIPE: not our failure.
            let _ = stdin.write_all(prompt.as_bytes()).await;
            let _ = stdin.shutdown().await;
        });
    }
    let (line_tx, mut line_rx) = mpsc::channel::<(Stream, Piece)>(1024);
    for (stream, reader) in [
        (Stream::Stdout, child.stdout.take().map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>)),
        (Stream::Stderr, child.stderr.take().map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>)),
    ] {
        let Some(reader) = reader else { continue };
        let tx = line_tx.clone();
        tokio::spawn(async move {
            let mut lines = stream::LineReader::new(reader);
            while let Ok(Some(piece)) = lines.next_piece().await {
                if tx.send((stream, piece)).await.is_err() {
                    break;
                }
            }
        });
    }
    drop(line_tx);

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
    };

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
                    sink.take(stream, &piece).map_err(log_err)?;
                    idle = tokio::time::Instant::now() + run.idle_timeout;
                    if line_rx.is_empty() {
                        sink.log.flush().map_err(log_err)?;
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

    // End whatever is left of the group (everything, after a timeout or cancel; background
    // descendants after a normal exit), keeping the output flowing meanwhile.
    let terminate = process::terminate_group(pgid, Some(pgid), run.grace);
    tokio::pin!(terminate);
    let killed = loop {
        tokio::select! {
            killed = &mut terminate => break killed,
            Some((stream, piece)) = line_rx.recv(), if streams_open => {
                sink.take(stream, &piece).map_err(log_err)?;
            }
        }
    };
    // Descendants that left the group (`setsid`, double forks) still carry our KITTY_*
    // variables: end them too, so nothing of this attempt outlives it.
    let escaped = orphans::end_agent_processes(&run.feature, &run.wp, &run.cwd, run.grace).await;
    if escaped > 0 {
        writeln!(sink.log, "# ended {escaped} descendant process(es) that had left the agent's process group")
            .map_err(log_err)?;
    }
    let status = match exit_status {
        Some(status) => status,
        None => child.wait().await,
    };
    // The group is gone, so the pipes are closed: take the rest of the output.
    while let Ok(Some((stream, piece))) = tokio::time::timeout(Duration::from_secs(2), line_rx.recv()).await {
        sink.take(stream, &piece).map_err(log_err)?;
    }
    let (lines, dropped) = (sink.lines, sink.dropped);
    guard.armed = false;
    drop(guard);

    let exit = match &status {
        Ok(status) => {
            use std::os::unix::process::ExitStatusExt;
            ExitInfo { code: status.code(), signal: status.signal() }
        }
        Err(_) => ExitInfo { code: None, signal: None },
    };
    let mut result = parser.finish();
    // Protocol lines come from the final result only, and never from the prompt echoed back.
    // They are read before redaction (a configured env value may be a word like `reject`), and
    // the reasons they carry are redacted like everything else.
    let prompt_lines = PromptLines::of(&run.prompt);
    let status = protocol::status_excluding(&result.text, &prompt_lines).map(|s| match s {
        KittyStatus::Blocked(reason) => KittyStatus::Blocked(redactor.apply(&reason)),
        KittyStatus::Kickback(reason) => KittyStatus::Kickback(redactor.apply(&reason)),
        done => done,
    });
    let verdict = protocol::verdict_excluding(&result.text, &prompt_lines);
    result.text = redactor.apply(&result.text);
    result.error = result.error.map(|e| redactor.apply(&e));
    for warning in &result.warnings {
        tracing::warn!(agent = %run.command.agent, wp = %run.wp, "{warning}");
    }
    let tail: Vec<String> = tail.into_iter().collect();
    let structured_expected = run.command.output != OutputKind::Text;
    let failure = classify::classify(&run.command.agent, ended, exit, &result, structured_expected, &tail.join("\n"));
    let mut outcome = base;
    outcome.exit = exit;
    outcome.duration_ms = started.elapsed().as_millis() as u64;
    outcome.status = status;
    outcome.verdict = verdict;
    outcome.result = result;
    outcome.failure = failure;
    outcome.cancelled = ended == Ended::Cancelled;
    outcome.killed = killed;
    outcome.lines = lines;
    outcome.dropped_lines = dropped;
    outcome.tail = tail;
    write_footer(&mut log, &outcome, ended).map_err(log_err)?;
    log.flush().map_err(log_err)?;
    Ok(outcome)
}

async fn sleep_until_opt(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Where one output line goes: redaction, log, parser, tail, subscriber.
struct LineSink<'a, W: Write> {
    log: &'a mut W,
    parser: &'a mut OutputParser,
    tail: &'a mut VecDeque<String>,
    subscriber: &'a Option<mpsc::Sender<OutputLine>>,
    run: &'a AgentRun,
    redactor: &'a Redactor,
    lines: u64,
    dropped: u64,
}

impl<W: Write> LineSink<'_, W> {
    fn take(&mut self, stream: Stream, piece: &Piece) -> std::io::Result<()> {
        if piece.ends_line {
            self.lines += 1;
        }
        if stream == Stream::Stdout {
            // The parser sees the raw line, whole (JSON must stay intact); its result is redacted
            // later. The log, the tail and subscribers get lines cut at MAX_LINE.
            self.parser.feed_piece(&piece.text, piece.ends_line);
        }
        let line = self.redactor.apply(&piece.text);
        match stream {
            Stream::Stdout => writeln!(self.log, "{line}")?,
            Stream::Stderr => writeln!(self.log, "[stderr] {line}")?,
        }
        if self.tail.len() == TAIL_LINES {
            self.tail.pop_front();
        }
        self.tail.push_back(clip(&line, 2000));
        if let Some(tx) = self.subscriber {
            let event = OutputLine { agent: self.run.command.agent.clone(), wp: self.run.wp.clone(), stream, line };
            if tx.try_send(event).is_err() {
                self.dropped += 1;
            }
        }
        Ok(())
    }
}

fn prompt_file_path(log_path: &Path) -> PathBuf {
    log_path.with_extension("prompt.md")
}

/// Final argv, the prompt for stdin (if any) and the prompt file (if any).
fn prepare_prompt(run: &AgentRun) -> std::io::Result<(Vec<String>, Option<String>, Option<PathBuf>)> {
    let mut args = run.command.args.clone();
    let write_file = || -> std::io::Result<PathBuf> {
        let path = prompt_file_path(&run.log_path);
        std::fs::write(&path, &run.prompt)?;
        Ok(path)
    };
    let substitute = |args: &mut Vec<String>, placeholder: &str, value: &str| {
        if let Some(slot) = args.iter_mut().find(|a| a.contains(placeholder)) {
            *slot = slot.replace(placeholder, value);
        } else {
            args.push(value.to_string());
        }
    };
    match run.command.delivery {
        Delivery::Stdin => Ok((args, Some(run.prompt.clone()), None)),
        Delivery::File => {
            let path = write_file()?;
            substitute(&mut args, "{prompt_file}", &path.display().to_string());
            Ok((args, None, Some(path)))
        }
        Delivery::Arg => {
            // Long prompts exceed argv limits, and a prompt starting with `-` (YAML frontmatter
            // is `---`) would be parsed as a flag: both go through a file.
            if run.prompt.len() <= ARG_PROMPT_LIMIT && !run.prompt.trim_start().starts_with('-') {
                substitute(&mut args, "{prompt}", &run.prompt);
                Ok((args, None, None))
            } else {
                let path = write_file()?;
                let instruction = format!(
                    "Your task is in the file {}. Read that whole file and carry out its instructions.",
                    path.display()
                );
                substitute(&mut args, "{prompt}", &instruction);
                Ok((args, None, Some(path)))
            }
        }
    }
}

/// `KITTY_*` variables every agent gets.
fn kitty_env(run: &AgentRun, prompt_file: Option<&Path>) -> Vec<(String, String)> {
    let mut env = vec![
        ("KITTY_FEATURE".to_string(), run.feature.clone()),
        ("KITTY_WP".to_string(), run.wp.clone()),
        ("KITTY_WORKTREE".to_string(), run.cwd.display().to_string()),
        ("KITTY_ROLE".to_string(), run.role.as_str().to_string()),
        ("KITTY_ATTEMPT".to_string(), run.attempt.to_string()),
        ("KITTY_AGENT".to_string(), run.command.agent.clone()),
    ];
    if let Some(path) = prompt_file {
        env.push(("KITTY_PROMPT_FILE".to_string(), path.display().to_string()));
    }
    env
}

fn write_header(
    log: &mut impl Write,
    run: &AgentRun,
    args: &[String],
    env: &[(String, String)],
    redactor: &Redactor,
    prompt_file: Option<&Path>,
) -> std::io::Result<()> {
    let argv: Vec<String> = std::iter::once(run.command.program.clone())
        .chain(args.iter().map(|a| clip(&redactor.apply(a), 200)))
        .map(|a| if a.contains([' ', '"', '\'']) || a.is_empty() { format!("{a:?}") } else { a })
        .collect();
    writeln!(log, "# kitty-orchestrator agent log")?;
    writeln!(
        log,
        "# agent: {} (argv checked against: {})",
        run.command.agent,
        run.command.checked_version.as_deref().unwrap_or("not checked")
    )?;
    writeln!(log, "# feature: {}  wp: {}  role: {}  attempt: {}", run.feature, run.wp, run.role.as_str(), run.attempt)?;
    writeln!(log, "# argv: {}", argv.join(" "))?;
    writeln!(log, "# cwd: {}", run.cwd.display())?;
    let extra: Vec<String> = run.command.env.iter().chain(env.iter()).map(|(k, v)| redactor.env_entry(k, v)).collect();
    writeln!(log, "# env (added): {}", extra.join(" "))?;
    let delivery = match (run.command.delivery, prompt_file) {
        (_, Some(path)) => format!("file {}", path.display()),
        (Delivery::Stdin, None) => "stdin".to_string(),
        _ => "argument".to_string(),
    };
    writeln!(log, "# prompt: {} bytes via {delivery}", run.prompt.len())?;
    writeln!(
        log,
        "# limits: timeout {} s, idle {} s, grace {} ms",
        run.timeout.as_secs(),
        run.idle_timeout.as_secs(),
        run.grace.as_millis()
    )?;
    writeln!(log, "# started: {}", jiff::Timestamp::now())?;
    Ok(())
}

fn write_footer(log: &mut impl Write, outcome: &Outcome, ended: Ended) -> std::io::Result<()> {
    writeln!(log, "----")?;
    let exit = match (outcome.exit.code, outcome.exit.signal) {
        (Some(code), _) => format!("code {code}"),
        (None, Some(signal)) => format!("signal {signal}"),
        _ => "unknown".to_string(),
    };
    let why = match ended {
        Ended::ByItself => "exited",
        Ended::Timeout => "ended by the orchestrator: wall-clock timeout",
        Ended::Idle => "ended by the orchestrator: no output (idle timeout)",
        Ended::Cancelled => "ended by the orchestrator: cancelled",
    };
    writeln!(
        log,
        "# exit: {exit} ({why}{})",
        if outcome.killed { ", group SIGKILLed after the grace period" } else { "" }
    )?;
    writeln!(log, "# duration: {:.3} s, {} lines", outcome.duration_ms as f64 / 1000.0, outcome.lines)?;
    writeln!(log, "# outcome: {}", outcome.describe())?;
    for warning in &outcome.result.warnings {
        writeln!(log, "# warning: {warning}")?;
    }
    if let Some(cost) = outcome.result.cost_usd {
        writeln!(log, "# cost: ${cost:.4}")?;
    }
    if let Some(session) = &outcome.result.session_id {
        writeln!(log, "# session: {session}")?;
    }
    if let Some(status) = &outcome.status {
        writeln!(log, "# kitty-status: {status:?}")?;
    }
    if let Some(verdict) = &outcome.verdict {
        writeln!(log, "# kitty-verdict: {verdict:?}")?;
    }
    writeln!(log, "# ended: {}", jiff::Timestamp::now())?;
    Ok(())
}
