//! WP branches as the remote has them: fetched before a base is made from them (so a dependent
//! starts from its dependencies' commits, whichever machine made them), and the lease a branch
//! is pushed with.

use std::collections::BTreeMap;

use git2::Oid;

use super::shared::SharedState;
use crate::remote::RemoteError;
use crate::state::StateError;

impl SharedState {
    /// `refs/kitty-remote/<remote>/heads/<branch>`: the remote's tip of a WP branch, as last seen.
    pub fn branch_tracking_ref(&self, branch: &str) -> String {
        format!("refs/kitty-remote/{}/heads/{branch}", self.tracking_key())
    }

    /// The remote's tip of `branch` as last fetched or pushed by us (`None`: not on the remote).
    pub fn tracked_branch(&self, branch: &str) -> Result<Option<Oid>, crate::Error> {
        Ok(self.store().tip_of(&self.branch_tracking_ref(branch))?)
    }

    /// Fetches `branches` from the remote into their tracking refs (those the remote lacks lose
    /// theirs); returns the remote's tip of each branch it has.
    pub async fn fetch_branches(&self, branches: &[String]) -> Result<BTreeMap<String, Oid>, crate::Error> {
        let patterns: Vec<String> = branches.iter().map(|b| format!("refs/heads/{b}")).collect();
        let listed = self.ls_remote(&patterns).await?;
        let mut tips = BTreeMap::new();
        let mut specs = Vec::new();
        for branch in branches {
            match listed.get(&format!("refs/heads/{branch}")) {
                Some(oid) => {
                    tips.insert(branch.clone(), *oid);
                    specs.push(format!("+refs/heads/{branch}:{}", self.branch_tracking_ref(branch)));
                }
                None => {
                    let repo = self.store().repo()?;
                    if let Ok(mut gone) = repo.find_reference(&self.branch_tracking_ref(branch)) {
                        let _ = gone.delete();
                    }
                }
            }
        }
        if !specs.is_empty() {
            let mut args: Vec<String> = ["fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--"]
                .iter()
                .map(|s| s.to_string())
                .collect();
            args.push(self.remote_name().to_string());
            args.extend(specs);
            let out = self.git(&args).await?;
            if !out.success() {
                return Err(RemoteError::Failed {
                    remote: self.remote(),
                    command: format!("git fetch {}", self.remote()),
                    why: out.why(),
                }
                .into());
            }
        }
        Ok(tips)
    }

    /// Fetches `branches` and sets each local `refs/heads/<branch>` to the remote's tip, so a base
    /// made from them holds exactly what the remote has. Local commits the remote's branch lacks
    /// are kept at `refs/kitty/superseded/heads/<branch>/<commit>` first. A branch the remote
    /// does not have is left as it is locally (returned in the second list).
    pub async fn sync_branches(&self, branches: &[String]) -> Result<(Vec<String>, Vec<String>), crate::Error> {
        let tips = self.fetch_branches(branches).await?;
        let repo = self.store().repo()?;
        let (mut synced, mut missing) = (Vec::new(), Vec::new());
        for branch in branches {
            let Some(theirs) = tips.get(branch).copied() else {
                missing.push(branch.clone());
                continue;
            };
            let name = format!("refs/heads/{branch}");
            let ours = repo.find_reference(&name).ok().and_then(|r| r.target());
            if ours == Some(theirs) {
                synced.push(branch.clone());
                continue;
            }
            if let Some(ours) = ours
                && !repo.graph_descendant_of(theirs, ours).map_err(StateError::git(format!("comparing {name}")))?
            {
                let kept = format!("refs/kitty/superseded/heads/{branch}/{ours}");
                repo.reference(&kept, ours, true, "kitty: local commits the remote's branch lacks")
                    .map_err(StateError::git(format!("keeping {kept}")))?;
                tracing::warn!(branch = %branch, kept = %kept, "the remote's branch replaced local commits; they are kept");
            }
            repo.reference(&name, theirs, true, "kitty: the branch as the shared remote has it")
                .map_err(StateError::git(format!("setting {name}")))?;
            synced.push(branch.clone());
        }
        Ok((synced, missing))
    }
}
