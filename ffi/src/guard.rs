//! The boundary guard: panics become statuses, errors become a thread-local message.

use std::any::Any;
use std::cell::RefCell;
use std::ffi::c_char;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::status::ferrets_status_t;

thread_local! {
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

/// An error on its way out to C: a status and a human-readable message.
pub(crate) struct Error {
    pub(crate) status: ferrets_status_t,
    pub(crate) message: String,
}

impl Error {
    #[cold]
    pub(crate) fn new(status: ferrets_status_t, message: impl Into<String>) -> Self {
        Self { status, message: message.into() }
    }

    #[cold]
    #[inline(never)]
    pub(crate) fn null(arg: &str) -> Self {
        Self::new(ferrets_status_t::FERRETS_ERR_NULL_ARGUMENT, format!("argument `{arg}` must not be NULL"))
    }
}

fn set_last_error(message: String) {
    LAST_ERROR.with(|e| *e.borrow_mut() = message);
}

/// Runs `body`; returns `FERRETS_OK` or the error's status, recording its
/// message. A panic is caught and reported as `FERRETS_ERR_PANIC`.
///
/// Inlined into every `extern "C"` function so the success path costs no
/// extra call; the error paths live in cold, out-of-line functions.
#[inline(always)]
pub(crate) fn guard(body: impl FnOnce() -> Result<(), Error>) -> ferrets_status_t {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => ferrets_status_t::FERRETS_OK,
        Ok(Err(e)) => failed(e),
        Err(payload) => panicked(payload),
    }
}

#[cold]
#[inline(never)]
fn failed(e: Error) -> ferrets_status_t {
    set_last_error(e.message);
    e.status
}

#[cold]
#[inline(never)]
fn panicked(payload: Box<dyn Any + Send>) -> ferrets_status_t {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string());
    set_last_error(format!("internal error (caught panic): {what}"));
    ferrets_status_t::FERRETS_ERR_PANIC
}

/// Copies the calling thread's last error message into `buf` as a
/// NUL-terminated string, truncating to fit `buf_len` bytes.
///
/// Returns the length the full message needs, including the NUL, so callers
/// can size a buffer with `ferrets_last_error_message(NULL, 0)`. Returns 1
/// (just the NUL) when no error has happened on this thread. `buf` is owned
/// by the caller; it may be NULL only when `buf_len` is 0.
#[no_mangle]
pub unsafe extern "C" fn ferrets_last_error_message(buf: *mut c_char, buf_len: usize) -> usize {
    catch_unwind(|| {
        LAST_ERROR.with(|e| {
            let msg = e.borrow();
            let bytes = msg.as_bytes();
            if !buf.is_null() && buf_len > 0 {
                let n = bytes.len().min(buf_len - 1);
                // SAFETY: the caller guarantees `buf` has `buf_len` writable bytes; n + 1 <= buf_len.
                unsafe {
                    std::ptr::copy_nonoverlapping(bytes.as_ptr(), buf.cast::<u8>(), n);
                    *buf.add(n) = 0;
                }
            }
            bytes.len() + 1
        })
    })
    .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panics_become_a_status_and_a_message() {
        let status = guard(|| panic!("boom"));
        assert_eq!(status, ferrets_status_t::FERRETS_ERR_PANIC);
        let mut buf = [0 as c_char; 64];
        // SAFETY: buf is a valid 64-byte buffer.
        let needed = unsafe { ferrets_last_error_message(buf.as_mut_ptr(), buf.len()) };
        // SAFETY: the function NUL-terminated buf.
        let msg = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) }.to_str().unwrap();
        assert!(msg.contains("boom"), "{msg}");
        assert_eq!(needed, msg.len() + 1);
    }

    #[test]
    fn message_truncates_to_the_buffer() {
        let _ = guard(|| Err(Error::new(ferrets_status_t::FERRETS_ERR_INVALID_ARGUMENT, "0123456789")));
        let mut buf = [0x7f as c_char; 4];
        // SAFETY: buf is a valid 4-byte buffer.
        let needed = unsafe { ferrets_last_error_message(buf.as_mut_ptr(), buf.len()) };
        assert_eq!(needed, 11);
        assert_eq!(buf.map(|c| c as u8), *b"012\0");
    }
}
