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

/// `p` unless it is a marker (then null: there is no target yet).
fn unmarked<T>(p: *mut T) -> *mut T {
    if p.addr() & 1 == 1 {
        std::ptr::null_mut()
    } else {
        p
    }
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
        unmarked(self.0.load(Ordering::Acquire))
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

    /// The target of the resize that has started (after [`Next::start`]
    /// succeeded, on this table), built by `build` from the resize's plan
    /// and installed first if it is still being sized. Any thread may
    /// build it; if another installs its own first, ours is dropped.
    pub(crate) fn target_or_build(&self, build: impl FnOnce(u8) -> Box<T>) -> *mut T {
        let p = self.0.load(Ordering::Acquire);
        debug_assert!(!p.is_null(), "no resize started");
        if p.addr() & 1 == 0 {
            return p;
        }
        let new = Box::into_raw(build((p.addr() >> 1) as u8));
        match self.0.compare_exchange(p, new, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => new,
            // A marker is only ever replaced by the target: `now` is it.
            Err(now) => {
                // SAFETY: `new` was never shared.
                drop(unsafe { Box::from_raw(new) });
                now
            }
        }
    }

    /// The target, for the owner's drop (no other thread reaches the table).
    pub(crate) fn target_at_drop(&self) -> *mut T {
        unmarked(self.0.load(Ordering::Relaxed))
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
        let mut plans = Vec::new();
        let built = next.target_or_build(|plan| {
            plans.push(plan);
            Box::new(8)
        });
        assert_eq!(plans, [5], "built once, from the plan that started");
        // SAFETY: the target built above, owned by the link from now on.
        assert_eq!(unsafe { *built }, 8);
        assert_eq!(next.target_or_build(|_| unreachable!("installed already")), built);
        assert_eq!(next.target(), built);
        // SAFETY: the box installed above; freed once, here.
        drop(unsafe { Box::from_raw(built) });
        let sizing: Next<u64> = Next::new();
        assert!(sizing.start(1));
        assert_eq!(sizing.target_at_drop(), std::ptr::null_mut(), "a marker is no target");
    }
}
