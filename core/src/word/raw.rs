//! One open-addressing array of groups: a partition's current table, or
//! the table a resize copies it into.

use std::mem::size_of;

use crossbeam_utils::CachePadded;

use super::slot::{Group, WIDTH};
use crate::groups::alloc_groups;
use crate::next::Next;
use crate::primitive::AtomicUsize;
#[cfg(debug_assertions)]
use crate::primitive::Ordering;

/// What a resize builds, decided when it starts and applied to the live
/// count once writers have stopped adding keys to the source (see
/// `crate::next`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Plan {
    /// Room for the live entries ([`crate::WordTable`]'s `target_groups`).
    Grow,
    /// A rehash forced by a long probe (`rehash_groups`).
    Rehash,
    /// A rehash of a table with every lane taken: never into fewer lanes.
    Full,
    /// A rebuild without removed keys' lanes (`reclaim_groups`).
    Reclaim,
    /// Room for twice the live entries.
    Shrink,
    /// An empty minimum table that drops what is copied into it.
    Clear,
}

impl Plan {
    /// Every plan, indexed by its number in the `next` link.
    pub(crate) const ALL: [Plan; 6] =
        [Plan::Grow, Plan::Rehash, Plan::Full, Plan::Reclaim, Plan::Shrink, Plan::Clear];
}

/// Resize progress of a table that has a `next` (kept off the readers' lines).
#[derive(Default)]
pub(crate) struct Migration {
    /// Next chunk of groups to hand to a helper.
    pub(crate) claimed: AtomicUsize,
    /// Chunks fully copied.
    pub(crate) done: AtomicUsize,
    /// Lanes writers claimed in this table while a resize was filling it.
    pub(crate) claims: AtomicUsize,
    /// Lanes claimed in this table for good (control bytes set): by the
    /// copies of the resize that filled it (counted in advance as the live
    /// entries when it started, so copies pay no extra write) and by
    /// writers since. It covers removed keys' lanes, which the live count
    /// misses, and probe lengths follow it. Only a Relaxed rehash trigger
    /// that orders no memory, so a std atomic even under loom (exploring it
    /// would only slow the models).
    pub(crate) lanes: std::sync::atomic::AtomicUsize,
}

/// Groups copied per help step: 15 lanes, well under a microsecond.
pub(crate) const CHUNK: usize = if cfg!(loom) { 1 } else { 3 };

/// Live entries above which a table grows: 3/4 of its lanes. Removed keys
/// keep their lanes and a miss probes until a group with a never-claimed
/// lane, so 5-lane groups need this slack to keep misses short.
pub(crate) fn max_live(groups: usize) -> usize {
    groups * WIDTH * 3 / 4
}

/// Group count that holds `live` entries at half load (a grow by 1.5x from
/// the 3/4 threshold).
pub(crate) fn groups_for(live: usize) -> usize {
    (live * 2).div_ceil(WIDTH)
}

/// An array of groups. Any group count (not only powers of two): the home
/// group is a multiply-shift of the hash position, so sizes can follow the
/// entry count closely.
pub(crate) struct RawTable {
    groups: Box<[Group]>,
    /// Live entries above which the partition grows.
    pub(crate) max_live: usize,
    /// The table a resize copies this one into (see `crate::next`).
    pub(crate) next: Next<RawTable>,
    /// This table is the target of a `clear`: copying into it drops instead.
    pub(crate) drops_prev: bool,
    /// Lanes writers may claim while a resize fills this table: what its
    /// grow threshold leaves after the entries the resize copies. Past it
    /// they finish the resize first, so a copy always finds a free lane
    /// (removed keys keep their lanes, so the live count alone is no bound).
    pub(crate) room: usize,
    pub(crate) migration: CachePadded<Migration>,
    /// Debug builds: [`ALIVE`] until dropped, so that a reader reaching a
    /// freed table (a reclamation bug) fails an assertion.
    #[cfg(debug_assertions)]
    canary: AtomicUsize,
}

/// The canary of a table not freed yet.
#[cfg(debug_assertions)]
const ALIVE: usize = 0x0a11_7e57;

