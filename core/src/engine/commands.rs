//! The configured commands that are not agents — `setup_command` in each new worktree and
//! `verify_command` on the merge of every WP branch — run through the same executor as agents:
//! their own process group, wall and idle timeouts, redacted logs, and abort ends them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::ctx::Ctx;
use super::reports::VerifyResult;
use crate::command::{AgentCommand, Delivery, OutputKind};
use crate::executor::{AgentRun, execute};
use crate::feature::WorkPackage;
use crate::role::Role;

/// A configured command as an executor run, confined like an implementation attempt in `cwd`
/// (the returned guard holds its temporary directory).
pub(super) fn command_run(
    ctx: &Ctx,
    name: &str,
    argv: &[String],
    wp: &str,
    cwd: &Path,
    log_path: PathBuf,
) -> (AgentRun, super::confine::AttemptSandbox) {
    let sandbox = super::confine::for_command(ctx, name, cwd);
    let run = AgentRun {
        session: None,
        command: AgentCommand {
            resume: None,
            agent: name.to_string(),
            program: argv[0].clone(),
            args: argv[1..].to_vec(),
            delivery: Delivery::Stdin,
            output: OutputKind::Text,
            driver: crate::command::Driver::Cli,
            env: sandbox.env.clone(),
            redact: Vec::new(),
            checked_version: None,
            api: None,
        },
        role: Role::Implementation,
        attempt: 1,
        feature: ctx.feature.slug.to_string(),
        wp: wp.to_string(),
        cwd: cwd.to_path_buf(),
        prompt: String::new(),
        log_path,
        timeout: Duration::from_secs(ctx.config.timeout_seconds),
        idle_timeout: Duration::from_secs(ctx.config.idle_timeout_seconds),
        grace: ctx.opts.grace,
        confinement: Some(sandbox.confinement.clone()),
    };
    (run, sandbox)
}

/// How a setup run ended.
pub enum Setup {
    /// It succeeded (or none is configured): the worktree is ready.
    Ready,
    /// It failed: why, for the WP's blocked reason.
    Failed(String),
    /// The run was aborted during it.
    Cancelled,
}

/// Runs `setup_command` in the WP's new worktree (outside the repository-wide creation lock, so
/// other WPs' worktrees are made meanwhile), then marks the worktree ready.
pub async fn setup(ctx: &Ctx, wp: &WorkPackage, worktree: &Path) -> Setup {
    let Some(argv) = ctx.worktrees.setup_command().map(<[String]>::to_vec) else { return Setup::Ready };
    let log = ctx.worktrees.setup_log_path(&wp.id);
    let (run, _sandbox) = command_run(ctx, "setup", &argv, wp.id.as_str(), worktree, log.clone());
    let shown = argv.join(" ");
    match execute(run, None, ctx.cancel.child_token()).await {
        Ok(outcome) if outcome.cancelled => Setup::Cancelled,
        Ok(outcome) if outcome.success() => match ctx.worktrees.mark_ready(&wp.id) {
            Ok(()) => Setup::Ready,
            Err(err) => {
                Setup::Failed(format!("setup command `{shown}` succeeded but the worktree is not ready: {err}"))
            }
        },
        Ok(outcome) => Setup::Failed(format!(
            "setup command `{shown}` failed in {} ({}); see {}",
            worktree.display(),
            outcome.describe(),
            log.display()
        )),
        Err(err) => Setup::Failed(format!("setup command `{shown}` could not run: {err}")),
    }
}

/// Runs the configured verification command on the merge of every WP branch, in a scratch
/// directory.
pub async fn verify(ctx: &Ctx, command: Vec<String>) -> VerifyResult {
    let log_path = ctx.repo_root.join(".kittify/logs").join(ctx.feature.slug.as_str()).join("verify.log");
    let failed = |why: String| VerifyResult { command: command.clone(), success: false, exit_code: None, log: why };
    let scratch = match tempfile::Builder::new().prefix("kitty-verify-").tempdir() {
        Ok(dir) => dir,
        Err(err) => return failed(format!("cannot make a scratch directory: {err}")),
    };
    let ids: Vec<crate::ids::WpId> = ctx.feature.work_packages.iter().map(|wp| wp.id.clone()).collect();
    if let Err(err) = ctx.worktrees.checkout_merged(&ids, scratch.path()) {
        return failed(format!("cannot merge the WP branches: {err}"));
    }
    let (run, _sandbox) = command_run(ctx, "verify", &command, "verify", scratch.path(), log_path.clone());
    match execute(run, None, ctx.cancel.child_token()).await {
        Ok(outcome) => VerifyResult {
            command,
            success: outcome.success(),
            exit_code: outcome.exit.code,
            log: log_path.display().to_string(),
        },
        Err(err) => failed(err.to_string()),
    }
}

/// Runs a task's own `Verify:` command (task lists) in its worktree after an implementation
/// attempt; `Err` says why the attempt fails (the log path included).
pub async fn verify_task(ctx: &Ctx, wp: &WorkPackage, worktree: &Path, attempt: u32) -> Result<(), String> {
    let Some(argv) = task_verify(wp) else { return Ok(()) };
    let log = ctx
        .repo_root
        .join(".kittify/logs")
        .join(ctx.feature.slug.as_str())
        .join(format!("{}-verify-{attempt}.log", wp.id));
    let (run, _sandbox) = command_run(ctx, "verify", &argv, wp.id.as_str(), worktree, log.clone());
    let shown = argv.join(" ");
    match execute(run, None, ctx.cancel.child_token()).await {
        Ok(outcome) if outcome.success() => Ok(()),
        Ok(outcome) => {
            Err(format!("its Verify command `{shown}` failed ({}); see {}", outcome.describe(), log.display()))
        }
        Err(err) => Err(format!("its Verify command `{shown}` could not run: {err}")),
    }
}

/// The task's `Verify:` argv, when its task list gave one.
fn task_verify(wp: &WorkPackage) -> Option<Vec<String>> {
    let argv: Vec<String> =
        wp.extra.get("verify")?.as_array()?.iter().filter_map(|v| v.as_str().map(str::to_string)).collect();
    (!argv.is_empty()).then_some(argv)
}
