//! Reader sections and grace periods for rare retirements: the memory
//! protection of [`crate::WordTable`].
//!
//! # Why not crossbeam-epoch
//!
//! A word table never retires anything per entry, only whole group arrays
//! when a resize completes. Epoch pinning makes every operation pay for
//! reclamation (a locked `cmpxchg` per pin, which also stops the next
//! lookup's cache misses from overlapping). Here the cost moves to the rare
//! retirement instead: entering a section is a plain store to a line only
//! its thread writes, and the retirer pays a process-wide barrier
//! (`membarrier`) and a short wait. The boxed [`crate::Table`] retires
//! memory per entry: its writers keep crossbeam-epoch and its readers use
//! these sections, with batched grace periods (`crate::reclaim`).
//!
//! # Protocol
//!
//! Every thread owns a cache-padded [`Slot`] (claimed from a global registry
//! on first use, handed back at thread exit) with a sequence word that only
//! the owner writes: odd while the thread is inside a section. Sections nest;
//! only the outermost one writes.
//!
//! ```text
//! reader                             retirer
//! seq.store(odd)                     root.cas(old -> new)       (unlink)
//! compiler fence [fence(SeqCst)]     membarrier()   [fence(SeqCst)]
//! p = root.load()                    s = seq.load() for every slot
//! ... use *p ...                     wait until each odd s has changed
//! seq.store(even, Release)           free(old)
//! ```
//!
//! This is the store-buffering pattern with a full barrier on both sides:
//! `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)` runs a full memory barrier
//! on every thread of the process that is running (and a context switch is
//! one for those that are not), so it acts as if each reader had executed
//! a `fence(SeqCst)` at some point of its program, where its own compiler
//! fence keeps the store before the load. Hence either the reader's root load
//! sees the unlink (it can never reach `old`), or the retirer's seq load sees
//! the reader's odd value (or a later one) and waits for it to change: a
//! change is the Release store that ends the section (or one after it),
//! which the retirer reads with Acquire, so every use of `old` happens
//! before the free. An even value means any later section starts after the
//! barrier and sees the unlink.
//!
//! Where `membarrier` is unavailable (not Linux, registration refused,
//! `FERRETS_NO_MEMBARRIER=1`, and under loom) readers execute a real
//! `fence(SeqCst)` instead of the compiler fence and the retirer one instead
//! of the syscall: the classic symmetric scheme. The mode is chosen once per
//! process, before the first section; the hot-path branch on it always goes
//! the same way. The loom model at the end of this file checks the symmetric
//! form of the protocol and that it breaks without either fence or the wait.
//!
//! A retirer never blocks for long: it spins briefly for the readers it saw,
//! then parks the memory in its owner's [`Retired`] list, which later
//! operations poll (one Relaxed load when empty) and its owner's drop
//! drains.

#[cfg(not(loom))]
pub(crate) use real::*;

#[cfg(loom)]
pub(crate) use model::*;

/// Protocol steps on one slot, shared by the real implementation and the
/// loom model of it (under loom only that model's tests use them).
#[cfg_attr(loom, allow(dead_code))]
mod steps {
    use crate::primitive::{AtomicU64, Ordering};
    use std::sync::atomic::compiler_fence;

    /// A thread's sequence word, alone on its cache lines.
    #[repr(align(128))]
    pub(crate) struct Seq(pub(crate) AtomicU64);

    impl Seq {
        /// Enters a section (the caller is the slot's owner and outside any
        /// section). `fence` selects a hardware fence (symmetric mode) over a
        /// compiler fence (the retirer uses `membarrier`).
        #[inline(always)]
        pub(crate) fn begin(&self, fence: bool) {
            let s = self.0.load(Ordering::Relaxed);
            debug_assert!(s & 1 == 0, "section entered twice");
            // Release: a retirer reading this (or a later) value also sees
            // the end of the previous section.
            self.0.store(s + 1, Ordering::Release);
            if fence {
                crate::primitive::fence(Ordering::SeqCst);
            } else {
                compiler_fence(Ordering::SeqCst);
            }
        }

        /// Leaves the section: everything read inside it happens before a
        /// retirer's Acquire load of the new value.
        #[inline(always)]
        pub(crate) fn end(&self) {
            let s = self.0.load(Ordering::Relaxed);
            self.0.store(s + 1, Ordering::Release);
        }

