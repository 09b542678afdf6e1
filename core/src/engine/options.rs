//! Per-run choices beyond the configuration, checked like the configuration file: a value out
//! of range is an error naming the option, never a run that silently does nothing (`0` WPs at
//! once) or a panic deep inside (a grace period too long to add to a clock).

use std::time::Duration;

use crate::config::ConfigError;

/// Most WPs in flight at once (the configuration file's `max_concurrent_wps` has the same range).
pub const MAX_CONCURRENT: usize = 64;

/// Longest grace period between SIGTERM and SIGKILL.
pub const MAX_GRACE: Duration = Duration::from_secs(3600);

/// Longest first retry delay.
pub const MAX_RETRY_BASE: Duration = Duration::from_secs(3600);

/// Per-run choices beyond the configuration.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Implementation agents, overriding `[agents] implementation`.
    pub impl_agents: Option<Vec<String>>,
    /// Review agents, overriding `[agents] review`.
    pub review_agents: Option<Vec<String>>,
    /// Overrides `max_concurrent_wps` (1 to [`MAX_CONCURRENT`]).
    pub max_concurrent: Option<usize>,
    /// Time between SIGTERM and SIGKILL when ending an agent (at most [`MAX_GRACE`]).
    pub grace: Duration,
    /// First retry delay (doubles per retry, with jitter; ×4 for rate limits; at most
    /// [`MAX_RETRY_BASE`]).
    pub retry_base: Duration,
    /// Deliver every agent output line as an [`super::Event::AgentOutput`].
    pub output_lines: bool,
    /// Share the feature with other machines through this git remote (a name or URL),
    /// overriding `sync_remote`.
    pub remote: Option<String>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            impl_agents: None,
            review_agents: None,
            max_concurrent: None,
            grace: Duration::from_secs(5),
            retry_base: Duration::from_secs(2),
            output_lines: false,
            remote: None,
        }
    }
}

fn invalid(key: &str, message: String) -> ConfigError {
    ConfigError { path: "<run options>".into(), key: Some(key.to_string()), line: None, message }
}

impl RunOptions {
    /// Checks every value against its range; the error names the option.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(n) = self.max_concurrent
            && !(1..=MAX_CONCURRENT).contains(&n)
        {
            return Err(invalid("max_concurrent", format!("{n} is out of range: expected 1 to {MAX_CONCURRENT}")));
        }
        if self.grace > MAX_GRACE {
            return Err(invalid(
                "grace",
                format!("{} s is out of range: expected 0 to {} s", self.grace.as_secs(), MAX_GRACE.as_secs()),
            ));
        }
        if self.retry_base > MAX_RETRY_BASE {
            return Err(invalid(
                "retry_base",
                format!(
                    "{} ms is out of range: expected 0 to {} ms",
                    self.retry_base.as_millis(),
                    MAX_RETRY_BASE.as_millis()
                ),
            ));
        }
        if let Some(remote) = &self.remote
            && (remote.is_empty() || remote.starts_with('-') || remote.chars().any(char::is_control))
        {
            return Err(invalid("remote", format!("`{remote}` is not a remote name or URL")));
        }
        for (key, list) in [("impl_agents", &self.impl_agents), ("review_agents", &self.review_agents)] {
            if let Some(ids) = list
                && let Some(bad) = ids.iter().find(|id| crate::ids::check_ref_component(id).is_err())
            {
                return Err(invalid(key, format!("`{bad}` is not an agent id")));
            }
        }
        Ok(())
    }

    /// Options from JSON-shaped data, as the bindings pass them: the keys of [`RunOptionsSpec`]
    /// (snake_case). Absent or null keys keep their defaults; an unknown key, a value of the
    /// wrong type or out of range is an error naming the key, exactly as in the configuration
    /// file.
    pub fn from_json(value: &serde_json::Value) -> Result<RunOptions, ConfigError> {
        let spec: RunOptionsSpec = crate::config::options_from_json(value, "run options")?;
        RunOptions::try_from(spec)
    }
}

