//! One attempt of the `openai-api` agent: the conversation loop. Each turn sends the messages
//! and the role's tools, waits for the answer within the attempt's wall-clock and idle limits
//! (and its cancellation), runs the tool calls, and ends when the model calls `finish` or
//! `verdict`, runs out of turns, or a call fails for good.

use std::collections::VecDeque;
use std::io::{BufWriter, Write};
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::client::{CallError, Client, Reply, request_body};
use super::tools::{Ending, Toolbox, definitions};
use super::transcript::{Transcript, clip};
use crate::command::ApiSettings;
use crate::executor::{AgentRun, Ended, ExecError, ExitInfo, Outcome, OutputLine, write_footer};
use crate::failure::FailureClass;
use crate::redact::Redactor;
use crate::role::Role;

/// Retries of one request: rate limits (each after the delay the server asked for) and
/// network or server failures (after 1, 2, 4 … s).
const RATE_LIMIT_RETRIES: u32 = 5;
const NETWORK_RETRIES: u32 = 3;
/// Longest wait a `Retry-After` may ask for before the attempt gives up with `rate_limit`.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);
/// The conversation is trimmed above this many characters (about 100k tokens).
const MAX_CONTEXT_CHARS: usize = 400_000;
/// Turns that answer without a tool call before the attempt stops asking.
const MAX_NUDGES: u32 = 2;

/// The attempt's parts beyond the [`AgentRun`]: the endpoint and what `run_command` may start.
#[derive(Debug, Clone)]
pub struct ApiRun {
    /// The endpoint and limits.
    pub settings: ApiSettings,
    /// Programs `run_command` may start (`allowed_commands` and the `verify_command` program).
    pub allowed_commands: Vec<String>,
}

