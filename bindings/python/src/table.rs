//! `ferrets.Table`: a thread-safe mapping over the core table.

use std::sync::Arc;

use ferrets_core::BytesTable;
use pyo3::exceptions::PyKeyError;
use pyo3::prelude::*;

use crate::codec::{decode, encode_key, encode_value};

/// A thread-safe concurrent table with dict-like access.
///
/// Keys and values are stored by value: later changes to the objects you
/// stored are not seen by the table.
#[pyclass(module = "ferrets._native", frozen)]
pub struct Table {
    inner: Arc<BytesTable>,
}

#[pymethods]
impl Table {
    /// An empty table.
    #[new]
    fn new() -> Self {
        Self { inner: Arc::new(BytesTable::new()) }
    }

    fn __getitem__<'py>(&self, key: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let k = encode_key(key)?;
        match self.inner.get(&k[..]) {
            Some(v) => decode(key.py(), &v),
            None => Err(PyKeyError::new_err(key.clone().unbind())),
        }
    }

    fn __setitem__(&self, key: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        // Encode both before touching the table: a failed call changes nothing.
        let (k, v) = (encode_key(key)?, encode_value(value)?);
        self.inner.insert(k, v);
        Ok(())
    }

    fn __delitem__(&self, key: &Bound<'_, PyAny>) -> PyResult<()> {
        if self.inner.remove(&encode_key(key)?[..]) {
            Ok(())
        } else {
            Err(PyKeyError::new_err(key.clone().unbind()))
        }
    }

    fn __contains__(&self, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        Ok(self.inner.contains_key(&encode_key(key)?[..]))
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }
}
