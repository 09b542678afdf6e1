//! Kiro specs (`.kiro/specs/<name>/` with `requirements.md`, `design.md`, `tasks.md`) as
//! features. `tasks.md` is read as Kiro writes it: numbered top-level tasks `- [ ] 1. Title`,
//! sub-tasks `- [ ] 1.1 Title` (indented or not), detail bullets under them,
//! `_Requirements: 1.2, 3.1_` lines, `- [x]` for done and `- [ ]*` for optional tasks.
//!
//! Each leaf task is one WP. Its id comes from its number: task `N.M` is `WP<NN><MM>` and a
//! top-level task `N` without sub-tasks is `WP<NN>00` (`2.1` → `WP0201`, `3` → `WP0300`), so ids
//! are stable when tasks are added after it. By default each task depends on the one before it
//! (Kiro runs them in document order); a `_Depends: 1.2, 2_` line (our extension) replaces that
//! with the tasks named (a top-level number means all its sub-tasks). Optional tasks are not
//! loaded unless asked for (`--include-optional`). The prompt is the task with its details, the requirements it references quoted from
//! `requirements.md`, and `design.md` as context.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use serde_json::{Map, Value as Json, json};

use super::model::{Feature, FeatureMeta, Layout, WorkPackage};
use super::problem::{FeatureError, Problem, ProblemKind};
use crate::graph::Graph;
use crate::ids::{FeatureSlug, WpId};
use crate::lane::Lane;

/// Longest `design.md` copied into a prompt (a design can be long; the file is in the repo).
const MAX_DESIGN: usize = 40_000;

/// One `- [ ] N.M Title` line and what follows it.
#[derive(Debug, Clone)]
struct Task {
    number: (u32, Option<u32>),
    title: String,
    done: bool,
    optional: bool,
    line: usize,
    text: String,
    details: Vec<String>,
    requirements: Vec<String>,
    depends: Option<(Vec<String>, usize)>,
    files: Vec<String>,
    verify: Option<(Vec<String>, usize)>,
}

impl Task {
    fn label(&self) -> String {
        match self.number {
            (n, Some(m)) => format!("{n}.{m}"),
            (n, None) => n.to_string(),
        }
    }

    fn id(&self) -> Option<WpId> {
        let (n, m) = self.number;
        if n > 99 || m.is_some_and(|m| m > 99) {
            return None;
        }
        WpId::parse(&format!("WP{n:02}{:02}", m.unwrap_or(0))).ok()
    }
}

/// Whether `dir` is a Kiro spec directory.
pub fn is_kiro_spec(dir: &Path) -> bool {
    dir.join("tasks.md").is_file() && !dir.join("tasks").is_dir()
}

/// Parses a checkbox line: `- [ ] 1. Title`, `- [x] 2.1 Title`, `- [ ]* 3 Title`.
fn checkbox(line: &str) -> Option<(bool, bool, &str)> {
    let rest = line.trim_start().strip_prefix("- [")?;
    let (mark, rest) = rest.split_at_checked(1)?;
    let rest = rest.strip_prefix(']')?;
    let done = match mark {
        " " => false,
        "x" | "X" => true,
        _ => return None,
    };
    let (optional, rest) = match rest.strip_prefix('*') {
        Some(rest) => (true, rest),
        None => (false, rest),
    };
    Some((done, optional, rest.trim()))
}

/// `1.`, `1`, `1.2`, `1.2.` at the start of a title: the number and the title after it.
fn numbered(text: &str) -> Option<((u32, Option<u32>), &str)> {
    let end = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, title) = text.split_at(end);
    let number = number.trim_end_matches('.');
    let mut parts = number.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = match parts.next() {
        Some(m) => Some(m.parse().ok()?),
        None => None,
    };
    if parts.next().is_some() || title.chars().next().is_some_and(|c| !c.is_whitespace()) {
        return None;
    }
    Some(((major, minor), title.trim()))
}

