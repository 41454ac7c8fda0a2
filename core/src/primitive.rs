//! Synchronisation primitives the table and the pool's job state word are
//! built on, swapped for loom's model-checked versions under `cfg(loom)` (as
//! crossbeam does).
//!
//! Memory reclamation of the boxed [`crate::Table`]: outside loom, writers
//! pin crossbeam-epoch, readers enter the reader sections of
//! `crate::quiesce`, and unlinked memory is freed once neither can still
//! see it (`crate::reclaim`). ([`crate::WordTable`] retires only whole
//! group arrays and uses reader sections alone.) Under loom there is no
//! global collector (loom forbids state shared between executions), so
//! [`Garbage`] keeps retired memory until the owning table is dropped: the
//! model still checks that every pointer is retired exactly once.

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{
    fence, AtomicBool, AtomicIsize, AtomicPtr, AtomicU64, AtomicU8, AtomicUsize, Ordering,
};

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{
    fence, AtomicBool, AtomicIsize, AtomicPtr, AtomicU64, AtomicU8, AtomicUsize, Ordering,
};

/// A pinned epoch: memory unlinked after the pin stays valid until it drops.
#[cfg(not(loom))]
pub(crate) use crossbeam_epoch::Guard;

/// Pins the current thread (cheap; nests).
#[cfg(not(loom))]
pub(crate) fn pin() -> Guard {
    crossbeam_epoch::pin()
}

/// What a lookup holds while it reads a boxed table: a reader section,
/// which retires nothing (see `crate::reclaim`).
#[cfg(not(loom))]
pub(crate) type Reader = crate::quiesce::Section;

/// Enters a reader section (cheap; nests).
#[cfg(not(loom))]
#[inline]
pub(crate) fn read() -> Reader {
    crate::quiesce::enter()
}

/// A reader's token under loom.
#[cfg(loom)]
pub(crate) type Reader = Guard;

/// Enters a reader section (a token under loom).
#[cfg(loom)]
pub(crate) fn read() -> Reader {
    pin()
}

/// Under loom nothing is freed before the table drops, so a guard is a token.
#[cfg(loom)]
pub(crate) struct Guard(());

/// Unpinning, like crossbeam's guard (nothing to do under loom).
#[cfg(loom)]
impl Drop for Guard {
    fn drop(&mut self) {}
}

/// Pins the current thread (a token under loom).
#[cfg(loom)]
pub(crate) fn pin() -> Guard {
    Guard(())
}

/// Memory retired by one table.
#[derive(Default)]
pub(crate) struct Garbage {
    #[cfg(loom)]
    deferred: loom::sync::Mutex<Vec<Deferred>>,
}

#[cfg(loom)]
struct Deferred {
    ptr: *mut u8,
    free: unsafe fn(*mut u8),
}

// SAFETY: a `Deferred` is only a pointer to memory no thread reaches any more;
// the table that owns it frees it once, from whichever thread drops the table.
#[cfg(loom)]
unsafe impl Send for Deferred {}

impl Garbage {
    /// Frees the `Box<T>` at `ptr` (which holds about `bytes`) once no
    /// thread pinned now can reach it.
    ///
    /// # Safety
    /// `ptr` came from `Box::into_raw`, is unreachable for threads that pin
    /// after this call, and is retired exactly once.
    pub(crate) unsafe fn retire<T>(&self, guard: &Guard, ptr: *mut T, bytes: usize) {
        #[cfg(not(loom))]
        {
            let _ = self;
            // SAFETY: per the contract the box is unlinked and retired once;
            // it is freed past every guard and section that may still see it.
            unsafe { crate::reclaim::retire(guard, ptr, bytes) };
        }
        #[cfg(loom)]
        {
            let _ = (guard, bytes);
            unsafe fn free<T>(p: *mut u8) {
                // SAFETY: `p` is the `Box<T>` retired once by `retire`.
                drop(unsafe { Box::from_raw(p.cast::<T>()) });
            }
            self.deferred.lock().unwrap().push(Deferred { ptr: ptr.cast(), free: free::<T> });
        }
    }
}

