//! The Agent Client Protocol driver (`driver = "acp"`): the agent process is started and confined
//! as for the CLI driver, then spoken to in JSON-RPC over its stdin/stdout through the
//! protocol's own crate (`agent-client-protocol`). We are the client: `initialize` with file and
//! terminal capabilities, `session/new` in the WP worktree, `session/prompt` with the WP prompt.
//!
//! The agent's side is hostile input. Its `session/update` notifications become journal lines and
//! typed [`super::Activity`] values (tool calls with their status, plans, usage and cost); its
//! permission requests are answered by policy (`permissions`); the files it asks us to read or
//! write stay beneath the worktree (`files`); its terminals run through our own executor
//! (`terminals`). Garbage on stdout, oversized messages and floods end the attempt with a clear
//! failure class; the wall and idle limits and abort send `session/cancel`, then end the
//! process group. The verdict and status lines are read from the agent's final message, as for
//! CLIs.

mod client;
mod clock;
mod files;
mod journal;
mod permissions;
mod session;
mod shared;
mod terminals;
mod updates;

pub(crate) use session::execute;
