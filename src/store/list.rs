//! The list value type: a deque of compact byte strings.
//!
//! Redis 7.0 keeps every list in a quicklist (OBJECT ENCODING `quicklist`; listpack lists
//! arrived in 7.2). Here a list is a `VecDeque<CompactBytes>`: O(1) push/pop at both
//! ends and O(1) access by index, elements of up to 22 bytes stored inline (24 bytes per
//! element, no allocation), longer ones in one exact-size heap allocation.
//!
//! Must hold: `heap` is the sum of the elements' heap bytes (kept up to date by every
//! mutation, so `heap_size` is O(1)); the deque gives back memory when it drains (a list
//! that shrank to a quarter of its capacity is shrunk). Index arithmetic follows Redis:
//! negative indexes count from the tail (-1 is the last element).
//!
//! Imports only from `crate::store`.

use super::bytes::CompactBytes;
use std::collections::VecDeque;

/// Capacity below which a drained deque is not shrunk (shrinking small ones buys nothing).
const SHRINK_MIN_CAP: usize = 64;

/// A Redis list.
#[derive(Clone, Debug, Default)]
pub struct List {
    items: VecDeque<CompactBytes>,
    /// Sum of the elements' heap bytes (elements longer than the inline capacity).
    heap: usize,
}

impl List {
    pub fn new() -> List {
        List::default()
    }

    /// OBJECT ENCODING name, as Redis 7.0 reports it (every list is a quicklist).
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.items.len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Approximate heap bytes owned (MEMORY USAGE).
    pub fn heap_size(&self) -> usize {
        self.items.capacity() * std::mem::size_of::<CompactBytes>() + self.heap
    }

    /// Resolves a Redis index (negative counts from the tail) to a position.
    pub fn resolve(&self, index: i64) -> Option<usize> {
        let len = self.items.len() as i64;
        let i = if index < 0 { len.checked_add(index)? } else { index };
        (0..len).contains(&i).then_some(i as usize)
    }

    /// Redis's range normalization (LRANGE, LTRIM, POP with a count): the inclusive
    /// positions `start..=end`, or None for an empty range.
    pub fn range_of(&self, start: i64, end: i64) -> Option<(usize, usize)> {
        let len = self.items.len() as i64;
        let mut start = if start < 0 { len + start } else { start };
        let mut end = if end < 0 { len + end } else { end };
        if start < 0 {
            start = 0;
        }
        if start > end || start >= len {
            return None;
        }
        if end >= len {
            end = len - 1;
        }
        Some((start as usize, end as usize))
    }

    /// The element at position `pos` (0 is the head).
    pub fn get(&self, pos: usize) -> Option<&[u8]> {
        self.items.get(pos).map(|e| e.as_slice())
    }

