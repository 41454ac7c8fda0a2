//! The compact term encoding keys and objects are stored in.
//!
//! One byte of tag, then a fixed-width payload, so that equal (`=:=`) terms
//! encode to equal bytes (keys are hashed and compared as bytes) and a stored
//! object is rebuilt with a handful of `enif_make_*` calls instead of a full
//! `binary_to_term`:
//!
//! | tag | payload |
//! |-----|---------|
//! | `NIL` | - |
//! | `INT` | `i64` little-endian |
//! | `FLOAT` | `f64` bits little-endian (`-0.0` stored as `0.0`: equal under `=:=` on OTP 25) |
//! | `ATOM` | the atom's term word (atoms are immediates that are never freed) |
//! | `BIN` | `u32` length, bytes |
//! | `BLOB` | `u32` index into the object's shared binaries (objects only) |
//! | `TUPLE` | `u32` arity, elements |
//! | `LIST` | `u32` length, elements, tail |
//! | `MAP` | `u32` size, key and value pairs in map iteration order |
//! | `EXT` | `u32` length, external term format (big integers, pids, refs, funs, bit strings) |

use std::mem::MaybeUninit;
use std::ptr;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};

use rustler::sys::{
    enif_binary_to_term, enif_get_double, enif_get_int64, enif_get_list_cell, enif_get_map_size,
    enif_get_tuple, enif_inspect_binary, enif_make_double, enif_make_int64, enif_make_list_cell,
    enif_make_list_from_array, enif_make_map_from_arrays, enif_make_new_binary, enif_make_tuple_from_array,
    enif_map_iterator_create, enif_map_iterator_destroy, enif_map_iterator_get_pair, enif_map_iterator_next,
    enif_release_binary, enif_term_to_binary, enif_term_type, ErlNifBinary, ErlNifEnv,
    ErlNifMapIteratorEntry, ErlNifTerm, ErlNifTermType,
};

use crate::blob::Blob;

/// The empty list.
pub const NIL: u8 = 0;
/// A signed 64-bit integer.
pub const INT: u8 = 1;
/// A float.
pub const FLOAT: u8 = 2;
/// An atom.
pub const ATOM: u8 = 3;
/// A binary stored inline.
pub const BIN: u8 = 4;
/// A binary shared through a [`Blob`].
pub const BLOB: u8 = 5;
/// A tuple.
pub const TUPLE: u8 = 6;
/// A list (proper or not).
pub const LIST: u8 = 7;
/// A map.
pub const MAP: u8 = 8;
/// Anything else, in the external term format.
pub const EXT: u8 = 9;

/// Binaries at least this long are stored once and shared on lookup, like
/// the VM's own reference-counted binaries.
pub const BLOB_MIN: usize = 64;

/// The word of `[]` once known (0 before): an immediate, the same in every
/// environment, so it is asked of the VM once rather than on every lookup.
static NIL_WORD: AtomicU64 = AtomicU64::new(0);

/// The empty list `[]`.
#[inline]
pub fn nil_term(env: *mut ErlNifEnv) -> ErlNifTerm {
    let w = NIL_WORD.load(Ordering::Relaxed);
    if w != 0 {
        return crate::raw::term_of(w);
    }
    // SAFETY: `env` is a live environment; an empty array makes `[]`.
    let nil = unsafe { enif_make_list_from_array(env, ptr::null(), 0) };
    NIL_WORD.store(crate::raw::word(nil), Ordering::Relaxed);
    nil
}

/// Appends a `u32` length; `Err` when `n` does not fit.
fn put_u32(out: &mut Vec<u8>, n: usize) -> Result<(), ()> {
    let n = u32::try_from(n).map_err(|_| ())?;
    out.extend_from_slice(&n.to_le_bytes());
    Ok(())
}

// The VM's tags for small integers and atoms (erl_term.h, 64-bit): the
// low 4 bits 0b1111 mark a small integer (value in the upper 60 bits), the
// low 6 bits 0b001011 an atom. Reading them directly saves two NIF API calls
// per integer or atom; `immediates_ok` checks them against the API once.
/// Tag bits of a small integer.
const SMALL_MASK: u64 = 0xf;
/// Tag value of a small integer.
const SMALL_TAG: u64 = 0xf;
/// Tag bits of an atom.
const ATOM_MASK: u64 = 0x3f;
/// Tag value of an atom.
const ATOM_TAG: u64 = 0x0b;
/// Smallest small integer (60-bit signed).
const SMALL_MIN: i64 = -(1 << 59);
/// Largest small integer.
const SMALL_MAX: i64 = (1 << 59) - 1;

