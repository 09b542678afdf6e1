//! JSON-shaped data to plain Python objects and back: core values serialize with serde to
//! JSON-shaped data, which becomes `dict`/`list`/`str`/… (see [`crate::typed`], which also builds
//! the typed objects); options and configurations come the other way.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::Value;

pub use crate::typed::{to_py, to_typed};

/// Python data (`None`, `bool`, `int`, `float`, `str`, `list`/`tuple`, `dict` with `str` keys) as
/// a JSON value; anything else is a `TypeError` naming where it is.
pub fn py_to_json(value: &Bound<'_, PyAny>, at: &str) -> PyResult<Value> {
    if value.is_none() {
        return Ok(Value::Null);
    }
    if value.is_instance_of::<PyBool>() {
        return Ok(Value::Bool(value.extract()?));
    }
    if value.is_instance_of::<PyInt>() {
        return match value.extract::<i64>() {
            Ok(i) => Ok(Value::from(i)),
            Err(_) => Ok(Value::from(value.extract::<u64>()?)),
        };
    }
    if value.is_instance_of::<PyFloat>() {
        let f: f64 = value.extract()?;
        return serde_json::Number::from_f64(f)
            .map(Value::Number)
            .ok_or_else(|| PyTypeError::new_err(format!("{at}: {f} is not a finite number")));
    }
    if value.is_instance_of::<PyString>() {
        return Ok(Value::String(value.extract()?));
    }
    if let Ok(list) = value.cast::<PyList>() {
        return list.iter().enumerate().map(|(i, v)| py_to_json(&v, &format!("{at}[{i}]"))).collect();
    }
    if let Ok(tuple) = value.cast::<PyTuple>() {
        return tuple.iter().enumerate().map(|(i, v)| py_to_json(&v, &format!("{at}[{i}]"))).collect();
    }
    if let Ok(dict) = value.cast::<PyDict>() {
        let mut map = serde_json::Map::new();
        for (k, v) in dict.iter() {
            let key: String = k.extract().map_err(|_| PyTypeError::new_err(format!("{at}: keys must be str")))?;
            let value = py_to_json(&v, &format!("{at}.{key}"))?;
            map.insert(key, value);
        }
        return Ok(Value::Object(map));
    }
    let kind = value.get_type().name().map(|n| n.to_string()).unwrap_or_default();
    Err(PyTypeError::new_err(format!("{at}: a {kind} cannot be configuration data")))
}

/// Converts a JSON value into `None`/`bool`/`int`/`float`/`str`/`list`/`dict`.
pub fn json_to_py(py: Python<'_>, value: &Value) -> PyResult<Py<PyAny>> {
    Ok(match value {
        Value::Null => py.None(),
        Value::Bool(b) => b.into_pyobject(py)?.to_owned().into_any().unbind(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any().unbind()
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any().unbind()
            } else {
                n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any().unbind()
            }
        }
        Value::String(s) => s.into_pyobject(py)?.into_any().unbind(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(json_to_py(py, item)?)?;
            }
            list.into_any().unbind()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (k, v) in map {
                dict.set_item(k, json_to_py(py, v)?)?;
            }
            dict.into_any().unbind()
        }
    })
}
