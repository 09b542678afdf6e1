//! The shared run chain: requests every machine of a shared run acts on. Each machine's own run
//! chain (`refs/kitty/run/<feature>`) stays its own; what all of them must see — an abort asked
//! for on any machine — is a commit chain on the remote, appended with a lease like the rest.
//!
//! ```text
//! refs/kitty/shared-run/<feature>/requests     one commit per request (`Kitty-Event: aborted`)
//! ```
//!
//! A run notes the chain's tip when it starts; a tip that moved later is an abort for it (so an
//! old abort never stops a run started after it).

use git2::Oid;

use super::shared::SharedState;
use crate::ids::FeatureSlug;
use crate::remote::{RemoteError, Update};
use crate::state::StateError;

/// `refs/kitty/shared-run/<feature>/requests`: requests for every machine sharing `feature`.
pub fn shared_run_ref(feature: &FeatureSlug) -> String {
    format!("refs/kitty/shared-run/{feature}/requests")
}

/// The glob that fetches [`shared_run_ref`] (a glob, so a remote without it is no error).
pub fn shared_run_glob(feature: &FeatureSlug) -> String {
    format!("refs/kitty/shared-run/{feature}/*")
}

impl SharedState {
    /// Records on the remote that `host` asks every machine's run of `feature` to abort
    /// (`reason` goes in the commit). Appended with the fetched tip as lease; a lost race is
    /// fetched and tried again. Returns the new tip.
    pub async fn request_abort(&self, feature: &FeatureSlug, host: &str, reason: &str) -> Result<Oid, crate::Error> {
        let name = shared_run_ref(feature);
        for _ in 0..20 {
            let theirs = self.fetch(&[shared_run_glob(feature)]).await?.get(&name).copied();
            let new = self.abort_commit(&name, theirs, feature, host, reason)?;
            match self.push(&[Update { reference: name.clone(), new, old: theirs }]).await {
                Ok(()) => return Ok(new),
                Err(crate::Error::Remote(RemoteError::Rejected { rejected, .. }))
                    if rejected.iter().all(|(_, why)| super::lost_a_race(why)) =>
                {
                    tokio::time::sleep(std::time::Duration::from_millis(20 + fastrand::u64(0..50))).await;
                }
                Err(err) => return Err(err),
            }
        }
        Err(StateError::Conflict {
            reference: name,
            why: format!("others kept writing it on remote {}", self.remote()),
        }
        .into())
    }

    fn abort_commit(
        &self,
        name: &str,
        parent: Option<Oid>,
        feature: &FeatureSlug,
        host: &str,
        reason: &str,
    ) -> Result<Oid, crate::Error> {
        let repo = self.store().repo()?;
        let tree = repo
            .treebuilder(None)
            .and_then(|b| b.write())
            .and_then(|t| repo.find_tree(t))
            .map_err(StateError::git(format!("writing {name}")))?;
        let parent = match parent {
            Some(oid) => Some(repo.find_commit(oid).map_err(StateError::git(format!("reading {name} at {oid}")))?),
            None => None,
        };
        // One line, no trailer lookalikes: the reason is free text from a person or a script.
        let reason: String = reason.chars().map(|c| if c.is_control() { ' ' } else { c }).take(500).collect();
        let text = format!(
            "kitty: abort {feature} (requested on {host})\n\n{reason}\n\nKitty-Event: aborted\nKitty-Host: {host}\n"
        );
        let sig = crate::state::StateStore::committer(&repo);
        let parents: Vec<&git2::Commit> = parent.iter().collect();
        Ok(repo.commit(None, &sig, &sig, &text, &tree, &parents).map_err(StateError::git(format!("writing {name}")))?)
    }

    /// The first line of the request `tip` of the shared run chain (fetched), for messages.
    pub fn request_summary(&self, tip: Oid) -> String {
        self.store()
            .repo()
            .ok()
            .and_then(|repo| repo.find_commit(tip).ok().and_then(|c| c.summary().ok().flatten().map(str::to_string)))
            .unwrap_or_else(|| format!("request {tip}"))
    }
}
