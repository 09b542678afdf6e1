//! The orchestration engine (DESIGN.md §8): runs every WP of a feature that is not done through
//! implement → review → done, as many at once as allowed, each the moment its dependencies are
//! done — completions wake the scheduler, there is no polling loop.

mod commands;
mod events;
mod options;
mod prompt;
mod roster;
mod summary;
mod wp;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

pub use events::{Event, EventSink, no_events};
pub use options::{MAX_CONCURRENT, MAX_GRACE, MAX_RETRY_BASE, RunOptions};
pub use summary::{CorruptState, RunOutcome, RunSummary, VerifyResult, WpSummary};

use crate::config::Config;
use crate::feature::{Feature, WorkPackage, load_feature};
use crate::ids::{FeatureSlug, WpId};
use crate::lane::Lane;
use crate::redact::Redactor;
use crate::state::{
    Append, Board, HistoryEntry, Liveness, Owner, RunEvent, RunState, RunStatus, StateError, StateStore, WpEvent,
    WpState, liveness, this_host,
};
use crate::worktree::WorktreeManager;
use roster::Roster;

/// Errors that stop a run from starting.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// No installed, enabled agent for a role.
    #[error(
        "no {role} agent is available: tried {tried}; install one of them or change [agents] {role} in .kittify/orchestrator.toml"
    )]
    NoAgents {
        /// The role.
        role: String,
        /// What was tried (agent and program).
        tried: String,
    },
    /// An agent id that is neither built in nor configured.
    #[error("unknown agent `{id}`: built-in agents are {}; custom ones need an [agents.{id}] table with a `command`", crate::agents::BUILTIN_AGENT_IDS.join(", "))]
    UnknownAgent {
        /// The id.
        id: String,
    },
    /// The feature was not found.
    #[error("no feature `{name}`: expected a directory, or a slug under {} (or a feature with state in this repository's refs)", specs.display())]
    FeatureNotFound {
        /// What was asked for.
        name: String,
        /// Where slugs are looked up.
        specs: PathBuf,
    },
    /// Text given as a WP id is not one.
    #[error("{why}")]
    WpIdInvalid {
        /// What was given.
        id: String,
        /// What is wrong with it.
        why: String,
    },
    /// A well-formed WP id that the feature does not have.
    #[error("feature {feature} has no work package {wp} (it has {known})")]
    WpNotFound {
        /// The feature slug.
        feature: String,
        /// The WP id.
        wp: String,
        /// The WPs it has.
        known: String,
    },
    /// The path given as the repository is not inside a git repository.
    #[error("{}: not a git repository ({why}); run from inside one, or pass --repo <path>", path.display())]
    NotARepository {
        /// The path.
        path: PathBuf,
        /// What git said.
        why: String,
    },
    /// Something inside the orchestrator failed (a bug): the message says what.
    #[error("internal error: {0}")]
    Internal(String),
}

impl EngineError {
    /// The stable code of this error's kind.
    pub fn code(&self) -> &'static str {
        match self {
            EngineError::NoAgents { .. } => "no_agents",
            EngineError::UnknownAgent { .. } => "unknown_agent",
            EngineError::FeatureNotFound { .. } => "feature_not_found",
            EngineError::WpIdInvalid { .. } => "wp_id_invalid",
            EngineError::WpNotFound { .. } => "wp_not_found",
            EngineError::NotARepository { .. } => "not_a_repository",
            EngineError::Internal(_) => "internal",
        }
    }
}

/// Shared by the WP tasks of one run.
pub(crate) struct Ctx {
    feature: Arc<Feature>,
    store: StateStore,
    worktrees: WorktreeManager,
    roster: Roster,
    config: Config,
    owner: Owner,
    events: EventSink,
    cancel: CancellationToken,
    repo_root: PathBuf,
    opts: RunOptions,
    logs: Mutex<BTreeMap<String, Vec<String>>>,
    redactor: Arc<Redactor>,
}

