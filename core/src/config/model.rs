//! The configuration's values, with their defaults — written once, here.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::command::{Delivery, OutputKind};
use crate::merge_strategy::MergeStrategy;
use crate::template::{BranchTemplate, CommitTemplate};

/// Where the configuration lives, relative to the repository root.
pub const CONFIG_PATH: &str = ".kittify/orchestrator.toml";

/// What to do when an agent has used up its retries on a WP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FallbackStrategy {
    /// Try the next agent in the role's list that is installed, enabled and has capacity.
    NextAvailable,
    /// Keep using the same agent (its retries start over once).
    SameAgent,
    /// Block the WP.
    Fail,
}

/// A user-defined agent: any command line that does work in its current directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CustomAgent {
    /// argv for implementation (program first). No shell is involved.
    pub command: Vec<String>,
    /// argv for review; defaults to `command`.
    pub review_command: Option<Vec<String>>,
    /// How the prompt is delivered.
    pub prompt: Delivery,
    /// How its output is parsed.
    pub output: OutputKind,
    /// The arguments that continue its own session, `{session}` standing for the id its output
    /// named (`resume_args = ["--resume", "{session}"]`); `None`: a rework starts afresh.
    pub resume_args: Option<Vec<String>>,
}

/// Per-agent settings (`[agents.<id>]`), for built-in and custom agents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentSettings {
    /// `false` takes the agent out of every role list.
    pub enabled: bool,
    /// At most this many WPs at once on this agent (`None` = only the global limit).
    pub max_concurrent: Option<usize>,
    /// Wall-clock limit for one run of this agent (overrides the global one).
    pub timeout_seconds: Option<u64>,
    /// No-output limit for one run of this agent (overrides the global one).
    pub idle_timeout_seconds: Option<u64>,
    /// Model name passed with the profile's model flag.
    pub model: Option<String>,
    /// Extra arguments appended to the profile's argv.
    pub extra_args: Vec<String>,
    /// Extra environment variables for the agent process.
    pub env: BTreeMap<String, String>,
    /// Set when the table defines a custom agent (it has a `command`).
    pub custom: Option<CustomAgent>,
    /// The `openai-api` agent's endpoint and limits (set for that agent only).
    pub api: Option<crate::command::ApiSettings>,
    /// This agent's confinement, overriding the global `sandbox`.
    pub sandbox: Option<crate::sandbox::SandboxMode>,
    /// More paths this agent may write (`~/` expanded).
    pub writable: Vec<std::path::PathBuf>,
    /// How the agent is driven: its headless CLI (default) or the Agent Client Protocol.
    pub driver: crate::command::Driver,
}

impl Default for AgentSettings {
    fn default() -> Self {
        AgentSettings {
            enabled: true,
            max_concurrent: None,
            timeout_seconds: None,
            idle_timeout_seconds: None,
            model: None,
            extra_args: Vec::new(),
            env: BTreeMap::new(),
            custom: None,
            api: None,
            sandbox: None,
            writable: Vec::new(),
            driver: crate::command::Driver::Cli,
        }
    }
}

/// The `[agents]` section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AgentsConfig {
    /// Implementation agents in preference order. Empty = every detected built-in agent.
    pub implementation: Vec<String>,
    /// Review agents in preference order. Empty = every detected built-in agent.
    pub review: Vec<String>,
    /// `[agents.<id>]` tables.
    pub settings: BTreeMap<String, AgentSettings>,
}

/// What `merge` removes once WPs landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Cleanup {
    /// Nothing.
    #[serde(rename = "none")]
    Nothing,
    /// The landed WPs' worktrees (uncommitted work saved to a backup ref first).
    #[default]
    #[serde(rename = "worktrees")]
    Worktrees,
    /// Their worktrees and their branches (a squashed WP's tip is kept under
    /// `refs/kitty/landed/<feature>/<WP>`, so no commit becomes unreachable).
    #[serde(rename = "worktrees+branches")]
    WorktreesAndBranches,
}

impl Cleanup {
    /// The configuration's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Cleanup::Nothing => "none",
            Cleanup::Worktrees => "worktrees",
            Cleanup::WorktreesAndBranches => "worktrees+branches",
        }
    }
}

/// How lane changes are mirrored into spec-kitty's own files (`mirror`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mirror {
    /// Write them and commit them (only those files), as that spec-kitty version did.
    Commit,
    /// Write them, commit nothing.
    Write,
    /// Leave spec-kitty's files alone.
    Off,
}

impl Mirror {
    /// The configuration's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Mirror::Commit => "commit",
            Mirror::Write => "write",
            Mirror::Off => "off",
        }
    }
}

