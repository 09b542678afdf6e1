//! The cheap look at the remote (`ls-remote`), publishing chains the remote does not have yet,
//! and this machine's heartbeat.

use std::collections::{BTreeMap, HashMap};

use git2::Oid;

use super::shared::SharedState;
use crate::remote::{self, GitOutput, RemoteError, Update};
use crate::state::StateError;

impl SharedState {
    /// The remote's refs matching `patterns` (`git ls-remote`: one round trip, no objects).
    pub async fn ls_remote(&self, patterns: &[String]) -> Result<HashMap<String, Oid>, crate::Error> {
        let mut args = vec!["ls-remote".to_string(), "--".to_string(), self.remote_name().to_string()];
        args.extend(patterns.iter().cloned());
        let out = self.git(&args).await?;
        if !out.success() {
            return Err(RemoteError::Failed {
                remote: self.remote(),
                command: format!("git ls-remote {}", self.remote()),
                why: out.why(),
            }
            .into());
        }
        Ok(out
            .stdout
            .lines()
            .filter_map(|line| {
                let (oid, name) = line.split_once('\t')?;
                Some((name.trim().to_string(), Oid::from_str(oid.trim()).ok()?))
            })
            .collect())
    }

    /// The tips last fetched of state refs under `prefix` (`refs/kitty/wp/<feature>/`), by state
    /// ref name.
    pub fn tracked(&self, prefix: &str) -> Result<BTreeMap<String, Oid>, crate::Error> {
        let repo = self.store().repo()?;
        let glob = format!("{}*", super::tracking_ref(self.tracking_key(), prefix));
        let listed = repo.references_glob(&glob).map_err(StateError::git(format!("listing {glob}")))?;
        let strip = format!("refs/kitty-remote/{}/", self.tracking_key());
        let mut tips = BTreeMap::new();
        for reference in listed.flatten() {
            if let (Ok(name), Some(oid)) = (reference.name(), reference.target()) {
                tips.insert(format!("refs/kitty/{}", name.strip_prefix(&strip).unwrap_or(name)), oid);
            }
        }
        Ok(tips)
    }

    /// Pushes local chains the remote does not have yet (`new`: ref → local tip), each with the
    /// lease "must not exist", in one atomic push. `Ok(false)`: another machine published some
    /// first (fetch and adopt theirs, then try again with what is left).
    pub async fn publish_new(&self, new: &BTreeMap<String, Oid>) -> Result<bool, crate::Error> {
        if new.is_empty() {
            return Ok(true);
        }
        let updates: Vec<Update> =
            new.iter().map(|(name, tip)| Update { reference: name.clone(), new: *tip, old: None }).collect();
        match self.push(&updates).await {
            Ok(()) => Ok(true),
            Err(crate::Error::Remote(RemoteError::Rejected { rejected, .. }))
                if rejected.iter().all(|(_, why)| super::lost_a_race(why)) =>
            {
                Ok(false)
            }
            Err(err) => Err(err),
        }
    }

    /// Pushes `updates` atomically with their leases; the tracking refs follow.
    pub async fn push(&self, updates: &[Update]) -> Result<(), crate::Error> {
        let (repo, name) = (self.repo_path(), self.remote_name());
        remote::push(repo, name, updates, self.timeout(), self.cancel(), self.redactor()).await?;
        for update in updates {
            if let Some(branch) = update.reference.strip_prefix("refs/heads/") {
                let tracking = self.branch_tracking_ref(branch);
                if let Ok(repo) = self.store().repo() {
                    let _ = repo.reference(&tracking, update.new, true, "kitty: pushed");
                }
            } else {
                self.track(&update.reference, update.new);
            }
        }
        Ok(())
    }

    /// Pushes a new heartbeat to `reference` (a parentless commit saying who and how many; only
    /// this machine writes it, so it is forced). A heartbeat that changed is all others look at.
    pub async fn heartbeat(&self, reference: &str, text: &str) -> Result<Oid, crate::Error> {
        let oid = {
            let repo = self.store().repo()?;
            let tree = repo
                .treebuilder(None)
                .and_then(|b| b.write())
                .map_err(StateError::git("writing an empty tree".to_string()))?;
            let tree = repo.find_tree(tree).map_err(StateError::git("reading an empty tree".to_string()))?;
            let sig = crate::state::StateStore::committer(&repo);
            repo.commit(None, &sig, &sig, text, &tree, &[]).map_err(StateError::git(format!("writing {reference}")))?
        };
        let args: Vec<String> = vec![
            "push".into(),
            "--quiet".into(),
            "--".into(),
            self.remote_name().to_string(),
            format!("+{oid}:{reference}"),
        ];
        let out = self.git(&args).await?;
        if !out.success() {
            return Err(RemoteError::Failed {
                remote: self.remote(),
                command: format!("git push {} {reference}", self.remote()),
                why: out.why(),
            }
            .into());
        }
        Ok(oid)
    }

    /// Runs `git <args>` in the repository with this remote's timeout and cancellation.
    pub(super) async fn git(&self, args: &[String]) -> Result<GitOutput, crate::Error> {
        Ok(remote::run_git(self.repo_path(), args, self.timeout(), self.cancel(), self.redactor()).await?)
    }
}
