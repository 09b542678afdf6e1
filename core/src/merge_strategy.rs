//! How done WPs are integrated into the target branch: shared by the configuration
//! (`merge_strategy`), the state (`merged` events) and the landing code.

use serde::{Deserialize, Serialize};

/// How each WP lands on the target branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MergeStrategy {
    /// One merge commit per WP (`Merge WP03: <title>`) whose second parent is the WP branch tip:
    /// the WP's own commits stay in history.
    #[default]
    Merge,
    /// One commit per WP holding exactly that WP's own changes, authored by the agent that wrote
    /// it (the others credited as co-authors); the WP branch's commits are not in history.
    Squash,
}

impl MergeStrategy {
    /// `"merge"` or `"squash"`.
    pub fn as_str(self) -> &'static str {
        match self {
            MergeStrategy::Merge => "merge",
            MergeStrategy::Squash => "squash",
        }
    }

    /// The strategy named by `text`.
    pub fn parse(text: &str) -> Option<MergeStrategy> {
        match text {
            "merge" => Some(MergeStrategy::Merge),
            "squash" => Some(MergeStrategy::Squash),
            _ => None,
        }
    }
}

impl std::fmt::Display for MergeStrategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}
