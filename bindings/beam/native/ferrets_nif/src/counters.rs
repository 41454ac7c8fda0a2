//! `update_counter/3,4` and `update_element/3`: atomic in-place updates of a
//! `set` object.

use ferrets_core::Compute;
use rustler::sys::{enif_get_tuple, enif_make_list_from_array, enif_make_tuple_from_array, ErlNifTerm};
use rustler::{Env, Error, NifResult, Term};

use crate::codec;
use crate::key::{probe, Key};
use crate::lean::lean_nif;
use crate::objects::{encode_object, key_of, with_key, Entry, Obj};
use crate::ops::term;
use crate::options::Kind;
use crate::table::{resolve, Access, TableResource};

/// One counter operation: add `incr` at `pos`, then clamp to `set_value`
/// when the result crosses `threshold`.
struct Op {
    /// 1-based tuple position.
    pos: usize,
    /// The increment.
    incr: i128,
    /// `(Threshold, SetValue)`.
    limit: Option<(i128, i128)>,
}

/// An integer term as `i128` (small and big integers).
fn int_of(t: Term<'_>) -> Option<i128> {
    if let Some(i) = codec::small_int(t.get_env().as_c_arg(), t.as_c_arg()) {
        return Some(i.into());
    }
    if let Ok(i) = t.decode::<i64>() {
        return Some(i.into());
    }
    if !t.is_integer() {
        return None;
    }
    let mut buf = Vec::new();
    codec::encode(t.get_env().as_c_arg(), t.as_c_arg(), &mut buf, &mut None).ok()?;
    codec::decode_int(&buf)
}

/// One `UpdateOp` (`Incr`, `{Pos, Incr}` or `{Pos, Incr, Threshold, SetValue}`).
fn parse_op(t: &TableResource, op: Term<'_>) -> Option<Op> {
    if let Some(incr) = int_of(op) {
        return Some(Op { pos: t.keypos + 1, incr, limit: None });
    }
    let elems = rustler::types::tuple::get_tuple(op).ok()?;
    let pos = elems.first()?.decode::<usize>().ok()?;
    match elems[..] {
        [_, incr] => Some(Op { pos, incr: int_of(incr)?, limit: None }),
        [_, incr, thr, set] => {
            Some(Op { pos, incr: int_of(incr)?, limit: Some((int_of(thr)?, int_of(set)?)) })
        }
        _ => None,
    }
}

/// Applies `ops` to the object bytes `code`; the new bytes and the results.
fn apply(keypos: usize, code: &[u8], ops: &[Op]) -> Option<(Vec<u8>, Vec<i128>)> {
    let mut code = code.to_vec();
    let mut out = Vec::with_capacity(ops.len());
    for op in ops {
        if op.pos == keypos {
            return None;
        }
        let range = codec::tuple_element(&code, op.pos)?;
        let old = codec::decode_int(&code[range.clone()])?;
        let mut new = old.checked_add(op.incr)?;
        if let Some((thr, set)) = op.limit {
            if (op.incr >= 0 && new > thr) || (op.incr < 0 && new < thr) {
                new = set;
            }
        }
        let mut enc = Vec::with_capacity(9);
        codec::encode_int(new, &mut enc);
        if enc.len() == range.len() {
            code[range].copy_from_slice(&enc);
        } else {
            code.splice(range, enc);
        }
        out.push(new);
    }
    Some((code, out))
}

/// Applies one operation to `code`: new bytes and the new value.
fn apply_one(keypos: usize, code: &[u8], op: &Op) -> Option<(Key, i128)> {
    let range = codec::tuple_element(code, op.pos).filter(|_| op.pos != keypos)?;
    if code[range.start] != codec::INT || op.limit.is_some() {
        let (code, res) = apply(keypos, code, std::slice::from_ref(op))?;
        return Some((Key::new(&code), res[0]));
    }
    let old = i64::from_le_bytes(code[range.start + 1..range.end].try_into().ok()?);
    let new = i128::from(old).checked_add(op.incr)?;
    let Ok(small) = i64::try_from(new) else {
        let (code, res) = apply(keypos, code, std::slice::from_ref(op))?;
        return Some((Key::new(&code), res[0]));
    };
    let mut out = Key::new(code);
    out.bytes_mut()[range.start + 1..range.end].copy_from_slice(&small.to_le_bytes());
    Some((out, new))
}

