//! The stream type (Redis's `OBJ_STREAM`): entries ordered by id `(ms, seq)`, packed
//! into nodes like Redis's listpacks, plus consumer groups with their pending entries.
//!
//! Storage: `nodes` maps a node's master id (the id of the first entry appended to it)
//! to a [`Node`], a byte buffer holding the master field names and then the entries in id
//! order, each `flags, ms - master.ms, seq, [field count], strings...` with LEB128 varints
//! (see [`Node`]). An entry whose field names equal the master's stores only its values
//! (Redis's SAMEFIELDS), so a small entry costs a few bytes. Deletion only sets the entry's
//! DELETED flag, as in Redis.
//!
//! Must hold:
//! - `len` is the number of live (not deleted) entries over all nodes;
//! - `last_id` is never smaller than the id of any entry; `entries_added` counts every
//!   entry ever appended (or the XSETID value); `max_deleted_id` is the largest id XDEL
//!   removed (or the XSETID value);
//! - an empty stream is a valid value and is never deleted for being empty;
//! - node boundaries are Redis's: a new node starts when the last node would reach
//!   `stream-node-max-bytes` of Redis listpack encoding (`Node::lp_bytes` computes that
//!   size exactly) or already holds `stream-node-max-entries` entries (live or deleted);
//!   a node goes when XDEL deletes its last live entry or a trim removes it whole. So `~`
//!   trimming and XINFO's radix-tree-keys agree with Redis. (An exact MINID trim can leave
//!   a node with only deleted entries, as Redis does.)
//! - consumer groups: every id in a consumer's `pel` is in its group's `pel` with a
//!   [`Nack`] naming that consumer, and every group `pel` entry is in its consumer's `pel`.

use super::num::{get_varint, put_varint};
use super::parse_i64_strict;
use std::collections::{BTreeMap, BTreeSet};

/// Redis's default `stream-node-max-entries`.
pub const NODE_MAX_ENTRIES: u64 = 100;
/// Redis's default `stream-node-max-bytes`.
pub const NODE_MAX_BYTES: u64 = 4096;
/// Redis's STREAM_LISTPACK_MAX_SIZE: the node size cap when max-bytes is 0 or larger.
const LISTPACK_MAX_SIZE: u64 = 1 << 30;
/// Redis's SCG_INVALID_ENTRIES_READ.
pub const INVALID_ENTRIES_READ: i64 = -1;

const F_DELETED: u8 = 1;
const F_SAMEFIELDS: u8 = 2;

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

/// When XADD starts a new node (`stream-node-max-bytes`, `stream-node-max-entries`).
#[derive(Clone, Copy, Debug)]
pub struct NodeLimits {
    pub max_bytes: u64,
    pub max_entries: u64,
}

impl Default for NodeLimits {
    fn default() -> NodeLimits {
        NodeLimits { max_bytes: NODE_MAX_BYTES, max_entries: NODE_MAX_ENTRIES }
    }
}

// --- Redis listpack sizes (for stream-node-max-bytes) ---------------------------------

/// Bytes of a listpack element's back-length for an element of `n` bytes.
fn lp_backlen(n: u64) -> u64 {
    match n {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    }
}

/// Bytes Redis's listpack uses for the integer `v` (encoding + back-length).
fn lp_int(v: i64) -> u64 {
    match v {
        0..=127 => 2,
        -4096..=4095 => 3,
        -32768..=32767 => 4,
        -8388608..=8388607 => 5,
        -2147483648..=2147483647 => 6,
        _ => 10,
    }
}

/// Bytes Redis's listpack uses for the string `s` (stored as an integer if it is one).
fn lp_str(s: &[u8]) -> u64 {
    if let Some(v) = parse_i64_strict(s) {
        return lp_int(v);
    }
    let n = s.len() as u64;
    let enc = if n < 64 {
        1 + n
    } else if n < 4096 {
        2 + n
    } else {
        5 + n
    };
    enc + lp_backlen(enc)
}

