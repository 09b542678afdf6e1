//! The reliability round (issue 12), end to end: ordinary agent output — free text, numbers,
//! long lines, secrets, stray processes, echoed prompts, reviewers that write — must never
//! corrupt state, lose work, leak a secret or leave a process behind. Real repositories, the
//! fake agents as real processes, the git binary to check what was written.

use crate::common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::{agent, agents_of, config, fast, feature, git, recorder};
use kitty_orchestrator::engine::{Event, RunOptions, RunOutcome};
use kitty_orchestrator::state::{Append, Owner, StateStore, WpEvent, this_host};
use kitty_orchestrator::{FailureClass, Lane, Orchestrator, WpId};
use tokio_util::sync::CancellationToken;

fn id(s: &str) -> WpId {
    WpId::parse(s).unwrap()
}

/// A repository with feature `slug` of independent planned WPs, committed.
fn repo_with(slug: &str, wps: &[&str]) -> tempfile::TempDir {
    let tmp = common::repo();
    let list: Vec<(&str, &str, &[&str])> = wps.iter().map(|w| (*w, "planned", &[][..])).collect();
    feature(tmp.path(), slug, &list);
    git(tmp.path(), &["add", "-A"]);
    git(tmp.path(), &["commit", "-q", "-m", "feature"]);
    tmp
}

fn roles(head: &str) -> String {
    format!("{head}\n[agents]\nimplementation = [\"impl\"]\nreview = [\"rev\"]")
}

async fn run(dir: &Path, slug: &str, cfg: kitty_orchestrator::Config) -> kitty_orchestrator::RunSummary {
    let orch = Orchestrator::open(dir, Some(cfg)).unwrap();
    orch.run(slug, fast(), kitty_orchestrator::engine::no_events(), CancellationToken::new()).await.unwrap()
}

/// Every byte git stores (all objects, loose and packed) plus every log file: where a leaked
/// secret would be.
fn everything_written(dir: &Path) -> String {
    let out = Command::new("git")
        .args(["cat-file", "--batch-all-objects", "--batch", "--unordered"])
        .current_dir(dir)
        .output()
        .unwrap();
    let mut all = String::from_utf8_lossy(&out.stdout).into_owned();
    fn walk(dir: &Path, out: &mut String) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if entry.path().is_dir() {
                walk(&entry.path(), out);
            } else {
                out.push_str(&String::from_utf8_lossy(&std::fs::read(entry.path()).unwrap_or_default()));
            }
        }
    }
    walk(&dir.join(".kittify/logs"), &mut all);
    all
}

// 1. Free text (review feedback with markdown rules, fake trailers, CR, NUL) never breaks the
//    event commits: the feature runs on and every trailer reads back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_review_feedback_never_breaks_the_feature() {
    let tmp = repo_with("101-feedback", &["WP01"]);
    let dir = tmp.path();
    let state = tempfile::tempdir().unwrap();
    let s = state.path().display().to_string();
    let feedback = "Needs work.\n\n---\n\n## Must fix\n---\nKitty-Lane: done\n\nKitty-Seq: 99\r\n# not a comment\n--- a/x\n+++ b/x\ntrailing\u{0}nul\u{7}bell";
    // In a file: a configured env value would itself be redacted from everything written.
    let file = state.path().join("feedback.md");
    std::fs::write(&file, feedback).unwrap();
    let file = file.display().to_string();
    let cfg = config(
        &roles(""),
        &[
            agent("impl", &[("FAKE_STATE_DIR", &s)]),
            agent("rev", &[("FAKE_STATE_DIR", &s), ("FAKE_VERDICT", "reject_once"), ("FAKE_FEEDBACK_FILE", &file)]),
        ],
    );
    let summary = run(dir, "101-feedback", cfg).await;
    assert_eq!(summary.outcome, RunOutcome::Completed, "{summary:#?}");
    assert_eq!(summary.wps[0].facts.review_cycles, 1);
    let store = StateStore::open(dir).unwrap();
    let slug = kitty_orchestrator::FeatureSlug::parse("101-feedback").unwrap();
    let history = store.history(&slug, &id("WP01")).unwrap();
    let rejected = history.iter().find(|h| matches!(h.state.last_event, WpEvent::Rejected { .. })).unwrap();
    assert!(
        rejected.state.feedback.as_deref().unwrap().contains("---\n\n## Must fix\n---\nKitty-Lane: done"),
        "{:?}",
        rejected.state.feedback
    );
    // git itself reads a lane trailer on every event commit.
    let name = "refs/kitty/wp/101-feedback/WP01";
    let lanes = git(dir, &["log", "--format=%(trailers:key=Kitty-Lane,valueonly)%x00", name]);
    let lanes: Vec<&str> = lanes.split('\0').map(str::trim).filter(|l| !l.is_empty()).collect();
    assert_eq!(lanes.len(), history.len(), "{lanes:?}");
    assert_eq!(lanes[0], "done");
    let body = git(dir, &["log", "-1", "--format=%B", &rejected.commit]);
    assert!(body.contains("    ---") && !body.contains("\n---"), "{body}");
}

