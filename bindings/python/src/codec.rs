//! Encoding Python objects to the bytes stored in the core table, and back.
//!
//! Every supported object encodes to a self-delimiting byte string that
//! decodes to an equal object of the same type (`-0.0`, `nan`, big ints,
//! nested containers included). Keys use a *normalised* encoding on top:
//! objects that are equal in Python (`True == 1 == 1.0`, `-0.0 == 0`,
//! `(1, 2) == (True, 2.0)`) encode to the same bytes, so they find the same
//! entry, as in a dict. The original key's own encoding is kept beside the
//! value when it differs, so iteration gives back the first-inserted key.
//!
//! Only the exact built-in types are accepted (subclasses would not round-trip).

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple, PyType};
use pyo3::{intern, IntoPyObjectExt};

use crate::blob::{Blob, Buf};

pub const NONE: u8 = 0;
pub const FALSE: u8 = 1;
pub const TRUE: u8 = 2;
/// An int in the `i64` range: 8 little-endian bytes.
pub const INT: u8 = 3;
/// Any other int: varint length, then two's complement little-endian bytes.
pub const BIGINT: u8 = 4;
/// 8 little-endian bytes of the IEEE 754 bit pattern.
pub const FLOAT: u8 = 5;
/// Varint length, then UTF-8.
pub const STR: u8 = 6;
/// A str with lone surrogates: varint length, then UTF-8 with `surrogatepass`.
pub const STR_SURROGATES: u8 = 7;
/// Varint length, then the bytes.
pub const BYTES: u8 = 8;
/// Varint count, then the items. Tags from here on are containers.
pub const TUPLE: u8 = 9;
/// Varint count, then the items.
pub const LIST: u8 = 10;
/// Varint count, then key, value, key, value...
pub const DICT: u8 = 11;

/// Containers nest at most this deep (this also stops self-referencing lists).
pub const MAX_DEPTH: u32 = 200;

/// The one NaN every NaN key is stored as (see the module docs in `ferrets`).
const CANONICAL_NAN: u64 = 0x7ff8_0000_0000_0000;

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".into())
}

fn unsupported(obj: &Bound<'_, PyAny>) -> PyErr {
    PyTypeError::new_err(format!(
        "ferrets cannot store objects of type '{}' (supported: None, bool, int, float, str, bytes, tuple, list, dict)",
        type_name(obj)
    ))
}

fn too_deep() -> PyErr {
    PyValueError::new_err(format!(
        "ferrets cannot store containers nested more than {MAX_DEPTH} levels deep (or referencing themselves)"
    ))
}

fn write_int(out: &mut Buf, n: i64) {
    out.push(INT);
    out.extend(&n.to_le_bytes());
}

fn write_big_int(obj: &Bound<'_, PyAny>, out: &mut Buf) -> PyResult<()> {
    let py = obj.py();
    let bits: usize = obj.call_method0(intern!(py, "bit_length"))?.extract()?;
    let kwargs = PyDict::new(py);
    kwargs.set_item(intern!(py, "signed"), true)?;
    let bytes =
        obj.call_method(intern!(py, "to_bytes"), (bits / 8 + 1, intern!(py, "little")), Some(&kwargs))?;
    let bytes = bytes.cast_exact::<PyBytes>()?.as_bytes();
    out.push(BIGINT);
    out.varint(bytes.len());
    out.extend(bytes);
    Ok(())
}

fn write_str(s: &Bound<'_, PyString>, out: &mut Buf) -> PyResult<()> {
    match s.to_str() {
        Ok(text) => {
            out.push(STR);
            out.varint(text.len());
            out.extend(text.as_bytes());
        }
        Err(_) => {
            // Lone surrogates have no UTF-8 form; `surrogatepass` keeps them.
            let py = s.py();
            let bytes =
                s.call_method1(intern!(py, "encode"), (intern!(py, "utf-8"), intern!(py, "surrogatepass")))?;
            let bytes = bytes.cast_exact::<PyBytes>()?.as_bytes();
            out.push(STR_SURROGATES);
            out.varint(bytes.len());
            out.extend(bytes);
        }
    }
    Ok(())
}

/// The value of an exact int if it fits an `i64` (without raising on overflow).
#[inline(always)]
pub fn small_int(obj: &Bound<'_, PyAny>) -> Option<i64> {
    let mut overflow = 0;
    // SAFETY: `obj` is a live int (callers check) and we hold the GIL; this
    // call reports overflow through `overflow` instead of raising.
    let n = unsafe { ffi::PyLong_AsLongLongAndOverflow(obj.as_ptr(), &mut overflow) };
    (overflow == 0).then_some(n)
}

