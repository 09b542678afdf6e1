//! After landing: the landed WPs' worktrees removed (uncommitted work saved to a backup ref
//! first), and with `cleanup = "worktrees+branches"` their branches deleted — a branch whose tip
//! the target does not contain (a squash) is kept under `refs/kitty/landed/<feature>/<WP>`
//! first, so no commit becomes unreachable.

use git2::{BranchType, Oid};

use crate::config::Cleanup;
use crate::engine::orchestrator::Orchestrator;
use crate::engine::reports::Cleaned;
use crate::ids::{FeatureSlug, WpId};
use crate::worktree::WorktreeManager;

/// `refs/kitty/landed/<feature>/<WP>`.
pub fn landed_ref(feature: &FeatureSlug, wp: &WpId) -> String {
    format!("refs/kitty/landed/{feature}/{wp}")
}

impl Orchestrator {
    /// Cleans up after `wps` landed at `landed` (per `cleanup`). Failures are noted, not raised:
    /// the landing stands either way.
    pub(super) fn clean_up(
        &self,
        names: &WorktreeManager,
        slug: &FeatureSlug,
        wps: &[WpId],
        landed: Oid,
    ) -> Vec<Cleaned> {
        let mode = self.config.cleanup;
        if mode == Cleanup::Nothing {
            return Vec::new();
        }
        let Ok(repo) = self.store.repo() else { return Vec::new() };
        let mut out = Vec::new();
        for wp in wps {
            let mut cleaned = Cleaned {
                wp: wp.to_string(),
                worktree_removed: false,
                backup: None,
                branch_deleted: false,
                kept_as: None,
                note: None,
                ignored: Vec::new(),
            };
            if names.path_for(wp).exists() {
                match names.remove(wp, true) {
                    Ok(removal) => {
                        cleaned.worktree_removed = true;
                        cleaned.backup = removal.backup.map(|b| b.reference);
                        cleaned.ignored = removal.ignored;
                    }
                    Err(err) => cleaned.note = Some(format!("worktree kept: {err}")),
                }
            }
            if mode == Cleanup::WorktreesAndBranches && cleaned.note.is_none() {
                let name = names.branch(wp);
                if let Ok(mut branch) = repo.find_branch(&name, BranchType::Local) {
                    let tip = branch.get().target();
                    let contained =
                        tip.is_some_and(|t| t == landed || repo.graph_descendant_of(landed, t).unwrap_or(false));
                    if branch.is_head() {
                        cleaned.note = Some(format!("branch {name} kept: it is checked out"));
                    } else {
                        if let (false, Some(tip)) = (contained, tip) {
                            let keep = landed_ref(slug, wp);
                            match repo.reference(&keep, tip, true, "kitty: landed (squashed) WP branch") {
                                Ok(_) => cleaned.kept_as = Some(keep),
                                Err(err) => {
                                    cleaned.note = Some(format!("branch {name} kept: {err}"));
                                    out.push(cleaned);
                                    continue;
                                }
                            }
                        }
                        match branch.delete() {
                            Ok(()) => cleaned.branch_deleted = true,
                            Err(err) => cleaned.note = Some(format!("branch {name} kept: {err}")),
                        }
                    }
                }
            }
            if cleaned.worktree_removed || cleaned.branch_deleted || cleaned.note.is_some() {
                out.push(cleaned);
            }
        }
        out
    }
}
