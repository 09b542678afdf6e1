//! `load_feature()` and the `Feature` / `WorkPackage` classes.

use std::path::PathBuf;

use pyo3::prelude::*;

use crate::convert::json_to_py;

/// Loads and validates a feature: a spec-kitty feature directory, a Kiro spec directory or a
/// markdown task list; `format` names the reader instead of the path's shape.
#[pyfunction]
#[pyo3(signature = (path, format=None, include_optional=false))]
pub fn load_feature(
    py: Python<'_>,
    path: PathBuf,
    format: Option<String>,
    include_optional: bool,
) -> PyResult<Feature> {
    let options = kitty_orchestrator::engine::load_options(format.as_deref(), include_optional)
        .map_err(|e| crate::errors::to_py(py, e.into()))?;
    let result = py.detach(|| kitty_orchestrator::load_feature_with(&path, &options));
    match result {
        Ok(inner) => Ok(Feature { inner }),
        Err(err) => Err(crate::errors::to_py(py, err.into())),
    }
}

/// A validated feature: its work packages sorted by id.
#[pyclass(frozen, module = "kitty_orchestrator")]
pub struct Feature {
    inner: kitty_orchestrator::Feature,
}

#[pymethods]
impl Feature {
    /// The feature directory name.
    #[getter]
    fn slug(&self) -> &str {
        self.inner.slug.as_str()
    }

    /// The feature directory as given.
    #[getter]
    fn dir(&self) -> PathBuf {
        self.inner.dir.clone()
    }

    /// `"flat"`, `"lane_directories"` or `"event_log"`.
    #[getter]
    fn layout(&self) -> &'static str {
        match self.inner.layout {
            kitty_orchestrator::Layout::Flat => "flat",
            kitty_orchestrator::Layout::LaneDirectories => "lane_directories",
            kitty_orchestrator::Layout::EventLog => "event_log",
            kitty_orchestrator::Layout::Kiro => "kiro",
            kitty_orchestrator::Layout::TaskList => "task_list",
        }
    }

    /// `target_branch` from meta.json, if any.
    #[getter]
    fn target_branch(&self) -> Option<&str> {
        self.inner.meta.target_branch.as_deref()
    }

    /// The whole meta.json (None when absent).
    #[getter]
    fn meta(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        json_to_py(py, &self.inner.meta.raw)
    }

    /// Work packages sorted by id.
    #[getter]
    fn work_packages(&self) -> Vec<WorkPackage> {
        self.inner.work_packages.iter().cloned().map(|inner| WorkPackage { inner }).collect()
    }

    /// WP ids in stable topological order (ties broken by id).
    fn topological_order(&self) -> Vec<String> {
        self.inner.topological_order().into_iter().map(String::from).collect()
    }

    /// The work package with this id, or None.
    fn work_package(&self, id: &str) -> Option<WorkPackage> {
        let id = kitty_orchestrator::WpId::parse(id).ok()?;
        self.inner.work_package(&id).cloned().map(|inner| WorkPackage { inner })
    }

    fn __len__(&self) -> usize {
        self.inner.work_packages.len()
    }

    fn __repr__(&self) -> String {
        format!("Feature(slug={:?}, work_packages={})", self.inner.slug.as_str(), self.inner.work_packages.len())
    }
}

/// One work package of a feature.
#[pyclass(frozen, module = "kitty_orchestrator")]
pub struct WorkPackage {
    inner: kitty_orchestrator::WorkPackage,
}

#[pymethods]
impl WorkPackage {
    /// `WPxx`.
    #[getter]
    fn id(&self) -> &str {
        self.inner.id.as_str()
    }

    /// The title from the frontmatter.
    #[getter]
    fn title(&self) -> &str {
        &self.inner.title
    }

    /// Ids of the WPs this one depends on (sorted).
    #[getter]
    fn dependencies(&self) -> Vec<String> {
        self.inner.dependencies.iter().map(|d| d.to_string()).collect()
    }

    /// Subtask ids.
    #[getter]
    fn subtasks(&self) -> Vec<String> {
        self.inner.subtasks.clone()
    }

    /// The phase, if given.
    #[getter]
    fn phase(&self) -> Option<&str> {
        self.inner.phase.as_deref()
    }

    /// The prompt (markdown after the frontmatter).
    #[getter]
    fn prompt(&self) -> &str {
        &self.inner.prompt
    }

    /// The WP file.
    #[getter]
    fn source(&self) -> PathBuf {
        self.inner.source.clone()
    }

    /// The lane recorded in the feature files, as a `kitty_orchestrator.Lane`.
    #[getter]
    fn initial_lane(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        lane_to_py(py, self.inner.initial_lane)
    }

    /// Every other frontmatter key, as plain Python data.
    #[getter]
    fn extra(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        json_to_py(py, &serde_json::Value::Object(self.inner.extra.clone()))
    }

    fn __repr__(&self) -> String {
        format!(
            "WorkPackage(id={:?}, title={:?}, lane={:?}, dependencies={:?})",
            self.inner.id.as_str(),
            self.inner.title,
            self.inner.initial_lane.as_str(),
            self.dependencies()
        )
    }
}

/// A lane as the Python `Lane` enum (defined in the package's `__init__.py`).
pub fn lane_to_py(py: Python<'_>, lane: kitty_orchestrator::Lane) -> PyResult<Py<PyAny>> {
    let enum_class = py.import("kitty_orchestrator")?.getattr("Lane")?;
    Ok(enum_class.call1((lane.as_str(),))?.unbind())
}