impl Ctx {
    fn state_of(&self, wp: &WorkPackage) -> Result<WpState, crate::Error> {
        self.store.wp_state(&self.feature.slug, &wp.id)?.ok_or_else(|| {
            crate::state::StateError::Missing { reference: crate::state::wp_ref(&self.feature.slug, &wp.id) }.into()
        })
    }

    /// Appends an event (as this run) and reports a lane change.
    fn record(&self, wp: &WorkPackage, append: Append) -> Result<WpState, crate::Error> {
        let append = append.run(&self.owner.run_id);
        let (from, after) = self.store.append_tracked(&self.feature.slug, &wp.id, &append)?;
        if from != after.lane {
            self.emit(Event::LaneChanged {
                feature: self.feature.slug.to_string(),
                wp: wp.id.to_string(),
                from,
                to: after.lane,
                agent: after.agent.clone(),
            });
        }
        Ok(after)
    }

    fn emit(&self, event: Event) {
        (self.events)(event.redacted(&self.redactor));
    }

    fn add_log(&self, wp: &WorkPackage, log: &str) {
        self.logs.lock().unwrap_or_else(|e| e.into_inner()).entry(wp.id.to_string()).or_default().push(log.to_string());
    }
}

/// One WP in a dry-run plan.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PlannedWp {
    /// WP id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Lane now (from git state, else the feature files).
    pub lane: Lane,
    /// Dependencies.
    pub dependencies: Vec<String>,
    /// What its worktree starts from.
    pub base: String,
    /// First implementation agent (fallbacks follow the role list).
    pub implementer: String,
    /// First reviewer.
    pub reviewer: String,
    /// The implementer's exact argv (`{prompt}`/`{prompt_file}` are filled in at run time).
    pub implementation_argv: Vec<String>,
    /// The reviewer's exact argv.
    pub review_argv: Vec<String>,
}

/// What `run` would do, without doing it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Plan {
    /// Feature slug.
    pub feature: String,
    /// Branch WPs without dependencies start from.
    pub target_branch: String,
    /// WPs in a stable topological order.
    pub wps: Vec<PlannedWp>,
    /// Implementation agents in fallback order.
    pub implementation_agents: Vec<String>,
    /// Review agents in fallback order.
    pub review_agents: Vec<String>,
    /// WPs in flight at once.
    pub max_concurrent: usize,
}

/// Runs in this process, by (common git dir, feature), so `abort` from another thread is immediate.
static LIVE_RUNS: Mutex<Vec<(PathBuf, String, CancellationToken)>> = Mutex::new(Vec::new());

/// The entry point: one repository, one configuration.
#[derive(Debug, Clone)]
pub struct Orchestrator {
    repo_root: PathBuf,
    config: Config,
    store: StateStore,
}

