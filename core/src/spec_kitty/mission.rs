//! A spec-kitty 3.x / 4.0 mission in the coordination topology: `meta.json` names a coordination
//! branch, `lanes.json` (written by `finalize-tasks`) groups the WPs into execution lanes, and the
//! lane authority is the status log in the coordination worktree `.worktrees/<slug>-coord`.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value as Json;

use super::error::SpecKittyError;
use super::event::MissionIdentity;
use super::version::SpecKitty;
use crate::feature::Feature;
use crate::ids::WpId;

/// One execution lane of `lanes.json`: its WPs share one worktree and branch, in this order.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ExecutionLane {
    /// `lane-a`, …
    pub lane_id: String,
    /// Its WPs, in execution order.
    pub wp_ids: Vec<String>,
    /// Lanes whose work this lane starts from.
    #[serde(default)]
    pub depends_on_lanes: Vec<String>,
    /// Lanes of one group may run in parallel; dependency lanes merge in (group, id) order.
    #[serde(default)]
    pub parallel_group: i64,
}

#[derive(Debug, Deserialize)]
struct LanesFile {
    mission_branch: Option<String>,
    target_branch: Option<String>,
    planning_commit_sha: Option<String>,
    lanes: Vec<ExecutionLane>,
}

/// A mission spec-kitty runs with execution lanes and a coordination branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mission {
    /// The mission slug (the feature directory's name).
    pub slug: String,
    /// `mission_id` from `meta.json`.
    pub mission_id: Option<String>,
    /// The primary checkout (the main worktree of the repository).
    pub repo_root: PathBuf,
    /// The coordination branch, `kitty/mission-<slug>`.
    pub coord_branch: String,
    /// Where spec-kitty lands the mission.
    pub target_branch: String,
    /// The planning commit every lane merges (`planning_commit_sha`).
    pub planning_commit: Option<String>,
    /// The execution lanes.
    pub lanes: Vec<ExecutionLane>,
    /// The spec-kitty this project runs with (whose rules its status log follows).
    pub spec_kitty: SpecKitty,
}

