//! What a store keeps between operations so that a write costs the write, not a re-read: opened
//! repositories, and the WP snapshots of event commits it has already read or written.
//!
//! Both are safe to reuse, and both are bounded (a 1000-WP run must stay well under 100 MiB).
//! An event commit is immutable — its id is the hash of its content — so
//! the verified snapshot of commit X is the snapshot of X forever; only the *tip* of a ref moves,
//! and every operation still reads the tip from disk. A cached snapshot is still checked against
//! the ref it is reached through (a ref pointed at another WP's commit is still corrupt). An open
//! `Repository` re-reads refs from disk on every lookup and rescans the packs when an object is
//! missing, so one opened earlier sees what other processes wrote since.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use git2::{Oid, Repository};

use super::model::WpState;

/// Chains whose tip snapshot is kept (one per ref, so a feature's board fits); past it the cache
/// starts over.
const CHAINS_KEPT: usize = 16_384;

/// Idle repositories kept for reuse (one per thread that used the store at once).
const REPOS_KEPT: usize = 8;

/// Operations one opened repository serves before it is dropped: libgit2 keeps every commit and
/// tree it read in the repository's own cache, so a repository kept forever would hold a
/// feature's whole history in memory.
const USES_PER_REPO: u32 = 64;

/// The last verified WP snapshot read or written through each ref, with its event commit. Only
/// the newest per ref is kept: an append reads the tip, which is the snapshot it wrote last.
#[derive(Debug, Default)]
pub(super) struct SnapshotCache {
    states: Mutex<HashMap<String, (Oid, WpState)>>,
}

impl SnapshotCache {
    /// The verified snapshot of commit `oid` when it is the one remembered for `reference`.
    pub(super) fn get(&self, reference: &str, oid: Oid) -> Option<WpState> {
        let states = self.states.lock().unwrap_or_else(|e| e.into_inner());
        states.get(reference).filter(|(at, _)| *at == oid).map(|(_, state)| state.clone())
    }

    /// Remembers the verified snapshot of commit `oid`, reached through `reference`.
    pub(super) fn put(&self, reference: &str, oid: Oid, state: &WpState) {
        let mut states = self.states.lock().unwrap_or_else(|e| e.into_inner());
        if states.len() >= CHAINS_KEPT && !states.contains_key(reference) {
            states.clear();
        }
        if states.capacity() == 0 {
            // A board is read at once: one allocation for it rather than a rehash per doubling.
            states.reserve(1024);
        }
        match states.get_mut(reference) {
            Some(entry) => *entry = (oid, state.clone()),
            None => {
                states.insert(reference.to_string(), (oid, state.clone()));
            }
        }
    }
}

/// Opened repositories waiting for the next operation.
#[derive(Default)]
pub(super) struct RepoPool {
    idle: Mutex<Vec<(Repository, u32)>>,
}

impl std::fmt::Debug for RepoPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let idle = self.idle.lock().map(|v| v.len()).unwrap_or(0);
        f.debug_struct("RepoPool").field("idle", &idle).finish()
    }
}

impl RepoPool {
    /// An idle repository, or a newly opened one.
    pub(super) fn take(&self, git_dir: &Path) -> Result<(Repository, u32), git2::Error> {
        match self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop() {
            Some(pooled) => Ok(pooled),
            None => Ok((Repository::open(git_dir)?, 0)),
        }
    }

    /// Gives a repository back for the next operation (or drops it, with its object cache, once
    /// it has served its share).
    pub(super) fn give_back(&self, repo: Repository, uses: u32) {
        if uses >= USES_PER_REPO {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < REPOS_KEPT {
            idle.push((repo, uses));
        }
    }
}

/// A repository borrowed from a store's pool for one operation; returned when dropped.
pub struct PooledRepo<'a> {
    repo: Option<Repository>,
    uses: u32,
    pool: &'a RepoPool,
}

impl<'a> PooledRepo<'a> {
    pub(super) fn new((repo, uses): (Repository, u32), pool: &'a RepoPool) -> PooledRepo<'a> {
        PooledRepo { repo: Some(repo), uses: uses + 1, pool }
    }
}

impl std::ops::Deref for PooledRepo<'_> {
    type Target = Repository;
    fn deref(&self) -> &Repository {
        self.repo.as_ref().expect("present until dropped")
    }
}

impl Drop for PooledRepo<'_> {
    fn drop(&mut self) {
        if let Some(repo) = self.repo.take() {
            self.pool.give_back(repo, self.uses);
        }
    }
}
