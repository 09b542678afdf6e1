//! The configuration file, parsed: defaults, every key, and the errors that name the key.

use super::*;
use crate::command::{Delivery, OutputKind};

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
        ("branch_template = \"{feature}\"", "branch_template"),
        ("branch_template = \"x..{wp}\"", "branch_template"),
        ("commit_template = \"{nope}\"", "commit_template"),
        ("merge_strategy = \"rebase\"", "merge_strategy"),
        ("cleanup = \"everything\"", "cleanup"),
        ("mirror = \"sometimes\"", "mirror"),
        ("max_fix_rounds = 11", "max_fix_rounds"),
        ("push_remote = \"--upload-pack=x\"", "push_remote"),
        ("[agents.codex]\nbase_url = \"http://x\"", "agents.codex.base_url"),
        ("[agents.openai-api]\nbase_url = \"ftp://x.example\"", "agents.openai-api.base_url"),
        ("[agents.openai-api]\napi_key_env = \"A-B\"", "agents.openai-api.api_key_env"),
        ("[agents.openai-api]\nmax_turns = 0", "agents.openai-api.max_turns"),
        ("[agents.openai-api]\ntemperature = -1.0", "agents.openai-api.temperature"),
        ("sandbox = \"maybe\"", "sandbox"),
        ("[agents.codex]\nsandbox = \"strict\"", "agents.codex.sandbox"),
        ("[agents.codex]\nwritable = [\"relative/dir\"]", "agents.codex.writable"),
    ] {
        let err = parse(text).unwrap_err();
        assert_eq!(err.key.as_deref(), Some(key), "{text}: {err}");
    }
}

#[test]
fn the_api_agent_has_defaults_and_takes_its_keys() {
    let config = parse("[agents.openai-api]\nbase_url = \"http://127.0.0.1:11434/v1/\"\nmodel = \"qwen\"\nallowed_commands = [\"cargo\"]\n").unwrap();
    let api = config.agents.settings["openai-api"].api.clone().unwrap();
    assert_eq!((api.base_url.as_str(), api.model.as_str()), ("http://127.0.0.1:11434/v1", "qwen"));
    assert_eq!(
        (api.api_key_env.as_str(), api.allowed_commands.as_slice()),
        ("OPENAI_API_KEY", &["cargo".to_string()][..])
    );
    assert!(api.is_loopback());
}

#[test]
fn json_configuration_is_validated_like_the_file() {
    let config =
        Config::from_json(&serde_json::json!({"max_retries": 5, "agents": {"implementation": ["codex"]}}), "<dict>")
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

#[test]
fn resume_args_are_for_custom_cli_agents_with_the_session_placeholder_once() {
    let ok = parse("[agents.mine]\ncommand = [\"my-agent\"]\nresume_args = [\"--resume\", \"{session}\"]\n").unwrap();
    let mine = ok.agents.settings["mine"].custom.as_ref().unwrap();
    assert_eq!(mine.resume_args.as_deref(), Some(&["--resume".to_string(), "{session}".to_string()][..]));
    for (text, why) in [
        ("[agents.mine]\ncommand = [\"a\"]\nresume_args = [\"--resume\"]\n", "{session}"),
        ("[agents.mine]\ncommand = [\"a\"]\nresume_args = [\"{session}\", \"{session}\"]\n", "{session}"),
        ("[agents.codex]\nresume_args = [\"resume\", \"{session}\"]\n", "only custom agents"),
        (
            "[agents.mine]\ncommand = [\"a\"]\ndriver = \"acp\"\nresume_args = [\"x\", \"{session}\"]\n",
            "driver = \"acp\"",
        ),
    ] {
        let err = parse(text).unwrap_err();
        assert!(err.key.as_deref().is_some_and(|k| k.ends_with(".resume_args")), "{text}: {err}");
        assert!(err.to_string().contains(why), "{text}: {err}");
    }
}
