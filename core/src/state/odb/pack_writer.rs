//! Packing a feature's event objects when a run ends, as `git gc` would: every event is three
//! loose objects (commit, tree, `state.json`), and reading a board of loose objects costs five
//! system calls per object — three times what `git for-each-ref` spends on the same refs. One
//! pack of the run's new events makes the next `status` read them from one mapped file.
//!
//! Order makes it safe at any instant: the pack and its index are written and synced first, the
//! loose copies removed only after; a crash in between leaves both (git tolerates that), and a
//! reader that misses a loose object looks in the packs again (libgit2 and git both do).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use git2::{Oid, Repository};

/// Loose objects of the chains, stopping on each chain at the first event already packed (an
/// earlier run's end packed everything before it). The tips' objects come first, each tip's
/// commit, tree and `state.json` side by side, then the older events: a board reads only the
/// tips, and finds them in one stretch of the pack instead of one page per WP.
fn loose_objects(repo: &Repository, objects: &Path, tips: &[Oid]) -> Vec<(Oid, PathBuf)> {
    let loose = |oid: Oid| {
        let hex = oid.to_string();
        let path = objects.join(&hex[..2]).join(&hex[2..]);
        path.is_file().then_some(path)
    };
    let mut seen = HashSet::new();
    let mut current = Vec::new();
    let mut older = Vec::new();
    for tip in tips {
        let mut next = Some(*tip);
        let mut found = &mut current;
        while let Some(oid) = next {
            let Some(path) = loose(oid).filter(|_| seen.insert(oid)) else { break };
            // Anything unreadable is left as it is: this is housekeeping, not a check.
            let Ok(commit) = repo.find_commit(oid) else { break };
            found.push((oid, path));
            if let Ok(tree) = commit.tree() {
                let ids = std::iter::once(tree.id()).chain(tree.iter().map(|entry| entry.id()));
                found.extend(ids.filter(|id| seen.insert(*id)).filter_map(|id| loose(id).map(|p| (id, p))));
            }
            next = commit.parent_id(0).ok();
            found = &mut older;
        }
    }
    current.extend(older);
    current
}

/// Writes the objects `ids`, read from `source`, as one pack without deltas through `target`'s
/// libgit2 pack writer (which indexes it and installs `pack-<name>.pack` and `.idx`); returns the
/// name. `check(id, kind, data)` may refuse an object (the pack is then not written). No deltas
/// on purpose: libgit2's pack builder chains each state blob to its neighbours up to ~40 deep, and
/// reading a board then spends its time applying deltas. State blobs are small; whole objects
/// read fastest.
pub(crate) fn write_pack(
    target: &git2::Odb<'_>,
    source: &git2::Odb<'_>,
    ids: &[Oid],
    mut check: impl FnMut(Oid, git2::ObjectType, &[u8]) -> Result<(), std::io::Error>,
) -> Result<String, std::io::Error> {
    use sha1::Digest;
    use std::io::Write;
    let mut writer = target.packwriter().map_err(std::io::Error::other)?;
    let mut hasher = sha1::Sha1::new();
    let mut emit = |bytes: &[u8]| -> std::io::Result<()> {
        hasher.update(bytes);
        writer.write_all(bytes)
    };
    let count = u32::try_from(ids.len()).map_err(std::io::Error::other)?;
    emit(b"PACK")?;
    emit(&2u32.to_be_bytes())?;
    emit(&count.to_be_bytes())?;
    for oid in ids {
        let object = source.read(*oid).map_err(std::io::Error::other)?;
        let kind: u8 = match object.kind() {
            git2::ObjectType::Commit => 1,
            git2::ObjectType::Tree => 2,
            git2::ObjectType::Blob => 3,
            git2::ObjectType::Tag => 4,
            other => return Err(std::io::Error::other(format!("object {oid} is a {other}"))),
        };
        let data = object.data();
        check(*oid, object.kind(), data)?;
        // Entry header: type and size, 4 bits of size in the first byte, 7 in each next one.
        let mut size = data.len();
        let mut header = vec![(kind << 4) | (size & 0x0f) as u8];
        size >>= 4;
        while size > 0 {
            *header.last_mut().expect("one byte at least") |= 0x80;
            header.push((size & 0x7f) as u8);
            size >>= 7;
        }
        emit(&header)?;
        let mut deflate = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::none());
        deflate.write_all(data)?;
        emit(&deflate.finish()?)?;
    }
    let checksum = hasher.finalize();
    writer.write_all(&checksum)?;
    writer.commit().map_err(std::io::Error::other)?;
    Ok(checksum.iter().map(|b| format!("{b:02x}")).collect())
}

fn sync(path: &Path) -> std::io::Result<()> {
    std::fs::File::open(path)?.sync_all()
}

/// Packs the loose objects of the chains at `tips` (see [`loose_objects`]) into one new pack,
/// synced, then removes the loose copies; returns how many it packed (0: nothing loose). The
/// error says what failed; the loose objects are kept then.
pub(in crate::state) fn pack_chains(repo: &Repository, objects: &Path, tips: &[Oid]) -> Result<usize, String> {
    let found = loose_objects(repo, objects, tips);
    if found.is_empty() {
        return Ok(0);
    }
    let odb = repo.odb().map_err(|err| format!("could not open the object database: {err}"))?;
    let ids: Vec<Oid> = found.iter().map(|(id, _)| *id).collect();
    let name = write_pack(&odb, &odb, &ids, |_, _, _| Ok(()))
        .map_err(|err| format!("could not write a pack of its state objects: {err}; the loose objects are kept"))?;
    let pack_dir = objects.join("pack");
    for file in [format!("pack-{name}.pack"), format!("pack-{name}.idx")] {
        sync(&pack_dir.join(&file)).map_err(|err| {
            format!("could not sync {}: {err}; the loose objects are kept", pack_dir.join(file).display())
        })?;
    }
    // A directory fsync is best effort (not every filesystem allows it).
    let _ = sync(&pack_dir);
    for (_, path) in &found {
        let _ = std::fs::remove_file(path);
    }
    tracing::debug!(objects = found.len(), pack = %name, "packed the state objects");
    Ok(found.len())
}