    /// Elements from head to tail.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &[u8]> + ExactSizeIterator {
        self.items.iter().map(|e| e.as_slice())
    }

    /// Elements at positions `start..=end` (positions must be in range).
    pub fn range(&self, start: usize, end: usize) -> impl DoubleEndedIterator<Item = &[u8]> + ExactSizeIterator {
        self.items.range(start..=end).map(|e| e.as_slice())
    }

    fn make(&mut self, elem: &[u8]) -> CompactBytes {
        let e = CompactBytes::new(elem);
        self.heap += e.heap_size();
        e
    }

    fn forget(&mut self, e: &CompactBytes) {
        self.heap -= e.heap_size();
    }

    /// Pushes at the head (`left`) or the tail.
    pub fn push(&mut self, elem: &[u8], left: bool) {
        let e = self.make(elem);
        if left {
            self.items.push_front(e);
        } else {
            self.items.push_back(e);
        }
    }

    /// Pops from the head (`left`) or the tail.
    pub fn pop(&mut self, left: bool) -> Option<CompactBytes> {
        let e = if left { self.items.pop_front() } else { self.items.pop_back() }?;
        self.forget(&e);
        self.maybe_shrink();
        Some(e)
    }

    /// Replaces the element at `pos`; false if out of range.
    pub fn set(&mut self, pos: usize, elem: &[u8]) -> bool {
        if pos >= self.items.len() {
            return false;
        }
        let e = self.make(elem);
        let old = std::mem::replace(&mut self.items[pos], e);
        self.forget(&old);
        true
    }

    /// Inserts `elem` so that it ends up at position `pos` (`pos <= len`).
    pub fn insert(&mut self, pos: usize, elem: &[u8]) {
        let e = self.make(elem);
        self.items.insert(pos, e);
    }

    /// Position of the first element equal to `elem`, from the head.
    pub fn find(&self, elem: &[u8]) -> Option<usize> {
        self.items.iter().position(|e| e.as_slice() == elem)
    }

    /// Removes up to `count` elements equal to `elem` (0: all), scanning from the head,
    /// or from the tail when `from_tail`. Returns how many were removed.
    pub fn remove(&mut self, elem: &[u8], count: u64, from_tail: bool) -> usize {
        let limit = if count == 0 { u64::MAX } else { count };
        let is = |e: &CompactBytes| e.as_slice() == elem;
        let mut hits: Vec<usize> = Vec::new();
        if from_tail {
            for (i, e) in self.items.iter().enumerate().rev() {
                if is(e) {
                    hits.push(i);
                    if hits.len() as u64 == limit {
                        break;
                    }
                }
            }
            hits.reverse();
        } else {
            for (i, e) in self.items.iter().enumerate() {
                if is(e) {
                    hits.push(i);
                    if hits.len() as u64 == limit {
                        break;
                    }
                }
            }
        }
        let (Some(&lo), Some(&hi)) = (hits.first(), hits.last()) else {
            return 0;
        };
        if hits.len() <= 8 {
            // A few hits: shift the shorter side for each (memmove, no scan).
            for &p in hits.iter().rev() {
                if let Some(e) = self.items.remove(p) {
                    self.heap -= e.heap_size();
                }
            }
        } else {
            // Many: one compacting pass over the span they cover.
            let (mut i, mut freed) = (0, 0);
            self.items.retain(|e| {
                let gone = i >= lo && i <= hi && is(e);
                if gone {
                    freed += e.heap_size();
                }
                i += 1;
                !gone
            });
            self.heap -= freed;
        }
        self.maybe_shrink();
        hits.len()
    }

    /// Removes `ltrim` elements from the head and `rtrim` from the tail.
    pub fn trim(&mut self, ltrim: usize, rtrim: usize) {
        let len = self.items.len();
        if ltrim + rtrim >= len {
            self.items.clear();
            self.heap = 0;
            self.maybe_shrink();
            return;
        }
        let mut freed = 0;
        for e in self.items.drain(len - rtrim..) {
            freed += e.heap_size();
        }
        for e in self.items.drain(..ltrim) {
            freed += e.heap_size();
        }
        self.heap -= freed;
        self.maybe_shrink();
    }

    /// Gives memory back once the deque uses under a quarter of its capacity.
    fn maybe_shrink(&mut self) {
        let cap = self.items.capacity();
        if cap > SHRINK_MIN_CAP && self.items.len() * 4 < cap {
            self.items.shrink_to((self.items.len() * 2).max(SHRINK_MIN_CAP / 2));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> List {
        let mut l = List::new();
        for i in items {
            l.push(i.as_bytes(), false);
        }
        l
    }

    fn strs(l: &List) -> Vec<String> {
        l.iter().map(|e| String::from_utf8_lossy(e).into_owned()).collect()
    }

    #[test]
    fn push_pop_both_ends() {
        let mut l = List::new();
        l.push(b"b", true);
        l.push(b"a", true);
        l.push(b"c", false);
        assert_eq!(strs(&l), ["a", "b", "c"]);
        assert_eq!(l.pop(true).unwrap().as_slice(), b"a");
        assert_eq!(l.pop(false).unwrap().as_slice(), b"c");
        assert_eq!(l.len(), 1);
        assert_eq!(l.encoding(), "quicklist");
    }

    #[test]
    fn indexes_and_ranges_follow_redis() {
        let l = list(&["a", "b", "c", "d"]);
        assert_eq!(l.resolve(0), Some(0));
        assert_eq!(l.resolve(-1), Some(3));
        assert_eq!(l.resolve(-4), Some(0));
        assert_eq!(l.resolve(-5), None);
        assert_eq!(l.resolve(4), None);
        assert_eq!(l.resolve(i64::MIN), None);
        assert_eq!(l.range_of(0, -1), Some((0, 3)));
        assert_eq!(l.range_of(-100, 100), Some((0, 3)));
        assert_eq!(l.range_of(2, 1), None);
        assert_eq!(l.range_of(4, 10), None);
        assert_eq!(l.range_of(i64::MIN, i64::MAX), Some((0, 3)));
        assert_eq!(l.range_of(-2, -1), Some((2, 3)));
    }

    #[test]
    fn heap_accounting_tracks_long_elements() {
        let long = [b'x'; 100];
        let mut l = List::new();
        l.push(&long, false);
        l.push(b"short", false);
        assert_eq!(l.heap, 100);
        l.set(1, &long);
        assert_eq!(l.heap, 200);
        l.set(0, b"s");
        assert_eq!(l.heap, 100);
        l.insert(0, &long);
        assert_eq!(l.remove(&long, 0, false), 2);
        assert_eq!(l.heap, 0);
        for _ in 0..10 {
            l.push(&long, true);
        }
        l.trim(3, 4);
        assert_eq!(l.len(), 4);
        assert_eq!(l.heap, 400);
        l.trim(10, 0);
        assert_eq!(l.heap, 0);
        assert!(l.is_empty());
    }

    #[test]
    fn remove_counts_and_directions() {
        let mut l = list(&["a", "x", "b", "x", "c", "x"]);
        assert_eq!(l.remove(b"x", 1, true), 1);
        assert_eq!(strs(&l), ["a", "x", "b", "x", "c"]);
        assert_eq!(l.remove(b"x", 1, false), 1);
        assert_eq!(strs(&l), ["a", "b", "x", "c"]);
        assert_eq!(l.remove(b"nope", 0, false), 0);
        assert_eq!(l.remove(b"x", 0, false), 1);
        assert_eq!(strs(&l), ["a", "b", "c"]);
    }

    #[test]
    fn drained_lists_shrink() {
        let mut l = List::new();
        for i in 0..10_000 {
            l.push(format!("{i}").as_bytes(), false);
        }
        while l.len() > 10 {
            l.pop(true);
        }
        assert!(l.items.capacity() <= 4 * SHRINK_MIN_CAP);
    }
}
