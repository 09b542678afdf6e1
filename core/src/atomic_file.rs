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
