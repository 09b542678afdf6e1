//! `run`, `resume`, `status`, `log`, `abort`, `retry`, `agents` and `demo` as real processes.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{agents_of, alive, bin, fake_agent, git, repo, write_config};

#[test]
fn demo_runs_to_done_and_its_refs_show_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let out = bin().args(["demo", "--keep", "--dir"]).arg(&dir).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("Completed: 6 done, 0 blocked"), "{stdout}");
    assert!(stdout.contains("WP03 for_review -> doing"), "the demo shows one rejected review: {stdout}");
    assert!(stdout.contains("git for-each-ref"), "{stdout}");
    assert!(!stdout.contains('\x1b'), "no escape codes when not on a terminal");
    let board = git(
        &dir,
        &[
            "for-each-ref",
            "--format=%(refname:lstrip=4) %(trailers:key=Kitty-Lane,valueonly,separator=)",
            "refs/kitty/wp/001-wordcount/",
        ],
    );
    assert_eq!(board.lines().count(), 6, "{board}");
    assert!(board.lines().all(|l| l.ends_with(" done")), "{board}");
    // The program was really built: WP06's branch has every file.
    let files = git(&dir, &["ls-tree", "-r", "--name-only", "001-wordcount-WP06"]);
    for f in [
        "wordcount/core.py",
        "wordcount/__main__.py",
        "tests/test_empty.py",
        "pyproject.toml",
        "docs/usage.md",
        "CHANGELOG.md",
    ] {
        assert!(files.contains(f), "{f} missing: {files}");
    }
    // status --json agrees with the refs.
    let out = bin().args(["status", "001-wordcount", "--json", "--repo"]).arg(&dir).output().unwrap();
    assert!(out.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["run"]["status"], "finished");
    let wps = doc["wps"].as_array().unwrap();
    assert_eq!(wps.len(), 6);
    assert!(wps.iter().all(|w| w["lane"] == "done"));
    // log lists events and points at git.
    let out = bin().args(["log", "001-wordcount", "WP03", "--repo"]).arg(&dir).output().unwrap();
    let log = String::from_utf8_lossy(&out.stdout);
    assert!(log.contains("WP03: for_review -> doing") && log.contains("git log"), "{log}");
}

