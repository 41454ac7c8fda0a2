//! Stored objects (encoded tuples) and what a key maps to: one object for a
//! `set`, an insertion-ordered list of objects for a `bag`/`duplicate_bag`.

use std::cell::Cell;
use std::mem::{size_of, ManuallyDrop};
use std::ptr;

use ferrets_core::HeapSize;
use rustler::sys::{c_void, enif_get_tuple, ErlNifEnv, ErlNifTerm};

use crate::blob::{Blob, Blobs};
use crate::cells::Cells;
use crate::code::{Code, Kind};
use crate::codec;
use crate::key::Key;
use crate::prefilter::Clause;

/// One stored tuple: its [`codec`] bytes, the big binaries it shares, and
/// (once `update_counter` touched it) its integer elements as [`Cells`].
///
/// 40 bytes, so that with its [`Key`] a short object fills one 64-byte table
/// entry (every byte of an entry counts: the probe's cache misses on the
/// entry dominate small operations). The bytes of a short tuple sit inline
/// in [`Code`]; one more word, `ext`, holds what the code's [`Kind`] says,
/// so that the common cases cost no extra allocation or pointer hop:
///
/// | kind | `ext` |
/// |------|-------|
/// | `Plain` | null |
/// | `Blob` | the object's one big binary, a [`Blob`] |
/// | `Heap` | the bytes of a long tuple, `Code::heap_len` long, from a `Box<[u8]>` |
/// | `More` | a `Box<More>` (counters, several binaries, a bag's objects) |
pub struct Obj {
    /// The encoded tuple when short; the kind in any case.
    code: Code,
    /// Owned as the kind says (see above).
    ext: *mut c_void,
}

// SAFETY: an `Obj` owns what `ext` points to (a blob reference, heap bytes
// or a `More`), all `Send + Sync` and changed only through atomics.
unsafe impl Send for Obj {}
// SAFETY: as above.
unsafe impl Sync for Obj {}

/// The parts of an [`Obj`] (or of a bag [`Entry`]) that do not fit its `ext` word.
#[derive(Default)]
struct More {
    /// The encoded tuple when longer than [`crate::code::INLINE`] bytes (immutable).
    heap: Option<Box<[u8]>>,
    /// Big binaries its `BLOB` tags refer to.
    blobs: Blobs,
    /// In-place counters (long objects only; short ones count in `code`).
    cells: Option<Box<Cells>>,
    /// A bag entry's two or more objects, in insertion order (the holder's
    /// own fields stay empty).
    many: Vec<Obj>,
}

