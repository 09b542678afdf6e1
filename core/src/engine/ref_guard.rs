//! After every agent attempt: did a ref change that the attempt had no business changing? The
//! feature's state refs (`refs/kitty/wp|run|backup/<feature>/…`) must be where our own writes
//! left them, and no other WP's branch may have moved while nobody of ours worked on it. Landlock
//! keeps a confined agent from writing `refs/kitty/` at all, but other WPs' branches share
//! `refs/heads/` with its own, and an unconfined agent (`sandbox = "off"`, or a kernel without
//! Landlock) can write anything: this check is what catches it. A change found is put back (the
//! tip found is kept in a quarantine ref) and reported as a security event: the WP is blocked with
//! a reason naming each ref.
//!
//! A branch is only checked while no WP task of ours that works on it is running, before and
//! after (`Activity` counts them): concurrent WPs' own branches move legitimately. The target
//! branch is not checked (the spec-kitty mirror commits there, and so may people).

use std::collections::HashMap;
use std::sync::Mutex;

use git2::{Oid, Repository};

use super::ctx::Ctx;
use crate::feature::WorkPackage;
use crate::state::{RefChange, WatchedRefs};

/// Which branches WP tasks of this run are working on: per branch, how many tasks are on it and
/// how many times a task came or went (so a check can tell "nobody worked on it meanwhile").
#[derive(Debug, Default)]
pub(crate) struct Activity {
    branches: Mutex<HashMap<String, (u32, u64)>>,
}

/// A WP task on a branch; leaves it when dropped (also when the task panics).
pub(super) struct OnBranch<'a> {
    activity: &'a Activity,
    branch: String,
}

impl Activity {
    /// Marks a WP task working on `branch` until the guard is dropped.
    pub(super) fn enter(&self, branch: String) -> OnBranch<'_> {
        self.change(&branch, true);
        OnBranch { activity: self, branch }
    }

    fn change(&self, branch: &str, enter: bool) {
        let mut branches = self.branches.lock().unwrap_or_else(|e| e.into_inner());
        let entry = branches.entry(branch.to_string()).or_default();
        entry.0 = if enter { entry.0 + 1 } else { entry.0.saturating_sub(1) };
        entry.1 += 1;
    }

    fn now(&self) -> HashMap<String, (u32, u64)> {
        self.branches.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Drop for OnBranch<'_> {
    fn drop(&mut self) {
        self.activity.change(&self.branch, false);
    }
}

/// What the refs were when an attempt began.
pub(super) struct Baseline {
    /// `None` when they could not be read (then they are not checked).
    state: Option<WatchedRefs>,
    /// Other WPs' branches nobody worked on: name, tip, activity generation.
    branches: Vec<(String, Option<Oid>, u64)>,
    /// Other WPs whose tasks were running (named in a report: they may be the ones at fault).
    alongside: Vec<String>,
}

/// Reads the refs before `wp`'s attempt. A ref that cannot be read is left out (and said).
pub(super) fn baseline(ctx: &Ctx, wp: &WorkPackage) -> Baseline {
    let state = ctx
        .store
        .watched_refs(&ctx.feature.slug)
        .inspect_err(|err| {
            tracing::warn!(wp = %wp.id, %err, "the state refs could not be read before an attempt: not checked after it")
        })
        .ok();
    let own = ctx.worktrees.branch(&wp.id);
    let activity = ctx.activity.now();
    let repo = ctx.store.repo().ok();
    let tips = repo.as_ref().map(branch_tips).unwrap_or_default();
    let mut branches = Vec::new();
    let mut alongside = Vec::new();
    for other in ctx.feature.work_packages.iter().filter(|o| o.id != wp.id) {
        let branch = ctx.worktrees.branch(&other.id);
        let (tasks, generation) = activity.get(&branch).copied().unwrap_or_default();
        if tasks > 0 {
            alongside.push(other.id.to_string());
        }
        if branch == own || tasks > 0 || branches.iter().any(|(b, _, _)| *b == branch) {
            continue;
        }
        if let Some(repo) = &repo {
            branches.push((branch.clone(), tip_in(&tips, repo, &branch), generation));
        }
    }
    Baseline { state, branches, alongside }
}

