//! How an agent would be confined on this machine, for `doctor` and `detect_agents`: its mode,
//! whether Landlock will hold it here, and what each role may write (what an attempt fills in —
//! its worktree, the git directory, its temporary directory — shown as `<placeholders>`).

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::Config;
use crate::role::Role;
use crate::sandbox::{GitAreas, SandboxMode, writable_paths};

/// One agent's confinement here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentSandbox {
    /// Its mode: its own `[agents.<id>] sandbox`, else the global `sandbox`.
    pub mode: SandboxMode,
    /// Its processes are confined on this machine (the mode is not `off` and Landlock holds).
    pub confined: bool,
    /// Why not, when not (under `required`: the run is refused).
    pub why_not: Option<String>,
    /// What an implementation attempt may write.
    pub implementation_writable: Vec<String>,
    /// What a review attempt may write.
    pub review_writable: Vec<String>,
    /// Of `implementation_writable`, the git directories (its worktree's admin directory and its
    /// private store): regular files and directories only, never a symlink, FIFO or device.
    pub git_files_only: Vec<String>,
    /// The agent's own directories and caches as every attempt gets them: private copies in its
    /// temporary directory (see [`crate::sandbox::PrivateHomes`]).
    pub private_copies: Vec<String>,
}

/// `agent`'s confinement under `config` on this machine.
pub fn agent_sandbox(config: &Config, agent: &str) -> AgentSandbox {
    let settings = config.agents.settings.get(agent);
    let mode = settings.and_then(|s| s.sandbox).unwrap_or(config.sandbox);
    let support = crate::sandbox::support();
    let why_not = match mode {
        SandboxMode::Off => Some("sandbox = \"off\"".to_string()),
        _ if !support.available => support.why_not.clone().or_else(|| Some("Landlock is unavailable".into())),
        _ => None,
    };
    let mut extra = config.writable.clone();
    extra.extend(settings.map(|s| s.writable.clone()).unwrap_or_default());
    let common = Path::new("<git-common-dir>");
    let git = GitAreas {
        admin: common.join("worktrees").join("<worktree-name>"),
        store: common.join("kitty").join("quarantine").join("<worktree-name>"),
    };
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let set = |role| {
        let writable = writable_paths(
            role,
            agent,
            Path::new("<worktree>"),
            Some(&git),
            Path::new("<attempt-tmp>"),
            home.as_deref(),
            &extra,
        );
        writable.paths.iter().chain(&writable.git).map(|p| p.display().to_string()).collect::<Vec<String>>()
    };
    AgentSandbox {
        mode,
        confined: why_not.is_none(),
        why_not,
        implementation_writable: set(Role::Implementation),
        review_writable: set(Role::Review),
        git_files_only: [&git.admin, &git.store].iter().map(|p| p.display().to_string()).collect(),
        private_copies: if mode == SandboxMode::Off { Vec::new() } else { crate::sandbox::private_copies(agent) },
    }
}
