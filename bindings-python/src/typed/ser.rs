//! The serde serializer behind [`super::Builder`]: each value as its plain data and, where a
//! registered struct or enum is in it, its typed form.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use pyo3::IntoPyObjectExt;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyFloat, PyList, PyString, PyTuple};
use serde::ser::{self, Serialize};

use super::Out;
use super::registry::{Registry, Shape};

/// A field name seen at one position of a struct: its interned key and, for a registered class,
/// whether it is one of its fields (and required).
pub(super) struct Slot<'py> {
    name: *const u8,
    len: usize,
    key: Bound<'py, PyString>,
    field: Option<bool>,
}

pub(super) struct Ctx<'py> {
    pub(super) py: Python<'py>,
    pub(super) registry: Option<Arc<Registry>>,
    /// By struct name: the field names in the order last seen. A struct's fields come in the
    /// same order every time, so a lookup is a pointer comparison at the field's position.
    pub(super) slots: RefCell<HashMap<*const u8, Vec<Slot<'py>>>>,
}

/// A Python error carried through serde.
pub(super) struct Error(pub(super) PyErr);

impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.0, f)
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Error(PyValueError::new_err(msg.to_string()))
    }
}

impl From<PyErr> for Error {
    fn from(err: PyErr) -> Self {
        Error(err)
    }
}

type Result<T> = std::result::Result<T, Error>;

#[derive(Clone, Copy)]
pub(super) struct Ser<'a, 'py>(pub(super) &'a Ctx<'py>);

impl<'a, 'py> Ser<'a, 'py> {
    fn py(self) -> Python<'py> {
        self.0.py
    }

    fn done(self, value: impl IntoPyObject<'py>) -> Result<Out<'py>> {
        Ok(Out::plain(value.into_bound_py_any(self.py())?))
    }

    /// `{variant: value}`, serde's external tagging (plain data, like any unregistered shape).
    fn tagged(self, variant: &'static str, value: Out<'py>) -> Result<Out<'py>> {
        let raw = PyDict::new(self.py());
        raw.set_item(PyString::intern(self.py(), variant), &value.raw)?;
        Ok(Out::plain(raw.into_any()))
    }
}

impl<'a, 'py> ser::Serializer for Ser<'a, 'py> {
    type Ok = Out<'py>;
    type Error = Error;
    type SerializeSeq = SeqSer<'a, 'py>;
    type SerializeTuple = SeqSer<'a, 'py>;
    type SerializeTupleStruct = SeqSer<'a, 'py>;
    type SerializeTupleVariant = SeqSer<'a, 'py>;
    type SerializeMap = MapSer<'a, 'py>;
    type SerializeStruct = StructSer<'a, 'py>;
    type SerializeStructVariant = StructSer<'a, 'py>;

