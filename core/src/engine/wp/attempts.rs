//! Running agents for one role of one WP: the order agents are tried in (fallback strategy,
//! reviewer other than the implementer), retries with backoff, one agent process with its start
//! and end recorded, and notes added to an attempt's log afterwards.

use std::path::Path;
use std::time::Duration;

use tokio::sync::mpsc;

use super::{block, release};
use crate::config::FallbackStrategy;
use crate::engine::ctx::Ctx;
use crate::engine::events::Event;
use crate::executor::{AgentRun, Outcome, OutputLine, SessionToContinue, execute_with};
use crate::failure::FailureClass;
use crate::feature::WorkPackage;
use crate::lane::Lane;
use crate::role::Role;
use crate::state::{Actor, Append, WpEvent, WpState};

/// The order in which agents are tried for `role`, per the fallback strategy.
pub(super) fn agent_order(ctx: &Ctx, role: Role, state: &WpState) -> Vec<String> {
    let candidates = ctx.roster.candidates(role).to_vec();
    let implementer = state.agents_used.first().cloned().or_else(|| state.agent.clone());
    let mut order = match role {
        Role::Implementation => candidates,
        Role::Review if ctx.config.single_agent_mode => match &implementer {
            Some(i) if ctx.roster.spec(i).is_some() => vec![i.clone()],
            _ => candidates,
        },
        // Prefer a reviewer other than the implementer; fall back to it last.
        Role::Review => {
            let (mut others, same): (Vec<String>, Vec<String>) =
                candidates.into_iter().partition(|a| Some(a) != implementer.as_ref());
            others.extend(same);
            others
        }
    };
    if ctx.config.fallback_strategy != FallbackStrategy::NextAvailable {
        order.truncate(1);
    }
    order
}

/// What one agent attempt came to.
pub(super) enum Attempt {
    /// The role's goal was reached: the new state.
    Finished(WpState),
    /// Failed; may be retried.
    Failed(FailureClass, String),
    /// The run was cancelled during it.
    Cancelled(WpState),
}

/// Runs attempts over the agents in order, with retries and backoff, until one finishes.
pub(super) async fn attempts<F, Fut>(
    ctx: &Ctx,
    wp: &WorkPackage,
    role: Role,
    mut state: WpState,
    mut one: F,
) -> Result<WpState, crate::Error>
where
    F: FnMut(String, WpState) -> Fut,
    Fut: std::future::Future<Output = Result<(Attempt, WpState), crate::Error>>,
{
    let order = agent_order(ctx, role, &state);
    let rounds = if ctx.config.fallback_strategy == FallbackStrategy::SameAgent { 2 } else { 1 };
    let mut last: Option<(FailureClass, String)> = None;
    for _round in 0..rounds {
        for agent in &order {
            let mut retries_left = ctx.config.max_retries;
            loop {
                let (attempt, after) = one(agent.clone(), state).await?;
                state = after;
                match attempt {
                    Attempt::Finished(done) => return Ok(done),
                    Attempt::Cancelled(s) => return release(ctx, wp, s).await,
                    Attempt::Failed(class, detail) => {
                        last = Some((class, detail));
                        if state.lane == Lane::Blocked {
                            return Ok(state);
                        }
                        // Credentials and missing binaries do not fix themselves: next agent.
                        if matches!(class, FailureClass::Auth | FailureClass::Spawn) || retries_left == 0 {
                            break;
                        }
                        retries_left -= 1;
                        let delay = backoff(ctx, class, ctx.config.max_retries - retries_left);
                        let next = state.attempts_total + 1;
                        state = ctx
                            .record(
                                wp,
                                Append::new(WpEvent::RetryScheduled {
                                    agent: agent.clone(),
                                    attempt: next,
                                    delay_ms: delay.as_millis() as u64,
                                    failure: class,
                                }),
                            )
                            .await?;
                        ctx.emit(Event::RetryScheduled {
                            feature: ctx.feature.slug.to_string(),
                            wp: wp.id.to_string(),
                            agent: agent.clone(),
                            attempt: next,
                            delay_ms: delay.as_millis() as u64,
                            failure: class,
                        });
                        let stop = ctx.wp_token(&wp.id);
                        tokio::select! {
                            _ = tokio::time::sleep(delay) => {}
                            _ = stop.cancelled() => return release(ctx, wp, state).await,
                        }
                    }
                }
            }
        }
    }
    let (class, detail) = last.unwrap_or((FailureClass::Spawn, "no agent could run".into()));
    let reason =
        format!("{} failed on every agent tried ({}): last {class}: {detail}", role.as_str(), order.join(", "));
    let log = state.log.clone();
    block(ctx, wp, reason, log).await
}

