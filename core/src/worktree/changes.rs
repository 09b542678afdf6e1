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
        add_from_disk(repo, &mut index, workdir, path)?;
    }
    index.write_tree_to(repo).map_err(git("write tree"))
}

/// Every file and symbolic link under `dir` (relative paths, sorted), skipping `.git`: what a
/// directory that is not a working git worktree holds.
pub fn all_files(dir: &Path) -> Result<Vec<String>, WorktreeError> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<(), WorktreeError> {
        for entry in std::fs::read_dir(dir).map_err(WorktreeError::io(dir))?.flatten() {
            let path = entry.path();
            if entry.file_name() == ".git" {
                continue;
            }
            let Ok(kind) = entry.file_type() else { continue };
            if kind.is_dir() {
                walk(root, &path, out)?;
            } else if let Ok(rel) = path.strip_prefix(root) {
                out.push(rel.to_string_lossy().into_owned());
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out)?;
    out.sort();
    Ok(out)
}

/// A tree holding exactly `files` (relative to `dir`) as they are on disk.
pub fn directory_tree(repo: &Repository, dir: &Path, files: &[String]) -> Result<Oid, WorktreeError> {
    let git = |what: &str| WorktreeError::git(format!("snapshotting {} ({what})", dir.display()));
    let mut index = Index::new().map_err(git("index"))?;
    for path in files {
        add_from_disk(repo, &mut index, dir, path)?;
    }
    index.write_tree_to(repo).map_err(git("write tree"))
}

/// Adds `path` as it is on disk under `root` to an in-memory index (a file or a link; anything
/// else is skipped, a missing path is removed).
fn add_from_disk(repo: &Repository, index: &mut Index, root: &Path, path: &str) -> Result<(), WorktreeError> {
    let git = |what: &str| WorktreeError::git(format!("snapshotting {path} ({what})"));
    let full = root.join(path);
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
            let blob = repo.blob(&data).map_err(git("blob"))?;
            let mut e = entry(path, mode);
            e.id = blob;
            e.file_size = data.len() as u32;
            index.add(&e).map_err(git("add"))?;
        }
        Ok(_) => {} // a directory (e.g. an untracked nested repo): not snapshotted
        Err(_) => {
            let _ = index.remove_path(Path::new(path));
        }
    }
    Ok(())
}

/// Puts `paths` back as HEAD has them: tracked files restored, files HEAD does not have removed.
pub fn reset_paths(repo: &Repository, paths: &[String]) -> Result<(), WorktreeError> {
    let git = |what: &str| WorktreeError::git(format!("resetting the worktree ({what})"));
    let workdir = repo.workdir().ok_or_else(|| WorktreeError::Git {
        context: "resetting a worktree".into(),
        source: git2::Error::from_str("the repository has no working directory"),
    })?;
    let head_tree = repo.head().and_then(|h| h.peel_to_tree()).map_err(git("HEAD"))?;
    let mut tracked = Vec::new();
    for path in paths {
        if head_tree.get_path(Path::new(path)).is_ok() {
            tracked.push(path.clone());
        } else {
            let full = workdir.join(path);
            if std::fs::symlink_metadata(&full).is_ok_and(|m| !m.is_dir()) {
                std::fs::remove_file(&full).map_err(WorktreeError::io(&full))?;
            }
        }
    }
    // The index too: a path the agent staged must not stay staged.
    let mut index = repo.index().map_err(git("index"))?;
    for path in paths {
        match head_tree.get_path(Path::new(path)) {
            Ok(entry) if entry.kind() == Some(git2::ObjectType::Blob) => {
                let mut e = self::entry(path, entry.filemode() as u32);
                e.id = entry.id();
                index.add(&e).map_err(git("index add"))?;
            }
            _ => {
                let _ = index.remove_path(Path::new(path));
            }
        }
    }
    index.write().map_err(git("write index"))?;
    if !tracked.is_empty() {
        let mut checkout = git2::build::CheckoutBuilder::new();
        checkout.force().disable_pathspec_match(true);
        for path in &tracked {
            checkout.path(path);
        }
        repo.checkout_head(Some(&mut checkout)).map_err(git("checkout"))?;
    }
    Ok(())
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

/// Stages everything (as `git add -A` would, .gitignore respected) except the paths `withhold`
/// refuses, and commits it on HEAD. Returns the commit (`None` when only withheld paths changed)
/// and the paths left out.
pub fn commit_all(
    repo: &Repository,
    message: &str,
    author: &Signature<'_>,
    committer: &Signature<'_>,
    withhold: &super::withhold::Withhold,
) -> Result<(Option<Oid>, Vec<String>), WorktreeError> {
    let git = |what: &str| WorktreeError::git(format!("auto-committing ({what})"));
    let head = repo.head().and_then(|h| h.peel_to_commit()).map_err(git("HEAD"))?;
    let (mut index, tree_id, withheld) = stage(repo, withhold)?;
    if tree_id == head.tree_id() {
        // Only withheld paths changed: nothing to commit, and the index on disk is untouched.
        return Ok((None, withheld));
    }
    index.write().map_err(git("write index"))?;
    let tree = repo.find_tree(tree_id).map_err(git("tree"))?;
    let commit = repo.commit(Some("HEAD"), author, committer, message, &tree, &[&head]).map_err(git("commit"))?;
    Ok((Some(commit), withheld))
}

/// Stages everything (as `git add -A` would, .gitignore respected) except the paths `withhold`
/// refuses, writes the index, and returns its tree and the paths left out.
pub fn stage_all(repo: &Repository, withhold: &super::withhold::Withhold) -> Result<(Oid, Vec<String>), WorktreeError> {
    let (mut index, tree, withheld) = stage(repo, withhold)?;
    index.write().map_err(WorktreeError::git("writing the index"))?;
    Ok((tree, withheld))
}

/// The index with everything staged but withheld paths, not written; its tree; the paths left out.
fn stage(
    repo: &Repository,
    withhold: &super::withhold::Withhold,
) -> Result<(git2::Index, Oid, Vec<String>), WorktreeError> {
    let git = |what: &str| WorktreeError::git(format!("staging changes ({what})"));
    let mut index = repo.index().map_err(git("index"))?;
    let withheld = std::cell::RefCell::new(Vec::<String>::new());
    let mut filter = |path: &Path, _spec: &[u8]| -> i32 {
        let text = path.to_string_lossy();
        if withhold.withholds(&text, false) {
            withheld.borrow_mut().push(text.into_owned());
            1 // skip
        } else {
            0
        }
    };
    index.add_all(["*"], git2::IndexAddOption::DEFAULT, Some(&mut filter)).map_err(git("add"))?;
    index.update_all(["*"], Some(&mut filter)).map_err(git("update"))?;
    let mut withheld = withheld.into_inner();
    withheld.sort();
    withheld.dedup();
    let tree_id = index.write_tree().map_err(git("write tree"))?;
    Ok((index, tree_id, withheld))
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
