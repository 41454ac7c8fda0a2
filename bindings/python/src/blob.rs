//! Byte strings sized for table keys and values: short ones inline, long ones shared.
//!
//! Most keys and values (ints, floats, short strings) encode to a few bytes,
//! so [`Blob`] keeps up to [`INLINE`] bytes in place and needs no allocation;
//! longer ones live in an `Arc<[u8]>` so cloning (iteration snapshots, retried
//! read-modify-write closures) never copies them. [`Buf`] is the stack buffer
//! the encoder writes into before a lookup, so a `get` allocates nothing.

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

use ferrets_core::HeapSize;

/// Bytes a [`Blob`] stores without allocating: a blob is 24 bytes (a tag, a
/// length and the bytes; or a tag and a shared pointer).
pub const INLINE: usize = 22;

/// An immutable byte string: inline when short, a shared heap buffer otherwise.
#[derive(Clone)]
pub enum Blob {
    /// Up to [`INLINE`] bytes stored in place.
    Inline {
        /// Number of bytes used in `buf`.
        len: u8,
        /// The bytes; only `..len` is meaningful.
        buf: [u8; INLINE],
    },
    /// A longer byte string.
    Heap(Arc<[u8]>),
}

impl Blob {
    /// An inline blob holding `head` then `body`, if they fit.
    #[inline(always)]
    pub fn inline(head: &[u8], body: &[u8]) -> Option<Self> {
        let n = head.len() + body.len();
        if n > INLINE {
            return None;
        }
        let mut buf = [0; INLINE];
        buf[..head.len()].copy_from_slice(head);
        buf[head.len()..n].copy_from_slice(body);
        // The length fits: INLINE < 256.
        Some(Blob::Inline { len: n as u8, buf })
    }

    /// A blob holding a copy of `bytes`.
    pub fn new(bytes: &[u8]) -> Self {
        if bytes.len() <= INLINE {
            let mut buf = [0; INLINE];
            buf[..bytes.len()].copy_from_slice(bytes);
            // The length fits: INLINE < 256.
            Blob::Inline { len: bytes.len() as u8, buf }
        } else {
            Blob::Heap(bytes.into())
        }
    }
}

/// A key's first-inserted encoding, kept when it differs from the
/// normalised one (rare, see `table::Entry`): shared, and behind one thin
/// pointer, so that an entry without one spends 8 bytes on it.
#[derive(Clone)]
pub struct Original(Arc<Box<[u8]>>);

impl Original {
    /// A copy of `bytes`.
    pub fn new(bytes: &[u8]) -> Self {
        Original(Arc::new(bytes.into()))
    }

    /// Heap bytes owned: the bytes, and the Arc's counters and slice pointer.
    pub fn heap_size(&self) -> usize {
        self.0.len() + 4 * size_of::<usize>()
    }
}

impl Deref for Original {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl Deref for Blob {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        match self {
            Blob::Inline { len, buf } => &buf[..usize::from(*len)],
            Blob::Heap(bytes) => bytes,
        }
    }
}

impl Borrow<[u8]> for Blob {
    #[inline]
    fn borrow(&self) -> &[u8] {
        self
    }
}

/// Hashes exactly as the `[u8]` it derefs to, as [`Borrow`] requires.
impl Hash for Blob {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        (**self).hash(state);
    }
}

impl PartialEq for Blob {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        bytes_eq(self, other)
    }
}

/// A borrowed encoding to look keys up by: hashes exactly as the `[u8]` it
/// wraps (and so as a [`Blob`]), but compares short keys with a few word
/// compares instead of a call to `memcmp`, the slice comparison's cost on
/// the lookup path.
#[repr(transparent)]
pub struct KeyBytes([u8]);

impl KeyBytes {
    /// `bytes` as a lookup key.
    #[inline]
    pub fn new(bytes: &[u8]) -> &KeyBytes {
        // SAFETY: `KeyBytes` is a `repr(transparent)` wrapper of `[u8]`, so
        // the pointer cast keeps the layout and the slice metadata.
        unsafe { &*(bytes as *const [u8] as *const KeyBytes) }
    }
}

impl Hash for KeyBytes {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl PartialEq for KeyBytes {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        bytes_eq(&self.0, &other.0)
    }
}

impl Eq for KeyBytes {}

impl Borrow<KeyBytes> for Blob {
    #[inline]
    fn borrow(&self) -> &KeyBytes {
        KeyBytes::new(self)
    }
}

