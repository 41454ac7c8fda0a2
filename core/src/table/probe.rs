//! Probing one table: the reader's `find` and the writer's `locate`.
//!
//! Probe sequence: groups `home, home+1, ...` (linear over 7-slot groups, so
//! a key's slot is found in its home line almost always). A probe ends at the
//! first group that has a never-claimed control byte.

use std::borrow::Borrow;

use super::group::{match_empty, match_tag, Group, COPIED, DELETED, FROZEN, PTR};
use super::raw::{Entry, RawTable};
use crate::primitive::{AtomicUsize, Ordering};

/// Where a key hashes to, inside its partition.
#[derive(Clone, Copy)]
pub(crate) struct Hashed {
    /// Partition index.
    pub(crate) part: usize,
    /// Hash bits below the partition's: picks the home group.
    pub(crate) pos: u64,
    /// Control byte.
    pub(crate) tag: u8,
}

/// What a reader found in one table.
pub(crate) enum Find<'g, K, V> {
    /// The live entry (current: a writer must freeze a slot before moving on).
    Hit(&'g Entry<K, V>),
    /// Not in this table (or its slot was copied); look in its `next` if
    /// it has one.
    Miss,
}

/// What a writer found in one table.
#[derive(Clone, Copy)]
pub(crate) enum Spot<'g> {
    /// The key's slot; `word` is live or [`DELETED`], never frozen.
    Found { slot: &'g AtomicUsize, word: usize },
    /// The key is absent; it goes in `group.slots[lane]`, after claiming the
    /// control byte by a CAS from `claim` when that is `Some`.
    Vacant { group: &'g Group, lane: usize, claim: Option<u64>, distance: usize },
    /// A resize froze part of the probe: continue in the next table.
    Frozen,
    /// No room at all: the table must be resized first.
    Full,
}

/// The entry a slot word points to.
///
/// # Safety
/// `word & PTR` is non-zero and was loaded from a table reachable under the
/// caller's pin, whose lifetime `'g` bounds the result.
#[inline]
pub(crate) unsafe fn entry<'g, K, V>(word: usize) -> &'g Entry<K, V> {
    // SAFETY: per the contract the entry is live or retired after our pin
    // (or section).
    unsafe { &*((word & PTR) as *const Entry<K, V>) }
}

impl<K, V> RawTable<K, V> {
    /// Reader lookup: loads only, never writes.
    #[inline]
    pub(crate) fn find<'g, Q>(&'g self, key: &Q, h: Hashed) -> Find<'g, K, V>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        for g in (self.home(h.pos)..).take(self.len()) {
            let group = self.group(g);
            let ctrl = group.ctrl();
            for lane in match_tag(ctrl, h.tag) {
                let word = group.slots[lane].load(Ordering::Acquire);
                // A copied slot's content lives in the next table now, or was
                // dropped (a deleted entry, a `clear`) and retired when the
                // slot was marked, possibly before our section: never follow it.
                // The caller looks in `next`, which a copied slot implies.
                if word & PTR == 0 || word & COPIED != 0 {
                    continue;
                }
                Entry::<K, V>::prefetch_rest(word & PTR);
                // SAFETY: non-null, not copied: the entry is linked from a
                // table reachable in our section, so retired (if ever) after it.
                let e = unsafe { entry::<K, V>(word) };
                if e.key.borrow() == key {
                    return if word & DELETED != 0 { Find::Miss } else { Find::Hit(e) };
                }
            }
            if !match_empty(ctrl).is_empty() {
                return Find::Miss;
            }
        }
        Find::Miss
    }

    /// Writer lookup: the key's slot, or where it would go.
    ///
    /// The insertion point is the first *candidate* in probe order: a lane
    /// never claimed, or a lane claimed with this key's tag whose slot is
    /// still null. Candidates only stop being candidates, so two writers of
    /// the same key can never fill two different slots.
    pub(crate) fn locate<'g, Q>(&'g self, key: &Q, h: Hashed) -> Spot<'g>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let home = self.home(h.pos);
        let mut vacant = None;
        for distance in 0..self.len() {
            let g = home + distance;
            let group = self.group(g);
            let ctrl = group.ctrl();
            let mut steal = None;
            for lane in match_tag(ctrl, h.tag) {
                let word = group.slots[lane].load(Ordering::Acquire);
                if word & FROZEN != 0 {
                    return Spot::Frozen;
                }
                if word == 0 {
                    steal = steal.or(Some(lane));
                    continue;
                }
                // SAFETY: non-null word loaded from a table reachable under our pin.
                let e = unsafe { entry::<K, V>(word) };
                if e.key.borrow() == key {
                    return Spot::Found { slot: &group.slots[lane], word };
                }
            }
            let empty = match_empty(ctrl);
            if vacant.is_none() {
                vacant = match (steal, empty.lowest()) {
                    (Some(s), Some(e)) if e < s => Some((group, e, Some(ctrl), distance)),
                    (Some(s), _) => Some((group, s, None, distance)),
                    (None, Some(e)) => Some((group, e, Some(ctrl), distance)),
                    (None, None) => None,
                };
            }
            if !empty.is_empty() {
                break;
            }
        }
        match vacant {
            Some((group, lane, claim, distance)) => Spot::Vacant { group, lane, claim, distance },
            None => Spot::Full,
        }
    }
}
