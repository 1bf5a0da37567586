//! The zset value type, in Redis 7.0's two encodings (OBJECT ENCODING):
//!
//! - `listpack`: one packed byte buffer of `(score, member)` entries sorted by
//!   (score, member bytes), used while the zset has at most `zset-max-listpack-entries`
//!   members of at most `zset-max-listpack-value` bytes each. Operations scan it linearly,
//!   as Redis's listpack does.
//! - `skiplist`: an order-statistics treap (an arena of nodes carrying subtree sizes,
//!   ordered by (score, member bytes)) plus a member → node hash index. Insert, delete,
//!   rank, select-by-rank and the start of a score/lex range are O(log N); walking a
//!   range is O(1) per element.
//!
//! Must hold:
//! - scores are never NaN; `-0.0` and `0.0` compare equal (ties go to member bytes), as
//!   in Redis's skiplist;
//! - a zset converts to `skiplist` when an insertion would break the listpack limits and
//!   never converts back; zsets built whole ([`ZSet::from_sorted`]: ZUNIONSTORE,
//!   ZRANGESTORE, ...) pick the encoding for their final size, as Redis does;
//! - a skiplist node keeps its arena slot for as long as its member is in the set (score
//!   updates relink it in place), which is what makes ZSCAN's slot cursor return every
//!   member present for a whole scan.
//!
//! Imports only from `crate::store`.

use super::bytes::CompactBytes;
use super::num::{get_varint, put_varint};
use super::Hasher;
use hashbrown::HashTable;
use std::cmp::Ordering;
use std::hash::BuildHasher;
use std::sync::OnceLock;

/// The listpack limits in force (zset-max-listpack-entries / -value).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub entries: usize,
    pub value: usize,
}

impl Limits {
    /// Whether a zset of `len` members, the longest `maxlen` bytes, is a listpack.
    pub fn fits(&self, len: usize, maxlen: usize) -> bool {
        len <= self.entries && maxlen <= self.value
    }
}

/// Redis's zset order: by score, then by member bytes.
#[inline]
pub fn cmp_entry(s1: f64, m1: &[u8], s2: f64, m2: &[u8]) -> Ordering {
    if s1 < s2 {
        Ordering::Less
    } else if s1 > s2 {
        Ordering::Greater
    } else {
        m1.cmp(m2)
    }
}

/// A Redis zset.
#[derive(Clone, Debug, Default)]
pub struct ZSet {
    repr: Repr,
}

#[derive(Clone, Debug)]
enum Repr {
    Pack(Pack),
    Tree(Box<Tree>),
}

impl Default for Repr {
    fn default() -> Self {
        Repr::Pack(Pack::default())
    }
}

impl ZSet {
    pub fn new() -> ZSet {
        ZSet::default()
    }

