//! Pull-request errors; each names the host, repository and what to do. Tokens never appear.

/// What stopped a pull request.
#[derive(Debug, thiserror::Error)]
pub enum ForgeError {
    /// No way to authenticate: no usable `gh`, no token.
    #[error("no GitHub credentials: `gh` is {gh}, and none of {} is set; run `gh auth login`, or export a token", looked.join(", "))]
    NoCredentials {
        /// The variables looked at.
        looked: Vec<String>,
        /// What was found of `gh`.
        gh: String,
    },
    /// The API address is plain http to another machine: a token would cross the network in
    /// the clear.
    #[error(
        "GITHUB_API_URL is `{url}`: a token is sent only over https (or plain http to this machine's loopback); use an https:// address"
    )]
    InsecureApi {
        /// The API address (redacted).
        url: String,
    },
    /// The remote's URL names no repository we can tell.
    #[error("remote `{remote}` ({url}) names no owner/repository; give it explicitly")]
    UnknownRepository {
        /// The remote.
        remote: String,
        /// Its URL (redacted).
        url: String,
    },
    /// Nothing to propose: the work landed on the base branch itself, or never landed.
    #[error("{feature}: {why}")]
    NothingToPropose {
        /// The feature.
        feature: String,
        /// Why.
        why: String,
    },
    /// The host refused or failed the request.
    #[error("{host}: {action} for {repo} failed: {why}")]
    Failed {
        /// The host (API URL, or `gh`).
        host: String,
        /// What was asked (`listing pull requests`, `creating the pull request`).
        action: String,
        /// `owner/repo`.
        repo: String,
        /// The host's answer (redacted, shortened).
        why: String,
    },
}

impl ForgeError {
    /// The stable code of this error's kind.
    pub fn code(&self) -> crate::ErrorCode {
        use crate::ErrorCode;
        match self {
            ForgeError::NoCredentials { .. } => ErrorCode::PrAuthMissing,
            ForgeError::NothingToPropose { .. } => ErrorCode::MergeNotReady,
            ForgeError::UnknownRepository { .. } | ForgeError::Failed { .. } | ForgeError::InsecureApi { .. } => {
                ErrorCode::PrFailed
            }
        }
    }
}
