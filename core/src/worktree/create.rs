//! Making (or reusing, or repairing) a WP's worktree, and saving what a worktree holds before it
//! is discarded. libgit2's worktree add is not atomic: creation is serialized per repository, a
//! marker says a creation (or its setup) is in progress, and a failed creation removes what it
//! made.

use std::path::{Path, PathBuf};

use git2::{BranchType, Repository, WorktreeAddOptions, WorktreeLockStatus};

use super::changes;
use super::error::WorktreeError;
use super::fresh::{self, Plan};
use super::manager::{WorktreeManager, same_path};
use super::setup;
use super::types::{Backup, Prepared};
use crate::feature::WorkPackage;
use crate::ids::WpId;

impl WorktreeManager {
    /// Makes (or reuses) the WP's worktree. An existing valid worktree on the WP branch is reused;
    /// a registered worktree whose directory is gone is pruned and made again; an existing branch
    /// not checked out anywhere is reused with its commits. Anything else in the way is an error,
    /// and a failed creation removes what it made.
    pub fn ensure(&self, wp: &WorkPackage) -> Result<Prepared, WorktreeError> {
        let _lock = self.creation_lock()?;
        let repo = self.repo()?;
        self.settle_quarantine(&wp.id)?;
        self.discard_interrupted(&repo, &wp.id)?;
        if let Some(reused) = self.reuse_existing(&repo, wp)? {
            return Ok(reused);
        }
        self.create(&repo, wp)
    }

    /// A creation marker left behind means a process died while making this worktree, or its
    /// setup never succeeded: it is discarded and made again rather than reported as a
    /// directory in the way — after saving whatever someone did in it since.
    pub(super) fn discard_interrupted(&self, repo: &Repository, wp: &WpId) -> Result<(), WorktreeError> {
        let marker = self.marker(wp);
        if !marker.exists() {
            return Ok(());
        }
        let name = self.name(wp);
        let path = self.path_for(wp);
        tracing::warn!(worktree = %name, "discarding a worktree whose creation or setup was interrupted");
        if path.exists() {
            self.save_before_discarding(
                repo,
                wp,
                &path,
                "discarding a worktree whose creation or setup was interrupted",
            )?;
            std::fs::remove_dir_all(&path).map_err(WorktreeError::io(&path))?;
        }
        let admin = self.common_dir.join("worktrees").join(&name);
        if admin.exists() {
            std::fs::remove_dir_all(&admin).map_err(WorktreeError::io(&admin))?;
        }
        // An interrupted recycling may have left the worktree it took half moved.
        let note = std::fs::read_to_string(&marker).unwrap_or_default();
        if let Some(donor) = note.lines().find_map(|l| l.strip_prefix(super::recycle::RECYCLING)) {
            let (donor_path, donor_admin) =
                (self.worktree_dir.join(donor), self.common_dir.join("worktrees").join(donor));
            let registered = repo.find_worktree(donor).is_ok_and(|w| w.validate().is_ok());
            if !registered {
                if donor_path.exists() {
                    let why = "discarding a worktree whose recycling was interrupted";
                    self.save_before_discarding(repo, wp, &donor_path, why)?;
                    std::fs::remove_dir_all(&donor_path).map_err(WorktreeError::io(&donor_path))?;
                }
                if donor_admin.exists() {
                    std::fs::remove_dir_all(&donor_admin).map_err(WorktreeError::io(&donor_admin))?;
                }
            }
        }
        std::fs::remove_file(&marker).map_err(WorktreeError::io(&marker))
    }