    /// Builds a zset from entries already sorted by (score, member) with unique members,
    /// in the encoding Redis gives a zset of that size.
    pub fn from_sorted<'a>(entries: impl IntoIterator<Item = (&'a [u8], f64)> + Clone, lim: Limits) -> ZSet {
        let (mut n, mut maxlen) = (0usize, 0usize);
        for (m, _) in entries.clone() {
            n += 1;
            maxlen = maxlen.max(m.len());
        }
        if lim.fits(n, maxlen) {
            ZSet { repr: Repr::Pack(Pack::from_sorted(entries)) }
        } else {
            let mut t = Tree::with_capacity(n);
            for (m, s) in entries {
                t.insert(m, s);
            }
            ZSet { repr: Repr::Tree(Box::new(t)) }
        }
    }

    /// OBJECT ENCODING name, as Redis 7.0 reports it.
    pub fn encoding(&self) -> &'static str {
        match self.repr {
            Repr::Pack(_) => "listpack",
            Repr::Tree(_) => "skiplist",
        }
    }
    /// Number of elements.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Pack(p) => p.len(),
            Repr::Tree(t) => t.size(t.root) as usize,
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Approximate heap bytes owned (MEMORY USAGE).
    pub fn heap_size(&self) -> usize {
        match &self.repr {
            Repr::Pack(p) => p.buf.len(),
            Repr::Tree(t) => t.heap_size() + std::mem::size_of::<Tree>(),
        }
    }

    /// The member's score.
    pub fn score(&self, m: &[u8]) -> Option<f64> {
        match &self.repr {
            Repr::Pack(p) => p.find(m).map(|(_, _, s)| s),
            Repr::Tree(t) => t.find(m).map(|n| t.nodes[n as usize].score),
        }
    }

    /// The member's 0-based rank in ascending order.
    pub fn rank(&self, m: &[u8]) -> Option<usize> {
        match &self.repr {
            Repr::Pack(p) => p.find(m).map(|(_, i, _)| i),
            Repr::Tree(t) => t.find(m).map(|n| t.rank_of(n)),
        }
    }

    /// Adds a member that is not in the set yet, converting to `skiplist` first when the
    /// listpack limits would be broken (Redis's zsetAdd).
    pub fn insert_new(&mut self, m: &[u8], score: f64, lim: Limits) {
        if let Repr::Pack(p) = &mut self.repr {
            if p.len() < lim.entries && m.len() <= lim.value {
                p.insert(m, score);
                return;
            }
            self.convert_to_tree();
        }
        if let Repr::Tree(t) = &mut self.repr {
            t.insert(m, score);
        }
    }

    /// Changes the score of a member that is in the set.
    pub fn update(&mut self, m: &[u8], score: f64) {
        match &mut self.repr {
            Repr::Pack(p) => {
                if let Some((off, _, _)) = p.find(m) {
                    let m = m.to_vec();
                    p.remove_at(off);
                    p.insert(&m, score);
                }
            }
            Repr::Tree(t) => {
                if let Some(n) = t.find(m) {
                    t.rescore(n, score);
                }
            }
        }
    }

    /// Removes a member, returning its score.
    pub fn remove(&mut self, m: &[u8]) -> Option<f64> {
        match &mut self.repr {
            Repr::Pack(p) => {
                let (off, _, s) = p.find(m)?;
                p.remove_at(off);
                Some(s)
            }
            Repr::Tree(t) => {
                let n = t.find(m)?;
                let s = t.nodes[n as usize].score;
                t.remove(n);
                Some(s)
            }
        }
    }

    /// How many leading elements (ascending) satisfy `pred`, which must hold for a prefix
    /// of the order and fail for the rest (a partition point).
    pub fn count_while(&self, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        match &self.repr {
            Repr::Pack(p) => p.iter().take_while(|(_, s, m)| pred(*s, m)).count(),
            Repr::Tree(t) => t.partition(pred),
        }
    }

    /// The element at 0-based ascending rank `r`.
    pub fn get(&self, r: usize) -> Option<(&[u8], f64)> {
        if r >= self.len() {
            return None;
        }
        match &self.repr {
            Repr::Pack(p) => p.iter().nth(r).map(|(_, s, m)| (m, s)),
            Repr::Tree(t) => {
                let n = &t.nodes[t.select(r) as usize];
                Some((n.member.as_slice(), n.score))
            }
        }
    }

    /// Iterates from ascending rank `start`: upwards, or with `rev` downwards (towards
    /// rank 0). `start` past the end gives nothing forwards and starts at the last
    /// element backwards.
    pub fn iter_from(&self, start: usize, rev: bool) -> ZIter<'_> {
        let len = self.len();
        if len == 0 || (!rev && start >= len) {
            return ZIter::Empty;
        }
        let start = start.min(len - 1);
        match &self.repr {
            Repr::Pack(p) => {
                if rev {
                    let mut v: Vec<(&[u8], f64)> = p.iter().take(start + 1).map(|(_, s, m)| (m, s)).collect();
                    v.reverse();
                    ZIter::Vec(v.into_iter())
                } else {
                    let mut it = p.iter();
                    for _ in 0..start {
                        it.next();
                    }
                    ZIter::Pack(it)
                }
            }
            Repr::Tree(t) => ZIter::Tree(t.iter_from(start, rev)),
        }
    }

    /// Every element in ascending order.
    pub fn iter(&self) -> ZIter<'_> {
        self.iter_from(0, false)
    }

    /// Removes the elements with ascending ranks in `start..end`, returning them (in
    /// ascending order) when `collect` is set; returns how many were removed.
    pub fn remove_range(&mut self, start: usize, end: usize, collect: Option<&mut Vec<(Vec<u8>, f64)>>) -> usize {
        let end = end.min(self.len());
        if start >= end {
            return 0;
        }
        match &mut self.repr {
            Repr::Pack(p) => p.remove_range(start, end, collect),
            Repr::Tree(t) => t.remove_range(start, end, collect),
        }
    }

    /// One ZSCAN step. A listpack is returned whole with cursor 0; a skiplist is walked
    /// by arena slot (`cursor` is the next slot), about `count` elements per call.
    pub fn scan(&self, cursor: u64, count: usize) -> (u64, Vec<(&[u8], f64)>) {
        match &self.repr {
            Repr::Pack(p) => (0, p.iter().map(|(_, s, m)| (m, s)).collect()),
            Repr::Tree(t) => {
                let mut out = Vec::new();
                let mut slot = cursor as usize;
                let mut budget = count.saturating_mul(10).max(1);
                while slot < t.nodes.len() && out.len() < count && budget > 0 {
                    let n = &t.nodes[slot];
                    if n.size != 0 {
                        out.push((n.member.as_slice(), n.score));
                    }
                    slot += 1;
                    budget -= 1;
                }
                let next = if slot >= t.nodes.len() { 0 } else { slot as u64 };
                (next, out)
            }
        }
    }

    fn convert_to_tree(&mut self) {
        if let Repr::Pack(p) = &self.repr {
            let mut t = Tree::with_capacity(p.len() + 1);
            for (_, s, m) in p.iter() {
                t.insert(m, s);
            }
            self.repr = Repr::Tree(Box::new(t));
        }
    }
}

