//! Fetching a feature's chains from the shared remote, adopting them locally, and appending an
//! event as a compare-and-swap on the remote.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use git2::Oid;
use tokio_util::sync::CancellationToken;

use crate::ids::{FeatureSlug, WpId};
use crate::redact::Redactor;
use crate::remote::{self, RemoteError, Update};
use crate::state::{Append, StateError, StateStore, WpState, wp_ref};

/// Give up a shared write that keeps losing races after this long.
const RACE_DEADLINE: Duration = Duration::from_secs(60);

/// `refs/kitty/…` → `refs/kitty-remote/<remote>/…`: where the remote's tip of a state ref is kept
/// as last fetched (never pushed).
pub fn tracking_ref(remote: &str, name: &str) -> String {
    let rest = name.strip_prefix("refs/kitty/").unwrap_or(name);
    format!("refs/kitty-remote/{remote}/{rest}")
}

/// How `remote` is named in tracking refs: a remote's name as it is, a URL (not a valid ref
/// component) as `url-<hash of it>` — so `--remote https://…` works and never puts a URL, or
/// the credentials in one, in a ref name.
pub fn tracking_key(remote: &str) -> String {
    if crate::ids::check_ref_component(remote).is_ok() && !remote.contains(':') {
        return remote.to_string();
    }
    let hash = Oid::hash_object(git2::ObjectType::Blob, remote.as_bytes()).map(|o| o.to_string()).unwrap_or_default();
    format!("url-{}", &hash[..hash.len().min(12)])
}

/// A chain the remote no longer has as it had it: force-pushed back (or rewritten) since we last
/// looked. It is not adopted — that would redo work already done, or undo what was recorded —
/// its WP is blocked here, and its tracking ref keeps what the remote had, so every later look
/// finds the same until a person decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewound {
    /// The state ref.
    pub name: String,
    /// The remote's tip when we last looked.
    pub had: Oid,
    /// Its tip now, which does not contain `had`.
    pub has: Oid,
}

impl std::fmt::Display for Rewound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the shared chain {} moved backwards on the remote (it had {}, it has {}, which does not contain it): not adopted",
            self.name, self.had, self.has
        )
    }
}

/// One repository's view of a shared remote.
#[derive(Clone)]
pub struct SharedState {
    store: StateStore,
    /// Chains found rewound on the remote (see [`Rewound`]).
    rewound: Arc<std::sync::Mutex<BTreeMap<String, Rewound>>>,
    /// The remote's name in tracking refs (see [`tracking_key`]).
    key: String,
    repo: PathBuf,
    remote: String,
    redactor: Arc<Redactor>,
    timeout: Duration,
    cancel: CancellationToken,
}

/// A shared write that took: the state, and how long it took (fetch to accepted push).
#[derive(Debug, Clone)]
pub struct Shared {
    /// The WP's state after the event.
    pub state: WpState,
    /// Pushes refused because another machine moved the chain first.
    pub lost_races: u32,
    /// From the first fetch to the accepted push.
    pub latency: Duration,
}

impl SharedState {
    /// The remote `remote` (a name or a URL) of the repository at `repo`, whose state is `store`.
    pub fn new(store: StateStore, repo: &Path, remote: &str, redactor: Arc<Redactor>) -> SharedState {
        SharedState {
            key: tracking_key(remote),
            rewound: Arc::default(),
            store,
            repo: repo.to_path_buf(),
            remote: remote.to_string(),
            redactor,
            timeout: remote::NETWORK_TIMEOUT,
            cancel: CancellationToken::new(),
        }
    }

    /// Ends every network command in flight (and refuses new ones) when `cancel` is.
    pub fn with_cancel(mut self, cancel: CancellationToken) -> SharedState {
        self.cancel = cancel;
        self
    }

    /// Stops each network command after `timeout` (default [`remote::NETWORK_TIMEOUT`]): a run
    /// sharing its state uses a short one, so an unreachable remote is found quickly.
    pub fn with_timeout(mut self, timeout: Duration) -> SharedState {
        self.timeout = timeout;
        self
    }

    /// The remote's name (or URL), redacted.
    pub fn remote(&self) -> String {
        self.redactor.apply(&self.remote)
    }

