//! spec-kitty's merge rule for `status.events.jsonl` (its `merge-driver-event-log`): the union of
//! both sides' lines, deduplicated by `event_id`, sorted by `(at, event_id)`. git merges in these
//! repositories call spec-kitty for it; our libgit2 merges apply the same rule natively, so they
//! need no `spec-kitty` on `PATH` and never fail on the log.

use serde_json::Value as Json;

/// Whether `path` (repository-relative) is a spec-kitty event log merged by union.
pub fn is_event_log(path: &str) -> bool {
    path.starts_with("kitty-specs/")
        && (path.ends_with("/status.events.jsonl") || path.ends_with("/decisions.events.jsonl"))
}

/// The union of two event logs, written as spec-kitty writes it (`json.dumps(sort_keys=True)`
/// per line), or `None` where spec-kitty's driver refuses too: a line that is not a JSON object
/// with an `event_id`, or one id with two different payloads. Then the merge is a real conflict
/// for a person to look at.
pub fn merge_event_logs(ours: &str, theirs: &str) -> Option<String> {
    let mut merged: std::collections::HashMap<String, Json> = std::collections::HashMap::new();
    for text in [ours, theirs] {
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let value: Json = serde_json::from_str(line).ok()?;
            let id = value.as_object()?.get("event_id")?.as_str()?.trim().to_string();
            if id.is_empty() {
                return None;
            }
            match merged.get(&id) {
                Some(existing) if *existing != value => return None,
                Some(_) => {}
                None => {
                    merged.insert(id, value);
                }
            }
        }
    }
    let key = |v: &Json| -> (String, String) {
        let at = v.get("at").filter(|a| !a.is_null() && a.as_str() != Some("")).or_else(|| v.get("timestamp"));
        let at = at.map(|a| a.as_str().map_or_else(|| a.to_string(), str::to_string)).unwrap_or_default();
        (at, v["event_id"].as_str().unwrap_or("").to_string())
    };
    let mut events: Vec<(String, String, Json)> = merged
        .into_values()
        .map(|v| {
            let (a, i) = key(&v);
            (a, i, v)
        })
        .collect();
    events.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    let mut out = String::new();
    for (_, _, event) in events {
        out.push_str(&super::json::event_line(&event));
        out.push('\n');
    }
    Some(out)
}

/// Resolves the conflicts of `index` (an in-memory merge) on spec-kitty event logs by union;
/// other conflicts are left for the caller. Returns how many paths it resolved.
pub fn resolve_event_logs(repo: &git2::Repository, index: &mut git2::Index) -> Result<usize, git2::Error> {
    if !index.has_conflicts() {
        return Ok(0);
    }
    let mut resolved = Vec::new();
    for conflict in index.conflicts()? {
        let conflict = conflict?;
        let Some((path, mode)) = conflict
            .our
            .as_ref()
            .or(conflict.their.as_ref())
            .map(|e| (String::from_utf8_lossy(&e.path).into_owned(), e.mode))
        else {
            continue;
        };
        if !is_event_log(&path) {
            continue;
        }
        let text = |e: &Option<git2::IndexEntry>| -> Result<String, git2::Error> {
            match e {
                Some(e) => Ok(String::from_utf8_lossy(repo.find_blob(e.id)?.content()).into_owned()),
                None => Ok(String::new()),
            }
        };
        let Some(merged) = merge_event_logs(&text(&conflict.our)?, &text(&conflict.their)?) else { continue };
        let blob = repo.blob(merged.as_bytes())?;
        let entry = git2::IndexEntry {
            ctime: git2::IndexTime::new(0, 0),
            mtime: git2::IndexTime::new(0, 0),
            dev: 0,
            ino: 0,
            mode,
            uid: 0,
            gid: 0,
            file_size: u32::try_from(merged.len()).unwrap_or(u32::MAX),
            id: blob,
            flags: u16::try_from(path.len().min(0xfff)).unwrap_or(0xfff),
            flags_extended: 0,
            path: path.clone().into_bytes(),
        };
        resolved.push((path, entry));
    }
    for (path, entry) in &resolved {
        index.conflict_remove(std::path::Path::new(path))?;
        index.add(entry)?;
    }
    Ok(resolved.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn union_dedupes_and_sorts() {
        let a = "{\"at\": \"2\", \"event_id\": \"B\"}\n{\"at\": \"1\", \"event_id\": \"A\"}\n";
        let b = "{\"at\": \"1\", \"event_id\": \"A\"}\n{\"at\": \"3\", \"event_id\": \"C\"}\n";
        let merged = merge_event_logs(a, b).unwrap();
        assert_eq!(merged.lines().count(), 3);
        assert!(merged.starts_with("{\"at\": \"1\""));
        assert!(merged.trim_end().ends_with("\"C\"}"));
        assert!(merge_event_logs("<<<<<<< ours\n", b).is_none());
        assert!(is_event_log("kitty-specs/x/status.events.jsonl"));
        assert!(!is_event_log("src/status.events.jsonl"));
    }
}
