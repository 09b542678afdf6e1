//! The agent log's header (agent, checked version, argv, cwd, added env, prompt size, limits)
//! and footer (exit, duration, outcome, cost, session, protocol lines, warnings).

use std::io::Write;
use std::path::Path;

use super::classify::Ended;
use super::types::{AgentRun, Outcome, clip};
use crate::command::{Delivery, Driver};
use crate::redact::Redactor;

pub(super) fn write_header(
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
        _ if run.command.driver == Driver::Acp => "the ACP session/prompt request".to_string(),
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

pub(crate) fn write_footer(log: &mut impl Write, outcome: &Outcome, ended: Ended) -> std::io::Result<()> {
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
