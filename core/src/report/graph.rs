//! The dependency graph of a report, as pictures draw it: each WP's layer (the longest chain of
//! dependencies below it), and the colour class of a lane.

use std::collections::HashMap;

use super::model::FeatureReport;
use crate::lane::Lane;

/// How a lane is drawn: four colours, one meaning each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LaneClass {
    /// Review passed (or landed).
    Done,
    /// Not started.
    Planned,
    /// Being worked on or reviewed.
    Doing,
    /// Blocked or canceled: needs a person.
    Blocked,
}

impl LaneClass {
    /// The class of `lane`.
    pub fn of(lane: Lane) -> LaneClass {
        match lane {
            Lane::Done => LaneClass::Done,
            Lane::Planned => LaneClass::Planned,
            Lane::Doing | Lane::ForReview => LaneClass::Doing,
            Lane::Blocked | Lane::Canceled => LaneClass::Blocked,
        }
    }

    /// Its name (a CSS / Mermaid class).
    pub fn name(self) -> &'static str {
        match self {
            LaneClass::Done => "done",
            LaneClass::Planned => "planned",
            LaneClass::Doing => "doing",
            LaneClass::Blocked => "blocked",
        }
    }

    /// Fill and stroke colours.
    pub fn colours(self) -> (&'static str, &'static str) {
        match self {
            LaneClass::Done => ("#d3f0d8", "#2e8b57"),
            LaneClass::Planned => ("#eceff3", "#7a8594"),
            LaneClass::Doing => ("#fff1c2", "#c79100"),
            LaneClass::Blocked => ("#ffd6d6", "#c62828"),
        }
    }
}

/// Each WP's layer, in the report's order: 0 for a WP with no dependency, else one more than
/// its deepest dependency (the report lists WPs in dependency order, so one pass suffices;
/// a dependency outside the feature counts as layer 0).
pub fn layers(report: &FeatureReport) -> Vec<usize> {
    let mut by_id: HashMap<&str, usize> = HashMap::with_capacity(report.wps.len());
    let mut out = Vec::with_capacity(report.wps.len());
    for wp in &report.wps {
        let layer = wp.depends_on.iter().filter_map(|d| by_id.get(d.as_str())).map(|l| l + 1).max().unwrap_or(0);
        by_id.insert(wp.facts.id.as_str(), layer);
        out.push(layer);
    }
    out
}
