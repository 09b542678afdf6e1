//! Conflicts given to agents (`merge --resolve`): the conflicted merge of one WP is written into
//! the integration worktree with its markers, an implementation agent resolves it (same
//! executor, logs, timeouts and retries as WP attempts), and what it made is checked — no marker
//! left in any conflicted path — before the WP's landing commit is made from it. Recorded on the
//! run chain; a conflict no agent resolves stops the merge with nothing changed.

use super::verify::{logs_dir, run_merge_agent};
use crate::engine::blocking::off_thread;
use crate::engine::ctx::Ctx;
use crate::engine::events::Event;
use crate::engine::prompt;
use crate::failure::FailureClass;
use crate::land::{self, Authors, LandError, Plan, Resolution, Stopped, Unresolved};
use crate::merge_strategy::MergeStrategy;
use crate::role::Role;
use crate::state::RunEvent;
use crate::worktree::IntegrationTree;

/// What the attempts at one conflict came to.
enum Tried {
    Resolved(Resolution),
    Failed { why: String, log: String },
}

/// Resolves the conflict the integration stopped at, on top of `acc`. Returns the resolution
/// (its commit lands the WP) or the error that stops the merge.
pub(super) async fn resolve_conflict(
    ctx: &Ctx,
    tree: &IntegrationTree,
    plan: &Plan,
    stopped: &Stopped,
    acc: git2::Oid,
    strategy: MergeStrategy,
) -> Result<Resolution, crate::Error> {
    let step = &plan.steps[stopped.step];
    let what = plan.integrands[&step.wp].clone();
    let conflict = &stopped.conflict;
    let feature = &ctx.feature;
    let wp = feature.work_package(&step.wp).expect("planned WPs are the feature's").clone();
    let others: Vec<_> = conflict
        .with
        .iter()
        .filter_map(|w| crate::ids::WpId::parse(w).ok())
        .filter_map(|id| feature.work_package(&id))
        .collect();
    let text =
        prompt::resolve(feature, &tree.path.display().to_string(), &wp, &conflict.with, &conflict.paths, &others);
    let agents = ctx.roster.candidates(Role::Implementation).to_vec();
    let mut last = Tried::Failed { why: "no implementation agent is available".into(), log: "-".into() };
    'agents: for agent in &agents {
        for attempt in 1..=ctx.config.max_retries + 1 {
            let (worktrees, t, w) = (ctx.worktrees.clone(), tree.clone(), what.clone());
            let paths = off_thread(move || -> Result<Vec<String>, crate::Error> {
                let repo = worktrees.integration_repo(&t)?;
                Ok(land::write_conflicts(&repo, &t.path, acc, &w, strategy)?)
            })
            .await??;
            let log = logs_dir(ctx).join(format!("merge-resolve-{}-{agent}-{attempt}.log", step.wp));
            let outcome =
                run_merge_agent(ctx, agent, attempt, tree, step.wp.as_str(), text.clone(), log.clone()).await?;
            let log = log.display().to_string();
            if outcome.cancelled {
                return Err(
                    crate::error::EngineError::Aborted(format!("the merge of {} was aborted", feature.slug)).into()
                );
            }
            if outcome.failure == Some(FailureClass::RefTampering) {
                last = Tried::Failed { why: outcome.result.error.clone().unwrap_or_default(), log };
                break 'agents;
            }
            last = match (&outcome.status, land::markers_left(&tree.path, &paths)) {
                (Some(crate::executor::KittyStatus::Blocked(why) | crate::executor::KittyStatus::Kickback(why)), _) => {
                    Tried::Failed { why: format!("{agent} gave up: {why}"), log }
                }
                _ if !outcome.success() => {
                    Tried::Failed { why: format!("{agent} failed: {}", outcome.describe()), log }
                }
                (_, left) if !left.is_empty() => {
                    Tried::Failed { why: format!("{agent} left conflict markers in {}", left.join(", ")), log }
                }
                _ => Tried::Resolved(commit_resolution(ctx, tree, plan, stopped, acc, strategy, agent, log).await?),
            };
            match &last {
                Tried::Resolved(resolution) => {
                    record(ctx, resolution).await?;
                    return Ok(resolution.clone());
                }
                Tried::Failed { why, .. } => tracing::warn!(wp = %step.wp, %why, "a conflict resolution was refused"),
            }
            if matches!(outcome.failure, Some(FailureClass::Auth | FailureClass::Spawn)) {
                continue 'agents;
            }
        }
    }
    let Tried::Failed { why, log } = last else { unreachable!("a resolution returns above") };
    Err(LandError::Unresolved(Box::new(Unresolved {
        target: plan.target.clone(),
        wp: conflict.wp.clone(),
        with: conflict.with.clone(),
        paths: conflict.paths.clone(),
        why,
        log,
    }))
    .into())
}

