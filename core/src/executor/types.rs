//! What the executor is given (an [`AgentRun`]) and what it gives back (an [`Outcome`], lines
//! for subscribers), and the one error that stops it from running at all.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use super::classify::ExitInfo;
use super::output::AgentResult;
use super::protocol::{self, KittyStatus, Verdict};
use crate::command::AgentCommand;
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
    /// Where it may write (Landlock, applied before exec); `None`: unconfined.
    pub confinement: Option<crate::sandbox::Confinement>,
    /// The agent's own session to continue (a rework by the agent that did the work), `prompt`
    /// then being only what is new. Over ACP it is loaded (`session/load`) when the agent can;
    /// when it cannot, or loading fails, a new session gets [`SessionToContinue::fresh_prompt`] instead.
    /// `None`: a new session.
    pub session: Option<SessionToContinue>,
}

/// A session a rework continues, and the whole prompt for when it cannot be continued.
#[derive(Debug, Clone)]
pub struct SessionToContinue {
    /// The agent's own session id (checked by [`crate::limits::valid_session`]).
    pub id: String,
    /// The prompt a new session gets instead.
    pub fresh_prompt: String,
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
    /// What the line reports, typed, when the agent said it in a structured way (ACP).
    pub activity: Option<super::activity::Activity>,
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
    /// Ended by its cancellation token (abort).
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
    /// While confined: the agent's own lines reporting a refused write ("Permission denied",
    /// "Operation not permitted", "Read-only file system"), clipped around the phrase, distinct,
    /// at most `MAX_REFUSED_LINES` (10).
    pub refused: Vec<String>,
}

/// Most refused-write lines one attempt's outcome keeps.
pub const MAX_REFUSED_LINES: usize = 10;

impl Outcome {
    /// An outcome of `run` with nothing known yet (every way of running an attempt starts here).
    pub(crate) fn empty(run: &AgentRun) -> Outcome {
        Outcome {
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
            refused: Vec::new(),
        }
    }

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

/// `text` cut to `max` characters, with `…` when cut.
pub(crate) fn clip(text: &str, max: usize) -> String {
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
