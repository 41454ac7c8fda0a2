//! The partitioned concurrent table.
//!
//! Walking-skeleton implementation: each cache-padded partition is a
//! `RwLock<HashMap>` chosen by the high bits of the key hash. The public API
//! here is the contract the bindings build on; the internals become lock-free
//! without changing it.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::mem::size_of;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use crossbeam_utils::CachePadded;

use crate::{CounterValue, HeapSize, NotACounter, TableOptions};

/// What a [`Table::compute`] closure decides to do with the entry it saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Compute<V, R> {
    /// Leave the entry as it is (absent stays absent); return `R`.
    Keep(R),
    /// Store `V` under the key (inserting or replacing); return `R`.
    Insert(V, R),
    /// Remove the entry if present; return `R`.
    Remove(R),
}

struct Partition<K, V, S> {
    map: HashMap<K, V, S>,
    /// Bytes held by the entries of this partition (see [`HeapSize`]).
    bytes: usize,
}

type Slot<K, V, S> = CachePadded<RwLock<Partition<K, V, S>>>;

/// A concurrent hash table with set semantics (one value per key).
///
/// Partitioned by the high bits of the key hash; operations on different
/// partitions never contend. All methods take `&self`: share the table
/// with `Arc`.
pub struct Table<K, V, S = foldhash::fast::RandomState> {
    partitions: Box<[Slot<K, V, S>]>,
    hasher: S,
    shift: u32,
}

fn entry_bytes<K: HeapSize, V: HeapSize>(k: &K, v: &V) -> usize {
    size_of::<K>() + size_of::<V>() + k.heap_size() + v.heap_size()
}

impl<K, V> Table<K, V>
where
    K: Hash + Eq + HeapSize,
    V: HeapSize,
{
    /// An empty table with default options.
    pub fn new() -> Self {
        Self::with_options(TableOptions::default())
    }

    /// An empty table laid out by `options`.
    pub fn with_options(options: TableOptions) -> Self {
        Self::with_options_and_hasher(options, foldhash::fast::RandomState::default())
    }
}

impl<K, V> Default for Table<K, V>
where
    K: Hash + Eq + HeapSize,
    V: HeapSize,
{
    fn default() -> Self {
        Self::new()
    }
}

