//! Values that can act as atomic integer counters ([`crate::Table::counter_add`]).

use std::fmt;

/// A value type that can hold a signed 64-bit counter.
pub trait CounterValue: Sized {
    /// The counter held by this value, or `None` when it is not a counter.
    fn as_counter(&self) -> Option<i64>;
    /// A value holding `n`.
    fn from_counter(n: i64) -> Self;
}

/// Integer counters are 8-byte little-endian `i64`s in byte tables, so C can
/// read them back with `memcpy` on any little-endian host.
impl CounterValue for Box<[u8]> {
    fn as_counter(&self) -> Option<i64> {
        <[u8; 8]>::try_from(&self[..]).ok().map(i64::from_le_bytes)
    }
    fn from_counter(n: i64) -> Self {
        Box::new(n.to_le_bytes())
    }
}

impl CounterValue for i64 {
    fn as_counter(&self) -> Option<i64> {
        Some(*self)
    }
    fn from_counter(n: i64) -> Self {
        n
    }
}

/// The stored value under a key is not a counter (for byte tables: not exactly 8 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotACounter;

impl fmt::Display for NotACounter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the stored value is not a counter (expected an 8-byte little-endian integer)")
    }
}

impl std::error::Error for NotACounter {}
