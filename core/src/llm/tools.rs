//! The tools the model works with, all confined to the WP's worktree ([`crate::agent_path`]) and
//! each answer bounded: `list_files`, `read_file`, `search` (every role); `write_file`,
//! `edit_file`, `run_command`, `finish` (implementation); `verdict` (review).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value as Json, json};
use tokio_util::sync::CancellationToken;

use super::transcript::clip;
use crate::agent_path::resolve;
use crate::command::{AgentCommand, Delivery, OutputKind};
use crate::executor::{AgentRun, KittyStatus, Verdict};
use crate::role::Role;

/// Longest tool answer, in characters.
pub(super) const MAX_ANSWER: usize = 32 * 1024;
/// Largest file `write_file` writes or `edit_file` edits.
const MAX_WRITE: usize = 4 * 1024 * 1024;
/// Most entries `list_files` lists, matches `search` reports.
const MAX_ENTRIES: usize = 400;
const MAX_MATCHES: usize = 100;
/// Files larger than this are not searched.
const MAX_SEARCHED_FILE: u64 = 2 * 1024 * 1024;
/// Longest a `run_command` may run.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// How the model ended the attempt.
#[derive(Debug, Clone)]
pub(super) enum Ending {
    /// `finish(status, summary)`.
    Finish(KittyStatus, String),
    /// `verdict(decision, feedback)`.
    Verdict(Verdict, String),
}

/// A tool's answer for the model, and whether it ended the attempt.
pub(super) struct Answer {
    pub(super) content: String,
    pub(super) ending: Option<Ending>,
}

impl Answer {
    fn text(content: impl Into<String>) -> Answer {
        Answer { content: clip(&content.into(), MAX_ANSWER), ending: None }
    }
    fn refused(why: impl std::fmt::Display) -> Answer {
        Answer::text(format!("error: {why}"))
    }
}

/// What tools run with: the worktree, the role, and what `run_command` may start.
pub(super) struct Toolbox {
    pub(super) root: PathBuf,
    pub(super) role: Role,
    pub(super) allowed: Vec<String>,
    /// The attempt (feature, WP, log path, grace) `run_command` runs under.
    pub(super) run: AgentRun,
    pub(super) commands: u32,
}

/// The tool definitions offered for `role`, as chat-completions `tools`.
pub(super) fn definitions(role: Role, allowed: &[String]) -> Vec<Json> {
    let tool = |name: &str, description: &str, properties: Json, required: &[&str]| {
        json!({"type": "function", "function": {
            "name": name,
            "description": description,
            "parameters": {"type": "object", "properties": properties, "required": required},
        }})
    };
    let path = json!({"type": "string", "description": "a path relative to the worktree root"});
    let mut tools = vec![
        tool(
            "list_files",
            "List files and directories (directories end in /), .gitignore respected.",
            json!({"path": {"type": "string", "description": "a directory relative to the worktree root (default: the root)"},
                   "max_depth": {"type": "integer", "description": "how deep to go (default 3)"}}),
            &[],
        ),
        tool(
            "read_file",
            "Read a text file, or a range of its lines (1-based, inclusive). Long files are cut; ask for a range.",
            json!({"path": path, "start_line": {"type": "integer"}, "end_line": {"type": "integer"}}),
            &["path"],
        ),
        tool(
            "search",
            "Search the files for a regular expression; answers path:line: text.",
            json!({"pattern": {"type": "string"}, "path": {"type": "string", "description": "a directory or file to search (default: everything)"},
                   "ignore_case": {"type": "boolean"}}),
            &["pattern"],
        ),
    ];
    match role {
        Role::Implementation => {
            tools.push(tool(
                "write_file",
                "Create or overwrite a file with this content (directories are created).",
                json!({"path": path, "content": {"type": "string"}}),
                &["path", "content"],
            ));
            tools.push(tool(
                "edit_file",
                "Replace old_text (which must occur exactly once, unless replace_all) with new_text.",
                json!({"path": path, "old_text": {"type": "string"}, "new_text": {"type": "string"},
                       "replace_all": {"type": "boolean"}}),
                &["path", "old_text", "new_text"],
            ));
            let programs = if allowed.is_empty() { "none are allowed here".to_string() } else { allowed.join(", ") };
            tools.push(tool(
                "run_command",
                &format!("Run a program in the worktree (argv, no shell) and get its exit code and last output lines. Allowed programs: {programs}."),
                json!({"argv": {"type": "array", "items": {"type": "string"}}}),
                &["argv"],
            ));
            tools.push(tool(
                "finish",
                "End your work: status done (the work is complete), blocked (you cannot go on: say why) or kickback (the task itself is wrong: say why).",
                json!({"status": {"type": "string", "enum": ["done", "blocked", "kickback"]}, "summary": {"type": "string"}}),
                &["status", "summary"],
            ));
        }
        Role::Review => tools.push(tool(
            "verdict",
            "End the review: approve the work, or reject it with feedback saying what to change.",
            json!({"decision": {"type": "string", "enum": ["approve", "reject"]}, "feedback": {"type": "string"}}),
            &["decision", "feedback"],
        )),
    }
    tools
}

