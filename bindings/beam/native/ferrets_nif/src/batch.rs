//! Isolation of long list inserts: `insert/2` and `insert_new/2` of a list
//! of any length are atomic and isolated, as in ETS, without holding a
//! normal scheduler for long and without readers taking a lock.
//!
//! Short lists (up to [`MAX_ISOLATED`] objects) are stored in one go while
//! every other operation on the table spins for the ~0.1 ms that takes (see
//! [`TableResource::isolated`]). A longer list is first encoded where no one
//! can see it (on a dirty scheduler); then it is published as a [`Batch`] of
//! chunks and the table is marked busy. From then on every operation on the
//! table (readers included) first *helps*: it claims chunks of the batch and
//! stores them, until the whole batch is stored, so no operation ever sees it
//! half done. Like ETS's yielding list inserts, whose continuation other
//! processes run when they meet the busy table, the work is shared and no
//! one waits on a stalled writer; unlike a lock, the fast path stays one
//! atomic load (the `busy` word every operation already reads).
//!
//! An operation helps for at most [`HELP_BUDGET`]; if the batch is still
//! not done then, the NIFs on normal schedulers ([`crate::lean`])
//! reschedule themselves with `enif_schedule_nif` (the process yields and
//! the call runs again, helping again), so no NIF call holds a normal
//! scheduler for more than about half a millisecond; `rename/2` and the
//! `Ferrets.Async` submits raise [`BUSY`] instead, on which their Erlang and
//! Elixir callers yield and call again. Dirty NIFs retry in place
//! ([`blocking`]). Nothing of this runs
//! unless the table is busy: the hot path reads no thread-local.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustler::{Error, NifResult};

use crate::key::Key;
use crate::objects::Obj;
use crate::ops::put;
use crate::options::Kind;
use crate::table::TableResource;

/// Longest list whose insert is isolated by making other callers spin (see
/// [`TableResource::isolated`]): about 0.1 ms of work. Longer lists become a
/// [`Batch`].
pub const MAX_ISOLATED: usize = 1_000;

/// The longest list ETS can store in order: it does so only when the list
/// is no longer than 8 per reduction left to the caller, at most 4,000
/// (`ITERATIONS_PER_RED` x `CONTEXT_REDS` in OTP 25's `erl_db.c`); longer
/// lists are stored last to first.
pub const ETS_IN_ORDER_MAX: usize = 32_000;

/// Keys stored per claimed chunk: ~25 µs of `put`s for small objects.
const CHUNK: usize = 128;

/// The longest a normal-scheduler call helps a batch before it yields.
pub const HELP_BUDGET: Duration = Duration::from_micros(300);

/// The atom a table check raises when the caller should yield and retry:
/// [`crate::lean`] reschedules on it; `ferrets:rename/2` and
/// `Ferrets.Async` catch it, yield and call again; no user sees it.
pub const BUSY: &str = "ferrets_batch_busy";

/// Runs `f` (a NIF body that checks its table first, before any effect)
/// until it gets past the table check: for dirty NIFs, which may keep
/// helping a long list insert until it is stored instead of yielding.
pub fn blocking<T>(mut f: impl FnMut() -> NifResult<T>) -> NifResult<T> {
    loop {
        match f() {
            Err(Error::RaiseAtom(a)) if a == BUSY => std::thread::yield_now(),
            r => return r,
        }
    }
}

/// Phases of a batch.
const CHECKING: u8 = 0;
const APPLYING: u8 = 1;

/// One key's objects in a batch, in the order they are stored.
type Item = (Key, Vec<Obj>);

/// A published long list insert: its objects grouped by key (so chunks can
/// be stored in any order and by anyone) and cut in chunks that helpers
/// claim one at a time.
pub struct Batch {
    chunks: Vec<Mutex<Vec<Item>>>,
    /// `CHECKING` while `insert_new/2` looks for existing keys (nothing to
    /// help with yet), then `APPLYING`.
    phase: AtomicU8,
    /// Chunks handed out.
    claimed: AtomicUsize,
    /// Chunks stored (or dropped by a failed `insert_new/2`).
    done: AtomicUsize,
}