/// Runs one attempt of the `openai-api` agent. `on_start` is called once the log is open (the
/// engine records the attempt); `false` cancels it. Returns an [`Outcome`] like a process's.
pub async fn execute(
    run: AgentRun,
    api: ApiRun,
    subscriber: Option<mpsc::Sender<OutputLine>>,
    cancel: CancellationToken,
    on_start: impl FnOnce() -> bool + Send,
) -> Result<Outcome, ExecError> {
    let started = Instant::now();
    let settings = &api.settings;
    let configured_key = run.command.env.iter().find(|(k, _)| *k == settings.api_key_env).map(|(_, v)| v.clone());
    let key = configured_key.or_else(|| std::env::var(&settings.api_key_env).ok()).filter(|k| !k.is_empty());
    let mut secrets: Vec<(String, String)> = run.command.redact.clone();
    if let Some(key) = &key {
        secrets.push((settings.api_key_env.clone(), key.clone()));
    }
    let redactor =
        Redactor::from_env(&run.command.env).with_values(secrets.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let log_err = |source| ExecError { path: run.log_path.clone(), source };
    if let Some(dir) = run.log_path.parent() {
        std::fs::create_dir_all(dir).map_err(log_err)?;
    }
    let file = std::fs::File::create(&run.log_path).map_err(log_err)?;
    let mut transcript = Transcript {
        log: BufWriter::new(file),
        redactor: redactor.clone(),
        subscriber,
        agent: run.command.agent.clone(),
        wp: run.wp.clone(),
        lines: 0,
        dropped: 0,
        tail: VecDeque::new(),
    };
    header(&mut transcript, &run, &api).map_err(log_err)?;
    let mut outcome = Outcome::empty(&run);
    if !on_start() {
        cancel.cancel();
    }
    let ended = match (&key, settings.is_loopback()) {
        (None, false) => {
            let why = format!(
                "{} is not set: the openai-api agent needs an API key for {}",
                settings.api_key_env, settings.base_url
            );
            transcript.note(&why).map_err(log_err)?;
            outcome.failure = Some(FailureClass::Auth);
            outcome.result.error = Some(why);
            Ended::ByItself
        }
        _ => match Client::new(settings, key) {
            Ok(client) => {
                converse(&run, &api, &client, &mut transcript, &mut outcome, &cancel, started).await.map_err(log_err)?
            }
            Err(why) => {
                outcome.failure = Some(FailureClass::Network);
                outcome.result.error = Some(why);
                Ended::ByItself
            }
        },
    };
    match ended {
        Ended::Timeout => outcome.failure = Some(FailureClass::Timeout),
        Ended::Idle => outcome.failure = Some(FailureClass::IdleTimeout),
        Ended::Cancelled => {
            outcome.cancelled = true;
            outcome.failure = None;
        }
        Ended::ByItself => {}
    }
    outcome.result.error = outcome.result.error.take().map(|e| redactor.apply(&e));
    outcome.result.text = redactor.apply(&outcome.result.text);
    outcome.exit = ExitInfo { code: Some(if outcome.failure.is_none() { 0 } else { 1 }), signal: None };
    outcome.duration_ms = started.elapsed().as_millis() as u64;
    outcome.lines = transcript.lines;
    outcome.dropped_lines = transcript.dropped;
    outcome.tail = transcript.tail.iter().cloned().collect();
    write_footer(&mut transcript.log, &outcome, ended).map_err(log_err)?;
    transcript.log.flush().map_err(log_err)?;
    Ok(outcome)
}

fn header(t: &mut Transcript, run: &AgentRun, api: &ApiRun) -> std::io::Result<()> {
    let s = &api.settings;
    t.note("kitty-orchestrator agent log")?;
    t.note(&format!(
        "agent: {} (in process: chat completions at {}, model {})",
        run.command.agent, s.base_url, s.model
    ))?;
    t.note(&format!(
        "feature: {}  wp: {}  role: {}  attempt: {}",
        run.feature,
        run.wp,
        run.role.as_str(),
        run.attempt
    ))?;
    t.note(&format!("cwd: {}", run.cwd.display()))?;
    t.note(&format!("key: {} (never written)", s.api_key_env))?;
    t.note(&format!("prompt: {} bytes", run.prompt.len()))?;
    t.note(&format!(
        "limits: timeout {} s, idle {} s, {} turns, request {} s",
        run.timeout.as_secs(),
        run.idle_timeout.as_secs(),
        s.max_turns,
        s.request_timeout_seconds
    ))?;
    t.note(&format!("started: {}", jiff::Timestamp::now()))?;
    writeln!(t.log, "----")
}

/// The system message: the tools replace the `KITTY-STATUS` / `KITTY-VERDICT` lines.
fn system_message(run: &AgentRun, allowed: &[String]) -> String {
    let common = format!(
        "You are an autonomous coding agent working in a git worktree at {}. Use the tools to look \
         at and change files; paths are relative to the worktree root and cannot leave it. Tool \
         answers are cut when long: ask for ranges. Do not commit: the orchestrator commits what \
         you leave in the worktree.",
        run.cwd.display()
    );
    match run.role {
        Role::Implementation => format!(
            "{common} You may write anywhere in the worktree except .git. Programs run_command may \
             start: {}. When the work is complete call finish with status \"done\" and a short \
             summary; if you cannot go on call finish with \"blocked\" and why; if the task itself \
             is wrong call finish with \"kickback\" and why. The protocol lines the task text \
             mentions (KITTY-STATUS) are given by finish.",
            if allowed.is_empty() { "none".to_string() } else { allowed.join(", ") }
        ),
        Role::Review => format!(
            "{common} You are reviewing: you only read, nothing you could write would be kept. End \
             with verdict: \"approve\", or \"reject\" with feedback saying what to change. The \
             protocol lines the task text mentions (KITTY-VERDICT) are given by verdict."
        ),
    }
}

/// The conversation; fills in `outcome` and says how it ended.
#[allow(clippy::too_many_arguments)]
async fn converse(
    run: &AgentRun,
    api: &ApiRun,
    client: &Client,
    t: &mut Transcript,
    outcome: &mut Outcome,
    cancel: &CancellationToken,
    started: Instant,
) -> std::io::Result<Ended> {
    let settings = &api.settings;
    let wall = tokio::time::Instant::from_std(started) + run.timeout;
    let tools = definitions(run.role, &api.allowed_commands);
    let mut toolbox = Toolbox {
        root: run.cwd.clone(),
        role: run.role,
        allowed: api.allowed_commands.clone(),
        run: run.clone(),
        commands: 0,
    };
    let mut messages = vec![
        json!({"role": "system", "content": system_message(run, &api.allowed_commands)}),
        json!({"role": "user", "content": run.prompt}),
    ];
    let (mut tokens_in, mut tokens_out) = (0u64, 0u64);
    let mut nudges = 0;
    for turn in 1..=settings.max_turns {
        trim(&mut messages);
        let body = request_body(settings, &messages, &tools);
        let reply = match call_with_retries(client, &body, run, t, wall, cancel).await? {
            Ok(reply) => reply,
            Err(Stop::Ended(ended)) => return Ok(ended),
            Err(Stop::Failed(err)) => {
                t.note(&format!("the model call failed: {}", err.message()))?;
                outcome.failure = Some(err.class());
                outcome.result.is_error = true;
                outcome.result.error = Some(err.message().to_string());
                return Ok(Ended::ByItself);
            }
        };
        tokens_in += reply.usage.0.unwrap_or(0);
        tokens_out += reply.usage.1.unwrap_or(0);
        outcome.result.input_tokens = Some(tokens_in);
        outcome.result.output_tokens = Some(tokens_out);
        outcome.result.cost_usd = match (settings.price_in_per_mtok, settings.price_out_per_mtok) {
            (Some(i), Some(o)) => Some((tokens_in as f64 * i + tokens_out as f64 * o) / 1e6),
            _ => None,
        };
        if !reply.text.trim().is_empty() {
            t.say("assistant", &reply.text)?;
        }
        let mut message = reply.message.clone();
        if let Some(obj) = message.as_object_mut() {
            obj.retain(|k, _| matches!(k.as_str(), "role" | "content" | "tool_calls"));
            obj.insert("role".into(), json!("assistant"));
        }
        messages.push(message);
        if reply.calls.is_empty() {
            // A model answering in words: the protocol lines count as finish/verdict.
            if let Some(ended) = protocol_ending(run, &reply, outcome) {
                return Ok(ended);
            }
            nudges += 1;
            if nudges > MAX_NUDGES {
                t.note("the model stopped calling tools without finishing")?;
                outcome.result.text = reply.text.clone();
                return Ok(Ended::ByItself);
            }
            let ask = match run.role {
                Role::Implementation => "Use the tools to do the work, then call finish.",
                Role::Review => "Give your verdict with the verdict tool.",
            };
            messages.push(json!({"role": "user", "content": ask}));
            continue;
        }
        nudges = 0;
        let mut ending = None;
        for (id, name, arguments) in &reply.calls {
            t.say(&format!("tool_call {}", clip(name, 64)), &clip(arguments, 2000))?;
            let answer = tokio::select! {
                answer = toolbox.call(name, arguments, cancel) => answer,
                _ = tokio::time::sleep_until(wall) => return Ok(Ended::Timeout),
                _ = cancel.cancelled() => return Ok(Ended::Cancelled),
            };
            t.say(&format!("tool_result {}", clip(name, 64)), &clip(&answer.content, 2000))?;
            messages.push(json!({"role": "tool", "tool_call_id": id, "content": answer.content}));
            if ending.is_none() {
                ending = answer.ending;
            }
        }
        if let Some(ending) = ending {
            match ending {
                Ending::Finish(status, summary) => {
                    outcome.status = Some(status);
                    outcome.result.text = summary;
                }
                Ending::Verdict(verdict, feedback) => {
                    outcome.verdict = Some(verdict);
                    outcome.result.text = feedback;
                }
            }
            outcome.result.structured = true;
            t.note(&format!("ended by the model after {turn} turn(s)"))?;
            return Ok(Ended::ByItself);
        }
    }
    let why = format!("reached max_turns ({}) without finish", settings.max_turns);
    t.note(&why)?;
    outcome.failure = Some(FailureClass::Timeout);
    outcome.result.error = Some(why);
    Ok(Ended::ByItself)
}

/// `KITTY-STATUS:` / `KITTY-VERDICT:` lines in a reply without tool calls end the attempt too.
fn protocol_ending(run: &AgentRun, reply: &Reply, outcome: &mut Outcome) -> Option<Ended> {
    use crate::executor::PromptLines;
    let prompt = PromptLines::of(&run.prompt);
    match run.role {
        Role::Implementation => {
            outcome.status = Some(crate::executor::status_excluding(&reply.text, &prompt)?);
        }
        Role::Review => {
            outcome.verdict = Some(crate::executor::verdict_excluding(&reply.text, &prompt)?);
        }
    }
    outcome.result.text = reply.text.clone();
    Some(Ended::ByItself)
}

/// Why the turn's call did not give a reply.
enum Stop {
    Ended(Ended),
    Failed(CallError),
}

/// One request, retried on rate limits (after `Retry-After`) and network failures; waits are
/// bounded by the attempt's wall clock; the idle limit bounds each wait for an answer.
async fn call_with_retries(
    client: &Client,
    body: &Json,
    run: &AgentRun,
    t: &mut Transcript,
    wall: tokio::time::Instant,
    cancel: &CancellationToken,
) -> std::io::Result<Result<Reply, Stop>> {
    let (mut rate_limited, mut failed) = (0u32, 0u32);
    loop {
        let result = tokio::select! {
            result = client.complete(body) => result,
            _ = tokio::time::sleep(run.idle_timeout) => return Ok(Err(Stop::Ended(Ended::Idle))),
            _ = tokio::time::sleep_until(wall) => return Ok(Err(Stop::Ended(Ended::Timeout))),
            _ = cancel.cancelled() => return Ok(Err(Stop::Ended(Ended::Cancelled))),
        };
        let wait = match result {
            Ok(reply) => return Ok(Ok(reply)),
            Err(CallError::RateLimit(after, message)) if rate_limited < RATE_LIMIT_RETRIES => {
                rate_limited += 1;
                let wait = after.unwrap_or(Duration::from_secs(2u64 << rate_limited.min(6)));
                if wait > MAX_RETRY_AFTER {
                    return Ok(Err(Stop::Failed(CallError::RateLimit(after, message))));
                }
                t.note(&format!("rate limited ({message}); retrying in {:.1} s", wait.as_secs_f64()))?;
                wait
            }
            Err(CallError::Network(message) | CallError::Timeout(message)) if failed < NETWORK_RETRIES => {
                failed += 1;
                let wait = Duration::from_secs(1u64 << (failed - 1));
                t.note(&format!("request failed ({message}); retrying in {} s", wait.as_secs()))?;
                wait
            }
            Err(err) => return Ok(Err(Stop::Failed(err))),
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = tokio::time::sleep_until(wall) => return Ok(Err(Stop::Ended(Ended::Timeout))),
            _ = cancel.cancelled() => return Ok(Err(Stop::Ended(Ended::Cancelled))),
        }
    }
}

/// Keeps the conversation under [`MAX_CONTEXT_CHARS`]: the oldest tool results (then assistant
/// texts) are replaced by a note, the system message, the task and the last turns kept whole.
fn trim(messages: &mut [Json]) {
    let size = |m: &[Json]| m.iter().map(|v| v.to_string().len()).sum::<usize>();
    let mut total = size(messages);
    if total <= MAX_CONTEXT_CHARS {
        return;
    }
    let keep_from = messages.len().saturating_sub(6);
    for message in messages.iter_mut().take(keep_from).skip(2) {
        if total <= MAX_CONTEXT_CHARS {
            break;
        }
        let Some(content) = message.get("content").and_then(Json::as_str) else { continue };
        if content.len() < 200 {
            continue;
        }
        let before = content.len();
        message["content"] = json!(format!("[trimmed: {before} characters no longer shown]"));
        total = total.saturating_sub(before.saturating_sub(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trimming_drops_old_tool_results_first_and_keeps_the_task() {
        let big = "x".repeat(30_000);
        let mut messages =
            vec![json!({"role": "system", "content": "s"}), json!({"role": "user", "content": big.clone()})];
        for _ in 0..20 {
            messages.push(json!({"role": "tool", "tool_call_id": "c", "content": big.clone()}));
        }
        trim(&mut messages);
        assert_eq!(messages[1]["content"].as_str().unwrap().len(), 30_000, "the task stays");
        assert_eq!(messages[21]["content"].as_str().unwrap().len(), 30_000, "the last turns stay");
        assert!(messages[2]["content"].as_str().unwrap().starts_with("[trimmed"));
        let total: usize = messages.iter().map(|m| m.to_string().len()).sum();
        assert!(total <= MAX_CONTEXT_CHARS, "{total}");
    }
}
