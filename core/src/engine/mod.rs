//! The orchestration engine (DESIGN.md §8): runs every WP of a feature that is not done through
//! implement → review → done, as many at once as allowed, each the moment its dependencies are
//! done — completions wake the scheduler, there is no polling loop.

mod commands;
mod confine;
mod ctx;
mod events;
mod merge;
mod merge_cleanup;
mod merge_mission;
mod merge_options;
mod merge_report;
mod merge_resolve;
mod merge_verify;
mod options;
mod orchestrator;
mod plan;
mod pr;
mod prompt;
mod push;
mod ref_guard;
mod remote_commands;
mod roster;
mod run;
mod shared_run;
mod summary;
mod wp;

pub use crate::error::EngineError;
pub use crate::forge::PrReport;
pub use events::{Event, EventSink, no_events};
pub use merge_cleanup::{Cleaned, landed_ref};
pub use merge_options::MergeOptions;
pub use merge_report::{MergeOutcome, MergeReport, PushError};
pub use options::{MAX_CONCURRENT, MAX_GRACE, MAX_RETRY_BASE, RunOptions, RunOptionsSpec, load_options};
pub use orchestrator::{FeatureStatus, Offline, Orchestrator};
pub use plan::{Plan, PlannedWp};
pub use pr::PrOptions;
pub use push::{NETWORK_TIMEOUT, PushOptions};
pub use remote_commands::{RemoteAbort, RemoteHost, RemoteStatus};
pub use summary::{CorruptState, RunOutcome, RunSummary, VerifyResult, WpSummary};
