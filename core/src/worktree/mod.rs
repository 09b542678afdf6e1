//! One git worktree per WP, made in-process with libgit2 (DESIGN.md §6):
//! `<worktree_dir>/<feature>-<WP>` on branch `<feature>-<WP>`, based on what the WP depends on.
//!
//! libgit2's worktree add is not atomic and its prune can delete uncommitted work, so this
//! module serializes creation per repository, cleans up after a failed creation, refuses to
//! clobber directories or branches it did not make, and snapshots uncommitted work to
//! `refs/kitty/backup/<feature>/<WP>/<n>` before anything destructive. A finished WP's worktree
//! can become the next WP's ([`WorktreeManager::recycle`]): only what differs is checked out.

mod attempt;
mod backup;
mod base;
mod changes;
mod create;
mod error;
mod fresh;
mod ignored;
mod integration;
mod manager;
mod quarantine;
mod recycle;
mod setup;
mod types;
mod withhold;

pub use base::{BaseSource, conflicted_paths};
pub use changes::{dirty_paths, snapshot_tree};
pub use error::WorktreeError;
pub use ignored::{IgnoredPath, MAX_SAVED_FILE, MAX_SAVED_TOTAL};
pub use integration::IntegrationTree;
pub use manager::WorktreeManager;
pub use quarantine::{Concluded, Head, MAX_OBJECT_BYTES, Quarantine, RefMove};
pub use types::{AttemptChanges, Backup, Prepared, Removal, WorkSnapshot};
pub use withhold::{DENY_LIST, Withhold};
