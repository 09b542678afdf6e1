//! spec-kitty's reducer (`specify_cli/status/reducer.py` in 3.2.7), so the `status.json` we write
//! next to our events is exactly the one `spec-kitty agent status materialize` would write:
//! transitions deduplicated by id, sorted by the string pair `(at, event_id)`, folded with its
//! rollback precedence and runtime slots; then annotations folded in their own pass; then the
//! nine lane counts. Like spec-kitty, it does not judge whether a transition was legal.
//! spec-kitty 4.0's rules (continuity, seeds, projections) live in `continuity.rs`; which
//! set applies is the caller's [`Generation`].

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value as Json, json};

use super::continuity;
use super::transition::{actor_identity, lane_name, state_from_event, text, truthy};
use super::version::Generation;

/// The lanes a board shows, in spec-kitty's order (the `summary` keys).
pub const DISPLAY_LANES: [&str; 9] =
    ["planned", "claimed", "in_progress", "for_review", "in_review", "approved", "done", "blocked", "canceled"];

/// Annotation fields that replace the slot of the same name (latest wins).
const REPLACE_SLOTS: [&str; 9] = [
    "shell_pid",
    "shell_pid_created_at",
    "agent",
    "assignee",
    "role",
    "agent_profile",
    "agent_profile_version",
    "model",
    "provider",
];

const CLAIM_RELEASE_SLOTS: [&str; 3] = ["agent", "shell_pid", "shell_pid_created_at"];

/// Why the event log could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogProblem {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub why: String,
}

/// The lines of a `status.events.jsonl`, partitioned the way spec-kitty's reader does.
#[derive(Debug, Default, Clone)]
pub struct EventLog {
    /// Lane transitions, in file order.
    pub transitions: Vec<Map<String, Json>>,
    /// `"kind": "annotation"` lines, in file order.
    pub annotations: Vec<Map<String, Json>>,
    /// Every `event_id` in the file (all kinds), to keep appends idempotent.
    pub ids: HashSet<String>,
}

impl EventLog {
    /// Parses the file's text. Mission-level lines (`event_type`), retrospective lines and blank
    /// lines are skipped, as spec-kitty skips them; an unknown `kind` or a line that is not a JSON
    /// object is an error, as it is for spec-kitty.
    pub fn parse(text: &str) -> Result<EventLog, LogProblem> {
        let mut log = EventLog::default();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let trimmed = raw.trim();
            if trimmed.is_empty() {
                continue;
            }
            let value: Json =
                serde_json::from_str(trimmed).map_err(|e| LogProblem { line, why: format!("not JSON: {e}") })?;
            let Json::Object(obj) = value else {
                return Err(LogProblem { line, why: "expected a JSON object".into() });
            };
            if let Some(id) = obj.get("event_id").and_then(Json::as_str) {
                log.ids.insert(id.to_string());
            }
            match obj.get("kind") {
                Some(Json::String(kind)) if kind == "annotation" => {
                    need_str(&obj, "wp_id", line)?;
                    log.annotations.push(obj);
                    continue;
                }
                Some(other) if !other.is_null() => {
                    return Err(LogProblem { line, why: format!("unknown event kind {other}") });
                }
                _ => {}
            }
            if is_non_lane(&obj) {
                continue;
            }
            for key in ["event_id", "wp_id", "from_lane", "to_lane", "at"] {
                need_str(&obj, key, line)?;
            }
            log.transitions.push(obj);
        }
        Ok(log)
    }
}

fn need_str(obj: &Map<String, Json>, key: &str, line: usize) -> Result<(), LogProblem> {
    match obj.get(key) {
        Some(Json::String(_)) => Ok(()),
        _ => Err(LogProblem { line, why: format!("missing string `{key}`") }),
    }
}

fn is_non_lane(obj: &Map<String, Json>) -> bool {
    if obj.get("event_name").and_then(Json::as_str).is_some_and(|n| n.starts_with("retrospective.")) {
        return true;
    }
    if obj
        .get("type")
        .and_then(Json::as_str)
        .is_some_and(|t| matches!(t, "RetrospectiveCaptured" | "RetrospectiveCaptureFailed" | "RetrospectiveSkipped"))
    {
        return true;
    }
    obj.contains_key("event_type")
}

