//! The worktree manager of one feature: where its worktrees go, the target branch, the
//! repository-wide creation lock, and small inspections (dirty paths, stale git locks).

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

use git2::{Repository, Signature};

use super::changes;
use super::error::WorktreeError;
use super::setup;
use super::withhold::Withhold;
use crate::config::Config;
use crate::feature::Feature;
use crate::ids::{FeatureSlug, WpId};

pub(super) fn same_path(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// Creates, inspects and removes the worktrees of one feature's WPs.
#[derive(Debug, Clone)]
pub struct WorktreeManager {
    pub(super) repo_root: PathBuf,
    pub(super) common_dir: PathBuf,
    pub(super) worktree_dir: PathBuf,
    pub(super) feature: FeatureSlug,
    pub(super) target_branch: String,
    pub(super) setup_command: Option<Vec<String>>,
    pub(super) withhold: Withhold,
    pub(super) branch_template: crate::template::BranchTemplate,
    pub(super) commit_template: Option<crate::template::CommitTemplate>,
    pub(super) titles: std::collections::HashMap<WpId, String>,
    /// A spec-kitty mission: worktrees, branches and bases are its execution lanes'.
    pub(super) mission: Option<std::sync::Arc<crate::spec_kitty::Mission>>,
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
        let mission = crate::spec_kitty::Mission::detect(feature, &main_root)?.map(std::sync::Arc::new);
        // spec-kitty lands a mission on its lanes.json target; that is the target here too,
        // unless the configuration names another.
        let target_branch = match (&mission, &config.target_branch) {
            (Some(m), None) => m.target_branch.clone(),
            _ => target_branch,
        };
        Ok(WorktreeManager {
            repo_root: main_root,
            common_dir,
            worktree_dir,
            feature: feature.slug.clone(),
            target_branch,
            setup_command: config.setup_command.clone(),
            withhold,
            branch_template: config.branch_template.clone(),
            commit_template: config.commit_template.clone(),
            titles: feature.work_packages.iter().map(|wp| (wp.id.clone(), wp.title.clone())).collect(),
            mission,
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

    pub(super) fn marker(&self, wp: &WpId) -> PathBuf {
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

    /// `<feature>-<WP>`: the worktree's directory (and git worktree) name; in a spec-kitty
    /// mission, its lane's `<slug>-lane-<x>`.
    pub fn name(&self, wp: &WpId) -> String {
        match self.mission_lane(wp) {
            Some((mission, lane)) => mission.lane_worktree_name(lane),
            None => format!("{}-{wp}", self.feature),
        }
    }

    /// The spec-kitty mission these worktrees belong to, if any.
    pub fn mission(&self) -> Option<&crate::spec_kitty::Mission> {
        self.mission.as_deref()
    }

    pub(super) fn mission_lane(
        &self,
        wp: &WpId,
    ) -> Option<(&crate::spec_kitty::Mission, &crate::spec_kitty::ExecutionLane)> {
        let mission = self.mission.as_deref()?;
        Some((mission, mission.lane_of(wp.as_str())?))
    }

    /// The subject of a commit we write for `wp` (`commit_template`, else `<WP>: <title>`).
    pub fn commit_subject(&self, wp: &WpId, description: &str) -> String {
        let title = self.titles.get(wp).map_or("", String::as_str);
        match &self.commit_template {
            Some(t) => t.render(&crate::template::Fields {
                feature: self.feature.as_str(),
                wp: wp.as_str(),
                title,
                description,
            }),
            None => format!("{wp}: {description}"),
        }
    }

    /// The WP's branch, from `branch_template` (default `<feature>-<WP>`, the same as
    /// [`WorktreeManager::name`]).
    pub fn branch(&self, wp: &WpId) -> String {
        if let Some((mission, lane)) = self.mission_lane(wp) {
            return mission.lane_branch(lane);
        }
        let title = self.titles.get(wp).map_or("", String::as_str);
        let fields =
            crate::template::Fields { feature: self.feature.as_str(), wp: wp.as_str(), title, description: title };
        self.branch_template.render(&fields)
    }

    /// Where the WP's worktree lives.
    pub fn path_for(&self, wp: &WpId) -> PathBuf {
        match self.mission_lane(wp) {
            // spec-kitty finds lane worktrees only at its canonical paths.
            Some((mission, lane)) => mission.lane_worktree(lane),
            None => self.worktree_dir.join(self.name(wp)),
        }
    }

    pub(super) fn repo(&self) -> Result<Repository, WorktreeError> {
        Repository::open(&self.repo_root).map_err(WorktreeError::git(format!("opening {}", self.repo_root.display())))
    }

    pub(super) fn signature(repo: &Repository) -> Signature<'static> {
        crate::state::StateStore::committer(repo)
    }

    /// Holds the per-repository creation lock (an advisory file lock: serializes threads and
    /// processes alike).
    pub(super) fn creation_lock(&self) -> Result<std::fs::File, WorktreeError> {
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

    pub(super) fn open_worktree(&self, wp: &WpId) -> Result<Repository, WorktreeError> {
        let path = self.path_for(wp);
        Repository::open(&path).map_err(WorktreeError::git(format!("opening worktree {}", path.display())))
    }

    /// The private git store an implementation attempt in the WP's worktree works against.
    pub fn quarantine(&self, wp: &WpId) -> super::Quarantine {
        super::Quarantine::new(&self.common_dir, &self.name(wp), &self.path_for(wp), &self.branch(wp))
    }

    /// Concludes what an attempt in the WP's worktree left open when its orchestrator died (its
    /// objects and commits taken in as after any attempt). Only call this while owning the WP
    /// with no agent running in it.
    pub fn settle_quarantine(&self, wp: &WpId) -> Result<Option<super::Concluded>, WorktreeError> {
        let store = self.quarantine(wp);
        if !store.pending() {
            return Ok(None);
        }
        let done = store.conclude(&self.repo()?, true)?;
        tracing::warn!(wp = %wp, objects = done.objects, adopted = done.adopted, "concluded the private git store of an attempt whose orchestrator died");
        Ok(Some(done))
    }

    /// Uncommitted paths in the WP's worktree.
    pub fn dirty_paths(&self, wp: &WpId) -> Result<Vec<String>, WorktreeError> {
        changes::dirty_paths(&self.open_worktree(wp)?)
    }

    /// Removes the git lock files a killed process left for the WP: its worktree's index and
    /// HEAD locks and its branch's ref lock. Only call this while owning the WP with no agent
    /// running in it (nothing else writes there then).
    pub fn clear_stale_locks(&self, wp: &WpId) {
        let admin = self.common_dir.join("worktrees").join(self.name(wp));
        let branch_lock = self.common_dir.join("refs").join("heads").join(format!("{}.lock", self.branch(wp)));
        for path in [admin.join("index.lock"), admin.join("HEAD.lock"), branch_lock] {
            if path.exists() && std::fs::remove_file(&path).is_ok() {
                tracing::warn!(path = %path.display(), "removed a lock file left by a killed process");
            }
        }
    }

    /// Keeps WP worktrees and agent logs out of the main worktree's `git status`, through
    /// `.git/info/exclude` (the user's `.gitignore` is not touched).
    pub(super) fn exclude_from_main_status(&self) {
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
}