/// One packed node. `buf` = master field names (`varint len, bytes` each), then entries:
/// `flags: u8, varint ms - master.ms, varint seq, [varint string count if not SAMEFIELDS],
/// strings (varint len, bytes)`.
#[derive(Clone, Debug)]
struct Node {
    live: u32,
    deleted: u32,
    nmaster: u32,
    /// Where the entries start in `buf`.
    start: u32,
    /// Redis's listpack bytes for this node, without the live/deleted counters.
    lp_fixed: u64,
    buf: Vec<u8>,
}

/// A decoded entry header inside a node.
#[derive(Clone, Copy, Debug)]
struct Raw {
    id: StreamId,
    /// Offset of the flags byte.
    at: usize,
    flags: u8,
    /// Offset of the first string (after the optional count).
    strings: usize,
    /// Number of strings stored.
    nstrings: usize,
    /// Offset just past the entry.
    end: usize,
}

fn skip_string(buf: &[u8], p: usize) -> usize {
    let (n, p) = get_varint(buf, p);
    p + n as usize
}

fn read_string(buf: &[u8], p: usize) -> (&[u8], usize) {
    let (n, p) = get_varint(buf, p);
    let e = p + n as usize;
    (&buf[p..e], e)
}

fn put_string(s: &[u8], out: &mut Vec<u8>) {
    put_varint(s.len() as u64, out);
    out.extend_from_slice(s);
}

impl Node {
    fn new(fields: &[&[u8]]) -> Node {
        let mut buf = Vec::new();
        let mut lp_fixed = 7 + lp_int(fields.len() as i64) + lp_int(0);
        for f in fields {
            put_string(f, &mut buf);
            lp_fixed += lp_str(f);
        }
        let start = buf.len() as u32;
        Node { live: 0, deleted: 0, nmaster: fields.len() as u32, start, lp_fixed, buf }
    }

    fn lp_bytes(&self) -> u64 {
        self.lp_fixed + lp_int(self.live as i64) + lp_int(self.deleted as i64)
    }

    fn master_fields(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let mut p = 0;
        (0..self.nmaster).map(move |_| {
            let (s, e) = read_string(&self.buf, p);
            p = e;
            s
        })
    }

    fn same_fields(&self, fields: &[&[u8]]) -> bool {
        fields.len() == self.nmaster as usize && self.master_fields().zip(fields).all(|(a, b)| a == *b)
    }

    fn push(&mut self, master: StreamId, id: StreamId, pairs: &[&[u8]]) {
        let fields: Vec<&[u8]> = pairs.iter().step_by(2).copied().collect();
        let same = self.same_fields(&fields);
        let ms_delta = id.ms.wrapping_sub(master.ms);
        let seq_delta = id.seq.wrapping_sub(master.seq) as i64;
        self.buf.push(if same { F_SAMEFIELDS } else { 0 });
        put_varint(ms_delta, &mut self.buf);
        put_varint(id.seq, &mut self.buf);
        let numfields = fields.len() as i64;
        let mut lp = lp_int(0) + lp_int(ms_delta as i64) + lp_int(seq_delta);
        let mut lp_count = numfields + 3;
        if same {
            for v in pairs.iter().skip(1).step_by(2) {
                put_string(v, &mut self.buf);
                lp += lp_str(v);
            }
        } else {
            put_varint(pairs.len() as u64, &mut self.buf);
            lp += lp_int(numfields);
            lp_count += numfields + 1;
            for s in pairs {
                put_string(s, &mut self.buf);
                lp += lp_str(s);
            }
        }
        lp += lp_int(lp_count);
        self.lp_fixed += lp;
        self.live += 1;
    }

