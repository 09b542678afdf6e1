//! `workspaces list`: each workspace's origin, branch, features and their progress from the refs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::error::WorkspaceError;
use super::name::mask;

/// One workspace as `workspaces list` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Workspace {
    /// Its name (its directory's).
    pub name: String,
    /// Its directory.
    pub path: PathBuf,
    /// Its `origin` URL (credentials masked).
    pub origin: Option<String>,
    /// The branch checked out (`None`: detached).
    pub branch: Option<String>,
    /// Its features: those in its files and those with state in its refs, by name.
    pub features: Vec<WorkspaceFeature>,
    /// Why it could not be read fully (an invalid configuration), when so.
    pub problem: Option<String>,
}

/// A feature of a workspace with its progress.
#[derive(Debug, Clone, serde::Serialize)]
pub struct WorkspaceFeature {
    /// The feature's slug.
    pub feature: String,
    /// Its files, relative to the workspace (`None`: only in the refs).
    pub source: Option<String>,
    /// How many WPs it has (from its files, else from the refs).
    pub wps: usize,
    /// How many are done.
    pub done: usize,
    /// WPs per lane, from the refs (WPs with no state yet are not counted).
    pub lanes: BTreeMap<String, usize>,
    /// The last run's status (`running`, `completed`, …), when it ran.
    pub run: Option<String>,
    /// Why its files could not be read, when so.
    pub problem: Option<String>,
}

/// Every workspace in `dir`: its subdirectories that `run --clone` made (marked in their git
/// directory) or that hold our state (`.git/kitty/`) — never just any repository that sits
/// there —, hidden ones (a clone in progress) skipped, sorted by name. A missing directory has
/// none.
pub fn list_workspaces(dir: &Path) -> Result<Vec<Workspace>, WorkspaceError> {
    let dir = &std::path::absolute(dir).map_err(WorkspaceError::io(dir))?;
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(WorkspaceError::Io { path: dir.to_path_buf(), source: err }),
    };
    let mut names: Vec<String> = entries
        .flatten()
        .filter(|e| {
            let git = e.path().join(".git");
            git.join(super::clone::MARKER).is_file() || git.join("kitty").is_dir()
        })
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    names.iter().map(|name| describe_workspace(&dir.join(name))).collect()
}

/// One workspace: origin, branch, features and progress.
pub fn describe_workspace(path: &Path) -> Result<Workspace, WorkspaceError> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let repo = git2::Repository::open(path).map_err(WorkspaceError::git(path, "opening the workspace"))?;
    let origin = repo.find_remote("origin").ok().and_then(|r| r.url().ok().map(mask));
    drop(repo);
    let branch = super::clone::current_branch(path);
    let problem = crate::Config::load(path).err().map(|e| e.to_string());
    let store = match crate::state::StateStore::open(path) {
        Ok(store) => store,
        Err(err) => {
            let problem = Some(err.to_string());
            return Ok(Workspace { name, path: path.to_path_buf(), origin, branch, features: Vec::new(), problem });
        }
    };
    let mut features = Vec::new();
    let mut seen = BTreeSet::new();
    for source in feature_sources(path) {
        let rel = source.strip_prefix(path).unwrap_or(&source).display().to_string();
        let (slug, wps, problem) = match crate::load_feature(&source) {
            Ok(f) => (f.slug.to_string(), f.work_packages.len(), None),
            Err(err) => {
                let stem = source.file_stem().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                (stem, 0, Some(err.to_string()))
            }
        };
        if seen.insert(slug.clone()) {
            features.push(progress(&store, slug, Some(rel), wps, problem));
        }
    }
    for slug in store.features().unwrap_or_default() {
        if seen.insert(slug.to_string()) {
            features.push(progress(&store, slug.to_string(), None, 0, None));
        }
    }
    Ok(Workspace { name, path: path.to_path_buf(), origin, branch, features, problem })
}

/// The feature directories of a checkout: `kitty-specs/*/` and `.kiro/specs/*/`, sorted. Markdown
/// task lists are found through their state (any `.md` file could be one).
fn feature_sources(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for specs in [root.join("kitty-specs"), root.join(".kiro").join("specs")] {
        let Ok(entries) = std::fs::read_dir(&specs) else { continue };
        let mut dirs: Vec<PathBuf> = entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
        dirs.sort();
        found.extend(dirs);
    }
    found
}

fn progress(
    store: &crate::state::StateStore,
    feature: String,
    source: Option<String>,
    wps: usize,
    problem: Option<String>,
) -> WorkspaceFeature {
    let mut lanes: BTreeMap<String, usize> = BTreeMap::new();
    let mut run = None;
    if let Ok(slug) = crate::ids::FeatureSlug::parse(&feature) {
        if let Ok(board) = store.board(&slug) {
            for state in board.states.values() {
                *lanes.entry(state.lane.to_string()).or_default() += 1;
            }
        }
        run = store
            .run_state(&slug)
            .ok()
            .flatten()
            .and_then(|r| serde_json::to_value(r.status).ok())
            .and_then(|v| v.as_str().map(str::to_string));
    }
    let done = lanes.get("done").copied().unwrap_or(0);
    let known: usize = lanes.values().sum();
    WorkspaceFeature { feature, source, wps: wps.max(known), done, lanes, run, problem }
}
