//! Reading event commits back: `state.json` from the tip's tree, checked against the trailers.

use git2::{ObjectType, Oid, Repository};
use serde::de::DeserializeOwned;

use super::error::StateError;
use super::message::trailers;
use super::model::{RunState, STATE_FORMAT, WpState};

/// The file in every event commit's tree.
pub const STATE_FILE: &str = "state.json";

/// The tree id and message of a raw commit object (`tree <hex>` first, headers, a blank line,
/// the message), or `None` when it is not shaped like one.
fn commit_parts(data: &[u8]) -> Option<(Oid, &[u8])> {
    let hex = data.strip_prefix(b"tree ")?.get(..40)?;
    let tree = Oid::from_str(std::str::from_utf8(hex).ok()?).ok()?;
    let body = data.windows(2).position(|w| w == b"\n\n").map_or(&data[data.len()..], |i| &data[i + 2..]);
    Some((tree, body))
}

/// The mode and id of entry `name` in a raw tree object (entries are `<mode> <name>\0<20-byte id>`).
fn tree_entry(mut data: &[u8], name: &[u8]) -> Option<(u32, Oid)> {
    while !data.is_empty() {
        let space = data.iter().position(|b| *b == b' ')?;
        let nul = space + data[space..].iter().position(|b| *b == 0)?;
        let id = data.get(nul + 1..nul + 21)?;
        if &data[space + 1..nul] == name {
            let mode = u32::from_str_radix(std::str::from_utf8(&data[..space]).ok()?, 8).ok()?;
            return Some((mode, Oid::from_bytes(id).ok()?));
        }
        data = &data[nul + 21..];
    }
    None
}

/// Reads and parses `state.json` of commit `oid` (reached through `reference`, for errors).
///
/// Objects are read raw from the object database, as `git for-each-ref` does: libgit2's parsed
/// object cache costs more than the parse of the two lines needed here.
pub fn snapshot<T: DeserializeOwned + Versioned>(
    repo: &Repository,
    reference: &str,
    oid: Oid,
) -> Result<(T, String), StateError> {
    let corrupt = |why: String| StateError::Corrupt { reference: reference.to_string(), why };
    let odb = repo.odb().map_err(StateError::git(format!("reading {reference}")))?;
    let commit = odb.read(oid).map_err(StateError::git(format!("reading {reference}")))?;
    if commit.kind() != ObjectType::Commit {
        let kind = commit.kind().str();
        return Err(corrupt(format!("points at a {kind} ({oid}), not an event commit")));
    }
    let (tree, message) =
        commit_parts(commit.data()).ok_or_else(|| corrupt(format!("commit {oid} is not a well-formed commit")))?;
    let tree = odb.read(tree).map_err(StateError::git(format!("reading the tree of {oid}")))?;
    let entry = (tree.kind() == ObjectType::Tree).then(|| tree_entry(tree.data(), STATE_FILE.as_bytes())).flatten();
    let (mode, blob) = entry.ok_or_else(|| corrupt(format!("commit {oid} has no {STATE_FILE}")))?;
    let blob = (mode & 0o170000 == 0o100000)
        .then(|| odb.read(blob).ok())
        .flatten()
        .filter(|b| b.kind() == ObjectType::Blob)
        .ok_or_else(|| corrupt(format!("{STATE_FILE} in commit {oid} is not a file")))?;
    let message = String::from_utf8_lossy(message).into_owned();
    // One pass straight into the state type; only a snapshot that does not parse is looked at
    // again, to say why (a newer format is the usual reason, and deserves its own message).
    let state = match serde_json::from_slice::<T>(blob.data()) {
        Ok(state) => state,
        Err(err) => return Err(corrupt(why_unreadable(blob.data(), oid, &err))),
    };
    match state.format() {
        v if v == STATE_FORMAT => {}
        v => {
            return Err(corrupt(format!(
                "{STATE_FILE} in commit {oid} has format version {v}; this build reads version {STATE_FORMAT} (upgrade kitty-orchestrator)"
            )));
        }
    }
    Ok((state, message))
}

/// A snapshot type that says which format version it was read as.
pub trait Versioned {
    /// The `format` field.
    fn format(&self) -> u32;
}

impl Versioned for WpState {
    fn format(&self) -> u32 {
        self.format
    }
}

impl Versioned for RunState {
    fn format(&self) -> u32 {
        self.format
    }
}

/// Why a `state.json` could not be read as this build's state: not JSON, another format
/// version, no version, or fields that do not match.
fn why_unreadable(content: &[u8], oid: Oid, err: &serde_json::Error) -> String {
    let value: serde_json::Value = match serde_json::from_slice(content) {
        Ok(value) => value,
        Err(err) => return format!("{STATE_FILE} in commit {oid} is not JSON: {err}"),
    };
    match value.get("format").and_then(serde_json::Value::as_u64) {
        Some(v) if v == u64::from(STATE_FORMAT) => {
            format!("{STATE_FILE} in commit {oid} does not match the state format: {err}")
        }
        Some(v) => format!(
            "{STATE_FILE} in commit {oid} has format version {v}; this build reads version {STATE_FORMAT} (upgrade kitty-orchestrator)"
        ),
        None => format!("{STATE_FILE} in commit {oid} has no format version"),
    }
}

/// Checks that the trailers restate `expected` (key, value) pairs; a mismatch means someone
/// edited one without the other.
pub fn check_trailers(reference: &str, oid: Oid, message: &str, expected: &[(&str, String)]) -> Result<(), StateError> {
    let mut found_values: Vec<Option<&str>> = vec![None; expected.len()];
    for (key, value) in trailers(message) {
        // The last occurrence of a key counts.
        if let Some(i) = expected.iter().position(|(k, _)| *k == key) {
            found_values[i] = Some(value);
        }
    }
    for ((key, value), found) in expected.iter().zip(found_values) {
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
