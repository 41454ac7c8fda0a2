//! The partitioned lock-free table.
//!
//! Layout: the high bits of a key's hash pick a cache-padded [`Partition`];
//! each partition owns an open-addressing [`RawTable`] of 64-byte groups
//! (a control word of 7 tag bytes + 7 slot words, SwissTable-style, see
//! [`group`]) whose slots point to immutable boxed entries. The next hash
//! bits pick the home group and the low 7 bits the tag.
//!
//! Readers enter a reader section (a plain store to a line their thread
//! owns), load, and compare: no locks, no shared writes. Writers pin a
//! crossbeam epoch, publish a new entry pointer with one CAS and retire the
//! old one, which is freed once neither pinned writers nor readers' sections
//! can see it (`crate::reclaim`). Resizes copy pointers incrementally, with
//! every writer helping ([`resize`]); readers never wait for them.

mod group;
mod iter;
mod probe;
mod raw;
mod resize;

use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash};
use std::mem::size_of;

use crossbeam_utils::CachePadded;

pub use iter::{Cursor, Iter, Scan};

use group::{with_tag, DELETED, PTR, WIDTH};
use probe::{entry, Find, Hashed, Spot};
use raw::{Entry, Plan, RawTable};

use crate::primitive::{pin, read, AtomicIsize, AtomicPtr, Garbage, Guard, Ordering, Reader};
use crate::{CounterValue, HeapSize, NotACounter, TableOptions};

/// What a [`Table::compute`] closure decides to do with the entry it saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Compute<V, R> {
    /// Leave the entry as it is (absent stays absent); return `R`.
    Keep(R),
    /// Store `V` under the key (inserting or replacing); return `R`.
    Insert(V, R),
    /// Remove the entry if present; return `R`.
    Remove(R),
}

/// Probes longer than this many groups make the partition rehash.
const MAX_DISTANCE: usize = 16;

/// One partition: its table root and its counters, each on its own line so
/// that readers of the root never share a line with the writers' counters.
pub(crate) struct Partition<K, V> {
    root: CachePadded<AtomicPtr<RawTable<K, V>>>,
    stats: CachePadded<Stats>,
}

struct Stats {
    /// Live entries.
    len: AtomicIsize,
    /// Bytes of the entries this partition's tables link (live or deleted).
    bytes: AtomicIsize,
}

impl<K, V> Partition<K, V> {
    fn new(groups: usize) -> Self {
        Partition {
            root: CachePadded::new(AtomicPtr::new(Box::into_raw(RawTable::new(groups, false)))),
            stats: CachePadded::new(Stats { len: AtomicIsize::new(0), bytes: AtomicIsize::new(0) }),
        }
    }

    /// The current root table.
    #[inline]
    fn root<'g>(&self) -> &'g RawTable<K, V> {
        // SAFETY: callers hold a pin or a reader section (every public entry
        // point takes one first); a root is retired only after it is
        // replaced, so it outlives them.
        unsafe { &*self.root.load(Ordering::Acquire) }
    }

    fn add_len(&self, d: isize) -> isize {
        self.stats.len.fetch_add(d, Ordering::Relaxed) + d
    }

    fn add_bytes_signed(&self, d: isize) {
        self.stats.bytes.fetch_add(d, Ordering::Relaxed);
    }

    fn sub_bytes(&self, d: usize) {
        self.stats.bytes.fetch_sub(d as isize, Ordering::Relaxed);
    }

    fn len(&self) -> usize {
        self.stats.len.load(Ordering::Relaxed).max(0) as usize
    }
}

/// A concurrent hash table with set semantics (one value per key).
///
/// Lock-free: lookups never lock or write shared memory; updates are single
/// CASes; resizes proceed incrementally with writers helping. Partitioned by
/// the high bits of the key hash ([`TableOptions::partitions`]), so writers
/// of different partitions never touch the same cache line. All methods take
/// `&self`: share the table with `Arc`.
pub struct Table<K, V, S = foldhash::fast::RandomState> {
    partitions: Box<[Partition<K, V>]>,
    hasher: S,
    /// log2 of the partition count.
    part_bits: u32,
    min_groups: usize,
    garbage: Garbage,
}

