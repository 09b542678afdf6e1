//! Ticking a task's box in its source file (`tasks.md`, a `PLAN.md`) when its WP is done, as
//! Kiro itself does: only that line's `[ ]` becomes `[x]`, written atomically (write + rename),
//! and only while the line still says what was read — a line someone changed since is left
//! alone, with a warning saying which. A parent task's box is ticked once every sub-task of it
//! that runs is done (optional sub-tasks not run do not hold it back).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

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
    tasks: Vec<Task>,
    /// WPs done so far (done when read, or ticked since): a parent is ticked when all its
    /// sub-tasks are.
    done: Arc<Mutex<HashSet<String>>>,
}

/// One tickable task line, with its parent task's line when it is a sub-task.
#[derive(Debug, Clone)]
struct Task {
    wp: String,
    path: PathBuf,
    line: usize,
    text: String,
    parent: Option<(usize, String)>,
}

impl Ticks {
    /// The tickable tasks of `feature` (those read from a checkbox line), or `None`.
    pub fn for_feature(feature: &Feature) -> Option<Ticks> {
        let tasks: Vec<Task> = feature.work_packages.iter().filter_map(tickable).collect();
        let done = feature.work_packages.iter().filter(|wp| wp.initial_lane == Lane::Done).map(|wp| wp.id.to_string());
        (!tasks.is_empty()).then(|| Ticks { tasks, done: Arc::new(Mutex::new(done.collect())) })
    }

    /// Ticks `wp`'s box when `lane` is done, and its parent's once every sub-task of it here is
    /// done. `Ok(true)` when the file changed.
    pub fn tick(&self, wp: &str, lane: Lane) -> Result<bool, TickError> {
        if lane != Lane::Done {
            return Ok(false);
        }
        let Some(task) = self.tasks.iter().find(|t| t.wp == wp) else { return Ok(false) };
        let all_siblings_done = {
            let mut done = self.done.lock().unwrap_or_else(|e| e.into_inner());
            done.insert(wp.to_string());
            let siblings =
                self.tasks.iter().filter(|t| t.path == task.path && t.parent.is_some() && t.parent == task.parent);
            task.parent.is_some() && siblings.map(|t| &t.wp).all(|w| done.contains(w))
        };
        let mut changed = tick_line(&task.path, task.line, &task.text)?;
        if all_siblings_done && let Some((line, text)) = &task.parent {
            changed |= tick_line(&task.path, *line, text)?;
        }
        Ok(changed)
    }
}

fn tickable(wp: &WorkPackage) -> Option<Task> {
    let line = wp.extra.get("line").and_then(Json::as_u64)? as usize;
    let text = wp.extra.get("source_line").and_then(Json::as_str)?;
    let parent = match (wp.extra.get("parent_line").and_then(Json::as_u64), wp.extra.get("parent_source_line")) {
        (Some(line), Some(Json::String(text))) => Some((line as usize, text.clone())),
        _ => None,
    };
    Some(Task { wp: wp.id.to_string(), path: wp.source.clone(), line, text: text.to_string(), parent })
}

/// Changes `[ ]` to `[x]` on line `line` of `path` when that line is `expected` (or already
/// ticked: nothing to do).
pub fn tick_line(path: &Path, line: usize, expected: &str) -> Result<bool, TickError> {
    let io = |why: String| TickError::Io { path: path.to_path_buf(), why };
    // A task file is not followed if it became a link, nor waited on if it became a FIFO.
    let bytes = crate::atomic_file::read_plain(path, 64 * 1024 * 1024).map_err(|e| io(e.to_string()))?;
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
    crate::atomic_file::replace_plain(path, &out).map_err(|e| io(e.to_string()))?;
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