#[test]
fn demo_json_emits_one_event_per_line() {
    let out = bin().args(["demo", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let lines: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines[0]["type"], "run_started");
    // One name per field on every surface (snake/camel by convention only): `from_lane`, as
    // Python's `LaneChanged.from_lane`, Node's `fromLane` and spec-kitty's own status log.
    let change = lines.iter().find(|l| l["type"] == "lane_changed").expect("a lane change");
    assert!(change["from_lane"].is_string() && change["to_lane"].is_string(), "{change}");
    assert_eq!(lines.last().unwrap()["type"], "summary");
}

#[test]
fn bad_input_exits_2_naming_the_file() {
    let tmp = repo("040-bad", 2, "");
    std::fs::write(
        tmp.path().join("kitty-specs/040-bad/tasks/WP02-work.md"),
        "---\nwork_package_id: WP02\ndependencies: [WP09]\n---\n",
    )
    .unwrap();
    let out = bin().args(["run", "040-bad", "--repo"]).arg(tmp.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("WP02-work.md") && err.contains("WP09"), "{err}");
    let out = bin().args(["run", "040-nope", "--repo"]).arg(tmp.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn abort_from_another_process_stops_the_run_and_resume_finishes() {
    let tmp = repo("041-abort", 4, "FAKE_MODE = \"sigterm_tree\"");
    let dir = tmp.path();
    let child =
        bin().args(["run", "041-abort", "--grace", "1", "--repo"]).arg(dir).stdout(Stdio::piped()).spawn().unwrap();
    let started = Instant::now();
    while agents_of("041-abort").len() < 2 && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!agents_of("041-abort").is_empty(), "agents started");
    let out = bin().args(["abort", "041-abort", "--repo"]).arg(dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3), "aborted exit code: {}", String::from_utf8_lossy(&out.stdout));
    assert!(agents_of("041-abort").is_empty(), "no agent left: {:?}", agents_of("041-abort"));
    write_config(dir, "");
    let out = bin().args(["resume", "041-abort", "--repo"]).arg(dir).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn blocked_run_exits_1_and_retry_lets_the_next_run_finish() {
    let tmp = repo("042-retry", 2, "FAKE_FAIL_WPS = \"WP02\"");
    let dir = tmp.path();
    let out = bin().args(["run", "042-retry", "--repo"]).arg(dir).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stdout));
    let out = bin().args(["status", "042-retry", "--repo"]).arg(dir).output().unwrap();
    let status = String::from_utf8_lossy(&out.stdout);
    assert!(status.contains("WP02   blocked"), "{status}");
    write_config(dir, "");
    assert!(bin().args(["retry", "042-retry", "WP02", "--repo"]).arg(dir).status().unwrap().success());
    let out = bin().args(["run", "042-retry", "--repo"]).arg(dir).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn kill_9_at_twenty_random_points_then_a_run_completes_without_redoing_attempts() {
    let tmp = repo("043-crash", 20, "FAKE_SLEEP_MS = \"150\"");
    let dir = tmp.path();
    // The attempts' temporary directories, where the test can count them.
    let temps = tempfile::tempdir().unwrap();
    let bin = || {
        let mut cmd = bin();
        cmd.env("TMPDIR", temps.path());
        cmd
    };
    for round in 0..20u64 {
        let mut child = bin()
            .args(["run", "043-crash", "--grace", "1", "--repo"])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(150 + fastrand_ms(round)));
        child.kill().unwrap(); // SIGKILL: no cleanup at all
        child.wait().unwrap();
    }
    let out = bin().args(["run", "043-crash", "--repo"]).arg(dir).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("20 done"), "{stdout}");
    // Every attempt number was used once per WP, and the chains are whole.
    for k in 1..=20 {
        let out = bin().args(["log", "043-crash", &format!("WP{k:02}"), "--json", "--repo"]).arg(dir).output().unwrap();
        let mut attempts: Vec<u64> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|e| e["state"]["last_event"]["type"] == "agent_started")
            .map(|e| e["state"]["last_event"]["attempt"].as_u64().unwrap())
            .collect();
        let n = attempts.len();
        attempts.dedup();
        assert_eq!(attempts.len(), n, "WP{k:02} reused an attempt number");
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(agents_of("043-crash").is_empty(), "orphan agents: {:?}", agents_of("043-crash"));
    let fsck = Command::new("git").args(["fsck", "--strict"]).current_dir(dir).output().unwrap();
    assert!(fsck.status.success(), "{}", String::from_utf8_lossy(&fsck.stderr));
    // What the killed runs' attempts left in the temporary directory went with the next run.
    assert_eq!(attempt_temps(temps.path()), Vec::<String>::new());
}

/// The attempts' temporary directories in `dir`.
fn attempt_temps(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| n.starts_with("kitty-attempt-"))
        .collect()
}

/// A spread of kill times (deterministic per round, covering 0–1.5 s).
fn fastrand_ms(round: u64) -> u64 {
    (round * 7919 + 13) % 1500
}

#[test]
fn agents_lists_builtins_and_custom_agents() {
    let tmp = repo("044-agents", 1, "");
    let out = bin().args(["agents", "--json", "--repo"]).arg(tmp.path()).output().unwrap();
    assert!(out.status.success());
    let agents: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<&str> = agents.iter().map(|a| a["id"].as_str().unwrap()).collect();
    for id in [
        "claude-code",
        "codex",
        "gemini",
        "copilot",
        "qwen",
        "opencode",
        "cursor",
        "kilocode",
        "augment",
        "impl",
        "rev",
    ] {
        assert!(ids.contains(&id), "{id} missing: {ids:?}");
    }
    let custom = agents.iter().find(|a| a["id"] == "impl").unwrap();
    assert_eq!(custom["builtin"], false);
    assert!(custom["path"].is_string(), "the fake agent is found: {custom}");
}