// SAFETY: the table owns its entries (moved in by value, handed out as
// clones or shared borrows), and frees retired ones on whichever thread runs
// reclamation: sound when keys and values are Send + Sync.
unsafe impl<K: Send + Sync, V: Send + Sync, S: Send> Send for Table<K, V, S> {}
// SAFETY: as above; shared access only reads entries or swaps pointers atomically.
unsafe impl<K: Send + Sync, V: Send + Sync, S: Sync> Sync for Table<K, V, S> {}

pub(crate) fn entry_bytes<K: HeapSize, V: HeapSize>(k: &K, v: &V) -> usize {
    size_of::<Entry<K, V>>() + k.heap_size() + v.heap_size()
}

impl<K, V> Table<K, V>
where
    K: Hash + Eq + HeapSize,
    V: HeapSize,
{
    /// An empty table with default options.
    pub fn new() -> Self {
        Self::with_options(TableOptions::default())
    }

    /// An empty table laid out by `options`.
    pub fn with_options(options: TableOptions) -> Self {
        Self::with_options_and_hasher(options, foldhash::fast::RandomState::default())
    }
}

impl<K, V> Default for Table<K, V>
where
    K: Hash + Eq + HeapSize,
    V: HeapSize,
{
    fn default() -> Self {
        Self::new()
    }
}

/// A reader section for borrowing values out of a table ([`Table::get_ref`]).
/// Keep it short-lived: memory retired while it lives is not freed, and never
/// hold one across a call back into a foreign runtime. Not `Send`.
pub struct Pinned(Reader);

/// Enters a reader section on the current thread for [`Table::get_ref`]:
/// a plain store to a line only this thread writes (no atomic
/// read-modify-write).
pub fn pinned() -> Pinned {
    Pinned(read())
}

/// Reader sections for threads that already take turns under a lock of
/// their own, such as an interpreter's global lock: all of them share one
/// section slot, so entering is a plain store to it, without the
/// thread-local lookup of [`pinned`] (a call in a dynamically loaded
/// library). Each one claims a slot for the life of the process: create
/// one per lock, not per call.
pub struct SerialReader {
    #[cfg(not(loom))]
    slot: crate::quiesce::Shared,
}

impl SerialReader {
    /// A reader with a section slot of its own.
    pub fn new() -> Self {
        SerialReader {
            #[cfg(not(loom))]
            slot: crate::quiesce::Shared::new(),
        }
    }

    /// Enters a reader section for [`Table::get_ref`], like [`pinned`]
    /// (which it falls back to while a section of this reader is open:
    /// nested, or left open by a thread that lost its turn).
    ///
    /// # Safety
    /// Only the thread holding the turn calls this, and whatever passes the
    /// turn between threads (a lock released by one and acquired by the
    /// next) orders everything the previous holder did before the next
    /// holder's call. Sections should end before the turn passes (one left
    /// open is safe, but makes the next holders fall back to [`pinned`]).
    #[inline(always)]
    pub unsafe fn pinned(&self) -> Pinned {
        #[cfg(not(loom))]
        // SAFETY: per the contract.
        return Pinned(unsafe { self.slot.enter() });
        #[cfg(loom)]
        return Pinned(read());
    }
}

impl Default for SerialReader {
    fn default() -> Self {
        Self::new()
    }
}

/// Hands what this thread's writes to boxed tables retired (kept in
/// batches) to reclamation now, and frees what is due. Tables do this
/// themselves after a resize or a `clear`; call it from a thread that wrote
/// much and will now stay idle, or before counting memory or drops.
pub fn flush_retired() {
    Garbage::default().flush(&pin());
}

