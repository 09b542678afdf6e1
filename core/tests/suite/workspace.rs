//! Workspaces through the Rust API: a clone reused and fast-forwarded when its upstream moved,
//! linked worktrees backed up and removed with their workspace, and a removal refused while a
//! run holds the workspace.

use std::path::Path;

use kitty_orchestrator::workspace::{CloneOptions, WorkspaceError, clone_workspace, remove_workspace};
use tokio_util::sync::CancellationToken;

use crate::common::git;

fn commit(dir: &Path, file: &str, text: &str) {
    std::fs::write(dir.join(file), text).unwrap();
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-qm", file]);
}

/// A source repository and a bare clone of it, `<tmp>/svc.git`.
fn upstream(tmp: &Path) -> (std::path::PathBuf, String) {
    let src = tmp.join("src");
    std::fs::create_dir_all(&src).unwrap();
    git(&src, &["init", "-q", "-b", "main"]);
    git(&src, &["config", "user.email", "t@example.com"]);
    git(&src, &["config", "user.name", "t"]);
    commit(&src, "README.md", "one\n");
    git(tmp, &["clone", "-q", "--bare", "src", "svc.git"]);
    git(&src, &["remote", "add", "origin", &tmp.join("svc.git").display().to_string()]);
    (src, format!("file://{}", tmp.join("svc.git").display()))
}

#[tokio::test]
async fn a_reused_clone_is_fast_forwarded_and_a_changed_one_is_left_with_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, url) = upstream(tmp.path());
    let options = CloneOptions::new(&url, tmp.path().join("ws"));
    let cancel = CancellationToken::new();
    let first = clone_workspace(&options, &cancel).await.unwrap();
    assert!(!first.reused);
    commit(&src, "README.md", "two\n");
    git(&src, &["push", "-q", "origin", "main"]);
    let second = clone_workspace(&options, &cancel).await.unwrap();
    assert!(second.reused && second.warnings.is_empty(), "{second:?}");
    assert_eq!(std::fs::read_to_string(second.path.join("README.md")).unwrap(), "two\n");
    // With a local change, the clone is not updated, and the caller is told so.
    commit(&src, "README.md", "three\n");
    git(&src, &["push", "-q", "origin", "main"]);
    std::fs::write(second.path.join("wip.txt"), "mine\n").unwrap();
    let third = clone_workspace(&options, &cancel).await.unwrap();
    assert_eq!(std::fs::read_to_string(third.path.join("README.md")).unwrap(), "two\n");
    assert!(third.warnings.iter().any(|w| w.contains("uncommitted changes")), "{:?}", third.warnings);
    // A branch named explicitly is checked out.
    git(&src, &["switch", "-q", "-c", "release"]);
    git(&src, &["push", "-q", "origin", "release"]);
    let mut on_release = CloneOptions::new(&url, tmp.path().join("ws2"));
    on_release.branch = Some("release".into());
    assert_eq!(clone_workspace(&on_release, &cancel).await.unwrap().branch.as_deref(), Some("release"));
}

#[tokio::test]
async fn removal_backs_up_linked_worktrees_and_waits_for_a_running_feature() {
    let tmp = tempfile::tempdir().unwrap();
    let (_src, url) = upstream(tmp.path());
    let cancel = CancellationToken::new();
    let ws = clone_workspace(&CloneOptions::new(&url, tmp.path().join("ws")), &cancel).await.unwrap();
    // A linked worktree outside the workspace, with an uncommitted file.
    let outside = tmp.path().join("elsewhere-wt");
    git(&ws.path, &["worktree", "add", "-q", "-b", "side", &outside.display().to_string()]);
    git(&outside, &["config", "user.email", "t@example.com"]);
    git(&outside, &["config", "user.name", "t"]);
    commit(&outside, "side.txt", "only here\n");
    std::fs::write(outside.join("draft.txt"), "draft\n").unwrap();

    // A run holding one of its features: refused, forced or not.
    git(&ws.path, &["update-ref", "refs/kitty/run/010-busy", "HEAD"]);
    let store = kitty_orchestrator::StateStore::open(&ws.path).unwrap();
    let owner =
        kitty_orchestrator::state::Owner { run_id: "01TEST".into(), pid: std::process::id(), host: "here".into() };
    let lock = store.lock_run(&kitty_orchestrator::FeatureSlug::parse("010-busy").unwrap(), &owner).unwrap();
    let busy = remove_workspace(&tmp.path().join("ws"), "svc", true, &cancel).await.unwrap_err();
    assert!(matches!(busy, WorkspaceError::RunGoing { .. }), "{busy}");
    assert_eq!(kitty_orchestrator::Error::from(busy).code(), kitty_orchestrator::ErrorCode::RunLocked);
    drop(lock);

    let refused = remove_workspace(&tmp.path().join("ws"), "svc", false, &cancel).await.unwrap_err().to_string();
    assert!(refused.contains("draft.txt") && refused.contains("branch side is on no remote"), "{refused}");
    let removed = remove_workspace(&tmp.path().join("ws"), "svc", true, &cancel).await.unwrap();
    assert_eq!(removed.worktrees_removed, std::slice::from_ref(&outside));
    assert!(!outside.exists() && !ws.path.exists());
    let bundle = removed.backup.unwrap();
    let heads = git(tmp.path(), &["bundle", "list-heads", &bundle.display().to_string()]);
    assert!(heads.contains("refs/kitty/workspace-backup/elsewhere-wt") && heads.contains("refs/heads/side"), "{heads}");
    let missing = remove_workspace(&tmp.path().join("ws"), "svc", false, &cancel).await.unwrap_err().to_string();
    assert!(missing.contains("no workspace `svc`"), "{missing}");
}

/// `workspaces list` shows what `run --clone` made, not every repository that happens to sit in
/// the directory (without `--workspace-dir` that is the current one, as with `git clone`).
#[tokio::test]
async fn only_our_workspaces_are_listed() {
    let tmp = tempfile::tempdir().unwrap();
    let (_src, url) = upstream(tmp.path());
    let dir = tmp.path().join("ws");
    let cloned = clone_workspace(&CloneOptions::new(&url, &dir), &CancellationToken::new()).await.unwrap();
    let theirs = dir.join("someone-elses");
    std::fs::create_dir_all(&theirs).unwrap();
    git(&theirs, &["init", "-q"]);
    let listed = kitty_orchestrator::workspace::list_workspaces(&dir).unwrap();
    let names: Vec<&str> = listed.iter().map(|w| w.name.as_str()).collect();
    assert_eq!(names, [cloned.name.as_str()], "{listed:#?}");
}
