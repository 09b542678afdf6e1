//! `loadFeature()`: a feature as a plain object with the same JSON shape as Rust and Python.

use napi_derive::napi;

use crate::errors::{Code, guard, to_js};

/// Where a work package is in its lifecycle.
#[napi(string_enum)]
pub enum Lane {
    #[napi(value = "planned")]
    Planned,
    #[napi(value = "doing")]
    Doing,
    #[napi(value = "for_review")]
    ForReview,
    #[napi(value = "done")]
    Done,
    #[napi(value = "blocked")]
    Blocked,
    #[napi(value = "canceled")]
    Canceled,
}

impl From<kitty_orchestrator::Lane> for Lane {
    fn from(lane: kitty_orchestrator::Lane) -> Lane {
        use kitty_orchestrator::Lane as L;
        match lane {
            L::Planned => Lane::Planned,
            L::Doing => Lane::Doing,
            L::ForReview => Lane::ForReview,
            L::Done => Lane::Done,
            L::Blocked => Lane::Blocked,
            L::Canceled => Lane::Canceled,
        }
    }
}

/// One work package of a feature.
#[napi(object)]
pub struct WorkPackage {
    /// `WPxx`.
    pub id: String,
    pub title: String,
    /// Ids of the WPs this one depends on (sorted).
    pub dependencies: Vec<String>,
    pub subtasks: Vec<String>,
    pub phase: Option<String>,
    /// The markdown after the frontmatter: the implementer's prompt.
    pub prompt: String,
    /// The WP file.
    pub source: String,
    /// The lane recorded in the feature files.
    pub initial_lane: Lane,
    /// Every other frontmatter key.
    pub extra: serde_json::Value,
}

/// A validated feature.
#[napi(object)]
pub struct Feature {
    /// The feature directory name.
    pub slug: String,
    /// The feature directory as given.
    pub dir: String,
    /// `flat`, `lane_directories`, `event_log`, `kiro` or `task_list`.
    pub layout: String,
    /// `target_branch` from meta.json.
    pub target_branch: Option<String>,
    /// The whole meta.json (`null` when absent).
    pub meta: serde_json::Value,
    /// Work packages sorted by id.
    pub work_packages: Vec<WorkPackage>,
    /// WP ids in stable topological order (ties broken by id).
    pub topological_order: Vec<String>,
}

/// Loads and validates a feature (a spec-kitty directory, a Kiro spec, a markdown task list);
/// `format` names the reader instead of the path's shape. Throws an `Error` with
/// `code === "feature_invalid"` listing every problem.
#[napi]
pub fn load_feature(
    path: String,
    format: Option<String>,
    include_optional: Option<bool>,
) -> napi::Result<Feature, Code> {
    guard(|| load(&path, format.as_deref(), include_optional.unwrap_or(false)))
}

fn load(path: &str, format: Option<&str>, include_optional: bool) -> napi::Result<Feature, Code> {
    let options =
        kitty_orchestrator::engine::load_options(format, include_optional).map_err(|err| to_js(err.into()))?;
    let feature = kitty_orchestrator::load_feature_with(path, &options).map_err(|err| to_js(err.into()))?;
    let layout =
        serde_json::to_value(feature.layout).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    Ok(Feature {
        slug: feature.slug.to_string(),
        dir: feature.dir.display().to_string(),
        layout,
        target_branch: feature.meta.target_branch.clone(),
        meta: feature.meta.raw.clone(),
        topological_order: feature.topological_order().into_iter().map(String::from).collect(),
        work_packages: feature
            .work_packages
            .iter()
            .map(|wp| WorkPackage {
                id: wp.id.to_string(),
                title: wp.title.clone(),
                dependencies: wp.dependencies.iter().map(|d| d.to_string()).collect(),
                subtasks: wp.subtasks.clone(),
                phase: wp.phase.clone(),
                prompt: wp.prompt.clone(),
                source: wp.source.display().to_string(),
                initial_lane: wp.initial_lane.into(),
                extra: serde_json::Value::Object(wp.extra.clone()),
            })
            .collect(),
    })
}