impl<K, V, S> Table<K, V, S>
where
    K: Hash + Eq + HeapSize,
    V: HeapSize,
    S: BuildHasher + Clone,
{
    /// An empty table laid out by `options`, hashing keys with `hasher`.
    pub fn with_options_and_hasher(options: TableOptions, hasher: S) -> Self {
        let n = options.resolved_partitions();
        let min_groups = if cfg!(loom) { 1 } else { 2 };
        let per = options.capacity.div_ceil(n);
        let groups = (per * 4 / 3).div_ceil(WIDTH).next_power_of_two().max(min_groups);
        let partitions = (0..n).map(|_| Partition::new(groups)).collect();
        Self { partitions, hasher, part_bits: n.trailing_zeros(), min_groups, garbage: Garbage::default() }
    }

    /// The number of partitions (a power of two).
    pub fn partitions(&self) -> usize {
        self.partitions.len()
    }

    #[inline]
    fn hashed<Q: Hash + ?Sized>(&self, key: &Q) -> Hashed {
        let h = self.hasher.hash_one(key);
        // Partition from the top bits, home group from the bits below them,
        // tag from the lowest 7: independent bits at every level.
        let part = crate::ctrl::top_bits(h, self.part_bits);
        Hashed { part, pos: h << self.part_bits, tag: group::tag_of(h) }
    }

    /// Reader lookup, protected by `_held` (a writer's pin or a reader's
    /// section) for `'g`: never writes shared memory.
    #[inline]
    fn lookup<'g, Q, P>(&'g self, key: &Q, _held: &'g P) -> Option<&'g Entry<K, V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let h = self.hashed(key);
        let mut t = self.partitions[h.part].root();
        loop {
            match t.find(key, h) {
                Find::Hit(e) => return Some(e),
                Find::Miss => {
                    let next = t.next();
                    if next.is_null() {
                        return None;
                    }
                    // SAFETY: reached from the root under our pin or section; retired only
                    // after the root moves past it, i.e. after we pinned.
                    t = unsafe { &*next };
                }
            }
        }
    }

    /// A clone of the value stored under `key`.
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        let section = read();
        self.lookup(key, &section).map(|e| e.value.clone())
    }

    /// Calls `f` with a borrow of the value under `key` and returns its result.
    /// `f` must be short: it runs inside the lookup's reader section.
    pub fn get_with<Q, R>(&self, key: &Q, f: impl FnOnce(&V) -> R) -> Option<R>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let section = read();
        self.lookup(key, &section).map(|e| f(&e.value))
    }

    /// A borrow of the value under `key`, valid while `pinned` lives (see
    /// [`pinned`]). The value is the one stored at the time of the call.
    ///
    /// Its address is stable: an entry never moves while it is in the table
    /// (resizes move pointers to entries, not entries) and is freed only
    /// after it is replaced, removed or cleared, plus a grace period. So a caller
    /// that learns of every such write to the key (as the Python binding's
    /// read cache does) may keep using the address between pins.
    pub fn get_ref<'g, Q>(&'g self, key: &Q, pinned: &'g Pinned) -> Option<&'g V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.lookup(key, &pinned.0).map(|e| &e.value)
    }

    /// Whether `key` is present.
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let section = read();
        self.lookup(key, &section).is_some()
    }

    /// Stores `value` under `key`, replacing any previous value.
    /// Returns `true` when the key was not present before.
    pub fn insert(&self, key: K, value: V) -> bool {
        let mut value = Some(value);
        self.compute_with(key, |old, spare| match spare.or_else(|| value.take()) {
            Some(v) => Compute::Insert(v, old.is_none()),
            None => unreachable!("a failed CAS hands the value back"),
        })
    }

    /// Stores `value` under `key` only if the key is absent.
    /// Returns `true` when it was stored.
    pub fn insert_new(&self, key: K, value: V) -> bool {
        let mut value = Some(value);
        self.compute_with(key, |old, spare| match old {
            Some(_) => Compute::Keep(false),
            None => match spare.or_else(|| value.take()) {
                Some(v) => Compute::Insert(v, true),
                None => unreachable!("a failed CAS hands the value back"),
            },
        })
    }

    /// Removes `key`. Returns `true` when it was present.
    pub fn remove<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.remove_with(key, |_| ()).is_some()
    }

    /// Removes `key` and returns its value.
    pub fn take<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        self.remove_with(key, V::clone)
    }

    /// Removes `key` and returns what `f` makes of its value. `f` runs once,
    /// on the value this call removed, after the removal took effect and
    /// while the thread is pinned (keep it short). For values with interior
    /// mutability, `f` can settle the value before reading it.
    pub fn take_with<Q, R>(&self, key: &Q, f: impl FnOnce(&V) -> R) -> Option<R>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.remove_with(key, f)
    }

    /// Removes `key`; `f` sees the removed value.
    fn remove_with<Q, R>(&self, key: &Q, f: impl FnOnce(&V) -> R) -> Option<R>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let guard = pin();
        let h = self.hashed(key);
        let part = &self.partitions[h.part];
        let mut t = self.settle(part, part.root(), h, &guard);
        loop {
            match t.locate(key, h) {
                Spot::Found { slot, word } if word & DELETED == 0 => {
                    if slot
                        .compare_exchange(word, word | DELETED, Ordering::AcqRel, Ordering::Acquire)
                        .is_ok()
                    {
                        let len = part.add_len(-1);
                        self.maybe_shrink(part, t, len, &guard);
                        // SAFETY: the entry stays linked (deleted) under our pin.
                        return Some(f(&unsafe { entry::<K, V>(word) }.value));
                    }
                }
                Spot::Found { .. } | Spot::Vacant { .. } | Spot::Full if !t.resizing() => return None,
                // Absent here, but a resize started: the key may be in `next`.
                _ => t = self.settle(part, t, h, &guard),
            }
        }
    }

    /// Atomic read-modify-write of one entry: `f` sees the current value
    /// (or `None`) and decides what to store. No other writer can change the
    /// entry between what `f` saw and what it decided. Under contention `f`
    /// may run more than once; exactly one run's decision takes effect and
    /// its `R` is returned, so `f` must not have side effects of its own.
    pub fn compute<R>(&self, key: K, mut f: impl FnMut(Option<&V>) -> Compute<V, R>) -> R {
        self.compute_with(key, |old, _| f(old))
    }

    /// [`Table::compute`] whose closure also gets back the value a failed
    /// CAS did not store, so it can reuse it instead of building a new one.
    fn compute_with<R>(&self, mut key: K, mut f: impl FnMut(Option<&V>, Option<V>) -> Compute<V, R>) -> R {
        let guard = pin();
        let h = self.hashed(&key);
        let part = &self.partitions[h.part];
        let root = part.root();
        let mut t = self.settle(part, root, h, &guard);
        let mut spare: Option<V> = None;
        loop {
            let spot = t.locate(&key, h);
            let (slot, word, old) = match spot {
                Spot::Frozen => {
                    t = self.settle(part, t, h, &guard);
                    continue;
                }
                Spot::Full => {
                    self.finish_before(part, t, &guard);
                    self.start_resize(part, t, Plan::Grow, &guard);
                    t = self.settle(part, t, h, &guard);
                    continue;
                }
                Spot::Found { slot, word } => {
                    // SAFETY: non-null, reachable under our pin.
                    let e = unsafe { entry::<K, V>(word) };
                    (Some(slot), word, (word & DELETED == 0).then_some(&e.value))
                }
                Spot::Vacant { .. } if t.resizing() => {
                    // Absent here, but a resize started: the key may be in `next`.
                    t = self.settle(part, t, h, &guard);
                    continue;
                }
                Spot::Vacant { .. } => (None, 0, None),
            };
            let (value, r) = match f(old, spare.take()) {
                Compute::Keep(r) => return r,
                Compute::Remove(r) => {
                    let (Some(slot), Some(_)) = (slot, old) else { return r };
                    if slot
                        .compare_exchange(word, word | DELETED, Ordering::AcqRel, Ordering::Acquire)
                        .is_ok()
                    {
                        let len = part.add_len(-1);
                        self.maybe_shrink(part, t, len, &guard);
                        return r;
                    }
                    continue;
                }
                Compute::Insert(v, r) => (v, r),
            };
            let bytes = entry_bytes(&key, &value);
            let new = Box::into_raw(Box::new(Entry { key, value }));
            let stored = match (spot, slot) {
                (_, Some(slot)) => {
                    slot.compare_exchange(word, new as usize, Ordering::AcqRel, Ordering::Acquire).is_ok()
                }
                (Spot::Vacant { group, lane, claim, .. }, None) => {
                    // Reached through a `next` from the root we started at:
                    // a resize target then (perhaps the root by now, which
                    // the root load below rules out; it is only paid when
                    // the target looks full).
                    let target = !std::ptr::eq(root, t);
                    let live = part.len();
                    if target
                        && (live >= t.max_live || (claim.is_some() && !t.room_for_fresh(live)))
                        && !std::ptr::eq(part.root(), t)
                    {
                        // Inserting into a table still being filled by a resize,
                        // and it is (nearly) full: finish that resize first so
                        // this one can grow in turn.
                        self.finish_before(part, t, &guard);
                        false
                    } else {
                        let claimed = match claim {
                            Some(ctrl) => group
                                .ctrl
                                .compare_exchange(
                                    ctrl,
                                    with_tag(ctrl, lane, h.tag),
                                    Ordering::AcqRel,
                                    Ordering::Acquire,
                                )
                                .is_ok(),
                            None => true,
                        };
                        if claimed && claim.is_some() && target {
                            t.count_lane();
                        }
                        claimed
                            && group.slots[lane]
                                .compare_exchange(0, new as usize, Ordering::AcqRel, Ordering::Acquire)
                                .is_ok()
                    }
                }
                _ => unreachable!("a slot is found or vacant here"),
            };
            if !stored {
                // SAFETY: `new` was never published.
                let Entry { key: k, value: v } = *unsafe { Box::from_raw(new) };
                key = k;
                spare = Some(v);
                continue;
            }
            let mut delta = bytes as isize;
            if word & PTR != 0 {
                let ptr = (word & PTR) as *mut Entry<K, V>;
                // SAFETY: our CAS unlinked the old entry; we alone retire it.
                let e = unsafe { &*ptr };
                let old_bytes = entry_bytes(&e.key, &e.value);
                delta -= old_bytes as isize;
                // SAFETY: as above.
                unsafe { self.garbage.retire(&guard, ptr, old_bytes) };
            }
            // Same-size replacements (counters, fixed-size values) skip the
            // shared counter altogether.
            if delta != 0 {
                part.add_bytes_signed(delta);
            }
            if old.is_none() {
                let len = part.add_len(1);
                let long = matches!(spot, Spot::Vacant { distance, .. } if distance > MAX_DISTANCE);
                if len as usize > t.max_live || long {
                    self.start_resize(part, t, Plan::Grow, &guard);
                }
            }
            return r;
        }
    }

    fn maybe_shrink(&self, part: &Partition<K, V>, t: &RawTable<K, V>, len: isize, guard: &Guard) {
        if t.len() > self.min_groups && (len.max(0) as usize) * 8 < t.len() * WIDTH {
            // Room for twice the live entries again (quarter load): the
            // shrunk table must also absorb the fresh keys inserted while
            // the copy is under way, and it shrinks again later if need be.
            let groups = self.target_groups(2 * len.max(0) as usize);
            // Small tables are shrunk in one go (a short scan of mostly empty
            // groups), so that a burst of deletes does not end with both
            // tables held; big ones shrink incrementally like a grow.
            if groups < t.len() && self.start_resize(part, t, Plan::Shrink, guard) && t.len() <= 1 << 14 {
                self.finish(part, t, guard);
            }
        }
    }

    /// Atomically adds `delta` to the counter under `key` (wrapping on
    /// overflow), starting from `default` when the key is absent. Returns the
    /// new value, or [`NotACounter`] (and changes nothing) when the stored
    /// value is not a counter.
    pub fn counter_add(&self, key: K, delta: i64, default: i64) -> Result<i64, NotACounter>
    where
        V: CounterValue,
    {
        self.compute(key, |old| {
            let base = match old {
                None => default,
                Some(v) => match v.as_counter() {
                    Some(n) => n,
                    None => return Compute::Keep(Err(NotACounter)),
                },
            };
            let n = base.wrapping_add(delta);
            Compute::Insert(V::from_counter(n), Ok(n))
        })
    }

    /// The number of entries. Exact when no writer runs concurrently.
    pub fn len(&self) -> usize {
        self.partitions.iter().map(Partition::len).sum()
    }

    /// Whether the table has no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every entry, shrinks every partition to its minimum size and
    /// flushes this thread's garbage. Entries inserted concurrently may stay.
    pub fn clear(&self) {
        let guard = pin();
        for part in self.partitions.iter() {
            loop {
                let t = part.root();
                if t.resizing() {
                    // Someone else's resize (or clear): finish it, then ours.
                    self.finish(part, t, &guard);
                } else if self.start_resize(part, t, Plan::Clear, &guard) {
                    self.finish(part, t, &guard);
                    break;
                }
            }
        }
        self.garbage.flush(&guard);
    }

    /// Completes every resize in progress, so that each partition holds a
    /// single slot array again, and flushes this thread's garbage.
    ///
    /// Writers finish a resize a few groups at a time as they write, and
    /// readers never write, so a bulk load that stops while partitions are
    /// growing leaves them holding both arrays for as long as no more writes
    /// reach them: misses then probe two arrays, and the old one's memory
    /// stays held. Call this after a bulk load. It copies what is left (time
    /// proportional to it: milliseconds for millions of entries) and is safe
    /// to call at any time, concurrently with any operation.
    pub fn finish_resizes(&self) {
        let guard = pin();
        for part in self.partitions.iter() {
            loop {
                let t = part.root();
                if !t.resizing() {
                    break;
                }
                self.finish(part, t, &guard);
            }
        }
        self.garbage.flush(&guard);
    }

    /// Bytes held by the entries (keys, values and what they own on the heap)
    /// plus the table's own slots and groups.
    pub fn memory_bytes(&self) -> usize {
        let _section = read();
        let mut total = size_of::<Self>() + self.partitions.len() * size_of::<Partition<K, V>>();
        for part in self.partitions.iter() {
            total += part.stats.bytes.load(Ordering::Relaxed).max(0) as usize;
            let mut t: *const RawTable<K, V> = part.root();
            while !t.is_null() {
                // SAFETY: reached from the root in our section.
                let r = unsafe { &*t };
                total += r.bytes();
                t = r.next();
            }
        }
        total
    }

    /// A cursor over clones of the entries, in hash order. Safe under
    /// concurrent writes: each entry present for the whole iteration is seen
    /// exactly once; entries added or removed meanwhile may or may not be.
    /// It pins only while it collects a short batch, never between calls,
    /// and carries its place as a hash position, so resizes between batches
    /// do not disturb it. A partition whose resize is still in progress when
    /// the cursor reaches it is finished first (the cursor helps copy).
    pub fn iter(&self) -> Iter<'_, K, V, S>
    where
        K: Clone,
        V: Clone,
    {
        Iter::new(self)
    }
}

impl<K, V, S> Drop for Table<K, V, S> {
    fn drop(&mut self) {
        for part in self.partitions.iter() {
            let mut t = part.root.load(Ordering::Relaxed);
            while !t.is_null() {
                // SAFETY: `&mut self`: no other thread reaches these tables;
                // each table of the chain is owned by the partition.
                let table = unsafe { Box::from_raw(t) };
                for g in 0..table.len() {
                    for slot in &table.group(g).slots {
                        let word = slot.load(Ordering::Relaxed);
                        // Frozen slots gave their entry to the next table (or
                        // retired it); every other pointer is owned here.
                        if word & PTR != 0 && word & group::FROZEN == 0 {
                            // SAFETY: owned by this slot alone, see above.
                            drop(unsafe { Box::from_raw((word & PTR) as *mut Entry<K, V>) });
                        }
                    }
                }
                // A resize still being sized has no target to free.
                t = table.next.target_at_drop();
            }
        }
    }
}

#[cfg(test)]
mod tests;
