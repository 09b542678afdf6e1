//! Writing spec-kitty's status log the way its own `BookkeepingTransaction` does: under its lock
//! (`<git common dir>/spec-kitty-locks/<slug>.status.lock`, an flock), appending to the
//! working-tree file (write + rename), re-materializing `status.json`, and — for the
//! coordination worktree — committing both files inside that worktree, so spec-kitty's readers
//! (which read the working-tree file) and its next commit both keep our lines.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use git2::{Repository, Signature};
use serde_json::{Map, Value as Json};

use super::error::SpecKittyError;
use super::event::LogLine;
use super::reduce::{EventLog, status_json};
use super::version::Generation;

/// How long we wait for spec-kitty's lock before giving up on one write.
const LOCK_WAIT: Duration = Duration::from_secs(30);

/// Where a status log lives and how changes to it are kept.
#[derive(Debug, Clone)]
pub struct StatusLog {
    /// The directory holding `status.events.jsonl` and `status.json`.
    pub dir: PathBuf,
    /// The mission slug (names the lock).
    pub slug: String,
    /// The repository's common git directory (holds the lock).
    pub common_dir: PathBuf,
    /// `Some((worktree, branch))`: commit the two files inside this worktree, which must be on
    /// this branch. `None`: only write them.
    pub commit_in: Option<(PathBuf, String)>,
    /// Identity fields for a `status.json` written for the first time.
    pub identity: Map<String, Json>,
    /// Whose reducer `status.json` follows.
    pub generation: Generation,
}

/// What one sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Lines appended (0: the log already had every line).
    pub appended: usize,
    /// The commit made in the coordination worktree, if any.
    pub commit: Option<String>,
}

impl StatusLog {
    /// `status.events.jsonl`.
    pub fn events_path(&self) -> PathBuf {
        self.dir.join("status.events.jsonl")
    }

    /// `status.json`.
    pub fn snapshot_path(&self) -> PathBuf {
        self.dir.join("status.json")
    }

    /// The lock spec-kitty takes around every status write.
    pub fn lock_path(&self) -> PathBuf {
        self.common_dir.join("spec-kitty-locks").join(format!("{}.status.lock", self.slug))
    }

    /// Appends those of `lines` the log does not have yet (by `event_id`), re-materializes
    /// `status.json` and commits when configured. Lines already there are never rewritten,
    /// reordered or dropped, whoever wrote them.
    pub fn sync(&self, lines: &[LogLine]) -> Result<SyncReport, SpecKittyError> {
        let _lock = self.lock()?;
        self.sync_locked(lines)
    }

    /// [`StatusLog::sync`] for a caller that holds [`StatusLog::lock`] already.
    pub fn sync_locked(&self, lines: &[LogLine]) -> Result<SyncReport, SpecKittyError> {
        let events_path = self.events_path();
        let old = match std::fs::read_to_string(&events_path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(SpecKittyError::Io { path: events_path, source: e }),
        };
        let log = EventLog::parse(&old).map_err(|p| SpecKittyError::Log {
            path: events_path.clone(),
            line: p.line,
            why: p.why,
        })?;
        // spec-kitty's own merge records `approved → done`; ours says the same thing once more
        // under another id — a WP already done there gets no second one.
        let done_there: std::collections::HashSet<String> = super::reduce::reduce(&log, self.generation)
            .work_packages
            .iter()
            .filter(|(_, s)| s.get("lane").and_then(Json::as_str) == Some("done"))
            .map(|(wp, _)| wp.clone())
            .collect();
        let missing: Vec<&LogLine> = lines
            .iter()
            .filter(|l| !log.ids.contains(&l.id))
            .filter(|l| !(l.json.get("to_lane").and_then(Json::as_str) == Some("done") && done_there.contains(&l.wp)))
            .collect();
        if missing.is_empty() {
            return Ok(SyncReport::default());
        }
        if let Some((worktree, branch)) = &self.commit_in {
            check_worktree(worktree, branch)?;
        }
        let mut text = old;
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        for line in &missing {
            text.push_str(&line.text());
            text.push('\n');
        }
        let log = EventLog::parse(&text).map_err(|p| SpecKittyError::Log {
            path: events_path.clone(),
            line: p.line,
            why: p.why,
        })?;
        let snapshot_path = self.snapshot_path();
        let previous = std::fs::read_to_string(&snapshot_path)
            .ok()
            .and_then(|t| serde_json::from_str::<Json>(&t).ok())
            .and_then(|v| v.as_object().cloned());
        let snapshot = status_json(&log, previous.as_ref(), &self.identity, self.generation);
        write_atomically(&events_path, &text)?;
        write_atomically(&snapshot_path, &snapshot)?;
        let commit = match &self.commit_in {
            Some((worktree, branch)) => {
                let wps: std::collections::BTreeSet<&str> = missing.iter().map(|l| l.wp.as_str()).collect();
                let subject = format!(
                    "chore(kitty-orchestrator): status transition {}",
                    wps.into_iter().collect::<Vec<_>>().join(" ")
                );
                Some(commit_files(worktree, branch, &[events_path.clone(), snapshot_path.clone()], &subject)?)
            }
            None => None,
        };
        Ok(SyncReport { appended: missing.len(), commit })
    }

