//! The NIF's memory allocator: mimalloc rather than the VM process's malloc.
//!
//! A table entry (a short key and object) is one 64-byte allocation, and a
//! cold `insert` or `update_counter` is bound by the cache misses on its
//! group and its entry. glibc puts a 64-byte block at a 16-byte offset in an
//! 80-byte chunk, so three entries in four span two cache lines; mimalloc
//! packs them 64 bytes apart and 64-aligned (it aligns power-of-two blocks
//! naturally), one line each. Built without transparent huge pages
//! (feature `no_thp`): with them, the first touch of each 2 MiB of a
//! growing table was a page fault that zeroed 2 MiB inside one NIF call,
//! and on this VM single inserts took ~4.5 ms (28 calls over 1 ms in
//! 400,000 inserts; none without). Only memory this library allocates goes
//! through it: the VM's terms and resources do not.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
