//! `session/update` notifications turned into what we keep: the final agent message (where the
//! protocol lines are read), cost and tokens, and journal lines and typed activities for tool
//! calls, plans and usage. Memory stays bounded however much the agent sends.

use std::collections::HashMap;
use std::path::Path;

use agent_client_protocol::v1::schema::{
    ContentBlock, ContentChunk, Plan, SessionUpdate, ToolCall, ToolCallContent, ToolCallStatus, ToolCallUpdate,
    ToolKind,
};

use super::super::activity::{Activity, PlanStep};
use super::journal::Journal;

/// Longest final message kept (its tail).
const KEEP: usize = 1024 * 1024;
/// Most tool calls whose title and kind are remembered for their later updates.
const MAX_TOOLS: usize = 10_000;
/// A message line longer than this is logged in pieces.
const MAX_PENDING: usize = 64 * 1024;

/// What a turn has said so far.
#[derive(Default)]
pub(super) struct Turn {
    /// The agent's last message: text since its last tool call.
    pub(super) message: String,
    /// A tool call came after the message text: the next text starts a new message.
    after_tool: bool,
    /// Partial message / thought lines not yet logged.
    pending_message: String,
    pending_thought: String,
    /// Title and kind of each tool call, for its updates (which carry only what changed).
    tools: HashMap<String, (String, ToolKind)>,
    /// Tool calls reported.
    pub(super) tool_calls: u64,
    /// Cost so far in USD, when reported.
    pub(super) cost_usd: Option<f64>,
    /// Updates received.
    pub(super) updates: u64,
}