/// 0: not checked yet, 1: the tags above hold, 2: they do not (use the API).
static IMMEDIATES: AtomicU8 = AtomicU8::new(0);

/// Whether this VM uses the immediate tags above (checked once via the API).
#[inline]
fn immediates_ok(env: *mut ErlNifEnv) -> bool {
    match IMMEDIATES.load(Ordering::Relaxed) {
        1 => true,
        2 => false,
        _ => {
            // SAFETY: `env` is a live environment; the terms are immediates.
            let ok = unsafe {
                let small = crate::raw::word(enif_make_int64(env, -7));
                let big = crate::raw::word(enif_make_int64(env, SMALL_MAX));
                let atom = crate::raw::word(rustler::types::atom::true_().as_c_arg());
                small == ((-7i64 << 4) as u64 | SMALL_TAG)
                    && big == ((SMALL_MAX << 4) as u64 | SMALL_TAG)
                    && atom & ATOM_MASK == ATOM_TAG
                    && std::mem::size_of::<ErlNifTerm>() == 8
            };
            IMMEDIATES.store(if ok { 1 } else { 2 }, Ordering::Relaxed);
            ok
        }
    }
}

/// The encoding of `term` when it is a small integer or an atom, built on
/// the stack from its tag (no API call, no buffer).
#[inline]
pub fn immediate(env: *mut ErlNifEnv, term: ErlNifTerm) -> Option<[u8; 9]> {
    if !immediates_ok(env) {
        return None;
    }
    let w = crate::raw::word(term);
    let (tag, payload) = if w & SMALL_MASK == SMALL_TAG {
        (INT, ((w as i64) >> 4) as u64)
    } else if w & ATOM_MASK == ATOM_TAG {
        (ATOM, w)
    } else {
        return None;
    };
    let mut out = [tag; 9];
    out[1..].copy_from_slice(&payload.to_le_bytes());
    Some(out)
}

/// `term` as a small integer, read from its tag without an API call.
#[inline]
pub fn small_int(env: *mut ErlNifEnv, term: ErlNifTerm) -> Option<i64> {
    let w = crate::raw::word(term);
    (immediates_ok(env) && w & SMALL_MASK == SMALL_TAG).then_some((w as i64) >> 4)
}

/// The integer term for `n`, built without an API call when it is small.
#[inline]
pub fn int_term(env: *mut ErlNifEnv, n: i64) -> ErlNifTerm {
    if (SMALL_MIN..=SMALL_MAX).contains(&n) && immediates_ok(env) {
        return crate::raw::term_of(((n << 4) as u64) | SMALL_TAG);
    }
    // SAFETY: `env` is a live environment.
    unsafe { enif_make_int64(env, n) }
}

