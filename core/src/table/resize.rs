//! Resizing a partition without stopping anyone.
//!
//! A resize first marks `t.next` with its [`Plan`] (`crate::next`): from then on writers
//! add no key to `t` (they go on to `next`), so the live count read after
//! the mark bounds what the copy must hold, and the target is sized from it
//! by whoever gets there first (the starter or any writer: nobody waits for
//! a stalled starter). Sizing from a count read before the mark could leave
//! a shrink's target too small for keys added meanwhile (a starter
//! descheduled between the two while others insert), and the copy with
//! nowhere to go.
//!
//! Once allocated, the target is installed as `next`. From then
//! on every slot of `t` is *frozen* (a CAS setting [`FROZEN`]) before its
//! entry is copied into `next` (the same pointer: entries never move in
//! memory) and marked [`COPIED`]. Readers keep reading `t`: a live or
//! frozen-but-not-copied slot is current, a copied one sends them to `next`.
//! Writers that meet a resize copy one chunk of groups (so the work is
//! spread over many operations, never one long stop) and then copy their own
//! key's probe path, after which nothing in `t` can change for that key and
//! they write into `next`. Every copy step is idempotent, so nobody waits for
//! anybody: a stalled helper's chunk is redone by the next full sweep.
//! When all chunks are done the partition root moves to `next` and `t` is
//! retired (`crate::reclaim`). A table only starts a resize of its own once it
//! is the root, so at most two tables are live per partition.

use std::hash::{BuildHasher, Hash};

use super::group::{match_empty, match_tag, COPIED, DELETED, FROZEN, PTR, WIDTH};
use super::probe::{entry, Hashed, Spot};
use super::raw::{Plan, RawTable, CHUNK};
use super::{Partition, Table};
use crate::primitive::{Guard, Ordering};
use crate::HeapSize;

