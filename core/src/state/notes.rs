//! Provenance notes on code commits (`refs/notes/kitty`): one JSON line per record, written with
//! our own CAS on the notes ref. libgit2's `git_note_create` rewrites the notes ref without
//! checking its old value and loses concurrent notes.

use git2::{Oid, Repository, Signature};

use super::cas::{Backoff, CasPolicy, Swap, swap};
use super::error::StateError;

/// The notes ref (`git log --notes=kitty` shows it).
pub const NOTES_REF: &str = "refs/notes/kitty";

/// Appends `line` (one JSON object) to the note of `target`. A line already present is not added
/// again, so a retried write is harmless.
pub fn append(
    repo: &Repository,
    policy: CasPolicy,
    signature: &Signature<'_>,
    target: Oid,
    line: &str,
) -> Result<(), StateError> {
    let git = |what: &str| StateError::git(format!("{what} {NOTES_REF} for {target}"));
    let hex = target.to_string();
    let mut backoff = Backoff::new(policy);
    loop {
        let tip = match repo.find_reference(NOTES_REF) {
            Ok(r) => Some(r.peel_to_commit().map_err(git("reading"))?),
            Err(e) if e.code() == git2::ErrorCode::NotFound => None,
            Err(e) => return Err(git("reading")(e)),
        };
        let root = tip.as_ref().map(|c| c.tree()).transpose().map_err(git("reading"))?;
        // Notes may be flat (`<40 hex>`) or fanned out (`<2>/<38>`) when git wrote them.
        let fanout =
            root.as_ref().and_then(|t| t.get_name(&hex[..2])).filter(|e| e.kind() == Some(git2::ObjectType::Tree));
        let existing = match (&root, &fanout) {
            (_, Some(dir)) => {
                let sub = repo.find_tree(dir.id()).map_err(git("reading"))?;
                sub.get_name(&hex[2..]).map(|e| e.id())
            }
            (Some(t), None) => t.get_name(&hex).map(|e| e.id()),
            (None, None) => None,
        };
        let mut content = match existing {
            Some(id) => repo.find_blob(id).map_err(git("reading"))?.content().to_vec(),
            None => Vec::new(),
        };
        if content.split(|&b| b == b'\n').any(|l| l == line.as_bytes()) {
            return Ok(());
        }
        if !content.is_empty() && !content.ends_with(b"\n") {
            content.push(b'\n');
        }
        content.extend_from_slice(line.as_bytes());
        content.push(b'\n');
        let blob = repo.blob(&content).map_err(git("writing"))?;
        let mut builder = repo.treebuilder(root.as_ref()).map_err(git("writing"))?;
        match &fanout {
            Some(dir) => {
                let sub = repo.find_tree(dir.id()).map_err(git("reading"))?;
                let mut sub_builder = repo.treebuilder(Some(&sub)).map_err(git("writing"))?;
                sub_builder.insert(&hex[2..], blob, 0o100644).map_err(git("writing"))?;
                let sub_id = sub_builder.write().map_err(git("writing"))?;
                builder.insert(&hex[..2], sub_id, 0o040000).map_err(git("writing"))?;
            }
            None => {
                builder.insert(&hex, blob, 0o100644).map_err(git("writing"))?;
            }
        }
        let tree = repo.find_tree(builder.write().map_err(git("writing"))?).map_err(git("writing"))?;
        let parents: Vec<&git2::Commit<'_>> = tip.iter().collect();
        let commit = repo
            .commit(None, signature, signature, "Notes added by kitty-orchestrator", &tree, &parents)
            .map_err(git("writing"))?;
        match swap(repo, NOTES_REF, commit, tip.as_ref().map(|c| c.id()), "kitty: note").map_err(git("updating"))? {
            Swap::Done => return Ok(()),
            Swap::Retry => {
                if !backoff.wait(repo.commondir(), NOTES_REF) {
                    return Err(backoff.gave_up(NOTES_REF));
                }
            }
        }
    }
}

/// The JSON lines of `target`'s note (empty when it has none).
pub fn read(repo: &Repository, target: Oid) -> Result<Vec<serde_json::Value>, StateError> {
    match repo.find_note(Some(NOTES_REF), target) {
        Ok(note) => Ok(note
            .message()
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|_| serde_json::Value::String(l.to_string())))
            .collect()),
        Err(e) if e.code() == git2::ErrorCode::NotFound => Ok(Vec::new()),
        Err(e) => Err(StateError::git(format!("reading the note of {target}"))(e)),
    }
}
