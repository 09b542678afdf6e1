//! Which WPs land, in which order, from which commit: the plan a merge (or a dry run) follows.
//! Read-only: nothing is written.

use std::collections::{BTreeMap, HashMap};

use git2::{Oid, Repository};

use super::error::{LandError, MovedSinceApproval};
use super::types::{Step, StepAction};
use crate::feature::Feature;
use crate::ids::WpId;
use crate::lane::Lane;
use crate::merge_strategy::MergeStrategy;
use crate::state::WpState;

/// A WP to integrate: its branch tip and the commit its own changes are measured from.
#[derive(Debug, Clone)]
pub struct Integrand {
    /// The branch tip.
    pub tip: Oid,
    /// Its own changes are `ancestor..tip` (the worktree's base; after an earlier squash, the tip
    /// that landed then).
    pub ancestor: Oid,
}

/// Everything a landing needs to know before it writes anything.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The branch to land on.
    pub target: String,
    /// `refs/heads/<target>`.
    pub reference: String,
    /// Its tip now (`None`: it does not exist yet).
    pub expected: Option<Oid>,
    /// The commit integration starts from: the target's tip, or the feature's target branch for
    /// a branch that does not exist yet.
    pub from: Oid,
    /// Every WP, in dependency order.
    pub steps: Vec<Step>,
    /// For each step that merges, what to integrate.
    pub integrands: HashMap<WpId, Integrand>,
}

/// What the plan reads: the repository, the feature and its states, and the names.
pub struct PlanInput<'a> {
    /// The repository.
    pub repo: &'a Repository,
    /// The feature.
    pub feature: &'a Feature,
    /// Its WP states (a WP without one is taken at its lane in the files).
    pub states: &'a BTreeMap<WpId, WpState>,
    /// The branch of each WP (when its state does not name one).
    pub branch_of: &'a dyn Fn(&WpId) -> String,
    /// The branch to land on.
    pub target: &'a str,
    /// The feature's target branch (a new `target` starts from it).
    pub base: &'a str,
    /// How WPs land (an earlier squash is measured from what landed then).
    pub strategy: MergeStrategy,
    /// Land the largest dependency-closed set of done WPs instead of refusing.
    pub partial: bool,
}

fn tip_of(repo: &Repository, branch: &str) -> Option<Oid> {
    repo.find_branch(branch, git2::BranchType::Local).ok()?.get().peel_to_commit().ok().map(|c| c.id())
}

fn contains(repo: &Repository, tip: Oid, commit: Oid) -> bool {
    tip == commit || repo.graph_descendant_of(tip, commit).unwrap_or(false)
}

fn parse(oid: &Option<String>) -> Option<Oid> {
    oid.as_deref().and_then(|s| Oid::from_str(s).ok())
}

