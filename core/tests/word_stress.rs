//! Randomized multi-thread stress of `WordTable`, checked against
//! sequential models: the shared scenarios of `map_common::stress`, then counter
//! and iteration races of its own.

mod map_common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

use ferrets_core::{TableOptions, WordTable};

#[test]
fn stress_one_partition() {
    map_common::stress::stress::<WordTable<u64, i64>>(1);
}

#[test]
fn stress_many_partitions() {
    map_common::stress::stress::<WordTable<u64, i64>>(8);
}

#[test]
fn concurrent_grow_from_empty() {
    map_common::stress::concurrent_grow_from_empty::<WordTable<u64, i64>>();
}

/// Counter adds from several threads on a few hot keys while other writers
/// force resizes: no increment is lost or doubled.
#[test]
fn counters_lose_nothing() {
    let t: Arc<WordTable<u64, u64>> =
        Arc::new(WordTable::with_options(TableOptions { partitions: Some(2), capacity: 0 }));
    let (threads, per, hot) = (4u64, 50_000u64, 7u64);
    let handles: Vec<_> = (0..threads)
        .map(|id| {
            let t = t.clone();
            thread::spawn(move || {
                for i in 0..per {
                    t.counter_add(i % hot, 1, 0);
                    // Fresh keys keep the partitions growing under the adds.
                    t.insert(1 << 40 | id << 32 | i, i);
                    if i % 2 == 0 {
                        t.remove(1 << 40 | id << 32 | i);
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let total: u64 = (0..hot).map(|k| t.get(k).unwrap()).sum();
    assert_eq!(total, threads * per);
    assert_eq!(t.len() as u64, hot + threads * per / 2);
}

/// An iterator running while writers churn other keys (growing, shrinking,
/// rehashing) sees every stable entry exactly once, with its value.
#[test]
fn iteration_under_churn_sees_stable_entries_once() {
    let t: Arc<WordTable<u64, u64>> =
        Arc::new(WordTable::with_options(TableOptions { partitions: Some(4), capacity: 0 }));
    let stable = 3_000u64;
    for k in 0..stable {
        t.insert(k, k + 1);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..2u64)
        .map(|id| {
            let (t, stop) = (t.clone(), stop.clone());
            thread::spawn(move || {
                let mut rng = fastrand::Rng::with_seed(id);
                while !stop.load(Ordering::Relaxed) {
                    // Bursts of inserts then removes make partitions grow and shrink.
                    let base = 1 << 40 | id << 32 | rng.u64(0..1 << 20) << 8;
                    for i in 0..200 {
                        t.insert(base + i, i);
                    }
                    for i in 0..200 {
                        t.remove(base + i);
                    }
                }
            })
        })
        .collect();
    for _ in 0..30 {
        let mut seen: Vec<(u64, u64)> = t.iter().filter(|(k, _)| *k < stable).collect();
        seen.sort_unstable();
        assert_eq!(seen.len() as u64, stable, "each stable entry exactly once");
        assert!(seen.iter().enumerate().all(|(i, &(k, v))| k == i as u64 && v == k + 1));
    }
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
}
