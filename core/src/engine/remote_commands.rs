//! The commands of a shared feature that look at or write to its remote rather than this clone:
//! `status --remote` (the board as the remote has it, with each machine's heartbeat) and
//! `abort --remote` (every machine's run stops at its next look at the remote).

use std::collections::BTreeMap;
use std::time::Duration;

use super::orchestrator::{Orchestrator, redactor_for};
use crate::config::ConfigError;
use crate::ids::WpId;
use crate::state::{CorruptState, WpState};
use crate::sync::{SharedState, shared_run_glob, shared_run_ref, tracking_ref};

/// Network commands of these give up after this long.
const TIMEOUT: Duration = Duration::from_secs(30);

/// One machine's heartbeat as the remote has it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RemoteHost {
    /// The machine's `host_id`.
    pub host: String,
    /// When it was written (its committer time: that machine's clock).
    pub heartbeat_at: String,
    /// Seconds since then by this machine's clock (clocks may disagree: a hint, not a lease —
    /// runs judge leases by when *they* saw a heartbeat change).
    pub age_seconds: i64,
    /// The run that wrote it.
    pub run_id: Option<String>,
}

/// The board of a shared feature as its remote has it. Serializes (snake_case) as the CLI's
/// `status --remote --json`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RemoteStatus {
    /// The remote (name, or URL with credentials hidden).
    pub remote: String,
    /// The feature slug.
    pub feature: String,
    /// Every WP chain on the remote, by id.
    pub wps: BTreeMap<WpId, WpState>,
    /// Chains on the remote that could not be read, each with why.
    pub corrupt: Vec<CorruptState>,
    /// Machines with a heartbeat on the remote, by host id.
    pub hosts: Vec<RemoteHost>,
    /// The latest abort requested on the remote (`abort --remote`), if any.
    pub abort_requested: Option<String>,
}

impl RemoteStatus {
    /// The heartbeat of `host`, if it has one.
    pub fn host(&self, host: &str) -> Option<&RemoteHost> {
        self.hosts.iter().find(|h| h.host == host)
    }
}

/// What `abort --remote` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RemoteAbort {
    /// The remote written to.
    pub remote: String,
    /// The request's commit on `refs/kitty/shared-run/<feature>/requests`.
    pub request: String,
    /// Whether a run of the feature on this machine was signalled too.
    pub local_run: bool,
}

impl Orchestrator {
    fn shared_state(&self, remote: Option<&str>) -> Result<SharedState, crate::Error> {
        let Some(remote) = remote.map(str::to_string).or_else(|| self.config.sync_remote.clone()) else {
            return Err(ConfigError {
                path: "<options>".into(),
                key: Some("sync_remote".into()),
                line: None,
                message: "no remote to look at: pass --remote NAME or set sync_remote".into(),
            }
            .into());
        };
        if remote.is_empty() || remote.starts_with('-') || remote.chars().any(char::is_control) {
            return Err(ConfigError {
                path: "<options>".into(),
                key: Some("remote".into()),
                line: None,
                message: format!("`{remote}` is not a remote name or URL"),
            }
            .into());
        }
        let redactor = std::sync::Arc::new(redactor_for(&self.config));
        Ok(SharedState::new(self.store.clone(), &self.repo_root, &remote, redactor).with_timeout(TIMEOUT))
    }

    /// The board of `feature` as `remote` (default `sync_remote`) has it: its chains fetched
    /// into `refs/kitty-remote/<remote>/`, read there, with every machine's heartbeat.
    pub async fn status_remote(&self, feature: &str, remote: Option<&str>) -> Result<RemoteStatus, crate::Error> {
        let slug = self.slug(feature)?;
        let shared = self.shared_state(remote)?;
        let wp_glob = format!("refs/kitty/wp/{slug}/*");
        let hosts_glob = format!("refs/kitty/hosts/{slug}/*");
        let tips = shared.fetch(&[wp_glob, hosts_glob, shared_run_glob(&slug)]).await?;
        let under = tracking_ref(shared.tracking_key(), &format!("refs/kitty/wp/{slug}/"));
        let board = self.store.board_under(&slug, &under)?;
        let repo = self.store.repo()?;
        let now = jiff::Timestamp::now();
        let prefix = format!("refs/kitty/hosts/{slug}/");
        let mut hosts = Vec::new();
        for (reference, oid) in &tips {
            let Some(host) = reference.strip_prefix(&prefix) else { continue };
            let Ok(commit) = repo.find_commit(*oid) else { continue };
            let seconds = commit.committer().when().seconds();
            let at = jiff::Timestamp::from_second(seconds).unwrap_or(now);
            let run_id = commit
                .message()
                .ok()
                .and_then(|m| m.lines().find_map(|l| l.strip_prefix("Kitty-Run: ")).map(|r| r.trim().to_string()));
            hosts.push(RemoteHost {
                host: host.to_string(),
                heartbeat_at: at.to_string(),
                age_seconds: now.as_second() - seconds,
                run_id,
            });
        }
        let abort_requested = tips.get(&shared_run_ref(&slug)).map(|tip| shared.request_summary(*tip));
        Ok(RemoteStatus {
            remote: shared.remote(),
            feature: slug.to_string(),
            wps: board.states,
            corrupt: board.corrupt,
            hosts,
            abort_requested,
        })
    }

    /// Asks every machine's run of `feature` sharing `remote` (default `sync_remote`) to abort:
    /// recorded on the remote's shared run chain, acted on at each machine's next look at the
    /// remote. A run of it on this machine is aborted at once as well.
    pub async fn abort_remote(&self, feature: &str, remote: Option<&str>) -> Result<RemoteAbort, crate::Error> {
        let slug = self.slug(feature)?;
        let shared = self.shared_state(remote)?;
        let host = self.host_id();
        let reason = format!("requested with `kitty-orchestrator abort --remote` on {host}");
        let request = shared.request_abort(&slug, &host, &reason).await?;
        let (me, name) = (self.clone(), slug.to_string());
        let local_run = super::blocking::off_thread(move || me.abort(&name)).await??;
        Ok(RemoteAbort { remote: shared.remote(), request: request.to_string(), local_run })
    }
}
