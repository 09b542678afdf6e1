//! When the agent last did anything (a protocol message, a stderr line, terminal output): the
//! idle limit counts from there.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// The time of the last activity, shared by the readers and the supervisor.
pub(super) struct Clock {
    base: Instant,
    /// Milliseconds after `base`.
    last: AtomicU64,
}

impl Clock {
    pub(super) fn new() -> Clock {
        Clock { base: Instant::now(), last: AtomicU64::new(0) }
    }

    /// Something happened now.
    pub(super) fn touch(&self) {
        self.last.store(self.base.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// When the idle limit `idle` runs out, counted from the last activity.
    pub(super) fn idle_deadline(&self, idle: Duration) -> Instant {
        self.base + Duration::from_millis(self.last.load(Ordering::Relaxed)) + idle
    }
}
