//! The worktree manager against real repositories, checked with the git binary.

use crate::common;

use std::path::Path;

use crate::common::{assert_fsck_clean, feature, git};
use kitty_orchestrator::worktree::{WorktreeError, WorktreeManager};
use kitty_orchestrator::{Config, Feature, WpId};

fn id(s: &str) -> WpId {
    WpId::parse(s).unwrap()
}

fn diamond(dir: &Path) -> Feature {
    feature(
        dir,
        "010-diamond",
        &[
            ("WP01", "planned", &[]),
            ("WP02", "planned", &["WP01"]),
            ("WP03", "planned", &["WP01"]),
            ("WP04", "planned", &["WP02", "WP03"]),
        ],
    )
}

/// Does what an agent does: write a file in the worktree and commit it.
fn work(path: &Path, file: &str, content: &str) -> String {
    std::fs::write(path.join(file), content).unwrap();
    git(path, &["add", file]);
    git(path, &["commit", "-q", "-m", &format!("add {file}")]);
    git(path, &["rev-parse", "HEAD"]).trim().to_string()
}

fn manager(dir: &Path, f: &Feature) -> WorktreeManager {
    WorktreeManager::new(dir, f, &Config::default()).unwrap()
}

#[test]
fn diamond_dependent_starts_from_a_merge_of_both_dependencies() {
    let tmp = common::repo();
    let dir = tmp.path();
    let f = diamond(dir);
    let m = manager(dir, &f);
    assert_eq!(m.target_branch(), "main");
    let wp = |s: &str| f.work_package(&id(s)).unwrap();
    let p1 = m.ensure(wp("WP01")).unwrap();
    assert!(p1.created && p1.path.ends_with(".worktrees/010-diamond-WP01"));
    assert_eq!(p1.branch, "010-diamond-WP01");
    work(&p1.path, "wp01.txt", "one\n");
    let p2 = m.ensure(wp("WP02")).unwrap();
    let tip2 = work(&p2.path, "wp02.txt", "two\n");
    let p3 = m.ensure(wp("WP03")).unwrap();
    let tip3 = work(&p3.path, "wp03.txt", "three\n");
    let p4 = m.ensure(wp("WP04")).unwrap();
    for file in ["wp01.txt", "wp02.txt", "wp03.txt", "README.md"] {
        assert!(p4.path.join(file).exists(), "{file} missing from WP04's worktree");
    }
    let parents = git(dir, &["log", "-1", "--format=%P", &p4.base]);
    assert_eq!(parents.split_whitespace().collect::<Vec<_>>(), [tip2.as_str(), tip3.as_str()]);
    // A normal git worktree: listed, clean, removable by git itself.
    let list = git(dir, &["worktree", "list", "--porcelain"]);
    assert!(list.contains(&format!("worktree {}", p4.path.display())), "{list}");
    assert_eq!(git(&p4.path, &["status", "--porcelain"]), "");
    let main_status = git(dir, &["status", "--porcelain", "--untracked-files=all"]);
    assert!(!main_status.contains(".worktrees"), "WP worktrees do not show up in the main status: {main_status}");
    // Ensuring again reuses it.
    let again = m.ensure(wp("WP04")).unwrap();
    assert!(!again.created);
    assert_eq!(again.base, p4.base);
    git(dir, &["worktree", "remove", p4.path.to_str().unwrap()]);
    assert_fsck_clean(dir);
}

#[test]
fn conflicting_dependencies_are_a_typed_error_and_leave_nothing_behind() {
    let tmp = common::repo();
    let dir = tmp.path();
    let f = diamond(dir);
    let m = manager(dir, &f);
    let wp = |s: &str| f.work_package(&id(s)).unwrap();
    let p1 = m.ensure(wp("WP01")).unwrap();
    work(&p1.path, "wp01.txt", "one\n");
    let p2 = m.ensure(wp("WP02")).unwrap();
    work(&p2.path, "shared.txt", "from WP02\n");
    let p3 = m.ensure(wp("WP03")).unwrap();
    work(&p3.path, "shared.txt", "from WP03\n");
    let before_list = git(dir, &["worktree", "list"]);
    let before_branches = git(dir, &["branch", "--list"]);
    let err = m.ensure(wp("WP04")).unwrap_err();
    match &err {
        WorktreeError::MergeConflict { paths, deps, .. } => {
            assert_eq!(paths, &["shared.txt"]);
            assert_eq!(deps, &["010-diamond-WP02", "010-diamond-WP03"]);
        }
        other => panic!("expected a merge conflict, got {other}"),
    }
    assert_eq!(err.code(), "worktree_conflict");
    assert!(err.to_string().contains("shared.txt"), "{err}");
    assert_eq!(git(dir, &["worktree", "list"]), before_list);
    assert_eq!(git(dir, &["branch", "--list"]), before_branches);
    assert!(!dir.join(".git/worktrees/010-diamond-WP04").exists());
    assert!(!m.path_for(&id("WP04")).exists());
    assert_fsck_clean(dir);
}

