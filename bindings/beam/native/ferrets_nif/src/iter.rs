//! Traversal: `first/1`, `next/2`, `tab2list/1`, and the chunks that
//! `select`/`match` walk the table in.
//!
//! `first/1` and `next/2` walk the keys in the core table's traversal
//! order: by [`Cursor`] (the partition and hash position of the key, fixed
//! for the table's life), then by the encoded bytes for equal cursors. So
//! the key after `K` is a function of the keys present, found by scanning
//! the few groups from `K`'s own position (a handful of microseconds): no
//! snapshot, no per-table state. Keys inserted during a walk are seen or
//! not depending on where they land, as ETS allows for unfixed hash tables.
//!
//! A normal scheduler reads at most [`GROUPS_ON_NORMAL`] groups (a run of
//! deleted keys, a mostly empty presized table) and does not help a resize
//! under way; it answers `too_big` instead, and the caller repeats the call
//! on a dirty scheduler, which has no bound.

use ferrets_core::{Cursor, HeapSize, Scan};
use rustler::sys::{enif_make_list_cell, enif_make_list_from_array, ErlNifTerm};
use rustler::{Encoder, Env, Error, NifResult, Term};

use crate::atoms;
use crate::codec;
use crate::key::Key;
use crate::lean::lean_nif;
use crate::objects::{with_key, Obj};
use crate::ops::{objects_list, term, DIRTY_ABOVE};
use crate::prefilter;
use crate::table::{resolve, Access, TableResource};

/// Home groups of the first scan: the next key is almost always in the
/// key's own group or the one after.
const FIRST_STEP: usize = 2;

/// Home groups per later call into the core's scan (one pin each).
const STEP: usize = 16;

/// Home groups a normal scheduler reads before it hands the walk to a
/// dirty one: with a key hashed per entry, well under a millisecond.
const GROUPS_ON_NORMAL: usize = 1_024;

/// The least key after `after` (its cursor and encoded bytes; `None`: from
/// the start) as a term, or `$end_of_table`; `None` when a normal scheduler
/// (`!dirty`) used up its budget or met a resize.
fn successor<'a>(
    env: Env<'a>,
    t: &TableResource,
    after: Option<(Cursor, &[u8])>,
    dirty: bool,
) -> Option<Term<'a>> {
    let mut from = after.map_or(Cursor::START, |(c, _)| c);
    let mut budget = if dirty { usize::MAX } else { GROUPS_ON_NORMAL };
    let mut step = FIRST_STEP;
    loop {
        let mut best: Option<(Cursor, Key)> = None;
        // Within one scan the entries come in table order: keep the least.
        let scan = t.table.scan(from, step, dirty, |c, k, _| {
            let above = after.is_none_or(|(c0, k0)| (c, k.bytes()) > (c0, k0));
            if above && best.as_ref().is_none_or(|(bc, bk)| (c, k.bytes()) < (*bc, bk.bytes())) {
                best = Some((c, k.clone()));
            }
        });
        // Every later scan covers greater cursors only.
        if let Some((_, k)) = best {
            return Some(term(env, codec::decode(env.as_c_arg(), k.bytes(), &[]).0));
        }
        match scan {
            Scan::More(to) => from = to,
            Scan::End => return Some(atoms::end_of_table().encode(env)),
            Scan::Busy => return None,
        }
        budget = budget.saturating_sub(step);
        step = STEP;
        if budget == 0 {
            return None;
        }
    }
}

/// Whether whole-table work must move to a dirty scheduler.
fn too_big(t: &TableResource, dirty: bool) -> bool {
    !dirty && t.table.len() > DIRTY_ABOVE
}

/// `first/1` on either kind of scheduler.
fn first_impl<'a>(env: Env<'a>, tab: Term<'a>, dirty: bool) -> NifResult<Term<'a>> {
    let t = resolve(env, tab, Access::Read)?;
    Ok(successor(env, t, None, dirty).unwrap_or_else(|| atoms::too_big().encode(env)))
}

