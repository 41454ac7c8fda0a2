//! Named tables: a process-wide registry so `ferrets.open(name)` finds the
//! table created with `ferrets.Table(name=...)` from any thread.
//!
//! Lifetime: the registry holds a strong reference, so a named table lives
//! until it is dropped (`Table.drop()` / `ferrets.drop(name)`), even with no
//! Python handle left; after that it lives as long as its handles.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};

use pyo3::exceptions::{PyKeyError, PyValueError};
use pyo3::PyResult;

use crate::table::Shared;

static TABLES: LazyLock<Mutex<HashMap<String, Arc<Shared>>>> = LazyLock::new(Default::default);

fn tables() -> MutexGuard<'static, HashMap<String, Arc<Shared>>> {
    // Nothing panics while holding the lock; recover from poisoning anyway.
    TABLES.lock().unwrap_or_else(|e| e.into_inner())
}

/// Registers the table `make(name)` builds under `name`, or fails with
/// `ValueError` when the name is taken.
pub fn create(name: String, make: impl FnOnce(String) -> Arc<Shared>) -> PyResult<Arc<Shared>> {
    let mut tables = tables();
    if tables.contains_key(&name) {
        return Err(PyValueError::new_err(format!(
            "a table named '{name}' already exists (use ferrets.open)"
        )));
    }
    let shared = make(name.clone());
    tables.insert(name, shared.clone());
    Ok(shared)
}

/// The table registered under `name`, or `KeyError`.
pub fn open(name: &str) -> PyResult<Arc<Shared>> {
    tables().get(name).cloned().ok_or_else(|| PyKeyError::new_err(format!("no table named '{name}'")))
}

/// Unregisters `name`, or fails with `KeyError` when no table has it.
pub fn drop(name: &str) -> PyResult<()> {
    // Free the entries (if this was the last reference) after unlocking.
    let removed = tables().remove(name);
    removed.map(|_| ()).ok_or_else(|| PyKeyError::new_err(format!("no table named '{name}'")))
}

/// Unregisters `name` if it still refers to `shared`.
pub fn drop_if_same(name: &str, shared: &Arc<Shared>) {
    let mut tables = tables();
    if tables.get(name).is_some_and(|t| Arc::ptr_eq(t, shared)) {
        tables.remove(name);
    }
}

/// The registered names, sorted.
pub fn names() -> Vec<String> {
    let mut names: Vec<String> = tables().keys().cloned().collect();
    names.sort();
    names
}
