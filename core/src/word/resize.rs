//! Resizing a partition without stopping anyone: the boxed table's
//! protocol (see `table/resize.rs`), with values copied instead of pointers.
//!
//! A resize installs `next` on the partition's current table `t`; from then
//! on each lane of `t` is frozen (a CAS setting [`FROZEN`]) before its live
//! `(key, value)` is inserted into `next` and the lane marked [`COPIED`].
//! Lanes with nothing to copy (never claimed, claims in flight, removed or
//! fresh keys) are frozen and marked copied in one CAS. Readers keep reading
//! `t` (a frozen lane is current until copied); writers copy one chunk of
//! groups and their own key's probe path, then write into `next`. Every step
//! is idempotent, so a stalled helper's work is redone by someone else.

use std::hash::BuildHasher;

use super::probe::{claim, Claim, Hashed, Spot};
use super::raw::{groups_for, Plan, RawTable, CHUNK};
use super::slot::{match_empty, match_tag, COPIED, FRESH, FROZEN, KEYED, LIVE, WIDTH};
use super::Guard;
use super::{Partition, Word, WordTable};
use crate::primitive::Ordering;

impl<K: Word, V: Word, S: BuildHasher> WordTable<K, V, S> {
    /// Group count for a table that should hold `live` entries after a grow.
    pub(super) fn target_groups(&self, live: usize) -> usize {
        groups_for(live).max(self.min_groups)
    }

    /// Group count for a rehash forced by a long probe or a full table
    /// rather than by the live count. A dense table grows a little (a long
    /// cluster, not tombstones, is the cause; rehashing it at the same size
    /// would keep the cluster). A table mostly holding removed keys' lanes
    /// is rebuilt as [`Self::reclaim_groups`] says, while the shrink rule
    /// (below an eighth) does not fire.
    pub(super) fn rehash_groups(&self, live: usize, t: &RawTable) -> usize {
        if live > t.max_live / 2 {
            self.target_groups(live).max(t.len() + t.len() / 4)
        } else {
            self.reclaim_groups(live)
        }
    }

    /// Group count for a rehash forced by the lanes removed keys keep: a
    /// table with as many claimed lanes as its grow threshold allows, but
    /// fewer live entries. Rebuilt at a third full, so that a churn over a
    /// bounded key set (whose removed keys come back to their lanes) settles
    /// at short probes and stops rehashing, while a churn over ever new keys
    /// rebuilds it every 1.25x its live count of fresh keys.
    pub(super) fn reclaim_groups(&self, live: usize) -> usize {
        self.target_groups(live * 3 / 2)
    }

