//! The snapshots stored as `state.json` in every event commit, and the events that change them.
//!
//! A snapshot restates the *whole* state after its event, so the current state of a WP is one
//! read of its ref's tip; the chain of commits is the history.

use serde::{Deserialize, Serialize};

use crate::failure::FailureClass;
use crate::lane::Lane;
use crate::merge_strategy::MergeStrategy;
use crate::redact::Redactor;
use crate::role::Role;

/// Version of the `state.json` format written by this build. Readers refuse other versions
/// rather than guess.
pub const STATE_FORMAT: u32 = 1;

/// Most refused-write lines a WP's state keeps.
pub const MAX_REFUSED: usize = 20;

/// The orchestrator run that holds a WP: only its owner may move it along.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    /// The run's id (a ULID).
    pub run_id: String,
    /// The orchestrator process.
    pub pid: u32,
    /// The machine it runs on.
    pub host: String,
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "run {} (pid {} on {})", self.run_id, self.pid, self.host)
    }
}

/// Who caused an event: recorded as the commit's author.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// Display name (`codex`, `Ada Lovelace`, `kitty-orchestrator`).
    pub name: String,
    /// E-mail (`codex@agents.kitty` for agents).
    pub email: String,
}

impl Actor {
    /// The orchestrator itself.
    pub fn orchestrator() -> Actor {
        Actor { name: "kitty-orchestrator".into(), email: "kitty-orchestrator@localhost".into() }
    }

    /// An agent, by id.
    pub fn agent(id: &str) -> Actor {
        Actor { name: id.to_string(), email: format!("{id}@agents.kitty") }
    }
}

/// Something that happened to a WP. Lane-changing events are checked against the lane state
/// machine; the others record progress within a lane.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WpEvent {
    /// The chain was created from the feature files, in this lane.
    Imported {
        /// The lane from the feature files.
        lane: Lane,
    },
    /// A run took the WP: `planned → doing`, or took over an unowned `doing`/`for_review` WP.
    Claimed {
        /// The claiming run.
        owner: Owner,
    },
    /// A run took over a WP whose owner is dead.
    Reclaimed {
        /// The new owner.
        owner: Owner,
        /// The dead owner (must match the current one).
        previous: Owner,
    },
    /// The owner let go (abort, interruption); the WP stays in its lane, resumable.
    Released {
        /// Why.
        reason: String,
    },
    /// A person released a WP whose owner cannot release it (its host is gone, renamed, or it
    /// crashed in a container): the WP stays in its lane with its branch, unowned, resumable.
    ForceReleased {
        /// The owner it was taken from (must match the current one).
        previous: Owner,
        /// Why, and by whom.
        reason: String,
    },
    /// The WP's worktree exists and is ready for an agent.
    WorktreeReady {
        /// Worktree directory.
        path: String,
        /// Its branch.
        branch: String,
        /// The commit it was based on.
        base: String,
    },
    /// An agent process was started on the WP.
    AgentStarted {
        /// Agent id.
        agent: String,
        /// Its job.
        role: Role,
        /// Attempt number for this role in this cycle (1-based).
        attempt: u32,
        /// The agent's process id.
        pid: Option<u32>,
        /// Its log file.
        log: Option<String>,
    },
    /// The agent process ended.
    AgentFinished {
        /// Agent id.
        agent: String,
        /// Its job.
        role: Role,
        /// Attempt number.
        attempt: u32,
        /// Why it failed; `None` = success.
        failure: Option<FailureClass>,
        /// Cost reported by the agent, in USD.
        cost_usd: Option<f64>,
        /// Wall time of the run.
        duration_ms: u64,
        /// The WP branch head after the attempt.
        head: Option<String>,
        /// Paths auto-commit left out (secrets by the deny list or `.worktreeinclude`).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        withheld: Vec<String>,
        /// What the agent's own output reported refused while it was confined (its
        /// "Permission denied" lines, clipped): the writes the sandbox stopped.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        refused: Vec<String>,
        /// The agent's own session id, as its output (or its ACP session) named it: what a
        /// rework by the same agent continues.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<String>,
    },
    /// A failed attempt will be retried after a delay.
    RetryScheduled {
        /// The agent to retry with.
        agent: String,
        /// The attempt that will run.
        attempt: u32,
        /// Backoff before it.
        delay_ms: u64,
        /// Why the last attempt failed.
        failure: FailureClass,
    },
    /// Implementation finished: `doing → for_review`.
    Submitted {
        /// The commit to review.
        head: String,
    },
    /// The review approved: `for_review → done`.
    Approved {
        /// The reviewing agent.
        reviewer: String,
    },
    /// The review rejected: `for_review → doing`, with feedback for the next implementation.
    Rejected {
        /// The reviewing agent.
        reviewer: String,
        /// What to fix.
        feedback: String,
    },
    /// Needs a person: any non-terminal lane → `blocked`.
    Blocked {
        /// Why (shown to the person).
        reason: String,
    },
    /// Will not be done: any non-terminal lane → `canceled`.
    Canceled {
        /// Why.
        reason: String,
    },
    /// A person asked to try again: `blocked → planned`.
    Retried,
    /// A done WP whose branch moved after its review approved it goes back to review, at the
    /// branch's tip: `done → for_review` (`merge --reopen-moved`).
    Reopened {
        /// The branch tip to review now.
        head: String,
        /// Why.
        reason: String,
    },
    /// The done WP landed on a branch (the lane stays `done`).
    Merged {
        /// The branch it landed on.
        into: String,
        /// The commit on that branch that holds the WP's work.
        commit: String,
        /// How it landed.
        strategy: MergeStrategy,
        /// The WP branch tip that landed.
        head: String,
    },
}

