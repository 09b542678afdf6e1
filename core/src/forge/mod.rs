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
            Ok(Box::new(GitHubApi::new(&api, token.trim(), repo, redactor)))
        }
        None => Err(ForgeError::NoCredentials {
            looked: TOKEN_VARIABLES.iter().map(|s| s.to_string()).collect(),
            gh: gh_state,
        }),
    }
}
