//! Reading event commits back: `state.json` from the tip's tree, checked against the trailers.

use git2::{ObjectType, Oid, Repository};
use serde::de::DeserializeOwned;

use super::error::StateError;
use super::message::trailers;
use super::model::{RunState, STATE_FORMAT, WpState};
use super::odb::Packs;

/// Where an operation reads event objects from: libgit2's object database, and first, when
/// given, the mapped packs (see `packs`: a board's fast path).
#[derive(Clone, Copy)]
pub struct Reader<'a> {
    repo: &'a Repository,
    packs: Option<&'a Packs>,
}

impl<'a> Reader<'a> {
    /// Everything through libgit2.
    pub fn plain(repo: &'a Repository) -> Reader<'a> {
        Reader { repo, packs: None }
    }

    /// Objects stored whole in `packs` from there, the rest through libgit2.
    pub fn with_packs(repo: &'a Repository, packs: &'a Packs) -> Reader<'a> {
        Reader { repo, packs: Some(packs) }
    }
}

/// An object's bytes: borrowed from a mapped pack, or as libgit2 read them.
enum Data<'a> {
    Mapped(&'a [u8]),
    Read(git2::OdbObject<'a>),
}

impl Data<'_> {
    fn bytes(&self) -> &[u8] {
        match self {
            Data::Mapped(bytes) => bytes,
            Data::Read(object) => object.data(),
        }
    }
}

/// Reads one object, from the packs when they hold it whole.
fn object<'a>(reader: Reader<'a>, odb: &'a git2::Odb<'a>, oid: Oid) -> Result<(ObjectType, Data<'a>), git2::Error> {
    if let Some((kind, bytes)) = reader.packs.and_then(|packs| packs.stored(&oid)) {
        return Ok((kind, Data::Mapped(bytes)));
    }
    let object = odb.read(oid)?;
    Ok((object.kind(), Data::Read(object)))
}

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
    reader: Reader<'_>,
    reference: &str,
    oid: Oid,
    check: impl FnOnce(&T, &str) -> Result<(), StateError>,
) -> Result<T, StateError> {
    let corrupt = |why: String| StateError::Corrupt { reference: reference.to_string(), why };
    let odb = reader.repo.odb().map_err(StateError::git(format!("reading {reference}")))?;
    let (kind, commit) = object(reader, &odb, oid).map_err(StateError::git(format!("reading {reference}")))?;
    if kind != ObjectType::Commit {
        let kind = kind.str();
        return Err(corrupt(format!("points at a {kind} ({oid}), not an event commit")));
    }
    let (tree, message) =
        commit_parts(commit.bytes()).ok_or_else(|| corrupt(format!("commit {oid} is not a well-formed commit")))?;
    let (kind, tree) = object(reader, &odb, tree).map_err(StateError::git(format!("reading the tree of {oid}")))?;
    let entry = (kind == ObjectType::Tree).then(|| tree_entry(tree.bytes(), STATE_FILE.as_bytes())).flatten();
    let (mode, blob) = entry.ok_or_else(|| corrupt(format!("commit {oid} has no {STATE_FILE}")))?;
    let blob = (mode & 0o170000 == 0o100000)
        .then(|| object(reader, &odb, blob).ok())
        .flatten()
        .filter(|(kind, _)| *kind == ObjectType::Blob)
        .map(|(_, blob)| blob)
        .ok_or_else(|| corrupt(format!("{STATE_FILE} in commit {oid} is not a file")))?;
    let blob = blob.bytes();
    // One pass straight into the state type; only a snapshot that does not parse is looked at
    // again, to say why (a newer format is the usual reason, and deserves its own message).
    let state = match serde_json::from_slice::<T>(blob) {
        Ok(state) => state,
        Err(err) => return Err(corrupt(why_unreadable(blob, oid, &err))),
    };
    match state.format() {
        v if v == STATE_FORMAT => {}
        v => {
            return Err(corrupt(format!(
                "{STATE_FILE} in commit {oid} has format version {v}; this build reads version {STATE_FORMAT} (upgrade kitty-orchestrator)"
            )));
        }
    }
    // Trailers are checked on the message as stored (a copy only if it is not UTF-8).
    check(&state, &String::from_utf8_lossy(message))?;
    Ok(state)
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

/// A value a trailer must have.
pub enum Expected<'a> {
    /// Exactly this text.
    Text(&'a str),
    /// This number, written as Rust writes it (no sign, no leading zeros).
    Number(u64),
}

impl Expected<'_> {
    fn matches(&self, found: &str) -> bool {
        match self {
            Expected::Text(text) => found == *text,
            Expected::Number(n) => {
                let canonical = found == "0" || !found.starts_with(['0', '+']);
                canonical && found.parse::<u64>().ok() == Some(*n)
            }
        }
    }
}

impl std::fmt::Display for Expected<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Expected::Text(text) => f.write_str(text),
            Expected::Number(n) => write!(f, "{n}"),
        }
    }
}

/// Checks that the trailers restate `expected` (key, value) pairs; a mismatch means someone
/// edited one without the other.
pub fn check_trailers(
    reference: &str,
    oid: Oid,
    message: &str,
    expected: &[(&str, Expected<'_>)],
) -> Result<(), StateError> {
    let mut found_values: [Option<&str>; 4] = [None; 4];
    assert!(expected.len() <= found_values.len(), "at most four trailers are checked");
    for (key, value) in trailers(message) {
        // The last occurrence of a key counts.
        if let Some(i) = expected.iter().position(|(k, _)| *k == key) {
            found_values[i] = Some(value);
        }
    }
    for ((key, value), found) in expected.iter().zip(found_values) {
        if !found.is_some_and(|found| value.matches(found)) {
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
    reader: Reader<'_>,
    reference: &str,
    oid: Oid,
    feature: &str,
    wp: &str,
) -> Result<WpState, StateError> {
    snapshot(reader, reference, oid, |state: &WpState, message| {
        if state.feature != feature || state.wp != wp {
            return Err(StateError::Corrupt {
                reference: reference.to_string(),
                why: format!("commit {oid} holds the state of {}/{}", state.feature, state.wp),
            });
        }
        check_trailers(
            reference,
            oid,
            message,
            &[
                ("Kitty-WP", Expected::Text(&state.wp)),
                ("Kitty-Lane", Expected::Text(state.lane.as_str())),
                ("Kitty-Seq", Expected::Number(state.seq)),
                ("Kitty-Event-Id", Expected::Text(&state.event_id)),
            ],
        )
    })
}

/// A run snapshot, verified against its trailers.
pub fn run_snapshot(reader: Reader<'_>, reference: &str, oid: Oid) -> Result<RunState, StateError> {
    snapshot(reader, reference, oid, |state: &RunState, message| {
        check_trailers(
            reference,
            oid,
            message,
            &[("Kitty-Run-Status", Expected::Text(state.status.as_str())), ("Kitty-Seq", Expected::Number(state.seq))],
        )
    })
}
