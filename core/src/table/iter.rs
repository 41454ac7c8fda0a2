//! Traversal in hash-position order: [`Table::scan`], one short batch per
//! pin, and the [`Iter`] cursor built on it. Both survive resizes between
//! batches and never keep the thread pinned while the caller runs.

use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash};

use super::group::{match_empty, COPIED, DELETED, PTR};
use super::probe::entry;
use super::{Table, WIDTH};
use crate::primitive::pin;
use crate::HeapSize;

/// Home groups read per [`Iter`] batch.
const BATCH_GROUPS: usize = if cfg!(loom) { 1 } else { 32 };

/// A place in a table's traversal order: a partition and a hash position
/// inside it. Every key has one ([`Table::cursor_of`]); it depends only on
/// the key and the table's hasher, never on the table's size, so the order
/// of two keys (their cursors, then whatever tie-break the caller picks for
/// equal cursors) never changes while both are in the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cursor {
    part: usize,
    pos: u64,
}

impl Cursor {
    /// The start of the traversal: before every key.
    pub const START: Cursor = Cursor { part: 0, pos: 0 };

    /// The partition and hash position, to keep a place in a walk outside
    /// the table (a continuation handed to a caller).
    pub fn parts(self) -> (usize, u64) {
        (self.part, self.pos)
    }

    /// The cursor of [`Cursor::parts`]. Any values are a place: a partition
    /// past the table's last one is its end.
    pub fn from_parts(part: usize, pos: u64) -> Cursor {
        Cursor { part, pos }
    }
}

/// How far a [`Table::scan`] got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scan {
    /// Every entry with a cursor in `[from, to)` was visited; continue at `to`.
    More(Cursor),
    /// Every entry from `from` to the end of the table was visited.
    End,
    /// The partition at `from` is being resized and the caller asked not to
    /// help finish it: nothing was visited.
    Busy,
}

impl<K, V, S> Table<K, V, S>
where
    K: Hash + Eq + HeapSize,
    V: HeapSize,
    S: BuildHasher + Clone,
{
    /// Where `key` sits in traversal order (whether or not it is present).
    pub fn cursor_of<Q>(&self, key: &Q) -> Cursor
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let h = self.hashed(key);
        Cursor { part: h.part, pos: h.pos }
    }

    /// Visits, under one short pin, the live entries whose cursor lies in
    /// `[from, to)`, where `to` is at most `groups` home groups past `from`
    /// and never past the end of `from`'s partition; `f` gets each entry's
    /// cursor, key and value (in table order, not cursor order) and must be
    /// short. Entries present for the whole call are visited exactly once;
    /// entries added or removed meanwhile may or may not be.
    ///
    /// A partition whose resize is under way is finished first when
    /// `help_resize` is set (copying up to the whole partition); otherwise
    /// the call returns [`Scan::Busy`] without visiting anything, so that a
    /// caller with a latency bound can hand the work to a thread without one.
    pub fn scan(
        &self,
        from: Cursor,
        groups: usize,
        help_resize: bool,
        mut f: impl FnMut(Cursor, &K, &V),
    ) -> Scan {
        let Some(part) = self.partitions.get(from.part) else { return Scan::End };
        let guard = pin();
        // Read a table no resize is filling: entries still only in `next`
        // would otherwise be missed.
        let t = loop {
            let t = part.root();
            if !t.resizing() {
                break t;
            }
            if !help_resize {
                return Scan::Busy;
            }
            self.finish(part, t, &guard);
        };
        let first = t.home(from.pos);
        let last = first.saturating_add(groups.max(1)).min(t.len());
        let end = t.start_of(last);
        let cursor = |pos| Cursor { part: from.part, pos };
        // Entries whose home is in [first, last) sit from `first` up to the
        // first group past `last - 1` that has a never-claimed lane.
        for g in (first..).take(t.len()) {
            let group = t.group(g);
            let ctrl = group.ctrl();
            for slot in &group.slots {
                let word = slot.load(crate::primitive::Ordering::Acquire);
                if word & PTR == 0 || word & DELETED != 0 {
                    continue;
                }
                // SAFETY: non-null word from a table reachable under our pin.
                let e = unsafe { entry::<K, V>(word) };
                let pos = self.hashed(&e.key).pos;
                if pos < from.pos || end.is_some_and(|end| pos >= end) {
                    continue;
                }
                if word & COPIED != 0 {
                    // A resize started meanwhile and moved it: read it there.
                    if let Some(now) = self.lookup(&e.key, &guard) {
                        f(cursor(pos), &now.key, &now.value);
                    }
                } else {
                    f(cursor(pos), &e.key, &e.value);
                }
            }
            if g + 1 >= last && !match_empty(ctrl).is_empty() {
                break;
            }
        }
        match end {
            Some(pos) => Scan::More(cursor(pos)),
            None if from.part + 1 < self.partitions.len() => {
                Scan::More(Cursor { part: from.part + 1, pos: 0 })
            }
            None => Scan::End,
        }
    }
}

/// Iterator returned by [`Table::iter`].
///
/// The cursor is a hash position inside a partition: positions do not depend
/// on the table size, so when a resize replaces a partition's table between
/// two batches the walk continues where it stopped.
pub struct Iter<'a, K, V, S> {
    table: &'a Table<K, V, S>,
    /// Where the next batch starts; `None` at the end.
    cursor: Option<Cursor>,
    batch: std::vec::IntoIter<(K, V)>,
}

impl<'a, K, V, S> Iter<'a, K, V, S>
where
    K: Hash + Eq + HeapSize + Clone,
    V: HeapSize + Clone,
    S: BuildHasher + Clone,
{
    pub(super) fn new(table: &'a Table<K, V, S>) -> Self {
        Iter { table, cursor: Some(Cursor::START), batch: Vec::new().into_iter() }
    }

    /// Collects the next non-empty batch; `false` at the end.
    fn fill(&mut self) -> bool {
        while let Some(from) = self.cursor {
            let mut out = Vec::with_capacity(BATCH_GROUPS * WIDTH);
            self.cursor =
                match self.table.scan(from, BATCH_GROUPS, true, |_, k, v| out.push((k.clone(), v.clone()))) {
                    Scan::More(to) => Some(to),
                    Scan::End => None,
                    Scan::Busy => unreachable!("a scan that helps resizes is never busy"),
                };
            if !out.is_empty() {
                self.batch = out.into_iter();
                return true;
            }
        }
        false
    }
}

impl<K, V, S> Iterator for Iter<'_, K, V, S>
where
    K: Hash + Eq + HeapSize + Clone,
    V: HeapSize + Clone,
    S: BuildHasher + Clone,
{
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
