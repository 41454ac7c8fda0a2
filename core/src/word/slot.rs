//! Groups of inline slots and the slot state machine.
//!
//! A group is a control word of tag bytes (as in the boxed table: `0` while a
//! lane was never claimed, `0x80 | tag` afterwards, never back), the lanes'
//! key words, and the lanes' `(state, value)` pairs, each a 16-byte atomic.
//!
//! A lane's pair goes through these states (every step one 16-byte CAS):
//!
//! ```text
//! (0, 0) ──claim──> (CLAIMED, key) ──publish──> (KEYED|LIVE, v)      by the claimer
//!                         └─────────help─────> (KEYED|FRESH, 0)     by anyone of that key
//! (KEYED|FRESH, 0) or (KEYED, 0) ──insert──> (KEYED|LIVE, v)
//! (KEYED|LIVE, v) ──update──> (KEYED|LIVE, w) ──remove──> (KEYED, 0)
//! any ──freeze (resize)──> state|FROZEN [|COPIED]
//! ```
//!
//! The claim CAS carries the key in the value word, so every writer of the
//! same key that meets a claim in flight can recognise it, store the key
//! word itself (the same bits: idempotent) and publish it: nobody waits for
//! the claimer. The key word is written before any CAS that sets [`KEYED`],
//! so a reader that sees `KEYED` in the pair (acquire) reads the right key.
//! [`FRESH`] marks "published by a helper, never held a value": states never
//! return to it, which lets a resize copy fill such a lane without racing a
//! later remove (see `resize.rs`).

use crate::primitive::{AtomicPair, AtomicU64, Ordering};

/// Lanes per group. Outside loom 5: control word + 5 keys fill the first
/// 48 bytes and the 5 pairs (16-aligned) the other 80 of a 128-byte group.
/// Loom models use 2 so that their state space stays small.
pub(crate) const WIDTH: usize = if cfg!(loom) { 2 } else { 5 };

/// The pair's value word holds the key of a claim in flight.
pub(crate) const CLAIMED: u64 = 1;
/// The key word is written: the lane belongs to that key for good.
pub(crate) const KEYED: u64 = 2;
/// The value word is the key's value.
pub(crate) const LIVE: u64 = 4;
/// Published by a helper and never held a value since.
pub(crate) const FRESH: u64 = 8;
/// A resize owns the lane: no writer may change it any more.
pub(crate) const FROZEN: u64 = 16;
/// The frozen lane's value lives in the next table now (or was dropped).
pub(crate) const COPIED: u64 = 32;

/// One group: 128 bytes outside loom (two cache lines, the pair of lines
/// the adjacent-line prefetcher fetches together).
#[repr(C, align(128))]
pub(crate) struct Group {
    pub(crate) ctrl: AtomicU64,
    pub(crate) keys: [AtomicU64; WIDTH],
    pub(crate) pairs: [AtomicPair; WIDTH],
}

impl Group {
    /// An empty group (tables outside loom are allocated zeroed instead).
    #[cfg_attr(not(loom), allow(dead_code))]
    pub(crate) fn new() -> Self {
        Group {
            ctrl: AtomicU64::new(0),
            keys: std::array::from_fn(|_| AtomicU64::new(0)),
            pairs: std::array::from_fn(|_| AtomicPair::new(0, 0)),
        }
    }

    /// The control word.
    #[inline]
    pub(crate) fn ctrl(&self) -> u64 {
        self.ctrl.load(Ordering::Acquire)
    }

    /// Starts loading the group's second line (pairs of lanes 1 and up)
    /// while the first (control word, keys) is still on its way: a lookup
    /// then waits for one memory round trip instead of two.
    #[inline(always)]
    pub(crate) fn prefetch_pairs(&self) {
        #[cfg(all(target_arch = "x86_64", not(loom)))]
        // SAFETY: a prefetch is a hint that never faults or changes memory;
        // SSE is part of the x86_64 baseline.
        unsafe {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            _mm_prefetch::<_MM_HINT_T0>((&self.pairs[WIDTH - 1] as *const AtomicPair).cast());
        }
    }

    /// The key word of a lane whose pair showed [`KEYED`].
    #[inline]
    pub(crate) fn key(&self, lane: usize) -> u64 {
        self.keys[lane].load(Ordering::Acquire)
    }

    /// Publishes the claim `(CLAIMED, key)` of `lane`: stores the key word,
    /// then moves the pair to `to` (which has [`KEYED`]). Returns the pair's
    /// state afterwards (`to` on success, or what another thread made it).
    #[inline]
    pub(crate) fn publish(&self, lane: usize, key: u64, to: (u64, u64)) -> Result<(), (u64, u64)> {
        self.keys[lane].store(key, Ordering::Release);
        self.pairs[lane].compare_exchange((CLAIMED, key), to)
    }
}

// SAFETY: all-zero bytes are a zero control word (no lane claimed), zero keys and `(0, 0)` pairs, which is what `Group::new` builds.
unsafe impl crate::groups::ZeroGroup for Group {
    fn empty() -> Self {
        Group::new()
    }
}

pub(crate) use crate::ctrl::{tag_of, with_tag, BitMask};

/// Lanes whose control byte equals `tag` (exact, no false positives).
#[inline]
pub(crate) fn match_tag(ctrl: u64, tag: u8) -> BitMask {
    crate::ctrl::match_tag::<WIDTH>(ctrl, tag)
}

/// Lanes never claimed (control byte 0).
#[inline]
pub(crate) fn match_empty(ctrl: u64) -> BitMask {
    crate::ctrl::match_empty::<WIDTH>(ctrl)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_and_masks() {
        if !cfg!(loom) {
            assert_eq!(std::mem::size_of::<Group>(), 128);
            assert_eq!(std::mem::offset_of!(Group, pairs) % 16, 0);
        }
        let t = tag_of(0x1234);
        let mut ctrl = 0u64;
        assert_eq!(match_empty(ctrl).count(), WIDTH);
        ctrl = with_tag(ctrl, 1, t);
        ctrl = with_tag(ctrl, 0, t ^ 1);
        assert_eq!(match_tag(ctrl, t).collect::<Vec<_>>(), vec![1]);
        assert_eq!(match_tag(ctrl, t ^ 1).collect::<Vec<_>>(), vec![0]);
        assert_eq!(match_empty(ctrl).lowest(), Some(2));
        // Bytes past the last lane never count as empty.
        assert_eq!(match_empty(u64::MAX >> 24).count(), 0);
    }

    #[test]
    fn claim_then_publish_or_help() {
        let g = Group::new();
        assert!(g.pairs[0].compare_exchange((0, 0), (CLAIMED, 42)).is_ok());
        // A helper publishes the key without a value...
        assert!(g.publish(0, 42, (KEYED | FRESH, 0)).is_ok());
        assert_eq!(g.key(0), 42);
        // ...so the claimer's own publish fails and reports the new state.
        assert_eq!(g.publish(0, 42, (KEYED | LIVE, 7)), Err((KEYED | FRESH, 0)));
    }
}
