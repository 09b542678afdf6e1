//! The orchestration engine (DESIGN.md §8): runs every WP of a feature that is not done through
//! implement → review → done, as many at once as allowed, each the moment its dependencies are
//! done — completions wake the scheduler. One thing is polled: the abort file another process
//! (`kitty-orchestrator abort`, a binding's `abort`) writes to stop this run is looked for every
//! 200 ms — a stat per tick, simpler and as portable as a file watch, and the only way in for a
//! process that is not ours.

mod activity;
mod attempt_temps;
mod blocking;
mod commands;
mod confine;
mod ctx;
mod events;
mod merge;
mod options;
mod orchestrator;
mod plan;
mod pr;
mod prompt;
mod push;
mod ref_guard;
mod remote_commands;
mod reports;
mod roster;
mod run;
mod schedule;
mod shared_run;
mod wp;

pub use events::{Event, EventSink, no_events};
pub use merge::{MergeOptions, OriginCheck, landed_ref};
pub use options::{MAX_CONCURRENT, MAX_GRACE, MAX_RETRY_BASE, RunOptions, RunOptionsSpec, load_options};
pub use orchestrator::{FeatureStatus, Offline, Orchestrator};
pub use plan::{Plan, PlannedWp};
pub use pr::PrOptions;
pub use push::PushOptions;
pub use remote_commands::{RemoteAbort, RemoteHost, RemoteStatus};
pub use reports::{Cleaned, MergeOutcome, MergeReport, PushError, RunOutcome, RunSummary, VerifyResult, WpSummary};
