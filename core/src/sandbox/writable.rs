//! The writable set of an attempt, by role: what a commit in a linked worktree writes, the
//! private temporary directory, the agent's state directories and the configured extras.

use std::path::{Path, PathBuf};

use crate::role::Role;

/// The parts of the git directory a commit in a linked worktree writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitAreas {
    /// `<common>/objects`.
    pub objects: PathBuf,
    /// `<common>/worktrees/<name>`: its HEAD, index, logs.
    pub admin: PathBuf,
    /// `<common>/refs/heads` and `<common>/logs/refs/heads`: branch refs and reflogs (other
    /// branches are checked after the attempt: only what we wrote may have moved).
    pub branches: Vec<PathBuf>,
}

impl GitAreas {
    /// The areas of the linked worktree at `worktree` (its `.git` file names its admin
    /// directory); `None` when `worktree` is not a linked worktree.
    pub fn of(worktree: &Path) -> Option<GitAreas> {
        let text = std::fs::read_to_string(worktree.join(".git")).ok()?;
        let admin = PathBuf::from(text.trim().strip_prefix("gitdir:")?.trim());
        let admin = if admin.is_absolute() { admin } else { worktree.join(admin) };
        let common_file = std::fs::read_to_string(admin.join("commondir")).ok()?;
        let common = admin.join(common_file.trim());
        let common = common.canonicalize().unwrap_or(common);
        Some(GitAreas {
            objects: common.join("objects"),
            admin,
            branches: vec![common.join("refs").join("heads"), common.join("logs").join("refs").join("heads")],
        })
    }
}

/// Device files every program may write (`/dev/null`, terminals, shared memory).
const DEVICES: [&str; 8] =
    ["/dev/null", "/dev/zero", "/dev/full", "/dev/tty", "/dev/ptmx", "/dev/pts", "/dev/shm", "/dev/random"];

/// Each agent's own state directories under `$HOME` (sessions, caches, settings it updates).
fn state_dirs(agent: &str) -> &'static [&'static str] {
    match agent {
        "claude-code" => &[".claude", ".config/claude"],
        "codex" => &[".codex"],
        "gemini" => &[".gemini"],
        "qwen" => &[".qwen"],
        "copilot" => &[".copilot", ".config/github-copilot"],
        "opencode" => &[".local/share/opencode", ".config/opencode", ".local/state/opencode"],
        "cursor" => &[".cursor", ".config/cursor"],
        "kilocode" => &[".kilocode"],
        "augment" => &[".augment"],
        "aider" => &[".aider"],
        _ => &[],
    }
}

/// `agent`'s own state directories under `home`, and `~/.cache`: made before an attempt when
/// missing (a rule can only name a path that exists, and an agent that has never run here must
/// still be able to create its settings).
pub fn home_dirs(agent: &str, home: &Path) -> Vec<PathBuf> {
    std::iter::once(home.join(".cache")).chain(state_dirs(agent).iter().map(|d| home.join(d))).collect()
}

/// What an attempt of `agent` in `role` may write: for implementation its worktree and `git`
/// areas; for every role `temp`, the agent's state directories under `home` and `~/.cache`,
/// the device files, and `extra`.
pub fn writable_paths(
    role: Role,
    agent: &str,
    worktree: &Path,
    git: Option<&GitAreas>,
    temp: &Path,
    home: Option<&Path>,
    extra: &[PathBuf],
) -> Vec<PathBuf> {
    let mut paths = vec![temp.to_path_buf()];
    if role == Role::Implementation {
        paths.push(worktree.to_path_buf());
        if let Some(git) = git {
            paths.push(git.objects.clone());
            paths.push(git.admin.clone());
            paths.extend(git.branches.iter().cloned());
        }
    }
    if let Some(home) = home {
        paths.extend(home_dirs(agent, home));
    }
    paths.extend(DEVICES.iter().map(PathBuf::from));
    paths.extend(extra.iter().cloned());
    paths
}
