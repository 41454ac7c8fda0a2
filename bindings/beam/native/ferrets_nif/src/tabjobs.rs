//! Heavy table operations on the offload pool (`Ferrets.Async`): tab2list,
//! reductions, delete_all_objects, bulk insert, snapshot save and load.
//!
//! Access is checked in the submitting NIF (it runs as the caller); the job
//! then holds a counted reference to the table. Everything that knows the
//! table's internals is in the small adapter section at the top, so the rest
//! survives changes to them.

use std::path::PathBuf;
use std::sync::atomic::Ordering;

use ferrets_core::pool::CancelToken;
use ferrets_core::snapshot::{self, SnapError};
use rustler::env::{OwnedEnv, SavedTerm};
use rustler::sys::{enif_make_list_from_array, ErlNifEnv, ErlNifTerm};
use rustler::{Atom, Env, Error, NifResult, ResourceArc, Term};

use crate::key::Key;
use crate::objects::{encode_object, Obj};
use crate::ops::put_all;
use crate::pool::{build, error_tuple, ok_tuple, submit, Ctx, PoolResource, Reply};
use crate::table::{resolve, Access, TableResource};

// --- Adapter: the only code here that knows the table's internals. ---

/// A counted reference to the table `tab`, once the caller may `access` it.
/// During a long list insert: helps for the usual budget, then raises
/// `ferrets_batch_busy` (nothing submitted yet), on which `Ferrets.Async`
/// yields and submits again.
fn table_arc<'a>(env: Env<'a>, tab: Term<'a>, access: Access) -> NifResult<ResourceArc<TableResource>> {
    let t = resolve(env, tab, access)?;
    crate::names::by_id(t.id).ok_or(Error::BadArg)
}

/// Whether the table still exists.
fn alive(t: &TableResource) -> bool {
    !t.deleted.load(Ordering::Acquire)
}

/// Calls `f` on every object (weakly consistent with concurrent writes);
/// stops early when `f` returns `Err`.
fn each_object<E>(t: &TableResource, mut f: impl FnMut(&Obj) -> Result<(), E>) -> Result<(), E> {
    for (_, e) in t.table.iter() {
        for o in e.objects() {
            f(o)?;
        }
    }
    Ok(())
}

/// The object tuple `o` as a term in `env`.
fn object_term(env: *mut ErlNifEnv, o: &Obj) -> ErlNifTerm {
    o.to_term(env)
}

/// Encodes the tuple `term` for `t`; `Err` unless it is a tuple with a key.
fn encode(t: &TableResource, env: *mut ErlNifEnv, term: ErlNifTerm) -> Result<(Key, Obj), ()> {
    encode_object(env, term, t.keypos)
}

/// Removes every object.
fn clear(t: &TableResource) {
    t.clear();
}

// --- Jobs ---

mod atoms {
    rustler::atoms! { count, sum, badarith, deleted, badarg }
}

/// How often long loops look at their cancel token (and clear scratch terms).
const CHECK_EVERY: usize = 1024;

type Table = ResourceArc<TableResource>;

/// `{error, deleted}` when the table went away before the job ran.
fn gone(ctx: &Ctx) -> SavedTerm {
    build(ctx, |e| error_tuple(e, atoms::deleted()))
}

fn tab2list_job(t: &TableResource, tok: &CancelToken, ctx: &Ctx) -> Result<SavedTerm, String> {
    if !alive(t) {
        return Ok(gone(ctx));
    }
    let mut cancelled = Ok(());
    let saved = build(ctx, |env| {
        let raw = env.as_c_arg();
        // SAFETY: `[]` is built in this job's reply environment.
        let mut list = unsafe { enif_make_list_from_array(raw, std::ptr::null(), 0) };
        let mut n = 0usize;
        cancelled = each_object(t, |o| {
            n += 1;
            if n % CHECK_EVERY == 0 {
                tok.check()?;
            }
            // SAFETY: both terms live in `raw`.
            list = unsafe { rustler::sys::enif_make_list_cell(raw, object_term(raw, o), list) };
            Ok::<(), ferrets_core::pool::Interrupted>(())
        });
        // SAFETY: `list` was built in `env`.
        ok_tuple(env, unsafe { Term::new(env, list) })
    });
    cancelled?;
    Ok(saved)
}

