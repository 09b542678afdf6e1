//! Which moves of the state refs are ours. Every swap this store makes is recorded (old tip →
//! new tip), so a check after an agent's attempt can tell our own writes from anyone else's: an
//! agent that is not confined (or a hole in the confinement) could rewrite `refs/kitty/…` with
//! `git update-ref`, and the engine would build on a forged state without noticing.
//!
//! A chain that moved is explained when, walking back from where it is to where it was before
//! the attempt, every commit is either one of our swaps or a well-formed event that another
//! kitty-orchestrator command wrote (`retry` or `release` from another terminal, a merge): it
//! reads as this WP's state and its author is not an agent. Anything else — a chain pointed at a
//! code commit, reset to an older event, deleted, created for a WP nobody imported, or extended
//! by a commit authored as an agent — is a foreign change.
//!
//! A check must never see a ref we already moved but have not yet recorded as moved, or it would
//! report our own write: swaps hold a shared gate around "swap, record", a check holds it
//! exclusively while it reads the refs.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Mutex, RwLock};

use git2::{Oid, Repository};

use super::cas::{self, Swap};

/// Swaps remembered per ref: far more than one attempt's worth of events on one chain.
pub(super) const SWAPS_KEPT: usize = 256;

/// The swaps this store (and its clones) made.
#[derive(Debug, Default)]
pub(super) struct OwnTips {
    pub(super) gate: RwLock<()>,
    made: Mutex<Made>,
}

/// Per ref, oldest first: (number of the swap, old tip, new tip). Swaps are numbered in order
/// across refs, so a check knows which ones came after the refs were read.
#[derive(Debug, Default)]
pub(super) struct Made {
    pub(super) count: u64,
    swaps: HashMap<String, VecDeque<(u64, Option<Oid>, Oid)>>,
}

impl OwnTips {
    /// [`cas::swap`], recording the move when it took.
    pub(super) fn swap(
        &self,
        repo: &Repository,
        name: &str,
        new: Oid,
        expected: Option<Oid>,
        log: &str,
    ) -> Result<Swap, git2::Error> {
        let _shared = self.gate.read().unwrap_or_else(|e| e.into_inner());
        let result = cas::swap(repo, name, new, expected, log)?;
        if let Swap::Done = result {
            self.record(name, expected, new);
        }
        Ok(result)
    }

    pub(super) fn made(&self) -> std::sync::MutexGuard<'_, Made> {
        self.made.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn record(&self, name: &str, old: Option<Oid>, new: Oid) {
        let mut made = self.made();
        made.count += 1;
        let number = made.count;
        let moves = made.swaps.entry(name.to_string()).or_default();
        if moves.len() == SWAPS_KEPT {
            moves.pop_front();
        }
        moves.push_back((number, old, new));
    }

    /// The tip `name` had before we moved it to `new`, if we did.
    pub(super) fn before_ours(&self, name: &str, new: Oid) -> Option<Option<Oid>> {
        let made = self.made();
        made.swaps.get(name)?.iter().rev().find(|(_, _, n)| *n == new).map(|(_, old, _)| *old)
    }

    /// The last tip we set on `name` after swap number `mark`.
    pub(super) fn last_since(&self, name: &str, mark: u64) -> Option<Oid> {
        let made = self.made();
        made.swaps.get(name)?.back().filter(|(number, _, _)| *number > mark).map(|(_, _, new)| *new)
    }
}

/// A feature's watched refs at one moment, and how many swaps this store had made by then.
#[derive(Debug, Clone, Default)]
pub struct WatchedRefs {
    pub(super) tips: BTreeMap<String, Oid>,
    pub(super) mark: u64,
}

/// A ref found other than the orchestrator left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefChange {
    /// The ref.
    pub reference: String,
    /// Where we left it (`None`: it did not exist).
    pub expected: Option<Oid>,
    /// Where it is (`None`: it was deleted).
    pub found: Option<Oid>,
}

impl std::fmt::Display for RefChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let short = |o: Option<Oid>| o.map_or("nothing".to_string(), |o| o.to_string()[..12].to_string());
        write!(f, "{} (expected {}, found {})", self.reference, short(self.expected), short(self.found))
    }
}
