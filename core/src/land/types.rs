//! What a landing plans and finds: the steps in dependency order, the conflicts, the
//! resolutions and the verification rounds.

use serde::Serialize;

use crate::ids::WpId;
use crate::lane::Lane;

/// What happens to one WP when the feature lands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum StepAction {
    /// Its branch is integrated (in a dry run: would be).
    Merge,
    /// Its branch tip is already on the target (merged before, or by hand).
    AlreadyMerged,
    /// Done without a branch of its own (imported as done): its work is on the target already.
    InTarget,
    /// Done, but its branch has no change of its own: nothing to land (reported, never merged as
    /// an empty commit).
    NoChanges,
    /// Not done: it does not land (only with `partial`).
    NotDone {
        /// Its lane.
        lane: Lane,
    },
    /// Done, but a WP it depends on does not land: landing it would bring that WP's work along.
    Excluded {
        /// The dependency that does not land.
        because: WpId,
    },
    /// Its branch conflicts (see the report's `conflicts`).
    Conflicts,
    /// Not tried: a dependency conflicts.
    AfterConflict {
        /// The conflicting dependency.
        because: WpId,
    },
}

/// One WP of a landing, in dependency order.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// The WP.
    pub wp: WpId,
    /// Its title.
    pub title: String,
    /// Its branch, when it has one.
    pub branch: Option<String>,
    /// Its branch tip.
    pub head: Option<String>,
    /// What happens to it.
    #[serde(flatten)]
    pub action: StepAction,
    /// The commit on the target that holds its work, once integrated.
    pub commit: Option<String>,
}

/// Two sides that do not merge: a WP and what it collides with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conflict {
    /// The WP whose branch did not merge.
    pub wp: String,
    /// What it collides with: WPs integrated before it, and/or the target branch.
    pub with: Vec<String>,
    /// The conflicting paths.
    pub paths: Vec<String>,
}

/// A conflict an agent resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resolution {
    /// The WP whose merge conflicted.
    pub wp: String,
    /// What it collided with.
    pub with: Vec<String>,
    /// The conflicting paths.
    pub paths: Vec<String>,
    /// The agent that resolved it.
    pub agent: String,
    /// The commit that lands the WP with the resolution.
    pub commit: String,
    /// The agent's log.
    pub log: String,
}

/// One verification of a merge's integration, after the fix round that preceded it.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyRound {
    /// The fix round it followed (0: the first verification, before any fix).
    pub round: u32,
    /// The agent that made the fix.
    pub fix_agent: Option<String>,
    /// The fix agent's log.
    pub fix_log: Option<String>,
    /// The fix commit (`None`: the agent changed nothing).
    pub fix_commit: Option<String>,
    /// Whether the verification passed.
    pub passed: bool,
    /// Its exit code.
    pub exit_code: Option<i32>,
    /// Its log.
    pub log: String,
}

/// How a merge's verification went.
#[derive(Debug, Clone, Serialize)]
pub struct LandingVerification {
    /// The command.
    pub command: Vec<String>,
    /// Whether it passed in the end.
    pub passed: bool,
    /// Fix rounds it took (0: it passed at once).
    pub fix_rounds: u32,
    /// Every verification, in order.
    pub rounds: Vec<VerifyRound>,
    /// The last verification's log.
    pub log: String,
    /// Why fixing stopped early, if it did (no agent, aborted, an agent that gave up).
    pub note: Option<String>,
}
