//! Mirroring into features that are not 3.x coordination missions, in the primary checkout,
//! the way the spec-kitty version of that layout did it:
//!
//! - **2.x flat** (`lane:` in each WP file): the WP file's frontmatter and Activity Log, plus
//!   lane events in the feature's `status.events.jsonl` / `status.json` (2.x wrote both; 3.x
//!   reads only the log), committed together as `chore: Move WPxx to <lane> on spec NNN [agent]`.
//! - **3.x single-branch** (a status log in the feature directory, frontmatter ignored): the log.
//! - **pre-0.9 lane directories** (`tasks/<lane>/`): the file moves to its new lane's directory
//!   with its frontmatter and Activity Log updated, written but not committed (0.8 staged it).
//!
//! Only those files are written or committed; a WP file with uncommitted changes of someone
//! else's is not committed over (the mirror of that WP waits, and says why).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use git2::Repository;
use serde_json::{Map, json};

use super::error::SpecKittyError;
use super::event::MissionIdentity;
use super::log::{StatusLog, SyncReport, check_worktree, commit_files};
use super::mirror::{ACTOR, lines_for};
use super::wp_file::{Move, apply_move, frontmatter_lane};
use crate::feature::Feature;
use crate::ids::{FeatureSlug, WpId};
use crate::lane::Lane;
use crate::state::{StateStore, WpEvent, WpState};

/// Writes our lanes into an older feature's own files.
#[derive(Debug, Clone)]
pub struct FilesMirror {
    feature_dir: PathBuf,
    repo_root: PathBuf,
    lane_dirs: bool,
    commit: bool,
    number: String,
    log: StatusLog,
    identity: MissionIdentity,
    subtasks: HashMap<String, Vec<String>>,
    file_names: HashMap<String, std::ffi::OsString>,
}

impl FilesMirror {
    /// The mirror of `feature` (in the primary checkout `repo_root`); `commit` commits what it
    /// writes.
    pub fn new(feature: &Feature, repo_root: &Path, common_dir: &Path, commit: bool) -> FilesMirror {
        let slug = feature.slug.to_string();
        let number: String = slug.chars().take_while(char::is_ascii_digit).collect();
        let meta = &feature.meta.raw;
        let mut identity_fields = Map::new();
        identity_fields.insert("mission_slug".into(), json!(slug));
        identity_fields.insert("mission_number".into(), json!(number.trim_start_matches('0').to_string()));
        identity_fields
            .insert("mission_type".into(), json!(meta.get("mission_type").and_then(|v| v.as_str()).unwrap_or("")));
        // Lane directories get the log too: 3.x reads lanes only from it (its
        // `orchestrator-api mission-state` then shows them), and 0.8's tools ignore it.
        let log = StatusLog {
            dir: feature.dir.clone(),
            slug: slug.clone(),
            common_dir: common_dir.to_path_buf(),
            commit_in: None,
            identity: identity_fields,
            generation: super::version::SpecKitty::detect(repo_root).generation(),
        };
        FilesMirror {
            feature_dir: feature.dir.clone(),
            repo_root: repo_root.to_path_buf(),
            lane_dirs: lane_directories(feature),
            commit,
            number,
            log,
            identity: MissionIdentity { slug, id: meta.get("mission_id").and_then(|v| v.as_str()).map(str::to_string) },
            subtasks: feature.work_packages.iter().map(|wp| (wp.id.to_string(), wp.subtasks.clone())).collect(),
            file_names: feature
                .work_packages
                .iter()
                .filter_map(|wp| Some((wp.id.to_string(), wp.source.file_name()?.to_os_string())))
                .collect(),
        }
    }

    /// Brings the WP's files up to date with its state and history.
    pub fn sync_wp(&self, store: &StateStore, feature: &FeatureSlug, wp: &WpId) -> Result<SyncReport, SpecKittyError> {
        self.sync(store, feature, std::slice::from_ref(wp))
    }

