//! `merge` as a real process: plain and JSON output, dry run, exit codes.

use crate::common::{bin, git, repo, write_config};

fn run(dir: &std::path::Path, feature: &str) {
    let out = bin().args(["run", feature, "--grace", "1"]).current_dir(dir).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn merge_lands_the_run_and_a_second_merge_says_nothing_to_merge() {
    let tmp = repo("010-land", 4, "");
    let dir = tmp.path();
    run(dir, "010-land");
    let dry = bin().args(["merge", "010-land", "--dry-run"]).current_dir(dir).output().unwrap();
    let text = String::from_utf8_lossy(&dry.stdout);
    assert_eq!(dry.status.code(), Some(0), "{text}");
    assert!(text.contains("would merge 010-land-WP01") && text.contains("nothing was changed"), "{text}");
    let out = bin().args(["merge", "010-land", "--json"]).current_dir(dir).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let last: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(last["type"], "merge_report");
    assert_eq!(last["report"]["outcome"], "merged");
    assert_eq!(last["report"]["steps"].as_array().unwrap().len(), 4);
    assert_eq!(last["report"]["steps"][0]["action"], "merge");
    assert!(stdout.lines().any(|l| l.contains("\"type\":\"merged\"")), "the merged event: {stdout}");
    let files = git(dir, &["ls-tree", "--name-only", "main"]);
    assert!((1..=4).all(|k| files.contains(&format!("WP0{k}.txt"))), "{files}");
    let again = bin().args(["merge", "010-land"]).current_dir(dir).output().unwrap();
    let text = String::from_utf8_lossy(&again.stdout);
    assert_eq!(again.status.code(), Some(0));
    assert!(text.contains("nothing to merge"), "{text}");
}

#[test]
fn conflicts_exit_2_naming_wps_and_paths_and_a_dry_run_exits_1() {
    let tmp = repo("020-clash", 2, "");
    let dir = tmp.path();
    // Two independent WPs (chained_wps(2) makes WP02 depend on WP01: rewrite it) writing one file.
    let wp2 = dir.join("kitty-specs/020-clash/tasks/WP02-work.md");
    let text = std::fs::read_to_string(&wp2).unwrap().replace("dependencies: [WP01]", "dependencies: []");
    std::fs::write(&wp2, text).unwrap();
    write_config(dir, "FAKE_EXTRA_FILES = \"shared.txt\"");
    git(dir, &["commit", "-qam", "independent"]);
    run(dir, "020-clash");
    let main = git(dir, &["rev-parse", "main"]);
    let dry = bin().args(["merge", "020-clash", "--dry-run"]).current_dir(dir).output().unwrap();
    let text = String::from_utf8_lossy(&dry.stdout);
    assert_eq!(dry.status.code(), Some(1), "{text}");
    assert!(text.contains("conflict: WP02 with WP01 in shared.txt"), "{text}");
    let out = bin().args(["merge", "020-clash", "--json"]).current_dir(dir).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(err["code"], "merge_conflict");
    let message = err["error"].as_str().unwrap();
    assert!(message.contains("WP02 with WP01 in shared.txt") && message.contains("nothing was changed"), "{message}");
    assert_eq!(git(dir, &["rev-parse", "main"]), main);
    let bad = bin().args(["merge", "020-clash", "--into", "a..b"]).current_dir(dir).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("into"), "{}", String::from_utf8_lossy(&bad.stderr));
}

#[test]
fn merge_push_and_push_reach_a_bare_remote() {
    let tmp = repo("030-share", 2, "");
    let dir = tmp.path();
    let remote = dir.join("remote.git");
    git(dir, &["init", "-q", "--bare", "-b", "main", remote.to_str().unwrap()]);
    git(dir, &["remote", "add", "origin", remote.to_str().unwrap()]);
    run(dir, "030-share");
    let out = bin().args(["merge", "030-share", "--push"]).current_dir(dir).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("pushed to origin") && text.contains("refs/heads/main  created"), "{text}");
    let again = bin().args(["push", "030-share", "--json"]).current_dir(dir).output().unwrap();
    assert_eq!(again.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(report["type"], "push_report");
    assert!(report["report"]["refs"].as_array().unwrap().iter().all(|r| r["status"] == "up_to_date"), "{report}");
    let bad = bin().args(["push", "030-share", "--remote", "nowhere"]).current_dir(dir).output().unwrap();
    assert_eq!(bad.status.code(), Some(70));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("remote `nowhere`"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}

/// `kill -9` of `merge` while it brings the checked-out target along: no stale ref lock is left
/// (the user's own `git commit` works), and the next `merge` finishes or undoes what was half
/// done — saying which — so the checkout is clean and the landing completes.
#[test]
fn a_merge_killed_while_it_updates_the_checkout_is_settled_by_the_next_one() {
    let tmp = repo("030-kill", 1, "");
    let dir = tmp.path();
    let attacker =
        kitty_test_support::toml_string(&kitty_test_support::fixture("agents/attacker-agent").display().to_string());
    let fake = kitty_test_support::toml_string(&kitty_test_support::fake_agent());
    std::fs::write(
        dir.join(".kittify/orchestrator.toml"),
        format!(
            "[agents]\nimplementation = [\"impl\"]\nreview = [\"rev\"]\n\
             [agents.impl]\ncommand = [{attacker}]\nenv = {{ ATTACK = \"many_files\", ATTACK_FILES = \"20000\" }}\n\
             [agents.rev]\ncommand = [{fake}]\noutput = \"stream-json\"\n"
        ),
    )
    .unwrap();
    git(dir, &["commit", "-qam", "agents"]);
    run(dir, "030-kill");
    let before = git(dir, &["rev-parse", "main"]);
    let journal = dir.join(".git/kitty/landing");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("kitty-orchestrator"))
        .args(["merge", "030-kill"])
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let mut caught = false;
    while started.elapsed() < std::time::Duration::from_secs(120) {
        // The record itself, not its temporary file (killed before the rename, the landing has
        // not begun: the next merge simply lands).
        let recorded = |d: std::fs::ReadDir| d.flatten().any(|e| e.path().extension().is_some_and(|x| x == "json"));
        if journal.read_dir().is_ok_and(recorded) {
            caught = true;
            break;
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_micros(200));
    }
    // SIGKILL (what std's kill sends): no handler, no cleanup.
    let _ = child.kill();
    let _ = child.wait();
    assert!(caught, "the merge finished before it could be killed midway");
    assert!(!dir.join(".git/refs/heads/main.lock").exists(), "a stale main.lock wedges the repository");
    let again = bin().args(["merge", "030-kill"]).current_dir(dir).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&again.stdout), String::from_utf8_lossy(&again.stderr));
    assert_eq!(again.status.code(), Some(0), "{text}");
    assert!(text.contains("rolled forward") || text.contains("rolled back"), "a line says which: {text}");
    assert_eq!(git(dir, &["status", "--porcelain", "--untracked-files=all"]), "", "the checkout is clean");
    assert_ne!(git(dir, &["rev-parse", "main"]), before, "the landing completed");
    assert!(dir.join("bulk/f19999.txt").exists());
    assert!(journal.read_dir().is_ok_and(|mut d| d.next().is_none()), "the record is gone");
    git(dir, &["commit", "-q", "--allow-empty", "-m", "the user's own commit works"]);
    kitty_test_support::assert_fsck_clean(dir);
}
