//! The loaded feature: its metadata, its work packages and their dependency graph.

use std::path::PathBuf;

use serde::Serialize;
use serde_json::{Map, Value as Json};

use crate::graph::Graph;
use crate::ids::{FeatureSlug, WpId};
use crate::lane::Lane;

/// Where the initial lanes of a feature's WPs were read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// `tasks/WPxx-*.md` with `lane:` in each frontmatter.
    Flat,
    /// `tasks/<lane>/WPxx-*.md`: the directory is the lane.
    LaneDirectories,
    /// `status.events.jsonl` (+ `status.json`) hold the lanes.
    EventLog,
    /// A Kiro spec (`.kiro/specs/<name>/tasks.md`): checkboxes hold the lanes.
    Kiro,
    /// A markdown task list (a `PLAN.md`): checkboxes hold the lanes.
    TaskList,
}

/// Fields of `meta.json` the orchestrator uses; the whole file is kept in `raw`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FeatureMeta {
    /// The branch WPs without dependencies start from, when the feature names one.
    pub target_branch: Option<String>,
    /// A human name for the feature.
    pub friendly_name: Option<String>,
    /// The whole `meta.json` object (`null` when the file is absent).
    pub raw: Json,
}

/// One work package: a unit of work given to one agent in one worktree.
#[derive(Debug, Clone, Serialize)]
pub struct WorkPackage {
    /// `WPxx`, from `work_package_id` (agrees with the file name).
    pub id: WpId,
    /// `title:` from the frontmatter (the id when absent).
    pub title: String,
    /// WPs that must be done before this one starts (sorted, no duplicates).
    pub dependencies: Vec<WpId>,
    /// Subtask ids (`T001`, …) in file order.
    pub subtasks: Vec<String>,
    /// `phase:` when present.
    pub phase: Option<String>,
    /// The markdown after the frontmatter: the prompt the implementing agent receives.
    pub prompt: String,
    /// The WP file.
    pub source: PathBuf,
    /// The lane recorded in the feature files; the starting lane when imported into git state.
    pub initial_lane: Lane,
    /// Every other frontmatter key, as JSON-compatible data, in file order.
    pub extra: Map<String, Json>,
}

/// A loaded, validated feature: its WPs sorted by id, and their dependency graph.
#[derive(Debug, Clone, Serialize)]
pub struct Feature {
    /// The directory name, e.g. `020-autonomous-multi-agent-orchestrator`.
    pub slug: FeatureSlug,
    /// The feature directory as given.
    pub dir: PathBuf,
    /// Which spec-kitty layout the lanes came from.
    pub layout: Layout,
    /// `meta.json`, when present.
    pub meta: FeatureMeta,
    /// Work packages sorted by id.
    pub work_packages: Vec<WorkPackage>,
    #[serde(skip)]
    pub(super) graph: Graph,
}

impl Feature {
    /// The work package with this id.
    pub fn work_package(&self, id: &WpId) -> Option<&WorkPackage> {
        self.work_packages.binary_search_by(|wp| wp.id.cmp(id)).ok().map(|i| &self.work_packages[i])
    }

    /// The dependency graph (stable topological order, dependents, readiness).
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// WP ids in stable topological order (ties broken by id).
    pub fn topological_order(&self) -> Vec<WpId> {
        self.graph.topological_order()
    }

    /// The same feature with WPs also waiting on `extra` (`(wp, must_finish_first)` pairs) and
    /// starting in `lanes` where given (both from a workflow's own records, e.g. spec-kitty's
    /// execution lanes and status log). `Err` with the cycle when the added order contradicts
    /// the dependencies.
    pub fn with_order_and_lanes(
        mut self,
        extra: &[(WpId, WpId)],
        lanes: &std::collections::BTreeMap<WpId, Lane>,
    ) -> Result<Feature, Vec<WpId>> {
        for wp in &mut self.work_packages {
            for (id, first) in extra {
                if *id == wp.id && !wp.dependencies.contains(first) {
                    wp.dependencies.push(first.clone());
                }
            }
            wp.dependencies.sort();
            if let Some(lane) = lanes.get(&wp.id) {
                wp.initial_lane = *lane;
            }
        }
        let graph = Graph::new(self.work_packages.iter().map(|wp| (&wp.id, wp.dependencies.as_slice())));
        if let Some(cycle) = graph.cycles().into_iter().next() {
            return Err(cycle);
        }
        self.graph = graph;
        Ok(self)
    }
}
