//! Drop counting: every key and value the table takes is dropped exactly
//! once (no leak, no double free), including under concurrent insert,
//! remove, update and clear, and after the table itself is dropped.

use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use ferrets_core::{HeapSize, Table, TableOptions};

static LIVE: AtomicIsize = AtomicIsize::new(0);
static MADE: AtomicUsize = AtomicUsize::new(0);
/// Tests in this file share the counters: run them one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[derive(Debug, PartialEq, Eq, Hash)]
struct Tracked(u64);

impl Tracked {
    fn new(n: u64) -> Self {
        LIVE.fetch_add(1, Ordering::SeqCst);
        MADE.fetch_add(1, Ordering::SeqCst);
        Tracked(n)
    }
}

impl Clone for Tracked {
    fn clone(&self) -> Self {
        Tracked::new(self.0)
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        let before = LIVE.fetch_sub(1, Ordering::SeqCst);
        assert!(before > 0, "double drop of {}", self.0);
    }
}

impl HeapSize for Tracked {
    fn heap_size(&self) -> usize {
        0
    }
}

/// Waits for epoch garbage retired by any thread to be collected.
fn settle() -> isize {
    let deadline = Instant::now() + Duration::from_secs(10);
    while LIVE.load(Ordering::SeqCst) != 0 && Instant::now() < deadline {
        for _ in 0..64 {
            ferrets_core::flush_retired();
        }
        thread::yield_now();
    }
    LIVE.load(Ordering::SeqCst)
}

#[test]
fn single_thread_ops_drop_everything_once() {
    let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    {
        let t: Table<Tracked, Tracked> =
            Table::with_options(TableOptions { partitions: Some(2), capacity: 0 });
        for i in 0..5_000 {
            t.insert(Tracked::new(i), Tracked::new(i));
        }
        for i in 0..5_000 {
            t.insert(Tracked::new(i), Tracked::new(i + 1)); // replace: old value retired, new key dropped
        }
        // Probe keys are not counted, so they must not be dropped either.
        let probe = |i| std::mem::ManuallyDrop::new(Tracked(i));
        for i in 0..2_500 {
            assert!(t.remove(&*probe(i)));
        }
        assert_eq!(t.take(&*probe(4_000)).map(|v| v.0), Some(4_001));
        t.insert_new(Tracked::new(4_999), Tracked::new(0));
        assert_eq!(t.iter().count(), 2_499);
    }
    assert_eq!(settle(), 0, "leaked entries");
}

#[test]
fn concurrent_writers_and_clear_drop_everything_once() {
    let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    {
        let t: Arc<Table<Tracked, Tracked>> =
            Arc::new(Table::with_options(TableOptions { partitions: Some(2), capacity: 0 }));
        let workers: Vec<_> = (0..3u64)
            .map(|id| {
                let t = t.clone();
                thread::spawn(move || {
                    let mut rng = fastrand::Rng::with_seed(id);
                    for n in 0..20_000 {
                        let k = rng.u64(0..2_000);
                        match rng.u8(0..8) {
                            0..=2 => {
                                t.insert(Tracked::new(k), Tracked::new(n));
                            }
                            3 => {
                                t.insert_new(Tracked::new(k), Tracked::new(n));
                            }
                            4 | 5 => {
                                let probe = std::mem::ManuallyDrop::new(Tracked(k));
                                t.remove(&*probe);
                            }
                            6 => {
                                let probe = std::mem::ManuallyDrop::new(Tracked(k));
                                drop(t.take(&*probe));
                            }
                            _ if id == 0 && n % 1_000 == 0 => t.clear(),
                            _ => {
                                let probe = std::mem::ManuallyDrop::new(Tracked(k));
                                drop(t.get(&*probe));
                            }
                        }
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        t.clear();
        assert_eq!(t.len(), 0);
        for i in 0..100 {
            t.insert(Tracked::new(i), Tracked::new(i));
        }
    }
    assert_eq!(settle(), 0, "leaked entries");
    assert!(MADE.load(Ordering::SeqCst) > 0);
}