    /// spec-kitty's flock (Python `filelock` on Unix is `flock(LOCK_EX)`), polled so a stuck
    /// holder is reported instead of hanging the run.
    pub fn lock(&self) -> Result<std::fs::File, SpecKittyError> {
        let path = self.lock_path();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(SpecKittyError::io(dir))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(SpecKittyError::io(&path))?;
        let start = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(file),
                Err(std::fs::TryLockError::WouldBlock) if start.elapsed() < LOCK_WAIT => {
                    std::thread::sleep(Duration::from_millis(25));
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(SpecKittyError::Locked { path, seconds: LOCK_WAIT.as_secs() });
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(SpecKittyError::Io { path, source: e }),
            }
        }
    }
}

fn write_atomically(path: &Path, text: &str) -> Result<(), SpecKittyError> {
    if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
        return Ok(());
    }
    crate::atomic_file::write_atomically(path, text.as_bytes()).map_err(SpecKittyError::io(path))
}

/// We commit only in the coordination worktree on its branch, with no merge in progress: the
/// same preconditions spec-kitty's `safe_commit` asserts.
pub(crate) fn check_worktree(worktree: &Path, branch: &str) -> Result<(), SpecKittyError> {
    let coord = |why: String| SpecKittyError::Coord { path: worktree.to_path_buf(), why };
    if !worktree.exists() {
        return Err(coord("does not exist; run a spec-kitty status command once to recreate it".into()));
    }
    let repo = Repository::open(worktree).map_err(SpecKittyError::git(format!("opening {}", worktree.display())))?;
    let head = repo.head().ok().and_then(|h| h.name().ok().map(str::to_string));
    if head.as_deref() != Some(format!("refs/heads/{branch}").as_str()) {
        return Err(coord(format!(
            "HEAD is {} instead of {branch}; check out {branch} there again",
            head.as_deref().unwrap_or("detached")
        )));
    }
    if repo.state() != git2::RepositoryState::Clean {
        return Err(coord(format!("a {:?} is in progress there; finish or abort it", repo.state())));
    }
    let index = repo.index().map_err(SpecKittyError::git("reading the coordination index"))?;
    if index.has_conflicts() {
        return Err(coord("its index has unresolved conflicts; resolve them and commit".into()));
    }
    Ok(())
}

