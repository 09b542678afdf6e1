//! Finding and ending agent processes we no longer hold a handle to: what a killed orchestrator
//! left running, and descendants that escaped an agent's process group (`setsid`, daemons).
//!
//! Every process we start for an agent gets `KITTY_FEATURE`, `KITTY_WP` and `KITTY_WORKTREE`,
//! and its descendants inherit them, so `/proc/<pid>/environ` tells whose they are — even for an
//! agent the dead run never got to record, and never for another clone's agents (the worktree
//! path differs) or a reused pid (the environment differs).

use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::Pid;

/// A live process that runs as an agent of one WP.
#[derive(Debug, Clone, Copy)]
struct AgentProcess {
    pid: i32,
    pgid: i32,
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a.to_string_lossy().trim_end_matches('/') == b.to_string_lossy().trim_end_matches('/'),
    }
}

/// Live (not zombie) processes whose environment says they run for `feature`/`wp` in `worktree`,
/// other than this process and the members of its own process group.
fn agent_processes(feature: &str, wp: &str, worktree: &Path) -> Vec<AgentProcess> {
    let me = std::process::id() as i32;
    let own_group = nix::unistd::getpgrp().as_raw();
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()))
        .filter(|&pid| pid != me)
        .filter_map(|pid| {
            let env = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
            let var = |name: &str| {
                let prefix = format!("{name}=");
                env.split(|&b| b == 0)
                    .find_map(|v| v.strip_prefix(prefix.as_bytes()))
                    .map(|v| String::from_utf8_lossy(v).into_owned())
            };
            if var("KITTY_FEATURE")? != feature
                || var("KITTY_WP")? != wp
                || !same_dir(Path::new(&var("KITTY_WORKTREE")?), worktree)
            {
                return None;
            }
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let rest = &stat[stat.rfind(')')? + 1..];
            let fields: Vec<&str> = rest.split_whitespace().collect();
            if matches!(fields.first(), Some(&"Z") | Some(&"X")) {
                return None;
            }
            let pgid = fields.get(2)?.parse().ok()?;
            Some(AgentProcess { pid, pgid })
        })
        .filter(|p| p.pgid != own_group && p.pgid > 1)
        .collect()
}

/// Process groups of live processes that run as the agent of `feature`/`wp` in `worktree`, other
/// than this process's own group: what a killed orchestrator left running, even if it died
/// before recording the agent's pid.
pub fn find_agent_groups(feature: &str, wp: &str, worktree: &Path) -> Vec<i32> {
    let mut groups: Vec<i32> = agent_processes(feature, wp, worktree).iter().map(|p| p.pgid).collect();
    groups.sort();
    groups.dedup();
    groups
}

/// Ends a process group that is not our child (e.g. left behind by a crashed orchestrator):
/// SIGTERM, `grace`, SIGKILL. Returns whether SIGKILL was needed.
pub async fn terminate_group(pgid: i32, grace: Duration) -> bool {
    super::process::terminate_group(pgid, None, grace).await
}

/// [`terminate_group`] for callers outside an async runtime (`abort` from the CLI or a binding).
pub fn terminate_group_blocking(pgid: i32, grace: Duration) -> bool {
    let group = Pid::from_raw(pgid);
    let alive = || super::process::group_members(pgid).iter().any(|p| !p.zombie);
    if !alive() {
        return false;
    }
    let _ = nix::sys::signal::killpg(group, Signal::SIGTERM);
    let _ = nix::sys::signal::killpg(group, Signal::SIGCONT);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if !alive() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = nix::sys::signal::killpg(group, Signal::SIGKILL);
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    true
}

/// Ends every process still running as the agent of `feature`/`wp` in `worktree` once its
/// attempt is over — descendants that left the agent's process group with `setsid` or a double
/// fork: SIGTERM, `grace`, SIGKILL, each by pid (they may share a group with nothing of ours).
/// Reaps the ones re-parented to us. Returns how many there were.
pub async fn end_agent_processes(feature: &str, wp: &str, worktree: &Path, grace: Duration) -> usize {
    let found = agent_processes(feature, wp, worktree);
    if found.is_empty() {
        return 0;
    }
    tracing::warn!(feature, wp, count = found.len(), "ending agent descendants that left their process group");
    for p in &found {
        let _ = kill(Pid::from_raw(p.pid), Signal::SIGTERM);
        let _ = kill(Pid::from_raw(p.pid), Signal::SIGCONT);
    }
    // Ones whose parent died were re-parented to us (we are a child subreaper while agents
    // run): reap them. waitpid on a pid that is not our child just fails.
    let reap = |procs: &[AgentProcess]| {
        for p in procs {
            let _ = waitpid(Pid::from_raw(p.pid), Some(WaitPidFlag::WNOHANG));
        }
    };
    let deadline = Instant::now() + grace;
    loop {
        reap(&found);
        let left = agent_processes(feature, wp, worktree);
        if left.is_empty() {
            break;
        }
        if Instant::now() >= deadline {
            for p in &left {
                let _ = kill(Pid::from_raw(p.pid), Signal::SIGKILL);
            }
            let until = Instant::now() + Duration::from_secs(5);
            while Instant::now() < until {
                reap(&left);
                if agent_processes(feature, wp, worktree).is_empty() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(5)).await;
    reap(&found);
    found.len()
}
