//! `Table`: single-thread operation sequences checked against
//! `std::collections::HashMap` (the shared scenario of `map_common::model`),
//! and borrowed reads of byte keys.

mod map_common;

use ferrets_core::Table;

model_tests!(Table<u64, i64>);

#[test]
fn borrowed_and_byte_keys() {
    let t = ferrets_core::BytesTable::new();
    t.insert(b"abc"[..].into(), b"v"[..].into());
    let pin = ferrets_core::pinned();
    assert_eq!(t.get_ref(&b"abc"[..], &pin).map(|v| &v[..]), Some(&b"v"[..]));
    assert!(t.get_ref(&b"abd"[..], &pin).is_none());
}
