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
        for (key, list) in [("impl_agents", &self.impl_agents), ("review_agents", &self.review_agents)] {
            if let Some(ids) = list
                && let Some(bad) = ids.iter().find(|id| crate::ids::check_ref_component(id).is_err())
            {
                return Err(invalid(key, format!("`{bad}` is not an agent id")));
            }
        }
        Ok(())
    }

    /// Options from JSON-shaped data, as the bindings pass them: `impl_agents`/`implAgents`,
    /// `review_agents`/`reviewAgents`, `max_concurrent`/`maxConcurrent`,
    /// `output_lines`/`outputLines`, `grace_ms`/`graceMs`, `retry_base_ms`/`retryBaseMs`. Absent
    /// or null keys keep their defaults; a value of the wrong type or out of range is an error
    /// naming the key, exactly as in the configuration file.
    pub fn from_json(value: &serde_json::Value) -> Result<RunOptions, ConfigError> {
        let get = |snake: &str, camel: &str| {
            value.get(snake).or_else(|| value.get(camel)).filter(|v| !v.is_null()).map(|v| (snake.to_string(), v))
        };
        let list = |snake: &str, camel: &str| -> Result<Option<Vec<String>>, ConfigError> {
            let Some((key, v)) = get(snake, camel) else { return Ok(None) };
            let items = v.as_array().ok_or_else(|| invalid(&key, format!("expected a list of agent ids, got {v}")))?;
            let ids = items
                .iter()
                .map(|s| {
                    s.as_str().map(str::to_string).ok_or_else(|| invalid(&key, format!("`{s}` is not an agent id")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Some(ids).filter(|l| !l.is_empty()))
        };
        let number = |snake: &str, camel: &str| -> Result<Option<u64>, ConfigError> {
            let Some((key, v)) = get(snake, camel) else { return Ok(None) };
            v.as_u64().map(Some).ok_or_else(|| invalid(&key, format!("expected a whole number of at least 0, got {v}")))
        };
        let mut opts = RunOptions {
            impl_agents: list("impl_agents", "implAgents")?,
            review_agents: list("review_agents", "reviewAgents")?,
            max_concurrent: number("max_concurrent", "maxConcurrent")?
                .map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
            ..RunOptions::default()
        };
        if let Some((key, v)) = get("output_lines", "outputLines") {
            opts.output_lines = v.as_bool().ok_or_else(|| invalid(&key, format!("expected true or false, got {v}")))?;
        }
        if let Some(ms) = number("grace_ms", "graceMs")? {
            opts.grace = Duration::from_millis(ms);
        }
        if let Some(ms) = number("retry_base_ms", "retryBaseMs")? {
            opts.retry_base = Duration::from_millis(ms);
        }
        opts.validate()?;
        Ok(opts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_options_from_json_accept_both_spellings() {
        let snake =
            RunOptions::from_json(&serde_json::json!({"impl_agents": ["codex"], "max_concurrent": 3, "grace_ms": 250}))
                .unwrap();
        let camel =
            RunOptions::from_json(&serde_json::json!({"implAgents": ["codex"], "maxConcurrent": 3, "graceMs": 250}))
                .unwrap();
        for opts in [snake, camel] {
            assert_eq!(opts.impl_agents.as_deref(), Some(&["codex".to_string()][..]));
            assert_eq!(opts.max_concurrent, Some(3));
            assert_eq!(opts.grace, Duration::from_millis(250));
            assert!(opts.review_agents.is_none());
        }
        let defaults = RunOptions::from_json(&serde_json::json!({"impl_agents": null, "reviewAgents": []})).unwrap();
        assert!(defaults.impl_agents.is_none() && defaults.review_agents.is_none());
        assert_eq!(defaults.retry_base, RunOptions::default().retry_base);
    }

    #[test]
    fn out_of_range_and_wrong_typed_options_name_the_key() {
        for (json, key) in [
            (serde_json::json!({"maxConcurrent": 0}), "max_concurrent"),
            (serde_json::json!({"max_concurrent": 65}), "max_concurrent"),
            (serde_json::json!({"maxConcurrent": -1}), "max_concurrent"),
            (serde_json::json!({"maxConcurrent": "4"}), "max_concurrent"),
            (serde_json::json!({"graceMs": u64::MAX}), "grace"),
            (serde_json::json!({"retry_base_ms": 1e300}), "retry_base_ms"),
            (serde_json::json!({"implAgents": "codex"}), "impl_agents"),
            (serde_json::json!({"outputLines": 1}), "output_lines"),
        ] {
            let err = RunOptions::from_json(&json).unwrap_err();
            assert_eq!(err.key.as_deref(), Some(key), "{json}: {err}");
        }
        let err = RunOptions { grace: Duration::from_secs(u64::MAX), ..RunOptions::default() }.validate().unwrap_err();
        assert_eq!(err.key.as_deref(), Some("grace"));
    }
}
