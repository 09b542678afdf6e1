//! A new WP worktree is exactly what `git worktree add` makes of the same commit — files, modes,
//! links, index and registration — whether this crate writes it in parallel or leaves it to
//! libgit2 (attributes, line endings, submodules), and a creation that fails leaves nothing.

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::common::{assert_fsck_clean, feature, git};
use kitty_orchestrator::worktree::{WorktreeError, WorktreeManager};
use kitty_orchestrator::{Config, Feature, WpId};

fn one_wp(dir: &Path) -> Feature {
    feature(dir, "020-fresh", &[("WP01", "planned", &[])])
}

/// Makes WP01's worktree and git's own worktree of the same commit (`fresh`); their paths.
fn both(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let f = one_wp(dir);
    let m = WorktreeManager::new(dir, &f, &Config::default()).unwrap();
    let ours = m.ensure(f.work_package(&WpId::parse("WP01").unwrap()).unwrap()).unwrap();
    assert!(ours.created);
    let theirs = dir.join("fresh");
    git(dir, &["worktree", "add", "-q", "--detach", theirs.to_str().unwrap(), "main"]);
    (ours.path, theirs)
}

/// Every entry under `dir` but `.git`: relative path, kind, permission bits, content or target.
fn snapshot(dir: &Path) -> Vec<(String, String, u32, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, String, u32, Vec<u8>)>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if entry.file_name() == ".git" {
                continue;
            }
            let rel = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let mode = meta.permissions().mode() & 0o777;
            if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&path).unwrap().into_os_string().into_encoded_bytes();
                out.push((rel, "link".into(), 0, target));
            } else if meta.is_dir() {
                out.push((rel, "dir".into(), mode, Vec::new()));
                walk(root, &path, out);
            } else {
                out.push((rel, "file".into(), mode, std::fs::read(&path).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn commit_all(dir: &Path) {
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "tree to check out"]);
}

#[test]
fn a_fresh_worktree_is_what_git_worktree_add_makes() {
    let tmp = common::repo();
    let dir = tmp.path();
    // Enough files for every thread to take several chunks, in nested and sibling directories.
    for d in 0..12 {
        let sub = dir.join(format!("src/mod{d}/inner"));
        std::fs::create_dir_all(&sub).unwrap();
        for f in 0..40 {
            std::fs::write(sub.join(format!("f{f}.rs")), format!("// {d}/{f}\n{}", "x\n".repeat(f))).unwrap();
        }
        std::fs::write(dir.join(format!("src/mod{d}.rs")), format!("mod inner; // {d}\n")).unwrap();
    }
    std::fs::create_dir_all(dir.join(".github/workflows")).unwrap();
    std::fs::write(dir.join(".github/workflows/ci.yml"), "on: push\n").unwrap();
    std::fs::write(dir.join(".gitignore"), "target/\n").unwrap();
    std::fs::write(dir.join("empty"), "").unwrap();
    std::fs::write(dir.join("a name with spaces ü.txt"), "spaces\n").unwrap();
    std::fs::write(dir.join("run.sh"), "#!/bin/sh\necho hi\n").unwrap();
    std::fs::set_permissions(dir.join("run.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink("src/mod0.rs", dir.join("link-to-mod0")).unwrap();
    std::os::unix::fs::symlink("../nowhere", dir.join("dangling")).unwrap();
    commit_all(dir);

    let (ours, theirs) = both(dir);
    assert_eq!(snapshot(&ours), snapshot(&theirs));
    assert!(snapshot(&ours).len() > 500);
    // The same index, and its stat data is right: diff-files (which does not refresh) finds
    // nothing, so git never hashes these files again.
    assert_eq!(git(&ours, &["ls-files", "-s"]), git(&theirs, &["ls-files", "-s"]));
    assert_eq!(git(&ours, &["diff-files", "--name-only"]), "");
    assert_eq!(git(&ours, &["status", "--porcelain", "--ignored"]), "");
    assert_eq!(git(&ours, &["symbolic-ref", "HEAD"]).trim(), "refs/heads/020-fresh-WP01");
    // Registered like git's own: listed, not locked, nothing to prune, usable.
    let listed = git(dir, &["worktree", "list", "--porcelain"]);
    let block = listed.split("\n\n").find(|b| b.contains(&format!("worktree {}", ours.display()))).expect(&listed);
    assert!(block.contains("branch refs/heads/020-fresh-WP01") && !block.contains("locked"), "{block}");
    assert_eq!(git(dir, &["worktree", "prune", "--dry-run", "--verbose"]), "");
    std::fs::write(ours.join("src/mod0.rs"), "changed\n").unwrap();
    assert_eq!(git(&ours, &["status", "--porcelain"]), " M src/mod0.rs\n");
    git(&ours, &["commit", "-q", "-am", "agent work"]);
    assert_eq!(git(dir, &["log", "-1", "--format=%s", "020-fresh-WP01"]).trim(), "agent work");
    assert_fsck_clean(dir);
}

#[test]
fn attributes_line_endings_and_submodules_check_out_as_git_does() {
    let tmp = common::repo();
    let dir = tmp.path();
    std::fs::write(dir.join(".gitattributes"), "*.txt text eol=crlf\n").unwrap();
    std::fs::write(dir.join("notes.txt"), "one\ntwo\n").unwrap();
    std::fs::create_dir_all(dir.join("deep")).unwrap();
    std::fs::write(dir.join("deep/more.txt"), "three\n").unwrap();
    commit_all(dir);
    // A submodule entry (a gitlink) beside them.
    let sub = git(dir, &["rev-parse", "HEAD"]);
    git(dir, &["update-index", "--add", "--cacheinfo", &format!("160000,{},vendor/lib", sub.trim())]);
    git(dir, &["commit", "-q", "-m", "a submodule"]);

    let (ours, theirs) = both(dir);
    assert_eq!(std::fs::read(ours.join("notes.txt")).unwrap(), b"one\r\ntwo\r\n");
    assert_eq!(snapshot(&ours), snapshot(&theirs));
    assert_eq!(git(&ours, &["status", "--porcelain"]), "");
}

#[test]
fn core_autocrlf_is_honoured() {
    let tmp = common::repo();
    let dir = tmp.path();
    std::fs::write(dir.join("notes.md"), "one\ntwo\n").unwrap();
    commit_all(dir);
    git(dir, &["config", "core.autocrlf", "true"]);
    let (ours, theirs) = both(dir);
    assert_eq!(std::fs::read(ours.join("notes.md")).unwrap(), b"one\r\ntwo\r\n");
    assert_eq!(snapshot(&ours), snapshot(&theirs));
}

#[test]
fn a_creation_that_fails_midway_leaves_nothing_behind() {
    let tmp = common::repo();
    let dir = tmp.path();
    // A commit whose tree names a blob the repository does not have (as a shallow or damaged
    // clone may): the files before it are written, then the read fails.
    let missing = "1234567890123456789012345678901234567890";
    let readme = git(dir, &["rev-parse", "HEAD:README.md"]);
    let listing = format!("100644 blob {}\tREADME.md\n100644 blob {missing}\tzz-missing.txt\n", readme.trim());
    let tree = {
        let mut child = std::process::Command::new("git")
            .args(["mktree", "--missing"])
            .current_dir(dir)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(listing.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let commit = git(dir, &["commit-tree", &tree, "-p", "HEAD", "-m", "damaged"]);
    git(dir, &["update-ref", "refs/heads/main", commit.trim()]);

    let f = one_wp(dir);
    let m = WorktreeManager::new(dir, &f, &Config::default()).unwrap();
    let err = m.ensure(f.work_package(&WpId::parse("WP01").unwrap()).unwrap()).unwrap_err();
    assert!(matches!(err, WorktreeError::Git { .. }), "{err}");
    assert!(err.to_string().contains(missing), "the error names the missing object: {err}");
    let path = m.path_for(&WpId::parse("WP01").unwrap());
    assert!(!path.exists(), "the half-made worktree is removed");
    assert!(!dir.join(".git/worktrees/020-fresh-WP01").exists(), "its registration is removed");
    assert_eq!(git(dir, &["branch", "--list", "020-fresh-WP01"]), "", "the branch it made is removed");
    assert_eq!(git(dir, &["worktree", "prune", "--dry-run", "--verbose"]), "");
}

#[test]
fn a_worktree_under_a_directory_whose_name_is_not_utf8_is_registered_exactly() {
    use std::os::unix::ffi::OsStrExt;
    let tmp = common::repo();
    let dir = tmp.path();
    std::fs::write(dir.join("a.txt"), "a\n").unwrap();
    commit_all(dir);
    let odd = dir.join(std::ffi::OsStr::from_bytes(b"trees-\xff"));
    let f = one_wp(dir);
    let config = Config { worktree_dir: odd.clone(), ..Config::default() };
    let m = WorktreeManager::new(dir, &f, &config).unwrap();
    let made = m.ensure(f.work_package(&WpId::parse("WP01").unwrap()).unwrap()).unwrap();
    assert!(made.path.starts_with(&odd));
    // git finds the worktree through the bytes written, and it is clean and usable.
    let status =
        std::process::Command::new("git").args(["status", "--porcelain"]).current_dir(&made.path).output().unwrap();
    assert!(status.status.success() && status.stdout.is_empty(), "{}", String::from_utf8_lossy(&status.stderr));
    let listed =
        std::process::Command::new("git").args(["worktree", "list", "--porcelain"]).current_dir(dir).output().unwrap();
    let needle = [b"worktree ".as_slice(), made.path.as_os_str().as_bytes()].concat();
    assert!(
        listed.stdout.windows(needle.len()).any(|w| w == needle.as_slice()),
        "{}",
        String::from_utf8_lossy(&listed.stdout)
    );
    assert_eq!(std::fs::read(made.path.join("a.txt")).unwrap(), b"a\n");
}
