//! The pull-request host trait: GitHub today (through `gh` or its REST API); another host
//! (GitLab merge requests) is one more implementation.

use serde::Serialize;

use super::error::ForgeError;

/// What a pull request should say.
#[derive(Debug, Clone)]
pub struct Proposal {
    /// The branch with the work.
    pub head: String,
    /// The branch it goes into.
    pub base: String,
    /// The title.
    pub title: String,
    /// The body (markdown: the run report).
    pub body: String,
}

/// A pull request on the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PullRequest {
    /// Its number.
    pub number: u64,
    /// Its web address.
    pub url: String,
}

/// What `pr` did.
#[derive(Debug, Clone, Serialize)]
pub struct PrReport {
    /// The pull request.
    pub pull_request: PullRequest,
    /// Whether it was opened now (`false`: the open one was updated).
    pub created: bool,
    /// `owner/repo`.
    pub repository: String,
    /// Through what (`gh`, `GitHub API at …`).
    pub via: String,
    /// The branch with the work.
    pub head: String,
    /// The branch it goes into.
    pub base: String,
    /// The push before it.
    pub pushed: crate::remote::PushReport,
}

/// A host of pull requests for one repository.
pub trait PullRequestHost {
    /// What it is (`GitHub API at …`, `gh`), for messages.
    fn describe(&self) -> String;
    /// The open pull request from `head` into `base`, if there is one.
    fn find_open(&self, head: &str, base: &str) -> Result<Option<PullRequest>, ForgeError>;
    /// Opens a pull request.
    fn create(&self, proposal: &Proposal) -> Result<PullRequest, ForgeError>;
    /// Updates an open pull request's title and body.
    fn update(&self, number: u64, proposal: &Proposal) -> Result<PullRequest, ForgeError>;
}

/// Opens the pull request for `proposal`, or updates the open one from the same head into the
/// same base (never a duplicate). Returns it and whether it was created.
pub fn open_or_update(host: &dyn PullRequestHost, proposal: &Proposal) -> Result<(PullRequest, bool), ForgeError> {
    match host.find_open(&proposal.head, &proposal.base)? {
        Some(existing) => Ok((host.update(existing.number, proposal)?, false)),
        None => Ok((host.create(proposal)?, true)),
    }
}