    /// The WP's registered worktree when it is valid and on its branch (`Some`); a registration
    /// whose directory is gone is pruned (`None`: make it again); a locked one is an error.
    fn reuse_existing(&self, repo: &Repository, wp: &WorkPackage) -> Result<Option<Prepared>, WorktreeError> {
        let name = self.name(&wp.id);
        let branch = self.branch(&wp.id);
        let branch_ref = format!("refs/heads/{branch}");
        let Ok(existing) = repo.find_worktree(&name) else { return Ok(None) };
        if existing.validate().is_ok() && existing.path().exists() {
            let wt_repo = Repository::open_from_worktree(&existing)
                .map_err(WorktreeError::git(format!("opening worktree {name}")))?;
            let head = wt_repo.head().ok().and_then(|h| h.name().ok().map(str::to_string));
            if head.as_deref() != Some(branch_ref.as_str()) {
                return Err(WorktreeError::BranchInUse {
                    branch: head.unwrap_or_default(),
                    path: existing.path().to_path_buf(),
                });
            }
            let mut head_commit =
                wt_repo.head().and_then(|h| h.peel_to_commit()).map_err(WorktreeError::git("reading HEAD"))?.id();
            if self.mission.is_some() {
                head_commit = self.bring_lane_up_to_date(repo, &wt_repo, wp, &branch, head_commit)?;
            }
            let (base, source) = self.base_of_branch(repo, wp, head_commit)?;
            return Ok(Some(Prepared {
                path: existing.path().to_path_buf(),
                branch,
                base: base.to_string(),
                base_source: source,
                created: false,
                reused_branch: true,
                setup_pending: false,
                included: Vec::new(),
                recycled_from: None,
            }));
        }
        if let Ok(WorktreeLockStatus::Locked(reason)) = existing.is_locked() {
            return Err(WorktreeError::Locked {
                name,
                reason: reason.unwrap_or_else(|| "no reason given".into()),
                path: self.path_for(&wp.id),
            });
        }
        tracing::info!(worktree = %name, "pruning a registered worktree whose directory is gone");
        existing.prune(None).map_err(WorktreeError::git(format!("pruning the stale worktree {name}")))?;
        Ok(None)
    }

    /// A spec-kitty lane worktree reused by the lane's next WP gets the dependency lanes that
    /// finished since (spec-kitty redoes those merges too): the lane branch moves to the merge
    /// and the worktree is checked out to it. Only a clean worktree is touched; a dirty one is
    /// an error naming its paths.
    fn bring_lane_up_to_date(
        &self,
        repo: &Repository,
        wt_repo: &Repository,
        wp: &WorkPackage,
        branch: &str,
        head: git2::Oid,
    ) -> Result<git2::Oid, WorktreeError> {
        let (wanted, _) = self.base_for(wp)?;
        if wanted == head || !repo.graph_descendant_of(wanted, head).unwrap_or(false) {
            return Ok(head);
        }
        let dirty = changes::dirty_paths(wt_repo)?;
        if !dirty.is_empty() {
            return Err(WorktreeError::Dirty { path: self.path_for(&wp.id), files: dirty });
        }
        let target = repo.find_commit(wanted).map_err(WorktreeError::git("reading the lane's new base"))?;
        let mut checkout = git2::build::CheckoutBuilder::new();
        checkout.safe();
        wt_repo.checkout_tree(target.as_object(), Some(&mut checkout)).map_err(WorktreeError::git(format!(
            "updating {} to its dependency lanes",
            self.path_for(&wp.id).display()
        )))?;
        let name = format!("refs/heads/{branch}");
        repo.reference_matching(&name, wanted, true, head, "kitty: merge dependency lanes")
            .map_err(WorktreeError::git(format!("moving {name}")))?;
        Ok(wanted)
    }

    /// Where a branch that already has commits started: the wanted base when the branch contains
    /// it, else where the two meet.
    pub(super) fn base_of_branch(
        &self,
        repo: &Repository,
        wp: &WorkPackage,
        head: git2::Oid,
    ) -> Result<(git2::Oid, super::BaseSource), WorktreeError> {
        let (wanted, source) = self.base_for(wp)?;
        let base = if repo.graph_descendant_of(head, wanted).unwrap_or(false) || head == wanted {
            wanted
        } else {
            repo.merge_base(head, wanted).unwrap_or(head)
        };
        Ok((base, source))
    }

