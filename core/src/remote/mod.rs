//! Remotes: pushing what landed — the target branch, WP branches on request, and the feature's
//! `refs/kitty/*` — through the `git` binary (the user's credentials, SSH agent and proxies work
//! as with `git push`), with an explicit expected old value for every ref.

mod error;
mod git;
mod push;

pub use error::RemoteError;

/// Longest a network git command may take before it is stopped.
pub const NETWORK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);
pub use git::{GitOutput, run_git, run_program};
pub use push::{PushReport, PushStatus, PushedRef, Update, push, remote_refs};
