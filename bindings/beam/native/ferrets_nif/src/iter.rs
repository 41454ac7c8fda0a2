//! Traversal: `first/1`, `next/2` and `tab2list/1`.
//!
//! Keys are traversed in a fixed total order (hash of the encoded key, then
//! the bytes), so any snapshot of the key set agrees with any other on what
//! comes after a key. `first/1` takes a snapshot of the keys; `next/2` walks
//! it, skipping keys deleted since, and takes a new one when asked about a
//! key it does not hold. Keys inserted after the snapshot may be missed, as
//! ETS allows for unfixed hash tables.

use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::sync::Arc;

use rustler::sys::{enif_make_list_from_array, ErlNifTerm};
use rustler::{Encoder, Env, Error, NifResult, Term};

use crate::atoms;
use crate::codec;
use crate::key::Key;
use crate::lean::lean_nif;
use crate::objects::with_key;
use crate::ops::{objects_list, term, DIRTY_ABOVE};
use crate::table::{resolve, Access, TableResource};

/// Keys in traversal order.
pub struct Snapshot {
    /// `(order hash, key)`, sorted.
    keys: Vec<(u64, Key)>,
}

/// The traversal order's hash: fixed keys, so every snapshot agrees.
fn order_hash(bytes: &[u8]) -> u64 {
    BuildHasherDefault::<DefaultHasher>::default().hash_one(bytes)
}

/// Takes and publishes a new snapshot of the keys, in traversal order.
fn rebuild(t: &TableResource) -> Arc<Snapshot> {
    let mut keys: Vec<(u64, Key)> = t.table.iter().map(|(k, _)| (order_hash(k.bytes()), k)).collect();
    keys.sort_unstable_by(|a, b| (a.0, a.1.bytes()).cmp(&(b.0, b.1.bytes())));
    let snap = Arc::new(Snapshot { keys });
    *t.snapshot.lock().unwrap_or_else(|e| e.into_inner()) = Some(snap.clone());
    snap
}

/// Snapshot keys a normal scheduler checks for presence before it hands
/// the rest of the walk to a dirty one (a lookup each: well under 1 ms).
const SCAN_ON_NORMAL: usize = 2_000;

/// The first key from position `from` of `snap` still in the table, as a
/// term (or `$end_of_table`); `None` when a normal scheduler (`!dirty`)
/// checked [`SCAN_ON_NORMAL`] keys deleted since the snapshot without
/// finding one.
fn present_from<'a>(
    env: Env<'a>,
    t: &TableResource,
    snap: &Snapshot,
    from: usize,
    dirty: bool,
) -> Option<Term<'a>> {
    let limit = if dirty { usize::MAX } else { SCAN_ON_NORMAL };
    for (_, k) in snap.keys[from.min(snap.keys.len())..].iter().take(limit) {
        if t.table.contains_key(k.bytes()) {
            return Some(term(env, codec::decode(env.as_c_arg(), k.bytes(), &[]).0));
        }
    }
    (dirty || snap.keys.len().saturating_sub(from) <= limit).then(|| atoms::end_of_table().encode(env))
}

/// Whether whole-table work must move to a dirty scheduler.
fn too_big(t: &TableResource, dirty: bool) -> bool {
    !dirty && t.table.len() > DIRTY_ABOVE
}

/// `first/1` on either kind of scheduler.
fn first_impl<'a>(env: Env<'a>, tab: Term<'a>, dirty: bool) -> NifResult<Term<'a>> {
    let t = resolve(env, tab, Access::Read)?;
    if too_big(t, dirty) {
        return Ok(atoms::too_big().encode(env));
    }
    let snap = rebuild(t);
    Ok(present_from(env, t, &snap, 0, dirty).unwrap_or_else(|| atoms::too_big().encode(env)))
}

/// `next/2` on either kind of scheduler.
fn next_impl<'a>(env: Env<'a>, tab: Term<'a>, key: Term<'a>, dirty: bool) -> NifResult<Term<'a>> {
    let t = resolve(env, tab, Access::Read)?;
    let found = with_key(env.as_c_arg(), key.as_c_arg(), |kb| {
        if !t.table.contains_key(kb) {
            return Err(Error::BadArg);
        }
        let h = order_hash(kb);
        let search = |s: &Snapshot| s.keys.binary_search_by(|(hh, k)| (*hh, k.bytes()).cmp(&(h, kb))).ok();
        let current = t.snapshot.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(snap) = current {
            if let Some(i) = search(&snap) {
                return Ok(Some((snap, i)));
            }
        }
        if too_big(t, dirty) {
            return Ok(None);
        }
        let snap = rebuild(t);
        let i = search(&snap).ok_or(Error::BadArg)?;
        Ok(Some((snap, i)))
    })
    .map_err(|()| Error::BadArg)??;
    let walked = found.and_then(|(snap, i)| present_from(env, t, &snap, i + 1, dirty));
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