/// `next/2` on either kind of scheduler.
fn next_impl<'a>(env: Env<'a>, tab: Term<'a>, key: Term<'a>, dirty: bool) -> NifResult<Term<'a>> {
    let t = resolve(env, tab, Access::Read)?;
    let walked = with_key(env.as_c_arg(), key.as_c_arg(), |kb| {
        // As ETS: the key must still be there, unless the table is fixed
        // (`safe_fixtable/2`); then the walk goes on from where it was.
        if !t.table.contains_key(kb) && !crate::fix::is_fixed(t) {
            return Err(Error::BadArg);
        }
        Ok(successor(env, t, Some((t.table.cursor_of(kb), kb)), dirty))
    })
    .map_err(|()| Error::BadArg)??;
    Ok(walked.unwrap_or_else(|| atoms::too_big().encode(env)))
}

lean_nif!("first" => first, 0);

/// `first(Tab)`; `too_big` asks for [`first_dirty`].
fn first<'a>(env: Env<'a>, tab: Term<'a>) -> NifResult<Term<'a>> {
    first_impl(env, tab, false)
}

/// `first(Tab)` on a dirty CPU scheduler.
#[rustler::nif(schedule = "DirtyCpu")]
fn first_dirty<'a>(env: Env<'a>, tab: Term<'a>) -> NifResult<Term<'a>> {
    crate::batch::blocking(|| first_impl(env, tab, true))
}

lean_nif!("next" => next, 0, 1);

/// `next(Tab, Key)`; `too_big` asks for [`next_dirty`].
fn next<'a>(env: Env<'a>, tab: Term<'a>, key: Term<'a>) -> NifResult<Term<'a>> {
    next_impl(env, tab, key, false)
}

/// `next(Tab, Key)` on a dirty CPU scheduler.
#[rustler::nif(schedule = "DirtyCpu")]
fn next_dirty<'a>(env: Env<'a>, tab: Term<'a>, key: Term<'a>) -> NifResult<Term<'a>> {
    crate::batch::blocking(|| next_impl(env, tab, key, true))
}

/// `tab2list/1` on either kind of scheduler.
fn tab2list_impl<'a>(env: Env<'a>, tab: Term<'a>, dirty: bool) -> NifResult<Term<'a>> {
    let t = resolve(env, tab, Access::Read)?;
    if too_big(t, dirty) {
        return Ok(atoms::too_big().encode(env));
    }
    let raw = env.as_c_arg();
    // SAFETY: `[]` is built in this call's environment.
    let mut list: ErlNifTerm = unsafe { enif_make_list_from_array(raw, std::ptr::null(), 0) };
    for (_, e) in t.table.iter() {
        list = objects_list(raw, e.objects(), list);
    }
    Ok(term(env, list))
}

lean_nif!("tab2list" => tab2list, 0);

/// `tab2list(Tab)`; `too_big` asks for [`tab2list_dirty`].
fn tab2list<'a>(env: Env<'a>, tab: Term<'a>) -> NifResult<Term<'a>> {
    tab2list_impl(env, tab, false)
}

/// `tab2list(Tab)` on a dirty CPU scheduler.
#[rustler::nif(schedule = "DirtyCpu")]
fn tab2list_dirty<'a>(env: Env<'a>, tab: Term<'a>) -> NifResult<Term<'a>> {
    crate::batch::blocking(|| tab2list_impl(env, tab, true))
}

/// Keys a chunk asks for at most: bounds the terms one call builds.
const CHUNK_KEYS_MAX: usize = 10_000;

/// What a normal scheduler's chunk stops after: this many keys, or objects
/// holding this many bytes of their own (decoding them is the cost), so
/// that it returns well within a millisecond.
const CHUNK_KEYS_ON_NORMAL: usize = 1_000;
const CHUNK_BYTES_ON_NORMAL: usize = 256 * 1024;

