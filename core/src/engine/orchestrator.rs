//! The entry point: one repository, one configuration. Opening, reading state (status, board,
//! history) and a person's requests (retry, release, abort); running is in `run.rs`, planning in
//! `plan.rs`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::error::EngineError;
use crate::feature::{Feature, FeatureFormat, LoadOptions, load_feature_with};
use crate::ids::{FeatureSlug, WpId};
use crate::redact::Redactor;
use crate::state::{
    Append, HistoryEntry, Liveness, RunEvent, RunState, RunStatus, StateError, StateStore, WpEvent, WpState,
    liveness_on, this_host,
};
use crate::worktree::WorktreeManager;

/// Runs in this process, by (common git dir, feature), so `abort` from another thread is immediate.
pub(super) static LIVE_RUNS: Mutex<Vec<(PathBuf, String, CancellationToken)>> = Mutex::new(Vec::new());

/// The entry point: one repository, one configuration.
#[derive(Debug, Clone)]
pub struct Orchestrator {
    pub(super) repo_root: PathBuf,
    pub(super) config: Config,
    pub(super) store: StateStore,
    pub(super) load: LoadOptions,
}

/// A feature's state in git, as `status` reads it: the run, every readable WP, and the refs that
/// could not be read. Serializes (snake_case) as the CLI's `status --json`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FeatureStatus {
    /// The feature slug.
    pub feature: String,
    /// The run chain's state (`None` before the first run).
    pub run: Option<RunState>,
    /// Every WP with a readable chain, by id.
    pub wps: BTreeMap<WpId, WpState>,
    /// Refs under the feature's prefix that could not be read, each with why.
    pub corrupt: Vec<crate::state::CorruptState>,
    /// A shared run here that cannot reach its remote: which, and since when (its results
    /// are held locally and pushed when the remote is back).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offline: Option<Offline>,
}

/// A shared run that cannot reach its remote (see [`FeatureStatus::offline`]).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Offline {
    /// The remote (credentials hidden).
    pub remote: String,
    /// When it was found unreachable (RFC 3339).
    pub since: String,
}

/// Where a shared run of `feature` says it is offline (transient, this machine's; like the abort
/// request file).
pub(super) fn offline_file(common_dir: &Path, feature: &FeatureSlug) -> PathBuf {
    common_dir.join("kitty").join("offline").join(format!("{feature}.json"))
}

