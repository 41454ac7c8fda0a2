//! The read cache: per table, the Python objects that recent reads returned,
//! so that reading a key again is a hash, a pointer compare and an incref:
//! no reader section, no table probe, no decoding, no allocation.
//!
//! Only used when the interpreter has a GIL, and only by a thread that holds
//! it (every method takes the [`Serial`] proof): all its state is then
//! accessed by one thread at a time, so it needs no atomics. What makes it
//! exact is that every write to a table happens under the GIL too, except
//! the bulk writes that release it, and each write invalidates what it may
//! have changed before any other thread can run:
//!
//! * a write to one key ([`ReadCache::forget`]: `t[k] = v`, `del`, `incr`,
//!   `pop`, `setdefault`, `insert_new`) bumps the stamp of the key's set,
//!   which invalidates the set's slots, with no Python code between the
//!   write and the bump; a write whose key is not a common one
//!   (`t[1.0] = x` changes `t[1]`), and `popitem`, bump the version, which
//!   invalidates every slot ([`ReadCache::forget_all`]);
//! * a bulk write ([`ReadCache::bulk`]: `update`, `load`, `clear`) bumps
//!   the version before it starts and after it ends, and nothing is cached
//!   while one runs.
//!
//! A hit therefore returns the object the table holds at that instant (as
//! a read of the table would decode it), and a fill stores what a read
//! decoded while holding the GIL, so no write came in between.
//!
//! A slot also records the address of the table entry it was read from, so
//! that `t[k] = v` and `incr` over a short value write it in place without
//! pinning or probing the table ([`ReadCache::write_through`]). While the
//! slot is valid that entry is still linked: it is unlinked only by a write
//! to its key, which invalidates the slot before the GIL can move, or by a
//! bulk write, which invalidates every slot first. And the core never moves
//! or frees a linked entry (entries are boxed and never move, resizes copy
//! the pointers; an entry is retired only once unlinked), which the tests
//! of `table` check. So the address stays valid for as long as the slot.
//!
//! Cached objects are immutable (`int`, `float`, `str`, `bool`, `None`,
//! short `bytes`) and short (inline values, see `value`), so sharing one
//! between readers is safe and the memory held is bounded: at most
//! [`MAX_SLOTS`] keys and values. Containers are always decoded afresh.
//! Freeing any of these objects runs no Python code, so the cache may drop
//! references at any point of a call. An invalidated slot keeps its
//! references until it is reused (or the table cleared or freed).
//!
//! The cache pays when keys repeat: when a window of fills sees fewer hits
//! than fills (random reads over more keys than it holds), it sits out the
//! next 262,144 lookups, so that a cold workload pays for it in one
//! lookup in 256, and twice as many after each verdict against it in a row
//! (up to 16x). A verdict waits until the cache has had as many fills as it
//! has slots: a cold cache misses every first read, so judging it earlier
//! would make it sit out of random reads over a table it could hold whole.
//! It invalidates every slot as it steps aside, so that meanwhile no slot
//! is valid and writes skip their invalidation too.
//!
//! Layout: 4-way set-associative, the set chosen by the key's Python hash
//! (equal keys have equal hashes, so `1` and `1.0` meet in one set), sized
//! for four slots per entry of the table, between [`MIN_SLOTS`] and
//! [`MAX_SLOTS`]; it grows as the table does. A slot is valid while its tag
//! equals the version (high half) and its set's stamp (low half).

use std::cell::UnsafeCell;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyInt, PyString};

use crate::gil::Serial;
use crate::table::Entry;

/// Slots per set.
const WAYS: usize = 4;
/// Slots of a new cache.
const MIN_SLOTS: usize = 64;
/// Slots at most (640 KiB of slots).
pub const MAX_SLOTS: usize = 1 << 14;
/// Fills per verdict on whether the cache pays (see [`Inner::skip`]).
const WINDOW: u64 = 1024;
/// Lookups the cache sits out after a window with fewer hits than fills
/// (doubled for each such verdict in a row, up to [`MAX_BACKOFF`] times).
const SIT_OUT: u32 = 1 << 18;
/// Doublings of [`SIT_OUT`] at most.
const MAX_BACKOFF: u32 = 4;

