//! Parsing what an agent prints into its final result: text, error flag, cost, tokens, session.
//! Parsers see every stdout line once and keep bounded state, whatever the output volume.

use serde_json::Value;

use crate::command::OutputKind;

/// The parsed end result of an agent run.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct AgentResult {
    /// The final answer text (where `KITTY-STATUS` / `KITTY-VERDICT` are read from).
    pub text: String,
    /// Whether the agent reported an error itself.
    pub is_error: bool,
    /// The agent's own error message, when it gave one.
    pub error: Option<String>,
    /// HTTP status of a failed API call, when reported (claude `api_error_status`).
    pub api_error_status: Option<u16>,
    /// Cost in USD, when reported.
    pub cost_usd: Option<f64>,
    /// Input tokens, when reported.
    pub input_tokens: Option<u64>,
    /// Output tokens, when reported.
    pub output_tokens: Option<u64>,
    /// Session/thread id, for resuming the agent's conversation.
    pub session_id: Option<String>,
    /// Tool uses the agent's permission mode refused (claude `permission_denials`).
    pub permission_denials: usize,
    /// Whether structured output was expected and found.
    pub structured: bool,
    /// What was wrong with the output and left out (a bad number, an oversized line): written
    /// to the log's footer, never into state.
    pub warnings: Vec<String>,
}

/// Largest tail of text output kept for the result.
const KEEP: usize = 1024 * 1024;

/// Longest single output line (and whole JSON document) the parser reads. A final result is one
/// JSON line and may be long (a long `result` from Claude, Codex's final message), so the parser
/// sees whole lines up to this size although the log cuts lines at [`super::MAX_LINE`]; beyond
/// it, the line is skipped with a warning.
pub const MAX_RESULT_LINE: usize = 16 * 1024 * 1024;

/// Incremental parser for one run.
pub struct OutputParser {
    kind: OutputKind,
    result: AgentResult,
    /// Tail of stdout for `Text`, whole stdout (bounded) for `JsonDocument`.
    buffer: String,
    overflowed: bool,
    /// The start of a line that arrives in pieces.
    pending: String,
    /// Bytes of the current line when it is over [`MAX_RESULT_LINE`] (its text is dropped).
    oversized: Option<usize>,
    warnings: Vec<String>,
}

impl OutputParser {
    /// A parser for `kind`.
    pub fn new(kind: OutputKind) -> Self {
        OutputParser {
            kind,
            result: AgentResult::default(),
            buffer: String::new(),
            overflowed: false,
            pending: String::new(),
            oversized: None,
            warnings: Vec::new(),
        }
    }

    /// Feeds a piece of a stdout line ([`super::stream::Piece`]): pieces are joined until the
    /// line ends, then the whole line is fed, up to [`MAX_RESULT_LINE`] bytes.
    pub fn feed_piece(&mut self, text: &str, ends_line: bool) {
        if ends_line && self.pending.is_empty() && self.oversized.is_none() {
            self.feed(text);
            return;
        }
        match self.oversized.as_mut() {
            Some(size) => *size += text.len(),
            None if self.pending.len() + text.len() > MAX_RESULT_LINE => {
                self.oversized = Some(self.pending.len() + text.len());
                self.pending = String::new();
            }
            None => self.pending.push_str(text),
        }
        if !ends_line {
            return;
        }
        if let Some(size) = self.oversized.take() {
            self.warnings.push(format!(
                "an output line of {size} bytes is longer than the {MAX_RESULT_LINE}-byte limit and was not parsed"
            ));
            return;
        }
        let line = std::mem::take(&mut self.pending);
        self.feed(&line);
    }

