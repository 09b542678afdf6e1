//! GitHub's REST API (`GITHUB_API_URL`, default `https://api.github.com`, so GitHub Enterprise
//! works) with a token (`GITHUB_TOKEN` or `GH_TOKEN`). The token goes in a header only; errors
//! carry the host's message, redacted.

use std::time::Duration;

use serde_json::{Value, json};

use super::error::ForgeError;
use super::host::{Proposal, PullRequest, PullRequestHost};
use super::repo_url::RepoId;
use crate::redact::Redactor;

/// Longest answer read from the API.
const MAX_ANSWER_BYTES: u64 = 8 * 1024 * 1024;

/// The GitHub REST API for one repository.
pub struct GitHubApi {
    api: String,
    token: String,
    repo: RepoId,
    agent: ureq::Agent,
    redactor: Redactor,
}

impl GitHubApi {
    /// A client for `repo` at `api` (no trailing slash needed) with `token`.
    pub fn new(api: &str, token: &str, repo: RepoId, redactor: &Redactor) -> GitHubApi {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(60)))
            .http_status_as_error(false)
            .user_agent(format!("kitty-orchestrator/{}", crate::VERSION))
            .build();
        GitHubApi {
            api: api.trim_end_matches('/').to_string(),
            token: token.to_string(),
            repo,
            agent: config.into(),
            redactor: redactor.clone().with_values([("GITHUB_TOKEN", token)]),
        }
    }

    fn fail(&self, action: &str, why: String) -> ForgeError {
        ForgeError::Failed {
            host: format!("GitHub API at {}", self.api),
            action: action.to_string(),
            repo: self.repo.slug(),
            why: self.redactor.apply(&why.chars().take(500).collect::<String>()),
        }
    }

    /// Sends a request; the JSON answer of a 2xx status, else the host's message as an error.
    fn call(&self, action: &str, method: &str, path: &str, body: Option<Value>) -> Result<Value, ForgeError> {
        let url = format!("{}/repos/{}/{}{path}", self.api, self.repo.owner, self.repo.name);
        let auth = format!("Bearer {}", self.token);
        let response = match (method, body) {
            ("GET", _) => self
                .agent
                .get(&url)
                .header("Authorization", &auth)
                .header("Accept", "application/vnd.github+json")
                .header("X-GitHub-Api-Version", "2022-11-28")
                .call(),
            (_, body) => {
                let request = if method == "POST" { self.agent.post(&url) } else { self.agent.patch(&url) };
                request
                    .header("Authorization", &auth)
                    .header("Accept", "application/vnd.github+json")
                    .header("X-GitHub-Api-Version", "2022-11-28")
                    .send_json(body.unwrap_or(Value::Null))
            }
        };
        let mut response = response.map_err(|e| self.fail(action, e.to_string()))?;
        let status = response.status().as_u16();
        // A pull-request answer is kilobytes; a host streaming without end is cut off.
        let text = match response.body_mut().with_config().limit(MAX_ANSWER_BYTES).read_to_string() {
            Ok(text) => text,
            Err(err) => return Err(self.fail(action, format!("its answer could not be read: {err}"))),
        };
        if !(200..300).contains(&status) {
            let message = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
                .unwrap_or(text);
            return Err(self.fail(action, format!("HTTP {status}: {message}")));
        }
        serde_json::from_str(&text).map_err(|e| self.fail(action, format!("an answer that is not JSON ({e})")))
    }

    fn pull(&self, action: &str, value: &Value) -> Result<PullRequest, ForgeError> {
        let number = value.get("number").and_then(Value::as_u64);
        let url = value.get("html_url").and_then(Value::as_str);
        match (number, url) {
            (Some(number), Some(url)) => Ok(PullRequest { number, url: url.to_string() }),
            _ => Err(self.fail(action, "an answer without a pull request number and html_url".into())),
        }
    }
}

impl PullRequestHost for GitHubApi {
    fn describe(&self) -> String {
        format!("GitHub API at {}", self.api)
    }

    fn find_open(&self, head: &str, base: &str) -> Result<Option<PullRequest>, ForgeError> {
        let action = "listing pull requests";
        let head = format!("{}:{head}", self.repo.owner);
        let query = format!("/pulls?state=open&head={}&base={}", encode(&head), encode(base));
        let list = self.call(action, "GET", &query, None)?;
        match list.as_array().and_then(|l| l.first()) {
            Some(first) => Ok(Some(self.pull(action, first)?)),
            None => Ok(None),
        }
    }

    fn create(&self, p: &Proposal) -> Result<PullRequest, ForgeError> {
        let action = "creating the pull request";
        let body = json!({"title": p.title, "head": p.head, "base": p.base, "body": p.body});
        let value = self.call(action, "POST", "/pulls", Some(body))?;
        self.pull(action, &value)
    }

    fn update(&self, number: u64, p: &Proposal) -> Result<PullRequest, ForgeError> {
        let action = "updating the pull request";
        let value =
            self.call(action, "PATCH", &format!("/pulls/{number}"), Some(json!({"title": p.title, "body": p.body})))?;
        self.pull(action, &value)
    }
}

/// Percent-encodes a query value.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
