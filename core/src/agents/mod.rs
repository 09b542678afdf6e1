//! Agents: built-in profiles (binary, argv per role, prompt delivery, output format, checked CLI
//! version), custom agents from configuration, and detection on PATH.
//!
//! Built-in agents are referred to by id in configuration (`[agents] implementation =
//! ["claude-code", "codex"]`) and in state. Any other id must be defined in the configuration as
//! a custom agent with a `command`.

mod confinement;
mod detect;
mod profile;
mod profiles;
mod spec;

pub use confinement::{AgentSandbox, agent_sandbox};
pub use detect::{DetectedAgent, detect};
pub use profile::AgentProfile;
pub use profiles::{READ_STDIN, builtin_profiles, confined_args};
pub use spec::{AgentSpec, agent_specs, find_program};
