//! The integration worktree of a merge: `<worktree_dir>/<feature>-merge-<id>` on a branch of the
//! same name, made at the integration commit. Verification runs there, and agents fix what fails
//! or resolve conflicts there; it is removed once its commits landed (kept, with a clear note,
//! when anything in it is not committed or did not land, so nothing is lost).

use std::path::PathBuf;

use git2::{BranchType, Oid, Repository, Signature};

use super::changes;
use super::error::WorktreeError;
use super::manager::WorktreeManager;

/// A merge's integration worktree.
#[derive(Debug, Clone)]
pub struct IntegrationTree {
    /// The worktree's and its branch's name.
    pub name: String,
    /// Its directory.
    pub path: PathBuf,
}

impl WorktreeManager {
    /// Where the integration worktree of merge `id` goes.
    pub fn integration_path(&self, id: &str) -> String {
        self.worktree_dir.join(format!("{}-merge-{}", self.feature, id.to_ascii_lowercase())).display().to_string()
    }

    /// Makes the integration worktree of merge `id` at commit `at`.
    pub fn integration_tree(&self, id: &str, at: Oid) -> Result<IntegrationTree, WorktreeError> {
        let _lock = self.creation_lock()?;
        let repo = self.repo()?;
        let name = format!("{}-merge-{}", self.feature, id.to_ascii_lowercase());
        let path = self.worktree_dir.join(&name);
        if path.exists() {
            return Err(WorktreeError::UnregisteredDirectory { path });
        }
        let commit = repo.find_commit(at).map_err(WorktreeError::git(format!("reading {at}")))?;
        repo.branch(&name, &commit, false).map_err(WorktreeError::git(format!("creating branch {name}")))?;
        self.exclude_from_main_status();
        if let Err(err) = self.add_worktree(&repo, &name, &path, &format!("refs/heads/{name}")) {
            self.undo_creation(&repo, &name, &path, Some(&name));
            return Err(err);
        }
        Ok(IntegrationTree { name, path })
    }

    /// The private git store an agent fixing or resolving in the integration worktree works
    /// against.
    pub fn integration_quarantine(&self, tree: &IntegrationTree) -> super::Quarantine {
        super::Quarantine::new(&self.common_dir, &tree.name, &tree.path, &tree.name)
    }

    fn open_integration(&self, tree: &IntegrationTree) -> Result<Repository, WorktreeError> {
        Repository::open(&tree.path).map_err(WorktreeError::git(format!("opening {}", tree.path.display())))
    }

    /// The integration worktree's HEAD.
    pub fn integration_head(&self, tree: &IntegrationTree) -> Result<Oid, WorktreeError> {
        let repo = self.open_integration(tree)?;
        repo.head().and_then(|h| h.peel_to_commit()).map(|c| c.id()).map_err(WorktreeError::git("reading HEAD"))
    }

    /// Commits what an agent left uncommitted there (withheld paths left out, as after a WP
    /// attempt). Returns the commit, if one was needed, and the paths left out.
    pub fn commit_integration(
        &self,
        tree: &IntegrationTree,
        message: &str,
        agent: &str,
    ) -> Result<(Option<Oid>, Vec<String>), WorktreeError> {
        let repo = self.open_integration(tree)?;
        if changes::dirty_paths(&repo)?.is_empty() {
            return Ok((None, Vec::new()));
        }
        let author = Signature::now(agent, &format!("{agent}@agents.kitty"))
            .map_err(WorktreeError::git("making a signature"))?;
        changes::commit_all(&repo, message, &author, &Self::signature(&repo), &self.withhold)
    }

    /// Uncommitted paths in the integration worktree.
    pub fn integration_dirty(&self, tree: &IntegrationTree) -> Result<Vec<String>, WorktreeError> {
        changes::dirty_paths(&self.open_integration(tree)?)
    }

