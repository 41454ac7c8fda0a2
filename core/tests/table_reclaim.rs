//! The boxed table's reclamation (crossbeam-epoch for writers, reader
//! sections for readers): writers replace the values of a few hot keys
//! and churn others through resizes, so entries and tables are retired
//! constantly, while readers borrow the hot values (`get_with`, and
//! `get_ref` under a `pinned()` section held across several lookups). A
//! value poisons itself when dropped, so a reader that still sees one after
//! its free (a grace period cut short) fails its check; every value made
//! is dropped exactly once by the end.

use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use ferrets_core::{flush_retired, pinned, HeapSize, Table, TableOptions};

static LIVE: AtomicIsize = AtomicIsize::new(0);

/// Two words that must stay each other's complement while alive.
struct Canary {
    a: u64,
    b: u64,
}

impl Canary {
    fn new(n: u64) -> Self {
        LIVE.fetch_add(1, Ordering::SeqCst);
        Canary { a: n, b: !n }
    }

    fn check(&self) -> u64 {
        // Volatile: the check must read the memory, whatever the optimiser
        // assumes about a live reference.
        // SAFETY: reads of our own fields through a valid reference.
        let (a, b) = unsafe { (std::ptr::read_volatile(&self.a), std::ptr::read_volatile(&self.b)) };
        assert_eq!(a, !b, "read a value after it was dropped");
        a
    }
}

impl Drop for Canary {
    fn drop(&mut self) {
        // SAFETY: writes to our own fields.
        unsafe {
            std::ptr::write_volatile(&mut self.a, 0xdead);
            std::ptr::write_volatile(&mut self.b, 0xdead);
        }
        assert!(LIVE.fetch_sub(1, Ordering::SeqCst) > 0, "double drop");
    }
}

impl HeapSize for Canary {
    fn heap_size(&self) -> usize {
        0
    }
}

const HOT: u64 = 16;

fn millis() -> u64 {
    std::env::var("FERRETS_STRESS_OPS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .map_or(600, |n| n / 100 + 100)
}

#[test]
fn readers_never_see_a_freed_value() {
    {
        let t: Arc<Table<u64, Canary>> =
            Arc::new(Table::with_options(TableOptions { partitions: Some(2), capacity: 0 }));
        for k in 0..HOT {
            t.insert(k, Canary::new(k));
        }
        let stop = Arc::new(AtomicBool::new(false));
        let start = Arc::new(Barrier::new(4));
        let readers: Vec<_> = (0..2)
            .map(|r| {
                let (t, stop, start) = (t.clone(), stop.clone(), start.clone());
                thread::spawn(move || {
                    start.wait();
                    let mut rounds = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        for k in 0..HOT {
                            assert!(t.get_with(&k, Canary::check).is_some(), "hot key {k} missing");
                        }
                        // A section held across lookups: what it borrowed
                        // stays valid while writers replace it.
                        let p = pinned();
                        let held: Vec<&Canary> = (0..HOT).map(|k| t.get_ref(&k, &p).unwrap()).collect();
                        for _ in 0..(r + 1) * 20 {
                            std::hint::spin_loop();
                        }
                        held.iter().for_each(|v| {
                            v.check();
                        });
                        rounds += 1;
                    }
                    rounds
                })
            })
            .collect();
        let writers: Vec<_> = (0..2u64)
            .map(|w| {
                let (t, stop, start) = (t.clone(), stop.clone(), start.clone());
                thread::spawn(move || {
                    start.wait();
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        // Replace the hot values (each retires an entry)...
                        for k in 0..HOT {
                            t.insert(k, Canary::new(n));
                            n += 1;
                        }
                        // ...and grow and shrink a partition (retiring tables).
                        let base = 1_000_000 * (w + 1);
                        for k in base..base + 2_000 {
                            t.insert(k, Canary::new(k));
                        }
                        for k in base..base + 2_000 {
                            assert!(t.remove(&k));
                        }
                    }
                    n
                })
            })
            .collect();
        let deadline = Instant::now() + Duration::from_millis(millis());
        while Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
        }
        stop.store(true, Ordering::Relaxed);
        for r in readers {
            assert!(r.join().unwrap() > 0);
        }
        for w in writers {
            assert!(w.join().unwrap() > 0);
        }
        for k in 0..HOT {
            t.get_with(&k, Canary::check).unwrap();
        }
        t.clear();
    }
    // Everything retired (by the exited writers too) is freed exactly once.
    let deadline = Instant::now() + Duration::from_secs(10);
    while LIVE.load(Ordering::SeqCst) != 0 && Instant::now() < deadline {
        flush_retired();
        thread::yield_now();
    }
    assert_eq!(LIVE.load(Ordering::SeqCst), 0, "values leaked");
}