/// Exponential backoff with jitter; rate limits wait four times longer.
pub(super) fn backoff(ctx: &Ctx, class: FailureClass, retry: u32) -> Duration {
    let base = ctx.opts.retry_base.as_millis() as u64;
    let factor = if class == FailureClass::RateLimit { 4 } else { 1 };
    let ms = base.saturating_mul(factor).saturating_mul(1u64 << retry.min(10).saturating_sub(1));
    Duration::from_millis(ms / 2 + fastrand::u64(0..=ms / 2 + 1))
}

/// One agent process's run: what it did, the state after its start was recorded, and — when it
/// changed refs outside its reach — the reason to block the WP with.
pub(super) struct Ran {
    pub(super) outcome: Outcome,
    pub(super) state: WpState,
    pub(super) tampered: Option<String>,
}

/// What an attempt is told: its prompt, and the agent's own session it continues, if any.
pub(super) struct Prompt {
    /// The prompt (only what is new, when a session is continued).
    pub(super) text: String,
    /// See [`AgentRun::session`].
    pub(super) session: Option<SessionToContinue>,
}

impl Prompt {
    /// A whole prompt, for a new session.
    pub(super) fn new(text: String) -> Prompt {
        Prompt { text, session: None }
    }
}

/// Runs one agent process for `wp` and records its start; checks the refs after it.
pub(super) async fn run_agent(
    ctx: &Ctx,
    wp: &WorkPackage,
    role: Role,
    agent: &str,
    cwd: &str,
    prompt: Prompt,
    state: WpState,
) -> Result<Ran, crate::Error> {
    let Prompt { text: prompt, session } = prompt;
    let spec = ctx.roster.spec(agent).expect("roster agents have specs");
    let attempt = state.attempts_total + 1;
    let log_path = AgentRun::log_path_for(&ctx.repo_root, ctx.feature.slug.as_str(), wp.id.as_str(), role, attempt);
    let stop = ctx.wp_token(&wp.id);
    let _permit = tokio::select! {
        permit = ctx.roster.acquire(agent) => permit,
        _ = stop.cancelled() => {
            return Ok(Ran { outcome: cancelled_outcome(agent, role, attempt, &log_path), state, tampered: None });
        }
    };
    // Lives until the attempt is over: its temporary directory and private git store with it.
    let store = (role == Role::Implementation).then(|| ctx.worktrees.quarantine(&wp.id));
    let mut sandbox = crate::engine::confine::for_attempt(ctx, role, agent, Path::new(cwd), store)?;
    let mut command = spec.command(role).clone();
    command.env.extend(sandbox.env.iter().cloned());
    if sandbox.confined {
        // Some CLIs' own sandboxes cannot start inside ours (Codex's bubblewrap).
        crate::agents::confine_command(&mut command);
    }
    let run = AgentRun {
        command,
        role,
        attempt,
        feature: ctx.feature.slug.to_string(),
        wp: wp.id.to_string(),
        cwd: cwd.into(),
        prompt,
        log_path: log_path.clone(),
        timeout: spec.timeout,
        idle_timeout: spec.idle_timeout,
        grace: ctx.opts.grace,
        confinement: Some(sandbox.confinement.clone()),
        session,
    };
    let refs_before = crate::engine::ref_guard::baseline(ctx, wp, sandbox.confined);
    let log = log_path.display().to_string();
    ctx.add_log(wp, &log);
    // ACP agents report typed activity (tool calls, plans), sent whether or not lines are asked for.
    let acp = run.command.driver == crate::command::Driver::Acp;
    let subscriber = (ctx.opts.output_lines || acp).then(|| output_subscriber(ctx));
    // The pid is recorded (off the async threads) while the agent runs; if that fails, the
    // attempt is cancelled: an agent nobody knows about must not go on.
    let (pid_tx, pid_rx) = tokio::sync::oneshot::channel::<Option<u32>>();
    let token = ctx.wp_token(&wp.id).child_token();
    let execution: std::pin::Pin<Box<dyn std::future::Future<Output = _> + Send>> = match &run.command.api {
        // The openai-api agent runs in this process: no pid to record.
        Some(settings) => {
            let api = crate::llm::ApiRun {
                settings: settings.clone(),
                allowed_commands: allowed_commands(ctx, wp, settings),
            };
            let run = crate::executor::afresh(run);
            Box::pin(crate::llm::execute(run, api, subscriber, token.clone(), move || pid_tx.send(None).is_ok()))
        }
        None => Box::pin(execute_with(run, subscriber, token.clone(), move |pid| pid_tx.send(Some(pid)).is_ok())),
    };
    let recording = async {
        let pid = pid_rx.await.ok()?;
        let event = WpEvent::AgentStarted { agent: agent.to_string(), role, attempt, pid, log: Some(log.clone()) };
        let recorded = ctx.record(wp, Append::new(event).run(&ctx.owner.run_id).by(Actor::agent(agent))).await;
        if recorded.is_err() {
            token.cancel();
        }
        ctx.emit(Event::AgentStarted {
            feature: ctx.feature.slug.to_string(),
            wp: wp.id.to_string(),
            agent: agent.to_string(),
            role,
            attempt,
            pid,
            log: log.clone(),
        });
        Some(recorded)
    };
    let (outcome, started) = tokio::join!(execution, recording);
    let outcome = outcome.map_err(|e| crate::Error::Io { path: e.path, source: e.source })?;
    let what = format!("{agent}'s {} attempt {attempt} on {}", role.as_str(), wp.id);
    // Every process of the attempt is gone: its private store can be taken in.
    let store = sandbox.conclude(ctx)?;
    if let Some(done) = &store {
        note_store_in_log(&outcome.log_path, done);
    }
    let outside = crate::engine::ref_guard::verify(ctx, wp, &refs_before, &what);
    let inside = store.as_ref().and_then(|done| crate::engine::ref_guard::private_moves(ctx, &what, done));
    let tampered = match (inside, outside) {
        (Some(inside), Some(outside)) => Some(format!("{inside}; {outside}")),
        (inside, outside) => inside.or(outside),
    };
    let state = match started {
        Some(result) => result?,
        // Never spawned: record the attempt so its number is used once.
        None => {
            let event =
                WpEvent::AgentStarted { agent: agent.to_string(), role, attempt, pid: None, log: Some(log.clone()) };
            ctx.record(wp, Append::new(event)).await?
        }
    };
    Ok(Ran { outcome, state, tampered })
}