/// `chunk(Tab, From, N, Filter)` on either kind of scheduler: the objects
/// that may pass `Filter` (see [`prefilter::clauses`]; checked on the stored bytes,
/// before any term is built) among the keys from `From` on (`[]`: the
/// start; `{Partition, Position}`: a cursor from an earlier chunk) in
/// traversal order, as `{Objects, Next}`: `Next` is the cursor to go on
/// from, or `'$end_of_table'`. At least `N` keys are looked at unless the
/// table ends first; a normal scheduler stops earlier, after
/// [`GROUPS_ON_NORMAL`] groups, [`CHUNK_KEYS_ON_NORMAL`] keys or
/// [`CHUNK_BYTES_ON_NORMAL`] bytes of passing objects, and helps no resize
/// (`too_big` when one stopped it before it looked at any key). Objects come
/// in no particular order within a chunk; every key is in exactly one chunk
/// of a walk if it stays in the table throughout.
fn chunk_impl<'a>(
    env: Env<'a>,
    tab: Term<'a>,
    from: Term<'a>,
    n: Term<'a>,
    filter: Term<'a>,
    dirty: bool,
) -> NifResult<Term<'a>> {
    let t = resolve(env, tab, Access::Read)?;
    let want = n.decode::<usize>()?.clamp(1, if dirty { CHUNK_KEYS_MAX } else { CHUNK_KEYS_ON_NORMAL });
    let filter = prefilter::clauses(env, filter)?;
    let mut from = if from.is_empty_list() {
        Cursor::START
    } else {
        let (part, pos) = from.decode::<(usize, u64)>()?;
        Cursor::from_parts(part, pos)
    };
    let passes = |o: &Obj| filter.as_ref().is_none_or(|cs| cs.iter().any(|c| o.may_match(c)));
    let mut budget = if dirty { usize::MAX } else { GROUPS_ON_NORMAL };
    let (mut keys, mut bytes) = (0, 0);
    let raw = env.as_c_arg();
    // SAFETY: `[]` is built in this call's environment.
    let mut list: ErlNifTerm = unsafe { enif_make_list_from_array(raw, std::ptr::null(), 0) };
    let next = loop {
        // Terms are built as the scan meets the objects (a scan step visits
        // a few groups): no copy of each object to decode after it.
        let scan = t.table.scan(from, STEP, dirty, |_, _, e| {
            keys += 1;
            for o in e.objects().iter().filter(|o| passes(o)) {
                bytes += o.heap_size();
                // SAFETY: both terms live in `env`.
                list = unsafe { enif_make_list_cell(raw, o.to_term(raw), list) };
            }
        });
        match scan {
            Scan::End => break None,
            Scan::Busy if keys == 0 => return Ok(atoms::too_big().encode(env)),
            Scan::Busy => break Some(from),
            Scan::More(to) => from = to,
        }
        budget = budget.saturating_sub(STEP);
        if keys >= want || budget == 0 || (!dirty && bytes > CHUNK_BYTES_ON_NORMAL) {
            break Some(from);
        }
    };
    let next = match next {
        Some(c) => c.parts().encode(env),
        None => atoms::end_of_table().encode(env),
    };
    Ok((term(env, list), next).encode(env))
}

lean_nif!("chunk" => chunk, 0, 1, 2, 3);

/// `chunk(Tab, From, N, Filter)`; `too_big` asks for [`chunk_dirty`].
fn chunk<'a>(
    env: Env<'a>,
    tab: Term<'a>,
    from: Term<'a>,
    n: Term<'a>,
    filter: Term<'a>,
) -> NifResult<Term<'a>> {
    chunk_impl(env, tab, from, n, filter, false)
}

/// `chunk(Tab, From, N, Filter)` on a dirty CPU scheduler.
#[rustler::nif(schedule = "DirtyCpu")]
fn chunk_dirty<'a>(
    env: Env<'a>,
    tab: Term<'a>,
    from: Term<'a>,
    n: Term<'a>,
    filter: Term<'a>,
) -> NifResult<Term<'a>> {
    crate::batch::blocking(|| chunk_impl(env, tab, from, n, filter, true))
}