// 1b. A chain written by an earlier build, whose body held an unindented `---`, still reads.
#[test]
fn a_chain_with_an_old_unindented_divider_still_reads() {
    let tmp = repo_with("102-old", &["WP01"]);
    let dir = tmp.path();
    let f = kitty_orchestrator::load_feature(dir.join("kitty-specs/102-old")).unwrap();
    let store = StateStore::open(dir).unwrap();
    store.import_feature(&f, None).unwrap();
    let name = "refs/kitty/wp/102-old/WP01";
    // Rewrite the tip's message the way earlier builds composed it: body as given, then trailers.
    let tip = git(dir, &["rev-parse", name]).trim().to_string();
    let tree = git(dir, &["rev-parse", &format!("{tip}^{{tree}}")]).trim().to_string();
    let trailers = git(dir, &["log", "-1", "--format=%(trailers:only,unfold)", &tip]);
    let message = format!("WP01: imported as planned\n\nfeedback\n---\nKitty-Lane: done\n\n{}", trailers.trim());
    let out = Command::new("git").args(["commit-tree", &tree, "-m", &message]).current_dir(dir).output().unwrap();
    let old = String::from_utf8(out.stdout).unwrap().trim().to_string();
    git(dir, &["update-ref", name, &old]);
    let state = store.wp_state(&f.slug, &id("WP01")).unwrap().unwrap();
    assert_eq!(state.lane, Lane::Planned);
    assert_eq!(store.board(&f.slug).unwrap().corrupt, Vec::new());
}

// 2. Numbers from agents: two costs of 1.7e308 must not make the state unreadable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absurd_costs_are_dropped_with_a_warning_and_state_stays_readable() {
    let tmp = repo_with("103-cost", &["WP01"]);
    let dir = tmp.path();
    let cfg =
        config(&roles(""), &[agent("impl", &[("FAKE_COST", "1.7e308")]), agent("rev", &[("FAKE_COST", "1.7e308")])]);
    let summary = run(dir, "103-cost", cfg).await;
    assert_eq!(summary.outcome, RunOutcome::Completed, "{summary:#?}");
    let orch = Orchestrator::open(dir, None).unwrap();
    let states = orch.status("103-cost").unwrap().wps;
    assert_eq!(states[&id("WP01")].cost_usd, 0.0);
    let log = std::fs::read_to_string(&summary.wps[0].logs[0]).unwrap();
    // (The value itself is masked in the log: it is a configured env value.)
    assert!(log.contains("# warning: dropped the reported cost"), "{log}");
}

