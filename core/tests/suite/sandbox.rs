//! Landlock confinement of agents, with real processes: an implementation agent writes its own
//! worktree and commits, and is denied `$HOME`, another WP's worktree, the main checkout and
//! `refs/kitty/`; a reviewer that edits the work is denied and its review fails. Skipped (said
//! so) on a kernel without Landlock.

use crate::common;

use kitty_orchestrator::engine::{RunOutcome, no_events};
use kitty_orchestrator::state::WpEvent;
use kitty_orchestrator::{FailureClass, Orchestrator};
use tokio_util::sync::CancellationToken;

use crate::common::{config, fast, git};

fn escape_agent(id: &str, env: &[(&str, &str)]) -> String {
    let program = kitty_test_support::fixture("agents/escape-agent").display().to_string();
    let env: Vec<String> = env.iter().map(|(k, v)| format!("{k} = {}", kitty_test_support::toml_string(v))).collect();
    format!(
        "[agents.{id}]\ncommand = [{}]\nenv = {{ {} }}\n",
        kitty_test_support::toml_string(&program),
        env.join(", ")
    )
}

fn landlock_here() -> bool {
    let support = kitty_orchestrator::sandbox::support();
    if !support.available {
        eprintln!("skipped: {}", support.why_not.unwrap_or_default());
    }
    support.available
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_writes_its_worktree_and_nothing_else() {
    if !landlock_here() {
        return;
    }
    let tmp = common::repo();
    let dir = tmp.path();
    common::feature(dir, "050-box", &[("WP01", "planned", &[]), ("WP02", "planned", &["WP01"])]);
    std::fs::write(dir.join("main-file.txt"), "main\n").unwrap();
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-qm", "main file"]);
    let home = std::env::var("HOME").unwrap();
    let outside = format!("{home}/kitty-sandbox-outside-{}.txt", std::process::id());
    let other_wt = dir.join(".worktrees/050-box-WP01/from-wp02.txt");
    let targets = [outside.clone(), other_wt.display().to_string(), dir.join("main-file.txt").display().to_string()];
    let cfg = config(
        // WP01's worktree stays (not recycled into WP02's): a neighbour to try to write into.
        "max_concurrent_wps = 1\nrecycle_worktrees = false\n[agents]\nimplementation = [\"boxed\"]\nreview = [\"rev\"]",
        &[
            escape_agent(
                "boxed",
                &[
                    ("ESCAPE_WP", "WP02"),
                    ("ESCAPE_WRITE", &targets.join(",")),
                    ("ESCAPE_REF", "refs/kitty/wp/050-box/WP01"),
                    ("ESCAPE_DIRECT", "1"),
                ],
            ),
            common::agent("rev", &[]),
        ],
    );
    let orch = Orchestrator::open(dir, Some(cfg)).unwrap();
    let summary = orch.run("050-box", fast(), no_events(), CancellationToken::new()).await.unwrap();
    assert_eq!(summary.outcome, RunOutcome::Completed, "{summary:#?}");
    // Its own work, committed in its worktree, is on its branch.
    assert_eq!(git(dir, &["show", "050-box-WP02:WP02.txt"]), "work of WP02\n");
    // Nothing else was written.
    assert!(!std::path::Path::new(&outside).exists(), "$HOME was written");
    assert!(!other_wt.exists(), "another WP's worktree was written");
    assert_eq!(std::fs::read_to_string(dir.join("main-file.txt")).unwrap(), "main\n");
    let wp01_state = git(dir, &["log", "-1", "--format=%s", "refs/kitty/wp/050-box/WP01"]);
    assert!(!wp01_state.contains("work"), "refs/kitty was moved to a work commit: {wp01_state}");
    // The attempt's log says what was denied.
    let log = std::fs::read_to_string(dir.join(".kittify/logs/050-box/WP02-implementation-1.log")).unwrap();
    assert!(log.contains("# sandbox: landlock"), "{log}");
    // (The paths are configured env values, so the log masks them.)
    let denied = log.lines().filter(|l| l.starts_with("[stderr] denied:") && l.ends_with("Permission denied")).count();
    assert_eq!(denied, targets.len(), "{log}");
    assert!(log.lines().any(|l| l.starts_with("[stderr] update-ref") && l.contains(": exit 128")), "{log}");
    // The WP's outcome says what was refused, as the agent reported it.
    let wp02 = summary.wps.iter().find(|w| w.facts.id == "WP02").unwrap();
    assert!(wp02.refused.iter().filter(|l| l.contains("Permission denied")).count() >= targets.len(), "{wp02:#?}");
    let wp01 = summary.wps.iter().find(|w| w.facts.id == "WP01").unwrap();
    assert!(wp01.refused.is_empty(), "{wp01:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reviewer_that_edits_the_work_is_denied_and_its_review_fails() {
    if !landlock_here() {
        return;
    }
    let tmp = common::repo();
    let dir = tmp.path();
    common::feature(dir, "051-review", &[("WP01", "planned", &[])]);
    let cfg = config(
        "max_retries = 1\n[agents]\nimplementation = [\"impl\"]\nreview = [\"editor\", \"rev\"]",
        &[
            common::agent("impl", &[]),
            escape_agent("editor", &[("ESCAPE_ROLE_WRITE", "WP01.txt")]),
            common::agent("rev", &[]),
        ],
    );
    let orch = Orchestrator::open(dir, Some(cfg)).unwrap();
    let summary = orch.run("051-review", fast(), no_events(), CancellationToken::new()).await.unwrap();
    assert_eq!(summary.outcome, RunOutcome::Completed, "{summary:#?}");
    let reviews: Vec<(String, Option<FailureClass>)> = orch
        .history("051-review", Some("WP01"))
        .unwrap()
        .iter()
        .filter_map(|h| match &h.state.last_event {
            WpEvent::AgentFinished { agent, failure, role: kitty_orchestrator::role::Role::Review, .. } => {
                Some((agent.clone(), *failure))
            }
            _ => None,
        })
        .collect();
    assert_eq!(reviews[0], ("editor".to_string(), Some(FailureClass::NonzeroExit)), "{reviews:?}");
    assert_eq!(reviews.last().unwrap(), &("rev".to_string(), None));
    let log = std::fs::read_to_string(dir.join(".kittify/logs/051-review/WP01-review-2.log")).unwrap();
    // (The path is a configured env value, so the log masks it.)
    assert!(log.contains("error: cannot edit") && log.contains("Permission denied"), "{log}");
    assert!(!git(dir, &["show", "051-review-WP01:WP01.txt"]).contains("reviewer was here"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_off_leaves_the_agent_unconfined_and_says_so() {
    let tmp = common::repo();
    let dir = tmp.path();
    common::feature(dir, "052-off", &[("WP01", "planned", &[])]);
    let outside = tmp.path().parent().unwrap().join(format!("kitty-off-{}.txt", std::process::id()));
    let cfg = config(
        "sandbox = \"off\"\n[agents]\nimplementation = [\"free\"]\nreview = [\"rev\"]",
        &[escape_agent("free", &[("ESCAPE_WRITE", &outside.display().to_string())]), common::agent("rev", &[])],
    );
    let orch = Orchestrator::open(dir, Some(cfg)).unwrap();
    let summary = orch.run("052-off", fast(), no_events(), CancellationToken::new()).await.unwrap();
    assert_eq!(summary.outcome, RunOutcome::Completed, "{summary:#?}");
    assert!(outside.exists(), "unconfined, the write went through");
    std::fs::remove_file(&outside).unwrap();
    let log = std::fs::read_to_string(dir.join(".kittify/logs/052-off/WP01-implementation-1.log")).unwrap();
    assert!(log.contains("# sandbox: unconfined (sandbox = \"off\")"), "{log}");
}

/// How an agent goes at a ref it does not own.
#[derive(Clone, Copy, PartialEq)]
enum Attack {
    /// `git update-ref` in its worktree: it works against its private store, so only its copy
    /// moves.
    InItsWorktree,
    /// `git --git-dir=<the repository's common dir> update-ref`: at the repository itself.
    Direct,
}

/// A run where WP02's agent moves `reference` (WP01 is done by then, one WP at a time, so
/// nobody works on it). Through its worktree, or directly while unconfined: WP02 ends blocked as
/// a security event naming the ref, the repository's ref is where it was, and what the agent set
/// is kept in a quarantine ref. Directly under Landlock: refused, nothing moved, WP02 done.
async fn tampering_is_found_and_put_back(slug: &str, reference: &str, sandbox: &str, attack: Attack) {
    let tmp = common::repo();
    let dir = tmp.path();
    common::feature(dir, slug, &[("WP01", "planned", &[]), ("WP02", "planned", &[])]);
    let ref_file = tmp.path().parent().unwrap().join(format!("{slug}-ref-{}", std::process::id()));
    std::fs::write(&ref_file, reference).unwrap();
    let mut env = vec![("ESCAPE_WP", "WP02".to_string()), ("ESCAPE_REF_FILE", ref_file.display().to_string())];
    if attack == Attack::Direct {
        env.push(("ESCAPE_DIRECT", "1".into()));
    }
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let cfg = config(
        &format!(
            "sandbox = \"{sandbox}\"\nmax_concurrent_wps = 1\n[agents]\nimplementation = [\"sly\"]\nreview = [\"rev\"]"
        ),
        &[escape_agent("sly", &env), common::agent("rev", &[])],
    );
    let before = git(dir, &["for-each-ref", "--format=%(refname) %(objectname)", "refs/heads/", "refs/tags/"]);
    let rev = |name: &str| {
        let out =
            std::process::Command::new("git").args(["rev-parse", "--verify", "-q", name]).current_dir(dir).output();
        String::from_utf8_lossy(&out.unwrap().stdout).trim().to_string()
    };
    let before_tip = rev(reference);
    let orch = Orchestrator::open(dir, Some(cfg)).unwrap();
    let summary = orch.run(slug, fast(), no_events(), CancellationToken::new()).await.unwrap();
    std::fs::remove_file(&ref_file).unwrap();
    kitty_test_support::assert_fsck_clean(dir);
    let wp01_tip = git(dir, &["rev-parse", &format!("{slug}-WP01")]);
    let tip = rev(reference);
    if !reference.starts_with("refs/kitty/") {
        let expected = if reference.ends_with("WP01") { wp01_tip.trim() } else { before_tip.as_str() };
        assert_eq!(tip, expected, "{reference} moved");
        assert_eq!(git(dir, &["show", &format!("{slug}-WP01:WP01.txt")]), "work of WP01\n");
    }
    let wp02 = summary.wps.iter().find(|w| w.facts.id == "WP02").unwrap();
    let log = std::fs::read_to_string(dir.join(format!(".kittify/logs/{slug}/WP02-implementation-1.log"))).unwrap();
    if attack == Attack::Direct && sandbox == "required" {
        // Landlock refused it: nothing moved, nothing to report.
        assert!(log.lines().any(|l| l.starts_with("[stderr] update-ref") && l.contains(": exit 128")), "{log}");
        assert_eq!(wp02.facts.lane, kitty_orchestrator::Lane::Done, "{summary:#?}");
        let after = git(dir, &["for-each-ref", "--format=%(refname) %(objectname)", "refs/heads/", "refs/tags/"]);
        for line in before.lines() {
            assert!(after.lines().any(|l| l == line), "{line} moved: {after}");
        }
        return;
    }
    assert_eq!(wp02.facts.lane, kitty_orchestrator::Lane::Blocked, "{summary:#?}");
    let reason = wp02.facts.reason.clone().unwrap_or_default();
    let expected = match attack {
        Attack::InItsWorktree => "changed what it does not own",
        Attack::Direct => "refs changed outside the orchestrator",
    };
    assert!(reason.starts_with("security: ") && reason.contains(expected), "{reason}");
    assert!(reason.contains(reference), "the reason names the ref: {reason}");
    assert!(reason.contains("is kept at refs/kitty/quarantine/"), "{reason}");
    // WP01 is untouched: done (its chain readable again), its branch where its agent left it.
    assert_eq!(summary.wps.iter().find(|w| w.facts.id == "WP01").unwrap().facts.lane, kitty_orchestrator::Lane::Done);
    assert!(summary.corrupt.is_empty(), "{:?}", summary.corrupt);
    let kept =
        git(dir, &["for-each-ref", "--format=%(refname) %(objectname)", &format!("refs/kitty/quarantine/{slug}/")]);
    assert!(!kept.trim().is_empty(), "what the agent set is kept: {kept}");
    let history = orch.history(slug, Some("WP02")).unwrap();
    assert!(history.iter().any(|h| matches!(
        h.state.last_event,
        WpEvent::AgentFinished { failure: Some(FailureClass::RefTampering), .. }
    )));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unconfined_agent_that_rewrites_a_state_ref_blocks_its_wp() {
    tampering_is_found_and_put_back("053-state", "refs/kitty/wp/053-state/WP01", "off", Attack::Direct).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unconfined_agent_that_moves_another_wps_branch_blocks_its_wp() {
    tampering_is_found_and_put_back("054-branch", "refs/heads/054-branch-WP01", "off", Attack::Direct).await;
}

/// Without Landlock nothing stops an agent writing the repository's refs: even the target
/// branch is compared after the attempt and put back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unconfined_agent_that_moves_main_blocks_its_wp_and_main_is_put_back() {
    tampering_is_found_and_put_back("056-main", "refs/heads/main", "off", Attack::Direct).await;
}

/// In its worktree an agent's git works against its private store: moving another branch, or
/// `main`, moves only its copy; the WP is blocked as a security event all the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_that_moves_another_branch_in_its_worktree_moves_only_its_copy() {
    tampering_is_found_and_put_back("055-boxed", "refs/heads/055-boxed-WP01", "best_effort", Attack::InItsWorktree)
        .await;
    tampering_is_found_and_put_back("057-main", "refs/heads/main", "best_effort", Attack::InItsWorktree).await;
    tampering_is_found_and_put_back("058-state", "refs/kitty/wp/058-state/WP01", "off", Attack::InItsWorktree).await;
}

/// Under Landlock the repository's refs are not writable at all: a direct attack is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confined_agent_cannot_move_any_ref_of_the_repository() {
    if !landlock_here() {
        return;
    }
    tampering_is_found_and_put_back("059-main", "refs/heads/main", "required", Attack::Direct).await;
    tampering_is_found_and_put_back("05a-tag", "refs/tags/v1", "required", Attack::Direct).await;
}