/// After an attempt that changed refs outside its reach (already put back): the attempt ends as
/// `ref_tampering` and the WP is blocked with the reason — a security event, never retried.
pub(super) async fn blocked_for_tampering(
    ctx: &Ctx,
    wp: &WorkPackage,
    outcome: &Outcome,
    reason: String,
) -> Result<(Attempt, WpState), crate::Error> {
    note_in_log(&outcome.log_path, &reason);
    let judged = (Some(FailureClass::RefTampering), Some(reason.clone()));
    finish(ctx, wp, outcome, judged, None, Vec::new()).await?;
    let blocked = block(ctx, wp, reason, Some(outcome.log_path.display().to_string())).await?;
    Ok((Attempt::Finished(blocked.clone()), blocked))
}

/// What the openai-api agent's `run_command` may start: its `allowed_commands`, the
/// `verify_command` program and the task's own `Verify:` program.
fn allowed_commands(ctx: &Ctx, wp: &WorkPackage, settings: &crate::command::ApiSettings) -> Vec<String> {
    let mut allowed = settings.allowed_commands.clone();
    let verify = ctx.config.verify_command.as_ref().and_then(|argv| argv.first().cloned());
    let task = wp.extra.get("verify").and_then(|v| v.get(0)).and_then(|v| v.as_str()).map(str::to_string);
    for program in verify.into_iter().chain(task) {
        if !allowed.contains(&program) {
            allowed.push(program);
        }
    }
    allowed
}

