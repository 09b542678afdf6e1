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

/// The private directories [`super::PrivateHomes::make`] makes under an attempt's temporary
/// directory that hold an agent's sessions.
fn kept_names(agent: &str) -> [String; 3] {
    [format!("{agent}-home"), "xdg-data".into(), "xdg-state".into()]
}

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

/// After an implementation attempt (every process of it gone): moves its private directories
/// from `temp` to `kept`, replacing what was kept before.
pub fn keep_session(agent: &str, temp: &Path, kept: &Path) {
    let moved = (|| -> std::io::Result<()> {
        if own_dir(kept) {
            std::fs::remove_dir_all(kept)?;
        } else if std::fs::symlink_metadata(kept).is_ok() {
            return Err(std::io::Error::other("something not ours is in the way"));
        }
        std::fs::create_dir(kept)?;
        std::fs::set_permissions(kept, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
        for name in kept_names(agent) {
            if own_dir(&temp.join(&name)) {
                std::fs::rename(temp.join(&name), kept.join(&name))?;
            }
        }
        Ok(())
    })();
    if let Err(err) = moved {
        tracing::warn!(dir = %kept.display(), %err, "an agent's session could not be kept for a rework");
    }
}

/// Before an implementation attempt: moves what [`keep_session`] kept for it into its temporary
/// directory `temp` (cleaned of links first). Nothing when nothing was kept.
pub fn restore_session(agent: &str, kept: &Path, temp: &Path) {
    if !own_dir(kept) {
        return;
    }
    let restored = sanitize(kept).and_then(|()| {
        for name in kept_names(agent) {
            if own_dir(&kept.join(&name)) {
                std::fs::rename(kept.join(&name), temp.join(&name))?;
            }
        }
        std::fs::remove_dir_all(kept)
    });
    match restored {
        Ok(()) => tracing::debug!(dir = %kept.display(), "an agent's kept session is back for its attempt"),
        Err(err) => tracing::warn!(dir = %kept.display(), %err, "an agent's kept session could not be restored"),
    }
}

/// Forgets what is kept for the worktree `key` (every agent): the WP is done with.
pub fn forget_sessions(key: &str) {
    let prefix = format!("kitty-session-{key}-");
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else { return };
    for entry in entries.flatten() {
        if entry.file_name().to_str().is_some_and(|n| n.starts_with(&prefix)) && own_dir(&entry.path()) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_home_comes_back_without_the_links_an_agent_planted() {
        let tmp = tempfile::tempdir().unwrap();
        let (first, second, kept) = (tmp.path().join("a1"), tmp.path().join("a2"), tmp.path().join("kept"));
        let outside = tmp.path().join("outside.txt");
        std::fs::write(&outside, "mine").unwrap();
        std::fs::create_dir_all(first.join("gemini-home/.gemini/tmp/chats")).unwrap();
        std::fs::write(first.join("gemini-home/.gemini/tmp/chats/session-1.json"), "{}").unwrap();
        std::os::unix::fs::symlink(&outside, first.join("gemini-home/.gemini/settings.json")).unwrap();
        keep_session("gemini", &first, &kept);
        std::fs::create_dir_all(&second).unwrap();
        restore_session("gemini", &kept, &second);
        let home = second.join("gemini-home/.gemini");
        assert_eq!(std::fs::read_to_string(home.join("tmp/chats/session-1.json")).unwrap(), "{}");
        assert!(std::fs::symlink_metadata(home.join("settings.json")).is_err(), "the planted link is gone");
        assert!(!kept.exists());
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "mine");
    }
}
