//! What the worktree manager hands back: a prepared worktree, what an attempt left, a snapshot
//! of a worktree at one moment, a backup of uncommitted work.

use std::path::PathBuf;

use serde::Serialize;

use super::base::BaseSource;

/// A WP worktree ready for an agent.
#[derive(Debug, Clone, Serialize)]
pub struct Prepared {
    /// The worktree directory.
    pub path: PathBuf,
    /// Its branch (`<feature>-<WP>`).
    pub branch: String,
    /// The commit the WP started from (for `base..head` diffs).
    pub base: String,
    /// Where the base came from.
    #[serde(skip)]
    pub base_source: BaseSource,
    /// Made now (`false`: an existing valid worktree was reused).
    pub created: bool,
    /// The branch existed before (its commits were kept).
    pub reused_branch: bool,
    /// `setup_command` still has to run in it (then [`super::WorktreeManager::mark_ready`]). Until it
    /// has, an interruption makes the next `ensure` discard the worktree (after a backup) and
    /// make it again.
    pub setup_pending: bool,
    /// Files copied in from `.worktreeinclude`.
    pub included: Vec<PathBuf>,
    /// The finished WP whose worktree this was (`recycle_worktrees`), if it was recycled.
    pub recycled_from: Option<crate::ids::WpId>,
}

/// What an agent attempt left behind.
#[derive(Debug, Clone, Serialize)]
pub struct AttemptChanges {
    /// The commit made from leftover uncommitted changes (`auto_commit`).
    pub auto_commit: Option<String>,
    /// Commits since the base, oldest first.
    pub commits: Vec<String>,
    /// Commits since the head before the attempt, oldest first (empty = the `no_changes`
    /// outcome: an attempt is judged by what it added, not by what earlier attempts left).
    pub new_commits: Vec<String>,
    /// The branch head now.
    pub head: String,
    /// Uncommitted paths left (when `auto_commit` is off).
    pub uncommitted: Vec<String>,
    /// Paths auto-commit left out (deny list, `auto_commit_exclude`, `.worktreeinclude`).
    pub withheld: Vec<String>,
}

/// The state of a worktree at one moment (its HEAD, and a tree of HEAD plus every uncommitted
/// change): taken before a review, compared after it, restored if the reviewer changed anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkSnapshot {
    /// The HEAD commit.
    pub head: String,
    /// HEAD plus the working directory's changes (withheld paths excluded), as a tree.
    pub tree: String,
}

/// A snapshot of a worktree's uncommitted work.
#[derive(Debug, Clone, Serialize)]
pub struct Backup {
    /// Sequence number (`…/<n>`).
    pub n: u32,
    /// The ref.
    pub reference: String,
    /// The snapshot commit (parent = the worktree's HEAD).
    pub commit: String,
    /// The paths it saved (empty when listed from refs).
    pub files: Vec<String>,
}

/// What removing a worktree kept.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Removal {
    /// The backup ref of its uncommitted work (and the ignored files saved), if any.
    pub backup: Option<Backup>,
    /// Every path git ignored there, with what became of it.
    pub ignored: Vec<super::ignored::IgnoredPath>,
}
