//! One agent run, by its driver: a headless CLI (`execute`'s `run_cli`) or the Agent Client
//! Protocol (`acp`). Both start, confine, limit and end the agent's process group the same way
//! and return the same [`Outcome`].

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::execute::run_cli;
use super::types::{AgentRun, ExecError, Outcome, OutputLine};
use crate::command::Driver;

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
    match run.command.driver {
        Driver::Acp => super::acp::execute(run, subscriber, cancel, on_spawn).await,
        Driver::Cli => run_cli(afresh(run), subscriber, cancel, on_spawn).await,
    }
}

/// A run for a driver that cannot continue a session: a new one, with the whole prompt.
pub(crate) fn afresh(mut run: AgentRun) -> AgentRun {
    if let Some(session) = run.session.take() {
        run.prompt = session.fresh_prompt;
    }
    run
}
