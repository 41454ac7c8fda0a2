//! `ferrets.Table`: a thread-safe mutable mapping over the core table.

use std::borrow::Borrow;
use std::sync::{Arc, Mutex};

use ferrets_core::snapshot::{self, SnapError};
use ferrets_core::{Compute, HeapSize, TableOptions};
use pyo3::exceptions::{PyKeyError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyInt, PyString, PyTuple};
use pyo3::IntoPyObjectExt;

use crate::blob::{Blob, Buf, KeyBytes, Original};
use crate::cache::ReadCache;
use crate::codec::{
    as_int, decode, encode_key, encode_value, int_bytes, is_atom, small_int, small_key, small_key_into,
    small_value, tag_type_name, BIGINT, INT, SMALL,
};
use crate::gil::{serial, Serial};
use crate::registry;
use crate::value::{Bytes, Value};

/// What the core table stores under a (normalised) key. With the key's
/// [`Blob`] it makes a 64-byte block, one cache line (a test checks the
/// sizes): short keys and values inline, the rest behind a pointer.
#[derive(Clone)]
pub struct Entry {
    /// The value's encoding (short ones rewritable in place).
    value: Value,
    /// The first-inserted key's own encoding, when it differs from the
    /// normalised one (`True` stored under `1`): iteration gives it back.
    key: Option<Original>,
}

impl HeapSize for Entry {
    fn heap_size(&self) -> usize {
        self.value.heap_size() + self.key.as_ref().map_or(0, Original::heap_size)
    }
}

type Map = ferrets_core::Table<Blob, Entry>;

/// An encoded entry waiting to be written: normalised key, original key, value.
type Pending = (Blob, Option<Original>, Value);

/// No original key in a snapshot record (the normalised key is the key).
const NO_ORIGINAL: u32 = u32::MAX;

/// Appends `bytes` with a u32 little-endian length prefix.
fn put_len_prefixed(out: &mut Vec<u8>, bytes: &[u8]) -> Result<(), SnapError> {
    let len = u32::try_from(bytes.len()).ok().filter(|&n| n != NO_ORIGINAL).ok_or(SnapError::Corrupt)?;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}

/// One snapshot record: the normalised key and the original key, each
/// length-prefixed (the original's length is `NO_ORIGINAL` when absent), then
/// the value's encoding up to the end of the record.
fn entry_record(key: &[u8], e: &Entry, out: &mut Vec<u8>) -> Result<(), SnapError> {
    out.clear();
    put_len_prefixed(out, key)?;
    match &e.key {
        Some(original) => put_len_prefixed(out, original)?,
        None => out.extend_from_slice(&NO_ORIGINAL.to_le_bytes()),
    }
    out.extend_from_slice(&e.value.bytes());
    Ok(())
}

/// The entry a snapshot record holds; `None` when it is malformed.
fn record_entry(rec: &[u8]) -> Option<Pending> {
    fn take<'a>(rec: &mut &'a [u8]) -> Option<Option<&'a [u8]>> {
        let (len, rest) = rec.split_first_chunk::<4>()?;
        let len = u32::from_le_bytes(*len);
        if len == NO_ORIGINAL {
            *rec = rest;
            return Some(None);
        }
        let (bytes, rest) = rest.split_at_checked(len as usize)?;
        *rec = rest;
        Some(Some(bytes))
    }
    let mut rest = rec;
    let key = take(&mut rest)??;
    let original = take(&mut rest)?;
    if key.is_empty() || rest.is_empty() {
        return None;
    }
    Some((Blob::new(key), original.map(Original::new), Value::new(rest)))
}

/// A snapshot error as the Python exception a caller expects: `OSError`
/// (its subclass for the errno) for I/O, `ValueError` for a bad file.
fn snapshot_error(e: SnapError) -> PyErr {
    match e {
        SnapError::Io(e) => e.into(),
        SnapError::Truncated => PyValueError::new_err("snapshot file is truncated"),
        SnapError::Corrupt => {
            PyValueError::new_err("snapshot file is corrupt (bad header, record or checksum)")
        }
        SnapError::Interrupted(why) => PyValueError::new_err(format!("snapshot interrupted: {why}")),
    }
}

/// A table and its registered name, shared by every handle to it.
pub struct Shared {
    map: Map,
    name: Option<String>,
    /// Objects recent reads returned (see `cache`).
    cache: ReadCache,
}

/// Tables with more entries than this are snapshotted and bulk-written with
/// the GIL released.
const DETACH_ABOVE: usize = 256;

/// An encoded key: the normalised bytes and, if different, the original's.
struct Key {
    norm: Blob,
    original: Option<Original>,
}

fn key_of(obj: &Bound<'_, PyAny>) -> PyResult<Key> {
    if let Some(norm) = small_key(obj) {
        return Ok(Key { norm, original: None });
    }
    let mut norm = Buf::new();
    let differs = encode_key(obj, &mut norm)?;
    let original = if differs {
        let mut own = Buf::new();
        encode_value(obj, &mut own)?;
        Some(Original::new(own.as_slice()))
    } else {
        None
    };
    Ok(Key { norm: norm.to_blob(), original })
}

/// Calls `f` with the normalised encoding of `obj`, built on the stack.
#[inline(always)]
fn with_key<R>(obj: &Bound<'_, PyAny>, f: impl FnOnce(&KeyBytes) -> R) -> PyResult<R> {
    let mut stack = [0; SMALL];
    if let Some(n) = small_key_into(obj, &mut stack) {
        return Ok(f(KeyBytes::new(&stack[..n])));
    }
    let mut k = Buf::new();
    encode_key(obj, &mut k)?;
    Ok(f(KeyBytes::new(k.as_slice())))
}

#[inline]
fn value_of(obj: &Bound<'_, PyAny>) -> PyResult<Blob> {
    if let Some(v) = small_value(obj) {
        return Ok(v);
    }
    let mut buf = Buf::new();
    encode_value(obj, &mut buf)?;
    Ok(buf.to_blob())
}

/// Stores `value` under `key`, keeping the first-inserted original key, in a
/// new entry. Returns whether the key was new.
fn put(map: &Map, key: Blob, original: Option<Original>, value: Value) -> bool {
    map.compute(key, |old| match old {
        Some(e) => Compute::Insert(Entry { value: value.clone(), key: e.key.clone() }, false),
        None => Compute::Insert(Entry { value: value.clone(), key: original.clone() }, true),
    })
}

