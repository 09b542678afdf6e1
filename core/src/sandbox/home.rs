//! What an agent attempt may keep of the user's home directory: nothing it could leave behind
//! for later. An agent's settings (`~/.codex/config.toml`'s `notify` and MCP commands, Claude
//! Code's hooks, Qwen's and Gemini's settings and memory files) and caches (corepack, pre-commit,
//! an auto-updating CLI's downloaded package) hold code that runs later *outside* any sandbox, so
//! no attempt writes them. Measured with the real CLIs (2026-12-07, each run headless against a
//! loopback stand-in of its API, under Landlock with a read-only home):
//!
//! - Claude Code 2.1.332 runs with its home read-only (it skips what it cannot write) — but not
//!   through its Agent SDK (`claude-agent-acp` 0.23.1, the ACP driver), which exits when it
//!   cannot write `~/.claude`: its directory moves too (`CLAUDE_CONFIG_DIR`).
//! - Codex 0.171, Qwen Code 0.24.4, Gemini CLI 0.61 and Copilot CLI 1.0.102 refuse to start
//!   without writing their own directory (SQLite state, session logs, extension stores). Each
//!   lets a variable move that directory (`CODEX_HOME`, `QWEN_HOME`, `GEMINI_CLI_HOME`,
//!   `COPILOT_HOME`): the attempt gets a *private copy* of it in its temporary directory — the
//!   user's settings and credentials readable as always, everything it writes thrown away with
//!   the attempt — except a refreshed login, copied back (see [`PrivateHomes::give_back`]).
//! - opencode and kilo keep their data and state under the XDG data and state directories:
//!   those move for the attempt too (the login, `auth.json`, copied in and back). kilo 7.7.7 also
//!   creates its config directory (`~/.config/kilo`) at start and crashes when it cannot; made
//!   for it before the attempt (empty, as kilo itself makes it), it then runs read-only there.
//!
//! Every attempt's caches go to its temporary directory (`XDG_CACHE_HOME`, `npm_config_cache`).
//! The CLIs not measured here (cursor, augment, aider) keep their own state directories writable
//! for implementers (as listed by `doctor`); reviewers write nothing under the home directory.

use std::path::{Path, PathBuf};

/// How one agent's own directory is moved into an attempt.
struct Moved {
    agent: &'static str,
    /// The variable that names the directory.
    var: &'static str,
    /// The directory under the home directory, when the variable is unset.
    default: &'static str,
    /// The variable names a home-like directory that holds the directory under this name
    /// (Gemini: `$GEMINI_CLI_HOME/.gemini`); `None`: the variable names the directory itself.
    inside: Option<&'static str>,
    /// Its login files: copied back when the attempt refreshed them.
    credentials: &'static [&'static str],
}

const MOVED: [Moved; 5] = [
    // Claude Code's CLI runs with a read-only home, but through the Agent SDK (`claude-agent-acp`,
    // the ACP driver) it exits at once when it cannot write its debug and session files.
    Moved {
        agent: "claude-code",
        var: "CLAUDE_CONFIG_DIR",
        default: ".claude",
        inside: None,
        credentials: &[".credentials.json"],
    },
    Moved { agent: "codex", var: "CODEX_HOME", default: ".codex", inside: None, credentials: &["auth.json"] },
    Moved { agent: "qwen", var: "QWEN_HOME", default: ".qwen", inside: None, credentials: &["oauth_creds.json"] },
    Moved {
        agent: "gemini",
        var: "GEMINI_CLI_HOME",
        default: ".gemini",
        inside: Some(".gemini"),
        credentials: &["oauth_creds.json", "google_accounts.json"],
    },
    Moved { agent: "copilot", var: "COPILOT_HOME", default: ".copilot", inside: None, credentials: &[] },
];

/// How `agent`'s own directories are given to an attempt, in words (for `doctor`): each variable
/// pointed at a private copy in the attempt's temporary directory, and what it copies.
pub fn private_copies(agent: &str) -> Vec<String> {
    let mut said: Vec<String> = MOVED
        .iter()
        .filter(|m| m.agent == agent)
        .map(|m| format!("{}=<attempt-tmp>/{agent}-home (a copy of ~/{}; a refreshed login is kept)", m.var, m.default))
        .collect();
    if let Some(app) = xdg_app(agent) {
        said.push(format!(
            "XDG_DATA_HOME, XDG_STATE_HOME=<attempt-tmp>/xdg-data, xdg-state (with a copy of ~/.local/share/{app}/auth.json)"
        ));
    }
    said.push("XDG_CACHE_HOME, npm_config_cache=<attempt-tmp>/cache, npm-cache".to_string());
    said
}

