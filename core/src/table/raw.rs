//! One open-addressing array of groups (a partition's current table, or the
//! table a resize copies it into) and the entries its slots point to.

use std::marker::PhantomData;
use std::mem::size_of;

use crossbeam_utils::CachePadded;

use super::group::{Group, WIDTH};
use crate::groups::alloc_groups;
use crate::next::Next;
use crate::primitive::AtomicUsize;

/// A key and its value, boxed so slots are one word and a resize moves
/// pointers, never entries. 8-aligned so slot words have three tag bits.
#[repr(C, align(8))]
pub(crate) struct Entry<K, V> {
    pub(crate) key: K,
    pub(crate) value: V,
}

impl<K, V> Entry<K, V> {
    /// Requests the lines of the entry at `ptr` after the one it starts in
    /// (its value, when the entry straddles a line boundary), so that their
    /// misses overlap the miss of the first line, which the key compare
    /// waits for. A cold read then pays one dependent miss for the entry
    /// instead of two. Only a hint: it never faults, even on a bad address.
    #[inline(always)]
    pub(crate) fn prefetch_rest(ptr: usize) {
        #[cfg(all(target_arch = "x86_64", not(loom)))]
        {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            // Stepping 64 bytes from `ptr` enters each following line once,
            // and the last byte's line ends the entry: a constant number of
            // hints, with no branch on the offset (a hint for a line already
            // requested costs nothing). Addresses wrap instead of overflowing.
            let n = size_of::<Self>();
            let mut off = 64;
            while off < n {
                // SAFETY: a prefetch is a hint that never faults or writes memory.
                unsafe { _mm_prefetch::<_MM_HINT_T0>(ptr.wrapping_add(off) as *const i8) };
                off += 64;
            }
            if n > 1 {
                // SAFETY: as above.
                unsafe { _mm_prefetch::<_MM_HINT_T0>(ptr.wrapping_add(n - 1) as *const i8) };
            }
        }
        #[cfg(not(all(target_arch = "x86_64", not(loom))))]
        let _ = ptr;
    }
}

/// What a resize builds, decided when it starts and applied to the live
/// count once writers have stopped adding keys to the source (see
/// `crate::next`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Plan {
    /// Room for the live entries at half load (a grow, or a rehash of a
    /// table full of removed keys' lanes).
    Grow,
    /// Room for twice the live entries at half load.
    Shrink,
    /// An empty minimum table that drops what is copied into it.
    Clear,
}

impl Plan {
    /// Every plan, indexed by its number in the `next` link.
    pub(crate) const ALL: [Plan; 3] = [Plan::Grow, Plan::Shrink, Plan::Clear];
}

/// Resize progress of a table that has a `next` (kept off the readers' line).
#[derive(Default)]
pub(crate) struct Migration {
    /// Next chunk of groups to hand to a helper.
    pub(crate) claimed: AtomicUsize,
    /// Chunks fully copied.
    pub(crate) done: AtomicUsize,
    /// Lanes claimed in this table while it was the target of a resize
    /// (by copies and by writers), see [`RawTable::room_for_fresh`]. Only a
    /// Relaxed sizing bound ([`LANE_MARGIN`] absorbs a stale count); it
    /// orders no memory, so it is a std atomic even under loom: exploring
    /// its interleavings made the same-key model 20x slower and checks
    /// nothing.
    pub(crate) lanes: std::sync::atomic::AtomicUsize,
}

/// Lanes a resize target keeps free beyond the live count, for the entries
/// that writers racing the start of the resize may still add to its source
/// and for the lag of the partition's live counter. Under loom (2-lane
/// groups, one- and two-group tables, at most three threads) one lane per
/// thread: the full margin would exceed every target there, so every insert
/// would first finish the resize and the models would never see a writer
/// claim a lane in a target (and ran 10-20x longer).
const LANE_MARGIN: usize = if cfg!(loom) { 3 } else { 2 * WIDTH };

