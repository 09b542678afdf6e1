//! spec-kitty lane events and annotations as we write them: its wire keys, its timestamps and
//! event ids derived from ours, so writing the same event twice (after a crash, on resume) is a
//! no-op instead of a duplicate.

use serde_json::{Map, Value as Json, json};

/// A spec-kitty line we want in its log.
#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    /// Its `event_id`.
    pub id: String,
    /// The WP it is about.
    pub wp: String,
    /// The whole JSON object.
    pub json: Map<String, Json>,
}

impl LogLine {
    /// The line as spec-kitty writes it (`json.dumps(sort_keys=True)`), without newline.
    pub fn text(&self) -> String {
        super::json::event_line(&Json::Object(self.json.clone()))
    }
}

/// A lane transition to mirror.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// From this spec-kitty lane.
    pub from: &'static str,
    /// To this one.
    pub to: &'static str,
    /// Who (an agent id, or `kitty-orchestrator`).
    pub actor: String,
    /// Why, when there is a reason to give.
    pub reason: Option<String>,
    /// `{reviewer, verdict, reference}` when leaving review.
    pub review_result: Option<Json>,
    /// Evidence (the `done` record).
    pub evidence: Option<Json>,
    /// Extra context, recorded as spec-kitty's `policy_metadata`.
    pub policy_metadata: Option<Json>,
    /// Recorded without spec-kitty's guards (with actor and reason, as its own migration does
    /// for lanes imported from older files).
    pub force: bool,
}

/// Identity of the mission the lines belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissionIdentity {
    /// `mission_slug`.
    pub slug: String,
    /// `mission_id` (a ULID), when the mission has one.
    pub id: Option<String>,
}

/// A deterministic spec-kitty event id: a 26-character ULID whose time part is the moment of our
/// event and whose other 80 bits come from the SHA-1 of `seed` — the same seed always gives
/// the same id.
pub fn derived_id(millis: u64, seed: &str) -> String {
    let digest = git2::Oid::hash_object(git2::ObjectType::Blob, seed.as_bytes())
        .map(|oid| oid.as_bytes().to_vec())
        .unwrap_or_else(|_| seed.bytes().cycle().take(20).collect());
    let mut random: u128 = 0;
    for byte in &digest[..10] {
        random = (random << 8) | u128::from(*byte);
    }
    ulid::Ulid::from_parts(millis & ((1 << 48) - 1), random).to_string()
}

/// `datetime.isoformat()` of a UTC instant, as spec-kitty writes `at`:
/// `2026-12-01T18:37:12.454224+00:00`, the fraction left out when it is zero.
pub fn python_isoformat(micros: i64) -> String {
    let ts = jiff::Timestamp::from_microsecond(micros).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let dt = ts.to_zoned(jiff::tz::TimeZone::UTC).datetime();
    let base = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    );
    let fraction = micros.rem_euclid(1_000_000);
    if fraction == 0 { format!("{base}+00:00") } else { format!("{base}.{fraction:06}+00:00") }
}

/// A lane event line.
pub fn lane_line(mission: &MissionIdentity, wp: &str, id: String, at: &str, t: &Transition) -> LogLine {
    let mut json = Map::new();
    json.insert("actor".into(), json!(t.actor));
    json.insert("at".into(), json!(at));
    json.insert("event_id".into(), json!(id));
    json.insert("evidence".into(), t.evidence.clone().unwrap_or(Json::Null));
    json.insert("execution_mode".into(), json!("worktree"));
    json.insert("force".into(), json!(t.force));
    json.insert("from_lane".into(), json!(t.from));
    if let Some(mission_id) = &mission.id {
        json.insert("mission_id".into(), json!(mission_id));
    }
    json.insert("mission_slug".into(), json!(mission.slug));
    json.insert("policy_metadata".into(), t.policy_metadata.clone().unwrap_or(Json::Null));
    json.insert("reason".into(), t.reason.clone().map_or(Json::Null, Json::String));
    json.insert("review_ref".into(), Json::Null);
    if let Some(result) = &t.review_result {
        json.insert("review_result".into(), result.clone());
    }
    json.insert("to_lane".into(), json!(t.to));
    json.insert("wp_id".into(), json!(wp));
    LogLine { id, wp: wp.to_string(), json }
}

/// An annotation line (no lane change): subtask statuses, the agent, a note.
pub fn annotation_line(wp: &str, id: String, at: &str, actor: &str, delta: Map<String, Json>) -> LogLine {
    let mut json = Map::new();
    json.insert("actor".into(), json!(actor));
    json.insert("at".into(), json!(at));
    json.insert("delta".into(), Json::Object(delta));
    json.insert("event_id".into(), json!(id));
    json.insert("kind".into(), json!("annotation"));
    json.insert("wp_id".into(), json!(wp));
    LogLine { id, wp: wp.to_string(), json }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_ulids_and_stable() {
        let a = derived_id(1_764_633_432_454, "01ABC/0");
        assert_eq!(a.len(), 26);
        assert_eq!(a, derived_id(1_764_633_432_454, "01ABC/0"));
        assert_ne!(a, derived_id(1_764_633_432_454, "01ABC/1"));
        assert!(a.parse::<ulid::Ulid>().is_ok());
    }

    #[test]
    fn isoformat_is_pythons() {
        assert_eq!(python_isoformat(1_764_614_232_454_224), "2025-12-01T18:37:12.454224+00:00");
        assert_eq!(python_isoformat(1_764_614_232_000_000), "2025-12-01T18:37:12+00:00");
        assert_eq!(python_isoformat(1_764_614_232_000_001), "2025-12-01T18:37:12.000001+00:00");
    }
}
