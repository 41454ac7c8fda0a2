//! `ferrets_table_*`: the byte-string table over the C ABI.

use ferrets_core::BytesTable;

use crate::bytes::into_raw;
use crate::guard::{guard, Error};
use crate::status::ferrets_status_t::{self, *};

/// An opaque concurrent table of byte-string keys and values.
/// Create with `ferrets_table_new`, release with `ferrets_table_free`.
#[allow(non_camel_case_types)]
pub struct ferrets_table_t {
    inner: BytesTable,
}

/// Borrows `len` bytes at `ptr`; NULL is accepted only for an empty buffer.
unsafe fn bytes<'a>(ptr: *const u8, len: usize, name: &str) -> Result<&'a [u8], Error> {
    if ptr.is_null() {
        return if len == 0 { Ok(&[]) } else { Err(Error::null(name)) };
    }
    if len > isize::MAX as usize {
        return Err(Error::new(FERRETS_ERR_INVALID_ARGUMENT, format!("`{name}_len` is too large")));
    }
    // SAFETY: the caller guarantees `ptr` points to `len` readable bytes.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

unsafe fn table<'a>(t: *const ferrets_table_t) -> Result<&'a BytesTable, Error> {
    // SAFETY: the caller guarantees a non-NULL `t` came from ferrets_table_new and is not freed.
    unsafe { t.as_ref() }.map(|t| &t.inner).ok_or_else(|| Error::null("table"))
}

fn out<'a, T>(p: *mut T, name: &str) -> Result<&'a mut T, Error> {
    // SAFETY: the caller guarantees a non-NULL out-parameter is valid for writes.
    unsafe { p.as_mut() }.ok_or_else(|| Error::null(name))
}

/// Creates an empty table with default options and stores its handle in
/// `*out_table`. The caller owns the handle and releases it with
/// `ferrets_table_free`.
#[no_mangle]
pub unsafe extern "C" fn ferrets_table_new(out_table: *mut *mut ferrets_table_t) -> ferrets_status_t {
    guard(|| {
        let out_table = out(out_table, "out_table")?;
        *out_table = Box::into_raw(Box::new(ferrets_table_t { inner: BytesTable::new() }));
        Ok(())
    })
}

/// Frees a table and everything stored in it. NULL is a no-op. No other call
/// on this handle may be running or start afterwards.
#[no_mangle]
pub unsafe extern "C" fn ferrets_table_free(table: *mut ferrets_table_t) {
    if table.is_null() {
        return;
    }
    let _ = guard(|| {
        // SAFETY: per the contract, `table` came from ferrets_table_new and is freed once.
        drop(unsafe { Box::from_raw(table) });
        Ok(())
    });
}

/// Stores a copy of `value` under a copy of `key`, replacing any previous
/// value. Both buffers are borrowed for the call only; NULL is allowed for a
/// zero length.
#[no_mangle]
pub unsafe extern "C" fn ferrets_table_put(
    table: *const ferrets_table_t,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
) -> ferrets_status_t {
    guard(|| {
        // SAFETY: forwarded caller contract.
        let (t, k, v) =
            unsafe { (self::table(table)?, bytes(key, key_len, "key")?, bytes(value, value_len, "value")?) };
        t.insert(k.into(), v.into());
        Ok(())
    })
}

/// Looks up `key`. On success stores a new buffer holding a copy of the value
/// in `*out_value` and its length in `*out_len`; the caller owns that buffer
/// and frees it with `ferrets_bytes_free(*out_value, *out_len)`.
/// Returns `FERRETS_ERR_NOT_FOUND` (outputs untouched) when the key is absent.
#[no_mangle]
pub unsafe extern "C" fn ferrets_table_get(
    table: *const ferrets_table_t,
    key: *const u8,
    key_len: usize,
    out_value: *mut *mut u8,
    out_len: *mut usize,
) -> ferrets_status_t {
    guard(|| {
        // SAFETY: forwarded caller contract.
        let (t, k) = unsafe { (self::table(table)?, bytes(key, key_len, "key")?) };
        let (out_value, out_len) = (out(out_value, "out_value")?, out(out_len, "out_len")?);
        let v = t.get(k).ok_or_else(|| Error::new(FERRETS_ERR_NOT_FOUND, "key not found"))?;
        (*out_value, *out_len) = into_raw(v);
        Ok(())
    })
}

/// Removes `key`. Returns `FERRETS_ERR_NOT_FOUND` when it was absent.
#[no_mangle]
pub unsafe extern "C" fn ferrets_table_delete(
    table: *const ferrets_table_t,
    key: *const u8,
    key_len: usize,
) -> ferrets_status_t {
    guard(|| {
        // SAFETY: forwarded caller contract.
        let (t, k) = unsafe { (self::table(table)?, bytes(key, key_len, "key")?) };
        if t.remove(k) {
            Ok(())
        } else {
            Err(Error::new(FERRETS_ERR_NOT_FOUND, "key not found"))
        }
    })
}

/// Stores the number of entries in `*out_len`.
#[no_mangle]
pub unsafe extern "C" fn ferrets_table_len(
    table: *const ferrets_table_t,
    out_len: *mut usize,
) -> ferrets_status_t {
    guard(|| {
        // SAFETY: forwarded caller contract.
        let t = unsafe { self::table(table)? };
        *out(out_len, "out_len")? = t.len();
        Ok(())
    })
}

/// Atomically adds `delta` to the counter under `key` (wrapping on
/// overflow), starting from `initial` when the key is absent, and stores the
/// new value in `*out_value`. Counters are stored as 8-byte little-endian
/// integers; a key holding any other value gives `FERRETS_ERR_NOT_A_COUNTER`
/// and is left unchanged.
#[no_mangle]
pub unsafe extern "C" fn ferrets_table_counter_add(
    table: *const ferrets_table_t,
    key: *const u8,
    key_len: usize,
    delta: i64,
    initial: i64,
    out_value: *mut i64,
) -> ferrets_status_t {
    guard(|| {
        // SAFETY: forwarded caller contract.
        let (t, k) = unsafe { (self::table(table)?, bytes(key, key_len, "key")?) };
        let out_value = out(out_value, "out_value")?;
        let n = t
            .counter_add(k.into(), delta, initial)
            .map_err(|e| Error::new(FERRETS_ERR_NOT_A_COUNTER, e.to_string()))?;
        *out_value = n;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ferrets_bytes_free;
    use std::ptr::{null, null_mut};

    #[test]
    fn round_trip_and_errors() {
        let mut t = null_mut();
        // SAFETY: valid pointers throughout; every buffer returned is freed once.
        unsafe {
            assert_eq!(ferrets_table_new(&mut t), FERRETS_OK);
            assert_eq!(ferrets_table_put(t, b"k".as_ptr(), 1, b"v".as_ptr(), 1), FERRETS_OK);
            let (mut p, mut n) = (null_mut(), 0);
            assert_eq!(ferrets_table_get(t, b"k".as_ptr(), 1, &mut p, &mut n), FERRETS_OK);
            assert_eq!(std::slice::from_raw_parts(p, n), b"v");
            ferrets_bytes_free(p, n);
            let (mut p2, mut n2) = (null_mut(), 99);
            assert_eq!(ferrets_table_get(t, b"x".as_ptr(), 1, &mut p2, &mut n2), FERRETS_ERR_NOT_FOUND);
            assert!(p2.is_null() && n2 == 99, "outputs untouched on failure");
            assert_eq!(ferrets_table_put(null(), null(), 0, null(), 0), FERRETS_ERR_NULL_ARGUMENT);
            assert_eq!(ferrets_table_put(t, null(), 3, null(), 0), FERRETS_ERR_NULL_ARGUMENT);
            let mut c = 0;
            assert_eq!(ferrets_table_counter_add(t, b"c".as_ptr(), 1, 2, 40, &mut c), FERRETS_OK);
            assert_eq!(c, 42);
            assert_eq!(
                ferrets_table_counter_add(t, b"k".as_ptr(), 1, 1, 0, &mut c),
                FERRETS_ERR_NOT_A_COUNTER
            );
            assert_eq!(c, 42);
            assert_eq!(ferrets_table_delete(t, b"k".as_ptr(), 1), FERRETS_OK);
            assert_eq!(ferrets_table_delete(t, b"k".as_ptr(), 1), FERRETS_ERR_NOT_FOUND);
            let mut len = 0;
            assert_eq!(ferrets_table_len(t, &mut len), FERRETS_OK);
            assert_eq!(len, 1);
            ferrets_table_free(t);
            ferrets_table_free(null_mut());
        }
    }
}