impl<K, V, S> Table<K, V, S>
where
    K: Hash + Eq + HeapSize,
    V: HeapSize,
    S: BuildHasher + Clone,
{
    /// Group count for a table that should hold `live` entries at half load.
    pub(super) fn target_groups(&self, live: usize) -> usize {
        (live * 2 + WIDTH).div_ceil(WIDTH).next_power_of_two().max(self.min_groups)
    }

    /// The table a writer should use, starting from `t`: follows `next`
    /// links, helping each resize on the way and copying the key's probe
    /// path so that the key can no longer change behind us.
    pub(super) fn settle<'g>(
        &self,
        part: &Partition<K, V>,
        mut t: &'g RawTable<K, V>,
        h: Hashed,
        guard: &'g Guard,
    ) -> &'g RawTable<K, V> {
        loop {
            if !t.resizing() {
                return t;
            }
            let next = self.install(part, t);
            self.help(part, t, guard);
            self.copy_path(part, t, h, guard);
            t = next;
        }
    }

    /// Starts resizing `t` as `plan` says unless `t` is not the root or is
    /// already resizing. Sizes and installs the target and copies one chunk
    /// right away. Returns whether this call started the resize.
    pub(super) fn start_resize(
        &self,
        part: &Partition<K, V>,
        t: &RawTable<K, V>,
        plan: Plan,
        guard: &Guard,
    ) -> bool {
        if !std::ptr::eq(part.root(), t) || t.resizing() {
            return false;
        }
        if !t.next.start(plan as u8) {
            return false;
        }
        self.install(part, t);
        self.help(part, t, guard);
        true
    }

    /// The target of `t`'s resize (which has started), allocating and
    /// installing it first if it is still being sized.
    pub(super) fn install<'g>(&self, part: &Partition<K, V>, t: &'g RawTable<K, V>) -> &'g RawTable<K, V> {
        let target = t.next.target_or_build(|n| {
            // Writers saw the marker before adding keys (or are among the
            // few that raced it, which the target's slack absorbs): the
            // live count now bounds the copies.
            let live = part.len();
            let plan = Plan::ALL[usize::from(n)];
            let groups = match plan {
                Plan::Grow => self.target_groups(live),
                Plan::Shrink => self.target_groups(2 * live),
                Plan::Clear => self.min_groups,
            };
            RawTable::new(groups, plan == Plan::Clear)
        });
        // SAFETY: a target is retired only after the root moved past it,
        // after our pin (we reached `t` from the root).
        unsafe { &*target }
    }

    /// Makes sure the table after `t` may itself be resized, by finishing
    /// every resize between the root and `t`.
    pub(super) fn finish_before(&self, part: &Partition<K, V>, t: &RawTable<K, V>, guard: &Guard) {
        loop {
            let root = part.root();
            if std::ptr::eq(root, t) || !root.resizing() {
                return;
            }
            self.finish(part, root, guard);
        }
    }

    /// Copies one chunk of `t` (if any is left) and promotes `next` when it
    /// was the last one.
    pub(super) fn help(&self, part: &Partition<K, V>, t: &RawTable<K, V>, guard: &Guard) {
        self.install(part, t);
        let chunks = t.chunks();
        let i = t.migration.claimed.fetch_add(1, Ordering::Relaxed);
        if i >= chunks {
            return;
        }
        for g in i * CHUNK..((i + 1) * CHUNK).min(t.len()) {
            for slot in 0..WIDTH {
                self.copy_slot(part, t, g, slot, guard);
            }
        }
        if t.migration.done.fetch_add(1, Ordering::AcqRel) + 1 == chunks {
            self.promote(part, t, guard);
        }
    }

    /// Copies every slot of `t` and promotes `next`: for `clear`, iteration,
    /// and when a stalled helper holds up a chunk.
    pub(super) fn finish(&self, part: &Partition<K, V>, t: &RawTable<K, V>, guard: &Guard) {
        self.install(part, t);
        for g in 0..t.len() {
            for slot in 0..WIDTH {
                self.copy_slot(part, t, g, slot, guard);
            }
        }
        self.promote(part, t, guard);
    }

    /// Moves the root from a fully copied `t` to its `next` and retires `t`.
    fn promote(&self, part: &Partition<K, V>, t: &RawTable<K, V>, guard: &Guard) {
        let t = t as *const RawTable<K, V> as *mut RawTable<K, V>;
        // SAFETY: `t` is reachable under our pin.
        let next = unsafe { (*t).next() };
        if part.root.compare_exchange(t, next, Ordering::AcqRel, Ordering::Acquire).is_ok() {
            // SAFETY: `t` is unlinked from the root (the only path to it for
            // threads that pin from now on) and only the CAS winner retires it.
            unsafe { self.garbage.retire(guard, t, (*t).bytes()) };
            // A resize just retired a table and, often, many deleted entries
            // (a shrink after bulk deletes): hand them to the collector now.
            self.garbage.flush(guard);
        }
    }

    /// Freezes and copies the slots of `t` on `h`'s probe path: the lanes
    /// with its tag and the never-claimed lanes, group by group, up to the
    /// first group with a never-claimed lane. Afterwards no writer can store
    /// the key in `t` any more.
    fn copy_path(&self, part: &Partition<K, V>, t: &RawTable<K, V>, h: Hashed, guard: &Guard) {
        for g in (t.home(h.pos)..).take(t.len()) {
            let ctrl = t.group(g).ctrl();
            let empty = match_empty(ctrl);
            for lane in match_tag(ctrl, h.tag).or(empty) {
                self.copy_slot(part, t, g, lane, guard);
            }
            if !empty.is_empty() {
                return;
            }
        }
    }

    /// Freezes one slot of `t` and moves its content to `t.next`: live
    /// entries are copied (or dropped when `next` is a `clear` target);
    /// deleted entries are retired. Idempotent.
    fn copy_slot(&self, part: &Partition<K, V>, t: &RawTable<K, V>, g: usize, lane: usize, guard: &Guard) {
        // SAFETY: `t` is resizing, so `next` is set and reachable under our pin.
        let next = unsafe { &*t.next() };
        let slot = &t.group(g).slots[lane];
        let mut word = slot.load(Ordering::Acquire);
        loop {
            if word & COPIED != 0 {
                return;
            }
            if word & FROZEN != 0 {
                // Frozen by another thread that may have stalled: finish its copy.
                self.copy_entry(next, word & PTR);
                let _ = slot.compare_exchange(word, word | COPIED, Ordering::AcqRel, Ordering::Acquire);
                return;
            }
            let drop_it = word & DELETED != 0 || next.drops_prev;
            let frozen = if word == 0 || drop_it { word | FROZEN | COPIED } else { word | FROZEN };
            match slot.compare_exchange(word, frozen, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    if word == 0 {
                        return;
                    }
                    if drop_it {
                        let ptr = (word & PTR) as *mut super::raw::Entry<K, V>;
                        // SAFETY: the winning freeze unlinked the entry for
                        // good (copied slots are never followed to it).
                        let e = unsafe { &*ptr };
                        let bytes = super::entry_bytes(&e.key, &e.value);
                        part.sub_bytes(bytes);
                        if word & DELETED == 0 {
                            part.add_len(-1);
                        }
                        // SAFETY: unlinked above; only the winning CAS retires it.
                        unsafe { self.garbage.retire(guard, ptr, bytes) };
                        return;
                    }
                    word = frozen;
                }
                Err(actual) => word = actual,
            }
        }
    }

    /// Inserts the entry at `ptr` into `t` unless its key is already there
    /// (another helper copied it, or a writer changed it after it was
    /// copied) or `t` is itself resizing (then this copy already happened:
    /// a table resizes only after the resize into it completed).
    fn copy_entry(&self, t: &RawTable<K, V>, ptr: usize) {
        // SAFETY: the entry is linked from a frozen slot reachable under our pin.
        let e = unsafe { entry::<K, V>(ptr) };
        let h = self.hashed(&e.key);
        loop {
            match t.locate(&e.key, h) {
                Spot::Found { .. } | Spot::Frozen => return,
                Spot::Full => {
                    // Unreachable: writers leave a target room for every
                    // entry still to be copied (`RawTable::room_for_fresh`).
                    // Yield rather than spin hot.
                    std::thread::yield_now();
                }
                Spot::Vacant { group, lane, claim, .. } => {
                    if let Some(ctrl) = claim {
                        let tagged = super::group::with_tag(ctrl, lane, h.tag);
                        if group
                            .ctrl
                            .compare_exchange(ctrl, tagged, Ordering::AcqRel, Ordering::Acquire)
                            .is_err()
                        {
                            continue;
                        }
                        t.count_lane();
                    }
                    if group.slots[lane].compare_exchange(0, ptr, Ordering::AcqRel, Ordering::Acquire).is_ok()
                    {
                        return;
                    }
                }
            }
        }
    }
}