/// `a == b`, inline for lengths 4 to 32: two (possibly overlapping) word
/// compares cover the whole range.
#[inline(always)]
fn bytes_eq(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let w8 = |s: &[u8], i: usize| u64::from_le_bytes(s[i..i + 8].try_into().expect("8 bytes"));
    let w4 = |s: &[u8], i: usize| u32::from_le_bytes(s[i..i + 4].try_into().expect("4 bytes"));
    let w16 = |s: &[u8], i: usize| u128::from_le_bytes(s[i..i + 16].try_into().expect("16 bytes"));
    match n {
        8..=16 => w8(a, 0) == w8(b, 0) && w8(a, n - 8) == w8(b, n - 8),
        4..=7 => w4(a, 0) == w4(b, 0) && w4(a, n - 4) == w4(b, n - 4),
        17..=32 => w16(a, 0) == w16(b, 0) && w16(a, n - 16) == w16(b, n - 16),
        _ => a == b,
    }
}

impl Eq for Blob {}

impl HeapSize for Blob {
    fn heap_size(&self) -> usize {
        match self {
            Blob::Inline { .. } => 0,
            // The Arc's two counters live in the same allocation.
            Blob::Heap(bytes) => bytes.len() + 2 * size_of::<usize>(),
        }
    }
}

/// Stack bytes a [`Buf`] holds before it spills to the heap.
const STACK: usize = 80;

/// A growable byte buffer that lives on the stack until it outgrows [`STACK`] bytes.
pub struct Buf {
    len: usize,
    stack: [u8; STACK],
    heap: Vec<u8>,
}

impl Buf {
    /// An empty buffer.
    #[inline]
    pub fn new() -> Self {
        Buf { len: 0, stack: [0; STACK], heap: Vec::new() }
    }

    /// Appends one byte.
    #[inline]
    pub fn push(&mut self, byte: u8) {
        self.extend(&[byte]);
    }

    /// Appends `bytes`.
    #[inline]
    pub fn extend(&mut self, bytes: &[u8]) {
        if self.heap.is_empty() && self.len + bytes.len() <= STACK {
            self.stack[self.len..self.len + bytes.len()].copy_from_slice(bytes);
            self.len += bytes.len();
        } else {
            if self.heap.is_empty() {
                self.heap.reserve(2 * (self.len + bytes.len()));
                self.heap.extend_from_slice(&self.stack[..self.len]);
            }
            self.heap.extend_from_slice(bytes);
        }
    }

    /// Appends `n` as a LEB128 varint.
    #[inline]
    pub fn varint(&mut self, mut n: usize) {
        while n >= 0x80 {
            self.push((n as u8) | 0x80);
            n >>= 7;
        }
        self.push(n as u8);
    }

    /// The bytes written so far.
    #[inline]
    pub fn as_slice(&self) -> &[u8] {
        if self.heap.is_empty() {
            &self.stack[..self.len]
        } else {
            &self.heap
        }
    }

    /// The bytes written so far, as a [`Blob`].
    pub fn to_blob(&self) -> Blob {
        Blob::new(self.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_inline_and_heap_compare_and_hash_as_bytes() {
        use std::hash::BuildHasher;
        let s = std::collections::hash_map::RandomState::new();
        for len in [0, 1, INLINE, INLINE + 1, 200] {
            let bytes: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let b = Blob::new(&bytes);
            assert_eq!(&*b, &bytes[..]);
            assert_eq!(s.hash_one(&b), s.hash_one(&bytes[..]));
            assert_eq!(b.heap_size() == 0, len <= INLINE);
            let k: &KeyBytes = b.borrow();
            assert_eq!(s.hash_one(k), s.hash_one(&bytes[..]));
        }
        assert_eq!(size_of::<Blob>(), 24);
    }

    #[test]
    fn key_bytes_compare_as_slices() {
        // Every length the word compares cover, plus a byte changed at each position.
        for len in 0..=40usize {
            let a: Vec<u8> = (0..len).map(|i| i as u8).collect();
            assert!(KeyBytes::new(&a) == KeyBytes::new(&a.clone()));
            assert!(Blob::new(&a) == Blob::new(&a));
            for i in 0..len {
                let mut b = a.clone();
                b[i] ^= 0x40;
                assert!(KeyBytes::new(&a) != KeyBytes::new(&b), "len {len}, byte {i}");
                assert!(Blob::new(&a) != Blob::new(&b));
            }
            let mut longer = a.clone();
            longer.push(0);
            assert!(KeyBytes::new(&a) != KeyBytes::new(&longer));
        }
    }

    #[test]
    fn buf_spills_to_heap_and_keeps_order() {
        let mut buf = Buf::new();
        for i in 0..300u32 {
            buf.push(i as u8);
        }
        assert_eq!(buf.as_slice().len(), 300);
        assert!(buf.as_slice().iter().enumerate().all(|(i, &b)| b == i as u8));
        let mut buf = Buf::new();
        buf.varint(300);
        assert_eq!(buf.as_slice(), &[0xac, 0x02]);
    }
}