/// An iterator over `(member, score)`.
pub enum ZIter<'a> {
    Empty,
    Pack(PackIter<'a>),
    Vec(std::vec::IntoIter<(&'a [u8], f64)>),
    Tree(TreeIter<'a>),
}

impl<'a> Iterator for ZIter<'a> {
    type Item = (&'a [u8], f64);
    fn next(&mut self) -> Option<(&'a [u8], f64)> {
        match self {
            ZIter::Empty => None,
            ZIter::Pack(it) => it.next().map(|(_, s, m)| (m, s)),
            ZIter::Vec(it) => it.next(),
            ZIter::Tree(it) => it.next(),
        }
    }
}

// ---------------------------------------------------------------------------------------
// listpack: [count: varint] then per entry [score][member length: varint][member bytes].
// A score is a varint h: even h is the integer zigzag(h >> 1) (integral scores below
// 2^53), h == 1 is followed by the f64's 8 little-endian bytes. Small zsets of short
// members and integer scores take about as much room as Redis's listpack.
// ---------------------------------------------------------------------------------------

#[derive(Clone, Debug, Default)]
struct Pack {
    /// Empty when the set is (no header then).
    buf: Box<[u8]>,
}

/// Walks a packed buffer: yields (offset, score, member).
pub struct PackIter<'a> {
    buf: &'a [u8],
    off: usize,
}

impl<'a> Iterator for PackIter<'a> {
    type Item = (usize, f64, &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        if self.off >= self.buf.len() {
            return None;
        }
        let at = self.off;
        let (s, m, next) = decode(self.buf, at);
        self.off = next;
        Some((at, s, m))
    }
}

fn decode(buf: &[u8], off: usize) -> (f64, &[u8], usize) {
    let (h, mut p) = get_varint(buf, off);
    let s = if h & 1 == 0 {
        let z = h >> 1;
        ((z >> 1) as i64 ^ -((z & 1) as i64)) as f64
    } else {
        let mut sb = [0u8; 8];
        sb.copy_from_slice(&buf[p..p + 8]);
        p += 8;
        f64::from_le_bytes(sb)
    };
    let (len, p) = get_varint(buf, p);
    let len = len as usize;
    (s, &buf[p..p + len], p + len)
}

/// Encodes one entry. Integral scores are stored as integers, as Redis's listpack does,
/// so `-0` comes back as `0` there too.
fn encode(m: &[u8], s: f64, out: &mut Vec<u8>) {
    if s.trunc() == s && s.abs() < 9007199254740992.0 {
        let i = s as i64;
        let z = ((i << 1) ^ (i >> 63)) as u64;
        put_varint(z << 1, out);
    } else {
        out.push(1);
        out.extend_from_slice(&s.to_le_bytes());
    }
    put_varint(m.len() as u64, out);
    out.extend_from_slice(m);
}

impl Pack {
    fn len(&self) -> usize {
        if self.buf.is_empty() {
            0
        } else {
            get_varint(&self.buf, 0).0 as usize
        }
    }

    /// Offset of the first entry.
    fn body(&self) -> usize {
        if self.buf.is_empty() {
            0
        } else {
            get_varint(&self.buf, 0).1
        }
    }

    fn iter(&self) -> PackIter<'_> {
        PackIter { buf: &self.buf, off: self.body() }
    }

    /// A pack of entries already in order.
    fn from_sorted<'a>(entries: impl IntoIterator<Item = (&'a [u8], f64)>) -> Pack {
        let mut body = Vec::new();
        let mut n = 0u64;
        for (m, s) in entries {
            encode(m, s, &mut body);
            n += 1;
        }
        Pack::assemble(n, &[&body])
    }

    /// Header for `n` entries followed by the given byte runs, allocated exactly.
    fn assemble(n: u64, parts: &[&[u8]]) -> Pack {
        if n == 0 {
            return Pack::default();
        }
        let mut out = Vec::with_capacity(10 + parts.iter().map(|p| p.len()).sum::<usize>());
        put_varint(n, &mut out);
        for p in parts {
            out.extend_from_slice(p);
        }
        Pack { buf: out.into_boxed_slice() }
    }

    /// (offset, index, score) of a member.
    fn find(&self, m: &[u8]) -> Option<(usize, usize, f64)> {
        self.iter().enumerate().find(|(_, (_, _, x))| *x == m).map(|(i, (off, s, _))| (off, i, s))
    }

    fn insert(&mut self, m: &[u8], s: f64) {
        let body = self.body();
        let at = self
            .iter()
            .find(|(_, es, em)| cmp_entry(*es, em, s, m) == Ordering::Greater)
            .map(|(off, _, _)| off)
            .unwrap_or(self.buf.len());
        let mut enc = Vec::with_capacity(m.len() + 12);
        encode(m, s, &mut enc);
        let n = self.len() as u64 + 1;
        *self = Pack::assemble(n, &[&self.buf[body..at], &enc, &self.buf[at..]]);
    }

    fn remove_at(&mut self, off: usize) {
        let body = self.body();
        let (_, _, next) = decode(&self.buf, off);
        let n = self.len() as u64 - 1;
        *self = Pack::assemble(n, &[&self.buf[body..off], &self.buf[next..]]);
    }

    fn remove_range(&mut self, start: usize, end: usize, collect: Option<&mut Vec<(Vec<u8>, f64)>>) -> usize {
        let body = self.body();
        let mut from = self.buf.len();
        let mut to = self.buf.len();
        let mut taken = Vec::new();
        for (i, (off, s, m)) in self.iter().enumerate() {
            if i == start {
                from = off;
            }
            if i == end {
                to = off;
                break;
            }
            if i >= start && collect.is_some() {
                taken.push((m.to_vec(), s));
            }
        }
        if let Some(c) = collect {
            c.extend(taken);
        }
        let n = (self.len() - (end - start)) as u64;
        *self = Pack::assemble(n, &[&self.buf[body..from], &self.buf[to..]]);
        end - start
    }
}