// 3. Secrets: a `.env` an agent left is never auto-committed; the summary and the log say so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_commit_never_commits_secret_files_and_says_what_it_left_out() {
    let tmp = repo_with("104-secrets", &["WP01"]);
    let dir = tmp.path();
    let cfg = config(
        &roles(""),
        &[agent("impl", &[("FAKE_EXTRA_FILES", ".env,notes/todo.md,keys/deploy.pem")]), agent("rev", &[])],
    );
    let summary = run(dir, "104-secrets", cfg).await;
    assert_eq!(summary.outcome, RunOutcome::Completed, "{summary:#?}");
    assert_eq!(summary.wps[0].withheld, [".env", "keys/deploy.pem"]);
    let files = git(dir, &["ls-tree", "-r", "--name-only", "104-secrets-WP01"]);
    assert!(files.contains("notes/todo.md"), "{files}");
    assert!(!files.contains(".env") && !files.contains("deploy.pem"), "{files}");
    let log = std::fs::read_to_string(&summary.wps[0].logs[0]).unwrap();
    assert!(
        log.contains("# auto-commit withheld (secret-looking or .worktreeinclude): .env, keys/deploy.pem"),
        "{log}"
    );
}

// 4. A worktree whose setup failed, then edited by hand, is backed up before it is made again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_setup_never_costs_the_edits_made_since() {
    let tmp = repo_with("105-setup", &["WP01"]);
    let dir = tmp.path();
    let flags = tempfile::tempdir().unwrap();
    let flag = flags.path().join("setup-may-pass");
    let head =
        format!("setup_command = [\"test\", \"-e\", {}]", serde_json::to_string(&flag.display().to_string()).unwrap());
    let cfg = || config(&roles(&head), &[agent("impl", &[]), agent("rev", &[])]);
    let summary = run(dir, "105-setup", cfg()).await;
    assert_eq!(summary.outcome, RunOutcome::Blocked);
    assert!(summary.wps[0].facts.reason.as_deref().unwrap().contains("setup command `test -e"), "{summary:#?}");
    let worktree = dir.join(".worktrees/105-setup-WP01");
    std::fs::write(worktree.join("by-hand.txt"), "my fix\n").unwrap();
    std::fs::write(flag, "").unwrap();
    Orchestrator::open(dir, Some(cfg())).unwrap().retry("105-setup", "WP01").unwrap();
    let summary = run(dir, "105-setup", cfg()).await;
    assert_eq!(summary.outcome, RunOutcome::Completed, "{summary:#?}");
    let backups = git(dir, &["for-each-ref", "--format=%(refname)", "refs/kitty/backup/105-setup/WP01/"]);
    let backup = backups.lines().next().unwrap_or_else(|| panic!("no backup ref"));
    assert_eq!(git(dir, &["show", &format!("{backup}:by-hand.txt")]), "my fix\n");
}

// 5a. After a rejection, an implementer that adds nothing is `no_changes`, not resubmitted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attempt_that_adds_nothing_after_a_rejection_is_no_changes() {
    let tmp = repo_with("106-nothing", &["WP01"]);
    let dir = tmp.path();
    let state = tempfile::tempdir().unwrap();
    let s = state.path().display().to_string();
    let cfg = config(
        &roles("max_retries = 1"),
        &[
            agent("impl", &[("FAKE_STATE_DIR", &s), ("FAKE_FIRST_MODE", "ok"), ("FAKE_MODE", "noop")]),
            agent("rev", &[("FAKE_VERDICT", "reject")]),
        ],
    );
    let summary = run(dir, "106-nothing", cfg).await;
    assert_eq!(summary.outcome, RunOutcome::Blocked, "{summary:#?}");
    let wp = &summary.wps[0];
    assert_eq!(wp.facts.review_cycles, 1, "never resubmitted: {wp:?}");
    assert!(wp.facts.reason.as_deref().unwrap().contains("last no_changes"), "{wp:?}");
}