#[test]
fn things_in_the_way_are_clear_errors_or_clean_repairs() {
    let tmp = common::repo();
    let dir = tmp.path();
    let f = feature(
        dir,
        "011-way",
        &[("WP01", "planned", &[]), ("WP02", "planned", &[]), ("WP03", "planned", &[]), ("WP04", "planned", &[])],
    );
    let m = manager(dir, &f);
    let wp = |s: &str| f.work_package(&id(s)).unwrap();

    // A directory that is not a worktree: error, untouched.
    let taken = m.path_for(&id("WP01"));
    std::fs::create_dir_all(&taken).unwrap();
    std::fs::write(taken.join("mine.txt"), "keep me").unwrap();
    let err = m.ensure(wp("WP01")).unwrap_err();
    assert_eq!(err.code(), "worktree_path_taken", "{err}");
    assert_eq!(std::fs::read_to_string(taken.join("mine.txt")).unwrap(), "keep me");
    assert!(git(dir, &["branch", "--list", "011-way-WP01"]).is_empty(), "no branch left behind");

    // A pre-existing branch (earlier work): reused with its commits.
    git(dir, &["branch", "011-way-WP02", "main"]);
    let p2 = m.ensure(wp("WP02")).unwrap();
    assert!(p2.reused_branch);
    let tip = work(&p2.path, "wp02.txt", "two\n");
    // Its directory deleted by hand: pruned and made again, commits kept.
    std::fs::remove_dir_all(&p2.path).unwrap();
    let repaired = m.ensure(wp("WP02")).unwrap();
    assert!(repaired.created);
    assert_eq!(git(&repaired.path, &["rev-parse", "HEAD"]).trim(), tip);

    // A branch checked out elsewhere: error naming where.
    let elsewhere = tempfile::tempdir().unwrap();
    let other = elsewhere.path().join("other");
    git(dir, &["worktree", "add", "-q", "-b", "011-way-WP03", other.to_str().unwrap(), "main"]);
    let err = m.ensure(wp("WP03")).unwrap_err();
    assert_eq!(err.code(), "worktree_branch_in_use");
    assert!(err.to_string().contains(other.to_str().unwrap()), "{err}");
    git(dir, &["worktree", "remove", other.to_str().unwrap()]);

    // A locked worktree whose directory is gone: error saying how to unlock.
    let p4 = m.ensure(wp("WP04")).unwrap();
    git(dir, &["worktree", "lock", "--reason", "on a usb stick", p4.path.to_str().unwrap()]);
    std::fs::remove_dir_all(&p4.path).unwrap();
    let err = m.ensure(wp("WP04")).unwrap_err();
    assert_eq!(err.code(), "worktree_locked");
    assert!(err.to_string().contains("on a usb stick") && err.to_string().contains("git worktree unlock"), "{err}");
    git(dir, &["worktree", "unlock", "011-way-WP04"]);
    assert!(m.ensure(wp("WP04")).unwrap().created);
    assert_fsck_clean(dir);
}

