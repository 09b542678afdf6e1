//! Our reducer and writer against files the real spec-kitty 3.2.7 wrote (recorded in
//! `tests/fixtures/spec-kitty-3.2.7/`): the same log must give byte-identical `status.json`, and
//! our lines must survive spec-kitty's own reader.

use std::path::PathBuf;

use kitty_orchestrator::spec_kitty::Generation;
use kitty_orchestrator::spec_kitty::reduce::{EventLog, status_json};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/spec-kitty-3.2.7").join(name)
}

#[test]
fn status_json_is_byte_identical_to_spec_kittys() {
    let dir = fixture("coord-log");
    let events = std::fs::read_to_string(dir.join("status.events.jsonl")).unwrap();
    let expected = std::fs::read_to_string(dir.join("status.json")).unwrap();
    let log = EventLog::parse(&events).unwrap();
    // With the previous file (identity kept) and without it (identity from nothing).
    let previous: serde_json::Value = serde_json::from_str(&expected).unwrap();
    assert_eq!(status_json(&log, previous.as_object(), &serde_json::Map::new(), Generation::V3), expected);
    assert_eq!(status_json(&log, None, &serde_json::Map::new(), Generation::V3), expected);
}

#[test]
fn every_line_spec_kitty_wrote_reserializes_to_itself() {
    let events = std::fs::read_to_string(fixture("coord-log").join("status.events.jsonl")).unwrap();
    for line in events.lines() {
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(kitty_orchestrator::spec_kitty::json::event_line(&value), line);
    }
}
