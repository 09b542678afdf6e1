//! Being told when refs move, without polling: the kernel's file notifications (inotify on
//! Linux, through `notify`) on the repository's `refs/` tree and its `packed-refs`, where every
//! ref update — ours, another process's, a fetch's — lands as a file written and renamed.
//!
//! A notification only says "something under refs/ changed": a watcher compares the feature's
//! fingerprint ([`super::StateStore::refs_fingerprint`]) to decide whether *its* refs moved. Where
//! the system gives no notifications, the watch ticks every `poll` instead; with them, a slow
//! safety tick ([`FALLBACK`]) covers a notification lost.

use std::path::Path;
use std::time::Duration;

use notify::Watcher;
use tokio::sync::watch;

/// Longest wait without a notification before looking anyway (with notifications).
pub const FALLBACK: Duration = Duration::from_secs(60);

/// A live watch on a repository's refs; dropping it stops the notifications.
pub struct RefWatch {
    watcher: Option<notify::RecommendedWatcher>,
    changed: watch::Receiver<u64>,
    poll: Duration,
}

impl RefWatch {
    /// Watches the refs of the repository whose common git directory is `common_dir`. When the
    /// system gives no notifications, [`RefWatch::changed`] returns every `poll` instead.
    pub fn new(common_dir: &Path, poll: Duration) -> RefWatch {
        let (tx, rx) = watch::channel(0u64);
        let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            if event.is_ok_and(|e| !matches!(e.kind, notify::EventKind::Access(_))) {
                tx.send_modify(|n| *n += 1);
            }
        })
        .and_then(|mut w| {
            w.watch(&common_dir.join("refs"), notify::RecursiveMode::Recursive)?;
            // `packed-refs` is rewritten by renaming a new file over it: watch its directory.
            w.watch(common_dir, notify::RecursiveMode::NonRecursive)?;
            Ok(w)
        });
        let watcher = match watcher {
            Ok(w) => Some(w),
            Err(err) => {
                tracing::info!(%err, "no file notifications for the refs; looking every {} ms", poll.as_millis());
                None
            }
        };
        RefWatch { watcher, changed: rx, poll }
    }

    /// Whether the kernel tells this watch of changes (else it ticks every `poll`).
    pub fn notified(&self) -> bool {
        self.watcher.is_some()
    }

    /// Waits until something under the refs changed (then a short settling pause, so a burst of
    /// writes is one wake-up) or [`FALLBACK`] passed; without notifications, for `poll`.
    pub async fn changed(&mut self) {
        if self.watcher.is_none() {
            tokio::time::sleep(self.poll).await;
            return;
        }
        match tokio::time::timeout(FALLBACK, self.changed.changed()).await {
            Ok(Ok(())) => {
                tokio::time::sleep(Duration::from_millis(15)).await;
                self.changed.borrow_and_update();
            }
            // The notifier stopped: tick from now on.
            Ok(Err(_)) => {
                self.watcher = None;
                tokio::time::sleep(self.poll).await;
            }
            Err(_) => {}
        }
    }
}