/// Commits the working-tree state of `files` (content, or absence: a file that is gone is
/// removed) on top of the worktree's HEAD (compare-and-swap of the branch against the HEAD we
/// read), then stages the same so the worktree shows clean for them. Other staged or unstaged
/// changes there are left exactly as they were.
pub(crate) fn commit_files(
    worktree: &Path,
    branch: &str,
    files: &[PathBuf],
    subject: &str,
) -> Result<String, SpecKittyError> {
    let repo = Repository::open(worktree).map_err(SpecKittyError::git(format!("opening {}", worktree.display())))?;
    let root = repo.workdir().unwrap_or(worktree).to_path_buf();
    let canonical_root = root.canonicalize().unwrap_or_else(|_| root.clone());
    let head = repo.head().and_then(|h| h.peel_to_commit()).map_err(SpecKittyError::git("reading HEAD"))?;
    let mut tree = head.tree().map_err(SpecKittyError::git("reading the HEAD tree"))?;
    let mut relative = Vec::new();
    for file in files {
        let parent = file.parent().and_then(|p| p.canonicalize().ok()).unwrap_or_else(|| file.to_path_buf());
        let canonical = parent.join(file.file_name().unwrap_or_default());
        let rel = canonical.strip_prefix(&canonical_root).map_err(|_| SpecKittyError::Coord {
            path: root.clone(),
            why: format!("{} is outside the worktree", file.display()),
        })?;
        let blob = match std::fs::read(file) {
            Ok(content) => Some(repo.blob(&content).map_err(SpecKittyError::git("writing a blob"))?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(SpecKittyError::Io { path: file.clone(), source: e }),
        };
        tree = replace_path(&repo, &tree, rel, blob)?;
        relative.push((rel.to_path_buf(), blob.is_some()));
    }
    if tree.id() == head.tree_id() {
        return Ok(head.id().to_string());
    }
    let signature = crate::state::StateStore::committer(&repo);
    let signature = Signature::now(
        signature.name().unwrap_or("kitty-orchestrator"),
        signature.email().unwrap_or("kitty-orchestrator@localhost"),
    )
    .map_err(SpecKittyError::git("making a signature"))?;
    let message = format!("{subject}\n\nWritten by kitty-orchestrator, mirroring its run into spec-kitty's files.\n");
    let oid = repo
        .commit(None, &signature, &signature, &message, &tree, &[&head])
        .map_err(SpecKittyError::git("committing spec-kitty's files"))?;
    let name = format!("refs/heads/{branch}");
    repo.reference_matching(&name, oid, true, head.id(), "kitty-orchestrator: status transition").map_err(
        SpecKittyError::git(format!("moving {name} (someone else committed there; the next write retries)")),
    )?;
    let mut index = repo.index().map_err(SpecKittyError::git("reading the index"))?;
    for (rel, exists) in &relative {
        if *exists {
            index.add_path(rel).map_err(SpecKittyError::git(format!("staging {}", rel.display())))?;
        } else if index.get_path(rel, 0).is_some() {
            index.remove_path(rel).map_err(SpecKittyError::git(format!("unstaging {}", rel.display())))?;
        }
    }
    index.write().map_err(SpecKittyError::git("writing the index"))?;
    Ok(oid.to_string())
}

/// `tree` with the blob at `path` replaced (`None`: removed), directories along the way made,
/// updated or (when emptied) dropped.
fn replace_path<'r>(
    repo: &'r Repository,
    tree: &git2::Tree<'r>,
    path: &Path,
    blob: Option<git2::Oid>,
) -> Result<git2::Tree<'r>, SpecKittyError> {
    let mut parts: Vec<String> = path.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let leaf = parts.pop().unwrap_or_default();
    fn rebuild<'r>(
        repo: &'r Repository,
        tree: Option<&git2::Tree<'r>>,
        dirs: &[String],
        leaf: &str,
        blob: Option<git2::Oid>,
    ) -> Result<Option<git2::Oid>, git2::Error> {
        let mut builder = repo.treebuilder(tree)?;
        match dirs.split_first() {
            None => match blob {
                Some(blob) => {
                    builder.insert(leaf, blob, 0o100644)?;
                }
                None => {
                    if builder.get(leaf)?.is_some() {
                        builder.remove(leaf)?;
                    }
                }
            },
            Some((dir, rest)) => {
                let sub = tree
                    .and_then(|t| t.get_name(dir))
                    .and_then(|e| e.to_object(repo).ok())
                    .and_then(|o| o.into_tree().ok());
                match rebuild(repo, sub.as_ref(), rest, leaf, blob)? {
                    Some(oid) => {
                        builder.insert(dir, oid, 0o040000)?;
                    }
                    None => {
                        if builder.get(dir)?.is_some() {
                            builder.remove(dir)?;
                        }
                    }
                }
            }
        }
        // An emptied directory goes away (git has no empty directories).
        if builder.is_empty() {
            return Ok(None);
        }
        builder.write().map(Some)
    }
    let oid = rebuild(repo, Some(tree), &parts, &leaf, blob).map_err(SpecKittyError::git("building the tree"))?;
    match oid {
        Some(oid) => repo.find_tree(oid).map_err(SpecKittyError::git("reading the tree")),
        None => {
            let empty = repo.treebuilder(None).and_then(|b| b.write()).map_err(SpecKittyError::git("an empty tree"))?;
            repo.find_tree(empty).map_err(SpecKittyError::git("reading the tree"))
        }
    }
}
