//! The store: opening a repository's state, reading boards and histories, and every write — one
//! compare-and-swap of one ref per event.

use super::cas::CasPolicy;
use super::cas::{Backoff, Swap};
use super::error::StateError;
use super::lock::RunLock;
use super::message::trailer_value;
use super::model::{Actor, Owner, RunEvent, RunState, WpEvent, WpState};
use super::read::STATE_FILE;
use super::transition::Refusal;
use crate::feature::Feature;
use crate::ids::{FeatureSlug, WpId};
use crate::lane::Lane;

use crate::redact::Redactor;
use git2::{Oid, Repository, Signature};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Most events one WP chain holds. A WP that reaches it is refused further events
/// (`illegal_transition`); in practice a WP has tens of events (retries and review cycles are
/// bounded by configuration), so reaching it means something loops.
pub const MAX_CHAIN_EVENTS: u64 = 10_000;

/// How far back an append looks for its own event id after losing a race (idempotency).
const IDEMPOTENCY_WINDOW: usize = 16;

/// `refs/kitty/wp/<feature>/<WP>`.
pub fn wp_ref(feature: &FeatureSlug, wp: &WpId) -> String {
    format!("refs/kitty/wp/{feature}/{wp}")
}

/// `refs/kitty/run/<feature>`.
pub fn run_ref(feature: &FeatureSlug) -> String {
    format!("refs/kitty/run/{feature}")
}

/// `refs/kitty/backup/<feature>/<WP>/<n>`.
pub fn backup_ref(feature: &FeatureSlug, wp: &WpId, n: u32) -> String {
    format!("refs/kitty/backup/{feature}/{wp}/{n}")
}

/// One event to append to a WP chain.
#[derive(Debug, Clone)]
pub struct Append {
    /// What happened.
    pub event: WpEvent,
    /// Unique id of this event (a ULID); appending the same id twice records it once.
    pub event_id: String,
    /// The run writing it, if any.
    pub run_id: Option<String>,
    /// Who caused it (the commit's author).
    pub actor: Actor,
    /// Free text for the commit body (feedback, reasons, output tail…).
    pub body: String,
}

impl Append {
    /// An event by the orchestrator with a fresh id and no body.
    pub fn new(event: WpEvent) -> Append {
        Append { event, event_id: new_event_id(), run_id: None, actor: Actor::orchestrator(), body: String::new() }
    }

    /// Sets the run.
    pub fn run(mut self, run_id: impl Into<String>) -> Append {
        self.run_id = Some(run_id.into());
        self
    }

    /// Sets the author.
    pub fn by(mut self, actor: Actor) -> Append {
        self.actor = actor;
        self
    }

    /// Sets the commit body.
    pub fn body(mut self, body: impl Into<String>) -> Append {
        self.body = body.into();
        self
    }
}

/// One entry of a WP's history: the event commit, the event, and the state after it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HistoryEntry {
    /// The event commit.
    pub commit: String,
    /// The commit's subject line.
    pub subject: String,
    /// The event (the same as `state.last_event`).
    pub event: WpEvent,
    /// The state after the event.
    pub state: WpState,
}

/// What [`StateStore::import_feature`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// WPs whose chain was created now.
    pub created: Vec<String>,
    /// WPs that already had a chain (left untouched).
    pub existing: Vec<String>,
}

/// A fresh event id: a ULID (sortable by time, unique without coordination).
pub fn new_event_id() -> String {
    ulid::Ulid::generate().to_string()
}

fn now() -> String {
    jiff::Timestamp::now().round(jiff::Unit::Millisecond).map(|t| t.to_string()).unwrap_or_default()
}

/// Access to the kitty state of one repository. Cheap to clone and share between threads: each
/// operation opens its own `git2::Repository` (one per thread, as libgit2 requires).
#[derive(Debug, Clone)]
pub struct StateStore {
    pub(super) git_dir: PathBuf,
    pub(super) common_dir: PathBuf,
    pub(super) policy: CasPolicy,
    pub(super) redactor: Arc<Redactor>,
    /// The tips this store set (shared by its clones), to tell its writes from anyone else's.
    pub(super) own: Arc<super::own_tips::OwnTips>,
    /// Snapshots of event commits already read or written (shared by its clones).
    pub(super) snapshots: Arc<super::cache::SnapshotCache>,
    /// Repositories opened by earlier operations (shared by its clones).
    pub(super) pool: Arc<super::cache::RepoPool>,
    /// The committer's name and e-mail, read from git config at the first write.
    pub(super) committer: Arc<std::sync::OnceLock<(String, String)>>,
}