// ---------------------------------------------------------------------------------------
// skiplist: an arena treap with subtree sizes, plus a member index
// ---------------------------------------------------------------------------------------

const NIL: u32 = u32::MAX;

#[derive(Clone, Debug)]
struct Node {
    member: CompactBytes,
    score: f64,
    left: u32,
    right: u32,
    /// Subtree size; 0 marks a free arena slot.
    size: u32,
    prio: u32,
}

#[derive(Clone)]
struct Tree {
    nodes: Vec<Node>,
    free: Vec<u32>,
    root: u32,
    /// Member → arena slot.
    index: HashTable<u32>,
    rng: u64,
}

impl std::fmt::Debug for Tree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tree").field("len", &self.size(self.root)).field("slots", &self.nodes.len()).finish()
    }
}

fn hasher() -> &'static Hasher {
    static H: OnceLock<Hasher> = OnceLock::new();
    H.get_or_init(|| {
        use std::collections::hash_map::RandomState;
        Hasher::with_seed(RandomState::new().hash_one(0x25e7_u64))
    })
}

#[inline]
fn hash(m: &[u8]) -> u64 {
    hasher().hash_one(m)
}

impl Tree {
    fn with_capacity(n: usize) -> Tree {
        static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let seed = hash(&seq.to_le_bytes()) | 1;
        Tree {
            nodes: Vec::with_capacity(n),
            free: Vec::new(),
            root: NIL,
            index: HashTable::with_capacity(n),
            rng: seed,
        }
    }

