//! Landing a feature (`merge`): its approved WPs merged into the target in dependency order in a
//! private integration worktree, verified (and fixed by an agent when verification fails),
//! conflicts resolved by agents, the target moved only when everything held, then pushed, a pull
//! request opened and the worktrees cleaned up.
//!
//! `land` drives it; `mission` lands through spec-kitty's own merge; `verify` and `resolve` run
//! the agents a landing needs; `cleanup` removes what landed; `options` is its input, and its
//! output is `reports::MergeReport`.

mod cleanup;
mod land;
mod mission;
mod options;
mod resolve;
mod verify;

pub use cleanup::landed_ref;
pub use options::{MergeOptions, OriginCheck};
