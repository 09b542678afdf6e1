//! Why an agent attempt failed: one class per way of failing, shared by the executor, the state
//! store (`Kitty-Failure` trailer) and the engine's retry policy.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The class of a failed agent attempt (DESIGN.md §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureClass {
    /// The wall-clock limit was reached.
    Timeout,
    /// No output for the idle limit.
    IdleTimeout,
    /// The agent is not logged in or its key was refused.
    Auth,
    /// The provider rate-limited the agent.
    RateLimit,
    /// The agent could not reach its provider.
    Network,
    /// The agent could not be started (missing binary, bad argv).
    Spawn,
    /// The agent died from a signal.
    Crash,
    /// The agent finished without committing or leaving any change.
    NoChanges,
    /// The output could not be understood (e.g. a review without a verdict).
    InvalidOutput,
    /// Any other non-zero exit.
    NonzeroExit,
    /// A read-only attempt (a review) changed the branch or the worktree; its changes were
    /// undone after a backup.
    ReadOnlyViolation,
    /// The attempt changed a ref outside its reach (a state ref under `refs/kitty/`, another
    /// WP's branch): put back, and the WP blocked as a security event.
    RefTampering,
}

impl FailureClass {
    /// The stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureClass::Timeout => "timeout",
            FailureClass::IdleTimeout => "idle_timeout",
            FailureClass::Auth => "auth",
            FailureClass::RateLimit => "rate_limit",
            FailureClass::Network => "network",
            FailureClass::Spawn => "spawn",
            FailureClass::Crash => "crash",
            FailureClass::NoChanges => "no_changes",
            FailureClass::InvalidOutput => "invalid_output",
            FailureClass::NonzeroExit => "nonzero_exit",
            FailureClass::ReadOnlyViolation => "read_only_violation",
            FailureClass::RefTampering => "ref_tampering",
        }
    }
}

impl fmt::Display for FailureClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}
