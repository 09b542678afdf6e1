//! Which agents may do which job: the role lists (run options, else configuration, else every
//! installed agent), filtered to installed and enabled agents, with per-agent capacity.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::agents::{AgentSpec, agent_specs};
use crate::config::Config;
use crate::error::EngineError;
use crate::role::Role;

/// The agents of a run.
pub struct Roster {
    specs: HashMap<String, AgentSpec>,
    implementation: Vec<String>,
    review: Vec<String>,
    capacity: HashMap<String, Arc<Semaphore>>,
}

impl Roster {
    /// Resolves the role lists. A role with no usable agent is an error naming what was tried.
    pub fn new(
        config: &Config,
        impl_override: Option<&[String]>,
        review_override: Option<&[String]>,
    ) -> Result<Roster, EngineError> {
        Self::build(config, impl_override, Some(review_override))
    }

    /// Only the implementation agents (for work that needs no review: fixing a merge's failing
    /// verification, resolving its conflicts).
    pub fn implementers(config: &Config) -> Result<Roster, EngineError> {
        Self::build(config, None, None)
    }

    /// `review`: `None` = do not resolve the review role (it stays empty).
    fn build(
        config: &Config,
        impl_override: Option<&[String]>,
        review: Option<Option<&[String]>>,
    ) -> Result<Roster, EngineError> {
        let all = agent_specs(config);
        let usable = |spec: &AgentSpec| spec.enabled && spec.availability().is_ok();
        let specs: HashMap<String, AgentSpec> = all.iter().map(|s| (s.id.clone(), s.clone())).collect();
        let resolve =
            |role: Role, listed: Option<&[String]>, configured: &[String]| -> Result<Vec<String>, EngineError> {
                let wanted: Vec<String> = match listed.filter(|l| !l.is_empty()) {
                    Some(list) => list.to_vec(),
                    None if !configured.is_empty() => configured.to_vec(),
                    None => {
                        // Every installed agent; the API agent (it spends money per token) only
                        // when no CLI agent is installed, unless it is named.
                        let is_api = |s: &AgentSpec| s.command(Role::Implementation).api.is_some();
                        let cli_found = all.iter().any(|s| !is_api(s) && usable(s));
                        all.iter().filter(|s| !(cli_found && is_api(s))).map(|s| s.id.clone()).collect()
                    }
                };
                for id in &wanted {
                    if !specs.contains_key(id) {
                        return Err(EngineError::UnknownAgent { id: id.clone() });
                    }
                }
                let found: Vec<String> = wanted.iter().filter(|id| usable(&specs[*id])).cloned().collect();
                if found.is_empty() {
                    let why = |spec: &AgentSpec| match spec.availability() {
                        Err(why) => why,
                        Ok(_) if !spec.enabled => "disabled".to_string(),
                        Ok(_) => spec.program().to_string(),
                    };
                    let tried =
                        wanted.iter().map(|id| format!("{id} ({})", why(&specs[id]))).collect::<Vec<_>>().join(", ");
                    return Err(EngineError::NoAgents { role: role.as_str().to_string(), tried });
                }
                Ok(found)
            };
        let implementation = resolve(Role::Implementation, impl_override, &config.agents.implementation)?;
        let review = match review {
            Some(listed) => resolve(Role::Review, listed, &config.agents.review)?,
            None => Vec::new(),
        };
        let capacity = specs
            .iter()
            .filter_map(|(id, spec)| spec.max_concurrent.map(|n| (id.clone(), Arc::new(Semaphore::new(n)))))
            .collect();
        Ok(Roster { specs, implementation, review, capacity })
    }

    /// A roster with no agents (a merge whose verification needs no fixing).
    pub fn none() -> Roster {
        Roster { specs: HashMap::new(), implementation: Vec::new(), review: Vec::new(), capacity: HashMap::new() }
    }

    /// The agents for `role`, in preference order.
    pub fn candidates(&self, role: Role) -> &[String] {
        match role {
            Role::Implementation => &self.implementation,
            Role::Review => &self.review,
        }
    }

    /// An agent's spec.
    pub fn spec(&self, id: &str) -> Option<&AgentSpec> {
        self.specs.get(id)
    }

    /// Waits for a slot on `id` (agents without `max_concurrent` are unlimited).
    pub async fn acquire(&self, id: &str) -> Option<OwnedSemaphorePermit> {
        match self.capacity.get(id) {
            Some(sem) => sem.clone().acquire_owned().await.ok(),
            None => None,
        }
    }
}
