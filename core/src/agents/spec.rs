//! Agents as configured: each built-in profile or custom command with the configuration's
//! settings applied (model, extra arguments, limits, environment), per role.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use super::profiles::builtin_profiles;
use crate::command::{AgentCommand, Driver};
use crate::config::Config;
use crate::ids::OPENAI_API;
use crate::role::Role;

/// An agent as configured: built-in profile or custom command, with its settings applied.
#[derive(Debug, Clone, Serialize)]
pub struct AgentSpec {
    /// Agent id.
    pub id: String,
    /// Whether it is a built-in profile.
    pub builtin: bool,
    /// Taken out of every role when false.
    pub enabled: bool,
    /// Per-agent concurrency limit.
    pub max_concurrent: Option<usize>,
    /// Wall-clock limit of one run.
    pub timeout: Duration,
    /// No-output limit of one run.
    pub idle_timeout: Duration,
    pub(super) implementation: AgentCommand,
    pub(super) review: AgentCommand,
}

impl AgentSpec {
    /// The command for `role`.
    pub fn command(&self, role: Role) -> &AgentCommand {
        match role {
            Role::Implementation => &self.implementation,
            Role::Review => &self.review,
        }
    }

    /// The program that must be installed.
    pub fn program(&self) -> &str {
        &self.implementation.program
    }

    /// Whether it can run here: its program is on PATH, or — for `openai-api` — its key variable
    /// is set or its endpoint is a loopback address. `Err` says why not.
    pub fn availability(&self) -> Result<Option<PathBuf>, String> {
        if let Some(api) = &self.implementation.api {
            let key_set = std::env::var_os(&api.api_key_env).is_some_and(|v| !v.is_empty());
            return if key_set || api.is_loopback() {
                Ok(None)
            } else {
                Err(format!("{} is not set (and base_url {} is not a loopback address)", api.api_key_env, api.base_url))
            };
        }
        match find_program(self.program()) {
            Some(path) => Ok(Some(path)),
            None => Err(format!("`{}` not found on PATH", self.program())),
        }
    }
}

/// Wall-clock and idle limits of an agent: its own settings, else the global ones.
fn limits(settings: &crate::config::AgentSettings, config: &Config) -> (Duration, Duration) {
    (
        Duration::from_secs(settings.timeout_seconds.unwrap_or(config.timeout_seconds)),
        Duration::from_secs(settings.idle_timeout_seconds.unwrap_or(config.idle_timeout_seconds)),
    )
}

/// Where a model flag or extra arguments go in a profile's argv: before a trailing `-` /
/// `{prompt}` operand, which must stay last — and before the flag whose value a placeholder is
/// (`--message-file {prompt_file}`: never between a flag and its value).
fn insertion_point(args: &[String]) -> usize {
    let Some(at) = args.iter().position(|a| a == "-" || a.starts_with('{')) else { return args.len() };
    if at > 0 && args[at] != "-" && args[at - 1].starts_with('-') { at - 1 } else { at }
}

