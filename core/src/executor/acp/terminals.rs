//! `terminal/*` for an ACP agent: each command runs through our own executor — no shell, its own
//! process group, the attempt's confinement (read-only for a reviewer), its own log beside the
//! attempt's, secrets redacted, ended when killed, released or when the attempt ends. Output is
//! kept up to the agent's byte limit (the oldest part dropped first), and counts as the agent's
//! activity for the idle limit.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent_client_protocol::v1::schema::{CreateTerminalRequest, TerminalExitStatus};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::super::execute::run_cli;
use super::super::types::{AgentRun, OutputLine};
use super::clock::Clock;
use super::files::refusal;
use crate::agent_path::resolve;
use crate::command::{AgentCommand, Delivery, Driver, OutputKind};

/// Terminals open at once.
const MAX_OPEN: usize = 16;
/// Terminals one attempt may create.
const MAX_CREATED: u32 = 1000;
/// Output kept when the agent names no limit, and the most it may ask for.
const DEFAULT_LIMIT: u64 = 1024 * 1024;
const MAX_LIMIT: u64 = 16 * 1024 * 1024;

/// The terminals of one attempt.
pub(super) struct Terminals {
    run: AgentRun,
    clock: Arc<Clock>,
    created: AtomicU32,
    open: Mutex<HashMap<String, Arc<Terminal>>>,
    /// Ends every terminal (the attempt is over).
    stop: CancellationToken,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

struct Terminal {
    output: Mutex<Output>,
    exit: watch::Sender<Option<TerminalExitStatus>>,
    cancel: CancellationToken,
}

struct Output {
    text: String,
    truncated: bool,
    limit: usize,
}

impl Output {
    fn push(&mut self, line: &str) {
        self.text.push_str(line);
        self.text.push('\n');
        if self.text.len() > self.limit {
            let mut cut = self.text.len() - self.limit;
            while !self.text.is_char_boundary(cut) {
                cut += 1;
            }
            self.text.drain(..cut);
            self.truncated = true;
        }
    }
}

impl Terminals {
    pub(super) fn new(run: &AgentRun, clock: Arc<Clock>) -> Terminals {
        Terminals {
            run: run.clone(),
            clock,
            created: AtomicU32::new(0),
            open: Mutex::new(HashMap::new()),
            stop: CancellationToken::new(),
            tasks: Mutex::new(Vec::new()),
        }
    }

