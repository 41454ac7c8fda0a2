//! `ferrets_table_*`: the byte-string table over the C ABI.

use std::sync::Arc;

use ferrets_core::BytesTable;

use crate::args::{bytes, handle, out, table};
use crate::bytes::into_raw;
use crate::guard::{guard, Error};
use crate::named;
use crate::options::ferrets_table_options_t;
use crate::status::ferrets_status_t::{self, *};

/// An opaque handle to a concurrent table of byte-string keys and values.
/// Create with `ferrets_table_new`, `ferrets_table_new_with`,
/// `ferrets_table_create_named`, `ferrets_table_open_named`,
/// `ferrets_table_open_or_create_named` or `ferrets_table_dup`; release each
/// handle with `ferrets_table_free`.
#[allow(non_camel_case_types)]
pub struct ferrets_table_t {
    pub(crate) inner: Arc<BytesTable>,
    /// The registered name this handle counts toward, if any.
    pub(crate) name: Option<Box<[u8]>>,
}

impl Drop for ferrets_table_t {
    fn drop(&mut self) {
        if let Some(name) = &self.name {
            named::release(name);
        }
    }
}

#[cold]
#[inline(never)]
fn not_found() -> Error {
    Error::new(FERRETS_ERR_NOT_FOUND, "key not found")
}

fn emit(out_table: &mut *mut ferrets_table_t, inner: BytesTable) {
    *out_table = Box::into_raw(Box::new(ferrets_table_t { inner: Arc::new(inner), name: None }));
}

/// Creates an empty anonymous table with default options and stores a handle
/// to it in `*out_table`. The caller owns the handle and releases it with
/// `ferrets_table_free`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn ferrets_table_new(out_table: *mut *mut ferrets_table_t) -> ferrets_status_t {
    guard(|| {
        let out_table = out(out_table, "out_table")?;
        emit(out_table, BytesTable::new());
        Ok(())
    })
}

/// Creates an empty anonymous table laid out by `*options` and stores a
/// handle to it in `*out_table`. `options` is read during the call only;
/// invalid fields give `FERRETS_ERR_INVALID_ARGUMENT`. The caller owns the
/// handle and releases it with `ferrets_table_free`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn ferrets_table_new_with(
    options: *const ferrets_table_options_t,
    out_table: *mut *mut ferrets_table_t,
) -> ferrets_status_t {
    guard(|| {
        // SAFETY: the caller guarantees a non-NULL `options` is readable.
        let options = unsafe { options.as_ref() }.ok_or_else(|| Error::null("options"))?;
        let out_table = out(out_table, "out_table")?;
        emit(out_table, BytesTable::with_options(options.to_core()?));
        Ok(())
    })
}

/// Stores in `*out_table` a new handle to the same table as `table` (for a
/// named table, it counts as one more open handle). Both handles are
/// independent: each is released with `ferrets_table_free`, and the table
/// lives until the last one is. Thread-safe; handy to give each thread its
/// own handle.
#[no_mangle]
pub unsafe extern "C" fn ferrets_table_dup(
    table: *const ferrets_table_t,
    out_table: *mut *mut ferrets_table_t,
) -> ferrets_status_t {
    guard(|| {
        // SAFETY: forwarded caller contract.
        let h = unsafe { handle(table)? };
        let out_table = out(out_table, "out_table")?;
        if let Some(name) = &h.name {
            named::retain(name);
        }
        *out_table =
            Box::into_raw(Box::new(ferrets_table_t { inner: h.inner.clone(), name: h.name.clone() }));
        Ok(())
    })
}

/// Releases a handle. The table and everything stored in it are freed with
/// the last handle to it (named tables: the name is then unregistered; a
/// cursor keeps the table's memory until the cursor is freed). NULL is a
/// no-op. No other call on this handle may be running or start afterwards;
/// other handles to the same table stay valid.
#[no_mangle]
pub unsafe extern "C" fn ferrets_table_free(table: *mut ferrets_table_t) {
    if table.is_null() {
        return;
    }
    let _ = guard(|| {
        // SAFETY: per the contract, `table` came from a constructor and is freed once.
        drop(unsafe { Box::from_raw(table) });
        Ok(())
    });
}

