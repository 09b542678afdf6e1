//! After every agent attempt: did a ref change that the attempt had no business changing? The
//! feature's state refs (`refs/kitty/wp|run|backup/<feature>/…`) must be where our own writes
//! left them, and no other WP's branch may have moved while nobody of ours worked on it. Landlock
//! keeps a confined agent from writing `refs/kitty/` at all, but other WPs' branches share
//! `refs/heads/` with its own, and an unconfined agent (`sandbox = "off"`, or a kernel without
//! Landlock) can write anything: this check is what catches it. A change found is put back (the
//! tip found is kept in a quarantine ref) and reported as a security event: the WP is blocked with
//! a reason naming each ref.
//!
//! A confined agent cannot write the repository's refs at all (it commits into a private copy:
//! see [`crate::worktree::Quarantine`]), so for it only this feature's WP branches and state refs
//! are compared. An unconfined one could move any ref, so then every branch and tag is compared
//! — the target branch included, unless a spec-kitty mirror commits there.
//!
//! A branch is only checked while no WP task of ours that works on it is running, before and
//! after (`Activity` counts them): concurrent WPs' own branches move legitimately.

use std::collections::HashMap;

use git2::{Oid, Repository};

use super::ctx::Ctx;
use crate::feature::WorkPackage;
use crate::state::{RefChange, WatchedRefs};

/// What the refs were when an attempt began.
pub(super) struct Baseline {
    /// `None` when they could not be read (then they are not checked).
    state: Option<WatchedRefs>,
    /// Refs nobody of ours worked on: full name, tip, activity generation.
    branches: Vec<(String, Option<Oid>, u64)>,
    /// Other WPs whose tasks were running (named in a report: they may be the ones at fault).
    alongside: Vec<String>,
}

/// Reads the refs before `wp`'s attempt (every branch and tag when it runs unconfined). A ref
/// that cannot be read is left out (and said).
pub(super) fn baseline(ctx: &Ctx, wp: &WorkPackage, confined: bool) -> Baseline {
    let state = ctx
        .store
        .watched_refs(&ctx.feature.slug)
        .inspect_err(|err| {
            tracing::warn!(wp = %wp.id, %err, "the state refs could not be read before an attempt: not checked after it")
        })
        .ok();
    let own = format!("refs/heads/{}", ctx.worktrees.branch(&wp.id));
    let activity = ctx.activity.now();
    let repo = ctx.store.repo().ok();
    let tips = repo.as_ref().map(|r| ref_tips(r, !confined)).unwrap_or_default();
    let mut branches = Vec::new();
    let mut alongside = Vec::new();
    let mut names: Vec<String> = ctx
        .feature
        .work_packages
        .iter()
        .filter(|o| o.id != wp.id)
        .map(|other| {
            let name = format!("refs/heads/{}", ctx.worktrees.branch(&other.id));
            if activity.get(short(&name)).is_some_and(|(tasks, _)| *tasks > 0) {
                alongside.push(other.id.to_string());
            }
            name
        })
        .collect();
    if !confined {
        let target = format!("refs/heads/{}", ctx.worktrees.target_branch());
        let mirrored = ctx.mirror.is_some();
        names.extend(tips.keys().filter(|n| !(mirrored && **n == target)).cloned());
    }
    for name in names {
        let (tasks, generation) = activity.get(short(&name)).copied().unwrap_or_default();
        if name == own || tasks > 0 || branches.iter().any(|(b, _, _)| *b == name) {
            continue;
        }
        if let Some(repo) = &repo {
            branches.push((name.clone(), tip_in(&tips, repo, &name), generation));
        }
    }
    Baseline { state, branches, alongside }
}

/// A ref's name as `Activity` knows it (branches by short name).
fn short(name: &str) -> &str {
    name.strip_prefix("refs/heads/").unwrap_or(name)
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
        let everything = before.branches.iter().any(|(name, _, _)| name.starts_with("refs/tags/"));
        let tips = ref_tips(&repo, everything);
        let found: Vec<Option<Oid>> = before.branches.iter().map(|(name, _, _)| tip_in(&tips, &repo, name)).collect();
        let activity = ctx.activity.now();
        for ((name, was, generation), found) in before.branches.iter().zip(found) {
            // Someone of ours came (or went) meanwhile: its moves are legitimate.
            if activity.get(short(name)).copied().unwrap_or_default() != (0, *generation) {
                continue;
            }
            if found != *was {
                changes.push(RefChange { reference: name.clone(), expected: *was, found });
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

/// The security report of an attempt whose private git store (see
/// [`crate::worktree::Quarantine`]) shows refs it did not own moved, or the worktree's link
/// files rewritten (`None`: neither). Nothing of it reached the repository's refs; each commit
/// it set is kept at `refs/kitty/quarantine/<feature>/<n>` for whoever looks into it.
pub(super) fn private_moves(ctx: &Ctx, what: &str, done: &crate::worktree::Concluded) -> Option<String> {
    if done.moved.is_empty() && done.tampered.is_empty() {
        return None;
    }
    let repo = ctx.store.repo().ok();
    let mut each = Vec::new();
    for moved in &done.moved {
        let set = moved.now.as_deref().and_then(|t| Oid::from_str(t).ok());
        let exists = |oid: Oid| repo.as_ref().is_some_and(|r| r.odb().is_ok_and(|o| o.exists(oid)));
        let kept = match set.filter(|oid| exists(*oid)) {
            Some(oid) => match ctx.store.keep_found(&ctx.feature.slug, &moved.name, oid) {
                Ok(kept) => format!("; what it set is kept at {kept}"),
                Err(err) => format!("; what it set could not be kept: {err}"),
            },
            None => String::new(),
        };
        each.push(format!("{moved} (only in its private copy: the repository's ref never moved{kept})"));
    }
    each.extend(done.tampered.iter().cloned());
    let found = format!("security: {what} changed what it does not own: {}", each.join("; "));
    tracing::error!(feature = %ctx.feature.slug, %found, "security: an attempt changed what it does not own");
    Some(found)
}

/// Every top-level branch's tip (and with `everything`, every branch's and tag's), by full name,
/// read in one pass: a lookup per WP would cost a ref read per WP of the feature at every
/// attempt (a 1000-WP feature: a million reads over the run).
fn ref_tips(repo: &Repository, everything: bool) -> HashMap<String, Oid> {
    let mut tips = HashMap::new();
    let listed = if everything { repo.references() } else { repo.references_glob("refs/heads/*") };
    let Ok(listed) = listed else { return tips };
    for reference in listed.flatten() {
        if let (Ok(name), Some(oid)) = (reference.name(), reference.target())
            && (name.starts_with("refs/heads/") || name.starts_with("refs/tags/"))
        {
            tips.insert(name.to_string(), oid);
        }
    }
    tips
}

/// `name`'s tip from `tips` (branch names with a `/` are read on their own: the glob's reach
/// into nested names is not relied on).
fn tip_in(tips: &HashMap<String, Oid>, repo: &Repository, name: &str) -> Option<Oid> {
    match tips.get(name) {
        Some(tip) => Some(*tip),
        None if short(name).contains('/') => repo.find_reference(name).ok().and_then(|r| r.target()),
        None => None,
    }
}
