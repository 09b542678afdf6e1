//! One WP file: YAML frontmatter and a markdown prompt. Each field is read by its own function
//! that reports its own problems (with the line of its key), so one bad field never hides another.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Map;
use serde_yaml_ng::{Mapping, Value as Yaml};

use super::frontmatter::{self, Document};
use super::model::WorkPackage;
use super::problem::{Problem, ProblemKind};
use super::status;
use super::text::read_text;
use crate::ids::WpId;
use crate::lane::Lane;

/// Where a WP's declarations are, for pointing graph errors at the right line.
pub(super) struct Located {
    pub(super) path: PathBuf,
    pub(super) id_line: Option<usize>,
    pub(super) deps_line: Option<usize>,
    pub(super) dep_lines: BTreeMap<String, usize>,
}

/// A candidate WP file found under `tasks/`.
pub(super) struct WpFile {
    pub(super) path: PathBuf,
    /// The WP id prefix of the file name (`WP03` of `WP03-x.md`), unvalidated.
    pub(super) name_id: String,
    /// The lane named by the directory, for the legacy layout.
    pub(super) dir_lane: Option<Lane>,
}

/// Frontmatter fields with a type of their own; the others are kept as data (`extra`).
const TYPED: [&str; 6] = ["work_package_id", "title", "dependencies", "subtasks", "phase", "lane"];

/// A parsed frontmatter and where to report its problems.
struct Fields<'a> {
    doc: &'a Document<'a>,
    map: &'a Mapping,
    path: &'a Path,
}

impl Fields<'_> {
    fn get(&self, key: &str) -> Option<&Yaml> {
        self.map.get(Yaml::String(key.to_string()))
    }

    fn problem(&self, kind: ProblemKind, key: &str, message: impl Into<String>) -> Problem {
        Problem::at_line(kind, self.path, frontmatter::key_line(self.doc, key), None, message)
    }

    /// `work_package_id`: present, well-formed, and the same as the file name's prefix.
    fn id(&self, name_id: &str, problems: &mut Vec<Problem>) -> Option<WpId> {
        let text = match self.get("work_package_id").map(frontmatter::scalar_text) {
            None => {
                problems.push(Problem::at_line(
                    ProblemKind::MissingId,
                    self.path,
                    Some(self.doc.yaml_first_line),
                    None,
                    format!("missing `work_package_id` in frontmatter (add `work_package_id: {name_id}`)"),
                ));
                return None;
            }
            Some(None) => {
                let problem = "`work_package_id` must be a plain value like WP01";
                problems.push(self.problem(ProblemKind::BadId, "work_package_id", problem));
                return None;
            }
            Some(Some(text)) => text,
        };
        match WpId::parse(text.trim()) {
            Ok(id) if id.as_str() == name_id => Some(id),
            Ok(id) => {
                problems.push(self.problem(
                    ProblemKind::IdMismatch,
                    "work_package_id",
                    format!(
                        "`work_package_id: {id}` disagrees with the file name, which starts with {name_id}; rename the file or fix the id"
                    ),
                ));
                None
            }
            Err(why) => {
                problems.push(self.problem(ProblemKind::BadId, "work_package_id", format!("work_package_id: {why}")));
                None
            }
        }
    }

    /// `dependencies`: a list of WP ids (missing = none), sorted and deduplicated, with the line
    /// of each for later problems.
    fn dependencies(&self, problems: &mut Vec<Problem>) -> (Vec<WpId>, BTreeMap<String, usize>) {
        let mut dependencies = Vec::new();
        let mut lines = BTreeMap::new();
        let Some(value) = self.get("dependencies") else { return (dependencies, lines) };
        match frontmatter::string_list(value) {
            Ok(items) => {
                for item in items {
                    let line = frontmatter::value_line(self.doc, "dependencies", &item);
                    match WpId::parse(item.trim()) {
                        Ok(dep) => {
                            if let Some(line) = line {
                                lines.insert(dep.as_str().to_string(), line);
                            }
                            dependencies.push(dep);
                        }
                        Err(why) => problems.push(Problem::at_line(
                            ProblemKind::BadId,
                            self.path,
                            line,
                            None,
                            format!("dependencies: {why}"),
                        )),
                    }
                }
            }
            Err(why) => problems.push(self.problem(
                ProblemKind::BadField,
                "dependencies",
                format!("dependencies: {why} (write `dependencies: [WP01, WP02]` or a `- WP01` list)"),
            )),
        }
        dependencies.sort();
        dependencies.dedup();
        (dependencies, lines)
    }

    /// `subtasks`: a list of text (missing = none).
    fn subtasks(&self, problems: &mut Vec<Problem>) -> Vec<String> {
        match self.get("subtasks").map(frontmatter::string_list) {
            None => Vec::new(),
            Some(Ok(items)) => items,
            Some(Err(why)) => {
                problems.push(self.problem(ProblemKind::BadField, "subtasks", format!("subtasks: {why}")));
                Vec::new()
            }
        }
    }

    /// A text field (missing or null = `None`).
    fn text(&self, key: &str, problems: &mut Vec<Problem>) -> Option<String> {
        match self.get(key) {
            None | Some(Yaml::Null) => None,
            Some(value) => {
                let text = frontmatter::scalar_text(value);
                if text.is_none() {
                    problems.push(self.problem(ProblemKind::BadField, key, format!("{key}: expected text")));
                }
                text
            }
        }
    }

    /// `lane`: any lane name or alias (empty = none).
    fn lane(&self, problems: &mut Vec<Problem>) -> Option<Lane> {
        let text = self.text("lane", problems).filter(|t| !t.trim().is_empty())?;
        match text.parse::<Lane>() {
            Ok(lane) => Some(lane),
            Err(why) => {
                problems.push(self.problem(ProblemKind::BadLane, "lane", format!("lane: {why}")));
                None
            }
        }
    }

    /// Every other key, as JSON.
    fn extra(&self) -> Map<String, serde_json::Value> {
        let mut extra = Map::new();
        for (key, value) in self.map {
            let key = frontmatter::scalar_text(key).unwrap_or_default();
            if !TYPED.contains(&key.as_str()) {
                extra.insert(key, frontmatter::yaml_to_json(value));
            }
        }
        extra
    }
}