#[test]
fn dirty_worktrees_are_never_removed_without_a_backup() {
    let tmp = common::repo();
    let dir = tmp.path();
    let f = feature(dir, "012-dirty", &[("WP01", "planned", &[])]);
    let m = manager(dir, &f);
    let wp01 = f.work_package(&id("WP01")).unwrap();
    let p = m.ensure(wp01).unwrap();
    std::fs::write(p.path.join("README.md"), "modified\n").unwrap();
    std::fs::write(p.path.join("untracked.txt"), "new work\n").unwrap();
    std::fs::create_dir_all(p.path.join("deep/dir")).unwrap();
    std::fs::write(p.path.join("deep/dir/file.rs"), "fn main() {}\n").unwrap();
    git(&p.path, &["add", "deep/dir/file.rs"]);
    let index_before = std::fs::read(dir.join(".git/worktrees/012-dirty-WP01/index")).unwrap();

    let err = m.remove(&id("WP01"), false).unwrap_err();
    assert_eq!(err.code(), "worktree_dirty");
    assert!(p.path.join("untracked.txt").exists(), "nothing was deleted");

    let backup = m.remove(&id("WP01"), true).unwrap().backup.expect("a backup was taken");
    assert_eq!(backup.reference, "refs/kitty/backup/012-dirty/WP01/1");
    assert_eq!(backup.files, ["README.md", "deep/dir/file.rs", "untracked.txt"]);
    assert!(!p.path.exists());
    assert_eq!(git(dir, &["show", &format!("{}:untracked.txt", backup.reference)]), "new work\n");
    assert_eq!(git(dir, &["show", &format!("{}:README.md", backup.reference)]), "modified\n");
    assert_eq!(git(dir, &["show", &format!("{}:deep/dir/file.rs", backup.reference)]), "fn main() {}\n");
    // The snapshot did not write the worktree's index (checked before removal via a copy).
    assert!(!index_before.is_empty());
    // The branch (and its commits) stays; the worktree comes back and the backup restores.
    let again = m.ensure(wp01).unwrap();
    assert!(!again.path.join("untracked.txt").exists());
    m.restore(&id("WP01"), 1).unwrap();
    assert_eq!(std::fs::read_to_string(again.path.join("untracked.txt")).unwrap(), "new work\n");
    assert_eq!(std::fs::read_to_string(again.path.join("README.md")).unwrap(), "modified\n");
    assert_eq!(m.backups(&id("WP01")).unwrap().len(), 1);
    assert_fsck_clean(dir);
}

#[test]
fn snapshot_leaves_the_index_alone() {
    let tmp = common::repo();
    let dir = tmp.path();
    let f = feature(dir, "013-index", &[("WP01", "planned", &[])]);
    let m = manager(dir, &f);
    let p = m.ensure(f.work_package(&id("WP01")).unwrap()).unwrap();
    std::fs::write(p.path.join("staged.txt"), "staged\n").unwrap();
    git(&p.path, &["add", "staged.txt"]);
    std::fs::write(p.path.join("loose.txt"), "loose\n").unwrap();
    let status_before = git(&p.path, &["status", "--porcelain"]);
    let index_path = dir.join(".git/worktrees/013-index-WP01/index");
    let index_before = std::fs::read(&index_path).unwrap();
    let backup = m.backup(&id("WP01"), "a test").unwrap().unwrap();
    assert_eq!(backup.files, ["loose.txt", "staged.txt"]);
    assert_eq!(std::fs::read(&index_path).unwrap(), index_before);
    assert_eq!(git(&p.path, &["status", "--porcelain"]), status_before);
    assert!(m.backup(&id("WP01"), "again").unwrap().is_some());
    assert_eq!(m.backups(&id("WP01")).unwrap().iter().map(|b| b.n).collect::<Vec<_>>(), [1, 2]);
}

#[test]
fn collect_auto_commits_leftovers_and_lists_new_commits() {
    let tmp = common::repo();
    let dir = tmp.path();
    let f = feature(dir, "014-collect", &[("WP01", "planned", &[])]);
    let m = manager(dir, &f);
    let wp01 = f.work_package(&id("WP01")).unwrap();
    let p = m.ensure(wp01).unwrap();
    let none = m.collect(wp01, "codex", 1, &p.base, &p.base, true).unwrap();
    assert!(none.commits.is_empty() && none.auto_commit.is_none(), "no changes");
    work(&p.path, "a.txt", "a\n");
    std::fs::write(p.path.join("left-over.txt"), "forgot to commit\n").unwrap();
    std::fs::write(p.path.join(".gitignore"), "*.log\n").unwrap();
    std::fs::write(p.path.join("noise.log"), "ignored\n").unwrap();
    let changes = m.collect(wp01, "codex", 2, &p.base, &p.base, true).unwrap();
    assert!(changes.auto_commit.is_some());
    assert_eq!(changes.commits.len(), 2);
    let message = git(&p.path, &["log", "-1", "--format=%B"]);
    assert!(message.starts_with("WP01: Work WP01\n"), "{message}");
    assert!(message.contains("Kitty-WP: WP01\nKitty-Agent: codex\nKitty-Attempt: 2"), "{message}");
    assert_eq!(git(&p.path, &["log", "-1", "--format=%an"]).trim(), "codex");
    let files = git(&p.path, &["show", "--name-only", "--format=", "HEAD"]);
    assert!(files.contains("left-over.txt") && !files.contains("noise.log"), "{files}");
    assert_eq!(git(&p.path, &["status", "--porcelain"]), "");
    // auto_commit off: the leftovers are reported, not committed.
    std::fs::write(p.path.join("more.txt"), "x\n").unwrap();
    let off = m.collect(wp01, "codex", 3, &p.base, &p.base, false).unwrap();
    assert_eq!(off.uncommitted, ["more.txt"]);
    assert_eq!(off.commits.len(), 2);
}

