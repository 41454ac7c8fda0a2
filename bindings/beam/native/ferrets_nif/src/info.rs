//! `info/2`, `whereis/1`, `rename/2` and `all/0`.

use std::sync::atomic::Ordering;

use rustler::{Atom, Encoder, Env, Error, NifResult, ResourceArc, Term};

use crate::atoms;
use crate::lean::lean_nif;
use crate::names;
use crate::ops::term;
use crate::owner::tab_term;
use crate::table::{lookup_table, resolve, Access, TableResource};

/// The table's reference (its `id`).
fn arc_of(t: &TableResource) -> NifResult<ResourceArc<TableResource>> {
    names::by_id(t.id).ok_or(Error::BadArg)
}

lean_nif!("info" => info, 0, 1);

/// `info(Tab, Item)`: `undefined` for a table that does not exist. `size`
/// and `memory` wait for (help) a list insert under way, as other
/// operations do, so that they never count one half stored.
fn info<'a>(env: Env<'a>, tab: Term<'a>, item: Term<'a>) -> NifResult<Term<'a>> {
    let item: Atom = item.decode()?;
    // A deleted table's reference or an unknown name: `undefined`; a
    // reference that was never a ferrets table: `badarg`, as in ETS.
    let t = match lookup_table(tab) {
        Some(t) if !t.deleted.load(Ordering::Acquire) => t,
        Some(_) => return Ok(atoms::undefined().encode(env)),
        None if tab.is_atom() => return Ok(atoms::undefined().encode(env)),
        None => return Err(Error::BadArg),
    };
    // Counts of the whole table never include part of a list insert.
    if item == atoms::size() {
        return Ok(t.stable(|| t.size())?.encode(env));
    }
    if item == atoms::memory() {
        return Ok(t.stable(|| t.table.memory_bytes() / size_of::<usize>())?.encode(env));
    }
    let word = |w: u64| term(env, crate::raw::term_of(w));
    Ok(match item {
        i if i == atoms::keypos() => t.keypos.encode(env),
        i if i == atoms::type_() => t.kind.atom().encode(env),
        i if i == atoms::named_table() => t.named.encode(env),
        i if i == atoms::name() => word(t.name.load(Ordering::Acquire)),
        i if i == atoms::owner() => word(t.owner.load(Ordering::Acquire)),
        i if i == atoms::protection() => t.protection().atom().encode(env),
        i if i == atoms::id() => arc_of(t)?.encode(env),
        i if i == atoms::heir() => match &t.state.lock().unwrap_or_else(|e| e.into_inner()).heir {
            Some(h) => h.pid.encode(env),
            None => atoms::none().encode(env),
        },
        i if i == atoms::read_concurrency() => t.flags.read_concurrency.encode(env),
        i if i == atoms::write_concurrency() => t.flags.write_concurrency.encode(env),
        i if i == atoms::decentralized_counters() => t.flags.decentralized_counters.encode(env),
        i if i == atoms::compressed() => t.flags.compressed.encode(env),
        i if i == atoms::fixed() => crate::fix::is_fixed(t).encode(env),
        i if i == atoms::safe_fixed() => crate::fix::info(env, t, false),
        i if i == atoms::safe_fixed_monotonic_time() => crate::fix::info(env, t, true),
        _ => return Err(Error::BadArg),
    })
}

/// `whereis(Name)`: the reference of the table named `Name`, or `undefined`.
#[rustler::nif]
fn whereis<'a>(env: Env<'a>, name: Atom) -> Term<'a> {
    match names::lookup_arc(crate::raw::word(name.as_c_arg())) {
        Some(t) if !t.deleted.load(Ordering::Acquire) => t.encode(env),
        _ => atoms::undefined().encode(env),
    }
}

/// `rename(Tab, Name)`: renames a named table (an unnamed one only changes
/// what `info(Tab, name)` says). Returns the name, or the reference for an
/// unnamed table, as ETS does; renaming a named table to its own name is
/// `badarg`, as in ETS.
///
/// While a long list insert is under way it helps for the usual budget, then
/// raises `ferrets_batch_busy` (before any effect), on which `ferrets:rename/2`
/// yields and calls again: no normal scheduler is held for long.
#[rustler::nif]
fn rename<'a>(env: Env<'a>, tab: Term<'a>, name: Atom) -> NifResult<Term<'a>> {
    let t = resolve(env, tab, Access::Write)?;
    let new = crate::raw::word(name.as_c_arg());
    if t.named {
        let old = t.name.load(Ordering::Acquire);
        // Its own name is taken too (by itself): `badarg`, as in ETS.
        if old == new || !names::register(new, arc_of(t)?) {
            return Err(Error::BadArg);
        }
        t.name.store(new, Ordering::Release);
        names::unregister(old, t.id);
        Ok(name.encode(env))
    } else {
        t.name.store(new, Ordering::Release);
        Ok(arc_of(t)?.encode(env))
    }
}

/// `all()`: every live table, by name when named.
#[rustler::nif]
fn all(env: Env<'_>) -> Vec<Term<'_>> {
    names::all().iter().map(|t| tab_term(env, t)).collect()
}
