//! The inline bytes of a stored object. Short objects are kept inline under
//! a sequence lock, so that `insert` over an existing key of a `set` rewrites
//! them in place (no allocation, no entry swap), as ETS does for same-size
//! objects. Longer ones live on the heap and never change (see
//! [`crate::objects::Obj`]); their `Code` holds only the heap length. The
//! state word also carries the object's [`Kind`], fixed at creation.
//!
//! Readers copy the bytes out and retry if a writer overlapped. A writer
//! that replaces the object *based on its current value* seals it first
//! (see [`Code::seal`]); later in-place writes then fail and take the
//! general path, which stores a fresh object. Value-independent replacements
//! (`insert`, `delete`) race benignly: an in-place write that lands on a
//! replaced object is ordered before the replacement.

use std::sync::atomic::{fence, AtomicU32, Ordering};

use crate::codec;

/// Bytes kept inline.
pub const INLINE: usize = 28;
/// 32-bit words holding the inline bytes.
const WORDS: usize = INLINE / 4;

/// `state` bit: a writer holds the sequence lock.
const WRITING: u32 = 1;
/// `state` bit: no more in-place writes.
const SEALED: u32 = 2;
/// Where the length sits in `state`.
const LEN_SHIFT: u32 = 2;
/// The length bits of `state`.
const LEN_MASK: u32 = 0x3f << LEN_SHIFT;
/// Where the [`Kind`] sits in `state`.
const KIND_SHIFT: u32 = 8;
/// The kind bits of `state`.
const KIND_MASK: u32 = 3 << KIND_SHIFT;
/// One version step in `state` (bumped by every write).
const VERSION: u32 = 1 << 10;

/// What an object keeps beside its inline bytes (see [`crate::objects::Obj`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// Nothing: a short tuple without big binaries.
    Plain = 0,
    /// A short tuple with one big binary.
    Blob = 1,
    /// A long tuple (bytes on the heap) without big binaries or counters.
    Heap = 2,
    /// Anything else, in a separate allocation.
    More = 3,
}

/// Waiting for a lock holder: spin briefly, then yield the thread (the
/// holder may have been descheduled by the OS mid-write).
#[derive(Default)]
pub struct Backoff(u32);

