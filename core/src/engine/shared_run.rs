//! A run that shares its feature with other machines through a git remote (`run --remote`,
//! `sync_remote`; DESIGN.md §5). Claims and lane changes are compare-and-swap pushes
//! ([`crate::sync::SharedState::append`]); other events ride along with the next one. A WP owned
//! by another machine is left alone while that machine's heartbeat moves, and reclaimed once this
//! machine has seen no new heartbeat for a whole lease. While the remote cannot be reached, the
//! run goes on with what it holds: results are kept locally and pushed when it is back; nothing
//! new is claimed.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use git2::Oid;
use tokio_util::sync::CancellationToken;

use super::activity::Activity;
use super::blocking::off_thread;
use crate::config::Config;
use crate::feature::{Feature, WorkPackage};
use crate::ids::{FeatureSlug, WpId};
use crate::lane::Lane;
use crate::remote::{RemoteError, Update};
use crate::state::{Append, NOTES_REF, Owner, StateError, StateStore, WpEvent, WpState, wp_ref};
use crate::sync::{Leases, SharedState, heartbeat_ref, lost_a_race, shared_run_glob, shared_run_ref};

/// What a shared run needs of the run it serves: the store, the worktrees, the WPs, the run's id,
/// the branches its tasks are on, and a place for warnings. The run's context (`Ctx`) is one;
/// naming this instead keeps the shared run below the context that holds it.
pub(super) trait RunView: Send + Sync {
    /// The state store.
    fn store(&self) -> &StateStore;
    /// The worktrees (and branch names) of the feature.
    fn worktrees(&self) -> &crate::worktree::WorktreeManager;
    /// The feature's WPs.
    fn work_packages(&self) -> &[WorkPackage];
    /// This run's id.
    fn run_id(&self) -> &str;
    /// Which branches this run's tasks are on.
    fn activity(&self) -> &Activity;
    /// Records a problem the run goes on after.
    fn warn(&self, message: String);
}

/// Each network command of a shared run gives up after this long (then the remote counts as
/// unreachable until a later command gets through).
const SHARED_TIMEOUT: Duration = Duration::from_secs(30);

/// The remote side of one shared run.
pub(super) struct SharedRun {
    shared: SharedState,
    host: String,
    slug: FeatureSlug,
    interval: Duration,
    renew: Duration,
    inner: Mutex<Inner>,
    /// One branch sync at a time: two dependents of one WP would both move its branch.
    syncing_branches: tokio::sync::Mutex<()>,
}

struct Inner {
    leases: Leases,
    /// When the remote was last found unreachable (cleared when a command gets through).
    offline_since: Option<String>,
    /// WPs whose local chain has events the remote has not been sent.
    pending: BTreeSet<WpId>,
    /// A push refused for a reason that will not go away: no more claims.
    stopped: Option<String>,
    /// The shared run chain's tip when this run started (a later one is an abort for it).
    requests_seen: Option<Oid>,
    /// An abort asked for on the remote (its summary).
    abort: Option<String>,
    /// WPs running here that the remote shows held by another run (taken over while this
    /// machine was silent): to be stopped.
    lost: Vec<(WpId, Owner)>,
}

/// Whether an event goes to the remote at once (it moves the WP between lanes or owners), or may
/// wait for the next one that does.
fn goes_out_at_once(event: &WpEvent) -> bool {
    matches!(
        event,
        WpEvent::Claimed { .. }
            | WpEvent::Reclaimed { .. }
            | WpEvent::Released { .. }
            | WpEvent::ForceReleased { .. }
            | WpEvent::Submitted { .. }
            | WpEvent::Approved { .. }
            | WpEvent::Rejected { .. }
            | WpEvent::Blocked { .. }
            | WpEvent::Canceled { .. }
            | WpEvent::Retried
            | WpEvent::Reopened { .. }
    )
}

/// The remote could not be reached (as opposed to refusing us, or a race).
fn unreachable(err: &crate::Error) -> bool {
    matches!(
        err,
        crate::Error::Remote(RemoteError::Failed { .. } | RemoteError::Timeout { .. } | RemoteError::Spawn { .. })
    )
}

