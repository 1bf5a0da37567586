//! The stream type (Redis's `OBJ_STREAM`): entries ordered by id `(ms, seq)`.
//!
//! Must hold:
//! - `last_id` is never smaller than the id of any entry; `entries_added` counts every
//!   entry ever appended (or the XSETID value); `max_deleted_id` is the largest id XDEL
//!   removed (or the XSETID value);
//! - an empty stream is a valid value and is never deleted for being empty;
//! - `nodes` mirrors Redis's radix-tree nodes as far as `~` trimming can observe them:
//!   a node is started by the first append after the previous node received
//!   `NODE_MAX_ENTRIES` appends (live or deleted), and disappears when its last live entry
//!   is deleted. Redis also splits nodes at `stream-node-max-bytes` (4096), which is not
//!   modelled: `~` trimming of streams with large entries may remove fewer entries.

use std::collections::BTreeMap;

/// Redis's default `stream-node-max-entries`.
pub const NODE_MAX_ENTRIES: u32 = 100;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId { ms: u64::MAX, seq: u64::MAX };

    pub const fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }
    /// The next id (Redis's streamIncrID); None past the maximum.
    pub fn incr(self) -> Option<StreamId> {
        if self.seq == u64::MAX {
            if self.ms == u64::MAX {
                return None;
            }
            Some(StreamId::new(self.ms + 1, 0))
        } else {
            Some(StreamId::new(self.ms, self.seq + 1))
        }
    }
    /// The previous id (Redis's streamDecrID); None before 0-0.
    pub fn decr(self) -> Option<StreamId> {
        if self.seq == 0 {
            if self.ms == 0 {
                return None;
            }
            Some(StreamId::new(self.ms - 1, u64::MAX))
        } else {
            Some(StreamId::new(self.ms, self.seq - 1))
        }
    }
    pub fn is_zero(self) -> bool {
        self == StreamId::MIN
    }
    pub fn to_bytes(self) -> Vec<u8> {
        format!("{}-{}", self.ms, self.seq).into_bytes()
    }
}

#[derive(Clone, Copy, Debug)]
struct Node {
    /// Entries ever appended to this node (live + deleted).
    appended: u32,
    live: u32,
}

/// How XADD / XTRIM trim (Redis's streamAddTrimArgs, resolved).
#[derive(Clone, Copy, Debug)]
pub enum Trim {
    MaxLen(u64),
    MinId(StreamId),
}

#[derive(Clone, Debug, Default)]
pub struct Stream {
    /// Entry id -> flat `field, value, field, value, ...`.
    entries: BTreeMap<StreamId, Vec<Vec<u8>>>,
    /// Node master id -> node bookkeeping (see the module docs).
    nodes: BTreeMap<StreamId, Node>,
    pub last_id: StreamId,
    pub entries_added: u64,
    pub max_deleted_id: StreamId,
}

impl Stream {
    pub fn new() -> Stream {
        Stream::default()
    }
    pub fn len(&self) -> usize {
        self.entries.len()
    }
    /// Always false: Redis keeps empty streams (see `Collection for Stream`).
    pub fn is_empty(&self) -> bool {
        false
    }
    pub fn has_entries(&self) -> bool {
        !self.entries.is_empty()
    }
    pub fn first_id(&self) -> StreamId {
        self.entries.keys().next().copied().unwrap_or_default()
    }
    /// The id of the last live entry (Redis's streamLastValidID), 0-0 if none.
    pub fn last_entry_id(&self) -> StreamId {
        self.entries.keys().next_back().copied().unwrap_or_default()
    }

    /// Appends an entry with `id` (which the caller checked is > `last_id`).
    pub fn append(&mut self, id: StreamId, fields: Vec<Vec<u8>>) {
        match self.nodes.iter_mut().next_back() {
            Some((_, n)) if n.appended < NODE_MAX_ENTRIES => {
                n.appended += 1;
                n.live += 1;
            }
            _ => {
                self.nodes.insert(id, Node { appended: 1, live: 1 });
            }
        }
        self.entries.insert(id, fields);
        self.last_id = id;
        self.entries_added += 1;
    }

    fn node_of(&self, id: StreamId) -> Option<StreamId> {
        self.nodes.range(..=id).next_back().map(|(k, _)| *k)
    }

    /// Deletes one entry; true if it existed.
    pub fn delete(&mut self, id: StreamId) -> bool {
        if self.entries.remove(&id).is_none() {
            return false;
        }
        if let Some(nk) = self.node_of(id) {
            if let Some(n) = self.nodes.get_mut(&nk) {
                n.live -= 1;
                if n.live == 0 {
                    self.nodes.remove(&nk);
                }
            }
        }
        true
    }

