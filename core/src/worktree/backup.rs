//! Backups of uncommitted work (`refs/kitty/backup/<feature>/<WP>/<n>`, built in a private index
//! so the worktree's own index is untouched; withheld paths never go into a ref), restoring them,
//! and removing worktrees only once their work is saved.

use git2::{Oid, Repository};

use super::changes;
use super::error::WorktreeError;
use super::manager::WorktreeManager;
use super::types::{Backup, Removal};
use crate::ids::WpId;
use crate::state::backup_ref;

impl WorktreeManager {
    /// Snapshots the WP worktree's uncommitted work (tracked and untracked, without touching its
    /// index; withheld paths left out) to `refs/kitty/backup/<feature>/<WP>/<n>`. `None` when
    /// there is nothing to save.
    pub fn backup(&self, wp: &WpId, reason: &str) -> Result<Option<Backup>, WorktreeError> {
        let repo = self.open_worktree(wp)?;
        let (files, withheld) = self.withhold.split(changes::dirty_paths(&repo)?);
        if !withheld.is_empty() {
            tracing::info!(wp = %wp, files = withheld.len(), "not saving withheld files into a backup ref");
        }
        if files.is_empty() {
            return Ok(None);
        }
        let tree_id = changes::snapshot_tree(&repo, &files)?;
        let head = repo.head().and_then(|h| h.peel_to_commit()).ok();
        self.write_backup(&repo, wp, reason, tree_id, head.as_ref(), files).map(Some)
    }

    pub(super) fn write_backup(
        &self,
        repo: &Repository,
        wp: &WpId,
        reason: &str,
        tree_id: Oid,
        parent: Option<&git2::Commit<'_>>,
        files: Vec<String>,
    ) -> Result<Backup, WorktreeError> {
        let tree = repo.find_tree(tree_id).map_err(WorktreeError::git("reading the snapshot"))?;
        let sig = Self::signature(repo);
        let message = format!(
            "kitty: backup of {} worktree before {reason}\n\n{} uncommitted path(s):\n{}\n",
            self.name(wp),
            files.len(),
            files.iter().take(200).map(|f| format!("  {f}")).collect::<Vec<_>>().join("\n")
        );
        let parents: Vec<&git2::Commit<'_>> = parent.into_iter().collect();
        let commit = repo
            .commit(None, &sig, &sig, &message, &tree, &parents)
            .map_err(WorktreeError::git("writing the backup"))?;
        let mut n = self.backups(wp)?.iter().map(|b| b.n).max().unwrap_or(0) + 1;
        loop {
            let reference = backup_ref(&self.feature, wp, n);
            match repo.reference(&reference, commit, false, "kitty: backup") {
                Ok(_) => return Ok(Backup { n, reference, commit: commit.to_string(), files }),
                Err(e) if e.code() == git2::ErrorCode::Exists => n += 1,
                Err(e) => return Err(WorktreeError::git(format!("creating {reference}"))(e)),
            }
        }
    }

    /// The backups of a WP, oldest first.
    pub fn backups(&self, wp: &WpId) -> Result<Vec<Backup>, WorktreeError> {
        let repo = self.repo()?;
        let prefix = format!("refs/kitty/backup/{}/{wp}/", self.feature);
        let mut out = Vec::new();
        for r in repo.references_glob(&format!("{prefix}*")).map_err(WorktreeError::git("listing backups"))?.flatten() {
            let Ok(name) = r.name() else { continue };
            let Some(n) = name.strip_prefix(&prefix).and_then(|n| n.parse::<u32>().ok()) else { continue };
            let Some(target) = r.target() else { continue };
            out.push(Backup { n, reference: name.to_string(), commit: target.to_string(), files: Vec::new() });
        }
        out.sort_by_key(|b| b.n);
        Ok(out)
    }

