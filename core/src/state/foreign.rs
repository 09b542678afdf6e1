//! The state store's side of the ref check after an attempt: the feature's watched refs read
//! before, compared after (each move explained by our own swaps or by a well-formed event of
//! another command, see `own_tips`), and a foreign move put back with its tip kept in a
//! quarantine ref.

use std::collections::BTreeMap;

use git2::{ErrorCode, Oid, Repository};

use super::cas::{self, Swap};
use super::own_tips::{RefChange, SWAPS_KEPT, WatchedRefs};
use super::{StateError, StateStore, read};
use crate::ids::FeatureSlug;

/// The prefixes of a feature's state and backup refs.
fn prefixes(feature: &FeatureSlug) -> [String; 2] {
    [format!("refs/kitty/wp/{feature}/"), format!("refs/kitty/backup/{feature}/")]
}

impl StateStore {
    /// The feature's watched refs and their tips now: its WP chains, its run chain and its backup
    /// refs. Taken before an attempt; [`StateStore::foreign_changes`] compares with it after.
    pub fn watched_refs(&self, feature: &FeatureSlug) -> Result<WatchedRefs, StateError> {
        let repo = self.pooled()?;
        let _exclusive = self.own.gate.write().unwrap_or_else(|e| e.into_inner());
        let mark = self.own.made().count;
        Ok(WatchedRefs { tips: Self::read_watched(&repo, feature)?, mark })
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

    /// What changed among the feature's watched refs since `before` that neither this store nor
    /// another kitty-orchestrator command explains (see the module docs): a chain must follow
    /// from our last write since `before` (or, without one, from where it was then). A backup ref
    /// must not move or vanish (new backups are the engine's own, made outside this store).
    pub fn foreign_changes(&self, feature: &FeatureSlug, before: &WatchedRefs) -> Result<Vec<RefChange>, StateError> {
        let repo = self.pooled()?;
        let _exclusive = self.own.gate.write().unwrap_or_else(|e| e.into_inner());
        let now = Self::read_watched(&repo, feature)?;
        let backups = &prefixes(feature)[1];
        let mut changes = Vec::new();
        let names: std::collections::BTreeSet<&String> = before.tips.keys().chain(now.keys()).collect();
        for name in names {
            let (was, found) = (before.tips.get(name).copied(), now.get(name).copied());
            if name.starts_with(backups.as_str()) {
                if was.is_some() && found != was {
                    changes.push(RefChange { reference: name.clone(), expected: was, found });
                }
                continue;
            }
            let anchor = self.own.last_since(name, before.mark).or(was);
            if !self.explained(&repo, name, anchor, found) {
                changes.push(RefChange { reference: name.clone(), expected: anchor, found });
            }
        }
        Ok(changes)
    }

    /// Whether every step from `was` back from `found` is one of our swaps or another kitty command's
    /// well-formed event.
    fn explained(&self, repo: &Repository, name: &str, was: Option<Oid>, found: Option<Oid>) -> bool {
        let mut at = found;
        for _ in 0..SWAPS_KEPT {
            if at == was {
                return true;
            }
            let Some(oid) = at else { return false };
            at = match self.own.before_ours(name, oid) {
                Some(old) => old,
                None if Self::kitty_event(repo, name, oid) => {
                    repo.find_commit(oid).ok().and_then(|c| c.parent_id(0).ok())
                }
                None => return false,
            };
        }
        false
    }

    /// A commit that reads as an event of the chain `name`, authored by a kitty command (not an
    /// agent).
    fn kitty_event(repo: &Repository, name: &str, oid: Oid) -> bool {
        let Ok(commit) = repo.find_commit(oid) else { return false };
        if commit.author().email().map_or(true, |e| e.ends_with("@agents.kitty")) {
            return false;
        }
        match name.strip_prefix("refs/kitty/wp/").and_then(|rest| rest.rsplit_once('/')) {
            Some((feature, wp)) => read::wp_snapshot(read::Reader::plain(repo), name, oid, feature, wp).is_ok(),
            None => read::run_snapshot(read::Reader::plain(repo), name, oid).is_ok(),
        }
    }

    /// The tip of a state ref now (`None`: it does not exist).
    pub fn tip_of(&self, name: &str) -> Result<Option<Oid>, StateError> {
        Self::tip(&*self.pooled()?, name)
    }

    /// Moves the state ref `name` from `from` (`None`: must not exist) to `to` by compare-and-swap,
    /// as one of this store's own writes: how a chain fetched from a shared remote is adopted,
    /// and how an event the remote refused is taken back. `false`: the ref was not at `from`.
    pub fn move_chain(&self, name: &str, from: Option<Oid>, to: Oid) -> Result<bool, StateError> {
        if !name.starts_with("refs/kitty/") {
            return Err(StateError::Corrupt { reference: name.to_string(), why: "is not a state ref".into() });
        }
        let repo = self.pooled()?;
        match self
            .own
            .swap(&repo, name, to, from, "kitty: shared")
            .map_err(StateError::git(format!("moving {name}")))?
        {
            Swap::Done => Ok(true),
            Swap::Retry => Ok(false),
        }
    }

    /// Puts `change.reference` back where we left it (deleting it if it did not exist), keeping
    /// what was found at `refs/kitty/quarantine/<feature>/<n>` so nothing is lost; returns that
    /// ref. Only moves the ref if it is still at what was found.
    pub fn put_back(&self, feature: &FeatureSlug, change: &RefChange) -> Result<Option<String>, StateError> {
        let repo = self.pooled()?;
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
                self.own.record(name, found, expected);
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

    /// Keeps `oid`, found at `from` where it had no business being, at
    /// `refs/kitty/quarantine/<feature>/<n>`; returns that ref.
    pub fn keep_found(&self, feature: &FeatureSlug, from: &str, oid: Oid) -> Result<String, StateError> {
        let repo = self.pooled()?;
        self.quarantine(&repo, feature, from, oid)
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
    use crate::state::{Actor, Append, Owner, WpEvent, wp_ref};

    fn store_with_wp() -> (tempfile::TempDir, StateStore, FeatureSlug, crate::ids::WpId) {
        let tmp = tempfile::tempdir().unwrap();
        let repo = Repository::init(tmp.path()).unwrap();
        let sig = git2::Signature::now("t", "t@example.com").unwrap();
        let tree = repo.find_tree(repo.treebuilder(None).unwrap().write().unwrap()).unwrap();
        repo.commit(Some("HEAD"), &sig, &sig, "code", &tree, &[]).unwrap();
        let store = StateStore::open(tmp.path()).unwrap();
        let dir = tmp.path().join("kitty-specs/001-f/tasks");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("WP01-a.md"), "---\nwork_package_id: WP01\ntitle: A\nlane: planned\n---\n").unwrap();
        let feature = crate::feature::load_feature(tmp.path().join("kitty-specs/001-f")).unwrap();
        store.import_feature(&feature, None).unwrap();
        let id = feature.work_packages[0].id.clone();
        (tmp, store, feature.slug.clone(), id)
    }

    fn claim(store: &StateStore, slug: &FeatureSlug, wp: &crate::ids::WpId, actor: Actor) {
        let owner = Owner { run_id: "run-1".into(), pid: std::process::id(), host: "here".into() };
        store.append(slug, wp, &Append::new(WpEvent::Claimed { owner }).run("run-1").by(actor)).unwrap();
    }

    /// Our own writes are not foreign; a chain pointed at a code commit is, and putting it back
    /// keeps what was found.
    #[test]
    fn tells_our_writes_from_a_forged_tip() {
        let (tmp, store, slug, wp) = store_with_wp();
        let before = store.watched_refs(&slug).unwrap();
        claim(&store, &slug, &wp, Actor::agent("codex"));
        assert_eq!(store.foreign_changes(&slug, &before).unwrap(), Vec::new());

        let repo = Repository::open(tmp.path()).unwrap();
        let name = wp_ref(&slug, &wp);
        let ours = repo.refname_to_id(&name).unwrap();
        let code = repo.refname_to_id("HEAD").unwrap();
        repo.reference(&name, code, true, "rogue").unwrap();
        let changes = store.foreign_changes(&slug, &before).unwrap();
        assert_eq!(changes, vec![RefChange { reference: name.clone(), expected: Some(ours), found: Some(code) }]);
        let kept = store.put_back(&slug, &changes[0]).unwrap().unwrap();
        assert_eq!(repo.refname_to_id(&name).unwrap(), ours);
        assert_eq!(repo.refname_to_id(&kept).unwrap(), code);
        assert_eq!(store.foreign_changes(&slug, &before).unwrap(), Vec::new());
    }

    /// Reset to where it was before we wrote: our event is gone, so it is foreign.
    #[test]
    fn a_chain_reset_behind_our_write_is_foreign() {
        let (tmp, store, slug, wp) = store_with_wp();
        let before = store.watched_refs(&slug).unwrap();
        let repo = Repository::open(tmp.path()).unwrap();
        let name = wp_ref(&slug, &wp);
        let imported = repo.refname_to_id(&name).unwrap();
        claim(&store, &slug, &wp, Actor::orchestrator());
        repo.reference(&name, imported, true, "rogue reset").unwrap();
        let changes = store.foreign_changes(&slug, &before).unwrap();
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!(changes[0].found, Some(imported));
        assert_ne!(changes[0].expected, Some(imported));
    }

    /// Another kitty command's well-formed event (`retry` from another terminal) is not foreign;
    /// the same event authored as an agent is.
    #[test]
    fn another_commands_events_are_explained_an_agents_are_not() {
        let (tmp, store, slug, wp) = store_with_wp();
        let other_process = StateStore::open(tmp.path()).unwrap();
        let before = store.watched_refs(&slug).unwrap();
        let retry = Actor { name: "kitty-orchestrator retry".into(), email: "retry@kitty.local".into() };
        claim(&other_process, &slug, &wp, retry);
        assert_eq!(store.foreign_changes(&slug, &before).unwrap(), Vec::new());
        // And our own write on top of it is still ours.
        store.append(&slug, &wp, &Append::new(WpEvent::Released { reason: "x".into() }).run("run-1")).unwrap();
        assert_eq!(store.foreign_changes(&slug, &before).unwrap(), Vec::new());

        let before = store.watched_refs(&slug).unwrap();
        claim(&other_process, &slug, &wp, Actor::agent("codex"));
        assert_eq!(store.foreign_changes(&slug, &before).unwrap().len(), 1);
    }

    /// A chain that appears from nowhere is foreign too, and putting it back removes it.
    #[test]
    fn a_new_chain_is_foreign_and_removed() {
        let (tmp, store, slug, wp) = store_with_wp();
        let before = store.watched_refs(&slug).unwrap();
        let repo = Repository::open(tmp.path()).unwrap();
        let tip = repo.refname_to_id(&wp_ref(&slug, &wp)).unwrap();
        let forged = format!("refs/kitty/wp/{slug}/WP99");
        repo.reference(&forged, tip, false, "rogue").unwrap();
        let changes = store.foreign_changes(&slug, &before).unwrap();
        assert_eq!(changes, vec![RefChange { reference: forged.clone(), expected: None, found: Some(tip) }]);
        store.put_back(&slug, &changes[0]).unwrap();
        assert!(repo.find_reference(&forged).is_err());
    }
}
