//! Paths that must never be committed for an agent or saved into a backup ref, because refs get
//! pushed: secret-looking files (a built-in deny list the user can extend with
//! `auto_commit_exclude`) and whatever `.worktreeinclude` copies into worktrees (`.env` and
//! friends, which exist precisely because they are not in git).

use std::path::Path;

use ignore::gitignore::{Gitignore, GitignoreBuilder};

use super::error::WorktreeError;

/// The built-in deny list (gitignore syntax, matched anywhere in the tree).
pub const DENY_LIST: [&str; 24] = [
    ".env",
    ".env.*",
    // Templates are meant to be committed.
    "!.env.example",
    "!.env.sample",
    "!.env.template",
    "!.env.dist",
    ".envrc",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.keystore",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    ".npmrc",
    ".pypirc",
    ".netrc",
    ".git-credentials",
    "credentials",
    "credentials.json",
    ".aws/credentials",
    // aider's own state (chat history, repo-map cache) is the agent's, not the work.
    ".aider*",
];

/// Decides which worktree paths are withheld from auto-commit and backups.
#[derive(Debug, Clone)]
pub struct Withhold {
    deny: Gitignore,
    include: Option<Gitignore>,
}

impl Withhold {
    /// The deny list plus `extra` patterns (config `auto_commit_exclude`), and the patterns of
    /// `<repo_root>/.worktreeinclude` when it exists.
    pub fn new(repo_root: &Path, extra: &[String]) -> Result<Withhold, WorktreeError> {
        let mut builder = GitignoreBuilder::new(repo_root);
        for pattern in DENY_LIST.iter().copied().chain(extra.iter().map(String::as_str)) {
            builder.add_line(None, pattern).map_err(|e| WorktreeError::Io {
                path: repo_root.join(".kittify/orchestrator.toml"),
                source: std::io::Error::other(format!("auto_commit_exclude pattern `{pattern}`: {e}")),
            })?;
        }
        let deny = builder.build().map_err(|e| WorktreeError::Io {
            path: repo_root.join(".kittify/orchestrator.toml"),
            source: std::io::Error::other(e.to_string()),
        })?;
        Ok(Withhold { deny, include: worktree_include(repo_root)? })
    }

    /// Whether `path` (relative to the worktree root) must not be committed or backed up.
    pub fn withholds(&self, path: &str, is_dir: bool) -> bool {
        let path = Path::new(path);
        let hit = |m: &Gitignore| m.matched_path_or_any_parents(path, is_dir).is_ignore();
        hit(&self.deny) || self.include.as_ref().is_some_and(hit)
    }

    /// `paths` split into (kept, withheld).
    pub fn split(&self, paths: Vec<String>) -> (Vec<String>, Vec<String>) {
        paths.into_iter().partition(|p| !self.withholds(p, false))
    }
}

/// The matcher of `<root>/.worktreeinclude` (gitignore syntax), if the file exists.
pub fn worktree_include(root: &Path) -> Result<Option<Gitignore>, WorktreeError> {
    let list = root.join(".worktreeinclude");
    if !list.exists() {
        return Ok(None);
    }
    let mut builder = GitignoreBuilder::new(root);
    if let Some(err) = builder.add(&list) {
        return Err(WorktreeError::Io { path: list, source: std::io::Error::other(err.to_string()) });
    }
    let matcher = builder
        .build()
        .map_err(|e| WorktreeError::Io { path: list.clone(), source: std::io::Error::other(e.to_string()) })?;
    Ok(Some(matcher))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deny_list_matches_secrets_anywhere() {
        let dir = tempfile::tempdir().unwrap();
        let w = Withhold::new(dir.path(), &["*.secret".into()]).unwrap();
        for path in [
            ".env",
            "app/.env.local",
            "certs/server.pem",
            "deploy/id_ed25519",
            ".npmrc",
            "x/.aws/credentials",
            "a.secret",
        ] {
            assert!(w.withholds(path, false), "{path}");
        }
        for path in ["src/env.rs", "README.md", "keys.md", "docs/credentials.md", ".env.example"] {
            assert!(!w.withholds(path, false), "{path}");
        }
    }

    #[test]
    fn worktreeinclude_patterns_are_withheld_too() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".worktreeinclude"), "config/local.toml\nsecrets/\n").unwrap();
        let w = Withhold::new(dir.path(), &[]).unwrap();
        assert!(w.withholds("config/local.toml", false));
        assert!(w.withholds("secrets/dev.txt", false));
        assert!(!w.withholds("config/app.toml", false));
    }
}
