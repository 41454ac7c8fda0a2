//! `WordTable` memory reclamation with the fallback protection
//! (`FERRETS_NO_MEMBARRIER=1`: a `fence(SeqCst)` in every reader section
//! and in every retirement), which non-Linux systems always use.

mod word_reclaim_common;

use ferrets_core::WordTable;

#[global_allocator]
static ALLOC: word_reclaim_common::Counting = word_reclaim_common::Counting;

/// One test: the mode is chosen once per process, before the first section.
#[test]
fn retired_arrays_are_freed_after_their_readers_with_fences() {
    // Single-threaded here: nothing reads the environment concurrently.
    std::env::set_var("FERRETS_NO_MEMBARRIER", "1");
    word_reclaim_common::reclaim_under_readers(3_000);
    assert!(!WordTable::<u64, u64>::uses_membarrier());
    word_reclaim_common::reclaim_under_readers(40);
}
