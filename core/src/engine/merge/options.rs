//! Per-merge choices beyond the configuration: where to land, how, and whether only to look.

use serde::{Deserialize, Serialize};

use crate::config::ConfigError;
use crate::ids::BranchName;
use crate::merge_strategy::MergeStrategy;

/// Per-merge choices. As data (the bindings, `--json` tools): these snake_case keys, every one
/// optional, unknown keys refused.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MergeOptions {
    /// The branch to land on (default: the feature's target branch). A branch that does not
    /// exist is created from the target branch — e.g. a feature branch for a pull request.
    pub into: Option<String>,
    /// How WPs land (default: the configuration's `merge_strategy`).
    pub strategy: Option<MergeStrategy>,
    /// Land the largest dependency-closed set of done WPs instead of refusing when some are not
    /// done.
    pub partial: bool,
    /// Compute everything, change nothing: the report says what would land and what conflicts.
    pub dry_run: bool,
    /// Give conflicts to an implementation agent in the integration worktree instead of
    /// stopping (also the configuration's `resolve_conflicts`).
    pub resolve: bool,
    /// Push what landed afterwards (also the configuration's `auto_push`).
    pub push: bool,
    /// Open (or update) the landed branch's pull request afterwards, which pushes it (also the
    /// configuration's `auto_pr`).
    pub pr: bool,
    /// A done WP whose branch moved after its review approved it goes back to review (at its
    /// tip) instead of refusing the merge with `merge_not_ready`; nothing lands until it is
    /// approved again (`resume`).
    pub reopen_moved: bool,
    /// For a spec-kitty 4.0 mission: whether `spec-kitty consolidate` checks `origin` first
    /// (`--origin-check`). Default: spec-kitty's own (`enforce`, or `SPEC_KITTY_ORIGIN_CHECK`).
    /// spec-kitty 3.x checks no origin and is not given it.
    pub origin_check: Option<OriginCheck>,
}

/// How spec-kitty 4.0's `consolidate` treats `origin` before landing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OriginCheck {
    /// Refuse when `origin` is ahead or cannot be reached (spec-kitty's default).
    Enforce,
    /// Report the same findings and land anyway.
    Warn,
    /// Contact nothing.
    Off,
}

impl OriginCheck {
    /// The value as spec-kitty's flag takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            OriginCheck::Enforce => "enforce",
            OriginCheck::Warn => "warn",
            OriginCheck::Off => "off",
        }
    }

    /// Parses `enforce`, `warn` or `off`.
    pub fn parse(text: &str) -> Option<OriginCheck> {
        [OriginCheck::Enforce, OriginCheck::Warn, OriginCheck::Off].into_iter().find(|c| c.as_str() == text)
    }
}

fn invalid(key: &str, message: String) -> ConfigError {
    ConfigError { path: "<merge options>".into(), key: Some(key.to_string()), line: None, message }
}

impl MergeOptions {
    /// Checks the values; the error names the option.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(branch) = &self.into {
            BranchName::parse(branch).map_err(|why| invalid("into", why))?;
            if branch.starts_with("refs/") {
                let why = format!("`{branch}` is not a valid branch name: give a branch name, not a ref");
                return Err(invalid("into", why));
            }
        }
        Ok(())
    }

    /// Options from JSON-shaped data, as the bindings pass them; an unknown key or a value of
    /// the wrong type is an error naming the key.
    pub fn from_json(value: &serde_json::Value) -> Result<MergeOptions, ConfigError> {
        let opts: MergeOptions = crate::config::options_from_json(value, "merge options")?;
        opts.validate()?;
        Ok(opts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_options_name_the_bad_key() {
        let ok = MergeOptions::from_json(&serde_json::json!({"into": "feature/x", "strategy": "squash"})).unwrap();
        assert_eq!(ok.strategy, Some(MergeStrategy::Squash));
        let off = MergeOptions::from_json(&serde_json::json!({"origin_check": "off"})).unwrap();
        assert_eq!(off.origin_check, Some(OriginCheck::Off));
        for (json, key) in [
            (serde_json::json!({"into": "a..b"}), "into"),
            (serde_json::json!({"into": "refs/heads/main"}), "into"),
            (serde_json::json!({"strategy": "rebase"}), "strategy"),
            (serde_json::json!({"dryRun": true}), "dryRun"),
            (serde_json::json!({"partial": "yes"}), "partial"),
            (serde_json::json!({"origin_check": "never"}), "origin_check"),
        ] {
            let err = MergeOptions::from_json(&json).unwrap_err();
            assert_eq!(err.key.as_deref(), Some(key), "{json}: {err}");
        }
    }
}