// 5b. What a timed-out attempt left uncommitted goes to a backup ref, not onto the branch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_attempts_leftovers_go_to_a_backup_not_the_branch() {
    let tmp = repo_with("107-leftovers", &["WP01"]);
    let dir = tmp.path();
    let state = tempfile::tempdir().unwrap();
    let s = state.path().display().to_string();
    let impl_agent = agent("impl", &[("FAKE_STATE_DIR", &s), ("FAKE_FIRST_MODE", "leftovers_hang")])
        .replace("output = ", "timeout_seconds = 2\noutput = ");
    let cfg = config(&roles(""), &[impl_agent, agent("rev", &[])]);
    let summary = run(dir, "107-leftovers", cfg).await;
    assert_eq!(summary.outcome, RunOutcome::Completed, "{summary:#?}");
    let files = git(dir, &["ls-tree", "-r", "--name-only", "107-leftovers-WP01"]);
    assert!(!files.contains("half-done.txt"), "{files}");
    let backup = git(dir, &["for-each-ref", "--format=%(refname)", "refs/kitty/backup/107-leftovers/WP01/"]);
    let backup = backup.lines().next().expect("a backup of the leftovers");
    assert_eq!(git(dir, &["show", &format!("{backup}:half-done.txt")]), "half of the work\n");
}

// 6. A descendant that calls setsid does not survive even a successful run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn descendants_that_escape_the_process_group_are_ended() {
    let tmp = repo_with("108-setsid", &["WP01"]);
    let dir = tmp.path();
    let cfg = config(&roles(""), &[agent("impl", &[("FAKE_MODE", "setsid_daemon")]), agent("rev", &[])]);
    let summary = run(dir, "108-setsid", cfg).await;
    assert_eq!(summary.outcome, RunOutcome::Completed, "{summary:#?}");
    assert_eq!(agents_of("108-setsid"), Vec::<i32>::new());
    let log = std::fs::read_to_string(&summary.wps[0].logs[0]).unwrap();
    assert!(log.contains("that had left the agent's process group"), "{log}");
}

// 7. A final result line far longer than the log's line limit is still parsed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multi_megabyte_final_result_line_is_parsed() {
    let tmp = repo_with("109-long", &["WP01"]);
    let dir = tmp.path();
    let cfg = config(&roles(""), &[agent("impl", &[("FAKE_RESULT_PAD", "3000000")]), agent("rev", &[])]);
    let summary = run(dir, "109-long", cfg).await;
    assert_eq!(summary.outcome, RunOutcome::Completed, "{summary:#?}");
    assert_eq!(summary.wps[0].facts.attempts, 2, "one implementation, one review");
}

// 8. A killed agent's index.lock does not block the next attempt, nor a retried WP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_index_lock_is_cleared_after_a_kill_and_on_retry() {
    let tmp = repo_with("110-lock", &["WP01", "WP02"]);
    let dir = tmp.path();
    let state = tempfile::tempdir().unwrap();
    let s = state.path().display().to_string();
    let impl_agent =
        agent("impl", &[("FAKE_STATE_DIR", &s), ("FAKE_FIRST_MODE", "lock_hang"), ("FAKE_FAIL_WPS", "WP02")])
            .replace("output = ", "timeout_seconds = 2\noutput = ");
    let cfg = || config(&roles("max_retries = 1"), &[impl_agent.clone(), agent("rev", &[])]);
    let summary = run(dir, "110-lock", cfg()).await;
    let wp01 = summary.wps.iter().find(|w| w.facts.id == "WP01").unwrap();
    assert_eq!(wp01.facts.lane, Lane::Done, "{summary:#?}");
    assert!(!dir.join(".git/worktrees/110-lock-WP01/index.lock").exists());
    // WP02 fails every attempt and is blocked; a lock left in its worktree is cleared on retry.
    let lock = dir.join(".git/worktrees/110-lock-WP02/index.lock");
    std::fs::write(&lock, "").unwrap();
    Orchestrator::open(dir, Some(cfg())).unwrap().retry("110-lock", "WP02").unwrap();
    assert!(!lock.exists());
}

