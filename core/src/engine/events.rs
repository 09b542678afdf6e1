//! Events of a run (DESIGN.md §8): one JSON-serializable enum with a `type` tag, the same shape in
//! Rust, Python and Node.

use std::sync::Arc;

use serde::Serialize;

use super::reports::RunSummary;
use crate::executor::{Activity, Stream};
use crate::failure::FailureClass;
use crate::lane::Lane;
use crate::role::Role;

/// Something that happened during a run.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// The run began (or resumed).
    RunStarted {
        /// Feature slug.
        feature: String,
        /// This run's id.
        run_id: String,
        /// WPs in the feature.
        wps: usize,
        /// WPs already done when it started.
        done: usize,
    },
    /// A WP moved to another lane (as recorded in its ref).
    LaneChanged {
        /// Feature slug.
        feature: String,
        /// WP id.
        wp: String,
        /// Lane before (`from_lane` everywhere: Rust, the CLI's `--json`, Python; Node
        /// `fromLane`, as spec-kitty's own status log names it).
        from_lane: Lane,
        /// Lane after.
        to_lane: Lane,
        /// The agent involved, if any.
        agent: Option<String>,
    },
    /// An agent process started.
    AgentStarted {
        /// Feature slug.
        feature: String,
        /// WP id.
        wp: String,
        /// Agent id.
        agent: String,
        /// Its job.
        role: Role,
        /// Attempt number.
        attempt: u32,
        /// Its process id.
        pid: Option<u32>,
        /// Its log file.
        log: String,
    },
    /// One line of agent output (only when asked for).
    AgentOutput {
        /// Feature slug.
        feature: String,
        /// WP id.
        wp: String,
        /// Agent id.
        agent: String,
        /// stdout or stderr.
        stream: Stream,
        /// The line, secrets redacted.
        line: String,
    },
    /// What an agent reported doing, typed: tool calls with their status, plans, permission
    /// answers, usage (agents driven over ACP; always sent).
    AgentActivity {
        /// Feature slug.
        feature: String,
        /// WP id.
        wp: String,
        /// Agent id.
        agent: String,
        /// What it did (secrets redacted).
        activity: Activity,
    },
    /// An agent process ended.
    AgentFinished {
        /// Feature slug.
        feature: String,
        /// WP id.
        wp: String,
        /// Agent id.
        agent: String,
        /// Its job.
        role: Role,
        /// Attempt number.
        attempt: u32,
        /// Succeeded.
        success: bool,
        /// Why it failed.
        failure: Option<FailureClass>,
        /// One line for people.
        summary: String,
        /// Wall time.
        duration_ms: u64,
        /// Reported cost.
        cost_usd: Option<f64>,
    },
    /// A failed attempt will be retried.
    RetryScheduled {
        /// Feature slug.
        feature: String,
        /// WP id.
        wp: String,
        /// Agent of the next attempt.
        agent: String,
        /// Its attempt number.
        attempt: u32,
        /// Delay before it.
        delay_ms: u64,
        /// Why the last one failed.
        failure: FailureClass,
    },
    /// A WP needs a person.
    WpBlocked {
        /// Feature slug.
        feature: String,
        /// WP id.
        wp: String,
        /// Why.
        reason: String,
        /// The last log, if an agent ran.
        log: Option<String>,
    },
    /// A merge ran `verify_command` on its integration (`round` 0: before any fix).
    MergeVerified {
        /// Feature slug.
        feature: String,
        /// The fix round it followed.
        round: u32,
        /// Whether it passed.
        passed: bool,
        /// The agent whose fix it verified.
        fix_agent: Option<String>,
        /// Its log.
        log: String,
    },
    /// An agent resolved a conflict of a merge (`resolve`).
    MergeResolved {
        /// Feature slug.
        feature: String,
        /// The WP whose merge conflicted.
        wp: String,
        /// The agent.
        agent: String,
        /// The conflicting paths.
        paths: Vec<String>,
        /// The commit holding the resolution.
        commit: String,
    },
    /// Done WPs landed on a branch (`merge`).
    Merged {
        /// Feature slug.
        feature: String,
        /// The branch they landed on.
        target: String,
        /// Its new tip.
        commit: String,
        /// How they landed.
        strategy: crate::merge_strategy::MergeStrategy,
        /// The WPs that landed, in order.
        wps: Vec<String>,
    },
    /// The run ended.
    RunFinished {
        /// Feature slug.
        feature: String,
        /// This run's id.
        run_id: String,
        /// What happened.
        summary: RunSummary,
    },
}

impl Event {
    /// The event with its free text (reasons, summaries, output lines) passed through
    /// `redactor`: events reach terminals, log files and editor extensions.
    pub fn redacted(self, redactor: &crate::redact::Redactor) -> Event {
        let r = |text: String| redactor.apply(&text);
        match self {
            Event::AgentOutput { feature, wp, agent, stream, line } => {
                Event::AgentOutput { feature, wp, agent, stream, line: r(line) }
            }
            Event::AgentActivity { feature, wp, agent, activity } => {
                Event::AgentActivity { feature, wp, agent, activity: activity.redacted(redactor) }
            }
            Event::AgentFinished {
                feature,
                wp,
                agent,
                role,
                attempt,
                success,
                failure,
                summary,
                duration_ms,
                cost_usd,
            } => Event::AgentFinished {
                feature,
                wp,
                agent,
                role,
                attempt,
                success,
                failure,
                summary: r(summary),
                duration_ms,
                cost_usd,
            },
            Event::WpBlocked { feature, wp, reason, log } => Event::WpBlocked { feature, wp, reason: r(reason), log },
            other => other,
        }
    }
}

/// Receives events; called from runtime threads (it must not block for long).
pub type EventSink = Arc<dyn Fn(Event) + Send + Sync>;

/// A sink that drops everything.
pub fn no_events() -> EventSink {
    Arc::new(|_| {})
}
