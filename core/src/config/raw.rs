//! The file as written: every key optional, values with their spans (for lines in errors),
//! unknown keys refused.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub(super) max_concurrent_wps: Option<Spanned<i64>>,
    pub(super) max_retries: Option<Spanned<i64>>,
    pub(super) timeout_seconds: Option<Spanned<i64>>,
    pub(super) idle_timeout_seconds: Option<Spanned<i64>>,
    pub(super) single_agent_mode: Option<bool>,
    pub(super) fallback_strategy: Option<Spanned<String>>,
    pub(super) max_review_cycles: Option<Spanned<i64>>,
    pub(super) target_branch: Option<Spanned<String>>,
    pub(super) worktree_dir: Option<Spanned<String>>,
    pub(super) auto_commit: Option<bool>,
    pub(super) auto_commit_exclude: Option<Spanned<Vec<String>>>,
    pub(super) verify_command: Option<Spanned<Vec<String>>>,
    pub(super) setup_command: Option<Spanned<Vec<String>>>,
    pub(super) merge_strategy: Option<Spanned<String>>,
    pub(super) max_fix_rounds: Option<Spanned<i64>>,
    pub(super) resolve_conflicts: Option<bool>,
    pub(super) push_remote: Option<Spanned<String>>,
    pub(super) auto_push: Option<bool>,
    pub(super) auto_pr: Option<bool>,
    pub(super) auto_merge: Option<bool>,
    pub(super) tick_tasks: Option<bool>,
    pub(super) recycle_worktrees: Option<bool>,
    pub(super) include_optional: Option<bool>,
    pub(super) sync_remote: Option<Spanned<String>>,
    pub(super) host_id: Option<Spanned<String>>,
    pub(super) lease_seconds: Option<Spanned<i64>>,
    pub(super) lease_renew_seconds: Option<Spanned<i64>>,
    pub(super) sync_interval_seconds: Option<Spanned<i64>>,
    pub(super) sandbox: Option<Spanned<String>>,
    pub(super) writable: Option<Spanned<Vec<String>>>,
    pub(super) cleanup: Option<Spanned<String>>,
    pub(super) mirror: Option<Spanned<String>>,
    pub(super) branch_template: Option<Spanned<String>>,
    pub(super) commit_template: Option<Spanned<String>>,
    pub(super) agents: Option<BTreeMap<String, Spanned<toml::Value>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAgent {
    pub(super) enabled: Option<bool>,
    pub(super) max_concurrent: Option<i64>,
    pub(super) timeout_seconds: Option<i64>,
    pub(super) idle_timeout_seconds: Option<i64>,
    pub(super) model: Option<String>,
    #[serde(default)]
    pub(super) extra_args: Vec<String>,
    #[serde(default)]
    pub(super) env: BTreeMap<String, String>,
    pub(super) command: Option<Vec<String>>,
    pub(super) review_command: Option<Vec<String>>,
    pub(super) prompt: Option<String>,
    pub(super) output: Option<String>,
    pub(super) resume_args: Option<Vec<String>>,
    // The openai-api agent's keys.
    pub(super) base_url: Option<String>,
    pub(super) api_key_env: Option<String>,
    pub(super) max_turns: Option<i64>,
    pub(super) max_output_tokens: Option<i64>,
    pub(super) temperature: Option<f64>,
    pub(super) request_timeout_seconds: Option<i64>,
    pub(super) price_in_per_mtok: Option<f64>,
    pub(super) price_out_per_mtok: Option<f64>,
    pub(super) allowed_commands: Option<Vec<String>>,
    pub(super) sandbox: Option<String>,
    pub(super) writable: Option<Vec<String>>,
    pub(super) driver: Option<String>,
}