        /// The odd value of a section in progress, if any (retirer side,
        /// after the barrier).
        #[inline]
        pub(crate) fn busy(&self) -> Option<u64> {
            let s = self.0.load(Ordering::Acquire);
            (s & 1 == 1).then_some(s)
        }

        /// Whether the section seen as `busy` has ended.
        #[inline]
        pub(crate) fn moved_on(&self, seen: u64) -> bool {
            self.0.load(Ordering::Acquire) != seen
        }
    }
}

#[cfg(not(loom))]
mod real {
    use std::cell::{Cell, RefCell};
    use std::mem::ManuallyDrop;
    use std::sync::atomic::{fence, AtomicBool, AtomicPtr, AtomicU64, AtomicU8, Ordering};
    use std::sync::{Mutex, Once};

    use super::steps::Seq;

    /// One thread's registry entry. Leaked: retirers may read it forever.
    pub(crate) struct Slot {
        seq: Seq,
        taken: AtomicBool,
        next: *const Slot,
    }

    // SAFETY: `next` only points to other leaked slots, never written after
    // the slot is published.
    unsafe impl Sync for Slot {}

    /// Head of the registry: a push-only list of leaked slots.
    static SLOTS: AtomicPtr<Slot> = AtomicPtr::new(std::ptr::null_mut());