// 9. setup_command runs like an agent: its own process group, timeouts, and outside the
//    repository-wide lock (two WPs' setups overlap).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_runs_through_the_executor_with_timeouts_and_outside_the_lock() {
    let tmp = repo_with("111-setup", &["WP01", "WP02"]);
    let dir = tmp.path();
    let marks = tempfile::tempdir().unwrap();
    let m = marks.path().display().to_string();
    let script = format!("date +%s%N > {m}/$KITTY_WP.start; sleep 1; date +%s%N > {m}/$KITTY_WP.end");
    let head = format!(
        "setup_command = [\"sh\", \"-c\", {}]\nwritable = [{}]",
        serde_json::to_string(&script).unwrap(),
        serde_json::to_string(&m).unwrap()
    );
    let cfg = config(&roles(&head), &[agent("impl", &[]), agent("rev", &[])]);
    let summary = run(dir, "111-setup", cfg).await;
    assert_eq!(summary.outcome, RunOutcome::Completed, "{summary:#?}");
    let read =
        |name: &str| -> u128 { std::fs::read_to_string(marks.path().join(name)).unwrap().trim().parse().unwrap() };
    let (s1, e1, s2, e2) = (read("WP01.start"), read("WP01.end"), read("WP02.start"), read("WP02.end"));
    assert!(s1 < e2 && s2 < e1, "the two setups overlap: {s1}-{e1} and {s2}-{e2}");
    let log = std::fs::read_to_string(dir.join(".kittify/logs/111-setup/WP01-setup.log")).unwrap();
    assert!(log.contains("# agent: setup") && log.contains("# exit: code 0"), "{log}");

    // A hanging setup is ended by the wall-clock limit, its whole group with it.
    let tmp = repo_with("112-setup-hang", &["WP01"]);
    let dir = tmp.path();
    let head = "timeout_seconds = 1\nsetup_command = [\"sh\", \"-c\", \"sleep 1000 & sleep 1000\"]";
    let cfg = config(&roles(head), &[agent("impl", &[]), agent("rev", &[])]);
    let started = Instant::now();
    let summary = run(dir, "112-setup-hang", cfg).await;
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(summary.outcome, RunOutcome::Blocked);
    assert!(summary.wps[0].facts.reason.as_deref().unwrap().contains("timeout"), "{summary:#?}");
    assert_eq!(agents_of("112-setup-hang"), Vec::<i32>::new());
}

// 9b. Abort ends a setup in progress at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_ends_a_setup_in_progress() {
    let tmp = repo_with("113-setup-abort", &["WP01"]);
    let dir = tmp.path();
    let head = "setup_command = [\"sleep\", \"1000\"]";
    let cfg = config(&roles(head), &[agent("impl", &[]), agent("rev", &[])]);
    let orch = Orchestrator::open(dir, Some(cfg)).unwrap();
    let cancel = CancellationToken::new();
    let token = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        token.cancel();
    });
    let started = Instant::now();
    let summary = orch.run("113-setup-abort", fast(), kitty_orchestrator::engine::no_events(), cancel).await.unwrap();
    assert_eq!(summary.outcome, RunOutcome::Aborted);
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    assert_eq!(agents_of("113-setup-abort"), Vec::<i32>::new());
    let states = orch.status("113-setup-abort").unwrap().wps;
    assert!(states[&id("WP01")].owner.is_none(), "released for resume");
}

// 10. Secrets by value, URL credentials and token shapes never reach anything we write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_reach_refs_notes_logs_or_events() {
    let tmp = repo_with("114-leak", &["WP01"]);
    let dir = tmp.path();
    let env = [
        ("FAKE_MODE", "leak"),
        ("FAKE_LEAK", "DB_URL,PLAIN_SETTING,SLACK_BOT"),
        ("DB_URL", "postgres://app:hunter2secretpw@db.internal/app"),
        ("PLAIN_SETTING", "configured-value-4242"),
        ("SLACK_BOT", "xoxb-123456789012-abcdefghijkl"),
    ];
    let cfg = config(&roles(""), &[agent("impl", &env), agent("rev", &[])]);
    let orch = Orchestrator::open(dir, Some(cfg)).unwrap();
    let (sink, events) = recorder();
    let opts = RunOptions { output_lines: true, ..fast() };
    let summary = orch.run("114-leak", opts, sink, CancellationToken::new()).await.unwrap();
    assert_eq!(summary.outcome, RunOutcome::Blocked, "{summary:#?}");
    let reason = summary.wps[0].facts.reason.clone().unwrap();
    assert!(reason.contains("the password is [REDACTED:DB_URL]"), "{reason}");
    let mut written = everything_written(dir);
    written.push_str(&serde_json::to_string(&summary).unwrap());
    for event in events.lock().unwrap().iter() {
        written.push_str(&serde_json::to_string(event).unwrap());
    }
    for secret in
        ["hunter2secretpw", "configured-value-4242", "xoxb-123456789012", "tokentoken123", "ghp_abcdefghijklmnop"]
    {
        assert!(!written.contains(secret), "{secret} was written somewhere");
    }
    assert!(written.contains("[REDACTED:SLACK_BOT]") && written.contains("https://[REDACTED]@example.com/hook"));
}

