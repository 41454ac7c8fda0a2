//! Shared by `word_reclaim.rs` (membarrier mode) and `word_reclaim_fence.rs`
//! (the fence fallback): resizes retire group arrays constantly while
//! readers look up keys present throughout. Debug builds poison a freed
//! array (its canary, and every group made to look empty), so a reader
//! that still uses one fails an assertion or misses a key; a counting
//! allocator checks that every retired array is freed, promptly.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

use ferrets_core::{TableOptions, WordTable};

/// Counts the bytes held by the whole process.
pub struct Counting;

static HELD: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator and only adds a counter.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        HELD.fetch_add(l.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded contract.
        unsafe { System.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        HELD.fetch_add(l.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded contract.
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        HELD.fetch_sub(l.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(p, l) }
    }
}

fn held() -> isize {
    HELD.load(Ordering::Relaxed)
}

const STABLE: u64 = 64;
const READERS: usize = 2;
/// Reader rounds (each checks every stable key) the resizes must overlap.
const MIN_READS: usize = 200;

/// Cycles of grow-then-shrink; `FERRETS_STRESS_OPS` (thousands) scales them.
fn cycles() -> u64 {
    std::env::var("FERRETS_STRESS_OPS").ok().and_then(|s| s.parse::<u64>().ok()).map_or(40, |n| n / 1500 + 1)
}

/// Writers grow a one-partition table to `grow` extra keys and remove them
/// again, `cycles()` times (each cycle retires a dozen arrays); readers
/// check the stable keys and iterate. Then checks that nothing retired is
/// still held, and that dropping the table returns every byte.
pub fn reclaim_under_readers(grow: u64) {
    // Register this thread's slot first: it stays allocated (and reused).
    let warm: WordTable<u64, u64> = WordTable::new();
    warm.insert(1, 1);
    drop(warm);
    let base = held();
    let t: Arc<WordTable<u64, u64>> =
        Arc::new(WordTable::with_options(TableOptions { partitions: Some(1), capacity: 0 }));
    for k in 0..STABLE {
        t.insert(k, k * 7);
    }
    let stop = Arc::new(AtomicBool::new(false));
    // Reader rounds so far: the writer keeps resizing until there are
    // enough (on a loaded machine readers may start late).
    let reads = Arc::new(AtomicUsize::new(0));
    let start = Arc::new(Barrier::new(READERS + 2));
    let readers: Vec<_> = (0..READERS)
        .map(|r| {
            let (t, stop, start, reads) = (t.clone(), stop.clone(), start.clone(), reads.clone());
            thread::spawn(move || {
                start.wait();
                let mut rounds = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    for k in 0..STABLE {
                        assert_eq!(t.get(k), Some(k * 7), "reader {r}: stable key {k}");
                    }
                    if rounds % 16 == 0 {
                        let n = t.iter().filter(|&(k, v)| k < STABLE && v == k * 7).count();
                        assert_eq!(n, STABLE as usize, "reader {r}: iterator");
                    }
                    rounds += 1;
                    reads.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let writer = {
        let (t, start, reads) = (t.clone(), start.clone(), reads.clone());
        thread::spawn(move || {
            start.wait();
            for c in 0.. {
                if c >= cycles() && reads.load(Ordering::Relaxed) >= MIN_READS {
                    break;
                }
                let keys = (1 << 32) + c * grow..(1 << 32) + (c + 1) * grow;
                for k in keys.clone() {
                    assert!(t.insert(k, k));
                }
                for k in keys {
                    assert_eq!(t.take(k), Some(k));
                }
            }
        })
    };
    start.wait();
    // This thread writes too: its own grows and shrinks race the writer's.
    for k in 0..20 * grow {
        let k = (2 << 32) + k % grow;
        t.insert(k, 1);
        t.remove(k);
    }
    writer.join().unwrap();
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().unwrap();
    }
    assert_eq!(t.len(), STABLE as usize);
    // A few operations poll what retirements parked (readers are gone).
    for k in 0..STABLE {
        assert_eq!(t.get(k), Some(k * 7));
    }
    let table_bytes = t.memory_bytes() as isize;
    let now = held() - base;
    // Only the live tables, the Arc header and the exited threads' slots
    // (each ~256 bytes, kept for reuse) may be held.
    assert!(now <= table_bytes + 16 * 1024, "held {now} bytes, table {table_bytes}");
    drop(t);
    let after = held() - base;
    assert!(after <= 16 * 1024, "{after} bytes still held after the drop");
}
