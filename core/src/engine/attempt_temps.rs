//! The attempts' temporary directories in the system's temporary directory (`TMPDIR` of each
//! agent process, private copies of its login among them), named after their worktree, so that
//! whoever holds a feature's run lock can remove what a killed run left (a `kill -9` runs no
//! destructor), and an implementer's kept session can be found again — and forgotten.

use std::path::Path;

/// What every attempt's temporary directory in `cwd` is named from: one prefix per worktree,
/// so that whoever takes a dead run's WP over can find what its attempts left in the shared
/// temporary directory (a `kill -9` runs no destructor) — private copies of the agent's login
/// among it.
pub(super) fn temp_prefix(cwd: &Path) -> String {
    format!("kitty-attempt-{}-", worktree_key(cwd))
}

/// Twelve hex digits that name the worktree `cwd` in the temporary directory.
pub(super) fn worktree_key(cwd: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let path = cwd.canonicalize().unwrap_or_else(|_| cwd.to_path_buf());
    git2::Oid::hash_object(git2::ObjectType::Blob, path.as_os_str().as_bytes())
        .map(|oid| oid.to_string()[..12].to_string())
        .unwrap_or_else(|_| "000000000000".into())
}

/// Forgets the agents' sessions kept for the worktree `cwd` (its WP is done).
pub(super) fn forget_sessions(cwd: &Path) {
    crate::sandbox::forget_sessions(&worktree_key(cwd));
}

/// Removes the temporary directories that attempts in `worktrees` left behind when their run
/// died. Only for worktrees no live attempt uses (the caller holds the feature's run lock);
/// only directories of our own user, never through a link. One look at the temporary directory
/// for all of them.
pub(super) fn remove_dead_temps<'a>(worktrees: impl IntoIterator<Item = &'a Path>) {
    let prefixes: std::collections::HashSet<String> = worktrees.into_iter().map(temp_prefix).collect();
    // `kitty-attempt-<key>-` is 27 characters; tempfile adds its random part after it.
    let dead = |name: &str| name.get(..27).is_some_and(|p| prefixes.contains(p));
    crate::sandbox::remove_own_temp_dirs(dead, "the temporary directory of a dead run's attempt");
}