fn is_rollback(event: &Map<String, Json>) -> bool {
    if lane_name(text(event, "to_lane")) != "in_progress" {
        return false;
    }
    match lane_name(text(event, "from_lane")) {
        "in_review" => true,
        "for_review" => event.get("review_ref").is_some_and(|r| !r.is_null()),
        _ => false,
    }
}

fn apply_annotation(state: &mut Map<String, Json>, delta: &Map<String, Json>) {
    if delta.get("release_runtime_claim").and_then(Json::as_bool).unwrap_or(false) {
        for slot in CLAIM_RELEASE_SLOTS {
            state.insert(slot.into(), Json::Null);
        }
    }
    for slot in REPLACE_SLOTS {
        match delta.get(slot) {
            None | Some(Json::Null) => {}
            Some(Json::String(s)) if s.trim().is_empty() => {}
            Some(value) => {
                state.insert(slot.into(), value.clone());
            }
        }
    }
    if let Some(Json::Object(subtasks)) = delta.get("subtasks") {
        let mut current = state.get("subtasks").and_then(Json::as_object).cloned().unwrap_or_default();
        for (id, status) in subtasks {
            let status = status.as_str().map_or_else(|| status.to_string(), str::to_string);
            current.insert(id.clone(), Json::String(status));
        }
        state.insert("subtasks".into(), Json::Object(current));
    }
    if let Some(note) = delta.get("note").filter(|n| !n.is_null()) {
        let mut notes = state.get("notes").and_then(Json::as_array).cloned().unwrap_or_default();
        notes.push(note.clone());
        state.insert("notes".into(), Json::Array(notes));
    }
    let refs_of = |v: &Json| -> Vec<Json> { v.as_array().cloned().unwrap_or_default() };
    if let Some(replace) = delta.get("tracker_refs_replace").filter(|v| !v.is_null()) {
        let mut seen = Vec::new();
        for r in refs_of(replace) {
            if !seen.contains(&r) {
                seen.push(r);
            }
        }
        state.insert("tracker_refs".into(), Json::Array(seen));
    } else if let Some(add) = delta.get("tracker_refs").filter(|v| !v.is_null()) {
        let mut merged = state.get("tracker_refs").map(refs_of).unwrap_or_default();
        for r in refs_of(add) {
            if !merged.contains(&r) {
                merged.push(r);
            }
        }
        state.insert("tracker_refs".into(), Json::Array(merged));
    }
    if let Some(review) = delta.get("review").filter(|v| !v.is_null()) {
        let release = review.as_object().is_some_and(|o| o.values().all(|v| !truthy(v)));
        state.insert("review".into(), if release { Json::Null } else { review.clone() });
    }
}

/// The reduced snapshot's moving parts (what `status.json` holds besides the mission identity).
#[derive(Debug, Clone, PartialEq)]
pub struct Reduced {
    /// Per-WP state, by WP id.
    pub work_packages: Map<String, Json>,
    /// Count per display lane.
    pub summary: Map<String, Json>,
    /// Number of distinct transitions.
    pub event_count: usize,
    /// The last transition's id.
    pub last_event_id: Option<String>,
    /// The last transition's `at` (`""` with none).
    pub materialized_at: String,
    /// The first transition's `mission_slug`, when it is a safe name.
    pub mission_slug: String,
}