impl RawTable {
    /// A table of `groups` (at least 1) empty groups, into which a resize
    /// will copy `copies` entries at most.
    pub(crate) fn new(groups: usize, drops_prev: bool, copies: usize) -> Box<Self> {
        debug_assert!(groups >= 1);
        let copied = if drops_prev { 0 } else { copies };
        Box::new(RawTable {
            groups: alloc_groups(groups),
            max_live: max_live(groups),
            next: Next::new(),
            drops_prev,
            room: max_live(groups).saturating_sub(copied),
            migration: CachePadded::new(Migration { lanes: copied.into(), ..Migration::default() }),
            #[cfg(debug_assertions)]
            canary: AtomicUsize::new(ALIVE),
        })
    }

    /// Debug builds: checks that this table was not freed (see `canary`).
    #[inline(always)]
    pub(crate) fn check_alive(&self) {
        #[cfg(debug_assertions)]
        assert_eq!(self.canary.load(Ordering::Relaxed), ALIVE, "word table: a freed group array was read");
    }

    /// Number of groups.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.groups.len()
    }

    /// Every group, in probe order.
    #[inline(always)]
    pub(crate) fn groups(&self) -> &[Group] {
        &self.groups
    }

    /// The group at `i`, for `i < 2 * len()` (probes wrap around once).
    #[inline]
    pub(crate) fn group(&self, i: usize) -> &Group {
        let n = self.groups.len();
        debug_assert!(i < 2 * n);
        let i = if i >= n { i - n } else { i };
        // SAFETY: `i < 2n` (callers probe at most `n` groups from a home
        // below `n`), so the wrapped index is below `n`. Unchecked so that
        // lookups have no panic path (and no unwind pad keeping their
        // section on the stack).
        unsafe { self.groups.get_unchecked(i) }
    }

    /// The home group of a position (the hash bits after the partition's).
    /// Monotonic in the position, so iteration by position survives resizes.
    #[inline]
    pub(crate) fn home(&self, pos: u64) -> usize {
        ((pos as u128 * self.groups.len() as u128) >> 64) as usize
    }

    /// The first position whose home is group `g`, or `None` past the end.
    pub(crate) fn start_of(&self, g: usize) -> Option<u64> {
        let n = self.groups.len() as u128;
        u64::try_from(((g as u128) << 64).div_ceil(n)).ok()
    }

    /// The table a resize is copying this one into, once it exists (null
    /// before a resize starts and while its target is being sized: nothing
    /// has been copied then).
    #[inline]
    pub(crate) fn next(&self) -> *mut RawTable {
        self.next.target()
    }

    /// Whether a resize of this table has started (its target may still be
    /// being sized). From then on no writer adds a key to this table.
    #[inline]
    pub(crate) fn resizing(&self) -> bool {
        self.next.started()
    }

    /// Bytes of the table and its groups.
    pub(crate) fn bytes(&self) -> usize {
        size_of::<Self>() + self.groups.len() * size_of::<Group>()
    }

    /// Records a lane a writer claimed for good; returns the new count.
    #[inline]
    pub(crate) fn count_lane(&self) -> usize {
        self.migration.lanes.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1
    }

    /// Chunks a resize hands out.
    pub(crate) fn chunks(&self) -> usize {
        self.groups.len().div_ceil(CHUNK)
    }
}

/// Debug builds poison a freed table: the canary, and every group made to
/// look empty, so that a reader still using it misses keys that tests know
/// are present (the memory may also be unmapped or reused, which the
/// canary or a crash catches).
#[cfg(debug_assertions)]
impl Drop for RawTable {
    fn drop(&mut self) {
        self.canary.store(0, Ordering::Relaxed);
        for g in self.groups.iter() {
            g.ctrl.store(0, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RawTable;

    #[test]
    fn homes_cover_every_group_in_order() {
        for n in [1usize, 3, 5, 7, 64] {
            let t = RawTable::new(n, false, 0);
            assert_eq!(t.start_of(0), Some(0));
            assert_eq!(t.start_of(n), None);
            for g in 0..n {
                let p = t.start_of(g).unwrap();
                assert_eq!(t.home(p), g, "n {n} g {g}");
                if p > 0 {
                    assert_eq!(t.home(p - 1), g - 1);
                }
            }
            assert_eq!(t.home(u64::MAX), n - 1);
        }
    }
}
