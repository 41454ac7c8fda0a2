//! `WordTable` memory reclamation in the process's default mode (Linux:
//! `membarrier`, readers without a hardware fence). See
//! `word_reclaim_common` for what is checked; `word_reclaim_fence.rs` runs
//! the same with the fence fallback.

mod word_reclaim_common;

use ferrets_core::WordTable;

#[global_allocator]
static ALLOC: word_reclaim_common::Counting = word_reclaim_common::Counting;

/// One test: the allocation counter is process-wide.
#[test]
fn retired_arrays_are_freed_after_their_readers() {
    let disabled = std::env::var_os("FERRETS_NO_MEMBARRIER").is_some_and(|v| v == "1");
    word_reclaim_common::reclaim_under_readers(3_000);
    assert_eq!(WordTable::<u64, u64>::uses_membarrier(), cfg!(target_os = "linux") && !disabled);
    word_reclaim_common::reclaim_under_readers(40);
}