/// `_Requirements: 1.2, 3.1_` / `_Depends: 2_` (underscores optional): the listed items.
fn tagged(line: &str, tag: &str) -> Option<Vec<String>> {
    let text = line.trim().trim_start_matches("- ").trim().trim_matches('_').trim();
    let rest = text.strip_prefix(tag)?.trim_start().strip_prefix(':')?;
    Some(rest.split(',').map(|s| s.trim().trim_matches('_').trim().to_string()).filter(|s| !s.is_empty()).collect())
}

/// `Verify: cargo test -p x` (words) or `Verify: ["sh", "-c", "…"]` (a JSON array): an argv.
fn verify_argv(line: &str) -> Option<Result<Vec<String>, String>> {
    let text = line.trim().trim_start_matches("- ").trim().trim_start_matches("**");
    let rest = text.strip_prefix("Verify:").or_else(|| text.strip_prefix("Verify**:"))?;
    let rest = rest.trim().trim_start_matches("**").trim().trim_matches('`').trim();
    if rest.starts_with('[') {
        return Some(
            serde_json::from_str::<Vec<String>>(rest)
                .map_err(|e| format!("`Verify:` is not a JSON array of strings: {e}"))
                .and_then(|v| if v.is_empty() { Err("`Verify:` is an empty command".into()) } else { Ok(v) }),
        );
    }
    let words: Vec<String> = rest.split_whitespace().map(str::to_string).collect();
    Some(if words.is_empty() { Err("`Verify:` names no command".into()) } else { Ok(words) })
}

/// `Files: a.rs, b.rs`: the paths listed.
fn files_line(line: &str) -> Option<Vec<String>> {
    let text = line.trim().trim_start_matches("- ").trim().trim_start_matches("**");
    let rest = text.strip_prefix("Files:").or_else(|| text.strip_prefix("Files**:"))?;
    Some(
        rest.trim()
            .trim_start_matches("**")
            .split(',')
            .map(|f| f.trim().trim_matches('`').to_string())
            .filter(|f| !f.is_empty())
            .collect(),
    )
}

fn parse_tasks(text: &str, path: &Path, problems: &mut Vec<Problem>, plan: bool) -> Vec<Task> {
    let mut tasks: Vec<Task> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line_no = index + 1;
        if let Some((done, optional, rest)) = checkbox(raw) {
            // A plain task list may leave its tasks unnumbered: they are numbered by position.
            let number = numbered(rest).or_else(|| {
                let top = tasks.iter().filter(|t| t.number.1.is_none()).count() as u32;
                (plan && !rest.is_empty() && !raw.starts_with([' ', '\t'])).then_some(((top + 1, None), rest))
            });
            match number {
                Some((number, title)) if !title.is_empty() => tasks.push(Task {
                    number,
                    title: title.to_string(),
                    done,
                    optional,
                    line: line_no,
                    text: raw.to_string(),
                    details: Vec::new(),
                    requirements: Vec::new(),
                    depends: None,
                    files: Vec::new(),
                    verify: None,
                }),
                _ => problems.push(Problem::at_line(
                    ProblemKind::BadField,
                    path,
                    Some(line_no),
                    None,
                    format!(
                        "task line `{}` has no task number (expected `- [ ] 1. Title` or `- [ ] 1.2 Title`)",
                        raw.trim()
                    ),
                )),
            }
            continue;
        }
        let Some(task) = tasks.last_mut() else { continue };
        if raw.trim().is_empty() || raw.starts_with('#') {
            continue;
        }
        if let Some(reqs) = tagged(raw, "Requirements") {
            task.requirements.extend(reqs);
        } else if let Some(deps) = tagged(raw, "Depends") {
            task.depends = Some((deps, line_no));
        } else if let Some(files) = files_line(raw) {
            task.files.extend(files.clone());
            task.details.push(raw.trim_end().to_string());
        } else if let Some(argv) = verify_argv(raw) {
            match argv {
                Ok(argv) => task.verify = Some((argv, line_no)),
                Err(why) => problems.push(Problem::at_line(ProblemKind::BadField, path, Some(line_no), None, why)),
            }
        } else {
            task.details.push(raw.trim_end().to_string());
        }
    }
    tasks
}

