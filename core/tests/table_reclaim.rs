//! The boxed table's reclamation (crossbeam-epoch for writers, reader
//! sections for readers): writers replace the values of a few hot keys
//! and churn others through resizes, so entries and tables are retired
//! constantly, while readers borrow the hot values (`get_with`, and
//! `get_ref` under a `pinned()` section held across several lookups). A
//! value poisons itself when dropped, so a reader that still sees one after
//! its free (a grace period cut short) fails its check; every value made
//! is dropped exactly once by the end. The same holds for readers taking
//! turns under one `SerialReader`.

use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use ferrets_core::{flush_retired, pinned, HeapSize, Pinned, SerialReader, Table, TableOptions};

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

/// Runs `readers` threads, each calling `read(table, index)` in a loop,
/// against two writers that replace the hot values and churn partitions
/// through resizes; then checks that every value was dropped exactly once.
fn churn_while_reading<R>(readers: usize, read: R)
where
    R: Fn(&Table<u64, Canary>, usize) + Send + Sync + 'static,
{
    // The tests of this file share `LIVE`: one at a time.
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    {
        let t: Arc<Table<u64, Canary>> =
            Arc::new(Table::with_options(TableOptions { partitions: Some(2), capacity: 0 }));
        for k in 0..HOT {
            t.insert(k, Canary::new(k));
        }
        let read = Arc::new(read);
        let stop = Arc::new(AtomicBool::new(false));
        let start = Arc::new(Barrier::new(readers + 2));
        let readers: Vec<_> = (0..readers)
            .map(|r| {
                let (t, stop, start, read) = (t.clone(), stop.clone(), start.clone(), read.clone());
                thread::spawn(move || {
                    start.wait();
                    let mut rounds = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        read(&t, r);
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

/// Borrows every hot value under `p`, waits a little, checks them all.
fn hold_and_check(t: &Table<u64, Canary>, p: &Pinned, spins: usize) {
    let held: Vec<&Canary> = (0..HOT).map(|k| t.get_ref(&k, p).unwrap()).collect();
    for _ in 0..spins {
        std::hint::spin_loop();
    }
    held.iter().for_each(|v| {
        v.check();
    });
}

#[test]
fn readers_never_see_a_freed_value() {
    churn_while_reading(2, |t, r| {
        for k in 0..HOT {
            assert!(t.get_with(&k, Canary::check).is_some(), "hot key {k} missing");
        }
        // A section held across lookups: what it borrowed stays valid
        // while writers replace it.
        hold_and_check(t, &pinned(), (r + 1) * 20);
    });
}

#[test]
fn serial_readers_taking_turns_never_see_a_freed_value() {
    // Three threads take turns under a lock, as Python threads do under
    // the GIL, and read under one shared `SerialReader`. Some sections nest
    // (the inner one falls back to the thread's own slot), and every
    // fourth round the holder hands the turn on before its section ends
    // (allowed, the next holders then fall back too).
    let turn = Mutex::new(0u64);
    let reader = SerialReader::new();
    churn_while_reading(3, move |t, r| {
        let mut n = turn.lock().unwrap();
        *n += 1;
        // SAFETY: called holding `turn`, whose unlock and lock order each
        // holder's calls after the previous holder's.
        let p = unsafe { reader.pinned() };
        if *n % 4 == 0 {
            drop(n);
            hold_and_check(t, &p, (r + 1) * 50);
            return;
        }
        if *n % 3 == 0 {
            // SAFETY: as above, still holding `turn`.
            let inner = unsafe { reader.pinned() };
            hold_and_check(t, &inner, 10);
        }
        hold_and_check(t, &p, (r + 1) * 20);
        drop(p);
        drop(n);
    });
}
