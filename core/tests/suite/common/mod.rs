//! Helpers of the core's integration tests: the shared ones from `kitty-test-support` (git,
//! repositories, feature files, the fake agents, process probes), plus those that need the
//! core's own types (configurations, run options, event recorders, loaded features).
#![allow(dead_code, unused_imports)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kitty_orchestrator::engine::{Event, EventSink, RunOptions};
use kitty_orchestrator::{Config, Feature, load_feature};
pub use kitty_test_support::{agents_of, assert_fsck_clean, fake_agent, git, lock_files, repo};

/// A custom agent table running the fake agent with `env` (values quoted for TOML).
pub fn agent(id: &str, env: &[(&str, &str)]) -> String {
    kitty_test_support::agent_table(id, env)
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

/// Writes a feature `kitty-specs/<slug>/` with WPs `(id, lane, deps)` and loads it.
pub fn feature(repo: &Path, slug: &str, wps: &[(&str, &str, &[&str])]) -> Feature {
    load_feature(kitty_test_support::write_feature(repo, slug, wps)).expect("valid feature")
}

/// A feature of `n` independent planned WPs (`WP001`…).
pub fn flat_feature(repo: &Path, slug: &str, n: usize) -> Feature {
    let ids: Vec<String> = (1..=n).map(|i| format!("WP{i:03}")).collect();
    let wps: Vec<(&str, &str, &[&str])> = ids.iter().map(|id| (id.as_str(), "planned", &[][..])).collect();
    feature(repo, slug, &wps)
}

/// The slug of sample 01's feature.
pub const F020: &str = "020-autonomous-multi-agent-orchestrator";

/// Copies sample 01 (the 020 feature) into a new repository, optionally resetting every lane to
/// planned, and commits it.
pub fn sample_repo(all_planned: bool) -> tempfile::TempDir {
    let tmp = repo();
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/spec-kitty/01_frontmatter-lanes_mixed__020_at_370f288e5/kitty-specs");
    copy_dir(&src, &tmp.path().join("kitty-specs"));
    if all_planned {
        let tasks = tmp.path().join("kitty-specs/020-autonomous-multi-agent-orchestrator/tasks");
        for entry in std::fs::read_dir(&tasks).unwrap().flatten() {
            let text = std::fs::read_to_string(entry.path()).unwrap();
            let text = text
                .replace("lane: \"done\"", "lane: \"planned\"")
                .replace("lane: \"doing\"", "lane: \"planned\"")
                .replace("lane: \"for_review\"", "lane: \"planned\"");
            std::fs::write(entry.path(), text).unwrap();
        }
    }
    git(tmp.path(), &["add", "kitty-specs"]);
    git(tmp.path(), &["commit", "-q", "-m", "add the 020 feature"]);
    tmp
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