    fn heap_size(&self) -> usize {
        let members: usize = self.nodes.iter().map(|n| n.member.heap_size()).sum();
        self.nodes.capacity() * std::mem::size_of::<Node>()
            + members
            + self.free.capacity() * 4
            + self.index.capacity() * (std::mem::size_of::<u32>() + 1)
    }

    #[inline]
    fn size(&self, t: u32) -> u32 {
        if t == NIL {
            0
        } else {
            self.nodes[t as usize].size
        }
    }

    #[inline]
    fn pull(&mut self, t: u32) {
        let (l, r) = (self.nodes[t as usize].left, self.nodes[t as usize].right);
        self.nodes[t as usize].size = 1 + self.size(l) + self.size(r);
    }

    /// Node a sorts before node b.
    #[inline]
    fn less(&self, a: u32, b: u32) -> bool {
        let (x, y) = (&self.nodes[a as usize], &self.nodes[b as usize]);
        cmp_entry(x.score, x.member.as_slice(), y.score, y.member.as_slice()) == Ordering::Less
    }

    fn find(&self, m: &[u8]) -> Option<u32> {
        let nodes = &self.nodes;
        self.index.find(hash(m), |&i| nodes[i as usize].member.as_slice() == m).copied()
    }

    fn next_prio(&mut self) -> u32 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        (x >> 32) as u32
    }

    /// Adds a member that is not present.
    fn insert(&mut self, m: &[u8], score: f64) {
        let prio = self.next_prio();
        let node = Node { member: CompactBytes::new(m), score, left: NIL, right: NIL, size: 1, prio };
        let n = match self.take_free() {
            Some(i) => {
                self.nodes[i as usize] = node;
                i
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        };
        let nodes = &self.nodes;
        self.index.insert_unique(hash(m), n, |&i| hash(nodes[i as usize].member.as_slice()));
        self.root = self.insert_rec(self.root, n);
    }

    fn insert_rec(&mut self, t: u32, n: u32) -> u32 {
        if t == NIL {
            return n;
        }
        if self.nodes[n as usize].prio > self.nodes[t as usize].prio {
            let (l, r) = self.split_at_node(t, n);
            let node = &mut self.nodes[n as usize];
            node.left = l;
            node.right = r;
            self.pull(n);
            return n;
        }
        if self.less(n, t) {
            let c = self.insert_rec(self.nodes[t as usize].left, n);
            self.nodes[t as usize].left = c;
        } else {
            let c = self.insert_rec(self.nodes[t as usize].right, n);
            self.nodes[t as usize].right = c;
        }
        self.pull(t);
        t
    }

    /// Splits subtree t into (nodes before n, nodes after n); n is not in t.
    fn split_at_node(&mut self, t: u32, n: u32) -> (u32, u32) {
        if t == NIL {
            return (NIL, NIL);
        }
        if self.less(t, n) {
            let (a, b) = self.split_at_node(self.nodes[t as usize].right, n);
            self.nodes[t as usize].right = a;
            self.pull(t);
            (t, b)
        } else {
            let (a, b) = self.split_at_node(self.nodes[t as usize].left, n);
            self.nodes[t as usize].left = b;
            self.pull(t);
            (a, t)
        }
    }

    /// Splits subtree t into (first k nodes, the rest).
    fn split_rank(&mut self, t: u32, k: u32) -> (u32, u32) {
        if t == NIL {
            return (NIL, NIL);
        }
        let ls = self.size(self.nodes[t as usize].left);
        if k <= ls {
            let (a, b) = self.split_rank(self.nodes[t as usize].left, k);
            self.nodes[t as usize].left = b;
            self.pull(t);
            (a, t)
        } else {
            let (a, b) = self.split_rank(self.nodes[t as usize].right, k - ls - 1);
            self.nodes[t as usize].right = a;
            self.pull(t);
            (t, b)
        }
    }

    /// Joins two subtrees where every node of a sorts before every node of b.
    fn merge(&mut self, a: u32, b: u32) -> u32 {
        if a == NIL {
            return b;
        }
        if b == NIL {
            return a;
        }
        if self.nodes[a as usize].prio > self.nodes[b as usize].prio {
            let c = self.merge(self.nodes[a as usize].right, b);
            self.nodes[a as usize].right = c;
            self.pull(a);
            a
        } else {
            let c = self.merge(a, self.nodes[b as usize].left);
            self.nodes[b as usize].left = c;
            self.pull(b);
            b
        }
    }

    /// Unlinks node n (which is in the tree) from the tree, keeping its slot.
    fn unlink(&mut self, n: u32) {
        self.root = self.unlink_rec(self.root, n);
        let node = &mut self.nodes[n as usize];
        node.left = NIL;
        node.right = NIL;
        node.size = 1;
    }

    fn unlink_rec(&mut self, t: u32, n: u32) -> u32 {
        if t == n {
            let (l, r) = (self.nodes[n as usize].left, self.nodes[n as usize].right);
            return self.merge(l, r);
        }
        if self.less(n, t) {
            let c = self.unlink_rec(self.nodes[t as usize].left, n);
            self.nodes[t as usize].left = c;
        } else {
            let c = self.unlink_rec(self.nodes[t as usize].right, n);
            self.nodes[t as usize].right = c;
        }
        self.pull(t);
        t
    }

    /// Moves node n to a new score, in place.
    fn rescore(&mut self, n: u32, score: f64) {
        self.unlink(n);
        self.nodes[n as usize].score = score;
        self.root = self.insert_rec(self.root, n);
    }

    /// Frees a slot whose node is no longer linked, and drops it from the index.
    fn release(&mut self, n: u32) {
        let h = hash(self.nodes[n as usize].member.as_slice());
        if let Ok(e) = self.index.find_entry(h, |&i| i == n) {
            e.remove();
        }
        let node = &mut self.nodes[n as usize];
        node.member = CompactBytes::new(b"");
        node.size = 0;
        node.left = NIL;
        node.right = NIL;
        self.free.push(n);
    }

    fn remove(&mut self, n: u32) {
        self.unlink(n);
        self.release(n);
        self.compact_tail();
    }

    /// Drops trailing free slots (stale free-list entries are skipped when popped).
    fn compact_tail(&mut self) {
        if self.root == NIL {
            self.nodes.clear();
            self.free.clear();
            return;
        }
        while self.nodes.last().is_some_and(|n| n.size == 0) {
            self.nodes.pop();
        }
        if self.nodes.capacity() > 2 * self.nodes.len() + 64 {
            self.nodes.shrink_to_fit();
        }
    }

    /// A free arena slot, if any (entries past the end or reused since are stale).
    fn take_free(&mut self) -> Option<u32> {
        while let Some(i) = self.free.pop() {
            if (i as usize) < self.nodes.len() && self.nodes[i as usize].size == 0 {
                return Some(i);
            }
        }
        None
    }

    fn rank_of(&self, n: u32) -> usize {
        let mut t = self.root;
        let mut r = 0usize;
        while t != NIL {
            let node = &self.nodes[t as usize];
            if t == n {
                return r + self.size(node.left) as usize;
            }
            if self.less(n, t) {
                t = node.left;
            } else {
                r += self.size(node.left) as usize + 1;
                t = node.right;
            }
        }
        r
    }

    fn select(&self, mut k: usize) -> u32 {
        let mut t = self.root;
        while t != NIL {
            let node = &self.nodes[t as usize];
            let ls = self.size(node.left) as usize;
            match k.cmp(&ls) {
                Ordering::Less => t = node.left,
                Ordering::Equal => return t,
                Ordering::Greater => {
                    k -= ls + 1;
                    t = node.right;
                }
            }
        }
        NIL
    }

    fn partition(&self, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        let mut t = self.root;
        let mut r = 0usize;
        while t != NIL {
            let node = &self.nodes[t as usize];
            if pred(node.score, node.member.as_slice()) {
                r += self.size(node.left) as usize + 1;
                t = node.right;
            } else {
                t = node.left;
            }
        }
        r
    }

    fn iter_from(&self, mut k: usize, rev: bool) -> TreeIter<'_> {
        let mut stack = Vec::with_capacity(48);
        let mut t = self.root;
        while t != NIL {
            let node = &self.nodes[t as usize];
            let ls = self.size(node.left) as usize;
            match k.cmp(&ls) {
                Ordering::Less => {
                    if !rev {
                        stack.push(t);
                    }
                    t = node.left;
                }
                Ordering::Equal => {
                    stack.push(t);
                    break;
                }
                Ordering::Greater => {
                    if rev {
                        stack.push(t);
                    }
                    k -= ls + 1;
                    t = node.right;
                }
            }
        }
        TreeIter { tree: self, stack, rev }
    }

    fn remove_range(&mut self, start: usize, end: usize, collect: Option<&mut Vec<(Vec<u8>, f64)>>) -> usize {
        let (l, r) = self.split_rank(self.root, start as u32);
        let (mid, r) = self.split_rank(r, (end - start) as u32);
        self.root = self.merge(l, r);
        // Walk the cut-out subtree in order, releasing its slots.
        let mut out = collect;
        let mut stack = Vec::new();
        let mut t = mid;
        let mut n = 0;
        loop {
            while t != NIL {
                stack.push(t);
                t = self.nodes[t as usize].left;
            }
            let Some(x) = stack.pop() else { break };
            t = self.nodes[x as usize].right;
            if let Some(c) = out.as_deref_mut() {
                let node = &self.nodes[x as usize];
                c.push((node.member.as_slice().to_vec(), node.score));
            }
            self.release(x);
            n += 1;
        }
        self.compact_tail();
        n
    }
}