impl Mission {
    /// The mission `feature` belongs to, when it is a spec-kitty 3.x coordination mission (its
    /// `meta.json` names a `coordination_branch` or a coord topology). `repo_root` is the primary
    /// checkout. `Ok(None)` for every other feature.
    ///
    /// A coordination mission without `lanes.json` has not been finalized: that is an error
    /// saying to run `spec-kitty agent mission finalize-tasks`.
    pub fn detect(feature: &Feature, repo_root: &Path) -> Result<Option<Mission>, SpecKittyError> {
        let meta = &feature.meta.raw;
        let topology = meta.get("topology").and_then(Json::as_str).unwrap_or("");
        let coord_branch = meta.get("coordination_branch").and_then(Json::as_str).map(str::to_string);
        let coordinated = coord_branch.is_some() || matches!(topology, "coord" | "lanes_with_coord");
        if !coordinated {
            return Ok(None);
        }
        let slug = feature.slug.to_string();
        let lanes_path = feature.dir.join("lanes.json");
        let text = match std::fs::read_to_string(&lanes_path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(SpecKittyError::Mission {
                    path: lanes_path,
                    why: "the mission has a coordination branch but no lanes.json: run `spec-kitty agent mission finalize-tasks` first".into(),
                });
            }
            Err(e) => return Err(SpecKittyError::Io { path: lanes_path, source: e }),
        };
        let lanes: LanesFile = serde_json::from_str(&text).map_err(|e| SpecKittyError::Mission {
            path: lanes_path.clone(),
            why: format!("invalid lanes.json: {e}"),
        })?;
        for lane in &lanes.lanes {
            let safe = !lane.lane_id.is_empty()
                && lane.lane_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !safe {
                return Err(SpecKittyError::Mission {
                    path: lanes_path,
                    why: format!("lane id {:?} is not a safe name (letters, digits, - and _)", lane.lane_id),
                });
            }
            for wp in &lane.wp_ids {
                if feature.work_packages.iter().all(|w| w.id.as_str() != wp) {
                    return Err(SpecKittyError::Mission {
                        path: lanes_path,
                        why: format!("{} names {wp}, which has no WP file", lane.lane_id),
                    });
                }
            }
        }
        for wp in &feature.work_packages {
            let count = lanes.lanes.iter().filter(|l| l.wp_ids.iter().any(|w| w == wp.id.as_str())).count();
            if count != 1 {
                return Err(SpecKittyError::Mission {
                    path: lanes_path,
                    why: format!(
                        "{} is in {count} lanes (expected exactly one); run `spec-kitty agent mission finalize-tasks` again",
                        wp.id
                    ),
                });
            }
        }
        let coord_branch = coord_branch.or(lanes.mission_branch).unwrap_or_else(|| format!("kitty/mission-{slug}"));
        let target_branch =
            lanes.target_branch.or_else(|| feature.meta.target_branch.clone()).unwrap_or_else(|| "main".to_string());
        Ok(Some(Mission {
            mission_id: meta.get("mission_id").and_then(Json::as_str).map(str::to_string),
            slug,
            repo_root: repo_root.to_path_buf(),
            coord_branch,
            target_branch,
            planning_commit: lanes.planning_commit_sha,
            lanes: lanes.lanes,
            spec_kitty: SpecKitty::detect(repo_root),
        }))
    }

    /// Slug and id, as every event line carries them.
    pub fn identity(&self) -> MissionIdentity {
        MissionIdentity { slug: self.slug.clone(), id: self.mission_id.clone() }
    }

    /// The coordination worktree, `<repo>/.worktrees/<slug>-coord`.
    pub fn coord_worktree(&self) -> PathBuf {
        self.repo_root.join(".worktrees").join(format!("{}-coord", self.slug))
    }

    /// The lane a WP runs in.
    pub fn lane_of(&self, wp: &str) -> Option<&ExecutionLane> {
        self.lanes.iter().find(|l| l.wp_ids.iter().any(|w| w == wp))
    }

    /// A lane by id.
    pub fn lane(&self, id: &str) -> Option<&ExecutionLane> {
        self.lanes.iter().find(|l| l.lane_id == id)
    }

    /// `<slug>-<lane>`: the lane worktree's directory (and git worktree) name.
    pub fn lane_worktree_name(&self, lane: &ExecutionLane) -> String {
        format!("{}-{}", self.slug, lane.lane_id)
    }

    /// `<repo>/.worktrees/<slug>-<lane>`.
    pub fn lane_worktree(&self, lane: &ExecutionLane) -> PathBuf {
        self.repo_root.join(".worktrees").join(self.lane_worktree_name(lane))
    }

    /// `kitty/mission-<slug>-<lane>`.
    pub fn lane_branch(&self, lane: &ExecutionLane) -> String {
        format!("kitty/mission-{}-{}", self.slug, lane.lane_id)
    }

    /// The lanes `lane` depends on, in the order spec-kitty merges them: by
    /// `(parallel_group, lane_id)`.
    pub fn dependency_lanes(&self, lane: &ExecutionLane) -> Vec<&ExecutionLane> {
        let mut deps: Vec<&ExecutionLane> = lane.depends_on_lanes.iter().filter_map(|id| self.lane(id)).collect();
        deps.sort_by(|a, b| (a.parallel_group, &a.lane_id).cmp(&(b.parallel_group, &b.lane_id)));
        deps
    }

    /// The WP that runs before `wp` in its lane, if any.
    pub fn previous_in_lane(&self, wp: &str) -> Option<&str> {
        let lane = self.lane_of(wp)?;
        let at = lane.wp_ids.iter().position(|w| w == wp)?;
        at.checked_sub(1).map(|i| lane.wp_ids[i].as_str())
    }

    /// Where the lane authority lives: the coordination worktree's copy of the feature
    /// directory.
    pub fn status_dir(&self) -> PathBuf {
        self.coord_worktree().join("kitty-specs").join(&self.slug)
    }
}

impl Mission {
    /// `feature` as the mission runs it: each WP after the one before it in its lane (they share
    /// one worktree), and starting in the lane spec-kitty's status log has it in (so what its own
    /// tools already approved is not redone).
    pub fn apply_to(&self, feature: Feature) -> Result<Feature, SpecKittyError> {
        let mut order = Vec::new();
        for lane in &self.lanes {
            for pair in lane.wp_ids.windows(2) {
                if let (Ok(first), Ok(then)) = (WpId::parse(&pair[0]), WpId::parse(&pair[1])) {
                    order.push((then, first));
                }
            }
        }
        let mut lanes = std::collections::BTreeMap::new();
        let events = self.status_dir().join("status.events.jsonl");
        if let Ok(text) = std::fs::read_to_string(&events) {
            let log = super::reduce::EventLog::parse(&text).map_err(|p| SpecKittyError::Log {
                path: events.clone(),
                line: p.line,
                why: p.why,
            })?;
            for (wp, state) in super::reduce::reduce(&log, self.spec_kitty.generation()).work_packages {
                let lane = state.get("lane").and_then(Json::as_str).and_then(crate::lane::Lane::from_alias);
                if let (Ok(id), Some(lane)) = (WpId::parse(&wp), lane) {
                    lanes.insert(id, lane);
                }
            }
        }
        let dir = feature.dir.join("lanes.json");
        feature.with_order_and_lanes(&order, &lanes).map_err(|cycle| SpecKittyError::Mission {
            path: dir,
            why: format!(
                "the lane order contradicts the dependencies: {}",
                cycle.iter().map(|w| w.as_str()).collect::<Vec<_>>().join(" -> ")
            ),
        })
    }
}
