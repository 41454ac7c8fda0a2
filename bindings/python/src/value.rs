//! Stored values: short encodings are rewritable in place under a sequence
//! lock, so overwriting a key with an int, a float or a short string (and
//! `incr`) allocates nothing and swaps no entry. Longer encodings are
//! immutable shared buffers, replaced by swapping the whole entry.
//!
//! Readers copy the bytes out and retry when a writer overlapped, so they
//! never see a torn value. An in-place write that lands on an entry another
//! thread has just replaced or removed is ordered before that replacement,
//! which is a valid order for two overlapping calls. A writer that replaces
//! or removes an entry *based on its current value* (`incr`'s general path,
//! `pop`) seals it first: in-place writes under way finish, later ones fail
//! and take the general path, so none is lost. A seal is never lifted: the
//! general path stores a fresh entry.
//!
//! Writers that hold the GIL (a [`Serial`] token) take the sequence lock
//! with a plain store rather than a compare-and-swap (a locked instruction,
//! a sixth of a whole `t[k] = v`): in-place writes only ever come from
//! Python calls, which the GIL serialises, so no other writer can hold or
//! race for the lock. Readers are unaffected: they never write the state.

use std::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use crate::codec::{copy_short, INT};
use crate::gil::Serial;

/// Bytes kept inline (an int or a float takes 9, a str of `n` ASCII chars
/// `n + 2`): two words, so that a [`Value`] is 32 bytes and a table entry
/// 64 (see `table::Entry`).
pub const INLINE: usize = 16;
/// 64-bit words holding the inline bytes.
const WORDS: usize = INLINE / 8;

/// `state` bit: a writer holds the sequence lock.
const WRITING: u32 = 1;
/// `state` bit: no more in-place writes.
const SEALED: u32 = 2;
/// Where the length sits in `state`.
const LEN_SHIFT: u32 = 2;
/// The length bits of `state`.
const LEN_MASK: u32 = 0x3f << LEN_SHIFT;
/// One version step in `state`: every write bumps it.
const VERSION: u32 = 1 << 8;

/// Waiting for a lock holder: spin briefly, then yield (the holder may have
/// been descheduled mid-write).
#[derive(Default)]
struct Backoff(u32);

impl Backoff {
    #[inline]
    fn snooze(&mut self) {
        if self.0 < 64 {
            self.0 += 1;
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
}

/// Inline bytes under a sequence lock.
pub struct Cell {
    /// `WRITING`, `SEALED`, the length (bits 2..8) and a version (bits 8..).
    state: AtomicU32,
    /// The bytes, little-endian, zero-padded.
    words: [AtomicU64; WORDS],
}

/// A consistent copy of a value's bytes, taken without allocating.
pub enum Bytes {
    /// An inline value: `buf[..len]`.
    Inline { len: u8, buf: [u8; INLINE] },
    /// A long value (shared, immutable).
    Heap(Arc<[u8]>),
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Inline { len, buf } => &buf[..usize::from(*len)],
            Bytes::Heap(b) => b,
        }
    }
}

/// The encoding of a stored value.
pub enum Value {
    /// Up to [`INLINE`] bytes, rewritable in place.
    Inline(Cell),
    /// Longer encodings, immutable.
    Heap(Arc<[u8]>),
}

/// `bytes` (at most [`INLINE`]) as zero-padded little-endian words.
#[inline]
fn pack(bytes: &[u8]) -> [u64; WORDS] {
    let mut buf = [0u8; INLINE];
    copy_short(&mut buf, bytes);
    std::array::from_fn(|i| u64::from_le_bytes(buf[8 * i..8 * i + 8].try_into().expect("8 bytes")))
}

