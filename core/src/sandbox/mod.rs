//! Confinement of every process started for an agent attempt (and setup and verify commands):
//! Linux Landlock, applied in the child between fork and exec, so whatever CLI it is — and
//! whatever it starts — can read everything but write only where its role needs: the WP's
//! worktree, its admin directory and its private git store (never the repository's objects or
//! refs: see [`crate::worktree::Quarantine`]), a private temporary directory, the agent's own
//! state directories (as private copies: see [`PrivateHomes`]) and what `[agents.<id>]
//! writable` adds. A reviewer writes nothing but its temporary directory. From Landlock ABI 6 on, a confined process also cannot
//! signal processes outside its sandbox or reach their abstract unix sockets.
//!
//! Where the kernel lacks Landlock the run goes on unconfined under `sandbox = "best_effort"`
//! (the default; said once per run), refuses under `"required"`, and `"off"` never confines.

mod home;
mod kept;
mod landlock_rules;
mod writable;

pub use home::{PrivateHomes, private_copies};
pub use kept::{forget_sessions, kept_dir, prepare_kept, remove_own_temp_dirs};
pub use landlock_rules::{Prepared, Support, confine_child, prepare, support};
pub use writable::{GitAreas, Writable, home_dirs, writable_paths};

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// `sandbox = "best_effort" | "required" | "off"` (globally or per agent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SandboxMode {
    /// Confine where the kernel can; run unconfined (and say so) where it cannot.
    #[default]
    BestEffort,
    /// Confine, or refuse to start the agent.
    Required,
    /// Never confine (agents run in a container of their own).
    Off,
}

impl SandboxMode {
    /// Every mode by its configuration name.
    pub const ALL: [(&'static str, SandboxMode); 3] =
        [("best_effort", SandboxMode::BestEffort), ("required", SandboxMode::Required), ("off", SandboxMode::Off)];
}

/// What one process may write, and how strictly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Confinement {
    /// The mode.
    pub mode: SandboxMode,
    /// Directories (and files) it may write, everything beneath included.
    pub writable: Vec<PathBuf>,
    /// Git directories it may write through git: regular files and directories only (no
    /// symlinks, FIFOs, sockets or devices).
    pub git_writable: Vec<PathBuf>,
}
