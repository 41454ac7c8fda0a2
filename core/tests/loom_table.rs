//! Loom models of the table's races, resizes included (tables start at one
//! 2-slot group under loom, so the second insert already grows them).
//! Run with `scripts/test-loom`.
#![cfg(loom)]

use ferrets_core::{Table, TableOptions};
use foldhash::fast::FixedState;
use loom::sync::Arc;
use loom::thread;

type T = Table<u64, i64, FixedState>;

fn table() -> Arc<T> {
    Arc::new(Table::with_options_and_hasher(
        TableOptions { partitions: Some(1), capacity: 0 },
        FixedState::with_seed(7),
    ))
}

/// Two writers grow the table while a reader looks up a key present
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
        assert_eq!(t.get(&1), Some(10));
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!((t.get(&1), t.get(&2), t.get(&3)), (Some(10), Some(20), Some(30)));
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
            thread::spawn(move || assert!(t.remove(&1)))
        };
        let b = {
            let t = t.clone();
            thread::spawn(move || {
                assert!(t.insert(3, 30));
                assert_eq!(t.get(&2), Some(20));
            })
        };
        let seen = t.get(&1);
        assert!(seen.is_none() || seen == Some(10));
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!((t.get(&1), t.get(&2), t.get(&3)), (None, Some(20), Some(30)));
        let mut all: Vec<_> = t.iter().collect();
        all.sort_unstable();
        assert_eq!(all, vec![(2, 20), (3, 30)]);
    });
}

/// Same-key writers: one insert_new wins, counters add up across a resize.
#[test]
fn same_key_writers_are_atomic() {
    loom::model(|| {
        let t = table();
        t.insert(9, 0);
        let a = {
            let t = t.clone();
            thread::spawn(move || {
                t.counter_add(5, 1, 0).unwrap();
                t.insert_new(7, 1)
            })
        };
        let b = {
            let t = t.clone();
            thread::spawn(move || {
                t.counter_add(5, 1, 0).unwrap();
                t.insert_new(7, 2)
            })
        };
        let (ra, rb) = (a.join().unwrap(), b.join().unwrap());
        assert!(ra ^ rb, "exactly one insert_new wins");
        assert_eq!(t.get(&7), Some(if ra { 1 } else { 2 }));
        assert_eq!(t.get(&5), Some(2));
        assert_eq!(t.len(), 3);
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
        let ones = t.iter().filter(|(k, _)| *k == 1).count();
        assert_eq!(ones, 1);
        a.join().unwrap();
        assert_eq!(t.iter().count(), 3);
    });
}

/// `clear` racing an insert: the insert either survives or is cleared, and
/// the counts agree with what is left.
#[test]
fn clear_racing_an_insert() {
    loom::model(|| {
        let t = table();
        t.insert(1, 10);
        let a = {
            let t = t.clone();
            thread::spawn(move || t.insert(2, 20))
        };
        t.clear();
        assert_eq!(t.get(&1), None);
        a.join().unwrap();
        let left = t.iter().count();
        assert_eq!(left, t.len());
        assert!(left <= 1);
    });
}