/// Every agent the configuration knows: the built-ins (with their `[agents.<id>]` settings) and
/// the custom ones, in preference order.
pub fn agent_specs(config: &Config) -> Vec<AgentSpec> {
    let mut specs = Vec::new();
    for profile in builtin_profiles() {
        let settings = config.agents.settings.get(profile.id).cloned().unwrap_or_default();
        let command = |args: &[String], profile_env: &[(&str, &str)]| {
            let mut args = args.to_vec();
            if let (Some(model), Some(flag)) = (&settings.model, profile.model_flag) {
                let at = insertion_point(&args);
                args.splice(at..at, [flag.to_string(), model.clone()]);
            }
            let at = insertion_point(&args);
            args.splice(at..at, settings.extra_args.iter().cloned());
            let mut env: Vec<(String, String)> =
                profile_env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            env.extend(settings.env.iter().map(|(k, v)| (k.clone(), v.clone())));
            AgentCommand {
                agent: profile.id.to_string(),
                program: profile.binary.to_string(),
                args,
                delivery: profile.delivery,
                output: profile.output,
                driver: Driver::Cli,
                env,
                redact: settings.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                checked_version: profile.checked_version.map(str::to_string),
                api: (profile.id == OPENAI_API).then(|| {
                    let mut api = settings.api.clone().unwrap_or_default();
                    if let Some(model) = &settings.model {
                        api.model = model.clone();
                    }
                    api
                }),
                resume: None,
            }
        };
        let (timeout, idle_timeout) = limits(&settings, config);
        let mut implementation = command(&profile.implementation, profile.env);
        implementation.resume = profile.resume.map(|r| r.iter().map(|a| a.to_string()).collect());
        let mut review = command(&profile.review, profile.review_env.unwrap_or(profile.env));
        if let (Driver::Acp, Some(launch)) = (settings.driver, profile.acp) {
            // One ACP server for both roles: what a reviewer may do is decided by our answers
            // to its permission requests and by its confinement, not by its argv.
            for command in [&mut implementation, &mut review] {
                command.program = launch.program.unwrap_or(profile.binary).to_string();
                command.args =
                    launch.args.iter().map(|a| a.to_string()).chain(settings.extra_args.iter().cloned()).collect();
                command.driver = Driver::Acp;
                command.checked_version = launch.checked_version.map(str::to_string);
                // Over ACP the session is continued by `session/load`.
                command.resume = None;
            }
        }
        specs.push(AgentSpec {
            id: profile.id.to_string(),
            builtin: true,
            enabled: settings.enabled,
            max_concurrent: settings.max_concurrent,
            timeout,
            idle_timeout,
            implementation,
            review,
        });
    }
    for (id, settings) in &config.agents.settings {
        let Some(custom) = &settings.custom else { continue };
        let command = |argv: &[String]| {
            let mut args: Vec<String> = argv[1..].to_vec();
            args.extend(settings.extra_args.iter().cloned());
            AgentCommand {
                agent: id.clone(),
                program: argv[0].clone(),
                args,
                delivery: custom.prompt,
                output: custom.output,
                driver: settings.driver,
                env: settings.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                redact: settings.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                checked_version: None,
                api: None,
                resume: None,
            }
        };
        let (timeout, idle_timeout) = limits(settings, config);
        specs.push(AgentSpec {
            id: id.clone(),
            builtin: false,
            enabled: settings.enabled,
            max_concurrent: settings.max_concurrent,
            timeout,
            idle_timeout,
            implementation: AgentCommand {
                resume: custom.resume_args.clone().filter(|_| settings.driver == Driver::Cli),
                ..command(&custom.command)
            },
            review: command(custom.review_command.as_deref().unwrap_or(&custom.command)),
        });
    }
    specs
}

