//! The model the stand-in plays: it reads the orchestrator's prompt, then drives the CLI's *own*
//! tools — its file-writing tool writes the work package's file, its shell tool commits it — and
//! ends with the status line. A reviewer approves. Requests that are not the work package's
//! conversation (titles, memory extraction, "who speaks next" checks) get a short answer, so the
//! CLI's side work never derails the play.

use serde_json::{Value as Json, json};

use super::dialects::{Conversation, Item, Turn};

/// What the prompt asks of the agent, read from the orchestrator's own wording.
#[derive(Debug, Clone, PartialEq)]
pub enum Task {
    /// "You are implementing work package WP01 … You are in the git worktree /x, on branch …".
    Implement {
        /// `WP01`.
        wp: String,
        /// The worktree's absolute path.
        worktree: String,
    },
    /// "You are reviewing work package WP01".
    Review {
        /// `WP01`.
        wp: String,
    },
    /// A rework after a rejected review: "A reviewer rejected your implementation of work package
    /// WP01" continuing the implementer's session (the worktree is its first prompt's), or a new
    /// session's whole prompt that quotes the feedback.
    Rework {
        /// `WP01`.
        wp: String,
        /// The worktree's absolute path.
        worktree: String,
        /// In the implementer's own session (its earlier prompt and work are in the conversation).
        continued: bool,
    },
    /// Any other prompt of ours (integration fixes, conflicts): answered done.
    Other,
}

/// How a continued session's rework prompt begins (the orchestrator's `prompt::rework`).
const REWORK: &str = "A reviewer rejected your implementation of work package ";
/// How a new session's whole prompt says there was a rejection.
const REWORK_FRESH: &str = "A reviewer rejected the previous implementation";

/// The second line a rework adds to the work package's file.
pub const REWORK_LINE: &str = "A second line, as the reviewer asked.\n";

const MARKERS: [&str; 4] = [
    "You are implementing work package ",
    "You are reviewing work package ",
    "You are fixing the integration",
    "You are resolving merge conflicts",
];

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let rest = &text[text.find(start)? + start.len()..];
    Some(&rest[..rest.find(end)?])
}

impl Task {
    /// The task a user text gives, if it is one of our prompts.
    pub fn of(text: &str) -> Option<Task> {
        if !MARKERS.iter().any(|m| text.contains(m)) {
            return None;
        }
        let wp = |marker: &str| between(text, marker, " ").map(str::to_string);
        if let (Some(wp), Some(worktree)) =
            (wp(MARKERS[0]), between(text, "You are in the git worktree ", ", on branch"))
        {
            return Some(Task::Implement { wp, worktree: worktree.to_string() });
        }
        Some(wp(MARKERS[1]).map_or(Task::Other, |wp| Task::Review { wp }))
    }
}

/// How the model answers when the CLI offers no tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditStyle {
    /// Tools only: a request without tools is a side question (a title).
    Tools,
    /// aider's "whole" edit format: the file's name, then its complete text in a fence.
    WholeFile,
}

/// Where the play stands in one conversation, for the test's assertions.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The task, `None` for a side request.
    pub task: Option<Task>,
    /// Tool results in the conversation so far.
    pub results: usize,
    /// What the model answered, in words (`call Write`, `text`).
    pub answer: String,
}

/// The name of the file a work package's implementer writes: `wp01.txt`.
pub fn file_of(wp: &str) -> String {
    format!("{}.txt", wp.to_ascii_lowercase())
}

/// The text the implementer writes into it.
pub fn content_of(wp: &str, agent: &str) -> String {
    format!("{wp} was written by {agent} through its own tools.\n")
}

const WRITE_TOOLS: [&str; 6] = ["Write", "write_file", "write", "create", "create_file", "save-file"];
const SHELL_TOOLS: [&str; 7] =
    ["Bash", "run_shell_command", "bash", "exec_command", "shell", "shell_command", "launch-process"];

