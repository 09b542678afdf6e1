//! Landing: done WPs integrated into a target branch in dependency order.
//!
//! A landing is planned ([`plan`]: which WPs, in which order, what is already there), integrated
//! in memory ([`integrate`]: one commit per WP, objects only, every conflict collected), and only
//! then made visible ([`advance`]: the target ref moved by compare-and-swap under git's ref lock,
//! a worktree that has it checked out brought along safely). Until the last step nothing a user
//! can see has changed; a refusal at any step leaves the repository as it was.
//!
//! The engine ([`crate::engine`]) drives it: run lock, verification, records on the chains.

mod error;
mod integrate;
mod journal;
mod plan;
mod resolve;
mod target;
mod types;

pub use error::{LandError, MovedSinceApproval, Unresolved};
pub use integrate::{Authors, Integration, Stopped, changed_paths, commit_step, integrate, merged_index};
pub use journal::recover;
pub use plan::{Integrand, Plan, PlanInput, moved_since_approval, plan};
pub use resolve::{markers_left, write_conflicts};
pub use target::{advance, check_worktrees, checked_out_in};
pub use types::{Conflict, LandingVerification, Resolution, Step, StepAction, VerifyRound};
