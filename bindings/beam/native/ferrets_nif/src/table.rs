//! The table resource: what a table reference points at, how a table
//! argument is resolved, and who may do what with it.

use std::ptr;
use std::sync::atomic::{
    fence, AtomicBool, AtomicIsize, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, Ordering,
};
use std::sync::{Arc, Mutex};

use ferrets_core::Table;
use rustler::sys::{c_void, enif_get_resource, enif_self, ErlNifPid, ErlNifResourceType};
use rustler::{Atom, Env, Error, LocalPid, Monitor, NifResult, Resource, ResourceArc, Term};

use crate::batch::{Batch, MAX_ISOLATED};
use crate::key::Key;
use crate::names;
use crate::objects::Entry;
use crate::options::{Heir, Kind, Protection};
use crate::owner;

/// Ownership state that changes together.
pub struct OwnerState {
    /// The monitor on the current owner.
    pub monitor: Option<Monitor>,
    /// Who inherits the table when the owner dies.
    pub heir: Option<Heir>,
}

/// `safe_fixtable/2` fixations: who holds how many, since when.
#[derive(Default)]
pub struct Fixes {
    /// When the table went from unfixed to fixed: `erlang:monotonic_time()`
    /// and `erlang:timestamp()` then, as the caller passed them.
    pub since: Option<(i64, (i64, i64, i64))>,
    /// Each fixing process, its fixation count and the monitor that
    /// releases its fixations if it dies.
    pub by: Vec<(LocalPid, u64, Monitor)>,
}

/// Options reported by `info/1,2` that do not change behaviour.
pub struct Flags {
    /// `read_concurrency`.
    pub read_concurrency: bool,
    /// `write_concurrency` (`true`, `false` or `auto`).
    pub write_concurrency: Atom,
    /// `decentralized_counters`.
    pub decentralized_counters: bool,
    /// `compressed`.
    pub compressed: bool,
}

/// A ferrets table as seen by the VM (a reference, or its name atom when named).
pub struct TableResource {
    /// Unique id, the key of the registry of live tables.
    pub id: u64,
    /// The objects, by encoded key.
    pub table: Table<Key, Entry>,
    /// `set`, `bag` or `duplicate_bag`.
    pub kind: Kind,
    /// 1-based key position in the objects.
    pub keypos: usize,
    /// Access rights (a [`Protection`] as `u8`; `setopts/2` changes it).
    pub protection: AtomicU8,
    /// Whether the table is resolvable by name.
    pub named: bool,
    /// The name atom's term word (`rename/2` changes it).
    pub name: AtomicU64,
    /// The owner pid's term word (local pids are immediates).
    pub owner: AtomicU64,
    /// Monitor and heir.
    pub state: Mutex<OwnerState>,
    /// `safe_fixtable/2` fixations (see [`crate::fix`]).
    pub fixes: Mutex<Fixes>,
    /// Set once by `delete/1` or the owner's death.
    pub deleted: AtomicBool,
    /// Multi-object writes under way (see [`TableResource::isolated`] and
    /// [`crate::batch`]): every other operation waits for them, or helps
    /// store them, so none sees one half done.
    pub busy: AtomicU32,
    /// Multi-object writes started and ended, two steps each (odd while one
    /// runs): whole-table counts check it did not move while they counted
    /// ([`TableResource::stable`]).
    pub writes: AtomicU64,
    /// The long list insert being stored, if any (see [`crate::batch`]).
    pub batch: Mutex<Option<Arc<Batch>>>,
    /// Serializes multi-object writes.
    pub multi: Mutex<()>,
    /// Options kept for `info`.
    pub flags: Flags,
    /// Objects beyond the first under each key (bags only), so that
    /// `size` counts objects like ETS.
    pub extra: AtomicIsize,
}

#[rustler::resource_impl]
impl Resource for TableResource {
    fn down<'a>(&'a self, env: Env<'a>, pid: LocalPid, monitor: Monitor) {
        // The same process may hold both a fixation and the table.
        crate::fix::fixer_down(self, &pid);
        owner::owner_down(self, env, pid, monitor);
    }
}

/// The next table id.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A fresh table id.
pub fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// What an operation needs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reading objects.
    Read,
    /// Changing objects.
    Write,
}

