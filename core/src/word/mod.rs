//! [`WordTable`]: the partitioned lock-free table for word-sized `Copy` keys
//! and values, stored inline.
//!
//! Same architecture as [`crate::Table`] (partitions by the high hash bits,
//! SwissTable-style groups of tag bytes, incremental cooperative resizes),
//! but a lane holds its key word and a
//! 16-byte `(state, value)` pair instead of a pointer to a boxed entry: a hit
//! reads one group and nothing else, writes never allocate, and an update or
//! counter add is one 16-byte CAS in place. See [`slot`] for the lane states.
//!
//! Old group arrays are the only memory a word table retires (one per
//! completed resize), so operations are protected by `crate::quiesce`
//! reader sections (a plain store to a thread-owned line) rather than epoch
//! pins, and the rare retirement pays for a process-wide barrier instead.

mod bits;
mod iter;
mod probe;
mod raw;
mod resize;
mod slot;

use std::hash::BuildHasher;
use std::marker::PhantomData;
use std::mem::size_of;

use crossbeam_utils::CachePadded;

pub use bits::Word;
pub use iter::WordIter;

use probe::{claim, Claim, Find, Hashed, Spot};
use raw::{Plan, RawTable};
use slot::{FROZEN, KEYED, LIVE, WIDTH};

use crate::primitive::{AtomicIsize, AtomicPtr, Ordering};
use crate::quiesce::Retired;

/// A reader section of one operation, which may retire old tables.
type Guard<'t> = crate::quiesce::Guard<'t, RawTable>;
use crate::{Compute, TableOptions};

/// Probes longer than this many groups make the partition rehash. Big
/// tables of 5-lane groups have clusters of 16+ groups at 3/4 load by
/// chance alone; this only catches runs that removed keys' lanes cause.
const MAX_DISTANCE: usize = 48;

/// One partition: its table root and its entry count, each on its own line
/// so that readers of the root never share a line with writers' counts.
pub(crate) struct Partition {
    root: CachePadded<AtomicPtr<RawTable>>,
    len: CachePadded<AtomicIsize>,
}

impl Partition {
    fn new(groups: usize) -> Self {
        Partition {
            root: CachePadded::new(AtomicPtr::new(Box::into_raw(RawTable::new(groups, false, 0)))),
            len: CachePadded::new(AtomicIsize::new(0)),
        }
    }

    /// The current root table.
    #[inline]
    fn root<'g>(&self) -> &'g RawTable {
        // SAFETY: callers are in a section (every public entry point enters
        // one first); a root is retired only after it is replaced, and freed
        // only after the sections that may have seen it end.
        unsafe { &*self.root.load(Ordering::Acquire) }
    }

    fn add_len(&self, d: isize) -> isize {
        self.len.fetch_add(d, Ordering::Relaxed) + d
    }

    fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed).max(0) as usize
    }
}

/// Values that act as 64-bit wrapping counters ([`WordTable::counter_add`]).
pub trait WordCounter: Word {}

impl WordCounter for i64 {}
impl WordCounter for u64 {}

/// A concurrent hash table of word-sized `Copy` keys and values ([`Word`]:
/// integers, `bool`, `char`, floats), stored inline in the table's groups.
///
/// The same guarantees as [`crate::Table`]: lookups never lock or write
/// the table's memory; every update is a CAS (16 bytes here); resizes are
/// incremental, with writers helping; partitions are cache-padded and grow
/// and shrink on their own. Unlike `Table`, no operation allocates except a
/// resize, and keys compare by their bits ([`Word`]). All methods take
/// `&self`: share the table with `Arc`.
///
/// Memory safety under concurrent resizes costs an operation one plain
/// store to a cache line its own thread owns (no epoch pin, no atomic
/// read-modify-write); the resize that retires an old group array pays
/// instead, with a Linux `membarrier` call ([`WordTable::uses_membarrier`]
/// tells which scheme the process uses).
pub struct WordTable<K, V, S = foldhash::fast::RandomState> {
    partitions: Box<[Partition]>,
    hasher: S,
    /// log2 of the partition count.
    part_bits: u32,
    min_groups: usize,
    /// Old tables waiting for the readers that may still see them.
    retired: Retired<RawTable>,
    _types: PhantomData<fn() -> (K, V)>,
}

impl<K: Word, V: Word> WordTable<K, V> {
    /// An empty table with default options.
    pub fn new() -> Self {
        Self::with_options(TableOptions::default())
    }

