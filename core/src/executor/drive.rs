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
        Driver::Cli => cli(run, subscriber, cancel, on_spawn).await,
    }
}

/// The CLI driver. A run that continues a session runs the CLI with its resume arguments and
/// only the new prompt; when that fails without a protocol line of ours (the CLI does not know
/// the session — its files gone, another version — and says so and exits), the same attempt
/// runs again in a new session with the whole prompt, the failed try's log kept beside.
async fn cli(
    mut run: AgentRun,
    subscriber: Option<mpsc::Sender<OutputLine>>,
    cancel: CancellationToken,
    on_spawn: impl FnOnce(u32) -> bool + Send,
) -> Result<Outcome, ExecError> {
    let Some(session) = run.session.take() else { return run_cli(run, subscriber, cancel, on_spawn).await };
    let Some(args) = run.command.resumed(&session.id) else {
        run.prompt = session.fresh_prompt;
        return run_cli(run, subscriber, cancel, on_spawn).await;
    };
    let mut resumed = run.clone();
    resumed.command.args = args;
    let outcome = run_cli(resumed, subscriber.clone(), cancel.clone(), on_spawn).await?;
    if outcome.failure.is_none() || outcome.status.is_some() || outcome.cancelled || cancel.is_cancelled() {
        return Ok(outcome);
    }
    let aside = run.log_path.with_extension("resume-failed.log");
    let kept = std::fs::rename(&run.log_path, &aside).is_ok();
    let why = outcome.describe();
    run.prompt = session.fresh_prompt;
    let log_path = run.log_path.clone();
    // The first process's pid is the one recorded; this one is found by its KITTY_* environment
    // if its orchestrator dies.
    let fresh = run_cli(run, subscriber, cancel, |_| true).await?;
    let mut note = format!(
        "# session {} could not be continued ({why}): this run is a new session with the whole prompt",
        session.id
    );
    if kept {
        note.push_str(&format!("; the resumed try's log: {}", aside.display()));
    }
    let appended = std::fs::OpenOptions::new()
        .append(true)
        .open(&log_path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, format!("{note}\n").as_bytes()));
    if let Err(source) = appended {
        return Err(ExecError { path: log_path, source });
    }
    Ok(fresh)
}

/// A run for a driver that cannot continue a session: a new one, with the whole prompt.
pub(crate) fn afresh(mut run: AgentRun) -> AgentRun {
    if let Some(session) = run.session.take() {
        run.prompt = session.fresh_prompt;
    }
    run
}
