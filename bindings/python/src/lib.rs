//! The `ferrets._native` Python extension module.

use pyo3::prelude::*;

mod codec;
mod table;

/// The native half of the `ferrets` package; import `ferrets` instead.
#[pymodule(gil_used = false)]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<table::Table>()?;
    Ok(())
}
