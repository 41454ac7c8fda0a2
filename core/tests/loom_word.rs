//! Loom models of the word table's races: lane claims, resizes (tables start
//! at one 2-lane group under loom, so the third key already grows them) and
//! counter adds. Run with `scripts/test-loom`.
#![cfg(loom)]

use ferrets_core::{Compute, TableOptions, WordTable};
use foldhash::fast::FixedState;
use loom::sync::Arc;
use loom::thread;

type T = WordTable<u64, u64, FixedState>;

fn table() -> Arc<T> {
    Arc::new(WordTable::with_options_and_hasher(
        TableOptions { partitions: Some(1), capacity: 0 },
        FixedState::with_seed(7),
    ))
}

/// Two keys whose hashes share a tag (the claim for one is a candidate lane
/// for the other), found by scanning keys under the fixed hasher.
fn same_tag_keys() -> (u64, u64) {
    use std::hash::BuildHasher;
    let s = FixedState::with_seed(7);
    let tag = |k: u64| s.hash_one(k) & 0x7f;
    let b = (2..).find(|&k| tag(k) == tag(1)).unwrap();
    (1, b)
}

/// Two writers of different keys with the same tag race for the same empty
/// lanes while a reader looks: both keys end up stored once each.
#[test]
fn same_tag_claims() {
    let (a, b) = same_tag_keys();
    loom::model(move || {
        let t = table();
        let ta = {
            let t = t.clone();
            thread::spawn(move || assert!(t.insert(a, 10)))
        };
        let tb = {
            let t = t.clone();
            thread::spawn(move || assert!(t.insert(b, 20)))
        };
        let seen = t.get(a);
        assert!(seen.is_none() || seen == Some(10));
        ta.join().unwrap();
        tb.join().unwrap();
        assert_eq!((t.get(a), t.get(b), t.len()), (Some(10), Some(20), 2));
    });
}

/// Two writers of the same key: exactly one `insert_new` wins, the loser's
/// compute runs again on the winner's value, and the key has one lane.
#[test]
fn same_key_claims() {
    loom::model(|| {
        let t = table();
        let ta = {
            let t = t.clone();
            thread::spawn(move || t.insert_new(5, 1))
        };
        let tb = {
            let t = t.clone();
            thread::spawn(move || {
                t.compute(5, |old| match old {
                    None => Compute::Insert(2, false),
                    Some(v) => Compute::Insert(v + 100, true),
                })
            })
        };
        let (won_a, b_saw_a) = (ta.join().unwrap(), tb.join().unwrap());
        match (won_a, b_saw_a) {
            (true, true) => assert_eq!(t.get(5), Some(101)),
            (false, false) => assert_eq!(t.get(5), Some(2)),
            other => panic!("inconsistent outcome {other:?}"),
        }
        assert_eq!(t.len(), 1);
        assert_eq!(t.iter().count(), 1);
    });
}

/// Writers grow the table while a reader looks up a key present
/// throughout: the reader always finds it, and nothing is lost.
#[test]
fn inserts_racing_a_resize_lose_nothing() {
    loom::model(|| {
        let t = table();
        t.insert(1, 10);
        let a = {
            let t = t.clone();
            thread::spawn(move || assert!(t.insert(2, 20)))
        };
        let b = {
            let t = t.clone();
            thread::spawn(move || assert!(t.insert(3, 30)))
        };
        assert_eq!(t.get(1), Some(10));
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!((t.get(1), t.get(2), t.get(3)), (Some(10), Some(20), Some(30)));
        assert_eq!(t.len(), 3);
    });
}

/// A remove races an insert that triggers a resize; a reader of the removed
/// key sees it or not, and afterwards exactly the right keys remain.
#[test]
fn remove_racing_a_resize() {
    loom::model(|| {
        let t = table();
        t.insert(1, 10);
        t.insert(2, 20);
        let a = {
            let t = t.clone();
            thread::spawn(move || assert_eq!(t.take(1), Some(10)))
        };
        let b = {
            let t = t.clone();
            thread::spawn(move || {
                assert!(t.insert(3, 30));
                assert_eq!(t.get(2), Some(20));
            })
        };
        let seen = t.get(1);
        assert!(seen.is_none() || seen == Some(10));
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!((t.get(1), t.get(2), t.get(3)), (None, Some(20), Some(30)));
        let mut all: Vec<_> = t.iter().collect();
        all.sort_unstable();
        assert_eq!(all, vec![(2, 20), (3, 30)]);
    });
}

/// Counter adds on one key race each other and a resize: no increment is
/// lost, and each caller sees a distinct result.
#[test]
fn counter_adds_racing_a_resize() {
    loom::model(|| {
        let t = table();
        t.insert(9, 0);
        let a = {
            let t = t.clone();
            thread::spawn(move || t.counter_add(9, 1, 0))
        };
        let b = {
            let t = t.clone();
            thread::spawn(move || {
                t.insert(4, 4);
                t.counter_add(9, 1, 0)
            })
        };
        let (ra, rb) = (a.join().unwrap(), b.join().unwrap());
        assert!(ra != rb && ra.max(rb) == 2, "{ra} {rb}");
        assert_eq!((t.get(9), t.get(4), t.len()), (Some(2), Some(4), 2));
    });
}

/// An iterator racing a growing resize sees a key present throughout
/// exactly once.
#[test]
fn iter_racing_a_resize_sees_stable_keys_once() {
    loom::model(|| {
        let t = table();
        t.insert(1, 10);
        let a = {
            let t = t.clone();
            thread::spawn(move || {
                t.insert(2, 20);
                t.insert(3, 30);
            })
        };
        let ones: Vec<_> = t.iter().filter(|(k, _)| *k == 1).collect();
        assert_eq!(ones, vec![(1, 10)]);
        a.join().unwrap();
        assert_eq!(t.iter().count(), 3);
    });
}

/// `clear` racing an insert and a counter add: each survives or is cleared,
/// and the counts agree with what is left.
#[test]
fn clear_racing_writers() {
    loom::model(|| {
        let t = table();
        t.insert(1, 10);
        let a = {
            let t = t.clone();
            thread::spawn(move || t.insert(2, 20))
        };
        let b = {
            let t = t.clone();
            thread::spawn(move || t.counter_add(1, 1, 0))
        };
        t.clear();
        a.join().unwrap();
        let added = b.join().unwrap();
        assert!(added == 11 || added == 1, "{added}");
        let left: Vec<_> = t.iter().collect();
        assert_eq!(left.len(), t.len());
        assert!(left.iter().all(|&(k, v)| (k, v) == (2, 20) || (k, v) == (1, added as u64)));
    });
}