    /// [`FilesMirror::sync_wp`] for several WPs, in one commit.
    pub fn sync(&self, store: &StateStore, feature: &FeatureSlug, wps: &[WpId]) -> Result<SyncReport, SpecKittyError> {
        // One writer at a time, spec-kitty included: the same lock guards the WP files here.
        let log = &self.log;
        let _lock = log.lock()?;
        let branch = if self.commit { Some(self.checked_out_branch()?) } else { None };
        let mut touched: Vec<PathBuf> = Vec::new();
        let mut moved: Vec<String> = Vec::new();
        let mut lines = Vec::new();
        let mut report = SyncReport::default();
        // WPs spec-kitty itself has lane events for need no `genesis` line from us.
        let text = std::fs::read_to_string(log.events_path()).unwrap_or_default();
        let parsed = super::reduce::EventLog::parse(&text).map_err(|p| SpecKittyError::Log {
            path: log.events_path(),
            line: p.line,
            why: p.why,
        })?;
        let mut theirs: HashMap<String, Vec<String>> = HashMap::new();
        for t in &parsed.transitions {
            let (Some(wp), Some(id)) =
                (t.get("wp_id").and_then(|v| v.as_str()), t.get("event_id").and_then(|v| v.as_str()))
            else {
                continue;
            };
            theirs.entry(wp.to_string()).or_default().push(id.to_string());
        }
        for wp in wps {
            let Some(state) = store.wp_state(feature, wp)? else { continue };
            let history = store.history(feature, wp)?;
            let subtasks = self.subtasks.get(wp.as_str()).map_or(&[][..], Vec::as_slice);
            let mut ours = lines_for(&self.identity, wp.as_str(), subtasks, &history, true);
            let known: std::collections::HashSet<&str> = ours.iter().map(|l| l.id.as_str()).collect();
            let foreign = theirs.get(wp.as_str()).is_some_and(|ids| ids.iter().any(|id| !known.contains(id.as_str())));
            if foreign
                && ours.first().is_some_and(|l| l.json.get("from_lane").and_then(|v| v.as_str()) == Some("genesis"))
            {
                ours.remove(0);
            }
            lines.extend(ours);
            if let Some(paths) = self.move_file(wp, &state, self.commit)? {
                moved.push(format!("{wp} to {}", legacy_lane(state.lane).unwrap_or("?")));
                touched.extend(paths);
            }
        }
        let synced = log.sync_locked(&lines)?;
        report.appended = synced.appended;
        if synced.appended > 0 {
            touched.push(log.events_path());
            touched.push(log.snapshot_path());
        }
        if let (Some(branch), false) = (branch, touched.is_empty()) {
            let agent = wps
                .iter()
                .find_map(|wp| store.wp_state(feature, wp).ok().flatten().and_then(|s| s.agent))
                .unwrap_or_else(|| ACTOR.to_string());
            let subject = if moved.is_empty() {
                format!("chore: Record status of {} on spec {} [{agent}]", join_ids(wps), self.number)
            } else {
                format!("chore: Move {} on spec {} [{agent}]", moved.join(", "), self.number)
            };
            report.commit = Some(commit_files(&self.repo_root, &branch, &touched, &subject)?);
        }
        Ok(report)
    }

    fn checked_out_branch(&self) -> Result<String, SpecKittyError> {
        let repo = Repository::open(&self.repo_root)
            .map_err(SpecKittyError::git(format!("opening {}", self.repo_root.display())))?;
        let head = repo.head().map_err(SpecKittyError::git("reading HEAD"))?;
        let branch = head.shorthand().ok().map(str::to_string).filter(|_| head.is_branch()).ok_or_else(|| {
            SpecKittyError::Coord {
                path: self.repo_root.clone(),
                why: "HEAD is detached: check out a branch to commit spec-kitty's files on (or set mirror = \"write\")"
                    .into(),
            }
        })?;
        check_worktree(&self.repo_root, &branch)?;
        Ok(branch)
    }

    /// The WP file where it is now (lane directories move it).
    fn locate(&self, wp: &WpId) -> Option<PathBuf> {
        let name = self.file_names.get(wp.as_str())?;
        let tasks = self.feature_dir.join("tasks");
        let flat = tasks.join(name);
        if flat.is_file() {
            return Some(flat);
        }
        std::fs::read_dir(&tasks).ok()?.flatten().map(|e| e.path().join(name)).find(|p| p.is_file())
    }

