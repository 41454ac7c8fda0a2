//! Heap accounting for keys and values, so a table can report the exact bytes it holds.

use std::sync::Arc;

/// Bytes a value owns on the heap, beyond its inline `size_of`.
///
/// Tables add `size_of::<K>() + size_of::<V>() + heap_size()` per entry to
/// their memory count, so size bounds can be enforced on real usage.
pub trait HeapSize {
    /// Heap bytes owned by `self` (0 for plain-old-data).
    fn heap_size(&self) -> usize;
}

macro_rules! no_heap {
    ($($t:ty),*) => { $(impl HeapSize for $t { fn heap_size(&self) -> usize { 0 } })* };
}
no_heap!(u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, bool, char, f32, f64, ());

impl HeapSize for Box<[u8]> {
    fn heap_size(&self) -> usize {
        self.len()
    }
}

impl HeapSize for Vec<u8> {
    fn heap_size(&self) -> usize {
        self.capacity()
    }
}

impl HeapSize for String {
    fn heap_size(&self) -> usize {
        self.capacity()
    }
}

impl HeapSize for Box<str> {
    fn heap_size(&self) -> usize {
        self.len()
    }
}

/// Shared buffers are counted in full by each holder: an upper bound, which
/// is what a memory limit needs.
impl HeapSize for Arc<[u8]> {
    fn heap_size(&self) -> usize {
        self.len() + 2 * std::mem::size_of::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_containers_count_their_bytes() {
        assert_eq!(Box::<[u8]>::from(&b"abc"[..]).heap_size(), 3);
        assert_eq!(7u64.heap_size(), 0);
        assert_eq!(Vec::<u8>::with_capacity(10).heap_size(), 10);
        assert_eq!(Arc::<[u8]>::from(&b"ab"[..]).heap_size(), 2 + 16);
    }
}