/// What `ext` holds, borrowed.
enum Ext<'a> {
    /// Nothing.
    Plain,
    /// One big binary.
    Blob(&'a Blob),
    /// The bytes of a long tuple.
    Heap(&'a [u8]),
    /// Everything else.
    More(&'a More),
}

impl Drop for Obj {
    fn drop(&mut self) {
        // SAFETY: `ext` holds what the kind says, owned by `self` (see `Obj::build`).
        unsafe {
            match self.code.kind() {
                Kind::Plain => {}
                Kind::Blob => drop(ptr::read(ptr::from_ref(&self.ext).cast::<Blob>())),
                Kind::Heap => {
                    let len = self.code.heap_len();
                    drop(Box::from_raw(ptr::slice_from_raw_parts_mut(self.ext.cast::<u8>(), len)));
                }
                Kind::More => drop(Box::from_raw(self.ext.cast::<More>())),
            }
        }
    }
}

impl Clone for Obj {
    fn clone(&self) -> Self {
        // Built from the bytes where they are read (no copy to the heap first).
        self.with_code(|code| match self.ext() {
            Ext::More(m) => {
                Obj::build(code, m.blobs.clone(), m.cells.as_ref().map(|c| c.snapshot()), m.many.clone())
            }
            _ => Obj::build(code, Blobs::from_vec(self.blobs().to_vec()), None, Vec::new()),
        })
    }
}

impl Obj {
    /// What `ext` holds.
    #[inline]
    fn ext(&self) -> Ext<'_> {
        // SAFETY: `ext` holds what the kind says (see `Obj::build`), alive as
        // long as `self`.
        unsafe {
            match self.code.kind() {
                Kind::Plain => Ext::Plain,
                Kind::Blob => Ext::Blob(&*(ptr::from_ref(&self.ext).cast::<Blob>())),
                Kind::Heap => {
                    Ext::Heap(std::slice::from_raw_parts(self.ext.cast::<u8>(), self.code.heap_len()))
                }
                Kind::More => Ext::More(&*self.ext.cast::<More>()),
            }
        }
    }

    /// Calls `f` with a consistent copy of the encoded tuple.
    #[inline]
    fn with_code<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self.ext() {
            Ext::Heap(b) => f(b),
            Ext::More(More { heap: Some(b), .. }) => f(b),
            _ => self.code.with(f),
        }
    }

    /// The in-place counters, if any.
    #[inline]
    fn cells(&self) -> Option<&Cells> {
        match self.ext() {
            Ext::More(m) => m.cells.as_deref(),
            _ => None,
        }
    }

    /// Builds the stored tuple as a term in `env`.
    pub fn to_term(&self, env: *mut ErlNifEnv) -> ErlNifTerm {
        self.with_code(|code| self.term_of(env, code))
    }

    /// Builds the tuple in `env` from a copy of its bytes.
    fn term_of(&self, env: *mut ErlNifEnv, code: &[u8]) -> ErlNifTerm {
        let Some(cells) = self.cells() else {
            return codec::decode(env, code, self.blobs()).0;
        };
        let n = codec::tuple_arity(code);
        let mut elems = Vec::with_capacity(n);
        let mut at = 5;
        for pos in 1..=n {
            let len = codec::skip(&code[at..]);
            elems.push(match cells.get(pos) {
                // SAFETY: `env` is a live environment.
                Some(v) => unsafe { rustler::sys::enif_make_int64(env, v) },
                None => codec::decode(env, &code[at..at + len], self.blobs()).0,
            });
            at += len;
        }
        // SAFETY: `elems` holds `n` terms of `env`.
        unsafe { rustler::sys::enif_make_tuple_from_array(env, elems.as_ptr(), n as u32) }
    }

    /// The term at 1-based position `pos` of the tuple, built in `env`.
    pub fn element(&self, env: *mut ErlNifEnv, pos: usize) -> Option<ErlNifTerm> {
        self.with_code(|code| {
            let range = codec::tuple_element(code, pos)?;
            if let Some(v) = self.cells().and_then(|c| c.get(pos)) {
                // SAFETY: `env` is a live environment.
                return Some(unsafe { rustler::sys::enif_make_int64(env, v) });
            }
            Some(codec::decode(env, &code[range], self.blobs()).0)
        })
    }

    /// Rewrites this object in place with the encoded object `code` (same
    /// key, no big binaries) when both are short (see [`Code`]); `false` if
    /// the caller must replace the entry instead.
    #[inline]
    pub fn overwrite(&self, code: &[u8]) -> bool {
        self.code.kind() == Kind::Plain && self.code.overwrite(code)
    }

    /// Adds `incr` in place at `pos` (see [`Cells`]); `None` when the
    /// general path must do it.
    #[inline]
    pub fn try_add(&self, pos: usize, incr: i64) -> Option<i64> {
        match self.ext() {
            Ext::Plain | Ext::Blob(_) => self.code.add_int(pos, incr),
            Ext::Heap(_) => None,
            Ext::More(m) => match &m.cells {
                Some(c) => c.try_add(pos, incr),
                None if m.heap.is_none() => self.code.add_int(pos, incr),
                None => None,
            },
        }
    }

    /// The object's bytes with its final values, for a writer about to
    /// replace it based on them: seals its cells first.
    pub fn sealed_code(&self) -> Vec<u8> {
        self.seal();
        self.current_code()
    }

    /// A copy of the object's bytes with its current counter values.
    fn current_code(&self) -> Vec<u8> {
        let mut code = self.with_code(<[u8]>::to_vec);
        if let Some(c) = self.cells() {
            c.write_into(&mut code);
        }
        code
    }

    /// Seals the object's counters (see [`Cells`]): call before replacing
    /// the object based on what [`Obj::element`] reads.
    pub fn seal(&self) {
        self.code.seal();
        if let Some(c) = self.cells() {
            c.seal();
        }
    }

    /// An object from its encoded bytes, big binaries, counters and (for a
    /// bag entry holder, with empty `code`) objects, laid out as the
    /// [`Obj`] table says.
    fn build(code: &[u8], blobs: Blobs, cells: Option<Box<Cells>>, many: Vec<Obj>) -> Self {
        let long = code.len() > crate::code::INLINE;
        match (long, blobs, cells, many.is_empty()) {
            (false, Blobs::None, None, true) => {
                Obj { code: Code::new(code, Kind::Plain), ext: ptr::null_mut() }
            }
            (false, Blobs::One(b), None, true) => {
                // The blob's one word moves into `ext` (see `Obj::ext`).
                let ext = ManuallyDrop::new(b);
                // SAFETY: `Blob` is one non-null pointer (`repr(transparent)`).
                let ext = unsafe { ptr::read(ptr::from_ref(&*ext).cast::<*mut c_void>()) };
                Obj { code: Code::new(code, Kind::Blob), ext }
            }
            (true, Blobs::None, None, true) => {
                let bytes: Box<[u8]> = code.into();
                Obj { code: Code::heap(bytes.len()), ext: Box::into_raw(bytes).cast::<c_void>() }
            }
            (long, blobs, cells, _) => {
                let more = More { heap: long.then(|| code.into()), blobs, cells, many };
                let code = Code::new(if long { &[] } else { code }, Kind::More);
                Obj { code, ext: Box::into_raw(Box::new(more)).cast::<c_void>() }
            }
        }
    }

    /// A plain object from its encoded bytes and big binaries.
    pub fn new(code: &[u8], blobs: Vec<Blob>) -> Self {
        Obj::build(code, Blobs::from_vec(blobs), None, Vec::new())
    }

    /// An object whose integers (but the key) can be updated in place: in
    /// its inline bytes when short, else in [`Cells`].
    pub fn with_cells(code: &[u8], blobs: &[Blob], keypos: usize) -> Self {
        let cells = if code.len() > crate::code::INLINE { Cells::for_code(code, keypos) } else { None };
        Obj::build(code, Blobs::from_vec(blobs.to_vec()), cells, Vec::new())
    }

    /// The tuple's arity.
    pub fn arity(&self) -> usize {
        self.with_code(codec::tuple_arity)
    }

    /// The shared binaries the encoding refers to, in order.
    pub fn blobs(&self) -> &[Blob] {
        match self.ext() {
            Ext::Blob(b) => std::slice::from_ref(b),
            Ext::More(m) => m.blobs.as_slice(),
            Ext::Plain | Ext::Heap(_) => &[],
        }
    }

    /// Whether this object may match `clause` of a walk's filter: `false`
    /// only when it certainly does not. An object with counter cells is not
    /// looked into (its bytes may be stale there).
    pub fn may_match(&self, clause: &Clause) -> bool {
        self.cells().is_some() || self.with_code(|code| clause.admits(code))
    }

    /// Whether the two objects are the same term (`=:=`). A writer that
    /// replaces `self` based on the answer must [`Obj::seal`] it first.
    pub fn same(&self, other: &Obj) -> bool {
        let (a, b) = (self.blobs(), other.blobs());
        self.current_code() == other.current_code()
            && a.len() == b.len()
            && a.iter().zip(b).all(|(a, b)| a.bytes() == b.bytes())
    }
}

