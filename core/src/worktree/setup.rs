//! Preparing a new worktree beyond checkout: files listed in `.worktreeinclude` (gitignore
//! syntax; the cross-tool convention for untracked files such as `.env` that a worktree needs)
//! are copied from the main worktree, then the optional `setup_command` runs (argv, no shell).

use std::path::Path;
use std::process::{Command, Stdio};

use ignore::gitignore::{Gitignore, GitignoreBuilder};

use super::error::WorktreeError;
use crate::ids::{FeatureSlug, WpId};

/// Copies the files matched by `<root>/.worktreeinclude` into `dest`.
pub fn copy_worktree_includes(root: &Path, dest: &Path, worktree_dir: &Path) -> Result<(), WorktreeError> {
    let list = root.join(".worktreeinclude");
    if !list.exists() {
        return Ok(());
    }
    let mut builder = GitignoreBuilder::new(root);
    if let Some(err) = builder.add(&list) {
        return Err(WorktreeError::Io { path: list, source: std::io::Error::other(err.to_string()) });
    }
    let matcher = builder
        .build()
        .map_err(|e| WorktreeError::Io { path: list.clone(), source: std::io::Error::other(e.to_string()) })?;
    copy_matching(root, root, dest, worktree_dir, &matcher)
}

fn copy_matching(
    root: &Path,
    dir: &Path,
    dest: &Path,
    worktree_dir: &Path,
    matcher: &Gitignore,
) -> Result<(), WorktreeError> {
    let entries = std::fs::read_dir(dir).map_err(WorktreeError::io(dir))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.file_name().is_some_and(|n| n == ".git") || path.starts_with(worktree_dir) {
            continue;
        }
        let is_dir = path.is_dir();
        let rel = path.strip_prefix(root).unwrap_or(&path);
        if matcher.matched(rel, is_dir).is_ignore() {
            copy_path(&path, &dest.join(rel))?;
        } else if is_dir && !path.is_symlink() {
            copy_matching(root, &path, dest, worktree_dir, matcher)?;
        }
    }
    Ok(())
}

fn copy_path(from: &Path, to: &Path) -> Result<(), WorktreeError> {
    if to.exists() {
        return Ok(()); // never overwrite what the checkout put there
    }
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).map_err(WorktreeError::io(parent))?;
    }
    if from.is_dir() {
        std::fs::create_dir_all(to).map_err(WorktreeError::io(to))?;
        for entry in std::fs::read_dir(from).map_err(WorktreeError::io(from))?.flatten() {
            copy_path(&entry.path(), &to.join(entry.file_name()))?;
        }
        Ok(())
    } else {
        std::fs::copy(from, to).map(|_| ()).map_err(WorktreeError::io(to))
    }
}

/// Runs the configured setup command in `cwd`, its output in
/// `.kittify/logs/<feature>/<WP>-setup.log`.
pub fn run_setup_command(
    command: Option<&[String]>,
    cwd: &Path,
    root: &Path,
    feature: &FeatureSlug,
    wp: &WpId,
) -> Result<(), WorktreeError> {
    let Some(argv) = command else { return Ok(()) };
    let log = root.join(".kittify/logs").join(feature.as_str()).join(format!("{wp}-setup.log"));
    if let Some(dir) = log.parent() {
        std::fs::create_dir_all(dir).map_err(WorktreeError::io(dir))?;
    }
    let out = std::fs::File::create(&log).map_err(WorktreeError::io(&log))?;
    let err = out.try_clone().map_err(WorktreeError::io(&log))?;
    let status = Command::new(&argv[0])
        .args(&argv[1..])
        .current_dir(cwd)
        .env("KITTY_FEATURE", feature.as_str())
        .env("KITTY_WP", wp.as_str())
        .env("KITTY_WORKTREE", cwd)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .status();
    let command = argv.join(" ");
    match status {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(WorktreeError::SetupFailed { command, status: s.to_string(), path: cwd.to_path_buf(), log }),
        Err(e) => Err(WorktreeError::SetupFailed {
            command,
            status: format!("could not start: {e}"),
            path: cwd.to_path_buf(),
            log,
        }),
    }
}
