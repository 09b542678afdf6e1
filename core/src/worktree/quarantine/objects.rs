//! Moving an attempt's new objects into the repository's store, checking each: git's own
//! quarantine (`receive-pack`) does the same for a push. The agent wrote these files, so nothing
//! is taken on trust: symlinks and special files are removed unread, every object is read whole
//! (within a size cap), its id recomputed from its bytes and compared with the name it was stored
//! under, and only then written — by us, into files we create — into the real store. Few objects
//! go in loose (as git unpacks a small push), many as one pack.

use std::collections::HashSet;
use std::path::Path;

use git2::{ObjectType, Odb, Oid};
use sha1::Digest;

/// The largest object migrated (git's own `core.bigFileThreshold` default is 512 MiB).
pub const MAX_OBJECT_BYTES: usize = 1 << 30;

/// From this many new objects on, one pack instead of loose objects (git's `unpackLimit`).
const PACK_FROM: usize = 100;

/// What a migration did.
#[derive(Debug, Default)]
pub(super) struct Migrated {
    /// Objects new to the repository, now in it.
    pub(super) ids: HashSet<Oid>,
    /// Objects refused, each with why (they are not in the repository).
    pub(super) refused: Vec<String>,
    /// Files that were not objects and were removed unread (symlinks, FIFOs, devices).
    pub(super) removed: Vec<String>,
}

/// `git hash-object`: the id of an object of `kind` holding `data`.
pub(super) fn object_id(kind: ObjectType, data: &[u8]) -> Option<Oid> {
    let name = match kind {
        ObjectType::Commit => "commit",
        ObjectType::Tree => "tree",
        ObjectType::Blob => "blob",
        ObjectType::Tag => "tag",
        _ => return None,
    };
    let mut hasher = sha1::Sha1::new();
    hasher.update(format!("{name} {}\0", data.len()).as_bytes());
    hasher.update(data);
    Oid::from_bytes(&hasher.finalize()).ok()
}

/// Removes everything under `dir` that is neither a directory nor a regular file (unread), and
/// the alternates files (the private store must be read on its own). Returns what it removed.
fn remove_unexpected(dir: &Path, removed: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(kind) if kind.is_dir() => remove_unexpected(&path, removed),
            Ok(kind) if kind.is_file() => {}
            _ => {
                removed.push(path.display().to_string());
                let _ = std::fs::remove_file(&path);
            }
        }
    }
}

/// Moves every object of the private object directory `private` that `real` lacks into `real`.
/// Nothing is moved when the directory holds none; an error means the store could not be
/// written (what was written stays: objects are only ever added).
pub(super) fn migrate(private: &Path, real: &Odb<'_>) -> Result<Migrated, std::io::Error> {
    let mut done = Migrated::default();
    if !private.is_dir() {
        return Ok(done);
    }
    for alternates in ["info/alternates", "info/http-alternates"] {
        let _ = std::fs::remove_file(private.join(alternates));
    }
    remove_unexpected(private, &mut done.removed);
    let source = Odb::new().map_err(std::io::Error::other)?;
    let path = private.to_str().ok_or_else(|| std::io::Error::other("the private store's path is not UTF-8"))?;
    source.add_disk_alternate(path).map_err(std::io::Error::other)?;
    let mut candidates = Vec::new();
    source
        .foreach(|id| {
            candidates.push(*id);
            true
        })
        .map_err(std::io::Error::other)?;
    candidates.sort();
    candidates.dedup();
    let mut new = Vec::new();
    for id in candidates {
        if real.exists(id) {
            continue;
        }
        match source.read_header(id) {
            Ok((size, _)) if size > MAX_OBJECT_BYTES => {
                done.refused.push(format!("{id}: {size} bytes, over the {MAX_OBJECT_BYTES}-byte limit"));
            }
            Ok((_, ObjectType::Commit | ObjectType::Tree | ObjectType::Blob | ObjectType::Tag)) => new.push(id),
            Ok((_, kind)) => done.refused.push(format!("{id}: not an object git stores ({kind})")),
            Err(err) => done.refused.push(format!("{id}: unreadable ({})", err.message())),
        }
    }
    if new.len() >= PACK_FROM {
        let mut wrong = HashSet::new();
        // A pack is all or nothing: first find the objects whose bytes do not match their names.
        for id in &new {
            match source.read(*id) {
                Ok(object) if object_id(object.kind(), object.data()) == Some(*id) => {}
                Ok(_) => {
                    wrong.insert(*id);
                    done.refused.push(format!("{id}: its content does not hash to its name"));
                }
                Err(err) => {
                    wrong.insert(*id);
                    done.refused.push(format!("{id}: unreadable ({})", err.message()));
                }
            }
        }
        new.retain(|id| !wrong.contains(id));
        crate::state::write_pack(real, &source, &new, |id, kind, data| match object_id(kind, data) {
            Some(found) if found == id => Ok(()),
            _ => Err(std::io::Error::other(format!("{id} changed while it was migrated"))),
        })?;
        done.ids.extend(new);
    } else {
        for id in new {
            match source.read(id) {
                Ok(object) if object_id(object.kind(), object.data()) == Some(id) => {
                    real.write(object.kind(), object.data()).map_err(std::io::Error::other)?;
                    done.ids.insert(id);
                }
                Ok(_) => done.refused.push(format!("{id}: its content does not hash to its name")),
                Err(err) => done.refused.push(format!("{id}: unreadable ({})", err.message())),
            }
        }
    }
    real.refresh().map_err(std::io::Error::other)?;
    Ok(done)
}