/// In-order walk of a treap from a given rank, upwards or downwards.
pub struct TreeIter<'a> {
    tree: &'a Tree,
    stack: Vec<u32>,
    rev: bool,
}

impl<'a> Iterator for TreeIter<'a> {
    type Item = (&'a [u8], f64);
    fn next(&mut self) -> Option<(&'a [u8], f64)> {
        let x = self.stack.pop()?;
        let nodes = &self.tree.nodes;
        let node = &nodes[x as usize];
        let mut t = if self.rev { node.left } else { node.right };
        while t != NIL {
            self.stack.push(t);
            let n = &nodes[t as usize];
            t = if self.rev { n.right } else { n.left };
        }
        Some((node.member.as_slice(), node.score))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeSet, HashMap};

    #[derive(PartialEq)]
    struct Key(f64, Vec<u8>);
    impl Eq for Key {}
    impl PartialOrd for Key {
        fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
            Some(self.cmp(o))
        }
    }
    impl Ord for Key {
        fn cmp(&self, o: &Self) -> Ordering {
            cmp_entry(self.0, &self.1, o.0, &o.1)
        }
    }

    fn check(z: &ZSet, model: &BTreeSet<Key>) {
        assert_eq!(z.len(), model.len());
        let got: Vec<(Vec<u8>, f64)> = z.iter().map(|(m, s)| (m.to_vec(), s)).collect();
        let want: Vec<(Vec<u8>, f64)> = model.iter().map(|k| (k.1.clone(), k.0)).collect();
        assert_eq!(got, want);
        let rev: Vec<(Vec<u8>, f64)> = z.iter_from(usize::MAX, true).map(|(m, s)| (m.to_vec(), s)).collect();
        let mut w2 = want.clone();
        w2.reverse();
        assert_eq!(rev, w2);
        for (i, (m, s)) in want.iter().enumerate().step_by(7) {
            assert_eq!(z.rank(m), Some(i));
            assert_eq!(z.score(m), Some(*s));
            assert_eq!(z.get(i).map(|(m, s)| (m.to_vec(), s)), Some((m.clone(), *s)));
            let fwd: Vec<_> = z.iter_from(i, false).take(3).map(|(m, _)| m.to_vec()).collect();
            let wf: Vec<_> = want[i..].iter().take(3).map(|e| e.0.clone()).collect();
            assert_eq!(fwd, wf);
            let bwd: Vec<_> = z.iter_from(i, true).take(3).map(|(m, _)| m.to_vec()).collect();
            let wb: Vec<_> = want[..=i].iter().rev().take(3).map(|e| e.0.clone()).collect();
            assert_eq!(bwd, wb);
        }
    }

