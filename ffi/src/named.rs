//! Named tables: a process-wide registry from name to table, counting open
//! handles. A named table lives while any handle to it is open; freeing the
//! last handle removes the name (a cursor still walking it keeps its memory
//! alive until the cursor is freed, but the name can then be reused).

use std::collections::BTreeMap;
use std::ffi::c_char;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use ferrets_core::BytesTable;

use crate::args::{name, out};
use crate::guard::{guard, Error};
use crate::options::ferrets_table_options_t;
use crate::status::ferrets_status_t::{self, *};
use crate::table::ferrets_table_t;

struct Entry {
    table: Arc<BytesTable>,
    /// Open `ferrets_table_t` handles carrying this name.
    handles: usize,
}

type Registry = BTreeMap<Box<[u8]>, Entry>;

static REGISTRY: Mutex<Registry> = Mutex::new(BTreeMap::new());

fn registry() -> MutexGuard<'static, Registry> {
    // The critical sections below never leave the map half-updated, so a
    // poisoned lock (a panic elsewhere while holding it) is still consistent.
    REGISTRY.lock().unwrap_or_else(PoisonError::into_inner)
}

fn display(name: &[u8]) -> String {
    String::from_utf8_lossy(name).into_owned()
}

fn handle(table: Arc<BytesTable>, name: &[u8]) -> ferrets_table_t {
    ferrets_table_t { inner: table, name: Some(name.into()) }
}

fn create(
    name: &[u8],
    options: &ferrets_table_options_t,
    open_existing: bool,
) -> Result<ferrets_table_t, Error> {
    let options = options.to_core()?;
    let mut reg = registry();
    if let Some(e) = reg.get_mut(name) {
        if !open_existing {
            return Err(Error::new(
                FERRETS_ERR_ALREADY_EXISTS,
                format!("a table named `{}` is already open", display(name)),
            ));
        }
        e.handles += 1;
        return Ok(handle(e.table.clone(), name));
    }
    let table = Arc::new(BytesTable::with_options(options));
    reg.insert(name.into(), Entry { table: table.clone(), handles: 1 });
    Ok(handle(table, name))
}

fn open(name: &[u8]) -> Result<ferrets_table_t, Error> {
    let mut reg = registry();
    let e = reg.get_mut(name).ok_or_else(|| {
        Error::new(FERRETS_ERR_NAME_NOT_FOUND, format!("no table named `{}` is open", display(name)))
    })?;
    e.handles += 1;
    Ok(handle(e.table.clone(), name))
}

/// Counts one more handle for `name` (a duplicated handle).
pub(crate) fn retain(name: &[u8]) {
    if let Some(e) = registry().get_mut(name) {
        e.handles += 1;
    }
}

/// Forgets one handle for `name`; the last one removes the name.
pub(crate) fn release(name: &[u8]) {
    let removed = {
        let mut reg = registry();
        match reg.get_mut(name) {
            Some(e) if e.handles > 1 => {
                e.handles -= 1;
                None
            }
            Some(_) => reg.remove(name),
            None => None,
        }
    };
    // Drop the table (possibly large) outside the registry lock.
    drop(removed);
}

fn emit(out_table: &mut *mut ferrets_table_t, h: ferrets_table_t) {
    *out_table = Box::into_raw(Box::new(h));
}

/// Creates an empty table laid out by `*options`, registers it under `name`
/// and stores a new handle to it in `*out_table`.
///
/// `name` is a non-empty NUL-terminated string (any bytes), copied; `options`
/// is read during the call only. Returns `FERRETS_ERR_ALREADY_EXISTS` when a
/// table with that name is open. The caller owns the handle and releases it
/// with `ferrets_table_free`; the table lives while any handle to it is
/// open, and freeing the last one removes the name. Thread-safe: the
/// registry is process-wide and locked.
#[no_mangle]
pub unsafe extern "C" fn ferrets_table_create_named(
    name: *const c_char,
    options: *const ferrets_table_options_t,
    out_table: *mut *mut ferrets_table_t,
) -> ferrets_status_t {
    // SAFETY: forwarded caller contract.
    unsafe { create_entry(name, options, out_table, false) }
}

