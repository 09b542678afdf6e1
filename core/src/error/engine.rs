//! Errors that stop a run (or a person's request) before anything happens: no agents, an unknown
//! agent, a feature, WP or repository that is not there, and internal failures.

use std::path::PathBuf;

/// Errors that stop a run from starting.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// No installed, enabled agent for a role.
    #[error(
        "no {role} agent is available: tried {tried}; install one of them or change [agents] {role} in .kittify/orchestrator.toml"
    )]
    NoAgents {
        /// The role.
        role: String,
        /// What was tried (agent and program).
        tried: String,
    },
    /// An agent id that is neither built in nor configured.
    #[error("unknown agent `{id}`: built-in agents are {}; custom ones need an [agents.{id}] table with a `command`", crate::ids::BUILTIN_AGENT_IDS.join(", "))]
    UnknownAgent {
        /// The id.
        id: String,
    },
    /// The feature was not found.
    #[error("no feature `{name}`: expected a directory, or a slug under {} (or a feature with state in this repository's refs)", specs.display())]
    FeatureNotFound {
        /// What was asked for.
        name: String,
        /// Where slugs are looked up.
        specs: PathBuf,
    },
    /// Text given as a WP id is not one.
    #[error("{why}")]
    WpIdInvalid {
        /// What was given.
        id: String,
        /// What is wrong with it.
        why: String,
    },
    /// A well-formed WP id that the feature does not have.
    #[error("feature {feature} has no work package {wp} (it has {known})")]
    WpNotFound {
        /// The feature slug.
        feature: String,
        /// The WP id.
        wp: String,
        /// The WPs it has.
        known: String,
    },
    /// The path given as the repository is not inside a git repository.
    #[error("{}: not a git repository ({why}); run from inside one, or pass --repo <path>", path.display())]
    NotARepository {
        /// The path.
        path: PathBuf,
        /// What git said.
        why: String,
    },
    /// `sandbox = "required"` for agents this machine cannot confine: the run did not start.
    #[error(
        "sandbox = \"required\" for {agents}, but {why}; nothing was started. Run on a kernel with Landlock, or set sandbox = \"best_effort\" (runs unconfined and says so) or \"off\" in .kittify/orchestrator.toml (globally, or [agents.<id>] sandbox for one agent)"
    )]
    SandboxUnavailable {
        /// The agents (and `setup`/`verify` commands) that require confinement.
        agents: String,
        /// Why this machine cannot confine.
        why: String,
    },
    /// The request was cancelled before it began.
    #[error("{0}")]
    Aborted(String),
    /// Something inside the orchestrator failed (a bug): the message says what.
    #[error("internal error: {0}")]
    Internal(String),
}

impl EngineError {
    /// The stable code of this error's kind.
    pub fn code(&self) -> crate::ErrorCode {
        use crate::ErrorCode;
        match self {
            EngineError::NoAgents { .. } => ErrorCode::NoAgents,
            EngineError::UnknownAgent { .. } => ErrorCode::UnknownAgent,
            EngineError::FeatureNotFound { .. } => ErrorCode::FeatureNotFound,
            EngineError::WpIdInvalid { .. } => ErrorCode::WpIdInvalid,
            EngineError::WpNotFound { .. } => ErrorCode::WpNotFound,
            EngineError::NotARepository { .. } => ErrorCode::NotARepository,
            EngineError::SandboxUnavailable { .. } => ErrorCode::SandboxUnavailable,
            EngineError::Aborted(_) => ErrorCode::Aborted,
            EngineError::Internal(_) => ErrorCode::Internal,
        }
    }
}