    /// An empty table laid out by `options`.
    pub fn with_options(options: TableOptions) -> Self {
        Self::with_options_and_hasher(options, foldhash::fast::RandomState::default())
    }
}

impl<K: Word, V: Word> Default for WordTable<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Word, V: Word, S: BuildHasher> WordTable<K, V, S> {
    /// An empty table laid out by `options`, hashing keys (their
    /// [`Word::to_bits`]) with `hasher`.
    pub fn with_options_and_hasher(options: TableOptions, hasher: S) -> Self {
        let n = options.resolved_partitions();
        let min_groups = if cfg!(loom) { 1 } else { 2 };
        let per = options.capacity.div_ceil(n);
        // Room below the grow threshold for `per` entries plus four standard
        // deviations of how unevenly keys spread over partitions.
        let per = per + 4 * per.isqrt();
        let groups = (per * 4).div_ceil(WIDTH * 3).max(min_groups);
        let partitions = (0..n).map(|_| Partition::new(groups)).collect();
        WordTable {
            partitions,
            hasher,
            part_bits: n.trailing_zeros(),
            min_groups,
            retired: Retired::default(),
            _types: PhantomData,
        }
    }

    /// Whether this process protects word-table readers with the light
    /// scheme: a compiler fence per operation, paid for by a Linux
    /// `membarrier` on each (rare) retirement of an old table. `false` means
    /// the fallback, a `fence(SeqCst)` per operation: not Linux, the kernel
    /// refused the registration, or `FERRETS_NO_MEMBARRIER=1` was set
    /// before the first word-table operation. Decided once per process.
    pub fn uses_membarrier() -> bool {
        crate::quiesce::uses_membarrier()
    }

    /// The number of partitions (a power of two).
    pub fn partitions(&self) -> usize {
        self.partitions.len()
    }

    #[inline]
    fn hashed(&self, key: u64) -> Hashed {
        let h = self.hasher.hash_one(key);
        // Partition from the top bits, home group from the bits below them,
        // tag from the lowest 7: independent bits at every level.
        let part = crate::ctrl::top_bits(h, self.part_bits);
        Hashed { part, pos: h << self.part_bits, tag: slot::tag_of(h) }
    }

    /// The partition of a hashed key.
    #[inline(always)]
    fn partition(&self, h: Hashed) -> &Partition {
        debug_assert!(h.part < self.partitions.len());
        // SAFETY: `h.part` is the top `part_bits` bits of a hash, below
        // `2^part_bits`, the partition count.
        unsafe { self.partitions.get_unchecked(h.part) }
    }

