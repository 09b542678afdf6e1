//! What every view of a WP says about it — the run summary and the feature report alike: one
//! type, built in one place from the WP's definition and its state.

use serde::Serialize;

use super::model::WpState;
use crate::feature::WorkPackage;
use crate::lane::Lane;

/// The facts of one WP that the run summary ([`crate::engine::WpSummary`]) and the feature
/// report ([`crate::report::ReportWp`]) both carry (flattened into each: the JSON keys sit
/// beside the view's own).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WpFacts {
    /// WP id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Lane now.
    pub lane: Lane,
    /// Agents that worked on it, in first-use order.
    pub agents: Vec<String>,
    /// Agent attempts (all roles, all runs).
    pub attempts: u32,
    /// Review rejections.
    pub review_cycles: u32,
    /// Agent wall time, ms.
    pub agent_ms: u64,
    /// Reported cost, USD.
    pub cost_usd: f64,
    /// Why it is blocked or canceled, when it is.
    pub reason: Option<String>,
}

impl WpFacts {
    /// The facts of `wp` given its state (`None`: never started; its files' lane).
    pub fn of(wp: &WorkPackage, state: Option<&WpState>) -> WpFacts {
        WpFacts {
            id: wp.id.to_string(),
            title: wp.title.clone(),
            lane: state.map_or(wp.initial_lane, |s| s.lane),
            agents: state.map(|s| s.agents_used.clone()).unwrap_or_default(),
            attempts: state.map_or(0, |s| s.attempts_total),
            review_cycles: state.map_or(0, |s| s.review_cycle),
            agent_ms: state.map_or(0, |s| s.agent_ms),
            cost_usd: state.map_or(0.0, |s| s.cost_usd),
            reason: state.filter(|s| matches!(s.lane, Lane::Blocked | Lane::Canceled)).and_then(|s| s.reason.clone()),
        }
    }
}
