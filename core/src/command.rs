//! What the executor runs: one agent command — program, arguments, how the prompt reaches it and
//! how its output is read. Agent profiles and the configuration produce these; the executor
//! consumes them; neither needs the other.

use serde::{Deserialize, Serialize};

/// How a prompt reaches an agent (`prompt = "stdin" | "arg" | "file"` for custom agents).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// Written to standard input, then closed.
    Stdin,
    /// As an argument (`{prompt}` in the argv, else appended). Prompts too long for argv, or
    /// starting with `-`, are written to a file and the argument asks the agent to read it.
    Arg,
    /// Written to a file whose path replaces `{prompt_file}` (else is appended).
    File,
}

impl Delivery {
    /// Every delivery, by its configuration name.
    pub const ALL: [(&'static str, Delivery); 3] =
        [("stdin", Delivery::Stdin), ("arg", Delivery::Arg), ("file", Delivery::File)];

    /// The configuration name (`"stdin"`).
    pub fn as_str(self) -> &'static str {
        Self::ALL.iter().find(|(_, d)| *d == self).map(|(n, _)| *n).expect("every delivery is listed")
    }
}

/// How an agent's stdout is read (`output = "text" | "json" | "stream-json" | "codex-jsonl" |
/// "opencode-jsonl"` for custom agents).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OutputKind {
    /// Plain text: the result is the tail of the output.
    #[serde(rename = "text")]
    Text,
    /// Claude Code `--output-format json|stream-json` (and cursor-agent): the last
    /// `{"type":"result",…}` object.
    #[serde(rename = "stream-json")]
    ClaudeResult,
    /// Codex `exec --json`: JSONL events; the last `agent_message` item is the result.
    #[serde(rename = "codex-jsonl")]
    CodexJsonl,
    /// One JSON document for the whole output (gemini/qwen `--output-format json`): `response`
    /// or `result` holds the text.
    #[serde(rename = "json")]
    JsonDocument,
    /// opencode `run --format json`: JSONL events with `text` parts and `step_finish` costs.
    #[serde(rename = "opencode-jsonl")]
    OpencodeJsonl,
    /// Copilot CLI `--output-format json`: JSONL events; the last `assistant.message` is the
    /// answer, `result` carries the session id and exit code, `session.error` the failure.
    #[serde(rename = "copilot-jsonl")]
    CopilotJsonl,
}

impl OutputKind {
    /// Every output kind, by its configuration name.
    pub const ALL: [(&'static str, OutputKind); 6] = [
        ("text", OutputKind::Text),
        ("json", OutputKind::JsonDocument),
        ("stream-json", OutputKind::ClaudeResult),
        ("codex-jsonl", OutputKind::CodexJsonl),
        ("opencode-jsonl", OutputKind::OpencodeJsonl),
        ("copilot-jsonl", OutputKind::CopilotJsonl),
    ];

    /// The configuration name (`"stream-json"`).
    pub fn as_str(self) -> &'static str {
        Self::ALL.iter().find(|(_, k)| *k == self).map(|(n, _)| *n).expect("every kind is listed")
    }
}

/// How an agent is driven (`driver = "cli" | "acp"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Driver {
    /// A headless CLI run: the prompt in, its output parsed ([`OutputKind`]).
    #[default]
    Cli,
    /// The Agent Client Protocol over the process's stdin/stdout: typed tool calls, permission
    /// requests answered by policy, files and terminals served by us, cancellation.
    Acp,
}

