//! The lanes a work package moves through (DESIGN.md §5) and the aliases other layouts use.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where a work package is in its lifecycle.
///
/// `planned → doing → for_review → done`, plus `blocked` (needs a person) and `canceled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lane {
    /// Not started; starts once its dependencies are done.
    Planned,
    /// Claimed by an orchestrator and being implemented.
    Doing,
    /// Implemented; waiting for (or in) review.
    ForReview,
    /// Approved. Terminal.
    Done,
    /// Stopped with a reason; needs a person (`retry` moves it back to planned).
    Blocked,
    /// Will not be done. Terminal.
    Canceled,
}

impl Lane {
    /// Every lane, in lifecycle order.
    pub const ALL: [Lane; 6] = [Lane::Planned, Lane::Doing, Lane::ForReview, Lane::Done, Lane::Blocked, Lane::Canceled];

    /// The canonical name (`"for_review"`), as written in refs, JSON and the bindings.
    pub fn as_str(self) -> &'static str {
        match self {
            Lane::Planned => "planned",
            Lane::Doing => "doing",
            Lane::ForReview => "for_review",
            Lane::Done => "done",
            Lane::Blocked => "blocked",
            Lane::Canceled => "canceled",
        }
    }

    /// Maps a lane name from any spec-kitty layout onto our lanes. Matching ignores case and
    /// treats `-` like `_`. spec-kitty 3.x `claimed`/`in_progress` are `doing`, `in_review` is
    /// `for_review`, and `approved` (review passed, not yet merged) counts as `done`: the work is
    /// accepted, so it must neither be redone nor block its dependents.
    pub fn from_alias(text: &str) -> Option<Lane> {
        let norm = text.trim().to_ascii_lowercase().replace('-', "_");
        Some(match norm.as_str() {
            "planned" | "todo" | "backlog" => Lane::Planned,
            "doing" | "in_progress" | "claimed" | "wip" => Lane::Doing,
            "for_review" | "in_review" | "review" => Lane::ForReview,
            "done" | "approved" | "complete" | "completed" => Lane::Done,
            "blocked" => Lane::Blocked,
            "canceled" | "cancelled" => Lane::Canceled,
            _ => return None,
        })
    }

    /// True for lanes a run never leaves on its own (`done`, `canceled`).
    pub fn is_terminal(self) -> bool {
        matches!(self, Lane::Done | Lane::Canceled)
    }
}

impl FromStr for Lane {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Lane::from_alias(s).ok_or_else(|| {
            format!("unknown lane `{s}` (expected one of: planned, doing, for_review, done, blocked, canceled)")
        })
    }
}

impl fmt::Display for Lane {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_map_onto_lanes() {
        assert_eq!(Lane::from_alias("in_progress"), Some(Lane::Doing));
        assert_eq!(Lane::from_alias("claimed"), Some(Lane::Doing));
        assert_eq!(Lane::from_alias("In-Review"), Some(Lane::ForReview));
        assert_eq!(Lane::from_alias("approved"), Some(Lane::Done));
        assert_eq!(Lane::from_alias("cancelled"), Some(Lane::Canceled));
        assert_eq!(Lane::from_alias("later"), None);
    }

    #[test]
    fn canonical_names_round_trip() {
        for lane in Lane::ALL {
            assert_eq!(lane.as_str().parse::<Lane>().unwrap(), lane);
            assert_eq!(serde_json::to_string(&lane).unwrap(), format!("\"{}\"", lane.as_str()));
        }
    }
}
