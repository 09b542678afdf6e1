//! What an agent left in a worktree: uncommitted changes (tracked and untracked, .gitignore
//! respected), a snapshot of them that does not touch the user's index, the auto-commit, and the
//! commits made since the base.

use std::path::Path;

use git2::{Index, IndexEntry, IndexTime, Oid, Repository, Signature, Status, StatusOptions};

use super::error::WorktreeError;

/// Paths with uncommitted changes (modified, added, deleted, renamed, untracked), sorted.
pub fn dirty_paths(repo: &Repository) -> Result<Vec<String>, WorktreeError> {
    let mut opts = StatusOptions::new();
    opts.include_untracked(true).recurse_untracked_dirs(true).include_ignored(false).exclude_submodules(true);
    let statuses = repo.statuses(Some(&mut opts)).map_err(WorktreeError::git("reading the worktree status"))?;
    let mut paths: Vec<String> = statuses
        .iter()
        .filter(|s| s.status() != Status::CURRENT && !s.status().contains(Status::IGNORED))
        .filter_map(|s| s.path().ok().map(str::to_string))
        .collect();
    paths.sort();
    Ok(paths)
}

/// A tree of HEAD plus every uncommitted change in the working directory, built in a private
/// in-memory index (the worktree's own index is never written).
pub fn snapshot_tree(repo: &Repository, paths: &[String]) -> Result<Oid, WorktreeError> {
    let git = |what: &str| WorktreeError::git(format!("snapshotting the worktree ({what})"));
    let workdir = repo.workdir().ok_or_else(|| WorktreeError::Git {
        context: "snapshotting a worktree".into(),
        source: git2::Error::from_str("the repository has no working directory"),
    })?;
    let mut index = Index::new().map_err(git("index"))?;
    if let Ok(head) = repo.head().and_then(|h| h.peel_to_tree()) {
        index.read_tree(&head).map_err(git("read HEAD"))?;
    }
    for path in paths {
        let full = workdir.join(path);
        match std::fs::symlink_metadata(&full) {
            Ok(meta) if meta.is_file() || meta.file_type().is_symlink() => {
                let (data, mode) = if meta.file_type().is_symlink() {
                    let target = std::fs::read_link(&full).map_err(WorktreeError::io(&full))?;
                    (target.to_string_lossy().into_owned().into_bytes(), 0o120000)
                } else {
                    use std::os::unix::fs::PermissionsExt;
                    let exec = meta.permissions().mode() & 0o111 != 0;
                    (std::fs::read(&full).map_err(WorktreeError::io(&full))?, if exec { 0o100755 } else { 0o100644 })
                };
                // An in-memory index cannot hash files itself: store the blob, then add the entry.
                let blob = repo.blob(&data).map_err(git(path))?;
                let mut e = entry(path, mode);
                e.id = blob;
                e.file_size = data.len() as u32;
                index.add(&e).map_err(git(path))?;
            }
            Ok(_) => {} // a directory (e.g. an untracked nested repo): not snapshotted
            Err(_) => {
                let _ = index.remove_path(Path::new(path));
            }
        }
    }
    index.write_tree_to(repo).map_err(git("write tree"))
}

fn entry(path: &str, mode: u32) -> IndexEntry {
    IndexEntry {
        ctime: IndexTime::new(0, 0),
        mtime: IndexTime::new(0, 0),
        dev: 0,
        ino: 0,
        mode,
        uid: 0,
        gid: 0,
        file_size: 0,
        id: Oid::ZERO_SHA1,
        flags: 0,
        flags_extended: 0,
        path: path.as_bytes().to_vec(),
    }
}

/// Stages everything (as `git add -A` would, .gitignore respected) and commits it on HEAD.
pub fn commit_all(
    repo: &Repository,
    message: &str,
    author: &Signature<'_>,
    committer: &Signature<'_>,
) -> Result<Oid, WorktreeError> {
    let git = |what: &str| WorktreeError::git(format!("auto-committing ({what})"));
    let mut index = repo.index().map_err(git("index"))?;
    index.add_all(["*"], git2::IndexAddOption::DEFAULT, None).map_err(git("add"))?;
    index.update_all(["*"], None).map_err(git("update"))?;
    index.write().map_err(git("write index"))?;
    let tree = repo.find_tree(index.write_tree().map_err(git("write tree"))?).map_err(git("tree"))?;
    let head = repo.head().and_then(|h| h.peel_to_commit()).map_err(git("HEAD"))?;
    repo.commit(Some("HEAD"), author, committer, message, &tree, &[&head]).map_err(git("commit"))
}

/// Commits reachable from HEAD but not from `base`, oldest first.
pub fn commits_since(repo: &Repository, base: Oid) -> Result<Vec<Oid>, WorktreeError> {
    let git = |what: &str| WorktreeError::git(format!("listing new commits ({what})"));
    let mut walk = repo.revwalk().map_err(git("revwalk"))?;
    walk.push_head().map_err(git("HEAD"))?;
    walk.hide(base).map_err(git("base"))?;
    walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::REVERSE).map_err(git("sort"))?;
    walk.collect::<Result<Vec<Oid>, _>>().map_err(git("walk"))
}