/// A common value, encoded for `t[k] = v`'s fast path.
enum Short {
    /// An int of 64 bits, written from registers.
    Int(i64),
    /// Any other common value's encoding.
    Bytes(Blob),
}

/// The bytes of a value being removed based on them (`pop`): sealed first,
/// so that no in-place write lands after they are read.
fn final_value(e: &Entry) -> Bytes {
    e.value.seal();
    e.value.bytes()
}

/// A reader section for a lookup: on the slot GIL holders share when the
/// thread holds the GIL (see `gil`), which the caller drops before the GIL
/// can move (no Python code runs inside).
#[inline(always)]
fn section(serial: Option<Serial<'_>>) -> ferrets_core::Pinned {
    serial.map_or_else(ferrets_core::pinned, Serial::pinned)
}

/// Runs an in-place write on the value under `key`; whether it took.
#[inline]
fn overwrite(map: &Map, key: &KeyBytes, write: impl FnOnce(&Value) -> bool) -> bool {
    overwrite_entry(map, key, None, write).is_some()
}

/// [`overwrite`], giving the address of the entry written (for the read
/// cache, see `cache`; only valid while the entry stays linked).
#[inline(always)]
fn overwrite_entry(
    map: &Map,
    key: &KeyBytes,
    serial: Option<Serial<'_>>,
    write: impl FnOnce(&Value) -> bool,
) -> Option<*const Entry> {
    let pinned = section(serial);
    map.get_ref(key, &pinned).filter(|e| write(&e.value)).map(|e| e as *const Entry)
}

fn decode_key<'py>(py: Python<'py>, key: &Blob, entry: &Entry) -> PyResult<Bound<'py, PyAny>> {
    decode(py, entry.key.as_deref().unwrap_or(key))
}

/// Which part of the entries an iterator yields.
#[derive(Clone, Copy)]
enum Part {
    Keys,
    Values,
    Items,
}

/// A thread-safe mutable mapping with a Rust core, usable from many threads at once.
///
/// ``Table(name=None, partitions=None, capacity=0)`` behaves like a ``dict``
/// (it is a ``collections.abc.MutableMapping``) whose every operation is
/// atomic. Keys and values are stored by value: ``None``, ``bool``, ``int``,
/// ``float``, ``str``, ``bytes``, and ``tuple``/``list``/``dict`` of those
/// (keys must be hashable: no ``list``/``dict``); containers come back as new
/// copies, while a short immutable value read again may be the very object
/// read before (a per-table read cache, exact under concurrent writes).
/// Equal keys (``1``, ``True``, ``1.0``) are the same key, as in a dict.
/// Iteration walks the live table with a cursor, a short batch at a time: it
/// never fails under concurrent writes and sees each entry present
/// throughout exactly once; its order is arbitrary.
///
/// With ``name``, the table is also registered so ``ferrets.open(name)`` finds
/// it from any thread, until ``drop()``.
#[pyclass(module = "ferrets._native", frozen, mapping)]
pub struct Table {
    shared: Arc<Shared>,
}

impl Table {
    fn map(&self) -> &Map {
        &self.shared.map
    }

    fn cache(&self) -> &ReadCache {
        &self.shared.cache
    }

    /// Keeps the read cache in step after a write to `key` (see `cache`).
    #[inline]
    fn forget(&self, key: &Bound<'_, PyAny>) {
        if let Some(s) = serial(key.py()) {
            self.cache().forget(s, key);
        }
    }

    /// Runs a bulk write (which may release the GIL) outside the read cache.
    fn bulk<R>(&self, py: Python<'_>, write: impl FnOnce() -> R) -> R {
        match serial(py) {
            Some(s) => self.cache().bulk(s, write),
            None => write(),
        }
    }

    /// Wraps an existing shared table (a named table opened again).
    pub fn from_shared(shared: Arc<Shared>) -> Self {
        Table { shared }
    }

