//! Randomized multi-thread stress of `Table`, checked against sequential
//! models: the shared scenarios of `map_common::stress`.

mod map_common;

use ferrets_core::Table;

#[test]
fn stress_one_partition() {
    map_common::stress::stress::<Table<u64, i64>>(1);
}

#[test]
fn stress_many_partitions() {
    map_common::stress::stress::<Table<u64, i64>>(8);
}

#[test]
fn concurrent_grow_from_empty() {
    map_common::stress::concurrent_grow_from_empty::<Table<u64, i64>>();
}
