//! Replacing a file's content atomically (write a sibling, then rename over it), so a reader —
//! spec-kitty, Kiro, a person — never sees half a file, and a crash leaves the old or the new one.

use std::path::{Path, PathBuf};

/// Writes `content` to `path` through `<path>.kitty-tmp` and a rename.
pub fn write_atomically(path: &Path, content: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".kitty-tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, content)?;
    std::fs::rename(&tmp, path)
}

/// Reads `path` when it is a regular file of at most `cap` bytes. A symlink is not followed and a
/// FIFO or device is not waited on (both are errors): for files an agent could have replaced,
/// which must neither lead us elsewhere nor hang us.
pub fn read_plain(path: &Path, cap: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK | nix::libc::O_CLOEXEC)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.file_type().is_file() {
        return Err(std::io::Error::other(format!("{} is not a regular file", path.display())));
    }
    if meta.len() > cap {
        return Err(std::io::Error::other(format!("{} is larger than {cap} bytes", path.display())));
    }
    let mut content = Vec::with_capacity(meta.len() as usize);
    file.take(cap + 1).read_to_end(&mut content)?;
    if content.len() as u64 > cap {
        return Err(std::io::Error::other(format!("{} is larger than {cap} bytes", path.display())));
    }
    Ok(content)
}

/// Replaces whatever is at `path` (a file, a symlink, a FIFO an agent left) with a regular file
/// holding `content`: written to a new sibling (`O_EXCL|O_NOFOLLOW`, after removing any stale
/// one), then renamed over `path`. A symlink at `path` is replaced, never followed.
pub fn replace_plain(path: &Path, content: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".kitty-tmp");
    let tmp = PathBuf::from(tmp);
    match std::fs::symlink_metadata(&tmp) {
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(&tmp)?,
        Ok(_) => std::fs::remove_file(&tmp)?,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(err),
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC)
        .open(&tmp)?;
    file.write_all(content)?;
    drop(file);
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
        std::fs::remove_dir_all(path)?;
    }
    std::fs::rename(&tmp, path)
}