/// The states of a feature's WPs that could be read, and the refs that could not (each with
/// why): one corrupt ref must not hide the rest of the board.
#[derive(Debug, Clone, Default)]
pub struct Board {
    /// Readable WP states.
    pub states: BTreeMap<WpId, WpState>,
    /// Refs under the feature's prefix that are not readable WP chains.
    pub corrupt: Vec<CorruptState>,
}

/// A ref whose state could not be read, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CorruptState {
    /// The ref.
    pub reference: String,
    /// Why it cannot be read.
    pub why: String,
}

impl StateStore {
    /// Opens the repository containing `path` (a work tree, a subdirectory or a `.git` dir).
    pub fn open(path: impl AsRef<Path>) -> Result<StateStore, StateError> {
        let path = path.as_ref();
        static READ_LIKE_GIT: std::sync::Once = std::sync::Once::new();
        // libgit2 re-hashes every object it reads (SHA-1 with collision detection: a third of
        // reading a board); git itself does not, leaving that to fsck. Event snapshots are checked
        // anyway (JSON, format, ref name, trailers), so reads here skip it as git does.
        READ_LIKE_GIT.call_once(|| git2::opts::strict_hash_verification(false));
        let repo = Repository::discover(path)
            .map_err(StateError::git(format!("opening a git repository at {}", path.display())))?;
        Ok(StateStore {
            git_dir: repo.path().to_path_buf(),
            common_dir: repo.commondir().to_path_buf(),
            policy: CasPolicy::default(),
            redactor: Arc::new(Redactor::from_env(&[])),
            own: Arc::default(),
            snapshots: Arc::default(),
            pool: Arc::default(),
            committer: Arc::default(),
        })
    }

    /// Replaces the redactor applied to everything this store writes (free text of events, commit
    /// bodies, summaries, notes). The default one knows this process's secret-named environment
    /// variables, URL credentials and token shapes; the engine adds the agents' configured env.
    pub fn with_redactor(mut self, redactor: Redactor) -> StateStore {
        self.redactor = Arc::new(redactor);
        self
    }

    /// Replaces the CAS timing (tests use short deadlines).
    pub fn with_policy(mut self, policy: CasPolicy) -> StateStore {
        self.policy = policy;
        self
    }

    /// The repository's common git directory (shared by all its worktrees).
    pub fn common_dir(&self) -> &Path {
        &self.common_dir
    }

    /// Opens the repository for one operation.
    pub fn repo(&self) -> Result<Repository, StateError> {
        Repository::open(&self.git_dir).map_err(StateError::git(format!("opening {}", self.git_dir.display())))
    }