    /// Removes the integration worktree and its branch once everything in it landed: refuses
    /// (returns `false`, touching nothing) when it has uncommitted changes or commits that
    /// `landed` does not contain.
    pub fn remove_integration(&self, tree: &IntegrationTree, landed: Oid) -> Result<bool, WorktreeError> {
        let _lock = self.creation_lock()?;
        let repo = self.repo()?;
        if tree.path.exists() {
            let wt = self.open_integration(tree)?;
            let head = wt.head().and_then(|h| h.peel_to_commit()).map_err(WorktreeError::git("reading HEAD"))?.id();
            let contained = head == landed || repo.graph_descendant_of(landed, head).unwrap_or(false);
            if !changes::dirty_paths(&wt)?.is_empty() || !contained {
                return Ok(false);
            }
            std::fs::remove_dir_all(&tree.path).map_err(WorktreeError::io(&tree.path))?;
        }
        if let Ok(wt) = repo.find_worktree(&tree.name) {
            wt.prune(None).map_err(WorktreeError::git(format!("unregistering worktree {}", tree.name)))?;
        }
        if let Ok(mut branch) = repo.find_branch(&tree.name, BranchType::Local) {
            branch.delete().map_err(WorktreeError::git(format!("deleting branch {}", tree.name)))?;
        }
        Ok(true)
    }
}

impl WorktreeManager {
    /// Stages everything in the integration worktree (as `git add -A`, withheld paths left out)
    /// and returns the tree it makes, with the paths left out: what an agent's resolution is.
    pub fn stage_integration(&self, tree: &IntegrationTree) -> Result<(Oid, Vec<String>), WorktreeError> {
        let repo = self.open_integration(tree)?;
        changes::stage_all(&repo, &self.withhold)
    }

    /// Moves the integration worktree's branch, index and files to `commit`.
    pub fn reset_integration(&self, tree: &IntegrationTree, commit: Oid) -> Result<(), WorktreeError> {
        let repo = self.open_integration(tree)?;
        let object = repo.find_object(commit, None).map_err(WorktreeError::git(format!("reading {commit}")))?;
        repo.reset(&object, git2::ResetType::Hard, None)
            .map_err(WorktreeError::git(format!("resetting {} to {commit}", tree.path.display())))
    }

    /// Opens the integration worktree as a repository (to write conflicts into it).
    pub fn integration_repo(&self, tree: &IntegrationTree) -> Result<Repository, WorktreeError> {
        self.open_integration(tree)
    }
}

impl WorktreeManager {
    /// Removes the integration worktree and its branch whatever is in them, saving first what
    /// `landed` does not hold — its HEAD, with uncommitted changes (withheld paths excepted) on
    /// top — under `refs/kitty/backup/<feature>/<name>`. Returns that ref, when one was needed.
    pub fn discard_integration(&self, tree: &IntegrationTree, landed: Oid) -> Result<Option<String>, WorktreeError> {
        let mut saved = None;
        if tree.path.exists() {
            let wt = self.open_integration(tree)?;
            let head = wt.head().and_then(|h| h.peel_to_commit()).map_err(WorktreeError::git("reading HEAD"))?;
            let (files, _withheld) = self.withhold.split(changes::dirty_paths(&wt)?);
            let contained = head.id() == landed || wt.graph_descendant_of(landed, head.id()).unwrap_or(false);
            let keep = if !files.is_empty() {
                let snapshot = wt
                    .find_tree(changes::snapshot_tree(&wt, &files)?)
                    .map_err(WorktreeError::git("reading a snapshot"))?;
                let sig = Self::signature(&wt);
                let message = format!("kitty: backup of {} before it is removed\n", tree.name);
                Some(
                    wt.commit(None, &sig, &sig, &message, &snapshot, &[&head])
                        .map_err(WorktreeError::git("writing a backup"))?,
                )
            } else if !contained {
                Some(head.id())
            } else {
                None
            };
            if let Some(commit) = keep {
                let reference = format!("refs/kitty/backup/{}/{}", self.feature, tree.name);
                wt.reference(&reference, commit, true, "kitty: backup")
                    .map_err(WorktreeError::git(format!("creating {reference}")))?;
                saved = Some(reference);
            }
            std::fs::remove_dir_all(&tree.path).map_err(WorktreeError::io(&tree.path))?;
        }
        let _lock = self.creation_lock()?;
        let repo = self.repo()?;
        if let Ok(wt) = repo.find_worktree(&tree.name) {
            wt.prune(None).map_err(WorktreeError::git(format!("unregistering worktree {}", tree.name)))?;
        }
        if let Ok(mut branch) = repo.find_branch(&tree.name, BranchType::Local) {
            branch.delete().map_err(WorktreeError::git(format!("deleting branch {}", tree.name)))?;
        }
        Ok(saved)
    }
}