/// One cached read.
struct Slot {
    /// The key, a common one (exact `str`, `int` or `None`).
    key: Option<Py<PyAny>>,
    /// The value under it; `None` when only its presence is known (`in`).
    value: Option<Py<PyAny>>,
    /// The key's Python hash (compared before the key).
    hash: u64,
    /// Valid while equal to [`Inner::tag`] of its set (0: empty).
    tag: u64,
    /// The table entry the value was read from (null: unknown), linked
    /// while the slot is valid (see the module docs).
    entry: *const Entry,
}

const EMPTY: Slot = Slot { key: None, value: None, hash: 0, tag: 0, entry: std::ptr::null() };

impl Slot {
    /// Whether this slot's key is `key`, whose hash is `h`.
    #[inline(always)]
    fn holds(&self, h: u64, key: &Bound<'_, PyAny>) -> bool {
        self.hash == h && self.key.as_ref().is_some_and(|k| same_key(k, key))
    }

    /// Drops the references (the caller holds the GIL).
    fn release(self, serial: Serial<'_>) {
        self.key.into_iter().chain(self.value).for_each(|o| release(serial, o));
    }
}

struct Inner {
    /// Bumped to invalidate every slot; never 0 (so no tag is 0).
    version: u32,
    /// Bulk writes under way (they run with the GIL released).
    bulk: usize,
    /// Fills since the size was last checked.
    fills: usize,
    /// Hits and fills in the current window.
    window_hits: u64,
    window_fills: u64,
    /// Fills since the cache last came back (or started): no verdict
    /// before it had as many as it has slots.
    warming: usize,
    /// Verdicts against the cache in a row (doublings of the sit-out).
    backoff: u32,
    /// Lookups left to sit out: a cache that misses more often than it
    /// hits (keys that do not repeat, or more hot keys than slots) only
    /// adds work (a fill per miss, each touching objects and slots that
    /// are cold), so after such a window it stays out of the way for a
    /// while, then tries again. It invalidates every slot as it starts
    /// (see [`Inner::sit_out`]), so nothing is valid while it sits out and
    /// writes meanwhile have nothing to invalidate.
    skip: u32,
    slots: Box<[Slot]>,
    /// One per set: bumped to invalidate the set's slots.
    stamps: Box<[u32]>,
}

/// The read cache of one table (see the module docs).
pub struct ReadCache {
    inner: UnsafeCell<Inner>,
}

// SAFETY: the state is only reached through `inner`, which requires the
// `Serial` proof: one thread at a time, with the GIL handing it over (a
// full synchronisation). The `Py` references it owns may be dropped by any
// thread (pyo3 defers the decref when that thread is not attached); the
// entry addresses are only followed through `inner` too.
unsafe impl Sync for ReadCache {}
// SAFETY: as above.
unsafe impl Send for ReadCache {}

impl Default for ReadCache {
    fn default() -> Self {
        ReadCache {
            inner: UnsafeCell::new(Inner {
                version: 1,
                bulk: 0,
                fills: 0,
                window_hits: 0,
                window_fills: 0,
                warming: 0,
                backoff: 0,
                skip: 0,
                slots: Box::new([]),
                stamps: Box::new([]),
            }),
        }
    }
}

/// Drops a reference now: the caller holds the GIL (pyo3 would defer it,
/// since the direct slots do not count the thread as attached).
#[inline(always)]
fn release(_: Serial<'_>, obj: Py<PyAny>) {
    // SAFETY: attached (the `Serial` proof); `into_ptr` hands over the
    // reference being dropped. Cached objects free no Python code.
    unsafe { ffi::Py_DECREF(obj.into_ptr()) }
}

/// Whether `key` can be cached: an exact `str`, `int`, or `None` (the
/// common keys, whose equality and hash are C code that cannot fail).
#[inline(always)]
fn cacheable_key(key: &Bound<'_, PyAny>) -> bool {
    key.is_exact_instance_of::<PyString>() || key.is_exact_instance_of::<PyInt>() || key.is_none()
}

