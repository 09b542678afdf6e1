//! The dependency graph of a report, as pictures draw it: each WP's layer (the longest chain of
//! dependencies below it), and the colour class of a lane.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::model::FeatureReport;
use crate::feature::Feature;
use crate::lane::Lane;
use crate::state::WpState;

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

/// One WP of [`FeatureGraph`].
#[derive(Debug, Clone, Serialize)]
pub struct GraphNode {
    /// WP id.
    pub id: String,
    /// Its title (one clean line).
    pub title: String,
    /// Its lane.
    pub lane: Lane,
    /// How it is drawn: `done`, `doing`, `planned` or `blocked`.
    pub class: &'static str,
    /// Its dependency layer (0: depends on nothing in the feature).
    pub layer: usize,
}

/// One dependency: `to` depends on `from`.
#[derive(Debug, Clone, Serialize)]
pub struct GraphEdge {
    /// The dependency.
    pub from: String,
    /// The WP that depends on it.
    pub to: String,
}

/// How many WPs are in one lane.
#[derive(Debug, Clone, Serialize)]
pub struct LaneCount {
    /// The lane.
    pub lane: Lane,
    /// Its WPs.
    pub count: usize,
}

/// The feature as an editor draws it: nodes (in dependency order) with their lanes and layers,
/// edges, the count per lane, and the fingerprint of the refs it was read from (it changes
/// whenever any of them moves).
#[derive(Debug, Clone, Serialize)]
pub struct FeatureGraph {
    /// Feature slug.
    pub feature: String,
    /// Every WP.
    pub nodes: Vec<GraphNode>,
    /// Every dependency inside the feature.
    pub edges: Vec<GraphEdge>,
    /// WPs per lane, every lane in board order (zero included).
    pub lanes: Vec<LaneCount>,
    /// The refs' fingerprint.
    pub fingerprint: String,
}

impl FeatureGraph {
    /// The graph of `feature` with the WP states read from the refs.
    pub fn of(feature: &Feature, states: &BTreeMap<crate::ids::WpId, WpState>, fingerprint: String) -> FeatureGraph {
        let mut layer_of: HashMap<String, usize> = HashMap::new();
        let mut nodes = Vec::new();
        let mut edges = Vec::new();
        let mut lanes: Vec<LaneCount> = Lane::ALL.iter().map(|l| LaneCount { lane: *l, count: 0 }).collect();
        for id in feature.topological_order() {
            let Some(wp) = feature.work_package(&id) else { continue };
            let lane = states.get(&id).map_or(wp.initial_lane, |s| s.lane);
            let layer =
                wp.dependencies.iter().filter_map(|d| layer_of.get(d.as_str())).map(|l| l + 1).max().unwrap_or(0);
            layer_of.insert(id.to_string(), layer);
            for dep in wp.dependencies.iter().filter(|d| feature.work_package(d).is_some()) {
                edges.push(GraphEdge { from: dep.to_string(), to: id.to_string() });
            }
            if let Some(entry) = lanes.iter_mut().find(|c| c.lane == lane) {
                entry.count += 1;
            }
            nodes.push(GraphNode {
                id: id.to_string(),
                title: crate::display::one_line(&wp.title, '\u{fffd}'),
                lane,
                class: LaneClass::of(lane).name(),
                layer,
            });
        }
        FeatureGraph { feature: feature.slug.to_string(), nodes, edges, lanes, fingerprint }
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