    fn run(lim: Limits, ops: usize) {
        let mut z = ZSet::new();
        let mut model = BTreeSet::new();
        let mut scores: HashMap<Vec<u8>, f64> = HashMap::new();
        let mut rng = 0x1234_5678_9abc_def1u64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        for i in 0..ops {
            let r = next();
            let m = format!("m{}", r % 300).into_bytes();
            let s = ((r >> 20) % 50) as f64 / 2.0;
            match r % 7 {
                0..=3 => {
                    if let Some(old) = scores.get(&m).copied() {
                        model.remove(&Key(old, m.clone()));
                        z.update(&m, s);
                    } else {
                        z.insert_new(&m, s, lim);
                    }
                    model.insert(Key(s, m.clone()));
                    scores.insert(m, s);
                }
                4 | 5 => {
                    let old = scores.remove(&m);
                    assert_eq!(z.remove(&m), old);
                    if let Some(o) = old {
                        model.remove(&Key(o, m));
                    }
                }
                _ => {
                    let len = z.len();
                    if len > 0 {
                        let a = (r >> 8) as usize % len;
                        let b = (a + (r >> 30) as usize % 5).min(len);
                        let mut got = Vec::new();
                        let n = z.remove_range(a, b, Some(&mut got));
                        let gone: Vec<Vec<u8>> = model.iter().skip(a).take(b - a).map(|k| k.1.clone()).collect();
                        assert_eq!(n, gone.len());
                        assert_eq!(got.iter().map(|g| g.0.clone()).collect::<Vec<_>>(), gone);
                        for g in gone {
                            let o = scores.remove(&g).unwrap();
                            model.remove(&Key(o, g));
                        }
                    }
                }
            }
            if i % 97 == 0 {
                check(&z, &model);
                let lt = z.count_while(|s, _| s < 10.0);
                assert_eq!(lt, model.iter().filter(|k| k.0 < 10.0).count());
            }
        }
        check(&z, &model);
    }

