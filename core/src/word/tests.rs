//! Unit tests of the word table's internals (integration tests live in
//! `core/tests/word_*.rs`).

use super::*;

fn small() -> WordTable<u64, u64> {
    WordTable::with_options(TableOptions { partitions: Some(1), capacity: 0 })
}

#[test]
fn grows_and_shrinks_with_exact_memory() {
    let t = small();
    let empty = t.memory_bytes();
    for k in 0..10_000u64 {
        assert!(t.insert(k, k * 3));
    }
    assert_eq!(t.len(), 10_000);
    let full = t.memory_bytes();
    assert!(full > empty + 10_000 * 16, "{full} vs {empty}");
    for k in 0..10_000u64 {
        assert_eq!(t.get(k), Some(k * 3));
    }
    for k in 0..10_000u64 {
        assert!(t.remove(k));
    }
    assert!(t.is_empty());
    // Shrinks run incrementally: a few more writes finish them.
    for k in 0..64u64 {
        t.insert(k, 1);
        t.remove(k);
    }
    assert!(t.memory_bytes() < full / 4, "{} vs {full}", t.memory_bytes());
}

#[test]
fn tombstones_are_reused_and_rehashed_away() {
    let t = small();
    // Churn through many distinct keys: removed keys keep their lanes until
    // a resize drops them, so this forces same-size rehashes.
    for k in 0..50_000u64 {
        assert!(t.insert(k, k));
        assert!(t.remove(k));
    }
    assert!(t.is_empty());
    assert!(t.memory_bytes() < 64 * 1024, "{}", t.memory_bytes());
    // Reinsert into a deleted lane.
    assert!(t.insert(7, 1));
    assert!(t.remove(7));
    assert!(t.insert(7, 2));
    assert_eq!(t.get(7), Some(2));
}

#[test]
fn presized_table_does_not_grow() {
    let t: WordTable<u64, u64, _> = WordTable::with_options_and_hasher(
        TableOptions { partitions: Some(4), capacity: 4000 },
        foldhash::fast::FixedState::with_seed(3),
    );
    let before = t.memory_bytes();
    for k in 0..4000u64 {
        t.insert(k, k);
    }
    assert_eq!(t.memory_bytes(), before);
}
