//! Table NIFs: a resource holding a `ferrets_core::Table` keyed by the
//! external term format of the key, with the whole object stored encoded.

use std::sync::atomic::{AtomicBool, Ordering};

use ferrets_core::BytesTable;
use rustler::{Atom, Encoder, Env, Error, NifResult, Resource, ResourceArc, Term};

use crate::{atoms, names};

/// A ferrets table as seen by the VM (a reference, or its name atom when named).
pub struct TableResource {
    table: BytesTable,
    keypos: usize,
    name: Atom,
    named: bool,
    deleted: AtomicBool,
}

#[rustler::resource_impl]
impl Resource for TableResource {}

/// The external term format of `term`: equal (`=:=`) terms encode equally.
fn encode(term: Term<'_>) -> Box<[u8]> {
    term.to_binary().as_slice().into()
}

/// Resolves a table argument: a table reference or a registered name.
fn resolve(tab: Term<'_>) -> NifResult<ResourceArc<TableResource>> {
    let res = if let Ok(r) = tab.decode::<ResourceArc<TableResource>>() {
        r
    } else if let Ok(name) = tab.decode::<Atom>() {
        names::lookup(name).ok_or(Error::BadArg)?
    } else {
        return Err(Error::BadArg);
    };
    if res.deleted.load(Ordering::Acquire) {
        return Err(Error::BadArg);
    }
    Ok(res)
}

/// `ferrets:new(Name, Options)`: only `set` tables in this first version.
#[rustler::nif]
fn new<'a>(env: Env<'a>, name: Atom, options: Vec<Term<'a>>) -> NifResult<Term<'a>> {
    let mut named = false;
    let mut keypos = 1usize;
    for opt in options {
        if let Ok(a) = opt.decode::<Atom>() {
            if a == atoms::set() || a == atoms::public() || a == atoms::protected() || a == atoms::private() {
                continue;
            } else if a == atoms::named_table() {
                named = true;
            } else {
                return Err(Error::BadArg);
            }
        } else if let Ok((tag, pos)) = opt.decode::<(Atom, usize)>() {
            if tag != atoms::keypos() || pos < 1 {
                return Err(Error::BadArg);
            }
            keypos = pos;
        } else {
            return Err(Error::BadArg);
        }
    }
    let res = ResourceArc::new(TableResource {
        table: BytesTable::new(),
        keypos,
        name,
        named,
        deleted: AtomicBool::new(false),
    });
    if named {
        if !names::register(name, res.clone()) {
            return Err(Error::BadArg);
        }
        Ok(name.to_term(env))
    } else {
        Ok(res.encode(env))
    }
}

fn key_of<'a>(t: &TableResource, object: Term<'a>) -> NifResult<Term<'a>> {
    let elems = rustler::types::tuple::get_tuple(object)?;
    elems.get(t.keypos - 1).copied().ok_or(Error::BadArg)
}

/// `ferrets:insert(Tab, ObjectOrObjects)`.
#[rustler::nif]
fn insert(tab: Term<'_>, objects: Term<'_>) -> NifResult<bool> {
    let t = resolve(tab)?;
    let objects: Vec<Term<'_>> = if objects.is_list() { objects.decode()? } else { vec![objects] };
    // Validate everything first so a bad element changes nothing.
    let mut encoded = Vec::with_capacity(objects.len());
    for obj in objects {
        encoded.push((encode(key_of(&t, obj)?), encode(obj)));
    }
    for (k, v) in encoded {
        t.table.insert(k, v);
    }
    Ok(true)
}

/// `ferrets:lookup(Tab, Key)`: `[Object]` or `[]`.
#[rustler::nif]
fn lookup<'a>(env: Env<'a>, tab: Term<'a>, key: Term<'a>) -> NifResult<Vec<Term<'a>>> {
    let t = resolve(tab)?;
    let Some(bytes) = t.table.get(&encode(key)[..]) else { return Ok(vec![]) };
    let (term, _) = env.binary_to_term(&bytes).ok_or(Error::BadArg)?;
    Ok(vec![term])
}

/// `ferrets:delete(Tab, Key)`.
#[rustler::nif]
fn delete_key(tab: Term<'_>, key: Term<'_>) -> NifResult<bool> {
    let t = resolve(tab)?;
    t.table.remove(&encode(key)[..]);
    Ok(true)
}

/// `ferrets:delete(Tab)`.
#[rustler::nif]
fn delete_table(tab: Term<'_>) -> NifResult<bool> {
    let t = resolve(tab)?;
    t.deleted.store(true, Ordering::Release);
    if t.named {
        names::unregister(t.name);
    }
    t.table.clear();
    Ok(true)
}

/// `ferrets:info(Tab, Item)`; `undefined` for a table that does not exist.
#[rustler::nif]
fn info<'a>(env: Env<'a>, tab: Term<'a>, item: Atom) -> NifResult<Term<'a>> {
    let t = match resolve(tab) {
        Ok(t) => t,
        Err(_) if tab.decode::<Atom>().is_ok() || tab.decode::<ResourceArc<TableResource>>().is_ok() => {
            return Ok(atoms::undefined().encode(env))
        }
        Err(e) => return Err(e),
    };
    Ok(if item == atoms::size() {
        t.table.len().encode(env)
    } else if item == atoms::keypos() {
        t.keypos.encode(env)
    } else if item == atoms::type_() {
        atoms::set().encode(env)
    } else if item == atoms::named_table() {
        t.named.encode(env)
    } else if item == atoms::name() {
        t.name.encode(env)
    } else if item == atoms::memory() {
        // ETS reports words.
        (t.table.memory_bytes() / std::mem::size_of::<usize>()).encode(env)
    } else {
        return Err(Error::BadArg);
    })
}