impl HeapSize for Obj {
    fn heap_size(&self) -> usize {
        let blobs = |bs: &[Blob]| bs.iter().map(|b| size_of::<Blob>() + b.bytes().len()).sum::<usize>();
        match self.ext() {
            Ext::Plain => 0,
            Ext::Blob(b) => blobs(std::slice::from_ref(b)),
            Ext::Heap(h) => h.len(),
            Ext::More(m) => {
                size_of::<More>()
                    + m.heap.as_ref().map_or(0, |h| h.len())
                    + m.cells.as_ref().map_or(0, |c| c.heap_size())
                    + blobs(m.blobs.as_slice())
                    + m.many.iter().map(|o| size_of::<Obj>() + o.heap_size()).sum::<usize>()
            }
        }
    }
}

// The point of the layout above: a short object and its key fill 64 bytes.
const _: () = assert!(size_of::<Obj>() == 40 && size_of::<Key>() == 24);

/// What a key maps to: one object (always for a `set`, and for bags holding
/// one object), or two or more objects of a bag in insertion order (held in
/// [`More::many`], so that a `set` entry pays nothing for bags).
#[derive(Clone)]
pub struct Entry(Obj);

impl Entry {
    /// An entry holding the single object `o`.
    pub fn one(o: Obj) -> Entry {
        Entry(o)
    }

    /// The bag objects, if this entry holds several.
    #[inline]
    fn many(&self) -> Option<&[Obj]> {
        match self.0.ext() {
            Ext::More(m) if !m.many.is_empty() => Some(&m.many),
            _ => None,
        }
    }

    /// The entry's only object (`None` for a bag entry of several).
    #[inline]
    pub fn single(&self) -> Option<&Obj> {
        match self.many() {
            Some(_) => None,
            None => Some(&self.0),
        }
    }

    /// The objects under the key, in insertion order.
    pub fn objects(&self) -> &[Obj] {
        self.many().unwrap_or(std::slice::from_ref(&self.0))
    }

    /// An entry holding `objs` (`None` when empty).
    pub fn from_vec(mut objs: Vec<Obj>) -> Option<Entry> {
        match objs.len() {
            0 => None,
            1 => objs.pop().map(Entry),
            _ => Some(Entry(Obj::build(&[], Blobs::None, None, objs))),
        }
    }
}