    /// Starts `request`'s command; returns the terminal's id and a description for the log.
    pub(super) fn create(
        &self,
        request: CreateTerminalRequest,
    ) -> Result<(String, String), agent_client_protocol::Error> {
        if self.stop.is_cancelled() {
            return Err(refusal("the attempt is ending"));
        }
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if open.len() >= MAX_OPEN {
            return Err(refusal(format!("{MAX_OPEN} terminals are open: release one first")));
        }
        let n = self.created.fetch_add(1, Ordering::Relaxed) + 1;
        if n > MAX_CREATED {
            return Err(refusal(format!("this attempt has created {MAX_CREATED} terminals, the most it may")));
        }
        if request.command.trim().is_empty() || request.command.contains('\0') {
            return Err(refusal("the command is empty"));
        }
        let cwd = match &request.cwd {
            None => self.run.cwd.clone(),
            Some(dir) => {
                let dir = resolve(&self.run.cwd, &dir.to_string_lossy(), false).map_err(refusal)?;
                if !dir.full.is_dir() {
                    return Err(refusal(format!("`{}` is not a directory", dir.relative)));
                }
                dir.full
            }
        };
        let mut env = self.run.command.env.clone();
        env.extend(request.env.iter().map(|v| (v.name.clone(), v.value.clone())));
        // With arguments, the command is a program: run as argv. Alone, it may be a command line
        // (`git add -A && git commit -m …`, as claude-agent-acp sends it): run by `sh -c`, as
        // editors run it — inside the same confinement the agent itself has.
        let (program, args) = if request.args.is_empty()
            && request.command.contains(|c: char| c.is_whitespace() || "|&;<>()$`\\\"'*?[]#~=%".contains(c))
        {
            ("/bin/sh".to_string(), vec!["-c".to_string(), request.command.clone()])
        } else {
            (request.command.clone(), request.args.clone())
        };
        let limit = request.output_byte_limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT) as usize;
        let id = format!("term-{n}");
        let stem = self.run.log_path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let run = AgentRun {
            session: None,
            command: AgentCommand {
                resume: None,
                agent: format!("{}:terminal", self.run.command.agent),
                program,
                args,
                delivery: Delivery::Stdin,
                output: OutputKind::Text,
                driver: Driver::Cli,
                env,
                redact: self.run.command.redact.clone(),
                checked_version: None,
                api: None,
            },
            // Its processes are told apart from the agent's by `KITTY_WP`: ending what is left
            // of a terminal never ends the agent.
            wp: format!("{}/{id}", self.run.wp),
            cwd,
            prompt: String::new(),
            log_path: self.run.log_path.with_file_name(format!("{stem}-{id}.log")),
            // A long build may print nothing for a while: the attempt's own limits bound it.
            idle_timeout: self.run.timeout,
            ..self.run.clone()
        };
        let described = format!(
            "{} {} (log {})",
            request.command,
            request.args.join(" "),
            run.log_path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
        );
        let (exit, _) = watch::channel(None);
        let terminal = Arc::new(Terminal {
            output: Mutex::new(Output { text: String::new(), truncated: false, limit }),
            exit,
            cancel: self.stop.child_token(),
        });
        open.insert(id.clone(), terminal.clone());
        let clock = self.clock.clone();
        let task = tokio::spawn(async move {
            let (tx, mut rx) = mpsc::channel::<OutputLine>(1024);
            let running = run_cli(run, Some(tx), terminal.cancel.clone(), |_| true);
            let collect = async {
                while let Some(line) = rx.recv().await {
                    terminal.output.lock().unwrap_or_else(|e| e.into_inner()).push(&line.line);
                    clock.touch();
                }
            };
            let (outcome, ()) = tokio::join!(running, collect);
            let mut status = TerminalExitStatus::new();
            match outcome {
                Ok(outcome) => {
                    status = status.exit_code(outcome.exit.code.and_then(|c| u32::try_from(c).ok()));
                    let signal = outcome.exit.signal.and_then(|s| nix::sys::signal::Signal::try_from(s).ok());
                    status = status.signal(signal.map(|s| s.as_str().to_string()));
                }
                Err(err) => {
                    let mut output = terminal.output.lock().unwrap_or_else(|e| e.into_inner());
                    output.push(&format!("[kitty-orchestrator] the command could not be run: {err}"));
                    status = status.exit_code(Some(127));
                }
            }
            clock.touch();
            terminal.exit.send_replace(Some(status));
        });
        self.tasks.lock().unwrap_or_else(|e| e.into_inner()).push(task);
        Ok((id, described))
    }

    fn get(&self, id: &str) -> Result<Arc<Terminal>, agent_client_protocol::Error> {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.get(id).cloned().ok_or_else(|| refusal(format!("no terminal `{id}` (released, or never created)")))
    }

    /// Its output so far, whether some was dropped, and its exit status once it ended.
    pub(super) fn output(
        &self,
        id: &str,
    ) -> Result<(String, bool, Option<TerminalExitStatus>), agent_client_protocol::Error> {
        let terminal = self.get(id)?;
        let output = terminal.output.lock().unwrap_or_else(|e| e.into_inner());
        let exit = terminal.exit.borrow().clone();
        Ok((output.text.clone(), output.truncated, exit))
    }

    /// A future of its exit status.
    pub(super) fn wait(
        &self,
        id: &str,
    ) -> Result<impl Future<Output = TerminalExitStatus> + Send + 'static, agent_client_protocol::Error> {
        let mut exit = self.get(id)?.exit.subscribe();
        Ok(async move {
            match exit.wait_for(|s| s.is_some()).await {
                Ok(status) => status.clone().unwrap_or_default(),
                Err(_) => TerminalExitStatus::new(),
            }
        })
    }

    /// Ends its command (the terminal stays, for its output).
    pub(super) fn kill(&self, id: &str) -> Result<(), agent_client_protocol::Error> {
        self.get(id)?.cancel.cancel();
        Ok(())
    }

    /// Ends its command and forgets it.
    pub(super) fn release(&self, id: &str) -> Result<(), agent_client_protocol::Error> {
        let terminal = self.get(id)?;
        terminal.cancel.cancel();
        self.open.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
        Ok(())
    }

    /// Ends every command and waits (bounded) until each one's processes are gone.
    pub(super) async fn shut_down(&self) -> usize {
        self.stop.cancel();
        let tasks: Vec<JoinHandle<()>> = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|e| e.into_inner()));
        let count = tasks.len();
        let all = futures::future::join_all(tasks);
        if tokio::time::timeout(self.run.grace + Duration::from_secs(15), all).await.is_err() {
            tracing::warn!(wp = %self.run.wp, "an ACP terminal did not end in time");
        }
        count
    }
}