/// Appends the encoding of `term` to `out`. Binaries of [`BLOB_MIN`] bytes
/// or more go to `blobs` when given, inline otherwise (keys).
///
/// `Err` only for terms too big to encode (more than 4 G elements).
pub fn encode(
    env: *mut ErlNifEnv,
    term: ErlNifTerm,
    out: &mut Vec<u8>,
    blobs: &mut Option<&mut Vec<Blob>>,
) -> Result<(), ()> {
    if immediates_ok(env) {
        let w = crate::raw::word(term);
        if w & SMALL_MASK == SMALL_TAG {
            out.push(INT);
            out.extend_from_slice(&((w as i64) >> 4).to_le_bytes());
            return Ok(());
        }
        if w & ATOM_MASK == ATOM_TAG {
            out.push(ATOM);
            out.extend_from_slice(&w.to_le_bytes());
            return Ok(());
        }
    }
    // SAFETY: every call below gets the live environment of the NIF call that
    // owns `term`, and out-pointers to properly sized locals.
    unsafe {
        match enif_term_type(env, term) {
            ErlNifTermType::ERL_NIF_TERM_TYPE_INTEGER => {
                let mut i = 0i64;
                if enif_get_int64(env, term, &mut i) != 0 {
                    out.push(INT);
                    out.extend_from_slice(&i.to_le_bytes());
                    Ok(())
                } else {
                    encode_ext(env, term, out)
                }
            }
            ErlNifTermType::ERL_NIF_TERM_TYPE_ATOM => {
                out.push(ATOM);
                out.extend_from_slice(&crate::raw::word(term).to_le_bytes());
                Ok(())
            }
            ErlNifTermType::ERL_NIF_TERM_TYPE_FLOAT => {
                let mut d = 0f64;
                enif_get_double(env, term, &mut d);
                // OTP 25: 0.0 =:= -0.0, so both are one key (and one bag object).
                if d == 0.0 {
                    d = 0.0;
                }
                out.push(FLOAT);
                out.extend_from_slice(&d.to_bits().to_le_bytes());
                Ok(())
            }
            ErlNifTermType::ERL_NIF_TERM_TYPE_BITSTRING => {
                let mut bin = MaybeUninit::<ErlNifBinary>::uninit();
                if enif_inspect_binary(env, term, bin.as_mut_ptr()) == 0 {
                    return encode_ext(env, term, out);
                }
                let bin = bin.assume_init();
                let bytes = std::slice::from_raw_parts(bin.data, bin.size);
                match blobs {
                    Some(blobs) if bytes.len() >= BLOB_MIN => {
                        out.push(BLOB);
                        put_u32(out, blobs.len())?;
                        blobs.push(Blob::shared(bytes));
                    }
                    _ => {
                        out.push(BIN);
                        put_u32(out, bytes.len())?;
                        out.extend_from_slice(bytes);
                    }
                }
                Ok(())
            }
            ErlNifTermType::ERL_NIF_TERM_TYPE_TUPLE => {
                let mut arity = 0;
                let mut elems: *const ErlNifTerm = ptr::null();
                enif_get_tuple(env, term, &mut arity, &mut elems);
                out.push(TUPLE);
                put_u32(out, arity as usize)?;
                for i in 0..arity as usize {
                    encode(env, *elems.add(i), out, blobs)?;
                }
                Ok(())
            }
            ErlNifTermType::ERL_NIF_TERM_TYPE_LIST => {
                let (mut head, mut tail) = (ErlNifTerm::default(), ErlNifTerm::default());
                if enif_get_list_cell(env, term, &mut head, &mut tail) == 0 {
                    out.push(NIL);
                    return Ok(());
                }
                out.push(LIST);
                let len_at = out.len();
                out.extend_from_slice(&[0; 4]);
                let mut n = 0usize;
                let mut cur = term;
                while enif_get_list_cell(env, cur, &mut head, &mut tail) != 0 {
                    encode(env, head, out, blobs)?;
                    n += 1;
                    cur = tail;
                }
                encode(env, cur, out, blobs)?;
                let n = u32::try_from(n).map_err(|_| ())?;
                out[len_at..len_at + 4].copy_from_slice(&n.to_le_bytes());
                Ok(())
            }
            ErlNifTermType::ERL_NIF_TERM_TYPE_MAP => {
                let mut size = 0usize;
                enif_get_map_size(env, term, &mut size);
                out.push(MAP);
                put_u32(out, size)?;
                let mut iter = MaybeUninit::uninit();
                if enif_map_iterator_create(
                    env,
                    term,
                    iter.as_mut_ptr(),
                    ErlNifMapIteratorEntry::ERL_NIF_MAP_ITERATOR_HEAD,
                ) == 0
                {
                    return Err(());
                }
                let mut iter = iter.assume_init();
                let mut result = Ok(());
                let (mut k, mut v) = (ErlNifTerm::default(), ErlNifTerm::default());
                while enif_map_iterator_get_pair(env, &mut iter, &mut k, &mut v) != 0 {
                    result = encode(env, k, out, blobs).and_then(|()| encode(env, v, out, blobs));
                    if result.is_err() {
                        break;
                    }
                    enif_map_iterator_next(env, &mut iter);
                }
                enif_map_iterator_destroy(env, &mut iter);
                result
            }
            _ => encode_ext(env, term, out),
        }
    }
}

/// Appends `term` in the external term format under the `EXT` tag.
fn encode_ext(env: *mut ErlNifEnv, term: ErlNifTerm, out: &mut Vec<u8>) -> Result<(), ()> {
    let mut bin = MaybeUninit::<ErlNifBinary>::uninit();
    // SAFETY: `bin` is filled by `enif_term_to_binary` and released below.
    unsafe {
        if enif_term_to_binary(env, term, bin.as_mut_ptr()) == 0 {
            return Err(());
        }
        let mut bin = bin.assume_init();
        let bytes = std::slice::from_raw_parts(bin.data, bin.size);
        out.push(EXT);
        let r = put_u32(out, bytes.len());
        out.extend_from_slice(bytes);
        enif_release_binary(&mut bin);
        r
    }
}

