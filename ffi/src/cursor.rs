//! `ferrets_cursor_*`: iteration over a table, safe under concurrent writes.

use std::sync::Arc;

use ferrets_core::BytesTable;

use crate::args::{handle, out};
use crate::guard::{guard, Error};
use crate::status::ferrets_status_t;
use crate::table::ferrets_table_t;

type Pair = (Box<[u8]>, Box<[u8]>);

/// An opaque cursor over a table's entries. Create with
/// `ferrets_cursor_new`, advance with `ferrets_cursor_next`, release with
/// `ferrets_cursor_free`.
#[allow(non_camel_case_types)]
pub struct ferrets_cursor_t {
    // Field order is drop order: the iterator borrows `*table`, so it goes first.
    iter: Box<dyn Iterator<Item = Pair>>,
    current: Option<Pair>,
    /// Keeps the table alive (and at a fixed address) while `iter` borrows it.
    #[allow(dead_code)]
    table: Arc<BytesTable>,
}

/// One entry seen by a cursor. The pointers are owned by the cursor and stay
/// valid until the next `ferrets_cursor_next` or `ferrets_cursor_free` on
/// it; copy the bytes to keep them. An empty key or value is a non-NULL
/// pointer with length 0.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ferrets_entry_t {
    /// The key's bytes.
    pub key: *const u8,
    /// The key's length in bytes.
    pub key_len: usize,
    /// The value's bytes.
    pub value: *const u8,
    /// The value's length in bytes.
    pub value_len: usize,
}

/// Starts a cursor over the entries of `table` and stores it in
/// `*out_cursor`. The caller owns the cursor and releases it with
/// `ferrets_cursor_free`.
///
/// The cursor holds its own reference to the table: it stays usable even if
/// every table handle is freed first. Other threads may read and write the
/// table while the cursor walks it: every entry present for the whole walk is
/// returned exactly once; entries added or removed meanwhile may or may not
/// be. Thread-safe to create; a cursor itself must be used by one thread at
/// a time (it may move between threads).
#[no_mangle]
pub unsafe extern "C" fn ferrets_cursor_new(
    table: *const ferrets_table_t,
    out_cursor: *mut *mut ferrets_cursor_t,
) -> ferrets_status_t {
    guard(|| {
        // SAFETY: forwarded caller contract.
        let h = unsafe { handle(table)? };
        let out_cursor = out(out_cursor, "out_cursor")?;
        let table = h.inner.clone();
        let iter: Box<dyn Iterator<Item = Pair> + '_> = Box::new(table.iter());
        // SAFETY: the iterator borrows the table inside the `Arc` stored next
        // to it in the cursor; that allocation neither moves nor dies before
        // the cursor, whose field order drops the iterator first.
        let iter: Box<dyn Iterator<Item = Pair>> = unsafe { std::mem::transmute(iter) };
        *out_cursor = Box::into_raw(Box::new(ferrets_cursor_t { iter, current: None, table }));
        Ok(())
    })
}

/// Advances the cursor. When there is a next entry, stores it in
/// `*out_entry` (pointers owned by the cursor, valid until the next call on
/// this cursor or its free) and `true` in `*out_found`; at the end stores
/// `false` in `*out_found` and leaves `*out_entry` untouched (further calls
/// keep reporting the end). Not safe to call concurrently on one cursor.
#[no_mangle]
pub unsafe extern "C" fn ferrets_cursor_next(
    cursor: *mut ferrets_cursor_t,
    out_entry: *mut ferrets_entry_t,
    out_found: *mut bool,
) -> ferrets_status_t {
    guard(|| {
        // SAFETY: the caller guarantees a non-NULL cursor is live and used by one thread.
        let c = unsafe { cursor.as_mut() }.ok_or_else(|| Error::null("cursor"))?;
        let (out_entry, out_found) = (out(out_entry, "out_entry")?, out(out_found, "out_found")?);
        c.current = c.iter.next();
        match &c.current {
            Some((k, v)) => {
                *out_entry = ferrets_entry_t {
                    key: k.as_ptr(),
                    key_len: k.len(),
                    value: v.as_ptr(),
                    value_len: v.len(),
                };
                *out_found = true;
            }
            None => *out_found = false,
        }
        Ok(())
    })
}

/// Frees a cursor and the entry it last returned. NULL is a no-op. No other
/// call on this cursor may be running or start afterwards.
#[no_mangle]
pub unsafe extern "C" fn ferrets_cursor_free(cursor: *mut ferrets_cursor_t) {
    if cursor.is_null() {
        return;
    }
    let _ = guard(|| {
        // SAFETY: per the contract, `cursor` came from ferrets_cursor_new and is freed once.
        drop(unsafe { Box::from_raw(cursor) });
        Ok(())
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::ferrets_status_t::*;
    use crate::table::{ferrets_table_free, ferrets_table_new, ferrets_table_put};
    use std::ptr::null_mut;

    #[test]
    fn walks_every_entry_and_outlives_the_handle() {
        let (mut t, mut c) = (null_mut(), null_mut());
        // SAFETY: valid pointers; entries read before the next call.
        unsafe {
            assert_eq!(ferrets_table_new(&mut t), FERRETS_OK);
            for i in 0u8..100 {
                assert_eq!(ferrets_table_put(t, &i, 1, [i, i].as_ptr(), 2), FERRETS_OK);
            }
            assert_eq!(ferrets_cursor_new(t, &mut c), FERRETS_OK);
            ferrets_table_free(t);
            let mut seen = [false; 100];
            let mut e =
                ferrets_entry_t { key: std::ptr::null(), key_len: 0, value: std::ptr::null(), value_len: 0 };
            let mut found = false;
            loop {
                assert_eq!(ferrets_cursor_next(c, &mut e, &mut found), FERRETS_OK);
                if !found {
                    break;
                }
                let k = *e.key;
                assert_eq!((e.key_len, e.value_len), (1, 2));
                assert_eq!(std::slice::from_raw_parts(e.value, 2), [k, k]);
                assert!(!seen[k as usize]);
                seen[k as usize] = true;
            }
            assert!(seen.iter().all(|s| *s));
            ferrets_cursor_free(c);
        }
    }
}
