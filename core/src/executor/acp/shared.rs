//! What the protocol handlers and the readers of one ACP attempt share.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64};

use super::clock::Clock;
use super::journal::Journal;
use super::terminals::Terminals;
use super::updates::Turn;
use crate::executor::AgentRun;

/// What the handlers share.
pub(super) struct Shared {
    pub(super) run: AgentRun,
    /// The worktree, canonical.
    pub(super) root: std::path::PathBuf,
    pub(super) journal: std::sync::Mutex<Journal>,
    pub(super) turn: std::sync::Mutex<Turn>,
    pub(super) clock: Arc<Clock>,
    pub(super) terminals: Terminals,
    /// Stdout lines that were not protocol messages.
    pub(super) noise: AtomicU64,
    /// A loaded session's history is being replayed (`session/load`): its updates are the past
    /// turns' — neither this attempt's activity nor its final message.
    pub(super) replaying: AtomicBool,
    /// Updates replayed so.
    pub(super) replayed: AtomicU64,
}

impl Shared {
    pub(super) fn journal(&self) -> std::sync::MutexGuard<'_, Journal> {
        self.journal.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn turn(&self) -> std::sync::MutexGuard<'_, Turn> {
        self.turn.lock().unwrap_or_else(|e| e.into_inner())
    }
}