/// The plan for landing `input.feature` on `input.target`.
pub fn plan(input: &PlanInput<'_>) -> Result<Plan, LandError> {
    let repo = input.repo;
    let reference = format!("refs/heads/{}", input.target);
    let expected = tip_of(repo, input.target);
    let from = match expected.or_else(|| tip_of(repo, input.base)) {
        Some(oid) => oid,
        None => return Err(LandError::NoTarget { branch: input.target.to_string(), base: input.base.to_string() }),
    };
    let mut steps: Vec<Step> = Vec::new();
    let mut integrands = HashMap::new();
    let mut not_done = Vec::new();
    let mut moved = Vec::new();
    for id in input.feature.topological_order() {
        let Some(wp) = input.feature.work_package(&id) else { continue };
        let state = input.states.get(&id);
        let lane = state.map_or(wp.initial_lane, |s| s.lane);
        let branch = state.and_then(|s| s.branch.clone()).unwrap_or_else(|| (input.branch_of)(&id));
        let tip = tip_of(repo, &branch);
        if let Some(found) = moved_since_approval(state, &branch, tip) {
            moved.push(found);
        }
        let blocking_dep = wp.dependencies.iter().find(|dep| {
            steps
                .iter()
                .any(|s| &s.wp == *dep && matches!(s.action, StepAction::NotDone { .. } | StepAction::Excluded { .. }))
        });
        let action = if lane != Lane::Done {
            not_done.push(format!("{id} ({lane})"));
            StepAction::NotDone { lane }
        } else if let Some(dep) = blocking_dep {
            StepAction::Excluded { because: dep.clone() }
        } else {
            match tip {
                None => StepAction::InTarget,
                Some(tip) => {
                    let action = judge(repo, state, input, from, tip)?;
                    if let (StepAction::Merge, Some(ancestor)) = action {
                        integrands.insert(id.clone(), Integrand { tip, ancestor });
                    }
                    action.0
                }
            }
        };
        steps.push(Step {
            wp: id.clone(),
            title: wp.title.clone(),
            branch: tip.map(|_| branch),
            head: tip.map(|t| t.to_string()),
            action,
            commit: None,
        });
    }
    if !moved.is_empty() {
        return Err(LandError::MovedSinceApproval { feature: input.feature.slug.to_string(), moved });
    }
    if !not_done.is_empty() && !input.partial {
        return Err(LandError::NotReady { feature: input.feature.slug.to_string(), not_done });
    }
    Ok(Plan { target: input.target.to_string(), reference, expected, from, steps, integrands })
}

/// A done WP whose review approved a head its branch is no longer at (`None`: not done, no
/// approval recorded — a WP imported as done —, or at the approved head). A branch that is gone
/// is not a move: its work landed and the branch was cleaned up.
pub fn moved_since_approval(state: Option<&WpState>, branch: &str, tip: Option<Oid>) -> Option<MovedSinceApproval> {
    let state = state.filter(|s| s.lane == Lane::Done)?;
    let approved = parse(&state.head)?;
    let tip = tip?;
    (tip != approved).then(|| MovedSinceApproval {
        wp: state.wp.clone(),
        branch: branch.to_string(),
        approved: approved.to_string(),
        tip: tip.to_string(),
    })
}

/// A done WP with a branch: already landed, nothing of its own, or to merge (from which ancestor).
fn judge(
    repo: &Repository,
    state: Option<&WpState>,
    input: &PlanInput<'_>,
    from: Oid,
    tip: Oid,
) -> Result<(StepAction, Option<Oid>), LandError> {
    if contains(repo, from, tip) {
        return Ok((StepAction::AlreadyMerged, None));
    }
    // Its landings (one per branch it landed on) whose commit the integration starts from: on
    // this branch, or on the one a new branch starts from.
    let landings: Vec<&crate::state::MergeRecord> = state
        .map(|s| s.landings.iter().chain(s.merged.iter()).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .filter(|m| Oid::from_str(&m.commit).is_ok_and(|c| contains(repo, from, c)))
        .collect();
    if landings.iter().any(|m| parse(&m.head) == Some(tip)) {
        return Ok((StepAction::AlreadyMerged, None));
    }
    // Own changes: from the worktree's base, or (after a squash landed) from what landed then.
    let squashed_head = landings
        .iter()
        .filter(|m| m.strategy == MergeStrategy::Squash && input.strategy == MergeStrategy::Squash)
        .filter_map(|m| parse(&m.head))
        .rfind(|&h| contains(repo, tip, h));
    let base = state.and_then(|s| parse(&s.base)).filter(|&b| contains(repo, tip, b));
    let ancestor = match squashed_head.or(base) {
        Some(oid) => oid,
        None => {
            repo.merge_base(from, tip).map_err(LandError::git(format!("finding where {tip} forked from the target")))?
        }
    };
    let tree = |oid: Oid| -> Result<Oid, LandError> {
        Ok(repo.find_commit(oid).and_then(|c| c.tree()).map_err(LandError::git(format!("reading {oid}")))?.id())
    };
    if tree(ancestor)? == tree(tip)? {
        return Ok((StepAction::NoChanges, None));
    }
    Ok((StepAction::Merge, Some(ancestor)))
}
