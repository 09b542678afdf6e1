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
mod withhold;

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

use git2::{BranchType, Oid, Repository, Signature, WorktreeAddOptions, WorktreeLockStatus};
use serde::Serialize;

pub use base::BaseSource;
pub use error::WorktreeError;
pub use withhold::{DENY_LIST, Withhold};

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
    /// `setup_command` still has to run in it (then [`WorktreeManager::mark_ready`]). Until it
    /// has, an interruption makes the next `ensure` discard the worktree (after a backup) and
    /// make it again.
    pub setup_pending: bool,
    /// Files copied in from `.worktreeinclude`.
    pub included: Vec<PathBuf>,
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

fn same_path(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
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
    withhold: Withhold,
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
        let withhold = Withhold::new(&main_root, &config.auto_commit_exclude)?;
        Ok(WorktreeManager {
            repo_root: main_root,
            common_dir,
            worktree_dir,
            feature: feature.slug.clone(),
            target_branch,
            setup_command: config.setup_command.clone(),
            withhold,
        })
    }

    /// The configured `setup_command`, run in each new worktree before an agent starts.
    pub fn setup_command(&self) -> Option<&[String]> {
        self.setup_command.as_deref()
    }

    /// Where the setup command's output goes: `.kittify/logs/<feature>/<WP>-setup.log`.
    pub fn setup_log_path(&self, wp: &WpId) -> PathBuf {
        setup::setup_log_path(&self.repo_root, &self.feature, wp)
    }

    /// What auto-commit and backups leave out.
    pub fn withhold(&self) -> &Withhold {
        &self.withhold
    }

    fn marker(&self, wp: &WpId) -> PathBuf {
        self.common_dir.join("kitty").join("creating").join(self.name(wp))
    }

    /// Declares the WP's worktree ready once its setup command succeeded (removes the creation
    /// marker, so the next `ensure` reuses it).
    pub fn mark_ready(&self, wp: &WpId) -> Result<(), WorktreeError> {
        let marker = self.marker(wp);
        match std::fs::remove_file(&marker) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(WorktreeError::Io { path: marker, source: e }),
        }
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
        let marker = self.marker(&wp.id);
        if marker.exists() {
            tracing::warn!(worktree = %name, "discarding a worktree whose creation or setup was interrupted");
            if path.exists() {
                // Someone may have worked in it since (a failed setup leaves it in place): save
                // whatever is there before it goes.
                self.save_before_discarding(
                    &repo,
                    &wp.id,
                    &path,
                    "discarding a worktree whose creation or setup was interrupted",
                )?;
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
                    setup_pending: false,
                    included: Vec::new(),
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
        let included = setup::copy_worktree_includes(&repo, &self.repo_root, &path, &self.worktree_dir)?;
        // Until setup has run the worktree is not ready: the marker stays, so an interruption or a
        // setup failure makes the next attempt start over (after saving what is there).
        let setup_pending = self.setup_command.is_some();
        if !setup_pending {
            std::fs::remove_file(&marker).map_err(WorktreeError::io(&marker))?;
        }
        Ok(Prepared {
            path,
            branch: name,
            base: base.to_string(),
            base_source: source,
            created: true,
            reused_branch,
            setup_pending,
            included,
        })
    }

    /// Saves what a worktree about to be discarded holds: uncommitted work into a backup ref (by
    /// git status when it is a working worktree, else every file of the directory), and withheld
    /// files (secrets, which must not go into a ref) moved under `.git/kitty/withheld/`.
    fn save_before_discarding(
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
                    let parent = base::branch_tip(repo, &self.name(wp));
                    Some(self.write_backup(repo, wp, reason, tree, parent.as_ref(), kept)?)
                }
            };
            if let Some(b) = &backup {
                tracing::warn!(reference = %b.reference, files = b.files.len(), "saved the work of a worktree before {reason}");
            }
        }
        if !withheld.is_empty() {
            let stamp = jiff::Timestamp::now().as_millisecond();
            let aside = self.common_dir.join("kitty").join("withheld").join(self.name(wp)).join(stamp.to_string());
            for rel in &withheld {
                let (from, to) = (path.join(rel), aside.join(rel));
                if let Some(parent) = to.parent() {
                    std::fs::create_dir_all(parent).map_err(WorktreeError::io(parent))?;
                }
                std::fs::rename(&from, &to).map_err(WorktreeError::io(&from))?;
            }
            tracing::warn!(dir = %aside.display(), files = withheld.len(), "moved withheld files of a discarded worktree aside");
        }
        Ok(backup)
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
                "{}: {}\n\nChanges left uncommitted by {agent} (attempt {attempt}), committed by kitty-orchestrator.\n\nKitty-WP: {}\nKitty-Agent: {}\nKitty-Attempt: {attempt}\n",
                wp.id,
                crate::state::trailer_value(&wp.title),
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

    fn write_backup(
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
                saved = self.save_before_discarding(&repo, wp, &path, "removing the worktree")?;
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
