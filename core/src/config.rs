//! `.kittify/orchestrator.toml`: how a run is shaped (concurrency, retries, timeouts, agents).
//!
//! The file is optional; every key has a default. Unknown keys and out-of-range values are errors
//! that name the key and its line, because a typo silently ignored (`max_retires = 5`) is a run
//! that behaves differently from what the user wrote.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::command::{Delivery, OutputKind};
use crate::ids::{BUILTIN_AGENT_IDS, check_ref_component, is_builtin};

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
    /// argv run after every WP is done, in a worktree merging them all.
    pub verify_command: Option<Vec<String>>,
    /// argv run in each new worktree before its agent starts.
    pub setup_command: Option<Vec<String>>,
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
            setup_command: None,
            agents: AgentsConfig::default(),
        }
    }
}

/// An invalid configuration: the file, the key, the line, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// The configuration file (or `<inline>` for configuration given in code).
    pub path: PathBuf,
    /// The dotted key at fault, e.g. `agents.codex.max_concurrent`, when known.
    pub key: Option<String>,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// What is wrong and what is expected.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        write!(f, ": ")?;
        if let Some(key) = &self.key {
            write!(f, "key `{key}`: ")?;
        }
        f.write_str(&self.message)
    }
}

impl Config {
    /// Loads `<repo>/.kittify/orchestrator.toml`, or the defaults when the file does not exist.
    pub fn load(repo_root: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let path = repo_root.as_ref().join(CONFIG_PATH);
        if path.exists() { Config::from_path(&path) } else { Ok(Config::default()) }
    }

    /// Loads a configuration file (it must exist).
    pub fn from_path(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|err| ConfigError {
            path: path.to_path_buf(),
            key: None,
            line: None,
            message: format!("cannot read configuration: {err}"),
        })?;
        let text = String::from_utf8(bytes).map_err(|_| ConfigError {
            path: path.to_path_buf(),
            key: None,
            line: None,
            message: "not valid UTF-8; save the file as UTF-8".into(),
        })?;
        Config::from_toml_str(&text, path)
    }

    /// Builds a configuration from JSON-shaped data with the same keys as the TOML file (how the
    /// Python and Node bindings pass a dict / object); validated exactly like the file.
    pub fn from_json(value: &serde_json::Value, source: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let source = source.as_ref();
        let invalid = |message: String| ConfigError { path: source.to_path_buf(), key: None, line: None, message };
        if !value.is_object() {
            return Err(invalid("the configuration must be a mapping of keys to values".into()));
        }
        let table: toml::Value =
            serde_json::from_value(value.clone()).map_err(|e| invalid(format!("cannot be expressed as TOML: {e}")))?;
        let text = toml::to_string(&table)
            .map_err(|e| invalid(format!("cannot be expressed as TOML (null values are not allowed): {e}")))?;
        Config::from_toml_str(&text, source)
    }

    /// Parses configuration text; `path` is only used in error messages.
    pub fn from_toml_str(text: &str, path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let raw: RawConfig = toml::from_str(text).map_err(|err| {
            let line = err.span().map(|span| line_of(text, span.start));
            let message = err.message().trim().to_string();
            ConfigError { path: path.to_path_buf(), key: key_in_message(&message), line, message }
        })?;
        Validator { text, path }.build(raw)
    }
}

/// `"a", "b", "c"`: the accepted values of a key, for error messages.
fn quoted_names<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names.map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", ")
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].bytes().filter(|&b| b == b'\n').count() + 1
}