/// A numeric accumulator: integers exactly (i128), floats once any appears.
enum Acc {
    Int(i128),
    Float(f64),
}

fn sum_job(t: &TableResource, pos: usize, tok: &CancelToken, ctx: &Ctx) -> Result<SavedTerm, String> {
    if !alive(t) {
        return Ok(gone(ctx));
    }
    let mut scratch = OwnedEnv::new();
    let mut acc = Acc::Int(0);
    let mut n = 0usize;
    let r = each_object(t, |o| {
        n += 1;
        if n % CHECK_EVERY == 0 {
            tok.check().map_err(|e| Some(e.to_string()))?;
            scratch.clear();
        }
        scratch.run(|env| {
            let raw = o.element(env.as_c_arg(), pos).ok_or(None)?;
            // SAFETY: `raw` was built in `env`.
            let v = unsafe { Term::new(env, raw) };
            acc = match (&acc, v.decode::<i128>(), v.decode::<f64>()) {
                (Acc::Int(a), Ok(i), _) => Acc::Int(a.checked_add(i).ok_or(None)?),
                (Acc::Int(a), _, Ok(f)) => Acc::Float(*a as f64 + f),
                (Acc::Float(a), Ok(i), _) => Acc::Float(a + i as f64),
                (Acc::Float(a), _, Ok(f)) => Acc::Float(a + f),
                _ => return Err(None),
            };
            Ok(())
        })
    });
    match r {
        Ok(()) => Ok(build(ctx, |e| match acc {
            Acc::Int(i) => ok_tuple(e, i),
            Acc::Float(f) => ok_tuple(e, f),
        })),
        Err(Some(interrupted)) => Err(interrupted),
        Err(None) => Ok(build(ctx, |e| error_tuple(e, atoms::badarith()))),
    }
}

fn count_job(t: &TableResource, tok: &CancelToken, ctx: &Ctx) -> Result<SavedTerm, String> {
    if !alive(t) {
        return Ok(gone(ctx));
    }
    let mut n = 0u64;
    each_object(t, |_| {
        n += 1;
        if n % CHECK_EVERY as u64 == 0 {
            tok.check()?;
        }
        Ok::<(), ferrets_core::pool::Interrupted>(())
    })?;
    Ok(build(ctx, |e| ok_tuple(e, n)))
}

fn insert_job(t: &TableResource, objects: SavedTerm, ctx: &Ctx) -> SavedTerm {
    if !alive(t) {
        return gone(ctx);
    }
    build(ctx, |env| {
        let list: Vec<Term<'_>> = match crate::raw::proper_list(objects.load(env)) {
            Ok(l) => l,
            Err(_) => return error_tuple(env, atoms::badarg()),
        };
        let all: Result<Vec<_>, ()> = list.iter().map(|o| encode(t, env.as_c_arg(), o.as_c_arg())).collect();
        match all {
            Ok(all) => {
                // Atomic and isolated like `insert/2` (see `crate::batch`).
                t.insert_list(all, false);
                ok_tuple(env, true)
            }
            Err(()) => error_tuple(env, atoms::badarg()),
        }
    })
}

fn snap_error(ctx: &Ctx, e: &SnapError) -> SavedTerm {
    let reason = e.reason();
    build(ctx, |env| match Atom::from_str(env, reason) {
        Ok(a) => error_tuple(env, a),
        Err(_) => error_tuple(env, atoms::badarg()),
    })
}