#[test]
fn worktreeinclude_copies_only_ignored_files_links_as_links_and_setup_stays_pending() {
    let tmp = common::repo();
    let dir = tmp.path();
    std::fs::write(dir.join(".gitignore"), ".env\nsecrets/\nlink\n").unwrap();
    git(dir, &["add", ".gitignore"]);
    git(dir, &["commit", "-q", "-m", "ignore"]);
    std::fs::write(dir.join(".env"), "TOKEN=local\n").unwrap();
    std::fs::create_dir_all(dir.join("secrets")).unwrap();
    std::fs::write(dir.join("secrets/dev.key"), "k\n").unwrap();
    // Matched but not ignored: git would see it, so it is not copied (nor committed later).
    std::fs::write(dir.join("notes.txt"), "mine\n").unwrap();
    // A link out of the tree: copied as a link, never followed (it would copy the repository).
    std::os::unix::fs::symlink("..", dir.join("link")).unwrap();
    std::fs::write(dir.join(".worktreeinclude"), "# files a worktree needs\n.env\nsecrets/\nnotes.txt\nlink\n")
        .unwrap();
    let f = feature(dir, "015-include", &[("WP01", "planned", &[]), ("WP02", "planned", &[])]);
    let p = manager(dir, &f).ensure(f.work_package(&id("WP01")).unwrap()).unwrap();
    assert_eq!(std::fs::read_to_string(p.path.join(".env")).unwrap(), "TOKEN=local\n");
    assert!(p.path.join("secrets/dev.key").exists());
    assert!(!p.path.join("notes.txt").exists());
    let link = std::fs::symlink_metadata(p.path.join("link")).unwrap();
    assert!(link.file_type().is_symlink());
    assert_eq!(std::fs::read_link(p.path.join("link")).unwrap(), Path::new(".."));
    assert!(!p.setup_pending);
    assert_eq!(git(&p.path, &["status", "--porcelain"]), "");

    // With a setup command the worktree stays "being created" until the engine ran it.
    let config = Config::from_toml_str("setup_command = [\"true\"]", "t.toml").unwrap();
    let m = WorktreeManager::new(dir, &f, &config).unwrap();
    let wp02 = f.work_package(&id("WP02")).unwrap();
    let p2 = m.ensure(wp02).unwrap();
    assert!(p2.setup_pending);
    assert!(dir.join(".git/kitty/creating/015-include-WP02").exists());
    m.mark_ready(&id("WP02")).unwrap();
    assert!(!dir.join(".git/kitty/creating/015-include-WP02").exists());
    assert!(!m.ensure(wp02).unwrap().created);
}

