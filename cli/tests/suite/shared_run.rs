//! Several machines on one feature through the real binary (`run --remote`): one machine's
//! orchestrator is killed with SIGKILL mid-run; another takes its WPs over only once its lease has
//! lapsed, and finishes them; the killed machine's agents live on until its own next run ends them.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{agents_of, alive, bin, git, write_config_full};

const SLUG: &str = "220-shared";
const LEASE: u64 = 5;

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A bare remote holding a feature of four independent WPs on `main`, and two clones of it.
fn two_machines(tmp: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let bare = tmp.join("remote.git");
    git(tmp, &["init", "-q", "--bare", "-b", "main", bare.to_str().unwrap()]);
    let seed = tmp.join("seed");
    git(tmp, &["init", "-q", "-b", "main", seed.to_str().unwrap()]);
    git(&seed, &["config", "user.name", "Seed"]);
    git(&seed, &["config", "user.email", "seed@example.com"]);
    let wps: Vec<(&str, &str, &[&str])> =
        ["WP01", "WP02", "WP03", "WP04"].iter().map(|id| (*id, "planned", &[][..])).collect();
    kitty_test_support::write_feature(&seed, SLUG, &wps);
    git(&seed, &["add", "-A"]);
    git(&seed, &["commit", "-qm", "feature"]);
    git(&seed, &["push", "-q", bare.to_str().unwrap(), "main"]);
    let clone = |name: &str| {
        let dir = tmp.join(name);
        git(tmp, &["clone", "-q", bare.to_str().unwrap(), dir.to_str().unwrap()]);
        git(&dir, &["config", "user.name", name]);
        git(&dir, &["config", "user.email", &format!("{name}@example.com")]);
        dir
    };
    (bare.clone(), clone("laptop"), clone("ci-box"))
}

fn remote_status(dir: &Path) -> serde_json::Value {
    let out = bin().args(["status", SLUG, "--remote", "origin", "--json", "--repo"]).arg(dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn configure(dir: &Path, host: &str, env: &str) {
    let head = format!(
        "max_concurrent_wps = 2\nmax_retries = 0\nhost_id = \"{host}\"\nlease_seconds = {LEASE}\n\
         lease_renew_seconds = 1\nsync_interval_seconds = 1"
    );
    write_config_full(dir, &head, env, "");
}

/// Live agent processes (and what they started) of worktrees under `dir`.
fn agents_under(dir: &Path) -> Vec<i32> {
    let want = format!("KITTY_WORKTREE={}", dir.display());
    agents_of(SLUG)
        .into_iter()
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|&b| b == 0).any(|v| v.starts_with(want.as_bytes())))
        })
        .collect()
}

/// A failed test leaves no process trees behind (they ignore SIGTERM).
struct EndAgents(PathBuf);

impl Drop for EndAgents {
    fn drop(&mut self) {
        for pid in agents_under(&self.0) {
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
        }
    }
}

/// `(lane, owner host)` of each WP on the remote.
fn remote_board(bare: &Path) -> Vec<(String, Option<String>)> {
    ["WP01", "WP02", "WP03", "WP04"]
        .iter()
        .map(|wp| {
            let reference = format!("refs/kitty/wp/{SLUG}/{wp}");
            let out =
                Command::new("git").arg("-C").arg(bare).args(["show", &format!("{reference}:state.json")]).output();
            let Some(out) = out.ok().filter(|o| o.status.success()) else { return ("none".into(), None) };
            let state: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            let host = state["owner"]["host"].as_str().map(str::to_string);
            (state["lane"].as_str().unwrap_or("?").to_string(), host)
        })
        .collect()
}

/// The owner host recorded by the one event of `wp`'s remote chain whose subject starts with
/// `subject`.
fn owner_at(bare: &Path, wp: &str, subject: &str) -> String {
    let log = git(bare, &["log", "--format=%H %s", &format!("refs/kitty/wp/{SLUG}/{wp}")]);
    let hits: Vec<&str> = log.lines().filter(|l| l.contains(&format!(": {subject}"))).collect();
    assert_eq!(hits.len(), 1, "{wp}: one `{subject}` event: {log}");
    let commit = hits[0].split(' ').next().unwrap();
    let state: serde_json::Value =
        serde_json::from_str(&git(bare, &["show", &format!("{commit}:state.json")])).unwrap();
    state["owner"]["host"].as_str().unwrap().to_string()
}

