//! Probing one table: the reader's `find`, the writer's `locate` and the
//! lane claim.
//!
//! Probe sequence: groups `home, home+1, ...`, ending at the first group
//! that has a never-claimed control byte (as in the boxed table).

use super::raw::RawTable;
use crate::primitive::Ordering;

use super::slot::{match_empty, match_tag, with_tag, Group, CLAIMED, COPIED, FRESH, FROZEN, KEYED, LIVE};

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
pub(crate) enum Find {
    /// The key's value bits.
    Hit(u64),
    /// Not in this table; look in its `next` if it has one.
    Miss,
    /// The key's lane was copied to the next table: look there.
    Moved,
}

/// What a writer found in one table.
#[derive(Clone, Copy)]
pub(crate) enum Spot<'g> {
    /// The key's lane and its pair as read: [`KEYED`], never frozen.
    Found { group: &'g Group, lane: usize, pair: (u64, u64) },
    /// The key is absent; it goes in `group`'s `lane`, after claiming the
    /// control byte by a CAS from `claim` when that is `Some`.
    Vacant { group: &'g Group, lane: usize, claim: Option<u64>, distance: usize },
    /// A resize froze part of the probe: continue in the next table.
    Frozen,
    /// No room at all: the table must be resized first.
    Full,
}

/// How a claim ended.
pub(crate) enum Claim {
    /// The lane went from empty to `(KEYED|LIVE, value)`; `true` when this
    /// claim also set the lane's control byte (a lane claimed for good; a
    /// byte set by a claim that then lost its lane is not reported, so the
    /// count this feeds may run a little low: it only triggers rebuilds).
    Stored(bool),
    /// Someone else got there first (or a resize froze the lane): locate again.
    Lost,
}

impl RawTable {
    /// The lane `key` holds in this table, with its pair as read
    /// ([`KEYED`], any other state bits), or `None` when it holds none: the
    /// probe of readers and of writers' fast paths. Loads only.
    #[inline]
    pub(crate) fn keyed(&self, key: u64, h: Hashed) -> Option<(&Group, usize, (u64, u64))> {
        self.check_alive();
        let groups = self.groups();
        let n = groups.len();
        let mut g = self.home(h.pos);
        let mut left = n;
        loop {
            // SAFETY: `g < n`: homes are below `n` and the probe wraps to 0.
            // (Unchecked, so that lookups have no panic path.)
            let group = unsafe { groups.get_unchecked(g) };
            group.prefetch_pairs();
            let ctrl = group.ctrl();
            for lane in match_tag(ctrl, h.tag) {
                let pair = group.pairs[lane].load();
                if pair.0 & KEYED != 0 && group.key(lane) == key {
                    return Some((group, lane, pair));
                }
            }
            left -= 1;
            if !match_empty(ctrl).is_empty() || left == 0 {
                return None;
            }
            g += 1;
            if g == n {
                g = 0;
            }
        }
    }

    /// Reader lookup: loads only, never writes.
    #[inline]
    pub(crate) fn find(&self, key: u64, h: Hashed) -> Find {
        match self.keyed(key, h) {
            Some((_, _, (state, _))) if state & COPIED != 0 => Find::Moved,
            Some((_, _, (state, value))) if state & LIVE != 0 => Find::Hit(value),
            _ => Find::Miss,
        }
    }

    /// Writer lookup: the key's lane, or where it would go.
    ///
    /// The insertion point is the first *candidate* in probe order: a lane
    /// never claimed, or a lane claimed with this key's tag whose pair is
    /// still empty. Candidates only stop being candidates, and a claim in
    /// flight shows its key, so two writers of the same key can never claim
    /// two different lanes. A claim in flight for this key is published here
    /// (so this writer never waits for the claimer) and returned as found.
    #[inline]
    pub(crate) fn locate(&self, key: u64, h: Hashed) -> Spot<'_> {
        self.check_alive();
        let home = self.home(h.pos);
        let mut vacant = None;
        for distance in 0..self.len() {
            let group = self.group(home + distance);
            group.prefetch_pairs();
            let ctrl = group.ctrl();
            let mut steal = None;
            for lane in match_tag(ctrl, h.tag) {
                let pair = group.pairs[lane].load();
                let (state, claimed) = pair;
                if state & FROZEN != 0 {
                    return Spot::Frozen;
                }
                if state == 0 {
                    steal = steal.or(Some(lane));
                    continue;
                }
                if state == CLAIMED {
                    if claimed != key {
                        continue;
                    }
                    let pair = match group.publish(lane, key, (KEYED | FRESH, 0)) {
                        Ok(()) => (KEYED | FRESH, 0),
                        Err(now) if now.0 & FROZEN != 0 => return Spot::Frozen,
                        Err(now) => now,
                    };
                    return Spot::Found { group, lane, pair };
                }
                if group.key(lane) == key {
                    return Spot::Found { group, lane, pair };
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

/// Claims a vacant lane for `key` and stores `value` in it: control byte
/// (when `claim` is set), then `(0, 0) -> (CLAIMED, key)`, then the publish
/// to `(KEYED|LIVE, value)`. If a helper published the claim first (the lane
/// is `FRESH`: the key is there with no value) the value still goes in with
/// one more CAS; any other change means someone else's write won.
#[inline]
pub(crate) fn claim(group: &Group, lane: usize, claim: Option<u64>, tag: u8, key: u64, value: u64) -> Claim {
    if let Some(ctrl) = claim {
        let tagged = with_tag(ctrl, lane, tag);
        if group.ctrl.compare_exchange(ctrl, tagged, Ordering::AcqRel, Ordering::Acquire).is_err() {
            return Claim::Lost;
        }
    }
    let new_lane = claim.is_some();
    if group.pairs[lane].compare_exchange((0, 0), (CLAIMED, key)).is_err() {
        return Claim::Lost;
    }
    match group.publish(lane, key, (KEYED | LIVE, value)) {
        Ok(()) => Claim::Stored(new_lane),
        Err(fresh @ (state, _)) if state == KEYED | FRESH => {
            match group.pairs[lane].compare_exchange(fresh, (KEYED | LIVE, value)) {
                Ok(()) => Claim::Stored(new_lane),
                Err(_) => Claim::Lost,
            }
        }
        Err(_) => Claim::Lost,
    }
}