#[test]
fn a_worktree_whose_setup_never_finished_is_saved_before_it_is_made_again() {
    let tmp = common::repo();
    let dir = tmp.path();
    let f = feature(dir, "017-setup", &[("WP01", "planned", &[])]);
    let config = Config::from_toml_str("setup_command = [\"false\"]", "t.toml").unwrap();
    let m = WorktreeManager::new(dir, &f, &config).unwrap();
    let wp01 = f.work_package(&id("WP01")).unwrap();
    let p = m.ensure(wp01).unwrap();
    assert!(p.setup_pending);
    // The setup failed; meanwhile the user worked in the worktree (and left a secret there).
    std::fs::write(p.path.join("fix.py"), "print('by hand')\n").unwrap();
    std::fs::write(p.path.join("README.md"), "edited\n").unwrap();
    std::fs::write(p.path.join(".env"), "API_TOKEN=abc\n").unwrap();
    let again = m.ensure(wp01).unwrap();
    assert!(again.created);
    assert_eq!(git(&again.path, &["status", "--porcelain"]), "");
    let backups = m.backups(&id("WP01")).unwrap();
    assert_eq!(backups.len(), 1, "{backups:?}");
    let reference = &backups[0].reference;
    assert_eq!(git(dir, &["show", &format!("{reference}:fix.py")]), "print('by hand')\n");
    assert_eq!(git(dir, &["show", &format!("{reference}:README.md")]), "edited\n");
    // The secret is not in the ref (refs get pushed) but kept aside in .git.
    let listed = git(dir, &["ls-tree", "-r", "--name-only", reference]);
    assert!(!listed.contains(".env"), "{listed}");
    let aside = dir.join(".git/kitty/withheld/017-setup-WP01");
    let stamp = std::fs::read_dir(&aside).unwrap().next().unwrap().unwrap().path();
    assert_eq!(std::fs::read_to_string(stamp.join(".env")).unwrap(), "API_TOKEN=abc\n");
    assert_fsck_clean(dir);
}

#[test]
fn auto_commit_withholds_secrets_and_worktreeinclude_files() {
    let tmp = common::repo();
    let dir = tmp.path();
    std::fs::write(dir.join(".worktreeinclude"), "config/local.toml\n").unwrap();
    let f = feature(dir, "018-withhold", &[("WP01", "planned", &[])]);
    let config = Config::from_toml_str("auto_commit_exclude = [\"*.secret\"]", "t.toml").unwrap();
    let m = WorktreeManager::new(dir, &f, &config).unwrap();
    let wp01 = f.work_package(&id("WP01")).unwrap();
    let p = m.ensure(wp01).unwrap();
    for (file, text) in [
        ("src/lib.rs", "pub fn f() {}\n"),
        (".env", "OPENAI_API_KEY=sk-x\n"),
        ("deploy/id_ed25519", "-----BEGIN\n"),
        ("certs/server.pem", "pem\n"),
        ("config/local.toml", "password = 1\n"),
        ("db.secret", "s\n"),
        (".env.example", "OPENAI_API_KEY=\n"),
    ] {
        std::fs::create_dir_all(p.path.join(file).parent().unwrap()).unwrap();
        std::fs::write(p.path.join(file), text).unwrap();
    }
    let changes = m.collect(wp01, "codex", 1, &p.base, &p.base, true).unwrap();
    assert_eq!(
        changes.withheld,
        [".env", "certs/server.pem", "config/local.toml", "db.secret", "deploy/id_ed25519"],
        "{changes:?}"
    );
    let committed = git(dir, &["ls-tree", "-r", "--name-only", &changes.head]);
    assert!(committed.contains("src/lib.rs") && committed.contains(".env.example"), "{committed}");
    for secret in [".env\n", "id_ed25519", "server.pem", "local.toml", "db.secret"] {
        assert!(!committed.contains(secret), "{secret} committed: {committed}");
    }
    // The withheld files are still there, uncommitted, and never go into a backup ref either.
    assert!(p.path.join(".env").exists());
    assert!(m.backup(&id("WP01"), "a test").unwrap().is_none());
    // Only withheld files changed: no commit at all.
    std::fs::write(p.path.join(".env"), "OPENAI_API_KEY=sk-y\n").unwrap();
    let again = m.collect(wp01, "codex", 2, &p.base, &changes.head, true).unwrap();
    assert!(again.auto_commit.is_none() && again.new_commits.is_empty(), "{again:?}");
}

#[test]
fn discarding_leftovers_saves_them_and_resets_to_head() {
    let tmp = common::repo();
    let dir = tmp.path();
    let f = feature(dir, "019-leftovers", &[("WP01", "planned", &[])]);
    let m = manager(dir, &f);
    let wp01 = f.work_package(&id("WP01")).unwrap();
    let p = m.ensure(wp01).unwrap();
    std::fs::write(p.path.join("README.md"), "half-edited\n").unwrap();
    std::fs::write(p.path.join("new.rs"), "fn half(\n").unwrap();
    git(&p.path, &["add", "new.rs"]);
    std::fs::write(p.path.join(".env"), "KEEP=me\n").unwrap();
    let backup = m.discard_leftovers(&id("WP01"), "a failed attempt (timeout)").unwrap().unwrap();
    assert_eq!(backup.files, ["README.md", "new.rs"]);
    assert_eq!(git(dir, &["show", &format!("{}:new.rs", backup.reference)]), "fn half(\n");
    assert_eq!(std::fs::read_to_string(p.path.join("README.md")).unwrap(), "hello\n");
    assert!(!p.path.join("new.rs").exists());
    // The withheld file stays where it was; nothing else is left.
    assert_eq!(git(&p.path, &["status", "--porcelain"]), "?? .env\n");
}