/// Reduces a parsed log (spec-kitty's `reduce`) by the rules of `generation`.
pub fn reduce(log: &EventLog, generation: Generation) -> Reduced {
    let (events, mut states) = match generation {
        Generation::V3 => {
            let mut seen = HashSet::new();
            let mut events: Vec<&Map<String, Json>> =
                log.transitions.iter().filter(|e| seen.insert(text(e, "event_id").to_string())).collect();
            events.sort_by(|a, b| (text(a, "at"), text(a, "event_id")).cmp(&(text(b, "at"), text(b, "event_id"))));
            let states = fold_last_wins(&events);
            (events, states)
        }
        Generation::V4 => {
            let events = continuity::order(continuity::dedup(&log.transitions));
            let mut states = continuity::fold(&events);
            continuity::project_cancellation(&log.transitions, &mut states);
            (events, states)
        }
    };
    let mut annotations: Vec<&Map<String, Json>> = log.annotations.iter().collect();
    annotations.sort_by(|a, b| (text(a, "at"), text(a, "event_id")).cmp(&(text(b, "at"), text(b, "event_id"))));
    for annotation in annotations {
        let wp = text(annotation, "wp_id").to_string();
        let entry = states.entry(wp).or_insert_with(|| {
            json!({
                "lane": "uninitialized",
                "actor": actor_identity(annotation.get("actor")),
                "last_transition_at": null,
                "last_event_id": null,
                "force_count": 0,
            })
        });
        if let (Some(state), Some(delta)) = (entry.as_object_mut(), annotation.get("delta").and_then(Json::as_object)) {
            apply_annotation(state, delta);
        }
    }
    let mut summary: Map<String, Json> = DISPLAY_LANES.iter().map(|l| (l.to_string(), json!(0))).collect();
    for state in states.values() {
        if let Some(count) = state.get("lane").and_then(Json::as_str).and_then(|l| summary.get_mut(l)) {
            *count = json!(count.as_u64().unwrap_or(0) + 1);
        }
    }
    let last = events.last();
    let slug = events.first().map(|e| text(e, "mission_slug")).unwrap_or("");
    let safe = !slug.is_empty()
        && !slug.contains("..")
        && slug.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    Reduced {
        work_packages: states,
        summary,
        event_count: events.len(),
        last_event_id: last.map(|e| text(e, "event_id").to_string()),
        materialized_at: last.map(|e| text(e, "at").to_string()).unwrap_or_default(),
        mission_slug: if safe { slug.to_string() } else { String::new() },
    }
}

/// 3.x's fold: each event applies in `(at, event_id)` order, except at one instant a rollback
/// beats a forward move.
fn fold_last_wins(events: &[&Map<String, Json>]) -> Map<String, Json> {
    let by_id: HashMap<&str, &Map<String, Json>> = events.iter().map(|e| (text(e, "event_id"), *e)).collect();
    let mut states: Map<String, Json> = Map::new();
    for event in events {
        let wp = text(event, "wp_id").to_string();
        let current = states.get(&wp).and_then(Json::as_object);
        if should_apply(current, event, &by_id) {
            let next = state_from_event(event, current, true);
            states.insert(wp, Json::Object(next));
        }
    }
    states
}

fn should_apply(
    current: Option<&Map<String, Json>>,
    event: &Map<String, Json>,
    by_id: &HashMap<&str, &Map<String, Json>>,
) -> bool {
    let Some(current) = current else { return true };
    if current.get("last_transition_at").and_then(Json::as_str) != Some(text(event, "at")) {
        return true;
    }
    let setter = current.get("last_event_id").and_then(Json::as_str).and_then(|id| by_id.get(id));
    if is_rollback(event) && setter.is_some_and(|s| !is_rollback(s)) {
        return true;
    }
    // A forward move never beats a rollback at the same instant.
    !setter.is_some_and(|s| is_rollback(s)) || is_rollback(event)
}