/// The redactor for everything a run writes: this process's secret-named environment, URL
/// credentials and token shapes, plus every value configured in an `[agents.<id>] env` table.
fn redactor_for(config: &Config) -> Redactor {
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
        Ok(Orchestrator { repo_root, config, store })
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The repository's main working directory.
    pub fn repo_root(&self) -> &Path {
        &self.repo_root
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
        let dir = if as_path.is_dir() {
            as_path
        } else if specs.join(name).is_dir() {
            specs.join(name)
        } else {
            return Err(EngineError::FeatureNotFound { name: name.to_string(), specs }.into());
        };
        Ok(load_feature(dir)?)
    }

    /// The slug of a feature that exists: in the feature files, or (for status and history
    /// without the files) in the refs. Anything else is `feature_not_found`, never an empty board.
    fn slug(&self, feature: &str) -> Result<FeatureSlug, crate::Error> {
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

    /// Current state of every readable WP chain, and of the run (a corrupt ref is left out: see
    /// [`Orchestrator::board`]).
    pub fn status(&self, feature: &str) -> Result<(BTreeMap<WpId, WpState>, Option<RunState>), crate::Error> {
        let (board, run) = self.board(feature)?;
        Ok((board.states, run))
    }

    /// The board: every readable WP state, the refs that could not be read (each with why), and
    /// the run.
    pub fn board(&self, feature: &str) -> Result<(Board, Option<RunState>), crate::Error> {
        let slug = self.slug(feature)?;
        Ok((self.store.board(&slug)?, self.store.run_state(&slug)?))
    }

    /// [`Orchestrator::status`] as JSON: `{"run": …, "wps": {id: state}, "corrupt": […]}` (the
    /// bindings' shape).
    pub fn status_json(&self, feature: &str) -> Result<serde_json::Value, crate::Error> {
        let (board, run) = self.board(feature)?;
        let wps: serde_json::Map<String, serde_json::Value> = board
            .states
            .iter()
            .map(|(id, s)| (id.to_string(), serde_json::to_value(s).expect("states serialize")))
            .collect();
        let corrupt: Vec<serde_json::Value> =
            board.corrupt.iter().map(|(r, why)| serde_json::json!({"reference": r, "why": why})).collect();
        Ok(serde_json::json!({"run": run, "wps": wps, "corrupt": corrupt}))
    }

    /// [`Orchestrator::history`] as JSON: `[{"commit", "subject", "event", "state"}, …]`.
    pub fn history_json(&self, feature: &str, wp: Option<&str>) -> Result<serde_json::Value, crate::Error> {
        let entries = self.history(feature, wp)?;
        Ok(serde_json::Value::Array(
            entries
                .iter()
                .map(|e| serde_json::json!({"commit": e.commit, "subject": e.subject, "event": e.state.last_event, "state": e.state}))
                .collect(),
        ))
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
        if liveness(&owner) == Liveness::Alive || (owner.host == this_host() && self.store.run_is_locked(&slug)) {
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

    fn abort_file(&self, slug: &FeatureSlug) -> PathBuf {
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
    fn end_orphans(&self, slug: &FeatureSlug) {
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
    }

    /// What `run` would do: order, bases, agents and the exact argv each agent would get.
    pub fn plan(&self, feature: &str, opts: &RunOptions) -> Result<Plan, crate::Error> {
        opts.validate()?;
        let feature = self.feature(feature)?;
        let roster = Roster::new(&self.config, opts.impl_agents.as_deref(), opts.review_agents.as_deref())?;
        let worktrees = WorktreeManager::new(&self.repo_root, &feature, &self.config)?;
        let states = self.store.board(&feature.slug)?.states;
        let implementer = roster.candidates(crate::state::Role::Implementation)[0].clone();
        let reviewer = roster
            .candidates(crate::state::Role::Review)
            .iter()
            .find(|r| self.config.single_agent_mode == (**r == implementer))
            .unwrap_or(&roster.candidates(crate::state::Role::Review)[0])
            .clone();
        let argv = |agent: &str, role| {
            let command = roster.spec(agent).expect("roster agents have specs").command(role);
            let mut argv = vec![command.program.clone()];
            argv.extend(command.args.iter().cloned());
            if command.delivery == crate::agents::Delivery::Stdin {
                argv.push("< prompt on stdin".into());
            }
            argv
        };
        let wps = feature
            .topological_order()
            .iter()
            .map(|id| {
                let wp = feature.work_package(id).expect("ids come from the feature");
                let base = match wp.dependencies.as_slice() {
                    [] => worktrees.target_branch().to_string(),
                    [one] => worktrees.name(one),
                    many => {
                        format!("merge of {}", many.iter().map(|d| worktrees.name(d)).collect::<Vec<_>>().join(", "))
                    }
                };
                PlannedWp {
                    id: id.to_string(),
                    title: wp.title.clone(),
                    lane: states.get(id).map_or(wp.initial_lane, |s| s.lane),
                    dependencies: wp.dependencies.iter().map(|d| d.to_string()).collect(),
                    base,
                    implementer: implementer.clone(),
                    reviewer: reviewer.clone(),
                    implementation_argv: argv(&implementer, crate::state::Role::Implementation),
                    review_argv: argv(&reviewer, crate::state::Role::Review),
                }
            })
            .collect();
        Ok(Plan {
            feature: feature.slug.to_string(),
            target_branch: worktrees.target_branch().to_string(),
            wps,
            implementation_agents: roster.candidates(crate::state::Role::Implementation).to_vec(),
            review_agents: roster.candidates(crate::state::Role::Review).to_vec(),
            max_concurrent: opts.max_concurrent.unwrap_or(self.config.max_concurrent_wps),
        })
    }

    /// Runs (or resumes) `feature` until nothing more can start. Blocks only the calling task;
    /// cancel `cancel` (or call [`Orchestrator::abort`]) to abort.
    pub async fn run(
        &self,
        feature: &str,
        opts: RunOptions,
        events: EventSink,
        cancel: CancellationToken,
    ) -> Result<RunSummary, crate::Error> {
        opts.validate()?;
        let started = Instant::now();
        let feature = Arc::new(self.feature(feature)?);
        let roster = Roster::new(&self.config, opts.impl_agents.as_deref(), opts.review_agents.as_deref())?;
        let owner = Owner { run_id: crate::state::new_event_id(), pid: std::process::id(), host: this_host() };
        let _lock = self.store.lock_run(&feature.slug, &owner)?;
        let abort_file = self.abort_file(&feature.slug);
        let _ = std::fs::remove_file(&abort_file);
        let worktrees = WorktreeManager::new(&self.repo_root, &feature, &self.config)?;
        self.store.import_feature(&feature, Some(&owner.run_id))?;
        self.store.append_run(
            &feature.slug,
            &RunEvent::Started { owner: owner.clone() },
            &format!("pid {} on {}", owner.pid, owner.host),
        )?;
        let board = self.store.board(&feature.slug)?;
        let redactor = Arc::new(redactor_for(&self.config));
        // A WP whose chain cannot be read is left alone (and said), the others go on.
        for (reference, why) in &board.corrupt {
            tracing::error!(reference = %reference, %why, "skipping a WP whose state cannot be read");
            events(
                Event::WpBlocked {
                    feature: feature.slug.to_string(),
                    wp: reference.rsplit('/').next().unwrap_or_default().to_string(),
                    reason: format!("its state cannot be read ({reference}: {why})"),
                    log: None,
                }
                .redacted(&redactor),
            );
        }
        let mut states = board.states;
        let done_at_start = states.values().filter(|s| s.lane == Lane::Done).count();
        events(Event::RunStarted {
            feature: feature.slug.to_string(),
            run_id: owner.run_id.clone(),
            wps: feature.work_packages.len(),
            done: done_at_start,
        });

        let common = self.store.common_dir().to_path_buf();
        LIVE_RUNS.lock().unwrap_or_else(|e| e.into_inner()).push((
            common.clone(),
            feature.slug.to_string(),
            cancel.clone(),
        ));
        let ctx = Arc::new(Ctx {
            feature: feature.clone(),
            store: self.store.clone(),
            worktrees,
            roster,
            config: self.config.clone(),
            owner: owner.clone(),
            events: events.clone(),
            cancel: cancel.clone(),
            repo_root: self.repo_root.clone(),
            opts: opts.clone(),
            logs: Mutex::new(BTreeMap::new()),
            redactor: redactor.clone(),
        });
        let result = self
            .schedule(&ctx, &mut states, opts.max_concurrent.unwrap_or(self.config.max_concurrent_wps), &abort_file)
            .await;
        LIVE_RUNS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(d, f, _)| !(d == &common && f == feature.slug.as_str()));
        result?;

        let board = self.store.board(&feature.slug)?;
        let logs = ctx.logs.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let aborted = cancel.is_cancelled();
        let mut summary = RunSummary::from_board(
            &feature,
            &owner.run_id,
            &board,
            &logs,
            aborted,
            started.elapsed().as_millis() as u64,
        );
        if summary.outcome == RunOutcome::Completed
            && let Some(command) = self.config.verify_command.clone()
        {
            let result = commands::verify(ctx.as_ref(), command).await;
            if !result.success {
                summary.outcome = RunOutcome::Blocked;
            }
            summary.verify = Some(result);
        }
        let event = if aborted {
            RunEvent::Aborted { reason: "abort requested".into() }
        } else {
            RunEvent::Finished { summary: serde_json::to_value(&summary).expect("summary serializes") }
        };
        self.store.append_run(
            &feature.slug,
            &event,
            &format!(
                "{:?}: {} done, {} blocked, {} remaining",
                summary.outcome, summary.done, summary.blocked, summary.remaining
            ),
        )?;
        let _ = std::fs::remove_file(&abort_file);
        if let Err(err) = self.store.pack_refs() {
            tracing::warn!(%err, "could not pack refs at the end of the run");
        }
        events(Event::RunFinished {
            feature: feature.slug.to_string(),
            run_id: owner.run_id.clone(),
            summary: summary.clone(),
        });
        Ok(summary)
    }

    /// Starts every WP whose dependencies are done while slots are free; each completion wakes
    /// it again. Ends when nothing runs and nothing more can start. A WP task that fails or
    /// panics ends as that WP blocked (a panic is recorded with its message), and the rest of
    /// the run goes on.
    async fn schedule(
        &self,
        ctx: &Arc<Ctx>,
        states: &mut BTreeMap<WpId, WpState>,
        slots: usize,
        abort_file: &Path,
    ) -> Result<(), crate::Error> {
        let feature = ctx.feature.clone();
        let mut running: HashMap<tokio::task::Id, WpId> = HashMap::new();
        let mut skipped: HashSet<WpId> = HashSet::new();
        let mut tasks = tokio::task::JoinSet::new();
        let mut abort_check = tokio::time::interval(Duration::from_millis(200));
        loop {
            if !ctx.cancel.is_cancelled() {
                let done: HashSet<WpId> =
                    states.iter().filter(|(_, s)| s.lane == Lane::Done).map(|(id, _)| id.clone()).collect();
                for id in feature.graph().ready(&done) {
                    if running.len() >= slots {
                        break;
                    }
                    let Some(state) = states.get(&id) else { continue };
                    if running.values().any(|r| *r == id)
                        || skipped.contains(&id)
                        || !matches!(state.lane, Lane::Planned | Lane::Doing | Lane::ForReview)
                    {
                        continue;
                    }
                    let wp = feature.work_package(&id).expect("ids come from the feature").clone();
                    let ctx = ctx.clone();
                    let handle = tasks.spawn(wp::drive(ctx, wp));
                    running.insert(handle.id(), id);
                }
            }
            if tasks.is_empty() {
                return Ok(());
            }
            tokio::select! {
                joined = tasks.join_next_with_id() => {
                    let Some(joined) = joined else { continue };
                    let (task, result) = match joined {
                        Ok((task, result)) => (task, result),
                        Err(err) => {
                            let task = err.id();
                            let why = panic_message(err);
                            (task, Err(EngineError::Internal(why).into()))
                        }
                    };
                    let Some(id) = running.remove(&task) else { continue };
                    match result {
                        Ok(state) => { states.insert(id, state); }
                        Err(err) => {
                            tracing::error!(wp = %id, %err, "work package stopped");
                            skipped.insert(id.clone());
                            let state = match &err {
                                crate::Error::Engine(EngineError::Internal(why)) => wp::block_after_panic(ctx, &id, why),
                                _ => {
                                    ctx.emit(Event::WpBlocked {
                                        feature: feature.slug.to_string(),
                                        wp: id.to_string(),
                                        reason: err.to_string(),
                                        log: None,
                                    });
                                    None
                                }
                            };
                            if let Some(state) = state.or_else(|| ctx.store.wp_state(&feature.slug, &id).ok().flatten()) {
                                states.insert(id, state);
                            }
                        }
                    }
                }
                _ = abort_check.tick() => {
                    if abort_file.exists() {
                        ctx.cancel.cancel();
                    }
                }
            }
        }
    }
}

/// The message of a panicked (or cancelled) task.
fn panic_message(err: tokio::task::JoinError) -> String {
    if err.is_cancelled() {
        return "its task was cancelled".into();
    }
    let payload = err.into_panic();
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into());
    format!("the work package's task panicked: {text}")
}
