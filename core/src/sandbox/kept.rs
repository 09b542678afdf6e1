//! An implementer's private directories kept from one attempt of a WP to the next, so that a
//! rework can continue the agent's own session (its history lives there: Gemini's chats, Claude
//! Code's and Codex's session files, opencode's database). Kept in the system temporary
//! directory, beside the attempts' own, named after the worktree and the agent; only that WP's
//! later implementation attempts by the same agent get them back — still confined, so nothing
//! an attempt wrote there runs outside a sandbox, and reviewers never see it.
//!
//! What an agent left can be hostile: before a kept directory is handed back (and before we
//! copy the user's settings into it), every symbolic link and special file in it is removed, so
//! no write of ours goes through a link the agent planted.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Where `agent`'s directories are kept for the worktree whose key is `key`.
pub fn kept_dir(key: &str, agent: &str) -> PathBuf {
    std::env::temp_dir().join(format!("kitty-session-{key}-{agent}"))
}

/// A directory of ours, not a link.
fn own_dir(path: &Path) -> bool {
    let uid = nix::unistd::geteuid().as_raw();
    std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir() && m.uid() == uid)
}

/// Removes every symbolic link and special file beneath `dir` (never following one).
fn sanitize(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            sanitize(&entry.path())?;
        } else if !kind.is_file() {
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

/// Before an implementation attempt: the directory under which its private directories live
/// across the WP's attempts (made, mode 0700, when it is not there; every link and special file
/// in it removed), so the paths an agent recorded in its own state (Codex keeps its sessions'
/// absolute paths in a database) stay valid. `None` when it cannot be used (something not ours
/// is in the way): the attempt's private directories are then its own, thrown away after it.
pub fn prepare_kept(kept: &Path) -> Option<PathBuf> {
    if std::fs::symlink_metadata(kept).is_err() {
        let made = std::fs::create_dir(kept)
            .and_then(|()| std::fs::set_permissions(kept, std::os::unix::fs::PermissionsExt::from_mode(0o700)));
        if let Err(err) = made {
            tracing::warn!(dir = %kept.display(), %err, "an agent's sessions cannot be kept for a rework");
            return None;
        }
    }
    if !own_dir(kept) {
        tracing::warn!(dir = %kept.display(), "not ours: an agent's sessions are not kept there");
        return None;
    }
    match sanitize(kept) {
        Ok(()) => Some(kept.to_path_buf()),
        Err(err) => {
            tracing::warn!(dir = %kept.display(), %err, "an agent's kept sessions could not be checked");
            None
        }
    }
}

/// Forgets what is kept for the worktree `key` (every agent): the WP is done with.
pub fn forget_sessions(key: &str) {
    let prefix = format!("kitty-session-{key}-");
    remove_own_temp_dirs(|name| name.starts_with(&prefix), "an agent's kept session");
}

/// Removes the directories in the system temporary directory whose names `ours` picks: only
/// directories of our own user, never through a link. `what` names them in the log.
pub fn remove_own_temp_dirs(ours: impl Fn(&str) -> bool, what: &str) {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if entry.file_name().to_str().is_some_and(&ours) && own_dir(&path) {
            match std::fs::remove_dir_all(&path) {
                Ok(()) => tracing::info!(dir = %path.display(), "removed {what}"),
                Err(err) => tracing::warn!(dir = %path.display(), %err, "{what} stays"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_directory_is_handed_back_without_the_links_an_agent_planted() {
        let tmp = tempfile::tempdir().unwrap();
        let kept = tmp.path().join("kept");
        let outside = tmp.path().join("outside.txt");
        std::fs::write(&outside, "mine").unwrap();
        let first = prepare_kept(&kept).unwrap();
        std::fs::create_dir_all(first.join("gemini-home/.gemini/tmp/chats")).unwrap();
        std::fs::write(first.join("gemini-home/.gemini/tmp/chats/session-1.json"), "{}").unwrap();
        std::os::unix::fs::symlink(&outside, first.join("gemini-home/.gemini/settings.json")).unwrap();
        let second = prepare_kept(&kept).unwrap();
        assert_eq!(second, first, "the same place, so recorded paths stay valid");
        let home = second.join("gemini-home/.gemini");
        assert_eq!(std::fs::read_to_string(home.join("tmp/chats/session-1.json")).unwrap(), "{}");
        assert!(std::fs::symlink_metadata(home.join("settings.json")).is_err(), "the planted link is gone");
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "mine");
        // A link in its place is not followed.
        let other = tmp.path().join("other");
        std::os::unix::fs::symlink(tmp.path(), &other).unwrap();
        assert_eq!(prepare_kept(&other), None);
    }
}
