//! `ferrets-core`: the engine behind ferrets.
//!
//! - [`Table`]: a concurrent hash table partitioned by key hash, with set
//!   semantics, atomic read-modify-write ([`Table::compute`]), counters and
//!   exact memory accounting. Keys and values are any `Hash + Eq` / `Clone`
//!   types; [`BytesTable`] is the byte-string table the C ABI uses.
//! - [`pool`]: a bounded offload pool (never-blocking submit, deadlines,
//!   cancellation, exactly-once outcomes).
//! - [`snapshot`]: the crash-safe, checksummed snapshot file format.
//!
//! The bindings (BEAM, Python) depend on this crate directly, never on the C ABI.

mod counter;
mod heap_size;
mod options;
pub mod pool;
mod primitive;
pub mod snapshot;
mod table;
mod word;

pub use counter::{CounterValue, NotACounter};
pub use heap_size::HeapSize;
pub use options::TableOptions;
pub use pool::{
    CancelResult, CancelToken, JobHandle, Outcome, Pool, PoolConfig, PoolMetrics, Rejected, ShutdownMode,
    ShutdownReport, SubmitOptions,
};
pub use table::{pinned, Iter, Pinned};
pub use table::{Compute, Table};
pub use word::{Word, WordCounter, WordIter, WordTable};

/// A table of byte-string keys and values: what C callers store.
pub type BytesTable = Table<Box<[u8]>, Box<[u8]>>;
