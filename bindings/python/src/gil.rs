//! Whether Python threads are serialised by a global interpreter lock.
//!
//! On an interpreter with a GIL (every CPython build but the free-threaded
//! one) the thread that runs a Python call holds the GIL for the whole call,
//! so two calls attached to the interpreter never overlap. Three shortcuts
//! rely on that: in-place value writes take their sequence lock with a plain
//! store instead of a compare-and-swap (see `value`), each table keeps a
//! cache of the Python objects its reads returned (see `cache`), and
//! lookups share one reader section slot ([`Serial::pinned`]). A
//! [`Serial`] token is the proof all three ask for; it only exists when the
//! interpreter has a GIL and the thread is attached. One GIL serialises
//! every caller: pyo3 refuses to import the module into a subinterpreter
//! (which could have a GIL of its own).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use ferrets_core::{Pinned, SerialReader};
use pyo3::prelude::*;

/// Set at import when the interpreter has a GIL.
static GIL: AtomicBool = AtomicBool::new(false);

/// Proof that the current thread holds the interpreter's GIL: no other
/// thread runs a Python call (or anything else attached) until it is gone.
#[derive(Clone, Copy)]
pub struct Serial<'py>(#[allow(dead_code)] Python<'py>);

/// The reader section slot that GIL holders share (set at import, with `GIL`).
static READER: OnceLock<SerialReader> = OnceLock::new();

impl Serial<'_> {
    /// A reader section for table lookups on the slot GIL holders share:
    /// no thread-local lookup. Drop it before anything that may release
    /// the GIL (Python code, `detach`): two threads must never hold
    /// sections of the shared slot at once.
    #[inline(always)]
    pub fn pinned(self) -> Pinned {
        match READER.get() {
            // SAFETY: this thread holds the GIL, so no other thread is inside
            // a section of `READER` (callers drop theirs before the GIL can
            // move), and the GIL's hand-over orders one holder's sections
            // before the next one's.
            Some(reader) => unsafe { reader.pinned() },
            None => ferrets_core::pinned(),
        }
    }
}

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
    let gil = cpython && !disabled.is_truthy()?;
    if gil {
        READER.get_or_init(SerialReader::new);
    }
    GIL.store(gil, Ordering::Relaxed);
    Ok(())
}
