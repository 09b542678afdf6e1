//! Landlock confinement of agents, with real processes: an implementation agent writes its own
//! worktree and commits, and is denied `$HOME`, another WP's worktree, the main checkout and
//! `refs/kitty/`; a reviewer that edits the work is denied and its review fails. Skipped (said
//! so) on a kernel without Landlock.

mod common;

use kitty_orchestrator::engine::{RunOutcome, no_events};
use kitty_orchestrator::state::WpEvent;
use kitty_orchestrator::{FailureClass, Orchestrator};
use tokio_util::sync::CancellationToken;

use common::{config, fast, git};

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
    let wp02 = summary.wps.iter().find(|w| w.id == "WP02").unwrap();
    assert!(wp02.refused.iter().filter(|l| l.contains("Permission denied")).count() >= targets.len(), "{wp02:#?}");
    let wp01 = summary.wps.iter().find(|w| w.id == "WP01").unwrap();
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
            WpEvent::AgentFinished { agent, failure, role: kitty_orchestrator::state::Role::Review, .. } => {
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

/// A run where WP02's agent moves `reference` to its own commit (WP01 is done by then, one WP at
/// a time, so nobody works on it): WP02
/// ends blocked as a security event naming the ref, the ref is put back, and the tip the agent
/// set is kept in a quarantine ref.
async fn tampering_is_found_and_put_back(slug: &str, reference: &str, sandbox: &str) {
    let tmp = common::repo();
    let dir = tmp.path();
    common::feature(dir, slug, &[("WP01", "planned", &[]), ("WP02", "planned", &[])]);
    let ref_file = tmp.path().parent().unwrap().join(format!("{slug}-ref-{}", std::process::id()));
    std::fs::write(&ref_file, reference).unwrap();
    let cfg = config(
        &format!(
            "sandbox = \"{sandbox}\"\nmax_concurrent_wps = 1\n[agents]\nimplementation = [\"sly\"]\nreview = [\"rev\"]"
        ),
        &[
            escape_agent("sly", &[("ESCAPE_WP", "WP02"), ("ESCAPE_REF_FILE", &ref_file.display().to_string())]),
            common::agent("rev", &[]),
        ],
    );
    let orch = Orchestrator::open(dir, Some(cfg)).unwrap();
    let summary = orch.run(slug, fast(), no_events(), CancellationToken::new()).await.unwrap();
    std::fs::remove_file(&ref_file).unwrap();
    let wp02 = summary.wps.iter().find(|w| w.id == "WP02").unwrap();
    assert_eq!(wp02.lane, kitty_orchestrator::Lane::Blocked, "{summary:#?}");
    let reason = wp02.reason.clone().unwrap_or_default();
    assert!(reason.starts_with("security: refs changed outside the orchestrator"), "{reason}");
    assert!(reason.contains(reference), "the reason names the ref: {reason}");
    assert!(reason.contains("is kept at refs/kitty/quarantine/"), "{reason}");
    // WP01 is untouched: done (its chain readable again), its branch where its agent left it.
    assert_eq!(summary.wps.iter().find(|w| w.id == "WP01").unwrap().lane, kitty_orchestrator::Lane::Done);
    assert!(summary.corrupt.is_empty(), "{:?}", summary.corrupt);
    let tip = git(dir, &["rev-parse", reference]);
    let kept =
        git(dir, &["for-each-ref", "--format=%(refname) %(objectname)", &format!("refs/kitty/quarantine/{slug}/")]);
    let wp02_head = git(dir, &["rev-parse", &format!("{slug}-WP02")]);
    assert!(kept.contains(wp02_head.trim()), "the agent's tip is kept: {kept}");
    assert_ne!(tip.trim(), wp02_head.trim(), "{reference} was put back");
    if !reference.starts_with("refs/kitty/") {
        assert_eq!(git(dir, &["show", &format!("{reference}:WP01.txt")]), "work of WP01\n");
    }
    let history = orch.history(slug, Some("WP02")).unwrap();
    assert!(history.iter().any(|h| matches!(
        h.state.last_event,
        WpEvent::AgentFinished { failure: Some(FailureClass::RefTampering), .. }
    )));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unconfined_agent_that_rewrites_a_state_ref_blocks_its_wp() {
    tampering_is_found_and_put_back("053-state", "refs/kitty/wp/053-state/WP01", "off").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unconfined_agent_that_moves_another_wps_branch_blocks_its_wp() {
    tampering_is_found_and_put_back("054-branch", "refs/heads/054-branch-WP01", "off").await;
}

/// Branches share `refs/heads/`, which a confined implementer must be able to write (its own
/// branch): the after-attempt check is what catches it moving another WP's branch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confined_agent_that_moves_another_wps_branch_blocks_its_wp() {
    if !landlock_here() {
        return;
    }
    tampering_is_found_and_put_back("055-boxed", "refs/heads/055-boxed-WP01", "required").await;
}
