//! Several machines running one feature together (`sync_remote`): clones of one bare remote,
//! each with its own `host_id`, over `file://` and over a loopback `git daemon`. Every WP is done
//! exactly once, by one machine; every dependent's branch holds its dependencies' commits; the
//! remote stays a sound repository.

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::common::{agent, assert_fsck_clean, config, fast, git, recorder};
use kitty_orchestrator::engine::RunOutcome;
use kitty_orchestrator::state::{StateStore, WpEvent};
use kitty_orchestrator::{FeatureSlug, Orchestrator, WpId};
use tokio_util::sync::CancellationToken;

const SLUG: &str = "200-shared-run";

/// A bare remote with the feature on `main`, and `n` clones of it.
struct Fleet {
    tmp: tempfile::TempDir,
    bare: PathBuf,
    clones: Vec<PathBuf>,
    feature: Vec<(String, Vec<String>)>,
}

/// 20 WPs in five layers of four; each WP past the first layer depends on two of the layer
/// before (fan-ins, so bases are merges of two machines' work).
fn layered() -> Vec<(String, Vec<String>)> {
    (1..=20usize)
        .map(|i| {
            let layer = (i - 1) / 4;
            let deps = if layer == 0 {
                Vec::new()
            } else {
                let prev = (layer - 1) * 4;
                vec![format!("WP{:02}", prev + (i % 4) + 1), format!("WP{:02}", prev + ((i + 1) % 4) + 1)]
            };
            (format!("WP{i:02}"), deps)
        })
        .collect()
}

fn fleet(n: usize, feature: Vec<(String, Vec<String>)>, url: impl Fn(&Path) -> String) -> Fleet {
    let tmp = tempfile::tempdir().unwrap();
    let bare = tmp.path().join("remote.git");
    git(tmp.path(), &["init", "-q", "--bare", "-b", "main", bare.to_str().unwrap()]);
    let seed = common::repo();
    let wps: Vec<(&str, &str, Vec<&str>)> =
        feature.iter().map(|(id, deps)| (id.as_str(), "planned", deps.iter().map(String::as_str).collect())).collect();
    let wps: Vec<(&str, &str, &[&str])> = wps.iter().map(|(i, l, d)| (*i, *l, d.as_slice())).collect();
    common::feature(seed.path(), SLUG, &wps);
    git(seed.path(), &["add", "-A"]);
    git(seed.path(), &["commit", "-qm", "feature"]);
    git(seed.path(), &["push", "-q", bare.to_str().unwrap(), "main"]);
    let remote = url(&bare);
    let clones = (0..n)
        .map(|i| {
            let dir = tmp.path().join(format!("machine-{i}"));
            git(tmp.path(), &["clone", "-q", &remote, dir.to_str().unwrap()]);
            git(&dir, &["config", "user.name", &format!("Machine {i}")]);
            git(&dir, &["config", "user.email", &format!("machine-{i}@example.com")]);
            dir
        })
        .collect();
    Fleet { tmp, bare, clones, feature }
}

fn machine(fleet: &Fleet, i: usize, sleep_ms: u64) -> Orchestrator {
    let state = fleet.tmp.path().join(format!("agent-state-{i}"));
    std::fs::create_dir_all(&state).unwrap();
    let s = state.display().to_string();
    let sleep = sleep_ms.to_string();
    let head = format!(
        "max_concurrent_wps = 2\nsync_remote = \"origin\"\nhost_id = \"host-{i}\"\nlease_seconds = 5\n\
         lease_renew_seconds = 1\nsync_interval_seconds = 1\n[agents]\nimplementation = [\"impl\"]\nreview = [\"rev\"]"
    );
    let env = [("FAKE_STATE_DIR", s.as_str()), ("FAKE_SLEEP_MS", sleep.as_str())];
    let cfg = config(&head, &[agent("impl", &env), agent("rev", &env)]);
    Orchestrator::open(&fleet.clones[i], Some(cfg)).unwrap()
}

/// Runs every machine at once; each must end with the whole feature done (as it sees the board).
async fn run_all(fleet: &Fleet, sleep_ms: u64) -> BTreeMap<usize, kitty_orchestrator::engine::RunSummary> {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..fleet.clones.len() {
        let orch = machine(fleet, i, sleep_ms);
        tasks.spawn(async move {
            let (sink, _) = recorder();
            (i, orch.run(SLUG, fast(), sink, CancellationToken::new()).await)
        });
    }
    let mut done = BTreeMap::new();
    for (i, result) in tasks.join_all().await {
        let summary = result.unwrap_or_else(|e| panic!("machine {i}: {e}"));
        assert_eq!(summary.outcome, RunOutcome::Completed, "machine {i}: {summary:#?}");
        assert_eq!(summary.done, fleet.feature.len(), "machine {i} sees every WP done: {summary:#?}");
        done.insert(i, summary);
    }
    done
}

