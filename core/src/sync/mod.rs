//! Several machines, one feature (DESIGN.md §5): the feature's state chains shared through an
//! ordinary git remote, which already is a distributed compare-and-swap store — `receive-pack`
//! updates a ref only if it still has the old value the client sends (`--force-with-lease`).
//!
//! ```text
//! refs/kitty/wp/<feature>/<WP>                       the chain, local and on the remote
//! refs/kitty-remote/<remote>/wp/<feature>/<WP>       the remote's tip as last fetched
//! ```
//!
//! A shared write (a claim, a lane change) fetches the chain, brings the local chain to the
//! remote's tip, appends the event locally (validated against that state, as every append is),
//! and pushes it with the fetched tip as the expected old value, atomically with the refs that
//! must move with it (the WP's branch). Refused because someone else moved the chain: the local
//! event is taken back, and the loop fetches and re-validates — so a claim lost to another
//! machine becomes a conflict naming the winner, never an overwrite. All network work goes
//! through the `git` binary ([`crate::remote`]).
//!
//! ```text
//! refs/kitty/hosts/<feature>/<host>                  a machine's heartbeat (its lease)
//! refs/kitty-remote/<remote>/heads/<branch>          a WP branch as the remote has it
//! ```
//!
//! Machines prove they are alive by pushing a new heartbeat every `lease_renew_seconds`; another
//! machine reclaims a WP only after it has itself seen no new heartbeat for `lease_seconds`
//! ([`Leases`]). WP branches move with their chains (pushed at submit and at done), and a
//! dependent's base is made from the branches as the remote has them ([`SharedState::sync_branches`]).
//!
//! ```text
//! refs/kitty/shared-run/<feature>/requests           aborts asked for on any machine
//! ```
//!
//! `abort --remote` appends to that chain ([`SharedState::request_abort`]); every machine's run
//! stops its agents at its next look at the remote.
//!
//! ```text
//! refs/notes/kitty                                   provenance notes, local and on the remote
//! refs/kitty-remote/<remote>/notes/kitty             the remote's notes as last fetched
//! ```
//!
//! Notes are merged record by record (a note is a set of JSON lines) and pushed with the
//! fetched tip as the lease ([`SharedState::share_notes`]): two machines annotating at once both
//! keep their records.

mod aborts;
mod branches;
mod leases;
mod notes;
mod peers;
mod shared;

pub use aborts::{shared_run_glob, shared_run_ref};
pub use leases::{Leases, heartbeat_ref};
pub use shared::{Rewound, Shared, SharedState, lost_a_race, tracking_key, tracking_ref};