/// Compares the refs with `before` after an attempt; puts back whatever changed from outside and
/// returns the reason to block the WP with (`None`: all as expected). `what` names the attempt.
pub(super) fn verify(ctx: &Ctx, wp: &WorkPackage, before: &Baseline, what: &str) -> Option<String> {
    let slug = &ctx.feature.slug;
    let checked = before.state.as_ref().map(|state| ctx.store.foreign_changes(slug, state));
    let mut changes = match checked.unwrap_or(Ok(Vec::new())) {
        Ok(changes) => changes,
        Err(err) => {
            tracing::warn!(wp = %wp.id, %err, "the state refs could not be checked after an attempt");
            Vec::new()
        }
    };
    if let Ok(repo) = ctx.store.repo() {
        // The tips first, then who worked on them: a task of ours enters a branch before it moves
        // it, so any move these tips show is preceded by an entry the activity read after them
        // shows. (Read the other way round, a WP task starting between the two reads, under load,
        // made its own new branch look like an outside change.)
        let tips = branch_tips(&repo);
        let found: Vec<Option<Oid>> =
            before.branches.iter().map(|(branch, _, _)| tip_in(&tips, &repo, branch)).collect();
        let activity = ctx.activity.now();
        for ((branch, was, generation), found) in before.branches.iter().zip(found) {
            // Someone of ours came (or went) meanwhile: its moves are legitimate.
            if activity.get(branch).copied().unwrap_or_default() != (0, *generation) {
                continue;
            }
            if found != *was {
                changes.push(RefChange { reference: format!("refs/heads/{branch}"), expected: *was, found });
            }
        }
    }
    if changes.is_empty() {
        return None;
    }
    let mut each = Vec::new();
    for change in &changes {
        let fate = match ctx.store.put_back(slug, change) {
            Ok(Some(kept)) => format!("put back; what was found is kept at {kept}"),
            Ok(None) => "put back".to_string(),
            Err(err) => format!("could not be put back: {err}"),
        };
        tracing::error!(wp = %wp.id, change = %change, %fate, "security: a ref changed from outside the orchestrator");
        each.push(format!("{change}: {fate}"));
    }
    let alongside = match before.alongside.as_slice() {
        [] => String::new(),
        others => format!(" (other agents were running at the same time, on {})", others.join(", ")),
    };
    Some(format!("security: refs changed outside the orchestrator while {what} ran{alongside}: {}", each.join("; ")))
}

/// Every top-level branch's tip, read in one pass: a lookup per WP would cost a ref read per WP
/// of the feature at every attempt (a 1000-WP feature: a million reads over the run).
fn branch_tips(repo: &Repository) -> std::collections::HashMap<String, Oid> {
    let mut tips = std::collections::HashMap::new();
    let Ok(listed) = repo.references_glob("refs/heads/*") else { return tips };
    for reference in listed.flatten() {
        if let (Ok(name), Some(oid)) = (reference.name(), reference.target())
            && let Some(branch) = name.strip_prefix("refs/heads/")
        {
            tips.insert(branch.to_string(), oid);
        }
    }
    tips
}

/// `branch`'s tip from `tips` (names with a `/` are read on their own: the glob's reach into
/// nested names is not relied on).
fn tip_in(tips: &std::collections::HashMap<String, Oid>, repo: &Repository, branch: &str) -> Option<Oid> {
    if branch.contains('/') { tip(repo, branch) } else { tips.get(branch).copied() }
}

fn tip(repo: &Repository, branch: &str) -> Option<Oid> {
    repo.find_reference(&format!("refs/heads/{branch}")).ok().and_then(|r| r.target())
}
