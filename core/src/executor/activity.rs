//! What an agent is doing, as typed values: tool calls with their status, plans, permission
//! decisions and usage. ACP agents report these over the protocol (`session/update`); a CLI's
//! output is only lines of text.

use serde::Serialize;

/// One thing an agent reported doing (secrets already redacted).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Activity {
    /// A tool call started or changed status.
    ToolCall {
        /// The agent's id for the call (stable across its updates).
        id: String,
        /// What the agent calls it (`Write wp01.txt`).
        title: String,
        /// `read`, `edit`, `delete`, `move`, `search`, `execute`, `think`, `fetch`,
        /// `switch_mode` or `other`.
        tool: String,
        /// `pending`, `in_progress`, `completed` or `failed`.
        status: String,
        /// The files it touches, relative to the worktree where they are inside it.
        paths: Vec<String>,
    },
    /// The agent's plan, whole (each report replaces the last).
    Plan {
        /// The steps in order.
        steps: Vec<PlanStep>,
    },
    /// A permission the agent asked for, and our answer.
    Permission {
        /// The tool call's title.
        title: String,
        /// Its kind (as in [`Activity::ToolCall`]).
        tool: String,
        /// Whether it was allowed.
        allowed: bool,
        /// Why, in words.
        reason: String,
    },
    /// Context window use and cost so far.
    Usage {
        /// Tokens in the context.
        used_tokens: u64,
        /// The context window's size.
        context_tokens: u64,
        /// Cost so far in USD, when the agent reports one.
        cost_usd: Option<f64>,
    },
}

/// One step of an agent's plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanStep {
    /// What the step is.
    pub content: String,
    /// `pending`, `in_progress` or `completed`.
    pub status: String,
}

impl Activity {
    /// The activity with every text in it passed through `r`.
    pub fn redacted(self, r: &crate::redact::Redactor) -> Activity {
        match self {
            Activity::ToolCall { id, title, tool, status, paths } => Activity::ToolCall {
                id: r.apply(&id),
                title: r.apply(&title),
                tool,
                status,
                paths: paths.iter().map(|p| r.apply(p)).collect(),
            },
            Activity::Plan { steps } => Activity::Plan {
                steps: steps.into_iter().map(|s| PlanStep { content: r.apply(&s.content), status: s.status }).collect(),
            },
            Activity::Permission { title, tool, allowed, reason } => {
                Activity::Permission { title: r.apply(&title), tool, allowed, reason: r.apply(&reason) }
            }
            usage @ Activity::Usage { .. } => usage,
        }
    }

    /// A one-line description, for logs and progress views.
    pub fn describe(&self) -> String {
        match self {
            Activity::ToolCall { title, tool, status, .. } => format!("tool {title} ({tool}): {status}"),
            Activity::Plan { steps } => {
                let done = steps.iter().filter(|s| s.status == "completed").count();
                format!("plan: {done}/{} steps done", steps.len())
            }
            Activity::Permission { title, allowed, reason, .. } => {
                format!("permission {}: {title} ({reason})", if *allowed { "granted" } else { "refused" })
            }
            Activity::Usage { used_tokens, context_tokens, cost_usd } => match cost_usd {
                Some(cost) => format!("usage: {used_tokens}/{context_tokens} tokens, ${cost:.4}"),
                None => format!("usage: {used_tokens}/{context_tokens} tokens"),
            },
        }
    }
}