#[test]
fn a_terminal_gets_live_progress_and_a_clean_summary() {
    // `script` runs the demo on a pseudo-terminal and records what it drew.
    let tmp = tempfile::tempdir().unwrap();
    let transcript = tmp.path().join("typescript");
    let exe = assert_cmd::cargo::cargo_bin("kitty-orchestrator");
    let status = Command::new("script")
        .args(["-qec", &format!("{} demo", exe.display())])
        .arg(&transcript)
        .env("TERM", "xterm")
        .stdout(Stdio::null())
        .status()
        .expect("`script` (util-linux) runs");
    assert!(status.success());
    let drawn = String::from_utf8_lossy(&std::fs::read(&transcript).unwrap()).into_owned();
    assert!(drawn.contains("6/6 done · 0 active · 0 blocked"), "the header counts up: {drawn}");
    assert!(drawn.contains("for_review demo-reviewer #"), "per-WP lines show lane, agent, attempt");
    assert!(drawn.contains("Completed: 6 done, 0 blocked, 0 remaining"), "{drawn}");
    assert!(!drawn.contains("{prefix") && !drawn.contains("{wide_msg"), "no template garbage");
    // After the progress display is cleared, the summary is plain text.
    let summary = drawn.rsplit("\x1b[2K").next().unwrap();
    assert!(summary.contains("WP06   done") && !summary.contains('\x1b'), "{summary:?}");
}

#[test]
fn dry_run_prints_the_plan_with_exact_argv() {
    let tmp = repo("045-plan", 3, "");
    let out = bin().args(["run", "045-plan", "--dry-run", "--repo"]).arg(tmp.path()).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("plan for 045-plan: 3 WPs"), "{text}");
    assert!(text.contains("base: main") && text.contains("base: merge of 045-plan-WP01, 045-plan-WP02"), "{text}");
    assert!(text.contains(&format!("implement: {} < prompt on stdin", fake_agent())), "{text}");
    assert!(git(tmp.path(), &["for-each-ref", "refs/kitty/"]).is_empty(), "a dry run writes nothing");
}

#[test]
fn init_writes_a_valid_commented_configuration_and_completions_print() {
    let tmp = tempfile::tempdir().unwrap();
    let out = bin().args(["init", "--repo"]).arg(tmp.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(tmp.path().join(".kittify/orchestrator.toml")).unwrap();
    assert!(text.contains("# WPs in flight at once") && text.contains("[agents]"));
    kitty_orchestrator::Config::from_toml_str(&text, "init").unwrap();
    let again = bin().args(["init", "--repo"]).arg(tmp.path()).output().unwrap();
    assert_eq!(again.status.code(), Some(2), "does not overwrite");
    let out = bin().args(["completions", "bash"]).output().unwrap();
    assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("kitty-orchestrator"));
}

#[test]
fn dry_run_on_the_020_sample() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "init"]);
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/spec-kitty/01_frontmatter-lanes_mixed__020_at_370f288e5");
    let out = Command::new("cp").arg("-r").arg(src.join("kitty-specs")).arg(dir).status().unwrap();
    assert!(out.success());
    write_config(dir, "");
    let out = bin()
        .args(["run", "020-autonomous-multi-agent-orchestrator", "--dry-run", "--repo"])
        .arg(dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("plan for 020-autonomous-multi-agent-orchestrator: 9 WPs"), "{text}");
    assert!(text.contains("WP01 Foundation & Config [done]\n       nothing to do"), "{text}");
    assert!(text.contains("WP08 CLI Commands [doing]"), "{text}");
    assert!(text.contains("base: merge of 020-autonomous-multi-agent-orchestrator-WP05, 020-autonomous-multi-agent-orchestrator-WP06, 020-autonomous-multi-agent-orchestrator-WP07"), "{text}");
    let json = bin()
        .args(["run", "020-autonomous-multi-agent-orchestrator", "--dry-run", "--json", "--repo"])
        .arg(dir)
        .output()
        .unwrap();
    let plan: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(plan["wps"].as_array().unwrap().len(), 9);
    assert_eq!(plan["wps"][8]["id"], "WP09");
}