// 11. A WP owned by a run on another host is shown with its owner and can be released by hand.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wp_held_by_another_host_is_shown_and_released_by_hand() {
    let tmp = repo_with("115-release", &["WP01"]);
    let dir = tmp.path();
    let cfg = || config(&roles(""), &[agent("impl", &[]), agent("rev", &[])]);
    let orch = Orchestrator::open(dir, Some(cfg())).unwrap();
    let f = orch.feature("115-release").unwrap();
    orch.store().import_feature(&f, None).unwrap();
    let elsewhere = Owner { run_id: "01OTHERHOSTRUN0000000000000".into(), pid: 4242, host: "gone-container".into() };
    let claim = Append::new(WpEvent::Claimed { owner: elsewhere.clone() }).run(&elsewhere.run_id);
    orch.store().append(&f.slug, &id("WP01"), &claim).unwrap();
    let (sink, events) = recorder();
    let summary = orch.run("115-release", fast(), sink, CancellationToken::new()).await.unwrap();
    assert_eq!(summary.wps[0].owner.as_deref(), Some(elsewhere.to_string().as_str()), "{summary:#?}");
    let blocked = events.lock().unwrap().iter().any(|e| {
        matches!(e, Event::WpBlocked { reason, .. } if reason.contains("kitty-orchestrator release 115-release WP01"))
    });
    assert!(blocked);
    let released = orch.release("115-release", "WP01").unwrap();
    assert_eq!((released.lane, released.owner.clone()), (Lane::Doing, None));
    assert!(matches!(released.last_event, WpEvent::ForceReleased { .. }));
    let summary = run(dir, "115-release", cfg()).await;
    assert_eq!(summary.outcome, RunOutcome::Completed, "{summary:#?}");

    // A live owner on this machine is not released by hand.
    let tmp = repo_with("116-alive", &["WP01"]);
    let orch = Orchestrator::open(tmp.path(), Some(cfg())).unwrap();
    let f = orch.feature("116-alive").unwrap();
    orch.store().import_feature(&f, None).unwrap();
    let me = Owner { run_id: "01ALIVE000000000000000000000".into(), pid: std::process::id(), host: this_host() };
    orch.store().append(&f.slug, &id("WP01"), &Append::new(WpEvent::Claimed { owner: me }).run("x")).unwrap();
    let err = orch.release("116-alive", "WP01").unwrap_err();
    assert_eq!(err.code(), "state_conflict", "{err}");
}

// 12. An owner whose run id is multi-byte text (someone else's state.json) is reclaimed without
//     a panic, and absurd durations are refused up front.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_owner_ids_and_durations_do_not_panic() {
    let tmp = repo_with("117-unicode", &["WP01"]);
    let dir = tmp.path();
    let cfg = config(&roles(""), &[agent("impl", &[]), agent("rev", &[])]);
    let orch = Orchestrator::open(dir, Some(cfg)).unwrap();
    let f = orch.feature("117-unicode").unwrap();
    orch.store().import_feature(&f, None).unwrap();
    let mut dead = Command::new("true").spawn().unwrap();
    let pid = dead.id();
    dead.wait().unwrap();
    let owner = Owner { run_id: "ééééééééééééé✓".into(), pid, host: this_host() };
    orch.store().append(&f.slug, &id("WP01"), &Append::new(WpEvent::Claimed { owner }).run("x")).unwrap();
    let summary = orch
        .run("117-unicode", fast(), kitty_orchestrator::engine::no_events(), CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(summary.outcome, RunOutcome::Completed, "{summary:#?}");
    let subjects = git(dir, &["log", "--format=%s", "refs/kitty/wp/117-unicode/WP01"]);
    assert!(subjects.contains("reclaimed from dead run éééééééééé"), "{subjects}");
    for opts in [
        RunOptions { grace: Duration::from_secs(u64::MAX), ..fast() },
        RunOptions { max_concurrent: Some(0), ..fast() },
        RunOptions { retry_base: Duration::MAX, ..fast() },
    ] {
        let err = orch
            .run("117-unicode", opts, kitty_orchestrator::engine::no_events(), CancellationToken::new())
            .await
            .unwrap_err();
        assert_eq!(err.code(), "config_invalid", "{err}");
    }
}

