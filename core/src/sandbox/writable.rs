//! The writable set of an attempt, by role: the worktree, the git directories a commit there
//! writes (its admin directory and the attempt's private store — never the repository's own
//! objects or refs), the private temporary directory, the agent's state directories and the
//! configured extras.

use std::path::{Path, PathBuf};

use crate::role::Role;

/// The parts of the git directory a commit in a linked worktree writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitAreas {
    /// `<common>/worktrees/<name>`: its HEAD, index, logs.
    pub admin: PathBuf,
    /// The attempt's private store (`<common>/kitty/quarantine/<name>`): its new objects and its
    /// copy of the refs (see [`crate::worktree::Quarantine`]).
    pub store: PathBuf,
}

/// What one process may write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Writable {
    /// Anything beneath these.
    pub paths: Vec<PathBuf>,
    /// Regular files and directories beneath these (git directories).
    pub git: Vec<PathBuf>,
}

/// Device files every program may write (`/dev/null`, terminals, shared memory).
const DEVICES: [&str; 8] =
    ["/dev/null", "/dev/zero", "/dev/full", "/dev/tty", "/dev/ptmx", "/dev/pts", "/dev/shm", "/dev/random"];

/// The directories under `home` an implementation attempt of `agent` may write: only the state
/// directories of the CLIs not measured here (see [`super::PrivateHomes`]); made before an attempt
/// when missing (a rule can only name a path that exists). Every other agent works with private
/// copies in its temporary directory, and a reviewer writes nothing under the home directory.
pub fn home_dirs(agent: &str, home: &Path) -> Vec<PathBuf> {
    super::home::unmeasured_state_dirs(agent).iter().map(|d| home.join(d)).collect()
}

/// What an attempt of `agent` in `role` may write: for implementation its worktree, its `git`
/// areas and [`home_dirs`]; for every role `temp` (its caches and private copies of the agent's
/// own directory live there), the device files, and `extra`.
pub fn writable_paths(
    role: Role,
    agent: &str,
    worktree: &Path,
    git: Option<&GitAreas>,
    temp: &Path,
    home: Option<&Path>,
    extra: &[PathBuf],
) -> Writable {
    let mut paths = vec![temp.to_path_buf()];
    let mut git_dirs = Vec::new();
    if role == Role::Implementation {
        paths.push(worktree.to_path_buf());
        if let Some(git) = git {
            git_dirs.push(git.admin.clone());
            git_dirs.push(git.store.clone());
        }
        if let Some(home) = home {
            paths.extend(home_dirs(agent, home));
        }
    }
    paths.extend(DEVICES.iter().map(PathBuf::from));
    paths.extend(extra.iter().cloned());
    Writable { paths, git: git_dirs }
}
