//! Helpers of the CLI tests: the binary, and repositories with a feature and a configuration that
//! runs the fake agents; the rest comes from `kitty-test-support`.
#![allow(dead_code, unused_imports)]

use std::path::Path;
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;
pub use kitty_test_support::{agents_of, alive, fake_agent, git};

/// The `kitty-orchestrator` binary of this build.
pub fn bin() -> Command {
    Command::cargo_bin("kitty-orchestrator").unwrap()
}

/// A repository with feature `slug` of `n` chained WPs ([`kitty_test_support::chained_wps`]) and
/// a configuration running the fake agent with `env`.
pub fn repo(slug: &str, n: usize, env: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["config", "user.name", "Test"]);
    git(dir, &["config", "user.email", "t@example.com"]);
    let tasks = dir.join("kitty-specs").join(slug).join("tasks");
    std::fs::create_dir_all(&tasks).unwrap();
    for (id, deps) in kitty_test_support::chained_wps(n) {
        let k: usize = id[2..].parse().unwrap();
        std::fs::write(
            tasks.join(format!("{id}-work.md")),
            format!(
                "---\nwork_package_id: {id}\ntitle: Work {k}\ndependencies: [{}]\n---\nCreate {id}.txt\n",
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
    let agent = kitty_test_support::toml_string(&fake_agent());
    std::fs::write(
        dir.join(".kittify/orchestrator.toml"),
        format!(
            "{head}\n[agents]\nimplementation = [\"impl\"]\nreview = [\"rev\"]\n\
             [agents.impl]\ncommand = [{agent}]\noutput = \"stream-json\"\nenv = {{ {impl_env} }}\n\
             [agents.rev]\ncommand = [{agent}]\noutput = \"stream-json\"\nenv = {{ {rev_env} }}\n"
        ),
    )
    .unwrap();
}

/// [`write_config_full`] with defaults: four WPs at once, one retry, `env` for the implementer.
pub fn write_config(dir: &Path, env: &str) {
    write_config_full(dir, "max_concurrent_wps = 4\nmax_retries = 1", env, "");
}