impl Garbage {
    /// Hands what this thread retired to reclamation now rather than in
    /// batches (after a resize or a `clear`, which unlink much at once).
    pub(crate) fn flush(&self, guard: &Guard) {
        #[cfg(not(loom))]
        {
            let _ = self;
            crate::reclaim::flush(guard);
        }
        #[cfg(loom)]
        let _ = (self, guard);
    }
}

#[cfg(loom)]
impl Drop for Garbage {
    fn drop(&mut self) {
        for d in self.deferred.lock().unwrap().drain(..) {
            // SAFETY: each deferred pointer was retired once and nothing reaches it.
            unsafe { (d.free)(d.ptr) };
        }
    }
}

/// Two words read and compare-exchanged as one 16-byte atomic: a
/// [`crate::WordTable`] slot's state and value. Loads never write (with AVX
/// they are one `vmovdqa`); updates are one `cmpxchg16b`.
#[cfg(not(loom))]
#[repr(transparent)]
pub(crate) struct AtomicPair(portable_atomic::AtomicU128);

#[cfg(not(loom))]
impl AtomicPair {
    /// A pair holding `(a, b)`.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) const fn new(a: u64, b: u64) -> Self {
        AtomicPair(portable_atomic::AtomicU128::new(join(a, b)))
    }

    /// Both words, read at once.
    #[inline]
    pub(crate) fn load(&self) -> (u64, u64) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx") {
            let p = self.0.as_ptr().cast_const();
            let (lo, hi): (u64, u64);
            // SAFETY: `p` is 16-aligned (AtomicU128) and valid for reads.
            // CPUs with AVX perform aligned 16-byte SSE loads (`movdqa`)
            // atomically (Intel SDM vol. 3A 9.1.1; AMD APM vol. 2 7.3.2);
            // portable-atomic relies on the same guarantee but reaches its
            // load through a function pointer, which this inline copy
            // avoids on every lookup (`pextrq` is SSE4.1, implied by AVX).
            // x86 loads have acquire ordering, and
            // without `readonly` the asm is also a compiler barrier.
            unsafe {
                std::arch::asm!(
                    "movdqa {x}, xmmword ptr [{p}]",
                    "movq {lo}, {x}",
                    "pextrq {hi}, {x}, 1",
                    p = in(reg) p,
                    x = out(xmm_reg) _,
                    lo = out(reg) lo,
                    hi = out(reg) hi,
                    options(nostack, preserves_flags),
                );
            }
            return (lo, hi);
        }
        split(self.0.load(Ordering::Acquire))
    }

    /// Replaces `current` by `new` if the pair still holds `current`;
    /// otherwise returns what it holds.
    #[inline]
    pub(crate) fn compare_exchange(&self, current: (u64, u64), new: (u64, u64)) -> Result<(), (u64, u64)> {
        self.0
            .compare_exchange(
                join(current.0, current.1),
                join(new.0, new.1),
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .map(|_| ())
            .map_err(split)
    }
}

#[cfg(not(loom))]
#[inline]
const fn join(a: u64, b: u64) -> u128 {
    (b as u128) << 64 | a as u128
}

#[cfg(not(loom))]
#[inline]
const fn split(x: u128) -> (u64, u64) {
    (x as u64, (x >> 64) as u64)
}

/// Loom has no 16-byte atomic: a mutex-guarded pair has the same
/// linearizable load and compare-exchange, which is all the models check.
#[cfg(loom)]
pub(crate) struct AtomicPair(loom::sync::Mutex<(u64, u64)>);

#[cfg(loom)]
impl AtomicPair {
    /// A pair holding `(a, b)`.
    pub(crate) fn new(a: u64, b: u64) -> Self {
        AtomicPair(loom::sync::Mutex::new((a, b)))
    }

    /// Both words, read at once.
    pub(crate) fn load(&self) -> (u64, u64) {
        *self.0.lock().unwrap()
    }

    /// Replaces `current` by `new` if the pair still holds `current`;
    /// otherwise returns what it holds.
    pub(crate) fn compare_exchange(&self, current: (u64, u64), new: (u64, u64)) -> Result<(), (u64, u64)> {
        let mut p = self.0.lock().unwrap();
        if *p == current {
            *p = new;
            Ok(())
        } else {
            Err(*p)
        }
    }
}