    /// The remote's name (or URL) as given: what git is called with.
    pub(super) fn remote_name(&self) -> &str {
        &self.remote
    }

    /// The remote's name in tracking refs (`refs/kitty-remote/<key>/…`).
    pub fn tracking_key(&self) -> &str {
        &self.key
    }

    /// The state store.
    pub fn store(&self) -> &StateStore {
        &self.store
    }

    pub(super) fn repo_path(&self) -> &Path {
        &self.repo
    }

    pub(super) fn timeout(&self) -> Duration {
        self.timeout
    }

    pub(super) fn cancel(&self) -> &CancellationToken {
        &self.cancel
    }

    pub(super) fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// Fetches the given state refs (a glob like `refs/kitty/wp/<feature>/*` works) into their
    /// tracking refs, pruning those gone from the remote; returns the remote's tips by state ref.
    pub async fn fetch(&self, names: &[String]) -> Result<BTreeMap<String, Oid>, crate::Error> {
        let before = self.tracked_tips(names)?;
        let mut args = vec!["fetch".into(), "--quiet".into(), "--no-tags".into(), "--no-write-fetch-head".into()];
        args.push("--prune".into());
        args.push("--".into());
        args.push(self.remote.clone());
        args.extend(names.iter().map(|n| format!("+{n}:{}", tracking_ref(&self.key, n))));
        let out = remote::run_git(&self.repo, &args, self.timeout, &self.cancel, &self.redactor).await?;
        if !out.success() {
            return Err(RemoteError::Failed {
                remote: self.remote(),
                command: format!("git fetch {}", self.remote()),
                why: out.why(),
            }
            .into());
        }
        let repo = self.store.repo()?;
        let mut tips = BTreeMap::new();
        for name in names {
            let glob = tracking_ref(&self.key, name);
            let listed = repo.references_glob(&glob).map_err(StateError::git(format!("listing {glob}")))?;
            for reference in listed.flatten() {
                if let (Ok(tracked), Some(oid)) = (reference.name(), reference.target()) {
                    let prefix = format!("refs/kitty-remote/{}/", self.key);
                    let state = format!("refs/kitty/{}", tracked.strip_prefix(&prefix).unwrap_or(tracked));
                    tips.insert(state, oid);
                }
            }
        }
        self.find_rewound(&repo, &before, &tips)?;
        Ok(tips)
    }

    /// The tracking refs' tips of `names` (state ref → tip), as last fetched.
    fn tracked_tips(&self, names: &[String]) -> Result<BTreeMap<String, Oid>, crate::Error> {
        let repo = self.store.repo()?;
        let prefix = format!("refs/kitty-remote/{}/", self.key);
        let mut tips = BTreeMap::new();
        for name in names {
            let glob = tracking_ref(&self.key, name);
            for reference in repo.references_glob(&glob).map_err(StateError::git(format!("listing {glob}")))?.flatten()
            {
                if let (Ok(tracked), Some(oid)) = (reference.name(), reference.target()) {
                    tips.insert(format!("refs/kitty/{}", tracked.strip_prefix(&prefix).unwrap_or(tracked)), oid);
                }
            }
        }
        Ok(tips)
    }

    /// WP chains whose new remote tip does not contain the one we had: noted (see [`Rewound`]),
    /// and their tracking refs put back to what the remote had. Only WP chains: heartbeats and
    /// abort requests are replaced on purpose (each a new parentless commit).
    fn find_rewound(
        &self,
        repo: &git2::Repository,
        before: &BTreeMap<String, Oid>,
        now: &BTreeMap<String, Oid>,
    ) -> Result<(), crate::Error> {
        for (name, has) in now.iter().filter(|(name, _)| name.starts_with("refs/kitty/wp/")) {
            let Some(had) = before.get(name).copied().filter(|had| had != has) else { continue };
            let contains = repo.graph_descendant_of(*has, had).unwrap_or(false);
            if contains {
                continue;
            }
            let found = Rewound { name: name.clone(), had, has: *has };
            tracing::warn!(remote = %self.remote(), "{found}");
            let tracking = tracking_ref(&self.key, name);
            repo.reference(&tracking, had, true, "kitty: the remote's chain moved backwards; kept what it had")
                .map_err(StateError::git(format!("keeping {tracking}")))?;
            self.rewound.lock().unwrap_or_else(|e| e.into_inner()).insert(name.clone(), found);
        }
        Ok(())
    }

