//! Preparing a new worktree beyond checkout: files listed in `.worktreeinclude` (gitignore
//! syntax; the cross-tool convention for untracked files such as `.env` that a worktree needs)
//! are copied from the main worktree. The optional `setup_command` is run by the engine, through
//! the executor (process group, timeouts, redaction, abort), outside the creation lock.
//!
//! Only files that are both matched *and* ignored by git in the main worktree are copied: a
//! matched file git would see is either already in the checkout or would be committed by the
//! first auto-commit. Symbolic links are copied as links and never followed, so a link to `..`
//! cannot copy the repository (with its `.git`) into itself.

use std::path::{Path, PathBuf};

use git2::Repository;
use ignore::gitignore::Gitignore;

use super::error::WorktreeError;
use super::withhold::worktree_include;
use crate::ids::{FeatureSlug, WpId};

/// Copies the files matched by `<root>/.worktreeinclude` and ignored by git into `dest`.
/// Returns the paths copied (relative).
pub fn copy_worktree_includes(
    repo: &Repository,
    root: &Path,
    dest: &Path,
    worktree_dir: &Path,
) -> Result<Vec<PathBuf>, WorktreeError> {
    let Some(matcher) = worktree_include(root)? else { return Ok(Vec::new()) };
    let mut copied = Vec::new();
    copy_matching(&Walk { repo, root, dest, worktree_dir, matcher: &matcher }, root, &mut copied)?;
    Ok(copied)
}

struct Walk<'a> {
    repo: &'a Repository,
    root: &'a Path,
    dest: &'a Path,
    worktree_dir: &'a Path,
    matcher: &'a Gitignore,
}

fn copy_matching(walk: &Walk<'_>, dir: &Path, copied: &mut Vec<PathBuf>) -> Result<(), WorktreeError> {
    let entries = std::fs::read_dir(dir).map_err(WorktreeError::io(dir))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.file_name().is_some_and(|n| n == ".git") || path.starts_with(walk.worktree_dir) {
            continue;
        }
        // The entry itself, never what a link points at.
        let Ok(kind) = entry.file_type() else { continue };
        let is_dir = kind.is_dir();
        let rel = path.strip_prefix(walk.root).unwrap_or(&path);
        if walk.matcher.matched(rel, is_dir).is_ignore() {
            if walk.repo.is_path_ignored(rel).unwrap_or(false) {
                copy_path(&path, &walk.dest.join(rel), rel, copied)?;
            } else {
                tracing::warn!(path = %rel.display(), "not copying a .worktreeinclude match that git does not ignore");
            }
        } else if is_dir {
            copy_matching(walk, &path, copied)?;
        }
    }
    Ok(())
}

fn copy_path(from: &Path, to: &Path, rel: &Path, copied: &mut Vec<PathBuf>) -> Result<(), WorktreeError> {
    let meta = std::fs::symlink_metadata(from).map_err(WorktreeError::io(from))?;
    if std::fs::symlink_metadata(to).is_ok() {
        return Ok(()); // never overwrite what the checkout put there
    }
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).map_err(WorktreeError::io(parent))?;
    }
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(from).map_err(WorktreeError::io(from))?;
        std::os::unix::fs::symlink(&target, to).map_err(WorktreeError::io(to))?;
        copied.push(rel.to_path_buf());
    } else if meta.is_dir() {
        std::fs::create_dir_all(to).map_err(WorktreeError::io(to))?;
        for entry in std::fs::read_dir(from).map_err(WorktreeError::io(from))?.flatten() {
            copy_path(&entry.path(), &to.join(entry.file_name()), &rel.join(entry.file_name()), copied)?;
        }
    } else if meta.is_file() {
        std::fs::copy(from, to).map_err(WorktreeError::io(to))?;
        copied.push(rel.to_path_buf());
    }
    Ok(())
}

/// `.kittify/logs/<feature>/<WP>-setup.log`.
pub fn setup_log_path(root: &Path, feature: &FeatureSlug, wp: &WpId) -> PathBuf {
    root.join(".kittify/logs").join(feature.as_str()).join(format!("{wp}-setup.log"))
}
