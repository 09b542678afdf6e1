//! Opt-in check of the built-in profiles against the real agent CLIs (`KITTY_REAL_AGENTS=1`,
//! `-- --ignored`;
//! put the CLIs on PATH, e.g. `npm install --prefix /tmp/agents @openai/codex …` and
//! `PATH=/tmp/agents/node_modules/.bin:$PATH`). For every installed CLI: `--help` lists each flag
//! the profile passes, and a headless run with the profile's argv gets past argument parsing
//! (it may then fail on authentication: no account is needed). Prints a report.

mod common;

use std::time::Duration;

use kitty_orchestrator::agents::{builtin_profiles, find_program};
use kitty_orchestrator::config::Config;
use kitty_orchestrator::executor::{AgentRun, execute};
use kitty_orchestrator::state::Role;
use tokio_util::sync::CancellationToken;

const PARSE_ERRORS: [&str; 8] = [
    "unknown option",
    "unexpected argument",
    "unknown argument",
    "unrecognized",
    "invalid value",
    "not a valid",
    "did you mean",
    "unknown arguments",
];

#[tokio::test]
#[ignore = "opt-in: KITTY_REAL_AGENTS=1 cargo test -p kitty-orchestrator --test real_agents -- --ignored --nocapture"]
async fn builtin_profiles_match_the_installed_clis() {
    assert_eq!(
        std::env::var("KITTY_REAL_AGENTS").as_deref(),
        Ok("1"),
        "set KITTY_REAL_AGENTS=1 and put the CLIs on PATH"
    );
    let tmp = common::repo();
    let home = tempfile::tempdir().unwrap();
    let specs = kitty_orchestrator::agents::agent_specs(&Config::default());
    let mut report = Vec::new();
    let mut failures = Vec::new();
    for profile in builtin_profiles() {
        let Some(path) = find_program(profile.binary) else {
            report.push(format!("{:<12} not installed", profile.id));
            continue;
        };
        let version = std::process::Command::new(&path).arg("--version").env("HOME", home.path()).output().ok();
        let version = version
            .map(|o| String::from_utf8_lossy(&o.stdout).lines().next().unwrap_or("").trim().to_string())
            .unwrap_or_default();
        for (role, args) in [(Role::Implementation, &profile.implementation), (Role::Review, &profile.review)] {
            // `--help` of the subcommand, if the argv starts with one.
            let mut help_cmd = std::process::Command::new(&path);
            if let Some(sub) = args.first().filter(|a| !a.starts_with('-')) {
                help_cmd.arg(sub);
            }
            let help = help_cmd.arg("--help").env("HOME", home.path()).output().unwrap();
            let help = format!("{}{}", String::from_utf8_lossy(&help.stdout), String::from_utf8_lossy(&help.stderr));
            for flag in args.iter().filter(|a| a.starts_with("--") || (a.starts_with('-') && a.len() == 2)) {
                if !help.contains(flag.as_str()) {
                    failures.push(format!("{} {}: `--help` does not list {flag}", profile.id, role.as_str()));
                }
            }
            let spec = specs.iter().find(|s| s.id == profile.id).unwrap();
            let mut command = spec.command(role).clone();
            command.program = path.display().to_string();
            command.env.push(("HOME".into(), home.path().display().to_string()));
            let run = AgentRun {
                command,
                role,
                attempt: 1,
                feature: "001-check".into(),
                wp: "WP01".into(),
                cwd: tmp.path().to_path_buf(),
                prompt: "Reply with the single word OK. Do not use any tool.".into(),
                log_path: AgentRun::log_path_for(tmp.path(), "001-check", profile.id, role, 1),
                timeout: Duration::from_secs(25),
                idle_timeout: Duration::from_secs(25),
                grace: Duration::from_millis(500),
                confinement: None,
            };
            let outcome = execute(run, None, CancellationToken::new()).await.unwrap();
            let log = std::fs::read_to_string(&outcome.log_path).unwrap().to_ascii_lowercase();
            let body = log.split("\n----\n").nth(1).unwrap_or("");
            if let Some(err) = PARSE_ERRORS.iter().find(|e| body.contains(*e)) {
                failures.push(format!(
                    "{} {}: argv rejected ({err}); see {}",
                    profile.id,
                    role.as_str(),
                    outcome.log_path.display()
                ));
            }
            report.push(format!(
                "{:<12} {:<15} {:<28} checked {:<28} -> {}",
                profile.id,
                role.as_str(),
                version,
                profile.checked_version.unwrap_or("-"),
                outcome.describe()
            ));
        }
    }
    eprintln!("real agent CLIs:\n{}", report.join("\n"));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Opt-in: real Claude Code and real Codex (installed and logged in, their state directories in
/// the real `$HOME`) each complete a one-WP feature under `sandbox = "required"`: implementation
/// and review by the same agent, confined by Landlock, the WP done with its file on its branch.
/// An agent not installed is reported and skipped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "opt-in: KITTY_REAL_AGENTS=1 cargo test -p kitty-orchestrator --test real_agents -- --ignored --nocapture"]
async fn real_claude_and_codex_complete_a_wp_confined() {
    use kitty_orchestrator::Orchestrator;
    use kitty_orchestrator::engine::{RunOutcome, no_events};
    assert_eq!(std::env::var("KITTY_REAL_AGENTS").as_deref(), Ok("1"), "set KITTY_REAL_AGENTS=1");
    assert!(kitty_orchestrator::sandbox::support().available, "this kernel cannot confine: nothing to check");
    let mut ran = Vec::new();
    for agent in ["claude-code", "codex"] {
        let binary = builtin_profiles().into_iter().find(|p| p.id == agent).unwrap().binary;
        if find_program(binary).is_none() {
            eprintln!("{agent}: not installed, skipped");
            continue;
        }
        let tmp = common::repo();
        let dir = tmp.path();
        let slug = format!("090-{agent}");
        common::feature(dir, &slug, &[("WP01", "planned", &[])]);
        let wp_file = dir.join(format!("kitty-specs/{slug}/tasks/WP01-work.md"));
        let text = std::fs::read_to_string(&wp_file).unwrap().replace(
            "Create WP01.txt.",
            &format!("Create a file hello.txt containing the single line `hello from {agent}` and commit it."),
        );
        std::fs::write(&wp_file, text).unwrap();
        common::git(dir, &["add", "-A"]);
        common::git(dir, &["commit", "-qm", "the WP asks for hello.txt"]);
        let config = common::config(
            &format!(
                "sandbox = \"required\"\nsingle_agent_mode = true\nmax_retries = 0\n[agents]\nimplementation = [\"{agent}\"]\nreview = [\"{agent}\"]"
            ),
            &[],
        );
        let orch = Orchestrator::open(dir, Some(config)).unwrap();
        let summary = orch.run(&slug, common::fast(), no_events(), CancellationToken::new()).await.unwrap();
        eprintln!("{agent}: {:?}; {:?}", summary.outcome, summary.wps[0].reason);
        assert_eq!(summary.outcome, RunOutcome::Completed, "{agent}: {summary:#?}");
        let hello = common::git(dir, &["show", &format!("{slug}-WP01:hello.txt")]);
        assert!(hello.contains("hello from"), "{agent}: {hello}");
        ran.push(agent);
    }
    assert!(!ran.is_empty(), "neither claude nor codex is installed");
}
