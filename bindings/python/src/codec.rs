//! Encoding Python keys and values to bytes stored in the core table.
//!
//! Values round-trip exactly. Keys are normalised so that keys equal in
//! Python (`True == 1 == 1.0`) encode equally, like dict keys.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyFloat, PyInt, PyString};

const NONE: u8 = 0;
const FALSE: u8 = 1;
const TRUE: u8 = 2;
const INT: u8 = 3;
const FLOAT: u8 = 4;
const STR: u8 = 5;
const BYTES: u8 = 6;

fn unsupported(obj: &Bound<'_, PyAny>) -> PyErr {
    let name = obj.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".into());
    PyTypeError::new_err(format!("ferrets cannot store objects of type '{name}'"))
}

/// Encodes a value so that [`decode`] gives back an equal object of the same type.
pub fn encode_value(obj: &Bound<'_, PyAny>) -> PyResult<Box<[u8]>> {
    let mut out = Vec::new();
    if obj.is_none() {
        out.push(NONE);
    } else if obj.is_instance_of::<PyBool>() {
        out.push(if obj.extract::<bool>()? { TRUE } else { FALSE });
    } else if obj.is_instance_of::<PyInt>() {
        let n: i64 = obj
            .extract()
            .map_err(|_| PyValueError::new_err("integers outside the 64-bit range are not supported yet"))?;
        out.push(INT);
        out.extend_from_slice(&n.to_le_bytes());
    } else if obj.is_instance_of::<PyFloat>() {
        out.push(FLOAT);
        out.extend_from_slice(&obj.extract::<f64>()?.to_le_bytes());
    } else if obj.is_instance_of::<PyString>() {
        out.push(STR);
        out.extend_from_slice(obj.extract::<&str>()?.as_bytes());
    } else if obj.is_instance_of::<PyBytes>() {
        out.push(BYTES);
        out.extend_from_slice(obj.extract::<&[u8]>()?);
    } else {
        return Err(unsupported(obj));
    }
    Ok(out.into_boxed_slice())
}

/// Encodes a key: like a value, but `bool`s and integral `float`s become the
/// equal `int`, so equal keys collide as they do in a dict.
pub fn encode_key(obj: &Bound<'_, PyAny>) -> PyResult<Box<[u8]>> {
    if obj.is_instance_of::<PyBool>() {
        let n = i64::from(obj.extract::<bool>()?);
        return Ok([&[INT][..], &n.to_le_bytes()].concat().into());
    }
    if obj.is_instance_of::<PyFloat>() {
        let f: f64 = obj.extract()?;
        if f.fract() == 0.0 && f >= i64::MIN as f64 && f < i64::MAX as f64 {
            return Ok([&[INT][..], &(f as i64).to_le_bytes()].concat().into());
        }
    }
    encode_value(obj)
}

/// Decodes bytes produced by [`encode_value`] or [`encode_key`].
pub fn decode<'py>(py: Python<'py>, bytes: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    let corrupt = || PyValueError::new_err("corrupt stored value");
    let (&tag, rest) = bytes.split_first().ok_or_else(corrupt)?;
    let word = || <[u8; 8]>::try_from(rest).map_err(|_| corrupt());
    Ok(match tag {
        NONE => py.None().into_bound(py),
        FALSE => PyBool::new(py, false).to_owned().into_any(),
        TRUE => PyBool::new(py, true).to_owned().into_any(),
        INT => i64::from_le_bytes(word()?).into_pyobject(py)?.into_any(),
        FLOAT => f64::from_le_bytes(word()?).into_pyobject(py)?.into_any(),
        STR => PyString::new(py, std::str::from_utf8(rest).map_err(|_| corrupt())?).into_any(),
        BYTES => PyBytes::new(py, rest).into_any(),
        _ => return Err(corrupt()),
    })
}
