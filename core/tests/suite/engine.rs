//! The engine end to end: real repositories, the fake agents as real processes, state in refs.

use crate::common;

use std::path::Path;
use std::time::Duration;

use crate::common::{agent, assert_fsck_clean, config, fast, git, recorder};
use kitty_orchestrator::engine::{Event, RunOutcome};
use kitty_orchestrator::executor::group_members;
use kitty_orchestrator::state::WpEvent;
use kitty_orchestrator::{FailureClass, Lane, Orchestrator, WpId};
use tokio_util::sync::CancellationToken;

use crate::common::{F020, sample_repo};

fn id(s: &str) -> WpId {
    WpId::parse(s).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_020_feature_runs_to_done_and_every_branch_holds_its_dependencies() {
    let tmp = sample_repo(true);
    let dir = tmp.path();
    let state = tempfile::tempdir().unwrap();
    let s = state.path().display().to_string();
    let cfg = config(
        "max_concurrent_wps = 3\n[agents]\nimplementation = [\"impl\"]\nreview = [\"rev\"]",
        &[agent("impl", &[("FAKE_STATE_DIR", &s)]), agent("rev", &[("FAKE_STATE_DIR", &s)])],
    );
    let orch = Orchestrator::open(dir, Some(cfg)).unwrap();
    let (sink, events) = recorder();
    let summary = orch.run(F020, fast(), sink, CancellationToken::new()).await.unwrap();
    assert_eq!(summary.outcome, RunOutcome::Completed, "{summary:#?}");
    assert_eq!(summary.done, 9);
    let refs = git(dir, &["for-each-ref", "--format=%(refname:lstrip=4)", &format!("refs/kitty/wp/{F020}/")]);
    assert_eq!(refs.lines().count(), 9);
    let status = orch.status(F020).unwrap();
    let (states, run) = (status.wps, status.run);
    assert!(states.values().all(|s| s.lane == Lane::Done));
    assert_eq!(run.unwrap().status, kitty_orchestrator::state::RunStatus::Finished);
    let feature = orch.feature(F020).unwrap();
    for wp in &feature.work_packages {
        let branch = format!("{F020}-{}", wp.id);
        // The WP's own work, and every dependency's, is on its branch.
        let files = git(dir, &["ls-tree", "-r", "--name-only", &branch]);
        assert!(files.contains(&format!("{}.txt", wp.id)), "{branch}: {files}");
        for dep in &wp.dependencies {
            let dep_branch = format!("{F020}-{dep}");
            let ok = std::process::Command::new("git")
                .args(["merge-base", "--is-ancestor", &dep_branch, &branch])
                .current_dir(dir)
                .status()
                .unwrap();
            assert!(ok.success(), "{branch} lacks {dep_branch}");
        }
        // Logs of each attempt, and provenance notes on the code.
        let wp_summary = summary.wps.iter().find(|w| w.facts.id == wp.id.as_str()).unwrap();
        assert_eq!(wp_summary.logs.len(), 2, "{wp_summary:?}");
        for log in &wp_summary.logs {
            assert!(Path::new(log).exists(), "{log}");
        }
        let head = git(dir, &["rev-parse", &branch]);
        let notes = git(dir, &["notes", "--ref=kitty", "show", head.trim()]);
        assert!(notes.contains("\"role\":\"implementation\"") && notes.contains("\"verdict\":\"approve\""), "{notes}");
    }
    // Events: lane changes agree with the history in git.
    let events = events.lock().unwrap();
    assert!(matches!(events.first(), Some(Event::RunStarted { wps: 9, .. })));
    assert!(matches!(events.last(), Some(Event::RunFinished { .. })));
    let changes: Vec<(String, Lane)> = events
        .iter()
        .filter_map(|e| match e {
            Event::LaneChanged { wp, to_lane, .. } if wp == "WP06" => Some((wp.clone(), *to_lane)),
            _ => None,
        })
        .collect();
    let history: Vec<(String, Lane)> = orch
        .history(F020, Some("WP06"))
        .unwrap()
        .windows(2)
        .filter(|w| w[0].state.lane != w[1].state.lane)
        .map(|w| ("WP06".to_string(), w[1].state.lane))
        .collect();
    assert_eq!(changes, history);
    assert_eq!(history.iter().map(|(_, l)| *l).collect::<Vec<_>>(), [Lane::Doing, Lane::ForReview, Lane::Done]);
    assert_fsck_clean(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_as_imported_finishes_its_open_wps() {
    // WP01-06 done outside the orchestrator (no branches), WP07 for review, WP08 doing, WP09 planned.
    let tmp = sample_repo(false);
    let cfg =
        config("[agents]\nimplementation = [\"impl\"]\nreview = [\"rev\"]", &[agent("impl", &[]), agent("rev", &[])]);
    let orch = Orchestrator::open(tmp.path(), Some(cfg)).unwrap();
    let summary =
        orch.run(F020, fast(), kitty_orchestrator::engine::no_events(), CancellationToken::new()).await.unwrap();
    assert_eq!(summary.outcome, RunOutcome::Completed, "{summary:#?}");
    let history = orch.history(F020, Some("WP01")).unwrap();
    assert_eq!(history.len(), 1, "done WPs are not touched");
    let wp07 = orch.history(F020, Some("WP07")).unwrap();
    let names: Vec<&str> = wp07.iter().map(|h| h.state.last_event.name()).collect();
    assert_eq!(names, ["imported", "claimed", "worktree_ready", "agent_started", "agent_finished", "approved"]);
}

/// A rework by a CLI with resume arguments continues its session: `--resume <id>` with the id
/// its output named, the feedback alone as the prompt; when the CLI does not know the session,
/// the same attempt runs again in a new session with the whole prompt (no retry spent).
async fn rework_with(resume: &str) -> (String, String, tempfile::TempDir) {
    let tmp = common::repo();
    common::feature(tmp.path(), "031-resume", &[("WP01", "planned", &[])]);
    let state = tempfile::tempdir().unwrap();
    let s = state.path().display().to_string();
    let implementer = common::agent("impl", &[("FAKE_STATE_DIR", &s), ("FAKE_RESUME", resume)]).replace(
        "output = \"stream-json\"\n",
        "output = \"stream-json\"\nresume_args = [\"--resume\", \"{session}\"]\n",
    );
    let cfg = config(
        "max_retries = 0\n[agents]\nimplementation = [\"impl\"]\nreview = [\"rev\"]",
        &[implementer, agent("rev", &[("FAKE_STATE_DIR", &s), ("FAKE_VERDICT", "reject_once")])],
    );
    let orch = Orchestrator::open(tmp.path(), Some(cfg)).unwrap();
    let summary = orch
        .run("031-resume", fast(), kitty_orchestrator::engine::no_events(), CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(summary.outcome, RunOutcome::Completed, "{summary:?}");
    let state_now = orch.status("031-resume").unwrap().wps.into_values().next().unwrap();
    assert_eq!(
        (state_now.session.as_deref(), state_now.session_agent.as_deref()),
        (Some("fake-session"), Some("impl"))
    );
    let resumed = std::fs::read_to_string(state.path().join("resumed-WP01.txt")).unwrap();
    let log = std::fs::read_to_string(tmp.path().join(".kittify/logs/031-resume/WP01-implementation-3.log")).unwrap();
    (resumed, log, tmp)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rework_continues_the_clis_own_session() {
    let (resumed, log, _tmp) = rework_with("ok").await;
    assert_eq!(resumed, "resume fake-session: ok, whole prompt False\n");
    assert!(log.contains("--resume fake-session"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rework_whose_session_the_cli_does_not_know_runs_afresh_in_the_same_attempt() {
    let (resumed, log, tmp) = rework_with("fail").await;
    assert_eq!(resumed, "resume fake-session: unknown, whole prompt False\n");
    assert!(log.contains("could not be continued") && !log.contains("--resume"), "{log}");
    let aside = tmp.path().join(".kittify/logs/031-resume/WP01-implementation-3.resume-failed.log");
    let first = std::fs::read_to_string(aside).unwrap();
    assert!(first.contains("No conversation found with session ID: fake-session"), "{first}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_rejection_sends_feedback_to_the_next_implementation() {
    let tmp = common::repo();
    let f = common::feature(tmp.path(), "030-review", &[("WP01", "planned", &[])]);
    let _ = f;
    let state = tempfile::tempdir().unwrap();
    let s = state.path().display().to_string();
    let cfg = config(
        "[agents]\nimplementation = [\"impl\"]\nreview = [\"rev\"]",
        &[
            agent("impl", &[("FAKE_STATE_DIR", &s)]),
            agent("rev", &[("FAKE_STATE_DIR", &s), ("FAKE_VERDICT", "reject_once")]),
        ],
    );
    let orch = Orchestrator::open(tmp.path(), Some(cfg)).unwrap();
    let summary = orch
        .run("030-review", fast(), kitty_orchestrator::engine::no_events(), CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(summary.outcome, RunOutcome::Completed);
    let wp = &summary.wps[0];
    assert_eq!((wp.facts.review_cycles, wp.facts.attempts), (1, 4));
    let events: Vec<&'static str> =
        orch.history("030-review", Some("WP01")).unwrap().iter().map(|h| h.state.last_event.name()).collect();
    assert!(events.contains(&"rejected"), "{events:?}");
    let prompts = std::fs::read_to_string(state.path().join("prompts-WP01.txt")).unwrap();
    let second_impl = prompts.split("===== implementation attempt 3").nth(1).expect("a second implementation");
    assert!(
        second_impl.contains("A reviewer rejected the previous implementation")
            && second_impl.contains("handle empty input"),
        "{second_impl}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verdictless_review_is_a_failed_attempt_and_auth_failure_falls_back() {
    let tmp = common::repo();
    common::feature(tmp.path(), "031-fallback", &[("WP01", "planned", &[])]);
    let cfg = config(
        "max_retries = 1\n[agents]\nimplementation = [\"locked-out\", \"impl\"]\nreview = [\"mute\", \"rev\"]",
        &[
            agent("locked-out", &[("FAKE_MODE", "auth")]),
            agent("impl", &[]),
            agent("mute", &[("FAKE_VERDICT", "none")]),
            agent("rev", &[]),
        ],
    );
    let orch = Orchestrator::open(tmp.path(), Some(cfg)).unwrap();
    let summary = orch
        .run("031-fallback", fast(), kitty_orchestrator::engine::no_events(), CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(summary.outcome, RunOutcome::Completed, "{summary:#?}");
    let history = orch.history("031-fallback", Some("WP01")).unwrap();
    let finished: Vec<(String, Option<FailureClass>)> = history
        .iter()
        .filter_map(|h| match &h.state.last_event {
            WpEvent::AgentFinished { agent, failure, .. } => Some((agent.clone(), *failure)),
            _ => None,
        })
        .collect();
    assert_eq!(
        finished,
        [
            ("locked-out".to_string(), Some(FailureClass::Auth)), // auth: no retry, straight to the next agent
            ("impl".to_string(), None),
            ("mute".to_string(), Some(FailureClass::InvalidOutput)), // no verdict: never an approval
            ("mute".to_string(), Some(FailureClass::InvalidOutput)), // one retry
            ("rev".to_string(), None),
        ]
    );
    assert_eq!(summary.wps[0].facts.agents, ["locked-out", "impl", "mute", "rev"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exhausted_retries_block_a_wp_while_independent_work_finishes() {
    let tmp = common::repo();
    common::feature(
        tmp.path(),
        "032-blocked",
        &[("WP01", "planned", &[]), ("WP02", "planned", &["WP01"]), ("WP03", "planned", &[])],
    );
    let cfg = config(
        "max_retries = 2\nfallback_strategy = \"fail\"\n[agents]\nimplementation = [\"impl\"]\nreview = [\"rev\"]",
        &[agent("impl", &[("FAKE_FAIL_WPS", "WP01")]), agent("rev", &[])],
    );
    let orch = Orchestrator::open(tmp.path(), Some(cfg)).unwrap();
    let (sink, events) = recorder();
    let summary = orch.run("032-blocked", fast(), sink, CancellationToken::new()).await.unwrap();
    assert_eq!(summary.outcome, RunOutcome::Blocked);
    let lanes: Vec<(String, Lane)> = summary.wps.iter().map(|w| (w.facts.id.clone(), w.facts.lane)).collect();
    assert_eq!(lanes, [("WP01".into(), Lane::Blocked), ("WP02".into(), Lane::Planned), ("WP03".into(), Lane::Done)]);
    let wp01 = &summary.wps[0];
    assert_eq!(wp01.facts.attempts, 3, "first try + 2 retries");
    assert!(wp01.facts.reason.as_deref().unwrap().contains("nonzero_exit"), "{:?}", wp01.facts.reason);
    {
        let events = events.lock().unwrap();
        assert_eq!(events.iter().filter(|e| matches!(e, Event::RetryScheduled { wp, .. } if wp == "WP01")).count(), 2);
        assert!(events.iter().any(|e| matches!(e, Event::WpBlocked { wp, log: Some(_), .. } if wp == "WP01")));
    }
    // A person fixes it and retries: the next run finishes everything.
    orch.retry("032-blocked", "WP01").unwrap();
    let cfg =
        config("[agents]\nimplementation = [\"impl\"]\nreview = [\"rev\"]", &[agent("impl", &[]), agent("rev", &[])]);
    let orch = Orchestrator::open(tmp.path(), Some(cfg)).unwrap();
    let summary = orch
        .run("032-blocked", fast(), kitty_orchestrator::engine::no_events(), CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(summary.outcome, RunOutcome::Completed, "{summary:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_ends_every_agent_group_and_resume_finishes() {
    let tmp = common::repo();
    common::feature(
        tmp.path(),
        "033-abort",
        &[("WP01", "planned", &[]), ("WP02", "planned", &[]), ("WP03", "planned", &[]), ("WP04", "planned", &[])],
    );
    let cfg = config(
        "max_concurrent_wps = 4\n[agents]\nimplementation = [\"slow\"]\nreview = [\"rev\"]",
        &[agent("slow", &[("FAKE_MODE", "sigterm_tree")]), agent("rev", &[])],
    );
    let orch = Orchestrator::open(tmp.path(), Some(cfg)).unwrap();
    let (sink, events) = recorder();
    let cancel = CancellationToken::new();
    let runner = {
        let orch = orch.clone();
        let cancel = cancel.clone();
        tokio::spawn(async move { orch.run("033-abort", fast(), sink, cancel).await })
    };
    // Wait for the four agents.
    let mut pids = Vec::new();
    for _ in 0..200 {
        pids = events
            .lock()
            .unwrap()
            .iter()
            .filter_map(|e| if let Event::AgentStarted { pid, .. } = e { *pid } else { None })
            .collect();
        if pids.len() == 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(pids.len(), 4, "four agents started");
    // A second orchestrator on the same feature refuses clearly.
    let err = orch
        .run("033-abort", fast(), kitty_orchestrator::engine::no_events(), CancellationToken::new())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "run_locked", "{err}");
    let started = std::time::Instant::now();
    assert!(orch.abort("033-abort").unwrap());
    let summary = runner.await.unwrap().unwrap();
    assert_eq!(summary.outcome, RunOutcome::Aborted);
    assert!(started.elapsed() < Duration::from_secs(5), "aborted within the grace period ({:?})", started.elapsed());
    for pid in pids {
        assert!(group_members(pid as i32).is_empty(), "agent group {pid} survived the abort");
    }
    let status = orch.status("033-abort").unwrap();
    let (states, run) = (status.wps, status.run);
    assert_eq!(run.unwrap().status, kitty_orchestrator::state::RunStatus::Aborted);
    assert!(states.values().all(|s| s.lane == Lane::Doing && s.owner.is_none()), "released, resumable");
    // Resume with a working agent: everything finishes, attempts continue their numbering.
    let cfg =
        config("[agents]\nimplementation = [\"impl\"]\nreview = [\"rev\"]", &[agent("impl", &[]), agent("rev", &[])]);
    let orch = Orchestrator::open(tmp.path(), Some(cfg)).unwrap();
    let summary =
        orch.run("033-abort", fast(), kitty_orchestrator::engine::no_events(), CancellationToken::new()).await.unwrap();
    assert_eq!(summary.outcome, RunOutcome::Completed, "{summary:#?}");
    for wp in &summary.wps {
        let history = orch.history("033-abort", Some(&wp.facts.id)).unwrap();
        let attempts: Vec<u32> = history
            .iter()
            .filter_map(|h| {
                if let WpEvent::AgentStarted { attempt, .. } = h.state.last_event { Some(attempt) } else { None }
            })
            .collect();
        let mut unique = attempts.clone();
        unique.dedup();
        assert_eq!(attempts, unique, "no attempt number reused: {attempts:?}");
    }
    assert_fsck_clean(tmp.path());
    let _ = id("WP01");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_command_runs_on_the_merge_of_every_wp_branch() {
    let tmp = common::repo();
    common::feature(tmp.path(), "034-verify", &[("WP01", "planned", &[]), ("WP02", "planned", &[])]);
    let agents = [agent("impl", &[]), agent("rev", &[])];
    let head = "[agents]\nimplementation = [\"impl\"]\nreview = [\"rev\"]";
    let passing = config(
        &format!("verify_command = [\"sh\", \"-c\", \"test -f WP01.txt && test -f WP02.txt && echo both\"]\n{head}"),
        &agents,
    );
    let orch = Orchestrator::open(tmp.path(), Some(passing)).unwrap();
    let summary = orch
        .run("034-verify", fast(), kitty_orchestrator::engine::no_events(), CancellationToken::new())
        .await
        .unwrap();
    let verify = summary.verify.clone().expect("verification ran");
    assert!(verify.success, "{verify:?}");
    assert_eq!(summary.outcome, RunOutcome::Completed);
    assert!(std::fs::read_to_string(&verify.log).unwrap().contains("both"));
    // A failing verification makes the run end blocked, with the log to read.
    let failing = config(&format!("verify_command = [\"sh\", \"-c\", \"exit 3\"]\n{head}"), &agents);
    let orch = Orchestrator::open(tmp.path(), Some(failing)).unwrap();
    let summary = orch
        .run("034-verify", fast(), kitty_orchestrator::engine::no_events(), CancellationToken::new())
        .await
        .unwrap();
    let verify = summary.verify.clone().unwrap();
    assert_eq!((verify.success, verify.exit_code), (false, Some(3)));
    assert_eq!(summary.outcome, RunOutcome::Blocked);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_agent_max_concurrent_is_respected() {
    let tmp = common::repo();
    common::feature(
        tmp.path(),
        "035-capacity",
        &[("WP01", "planned", &[]), ("WP02", "planned", &[]), ("WP03", "planned", &[])],
    );
    let cfg = config(
        "max_concurrent_wps = 3\n[agents]\nimplementation = [\"impl\"]\nreview = [\"rev\"]",
        &[
            agent("impl", &[("FAKE_SLEEP_MS", "300")]).replace("output = ", "max_concurrent = 1\noutput = "),
            agent("rev", &[]),
        ],
    );
    let orch = Orchestrator::open(tmp.path(), Some(cfg)).unwrap();
    let summary = orch
        .run("035-capacity", fast(), kitty_orchestrator::engine::no_events(), CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(summary.outcome, RunOutcome::Completed);
    // The implementation processes' lifetimes, from their logs' start and end stamps.
    let stamp = |log: &str, key: &str| -> jiff::Timestamp {
        log.lines().find_map(|l| l.strip_prefix(key)).unwrap_or_else(|| panic!("{key} missing")).trim().parse().unwrap()
    };
    let mut spans: Vec<(jiff::Timestamp, jiff::Timestamp)> = summary
        .wps
        .iter()
        .flat_map(|w| w.logs.iter())
        .filter(|l| l.contains("-implementation-"))
        .map(|l| {
            let text = std::fs::read_to_string(l).unwrap();
            (stamp(&text, "# started: "), stamp(&text, "# ended: "))
        })
        .collect();
    spans.sort();
    assert_eq!(spans.len(), 3);
    let most = if spans.windows(2).all(|w| w[0].1 <= w[1].0) { 1 } else { 2 };
    assert_eq!(most, 1, "at most one `impl` agent at a time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finished_wps_hand_their_worktrees_on_and_the_summary_says_where_each_is() {
    let wps: &[(&str, &str, &[&str])] =
        &[("WP01", "planned", &[]), ("WP02", "planned", &["WP01"]), ("WP03", "planned", &["WP02"])];
    for recycle in [true, false] {
        let tmp = common::repo();
        common::feature(tmp.path(), "033-chain", wps);
        let head = format!(
            "recycle_worktrees = {recycle}\nmax_concurrent_wps = 1\n[agents]\nimplementation = [\"impl\"]\nreview = [\"rev\"]"
        );
        let cfg = config(&head, &[agent("impl", &[]), agent("rev", &[])]);
        let orch = Orchestrator::open(tmp.path(), Some(cfg)).unwrap();
        let summary = orch
            .run("033-chain", fast(), kitty_orchestrator::engine::no_events(), CancellationToken::new())
            .await
            .unwrap();
        assert_eq!(summary.outcome, RunOutcome::Completed, "{summary:#?}");
        let dirs: Vec<String> = std::fs::read_dir(tmp.path().join(".worktrees"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        let places: Vec<(Option<String>, Option<String>)> =
            summary.wps.iter().map(|w| (w.worktree.clone(), w.worktree_recycled_to.clone())).collect();
        let wt = |wp: &str| Some(tmp.path().join(format!(".worktrees/033-chain-{wp}")).display().to_string());
        if recycle {
            assert_eq!(dirs, ["033-chain-WP03"], "one worktree went from WP to WP");
            assert_eq!(places, [(None, Some("WP02".into())), (None, Some("WP03".into())), (wt("WP03"), None)]);
        } else {
            assert_eq!(dirs.len(), 3, "{dirs:?}");
            assert_eq!(places, [(wt("WP01"), None), (wt("WP02"), None), (wt("WP03"), None)]);
        }
        // Every branch holds its own work and its dependency's, whatever worktree it was made in.
        for (wp, files) in
            [("WP01", &["WP01.txt"][..]), ("WP02", &["WP01.txt", "WP02.txt"]), ("WP03", &["WP02.txt", "WP03.txt"])]
        {
            let listed = git(tmp.path(), &["ls-tree", "-r", "--name-only", &format!("033-chain-{wp}")]);
            for file in files {
                assert!(listed.lines().any(|l| l.ends_with(file)), "{wp}'s branch lacks {file}: {listed}");
            }
        }
        assert_eq!(git(&tmp.path().join(".worktrees/033-chain-WP03"), &["status", "--porcelain"]), "");
        assert_fsck_clean(tmp.path());
        // The end of the run packed its state objects: no event commit is left loose.
        for wp in ["WP01", "WP02", "WP03"] {
            let events = git(tmp.path(), &["rev-list", &format!("refs/kitty/wp/033-chain/{wp}")]);
            for commit in events.lines() {
                let loose = tmp.path().join(".git/objects").join(&commit[..2]).join(&commit[2..]);
                assert!(!loose.exists(), "{wp}'s event {commit} is still a loose object");
            }
        }
    }
}

/// An attempt that reports `KITTY-STATUS: blocked` did not succeed: its commits and leftovers go
/// to a backup ref named in the reason, never onto the branch — so after the person fixes the
/// cause and retries, an agent doing the same work is judged by what it adds (not `no_changes`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_attempts_work_is_kept_aside_not_put_on_the_branch() {
    let tmp = common::repo();
    let dir = tmp.path();
    common::feature(dir, "094-blocked", &[("WP01", "planned", &[])]);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-qm", "feature"]);
    let base = git(dir, &["rev-parse", "main"]);
    let blocked = config(
        "[agents]\nimplementation = [\"impl\"]\nreview = [\"rev\"]",
        &[
            agent("impl", &[("FAKE_STATUS", "blocked the API key is missing"), ("FAKE_EXTRA_FILES", "notes.md")]),
            agent("rev", &[]),
        ],
    );
    let orch = Orchestrator::open(dir, Some(blocked)).unwrap();
    let summary = orch
        .run("094-blocked", fast(), kitty_orchestrator::engine::no_events(), CancellationToken::new())
        .await
        .unwrap();
    let wp = summary.wps.iter().find(|w| w.facts.id == "WP01").unwrap();
    assert_eq!(wp.facts.lane, Lane::Blocked, "{summary:#?}");
    let reason = wp.facts.reason.clone().unwrap_or_default();
    assert!(reason.contains("the API key is missing") && reason.contains("kept at refs/kitty/backup/"), "{reason}");
    assert_eq!(git(dir, &["rev-parse", "094-blocked-WP01"]), base, "nothing of the blocked attempt is on the branch");
    let backup = reason.split("kept at ").nth(1).unwrap().trim_end_matches(')').to_string();
    assert!(git(dir, &["show", &format!("{backup}:WP01.txt")]).starts_with("WP01 by fake agent"), "its commit is kept");
    assert_eq!(git(dir, &["show", &format!("{backup}:notes.md")]), "written by WP01\n", "its leftovers too");
    // Fixed and retried: the same work is new work.
    orch.retry("094-blocked", "WP01").unwrap();
    let fixed =
        config("[agents]\nimplementation = [\"impl\"]\nreview = [\"rev\"]", &[agent("impl", &[]), agent("rev", &[])]);
    let orch = Orchestrator::open(dir, Some(fixed)).unwrap();
    let summary = orch
        .run("094-blocked", fast(), kitty_orchestrator::engine::no_events(), CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(summary.outcome, RunOutcome::Completed, "{summary:#?}");
    assert!(git(dir, &["show", "094-blocked-WP01:WP01.txt"]).starts_with("WP01 by fake agent"));
}