#[test]
fn agents_orphaned_by_a_kill_9_are_ended_by_the_next_run() {
    let tmp = repo("046-orphans", 2, "FAKE_MODE = \"sigterm_tree\"");
    let dir = tmp.path();
    let temps = tempfile::tempdir().unwrap();
    let bin = || {
        let mut cmd = bin();
        cmd.env("TMPDIR", temps.path());
        cmd
    };
    let mut child = bin().args(["run", "046-orphans", "--repo"]).arg(dir).stdout(Stdio::null()).spawn().unwrap();
    let started = Instant::now();
    // WP01's tree: three levels of shells (WP02 waits for WP01), and its leader's pid recorded.
    let leader = || {
        let state = git(dir, &["show", "refs/kitty/wp/046-orphans/WP01:state.json"]);
        serde_json::from_str::<serde_json::Value>(&state).unwrap()["pid"].as_i64()
    };
    let log = dir.join(".kittify/logs/046-orphans/WP01-implementation-1.log");
    let tree_up = || std::fs::read_to_string(&log).is_ok_and(|l| l.contains("tree started")) && leader().is_some();
    while !tree_up() && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(50));
    }
    // The third level is started by the second, asynchronously.
    std::thread::sleep(Duration::from_millis(300));
    let leaders = vec![leader().expect("the agent's pid is recorded") as i32];

    child.kill().unwrap();
    child.wait().unwrap();
    // The leaders die with the orchestrator (parent-death signal)...
    let started = Instant::now();
    while leaders.iter().any(|pid| alive(*pid)) && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!leaders.iter().any(|pid| alive(*pid)), "agent leaders {leaders:?} outlived a SIGKILLed orchestrator");

    // ...their descendants, re-parented away, are found by their KITTY_* environment.
    assert!(!agents_of("046-orphans").is_empty(), "the test needs descendants that outlive the orchestrator");
    assert!(!attempt_temps(temps.path()).is_empty(), "a SIGKILLed run leaves its attempt's temporary directory");
    write_config(dir, "");
    let out = bin().args(["run", "046-orphans", "--grace", "1", "--repo"]).arg(dir).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(agents_of("046-orphans").is_empty(), "orphans left: {:?}", agents_of("046-orphans"));
    assert_eq!(attempt_temps(temps.path()), Vec::<String>::new(), "the dead run's attempt directories stay");
    let log = bin().args(["log", "046-orphans", "WP01", "--repo"]).arg(dir).output().unwrap();
    assert!(
        String::from_utf8_lossy(&log.stdout).contains("reclaimed from dead run"),
        "{}",
        String::from_utf8_lossy(&log.stdout)
    );
}