/// Slots each partition is cut into for `slot/2`: equal ranges of hash
/// positions, so a slot's keys do not depend on the table's size.
const SLOTS_PER_PARTITION: u64 = 256;

/// `slot(Tab, I)` on either kind of scheduler: the objects whose keys'
/// traversal positions fall in slot `I`, `'$end_of_table'` for `I` equal to
/// the slot count, `badarg` past it. Walking `I` from 0 until
/// `'$end_of_table'` visits every object present throughout once. A normal
/// scheduler answers `too_big` for a partition being resized, a slot
/// spanning more than [`GROUPS_ON_NORMAL`] groups, or objects of more than
/// [`CHUNK_BYTES_ON_NORMAL`] bytes (a slot's keys have no bound of their own).
fn slot_impl<'a>(env: Env<'a>, tab: Term<'a>, i: Term<'a>, dirty: bool) -> NifResult<Term<'a>> {
    let t = resolve(env, tab, Access::Read)?;
    let i = i.decode::<u64>()?;
    let slots = t.table.partitions() as u64 * SLOTS_PER_PARTITION;
    if i > slots {
        return Err(Error::BadArg);
    }
    if i == slots {
        return Ok(atoms::end_of_table().encode(env));
    }
    let part = (i / SLOTS_PER_PARTITION) as usize;
    let shift = 64 - SLOTS_PER_PARTITION.trailing_zeros();
    let k = i % SLOTS_PER_PARTITION;
    // The slot's positions: [k << shift, (k + 1) << shift), the last one up
    // to the partition's end.
    let end = (k + 1 < SLOTS_PER_PARTITION).then(|| (k + 1) << shift);
    let inside = |c: Cursor| {
        let (p, pos) = c.parts();
        p == part && end.is_none_or(|end| pos < end)
    };
    let raw = env.as_c_arg();
    // SAFETY: `[]` is built in this call's environment.
    let mut list: ErlNifTerm = unsafe { enif_make_list_from_array(raw, std::ptr::null(), 0) };
    let mut from = Cursor::from_parts(part, k << shift);
    let (mut budget, mut bytes) = (if dirty { usize::MAX } else { GROUPS_ON_NORMAL }, 0);
    loop {
        if budget == 0 || (!dirty && bytes > CHUNK_BYTES_ON_NORMAL) {
            // Many groups to read (a slot of a big or presized table), or
            // many bytes to build: a dirty scheduler takes the whole call.
            return Ok(atoms::too_big().encode(env));
        }
        budget = budget.saturating_sub(STEP);
        let scan = t.table.scan(from, STEP, dirty, |c, _, e| {
            if inside(c) {
                for o in e.objects() {
                    bytes += o.heap_size();
                    // SAFETY: both terms live in `env`.
                    list = unsafe { enif_make_list_cell(raw, o.to_term(raw), list) };
                }
            }
        });
        match scan {
            Scan::More(to) if inside(to) => from = to,
            // Nothing was visited: a dirty scheduler takes the whole call.
            Scan::Busy => return Ok(atoms::too_big().encode(env)),
            _ => break,
        }
    }
    Ok(term(env, list))
}

lean_nif!("slot" => slot, 0, 1);

/// `slot(Tab, I)`; `too_big` asks for [`slot_dirty`].
fn slot<'a>(env: Env<'a>, tab: Term<'a>, i: Term<'a>) -> NifResult<Term<'a>> {
    slot_impl(env, tab, i, false)
}

/// `slot(Tab, I)` on a dirty CPU scheduler.
#[rustler::nif(schedule = "DirtyCpu")]
fn slot_dirty<'a>(env: Env<'a>, tab: Term<'a>, i: Term<'a>) -> NifResult<Term<'a>> {
    crate::batch::blocking(|| slot_impl(env, tab, i, true))
}
