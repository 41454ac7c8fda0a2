//! Creating tables and the per-key operations: insert, lookup, member,
//! take and the deletes.

use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicU32, AtomicU64, AtomicU8};
use std::sync::Mutex;

use ferrets_core::{Compute, Table};
use rustler::sys::{enif_make_list_cell, ErlNifEnv, ErlNifTerm};
use rustler::{Atom, Encoder, Env, Error, NifResult, ResourceArc, Term};

use crate::atoms;
use crate::key::{probe, Key};
use crate::lean::lean_nif;
use crate::names;
use crate::objects::{encode_object, encode_object_with, with_key, Entry, Obj};
use crate::options::{self, Kind, OptError};
use crate::owner;
use crate::table::{resolve, self_word, Access, Fixes, Flags, OwnerState, TableResource};

/// Tables this big are iterated or cleared on a dirty scheduler.
pub const DIRTY_ABOVE: usize = 10_000;

/// Wraps a raw term built in `env`.
pub fn term(env: Env<'_>, raw: ErlNifTerm) -> Term<'_> {
    // SAFETY: `raw` was built in `env` (or is an immediate).
    unsafe { Term::new(env, raw) }
}

/// The list of the objects' terms, in order.
pub fn objects_list(env: *mut ErlNifEnv, objs: &[Obj], mut tail: ErlNifTerm) -> ErlNifTerm {
    for o in objs.iter().rev() {
        // SAFETY: both terms live in `env`.
        tail = unsafe { enif_make_list_cell(env, o.to_term(env), tail) };
    }
    tail
}

/// `new(Name, Options)`: a table owned by the caller. Returns the name for a
/// named table, else the table reference; `{error, ordered_set}` tells the
/// Erlang side to raise with that cause.
#[rustler::nif]
fn new<'a>(env: Env<'a>, name: Atom, options: Term<'a>) -> NifResult<Term<'a>> {
    let o = match options::parse(options) {
        Ok(o) => o,
        Err(OptError::OrderedSet) => return Ok(atoms::ordered_set().encode(env)),
        Err(OptError::Bad) => return Err(Error::BadArg),
    };
    let res = ResourceArc::new(TableResource {
        id: crate::table::next_id(),
        table: Table::new(),
        kind: o.kind,
        keypos: o.keypos,
        protection: AtomicU8::new(o.protection.to_u8()),
        named: o.named,
        name: AtomicU64::new(crate::raw::word(name.as_c_arg())),
        owner: AtomicU64::new(self_word(env)),
        state: Mutex::new(OwnerState { monitor: None, heir: o.heir }),
        fixes: Mutex::new(Fixes::default()),
        deleted: AtomicBool::new(false),
        flags: Flags {
            read_concurrency: o.read_concurrency,
            write_concurrency: o.write_concurrency,
            decentralized_counters: o.decentralized_counters,
            compressed: o.compressed,
        },
        extra: AtomicIsize::new(0),
        busy: AtomicU32::new(0),
        writes: AtomicU64::new(0),
        batch: Mutex::new(None),
        multi: Mutex::new(()),
    });
    if o.named && !names::register(crate::raw::word(name.as_c_arg()), res.clone()) {
        return Err(Error::BadArg);
    }
    let monitor = env.monitor(&res, &env.pid());
    res.state.lock().unwrap_or_else(|e| e.into_inner()).monitor = monitor;
    names::add(res.clone());
    let term = res.encode(env);
    crate::table::learn_type(env, &res, term);
    Ok(if o.named { name.encode(env) } else { term })
}

/// Encodes the object or list of objects `objects` (all or nothing).
fn encode_all(env: Env<'_>, t: &TableResource, objects: Term<'_>) -> NifResult<Vec<(Key, Obj)>> {
    let raw = env.as_c_arg();
    if objects.is_list() {
        let list = crate::raw::proper_list(objects)?;
        list.iter().map(|o| encode_object(raw, o.as_c_arg(), t.keypos).map_err(|()| Error::BadArg)).collect()
    } else {
        Ok(vec![encode_object(raw, objects.as_c_arg(), t.keypos).map_err(|()| Error::BadArg)?])
    }
}

/// Stores one object according to the table type.
pub(crate) fn put(t: &TableResource, key: Key, obj: Obj) {
    match t.kind {
        Kind::Set => {
            t.table.insert(key, Entry::one(obj));
        }
        Kind::Bag | Kind::DuplicateBag => {
            let dup = t.kind == Kind::DuplicateBag;
            let added = t.table.compute(key, |old| match old {
                None => Compute::Insert(Entry::one(obj.clone()), 0),
                Some(e) if !dup && e.objects().iter().any(|o| o.same(&obj)) => Compute::Keep(0),
                Some(e) => {
                    let mut v = e.objects().to_vec();
                    v.push(obj.clone());
                    Entry::from_vec(v).map_or(Compute::Keep(0), |e| Compute::Insert(e, 1))
                }
            });
            t.add_extra(added);
        }
    }
}

// `insert(Tab, ObjectOrObjects)`.
lean_nif!("insert" => insert_impl, 0, 1);

/// `insert(Tab, Objects)` for long lists, on a dirty CPU scheduler.
#[rustler::nif(schedule = "DirtyCpu")]
fn insert_dirty<'a>(env: Env<'a>, tab: Term<'a>, objects: Term<'a>) -> NifResult<bool> {
    crate::batch::blocking(|| insert_impl(env, tab, objects))
}