/// The Python hash of a cacheable key (a str's is cached in the object).
#[inline(always)]
fn hash_of(key: &Bound<'_, PyAny>) -> Option<u64> {
    let ptr = key.as_ptr();
    // SAFETY: attached, `ptr` is live; the str layout is read only for an exact str.
    let h = unsafe {
        let cached = if key.is_exact_instance_of::<PyString>() {
            (*ptr.cast::<ffi::PyASCIIObject>()).hash
        } else {
            -1
        };
        if cached != -1 {
            cached
        } else {
            ffi::PyObject_Hash(ptr)
        }
    };
    if h == -1 {
        // Not for cacheable keys; but never leave an error set.
        // SAFETY: attached.
        unsafe { ffi::PyErr_Clear() };
        return None;
    }
    Some(h as u64)
}

/// Whether `cached` (a cacheable key) equals `key`, as a dict compares keys.
#[inline(always)]
fn same_key(cached: &Py<PyAny>, key: &Bound<'_, PyAny>) -> bool {
    let (a, b) = (cached.as_ptr(), key.as_ptr());
    if a == b {
        return true;
    }
    // SAFETY: attached; both live. Objects of different types among the
    // cacheable ones are never equal; str == str and int == int are C
    // comparisons that run no Python code.
    unsafe {
        if ffi::Py_TYPE(a) != ffi::Py_TYPE(b) {
            return false;
        }
        match ffi::PyObject_RichCompareBool(a, b, ffi::Py_EQ) {
            1 => true,
            0 => false,
            _ => {
                ffi::PyErr_Clear();
                false
            }
        }
    }
}

/// The slot count for a table of `len` entries.
fn size_for(len: usize) -> usize {
    len.saturating_mul(WAYS).next_power_of_two().clamp(MIN_SLOTS, MAX_SLOTS)
}

impl Inner {
    /// The set of the key with hash `h`.
    #[inline(always)]
    fn set_of(&self, h: u64) -> usize {
        let bits = self.stamps.len().trailing_zeros();
        // Fibonacci hashing: ints hash to themselves, so mix before taking
        // the top bits.
        if bits == 0 {
            0
        } else {
            (h.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - bits)) as usize
        }
    }

    /// The tag of the valid slots of `set`.
    #[inline(always)]
    fn tag(&self, set: usize) -> u64 {
        u64::from(self.version) << 32 | u64::from(self.stamps[set])
    }

    /// Drops every slot and reference; `len` slots afterwards.
    fn resize(&mut self, serial: Serial<'_>, len: usize) {
        let old = std::mem::replace(&mut self.slots, (0..len).map(|_| EMPTY).collect());
        self.stamps = vec![0; len / WAYS].into_boxed_slice();
        self.version = 1;
        self.fills = 0;
        old.into_vec().into_iter().for_each(|s| s.release(serial));
    }

    /// Steps aside for [`SIT_OUT`] lookups (doubled for each verdict
    /// against the cache in a row, see `backoff`), invalidating every slot
    /// first: nothing is recorded meanwhile, so nothing needs invalidating
    /// either (writes skip the hash and the stamp of their key's set), and
    /// the cache comes back empty.
    fn sit_out(&mut self, serial: Serial<'_>) {
        self.bump(serial);
        self.skip = SIT_OUT << self.backoff;
        self.backoff = (self.backoff + 1).min(MAX_BACKOFF);
        self.warming = 0;
    }

    /// Invalidates every slot.
    fn bump(&mut self, serial: Serial<'_>) {
        if self.version == u32::MAX {
            // A tag must never come back: start over.
            let len = self.slots.len();
            self.resize(serial, len);
        } else {
            self.version += 1;
        }
    }
}