impl Batch {
    /// Groups `all` (a list's objects in list order) by key: one item per
    /// key holding its objects in the order [`put`] must see them, the
    /// order ETS stores them in. ETS stores a list in order when the caller
    /// has reductions enough to do it at once, and last to first otherwise
    /// (it then copies the list first, which reverses it): always last to
    /// first for a `bag`, and for the others when the list is longer than
    /// [`ETS_IN_ORDER_MAX`]. So a set keeps the last object of a key (the
    /// first of a very long list) and a `duplicate_bag` keeps list order
    /// (reversed for a very long list). Between ~1,000 and 32,000 objects
    /// ETS's order depends on the caller's reductions left, which a NIF
    /// cannot know; ferrets keeps list order there (ETS's order for a
    /// caller with a fresh time slice).
    fn new(kind: Kind, all: Vec<(Key, Obj)>, checking: bool) -> Self {
        let mut index: HashMap<Key, usize> = HashMap::with_capacity(all.len());
        let mut items: Vec<Item> = Vec::with_capacity(all.len());
        let reversed = kind == Kind::Bag || all.len() > ETS_IN_ORDER_MAX;
        let ordered: Box<dyn Iterator<Item = (Key, Obj)>> =
            if reversed { Box::new(all.into_iter().rev()) } else { Box::new(all.into_iter()) };
        for (k, o) in ordered {
            match index.get(&k) {
                Some(&i) if kind == Kind::Set => items[i].1 = vec![o],
                Some(&i) => items[i].1.push(o),
                None => {
                    index.insert(k.clone(), items.len());
                    items.push((k, vec![o]));
                }
            }
        }
        let mut chunks = Vec::with_capacity(items.len().div_ceil(CHUNK));
        let mut items = items.into_iter().peekable();
        while items.peek().is_some() {
            chunks.push(Mutex::new(items.by_ref().take(CHUNK).collect()));
        }
        Batch {
            chunks,
            phase: AtomicU8::new(if checking { CHECKING } else { APPLYING }),
            claimed: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
        }
    }

    /// Whether every chunk is stored (or dropped).
    pub fn finished(&self) -> bool {
        self.done.load(Ordering::Acquire) == self.chunks.len()
    }

    /// Claims and stores chunks while any is left and `more()` allows.
    /// Returns whether the whole batch is stored.
    fn help(&self, t: &TableResource, mut more: impl FnMut() -> bool) -> bool {
        while self.phase.load(Ordering::Acquire) == APPLYING && more() {
            let i = self.claimed.fetch_add(1, Ordering::Relaxed);
            let Some(chunk) = self.chunks.get(i) else { break };
            let items = std::mem::take(&mut *chunk.lock().unwrap_or_else(|e| e.into_inner()));
            /// Counts the chunk even if storing it panics, so that no one
            /// waits for it forever (the panic surfaces as an exception).
            struct Count<'a>(&'a AtomicUsize);
            impl Drop for Count<'_> {
                fn drop(&mut self) {
                    self.0.fetch_add(1, Ordering::AcqRel);
                }
            }
            let _count = Count(&self.done);
            for (k, objs) in items {
                for o in objs {
                    put(t, k.clone(), o);
                }
            }
        }
        self.finished()
    }

    /// Drops every chunk unstored (`insert_new/2` found a key).
    fn cancel(&self) {
        for chunk in &self.chunks {
            drop(std::mem::take(&mut *chunk.lock().unwrap_or_else(|e| e.into_inner())));
        }
        self.claimed.store(self.chunks.len(), Ordering::Relaxed);
        self.done.store(self.chunks.len(), Ordering::Release);
    }

    /// The keys of the batch, for `insert_new/2`'s check.
    fn any_key(&self, mut f: impl FnMut(&Key) -> bool) -> bool {
        self.chunks.iter().any(|c| c.lock().unwrap_or_else(|e| e.into_inner()).iter().any(|(k, _)| f(k)))
    }
}

