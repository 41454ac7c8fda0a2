//! Single-thread operation sequences checked against
//! `std::collections::HashMap`, on tiny partitions so that grows, shrinks and
//! tombstone rehashes happen often (`table_model.rs`, `word_model.rs`).

use std::collections::HashMap;

use ferrets_core::Compute;
use proptest::prelude::*;

use super::TestMap;

/// One operation of a sequence.
#[derive(Debug, Clone)]
pub enum Op {
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

/// One random operation on keys `0..keys`.
pub fn op(keys: u64) -> impl Strategy<Value = Op> {
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

/// Applies `ops` to a table of `partitions` partitions and to a `HashMap`,
/// comparing every result, the length after each step and the final items.
pub fn run<M: TestMap>(ops: Vec<Op>, partitions: usize) {
    let t = M::with_partitions(partitions);
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
                t.check_extra_reads(k, m.get(&k).copied());
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
                assert_eq!(t.counter_add_default(k, d, 7), n);
            }
            Op::Clear => {
                t.clear();
                m.clear();
                assert_eq!(
                    t.memory_bytes(),
                    empty_bytes,
                    "clear frees every entry and shrinks every partition"
                );
            }
            Op::Iter => {
                let mut seen = t.items();
                seen.sort_unstable();
                let mut want: Vec<_> = m.iter().map(|(k, v)| (*k, *v)).collect();
                want.sort_unstable();
                assert_eq!(seen, want);
            }
        }
        assert_eq!(t.len(), m.len());
    }
    let mut seen = t.items();
    seen.sort_unstable();
    let mut want: Vec<_> = m.into_iter().collect();
    want.sort_unstable();
    assert_eq!(seen, want);
}

/// Fills two partitions with 20,000 keys, then removes all but ten: every
/// value reads back, and the mostly empty partitions shrink.
pub fn grow_then_shrink<M: TestMap>() {
    let t = M::with_partitions(2);
    let empty = t.memory_bytes();
    for i in 0..20_000 {
        assert!(t.insert(i, i as i64));
    }
    let full = t.memory_bytes();
    assert!(full > empty + 20_000 * 16);
    for i in 0..20_000 {
        assert_eq!(t.get(i), Some(i as i64));
    }
    for i in 0..19_990 {
        assert!(t.remove(i));
    }
    assert_eq!(t.len(), 10);
    assert!(t.memory_bytes() < full / 50, "mostly empty partitions shrink");
    let mut rest = t.keys();
    rest.sort_unstable();
    assert_eq!(rest, (19_990..20_000).collect::<Vec<_>>());
}

/// The model tests of one table type: random sequences on few and many
/// keys (`PROPTEST_CASES` raises the default 64 cases for soaks), and
/// [`grow_then_shrink`].
#[macro_export]
macro_rules! model_tests {
    ($t:ty) => {
        proptest::proptest! {
            #![proptest_config(proptest::prelude::ProptestConfig {
                cases: std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(64),
                ..proptest::prelude::ProptestConfig::default()
            })]

            #[test]
            fn few_keys_match_hashmap(ops in proptest::collection::vec(map_common::model::op(24), 1..400)) {
                map_common::model::run::<$t>(ops, 1);
            }

            #[test]
            fn many_keys_match_hashmap(
                ops in proptest::collection::vec(map_common::model::op(600), 1..1500),
                parts in 1usize..5,
            ) {
                map_common::model::run::<$t>(ops, parts);
            }
        }

        #[test]
        fn grow_then_shrink_keeps_everything() {
            map_common::model::grow_then_shrink::<$t>();
        }
    };
}