    /// The entry starting at `p` (None at the end of the node).
    fn entry_at(&self, master: StreamId, p: usize) -> Option<Raw> {
        if p >= self.buf.len() {
            return None;
        }
        let flags = self.buf[p];
        let (ms_delta, q) = get_varint(&self.buf, p + 1);
        let (seq, mut q) = get_varint(&self.buf, q);
        let nstrings = if flags & F_SAMEFIELDS != 0 {
            self.nmaster as usize
        } else {
            let (n, r) = get_varint(&self.buf, q);
            q = r;
            n as usize
        };
        let strings = q;
        for _ in 0..nstrings {
            q = skip_string(&self.buf, q);
        }
        let id = StreamId::new(master.ms.wrapping_add(ms_delta), seq);
        Some(Raw { id, at: p, flags, strings, nstrings, end: q })
    }

    /// All entries (live and deleted) in order.
    fn entries(&self, master: StreamId) -> impl Iterator<Item = Raw> + '_ {
        let mut p = self.start as usize;
        std::iter::from_fn(move || {
            let r = self.entry_at(master, p)?;
            p = r.end;
            Some(r)
        })
    }

    fn fields(&self, r: &Raw) -> Vec<Vec<u8>> {
        let mut out = Vec::with_capacity(if r.flags & F_SAMEFIELDS != 0 { r.nstrings * 2 } else { r.nstrings });
        let mut p = r.strings;
        if r.flags & F_SAMEFIELDS != 0 {
            for f in self.master_fields() {
                let (v, e) = read_string(&self.buf, p);
                p = e;
                out.push(f.to_vec());
                out.push(v.to_vec());
            }
        } else {
            for _ in 0..r.nstrings {
                let (s, e) = read_string(&self.buf, p);
                p = e;
                out.push(s.to_vec());
            }
        }
        out
    }

    fn mark_deleted(&mut self, r: &Raw) {
        self.buf[r.at] |= F_DELETED;
        self.live -= 1;
        self.deleted += 1;
    }
}

/// How XADD / XTRIM trim (Redis's streamAddTrimArgs, resolved).
#[derive(Clone, Copy, Debug)]
pub enum Trim {
    MaxLen(u64),
    MinId(StreamId),
}

/// A pending (delivered, not yet acknowledged) entry of a group (Redis's streamNACK).
#[derive(Clone, Debug)]
pub struct Nack {
    /// Unix ms of the last delivery.
    pub delivery_time: i64,
    pub delivery_count: u64,
    pub consumer: Vec<u8>,
}

#[derive(Clone, Debug, Default)]
pub struct Consumer {
    /// Unix ms of the last interaction (Redis's seen_time).
    pub seen_time: i64,
    pub pel: BTreeSet<StreamId>,
}

/// A consumer group (Redis's streamCG).
#[derive(Clone, Debug)]
pub struct Group {
    pub last_id: StreamId,
    /// Logical reads counter, or [`INVALID_ENTRIES_READ`].
    pub entries_read: i64,
    pub pel: BTreeMap<StreamId, Nack>,
    pub consumers: BTreeMap<Vec<u8>, Consumer>,
}

impl Group {
    pub fn new(last_id: StreamId, entries_read: i64) -> Group {
        Group { last_id, entries_read, pel: BTreeMap::new(), consumers: BTreeMap::new() }
    }

    /// The consumer `name`, created (seen now) if missing; seen now when `refresh`.
    pub fn consumer(&mut self, name: &[u8], now: i64, refresh: bool) -> &mut Consumer {
        if !self.consumers.contains_key(name) {
            self.consumers.insert(name.to_vec(), Consumer { seen_time: now, pel: BTreeSet::new() });
        }
        let c = self.consumers.get_mut(name).expect("inserted above");
        if refresh {
            c.seen_time = now;
        }
        c
    }

    /// Creates a consumer; false if it exists.
    pub fn create_consumer(&mut self, name: &[u8], now: i64) -> bool {
        if self.consumers.contains_key(name) {
            return false;
        }
        self.consumers.insert(name.to_vec(), Consumer { seen_time: now, pel: BTreeSet::new() });
        true
    }

