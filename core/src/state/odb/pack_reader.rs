//! Whole objects read straight out of the repository's pack files, for reading a board.
//!
//! Why not libgit2's object database: for each of a board's three objects per WP it allocates
//! the object, copies it out of its pack window, and keeps commits and trees in its cache — for
//! 1000 WPs a megabyte of memory that a one-shot `status` first has to fault in. Here the pack
//! and its index are mapped once, an id is found by the index's fan-out and a binary search, and
//! an object stored whole (what `pack_objects` writes: no deltas, deflate "stored" blocks) is
//! handed out as a slice of the mapped pack, with no copy at all.
//!
//! This is only a fast path. Anything it does not read plainly — a delta, a stream of several
//! deflate blocks it would have to inflate and does not, a malformed entry, an id in no pack —
//! is `None`, and the caller reads that object through libgit2 as before. A pack that `git gc`
//! deletes meanwhile stays readable through its mapping, and its objects are immutable: a stale
//! view can miss an object, never return a wrong one.

use std::path::Path;

use git2::{ObjectType, Oid};
use memmap2::Mmap;

/// One pack and its version-2 index, mapped.
struct Pack {
    index: Mmap,
    pack: Mmap,
    /// Objects in the pack.
    count: usize,
}

/// The packs of one repository as they were when opened.
#[derive(Default)]
pub struct Packs {
    packs: Vec<Pack>,
}

const FANOUT: usize = 8;
const IDS: usize = FANOUT + 256 * 4;

fn be32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

impl Pack {
    fn open(index: &Path) -> Option<Pack> {
        let map = |path: &Path| -> Option<Mmap> {
            let file = std::fs::File::open(path).ok()?;
            // SAFETY: git never rewrites a pack or an index in place (new ones are written under
            // new names and renamed in; old ones are only deleted), so the mapped bytes do not
            // change under us; every read below is bounds-checked against the mapping.
            unsafe { Mmap::map(&file) }.ok()
        };
        let index_map = map(index)?;
        let pack = map(&index.with_extension("pack"))?;
        if index_map.get(..8)? != b"\xfftOc\0\0\0\x02" || pack.get(..4)? != b"PACK" {
            return None;
        }
        let count = be32(&index_map, FANOUT + 255 * 4)? as usize;
        // Ids, CRCs and 32-bit offsets must all be inside the index.
        (index_map.len() >= IDS + count * 28).then_some(Pack { index: index_map, pack, count })
    }

    /// Where `oid` starts in the pack.
    fn offset(&self, oid: &Oid) -> Option<usize> {
        let id = oid.as_bytes();
        let first = usize::from(id[0]);
        let start = if first == 0 { 0 } else { be32(&self.index, FANOUT + (first - 1) * 4)? as usize };
        let end = (be32(&self.index, FANOUT + first * 4)? as usize).min(self.count);
        let (mut low, mut high) = (start, end);
        while low < high {
            let mid = low + (high - low) / 2;
            let at = IDS + mid * 20;
            match self.index.get(at..at + 20)?.cmp(id) {
                std::cmp::Ordering::Equal => {
                    let offset = be32(&self.index, IDS + self.count * 24 + mid * 4)?;
                    if offset & 0x8000_0000 != 0 {
                        let large = IDS + self.count * 28 + (offset & 0x7fff_ffff) as usize * 8;
                        let bytes = self.index.get(large..large + 8)?;
                        return usize::try_from(u64::from_be_bytes(bytes.try_into().ok()?)).ok();
                    }
                    return Some(offset as usize);
                }
                std::cmp::Ordering::Less => low = mid + 1,
                std::cmp::Ordering::Greater => high = mid,
            }
        }
        None
    }

    /// The object at `offset` when it is stored whole in one "stored" deflate block.
    fn stored_at(&self, offset: usize) -> Option<(ObjectType, &[u8])> {
        let pack = self.pack.get(offset..)?;
        let kind = match (pack.first()? >> 4) & 7 {
            1 => ObjectType::Commit,
            2 => ObjectType::Tree,
            3 => ObjectType::Blob,
            4 => ObjectType::Tag,
            _ => return None, // a delta
        };
        let mut size = usize::from(pack[0] & 0x0f);
        let (mut at, mut shift) = (0, 4);
        while pack[at] & 0x80 != 0 {
            at += 1;
            size |= usize::from(*pack.get(at)? & 0x7f).checked_shl(shift)?;
            shift += 7;
        }
        // zlib header (a valid one: its 16 bits are a multiple of 31, method 8), then one final
        // stored block: a header byte 0b001, LEN, its one's complement NLEN, LEN bytes.
        let zlib = pack.get(at + 1..at + 8)?;
        let header = u16::from_be_bytes([zlib[0], zlib[1]]);
        let len = u16::from_le_bytes([zlib[3], zlib[4]]);
        let nlen = u16::from_le_bytes([zlib[5], zlib[6]]);
        if zlib[0] & 0x0f != 8
            || zlib[1] & 0x20 != 0
            || header % 31 != 0
            || zlib[2] != 1
            || len != !nlen
            || usize::from(len) != size
        {
            return None;
        }
        let data = at + 8;
        Some((kind, pack.get(data..data + size)?))
    }
}

