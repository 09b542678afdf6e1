//! Process groups: ending a whole agent tree (SIGTERM, grace, SIGKILL) and reaping it.
//!
//! Agents start tools that start tools. Each agent runs in its own process group, and the whole
//! group is ended, never just the direct child. Orphaned descendants are re-parented to this
//! process while an agent runs (it becomes a *child subreaper*), because an init that does not
//! reap (some containers' PID 1 does not) would otherwise collect them as zombies forever.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::Pid;

/// One process as seen in `/proc`.
#[derive(Debug, Clone, Copy)]
pub struct ProcInfo {
    /// Process id.
    pub pid: i32,
    /// Parent.
    pub ppid: i32,
    /// Process group.
    pub pgid: i32,
    /// Exited, waiting to be reaped.
    pub zombie: bool,
}

/// Every process in group `pgid` (zombies included), from `/proc`.
pub fn group_members(pgid: i32) -> Vec<ProcInfo> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()))
        .filter_map(proc_info)
        .filter(|p| p.pgid == pgid)
        .collect()
}

fn proc_info(pid: i32) -> Option<ProcInfo> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?;
    let ppid = fields.next()?.parse().ok()?;
    let pgid = fields.next()?.parse().ok()?;
    Some(ProcInfo { pid, ppid, pgid, zombie: state == "Z" || state == "X" })
}

/// Makes the child get SIGKILL the moment the thread that started it dies, so an agent never
/// outlives an orchestrator killed with SIGKILL or a host process that died (the rest of its
/// group is found by its `KITTY_*` environment and ended by the next run or `abort`).
///
/// The parent-death signal follows the *thread* that forked: agents are started from the
/// runtime's worker threads (or a `block_on` thread), which live as long as the runtime.
pub fn die_with_parent(cmd: &mut tokio::process::Command) {
    let parent = std::process::id() as i32;
    // SAFETY: the closure runs between fork and exec and only makes two async-signal-safe
    // system calls (prctl, getppid); it allocates nothing and takes no lock.
    unsafe {
        cmd.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)?;
            // The parent may have died between fork and prctl: then nothing would signal us.
            if nix::unistd::getppid().as_raw() != parent {
                return Err(std::io::Error::other("the orchestrator exited while starting the agent"));
            }
            Ok(())
        });
    }
}

/// Groups whose processes this process reaps; while non-empty this process is a subreaper.
static ACTIVE_GROUPS: Mutex<Vec<i32>> = Mutex::new(Vec::new());

/// Registers an agent group (and makes this process a child subreaper while any is active).
pub fn register_group(pgid: i32) {
    let mut groups = ACTIVE_GROUPS.lock().unwrap_or_else(|e| e.into_inner());
    if groups.is_empty()
        && let Err(err) = nix::sys::prctl::set_child_subreaper(true)
    {
        tracing::warn!(%err, "cannot become a child subreaper; orphaned agent subprocesses go to init");
    }
    groups.push(pgid);
}

/// Unregisters a group; the last one turns the subreaper flag off again.
pub fn unregister_group(pgid: i32) {
    let mut groups = ACTIVE_GROUPS.lock().unwrap_or_else(|e| e.into_inner());
    groups.retain(|&g| g != pgid);
    if groups.is_empty() {
        let _ = nix::sys::prctl::set_child_subreaper(false);
    }
}

/// Reaps the zombies of group `pgid` that are our children, except `leader` (tokio reaps that
/// one through its `Child`). Returns the members still present afterwards.
fn reap_group(pgid: i32, leader: Option<i32>) -> Vec<ProcInfo> {
    let me = std::process::id() as i32;
    let mut left = Vec::new();
    for p in group_members(pgid) {
        if p.zombie && p.ppid == me && Some(p.pid) != leader {
            let _ = waitpid(Pid::from_raw(p.pid), Some(WaitPidFlag::WNOHANG));
            continue;
        }
        left.push(p);
    }
    left
}

/// Live (non-zombie) members of the group.
fn live(members: &[ProcInfo]) -> usize {
    members.iter().filter(|p| !p.zombie).count()
}

/// Ends group `pgid`: SIGTERM, up to `grace` for it to exit, then SIGKILL, then waits until every
/// member is gone (reaping the ones re-parented to us). `leader` is the direct child, reaped by
/// its owner. Returns `true` if SIGKILL was needed.
pub async fn terminate_group(pgid: i32, leader: Option<i32>, grace: Duration) -> bool {
    let group = Pid::from_raw(pgid);
    if live(&reap_group(pgid, leader)) == 0 {
        return false;
    }
    let _ = killpg(group, Signal::SIGTERM);
    // A stopped process would never handle SIGTERM.
    let _ = killpg(group, Signal::SIGCONT);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if live(&reap_group(pgid, leader)) == 0 {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _ = killpg(group, Signal::SIGKILL);
    wait_gone(pgid, leader).await;
    true
}

/// Waits (bounded) until group `pgid` has no member left but `leader`'s zombie.
async fn wait_gone(pgid: i32, leader: Option<i32>) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = reap_group(pgid, leader);
        if left.iter().all(|p| Some(p.pid) == leader) {
            return;
        }
        if Instant::now() > deadline {
            let pids: Vec<i32> = left.iter().map(|p| p.pid).collect();
            tracing::error!(pgid, ?pids, "processes of an agent group survived SIGKILL for 10 s");
            return;
        }
        // New members may appear if something forked between our signals: kill again.
        if live(&left) > 0 {
            let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Synchronous last resort for `Drop`: SIGKILL the group and reap what can be reaped quickly.
/// The leader is left to tokio, whose dropped `Child` handles are reaped in the background.
pub fn kill_group_now(pgid: i32, leader: Option<i32>) {
    let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        if reap_group(pgid, leader).iter().all(|p| Some(p.pid) == leader) {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}
