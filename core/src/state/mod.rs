//! Run state kept in git itself (DESIGN.md §5).
//!
//! ```text
//! refs/kitty/wp/<feature>/<WP>          one commit chain per WP: every event is one commit
//! refs/kitty/run/<feature>              run-level chain: started, aborted, finished
//! refs/kitty/backup/<feature>/<WP>/<n>  worktree snapshots taken before anything destructive
//! refs/kitty/quarantine/<feature>/<n>   a tip found where only we write, kept when put back
//! refs/notes/kitty                      provenance notes on the code commits agents made
//! ```
//!
//! Every event commit's tree holds `state.json`, the whole state after the event, and its message
//! ends with `Kitty-*` trailers restating it: the current state is one read of the tip. Every
//! write is a compare-and-swap of one ref against the tip it read, so two orchestrators can never
//! both claim a WP, and a crash at any instant leaves the old or the new state, never a torn one.
//! The store remembers the tips it set (`own_tips`), so a change made by anyone else — an agent
//! running `git update-ref` — is found after the attempt and put back.

mod cache;
mod cas;
mod error;
mod facts;
mod foreign;
mod lock;
pub(crate) mod message;
mod model;
mod notes;
mod odb;
mod own_tips;
mod read;
mod store;
mod transition;
mod watch;

pub use cas::CasPolicy;
pub use error::StateError;
pub use facts::WpFacts;
pub use lock::{Liveness, RunLock, liveness, liveness_on, pid_alive, this_host};
pub(crate) use message::trailer_value;
pub use model::{
    Actor, MergeRecord, Owner, PullRequestRecord, RunEvent, RunState, RunStatus, STATE_FORMAT, WpEvent, WpState,
};
pub use notes::NOTES_REF;
pub(crate) use odb::write_pack;
pub use own_tips::{RefChange, WatchedRefs};
pub use read::STATE_FILE;
pub use store::{
    Append, Board, CorruptState, HistoryEntry, ImportReport, MAX_CHAIN_EVENTS, StateStore, backup_ref, new_event_id,
    run_ref, wp_ref,
};
pub use watch::{FALLBACK, RefWatch};
