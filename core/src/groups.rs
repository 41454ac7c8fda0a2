//! Allocation of group arrays, shared by both tables.

/// A group type whose all-zero bytes are a valid empty group.
///
/// # Safety
/// An all-zero `Self` must be a valid value equal to [`ZeroGroup::empty`].
pub(crate) unsafe trait ZeroGroup: Sized {
    /// An empty group (loom builds groups one by one: its atomics can't be zeroed memory).
    #[cfg_attr(not(loom), allow(dead_code))]
    fn empty() -> Self;
}

/// `n >= 1` empty groups.
#[cfg(loom)]
pub(crate) fn alloc_groups<G: ZeroGroup>(n: usize) -> Box<[G]> {
    (0..n).map(|_| G::empty()).collect()
}

/// `n >= 1` empty groups, allocated zeroed (no pass over the memory).
#[cfg(not(loom))]
pub(crate) fn alloc_groups<G: ZeroGroup>(n: usize) -> Box<[G]> {
    use std::alloc::{alloc_zeroed, handle_alloc_error, Layout};
    let layout = Layout::array::<G>(n).expect("table size overflows");
    // SAFETY: `n >= 1` and groups are not zero-sized, so the layout is
    // non-zero-sized; an all-zero `G` is valid (`ZeroGroup`'s contract); the
    // allocation has `Box<[G]>`'s layout.
    unsafe {
        let p = alloc_zeroed(layout).cast::<G>();
        if p.is_null() {
            handle_alloc_error(layout);
        }
        Box::from_raw(std::ptr::slice_from_raw_parts_mut(p, n))
    }
}
