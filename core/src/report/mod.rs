//! Reports: what a feature's run and landing came to — outcome, per-WP agents, attempts, review
//! cycles, time, cost and commits, where it landed, the verification rounds and the conflicts
//! resolved — gathered from the state in git ([`build`]) and rendered as JSON (the types
//! serialize) or markdown ([`markdown`], also the pull request's body).

mod build;
mod markdown;
mod model;

pub use build::{build, clean_line};
pub use markdown::markdown;
pub use model::{FeatureReport, ReportCommit, ReportLanding, ReportOutcome, ReportWp};