/// Whether everything reachable from `tip` is in `real`: the objects migrated (`new`) are
/// followed to what they name; an object already in the repository before is taken as complete
/// (git keeps reachable history whole). Returns the first missing object, if any.
pub(super) fn missing_from(real: &Odb<'_>, new: &HashSet<Oid>, tip: Oid) -> Result<Option<Oid>, git2::Error> {
    let mut stack = vec![tip];
    let mut seen = HashSet::new();
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        if !real.exists(id) {
            return Ok(Some(id));
        }
        if !new.contains(&id) {
            continue;
        }
        let object = real.read(id)?;
        match object.kind() {
            ObjectType::Commit => stack.extend(named_by_commit(object.data())),
            ObjectType::Tree => stack.extend(named_by_tree(object.data())),
            ObjectType::Tag => stack.extend(named_by_commit(object.data()).into_iter().take(1)),
            _ => {}
        }
    }
    Ok(None)
}

/// The `tree`, `parent` (and a tag's `object`) ids at the head of a commit or tag.
fn named_by_commit(data: &[u8]) -> Vec<Oid> {
    let mut ids = Vec::new();
    for line in data.split(|b| *b == b'\n') {
        if line.is_empty() {
            break;
        }
        let id = line
            .strip_prefix(b"tree ")
            .or_else(|| line.strip_prefix(b"parent "))
            .or_else(|| line.strip_prefix(b"object "));
        if let Some(id) = id.and_then(|h| std::str::from_utf8(h).ok()).and_then(|h| Oid::from_str(h).ok()) {
            ids.push(id);
        }
    }
    ids
}

/// The entries of a tree, submodule commits (mode 160000) left out: they live elsewhere.
fn named_by_tree(mut data: &[u8]) -> Vec<Oid> {
    let mut ids = Vec::new();
    while let Some(space) = data.iter().position(|b| *b == b' ') {
        let mode = &data[..space];
        let Some(nul) = data[space..].iter().position(|b| *b == 0).map(|n| space + n) else { break };
        let Some(raw) = data.get(nul + 1..nul + 21) else { break };
        if mode != b"160000"
            && let Ok(id) = Oid::from_bytes(raw)
        {
            ids.push(id);
        }
        data = &data[nul + 21..];
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_ids_are_gits() {
        // `printf 'hello\n' | git hash-object --stdin`
        assert_eq!(
            object_id(ObjectType::Blob, b"hello\n").unwrap().to_string(),
            "ce013625030ba8dba906f756967f9e9ca394464a"
        );
    }

    #[test]
    fn tree_entries_are_read_and_submodules_skipped() {
        let blob = Oid::from_str("ce013625030ba8dba906f756967f9e9ca394464a").unwrap();
        let sub = Oid::from_str(&"1".repeat(40)).unwrap();
        let mut tree = Vec::new();
        for (mode, name, id) in [("100644", "a", blob), ("160000", "sub", sub)] {
            tree.extend_from_slice(format!("{mode} {name}\0").as_bytes());
            tree.extend_from_slice(id.as_bytes());
        }
        assert_eq!(named_by_tree(&tree), vec![blob]);
    }
}