    /// The table a writer should use, starting from `t`: follows `next`
    /// links, helping each resize on the way and copying the key's probe
    /// path so that the key can no longer change behind us.
    #[inline]
    pub(super) fn settle<'g>(
        &self,
        part: &Partition,
        t: &'g RawTable,
        h: Hashed,
        guard: &'g Guard<'_>,
    ) -> &'g RawTable {
        // No resize in progress: the common case, kept inline.
        if !t.resizing() {
            return t;
        }
        self.settle_resizing(part, t, h, guard)
    }

    /// [`Self::settle`] when `t` is resizing.
    #[cold]
    #[inline(never)]
    fn settle_resizing<'g>(
        &self,
        part: &Partition,
        mut t: &'g RawTable,
        h: Hashed,
        guard: &'g Guard<'_>,
    ) -> &'g RawTable {
        loop {
            if !t.resizing() {
                return t;
            }
            let next = self.install(part, t);
            self.help(part, t, guard);
            self.copy_path(part, t, h);
            t = next;
        }
    }

    /// Starts resizing `t` as `plan` says unless `t` is not the root or is
    /// already resizing. Sizes and installs the target and copies one chunk
    /// right away. Returns whether this call started the resize.
    pub(super) fn start_resize(&self, part: &Partition, t: &RawTable, plan: Plan, guard: &Guard<'_>) -> bool {
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
    /// installing it first if it is still being sized. Sized from the live
    /// count read after the marker was set: writers add no key to `t` once
    /// they see it (the few that raced it fit in the target's slack), so
    /// that count bounds the copies. A count read before the marker could
    /// be stale (a starter descheduled while others insert), leaving a
    /// shrink's target too small and the copy with nowhere to go.
    pub(super) fn install<'g>(&self, part: &Partition, t: &'g RawTable) -> &'g RawTable {
        let target = t.next.target_or_build(|n| {
            let live = part.len();
            let plan = Plan::ALL[usize::from(n)];
            let groups = match plan {
                Plan::Grow => self.target_groups(live),
                Plan::Rehash => self.rehash_groups(live, t),
                // Every lane is taken, and the live count may lag inserts
                // still in flight: never rehash into fewer lanes, or the
                // copy could fill the new table just the same.
                Plan::Full => self.rehash_groups(live, t).max(t.len() + 1),
                Plan::Reclaim => self.reclaim_groups(live),
                Plan::Shrink => self.target_groups(2 * live),
                Plan::Clear => self.min_groups,
            };
            // Copies are bounded by the live entries now, plus the few
            // inserts racing the marker.
            RawTable::new(groups, plan == Plan::Clear, live)
        });
        // SAFETY: a target is retired only after the root moved past it,
        // and freed after our section (we reached `t` from the root).
        unsafe { &*target }
    }

    /// Makes sure the table after `t` may itself be resized, by finishing
    /// every resize between the root and `t`.
    pub(super) fn finish_before(&self, part: &Partition, t: &RawTable, guard: &Guard<'_>) {
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
    pub(super) fn help(&self, part: &Partition, t: &RawTable, guard: &Guard<'_>) {
        t.check_alive();
        self.install(part, t);
        let chunks = t.chunks();
        let i = t.migration.claimed.fetch_add(1, Ordering::Relaxed);
        if i >= chunks {
            return;
        }
        for g in i * CHUNK..((i + 1) * CHUNK).min(t.len()) {
            for lane in 0..WIDTH {
                self.copy_lane(part, t, g, lane);
            }
        }
        if t.migration.done.fetch_add(1, Ordering::AcqRel) + 1 == chunks {
            self.promote(part, t, guard);
        }
    }

    /// Copies every lane of `t` and promotes `next`: for `clear`, iteration,
    /// and when a stalled helper holds up a chunk.
    pub(super) fn finish(&self, part: &Partition, t: &RawTable, guard: &Guard<'_>) {
        self.install(part, t);
        for g in 0..t.len() {
            for lane in 0..WIDTH {
                self.copy_lane(part, t, g, lane);
            }
        }
        self.promote(part, t, guard);
    }

    /// Moves the root from a fully copied `t` to its `next` and retires `t`.
    fn promote(&self, part: &Partition, t: &RawTable, guard: &Guard<'_>) {
        let t = t as *const RawTable as *mut RawTable;
        // SAFETY: `t` is reachable in our section.
        let next = unsafe { (*t).next() };
        if part.root.compare_exchange(t, next, Ordering::AcqRel, Ordering::Acquire).is_ok() {
            // SAFETY: `t` is unlinked from the root (the only path to it for
            // sections that start from now on) and only the CAS winner
            // retires it.
            unsafe { guard.retire(t) };
        }
    }

    /// Freezes and copies the lanes of `t` on `h`'s probe path: the lanes
    /// with its tag and the never-claimed lanes, group by group, up to the
    /// first group with a never-claimed lane. Afterwards no writer can store
    /// the key in `t` any more.
    fn copy_path(&self, part: &Partition, t: &RawTable, h: Hashed) {
        let home = t.home(h.pos);
        for g in home..home + t.len() {
            let ctrl = t.group(g).ctrl();
            let empty = match_empty(ctrl);
            for lane in match_tag(ctrl, h.tag).or(empty) {
                self.copy_lane(part, t, g, lane);
            }
            if !empty.is_empty() {
                return;
            }
        }
    }

    /// Freezes one lane of `t` and moves its live entry to `t.next` (or
    /// drops it when `next` is a `clear` target). Idempotent.
    fn copy_lane(&self, part: &Partition, t: &RawTable, g: usize, lane: usize) {
        // SAFETY: `t` is resizing, so `next` is set and reachable in our section.
        let next = unsafe { &*t.next() };
        let group = t.group(g);
        let pair = &group.pairs[lane];
        let mut cur = pair.load();
        loop {
            let (state, value) = cur;
            if state & COPIED != 0 {
                return;
            }
            if state & FROZEN != 0 {
                // Frozen live by another thread that may have stalled: finish its copy.
                self.copy_entry(next, group.key(lane), value);
                let _ = pair.compare_exchange(cur, (state | COPIED, value));
                return;
            }
            let keep = state & LIVE != 0 && !next.drops_prev;
            let frozen = if keep { state | FROZEN } else { state | FROZEN | COPIED };
            match pair.compare_exchange(cur, (frozen, value)) {
                Ok(()) if keep => cur = (frozen, value),
                Ok(()) => {
                    if state & LIVE != 0 {
                        part.add_len(-1);
                    }
                    return;
                }
                Err(now) => cur = now,
            }
        }
    }

    /// Inserts `key -> value` into `t` unless the key is already there with
    /// a value or a remove (another helper copied it, and writers may have
    /// changed it since) or `t` is itself resizing (then this copy already
    /// happened: a table resizes only after the resize into it completed).
    ///
    /// A [`FRESH`] lane for the key is a copy's claim that a helper
    /// published: no writer can have used the key in `t` yet (they wait for
    /// the copy to complete), and states never return to `FRESH`, so
    /// filling it cannot undo a later write.
    fn copy_entry(&self, t: &RawTable, key: u64, value: u64) {
        let h = self.hashed(key);
        loop {
            match t.locate(key, h) {
                Spot::Found { group, lane, pair } => {
                    if pair.0 & FRESH == 0
                        || group.pairs[lane].compare_exchange(pair, (KEYED | LIVE, value)).is_ok()
                    {
                        return;
                    }
                }
                Spot::Frozen => return,
                Spot::Full => {
                    // Unreachable by sizing: the target holds twice the live
                    // entries and writers stop inserting into it before it is
                    // full. Yield rather than spin hot.
                    std::thread::yield_now();
                }
                Spot::Vacant { group, lane, claim: ctrl, .. } => {
                    if let Claim::Stored(_) = claim(group, lane, ctrl, h.tag, key, value) {
                        return;
                    }
                }
            }
        }
    }
}