    /// A new worktree (on the WP's existing branch, or a new one at its base), its
    /// `.worktreeinclude` files copied; the marker stays until setup succeeded.
    fn create(&self, repo: &Repository, wp: &WorkPackage) -> Result<Prepared, WorktreeError> {
        let name = self.name(&wp.id);
        let path = self.path_for(&wp.id);
        let branch = self.branch(&wp.id);
        let branch_ref = format!("refs/heads/{branch}");
        if path.exists() {
            return Err(WorktreeError::UnregisteredDirectory { path });
        }
        if let Some(other) = self.checked_out_at(repo, &branch_ref)? {
            return Err(WorktreeError::BranchInUse { branch, path: other });
        }
        let (base, source, created_branch, reused_branch) = match repo.find_branch(&branch, BranchType::Local) {
            Ok(existing) => {
                let head =
                    existing.get().peel_to_commit().map_err(WorktreeError::git(format!("reading {branch}")))?.id();
                let (base, source) = self.base_of_branch(repo, wp, head)?;
                (base, source, false, true)
            }
            Err(_) => {
                let (base, source) = self.base_for(wp)?;
                let commit = repo.find_commit(base).map_err(WorktreeError::git("reading the base commit"))?;
                repo.branch(&branch, &commit, false)
                    .map_err(WorktreeError::git(format!("creating branch {branch}")))?;
                (base, source, true, false)
            }
        };
        let marker = self.marker(&wp.id);
        std::fs::create_dir_all(marker.parent().expect("has a parent")).map_err(WorktreeError::io(&marker))?;
        std::fs::write(&marker, format!("pid {}\n", std::process::id())).map_err(WorktreeError::io(&marker))?;
        if let Err(err) = self.add_worktree(repo, &name, &path, &branch_ref) {
            self.undo_creation(repo, &name, &path, created_branch.then_some(branch.as_str()));
            let _ = std::fs::remove_file(&marker);
            return Err(err);
        }
        self.exclude_from_main_status();
        let included = setup::copy_worktree_includes(repo, &self.repo_root, &path, &self.worktree_dir)?;
        // Until setup has run the worktree is not ready: the marker stays, so an interruption or a
        // setup failure makes the next attempt start over (after saving what is there).
        let setup_pending = self.setup_command.is_some();
        if !setup_pending {
            std::fs::remove_file(&marker).map_err(WorktreeError::io(&marker))?;
        }
        Ok(Prepared {
            path,
            branch,
            base: base.to_string(),
            base_source: source,
            created: true,
            reused_branch,
            setup_pending,
            included,
            recycled_from: None,
        })
    }

    /// Saves what a worktree about to be discarded holds: uncommitted work into a backup ref (by
    /// git status when it is a working worktree, else every file of the directory), and withheld
    /// files (secrets, which must not go into a ref) moved under `.git/kitty/withheld/`.
    pub(super) fn save_before_discarding(
        &self,
        repo: &Repository,
        wp: &WpId,
        path: &Path,
        reason: &str,
    ) -> Result<Option<Backup>, WorktreeError> {
        let opened = Repository::open(path).ok().filter(|r| r.workdir().is_some_and(|w| same_path(w, path)));
        let files: Vec<String> = match &opened {
            Some(wt) => changes::dirty_paths(wt)?,
            None => changes::all_files(path)?,
        };
        let (kept, withheld) = self.withhold.split(files);
        let mut backup = None;
        if !kept.is_empty() {
            backup = match &opened {
                Some(_) => self.backup(wp, reason)?,
                None => {
                    let tree = changes::directory_tree(repo, path, &kept)?;
                    let parent = super::base::branch_tip(repo, &self.branch(wp));
                    Some(self.write_backup(repo, wp, reason, tree, parent.as_ref(), kept)?)
                }
            };
            if let Some(b) = &backup {
                tracing::warn!(reference = %b.reference, files = b.files.len(), "saved the work of a worktree before {reason}");
            }
        }
        self.move_aside(wp, path, &withheld)?;
        Ok(backup)
    }

