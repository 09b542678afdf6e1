//! spec-kitty's merge rule for `status.events.jsonl` (its `merge-driver-event-log`): the union of
//! both sides' lines, deduplicated by `event_id`, sorted by `(at, event_id)`. git merges in these
//! repositories call spec-kitty for it; our libgit2 merges apply the same rule natively, so they
//! need no `spec-kitty` on `PATH` and never fail on the log.
//!
//! spec-kitty 4.0's driver refuses one case 3.x unions: both sides moved one WP out of one lane
//! to different lanes, one of them a cancel or a step back (a rejection) — folding them would
//! silently bury that decision. Under 4.0 we leave that conflict for a person too.

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

/// The linear lanes in forward order (4.0's `_FORWARD_RANK`); `blocked` and `canceled` have none.
const FORWARD: [&str; 7] = ["planned", "claimed", "in_progress", "for_review", "in_review", "approved", "done"];

/// A cancel, or a step back along the linear lanes (4.0's `_is_decision_destination`).
fn is_decision(from: &str, to: &str) -> bool {
    if to == "canceled" {
        return true;
    }
    let rank = |lane: &str| FORWARD.iter().position(|l| *l == lane);
    matches!((rank(from), rank(to)), (Some(f), Some(t)) if t < f)
}

/// 4.0's `detect_concurrent_fork`: the WP both sides moved, since `base`, out of one lane to
/// different lanes with at least one a decision (a cancel or a step back), described; `None`
/// when there is none. Lines that are not JSON objects are left to [`merge_event_logs`].
pub fn concurrent_fork(base: &str, ours: &str, theirs: &str) -> Option<String> {
    use std::collections::{BTreeMap, BTreeSet, HashSet};
    let parse =
        |text: &str| -> Vec<Json> { text.lines().filter_map(|l| serde_json::from_str(l.trim()).ok()).collect() };
    let base_ids: HashSet<String> =
        parse(base).iter().filter_map(|e| e.get("event_id")?.as_str().map(str::to_string)).collect();
    let departures = |text: &str| -> BTreeMap<String, BTreeMap<String, BTreeSet<String>>> {
        let mut by_wp: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
        for e in parse(text) {
            let field = |k: &str| e.get(k).and_then(Json::as_str).filter(|s| !s.is_empty()).map(str::to_string);
            if field("event_id").is_some_and(|id| base_ids.contains(&id)) {
                continue;
            }
            if let (Some(from), Some(to), Some(wp)) = (field("from_lane"), field("to_lane"), field("wp_id")) {
                by_wp.entry(wp).or_default().entry(from).or_default().insert(to);
            }
        }
        by_wp
    };
    let (ours, theirs) = (departures(ours), departures(theirs));
    for (wp, our_moves) in &ours {
        let Some(their_moves) = theirs.get(wp) else { continue };
        for (from, our_to) in our_moves {
            let Some(their_to) = their_moves.get(from) else { continue };
            let all: BTreeSet<&String> = our_to.iter().chain(their_to).collect();
            if all.len() > 1 && all.iter().any(|to| is_decision(from, to)) {
                let lanes: Vec<&str> = all.iter().map(|s| s.as_str()).collect();
                return Some(format!(
                    "work package {wp}: concurrent transitions from '{from}' to {lanes:?} were made on two sides without a merge between them; a union would silently drop one (keep the cancel or rejection, redo the other)"
                ));
            }
        }
    }
    None
}

/// Resolves the conflicts of `index` (an in-memory merge) on spec-kitty event logs by union;
/// other conflicts are left for the caller, and so is a log both sides forked (see
/// [`concurrent_fork`]) when the project's spec-kitty is 4.0. Returns how many paths it
/// resolved.
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
        let (ours, theirs) = (text(&conflict.our)?, text(&conflict.their)?);
        if refuses_forks(repo)
            && let Some(fork) = concurrent_fork(&text(&conflict.ancestor)?, &ours, &theirs)
        {
            tracing::warn!(%path, "{fork}");
            continue;
        }
        let Some(merged) = merge_event_logs(&ours, &theirs) else { continue };
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

/// Whether the spec-kitty of `repo`'s project refuses forked logs (4.0).
fn refuses_forks(repo: &git2::Repository) -> bool {
    let root =
        repo.workdir().map(std::path::Path::to_path_buf).or_else(|| repo.commondir().parent().map(|p| p.to_path_buf()));
    root.is_some_and(|root| super::version::SpecKitty::detect(&root).generation().refuses_forks())
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

    fn line(id: &str, from: &str, to: &str) -> String {
        format!(r#"{{"at": "1", "event_id": "{id}", "from_lane": "{from}", "to_lane": "{to}", "wp_id": "WP01"}}"#)
    }

    #[test]
    fn a_cancel_or_rejection_against_another_move_from_the_same_lane_is_a_fork() {
        let base = line("A", "planned", "in_progress");
        let cancel = format!("{base}\n{}", line("B", "in_progress", "canceled"));
        let submit = format!("{base}\n{}", line("C", "in_progress", "for_review"));
        assert!(concurrent_fork(&base, &cancel, &submit).unwrap().contains("WP01"));
        let reject = format!("{base}\n{}", line("D", "in_review", "planned"));
        let approve = format!("{base}\n{}", line("E", "in_review", "approved"));
        assert!(concurrent_fork(&base, &reject, &approve).is_some());
        // Forward forks, one-sided moves and the same decision twice are unioned.
        let ahead = format!("{base}\n{}", line("F", "in_progress", "in_review"));
        assert!(concurrent_fork(&base, &submit, &ahead).is_none());
        assert!(concurrent_fork(&base, &base, &cancel).is_none());
        let cancel_too = format!("{base}\n{}", line("G", "in_progress", "canceled"));
        assert!(concurrent_fork(&base, &cancel, &cancel_too).is_none());
    }
}
