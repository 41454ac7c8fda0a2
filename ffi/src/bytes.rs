//! Buffers the library hands to C, and the one function that frees them.

/// Moves `bytes` to C as a pointer + length pair, to be released with
/// [`ferrets_bytes_free`]. Empty buffers are still valid non-NULL pointers.
pub(crate) fn into_raw(bytes: Box<[u8]>) -> (*mut u8, usize) {
    let len = bytes.len();
    (Box::into_raw(bytes).cast::<u8>(), len)
}

/// Frees a buffer the library returned (for example from `ferrets_table_get`).
///
/// `ptr` and `len` must be exactly what the library returned; each buffer is
/// freed once. Freeing NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn ferrets_bytes_free(ptr: *mut u8, len: usize) {
    if ptr.is_null() {
        return;
    }
    // SAFETY: per the contract, (ptr, len) came from `into_raw` and is freed once.
    drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr, len)) });
}
