//! What the engine hands back: a run's summary (per WP and in total) and a merge's report. Plain
//! data, below everything that makes it, so the events, the run and the merge can all name it.

mod merge;
mod run;

pub use merge::{Cleaned, MergeOutcome, MergeReport, PushError};
pub use run::{RunOutcome, RunSummary, VerifyResult, WpSummary};