    /// Deletes a consumer and its pending entries; returns how many it had.
    pub fn delete_consumer(&mut self, name: &[u8]) -> Option<usize> {
        let c = self.consumers.remove(name)?;
        for id in &c.pel {
            self.pel.remove(id);
        }
        Some(c.pel.len())
    }

    /// Records a delivery of `id` to `consumer` by XREADGROUP: a new NACK, or the existing
    /// one moved to `consumer` with its counter reset to 1.
    pub fn deliver(&mut self, id: StreamId, consumer: &[u8], now: i64) {
        let nack = Nack { delivery_time: now, delivery_count: 1, consumer: consumer.to_vec() };
        if let Some(old) = self.pel.insert(id, nack) {
            if let Some(c) = self.consumers.get_mut(&old.consumer) {
                c.pel.remove(&id);
            }
        }
        if let Some(c) = self.consumers.get_mut(consumer) {
            c.pel.insert(id);
        }
    }

    /// Removes `id` from the PELs (XACK, or a claim of a deleted entry); true if pending.
    pub fn ack(&mut self, id: StreamId) -> bool {
        let Some(nack) = self.pel.remove(&id) else { return false };
        if let Some(c) = self.consumers.get_mut(&nack.consumer) {
            c.pel.remove(&id);
        }
        true
    }

    /// Moves the pending `id` to `consumer` (which must exist) without touching the
    /// counters; creates the NACK (count 1, delivered `now`) if there is none.
    pub fn assign(&mut self, id: StreamId, consumer: &[u8], now: i64) -> &mut Nack {
        let old = self.pel.get(&id).map(|n| n.consumer.clone());
        match old {
            Some(o) if o == consumer => {}
            Some(o) => {
                if let Some(c) = self.consumers.get_mut(&o) {
                    c.pel.remove(&id);
                }
            }
            None => {
                self.pel.insert(id, Nack { delivery_time: now, delivery_count: 1, consumer: Vec::new() });
            }
        }
        if let Some(c) = self.consumers.get_mut(consumer) {
            c.pel.insert(id);
        }
        let n = self.pel.get_mut(&id).expect("present or inserted above");
        if n.consumer != consumer {
            n.consumer = consumer.to_vec();
        }
        n
    }
}

#[derive(Clone, Debug, Default)]
pub struct Stream {
    /// Node master id -> node (see the module docs).
    nodes: BTreeMap<StreamId, Node>,
    len: usize,
    pub last_id: StreamId,
    pub entries_added: u64,
    pub max_deleted_id: StreamId,
    /// Consumer groups by name (byte order, like Redis's rax).
    pub groups: BTreeMap<Vec<u8>, Group>,
}

impl Stream {
    pub fn new() -> Stream {
        Stream::default()
    }
    pub fn len(&self) -> usize {
        self.len
    }
    /// Always false: Redis keeps empty streams (see `Collection for Stream`).
    pub fn is_empty(&self) -> bool {
        false
    }
    pub fn has_entries(&self) -> bool {
        self.len > 0
    }
    /// Number of nodes (XINFO STREAM radix-tree-keys).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }
    /// The id of the first live entry (Redis's recorded first_id), 0-0 if none.
    pub fn first_id(&self) -> StreamId {
        for (m, n) in &self.nodes {
            if let Some(r) = n.entries(*m).find(|r| r.flags & F_DELETED == 0) {
                return r.id;
            }
        }
        StreamId::MIN
    }
    /// The id of the last live entry (Redis's streamLastValidID), 0-0 if none.
    pub fn last_entry_id(&self) -> StreamId {
        for (m, n) in self.nodes.iter().rev() {
            if n.live == 0 {
                continue;
            }
            if let Some(r) = n.entries(*m).filter(|r| r.flags & F_DELETED == 0).last() {
                return r.id;
            }
        }
        StreamId::MIN
    }

