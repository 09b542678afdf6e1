//! The orchestration engine (DESIGN.md §8): runs every WP of a feature that is not done through
//! implement → review → done, as many at once as allowed, each the moment its dependencies are
//! done — completions wake the scheduler, there is no polling loop.

mod events;
mod prompt;
mod roster;
mod summary;
mod wp;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

pub use events::{Event, EventSink, no_events};

pub use summary::{RunOutcome, RunSummary, VerifyResult, WpSummary};

use crate::config::Config;
use crate::feature::{Feature, WorkPackage, load_feature};
use crate::ids::{FeatureSlug, WpId};
use crate::lane::Lane;
use crate::state::{
    Append, HistoryEntry, Owner, RunEvent, RunState, RunStatus, StateStore, WpEvent, WpState, this_host,
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
    #[error("no feature `{name}`: expected a directory, or a slug under {}", specs.display())]
    FeatureNotFound {
        /// What was asked for.
        name: String,
        /// Where slugs are looked up.
        specs: PathBuf,
    },
}

impl EngineError {
    /// The stable code of this error's kind.
    pub fn code(&self) -> &'static str {
        match self {
            EngineError::NoAgents { .. } => "no_agents",
            EngineError::UnknownAgent { .. } => "unknown_agent",
            EngineError::FeatureNotFound { .. } => "feature_not_found",
        }
    }
}

/// Per-run choices beyond the configuration.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Implementation agents, overriding `[agents] implementation`.
    pub impl_agents: Option<Vec<String>>,
    /// Review agents, overriding `[agents] review`.
    pub review_agents: Option<Vec<String>>,
    /// Overrides `max_concurrent_wps`.
    pub max_concurrent: Option<usize>,
    /// Time between SIGTERM and SIGKILL when ending an agent.
    pub grace: Duration,
    /// First retry delay (doubles per retry, with jitter; ×4 for rate limits).
    pub retry_base: Duration,
    /// Deliver every agent output line as an [`Event::AgentOutput`].
    pub output_lines: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            impl_agents: None,
            review_agents: None,
            max_concurrent: None,
            grace: Duration::from_secs(5),
            retry_base: Duration::from_secs(2),
            output_lines: false,
        }
    }
}

