//! One git worktree per WP, made in-process with libgit2 (DESIGN.md §6):
//! `<worktree_dir>/<feature>-<WP>` on branch `<feature>-<WP>`, based on what the WP depends on.
//!
//! libgit2's worktree add is not atomic and its prune can delete uncommitted work, so this
//! module serializes creation per repository, cleans up after a failed creation, refuses to
//! clobber directories or branches it did not make, and snapshots uncommitted work to
//! `refs/kitty/backup/<feature>/<WP>/<n>` before anything destructive.

mod base;
mod changes;
mod error;
mod setup;

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

use git2::{BranchType, Oid, Repository, Signature, WorktreeAddOptions, WorktreeLockStatus};
use serde::Serialize;

pub use base::BaseSource;
pub use error::WorktreeError;

use crate::config::Config;
use crate::feature::{Feature, WorkPackage};
use crate::ids::{FeatureSlug, WpId};
use crate::state::backup_ref;

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
}

/// What an agent attempt left behind.
#[derive(Debug, Clone, Serialize)]
pub struct AttemptChanges {
    /// The commit made from leftover uncommitted changes (`auto_commit`).
    pub auto_commit: Option<String>,
    /// Commits since the base, oldest first (empty = the `no_changes` outcome).
    pub commits: Vec<String>,
    /// The branch head now.
    pub head: String,
    /// Uncommitted paths left (when `auto_commit` is off).
    pub uncommitted: Vec<String>,
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

/// Creates, inspects and removes the worktrees of one feature's WPs.
#[derive(Debug, Clone)]
pub struct WorktreeManager {
    repo_root: PathBuf,
    common_dir: PathBuf,
    worktree_dir: PathBuf,
    feature: FeatureSlug,
    target_branch: String,
    setup_command: Option<Vec<String>>,
}

impl WorktreeManager {
    /// A manager for `feature` in the repository at `repo`. The target branch is the config's
    /// `target_branch`, else `meta.json`'s, else the branch checked out in `repo`.
    pub fn new(repo: &Path, feature: &Feature, config: &Config) -> Result<WorktreeManager, WorktreeError> {
        let r = Repository::discover(repo).map_err(WorktreeError::git(format!("opening {}", repo.display())))?;
        let root = r
            .workdir()
            .ok_or_else(|| WorktreeError::Git {
                context: format!("opening {}", repo.display()),
                source: git2::Error::from_str("a bare repository has no working tree for WP worktrees"),
            })?
            .to_path_buf();
        // From a linked worktree, work relative to the main one.
        let common_dir = r.commondir().to_path_buf();
        let main_root = if r.is_worktree() { common_dir.parent().map(Path::to_path_buf).unwrap_or(root) } else { root };
        let target_branch = match config.target_branch.clone().or_else(|| feature.meta.target_branch.clone()) {
            Some(branch) => branch,
            None => r
                .head()
                .ok()
                .and_then(|h| h.shorthand().ok().map(str::to_string))
                .filter(|b| b != "HEAD")
                .unwrap_or_else(|| "main".to_string()),
        };
        let worktree_dir = if config.worktree_dir.is_absolute() {
            config.worktree_dir.clone()
        } else {
            main_root.join(&config.worktree_dir)
        };
        Ok(WorktreeManager {
            repo_root: main_root,
            common_dir,
            worktree_dir,
            feature: feature.slug.clone(),
            target_branch,
            setup_command: config.setup_command.clone(),
        })
    }

    /// The branch WPs without dependencies start from.
    pub fn target_branch(&self) -> &str {
        &self.target_branch
    }

    /// `<feature>-<WP>`: the branch and the worktree's directory name.
    pub fn name(&self, wp: &WpId) -> String {
        format!("{}-{wp}", self.feature)
    }

    /// Where the WP's worktree lives.
    pub fn path_for(&self, wp: &WpId) -> PathBuf {
        self.worktree_dir.join(self.name(wp))
    }

    fn repo(&self) -> Result<Repository, WorktreeError> {
        Repository::open(&self.repo_root).map_err(WorktreeError::git(format!("opening {}", self.repo_root.display())))
    }

    fn signature(repo: &Repository) -> Signature<'static> {
        repo.signature()
            .map(|s| s.to_owned())
            .or_else(|_| Signature::now("kitty-orchestrator", "kitty-orchestrator@localhost"))
            .expect("a fixed signature is valid")
    }

