//! Compare-and-swap of one ref, retried with exponential backoff and jitter until a deadline.
//!
//! libgit2 updates a ref under `<ref>.lock` and, given the expected old id, fails with
//! `Modified` if the ref moved; a held lock fails at once with `Locked`. It never retries, so
//! this loop does: re-read the tip, re-validate, re-write, swap.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use git2::{ErrorCode, Oid, Repository};

/// Timing of the CAS retry loop.
#[derive(Debug, Clone, Copy)]
pub struct CasPolicy {
    /// Give up (with a conflict error) after this long.
    pub deadline: Duration,
    /// First backoff.
    pub initial_backoff: Duration,
    /// Backoff cap.
    pub max_backoff: Duration,
    /// A ref `.lock` file older than this is left over from a killed writer and is removed.
    /// Real writers hold it for microseconds.
    pub stale_lock_after: Duration,
}

impl Default for CasPolicy {
    fn default() -> Self {
        CasPolicy {
            deadline: Duration::from_secs(30),
            initial_backoff: Duration::from_micros(500),
            max_backoff: Duration::from_millis(100),
            stale_lock_after: Duration::from_secs(5),
        }
    }
}

/// Outcome of one swap attempt.
pub enum Swap {
    /// The ref now points at the new commit.
    Done,
    /// Someone else moved (or locked, or created) the ref: read again and retry.
    Retry,
}

/// Points `name` at `new` if it still points at `expected` (`None` = create only if absent).
///
/// Creation also goes through the compare under the ref's lock, with the zero id as "must not
/// exist": libgit2's create-if-absent (`force = false`) checks for the ref *before* taking the
/// lock, so two writers creating the same ref at once could both succeed, the second silently
/// replacing the first (seen as a lost note when two processes wrote the first notes together).
pub fn swap(repo: &Repository, name: &str, new: Oid, expected: Option<Oid>, log: &str) -> Result<Swap, git2::Error> {
    let old = expected.unwrap_or(Oid::ZERO_SHA1);
    let result = repo.reference_matching(name, new, true, old, log).map(|_| ());
    match result {
        Ok(()) => Ok(Swap::Done),
        Err(err) if matches!(err.code(), ErrorCode::Modified | ErrorCode::Locked | ErrorCode::Exists) => {
            Ok(Swap::Retry)
        }
        Err(err) => Err(err),
    }
}

/// Backoff state of one CAS loop.
pub struct Backoff {
    policy: CasPolicy,
    started: Instant,
    next: Duration,
    /// Tries so far.
    pub tries: u32,
}

impl Backoff {
    /// Starts the clock.
    pub fn new(policy: CasPolicy) -> Backoff {
        Backoff { policy, started: Instant::now(), next: policy.initial_backoff, tries: 0 }
    }

    /// Sleeps before the next try; `false` when the deadline has passed. Removes a stale
    /// `<ref>.lock` left by a killed writer.
    pub fn wait(&mut self, git_dir: &Path, name: &str) -> bool {
        self.tries += 1;
        if self.started.elapsed() >= self.policy.deadline {
            return false;
        }
        remove_stale_lock(git_dir, name, self.policy.stale_lock_after);
        let jitter = fastrand::u64(0..=self.next.as_micros() as u64);
        std::thread::sleep(self.next / 2 + Duration::from_micros(jitter / 2));
        self.next = (self.next * 2).min(self.policy.max_backoff);
        true
    }
}

impl Backoff {
    /// The error for a CAS loop that ran out of time on `reference`.
    pub fn gave_up(&self, reference: &str) -> super::StateError {
        super::StateError::Conflict {
            reference: reference.to_string(),
            why: format!("gave up after {} tries: the ref keeps changing or stays locked", self.tries),
        }
    }
}

fn remove_stale_lock(git_dir: &Path, name: &str, older_than: Duration) {
    let lock = git_dir.join(format!("{name}.lock"));
    let Ok(meta) = std::fs::metadata(&lock) else { return };
    let age = meta.modified().ok().and_then(|m| SystemTime::now().duration_since(m).ok()).unwrap_or_default();
    if age > older_than && std::fs::remove_file(&lock).is_ok() {
        tracing::warn!(lock = %lock.display(), age_ms = age.as_millis() as u64, "removed a stale ref lock left by a killed writer");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two writers creating the same ref at the same moment: exactly one wins, every time.
    #[test]
    fn a_ref_is_created_by_one_writer_only() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = Repository::init(tmp.path()).unwrap();
        let sig = git2::Signature::now("t", "t@example.com").unwrap();
        let tree = repo.find_tree(repo.treebuilder(None).unwrap().write().unwrap()).unwrap();
        let a = repo.commit(None, &sig, &sig, "a", &tree, &[]).unwrap();
        let b = repo.commit(None, &sig, &sig, "b", &tree, &[]).unwrap();
        for round in 0..300 {
            let name = format!("refs/test/race-{round}");
            let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
            let winners: Vec<bool> = [a, b]
                .into_iter()
                .map(|commit| {
                    let (path, name, barrier) = (tmp.path().to_path_buf(), name.clone(), barrier.clone());
                    std::thread::spawn(move || {
                        let repo = Repository::open(&path).unwrap();
                        barrier.wait();
                        loop {
                            match swap(&repo, &name, commit, None, "test") {
                                Ok(Swap::Done) => return true,
                                // Locked by the other writer: look again (it may exist now).
                                Ok(Swap::Retry) if repo.find_reference(&name).is_err() => continue,
                                Ok(Swap::Retry) => return false,
                                Err(e) => panic!("{e}"),
                            }
                        }
                    })
                })
                .collect::<Vec<_>>()
                .into_iter()
                .map(|t| t.join().unwrap())
                .collect();
            assert_eq!(winners.iter().filter(|w| **w).count(), 1, "round {round}: {winners:?}");
        }
    }
}
