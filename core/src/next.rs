//! The link from a table to the one a resize copies it into, for both
//! tables: null until a resize starts, then a marker naming the resize's
//! plan while its target is being sized, then the target, which never
//! changes. The size is decided only once writers have seen the marker and
//! stopped adding keys to the source, from the live count then (see
//! `table/resize.rs`).

use crate::primitive::{AtomicPtr, Ordering};

/// A table's `next` link (`T` is the table type).
pub(crate) struct Next<T>(AtomicPtr<T>);

/// The marker of plan `plan`: an odd address, never a table's (tables are
/// cache-line aligned). Never followed.
fn marker<T>(plan: u8) -> *mut T {
    std::ptr::without_provenance_mut(usize::from(plan) * 2 + 1)
}

impl<T> Next<T> {
    /// No resize yet.
    pub(crate) fn new() -> Self {
        Next(AtomicPtr::new(std::ptr::null_mut()))
    }

    /// The target, once it exists (null before a resize starts and while
    /// its target is being sized: nothing has been copied then).
    #[inline]
    pub(crate) fn target(&self) -> *mut T {
        let p = self.0.load(Ordering::Acquire);
        if p.addr() & 1 == 1 {
            std::ptr::null_mut()
        } else {
            p
        }
    }

    /// Whether a resize has started (its target may still be being sized).
    #[inline]
    pub(crate) fn started(&self) -> bool {
        !self.0.load(Ordering::Acquire).is_null()
    }

    /// Starts a resize with `plan`; `false` if one had started.
    pub(crate) fn start(&self, plan: u8) -> bool {
        self.0
            .compare_exchange(std::ptr::null_mut(), marker(plan), Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// The target (`Ok`), or the plan of a resize still being sized (`Err`).
    /// Only after [`Next::start`] succeeded, on this table.
    pub(crate) fn get(&self) -> Result<*mut T, u8> {
        let p = self.0.load(Ordering::Acquire);
        debug_assert!(!p.is_null(), "no resize started");
        if p.addr() & 1 == 1 {
            Err((p.addr() >> 1) as u8)
        } else {
            Ok(p)
        }
    }

    /// Installs `new` as the target of the resize being sized with `plan`;
    /// `false` if another thread installed its own first.
    pub(crate) fn install(&self, plan: u8, new: *mut T) -> bool {
        self.0.compare_exchange(marker(plan), new, Ordering::AcqRel, Ordering::Acquire).is_ok()
    }

    /// The target, for the owner's drop (no other thread reaches the table).
    pub(crate) fn target_at_drop(&self) -> *mut T {
        let p = self.0.load(Ordering::Relaxed);
        if p.addr() & 1 == 1 {
            std::ptr::null_mut()
        } else {
            p
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_link_goes_from_null_to_a_plan_to_its_target() {
        let next: Next<u64> = Next::new();
        assert!(!next.started() && next.target().is_null());
        assert!(next.start(5));
        assert!(!next.start(1), "a resize starts once");
        assert!(next.started() && next.target().is_null(), "sizing: no target to read yet");
        assert_eq!(next.get(), Err(5));
        let mut t = 7u64;
        assert!(!next.install(4, &mut t), "only the plan that started");
        assert!(next.install(5, &mut t));
        assert!(!next.install(5, std::ptr::null_mut()), "installed once");
        assert_eq!(next.get(), Ok(&mut t as *mut u64));
        assert_eq!((next.target(), next.target_at_drop()), (&mut t as *mut u64, &mut t as *mut u64));
    }
}
