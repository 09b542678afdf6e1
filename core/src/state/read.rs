//! Reading event commits back: `state.json` from the tip's tree, checked against the trailers.

use git2::{ObjectType, Oid, Repository};
use serde::de::DeserializeOwned;

use super::error::StateError;
use super::message::parse_trailers;
use super::model::{RunState, STATE_FORMAT, WpState};

/// The file in every event commit's tree.
pub const STATE_FILE: &str = "state.json";

/// Reads and parses `state.json` of commit `oid` (reached through `reference`, for errors).
pub fn snapshot<T: DeserializeOwned>(repo: &Repository, reference: &str, oid: Oid) -> Result<(T, String), StateError> {
    let corrupt = |why: String| StateError::Corrupt { reference: reference.to_string(), why };
    let object = repo.find_object(oid, None).map_err(StateError::git(format!("reading {reference}")))?;
    let commit = match object.kind() {
        Some(ObjectType::Commit) => object.peel_to_commit().map_err(StateError::git(format!("reading {reference}")))?,
        other => {
            let kind = other.map_or("unknown object", |k| k.str());
            return Err(corrupt(format!("points at a {kind} ({oid}), not an event commit")));
        }
    };
    let tree = commit.tree().map_err(StateError::git(format!("reading the tree of {oid}")))?;
    let entry = tree.get_name(STATE_FILE).ok_or_else(|| corrupt(format!("commit {oid} has no {STATE_FILE}")))?;
    let blob = entry
        .to_object(repo)
        .ok()
        .and_then(|o| o.into_blob().ok())
        .ok_or_else(|| corrupt(format!("{STATE_FILE} in commit {oid} is not a file")))?;
    let value: serde_json::Value = serde_json::from_slice(blob.content())
        .map_err(|err| corrupt(format!("{STATE_FILE} in commit {oid} is not JSON: {err}")))?;
    match value.get("format").and_then(serde_json::Value::as_u64) {
        Some(v) if v == u64::from(STATE_FORMAT) => {}
        Some(v) => {
            return Err(corrupt(format!(
                "{STATE_FILE} in commit {oid} has format version {v}; this build reads version {STATE_FORMAT} (upgrade kitty-orchestrator)"
            )));
        }
        None => return Err(corrupt(format!("{STATE_FILE} in commit {oid} has no format version"))),
    }
    let state = serde_json::from_value(value)
        .map_err(|err| corrupt(format!("{STATE_FILE} in commit {oid} does not match the state format: {err}")))?;
    let message = commit.message().unwrap_or_default().to_string();
    Ok((state, message))
}

/// Checks that the trailers restate `expected` (key, value) pairs; a mismatch means someone
/// edited one without the other.
pub fn check_trailers(reference: &str, oid: Oid, message: &str, expected: &[(&str, String)]) -> Result<(), StateError> {
    let trailers = parse_trailers(message);
    for (key, value) in expected {
        let found = trailers.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
        if found != Some(value.as_str()) {
            return Err(StateError::Corrupt {
                reference: reference.to_string(),
                why: format!(
                    "commit {oid}: trailer {key} is {} but state.json says {value}",
                    found.map_or("missing".to_string(), |f| format!("`{f}`"))
                ),
            });
        }
    }
    Ok(())
}

/// A WP snapshot, verified against its ref name and trailers.
pub fn wp_snapshot(
    repo: &Repository,
    reference: &str,
    oid: Oid,
    feature: &str,
    wp: &str,
) -> Result<WpState, StateError> {
    let (state, message): (WpState, String) = snapshot(repo, reference, oid)?;
    if state.feature != feature || state.wp != wp {
        return Err(StateError::Corrupt {
            reference: reference.to_string(),
            why: format!("commit {oid} holds the state of {}/{}", state.feature, state.wp),
        });
    }
    check_trailers(
        reference,
        oid,
        &message,
        &[
            ("Kitty-WP", state.wp.clone()),
            ("Kitty-Lane", state.lane.to_string()),
            ("Kitty-Seq", state.seq.to_string()),
            ("Kitty-Event-Id", state.event_id.clone()),
        ],
    )?;
    Ok(state)
}

/// A run snapshot, verified against its trailers.
pub fn run_snapshot(repo: &Repository, reference: &str, oid: Oid) -> Result<RunState, StateError> {
    let (state, message): (RunState, String) = snapshot(repo, reference, oid)?;
    check_trailers(
        reference,
        oid,
        &message,
        &[("Kitty-Run-Status", state.status.as_str().to_string()), ("Kitty-Seq", state.seq.to_string())],
    )?;
    Ok(state)
}