    fn serialize_bool(self, v: bool) -> Result<Out<'py>> {
        self.done(v)
    }
    fn serialize_i8(self, v: i8) -> Result<Out<'py>> {
        self.done(v)
    }
    fn serialize_i16(self, v: i16) -> Result<Out<'py>> {
        self.done(v)
    }
    fn serialize_i32(self, v: i32) -> Result<Out<'py>> {
        self.done(v)
    }
    fn serialize_i64(self, v: i64) -> Result<Out<'py>> {
        self.done(v)
    }
    fn serialize_i128(self, v: i128) -> Result<Out<'py>> {
        self.done(v)
    }
    fn serialize_u8(self, v: u8) -> Result<Out<'py>> {
        self.done(v)
    }
    fn serialize_u16(self, v: u16) -> Result<Out<'py>> {
        self.done(v)
    }
    fn serialize_u32(self, v: u32) -> Result<Out<'py>> {
        self.done(v)
    }
    fn serialize_u64(self, v: u64) -> Result<Out<'py>> {
        self.done(v)
    }
    fn serialize_u128(self, v: u128) -> Result<Out<'py>> {
        self.done(v)
    }
    fn serialize_f32(self, v: f32) -> Result<Out<'py>> {
        self.serialize_f64(f64::from(v))
    }
    fn serialize_f64(self, v: f64) -> Result<Out<'py>> {
        Ok(Out::plain(PyFloat::new(self.py(), v).into_any()))
    }
    fn serialize_char(self, v: char) -> Result<Out<'py>> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Result<Out<'py>> {
        Ok(Out::plain(PyString::new(self.py(), v).into_any()))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Out<'py>> {
        Ok(Out::plain(PyBytes::new(self.py(), v).into_any()))
    }
    fn serialize_none(self) -> Result<Out<'py>> {
        Ok(Out::plain(self.py().None().into_bound(self.py())))
    }
    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<Out<'py>> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<Out<'py>> {
        self.serialize_none()
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<Out<'py>> {
        self.serialize_none()
    }
    fn serialize_unit_variant(self, name: &'static str, _index: u32, variant: &'static str) -> Result<Out<'py>> {
        let raw = PyString::intern(self.py(), variant).into_any();
        let members = self.0.registry.as_ref().and_then(|r| r.enums.get(name));
        let typed = match members {
            Some(members) => match members.bind(self.py()).get_item(&raw)? {
                Some(member) => Some(member),
                None => {
                    return Err(Error(PyValueError::new_err(format!(
                        "{variant:?} is not a known {name} (the Python package is older than its engine?)"
                    ))));
                }
            },
            None => None,
        };
        Ok(Out { raw, typed })
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(self, _name: &'static str, value: &T) -> Result<Out<'py>> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Out<'py>> {
        let value = value.serialize(self)?;
        self.tagged(variant, value)
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<SeqSer<'a, 'py>> {
        Ok(SeqSer::new(self, len.unwrap_or(0), false, None))
    }
    fn serialize_tuple(self, len: usize) -> Result<SeqSer<'a, 'py>> {
        Ok(SeqSer::new(self, len, true, None))
    }
    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<SeqSer<'a, 'py>> {
        Ok(SeqSer::new(self, len, true, None))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<SeqSer<'a, 'py>> {
        Ok(SeqSer::new(self, len, true, Some(variant)))
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<MapSer<'a, 'py>> {
        Ok(MapSer { ser: self, raw: PyDict::new(self.py()), typed: None, key: None })
    }
    fn serialize_struct(self, name: &'static str, _len: usize) -> Result<StructSer<'a, 'py>> {
        StructSer::new(self, name, None)
    }
    fn serialize_struct_variant(
        self,
        name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<StructSer<'a, 'py>> {
        StructSer::new(self, name, Some(variant))
    }
}

/// Items of a list (or tuple); the typed list is made only once an item differs from its data.
pub(super) struct SeqSer<'a, 'py> {
    ser: Ser<'a, 'py>,
    raw: Vec<Bound<'py, PyAny>>,
    typed: Option<Vec<Bound<'py, PyAny>>>,
    tuple: bool,
    variant: Option<&'static str>,
}

impl<'a, 'py> SeqSer<'a, 'py> {
    fn new(ser: Ser<'a, 'py>, len: usize, tuple: bool, variant: Option<&'static str>) -> Self {
        SeqSer { ser, raw: Vec::with_capacity(len), typed: None, tuple, variant }
    }

    fn push<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
        let out = value.serialize(self.ser)?;
        match (out.typed, &mut self.typed) {
            (Some(typed), None) => {
                let mut items = self.raw.clone();
                items.push(typed);
                self.typed = Some(items);
            }
            (typed, Some(items)) => items.push(typed.unwrap_or_else(|| out.raw.clone())),
            (None, None) => {}
        }
        self.raw.push(out.raw);
        Ok(())
    }

    fn finish(self) -> Result<Out<'py>> {
        let py = self.ser.py();
        let make = |items: Vec<Bound<'py, PyAny>>| -> PyResult<Bound<'py, PyAny>> {
            if self.tuple { Ok(PyTuple::new(py, items)?.into_any()) } else { Ok(PyList::new(py, items)?.into_any()) }
        };
        let typed = self.typed.map(&make).transpose()?;
        let out = Out { raw: make(self.raw)?, typed };
        match self.variant {
            Some(variant) => self.ser.tagged(variant, out),
            None => Ok(out),
        }
    }
}

/// The serde traits whose items or fields a builder takes one after another: each forwards to
/// the builder's own `push` and `finish`.
macro_rules! forward {
    ($builder:ident: $($trait:ident::$method:ident),+ $(,)?) => {$(
        impl<'py> ser::$trait for $builder<'_, 'py> {
            type Ok = Out<'py>;
            type Error = Error;
            fn $method<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
                self.push(value)
            }
            fn end(self) -> Result<Out<'py>> {
                self.finish()
            }
        }
    )+};
}