/// Appends the encoding of an integer, as [`encode`] would write it.
pub fn encode_int(n: i128, out: &mut Vec<u8>) {
    if let Ok(small) = i64::try_from(n) {
        out.push(INT);
        out.extend_from_slice(&small.to_le_bytes());
        return;
    }
    // SMALL_BIG_EXT with the minimal number of digit bytes, as term_to_binary writes it.
    let mag = n.unsigned_abs().to_le_bytes();
    let len = 16 - mag.iter().rev().take_while(|b| **b == 0).count();
    let mut ext = vec![131, 110, len as u8, u8::from(n < 0)];
    ext.extend_from_slice(&mag[..len]);
    out.push(EXT);
    out.extend_from_slice(&(ext.len() as u32).to_le_bytes());
    out.extend_from_slice(&ext);
}

/// The integer at the start of `bytes`, if it is one that fits an `i128`.
pub fn decode_int(bytes: &[u8]) -> Option<i128> {
    match *bytes.first()? {
        INT => Some(i64::from_le_bytes(bytes.get(1..9)?.try_into().ok()?).into()),
        EXT => {
            let len = u32::from_le_bytes(bytes.get(1..5)?.try_into().ok()?) as usize;
            let ext = bytes.get(5..5 + len)?;
            // [131, SMALL_BIG_EXT, n, sign, digits...]
            if ext.len() < 4 || ext[0] != 131 || ext[1] != 110 || ext[2] as usize > 16 {
                return None;
            }
            let n = ext[2] as usize;
            let mut mag = [0u8; 16];
            mag[..n].copy_from_slice(ext.get(4..4 + n)?);
            let m = u128::from_le_bytes(mag);
            if ext[3] == 0 {
                i128::try_from(m).ok()
            } else if m == 1u128 << 127 {
                Some(i128::MIN)
            } else {
                i128::try_from(m).ok().map(|v| -v)
            }
        }
        _ => None,
    }
}

/// The `u32` length at `at`.
fn read_u32(bytes: &[u8], at: usize) -> usize {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize
}

/// The length in bytes of the encoded term at the start of `bytes`.
pub fn skip(bytes: &[u8]) -> usize {
    match bytes[0] {
        NIL => 1,
        INT | FLOAT | ATOM => 9,
        BIN | EXT => 5 + read_u32(bytes, 1),
        BLOB => 5,
        TUPLE => {
            let mut at = 5;
            for _ in 0..read_u32(bytes, 1) {
                at += skip(&bytes[at..]);
            }
            at
        }
        LIST => {
            let mut at = 5;
            for _ in 0..=read_u32(bytes, 1) {
                at += skip(&bytes[at..]);
            }
            at
        }
        MAP => {
            let mut at = 5;
            for _ in 0..2 * read_u32(bytes, 1) {
                at += skip(&bytes[at..]);
            }
            at
        }
        _ => unreachable!("codec: unknown tag"),
    }
}

/// Whether the encoded term at the start of `bytes` holds only integers,
/// floats, atoms, binaries shorter than [`BLOB_MIN`], tuples and lists
/// (encoded without blobs, as keys are): terms that match as
/// themselves in a match pattern (a map there matches submaps) and that
/// encode the same in a key, a pattern and an object (no blob, no external
/// format).
pub fn plain(bytes: &[u8]) -> bool {
    match bytes[0] {
        NIL | INT | FLOAT | ATOM => true,
        // An object stores longer binaries as blobs.
        BIN => read_u32(bytes, 1) < BLOB_MIN,
        TUPLE | LIST => {
            let n = read_u32(bytes, 1) + usize::from(bytes[0] == LIST);
            let mut at = 5;
            (0..n).all(|_| {
                let ok = plain(&bytes[at..]);
                at += skip(&bytes[at..]);
                ok
            })
        }
        _ => false,
    }
}

/// The byte range of element `pos` (1-based) of the encoded tuple in `bytes`.
pub fn tuple_element(bytes: &[u8], pos: usize) -> Option<std::ops::Range<usize>> {
    if bytes.first() != Some(&TUPLE) || pos == 0 || pos > read_u32(bytes, 1) {
        return None;
    }
    let mut at = 5;
    for _ in 1..pos {
        at += skip(&bytes[at..]);
    }
    Some(at..at + skip(&bytes[at..]))
}

/// The arity of the encoded tuple in `bytes` (0 when not a tuple).
pub fn tuple_arity(bytes: &[u8]) -> usize {
    if bytes.first() == Some(&TUPLE) {
        read_u32(bytes, 1)
    } else {
        0
    }
}