fn save_job(t: &TableResource, path: PathBuf, tok: &CancelToken, ctx: &Ctx) -> Result<SavedTerm, String> {
    if !alive(t) {
        return Ok(gone(ctx));
    }
    let mut scratch = OwnedEnv::new();
    let r = (|| {
        let mut w = snapshot::Writer::create(&path)?;
        let mut n = 0usize;
        each_object(t, |o| {
            n += 1;
            if n % CHECK_EVERY == 0 {
                tok.check().map_err(|e| SnapError::Interrupted(e.to_string()))?;
                scratch.clear();
            }
            let bin = scratch.run(|env| {
                // SAFETY: the object term is built in `env`.
                let term = unsafe { Term::new(env, object_term(env.as_c_arg(), o)) };
                term.to_binary()
            });
            w.record(bin.as_slice())
        })?;
        w.finish()
    })();
    match r {
        Ok(n) => Ok(build(ctx, |e| ok_tuple(e, n))),
        Err(SnapError::Interrupted(m)) => Err(m),
        Err(e) => Ok(snap_error(ctx, &e)),
    }
}

fn load_job(t: &TableResource, path: PathBuf, tok: &CancelToken, ctx: &Ctx) -> Result<SavedTerm, String> {
    if !alive(t) {
        return Ok(gone(ctx));
    }
    let r = (|| {
        let bytes = std::fs::read(&path)?;
        let records = snapshot::records(&bytes)?;
        // Decode everything before touching the table: all or nothing.
        let mut scratch = OwnedEnv::new();
        let mut all = Vec::with_capacity(records.len());
        for (i, rec) in records.iter().enumerate() {
            if i % CHECK_EVERY == CHECK_EVERY - 1 {
                tok.check().map_err(|e| SnapError::Interrupted(e.to_string()))?;
                scratch.clear();
            }
            let obj = scratch.run(|env| {
                let (term, used) = env.binary_to_term(rec).ok_or(SnapError::Corrupt)?;
                if used != rec.len() {
                    return Err(SnapError::Corrupt);
                }
                encode(t, env.as_c_arg(), term.as_c_arg()).map_err(|()| SnapError::Corrupt)
            })?;
            all.push(obj);
        }
        tok.check().map_err(|e| SnapError::Interrupted(e.to_string()))?;
        let n = all.len() as u64;
        put_all(t, all, true);
        Ok(n)
    })();
    match r {
        Ok(n) => Ok(build(ctx, |e| ok_tuple(e, n))),
        Err(SnapError::Interrupted(m)) => Err(m),
        Err(e) => Ok(snap_error(ctx, &e)),
    }
}

/// The reduction an `async_reduce` call asks for.
enum Reduce {
    Count,
    Sum(usize),
}

fn parse_reduce(op: Term<'_>) -> NifResult<Reduce> {
    if op.decode::<Atom>().is_ok_and(|a| a == atoms::count()) {
        return Ok(Reduce::Count);
    }
    let (a, pos): (Atom, usize) = op.decode()?;
    if a != atoms::sum() || pos == 0 {
        return Err(Error::BadArg);
    }
    Ok(Reduce::Sum(pos))
}

fn path_of(path: Term<'_>) -> NifResult<PathBuf> {
    let s: String = path.decode()?;
    if s.is_empty() || s.contains('\0') {
        return Err(Error::BadArg);
    }
    Ok(PathBuf::from(s))
}

/// The common part of every `async_*` NIF: resolves `tab` once the caller
/// may `access` it, reads the timeout, and submits `job` with a reply to the
/// caller under `reply`'s tag.
fn submit_on<'a>(
    env: Env<'a>,
    pool: &PoolResource,
    reply: Reply,
    tab: Term<'a>,
    access: Access,
    timeout: Term<'a>,
    job: impl FnOnce(&TableResource, &CancelToken, &Ctx) -> Result<SavedTerm, String> + Send + 'static,
) -> NifResult<Term<'a>> {
    let t: Table = table_arc(env, tab, access)?;
    let deadline = crate::pool::deadline(timeout)?;
    Ok(submit(env, pool, reply, deadline, move |tok, ctx| job(&t, tok, ctx)))
}

