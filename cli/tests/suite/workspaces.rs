//! `run --clone URL` and `workspaces list|remove` as real processes, against bare repositories
//! cloned by `file://` URL through the real `git`.

use std::path::Path;

use crate::common::{bin, git, repo};

/// A bare repository `<parent>/app.git` holding feature `010-ws` (two chained WPs) and a
/// configuration running the fake agents; its `file://` URL.
fn bare(parent: &Path, slug: &str) -> (tempfile::TempDir, String) {
    let src = repo(slug, 2, "");
    let bare = parent.join("app.git");
    git(parent, &["clone", "-q", "--bare", &src.path().display().to_string(), &bare.display().to_string()]);
    (src, format!("file://{}", bare.display()))
}

fn text(out: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn run_clone_runs_a_feature_from_an_empty_directory_then_reuses_the_clone() {
    let remotes = tempfile::tempdir().unwrap();
    let (_src, url) = bare(remotes.path(), "010-ws");
    let empty = tempfile::tempdir().unwrap();
    let out =
        bin().args(["run", "--clone", &url, "010-ws", "--grace", "1"]).current_dir(empty.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("cloned into"), "{}", text(&out));
    let ws = empty.path().join("app");
    let lanes = git(&ws, &["log", "-1", "--format=%B", "refs/kitty/wp/010-ws/WP02"]);
    assert!(lanes.contains("done"), "{lanes}");
    assert!(git(&ws, &["ls-tree", "--name-only", "010-ws-WP02"]).contains("WP02.txt"));

    // Again: the clone is reused (nothing is cloned twice), and the run has nothing left to do.
    let again =
        bin().args(["run", "--clone", &url, "010-ws", "--grace", "1"]).current_dir(empty.path()).output().unwrap();
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert!(text(&again).contains("reusing"), "{}", text(&again));
    let entries: Vec<_> = std::fs::read_dir(empty.path()).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(entries, vec![std::ffi::OsString::from("app")], "only the one workspace");

    // The list shows where it came from and how far its feature is.
    let list = bin().args(["workspaces", "list", "--json"]).current_dir(empty.path()).output().unwrap();
    assert_eq!(list.status.code(), Some(0), "{}", text(&list));
    let list: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(list[0]["name"], "app");
    assert_eq!(list[0]["origin"], url.as_str());
    assert_eq!(list[0]["branch"], "main");
    let feature = &list[0]["features"][0];
    assert_eq!(
        (feature["feature"].as_str(), feature["wps"].as_u64(), feature["done"].as_u64()),
        (Some("010-ws"), Some(2), Some(2))
    );
    assert_eq!(feature["run"], "finished");
    let plain = bin().args(["workspaces", "list"]).current_dir(empty.path()).output().unwrap();
    assert!(text(&plain).contains("010-ws: 2/2 done"), "{}", text(&plain));
}

#[test]
fn a_url_that_does_not_exist_leaves_nothing_and_names_the_url() {
    let empty = tempfile::tempdir().unwrap();
    let url = format!("file://{}/no-such.git", empty.path().display());
    let dir = empty.path().join("ws");
    let out = bin()
        .args(["run", "--clone", &url, "--workspace-dir", &dir.display().to_string(), "010-ws"])
        .current_dir(empty.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(70), "{}", text(&out));
    let err = text(&out);
    assert!(err.contains(&url) && err.contains("cloning"), "{err}");
    assert!(!dir.exists(), "the workspace directory it made is gone again");
    let json = bin().args(["run", "--clone", &url, "--json", "010-ws"]).current_dir(empty.path()).output().unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(doc["code"], "remote_failed");
    assert_eq!(std::fs::read_dir(empty.path()).unwrap().count(), 0, "nothing was left behind");
}

#[test]
fn a_workspace_of_another_origin_is_refused_and_remove_backs_up_first() {
    let remotes = tempfile::tempdir().unwrap();
    let (_src, url) = bare(remotes.path(), "010-ws");
    let others = tempfile::tempdir().unwrap();
    let (_other_src, other_url) = bare(others.path(), "020-other");
    let ws_dir = tempfile::tempdir().unwrap();
    let run = |url: &str| {
        bin().args(["run", "--clone", url, "010-ws", "--grace", "1"]).current_dir(ws_dir.path()).output().unwrap()
    };
    assert_eq!(run(&url).status.code(), Some(0));
    let refused = run(&other_url);
    assert_eq!(refused.status.code(), Some(70), "{}", text(&refused));
    let err = text(&refused);
    assert!(err.contains("is a clone of") && err.contains(&url) && err.contains(&other_url), "{err}");

    // The run left WP branches that are on no remote and an uncommitted file: remove refuses.
    let ws = ws_dir.path().join("app");
    std::fs::write(ws.join("notes.txt"), "mine\n").unwrap();
    let remove = |force: bool| {
        let mut cmd = bin();
        cmd.args(["workspaces", "remove", "app"]).current_dir(ws_dir.path());
        if force {
            cmd.arg("--force");
        }
        cmd.output().unwrap()
    };
    let no = remove(false);
    assert_eq!(no.status.code(), Some(70), "{}", text(&no));
    let why = text(&no);
    assert!(why.contains("unsaved work") && why.contains("notes.txt") && why.contains("010-ws-WP01"), "{why}");
    assert!(ws.join("notes.txt").exists(), "nothing was removed");

    // Forced: a bundle with every ref, the uncommitted file on a backup ref, is written first.
    let yes = remove(true);
    assert_eq!(yes.status.code(), Some(0), "{}", text(&yes));
    assert!(!ws.exists());
    let backups: Vec<_> = std::fs::read_dir(ws_dir.path().join(".kitty-backups")).unwrap().flatten().collect();
    assert_eq!(backups.len(), 1);
    let bundle = backups[0].path();
    let heads = git(ws_dir.path(), &["bundle", "list-heads", &bundle.display().to_string()]);
    for wanted in ["refs/heads/010-ws-WP02", "refs/kitty/wp/010-ws/WP02", "refs/kitty/workspace-backup/main"] {
        assert!(heads.contains(wanted), "{wanted} in {heads}");
    }
    let restored = ws_dir.path().join("restored");
    git(ws_dir.path(), &["init", "-q", &restored.display().to_string()]);
    git(&restored, &["fetch", "-q", &bundle.display().to_string(), "refs/*:refs/*"]);
    assert_eq!(git(&restored, &["show", "refs/kitty/workspace-backup/main:notes.txt"]).trim(), "mine");
    let listed = bin().args(["workspaces", "list", "--json"]).current_dir(ws_dir.path()).output().unwrap();
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert!(listed.as_array().unwrap().iter().all(|w| w["name"] != "app"), "{listed}");
}
