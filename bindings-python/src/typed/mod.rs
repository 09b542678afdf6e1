//! Core values to Python objects in one pass through their serde shape: `dict`/`list`/`str`/…
//! (the CLI's `--json` shape), and — for the structs and enums `kitty_orchestrator` registered
//! with [`register_types`] — its typed frozen dataclasses, built here rather than from the dicts
//! in Python.
//!
//! Why not `pythonize` and Python-side wrapping: a board of 1000 WPs made ~66 000 key strings
//! (one per field per WP) and then ran three Python functions per WP to wrap the dicts, together
//! twice the core read. Here each field name becomes an interned string once per call, and a
//! registered struct's object is made with `object.__new__` and its attributes stored by the C
//! function behind `object.__setattr__` — what the dataclass's generated `__init__` stores,
//! without running it (or making a `__dict__` object per instance).
//!
//! Every typed object keeps its data (`to_dict()`): the registered struct's dict shape, with
//! the keys this version does not know kept there and left out of the attributes.
//!
//! `registry` holds what was registered; `ser` is the serde serializer that builds both forms.

mod registry;
mod ser;

use std::cell::RefCell;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use serde::Serialize;

use registry::REGISTRY;
pub use registry::register_types;
use ser::{Ctx, Ser, store};

/// `value` as plain Python data (`dict`/`list`/`str`/`int`/`float`/`bool`/`None`).
pub fn to_py(py: Python<'_>, value: &impl Serialize) -> PyResult<Py<PyAny>> {
    let builder = Builder { ctx: Ctx { py, registry: None, slots: RefCell::default() } };
    Ok(builder.build(value)?.raw.unbind())
}

/// `value` with the registered structs and enums as their typed Python objects.
pub fn to_typed(py: Python<'_>, value: &impl Serialize) -> PyResult<Py<PyAny>> {
    Ok(Builder::typed(py)?.build(value)?.typed().clone().unbind())
}

/// Builds values one after another, sharing the interned field names between them.
pub struct Builder<'py> {
    ctx: Ctx<'py>,
}

impl<'py> Builder<'py> {
    /// A builder of typed objects (the registered classes).
    pub fn typed(py: Python<'py>) -> PyResult<Self> {
        let registry = REGISTRY.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let Some(registry) = registry else {
            return Err(PyRuntimeError::new_err(
                "the typed classes are not registered: import kitty_orchestrator, not kitty_orchestrator._native alone",
            ));
        };
        Ok(Builder { ctx: Ctx { py, registry: Some(registry), slots: RefCell::default() } })
    }

    /// `value`'s data and typed form. The cyclic garbage collector is paused meanwhile: it
    /// would otherwise scan the young objects every 700 containers made, a tenth of the time
    /// for a board of 1000 WPs, and none of them can be garbage yet.
    pub fn build(&self, value: &impl Serialize) -> PyResult<Out<'py>> {
        let _paused = GcPaused::new();
        value.serialize(Ser(&self.ctx)).map_err(|e| e.0)
    }
}

/// Pauses the cyclic garbage collector until dropped (if it was running).
struct GcPaused(bool);

impl GcPaused {
    fn new() -> Self {
        // SAFETY: called with the GIL held (a `Builder` lives inside `Python<'py>`).
        GcPaused(unsafe { pyo3::ffi::PyGC_Disable() } == 1)
    }
}

impl Drop for GcPaused {
    fn drop(&mut self) {
        if self.0 {
            // SAFETY: as in `new`; the GIL is still held.
            unsafe { pyo3::ffi::PyGC_Enable() };
        }
    }
}

/// A value built: its plain data, and its typed form where that differs (a registered struct or
/// enum in it).
pub struct Out<'py> {
    pub(super) raw: Bound<'py, PyAny>,
    pub(super) typed: Option<Bound<'py, PyAny>>,
}

impl<'py> Out<'py> {
    pub(super) fn plain(raw: Bound<'py, PyAny>) -> Self {
        Out { raw, typed: None }
    }

    /// The plain data.
    pub fn raw(&self) -> &Bound<'py, PyAny> {
        &self.raw
    }

    /// The typed form (the data itself where nothing in it is registered).
    pub fn typed(&self) -> &Bound<'py, PyAny> {
        self.typed.as_ref().unwrap_or(&self.raw)
    }

    /// Sets field `name` of a built struct to values built apart: `raw` in its data, `typed` in
    /// its typed object (bypassing the frozen dataclass's `__setattr__`, as building it did).
    pub fn set_field(&self, name: &str, raw: &Bound<'py, PyAny>, typed: &Bound<'py, PyAny>) -> PyResult<()> {
        self.raw.cast::<PyDict>()?.set_item(name, raw)?;
        if let Some(object) = &self.typed {
            store(object, &PyString::intern(self.raw.py(), name), typed)?;
        }
        Ok(())
    }
}
