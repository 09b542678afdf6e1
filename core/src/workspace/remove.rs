//! `workspaces remove NAME`: refused while the workspace holds work that exists nowhere else
//! (uncommitted files in any of its worktrees, branches not on a remote) unless forced; a backup
//! bundle of every ref — with the uncommitted files committed onto backup refs first — is always
//! written beside the workspaces before anything is deleted.

use std::path::{Path, PathBuf};
use std::time::Duration;

use git2::Repository;
use tokio_util::sync::CancellationToken;

use super::error::WorkspaceError;

/// What `workspaces remove` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Removed {
    /// The workspace removed.
    pub path: PathBuf,
    /// The backup bundle (`git clone <bundle>` or `git fetch <bundle> 'refs/*:refs/*'` gets every
    /// ref back, uncommitted files under `refs/kitty/workspace-backup/`); `None` for a repository
    /// without commits.
    pub backup: Option<PathBuf>,
    /// What was unsaved and is only in the backup now (empty unless forced).
    pub unsaved: Vec<String>,
    /// Linked worktrees outside the workspace that were removed with it.
    pub worktrees_removed: Vec<PathBuf>,
}

/// Removes the workspace `name` of `dir`; see the module docs.
pub async fn remove_workspace(
    dir: &Path,
    name: &str,
    force: bool,
    cancel: &CancellationToken,
) -> Result<Removed, WorkspaceError> {
    let dir = &std::path::absolute(dir).map_err(WorkspaceError::io(dir))?;
    let path = dir.join(name);
    if name.is_empty() || name.contains('/') || name.starts_with('.') || !path.join(".git").exists() {
        return Err(WorkspaceError::NotFound { dir: dir.to_path_buf(), name: name.to_string() });
    }
    let store = crate::state::StateStore::open(&path).map_err(|e| WorkspaceError::Git {
        path: path.clone(),
        context: "opening the workspace".into(),
        why: e.to_string(),
    })?;
    if let Some(feature) = store.features().unwrap_or_default().into_iter().find(|f| store.run_is_locked(f)) {
        return Err(WorkspaceError::RunGoing { path, feature: feature.to_string() });
    }
    let repo = Repository::open(&path).map_err(WorkspaceError::git(&path, "opening the workspace"))?;
    let worktrees = worktrees_of(&repo, &path)?;
    let mut unsaved = Vec::new();
    let mut snapshots = Vec::new();
    for (label, dir) in &worktrees {
        let Ok(wt) = Repository::open(dir) else { continue };
        let dirty = crate::worktree::dirty_paths(&wt).map_err(|e| git_err(&path, e))?;
        if !dirty.is_empty() {
            unsaved.push(format!("{} has {} uncommitted file(s) ({})", dir.display(), dirty.len(), preview(&dirty)));
            snapshots.push((label.clone(), dir.clone(), dirty));
        }
    }
    unsaved.extend(unpushed_branches(&repo)?);
    if !unsaved.is_empty() && !force {
        return Err(WorkspaceError::Unsaved { path, unsaved });
    }
    for (label, dir, dirty) in &snapshots {
        snapshot(&path, label, dir, dirty)?;
    }
    drop(repo);
    let backup = bundle(dir, name, &path, cancel).await?;
    let mut worktrees_removed = Vec::new();
    for (_, wt) in worktrees.iter().skip(1) {
        if !wt.starts_with(&path) && wt.exists() {
            std::fs::remove_dir_all(wt).map_err(WorkspaceError::io(wt))?;
            worktrees_removed.push(wt.clone());
        }
    }
    std::fs::remove_dir_all(&path).map_err(WorkspaceError::io(&path))?;
    tracing::info!(workspace = %path.display(), backup = ?backup, "workspace removed");
    Ok(Removed { path, backup, unsaved: if force { unsaved } else { Vec::new() }, worktrees_removed })
}

/// The main checkout and every linked worktree, each with a name for its backup ref.
fn worktrees_of(repo: &Repository, path: &Path) -> Result<Vec<(String, PathBuf)>, WorkspaceError> {
    let mut all = vec![("main".to_string(), path.to_path_buf())];
    let names = repo.worktrees().map_err(WorkspaceError::git(path, "listing worktrees"))?;
    for name in names.iter().flatten().flatten() {
        if let Ok(wt) = repo.find_worktree(name) {
            all.push((name.to_string(), wt.path().to_path_buf()));
        }
    }
    Ok(all)
}