/// Why a table check could not let the caller in yet.
pub struct Busy;

impl TableResource {
    /// Waits until no multi-object write is under way, helping a long one
    /// (see the module docs), for at most about [`HELP_BUDGET`]: `Err(Busy)`
    /// when a batch is still being stored then, or when what is left of it
    /// is others' work. The hot NIFs then reschedule themselves
    /// ([`crate::lean`]); the others retry through [`blocking`].
    #[cold]
    pub fn wait_quiet(&self) -> Result<(), Busy> {
        let start = Instant::now();
        let in_time = || start.elapsed() < HELP_BUDGET;
        while self.busy.load(Ordering::Acquire) != 0 {
            let batch = self.batch.lock().unwrap_or_else(|e| e.into_inner()).clone();
            if let Some(b) = batch {
                // Nothing left to claim (or `insert_new/2` still checking its
                // keys) means the rest is others' work: yield at once rather
                // than spin (or sleep in `yield_now` for an OS time slice) on
                // a normal scheduler.
                return if b.help(self, in_time) { Ok(()) } else { Err(Busy) };
            }
            // A short isolated list (~0.1 ms): spin.
            if !in_time() {
                return Err(Busy);
            }
            std::hint::spin_loop();
        }
        Ok(())
    }

    /// Stores the list `all` (already encoded, so nothing can fail any more)
    /// as one atomic and isolated step; with `new_only` (`insert_new/2`)
    /// only if none of its keys is present, and returns whether it stored.
    /// Short lists make other callers spin; long ones are published as a
    /// [`Batch`] that every caller helps store. Long lists must come from a
    /// dirty scheduler: this call helps until the batch is stored.
    pub fn insert_list(&self, all: Vec<(Key, Obj)>, new_only: bool) -> bool {
        if all.len() <= MAX_ISOLATED {
            return self.isolated(all.len(), || {
                if new_only && all.iter().any(|(k, _)| self.table.contains_key(k.bytes())) {
                    return false;
                }
                crate::ops::put_all(self, all, false);
                true
            });
        }
        let n = all.len();
        let stored = self.insert_batch(all, new_only);
        // A bulk load (the list is at least an eighth of the table): still
        // on the dirty scheduler, finish the resizes it started, or growing
        // partitions keep two arrays (slower misses, more memory) until
        // later writes finish them. A small list into a big table leaves
        // them to those writes (finishing could copy much of the table).
        if stored && n.saturating_mul(8) >= self.table.len() {
            self.table.finish_resizes();
        }
        stored
    }

    /// [`Self::insert_list`] of a long list: publishes it as a [`Batch`].
    fn insert_batch(&self, all: Vec<(Key, Obj)>, new_only: bool) -> bool {
        let batch = Arc::new(Batch::new(self.kind, all, new_only));
        let _serial = self.multi.lock().unwrap_or_else(|e| e.into_inner());
        /// Unpublishes the batch even if this call panics (finishing it
        /// first: a published batch is stored whole or, if storing panics,
        /// as far as it got).
        struct Unpublish<'a>(&'a TableResource, &'a Batch);
        impl Drop for Unpublish<'_> {
            fn drop(&mut self) {
                let (t, b) = (self.0, self.1);
                if b.phase.load(Ordering::Acquire) == CHECKING {
                    b.cancel();
                }
                b.help(t, || true);
                while !b.finished() {
                    std::thread::yield_now();
                }
                *t.batch.lock().unwrap_or_else(|e| e.into_inner()) = None;
            }
        }
        *self.batch.lock().unwrap_or_else(|e| e.into_inner()) = Some(batch.clone());
        // Dropped after `_unpublish` (declared first): the batch is stored
        // and unpublished before the write ends.
        let _write = self.begin_multi();
        let _unpublish = Unpublish(self, &batch);
        if new_only && batch.any_key(|k| self.table.contains_key(k.bytes())) {
            batch.cancel();
            return false;
        }
        batch.phase.store(APPLYING, Ordering::Release);
        // `_unpublish` stores what helpers left and waits for their chunks.
        true
    }
}
