//! The extension's memory allocator: mimalloc rather than the process's malloc.
//!
//! A cold read is bound by the cache misses on a table group and on the
//! boxed entry it points to (88 bytes for this binding). glibc hands such
//! entries out at 16-byte offsets in 96-byte chunks with an 8-byte header
//! between them, interleaved with every other allocation of the process;
//! mimalloc packs same-sized blocks together in pages of their own and
//! backs its arenas with transparent huge pages, which measured 5-15 %
//! faster on cold reads and writes of 100,000-key tables (BENCHMARKS.md).
//! Only what this library allocates goes through it: Python objects do not.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
