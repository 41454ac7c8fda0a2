//! Stored objects (encoded tuples) and what a key maps to: one object for a
//! `set`, an insertion-ordered list of objects for a `bag`/`duplicate_bag`.

use std::cell::Cell;
use std::mem::size_of;

use ferrets_core::HeapSize;
use rustler::sys::{enif_get_tuple, ErlNifEnv, ErlNifTerm};

use crate::blob::{Blob, Blobs};
use crate::cells::Cells;
use crate::code::Code;
use crate::codec;
use crate::key::Key;

/// One stored tuple: its [`codec`] bytes, the big binaries it shares, and
/// (once `update_counter` touched it) its integer elements as [`Cells`].
pub struct Obj {
    /// The encoded tuple.
    code: Code,
    /// Big binaries its `BLOB` tags refer to.
    blobs: Blobs,
    /// In-place counters (long objects only; short ones count in `code`).
    cells: Option<Box<Cells>>,
}

impl Clone for Obj {
    fn clone(&self) -> Self {
        Obj {
            code: self.code.clone(),
            blobs: self.blobs.clone(),
            cells: self.cells.as_ref().map(|c| c.snapshot()),
        }
    }
}

impl Obj {
    /// Builds the stored tuple as a term in `env`.
    pub fn to_term(&self, env: *mut ErlNifEnv) -> ErlNifTerm {
        self.code.with(|code| self.term_of(env, code))
    }

    /// Builds the tuple in `env` from a copy of its bytes.
    fn term_of(&self, env: *mut ErlNifEnv, code: &[u8]) -> ErlNifTerm {
        let Some(cells) = &self.cells else {
            return codec::decode(env, code, self.blobs.as_slice()).0;
        };
        let n = codec::tuple_arity(code);
        let mut elems = Vec::with_capacity(n);
        let mut at = 5;
        for pos in 1..=n {
            let len = codec::skip(&code[at..]);
            elems.push(match cells.get(pos) {
                // SAFETY: `env` is a live environment.
                Some(v) => unsafe { rustler::sys::enif_make_int64(env, v) },
                None => codec::decode(env, &code[at..at + len], self.blobs.as_slice()).0,
            });
            at += len;
        }
        // SAFETY: `elems` holds `n` terms of `env`.
        unsafe { rustler::sys::enif_make_tuple_from_array(env, elems.as_ptr(), n as u32) }
    }

    /// The term at 1-based position `pos` of the tuple, built in `env`.
    pub fn element(&self, env: *mut ErlNifEnv, pos: usize) -> Option<ErlNifTerm> {
        self.code.with(|code| {
            let range = codec::tuple_element(code, pos)?;
            if let Some(v) = self.cells.as_ref().and_then(|c| c.get(pos)) {
                // SAFETY: `env` is a live environment.
                return Some(unsafe { rustler::sys::enif_make_int64(env, v) });
            }
            Some(codec::decode(env, &code[range], self.blobs.as_slice()).0)
        })
    }

    /// Rewrites this object in place with the encoded object `code` (same
    /// key, no big binaries) when both are short (see [`Code`]); `false` if
    /// the caller must replace the entry instead.
    #[inline]
    pub fn overwrite(&self, code: &[u8]) -> bool {
        self.cells.is_none() && matches!(self.blobs, Blobs::None) && self.code.overwrite(code)
    }

    /// Adds `incr` in place at `pos` (see [`Cells`]); `None` when the
    /// general path must do it.
    #[inline]
    pub fn try_add(&self, pos: usize, incr: i64) -> Option<i64> {
        match &self.cells {
            Some(c) => c.try_add(pos, incr),
            None => self.code.add_int(pos, incr),
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
        let mut code = self.code.with(<[u8]>::to_vec);
        if let Some(c) = &self.cells {
            c.write_into(&mut code);
        }
        code
    }

    /// Seals the object's counters (see [`Cells`]): call before replacing
    /// the object based on what [`Obj::element`] reads.
    pub fn seal(&self) {
        self.code.seal();
        if let Some(c) = &self.cells {
            c.seal();
        }
    }

    /// A plain object from its encoded bytes and big binaries.
    pub fn new(code: &[u8], blobs: Vec<Blob>) -> Self {
        Obj { code: Code::new(code), blobs: Blobs::from_vec(blobs), cells: None }
    }

    /// An object whose integers (but the key) can be updated in place: in
    /// its inline bytes when short, else in [`Cells`].
    pub fn with_cells(code: &[u8], blobs: Blobs, keypos: usize) -> Self {
        let code_ = Code::new(code);
        let cells = match code_ {
            Code::Inline(_) => None,
            Code::Heap(_) => Cells::for_code(code, keypos),
        };
        Obj { code: code_, blobs, cells }
    }

    /// The tuple's arity.
    pub fn arity(&self) -> usize {
        self.code.with(codec::tuple_arity)
    }

    /// The shared binaries the encoding refers to.
    pub fn blobs(&self) -> &Blobs {
        &self.blobs
    }

    /// Whether the two objects are the same term (`=:=`). A writer that
    /// replaces `self` based on the answer must [`Obj::seal`] it first.
    pub fn same(&self, other: &Obj) -> bool {
        self.current_code() == other.current_code()
            && self.blobs.as_slice().len() == other.blobs.as_slice().len()
            && self.blobs.as_slice().iter().zip(other.blobs.as_slice()).all(|(a, b)| a.bytes() == b.bytes())
    }
}

impl HeapSize for Obj {
    fn heap_size(&self) -> usize {
        self.code.heap_size()
            + self.cells.as_ref().map_or(0, |c| c.heap_size())
            + self.blobs.as_slice().iter().map(|b| size_of::<Blob>() + b.bytes().len()).sum::<usize>()
    }
}

/// What a key maps to.
#[derive(Clone)]
pub enum Entry {
    /// A single object (always for `set`, and for bags holding one object).
    One(Obj),
    /// Two or more objects of a bag, in insertion order.
    Many(Vec<Obj>),
}

impl Entry {
    /// The objects under the key, in insertion order.
    pub fn objects(&self) -> &[Obj] {
        match self {
            Entry::One(o) => std::slice::from_ref(o),
            Entry::Many(v) => v,
        }
    }

    /// An entry holding `objs` (`None` when empty).
    pub fn from_vec(mut objs: Vec<Obj>) -> Option<Entry> {
        match objs.len() {
            0 => None,
            1 => objs.pop().map(Entry::One),
            _ => Some(Entry::Many(objs)),
        }
    }
}

impl HeapSize for Entry {
    fn heap_size(&self) -> usize {
        match self {
            Entry::One(o) => o.heap_size(),
            Entry::Many(v) => v.iter().map(|o| size_of::<Obj>() + o.heap_size()).sum(),
        }
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
    encode_object_with(env, term, keypos, |key, code, blobs| {
        (Key::new(key), Obj { code: Code::new(code), blobs: Blobs::from_vec(blobs), cells: None })
    })
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
        Ok(Obj { code: Code::new(buf), blobs: Blobs::from_vec(blobs), cells: None })
    })
}
