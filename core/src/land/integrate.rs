//! The integration: every WP of a plan merged, in order, into one commit computed in memory
//! (objects only — no ref, index or working tree is touched). Conflicts are collected, not
//! stopped at, so one pass names every colliding pair.

use std::collections::{BTreeSet, HashMap};

use git2::{Commit, Index, Oid, Repository, Signature};

use super::error::LandError;
use super::plan::{Integrand, Plan};
use super::types::{Conflict, Step, StepAction};
use crate::ids::WpId;
use crate::merge_strategy::MergeStrategy;
use crate::state::message::{compose, trailer_value};

/// Who the integration commits are by, and which run writes them.
pub struct Authors<'a> {
    /// The committer (the user's git identity, else the orchestrator's).
    pub committer: Signature<'a>,
    /// The agents that worked on each WP, in first-use order (a squash credits them).
    pub agents: HashMap<WpId, Vec<String>>,
    /// The merge's id (`Kitty-Run`).
    pub run_id: String,
    /// The feature slug (`Kitty-Feature`).
    pub feature: String,
    /// `commit_template`, when configured (else `Merge WP03: <title>` / `WP03: <title>`).
    pub template: Option<crate::template::CommitTemplate>,
    /// The agent that resolved this step's conflict, and what the conflict was (said in the
    /// landing commit: `Kitty-Resolved-By`).
    pub resolved_by: Option<(String, String)>,
}

/// The integration's result: its tip, each integrated WP's commit, and the conflicts.
#[derive(Debug, Clone)]
pub struct Integration {
    /// The commit holding every WP that merged.
    pub tip: Oid,
    /// The WPs integrated, in order, with the commit holding each.
    pub commits: Vec<(WpId, Oid)>,
    /// Every conflict found (none when stopping at the first).
    pub conflicts: Vec<Conflict>,
    /// The first conflict, when asked to stop there.
    pub stopped: Option<Stopped>,
}

fn git(what: impl Into<String>) -> impl FnOnce(git2::Error) -> LandError {
    LandError::git(what)
}

fn commit_of<'r>(repo: &'r Repository, oid: Oid) -> Result<Commit<'r>, LandError> {
    repo.find_commit(oid).map_err(git(format!("reading commit {oid}")))
}

/// Paths that differ between two commits' trees.
pub fn changed_paths(repo: &Repository, from: Oid, to: Oid) -> Result<BTreeSet<String>, LandError> {
    let (a, b) = (commit_of(repo, from)?.tree(), commit_of(repo, to)?.tree());
    let (a, b) = (a.map_err(git("reading a tree"))?, b.map_err(git("reading a tree"))?);
    let diff = repo.diff_tree_to_tree(Some(&a), Some(&b), None).map_err(git(format!("comparing {from} and {to}")))?;
    let mut paths = BTreeSet::new();
    for delta in diff.deltas() {
        for file in [delta.old_file(), delta.new_file()] {
            if let Some(path) = file.path() {
                paths.insert(path.to_string_lossy().into_owned());
            }
        }
    }
    Ok(paths)
}

/// The paths `index` has conflicts at.
pub(super) fn conflicted_paths(index: &Index) -> Result<Vec<String>, LandError> {
    crate::worktree::conflicted_paths(index).map_err(git("listing conflicts"))
}

/// Where an integration stopped: the first conflicting step, when asked to stop there.
#[derive(Debug, Clone)]
pub struct Stopped {
    /// Index of the step in `plan.steps`.
    pub step: usize,
    /// The conflict.
    pub conflict: Conflict,
}

/// Merges every `Merge` step of `plan` not integrated yet (no `commit`), in order, starting from
/// `acc`; fills in each integrated step's commit. Conflicting steps (and the steps that depend
/// on them) are marked in `plan.steps` — or, with `stop_at_conflict`, the integration stops at
/// the first one, leaving it and the rest as they were.
pub fn integrate(
    repo: &Repository,
    plan: &mut Plan,
    strategy: MergeStrategy,
    deps: &HashMap<WpId, Vec<WpId>>,
    authors: &Authors<'_>,
    stop_at_conflict: bool,
) -> Result<Integration, LandError> {
    let mut acc = plan
        .steps
        .iter()
        .rev()
        .find_map(|s| s.commit.as_deref())
        .map_or(Ok(plan.from), Oid::from_str)
        .map_err(git("reading an integrated commit id"))?;
    let mut commits = Vec::new();
    let mut conflicts = Vec::new();
    let mut own: Vec<(WpId, BTreeSet<String>)> = Vec::new();
    for step in plan.steps.iter().filter(|s| s.commit.is_some()) {
        let what = &plan.integrands[&step.wp];
        own.push((step.wp.clone(), changed_paths(repo, what.ancestor, what.tip)?));
    }
    let mut failed: Vec<WpId> = Vec::new();
    let mut stopped = None;
    for (i, step) in plan.steps.iter_mut().enumerate() {
        if step.action != StepAction::Merge || step.commit.is_some() {
            continue;
        }
        if let Some(dep) = deps.get(&step.wp).and_then(|d| d.iter().find(|d| failed.contains(d))) {
            step.action = StepAction::AfterConflict { because: dep.clone() };
            failed.push(step.wp.clone());
            continue;
        }
        let what = &plan.integrands[&step.wp];
        let mut index = merged_index(repo, acc, what, strategy)?;
        if index.has_conflicts() {
            let paths = conflicted_paths(&index)?;
            let with = culprits(repo, plan.from, &plan.target, what, &paths, &own)?;
            let conflict = Conflict { wp: step.wp.to_string(), with, paths };
            if stop_at_conflict {
                stopped = Some(Stopped { step: i, conflict });
                break;
            }
            conflicts.push(conflict);
            step.action = StepAction::Conflicts;
            failed.push(step.wp.clone());
            continue;
        }
        let tree = index.write_tree_to(repo).map_err(git(format!("writing the tree of {}", step.wp)))?;
        let oid = commit_step(repo, &plan.target, step, acc, what, tree, strategy, authors)?;
        own.push((step.wp.clone(), changed_paths(repo, what.ancestor, what.tip)?));
        step.commit = Some(oid.to_string());
        commits.push((step.wp.clone(), oid));
        acc = oid;
    }
    Ok(Integration { tip: acc, commits, conflicts, stopped })
}