/// Opens the table registered under `name` and stores a new handle to it in
/// `*out_table`. Returns `FERRETS_ERR_NAME_NOT_FOUND` when no table with that
/// name is open.
///
/// `name` is borrowed for the call. The caller owns the new handle and
/// releases it with `ferrets_table_free`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn ferrets_table_open_named(
    name: *const c_char,
    out_table: *mut *mut ferrets_table_t,
) -> ferrets_status_t {
    guard(|| {
        // SAFETY: forwarded caller contract.
        let name = unsafe { self::name(name)? };
        let out_table = out(out_table, "out_table")?;
        emit(out_table, open(name)?);
        Ok(())
    })
}

/// Opens the table registered under `name`, creating it with `*options` if
/// no table with that name is open (`options` is then ignored otherwise),
/// and stores a new handle in `*out_table`. Atomic: concurrent callers with
/// the same name all get handles to one table.
///
/// `name` and `options` are borrowed for the call. The caller owns the new
/// handle and releases it with `ferrets_table_free`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn ferrets_table_open_or_create_named(
    name: *const c_char,
    options: *const ferrets_table_options_t,
    out_table: *mut *mut ferrets_table_t,
) -> ferrets_status_t {
    // SAFETY: forwarded caller contract.
    unsafe { create_entry(name, options, out_table, true) }
}

/// The body of `ferrets_table_create_named` (`open_existing = false`) and
/// `ferrets_table_open_or_create_named` (`true`).
unsafe fn create_entry(
    name: *const c_char,
    options: *const ferrets_table_options_t,
    out_table: *mut *mut ferrets_table_t,
    open_existing: bool,
) -> ferrets_status_t {
    guard(|| {
        // SAFETY: forwarded caller contract.
        let name = unsafe { self::name(name)? };
        // SAFETY: the caller guarantees a non-NULL `options` is readable.
        let options = unsafe { options.as_ref() }.ok_or_else(|| Error::null("options"))?;
        let out_table = out(out_table, "out_table")?;
        emit(out_table, create(name, options, open_existing)?);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{ferrets_table_free, ferrets_table_put};
    use std::ptr::null_mut;

    #[test]
    fn handles_are_counted() {
        let opts = ferrets_table_options_t::default();
        let name = c"named-tests-counted";
        let (mut a, mut b, mut c) = (null_mut(), null_mut(), null_mut());
        // SAFETY: valid pointers; every handle is freed once.
        unsafe {
            assert_eq!(ferrets_table_open_named(name.as_ptr(), &mut a), FERRETS_ERR_NAME_NOT_FOUND);
            assert_eq!(ferrets_table_create_named(name.as_ptr(), &opts, &mut a), FERRETS_OK);
            assert_eq!(ferrets_table_create_named(name.as_ptr(), &opts, &mut b), FERRETS_ERR_ALREADY_EXISTS);
            assert!(b.is_null());
            assert_eq!(ferrets_table_open_named(name.as_ptr(), &mut b), FERRETS_OK);
            assert_eq!(ferrets_table_put(a, b"k".as_ptr(), 1, b"v".as_ptr(), 1), FERRETS_OK);
            assert!((*b).inner.contains_key(&b"k"[..]));
            ferrets_table_free(a);
            assert_eq!(ferrets_table_open_or_create_named(name.as_ptr(), &opts, &mut c), FERRETS_OK);
            assert!((*c).inner.contains_key(&b"k"[..]), "still the same table");
            ferrets_table_free(b);
            ferrets_table_free(c);
            assert_eq!(ferrets_table_open_named(name.as_ptr(), &mut a), FERRETS_ERR_NAME_NOT_FOUND);
        }
    }
}
