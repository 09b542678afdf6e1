//! Reports: what a feature's run and landing came to — outcome, per-WP agents, attempts, review
//! cycles, time, cost, agent runs and commits, where it landed, the verification rounds and the
//! conflicts resolved — gathered from the state in git ([`build`]) and rendered as JSON (the
//! types serialize), markdown ([`markdown`], also the pull request's body, with the dependency
//! graph as a Mermaid flowchart: [`mermaid`]) or one self-contained HTML page ([`html`]).

mod build;
mod graph;
mod html;
mod markdown;
mod mermaid;
mod model;

pub use build::{build, clean_line};
pub use graph::{FeatureGraph, GraphEdge, GraphNode, LaneClass, LaneCount, layers};
pub use html::{esc, html, live_html};
pub use markdown::markdown;
pub use mermaid::{MAX_NODES, mermaid};
pub use model::{FeatureReport, ReportAttempt, ReportCommit, ReportLanding, ReportOutcome, ReportWp};