    /// The chains found rewound on the remote so far.
    pub fn rewound(&self) -> Vec<Rewound> {
        self.rewound.lock().unwrap_or_else(|e| e.into_inner()).values().cloned().collect()
    }

    /// A rewound WP chain's WP, blocked here (unless it is done already, or past blocking):
    /// nothing is redone from a history someone rewound.
    fn block_rewound(&self, found: &Rewound) {
        let Some((feature, wp)) = found.name.strip_prefix("refs/kitty/wp/").and_then(|r| r.rsplit_once('/')) else {
            return;
        };
        let (Ok(feature), Ok(wp)) = (FeatureSlug::parse(feature), WpId::parse(wp)) else { return };
        let Some(state) = self.store.wp_state(&feature, &wp).ok().flatten() else { return };
        use crate::lane::Lane;
        if !matches!(state.lane, Lane::Planned | Lane::Doing | Lane::ForReview) {
            return;
        }
        let reason = format!(
            "{found}; look at the remote's history of {wp}, then push the chain back, or accept the rewind (`git update-ref -d {}`) and `retry`",
            tracking_ref(&self.key, &found.name)
        );
        let actor = crate::state::Actor { name: "kitty-orchestrator sync".into(), email: "sync@kitty.local".into() };
        let mut append = Append::new(crate::state::WpEvent::Blocked { reason }).by(actor);
        // Blocked on behalf of whichever run holds it (the block stays local: nothing is pushed).
        if let Some(owner) = &state.owner {
            append = append.run(&owner.run_id);
        }
        if let Err(err) = self.store.append(&feature, &wp, &append) {
            tracing::warn!(%wp, %err, "a WP whose shared chain was rewound could not be blocked");
        }
    }

    /// Brings the local chain `name` to the remote's tip `theirs`: adopted when the remote is
    /// ahead (or the local chain is not on the remote at all, as after a local import), kept when
    /// the local chain is the remote's plus events not pushed yet — and never when the remote's
    /// chain moved backwards since we last looked ([`Rewound`]: the WP is blocked instead).
    /// Returns the local tip.
    pub fn adopt(&self, name: &str, theirs: Option<Oid>) -> Result<Option<Oid>, crate::Error> {
        let ours = self.store.tip_of(name)?;
        let Some(theirs) = theirs else { return Ok(ours) };
        let rewound = self.rewound.lock().unwrap_or_else(|e| e.into_inner()).get(name).cloned();
        if let Some(found) = rewound.filter(|r| r.has == theirs) {
            self.block_rewound(&found);
            return Ok(self.store.tip_of(name)?);
        }
        let repo = self.store.repo()?;
        let keep = match ours {
            Some(ours) if ours == theirs => true,
            Some(ours) => {
                repo.graph_descendant_of(ours, theirs).map_err(StateError::git(format!("comparing {name}")))?
            }
            None => false,
        };
        if keep {
            return Ok(ours);
        }
        if let Some(ours) = ours {
            self.keep_superseded(&repo, name, ours, theirs)?;
        }
        if !self.store.move_chain(name, ours, theirs)? {
            return Err(
                StateError::Conflict { reference: name.to_string(), why: "moved while it was adopted".into() }.into()
            );
        }
        Ok(Some(theirs))
    }

    /// Local events the remote's chain does not contain (another machine wrote the chain while
    /// ours was not pushed: it reclaimed the WP, or we were offline) are kept at
    /// `refs/kitty/superseded/<chain>/<commit>` before the chain is adopted — never dropped. A
    /// chain that is only our own import (no parent) is not worth keeping.
    fn keep_superseded(&self, repo: &git2::Repository, name: &str, ours: Oid, theirs: Oid) -> Result<(), crate::Error> {
        let contained = repo.graph_descendant_of(theirs, ours).map_err(StateError::git(format!("comparing {name}")))?;
        let commit = repo.find_commit(ours).map_err(StateError::git(format!("reading {name}")))?;
        if contained || commit.parent_count() == 0 {
            return Ok(());
        }
        let rest = name.strip_prefix("refs/kitty/").unwrap_or(name);
        let kept = format!("refs/kitty/superseded/{rest}/{ours}");
        repo.reference(&kept, ours, true, "kitty: local events the shared chain superseded")
            .map_err(StateError::git(format!("keeping {kept}")))?;
        tracing::warn!(chain = name, kept = %kept, "the remote's chain superseded local events; they are kept");
        Ok(())
    }