impl Cell {
    /// Takes the sequence lock unless sealed; the state it held before.
    /// With `serial`, no other writer can be running (see the module docs):
    /// a plain store takes it.
    #[inline]
    fn lock(&self, serial: Option<Serial<'_>>) -> Option<u32> {
        if serial.is_some() {
            let s = self.state.load(Ordering::Relaxed);
            if s & SEALED != 0 {
                return None;
            }
            // Writers hold the lock only within one call, never across a
            // GIL switch, so a serialised writer always finds it free.
            if s & WRITING == 0 {
                self.state.store(s | WRITING, Ordering::Relaxed);
                return Some(s);
            }
        }
        let mut backoff = Backoff::default();
        loop {
            let s = self.state.load(Ordering::Relaxed);
            if s & SEALED != 0 {
                return None;
            }
            if s & WRITING != 0 {
                backoff.snooze();
                continue;
            }
            if self.state.compare_exchange_weak(s, s | WRITING, Ordering::Acquire, Ordering::Relaxed).is_ok()
            {
                return Some(s);
            }
        }
    }

    /// Stores `words` as the `len` bytes and releases the lock taken at `s`.
    #[inline]
    fn publish(&self, s: u32, words: [u64; WORDS], len: usize) {
        // Readers that see any of these stores must also see WRITING (or a
        // new version) when they re-check the state.
        fence(Ordering::Release);
        for (w, v) in self.words.iter().zip(words) {
            w.store(v, Ordering::Relaxed);
        }
        let next = ((s & !0xff).wrapping_add(VERSION)) | ((len as u32) << LEN_SHIFT);
        self.state.store(next, Ordering::Release);
    }

    /// The words and length, consistent (retrying while a writer overlaps).
    #[inline]
    fn load(&self) -> ([u64; WORDS], usize) {
        let mut backoff = Backoff::default();
        loop {
            let s1 = self.state.load(Ordering::Acquire);
            if s1 & WRITING != 0 {
                backoff.snooze();
                continue;
            }
            let words = std::array::from_fn(|i| self.words[i].load(Ordering::Relaxed));
            fence(Ordering::Acquire);
            let s2 = self.state.load(Ordering::Relaxed);
            // A seal alone changes no byte.
            if s1 & !SEALED == s2 & !SEALED {
                return (words, ((s1 & LEN_MASK) >> LEN_SHIFT) as usize);
            }
        }
    }
}

impl Value {
    /// A value holding a copy of `bytes`.
    pub fn new(bytes: &[u8]) -> Self {
        if bytes.len() <= INLINE {
            let w = pack(bytes);
            Value::Inline(Cell {
                state: AtomicU32::new((bytes.len() as u32) << LEN_SHIFT),
                words: std::array::from_fn(|i| AtomicU64::new(w[i])),
            })
        } else {
            Value::Heap(bytes.into())
        }
    }

    /// A consistent copy of the bytes (long ones shared, not copied).
    #[inline]
    pub fn bytes(&self) -> Bytes {
        match self {
            Value::Heap(b) => Bytes::Heap(b.clone()),
            Value::Inline(c) => {
                let (words, len) = c.load();
                let mut buf = [0u8; INLINE];
                for (i, w) in words.iter().enumerate() {
                    buf[8 * i..8 * i + 8].copy_from_slice(&w.to_le_bytes());
                }
                Bytes::Inline { len: len as u8, buf }
            }
        }
    }

    /// The int an inline value holds, read straight from its words (no
    /// byte copy to read back); otherwise a consistent copy of the bytes.
    #[inline]
    pub fn int_or_bytes(&self) -> Result<i64, Bytes> {
        match self {
            Value::Heap(b) => Err(Bytes::Heap(b.clone())),
            Value::Inline(c) => {
                let (words, len) = c.load();
                if len == 9 && words[0] as u8 == INT {
                    return Ok(((words[0] >> 8) | (words[1] << 56)) as i64);
                }
                let mut buf = [0u8; INLINE];
                for (i, w) in words.iter().enumerate() {
                    buf[8 * i..8 * i + 8].copy_from_slice(&w.to_le_bytes());
                }
                Err(Bytes::Inline { len: len as u8, buf })
            }
        }
    }