/// The name of a tool kind as ACP spells it.
pub(super) fn kind_name(kind: ToolKind) -> String {
    serde_json::to_value(kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_else(|| "other".into())
}

fn name_of<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

/// A path as people read it: relative to the worktree when inside it.
pub(super) fn shown(root: &Path, path: &Path) -> String {
    path.strip_prefix(root).map_or_else(|_| path.display().to_string(), |p| p.display().to_string())
}

impl Turn {
    /// The kind of a tool call reported earlier, if any.
    pub(super) fn kind_of(&self, id: &str) -> Option<ToolKind> {
        self.tools.get(id).map(|(_, kind)| *kind)
    }

    /// Takes one update.
    pub(super) fn take(&mut self, update: SessionUpdate, root: &Path, journal: &mut Journal) {
        self.updates += 1;
        match update {
            SessionUpdate::AgentMessageChunk(chunk) => self.message_chunk(chunk, journal),
            SessionUpdate::AgentThoughtChunk(chunk) => {
                if let Some(text) = text_of(&chunk) {
                    append_lines(&mut self.pending_thought, &text, "thought", journal);
                }
            }
            SessionUpdate::ToolCall(call) => self.tool_call(call, root, journal),
            SessionUpdate::ToolCallUpdate(update) => self.tool_update(update, root, journal),
            SessionUpdate::Plan(plan) => self.plan(plan, journal),
            SessionUpdate::UsageUpdate(usage) => {
                let cost = usage.cost.as_ref().filter(|c| c.currency.eq_ignore_ascii_case("USD")).map(|c| c.amount);
                if let Some(cost) = cost.filter(|c| c.is_finite() && *c >= 0.0) {
                    self.cost_usd = Some(cost);
                }
                journal.activity(Activity::Usage {
                    used_tokens: usage.used,
                    context_tokens: usage.size,
                    cost_usd: self.cost_usd,
                });
            }
            SessionUpdate::CurrentModeUpdate(mode) => journal.line("mode", &mode.current_mode_id.to_string()),
            // Commands offered, configuration, session titles, our own message echoed: nothing
            // to keep.
            _ => {}
        }
    }

    fn message_chunk(&mut self, chunk: ContentChunk, journal: &mut Journal) {
        let Some(text) = text_of(&chunk) else { return };
        if self.after_tool {
            self.message.clear();
            self.after_tool = false;
        }
        self.message.push_str(&text);
        if self.message.len() > 2 * KEEP {
            let mut cut = self.message.len() - KEEP;
            while !self.message.is_char_boundary(cut) {
                cut += 1;
            }
            self.message.drain(..cut);
        }
        append_lines(&mut self.pending_message, &text, "message", journal);
    }

    /// Logs what is left of partial lines (before a tool call, and at the end).
    pub(super) fn flush_lines(&mut self, journal: &mut Journal) {
        for (pending, prefix) in [(&mut self.pending_message, "message"), (&mut self.pending_thought, "thought")] {
            if !pending.is_empty() {
                journal.line(prefix, pending);
                pending.clear();
            }
        }
    }

    fn tool_call(&mut self, call: ToolCall, root: &Path, journal: &mut Journal) {
        self.flush_lines(journal);
        self.after_tool = true;
        self.tool_calls += 1;
        let id = call.tool_call_id.to_string();
        if self.tools.len() < MAX_TOOLS || self.tools.contains_key(&id) {
            self.tools.insert(id.clone(), (call.title.clone(), call.kind));
        }
        let mut paths: Vec<String> = call.locations.iter().map(|l| shown(root, &l.path)).collect();
        paths.extend(diff_paths(&call.content, root));
        paths.dedup();
        journal.activity(Activity::ToolCall {
            id,
            title: call.title,
            tool: kind_name(call.kind),
            status: name_of(&call.status),
            paths,
        });
    }

    fn tool_update(&mut self, update: ToolCallUpdate, root: &Path, journal: &mut Journal) {
        let id = update.tool_call_id.to_string();
        let fields = update.fields;
        let known = self.tools.get(&id).cloned();
        if let Some((title, kind)) = self.tools.get_mut(&id) {
            if let Some(t) = &fields.title {
                *title = t.clone();
            }
            if let Some(k) = fields.kind {
                *kind = k;
            }
        }
        // Only status changes and new files are worth a line; streamed output is not.
        let Some(status) = fields.status else { return };
        let (title, kind) = known.unwrap_or_else(|| (fields.title.clone().unwrap_or_default(), ToolKind::Other));
        let mut paths: Vec<String> = fields.locations.iter().flatten().map(|l| shown(root, &l.path)).collect();
        paths.extend(fields.content.as_deref().map(|c| diff_paths(c, root)).unwrap_or_default());
        paths.dedup();
        let failed = status == ToolCallStatus::Failed;
        let title = fields.title.clone().unwrap_or(title);
        journal.activity(Activity::ToolCall {
            id,
            title: title.clone(),
            tool: kind_name(fields.kind.unwrap_or(kind)),
            status: name_of(&status),
            paths,
        });
        // Why it failed, as the agent says it (the first lines): what a person reads first.
        if failed {
            let mut why: String =
                fields.content.iter().flatten().filter_map(content_text).collect::<Vec<_>>().join("\n");
            if why.trim().is_empty() {
                why = fields.raw_output.as_ref().map(|v| v.to_string()).unwrap_or_default();
            }
            if !why.trim().is_empty() {
                let why: String = why.chars().take(600).collect();
                journal.line("tool", &format!("{title} failed: {}", why.trim()));
            }
        }
    }

    fn plan(&mut self, plan: Plan, journal: &mut Journal) {
        self.flush_lines(journal);
        let steps = plan
            .entries
            .into_iter()
            .take(200)
            .map(|e| PlanStep { content: e.content.chars().take(500).collect(), status: name_of(&e.status) })
            .collect();
        journal.activity(Activity::Plan { steps });
    }
}

fn text_of(chunk: &ContentChunk) -> Option<String> {
    match &chunk.content {
        ContentBlock::Text(text) => Some(text.text.clone()),
        _ => None,
    }
}

fn content_text(content: &ToolCallContent) -> Option<String> {
    match content {
        ToolCallContent::Content(c) => match &c.content {
            ContentBlock::Text(text) => Some(text.text.clone()),
            _ => None,
        },
        _ => None,
    }
}

fn diff_paths(content: &[ToolCallContent], root: &Path) -> Vec<String> {
    content
        .iter()
        .filter_map(|c| match c {
            ToolCallContent::Diff(diff) => Some(shown(root, &diff.path)),
            _ => None,
        })
        .collect()
}

/// Logs the complete lines of `pending + text`, keeping the unfinished rest.
fn append_lines(pending: &mut String, text: &str, prefix: &str, journal: &mut Journal) {
    pending.push_str(text);
    while let Some(at) = pending.find('\n') {
        let line: String = pending.drain(..=at).collect();
        journal.line(prefix, line.trim_end_matches(['\n', '\r']));
    }
    if pending.len() > MAX_PENDING {
        let mut cut = MAX_PENDING;
        while !pending.is_char_boundary(cut) {
            cut -= 1;
        }
        let piece: String = pending.drain(..cut).collect();
        journal.line(prefix, &piece);
    }
}