impl RunOptions {
    /// Options from JSON-shaped data, as the bindings pass them: `impl_agents`/`implAgents`,
    /// `review_agents`/`reviewAgents`, `max_concurrent`/`maxConcurrent`,
    /// `output_lines`/`outputLines`, `grace_ms`/`graceMs`, `retry_base_ms`/`retryBaseMs`;
    /// absent or null keys keep their defaults.
    pub fn from_json(value: &serde_json::Value) -> RunOptions {
        let get = |snake: &str, camel: &str| value.get(snake).or_else(|| value.get(camel)).filter(|v| !v.is_null());
        let list = |snake: &str, camel: &str| {
            get(snake, camel)
                .and_then(|v| v.as_array())
                .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect::<Vec<_>>())
                .filter(|l| !l.is_empty())
        };
        let mut opts = RunOptions {
            impl_agents: list("impl_agents", "implAgents"),
            review_agents: list("review_agents", "reviewAgents"),
            max_concurrent: get("max_concurrent", "maxConcurrent").and_then(|v| v.as_u64()).map(|n| n as usize),
            output_lines: get("output_lines", "outputLines").and_then(|v| v.as_bool()).unwrap_or(false),
            ..RunOptions::default()
        };
        if let Some(ms) = get("grace_ms", "graceMs").and_then(|v| v.as_u64()) {
            opts.grace = Duration::from_millis(ms);
        }
        if let Some(ms) = get("retry_base_ms", "retryBaseMs").and_then(|v| v.as_u64()) {
            opts.retry_base = Duration::from_millis(ms);
        }
        opts
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
        (self.events)(event);
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

/// Runs the configured verification command on the merge of every WP branch, in a scratch
/// directory, through the executor (process group, timeouts, log).
async fn verify(ctx: &Ctx, command: Vec<String>) -> VerifyResult {
    let log_path = ctx.repo_root.join(".kittify/logs").join(ctx.feature.slug.as_str()).join("verify.log");
    let failed = |why: String| VerifyResult { command: command.clone(), success: false, exit_code: None, log: why };
    let scratch = match tempfile::Builder::new().prefix("kitty-verify-").tempdir() {
        Ok(dir) => dir,
        Err(err) => return failed(format!("cannot make a scratch directory: {err}")),
    };
    let ids: Vec<WpId> = ctx.feature.work_packages.iter().map(|wp| wp.id.clone()).collect();
    if let Err(err) = ctx.worktrees.checkout_merged(&ids, scratch.path()) {
        return failed(format!("cannot merge the WP branches: {err}"));
    }
    let run = crate::executor::AgentRun {
        command: crate::agents::AgentCommand {
            agent: "verify".into(),
            program: command[0].clone(),
            args: command[1..].to_vec(),
            delivery: crate::agents::Delivery::Stdin,
            output: crate::executor::OutputKind::Text,
            env: Vec::new(),
            checked_version: None,
        },
        role: crate::state::Role::Review,
        attempt: 1,
        feature: ctx.feature.slug.to_string(),
        wp: "verify".into(),
        cwd: scratch.path().to_path_buf(),
        prompt: String::new(),
        log_path: log_path.clone(),
        timeout: Duration::from_secs(ctx.config.timeout_seconds),
        idle_timeout: Duration::from_secs(ctx.config.idle_timeout_seconds),
        grace: ctx.opts.grace,
    };
    match crate::executor::execute(run, None, ctx.cancel.child_token()).await {
        Ok(outcome) => VerifyResult {
            command,
            success: outcome.success(),
            exit_code: outcome.exit.code,
            log: log_path.display().to_string(),
        },
        Err(err) => failed(err.to_string()),
    }
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

impl Orchestrator {
    /// Opens the repository at `repo`; `config` `None` loads `.kittify/orchestrator.toml` (or the
    /// defaults when it does not exist).
    pub fn open(repo: impl AsRef<Path>, config: Option<Config>) -> Result<Orchestrator, crate::Error> {
        let store = StateStore::open(repo.as_ref())?;
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

    /// Loads a feature given as a directory or as a slug under `kitty-specs/`.
    pub fn feature(&self, name: &str) -> Result<Feature, crate::Error> {
        let as_path = PathBuf::from(name);
        let specs = self.repo_root.join("kitty-specs");
        let dir = if as_path.is_dir() {
            as_path
        } else if specs.join(name).is_dir() {
            specs.join(name)
        } else {
            return Err(EngineError::FeatureNotFound { name: name.to_string(), specs }.into());
        };
        Ok(load_feature(dir)?)
    }

    fn slug(&self, feature: &str) -> Result<FeatureSlug, crate::Error> {
        match self.feature(feature) {
            Ok(f) => Ok(f.slug),
            // Status and history work from the refs alone, even without the feature files.
            Err(_) => FeatureSlug::parse(feature).map_err(|why| {
                EngineError::FeatureNotFound { name: why, specs: self.repo_root.join("kitty-specs") }.into()
            }),
        }
    }

    /// Current state of every WP with a chain, and of the run.
    pub fn status(&self, feature: &str) -> Result<(BTreeMap<WpId, WpState>, Option<RunState>), crate::Error> {
        let slug = self.slug(feature)?;
        Ok((self.store.feature_states(&slug)?, self.store.run_state(&slug)?))
    }

    /// [`Orchestrator::status`] as JSON: `{"run": …, "wps": {id: state}}` (the bindings' shape).
    pub fn status_json(&self, feature: &str) -> Result<serde_json::Value, crate::Error> {
        let (states, run) = self.status(feature)?;
        let wps: serde_json::Map<String, serde_json::Value> =
            states.iter().map(|(id, s)| (id.to_string(), serde_json::to_value(s).expect("states serialize"))).collect();
        Ok(serde_json::json!({"run": run, "wps": wps}))
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
            Some(w) => vec![WpId::parse(w).map_err(|why| EngineError::FeatureNotFound {
                name: why,
                specs: self.repo_root.join("kitty-specs"),
            })?],
            None => self.store.feature_states(&slug)?.into_keys().collect(),
        };
        let mut out = Vec::new();
        for id in ids {
            out.extend(self.store.history(&slug, &id)?);
        }
        Ok(out)
    }

    /// Moves a blocked WP back to `planned` (the next run picks it up).
    pub fn retry(&self, feature: &str, wp: &str) -> Result<WpState, crate::Error> {
        let slug = self.slug(feature)?;
        let id = WpId::parse(wp)
            .map_err(|why| EngineError::FeatureNotFound { name: why, specs: self.repo_root.join("kitty-specs") })?;
        let actor = crate::state::Actor { name: "kitty-orchestrator retry".into(), email: "retry@kitty.local".into() };
        Ok(self.store.append(&slug, &id, &Append::new(WpEvent::Retried).by(actor).body("retry requested"))?)
    }

    fn abort_file(&self, slug: &FeatureSlug) -> PathBuf {
        self.store.common_dir().join("kitty").join("abort").join(slug.as_str())
    }

    /// Aborts the feature's run: immediately if it runs in this process, else through an abort
    /// request the running orchestrator picks up within 200 ms. With no run alive, a run chain
    /// left `running` by a crash is marked aborted. Returns whether a live run was signalled.
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
        if self.store.run_state(&slug)?.is_some_and(|r| r.status == RunStatus::Running) {
            self.store.append_run(
                &slug,
                &RunEvent::Aborted { reason: "aborted with no live orchestrator (it had crashed)".into() },
                "",
            )?;
        }
        Ok(false)
    }

    /// What `run` would do: order, bases, agents and the exact argv each agent would get.
    pub fn plan(&self, feature: &str, opts: &RunOptions) -> Result<Plan, crate::Error> {
        let feature = self.feature(feature)?;
        let roster = Roster::new(&self.config, opts.impl_agents.as_deref(), opts.review_agents.as_deref())?;
        let worktrees = WorktreeManager::new(&self.repo_root, &feature, &self.config)?;
        let states = self.store.feature_states(&feature.slug)?;
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
        let mut states = self.store.feature_states(&feature.slug)?;
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
        });
        let result = self
            .schedule(&ctx, &mut states, opts.max_concurrent.unwrap_or(self.config.max_concurrent_wps), &abort_file)
            .await;
        LIVE_RUNS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(d, f, _)| !(d == &common && f == feature.slug.as_str()));
        result?;

        let states = self.store.feature_states(&feature.slug)?;
        let logs = ctx.logs.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let aborted = cancel.is_cancelled();
        let mut summary = RunSummary::from_states(
            &feature,
            &owner.run_id,
            &states,
            &logs,
            aborted,
            started.elapsed().as_millis() as u64,
        );
        if summary.outcome == RunOutcome::Completed
            && let Some(command) = self.config.verify_command.clone()
        {
            let result = verify(ctx.as_ref(), command).await;
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
    /// it again. Ends when nothing runs and nothing more can start.
    async fn schedule(
        &self,
        ctx: &Arc<Ctx>,
        states: &mut BTreeMap<WpId, WpState>,
        slots: usize,
        abort_file: &Path,
    ) -> Result<(), crate::Error> {
        let feature = ctx.feature.clone();
        let mut running: HashSet<WpId> = HashSet::new();
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
                    if running.contains(&id)
                        || skipped.contains(&id)
                        || !matches!(state.lane, Lane::Planned | Lane::Doing | Lane::ForReview)
                    {
                        continue;
                    }
                    let wp = feature.work_package(&id).expect("ids come from the feature").clone();
                    running.insert(id.clone());
                    let ctx = ctx.clone();
                    tasks.spawn(async move { (id, wp::drive(ctx, wp).await) });
                }
            }
            if tasks.is_empty() {
                return Ok(());
            }
            tokio::select! {
                joined = tasks.join_next() => {
                    let Some(joined) = joined else { continue };
                    let (id, result) = joined.map_err(|e| crate::Error::Io { path: PathBuf::from("<wp task>"), source: std::io::Error::other(e.to_string()) })?;
                    running.remove(&id);
                    match result {
                        Ok(state) => { states.insert(id, state); }
                        Err(err) => {
                            tracing::error!(wp = %id, %err, "work package stopped");
                            (ctx.events)(Event::WpBlocked { feature: feature.slug.to_string(), wp: id.to_string(), reason: err.to_string(), log: None });
                            skipped.insert(id.clone());
                            if let Ok(Some(state)) = ctx.store.wp_state(&feature.slug, &id) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_options_from_json_accept_both_spellings() {
        let snake =
            RunOptions::from_json(&serde_json::json!({"impl_agents": ["codex"], "max_concurrent": 3, "grace_ms": 250}));
        let camel =
            RunOptions::from_json(&serde_json::json!({"implAgents": ["codex"], "maxConcurrent": 3, "graceMs": 250}));
        for opts in [snake, camel] {
            assert_eq!(opts.impl_agents.as_deref(), Some(&["codex".to_string()][..]));
            assert_eq!(opts.max_concurrent, Some(3));
            assert_eq!(opts.grace, Duration::from_millis(250));
            assert!(opts.review_agents.is_none());
        }
        let defaults = RunOptions::from_json(&serde_json::json!({"impl_agents": null, "reviewAgents": []}));
        assert!(defaults.impl_agents.is_none() && defaults.review_agents.is_none());
        assert_eq!(defaults.retry_base, RunOptions::default().retry_base);
    }
}