/// `insert/2` on either kind of scheduler.
fn insert_impl<'a>(env: Env<'a>, tab: Term<'a>, objects: Term<'a>) -> NifResult<bool> {
    let t = resolve(env, tab, Access::Write)?;
    let raw = env.as_c_arg();
    let one = encode_object_with(raw, objects.as_c_arg(), t.keypos, |kb, code, blobs| {
        // A set's short plain object over an existing key: rewrite in place.
        if t.kind == Kind::Set && blobs.is_empty() {
            let over = |e: &Entry| e.single().is_some_and(|old| old.overwrite(code));
            if probe(kb, |k| t.table.get_with(k, over), |k| t.table.get_with(k, over)) == Some(true) {
                return None;
            }
        }
        Some((Key::new(kb), Obj::new(code, blobs)))
    });
    match one {
        Ok(Some((k, o))) => put(t, k, o),
        Ok(None) => {}
        Err(()) if objects.is_list() => {
            let all = encode_all(env, t, objects)?;
            t.insert_list(all, false);
        }
        Err(()) => return Err(Error::BadArg),
    }
    Ok(true)
}

/// Stores a list of objects with `insert/2`'s semantics for the table type.
/// ETS stores a `bag` list last to first (so equal-key objects of one call
/// land in reverse order) and ferrets matches it; `in_order` stores first to
/// last instead (a snapshot load keeps each key's object order).
pub(crate) fn put_all(t: &TableResource, all: Vec<(Key, Obj)>, in_order: bool) {
    if t.kind == Kind::Bag && !in_order {
        all.into_iter().rev().for_each(|(k, o)| put(t, k, o));
    } else {
        all.into_iter().for_each(|(k, o)| put(t, k, o));
    }
}

// `insert_new(Tab, ObjectOrObjects)`: nothing is stored if any key exists.
lean_nif!("insert_new" => insert_new_impl, 0, 1);

/// `insert_new(Tab, Objects)` for long lists, on a dirty CPU scheduler.
#[rustler::nif(schedule = "DirtyCpu")]
fn insert_new_dirty<'a>(env: Env<'a>, tab: Term<'a>, objects: Term<'a>) -> NifResult<bool> {
    crate::batch::blocking(|| insert_new_impl(env, tab, objects))
}

/// `insert_new/2` on either kind of scheduler.
fn insert_new_impl<'a>(env: Env<'a>, tab: Term<'a>, objects: Term<'a>) -> NifResult<bool> {
    let t = resolve(env, tab, Access::Write)?;
    let all = encode_all(env, t, objects)?;
    if all.len() == 1 {
        let (k, o) = all.into_iter().next().ok_or(Error::BadArg)?;
        return Ok(t.table.insert_new(k, Entry::one(o)));
    }
    Ok(t.insert_list(all, true))
}

lean_nif!("lookup" => lookup, 0, 1);

/// `lookup(Tab, Key)`: the objects under `Key`, `[]` if none.
fn lookup<'a>(env: Env<'a>, tab: Term<'a>, key: Term<'a>) -> NifResult<Term<'a>> {
    let t = resolve(env, tab, Access::Read)?;
    let raw = env.as_c_arg();
    let nil = crate::codec::nil_term(raw);
    let build = |e: &Entry| objects_list(raw, e.objects(), nil);
    let list = with_key(raw, key.as_c_arg(), |kb| {
        probe(kb, |k| t.table.get_with(k, build), |k| t.table.get_with(k, build))
    })
    .map_err(|()| Error::BadArg)?;
    Ok(term(env, list.unwrap_or(nil)))
}