    /// Appends `append` to `wp`'s chain as a shared write: fetch, adopt, append locally, push with
    /// the fetched tip as lease (with `also`, atomically). Refused because the remote moved: the
    /// local event is taken back and the loop starts over (backoff with jitter), so the event is
    /// re-validated against the new state — an event that no longer applies (the WP was claimed
    /// elsewhere) ends as that error. A remote that cannot be reached is an error too: the local
    /// event is taken back.
    pub async fn append(
        &self,
        feature: &FeatureSlug,
        wp: &WpId,
        append: &Append,
        also: &[Update],
    ) -> Result<Shared, crate::Error> {
        let name = wp_ref(feature, wp);
        let started = Instant::now();
        let mut lost_races = 0;
        let mut backoff = Duration::from_millis(5);
        loop {
            let theirs = self.fetch(std::slice::from_ref(&name)).await?.get(&name).copied();
            let before = self.adopt(&name, theirs)?;
            let (store, f, w, a) = (self.store.clone(), feature.clone(), wp.clone(), append.clone());
            let state = tokio::task::spawn_blocking(move || store.append(&f, &w, &a))
                .await
                .map_err(|e| crate::error::EngineError::Internal(format!("a shared write did not finish: {e}")))??;
            let after = self.store.tip_of(&name)?.ok_or_else(|| StateError::Missing { reference: name.clone() })?;
            let mut updates = vec![Update { reference: name.clone(), new: after, old: theirs }];
            updates.extend(also.iter().cloned());
            match remote::push(&self.repo, &self.remote, &updates, self.timeout, &self.cancel, &self.redactor).await {
                Ok(_) => {
                    self.track(&name, after);
                    return Ok(Shared { state, lost_races, latency: started.elapsed() });
                }
                Err(err) => {
                    // Taken back: the next round re-validates against what the remote has.
                    if let Some(before) = before.filter(|b| *b != after) {
                        self.store.move_chain(&name, Some(after), before)?;
                    }
                    let raced = matches!(&err, RemoteError::Rejected { rejected, .. }
                        if rejected.iter().all(|(_, why)| lost_a_race(why)));
                    if !raced {
                        return Err(err.into());
                    }
                    lost_races += 1;
                    if started.elapsed() > RACE_DEADLINE {
                        return Err(StateError::Conflict {
                            reference: name,
                            why: format!("gave up after losing {lost_races} races on remote {}", self.remote()),
                        }
                        .into());
                    }
                    let jitter = Duration::from_micros(fastrand::u64(0..=backoff.as_micros() as u64));
                    tokio::time::sleep(backoff / 2 + jitter / 2).await;
                    backoff = (backoff * 2).min(Duration::from_millis(500));
                }
            }
        }
    }

    /// Records that the remote now has `tip` for `name` (after our own accepted push).
    pub(super) fn track(&self, name: &str, tip: Oid) {
        if let Ok(repo) = self.store.repo() {
            let _ = repo.reference(&tracking_ref(&self.key, name), tip, true, "kitty: pushed");
        }
    }
}

/// Whether git's reason for refusing a ref says another writer got there first (the lease no
/// longer held, checked by us or under the server's ref lock), rather than a refusal that will
/// not go away (a hook, a protected ref, permissions).
pub fn lost_a_race(why: &str) -> bool {
    const RACES: [&str; 7] = [
        "stale info",
        "fetch first",
        "non-fast-forward",
        "atomic transaction failed",
        "cannot lock ref",
        "failed to update ref",
        "incorrect old value",
    ];
    RACES.iter().any(|r| why.contains(r))
}