/// `### Requirement N` sections of `requirements.md`, by number.
fn requirement_sections(text: &str) -> BTreeMap<String, String> {
    let mut sections = BTreeMap::new();
    let mut current: Option<(String, Vec<&str>)> = None;
    for line in text.lines() {
        let heading = line.trim_start_matches('#').trim();
        // `#### Acceptance Criteria` belongs to its requirement; `###` and above start another.
        let level = line.chars().take_while(|&c| c == '#').count();
        let is_heading = (1..=3).contains(&level) && line[level..].starts_with(' ');
        if is_heading {
            if let Some((n, body)) = current.take() {
                sections.insert(n, body.join("\n").trim_end().to_string());
            }
            if let Some(n) = heading.strip_prefix("Requirement ").map(|r| r.trim().trim_end_matches(':').to_string())
                && n.chars().all(|c| c.is_ascii_digit())
            {
                current = Some((n, vec![line]));
            }
            continue;
        }
        if let Some((_, body)) = current.as_mut() {
            body.push(line);
        }
    }
    if let Some((n, body)) = current {
        sections.insert(n, body.join("\n").trim_end().to_string());
    }
    sections
}

/// Loads the Kiro spec in `dir` (optional tasks skipped).
pub fn load_kiro(dir: &Path) -> Result<Feature, FeatureError> {
    load_kiro_with(dir, false)
}

/// Loads the Kiro spec in `dir`; `include_optional` loads its `- [ ]*` tasks as WPs too.
pub fn load_kiro_with(dir: &Path, include_optional: bool) -> Result<Feature, FeatureError> {
    load_tasks(dir, &dir.join("tasks.md"), false, include_optional)
}

/// Loads a markdown task list (a `PLAN.md`): `- [ ]` items (numbered or not, numbered by
/// position then), with `_Depends:_`, `Files:` and `Verify:` lines. Its slug is the file's name
/// without `.md`.
pub fn load_task_list(file: &Path) -> Result<Feature, FeatureError> {
    load_task_list_with(file, false)
}

/// Loads a markdown task list; `include_optional` loads its `- [ ]*` items too.
pub fn load_task_list_with(file: &Path, include_optional: bool) -> Result<Feature, FeatureError> {
    load_tasks(file, file, true, include_optional)
}

fn load_tasks(dir: &Path, tasks_path: &Path, plan: bool, include_optional: bool) -> Result<Feature, FeatureError> {
    let mut problems = Vec::new();
    let fail = |problems: Vec<Problem>| FeatureError { dir: dir.to_path_buf(), problems };
    let tasks_path = tasks_path.to_path_buf();
    let spec_dir = if plan { tasks_path.parent().unwrap_or(Path::new(".")).to_path_buf() } else { dir.to_path_buf() };
    let Some(tasks_text) = super::text::read_text(&tasks_path, &mut problems) else {
        problems.push(Problem::at(ProblemKind::NotFound, &tasks_path, "a Kiro spec needs tasks.md"));
        return Err(fail(problems));
    };
    let (requirements, design) = if plan {
        (String::new(), String::new())
    } else {
        (
            super::text::read_text(&spec_dir.join("requirements.md"), &mut problems).unwrap_or_default(),
            super::text::read_text(&spec_dir.join("design.md"), &mut problems).unwrap_or_default(),
        )
    };
    let canonical = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let name = if plan {
        canonical.file_stem().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    } else {
        canonical.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    };
    let slug = match FeatureSlug::parse(&name) {
        Ok(slug) => Some(slug),
        Err(why) => {
            problems.push(Problem::at(ProblemKind::UnsafeSlug, dir, format!("{why}; rename the spec directory")));
            None
        }
    };
    let tasks = parse_tasks(&tasks_text, &tasks_path, &mut problems, plan);
    // Parents: top-level tasks that have sub-tasks group them and are not WPs themselves.
    let parents: HashSet<u32> = tasks.iter().filter_map(|t| t.number.1.map(|_| t.number.0)).collect();
    check_numbering(&tasks, &tasks_path, &mut problems);
    let leaves: Vec<&Task> = tasks
        .iter()
        .filter(|t| !(t.number.1.is_none() && parents.contains(&t.number.0)))
        .filter(|t| include_optional || !t.optional)
        .collect();
    let parent_title = |n: u32| tasks.iter().find(|t| t.number == (n, None)).map(|t| t.title.clone());
    let sections = requirement_sections(&requirements);
    let mut work_packages = Vec::new();
    let mut previous: Option<WpId> = None;
    for task in &leaves {
        let Some(id) = task.id() else { continue };
        let dependencies = dependencies_of(task, &id, &leaves, &tasks, previous.as_ref(), &tasks_path, &mut problems);
        previous = Some(id.clone());
        let prompt = prompt_of(task, task.number.1.and(parent_title(task.number.0)), &sections, &design);
        let extra = extra_of(task, &tasks);
        work_packages.push(WorkPackage {
            id,
            title: task.title.clone(),
            dependencies,
            subtasks: Vec::new(),
            phase: task.number.1.and(parent_title(task.number.0)),
            prompt,
            source: tasks_path.clone(),
            initial_lane: if task.done { Lane::Done } else { Lane::Planned },
            extra,
        });
    }
    if work_packages.is_empty() && problems.is_empty() {
        problems.push(Problem::at(ProblemKind::Empty, &tasks_path, "no tasks (expected lines like `- [ ] 1. Title`)"));
    }
    work_packages.sort_by(|a, b| a.id.cmp(&b.id));
    let graph = Graph::new(work_packages.iter().map(|wp| (&wp.id, wp.dependencies.as_slice())));
    report_cycles(&work_packages, &graph, &tasks_path, &mut problems);
    match slug {
        Some(slug) if problems.is_empty() => Ok(Feature {
            slug,
            dir: spec_dir,
            layout: if plan { Layout::TaskList } else { Layout::Kiro },
            meta: FeatureMeta { target_branch: None, friendly_name: Some(name), raw: Json::Null },
            work_packages,
            graph,
        }),
        _ => Err(fail(problems)),
    }
}

