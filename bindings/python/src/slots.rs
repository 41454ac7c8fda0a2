//! Direct CPython entry points for the hottest `Table` calls: `t[k]`,
//! `t[k] = v`, `del t[k]`, `k in t`, and the positional forms of `t.get`
//! and `t.incr`.
//!
//! pyo3's generic trampoline costs about 6 ns per call (attach-count
//! bookkeeping in thread-local storage, the deferred-decref check, a type
//! check of `self`), a fifth of a whole `t[k]`. These entry
//! points call the very same Rust methods with only what a C slot needs: a
//! panic guard and the error hand-off. They are installed into the type pyo3
//! built, once, at import; pyo3's own wrappers stay reachable
//! (`Table.__getitem__`, keyword calls of `get`/`incr`), so behaviour and
//! introspection do not change.

use std::ffi::c_int;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;

use pyo3::ffi;
use pyo3::panic::PanicException;
use pyo3::prelude::*;
use pyo3::types::PyType;

use crate::table::Table;

/// pyo3's fastcall wrappers of `get` and `incr`, for the calls the direct
/// entry points hand back (keywords, unusual argument counts).
struct Originals {
    get: ffi::PyCFunctionFastWithKeywords,
    incr: ffi::PyCFunctionFastWithKeywords,
}

static ORIGINALS: OnceLock<Originals> = OnceLock::new();

/// A panic as the `PanicException` pyo3 would raise for it.
#[cold]
fn panic_error(payload: Box<dyn std::any::Any + Send>) -> PyErr {
    let msg = if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else {
        "panic from Rust code".to_owned()
    };
    PanicException::new_err(msg)
}