    #[test]
    fn listpack_matches_model() {
        run(Limits { entries: 100_000, value: 64 }, 3000);
    }

    #[test]
    fn skiplist_matches_model() {
        run(Limits { entries: 0, value: 64 }, 20_000);
    }

    #[test]
    fn converts_at_limits() {
        let lim = Limits { entries: 3, value: 4 };
        let mut z = ZSet::new();
        for m in [b"a", b"b", b"c"] {
            z.insert_new(m, 1.0, lim);
        }
        assert_eq!(z.encoding(), "listpack");
        z.insert_new(b"d", 1.0, lim);
        assert_eq!(z.encoding(), "skiplist");
        let mut y = ZSet::new();
        y.insert_new(b"abcde", 1.0, lim);
        assert_eq!(y.encoding(), "skiplist");
        let e: Vec<(&[u8], f64)> = vec![(b"a", 1.0), (b"b", 2.0)];
        assert_eq!(ZSet::from_sorted(e.iter().copied(), lim).encoding(), "listpack");
    }

    #[test]
    fn packed_scores_round_trip() {
        let lim = Limits { entries: 128, value: 64 };
        let scores = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            63.0,
            64.0,
            -65.0,
            0.5,
            -2.5,
            9007199254740991.0,
            9007199254740992.0,
            -9007199254740992.0,
            1e300,
            -1e-300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE / 4.0,
        ];
        let mut z = ZSet::new();
        for (i, s) in scores.iter().enumerate() {
            z.insert_new(format!("m{i}").as_bytes(), *s, lim);
        }
        assert_eq!(z.encoding(), "listpack");
        for (i, s) in scores.iter().enumerate() {
            let got = z.score(format!("m{i}").as_bytes()).unwrap();
            assert_eq!(got, *s);
            assert!(!(got == 0.0 && got.is_sign_negative()), "-0 is stored as 0 in a listpack");
        }
        assert_eq!(std::mem::size_of::<ZSet>(), 16);
    }

    #[test]
    fn scan_by_slot_sees_every_member() {
        let lim = Limits { entries: 0, value: 64 };
        let mut z = ZSet::new();
        for i in 0..1000 {
            z.insert_new(format!("m{i}").as_bytes(), i as f64, lim);
        }
        let mut seen = BTreeSet::new();
        let mut cur = 0;
        loop {
            let (next, items) = z.scan(cur, 10);
            seen.extend(items.into_iter().map(|(m, _)| m.to_vec()));
            if next == 0 {
                break;
            }
            cur = next;
        }
        assert_eq!(seen.len(), 1000);
    }
}
