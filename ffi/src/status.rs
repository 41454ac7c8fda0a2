//! Status codes returned by every fallible C function.

/// The result of a C API call. `FERRETS_OK` is 0; every other value is an
/// error whose details are in `ferrets_last_error_message`.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ferrets_status_t {
    /// Success.
    FERRETS_OK = 0,
    /// A required pointer argument was NULL.
    FERRETS_ERR_NULL_ARGUMENT = 1,
    /// An argument had an invalid value (see the message).
    FERRETS_ERR_INVALID_ARGUMENT = 2,
    /// The key is not in the table.
    FERRETS_ERR_NOT_FOUND = 3,
    /// The stored value is not an 8-byte counter.
    FERRETS_ERR_NOT_A_COUNTER = 4,
    /// The key (or name) already exists.
    FERRETS_ERR_ALREADY_EXISTS = 5,
    /// A caller-supplied buffer is too small; the needed size was reported.
    FERRETS_ERR_BUFFER_TOO_SMALL = 6,
    /// An internal error was caught before it could cross into C (a bug: please report it).
    FERRETS_ERR_PANIC = 7,
    /// No table with that name is open (`ferrets_table_open_named`).
    FERRETS_ERR_NAME_NOT_FOUND = 8,
    /// The pool's queue is full: the job was not accepted (retry later or shed load).
    FERRETS_ERR_OVERLOADED = 9,
    /// The pool is shutting down: the job was not accepted.
    FERRETS_ERR_SHUTTING_DOWN = 10,
    /// A wait ended before the job did (or, for a try, the job has not ended yet).
    FERRETS_ERR_TIMEOUT = 11,
    /// A blocking submit from a pool worker thread, which could deadlock the pool.
    FERRETS_ERR_WOULD_DEADLOCK = 12,
}