    /// Feeds one stdout line.
    pub fn feed(&mut self, line: &str) {
        match self.kind {
            OutputKind::Text => self.keep_tail(line),
            OutputKind::JsonDocument => {
                if self.buffer.len() + line.len() < MAX_RESULT_LINE {
                    self.buffer.push_str(line);
                    self.buffer.push('\n');
                } else {
                    self.overflowed = true;
                }
            }
            OutputKind::ClaudeResult => {
                if let Some(event) = json_object(line)
                    && event.get("type").and_then(Value::as_str) == Some("result")
                {
                    self.result = claude_result(&event, &mut self.warnings);
                }
            }
            OutputKind::CodexJsonl => {
                if let Some(event) = json_object(line) {
                    codex_event(&mut self.result, &event);
                }
            }
            OutputKind::OpencodeJsonl => {
                if let Some(event) = json_object(line) {
                    opencode_event(&mut self.result, &event, &mut self.warnings);
                }
            }
            OutputKind::CopilotJsonl => {
                if let Some(event) = json_object(line) {
                    copilot_event(&mut self.result, &event);
                }
            }
        }
    }

    fn keep_tail(&mut self, line: &str) {
        self.buffer.push_str(line);
        self.buffer.push('\n');
        if self.buffer.len() > 2 * KEEP {
            let mut cut = self.buffer.len() - KEEP;
            while !self.buffer.is_char_boundary(cut) {
                cut += 1;
            }
            self.buffer.drain(..cut);
        }
    }

    /// The result once the output has ended.
    pub fn finish(mut self) -> AgentResult {
        if !self.pending.is_empty() || self.oversized.is_some() {
            self.feed_piece("", true);
        }
        match self.kind {
            OutputKind::Text => {
                self.result.text = std::mem::take(&mut self.buffer).trim_end().to_string();
                self.result.structured = true;
            }
            OutputKind::JsonDocument if !self.overflowed => {
                if let Ok(doc) = serde_json::from_str::<Value>(self.buffer.trim()) {
                    self.result = json_document(&doc);
                }
            }
            OutputKind::JsonDocument => self
                .warnings
                .push(format!("the JSON output is longer than the {MAX_RESULT_LINE}-byte limit and was not parsed")),
            _ => {}
        }
        if !self.result.structured && self.result.error.is_none() && !self.warnings.is_empty() {
            self.result.error = Some(self.warnings.join("; "));
        }
        self.result.warnings.append(&mut self.warnings);
        self.result
    }
}

fn json_object(line: &str) -> Option<Value> {
    let line = line.trim();
    if !line.starts_with('{') {
        return None;
    }
    serde_json::from_str::<Value>(line).ok().filter(Value::is_object)
}

