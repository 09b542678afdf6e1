//! `run --dry-run`: what a run would do — order, bases, agents and their exact argv — without
//! doing anything.

use super::options::RunOptions;
use super::orchestrator::Orchestrator;
use super::roster::Roster;
use crate::lane::Lane;
use crate::worktree::WorktreeManager;

/// One WP in a dry-run plan.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PlannedWp {
    /// WP id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Lane now (from git state, else the feature files).
    pub lane: Lane,
    /// Dependencies.
    pub dependencies: Vec<String>,
    /// What its worktree starts from.
    pub base: String,
    /// First implementation agent (fallbacks follow the role list).
    pub implementer: String,
    /// First reviewer.
    pub reviewer: String,
    /// The implementer's exact argv (`{prompt}`/`{prompt_file}` are filled in at run time).
    pub implementation_argv: Vec<String>,
    /// The reviewer's exact argv.
    pub review_argv: Vec<String>,
}

/// What `run` would do, without doing it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Plan {
    /// Feature slug.
    pub feature: String,
    /// Branch WPs without dependencies start from.
    pub target_branch: String,
    /// WPs in a stable topological order.
    pub wps: Vec<PlannedWp>,
    /// Implementation agents in fallback order.
    pub implementation_agents: Vec<String>,
    /// Review agents in fallback order.
    pub review_agents: Vec<String>,
    /// WPs in flight at once.
    pub max_concurrent: usize,
}

impl Orchestrator {
    /// What `run` would do: order, bases, agents and the exact argv each agent would get.
    pub fn plan(&self, feature: &str, opts: &RunOptions) -> Result<Plan, crate::Error> {
        opts.validate()?;
        let feature = self.feature(feature)?;
        let roster = Roster::new(&self.config, opts.impl_agents.as_deref(), opts.review_agents.as_deref())?;
        let worktrees = WorktreeManager::new(&self.repo_root, &feature, &self.config)?;
        let states = self.store.board(&feature.slug)?.states;
        let implementer = roster.candidates(crate::role::Role::Implementation)[0].clone();
        let reviewer = roster
            .candidates(crate::role::Role::Review)
            .iter()
            .find(|r| self.config.single_agent_mode == (**r == implementer))
            .unwrap_or(&roster.candidates(crate::role::Role::Review)[0])
            .clone();
        let argv = |agent: &str, role| {
            let command = roster.spec(agent).expect("roster agents have specs").command(role);
            let mut argv = vec![command.program.clone()];
            argv.extend(command.args.iter().cloned());
            if command.delivery == crate::command::Delivery::Stdin {
                argv.push("< prompt on stdin".into());
            }
            argv
        };
        let wps = feature
            .topological_order()
            .iter()
            .map(|id| {
                let wp = feature.work_package(id).expect("ids come from the feature");
                let base = match wp.dependencies.as_slice() {
                    [] => worktrees.target_branch().to_string(),
                    [one] => worktrees.branch(one),
                    many => {
                        format!("merge of {}", many.iter().map(|d| worktrees.branch(d)).collect::<Vec<_>>().join(", "))
                    }
                };
                PlannedWp {
                    id: id.to_string(),
                    title: wp.title.clone(),
                    lane: states.get(id).map_or(wp.initial_lane, |s| s.lane),
                    dependencies: wp.dependencies.iter().map(|d| d.to_string()).collect(),
                    base,
                    implementer: implementer.clone(),
                    reviewer: reviewer.clone(),
                    implementation_argv: argv(&implementer, crate::role::Role::Implementation),
                    review_argv: argv(&reviewer, crate::role::Role::Review),
                }
            })
            .collect();
        Ok(Plan {
            feature: feature.slug.to_string(),
            target_branch: worktrees.target_branch().to_string(),
            wps,
            implementation_agents: roster.candidates(crate::role::Role::Implementation).to_vec(),
            review_agents: roster.candidates(crate::role::Role::Review).to_vec(),
            max_concurrent: opts.max_concurrent.unwrap_or(self.config.max_concurrent_wps),
        })
    }
}