/// Parses one WP file; `None` (with problems pushed) when it has any problem.
pub(super) fn parse(
    file: &WpFile,
    lanes: &status::StatusLanes,
    problems: &mut Vec<Problem>,
) -> Option<(WorkPackage, Located)> {
    let path = &file.path;
    let text = read_text(path, problems)?;
    let doc = frontmatter::split(&text, path).map_err(|p| problems.push(p)).ok()?;
    let map = frontmatter::parse_mapping(&doc, path).map_err(|p| problems.push(p)).ok()?;
    let fields = Fields { doc: &doc, map: &map, path };
    let before = problems.len();
    let id = fields.id(&file.name_id, problems);
    let (dependencies, dep_lines) = fields.dependencies(problems);
    let subtasks = fields.subtasks(problems);
    let title = fields.text("title", problems);
    let phase = fields.text("phase", problems).filter(|p| !p.trim().is_empty());
    let frontmatter_lane = fields.lane(problems);
    let id = id?;
    if problems.len() > before {
        return None;
    }
    // The most authoritative source wins: event log, then snapshot, then directory, then frontmatter.
    let initial_lane = lanes.lane_of(id.as_str()).or(file.dir_lane).or(frontmatter_lane).unwrap_or(Lane::Planned);
    let located = Located {
        path: path.clone(),
        id_line: frontmatter::key_line(&doc, "work_package_id"),
        deps_line: frontmatter::key_line(&doc, "dependencies"),
        dep_lines,
    };
    let wp = WorkPackage {
        title: title.filter(|t| !t.trim().is_empty()).unwrap_or_else(|| id.to_string()),
        id,
        dependencies,
        subtasks,
        phase,
        prompt: doc.body.strip_prefix('\n').unwrap_or(doc.body).to_string(),
        source: path.clone(),
        initial_lane,
        extra: fields.extra(),
    };
    Some((wp, located))
}