/// Titles from task files and reasons from agents are hostile text: bidirectional overrides,
/// isolates, zero-width characters and escape sequences never reach the terminal as they are,
/// from `validate`, `status`, or a run's own lines.
#[test]
fn bidi_and_invisible_characters_are_neutralised_in_what_we_print() {
    // (TOML escapes: the agent's env gets the characters themselves.)
    let tmp = repo("095-bidi", 1, r#"FAKE_STATUS = "blocked \u202Etxt.exe\u202C \u2066hidden\u2069\u200B\u001b[2J""#);
    let dir = tmp.path();
    let task = dir.join("kitty-specs/095-bidi/tasks/WP01-work.md");
    let text = std::fs::read_to_string(&task)
        .unwrap()
        .replace("title: Work 1", "title: \"Fix \u{202E}gnp.exe\u{202C} \u{2067}now\u{2069}\"");
    std::fs::write(&task, text).unwrap();
    git(dir, &["commit", "-qam", "a hostile title"]);
    let unsafe_char = |c: char| kitty_orchestrator::display::is_unsafe(c) && c != '\n';
    let validate = bin().args(["validate", "095-bidi"]).current_dir(dir).output().unwrap();
    let shown = String::from_utf8_lossy(&validate.stdout);
    assert!(shown.contains("Fix ?gnp.exe?"), "{shown}");
    let run = bin().args(["run", "095-bidi"]).current_dir(dir).output().unwrap();
    let status = bin().args(["status", "095-bidi"]).current_dir(dir).output().unwrap();
    let status_text = String::from_utf8_lossy(&status.stdout);
    assert!(
        status_text.contains("txt.exe"),
        "the reason is shown: {status_text}{}\nrun: {}{}",
        String::from_utf8_lossy(&status.stderr),
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    for out in [&validate, &run, &status] {
        for text in [String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)] {
            assert!(!text.chars().any(unsafe_char), "{text:?}");
        }
    }
}

/// Users start the CLI from a shell in their checkout, so our own `PWD` names it; an agent that
/// takes its directory from `$PWD` (opencode, kilo) must find its worktree there, even unconfined.
#[test]
fn agents_get_their_worktree_as_pwd_when_the_cli_starts_in_the_main_checkout() {
    let tmp = repo("096-pwd", 1, "");
    let dir = tmp.path();
    let attacker = kitty_test_support::fixture("agents/attacker-agent").display().to_string();
    let (attacker, fake) = (kitty_test_support::toml_string(&attacker), kitty_test_support::toml_string(&fake_agent()));
    std::fs::write(
        dir.join(".kittify/orchestrator.toml"),
        format!(
            "sandbox = \"off\"\n[agents]\nimplementation = [\"impl\"]\nreview = [\"rev\"]\n\
             [agents.impl]\ncommand = [{attacker}]\nenv = {{ ATTACK = \"pwd_writer\" }}\n\
             [agents.rev]\ncommand = [{fake}]\noutput = \"stream-json\"\n"
        ),
    )
    .unwrap();
    let cli = assert_cmd::cargo::cargo_bin("kitty-orchestrator");
    let out = Command::new("sh")
        .args(["-c", "cd \"$1\" && exec \"$2\" run 096-pwd", "sh"])
        .arg(dir)
        .arg(&cli)
        .env_remove("PWD")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(!dir.join("pwd.txt").exists(), "the agent wrote into the main checkout");
    assert_eq!(git(dir, &["show", "096-pwd-WP01:pwd.txt"]), "written in $PWD\n");
    let log = std::fs::read_to_string(dir.join(".kittify/logs/096-pwd/WP01-implementation-1.log")).unwrap();
    assert!(log.contains("attack pwd-writer: PWD is the worktree"), "{log}");
}

/// With no git identity anywhere (no `user.name` in the repository, the user's or the system's
/// config), an agent's own `git commit` still works: it gets an identity through git's
/// environment — and never writes one into a config.
#[test]
fn agents_commit_without_a_configured_identity() {
    let tmp = repo("097-noid", 1, "");
    let dir = tmp.path();
    git(dir, &["config", "--unset", "user.name"]);
    git(dir, &["config", "--unset", "user.email"]);
    let home = tempfile::tempdir().unwrap();
    let out = bin()
        .args(["run", "097-noid"])
        .current_dir(dir)
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env_remove("GIT_AUTHOR_NAME")
        .env_remove("GIT_AUTHOR_EMAIL")
        .env_remove("GIT_COMMITTER_NAME")
        .env_remove("GIT_COMMITTER_EMAIL")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let author = git(dir, &["log", "-1", "--format=%an <%ae>", "097-noid-WP01"]);
    assert_eq!(author.trim(), "impl <impl@agents.kitty>");
    let config = std::fs::read_to_string(dir.join(".git/config")).unwrap();
    assert!(!config.contains("[user]"), "{config}");
}
