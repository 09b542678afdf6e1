//! Paths an agent names (a model's tool call, an ACP agent's file request), confined to the
//! worktree: relative to it, never out of it — not by `..`,
//! not by an absolute path, not through a symbolic link — and never into a `.git` (at any depth:
//! `sub/.git/hooks` is a repository's hooks too) for a write. The write itself goes through
//! [`crate::beneath`], so a link raced in after this check is not followed either.

use std::path::{Component, Path, PathBuf};

/// A path inside the worktree: the full path and how the model should see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confined {
    /// The path on disk (under the worktree).
    pub full: PathBuf,
    /// The path relative to the worktree (`.` for the worktree itself).
    pub relative: String,
}

/// Resolves `asked` (relative to `root`, or absolute under it) for reading or, with `write`, for
/// writing. `Err` says why it is refused, in words for the model.
pub fn resolve(root: &Path, asked: &str, write: bool) -> Result<Confined, String> {
    let root = root.canonicalize().map_err(|e| format!("the worktree cannot be read: {e}"))?;
    if asked.contains('\0') {
        return Err("the path holds a NUL byte".into());
    }
    let given = Path::new(asked.trim());
    let relative_part = if given.is_absolute() {
        given
            .strip_prefix(&root)
            .map_err(|_| format!("`{asked}` is outside the worktree; use a path relative to the worktree root"))?
    } else {
        given
    };
    // Lexically first: `..` may not climb above the root.
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for component in relative_part.components() {
        match component {
            Component::CurDir => {}
            Component::Normal(part) => parts.push(part),
            Component::ParentDir => {
                if parts.pop().is_none() {
                    return Err(format!("`{asked}` leads out of the worktree; only paths inside it can be used"));
                }
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!("`{asked}` is outside the worktree"));
            }
        }
    }
    let is_git = |p: &std::ffi::OsStr| p.to_str().is_some_and(|p| p.eq_ignore_ascii_case(".git"));
    if write && parts.iter().any(|p| is_git(p)) {
        return Err(format!("`{asked}` is inside .git, which tools never write"));
    }
    let full: PathBuf = parts.iter().fold(root.clone(), |p, part| p.join(part));
    // Then on disk: the deepest part that exists, links followed, must still be under the root.
    let mut existing = full.clone();
    while !existing.exists() && existing.symlink_metadata().is_err() {
        if !existing.pop() {
            break;
        }
    }
    let real = existing.canonicalize().unwrap_or_else(|_| existing.clone());
    if !real.starts_with(&root) {
        return Err(format!("`{asked}` goes through a symbolic link out of the worktree"));
    }
    if write {
        let inside = real.strip_prefix(&root).unwrap_or(Path::new(""));
        if inside.components().any(|c| is_git(c.as_os_str())) {
            return Err(format!("`{asked}` resolves inside .git, which tools never write"));
        }
        if full.symlink_metadata().is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(format!("`{asked}` is a symbolic link; write the file it names instead"));
        }
    }
    let relative = parts.iter().map(|p| p.to_string_lossy()).collect::<Vec<_>>().join("/");
    Ok(Confined { full, relative: if relative.is_empty() { ".".into() } else { relative } })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_worktree() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("wt");
        std::fs::create_dir_all(root.join("src")).unwrap();
        std::fs::create_dir_all(root.join(".git")).unwrap();
        std::fs::write(root.join("src/a.rs"), "x").unwrap();
        std::os::unix::fs::symlink(tmp.path(), root.join("escape")).unwrap();
        std::os::unix::fs::symlink("src/a.rs", root.join("inner-link")).unwrap();

        assert_eq!(resolve(&root, "src/a.rs", false).unwrap().relative, "src/a.rs");
        assert_eq!(resolve(&root, "./src/../src/new.rs", true).unwrap().relative, "src/new.rs");
        let abs = root.canonicalize().unwrap().join("src/a.rs");
        assert_eq!(resolve(&root, &abs.display().to_string(), true).unwrap().relative, "src/a.rs");
        assert_eq!(resolve(&root, "inner-link", false).unwrap().relative, "inner-link");
        for (asked, write, why) in [
            ("../outside", true, "leads out of the worktree"),
            ("src/../../x", false, "leads out of the worktree"),
            ("/etc/passwd", false, "outside the worktree"),
            ("escape/secret", false, "symbolic link out of the worktree"),
            ("escape", true, "symbolic link out of the worktree"),
            (".git/config", true, "inside .git"),
            ("sub/.git/hooks/pre-commit", true, "inside .git"),
            ("src/.GIT/config", true, "inside .git"),
            ("inner-link", true, "is a symbolic link"),
        ] {
            let err = resolve(&root, asked, write).unwrap_err();
            assert!(err.contains(why), "{asked}: {err}");
        }
        assert!(resolve(&root, ".git/HEAD", false).is_ok(), "reading .git is allowed");
    }
}