    /// Claims a free slot (or leaks a new one).
    fn claim() -> &'static Slot {
        let mut p = SLOTS.load(Ordering::Acquire);
        while !p.is_null() {
            // SAFETY: registry slots are leaked, so valid forever.
            let slot = unsafe { &*p };
            if !slot.taken.load(Ordering::Relaxed)
                && slot.taken.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed).is_ok()
            {
                return slot;
            }
            p = slot.next.cast_mut();
        }
        let slot = Box::leak(Box::new(Slot {
            seq: Seq(AtomicU64::new(0)),
            taken: AtomicBool::new(true),
            next: std::ptr::null(),
        }));
        let mut head = SLOTS.load(Ordering::Relaxed);
        loop {
            slot.next = head;
            match SLOTS.compare_exchange_weak(head, slot, Ordering::Release, Ordering::Relaxed) {
                Ok(_) => return slot,
                Err(now) => head = now,
            }
        }
    }

    /// Every slot ever registered.
    pub(super) fn slots() -> impl Iterator<Item = &'static Slot> {
        let mut p = SLOTS.load(Ordering::Acquire).cast_const();
        std::iter::from_fn(move || {
            // SAFETY: registry slots are leaked, so valid forever.
            let slot = unsafe { p.as_ref()? };
            p = slot.next;
            Some(slot)
        })
    }

    thread_local! {
        /// The thread's slot. No destructor, so reading it is a plain
        /// thread-local load (no liveness check on the hot path).
        static SLOT: Cell<Option<&'static Slot>> = const { Cell::new(None) };
        /// Hands the slot back at thread exit.
        static OWNER: Owner = const { Owner };
    }

    /// Its destructor hands the thread's slot back to the registry.
    struct Owner;

    impl Drop for Owner {
        fn drop(&mut self) {
            if let Some(slot) = SLOT.with(|s| s.replace(None)) {
                // A section still open here would belong to another
                // thread-local's destructor; keep such a slot forever.
                if slot.seq.busy().is_none() {
                    slot.taken.store(false, Ordering::Release);
                }
            }
        }
    }

    /// Claims this thread's slot on its first section; `None` once the
    /// thread's destructors have started (`OWNER` is gone).
    #[cold]
    fn register() -> Option<&'static Slot> {
        OWNER.try_with(|_| ()).ok()?;
        mode();
        let slot = claim();
        SLOT.with(|s| s.set(Some(slot)));
        Some(slot)
    }

    const UNKNOWN: u8 = 0;
    /// Readers use a compiler fence; retirers call `membarrier`.
    const LIGHT: u8 = 1;
    /// Readers and retirers use `fence(SeqCst)`.
    const FENCE: u8 = 2;

    static MODE: AtomicU8 = AtomicU8::new(UNKNOWN);

    /// The process's mode, chosen on first use.
    fn mode() -> u8 {
        static ONCE: Once = Once::new();
        ONCE.call_once(|| MODE.store(if membarrier::register() { LIGHT } else { FENCE }, Ordering::Relaxed));
        MODE.load(Ordering::Relaxed)
    }

    /// Whether retirers use `membarrier` (readers then skip their fence).
    pub(crate) fn uses_membarrier() -> bool {
        mode() == LIGHT
    }

    /// Readers fence in hardware: set before any section (every thread
    /// passes through `mode()` when it claims its slot).
    #[inline(always)]
    fn reader_fences() -> bool {
        MODE.load(Ordering::Relaxed) != LIGHT
    }

    /// The barrier that pairs with every reader's fence.
    fn barrier() -> bool {
        fence(Ordering::SeqCst);
        let ok = mode() != LIGHT || membarrier::expedited();
        fence(Ordering::SeqCst);
        ok
    }

    #[cfg(target_os = "linux")]
    mod membarrier {
        const QUERY: libc::c_long = 0;
        const PRIVATE_EXPEDITED: libc::c_long = 1 << 3;
        const REGISTER_PRIVATE_EXPEDITED: libc::c_long = 1 << 4;

        fn call(cmd: libc::c_long) -> libc::c_long {
            // SAFETY: membarrier takes (cmd, flags, cpu_id) and touches no
            // user memory.
            unsafe { libc::syscall(libc::SYS_membarrier, cmd, 0 as libc::c_long, 0 as libc::c_long) }
        }

        /// Registers the process for expedited private barriers, unless
        /// disabled by `FERRETS_NO_MEMBARRIER=1` or unsupported.
        pub(super) fn register() -> bool {
            if std::env::var_os("FERRETS_NO_MEMBARRIER").is_some_and(|v| v == "1") {
                return false;
            }
            let cmds = call(QUERY);
            cmds >= 0 && cmds & PRIVATE_EXPEDITED != 0 && call(REGISTER_PRIVATE_EXPEDITED) == 0
        }

        /// A full barrier on every running thread of the process.
        pub(super) fn expedited() -> bool {
            call(PRIVATE_EXPEDITED) == 0
        }
    }

    #[cfg(not(target_os = "linux"))]
    mod membarrier {
        pub(super) fn register() -> bool {
            false
        }

        pub(super) fn expedited() -> bool {
            false
        }
    }

    /// A reader section: memory reached from a root after entering stays
    /// valid until it is dropped. Not `Send`: it marks its thread's slot.
    pub(crate) struct Section {
        /// The slot to end the section on; `None` when nested.
        slot: Option<&'static Slot>,
        /// The slot was claimed for this section alone (thread-locals gone).
        temporary: bool,
        _not_send: std::marker::PhantomData<*const ()>,
    }

    /// Enters a section (nests: only the outermost one writes its slot).
    #[inline]
    pub(crate) fn enter() -> Section {
        let Some(slot) = SLOT.with(Cell::get).or_else(register) else { return enter_temporary() };
        if slot.seq.0.load(Ordering::Relaxed) & 1 == 1 {
            return Section { slot: None, temporary: false, _not_send: std::marker::PhantomData };
        }
        slot.seq.begin(reader_fences());
        Section { slot: Some(slot), temporary: false, _not_send: std::marker::PhantomData }
    }

    /// A slot shared by threads that take turns under a lock of their own
    /// (an interpreter's global lock): a section on it needs no
    /// thread-local lookup. Claimed for good (registry slots are leaked).
    pub(crate) struct Shared(&'static Slot);

    impl Shared {
        /// Claims a slot of its own.
        pub(crate) fn new() -> Self {
            mode();
            Shared(claim())
        }

        /// Enters a section on the shared slot. A section already open on
        /// it (this thread's outer one, or one whose thread lost its turn
        /// before ending it) is never joined: the thread's own slot
        /// ([`enter`]) serves instead, so that no section can end another's.
        ///
        /// # Safety
        /// Only the thread holding the turn calls this, and whatever hands
        /// the turn over orders everything the previous holder did before
        /// it (a lock release and acquire does): no two threads ever run
        /// this at once, and each sees the slot as the last holder left it.
        #[inline(always)]
        pub(crate) unsafe fn enter(&self) -> Section {
            let slot = self.0;
            if slot.seq.0.load(Ordering::Relaxed) & 1 == 1 {
                return enter();
            }
            slot.seq.begin(reader_fences());
            Section { slot: Some(slot), temporary: false, _not_send: std::marker::PhantomData }
        }
    }

    /// A section from a thread whose thread-locals are being destroyed.
    #[cold]
    fn enter_temporary() -> Section {
        mode();
        let slot = claim();
        slot.seq.begin(reader_fences());
        Section { slot: Some(slot), temporary: true, _not_send: std::marker::PhantomData }
    }

    impl Drop for Section {
        #[inline]
        fn drop(&mut self) {
            if let Some(slot) = self.slot {
                slot.seq.end();
                if self.temporary {
                    slot.taken.store(false, Ordering::Release);
                }
            }
        }
    }

    /// Whether this thread is inside a section (a retirement started here
    /// then waits for it, so spinning for it is pointless).
    pub(crate) fn in_section() -> bool {
        SLOT.with(Cell::get).is_some_and(|slot| slot.seq.0.load(Ordering::Relaxed) & 1 == 1)
    }

    /// Sections a retirement waits for: slots seen odd after the barrier.
    pub(crate) struct Waits(Vec<(&'static Slot, u64)>);

    impl Waits {
        /// Unlinked memory is already out of reach of new sections: runs the
        /// barrier and snapshots the sections in progress. `None` if the
        /// barrier failed (then nothing may ever be freed).
        pub(crate) fn start() -> Option<Waits> {
            barrier().then(|| Waits(slots().filter_map(|s| s.seq.busy().map(|v| (s, v))).collect()))
        }

        /// Drops the sections that ended; whether none is left.
        pub(crate) fn poll(&mut self) -> bool {
            self.0.retain(|(slot, seen)| !slot.seq.moved_on(*seen));
            self.0.is_empty()
        }
    }

    /// Spins this long (in polls) for the sections in progress before a
    /// retirement is parked: a reader section is a lookup, well under this.
    const SPIN: usize = 2_000;

    /// Retired memory waiting for a grace period, owned by one table.
    pub(crate) struct Retired<T> {
        /// Whether `parked` may be non-empty (written under its lock).
        any: AtomicBool,
        parked: Mutex<Vec<(Vec<*mut T>, Waits)>>,
    }

    // SAFETY: the pointers are `Box<T>`s that no thread reaches any more
    // except through sections that end before they are freed; freeing may
    // happen on any thread, hence `T: Send`.
    unsafe impl<T: Send> Send for Retired<T> {}
    // SAFETY: as above; the list is behind a mutex.
    unsafe impl<T: Send> Sync for Retired<T> {}

    impl<T> Default for Retired<T> {
        fn default() -> Self {
            Retired { any: AtomicBool::new(false), parked: Mutex::new(Vec::new()) }
        }
    }

    impl<T> Retired<T> {
        /// Frees `items` once every section that may see them has ended.
        fn retire(&self, items: Vec<*mut T>) {
            let Some(mut waits) = Waits::start() else {
                // No barrier, no grace period: leak rather than risk a use
                // after free (never seen: the barrier was registered).
                return;
            };
            for _ in 0..SPIN {
                if waits.poll() {
                    // SAFETY: unlinked before the barrier; every section
                    // that could reach them has ended.
                    unsafe { free(items) };
                    self.poll();
                    return;
                }
                std::hint::spin_loop();
            }
            let mut parked = self.parked.lock().unwrap_or_else(|e| e.into_inner());
            parked.push((items, waits));
            self.any.store(true, Ordering::Relaxed);
        }

        /// Frees the parked retirements whose readers have all moved on.
        #[inline]
        pub(crate) fn poll(&self) {
            if self.any.load(Ordering::Relaxed) {
                self.poll_slow();
            }
        }

        #[cold]
        fn poll_slow(&self) {
            let Ok(mut parked) = self.parked.try_lock() else { return };
            parked.retain_mut(|(items, waits)| {
                if !waits.poll() {
                    return true;
                }
                // SAFETY: as in `retire`: their grace period is over.
                unsafe { free(std::mem::take(items)) };
                false
            });
            self.any.store(!parked.is_empty(), Ordering::Relaxed);
        }
    }

    impl<T> Drop for Retired<T> {
        /// The owner is being dropped, so no section can reach its memory.
        fn drop(&mut self) {
            for (items, _) in self.parked.get_mut().unwrap_or_else(|e| e.into_inner()).drain(..) {
                // SAFETY: retired once, and the owner (the only path to
                // them) is gone.
                unsafe { free(items) };
            }
        }
    }

    /// # Safety
    /// Each item is a `Box<T>` retired once whose grace period is over.
    unsafe fn free<T>(items: Vec<*mut T>) {
        for p in items {
            // SAFETY: per the contract.
            drop(unsafe { Box::from_raw(p) });
        }
    }

    /// A section of a read-only operation on the owner of a [`Retired`]:
    /// retires nothing, but frees what earlier retirements parked.
    pub(crate) struct Reading<'r, T> {
        section: ManuallyDrop<Section>,
        retired: &'r Retired<T>,
    }

    impl<'r, T> Reading<'r, T> {
        /// Enters a section for a read of `retired`'s owner.
        #[inline]
        pub(crate) fn new(retired: &'r Retired<T>) -> Self {
            Reading { section: ManuallyDrop::new(enter()), retired }
        }
    }

    impl<T> Drop for Reading<'_, T> {
        #[inline]
        fn drop(&mut self) {
            // SAFETY: dropped once, here.
            unsafe { ManuallyDrop::drop(&mut self.section) };
            self.retired.poll();
        }
    }

    /// Runs `prepare` and then `f` on its result in one read section, like
    /// [`Reading`], but with no value that has a destructor alive across
    /// `f`: a lookup then has no unwind path, which would keep the
    /// section's state on the stack (stores on every lookup that wait
    /// behind its cache misses and cap how many lookups overlap; random
    /// `WordTable` gets: 14.5-15.2 -> 12.4-13.1 ns). `prepare` may run the
    /// caller's code (hashing a key): if it unwinds, the section ends as
    /// usual. `f` must not unwind: if it did, the section would stay open
    /// for good and retirements would park forever behind this thread's
    /// slot (memory held, never freed early). (Hashing before entering the
    /// section instead measured ~1 ns slower a lookup.)
    #[inline(always)]
    pub(crate) fn read_with<T, P, R>(
        retired: &Retired<T>,
        prepare: impl FnOnce() -> P,
        f: impl FnOnce(P) -> R,
    ) -> R {
        let section = enter();
        let p = prepare();
        let section = ManuallyDrop::new(section);
        let r = f(p);
        drop(ManuallyDrop::into_inner(section));
        retired.poll();
        r
    }

    /// A section of an operation on the owner of `retired`, which may retire
    /// memory: the memory is handed over after the section ends, so that the
    /// retirer is not among the readers it waits for.
    pub(crate) struct Guard<'r, T> {
        section: ManuallyDrop<Section>,
        retired: &'r Retired<T>,
        unlinked: RefCell<Vec<*mut T>>,
    }

    impl<'r, T> Guard<'r, T> {
        /// Enters a section for an operation on `retired`'s owner.
        #[inline]
        pub(crate) fn new(retired: &'r Retired<T>) -> Self {
            Guard { section: ManuallyDrop::new(enter()), retired, unlinked: RefCell::new(Vec::new()) }
        }

        /// Frees `ptr` once no section can reach it any more.
        ///
        /// # Safety
        /// `ptr` came from `Box::into_raw`, is unreachable for sections that
        /// start after this call, and is retired exactly once.
        pub(crate) unsafe fn retire(&self, ptr: *mut T) {
            self.unlinked.borrow_mut().push(ptr);
        }
    }

    impl<T> Drop for Guard<'_, T> {
        #[inline]
        fn drop(&mut self) {
            // SAFETY: dropped once, here.
            unsafe { ManuallyDrop::drop(&mut self.section) };
            let unlinked = self.unlinked.get_mut();
            if !unlinked.is_empty() {
                // Nested in an outer section, this thread's slot is still
                // odd: the retirement then waits for (or parks past) it.
                self.retired.retire(std::mem::take(unlinked));
            } else {
                self.retired.poll();
            }
        }
    }
}