/// The next turn of the model in `conversation`, as `agent` (named in the file it writes).
/// `reject`: asked with a WP's id at its review's verdict, says whether this review rejects
/// (the stand-in's reject-once play).
pub fn next(
    conversation: &Conversation,
    agent: &str,
    style: EditStyle,
    reject: Option<&dyn Fn(&str) -> bool>,
) -> (Turn, Step) {
    let results = conversation.items.iter().filter(|i| **i == Item::ToolResult).count();
    let task = conversation_task(conversation);
    let turn = match (&task, conversation.json_schema.as_ref()) {
        (_, Some(schema)) => Turn::Text(fill(schema).to_string()),
        (None, None) => Turn::Text("Add the work package's file".into()),
        (Some(Task::Implement { wp, worktree }), None) => implement(conversation, agent, style, wp, worktree, results),
        (Some(Task::Rework { wp, worktree, .. }), None) => rework(conversation, agent, wp, worktree),
        // Only the review's own conversation (it has tools) is judged: a CLI's side request that
        // quotes the prompt (opencode's title) is answered, not counted as the review.
        (Some(Task::Review { wp }), None)
            if !conversation.tools.is_empty() && reject.is_some_and(|first| first(wp)) =>
        {
            Turn::Text(format!(
                "{} needs a second line.\n\nKITTY-VERDICT: reject\nAdd the line \"{}\" to it.",
                file_of(wp),
                REWORK_LINE.trim_end()
            ))
        }
        (Some(Task::Review { .. }), None) => {
            Turn::Text("The work package's file is there and complete.\n\nKITTY-VERDICT: approve".into())
        }
        (Some(Task::Other), None) => Turn::Text("Done.\n\nKITTY-STATUS: done".into()),
    };
    let answer = match &turn {
        Turn::Call { name, .. } => format!("call {name}"),
        Turn::Text(_) => "text".into(),
    };
    (turn, Step { task, results, answer })
}

/// The conversation's task: the orchestrator's prompt among the user messages, when the last
/// thing said is that prompt or a tool's result (anything else is the CLI's side request that
/// quotes the conversation).
fn conversation_task(conversation: &Conversation) -> Option<Task> {
    // aider asks its model for commit messages with the change (and the request) quoted. (Other
    // CLIs' system prompts speak of commit messages too: match aider's own request.)
    if conversation.system.contains("one-line Git commit messages") {
        return None;
    }
    let task = conversation.items.iter().find_map(|i| match i {
        Item::User(text) => Task::of(text),
        _ => None,
    })?;
    let trailing_users: Vec<&Item> =
        conversation.items.iter().rev().take_while(|i| matches!(i, Item::User(_))).collect();
    // The rework message, or a tool's result after it, continuing the implementer's session.
    let since_rework = conversation.items.iter().rposition(|i| matches!(i, Item::User(t) if t.contains(REWORK)));
    if let (Some(at), Task::Implement { wp, worktree }) = (since_rework, &task) {
        let after = &conversation.items[at + 1..];
        let live = after.last().is_none_or(|i| *i == Item::ToolResult);
        return live.then(|| Task::Rework { wp: wp.clone(), worktree: worktree.clone(), continued: true });
    }
    let last_is_ours = match conversation.items.last()? {
        Item::ToolResult => true,
        Item::User(_) => trailing_users.iter().any(|i| matches!(i, Item::User(t) if Task::of(t).is_some())),
        Item::Assistant => false,
    };
    let fresh_rework = conversation.items.iter().any(|i| matches!(i, Item::User(t) if t.contains(REWORK_FRESH)));
    match task {
        Task::Implement { wp, worktree } if fresh_rework => {
            last_is_ours.then_some(Task::Rework { wp, worktree, continued: false })
        }
        task => last_is_ours.then_some(task),
    }
}

/// A rework: the file gets its second line (the whole text, through the write tool), then a
/// commit through the shell tool, counting only the tool results since the rework began.
fn rework(c: &Conversation, agent: &str, wp: &str, worktree: &str) -> Turn {
    let start =
        c.items.iter().rposition(|i| matches!(i, Item::User(t) if t.contains(REWORK) || t.contains(REWORK_FRESH)));
    let results = c.items[start.map_or(0, |s| s + 1)..].iter().filter(|i| **i == Item::ToolResult).count();
    let file = file_of(wp);
    let path = format!("{}/{file}", worktree.trim_end_matches('/'));
    let content = format!("{}{REWORK_LINE}", content_of(wp, agent));
    let find = |names: &[&str]| names.iter().find_map(|n| c.tools.iter().find(|t| t.name == *n)).cloned();
    match (find(&WRITE_TOOLS), find(&SHELL_TOOLS), results) {
        (Some(write), _, 0) => write_call(&write, &path, &content),
        (None, Some(shell), 0) => {
            let lines: Vec<String> = content.lines().map(|l| format!("'{l}'")).collect();
            let command = format!("printf '%s\\n' {} > {file}", lines.join(" "));
            call(&shell, &[(&["command", "cmd"], &command)])
        }
        (_, Some(shell), 1) => call(&shell, &[(&["command", "cmd"], &format!("git commit -q -am '{wp}: rework'"))]),
        _ => Turn::Text(format!("I added the second line to {file}.\n\nKITTY-STATUS: done")),
    }
}