/// The commit that lands one WP on `acc` with `tree`: a merge commit (parents `acc` and the WP's
/// tip) or, squashed, a single-parent commit authored by its first agent.
#[allow(clippy::too_many_arguments)]
pub fn commit_step(
    repo: &Repository,
    target: &str,
    step: &Step,
    acc: Oid,
    what: &Integrand,
    tree: Oid,
    strategy: MergeStrategy,
    authors: &Authors<'_>,
) -> Result<Oid, LandError> {
    let tree = repo.find_tree(tree).map_err(git("reading a tree"))?;
    let parent = commit_of(repo, acc)?;
    let tip = commit_of(repo, what.tip)?;
    let mut trailers = vec![
        ("Kitty-Feature", authors.feature.clone()),
        ("Kitty-WP", step.wp.to_string()),
        ("Kitty-Run", authors.run_id.clone()),
    ];
    let resolved = match &authors.resolved_by {
        Some((agent, conflict)) => {
            trailers.push(("Kitty-Resolved-By", trailer_value(agent)));
            format!("\n\nA conflict ({conflict}) was resolved by the agent {agent}.")
        }
        None => String::new(),
    };
    let branch = step.branch.clone().unwrap_or_default();
    match strategy {
        MergeStrategy::Merge => {
            let subject = match &authors.template {
                Some(t) => t.render(&fields(authors, step, &format!("merge {}", step.title))),
                None => format!("Merge {}: {}", step.wp, trailer_value(&step.title)),
            };
            let body = format!("Lands {branch} ({}) on {target}.{resolved}", what.tip);
            let message = compose(&subject, &body, &trailers);
            let (c, parents) = (&authors.committer, [&parent, &tip]);
            repo.commit(None, c, c, &message, &tree, &parents)
        }
        MergeStrategy::Squash => {
            let agents = authors.agents.get(&step.wp).cloned().unwrap_or_default();
            let author = match agents.first() {
                Some(agent) => Signature::now(agent, &format!("{agent}@agents.kitty"))
                    .unwrap_or_else(|_| authors.committer.to_owned()),
                None => authors.committer.to_owned(),
            };
            let mut trailers = trailers;
            for agent in agents.iter().skip(1) {
                trailers.push(("Co-authored-by", format!("{agent} <{agent}@agents.kitty>")));
            }
            let subject = match &authors.template {
                Some(t) => t.render(&fields(authors, step, &step.title)),
                None => format!("{}: {}", step.wp, trailer_value(&step.title)),
            };
            let body = format!("The changes of {branch} ({}..{}), squashed.{resolved}", what.ancestor, what.tip);
            let message = compose(&subject, &body, &trailers);
            repo.commit(None, &author, &authors.committer, &message, &tree, &[&parent])
        }
    }
    .map_err(git(format!("committing {}", step.wp)))
}

fn fields<'a>(authors: &'a Authors<'_>, step: &'a Step, description: &'a str) -> crate::template::Fields<'a> {
    crate::template::Fields { feature: &authors.feature, wp: step.wp.as_str(), title: &step.title, description }
}

/// The index of `acc` with one WP merged in (conflicts recorded in it, not raised).
pub fn merged_index(
    repo: &Repository,
    acc: Oid,
    what: &Integrand,
    strategy: MergeStrategy,
) -> Result<Index, LandError> {
    let (ours, theirs) = (commit_of(repo, acc)?, commit_of(repo, what.tip)?);
    match strategy {
        MergeStrategy::Merge => repo.merge_commits(&ours, &theirs, None).map_err(git(format!("merging {}", what.tip))),
        MergeStrategy::Squash => {
            let ancestor = commit_of(repo, what.ancestor)?.tree().map_err(git("reading a tree"))?;
            let ours = ours.tree().map_err(git("reading a tree"))?;
            let theirs = theirs.tree().map_err(git("reading a tree"))?;
            repo.merge_trees(&ancestor, &ours, &theirs, None).map_err(git(format!("applying {}", what.tip)))
        }
    }
}

/// What a conflicting WP collides with: the WPs integrated before it whose own changes touch the
/// paths, and the target branch when it changed them since the WP forked (or when no WP did).
fn culprits(
    repo: &Repository,
    from: Oid,
    target: &str,
    what: &Integrand,
    paths: &[String],
    own: &[(WpId, BTreeSet<String>)],
) -> Result<Vec<String>, LandError> {
    let mut with: Vec<String> = own
        .iter()
        .filter(|(_, touched)| paths.iter().any(|p| touched.contains(p)))
        .map(|(wp, _)| wp.to_string())
        .collect();
    let fork = repo.merge_base(from, what.tip).map_err(git("finding a merge base"))?;
    let on_target = changed_paths(repo, fork, from)?;
    if with.is_empty() || paths.iter().any(|p| on_target.contains(p)) {
        with.push(format!("the target branch {target}"));
    }
    Ok(with)
}