/// Where a WP's work landed, as its state remembers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeRecord {
    /// The branch it landed on.
    pub into: String,
    /// The commit on that branch that holds the work.
    pub commit: String,
    /// How it landed.
    pub strategy: MergeStrategy,
    /// The WP branch tip that landed (a later change to the branch lands again); `None` on the
    /// run chain.
    pub head: Option<String>,
}

impl WpEvent {
    /// The event's stable name (`claimed`, `agent_started`, …), as in the `Kitty-Event` trailer.
    pub fn name(&self) -> &'static str {
        match self {
            WpEvent::Imported { .. } => "imported",
            WpEvent::Claimed { .. } => "claimed",
            WpEvent::Reclaimed { .. } => "reclaimed",
            WpEvent::Released { .. } => "released",
            WpEvent::ForceReleased { .. } => "force_released",
            WpEvent::WorktreeReady { .. } => "worktree_ready",
            WpEvent::AgentStarted { .. } => "agent_started",
            WpEvent::AgentFinished { .. } => "agent_finished",
            WpEvent::RetryScheduled { .. } => "retry_scheduled",
            WpEvent::Submitted { .. } => "submitted",
            WpEvent::Approved { .. } => "approved",
            WpEvent::Rejected { .. } => "rejected",
            WpEvent::Blocked { .. } => "blocked",
            WpEvent::Canceled { .. } => "canceled",
            WpEvent::Retried => "retried",
            WpEvent::Reopened { .. } => "reopened",
            WpEvent::Merged { .. } => "merged",
        }
    }
}

/// `event` with its free text (reasons, feedback) redacted: what gets written.
pub fn redacted(event: &WpEvent, redactor: &Redactor) -> WpEvent {
    let mut event = event.clone();
    match &mut event {
        WpEvent::Released { reason }
        | WpEvent::ForceReleased { reason, .. }
        | WpEvent::Blocked { reason }
        | WpEvent::Canceled { reason } => *reason = redactor.apply(reason),
        WpEvent::Rejected { feedback, .. } => *feedback = redactor.apply(feedback),
        WpEvent::AgentFinished { refused, .. } => refused.iter_mut().for_each(|r| *r = redactor.apply(r)),
        _ => {}
    }
    event
}

/// A run event with its free text (reason, summary) redacted.
pub fn redacted_run(event: &RunEvent, redactor: &Redactor) -> RunEvent {
    match event {
        RunEvent::Aborted { reason } => RunEvent::Aborted { reason: redactor.apply(reason) },
        RunEvent::Finished { summary } => RunEvent::Finished { summary: redactor.apply_json(summary) },
        other => other.clone(),
    }
}

/// The whole state of one WP after an event: the content of `state.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WpState {
    /// [`STATE_FORMAT`].
    pub format: u32,
    /// Feature slug.
    pub feature: String,
    /// WP id.
    pub wp: String,
    /// Current lane.
    pub lane: Lane,
    /// Number of events before this one (the import is 0).
    pub seq: u64,
    /// Id of the event that produced this state (ULID); makes appends idempotent.
    pub event_id: String,
    /// The event that produced this state.
    pub last_event: WpEvent,
    /// The run that wrote the event, if any.
    pub run_id: Option<String>,
    /// The run that holds the WP, if any.
    pub owner: Option<Owner>,
    /// The agent of the latest attempt.
    pub agent: Option<String>,
    /// The role of the latest attempt.
    pub role: Option<Role>,
    /// Attempt number of the latest attempt (per role and review cycle).
    pub attempt: u32,
    /// Attempts of any role so far.
    pub attempts_total: u32,
    /// Review rejections so far.
    pub review_cycle: u32,
    /// Every agent that worked on the WP, in first-use order.
    pub agents_used: Vec<String>,
    /// Process id of the running agent, while one runs.
    pub pid: Option<u32>,
    /// Log of the latest attempt.
    pub log: Option<String>,
    /// Failure class of the latest failed attempt.
    pub failure: Option<FailureClass>,
    /// Why the WP is blocked/canceled/released.
    pub reason: Option<String>,
    /// The latest review feedback (appended to the next implementation prompt).
    pub feedback: Option<String>,
    /// Worktree directory, once made.
    pub worktree: Option<String>,
    /// WP branch, once made.
    pub branch: Option<String>,
    /// Base commit of the worktree.
    pub base: Option<String>,
    /// Latest known head of the WP branch.
    pub head: Option<String>,
    /// Sum of reported agent costs, USD.
    pub cost_usd: f64,
    /// Sum of agent wall time, ms.
    pub agent_ms: u64,
    /// Paths auto-commit never committed (secret-looking files, `.worktreeinclude` copies).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub withheld: Vec<String>,
    /// What the sandbox refused, as the agents' own output reported it (distinct lines, the
    /// first `MAX_REFUSED` (20) kept).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<String>,
    /// The session of the latest implementation attempt that named one (the agent's own id):
    /// a rework by the same agent ([`WpState::session_agent`]) continues it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// The agent whose session [`WpState::session`] is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_agent: Option<String>,
    /// Where the work landed most recently, once merged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged: Option<MergeRecord>,
    /// Every branch the work landed on, the latest landing on each (a WP landed on `main` and on
    /// `feature/x` has both): what a later merge onto either branch is measured against.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub landings: Vec<MergeRecord>,
    /// When the chain was created (RFC 3339).
    pub created_at: String,
    /// When this event happened (RFC 3339).
    pub updated_at: String,
}

