//! What one lane transition does to a WP's snapshot state — the part of spec-kitty's reducer
//! that 3.x and 4.0 share (`_wp_state_from_event`), with the small readers both folds use.

use serde_json::{Map, Value as Json, json};

/// Snapshot slots a transition carries forward untouched.
const RUNTIME_SLOTS: [&str; 13] = [
    "shell_pid",
    "shell_pid_created_at",
    "subtasks",
    "notes",
    "tracker_refs",
    "agent",
    "assignee",
    "review",
    "role",
    "agent_profile",
    "agent_profile_version",
    "model",
    "provider",
];

/// `obj[key]` as text (`""` when absent or not a string).
pub(super) fn text<'a>(obj: &'a Map<String, Json>, key: &str) -> &'a str {
    obj.get(key).and_then(Json::as_str).unwrap_or("")
}

/// `doing` is spec-kitty's alias of `in_progress`.
pub(super) fn lane_name(name: &str) -> &str {
    if name == "doing" { "in_progress" } else { name }
}

/// The snapshot's display identity of an actor: a string as is, a structured actor's `tool`, else
/// its `role`, else `""`.
pub(super) fn actor_identity(actor: Option<&Json>) -> Json {
    match actor {
        Some(Json::Object(map)) => {
            let pick = |k: &str| map.get(k).and_then(Json::as_str).filter(|s| !s.is_empty());
            Json::String(pick("tool").or_else(|| pick("role")).unwrap_or("").to_string())
        }
        Some(other) => other.clone(),
        None => Json::Null,
    }
}

pub(super) fn cancellation_source(event: &Map<String, Json>) -> Json {
    if let Some(source) = event.get("reason_source").filter(|s| !s.is_null()) {
        return source.clone();
    }
    let reason = event.get("reason").and_then(Json::as_str).unwrap_or("");
    if reason.trim().is_empty() || reason.starts_with("Force move to ") || reason.starts_with("move-task: ") {
        json!("synthetic")
    } else {
        json!("operator")
    }
}

/// The state one applied transition leaves a WP in. With `cancellation_inline` (3.x) a cancel
/// writes its reason here; 4.0 projects it after the fold (`continuity::project_cancellation`).
pub(super) fn state_from_event(
    event: &Map<String, Json>,
    previous: Option<&Map<String, Json>>,
    cancellation_inline: bool,
) -> Map<String, Json> {
    let prior_force = previous.and_then(|p| p.get("force_count")).and_then(Json::as_i64).unwrap_or(0);
    let forced = event.get("force").and_then(Json::as_bool).unwrap_or(false);
    let mut state = Map::new();
    state.insert("lane".into(), json!(lane_name(text(event, "to_lane"))));
    state.insert("actor".into(), actor_identity(event.get("actor")));
    state.insert("last_transition_at".into(), event["at"].clone());
    state.insert("last_event_id".into(), event["event_id"].clone());
    state.insert("force_count".into(), json!(prior_force + i64::from(forced)));
    if let Some(previous) = previous {
        for slot in RUNTIME_SLOTS {
            if let Some(value) = previous.get(slot) {
                state.insert(slot.into(), value.clone());
            }
        }
    }
    let (from, to) = (lane_name(text(event, "from_lane")), lane_name(text(event, "to_lane")));
    if from == "planned" && to == "claimed" {
        let meta = event.get("policy_metadata").and_then(Json::as_object);
        for slot in ["shell_pid", "shell_pid_created_at"] {
            if let Some(value) = meta.and_then(|m| m.get(slot)).filter(|v| !v.is_null()) {
                state.insert(slot.into(), value.clone());
            }
        }
        if let Some(agent) = meta.and_then(|m| m.get("agent")).filter(|a| truthy(a)) {
            state.insert("agent".into(), agent.clone());
        }
    }
    let review = event.get("review_result").filter(|r| !r.is_null());
    if review.is_some() || from == "in_review" {
        state.insert("review_result".into(), review.cloned().unwrap_or(Json::Null));
    } else if let Some(kept) = previous.and_then(|p| p.get("review_result")) {
        state.insert("review_result".into(), kept.clone());
    }
    if cancellation_inline && to == "canceled" {
        state.insert("cancellation_reason".into(), event.get("reason").cloned().unwrap_or(Json::Null));
        state.insert("reason_source".into(), cancellation_source(event));
    }
    state
}

pub(super) fn truthy(value: &Json) -> bool {
    match value {
        Json::Null => false,
        Json::Bool(b) => *b,
        Json::Number(n) => n.as_f64() != Some(0.0),
        Json::String(s) => !s.is_empty(),
        Json::Array(a) => !a.is_empty(),
        Json::Object(o) => !o.is_empty(),
    }
}
