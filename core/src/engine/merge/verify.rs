//! A merge's verification, before the target moves: `verify_command` in the integration
//! worktree; when it fails, up to `max_fix_rounds` rounds in which an implementation agent gets
//! the failing output's tail, the WP list and the spec/plan, and commits a fix; then verify again.
//! Every round is an event, is recorded on the run chain, and has its own logs under
//! `.kittify/logs/<feature>/`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::engine::blocking::off_thread;
use crate::engine::commands::command_run;
use crate::engine::ctx::Ctx;
use crate::engine::events::Event;
use crate::engine::prompt;
use crate::executor::{AgentRun, Outcome, execute};
use crate::failure::FailureClass;
use crate::land::{LandingVerification, VerifyRound};
use crate::role::Role;
use crate::state::RunEvent;
use crate::worktree::IntegrationTree;

/// Lines of the failing output an agent is shown.
const TAIL_LINES: usize = 80;

pub(super) fn logs_dir(ctx: &Ctx) -> PathBuf {
    ctx.repo_root.join(".kittify/logs").join(ctx.feature.slug.as_str())
}

/// The last lines of a log, each bounded, for a prompt.
fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(TAIL_LINES);
    lines[start..].iter().map(|l| l.chars().take(500).collect::<String>()).collect::<Vec<_>>().join("\n")
}

/// What one fix round produced.
struct Fix {
    agent: Option<String>,
    log: Option<String>,
    commit: Option<String>,
    /// Why no further round should run (no agent, aborted, blocked).
    stop: Option<String>,
}

/// Verifies the integration worktree's HEAD, fixing it when it fails. Returns how it went; the
/// worktree's HEAD is what passed (or the last try).
pub(super) async fn verify_and_fix(
    ctx: &Ctx,
    tree: &IntegrationTree,
    command: Vec<String>,
) -> Result<LandingVerification, crate::Error> {
    let mut rounds: Vec<VerifyRound> = Vec::new();
    let mut note = None;
    let mut fix = Fix { agent: None, log: None, commit: None, stop: None };
    for round in 0..=ctx.config.max_fix_rounds {
        if round > 0 {
            let tail = log_tail(Path::new(&rounds.last().expect("a verification before any fix").log));
            fix = fix_round(ctx, tree, &command, round, &tail).await?;
            if let Some(why) = fix.stop.take() {
                note = Some(why);
                break;
            }
        }
        let log = logs_dir(ctx).join(format!("merge-verify-{round}.log"));
        let (run, _sandbox) = command_run(ctx, "verify", &command, "merge", &tree.path, log.clone());
        let outcome = execute(run, None, ctx.cancel.child_token()).await;
        let (passed, exit_code) = match &outcome {
            Ok(o) => (o.success(), o.exit.code),
            Err(_) => (false, None),
        };
        let log = log.display().to_string();
        let verified = VerifyRound {
            round,
            fix_agent: fix.agent.take(),
            fix_log: fix.log.take(),
            fix_commit: fix.commit.take(),
            passed,
            exit_code,
            log: log.clone(),
        };
        record_round(ctx, &verified).await?;
        rounds.push(verified);
        if passed {
            break;
        }
        if ctx.cancel.is_cancelled() {
            note = Some("the merge was aborted".into());
            break;
        }
        if let Err(err) = outcome {
            note = Some(format!("`{}` could not run: {err}", command.join(" ")));
            break;
        }
    }
    let last = rounds.last().expect("at least one verification");
    Ok(LandingVerification {
        command,
        passed: last.passed,
        fix_rounds: rounds.iter().filter(|r| r.round > 0).count() as u32,
        log: last.log.clone(),
        rounds: rounds.clone(),
        note,
    })
}

async fn record_round(ctx: &Ctx, round: &VerifyRound) -> Result<(), crate::Error> {
    let event = RunEvent::Verified {
        round: round.round,
        passed: round.passed,
        agent: round.fix_agent.clone(),
        commit: round.fix_commit.clone(),
        log: round.log.clone(),
    };
    let body = format!(
        "verification {} after fix round {}; log {}",
        if round.passed { "passed" } else { "failed" },
        round.round,
        round.log
    );
    let (store, slug) = (ctx.store.clone(), ctx.feature.slug.clone());
    off_thread(move || store.append_run(&slug, &event, &body)).await??;
    ctx.emit(Event::MergeVerified {
        feature: ctx.feature.slug.to_string(),
        round: round.round,
        passed: round.passed,
        fix_agent: round.fix_agent.clone(),
        log: round.log.clone(),
    });
    Ok(())
}