/// Run-level events (`refs/kitty/run/<feature>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RunEvent {
    /// A run began (or resumed after a crash, an abort or a fix).
    Started {
        /// The orchestrator that runs it.
        owner: Owner,
    },
    /// The run was aborted; in-flight WPs were released.
    Aborted {
        /// Why (user request, signal).
        reason: String,
    },
    /// The run ended: nothing more could start.
    Finished {
        /// The run summary (per-WP lanes, agents, attempts, costs…).
        summary: serde_json::Value,
    },
    /// A merge ran `verify_command` on its integration (after fix round `round`; 0 = before any).
    Verified {
        /// The fix round it followed (0: the first verification).
        round: u32,
        /// Whether it passed.
        passed: bool,
        /// The agent that made the fix it verified.
        agent: Option<String>,
        /// The fix commit, when the agent changed anything.
        commit: Option<String>,
        /// The verification's log.
        log: String,
    },
    /// An agent resolved a merge conflict in the integration.
    Resolved {
        /// The WP whose merge conflicted.
        wp: String,
        /// What it collided with.
        with: Vec<String>,
        /// The conflicting paths.
        paths: Vec<String>,
        /// The agent.
        agent: String,
        /// The commit holding the resolution.
        commit: String,
        /// The agent's log.
        log: String,
    },
    /// Done WPs landed on a branch.
    Merged {
        /// The branch they landed on.
        into: String,
        /// Its tip after the merge.
        commit: String,
        /// Its tip before (`None`: the branch was created).
        previous: Option<String>,
        /// How they landed.
        strategy: MergeStrategy,
        /// The WPs that landed, in the order they were merged.
        wps: Vec<String>,
        /// Verification fix rounds it took.
        fix_rounds: u32,
    },
    /// The landed branch's pull request was opened, or updated with a new report.
    PullRequest {
        /// Its record.
        #[serde(flatten)]
        pull_request: PullRequestRecord,
        /// Whether it was opened now (`false`: the open one was updated).
        created: bool,
    },
}

/// A feature's pull request, as its run chain remembers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullRequestRecord {
    /// Its number on the host.
    pub number: u64,
    /// Its web address.
    pub url: String,
    /// The branch it proposes.
    pub head: String,
    /// The branch it goes into.
    pub base: String,
}

impl RunEvent {
    /// The event's stable name.
    pub fn name(&self) -> &'static str {
        match self {
            RunEvent::Started { .. } => "run_started",
            RunEvent::Aborted { .. } => "run_aborted",
            RunEvent::Finished { .. } => "run_finished",
            RunEvent::Verified { .. } => "run_verified",
            RunEvent::Resolved { .. } => "run_resolved",
            RunEvent::Merged { .. } => "run_merged",
            RunEvent::PullRequest { .. } => "run_pull_request",
        }
    }
}

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Started and not ended (or its process died: check the run lock).
    Running,
    /// Aborted; `resume` continues it.
    Aborted,
    /// Ended; the summary is recorded.
    Finished,
}

impl RunStatus {
    /// The stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Aborted => "aborted",
            RunStatus::Finished => "finished",
        }
    }
}

/// The content of `state.json` on the run chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    /// [`STATE_FORMAT`].
    pub format: u32,
    /// Feature slug.
    pub feature: String,
    /// Events before this one.
    pub seq: u64,
    /// Id of the latest event.
    pub event_id: String,
    /// The latest event.
    pub last_event: RunEvent,
    /// Current status.
    pub status: RunStatus,
    /// The latest run's owner.
    pub owner: Option<Owner>,
    /// Runs started on this feature so far.
    pub runs: u32,
    /// The latest summary, once a run finished.
    pub summary: Option<serde_json::Value>,
    /// The latest landing, once the feature was merged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged: Option<MergeRecord>,
    /// The feature's pull request, once one was opened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_request: Option<PullRequestRecord>,
    /// When the latest run started (RFC 3339).
    pub started_at: String,
    /// When this event happened (RFC 3339).
    pub updated_at: String,
}
