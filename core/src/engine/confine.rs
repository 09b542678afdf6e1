//! What each process the engine starts for an attempt may write (DESIGN: agents are confined to
//! their worktree): the confinement by role and agent, and the attempt's private temporary
//! directory (`TMPDIR`), which lives as long as the returned guard.

use std::path::Path;

use super::ctx::Ctx;
use super::roster::Roster;
use crate::config::Config;
use crate::error::EngineError;
use crate::role::Role;
use crate::sandbox::{Confinement, GitAreas, SandboxMode, writable_paths};

/// An attempt's confinement and the temporary directory it may write.
pub(super) struct AttemptSandbox {
    /// For the [`crate::executor::AgentRun`].
    pub(super) confinement: Confinement,
    /// `TMPDIR`, `TMP`, `TEMP` for the process.
    pub(super) env: Vec<(String, String)>,
    /// Removed when the attempt is over.
    _temp: Option<tempfile::TempDir>,
}

/// The confinement of `agent` (an agent id, `setup` or `verify`) working in `cwd` as `role`.
pub(super) fn for_attempt(ctx: &Ctx, role: Role, agent: &str, cwd: &Path) -> AttemptSandbox {
    let settings = ctx.config.agents.settings.get(agent);
    let mode = settings.and_then(|s| s.sandbox).unwrap_or(ctx.config.sandbox);
    let temp = tempfile::Builder::new().prefix("kitty-attempt-").tempdir().ok();
    let temp_path = temp.as_ref().map(|t| t.path().to_path_buf()).unwrap_or_else(std::env::temp_dir);
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    let mut extra = ctx.config.writable.clone();
    extra.extend(settings.map(|s| s.writable.clone()).unwrap_or_default());
    if mode != SandboxMode::Off
        && let Some(home) = &home
    {
        for dir in crate::sandbox::home_dirs(agent, home) {
            if let Err(err) = std::fs::create_dir_all(&dir) {
                tracing::debug!(dir = %dir.display(), %err, "an agent state directory could not be made");
            }
        }
    }
    let git = GitAreas::of(cwd);
    let writable = writable_paths(role, agent, cwd, git.as_ref(), &temp_path, home.as_deref(), &extra);
    if mode == SandboxMode::BestEffort {
        let support = crate::sandbox::support();
        if let Some(why) = support.why_not.filter(|_| !support.available) {
            // Once per run (warnings are kept once per distinct message).
            tracing::warn!(%why, "agents run unconfined");
            ctx.warn(format!("agents run unconfined (sandbox = \"best_effort\"): {why}"));
        }
    }
    let dir = temp_path.display().to_string();
    let env = ["TMPDIR", "TMP", "TEMP"].iter().map(|k| (k.to_string(), dir.clone())).collect();
    AttemptSandbox { confinement: Confinement { mode, writable }, env, _temp: temp }
}

/// Refuses a run before anything starts when an agent of the roster (or the setup or verify
/// command) has `sandbox = "required"` and this machine cannot confine: better no run than one
/// whose every attempt fails to spawn.
pub(super) fn preflight(config: &Config, roster: &Roster) -> Result<(), EngineError> {
    let mode_of = |id: &str| config.agents.settings.get(id).and_then(|s| s.sandbox).unwrap_or(config.sandbox);
    let mut required: Vec<String> = Vec::new();
    for role in [Role::Implementation, Role::Review] {
        for id in roster.candidates(role) {
            if mode_of(id) == SandboxMode::Required && !required.contains(id) {
                required.push(id.clone());
            }
        }
    }
    for (name, configured) in [("setup", config.setup_command.is_some()), ("verify", config.verify_command.is_some())] {
        if configured && mode_of(name) == SandboxMode::Required {
            required.push(format!("the {name} command"));
        }
    }
    let support = crate::sandbox::support();
    if required.is_empty() || support.available {
        return Ok(());
    }
    let why = support.why_not.unwrap_or_else(|| "Landlock is unavailable".into());
    Err(EngineError::SandboxUnavailable { agents: required.join(", "), why })
}