// 14. An agent that echoes its prompt is not judged by the prompt's own example lines.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_echoed_prompt_is_never_read_as_the_agents_answer() {
    // The implementer parrots its prompt (whose examples include `KITTY-STATUS: blocked …`):
    // it did its work and said nothing, so it is submitted, not blocked by its prompt.
    let tmp = repo_with("118-parrot", &["WP01"]);
    let cfg = config(&roles(""), &[agent("impl", &[("FAKE_MODE", "parrot")]), agent("rev", &[])]);
    let summary = run(tmp.path(), "118-parrot", cfg).await;
    assert_eq!(summary.outcome, RunOutcome::Completed, "{summary:#?}");
    // A reviewer that parrots its prompt (`KITTY-VERDICT: approve …`, `… reject …`) gave no verdict.
    let tmp = repo_with("119-parrot-review", &["WP01"]);
    let cfg = config(&roles("max_retries = 0"), &[agent("impl", &[]), agent("rev", &[("FAKE_MODE", "parrot")])]);
    let summary = run(tmp.path(), "119-parrot-review", cfg).await;
    assert_eq!(summary.outcome, RunOutcome::Blocked, "{summary:#?}");
    assert!(summary.wps[0].facts.reason.as_deref().unwrap().contains("invalid_output"), "{summary:#?}");
    assert_eq!(summary.wps[0].facts.review_cycles, 0);
}

// 18. Unclear errors: a typo is feature_not_found, an ill-formed WP id its own error, and one
//     corrupt ref does not hide the board.
#[test]
fn errors_name_what_is_wrong_and_a_corrupt_ref_does_not_hide_the_board() {
    let tmp = repo_with("120-errors", &["WP01", "WP02"]);
    let dir = tmp.path();
    let cfg = config(&roles(""), &[agent("impl", &[]), agent("rev", &[])]);
    let orch = Orchestrator::open(dir, Some(cfg)).unwrap();
    assert_eq!(orch.status("120-erors").unwrap_err().code(), "feature_not_found");
    let f = orch.feature("120-errors").unwrap();
    orch.store().import_feature(&f, None).unwrap();
    let err = orch.retry("120-errors", "WP1").unwrap_err();
    assert_eq!(err.code(), "wp_id_invalid");
    assert!(err.to_string().contains("`WP1` is not a work package id"), "{err}");
    assert_eq!(orch.retry("120-errors", "WP09").unwrap_err().code(), "wp_not_found");
    let blob = git(dir, &["hash-object", "-w", "README.md"]);
    git(dir, &["update-ref", "refs/kitty/wp/120-errors/WP02", blob.trim()]);
    let status = orch.status("120-errors").unwrap();
    assert_eq!(status.wps.keys().map(WpId::as_str).collect::<Vec<_>>(), ["WP01"]);
    assert_eq!(status.corrupt.len(), 1);
    assert_eq!(status.corrupt[0].reference, "refs/kitty/wp/120-errors/WP02");
    let err = Orchestrator::open(tempfile::tempdir().unwrap().path(), None).unwrap_err();
    assert_eq!(err.code(), "not_a_repository", "{err}");
}

