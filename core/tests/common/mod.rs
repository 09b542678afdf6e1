//! Helpers shared by the integration tests: real temporary git repositories and features.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kitty_orchestrator::engine::{Event, EventSink, RunOptions};
use kitty_orchestrator::{Config, Feature, load_feature};

/// The fake agent CLI (tests/fixtures/agents/fake-agent).
pub fn fake_agent() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/agents/fake-agent").display().to_string()
}

/// A custom agent table running the fake agent with `env` (values quoted for TOML).
pub fn agent(id: &str, env: &[(&str, &str)]) -> String {
    let quote = |v: &str| serde_json::to_string(v).expect("a string");
    let env: Vec<String> = env.iter().map(|(k, v)| format!("{k} = {}", quote(v))).collect();
    format!(
        "[agents.{id}]\ncommand = [{}]\noutput = \"stream-json\"\nenv = {{ {} }}\n",
        quote(&fake_agent()),
        env.join(", ")
    )
}

/// A configuration: top-level keys `head`, then agent tables.
pub fn config(head: &str, agents: &[String]) -> Config {
    let text = format!("{head}\n{}", agents.join("\n"));
    Config::from_toml_str(&text, "test.toml").unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// Short grace and retry delays.
pub fn fast() -> RunOptions {
    RunOptions { grace: Duration::from_millis(300), retry_base: Duration::from_millis(20), ..RunOptions::default() }
}

/// Collects events.
pub fn recorder() -> (EventSink, Arc<Mutex<Vec<Event>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    (Arc::new(move |e| sink.lock().unwrap().push(e)), events)
}

/// Live (not zombie) processes whose environment has `KITTY_FEATURE=<feature>`.
pub fn agents_of(feature: &str) -> Vec<i32> {
    let want = format!("KITTY_FEATURE={feature}");
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()))
        .filter(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let zombie = stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
            !stat.is_empty()
                && !zombie
                && std::fs::read(format!("/proc/{pid}/environ"))
                    .is_ok_and(|env| env.split(|&b| b == 0).any(|v| v == want.as_bytes()))
        })
        .collect()
}

/// Runs the git binary in `dir` and returns stdout; panics with stderr on failure.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git").args(args).current_dir(dir).output().expect("git runs");
    assert!(out.status.success(), "git {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

/// A new repository with one commit on `main`, and a known identity.
pub fn repo() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["config", "user.name", "Test User"]);
    git(dir, &["config", "user.email", "test@example.com"]);
    std::fs::write(dir.join("README.md"), "hello\n").unwrap();
    git(dir, &["add", "README.md"]);
    git(dir, &["commit", "-q", "-m", "initial"]);
    tmp
}

/// Writes a feature `kitty-specs/<slug>/` with WPs `(id, lane, deps)` and loads it.
pub fn feature(repo: &Path, slug: &str, wps: &[(&str, &str, &[&str])]) -> Feature {
    let dir = repo.join("kitty-specs").join(slug);
    std::fs::create_dir_all(dir.join("tasks")).unwrap();
    for (id, lane, deps) in wps {
        let deps: Vec<String> = deps.iter().map(|d| format!("\"{d}\"")).collect();
        std::fs::write(
            dir.join(format!("tasks/{id}-work.md")),
            format!(
                "---\nwork_package_id: {id}\ntitle: Work {id}\nlane: {lane}\ndependencies: [{}]\n---\n# {id}\n\nCreate {id}.txt.\n",
                deps.join(", ")
            ),
        )
        .unwrap();
    }
    load_feature(&dir).expect("valid feature")
}

/// A feature of `n` independent planned WPs (`WP001`…).
pub fn flat_feature(repo: &Path, slug: &str, n: usize) -> Feature {
    let ids: Vec<String> = (1..=n).map(|i| format!("WP{i:03}")).collect();
    let wps: Vec<(&str, &str, &[&str])> = ids.iter().map(|id| (id.as_str(), "planned", &[][..])).collect();
    feature(repo, slug, &wps)
}

/// Stale `.lock` files anywhere under the git directory.
pub fn lock_files(git_dir: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, git_dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, git_dir, out);
            } else if path.extension().is_some_and(|e| e == "lock") && !path.starts_with(git_dir.join("kitty")) {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(git_dir, git_dir, &mut out);
    out
}

/// Asserts `git fsck --strict` finds nothing wrong.
pub fn assert_fsck_clean(dir: &Path) {
    let out = Command::new("git").args(["fsck", "--strict", "--no-progress"]).current_dir(dir).output().unwrap();
    assert!(
        out.status.success(),
        "git fsck failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("error") && !stderr.contains("missing"), "git fsck: {stderr}");
}
