//! Unit tests of the table API.

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
fn take_with_sees_the_removed_value_once() {
    let t = BytesTable::new();
    t.insert(b("k"), b("v"));
    let mut calls = 0;
    let got = t.take_with(&b"k"[..], |v| {
        calls += 1;
        v.len()
    });
    assert_eq!((got, calls), (Some(1), 1));
    assert!(!t.contains_key(&b"k"[..]));
    assert_eq!(t.take_with(&b"k"[..], |_| unreachable!("absent: f must not run")), None::<()>);
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

#[test]
fn lookups_during_a_grow_never_touch_dropped_entries() {
    // Deleted entries stay linked until a resize copies their slot: it then
    // marks the slot copied and retires the entry at once, while the old
    // table is still the one readers start from. A reader that pins after
    // that must not follow the stale pointer (run under valgrind to see it).
    let t = BytesTable::with_options(TableOptions { partitions: Some(1), capacity: 0 });
    let key = |i: u32| -> Box<[u8]> { format!("key-{i:06}").into_bytes().into() };
    let mut live = std::collections::BTreeSet::new();
    for round in 0..20u32 {
        let base = round * 1000;
        for i in base..base + 1000 {
            t.insert(key(i), key(i));
            live.insert(i);
        }
        for i in (base..base + 1000).step_by(2) {
            assert!(t.remove(&key(i)[..]));
            live.remove(&i);
        }
        // Inserting grows the table incrementally; look keys up in between.
        for i in base + 1000..base + 1400 {
            t.insert(key(i), key(i));
            live.insert(i);
            for j in [i - 1000, i - 999, i / 2, i] {
                assert_eq!(
                    t.get(&key(j)[..]).as_deref(),
                    live.contains(&j).then(|| key(j)).as_deref(),
                    "key {j}"
                );
            }
        }
    }
}

/// A resize whose chunks are all claimed by helpers that stalled (a thread
/// preempted mid-chunk) while writers churn through fresh keys: each fresh
/// key claims a lane in the target and keeps it when removed, so before
/// writers were bounded (`RawTable::room_for_fresh`) they filled the target
/// and the copy (resumed, or finished by a writer) found no room and spun
/// forever.
#[test]
fn churn_during_a_stalled_resize_leaves_room_for_the_copy() {
    // On another thread, so that a copy with nowhere to go fails the test
    // instead of hanging it.
    crate::test_util::finishes_within(30, "a copy found no room (or a key was lost)", || {
        let t: Table<u64, u64> = Table::with_options(TableOptions { partitions: Some(1), capacity: 0 });
        let part = &t.partitions[0];
        let n = grow_until_resizing(&t);
        let live = t.len();
        {
            let _guard = pin();
            let root = part.root();
            // Every remaining chunk is now "claimed" by a helper that stalled.
            root.migration.claimed.store(usize::MAX / 2, Ordering::Relaxed);
            // SAFETY: `next` is set and reachable under our pin.
            let lanes = unsafe { &*root.next() }.len() * WIDTH;
            // Far more fresh keys than the target has lanes, each removed again.
            for k in 1_000_000..1_000_000 + 4 * lanes as u64 {
                t.insert(k, k);
                assert!(t.remove(&k));
            }
        }
        // The stalled helpers resume: the copy completes.
        let guard = pin();
        let root = part.root();
        if !root.next().is_null() {
            t.finish(part, root, &guard);
        }
        drop(guard);
        assert_eq!(t.len(), live);
        for k in 0..n {
            assert_eq!(t.get(&k), Some(k), "key {k} lost");
        }
    });
}

/// Inserts keys 0, 1, ... into a one-partition table until a resize is
/// under way (one chunk is copied when it starts); how many it inserted.
fn grow_until_resizing(t: &Table<u64, u64>) -> u64 {
    let part = &t.partitions[0];
    let mut n = 0u64;
    while part.root().next().is_null() {
        t.insert(n, n);
        n += 1;
    }
    n
}

/// A key or value of five cache lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Big([u64; 40]);

impl HeapSize for Big {
    fn heap_size(&self) -> usize {
        0
    }
}

#[test]
fn prefetching_an_entry_never_faults_and_long_entries_read_intact() {
    // A hint only: addresses that are null, unmapped or at the top of the
    // address space must not fault (a load there would).
    for ptr in [0, 8, 0x1000, usize::MAX & !63, usize::MAX - 200] {
        raw::Entry::<Big, Big>::prefetch_rest(ptr);
    }
    // Entries spanning many lines (prefetched past the first) still
    // compare and read whole.
    let t: Table<Big, Big> = Table::new();
    for i in 0..2_000u64 {
        assert!(t.insert(Big([i; 40]), Big([i * 3; 40])));
    }
    for i in 0..2_000u64 {
        assert_eq!(t.get(&Big([i; 40])), Some(Big([i * 3; 40])));
    }
    assert_eq!(t.get(&Big([2_000; 40])), None);
}

/// Walks the whole table with [`Table::scan`] in batches of `groups`,
/// checking each batch's bounds; every visited `(cursor, key)`.
fn scan_all(t: &Table<u64, u64>, groups: usize) -> Vec<(Cursor, u64)> {
    let mut seen = Vec::new();
    let mut from = Cursor::START;
    loop {
        let mut batch = Vec::new();
        let scan = t.scan(from, groups, true, |c, k, v| {
            assert_eq!(k, v);
            batch.push((c, *k));
        });
        for &(c, k) in &batch {
            assert_eq!(c, t.cursor_of(&k), "a visit reports the key's own cursor");
            assert!(c >= from, "a batch starts at `from`");
        }
        match scan {
            Scan::More(to) => {
                assert!(to > from, "a scan always moves on");
                assert!(batch.iter().all(|&(c, _)| c < to), "a batch ends before `to`");
                seen.extend(batch);
                from = to;
            }
            Scan::End => {
                seen.extend(batch);
                return seen;
            }
            Scan::Busy => unreachable!("a scan that helps resizes is never busy"),
        }
    }
}

#[test]
fn scan_visits_every_entry_once_in_cursor_order_of_batches() {
    let t: Table<u64, u64> = Table::with_options(TableOptions { partitions: Some(4), capacity: 0 });
    for k in 0..5_000 {
        t.insert(k, k);
    }
    for k in (0..5_000).step_by(3) {
        t.remove(&k);
    }
    let want: Vec<u64> = (0..5_000).filter(|k| k % 3 != 0).collect();
    for groups in [1, 3, 32, usize::MAX] {
        let seen = scan_all(&t, groups);
        let mut keys: Vec<u64> = seen.iter().map(|&(_, k)| k).collect();
        keys.sort_unstable();
        assert_eq!(keys, want, "batches of {groups} groups");
    }
}

#[test]
fn the_successor_found_by_scanning_matches_the_sorted_order() {
    let t: Table<u64, u64> = Table::with_options(TableOptions { partitions: Some(2), capacity: 0 });
    for k in 0..2_000 {
        t.insert(k, k);
    }
    let mut order: Vec<(Cursor, u64)> = (0..2_000).map(|k| (t.cursor_of(&k), k)).collect();
    order.sort_unstable();
    // The successor of each key: the least (cursor, key) above its own, in
    // the first batch from its cursor that has one.
    for w in order.windows(2) {
        let (c0, k0) = w[0];
        let mut from = c0;
        let found = loop {
            let mut best: Option<(Cursor, u64)> = None;
            let scan = t.scan(from, 2, true, |c, k, _| {
                if (c, *k) > (c0, k0) && best.is_none_or(|b| (c, *k) < b) {
                    best = Some((c, *k));
                }
            });
            match (best, scan) {
                (Some(b), _) => break Some(b),
                (None, Scan::More(to)) => from = to,
                (None, _) => break None,
            }
        };
        assert_eq!(found, Some(w[1]));
    }
}

#[test]
fn scan_during_a_resize_is_busy_unless_it_helps() {
    let t: Table<u64, u64> = Table::with_options(TableOptions { partitions: Some(1), capacity: 0 });
    let part = &t.partitions[0];
    let n = grow_until_resizing(&t);
    assert_eq!(t.scan(Cursor::START, 4, false, |_, _, _| unreachable!("busy: nothing visited")), Scan::Busy);
    let mut keys: Vec<u64> = scan_all(&t, 4).into_iter().map(|(_, k)| k).collect();
    keys.sort_unstable();
    assert_eq!(keys, (0..n).collect::<Vec<_>>());
    assert!(part.root().next().is_null(), "the helping scan finished the resize");
    assert_ne!(t.scan(Cursor::START, 4, false, |_, _, _| ()), Scan::Busy);
}

/// A successor walk (the BEAM binding's `next/2`: the least `(cursor, key)`
/// above the last one, scanning without helping resizes and retrying with
/// help when busy) racing writers that churn other keys through resizes:
/// every key present throughout is visited exactly once, in cursor order.
#[test]
fn a_successor_walk_racing_churn_sees_stable_keys_once_in_order() {
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;
    let t: Arc<Table<u64, u64>> =
        Arc::new(Table::with_options(TableOptions { partitions: Some(4), capacity: 0 }));
    let stable: Vec<u64> = (0..2_000).map(|i| i * 2).collect();
    for &k in &stable {
        t.insert(k, k);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..2u64)
        .map(|w| {
            let (t, stop) = (t.clone(), stop.clone());
            std::thread::spawn(move || {
                // Odd keys only: grows to ~6,000 entries and shrinks again.
                let mut round = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let keys = (0..3_000).map(|i| (i * 2 + w) * 2 + 1);
                    keys.clone().for_each(|k| assert!(t.insert(k, k)));
                    keys.for_each(|k| assert!(t.remove(&k)));
                    round += 1;
                }
                round
            })
        })
        .collect();
    let successor = |after: Option<(Cursor, u64)>| -> Option<(Cursor, u64)> {
        let mut from = after.map_or(Cursor::START, |(c, _)| c);
        loop {
            let mut best: Option<(Cursor, u64)> = None;
            let mut visit = |c: Cursor, k: &u64, v: &u64| {
                assert_eq!(k, v);
                if after.is_none_or(|a| (c, *k) > a) && best.is_none_or(|b| (c, *k) < b) {
                    best = Some((c, *k));
                }
            };
            let scan = match t.scan(from, 2, false, &mut visit) {
                Scan::Busy => t.scan(from, 2, true, &mut visit),
                done => done,
            };
            match (best, scan) {
                (Some(b), _) => return Some(b),
                (None, Scan::More(to)) => from = to,
                (None, _) => return None,
            }
        }
    };
    for _ in 0..20 {
        let mut walk = Vec::new();
        let mut at = successor(None);
        while let Some(p) = at {
            if let Some(&last) = walk.last() {
                assert!(p > last, "the walk moves forward in cursor order");
            }
            walk.push(p);
            at = successor(Some(p));
        }
        let mut seen: Vec<u64> = walk.iter().map(|&(_, k)| k).filter(|k| k % 2 == 0).collect();
        seen.sort_unstable();
        assert_eq!(seen, stable, "every stable key exactly once");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        assert!(w.join().unwrap() > 0);
    }
}

