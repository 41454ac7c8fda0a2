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

/// Claimed control bytes over all lanes of every partition's root.
fn claimed_share<K: Word, V: Word, S: BuildHasher>(t: &WordTable<K, V, S>) -> f64 {
    let _section = t.read();
    let (mut claimed, mut lanes) = (0, 0);
    for part in t.partitions.iter() {
        let r = part.root();
        for g in 0..r.len() {
            claimed += WIDTH - slot::match_empty(r.group(g).ctrl()).count();
        }
        lanes += r.len() * WIDTH;
    }
    claimed as f64 / lanes as f64
}

#[test]
fn churn_over_a_bounded_key_set_keeps_probes_short() {
    // Half of 8,192 keys live, the other half removed and coming back: every
    // key ends up holding a lane. Counting those lanes (not only the live
    // entries) rebuilds the table roomy enough that they stay under 3/4 of
    // the lanes, so probes stay short; counting live entries alone let them
    // fill ~85% (1.25x growth each time the table was full).
    let t = small();
    let universe = 8_192u64;
    for k in 0..universe / 2 {
        t.insert(k, k);
    }
    let mut rng = fastrand::Rng::with_seed(5);
    for _ in 0..400_000 {
        let k = rng.u64(0..universe);
        if rng.bool() {
            t.insert(k, k);
        } else {
            t.remove(k);
        }
    }
    let share = claimed_share(&t);
    assert!(share <= 0.76, "claimed lanes: {share:.2} of all");
    for k in 0..universe {
        if let Some(v) = t.get(k) {
            assert_eq!(v, k);
        }
    }
}

#[test]
fn churn_over_ever_new_keys_stays_bounded() {
    // A sliding window of 1,000 live keys over 200,000 distinct ones: the
    // lanes removed keys keep must not make the table grow with the keys seen.
    let t = small();
    for k in 0..200_000u64 {
        assert!(t.insert(k, k));
        if k >= 1_000 {
            assert!(t.remove(k - 1_000));
        }
    }
    assert_eq!(t.len(), 1_000);
    assert!(t.memory_bytes() < 256 * 1024, "{} bytes for 1,000 entries", t.memory_bytes());
    assert!(claimed_share(&t) <= 0.76);
}

/// As the boxed table's test of the same name: a shrink started after
/// others refilled the table sizes its target from the live count then, so
/// the copy has room (sized from the stale count, it spun forever).
#[test]
fn a_late_shrink_sizes_its_target_from_the_live_count_it_starts_with() {
    crate::test_util::finishes_within(30, "the copy found no room", || {
        let t = small();
        let part = &t.partitions[0];
        for k in 0..20_000u64 {
            t.insert(k, k);
        }
        let guard = t.pin();
        let root = part.root();
        assert!(t.start_resize(part, root, Plan::Shrink, &guard));
        t.finish(part, root, &guard);
        drop(guard);
        assert_eq!(t.len(), 20_000);
        for k in 0..20_000u64 {
            assert_eq!(t.get(k), Some(k), "key {k} lost");
        }
    });
}

#[test]
fn plans_are_numbered_as_listed() {
    // The `next` link stores a plan as its number and reads it back through `ALL`.
    for (i, p) in Plan::ALL.iter().enumerate() {
        assert_eq!(*p as usize, i);
    }
}

/// A bulk load that stops while a partition grows leaves both arrays held
/// (writers finish resizes, readers never write); `finish_resizes` settles
/// it with every entry intact and the old array released.
#[test]
fn finish_resizes_settles_a_load_that_stopped_mid_resize() {
    let t = small();
    let part = &t.partitions[0];
    let mut n = 0u64;
    // Grow a few times, then stop right after a resize starts.
    while n < 5_000 || !part.root().resizing() {
        t.insert(n, n);
        n += 1;
    }
    let before = t.memory_bytes();
    let reads: Vec<_> = (0..n).map(|k| t.get(k)).collect();
    assert!(part.root().resizing(), "reads finished the resize");
    t.finish_resizes();
    assert!(!part.root().resizing());
    assert!(t.memory_bytes() < before, "{} bytes, {} before", t.memory_bytes(), before);
    assert_eq!(t.len(), n as usize);
    for k in 0..n {
        assert_eq!(t.get(k), Some(k), "key {k}");
        assert_eq!(reads[k as usize], Some(k), "key {k} mid-resize");
    }
    // Nothing left to do: a no-op.
    let settled = t.memory_bytes();
    t.finish_resizes();
    assert_eq!(t.memory_bytes(), settled);
}

/// `get` runs the key's `to_bits` and the hasher (user code) in its
/// section's `prepare`: a panic there still ends the section, so this
/// thread does not hold back every later retirement.
#[cfg(not(loom))]
#[test]
fn a_key_that_panics_leaves_no_section_open() {
    #[derive(Clone, Copy)]
    struct Bad;
    impl crate::Word for Bad {
        fn to_bits(self) -> u64 {
            panic!("no bits")
        }
        fn from_bits(_: u64) -> Self {
            Bad
        }
    }
    let t: WordTable<Bad, u64> = WordTable::new();
    let t = std::panic::AssertUnwindSafe(&t);
    assert!(std::panic::catch_unwind(|| t.get(Bad)).is_err());
    assert!(!crate::quiesce::in_section());
    assert!(std::panic::catch_unwind(|| t.contains_key(Bad)).is_err());
    assert!(!crate::quiesce::in_section());
}
