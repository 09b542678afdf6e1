//! Which branches this run's WP tasks are working on, counted as they enter and leave: the
//! after-attempt ref check (`ref_guard`) only trusts a branch nobody of ours touched meanwhile.

use std::collections::HashMap;
use std::sync::Mutex;

/// Which branches WP tasks of this run are working on: per branch, how many tasks are on it and
/// how many times a task came or went (so a check can tell "nobody worked on it meanwhile").
#[derive(Debug, Default)]
pub(crate) struct Activity {
    branches: Mutex<HashMap<String, (u32, u64)>>,
}

/// A WP task on a branch; leaves it when dropped (also when the task panics).
pub(super) struct OnBranch<'a> {
    activity: &'a Activity,
    branch: String,
}

impl Activity {
    /// Marks a WP task working on `branch` until the guard is dropped.
    pub(super) fn enter(&self, branch: String) -> OnBranch<'_> {
        self.change(&branch, true);
        OnBranch { activity: self, branch }
    }

    fn change(&self, branch: &str, enter: bool) {
        let mut branches = self.branches.lock().unwrap_or_else(|e| e.into_inner());
        let entry = branches.entry(branch.to_string()).or_default();
        entry.0 = if enter { entry.0 + 1 } else { entry.0.saturating_sub(1) };
        entry.1 += 1;
    }

    pub(super) fn now(&self) -> HashMap<String, (u32, u64)> {
        self.branches.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Drop for OnBranch<'_> {
    fn drop(&mut self) {
        self.activity.change(&self.branch, false);
    }
}