/// The XDG-based CLIs: their data directory's name (its `auth.json` is their login).
fn xdg_app(agent: &str) -> Option<&'static str> {
    match agent {
        "opencode" => Some("opencode"),
        "kilocode" => Some("kilo"),
        _ => None,
    }
}

/// State directories of the CLIs not measured here, writable for their implementers.
pub(super) fn unmeasured_state_dirs(agent: &str) -> &'static [&'static str] {
    match agent {
        "cursor" => &[".cursor"],
        "augment" => &[".augment"],
        "aider" => &[".aider"],
        _ => &[],
    }
}

/// Files and directories of an agent's own directory never copied into an attempt: its
/// databases, logs and session history (large, and the attempt's own are thrown away anyway).
fn worth_copying(name: &str, is_dir: bool) -> bool {
    const DIRS: [&str; 6] = ["prompts", "commands", "agents", "skills", "instructions", "policies"];
    if is_dir {
        return DIRS.contains(&name);
    }
    ![".sqlite", ".sqlite-wal", ".sqlite-shm", ".db", ".db-wal", ".db-shm", ".log", ".jsonl", ".lock"]
        .iter()
        .any(|ext| name.ends_with(ext))
}

/// The largest file copied into a private directory.
const MAX_COPIED_FILE: u64 = 1024 * 1024;

fn copy_tree(from: &Path, to: &Path, top: bool) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    let Ok(entries) = std::fs::read_dir(from) else { return Ok(()) };
    for entry in entries.flatten() {
        let Ok(kind) = entry.file_type() else { continue };
        let Some(name) = entry.file_name().to_str().map(str::to_string) else { continue };
        if top && !worth_copying(&name, kind.is_dir()) {
            continue;
        }
        if kind.is_dir() {
            copy_tree(&entry.path(), &to.join(&name), false)?;
        } else if kind.is_file() && entry.metadata().is_ok_and(|m| m.len() <= MAX_COPIED_FILE) {
            std::fs::copy(entry.path(), to.join(&name))?;
        }
    }
    Ok(())
}

/// The private directories of one attempt, and where their logins came from.
#[derive(Debug, Default)]
pub struct PrivateHomes {
    /// Variables for the agent's environment.
    pub env: Vec<(String, String)>,
    /// (private copy, the user's file) of each login file.
    credentials: Vec<(PathBuf, PathBuf)>,
}

impl PrivateHomes {
    /// Makes `agent`'s private directories under `temp` (copies of its own directory from
    /// `home`), and the cache variables every attempt gets. Nothing is made for a reviewer's or
    /// an implementer's own directory that cannot be moved.
    pub fn make(agent: &str, home: Option<&Path>, temp: &Path) -> PrivateHomes {
        PrivateHomes::make_in(agent, home, temp, temp)
    }

    /// [`PrivateHomes::make`] with the agent's own directories under `dirs` (a place kept from
    /// one attempt to the next, for its sessions: see [`super::kept_dir`]) and the caches under
    /// `temp` (never kept: nothing left in a cache runs later).
    pub fn make_in(agent: &str, home: Option<&Path>, dirs: &Path, temp: &Path) -> PrivateHomes {
        let mut homes = PrivateHomes::default();
        let mut set = |k: &str, v: &Path| homes.env.push((k.to_string(), v.display().to_string()));
        set("XDG_CACHE_HOME", &temp.join("cache"));
        set("npm_config_cache", &temp.join("npm-cache"));
        let temp = dirs;
        let Some(home) = home else { return homes };
        if let Some(moved) = MOVED.iter().find(|m| m.agent == agent) {
            let real = match (std::env::var_os(moved.var), moved.inside) {
                (Some(dir), Some(inside)) => PathBuf::from(dir).join(inside),
                (Some(dir), None) => PathBuf::from(dir),
                (None, _) => home.join(moved.default),
            };
            let root = temp.join(format!("{agent}-home"));
            let private = match moved.inside {
                Some(inside) => root.join(inside),
                None => root.clone(),
            };
            if let Err(err) = copy_tree(&real, &private, true) {
                tracing::warn!(agent, dir = %real.display(), %err, "an agent's own directory could not be copied for an attempt");
            }
            homes.env.push((moved.var.to_string(), root.display().to_string()));
            homes.credentials.extend(moved.credentials.iter().map(|c| (private.join(c), real.join(c))));
        }
        if let Some(app) = xdg_app(agent) {
            let real_data = std::env::var_os("XDG_DATA_HOME").map_or_else(|| home.join(".local/share"), PathBuf::from);
            let (data, state) = (temp.join("xdg-data"), temp.join("xdg-state"));
            let (real_auth, auth) = (real_data.join(app).join("auth.json"), data.join(app).join("auth.json"));
            let copied = std::fs::create_dir_all(data.join(app))
                .and_then(|()| if real_auth.is_file() { std::fs::copy(&real_auth, &auth).map(drop) } else { Ok(()) });
            if let Err(err) = copied.and_then(|()| std::fs::create_dir_all(&state)) {
                tracing::warn!(agent, %err, "an agent's login could not be copied for an attempt");
            }
            homes.env.push(("XDG_DATA_HOME".into(), data.display().to_string()));
            homes.env.push(("XDG_STATE_HOME".into(), state.display().to_string()));
            homes.credentials.push((auth, real_auth));
            let config = std::env::var_os("XDG_CONFIG_HOME").map_or_else(|| home.join(".config"), PathBuf::from);
            if let Err(err) = std::fs::create_dir_all(config.join(app)) {
                tracing::warn!(agent, dir = %config.join(app).display(), %err, "an agent's config directory could not be made");
            }
        }
        homes
    }