lean_nif!("lookup_element" => lookup_element, 0, 1, 2);

/// `lookup_element(Tab, Key, Pos)`.
fn lookup_element<'a>(env: Env<'a>, tab: Term<'a>, key: Term<'a>, pos: Term<'a>) -> NifResult<Term<'a>> {
    let t = resolve(env, tab, Access::Read)?;
    let pos: usize = pos.decode().ok().filter(|&p| p >= 1).ok_or(Error::BadArg)?;
    let raw = env.as_c_arg();
    let found = with_key(raw, key.as_c_arg(), |k| {
        t.table.get_with(k, |e| {
            let objs = e.objects();
            if objs.iter().any(|o| o.arity() < pos) {
                return None;
            }
            if t.kind == Kind::Set {
                return objs[0].element(raw, pos);
            }
            let elems: Option<Vec<ErlNifTerm>> = objs.iter().map(|o| o.element(raw, pos)).collect();
            let elems = elems?;
            // SAFETY: `elems` holds `len` terms of this environment.
            Some(unsafe { rustler::sys::enif_make_list_from_array(raw, elems.as_ptr(), elems.len() as u32) })
        })
    })
    .map_err(|()| Error::BadArg)?;
    found.flatten().map(|r| term(env, r)).ok_or(Error::BadArg)
}

lean_nif!("member" => member, 0, 1);

/// `member(Tab, Key)`.
fn member<'a>(env: Env<'a>, tab: Term<'a>, key: Term<'a>) -> NifResult<bool> {
    let t = resolve(env, tab, Access::Read)?;
    with_key(env.as_c_arg(), key.as_c_arg(), |kb| {
        probe(kb, |k| t.table.contains_key(k), |k| t.table.contains_key(k))
    })
    .map_err(|()| Error::BadArg)
}

lean_nif!("take" => take, 0, 1);

/// `take(Tab, Key)`: removes and returns the objects under `Key`.
fn take<'a>(env: Env<'a>, tab: Term<'a>, key: Term<'a>) -> NifResult<Term<'a>> {
    let t = resolve(env, tab, Access::Write)?;
    let raw = env.as_c_arg();
    let taken = with_key(raw, key.as_c_arg(), |k| t.table.take(k)).map_err(|()| Error::BadArg)?;
    if let Some(e) = &taken {
        t.add_extra(1 - e.objects().len() as isize);
    }
    let nil = crate::codec::nil_term(raw);
    Ok(term(env, taken.map_or(nil, |e| objects_list(raw, e.objects(), nil))))
}

lean_nif!("delete_key" => delete_key, 0, 1);

/// `delete(Tab, Key)`.
fn delete_key<'a>(env: Env<'a>, tab: Term<'a>, key: Term<'a>) -> NifResult<bool> {
    let t = resolve(env, tab, Access::Write)?;
    if t.kind == Kind::Set {
        with_key(env.as_c_arg(), key.as_c_arg(), |k| t.table.remove(k)).map_err(|()| Error::BadArg)?;
    } else if let Some(e) =
        with_key(env.as_c_arg(), key.as_c_arg(), |k| t.table.take(k)).map_err(|()| Error::BadArg)?
    {
        t.add_extra(1 - e.objects().len() as isize);
    }
    Ok(true)
}

lean_nif!("delete_object" => delete_object, 0, 1);

/// `delete_object(Tab, Object)`: removes every copy of exactly `Object`.
fn delete_object<'a>(env: Env<'a>, tab: Term<'a>, object: Term<'a>) -> NifResult<bool> {
    remove_object(env, tab, object).map(|_| true)
}

lean_nif!("delete_object_count" => delete_object_count, 0, 1);

/// `delete_object/2` that answers how many objects it removed (for
/// `select_delete/2`, which counts what it deleted).
fn delete_object_count<'a>(env: Env<'a>, tab: Term<'a>, object: Term<'a>) -> NifResult<usize> {
    remove_object(env, tab, object)
}

