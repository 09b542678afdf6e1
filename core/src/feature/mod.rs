//! A spec-kitty feature directory (`kitty-specs/<NNN-slug>/`) loaded into typed work packages.
//!
//! Three real layouts are read (DESIGN.md §3): flat `tasks/WPxx-*.md` with `lane:` in the
//! frontmatter; legacy `tasks/<lane>/WPxx-*.md` where the directory is the lane; and the newer
//! one where lanes live in `status.events.jsonl` / `status.json`. Every problem in the feature is
//! collected and reported together, each naming its file and line.

mod frontmatter;
mod problem;
mod status;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Map, Value as Json};
use serde_yaml_ng::Value as Yaml;

pub use problem::{FeatureError, Problem, ProblemKind};

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
    graph: Graph,
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
}

/// Loads and validates the feature in `dir` (`kitty-specs/<slug>/`).
///
/// Returns every problem found, not just the first: a person fixing a feature wants the whole list.
pub fn load_feature(dir: impl AsRef<Path>) -> Result<Feature, FeatureError> {
    let dir = dir.as_ref();
    let mut problems = Vec::new();
    let fail = |problems: Vec<Problem>| FeatureError { dir: dir.to_path_buf(), problems };

    if !dir.is_dir() {
        let what = if dir.exists() { "is not a directory" } else { "does not exist" };
        return Err(fail(vec![Problem::at(
            ProblemKind::NotFound,
            dir,
            format!("feature directory {what} (expected kitty-specs/<NNN-slug>/ with a tasks/ directory)"),
        )]));
    }
    let slug = slug_of(dir, &mut problems);
    let meta = read_meta(dir, &mut problems);
    let lanes = status::read(dir, &mut problems);
    let files = discover(dir, &mut problems);

    let mut work_packages: Vec<WorkPackage> = Vec::new();
    let mut locations: BTreeMap<WpId, Located> = BTreeMap::new();
    let mut has_lane_dirs = false;
    for file in &files {
        has_lane_dirs |= file.dir_lane.is_some();
        let Some((wp, located)) = parse_wp_file(file, &lanes, &mut problems) else { continue };
        if let Some(first) = locations.get(&wp.id) {
            problems.push(Problem::at_line(
                ProblemKind::DuplicateId,
                &wp.source,
                located.id_line,
                None,
                format!("duplicate work package id {}: also declared in {}", wp.id, first.path.display()),
            ));
            continue;
        }
        locations.insert(wp.id.clone(), located);
        work_packages.push(wp);
    }
    if files.is_empty() && problems.is_empty() {
        problems.push(Problem::at(
            ProblemKind::Empty,
            &dir.join("tasks"),
            "the feature has no work packages (expected files named tasks/WPxx-<title>.md)",
        ));
    }
    work_packages.sort_by(|a, b| a.id.cmp(&b.id));
    check_dependencies(&work_packages, &locations, &mut problems);
    let graph = Graph::new(work_packages.iter().map(|wp| (&wp.id, wp.dependencies.as_slice())));
    // A self-dependency is also a one-node cycle; it was reported above, with a clearer message.
    for cycle in graph.cycles().into_iter().filter(|cycle| cycle.len() > 2) {
        let first = &cycle[0];
        let located = &locations[first];
        let path: Vec<&str> = cycle.iter().map(WpId::as_str).collect();
        problems.push(Problem::at_line(
            ProblemKind::Cycle,
            &located.path,
            located.deps_line,
            None,
            format!("dependency cycle: {} (remove one of these dependencies)", path.join(" -> ")),
        ));
    }

    match slug {
        Some(slug) if problems.is_empty() => Ok(Feature {
            slug,
            dir: dir.to_path_buf(),
            layout: if lanes.present {
                Layout::EventLog
            } else if has_lane_dirs {
                Layout::LaneDirectories
            } else {
                Layout::Flat
            },
            meta,
            work_packages,
            graph,
        }),
        _ => Err(fail(problems)),
    }
}

