//! The files that tie a linked worktree to its repository — the worktree's `.git` file
//! (`gitdir: <admin>`), the admin directory's `gitdir` (`<worktree>/.git`), `commondir` and
//! `HEAD`. An implementation agent can rewrite every one of them (the worktree and its admin
//! directory are its to write), and whoever opens the worktree afterwards follows them: a `.git`
//! file pointing at the main repository would make our own auto-commit land on the user's
//! checked-out branch, a `HEAD` naming `refs/heads/main` likewise, and a FIFO in their place
//! would hang any reader. So after an attempt they are never followed: we know what each must
//! say (from the worktree's name, path and branch) and write that back, saying what differed.

use std::path::{Path, PathBuf};

use crate::atomic_file::{read_plain, replace_plain};

/// The largest link file we read (they hold one path).
const LINK_CAP: u64 = 64 * 1024;

/// A linked worktree as we made it: its directory, its admin directory, its branch.
#[derive(Debug, Clone)]
pub(super) struct Link {
    pub(super) worktree: PathBuf,
    pub(super) admin: PathBuf,
    pub(super) branch: String,
}

/// What a link file held after the attempt, when it was not what we wrote.
fn describe(found: &std::io::Result<Vec<u8>>) -> String {
    match found {
        Ok(bytes) => format!("`{}`", String::from_utf8_lossy(bytes).trim()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => "nothing (removed)".to_string(),
        Err(err) => format!("something unreadable ({err})"),
    }
}

/// Whether `text` (a link file's content) names `expected` (canonical paths compared).
fn names(text: &[u8], prefix: &str, expected: &Path) -> bool {
    let Ok(text) = std::str::from_utf8(text) else { return false };
    let Some(path) = text.trim_end_matches('\n').strip_prefix(prefix) else { return false };
    let path = Path::new(path.trim());
    path == expected || path.canonicalize().is_ok_and(|p| p == expected)
}

impl Link {
    /// `HEAD` as we write it: on the worktree's branch.
    fn head_text(&self) -> String {
        format!("ref: refs/heads/{}\n", self.branch)
    }

    /// Points the worktree at the common directory `common` (the attempt's private one).
    pub(super) fn point_at(&self, common: &Path) -> std::io::Result<()> {
        let mut text = common.as_os_str().as_encoded_bytes().to_vec();
        text.push(b'\n');
        replace_plain(&self.admin.join("commondir"), &text)
    }

    /// Puts every link file back as it must be (`commondir` at the repository's own common
    /// directory); returns one line per file that differed — a sign of tampering — saying what
    /// was there. A `HEAD` on another ref or detached is reported too, in `head`.
    pub(super) fn restore(&self) -> std::io::Result<Restored> {
        let mut tampered = Vec::new();
        // Removed meanwhile (pruned, deleted by hand): nothing points anywhere.
        if !self.admin.is_dir() {
            return Ok(Restored { tampered, head: Head::OnBranch });
        }
        let admin = self.admin.canonicalize().unwrap_or_else(|_| self.admin.clone());
        let worktree = self.worktree.canonicalize().unwrap_or_else(|_| self.worktree.clone());
        replace_plain(&self.admin.join("commondir"), b"../..\n")?;
        let dot_git = self.worktree.join(".git");
        let found = read_plain(&dot_git, LINK_CAP);
        if self.worktree.is_dir() && !found.as_ref().is_ok_and(|t| names(t, "gitdir:", &admin)) {
            tampered.push(format!("{} held {} (put back)", dot_git.display(), describe(&found)));
            let mut text = b"gitdir: ".to_vec();
            text.extend_from_slice(admin.as_os_str().as_encoded_bytes());
            text.push(b'\n');
            replace_plain(&dot_git, &text)?;
        }
        let gitdir = self.admin.join("gitdir");
        let found = read_plain(&gitdir, LINK_CAP);
        let expected = worktree.join(".git");
        if !found.as_ref().is_ok_and(|t| names(t, "", &expected)) {
            tampered.push(format!("{} held {} (put back)", gitdir.display(), describe(&found)));
            let mut text = expected.as_os_str().as_encoded_bytes().to_vec();
            text.push(b'\n');
            replace_plain(&gitdir, &text)?;
        }
        let head_path = self.admin.join("HEAD");
        let found = read_plain(&head_path, LINK_CAP);
        let head = match &found {
            Ok(text) if text == self.head_text().as_bytes() => Head::OnBranch,
            Ok(text) => match std::str::from_utf8(text).map(str::trim) {
                Ok(t) if t.starts_with("ref: ") => Head::Elsewhere(t["ref: ".len()..].to_string()),
                Ok(t) if t.len() == 40 && t.bytes().all(|b| b.is_ascii_hexdigit()) => Head::Detached(t.to_string()),
                _ => Head::Broken(describe(&found)),
            },
            Err(_) => Head::Broken(describe(&found)),
        };
        if head != Head::OnBranch {
            replace_plain(&head_path, self.head_text().as_bytes())?;
        }
        Ok(Restored { tampered, head })
    }
}

/// What [`Link::restore`] found.
#[derive(Debug)]
pub(super) struct Restored {
    /// Link files that did not say what they must (each put back).
    pub(super) tampered: Vec<String>,
    /// Where the worktree's `HEAD` was.
    pub(super) head: Head,
}

/// Where an attempt left its worktree's `HEAD` (it is put back on the branch in every case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Head {
    /// On the worktree's branch, as it was given.
    OnBranch,
    /// Detached at this commit.
    Detached(String),
    /// On another ref.
    Elsewhere(String),
    /// Not a HEAD at all (removed, unreadable, not a ref): what was there.
    Broken(String),
}

impl std::fmt::Display for Head {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Head::OnBranch => write!(f, "on its branch"),
            Head::Detached(id) => write!(f, "detached at {id}"),
            Head::Elsewhere(name) => write!(f, "on {name}"),
            Head::Broken(what) => write!(f, "replaced by {what}"),
        }
    }
}