/// The caller's pid term word.
pub fn self_word(env: Env<'_>) -> u64 {
    let mut pid = std::mem::MaybeUninit::<ErlNifPid>::uninit();
    // SAFETY: `env` is the process-bound environment of the calling NIF.
    unsafe {
        if enif_self(env.as_c_arg(), pid.as_mut_ptr()).is_null() {
            return 0;
        }
        crate::raw::pid_word(&rustler::LocalPid::from_c_arg(pid.assume_init()))
    }
}

impl TableResource {
    /// The current access rights.
    #[inline]
    pub fn protection(&self) -> Protection {
        Protection::from_u8(self.protection.load(Ordering::Relaxed))
    }
    /// The number of objects.
    pub fn size(&self) -> usize {
        (self.table.len() as isize + self.extra.load(Ordering::Relaxed)).max(0) as usize
    }

    /// Records that `objects` objects left under keys that are gone (or `extra` more).
    pub fn add_extra(&self, delta: isize) {
        if delta != 0 {
            self.extra.fetch_add(delta, Ordering::Relaxed);
        }
    }

    /// Runs the multi-object write `f` (a list `insert/2` or `insert_new/2`
    /// of `n` objects, at most [`MAX_ISOLATED`]) so that no other operation
    /// on the table sees it half done, as ETS does with its table lock:
    /// they spin until it is done (see [`crate::batch`] for longer lists).
    pub fn isolated<R>(&self, n: usize, f: impl FnOnce() -> R) -> R {
        debug_assert!(n <= MAX_ISOLATED);
        if n < 2 {
            return f();
        }
        let _serial = self.multi.lock().unwrap_or_else(|e| e.into_inner());
        let _done = self.begin_multi();
        f()
    }

    /// Marks a multi-object write as under way until the result drops.
    /// Callers hold `multi`.
    pub fn begin_multi(&self) -> impl Drop + '_ {
        /// Ends the write even if it panics: `writes` even again first, so
        /// that a reader that sees `busy` drop sees it.
        struct Done<'a>(&'a TableResource);
        impl Drop for Done<'_> {
            fn drop(&mut self) {
                self.0.writes.fetch_add(1, Ordering::Release);
                self.0.busy.fetch_sub(1, Ordering::Release);
            }
        }
        self.writes.fetch_add(1, Ordering::SeqCst);
        // Orders the odd count before every store of the write (a seqlock's
        // writer side, for `stable`).
        fence(Ordering::Release);
        self.busy.fetch_add(1, Ordering::SeqCst);
        Done(self)
    }

    /// `f`'s view of the whole table (a count), taken when no multi-object
    /// write is under way and checked not to have overlapped one: a reader
    /// that passed the busy check and was then descheduled while a long
    /// list landed would otherwise count part of it.
    pub fn stable<R>(&self, f: impl Fn() -> R) -> NifResult<R> {
        loop {
            let before = self.writes.load(Ordering::Acquire);
            if before & 1 == 1 || self.busy.load(Ordering::Acquire) != 0 {
                // Help (or wait for) it, then look again.
                self.settled()?;
                std::hint::spin_loop();
                continue;
            }
            let r = f();
            fence(Ordering::Acquire);
            if self.writes.load(Ordering::Relaxed) == before {
                return Ok(r);
            }
        }
    }

    /// Removes every object.
    pub fn clear(&self) {
        self.table.clear();
        self.extra.store(0, Ordering::Relaxed);
    }

    /// Whether the calling process owns the table.
    pub fn is_owner(&self, env: Env<'_>) -> bool {
        self.owner.load(Ordering::Acquire) == self_word(env)
    }

    /// Waits until no multi-object write is under way (helping a long
    /// one: see [`crate::batch`]); for NIFs that reschedule themselves, an
    /// error that makes them yield and run again instead of waiting long.
    #[inline]
    pub fn settled(&self) -> NifResult<()> {
        if self.busy.load(Ordering::Acquire) != 0 && self.wait_quiet().is_err() {
            // NIFs on normal schedulers reschedule themselves on this; the
            // others retry (see `crate::batch`).
            return Err(Error::RaiseAtom(crate::batch::BUSY));
        }
        Ok(())
    }

    /// `badarg` unless the caller may `access` the table.
    #[inline]
    pub fn check(&self, env: Env<'_>, access: Access) -> NifResult<()> {
        if self.deleted.load(Ordering::Acquire) {
            return Err(Error::BadArg);
        }
        self.settled()?;
        match (self.protection(), access) {
            (Protection::Public, _) | (Protection::Protected, Access::Read) => Ok(()),
            _ if self.is_owner(env) => Ok(()),
            _ => Err(Error::BadArg),
        }
    }
}

