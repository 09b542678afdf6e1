//! What a worktree holds that git ignores, before the worktree is removed: never deleted without
//! a trace. Build output (`target/`, `node_modules/`, `__pycache__/`, …) is named and dropped —
//! it is made again by a build; secret-looking files are moved aside, as withheld files are
//! (never into a ref); everything else ignored (notes, local configuration, data an agent
//! produced) is saved in the backup ref with the uncommitted work, within a size cap — what does
//! not fit is named, so the user knows what went.

use std::path::Path;

use git2::{Repository, Status, StatusOptions};
use serde::Serialize;

use super::error::WorktreeError;

/// Directory names whose contents a build makes again.
const BUILD_DIRS: [&str; 24] = [
    "target",
    "node_modules",
    "__pycache__",
    ".venv",
    "venv",
    "dist",
    "build",
    "out",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".tox",
    ".nox",
    ".gradle",
    ".next",
    ".nuxt",
    ".turbo",
    ".parcel-cache",
    ".cache",
    "coverage",
    ".coverage",
    ".eggs",
    "bin",
    "obj",
];

/// File extensions a build makes.
const BUILD_EXTENSIONS: [&str; 10] = ["pyc", "pyo", "o", "a", "so", "class", "obj", "rlib", "rmeta", "d"];

/// The largest ignored file saved in a backup ref.
pub const MAX_SAVED_FILE: u64 = 1024 * 1024;
/// The most ignored bytes saved in one backup ref.
pub const MAX_SAVED_TOTAL: u64 = 16 * 1024 * 1024;

/// What happened to one ignored path when its worktree was removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IgnoredPath {
    /// The path in the worktree (a directory ends with `/`).
    pub path: String,
    /// `build_output` (dropped: a build makes it again), `saved` (in the backup ref),
    /// `moved_aside` (secret-looking: under the git directory's `kitty/withheld/`), or
    /// `too_large` (dropped: over the size cap).
    pub fate: String,
    /// Its size in bytes (a directory's: the files in it).
    pub bytes: u64,
}

/// Whether `path` is build output (a directory of one of [`BUILD_DIRS`] on its way, or a build
/// file extension).
fn is_build_output(path: &str) -> bool {
    let trimmed = path.trim_end_matches('/');
    let mut parts = trimmed.split('/');
    let dirs_hit = trimmed.split('/').any(|p| BUILD_DIRS.contains(&p));
    let ext = parts.next_back().and_then(|name| name.rsplit_once('.').map(|(_, e)| e));
    dirs_hit || ext.is_some_and(|e| BUILD_EXTENSIONS.contains(&e))
}

fn size_of(path: &Path) -> u64 {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => {
            std::fs::read_dir(path).into_iter().flatten().flatten().map(|e| size_of(&e.path())).sum()
        }
        Ok(m) => m.len(),
        Err(_) => 0,
    }
}

/// The ignored paths of the worktree `repo`, sorted: build-output directories as one entry,
/// every other ignored file on its own.
pub(super) fn ignored_paths(repo: &Repository) -> Result<Vec<String>, WorktreeError> {
    let mut opts = StatusOptions::new();
    opts.include_untracked(false).include_ignored(true).recurse_ignored_dirs(false).exclude_submodules(true);
    let statuses = repo.statuses(Some(&mut opts)).map_err(WorktreeError::git("listing ignored files"))?;
    let root = repo.workdir().unwrap_or(Path::new("."));
    let mut out = Vec::new();
    for entry in statuses.iter().filter(|s| s.status().contains(Status::IGNORED)) {
        let Ok(path) = entry.path() else { continue };
        if path.ends_with('/') && !is_build_output(path) {
            walk(root, path, &mut out);
        } else {
            out.push(path.to_string());
        }
    }
    out.sort();
    Ok(out)
}

fn walk(root: &Path, dir: &str, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(root.join(dir)) else { return };
    for entry in entries.flatten() {
        let Some(name) = entry.file_name().to_str().map(str::to_string) else { continue };
        let rel = format!("{dir}{name}");
        match entry.file_type() {
            Ok(t) if t.is_dir() && BUILD_DIRS.contains(&name.as_str()) => out.push(format!("{rel}/")),
            Ok(t) if t.is_dir() => walk(root, &format!("{rel}/"), out),
            Ok(_) => out.push(rel),
            Err(_) => {}
        }
    }
}

/// Sorts the ignored `paths` of the worktree at `root` into what to save (within the cap), what
/// to move aside (`secret`: the withhold list says so) and what is dropped, each with its fate.
pub(super) fn plan(root: &Path, paths: Vec<String>, secret: impl Fn(&str) -> bool) -> (Vec<String>, Vec<IgnoredPath>) {
    let mut save = Vec::new();
    let mut fates = Vec::new();
    let mut total = 0u64;
    for path in paths {
        let bytes = size_of(&root.join(path.trim_end_matches('/')));
        let fate = if secret(&path) {
            "moved_aside"
        } else if is_build_output(&path) {
            "build_output"
        } else if bytes <= MAX_SAVED_FILE && total + bytes <= MAX_SAVED_TOTAL && !path.ends_with('/') {
            total += bytes;
            save.push(path.clone());
            "saved"
        } else {
            "too_large"
        };
        fates.push(IgnoredPath { path, fate: fate.to_string(), bytes });
    }
    (save, fates)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_output_is_told_apart() {
        for yes in ["target/", "web/node_modules/", "pkg/__pycache__/x.pyc", "a.o", "lib/x.so"] {
            assert!(is_build_output(yes), "{yes}");
        }
        for no in [".env", "notes.md", "data/results.csv", "config/local.toml"] {
            assert!(!is_build_output(no), "{no}");
        }
    }
}