/// The redactor for everything a run writes: this process's secret-named environment, URL
/// credentials and token shapes, plus every value configured in an `[agents.<id>] env` table.
pub(super) fn redactor_for(config: &Config) -> Redactor {
    let configured: Vec<(String, String)> =
        config.agents.settings.values().flat_map(|s| s.env.iter().map(|(k, v)| (k.clone(), v.clone()))).collect();
    Redactor::from_env(&[]).with_values(configured.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

impl Orchestrator {
    /// Opens the repository at `repo`; `config` `None` loads `.kittify/orchestrator.toml` (or the
    /// defaults when it does not exist).
    pub fn open(repo: impl AsRef<Path>, config: Option<Config>) -> Result<Orchestrator, crate::Error> {
        let store = StateStore::open(repo.as_ref()).map_err(|err| match err {
            StateError::Git { source, .. } => {
                EngineError::NotARepository { path: repo.as_ref().to_path_buf(), why: source.message().to_string() }
                    .into()
            }
            other => crate::Error::from(other),
        })?;
        let repo_root = store
            .common_dir()
            .parent()
            .filter(|_| store.common_dir().ends_with(".git"))
            .map(Path::to_path_buf)
            .unwrap_or_else(|| repo.as_ref().to_path_buf());
        let config = match config {
            Some(c) => c,
            None => Config::load(&repo_root)?,
        };
        let store = store.with_redactor(redactor_for(&config));
        let load = LoadOptions { format: None, include_optional: config.include_optional };
        Ok(Orchestrator { repo_root, config, store, load })
    }

    /// Reads features with `format` instead of by their path's shape (`--format`).
    pub fn with_feature_format(mut self, format: Option<FeatureFormat>) -> Orchestrator {
        self.load.format = format;
        self
    }

    /// Loads Kiro's optional tasks as WPs too (`--include-optional`; config `include_optional`).
    pub fn with_optional_tasks(mut self, include: bool) -> Orchestrator {
        self.load.include_optional = include;
        self
    }

    /// How features are read.
    pub fn load_options(&self) -> &LoadOptions {
        &self.load
    }

    /// The redactor of everything this orchestrator writes or shows: secret-named environment,
    /// URL credentials, token shapes and every value of an agent's `env` table.
    pub fn redactor(&self) -> Redactor {
        redactor_for(&self.config)
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The repository's main working directory.
    pub fn repo_root(&self) -> &Path {
        &self.repo_root
    }

    /// This machine's name in owners and heartbeats: `KITTY_HOST_ID`, else the configuration's
    /// `host_id`, else the host name.
    pub fn host_id(&self) -> String {
        match std::env::var("KITTY_HOST_ID") {
            Ok(id) if !id.trim().is_empty() => id.trim().to_string(),
            _ => self.config.host_id.clone().unwrap_or_else(this_host),
        }
    }

    /// The state store.
    pub fn store(&self) -> &StateStore {
        &self.store
    }

    fn specs(&self) -> PathBuf {
        self.repo_root.join("kitty-specs")
    }

    /// Loads a feature given as a directory or as a slug under `kitty-specs/`.
    pub fn feature(&self, name: &str) -> Result<Feature, crate::Error> {
        let as_path = PathBuf::from(name);
        let specs = self.specs();
        let in_repo = self.repo_root.join(name);
        let dir = if as_path.is_dir() || (as_path.is_file() && name.ends_with(".md")) {
            as_path
        } else if in_repo.is_file() && name.ends_with(".md") {
            in_repo
        } else if as_path.is_dir() {
            as_path
        } else if specs.join(name).is_dir() {
            specs.join(name)
        } else if self.repo_root.join(".kiro").join("specs").join(name).is_dir() {
            self.repo_root.join(".kiro").join("specs").join(name)
        } else if !name.contains('/') && self.repo_root.join(format!("{name}.md")).is_file() {
            // A task list's slug is its file name without `.md`: `merge PLAN` finds PLAN.md.
            self.repo_root.join(format!("{name}.md"))
        } else {
            return Err(EngineError::FeatureNotFound { name: name.to_string(), specs }.into());
        };
        let feature = load_feature_with(dir, &self.load)?;
        // A spec-kitty 3.x mission runs in its execution lanes, starting from its own status log.
        match crate::spec_kitty::Mission::detect(&feature, &self.primary_checkout())? {
            Some(mission) => Ok(mission.apply_to(feature)?),
            None => Ok(feature),
        }
    }

    /// The repository's main worktree (where spec-kitty keeps `.worktrees/`), also when we were
    /// opened from a linked worktree.
    pub(crate) fn primary_checkout(&self) -> PathBuf {
        let common = self.store.common_dir();
        match common.file_name() {
            Some(name) if name == ".git" => common.parent().map_or_else(|| self.repo_root.clone(), Path::to_path_buf),
            _ => self.repo_root.clone(),
        }
    }

    /// Where our lane changes go in spec-kitty's own files (`mirror`): a mission's coordination
    /// log, or an older feature's WP files and log. By default only in spec-kitty projects
    /// (`.kittify/config.yaml` or `metadata.yaml` present, or a coordination mission).
    pub(crate) fn mirror_for(
        &self,
        feature: &Feature,
        worktrees: &crate::worktree::WorktreeManager,
    ) -> Option<crate::spec_kitty::FeatureMirror> {
        use crate::config::Mirror;
        use crate::spec_kitty::{FeatureMirror, FilesMirror, MissionMirror};
        let configured = self.config.mirror;
        // Only spec-kitty's own layouts have spec-kitty files to keep in step.
        if configured == Some(Mirror::Off)
            || matches!(feature.layout, crate::feature::Layout::Kiro | crate::feature::Layout::TaskList)
        {
            return None;
        }
        let common = self.store.common_dir();
        if let Some(mission) = worktrees.mission() {
            let mirror = MissionMirror::new(mission, feature, common);
            let mirror = if configured == Some(Mirror::Write) { mirror.without_commit() } else { mirror };
            return Some(FeatureMirror::Mission(mirror));
        }
        let root = self.primary_checkout();
        let spec_kitty_project =
            ["config.yaml", "metadata.yaml"].iter().any(|f| root.join(".kittify").join(f).is_file());
        let default = match (spec_kitty_project, crate::spec_kitty::files::lane_directories(feature)) {
            (false, _) => Mirror::Off,
            // 0.8 staged its moves without committing them.
            (true, true) => Mirror::Write,
            (true, false) => Mirror::Commit,
        };
        match configured.unwrap_or(default) {
            Mirror::Off => None,
            mode => Some(FeatureMirror::Files(FilesMirror::new(feature, &root, common, mode == Mirror::Commit))),
        }
    }

    /// The slug of a feature that exists: in the feature files, or (for status and history
    /// without the files) in the refs. Anything else is `feature_not_found`, never an empty board.
    pub(super) fn slug(&self, feature: &str) -> Result<FeatureSlug, crate::Error> {
        match self.feature(feature) {
            Ok(f) => Ok(f.slug),
            Err(crate::Error::Engine(EngineError::FeatureNotFound { .. })) => {
                let not_found = || EngineError::FeatureNotFound { name: feature.to_string(), specs: self.specs() };
                let slug = FeatureSlug::parse(feature).map_err(|_| not_found())?;
                if self.store.has_feature(&slug)? { Ok(slug) } else { Err(not_found().into()) }
            }
            Err(other) => Err(other),
        }
    }

    fn wp_id(wp: &str) -> Result<WpId, crate::Error> {
        WpId::parse(wp).map_err(|why| EngineError::WpIdInvalid { id: wp.to_string(), why }.into())
    }

    /// A WP id of `slug` that has state (or, for a feature whose files are here, is one of its WPs).
    fn known_wp(&self, slug: &FeatureSlug, wp: &str) -> Result<WpId, crate::Error> {
        let id = Self::wp_id(wp)?;
        if self.store.wp_state(slug, &id)?.is_some() {
            return Ok(id);
        }
        let mut known: Vec<String> = self.store.board(slug)?.states.keys().map(WpId::to_string).collect();
        if let Ok(feature) = self.feature(slug.as_str()) {
            known = feature.work_packages.iter().map(|w| w.id.to_string()).collect();
            if feature.work_package(&id).is_some() {
                // In the files but never run: its chain does not exist yet.
                return Err(StateError::Missing { reference: crate::state::wp_ref(slug, &id) }.into());
            }
        }
        let known = if known.is_empty() { "no work package with state".to_string() } else { known.join(", ") };
        Err(EngineError::WpNotFound { feature: slug.to_string(), wp: id.to_string(), known }.into())
    }

    /// The report of a feature: outcome, per-WP work and cost, where it landed, the latest
    /// merge's verification and resolutions (see [`crate::report`]).
    pub fn report(&self, feature: &str) -> Result<crate::report::FeatureReport, crate::Error> {
        self.report_for(&self.feature(feature)?)
    }

    pub(super) fn report_for(&self, feature: &Feature) -> Result<crate::report::FeatureReport, crate::Error> {
        let verify = self.config.verify_command.as_deref();
        Ok(crate::report::build(&self.store, feature, verify, &redactor_for(&self.config))?)
    }

    /// The feature as a graph to draw: WPs with their lanes and layers, dependencies, counts
    /// per lane, and the fingerprint of the refs read (see [`crate::report::FeatureGraph`]).
    pub fn graph(&self, feature: &str) -> Result<crate::report::FeatureGraph, crate::Error> {
        let feature = self.feature(feature)?;
        // Fingerprint first: a change made while the states are read shows as a new fingerprint.
        let fingerprint = self.store.refs_fingerprint(&feature.slug)?;
        let states = self.store.feature_states(&feature.slug)?;
        Ok(crate::report::FeatureGraph::of(&feature, &states, fingerprint))
    }

    /// The fingerprint of the feature's refs (its WP chains, its run chain, its locks and
    /// leases): a hash that changes whenever any of them moves — what a watcher compares.
    pub fn refs_fingerprint(&self, feature: &str) -> Result<String, crate::Error> {
        let slug = self.slug(feature)?;
        Ok(self.store.refs_fingerprint(&slug)?)
    }

    /// A watch on this repository's refs: [`crate::state::RefWatch::changed`] returns when
    /// something under `refs/` moved (compare [`Orchestrator::refs_fingerprint`] to know whether
    /// a feature's did) — or every `poll` where the system gives no file notifications.
    pub fn watch_refs(&self, poll: std::time::Duration) -> Result<crate::state::RefWatch, crate::Error> {
        let repo =
            git2::Repository::open(&self.repo_root).map_err(crate::state::StateError::git("opening the repository"))?;
        Ok(crate::state::RefWatch::new(repo.commondir(), poll))
    }

    /// The board: every readable WP state, the refs that could not be read (each with why), and
    /// the run.
    pub fn status(&self, feature: &str) -> Result<FeatureStatus, crate::Error> {
        // Collected, then built in one go (see `StateStore::board_under`).
        let mut states = Vec::new();
        let mut status = self.status_each(feature, &mut |id, state| states.push((id, state)))?;
        status.wps = states.into_iter().collect();
        Ok(status)
    }

    /// [`Orchestrator::status`] handing each readable WP's state to `each` as soon as it is read
    /// (in ref order, not id order), so a caller can convert the first while the rest are read;
    /// the status returned has everything but [`FeatureStatus::wps`], which is left empty.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # git2::Repository::init(dir.path())?;
    /// # let tasks = dir.path().join("kitty-specs/001-demo/tasks");
    /// # std::fs::create_dir_all(&tasks)?;
    /// # std::fs::write(tasks.join("WP01-a.md"), "---\nwork_package_id: WP01\ntitle: A\n---\nDo A\n")?;
    /// let orch = kitty_orchestrator::Orchestrator::open(dir.path(), None)?;
    /// let mut lanes = Vec::new();
    /// let status = orch.status_each("001-demo", &mut |id, state| lanes.push((id, state.lane)))?;
    /// // Nothing has run yet: no state in git, and the status says so.
    /// assert!(lanes.is_empty() && status.run.is_none() && status.wps.is_empty());
    /// # Ok(()) }
    /// ```
    pub fn status_each(
        &self,
        feature: &str,
        each: &mut dyn FnMut(WpId, WpState),
    ) -> Result<FeatureStatus, crate::Error> {
        let prefix = |slug: &FeatureSlug| format!("refs/kitty/wp/{slug}/");
        // A slug with state is read straight away (listing its refs to ask whether it has
        // any would cost a tenth of the read); otherwise the name is resolved against the files.
        let found = match FeatureSlug::parse(feature) {
            Ok(slug) => {
                let mut any = false;
                let board = self.store.board_each(&slug, &prefix(&slug), &mut |id, state| {
                    any = true;
                    each(id, state)
                })?;
                let run = self.store.run_state(&slug)?;
                let any = any || run.is_some() || !board.corrupt.is_empty();
                any.then_some((slug, board, run))
            }
            Err(_) => None,
        };
        let (slug, board, run) = match found {
            Some(found) => found,
            None => {
                let slug = self.slug(feature)?;
                let board = self.store.board_each(&slug, &prefix(&slug), each)?;
                let run = self.store.run_state(&slug)?;
                (slug, board, run)
            }
        };
        Ok(FeatureStatus {
            feature: slug.to_string(),
            run,
            wps: BTreeMap::new(),
            corrupt: board.corrupt,
            // Only while a run holds the feature: a file a crashed run left says nothing.
            offline: if self.store.run_is_locked(&slug) {
                std::fs::read(offline_file(self.store.common_dir(), &slug))
                    .ok()
                    .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            } else {
                None
            },
        })
    }

    /// Every event of one WP (or of all WPs, in id order), oldest first.
    pub fn history(&self, feature: &str, wp: Option<&str>) -> Result<Vec<HistoryEntry>, crate::Error> {
        let slug = self.slug(feature)?;
        let ids: Vec<WpId> = match wp {
            Some(w) => vec![self.known_wp(&slug, w)?],
            None => self.store.board(&slug)?.states.into_keys().collect(),
        };
        let mut out = Vec::new();
        for id in ids {
            out.extend(self.store.history(&slug, &id)?);
        }
        Ok(out)
    }

    /// Moves a blocked WP back to `planned` (the next run picks it up). Lock files a killed agent
    /// left in its worktree are removed, so the next attempt is not refused by a stale
    /// `index.lock`.
    pub fn retry(&self, feature: &str, wp: &str) -> Result<WpState, crate::Error> {
        let slug = self.slug(feature)?;
        let id = self.known_wp(&slug, wp)?;
        let actor = crate::state::Actor { name: "kitty-orchestrator retry".into(), email: "retry@kitty.local".into() };
        let state = self.store.append(&slug, &id, &Append::new(WpEvent::Retried).by(actor).body("retry requested"))?;
        if let Ok(feature) = self.feature(slug.as_str())
            && let Ok(worktrees) = WorktreeManager::new(&self.repo_root, &feature, &self.config)
            && !self.store.run_is_locked(&slug)
        {
            worktrees.clear_stale_locks(&id);
        }
        Ok(state)
    }

    /// Releases a WP whose owner cannot: a run on another host (renamed, gone, a crashed
    /// container) or a dead run here. Refused while its owner is alive on this machine (abort
    /// that run instead). The WP stays in its lane with its branch and worktree, unowned, so the
    /// next run claims it and goes on.
    pub fn release(&self, feature: &str, wp: &str) -> Result<WpState, crate::Error> {
        let slug = self.slug(feature)?;
        let id = self.known_wp(&slug, wp)?;
        let reference = crate::state::wp_ref(&slug, &id);
        let state = self.store.wp_state(&slug, &id)?.ok_or(StateError::Missing { reference: reference.clone() })?;
        let Some(owner) = state.owner.clone() else {
            return Err(StateError::IllegalTransition {
                reference,
                event: "force_released",
                lane: state.lane,
                why: "nobody owns it: there is nothing to release".into(),
            }
            .into());
        };
        let host = self.host_id();
        if liveness_on(&owner, &host) == Liveness::Alive || (owner.host == host && self.store.run_is_locked(&slug)) {
            return Err(StateError::Conflict {
                reference,
                why: format!(
                    "owned by {owner}, which is alive on this machine; stop it with `kitty-orchestrator abort {slug}`"
                ),
            }
            .into());
        }
        let actor =
            crate::state::Actor { name: "kitty-orchestrator release".into(), email: "release@kitty.local".into() };
        let reason = format!("released by hand from {owner} (its host could not release it)");
        let event = WpEvent::ForceReleased { previous: owner.clone(), reason: reason.clone() };
        Ok(self.store.append(&slug, &id, &Append::new(event).by(actor).body(reason))?)
    }

    pub(super) fn abort_file(&self, slug: &FeatureSlug) -> PathBuf {
        self.store.common_dir().join("kitty").join("abort").join(slug.as_str())
    }

    /// Aborts the feature's run: immediately if it runs in this process, else through an abort
    /// request the running orchestrator picks up within 200 ms. With no run alive, a run chain
    /// left `running` by a crash is marked aborted, and every agent process the dead run left
    /// behind is ended. Returns whether a live run was signalled.
    pub fn abort(&self, feature: &str) -> Result<bool, crate::Error> {
        let slug = self.slug(feature)?;
        let common = self.store.common_dir().to_path_buf();
        let mut found = false;
        for (dir, f, token) in LIVE_RUNS.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            if *dir == common && f == slug.as_str() {
                token.cancel();
                found = true;
            }
        }
        if found {
            return Ok(true);
        }
        if self.store.run_is_locked(&slug) {
            let path = self.abort_file(&slug);
            std::fs::create_dir_all(path.parent().expect("has a parent"))
                .map_err(|source| crate::Error::Io { path: path.clone(), source })?;
            std::fs::write(&path, format!("abort requested by pid {}\n", std::process::id()))
                .map_err(|source| crate::Error::Io { path: path.clone(), source })?;
            return Ok(true);
        }
        self.end_orphans(&slug);
        if self.store.run_state(&slug)?.is_some_and(|r| r.status == RunStatus::Running) {
            self.store.append_run(
                &slug,
                &RunEvent::Aborted { reason: "aborted with no live orchestrator (it had crashed)".into() },
                "",
            )?;
        }
        Ok(false)
    }

    /// Ends every agent process group a dead run left for the feature's WPs (found by their
    /// `KITTY_*` environment; see [`crate::executor::find_agent_groups`]).
    pub(super) fn end_orphans(&self, slug: &FeatureSlug) {
        let Ok(feature) = self.feature(slug.as_str()) else { return };
        let Ok(worktrees) = WorktreeManager::new(&self.repo_root, &feature, &self.config) else { return };
        for wp in &feature.work_packages {
            let path = worktrees.path_for(&wp.id);
            for pgid in crate::executor::find_agent_groups(slug.as_str(), wp.id.as_str(), &path) {
                tracing::warn!(wp = %wp.id, pgid, "abort: ending an agent process group a dead run left behind");
                crate::executor::terminate_group_blocking(pgid, Duration::from_secs(5));
            }
            worktrees.clear_stale_locks(&wp.id);
        }
        let paths: Vec<_> = feature.work_packages.iter().map(|wp| worktrees.path_for(&wp.id)).collect();
        super::attempt_temps::remove_dead_temps(paths.iter().map(|p| p.as_path()));
    }
}
