//! From the file as written to a [`Config`]: ranges, names, agent tables, each error naming its
//! key and line. Defaults come from [`Config::default`], nowhere else.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use toml::Spanned;

use super::error::ConfigError;
use super::model::{AgentSettings, AgentsConfig, Cleanup, Config, CustomAgent, FallbackStrategy, Mirror};
use super::raw::{RawAgent, RawConfig};
use super::text::{key_in_message, line_of, quoted_names};
use crate::command::{Delivery, Driver, OutputKind};
use crate::ids::{BUILTIN_ACP_AGENT_IDS, BUILTIN_AGENT_IDS, BranchName, check_ref_component, is_builtin};
use crate::merge_strategy::MergeStrategy;
use crate::template::{BranchTemplate, CommitTemplate};

pub(super) struct Validator<'a> {
    pub(super) text: &'a str,
    pub(super) path: &'a Path,
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

    /// The configuration from the file's keys: each group of keys checked by its own step, then
    /// the numbers with their ranges.
    pub(super) fn build(&self, raw: RawConfig) -> Result<Config, ConfigError> {
        const DAY_WEEK: i64 = 7 * 24 * 3600;
        let d = Config::default();
        let choices = self.choices(&raw, &d)?;
        let places = self.places(&raw, &d)?;
        let sharing = self.sharing(&raw, &d)?;
        let int = |key: &str, value: Option<Spanned<i64>>, range: std::ops::RangeInclusive<i64>, default: u64| {
            self.int(key, value, range, default as i64).map(|n| n as u64)
        };
        Ok(Config {
            max_concurrent_wps: int("max_concurrent_wps", raw.max_concurrent_wps, 1..=64, d.max_concurrent_wps as u64)?
                as usize,
            max_retries: int("max_retries", raw.max_retries, 0..=20, d.max_retries.into())? as u32,
            timeout_seconds: int("timeout_seconds", raw.timeout_seconds, 1..=DAY_WEEK, d.timeout_seconds)?,
            idle_timeout_seconds: int(
                "idle_timeout_seconds",
                raw.idle_timeout_seconds,
                1..=DAY_WEEK,
                d.idle_timeout_seconds,
            )?,
            max_review_cycles: int("max_review_cycles", raw.max_review_cycles, 1..=20, d.max_review_cycles.into())?
                as u32,
            max_fix_rounds: int("max_fix_rounds", raw.max_fix_rounds, 0..=10, d.max_fix_rounds.into())? as u32,
            single_agent_mode: raw.single_agent_mode.unwrap_or(d.single_agent_mode),
            auto_commit: raw.auto_commit.unwrap_or(d.auto_commit),
            resolve_conflicts: raw.resolve_conflicts.unwrap_or(d.resolve_conflicts),
            auto_push: raw.auto_push.unwrap_or(d.auto_push),
            auto_pr: raw.auto_pr.unwrap_or(d.auto_pr),
            auto_merge: raw.auto_merge.unwrap_or(d.auto_merge),
            tick_tasks: raw.tick_tasks.unwrap_or(d.tick_tasks),
            recycle_worktrees: raw.recycle_worktrees.unwrap_or(d.recycle_worktrees),
            include_optional: raw.include_optional.unwrap_or(d.include_optional),
            verify_command: self.argv("verify_command", raw.verify_command)?,
            setup_command: self.argv("setup_command", raw.setup_command)?,
            agents: self.agents(raw.agents)?,
            fallback_strategy: choices.fallback_strategy,
            merge_strategy: choices.merge_strategy,
            mirror: choices.mirror,
            sandbox: choices.sandbox,
            cleanup: choices.cleanup,
            target_branch: places.target_branch,
            worktree_dir: places.worktree_dir,
            auto_commit_exclude: places.auto_commit_exclude,
            writable: places.writable,
            branch_template: places.branch_template,
            commit_template: places.commit_template,
            push_remote: sharing.push_remote,
            sync_remote: sharing.sync_remote,
            host_id: sharing.host_id,
            lease_seconds: sharing.lease_seconds,
            lease_renew_seconds: sharing.lease_renew_seconds,
            sync_interval_seconds: sharing.sync_interval_seconds,
        })
    }

    /// One of `choices` by its name (`None`: the key is absent); the error lists the names.
    fn choice<T: Copy>(
        &self,
        key: &str,
        value: &Option<Spanned<String>>,
        choices: &[(&str, T)],
    ) -> Result<Option<T>, ConfigError> {
        let Some(v) = value else { return Ok(None) };
        match choices.iter().find(|(name, _)| *name == v.get_ref()) {
            Some((_, choice)) => Ok(Some(*choice)),
            None => {
                let names: Vec<String> = choices.iter().map(|(name, _)| format!("\"{name}\"")).collect();
                let (last, rest) = names.split_last().expect("choices");
                let expected = if rest.is_empty() { last.clone() } else { format!("{} or {last}", rest.join(", ")) };
                Err(self.error(key, Some(v.span()), format!("unknown value `{}`: expected {expected}", v.get_ref())))
            }
        }
    }

    /// The keys that name one of a few behaviours.
    fn choices(&self, raw: &RawConfig, d: &Config) -> Result<Choices, ConfigError> {
        use crate::sandbox::SandboxMode;
        let fallback = [
            ("next_available", FallbackStrategy::NextAvailable),
            ("same_agent", FallbackStrategy::SameAgent),
            ("fail", FallbackStrategy::Fail),
        ];
        let merge = [("merge", MergeStrategy::Merge), ("squash", MergeStrategy::Squash)];
        let mirror = [Mirror::Commit, Mirror::Write, Mirror::Off].map(|m| (m.as_str(), m));
        let cleanup = [Cleanup::Worktrees, Cleanup::WorktreesAndBranches, Cleanup::Nothing].map(|c| (c.as_str(), c));
        Ok(Choices {
            fallback_strategy: self
                .choice("fallback_strategy", &raw.fallback_strategy, &fallback)?
                .unwrap_or(d.fallback_strategy),
            merge_strategy: self.choice("merge_strategy", &raw.merge_strategy, &merge)?.unwrap_or(d.merge_strategy),
            mirror: self.choice("mirror", &raw.mirror, &mirror)?.or(d.mirror),
            sandbox: self.choice("sandbox", &raw.sandbox, &SandboxMode::ALL)?.unwrap_or(d.sandbox),
            cleanup: self.choice("cleanup", &raw.cleanup, &cleanup)?.unwrap_or(d.cleanup),
        })
    }

    /// The keys that name branches, directories, paths and templates.
    fn places(&self, raw: &RawConfig, d: &Config) -> Result<Places, ConfigError> {
        let target_branch = match &raw.target_branch {
            None => None,
            Some(v) => {
                BranchName::parse(v.get_ref()).map_err(|why| self.error("target_branch", Some(v.span()), why))?;
                Some(v.get_ref().clone())
            }
        };
        let worktree_dir = match &raw.worktree_dir {
            None => d.worktree_dir.clone(),
            Some(v) if v.get_ref().trim().is_empty() => {
                return Err(self.error("worktree_dir", Some(v.span()), "must not be empty"));
            }
            Some(v) => PathBuf::from(v.get_ref()),
        };
        let auto_commit_exclude = match &raw.auto_commit_exclude {
            None => Vec::new(),
            Some(v) => match v.get_ref().iter().find(|p| p.trim().is_empty() || p.contains('\n')) {
                Some(bad) => {
                    let why = format!(
                        "{bad:?} is not a gitignore pattern: expected one pattern per string, e.g. \"*.secret\""
                    );
                    return Err(self.error("auto_commit_exclude", Some(v.span()), why));
                }
                None => v.get_ref().clone(),
            },
        };
        let mut writable = Vec::new();
        for path in raw.writable.as_ref().map(|v| v.get_ref().as_slice()).unwrap_or_default() {
            let span = raw.writable.as_ref().map(Spanned::span);
            let absolute = expand_writable(path)
                .ok_or_else(|| self.error("writable", span, format!("`{path}` is not an absolute path (or ~/…)")))?;
            writable.push(absolute);
        }
        let branch_template = match &raw.branch_template {
            None => BranchTemplate::default(),
            Some(v) => {
                BranchTemplate::parse(v.get_ref()).map_err(|why| self.error("branch_template", Some(v.span()), why))?
            }
        };
        let commit_template = match &raw.commit_template {
            None => None,
            Some(v) => Some(
                CommitTemplate::parse(v.get_ref()).map_err(|why| self.error("commit_template", Some(v.span()), why))?,
            ),
        };
        Ok(Places { target_branch, worktree_dir, auto_commit_exclude, writable, branch_template, commit_template })
    }

    /// A remote name or URL (`None`: the key is absent).
    fn remote(&self, key: &str, value: &Option<Spanned<String>>) -> Result<Option<String>, ConfigError> {
        match value {
            None => Ok(None),
            Some(v) if !is_remote_name(v.get_ref()) => {
                Err(self.error(key, Some(v.span()), format!("`{}` is not a remote name or URL", v.get_ref())))
            }
            Some(v) => Ok(Some(v.get_ref().clone())),
        }
    }

    /// The keys of pushing and of sharing a run with other machines.
    fn sharing(&self, raw: &RawConfig, d: &Config) -> Result<Sharing, ConfigError> {
        let host_id = match &raw.host_id {
            None => None,
            Some(v) => {
                check_ref_component(v.get_ref()).map_err(|why| {
                    self.error("host_id", Some(v.span()), format!("`{}` is not usable: {why}", v.get_ref()))
                })?;
                Some(v.get_ref().clone())
            }
        };
        let lease_seconds =
            self.int("lease_seconds", raw.lease_seconds.clone(), 5..=86_400, d.lease_seconds as i64)? as u64;
        let lease_renew_seconds =
            self.int("lease_renew_seconds", raw.lease_renew_seconds.clone(), 1..=3600, d.lease_renew_seconds as i64)?
                as u64;
        if lease_renew_seconds >= lease_seconds {
            let why = format!(
                "{lease_renew_seconds} s is not below lease_seconds ({lease_seconds} s): a lease would lapse between renewals"
            );
            return Err(self.error("lease_renew_seconds", raw.lease_renew_seconds.as_ref().map(Spanned::span), why));
        }
        Ok(Sharing {
            push_remote: self.remote("push_remote", &raw.push_remote)?.unwrap_or_else(|| d.push_remote.clone()),
            sync_remote: self.remote("sync_remote", &raw.sync_remote)?,
            host_id,
            lease_seconds,
            lease_renew_seconds,
            sync_interval_seconds: self.int(
                "sync_interval_seconds",
                raw.sync_interval_seconds.clone(),
                1..=3600,
                d.sync_interval_seconds as i64,
            )? as u64,
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
        let custom = match raw.command.clone() {
            None => {
                self.builtin_only(id, &raw, &span)?;
                None
            }
            Some(command) => Some(self.custom_agent(id, command, &raw, &span)?),
        };
        let api = self.api_settings(id, &raw, &span)?;
        let sandbox = match &raw.sandbox {
            None => None,
            Some(name) => Some(sandbox_mode(name).ok_or_else(|| {
                self.error(
                    &key("sandbox"),
                    Some(span.clone()),
                    format!("unknown value `{name}`: expected {SANDBOX_NAMES}"),
                )
            })?),
        };
        let mut writable = Vec::new();
        for path in raw.writable.clone().unwrap_or_default() {
            match expand_writable(&path) {
                Some(p) => writable.push(p),
                None => {
                    return Err(self.error(
                        &key("writable"),
                        Some(span.clone()),
                        format!("`{path}` is not an absolute path (or ~/…)"),
                    ));
                }
            }
        }
        let driver = self.named(&key("driver"), raw.driver.as_deref(), &Driver::ALL, Driver::Cli, &span)?;
        if driver == Driver::Acp {
            self.acp_agent(id, &raw, &span)?;
        }
        Ok(AgentSettings {
            api,
            sandbox,
            writable,
            driver,
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

    /// A table for a built-in agent: the id must be built in, and the custom-only keys absent.
    fn builtin_only(&self, id: &str, raw: &RawAgent, span: &std::ops::Range<usize>) -> Result<(), ConfigError> {
        if !is_builtin(id) {
            return Err(self.error(
                &format!("agents.{id}"),
                Some(span.clone()),
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
            ("resume_args", raw.resume_args.is_some()),
        ] {
            if set {
                let message = "only custom agents (tables with a `command`) take this key";
                return Err(self.error(&format!("agents.{id}.{name}"), Some(span.clone()), message));
            }
        }
        Ok(())
    }

    /// The `openai-api` agent's keys (defaults filled in); any of them on another agent is an
    /// error naming it.
    fn api_settings(
        &self,
        id: &str,
        raw: &RawAgent,
        span: &std::ops::Range<usize>,
    ) -> Result<Option<crate::command::ApiSettings>, ConfigError> {
        let key = |k: &str| format!("agents.{id}.{k}");
        let given = [
            ("base_url", raw.base_url.is_some()),
            ("api_key_env", raw.api_key_env.is_some()),
            ("max_turns", raw.max_turns.is_some()),
            ("max_output_tokens", raw.max_output_tokens.is_some()),
            ("temperature", raw.temperature.is_some()),
            ("request_timeout_seconds", raw.request_timeout_seconds.is_some()),
            ("price_in_per_mtok", raw.price_in_per_mtok.is_some()),
            ("price_out_per_mtok", raw.price_out_per_mtok.is_some()),
            ("allowed_commands", raw.allowed_commands.is_some()),
        ];
        if id != crate::ids::OPENAI_API {
            return match given.iter().find(|(_, set)| *set) {
                Some((name, _)) => Err(self.error(
                    &key(name),
                    Some(span.clone()),
                    format!("only the `{}` agent takes this key", crate::ids::OPENAI_API),
                )),
                None => Ok(None),
            };
        }
        let mut api = crate::command::ApiSettings::default();
        if let Some(model) = &raw.model {
            api.model = model.clone();
        }
        if let Some(url) = &raw.base_url {
            let url = url.trim().trim_end_matches('/');
            if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() < 10 {
                return Err(self.error(
                    &key("base_url"),
                    Some(span.clone()),
                    format!("`{url}` is not an http(s) URL, e.g. \"https://api.openai.com/v1\" or \"http://127.0.0.1:11434/v1\""),
                ));
            }
            api.base_url = url.to_string();
        }
        if let Some(var) = &raw.api_key_env {
            if var.is_empty() || !var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(self.error(
                    &key("api_key_env"),
                    Some(span.clone()),
                    "expected an environment variable name",
                ));
            }
            api.api_key_env = var.clone();
        }
        let range = |k: &str, v: Option<i64>, max: i64| -> Result<Option<i64>, ConfigError> {
            match v {
                Some(n) if !(1..=max).contains(&n) => {
                    Err(self.error(&key(k), Some(span.clone()), format!("{n} is out of range: expected 1 to {max}")))
                }
                other => Ok(other),
            }
        };
        if let Some(n) = range("max_turns", raw.max_turns, 1000)? {
            api.max_turns = n as u32;
        }
        if let Some(n) = range("max_output_tokens", raw.max_output_tokens, 1_000_000)? {
            api.max_output_tokens = n as u32;
        }
        if let Some(n) = range("request_timeout_seconds", raw.request_timeout_seconds, 24 * 3600)? {
            api.request_timeout_seconds = n as u64;
        }
        for (name, value) in [
            ("temperature", raw.temperature),
            ("price_in_per_mtok", raw.price_in_per_mtok),
            ("price_out_per_mtok", raw.price_out_per_mtok),
        ] {
            if let Some(v) = value
                && !(v.is_finite() && (0.0..=1_000_000.0).contains(&v))
            {
                return Err(self.error(
                    &key(name),
                    Some(span.clone()),
                    format!("{v} is out of range: expected 0 or more"),
                ));
            }
        }
        api.temperature = raw.temperature;
        api.price_in_per_mtok = raw.price_in_per_mtok;
        api.price_out_per_mtok = raw.price_out_per_mtok;
        api.allowed_commands = raw.allowed_commands.clone().unwrap_or_default();
        Ok(Some(api))
    }

    /// A custom agent: its argv, review argv, prompt delivery and output kind.
    fn custom_agent(
        &self,
        id: &str,
        command: Vec<String>,
        raw: &RawAgent,
        span: &std::ops::Range<usize>,
    ) -> Result<CustomAgent, ConfigError> {
        let key = |k: &str| format!("agents.{id}.{k}");
        if is_builtin(id) {
            let message = format!("`{id}` is a built-in agent; give your custom agent another id");
            return Err(self.error(&key("command"), Some(span.clone()), message));
        }
        let argv_ok = |argv: &Vec<String>| !argv.is_empty() && !argv[0].trim().is_empty();
        let bad_argv = "expected [\"program\", \"arg\", ...] with the program first";
        if !argv_ok(&command) {
            return Err(self.error(&key("command"), Some(span.clone()), bad_argv));
        }
        if raw.review_command.as_ref().is_some_and(|review| !argv_ok(review)) {
            return Err(self.error(&key("review_command"), Some(span.clone()), bad_argv));
        }
        let prompt = self.named(&key("prompt"), raw.prompt.as_deref(), &Delivery::ALL, Delivery::Stdin, span)?;
        let output = self.named(&key("output"), raw.output.as_deref(), &OutputKind::ALL, OutputKind::Text, span)?;
        if let Some(resume) = &raw.resume_args
            && resume.iter().filter(|a| a.contains("{session}")).count() != 1
        {
            let message = "expected the arguments that continue the agent's session, with `{session}` once where its id goes: [\"--resume\", \"{session}\"]";
            return Err(self.error(&key("resume_args"), Some(span.clone()), message));
        }
        Ok(CustomAgent {
            command,
            review_command: raw.review_command.clone(),
            prompt,
            output,
            resume_args: raw.resume_args.clone(),
        })
    }

    /// `driver = "acp"`: the agent must have an ACP mode, and the CLI-only keys are absent (the
    /// prompt and the answers go over the protocol).
    fn acp_agent(&self, id: &str, raw: &RawAgent, span: &std::ops::Range<usize>) -> Result<(), ConfigError> {
        let key = |k: &str| format!("agents.{id}.{k}");
        if is_builtin(id) {
            if !BUILTIN_ACP_AGENT_IDS.contains(&id) {
                let message = format!(
                    "`{id}` has no ACP mode; built-in agents with one are {}",
                    BUILTIN_ACP_AGENT_IDS.join(", ")
                );
                return Err(self.error(&key("driver"), Some(span.clone()), message));
            }
            if raw.model.is_some() {
                let message = "not passed with driver = \"acp\": set the model in the agent's own configuration, or pass its flag in extra_args";
                return Err(self.error(&key("model"), Some(span.clone()), message));
            }
        }
        for (name, set) in [
            ("prompt", raw.prompt.is_some()),
            ("output", raw.output.is_some()),
            ("resume_args", raw.resume_args.is_some()),
        ] {
            if set {
                let message =
                    "not used with driver = \"acp\": the prompt, the answer and the session go over the protocol";
                return Err(self.error(&key(name), Some(span.clone()), message));
            }
        }
        Ok(())
    }

    /// A value given by one of its names (`"stdin"`), `default` when absent.
    fn named<T: Copy>(
        &self,
        key: &str,
        value: Option<&str>,
        all: &[(&str, T)],
        default: T,
        span: &std::ops::Range<usize>,
    ) -> Result<T, ConfigError> {
        let Some(name) = value else { return Ok(default) };
        all.iter().find(|(n, _)| *n == name).map(|(_, v)| *v).ok_or_else(|| {
            let expected = quoted_names(all.iter().map(|(n, _)| *n));
            self.error(key, Some(span.clone()), format!("unknown value `{name}`: expected one of {expected}"))
        })
    }
}

/// The keys that name one of a few behaviours, checked.
struct Choices {
    fallback_strategy: FallbackStrategy,
    merge_strategy: MergeStrategy,
    mirror: Option<Mirror>,
    sandbox: crate::sandbox::SandboxMode,
    cleanup: Cleanup,
}

/// The keys that name branches, directories, paths and templates, checked.
struct Places {
    target_branch: Option<String>,
    worktree_dir: PathBuf,
    auto_commit_exclude: Vec<String>,
    writable: Vec<PathBuf>,
    branch_template: BranchTemplate,
    commit_template: Option<CommitTemplate>,
}

/// The keys of pushing and sharing, checked.
struct Sharing {
    push_remote: String,
    sync_remote: Option<String>,
    host_id: Option<String>,
    lease_seconds: u64,
    lease_renew_seconds: u64,
    sync_interval_seconds: u64,
}

const SANDBOX_NAMES: &str = "\"best_effort\", \"required\" or \"off\"";

/// A remote name or URL we can pass to git as one argument (never an option).
fn is_remote_name(name: &str) -> bool {
    !name.is_empty() && !name.starts_with('-') && !name.chars().any(char::is_control)
}

fn sandbox_mode(name: &str) -> Option<crate::sandbox::SandboxMode> {
    crate::sandbox::SandboxMode::ALL.iter().find(|(n, _)| *n == name).map(|(_, m)| *m)
}

/// A `writable` entry: absolute, or `~/…` under `$HOME`.
fn expand_writable(path: &str) -> Option<std::path::PathBuf> {
    let expanded = match path.strip_prefix("~/") {
        Some(rest) => std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(rest)),
        None => Some(std::path::PathBuf::from(path)),
    };
    expanded.filter(|p| p.is_absolute())
}