fn str_of(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

/// A cost reported by an agent, if it is one we may add up (see [`crate::limits::valid_cost`]);
/// anything else is dropped with a warning.
fn cost_of(value: Option<&Value>, warnings: &mut Vec<String>) -> Option<f64> {
    let value = value.filter(|v| !v.is_null())?;
    let cost = value.as_f64();
    let valid = crate::limits::valid_cost(cost);
    if valid.is_none() {
        let shown: String = value.to_string().chars().take(40).collect();
        warnings.push(format!(
            "dropped the reported cost {shown}: not an amount between 0 and {} USD",
            crate::limits::MAX_ATTEMPT_COST_USD
        ));
    }
    valid
}

fn claude_result(event: &Value, warnings: &mut Vec<String>) -> AgentResult {
    let usage = event.get("usage");
    AgentResult {
        text: str_of(event, "result").unwrap_or_default(),
        is_error: event.get("is_error").and_then(Value::as_bool).unwrap_or(false),
        // qwen (a gemini-cli fork with claude-shaped results) reports errors as `error.message`.
        error: event.get("error").and_then(|e| str_of(e, "message").or_else(|| e.as_str().map(str::to_string))),
        api_error_status: event.get("api_error_status").and_then(Value::as_u64).map(|s| s as u16),
        cost_usd: cost_of(event.get("total_cost_usd"), warnings),
        input_tokens: usage.and_then(|u| u.get("input_tokens")).and_then(Value::as_u64),
        output_tokens: usage.and_then(|u| u.get("output_tokens")).and_then(Value::as_u64),
        session_id: str_of(event, "session_id"),
        permission_denials: event.get("permission_denials").and_then(Value::as_array).map_or(0, Vec::len),
        structured: true,
        warnings: Vec::new(),
    }
}

fn codex_event(result: &mut AgentResult, event: &Value) {
    match event.get("type").and_then(Value::as_str) {
        Some("thread.started") => result.session_id = str_of(event, "thread_id"),
        Some("item.completed") => {
            if let Some(item) = event.get("item")
                && item.get("type").and_then(Value::as_str) == Some("agent_message")
            {
                result.text = str_of(item, "text").unwrap_or_default();
                result.structured = true;
            }
        }
        Some("turn.completed") => {
            // The turn completed: an error reported on the way (a retried request) was not final.
            result.structured = true;
            result.is_error = false;
            result.error = None;
            if let Some(usage) = event.get("usage") {
                let add = |acc: Option<u64>, key: &str| match usage.get(key).and_then(Value::as_u64) {
                    Some(n) => Some(acc.unwrap_or(0).saturating_add(n)),
                    None => acc,
                };
                result.input_tokens = add(result.input_tokens, "input_tokens");
                result.output_tokens = add(result.output_tokens, "output_tokens");
            }
        }
        // Codex says `Reconnecting... n/5` as a top-level error while it retries a request: a
        // notice, not the outcome (the turn's own `turn.failed` or `turn.completed` is).
        Some("error") if str_of(event, "message").is_some_and(|m| m.trim_start().starts_with("Reconnecting")) => {}
        Some("turn.failed") | Some("error") => {
            result.is_error = true;
            result.structured = true;
            result.error = event
                .get("error")
                .and_then(|e| str_of(e, "message"))
                .or_else(|| str_of(event, "message"))
                .or(Some("turn failed".into()));
        }
        _ => {}
    }
}

fn opencode_event(result: &mut AgentResult, event: &Value, warnings: &mut Vec<String>) {
    let part = event.get("part");
    match event.get("type").and_then(Value::as_str) {
        Some("text") => {
            if let Some(text) = part.and_then(|p| str_of(p, "text")) {
                result.text = text;
                result.structured = true;
            }
            result.session_id = result.session_id.take().or_else(|| str_of(event, "sessionID"));
        }
        Some("step_finish") => {
            result.structured = true;
            if let Some(cost) = cost_of(part.and_then(|p| p.get("cost")), warnings) {
                let total = result.cost_usd.unwrap_or(0.0) + cost;
                result.cost_usd = crate::limits::valid_cost(Some(total)).or(result.cost_usd);
            }
        }
        Some("error") => {
            result.is_error = true;
            result.structured = true;
            let message = event.get("error").and_then(|e| {
                e.get("data")
                    .and_then(|d| str_of(d, "message"))
                    .or_else(|| str_of(e, "message"))
                    .or_else(|| str_of(e, "name"))
            });
            result.error = message.or(Some("error".into()));
        }
        _ => {}
    }
}

fn copilot_event(result: &mut AgentResult, event: &Value) {
    let data = event.get("data");
    match event.get("type").and_then(Value::as_str) {
        // A message that only requests tools has empty content: the answer is the last words.
        Some("assistant.message") => {
            if let Some(text) = data.and_then(|d| str_of(d, "content")).filter(|t| !t.trim().is_empty()) {
                result.text = text;
                result.structured = true;
            }
        }
        Some("session.error") => {
            result.is_error = true;
            result.structured = true;
            result.error = data.and_then(|d| str_of(d, "message")).or(Some("session error".into()));
        }
        Some("result") => {
            result.structured = true;
            result.session_id = str_of(event, "sessionId");
            match event.get("exitCode").and_then(Value::as_i64) {
                Some(0) | None => {}
                Some(code) => {
                    result.is_error = true;
                    result.error = result.error.take().or(Some(format!("copilot reported exit code {code}")));
                }
            }
        }
        _ => {}
    }
}

fn json_document(doc: &Value) -> AgentResult {
    let mut warnings = Vec::new();
    // A JSON array of events (claude-style): take its result event.
    if let Some(events) = doc.as_array() {
        if let Some(event) = events.iter().rev().find(|e| e.get("type").and_then(Value::as_str) == Some("result")) {
            let mut result = claude_result(event, &mut warnings);
            result.warnings = warnings;
            return result;
        }
        return AgentResult::default();
    }
    if doc.get("type").and_then(Value::as_str) == Some("result") {
        let mut result = claude_result(doc, &mut warnings);
        result.warnings = warnings;
        return result;
    }
    let error = doc.get("error").filter(|e| !e.is_null());
    let models = doc.get("stats").and_then(|s| s.get("models")).and_then(Value::as_object);
    let sum = |key: &str| -> Option<u64> {
        models
            .map(|m| m.values().filter_map(|v| v.get("tokens").and_then(|t| t.get(key)).and_then(Value::as_u64)).sum())
    };
    AgentResult {
        text: str_of(doc, "response")
            .or_else(|| str_of(doc, "result"))
            .or_else(|| str_of(doc, "text"))
            .unwrap_or_default(),
        is_error: error.is_some(),
        error: error.map(|e| str_of(e, "message").unwrap_or_else(|| e.to_string())),
        input_tokens: sum("prompt"),
        output_tokens: sum("candidates"),
        session_id: str_of(doc, "session_id"),
        structured: true,
        ..AgentResult::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(kind: OutputKind, text: &str) -> AgentResult {
        let mut parser = OutputParser::new(kind);
        for line in text.lines() {
            parser.feed(line);
        }
        parser.finish()
    }

    #[test]
    fn claude_stream_json_takes_the_result_event() {
        let out = concat!(
            "{\"type\":\"system\",\"subtype\":\"init\"}\n",
            "{\"type\":\"assistant\",\"message\":{}}\n",
            "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"result\":\"done\\nKITTY-STATUS: done\",",
            "\"total_cost_usd\":0.12,\"session_id\":\"s1\",\"usage\":{\"input_tokens\":10,\"output_tokens\":5},\"permission_denials\":[{}]}\n"
        );
        let r = parse(OutputKind::ClaudeResult, out);
        assert_eq!(r.text, "done\nKITTY-STATUS: done");
        assert_eq!(
            (r.cost_usd, r.session_id.as_deref(), r.output_tokens, r.permission_denials),
            (Some(0.12), Some("s1"), Some(5), 1)
        );
        assert!(r.structured && !r.is_error);
    }

    #[test]
    fn codex_jsonl() {
        let out = concat!(
            "{\"type\":\"thread.started\",\"thread_id\":\"t1\"}\n",
            "{\"type\":\"item.completed\",\"item\":{\"type\":\"agent_message\",\"text\":\"first\"}}\n",
            "{\"type\":\"item.completed\",\"item\":{\"type\":\"agent_message\",\"text\":\"final\"}}\n",
            "{\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":7,\"output_tokens\":3}}\n"
        );
        let r = parse(OutputKind::CodexJsonl, out);
        assert_eq!((r.text.as_str(), r.session_id.as_deref(), r.input_tokens), ("final", Some("t1"), Some(7)));
        let failed =
            parse(OutputKind::CodexJsonl, "{\"type\":\"turn.failed\",\"error\":{\"message\":\"401 Unauthorized\"}}");
        assert!(failed.is_error);
        assert_eq!(failed.error.as_deref(), Some("401 Unauthorized"));
        // Retry notices are not the outcome; a completed turn after them is a success.
        let retried = "{\"type\":\"error\",\"message\":\"Reconnecting... 1/5 (stream disconnected)\"}\n\
                       {\"type\":\"item.completed\",\"item\":{\"type\":\"agent_message\",\"text\":\"done\"}}\n\
                       {\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}";
        let ok = parse(OutputKind::CodexJsonl, retried);
        assert!(!ok.is_error && ok.error.is_none() && ok.text == "done", "{ok:?}");
        let only_retries = parse(
            OutputKind::CodexJsonl,
            "{\"type\":\"error\",\"message\":\"Reconnecting... 5/5\"}\n{\"type\":\"turn.failed\",\"error\":{\"message\":\"stream disconnected\"}}",
        );
        assert_eq!(only_retries.error.as_deref(), Some("stream disconnected"));
    }

    #[test]
    fn gemini_json_document_spans_lines() {
        let r = parse(OutputKind::JsonDocument, "{\n  \"response\": \"ok\",\n  \"stats\": {}\n}\n");
        assert_eq!(r.text, "ok");
        assert!(!r.is_error);
        let e = parse(OutputKind::JsonDocument, "{\"error\": {\"type\": \"auth\", \"message\": \"Please log in\"}}");
        assert!(e.is_error);
        assert_eq!(e.error.as_deref(), Some("Please log in"));
    }

    #[test]
    fn copilot_jsonl() {
        let out = concat!(
            "{\"type\":\"assistant.message\",\"data\":{\"content\":\"\",\"toolRequests\":[{}]}}\n",
            "{\"type\":\"assistant.message\",\"data\":{\"content\":\"Wrote it.\\n\\nKITTY-STATUS: done\"}}\n",
            "{\"type\":\"assistant.message\",\"data\":{\"content\":\"\"}}\n",
            "{\"type\":\"result\",\"sessionId\":\"s-1\",\"exitCode\":0,\"usage\":{\"premiumRequests\":0}}",
        );
        let r = parse(OutputKind::CopilotJsonl, out);
        assert_eq!(
            (r.text.as_str(), r.session_id.as_deref(), r.is_error),
            ("Wrote it.\n\nKITTY-STATUS: done", Some("s-1"), false)
        );
        let failed = concat!(
            "{\"type\":\"session.error\",\"data\":{\"errorType\":\"query\",\"message\":\"Could not connect to local model provider\"}}\n",
            "{\"type\":\"result\",\"sessionId\":\"s-2\",\"exitCode\":1}",
        );
        let r = parse(OutputKind::CopilotJsonl, failed);
        assert!(r.is_error && r.structured);
        assert_eq!(r.error.as_deref(), Some("Could not connect to local model provider"));
        let bare = parse(OutputKind::CopilotJsonl, "{\"type\":\"result\",\"exitCode\":3}");
        assert_eq!(bare.error.as_deref(), Some("copilot reported exit code 3"));
    }

    #[test]
    fn text_keeps_the_output() {
        assert_eq!(parse(OutputKind::Text, "a\nb\n").text, "a\nb");
    }

    #[test]
    fn hostile_costs_are_dropped_with_a_warning() {
        for cost in ["1.7e308", "-1", "1e12", "\"free\""] {
            let line = format!("{{\"type\":\"result\",\"result\":\"ok\",\"total_cost_usd\":{cost}}}");
            let r = parse(OutputKind::ClaudeResult, &line);
            assert_eq!(r.cost_usd, None, "{cost}");
            assert!(r.warnings.iter().any(|w| w.contains("dropped the reported cost")), "{cost}: {:?}", r.warnings);
        }
        let two =
            "{\"type\":\"step_finish\",\"part\":{\"cost\":9000}}\n{\"type\":\"step_finish\",\"part\":{\"cost\":9000}}";
        let r = parse(OutputKind::OpencodeJsonl, two);
        assert_eq!(r.cost_usd, Some(9000.0));
    }

    #[test]
    fn a_long_final_line_in_pieces_is_parsed_whole() {
        let text = "w".repeat(300 * 1024);
        let line = serde_json::json!({"type": "result", "result": format!("{text}\nKITTY-STATUS: done")}).to_string();
        let mut parser = OutputParser::new(OutputKind::ClaudeResult);
        let bytes = line.as_bytes();
        for (i, chunk) in bytes.chunks(64 * 1024).enumerate() {
            let last = (i + 1) * 64 * 1024 >= bytes.len();
            parser.feed_piece(std::str::from_utf8(chunk).unwrap(), last);
        }
        let r = parser.finish();
        assert!(r.structured && r.text.ends_with("KITTY-STATUS: done"), "{}", r.text.len());
    }

    #[test]
    fn an_oversized_line_is_skipped_with_a_clear_error() {
        let mut parser = OutputParser::new(OutputKind::ClaudeResult);
        let piece = "x".repeat(1024 * 1024);
        for _ in 0..17 {
            parser.feed_piece(&piece, false);
        }
        parser.feed_piece("", true);
        let r = parser.finish();
        assert!(!r.structured);
        assert!(r.error.unwrap().contains("longer than the 16777216-byte limit"));
    }

    #[test]
    fn claude_without_result_is_unstructured() {
        assert!(!parse(OutputKind::ClaudeResult, "plain words\n").structured);
    }
}
