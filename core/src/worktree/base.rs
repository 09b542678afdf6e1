//! The commit a WP starts from: the target branch (no dependency), its dependency's branch tip
//! (one), or an in-memory merge of all its dependencies' tips (several) — so a WP with several
//! dependencies sees all their code, which the earlier orchestrator got wrong.

use std::path::Path;

use git2::{Commit, Oid, Repository, Signature};

use super::error::WorktreeError;
use super::manager::WorktreeManager;
use crate::feature::WorkPackage;
use crate::ids::WpId;

/// Where a WP's base came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaseSource {
    /// The target branch.
    Target(String),
    /// One dependency's branch.
    Dependency(String),
    /// A merge commit of several dependency branches (parents = their tips).
    Merge(Vec<String>),
}

/// Tip of `refs/heads/<branch>`.
pub fn branch_tip<'r>(repo: &'r Repository, branch: &str) -> Option<Commit<'r>> {
    repo.find_branch(branch, git2::BranchType::Local).ok()?.get().peel_to_commit().ok()
}

/// The merge of `tips` (in order) as a new commit whose parents are exactly the tips, or the
/// conflicting paths. The commit is written to the object database only; no ref, no index, no
/// working tree is touched.
pub fn merge_tips(
    repo: &Repository,
    wp: &str,
    names: &[String],
    tips: &[Commit<'_>],
    signature: &Signature<'_>,
) -> Result<Oid, WorktreeError> {
    let git = |what: &str| WorktreeError::git(format!("merging the dependencies of {wp} ({what})"));
    let mut acc: Commit<'_> = tips[0].clone();
    for (i, tip) in tips.iter().enumerate().skip(1) {
        let mut index = repo.merge_commits(&acc, tip, None).map_err(git("merge"))?;
        // spec-kitty's event logs merge by union, as its own merge driver does.
        crate::spec_kitty::union::resolve_event_logs(repo, &mut index).map_err(git("event log union"))?;
        if index.has_conflicts() {
            let paths = conflicted_paths(&index).map_err(git("conflicts"))?;
            return Err(WorktreeError::MergeConflict { wp: wp.to_string(), deps: names[..=i].to_vec(), paths });
        }
        let tree = repo.find_tree(index.write_tree_to(repo).map_err(git("write tree"))?).map_err(git("tree"))?;
        let is_last = i == tips.len() - 1;
        let message = format!(
            "kitty: base of {wp}: merge of {}\n\nMade by kitty-orchestrator so that {wp} starts with the work of all its dependencies.\n",
            names.join(", ")
        );
        // Intermediate merges have two parents; the final commit has every tip as a parent.
        let parents: Vec<&Commit<'_>> = if is_last { tips.iter().collect() } else { vec![&acc, tip] };
        let oid = repo.commit(None, signature, signature, &message, &tree, &parents).map_err(git("commit"))?;
        acc = repo.find_commit(oid).map_err(git("commit"))?;
    }
    Ok(acc.id())
}

/// The commit a lane was made at, on its first-parent history from `tip`: our base merge for
/// `wp`, or the merges spec-kitty's own lane allocation writes.
fn lane_base_commit(tip: &Commit<'_>, wp: &WpId) -> Option<Oid> {
    let ours = format!("kitty: base of {wp}:");
    let mut commit = Some(tip.clone());
    for _ in 0..1000 {
        let c = commit?;
        let subject = c.summary().ok().flatten().unwrap_or_default();
        if subject.starts_with(&ours)
            || subject.starts_with("Merge recorded planning-artifact commit into")
            || subject.starts_with("Merge dependency lane")
        {
            return Some(c.id());
        }
        commit = c.parent(0).ok();
    }
    None
}

impl WorktreeManager {
    /// The base a WP should start from, computing a merge of its dependencies when it has several.
    pub fn base_for(&self, wp: &WorkPackage) -> Result<(Oid, BaseSource), WorktreeError> {
        let repo = self.repo()?;
        if let Some((mission, lane)) = self.mission_lane(&wp.id) {
            return self.lane_base(&repo, &wp.id, mission, lane);
        }
        let wp_name = wp.id.to_string();
        match wp.dependencies.as_slice() {
            [] => {
                let tip = branch_tip(&repo, &self.target_branch).ok_or_else(|| WorktreeError::MissingBase {
                    wp: wp_name,
                    branch: self.target_branch.clone(),
                    why: "the target branch; set `target_branch` in .kittify/orchestrator.toml".into(),
                })?;
                Ok((tip.id(), BaseSource::Target(self.target_branch.clone())))
            }
            deps => {
                let names: Vec<String> = deps.iter().map(|d| self.branch(d)).collect();
                // A WP starts only once its dependencies are done. A done dependency without a
                // branch was finished outside the orchestrator (imported as done): its work is on
                // the target branch.
                let mut tips = Vec::new();
                let mut used = Vec::new();
                for name in &names {
                    match branch_tip(&repo, name) {
                        Some(tip) => {
                            tips.push(tip);
                            used.push(name.clone());
                        }
                        None if !used.contains(&self.target_branch) => {
                            let tip = branch_tip(&repo, &self.target_branch).ok_or_else(|| WorktreeError::MissingBase {
                                wp: wp_name.clone(),
                                branch: self.target_branch.clone(),
                                why: format!("the target branch, standing in for dependency branch {name}, which does not exist"),
                            })?;
                            tips.push(tip);
                            used.push(self.target_branch.clone());
                        }
                        None => {}
                    }
                }
                let names = used;
                // Drop tips already contained in another tip: their merge adds nothing.
                let all: Vec<Oid> = tips.iter().map(|t| t.id()).collect();
                let keep: Vec<usize> = (0..tips.len())
                    .filter(|&i| {
                        !all.iter().enumerate().any(|(j, &other)| {
                            j != i
                                && (repo.graph_descendant_of(other, all[i]).unwrap_or(false)
                                    || (other == all[i] && j < i))
                        })
                    })
                    .collect();
                let tips: Vec<_> = keep.iter().map(|&i| tips[i].clone()).collect();
                let names: Vec<String> = keep.iter().map(|&i| names[i].clone()).collect();
                if tips.len() == 1 {
                    return Ok((tips[0].id(), BaseSource::Dependency(names[0].clone())));
                }
                // A fixed time makes the merge commit reproducible for the same tips.
                let when = tips.iter().map(|t| t.time().seconds()).max().unwrap_or(0);
                let sig = Self::signature(&repo);
                let sig = Signature::new(
                    sig.name().unwrap_or("kitty-orchestrator"),
                    sig.email().unwrap_or("kitty-orchestrator@localhost"),
                    &git2::Time::new(when, 0),
                )
                .map_err(WorktreeError::git("making a signature"))?;
                let oid = merge_tips(&repo, &wp_name, &names, &tips, &sig)?;
                Ok((oid, BaseSource::Merge(names)))
            }
        }
    }

    /// A spec-kitty lane's base, made as its `allocate_lane_worktree` makes it: the coordination
    /// branch tip, merged with the recorded planning commit, then with each dependency lane's tip
    /// in `(parallel_group, lane_id)` order (tips already contained are skipped).
    fn lane_base(
        &self,
        repo: &Repository,
        wp: &WpId,
        mission: &crate::spec_kitty::Mission,
        lane: &crate::spec_kitty::ExecutionLane,
    ) -> Result<(Oid, BaseSource), WorktreeError> {
        let mut names = Vec::new();
        let mut tips = Vec::new();
        // A later WP of a lane continues the lane: it starts where the WP before it ended.
        let lane_branch = mission.lane_branch(lane);
        match (mission.previous_in_lane(wp.as_str()), branch_tip(repo, &lane_branch)) {
            (Some(_), Some(tip)) => {
                names.push(lane_branch);
                tips.push(tip);
            }
            // The lane's first WP, resumed: its base is where its lane was made (the coordination
            // branch has moved since, with every status commit).
            (None, Some(tip)) if lane_base_commit(&tip, wp).is_some() => {
                let base = lane_base_commit(&tip, wp).unwrap_or_else(|| tip.id());
                return Ok((base, BaseSource::Target(lane_branch)));
            }
            _ => {
                let coord = branch_tip(repo, &mission.coord_branch).ok_or_else(|| WorktreeError::MissingBase {
                    wp: wp.to_string(),
                    branch: mission.coord_branch.clone(),
                    why: "the mission's coordination branch; run `spec-kitty agent mission finalize-tasks`".into(),
                })?;
                names.push(mission.coord_branch.clone());
                tips.push(coord);
                if let Some(sha) = &mission.planning_commit {
                    let planning =
                        Oid::from_str(sha).ok().and_then(|oid| repo.find_commit(oid).ok()).ok_or_else(|| {
                            WorktreeError::MissingBase {
                                wp: wp.to_string(),
                                branch: sha.clone(),
                                why: "lanes.json's planning_commit_sha, which is not in this repository".into(),
                            }
                        })?;
                    names.push(sha.clone());
                    tips.push(planning);
                }
            }
        }
        for dep in mission.dependency_lanes(lane) {
            let branch = mission.lane_branch(dep);
            if let Some(tip) = branch_tip(repo, &branch) {
                names.push(branch);
                tips.push(tip);
            }
        }
        let mut keep_names = Vec::new();
        let mut keep: Vec<Commit<'_>> = Vec::new();
        for (name, tip) in names.into_iter().zip(tips) {
            let contained =
                keep.iter().any(|k| k.id() == tip.id() || repo.graph_descendant_of(k.id(), tip.id()).unwrap_or(false));
            if !contained {
                keep_names.push(name);
                keep.push(tip);
            }
        }
        if keep.len() == 1 {
            return Ok((keep[0].id(), BaseSource::Target(keep_names[0].clone())));
        }
        let when = keep.iter().map(|t| t.time().seconds()).max().unwrap_or(0);
        let sig = Self::signature(repo);
        let sig = Signature::new(
            sig.name().unwrap_or("kitty-orchestrator"),
            sig.email().unwrap_or("kitty-orchestrator@localhost"),
            &git2::Time::new(when, 0),
        )
        .map_err(WorktreeError::git("making a signature"))?;
        let oid = merge_tips(repo, wp.as_str(), &keep_names, &keep, &sig)?;
        Ok((oid, BaseSource::Merge(keep_names)))
    }

    /// Writes the merge of all `wps`' branches into `dest` (a plain directory, no git metadata):
    /// the tree a final verification command runs on. Returns the merged commit.
    pub fn checkout_merged(&self, wps: &[WpId], dest: &Path) -> Result<String, WorktreeError> {
        let repo = self.repo()?;
        let mut names = Vec::new();
        let mut tips = Vec::new();
        for wp in wps {
            let name = self.branch(wp);
            if let Some(tip) = branch_tip(&repo, &name) {
                names.push(name);
                tips.push(tip);
            }
        }
        let target = branch_tip(&repo, &self.target_branch);
        if tips.is_empty() {
            let tip = target.ok_or_else(|| WorktreeError::MissingBase {
                wp: "verify".into(),
                branch: self.target_branch.clone(),
                why: "nothing to verify: no WP branch and no target branch".into(),
            })?;
            names.push(self.target_branch.clone());
            tips.push(tip);
        }
        let commit = if tips.len() == 1 {
            tips[0].id()
        } else {
            merge_tips(&repo, "verify", &names, &tips, &Self::signature(&repo))?
        };
        let object = repo.find_object(commit, None).map_err(WorktreeError::git("reading the merged commit"))?;
        std::fs::create_dir_all(dest).map_err(WorktreeError::io(dest))?;
        let mut checkout = git2::build::CheckoutBuilder::new();
        checkout.target_dir(dest).force().update_index(false);
        repo.checkout_tree(&object, Some(&mut checkout))
            .map_err(WorktreeError::git(format!("writing the merge into {}", dest.display())))?;
        Ok(commit.to_string())
    }
}

/// The paths `index` has conflicts at, sorted, once each (the one place they are listed: the
/// landing's integration uses it too).
pub fn conflicted_paths(index: &git2::Index) -> Result<Vec<String>, git2::Error> {
    let mut paths: Vec<String> = index
        .conflicts()?
        .flatten()
        .filter_map(|c| c.our.or(c.their).or(c.ancestor))
        .map(|entry| String::from_utf8_lossy(&entry.path).into_owned())
        .collect();
    paths.sort();
    paths.dedup();
    Ok(paths)
}