/// Under loom nothing global may outlive an execution: sections are tokens
/// and retired memory is kept until its owner drops (the models still check
/// that each pointer is retired once). The protocol itself is model-checked
/// by the tests below.
#[cfg(loom)]
mod model {
    use std::cell::RefCell;

    /// A section token.
    pub(crate) struct Section(());

    /// Enters a section (a token under loom).
    pub(crate) fn enter() -> Section {
        Section(())
    }

    /// Whether retirers use `membarrier`: never under loom.
    pub(crate) fn uses_membarrier() -> bool {
        false
    }

    /// Retired memory, kept until the owner drops.
    pub(crate) struct Retired<T> {
        items: loom::sync::Mutex<Vec<*mut T>>,
    }

    // SAFETY: the pointers are unreachable boxes freed once by the owner's drop.
    unsafe impl<T: Send> Send for Retired<T> {}
    // SAFETY: as above; the list is behind a mutex.
    unsafe impl<T: Send> Sync for Retired<T> {}

    impl<T> Default for Retired<T> {
        fn default() -> Self {
            Retired { items: loom::sync::Mutex::new(Vec::new()) }
        }
    }

    impl<T> Drop for Retired<T> {
        fn drop(&mut self) {
            for p in self.items.lock().unwrap().drain(..) {
                // SAFETY: each pointer was retired once and nothing reaches it.
                drop(unsafe { Box::from_raw(p) });
            }
        }
    }