/// Records the end of an attempt with the failure class judged at the role's level (a review
/// without a verdict, an implementation without commits), and reports it.
pub(super) async fn finish(
    ctx: &Ctx,
    wp: &WorkPackage,
    outcome: &Outcome,
    judged: (Option<FailureClass>, Option<String>),
    head: Option<String>,
    withheld: Vec<String>,
) -> Result<WpState, crate::Error> {
    let (failure, detail) = judged;
    if !withheld.is_empty() {
        note_in_log(
            &outcome.log_path,
            &format!("auto-commit withheld (secret-looking or .worktreeinclude): {}", withheld.join(", ")),
        );
    }
    let finished = WpEvent::AgentFinished {
        agent: outcome.agent.clone(),
        role: outcome.role,
        attempt: outcome.attempt,
        failure,
        cost_usd: outcome.result.cost_usd,
        duration_ms: outcome.duration_ms,
        head,
        withheld,
        refused: outcome.refused.clone(),
        session: crate::limits::valid_session(outcome.result.session_id.as_deref()),
    };
    let summary = match (failure, outcome.failure, detail) {
        (Some(judged), None, Some(detail)) => format!("{judged}: {detail}"),
        (Some(judged), None, None) => format!("{judged}"),
        _ => outcome.describe(),
    };
    let refused = match outcome.refused.as_slice() {
        [] => String::new(),
        lines => format!("\n\nRefused by the sandbox (as the agent reported it):\n{}", lines.join("\n")),
    };
    let body = format!("{summary}{refused}\n\nLog: {}", outcome.log_path.display());
    let state = ctx.record(wp, Append::new(finished).body(body).by(Actor::agent(&outcome.agent))).await?;
    ctx.emit(Event::AgentFinished {
        feature: ctx.feature.slug.to_string(),
        wp: wp.id.to_string(),
        agent: outcome.agent.clone(),
        role: outcome.role,
        attempt: outcome.attempt,
        success: failure.is_none(),
        failure,
        summary,
        duration_ms: outcome.duration_ms,
        cost_usd: outcome.result.cost_usd,
    });
    Ok(state)
}

/// Says in the attempt's log what its private git store came to.
fn note_store_in_log(log: &Path, done: &crate::worktree::Concluded) {
    let tip = |t: Option<git2::Oid>| t.map_or_else(|| "nothing".to_string(), |t| t.to_string());
    let mut line = format!("git: {} new object(s) taken into the repository", done.objects);
    if done.adopted {
        line.push_str(&format!("; branch moved from {} to {}", tip(done.given), tip(done.tip)));
    }
    note_in_log(log, &line);
    if let Some(why) = &done.not_adopted {
        note_in_log(log, &format!("git: the branch was not moved: {why}"));
    }
    if let Some(head) = &done.head {
        note_in_log(log, &format!("git: the worktree's HEAD was left {head}; put back on its branch"));
    }
    if !done.refused.is_empty() {
        note_in_log(log, &format!("git: refused: {}", done.refused.join("; ")));
    }
    if !done.created.is_empty() {
        note_in_log(log, &format!("git: refs it made or changed in its copy, discarded: {}", done.created.join(", ")));
    }
}

/// Adds a `# …` line to an attempt's log after the fact (what the engine did with its work).
pub(super) fn note_in_log(log: &std::path::Path, line: &str) {
    use std::io::Write;
    if let Ok(mut file) = std::fs::OpenOptions::new().append(true).open(log) {
        let _ = writeln!(file, "# {line}");
    }
}

fn cancelled_outcome(agent: &str, role: Role, attempt: u32, log: &std::path::Path) -> Outcome {
    Outcome {
        agent: agent.to_string(),
        role,
        attempt,
        pid: None,
        exit: crate::executor::ExitInfo { code: None, signal: None },
        duration_ms: 0,
        result: Default::default(),
        status: None,
        verdict: None,
        failure: None,
        cancelled: true,
        killed: false,
        lines: 0,
        dropped_lines: 0,
        log_path: log.to_path_buf(),
        tail: Vec::new(),
        refused: Vec::new(),
    }
}

/// A channel whose output lines become [`Event::AgentOutput`] events (only when asked for), and
/// whose typed activities become [`Event::AgentActivity`] events.
fn output_subscriber(ctx: &Ctx) -> mpsc::Sender<OutputLine> {
    let (tx, mut rx) = mpsc::channel::<OutputLine>(256);
    let events = ctx.events.clone();
    let feature = ctx.feature.slug.to_string();
    let output_lines = ctx.opts.output_lines;
    tokio::spawn(async move {
        while let Some(line) = rx.recv().await {
            match line.activity {
                Some(activity) => {
                    events(Event::AgentActivity { feature: feature.clone(), wp: line.wp, agent: line.agent, activity })
                }
                None if output_lines => events(Event::AgentOutput {
                    feature: feature.clone(),
                    wp: line.wp,
                    agent: line.agent,
                    stream: line.stream,
                    line: line.line,
                }),
                None => {}
            }
        }
    });
    tx
}
