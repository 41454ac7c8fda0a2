//! What both tables' integration tests share: [`TestMap`], the operations
//! of a `u64 -> i64` table by value (the two tables differ in borrowing and
//! in how a counter add reports a non-counter), implemented for `Table` and
//! `WordTable`, and the scenarios written once against it: [`stress`] (many
//! threads) and [`model`] (single-thread sequences against a `HashMap`).
// Each test binary uses part of this module.
#![allow(dead_code)]

pub mod model;
pub mod stress;

use ferrets_core::{Compute, Table, TableOptions, WordTable};

/// A `u64 -> i64` table under test, by value (the two tables differ in
/// borrowing and in how a counter add reports a non-counter).
pub trait TestMap: Send + Sync + 'static {
    /// An empty table of `partitions` partitions.
    fn with_partitions(partitions: usize) -> Self;
    /// `insert`: whether the key was absent.
    fn insert(&self, k: u64, v: i64) -> bool;
    /// `insert_new`: whether it was stored.
    fn insert_new(&self, k: u64, v: i64) -> bool;
    /// `remove`: whether the key was present.
    fn remove(&self, k: u64) -> bool;
    /// `take`: the removed value.
    fn take(&self, k: u64) -> Option<i64>;
    /// `get`.
    fn get(&self, k: u64) -> Option<i64>;
    /// `contains_key`.
    fn contains_key(&self, k: u64) -> bool;
    /// `compute` with a closure that sees the value by copy.
    fn compute<R>(&self, k: u64, f: impl FnMut(Option<i64>) -> Compute<i64, R>) -> R;
    /// `counter_add(k, delta, 0)`.
    fn counter_add(&self, k: u64, delta: i64) {
        self.counter_add_default(k, delta, 0);
    }
    /// `len`.
    fn len(&self) -> usize;
    /// Every key the iterator yields, in its order.
    fn keys(&self) -> Vec<u64> {
        self.items().into_iter().map(|(k, _)| k).collect()
    }
    /// Every entry the iterator yields, in its order.
    fn items(&self) -> Vec<(u64, i64)>;
    /// `counter_add(k, delta, default)`, returning the new value.
    fn counter_add_default(&self, k: u64, delta: i64, default: i64) -> i64;
    /// `clear`.
    fn clear(&self);
    /// `memory_bytes`.
    fn memory_bytes(&self) -> usize;
    /// Checks of a read that only this table has (`Table::get_with`).
    fn check_extra_reads(&self, _k: u64, _want: Option<i64>) {}
}

impl TestMap for Table<u64, i64> {
    fn with_partitions(partitions: usize) -> Self {
        Table::with_options(TableOptions { partitions: Some(partitions), capacity: 0 })
    }
    fn insert(&self, k: u64, v: i64) -> bool {
        Table::insert(self, k, v)
    }
    fn insert_new(&self, k: u64, v: i64) -> bool {
        Table::insert_new(self, k, v)
    }
    fn remove(&self, k: u64) -> bool {
        Table::remove(self, &k)
    }
    fn take(&self, k: u64) -> Option<i64> {
        Table::take(self, &k)
    }
    fn get(&self, k: u64) -> Option<i64> {
        Table::get(self, &k)
    }
    fn contains_key(&self, k: u64) -> bool {
        Table::contains_key(self, &k)
    }
    fn compute<R>(&self, k: u64, mut f: impl FnMut(Option<i64>) -> Compute<i64, R>) -> R {
        Table::compute(self, k, |old| f(old.copied()))
    }
    fn counter_add_default(&self, k: u64, delta: i64, default: i64) -> i64 {
        Table::counter_add(self, k, delta, default).unwrap()
    }
    fn len(&self) -> usize {
        Table::len(self)
    }
    fn items(&self) -> Vec<(u64, i64)> {
        self.iter().collect()
    }
    fn clear(&self) {
        Table::clear(self)
    }
    fn memory_bytes(&self) -> usize {
        Table::memory_bytes(self)
    }
    fn check_extra_reads(&self, k: u64, want: Option<i64>) {
        assert_eq!(self.get_with(&k, |v| v + 1), want.map(|v| v + 1));
    }
}

impl TestMap for WordTable<u64, i64> {
    fn with_partitions(partitions: usize) -> Self {
        WordTable::with_options(TableOptions { partitions: Some(partitions), capacity: 0 })
    }
    fn insert(&self, k: u64, v: i64) -> bool {
        WordTable::insert(self, k, v)
    }
    fn insert_new(&self, k: u64, v: i64) -> bool {
        WordTable::insert_new(self, k, v)
    }
    fn remove(&self, k: u64) -> bool {
        WordTable::remove(self, k)
    }
    fn take(&self, k: u64) -> Option<i64> {
        WordTable::take(self, k)
    }
    fn get(&self, k: u64) -> Option<i64> {
        WordTable::get(self, k)
    }
    fn contains_key(&self, k: u64) -> bool {
        WordTable::contains_key(self, k)
    }
    fn compute<R>(&self, k: u64, f: impl FnMut(Option<i64>) -> Compute<i64, R>) -> R {
        WordTable::compute(self, k, f)
    }
    fn counter_add_default(&self, k: u64, delta: i64, default: i64) -> i64 {
        WordTable::counter_add(self, k, delta, default)
    }
    fn len(&self) -> usize {
        WordTable::len(self)
    }
    fn items(&self) -> Vec<(u64, i64)> {
        self.iter().collect()
    }
    fn clear(&self) {
        WordTable::clear(self)
    }
    fn memory_bytes(&self) -> usize {
        WordTable::memory_bytes(self)
    }
}
