//! What a store keeps between operations so that a write costs the write, not a re-read: opened
//! repositories, and the WP snapshots of event commits it has already read or written.
//!
//! Both are safe to reuse. An event commit is immutable — its id is the hash of its content — so
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

/// Snapshots kept: far more than the WPs of a large feature, bounded so memory stays flat
/// (~1 KiB each). When full, the cache starts over.
const SNAPSHOTS_KEPT: usize = 16_384;

/// Idle repositories kept for reuse (one per thread that used the store at once).
const REPOS_KEPT: usize = 8;

/// Verified WP snapshots by event commit.
#[derive(Debug, Default)]
pub(super) struct SnapshotCache {
    states: Mutex<HashMap<Oid, WpState>>,
}

impl SnapshotCache {
    /// The verified snapshot of commit `oid`, if this store read or wrote it before.
    pub(super) fn get(&self, oid: Oid) -> Option<WpState> {
        self.states.lock().unwrap_or_else(|e| e.into_inner()).get(&oid).cloned()
    }

    /// Remembers the verified snapshot of commit `oid`.
    pub(super) fn put(&self, oid: Oid, state: &WpState) {
        let mut states = self.states.lock().unwrap_or_else(|e| e.into_inner());
        if states.len() >= SNAPSHOTS_KEPT {
            states.clear();
        }
        if states.capacity() == 0 {
            // A board is read at once: one allocation for it rather than a rehash per doubling.
            states.reserve(1024);
        }
        states.insert(oid, state.clone());
    }
}

/// Opened repositories waiting for the next operation.
#[derive(Default)]
pub(super) struct RepoPool {
    idle: Mutex<Vec<Repository>>,
}

impl std::fmt::Debug for RepoPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let idle = self.idle.lock().map(|v| v.len()).unwrap_or(0);
        f.debug_struct("RepoPool").field("idle", &idle).finish()
    }
}

impl RepoPool {
    /// An idle repository, or a newly opened one.
    pub(super) fn take(&self, git_dir: &Path) -> Result<Repository, git2::Error> {
        match self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop() {
            Some(repo) => Ok(repo),
            None => Repository::open(git_dir),
        }
    }

    /// Gives a repository back for the next operation.
    pub(super) fn give_back(&self, repo: Repository) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < REPOS_KEPT {
            idle.push(repo);
        }
    }
}

/// A repository borrowed from a store's pool for one operation; returned when dropped.
pub struct PooledRepo<'a> {
    repo: Option<Repository>,
    pool: &'a RepoPool,
}

impl<'a> PooledRepo<'a> {
    pub(super) fn new(repo: Repository, pool: &'a RepoPool) -> PooledRepo<'a> {
        PooledRepo { repo: Some(repo), pool }
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
            self.pool.give_back(repo);
        }
    }
}
