//! Keeping a mission's spec-kitty status log in step with our state: one WP after each of its
//! events, every WP when a run starts (which is also how a crash is repaired).

use std::collections::HashMap;
use std::path::Path;

use serde_json::{Map, Value as Json, json};

use super::error::SpecKittyError;
use super::log::{StatusLog, SyncReport};
use super::mirror::lines_for;
use super::mission::Mission;
use crate::feature::Feature;
use crate::ids::{FeatureSlug, WpId};
use crate::state::StateStore;

/// Writes our WP histories into a mission's spec-kitty status log.
#[derive(Debug, Clone)]
pub struct MissionMirror {
    mission: Mission,
    log: StatusLog,
    subtasks: HashMap<String, Vec<String>>,
}

impl MissionMirror {
    /// The mirror of `mission` (whose WPs are `feature`'s), committing in its coordination
    /// worktree. `common_dir` is the repository's common git directory.
    pub fn new(mission: &Mission, feature: &Feature, common_dir: &Path) -> MissionMirror {
        let mut identity = Map::new();
        identity.insert("mission_slug".into(), json!(mission.slug));
        let number = feature.meta.raw.get("mission_number").cloned().unwrap_or(Json::Null);
        identity.insert(
            "mission_number".into(),
            json!(match number {
                Json::Number(n) => n.to_string(),
                Json::String(s) => s,
                _ => String::new(),
            }),
        );
        identity.insert("mission_type".into(), json!(""));
        MissionMirror {
            log: StatusLog {
                dir: mission.status_dir(),
                slug: mission.slug.clone(),
                common_dir: common_dir.to_path_buf(),
                commit_in: Some((mission.coord_worktree(), mission.coord_branch.clone())),
                identity,
                generation: mission.spec_kitty.generation(),
            },
            mission: mission.clone(),
            subtasks: feature.work_packages.iter().map(|wp| (wp.id.to_string(), wp.subtasks.clone())).collect(),
        }
    }

    /// The same mirror, writing the coordination worktree's files without committing them
    /// (`mirror = "write"`).
    pub fn without_commit(mut self) -> MissionMirror {
        self.log.commit_in = None;
        self
    }

    /// The mission.
    pub fn mission(&self) -> &Mission {
        &self.mission
    }

    /// The status log written.
    pub fn log(&self) -> &StatusLog {
        &self.log
    }

    /// Appends what spec-kitty's log lacks of `wp`'s history.
    pub fn sync_wp(&self, store: &StateStore, feature: &FeatureSlug, wp: &WpId) -> Result<SyncReport, SpecKittyError> {
        self.sync_all(store, feature, std::slice::from_ref(wp))
    }

    /// [`MissionMirror::sync_wp`] for every WP at once (one write, one commit).
    pub fn sync_all(
        &self,
        store: &StateStore,
        feature: &FeatureSlug,
        wps: &[WpId],
    ) -> Result<SyncReport, SpecKittyError> {
        let mut lines = Vec::new();
        for wp in wps {
            if store.wp_state(feature, wp)?.is_none() {
                continue;
            }
            let history = store.history(feature, wp)?;
            let subtasks = self.subtasks.get(wp.as_str()).map_or(&[][..], Vec::as_slice);
            lines.extend(lines_for(&self.mission.identity(), wp.as_str(), subtasks, &history, false));
        }
        self.log.sync(&lines)
    }
}

/// Whichever mirror a feature has: a mission's coordination log, or an older feature's files.
#[derive(Debug, Clone)]
pub enum FeatureMirror {
    /// A 3.x coordination mission.
    Mission(MissionMirror),
    /// Any other layout, in the primary checkout.
    Files(super::files::FilesMirror),
}

impl FeatureMirror {
    /// Brings spec-kitty's files up to date with one WP.
    pub fn sync_wp(&self, store: &StateStore, feature: &FeatureSlug, wp: &WpId) -> Result<SyncReport, SpecKittyError> {
        match self {
            FeatureMirror::Mission(m) => m.sync_wp(store, feature, wp),
            FeatureMirror::Files(f) => f.sync_wp(store, feature, wp),
        }
    }

    /// … with every WP in `wps` (one write, one commit).
    pub fn sync_all(
        &self,
        store: &StateStore,
        feature: &FeatureSlug,
        wps: &[WpId],
    ) -> Result<SyncReport, SpecKittyError> {
        match self {
            FeatureMirror::Mission(m) => m.sync_all(store, feature, wps),
            FeatureMirror::Files(f) => f.sync(store, feature, wps),
        }
    }
}
