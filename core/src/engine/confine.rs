//! What each process the engine starts for an attempt may write (DESIGN: agents are confined to
//! their worktree): the confinement by role and agent, the attempt's private temporary
//! directory (`TMPDIR`), which lives as long as the returned guard, and — for an implementation
//! attempt in a linked worktree — its private git store, opened before the agent starts and
//! concluded after every process of it is gone ([`AttemptSandbox::conclude`]).

use std::path::Path;

use super::ctx::Ctx;
use super::roster::Roster;
use crate::config::Config;
use crate::error::EngineError;
use crate::role::Role;
use crate::sandbox::{Confinement, GitAreas, SandboxMode, writable_paths};
use crate::worktree::{Concluded, Quarantine};

/// An attempt's confinement and the temporary directory it may write.
pub(super) struct AttemptSandbox {
    /// For the [`crate::executor::AgentRun`].
    pub(super) confinement: Confinement,
    /// `TMPDIR`, `TMP`, `TEMP` for the process.
    pub(super) env: Vec<(String, String)>,
    /// Removed when the attempt is over.
    _temp: Option<tempfile::TempDir>,
    /// The implementation attempt's private git store, open until concluded.
    store: Option<Quarantine>,
    /// Landlock holds the attempt's processes.
    pub(super) confined: bool,
    /// The private copies of the agent's own directory (a refreshed login is given back).
    homes: crate::sandbox::PrivateHomes,
}

impl AttemptSandbox {
    /// After every process of the attempt is gone: takes its objects and its branch's tip into
    /// the repository (see [`Quarantine::conclude`]). `None` when it had no private store.
    pub(super) fn conclude(&mut self, ctx: &Ctx) -> Result<Option<Concluded>, crate::Error> {
        self.homes.give_back();
        let Some(store) = self.store.take() else { return Ok(None) };
        let repo = ctx.store.repo()?;
        Ok(Some(store.conclude(&repo, true)?))
    }
}

impl Drop for AttemptSandbox {
    /// A store left open (an error or a panic between the start and the conclusion) is
    /// concluded here, so the worktree never stays pointed at it; failing that, the next
    /// attempt in the worktree concludes it.
    fn drop(&mut self) {
        self.homes.give_back();
        let Some(store) = self.store.take() else { return };
        let concluded = git2::Repository::open(store.common())
            .map_err(|e| e.to_string())
            .and_then(|repo| store.conclude(&repo, true).map_err(|e| e.to_string()));
        if let Err(err) = concluded {
            tracing::warn!(store = %store.dir().display(), %err, "an attempt's private git store is left for the next attempt to conclude");
        }
    }
}

/// Concludes what an earlier attempt in the same worktree left open (its orchestrator died):
/// its objects and its commits are taken as after any attempt.
pub(super) fn settle(ctx: &Ctx, store: &Quarantine) -> Result<(), crate::Error> {
    if !store.pending() {
        return Ok(());
    }
    let repo = ctx.store.repo()?;
    let done = store.conclude(&repo, true)?;
    tracing::warn!(
        store = %store.dir().display(),
        objects = done.objects,
        adopted = done.adopted,
        "concluded the private git store of an attempt whose orchestrator died"
    );
    Ok(())
}

/// The confinement of the `setup` or `verify` command (`name`) in `cwd`: as an implementation
/// attempt's, without a private git store — it reads the repository and writes no object or ref.
pub(super) fn for_command(ctx: &Ctx, name: &str, cwd: &Path) -> AttemptSandbox {
    build(ctx, Role::Implementation, name, cwd, None)
}

/// The confinement of `agent` working in `cwd` as `role`;
/// `store` is the private git store of an implementation attempt in a linked worktree (opened
/// here, after concluding what an earlier attempt left). Setup and verify commands get none:
/// they read the repository and write no git object or ref.
pub(super) fn for_attempt(
    ctx: &Ctx,
    role: Role,
    agent: &str,
    cwd: &Path,
    store: Option<Quarantine>,
) -> Result<AttemptSandbox, crate::Error> {
    let store = match store.filter(|_| role == Role::Implementation) {
        Some(store) => {
            settle(ctx, &store)?;
            store.open(&ctx.store.repo()?)?;
            Some(store)
        }
        None => None,
    };
    Ok(build(ctx, role, agent, cwd, store))
}

