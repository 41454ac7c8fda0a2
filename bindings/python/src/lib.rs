//! The `ferrets._native` Python extension module.

use pyo3::prelude::*;

mod alloc;
mod blob;
mod cache;
mod codec;
mod gil;
mod pool;
mod registry;
mod slots;
mod table;
mod value;

/// The table registered under ``name`` by ``Table(name=...)``, from any
/// thread. Raises ``KeyError`` when there is none.
#[pyfunction]
fn open(name: &str) -> PyResult<table::Table> {
    registry::open(name).map(table::Table::from_shared)
}

/// Unregisters the table named ``name`` (see ``Table.drop``). Raises
/// ``KeyError`` when there is none.
#[pyfunction(name = "drop")]
fn drop_table(name: &str) -> PyResult<()> {
    registry::drop(name)
}

/// The names of the registered tables, sorted.
#[pyfunction]
fn names() -> Vec<String> {
    registry::names()
}

/// The native half of the `ferrets` package; import `ferrets` instead.
#[pymodule(gil_used = false)]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    gil::init(m.py())?;
    m.add_class::<table::Table>()?;
    slots::install(&m.py().get_type::<table::Table>())?;
    m.add_class::<table::TableIterator>()?;
    m.add_function(wrap_pyfunction!(open, m)?)?;
    m.add_function(wrap_pyfunction!(drop_table, m)?)?;
    m.add_function(wrap_pyfunction!(names, m)?)?;
    pool::register(m)?;
    Ok(())
}
