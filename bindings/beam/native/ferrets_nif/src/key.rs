//! Stored keys: the [`crate::codec`] bytes of the key term, inline when short.
//! Small objects use the same container, so that a lookup of a small object
//! touches no memory beyond the table entry.

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};

use ferrets_core::HeapSize;

/// Longest key kept inline (no allocation): small integers, atoms, short
/// binaries and small tuples of those.
pub const INLINE: usize = 30;

/// The encoded bytes of a key. Hashes and compares exactly like the `[u8]`
/// it borrows as, so lookups can probe with a borrowed scratch buffer.
#[derive(Clone)]
pub enum Key {
    /// Up to [`INLINE`] bytes, stored in place.
    Inline(u8, [u8; INLINE]),
    /// Longer keys.
    Heap(Box<[u8]>),
}

impl Key {
    /// A key holding a copy of `bytes`.
    pub fn new(bytes: &[u8]) -> Self {
        if bytes.len() <= INLINE {
            let mut buf = [0; INLINE];
            buf[..bytes.len()].copy_from_slice(bytes);
            Key::Inline(bytes.len() as u8, buf)
        } else {
            Key::Heap(bytes.into())
        }
    }

    /// The bytes, mutable (same length).
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        match self {
            Key::Inline(len, buf) => &mut buf[..*len as usize],
            Key::Heap(b) => b,
        }
    }

    /// The encoded key.
    #[inline]
    pub fn bytes(&self) -> &[u8] {
        match self {
            Key::Inline(len, buf) => &buf[..*len as usize],
            Key::Heap(b) => b,
        }
    }
}

/// Looks `bytes` up through `f`, probing with an inline [`Key`] when short
/// (cheaper equality than a byte slice) and with the slice otherwise.
#[inline]
pub fn probe<R>(bytes: &[u8], short: impl FnOnce(&Key) -> R, long: impl FnOnce(&[u8]) -> R) -> R {
    if bytes.len() <= INLINE {
        short(&Key::new(bytes))
    } else {
        long(bytes)
    }
}

impl Borrow<[u8]> for Key {
    fn borrow(&self) -> &[u8] {
        self.bytes()
    }
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.bytes().hash(state);
    }
}

impl PartialEq for Key {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            // Whole fixed-size arrays (zero padded): compared inline, no memcmp call.
            (Key::Inline(l1, b1), Key::Inline(l2, b2)) => l1 == l2 && b1 == b2,
            _ => self.bytes() == other.bytes(),
        }
    }
}

impl Eq for Key {}

impl HeapSize for Key {
    fn heap_size(&self) -> usize {
        match self {
            Key::Inline(..) => 0,
            Key::Heap(b) => b.len(),
        }
    }
}