/// The integer term for `n` in `env`.
fn int_term(env: Env<'_>, n: i128) -> ErlNifTerm {
    if let Ok(small) = i64::try_from(n) {
        // SAFETY: `env` is this call's environment.
        return unsafe { rustler::sys::enif_make_int64(env.as_c_arg(), small) };
    }
    let mut buf = Vec::new();
    codec::encode_int(n, &mut buf);
    codec::decode(env.as_c_arg(), &buf, &[]).0
}

/// The default object of `update_counter/4` with its key element replaced
/// by `key`; `None` when it is too short to have a key (an error only if used).
fn default_object<'a>(env: Env<'a>, t: &TableResource, key: Term<'a>, d: Term<'a>) -> NifResult<Option<Obj>> {
    let raw = env.as_c_arg();
    let mut arity = 0;
    let mut elems: *const ErlNifTerm = std::ptr::null();
    // SAFETY: `d` belongs to this call's environment.
    if unsafe { enif_get_tuple(raw, d.as_c_arg(), &mut arity, &mut elems) } == 0 {
        return Err(Error::BadArg);
    }
    // SAFETY: `enif_get_tuple` succeeded: `elems` holds `arity` terms.
    let mut elems = unsafe { std::slice::from_raw_parts(elems, arity as usize) }.to_vec();
    if elems.len() < t.keypos {
        return Ok(None);
    }
    elems[t.keypos - 1] = key.as_c_arg();
    // SAFETY: `elems` holds `arity` terms of this environment.
    let d = unsafe { enif_make_tuple_from_array(raw, elems.as_ptr(), arity as u32) };
    Ok(Some(encode_object(raw, d, t.keypos).map_err(|()| Error::BadArg)?.1))
}

/// `update_counter/3,4`: the in-place fast path, then the general one.
fn update_counter_impl<'a>(
    env: Env<'a>,
    tab: Term<'a>,
    key: Term<'a>,
    ops: Term<'a>,
    default: Option<Term<'a>>,
) -> NifResult<Term<'a>> {
    let t = resolve(env, tab, Access::Write)?;
    if t.kind != Kind::Set {
        return Err(Error::BadArg);
    }
    let raw = env.as_c_arg();
    if default.is_some_and(|d| !d.is_tuple()) {
        return Err(Error::BadArg);
    }
    if codec::small_int(raw, ops.as_c_arg()).is_some() || !ops.is_list() {
        // Fastest path: an in-place add (see `Obj::try_add`).
        let op = parse_op(t, ops).ok_or(Error::BadArg)?;
        if let (None, Ok(incr), true) = (&op.limit, i64::try_from(op.incr), op.pos != t.keypos) {
            let add = |e: &Entry| e.single().and_then(|o| o.try_add(op.pos, incr));
            let added = with_key(raw, key.as_c_arg(), |kb| {
                probe(kb, |k| t.table.get_with(k, add), |k| t.table.get_with(k, add))
            })
            .map_err(|()| Error::BadArg)?;
            if let Some(Some(n)) = added {
                return Ok(term(env, codec::int_term(raw, n)));
            }
        }
    }
    let (ops, many) = if ops.is_list() {
        let list = crate::raw::proper_list(ops)?;
        (
            list.into_iter()
                .map(|o| if o.is_tuple() { parse_op(t, o) } else { None })
                .collect::<Option<Vec<_>>>(),
            true,
        )
    } else {
        (parse_op(t, ops).map(|o| vec![o]), false)
    };
    let ops = ops.ok_or(Error::BadArg)?;
    let k: Key = key_of(raw, key.as_c_arg()).map_err(|()| Error::BadArg)?;
    let default = match default {
        None => None,
        Some(d) => Some(default_object(env, t, key, d)?),
    };
    if !many {
        // Fast path: one operation, usually an in-place 8-byte rewrite.
        let op = &ops[0];
        let r = t.table.compute(k, |old| {
            let base: &Obj = match (old.map(Entry::single), &default) {
                (Some(Some(o)), _) => o,
                (None, Some(Some(d))) => d,
                _ => return Compute::Keep(None),
            };
            match apply_one(t.keypos, &base.sealed_code(), op) {
                Some((code, n)) => Compute::Insert(
                    Entry::one(Obj::with_cells(code.bytes(), base.blobs(), t.keypos)),
                    Some(n),
                ),
                None => Compute::Keep(None),
            }
        });
        return Ok(term(env, int_term(env, r.ok_or(Error::BadArg)?)));
    }
    let results = t.table.compute(k, |old| {
        let base: &Obj = match (old.map(Entry::single), &default) {
            (Some(Some(o)), _) => o,
            (None, Some(Some(d))) => d,
            _ => return Compute::Keep(None),
        };
        match apply(t.keypos, &base.sealed_code(), &ops) {
            Some((code, res)) => {
                Compute::Insert(Entry::one(Obj::with_cells(&code, base.blobs(), t.keypos)), Some(res))
            }
            None => Compute::Keep(None),
        }
    });
    let results = results.ok_or(Error::BadArg)?;
    if many {
        let terms: Vec<ErlNifTerm> = results.iter().map(|&n| int_term(env, n)).collect();
        // SAFETY: `terms` holds `len` terms of this environment.
        Ok(term(env, unsafe { enif_make_list_from_array(raw, terms.as_ptr(), terms.len() as u32) }))
    } else {
        Ok(term(env, int_term(env, results[0])))
    }
}