/// Run options as data (what the bindings send): snake_case keys, every one optional, unknown
/// keys refused. Durations are whole milliseconds.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct RunOptionsSpec {
    /// Implementation agents, in fallback order.
    pub impl_agents: Option<Vec<String>>,
    /// Review agents, in fallback order.
    pub review_agents: Option<Vec<String>>,
    /// WPs in flight at once.
    pub max_concurrent: Option<u64>,
    /// Deliver every agent output line as an event.
    pub output_lines: Option<bool>,
    /// Time between SIGTERM and SIGKILL, ms.
    pub grace_ms: Option<u64>,
    /// First retry delay, ms.
    pub retry_base_ms: Option<u64>,
    /// Share the feature with other machines through this git remote (overrides `sync_remote`).
    pub remote: Option<String>,
}

impl TryFrom<RunOptionsSpec> for RunOptions {
    type Error = ConfigError;

    fn try_from(spec: RunOptionsSpec) -> Result<RunOptions, ConfigError> {
        let defaults = RunOptions::default();
        let opts = RunOptions {
            impl_agents: spec.impl_agents.filter(|l| !l.is_empty()),
            review_agents: spec.review_agents.filter(|l| !l.is_empty()),
            max_concurrent: spec.max_concurrent.map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
            output_lines: spec.output_lines.unwrap_or(defaults.output_lines),
            grace: spec.grace_ms.map_or(defaults.grace, Duration::from_millis),
            retry_base: spec.retry_base_ms.map_or(defaults.retry_base, Duration::from_millis),
            remote: spec.remote.filter(|r| !r.is_empty()),
        };
        opts.validate()?;
        Ok(opts)
    }
}

impl<'de> serde::Deserialize<'de> for RunOptions {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spec = RunOptionsSpec::deserialize(deserializer)?;
        RunOptions::try_from(spec).map_err(serde::de::Error::custom)
    }
}

/// How the bindings and the CLI name a feature's reading: a format name (`spec-kitty`, `kiro`,
/// `task-list`; `None` picks by path) and whether Kiro's optional tasks are loaded. An unknown
/// format is an error naming the `format` option and the known ones.
pub fn load_options(format: Option<&str>, include_optional: bool) -> Result<crate::feature::LoadOptions, ConfigError> {
    let format = match format {
        Some(name) => Some(name.parse::<crate::feature::FeatureFormat>().map_err(|why| invalid("format", why))?),
        None => None,
    };
    Ok(crate::feature::LoadOptions { format, include_optional })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_options_from_json_and_serde_agree() {
        let json = serde_json::json!({"impl_agents": ["codex"], "max_concurrent": 3, "grace_ms": 250});
        let parsed = RunOptions::from_json(&json).unwrap();
        let typed: RunOptions = serde_json::from_value(json).unwrap();
        for opts in [parsed, typed] {
            assert_eq!(opts.impl_agents.as_deref(), Some(&["codex".to_string()][..]));
            assert_eq!(opts.max_concurrent, Some(3));
            assert_eq!(opts.grace, Duration::from_millis(250));
            assert!(opts.review_agents.is_none());
        }
        let defaults = RunOptions::from_json(&serde_json::json!({"impl_agents": null, "review_agents": []})).unwrap();
        assert!(defaults.impl_agents.is_none() && defaults.review_agents.is_none());
        assert_eq!(defaults.retry_base, RunOptions::default().retry_base);
    }

    #[test]
    fn out_of_range_and_wrong_typed_options_name_the_key() {
        for (json, key) in [
            (serde_json::json!({"max_concurrent": 0}), "max_concurrent"),
            (serde_json::json!({"max_concurrent": 65}), "max_concurrent"),
            (serde_json::json!({"max_concurrent": -1}), "max_concurrent"),
            (serde_json::json!({"max_concurrent": "4"}), "max_concurrent"),
            (serde_json::json!({"grace_ms": u64::MAX}), "grace"),
            (serde_json::json!({"retry_base_ms": 1e300}), "retry_base_ms"),
            (serde_json::json!({"impl_agents": "codex"}), "impl_agents"),
            (serde_json::json!({"output_lines": 1}), "output_lines"),
            (serde_json::json!({"max_concurent": 2}), "max_concurent"),
            (serde_json::json!({"maxConcurrent": 2}), "maxConcurrent"),
        ] {
            let err = RunOptions::from_json(&json).unwrap_err();
            assert_eq!(err.key.as_deref(), Some(key), "{json}: {err}");
        }
        let err = RunOptions { grace: Duration::from_secs(u64::MAX), ..RunOptions::default() }.validate().unwrap_err();
        assert_eq!(err.key.as_deref(), Some("grace"));
    }
}
