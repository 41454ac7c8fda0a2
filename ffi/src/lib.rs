//! The C ABI of ferrets (`libferrets.so` / `libferrets.a`, `include/ferrets.h`).
//!
//! Every `extern "C"` body runs inside [`guard::guard`], so no Rust panic ever
//! unwinds into C: it becomes `FERRETS_ERR_PANIC` with a message.
//!
//! Every exported function is `unsafe` because C passes raw pointers; the
//! contract (valid for the stated length, handles from the matching `_new`,
//! not freed) is written once in the header's preamble and per function in
//! its C doc, which cbindgen copies into `include/ferrets.h`.
#![allow(clippy::missing_safety_doc)]

mod args;
mod bytes;
mod cursor;
mod guard;
mod named;
mod options;
mod pool;
mod status;
mod table;
mod version;

pub use bytes::ferrets_bytes_free;
pub use cursor::*;
pub use guard::ferrets_last_error_message;
pub use named::*;
pub use options::*;
pub use pool::*;
pub use status::ferrets_status_t;
pub use table::*;
pub use version::*;