/// Stores a copy of `value` under a copy of `key`, replacing any previous
/// value. Both buffers are borrowed for the call only; NULL is allowed for a
/// zero length. Thread-safe.
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

/// Stores a copy of `value` under a copy of `key` only if `key` is absent;
/// returns `FERRETS_ERR_ALREADY_EXISTS` (table unchanged) otherwise. Atomic
/// against concurrent writers. Buffers are borrowed for the call only; NULL
/// is allowed for a zero length. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn ferrets_table_put_new(
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
        if t.insert_new(k.into(), v.into()) {
            Ok(())
        } else {
            Err(Error::new(FERRETS_ERR_ALREADY_EXISTS, "key already exists"))
        }
    })
}

/// Looks up `key`. On success stores a new buffer holding a copy of the value
/// in `*out_value` and its length in `*out_len`; the caller owns that buffer
/// and frees it with `ferrets_bytes_free(*out_value, *out_len)` (an empty
/// value is a non-NULL pointer with length 0, freed the same way).
/// Returns `FERRETS_ERR_NOT_FOUND` (outputs untouched) when the key is absent.
/// `key` is borrowed for the call. Thread-safe.
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
        let v = t.get(k).ok_or_else(not_found)?;
        (*out_value, *out_len) = into_raw(v);
        Ok(())
    })
}

/// Looks up `key` and copies its value into the caller's buffer `buf` of
/// `buf_len` bytes, storing the value's length in `*out_len`. No allocation.
///
/// When the value is longer than `buf_len`, returns
/// `FERRETS_ERR_BUFFER_TOO_SMALL`, leaves `buf` untouched and still stores
/// the needed length in `*out_len` (the one out-parameter written on
/// failure), so `ferrets_table_get_into(t, k, n, NULL, 0, &len)` asks for the
/// size. Returns `FERRETS_ERR_NOT_FOUND` (outputs untouched) when the key is
/// absent. `buf` is owned by the caller and may be NULL only when `buf_len`
/// is 0. Thread-safe (another thread may change the value between a size
/// query and the copy: retry on `FERRETS_ERR_BUFFER_TOO_SMALL`).
#[no_mangle]
pub unsafe extern "C" fn ferrets_table_get_into(
    table: *const ferrets_table_t,
    key: *const u8,
    key_len: usize,
    buf: *mut u8,
    buf_len: usize,
    out_len: *mut usize,
) -> ferrets_status_t {
    guard(|| {
        // SAFETY: forwarded caller contract.
        let (t, k) = unsafe { (self::table(table)?, bytes(key, key_len, "key")?) };
        if buf.is_null() && buf_len != 0 {
            return Err(Error::null("buf"));
        }
        let out_len = out(out_len, "out_len")?;
        let n = t
            .get_with(k, |v| {
                if v.len() <= buf_len && !v.is_empty() {
                    // SAFETY: `buf` is non-NULL (len > 0 and the check above) with
                    // `buf_len >= v.len()` writable bytes, disjoint from `v`.
                    unsafe { std::ptr::copy_nonoverlapping(v.as_ptr(), buf, v.len()) };
                }
                v.len()
            })
            .ok_or_else(not_found)?;
        *out_len = n;
        if n > buf_len {
            return Err(Error::new(
                FERRETS_ERR_BUFFER_TOO_SMALL,
                format!("the value needs {n} bytes, the buffer has {buf_len}"),
            ));
        }
        Ok(())
    })
}

/// Stores in `*out_found` whether `key` is in the table. `key` is borrowed
/// for the call. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn ferrets_table_contains(
    table: *const ferrets_table_t,
    key: *const u8,
    key_len: usize,
    out_found: *mut bool,
) -> ferrets_status_t {
    guard(|| {
        // SAFETY: forwarded caller contract.
        let (t, k) = unsafe { (self::table(table)?, bytes(key, key_len, "key")?) };
        *out(out_found, "out_found")? = t.contains_key(k);
        Ok(())
    })
}