/// The VM's resource type of tables, once [`learn_type`] confirmed it; null
/// before (or if it never could).
static TABLE_TYPE: AtomicPtr<ErlNifResourceType> = AtomicPtr::new(ptr::null_mut());

/// Where rustler places a `T` resource in the VM's allocation at `raw` (the
/// rule of rustler 0.39's `align_alloced_mem_for_struct`; callers check it
/// against a real resource before relying on it).
pub fn inner_of<T>(raw: *const c_void) -> *const T {
    let align = align_of::<T>();
    raw.wrapping_byte_add(align - (raw as usize) % align).cast()
}

/// Learns the resource type of tables from the fresh table `res` (encoded as
/// `term`), so that [`lookup_table`] can call `enif_get_resource` directly:
/// rustler finds the type in a hash map on every call (~4% of an insert).
///
/// The VM keeps the type pointer two words before a resource's data (OTP 25,
/// 64-bit, `ErtsResource`); the guess read there is kept only when
/// `enif_get_resource` accepts it for `term` and yields `res`. A wrong guess is
/// harmless: that call only compares it with the resource's own type.
pub fn learn_type(env: Env<'_>, res: &ResourceArc<TableResource>, term: Term<'_>) {
    if !TABLE_TYPE.load(Ordering::Relaxed).is_null() {
        return;
    }
    let raw = res.as_c_arg();
    // SAFETY: `raw` is the data of a live resource; the VM's resource header
    // (type and monitors pointers) lies right before it in the same allocation.
    let guess = unsafe { raw.cast::<*const ErlNifResourceType>().sub(2).read() };
    let mut obj: *const c_void = ptr::null();
    // SAFETY: `term` is a live term of `env`; `obj` is a valid out-pointer.
    let ok = unsafe { enif_get_resource(env.as_c_arg(), term.as_c_arg(), guess, &mut obj) } != 0;
    if ok && obj == raw && inner_of::<TableResource>(raw) == ptr::from_ref::<TableResource>(res) {
        TABLE_TYPE.store(guess.cast_mut(), Ordering::Relaxed);
    }
}

/// The table a `tab` argument names, or `None` (a reference to a deleted
/// table, an unknown name, or not a table at all).
///
/// No reference count is taken: a table reference argument keeps its table
/// alive for the call; a name is kept alive by the thread's name cache.
#[inline]
pub fn lookup_table<'a>(tab: Term<'a>) -> Option<&'a TableResource> {
    let ty = TABLE_TYPE.load(Ordering::Relaxed);
    if !ty.is_null() {
        let mut obj: *const c_void = ptr::null();
        // SAFETY: `tab` is a live term of its environment; `obj` is a valid out-pointer.
        if unsafe { enif_get_resource(tab.get_env().as_c_arg(), tab.as_c_arg(), ty, &mut obj) } != 0 {
            // SAFETY: `obj` is the data of a live table resource (the term
            // argument keeps it alive for the call), laid out as rustler does.
            return Some(unsafe { &*inner_of::<TableResource>(obj) });
        }
    } else if let Some(t) = tab.try_get_resource::<TableResource>() {
        return Some(t);
    }
    if tab.is_atom() {
        // SAFETY: the name cache of this thread keeps the resource alive
        // until this thread resolves a name again, after this call returns.
        return names::lookup(crate::raw::word(tab.as_c_arg())).map(|p| unsafe { &*p });
    }
    None
}

/// Resolves `tab` and checks the caller may `access` it; `badarg` otherwise.
#[inline]
pub fn resolve<'a>(env: Env<'a>, tab: Term<'a>, access: Access) -> NifResult<&'a TableResource> {
    let t = lookup_table(tab).ok_or(Error::BadArg)?;
    t.check(env, access)?;
    Ok(t)
}

/// [`resolve`] for dirty NIFs: helps a long list insert until it is stored (see
/// [`crate::batch::blocking`]).
pub fn resolve_blocking<'a>(env: Env<'a>, tab: Term<'a>, access: Access) -> NifResult<&'a TableResource> {
    crate::batch::blocking(|| resolve(env, tab, access))
}
