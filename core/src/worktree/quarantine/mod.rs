//! What an implementation agent may do to the repository: add objects and move its own branch —
//! nothing else (DESIGN §11, "the trust contract").
//!
//! Landlock confines by directory, and a git repository keeps every branch in one directory
//! and every object in another: a process that may commit on its branch may, by the same
//! rights, move `main` or delete the packs. So an attempt never gets those rights. It works
//! against a *private store* (git's own answer for pushes: `receive-pack`'s quarantine) — its
//! own object directory that reads the repository's objects as alternates, and a copy of the
//! refs — which its worktree's `commondir` names for the attempt's duration. Plain `git` in the
//! worktree works as always (status, log, diff, commit, rebase, stash, even gc, which then only
//! packs its own objects); the repository itself is read-only to it. Afterwards we take what
//! it may give: the new objects, each checked, and its branch's tip, once its history is
//! complete in the store. Anything else it changed — another ref, the link files — is reported
//! as a security event, and was never applied.

mod link;
mod objects;
mod refs;
mod store;

pub use link::Head;
pub use objects::MAX_OBJECT_BYTES;
pub use refs::RefMove;
pub use store::{Concluded, Quarantine};