/// `Ferrets.Async.tab2list/2`.
#[rustler::nif]
fn async_tab2list<'a>(
    env: Env<'a>,
    pool: ResourceArc<PoolResource>,
    tag: Term<'a>,
    tab: Term<'a>,
    timeout: Term<'a>,
) -> NifResult<Term<'a>> {
    submit_on(env, &pool, Reply::new(env, tag), tab, Access::Read, timeout, tab2list_job)
}

/// `Ferrets.Async.reduce/3`: `count` or `{sum, Pos}`, folded in native code.
#[rustler::nif]
fn async_reduce<'a>(
    env: Env<'a>,
    pool: ResourceArc<PoolResource>,
    tag: Term<'a>,
    tab: Term<'a>,
    op: Term<'a>,
    timeout: Term<'a>,
) -> NifResult<Term<'a>> {
    let op = parse_reduce(op)?;
    submit_on(env, &pool, Reply::new(env, tag), tab, Access::Read, timeout, move |t, tok, ctx| match op {
        Reduce::Count => count_job(t, tok, ctx),
        Reduce::Sum(pos) => sum_job(t, pos, tok, ctx),
    })
}

/// `Ferrets.Async.delete_all_objects/2`.
#[rustler::nif]
fn async_delete_all<'a>(
    env: Env<'a>,
    pool: ResourceArc<PoolResource>,
    tag: Term<'a>,
    tab: Term<'a>,
    timeout: Term<'a>,
) -> NifResult<Term<'a>> {
    submit_on(env, &pool, Reply::new(env, tag), tab, Access::Write, timeout, |t, _tok, ctx| {
        if !alive(t) {
            return Ok(gone(ctx));
        }
        clear(t);
        Ok(build(ctx, |e| ok_tuple(e, true)))
    })
}

/// `Ferrets.Async.insert/3`: a list of objects, all or nothing.
#[rustler::nif]
fn async_insert<'a>(
    env: Env<'a>,
    pool: ResourceArc<PoolResource>,
    tag: Term<'a>,
    tab: Term<'a>,
    objects: Term<'a>,
    timeout: Term<'a>,
) -> NifResult<Term<'a>> {
    if !objects.is_list() {
        return Err(Error::BadArg);
    }
    let reply = Reply::new(env, tag);
    let saved = reply.env.save(objects);
    submit_on(env, &pool, reply, tab, Access::Write, timeout, move |t, _tok, ctx| {
        Ok(insert_job(t, saved, ctx))
    })
}

/// `Ferrets.Async.save/3`: a snapshot of the table to `Path`.
#[rustler::nif]
fn async_save<'a>(
    env: Env<'a>,
    pool: ResourceArc<PoolResource>,
    tag: Term<'a>,
    tab: Term<'a>,
    path: Term<'a>,
    timeout: Term<'a>,
) -> NifResult<Term<'a>> {
    let path = path_of(path)?;
    submit_on(env, &pool, Reply::new(env, tag), tab, Access::Read, timeout, move |t, tok, ctx| {
        save_job(t, path, tok, ctx)
    })
}

/// `Ferrets.Async.load/3`: inserts a snapshot's objects into the table.
#[rustler::nif]
fn async_load<'a>(
    env: Env<'a>,
    pool: ResourceArc<PoolResource>,
    tag: Term<'a>,
    tab: Term<'a>,
    path: Term<'a>,
    timeout: Term<'a>,
) -> NifResult<Term<'a>> {
    let path = path_of(path)?;
    submit_on(env, &pool, Reply::new(env, tag), tab, Access::Write, timeout, move |t, tok, ctx| {
        load_job(t, path, tok, ctx)
    })
}
