//! Helpers shared by kitty-orchestrator's tests (core and CLI): real temporary git repositories,
//! feature files, the fake agent CLIs under `tests/fixtures/agents`, and probes for processes left
//! behind. Nothing here knows kitty-orchestrator's types, so every test crate can use it.

pub mod chat_server;
pub mod model_standin;
pub mod real_clis;
pub mod webdriver;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository's root (where `tests/fixtures` is).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `tests/fixtures/<rest>`.
pub fn fixture(rest: &str) -> PathBuf {
    root().join("tests/fixtures").join(rest)
}

/// The fake agent CLI (tests/fixtures/agents/fake-agent).
pub fn fake_agent() -> String {
    fixture("agents/fake-agent").display().to_string()
}

/// Runs the git binary in `dir` and returns stdout; panics with stderr on failure.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git").args(args).current_dir(dir).output().expect("git runs");
    assert!(out.status.success(), "git {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

/// A new repository with one commit (`README.md`) on `main`, and a known identity.
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

/// Writes WP files `kitty-specs/<slug>/tasks/<id>-work.md` with `(id, lane, deps)`; returns the
/// feature directory.
pub fn write_feature(repo: &Path, slug: &str, wps: &[(&str, &str, &[&str])]) -> PathBuf {
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
    dir
}

/// WPs `WP01…WPn` where WP k depends on WP k-2 and WP k-1 when they exist, except every third
/// WP, which starts a new chain: chains and fan-ins.
pub fn chained_wps(n: usize) -> Vec<(String, Vec<String>)> {
    (1..=n)
        .map(|k| {
            let deps = [k.checked_sub(2), k.checked_sub(1)]
                .into_iter()
                .flatten()
                .filter(|&d| d >= 1 && k % 3 != 1)
                .map(|d| format!("WP{d:02}"))
                .collect();
            (format!("WP{k:02}"), deps)
        })
        .collect()
}

/// A TOML basic string holding `text` (JSON escapes are valid TOML escapes).
pub fn toml_string(text: &str) -> String {
    serde_json::to_string(text).expect("a string")
}

/// A custom agent table `[agents.<id>]` running the fake agent with `env`.
pub fn agent_table(id: &str, env: &[(&str, &str)]) -> String {
    // FAKE_STATE_DIR is the fake agent's own state directory: writable under confinement, as a
    // real CLI's ~/.claude is.
    let state: Vec<String> = env.iter().filter(|(k, _)| *k == "FAKE_STATE_DIR").map(|(_, v)| toml_string(v)).collect();
    let env: Vec<String> = env.iter().map(|(k, v)| format!("{k} = {}", toml_string(v))).collect();
    format!(
        "[agents.{id}]\ncommand = [{}]\noutput = \"stream-json\"\nenv = {{ {} }}\nwritable = [{}]\n",
        toml_string(&fake_agent()),
        env.join(", "),
        state.join(", ")
    )
}

/// Whether `pid` is a live (not zombie) process.
pub fn alive(pid: i32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    !stat.is_empty() && !stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
}

/// Live (not zombie) processes whose environment has `KITTY_FEATURE=<feature>`: leftover agents.
pub fn agents_of(feature: &str) -> Vec<i32> {
    let want = format!("KITTY_FEATURE={feature}");
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()))
        .filter(|&pid| {
            alive(pid)
                && std::fs::read(format!("/proc/{pid}/environ"))
                    .is_ok_and(|env| env.split(|&b| b == 0).any(|v| v == want.as_bytes()))
        })
        .collect()
}

/// `.lock` files anywhere under the git directory (outside our own `kitty/` locks).
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

/// `git daemon --enable=receive-pack` serving `base` on a free loopback port. It runs in its own
/// process group, ended as a whole when dropped: `git daemon` forks the real daemon, and killing
/// the first process alone would leave it serving after the test.
pub struct GitDaemon {
    child: std::process::Child,
    /// The port it listens on.
    pub port: u16,
}

impl GitDaemon {
    /// Starts it and waits until it accepts connections.
    pub fn start(base: &Path) -> GitDaemon {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        GitDaemon::start_on(base, port)
    }

    /// Starts it on `port` (a daemon stopped earlier, started again where clones expect it).
    pub fn start_on(base: &Path, port: u16) -> GitDaemon {
        use std::os::unix::process::CommandExt;
        let child = Command::new("git")
            .args(["daemon", "--export-all", "--enable=receive-pack", "--reuseaddr", "--listen=127.0.0.1"])
            .arg(format!("--port={port}"))
            .arg(format!("--base-path={}", base.display()))
            .arg(base)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .process_group(0)
            .spawn()
            .expect("git daemon starts");
        let daemon = GitDaemon { child, port };
        let started = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < std::time::Duration::from_secs(10), "git daemon did not listen on {port}");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        daemon
    }

    /// `git://127.0.0.1:<port>/<path>`.
    pub fn url(&self, path: &str) -> String {
        format!("git://127.0.0.1:{}/{path}", self.port)
    }
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        // The whole group: the daemon git forked and any connection it is serving.
        let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", self.child.id())]).status();
        let _ = self.child.wait();
    }
}