impl<K, V, S> Table<K, V, S>
where
    K: Hash + Eq + HeapSize,
    V: HeapSize,
    S: BuildHasher + Clone,
{
    /// An empty table laid out by `options`, hashing keys with `hasher`.
    pub fn with_options_and_hasher(options: TableOptions, hasher: S) -> Self {
        let n = options.resolved_partitions();
        let per = options.capacity.div_ceil(n);
        let partitions = (0..n)
            .map(|_| {
                CachePadded::new(RwLock::new(Partition {
                    map: HashMap::with_capacity_and_hasher(per, hasher.clone()),
                    bytes: 0,
                }))
            })
            .collect();
        Self { partitions, hasher, shift: 64 - n.trailing_zeros() }
    }

    /// The number of partitions (a power of two).
    pub fn partitions(&self) -> usize {
        self.partitions.len()
    }

    fn partition_of<Q: Hash + ?Sized>(&self, key: &Q) -> usize {
        if self.partitions.len() == 1 {
            return 0;
        }
        // High bits pick the partition; the inner map uses the low bits.
        (self.hasher.hash_one(key) >> self.shift) as usize
    }

    fn read<Q: Hash + ?Sized>(&self, key: &Q) -> RwLockReadGuard<'_, Partition<K, V, S>> {
        // A poisoned lock only means a panic elsewhere mid-operation; every
        // mutation below leaves the map consistent before it can panic.
        self.partitions[self.partition_of(key)].read().unwrap_or_else(|e| e.into_inner())
    }

    fn write<Q: Hash + ?Sized>(&self, key: &Q) -> RwLockWriteGuard<'_, Partition<K, V, S>> {
        self.partitions[self.partition_of(key)].write().unwrap_or_else(|e| e.into_inner())
    }

    /// A clone of the value stored under `key`.
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        self.read(key).map.get(key).cloned()
    }

    /// Calls `f` with a borrow of the value under `key` and returns its result.
    /// `f` must be short: it runs while the entry is pinned.
    pub fn get_with<Q, R>(&self, key: &Q, f: impl FnOnce(&V) -> R) -> Option<R>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.read(key).map.get(key).map(f)
    }

    /// Whether `key` is present.
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.read(key).map.contains_key(key)
    }

    /// Stores `value` under `key`, replacing any previous value.
    /// Returns `true` when the key was not present before.
    pub fn insert(&self, key: K, value: V) -> bool {
        let mut value = Some(value);
        self.compute(key, |old| Compute::Insert(take_once(&mut value), old.is_none()))
    }

    /// Stores `value` under `key` only if the key is absent.
    /// Returns `true` when it was stored.
    pub fn insert_new(&self, key: K, value: V) -> bool {
        let mut value = Some(value);
        self.compute(key, |old| match old {
            Some(_) => Compute::Keep(false),
            None => Compute::Insert(take_once(&mut value), true),
        })
    }

    /// Removes `key`. Returns `true` when it was present.
    pub fn remove<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut p = self.write(key);
        match p.map.remove_entry(key) {
            Some((k, v)) => {
                p.bytes -= entry_bytes(&k, &v);
                true
            }
            None => false,
        }
    }

    /// Removes `key` and returns its value.
    pub fn take<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut p = self.write(key);
        let (k, v) = p.map.remove_entry(key)?;
        p.bytes -= entry_bytes(&k, &v);
        Some(v)
    }

    /// Atomic read-modify-write of one entry: `f` sees the current value
    /// (or `None`) and decides what to store. No other writer can change the
    /// entry between what `f` saw and what it decided. Under contention `f`
    /// may run more than once; exactly one run's decision takes effect and
    /// its `R` is returned, so `f` must not have side effects of its own.
    pub fn compute<R>(&self, key: K, mut f: impl FnMut(Option<&V>) -> Compute<V, R>) -> R {
        let mut guard = self.write(&key);
        let p = &mut *guard;
        match f(p.map.get(&key)) {
            Compute::Keep(r) => r,
            Compute::Insert(v, r) => {
                let add = entry_bytes(&key, &v);
                if let Some((old_k, old_v)) = p.map.remove_entry(&key) {
                    p.bytes -= entry_bytes(&old_k, &old_v);
                }
                p.map.insert(key, v);
                p.bytes += add;
                r
            }
            Compute::Remove(r) => {
                if let Some((old_k, old_v)) = p.map.remove_entry(&key) {
                    p.bytes -= entry_bytes(&old_k, &old_v);
                }
                r
            }
        }
    }

    /// Atomically adds `delta` to the counter under `key` (wrapping on
    /// overflow), starting from `default` when the key is absent. Returns the
    /// new value, or [`NotACounter`] (and changes nothing) when the stored
    /// value is not a counter.
    pub fn counter_add(&self, key: K, delta: i64, default: i64) -> Result<i64, NotACounter>
    where
        V: CounterValue,
    {
        self.compute(key, |old| {
            let base = match old {
                None => default,
                Some(v) => match v.as_counter() {
                    Some(n) => n,
                    None => return Compute::Keep(Err(NotACounter)),
                },
            };
            let n = base.wrapping_add(delta);
            Compute::Insert(V::from_counter(n), Ok(n))
        })
    }

    /// The number of entries. Exact when no writer runs concurrently.
    pub fn len(&self) -> usize {
        self.partitions.iter().map(|p| p.read().unwrap_or_else(|e| e.into_inner()).map.len()).sum()
    }

    /// Whether the table has no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every entry.
    pub fn clear(&self) {
        for p in self.partitions.iter() {
            let mut p = p.write().unwrap_or_else(|e| e.into_inner());
            p.map.clear();
            p.map.shrink_to_fit();
            p.bytes = 0;
        }
    }

    /// Bytes held by the entries (keys, values and what they own on the heap)
    /// plus the table's own slots.
    pub fn memory_bytes(&self) -> usize {
        let slots = size_of::<Self>() + self.partitions.len() * size_of::<Slot<K, V, S>>();
        self.partitions.iter().fold(slots, |acc, p| {
            let p = p.read().unwrap_or_else(|e| e.into_inner());
            acc + p.bytes + p.map.capacity() * (size_of::<K>() + size_of::<V>() + 1)
        })
    }

    /// A snapshot-per-partition iterator over clones of the entries. Safe
    /// under concurrent writes: each entry present for the whole iteration is
    /// seen exactly once; entries added or removed meanwhile may or may not be.
    pub fn iter(&self) -> Iter<'_, K, V, S>
    where
        K: Clone,
        V: Clone,
    {
        Iter { table: self, next_partition: 0, batch: Vec::new().into_iter() }
    }
}