/// A shrink decided on a live count that is stale by the time it starts (a
/// remover descheduled between the two while others insert): the target is
/// sized from the live count once writers have stopped adding keys to the
/// source, so the copy has room and nothing is lost. Sized from the stale
/// count (the earlier protocol), this copy found its target full and spun
/// forever.
#[test]
fn a_late_shrink_sizes_its_target_from_the_live_count_it_starts_with() {
    crate::test_util::finishes_within(30, "the copy found no room", || {
        let t: Table<u64, u64> = Table::with_options(TableOptions { partitions: Some(1), capacity: 0 });
        let part = &t.partitions[0];
        // Grown big, then nearly emptied without a shrink yet...
        for k in 0..20_000 {
            t.insert(k, k);
        }
        let guard = pin();
        // ...the remover's decision (made at a handful of live keys) lands
        // after other writers refilled the table.
        let root = part.root();
        assert!(t.start_resize(part, root, Plan::Shrink, &guard));
        t.finish(part, root, &guard);
        drop(guard);
        assert_eq!(t.len(), 20_000);
        for k in 0..20_000 {
            assert_eq!(t.get(&k), Some(k), "key {k} lost");
        }
    });
}

#[test]
fn plans_are_numbered_as_listed() {
    // The `next` link stores a plan as its number and reads it back through `ALL`.
    for (i, p) in Plan::ALL.iter().enumerate() {
        assert_eq!(*p as usize, i);
    }
}

/// As the word table's test of the same name: a load that stops mid-resize
/// holds both arrays until `finish_resizes` completes the copy.
#[test]
fn finish_resizes_settles_a_load_that_stopped_mid_resize() {
    let t = Table::<u64, u64>::with_options(TableOptions { partitions: Some(1), capacity: 0 });
    let part = &t.partitions[0];
    let mut n = 0u64;
    while n < 5_000 || !part.root().resizing() {
        t.insert(n, n);
        n += 1;
    }
    let before = t.memory_bytes();
    for k in 0..n {
        assert_eq!(t.get(&k), Some(k), "key {k} mid-resize");
    }
    assert!(part.root().resizing(), "reads finished the resize");
    t.finish_resizes();
    assert!(!part.root().resizing());
    assert!(t.memory_bytes() < before, "{} bytes, {} before", t.memory_bytes(), before);
    assert_eq!(t.len(), n as usize);
    for k in 0..n {
        assert_eq!(t.get(&k), Some(k), "key {k}");
    }
}
