//! The refs of an attempt's private store: a copy of the repository's refs (all but our own
//! `refs/kitty/*`) written when the attempt starts — so `git log main`, `git diff main...` and
//! tags work as always — and read back afterwards without trusting a byte of it: the agent owned
//! these files, so they are parsed by hand (regular files only, sizes and counts capped), never
//! handed to libgit2 or git.

use std::collections::BTreeMap;
use std::path::Path;

use git2::{Oid, Repository};
use serde::{Deserialize, Serialize};

use crate::atomic_file::read_plain;

/// What a ref holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum Target {
    /// A commit (or any object) id, as hex.
    Id(String),
    /// Another ref's name.
    Symbolic(String),
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Id(id) => f.write_str(id),
            Target::Symbolic(name) => write!(f, "ref: {name}"),
        }
    }
}

/// Refs by full name.
pub(super) type Refs = BTreeMap<String, Target>;

/// Most refs read back from a private store (an agent making millions must not make us read them).
const MAX_REFS: usize = 200_000;
/// The largest loose ref file read back.
const LOOSE_CAP: u64 = 4096;
/// The largest `packed-refs` read back.
const PACKED_CAP: u64 = 256 * 1024 * 1024;

/// The repository's refs an agent may read: everything but `refs/kitty/*` (our state: not the
/// agent's business, and thousands of refs in a large run).
pub(super) fn snapshot(repo: &Repository) -> Result<Refs, git2::Error> {
    let mut refs = Refs::new();
    for reference in repo.references()? {
        let reference = reference?;
        let Ok(name) = std::str::from_utf8(reference.name_bytes()) else { continue };
        if name.starts_with("refs/kitty/") || !name.starts_with("refs/") {
            continue;
        }
        let target = match (reference.target(), reference.symbolic_target()) {
            (Some(id), _) => Target::Id(id.to_string()),
            (None, Ok(Some(to))) => Target::Symbolic(to.to_string()),
            _ => continue,
        };
        refs.insert(name.to_string(), target);
    }
    Ok(refs)
}

/// Writes `refs` into the private store at `dir`: the branch `own` (full name) as a loose file,
/// symbolic refs as loose files, every other ref in one sorted `packed-refs`.
pub(super) fn write_private(dir: &Path, refs: &Refs, own: &str) -> std::io::Result<()> {
    let mut packed = String::from("# pack-refs with: sorted \n");
    for (name, target) in refs {
        match target {
            Target::Id(id) if name != own => {
                packed.push_str(id);
                packed.push(' ');
                packed.push_str(name);
                packed.push('\n');
            }
            Target::Id(id) => write_loose(dir, name, &format!("{id}\n"))?,
            Target::Symbolic(to) => write_loose(dir, name, &format!("ref: {to}\n"))?,
        }
    }
    std::fs::write(dir.join("packed-refs"), packed)
}

fn write_loose(dir: &Path, name: &str, text: &str) -> std::io::Result<()> {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, text)
}

/// The refs of the private store at `dir` as the agent left them (loose over packed, as git
/// reads them). Anything that is not a well-formed ref in a regular file is skipped and named in
/// the second list.
pub(super) fn read_private(dir: &Path) -> (Refs, Vec<String>) {
    let mut refs = Refs::new();
    let mut odd = Vec::new();
    match read_plain(&dir.join("packed-refs"), PACKED_CAP) {
        Ok(bytes) => parse_packed(&bytes, &mut refs, &mut odd),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => odd.push(format!("packed-refs: {err}")),
    }
    let mut loose = Refs::new();
    walk_loose(dir, &dir.join("refs"), &mut loose, &mut odd);
    refs.extend(loose);
    (refs, odd)
}

fn parse_packed(bytes: &[u8], refs: &mut Refs, odd: &mut Vec<String>) {
    for line in bytes.split(|b| *b == b'\n') {
        if line.is_empty() || line[0] == b'#' || line[0] == b'^' {
            continue;
        }
        if refs.len() >= MAX_REFS {
            odd.push(format!("packed-refs: more than {MAX_REFS} refs (the rest not read)"));
            return;
        }
        let parsed = std::str::from_utf8(line)
            .ok()
            .and_then(|l| l.split_once(' '))
            .filter(|(id, name)| is_hex_id(id) && name.starts_with("refs/") && git2::Reference::is_valid_name(name));
        match parsed {
            Some((id, name)) => {
                refs.insert(name.to_string(), Target::Id(id.to_ascii_lowercase()));
            }
            None => odd.push(format!("packed-refs: a line that is not a ref: {}", String::from_utf8_lossy(line))),
        }
    }
}