/// The landing commit of the conflicting WP made from what the agent left in the worktree; the
/// worktree is moved to it.
#[allow(clippy::too_many_arguments)]
async fn commit_resolution(
    ctx: &Ctx,
    tree: &IntegrationTree,
    plan: &Plan,
    stopped: &Stopped,
    acc: git2::Oid,
    strategy: MergeStrategy,
    agent: &str,
    log: String,
) -> Result<Resolution, crate::Error> {
    let (worktrees, t) = (ctx.worktrees.clone(), tree.clone());
    let (store, plan, stopped_step) = (ctx.store.clone(), plan.clone(), stopped.step);
    let (feature, run_id) = (ctx.feature.slug.to_string(), ctx.owner.run_id.clone());
    let template = ctx.config.commit_template.clone();
    let conflict = &stopped.conflict;
    let described = format!("{} with {} in {}", conflict.wp, conflict.with.join(" and "), conflict.paths.join(", "));
    let resolved_by = Some((agent.to_string(), described));
    let commit = off_thread(move || -> Result<git2::Oid, crate::Error> {
        let (resolved_tree, _withheld) = worktrees.stage_integration(&t)?;
        let repo = store.repo()?;
        let step = &plan.steps[stopped_step];
        let states =
            store.feature_states(&crate::ids::FeatureSlug::parse(&feature).expect("a loaded feature's slug"))?;
        let authors = Authors {
            resolved_by,
            committer: crate::state::StateStore::committer(&repo),
            agents: states.iter().map(|(id, s)| (id.clone(), s.agents_used.clone())).collect(),
            run_id,
            feature,
            template: template.clone(),
        };
        let what = &plan.integrands[&step.wp];
        let commit = land::commit_step(&repo, &plan.target, step, acc, what, resolved_tree, strategy, &authors)?;
        worktrees.reset_integration(&t, commit)?;
        Ok(commit)
    })
    .await??;
    let conflict = &stopped.conflict;
    Ok(Resolution {
        wp: conflict.wp.clone(),
        with: conflict.with.clone(),
        paths: conflict.paths.clone(),
        agent: agent.to_string(),
        commit: commit.to_string(),
        log,
    })
}

async fn record(ctx: &Ctx, r: &Resolution) -> Result<(), crate::Error> {
    let event = RunEvent::Resolved {
        wp: r.wp.clone(),
        with: r.with.clone(),
        paths: r.paths.clone(),
        agent: r.agent.clone(),
        commit: r.commit.clone(),
        log: r.log.clone(),
    };
    let body = format!(
        "{} resolved the conflict of {} with {} in {}; log {}",
        r.agent,
        r.wp,
        r.with.join(" and "),
        r.paths.join(", "),
        r.log
    );
    let (store, slug) = (ctx.store.clone(), ctx.feature.slug.clone());
    off_thread(move || store.append_run(&slug, &event, &body)).await??;
    ctx.emit(Event::MergeResolved {
        feature: ctx.feature.slug.to_string(),
        wp: r.wp.clone(),
        agent: r.agent.clone(),
        paths: r.paths.clone(),
        commit: r.commit.clone(),
    });
    Ok(())
}