/// The first `program` on PATH (or `program` itself when it contains a `/` and exists).
pub fn find_program(program: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let executable =
        |p: &Path| p.metadata().map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false);
    if program.contains('/') {
        let path = PathBuf::from(program);
        return executable(&path).then_some(path);
    }
    std::env::split_paths(&std::env::var_os("PATH")?).map(|dir| dir.join(program)).find(|p| executable(p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::confine_command;

    fn args_of(toml: &str, agent: &str) -> Vec<String> {
        let config = Config::from_toml_str(toml, "test.toml").unwrap();
        let spec = agent_specs(&config).into_iter().find(|s| s.id == agent).unwrap();
        spec.implementation.args
    }

    fn confined_args(command: &AgentCommand) -> Vec<String> {
        let mut command = command.clone();
        confine_command(&mut command);
        command.args
    }

    #[test]
    fn model_and_extra_args_never_split_a_flag_from_its_value() {
        let args = args_of("[agents.aider]\nmodel = \"openai/x\"\nextra_args = [\"--no-auto-lint\"]", "aider");
        let file = args.iter().position(|a| a == "--message-file").unwrap();
        assert_eq!(args[file + 1], "{prompt_file}", "{args:?}");
        assert!(args.windows(2).any(|w| w == ["--model", "openai/x"]), "{args:?}");
        let args = args_of("[agents.augment]\nmodel = \"m\"", "augment");
        let file = args.iter().position(|a| a == "--instruction-file").unwrap();
        assert_eq!(args[file + 1], "{prompt_file}", "{args:?}");
        // Codex's own sandbox cannot start inside ours: ours is the sandbox then.
        let args = args_of("", "codex");
        let codex =
            agent_specs(&Config::from_toml_str("", "t").unwrap()).into_iter().find(|s| s.id == "codex").unwrap();
        let confined = confined_args(codex.command(Role::Implementation));
        let mut claude_acp =
            agent_specs(&Config::from_toml_str("[agents.claude-code]\ndriver = \"acp\"", "t").unwrap())
                .into_iter()
                .find(|s| s.id == "claude-code")
                .unwrap()
                .command(Role::Implementation)
                .clone();
        confine_command(&mut claude_acp);
        assert!(claude_acp.env.contains(&("IS_SANDBOX".into(), "1".into())));
        assert!(confined.windows(2).any(|w| w == ["--sandbox", "danger-full-access"]), "{confined:?}");
        assert!(args.windows(2).any(|w| w == ["--sandbox", "workspace-write"]), "unconfined: its own sandbox");
        let claude =
            agent_specs(&Config::from_toml_str("", "t").unwrap()).into_iter().find(|s| s.id == "claude-code").unwrap();
        assert_eq!(confined_args(claude.command(Role::Implementation)), args_of("", "claude-code"));
        let acp = Config::from_toml_str("[agents.codex]\ndriver = \"acp\"", "t").unwrap();
        let codex = agent_specs(&acp).into_iter().find(|s| s.id == "codex").unwrap();
        assert_eq!(confined_args(codex.command(Role::Review)), ["-c", "sandbox_mode=\"danger-full-access\""]);
        // A trailing operand stays last.
        let args = args_of("[agents.codex]\nmodel = \"o\"", "codex");
        assert_eq!(args.last().map(String::as_str), Some("-"), "{args:?}");
        let args = args_of("[agents.opencode]\nmodel = \"p/m\"", "opencode");
        assert_eq!(args.last().map(String::as_str), Some("{prompt}"), "{args:?}");
    }

    #[test]
    fn acp_agents_are_the_profiles_with_an_acp_launch() {
        let with_acp: Vec<&str> = builtin_profiles().into_iter().filter(|p| p.acp.is_some()).map(|p| p.id).collect();
        assert_eq!(with_acp, crate::ids::BUILTIN_ACP_AGENT_IDS);
        let config =
            Config::from_toml_str("[agents.gemini]\ndriver = \"acp\"\nextra_args = [\"-m\", \"x\"]", "t").unwrap();
        let spec = agent_specs(&config).into_iter().find(|s| s.id == "gemini").unwrap();
        for role in [Role::Implementation, Role::Review] {
            let command = spec.command(role);
            assert_eq!((command.program.as_str(), command.driver), ("gemini", Driver::Acp));
            assert_eq!(command.args, ["--acp", "-m", "x"]);
        }
        let config = Config::from_toml_str("[agents.claude-code]\ndriver = \"acp\"", "t").unwrap();
        let spec = agent_specs(&config).into_iter().find(|s| s.id == "claude-code").unwrap();
        assert_eq!(spec.program(), "claude-agent-acp");
        for (toml, key) in [
            ("[agents.aider]\ndriver = \"acp\"", "agents.aider.driver"),
            ("[agents.gemini]\ndriver = \"acp\"\nmodel = \"m\"", "agents.gemini.model"),
            ("[agents.x]\ncommand = [\"x\"]\ndriver = \"acp\"\noutput = \"json\"", "agents.x.output"),
            ("[agents.gemini]\ndriver = \"rpc\"", "agents.gemini.driver"),
        ] {
            let err = Config::from_toml_str(toml, "t").unwrap_err().to_string();
            assert!(err.contains(key), "{toml}: {err}");
        }
        let custom =
            Config::from_toml_str("[agents.x]\ncommand = [\"my-acp\", \"--stdio\"]\ndriver = \"acp\"", "t").unwrap();
        let spec = agent_specs(&custom).into_iter().find(|s| s.id == "x").unwrap();
        assert_eq!(spec.command(Role::Review).driver, Driver::Acp);
    }
}