/// Removes every copy of exactly `object`; how many there were.
fn remove_object<'a>(env: Env<'a>, tab: Term<'a>, object: Term<'a>) -> NifResult<usize> {
    let t = resolve(env, tab, Access::Write)?;
    let (k, obj) = encode_object(env.as_c_arg(), object.as_c_arg(), t.keypos).map_err(|()| Error::BadArg)?;
    // (change of the objects beyond one per key, objects removed)
    let (extra, removed) = t.table.compute(k, |old| match old {
        None => Compute::Keep((0, 0)),
        Some(e) if t.kind == Kind::Set => {
            let Some(o) = e.single() else { return Compute::Keep((0, 0)) };
            o.seal();
            if o.same(&obj) {
                Compute::Remove((0, 1))
            } else {
                Compute::Keep((0, 0))
            }
        }
        Some(e) if !e.objects().iter().any(|o| o.same(&obj)) => Compute::Keep((0, 0)),
        Some(e) => {
            let before = e.objects().len() as isize;
            match Entry::from_vec(e.objects().iter().filter(|o| !o.same(&obj)).cloned().collect()) {
                Some(rest) => {
                    let gone = before - rest.objects().len() as isize;
                    Compute::Insert(rest, (gone, gone))
                }
                None => Compute::Remove((before - 1, before)),
            }
        }
    });
    t.add_extra(-extra);
    Ok(removed as usize)
}

lean_nif!("replace_object" => replace_object, 0, 1, 2);

/// `select_replace/2`'s step: replaces one copy of exactly `old` by `new`
/// (an object with the same key) where it stands; whether it did. As in
/// [`remove_object`], a set's object is sealed before the comparison, so
/// that no in-place overwrite slips between it and the replacement. Bags
/// are refused (as `ets:select_replace/2` refuses them).
fn replace_object<'a>(env: Env<'a>, tab: Term<'a>, old: Term<'a>, new: Term<'a>) -> NifResult<bool> {
    let t = resolve(env, tab, Access::Write)?;
    let raw = env.as_c_arg();
    let (k, old) = encode_object(raw, old.as_c_arg(), t.keypos).map_err(|()| Error::BadArg)?;
    let (new_key, new) = encode_object(raw, new.as_c_arg(), t.keypos).map_err(|()| Error::BadArg)?;
    if new_key != k || t.kind == Kind::Bag {
        return Err(Error::BadArg);
    }
    Ok(t.table.compute(k, |cur| match cur {
        None => Compute::Keep(false),
        Some(e) if t.kind == Kind::Set => {
            let Some(o) = e.single() else { return Compute::Keep(false) };
            o.seal();
            if o.same(&old) {
                Compute::Insert(Entry::one(new.clone()), true)
            } else {
                Compute::Keep(false)
            }
        }
        Some(e) => match e.objects().iter().position(|o| o.same(&old)) {
            None => Compute::Keep(false),
            Some(i) => {
                let mut v = e.objects().to_vec();
                v[i] = new.clone();
                Entry::from_vec(v).map_or(Compute::Keep(false), |e| Compute::Insert(e, true))
            }
        },
    }))
}

lean_nif!("delete_table" => delete_table, 0);

/// `delete(Tab)`.
fn delete_table<'a>(env: Env<'a>, tab: Term<'a>) -> NifResult<bool> {
    let t = resolve(env, tab, Access::Write)?;
    owner::delete(t);
    Ok(true)
}

lean_nif!("delete_all_objects" => delete_all_objects, 0);

/// `delete_all_objects(Tab)` on a scheduler; `too_big` asks for the dirty variant.
fn delete_all_objects<'a>(env: Env<'a>, tab: Term<'a>) -> NifResult<Term<'a>> {
    let t = resolve(env, tab, Access::Write)?;
    if t.table.len() > DIRTY_ABOVE {
        return Ok(atoms::too_big().encode(env));
    }
    t.clear();
    Ok(true.encode(env))
}

/// Finishes the resizes in progress (after `init_table/2`'s bulk load: the
/// copy writers would otherwise leave to later writes), on a dirty CPU
/// scheduler: it may copy much of the table.
#[rustler::nif(schedule = "DirtyCpu")]
fn finish_resizes<'a>(env: Env<'a>, tab: Term<'a>) -> NifResult<bool> {
    let t = crate::table::resolve_blocking(env, tab, Access::Write)?;
    t.table.finish_resizes();
    Ok(true)
}

/// `delete_all_objects(Tab)` for big tables, on a dirty CPU scheduler.
#[rustler::nif(schedule = "DirtyCpu")]
fn delete_all_objects_dirty<'a>(env: Env<'a>, tab: Term<'a>) -> NifResult<bool> {
    let t = crate::table::resolve_blocking(env, tab, Access::Write)?;
    t.clear();
    Ok(true)
}