impl ReadCache {
    /// The state; one borrow at a time (no method calls another while it
    /// holds one).
    #[inline(always)]
    #[allow(clippy::mut_from_ref)]
    fn inner(&self, _: Serial<'_>) -> &mut Inner {
        // SAFETY: the `Serial` proof: only the thread holding the GIL gets
        // here, and it does not re-enter (see above), so the borrow is unique.
        unsafe { &mut *self.inner.get() }
    }

    /// The index of the valid slot of `key`, if any (none while the cache
    /// sits out).
    #[inline(always)]
    fn find(inner: &mut Inner, key: &Bound<'_, PyAny>) -> Option<usize> {
        if inner.skip > 0 {
            inner.skip -= 1;
            return None;
        }
        if inner.slots.is_empty() || !cacheable_key(key) {
            return None;
        }
        let h = hash_of(key)?;
        let set = inner.set_of(h);
        let tag = inner.tag(set);
        let first = set * WAYS;
        let way = inner.slots[first..first + WAYS].iter().position(|s| s.tag == tag && s.holds(h, key))?;
        inner.window_hits += 1;
        Some(first + way)
    }

    /// The cached value of `key` (a new reference), if any.
    #[inline(always)]
    pub fn get<'py>(&self, serial: Serial<'py>, key: &Bound<'py, PyAny>) -> Option<Bound<'py, PyAny>> {
        let inner = self.inner(serial);
        let i = Self::find(inner, key)?;
        inner.slots[i].value.as_ref().map(|v| v.bind(key.py()).clone())
    }

    /// Whether `key` is known to be present.
    #[inline(always)]
    pub fn contains(&self, serial: Serial<'_>, key: &Bound<'_, PyAny>) -> bool {
        Self::find(self.inner(serial), key).is_some()
    }

