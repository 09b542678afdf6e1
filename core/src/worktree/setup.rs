//! Preparing a new worktree beyond checkout: files listed in `.worktreeinclude` (gitignore
//! syntax; the cross-tool convention for untracked files such as `.env` that a worktree needs)
//! are copied from the main worktree. The optional `setup_command` is run by the engine, through
//! the executor (process group, timeouts, redaction, abort), outside the creation lock.
//!
//! Only files that are both matched *and* ignored by git in the main worktree are copied: a
//! matched file git would see is either already in the checkout or would be committed by the
//! first auto-commit. Symbolic links are copied as links and never followed, so a link to `..`
//! cannot copy the repository (with its `.git`) into itself. Every write into the new worktree
//! goes through [`crate::beneath`]: a directory of the checkout that is a link (an earlier WP
//! committed `conf -> /somewhere`) is never written through — `conf/.env` is not copied *out*.

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
                copy_path(&path, walk.dest, rel, copied)?;
            } else {
                tracing::warn!(path = %rel.display(), "not copying a .worktreeinclude match that git does not ignore");
            }
        } else if is_dir {
            copy_matching(walk, &path, copied)?;
        }
    }
    Ok(())
}

/// Copies `from` (in the main worktree) to `rel` beneath the worktree `dest`.
fn copy_path(from: &Path, dest: &Path, rel: &Path, copied: &mut Vec<PathBuf>) -> Result<(), WorktreeError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::symlink_metadata(from).map_err(WorktreeError::io(from))?;
    let to = dest.join(rel);
    if std::fs::symlink_metadata(&to).is_ok() && !meta.is_dir() {
        return Ok(()); // never overwrite what the checkout put there
    }
    let refused = |err: std::io::Error| {
        tracing::warn!(path = %rel.display(), %err, "a .worktreeinclude match was not copied");
        WorktreeError::io(to.clone())(err)
    };
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(from).map_err(WorktreeError::io(from))?;
        crate::beneath::symlink_new(dest, rel, &target).map_err(refused)?;
        copied.push(rel.to_path_buf());
    } else if meta.is_dir() {
        crate::beneath::create_dirs(dest, rel).map_err(refused)?;
        for entry in std::fs::read_dir(from).map_err(WorktreeError::io(from))?.flatten() {
            copy_path(&entry.path(), dest, &rel.join(entry.file_name()), copied)?;
        }
    } else if meta.is_file() {
        let mut source = std::fs::File::open(from).map_err(WorktreeError::io(from))?;
        let mut file = crate::beneath::create_file(dest, rel, meta.permissions().mode() & 0o7777).map_err(refused)?;
        std::io::copy(&mut source, &mut file).map_err(WorktreeError::io(to.clone()))?;
        copied.push(rel.to_path_buf());
    }
    Ok(())
}

/// `.kittify/logs/<feature>/<WP>-setup.log`.
pub fn setup_log_path(root: &Path, feature: &FeatureSlug, wp: &WpId) -> PathBuf {
    root.join(".kittify/logs").join(feature.as_str()).join(format!("{wp}-setup.log"))
}