/// Removes `key`. Returns `FERRETS_ERR_NOT_FOUND` when it was absent. `key`
/// is borrowed for the call. Thread-safe.
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
            Err(not_found())
        }
    })
}

/// Removes `key` and hands its value to the caller: a new buffer in
/// `*out_value` with its length in `*out_len`, owned by the caller and freed
/// with `ferrets_bytes_free(*out_value, *out_len)`. Returns
/// `FERRETS_ERR_NOT_FOUND` (outputs untouched, table unchanged) when the key
/// is absent. Of concurrent takes of one key, exactly one gets the value.
/// `key` is borrowed for the call. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn ferrets_table_take(
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
        let v = t.take(k).ok_or_else(not_found)?;
        (*out_value, *out_len) = into_raw(v);
        Ok(())
    })
}

/// Atomically adds `delta` to the counter under `key` (wrapping on
/// overflow), starting from `initial` when the key is absent, and stores the
/// new value in `*out_value`. Counters are stored as 8-byte little-endian
/// integers; a key holding any other value gives `FERRETS_ERR_NOT_A_COUNTER`
/// and is left unchanged. `key` is borrowed for the call. Thread-safe: no
/// increment is lost under concurrent adds.
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

/// Stores the number of entries in `*out_len`. Thread-safe; under concurrent
/// writes the count is a moment's snapshot.
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

/// Removes every entry. Thread-safe; entries written concurrently with the
/// clear may or may not survive it.
#[no_mangle]
pub unsafe extern "C" fn ferrets_table_clear(table: *const ferrets_table_t) -> ferrets_status_t {
    guard(|| {
        // SAFETY: forwarded caller contract.
        unsafe { self::table(table)? }.clear();
        Ok(())
    })
}

/// Completes every resize in progress. Writers finish a growing partition's
/// resize a few groups at a time as they write, and readers never write, so
/// a bulk load that stops while partitions grow leaves them holding two slot
/// arrays (slower misses, more memory) until later writes finish them. Call
/// this after a bulk load; it copies what is left (milliseconds for millions
/// of entries). Thread-safe, concurrently with any other call.
#[no_mangle]
pub unsafe extern "C" fn ferrets_table_finish_resizes(table: *const ferrets_table_t) -> ferrets_status_t {
    guard(|| {
        // SAFETY: forwarded caller contract.
        unsafe { self::table(table)? }.finish_resizes();
        Ok(())
    })
}

/// Stores in `*out_bytes` the heap memory the table uses: its structure plus
/// every stored key and value. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn ferrets_table_memory_bytes(
    table: *const ferrets_table_t,
    out_bytes: *mut usize,
) -> ferrets_status_t {
    guard(|| {
        // SAFETY: forwarded caller contract.
        let t = unsafe { self::table(table)? };
        *out(out_bytes, "out_bytes")? = t.memory_bytes();
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

    #[test]
    fn get_into_reports_the_needed_length() {
        let mut t = null_mut();
        // SAFETY: valid pointers throughout.
        unsafe {
            assert_eq!(ferrets_table_new(&mut t), FERRETS_OK);
            assert_eq!(ferrets_table_put(t, b"k".as_ptr(), 1, b"hello".as_ptr(), 5), FERRETS_OK);
            let mut len = 0;
            assert_eq!(
                ferrets_table_get_into(t, b"k".as_ptr(), 1, null_mut(), 0, &mut len),
                FERRETS_ERR_BUFFER_TOO_SMALL
            );
            assert_eq!(len, 5);
            let mut buf = [0u8; 8];
            assert_eq!(
                ferrets_table_get_into(t, b"k".as_ptr(), 1, buf.as_mut_ptr(), 8, &mut len),
                FERRETS_OK
            );
            assert_eq!(&buf[..len], b"hello");
            ferrets_table_free(t);
        }
    }
}