/// Runs a slot body on the table `slf`: `fast` first, then, when it returns
/// `None`, `full`. A Python error or a panic becomes the raised exception
/// and `err` the return value. `fast` returns no `PyResult` (whose error
/// half is large: the hottest calls move nothing through memory) and must
/// not drop a `Py` (pyo3 would defer its decref, see below).
///
/// # Safety
/// The thread is attached (CPython calls slots and methods only so) and
/// `slf` is a live `Table` (slots of a type only receive its instances, and
/// `Table` cannot be subclassed).
#[inline(always)]
unsafe fn guarded<R>(
    slf: *mut ffi::PyObject,
    err: R,
    fast: impl FnOnce(Python<'_>, &Table) -> Option<R>,
    full: impl FnOnce(Python<'_>, &Table) -> PyResult<R>,
) -> R {
    // SAFETY: per the contract, the thread is attached.
    let py = unsafe { Python::assume_attached() };
    // SAFETY: per the contract, `slf` is a live `Table`, borrowed for the call.
    let table = unsafe { Borrowed::from_ptr(py, slf).cast_unchecked::<Table>() };
    let table = table.get();
    let out = match catch_unwind(AssertUnwindSafe(|| fast(py, table))) {
        Ok(Some(r)) => return r,
        // pyo3 frees a `Py` dropped while it does not count the thread as
        // attached only at its next entry point (errors hold such
        // references): attaching through pyo3 keeps that immediate.
        Ok(None) => catch_unwind(AssertUnwindSafe(|| Python::attach(|py| full(py, table)))),
        Err(payload) => Err(payload),
    };
    match out {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            e.restore(py);
            err
        }
        Err(payload) => {
            panic_error(payload).restore(py);
            err
        }
    }
}

/// A borrowed argument.
///
/// # Safety
/// `ptr` is a live object the caller lends for the call; the thread is attached.
#[inline(always)]
unsafe fn arg<'a, 'py>(py: Python<'py>, ptr: *mut ffi::PyObject) -> Borrowed<'a, 'py, PyAny> {
    // SAFETY: per the contract.
    unsafe { Borrowed::from_ptr(py, ptr) }
}

/// `mp_subscript`: `t[k]`.
unsafe extern "C" fn subscript(slf: *mut ffi::PyObject, key: *mut ffi::PyObject) -> *mut ffi::PyObject {
    // SAFETY: CPython calls this slot attached, on a `Table`, lending `key`.
    unsafe {
        guarded(
            slf,
            std::ptr::null_mut(),
            // An absent key raises `KeyError`: the full path builds it.
            |py, t| t.get_fast(&arg(py, key)).flatten().map(Bound::into_ptr),
            |py, t| Ok(t.__getitem__(&arg(py, key))?.into_ptr()),
        )
    }
}

/// `mp_ass_subscript`: `t[k] = v`, or `del t[k]` when `value` is null.
unsafe extern "C" fn ass_subscript(
    slf: *mut ffi::PyObject,
    key: *mut ffi::PyObject,
    value: *mut ffi::PyObject,
) -> c_int {
    // SAFETY: CPython calls this slot attached, on a `Table`, lending `key`
    // and `value` (null for a deletion).
    unsafe {
        guarded(
            slf,
            -1,
            |py, t| (!value.is_null() && t.set_fast(&arg(py, key), &arg(py, value))).then_some(0),
            |py, t| {
                let key = arg(py, key);
                if value.is_null() {
                    t.__delitem__(&key)?;
                } else {
                    t.__setitem__(&key, &arg(py, value))?;
                }
                Ok(0)
            },
        )
    }
}

/// `sq_contains`: `k in t`.
unsafe extern "C" fn contains(slf: *mut ffi::PyObject, key: *mut ffi::PyObject) -> c_int {
    // SAFETY: CPython calls this slot attached, on a `Table`, lending `key`.
    unsafe {
        guarded(
            slf,
            -1,
            |py, t| t.contains_fast(&arg(py, key)).map(c_int::from),
            |py, t| Ok(c_int::from(t.__contains__(&arg(py, key))?)),
        )
    }
}

/// The positional argument count of a vectorcall.
#[inline(always)]
fn nargs(nargsf: ffi::Py_ssize_t) -> usize {
    nargsf as usize & !ffi::PY_VECTORCALL_ARGUMENTS_OFFSET
}

/// `t.get(key)` and `t.get(key, default)`; anything else goes to pyo3's wrapper.
unsafe extern "C" fn get(
    slf: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargsf: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    let n = nargs(nargsf);
    if !kwnames.is_null() || !(1..=2).contains(&n) {
        let original = ORIGINALS.get().expect("installed before use").get;
        // SAFETY: the same call, handed on unchanged.
        return unsafe { original(slf, args, nargsf, kwnames) };
    }
    // SAFETY: CPython calls this method attached, on a `Table`, lending `n`
    // arguments at `args`.
    unsafe {
        guarded(
            slf,
            std::ptr::null_mut(),
            |py, t| {
                let found = t.get_fast(&arg(py, *args))?;
                Some(match found {
                    Some(v) => v.into_ptr(),
                    None if n == 2 => arg(py, *args.add(1)).to_owned().into_ptr(),
                    None => py.None().into_ptr(),
                })
            },
            |py, t| {
                let default = (n == 2).then(|| arg(py, *args.add(1)).to_owned());
                Ok(t.get(&arg(py, *args), default)?.into_ptr())
            },
        )
    }
}

/// `t.incr(key)`; anything else goes to pyo3's wrapper.
unsafe extern "C" fn incr(
    slf: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargsf: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    if !kwnames.is_null() || nargs(nargsf) != 1 {
        let original = ORIGINALS.get().expect("installed before use").incr;
        // SAFETY: the same call, handed on unchanged.
        return unsafe { original(slf, args, nargsf, kwnames) };
    }
    // SAFETY: CPython calls this method attached, on a `Table`, lending one
    // argument at `args`.
    unsafe {
        guarded(
            slf,
            std::ptr::null_mut(),
            |py, t| t.incr_fast(&arg(py, *args)).map(Bound::into_ptr),
            |py, t| Ok(t.incr(&arg(py, *args), None, None)?.into_ptr()),
        )
    }
}

/// The definition behind the method `name` of `ty`, if it is a fastcall
/// method descriptor (as pyo3 makes them).
fn fastcall_def(ty: &Bound<'_, PyType>, name: &str) -> PyResult<Option<*mut ffi::PyMethodDef>> {
    let descr = ty.getattr(name)?;
    let ptr = descr.as_ptr();
    // SAFETY: attached; `ptr` is live (we hold `descr`). The type check comes
    // first, so the cast to the method-descriptor layout is only made for one;
    // the definition lives as long as the type.
    unsafe {
        if ffi::Py_TYPE(ptr) != &raw mut ffi::PyMethodDescr_Type {
            return Ok(None);
        }
        let def = (*ptr.cast::<ffi::PyMethodDescrObject>()).d_method;
        Ok(((*def).ml_flags == ffi::METH_FASTCALL | ffi::METH_KEYWORDS).then_some(def))
    }
}

/// Replaces the method `name` of `ty` (defined by `def`) by `f`, keeping its
/// name, flags and docstring (so its signature too).
fn replace_method(
    ty: &Bound<'_, PyType>,
    name: &str,
    def: *mut ffi::PyMethodDef,
    f: ffi::PyCFunctionFastWithKeywords,
) -> PyResult<()> {
    // SAFETY: `def` is pyo3's live definition (see `fastcall_def`). The new
    // descriptor keeps a pointer to its own definition, so that one is
    // leaked: it must live as long as the type, i.e. the process.
    unsafe {
        let ours = Box::leak(Box::new(ffi::PyMethodDef {
            ml_name: (*def).ml_name,
            ml_meth: ffi::PyMethodDefPointer { PyCFunctionFastWithKeywords: f },
            ml_flags: (*def).ml_flags,
            ml_doc: (*def).ml_doc,
        }));
        let new = Bound::from_owned_ptr_or_err(ty.py(), ffi::PyDescr_NewMethod(ty.as_type_ptr(), ours))?;
        ty.setattr(name, new)
    }
}

/// Installs the direct entry points into `Table`'s type. Call once, before
/// the type is used.
pub fn install(ty: &Bound<'_, PyType>) -> PyResult<()> {
    // The layouts poked below are CPython's; elsewhere pyo3's entry points stay.
    let implementation = ty.py().import("sys")?.getattr("implementation")?.getattr("name")?;
    if implementation.extract::<&str>()? != "cpython" {
        return Ok(());
    }
    let tp = ty.as_type_ptr();
    // SAFETY: attached, the type is live and not yet used by any other
    // thread (module initialisation); pyo3 gave it mapping and sequence
    // method tables (it defines `__getitem__` and `__contains__`), which live
    // in the heap type object itself.
    unsafe {
        let mapping = (*tp).tp_as_mapping;
        let sequence = (*tp).tp_as_sequence;
        if mapping.is_null() || sequence.is_null() {
            return Ok(());
        }
        (*mapping).mp_subscript = Some(subscript);
        (*mapping).mp_ass_subscript = Some(ass_subscript);
        (*sequence).sq_contains = Some(contains);
    }
    if let (Some(get_def), Some(incr_def)) = (fastcall_def(ty, "get")?, fastcall_def(ty, "incr")?) {
        // SAFETY: live definitions of fastcall methods (checked above).
        let originals = unsafe {
            Originals {
                get: (*get_def).ml_meth.PyCFunctionFastWithKeywords,
                incr: (*incr_def).ml_meth.PyCFunctionFastWithKeywords,
            }
        };
        // A second import of the module finds pyo3's definitions again.
        let _ = ORIGINALS.set(originals);
        replace_method(ty, "get", get_def, get)?;
        replace_method(ty, "incr", incr_def, incr)?;
    }
    // SAFETY: attached; the type's slots changed, so its caches must go.
    unsafe { ffi::PyType_Modified(tp) };
    Ok(())
}