    /// Holds the per-repository creation lock (an advisory file lock: serializes threads and
    /// processes alike).
    fn creation_lock(&self) -> Result<std::fs::File, WorktreeError> {
        let dir = self.common_dir.join("kitty").join("locks");
        std::fs::create_dir_all(&dir).map_err(WorktreeError::io(&dir))?;
        let path = dir.join("worktrees.lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(WorktreeError::io(&path))?;
        file.lock().map_err(WorktreeError::io(&path))?;
        Ok(file)
    }

    /// The base a WP should start from, computing a merge of its dependencies when it has several.
    pub fn base_for(&self, wp: &WorkPackage) -> Result<(Oid, BaseSource), WorktreeError> {
        let repo = self.repo()?;
        let wp_name = wp.id.to_string();
        match wp.dependencies.as_slice() {
            [] => {
                let tip = base::branch_tip(&repo, &self.target_branch).ok_or_else(|| WorktreeError::MissingBase {
                    wp: wp_name,
                    branch: self.target_branch.clone(),
                    why: "the target branch; set `target_branch` in .kittify/orchestrator.toml".into(),
                })?;
                Ok((tip.id(), BaseSource::Target(self.target_branch.clone())))
            }
            deps => {
                let names: Vec<String> = deps.iter().map(|d| self.name(d)).collect();
                // A WP starts only once its dependencies are done. A done dependency without a
                // branch was finished outside the orchestrator (imported as done): its work is on
                // the target branch.
                let mut tips = Vec::new();
                let mut used = Vec::new();
                for name in &names {
                    match base::branch_tip(&repo, name) {
                        Some(tip) => {
                            tips.push(tip);
                            used.push(name.clone());
                        }
                        None if !used.contains(&self.target_branch) => {
                            let tip = base::branch_tip(&repo, &self.target_branch).ok_or_else(|| WorktreeError::MissingBase {
                                wp: wp_name.clone(),
                                branch: self.target_branch.clone(),
                                why: format!("the target branch, standing in for dependency branch {name}, which does not exist"),
                            })?;
                            tips.push(tip);
                            used.push(self.target_branch.clone());
                        }
                        None => {}
                    }
                }
                let names = used;
                // Drop tips already contained in another tip: their merge adds nothing.
                let all: Vec<Oid> = tips.iter().map(|t| t.id()).collect();
                let keep: Vec<usize> = (0..tips.len())
                    .filter(|&i| {
                        !all.iter().enumerate().any(|(j, &other)| {
                            j != i
                                && (repo.graph_descendant_of(other, all[i]).unwrap_or(false)
                                    || (other == all[i] && j < i))
                        })
                    })
                    .collect();
                let tips: Vec<_> = keep.iter().map(|&i| tips[i].clone()).collect();
                let names: Vec<String> = keep.iter().map(|&i| names[i].clone()).collect();
                if tips.len() == 1 {
                    return Ok((tips[0].id(), BaseSource::Dependency(names[0].clone())));
                }
                // A fixed time makes the merge commit reproducible for the same tips.
                let when = tips.iter().map(|t| t.time().seconds()).max().unwrap_or(0);
                let sig = Self::signature(&repo);
                let sig = Signature::new(
                    sig.name().unwrap_or("kitty-orchestrator"),
                    sig.email().unwrap_or("kitty-orchestrator@localhost"),
                    &git2::Time::new(when, 0),
                )
                .map_err(WorktreeError::git("making a signature"))?;
                let oid = base::merge_tips(&repo, &wp_name, &names, &tips, &sig)?;
                Ok((oid, BaseSource::Merge(names)))
            }
        }
    }

    /// Makes (or reuses) the WP's worktree. An existing valid worktree on the WP branch is reused;
    /// a registered worktree whose directory is gone is pruned and made again; an existing branch
    /// not checked out anywhere is reused with its commits. Anything else in the way is an error,
    /// and a failed creation removes what it made.
    pub fn ensure(&self, wp: &WorkPackage) -> Result<Prepared, WorktreeError> {
        let _lock = self.creation_lock()?;
        let repo = self.repo()?;
        let name = self.name(&wp.id);
        let path = self.path_for(&wp.id);
        let branch_ref = format!("refs/heads/{name}");
        // A creation marker left behind means a process died while making this worktree: no
        // agent ever ran in it (the marker goes away before one can), so it is discarded and
        // made again rather than reported as a directory in the way.
        let marker = self.common_dir.join("kitty").join("creating").join(&name);
        if marker.exists() {
            tracing::warn!(worktree = %name, "discarding a worktree whose creation was interrupted");
            if path.exists() {
                std::fs::remove_dir_all(&path).map_err(WorktreeError::io(&path))?;
            }
            let admin = self.common_dir.join("worktrees").join(&name);
            if admin.exists() {
                std::fs::remove_dir_all(&admin).map_err(WorktreeError::io(&admin))?;
            }
            std::fs::remove_file(&marker).map_err(WorktreeError::io(&marker))?;
        }

        if let Ok(existing) = repo.find_worktree(&name) {
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
                let head_commit =
                    wt_repo.head().and_then(|h| h.peel_to_commit()).map_err(WorktreeError::git("reading HEAD"))?.id();
                let (wanted, source) = self.base_for(wp)?;
                let base = if repo.graph_descendant_of(head_commit, wanted).unwrap_or(false) || head_commit == wanted {
                    wanted
                } else {
                    repo.merge_base(head_commit, wanted).unwrap_or(head_commit)
                };
                return Ok(Prepared {
                    path: existing.path().to_path_buf(),
                    branch: name,
                    base: base.to_string(),
                    base_source: source,
                    created: false,
                    reused_branch: true,
                });
            }
            if let Ok(WorktreeLockStatus::Locked(reason)) = existing.is_locked() {
                return Err(WorktreeError::Locked {
                    name,
                    reason: reason.unwrap_or_else(|| "no reason given".into()),
                    path,
                });
            }
            tracing::info!(worktree = %name, "pruning a registered worktree whose directory is gone");
            existing.prune(None).map_err(WorktreeError::git(format!("pruning the stale worktree {name}")))?;
        }
        if path.exists() {
            return Err(WorktreeError::UnregisteredDirectory { path });
        }
        if let Some(other) = self.checked_out_at(&repo, &branch_ref)? {
            return Err(WorktreeError::BranchInUse { branch: name, path: other });
        }

        let (base, source, created_branch, reused_branch) = match repo.find_branch(&name, BranchType::Local) {
            Ok(branch) => {
                let head = branch.get().peel_to_commit().map_err(WorktreeError::git(format!("reading {name}")))?.id();
                let (wanted, source) = self.base_for(wp)?;
                let base = if repo.graph_descendant_of(head, wanted).unwrap_or(false) || head == wanted {
                    wanted
                } else {
                    repo.merge_base(head, wanted).unwrap_or(head)
                };
                (base, source, false, true)
            }
            Err(_) => {
                let (base, source) = self.base_for(wp)?;
                let commit = repo.find_commit(base).map_err(WorktreeError::git("reading the base commit"))?;
                repo.branch(&name, &commit, false).map_err(WorktreeError::git(format!("creating branch {name}")))?;
                (base, source, true, false)
            }
        };
        std::fs::create_dir_all(marker.parent().expect("has a parent")).map_err(WorktreeError::io(&marker))?;
        std::fs::write(&marker, format!("pid {}\n", std::process::id())).map_err(WorktreeError::io(&marker))?;
        let made = self.add_worktree(&repo, &name, &path, &branch_ref);
        if let Err(err) = made {
            self.undo_creation(&repo, &name, &path, created_branch);
            let _ = std::fs::remove_file(&marker);
            return Err(err);
        }
        self.exclude_from_main_status();
        // Until setup has run the worktree is not ready: the marker stays, so an interruption or a
        // setup failure makes the next attempt start over cleanly.
        setup::copy_worktree_includes(&self.repo_root, &path, &self.worktree_dir)?;
        setup::run_setup_command(self.setup_command.as_deref(), &path, &self.repo_root, &self.feature, &wp.id)?;
        std::fs::remove_file(&marker).map_err(WorktreeError::io(&marker))?;
        Ok(Prepared { path, branch: name, base: base.to_string(), base_source: source, created: true, reused_branch })
    }

