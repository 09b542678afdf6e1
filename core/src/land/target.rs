//! Moving the target branch to the integration commit: by compare-and-swap against the tip read
//! when the merge began, under git's own ref lock, and — when the branch is checked out in a
//! worktree — bringing that worktree along safely (or refusing, changing nothing).

use std::path::{Path, PathBuf};

use git2::{Oid, Repository, Signature, Status, StatusOptions};

use super::error::LandError;
use super::integrate::changed_paths;

/// The worktrees (main and linked) that have `reference` checked out.
pub fn checked_out_in(repo: &Repository, reference: &str) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    let main = repo.commondir().parent().map(Path::to_path_buf);
    let mut linked: Vec<PathBuf> = Vec::new();
    if let Ok(names) = repo.worktrees() {
        for name in names.iter().flatten().flatten() {
            if let Ok(wt) = repo.find_worktree(name) {
                linked.push(wt.path().to_path_buf());
            }
        }
    }
    for dir in main.into_iter().chain(linked) {
        let Ok(wt) = Repository::open(&dir) else { continue };
        if wt.is_bare() {
            continue;
        }
        let head = wt.find_reference("HEAD").ok().and_then(|h| h.symbolic_target().ok().flatten().map(str::to_string));
        if head.as_deref() == Some(reference) {
            dirs.push(dir);
        }
    }
    dirs
}

/// Paths among `touched` that have uncommitted changes (staged, unstaged or untracked) in the
/// worktree at `dir`.
fn dirty_among(dir: &Path, touched: &std::collections::BTreeSet<String>) -> Result<Vec<String>, LandError> {
    let wt = Repository::open(dir).map_err(LandError::git(format!("opening {}", dir.display())))?;
    let mut opts = StatusOptions::new();
    opts.include_untracked(true).recurse_untracked_dirs(true).include_ignored(false);
    let statuses =
        wt.statuses(Some(&mut opts)).map_err(LandError::git(format!("reading the status of {}", dir.display())))?;
    let mut dirty = Vec::new();
    for entry in statuses.iter() {
        if entry.status() == Status::CURRENT || entry.status().contains(Status::IGNORED) {
            continue;
        }
        let Ok(path) = entry.path() else { continue };
        // A directory the merge adds files under counts when an untracked file sits there.
        if touched.contains(path) || touched.iter().any(|t| t.starts_with(&format!("{path}/"))) {
            dirty.push(path.to_string());
        }
    }
    Ok(dirty)
}

/// Checks that the worktrees with the target checked out can take the new commit: none has
/// uncommitted changes in a path the merge changes.
pub fn check_worktrees(repo: &Repository, reference: &str, from: Oid, to: Oid) -> Result<Vec<PathBuf>, LandError> {
    let dirs = checked_out_in(repo, reference);
    if dirs.is_empty() {
        return Ok(dirs);
    }
    let touched = changed_paths(repo, from, to)?;
    for dir in &dirs {
        let dirty = dirty_among(dir, &touched)?;
        if !dirty.is_empty() {
            return Err(LandError::TargetDirty { worktree: dir.clone(), paths: dirty });
        }
    }
    Ok(dirs)
}

/// Moves `reference` from `expected` to `new` (creating it when `expected` is `None`), bringing
/// the worktrees that have it checked out along. Holds git's lock on the ref throughout, so no
/// other writer moves it between the check and the update; refuses when it moved since the
/// merge began.
pub fn advance(
    repo: &Repository,
    reference: &str,
    expected: Option<Oid>,
    new: Oid,
    signature: &Signature<'_>,
    message: &str,
) -> Result<Vec<PathBuf>, LandError> {
    let mut tx = repo.transaction().map_err(LandError::git(format!("locking {reference}")))?;
    tx.lock_ref(reference)
        .map_err(LandError::git(format!("locking {reference} (is another git command updating it?)")))?;
    let found = repo.refname_to_id(reference).ok();
    if found != expected {
        let show = |o: Option<Oid>| o.map_or_else(|| "none".to_string(), |o| o.to_string());
        return Err(LandError::TargetMoved {
            reference: reference.to_string(),
            expected: show(expected),
            found: show(found),
        });
    }
    let from = expected.unwrap_or(new);
    let dirs = if expected.is_some() { check_worktrees(repo, reference, from, new)? } else { Vec::new() };
    for dir in &dirs {
        let wt = Repository::open(dir).map_err(LandError::git(format!("opening {}", dir.display())))?;
        let commit = wt.find_object(new, None).map_err(LandError::git(format!("reading {new}")))?;
        // Safe checkout: writes only what differs between the old tip and the new one, and
        // refuses (before writing anything) if a file it would write was changed.
        let mut checkout = git2::build::CheckoutBuilder::new();
        checkout.safe();
        wt.checkout_tree(&commit, Some(&mut checkout))
            .map_err(LandError::git(format!("bringing {} to {new}", dir.display())))?;
    }
    tx.set_target(reference, new, Some(signature), message).map_err(LandError::git(format!("updating {reference}")))?;
    tx.commit().map_err(LandError::git(format!("updating {reference}")))?;
    Ok(dirs)
}