/// The whole configuration, with defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Config {
    /// WPs in flight at once, across all agents (1–64; default 4).
    pub max_concurrent_wps: usize,
    /// Retries of the same agent after a failed attempt (0–20; default 2).
    pub max_retries: u32,
    /// Wall-clock limit of one agent run, in seconds (default 3600).
    pub timeout_seconds: u64,
    /// Limit without any output from an agent, in seconds (default 600).
    pub idle_timeout_seconds: u64,
    /// One agent implements and reviews (default false).
    pub single_agent_mode: bool,
    /// What to do after the retries (default next_available).
    pub fallback_strategy: FallbackStrategy,
    /// Review rejections before a WP is blocked (1–20; default 3).
    pub max_review_cycles: u32,
    /// Branch WPs without dependencies start from (default: meta.json, else the current branch).
    pub target_branch: Option<String>,
    /// Where WP worktrees go, relative to the repository root (default `.worktrees`).
    pub worktree_dir: PathBuf,
    /// Commit what an agent left uncommitted after its attempt (default true).
    pub auto_commit: bool,
    /// More paths (gitignore patterns) auto-commit never commits, on top of the built-in deny
    /// list of secret-looking files ([`crate::worktree::DENY_LIST`]) and `.worktreeinclude`.
    pub auto_commit_exclude: Vec<String>,
    /// argv run on the merge of every WP: at the end of a run (in a scratch copy), and by
    /// `merge` in its integration worktree before the target moves.
    pub verify_command: Option<Vec<String>>,
    /// Agent fix rounds `merge` gives a failing `verify_command` before it gives up (0–10;
    /// default 3).
    pub max_fix_rounds: u32,
    /// `merge` gives conflicts to an implementation agent instead of stopping (default false).
    pub resolve_conflicts: bool,
    /// The remote `push` (and `merge --push`) uses (default `origin`).
    pub push_remote: String,
    /// `merge` pushes what landed (default false).
    pub auto_push: bool,
    /// `merge` opens (or updates) the landed branch's pull request, which pushes it (default
    /// false).
    pub auto_pr: bool,
    /// A run that completes ends with `merge` (default false).
    pub auto_merge: bool,
    /// Tick a task's box in its `tasks.md` / `PLAN.md` when its WP is done.
    pub tick_tasks: bool,
    /// A WP that finished in this run (done, or blocked with its work saved) hands its worktree
    /// to the next WP that needs one: only what differs is checked out (default true).
    pub recycle_worktrees: bool,
    /// Load Kiro's optional tasks (`- [ ]*`) as WPs too (default false, as Kiro skips them).
    pub include_optional: bool,
    /// The remote several machines share the feature's state through (`run --remote`); `None`:
    /// this machine works alone.
    pub sync_remote: Option<String>,
    /// This machine's name in owners and heartbeats (`KITTY_HOST_ID` overrides it; default the
    /// host name).
    pub host_id: Option<String>,
    /// A shared run reclaims another machine's WP after observing no heartbeat from it for this
    /// long, on its own clock (5–86400; default 120).
    pub lease_seconds: u64,
    /// How often a shared run renews its heartbeat (1–3600, below `lease_seconds`; default 20).
    pub lease_renew_seconds: u64,
    /// How often a shared run waiting on other machines checks the remote (1–3600; default 10).
    pub sync_interval_seconds: u64,
    /// How agents are confined (`best_effort`: Landlock where the kernel has it).
    pub sandbox: crate::sandbox::SandboxMode,
    /// More paths every confined process may write (`~/` expanded).
    pub writable: Vec<std::path::PathBuf>,
    /// What `merge` removes once WPs landed (default worktrees).
    pub cleanup: Cleanup,
    /// How lane changes reach spec-kitty's files; `None` = by layout: `commit` for 3.x missions
    /// (in the coordination worktree) and 2.x flat features, `write` for lane directories.
    pub mirror: Option<Mirror>,
    /// WP branch names (default `{feature}-{wp}`; also `{title}` slugified, `{number}`).
    pub branch_template: BranchTemplate,
    /// Subjects of the commits we write (auto-commits, merges, squashes); `None`: ours
    /// (`WP03: <title>`, `Merge WP03: <title>`).
    pub commit_template: Option<CommitTemplate>,
    /// argv run in each new worktree before its agent starts.
    pub setup_command: Option<Vec<String>>,
    /// How `merge` lands each WP (default merge).
    pub merge_strategy: MergeStrategy,
    /// Agent roles and per-agent settings.
    pub agents: AgentsConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_concurrent_wps: 4,
            max_retries: 2,
            timeout_seconds: 3600,
            idle_timeout_seconds: 600,
            single_agent_mode: false,
            fallback_strategy: FallbackStrategy::NextAvailable,
            max_review_cycles: 3,
            target_branch: None,
            worktree_dir: PathBuf::from(".worktrees"),
            auto_commit: true,
            auto_commit_exclude: Vec::new(),
            verify_command: None,
            max_fix_rounds: 3,
            resolve_conflicts: false,
            push_remote: "origin".to_string(),
            auto_push: false,
            auto_pr: false,
            auto_merge: false,
            tick_tasks: true,
            recycle_worktrees: true,
            include_optional: false,
            sync_remote: None,
            host_id: None,
            lease_seconds: 120,
            lease_renew_seconds: 20,
            sync_interval_seconds: 10,
            sandbox: crate::sandbox::SandboxMode::default(),
            writable: Vec::new(),
            cleanup: Cleanup::Worktrees,
            mirror: None,
            branch_template: BranchTemplate::default(),
            commit_template: None,
            setup_command: None,
            merge_strategy: MergeStrategy::Merge,
            agents: AgentsConfig::default(),
        }
    }
}