    /// Entries with `start <= id <= end`, ascending or descending, at most `count`
    /// (0: no limit).
    pub fn range(&self, start: StreamId, end: StreamId, rev: bool, count: usize) -> Vec<(StreamId, &Vec<Vec<u8>>)> {
        if start > end {
            return Vec::new();
        }
        let it = self.entries.range(start..=end).map(|(k, v)| (*k, v));
        let limit = if count == 0 { usize::MAX } else { count };
        if rev {
            it.rev().take(limit).collect()
        } else {
            it.take(limit).collect()
        }
    }

    /// Redis's streamTrim: whole nodes go first; with `approx` trimming stops at the
    /// first node that cannot go entirely. `limit` caps the entries removed (0: none).
    /// Returns the number of entries removed.
    pub fn trim(&mut self, how: Trim, approx: bool, limit: u64) -> u64 {
        let mut deleted: u64 = 0;
        loop {
            if let Trim::MaxLen(max) = how {
                if self.len() as u64 <= max {
                    break;
                }
            }
            let Some((&master, &node)) = self.nodes.iter().next() else { break };
            let entries = node.live as u64;
            if limit != 0 && deleted + entries > limit {
                break;
            }
            let next_master = self.nodes.range(master..).nth(1).map(|(k, _)| *k);
            let node_ids: Vec<StreamId> = match next_master {
                Some(nm) => self.entries.range(master..nm).map(|(k, _)| *k).collect(),
                None => self.entries.range(master..).map(|(k, _)| *k).collect(),
            };
            let remove_node = match how {
                Trim::MaxLen(max) => self.len() as u64 - entries >= max,
                Trim::MinId(min) => node_ids.last().is_some_and(|l| *l < min),
            };
            if remove_node {
                for id in &node_ids {
                    self.entries.remove(id);
                }
                self.nodes.remove(&master);
                deleted += entries;
                continue;
            }
            if approx {
                break;
            }
            // Trim entries from within the node, in order.
            for id in node_ids {
                let stop = match how {
                    Trim::MaxLen(max) => self.len() as u64 <= max,
                    Trim::MinId(min) => id >= min,
                };
                if stop {
                    break;
                }
                self.entries.remove(&id);
                if let Some(n) = self.nodes.get_mut(&master) {
                    n.live -= 1;
                }
                deleted += 1;
            }
            break;
        }
        deleted
    }

    /// Approximate heap bytes (MEMORY USAGE).
    pub fn heap_size(&self) -> usize {
        let per_entry = std::mem::size_of::<(StreamId, Vec<Vec<u8>>)>() + 16;
        let data: usize = self
            .entries
            .values()
            .map(|f| per_entry + f.iter().map(|x| x.capacity() + std::mem::size_of::<Vec<u8>>()).sum::<usize>())
            .sum();
        data + self.nodes.len() * 48 + std::mem::size_of::<Stream>()
    }
}

impl super::value::Collection for Stream {
    fn of(v: &super::Value) -> Option<&Self> {
        match v {
            super::Value::Stream(c) => Some(c),
            _ => None,
        }
    }
    fn of_mut(v: &mut super::Value) -> Option<&mut Self> {
        match v {
            super::Value::Stream(c) => Some(c),
            _ => None,
        }
    }
    fn into_value(self) -> super::Value {
        super::Value::Stream(Box::new(self))
    }
    /// Redis never deletes a stream for being empty.
    fn is_empty_coll(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(n: u64) -> Stream {
        let mut s = Stream::new();
        for i in 1..=n {
            s.append(StreamId::new(i, 0), vec![b"f".to_vec(), b"v".to_vec()]);
        }
        s
    }

    #[test]
    fn exact_and_approx_trim() {
        let mut s = filled(250);
        assert_eq!(s.trim(Trim::MaxLen(240), true, 0), 0);
        assert_eq!(s.trim(Trim::MaxLen(140), true, 0), 100);
        assert_eq!(s.len(), 150);
        assert_eq!(s.trim(Trim::MaxLen(10), false, 0), 140);
        assert_eq!(s.first_id(), StreamId::new(241, 0));
        assert_eq!(s.trim(Trim::MinId(StreamId::new(245, 0)), false, 0), 4);
        assert_eq!(s.len(), 6);
    }

    #[test]
    fn ids_step() {
        assert_eq!(StreamId::new(1, u64::MAX).incr(), Some(StreamId::new(2, 0)));
        assert_eq!(StreamId::MAX.incr(), None);
        assert_eq!(StreamId::MIN.decr(), None);
        assert_eq!(StreamId::new(2, 0).decr(), Some(StreamId::new(1, u64::MAX)));
    }
}
