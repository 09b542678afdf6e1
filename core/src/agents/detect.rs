//! Which configured agents can run here: each program looked up on PATH and asked its version,
//! `openai-api` checked for a key or a loopback endpoint, and how each would be confined.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use super::confinement::{AgentSandbox, agent_sandbox};
use super::profiles::builtin_profiles;
use super::spec::agent_specs;
use crate::command::Driver;
use crate::config::Config;

/// An agent and whether it can be used here.
#[derive(Debug, Clone, Serialize)]
pub struct DetectedAgent {
    /// Agent id.
    pub id: String,
    /// Built-in profile or custom.
    pub builtin: bool,
    /// Program looked for.
    pub program: String,
    /// Where it was found.
    pub path: Option<PathBuf>,
    /// First line of `--version`, when it answered.
    pub version: Option<String>,
    /// Enabled in configuration.
    pub enabled: bool,
    /// Version the built-in argv was checked against.
    pub checked_version: Option<String>,
    /// It can run here (installed; for `openai-api`: a key or a loopback endpoint).
    pub available: bool,
    /// Why it cannot run here, when it cannot.
    pub why_not: Option<String>,
    /// How it is confined here, and what it may write.
    pub sandbox: AgentSandbox,
    /// How it is driven, as configured (`cli` or `acp`).
    pub driver: Driver,
    /// For a built-in profile, each driver it has and its proof: the newest release it ran a
    /// feature end to end with, or why it cannot be proven here.
    pub proven: Vec<DriverProof>,
}

/// One driver of a built-in profile and how far it is proven.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DriverProof {
    /// The driver.
    pub driver: Driver,
    /// `--version` of the newest release proven end to end with it.
    pub version: Option<String>,
    /// Why it is not proven here, when it is not.
    pub not_proven: Option<String>,
}

/// The drivers of built-in profile `id` and their proofs (nothing for a custom agent).
pub fn proofs(id: &str) -> Vec<DriverProof> {
    let Some(profile) = builtin_profiles().into_iter().find(|p| p.id == id) else { return Vec::new() };
    let mut proofs = vec![DriverProof {
        driver: Driver::Cli,
        version: profile.checked_version.map(str::to_string),
        not_proven: profile.not_proven.map(str::to_string),
    }];
    if let Some(acp) = profile.acp {
        proofs.push(DriverProof {
            driver: Driver::Acp,
            version: acp.checked_version.map(str::to_string),
            not_proven: acp.not_proven.map(str::to_string),
        });
    }
    proofs
}

impl DetectedAgent {
    /// Available and enabled.
    pub fn usable(&self) -> bool {
        self.enabled && self.available
    }
}

/// Finds every configured agent on PATH and asks found ones for `--version` (10 s limit each,
/// all at once, with no shell).
pub async fn detect(config: &Config) -> Vec<DetectedAgent> {
    let mut probes = tokio::task::JoinSet::new();
    for (index, spec) in agent_specs(config).into_iter().enumerate() {
        let sandbox = agent_sandbox(config, &spec.id);
        probes.spawn(async move {
            let availability = spec.availability();
            let path = availability.clone().ok().flatten();
            let version = match (&path, &spec.implementation.api) {
                (Some(path), _) => version_of(path).await,
                (None, Some(api)) => Some(format!("{} at {}", api.model, api.base_url)),
                (None, None) => None,
            };
            let detected = DetectedAgent {
                id: spec.id.clone(),
                builtin: spec.builtin,
                program: spec.program().to_string(),
                path,
                version,
                enabled: spec.enabled,
                checked_version: spec.implementation.checked_version.clone(),
                available: availability.is_ok(),
                why_not: availability.err(),
                sandbox,
                driver: spec.implementation.driver,
                proven: if spec.builtin { proofs(&spec.id) } else { Vec::new() },
            };
            (index, detected)
        });
    }
    let mut found: Vec<(usize, DetectedAgent)> = probes.join_all().await;
    found.sort_by_key(|(index, _)| *index);
    found.into_iter().map(|(_, agent)| agent).collect()
}

async fn version_of(path: &Path) -> Option<String> {
    let child = tokio::process::Command::new(path)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(10), child).await.ok()?.ok()?;
    let text =
        String::from_utf8_lossy(if output.stdout.is_empty() { &output.stderr } else { &output.stdout }).into_owned();
    text.lines().map(str::trim).find(|l| !l.is_empty()).map(str::to_string)
}