impl Backoff {
    /// Waits a little longer than last time.
    #[inline]
    pub fn snooze(&mut self) {
        if self.0 < 64 {
            self.0 += 1;
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
}

/// Up to [`INLINE`] bytes under a sequence lock, rewritable in place.
pub struct Code {
    /// `WRITING`, `SEALED`, the length (bits 2..8), the [`Kind`] (bits
    /// 8..10) and a version (bits 10..).
    state: AtomicU32,
    /// The bytes, little-endian.
    words: [AtomicU32; WORDS],
}

/// `bytes` (at most [`INLINE`]) as zero-padded little-endian words.
#[inline]
fn pack(bytes: &[u8]) -> [u32; WORDS] {
    // Word by word from the slice (no staging buffer, no memcpy call).
    std::array::from_fn(|i| match bytes.get(4 * i..4 * i + 4) {
        Some(w) => u32::from_le_bytes([w[0], w[1], w[2], w[3]]),
        None => {
            let mut w = [0u8; 4];
            let tail = bytes.get(4 * i..).unwrap_or(&[]);
            w[..tail.len()].copy_from_slice(tail);
            u32::from_le_bytes(w)
        }
    })
}

impl Code {
    /// A code of kind `kind` holding a copy of `bytes` (at most [`INLINE`]).
    pub fn new(bytes: &[u8], kind: Kind) -> Self {
        let bytes = if bytes.len() <= INLINE { bytes } else { &[] };
        let w = pack(bytes);
        Code {
            state: AtomicU32::new(((bytes.len() as u32) << LEN_SHIFT) | ((kind as u32) << KIND_SHIFT)),
            words: std::array::from_fn(|i| AtomicU32::new(w[i])),
        }
    }

    /// An empty code of kind [`Kind::Heap`] recording the length of the
    /// object's heap bytes (read back by [`Code::heap_len`]).
    pub fn heap(len: usize) -> Self {
        let code = Code::new(&[], Kind::Heap);
        code.words[0].store(len as u32, Ordering::Relaxed);
        code
    }

    /// The heap length given to [`Code::heap`] (never rewritten).
    #[inline]
    pub fn heap_len(&self) -> usize {
        self.words[0].load(Ordering::Relaxed) as usize
    }

    /// The object's kind (fixed at creation).
    #[inline]
    pub fn kind(&self) -> Kind {
        match (self.state.load(Ordering::Relaxed) & KIND_MASK) >> KIND_SHIFT {
            0 => Kind::Plain,
            1 => Kind::Blob,
            2 => Kind::Heap,
            _ => Kind::More,
        }
    }

    /// Calls `f` with a consistent copy of the bytes.
    #[inline]
    pub fn with<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        let c = self;
        let mut backoff = Backoff::default();
        loop {
            let s1 = c.state.load(Ordering::Acquire);
            if s1 & WRITING != 0 {
                backoff.snooze();
                continue;
            }
            let mut buf = [0u8; INLINE];
            for (i, w) in c.words.iter().enumerate() {
                buf[4 * i..4 * i + 4].copy_from_slice(&w.load(Ordering::Relaxed).to_le_bytes());
            }
            fence(Ordering::Acquire);
            let s2 = c.state.load(Ordering::Relaxed);
            if s1 & !SEALED == s2 & !SEALED {
                let len = ((s1 & LEN_MASK) >> LEN_SHIFT) as usize;
                return f(&buf[..len]);
            }
        }
    }

    /// Rewrites the bytes in place; `false` (nothing changed) when `bytes`
    /// is too long or the code is sealed.
    pub fn overwrite(&self, bytes: &[u8]) -> bool {
        let c = self;
        if bytes.len() > INLINE {
            return false;
        }
        let mut backoff = Backoff::default();
        let s = loop {
            let s = c.state.load(Ordering::Relaxed);
            if s & SEALED != 0 {
                return false;
            }
            if s & WRITING != 0 {
                backoff.snooze();
                continue;
            }
            if c.state.compare_exchange_weak(s, s | WRITING, Ordering::Acquire, Ordering::Relaxed).is_ok() {
                break s;
            }
        };
        fence(Ordering::Release);
        for (w, v) in c.words.iter().zip(pack(bytes)) {
            w.store(v, Ordering::Relaxed);
        }
        let next = ((s & !0xff).wrapping_add(VERSION)) | ((bytes.len() as u32) << LEN_SHIFT);
        c.state.store(next, Ordering::Release);
        true
    }

    /// Adds `incr` to the integer at 1-based tuple position `pos` in place;
    /// the new value. `None` (nothing changed) when the code is sealed, the
    /// element is not a 64-bit integer, or the sum overflows.
    pub fn add_int(&self, pos: usize, incr: i64) -> Option<i64> {
        let c = self;
        let mut backoff = Backoff::default();
        let s = loop {
            let s = c.state.load(Ordering::Relaxed);
            if s & SEALED != 0 {
                return None;
            }
            if s & WRITING != 0 {
                backoff.snooze();
                continue;
            }
            if c.state.compare_exchange_weak(s, s | WRITING, Ordering::Acquire, Ordering::Relaxed).is_ok() {
                break s;
            }
        };
        let mut buf = [0u8; INLINE];
        for (i, w) in c.words.iter().enumerate() {
            buf[4 * i..4 * i + 4].copy_from_slice(&w.load(Ordering::Relaxed).to_le_bytes());
        }
        let len = ((s & LEN_MASK) >> LEN_SHIFT) as usize;
        let range = codec::tuple_element(&buf[..len], pos).filter(|r| buf[r.start] == codec::INT);
        let updated = range.clone().and_then(|r| {
            let old = i64::from_le_bytes(buf[r.start + 1..r.end].try_into().ok()?);
            let new = old.checked_add(incr)?;
            buf[r.start + 1..r.end].copy_from_slice(&new.to_le_bytes());
            Some(new)
        });
        match (updated, range) {
            (Some(_), Some(r)) => {
                fence(Ordering::Release);
                // Only the words holding the integer changed.
                for i in r.start / 4..r.end.div_ceil(4) {
                    let v = u32::from_le_bytes([buf[4 * i], buf[4 * i + 1], buf[4 * i + 2], buf[4 * i + 3]]);
                    c.words[i].store(v, Ordering::Relaxed);
                }
                c.state.store((s & !0xff).wrapping_add(VERSION) | (s & LEN_MASK), Ordering::Release);
            }
            // Nothing written: release without a new version.
            _ => c.state.store(s, Ordering::Release),
        }
        updated
    }

    /// Stops in-place rewrites (waiting for one under way); the bytes are
    /// final afterwards.
    pub fn seal(&self) {
        let c = self;
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
}