    /// The decoded value under an encoded key.
    #[inline]
    fn lookup<'py>(&self, py: Python<'py>, key: &KeyBytes) -> PyResult<Option<Bound<'py, PyAny>>> {
        // Atoms are decoded while pinned (their constructors run no Python
        // code); inline values are copied out (a consistent copy, see
        // `value`) and long containers shared out, then decoded unpinned,
        // since building containers may run the garbage collector (and so
        // any Python code). A borrow rather than `get_with`, so that all of
        // this inlines here: no result is moved through memory.
        let pinned = section(serial(py));
        let Some(entry) = self.map().get_ref(key, &pinned) else { return Ok(None) };
        let value = &entry.value;
        let copied = match value {
            Value::Inline(_) => match value.int_or_bytes() {
                Ok(n) => {
                    drop(pinned);
                    return n.into_bound_py_any(py).map(Some);
                }
                Err(bytes) => bytes,
            },
            Value::Heap(b) if is_atom(b) => return decode(py, b).map(Some),
            Value::Heap(b) => Bytes::Heap(b.clone()),
        };
        drop(pinned);
        decode(py, &copied).map(Some)
    }

    /// `t[k]`'s fast path for a common key (see `small_key_into`):
    /// `Some(Some(value))` for an atom (inline or long), `Some(None)` when
    /// the key is absent. `None` means: take the full path (other keys,
    /// containers, errors), which sees the same or a later state. No
    /// `PyResult` on the way, so nothing large is moved through memory on
    /// the hottest call.
    #[inline(always)]
    pub(crate) fn get_fast<'py>(&self, key: &Bound<'py, PyAny>) -> Option<Option<Bound<'py, PyAny>>> {
        let py = key.py();
        let serial = serial(py);
        if let Some(s) = serial {
            if let Some(v) = self.cache().get(s, key) {
                return Some(Some(v));
            }
        }
        let mut stack = [0; SMALL];
        let n = small_key_into(key, &mut stack)?;
        let pinned = section(serial);
        let Some(entry) = self.map().get_ref(KeyBytes::new(&stack[..n]), &pinned) else {
            return Some(None);
        };
        let at: *const Entry = entry;
        let (bytes, short) = match entry.value.int_or_bytes() {
            Ok(n) => {
                drop(pinned);
                let v = n.into_pyobject(py).unwrap_or_else(|e| match e {}).into_any();
                if let Some(s) = serial {
                    self.cache().fill(s, key, Some(&v), at, || self.map().len());
                }
                return Some(Some(v));
            }
            Err(bytes) if is_atom(&bytes) => {
                let short = matches!(bytes, Bytes::Inline { .. });
                (bytes, short)
            }
            Err(_) => return None,
        };
        drop(pinned);
        // An atom's decoding fails only on a memory error, which the full
        // path then raises.
        let v = decode(py, &bytes).ok()?;
        // Only short values are cached: the memory the cache holds stays small.
        if let (Some(s), true) = (serial, short) {
            self.cache().fill(s, key, Some(&v), at, || self.map().len());
        }
        Some(Some(v))
    }

    /// `k in t`'s fast path for common keys; `None`: take the full path.
    #[inline(always)]
    pub(crate) fn contains_fast(&self, key: &Bound<'_, PyAny>) -> Option<bool> {
        let serial = serial(key.py());
        if let Some(s) = serial {
            if self.cache().contains(s, key) {
                return Some(true);
            }
        }
        let mut stack = [0; SMALL];
        let n = small_key_into(key, &mut stack)?;
        let Some(s) = serial else { return Some(self.map().contains_key(KeyBytes::new(&stack[..n]))) };
        let pinned = s.pinned();
        let at = self.map().get_ref(KeyBytes::new(&stack[..n]), &pinned).map(|e| e as *const Entry);
        drop(pinned);
        if let Some(at) = at {
            self.cache().fill(s, key, None, at, || self.map().len());
        }
        Some(at.is_some())
    }

    /// `t[k] = v`'s fast path: a common key and a common value (neither can
    /// fail to encode), rewritten in place over a short value, else stored
    /// in a new entry. `false`: nothing changed, take the full path.
    #[inline(always)]
    pub(crate) fn set_fast(&self, key: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> bool {
        let serial = serial(key.py());
        let v = if value.is_exact_instance_of::<PyInt>() {
            let Some(n) = small_int(value) else { return false };
            Short::Int(n)
        } else {
            let Some(b) = small_value(value) else { return false };
            Short::Bytes(b)
        };
        let write = |c: &Value| match &v {
            Short::Int(n) => c.overwrite_int(*n, serial),
            Short::Bytes(b) => c.overwrite(b, serial),
        };
        // The value is immutable and short (a common one): the read cache
        // keeps it as is.
        if let Some(s) = serial {
            if self.cache().write_through(s, key, |e| write(&e.value).then(|| value.clone())).is_some() {
                return true;
            }
        }
        let mut stack = [0; SMALL];
        let Some(n) = small_key_into(key, &mut stack) else { return false };
        if let Some(at) = overwrite_entry(self.map(), KeyBytes::new(&stack[..n]), serial, write) {
            if let Some(s) = serial {
                self.cache().fill(s, key, Some(value), at, || self.map().len());
            }
            return true;
        }
        // A common key is its own original (see `small_key_into`).
        let bytes = match &v {
            Short::Int(n) => Value::new(&int_bytes(*n)),
            Short::Bytes(b) => Value::new(b),
        };
        put(self.map(), Blob::new(&stack[..n]), None, bytes);
        self.forget(key);
        true
    }

    /// `t.incr(k)`'s fast path for a common key: an inline int is added to
    /// in place, an absent key starts from 0. `None`: nothing changed, take
    /// the full path (which raises for a non-int, or goes beyond 64 bits).
    #[inline(always)]
    pub(crate) fn incr_fast<'py>(&self, key: &Bound<'py, PyAny>) -> Option<Bound<'py, PyAny>> {
        let py = key.py();
        let serial = serial(py);
        let int = |n: i64| n.into_pyobject(py).unwrap_or_else(|e| match e {}).into_any();
        if let Some(s) = serial {
            if let Some(v) = self.cache().write_through(s, key, |e| e.value.add_int(1, serial).map(int)) {
                return Some(v);
            }
        }
        let mut stack = [0; SMALL];
        let n = small_key_into(key, &mut stack)?;
        let mut sum = None;
        let at = overwrite_entry(self.map(), KeyBytes::new(&stack[..n]), serial, |v| {
            sum = v.add_int(1, serial);
            sum.is_some()
        });
        if let (Some(at), Some(s), Some(n)) = (at, serial, sum) {
            let v = int(n);
            self.cache().fill(s, key, Some(&v), at, || self.map().len());
            return Some(v);
        }
        if sum.is_none() {
            // Absent (or not inline): the general 64-bit path, if it succeeds.
            let k = Key { norm: Blob::new(&stack[..n]), original: None };
            if let Incr::Done(n) = add_small(self.map(), &k, 1, 0, serial) {
                sum = Some(n);
            }
        }
        // Right after the write (harmless when there was none).
        self.forget(key);
        Some(int(sum?))
    }

    /// A copy of every entry. Large tables are copied with the GIL released.
    fn snapshot(&self, py: Python<'_>) -> Vec<(Blob, Entry)> {
        if self.map().len() > DETACH_ABOVE {
            py.detach(|| self.map().iter().collect())
        } else {
            self.map().iter().collect()
        }
    }

    fn iterator(&self, part: Part) -> TableIterator {
        TableIterator { cursor: Mutex::new(Cursor::new(Arc::clone(&self.shared))), part }
    }

    /// The entries as a new dict.
    fn dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        for (k, e) in self.snapshot(py) {
            dict.set_item(decode_key(py, &k, &e)?, decode(py, &e.value.bytes())?)?;
        }
        Ok(dict)
    }

    /// Writes encoded entries, with the GIL released when there are many.
    /// After a bulk load (many, and at least an eighth of the table) it
    /// finishes the resizes they started: growing partitions would otherwise
    /// hold two arrays until later writes finish them (slower misses, more
    /// memory). A small batch into a big table leaves that to later writes
    /// (finishing could copy much of the table).
    fn write_all(&self, py: Python<'_>, batch: Vec<Pending>) {
        let n = batch.len();
        let many = n > DETACH_ABOVE;
        let write = || {
            for (k, original, v) in batch {
                put(self.map(), k, original, v);
            }
            if many && n.saturating_mul(8) >= self.map().len() {
                self.map().finish_resizes();
            }
        };
        self.bulk(py, || if many { py.detach(write) } else { write() })
    }

    /// `incr`'s body (see there).
    fn incr_body<'py>(
        &self,
        key: &Bound<'py, PyAny>,
        by: Option<&Bound<'py, PyAny>>,
        default: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = key.py();
        let serial = serial(py);
        if default.is_none() {
            // The common `incr(k)` / `incr(k, n)` on an inline int: in place,
            // with the key encoded on the stack (errors in the same order as
            // below: the key's, then `by`'s).
            let mut sum = None;
            with_key(key, |k| -> PyResult<()> {
                let by = match by {
                    None => 1,
                    Some(b) => match exact_int("by", b)?.extract::<i64>() {
                        Ok(n) => n,
                        Err(_) => return Ok(()),
                    },
                };
                overwrite(self.map(), k, |v| {
                    sum = v.add_int(by, serial);
                    sum.is_some()
                });
                Ok(())
            })??;
            if let Some(n) = sum {
                return n.into_bound_py_any(py);
            }
        }
        let k = key_of(key)?;
        let by_small = match by {
            None => Some(1),
            Some(b) => exact_int("by", b)?.extract::<i64>().ok(),
        };
        let default_small = match default {
            None => Some(0),
            Some(d) => exact_int("default", d)?.extract::<i64>().ok(),
        };
        if let (Some(by), Some(default)) = (by_small, default_small) {
            let outcome = add_small(self.map(), &k, by, default, serial);
            match outcome {
                Incr::Done(n) => return n.into_bound_py_any(py),
                Incr::NotAnInt(v) => return Err(not_an_int(&v)),
                Incr::Overflow => {}
            }
        }
        let one;
        let zero;
        let by = match by {
            Some(b) => b,
            None => {
                one = 1.into_bound_py_any(py)?;
                &one
            }
        };
        let default = match default {
            Some(d) => d,
            None => {
                zero = 0.into_bound_py_any(py)?;
                &zero
            }
        };
        self.incr_big(&k, by, default)
    }

    /// `incr` for ints outside the `i64` range: Python arithmetic, then a
    /// compare-and-swap on the encoded value.
    fn incr_big<'py>(
        &self,
        key: &Key,
        by: &Bound<'py, PyAny>,
        default: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = by.py();
        let k: &KeyBytes = key.norm.borrow();
        loop {
            let seen = self.map().get(k).map(|e| e.value.bytes());
            let base = match &seen {
                None => default.clone(),
                Some(v) if matches!(v.first(), Some(&INT | &BIGINT)) => decode(py, v)?,
                Some(v) => return Err(not_an_int(v)),
            };
            let sum = base.add(by)?;
            let new = Value::new(&value_of(&sum)?);
            let swapped = self.map().compute(key.norm.clone(), |old| match (old, &seen) {
                (None, None) => {
                    Compute::Insert(Entry { value: new.clone(), key: key.original.clone() }, true)
                }
                (Some(o), Some(s)) => {
                    // Replacing based on the value: stop in-place writes first.
                    o.value.seal();
                    if *o.value.bytes() == **s {
                        Compute::Insert(Entry { value: new.clone(), key: o.key.clone() }, true)
                    } else {
                        Compute::Keep(false)
                    }
                }
                _ => Compute::Keep(false),
            });
            if swapped {
                return Ok(sum);
            }
        }
    }
}