forward!(SeqSer: SerializeSeq::serialize_element, SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field, SerializeTupleVariant::serialize_field);

/// Sets `key` in the typed dict, making it (a copy of the data so far) when a value first
/// differs from its data.
fn set_typed<'py>(
    raw: &Bound<'py, PyDict>,
    typed: &mut Option<Bound<'py, PyDict>>,
    key: &Bound<'py, PyAny>,
    out: &Out<'py>,
) -> PyResult<()> {
    match (&out.typed, typed.as_ref()) {
        (Some(value), None) => {
            let dict = raw.copy()?;
            dict.set_item(key, value)?;
            *typed = Some(dict);
        }
        (value, Some(dict)) => dict.set_item(key, value.as_ref().unwrap_or(&out.raw))?,
        (None, None) => {}
    }
    Ok(())
}

/// Sets attribute `key` of a typed object as `object.__setattr__` would: past the frozen
/// dataclass's `__setattr__` (as its generated `__init__` does), into the instance's own
/// attribute storage — without making a `__dict__` object for it.
pub(super) fn store<'py>(
    object: &Bound<'py, PyAny>,
    key: &Bound<'py, PyString>,
    value: &Bound<'py, PyAny>,
) -> PyResult<()> {
    // SAFETY: three live objects, the GIL held; the call does not steal references and
    // returns -1 with the exception set on failure.
    let status = unsafe { pyo3::ffi::PyObject_GenericSetAttr(object.as_ptr(), key.as_ptr(), value.as_ptr()) };
    if status < 0 { Err(PyErr::fetch(object.py())) } else { Ok(()) }
}

/// A map: `dict` with the keys' data (a key is never a typed object).
pub(super) struct MapSer<'a, 'py> {
    ser: Ser<'a, 'py>,
    raw: Bound<'py, PyDict>,
    typed: Option<Bound<'py, PyDict>>,
    key: Option<Bound<'py, PyAny>>,
}

impl<'py> ser::SerializeMap for MapSer<'_, 'py> {
    type Ok = Out<'py>;
    type Error = Error;
    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> Result<()> {
        self.key = Some(key.serialize(self.ser)?.raw);
        Ok(())
    }
    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
        let key = self.key.take().ok_or_else(|| Error(PyTypeError::new_err("a map value came without its key")))?;
        let out = value.serialize(self.ser)?;
        self.raw.set_item(&key, &out.raw)?;
        set_typed(&self.raw, &mut self.typed, &key, &out)?;
        Ok(())
    }
    fn end(self) -> Result<Out<'py>> {
        Ok(Out { raw: self.raw.into_any(), typed: self.typed.map(Bound::into_any) })
    }
}

/// A struct: its data as a `dict` and, when its name is registered, its typed object (filled
/// field by field into the object's `__dict__`). An unregistered struct is plain data through
/// and through — a `Lane` inside an event stays the string it is in `to_dict()`.
pub(super) struct StructSer<'a, 'py> {
    ser: Ser<'a, 'py>,
    name: &'static str,
    variant: Option<&'static str>,
    shape: Option<&'a Shape>,
    raw: Bound<'py, PyDict>,
    /// The typed object (registered only), its attributes set as the fields come.
    object: Option<Bound<'py, PyAny>>,
    required_seen: usize,
    slots: Vec<Slot<'py>>,
    at: usize,
}