/// The whole `status.json` text for `log`, as `generation`'s `materialize` writes it. Identity
/// fields spec-kitty resolves from its mission metadata (`mission_number`, `mission_type`,
/// aliases, a retrospective) are kept from `previous` (the file as it is); with no previous file
/// they come from `identity`. 4.0 writes a new mission's snapshot at `schema_version` 2 (with each
/// WP's `implementer_of_record`) and replays an existing one at the generation it records.
pub fn status_json(
    log: &EventLog,
    previous: Option<&Map<String, Json>>,
    identity: &Map<String, Json>,
    generation: Generation,
) -> String {
    let mut reduced = reduce(log, generation);
    let mut doc = match previous {
        Some(previous) => previous.clone(),
        None => identity.clone(),
    };
    let schema = match (generation, previous) {
        (Generation::V3, _) => None,
        (Generation::V4, None) => generation.new_snapshot_schema(),
        (Generation::V4, Some(previous)) => previous.get("schema_version").and_then(Json::as_u64),
    };
    if schema.is_some_and(|v| v >= 2) {
        continuity::project_implementer(&log.transitions, &mut reduced.work_packages);
    }
    match schema.filter(|v| *v > 1) {
        Some(version) => doc.insert("schema_version".into(), json!(version)),
        None => doc.remove("schema_version"),
    };
    let slug = if reduced.mission_slug.is_empty() {
        doc.get("mission_slug").cloned().unwrap_or(json!(""))
    } else {
        json!(reduced.mission_slug)
    };
    doc.insert("mission_slug".into(), slug);
    doc.entry("mission_number").or_insert(json!(""));
    doc.entry("mission_type").or_insert(json!(""));
    doc.insert("materialized_at".into(), json!(reduced.materialized_at));
    doc.insert("event_count".into(), json!(reduced.event_count));
    doc.insert("last_event_id".into(), reduced.last_event_id.map_or(Json::Null, Json::String));
    doc.insert("work_packages".into(), Json::Object(reduced.work_packages));
    doc.insert("summary".into(), Json::Object(reduced.summary));
    super::json::pretty_document(&Json::Object(doc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(id: &str, wp: &str, from: &str, to: &str, at: &str) -> String {
        format!(
            r#"{{"actor": "a", "at": "{at}", "event_id": "{id}", "evidence": null, "execution_mode": "worktree", "force": false, "from_lane": "{from}", "mission_slug": "m", "policy_metadata": null, "reason": null, "review_ref": null, "to_lane": "{to}", "wp_id": "{wp}"}}"#
        )
    }

    #[test]
    fn last_event_wins_duplicates_are_dropped_and_mission_lines_skipped() {
        let text = [
            r#"{"event_type": "MissionCreated", "event_id": "X"}"#.to_string(),
            line("02", "WP01", "claimed", "in_progress", "2026-01-01T00:00:01+00:00"),
            line("01", "WP01", "planned", "claimed", "2026-01-01T00:00:00+00:00"),
            line("01", "WP01", "planned", "claimed", "2026-01-01T00:00:00+00:00"),
            r#"{"actor": "u", "at": "2026-01-01T00:00:02+00:00", "delta": {"subtasks": {"T001": "done"}, "agent": "claude"}, "event_id": "03", "kind": "annotation", "wp_id": "WP01"}"#.to_string(),
        ]
        .join("\n");
        let log = EventLog::parse(&text).unwrap();
        let reduced = reduce(&log, Generation::V3);
        assert_eq!(reduced.event_count, 2);
        assert_eq!(reduced.last_event_id.as_deref(), Some("02"));
        let wp = reduced.work_packages["WP01"].as_object().unwrap();
        assert_eq!(wp["lane"], "in_progress");
        assert_eq!(wp["subtasks"]["T001"], "done");
        assert_eq!(wp["agent"], "claude");
        assert_eq!(reduced.summary["in_progress"], 1);
    }

    #[test]
    fn a_rollback_beats_a_forward_move_at_the_same_instant() {
        let at = "2026-01-01T00:00:00+00:00";
        let text =
            [line("01", "WP01", "in_review", "approved", at), line("00", "WP01", "in_review", "in_progress", at)]
                .join("\n");
        // Sorted by id, the rollback (00) comes first; the forward move (01) must not beat it.
        let reduced = reduce(&EventLog::parse(&text).unwrap(), Generation::V3);
        assert_eq!(reduced.work_packages["WP01"]["lane"], "in_progress");
    }

    #[test]
    fn unknown_kinds_and_broken_lines_name_the_line() {
        assert_eq!(EventLog::parse("\n{\"kind\": \"x\"}").unwrap_err().line, 2);
        assert_eq!(EventLog::parse("nope").unwrap_err().line, 1);
    }
}