impl Packs {
    /// Maps every readable pack under `objects/pack` (none, if there is no such directory).
    pub fn open(objects: &Path) -> Packs {
        let Ok(entries) = std::fs::read_dir(objects.join("pack")) else { return Packs::default() };
        let mut packs: Vec<(std::time::SystemTime, Pack)> = entries
            .flatten()
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "idx"))
            .filter_map(|path| {
                let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok()?;
                Some((modified, Pack::open(&path)?))
            })
            .collect();
        // Newest first: a board's tips are mostly in the pack the last run wrote.
        packs.sort_by_key(|(modified, _)| std::cmp::Reverse(*modified));
        Packs { packs: packs.into_iter().map(|(_, pack)| pack).collect() }
    }

    /// Object `oid` as a slice of its mapped pack, when some pack holds it stored whole.
    pub fn stored(&self, oid: &Oid) -> Option<(ObjectType, &[u8])> {
        self.packs.iter().find_map(|pack| pack.offset(oid).map(|offset| pack.stored_at(offset)))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the fast path reads is what libgit2 reads, object for object; what it cannot read
    /// plainly (deltas, compressed entries, ids in no pack) it leaves to libgit2.
    #[test]
    fn stored_objects_read_like_libgit2_and_the_rest_is_left_to_it() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init(tmp.path()).unwrap();
        let sig = git2::Signature::now("t", "t@example.com").unwrap();
        let mut parent: Option<Oid> = None;
        let mut ids = Vec::new();
        for i in 0..50 {
            let blob = repo.blob(format!("{{\"n\": {i}, \"pad\": \"{}\"}}", "x".repeat(i * 40)).as_bytes()).unwrap();
            let mut builder = repo.treebuilder(None).unwrap();
            builder.insert("state.json", blob, 0o100644).unwrap();
            let tree = repo.find_tree(builder.write().unwrap()).unwrap();
            let parents: Vec<git2::Commit<'_>> = parent.map(|p| repo.find_commit(p).unwrap()).into_iter().collect();
            let commit =
                repo.commit(None, &sig, &sig, &format!("event {i}"), &tree, &parents.iter().collect::<Vec<_>>());
            parent = Some(commit.unwrap());
            ids.extend([parent.unwrap(), tree.id(), blob]);
        }
        repo.reference("refs/kitty/wp/f/WP01", parent.unwrap(), true, "t").unwrap();
        let store = crate::state::StateStore::open(tmp.path()).unwrap();
        // Not ours to pack: `pack_objects` only packs kitty chains of a feature.
        let slug = crate::ids::FeatureSlug::parse("f").unwrap();
        assert_eq!(store.pack_objects(&slug).unwrap(), ids.len());
        let packs = Packs::open(&tmp.path().join(".git/objects"));
        let odb = repo.odb().unwrap();
        for id in &ids {
            let (kind, data) = packs.stored(id).unwrap_or_else(|| panic!("{id} not read"));
            let theirs = odb.read(*id).unwrap();
            assert_eq!((kind, data), (theirs.kind(), theirs.data()), "{id}");
        }
        assert!(packs.stored(&Oid::from_bytes(&[7; 20]).unwrap()).is_none());

        // A pack git itself wrote (compressed, with deltas): nothing is misread, and what is
        // read at all is exact.
        let status = std::process::Command::new("git")
            .args(["repack", "-a", "-d", "-f", "-q"])
            .current_dir(tmp.path())
            .status()
            .unwrap();
        assert!(status.success());
        let packs = Packs::open(&tmp.path().join(".git/objects"));
        for id in &ids {
            if let Some((kind, data)) = packs.stored(id) {
                let theirs = odb.read(*id).unwrap();
                assert_eq!((kind, data), (theirs.kind(), theirs.data()), "{id}");
            }
        }
    }
}
