//! In-place counters: the integer elements of an object that
//! `update_counter` has touched live in atomics, so the common
//! `update_counter(Tab, Key, Incr | {Pos, Incr})` is a lock-free read of the
//! entry plus an atomic add, with no allocation and no entry swap.
//!
//! Protocol. An adder registers in `state` (one read-modify-write that also
//! sees the seal bit), updates its cell with a compare-and-swap, and leaves.
//! Any writer that replaces the object *based on its values* (the general
//! `update_counter`, `update_element`, `delete_object`) first seals it and
//! waits for registered adders to leave, then reads the values; adders that
//! find the seal fall back to that general path. Writers that replace or
//! remove the object regardless of its values (`insert`, `delete`, `take`)
//! need no seal: an add that lands on the replaced object is ordered before
//! the replacement. A seal is never lifted: the general path stores a fresh,
//! unsealed object.

use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};

use crate::codec;

/// `state` bit: no more in-place adds (the low bits count adders under way).
const SEALED: u32 = 1 << 31;

/// Most counters one object keeps in place (more integer elements are
/// updated by the general path).
const MAX: usize = 6;

/// The atomic integer elements of one object: one cache line, one allocation.
#[repr(align(64))]
pub struct Cells {
    /// The counters.
    values: [AtomicI64; MAX],
    /// [`SEALED`] and the number of adders under way.
    state: AtomicU32,
    /// 1-based tuple positions of `values[..len]`.
    positions: [u8; MAX],
    /// Counters in use.
    len: u8,
}

impl Cells {
    /// Cells for the first `INT` elements (up to 6, positions up to 255) of
    /// the encoded tuple `code`, except the key.
    pub fn for_code(code: &[u8], keypos: usize) -> Option<Box<Cells>> {
        let arity = codec::tuple_arity(code);
        let mut cells =
            Cells { values: Default::default(), state: AtomicU32::new(0), positions: [0; MAX], len: 0 };
        let mut at = 5;
        for pos in 1..=arity.min(255) {
            let len = codec::skip(&code[at..]);
            if pos != keypos && code[at] == codec::INT && (cells.len as usize) < MAX {
                let v = i64::from_le_bytes(code[at + 1..at + 9].try_into().ok()?);
                cells.values[cells.len as usize] = AtomicI64::new(v);
                cells.positions[cells.len as usize] = pos as u8;
                cells.len += 1;
            }
            at += len;
        }
        (cells.len > 0).then(|| Box::new(cells))
    }

    /// The current value at `pos`, if it is a cell.
    #[inline]
    pub fn get(&self, pos: usize) -> Option<i64> {
        self.slot(pos).map(|c| c.load(Ordering::Acquire))
    }

    /// The counter at tuple position `pos`.
    #[inline]
    fn slot(&self, pos: usize) -> Option<&AtomicI64> {
        let i = self.positions[..self.len as usize].iter().position(|&p| p as usize == pos)?;
        Some(&self.values[i])
    }

    /// `(position, counter)` pairs.
    fn slots(&self) -> impl Iterator<Item = (usize, &AtomicI64)> {
        self.positions[..self.len as usize].iter().map(|&p| p as usize).zip(self.values.iter())
    }

    /// Adds `incr` at `pos` unless sealed, absent, or overflowing `i64`;
    /// the new value.
    #[inline]
    pub fn try_add(&self, pos: usize, incr: i64) -> Option<i64> {
        let slot = self.slot(pos)?;
        if self.state.fetch_add(1, Ordering::AcqRel) & SEALED != 0 {
            self.state.fetch_sub(1, Ordering::Release);
            return None;
        }
        let mut cur = slot.load(Ordering::Acquire);
        let result = loop {
            let Some(new) = cur.checked_add(incr) else { break None };
            match slot.compare_exchange_weak(cur, new, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => break Some(new),
                Err(now) => cur = now,
            }
        };
        self.state.fetch_sub(1, Ordering::Release);
        result
    }

    /// Stops in-place adds and waits for those under way; the values are
    /// final afterwards.
    pub fn seal(&self) {
        self.state.fetch_or(SEALED, Ordering::AcqRel);
        let mut backoff = crate::code::Backoff::default();
        while self.state.load(Ordering::Acquire) & !SEALED != 0 {
            backoff.snooze();
        }
    }

    /// Writes the current values into `code` (a copy of the object's bytes).
    pub fn write_into(&self, code: &mut [u8]) {
        for (pos, cell) in self.slots() {
            if let Some(r) = codec::tuple_element(code, pos) {
                code[r.start + 1..r.end].copy_from_slice(&cell.load(Ordering::Acquire).to_le_bytes());
            }
        }
    }

    /// Unsealed cells holding the current values.
    pub fn snapshot(&self) -> Box<Cells> {
        Box::new(Cells {
            values: std::array::from_fn(|i| AtomicI64::new(self.values[i].load(Ordering::Acquire))),
            state: AtomicU32::new(0),
            positions: self.positions,
            len: self.len,
        })
    }

    /// Heap bytes.
    pub fn heap_size(&self) -> usize {
        size_of::<Cells>()
    }
}
