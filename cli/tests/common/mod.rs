//! Helpers shared by the CLI tests: the binary, real repositories, leftover agent processes.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;

pub fn bin() -> Command {
    Command::cargo_bin("kitty-orchestrator").unwrap()
}

pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git").args(args).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

pub fn fake_agent() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/agents/fake-agent").display().to_string()
}

/// A repository with feature `slug` of `n` WPs (WP k depends on WP k-2 and WP k-1 when they
/// exist: chains and fan-ins) and a configuration running the fake agent with `env`.
pub fn repo(slug: &str, n: usize, env: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["config", "user.name", "Test"]);
    git(dir, &["config", "user.email", "t@example.com"]);
    let tasks = dir.join("kitty-specs").join(slug).join("tasks");
    std::fs::create_dir_all(&tasks).unwrap();
    for k in 1..=n {
        let deps: Vec<String> = [k.checked_sub(2), k.checked_sub(1)]
            .into_iter()
            .flatten()
            .filter(|&d| d >= 1 && k % 3 != 1)
            .map(|d| format!("WP{d:02}"))
            .collect();
        std::fs::write(
            tasks.join(format!("WP{k:02}-work.md")),
            format!(
                "---\nwork_package_id: WP{k:02}\ntitle: Work {k}\ndependencies: [{}]\n---\nCreate WP{k:02}.txt\n",
                deps.join(", ")
            ),
        )
        .unwrap();
    }
    write_config(dir, env);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "feature"]);
    tmp
}

/// A configuration with top-level keys `head`, and `impl_env`/`rev_env` as the two fake
/// agents' inline env tables (TOML, e.g. `FAKE_MODE = "hang"`).
pub fn write_config_full(dir: &Path, head: &str, impl_env: &str, rev_env: &str) {
    std::fs::create_dir_all(dir.join(".kittify")).unwrap();
    let agent = fake_agent();
    std::fs::write(
        dir.join(".kittify/orchestrator.toml"),
        format!(
            "{head}\n[agents]\nimplementation = [\"impl\"]\nreview = [\"rev\"]\n\
             [agents.impl]\ncommand = [\"{agent}\"]\noutput = \"stream-json\"\nenv = {{ {impl_env} }}\n\
             [agents.rev]\ncommand = [\"{agent}\"]\noutput = \"stream-json\"\nenv = {{ {rev_env} }}\n"
        ),
    )
    .unwrap();
}

pub fn write_config(dir: &Path, env: &str) {
    std::fs::create_dir_all(dir.join(".kittify")).unwrap();
    let agent = fake_agent();
    std::fs::write(
        dir.join(".kittify/orchestrator.toml"),
        format!(
            "max_concurrent_wps = 4\nmax_retries = 1\n[agents]\nimplementation = [\"impl\"]\nreview = [\"rev\"]\n\
             [agents.impl]\ncommand = [\"{agent}\"]\noutput = \"stream-json\"\nenv = {{ {env} }}\n\
             [agents.rev]\ncommand = [\"{agent}\"]\noutput = \"stream-json\"\n"
        ),
    )
    .unwrap();
}

/// Whether `pid` is a live (not zombie) process.
pub fn alive(pid: i32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    !stat.is_empty() && !stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
}

/// Processes (other than zombies) whose environment names this feature: leftover agents.
pub fn agents_of(feature: &str) -> Vec<i32> {
    let want = format!("KITTY_FEATURE={feature}");
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()))
        .filter(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let zombie = stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
            !zombie
                && std::fs::read(format!("/proc/{pid}/environ"))
                    .is_ok_and(|env| env.split(|&b| b == 0).any(|v| v == want.as_bytes()))
        })
        .collect()
}
