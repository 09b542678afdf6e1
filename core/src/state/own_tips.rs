//! Which tips of the state refs are ours. Every swap this store makes records the tip it set, so
//! a check after an agent's attempt can tell our own writes from anyone else's: an agent that is
//! not confined (or a hole in the confinement) could rewrite `refs/kitty/…` with `git
//! update-ref`, and the engine would build on a forged state without noticing.
//!
//! A check must never see a ref we already moved but have not yet recorded as moved, or it would
//! report our own write: swaps hold a shared gate around "swap, record", a check holds it
//! exclusively while it reads the refs.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, RwLock};

use git2::{ErrorCode, Oid, Repository};

use super::cas::{self, Swap};
use super::{StateError, StateStore};
use crate::ids::FeatureSlug;

/// The tips this store (and its clones) set, per ref.
#[derive(Debug, Default)]
pub(super) struct OwnTips {
    gate: RwLock<()>,
    tips: Mutex<HashMap<String, Oid>>,
}

impl OwnTips {
    /// [`cas::swap`], recording the new tip when it took.
    pub(super) fn swap(
        &self,
        repo: &Repository,
        name: &str,
        new: Oid,
        expected: Option<Oid>,
        log: &str,
    ) -> Result<Swap, git2::Error> {
        let _shared = self.gate.read().unwrap_or_else(|e| e.into_inner());
        let result = cas::swap(repo, name, new, expected, log)?;
        if let Swap::Done = result {
            self.tips.lock().unwrap_or_else(|e| e.into_inner()).insert(name.to_string(), new);
        }
        Ok(result)
    }

    fn last(&self, name: &str) -> Option<Oid> {
        self.tips.lock().unwrap_or_else(|e| e.into_inner()).get(name).copied()
    }
}

/// A ref found other than the orchestrator left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefChange {
    /// The ref.
    pub reference: String,
    /// Where we left it (`None`: it did not exist).
    pub expected: Option<Oid>,
    /// Where it is (`None`: it was deleted).
    pub found: Option<Oid>,
}

impl std::fmt::Display for RefChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let short = |o: Option<Oid>| o.map_or("nothing".to_string(), |o| o.to_string()[..12].to_string());
        write!(f, "{} (expected {}, found {})", self.reference, short(self.expected), short(self.found))
    }
}

/// The prefixes of a feature's state and backup refs.
fn prefixes(feature: &FeatureSlug) -> [String; 2] {
    [format!("refs/kitty/wp/{feature}/"), format!("refs/kitty/backup/{feature}/")]
}

impl StateStore {
    /// The feature's watched refs and their tips now: its WP chains, its run chain and its backup
    /// refs. Taken before an attempt; [`StateStore::foreign_changes`] compares with it after.
    pub fn watched_refs(&self, feature: &FeatureSlug) -> Result<BTreeMap<String, Oid>, StateError> {
        let repo = self.repo()?;
        Self::read_watched(&repo, feature)
    }

    fn read_watched(repo: &Repository, feature: &FeatureSlug) -> Result<BTreeMap<String, Oid>, StateError> {
        let mut refs = BTreeMap::new();
        let git = |what: String| StateError::git(what);
        for prefix in prefixes(feature) {
            let glob = format!("{prefix}*");
            for reference in repo.references_glob(&glob).map_err(git(format!("listing {glob}")))? {
                let reference = reference.map_err(git(format!("listing {glob}")))?;
                if let (Ok(name), Some(oid)) = (reference.name(), reference.target()) {
                    refs.insert(name.to_string(), oid);
                }
            }
        }
        let run = super::run_ref(feature);
        if let Some(oid) = Self::tip(repo, &run)? {
            refs.insert(run, oid);
        }
        Ok(refs)
    }

    /// What changed among the feature's watched refs since `before`, other than by this store: a
    /// WP or run chain not at the last tip this store set (or, if it set none, not where it was),
    /// a chain that appeared or vanished, a backup ref that moved or vanished (new backups are
    /// the engine's own, made outside this store).
    pub fn foreign_changes(
        &self,
        feature: &FeatureSlug,
        before: &BTreeMap<String, Oid>,
    ) -> Result<Vec<RefChange>, StateError> {
        let repo = self.repo()?;
        let _exclusive = self.own.gate.write().unwrap_or_else(|e| e.into_inner());
        let now = Self::read_watched(&repo, feature)?;
        let backups = &prefixes(feature)[1];
        let mut changes = Vec::new();
        let names: std::collections::BTreeSet<&String> = before.keys().chain(now.keys()).collect();
        for name in names {
            let found = now.get(name).copied();
            let expected = if name.starts_with(backups.as_str()) {
                match before.get(name) {
                    Some(oid) => Some(*oid),
                    None => continue,
                }
            } else {
                self.own.last(name).or_else(|| before.get(name).copied())
            };
            if found != expected {
                changes.push(RefChange { reference: name.clone(), expected, found });
            }
        }
        Ok(changes)
    }