impl Toolbox {
    /// Runs tool `name` with `arguments` (the JSON text the model sent).
    pub(super) async fn call(&mut self, name: &str, arguments: &str, cancel: &CancellationToken) -> Answer {
        let args: Json = match serde_json::from_str(arguments) {
            Ok(Json::Object(map)) => Json::Object(map),
            Ok(_) => return Answer::refused("the arguments must be a JSON object"),
            Err(e) => return Answer::refused(format!("the arguments are not valid JSON ({e})")),
        };
        let str_arg = |key: &str| args.get(key).and_then(Json::as_str);
        let writes = self.role == Role::Implementation;
        match name {
            "list_files" => self.list(str_arg("path").unwrap_or("."), args.get("max_depth").and_then(Json::as_u64)),
            "read_file" => match str_arg("path") {
                Some(path) => self.read(
                    path,
                    args.get("start_line").and_then(Json::as_u64),
                    args.get("end_line").and_then(Json::as_u64),
                ),
                None => Answer::refused("read_file needs a `path`"),
            },
            "search" => match str_arg("pattern") {
                Some(pattern) => self.search(
                    pattern,
                    str_arg("path").unwrap_or("."),
                    args.get("ignore_case").and_then(Json::as_bool).unwrap_or(false),
                ),
                None => Answer::refused("search needs a `pattern`"),
            },
            "write_file" if writes => match (str_arg("path"), str_arg("content")) {
                (Some(path), Some(content)) => self.write(path, content),
                _ => Answer::refused("write_file needs `path` and `content`"),
            },
            "edit_file" if writes => match (str_arg("path"), str_arg("old_text"), str_arg("new_text")) {
                (Some(path), Some(old), Some(new)) => {
                    self.edit(path, old, new, args.get("replace_all").and_then(Json::as_bool).unwrap_or(false))
                }
                _ => Answer::refused("edit_file needs `path`, `old_text` and `new_text`"),
            },
            "run_command" if writes => {
                let argv: Option<Vec<String>> = args
                    .get("argv")
                    .and_then(Json::as_array)
                    .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect());
                match argv.filter(|a| !a.is_empty()) {
                    Some(argv) => self.command(argv, cancel).await,
                    None => Answer::refused("run_command needs `argv`, a non-empty list of strings"),
                }
            }
            "finish" if writes => {
                let summary = str_arg("summary").unwrap_or("").to_string();
                let status = match str_arg("status") {
                    Some("done") => KittyStatus::Done,
                    Some("blocked") => KittyStatus::Blocked(clip(&summary, 2000)),
                    Some("kickback") => KittyStatus::Kickback(clip(&summary, 2000)),
                    _ => return Answer::refused("finish needs `status`: done, blocked or kickback"),
                };
                Answer { content: "finished".into(), ending: Some(Ending::Finish(status, summary)) }
            }
            "verdict" if !writes => {
                let feedback = str_arg("feedback").unwrap_or("").to_string();
                let verdict = match str_arg("decision") {
                    Some("approve") => Verdict::Approve,
                    Some("reject") => Verdict::Reject,
                    _ => return Answer::refused("verdict needs `decision`: approve or reject"),
                };
                Answer { content: "verdict recorded".into(), ending: Some(Ending::Verdict(verdict, feedback)) }
            }
            "write_file" | "edit_file" | "run_command" | "finish" => {
                Answer::refused(format!("a reviewer only reads: `{name}` is not available; give your verdict"))
            }
            other => Answer::refused(format!("there is no tool `{other}`")),
        }
    }

    fn list(&self, path: &str, depth: Option<u64>) -> Answer {
        let dir = match resolve(&self.root, path, false) {
            Ok(dir) => dir,
            Err(why) => return Answer::refused(why),
        };
        let root = self.root.canonicalize().unwrap_or_else(|_| self.root.clone());
        let mut entries = Vec::new();
        let walker = ignore::WalkBuilder::new(&dir.full)
            .hidden(false)
            .max_depth(Some(depth.unwrap_or(3).clamp(1, 20) as usize))
            .filter_entry(|e| e.file_name() != ".git")
            .build();
        let mut more = 0usize;
        for entry in walker.flatten().skip(1) {
            if entries.len() >= MAX_ENTRIES {
                more += 1;
                continue;
            }
            let rel = entry.path().strip_prefix(&root).unwrap_or(entry.path()).display().to_string();
            let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
            entries.push(if is_dir { format!("{rel}/") } else { rel });
        }
        if more > 0 {
            entries.push(format!("… and {more} more (list a subdirectory)"));
        }
        Answer::text(if entries.is_empty() { "(empty)".to_string() } else { entries.join("\n") })
    }

    fn read(&self, path: &str, start: Option<u64>, end: Option<u64>) -> Answer {
        let file = match resolve(&self.root, path, false) {
            Ok(file) => file,
            Err(why) => return Answer::refused(why),
        };
        let meta = match std::fs::metadata(&file.full) {
            Ok(meta) if meta.is_file() => meta,
            Ok(_) => return Answer::refused(format!("`{}` is not a file", file.relative)),
            Err(e) => return Answer::refused(format!("`{}`: {e}", file.relative)),
        };
        let Ok(handle) = std::fs::File::open(&file.full) else {
            return Answer::refused(format!("`{}` cannot be opened", file.relative));
        };
        // Never more than a bounded prefix of the file is read, however large it is.
        let mut bytes = Vec::new();
        let wanted_end = end.unwrap_or(u64::MAX);
        let limit = if wanted_end == u64::MAX && start.is_none() { MAX_ANSWER as u64 * 4 } else { 16 * 1024 * 1024 };
        if handle.take(limit).read_to_end(&mut bytes).is_err() {
            return Answer::refused(format!("`{}` cannot be read", file.relative));
        }
        if bytes.iter().take(8192).any(|&b| b == 0) {
            return Answer::text(format!("`{}` is a binary file of {} bytes", file.relative, meta.len()));
        }
        let text = String::from_utf8_lossy(&bytes);
        let first = start.unwrap_or(1).max(1);
        let mut out = String::new();
        let mut last = first.saturating_sub(1);
        for (i, line) in text.lines().enumerate() {
            let n = i as u64 + 1;
            if n < first {
                continue;
            }
            if n > wanted_end || out.len() + line.len() > MAX_ANSWER - 200 {
                break;
            }
            out.push_str(line);
            out.push('\n');
            last = n;
        }
        let whole = first == 1 && (last as usize) >= text.lines().count() && (bytes.len() as u64) == meta.len();
        if whole {
            Answer::text(out)
        } else {
            Answer::text(format!(
                "{out}[lines {first}–{last} of `{}` ({} bytes); ask for more with start_line/end_line]",
                file.relative,
                meta.len()
            ))
        }
    }

    fn search(&self, pattern: &str, path: &str, ignore_case: bool) -> Answer {
        let regex = match regex::RegexBuilder::new(pattern).case_insensitive(ignore_case).size_limit(1 << 20).build() {
            Ok(r) => r,
            Err(e) => return Answer::refused(format!("bad pattern: {e}")),
        };
        let base = match resolve(&self.root, path, false) {
            Ok(base) => base,
            Err(why) => return Answer::refused(why),
        };
        let root = self.root.canonicalize().unwrap_or_else(|_| self.root.clone());
        let mut matches = Vec::new();
        let walker =
            ignore::WalkBuilder::new(&base.full).hidden(false).filter_entry(|e| e.file_name() != ".git").build();
        'files: for entry in walker.flatten() {
            if !entry.file_type().is_some_and(|t| t.is_file())
                || entry.metadata().map(|m| m.len() > MAX_SEARCHED_FILE).unwrap_or(true)
            {
                continue;
            }
            let Ok(bytes) = std::fs::read(entry.path()) else { continue };
            if bytes.iter().take(8192).any(|&b| b == 0) {
                continue;
            }
            let rel = entry.path().strip_prefix(&root).unwrap_or(entry.path()).display().to_string();
            for (i, line) in String::from_utf8_lossy(&bytes).lines().enumerate() {
                if regex.is_match(line) {
                    if matches.len() == MAX_MATCHES {
                        matches.push("… more matches (narrow the pattern or the path)".to_string());
                        break 'files;
                    }
                    matches.push(format!("{rel}:{}: {}", i + 1, clip(line.trim_end(), 200)));
                }
            }
        }
        Answer::text(if matches.is_empty() { "no matches".to_string() } else { matches.join("\n") })
    }

    fn write(&self, path: &str, content: &str) -> Answer {
        if content.len() > MAX_WRITE {
            return Answer::refused(format!("the content is {} bytes; at most {MAX_WRITE} are written", content.len()));
        }
        let file = match resolve(&self.root, path, true) {
            Ok(file) => file,
            Err(why) => return Answer::refused(why),
        };
        match self.put(&file.relative, content.as_bytes()) {
            Ok(()) => Answer::text(format!("wrote {} bytes to {}", content.len(), file.relative)),
            Err(e) => Answer::refused(format!("cannot write `{}`: {e}", file.relative)),
        }
    }

    /// Writes `relative` beneath the worktree — no directory on the way may be a link (one
    /// raced in after [`resolve`] is refused too), a link at the name is replaced, not followed
    /// — keeping an existing file's mode.
    fn put(&self, relative: &str, content: &[u8]) -> std::io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let relative = Path::new(relative);
        let mode = crate::beneath::open_existing(&self.root, relative)
            .and_then(|f| f.metadata())
            .map_or(0o644, |m| m.permissions().mode() & 0o7777);
        crate::beneath::replace(&self.root, relative, content, mode)
    }

    fn edit(&self, path: &str, old: &str, new: &str, all: bool) -> Answer {
        let file = match resolve(&self.root, path, true) {
            Ok(file) => file,
            Err(why) => return Answer::refused(why),
        };
        match std::fs::metadata(&file.full) {
            Ok(m) if m.len() as usize > MAX_WRITE => {
                return Answer::refused(format!("`{}` is too large to edit here ({} bytes)", file.relative, m.len()));
            }
            Ok(_) => {}
            Err(e) => return Answer::refused(format!("`{}`: {e}", file.relative)),
        }
        let text = match std::fs::read_to_string(&file.full) {
            Ok(text) => text,
            Err(e) => return Answer::refused(format!("`{}` is not a readable text file: {e}", file.relative)),
        };
        if old.is_empty() {
            return Answer::refused("old_text is empty; use write_file to create a file");
        }
        let count = text.matches(old).count();
        let edited = match (count, all) {
            (0, _) => return Answer::refused(format!("old_text was not found in `{}`", file.relative)),
            (1, _) | (_, true) => text.replace(old, new),
            (n, false) => {
                return Answer::refused(format!(
                    "old_text occurs {n} times in `{}`; include more context, or set replace_all",
                    file.relative
                ));
            }
        };
        match self.put(&file.relative, edited.as_bytes()) {
            Ok(()) => Answer::text(format!("replaced {count} occurrence(s) in {}", file.relative)),
            Err(e) => Answer::refused(format!("cannot write `{}`: {e}", file.relative)),
        }
    }

    async fn command(&mut self, argv: Vec<String>, cancel: &CancellationToken) -> Answer {
        if !self.allowed.iter().any(|a| *a == argv[0]) {
            let allowed = if self.allowed.is_empty() { "none".to_string() } else { self.allowed.join(", ") };
            return Answer::refused(format!("`{}` is not an allowed program (allowed: {allowed})", argv[0]));
        }
        self.commands += 1;
        let log_path = command_log(&self.run.log_path, self.commands);
        let run = AgentRun {
            session: None,
            command: AgentCommand {
                resume: None,
                agent: format!("{}:run_command", self.run.command.agent),
                program: argv[0].clone(),
                args: argv[1..].to_vec(),
                delivery: Delivery::Stdin,
                output: OutputKind::Text,
                driver: crate::command::Driver::Cli,
                env: self.run.command.env.clone(),
                redact: self.run.command.redact.clone(),
                checked_version: None,
                api: None,
            },
            prompt: String::new(),
            log_path: log_path.clone(),
            timeout: COMMAND_TIMEOUT.min(self.run.timeout),
            ..self.run.clone()
        };
        match crate::executor::execute(run, None, cancel.child_token()).await {
            Ok(outcome) => {
                let exit = match (outcome.exit.code, outcome.failure) {
                    (Some(code), _) => format!("exit code {code}"),
                    (None, Some(class)) => format!("ended: {class}"),
                    (None, None) => "ended".to_string(),
                };
                let tail = outcome.tail.join("\n");
                Answer::text(format!("{exit}\n{}\n[full output: {}]", clip(&tail, MAX_ANSWER / 2), log_path.display()))
            }
            Err(e) => Answer::refused(format!("could not run `{}`: {e}", argv[0])),
        }
    }
}

/// `<attempt log without .log>-cmd-<n>.log`.
fn command_log(attempt_log: &Path, n: u32) -> PathBuf {
    let stem = attempt_log.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    attempt_log.with_file_name(format!("{stem}-cmd-{n}.log"))
}
