//! Agent identities known to the orchestrator.
//!
//! Built-in agents are referred to by these ids in configuration (`[agents] implementation =
//! ["claude-code", "codex"]`) and in state. Any other id must be defined in the configuration as
//! a custom agent with a `command`.

/// Ids of the built-in agent profiles, in default preference order.
pub const BUILTIN_AGENT_IDS: [&str; 9] =
    ["claude-code", "codex", "gemini", "copilot", "qwen", "opencode", "cursor", "kilocode", "augment"];

/// Whether `id` names a built-in agent profile.
pub fn is_builtin(id: &str) -> bool {
    BUILTIN_AGENT_IDS.contains(&id)
}