/// Tables with more entries than this are freed on a helper thread, so the
/// last `del` does not hold the GIL while millions of entries are freed.
const FREE_IN_BACKGROUND_ABOVE: usize = 1 << 16;

impl Drop for Table {
    fn drop(&mut self) {
        if Arc::strong_count(&self.shared) == 1 && self.map().len() > FREE_IN_BACKGROUND_ABOVE {
            // The clone becomes the last reference once `self` is gone; the
            // shared state is plain Rust data, so any thread may free it.
            let last = Arc::clone(&self.shared);
            let spawned = std::thread::Builder::new().name("ferrets-free".into()).spawn(move || drop(last));
            // If no thread can be started, `last` was dropped by the failed
            // spawn and `self` frees the table here instead.
            let _ = spawned;
        }
    }
}

fn not_an_int(value: &[u8]) -> PyErr {
    PyTypeError::new_err(format!(
        "incr() needs an int value, but the stored value is a '{}'",
        tag_type_name(value)
    ))
}

fn exact_int<'a, 'py>(name: &str, obj: &'a Bound<'py, PyAny>) -> PyResult<&'a Bound<'py, PyAny>> {
    if obj.is_exact_instance_of::<PyInt>() {
        Ok(obj)
    } else {
        let ty = obj.get_type().name().map(|n| n.to_string()).unwrap_or_default();
        Err(PyTypeError::new_err(format!("incr() argument '{name}' must be an int, not '{ty}'")))
    }
}

/// `incr` on 64-bit ints: adds `by` to the int under `key` (`default` when
/// absent). An inline int is updated in place (no allocation, no entry
/// swap); otherwise a new entry replaces the old one, which is sealed first
/// (see `value`) so that no in-place write racing with the replacement is
/// lost.
fn add_small(map: &Map, key: &Key, by: i64, default: i64, serial: Option<Serial<'_>>) -> Incr {
    let mut sum = None;
    overwrite(map, key.norm.borrow(), |v| {
        sum = v.add_int(by, serial);
        sum.is_some()
    });
    if let Some(n) = sum {
        return Incr::Done(n);
    }
    map.compute(key.norm.clone(), |old| {
        let (base, original) = match old {
            None => (default, &key.original),
            Some(e) => {
                e.value.seal();
                let v = e.value.bytes();
                match as_int(&v) {
                    Some(n) => (n, &e.key),
                    None if v.first() == Some(&BIGINT) => return Compute::Keep(Incr::Overflow),
                    None => return Compute::Keep(Incr::NotAnInt(v)),
                }
            }
        };
        match base.checked_add(by) {
            Some(n) => Compute::Insert(
                Entry { value: Value::new(&int_bytes(n)), key: original.clone() },
                Incr::Done(n),
            ),
            None => Compute::Keep(Incr::Overflow),
        }
    })
}

/// The outcome of the fast (64-bit) `incr` path.
enum Incr {
    Done(i64),
    Overflow,
    NotAnInt(Bytes),
}