/// Where a WP's declarations are, for pointing graph errors at the right line.
struct Located {
    path: PathBuf,
    id_line: Option<usize>,
    deps_line: Option<usize>,
    dep_lines: BTreeMap<String, usize>,
}

/// A candidate WP file found under `tasks/`.
struct WpFile {
    path: PathBuf,
    /// The WP id prefix of the file name (`WP03` of `WP03-x.md`), unvalidated.
    name_id: String,
    /// The lane named by the directory, for the legacy layout.
    dir_lane: Option<Lane>,
}

fn slug_of(dir: &Path, problems: &mut Vec<Problem>) -> Option<FeatureSlug> {
    // `dir` may be `.` or end in `..`: name the directory the way the user will recognise it.
    let canonical = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let name = canonical.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    match FeatureSlug::parse(&name) {
        Ok(slug) => Some(slug),
        Err(why) => {
            problems.push(Problem::at(ProblemKind::UnsafeSlug, dir, format!("{why}; rename the directory")));
            None
        }
    }
}

/// Reads a text file that may be absent: `None` if absent; unreadable or non-UTF-8 is a problem.
fn read_text(path: &Path, problems: &mut Vec<Problem>) -> Option<String> {
    match std::fs::read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => Some(text),
            Err(err) => {
                let valid = &err.as_bytes()[..err.utf8_error().valid_up_to()];
                let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
                problems.push(Problem::at_line(
                    ProblemKind::NotUtf8,
                    path,
                    Some(line),
                    None,
                    format!("not valid UTF-8 (at byte {}); save the file as UTF-8", valid.len()),
                ));
                None
            }
        },
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
        Err(err) => {
            problems.push(Problem::at(ProblemKind::Unreadable, path, format!("cannot read file: {err}")));
            None
        }
    }
}

/// serde_json's message without its trailing "at line L column C" (the problem carries those).
pub(crate) fn json_reason(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

fn read_meta(dir: &Path, problems: &mut Vec<Problem>) -> FeatureMeta {
    let path = dir.join("meta.json");
    let Some(text) = read_text(&path, problems) else { return FeatureMeta { raw: Json::Null, ..Default::default() } };
    match serde_json::from_str::<Json>(&text) {
        Ok(raw) if raw.is_object() => FeatureMeta {
            target_branch: raw.get("target_branch").and_then(Json::as_str).map(str::to_string),
            friendly_name: raw.get("friendly_name").and_then(Json::as_str).map(str::to_string),
            raw,
        },
        Ok(_) => {
            problems.push(Problem::at(ProblemKind::BadStatusFile, &path, "meta.json is not a JSON object"));
            FeatureMeta { raw: Json::Null, ..Default::default() }
        }
        Err(err) => {
            problems.push(Problem::at_line(
                ProblemKind::BadStatusFile,
                &path,
                Some(err.line()),
                Some(err.column()),
                format!("invalid JSON: {}", json_reason(&err)),
            ));
            FeatureMeta { raw: Json::Null, ..Default::default() }
        }
    }
}

/// Finds WP files in `tasks/` and, for the legacy layout, in `tasks/<lane>/`. Sorted by path.
fn discover(dir: &Path, problems: &mut Vec<Problem>) -> Vec<WpFile> {
    let tasks = dir.join("tasks");
    let mut files = Vec::new();
    let entries = match std::fs::read_dir(&tasks) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return files,
        Err(err) => {
            problems.push(Problem::at(ProblemKind::Unreadable, &tasks, format!("cannot list directory: {err}")));
            return files;
        }
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            let dir_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let mut inner: Vec<PathBuf> = match std::fs::read_dir(&path) {
                Ok(entries) => entries.filter_map(|e| e.ok().map(|e| e.path())).collect(),
                Err(err) => {
                    problems.push(Problem::at(ProblemKind::Unreadable, &path, format!("cannot list directory: {err}")));
                    continue;
                }
            };
            inner.sort();
            for file in inner {
                let Some(name_id) = wp_file_id(&file) else { continue };
                match Lane::from_alias(&dir_name) {
                    Some(lane) => files.push(WpFile { path: file, name_id, dir_lane: Some(lane) }),
                    None => problems.push(Problem::at(
                        ProblemKind::BadLane,
                        &file,
                        format!(
                            "WP file in directory `{dir_name}`, which is not a lane (use planned, doing, for_review or done, or move it to tasks/)"
                        ),
                    )),
                }
            }
        } else if let Some(name_id) = wp_file_id(&path) {
            files.push(WpFile { path, name_id, dir_lane: None });
        }
    }
    files
}

