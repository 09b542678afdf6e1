//! Helpers shared by the integration tests: real temporary git repositories and features.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use kitty_orchestrator::{Feature, load_feature};

/// Runs the git binary in `dir` and returns stdout; panics with stderr on failure.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git").args(args).current_dir(dir).output().expect("git runs");
    assert!(out.status.success(), "git {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

/// A new repository with one commit on `main`, and a known identity.
pub fn repo() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["config", "user.name", "Test User"]);
    git(dir, &["config", "user.email", "test@example.com"]);
    std::fs::write(dir.join("README.md"), "hello\n").unwrap();
    git(dir, &["add", "README.md"]);
    git(dir, &["commit", "-q", "-m", "initial"]);
    tmp
}

/// Writes a feature `kitty-specs/<slug>/` with WPs `(id, lane, deps)` and loads it.
pub fn feature(repo: &Path, slug: &str, wps: &[(&str, &str, &[&str])]) -> Feature {
    let dir = repo.join("kitty-specs").join(slug);
    std::fs::create_dir_all(dir.join("tasks")).unwrap();
    for (id, lane, deps) in wps {
        let deps: Vec<String> = deps.iter().map(|d| format!("\"{d}\"")).collect();
        std::fs::write(
            dir.join(format!("tasks/{id}-work.md")),
            format!(
                "---\nwork_package_id: {id}\ntitle: Work {id}\nlane: {lane}\ndependencies: [{}]\n---\n# {id}\n\nCreate {id}.txt.\n",
                deps.join(", ")
            ),
        )
        .unwrap();
    }
    load_feature(&dir).expect("valid feature")
}

/// A feature of `n` independent planned WPs (`WP001`…).
pub fn flat_feature(repo: &Path, slug: &str, n: usize) -> Feature {
    let ids: Vec<String> = (1..=n).map(|i| format!("WP{i:03}")).collect();
    let wps: Vec<(&str, &str, &[&str])> = ids.iter().map(|id| (id.as_str(), "planned", &[][..])).collect();
    feature(repo, slug, &wps)
}

/// Stale `.lock` files anywhere under the git directory.
pub fn lock_files(git_dir: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, git_dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, git_dir, out);
            } else if path.extension().is_some_and(|e| e == "lock") && !path.starts_with(git_dir.join("kitty")) {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(git_dir, git_dir, &mut out);
    out
}

/// Asserts `git fsck --strict` finds nothing wrong.
pub fn assert_fsck_clean(dir: &Path) {
    let out = Command::new("git").args(["fsck", "--strict", "--no-progress"]).current_dir(dir).output().unwrap();
    assert!(
        out.status.success(),
        "git fsck failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("error") && !stderr.contains("missing"), "git fsck: {stderr}");
}