lean_nif!("update_counter" => update_counter, 0, 1, 2);

/// `update_counter(Tab, Key, UpdateOp | [UpdateOp] | Incr)`.
fn update_counter<'a>(env: Env<'a>, tab: Term<'a>, key: Term<'a>, ops: Term<'a>) -> NifResult<Term<'a>> {
    update_counter_impl(env, tab, key, ops, None)
}

lean_nif!("update_counter_default" => update_counter_default, 0, 1, 2, 3);

/// `update_counter(Tab, Key, UpdateOp | [UpdateOp] | Incr, Default)`.
fn update_counter_default<'a>(
    env: Env<'a>,
    tab: Term<'a>,
    key: Term<'a>,
    ops: Term<'a>,
    default: Term<'a>,
) -> NifResult<Term<'a>> {
    update_counter_impl(env, tab, key, ops, Some(default))
}

/// The `{Pos, Value}` pairs of an `update_element/3` spec.
fn parse_updates(elems: Term<'_>) -> Option<Vec<(usize, ErlNifTerm)>> {
    let list: Vec<Term<'_>> =
        if elems.is_list() { crate::raw::proper_list(elems).ok()? } else { vec![elems] };
    list.into_iter()
        .map(|e| {
            let (pos, value): (usize, Term<'_>) = e.decode().ok()?;
            (pos >= 1).then_some((pos, value.as_c_arg()))
        })
        .collect()
}

lean_nif!("update_element" => update_element, 0, 1, 2);

/// `update_element(Tab, Key, {Pos, Value} | [{Pos, Value}])`: `false` when
/// `Key` is absent.
fn update_element<'a>(env: Env<'a>, tab: Term<'a>, key: Term<'a>, elems: Term<'a>) -> NifResult<bool> {
    let t = resolve(env, tab, Access::Write)?;
    if t.kind != Kind::Set {
        return Err(Error::BadArg);
    }
    let raw = env.as_c_arg();
    // Like ETS, a bad spec only matters when the key exists.
    let updates = parse_updates(elems);
    let k: Key = key_of(raw, key.as_c_arg()).map_err(|()| Error::BadArg)?;
    let r = t.table.compute(k, |old| {
        let Some(o) = old.and_then(Entry::single) else { return Compute::Keep(Ok(false)) };
        let Some(updates) = &updates else { return Compute::Keep(Err(())) };
        o.seal();
        let arity = o.arity();
        if updates.iter().any(|&(p, _)| p > arity || p == t.keypos) {
            return Compute::Keep(Err(()));
        }
        let mut elems: Vec<ErlNifTerm> = (1..=arity).filter_map(|p| o.element(raw, p)).collect();
        for &(p, v) in updates {
            elems[p - 1] = v;
        }
        // SAFETY: `elems` holds `arity` terms of this environment.
        let new = unsafe { enif_make_tuple_from_array(raw, elems.as_ptr(), arity as u32) };
        match encode_object(raw, new, t.keypos) {
            Ok((_, obj)) => Compute::Insert(Entry::one(obj), Ok(true)),
            Err(()) => Compute::Keep(Err(())),
        }
    });
    r.map_err(|()| Error::BadArg)
}