/// The id prefix of a WP markdown file name, or `None` for other files (README.md, .gitkeep).
fn wp_file_id(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    if !name.ends_with(".md") || !path.is_file() {
        return None;
    }
    WpId::prefix_of_file_name(name).map(str::to_string)
}

fn parse_wp_file(
    file: &WpFile,
    lanes: &status::StatusLanes,
    problems: &mut Vec<Problem>,
) -> Option<(WorkPackage, Located)> {
    let path = &file.path;
    let text = read_text(path, problems)?;
    let doc = match frontmatter::split(&text, path) {
        Ok(doc) => doc,
        Err(problem) => {
            problems.push(problem);
            return None;
        }
    };
    let map = match frontmatter::parse_mapping(&doc, path) {
        Ok(map) => map,
        Err(problem) => {
            problems.push(problem);
            return None;
        }
    };
    let before = problems.len();
    let get = |key: &str| map.get(Yaml::String(key.to_string()));
    let id_line = frontmatter::key_line(&doc, "work_package_id");

    let id = match get("work_package_id").map(frontmatter::scalar_text) {
        None => {
            problems.push(Problem::at_line(
                ProblemKind::MissingId,
                path,
                Some(doc.yaml_first_line),
                None,
                format!("missing `work_package_id` in frontmatter (add `work_package_id: {}`)", file.name_id),
            ));
            None
        }
        Some(None) => {
            problems.push(Problem::at_line(
                ProblemKind::BadId,
                path,
                id_line,
                None,
                "`work_package_id` must be a plain value like WP01",
            ));
            None
        }
        Some(Some(text)) => match WpId::parse(text.trim()) {
            Ok(id) if id.as_str() == file.name_id => Some(id),
            Ok(id) => {
                problems.push(Problem::at_line(
                    ProblemKind::IdMismatch,
                    path,
                    id_line,
                    None,
                    format!(
                        "`work_package_id: {id}` disagrees with the file name, which starts with {}; rename the file or fix the id",
                        file.name_id
                    ),
                ));
                None
            }
            Err(why) => {
                problems.push(Problem::at_line(
                    ProblemKind::BadId,
                    path,
                    id_line,
                    None,
                    format!("work_package_id: {why}"),
                ));
                None
            }
        },
    };

    let mut dependencies = Vec::new();
    let mut dep_lines = BTreeMap::new();
    if let Some(value) = get("dependencies") {
        match frontmatter::string_list(value) {
            Ok(items) => {
                for item in items {
                    let line = frontmatter::value_line(&doc, "dependencies", &item);
                    match WpId::parse(item.trim()) {
                        Ok(dep) => {
                            if let Some(line) = line {
                                dep_lines.insert(dep.as_str().to_string(), line);
                            }
                            dependencies.push(dep);
                        }
                        Err(why) => problems.push(Problem::at_line(
                            ProblemKind::BadId,
                            path,
                            line,
                            None,
                            format!("dependencies: {why}"),
                        )),
                    }
                }
            }
            Err(why) => problems.push(Problem::at_line(
                ProblemKind::BadField,
                path,
                frontmatter::key_line(&doc, "dependencies"),
                None,
                format!("dependencies: {why} (write `dependencies: [WP01, WP02]` or a `- WP01` list)"),
            )),
        }
    }
    dependencies.sort();
    dependencies.dedup();

    let subtasks = match get("subtasks").map(frontmatter::string_list) {
        None => Vec::new(),
        Some(Ok(items)) => items,
        Some(Err(why)) => {
            problems.push(Problem::at_line(
                ProblemKind::BadField,
                path,
                frontmatter::key_line(&doc, "subtasks"),
                None,
                format!("subtasks: {why}"),
            ));
            Vec::new()
        }
    };
    let text_field = |key: &str, problems: &mut Vec<Problem>| match get(key) {
        None | Some(Yaml::Null) => None,
        Some(value) => match frontmatter::scalar_text(value) {
            Some(text) => Some(text),
            None => {
                problems.push(Problem::at_line(
                    ProblemKind::BadField,
                    path,
                    frontmatter::key_line(&doc, key),
                    None,
                    format!("{key}: expected text"),
                ));
                None
            }
        },
    };
    let title = text_field("title", problems);
    let phase = text_field("phase", problems).filter(|p| !p.trim().is_empty());
    let frontmatter_lane = match text_field("lane", problems) {
        None => None,
        Some(text) if text.trim().is_empty() => None,
        Some(text) => match text.parse::<Lane>() {
            Ok(lane) => Some(lane),
            Err(why) => {
                problems.push(Problem::at_line(
                    ProblemKind::BadLane,
                    path,
                    frontmatter::key_line(&doc, "lane"),
                    None,
                    format!("lane: {why}"),
                ));
                None
            }
        },
    };

    let id = id?;
    if problems.len() > before {
        return None;
    }
    // The most authoritative source wins: event log, then snapshot, then directory, then frontmatter.
    let initial_lane = lanes.lane_of(id.as_str()).or(file.dir_lane).or(frontmatter_lane).unwrap_or(Lane::Planned);
    const TYPED: [&str; 6] = ["work_package_id", "title", "dependencies", "subtasks", "phase", "lane"];
    let mut extra = Map::new();
    for (key, value) in &map {
        let key = frontmatter::scalar_text(key).unwrap_or_default();
        if !TYPED.contains(&key.as_str()) {
            extra.insert(key, frontmatter::yaml_to_json(value));
        }
    }
    let located =
        Located { path: path.clone(), id_line, deps_line: frontmatter::key_line(&doc, "dependencies"), dep_lines };
    let wp = WorkPackage {
        title: title.filter(|t| !t.trim().is_empty()).unwrap_or_else(|| id.to_string()),
        id,
        dependencies,
        subtasks,
        phase,
        prompt: doc.body.strip_prefix('\n').unwrap_or(doc.body).to_string(),
        source: path.clone(),
        initial_lane,
        extra,
    };
    Some((wp, located))
}

fn check_dependencies(wps: &[WorkPackage], locations: &BTreeMap<WpId, Located>, problems: &mut Vec<Problem>) {
    let known: HashSet<&WpId> = wps.iter().map(|wp| &wp.id).collect();
    for wp in wps {
        let located = &locations[&wp.id];
        for dep in &wp.dependencies {
            let line = located.dep_lines.get(dep.as_str()).copied().or(located.deps_line);
            if dep == &wp.id {
                problems.push(Problem::at_line(
                    ProblemKind::SelfDependency,
                    &located.path,
                    line,
                    None,
                    format!("{} depends on itself; remove {dep} from its dependencies", wp.id),
                ));
            } else if !known.contains(dep) {
                problems.push(Problem::at_line(
                    ProblemKind::UnknownDependency,
                    &located.path,
                    line,
                    None,
                    format!("{} depends on {dep}, which is not a work package of this feature", wp.id),
                ));
            }
        }
    }
}