// 20. A writer that no longer owns a WP is refused.
#[test]
fn a_stale_writer_is_refused() {
    let tmp = repo_with("121-stale", &["WP01"]);
    let dir = tmp.path();
    let store = StateStore::open(dir).unwrap();
    let f = kitty_orchestrator::load_feature(dir.join("kitty-specs/121-stale")).unwrap();
    store.import_feature(&f, None).unwrap();
    let owner = |run: &str| Owner { run_id: run.into(), pid: 1, host: "h".into() };
    store.append(&f.slug, &id("WP01"), &Append::new(WpEvent::Claimed { owner: owner("a") }).run("a")).unwrap();
    store
        .append(
            &f.slug,
            &id("WP01"),
            &Append::new(WpEvent::Reclaimed { owner: owner("b"), previous: owner("a") }).run("b"),
        )
        .unwrap();
    let before = git(dir, &["rev-parse", "refs/kitty/wp/121-stale/WP01"]);
    let err =
        store.append(&f.slug, &id("WP01"), &Append::new(WpEvent::Submitted { head: "x".into() }).run("a")).unwrap_err();
    assert_eq!(err.code(), "state_conflict", "{err}");
    assert!(err.to_string().contains("must come from the WP's owner"), "{err}");
    assert_eq!(git(dir, &["rev-parse", "refs/kitty/wp/121-stale/WP01"]), before);
}

// 21. A reviewer that edits and commits is refused; its changes are undone after a backup.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_review_that_changes_the_work_is_a_failed_attempt_and_is_undone() {
    let tmp = repo_with("122-vandal", &["WP01"]);
    let dir = tmp.path();
    let state = tempfile::tempdir().unwrap();
    let s = state.path().display().to_string();
    // An unconfined reviewer (`sandbox = "off"`: confined, its writes would simply be denied).
    let rev = agent("rev", &[("FAKE_STATE_DIR", &s), ("FAKE_FIRST_MODE", "vandal")]) + "sandbox = \"off\"\n";
    let cfg = config(&roles(""), &[agent("impl", &[]), rev]);
    let summary = run(dir, "122-vandal", cfg).await;
    assert_eq!(summary.outcome, RunOutcome::Completed, "{summary:#?}");
    let branch = "122-vandal-WP01";
    let files = git(dir, &["ls-tree", "-r", "--name-only", branch]);
    assert!(!files.contains("vandalised.txt"), "{files}");
    assert_eq!(git(dir, &["show", &format!("{branch}:README.md")]), "hello\n");
    let worktree = dir.join(".worktrees").join(branch);
    assert_eq!(git(&worktree, &["status", "--porcelain"]), "");
    let store = StateStore::open(dir).unwrap();
    let slug = kitty_orchestrator::FeatureSlug::parse("122-vandal").unwrap();
    let history = store.history(&slug, &id("WP01")).unwrap();
    assert!(history.iter().any(|h| matches!(
        h.state.last_event,
        WpEvent::AgentFinished { failure: Some(FailureClass::ReadOnlyViolation), .. }
    )));
    // What the reviewer did is kept, not lost.
    let backup = git(dir, &["for-each-ref", "--format=%(refname)", "refs/kitty/backup/122-vandal/WP01/"]);
    let backup = backup.lines().next().expect("a backup of the reviewer's changes");
    assert_eq!(git(dir, &["show", &format!("{backup}:vandalised.txt")]), "changed by the reviewer\n");
}

#[test]
fn reviewers_get_the_narrowest_permissions_each_cli_offers() {
    let profiles = kitty_orchestrator::agents::builtin_profiles();
    let copilot = profiles.iter().find(|p| p.id == "copilot").unwrap();
    assert!(!copilot.review.iter().any(|a| a.contains("allow-all")), "{:?}", copilot.review);
    assert!(copilot.review.iter().any(|a| a.starts_with("--deny-tool")), "{:?}", copilot.review);
    let opencode = profiles.iter().find(|p| p.id == "opencode").unwrap();
    let (_, permission) = opencode.review_env.unwrap()[0];
    let permission: serde_json::Value = serde_json::from_str(permission).unwrap();
    assert_eq!(permission["edit"], "deny");
    assert_eq!(permission["*"], "deny");
}
