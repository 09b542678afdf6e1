//! The crate's error type. Every variant maps to one stable [`ErrorCode`] ([`Error::code`]) that
//! the CLI, Python (`KittyError.code`) and Node (`err.code`) all report identically.

mod engine;

use std::path::PathBuf;

use crate::error_code::ErrorCode;
pub use engine::EngineError;

use crate::config::ConfigError;
use crate::feature::FeatureError;

/// Any error kitty-orchestrator reports.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The feature directory has problems (all of them are listed).
    #[error(transparent)]
    Feature(#[from] FeatureError),
    /// `.kittify/orchestrator.toml` is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Reading or writing the state in git failed.
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    /// Preparing or cleaning a WP worktree failed.
    #[error(transparent)]
    Worktree(#[from] crate::worktree::WorktreeError),
    /// Done WPs could not land.
    #[error(transparent)]
    Land(Box<crate::land::LandError>),
    /// A remote refused a push or could not be reached.
    #[error(transparent)]
    Remote(#[from] crate::remote::RemoteError),
    /// A pull request could not be opened or updated.
    #[error(transparent)]
    Forge(#[from] crate::forge::ForgeError),
    /// A spec-kitty mission's files could not be read or its status log written.
    #[error(transparent)]
    SpecKitty(#[from] crate::spec_kitty::SpecKittyError),
    /// A workspace could not be cloned, listed or removed.
    #[error(transparent)]
    Workspace(#[from] crate::workspace::WorkspaceError),
    /// A run could not start (no agents, unknown agent, feature not found).
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// A file or directory outside the feature could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file at fault.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl From<crate::land::LandError> for Error {
    fn from(err: crate::land::LandError) -> Error {
        Error::Land(Box::new(err))
    }
}

impl Error {
    /// The stable code of this error's kind.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Feature(_) => ErrorCode::FeatureInvalid,
            Error::Config(_) => ErrorCode::ConfigInvalid,
            Error::Io { .. } => ErrorCode::Io,
            Error::State(err) => err.code(),
            Error::Worktree(err) => err.code(),
            Error::Engine(err) => err.code(),
            Error::Land(err) => err.code(),
            Error::Remote(err) => err.code(),
            Error::Forge(err) => err.code(),
            Error::SpecKitty(err) => err.code(),
            Error::Workspace(err) => err.code(),
        }
    }
}

/// Shorthand for results with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
