//! Conflicts for an agent to resolve: the conflicted merge of one WP written into the integration
//! worktree — markers in the files, the conflicts in the index, as `git merge` leaves them — and
//! the check of what the agent made of it.

use std::path::Path;

use git2::{Oid, Repository, ResetType, Status, StatusOptions};

use super::error::LandError;
use super::integrate::merged_index;
use super::plan::Integrand;
use crate::merge_strategy::MergeStrategy;

/// Resets the worktree `wt` to `acc` (untracked files removed too), then writes the conflicted
/// merge of `what` into it. Returns the conflicted paths.
pub fn write_conflicts(
    wt: &Repository,
    dir: &Path,
    acc: Oid,
    what: &Integrand,
    strategy: MergeStrategy,
) -> Result<Vec<String>, LandError> {
    let git = |what: &str| LandError::git(format!("writing the conflicts into {} ({what})", dir.display()));
    let commit = wt.find_commit(acc).map_err(git("reading the integration"))?;
    wt.reset(commit.as_object(), ResetType::Hard, None).map_err(git("reset"))?;
    remove_untracked(wt, dir)?;
    let mut index = merged_index(wt, acc, what, strategy)?;
    let paths = super::integrate::conflicted_paths(&index)?;
    let mut checkout = git2::build::CheckoutBuilder::new();
    checkout.force().allow_conflicts(true).conflict_style_merge(true);
    wt.checkout_index(Some(&mut index), Some(&mut checkout)).map_err(git("checkout"))?;
    // The worktree's own index gets the merge's entries and conflicts, so `git status` and
    // `git diff` show the agent what `git merge` would.
    let mut on_disk = wt.index().map_err(git("index"))?;
    on_disk.clear().map_err(git("index"))?;
    // Every entry, the conflicts' stages 1–3 included (the stage is in the entry's flags).
    for entry in index.iter() {
        on_disk.add(&entry).map_err(git("index"))?;
    }
    on_disk.write().map_err(git("writing the index"))?;
    Ok(paths)
}

/// Deletes untracked (not ignored) files an earlier attempt left.
fn remove_untracked(wt: &Repository, dir: &Path) -> Result<(), LandError> {
    let mut opts = StatusOptions::new();
    opts.include_untracked(true).recurse_untracked_dirs(true).include_ignored(false);
    let statuses =
        wt.statuses(Some(&mut opts)).map_err(LandError::git(format!("reading the status of {}", dir.display())))?;
    for entry in statuses.iter() {
        if entry.status().contains(Status::WT_NEW)
            && let Ok(path) = entry.path()
        {
            let _ = std::fs::remove_file(dir.join(path));
        }
    }
    Ok(())
}

/// Whether `line` opens or closes a conflict as git writes it. (A lone `=======` is not
/// counted: it is also a markdown heading underline.)
fn is_marker(line: &str) -> bool {
    line.starts_with("<<<<<<< ") || line.starts_with(">>>>>>> ") || line == "<<<<<<<" || line == ">>>>>>>"
}

/// The paths among `paths` that still hold conflict markers in `dir` (a deleted file holds none).
pub fn markers_left(dir: &Path, paths: &[String]) -> Vec<String> {
    paths
        .iter()
        .filter(|p| {
            std::fs::read(dir.join(p))
                .map(|bytes| String::from_utf8_lossy(&bytes).lines().any(is_marker))
                .unwrap_or(false)
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_lines_are_found_and_lookalikes_are_not() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), "x\n<<<<<<< ours\n1\n=======\n2\n>>>>>>> theirs\n").unwrap();
        std::fs::write(dir.path().join("b"), "a heading\n========\n  <<<<<<< quoted\n").unwrap();
        let paths = ["a".to_string(), "b".to_string(), "gone".to_string()];
        assert_eq!(markers_left(dir.path(), &paths), ["a"]);
    }
}