#[pymethods]
impl Table {
    /// An empty table; with ``name``, also registered for ``ferrets.open``.
    ///
    /// ``partitions`` (a power of two is used, default: from the CPU count)
    /// trades memory for less contention between writers; ``capacity``
    /// reserves room for that many entries up front. Raises ``ValueError``
    /// when a table with ``name`` already exists or an option is out of range.
    #[new]
    #[pyo3(signature = (name=None, partitions=None, capacity=0))]
    fn new(name: Option<String>, partitions: Option<i64>, capacity: i64) -> PyResult<Self> {
        let max = TableOptions::MAX_PARTITIONS as i64;
        let partitions = match partitions {
            None => None,
            Some(p) if (1..=max).contains(&p) => Some(p as usize),
            Some(p) => {
                return Err(PyValueError::new_err(format!("partitions must be between 1 and {max}, not {p}")))
            }
        };
        const MAX_CAPACITY: i64 = 1 << 32;
        if !(0..=MAX_CAPACITY).contains(&capacity) {
            return Err(PyValueError::new_err(format!(
                "capacity must be between 0 and {MAX_CAPACITY}, not {capacity}"
            )));
        }
        let make = |name| Shared {
            map: Map::with_options(TableOptions { partitions, capacity: capacity as usize }),
            name,
            cache: ReadCache::default(),
        };
        let shared = match name {
            None => Arc::new(make(None)),
            Some(name) => registry::create(name, |name| Arc::new(make(Some(name))))?,
        };
        Ok(Table { shared })
    }

    /// The name given at creation (``None`` for an anonymous table).
    #[getter]
    fn name(&self) -> Option<&str> {
        self.shared.name.as_deref()
    }

    /// Unregisters a named table: ``ferrets.open(name)`` no longer finds it and
    /// the name can be reused. Existing handles (this one included) keep
    /// working; the entries are freed with the last handle. A no-op for
    /// anonymous or already dropped tables.
    fn drop(&self) {
        if let Some(name) = &self.shared.name {
            registry::drop_if_same(name, &self.shared);
        }
    }