fn implement(c: &Conversation, agent: &str, style: EditStyle, wp: &str, worktree: &str, results: usize) -> Turn {
    let file = file_of(wp);
    let content = content_of(wp, agent);
    let path = format!("{}/{file}", worktree.trim_end_matches('/'));
    let find = |names: &[&str]| names.iter().find_map(|n| c.tools.iter().find(|t| t.name == *n)).cloned();
    let commit = format!("git add -A && git commit -q -m '{wp}: {file}'");
    let done = Turn::Text(format!("I wrote {file} and committed it.\n\nKITTY-STATUS: done"));
    match (find(&WRITE_TOOLS), find(&SHELL_TOOLS), results) {
        (Some(write), _, 0) => write_call(&write, &path, &content),
        (None, Some(shell), 0) => {
            let command = format!("printf '%s\\n' '{}' > {file}", content.trim_end());
            call(&shell, &[(&["command", "cmd"], &command)])
        }
        (_, Some(shell), 1) => call(&shell, &[(&["command", "cmd"], &commit)]),
        (Some(_), _, _) | (None, Some(_), _) => done,
        (None, None, _) if style == EditStyle::WholeFile => {
            Turn::Text(format!("{file}\n```\n{content}```\n\nKITTY-STATUS: done"))
        }
        (None, None, _) => Turn::Text(format!("Implementing {wp}")),
    }
}

/// A call of the CLI's file-writing tool `write`: `content` into `path`.
fn write_call(write: &super::dialects::Tool, path: &str, content: &str) -> Turn {
    call(
        write,
        &[
            (&["file_path", "filePath", "absolute_path", "path"], path),
            (&["content", "file_text", "text", "contents"], content),
        ],
    )
}

/// A call of `tool` with these arguments: each one given under the first of its candidate names
/// the tool's schema has; every other required parameter filled from its schema.
fn call(tool: &super::dialects::Tool, args: &[(&[&str], &str)]) -> Turn {
    let properties = tool.schema.get("properties").and_then(Json::as_object).cloned().unwrap_or_default();
    let mut out = serde_json::Map::new();
    for (names, value) in args {
        let name = names.iter().find(|n| properties.contains_key(**n)).unwrap_or(&names[0]);
        let value = match properties.get(*name).and_then(|p| p.get("type")).and_then(Json::as_str) {
            Some("array") => json!(["bash", "-lc", value]),
            _ => json!(value),
        };
        out.insert(name.to_string(), value);
    }
    for required in tool.schema.get("required").and_then(Json::as_array).into_iter().flatten() {
        let Some(name) = required.as_str() else { continue };
        if !out.contains_key(name) {
            out.insert(name.to_string(), fill(properties.get(name).unwrap_or(&Json::Null)));
        }
    }
    Turn::Call { name: tool.name.clone(), args: Json::Object(out) }
}

/// A value satisfying a JSON schema (a few words for strings, the first of an enum); Gemini's
/// "who speaks next" check is answered "the user", so the turn ends.
pub fn fill(schema: &Json) -> Json {
    if let Some(first) = schema.get("enum").and_then(Json::as_array).and_then(|e| e.first()) {
        return first.clone();
    }
    let kind = schema.get("type").and_then(Json::as_str).map(str::to_ascii_lowercase);
    match kind.as_deref() {
        Some("object") | None if schema.get("properties").is_some() => {
            let properties = schema["properties"].as_object().cloned().unwrap_or_default();
            let filled = properties
                .iter()
                .map(|(k, v)| match k.as_str() {
                    "next_speaker" => (k.clone(), json!("user")),
                    _ => (k.clone(), fill(v)),
                })
                .collect();
            Json::Object(filled)
        }
        Some("object") => json!({}),
        Some("array") => json!([]),
        Some("boolean") => json!(false),
        Some("integer") | Some("number") => json!(1),
        _ => json!("kitty stand-in"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_our_prompts() {
        let text = "You are implementing work package WP02 (\"x\") of the feature 001-a.\n\
                    You are in the git worktree /tmp/w t/.worktrees/001-a-WP02, on branch kitty/001-a/WP02.";
        assert_eq!(
            Task::of(text),
            Some(Task::Implement { wp: "WP02".into(), worktree: "/tmp/w t/.worktrees/001-a-WP02".into() })
        );
        assert_eq!(Task::of("You are reviewing work package WP01 (\"x\")"), Some(Task::Review { wp: "WP01".into() }));
        assert_eq!(Task::of("Generate a title"), None);
    }

    #[test]
    fn fills_a_next_speaker_schema_so_the_user_speaks() {
        let schema = json!({"type": "object", "properties": {"reasoning": {"type": "string"},
            "next_speaker": {"type": "string", "enum": ["model", "user"]}}});
        assert_eq!(fill(&schema)["next_speaker"], "user");
    }
}