/// The characters of a compact ASCII str (most str keys), read in place:
/// they are their own UTF-8, so no call into the interpreter is needed.
#[inline(always)]
fn ascii<'a>(s: &'a Bound<'_, PyString>) -> Option<&'a [u8]> {
    let ptr = s.as_ptr();
    // SAFETY: `ptr` is a live exact str (we hold a reference and the GIL);
    // a compact ASCII str stores its `len` one-byte characters inline, and
    // they stay valid and unchanged for as long as the object lives.
    unsafe {
        if ffi::PyUnicode_IS_COMPACT_ASCII(ptr) == 0 {
            return None;
        }
        let len = ffi::PyUnicode_GET_LENGTH(ptr) as usize;
        Some(std::slice::from_raw_parts(ffi::PyUnicode_DATA(ptr) as *const u8, len))
    }
}

/// `dst[..src.len()] = src` for short slices, inline: overlapping word
/// copies instead of a call to `memcpy`.
#[inline(always)]
pub fn copy_short(dst: &mut [u8], src: &[u8]) {
    let n = src.len();
    let dst = &mut dst[..n];
    if n >= 8 {
        let mut i = 0;
        while i + 8 < n {
            dst[i..i + 8].copy_from_slice(&src[i..i + 8]);
            i += 8;
        }
        dst[n - 8..].copy_from_slice(&src[n - 8..]);
    } else if n >= 4 {
        dst[..4].copy_from_slice(&src[..4]);
        dst[n - 4..].copy_from_slice(&src[n - 4..]);
    } else {
        dst.copy_from_slice(src);
    }
}

/// The 8 bytes of `bytes` from `at`, little-endian.
#[inline(always)]
fn w8(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

/// `bytes` (at most 16) as a little-endian integer, read with at most two
/// overlapping loads.
#[inline(always)]
fn load_short(bytes: &[u8]) -> u128 {
    let n = bytes.len();
    let w4 = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().expect("4 bytes"));
    match n {
        // The two windows overlap on equal bytes, so OR joins them.
        8..=16 => u128::from(w8(bytes, 0)) | u128::from(w8(bytes, n - 8)) << (8 * (n - 8)),
        4..=7 => u128::from(w4(0) as u64 | u64::from(w4(n - 4)) << (8 * (n - 4))),
        _ => bytes.iter().rev().fold(0, |acc, &b| acc << 8 | u128::from(b)),
    }
}

/// Writes the `n` (at most 16) little-endian bytes of `e` to `out` with one
/// store per window that the key's hash (foldhash reads `[0..8]` and
/// `[n-8..n]`, or the 4-byte pair) and [`KeyBytes`](crate::blob::KeyBytes)'s
/// comparison read back right after. A load served by a single earlier
/// store of its size is forwarded from the store buffer; bytes written one
/// by one and read back as a word would stall it (several ns per lookup).
#[inline(always)]
fn store_windows(out: &mut [u8; SMALL], e: u128, n: usize) {
    match n {
        8..=16 => {
            out[..8].copy_from_slice(&(e as u64).to_le_bytes());
            out[n - 8..n].copy_from_slice(&((e >> (8 * (n - 8))) as u64).to_le_bytes());
        }
        4..=7 => {
            out[..4].copy_from_slice(&(e as u32).to_le_bytes());
            out[n - 4..n].copy_from_slice(&((e >> (8 * (n - 4))) as u32).to_le_bytes());
        }
        _ => {
            for (i, b) in out[..n].iter_mut().enumerate() {
                *b = (e >> (8 * i)) as u8;
            }
        }
    }
}

/// Stack bytes the key fast path ([`small_key_into`]) can fill.
pub const SMALL: usize = 64;