#[test]
fn an_interrupted_creation_is_discarded_and_made_again() {
    let tmp = common::repo();
    let dir = tmp.path();
    let f = feature(dir, "016-interrupted", &[("WP01", "planned", &[])]);
    let m = manager(dir, &f);
    // What a process killed in the middle of libgit2's worktree add leaves: a directory, part of
    // the admin dir, and our creation marker.
    let path = m.path_for(&id("WP01"));
    std::fs::create_dir_all(&path).unwrap();
    std::fs::write(path.join("README.md"), "half").unwrap();
    std::fs::create_dir_all(dir.join(".git/worktrees/016-interrupted-WP01")).unwrap();
    std::fs::create_dir_all(dir.join(".git/kitty/creating")).unwrap();
    std::fs::write(dir.join(".git/kitty/creating/016-interrupted-WP01"), "pid 1\n").unwrap();
    let p = m.ensure(f.work_package(&id("WP01")).unwrap()).unwrap();
    assert!(p.created);
    assert_eq!(git(&p.path, &["status", "--porcelain"]), "");
    assert!(!dir.join(".git/kitty/creating/016-interrupted-WP01").exists());
    assert_fsck_clean(dir);
}

/// Files under `dir` (relative, sorted), `.git` left out.
fn files_on_disk(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if entry.file_name() == ".git" {
                continue;
            }
            if entry.file_type().unwrap().is_dir() {
                walk(root, &path, out);
            } else {
                out.push(path.strip_prefix(root).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn a_recycled_worktree_holds_exactly_what_a_fresh_one_would_and_the_old_work_is_kept() {
    use std::os::unix::fs::MetadataExt;
    let tmp = common::repo();
    let dir = tmp.path();
    let f = diamond(dir);
    let m = manager(dir, &f);
    let wp = |s: &str| f.work_package(&id(s)).unwrap();
    let p1 = m.ensure(wp("WP01")).unwrap();
    std::fs::write(p1.path.join(".gitignore"), "build/\n").unwrap();
    git(&p1.path, &["add", ".gitignore"]);
    work(&p1.path, "wp01.txt", "one\n");
    // WP02 finishes with committed work, an ignored build product and an untracked leftover.
    let p2 = m.ensure(wp("WP02")).unwrap();
    let tip2 = work(&p2.path, "wp02.txt", "two\n");
    std::fs::create_dir_all(p2.path.join("build")).unwrap();
    std::fs::write(p2.path.join("build/out.bin"), "stale\n").unwrap();
    std::fs::write(p2.path.join("notes.txt"), "unfinished thought\n").unwrap();
    std::fs::write(p2.path.join("wp01.txt"), "edited, not committed\n").unwrap();
    let readme_inode = std::fs::metadata(p2.path.join("README.md")).unwrap().ino();

    // WP03 (also on WP01, not on WP02) takes WP02's worktree.
    let p3 = m.recycle(&id("WP02"), wp("WP03")).unwrap().expect("recycled");
    assert_eq!(p3.recycled_from, Some(id("WP02")));
    assert_eq!(p3.path, m.path_for(&id("WP03")));
    assert!(!p2.path.exists(), "the old directory was moved");
    assert_eq!(git(&p3.path, &["symbolic-ref", "HEAD"]).trim(), "refs/heads/010-diamond-WP03");
    // Exactly the new branch's tree: nothing stale, nothing modified, nothing ignored left.
    let tracked: Vec<String> =
        git(&p3.path, &["ls-tree", "-r", "--name-only", "HEAD"]).lines().map(str::to_string).collect();
    assert_eq!(files_on_disk(&p3.path), tracked);
    assert_eq!(git(&p3.path, &["status", "--porcelain", "--ignored"]), "");
    assert_eq!(std::fs::read_to_string(p3.path.join("wp01.txt")).unwrap(), "one\n");
    assert_eq!(git(&p3.path, &["rev-parse", "HEAD"]), git(dir, &["rev-parse", "010-diamond-WP01"]));
    // Only what differs was written: a file both trees share is the same file.
    assert_eq!(std::fs::metadata(p3.path.join("README.md")).unwrap().ino(), readme_inode);
    // The same as a fresh checkout of that branch by git itself.
    let fresh = dir.join("fresh");
    git(dir, &["worktree", "add", "-q", "--detach", fresh.to_str().unwrap(), "010-diamond-WP03"]);
    assert_eq!(files_on_disk(&fresh), files_on_disk(&p3.path));
    for file in files_on_disk(&fresh) {
        assert_eq!(std::fs::read(fresh.join(&file)).unwrap(), std::fs::read(p3.path.join(&file)).unwrap(), "{file}");
    }
    git(dir, &["worktree", "remove", fresh.to_str().unwrap()]);
    // git sees the move: the new path registered, the old one gone, nothing to prune.
    let listed = git(dir, &["worktree", "list", "--porcelain"]);
    assert!(
        listed.contains(&format!("worktree {}", p3.path.display())) && !listed.contains("010-diamond-WP02"),
        "{listed}"
    );
    assert_eq!(git(dir, &["worktree", "prune", "--dry-run", "--verbose"]), "");
    // WP02 keeps its branch, and its uncommitted work is in a backup ref.
    assert_eq!(git(dir, &["rev-parse", "010-diamond-WP02"]).trim(), tip2);
    let backups = m.backups(&id("WP02")).unwrap();
    assert_eq!(backups.len(), 1, "{backups:?}");
    let saved = &backups[0].reference;
    assert_eq!(git(dir, &["show", &format!("{saved}:notes.txt")]), "unfinished thought\n");
    assert_eq!(git(dir, &["show", &format!("{saved}:wp01.txt")]), "edited, not committed\n");
    // The recycled worktree works like any other, and WP04 builds on both.
    let tip3 = work(&p3.path, "wp03.txt", "three\n");
    assert_eq!(git(dir, &["rev-parse", "010-diamond-WP03"]).trim(), tip3);
    let p4 = m.ensure(wp("WP04")).unwrap();
    for file in ["wp01.txt", "wp02.txt", "wp03.txt"] {
        assert!(p4.path.join(file).exists(), "{file} missing from WP04's worktree");
    }
    // Made again for WP02 (a retry), its worktree comes back from its branch.
    let again = m.ensure(wp("WP02")).unwrap();
    assert!(again.created && again.reused_branch);
    assert_eq!(std::fs::read_to_string(again.path.join("wp02.txt")).unwrap(), "two\n");
    assert_fsck_clean(dir);
}

#[test]
fn a_worktree_that_cannot_be_recycled_is_simply_not_recycled() {
    let tmp = common::repo();
    let dir = tmp.path();
    let f = diamond(dir);
    let m = manager(dir, &f);
    let wp = |s: &str| f.work_package(&id(s)).unwrap();
    let p1 = m.ensure(wp("WP01")).unwrap();
    work(&p1.path, "wp01.txt", "one\n");
    let p2 = m.ensure(wp("WP02")).unwrap();
    // Locked by someone: left alone.
    git(dir, &["worktree", "lock", "--reason", "mine", p2.path.to_str().unwrap()]);
    assert!(m.recycle(&id("WP02"), wp("WP03")).unwrap().is_none());
    assert!(p2.path.exists() && !m.path_for(&id("WP03")).exists());
    git(dir, &["worktree", "unlock", p2.path.to_str().unwrap()]);
    // Not on its WP's branch (someone checked out something else there): left alone.
    git(&p2.path, &["checkout", "-q", "--detach"]);
    assert!(m.recycle(&id("WP02"), wp("WP03")).unwrap().is_none());
    git(&p2.path, &["checkout", "-q", "010-diamond-WP02"]);
    // The new WP already has a worktree, or the old one is gone: nothing to do.
    let p3 = m.ensure(wp("WP03")).unwrap();
    assert!(m.recycle(&id("WP02"), wp("WP03")).unwrap().is_none());
    assert!(m.recycle(&id("WP04"), wp("WP03")).unwrap().is_none());
    assert!(p2.path.exists() && p3.path.exists());
    assert_eq!(git(&p2.path, &["symbolic-ref", "HEAD"]).trim(), "refs/heads/010-diamond-WP02");
    assert_fsck_clean(dir);
}
