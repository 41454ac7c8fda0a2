//! How the boxed [`crate::Table`] frees what it unlinks: crossbeam-epoch
//! for its writers, reader sections (`crate::quiesce`) for its readers.
//!
//! # Why two schemes
//!
//! Pinning a crossbeam epoch costs a locked `cmpxchg` (a full fence), and
//! a lookup that pins cannot overlap its cache misses with the previous
//! operation's. A lookup retires nothing, so it enters a reader section
//! instead: a plain store to a line only its thread writes (see
//! `quiesce`). Writers keep pinning crossbeam-epoch, which tracks what they
//! may still hold. Memory is freed only when both agree: measured on
//! `Table<u64, u64>`, a get went from 9.8 to 6.5 ns at 1,024 keys, 16 to
//! 12 ns at 100,000 and 92 to 77 ns at 1,000,000 (one thread).
//!
//! # Protocol
//!
//! [`retire`] (a writer, pinned) adds the unlinked pointer to its thread's
//! open batch. A full batch, or one flushed ([`flush`], after a resize or a
//! `clear`), is handed to crossbeam with `defer`: crossbeam runs
//! [`after_epoch`] once every thread pinned at that moment has unpinned,
//! so no writer can still reach the batch. `after_epoch` then starts a grace
//! period for readers (`quiesce::Waits`: a process-wide barrier, then a
//! snapshot of the sections in progress) and frees the batch when those
//! sections have ended, at once or, parked in a global list, when a later
//! batch or flush polls it. A section that starts after the barrier cannot
//! reach the batch: it was unlinked before the barrier.
//!
//! The cost moves to retirement: per batch of [`BATCH`], one crossbeam
//! `defer` and one barrier (a `membarrier` system call). Under loom the
//! table keeps what it retires until it is dropped (`primitive::Garbage`).
//!
//! # Memory held back
//!
//! A thread's open batch (up to [`BATCH`] entries or [`BATCH_BYTES`]) waits for that thread's
//! next retirements, a resize or `clear` on its watch, its exit, or
//! `ferrets_core::flush_retired`; a parked batch waits for the next batch
//! or flush of any thread. crossbeam's own per-thread bags behave the same
//! way, 64 deferred functions each.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use crossbeam_epoch::Guard;

use crate::quiesce::{in_section, Waits};

/// A retired `Box<T>`, its type erased.
struct Retired {
    ptr: *mut u8,
    free: unsafe fn(*mut u8),
}

// SAFETY: a retired box is reached by nobody but the batch that holds it;
// `retire` requires its contents to be sendable to the freeing thread.
unsafe impl Send for Retired {}

/// Frees the `Box<T>` at `p`.
///
/// # Safety
/// `p` is a retired `Box<T>` whose grace periods are over, freed once.
unsafe fn free_box<T>(p: *mut u8) {
    // SAFETY: per the contract.
    drop(unsafe { Box::from_raw(p.cast::<T>()) });
}

/// Retirements per batch, at most: the barrier interrupts every other
/// running thread of the process, so a batch must be big enough that those
/// interruptions stay rare. With 256, two threads churning one table made
/// 10,000 barriers in 6M operations and lost a quarter of their throughput;
/// with 2,048 they are level with crossbeam alone.
const BATCH: usize = 2048;

/// Bytes per batch, at most: big entries are handed over sooner, so that
/// the memory a thread holds back stays bounded.
const BATCH_BYTES: usize = 1 << 20;

/// Polls for the readers of a batch before it is parked: sections are
/// single lookups, well under this.
const SPIN: usize = 256;

/// A thread's open batch and the bytes it holds.
#[derive(Default)]
struct Batch {
    items: Vec<Retired>,
    bytes: usize,
}

impl Batch {
    /// Takes the items out, leaving an empty batch.
    fn take(&mut self) -> Vec<Retired> {
        self.bytes = 0;
        std::mem::take(&mut self.items)
    }
}

/// This thread's open batch. Its destructor hands what is left to
/// crossbeam at thread exit.
struct Open(RefCell<Batch>);

impl Drop for Open {
    fn drop(&mut self) {
        let items = self.0.get_mut().take();
        if !items.is_empty() {
            hand_over(&crossbeam_epoch::pin(), items);
        }
    }
}

thread_local! {
    static OPEN: Open = const { Open(RefCell::new(Batch { items: Vec::new(), bytes: 0 })) };
}

