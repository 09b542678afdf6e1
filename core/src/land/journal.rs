//! A landing that may be interrupted at any instant. Moving the target of a checked-out branch
//! is two steps — the files of each worktree that has it checked out, then the ref — and a
//! `kill -9` between them must not wedge the repository. So git's ref lock is never held across
//! the checkout (a stale `refs/heads/main.lock` refuses every later merge *and* the user's own
//! `git commit`); instead a record of what is being done is written first
//! (`<common>/kitty/landing/<ref>.json`: our pid, the ref, the tips from and to, the worktrees),
//! and the next start finds it: the ref already at the new tip → the checkout is finished (roll
//! forward); still at the old tip → what was written is put back (roll back). Either way a line
//! says which, and only the paths the landing changes are touched (they were clean when it began).

use std::path::{Path, PathBuf};

use git2::{Oid, Repository};
use serde::{Deserialize, Serialize};

use super::error::LandError;
use super::integrate::changed_paths;

/// What a landing in progress is doing.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    pid: u32,
    reference: String,
    from: Option<String>,
    to: String,
    dirs: Vec<PathBuf>,
}

/// A landing in progress; its record is removed by [`Journal::finish`].
pub(super) struct Journal {
    path: PathBuf,
}

fn dir_of(repo: &Repository) -> PathBuf {
    repo.commondir().join("kitty").join("landing")
}

fn file_for(repo: &Repository, reference: &str) -> PathBuf {
    dir_of(repo).join(format!("{}.json", reference.replace('/', "%2F")))
}

impl Journal {
    /// Records that `reference` goes from `from` to `to`, with `dirs` checked out along; synced
    /// before anything else is written.
    pub(super) fn begin(
        repo: &Repository,
        reference: &str,
        from: Option<Oid>,
        to: Oid,
        dirs: &[PathBuf],
    ) -> Result<Journal, LandError> {
        let path = file_for(repo, reference);
        let record = Record {
            pid: std::process::id(),
            reference: reference.to_string(),
            from: from.map(|o| o.to_string()),
            to: to.to_string(),
            dirs: dirs.to_vec(),
        };
        let io = |e: std::io::Error| LandError::Journal { path: path.clone(), why: e.to_string() };
        std::fs::create_dir_all(dir_of(repo)).map_err(io)?;
        let bytes = serde_json::to_vec(&record).map_err(|e| io(e.into()))?;
        crate::atomic_file::replace_plain(&path, &bytes).map_err(io)?;
        std::fs::File::open(&path).and_then(|f| f.sync_all()).map_err(io)?;
        Ok(Journal { path })
    }

    /// The landing is complete (or fully undone): the record goes.
    pub(super) fn finish(self) {
        if let Err(err) = std::fs::remove_file(&self.path) {
            tracing::warn!(path = %self.path.display(), %err, "a finished landing's record could not be removed");
        }
    }
}

/// Puts the paths `from..to` changes in `dir` as they are in `at` (files `at` lacks removed),
/// whatever is there now: for a landing's own half-written files only.
pub(super) fn settle_paths(repo: &Repository, dir: &Path, from: Oid, to: Oid, at: Oid) -> Result<(), LandError> {
    let paths = changed_paths(repo, from, to)?;
    if paths.is_empty() {
        return Ok(());
    }
    let wt = Repository::open(dir).map_err(LandError::git(format!("opening {}", dir.display())))?;
    let commit = wt.find_object(at, None).map_err(LandError::git(format!("reading {at}")))?;
    let mut checkout = git2::build::CheckoutBuilder::new();
    checkout.force().remove_untracked(true).disable_pathspec_match(true);
    for path in &paths {
        checkout.path(path);
    }
    wt.checkout_tree(&commit, Some(&mut checkout)).map_err(LandError::git(format!("putting {} at {at}", dir.display())))
}

/// Finishes or undoes every landing whose process died in the middle (see the module docs);
/// returns a line for each, saying what was done. A landing whose process is alive is left be.
pub fn recover(repo: &Repository) -> Vec<String> {
    let mut said = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir_of(repo)) else { return said };
    for entry in entries.flatten() {
        let path = entry.path();
        // A record's write killed before its rename: the record it was to replace (or none) is
        // what stands, so the half-written copy goes.
        if path.extension().is_some_and(|e| e == "kitty-tmp") {
            let _ = std::fs::remove_file(&path);
            continue;
        }
        let Ok(bytes) = crate::atomic_file::read_plain(&path, 1024 * 1024) else { continue };
        let Ok(record) = serde_json::from_slice::<Record>(&bytes) else {
            said.push(format!("{}: not a landing record we can read; left in place", path.display()));
            continue;
        };
        if record.pid != std::process::id() && crate::state::pid_alive(record.pid) {
            continue;
        }
        match recover_one(repo, &record) {
            Ok(line) => {
                tracing::warn!("{line}");
                said.push(line);
                let _ = std::fs::remove_file(&path);
            }
            Err(err) => said.push(format!(
                "the interrupted landing of {} could not be settled ({err}); its record {} is kept",
                record.reference,
                path.display()
            )),
        }
    }
    said
}

fn recover_one(repo: &Repository, record: &Record) -> Result<String, LandError> {
    let parse = |s: &str| {
        Oid::from_str(s).map_err(LandError::git(format!("reading the landing record of {}", record.reference)))
    };
    let to = parse(&record.to)?;
    let from = record.from.as_deref().map(parse).transpose()?;
    // The ref's own lock, left by a process killed while it held it.
    let lock = repo.commondir().join(format!("{}.lock", record.reference));
    if lock.exists() && std::fs::remove_file(&lock).is_ok() {
        tracing::warn!(lock = %lock.display(), "removed the ref lock a killed landing left");
    }
    let now = repo.refname_to_id(&record.reference).ok();
    let Some(from) = from else {
        // A new branch: nothing was checked out.
        return Ok(format!("an interrupted landing on the new branch {}: nothing to settle", record.reference));
    };
    let (at, done) = if now == Some(to) {
        (to, "rolled forward: the branch had moved, its checkout is finished")
    } else if now == Some(from) {
        (from, "rolled back: the branch had not moved, the files it wrote are put back")
    } else {
        return Ok(format!(
            "an interrupted landing on {} found the branch moved by someone else (now {}); its worktrees were left as they are",
            record.reference,
            now.map_or_else(|| "gone".to_string(), |o| o.to_string())
        ));
    };
    for dir in &record.dirs {
        if dir.exists() {
            settle_paths(repo, dir, from, to, at)?;
        }
    }
    Ok(format!("an interrupted landing on {} was {done} ({from} -> {to})", record.reference))
}
