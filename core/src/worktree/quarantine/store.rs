//! An implementation attempt's private git store, from the moment it is opened to the moment
//! its result is taken into the repository.
//!
//! Opened: `<common>/kitty/quarantine/<worktree>/` holds an object directory of its own (the
//! repository's objects readable through `info/alternates`), a copy of the refs, a copy of the
//! config, and links to the hooks, `info/` and the other worktrees; the worktree's `commondir`
//! names it. A record of what was given — the refs, the branch's tip — is kept beside it, out of
//! the agent's reach (`<worktree>.given`). Landlock lets the agent write this directory, its
//! worktree and its admin directory, and nothing else of the repository.
//!
//! Concluded (every process of the attempt gone): the link files are put back, the new objects
//! are checked and moved into the repository, the private refs are read back and compared with
//! what was given, and the worktree's branch — the one ref the agent may move — is moved by us
//! to the private branch's tip, by compare-and-swap, once everything it names is in the store.
//! A crash in between leaves the directory and its record: the next use of the worktree
//! concludes it first.

use std::path::{Path, PathBuf};

use git2::{Oid, Repository};
use serde::{Deserialize, Serialize};

use super::link::{Head, Link};
use super::objects::{migrate, missing_from};
use super::refs::{self, RefMove, Refs, Target};
use crate::worktree::WorktreeError;

/// What a quarantine was given, kept out of the agent's reach.
#[derive(Debug, Serialize, Deserialize)]
struct Given {
    /// The orchestrator process that opened it.
    pid: u32,
    /// The worktree's branch (short name).
    branch: String,
    /// The refs given (the branch among them).
    refs: Refs,
    /// The worktree's own config (`<admin>/config.worktree`, read by git when the repository
    /// sets `extensions.worktreeConfig`) as it was: a `core.fsmonitor` or `core.hooksPath` an
    /// agent put there would run outside any sandbox the next time anyone runs git in it.
    #[serde(default)]
    worktree_config: Option<Vec<u8>>,
}

/// The private store of one linked worktree.
#[derive(Debug, Clone)]
pub struct Quarantine {
    common: PathBuf,
    name: String,
    link: Link,
}

/// What the attempt came to, as far as git is concerned.
#[derive(Debug, Default)]
pub struct Concluded {
    /// The branch's tip before the attempt.
    pub given: Option<Oid>,
    /// The branch's tip the attempt left (`None`: it removed its branch).
    pub tip: Option<Oid>,
    /// The repository's branch was moved to `tip`.
    pub adopted: bool,
    /// Why the tip was not taken, when it moved and was not.
    pub not_adopted: Option<String>,
    /// Objects new to the repository.
    pub objects: usize,
    /// Objects refused (with why) and files removed unread from the private store.
    pub refused: Vec<String>,
    /// Refs it did not own that it moved or removed (in its private copy: the repository's
    /// never moved). A security event.
    pub moved: Vec<RefMove>,
    /// Refs it made or changed that are its scratch — remote-tracking refs after a fetch, a
    /// stash, a branch of its own (discarded with the copy).
    pub created: Vec<String>,
    /// Link files it rewrote (put back). A security event.
    pub tampered: Vec<String>,
    /// Where it left the worktree's HEAD (put back on the branch).
    pub head: Option<Head>,
}

impl Quarantine {
    /// The private store of the linked worktree `name` at `worktree`, on `branch`, of the
    /// repository whose common directory is `common`.
    pub fn new(common: &Path, name: &str, worktree: &Path, branch: &str) -> Quarantine {
        let common = common.canonicalize().unwrap_or_else(|_| common.to_path_buf());
        let admin = common.join("worktrees").join(name);
        Quarantine {
            link: Link { worktree: worktree.to_path_buf(), admin, branch: branch.to_string() },
            name: name.to_string(),
            common,
        }
    }

    /// The directory an agent may write (besides its worktree and admin directory).
    pub fn dir(&self) -> PathBuf {
        self.common.join("kitty").join("quarantine").join(&self.name)
    }

    /// The repository's common directory (its own objects and refs).
    pub fn common(&self) -> &Path {
        &self.common
    }

    /// The worktree's admin directory (`<common>/worktrees/<name>`).
    pub fn admin(&self) -> &Path {
        &self.link.admin
    }

    fn given_path(&self) -> PathBuf {
        self.common.join("kitty").join("quarantine").join(format!("{}.given", self.name))
    }