    /// Appends an entry with `id` (which the caller checked is > `last_id`); `pairs` is
    /// `field, value, ...`.
    pub fn append(&mut self, id: StreamId, pairs: &[&[u8]], lim: NodeLimits) {
        let totelelen: u64 = pairs.iter().map(|s| s.len() as u64).sum();
        let max_bytes =
            if lim.max_bytes == 0 || lim.max_bytes > LISTPACK_MAX_SIZE { LISTPACK_MAX_SIZE } else { lim.max_bytes };
        let new_node = match self.nodes.iter().next_back() {
            None => true,
            Some((_, n)) => {
                n.lp_bytes() + totelelen >= max_bytes
                    || (lim.max_entries != 0 && (n.live + n.deleted) as u64 >= lim.max_entries)
            }
        };
        if new_node {
            if let Some((_, last)) = self.nodes.iter_mut().next_back() {
                last.buf.shrink_to_fit();
            }
            let fields: Vec<&[u8]> = pairs.iter().step_by(2).copied().collect();
            self.nodes.insert(id, Node::new(&fields));
        }
        let (master, node) = self.nodes.iter_mut().next_back().expect("a node exists or was just created");
        node.push(*master, id, pairs);
        self.len += 1;
        self.last_id = id;
        self.entries_added += 1;
    }

    fn node_of(&self, id: StreamId) -> Option<StreamId> {
        self.nodes.range(..=id).next_back().map(|(k, _)| *k)
    }

    /// The live entry `id`: its node's master id and header.
    fn find(&self, id: StreamId) -> Option<(StreamId, Raw)> {
        let m = self.node_of(id)?;
        let n = &self.nodes[&m];
        n.entries(m).take_while(|r| r.id <= id).find(|r| r.id == id && r.flags & F_DELETED == 0).map(|r| (m, r))
    }

    pub fn contains(&self, id: StreamId) -> bool {
        self.find(id).is_some()
    }

    /// The fields of the live entry `id`.
    pub fn get(&self, id: StreamId) -> Option<Vec<Vec<u8>>> {
        let (m, r) = self.find(id)?;
        Some(self.nodes[&m].fields(&r))
    }

    /// Deletes one entry; true if it existed.
    pub fn delete(&mut self, id: StreamId) -> bool {
        let Some((m, r)) = self.find(id) else { return false };
        let Some(n) = self.nodes.get_mut(&m) else { return false };
        n.mark_deleted(&r);
        if n.live == 0 {
            self.nodes.remove(&m);
        }
        self.len -= 1;
        true
    }

    /// Entries with `start <= id <= end`, ascending or descending, at most `count`
    /// (0: no limit).
    pub fn range(&self, start: StreamId, end: StreamId, rev: bool, count: usize) -> Vec<(StreamId, Vec<Vec<u8>>)> {
        let mut out = Vec::new();
        if start > end {
            return out;
        }
        let limit = if count == 0 { usize::MAX } else { count };
        if rev {
            for (m, n) in self.nodes.range(..=end).rev() {
                let raws: Vec<Raw> = n.entries(*m).filter(|r| r.flags & F_DELETED == 0).collect();
                for r in raws.iter().rev() {
                    if r.id > end {
                        continue;
                    }
                    if r.id < start || out.len() >= limit {
                        return out;
                    }
                    out.push((r.id, n.fields(r)));
                }
            }
        } else {
            let from = self.node_of(start).unwrap_or(start);
            for (m, n) in self.nodes.range(from..) {
                if *m > end {
                    break;
                }
                for r in n.entries(*m) {
                    if r.flags & F_DELETED != 0 || r.id < start {
                        continue;
                    }
                    if r.id > end || out.len() >= limit {
                        return out;
                    }
                    out.push((r.id, n.fields(&r)));
                }
            }
        }
        out
    }