    /// Moves `paths` (withheld, secret-looking: never into a ref) of the worktree at `path` to
    /// `<common>/kitty/withheld/<worktree>/<time>/`, keeping them out of the way of removal.
    pub(super) fn move_aside(&self, wp: &WpId, path: &Path, paths: &[String]) -> Result<(), WorktreeError> {
        if paths.is_empty() {
            return Ok(());
        }
        let stamp = jiff::Timestamp::now().as_millisecond();
        let aside = self.common_dir.join("kitty").join("withheld").join(self.name(wp)).join(stamp.to_string());
        for rel in paths {
            // Never through a link of the worktree: what it points at is not the worktree's.
            crate::beneath::move_out(path, Path::new(rel), &aside.join(rel))
                .map_err(WorktreeError::io(path.join(rel)))?;
        }
        tracing::warn!(dir = %aside.display(), files = paths.len(), "moved withheld files of a worktree aside");
        Ok(())
    }

    pub(super) fn add_worktree(
        &self,
        repo: &Repository,
        name: &str,
        path: &Path,
        branch_ref: &str,
    ) -> Result<(), WorktreeError> {
        std::fs::create_dir_all(&self.worktree_dir).map_err(WorktreeError::io(&self.worktree_dir))?;
        let reference = repo.find_reference(branch_ref).map_err(WorktreeError::git(format!("reading {branch_ref}")))?;
        let tree = reference.peel_to_tree().map_err(WorktreeError::git(format!("reading the tree of {branch_ref}")))?;
        if let Plan::Parallel { dirs, files } = Plan::of(repo, &tree) {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(WorktreeError::io(parent))?;
            }
            return fresh::add(repo, name, path, branch_ref, &dirs, &files);
        }
        let mut opts = WorktreeAddOptions::new();
        opts.reference(Some(&reference));
        repo.worktree(name, path, Some(&opts))
            .map_err(WorktreeError::git(format!("adding worktree {}", path.display())))?;
        Ok(())
    }

    /// Removes what a failed creation made: the admin dir, the directory, the branch (when it
    /// made one).
    pub(super) fn undo_creation(&self, repo: &Repository, name: &str, path: &Path, created_branch: Option<&str>) {
        let admin = self.common_dir.join("worktrees").join(name);
        if admin.exists() {
            let _ = std::fs::remove_dir_all(&admin);
        }
        if path.exists() {
            let _ = std::fs::remove_dir_all(path);
        }
        if let Some(created) = created_branch
            && let Ok(mut branch) = repo.find_branch(created, BranchType::Local)
        {
            let _ = branch.delete();
        }
    }

    /// Where `branch_ref` is checked out (main worktree or a linked one), if anywhere.
    pub(super) fn checked_out_at(&self, repo: &Repository, branch_ref: &str) -> Result<Option<PathBuf>, WorktreeError> {
        if repo.head().ok().and_then(|h| h.name().ok().map(str::to_string)).as_deref() == Some(branch_ref) {
            return Ok(Some(self.repo_root.clone()));
        }
        let names = repo.worktrees().map_err(WorktreeError::git("listing worktrees"))?;
        for wt_name in names.iter().flatten().flatten() {
            let Ok(wt) = repo.find_worktree(wt_name) else { continue };
            if wt.validate().is_err() {
                continue;
            }
            let Ok(wt_repo) = Repository::open_from_worktree(&wt) else { continue };
            if wt_repo.head().ok().and_then(|h| h.name().ok().map(str::to_string)).as_deref() == Some(branch_ref) {
                return Ok(Some(wt.path().to_path_buf()));
            }
        }
        Ok(None)
    }
}
