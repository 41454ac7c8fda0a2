//! Randomized multi-thread stress of `Table`, checked against sequential
//! models: the shared scenarios of `stress_common`.

mod stress_common;

use ferrets_core::{Compute, Table, TableOptions};
use stress_common::StressMap;

impl StressMap for Table<u64, i64> {
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
    fn counter_add(&self, k: u64, delta: i64) {
        Table::counter_add(self, k, delta, 0).unwrap();
    }
    fn len(&self) -> usize {
        Table::len(self)
    }
    fn keys(&self) -> Vec<u64> {
        self.iter().map(|(k, _)| k).collect()
    }
}

#[test]
fn stress_one_partition() {
    stress_common::stress::<Table<u64, i64>>(1);
}

#[test]
fn stress_many_partitions() {
    stress_common::stress::<Table<u64, i64>>(8);
}

#[test]
fn concurrent_grow_from_empty() {
    stress_common::concurrent_grow_from_empty::<Table<u64, i64>>();
}