fn subjects(bare: &Path, wp: &str) -> String {
    git(bare, &["log", "--format=%s%n%b", &format!("refs/kitty/wp/{SLUG}/{wp}")])
}

#[test]
fn a_killed_machines_wps_are_reclaimed_after_its_lease_and_its_agents_ended_by_its_next_run() {
    let tmp = tempfile::tempdir().unwrap();
    let (bare, laptop, ci_box) = two_machines(tmp.path());
    let _cleanup = EndAgents(tmp.path().to_path_buf());
    // The laptop's agents leave processes behind that only SIGKILL ends (the agent itself dies
    // with its orchestrator; what it started does not).
    configure(&laptop, "laptop", "FAKE_MODE = \"sigterm_tree\"");
    configure(&ci_box, "ci-box", "");

    // The laptop claims two WPs (its slots) and its slow agents start; then it is killed.
    let mut a = bin()
        .args(["run", SLUG, "--remote", "origin", "--repo"])
        .arg(&laptop)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(tmp.path().join("laptop.err")).unwrap())
        .spawn()
        .unwrap();
    wait_for("the laptop's claims on the remote", Duration::from_secs(60), || {
        let claimed = remote_board(&bare).iter().filter(|(_, h)| h.as_deref() == Some("laptop")).count() == 2;
        let failed = a.try_wait().unwrap().is_some();
        let err = std::fs::read_to_string(tmp.path().join("laptop.err")).unwrap_or_default();
        assert!(!failed, "the laptop's run ended early: {err}");
        claimed
    });
    let logs = laptop.join(".kittify/logs").join(SLUG);
    wait_for("the laptop's agents", Duration::from_secs(30), || {
        let started =
            |e: &std::fs::DirEntry| std::fs::read_to_string(e.path()).is_ok_and(|l| l.contains("tree started"));
        std::fs::read_dir(&logs).map(|d| d.flatten().filter(started).count()).unwrap_or(0) == 2
    });
    std::thread::sleep(Duration::from_millis(500));
    a.kill().unwrap();
    a.wait().unwrap();
    // The agents themselves follow their orchestrator (parent-death signal); give them a moment.
    std::thread::sleep(Duration::from_millis(500));
    // The shells of the trees (their `sleep 1` children come and go).
    let orphans: Vec<i32> = agents_under(&laptop)
        .into_iter()
        .filter(|pid| std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "sh"))
        .collect();
    assert!(orphans.len() >= 2, "the killed run leaves its agents: {orphans:?}");
    let theirs: Vec<String> = remote_board(&bare)
        .iter()
        .zip(["WP01", "WP02", "WP03", "WP04"])
        .filter(|((_, h), _)| h.as_deref() == Some("laptop"))
        .map(|(_, wp)| wp.to_string())
        .collect();
    assert_eq!(theirs.len(), 2);

    // The CI box does the two free WPs, waits out the laptop's lease, then does its two.
    let started = Instant::now();
    let out = bin().args(["run", SLUG, "--remote", "origin", "--repo"]).arg(&ci_box).output().unwrap();
    let took = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(took >= Duration::from_secs(LEASE), "reclaimed before a lease had lapsed: {took:?}");
    for (wp, (lane, _)) in ["WP01", "WP02", "WP03", "WP04"].iter().zip(remote_board(&bare)) {
        assert_eq!(lane, "done", "{wp} on the remote");
        let claimed_by =
            owner_at(&bare, wp, if theirs.contains(&wp.to_string()) { "reclaimed" } else { "planned -> doing" });
        assert_eq!(claimed_by, "ci-box", "{wp}");
    }
    for wp in &theirs {
        let log = subjects(&bare, wp);
        assert!(log.contains("No heartbeat from laptop for"), "{wp}: {log}");
        assert_eq!(log.matches("reclaimed from run").count(), 1, "{wp} reclaimed once: {log}");
        assert!(log.contains("on laptop (its lease lapsed)"), "{wp}: {log}");
        let silent: u64 =
            log.split("No heartbeat from laptop for ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
        assert!(silent >= LEASE, "{wp} reclaimed after {silent} s of silence: {log}");
    }
    kitty_test_support::assert_fsck_clean(&bare);
    // Another machine cannot end the laptop's processes; they still run.
    assert!(orphans.iter().all(|&pid| alive(pid)), "the laptop's agents outlive its orchestrator");

    // The laptop's next run ends them, adopts the remote's board and has nothing left to do.
    let out = bin().args(["run", SLUG, "--remote", "origin", "--repo"]).arg(&laptop).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let what = format!("the orphans to end after {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    wait_for(&what, Duration::from_secs(15), || orphans.iter().all(|&pid| !alive(pid)));
    assert_eq!(agents_under(tmp.path()), Vec::<i32>::new());
    let local = git(&laptop, &["show", &format!("refs/kitty/wp/{SLUG}/{}:state.json", theirs[0])]);
    assert!(local.contains("\"lane\": \"done\""), "the laptop adopted the remote's chain: {local}");
    let kept = git(&laptop, &["for-each-ref", "--format=%(refname)", "refs/kitty/superseded/"]);
    assert!(kept.contains(&theirs[0]), "the laptop's own events are kept aside: {kept}");
}

#[test]
fn abort_remote_stops_every_machine_and_status_remote_shows_who_holds_what() {
    let tmp = tempfile::tempdir().unwrap();
    let (bare, laptop, ci_box) = two_machines(tmp.path());
    let _cleanup = EndAgents(tmp.path().to_path_buf());
    let phone = tmp.path().join("phone");
    git(tmp.path(), &["clone", "-q", bare.to_str().unwrap(), phone.to_str().unwrap()]);
    for (dir, host) in [(&laptop, "laptop"), (&ci_box, "ci-box"), (&phone, "phone")] {
        configure(dir, host, "FAKE_SLEEP_MS = \"120000\"");
    }
    let spawn = |dir: &Path| {
        bin().args(["run", SLUG, "--remote", "origin", "--repo"]).arg(dir).stdout(Stdio::piped()).spawn().unwrap()
    };
    let mut runs = vec![spawn(&laptop), spawn(&ci_box)];
    wait_for("both machines' claims", Duration::from_secs(60), || {
        let board = remote_board(&bare);
        ["laptop", "ci-box"].iter().all(|h| board.iter().filter(|(_, o)| o.as_deref() == Some(*h)).count() == 2)
    });

    // The board as the remote has it: every WP held, each by a machine whose heartbeat is fresh.
    let status = remote_status(&phone);
    let hosts: Vec<&str> = status["hosts"].as_array().unwrap().iter().map(|h| h["host"].as_str().unwrap()).collect();
    assert!(hosts.contains(&"laptop") && hosts.contains(&"ci-box"), "{status}");
    for wp in status["wps"].as_array().unwrap() {
        assert_eq!(wp["lane"], "doing", "{wp}");
        assert!(["laptop", "ci-box"].contains(&wp["owner"]["host"].as_str().unwrap()), "{wp}");
    }
    for host in status["hosts"].as_array().unwrap() {
        assert!(host["age_seconds"].as_i64().unwrap() < 30, "{host}");
    }
    let text = bin().args(["status", SLUG, "--remote", "origin", "--repo"]).arg(&phone).output().unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("machine laptop: heartbeat") && text.contains("machine ci-box: heartbeat"), "{text}");

    // Aborted from a third machine: both runs stop at their next look at the remote.
    let asked = std::time::Instant::now();
    let out = bin().args(["abort", SLUG, "--remote", "origin", "--repo"]).arg(&phone).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("abort recorded on remote origin"));
    for run in &mut runs {
        wait_for("the run to stop", Duration::from_secs(30), || run.try_wait().unwrap().is_some());
        assert_eq!(run.wait().unwrap().code(), Some(3), "aborted");
    }
    assert!(asked.elapsed() < Duration::from_secs(25), "stopped at the next sync: {:?}", asked.elapsed());
    assert_eq!(agents_under(tmp.path()), Vec::<i32>::new(), "every agent stopped");
    // Released on the remote (not left to a lease), the abort named there; a new run goes on.
    for (wp, (lane, host)) in ["WP01", "WP02", "WP03", "WP04"].iter().zip(remote_board(&bare)) {
        assert_eq!((lane.as_str(), host), ("doing", None), "{wp} released on the remote");
    }
    let status = remote_status(&phone);
    assert!(status["abort_requested"].as_str().unwrap().contains("requested on phone"), "{status}");
    configure(&laptop, "laptop", "");
    let out = bin().args(["run", SLUG, "--remote", "origin", "--repo"]).arg(&laptop).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "an old abort does not stop a new run: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}