/// On the remote: every WP done, held by one machine at a time, every attempt by one host; every branch
/// holds its dependencies' branches; `git fsck` clean. Returns WPs done per host.
fn check_remote(fleet: &Fleet) -> BTreeMap<String, usize> {
    let store = StateStore::open(&fleet.bare).unwrap();
    let slug = FeatureSlug::parse(SLUG).unwrap();
    let mut per_host = BTreeMap::new();
    for (id, deps) in &fleet.feature {
        let wp = WpId::parse(id).unwrap();
        let history = store.history(&slug, &wp).unwrap();
        let last = &history.last().unwrap().state;
        assert_eq!(last.lane, kitty_orchestrator::Lane::Done, "{id} on the remote: {last:?}");
        // Held by one machine at a time: a claim only of an unowned WP (the first, or after a
        // release — e.g. to wait for the remote); never reclaimed (every machine stayed alive);
        // every attempt by one host, the one holding the WP then.
        let subjects: Vec<_> = history.iter().map(|e| &e.subject).collect();
        let mut holder: Option<String> = None;
        let mut attempts_by = std::collections::BTreeSet::new();
        for entry in &history {
            let owner = entry.state.owner.as_ref().map(|o| o.host.clone());
            match &entry.event {
                WpEvent::Claimed { .. } => {
                    assert!(holder.is_none(), "{id} claimed while {holder:?} held it: {subjects:?}");
                    holder = owner;
                }
                WpEvent::Released { .. } => holder = None,
                WpEvent::Reclaimed { .. } => panic!("{id} reclaimed: {subjects:?}"),
                WpEvent::AgentStarted { .. } => {
                    assert_eq!(owner, holder, "{id}: an attempt by a host not holding it: {subjects:?}");
                    attempts_by.insert(owner.clone().unwrap());
                }
                _ => {}
            }
        }
        assert_eq!(attempts_by.len(), 1, "{id}: attempts by one host: {subjects:?}");
        let host = attempts_by.into_iter().next().unwrap();
        *per_host.entry(host).or_insert(0) += 1;
        let branch = format!("{SLUG}-{id}");
        let files = git(&fleet.bare, &["ls-tree", "-r", "--name-only", &branch]);
        assert!(files.contains(&format!("{id}.txt")), "{branch} on the remote holds its work: {files}");
        for dep in deps {
            let dep_branch = format!("{SLUG}-{dep}");
            let ok = std::process::Command::new("git")
                .args(["merge-base", "--is-ancestor", &dep_branch, &branch])
                .current_dir(&fleet.bare)
                .status()
                .unwrap();
            assert!(ok.success(), "{branch} on the remote lacks {dep_branch}");
        }
    }
    assert_fsck_clean(&fleet.bare);
    per_host
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_machines_over_file_run_a_20_wp_feature_once() {
    let fleet = fleet(2, layered(), |bare| format!("file://{}", bare.display()));
    run_all(&fleet, 200).await;
    let per_host = check_remote(&fleet);
    eprintln!("WPs done per host: {per_host:?}");
    assert_eq!(per_host.values().sum::<usize>(), 20);
    assert_eq!(per_host.len(), 2, "both machines did some of the work: {per_host:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_machines_over_a_git_daemon_run_a_20_wp_feature_once() {
    let base = tempfile::tempdir().unwrap();
    let daemon = kitty_test_support::GitDaemon::start(base.path());
    let fleet = fleet(4, layered(), |bare| {
        // Served from the daemon's base path: move the bare remote there, keep the path.
        let served = base.path().join("remote.git");
        if !served.exists() {
            std::fs::rename(bare, &served).unwrap();
            std::os::unix::fs::symlink(&served, bare).unwrap();
        }
        daemon.url("remote.git")
    });
    run_all(&fleet, 200).await;
    let per_host = check_remote(&fleet);
    eprintln!("WPs done per host: {per_host:?}");
    assert_eq!(per_host.values().sum::<usize>(), 20);
    assert!(per_host.len() >= 2, "the machines shared the work: {per_host:?}");
}

/// WPs done on the remote as of now.
fn done_on_remote(bare: &Path) -> usize {
    let out = git(bare, &["for-each-ref", "--format=%(refname)", &format!("refs/kitty/wp/{SLUG}/")]);
    out.lines()
        .filter(|name| git(bare, &["show", &format!("{name}:state.json")]).contains("\"lane\": \"done\""))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_remote_away_for_10_s_mid_run_loses_and_repeats_nothing() {
    let base = tempfile::tempdir().unwrap();
    let daemon = kitty_test_support::GitDaemon::start(base.path());
    let port = daemon.port;
    let fleet = fleet(2, layered(), |bare| {
        let served = base.path().join("remote.git");
        if !served.exists() {
            std::fs::rename(bare, &served).unwrap();
            std::os::unix::fs::symlink(&served, bare).unwrap();
        }
        daemon.url("remote.git")
    });
    let (bare, served, clone0) = (fleet.bare.clone(), base.path().to_path_buf(), fleet.clones[0].clone());
    let outage = async move {
        let started = std::time::Instant::now();
        loop {
            let b = bare.clone();
            if tokio::task::spawn_blocking(move || done_on_remote(&b)).await.unwrap() >= 4 {
                break;
            }
            assert!(started.elapsed() < std::time::Duration::from_secs(120), "no progress before the outage");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        drop(daemon);
        let b = bare.clone();
        let before = tokio::task::spawn_blocking(move || done_on_remote(&b)).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_secs(4)).await;
        // A heartbeat or two has failed by now: the board here says so.
        let status = Orchestrator::open(&clone0, None).unwrap().status(SLUG).unwrap();
        let offline = status.offline.expect("status shows the remote offline");
        assert!(!offline.since.is_empty() && offline.remote == "origin", "{offline:?}");
        tokio::time::sleep(std::time::Duration::from_secs(6)).await;
        let _back = kitty_test_support::GitDaemon::start_on(&served, port);
        eprintln!("the remote was away for 10 s with {before} WPs done");
        // Serve until the machines are done (the test's end drops it).
        std::future::pending::<()>().await;
    };
    let summaries = tokio::select! {
        summaries = run_all(&fleet, 300) => summaries,
        _ = outage => unreachable!("the outage never ends on its own"),
    };
    let noticed: Vec<_> =
        summaries.values().flat_map(|s| &s.warnings).filter(|w| w.contains("could not be reached")).collect();
    assert!(!noticed.is_empty(), "the machines noticed the outage: {summaries:#?}");
    let per_host = check_remote(&fleet);
    eprintln!("WPs done per host: {per_host:?}");
    assert_eq!(per_host.values().sum::<usize>(), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_machines_over_file_run_a_20_wp_feature_once() {
    let fleet = fleet(4, layered(), |bare| format!("file://{}", bare.display()));
    run_all(&fleet, 200).await;
    let per_host = check_remote(&fleet);
    eprintln!("WPs done per host: {per_host:?}");
    assert_eq!(per_host.values().sum::<usize>(), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_push_the_remote_refuses_for_good_stops_claims_and_names_the_ref() {
    let flat: Vec<(String, Vec<String>)> = (1..=3).map(|i| (format!("WP{i:02}"), Vec::new())).collect();
    let fleet = fleet(1, flat, |bare| format!("file://{}", bare.display()));
    // A protected branch: the server refuses WP01's branch, whatever its old value.
    let hook = fleet.bare.join("hooks/pre-receive");
    std::fs::write(
        &hook,
        "#!/bin/sh\nwhile read old new ref; do\n  case \"$ref\" in *-WP01) echo \"protected branch: $ref\" >&2; exit 1;; esac\ndone\n",
    )
    .unwrap();
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let orch = machine(&fleet, 0, 0);
    let (sink, _) = recorder();
    let opts = kitty_orchestrator::engine::RunOptions { max_concurrent: Some(1), ..fast() };
    let run = orch.run(SLUG, opts, sink, CancellationToken::new());
    let summary = tokio::time::timeout(std::time::Duration::from_secs(120), run).await.expect("the run ends").unwrap();
    let said = summary.warnings.join("\n");
    assert!(said.contains("refs/heads/200-shared-run-WP01") && said.contains("protected branch"), "{summary:#?}");
    assert!(said.contains("claims nothing more"), "{said}");
    // Nothing claimed after the refusal: the remote has WP01 held, the others untouched.
    let store = StateStore::open(&fleet.bare).unwrap();
    let slug = FeatureSlug::parse(SLUG).unwrap();
    let board = store.board(&slug).unwrap().states;
    assert_eq!(board[&WpId::parse("WP01").unwrap()].lane, kitty_orchestrator::Lane::Doing, "{board:#?}");
    for wp in ["WP02", "WP03"] {
        assert_eq!(board[&WpId::parse(wp).unwrap()].lane, kitty_orchestrator::Lane::Planned, "{wp}: {board:#?}");
    }
    // Locally, the work is kept: WP01 went on here (its results held), its branch has its commit.
    let local = Orchestrator::open(&fleet.clones[0], None).unwrap().status(SLUG).unwrap();
    assert_eq!(local.wps[&WpId::parse("WP01").unwrap()].lane, kitty_orchestrator::Lane::Done, "{local:#?}");
    let files = git(&fleet.clones[0], &["ls-tree", "-r", "--name-only", &format!("{SLUG}-WP01")]);
    assert!(files.contains("WP01.txt"), "{files}");
    assert_fsck_clean(&fleet.bare);
}

/// Machine 0 (through a loopback daemon) claims the one WP with `mode`; once `cut_when` holds,
/// its remote goes away, and machine 1 (by path) reclaims the WP after a lease and finishes it.
/// Returns machine 0's run, still going, and the daemon's base path and port to bring it back.
struct CutOff {
    fleet: Fleet,
    served: PathBuf,
    base: tempfile::TempDir,
    port: u16,
    first: tokio::task::JoinHandle<Result<kitty_orchestrator::engine::RunSummary, kitty_orchestrator::Error>>,
}

async fn cut_off_then_reclaimed(impl_env: &[(&str, &str)], cut_when: impl Fn(&Path) -> bool) -> CutOff {
    let base = tempfile::tempdir().unwrap();
    let daemon = kitty_test_support::GitDaemon::start(base.path());
    let port = daemon.port;
    let flat = vec![("WP01".to_string(), Vec::new())];
    let served = base.path().join("remote.git");
    let fleet = fleet(2, flat, |bare| {
        if !served.exists() {
            std::fs::rename(bare, &served).unwrap();
            std::os::unix::fs::symlink(&served, bare).unwrap();
        }
        daemon.url("remote.git")
    });
    // Machine 1 reaches the remote by path: only machine 0 is cut off when the daemon stops.
    git(&fleet.clones[1], &["remote", "set-url", "origin", &format!("file://{}", served.display())]);
    let head = "max_concurrent_wps = 1\nmax_retries = 0\nsync_remote = \"origin\"\nhost_id = \"host-0\"\n\
                lease_seconds = 5\nlease_renew_seconds = 1\nsync_interval_seconds = 1\n[agents]\n\
                implementation = [\"impl\"]\nreview = [\"rev\"]";
    let cut_off =
        Orchestrator::open(&fleet.clones[0], Some(config(head, &[agent("impl", impl_env), agent("rev", &[])])))
            .unwrap();
    let (sink, _) = recorder();
    let first = tokio::spawn(async move { cut_off.run(SLUG, fast(), sink, CancellationToken::new()).await });
    let started = std::time::Instant::now();
    while !cut_when(&fleet.clones[0]) {
        assert!(started.elapsed() < std::time::Duration::from_secs(60), "machine 0 never got going");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    drop(daemon);

    // Machine 1 sees machine 0's heartbeat stop, reclaims WP01 after a lease and finishes it.
    let other = machine(&fleet, 1, 0);
    let (sink, _) = recorder();
    let summary = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        other.run(SLUG, fast(), sink, CancellationToken::new()),
    )
    .await
    .unwrap_or_else(|_| {
        let log = |dir: &Path| git(dir, &["log", "--format=%s", &format!("refs/kitty/wp/{SLUG}/WP01")]);
        panic!("machine 1 did not finish.\nmachine 1:\n{}\nremote:\n{}", log(&fleet.clones[1]), log(&served))
    })
    .unwrap();
    assert_eq!((summary.outcome, summary.done), (RunOutcome::Completed, 1), "{summary:#?}");
    CutOff { fleet, served, base, port, first }
}

/// On the remote: WP01 reclaimed once, by machine 1, and done by it.
fn reclaimed_once_by_machine_1(bare: &Path) {
    let store = StateStore::open(bare).unwrap();
    let history = store.history(&FeatureSlug::parse(SLUG).unwrap(), &WpId::parse("WP01").unwrap()).unwrap();
    let subjects: Vec<_> = history.iter().map(|e| &e.subject).collect();
    let reclaims: Vec<_> = history.iter().filter(|e| matches!(e.event, WpEvent::Reclaimed { .. })).collect();
    assert_eq!(reclaims.len(), 1, "{subjects:?}");
    assert_eq!(reclaims[0].state.owner.as_ref().unwrap().host, "host-1");
    let after: Vec<_> = history.iter().skip_while(|e| !matches!(e.event, WpEvent::Reclaimed { .. })).collect();
    assert!(after.iter().all(|e| e.state.owner.as_ref().is_none_or(|o| o.host == "host-1")), "{subjects:?}");
    assert_eq!(history.last().unwrap().state.lane, kitty_orchestrator::Lane::Done, "{subjects:?}");
    assert_fsck_clean(bare);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_machine_cut_off_loses_its_wp_stops_its_agent_and_keeps_its_work() {
    let half = |clone: &Path| clone.join(format!(".worktrees/{SLUG}-WP01/half-done.txt")).exists();
    let cut = cut_off_then_reclaimed(&[("FAKE_MODE", "leftovers_hang")], half).await;

    // Machine 0 is back: it finds WP01 taken, stops its agent, keeps the half-done work.
    let _back = kitty_test_support::GitDaemon::start_on(cut.base.path(), cut.port);
    let summary = tokio::time::timeout(std::time::Duration::from_secs(60), cut.first)
        .await
        .expect("machine 0's run ends once it sees the WP taken")
        .unwrap()
        .unwrap();
    let said = summary.warnings.join("\n");
    assert!(said.contains("WP01 was taken over by") && said.contains("host-1"), "{summary:#?}");
    assert_eq!(summary.done, 1, "machine 0 adopts the remote's board: {summary:#?}");
    let machine_0 = &cut.fleet.clones[0];
    let backups = git(machine_0, &["for-each-ref", "--format=%(refname)", &format!("refs/kitty/backup/{SLUG}/WP01/")]);
    let backup = backups.lines().next().unwrap_or_else(|| panic!("no backup ref: {said}"));
    let kept = git(machine_0, &["show", &format!("{backup}:half-done.txt")]);
    assert_eq!(kept, "half of the work\n");
    let wt = machine_0.join(format!(".worktrees/{SLUG}-WP01"));
    let want = format!("KITTY_WORKTREE={}", wt.display());
    let left: Vec<i32> = kitty_test_support::agents_of(SLUG)
        .into_iter()
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|&b| b == 0).any(|v| v == want.as_bytes()))
        })
        .collect();
    assert_eq!(left, Vec::<i32>::new(), "machine 0's agent was stopped");
    reclaimed_once_by_machine_1(&cut.served);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_machine_that_finished_offline_does_not_overwrite_the_reclaimers_chain() {
    // Machine 0's agent is slow: it finishes, offline, after machine 1 reclaimed and finished.
    let cut = cut_off_then_reclaimed(&[("FAKE_SLEEP_MS", "9000")], |clone| {
        clone.join(format!(".worktrees/{SLUG}-WP01")).exists()
    })
    .await;
    let machine_0 = cut.fleet.clones[0].clone();
    let done_here = || {
        let store = StateStore::open(&machine_0).unwrap();
        let state = store.wp_state(&FeatureSlug::parse(SLUG).unwrap(), &WpId::parse("WP01").unwrap()).unwrap();
        state.is_some_and(|s| s.lane == kitty_orchestrator::Lane::Done)
    };
    let started = std::time::Instant::now();
    while !done_here() {
        assert!(started.elapsed() < std::time::Duration::from_secs(60), "machine 0 never finished offline");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let _back = kitty_test_support::GitDaemon::start_on(cut.base.path(), cut.port);
    let summary = tokio::time::timeout(std::time::Duration::from_secs(60), cut.first)
        .await
        .expect("machine 0's run ends once it has sent what it held")
        .unwrap()
        .unwrap();
    let said = summary.warnings.join("\n");
    assert!(said.contains("WP01 was written by another machine"), "{summary:#?}");
    // Machine 0's own events are kept, not dropped: under refs/kitty/superseded/.
    let kept = git(&machine_0, &["for-each-ref", "--format=%(refname)", "refs/kitty/superseded/"]);
    assert!(kept.contains(&format!("wp/{SLUG}/WP01/")), "{kept}");
    reclaimed_once_by_machine_1(&cut.served);
}
