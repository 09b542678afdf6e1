//! Ticking a task's box in its source file (`tasks.md`, a `PLAN.md`) when its WP is done, as
//! Kiro itself does: only that line's `[ ]` becomes `[x]`, written atomically (write + rename),
//! and only while the line still says what was read — a line someone changed since is left
//! alone, with a warning saying which.

use std::path::{Path, PathBuf};

use serde_json::Value as Json;

use crate::feature::{Feature, WorkPackage};
use crate::lane::Lane;

/// Why a box was not ticked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TickError {
    /// The line is not what was read (edited, moved or removed since).
    #[error("{}:{line}: the task line changed since it was read, so its box was not ticked (expected `{expected}`)", path.display())]
    Changed {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// The line as read.
        expected: String,
    },
    /// The file could not be read or written.
    #[error("{}: {why}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        why: String,
    },
}

/// The tasks of a feature whose boxes are ticked as their WPs finish.
#[derive(Debug, Clone)]
pub struct Ticks {
    tasks: Vec<(String, PathBuf, usize, String)>,
}

impl Ticks {
    /// The tickable tasks of `feature` (those read from a checkbox line), or `None`.
    pub fn for_feature(feature: &Feature) -> Option<Ticks> {
        let tasks: Vec<_> = feature.work_packages.iter().filter_map(tickable).collect();
        (!tasks.is_empty()).then_some(Ticks { tasks })
    }

    /// Ticks `wp`'s box when `lane` is done. `Ok(true)` when the file changed.
    pub fn tick(&self, wp: &str, lane: Lane) -> Result<bool, TickError> {
        if lane != Lane::Done {
            return Ok(false);
        }
        let Some((_, path, line, expected)) = self.tasks.iter().find(|t| t.0 == wp) else { return Ok(false) };
        tick_line(path, *line, expected)
    }
}

fn tickable(wp: &WorkPackage) -> Option<(String, PathBuf, usize, String)> {
    let line = wp.extra.get("line").and_then(Json::as_u64)? as usize;
    let text = wp.extra.get("source_line").and_then(Json::as_str)?;
    Some((wp.id.to_string(), wp.source.clone(), line, text.to_string()))
}

/// Changes `[ ]` to `[x]` on line `line` of `path` when that line is `expected` (or already
/// ticked: nothing to do).
pub fn tick_line(path: &Path, line: usize, expected: &str) -> Result<bool, TickError> {
    let io = |why: String| TickError::Io { path: path.to_path_buf(), why };
    let bytes = std::fs::read(path).map_err(|e| io(e.to_string()))?;
    let mut start = 0;
    for _ in 1..line {
        match bytes[start..].iter().position(|&b| b == b'\n') {
            Some(i) => start += i + 1,
            None => return Err(changed(path, line, expected)),
        }
    }
    let end = bytes[start..].iter().position(|&b| b == b'\n').map_or(bytes.len(), |i| start + i);
    let current = String::from_utf8_lossy(&bytes[start..end]);
    let current = current.strip_suffix('\r').unwrap_or(&current);
    let ticked = expected.replacen("[ ]", "[x]", 1);
    if current == ticked {
        return Ok(false);
    }
    if current != expected {
        return Err(changed(path, line, expected));
    }
    let at = start + expected.find("[ ]").ok_or_else(|| changed(path, line, expected))? + 1;
    let mut out = bytes.clone();
    out[at] = b'x';
    crate::atomic_file::write_atomically(path, &out).map_err(|e| io(e.to_string()))?;
    Ok(true)
}

fn changed(path: &Path, line: usize, expected: &str) -> TickError {
    TickError::Changed { path: path.to_path_buf(), line, expected: expected.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_box_changes_and_a_changed_line_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tasks.md");
        std::fs::write(&path, "# Plan\r\n- [ ] 1. One\r\n- [ ] 2. Two\r\n").unwrap();
        assert!(tick_line(&path, 2, "- [ ] 1. One").unwrap());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "# Plan\r\n- [x] 1. One\r\n- [ ] 2. Two\r\n");
        assert!(!tick_line(&path, 2, "- [ ] 1. One").unwrap(), "ticking twice changes nothing");
        let err = tick_line(&path, 3, "- [ ] 2. Two (as it was)").unwrap_err();
        assert!(err.to_string().contains("tasks.md:3"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "# Plan\r\n- [x] 1. One\r\n- [ ] 2. Two\r\n");
    }
}
