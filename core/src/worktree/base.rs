//! The commit a WP starts from: the target branch (no dependency), its dependency's branch tip
//! (one), or an in-memory merge of all its dependencies' tips (several) — so a WP with several
//! dependencies sees all their code, which the earlier orchestrator got wrong.

use git2::{Commit, Oid, Repository, Signature};

use super::error::WorktreeError;

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
        if index.has_conflicts() {
            let mut paths: Vec<String> = index
                .conflicts()
                .map_err(git("conflicts"))?
                .flatten()
                .filter_map(|c| c.our.or(c.their).or(c.ancestor))
                .map(|entry| String::from_utf8_lossy(&entry.path).into_owned())
                .collect();
            paths.sort();
            paths.dedup();
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