/// Moves the value out of a closure that this lock-based implementation
/// calls exactly once per operation.
fn take_once<V>(slot: &mut Option<V>) -> V {
    slot.take().expect("closure runs once per write under the partition lock")
}

/// Iterator returned by [`Table::iter`].
pub struct Iter<'a, K, V, S> {
    table: &'a Table<K, V, S>,
    next_partition: usize,
    batch: std::vec::IntoIter<(K, V)>,
}

impl<K, V, S> Iterator for Iter<'_, K, V, S>
where
    K: Clone,
    V: Clone,
{
    type Item = (K, V);

    fn next(&mut self) -> Option<(K, V)> {
        loop {
            if let Some(item) = self.batch.next() {
                return Some(item);
            }
            let p = self.table.partitions.get(self.next_partition)?;
            self.next_partition += 1;
            let p = p.read().unwrap_or_else(|e| e.into_inner());
            self.batch = p.map.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<Vec<_>>().into_iter();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BytesTable;

    fn b(s: &str) -> Box<[u8]> {
        s.as_bytes().into()
    }

    #[test]
    fn set_semantics() {
        let t = BytesTable::new();
        assert!(t.insert(b("k"), b("v1")));
        assert!(!t.insert(b("k"), b("v2")));
        assert_eq!(t.get(&b"k"[..]).as_deref(), Some(&b"v2"[..]));
        assert!(!t.insert_new(b("k"), b("v3")));
        assert!(t.insert_new(b("j"), b("v")));
        assert_eq!(t.len(), 2);
        assert!(t.contains_key(&b"j"[..]));
        assert!(t.remove(&b"j"[..]));
        assert!(!t.remove(&b"j"[..]));
        assert_eq!(t.take(&b"k"[..]).as_deref(), Some(&b"v2"[..]));
        assert!(t.is_empty());
        assert_eq!(t.get(&b"k"[..]), None);
    }

    #[test]
    fn counters_start_at_default_and_reject_non_counters() {
        let t = BytesTable::new();
        assert_eq!(t.counter_add(b("c"), 5, 10), Ok(15));
        assert_eq!(t.counter_add(b("c"), -20, 0), Ok(-5));
        t.insert(b("s"), b("text"));
        assert_eq!(t.counter_add(b("s"), 1, 0), Err(NotACounter));
        assert_eq!(t.get(&b"s"[..]).as_deref(), Some(&b"text"[..]), "failed add changes nothing");
        assert_eq!(t.counter_add(b("m"), 1, i64::MAX), Ok(i64::MIN), "wraps");
    }

    #[test]
    fn memory_tracks_entries() {
        let t = BytesTable::with_options(TableOptions { partitions: Some(2), capacity: 0 });
        let empty = t.memory_bytes();
        t.insert(b("key"), vec![0u8; 1000].into());
        assert!(t.memory_bytes() >= empty + 1003);
        t.clear();
        assert_eq!(t.memory_bytes(), empty);
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn iter_sees_every_entry_once() {
        let t: Table<u64, u64> = Table::with_options(TableOptions { partitions: Some(8), capacity: 100 });
        for i in 0..1000 {
            t.insert(i, i * 2);
        }
        let mut seen: Vec<_> = t.iter().collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..1000).map(|i| (i, i * 2)).collect::<Vec<_>>());
    }

    #[test]
    fn concurrent_counters_lose_nothing() {
        let t = std::sync::Arc::new(BytesTable::new());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let t = t.clone();
                std::thread::spawn(move || {
                    for i in 0..10_000 {
                        t.counter_add(b(&format!("k{}", i % 7)), 1, 0).unwrap();
                    }
                })
            })
            .collect();
        for th in threads {
            th.join().unwrap();
        }
        let total: i64 = (0..7).map(|i| t.get(&b(&format!("k{i}"))[..]).unwrap().as_counter().unwrap()).sum();
        assert_eq!(total, 40_000);
    }
}