    /// Rewrites the bytes in place; `false` (nothing changed) when the value
    /// is not inline, `bytes` is too long, or the value is sealed. `serial`:
    /// the caller holds the GIL (see the module docs).
    #[inline]
    pub fn overwrite(&self, bytes: &[u8], serial: Option<Serial<'_>>) -> bool {
        let Value::Inline(c) = self else { return false };
        if bytes.len() > INLINE {
            return false;
        }
        let words = pack(bytes);
        let Some(s) = c.lock(serial) else { return false };
        c.publish(s, words, bytes.len());
        true
    }

    /// [`Value::overwrite`] with the encoding of the int `n`, built in
    /// registers.
    #[inline]
    pub fn overwrite_int(&self, n: i64, serial: Option<Serial<'_>>) -> bool {
        let Value::Inline(c) = self else { return false };
        let Some(s) = c.lock(serial) else { return false };
        let n = n as u64;
        c.publish(s, [u64::from(INT) | (n << 8), n >> 56], 9);
        true
    }

    /// Adds `by` in place to a 64-bit int value and returns the sum. `None`
    /// (nothing changed) when the value is not an inline 64-bit int, is
    /// sealed, or the sum overflows.
    #[inline]
    pub fn add_int(&self, by: i64, serial: Option<Serial<'_>>) -> Option<i64> {
        let Value::Inline(c) = self else { return None };
        let s = c.lock(serial)?;
        let len = ((s & LEN_MASK) >> LEN_SHIFT) as usize;
        let w0 = c.words[0].load(Ordering::Relaxed);
        let w1 = c.words[1].load(Ordering::Relaxed);
        // An int encodes as its tag then 8 little-endian bytes: bytes 1..9.
        let is_int = len == 9 && w0 as u8 == INT;
        let sum = if is_int { (((w0 >> 8) | (w1 << 56)) as i64).checked_add(by) } else { None };
        match sum {
            Some(n) => {
                let n = n as u64;
                c.publish(s, [u64::from(INT) | (n << 8), n >> 56], len);
            }
            // Nothing written: release without a new version.
            None => c.state.store(s, Ordering::Release),
        }
        sum
    }

    /// Stops in-place writes (waiting for one under way): the bytes are
    /// final afterwards. Idempotent.
    pub fn seal(&self) {
        let Value::Inline(c) = self else { return };
        let mut backoff = Backoff::default();
        loop {
            let s = c.state.load(Ordering::Relaxed);
            if s & SEALED != 0 {
                return;
            }
            if s & WRITING == 0
                && c.state.compare_exchange_weak(s, s | SEALED, Ordering::AcqRel, Ordering::Relaxed).is_ok()
            {
                return;
            }
            backoff.snooze();
        }
    }

    /// Heap bytes owned (constant over the value's life: in-place writes
    /// only ever touch inline values).
    pub fn heap_size(&self) -> usize {
        match self {
            Value::Inline(_) => 0,
            // The Arc's two counters live in the same allocation.
            Value::Heap(b) => b.len() + 2 * size_of::<usize>(),
        }
    }
}

