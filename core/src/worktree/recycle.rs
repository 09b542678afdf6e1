//! Recycling a finished WP's worktree as the next WP's (config `recycle_worktrees`): the
//! directory and its git admin dir are renamed to the new WP's names, and only the files that
//! differ between the old HEAD's tree and the new branch's are written — a checkout costs
//! O(diff), not O(repository). What the old worktree held uncommitted is saved to a backup ref
//! of the old WP first; untracked and ignored leftovers are removed, so the result is exactly
//! what a fresh worktree would hold. Anything unusual (locked, detached, mid-creation, a spec-kitty
//! lane) is simply not recycled: the caller makes a fresh worktree.

use std::path::Path;

use git2::{BranchType, Repository, WorktreeLockStatus};

use super::changes;
use super::error::WorktreeError;
use super::manager::WorktreeManager;
use super::setup;
use super::types::Prepared;
use crate::feature::WorkPackage;
use crate::ids::WpId;

/// The line of a creation marker naming the worktree a recycling took (an interrupted one
/// discards both names).
pub(super) const RECYCLING: &str = "recycling ";

impl WorktreeManager {
    /// Makes `from`'s worktree (its WP finished: done, or blocked with its work saved) into
    /// `to`'s, on `to`'s branch (made at its base, or as it is when it exists). `Ok(None)`: it
    /// cannot be recycled (nothing changed; make a fresh one with [`WorktreeManager::ensure`]).
    pub fn recycle(&self, from: &WpId, to: &WorkPackage) -> Result<Option<Prepared>, WorktreeError> {
        if self.mission.is_some() || *from == to.id {
            return Ok(None);
        }
        let _lock = self.creation_lock()?;
        let repo = self.repo()?;
        self.settle_quarantine(from)?;
        self.discard_interrupted(&repo, &to.id)?;
        let (old_name, new_name) = (self.name(from), self.name(&to.id));
        let (old_path, new_path) = (self.path_for(from), self.path_for(&to.id));
        let branch = self.branch(&to.id);
        let branch_ref = format!("refs/heads/{branch}");
        if new_path.exists()
            || repo.find_worktree(&new_name).is_ok()
            || self.marker(from).exists()
            || self.checked_out_at(&repo, &branch_ref)?.is_some()
        {
            return Ok(None);
        }
        let Ok(donor) = repo.find_worktree(&old_name) else { return Ok(None) };
        if donor.validate().is_err()
            || !old_path.exists()
            || !matches!(donor.is_locked(), Ok(WorktreeLockStatus::Unlocked))
        {
            return Ok(None);
        }
        let donor_repo = Repository::open_from_worktree(&donor)
            .map_err(WorktreeError::git(format!("opening worktree {old_name}")))?;
        let old_head = donor_repo.head().ok().and_then(|h| h.name().ok().map(str::to_string));
        if old_head.as_deref() != Some(format!("refs/heads/{}", self.branch(from)).as_str()) {
            return Ok(None);
        }
        // What it holds that is not committed goes to a backup ref of its own WP first.
        if !changes::dirty_paths(&donor_repo)?.is_empty() {
            let why = format!("recycling its worktree for {}", to.id);
            self.save_before_discarding(&repo, from, &old_path, &why)?;
        }
        drop(donor_repo);

        let (base, source, reused_branch) = match repo.find_branch(&branch, BranchType::Local) {
            Ok(existing) => {
                let head =
                    existing.get().peel_to_commit().map_err(WorktreeError::git(format!("reading {branch}")))?.id();
                let (base, source) = self.base_of_branch(&repo, to, head)?;
                (base, source, true)
            }
            Err(_) => {
                let (base, source) = self.base_for(to)?;
                let commit = repo.find_commit(base).map_err(WorktreeError::git("reading the base commit"))?;
                repo.branch(&branch, &commit, false)
                    .map_err(WorktreeError::git(format!("creating branch {branch}")))?;
                (base, source, false)
            }
        };
        let marker = self.marker(&to.id);
        std::fs::create_dir_all(marker.parent().expect("has a parent")).map_err(WorktreeError::io(&marker))?;
        let note = format!("pid {}\n{RECYCLING}{old_name}\n", std::process::id());
        std::fs::write(&marker, note).map_err(WorktreeError::io(&marker))?;
        self.move_worktree(&old_name, &new_name, &old_path, &new_path)?;
        self.check_out_branch(&new_path, &branch_ref)?;
        let included = setup::copy_worktree_includes(&repo, &self.repo_root, &new_path, &self.worktree_dir)?;
        let setup_pending = self.setup_command.is_some();
        if !setup_pending {
            std::fs::remove_file(&marker).map_err(WorktreeError::io(&marker))?;
        }
        tracing::info!(from = %from, to = %to.id, path = %new_path.display(), "recycled a worktree");
        Ok(Some(Prepared {
            path: new_path,
            branch,
            base: base.to_string(),
            base_source: source,
            created: true,
            reused_branch,
            setup_pending,
            included,
            recycled_from: Some(from.clone()),
        }))
    }

    /// Renames a linked worktree: its git admin dir and its directory, and the two files that
    /// point at each other (`<admin>/gitdir`, `<worktree>/.git`), as `git worktree move` does.
    fn move_worktree(
        &self,
        old_name: &str,
        new_name: &str,
        old_path: &Path,
        new_path: &Path,
    ) -> Result<(), WorktreeError> {
        let admin_root = self.common_dir.join("worktrees");
        let (old_admin, new_admin) = (admin_root.join(old_name), admin_root.join(new_name));
        std::fs::rename(&old_admin, &new_admin).map_err(WorktreeError::io(&old_admin))?;
        if let Some(parent) = new_path.parent() {
            std::fs::create_dir_all(parent).map_err(WorktreeError::io(parent))?;
        }
        std::fs::rename(old_path, new_path).map_err(WorktreeError::io(old_path))?;
        // Replaced, never written through: an agent may have left a link (or a FIFO) there.
        let dot_git = new_path.join(".git");
        let text = format!("gitdir: {}\n", new_admin.display());
        crate::atomic_file::replace_plain(&dot_git, text.as_bytes()).map_err(WorktreeError::io(&dot_git))?;
        let gitdir = new_admin.join("gitdir");
        let text = format!("{}\n", dot_git.display());
        crate::atomic_file::replace_plain(&gitdir, text.as_bytes()).map_err(WorktreeError::io(&gitdir))?;
        Ok(())
    }

    /// Checks `branch_ref` out in the worktree at `path`: only paths whose content differs from
    /// the index are written; untracked and ignored files are removed (a fresh worktree has none).
    fn check_out_branch(&self, path: &Path, branch_ref: &str) -> Result<(), WorktreeError> {
        let git = |what: &str| WorktreeError::git(format!("{what} in the recycled worktree {}", path.display()));
        let wt = Repository::open(path).map_err(git("opening"))?;
        let target =
            wt.find_reference(branch_ref).and_then(|r| r.peel_to_commit()).map_err(git("reading the branch"))?;
        let mut checkout = git2::build::CheckoutBuilder::new();
        checkout.force().remove_untracked(true).remove_ignored(true);
        wt.checkout_tree(target.as_object(), Some(&mut checkout)).map_err(git("checking out"))?;
        wt.set_head(branch_ref).map_err(git("pointing HEAD at the branch"))?;
        Ok(())
    }
}
