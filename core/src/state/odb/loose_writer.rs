//! Writing an event's three objects (`state.json`, its one-entry tree, the commit) straight into
//! the object store as loose files, byte for byte what libgit2 or git would write.
//!
//! Why not `Repository::blob` + `TreeBuilder` + `Repository::commit`: for each object libgit2
//! first "freshens" it (a `utimens`, and on a miss a rescan of `objects/pack/`), writes a temp
//! file in `objects/`, hard-links it into `objects/xx/` and unlinks the temp (three directory
//! changes), then reads the tree and the parent back to check they exist — objects this code
//! has just written or read. Event writes are bound by file-system metadata operations, so
//! here each object is one new file in its own fan-out directory and one rename (two directory
//! changes), nothing is read back, and an event costs about half the system calls.
//!
//! Safety is git's own: an object's file appears under its final name only by an atomic rename
//! of a completely written file, and the ref is moved (by compare-and-swap) only after all three
//! objects are in place, so a crash at any instant leaves the old state or the new one. Two
//! writers writing the same object write the same bytes; the last rename wins harmlessly.

use std::io::Write;
use std::path::{Path, PathBuf};

use git2::{Oid, Signature};
use sha1::Digest;

/// Where loose objects of the repository with common directory `common_dir` go.
pub fn objects_dir(common_dir: &Path) -> PathBuf {
    common_dir.join("objects")
}

/// `Name <email> <seconds> <±hhmm>`, as git writes an author or committer line.
fn signature_line(kind: &str, sig: &Signature<'_>) -> Vec<u8> {
    let when = sig.when();
    let offset = when.offset_minutes();
    let sign = if offset < 0 { '-' } else { '+' };
    let (hours, minutes) = (offset.unsigned_abs() / 60, offset.unsigned_abs() % 60);
    let mut line = Vec::with_capacity(80);
    line.extend_from_slice(kind.as_bytes());
    line.push(b' ');
    line.extend_from_slice(sig.name_bytes());
    line.extend_from_slice(b" <");
    line.extend_from_slice(sig.email_bytes());
    line.extend_from_slice(format!("> {} {sign}{hours:02}{minutes:02}\n", when.seconds()).as_bytes());
    line
}

/// Writes one object of `kind` (`blob`, `tree`, `commit`) holding `data`; returns its id.
fn write_object(objects: &Path, kind: &str, data: &[u8]) -> std::io::Result<Oid> {
    let header = format!("{kind} {}\0", data.len());
    let mut hasher = sha1::Sha1::new();
    hasher.update(header.as_bytes());
    hasher.update(data);
    let id = Oid::from_bytes(&hasher.finalize()).map_err(std::io::Error::other)?;
    let hex = id.to_string();
    let dir = objects.join(&hex[..2]);
    let target = dir.join(&hex[2..]);
    let mut deflate =
        flate2::write::ZlibEncoder::new(Vec::with_capacity(data.len() / 2 + 64), flate2::Compression::fast());
    deflate.write_all(header.as_bytes())?;
    deflate.write_all(data)?;
    let compressed = deflate.finish()?;
    let temp = dir.join(format!("tmp_obj_kitty_{:016x}", fastrand::u64(..)));
    let mut file = match create_read_only(&temp) {
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            // The fan-out directory does not exist yet (a young repository).
            match std::fs::create_dir(&dir) {
                Err(err) if err.kind() != std::io::ErrorKind::AlreadyExists => return Err(err),
                _ => create_read_only(&temp)?,
            }
        }
        other => other?,
    };
    let written = file.write_all(&compressed).and_then(|()| {
        drop(file);
        std::fs::rename(&temp, &target)
    });
    if let Err(err) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(err);
    }
    Ok(id)
}

fn create_read_only(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o444);
    options.open(path)
}

/// Writes the event commit whose tree holds `file_name` = `content`, with `message`, on top of
/// `parent`; returns the commit's id. Nothing points at it yet.
pub fn write_event_commit(
    objects: &Path,
    file_name: &str,
    content: &[u8],
    message: &str,
    author: &Signature<'_>,
    committer: &Signature<'_>,
    parent: Option<Oid>,
) -> std::io::Result<Oid> {
    let blob = write_object(objects, "blob", content)?;
    let mut tree = Vec::with_capacity(32 + file_name.len());
    tree.extend_from_slice(b"100644 ");
    tree.extend_from_slice(file_name.as_bytes());
    tree.push(0);
    tree.extend_from_slice(blob.as_bytes());
    let tree = write_object(objects, "tree", &tree)?;
    let mut commit = Vec::with_capacity(256 + message.len());
    commit.extend_from_slice(format!("tree {tree}\n").as_bytes());
    if let Some(parent) = parent {
        commit.extend_from_slice(format!("parent {parent}\n").as_bytes());
    }
    commit.extend_from_slice(&signature_line("author", author));
    commit.extend_from_slice(&signature_line("committer", committer));
    commit.push(b'\n');
    commit.extend_from_slice(message.as_bytes());
    write_object(objects, "commit", &commit)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same commit, written here and by libgit2, has the same id: the bytes are git's.
    #[test]
    fn an_event_commit_is_byte_for_byte_what_libgit2_writes() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init(tmp.path()).unwrap();
        let author = Signature::new("codex", "codex@agents.kitty", &git2::Time::new(1_796_409_441, -330)).unwrap();
        let committer = Signature::new("Ada", "ada@example.com", &git2::Time::new(1_796_409_442, 60)).unwrap();
        let content = b"{\n  \"format\": 1\n}";
        let message = "WP01: imported as planned\n\nKitty-Lane: planned\n";
        let mut parent = None;
        for round in 0..2 {
            let ours = write_event_commit(
                &objects_dir(repo.path()),
                "state.json",
                content,
                message,
                &author,
                &committer,
                parent,
            )
            .unwrap();
            let blob = repo.blob(content).unwrap();
            let mut builder = repo.treebuilder(None).unwrap();
            builder.insert("state.json", blob, 0o100644).unwrap();
            let tree = repo.find_tree(builder.write().unwrap()).unwrap();
            let parents: Vec<git2::Commit<'_>> = parent.map(|p| repo.find_commit(p).unwrap()).into_iter().collect();
            let theirs = repo.commit(None, &author, &committer, message, &tree, &parents.iter().collect::<Vec<_>>());
            assert_eq!(ours, theirs.unwrap(), "round {round}");
            // And libgit2 reads ours back as a commit with that tree and content.
            let commit = repo.find_commit(ours).unwrap();
            assert_eq!(commit.message(), Ok(message));
            assert_eq!(commit.author().when().offset_minutes(), -330);
            let entry = commit.tree().unwrap().get_name("state.json").unwrap().id();
            assert_eq!(repo.find_blob(entry).unwrap().content(), content);
            parent = Some(ours);
        }
        let leftovers: Vec<_> =
            walkdir(&repo.path().join("objects")).into_iter().filter(|p| p.contains("tmp_obj")).collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    fn walkdir(dir: &Path) -> Vec<String> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            if entry.path().is_dir() {
                out.extend(walkdir(&entry.path()));
            } else {
                out.push(entry.path().display().to_string());
            }
        }
        out
    }
}