    pub(crate) fn __getitem__<'py>(&self, key: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        match with_key(key, |k| self.lookup(key.py(), k))?? {
            Some(v) => Ok(v),
            None => Err(PyKeyError::new_err(key.clone().unbind())),
        }
    }

    pub(crate) fn __setitem__(&self, key: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        // Encode both before touching the table: a failed call changes nothing.
        let serial = serial(key.py());
        with_key(key, |k| -> PyResult<()> {
            // A short value over an existing short one: rewrite it in place.
            let v = if value.is_exact_instance_of::<PyInt>() {
                match small_int(value) {
                    Some(n) => {
                        if overwrite(self.map(), k, |v| v.overwrite_int(n, serial)) {
                            return Ok(());
                        }
                        Blob::inline(&int_bytes(n), &[]).expect("an int fits inline")
                    }
                    None => value_of(value)?,
                }
            } else {
                let v = value_of(value)?;
                if overwrite(self.map(), k, |old| old.overwrite(&v, serial)) {
                    return Ok(());
                }
                v
            };
            // Otherwise a new entry (this also keeps the first original key).
            let k = key_of(key)?;
            put(self.map(), k.norm, k.original, Value::new(&v));
            Ok(())
        })??;
        self.forget(key);
        Ok(())
    }

    pub(crate) fn __delitem__(&self, key: &Bound<'_, PyAny>) -> PyResult<()> {
        let removed = with_key(key, |k| self.map().remove(k))?;
        self.forget(key);
        if removed {
            Ok(())
        } else {
            Err(PyKeyError::new_err(key.clone().unbind()))
        }
    }

    pub(crate) fn __contains__(&self, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        with_key(key, |k| self.map().contains_key(k))
    }

    fn __len__(&self) -> usize {
        self.map().len()
    }

    /// Iterates over the keys (a cursor over the live table, see ``TableIterator``).
    fn __iter__(&self) -> TableIterator {
        self.iterator(Part::Keys)
    }

    /// Equal to a mapping with the same items (compared on a snapshot).
    fn __eq__<'py>(&self, other: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let py = other.py();
        let theirs = if let Ok(t) = other.cast::<Table>() {
            if Arc::ptr_eq(&t.get().shared, &self.shared) {
                return true.into_bound_py_any(py);
            }
            t.get().dict(py)?.into_any()
        } else if other.is_instance_of::<PyDict>() {
            other.clone()
        } else if other.is_instance(mapping_abc(py)?)? {
            PyDict::from_sequence(&other.call_method0("items")?)?.into_any()
        } else {
            return Ok(py.NotImplemented().into_bound(py));
        };
        self.dict(py)?.eq(theirs)?.into_bound_py_any(py)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let len = self.map().len();
        Ok(match &self.shared.name {
            Some(name) => format!("<ferrets.Table name={} len={len}>", PyString::new(py, name).repr()?),
            None => format!("<ferrets.Table len={len}>"),
        })
    }

    /// The value under ``key``, or ``default`` when it is absent.
    #[pyo3(signature = (key, default=None, /))]
    pub(crate) fn get<'py>(
        &self,
        key: &Bound<'py, PyAny>,
        default: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = key.py();
        match with_key(key, |k| self.lookup(py, k))?? {
            Some(v) => Ok(v),
            None => Ok(default.unwrap_or_else(|| py.None().into_bound(py))),
        }
    }

    /// Removes ``key`` and returns its value; if absent, returns ``default``
    /// when given, else raises ``KeyError``.
    #[pyo3(signature = (key, *default), text_signature = "($self, key, default=..., /)")]
    fn pop<'py>(
        &self,
        key: &Bound<'py, PyAny>,
        default: &Bound<'py, PyTuple>,
    ) -> PyResult<Bound<'py, PyAny>> {
        if default.len() > 1 {
            return Err(PyTypeError::new_err(format!(
                "pop expected at most 2 arguments, got {}",
                default.len() + 1
            )));
        }
        let taken = with_key(key, |k| self.map().take_with(k, final_value))?;
        // Before decoding: building a container may run Python code.
        self.forget(key);
        match taken {
            Some(v) => decode(key.py(), &v),
            None if default.len() == 1 => default.get_item(0),
            None => Err(PyKeyError::new_err(key.clone().unbind())),
        }
    }

    /// Removes some entry and returns it as ``(key, value)``; raises
    /// ``KeyError`` when the table is empty. Which entry is arbitrary.
    fn popitem<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        loop {
            let Some((k, e)) = self.map().iter().next() else {
                return Err(PyKeyError::new_err("popitem(): table is empty"));
            };
            // Another thread may take it first: then try the next one.
            if let Some(v) = self.map().take_with::<KeyBytes, _>(k.borrow(), final_value) {
                if let Some(s) = serial(py) {
                    self.cache().forget_all(s);
                }
                return PyTuple::new(py, [decode_key(py, &k, &e)?, decode(py, &v)?]);
            }
        }
    }

    /// The value under ``key``; if absent, stores ``default`` and returns it
    /// (atomically: concurrent callers all get the value that won).
    #[pyo3(signature = (key, default=None, /))]
    fn setdefault<'py>(
        &self,
        key: &Bound<'py, PyAny>,
        default: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = key.py();
        let k = key_of(key)?;
        if let Some(v) = self.lookup(py, k.norm.borrow())? {
            return Ok(v);
        }
        let default = default.unwrap_or_else(|| py.None().into_bound(py));
        let new = Value::new(&value_of(&default)?);
        let existing = self.map().compute(k.norm.clone(), |old| match old {
            Some(e) => Compute::Keep(Some(e.value.bytes())),
            None => Compute::Insert(Entry { value: new.clone(), key: k.original.clone() }, None),
        });
        self.forget(key);
        match existing {
            Some(v) => decode(py, &v),
            None => Ok(default),
        }
    }

    /// Stores every item of ``other`` (a mapping, or an iterable of
    /// ``(key, value)`` pairs) and of ``kwargs``, like ``dict.update``.
    /// Everything is encoded first, so a failing call stores nothing.
    #[pyo3(signature = (*args, **kwargs), text_signature = "($self, other=(), /, **kwargs)")]
    fn update(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        if args.len() > 1 {
            return Err(PyTypeError::new_err(format!(
                "update expected at most 1 argument, got {}",
                args.len()
            )));
        }
        let other = args.iter().next();
        let other = other.as_ref();
        let mut batch = Vec::new();
        let add = |batch: &mut Vec<Pending>, k: &Bound<'_, PyAny>, v: &Bound<'_, PyAny>| -> PyResult<()> {
            let k = key_of(k)?;
            batch.push((k.norm.clone(), k.original, Value::new(&value_of(v)?)));
            Ok(())
        };
        if let Some(other) = other {
            if let Ok(t) = other.cast::<Table>() {
                for (k, e) in t.get().snapshot(py) {
                    batch.push((k, e.key, e.value));
                }
            } else if let Ok(d) = other.cast::<PyDict>() {
                for (k, v) in d.iter() {
                    add(&mut batch, &k, &v)?;
                }
            } else if other.hasattr(pyo3::intern!(py, "keys"))? {
                for k in other.call_method0(pyo3::intern!(py, "keys"))?.try_iter()? {
                    let k = k?;
                    add(&mut batch, &k, &other.get_item(&k)?)?;
                }
            } else {
                for (i, item) in other.try_iter()?.enumerate() {
                    let item = item?;
                    let pair: Vec<Bound<'_, PyAny>> = match item.try_iter() {
                        Ok(it) => it.collect::<PyResult<_>>()?,
                        Err(_) => {
                            return Err(PyTypeError::new_err(format!(
                                "cannot convert update sequence element #{i} to a sequence"
                            )))
                        }
                    };
                    if pair.len() != 2 {
                        return Err(PyValueError::new_err(format!(
                            "update sequence element #{i} has length {}; 2 is required",
                            pair.len()
                        )));
                    }
                    add(&mut batch, &pair[0], &pair[1])?;
                }
            }
        }
        if let Some(kwargs) = kwargs {
            for (k, v) in kwargs.iter() {
                add(&mut batch, &k, &v)?;
            }
        }
        self.write_all(py, batch);
        Ok(())
    }

    /// Removes every entry (with the GIL released).
    fn clear(&self, py: Python<'_>) {
        self.bulk(py, || py.detach(|| self.map().clear()));
        if let Some(s) = serial(py) {
            self.cache().reset(s);
        }
    }

    /// A set-like view of the keys (iterates over the live table).
    fn keys<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        view(slf, "TableKeysView")
    }

    /// A view of the values (iterates over the live table).
    fn values<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        view(slf, "TableValuesView")
    }

    /// A set-like view of the ``(key, value)`` items (iterates over the live table).
    fn items<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        view(slf, "TableItemsView")
    }

    /// An iterator over the values (used by ``values()``).
    fn _iter_values(&self) -> TableIterator {
        self.iterator(Part::Values)
    }

    /// An iterator over the items (used by ``items()``).
    fn _iter_items(&self) -> TableIterator {
        self.iterator(Part::Items)
    }

    /// A new anonymous table with a snapshot of the entries (built with the
    /// GIL released when large).
    fn copy(&self, py: Python<'_>) -> Table {
        let entries = self.snapshot(py);
        let many = entries.len() > DETACH_ABOVE;
        let map = Map::with_options(TableOptions { partitions: None, capacity: entries.len() });
        let fill = || {
            for (k, e) in entries {
                map.insert(k, e);
            }
        };
        if many {
            py.detach(fill)
        } else {
            fill()
        }
        Table { shared: Arc::new(Shared { map, name: None, cache: ReadCache::default() }) }
    }

    /// A ``dict`` of the entries, read a batch at a time: every entry
    /// present for the whole call is in it once; one written meanwhile may
    /// or may not be (not an atomic snapshot).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        self.dict(py)
    }

    /// Stores ``value`` only if ``key`` is absent; returns whether it did.
    fn insert_new(&self, key: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<bool> {
        let k = key_of(key)?;
        let v = Value::new(&value_of(value)?);
        let inserted = self.map().insert_new(k.norm.clone(), Entry { value: v, key: k.original });
        self.forget(key);
        Ok(inserted)
    }

    /// Atomically adds ``by`` to the int under ``key`` (starting from
    /// ``default`` when absent) and returns the new value. No increment is
    /// lost when many threads add at once. Raises ``TypeError`` when the
    /// stored value, ``by`` or ``default`` is not an int.
    #[pyo3(signature = (key, by=None, default=None), text_signature = "($self, key, by=1, default=0)")]
    pub(crate) fn incr<'py>(
        &self,
        key: &Bound<'py, PyAny>,
        by: Option<&Bound<'py, PyAny>>,
        default: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        // Every write happens at the end of the body, with no Python code
        // after it: the key is forgotten right after.
        let out = self.incr_body(key, by, default);
        self.forget(key);
        out
    }

    /// Bytes held by the table: entries (keys, values, what they own on the
    /// heap), the table's own slots, and the read cache's slots (the small
    /// objects it keeps are counted by Python). The table's part is computed
    /// with the GIL released.
    fn memory(&self, py: Python<'_>) -> usize {
        let cache = serial(py).map_or(0, |s| self.cache().bytes(s));
        cache + py.detach(|| self.map().memory_bytes())
    }

    /// Writes a snapshot of the entries to ``path`` and returns how many it
    /// holds. Crash-safe: a temporary file next to ``path`` is written,
    /// fsynced and renamed over it, so ``path`` always holds a whole
    /// snapshot; the file carries a CRC-32. The GIL is released while
    /// writing. I/O failures raise ``OSError``.
    fn save(&self, py: Python<'_>, path: std::path::PathBuf) -> PyResult<u64> {
        let entries = self.snapshot(py);
        py.detach(|| {
            let mut w = snapshot::Writer::create(&path)?;
            let mut rec = Vec::new();
            for (k, e) in &entries {
                entry_record(k, e, &mut rec)?;
                w.record(&rec)?;
            }
            w.finish()
        })
        .map_err(snapshot_error)
    }

    /// Stores every entry of the snapshot at ``path`` (as ``update`` would)
    /// and returns how many. The whole file is checked first: a truncated or
    /// corrupt file raises ``ValueError`` and changes nothing; I/O failures
    /// raise ``OSError``. The GIL is released while reading and storing.
    fn load(&self, py: Python<'_>, path: std::path::PathBuf) -> PyResult<u64> {
        let batch = py
            .detach(|| {
                let bytes = std::fs::read(&path)?;
                snapshot::records(&bytes)?
                    .into_iter()
                    .map(record_entry)
                    .collect::<Option<Vec<_>>>()
                    .ok_or(SnapError::Corrupt)
            })
            .map_err(snapshot_error)?;
        let n = batch.len() as u64;
        self.write_all(py, batch);
        Ok(n)
    }
}

