//! Loading a feature directory: its slug, `meta.json`, the lanes of the status files, the WP files
//! (flat or in lane directories), and the checks across WPs (duplicate ids, unknown or self
//! dependencies, cycles). Every problem is collected, none stops the others from being found.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde_json::Value as Json;

use super::model::{Feature, FeatureMeta, Layout, WorkPackage};
use super::problem::{FeatureError, Problem, ProblemKind};
use super::text::{json_reason, read_text};
use super::wp_file::{Located, WpFile};
use super::{status, wp_file};
use crate::graph::Graph;
use crate::ids::{FeatureSlug, WpId};
use crate::lane::Lane;

/// Loads the spec-kitty feature directory `dir`.
pub(super) fn load_spec_kitty(dir: &Path) -> Result<Feature, FeatureError> {
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

    let (mut work_packages, locations) = read_work_packages(&files, &lanes, &mut problems);
    let has_lane_dirs = files.iter().any(|f| f.dir_lane.is_some());
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
    report_cycles(&graph, &locations, &mut problems);

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

/// Every WP file parsed, without duplicate ids (a duplicate is a problem naming both files).
fn read_work_packages(
    files: &[WpFile],
    lanes: &status::StatusLanes,
    problems: &mut Vec<Problem>,
) -> (Vec<WorkPackage>, BTreeMap<WpId, Located>) {
    let mut work_packages: Vec<WorkPackage> = Vec::new();
    let mut locations: BTreeMap<WpId, Located> = BTreeMap::new();
    for file in files {
        let Some((wp, located)) = wp_file::parse(file, lanes, problems) else { continue };
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
    (work_packages, locations)
}

/// A dependency cycle is a problem at the `dependencies:` line of its first WP, with its path.
fn report_cycles(graph: &Graph, locations: &BTreeMap<WpId, Located>, problems: &mut Vec<Problem>) {
    // A self-dependency is also a one-node cycle; it is reported on its own, with a clearer message.
    for cycle in graph.cycles().into_iter().filter(|cycle| cycle.len() > 2) {
        let located = &locations[&cycle[0]];
        let path: Vec<&str> = cycle.iter().map(WpId::as_str).collect();
        problems.push(Problem::at_line(
            ProblemKind::Cycle,
            &located.path,
            located.deps_line,
            None,
            format!("dependency cycle: {} (remove one of these dependencies)", path.join(" -> ")),
        ));
    }
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