impl SharedRun {
    /// The shared side of a run of `feature` on the machine `host`.
    pub(super) fn new(
        config: &Config,
        shared: SharedState,
        host: &str,
        slug: &FeatureSlug,
        cancel: CancellationToken,
    ) -> SharedRun {
        SharedRun {
            shared: shared.with_timeout(SHARED_TIMEOUT).with_cancel(cancel),
            host: host.to_string(),
            slug: slug.clone(),
            interval: Duration::from_secs(config.sync_interval_seconds),
            renew: Duration::from_secs(config.lease_renew_seconds),
            inner: Mutex::new(Inner {
                leases: Leases::new(Duration::from_secs(config.lease_seconds)),
                offline_since: None,
                pending: BTreeSet::new(),
                stopped: None,
                requests_seen: None,
                abort: None,
                lost: Vec::new(),
            }),
            syncing_branches: tokio::sync::Mutex::new(()),
        }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How often the scheduler looks at the remote while it waits on other machines.
    pub(super) fn interval(&self) -> Duration {
        self.interval
    }

    /// The remote, for messages.
    pub(super) fn remote(&self) -> String {
        self.shared.remote()
    }

    /// When the remote was found unreachable, if it still is.
    pub(super) fn offline_since(&self) -> Option<String> {
        self.inner().offline_since.clone()
    }

    fn wp_glob(&self) -> String {
        format!("refs/kitty/wp/{}/*", self.slug)
    }

    fn hosts_glob(&self) -> String {
        format!("refs/kitty/hosts/{}/*", self.slug)
    }

    fn offline_file(&self) -> std::path::PathBuf {
        super::orchestrator::offline_file(self.shared.store().common_dir(), &self.slug)
    }

    /// The run is over: whatever it noted about the remote goes.
    pub(super) fn finished(&self) {
        let _ = std::fs::remove_file(self.offline_file());
    }

    fn went_offline(&self, ctx: &dyn RunView, err: &crate::Error) {
        let mut inner = self.inner();
        if inner.offline_since.is_none() {
            let since = jiff::Timestamp::now().round(jiff::Unit::Second).map(|t| t.to_string()).unwrap_or_default();
            tracing::warn!(remote = %self.remote(), %err, "the shared remote cannot be reached; holding results locally");
            inner.offline_since = Some(since.clone());
            drop(inner);
            let offline = super::orchestrator::Offline { remote: self.remote(), since };
            let path = self.offline_file();
            let _ = std::fs::create_dir_all(path.parent().expect("has a parent"));
            if let Err(err) = std::fs::write(&path, serde_json::to_vec(&offline).unwrap_or_default()) {
                tracing::warn!(path = %path.display(), %err, "cannot note that the remote is away");
            }
            ctx.warn(format!(
                "remote {} could not be reached for a while ({err}); results were held locally and pushed when it was back",
                self.remote()
            ));
        }
    }

    fn back_online(&self) {
        let mut inner = self.inner();
        if let Some(since) = inner.offline_since.take() {
            // Silence we could not observe does not count against anyone's lease.
            inner.leases.restart_all(Instant::now());
            let _ = std::fs::remove_file(self.offline_file());
            tracing::info!(remote = %self.remote(), %since, "the shared remote is reachable again");
        }
    }

    fn observe_hosts(&self, tips: &BTreeMap<String, Oid>) {
        let prefix = format!("refs/kitty/hosts/{}/", self.slug);
        let now = Instant::now();
        let mut inner = self.inner();
        for (name, oid) in tips {
            if let Some(host) = name.strip_prefix(&prefix) {
                inner.leases.observe(host, Some(*oid), now);
            }
        }
    }

    /// At the start of a run: the remote's chains adopted, the feature imported, and chains the
    /// remote does not have yet published (another machine publishing first wins; its chain is
    /// adopted). A remote that cannot be reached now is an error: nothing is known to share.
    pub(super) async fn bootstrap(
        &self,
        store: &StateStore,
        feature: &Arc<Feature>,
        run_id: &str,
    ) -> Result<(), crate::Error> {
        for round in 0.. {
            let tips = self.shared.fetch(&[self.wp_glob(), self.hosts_glob(), shared_run_glob(&self.slug)]).await?;
            self.observe_hosts(&tips);
            self.inner().requests_seen = tips.get(&shared_run_ref(&self.slug)).copied();
            for wp in &feature.work_packages {
                let name = wp_ref(&feature.slug, &wp.id);
                self.shared.adopt(&name, tips.get(&name).copied())?;
            }
            let (s, f, run) = (store.clone(), feature.clone(), run_id.to_string());
            off_thread(move || s.import_feature(&f, Some(&run))).await??;
            let mut new = BTreeMap::new();
            for wp in &feature.work_packages {
                let name = wp_ref(&feature.slug, &wp.id);
                if !tips.contains_key(&name)
                    && let Some(tip) = store.tip_of(&name)?
                {
                    new.insert(name, tip);
                }
            }
            if self.shared.publish_new(&new).await? {
                return Ok(());
            }
            if round >= 20 {
                return Err(StateError::Conflict {
                    reference: format!("refs/kitty/wp/{}", feature.slug),
                    why: format!("other machines kept publishing first on remote {}", self.remote()),
                }
                .into());
            }
            tokio::time::sleep(Duration::from_millis(20 + fastrand::u64(0..50))).await;
        }
        unreachable!("the loop returns")
    }

    /// Appends `append` (already stamped with the run) to `wp`'s chain: through the remote when
    /// it moves the WP, locally (sent with the next) otherwise. While the remote cannot be
    /// reached, or after it refused us for good, a lane change is held locally — but a claim is
    /// not made at all (two machines must never both hold a WP).
    pub(super) async fn record(
        &self,
        ctx: &dyn RunView,
        wp: &WorkPackage,
        append: Append,
    ) -> Result<WpState, crate::Error> {
        let claim = matches!(append.event, WpEvent::Claimed { .. } | WpEvent::Reclaimed { .. });
        let stopped = self.inner().stopped.clone();
        if claim && let Some(why) = stopped {
            return Err(StateError::Conflict { reference: wp_ref(&self.slug, &wp.id), why }.into());
        }
        if !goes_out_at_once(&append.event) || self.offline_since().is_some() && !claim {
            return self.hold(ctx, wp, append).await;
        }
        let also = self.branch_update(ctx, wp, &append.event)?;
        match self.shared.append(&self.slug, &wp.id, &append, &also).await {
            Ok(shared) => {
                self.back_online();
                self.inner().pending.remove(&wp.id);
                Ok(shared.state)
            }
            Err(err) if unreachable(&err) => {
                self.went_offline(ctx, &err);
                if claim { Err(err) } else { self.hold(ctx, wp, append).await }
            }
            Err(crate::Error::Remote(RemoteError::Rejected { rejected, .. })) => {
                let why = format!(
                    "remote {} refused {} for good, so this machine claims nothing more: {}",
                    self.remote(),
                    rejected.iter().map(|(r, _)| r.as_str()).collect::<Vec<_>>().join(", "),
                    rejected.iter().map(|(r, why)| format!("{r}: {why}")).collect::<Vec<_>>().join("; ")
                );
                tracing::error!(%why, "a shared write was refused");
                ctx.warn(why.clone());
                self.inner().stopped = Some(why.clone());
                if claim {
                    return Err(StateError::Conflict { reference: wp_ref(&self.slug, &wp.id), why }.into());
                }
                self.hold(ctx, wp, append).await
            }
            Err(err) => Err(err),
        }
    }

    /// A local append, marked as not on the remote yet.
    async fn hold(&self, ctx: &dyn RunView, wp: &WorkPackage, append: Append) -> Result<WpState, crate::Error> {
        let (store, slug, id) = (ctx.store().clone(), self.slug.clone(), wp.id.clone());
        let state = off_thread(move || store.append(&slug, &id, &append)).await??;
        self.inner().pending.insert(wp.id.clone());
        Ok(state)
    }

    /// A submitted or done WP's branch goes to the remote with the event, leased on the tip the
    /// remote had (and never pushed over commits it lacks).
    fn branch_update(&self, ctx: &dyn RunView, wp: &WorkPackage, event: &WpEvent) -> Result<Vec<Update>, crate::Error> {
        if !matches!(event, WpEvent::Submitted { .. } | WpEvent::Approved { .. }) {
            return Ok(Vec::new());
        }
        self.branch_push(ctx, wp)
    }

    /// The WP's branch as an update leased on the remote's tip (none when it has no branch).
    fn branch_push(&self, ctx: &dyn RunView, wp: &WorkPackage) -> Result<Vec<Update>, crate::Error> {
        let branch = ctx.worktrees().branch(&wp.id);
        let reference = format!("refs/heads/{branch}");
        let repo = ctx.store().repo()?;
        let Some(new) = repo.find_reference(&reference).ok().and_then(|r| r.target()) else {
            return Ok(Vec::new());
        };
        let old = self.shared.tracked_branch(&branch)?;
        if let Some(old) = old
            && old != new
            && !repo.graph_descendant_of(new, old).map_err(StateError::git(format!("comparing {reference}")))?
        {
            return Err(StateError::Conflict {
                reference,
                why: format!(
                    "remote {} has commits on it ({old}) this machine's branch lacks; fetch them into the WP's worktree",
                    self.remote()
                ),
            }
            .into());
        }
        Ok(vec![Update { reference, new, old }])
    }

    /// Before `wp`'s worktree is made: its dependencies' branches set to the remote's tips (a base
    /// is made only from commits the remote has), and its own branch fetched when this machine
    /// has none (a WP reclaimed after it was submitted elsewhere goes on from there).
    pub(super) async fn sync_bases(&self, ctx: &dyn RunView, wp: &WorkPackage) -> Result<(), crate::Error> {
        let deps: Vec<String> = wp.dependencies.iter().map(|d| ctx.worktrees().branch(d)).collect();
        let own = ctx.worktrees().branch(&wp.id);
        let has_own = ctx.store().repo()?.find_reference(&format!("refs/heads/{own}")).is_ok();
        let mut branches = deps.clone();
        if !has_own {
            branches.push(own);
        }
        if branches.is_empty() {
            return Ok(());
        }
        let _one_at_a_time = self.syncing_branches.lock().await;
        // Moving other WPs' branches is ours, not an agent's (see `ref_guard`).
        let _working: Vec<_> = deps.iter().map(|b| ctx.activity().enter(b.clone())).collect();
        match self.shared.sync_branches(&branches).await {
            Ok(_) => {
                self.back_online();
                Ok(())
            }
            Err(err) => {
                if unreachable(&err) {
                    self.went_offline(ctx, &err);
                }
                Err(err)
            }
        }
    }

    /// Another machine holds `state`'s WP and its lease is alive: leave it alone.
    pub(super) fn owned_elsewhere(&self, state: &WpState) -> bool {
        match &state.owner {
            Some(owner) if owner.host != self.host && matches!(state.lane, Lane::Doing | Lane::ForReview) => {
                !self.inner().leases.expired(&owner.host, Instant::now())
            }
            _ => false,
        }
    }

    /// How long the owner of `state` (on another machine) has been silent, if a whole lease.
    pub(super) fn lapsed(&self, owner: &Owner) -> Option<Duration> {
        let mut inner = self.inner();
        let now = Instant::now();
        inner.leases.expired(&owner.host, now).then(|| inner.leases.silent_for(&owner.host, now))
    }

    /// Whether `wp` has events the remote has not been sent (a dependent must not build on it).
    pub(super) fn is_pending(&self, wp: &WpId) -> bool {
        self.inner().pending.contains(wp)
    }

    /// Whether the scheduler, with nothing of its own running, must keep waiting: results to
    /// send, WPs held by other machines (done there, or reclaimed here when they go silent), or
    /// WPs this machine could not claim yet.
    pub(super) fn must_wait(&self, states: &BTreeMap<WpId, WpState>, deferred: &HashSet<WpId>) -> bool {
        let inner = self.inner();
        // Refused for good: what is held here cannot be sent either; the run ends and says why.
        if inner.stopped.is_some() {
            return false;
        }
        if !inner.pending.is_empty() {
            return true;
        }
        let elsewhere = states.values().any(|s| {
            matches!(s.lane, Lane::Doing | Lane::ForReview) && s.owner.as_ref().is_some_and(|o| o.host != self.host)
        });
        elsewhere || !deferred.is_empty()
    }

    /// A look at the remote while waiting: `ls-remote` first, a fetch only of what moved, every
    /// chain not worked on here adopted, held results sent. `running` WPs are left to their own
    /// tasks. Returns the states now, or `None` when the remote could not be reached.
    pub(super) async fn refresh(
        &self,
        ctx: &dyn RunView,
        running: &HashSet<WpId>,
    ) -> Result<Option<BTreeMap<WpId, WpState>>, crate::Error> {
        let globs = [self.wp_glob(), self.hosts_glob(), shared_run_glob(&self.slug), NOTES_REF.to_string()];
        let listed = match self.shared.ls_remote(&globs).await {
            Ok(listed) => listed,
            Err(err) if unreachable(&err) => {
                self.went_offline(ctx, &err);
                return Ok(None);
            }
            Err(err) => return Err(err),
        };
        self.back_online();
        let listed: BTreeMap<String, Oid> = listed.into_iter().collect();
        self.observe_hosts(&listed);
        self.look_for_abort(listed.get(&shared_run_ref(&self.slug)).copied()).await;
        let notes = listed.get(NOTES_REF).copied();
        let prefix = format!("refs/kitty/wp/{}/", self.slug);
        let remote: BTreeMap<String, Oid> = listed.into_iter().filter(|(n, _)| n.starts_with(&prefix)).collect();
        if self.shared.tracked(&prefix)? != remote {
            match self.shared.fetch(&[self.wp_glob()]).await {
                Ok(_) => {}
                Err(err) if unreachable(&err) => {
                    self.went_offline(ctx, &err);
                    return Ok(None);
                }
                Err(err) => return Err(err),
            }
        }
        self.look_for_lost(ctx, running, &prefix)?;
        for wp in ctx.work_packages() {
            if running.contains(&wp.id) {
                continue;
            }
            let name = wp_ref(&self.slug, &wp.id);
            let theirs = remote.get(&name).copied();
            if self.is_pending(&wp.id) {
                self.send_held(ctx, wp, &name, theirs).await?;
            } else {
                self.shared.adopt(&name, theirs)?;
            }
        }
        for found in self.shared.rewound() {
            ctx.warn(found.to_string());
        }
        self.share_notes(ctx, notes).await;
        Ok(Some(ctx.store().board(&self.slug)?.states))
    }

    /// Notes written here or on the remote since the last look are merged both ways
    /// (`remote_tip`: the remote's notes as just listed). A failure costs only provenance on the
    /// remote, never the run: it is said, and the next look tries again.
    async fn share_notes(&self, ctx: &dyn RunView, remote_tip: Option<Oid>) {
        if ctx.store().notes_tip().ok().flatten() == remote_tip {
            return;
        }
        match self.shared.share_notes(remote_tip).await {
            Ok(_) => {}
            Err(err) if unreachable(&err) => self.went_offline(ctx, &err),
            Err(err) => {
                tracing::warn!(%err, "the provenance notes could not be shared");
                ctx.warn(format!(
                    "the provenance notes ({NOTES_REF}) could not be shared with remote {}: {err}; they stay here and are tried again",
                    self.remote()
                ));
            }
        }
    }

    /// At the end of the run: this machine's last notes go to the remote.
    pub(super) async fn send_last_notes(&self, ctx: &dyn RunView) {
        match self.shared.ls_remote(&[NOTES_REF.to_string()]).await {
            Ok(listed) => self.share_notes(ctx, listed.get(NOTES_REF).copied()).await,
            Err(err) if unreachable(&err) => self.went_offline(ctx, &err),
            Err(err) => tracing::warn!(%err, "the remote's notes could not be listed"),
        }
    }

    /// The shared run chain moved since this run started: someone asked every machine to abort.
    async fn look_for_abort(&self, tip: Option<Oid>) {
        let Some(tip) = tip else { return };
        if self.inner().requests_seen == Some(tip) || self.inner().abort.is_some() {
            return;
        }
        // The request's text, for the message (an abort with no text is still an abort).
        let _ = self.shared.fetch(&[shared_run_glob(&self.slug)]).await;
        let why = format!("{} on remote {}", self.shared.request_summary(tip), self.remote());
        tracing::warn!(%why, "an abort was requested on the remote");
        self.inner().abort = Some(why);
    }

    /// WPs running here whose chain on the remote (as last fetched) moved past ours, written by
    /// another run: that machine reclaimed them while this one could not renew its lease (and
    /// may have finished them since, so the remote's state need not name an owner any more).
    fn look_for_lost(&self, ctx: &dyn RunView, running: &HashSet<WpId>, prefix: &str) -> Result<(), crate::Error> {
        if running.is_empty() {
            return Ok(());
        }
        let tracked = self.shared.tracked(prefix)?;
        let repo = ctx.store().repo()?;
        let mut lost = Vec::new();
        for id in running {
            let name = wp_ref(&self.slug, id);
            let (Some(theirs), Some(ours)) = (tracked.get(&name).copied(), ctx.store().tip_of(&name)?) else {
                continue;
            };
            // A tip we already built on is old news: only a chain that moved past ours counts.
            let past_ours = theirs != ours
                && !repo.graph_descendant_of(ours, theirs).map_err(StateError::git(format!("comparing {name}")))?;
            if !past_ours {
                continue;
            }
            let under = crate::sync::tracking_ref(self.shared.tracking_key(), &name);
            let taker = ctx.store().last_owner_other_than(&self.slug, id, &under, theirs, ctx.run_id(), 64)?;
            if let Some(owner) = taker {
                lost.push((id.clone(), owner));
            }
        }
        let mut inner = self.inner();
        for (id, owner) in lost {
            if !inner.lost.iter().any(|(l, _)| *l == id) {
                inner.lost.push((id, owner));
            }
        }
        Ok(())
    }

    /// The WPs found lost since the last call (see `look_for_lost`).
    pub(super) fn take_lost(&self) -> Vec<(WpId, Owner)> {
        std::mem::take(&mut self.inner().lost)
    }

    /// An abort asked for on the remote since this run started, if any.
    pub(super) fn abort_requested(&self) -> Option<String> {
        self.inner().abort.clone()
    }

    /// Pushes a chain holding events the remote has not had (leased on the remote's tip). The
    /// remote moved meanwhile (another machine reclaimed the WP while this one was away): its
    /// chain wins and ours is kept aside (see [`SharedState::adopt`]).
    async fn send_held(
        &self,
        ctx: &dyn RunView,
        wp: &WorkPackage,
        name: &str,
        theirs: Option<Oid>,
    ) -> Result<(), crate::Error> {
        let Some(ours) = ctx.store().tip_of(name)? else { return Ok(()) };
        // A lease only says the remote did not move since we looked; held events are sent only
        // on top of what the remote has (another machine may have reclaimed the WP meanwhile).
        if let Some(theirs) = theirs
            && theirs != ours
            && !ctx
                .store()
                .repo()?
                .graph_descendant_of(ours, theirs)
                .map_err(StateError::git(format!("comparing {name}")))?
        {
            return self.superseded(ctx, wp, name, Some(theirs));
        }
        let mut updates = vec![Update { reference: name.to_string(), new: ours, old: theirs }];
        let state = ctx.store().wp_state(&self.slug, &wp.id)?;
        if state.is_some_and(|s| matches!(s.lane, Lane::ForReview | Lane::Done)) {
            updates.extend(self.branch_push(ctx, wp)?);
        }
        match self.shared.push(&updates).await {
            Ok(()) => {
                self.inner().pending.remove(&wp.id);
                Ok(())
            }
            Err(err) if unreachable(&err) => {
                self.went_offline(ctx, &err);
                Ok(())
            }
            Err(crate::Error::Remote(RemoteError::Rejected { rejected, .. }))
                if rejected.iter().all(|(_, why)| lost_a_race(why)) =>
            {
                let fetched = self.shared.fetch(&[name.to_string()]).await?;
                self.superseded(ctx, wp, name, fetched.get(name).copied())
            }
            Err(err) => Err(err),
        }
    }

    /// Another machine wrote `wp`'s chain while ours held events: theirs is adopted, ours kept
    /// under `refs/kitty/superseded/`, and the user told.
    fn superseded(
        &self,
        ctx: &dyn RunView,
        wp: &WorkPackage,
        name: &str,
        theirs: Option<Oid>,
    ) -> Result<(), crate::Error> {
        self.shared.adopt(name, theirs)?;
        self.inner().pending.remove(&wp.id);
        ctx.warn(format!(
            "{} was written by another machine while this one could not reach {}; its chain was adopted and ours kept under refs/kitty/superseded/",
            wp.id,
            self.remote()
        ));
        Ok(())
    }

    /// Renews this machine's lease until `stop`: a new heartbeat every `lease_renew_seconds`.
    pub(super) async fn heartbeats(self: Arc<Self>, ctx: Arc<dyn RunView>, stop: CancellationToken) {
        let reference = heartbeat_ref(&self.slug, &self.host);
        let mut beat = 0u64;
        loop {
            beat += 1;
            let text = format!(
                "kitty heartbeat: {} #{beat}\n\nKitty-Host: {}\nKitty-Run: {}\n",
                self.host,
                self.host,
                ctx.run_id()
            );
            match self.shared.heartbeat(&reference, &text).await {
                Ok(_) => self.back_online(),
                Err(err) if unreachable(&err) => self.went_offline(&*ctx, &err),
                Err(err) => tracing::warn!(%err, "a heartbeat was not pushed"),
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(self.renew) => {}
            }
        }
    }
}