static VIEWS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
static MAPPING: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

fn view<'py>(table: &Bound<'py, Table>, class: &str) -> PyResult<Bound<'py, PyAny>> {
    let py = table.py();
    let views = VIEWS.get_or_try_init(py, || py.import("ferrets._views").map(Bound::unbind))?;
    views.bind(py).getattr(PyString::new(py, class))?.call1((table,))
}

fn mapping_abc(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    MAPPING
        .get_or_try_init(py, || py.import("collections.abc")?.getattr("Mapping").map(Bound::unbind))
        .map(|m| m.bind(py))
}

/// Entries as the core's cursor hands them out (see `Cursor`).
type Entries = dyn Iterator<Item = (Blob, Entry)> + Send;

/// A walk over a table's live entries with the core's cursor, which copies
/// a short batch at a time (so memory stays small whatever the table's
/// size) and never keeps the thread pinned between batches, so it may live
/// across Python calls. Each entry present for the whole walk is seen
/// exactly once, whatever other threads write meanwhile.
struct Cursor {
    /// Borrows `shared`'s table; declared first, so it is dropped first.
    entries: Box<Entries>,
    /// Keeps the table alive, at the same address, while `entries` walks it.
    shared: Arc<Shared>,
    /// Entries handed out so far.
    taken: usize,
}

impl Cursor {
    fn new(shared: Arc<Shared>) -> Self {
        let entries: Box<dyn Iterator<Item = (Blob, Entry)> + Send + '_> = Box::new(shared.map.iter());
        // SAFETY: only the lifetime changes. The cursor borrows the table
        // inside the `Arc`'s allocation, which does not move and lives as
        // long as `shared`; the struct owns both and drops the cursor first
        // (field order), and never hands the borrow out.
        let entries = unsafe {
            std::mem::transmute::<Box<dyn Iterator<Item = (Blob, Entry)> + Send + '_>, Box<Entries>>(entries)
        };
        Cursor { entries, shared, taken: 0 }
    }

    fn next(&mut self) -> Option<(Blob, Entry)> {
        let next = self.entries.next();
        self.taken += usize::from(next.is_some());
        next
    }

    /// The entries not yet handed out, if the table does not change.
    fn remaining(&self) -> usize {
        self.shared.map.len().saturating_sub(self.taken)
    }
}

/// An iterator over a table's keys, values or items: walks the live table
/// (not a copy), never raises for concurrent changes, and sees each entry
/// present for the whole iteration exactly once.
#[pyclass(module = "ferrets._native", frozen)]
pub struct TableIterator {
    cursor: Mutex<Cursor>,
    part: Part,
}

