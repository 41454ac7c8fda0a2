//! `WordTable`: single-thread operation sequences checked against
//! `std::collections::HashMap` (the shared scenario of `map_common::model`),
//! and cases of its own.

mod map_common;

use ferrets_core::{TableOptions, WordTable};

model_tests!(WordTable<u64, i64>);

#[test]
fn other_word_types() {
    let t: WordTable<i32, f64> = WordTable::new();
    assert!(t.insert(-5, 1.5));
    assert!(!t.insert(-5, 2.5));
    assert_eq!(t.get(-5), Some(2.5));
    assert_eq!(t.get(5), None);
    let c: WordTable<char, u64> = WordTable::new();
    assert_eq!(c.counter_add('x', -1, 0), -1);
    assert_eq!(c.get('x'), Some(u64::MAX), "u64 counters wrap");
    let b: WordTable<bool, bool> = WordTable::new();
    assert!(b.insert_new(false, true));
    assert!(!b.insert_new(false, false));
    assert_eq!(b.iter().collect::<Vec<_>>(), vec![(false, true)]);
    // Keys compare by bits: both zeros are distinct keys.
    let f: WordTable<f64, u8> = WordTable::new();
    f.insert(0.0, 1);
    f.insert(-0.0, 2);
    assert_eq!((f.get(0.0), f.get(-0.0), f.len()), (Some(1), Some(2), 2));
}

#[test]
fn extreme_keys_and_values() {
    // 0 and all-ones are ordinary words: no sentinel values.
    let t: WordTable<u64, u64> = WordTable::with_options(TableOptions { partitions: Some(2), capacity: 0 });
    for k in [0, 1, u64::MAX, u64::MAX - 1, 1 << 63] {
        assert!(t.insert(k, !k));
    }
    for k in [0, 1, u64::MAX, u64::MAX - 1, 1 << 63] {
        assert_eq!(t.get(k), Some(!k));
        assert_eq!(t.take(k), Some(!k));
        assert_eq!(t.get(k), None);
    }
    assert!(t.is_empty());
}