    /// Writes the value of `key` in place through the entry its valid slot
    /// recorded: `write` gets the entry and returns the new value's object
    /// when it wrote (it must not run Python code), which becomes the cached
    /// value. `None`: no such slot, or `write` did not write.
    #[inline(always)]
    pub fn write_through<'py>(
        &self,
        serial: Serial<'py>,
        key: &Bound<'py, PyAny>,
        write: impl FnOnce(&Entry) -> Option<Bound<'py, PyAny>>,
    ) -> Option<Bound<'py, PyAny>> {
        let inner = self.inner(serial);
        let i = Self::find(inner, key)?;
        let slot = &mut inner.slots[i];
        if slot.entry.is_null() {
            return None;
        }
        // SAFETY: the slot is valid, so its entry is linked in the table,
        // hence alive and where it was recorded (see the module docs).
        let value = write(unsafe { &*slot.entry })?;
        if let Some(old) = slot.value.replace(value.clone().unbind()) {
            release(serial, old);
        }
        Some(value)
    }

    /// Records `value` (or, when `None`, only the presence) of `key` and
    /// the `entry` holding it, just read or written under the GIL;
    /// nothing if a bulk write runs or `key` is not cacheable. `len` gives
    /// the table's entry count, to size the cache.
    #[inline(always)]
    pub fn fill(
        &self,
        serial: Serial<'_>,
        key: &Bound<'_, PyAny>,
        value: Option<&Bound<'_, PyAny>>,
        entry: *const Entry,
        len: impl FnOnce() -> usize,
    ) {
        // Sitting out, nothing is recorded and nothing is valid, so a
        // write has nothing to invalidate either: decided inline, so that a
        // cold read or write, the case the cache sits out for, pays no call.
        if self.inner(serial).skip > 0 {
            return;
        }
        self.fill_slow(serial, key, value, entry, len);
    }

    /// [`ReadCache::fill`] past its inline check.
    fn fill_slow(
        &self,
        serial: Serial<'_>,
        key: &Bound<'_, PyAny>,
        value: Option<&Bound<'_, PyAny>>,
        entry: *const Entry,
        len: impl FnOnce() -> usize,
    ) {
        let inner = self.inner(serial);
        if inner.bulk > 0 || !cacheable_key(key) {
            return;
        }
        // `fill` returned while sitting out: `skip` is 0 here.
        inner.window_fills += 1;
        inner.warming += 1;
        if inner.window_fills >= WINDOW {
            let pays = inner.window_hits >= inner.window_fills;
            inner.window_hits = 0;
            inner.window_fills = 0;
            if pays {
                inner.backoff = 0;
            } else if inner.warming >= inner.slots.len() {
                inner.sit_out(serial);
                return;
            }
        }
        inner.fills += 1;
        if inner.slots.is_empty() || inner.fills > inner.slots.len() {
            inner.fills = 0;
            let want = size_for(len());
            if want > inner.slots.len() {
                inner.resize(serial, want);
            }
        }
        let Some(h) = hash_of(key) else { return };
        let set = inner.set_of(h);
        let tag = inner.tag(set);
        let first = set * WAYS;
        let ways = &inner.slots[first..first + WAYS];
        let way =
            ways.iter().position(|s| s.holds(h, key)).or_else(|| ways.iter().position(|s| s.tag != tag));
        let i = match way {
            Some(w) => first + w,
            None => {
                // All live: drop the last, move the others down.
                std::mem::replace(&mut inner.slots[first + WAYS - 1], EMPTY).release(serial);
                inner.slots[first..first + WAYS].rotate_right(1);
                first
            }
        };
        let slot = Slot {
            key: Some(key.clone().unbind()),
            value: value.map(|v| v.clone().unbind()),
            hash: h,
            tag,
            entry,
        };
        std::mem::replace(&mut inner.slots[i], slot).release(serial);
    }

    /// Invalidates what a write to `key` may have changed (see the module
    /// docs): its set, or, for a key that is not cacheable (it may equal a
    /// cached one: `1.0` and `1`), every slot.
    #[inline(always)]
    pub fn forget(&self, serial: Serial<'_>, key: &Bound<'_, PyAny>) {
        Self::forget_in(self.inner(serial), serial, key);
    }

    /// [`ReadCache::forget`] on the borrowed state.
    #[inline(always)]
    fn forget_in(inner: &mut Inner, serial: Serial<'_>, key: &Bound<'_, PyAny>) {
        // Sitting out, no slot is valid (see `Inner::sit_out`).
        if inner.slots.is_empty() || inner.skip > 0 {
            return;
        }
        let h = if cacheable_key(key) { hash_of(key) } else { None };
        let Some(h) = h else { return inner.bump(serial) };
        let set = inner.set_of(h);
        if inner.stamps[set] == u32::MAX {
            // A tag must never come back: empty the set, restart its stamp.
            for i in set * WAYS..(set + 1) * WAYS {
                std::mem::replace(&mut inner.slots[i], EMPTY).release(serial);
            }
            inner.stamps[set] = 0;
        } else {
            inner.stamps[set] += 1;
        }
    }

    /// Invalidates every slot (after a write whose key is not at hand).
    pub fn forget_all(&self, serial: Serial<'_>) {
        self.inner(serial).bump(serial);
    }

    /// Runs `write`, a bulk write that may release the GIL, keeping the
    /// cache out of it: everything cached before is invalid afterwards, and
    /// nothing is cached until every bulk write has ended.
    pub fn bulk<R>(&self, serial: Serial<'_>, write: impl FnOnce() -> R) -> R {
        let inner = self.inner(serial);
        inner.bulk += 1;
        inner.bump(serial);
        // If `write` panics the count stays up: nothing is cached any more
        // (safe, only slower).
        let out = write();
        // The GIL is held again: `write` returned to this thread.
        let inner = self.inner(serial);
        inner.bulk -= 1;
        inner.bump(serial);
        out
    }

    /// Drops every cached reference and the slots (after `clear`).
    pub fn reset(&self, serial: Serial<'_>) {
        self.inner(serial).resize(serial, 0);
    }

    /// Bytes of the slots and stamps.
    pub fn bytes(&self, serial: Serial<'_>) -> usize {
        let inner = self.inner(serial);
        inner.slots.len() * size_of::<Slot>() + inner.stamps.len() * size_of::<u32>()
    }
}
