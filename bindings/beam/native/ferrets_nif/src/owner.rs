//! Ownership: the owner's death deletes the table or hands it to the heir;
//! `give_away/3` and `setopts/2` (`heir`).

use std::sync::atomic::Ordering;

use rustler::sys::{enif_alloc_env, enif_free_env, enif_is_process_alive, enif_monitor_process, enif_send};
use rustler::{Atom, Encoder, Env, Error, LocalPid, Monitor, NifResult, ResourceArc, Term};

use crate::atoms;
use crate::names;
use crate::objects::Obj;
use crate::options::{parse_heir, HeirOpt, Protection};
use crate::table::{lookup_table, self_word, TableResource};

/// Tables at least this big are freed on a helper thread, so that deleting
/// one never holds a scheduler for long.
const DROP_ON_THREAD: usize = 10_000;

/// The term a table is known by in messages: its name when named, else its reference.
pub fn tab_term<'a>(env: Env<'a>, t: &ResourceArc<TableResource>) -> Term<'a> {
    if t.named {
        // SAFETY: the stored word is an atom term, and atoms are immediates.
        unsafe { Term::new(env, crate::raw::term_of(t.name.load(Ordering::Acquire))) }
    } else {
        t.encode(env)
    }
}

/// Deletes the table: marks it deleted, unregisters it and frees its objects.
pub fn delete(t: &TableResource) {
    if t.deleted.swap(true, Ordering::AcqRel) {
        return;
    }
    if t.named {
        names::unregister(t.name.load(Ordering::Acquire), t.id);
    }
    let arc = names::remove(t.id);
    match arc {
        Some(arc) if t.table.len() >= DROP_ON_THREAD => {
            std::thread::spawn(move || arc.table.clear());
        }
        _ => t.table.clear(),
    }
}

/// Whether `pid` is a live local process.
fn alive(env: Env<'_>, pid: &LocalPid) -> bool {
    // SAFETY: `env` is a NIF or callback environment of this call.
    unsafe { enif_is_process_alive(env.as_c_arg(), pid.as_c_arg()) != 0 }
}

/// Sends `{'ETS-TRANSFER', Tab, From, Data}` to `to` from a callback.
fn send_transfer(caller: Env<'_>, to: &LocalPid, t: &ResourceArc<TableResource>, from: LocalPid, data: &Obj) {
    // SAFETY: a process-independent environment is allocated, used to build
    // the message, handed to `enif_send` (which may be called with a callback
    // environment as caller) and freed.
    unsafe {
        let raw = enif_alloc_env();
        let marker = ();
        let msg_env = Env::new(&marker, raw);
        let tab = tab_term(msg_env, t);
        let data = Term::new(msg_env, data.to_term(raw));
        let msg = (atoms::ets_transfer(), tab, from, data).encode(msg_env);
        enif_send(caller.as_c_arg(), to.as_c_arg(), raw, msg.as_c_arg());
        enif_free_env(raw);
    }
}

/// Monitors `pid` on behalf of `t` from a callback environment (rustler's
/// `monitor` wants a process-bound one).
fn monitor_from_callback(env: Env<'_>, t: &ResourceArc<TableResource>, pid: &LocalPid) -> Option<Monitor> {
    let mut mon = std::mem::MaybeUninit::uninit();
    // SAFETY: a callback environment may be passed as `caller_env`; `t` is a
    // live resource of a type with a `down` callback; `mon` is written on success.
    unsafe {
        if enif_monitor_process(env.as_c_arg(), t.as_c_arg(), pid.as_c_arg(), mon.as_mut_ptr()) == 0 {
            Some(Monitor::new(mon.assume_init()))
        } else {
            None
        }
    }
}

/// The owner (or a stale monitor) went down: hand the table to a live heir,
/// or delete it.
pub fn owner_down(t: &TableResource, env: Env<'_>, pid: LocalPid, _monitor: Monitor) {
    if t.deleted.load(Ordering::Acquire) || t.owner.load(Ordering::Acquire) != crate::raw::pid_word(&pid) {
        return;
    }
    let mut guard = t.state.lock().unwrap_or_else(|e| e.into_inner());
    let state = &mut *guard;
    state.monitor = None;
    let arc = names::by_id(t.id);
    if let (Some(heir), Some(arc)) = (&state.heir, &arc) {
        if crate::raw::pid_word(&heir.pid) != crate::raw::pid_word(&pid) && alive(env, &heir.pid) {
            if let Some(mon) = monitor_from_callback(env, arc, &heir.pid) {
                t.owner.store(crate::raw::pid_word(&heir.pid), Ordering::Release);
                state.monitor = Some(mon);
                send_transfer(env, &heir.pid, arc, pid, &heir.data);
                return;
            }
        }
    }
    drop(guard);
    delete(t);
}

/// `give_away(Tab, Pid, GiftData)`: makes `pid` the owner. Returns the term
/// the `'ETS-TRANSFER'` message names the table by; the caller sends it.
#[rustler::nif]
fn give_away<'a>(env: Env<'a>, tab: Term<'a>, pid: Term<'a>) -> NifResult<Term<'a>> {
    let t = lookup_table(tab).ok_or(Error::BadArg)?;
    let pid: LocalPid = pid.decode()?;
    if t.deleted.load(Ordering::Acquire)
        || !t.is_owner(env)
        || crate::raw::pid_word(&pid) == self_word(env)
        || !alive(env, &pid)
    {
        return Err(Error::BadArg);
    }
    let arc = names::by_id(t.id).ok_or(Error::BadArg)?;
    let mut state = t.state.lock().unwrap_or_else(|e| e.into_inner());
    let mon = env.monitor(&arc, &pid).ok_or(Error::BadArg)?;
    if let Some(old) = state.monitor.replace(mon) {
        env.demonitor(&arc, &old);
    }
    t.owner.store(crate::raw::pid_word(&pid), Ordering::Release);
    Ok(tab_term(env, &arc))
}

/// One `setopts/2` option.
enum SetOpt {
    /// `{heir, ...}`.
    Heir(HeirOpt),
    /// `{protection, P}`.
    Protection(Protection),
}

/// `setopts(Tab, Opts)`: `{heir, Pid, Data}`, `{heir, none}` and (as ETS
/// accepts) `{protection, P}`; owner only; all or nothing.
#[rustler::nif]
fn setopts<'a>(env: Env<'a>, tab: Term<'a>, opts: Term<'a>) -> NifResult<bool> {
    let t = lookup_table(tab).ok_or(Error::BadArg)?;
    if t.deleted.load(Ordering::Acquire) || !t.is_owner(env) {
        return Err(Error::BadArg);
    }
    let opts: Vec<Term<'a>> = if opts.is_list() { crate::raw::proper_list(opts)? } else { vec![opts] };
    let mut parsed = Vec::with_capacity(opts.len());
    for opt in opts {
        let p = match opt.decode::<(Atom, Atom)>() {
            Ok((tag, p)) if tag == atoms::protection() => {
                SetOpt::Protection(Protection::from_atom(p).ok_or(Error::BadArg)?)
            }
            _ => SetOpt::Heir(parse_heir(opt).ok_or(Error::BadArg)?),
        };
        parsed.push(p);
    }
    let mut state = t.state.lock().unwrap_or_else(|e| e.into_inner());
    for p in parsed {
        match p {
            SetOpt::Heir(HeirOpt::None) => state.heir = None,
            SetOpt::Heir(HeirOpt::Some(h)) => state.heir = Some(h),
            SetOpt::Protection(p) => t.protection.store(p.to_u8(), Ordering::Relaxed),
        }
    }
    Ok(true)
}