    /// Enters a reader section for one operation (see `crate::quiesce`).
    #[inline]
    fn pin(&self) -> Guard<'_> {
        Guard::new(&self.retired)
    }

    /// Enters a section for a read-only operation.
    #[inline]
    fn read(&self) -> crate::quiesce::Reading<'_, RawTable> {
        crate::quiesce::Reading::new(&self.retired)
    }

    /// Reader lookup of a key's value bits: loads only, and no code of the
    /// caller's (`Word`, `BuildHasher`) runs in it, so it cannot unwind.
    /// The caller is in a section ([`Self::pin`] or [`Self::read`], or
    /// `quiesce::read_with`).
    #[inline]
    fn lookup(&self, key: u64, h: Hashed) -> Option<u64> {
        let mut t = self.partition(h).root();
        loop {
            if let Find::Hit(v) = t.find(key, h) {
                return Some(v);
            }
            let next = t.next();
            if next.is_null() {
                return None;
            }
            // SAFETY: reached from the root in our section; retired only
            // after the root moves past it, and freed after our section.
            t = unsafe { &*next };
        }
    }

    /// The value stored under `key`.
    #[inline]
    pub fn get(&self, key: K) -> Option<V> {
        // The key's bits and hash (user code: `Word`, the hasher) in the
        // section's `prepare`, where a panic still ends the section.
        let prepare = || {
            let key = key.to_bits();
            (key, self.hashed(key))
        };
        crate::quiesce::read_with(&self.retired, prepare, |(key, h)| self.lookup(key, h)).map(V::from_bits)
    }

    /// Whether `key` is present.
    #[inline]
    pub fn contains_key(&self, key: K) -> bool {
        let prepare = || {
            let key = key.to_bits();
            (key, self.hashed(key))
        };
        crate::quiesce::read_with(&self.retired, prepare, |(key, h)| self.lookup(key, h)).is_some()
    }

    /// Stores `value` under `key`, replacing any previous value.
    /// Returns `true` when the key was not present before.
    #[inline]
    pub fn insert(&self, key: K, value: V) -> bool {
        self.compute(key, |old| Compute::Insert(value, old.is_none()))
    }

    /// Stores `value` under `key` only if the key is absent.
    /// Returns `true` when it was stored.
    #[inline]
    pub fn insert_new(&self, key: K, value: V) -> bool {
        self.compute(key, |old| match old {
            Some(_) => Compute::Keep(false),
            None => Compute::Insert(value, true),
        })
    }

    /// Removes `key`. Returns `true` when it was present.
    #[inline]
    pub fn remove(&self, key: K) -> bool {
        self.take(key).is_some()
    }

    /// Removes `key` and returns its value.
    #[inline]
    pub fn take(&self, key: K) -> Option<V> {
        let guard = self.pin();
        let key = key.to_bits();
        let h = self.hashed(key);
        let part = self.partition(h);
        let root = part.root();
        // Fast path: no resize is copying the root, so the key's lane there
        // (if any) is the key's only one. A resize that starts meanwhile
        // freezes the lane by a CAS, which makes ours fail.
        if !root.resizing() {
            match root.keyed(key, h) {
                Some((group, lane, pair)) if pair.0 & FROZEN == 0 => {
                    if pair.0 & LIVE == 0 {
                        return None;
                    }
                    if group.pairs[lane].compare_exchange(pair, (KEYED, 0)).is_ok() {
                        let len = part.add_len(-1);
                        self.maybe_shrink(part, root, len, &guard);
                        return Some(V::from_bits(pair.1));
                    }
                }
                // Absent when the root was seen not resizing (lanes never
                // leave a table, so a key present then would be found).
                None => return None,
                Some(_) => {}
            }
        }
        self.take_slow(part, key, h, &guard)
    }

    /// [`Self::take`] through the general probe: resizes, claims in
    /// flight, lost races.
    #[inline(never)]
    fn take_slow(&self, part: &Partition, key: u64, h: Hashed, guard: &Guard<'_>) -> Option<V> {
        let mut t = self.settle(part, part.root(), h, guard);
        loop {
            match t.locate(key, h) {
                Spot::Found { group, lane, pair } if pair.0 & LIVE != 0 => {
                    if group.pairs[lane].compare_exchange(pair, (KEYED, 0)).is_ok() {
                        let len = part.add_len(-1);
                        self.maybe_shrink(part, t, len, guard);
                        return Some(V::from_bits(pair.1));
                    }
                }
                Spot::Found { .. } | Spot::Vacant { .. } | Spot::Full if !t.resizing() => return None,
                // Absent here, but a resize started: the key may be in `next`.
                _ => t = self.settle(part, t, h, guard),
            }
        }
    }

    /// Atomic read-modify-write of one entry: `f` sees the current value
    /// (or `None`) and decides what to store. No other writer can change the
    /// entry between what `f` saw and what it decided. Under contention `f`
    /// may run more than once; exactly one run's decision takes effect and
    /// its `R` is returned, so `f` must not have side effects of its own.
    #[inline]
    pub fn compute<R>(&self, key: K, mut f: impl FnMut(Option<V>) -> Compute<V, R>) -> R {
        let guard = self.pin();
        let key = key.to_bits();
        let h = self.hashed(key);
        let part = self.partition(h);
        let root = part.root();
        // Fast path: the key's lane in a root no resize is copying (as in
        // `take`), one CAS. Anything else, or a lost CAS, takes the general
        // path, which runs `f` again (as a retry would).
        if !root.resizing() {
            if let Some((group, lane, pair)) = root.keyed(key, h) {
                if pair.0 & FROZEN == 0 {
                    let old = (pair.0 & LIVE != 0).then(|| V::from_bits(pair.1));
                    let (to, r) = match f(old) {
                        Compute::Keep(r) => return r,
                        Compute::Remove(r) if old.is_none() => return r,
                        Compute::Remove(r) => ((KEYED, 0), r),
                        Compute::Insert(v, r) => ((KEYED | LIVE, v.to_bits()), r),
                    };
                    if group.pairs[lane].compare_exchange(pair, to).is_ok() {
                        if old.is_none() {
                            if part.add_len(1) as usize > root.max_live {
                                self.start_resize(part, root, Plan::Grow, &guard);
                            }
                        } else if to.0 == KEYED {
                            let len = part.add_len(-1);
                            self.maybe_shrink(part, root, len, &guard);
                        }
                        return r;
                    }
                }
            }
        }
        self.compute_slow(part, key, h, &mut f, &guard)
    }

    /// [`Self::compute`] through the general probe: resizes, new lanes,
    /// claims in flight, lost races.
    #[inline(never)]
    fn compute_slow<R>(
        &self,
        part: &Partition,
        key: u64,
        h: Hashed,
        f: &mut impl FnMut(Option<V>) -> Compute<V, R>,
        guard: &Guard<'_>,
    ) -> R {
        let mut t = self.settle(part, part.root(), h, guard);
        // What a failed CAS on the key's lane returned: the lane is the key's
        // for good, so a retry can start from it instead of probing again.
        let mut seen = None;
        loop {
            let spot = seen.take().unwrap_or_else(|| t.locate(key, h));
            let old = match spot {
                Spot::Found { pair, .. } => (pair.0 & LIVE != 0).then(|| V::from_bits(pair.1)),
                Spot::Vacant { .. } if !t.resizing() => None,
                Spot::Full => {
                    self.finish_before(part, t, guard);
                    self.start_resize(part, t, Plan::Full, guard);
                    t = self.settle(part, t, h, guard);
                    continue;
                }
                // Frozen, or absent here while a resize started (the key
                // may be in `next`): move on.
                _ => {
                    t = self.settle(part, t, h, guard);
                    continue;
                }
            };
            let (value, r) = match f(old) {
                Compute::Keep(r) => return r,
                Compute::Remove(r) => {
                    let (Spot::Found { group, lane, pair }, Some(_)) = (spot, old) else { return r };
                    match group.pairs[lane].compare_exchange(pair, (KEYED, 0)) {
                        Ok(()) => {
                            let len = part.add_len(-1);
                            self.maybe_shrink(part, t, len, guard);
                            return r;
                        }
                        Err(now) => seen = retry_from(group, lane, now),
                    }
                    continue;
                }
                Compute::Insert(v, r) => (v.to_bits(), r),
            };
            match spot {
                Spot::Found { group, lane, pair } => {
                    if let Err(now) = group.pairs[lane].compare_exchange(pair, (KEYED | LIVE, value)) {
                        seen = retry_from(group, lane, now);
                        continue;
                    }
                    if old.is_some() {
                        return r;
                    }
                    let len = part.add_len(1);
                    if len as usize > t.max_live {
                        self.start_resize(part, t, Plan::Grow, guard);
                    }
                    return r;
                }
                Spot::Vacant { group, lane, claim: ctrl, distance } => {
                    if !std::ptr::eq(part.root(), t)
                        && (part.len() >= t.max_live
                            || t.migration.claims.fetch_add(1, Ordering::Relaxed) >= t.room)
                    {
                        // A new lane in a table still being filled by a resize,
                        // past what it can spare: finish that resize first, so
                        // that this one can grow or rehash in turn.
                        self.finish_before(part, t, guard);
                        continue;
                    }
                    let Claim::Stored(fresh) = claim(group, lane, ctrl, h.tag, key, value) else { continue };
                    let len = part.add_len(1) as usize;
                    if len > t.max_live {
                        self.start_resize(part, t, Plan::Grow, guard);
                    } else if distance > MAX_DISTANCE {
                        self.start_resize(part, t, Plan::Rehash, guard);
                    } else if fresh && t.count_lane() > t.max_live {
                        // Few live entries but many lanes kept by removed
                        // keys: probes lengthen, so rebuild without them.
                        self.start_resize(part, t, Plan::Reclaim, guard);
                    }
                    return r;
                }
                Spot::Frozen | Spot::Full => unreachable!("handled above"),
            }
        }
    }

    /// After a remove left `len` entries in `t`: shrinks it when it is
    /// under an eighth full (the check inline, the shrink not).
    #[inline]
    fn maybe_shrink(&self, part: &Partition, t: &RawTable, len: isize, guard: &Guard<'_>) {
        let len = len.max(0) as usize;
        if t.len() > self.min_groups && len * 8 < t.len() * WIDTH {
            self.shrink(part, t, len, guard);
        }
    }

    /// Shrinks `t`, holding `len` entries, if a smaller table would do.
    #[cold]
    #[inline(never)]
    fn shrink(&self, part: &Partition, t: &RawTable, len: usize, guard: &Guard<'_>) {
        // Room for twice the live entries again (quarter load): the shrunk
        // table must also absorb the fresh keys inserted while the copy is
        // under way, and it shrinks again later if need be.
        let groups = self.target_groups(2 * len);
        // Small tables are shrunk in one go (a short scan of mostly empty
        // groups), so that a burst of deletes does not end with both tables
        // held; big ones shrink incrementally like a grow.
        if groups < t.len() && self.start_resize(part, t, Plan::Shrink, guard) && t.len() <= 1 << 13 {
            self.finish(part, t, guard);
        }
    }

    /// Atomically adds `delta` to the counter under `key` (wrapping), starting
    /// from `default` when the key is absent; returns the new value. An
    /// update is one 16-byte CAS in place. For `u64` values the result is the
    /// same bits read as `i64`.
    #[inline]
    pub fn counter_add(&self, key: K, delta: i64, default: i64) -> i64
    where
        V: WordCounter,
    {
        self.compute(key, |old| {
            let base = old.map_or(default, |v| v.to_bits() as i64);
            let n = base.wrapping_add(delta);
            Compute::Insert(V::from_bits(n as u64), n)
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

    /// Removes every entry and shrinks every partition to its minimum size.
    /// Entries inserted concurrently may stay.
    pub fn clear(&self) {
        let guard = self.pin();
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
    }

    /// Completes every resize in progress, so that each partition holds a
    /// single group array again.
    ///
    /// Writers finish a resize a few groups at a time as they write, and
    /// readers never write, so a bulk load that stops while partitions are
    /// growing leaves them holding both arrays for as long as no more writes
    /// reach them: misses then probe two arrays, and the old one's memory
    /// stays held. Since keys spread evenly, partitions grow at about the
    /// same time, and a load that stops then can hold ~1.6x the memory of a
    /// settled table. Call this after a bulk load. It copies what is left
    /// (time proportional to it: milliseconds for millions of entries) and
    /// is safe to call at any time, concurrently with any operation.
    pub fn finish_resizes(&self) {
        let guard = self.pin();
        for part in self.partitions.iter() {
            loop {
                let t = part.root();
                if !t.resizing() {
                    break;
                }
                self.finish(part, t, &guard);
            }
        }
    }

    /// Bytes held: the table's partitions and every group array it links
    /// (entries live inside the groups).
    pub fn memory_bytes(&self) -> usize {
        let _section = self.read();
        let mut total = size_of::<Self>() + self.partitions.len() * size_of::<Partition>();
        for part in self.partitions.iter() {
            let mut t: *const RawTable = part.root();
            while !t.is_null() {
                // SAFETY: reached from the root in our section.
                let r = unsafe { &*t };
                total += r.bytes();
                t = r.next();
            }
        }
        total
    }

    /// A cursor over the entries, in hash order. Safe under concurrent
    /// writes: each entry present for the whole iteration is seen exactly
    /// once; entries added or removed meanwhile may or may not be. It holds a
    /// reader section only while it collects a short batch, and carries its place as a hash
    /// position, so resizes between batches do not disturb it. A partition
    /// whose resize is in progress when the cursor reaches it is finished
    /// first (the cursor helps copy).
    pub fn iter(&self) -> WordIter<'_, K, V, S> {
        WordIter::new(self)
    }
}

/// The spot to retry from after a CAS on the key's lane failed and found
/// `now` there: the same lane unless a resize froze it.
#[inline]
fn retry_from(group: &slot::Group, lane: usize, now: (u64, u64)) -> Option<Spot<'_>> {
    (now.0 & slot::FROZEN == 0).then_some(Spot::Found { group, lane, pair: now })
}

impl<K, V, S> Drop for WordTable<K, V, S> {
    fn drop(&mut self) {
        for part in self.partitions.iter() {
            let mut t = part.root.load(Ordering::Relaxed);
            while !t.is_null() {
                // SAFETY: `&mut self`: no other thread reaches these tables;
                // each table of the chain is owned by the partition.
                let table = unsafe { Box::from_raw(t) };
                // A resize still being sized has no target to free.
                t = table.next.target_at_drop();
            }
        }
    }
}

#[cfg(test)]
mod tests;