impl<'a, 'py> StructSer<'a, 'py> {
    fn new(ser: Ser<'a, 'py>, name: &'static str, variant: Option<&'static str>) -> Result<Self> {
        let py = ser.py();
        let shape = if variant.is_none() { ser.0.registry.as_ref().and_then(|r| r.structs.get(name)) } else { None };
        let object = match shape {
            Some(shape) => {
                let registry = ser.0.registry.as_ref().expect("a shape comes from the registry");
                let object = registry.object_new.bind(py).call1((shape.cls.bind(py),))?;
                for (key, default) in &shape.defaults {
                    store(&object, key.bind(py), default.bind(py))?;
                }
                for (key, factory) in &shape.factories {
                    store(&object, key.bind(py), &factory.bind(py).call0()?)?;
                }
                Some(object)
            }
            None => None,
        };
        let slots = ser.0.slots.borrow_mut().remove(&name.as_ptr()).unwrap_or_default();
        Ok(StructSer { ser, name, variant, shape, raw: PyDict::new(py), object, required_seen: 0, slots, at: 0 })
    }

    /// The slot of `key`, the struct's next field: found at its position, or made there.
    fn slot(&mut self, key: &'static str) -> &Slot<'py> {
        let at = self.at;
        self.at += 1;
        let fresh = match self.slots.get(at) {
            Some(slot) => slot.name != key.as_ptr() || slot.len != key.len(),
            None => true,
        };
        if fresh {
            let slot = Slot {
                name: key.as_ptr(),
                len: key.len(),
                key: PyString::intern(self.ser.py(), key),
                field: self.shape.and_then(|shape| shape.fields.get(key).copied()),
            };
            if at < self.slots.len() {
                self.slots[at] = slot;
            } else {
                self.slots.push(slot);
            }
        }
        &self.slots[at]
    }

    fn field<T: ?Sized + Serialize>(&mut self, key: &'static str, value: &T) -> Result<()> {
        let out = value.serialize(self.ser)?;
        let slot = self.slot(key);
        let (key, field) = (slot.key.clone(), slot.field);
        self.raw.set_item(&key, &out.raw)?;
        if let (Some(required), Some(object)) = (field, &self.object) {
            store(object, &key, out.typed.as_ref().unwrap_or(&out.raw))?;
            self.required_seen += usize::from(required);
        }
        Ok(())
    }

    fn finish(self) -> Result<Out<'py>> {
        let py = self.ser.py();
        self.ser.0.slots.borrow_mut().insert(self.name.as_ptr(), self.slots);
        let raw = self.raw;
        let out = match (self.shape, self.object) {
            (Some(shape), Some(object)) => {
                let registry = self.ser.0.registry.as_ref().expect("a shape comes from the registry");
                store(&object, registry.data_key.bind(py), &raw)?;
                if self.required_seen < shape.required {
                    // A required field is missing: the dataclass's own constructor says which.
                    let kwargs = object.getattr("__dict__")?.cast_into::<PyDict>().map_err(PyErr::from)?.copy()?;
                    return Ok(Out { typed: Some(shape.cls.bind(py).call((), Some(&kwargs))?), raw: raw.into_any() });
                }
                Out { raw: raw.into_any(), typed: Some(object) }
            }
            _ => Out::plain(raw.into_any()),
        };
        match self.variant {
            Some(variant) => self.ser.tagged(variant, out),
            None => Ok(out),
        }
    }
}

impl<'py> ser::SerializeStruct for StructSer<'_, 'py> {
    type Ok = Out<'py>;
    type Error = Error;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, key: &'static str, value: &T) -> Result<()> {
        self.field(key, value)
    }
    fn end(self) -> Result<Out<'py>> {
        self.finish()
    }
}

impl<'py> ser::SerializeStructVariant for StructSer<'_, 'py> {
    type Ok = Out<'py>;
    type Error = Error;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, key: &'static str, value: &T) -> Result<()> {
        self.field(key, value)
    }
    fn end(self) -> Result<Out<'py>> {
        self.finish()
    }
}
