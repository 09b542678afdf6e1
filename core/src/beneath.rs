//! Writing inside a directory an agent controls (a WP worktree) without ever leaving it. An
//! earlier attempt may have committed `conf -> /somewhere/outside`, or put a symlink where we are
//! about to write: a path checked first and opened later can be swapped in between, and a plain
//! `open` follows every link on the way. Here each directory on the way is opened relative to
//! the one before with `O_NOFOLLOW | O_DIRECTORY`, and the file itself relative to its
//! directory with `O_NOFOLLOW` (and `O_EXCL` when it is new) — what `openat2(RESOLVE_BENEATH |
//! RESOLVE_NO_SYMLINKS)` does, on every kernel. A symlink anywhere on the path is refused with
//! an error naming the path.

use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::{Component, Path};

use nix::fcntl::{OFlag, openat, renameat};
use nix::sys::stat::{Mode, mkdirat};

fn refused(root: &Path, relative: &Path, why: &str) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::PermissionDenied,
        format!("{}: refused to write {} ({why})", root.display(), relative.display()),
    )
}

/// The parts of `relative`: plain names only (no `..`, no root, no empty path).
fn parts<'a>(root: &Path, relative: &'a Path) -> std::io::Result<Vec<&'a std::ffi::OsStr>> {
    let mut parts = Vec::new();
    for component in relative.components() {
        match component {
            Component::Normal(part) => parts.push(part),
            Component::CurDir => {}
            _ => return Err(refused(root, relative, "the path leaves the directory")),
        }
    }
    if parts.is_empty() {
        return Err(refused(root, relative, "an empty path"));
    }
    Ok(parts)
}

fn open_dir(root: &Path) -> std::io::Result<OwnedFd> {
    let fd = nix::fcntl::open(root, OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())?;
    Ok(fd)
}

/// Opens (making when `create`) each directory of `dirs` beneath `root`, never through a link.
fn walk(root: &Path, relative: &Path, dirs: &[&std::ffi::OsStr], create: bool) -> std::io::Result<OwnedFd> {
    let mut dir = open_dir(root)?;
    for part in dirs {
        if create {
            match mkdirat(&dir, *part, Mode::from_bits_truncate(0o755)) {
                Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
                Err(err) => return Err(err.into()),
            }
        }
        let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        dir = match openat(&dir, *part, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(nix::errno::Errno::ELOOP | nix::errno::Errno::ENOTDIR) => {
                return Err(refused(root, relative, "a part of the path is a symbolic link or not a directory"));
            }
            Err(err) => return Err(err.into()),
        };
    }
    Ok(dir)
}

/// Creates the file `relative` beneath `root` (with its missing directories) and returns it
/// open for writing; refuses when anything is already there, or when the way there goes
/// through a symbolic link.
pub fn create_file(root: &Path, relative: &Path, mode: u32) -> std::io::Result<std::fs::File> {
    let parts = parts(root, relative)?;
    let (name, dirs) = parts.split_last().expect("at least one part");
    let dir = walk(root, relative, dirs, true)?;
    let flags = OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    match openat(&dir, *name, flags, Mode::from_bits_truncate(mode)) {
        Ok(fd) => Ok(std::fs::File::from(fd)),
        Err(nix::errno::Errno::EEXIST) => Err(refused(root, relative, "something is already there")),
        Err(err) => Err(err.into()),
    }
}

/// [`create_file`] holding `content`.
pub fn create_new(root: &Path, relative: &Path, content: &[u8], mode: u32) -> std::io::Result<()> {
    create_file(root, relative, mode)?.write_all(content)
}

/// Makes the directory `relative` beneath `root` (and the missing ones on the way); one that
/// exists is fine, a link on the way is refused.
pub fn create_dirs(root: &Path, relative: &Path) -> std::io::Result<()> {
    let parts = parts(root, relative)?;
    walk(root, relative, &parts, true).map(drop)
}

/// Makes the symbolic link `relative` beneath `root`, pointing at `target` (never followed).
pub fn symlink_new(root: &Path, relative: &Path, target: &Path) -> std::io::Result<()> {
    let parts = parts(root, relative)?;
    let (name, dirs) = parts.split_last().expect("at least one part");
    let dir = walk(root, relative, dirs, true)?;
    Ok(nix::unistd::symlinkat(target, &dir, *name)?)
}

