//! What `kitty_orchestrator` registered: for each core struct name its dataclass and how to fill
//! one (fields, defaults, factories), for each core enum name its members by value.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

/// How one registered dataclass is built.
pub(super) struct Shape {
    pub(super) cls: Py<PyAny>,
    /// Init fields other than `data`: whether each is required (no default).
    pub(super) fields: HashMap<String, bool>,
    pub(super) required: usize,
    pub(super) defaults: Vec<(Py<PyString>, Py<PyAny>)>,
    pub(super) factories: Vec<(Py<PyString>, Py<PyAny>)>,
}

/// The registered types, by the Rust (serde) name of the struct or enum they stand for.
pub(super) struct Registry {
    pub(super) object_new: Py<PyAny>,
    pub(super) data_key: Py<PyString>,
    pub(super) structs: HashMap<String, Shape>,
    /// Enum name → `{variant value: member}`.
    pub(super) enums: HashMap<String, Py<PyDict>>,
}

pub(super) static REGISTRY: Mutex<Option<Arc<Registry>>> = Mutex::new(None);

/// Registers the typed classes: `structs` maps a core struct's name to a frozen dataclass with a
/// keyword-only `data` field, `enums` a core enum's name to `{value: member}`. Called once by
/// `kitty_orchestrator` at import; a second call replaces the first.
#[pyfunction]
pub fn register_types(py: Python<'_>, structs: &Bound<'_, PyDict>, enums: &Bound<'_, PyDict>) -> PyResult<()> {
    let dataclasses = py.import("dataclasses")?;
    let missing = dataclasses.getattr("MISSING")?;
    let mut shapes = HashMap::new();
    for (name, cls) in structs.iter() {
        let name: String = name.extract()?;
        let mut shape = Shape {
            cls: cls.clone().unbind(),
            fields: HashMap::new(),
            required: 0,
            defaults: vec![],
            factories: vec![],
        };
        for field in dataclasses.call_method1("fields", (&cls,))?.try_iter()? {
            let field = field?;
            let field_name: String = field.getattr("name")?.extract()?;
            if field_name == "data" || !field.getattr("init")?.is_truthy()? {
                continue;
            }
            let key = PyString::intern(py, &field_name).unbind();
            let default = field.getattr("default")?;
            let factory = field.getattr("default_factory")?;
            let required = if !default.is(&missing) {
                shape.defaults.push((key, default.unbind()));
                false
            } else if !factory.is(&missing) {
                shape.factories.push((key, factory.unbind()));
                false
            } else {
                shape.required += 1;
                true
            };
            shape.fields.insert(field_name, required);
        }
        shapes.insert(name, shape);
    }
    let mut enum_maps = HashMap::new();
    for (name, members) in enums.iter() {
        enum_maps.insert(name.extract()?, members.cast::<PyDict>()?.clone().unbind());
    }
    let registry = Registry {
        object_new: py.import("builtins")?.getattr("object")?.getattr("__new__")?.unbind(),
        data_key: PyString::intern(py, "data").unbind(),
        structs: shapes,
        enums: enum_maps,
    };
    *REGISTRY.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(registry));
    Ok(())
}