/// Fast path for the most common keys: writes the encoding of an exact `str`
/// (short), a 64-bit `int` or `None` (for these the key and value encodings
/// agree) into `out` and returns its length. `None` means: take the general
/// path.
#[inline(always)]
pub fn small_key_into(obj: &Bound<'_, PyAny>, out: &mut [u8; SMALL]) -> Option<usize> {
    if let Ok(s) = obj.cast_exact::<PyString>() {
        let text = match ascii(s) {
            Some(text) => text,
            None => s.to_str().ok()?.as_bytes(),
        };
        // A length below 128 is a one-byte varint.
        if text.len() > SMALL - 2 {
            return None;
        }
        let n = 2 + text.len();
        if (8..=14).contains(&text.len()) {
            // The most common short keys: the first window is the header
            // and six characters, the last one is all characters.
            let t = text.len();
            let first = u64::from(STR) | (t as u64) << 8 | w8(text, 0) << 16;
            out[..8].copy_from_slice(&first.to_le_bytes());
            out[t - 6..t + 2].copy_from_slice(&text[t - 8..t]);
        } else if n <= 16 {
            let head = u128::from(STR) | (text.len() as u128) << 8;
            store_windows(out, head | load_short(text) << 16, n);
        } else {
            out[0] = STR;
            out[1] = text.len() as u8;
            copy_short(&mut out[2..], text);
        }
        Some(n)
    } else if obj.is_exact_instance_of::<PyInt>() {
        let n = small_int(obj)? as u64;
        out[..8].copy_from_slice(&(u64::from(INT) | n << 8).to_le_bytes());
        out[1..9].copy_from_slice(&n.to_le_bytes());
        Some(9)
    } else if obj.is_none() {
        out[0] = NONE;
        Some(1)
    } else {
        None
    }
}

/// [`small_key_into`] as a [`Blob`].
#[inline(always)]
pub fn small_key(obj: &Bound<'_, PyAny>) -> Option<Blob> {
    let mut buf = [0; SMALL];
    small_key_into(obj, &mut buf).map(|n| Blob::new(&buf[..n]))
}

/// Fast path for the most common values, like [`small_key`] (plus `float`, `bool`).
#[inline(always)]
pub fn small_value(obj: &Bound<'_, PyAny>) -> Option<Blob> {
    if let Some(b) = small_key(obj) {
        Some(b)
    } else if let Ok(f) = obj.cast_exact::<PyFloat>() {
        Blob::inline(&[FLOAT], &f.value().to_bits().to_le_bytes())
    } else if let Ok(b) = obj.cast_exact::<PyBool>() {
        Blob::inline(&[if b.is_true() { TRUE } else { FALSE }], &[])
    } else {
        None
    }
}

/// Encodes `obj` so that [`decode`] gives back an equal object of the same type.
pub fn encode_value(obj: &Bound<'_, PyAny>, out: &mut Buf) -> PyResult<()> {
    value(obj, out, 0)
}

fn value(obj: &Bound<'_, PyAny>, out: &mut Buf, depth: u32) -> PyResult<()> {
    if let Ok(s) = obj.cast_exact::<PyString>() {
        write_str(s, out)
    } else if obj.is_exact_instance_of::<PyInt>() {
        match obj.extract::<i64>() {
            Ok(n) => {
                write_int(out, n);
                Ok(())
            }
            Err(_) => write_big_int(obj, out),
        }
    } else if obj.is_none() {
        out.push(NONE);
        Ok(())
    } else if let Ok(b) = obj.cast_exact::<PyBool>() {
        out.push(if b.is_true() { TRUE } else { FALSE });
        Ok(())
    } else if let Ok(f) = obj.cast_exact::<PyFloat>() {
        out.push(FLOAT);
        out.extend(&f.value().to_bits().to_le_bytes());
        Ok(())
    } else if let Ok(b) = obj.cast_exact::<PyBytes>() {
        let bytes = b.as_bytes();
        out.push(BYTES);
        out.varint(bytes.len());
        out.extend(bytes);
        Ok(())
    } else if let Ok(t) = obj.cast_exact::<PyTuple>() {
        let depth = nest(depth)?;
        out.push(TUPLE);
        out.varint(t.len());
        t.iter().try_for_each(|item| value(&item, out, depth))
    } else if let Ok(l) = obj.cast_exact::<PyList>() {
        let depth = nest(depth)?;
        // Snapshot the items: encoding may not run Python code, but be safe
        // against a list that changes size under another thread.
        let items: Vec<_> = l.iter().collect();
        out.push(LIST);
        out.varint(items.len());
        items.iter().try_for_each(|item| value(item, out, depth))
    } else if let Ok(d) = obj.cast_exact::<PyDict>() {
        let depth = nest(depth)?;
        let items: Vec<_> = d.iter().collect();
        out.push(DICT);
        out.varint(items.len());
        items.iter().try_for_each(|(k, v)| {
            value(k, out, depth)?;
            value(v, out, depth)
        })
    } else {
        Err(unsupported(obj))
    }
}

