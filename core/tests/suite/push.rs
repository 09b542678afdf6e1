//! Pushing what landed: to a local bare remote and through `git daemon` on loopback, with the
//! real `git` binary.

use crate::common;

use std::path::Path;
use std::process::Command;

use crate::common::{agent, config, fast, git};
use kitty_orchestrator::engine::MergeOutcome;
use kitty_orchestrator::engine::{MergeOptions, PushOptions, RunOutcome, no_events};
use kitty_orchestrator::remote::PushStatus;
use kitty_orchestrator::{ErrorCode, Orchestrator};
use tokio_util::sync::CancellationToken;

const F: &str = "100-push";

/// A repository whose feature ran to done, with `remote` as its `origin`.
async fn landed_repo(remote: &str) -> (tempfile::TempDir, Orchestrator) {
    let tmp = common::repo();
    let dir = tmp.path();
    common::feature(dir, F, &[("WP01", "planned", &[]), ("WP02", "planned", &["WP01"])]);
    git(dir, &["remote", "add", "origin", remote]);
    let cfg =
        config("[agents]\nimplementation = [\"impl\"]\nreview = [\"rev\"]", &[agent("impl", &[]), agent("rev", &[])]);
    let orch = Orchestrator::open(dir, Some(cfg)).unwrap();
    let summary = orch.run(F, fast(), no_events(), CancellationToken::new()).await.unwrap();
    assert_eq!(summary.outcome, RunOutcome::Completed);
    (tmp, orch)
}

fn bare(dir: &Path) -> String {
    let remote = dir.join("remote.git");
    git(dir, &["init", "-q", "--bare", "-b", "main", remote.to_str().unwrap()]);
    remote.display().to_string()
}

fn remote_ref(remote: &str, name: &str) -> Option<String> {
    let out = Command::new("git").args(["ls-remote", remote, name]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.ends_with(&format!("\t{name}")))
        .map(|l| l[..40].to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_then_push_lands_the_branch_and_the_kitty_refs_on_a_bare_remote() {
    let place = tempfile::tempdir().unwrap();
    let remote = bare(place.path());
    let (tmp, orch) = landed_repo(&remote).await;
    let dir = tmp.path();
    let report = orch
        .merge(F, MergeOptions { push: true, ..MergeOptions::default() }, no_events(), CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(report.outcome, MergeOutcome::Merged);
    assert!(report.push_error.is_none(), "{report:#?}");
    let pushed = report.pushed.unwrap();
    let main = pushed.refs.iter().find(|r| r.reference == "refs/heads/main").unwrap();
    assert_eq!(main.status, PushStatus::Created);
    let local = |r: &str| git(dir, &["rev-parse", r]).trim().to_string();
    for name in [
        "refs/heads/main",
        &format!("refs/kitty/wp/{F}/WP01"),
        &format!("refs/kitty/wp/{F}/WP02"),
        &format!("refs/kitty/run/{F}"),
    ] {
        assert_eq!(remote_ref(&remote, name), Some(local(name)), "{name} on the remote");
    }
    assert_eq!(remote_ref(&remote, &format!("refs/heads/{F}-WP01")), None, "WP branches only with --branches");
    // Pushing again changes nothing; with branches, the WP branches go too.
    let again =
        orch.push(F, PushOptions { branches: true, ..PushOptions::default() }, CancellationToken::new()).await.unwrap();
    assert!(
        again.refs.iter().filter(|r| !r.reference.contains("-WP0")).all(|r| r.status == PushStatus::UpToDate),
        "{again:#?}"
    );
    assert_eq!(remote_ref(&remote, &format!("refs/heads/{F}-WP02")), Some(local(&format!("refs/heads/{F}-WP02"))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_that_moved_under_us_is_refused_naming_the_ref_and_nothing_is_pushed() {
    let place = tempfile::tempdir().unwrap();
    let remote = bare(place.path());
    let (tmp, orch) = landed_repo(&remote).await;
    let dir = tmp.path();
    orch.merge(F, MergeOptions { push: true, ..MergeOptions::default() }, no_events(), CancellationToken::new())
        .await
        .unwrap();
    // Someone else pushes to main meanwhile.
    let other = place.path().join("other");
    git(place.path(), &["clone", "-q", &remote, other.to_str().unwrap()]);
    git(
        &other,
        &["-c", "user.name=O", "-c", "user.email=o@example.com", "commit", "-q", "--allow-empty", "-m", "theirs"],
    );
    git(&other, &["push", "-q", "origin", "main"]);
    let theirs = remote_ref(&remote, "refs/heads/main").unwrap();
    // Our side records something new (a retry-free event: a second landing of nothing) and pushes.
    git(dir, &["-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-q", "--allow-empty", "-m", "ours"]);
    let run_before = remote_ref(&remote, &format!("refs/kitty/run/{F}"));
    let err = orch.push(F, PushOptions::default(), CancellationToken::new()).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::PushRejected, "{err}");
    let text = err.to_string();
    assert!(text.contains("refs/heads/main") && text.contains("moved under us"), "{text}");
    assert_eq!(remote_ref(&remote, "refs/heads/main"), Some(theirs), "their commit is still there");
    assert_eq!(remote_ref(&remote, &format!("refs/kitty/run/{F}")), run_before, "nothing was pushed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_goes_through_git_daemon_on_loopback() {
    let place = tempfile::tempdir().unwrap();
    let remote = bare(place.path());
    let served = kitty_test_support::GitDaemon::start(place.path());
    let url = format!("git://127.0.0.1:{}/remote.git", served.port);
    let (_tmp, orch) = landed_repo(&url).await;
    orch.merge(F, MergeOptions::default(), no_events(), CancellationToken::new()).await.unwrap();
    let report = orch.push(F, PushOptions::default(), CancellationToken::new()).await.unwrap();
    assert!(
        report.refs.iter().any(|r| r.reference == format!("refs/kitty/wp/{F}/WP02") && r.status == PushStatus::Created)
    );
    assert!(remote_ref(&remote, "refs/heads/main").is_some());
    assert!(remote_ref(&remote, &format!("refs/kitty/run/{F}")).is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_remote_fails_clearly_without_showing_credentials() {
    let (_tmp, orch) = landed_repo("https://kitty:hunter2secret@127.0.0.1:9/nothing.git").await;
    orch.merge(F, MergeOptions::default(), no_events(), CancellationToken::new()).await.unwrap();
    let err = orch.push(F, PushOptions::default(), CancellationToken::new()).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::RemoteFailed, "{err}");
    let text = err.to_string();
    assert!(!text.contains("hunter2secret"), "{text}");
    assert!(text.contains("origin"), "names the remote: {text}");
    let never = orch
        .push(
            "100-push",
            PushOptions { branch: Some("nope".into()), ..PushOptions::default() },
            CancellationToken::new(),
        )
        .await
        .unwrap_err();
    assert!(never.to_string().contains("`nope` does not exist"), "{never}");
}