    /// Writes the WP's lane into its file (moving it for lane directories). Returns the paths
    /// changed, `None` when the file already says so (or has no lane to keep).
    fn move_file(&self, wp: &WpId, state: &WpState, commit: bool) -> Result<Option<Vec<PathBuf>>, SpecKittyError> {
        let Some(lane) = legacy_lane(state.lane) else { return Ok(None) };
        let Some(path) = self.locate(wp) else { return Ok(None) };
        let text = std::fs::read_to_string(&path).map_err(SpecKittyError::io(&path))?;
        let in_dir = path.parent().and_then(|p| p.file_name()).and_then(|n| n.to_str()).filter(|n| *n != "tasks");
        let current = if self.lane_dirs { in_dir.map(str::to_string) } else { frontmatter_lane(&text) };
        // 3.x files carry no lane: the log is the record there.
        if current.is_none() || current.as_deref().and_then(Lane::from_alias) == Some(state.lane) {
            return Ok(None);
        }
        if commit && self.uncommitted(&path, &text)? {
            return Err(SpecKittyError::Coord {
                path: path.clone(),
                why: format!(
                    "{wp}'s file has uncommitted changes: its lane ({lane}) is not written until they are committed (or set mirror = \"write\")"
                ),
            });
        }
        let at = jiff::Timestamp::now().round(jiff::Unit::Second).map(|t| t.to_string()).unwrap_or_default();
        let agent = state.agent.clone().unwrap_or_else(|| ACTOR.to_string());
        let reviewer = match &state.last_event {
            WpEvent::Approved { reviewer } => Some(reviewer.clone()),
            _ => None,
        };
        let note = note_for(state);
        let m =
            Move { lane, agent: &agent, shell_pid: state.pid, reviewed_by: reviewer.as_deref(), at: &at, note: &note };
        let Some(updated) = apply_move(&text, &m) else { return Ok(None) };
        let target = if self.lane_dirs {
            self.feature_dir.join("tasks").join(lane).join(path.file_name().unwrap_or_default())
        } else {
            path.clone()
        };
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir).map_err(SpecKittyError::io(dir))?;
        }
        crate::atomic_file::write_atomically(&target, updated.as_bytes()).map_err(SpecKittyError::io(&target))?;
        let mut changed = vec![target.clone()];
        if target != path {
            std::fs::remove_file(&path).map_err(SpecKittyError::io(&path))?;
            changed.push(path);
        }
        Ok(Some(changed))
    }

    /// Whether the file differs from what HEAD has (someone's uncommitted edit).
    fn uncommitted(&self, path: &Path, text: &str) -> Result<bool, SpecKittyError> {
        let repo = Repository::open(&self.repo_root).map_err(SpecKittyError::git("opening the repository"))?;
        let root = self.repo_root.canonicalize().unwrap_or_else(|_| self.repo_root.clone());
        let abs = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        let Ok(rel) = abs.strip_prefix(&root) else { return Ok(false) };
        let committed = repo
            .head()
            .and_then(|h| h.peel_to_tree())
            .and_then(|t| t.get_path(rel))
            .and_then(|e| e.to_object(&repo))
            .ok()
            .and_then(|o| o.into_blob().ok())
            .map(|b| b.content().to_vec());
        Ok(committed.as_deref() != Some(text.as_bytes()))
    }
}

/// Whether the feature keeps its WP files in lane directories (`tasks/<lane>/`), whatever else it
/// has (a status log we wrote makes its layout read as the event log one).
pub fn lane_directories(feature: &Feature) -> bool {
    feature.work_packages.iter().any(|wp| wp.source.parent().and_then(|p| p.file_name()).is_some_and(|n| n != "tasks"))
}

fn join_ids(wps: &[WpId]) -> String {
    wps.iter().map(|w| w.as_str()).collect::<Vec<_>>().join(", ")
}

/// Our lane in the words of 2.x frontmatter and 0.8 lane directories; blocked and canceled
/// WPs keep the lane their file has (those versions had no such lanes).
fn legacy_lane(lane: Lane) -> Option<&'static str> {
    match lane {
        Lane::Planned => Some("planned"),
        Lane::Doing => Some("doing"),
        Lane::ForReview => Some("for_review"),
        Lane::Done => Some("done"),
        Lane::Blocked | Lane::Canceled => None,
    }
}

fn note_for(state: &WpState) -> String {
    match &state.last_event {
        WpEvent::Approved { reviewer } => format!("Review passed ({reviewer}, via kitty-orchestrator)"),
        WpEvent::Rejected { feedback, .. } => {
            let first = feedback.lines().find(|l| !l.trim().is_empty()).unwrap_or("changes requested");
            format!("Review requested changes: {}", first.chars().take(200).collect::<String>())
        }
        WpEvent::Submitted { .. } => "Ready for review (kitty-orchestrator)".into(),
        WpEvent::Retried => "Retry requested (kitty-orchestrator)".into(),
        WpEvent::Reopened { .. } => "Back to review: the branch moved after approval (kitty-orchestrator)".into(),
        _ => "Started implementation (kitty-orchestrator)".into(),
    }
}
