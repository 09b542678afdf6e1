//! Moving the target branch to the integration commit: by compare-and-swap against the tip read
//! when the merge began, under git's own ref lock, and — when the branch is checked out in a
//! worktree — bringing that worktree along safely (or refusing, changing nothing).

use std::path::{Path, PathBuf};

use git2::{Oid, Repository, Status, StatusOptions};

use super::error::LandError;
use super::integrate::changed_paths;
use super::journal::{Journal, settle_paths};

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
/// the worktrees that have it checked out along; refuses when it moved since the merge began.
/// git's lock on the ref is held only for the compare-and-swap itself, never across the
/// checkout: a record of the landing is written first, so one interrupted at any instant is
/// finished or undone by the next start ([`super::recover`]). A checkout that fails, or a ref
/// that moved meanwhile, puts the files it wrote back.
pub fn advance(
    repo: &Repository,
    reference: &str,
    expected: Option<Oid>,
    new: Oid,
    message: &str,
) -> Result<Vec<PathBuf>, LandError> {
    let show = |o: Option<Oid>| o.map_or_else(|| "none".to_string(), |o| o.to_string());
    let moved = |found: Option<Oid>| LandError::TargetMoved {
        reference: reference.to_string(),
        expected: show(expected),
        found: show(found),
    };
    let found = repo.refname_to_id(reference).ok();
    if found != expected {
        return Err(moved(found));
    }
    let from = expected.unwrap_or(new);
    let dirs = if expected.is_some() { check_worktrees(repo, reference, from, new)? } else { Vec::new() };
    let journal = Journal::begin(repo, reference, expected, new, &dirs)?;
    let undo = |upto: usize| {
        for dir in &dirs[..upto] {
            if let Err(err) = settle_paths(repo, dir, from, new, from) {
                tracing::error!(dir = %dir.display(), %err, "a refused landing's files could not be put back");
            }
        }
    };
    for (i, dir) in dirs.iter().enumerate() {
        let checked_out = Repository::open(dir).and_then(|wt| {
            let commit = wt.find_object(new, None)?;
            // Safe checkout: writes only what differs between the old tip and the new one, and
            // refuses (before writing anything) if a file it would write was changed.
            let mut checkout = git2::build::CheckoutBuilder::new();
            checkout.safe();
            wt.checkout_tree(&commit, Some(&mut checkout))
        });
        if let Err(err) = checked_out {
            undo(i + 1);
            journal.finish();
            return Err(LandError::Git { context: format!("bringing {} to {new}", dir.display()), source: err });
        }
    }
    let swapped = match expected {
        Some(expected) => repo.reference_matching(reference, new, true, expected, message).map(drop),
        None => repo.reference(reference, new, false, message).map(drop),
    };
    if let Err(err) = swapped {
        undo(dirs.len());
        journal.finish();
        return Err(match err.code() {
            git2::ErrorCode::Modified | git2::ErrorCode::Exists => moved(repo.refname_to_id(reference).ok()),
            _ => LandError::Git { context: format!("updating {reference}"), source: err },
        });
    }
    journal.finish();
    Ok(dirs)
}
