//! `ferrets-core`: the engine behind ferrets.
//!
//! - [`Table`]: a concurrent hash table partitioned by key hash, with set
//!   semantics, atomic read-modify-write ([`Table::compute`]), counters and
//!   exact memory accounting. Keys and values are any `Hash + Eq` / `Clone`
//!   types; [`BytesTable`] is the byte-string table the C ABI uses.
//! - [`WordTable`]: the same lock-free design for word-sized `Copy` keys and
//!   values ([`Word`]: integers, `bool`, `char`, floats) stored inline in the
//!   table: a hit reads one group and nothing else, writes never allocate,
//!   updates and counter adds are one 16-byte CAS in place.
//!
//! Which table: for word-sized data (ids, counters, indexes into your own
//! storage) pick [`WordTable`]: it never allocates per write, adds to
//! counters in place, and in the core benchmark (`BENCHMARKS.md`) it is
//! 1.0-1.6x as fast as [`Table`] on reads, 1.5-2.2x on exchanges, 3-6x on
//! counters and 0.9x on growth (none of its operations pins an epoch,
//! where [`Table`]'s writes do; both tables' reads enter a reader section
//! instead: see `core/src/quiesce.rs`); it holds more bytes per entry
//! (three words a lane at 1/2-3/4 load: 34-51 bytes against ~28 for 16-byte
//! boxed entries).
//! Pick [`Table`] for anything else (strings, byte buffers, structs), for
//! borrowed lookups ([`Table::get_ref`]) and for keys compared by `Eq` rather
//! than by their bits.
//!
//! Both grow incrementally: writers copy a few groups of a growing partition
//! each, so after a bulk load call `finish_resizes` ([`Table::finish_resizes`],
//! [`WordTable::finish_resizes`]), or partitions caught growing keep their
//! old arrays (more memory, misses probing two arrays) until later writes.
//!
//! ```
//! use ferrets_core::{Compute, Table, WordTable};
//!
//! let hits: WordTable<u64, u64> = WordTable::new();
//! assert_eq!(hits.counter_add(42, 1, 0), 1);
//! assert!(hits.insert_new(7, 70));
//! assert_eq!(hits.compute(7, |v| Compute::Insert(v.unwrap_or(0) + 1, ())), ());
//! assert_eq!((hits.get(42), hits.get(7), hits.len()), (Some(1), Some(71), 2));
//!
//! let names: Table<u64, String> = Table::new();
//! names.insert(1, "Ada".to_string());
//! assert_eq!(names.get(&1).as_deref(), Some("Ada"));
//! ```
//! - [`pool`]: a bounded offload pool (never-blocking submit, deadlines,
//!   cancellation, exactly-once outcomes).
//! - [`snapshot`]: the crash-safe, checksummed snapshot file format.
//!
//! The bindings (BEAM, Python) depend on this crate directly, never on the C ABI.

mod counter;
mod ctrl;
mod groups;
mod heap_size;
mod next;
mod options;
pub mod pool;
mod primitive;
mod quiesce;
#[cfg(not(loom))]
mod reclaim;
pub mod snapshot;
mod table;
#[cfg(test)]
mod test_util;
mod word;

pub use counter::{CounterValue, NotACounter};
pub use heap_size::HeapSize;
pub use options::TableOptions;
pub use pool::{
    CancelResult, CancelToken, JobHandle, Outcome, Pool, PoolConfig, PoolMetrics, Rejected, ShutdownMode,
    ShutdownReport, SubmitOptions,
};
pub use table::{flush_retired, pinned, Cursor, Iter, Pinned, Scan, SerialReader};
pub use table::{Compute, Table};
pub use word::{Word, WordCounter, WordIter, WordTable};

/// A table of byte-string keys and values: what C callers store.
pub type BytesTable = Table<Box<[u8]>, Box<[u8]>>;