fn nest(depth: u32) -> PyResult<u32> {
    if depth >= MAX_DEPTH {
        Err(too_deep())
    } else {
        Ok(depth + 1)
    }
}

/// Encodes `obj` as a key: objects equal in Python encode equally. Returns
/// whether the normalised encoding differs from `obj`'s value encoding (so the
/// caller should keep the original key to give it back on iteration).
pub fn encode_key(obj: &Bound<'_, PyAny>, out: &mut Buf) -> PyResult<bool> {
    key(obj, out, 0)
}

fn key(obj: &Bound<'_, PyAny>, out: &mut Buf, depth: u32) -> PyResult<bool> {
    if obj.is_exact_instance_of::<PyString>() || obj.is_exact_instance_of::<PyInt>() {
        value(obj, out, depth)?;
        Ok(false)
    } else if let Ok(b) = obj.cast_exact::<PyBool>() {
        write_int(out, i64::from(b.is_true()));
        Ok(true)
    } else if let Ok(f) = obj.cast_exact::<PyFloat>() {
        let x = f.value();
        // 2^63 as f64: integral floats in [-2^63, 2^63) fit an i64 exactly.
        const LIMIT: f64 = 9_223_372_036_854_775_808.0;
        if x.fract() == 0.0 && (-LIMIT..LIMIT).contains(&x) {
            write_int(out, x as i64);
        } else if x.is_finite() && x.fract() == 0.0 {
            // A huge integral float equals the int of the same value.
            write_big_int(&obj.py().get_type::<PyInt>().call1((f,))?, out)?;
        } else if x.is_nan() {
            out.push(FLOAT);
            out.extend(&CANONICAL_NAN.to_le_bytes());
        } else {
            out.push(FLOAT);
            out.extend(&x.to_bits().to_le_bytes());
            return Ok(false);
        }
        Ok(true)
    } else if let Ok(t) = obj.cast_exact::<PyTuple>() {
        let depth = nest(depth)?;
        out.push(TUPLE);
        out.varint(t.len());
        let mut differs = false;
        for item in t.iter() {
            differs |= key(&item, out, depth)?;
        }
        Ok(differs)
    } else if obj.is_none() || obj.is_exact_instance_of::<PyBytes>() {
        value(obj, out, depth)?;
        Ok(false)
    } else if obj.is_exact_instance_of::<PyList>() || obj.is_exact_instance_of::<PyDict>() {
        Err(PyTypeError::new_err(format!("unhashable type: '{}'", type_name(obj))))
    } else {
        Err(unsupported(obj))
    }
}

/// Whether decoding `bytes` only calls C constructors of non-container
/// objects (no Python-level call, no container allocation that could start
/// the garbage collector and so run arbitrary finalizers). Such values are
/// decoded in place, while the table entry is borrowed.
pub fn is_atom(bytes: &[u8]) -> bool {
    matches!(bytes.first(), Some(&(NONE | FALSE | TRUE | INT | FLOAT | STR | BYTES)))
}

/// The `i64` held by a value encoding, if it is a (64-bit) int.
pub fn as_int(bytes: &[u8]) -> Option<i64> {
    match bytes {
        [INT, rest @ ..] => <[u8; 8]>::try_from(rest).ok().map(i64::from_le_bytes),
        _ => None,
    }
}

/// The value encoding of the int `n`.
pub fn int_bytes(n: i64) -> [u8; 9] {
    let mut out = [INT; 9];
    out[1..].copy_from_slice(&n.to_le_bytes());
    out
}

/// The Python type name of the object a value encoding decodes to.
pub fn tag_type_name(bytes: &[u8]) -> &'static str {
    match bytes.first() {
        Some(&NONE) => "NoneType",
        Some(&FALSE | &TRUE) => "bool",
        Some(&INT | &BIGINT) => "int",
        Some(&FLOAT) => "float",
        Some(&STR | &STR_SURROGATES) => "str",
        Some(&BYTES) => "bytes",
        Some(&TUPLE) => "tuple",
        Some(&LIST) => "list",
        Some(&DICT) => "dict",
        _ => "?",
    }
}