/// serde names unknown fields as "unknown field `x`": lift that into the error's key.
fn key_in_message(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    Some(rest[..rest.find('`')?].to_string())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    max_concurrent_wps: Option<Spanned<i64>>,
    max_retries: Option<Spanned<i64>>,
    timeout_seconds: Option<Spanned<i64>>,
    idle_timeout_seconds: Option<Spanned<i64>>,
    single_agent_mode: Option<bool>,
    fallback_strategy: Option<Spanned<String>>,
    max_review_cycles: Option<Spanned<i64>>,
    target_branch: Option<Spanned<String>>,
    worktree_dir: Option<Spanned<String>>,
    auto_commit: Option<bool>,
    auto_commit_exclude: Option<Spanned<Vec<String>>>,
    verify_command: Option<Spanned<Vec<String>>>,
    setup_command: Option<Spanned<Vec<String>>>,
    agents: Option<BTreeMap<String, Spanned<toml::Value>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAgent {
    enabled: Option<bool>,
    max_concurrent: Option<i64>,
    timeout_seconds: Option<i64>,
    idle_timeout_seconds: Option<i64>,
    model: Option<String>,
    #[serde(default)]
    extra_args: Vec<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    command: Option<Vec<String>>,
    review_command: Option<Vec<String>>,
    prompt: Option<String>,
    output: Option<String>,
}

struct Validator<'a> {
    text: &'a str,
    path: &'a Path,
}

