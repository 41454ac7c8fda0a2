//! The NIF's memory allocator: mimalloc rather than the VM process's malloc.
//!
//! A table entry (a short key and object) is one 64-byte allocation, and a
//! cold `insert` or `update_counter` is bound by the cache misses on its
//! group and its entry. glibc puts a 64-byte block at a 16-byte offset in an
//! 80-byte chunk, so three entries in four span two cache lines; mimalloc
//! packs them 64 bytes apart and 64-aligned (it aligns power-of-two blocks
//! naturally), one line each, and asks for transparent huge pages for its
//! arenas (fewer TLB misses on big tables). Only memory this library
//! allocates goes through it: the VM's terms and resources do not.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
