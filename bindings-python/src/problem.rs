//! The `Problem` class: one problem of an invalid feature (file, line, column, message).

use std::path::PathBuf;

use pyo3::prelude::*;

/// One problem of an invalid feature: kind, file, line, column, message.
#[pyclass(frozen, module = "kitty_orchestrator")]
pub struct Problem {
    inner: kitty_orchestrator::Problem,
}

#[pymethods]
impl Problem {
    /// Stable snake_case kind, e.g. `"cycle"`.
    #[getter]
    fn kind(&self) -> &'static str {
        self.inner.kind.as_str()
    }

    /// The file at fault.
    #[getter]
    fn path(&self) -> PathBuf {
        self.inner.path.clone()
    }

    /// 1-based line, if known.
    #[getter]
    fn line(&self) -> Option<usize> {
        self.inner.line
    }

    /// 1-based column, if known.
    #[getter]
    fn column(&self) -> Option<usize> {
        self.inner.column
    }

    /// What is wrong.
    #[getter]
    fn message(&self) -> &str {
        &self.inner.message
    }

    fn __repr__(&self) -> String {
        let line = self.inner.line.map_or_else(|| "None".to_string(), |l| l.to_string());
        format!("Problem(kind={:?}, line={line}, message={:?})", self.inner.kind.as_str(), self.inner.message)
    }

    fn __str__(&self) -> String {
        self.inner.to_string()
    }
}

impl From<&kitty_orchestrator::Problem> for Problem {
    fn from(p: &kitty_orchestrator::Problem) -> Problem {
        Problem { inner: p.clone() }
    }
}