fn build(ctx: &Ctx, role: Role, agent: &str, cwd: &Path, store: Option<Quarantine>) -> AttemptSandbox {
    let settings = ctx.config.agents.settings.get(agent);
    let mode = settings.and_then(|s| s.sandbox).unwrap_or(ctx.config.sandbox);
    let temp = tempfile::Builder::new().prefix(&super::attempt_temps::temp_prefix(cwd)).tempdir().ok();
    let temp_path = temp.as_ref().map(|t| t.path().to_path_buf()).unwrap_or_else(std::env::temp_dir);
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    let mut extra = ctx.config.writable.clone();
    extra.extend(settings.map(|s| s.writable.clone()).unwrap_or_default());
    if mode != SandboxMode::Off
        && role == Role::Implementation
        && let Some(home) = &home
    {
        for dir in crate::sandbox::home_dirs(agent, home) {
            if let Err(err) = std::fs::create_dir_all(&dir) {
                tracing::debug!(dir = %dir.display(), %err, "an agent state directory could not be made");
            }
        }
    }
    // An implementer's own directories live where its next attempt in this worktree finds them
    // (its sessions, for a rework to continue), at one path across attempts; the user's
    // settings are copied over them each time.
    let kept = (role == Role::Implementation && mode != SandboxMode::Off && temp.is_some())
        .then(|| crate::sandbox::kept_dir(&super::attempt_temps::worktree_key(cwd), agent))
        .and_then(|dir| crate::sandbox::prepare_kept(&dir));
    extra.extend(kept.iter().cloned());
    let git = store.as_ref().map(|s| GitAreas { admin: s.admin().to_path_buf(), store: s.dir() });
    let writable = writable_paths(role, agent, cwd, git.as_ref(), &temp_path, home.as_deref(), &extra);
    let support = crate::sandbox::support();
    let confined = mode != SandboxMode::Off && support.available;
    if mode == SandboxMode::BestEffort
        && let Some(why) = support.why_not.filter(|_| !support.available)
    {
        // Once per run (warnings are kept once per distinct message).
        tracing::warn!(%why, "agents run unconfined");
        ctx.warn(format!("agents run unconfined (sandbox = \"best_effort\"): {why}"));
    }
    let dir = temp_path.display().to_string();
    // Claude Code's Agent SDK (the ACP driver's claude-agent-acp) ignores TMPDIR for its shell
    // tool's files and writes under `/tmp` unless `CLAUDE_CODE_TMPDIR` says otherwise.
    let mut env: Vec<(String, String)> =
        ["TMPDIR", "TMP", "TEMP", "CLAUDE_CODE_TMPDIR"].iter().map(|k| (k.to_string(), dir.clone())).collect();
    // Only a temporary directory of our own can hold private copies (never the shared one).
    let homes = match &temp {
        Some(t) if mode != SandboxMode::Off => match &kept {
            Some(kept) => crate::sandbox::PrivateHomes::make_in(agent, home.as_deref(), kept, t.path()),
            None => crate::sandbox::PrivateHomes::make(agent, home.as_deref(), t.path()),
        },
        _ => crate::sandbox::PrivateHomes::default(),
    };
    env.extend(homes.env.iter().cloned());
    env.extend(identity_when_missing(ctx, agent));
    let confinement = Confinement { mode, writable: writable.paths, git_writable: writable.git };
    AttemptSandbox { confinement, env, _temp: temp, store, confined, homes }
}

/// A git identity for the agent's commits when the repository (and the user) has none: through
/// git's own environment (`GIT_CONFIG_COUNT`…), so `git commit` works and no agent writes one
/// into a config (aider does, when `user.name` is unset).
fn identity_when_missing(ctx: &Ctx, agent: &str) -> Vec<(String, String)> {
    let has = |key: &str| {
        ctx.store
            .repo()
            .ok()
            .and_then(|r| r.config().ok())
            .and_then(|mut c| c.snapshot().ok())
            .is_some_and(|c| c.get_string(key).is_ok())
    };
    if (has("user.name") && has("user.email")) || std::env::var_os("GIT_CONFIG_COUNT").is_some() {
        return Vec::new();
    }
    let pairs = [("user.name", agent.to_string()), ("user.email", format!("{agent}@agents.kitty"))];
    let mut env = vec![("GIT_CONFIG_COUNT".to_string(), pairs.len().to_string())];
    for (i, (key, value)) in pairs.into_iter().enumerate() {
        env.push((format!("GIT_CONFIG_KEY_{i}"), key.to_string()));
        env.push((format!("GIT_CONFIG_VALUE_{i}"), value));
    }
    env
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
