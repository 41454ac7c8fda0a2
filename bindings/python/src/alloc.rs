//! The extension's memory allocator: mimalloc rather than the process's malloc.
//!
//! A cold read is bound by the cache misses on a table group and on the
//! boxed entry it points to (64 bytes for this binding). glibc hands such
//! entries out at 16-byte offsets in 80-byte chunks with an 8-byte header
//! between them, interleaved with every other allocation of the process, so
//! most of them straddle two lines; mimalloc packs same-sized blocks
//! together in pages of their own (64-byte blocks on lines of their own) and
//! backs its arenas with transparent huge pages, which measured 5-15 %
//! faster on cold reads and writes of 100,000-key tables (BENCHMARKS.md).
//! The price: the first touch of each 2 MiB is one page fault that zeroes
//! it, so a write that grows a table can take a few milliseconds (~4.5 ms
//! on this VM). The BEAM NIF, which must return within a millisecond,
//! builds mimalloc without them (feature `no_thp`); here they stay, for the
//! cold reads of big tables (1,000,000-key get 313-331 ns without them in
//! two runs, against 264-289 with them in eight earlier ones).
//! Only what this library allocates goes through it: Python objects do not.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