    /// Redis's streamTrim: whole nodes go first; with `approx` trimming stops at the
    /// first node that cannot go entirely. `limit` caps the entries removed (0: none).
    /// Returns the number of entries removed.
    pub fn trim(&mut self, how: Trim, approx: bool, limit: u64) -> u64 {
        let mut deleted: u64 = 0;
        while let Some((&master, node)) = self.nodes.iter_mut().next() {
            if let Trim::MaxLen(max) = how {
                if self.len as u64 <= max {
                    break;
                }
            }
            let entries = node.live as u64;
            if limit != 0 && deleted + entries > limit {
                break;
            }
            let remove_node = match how {
                Trim::MaxLen(max) => self.len as u64 - entries >= max,
                // The node's last id, deleted entries included (Redis's lpGetEdgeStreamID).
                Trim::MinId(min) => node.entries(master).last().is_some_and(|l| l.id < min),
            };
            if remove_node {
                self.nodes.remove(&master);
                self.len -= entries as usize;
                deleted += entries;
                continue;
            }
            if approx {
                break;
            }
            // Mark entries of this node deleted, in order.
            let raws: Vec<Raw> = node.entries(master).collect();
            for r in raws {
                let stop = match how {
                    Trim::MaxLen(max) => self.len as u64 <= max,
                    Trim::MinId(min) => r.id >= min,
                };
                if stop {
                    break;
                }
                if r.flags & F_DELETED == 0 {
                    node.mark_deleted(&r);
                    self.len -= 1;
                    deleted += 1;
                }
            }
            break;
        }
        deleted
    }

    /// Redis's streamRangeHasTombstones: may a deleted entry lie in `start..=end`?
    pub fn range_has_tombstones(&self, start: StreamId, end: StreamId) -> bool {
        if self.len == 0 || self.max_deleted_id.is_zero() {
            return false;
        }
        if self.first_id() > self.max_deleted_id {
            return false;
        }
        start <= self.max_deleted_id && self.max_deleted_id <= end
    }

    /// Redis's streamEstimateDistanceFromFirstEverEntry: the logical read counter of
    /// `id`, or [`INVALID_ENTRIES_READ`].
    pub fn estimate_distance(&self, id: StreamId) -> i64 {
        if self.entries_added == 0 {
            return 0;
        }
        if self.len == 0 && id <= self.last_id {
            return self.entries_added as i64;
        }
        if id == self.last_id {
            return self.entries_added as i64;
        } else if id > self.last_id {
            return INVALID_ENTRIES_READ;
        }
        let first = self.first_id();
        if self.max_deleted_id.is_zero() || self.max_deleted_id < first {
            if id < first {
                return (self.entries_added - self.len as u64) as i64;
            } else if id == first {
                return (self.entries_added - self.len as u64 + 1) as i64;
            }
        }
        INVALID_ENTRIES_READ
    }

