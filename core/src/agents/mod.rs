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
pub use detect::{DetectedAgent, DriverProof, detect, proofs};
pub use profile::{AcpLaunch, AgentProfile};
pub use profiles::{READ_STDIN, builtin_profiles, confine_command};
pub use spec::{AgentSpec, agent_specs, find_program};