    /// Puts `change.reference` back where we left it (deleting it if it did not exist), keeping
    /// what was found at `refs/kitty/quarantine/<feature>/<n>` so nothing is lost; returns that
    /// ref. Only moves the ref if it is still at what was found.
    pub fn put_back(&self, feature: &FeatureSlug, change: &RefChange) -> Result<Option<String>, StateError> {
        let repo = self.repo()?;
        let name = &change.reference;
        let git = |what: &str| StateError::git(format!("{what} {name}"));
        let kept = match change.found {
            Some(found) => Some(self.quarantine(&repo, feature, name, found)?),
            None => None,
        };
        let _shared = self.own.gate.read().unwrap_or_else(|e| e.into_inner());
        let log = "kitty: put back after a change from outside the orchestrator";
        match (change.expected, change.found) {
            (Some(expected), found) => {
                repo.reference_matching(name, expected, true, found.unwrap_or(Oid::ZERO_SHA1), log)
                    .map_err(git("restoring"))?;
                self.own.tips.lock().unwrap_or_else(|e| e.into_inner()).insert(name.clone(), expected);
            }
            (None, Some(_)) => match repo.find_reference(name) {
                Ok(mut reference) => reference.delete().map_err(git("removing"))?,
                Err(e) if e.code() == ErrorCode::NotFound => {}
                Err(e) => return Err(git("reading")(e)),
            },
            (None, None) => {}
        }
        Ok(kept)
    }

    fn quarantine(&self, repo: &Repository, feature: &FeatureSlug, from: &str, oid: Oid) -> Result<String, StateError> {
        for n in 1.. {
            let name = format!("refs/kitty/quarantine/{feature}/{n}");
            let log = format!("kitty: found at {from}, changed from outside the orchestrator");
            match cas::swap(repo, &name, oid, None, &log).map_err(StateError::git(format!("creating {name}")))? {
                Swap::Done => return Ok(name),
                Swap::Retry => continue,
            }
        }
        unreachable!("some quarantine number is free")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Append, WpEvent, wp_ref};

    fn store_with_wp() -> (tempfile::TempDir, StateStore, FeatureSlug, crate::ids::WpId) {
        let tmp = tempfile::tempdir().unwrap();
        Repository::init(tmp.path()).unwrap();
        let store = StateStore::open(tmp.path()).unwrap();
        let dir = tmp.path().join("kitty-specs/001-f/tasks");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("WP01-a.md"), "---\nwork_package_id: WP01\ntitle: A\nlane: planned\n---\n").unwrap();
        let feature = crate::feature::load_feature(tmp.path().join("kitty-specs/001-f")).unwrap();
        store.import_feature(&feature, None).unwrap();
        let id = feature.work_packages[0].id.clone();
        (tmp, store, feature.slug.clone(), id)
    }

    /// Our own writes are not foreign; an outside `update-ref` is, and putting it back keeps it.
    #[test]
    fn tells_our_writes_from_anyone_elses() {
        let (tmp, store, slug, wp) = store_with_wp();
        let before = store.watched_refs(&slug).unwrap();
        let owner = crate::state::Owner { run_id: "run-1".into(), pid: std::process::id(), host: "here".into() };
        store.append(&slug, &wp, &Append::new(WpEvent::Claimed { owner })).unwrap();
        assert_eq!(store.foreign_changes(&slug, &before).unwrap(), Vec::new());

        let repo = Repository::open(tmp.path()).unwrap();
        let name = wp_ref(&slug, &wp);
        let ours = repo.refname_to_id(&name).unwrap();
        let rogue = repo.find_commit(ours).unwrap().parent_id(0).unwrap();
        repo.reference(&name, rogue, true, "rogue").unwrap();
        let changes = store.foreign_changes(&slug, &before).unwrap();
        assert_eq!(changes, vec![RefChange { reference: name.clone(), expected: Some(ours), found: Some(rogue) }]);

        let kept = store.put_back(&slug, &changes[0]).unwrap().unwrap();
        assert_eq!(repo.refname_to_id(&name).unwrap(), ours);
        assert_eq!(repo.refname_to_id(&kept).unwrap(), rogue);
        assert_eq!(store.foreign_changes(&slug, &before).unwrap(), Vec::new());

        // A chain that appears from nowhere is foreign too, and is removed.
        repo.reference(&format!("refs/kitty/wp/{slug}/WP99"), ours, false, "rogue").unwrap();
        let changes = store.foreign_changes(&slug, &before).unwrap();
        assert_eq!(changes.len(), 1, "{changes:?}");
        store.put_back(&slug, &changes[0]).unwrap();
        assert!(repo.find_reference(&format!("refs/kitty/wp/{slug}/WP99")).is_err());
    }
}