/// Each task numbered once, and numbered so that it has a WP id.
fn check_numbering(tasks: &[Task], tasks_path: &Path, problems: &mut Vec<Problem>) {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for task in tasks {
        if let Some(first) = seen.insert(task.label(), task.line) {
            problems.push(Problem::at_line(
                ProblemKind::DuplicateId,
                tasks_path,
                Some(task.line),
                None,
                format!("task {} is numbered twice (also on line {first})", task.label()),
            ));
        }
        if task.id().is_none() {
            problems.push(Problem::at_line(
                ProblemKind::BadId,
                tasks_path,
                Some(task.line),
                None,
                format!("task {}: numbers above 99 have no WP id (WP<NN><MM>)", task.label()),
            ));
        }
    }
}

/// A task's dependencies: the tasks its `_Depends_` names (a parent's number stands for its
/// sub-tasks), or else the task before it. A name that is no task here (or only an optional one
/// not run) is a problem.
fn dependencies_of(
    task: &Task,
    id: &WpId,
    leaves: &[&Task],
    tasks: &[Task],
    previous: Option<&WpId>,
    tasks_path: &Path,
    problems: &mut Vec<Problem>,
) -> Vec<WpId> {
    match &task.depends {
        Some((names, line)) => {
            let mut deps = Vec::new();
            for name in names {
                let matched: Vec<WpId> = leaves
                    .iter()
                    .filter(|t| t.label() == *name || (t.number.0.to_string() == *name && t.number.1.is_some()))
                    .filter_map(|t| t.id())
                    .collect();
                if matched.is_empty() {
                    let optional = tasks.iter().any(|t| t.optional && t.label() == *name);
                    let why = if optional {
                        format!(
                            "task {} depends on `{name}`, an optional task, which is not run; drop the dependency or include optional tasks (--include-optional)",
                            task.label()
                        )
                    } else {
                        format!("task {} depends on `{name}`, which is no task here", task.label())
                    };
                    problems.push(Problem::at_line(ProblemKind::UnknownDependency, tasks_path, Some(*line), None, why));
                }
                deps.extend(matched.into_iter().filter(|d| d != id));
            }
            deps.sort();
            deps.dedup();
            deps
        }
        None => previous.into_iter().cloned().collect(),
    }
}