    /// A repository for one operation of this store, reused from an earlier one when possible
    /// (opening costs more than a whole state read).
    pub(super) fn pooled(&self) -> Result<super::cache::PooledRepo<'_>, StateError> {
        let repo =
            self.pool.take(&self.git_dir).map_err(StateError::git(format!("opening {}", self.git_dir.display())))?;
        Ok(super::cache::PooledRepo::new(repo, &self.pool))
    }

    /// The verified WP snapshot of event commit `oid` reached through `reference`: from the
    /// cache when this store last wrote that commit or read it as that ref's tip, else read from
    /// git (and checked against the feature and WP).
    ///
    /// `remember` keeps what was read: for the tip that a single-WP read or an append is about to
    /// build on. Not for older commits (a history walk would push the tip out: one entry per
    /// ref), and not for a board, which is read whole and once — a copy of every WP would double
    /// its memory and a third of its time — while the tips a run goes on to change are the ones
    /// it reads singly and writes, which are remembered.
    fn read_wp(
        &self,
        reader: super::read::Reader<'_>,
        reference: &str,
        oid: Oid,
        (feature, wp): (&str, &str),
        remember: bool,
    ) -> Result<WpState, StateError> {
        // An entry is kept per ref, and only after it was verified as this ref's WP (or written
        // as it): a hit needs no second check.
        if let Some(state) = self.snapshots.get(reference, oid) {
            return Ok(state);
        }
        let state = super::read::wp_snapshot(reader, reference, oid, feature, wp)?;
        if remember {
            self.snapshots.put(reference, oid, &state);
        }
        Ok(state)
    }

    /// The committer: `user.name`/`user.email` from git config, else a fixed identity.
    pub(crate) fn committer(repo: &Repository) -> Signature<'static> {
        repo.signature()
            .map(|s| s.to_owned())
            .or_else(|_| Signature::now("kitty-orchestrator", "kitty-orchestrator@localhost"))
            .expect("a fixed signature is valid")
    }

    fn author(actor: &Actor) -> Signature<'static> {
        let clean = |s: &str| trailer_value(s).replace(['<', '>'], "");
        let name = clean(&actor.name);
        let email = clean(&actor.email);
        Signature::now(if name.is_empty() { "unknown" } else { &name }, &email)
            .or_else(|_| Signature::now("unknown", "unknown@localhost"))
            .expect("a fixed signature is valid")
    }

    /// Writes the event commit holding `json` as its `state.json` (see `loose` for why not
    /// through libgit2's object writers).
    fn write_commit(
        &self,
        repo: &Repository,
        json: &[u8],
        message: &str,
        actor: &Actor,
        parent: Option<Oid>,
    ) -> Result<Oid, git2::Error> {
        let committer = self.committer.get_or_init(|| {
            let sig = Self::committer(repo);
            (
                String::from_utf8_lossy(sig.name_bytes()).into_owned(),
                String::from_utf8_lossy(sig.email_bytes()).into_owned(),
            )
        });
        let committer = Signature::now(&committer.0, &committer.1)?;
        let objects = super::odb::objects_dir(&self.common_dir);
        super::odb::write_event_commit(&objects, STATE_FILE, json, message, &Self::author(actor), &committer, parent)
            .map_err(|err| git2::Error::from_str(&format!("writing an event object into {}: {err}", objects.display())))
    }

    pub(super) fn tip(repo: &Repository, name: &str) -> Result<Option<Oid>, StateError> {
        match repo.find_reference(name) {
            Ok(r) => match r.target() {
                Some(oid) => Ok(Some(oid)),
                None => Err(StateError::Corrupt { reference: name.to_string(), why: "is a symbolic ref".into() }),
            },
            Err(e) if e.code() == git2::ErrorCode::NotFound => Ok(None),
            Err(e) => Err(StateError::git(format!("reading {name}"))(e)),
        }
    }

    /// Creates the chain of every WP of `feature` that has none, from its initial lane. Existing
    /// chains are never touched, so importing again (or racing another importer) is safe.
    pub fn import_feature(&self, feature: &Feature, run_id: Option<&str>) -> Result<ImportReport, StateError> {
        let repo = self.pooled()?;
        let mut report = ImportReport::default();
        for wp in &feature.work_packages {
            let name = wp_ref(&feature.slug, &wp.id);
            if Self::tip(&repo, &name)?.is_some() {
                report.existing.push(wp.id.to_string());
                continue;
            }
            let state = super::transition::imported(
                feature.slug.as_str(),
                wp.id.as_str(),
                wp.initial_lane,
                &new_event_id(),
                run_id,
                &now(),
            );
            let body =
                format!("Imported from {} ({} lane in the feature files).", wp.source.display(), wp.initial_lane);
            let message = super::message::compose(
                &super::message::wp_subject(None, &state),
                &body,
                &super::message::wp_trailers(&state),
            );
            let json = serde_json::to_vec_pretty(&state).expect("state serializes");
            let oid = self
                .write_commit(&repo, &json, &message, &Actor::orchestrator(), None)
                .map_err(StateError::git(format!("writing the first event of {name}")))?;
            match self
                .own
                .swap(&repo, &name, oid, None, "kitty: import")
                .map_err(StateError::git(format!("creating {name}")))?
            {
                Swap::Done => {
                    self.snapshots.put(&name, oid, &serde_json::from_slice(&json).expect("state round-trips"));
                    report.created.push(wp.id.to_string());
                }
                // Someone else created it between our read and our write: theirs stands.
                Swap::Retry => report.existing.push(wp.id.to_string()),
            }
        }
        Ok(report)
    }

    /// Current state of one WP (`None` when it was never imported): one read of the tip.
    pub fn wp_state(&self, feature: &FeatureSlug, wp: &WpId) -> Result<Option<WpState>, StateError> {
        let repo = self.pooled()?;
        let name = wp_ref(feature, wp);
        match Self::tip(&repo, &name)? {
            Some(oid) => Ok(Some(self.read_wp(
                super::read::Reader::plain(&repo),
                &name,
                oid,
                (feature.as_str(), wp.as_str()),
                true,
            )?)),
            None => Ok(None),
        }
    }

    /// A hash of every ref under `refs/kitty/` that belongs to `feature` (name and commit): it
    /// changes whenever any of them moves.
    pub fn refs_fingerprint(&self, feature: &FeatureSlug) -> Result<String, StateError> {
        use sha1::Digest;
        let repo = self.pooled()?;
        let needle = format!("/{feature}");
        let mut refs: Vec<String> = Vec::new();
        let glob = repo.references_glob("refs/kitty/*").map_err(StateError::git("listing refs/kitty"))?;
        for reference in glob.flatten() {
            let Ok(name) = reference.name() else { continue };
            if name.contains(&format!("{needle}/")) || name.ends_with(&needle) {
                refs.push(format!("{name}={}", reference.target().map(|t| t.to_string()).unwrap_or_default()));
            }
        }
        refs.sort();
        Ok(sha1::Sha1::digest(refs.join("\n").as_bytes()).iter().map(|b| format!("{b:02x}")).collect())
    }

    /// Current state of every WP of a feature that has a chain: one ref scan.
    pub fn feature_states(&self, feature: &FeatureSlug) -> Result<BTreeMap<WpId, WpState>, StateError> {
        let repo = self.pooled()?;
        let prefix = format!("refs/kitty/wp/{feature}/");
        // Every tip is read, as for a board: from the mapped packs (see `packs`).
        let packs = super::odb::Packs::open(&super::odb::objects_dir(&self.common_dir));
        let mut out = BTreeMap::new();
        let refs = repo.references_glob(&format!("{prefix}*")).map_err(StateError::git(format!("listing {prefix}")))?;
        for r in refs {
            let r = r.map_err(StateError::git(format!("listing {prefix}")))?;
            let name = r.name().unwrap_or_default().to_string();
            let Some(id) = name.strip_prefix(&prefix).and_then(|rest| WpId::parse(rest).ok()) else {
                tracing::warn!(reference = %name, "ignoring a ref that is not a WP chain");
                continue;
            };
            let oid = r
                .target()
                .ok_or_else(|| StateError::Corrupt { reference: name.clone(), why: "is a symbolic ref".into() })?;
            out.insert(
                id.clone(),
                self.read_wp(
                    super::read::Reader::with_packs(&repo, &packs),
                    &name,
                    oid,
                    (feature.as_str(), id.as_str()),
                    false,
                )?,
            );
        }
        Ok(out)
    }

    /// Like [`StateStore::feature_states`], but a ref that cannot be read is listed in
    /// [`Board::corrupt`] (with why) instead of failing the whole read.
    pub fn board(&self, feature: &FeatureSlug) -> Result<Board, StateError> {
        self.board_under(feature, &format!("refs/kitty/wp/{feature}/"))
    }

    /// [`StateStore::board`] read from the chains under another prefix — a remote's tips as
    /// fetched (`refs/kitty-remote/<remote>/wp/<feature>/`).
    pub fn board_under(&self, feature: &FeatureSlug, prefix: &str) -> Result<Board, StateError> {
        // Collected, then built in one go: inserting states one by one into the map moves
        // whole snapshots around its nodes.
        let mut states = Vec::new();
        let mut board = self.board_each(feature, prefix, &mut |id, state| states.push((id, state)))?;
        board.states = states.into_iter().collect();
        Ok(board)
    }

    /// [`StateStore::board_under`] handing each readable WP's state to `each` as soon as it is
    /// read, in ref order (not id order), so a caller can use the first while the rest are
    /// read — the bindings build their objects on one core while git is read on the other. The
    /// board returned holds only [`Board::corrupt`].
    pub fn board_each(
        &self,
        feature: &FeatureSlug,
        prefix: &str,
        each: &mut dyn FnMut(WpId, WpState),
    ) -> Result<Board, StateError> {
        let prefix = prefix.to_string();
        let mut board = Board::default();
        let mut chains = Vec::new();
        {
            let repo = self.pooled()?;
            let glob = format!("{prefix}*");
            let refs = repo.references_glob(&glob).map_err(StateError::git(format!("listing {prefix}")))?;
            for r in refs {
                let r = match r {
                    Ok(r) => r,
                    Err(err) => {
                        let why = format!("unreadable ref: {err}");
                        board.corrupt.push(CorruptState { reference: prefix.clone(), why });
                        continue;
                    }
                };
                let name = String::from_utf8_lossy(r.name_bytes()).into_owned();
                let Some(id) = name.strip_prefix(&prefix).and_then(|rest| WpId::parse(rest).ok()) else {
                    let why = "not a WP chain (the name after the feature is not a WP id)".to_string();
                    board.corrupt.push(CorruptState { reference: name, why });
                    continue;
                };
                let Some(oid) = r.target() else {
                    board.corrupt.push(CorruptState { reference: name, why: "is a symbolic ref".into() });
                    continue;
                };
                chains.push((id, name, oid));
            }
        }
        // One reader: libgit2 shares a pack between repositories behind one lock, so threads
        // reading the same pack were measured slower, not faster. The packs are mapped once for
        // the whole board (see `packs`).
        let repo = self.pooled()?;
        let packs = super::odb::Packs::open(&super::odb::objects_dir(&self.common_dir));
        let reader = super::read::Reader::with_packs(&repo, &packs);
        for (id, name, oid) in chains {
            match self.read_wp(reader, &name, oid, (feature.as_str(), id.as_str()), false) {
                Ok(state) => each(id, state),
                Err(err) => board.corrupt.push(CorruptState { reference: name, why: err.to_string() }),
            }
        }
        Ok(board)
    }

    /// Whether anything of `feature` is in the refs: a WP chain or a run chain.
    pub fn has_feature(&self, feature: &FeatureSlug) -> Result<bool, StateError> {
        let repo = self.pooled()?;
        if Self::tip(&repo, &run_ref(feature))?.is_some() {
            return Ok(true);
        }
        let prefix = format!("refs/kitty/wp/{feature}/*");
        let mut refs = repo.references_glob(&prefix).map_err(StateError::git(format!("listing {prefix}")))?;
        Ok(refs.next().is_some())
    }

    /// Every feature with state in the refs (a run chain or a WP chain), sorted.
    pub fn features(&self) -> Result<Vec<FeatureSlug>, StateError> {
        let repo = self.pooled()?;
        let mut found = std::collections::BTreeSet::new();
        for (glob, depth) in [("refs/kitty/run/*", 3), ("refs/kitty/wp/*", 3)] {
            let names = repo.references_glob(glob).map_err(StateError::git(format!("listing {glob}")))?;
            for reference in names.flatten() {
                let Ok(name) = reference.name() else { continue };
                if let Some(slug) = name.split('/').nth(depth).and_then(|s| FeatureSlug::parse(s).ok()) {
                    found.insert(slug);
                }
            }
        }
        Ok(found.into_iter().collect())
    }

    /// Every event of a WP, oldest first, with the state after each.
    pub fn history(&self, feature: &FeatureSlug, wp: &WpId) -> Result<Vec<HistoryEntry>, StateError> {
        let repo = self.pooled()?;
        let name = wp_ref(feature, wp);
        let mut next = Self::tip(&repo, &name)?;
        let mut entries = Vec::new();
        while let Some(oid) = next {
            let state =
                self.read_wp(super::read::Reader::plain(&repo), &name, oid, (feature.as_str(), wp.as_str()), false)?;
            let commit = repo.find_commit(oid).map_err(StateError::git(format!("walking {name}")))?;
            if let Some(prev) = entries.last().map(|e: &HistoryEntry| e.state.seq)
                && state.seq + 1 != prev
            {
                return Err(StateError::Corrupt {
                    reference: name,
                    why: format!("commit {oid} has seq {} but its child has seq {prev}", state.seq),
                });
            }
            next = commit.parent_id(0).ok();
            entries.push(HistoryEntry {
                commit: oid.to_string(),
                subject: commit.summary().ok().flatten().unwrap_or_default().to_string(),
                event: state.last_event.clone(),
                state,
            });
        }
        entries.reverse();
        if let Some(first) = entries.first()
            && first.state.seq != 0
        {
            return Err(StateError::Corrupt {
                reference: name,
                why: format!("the chain starts at seq {}", first.state.seq),
            });
        }
        Ok(entries)
    }

    /// The most recent owner in the chain ending at `tip` (read under `reference`, e.g. a
    /// remote's tracking ref) that is not `except_run`: who took a WP over. Looks back at most
    /// `limit` events.
    pub fn last_owner_other_than(
        &self,
        feature: &FeatureSlug,
        wp: &WpId,
        reference: &str,
        tip: Oid,
        except_run: &str,
        limit: usize,
    ) -> Result<Option<Owner>, StateError> {
        let repo = self.pooled()?;
        let mut next = Some(tip);
        for _ in 0..limit {
            let Some(oid) = next else { break };
            let state = self.read_wp(
                super::read::Reader::plain(&repo),
                reference,
                oid,
                (feature.as_str(), wp.as_str()),
                false,
            )?;
            if let Some(owner) = state.owner.filter(|o| o.run_id != except_run) {
                return Ok(Some(owner));
            }
            let commit = repo.find_commit(oid).map_err(StateError::git(format!("walking {reference}")))?;
            next = commit.parent_id(0).ok();
        }
        Ok(None)
    }

    /// Appends an event to a WP chain by compare-and-swap, re-validating it against the tip on
    /// every try. Returns the state after the event (or, when this event id is already in the
    /// chain, the state it produced then).
    pub fn append(&self, feature: &FeatureSlug, wp: &WpId, append: &Append) -> Result<WpState, StateError> {
        self.append_tracked(feature, wp, append).map(|(_, state)| state)
    }

    /// [`StateStore::append`], also returning the lane the WP was in just before the event (the
    /// state's own lane when the event was already recorded), so callers can report a lane
    /// change without reading the ref a second time.
    pub fn append_tracked(
        &self,
        feature: &FeatureSlug,
        wp: &WpId,
        append: &Append,
    ) -> Result<(Lane, WpState), StateError> {
        let repo = self.pooled()?;
        let name = wp_ref(feature, wp);
        let mut backoff = Backoff::new(self.policy);
        let mut lost_race = false;
        // Free text comes from agents: secrets are removed before anything is written.
        let event = super::model::redacted(&append.event, &self.redactor);
        let body = self.redactor.apply(&append.body);
        loop {
            let tip = Self::tip(&repo, &name)?.ok_or_else(|| StateError::Missing { reference: name.clone() })?;
            let current =
                self.read_wp(super::read::Reader::plain(&repo), &name, tip, (feature.as_str(), wp.as_str()), true)?;
            if current.event_id == append.event_id {
                return Ok((current.lane, current));
            }
            if lost_race && let Some(state) = self.find_event(&repo, &name, tip, feature, wp, &append.event_id)? {
                return Ok((state.lane, state));
            }
            if current.seq + 1 >= MAX_CHAIN_EVENTS {
                return Err(StateError::IllegalTransition {
                    reference: name,
                    event: append.event.name(),
                    lane: current.lane,
                    why: format!(
                        "the chain holds {MAX_CHAIN_EVENTS} events, the most a WP may have; something is looping"
                    ),
                });
            }
            let next = super::transition::apply(&current, &event, &append.event_id, append.run_id.as_deref(), &now())
                .map_err(|refusal| match refusal {
                Refusal::Illegal(why) => StateError::IllegalTransition {
                    reference: name.clone(),
                    event: append.event.name(),
                    lane: current.lane,
                    why,
                },
                Refusal::Conflict(why) => StateError::Conflict { reference: name.clone(), why },
            })?;
            let message = super::message::compose(
                &super::message::wp_subject(Some(&current), &next),
                &body,
                &super::message::wp_trailers(&next),
            );
            let json = serde_json::to_vec_pretty(&next).expect("state serializes");
            let oid = self
                .write_commit(&repo, &json, &message, &append.actor, Some(tip))
                .map_err(StateError::git(format!("writing an event for {name}")))?;
            match self
                .own
                .swap(&repo, &name, oid, Some(tip), "kitty: event")
                .map_err(StateError::git(format!("updating {name}")))?
            {
                Swap::Done => {
                    // What a later read of this commit will find, parsed from the bytes written,
                    // so a cached snapshot is exactly the stored one.
                    let stored: WpState = serde_json::from_slice(&json).expect("state round-trips");
                    self.snapshots.put(&name, oid, &stored);
                    return Ok((current.lane, stored));
                }
                Swap::Retry => {
                    lost_race = true;
                    if !backoff.wait(&self.common_dir, &name) {
                        return Err(backoff.gave_up(&name));
                    }
                }
            }
        }
    }

    /// Looks for `event_id` among the last events of a chain.
    fn find_event(
        &self,
        repo: &Repository,
        name: &str,
        tip: Oid,
        feature: &FeatureSlug,
        wp: &WpId,
        event_id: &str,
    ) -> Result<Option<WpState>, StateError> {
        let mut next = Some(tip);
        for _ in 0..IDEMPOTENCY_WINDOW {
            let Some(oid) = next else { break };
            let state =
                self.read_wp(super::read::Reader::plain(repo), name, oid, (feature.as_str(), wp.as_str()), false)?;
            if state.event_id == event_id {
                return Ok(Some(state));
            }
            next = repo.find_commit(oid).ok().and_then(|c| c.parent_id(0).ok());
        }
        Ok(None)
    }

    /// The run chain's current state (`None` before the first run).
    pub fn run_state(&self, feature: &FeatureSlug) -> Result<Option<RunState>, StateError> {
        let repo = self.pooled()?;
        let name = run_ref(feature);
        match Self::tip(&repo, &name)? {
            Some(oid) => Ok(Some(super::read::run_snapshot(super::read::Reader::plain(&repo), &name, oid)?)),
            None => Ok(None),
        }
    }

    /// The run chain's latest states, newest first (at most `limit`).
    pub fn recent_run_states(&self, feature: &FeatureSlug, limit: usize) -> Result<Vec<RunState>, StateError> {
        let repo = self.pooled()?;
        let name = run_ref(feature);
        let mut next = Self::tip(&repo, &name)?;
        let mut states = Vec::new();
        while let Some(oid) = next.filter(|_| states.len() < limit) {
            states.push(super::read::run_snapshot(super::read::Reader::plain(&repo), &name, oid)?);
            next = repo.find_commit(oid).ok().and_then(|c| c.parent_id(0).ok());
        }
        Ok(states)
    }

    /// Appends a run event by compare-and-swap.
    pub fn append_run(&self, feature: &FeatureSlug, event: &RunEvent, body: &str) -> Result<RunState, StateError> {
        let repo = self.pooled()?;
        let name = run_ref(feature);
        let event_id = new_event_id();
        let mut backoff = Backoff::new(self.policy);
        let event = &super::model::redacted_run(event, &self.redactor);
        let body = &self.redactor.apply(body);
        loop {
            let tip = Self::tip(&repo, &name)?;
            let current =
                tip.map(|oid| super::read::run_snapshot(super::read::Reader::plain(&repo), &name, oid)).transpose()?;
            let next = super::transition::apply_run(feature.as_str(), current.as_ref(), event, &event_id, &now())
                .map_err(|r| {
                    let why = match r {
                        Refusal::Illegal(why) | Refusal::Conflict(why) => why,
                    };
                    StateError::IllegalTransition {
                        reference: name.clone(),
                        event: event.name(),
                        lane: Lane::Planned,
                        why,
                    }
                })?;
            let message = super::message::compose(
                &super::message::run_subject(&next),
                body,
                &super::message::run_trailers(&next),
            );
            let json = serde_json::to_vec_pretty(&next).expect("state serializes");
            let oid = self
                .write_commit(&repo, &json, &message, &Actor::orchestrator(), tip)
                .map_err(StateError::git(format!("writing an event for {name}")))?;
            match self
                .own
                .swap(&repo, &name, oid, tip, "kitty: run event")
                .map_err(StateError::git(format!("updating {name}")))?
            {
                Swap::Done => return Ok(next),
                Swap::Retry => {
                    if !backoff.wait(&self.common_dir, &name) {
                        return Err(backoff.gave_up(&name));
                    }
                }
            }
        }
    }

    /// Adds one JSON record (agent, attempt, cost, verdict…) to the provenance note of a code
    /// commit, under `refs/notes/kitty`.
    pub fn add_note(&self, commit: &str, record: &serde_json::Value) -> Result<(), StateError> {
        let repo = self.pooled()?;
        let target = Oid::from_str(commit).map_err(StateError::git(format!("parsing commit id {commit}")))?;
        let line = serde_json::to_string(&self.redactor.apply_json(record)).expect("JSON value serializes");
        super::notes::append(&repo, self.policy, &Self::committer(&repo), target, &line)
    }

    /// Takes another notes history (`refs/notes/kitty` as another machine wrote it, fetched as
    /// `theirs`) into the local one: every record of both kept. Returns the local notes tip.
    pub fn absorb_notes(&self, theirs: Oid) -> Result<Oid, StateError> {
        let repo = self.pooled()?;
        super::notes::absorb(&repo, self.policy, &Self::committer(&repo), theirs)
    }

    /// The local notes tip (`refs/notes/kitty`), if any note was written.
    pub fn notes_tip(&self) -> Result<Option<Oid>, StateError> {
        Self::tip(&self.repo()?, super::notes::NOTES_REF)
    }

    /// The provenance records of a code commit.
    pub fn notes(&self, commit: &str) -> Result<Vec<serde_json::Value>, StateError> {
        let repo = self.pooled()?;
        let target = Oid::from_str(commit).map_err(StateError::git(format!("parsing commit id {commit}")))?;
        super::notes::read(&repo, target)
    }

    /// Takes this machine's run lock for `feature` (see [`RunLock`]).
    pub fn lock_run(&self, feature: &FeatureSlug, owner: &Owner) -> Result<RunLock, StateError> {
        RunLock::acquire(&self.common_dir, feature.as_str(), owner)
    }

    /// Whether any process on this machine holds the run lock of `feature`.
    pub fn run_is_locked(&self, feature: &FeatureSlug) -> bool {
        RunLock::is_held(&self.common_dir, feature.as_str())
    }

    /// Packs loose refs into `packed-refs` (listing 10k loose refs costs ~20× more than packed).
    pub fn pack_refs(&self) -> Result<(), StateError> {
        self.repo()?.refdb_compress().map_err(StateError::git("packing refs"))
    }

    /// Moves the loose event objects of `feature`'s chains (its WPs' and its run's) into one new
    /// pack; returns how many objects it packed (0: nothing loose). Refs are untouched.
    pub fn pack_objects(&self, feature: &FeatureSlug) -> Result<usize, StateError> {
        let repo = self.pooled()?;
        let prefix = format!("refs/kitty/wp/{feature}/*");
        let listing = StateError::git(format!("listing the state objects of {feature}"));
        let mut tips: Vec<Oid> = Vec::new();
        for reference in repo.references_glob(&prefix).map_err(listing)?.flatten() {
            tips.extend(reference.target());
        }
        tips.extend(Self::tip(&repo, &run_ref(feature))?);
        let objects = super::odb::objects_dir(&self.common_dir);
        super::odb::pack_chains(&repo, &objects, &tips).map_err(|why| StateError::Corrupt { reference: prefix, why })
    }
}
