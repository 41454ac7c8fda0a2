//! SwissTable-style groups: one cache line holding a control word of tag
//! bytes and the slot words they describe.
//!
//! A control byte is `0` while its slot was never claimed, or `0x80 | tag`
//! once a writer claimed it for a key with that 7-bit tag; bytes only ever go
//! from `0` to a tag, so a group with an empty byte ends every probe through
//! it. A slot word is `0` or an entry pointer with [`DELETED`], [`FROZEN`]
//! and [`COPIED`] in its low bits (entries are 8-aligned).

use crate::primitive::{AtomicU64, AtomicUsize, Ordering};

/// Slots per group: 7 fills a 64-byte line with the control word. Loom
/// models use 2 so that their state space stays small.
pub(crate) const WIDTH: usize = if cfg!(loom) { 2 } else { 7 };

/// The entry was removed; it stays linked (keeping its key) so the same key
/// can reuse the slot, until a resize drops it.
pub(crate) const DELETED: usize = 1;
/// A resize owns the slot: no writer may change it any more.
pub(crate) const FROZEN: usize = 2;
/// The frozen slot's content lives in the next table now (or was dropped).
pub(crate) const COPIED: usize = 4;
/// The pointer part of a slot word.
pub(crate) const PTR: usize = !7;

/// One cache line: the control word and its `WIDTH` slots.
#[repr(C, align(64))]
pub(crate) struct Group {
    pub(crate) ctrl: AtomicU64,
    pub(crate) slots: [AtomicUsize; WIDTH],
}

impl Group {
    /// An empty group (tables outside loom are allocated zeroed instead).
    #[cfg_attr(not(loom), allow(dead_code))]
    pub(crate) fn new() -> Self {
        Group { ctrl: AtomicU64::new(0), slots: std::array::from_fn(|_| AtomicUsize::new(0)) }
    }

    /// The control word.
    #[inline]
    pub(crate) fn ctrl(&self) -> u64 {
        self.ctrl.load(Ordering::Acquire)
    }
}

// SAFETY: all-zero bytes are a zero control word (no lane claimed) and null slot words, which is what `Group::new` builds.
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
    fn masks_are_exact() {
        let t = tag_of(0x1234);
        let mut ctrl = 0u64;
        assert_eq!(match_empty(ctrl).count(), WIDTH);
        assert_eq!(match_tag(ctrl, t).count(), 0);
        ctrl = with_tag(ctrl, 1, t);
        ctrl = with_tag(ctrl, 0, t ^ 1);
        assert_eq!(match_tag(ctrl, t).collect::<Vec<_>>(), vec![1]);
        assert_eq!(match_tag(ctrl, t ^ 1).collect::<Vec<_>>(), vec![0]);
        assert_eq!(match_empty(ctrl).lowest(), (WIDTH > 2).then_some(2));
        assert!(std::mem::size_of::<Group>() == 64 || cfg!(loom));
    }
}