    /// An earlier attempt's store was never concluded (its orchestrator died).
    pub fn pending(&self) -> bool {
        self.given_path().exists() || self.dir().exists()
    }

    /// Builds the private store and points the worktree at it. A pending one must be concluded
    /// first (this replaces it).
    pub fn open(&self, repo: &Repository) -> Result<(), WorktreeError> {
        let dir = self.dir();
        let io = |path: &Path| WorktreeError::io(path.to_path_buf());
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(io(&dir))?;
        }
        let refs = refs::snapshot(repo).map_err(WorktreeError::git("listing the refs for an attempt"))?;
        let worktree_config =
            crate::atomic_file::read_plain(&self.link.admin.join("config.worktree"), 1024 * 1024).ok();
        let given = Given { pid: std::process::id(), branch: self.link.branch.clone(), refs, worktree_config };
        std::fs::create_dir_all(dir.join("objects").join("pack")).map_err(io(&dir))?;
        std::fs::create_dir_all(dir.join("objects").join("info")).map_err(io(&dir))?;
        std::fs::create_dir_all(dir.join("refs").join("heads")).map_err(io(&dir))?;
        std::fs::create_dir_all(dir.join("refs").join("tags")).map_err(io(&dir))?;
        // Written before the worktree points anywhere new: a crash from here on is concluded.
        let record = serde_json::to_vec(&given).map_err(|e| WorktreeError::io(self.given_path())(e.into()))?;
        crate::atomic_file::replace_plain(&self.given_path(), &record).map_err(io(&self.given_path()))?;
        let alternates = dir.join("objects").join("info").join("alternates");
        let mut real = self.common.join("objects").into_os_string().into_encoded_bytes();
        real.push(b'\n');
        std::fs::write(&alternates, real).map_err(io(&alternates))?;
        refs::write_private(&dir, &given.refs, &self.own_ref()).map_err(io(&dir))?;
        for file in ["HEAD", "config"] {
            let from = self.common.join(file);
            if from.exists() {
                std::fs::copy(&from, dir.join(file)).map_err(io(&from))?;
            }
        }
        self.link_the_rest(&dir)?;
        self.link.point_at(&dir).map_err(io(&self.link.admin))
    }

    /// `info/` is copied (git updates `info/refs` when it packs, in the store's own copy);
    /// everything else of the common directory (hooks, the other worktrees, `shallow`,
    /// submodules, LFS objects…) is linked: readable as before, never writable.
    fn link_the_rest(&self, dir: &Path) -> Result<(), WorktreeError> {
        const OWN: [&str; 9] = ["objects", "refs", "logs", "packed-refs", "HEAD", "config", "kitty", "index", "info"];
        let info = self.common.join("info");
        std::fs::create_dir_all(dir.join("info")).map_err(WorktreeError::io(dir.join("info")))?;
        for entry in std::fs::read_dir(&info).into_iter().flatten().flatten() {
            if entry.file_type().is_ok_and(|t| t.is_file()) {
                let to = dir.join("info").join(entry.file_name());
                std::fs::copy(entry.path(), &to).map_err(WorktreeError::io(&to))?;
            }
        }
        let entries = std::fs::read_dir(&self.common).map_err(WorktreeError::io(&self.common))?;
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(text) = name.to_str() else { continue };
            if OWN.contains(&text) || text.ends_with(".lock") || text.ends_with("_HEAD") {
                continue;
            }
            let to = dir.join(&name);
            std::os::unix::fs::symlink(entry.path(), &to).map_err(WorktreeError::io(&to))?;
        }
        Ok(())
    }

    fn own_ref(&self) -> String {
        format!("refs/heads/{}", self.link.branch)
    }

    /// After the attempt (every process of it gone): puts the worktree's link files back, moves
    /// the new objects into the repository, reads the private refs, and moves the branch to
    /// the private branch's tip when that is a commit whose history is all in the store.
    /// `adopt = false` only reports the tip (the caller keeps it elsewhere).
    pub fn conclude(&self, repo: &Repository, adopt: bool) -> Result<Concluded, WorktreeError> {
        let given_path = self.given_path();
        let given: Option<Given> = crate::atomic_file::read_plain(&given_path, 512 * 1024 * 1024)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok());
        let restored = self.link.restore().map_err(WorktreeError::io(&self.link.admin))?;
        let mut done = Concluded { tampered: restored.tampered, ..Concluded::default() };
        if let Some(given) = &given
            && let Some(changed) = self.restore_worktree_config(given.worktree_config.as_deref())
        {
            done.tampered.push(changed);
        }
        if restored.head != Head::OnBranch {
            done.head = Some(restored.head);
        }
        let dir = self.dir();
        let odb = repo.odb().map_err(WorktreeError::git("opening the object database"))?;
        let migrated = migrate(&dir.join("objects"), &odb).map_err(WorktreeError::io(dir.join("objects")))?;
        done.objects = migrated.ids.len();
        done.refused = migrated.refused.clone();
        done.refused.extend(migrated.removed.iter().map(|p| format!("{p}: not an object file (removed unread)")));
        let (found, odd) = refs::read_private(&dir);
        done.refused.extend(odd);
        let own = self.own_ref();
        let given_refs = given.as_ref().map(|g| g.refs.clone()).unwrap_or_default();
        done.given = refs::id_of(given_refs.get(&own));
        done.tip = refs::id_of(found.get(&own));
        if given.is_some() {
            let (moved, created) = refs::changes(&given_refs, &found, &own);
            done.moved = moved;
            done.created = created;
        }
        if let Some(Target::Symbolic(to)) = found.get(&own) {
            done.not_adopted = Some(format!("{own} became a symbolic ref to {to}"));
        } else if done.tip != done.given {
            match self.check_tip(repo, &odb, &migrated.ids, done.tip) {
                Err(why) => done.not_adopted = Some(why),
                Ok(tip) if adopt => match self.move_branch(repo, done.given, tip) {
                    Ok(()) => done.adopted = true,
                    Err(why) => done.not_adopted = Some(why),
                },
                Ok(_) => {}
            }
        }
        std::fs::remove_dir_all(&dir).or_else(not_found_ok).map_err(WorktreeError::io(&dir))?;
        std::fs::remove_file(&given_path).or_else(not_found_ok).map_err(WorktreeError::io(&given_path))?;
        Ok(done)
    }

    /// Puts `<admin>/config.worktree` back as it was given (removed when there was none); says
    /// what differed, when it did.
    fn restore_worktree_config(&self, was: Option<&[u8]>) -> Option<String> {
        let path = self.link.admin.join("config.worktree");
        let now = crate::atomic_file::read_plain(&path, 1024 * 1024);
        let exists = std::fs::symlink_metadata(&path).is_ok();
        if now.as_deref().ok() == was || (!exists && was.is_none()) {
            return None;
        }
        let put_back = match was {
            Some(bytes) => crate::atomic_file::replace_plain(&path, bytes),
            None => std::fs::remove_file(&path),
        };
        let fate = if put_back.is_ok() { "put back" } else { "could not be put back" };
        Some(format!("{} was changed ({fate}): a worktree's config can name commands git runs later", path.display()))
    }

    /// The tip as a commit whose history is complete in the repository, or why not.
    fn check_tip(
        &self,
        repo: &Repository,
        odb: &git2::Odb<'_>,
        new: &std::collections::HashSet<Oid>,
        tip: Option<Oid>,
    ) -> Result<Oid, String> {
        let own = self.own_ref();
        let Some(tip) = tip else { return Err(format!("{own} was removed")) };
        match missing_from(odb, new, tip) {
            Ok(None) => {}
            Ok(Some(missing)) => return Err(format!("{own} at {tip} names {missing}, which is not in the repository")),
            Err(err) => return Err(format!("{own} at {tip} cannot be read: {}", err.message())),
        }
        match repo.find_object(tip, None).map(|o| o.kind()) {
            Ok(Some(git2::ObjectType::Commit)) => Ok(tip),
            Ok(kind) => Err(format!("{own} at {tip} is not a commit ({kind:?})")),
            Err(err) => Err(format!("{own} at {tip} cannot be read: {}", err.message())),
        }
    }

    /// Moves the branch from `given` to `tip` by compare-and-swap.
    fn move_branch(&self, repo: &Repository, given: Option<Oid>, tip: Oid) -> Result<(), String> {
        let own = self.own_ref();
        let log = "kitty: the attempt's commits, taken from its private store";
        let moved = match given {
            Some(given) => repo.reference_matching(&own, tip, true, given, log).map(|_| ()),
            None => repo.reference(&own, tip, false, log).map(|_| ()),
        };
        moved.map_err(|err| format!("{own} could not be moved to {tip}: {}", err.message()))
    }
}

fn not_found_ok(err: std::io::Error) -> std::io::Result<()> {
    if err.kind() == std::io::ErrorKind::NotFound { Ok(()) } else { Err(err) }
}
