//! `pr`: the landed branch proposed into the feature's target branch, with the report as its
//! body — pushed first, then opened, or the open one updated.

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::blocking::off_thread;
use super::orchestrator::{Orchestrator, redactor_for};
use super::push::PushOptions;
use crate::config::ConfigError;
use crate::forge::{self, ForgeError, PrReport, Proposal, PullRequest};
use crate::remote::NETWORK_TIMEOUT;
use crate::remote::run_git;
use crate::worktree::WorktreeManager;

/// Per-pull-request choices. As data: these snake_case keys, unknown keys refused.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrOptions {
    /// The remote to push to and whose repository gets the pull request (default:
    /// `push_remote`).
    pub remote: Option<String>,
    /// The branch with the work (default: where the feature last landed).
    pub head: Option<String>,
    /// The branch it goes into (default: the feature's target branch).
    pub base: Option<String>,
}

impl PrOptions {
    /// Checks the values; the error names the option.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: String| ConfigError {
            path: "<pull request options>".into(),
            key: Some(key.to_string()),
            line: None,
            message,
        };
        PushOptions { remote: self.remote.clone(), branch: None, branches: false }.validate()?;
        for (key, branch) in [("head", &self.head), ("base", &self.base)] {
            if let Some(Err(why)) = branch.as_deref().map(crate::ids::BranchName::parse) {
                return Err(invalid(key, why));
            }
        }
        Ok(())
    }

    /// Options from JSON-shaped data (the bindings); errors name the key.
    pub fn from_json(value: &serde_json::Value) -> Result<PrOptions, ConfigError> {
        let opts: PrOptions = crate::config::options_from_json(value, "pull request options")?;
        opts.validate()?;
        Ok(opts)
    }
}

impl Orchestrator {
    /// Pushes the landed branch and opens (or updates) its pull request into the target branch,
    /// titled from the feature, with the markdown report as body.
    pub async fn pull_request(
        &self,
        feature: &str,
        opts: PrOptions,
        cancel: CancellationToken,
    ) -> Result<PrReport, crate::Error> {
        opts.validate()?;
        let loaded = self.feature(feature)?;
        let slug = loaded.slug.to_string();
        let base = match opts.base.clone() {
            Some(b) => b,
            None => WorktreeManager::new(&self.repo_root, &loaded, &self.config)?.target_branch().to_string(),
        };
        let head = match opts
            .head
            .clone()
            .or_else(|| self.store.run_state(&loaded.slug).ok().flatten()?.merged.map(|m| m.into))
        {
            Some(h) => h,
            None => {
                let why = "it never landed: `kitty-orchestrator merge --into <branch>` first".to_string();
                return Err(ForgeError::NothingToPropose { feature: slug, why }.into());
            }
        };
        if head == base {
            let why = format!(
                "it landed on `{base}` itself; land it on a branch of its own (`merge --into feature/{slug}`) to propose it"
            );
            return Err(ForgeError::NothingToPropose { feature: slug, why }.into());
        }
        let remote = opts.remote.clone().unwrap_or_else(|| self.config.push_remote.clone());
        let redactor = redactor_for(&self.config);
        let args = vec!["remote".to_string(), "get-url".to_string(), "--".to_string(), remote.clone()];
        let url = run_git(&self.repo_root, &args, NETWORK_TIMEOUT, &cancel, &redactor).await?;
        let shown_url = redactor.apply(url.stdout.trim());
        let repo = forge::parse_repo_url(url.stdout.trim()).filter(|_| url.success()).ok_or_else(|| {
            ForgeError::UnknownRepository {
                remote: remote.clone(),
                url: if url.success() { shown_url } else { url.why() },
            }
        })?;
        let pushed = self
            .push(&slug, PushOptions { remote: Some(remote), branch: Some(head.clone()), branches: false }, cancel)
            .await?;
        let report = crate::report::markdown(&self.report_for(&loaded)?);
        let title = match loaded.meta.friendly_name.as_deref().filter(|n| !n.trim().is_empty()) {
            Some(name) => format!("{slug}: {}", crate::report::clean_line(name, &redactor)),
            None => slug.clone(),
        };
        let proposal = Proposal { head: head.clone(), base: base.clone(), title, body: report };
        let repository = repo.slug();
        let (pull_request, created, via) = off_thread(move || -> Result<(PullRequest, bool, String), ForgeError> {
            let host = forge::github_host(repo, &redactor)?;
            let (pr, created) = forge::open_or_update(host.as_ref(), &proposal)?;
            Ok((pr, created, host.describe()))
        })
        .await??;
        // The run chain remembers it: the report links it, and a later follow finds it.
        let record = crate::state::PullRequestRecord {
            number: pull_request.number,
            url: pull_request.url.clone(),
            head: head.clone(),
            base: base.clone(),
        };
        let body = format!(
            "Pull request #{} ({}): {head} into {base}.",
            record.number,
            if created { "opened" } else { "updated" }
        );
        let event = crate::state::RunEvent::PullRequest { pull_request: record, created };
        if let Err(err) = self.store.append_run(&loaded.slug, &event, &body) {
            tracing::warn!(%err, "the pull request is open, but the run chain could not record it");
        }
        Ok(PrReport { pull_request, created, repository, via, head, base, pushed })
    }
}
