//! Stored keys: the [`crate::codec`] bytes of the key term, inline when short.
//! Small objects use the same container, so that a lookup of a small object
//! touches no memory beyond the table entry.

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};

use ferrets_core::HeapSize;

use crate::codec;

/// Longest key kept inline (no allocation): small integers, atoms, binaries
/// of up to 18 bytes, and pairs of immediates such as `{user, 42}`. Kept
/// small so that a key and a short object fill 64 bytes together (see
/// [`crate::objects::Obj`]).
pub const INLINE: usize = 23;

/// The encoded bytes of a key. Hashes and compares exactly like the `[u8]`
/// it borrows as, so lookups can probe with a borrowed scratch buffer.
#[derive(Clone)]
pub enum Key {
    /// Up to [`INLINE`] bytes, zero padded. No length is stored: the
    /// encoding is self-delimiting ([`codec::skip`]), which also makes two
    /// padded arrays equal exactly when the keys are.
    Inline([u8; INLINE]),
    /// Longer keys.
    Heap(Box<[u8]>),
}

impl Key {
    /// A key holding a copy of `bytes` (one [`codec`] encoding).
    pub fn new(bytes: &[u8]) -> Self {
        if let Ok(imm) = <&[u8; 9]>::try_from(bytes) {
            // A small integer or an atom (the usual key): a fixed-size copy.
            let mut buf = [0; INLINE];
            buf[..9].copy_from_slice(imm);
            Key::Inline(buf)
        } else if bytes.len() <= INLINE {
            let mut buf = [0; INLINE];
            buf[..bytes.len()].copy_from_slice(bytes);
            Key::Inline(buf)
        } else {
            Key::Heap(bytes.into())
        }
    }

    /// The bytes, mutable (same length).
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        match self {
            Key::Inline(buf) => {
                let len = codec::skip(buf);
                &mut buf[..len]
            }
            Key::Heap(b) => b,
        }
    }

    /// The encoded key.
    #[inline]
    pub fn bytes(&self) -> &[u8] {
        match self {
            Key::Inline(buf) => &buf[..codec::skip(buf)],
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
            (Key::Inline(b1), Key::Inline(b2)) => b1 == b2,
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
