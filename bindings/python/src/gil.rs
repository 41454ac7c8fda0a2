//! Whether Python threads are serialised by a global interpreter lock.
//!
//! On an interpreter with a GIL (every CPython build but the free-threaded
//! one) the thread that runs a Python call holds the GIL for the whole call,
//! so two calls attached to the interpreter never overlap. Two shortcuts
//! rely on that: in-place value writes take their sequence lock with a plain
//! store instead of a compare-and-swap (see `value`), and each table keeps a
//! cache of the Python objects its reads returned (see `cache`). A
//! [`Serial`] token is the proof both ask for; it only exists when the
//! interpreter has a GIL and the thread is attached.

use std::sync::atomic::{AtomicBool, Ordering};

use pyo3::prelude::*;

/// Set at import when the interpreter has a GIL.
static GIL: AtomicBool = AtomicBool::new(false);

/// Proof that the current thread holds the interpreter's GIL: no other
/// thread runs a Python call (or anything else attached) until it is gone.
#[derive(Clone, Copy)]
pub struct Serial<'py>(#[allow(dead_code)] Python<'py>);

/// The proof for an attached thread, when the interpreter has a GIL.
#[inline(always)]
pub fn serial(py: Python<'_>) -> Option<Serial<'_>> {
    GIL.load(Ordering::Relaxed).then_some(Serial(py))
}

/// Records whether the interpreter has a GIL (once, at import). A
/// free-threaded build (`Py_GIL_DISABLED`) never takes the shortcuts, even
/// when its GIL happens to be enabled at run time: it may be switched off.
pub fn init(py: Python<'_>) -> PyResult<()> {
    let disabled = py.import("sysconfig")?.call_method1("get_config_var", ("Py_GIL_DISABLED",))?;
    let implementation = py.import("sys")?.getattr("implementation")?.getattr("name")?;
    let cpython = implementation.extract::<&str>()? == "cpython";
    GIL.store(cpython && !disabled.is_truthy()?, Ordering::Relaxed);
    Ok(())
}