    /// Redis's streamReplyWithCGLag: the group's lag, None when it cannot be known.
    pub fn group_lag(&self, g: &Group) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if g.entries_read != INVALID_ENTRIES_READ && !self.range_has_tombstones(g.last_id, StreamId::MAX) {
            return Some(self.entries_added as i64 - g.entries_read);
        }
        let read = self.estimate_distance(g.last_id);
        (read != INVALID_ENTRIES_READ).then(|| self.entries_added as i64 - read)
    }

    /// Moves the group's last delivered id forward to `id`, keeping its read counter the
    /// way Redis's streamReplyWithRange does for XREADGROUP.
    pub fn advance_group(&mut self, group: &[u8], id: StreamId) {
        let tomb = self.range_has_tombstones(id, StreamId::MAX);
        let est = self.estimate_distance(id);
        let added = self.entries_added;
        let Some(g) = self.groups.get_mut(group) else { return };
        if id <= g.last_id {
            return;
        }
        if g.entries_read != INVALID_ENTRIES_READ && !tomb {
            g.entries_read += 1;
        } else if added != 0 {
            g.entries_read = est;
        }
        g.last_id = id;
    }

    /// Nodes of Redis's radix tree over the node master ids (XINFO STREAM
    /// radix-tree-nodes), for the canonical compressed tree Redis's rax builds.
    pub fn rax_nodes(&self) -> usize {
        fn count(keys: &[[u8; 16]], depth: usize) -> usize {
            if depth == 16 {
                return 1;
            }
            let first = keys[0][depth];
            if keys.iter().all(|k| k[depth] == first) {
                // A compressed node over the common prefix, then what follows it.
                let mut d = depth + 1;
                while d < 16 && keys.iter().all(|k| k[d] == keys[0][d]) {
                    d += 1;
                }
                return 1 + count(keys, d);
            }
            let mut n = 1;
            let mut i = 0;
            while i < keys.len() {
                let c = keys[i][depth];
                let j = i + keys[i..].iter().take_while(|k| k[depth] == c).count();
                n += count(&keys[i..j], depth + 1);
                i = j;
            }
            n
        }
        let keys: Vec<[u8; 16]> = self
            .nodes
            .keys()
            .map(|id| {
                let mut k = [0u8; 16];
                k[..8].copy_from_slice(&id.ms.to_be_bytes());
                k[8..].copy_from_slice(&id.seq.to_be_bytes());
                k
            })
            .collect();
        if keys.is_empty() {
            1
        } else {
            count(&keys, 0)
        }
    }

    /// Approximate heap bytes (MEMORY USAGE).
    pub fn heap_size(&self) -> usize {
        let nodes: usize =
            self.nodes.values().map(|n| n.buf.capacity() + std::mem::size_of::<(StreamId, Node)>() + 8).sum();
        let groups: usize = self
            .groups
            .iter()
            .map(|(k, g)| {
                k.len()
                    + 64
                    + g.pel.values().map(|n| 64 + n.consumer.len()).sum::<usize>()
                    + g.consumers.iter().map(|(k, c)| k.len() + 64 + c.pel.len() * 24).sum::<usize>()
            })
            .sum();
        nodes + groups + std::mem::size_of::<Stream>()
    }

    /// The nodes as Redis lays them out in an RDB (one at a time, for the serializer).
    pub fn export_nodes(&self) -> impl Iterator<Item = NodeExport> + '_ {
        self.nodes.iter().map(|(m, n)| NodeExport {
            master: *m,
            fields: n.master_fields().map(|f| f.to_vec()).collect(),
            live: n.live,
            deleted: n.deleted,
            entries: n
                .entries(*m)
                .map(|r| {
                    let same = r.flags & F_SAMEFIELDS != 0;
                    let mut strings = Vec::with_capacity(r.nstrings);
                    let mut p = r.strings;
                    for _ in 0..r.nstrings {
                        let (s, e) = read_string(&n.buf, p);
                        p = e;
                        strings.push(s.to_vec());
                    }
                    EntryExport { id: r.id, deleted: r.flags & F_DELETED != 0, same_fields: same, strings }
                })
                .collect(),
        })
    }

    /// Appends a node read from an RDB. Entries must be in ascending id order, above every
    /// entry already present; `last_id` and the other metadata are set by the caller.
    pub fn import_node(&mut self, node: NodeExport) -> Result<(), String> {
        if node.entries.is_empty() {
            return Err("empty stream node".into());
        }
        if let Some((m, _)) = self.nodes.iter().next_back() {
            if node.master <= *m {
                return Err("stream nodes out of order".into());
            }
        }
        let fields: Vec<&[u8]> = node.fields.iter().map(|f| f.as_slice()).collect();
        let mut n = Node::new(&fields);
        let mut prev: Option<StreamId> = None;
        let mut pairs: Vec<&[u8]> = Vec::new();
        for e in &node.entries {
            if e.id < node.master || prev.is_some_and(|p| e.id <= p) {
                return Err("stream entries out of order".into());
            }
            prev = Some(e.id);
            pairs.clear();
            if e.same_fields {
                if e.strings.len() != fields.len() {
                    return Err("stream entry value count differs from the master fields".into());
                }
                for (f, v) in fields.iter().zip(&e.strings) {
                    pairs.push(f);
                    pairs.push(v);
                }
            } else {
                if e.strings.len() % 2 != 0 {
                    return Err("stream entry with an odd number of strings".into());
                }
                pairs.extend(e.strings.iter().map(|s| s.as_slice()));
            }
            let at = n.buf.len();
            n.push(node.master, e.id, &pairs);
            if e.deleted {
                n.buf[at] |= F_DELETED;
                n.live -= 1;
                n.deleted += 1;
            } else {
                self.len += 1;
            }
        }
        self.nodes.insert(node.master, n);
        Ok(())
    }
}

