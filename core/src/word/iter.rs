//! The cursor iterator: walks each partition in hash-position order, one
//! short batch per reader section (the boxed table's `Iter` does the same
//! with epoch pins).

use std::hash::BuildHasher;

use super::slot::{match_empty, COPIED, KEYED, LIVE, WIDTH};
use super::{Word, WordTable};

/// Home groups read per batch.
const BATCH_GROUPS: usize = if cfg!(loom) { 1 } else { 32 };

/// Iterator returned by [`WordTable::iter`].
///
/// The cursor is a hash position inside a partition: positions do not depend
/// on the table size, so when a resize replaces a partition's table between
/// two batches the walk continues where it stopped.
pub struct WordIter<'a, K, V, S> {
    table: &'a WordTable<K, V, S>,
    part: usize,
    /// Next position to read in `part`; `None` once the partition is done.
    cursor: Option<u64>,
    batch: std::vec::IntoIter<(K, V)>,
}

impl<'a, K: Word, V: Word, S: BuildHasher> WordIter<'a, K, V, S> {
    pub(super) fn new(table: &'a WordTable<K, V, S>) -> Self {
        WordIter { table, part: 0, cursor: Some(0), batch: Vec::new().into_iter() }
    }

    /// Collects the next non-empty batch; `false` at the end.
    fn fill(&mut self) -> bool {
        let table = self.table;
        while self.part < table.partitions.len() {
            let Some(from) = self.cursor else {
                self.part += 1;
                self.cursor = Some(0);
                continue;
            };
            let guard = table.pin();
            let part = &table.partitions[self.part];
            // Read a table no resize is filling: help the current one finish
            // (entries still only in `next` would otherwise be missed).
            let t = loop {
                let t = part.root();
                if !t.resizing() {
                    break t;
                }
                table.finish(part, t, &guard);
            };
            let first = t.home(from);
            let last = (first + BATCH_GROUPS).min(t.len());
            let end = t.start_of(last);
            let mut out = Vec::with_capacity(BATCH_GROUPS * WIDTH);
            // Entries whose home is in [first, last) sit from `first` up to
            // the first group past `last - 1` that has a never-claimed lane.
            for g in first..first + t.len() {
                let group = t.group(g);
                let ctrl = group.ctrl();
                for lane in 0..WIDTH {
                    let (state, value) = group.pairs[lane].load();
                    if state & (KEYED | LIVE) != KEYED | LIVE {
                        continue;
                    }
                    let key = group.key(lane);
                    let h = table.hashed(key);
                    let pos = h.pos;
                    if pos < from || end.is_some_and(|end| pos >= end) {
                        continue;
                    }
                    if state & COPIED != 0 {
                        // A resize started meanwhile and moved it: read it there.
                        if let Some(now) = table.lookup(key, h) {
                            out.push((K::from_bits(key), V::from_bits(now)));
                        }
                    } else {
                        out.push((K::from_bits(key), V::from_bits(value)));
                    }
                }
                if g + 1 >= last && !match_empty(ctrl).is_empty() {
                    break;
                }
            }
            drop(guard);
            self.cursor = end;
            if !out.is_empty() {
                self.batch = out.into_iter();
                return true;
            }
        }
        false
    }
}

impl<K: Word, V: Word, S: BuildHasher> Iterator for WordIter<'_, K, V, S> {
    type Item = (K, V);

    fn next(&mut self) -> Option<(K, V)> {
        loop {
            if let Some(item) = self.batch.next() {
                return Some(item);
            }
            if !self.fill() {
                return None;
            }
        }
    }
}
