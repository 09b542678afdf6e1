//! Lanes from the newer spec-kitty layout: `status.events.jsonl` (an append-only event log) with
//! `status.json` (a materialized snapshot) as fallback.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value as Json;

use super::problem::{Problem, ProblemKind};
use crate::lane::Lane;

/// Lanes by WP id text, as recorded by the status files. Empty when the feature has none.
#[derive(Debug, Default)]
pub(crate) struct StatusLanes {
    /// From the last `to_lane` event per WP in `status.events.jsonl`.
    pub from_events: BTreeMap<String, Lane>,
    /// From `status.json` → `work_packages.<WP>.lane`.
    pub from_snapshot: BTreeMap<String, Lane>,
    /// Whether either file exists (the feature uses the event-log layout).
    pub present: bool,
}

impl StatusLanes {
    /// The recorded lane of a WP: the event log wins, the snapshot is the fallback.
    pub fn lane_of(&self, id: &str) -> Option<Lane> {
        self.from_events.get(id).or_else(|| self.from_snapshot.get(id)).copied()
    }
}

/// Reads both status files of `dir`, adding any problem to `problems`.
pub(crate) fn read(dir: &Path, problems: &mut Vec<Problem>) -> StatusLanes {
    let mut lanes = StatusLanes::default();
    let events_path = dir.join("status.events.jsonl");
    if let Some(text) = super::text::read_text(&events_path, problems) {
        lanes.present = true;
        read_events(&text, &events_path, &mut lanes.from_events, problems);
    }
    let snapshot_path = dir.join("status.json");
    if let Some(text) = super::text::read_text(&snapshot_path, problems) {
        lanes.present = true;
        read_snapshot(&text, &snapshot_path, &mut lanes.from_snapshot, problems);
    }
    lanes
}

fn read_events(text: &str, path: &Path, out: &mut BTreeMap<String, Lane>, problems: &mut Vec<Problem>) {
    for (index, line) in text.lines().enumerate() {
        let line_no = index + 1;
        if line.trim().is_empty() {
            continue;
        }
        let event: Json = match serde_json::from_str(line) {
            Ok(event) => event,
            Err(err) => {
                problems.push(Problem::at_line(
                    ProblemKind::BadStatusFile,
                    path,
                    Some(line_no),
                    Some(err.column()),
                    format!("not a JSON event line: {}", super::text::json_reason(&err)),
                ));
                continue;
            }
        };
        // Lines without `to_lane` are other event kinds (annotations, subtask deltas): skip them.
        let Some(to_lane) = event.get("to_lane") else { continue };
        let Some(wp) = event.get("wp_id").and_then(Json::as_str) else {
            problems.push(Problem::at_line(
                ProblemKind::BadStatusFile,
                path,
                Some(line_no),
                None,
                "lane event has `to_lane` but no string `wp_id`",
            ));
            continue;
        };
        match to_lane.as_str().map(|s| s.parse::<Lane>()) {
            Some(Ok(lane)) => {
                out.insert(wp.to_string(), lane);
            }
            Some(Err(why)) => {
                problems.push(Problem::at_line(ProblemKind::BadLane, path, Some(line_no), None, format!("{wp}: {why}")))
            }
            None => problems.push(Problem::at_line(
                ProblemKind::BadStatusFile,
                path,
                Some(line_no),
                None,
                format!("{wp}: `to_lane` is not a string"),
            )),
        }
    }
}

fn read_snapshot(text: &str, path: &Path, out: &mut BTreeMap<String, Lane>, problems: &mut Vec<Problem>) {
    let snapshot: Json = match serde_json::from_str(text) {
        Ok(json) => json,
        Err(err) => {
            problems.push(Problem::at_line(
                ProblemKind::BadStatusFile,
                path,
                Some(err.line()),
                Some(err.column()),
                format!("invalid JSON: {}", super::text::json_reason(&err)),
            ));
            return;
        }
    };
    let Some(wps) = snapshot.get("work_packages").and_then(Json::as_object) else { return };
    for (wp, entry) in wps {
        let Some(lane) = entry.get("lane").and_then(Json::as_str) else { continue };
        match lane.parse::<Lane>() {
            Ok(lane) => {
                out.insert(wp.clone(), lane);
            }
            Err(why) => {
                problems.push(Problem::at(ProblemKind::BadLane, path, format!("work_packages.{wp}.lane: {why}")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn last_to_lane_wins_and_other_events_are_skipped() {
        let log = concat!(
            "{\"wp_id\":\"WP01\",\"from_lane\":\"planned\",\"to_lane\":\"in_progress\"}\n",
            "{\"wp_id\":\"WP01\",\"kind\":\"annotation\",\"delta\":{}}\n",
            "\n",
            "{\"wp_id\":\"WP01\",\"from_lane\":\"in_progress\",\"to_lane\":\"in_review\"}\n",
        );
        let mut out = BTreeMap::new();
        let mut problems = Vec::new();
        read_events(log, &PathBuf::from("status.events.jsonl"), &mut out, &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(out["WP01"], Lane::ForReview);
    }

    #[test]
    fn bad_event_lines_name_the_line() {
        let mut out = BTreeMap::new();
        let mut problems = Vec::new();
        read_events("{}\nnot json\n", &PathBuf::from("s.jsonl"), &mut out, &mut problems);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].line, Some(2));
    }
}
