//! Checked conversions of C arguments: byte buffers, handles, out-parameters, names.

use std::ffi::{c_char, CStr};

use ferrets_core::BytesTable;

use crate::guard::Error;
use crate::status::ferrets_status_t::FERRETS_ERR_INVALID_ARGUMENT;
use crate::table::ferrets_table_t;

/// Borrows `len` bytes at `ptr`; NULL is accepted only for an empty buffer.
///
/// # Safety
/// A non-NULL `ptr` must point to `len` readable bytes for `'a`.
pub(crate) unsafe fn bytes<'a>(ptr: *const u8, len: usize, name: &str) -> Result<&'a [u8], Error> {
    if ptr.is_null() {
        return if len == 0 { Ok(&[]) } else { Err(Error::null(name)) };
    }
    if len > isize::MAX as usize {
        return Err(too_large(name));
    }
    // SAFETY: the caller guarantees `ptr` points to `len` readable bytes.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

#[cold]
#[inline(never)]
fn too_large(name: &str) -> Error {
    Error::new(FERRETS_ERR_INVALID_ARGUMENT, format!("`{name}_len` is too large"))
}

/// The handle behind `t`, or a NULL-argument error.
///
/// # Safety
/// A non-NULL `t` must come from a ferrets_table constructor and not be freed.
pub(crate) unsafe fn handle<'a>(t: *const ferrets_table_t) -> Result<&'a ferrets_table_t, Error> {
    // SAFETY: the caller guarantees a non-NULL `t` is a live handle.
    unsafe { t.as_ref() }.ok_or_else(|| Error::null("table"))
}

/// The table behind `t`, or a NULL-argument error.
///
/// # Safety
/// As for [`handle`].
pub(crate) unsafe fn table<'a>(t: *const ferrets_table_t) -> Result<&'a BytesTable, Error> {
    // SAFETY: forwarded caller contract.
    unsafe { handle(t) }.map(|h| &*h.inner)
}

/// A writable out-parameter, or a NULL-argument error.
pub(crate) fn out<'a, T>(p: *mut T, name: &str) -> Result<&'a mut T, Error> {
    // SAFETY: the caller guarantees a non-NULL out-parameter is valid for writes.
    unsafe { p.as_mut() }.ok_or_else(|| Error::null(name))
}

/// A table name: a non-empty NUL-terminated string (any bytes but NUL).
///
/// # Safety
/// A non-NULL `name` must point to a NUL-terminated string.
pub(crate) unsafe fn name<'a>(name: *const c_char) -> Result<&'a [u8], Error> {
    if name.is_null() {
        return Err(Error::null("name"));
    }
    // SAFETY: the caller guarantees a NUL-terminated string.
    let bytes = unsafe { CStr::from_ptr(name) }.to_bytes();
    if bytes.is_empty() {
        return Err(Error::new(FERRETS_ERR_INVALID_ARGUMENT, "a table name must not be empty"));
    }
    Ok(bytes)
}