    /// Writes backup `n`'s files into the WP's worktree (its HEAD and index stay as they are).
    /// Uncommitted work there is backed up first.
    pub fn restore(&self, wp: &WpId, n: u32) -> Result<(), WorktreeError> {
        let repo = self.open_worktree(wp)?;
        let reference = backup_ref(&self.feature, wp, n);
        let commit = repo
            .find_reference(&reference)
            .and_then(|r| r.peel_to_commit())
            .map_err(WorktreeError::git(format!("reading {reference}")))?;
        self.backup(wp, &format!("restoring backup {n}"))?;
        let mut checkout = git2::build::CheckoutBuilder::new();
        checkout.force().update_index(false);
        repo.checkout_tree(commit.as_object(), Some(&mut checkout))
            .map_err(WorktreeError::git(format!("restoring {reference}")))
    }

    /// Removes the WP's worktree directory and its registration; the branch (with every commit)
    /// stays. Uncommitted work is an error unless `backup_first`, which saves it first — and
    /// what git ignores there with it (see [`super::IgnoredPath`]): nothing goes without a trace.
    pub fn remove(&self, wp: &WpId, backup_first: bool) -> Result<Removal, WorktreeError> {
        let _lock = self.creation_lock()?;
        let repo = self.repo()?;
        self.settle_quarantine(wp)?;
        let name = self.name(wp);
        let path = self.path_for(wp);
        let mut removal = Removal::default();
        if path.exists() {
            let dirty = self.dirty_paths(wp)?;
            let ignored = super::ignored::ignored_paths(&self.open_worktree(wp)?)?;
            if !dirty.is_empty() && !backup_first {
                return Err(WorktreeError::Dirty { path, files: dirty.into_iter().take(10).collect() });
            }
            let (save, fates) = super::ignored::plan(&path, ignored, |p| {
                self.withhold.withholds(p.trim_end_matches('/'), p.ends_with('/'))
            });
            let aside: Vec<String> = fates
                .iter()
                .filter(|f| f.fate == "moved_aside")
                .map(|f| f.path.trim_end_matches('/').to_string())
                .collect();
            self.move_aside(wp, &path, &aside)?;
            if !dirty.is_empty() || !save.is_empty() {
                removal.backup = self.save_with_ignored(&repo, wp, &path, dirty, save)?;
            }
            removal.ignored = fates;
            std::fs::remove_dir_all(&path).map_err(WorktreeError::io(&path))?;
        }
        if let Ok(wt) = repo.find_worktree(&name) {
            wt.prune(None).map_err(WorktreeError::git(format!("unregistering worktree {name}")))?;
        }
        Ok(removal)
    }

    /// The uncommitted work (withheld paths left out) and the ignored files `ignored` in one
    /// backup commit on the worktree's HEAD.
    fn save_with_ignored(
        &self,
        repo: &Repository,
        wp: &WpId,
        path: &std::path::Path,
        dirty: Vec<String>,
        ignored: Vec<String>,
    ) -> Result<Option<Backup>, WorktreeError> {
        let wt = self.open_worktree(wp)?;
        let (mut files, _) = self.withhold.split(dirty);
        files.extend(ignored);
        if files.is_empty() {
            return Ok(None);
        }
        let tree = changes::snapshot_tree(&wt, &files)?;
        let head = super::base::branch_tip(repo, &self.branch(wp));
        let saved = self.write_backup(repo, wp, "removing the worktree", tree, head.as_ref(), files)?;
        tracing::info!(worktree = %path.display(), reference = %saved.reference, "saved the worktree's uncommitted and ignored files");
        Ok(Some(saved))
    }

    /// Unregisters worktrees of this repository whose directory is gone and that are not
    /// locked. Returns their names.
    pub fn prune_stale(&self) -> Result<Vec<String>, WorktreeError> {
        let _lock = self.creation_lock()?;
        let repo = self.repo()?;
        let mut pruned = Vec::new();
        for name in repo.worktrees().map_err(WorktreeError::git("listing worktrees"))?.iter().flatten().flatten() {
            let Ok(wt) = repo.find_worktree(name) else { continue };
            if wt.validate().is_err() && wt.is_prunable(None).unwrap_or(false) {
                wt.prune(None).map_err(WorktreeError::git(format!("pruning {name}")))?;
                pruned.push(name.to_string());
            }
        }
        Ok(pruned)
    }
}
