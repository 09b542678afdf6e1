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

/// Every note of the notes tree `tree`, by the annotated commit's hex id (flat `<40 hex>` and
/// fanned-out `<2>/<38>` entries alike).
fn entries(
    repo: &Repository,
    tree: &git2::Tree<'_>,
) -> Result<std::collections::BTreeMap<String, Vec<u8>>, git2::Error> {
    let mut notes = std::collections::BTreeMap::new();
    for entry in tree.iter() {
        let Ok(name) = entry.name() else { continue };
        match entry.kind() {
            Some(git2::ObjectType::Blob) => {
                notes.insert(name.to_string(), repo.find_blob(entry.id())?.content().to_vec());
            }
            Some(git2::ObjectType::Tree) => {
                let sub = repo.find_tree(entry.id())?;
                for (rest, content) in entries(repo, &sub)? {
                    notes.insert(format!("{name}{rest}"), content);
                }
            }
            _ => {}
        }
    }
    Ok(notes)
}

/// `ours` with every line of `theirs` it lacks, in order (a note is a set of JSON lines).
fn union(ours: &[u8], theirs: &[u8]) -> Vec<u8> {
    let mut merged = ours.to_vec();
    if !merged.is_empty() && !merged.ends_with(b"\n") {
        merged.push(b'\n');
    }
    for line in theirs.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        if !ours.split(|&b| b == b'\n').any(|l| l == line) {
            merged.extend_from_slice(line);
            merged.push(b'\n');
        }
    }
    merged
}

/// A notes commit holding every record of both `ours` and `theirs` (two notes histories that
/// diverged: two machines annotating commits at once), with both as parents.
fn merged_commit(repo: &Repository, signature: &Signature<'_>, ours: Oid, theirs: Oid) -> Result<Oid, git2::Error> {
    let (ours_commit, theirs_commit) = (repo.find_commit(ours)?, repo.find_commit(theirs)?);
    let mut notes = entries(repo, &ours_commit.tree()?)?;
    for (target, content) in entries(repo, &theirs_commit.tree()?)? {
        let merged = match notes.get(&target) {
            Some(mine) => union(mine, &content),
            None => content,
        };
        notes.insert(target, merged);
    }
    let mut builder = repo.treebuilder(None)?;
    for (target, content) in notes {
        builder.insert(&target, repo.blob(&content)?, 0o100644)?;
    }
    let tree = repo.find_tree(builder.write()?)?;
    repo.commit(
        None,
        signature,
        signature,
        "Notes merged by kitty-orchestrator",
        &tree,
        &[&ours_commit, &theirs_commit],
    )
}

/// Brings the local notes to hold `theirs` too (another machine's notes history, fetched):
/// fast-forwarded when ours has nothing of its own, merged record by record when both moved.
/// Returns the local notes tip after.
pub fn absorb(repo: &Repository, policy: CasPolicy, signature: &Signature<'_>, theirs: Oid) -> Result<Oid, StateError> {
    let git = |what: &str| StateError::git(format!("{what} {NOTES_REF}"));
    let mut backoff = Backoff::new(policy);
    loop {
        let ours = match repo.find_reference(NOTES_REF) {
            Ok(r) => r.target(),
            Err(e) if e.code() == git2::ErrorCode::NotFound => None,
            Err(e) => return Err(git("reading")(e)),
        };
        let next = match ours {
            Some(ours) if ours == theirs || repo.graph_descendant_of(ours, theirs).map_err(git("comparing"))? => {
                return Ok(ours);
            }
            Some(ours) if repo.graph_descendant_of(theirs, ours).map_err(git("comparing"))? => theirs,
            Some(ours) => merged_commit(repo, signature, ours, theirs).map_err(git("merging"))?,
            None => theirs,
        };
        match swap(repo, NOTES_REF, next, ours, "kitty: notes from the shared remote").map_err(git("updating"))? {
            Swap::Done => return Ok(next),
            Swap::Retry => {
                if !backoff.wait(repo.commondir(), NOTES_REF) {
                    return Err(backoff.gave_up(NOTES_REF));
                }
            }
        }
    }
}