    fn add_worktree(&self, repo: &Repository, name: &str, path: &Path, branch_ref: &str) -> Result<(), WorktreeError> {
        std::fs::create_dir_all(&self.worktree_dir).map_err(WorktreeError::io(&self.worktree_dir))?;
        let reference = repo.find_reference(branch_ref).map_err(WorktreeError::git(format!("reading {branch_ref}")))?;
        let mut opts = WorktreeAddOptions::new();
        opts.reference(Some(&reference));
        repo.worktree(name, path, Some(&opts))
            .map_err(WorktreeError::git(format!("adding worktree {}", path.display())))?;
        Ok(())
    }

    /// Removes what a failed creation made: the admin dir, the directory, the branch.
    fn undo_creation(&self, repo: &Repository, name: &str, path: &Path, created_branch: bool) {
        let admin = self.common_dir.join("worktrees").join(name);
        if admin.exists() {
            let _ = std::fs::remove_dir_all(&admin);
        }
        if path.exists() {
            let _ = std::fs::remove_dir_all(path);
        }
        if created_branch && let Ok(mut branch) = repo.find_branch(name, BranchType::Local) {
            let _ = branch.delete();
        }
    }

    /// Where `branch_ref` is checked out (main worktree or a linked one), if anywhere.
    fn checked_out_at(&self, repo: &Repository, branch_ref: &str) -> Result<Option<PathBuf>, WorktreeError> {
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

    /// Keeps WP worktrees and agent logs out of the main worktree's `git status`, through
    /// `.git/info/exclude` (the user's `.gitignore` is not touched).
    fn exclude_from_main_status(&self) {
        let exclude = self.common_dir.join("info").join("exclude");
        let current = std::fs::read_to_string(&exclude).unwrap_or_default();
        let mut add = Vec::new();
        if let Ok(rel) = self.worktree_dir.strip_prefix(&self.repo_root) {
            let pattern = format!("/{}/", rel.display());
            if !current.lines().any(|l| l.trim() == pattern) {
                add.push(pattern);
            }
        }
        if !current.lines().any(|l| l.trim() == "/.kittify/logs/") {
            add.push("/.kittify/logs/".to_string());
        }
        if add.is_empty() {
            return;
        }
        let _ = std::fs::create_dir_all(exclude.parent().unwrap_or(&self.common_dir));
        let mut text = current;
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str("# added by kitty-orchestrator\n");
        for line in add {
            text.push_str(&line);
            text.push('\n');
        }
        let _ = std::fs::write(&exclude, text);
    }

    /// Writes the merge of all `wps`' branches into `dest` (a plain directory, no git metadata):
    /// the tree a final verification command runs on. Returns the merged commit.
    pub fn checkout_merged(&self, wps: &[WpId], dest: &Path) -> Result<String, WorktreeError> {
        let repo = self.repo()?;
        let mut names = Vec::new();
        let mut tips = Vec::new();
        for wp in wps {
            let name = self.name(wp);
            if let Some(tip) = base::branch_tip(&repo, &name) {
                names.push(name);
                tips.push(tip);
            }
        }
        let target = base::branch_tip(&repo, &self.target_branch);
        if tips.is_empty() {
            let tip = target.ok_or_else(|| WorktreeError::MissingBase {
                wp: "verify".into(),
                branch: self.target_branch.clone(),
                why: "nothing to verify: no WP branch and no target branch".into(),
            })?;
            names.push(self.target_branch.clone());
            tips.push(tip);
        }
        let commit = if tips.len() == 1 {
            tips[0].id()
        } else {
            base::merge_tips(&repo, "verify", &names, &tips, &Self::signature(&repo))?
        };
        let object = repo.find_object(commit, None).map_err(WorktreeError::git("reading the merged commit"))?;
        std::fs::create_dir_all(dest).map_err(WorktreeError::io(dest))?;
        let mut checkout = git2::build::CheckoutBuilder::new();
        checkout.target_dir(dest).force().update_index(false);
        repo.checkout_tree(&object, Some(&mut checkout))
            .map_err(WorktreeError::git(format!("writing the merge into {}", dest.display())))?;
        Ok(commit.to_string())
    }

    /// Removes the git lock files a killed process left for the WP: its worktree's index and
    /// HEAD locks and its branch's ref lock. Only call this while owning the WP with no agent
    /// running in it (nothing else writes there then).
    pub fn clear_stale_locks(&self, wp: &WpId) {
        let admin = self.common_dir.join("worktrees").join(self.name(wp));
        let branch_lock = self.common_dir.join("refs").join("heads").join(format!("{}.lock", self.name(wp)));
        for path in [admin.join("index.lock"), admin.join("HEAD.lock"), branch_lock] {
            if path.exists() && std::fs::remove_file(&path).is_ok() {
                tracing::warn!(path = %path.display(), "removed a lock file left by a killed process");
            }
        }
    }

    fn open_worktree(&self, wp: &WpId) -> Result<Repository, WorktreeError> {
        let path = self.path_for(wp);
        Repository::open(&path).map_err(WorktreeError::git(format!("opening worktree {}", path.display())))
    }

    /// Uncommitted paths in the WP's worktree.
    pub fn dirty_paths(&self, wp: &WpId) -> Result<Vec<String>, WorktreeError> {
        changes::dirty_paths(&self.open_worktree(wp)?)
    }

    /// After an agent attempt: commits leftover changes when `auto_commit` is on (message
    /// `WP03: <title>` with `Kitty-WP`/`Kitty-Agent`/`Kitty-Attempt` trailers), and lists the
    /// commits made since `base`.
    pub fn collect(
        &self,
        wp: &WorkPackage,
        agent: &str,
        attempt: u32,
        base: &str,
        auto_commit: bool,
    ) -> Result<AttemptChanges, WorktreeError> {
        let repo = self.open_worktree(&wp.id)?;
        let dirty = changes::dirty_paths(&repo)?;
        let mut auto = None;
        if auto_commit && !dirty.is_empty() {
            let message = format!(
                "{}: {}\n\nChanges left uncommitted by {agent} (attempt {attempt}), committed by kitty-orchestrator.\n\nKitty-WP: {}\nKitty-Agent: {}\nKitty-Attempt: {attempt}\n",
                wp.id,
                crate::state::trailer_value(&wp.title),
                wp.id,
                crate::state::trailer_value(agent)
            );
            let author = Signature::now(agent, &format!("{agent}@agents.kitty"))
                .map_err(WorktreeError::git("making a signature"))?;
            let committer = Self::signature(&repo);
            auto = Some(changes::commit_all(&repo, &message, &author, &committer)?.to_string());
        }
        let base = Oid::from_str(base).map_err(WorktreeError::git(format!("parsing base {base}")))?;
        let commits = changes::commits_since(&repo, base)?;
        let head = repo.head().and_then(|h| h.peel_to_commit()).map_err(WorktreeError::git("reading HEAD"))?.id();
        let uncommitted = if auto_commit { Vec::new() } else { dirty };
        Ok(AttemptChanges {
            auto_commit: auto,
            commits: commits.iter().map(Oid::to_string).collect(),
            head: head.to_string(),
            uncommitted,
        })
    }

    /// Snapshots the WP worktree's uncommitted work (tracked and untracked, without touching its
    /// index) to `refs/kitty/backup/<feature>/<WP>/<n>`. `None` when there is nothing to save.
    pub fn backup(&self, wp: &WpId, reason: &str) -> Result<Option<Backup>, WorktreeError> {
        let repo = self.open_worktree(wp)?;
        let files = changes::dirty_paths(&repo)?;
        if files.is_empty() {
            return Ok(None);
        }
        let tree_id = changes::snapshot_tree(&repo, &files)?;
        let tree = repo.find_tree(tree_id).map_err(WorktreeError::git("reading the snapshot"))?;
        let head = repo.head().and_then(|h| h.peel_to_commit()).ok();
        let sig = Self::signature(&repo);
        let message = format!(
            "kitty: backup of {} worktree before {reason}\n\n{} uncommitted path(s):\n{}\n",
            self.name(wp),
            files.len(),
            files.iter().take(200).map(|f| format!("  {f}")).collect::<Vec<_>>().join("\n")
        );
        let parents: Vec<&git2::Commit<'_>> = head.iter().collect();
        let commit = repo
            .commit(None, &sig, &sig, &message, &tree, &parents)
            .map_err(WorktreeError::git("writing the backup"))?;
        let mut n = self.backups(wp)?.iter().map(|b| b.n).max().unwrap_or(0) + 1;
        loop {
            let reference = backup_ref(&self.feature, wp, n);
            match repo.reference(&reference, commit, false, "kitty: backup") {
                Ok(_) => return Ok(Some(Backup { n, reference, commit: commit.to_string(), files })),
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
    /// stays. Uncommitted work is an error unless `backup_first`, which saves it first.
    pub fn remove(&self, wp: &WpId, backup_first: bool) -> Result<Option<Backup>, WorktreeError> {
        let _lock = self.creation_lock()?;
        let repo = self.repo()?;
        let name = self.name(wp);
        let path = self.path_for(wp);
        let mut saved = None;
        if path.exists() {
            let dirty = self.dirty_paths(wp)?;
            if !dirty.is_empty() {
                if !backup_first {
                    return Err(WorktreeError::Dirty { path, files: dirty.into_iter().take(10).collect() });
                }
                saved = self.backup(wp, "removing the worktree")?;
            }
            std::fs::remove_dir_all(&path).map_err(WorktreeError::io(&path))?;
        }
        if let Ok(wt) = repo.find_worktree(&name) {
            wt.prune(None).map_err(WorktreeError::git(format!("unregistering worktree {name}")))?;
        }
        Ok(saved)
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
