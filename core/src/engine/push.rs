//! `push`: what landed goes to a remote — the landed branch, the WP branches when asked, and the
//! feature's `refs/kitty/*` (WP chains, run chain, backups) — each ref with the remote's current
//! value as its expected old value, refused (nothing pushed) when the remote has commits we do
//! not.

use git2::Oid;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::blocking::off_thread;
use super::orchestrator::{Orchestrator, redactor_for};
use crate::config::ConfigError;
use crate::ids::{BranchName, FeatureSlug};
use crate::remote::NETWORK_TIMEOUT;
use crate::remote::{self, PushReport, RemoteError, Update};

/// Per-push choices. As data: these snake_case keys, every one optional, unknown keys refused.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PushOptions {
    /// The remote (default: the configuration's `push_remote`, else `origin`).
    pub remote: Option<String>,
    /// The branch to push (default: where the feature last landed).
    pub branch: Option<String>,
    /// Push the WP branches too.
    pub branches: bool,
}

impl PushOptions {
    /// Checks the values; the error names the option.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: String| ConfigError {
            path: "<push options>".into(),
            key: Some(key.to_string()),
            line: None,
            message,
        };
        if let Some(remote) = &self.remote
            && (remote.is_empty() || remote.starts_with('-') || remote.chars().any(char::is_control))
        {
            return Err(invalid("remote", format!("`{remote}` is not a remote name or URL")));
        }
        if let Some(Err(why)) = self.branch.as_deref().map(BranchName::parse) {
            return Err(invalid("branch", why));
        }
        Ok(())
    }

    /// Options from JSON-shaped data (the bindings); errors name the key.
    pub fn from_json(value: &serde_json::Value) -> Result<PushOptions, ConfigError> {
        let opts: PushOptions = crate::config::options_from_json(value, "push options")?;
        opts.validate()?;
        Ok(opts)
    }
}

impl Orchestrator {
    /// Pushes what landed for `feature` (see [`PushOptions`]) through the `git` binary.
    pub async fn push(
        &self,
        feature: &str,
        opts: PushOptions,
        cancel: CancellationToken,
    ) -> Result<PushReport, crate::Error> {
        opts.validate()?;
        let slug = self.slug(feature)?;
        let remote = opts.remote.clone().unwrap_or_else(|| self.config.push_remote.clone());
        let branch = match opts.branch.clone() {
            Some(b) => b,
            None => match self.store.run_state(&slug)?.and_then(|r| r.merged) {
                Some(landed) => landed.into,
                None => {
                    let why = "it never landed; run `kitty-orchestrator merge` first, or name a branch".to_string();
                    return Err(RemoteError::NothingToPush { feature: slug.to_string(), why }.into());
                }
            },
        };
        let (this, s, b, with_branches) = (self.clone(), slug.clone(), branch.clone(), opts.branches);
        let local = off_thread(move || this.refs_to_push(&s, &b, with_branches)).await??;
        let redactor = redactor_for(&self.config);
        let theirs = remote::remote_refs(&self.repo_root, &remote, NETWORK_TIMEOUT, &cancel, &redactor).await?;
        let (store, shown) = (self.store.clone(), redactor.apply(&remote));
        let updates = off_thread(move || -> Result<Vec<Update>, crate::Error> {
            let repo = store.repo()?;
            let mut moved = Vec::new();
            let mut updates = Vec::new();
            for (reference, new) in local {
                let old = theirs.get(&reference).copied();
                if let Some(old) = old
                    && old != new
                    && !repo.graph_descendant_of(new, old).unwrap_or(false)
                {
                    let why = if repo.find_commit(old).is_ok() {
                        format!("is at {old}, which {new} does not contain")
                    } else {
                        format!("is at {old}, a commit we do not have")
                    };
                    moved.push((reference, why));
                    continue;
                }
                updates.push(Update { reference, new, old });
            }
            if moved.is_empty() { Ok(updates) } else { Err(RemoteError::Moved { remote: shown, moved }.into()) }
        })
        .await??;
        Ok(remote::push(&self.repo_root, &remote, &updates, NETWORK_TIMEOUT, &cancel, &redactor).await?)
    }

    /// The refs a push sends, with their local values: the branch, the WP branches when asked,
    /// and everything under the feature's `refs/kitty/` prefixes.
    fn refs_to_push(
        &self,
        slug: &FeatureSlug,
        branch: &str,
        branches: bool,
    ) -> Result<Vec<(String, Oid)>, crate::Error> {
        let repo = self.store.repo()?;
        let git = |what: String| {
            move |e: git2::Error| crate::Error::from(crate::land::LandError::Git { context: what, source: e })
        };
        let mut refs = Vec::new();
        let head = format!("refs/heads/{branch}");
        let tip = repo.refname_to_id(&head).map_err(|_| RemoteError::NothingToPush {
            feature: slug.to_string(),
            why: format!("branch `{branch}` does not exist"),
        })?;
        refs.push((head, tip));
        if branches {
            // A done WP's branch goes out only at the head its review approved.
            let mut moved = Vec::new();
            for (wp, state) in self.store.feature_states(slug)? {
                let name = state.branch.clone().unwrap_or_else(|| format!("{slug}-{wp}"));
                if let Ok(oid) = repo.refname_to_id(&format!("refs/heads/{name}")) {
                    moved.extend(crate::land::moved_since_approval(Some(&state), &name, Some(oid)));
                    refs.push((format!("refs/heads/{name}"), oid));
                }
            }
            if !moved.is_empty() {
                return Err(crate::land::LandError::MovedSinceApproval { feature: slug.to_string(), moved }.into());
            }
        }
        for prefix in [
            format!("refs/kitty/wp/{slug}/"),
            format!("refs/kitty/backup/{slug}/"),
            format!("refs/kitty/landed/{slug}/"),
        ] {
            let glob = format!("{prefix}**");
            for reference in repo.references_glob(&glob).map_err(git(format!("listing {glob}")))? {
                let reference = reference.map_err(git(format!("listing {glob}")))?;
                if let (Ok(Some(name)), Some(oid)) = (reference.name().map(Some), reference.target()) {
                    refs.push((name.to_string(), oid));
                }
            }
        }
        if let Ok(oid) = repo.refname_to_id(&crate::state::run_ref(slug)) {
            refs.push((crate::state::run_ref(slug), oid));
        }
        Ok(refs)
    }
}