#[pymethods]
impl TableIterator {
    fn __iter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        // Decoded after the lock is released: building a container may run
        // Python code, which may use this iterator from another thread.
        let next = self.cursor.lock().unwrap_or_else(|e| e.into_inner()).next();
        let Some((k, e)) = next else { return Ok(None) };
        Ok(Some(match self.part {
            Part::Keys => decode_key(py, &k, &e)?,
            Part::Values => decode(py, &e.value.bytes())?,
            Part::Items => {
                PyTuple::new(py, [decode_key(py, &k, &e)?, decode(py, &e.value.bytes())?])?.into_any()
            }
        }))
    }

    /// The entries left if the table does not change meanwhile (an estimate).
    fn __length_hint__(&self) -> usize {
        self.cursor.lock().unwrap_or_else(|e| e.into_inner()).remaining()
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_stored_entry_is_one_cache_line() {
        // The core boxes the key and this entry together (`repr(C)`, 8-aligned).
        assert_eq!(size_of::<Blob>(), 24);
        assert_eq!(size_of::<Value>(), 32);
        assert_eq!(size_of::<Entry>(), 40);
        // mimalloc serves 64-byte blocks from pages of their own, each
        // block on a line of its own.
        let boxes: Vec<Box<[u64; 8]>> = (0..1000).map(|i| Box::new([i; 8])).collect();
        let aligned = boxes.iter().filter(|b| (&***b as *const [u64; 8] as usize) % 64 == 0).count();
        assert_eq!(aligned, boxes.len());
    }

    use super::*;

    fn key(s: &str) -> Key {
        let mut k = vec![crate::codec::STR, s.len() as u8];
        k.extend_from_slice(s.as_bytes());
        Key { norm: Blob::new(&k), original: None }
    }

    fn int_of(v: &Bytes) -> i64 {
        as_int(v).expect("an int")
    }

    #[test]
    fn in_place_adds_race_with_pops_and_lose_nothing() {
        // Adders mostly add in place; a popper removes the counter now and
        // then (sealing it), which sends racing adders to the general path.
        // Every increment must end up either in a popped value or in the
        // final one.
        const ADDERS: usize = 3;
        const N: i64 = 20_000;
        let map = Arc::new(Map::new());
        let k = key("k");
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let adders: Vec<_> = (0..ADDERS)
            .map(|_| {
                let (map, k) = (map.clone(), Key { norm: k.norm.clone(), original: None });
                std::thread::spawn(move || {
                    for _ in 0..N {
                        assert!(matches!(add_small(&map, &k, 1, 0, None), Incr::Done(_)));
                    }
                })
            })
            .collect();
        let popper = {
            let (map, stop, norm) = (map.clone(), stop.clone(), k.norm.clone());
            std::thread::spawn(move || {
                let mut popped = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    if let Some(v) = map.take_with::<KeyBytes, _>(norm.borrow(), final_value) {
                        popped += int_of(&v);
                    }
                    std::thread::yield_now();
                }
                popped
            })
        };
        adders.into_iter().for_each(|t| t.join().unwrap());
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let popped = popper.join().unwrap();
        let left = map.get::<KeyBytes>(k.norm.borrow()).map_or(0, |e| int_of(&e.value.bytes()));
        assert_eq!(popped + left, ADDERS as i64 * N);
    }

    /// The address of the entry under `k` (to tell in-place writes from swaps).
    fn entry_addr(map: &Map, k: &Key) -> usize {
        let pinned = ferrets_core::pinned();
        map.get_ref::<KeyBytes>(k.norm.borrow(), &pinned).map_or(0, |e| e as *const Entry as usize)
    }

    #[test]
    fn add_small_writes_in_place_or_falls_back() {
        let map = Map::new();
        let k = key("k");
        assert!(matches!(add_small(&map, &k, 5, 10, None), Incr::Done(15)), "absent: from the default");
        let first = entry_addr(&map, &k);
        assert!(matches!(add_small(&map, &k, 1, 0, None), Incr::Done(16)));
        assert_eq!(entry_addr(&map, &k), first, "an inline int is updated in place");
        {
            let pinned = ferrets_core::pinned();
            map.get_ref::<KeyBytes>(k.norm.borrow(), &pinned).unwrap().value.seal();
        }
        assert!(matches!(add_small(&map, &k, 1, 0, None), Incr::Done(17)));
        assert_ne!(entry_addr(&map, &k), first, "a sealed value is replaced by a new entry");
        assert!(matches!(add_small(&map, &k, i64::MAX, 0, None), Incr::Overflow));
        assert_eq!(int_of(&map.get::<KeyBytes>(k.norm.borrow()).unwrap().value.bytes()), 17);
        put(&map, k.norm.clone(), None, Value::new(b"\x06\x01a"));
        assert!(matches!(add_small(&map, &k, 1, 0, None), Incr::NotAnInt(_)));
        put(&map, k.norm.clone(), None, Value::new(&[crate::codec::BYTES; 40]));
        assert!(matches!(add_small(&map, &k, 1, 0, None), Incr::NotAnInt(_)), "a long value");
    }

    #[test]
    fn linked_entries_keep_their_address_through_resizes() {
        // The read cache writes through recorded entry addresses without
        // pinning (see `cache`): that needs the core to never move a linked
        // entry, even while partitions grow, shrink and rehash around it.
        let map = Map::with_options(TableOptions { partitions: Some(2), capacity: 0 });
        let tracked: Vec<Key> = (0..64).map(|i| key(&format!("tracked{i}"))).collect();
        for k in &tracked {
            put(&map, k.norm.clone(), None, Value::new(&int_bytes(0)));
        }
        let before: Vec<usize> = tracked.iter().map(|k| entry_addr(&map, k)).collect();
        for i in 0..100_000i64 {
            put(&map, key(&format!("other{i}")).norm, None, Value::new(&int_bytes(i)));
            if i % 3 == 0 {
                map.remove::<KeyBytes>(key(&format!("other{}", i / 2)).norm.borrow());
            }
            if i % 1000 == 0 {
                for k in &tracked {
                    assert!(overwrite(&map, k.norm.borrow(), |v| v.overwrite_int(i, None)));
                }
            }
        }
        let after: Vec<usize> = tracked.iter().map(|k| entry_addr(&map, k)).collect();
        assert_eq!(before, after);
        assert!(before.iter().all(|&a| a != 0));
        // Shrinking back (a clear of the others) keeps them in place too.
        for i in 0..100_000i64 {
            map.remove::<KeyBytes>(key(&format!("other{i}")).norm.borrow());
        }
        assert_eq!(map.len(), tracked.len());
        assert_eq!(tracked.iter().map(|k| entry_addr(&map, k)).collect::<Vec<_>>(), before);
    }

    #[test]
    fn readers_never_see_torn_values_while_writers_switch_sizes() {
        // Writers store values of different sizes, inline (rewritten in
        // place) and long (a new entry each time), as `__setitem__` does;
        // every byte of a value equals its length, so a torn or mixed read
        // shows. A key absent at first is inserted by whichever writer wins.
        let map = Arc::new(Map::new());
        let k = key("k");
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writers: Vec<_> = [3usize, 9, crate::value::INLINE, crate::value::INLINE + 1, 100]
            .into_iter()
            .map(|n| {
                let (map, stop, norm) = (map.clone(), stop.clone(), k.norm.clone());
                std::thread::spawn(move || {
                    let v = vec![n as u8; n];
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        if !overwrite(&map, norm.borrow(), |old| old.overwrite(&v, None)) {
                            put(&map, norm.clone(), None, Value::new(&v));
                        }
                    }
                })
            })
            .collect();
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..100_000 {
            let pinned = ferrets_core::pinned();
            if let Some(e) = map.get_ref::<KeyBytes>(k.norm.borrow(), &pinned) {
                let b = e.value.bytes();
                assert!(b.iter().all(|&x| usize::from(x) == b.len()), "torn read: {:?}", &*b);
                seen.insert(b.len());
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        writers.into_iter().for_each(|w| w.join().unwrap());
        assert!(seen.len() >= 2, "the writers raced: {seen:?}");
        assert_eq!(map.len(), 1);
    }
}