fn corrupt() -> PyErr {
    PyValueError::new_err("ferrets found a corrupt stored value (this is a bug)")
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> PyResult<u8> {
        let (&b, rest) = self.bytes.split_first().ok_or_else(corrupt)?;
        self.bytes = rest;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> PyResult<&'a [u8]> {
        if n > self.bytes.len() {
            return Err(corrupt());
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn word(&mut self) -> PyResult<[u8; 8]> {
        Ok(self.take(8)?.try_into().expect("took 8 bytes"))
    }

    fn varint(&mut self) -> PyResult<usize> {
        let mut n = 0usize;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            n |= usize::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(n);
            }
        }
        Err(corrupt())
    }

    /// A container's item count: each item takes at least one byte.
    fn count(&mut self) -> PyResult<usize> {
        let n = self.varint()?;
        if n > self.bytes.len() {
            return Err(corrupt());
        }
        Ok(n)
    }

    fn sized(&mut self) -> PyResult<&'a [u8]> {
        let n = self.varint()?;
        self.take(n)
    }
}

static INT_TYPE: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// Decodes bytes produced by [`encode_value`] or [`encode_key`].
pub fn decode<'py>(py: Python<'py>, bytes: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    // Fast paths for the most common stored objects.
    match bytes {
        [INT, rest @ ..] if rest.len() == 8 => {
            let n = i64::from_le_bytes(rest.try_into().expect("8 bytes"));
            return n.into_bound_py_any(py);
        }
        [NONE] => return Ok(py.None().into_bound(py)),
        _ => {}
    }
    let mut r = Reader { bytes };
    let obj = read(py, &mut r)?;
    if r.bytes.is_empty() {
        Ok(obj)
    } else {
        Err(corrupt())
    }
}

fn read<'py>(py: Python<'py>, r: &mut Reader<'_>) -> PyResult<Bound<'py, PyAny>> {
    Ok(match r.byte()? {
        NONE => py.None().into_bound(py),
        FALSE => PyBool::new(py, false).to_owned().into_any(),
        TRUE => PyBool::new(py, true).to_owned().into_any(),
        INT => i64::from_le_bytes(r.word()?).into_bound_py_any(py)?,
        BIGINT => {
            let bytes = PyBytes::new(py, r.sized()?);
            let kwargs = PyDict::new(py);
            kwargs.set_item(intern!(py, "signed"), true)?;
            let int = INT_TYPE.get_or_init(py, || py.get_type::<PyInt>().unbind()).bind(py);
            int.call_method(intern!(py, "from_bytes"), (bytes, intern!(py, "little")), Some(&kwargs))?
        }
        FLOAT => PyFloat::new(py, f64::from_bits(u64::from_le_bytes(r.word()?))).into_any(),
        STR => PyString::new(py, std::str::from_utf8(r.sized()?).map_err(|_| corrupt())?).into_any(),
        STR_SURROGATES => PyBytes::new(py, r.sized()?)
            .call_method1(intern!(py, "decode"), (intern!(py, "utf-8"), intern!(py, "surrogatepass")))?,
        BYTES => PyBytes::new(py, r.sized()?).into_any(),
        TUPLE => {
            let n = r.count()?;
            let items = (0..n).map(|_| read(py, r)).collect::<PyResult<Vec<_>>>()?;
            PyTuple::new(py, items)?.into_any()
        }
        LIST => {
            let n = r.count()?;
            let items = (0..n).map(|_| read(py, r)).collect::<PyResult<Vec<_>>>()?;
            PyList::new(py, items)?.into_any()
        }
        DICT => {
            let n = r.count()?;
            let dict = PyDict::new(py);
            for _ in 0..n {
                let k = read(py, r)?;
                dict.set_item(k, read(py, r)?)?;
            }
            dict.into_any()
        }
        _ => return Err(corrupt()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_short_and_store_windows_round_trip_every_length() {
        for n in 0..=16usize {
            let src: Vec<u8> = (1..=n as u8).map(|b| b.wrapping_mul(37)).collect();
            let e = load_short(&src);
            assert_eq!(e.to_le_bytes()[..n], src[..], "load {n}");
            assert!(n == 16 || e >> (8 * n) == 0, "nothing past {n}");
            let mut out = [0xee; SMALL];
            store_windows(&mut out, e, n);
            assert_eq!(&out[..n], &src[..], "store {n}");
            assert!(out[n..].iter().all(|&b| b == 0xee), "wrote past {n}");
        }
    }

    #[test]
    fn copy_short_copies_every_length_exactly() {
        for n in 0..=SMALL - 2 {
            let src: Vec<u8> = (1..=n as u8).collect();
            let mut dst = [0xee; SMALL];
            copy_short(&mut dst, &src);
            assert_eq!(&dst[..n], &src[..], "length {n}");
            assert!(dst[n..].iter().all(|&b| b == 0xee), "wrote past {n}");
        }
    }
}