/// Batches past crossbeam's grace period whose readers were still in
/// sections, with the sections they wait for.
static PARKED: Mutex<Vec<(Vec<Retired>, Waits)>> = Mutex::new(Vec::new());
/// Whether `PARKED` may be non-empty (written under its lock).
static ANY_PARKED: AtomicBool = AtomicBool::new(false);

/// Frees the `Box<T>` at `ptr` (holding about `bytes`) once no thread can
/// reach it: neither a writer pinned now (crossbeam) nor a reader in a
/// section now.
///
/// # Safety
/// `ptr` came from `Box::into_raw`, is unreachable for operations that
/// start after this call, is retired exactly once, and its contents may be
/// dropped on any thread.
pub(crate) unsafe fn retire<T>(guard: &Guard, ptr: *mut T, bytes: usize) {
    let mut item = Some(Retired { ptr: ptr.cast(), free: free_box::<T> });
    let full = OPEN.try_with(|open| {
        let mut open = open.0.borrow_mut();
        open.items.extend(item.take());
        open.bytes += bytes;
        (open.items.len() >= BATCH || open.bytes >= BATCH_BYTES).then(|| open.take())
    });
    match full {
        Ok(None) => {}
        Ok(Some(items)) => hand_over(guard, items),
        // Thread-locals gone (a destructor): a batch of one.
        Err(_) => hand_over(guard, item.into_iter().collect()),
    }
}

/// Hands this thread's open batch to reclamation now, pushes crossbeam's
/// own garbage along, and frees what parked batches no reader holds any more.
pub(crate) fn flush(guard: &Guard) {
    if let Ok(Some(items)) = OPEN.try_with(|open| {
        let mut open = open.0.borrow_mut();
        (!open.items.is_empty()).then(|| open.take())
    }) {
        hand_over(guard, items);
    } else {
        guard.flush();
        poll_parked();
    }
}

/// Defers `items` past crossbeam's grace period, then the readers'.
fn hand_over(guard: &Guard, items: Vec<Retired>) {
    // SAFETY: the items are unlinked (retire's contract); `after_epoch`
    // frees them only after the readers' grace period as well.
    unsafe { guard.defer_unchecked(move || after_epoch(items)) };
    // Crossbeam collects a thread's deferred functions 64 at a time: push
    // this one out now, or the batch would wait for 63 more (16,000
    // retirements of cold memory in flight).
    guard.flush();
    poll_parked();
}

/// Crossbeam's grace period for `items` is over: no writer reaches them.
/// Waits for the readers, briefly, then parks them.
fn after_epoch(items: Vec<Retired>) {
    let Some(mut waits) = Waits::start() else {
        // No barrier, no grace period: leak rather than risk a use after
        // free (never seen: the process registered for the barrier).
        return;
    };
    // From inside a section this thread would wait for itself.
    let spin = if in_section() { 0 } else { SPIN };
    for _ in 0..=spin {
        if waits.poll() {
            // SAFETY: unlinked before crossbeam's grace period and the
            // barrier; every pinned writer and every section that could
            // reach them has ended since.
            unsafe { free(items) };
            return;
        }
        std::hint::spin_loop();
    }
    PARKED.lock().unwrap_or_else(|e| e.into_inner()).push((items, waits));
    ANY_PARKED.store(true, Ordering::Relaxed);
}

/// Frees the parked batches whose readers have all moved on.
fn poll_parked() {
    if !ANY_PARKED.load(Ordering::Relaxed) {
        return;
    }
    let Ok(mut parked) = PARKED.try_lock() else { return };
    let mut done = Vec::new();
    parked.retain_mut(|(items, waits)| {
        if waits.poll() {
            done.push(std::mem::take(items));
            false
        } else {
            true
        }
    });
    ANY_PARKED.store(!parked.is_empty(), Ordering::Relaxed);
    // Freeing runs destructors, which may retire more: not under the lock.
    drop(parked);
    for items in done {
        // SAFETY: both grace periods are over (see `after_epoch`).
        unsafe { free(items) };
    }
}

/// # Safety
/// Every item's grace periods are over; each is freed once.
unsafe fn free(items: Vec<Retired>) {
    for r in items {
        // SAFETY: per the contract, with the type `retire` recorded.
        unsafe { (r.free)(r.ptr) };
    }
}