/// One stream node for RDB serialization: master entry fields, counters and entries.
pub struct NodeExport {
    pub master: StreamId,
    pub fields: Vec<Vec<u8>>,
    pub live: u32,
    pub deleted: u32,
    pub entries: Vec<EntryExport>,
}

/// One entry of a [`NodeExport`]: `strings` are the values only when `same_fields` (the
/// entry's field names equal the master's), otherwise field, value, ...
pub struct EntryExport {
    pub id: StreamId,
    pub deleted: bool,
    pub same_fields: bool,
    pub strings: Vec<Vec<u8>>,
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
            s.append(StreamId::new(i, 0), &[b"f", b"v"], NodeLimits::default());
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
    fn packed_entries_round_trip() {
        let mut s = Stream::new();
        let lim = NodeLimits::default();
        s.append(StreamId::new(5, 1), &[b"a", b"1", b"b", b""], lim);
        s.append(StreamId::new(5, 2), &[b"a", b"x", b"b", b"y"], lim);
        s.append(StreamId::new(9, 0), &[b"other", b"z"], lim);
        assert_eq!(s.node_count(), 1);
        assert_eq!(s.get(StreamId::new(5, 2)), Some(vec![b"a".to_vec(), b"x".to_vec(), b"b".to_vec(), b"y".to_vec()]));
        assert_eq!(s.get(StreamId::new(9, 0)), Some(vec![b"other".to_vec(), b"z".to_vec()]));
        assert!(s.delete(StreamId::new(5, 2)));
        assert!(!s.delete(StreamId::new(5, 2)));
        let ids: Vec<StreamId> = s.range(StreamId::MIN, StreamId::MAX, true, 0).into_iter().map(|e| e.0).collect();
        assert_eq!(ids, vec![StreamId::new(9, 0), StreamId::new(5, 1)]);
        assert_eq!(s.last_entry_id(), StreamId::new(9, 0));
        assert!(s.delete(StreamId::new(5, 1)) && s.delete(StreamId::new(9, 0)));
        assert_eq!(s.node_count(), 0);
        assert_eq!(s.len(), 0);
    }

    #[test]
    fn nodes_split_at_entries_and_bytes() {
        let s = filled(250);
        assert_eq!(s.node_count(), 3);
        let mut s = Stream::new();
        let big = vec![b'x'; 1000];
        for i in 1..=10 {
            s.append(StreamId::new(i, 0), &[b"f", &big], NodeLimits::default());
        }
        // Each entry is ~1 KB of listpack: four fit under 4096 bytes.
        assert_eq!(s.node_count(), 3);
    }

    #[test]
    fn listpack_sizes() {
        assert_eq!(lp_str(b"12"), 2);
        assert_eq!(lp_str(b"012"), 5);
        assert_eq!(lp_str(&[b'a'; 63]), 65);
        assert_eq!(lp_str(&[b'a'; 200]), 204);
        assert_eq!(lp_int(-1), 3);
    }

    #[test]
    fn ids_step() {
        assert_eq!(StreamId::new(1, u64::MAX).incr(), Some(StreamId::new(2, 0)));
        assert_eq!(StreamId::MAX.incr(), None);
        assert_eq!(StreamId::MIN.decr(), None);
        assert_eq!(StreamId::new(2, 0).decr(), Some(StreamId::new(1, u64::MAX)));
    }
}