    /// Runs `prepare`, then `f` on its result, in a read section (a token
    /// under loom).
    pub(crate) fn read_with<T, P, R>(
        retired: &Retired<T>,
        prepare: impl FnOnce() -> P,
        f: impl FnOnce(P) -> R,
    ) -> R {
        let _ = retired;
        f(prepare())
    }

    /// A section of a read-only operation (a token under loom).
    pub(crate) struct Reading<'r, T>(std::marker::PhantomData<&'r T>);

    impl<'r, T> Reading<'r, T> {
        /// Enters a section for a read of `retired`'s owner.
        pub(crate) fn new(retired: &'r Retired<T>) -> Self {
            let _ = retired;
            Reading(std::marker::PhantomData)
        }
    }

    /// A section of an operation on the owner of a [`Retired`].
    pub(crate) struct Guard<'r, T> {
        _section: Section,
        retired: &'r Retired<T>,
        unlinked: RefCell<Vec<*mut T>>,
    }

    impl<'r, T> Guard<'r, T> {
        /// Enters a section for an operation on `retired`'s owner.
        pub(crate) fn new(retired: &'r Retired<T>) -> Self {
            Guard { _section: enter(), retired, unlinked: RefCell::new(Vec::new()) }
        }

        /// Frees `ptr` when the owner drops.
        ///
        /// # Safety
        /// `ptr` came from `Box::into_raw` and is retired exactly once.
        pub(crate) unsafe fn retire(&self, ptr: *mut T) {
            self.unlinked.borrow_mut().push(ptr);
        }
    }

    impl<T> Drop for Guard<'_, T> {
        fn drop(&mut self) {
            self.retired.items.lock().unwrap().append(self.unlinked.get_mut());
        }
    }
}