/// Builds the term encoded at the start of `bytes` in `env`; returns it and
/// the number of bytes read.
pub fn decode(env: *mut ErlNifEnv, bytes: &[u8], blobs: &[Blob]) -> (ErlNifTerm, usize) {
    // SAFETY: `bytes` was written by `encode` (the table only stores what it
    // encoded), `env` is a live environment, and every array passed to an
    // `enif_make_*` function holds as many terms as the count given.
    unsafe {
        match bytes[0] {
            NIL => (nil_term(env), 1),
            INT => (int_term(env, i64::from_le_bytes(bytes[1..9].try_into().unwrap_or_default())), 9),
            FLOAT => {
                let bits = u64::from_le_bytes(bytes[1..9].try_into().unwrap_or_default());
                (enif_make_double(env, f64::from_bits(bits)), 9)
            }
            ATOM => (crate::raw::term_of(u64::from_le_bytes(bytes[1..9].try_into().unwrap_or_default())), 9),
            BIN => {
                let len = read_u32(bytes, 1);
                let mut t = ErlNifTerm::default();
                let dst = enif_make_new_binary(env, len, &mut t);
                ptr::copy_nonoverlapping(bytes[5..].as_ptr(), dst, len);
                (t, 5 + len)
            }
            BLOB => (blobs[read_u32(bytes, 1)].to_term(env), 5),
            EXT => {
                let len = read_u32(bytes, 1);
                let mut t = ErlNifTerm::default();
                enif_binary_to_term(env, bytes[5..].as_ptr(), len, &mut t, 0);
                (t, 5 + len)
            }
            TUPLE => {
                let n = read_u32(bytes, 1);
                let mut at = 5;
                let t = with_terms(n, |slots| {
                    at += decode_into(env, &bytes[at..], blobs, slots);
                    enif_make_tuple_from_array(env, slots.as_ptr(), n as u32)
                });
                (t, at)
            }
            LIST => {
                let n = read_u32(bytes, 1);
                let mut at = 5;
                let t = with_terms(n, |slots| {
                    at += decode_into(env, &bytes[at..], blobs, slots);
                    if bytes[at] == NIL {
                        // A proper list: one call for all its cells.
                        at += 1;
                        return enif_make_list_from_array(env, slots.as_ptr(), n as u32);
                    }
                    let (mut tail, used) = decode(env, &bytes[at..], blobs);
                    at += used;
                    for &head in slots.iter().rev() {
                        tail = enif_make_list_cell(env, head, tail);
                    }
                    tail
                });
                (t, at)
            }
            MAP => {
                let n = read_u32(bytes, 1);
                let mut at = 5;
                let t = with_terms(2 * n, |slots| {
                    let (ks, vs) = slots.split_at_mut(n);
                    for i in 0..n {
                        let (k, used) = decode_element(env, &bytes[at..], blobs);
                        at += used;
                        let (v, used) = decode_element(env, &bytes[at..], blobs);
                        at += used;
                        ks[i] = k;
                        vs[i] = v;
                    }
                    let mut map = ErlNifTerm::default();
                    enif_make_map_from_arrays(env, ks.as_ptr(), vs.as_ptr(), n, &mut map);
                    map
                });
                (t, at)
            }
            _ => unreachable!("codec: unknown tag"),
        }
    }
}

/// [`decode`] of one element of a tuple, list or map, with atoms and small
/// integers built inline: most elements are, and a call to `decode` (a big
/// frame, a jump table) costs more than building them.
#[inline(always)]
fn decode_element(env: *mut ErlNifEnv, bytes: &[u8], blobs: &[Blob]) -> (ErlNifTerm, usize) {
    let word = || u64::from_le_bytes(bytes[1..9].try_into().unwrap_or_default());
    match bytes[0] {
        ATOM => (crate::raw::term_of(word()), 9),
        INT => (int_term(env, word() as i64), 9),
        _ => decode(env, bytes, blobs),
    }
}

/// Decodes one term per slot from the start of `bytes` (consecutive
/// encodings, as tuples and lists store their elements); returns the bytes read.
#[inline]
fn decode_into(env: *mut ErlNifEnv, bytes: &[u8], blobs: &[Blob], slots: &mut [ErlNifTerm]) -> usize {
    let mut at = 0;
    for slot in slots.iter_mut() {
        let (t, used) = decode_element(env, &bytes[at..], blobs);
        *slot = t;
        at += used;
    }
    at
}

/// Runs `f` with `n` term slots: on the stack when few, else on the heap.
fn with_terms<R>(n: usize, f: impl FnOnce(&mut [ErlNifTerm]) -> R) -> R {
    const STACK: usize = 16;
    if n <= STACK {
        let mut slots = [ErlNifTerm::default(); STACK];
        f(&mut slots[..n])
    } else {
        let mut slots = vec![ErlNifTerm::default(); n];
        f(&mut slots)
    }
}