/// A fresh, unsealed value with the same bytes.
impl Clone for Value {
    fn clone(&self) -> Self {
        match self {
            Value::Heap(b) => Value::Heap(b.clone()),
            Value::Inline(_) => Value::new(&self.bytes()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::int_bytes;

    #[test]
    fn inline_and_heap_round_trip() {
        for len in [0, 1, 9, INLINE, INLINE + 1, 100] {
            let bytes: Vec<u8> = (0..len).map(|i| i as u8 + 1).collect();
            let v = Value::new(&bytes);
            assert_eq!(&*v.bytes(), &bytes[..]);
            assert_eq!(matches!(v, Value::Heap(_)), len > INLINE);
            assert_eq!(&*v.clone().bytes(), &bytes[..]);
            assert_eq!(v.int_or_bytes().map_err(|b| b.to_vec()), Err(bytes.clone()));
        }
    }

    #[test]
    fn overwrite_changes_length_and_respects_seal() {
        let v = Value::new(&int_bytes(5));
        assert!(v.overwrite(b"abc", None));
        assert_eq!(&*v.bytes(), b"abc");
        assert!(v.overwrite(&[7; INLINE], None));
        assert_eq!(&*v.bytes(), &[7; INLINE]);
        assert!(!v.overwrite(&[1; INLINE + 1], None), "too long for in place");
        assert_eq!(&*v.bytes(), &[7; INLINE]);
        v.seal();
        assert!(!v.overwrite(b"x", None));
        assert_eq!(&*v.bytes(), &[7; INLINE], "a sealed value keeps its bytes");
        let clone = v.clone();
        assert!(clone.overwrite(b"x", None), "a clone is unsealed");
        assert!(!Value::new(&[0; INLINE + 1]).overwrite(b"x", None));
    }

    #[test]
    fn overwrite_int_encodes_like_int_bytes() {
        let v = Value::new(b"text");
        for n in [0, 1, -1, 255, 256, i64::MAX, i64::MIN] {
            assert!(v.overwrite_int(n, None));
            assert_eq!(&*v.bytes(), &int_bytes(n));
            assert_eq!(v.int_or_bytes().ok(), Some(n));
        }
        v.seal();
        assert!(!v.overwrite_int(3, None));
        assert!(!Value::new(&[0; INLINE + 1]).overwrite_int(3, None));
    }

    #[test]
    fn add_int_only_on_unsealed_ints_without_overflow() {
        let v = Value::new(&int_bytes(-3));
        assert_eq!(v.add_int(10, None), Some(7));
        assert_eq!(&*v.bytes(), &int_bytes(7));
        assert_eq!(v.add_int(i64::MAX, None), None, "overflow");
        assert_eq!(&*v.bytes(), &int_bytes(7), "a failed add changes nothing");
        assert_eq!(v.add_int(-(1 << 40), None), Some(7 - (1 << 40)));
        assert_eq!(&*v.bytes(), &int_bytes(7 - (1 << 40)));
        assert_eq!(v.int_or_bytes().ok(), Some(7 - (1 << 40)));
        assert_eq!(Value::new(&int_bytes(i64::MIN)).int_or_bytes().ok(), Some(i64::MIN));
        assert!(v.overwrite(b"\x06\x01a", None));
        assert_eq!(v.add_int(1, None), None, "not an int");
        v.seal();
        let v2 = Value::new(&int_bytes(1));
        v2.seal();
        assert_eq!(v2.add_int(1, None), None, "sealed");
    }

    #[test]
    fn racing_writers_never_tear() {
        // Each writer stores a value whose bytes are all equal to its length:
        // a torn read would mix lengths and bytes.
        let v = Arc::new(Value::new(&[1]));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writers: Vec<_> = [3usize, 9, INLINE]
            .into_iter()
            .map(|n| {
                let (v, stop) = (v.clone(), stop.clone());
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        assert!(v.overwrite(&vec![n as u8; n], None));
                    }
                })
            })
            .collect();
        for _ in 0..200_000 {
            let b = v.bytes();
            assert!(b.iter().all(|&x| usize::from(x) == b.len()), "torn read: {:?}", &*b);
        }
        stop.store(true, Ordering::Relaxed);
        writers.into_iter().for_each(|w| w.join().unwrap());
    }

    #[test]
    fn racing_adds_lose_nothing() {
        let v = Arc::new(Value::new(&int_bytes(0)));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let v = v.clone();
                std::thread::spawn(move || (0..20_000).for_each(|_| assert!(v.add_int(1, None).is_some())))
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(&*v.bytes(), &int_bytes(80_000));
    }
}
