//! Pull requests: the landed branch proposed into the target, with the run report as its body.
//! GitHub first — through `gh` when it is installed and logged in, else its REST API with
//! `GITHUB_TOKEN`/`GH_TOKEN` (`GITHUB_API_URL` for GitHub Enterprise) — behind one trait
//! ([`PullRequestHost`]) that another host implements the same way. An open pull request for the
//! same branches is updated, never duplicated.

mod error;
mod gh_cli;
mod github_api;
mod host;
mod repo_url;

pub use error::ForgeError;
pub use gh_cli::GhCli;
pub use github_api::GitHubApi;
pub use host::{PrReport, Proposal, PullRequest, PullRequestHost, open_or_update};
pub use repo_url::{RepoId, parse as parse_repo_url};

/// The environment variables a token is looked for in, in order.
pub const TOKEN_VARIABLES: [&str; 2] = ["GITHUB_TOKEN", "GH_TOKEN"];

/// Whether a token may be sent to `api`: https anywhere, plain http only to loopback.
pub fn safe_for_a_token(api: &str) -> bool {
    let lower = api.trim().to_ascii_lowercase();
    if lower.starts_with("https://") {
        return true;
    }
    let Some(rest) = lower.strip_prefix("http://") else { return false };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    // Userinfo never decides the host (`http://127.0.0.1@evil.example` goes to evil.example).
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host_port.split(':').next().unwrap_or(""),
    };
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The host to use for `repo`: `gh` when it is on PATH and logged in, else the REST API with
/// a token from the environment; an error naming what was looked at otherwise.
pub fn github_host(repo: RepoId, redactor: &crate::redact::Redactor) -> Result<Box<dyn PullRequestHost>, ForgeError> {
    let gh = crate::agents::find_program("gh");
    let gh_state = match &gh {
        None => "not installed".to_string(),
        Some(path) => match GhCli::logged_in(path.clone(), repo.clone(), redactor) {
            Some(cli) => return Ok(Box::new(cli)),
            None => format!("installed ({}) but not logged in", path.display()),
        },
    };
    let token = TOKEN_VARIABLES.iter().find_map(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()));
    match token {
        Some(token) => {
            let api = std::env::var("GITHUB_API_URL").ok().filter(|v| !v.is_empty());
            let api = api.unwrap_or_else(|| "https://api.github.com".to_string());
            if !safe_for_a_token(&api) {
                return Err(ForgeError::InsecureApi { url: redactor.apply(&api) });
            }
            Ok(Box::new(GitHubApi::new(&api, token.trim(), repo, redactor)))
        }
        None => Err(ForgeError::NoCredentials {
            looked: TOKEN_VARIABLES.iter().map(|s| s.to_string()).collect(),
            gh: gh_state,
        }),
    }
}

#[cfg(test)]
mod token_tests {
    #[test]
    fn a_token_goes_over_https_or_to_loopback_only() {
        for ok in [
            "https://api.github.com",
            "https://ghe.example/api/v3",
            "http://127.0.0.1:8080",
            "http://localhost/x",
            "http://[::1]:9",
        ] {
            assert!(super::safe_for_a_token(ok), "{ok}");
        }
        for bad in [
            "http://api.github.com",
            "http://127.0.0.1@evil.example/",
            "http://10.0.0.1",
            "ftp://x",
            "api.github.com",
            "http://127.0.0.1.evil.example",
        ] {
            assert!(!super::safe_for_a_token(bad), "{bad}");
        }
    }
}