/// Groups copied per help step: 14 slots, about a microsecond per writer.
pub(crate) const CHUNK: usize = if cfg!(loom) { 1 } else { 2 };

/// An array of groups.
pub(crate) struct RawTable<K, V> {
    groups: Box<[Group]>,
    /// log2 of the group count.
    bits: u32,
    /// Live entries above which the partition grows.
    pub(crate) max_live: usize,
    /// The table a resize copies this one into (see `crate::next`).
    pub(crate) next: Next<RawTable<K, V>>,
    /// This table is the target of a `clear`: copying into it drops instead.
    pub(crate) drops_prev: bool,
    pub(crate) migration: CachePadded<Migration>,
    _entries: PhantomData<Entry<K, V>>,
}

impl<K, V> RawTable<K, V> {
    /// A table of `groups` (a power of two) empty groups.
    pub(crate) fn new(groups: usize, drops_prev: bool) -> Box<Self> {
        debug_assert!(groups.is_power_of_two());
        Box::new(RawTable {
            groups: alloc_groups(groups),
            bits: groups.trailing_zeros(),
            max_live: groups * WIDTH * 3 / 4,
            next: Next::new(),
            drops_prev,
            migration: CachePadded::new(Migration::default()),
            _entries: PhantomData,
        })
    }

    /// Number of groups.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.groups.len()
    }

    /// The group at `i` (taken modulo the group count).
    #[inline]
    pub(crate) fn group(&self, i: usize) -> &Group {
        // Masking keeps the index in bounds, so the check folds away.
        &self.groups[i & (self.groups.len() - 1)]
    }

    /// The home group of a position (the hash bits after the partition's).
    /// Uses the top bits, so doubling a table maps group `g` to `2g`/`2g+1`:
    /// iteration order by position survives resizes.
    #[inline]
    pub(crate) fn home(&self, pos: u64) -> usize {
        crate::ctrl::top_bits(pos, self.bits)
    }

    /// The first position of group `g`, or `None` past the end.
    pub(crate) fn start_of(&self, g: usize) -> Option<u64> {
        let p = (g as u128) << (64 - self.bits);
        u64::try_from(p).ok()
    }

    /// The table a resize is copying this one into, once it exists (null
    /// before a resize starts and while its target is being sized: nothing
    /// has been copied then).
    #[inline]
    pub(crate) fn next(&self) -> *mut RawTable<K, V> {
        self.next.target()
    }

    /// Whether a resize of this table has started (its target may still be
    /// being sized). From then on no writer adds a key to this table.
    #[inline]
    pub(crate) fn resizing(&self) -> bool {
        self.next.started()
    }

    /// Bytes of the table itself (not the entries).
    pub(crate) fn bytes(&self) -> usize {
        size_of::<Self>() + self.groups.len() * size_of::<Group>()
    }

    /// Whether a writer may claim a never-claimed lane of this table while
    /// it is the target of a resize, with `live` live entries in the
    /// partition: only if the lanes left then still hold every entry the
    /// copy may bring (at most `live`, plus [`LANE_MARGIN`]). Lanes, once
    /// claimed, stay claimed until the next resize, and removed keys keep
    /// theirs, so without this bound writers churning through many keys
    /// could fill a target (a shrink's especially) before the copy into it
    /// is done, leaving the copy nowhere to go. A writer refused here
    /// finishes the copy first; the table is then the root and grows or
    /// rehashes like any other.
    pub(crate) fn room_for_fresh(&self, live: usize) -> bool {
        self.migration.lanes.load(std::sync::atomic::Ordering::Relaxed) + live + LANE_MARGIN
            < self.groups.len() * WIDTH
    }

    /// Records a lane claimed while this table is a resize target.
    pub(crate) fn count_lane(&self) {
        self.migration.lanes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Chunks a resize hands out.
    pub(crate) fn chunks(&self) -> usize {
        self.groups.len().div_ceil(CHUNK)
    }
}
