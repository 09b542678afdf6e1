//! After (and around) an agent attempt: auto-commit with withheld paths left out, the commits it
//! added, setting a failed attempt's leftovers aside, and snapshots to detect (and undo) a
//! reviewer that changed what it was only to read.

use git2::{Oid, Signature};

use super::changes;
use super::error::WorktreeError;
use super::manager::WorktreeManager;
use super::types::{AttemptChanges, Backup, WorkSnapshot};
use crate::feature::WorkPackage;
use crate::ids::WpId;

impl WorktreeManager {
    /// After an agent attempt: commits leftover changes when `auto_commit` is on (message
    /// `WP03: <title>` with `Kitty-WP`/`Kitty-Agent`/`Kitty-Attempt` trailers; withheld paths are
    /// left out), and lists the commits made since `base` and since `since` (the head before the
    /// attempt).
    pub fn collect(
        &self,
        wp: &WorkPackage,
        agent: &str,
        attempt: u32,
        base: &str,
        since: &str,
        auto_commit: bool,
    ) -> Result<AttemptChanges, WorktreeError> {
        let repo = self.open_worktree(&wp.id)?;
        let dirty = changes::dirty_paths(&repo)?;
        let mut auto = None;
        let mut withheld = Vec::new();
        if auto_commit && !dirty.is_empty() {
            let message = format!(
                "{}\n\nChanges left uncommitted by {agent} (attempt {attempt}), committed by kitty-orchestrator.\n\nKitty-WP: {}\nKitty-Agent: {}\nKitty-Attempt: {attempt}\n",
                crate::state::trailer_value(&self.commit_subject(&wp.id, &wp.title)),
                wp.id,
                crate::state::trailer_value(agent)
            );
            let author = Signature::now(agent, &format!("{agent}@agents.kitty"))
                .map_err(WorktreeError::git("making a signature"))?;
            let committer = Self::signature(&repo);
            let (commit, left_out) = changes::commit_all(&repo, &message, &author, &committer, &self.withhold)?;
            auto = commit.map(|c| c.to_string());
            withheld = left_out;
        }
        let list = |from: &str| -> Result<Vec<String>, WorktreeError> {
            let from = Oid::from_str(from).map_err(WorktreeError::git(format!("parsing commit id {from}")))?;
            Ok(changes::commits_since(&repo, from)?.iter().map(Oid::to_string).collect())
        };
        let commits = list(base)?;
        let new_commits = if since == base { commits.clone() } else { list(since)? };
        let head = repo.head().and_then(|h| h.peel_to_commit()).map_err(WorktreeError::git("reading HEAD"))?.id();
        let uncommitted = if auto_commit { withheld.clone() } else { dirty };
        Ok(AttemptChanges { auto_commit: auto, commits, new_commits, head: head.to_string(), uncommitted, withheld })
    }

    /// The WP worktree's HEAD commit.
    pub fn head(&self, wp: &WpId) -> Result<String, WorktreeError> {
        let repo = self.open_worktree(wp)?;
        Ok(repo.head().and_then(|h| h.peel_to_commit()).map_err(WorktreeError::git("reading HEAD"))?.id().to_string())
    }

    /// After a failed attempt: what it left uncommitted goes into a backup ref (withheld paths
    /// stay where they are) and the worktree is reset to its HEAD, so the next attempt starts
    /// clean and a crashed attempt's half-work never lands on the branch as if it were work.
    pub fn discard_leftovers(&self, wp: &WpId, reason: &str) -> Result<Option<Backup>, WorktreeError> {
        let repo = self.open_worktree(wp)?;
        let (kept, _) = self.withhold.split(changes::dirty_paths(&repo)?);
        if kept.is_empty() {
            return Ok(None);
        }
        let saved = self.backup(wp, reason)?;
        changes::reset_paths(&repo, &kept)?;
        Ok(saved)
    }

    /// The worktree's state now (see [`WorkSnapshot`]).
    pub fn snapshot(&self, wp: &WpId) -> Result<WorkSnapshot, WorktreeError> {
        let repo = self.open_worktree(wp)?;
        let head = repo.head().and_then(|h| h.peel_to_commit()).map_err(WorktreeError::git("reading HEAD"))?.id();
        let (kept, _) = self.withhold.split(changes::dirty_paths(&repo)?);
        let tree = changes::snapshot_tree(&repo, &kept)?;
        Ok(WorkSnapshot { head: head.to_string(), tree: tree.to_string() })
    }

    /// Puts the worktree back as it was at `before` (its branch at the same commit, the same
    /// working files), after saving what is there now in a backup ref — for a reviewer that
    /// changed what it was only meant to read.
    pub fn restore_snapshot(
        &self,
        wp: &WpId,
        before: &WorkSnapshot,
        reason: &str,
    ) -> Result<Option<Backup>, WorktreeError> {
        let repo = self.open_worktree(wp)?;
        let git = |what: &str| WorktreeError::git(format!("restoring the worktree of {wp} ({what})"));
        let head_now = repo.head().and_then(|h| h.peel_to_commit()).map_err(git("HEAD"))?.id().to_string();
        // The backup's parent is the current HEAD: commits the reviewer made stay referenced.
        let mut saved = self.backup(wp, reason)?;
        if saved.is_none() && head_now != before.head {
            let commit = repo.find_commit(Oid::from_str(&head_now).map_err(git("head"))?).map_err(git("head"))?;
            let tree = commit.tree_id();
            saved = Some(self.write_backup(&repo, wp, reason, tree, Some(&commit), Vec::new())?);
        }
        let old_head =
            repo.find_commit(Oid::from_str(&before.head).map_err(git("old head"))?).map_err(git("old head"))?;
        repo.reset(old_head.as_object(), git2::ResetType::Mixed, None).map_err(git("reset"))?;
        let (dirty, _) = self.withhold.split(changes::dirty_paths(&repo)?);
        changes::reset_paths(&repo, &dirty)?;
        let tree = repo.find_tree(Oid::from_str(&before.tree).map_err(git("tree"))?).map_err(git("tree"))?;
        let mut checkout = git2::build::CheckoutBuilder::new();
        checkout.force().update_index(false);
        repo.checkout_tree(tree.as_object(), Some(&mut checkout)).map_err(git("checkout"))?;
        Ok(saved)
    }
}
