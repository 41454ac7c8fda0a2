//! The randomized multi-thread stress both tables run (`table_stress.rs`,
//! `word_stress.rs`).
//!
//! Each thread owns a disjoint key range, so its own `HashMap` model predicts
//! every result exactly, while all threads share partitions, groups, resizes
//! and reclamation. Shared counters check atomicity; a reader thread checks
//! that keys present throughout are always found and that an iterator sees
//! each of them exactly once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

use ferrets_core::Compute;

use super::TestMap;

const THREADS: u64 = 3;
/// Operations per writer; `FERRETS_STRESS_OPS` raises it for long soaks.
fn ops() -> usize {
    std::env::var("FERRETS_STRESS_OPS").ok().and_then(|s| s.parse().ok()).unwrap_or(60_000)
}
const KEYS: u64 = 1_500;
const STABLE: u64 = 500;
const COUNTERS: u64 = 5;

fn stable_key(i: u64) -> u64 {
    1 << 40 | i
}

fn counter_key(i: u64) -> u64 {
    2 << 40 | i
}

/// Writers with per-thread models, shared counters and a reader of stable
/// keys, over `partitions` partitions.
pub fn stress<M: TestMap>(partitions: usize) {
    let ops = ops();
    let t = Arc::new(M::with_partitions(partitions));
    for i in 0..STABLE {
        t.insert(stable_key(i), i as i64);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let start = Arc::new(Barrier::new(THREADS as usize + 1));
    let writers: Vec<_> = (0..THREADS)
        .map(|id| {
            let (t, start) = (t.clone(), start.clone());
            thread::spawn(move || {
                let mut rng = fastrand::Rng::with_seed(id * 7919 + partitions as u64);
                let mut m: HashMap<u64, i64> = HashMap::new();
                let base = id << 32;
                start.wait();
                for n in 0..ops {
                    let k = base | rng.u64(0..KEYS);
                    let v = rng.i64(..);
                    match rng.u8(0..10) {
                        0 | 1 => assert_eq!(t.insert(k, v), m.insert(k, v).is_none()),
                        2 => assert_eq!(t.insert_new(k, v), m.try_insert_compat(k, v)),
                        3 | 4 => assert_eq!(t.remove(k), m.remove(&k).is_some()),
                        5 => assert_eq!(t.take(k), m.remove(&k)),
                        6 => {
                            let r = t.compute(k, |old| match old {
                                Some(o) if o % 3 == 0 => Compute::Remove(Some(o)),
                                Some(o) => Compute::Insert(o.wrapping_add(1), Some(o)),
                                None => Compute::Keep(None),
                            });
                            let want = match m.get(&k).copied() {
                                Some(o) if o % 3 == 0 => {
                                    m.remove(&k);
                                    Some(o)
                                }
                                Some(o) => {
                                    m.insert(k, o.wrapping_add(1));
                                    Some(o)
                                }
                                None => None,
                            };
                            assert_eq!(r, want);
                        }
                        7 => {
                            t.counter_add(counter_key(rng.u64(0..COUNTERS)), 1);
                        }
                        _ => assert_eq!(t.get(k), m.get(&k).copied()),
                    }
                    if n % 5_000 == 0 {
                        assert_eq!(t.get(stable_key(n as u64 % STABLE)), Some((n as u64 % STABLE) as i64));
                    }
                }
                m
            })
        })
        .collect();
    let reader = {
        let (t, stop, start) = (t.clone(), stop.clone(), start.clone());
        thread::spawn(move || {
            start.wait();
            let mut rounds = 0;
            while !stop.load(Ordering::Relaxed) || rounds < 2 {
                for i in 0..STABLE {
                    assert_eq!(t.get(stable_key(i)), Some(i as i64), "stable key {i} missed");
                }
                let mut seen: Vec<u64> = t.keys().into_iter().filter(|k| k >> 40 == 1).collect();
                seen.sort_unstable();
                assert_eq!(seen, (0..STABLE).map(stable_key).collect::<Vec<_>>(), "iterator saw stable keys");
                rounds += 1;
            }
        })
    };
    let mut counted = 0;
    let mut models = Vec::new();
    for w in writers {
        models.push(w.join().unwrap());
    }
    stop.store(true, Ordering::Relaxed);
    reader.join().unwrap();
    for (id, m) in models.iter().enumerate() {
        let base = (id as u64) << 32;
        for k in 0..KEYS {
            assert_eq!(t.get(base | k), m.get(&(base | k)).copied());
        }
        counted += m.len();
    }
    let total: i64 = (0..COUNTERS).filter_map(|i| t.get(counter_key(i))).sum();
    let live_counters = (0..COUNTERS).filter(|i| t.contains_key(counter_key(*i))).count();
    assert_eq!(t.len(), counted + STABLE as usize + live_counters);
    assert_eq!(t.keys().len(), t.len());
    // Every counter increment landed exactly once.
    let expected: i64 = (0..THREADS)
        .map(|id| {
            let mut rng = fastrand::Rng::with_seed(id * 7919 + partitions as u64);
            (0..ops)
                .filter(|_| {
                    rng.u64(0..KEYS);
                    rng.i64(..);
                    let op = rng.u8(0..10);
                    if op == 7 {
                        rng.u64(0..COUNTERS);
                    }
                    op == 7
                })
                .count() as i64
        })
        .sum();
    assert_eq!(total, expected);
}

trait TryInsertCompat {
    fn try_insert_compat(&mut self, k: u64, v: i64) -> bool;
}

impl TryInsertCompat for HashMap<u64, i64> {
    fn try_insert_compat(&mut self, k: u64, v: i64) -> bool {
        match self.entry(k) {
            std::collections::hash_map::Entry::Occupied(_) => false,
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(v);
                true
            }
        }
    }
}

/// Concurrent growth from empty (several resizes racing writers on stale
/// tables: this once livelocked the prefill of the benchmark).
pub fn concurrent_grow_from_empty<M: TestMap>() {
    for partitions in [1, 4] {
        let t = Arc::new(M::with_partitions(partitions));
        let per = 40_000u64;
        let threads: Vec<_> = (0..3u64)
            .map(|id| {
                let t = t.clone();
                thread::spawn(move || {
                    for i in 0..per {
                        assert!(t.insert(id * per + i, i as i64));
                    }
                })
            })
            .collect();
        for th in threads {
            th.join().unwrap();
        }
        assert_eq!(t.len() as u64, 3 * per);
        for k in 0..3 * per {
            assert_eq!(t.get(k), Some((k % per) as i64));
        }
    }
}
