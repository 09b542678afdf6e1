//! Pushing refs with an explicit expected old value for every one: what the remote has is read
//! first (`git ls-remote`), every update must be a fast-forward of it (or a creation), and the
//! push itself carries that value as its lease (`--force-with-lease=<ref>:<old>`) and is atomic
//! where the server allows — so a remote that moves between the read and the push refuses the
//! whole push instead of losing a commit.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use git2::Oid;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::error::RemoteError;
use super::git::run_git;
use crate::redact::Redactor;

/// One ref to set on the remote.
#[derive(Debug, Clone)]
pub struct Update {
    /// The remote ref (`refs/heads/main`, `refs/kitty/wp/<feature>/WP01`).
    pub reference: String,
    /// The commit it must point to.
    pub new: Oid,
    /// What the remote has now (`None`: the ref does not exist there).
    pub old: Option<Oid>,
}

/// What happened to one ref.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PushStatus {
    /// The remote did not have it.
    Created,
    /// Moved forward.
    Updated,
    /// It already had this commit.
    UpToDate,
}

/// One ref of a push.
#[derive(Debug, Clone, Serialize)]
pub struct PushedRef {
    /// The ref.
    pub reference: String,
    /// The remote's value before.
    pub old: Option<String>,
    /// Its value now.
    pub new: String,
    /// What happened.
    pub status: PushStatus,
}

/// What a push did.
#[derive(Debug, Clone, Serialize)]
pub struct PushReport {
    /// The remote.
    pub remote: String,
    /// Every ref, in the order given.
    pub refs: Vec<PushedRef>,
}

/// The refs the remote has (`git ls-remote <remote>`), by name.
pub async fn remote_refs(
    repo: &Path,
    remote: &str,
    timeout: Duration,
    cancel: &CancellationToken,
    redactor: &Redactor,
) -> Result<HashMap<String, Oid>, RemoteError> {
    let args = vec!["ls-remote".to_string(), "--".to_string(), remote.to_string()];
    let out = run_git(repo, &args, timeout, cancel, redactor).await?;
    if !out.success() {
        let command = format!("git ls-remote {remote}");
        return Err(RemoteError::Failed { remote: redactor.apply(remote), command, why: out.why() });
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

/// Pushes `updates` (those not already up to date) in one atomic push with a lease per ref.
pub async fn push(
    repo: &Path,
    remote: &str,
    updates: &[Update],
    timeout: Duration,
    cancel: &CancellationToken,
    redactor: &Redactor,
) -> Result<PushReport, RemoteError> {
    let shown = redactor.apply(remote);
    let pending: Vec<&Update> = updates.iter().filter(|u| u.old != Some(u.new)).collect();
    if !pending.is_empty() {
        let mut args = vec!["push".to_string(), "--porcelain".to_string(), "--atomic".to_string()];
        for u in &pending {
            let old = u.old.map(|o| o.to_string()).unwrap_or_default();
            args.push(format!("--force-with-lease={}:{old}", u.reference));
        }
        args.push("--".to_string());
        args.push(remote.to_string());
        args.extend(pending.iter().map(|u| format!("{}:{}", u.new, u.reference)));
        let mut out = run_git(repo, &args, timeout, cancel, redactor).await?;
        if !out.success() && out.stderr.contains("does not support --atomic") {
            // Servers without atomic pushes: every ref still carries its lease.
            args.retain(|a| a != "--atomic");
            out = run_git(repo, &args, timeout, cancel, redactor).await?;
        }
        let rejected: Vec<(String, String)> = out
            .stdout
            .lines()
            .filter(|l| l.starts_with('!'))
            .filter_map(|l| {
                let mut fields = l.split('\t');
                let (_, spec, summary) = (fields.next()?, fields.next()?, fields.next().unwrap_or(""));
                Some((spec.rsplit(':').next()?.to_string(), summary.trim().to_string()))
            })
            .collect();
        // A hook that declined says why on stderr (`remote: …`): the server's own words go with it.
        let said: Vec<&str> = out
            .stderr
            .lines()
            .filter_map(|l| l.strip_prefix("remote: "))
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .take(5)
            .collect();
        let rejected: Vec<(String, String)> = rejected
            .into_iter()
            .map(|(r, why)| {
                if why.contains("hook declined") && !said.is_empty() {
                    let words: String = said.join("; ").chars().take(300).collect();
                    (r, format!("{why}: {words}"))
                } else {
                    (r, why)
                }
            })
            .collect();
        if !rejected.is_empty() {
            return Err(RemoteError::Rejected { remote: shown, rejected });
        }
        if !out.success() {
            return Err(RemoteError::Failed {
                remote: shown.clone(),
                command: format!("git push {shown}"),
                why: out.why(),
            });
        }
    }
    let refs = updates
        .iter()
        .map(|u| PushedRef {
            reference: u.reference.clone(),
            old: u.old.map(|o| o.to_string()),
            new: u.new.to_string(),
            status: match u.old {
                None => PushStatus::Created,
                Some(old) if old == u.new => PushStatus::UpToDate,
                Some(_) => PushStatus::Updated,
            },
        })
        .collect();
    Ok(PushReport { remote: shown, refs })
}