/// Loom model of the protocol: a reader follows a root while a retirer
/// unlinks and frees what it pointed to. `loom::cell::UnsafeCell` flags any
/// free that is not ordered after the reader's use.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::steps::Seq;
    use crate::primitive::{fence, AtomicU64, AtomicUsize, Ordering};
    use loom::cell::UnsafeCell;
    use loom::sync::Arc;

    const FREED: u64 = 0xdead;

    struct World {
        seq: Seq,
        root: AtomicUsize,
        objects: [UnsafeCell<u64>; 2],
    }

    /// One reader section against one retirement. `reader_fence`: the
    /// reader's SeqCst fence (what `membarrier` provides); `wait`: the
    /// retirer waits for sections it saw.
    fn protocol(reader_fence: bool, wait: bool) {
        loom::model(move || {
            let w = Arc::new(World {
                seq: Seq(AtomicU64::new(0)),
                root: AtomicUsize::new(0),
                objects: [UnsafeCell::new(1), UnsafeCell::new(2)],
            });
            let reader = {
                let w = w.clone();
                loom::thread::spawn(move || {
                    w.seq.begin(reader_fence);
                    let i = w.root.load(Ordering::Acquire);
                    // SAFETY: loom's cell; the model checks this read is
                    // ordered before the retirer's write.
                    let v = w.objects[i].with(|p| unsafe { *p });
                    assert_ne!(v, FREED, "read freed memory");
                    w.seq.end();
                })
            };
            // Retirer: unlink object 0, barrier, snapshot, wait, free.
            w.root.store(1, Ordering::Release);
            fence(Ordering::SeqCst);
            if let Some(seen) = w.seq.busy() {
                while wait && !w.seq.moved_on(seen) {
                    loom::thread::yield_now();
                }
            }
            // SAFETY: loom's cell; a racing read is what the model reports.
            w.objects[0].with_mut(|p| unsafe { *p = FREED });
            reader.join().unwrap();
        });
    }

    #[test]
    fn quiesce_protocol_is_safe() {
        protocol(true, true);
    }

    /// The model catches a reader without its fence (the pattern is the
    /// store-buffering one: without the fence both sides may miss).
    #[test]
    fn quiesce_protocol_needs_the_reader_fence() {
        assert_caught(std::panic::catch_unwind(|| protocol(false, true)));
    }

    /// The model catches a retirer that frees without waiting.
    #[test]
    fn quiesce_protocol_needs_the_wait() {
        assert_caught(std::panic::catch_unwind(|| protocol(true, false)));
    }

    /// The model failed on the freed object: loom's race detector (or the
    /// reader's poison check), not anything else.
    fn assert_caught(r: std::thread::Result<()>) {
        let e = r.expect_err("the broken protocol passed the model");
        let msg = e.downcast_ref::<String>().map(String::as_str).or(e.downcast_ref::<&str>().copied());
        let msg = msg.unwrap_or_default();
        assert!(msg.contains("Causality violation") || msg.contains("read freed memory"), "{msg}");
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{mpsc, Arc};

    /// Counts its drops.
    struct Counted(Arc<AtomicUsize>);

    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Polls until the count reaches `n` (other tests' threads may be in
    /// sections for a moment) and checks it goes no further.
    fn eventually(retired: &Retired<Counted>, drops: &AtomicUsize, n: usize) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while drops.load(Ordering::SeqCst) < n && std::time::Instant::now() < deadline {
            retired.poll();
            std::thread::yield_now();
        }
        assert_eq!(drops.load(Ordering::SeqCst), n);
    }

    fn retire_one(retired: &Retired<Counted>, drops: &Arc<AtomicUsize>) {
        let g = Guard::new(retired);
        // SAFETY: a fresh box, never shared, retired once.
        unsafe { g.retire(Box::into_raw(Box::new(Counted(drops.clone())))) };
    }

    #[test]
    fn membarrier_is_used_on_linux_unless_disabled() {
        let disabled = std::env::var_os("FERRETS_NO_MEMBARRIER").is_some_and(|v| v == "1");
        assert_eq!(uses_membarrier(), cfg!(target_os = "linux") && !disabled);
    }

    #[test]
    fn retirement_without_readers_frees_once() {
        let (retired, drops) = (Retired::default(), Arc::new(AtomicUsize::new(0)));
        retire_one(&retired, &drops);
        eventually(&retired, &drops, 1);
    }

    #[test]
    fn retirement_waits_for_a_reader_in_its_section() {
        let (retired, drops) = (Retired::default(), Arc::new(AtomicUsize::new(0)));
        let (entered_tx, entered) = mpsc::channel();
        let (leave, leave_rx) = mpsc::channel::<()>();
        let reader = std::thread::spawn(move || {
            let section = enter();
            entered_tx.send(()).unwrap();
            leave_rx.recv().unwrap();
            drop(section);
        });
        entered.recv().unwrap();
        retire_one(&retired, &drops);
        // The reader is still inside: the retirement was parked.
        assert_eq!(drops.load(Ordering::SeqCst), 0);
        retired.poll();
        assert_eq!(drops.load(Ordering::SeqCst), 0);
        leave.send(()).unwrap();
        reader.join().unwrap();
        eventually(&retired, &drops, 1);
    }

    #[test]
    fn a_nested_retirement_waits_for_the_outer_section() {
        let (retired, drops) = (Retired::default(), Arc::new(AtomicUsize::new(0)));
        let outer = enter();
        retire_one(&retired, &drops);
        assert_eq!(drops.load(Ordering::SeqCst), 0);
        drop(outer);
        eventually(&retired, &drops, 1);
    }

    #[test]
    fn parked_retirements_are_freed_by_the_owner_drop() {
        let (retired, drops) = (Retired::default(), Arc::new(AtomicUsize::new(0)));
        let outer = enter();
        retire_one(&retired, &drops);
        drop(retired);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        drop(outer);
    }

    #[test]
    fn slots_of_exited_threads_are_reused() {
        let count = || real::slots().count();
        std::thread::spawn(|| drop(enter())).join().unwrap();
        let before = count();
        for _ in 0..20 {
            std::thread::spawn(|| drop(enter())).join().unwrap();
        }
        // Other tests run threads meanwhile; sequential exits reuse slots.
        assert!(count() <= before + 8, "{} slots after {before}", count());
    }
}