fn walk_loose(root: &Path, dir: &Path, refs: &mut Refs, odd: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        if refs.len() >= MAX_REFS {
            odd.push(format!("more than {MAX_REFS} loose refs (the rest not read)"));
            return;
        }
        let path = entry.path();
        let Ok(kind) = entry.file_type() else { continue };
        let name = path.strip_prefix(root).ok().and_then(|p| p.to_str()).map(str::to_string);
        let Some(name) = name.filter(|n| git2::Reference::is_valid_name(n)) else {
            if path.extension().is_none_or(|e| e != "lock") {
                odd.push(format!("{}: not a ref name", path.display()));
            }
            continue;
        };
        if kind.is_dir() {
            walk_loose(root, &path, refs, odd);
            continue;
        }
        let text = match read_plain(&path, LOOSE_CAP) {
            Ok(bytes) => String::from_utf8(bytes).unwrap_or_default(),
            Err(err) => {
                odd.push(format!("{name}: {err}"));
                continue;
            }
        };
        let text = text.trim_end();
        if is_hex_id(text) {
            refs.insert(name, Target::Id(text.to_ascii_lowercase()));
        } else if let Some(to) = text.strip_prefix("ref: ").filter(|t| git2::Reference::is_valid_name(t)) {
            refs.insert(name, Target::Symbolic(to.to_string()));
        } else {
            odd.push(format!("{name}: not a ref"));
        }
    }
}

fn is_hex_id(text: &str) -> bool {
    text.len() == 40 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `target` as an object id, when it is one.
pub(super) fn id_of(target: Option<&Target>) -> Option<Oid> {
    match target {
        Some(Target::Id(id)) => Oid::from_str(id).ok(),
        _ => None,
    }
}

/// Refs whose moving is a security event: the repository's branches and tags, our state, notes.
/// (Remote-tracking refs, `refs/stash` and the like are an agent's scratch: a `git fetch` or a
/// `git stash` in its worktree changes them in its copy, and the copy is thrown away.)
fn guarded(name: &str) -> bool {
    ["refs/heads/", "refs/tags/", "refs/kitty/", "refs/notes/"].iter().any(|p| name.starts_with(p))
}

/// How the refs changed from `given` to `found`, other than `own`: each guarded ref (see
/// [`guarded`]) that changed, went, or appeared under `refs/kitty/` as a move; every other ref
/// made or changed (a scratch branch, a stash, a fetched remote branch) as scratch.
pub(super) fn changes(given: &Refs, found: &Refs, own: &str) -> (Vec<RefMove>, Vec<String>) {
    let mut moved = Vec::new();
    let mut scratch = Vec::new();
    for (name, was) in given.iter().filter(|(n, _)| *n != own) {
        let now = found.get(name);
        if now == Some(was) {
            continue;
        }
        if guarded(name) {
            moved.push(RefMove { name: name.clone(), was: Some(was.to_string()), now: now.map(Target::to_string) });
        } else {
            scratch.push(name.clone());
        }
    }
    for (name, now) in found.iter().filter(|(n, _)| *n != own && !given.contains_key(*n)) {
        if name.starts_with("refs/kitty/") {
            moved.push(RefMove { name: name.clone(), was: None, now: Some(now.to_string()) });
        } else {
            scratch.push(name.clone());
        }
    }
    (moved, scratch)
}

/// A ref an attempt moved (in its private copy) that it did not own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefMove {
    /// Its full name.
    pub name: String,
    /// What it was given (`None`: it did not exist).
    pub was: Option<String>,
    /// What it held afterwards (`None`: removed).
    pub now: Option<String>,
}

impl std::fmt::Display for RefMove {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "nothing".to_string());
        write!(f, "{} from {} to {}", self.name, show(&self.was), show(&self.now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_refs_lines_that_are_not_refs_are_named_not_read() {
        let mut refs = Refs::new();
        let mut odd = Vec::new();
        let id = "a".repeat(40);
        let text = format!("# pack-refs with: sorted\n{id} refs/heads/main\n^{id}\nnonsense\n{id} HEAD\n");
        parse_packed(text.as_bytes(), &mut refs, &mut odd);
        assert_eq!(refs.len(), 1);
        assert_eq!(refs["refs/heads/main"], Target::Id(id));
        assert_eq!(odd.len(), 2, "{odd:?}");
    }

    #[test]
    fn changes_name_moved_removed_and_new_refs_but_not_the_own_branch() {
        let id = |c: char| Target::Id(c.to_string().repeat(40));
        let given: Refs = [("refs/heads/main", id('a')), ("refs/heads/wp", id('b')), ("refs/tags/v1", id('c'))]
            .into_iter()
            .map(|(n, t)| (n.to_string(), t))
            .collect();
        let mut found = given.clone();
        found.insert("refs/heads/main".into(), id('d'));
        found.insert("refs/heads/wp".into(), id('e'));
        found.remove("refs/tags/v1");
        found.insert("refs/heads/new".into(), id('f'));
        found.insert("refs/kitty/wp/f/WP01".into(), id('f'));
        let mut given = given;
        given.insert("refs/remotes/origin/main".into(), id('a'));
        found.insert("refs/remotes/origin/main".into(), id('b'));
        let (moved, scratch) = changes(&given, &found, "refs/heads/wp");
        let names: Vec<&str> = moved.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["refs/heads/main", "refs/tags/v1", "refs/kitty/wp/f/WP01"]);
        assert_eq!(moved[1].now, None);
        assert_eq!(scratch, ["refs/remotes/origin/main", "refs/heads/new"]);
    }
}