/// Local branches whose tips no remote-tracking ref contains.
fn unpushed_branches(repo: &Repository) -> Result<Vec<String>, WorkspaceError> {
    let path = repo.workdir().unwrap_or(repo.path()).to_path_buf();
    let remotes: Vec<git2::Oid> = repo
        .references_glob("refs/remotes/*")
        .map_err(WorkspaceError::git(&path, "listing remote branches"))?
        .flatten()
        .filter_map(|r| r.target())
        .collect();
    let mut unpushed = Vec::new();
    let branches =
        repo.branches(Some(git2::BranchType::Local)).map_err(WorkspaceError::git(&path, "listing branches"))?;
    for (branch, _) in branches.flatten() {
        let (Some(name), Some(tip)) = (branch.name().ok().flatten(), branch.get().target()) else { continue };
        let on_remote = remotes.iter().any(|&r| r == tip || repo.graph_descendant_of(r, tip).unwrap_or(false));
        if !on_remote {
            unpushed.push(format!("branch {name} is on no remote"));
        }
    }
    Ok(unpushed)
}

/// Commits a worktree's uncommitted files (a private index; the worktree is not touched) onto
/// `refs/kitty/workspace-backup/<label>`.
fn snapshot(path: &Path, label: &str, dir: &Path, dirty: &[String]) -> Result<(), WorkspaceError> {
    let wt = Repository::open(dir).map_err(WorkspaceError::git(dir, "opening the worktree"))?;
    let tree = crate::worktree::snapshot_tree(&wt, dirty).map_err(|e| git_err(path, e))?;
    let tree = wt.find_tree(tree).map_err(WorkspaceError::git(dir, "reading the snapshot"))?;
    let parent = wt.head().ok().and_then(|h| h.peel_to_commit().ok());
    let sig = crate::state::StateStore::committer(&wt);
    let message = format!("kitty-orchestrator: uncommitted files of {} before `workspaces remove`", dir.display());
    let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
    let commit = wt
        .commit(None, &sig, &sig, &message, &tree, &parents)
        .map_err(WorkspaceError::git(dir, "committing the snapshot"))?;
    let safe: String =
        label.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '-' }).collect();
    wt.reference(&format!("refs/kitty/workspace-backup/{safe}"), commit, true, "backup before workspaces remove")
        .map_err(WorkspaceError::git(dir, "writing the backup ref"))?;
    Ok(())
}

/// `git bundle create <dir>/.kitty-backups/<name>-<time>.bundle --all`; `None` when the
/// repository has no refs to bundle.
async fn bundle(
    dir: &Path,
    name: &str,
    path: &Path,
    cancel: &CancellationToken,
) -> Result<Option<PathBuf>, WorkspaceError> {
    let repo = Repository::open(path).map_err(WorkspaceError::git(path, "opening the workspace"))?;
    let has_refs = repo.references().map(|mut r| r.next().is_some()).unwrap_or(false);
    drop(repo);
    if !has_refs {
        return Ok(None);
    }
    let backups = dir.join(".kitty-backups");
    std::fs::create_dir_all(&backups).map_err(WorkspaceError::io(&backups))?;
    let stamp = jiff::Timestamp::now().strftime("%Y%m%dT%H%M%SZ");
    let file = backups.join(format!("{name}-{stamp}.bundle"));
    let args: Vec<String> =
        ["-C", &path.display().to_string(), "bundle", "create", "--quiet", &file.display().to_string(), "--all"]
            .map(String::from)
            .to_vec();
    let redactor = crate::redact::Redactor::from_env(&[]);
    let out = crate::remote::run_program(
        Path::new("git"),
        &args,
        None,
        &[],
        "git bundle create".into(),
        Duration::from_secs(3600),
        cancel,
        &redactor,
    )
    .await
    .map_err(|e| WorkspaceError::Git {
        path: path.to_path_buf(),
        context: "writing the backup bundle".into(),
        why: e.to_string(),
    })?;
    if !out.success() {
        let _ = std::fs::remove_file(&file);
        return Err(WorkspaceError::Git {
            path: path.to_path_buf(),
            context: "writing the backup bundle (nothing was removed)".into(),
            why: out.why(),
        });
    }
    Ok(Some(file))
}

fn preview(paths: &[String]) -> String {
    let shown: Vec<&str> = paths.iter().take(3).map(String::as_str).collect();
    let more = paths.len().saturating_sub(3);
    if more > 0 { format!("{}, and {more} more", shown.join(", ")) } else { shown.join(", ") }
}

fn git_err(path: &Path, err: crate::worktree::WorktreeError) -> WorkspaceError {
    WorkspaceError::Git { path: path.to_path_buf(), context: "reading the worktrees".into(), why: err.to_string() }
}