/// Moves the entry `relative` beneath `root` (whatever it is; a link is moved, not followed) to
/// `to`, outside it, whose directory is made; refuses when the way to it goes through a link.
pub fn move_out(root: &Path, relative: &Path, to: &Path) -> std::io::Result<()> {
    let parts = parts(root, relative)?;
    let (name, dirs) = parts.split_last().expect("at least one part");
    let from = walk(root, relative, dirs, false)?;
    let (Some(to_dir), Some(to_name)) = (to.parent(), to.file_name()) else {
        return Err(refused(root, relative, "no place to move it to"));
    };
    std::fs::create_dir_all(to_dir)?;
    let target = open_dir(to_dir)?;
    Ok(renameat(&from, *name, &target, to_name)?)
}

/// Replaces (or creates) the file `relative` beneath `root` with `content`: written to a new
/// sibling, then renamed over the name — a symlink there is replaced, never followed, and a
/// directory on the way that is a link is refused.
pub fn replace(root: &Path, relative: &Path, content: &[u8], mode: u32) -> std::io::Result<()> {
    let parts = parts(root, relative)?;
    let (name, dirs) = parts.split_last().expect("at least one part");
    let dir = walk(root, relative, dirs, true)?;
    let mut temp_name = std::ffi::OsString::from(".kitty-write-");
    temp_name.push(format!("{:016x}", fastrand::u64(..)));
    let flags = OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd = openat(&dir, temp_name.as_os_str(), flags, Mode::from_bits_truncate(mode))?;
    let written = std::fs::File::from(fd).write_all(content);
    let renamed = written.and_then(|()| Ok(renameat(&dir, temp_name.as_os_str(), &dir, *name)?));
    if renamed.is_err() {
        let _ = nix::unistd::unlinkat(&dir, temp_name.as_os_str(), nix::unistd::UnlinkatFlags::NoRemoveDir);
    }
    renamed
}

/// Opens the existing regular file `relative` beneath `root` for reading, never through a link.
pub fn open_existing(root: &Path, relative: &Path) -> std::io::Result<std::fs::File> {
    let parts = parts(root, relative)?;
    let (name, dirs) = parts.split_last().expect("at least one part");
    let dir = walk(root, relative, dirs, false)?;
    let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
    let file = match openat(&dir, *name, flags, Mode::empty()) {
        Ok(fd) => std::fs::File::from(fd),
        Err(nix::errno::Errno::ELOOP) => return Err(refused(root, relative, "it is a symbolic link")),
        Err(err) => return Err(err.into()),
    };
    if !file.metadata()?.is_file() {
        return Err(refused(root, relative, "not a regular file"));
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_stay_beneath_and_never_follow_links() {
        let tmp = tempfile::tempdir().unwrap();
        let (root, outside) = (tmp.path().join("wt"), tmp.path().join("outside"));
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("conf")).unwrap();
        std::os::unix::fs::symlink(outside.join("target.txt"), root.join("link.txt")).unwrap();

        create_new(&root, Path::new("a/b/new.txt"), b"x", 0o644).unwrap();
        assert_eq!(std::fs::read(root.join("a/b/new.txt")).unwrap(), b"x");
        assert!(create_new(&root, Path::new("a/b/new.txt"), b"y", 0o644).is_err(), "never over what is there");
        let err = create_new(&root, Path::new("conf/.env"), b"secret", 0o600).unwrap_err();
        assert!(err.to_string().contains("conf/.env"), "{err}");
        assert!(!outside.join(".env").exists());
        assert!(replace(&root, Path::new("conf/x"), b"x", 0o644).is_err());
        // A symlink at the name itself is replaced by a file, the file it named untouched.
        replace(&root, Path::new("link.txt"), b"mine", 0o644).unwrap();
        assert!(!outside.join("target.txt").exists());
        assert!(std::fs::symlink_metadata(root.join("link.txt")).unwrap().is_file());
        for bad in ["../x", "/etc/x", ""] {
            assert!(create_new(&root, Path::new(bad), b"x", 0o644).is_err(), "{bad}");
        }
        assert!(open_existing(&root, Path::new("conf/anything")).is_err());
        assert!(create_dirs(&root, Path::new("conf/sub")).is_err());
        assert!(symlink_new(&root, Path::new("conf/l"), Path::new("/etc")).is_err());
        std::fs::write(outside.join("keep"), "user's").unwrap();
        assert!(move_out(&root, Path::new("conf/keep"), &tmp.path().join("aside/keep")).is_err());
        assert!(outside.join("keep").exists(), "a file behind a link is never moved");
        move_out(&root, Path::new("a/b/new.txt"), &tmp.path().join("aside/new.txt")).unwrap();
        assert!(tmp.path().join("aside/new.txt").exists());
    }
}