impl HeapSize for Entry {
    fn heap_size(&self) -> usize {
        self.0.heap_size()
    }
}

thread_local! {
    /// Reused encoding buffer, so that encoding a key allocates nothing.
    static SCRATCH: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// Runs `f` with a cleared scratch buffer (a fresh one when nested).
fn with_scratch<R>(f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    let mut buf = SCRATCH.with(Cell::take);
    buf.clear();
    let r = f(&mut buf);
    if buf.capacity() <= 1 << 16 {
        SCRATCH.with(|s| s.set(buf));
    }
    r
}

/// Calls `f` with the encoded bytes of the key `term` (`Err` when the term
/// cannot be encoded).
pub fn with_key<R>(env: *mut ErlNifEnv, term: ErlNifTerm, f: impl FnOnce(&[u8]) -> R) -> Result<R, ()> {
    if let Some(bytes) = codec::immediate(env, term) {
        return Ok(f(&bytes));
    }
    with_scratch(|buf| {
        codec::encode(env, term, buf, &mut None)?;
        Ok(f(buf))
    })
}

/// The stored key of `term`.
pub fn key_of(env: *mut ErlNifEnv, term: ErlNifTerm) -> Result<Key, ()> {
    with_key(env, term, Key::new)
}

/// Encodes the tuple `term` for storage and extracts its key (element
/// `keypos`). `Err` when `term` is not a tuple of at least `keypos` elements.
pub fn encode_object(env: *mut ErlNifEnv, term: ErlNifTerm, keypos: usize) -> Result<(Key, Obj), ()> {
    encode_object_with(env, term, keypos, |key, code, blobs| (Key::new(key), Obj::new(code, blobs)))
}

/// Encodes the tuple `term` into scratch space and calls `f` with the
/// encoded key, the encoded object and its big binaries, so that a caller
/// that can use the bytes in place (an in-place insert) copies nothing.
pub fn encode_object_with<R>(
    env: *mut ErlNifEnv,
    term: ErlNifTerm,
    keypos: usize,
    f: impl FnOnce(&[u8], &[u8], Vec<Blob>) -> R,
) -> Result<R, ()> {
    let mut arity = 0;
    let mut elems: *const ErlNifTerm = std::ptr::null();
    // SAFETY: `env` is the live environment `term` belongs to.
    if unsafe { enif_get_tuple(env, term, &mut arity, &mut elems) } == 0 || (arity as usize) < keypos {
        return Err(());
    }
    // SAFETY: `enif_get_tuple` succeeded: `elems` points at `arity` terms.
    let elems = unsafe { std::slice::from_raw_parts(elems, arity as usize) };
    // A pair or singleton of small integers and atoms (the common `{Key,
    // Value}`) is encoded on the stack: no scratch buffer, no encoder calls.
    if elems.len() <= 2 {
        let mut buf = [0u8; 5 + 2 * 9];
        buf[0] = codec::TUPLE;
        buf[1..5].copy_from_slice(&arity.to_le_bytes());
        let all = elems.iter().enumerate().all(|(i, &e)| {
            codec::immediate(env, e).map(|b| buf[5 + 9 * i..14 + 9 * i].copy_from_slice(&b)).is_some()
        });
        if all {
            let key = 5 + 9 * (keypos - 1);
            return Ok(f(&buf[key..key + 9], &buf[..5 + 9 * elems.len()], Vec::new()));
        }
    }
    with_scratch(|buf| {
        let mut blobs = Vec::new();
        buf.push(codec::TUPLE);
        buf.extend_from_slice(&(arity as u32).to_le_bytes());
        let mut key_range = 0..0;
        let mut key_blobs = false;
        for (i, &e) in elems.iter().enumerate() {
            let start = buf.len();
            let before = blobs.len();
            codec::encode(env, e, buf, &mut Some(&mut blobs))?;
            if i + 1 == keypos {
                key_range = start..buf.len();
                key_blobs = blobs.len() != before;
            }
        }
        if key_blobs {
            let key = key_of(env, elems[keypos - 1])?;
            Ok(f(key.bytes(), buf, blobs))
        } else {
            Ok(f(&buf[key_range], buf, blobs))
        }
    })
}

/// Encodes any term for storage (heir data, gift data).
pub fn encode_term(env: *mut ErlNifEnv, term: ErlNifTerm) -> Result<Obj, ()> {
    with_scratch(|buf| {
        let mut blobs = Vec::new();
        codec::encode(env, term, buf, &mut Some(&mut blobs))?;
        Ok(Obj::new(buf, blobs))
    })
}