impl Validator<'_> {
    fn error(&self, key: &str, span: Option<std::ops::Range<usize>>, message: impl Into<String>) -> ConfigError {
        ConfigError {
            path: self.path.to_path_buf(),
            key: Some(key.to_string()),
            line: span.map(|s| line_of(self.text, s.start)),
            message: message.into(),
        }
    }

    fn int(
        &self,
        key: &str,
        value: Option<Spanned<i64>>,
        range: std::ops::RangeInclusive<i64>,
        default: i64,
    ) -> Result<i64, ConfigError> {
        match value {
            None => Ok(default),
            Some(v) if range.contains(v.get_ref()) => Ok(*v.get_ref()),
            Some(v) => Err(self.error(
                key,
                Some(v.span()),
                format!("{} is out of range: expected {} to {}", v.get_ref(), range.start(), range.end()),
            )),
        }
    }

    fn argv(&self, key: &str, value: Option<Spanned<Vec<String>>>) -> Result<Option<Vec<String>>, ConfigError> {
        match value {
            None => Ok(None),
            Some(v) if v.get_ref().is_empty() || v.get_ref()[0].trim().is_empty() => Err(self.error(
                key,
                Some(v.span()),
                "expected a command as a list of arguments with the program first, e.g. [\"cargo\", \"test\"]",
            )),
            Some(v) => Ok(Some(v.into_inner())),
        }
    }

    fn build(&self, raw: RawConfig) -> Result<Config, ConfigError> {
        const DAY_WEEK: i64 = 7 * 24 * 3600;
        let defaults = Config::default();
        let fallback_strategy = match raw.fallback_strategy {
            None => defaults.fallback_strategy,
            Some(v) => match v.get_ref().as_str() {
                "next_available" => FallbackStrategy::NextAvailable,
                "same_agent" => FallbackStrategy::SameAgent,
                "fail" => FallbackStrategy::Fail,
                other => {
                    return Err(self.error(
                        "fallback_strategy",
                        Some(v.span()),
                        format!("unknown value `{other}`: expected \"next_available\", \"same_agent\" or \"fail\""),
                    ));
                }
            },
        };
        let target_branch = match raw.target_branch {
            None => None,
            Some(v) => {
                let branch = v.get_ref().clone();
                if let Some(why) = branch.split('/').find_map(|part| check_ref_component(part).err()) {
                    return Err(self.error(
                        "target_branch",
                        Some(v.span()),
                        format!("`{branch}` is not a valid branch name: {why}"),
                    ));
                }
                Some(branch)
            }
        };
        let worktree_dir = match raw.worktree_dir {
            None => defaults.worktree_dir.clone(),
            Some(v) if v.get_ref().trim().is_empty() => {
                return Err(self.error("worktree_dir", Some(v.span()), "must not be empty"));
            }
            Some(v) => PathBuf::from(v.into_inner()),
        };
        let auto_commit_exclude = match raw.auto_commit_exclude {
            None => Vec::new(),
            Some(v) => {
                let span = v.span();
                let patterns = v.into_inner();
                if let Some(bad) = patterns.iter().find(|p| p.trim().is_empty() || p.contains('\n')) {
                    return Err(self.error(
                        "auto_commit_exclude",
                        Some(span),
                        format!(
                            "{bad:?} is not a gitignore pattern: expected one pattern per string, e.g. \"*.secret\""
                        ),
                    ));
                }
                patterns
            }
        };
        let agents = self.agents(raw.agents)?;
        Ok(Config {
            max_concurrent_wps: self.int("max_concurrent_wps", raw.max_concurrent_wps, 1..=64, 4)? as usize,
            max_retries: self.int("max_retries", raw.max_retries, 0..=20, 2)? as u32,
            timeout_seconds: self.int("timeout_seconds", raw.timeout_seconds, 1..=DAY_WEEK, 3600)? as u64,
            idle_timeout_seconds: self.int("idle_timeout_seconds", raw.idle_timeout_seconds, 1..=DAY_WEEK, 600)? as u64,
            single_agent_mode: raw.single_agent_mode.unwrap_or(defaults.single_agent_mode),
            fallback_strategy,
            max_review_cycles: self.int("max_review_cycles", raw.max_review_cycles, 1..=20, 3)? as u32,
            target_branch,
            worktree_dir,
            auto_commit: raw.auto_commit.unwrap_or(defaults.auto_commit),
            auto_commit_exclude,
            verify_command: self.argv("verify_command", raw.verify_command)?,
            setup_command: self.argv("setup_command", raw.setup_command)?,
            agents,
        })
    }

    fn agents(&self, raw: Option<BTreeMap<String, Spanned<toml::Value>>>) -> Result<AgentsConfig, ConfigError> {
        let mut out = AgentsConfig::default();
        let Some(raw) = raw else { return Ok(out) };
        let mut roles: Vec<(&str, Spanned<toml::Value>)> = Vec::new();
        for (key, value) in raw {
            if key == "implementation" || key == "review" {
                roles.push((if key == "implementation" { "implementation" } else { "review" }, value));
                continue;
            }
            let dotted = format!("agents.{key}");
            if let Err(why) = check_ref_component(&key) {
                return Err(self.error(&dotted, Some(value.span()), format!("agent id `{key}` is not usable: {why}")));
            }
            let span = value.span();
            let toml::Value::Table(_) = value.get_ref() else {
                return Err(self.error(
                    &dotted,
                    Some(span),
                    "expected a table `[agents.<id>]` (only `implementation` and `review` are lists)",
                ));
            };
            let table: RawAgent = value.into_inner().try_into().map_err(|err: toml::de::Error| {
                let message = err.message().trim().to_string();
                let key = key_in_message(&message).map(|k| format!("{dotted}.{k}")).unwrap_or_else(|| dotted.clone());
                self.error(&key, Some(span.clone()), message)
            })?;
            out.settings.insert(key.clone(), self.agent(&key, table, span)?);
        }
        for (role, value) in roles {
            let span = value.span();
            let ids: Vec<String> = value.into_inner().try_into().map_err(|_| {
                self.error(
                    &format!("agents.{role}"),
                    Some(span.clone()),
                    "expected a list of agent ids, e.g. [\"claude-code\", \"codex\"]",
                )
            })?;
            for (i, id) in ids.iter().enumerate() {
                let custom = out.settings.get(id).is_some_and(|s| s.custom.is_some());
                if !is_builtin(id) && !custom {
                    return Err(self.error(
                        &format!("agents.{role}[{i}]"),
                        Some(span.clone()),
                        format!(
                            "unknown agent `{id}`: built-in agents are {}; define a custom one with an [agents.{id}] table that has a `command`",
                            BUILTIN_AGENT_IDS.join(", ")
                        ),
                    ));
                }
            }
            if role == "implementation" {
                out.implementation = ids;
            } else {
                out.review = ids;
            }
        }
        Ok(out)
    }

    fn agent(&self, id: &str, raw: RawAgent, span: std::ops::Range<usize>) -> Result<AgentSettings, ConfigError> {
        let key = |k: &str| format!("agents.{id}.{k}");
        let positive = |k: &str, v: Option<i64>, max: i64| -> Result<Option<i64>, ConfigError> {
            match v {
                Some(n) if !(1..=max).contains(&n) => {
                    Err(self.error(&key(k), Some(span.clone()), format!("{n} is out of range: expected 1 to {max}")))
                }
                other => Ok(other),
            }
        };
        let week = 7 * 24 * 3600;
        let custom = match raw.command {
            None => {
                if !is_builtin(id) {
                    return Err(self.error(
                        &format!("agents.{id}"),
                        Some(span),
                        format!(
                            "unknown agent `{id}`: built-in agents are {}; a custom agent needs `command = [\"program\", \"arg\", ...]`",
                            BUILTIN_AGENT_IDS.join(", ")
                        ),
                    ));
                }
                for (name, set) in [
                    ("review_command", raw.review_command.is_some()),
                    ("prompt", raw.prompt.is_some()),
                    ("output", raw.output.is_some()),
                ] {
                    if set {
                        return Err(self.error(
                            &key(name),
                            Some(span.clone()),
                            "only custom agents (tables with a `command`) take this key",
                        ));
                    }
                }
                None
            }
            Some(command) => {
                if is_builtin(id) {
                    return Err(self.error(
                        &key("command"),
                        Some(span),
                        format!("`{id}` is a built-in agent; give your custom agent another id"),
                    ));
                }
                let argv_ok = |argv: &Vec<String>| !argv.is_empty() && !argv[0].trim().is_empty();
                if !argv_ok(&command) {
                    return Err(self.error(
                        &key("command"),
                        Some(span),
                        "expected [\"program\", \"arg\", ...] with the program first",
                    ));
                }
                if let Some(review) = &raw.review_command
                    && !argv_ok(review)
                {
                    return Err(self.error(
                        &key("review_command"),
                        Some(span),
                        "expected [\"program\", \"arg\", ...] with the program first",
                    ));
                }
                let prompt = match raw.prompt.as_deref() {
                    None => Delivery::Stdin,
                    Some(name) => match Delivery::ALL.iter().find(|(n, _)| *n == name) {
                        Some((_, delivery)) => *delivery,
                        None => {
                            return Err(self.error(
                                &key("prompt"),
                                Some(span),
                                format!(
                                    "unknown value `{name}`: expected one of {}",
                                    quoted_names(Delivery::ALL.iter().map(|(n, _)| *n))
                                ),
                            ));
                        }
                    },
                };
                let output = match raw.output.as_deref() {
                    None => OutputKind::Text,
                    Some(name) => match OutputKind::ALL.iter().find(|(n, _)| *n == name) {
                        Some((_, kind)) => *kind,
                        None => {
                            return Err(self.error(
                                &key("output"),
                                Some(span),
                                format!(
                                    "unknown value `{name}`: expected one of {}",
                                    quoted_names(OutputKind::ALL.iter().map(|(n, _)| *n))
                                ),
                            ));
                        }
                    },
                };
                Some(CustomAgent { command, review_command: raw.review_command, prompt, output })
            }
        };
        Ok(AgentSettings {
            enabled: raw.enabled.unwrap_or(true),
            max_concurrent: positive("max_concurrent", raw.max_concurrent, 64)?.map(|n| n as usize),
            timeout_seconds: positive("timeout_seconds", raw.timeout_seconds, week)?.map(|n| n as u64),
            idle_timeout_seconds: positive("idle_timeout_seconds", raw.idle_timeout_seconds, week)?.map(|n| n as u64),
            model: raw.model,
            extra_args: raw.extra_args,
            env: raw.env,
            custom,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml_str(text, "orchestrator.toml")
    }

    #[test]
    fn empty_file_gives_defaults() {
        assert_eq!(parse("").unwrap(), Config::default());
    }

    #[test]
    fn full_file_parses() {
        let config = parse(
            r#"
max_concurrent_wps = 8
max_retries = 1
timeout_seconds = 900
idle_timeout_seconds = 120
single_agent_mode = true
fallback_strategy = "same_agent"
max_review_cycles = 2
target_branch = "release/2.0"
worktree_dir = "../wt"
auto_commit = false
verify_command = ["cargo", "test"]

[agents]
implementation = ["claude-code", "mine"]
review = ["codex"]

[agents.codex]
max_concurrent = 2
model = "gpt-5"
extra_args = ["--foo"]
env = { CODEX_HOME = "/tmp/codex" }

[agents.mine]
command = ["my-agent", "--headless"]
prompt = "file"
output = "stream-json"
"#,
        )
        .unwrap();
        assert_eq!(config.max_concurrent_wps, 8);
        assert_eq!(config.fallback_strategy, FallbackStrategy::SameAgent);
        assert_eq!(config.target_branch.as_deref(), Some("release/2.0"));
        assert_eq!(config.agents.implementation, ["claude-code", "mine"]);
        assert_eq!(config.agents.settings["codex"].max_concurrent, Some(2));
        let mine = config.agents.settings["mine"].custom.as_ref().unwrap();
        assert_eq!(mine.prompt, Delivery::File);
        assert_eq!(mine.output, OutputKind::ClaudeResult);
    }

    #[test]
    fn unknown_keys_name_the_key_and_line() {
        let err = parse("max_concurrent_wps = 2\nmax_retires = 5\n").unwrap_err();
        assert_eq!(err.key.as_deref(), Some("max_retires"));
        assert_eq!(err.line, Some(2));
        let err = parse("[agents.codex]\nmodle = \"x\"\n").unwrap_err();
        assert_eq!(err.key.as_deref(), Some("agents.codex.modle"));
    }

    #[test]
    fn out_of_range_values_name_the_key() {
        let err = parse("\nmax_concurrent_wps = 0\n").unwrap_err();
        assert_eq!(err.key.as_deref(), Some("max_concurrent_wps"));
        assert_eq!(err.line, Some(2));
        assert!(err.to_string().contains("out of range"), "{err}");
        let err = parse("[agents.codex]\nmax_concurrent = -1\n").unwrap_err();
        assert_eq!(err.key.as_deref(), Some("agents.codex.max_concurrent"));
    }

    #[test]
    fn bad_values_are_errors() {
        for (text, key) in [
            ("fallback_strategy = \"maybe\"", "fallback_strategy"),
            ("target_branch = \"a..b\"", "target_branch"),
            ("verify_command = []", "verify_command"),
            ("[agents]\nimplementation = [\"nope\"]", "agents.implementation[0]"),
            ("[agents.nope]\nmodel = \"x\"", "agents.nope"),
            ("[agents.mine]\ncommand = [\"x\"]\nprompt = \"pigeon\"", "agents.mine.prompt"),
            ("[agents.codex]\ncommand = [\"x\"]", "agents.codex.command"),
            ("[agents]\nimplementation = \"codex\"", "agents.implementation"),
        ] {
            let err = parse(text).unwrap_err();
            assert_eq!(err.key.as_deref(), Some(key), "{text}: {err}");
        }
    }

    #[test]
    fn json_configuration_is_validated_like_the_file() {
        let config = Config::from_json(
            &serde_json::json!({"max_retries": 5, "agents": {"implementation": ["codex"]}}),
            "<dict>",
        )
        .unwrap();
        assert_eq!(config.max_retries, 5);
        assert_eq!(config.agents.implementation, ["codex"]);
        let err = Config::from_json(&serde_json::json!({"max_retires": 5}), "<dict>").unwrap_err();
        assert_eq!(err.key.as_deref(), Some("max_retires"));
    }

    #[test]
    fn syntax_errors_have_a_line() {
        let err = parse("a = 1\nb = [\n").unwrap_err();
        assert!(err.line.is_some(), "{err}");
    }
}