/// One fix round: the implementation agents in order (retries as for WP attempts) until one
/// ends successfully; what it left uncommitted is committed.
async fn fix_round(
    ctx: &Ctx,
    tree: &IntegrationTree,
    command: &[String],
    round: u32,
    tail: &str,
) -> Result<Fix, crate::Error> {
    let agents = ctx.roster.candidates(Role::Implementation).to_vec();
    if agents.is_empty() {
        let why = "no implementation agent is available to fix it".to_string();
        return Ok(Fix { agent: None, log: None, commit: None, stop: Some(why) });
    }
    let path = tree.path.display().to_string();
    let text = prompt::fix(&ctx.feature, &path, &tree.name, command, round, tail);
    let before = ctx.worktrees.integration_head(tree)?;
    let mut last: Option<(String, String)> = None;
    'agents: for agent in &agents {
        for attempt in 0..=ctx.config.max_retries {
            let log = logs_dir(ctx).join(format!("merge-fix-{round}-{agent}-{}.log", attempt + 1));
            let outcome = run_merge_agent(ctx, agent, round, tree, "merge", text.clone(), log.clone()).await?;
            last = Some((agent.clone(), log.display().to_string()));
            if outcome.failure == Some(FailureClass::RefTampering) {
                let stop = outcome.result.error.clone();
                return Ok(Fix { agent: Some(agent.clone()), log: last.map(|l| l.1), commit: None, stop });
            }
            let message = format!(
                "{}: fix the merge's verification (round {round})\n\nChanges left uncommitted by {agent}, committed by kitty-orchestrator.\n\nKitty-Feature: {}\nKitty-Agent: {}\n",
                ctx.feature.slug,
                ctx.feature.slug,
                crate::state::trailer_value(agent)
            );
            let (worktrees, t, a) = (ctx.worktrees.clone(), tree.clone(), agent.clone());
            off_thread(move || worktrees.commit_integration(&t, &message, &a)).await??;
            if outcome.cancelled {
                return Ok(Fix {
                    agent: Some(agent.clone()),
                    log: last.map(|l| l.1),
                    commit: None,
                    stop: Some("the merge was aborted".into()),
                });
            }
            if outcome.success() {
                if let Some(crate::executor::KittyStatus::Blocked(why) | crate::executor::KittyStatus::Kickback(why)) =
                    &outcome.status
                {
                    let stop = Some(format!("{agent} gave up fixing it: {why}"));
                    return Ok(Fix { agent: Some(agent.clone()), log: last.map(|l| l.1), commit: None, stop });
                }
                break 'agents;
            }
            if matches!(outcome.failure, Some(FailureClass::Auth | FailureClass::Spawn)) {
                continue 'agents;
            }
            tokio::time::sleep(ctx.opts.retry_base.min(Duration::from_secs(30))).await;
        }
    }
    let after = ctx.worktrees.integration_head(tree)?;
    let (agent, log) = last.unzip();
    Ok(Fix { agent, log, commit: (after != before).then(|| after.to_string()), stop: None })
}

/// Runs one implementation agent for a merge (fix or resolution) in the integration worktree
/// `tree`, against its private git store; `wp` is what its `KITTY_WP` says (the WP whose
/// conflict it resolves, or `merge` for a fix round). An agent that changed what it does not own (another
/// ref, the worktree's link files) ends as `ref_tampering`, the reason in `result.error`.
pub(super) async fn run_merge_agent(
    ctx: &Ctx,
    agent: &str,
    round: u32,
    tree: &IntegrationTree,
    wp: &str,
    prompt: String,
    log_path: PathBuf,
) -> Result<Outcome, crate::Error> {
    let spec = ctx.roster.spec(agent).expect("roster agents have specs");
    let cwd = tree.path.as_path();
    let store = ctx.worktrees.integration_quarantine(tree);
    let mut sandbox = crate::engine::confine::for_attempt(ctx, Role::Implementation, agent, cwd, Some(store))?;
    let mut command = spec.command(Role::Implementation).clone();
    command.env.extend(sandbox.env.iter().cloned());
    if sandbox.confined {
        // Some CLIs' own sandboxes cannot start inside ours (Codex's bubblewrap).
        crate::agents::confine_command(&mut command);
    }
    let run = AgentRun {
        session: None,
        command,
        role: Role::Implementation,
        attempt: round,
        feature: ctx.feature.slug.to_string(),
        wp: wp.to_string(),
        cwd: cwd.to_path_buf(),
        prompt,
        log_path,
        timeout: spec.timeout,
        idle_timeout: spec.idle_timeout,
        grace: ctx.opts.grace,
        confinement: Some(sandbox.confinement.clone()),
    };
    ctx.emit(Event::AgentStarted {
        feature: ctx.feature.slug.to_string(),
        wp: wp.to_string(),
        agent: agent.to_string(),
        role: Role::Implementation,
        attempt: round,
        pid: None,
        log: run.log_path.display().to_string(),
    });
    let outcome = match run.command.api.clone() {
        // The openai-api agent runs in this process.
        Some(settings) => {
            let api = crate::llm::ApiRun { allowed_commands: settings.allowed_commands.clone(), settings };
            crate::llm::execute(run, api, None, ctx.cancel.child_token(), || true).await
        }
        None => execute(run, None, ctx.cancel.child_token()).await,
    };
    let mut outcome = outcome.map_err(|e| crate::Error::Io { path: e.path, source: e.source })?;
    let concluded = sandbox.conclude(ctx)?;
    let what = format!("{agent}'s merge round {round}");
    if let Some(why) = concluded.as_ref().and_then(|done| crate::engine::ref_guard::private_moves(ctx, &what, done)) {
        outcome.failure = Some(FailureClass::RefTampering);
        outcome.result.error = Some(why);
    }
    Ok(outcome)
}