    /// After the attempt: a login file the attempt refreshed (a rotated OAuth token: the old one
    /// no longer works) is copied back over the user's, when it is JSON — the only thing taken
    /// from a private directory; its settings, memory and history are thrown away.
    pub fn give_back(&self) {
        for (private, real) in &self.credentials {
            let Ok(new) = crate::atomic_file::read_plain(private, MAX_COPIED_FILE) else { continue };
            if std::fs::read(real).is_ok_and(|old| old == new)
                || serde_json::from_slice::<serde_json::Value>(&new).is_err()
            {
                continue;
            }
            let written = real
                .parent()
                .map_or(Ok(()), std::fs::create_dir_all)
                .and_then(|()| crate::atomic_file::replace_plain(real, &new))
                .and_then(|()| {
                    use std::os::unix::fs::PermissionsExt;
                    std::fs::set_permissions(real, std::fs::Permissions::from_mode(0o600))
                });
            match written {
                Ok(()) => tracing::info!(file = %real.display(), "an agent's refreshed login was kept"),
                Err(err) => {
                    tracing::warn!(file = %real.display(), %err, "an agent's refreshed login could not be kept")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codex_gets_a_private_copy_and_its_refreshed_login_comes_back() {
        let tmp = tempfile::tempdir().unwrap();
        let (home, temp) = (tmp.path().join("home"), tmp.path().join("attempt"));
        std::fs::create_dir_all(home.join(".codex/sessions")).unwrap();
        std::fs::write(home.join(".codex/config.toml"), "model = \"x\"\n").unwrap();
        std::fs::write(home.join(".codex/auth.json"), "{\"token\": \"old\"}").unwrap();
        std::fs::write(home.join(".codex/logs_2.sqlite"), "db").unwrap();
        std::fs::write(home.join(".codex/sessions/a.jsonl"), "{}").unwrap();
        let homes = PrivateHomes::make("codex", Some(&home), &temp);
        let private = temp.join("codex-home");
        assert!(homes.env.contains(&("CODEX_HOME".into(), private.display().to_string())));
        assert_eq!(std::fs::read_to_string(private.join("config.toml")).unwrap(), "model = \"x\"\n");
        assert!(!private.join("logs_2.sqlite").exists() && !private.join("sessions").exists());
        // The attempt rewrites its settings (thrown away) and refreshes its login (kept).
        std::fs::write(private.join("config.toml"), "notify = [\"evil\"]\n").unwrap();
        std::fs::write(private.join("auth.json"), "{\"token\": \"new\"}").unwrap();
        homes.give_back();
        assert_eq!(std::fs::read_to_string(home.join(".codex/config.toml")).unwrap(), "model = \"x\"\n");
        assert_eq!(std::fs::read_to_string(home.join(".codex/auth.json")).unwrap(), "{\"token\": \"new\"}");
        // Not JSON: not taken.
        std::fs::write(private.join("auth.json"), "#!/bin/sh\n").unwrap();
        homes.give_back();
        assert_eq!(std::fs::read_to_string(home.join(".codex/auth.json")).unwrap(), "{\"token\": \"new\"}");
    }
}