/// The prompt of one task: its title and details, the parent it belongs to, the requirements it
/// names (quoted from requirements.md), the files to touch, its verify command, and design.md.
fn prompt_of(task: &Task, parent: Option<String>, sections: &BTreeMap<String, String>, design: &str) -> String {
    let mut prompt = format!("# Task {}: {}\n", task.label(), task.title);
    if let Some(parent) = parent {
        prompt.push_str(&format!("\nPart of task {}: {parent}\n", task.number.0));
    }
    if !task.details.is_empty() {
        prompt.push('\n');
        for detail in &task.details {
            prompt.push_str(detail.trim_start());
            prompt.push('\n');
        }
    }
    let mut quoted = Vec::new();
    for req in &task.requirements {
        let major = req.split('.').next().unwrap_or("");
        if quoted.contains(&major) {
            continue;
        }
        if let Some(section) = sections.get(major) {
            if quoted.is_empty() {
                prompt
                    .push_str(&format!("\n## Requirements this task implements ({})\n", task.requirements.join(", ")));
            }
            prompt.push('\n');
            for line in section.lines() {
                prompt.push_str("> ");
                prompt.push_str(line);
                prompt.push('\n');
            }
            quoted.push(major);
        }
    }
    if !task.files.is_empty() {
        prompt.push_str(&format!("\nFiles to touch: {}\n", task.files.join(", ")));
    }
    if let Some((argv, _)) = &task.verify {
        prompt.push_str(&format!(
            "\nWhen you are done, `{}` must pass in the worktree: it runs after you finish, and the attempt fails if it fails.\n",
            argv.join(" ")
        ));
    }
    if !design.trim().is_empty() {
        let mut end = design.len().min(MAX_DESIGN);
        while !design.is_char_boundary(end) {
            end -= 1;
        }
        prompt.push_str("\n## Design (design.md)\n\n");
        prompt.push_str(&design[..end]);
        if end < design.len() {
            prompt.push_str("\n\n(design.md continues in the repository)\n");
        }
    }
    prompt
}

/// What the WP keeps of its task for later: where its line is (to tick it), its requirements,
/// files and verify command, and its parent's line.
fn extra_of(task: &Task, tasks: &[Task]) -> Map<String, Json> {
    let mut extra = Map::new();
    extra.insert("kiro_task".into(), json!(task.label()));
    extra.insert("line".into(), json!(task.line));
    // The line as read: a tick changes it only while it still says this.
    extra.insert("source_line".into(), json!(task.text));
    extra.insert("requirements".into(), json!(task.requirements));
    if task.optional {
        extra.insert("optional".into(), json!(true));
    }
    // A parent's box is ticked once all its sub-tasks run here are done, as Kiro does.
    if let Some(parent) = task.number.1.and_then(|_| tasks.iter().find(|t| t.number == (task.number.0, None))) {
        extra.insert("parent_line".into(), json!(parent.line));
        extra.insert("parent_source_line".into(), json!(parent.text));
    }
    if !task.files.is_empty() {
        extra.insert("files".into(), json!(task.files));
    }
    if let Some((argv, _)) = &task.verify {
        extra.insert("verify".into(), json!(argv));
    }
    extra
}

/// A problem for each dependency cycle, at the first task of the cycle.
fn report_cycles(work_packages: &[WorkPackage], graph: &Graph, tasks_path: &Path, problems: &mut Vec<Problem>) {
    for cycle in graph.cycles().into_iter().filter(|c| c.len() > 1) {
        let first = work_packages.iter().find(|w| w.id == cycle[0]);
        let line = first.and_then(|w| w.extra.get("line")).and_then(Json::as_u64).map(|l| l as usize);
        let path: Vec<String> = cycle
            .iter()
            .map(|id| {
                work_packages
                    .iter()
                    .find(|w| &w.id == id)
                    .and_then(|w| w.extra.get("kiro_task"))
                    .and_then(Json::as_str)
                    .unwrap_or(id.as_str())
                    .to_string()
            })
            .collect();
        problems.push(Problem::at_line(
            ProblemKind::Cycle,
            tasks_path,
            line,
            None,
            format!("dependency cycle: {} (remove one of these _Depends_)", path.join(" -> ")),
        ));
    }
}
