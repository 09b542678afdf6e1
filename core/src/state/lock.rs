//! One orchestrator per feature per machine: an advisory lock (`flock`) on
//! `<git-common-dir>/kitty/locks/<feature>.lock`. The kernel releases it when the holder dies,
//! however it dies, so a crashed run never blocks the next one.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::error::StateError;
use super::model::Owner;

/// A held run lock; dropping it releases the lock.
#[derive(Debug)]
pub struct RunLock {
    file: File,
    path: PathBuf,
}

impl RunLock {
    /// Takes the lock for `feature` or fails at once with [`StateError::RunLocked`] naming the
    /// holder recorded in the file.
    pub fn acquire(common_dir: &Path, feature: &str, owner: &Owner) -> Result<RunLock, StateError> {
        let dir = common_dir.join("kitty").join("locks");
        let path = dir.join(format!("{feature}.lock"));
        let io = |source| StateError::Io { path: path.display().to_string(), source };
        std::fs::create_dir_all(&dir).map_err(io)?;
        let mut file =
            OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(StateError::RunLocked {
                    feature: feature.to_string(),
                    holder: if holder.is_empty() { "another process".to_string() } else { holder.to_string() },
                    path: path.display().to_string(),
                });
            }
            Err(std::fs::TryLockError::Error(err)) => return Err(io(err)),
        }
        let record = format!("{owner}");
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        file.write_all(record.as_bytes()).map_err(io)?;
        Ok(RunLock { file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether some process holds the lock of `feature` right now (checked by trying to take it).
    pub fn is_held(common_dir: &Path, feature: &str) -> bool {
        let path = common_dir.join("kitty").join("locks").join(format!("{feature}.lock"));
        match File::open(&path) {
            Ok(file) => matches!(file.try_lock_shared(), Err(std::fs::TryLockError::WouldBlock)),
            Err(_) => false,
        }
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Closing the file releases the flock; unlock explicitly so it happens even if a clone of
        // the descriptor leaked into a child process.
        let _ = self.file.unlock();
    }
}

/// What we can tell about an owner recorded in state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// Its process is running on this machine.
    Alive,
    /// It ran on this machine and its process is gone.
    Dead,
    /// It runs on another machine: nothing local can tell.
    Unknown,
}

/// This machine's name as recorded in owners: `KITTY_HOST_ID` when set (several clones on one
/// machine acting as several machines, or a name steadier than a container's host name), else
/// the host name. The configuration's `host_id` comes between the two (see the engine).
pub fn this_host() -> String {
    match std::env::var("KITTY_HOST_ID") {
        Ok(id) if !id.trim().is_empty() => id.trim().to_string(),
        _ => gethostname::gethostname().to_string_lossy().into_owned(),
    }
}

/// Whether `owner`'s process is alive (see [`Liveness`]), judged from this machine.
pub fn liveness(owner: &Owner) -> Liveness {
    liveness_on(owner, &this_host())
}

/// Whether `owner`'s process is alive, judged from the machine called `host`.
pub fn liveness_on(owner: &Owner, host: &str) -> Liveness {
    if owner.host != host {
        return Liveness::Unknown;
    }
    if pid_alive(owner.pid) { Liveness::Alive } else { Liveness::Dead }
}

/// `kill(pid, 0)`: the process exists (even if owned by another user).
pub fn pid_alive(pid: u32) -> bool {
    use nix::errno::Errno;
    let Ok(pid) = i32::try_from(pid) else { return false };
    if pid <= 0 {
        return false;
    }
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) {
        Ok(()) => !is_zombie(pid),
        Err(Errno::EPERM) => true,
        Err(_) => false,
    }
}

/// A zombie has exited; only its exit status is left to collect.
fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| stat.rsplit_once(')').map(|(_, rest)| rest.trim_start().starts_with('Z')))
        .unwrap_or(false)
}
