//! The C ABI of ferrets (`libferrets.so` / `libferrets.a`, `include/ferrets.h`).
//!
//! Every `extern "C"` body runs inside [`guard::guard`], so no Rust panic ever
//! unwinds into C: it becomes `FERRETS_ERR_PANIC` with a message.

mod bytes;
mod guard;
mod status;
mod table;
mod version;

pub use bytes::ferrets_bytes_free;
pub use guard::ferrets_last_error_message;
pub use status::ferrets_status_t;
pub use table::*;
pub use version::*;
