//! `WordTable`: single-thread operation sequences checked against
//! `std::collections::HashMap`, on tiny partitions so that grows, shrinks and
//! tombstone rehashes happen often.

use std::collections::HashMap;

use ferrets_core::{Compute, TableOptions, WordTable};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Insert(u64, i64),
    InsertNew(u64, i64),
    Remove(u64),
    Take(u64),
    Get(u64),
    Compute(u64),
    Add(u64, i64),
    Clear,
    Iter,
}

fn op(keys: u64) -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0..keys, any::<i64>()).prop_map(|(k, v)| Op::Insert(k, v)),
        3 => (0..keys, any::<i64>()).prop_map(|(k, v)| Op::InsertNew(k, v)),
        6 => (0..keys).prop_map(Op::Remove),
        2 => (0..keys).prop_map(Op::Take),
        6 => (0..keys).prop_map(Op::Get),
        3 => (0..keys).prop_map(Op::Compute),
        3 => (0..keys, -3i64..3).prop_map(|(k, d)| Op::Add(k, d)),
        1 => Just(Op::Clear),
        1 => Just(Op::Iter),
    ]
}

fn run(ops: Vec<Op>, partitions: usize) {
    let t: WordTable<u64, i64> =
        WordTable::with_options(TableOptions { partitions: Some(partitions), capacity: 0 });
    let empty_bytes = t.memory_bytes();
    let mut m: HashMap<u64, i64> = HashMap::new();
    for op in ops {
        match op {
            Op::Insert(k, v) => assert_eq!(t.insert(k, v), m.insert(k, v).is_none()),
            Op::InsertNew(k, v) => {
                let new = !m.contains_key(&k);
                if new {
                    m.insert(k, v);
                }
                assert_eq!(t.insert_new(k, v), new);
            }
            Op::Remove(k) => assert_eq!(t.remove(k), m.remove(&k).is_some()),
            Op::Take(k) => assert_eq!(t.take(k), m.remove(&k)),
            Op::Get(k) => {
                assert_eq!(t.get(k), m.get(&k).copied());
                assert_eq!(t.contains_key(k), m.contains_key(&k));
            }
            Op::Compute(k) => {
                // Odd values are removed, even ones incremented, absent ones set to 0.
                let r = t.compute(k, |old| match old {
                    None => Compute::Insert(0, 'i'),
                    Some(v) if v % 2 != 0 => Compute::Remove('r'),
                    Some(v) => Compute::Insert(v.wrapping_add(1), 'u'),
                });
                let expect = match m.get(&k).copied() {
                    None => {
                        m.insert(k, 0);
                        'i'
                    }
                    Some(v) if v % 2 != 0 => {
                        m.remove(&k);
                        'r'
                    }
                    Some(v) => {
                        m.insert(k, v.wrapping_add(1));
                        'u'
                    }
                };
                assert_eq!(r, expect);
            }
            Op::Add(k, d) => {
                let n = m.get(&k).copied().unwrap_or(7).wrapping_add(d);
                m.insert(k, n);
                assert_eq!(t.counter_add(k, d, 7), n);
            }
            Op::Clear => {
                t.clear();
                m.clear();
                assert_eq!(t.memory_bytes(), empty_bytes, "clear shrinks every partition");
            }
            Op::Iter => {
                let mut seen: Vec<_> = t.iter().collect();
                seen.sort_unstable();
                let mut want: Vec<_> = m.iter().map(|(k, v)| (*k, *v)).collect();
                want.sort_unstable();
                assert_eq!(seen, want);
            }
        }
        assert_eq!(t.len(), m.len());
    }
    let mut seen: Vec<_> = t.iter().collect();
    seen.sort_unstable();
    let mut want: Vec<_> = m.into_iter().collect();
    want.sort_unstable();
    assert_eq!(seen, want);
}

proptest! {
    // 64 cases by default (fast in debug); PROPTEST_CASES raises it for soaks.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(64),
        ..ProptestConfig::default()
    })]

    #[test]
    fn few_keys_match_hashmap(ops in prop::collection::vec(op(24), 1..400)) {
        run(ops, 1);
    }

    #[test]
    fn many_keys_match_hashmap(ops in prop::collection::vec(op(600), 1..1500), parts in 1usize..5) {
        run(ops, parts);
    }
}

#[test]
fn grow_then_shrink_keeps_everything() {
    let t: WordTable<u64, u64> = WordTable::with_options(TableOptions { partitions: Some(2), capacity: 0 });
    let empty = t.memory_bytes();
    for i in 0..20_000 {
        assert!(t.insert(i, i));
    }
    let full = t.memory_bytes();
    assert!(full > empty + 20_000 * 16);
    for i in 0..20_000 {
        assert_eq!(t.get(i), Some(i));
    }
    for i in 0..19_990 {
        assert!(t.remove(i));
    }
    assert_eq!(t.len(), 10);
    assert!(t.memory_bytes() < full / 50, "mostly empty partitions shrink");
    let mut rest: Vec<_> = t.iter().map(|(k, _)| k).collect();
    rest.sort_unstable();
    assert_eq!(rest, (19_990..20_000).collect::<Vec<_>>());
}

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
