//! Provenance notes (`refs/notes/kitty`) shared through the remote like the chains: fetched,
//! merged record by record with the local notes, pushed with the fetched tip as the lease.

use git2::Oid;

use super::shared::SharedState;
use crate::remote::{RemoteError, Update};
use crate::state::{NOTES_REF, StateError};

/// Rounds of fetch, merge and push before a notes push that keeps losing races gives up.
const NOTE_ROUNDS: usize = 20;

impl SharedState {
    /// Where the remote's notes are kept as last fetched.
    fn notes_tracking_ref(&self) -> String {
        format!("refs/kitty-remote/{}/notes/kitty", self.tracking_key())
    }

    /// The remote's notes as last fetched.
    pub fn tracked_notes(&self) -> Result<Option<Oid>, crate::Error> {
        let repo = self.store().repo()?;
        let name = self.notes_tracking_ref();
        match repo.find_reference(&name) {
            Ok(r) => Ok(r.target()),
            Err(e) if e.code() == git2::ErrorCode::NotFound => Ok(None),
            Err(e) => Err(StateError::git(format!("reading {name}"))(e).into()),
        }
    }

    /// Makes the local and the remote notes hold every record of both. `remote_tip` is the
    /// remote's notes tip as just listed (`None`: it has none). Returns whether anything moved.
    pub async fn share_notes(&self, mut remote_tip: Option<Oid>) -> Result<bool, crate::Error> {
        for _ in 0..NOTE_ROUNDS {
            if let Some(tip) = remote_tip
                && self.tracked_notes()? != Some(tip)
            {
                self.fetch_notes().await?;
            }
            let ours = match remote_tip {
                Some(theirs) => Some(self.store().absorb_notes(theirs)?),
                None => self.store().notes_tip()?,
            };
            let Some(ours) = ours else { return Ok(false) };
            if Some(ours) == remote_tip {
                return Ok(false);
            }
            let update = Update { reference: NOTES_REF.to_string(), new: ours, old: remote_tip };
            match self.push(std::slice::from_ref(&update)).await {
                Ok(()) => {
                    let repo = self.store().repo()?;
                    let _ = repo.reference(&self.notes_tracking_ref(), ours, true, "kitty: pushed");
                    return Ok(true);
                }
                Err(crate::Error::Remote(RemoteError::Rejected { rejected, .. }))
                    if rejected.iter().all(|(_, why)| super::lost_a_race(why)) =>
                {
                    // Another machine pushed notes first: take theirs in and try again.
                    remote_tip = self.ls_remote(&[NOTES_REF.to_string()]).await?.get(NOTES_REF).copied();
                }
                Err(err) => return Err(err),
            }
        }
        Err(StateError::Conflict {
            reference: NOTES_REF.to_string(),
            why: format!(
                "gave up after {NOTE_ROUNDS} rounds of other machines pushing notes first to {}",
                self.remote()
            ),
        }
        .into())
    }

    async fn fetch_notes(&self) -> Result<(), crate::Error> {
        let args: Vec<String> = vec![
            "fetch".into(),
            "--quiet".into(),
            "--no-tags".into(),
            "--no-write-fetch-head".into(),
            "--".into(),
            self.remote_name().to_string(),
            format!("+{NOTES_REF}:{}", self.notes_tracking_ref()),
        ];
        let out = self.git(&args).await?;
        if !out.success() {
            return Err(RemoteError::Failed {
                remote: self.remote(),
                command: format!("git fetch {} {NOTES_REF}", self.remote()),
                why: out.why(),
            }
            .into());
        }
        Ok(())
    }
}
