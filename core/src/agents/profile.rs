//! What a built-in agent profile is; the profiles themselves are data, in `profiles.rs`.

use serde::Serialize;

use crate::command::{Delivery, OutputKind};

/// A built-in agent CLI's profile.
#[derive(Debug, Clone, Serialize)]
pub struct AgentProfile {
    /// Agent id (`claude-code`).
    pub id: &'static str,
    /// Program name looked up on PATH (`claude`).
    pub binary: &'static str,
    /// Arguments for implementation.
    pub implementation: Vec<String>,
    /// Arguments for review.
    pub review: Vec<String>,
    /// Prompt delivery.
    pub delivery: Delivery,
    /// How stdout is parsed.
    pub output: OutputKind,
    /// Flag that takes the model name.
    pub model_flag: Option<&'static str>,
    /// Environment the CLI needs for headless work.
    pub env: &'static [(&'static str, &'static str)],
    /// Environment for the review role instead of `env` (read-only permissions), if different.
    pub review_env: Option<&'static [(&'static str, &'static str)]>,
    /// `--version` output of the newest CLI this profile was proven end to end with: installed
    /// from its registry, pointed at a loopback model stand-in, it ran a three-WP feature through
    /// `kitty-orchestrator run`, confined, writing and committing with its own tools
    /// (`cli/tests/suite/real_clis.rs`). `None`: not proven, see `not_proven`.
    pub checked_version: Option<&'static str>,
    /// Why this profile cannot be proven end to end here, when it cannot.
    pub not_proven: Option<&'static str>,
    /// Flags whose value changes when our own confinement holds the agent (`--sandbox
    /// danger-full-access` for Codex: its own bubblewrap sandbox cannot start inside Landlock —
    /// `bwrap: setting up uid map: Permission denied` — and every shell call fails; our Landlock
    /// is then the sandbox, read-only for reviewers as for any agent).
    pub when_confined: &'static [(&'static str, &'static str)],
    /// The arguments that continue the CLI's own session (`{session}`: its id), for a rework by
    /// the agent that did the work (see [`crate::command::AgentCommand::resume`]); `None`: it
    /// cannot, or it is not proven here.
    pub resume: Option<&'static [&'static str]>,
    /// How this CLI is started as an Agent Client Protocol server (`driver = "acp"`), when it
    /// can be.
    pub acp: Option<AcpLaunch>,
}

/// Starting a built-in agent as an ACP server.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct AcpLaunch {
    /// The program, when it is not the CLI itself (an adapter: `claude-agent-acp`).
    pub program: Option<&'static str>,
    /// Its arguments (`--acp`).
    pub args: &'static [&'static str],
    /// The npm package of the adapter program, when there is one.
    pub adapter: Option<&'static str>,
    /// `--version` of the newest release proven end to end over ACP (three WPs to done against
    /// a loopback model stand-in, `cli/tests/suite/real_clis.rs`); `None`: not proven over ACP.
    pub checked_version: Option<&'static str>,
    /// Why it is not proven over ACP here, when it is not.
    pub not_proven: Option<&'static str>,
    /// Arguments added when our confinement holds it (Codex's own sandbox cannot start inside
    /// ours, as for its CLI).
    pub when_confined: &'static [&'static str],
    /// Environment added when our confinement holds it.
    pub env_when_confined: &'static [(&'static str, &'static str)],
}