impl Driver {
    /// Every driver, by its configuration name.
    pub const ALL: [(&'static str, Driver); 2] = [("cli", Driver::Cli), ("acp", Driver::Acp)];

    /// The configuration name (`"acp"`).
    pub fn as_str(self) -> &'static str {
        Self::ALL.iter().find(|(_, d)| *d == self).map(|(n, _)| *n).expect("every driver is listed")
    }
}

/// Everything needed to run one agent in one role: what the executor receives.
#[derive(Debug, Clone, Serialize)]
pub struct AgentCommand {
    /// Agent id.
    pub agent: String,
    /// Program (a name looked up on PATH, or a path).
    pub program: String,
    /// Arguments, possibly with `{prompt}` / `{prompt_file}` placeholders.
    pub args: Vec<String>,
    /// Prompt delivery.
    pub delivery: Delivery,
    /// Output parser (the CLI driver's).
    pub output: OutputKind,
    /// How the agent is driven. With [`Driver::Acp`] `program` and `args` start the agent's ACP
    /// server and `delivery` / `output` are not used: the prompt goes over the protocol.
    pub driver: Driver,
    /// Extra environment (profile + configuration).
    pub env: Vec<(String, String)>,
    /// The configured (`[agents.<id>] env`) variables among `env`: their values are redacted from
    /// everything written, whatever their names.
    pub redact: Vec<(String, String)>,
    /// CLI version the built-in argv was checked against.
    pub checked_version: Option<String>,
    /// Set for the built-in `openai-api` agent: no process is started, an in-process
    /// tool-calling loop talks to this endpoint instead.
    pub api: Option<ApiSettings>,
    /// The arguments that make the CLI continue its own session instead of starting one
    /// (`["--resume", "{session}"]`), `{session}` standing for the session id; see
    /// [`AgentCommand::resumed`]. `None`: it cannot (ACP agents continue theirs over the protocol).
    pub resume: Option<Vec<String>>,
}

impl AgentCommand {
    /// The arguments that continue session `id`: [`AgentCommand::resume`] with the id in place,
    /// before a trailing `-` (the prompt read from standard input, as `codex exec … resume <id>
    /// -` takes it) or after the rest. `None` when the CLI cannot continue a session.
    pub fn resumed(&self, id: &str) -> Option<Vec<String>> {
        let resume: Vec<String> = self.resume.as_ref()?.iter().map(|a| a.replace("{session}", id)).collect();
        let mut args = self.args.clone();
        let at = if args.last().is_some_and(|a| a == "-") { args.len() - 1 } else { args.len() };
        args.splice(at..at, resume);
        Some(args)
    }
}

/// The `openai-api` agent's endpoint and limits (`[agents.openai-api]` keys).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiSettings {
    /// The chat-completions base URL (`…/v1`; `/chat/completions` is appended).
    pub base_url: String,
    /// The model.
    pub model: String,
    /// The environment variable holding the API key (`OPENAI_API_KEY`).
    pub api_key_env: String,
    /// Most model turns (requests) in one attempt.
    pub max_turns: u32,
    /// `max_completion_tokens` of each request.
    pub max_output_tokens: u32,
    /// Sampling temperature (`None`: the server's default).
    pub temperature: Option<f64>,
    /// Longest one request may take, in seconds.
    pub request_timeout_seconds: u64,
    /// USD per million input tokens, for the cost.
    pub price_in_per_mtok: Option<f64>,
    /// USD per million output tokens, for the cost.
    pub price_out_per_mtok: Option<f64>,
    /// Programs `run_command` may start (besides the `verify_command` program).
    pub allowed_commands: Vec<String>,
}

/// The numbers in it are checked finite when configured, so equality is total.
impl Eq for ApiSettings {}

impl Default for ApiSettings {
    fn default() -> Self {
        ApiSettings {
            base_url: "https://api.openai.com/v1".into(),
            model: "gpt-5-codex".into(),
            api_key_env: "OPENAI_API_KEY".into(),
            max_turns: 60,
            max_output_tokens: 16_384,
            temperature: None,
            request_timeout_seconds: 300,
            price_in_per_mtok: None,
            price_out_per_mtok: None,
            allowed_commands: Vec::new(),
        }
    }
}

impl ApiSettings {
    /// Whether the endpoint is on this machine (a local model server): no key is needed then.
    pub fn is_loopback(&self) -> bool {
        let rest = self.base_url.split_once("://").map_or(self.base_url.as_str(), |(_, r)| r);
        let host_port = rest.split('/').next().unwrap_or("");
        let host = if let Some(v6) = host_port.strip_prefix('[') {
            v6.split(']').next().unwrap_or("")
        } else {
            host_port.rsplit_once(':').map_or(host_port, |(h, _)| h)
        };
        host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_names_round_trip_through_serde() {
        for (name, kind) in OutputKind::ALL {
            assert_eq!(serde_json::to_value(kind).unwrap(), name);
            assert_eq!(serde_json::from_value::<OutputKind>(name.into()).unwrap(), kind);
            assert_eq!(kind.as_str(), name);
        }
        for (name, delivery) in Delivery::ALL {
            assert_eq!(serde_json::to_value(delivery).unwrap(), name);
            assert_eq!(delivery.as_str(), name);
        }
    }
}
