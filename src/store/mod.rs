//! The keyspace: 16 databases, each a power-of-two array of cache-padded, RwLock'd stripes.
//!
//! Owns: keys, values, expiry (lazy on access plus sampled active expiry), per-stripe
//! counters. Must hold:
//! - a key's stripe is a pure function of its bytes (or of its `{hash tag}`), identical in
//!   every db, so lock plans can be computed before locking;
//! - locks are taken in ascending (db, stripe) order by everyone who holds more than one;
//! - an expired key is never returned by a lookup, even before it is physically removed;
//! - every key with a TTL is in its stripe's volatile index exactly once (O(1) sampling);
//! - while a snapshot is open on a stripe (`snapshot_begin` .. `snapshot_end`), every
//!   mutation first records the key's value as of the snapshot point (copy-before-write,
//!   see [`Snapshot`]), so a snapshot reader sees exactly the data of that point;
//! - while an undo record is open (`undo_begin` .. `undo_commit`/`undo_rollback`, a
//!   parallel script's stripes), every mutation first saves the key's item as it was when
//!   the record opened, so `undo_rollback` can put the stripe back exactly.
//!
//! Imports nothing else from the crate.

pub mod bytes;
pub mod glob;
pub mod hash;
pub mod list;
pub mod num;
pub mod set;
pub mod stream;
pub mod value;
pub mod zset;

pub use bytes::CompactBytes;
pub use glob::glob_match;
pub use value::Value;

use crossbeam_utils::CachePadded;
use hashbrown::HashTable;
use parking_lot::RwLock;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU32, Ordering};

pub const NO_EXPIRE: i64 = -1;

/// One key and its value, boxed so its address is stable while it lives in a stripe.
pub struct Item {
    pub key: CompactBytes,
    pub val: Value,
    expire_at: i64,
    vidx: u32,
    /// LRU clock (seconds) of the last access: OBJECT IDLETIME.
    pub lru: AtomicU32,
}

impl Item {
    /// A copy of the item (value, TTL, access clock), not yet in any stripe.
    fn duplicate(&self) -> Box<Item> {
        Box::new(Item {
            key: self.key.clone(),
            val: self.val.clone(),
            expire_at: self.expire_at,
            vidx: 0,
            lru: AtomicU32::new(self.lru.load(Ordering::Relaxed)),
        })
    }
    /// Absolute expiry in unix ms, or None.
    pub fn expire_at(&self) -> Option<i64> {
        (self.expire_at != NO_EXPIRE).then_some(self.expire_at)
    }
    pub fn is_expired(&self, now: i64) -> bool {
        self.expire_at != NO_EXPIRE && self.expire_at <= now
    }
    /// Records an access: the LRU clock, or (under an LFU policy) Redis's logarithmic
    /// access counter.
    pub fn touch(&self, now: i64) {
        if lfu::enabled() {
            let v = self.lru.load(Ordering::Relaxed);
            self.lru.store(lfu::on_access(v, now), Ordering::Relaxed);
        } else {
            // Reads touch on every lookup: skip the store when the second is unchanged, so
            // hot keys read from several workers don't bounce their cache line.
            let clock = lru_clock(now);
            if self.lru.load(Ordering::Relaxed) != clock {
                self.lru.store(clock, Ordering::Relaxed);
            }
        }
    }
}

/// Wall-clock unix time in ms (every "now" in the server comes from here).
pub fn unix_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

pub fn lru_clock(now_ms: i64) -> u32 {
    (now_ms / 1000) as u32
}

/// The access field of a new item: LRU clock, or LFU counter 5 (Redis's LFU_INIT_VAL).
pub fn initial_access(now_ms: i64) -> u32 {
    if lfu::enabled() {
        lfu::initial(now_ms)
    } else {
        lru_clock(now_ms)
    }
}

/// Redis's LFU approximation, kept in `Item::lru` while an LFU policy is on: the low 8
/// bits are a logarithmic access counter, the bits above the minute (mod 2^16) of the
/// last decrement.
pub mod lfu {
    use std::cell::Cell;
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

    static ON: AtomicBool = AtomicBool::new(false);
    static LOG_FACTOR: AtomicU32 = AtomicU32::new(10);
    static DECAY_TIME: AtomicU32 = AtomicU32::new(1);
    pub const INIT_VAL: u32 = 5;

    pub fn enabled() -> bool {
        ON.load(Ordering::Relaxed)
    }
    /// Switches the meaning of `Item::lru` (maxmemory-policy) and sets lfu-log-factor /
    /// lfu-decay-time.
    pub fn configure(on: bool, log_factor: u32, decay_time: u32) {
        ON.store(on, Ordering::Relaxed);
        LOG_FACTOR.store(log_factor, Ordering::Relaxed);
        DECAY_TIME.store(decay_time, Ordering::Relaxed);
    }
    fn minutes(now_ms: i64) -> u32 {
        ((now_ms / 60_000) as u32) & 0xffff
    }
    pub fn initial(now_ms: i64) -> u32 {
        (minutes(now_ms) << 8) | INIT_VAL
    }
    /// A value with the given counter (RESTORE FREQ).
    pub fn with_counter(now_ms: i64, counter: u32) -> u32 {
        (minutes(now_ms) << 8) | counter.min(255)
    }
    /// Redis's LFUDecrAndReturn: the counter after the decay since its last decrement.
    pub fn counter(v: u32, now_ms: i64) -> u32 {
        let ldt = (v >> 8) & 0xffff;
        let now = minutes(now_ms);
        let elapsed = if now >= ldt { now - ldt } else { 65535 - ldt + now };
        let decay = DECAY_TIME.load(Ordering::Relaxed);
        let periods = elapsed.checked_div(decay).unwrap_or(0);
        (v & 0xff).saturating_sub(periods)
    }
    thread_local!(static RNG: Cell<u64> = const { Cell::new(0x9e37_79b9_7f4a_7c15) });
    /// Redis's updateLFU: decay, then a logarithmic increment.
    pub fn on_access(v: u32, now_ms: i64) -> u32 {
        let mut c = counter(v, now_ms);
        if c < 255 {
            let r = RNG.with(|g| {
                let mut x = g.get();
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                g.set(x);
                (x >> 11) as f64 / (1u64 << 53) as f64
            });
            let base = c.saturating_sub(INIT_VAL) as f64;
            let p = 1.0 / (base * LOG_FACTOR.load(Ordering::Relaxed) as f64 + 1.0);
            if r < p {
                c += 1;
            }
        }
        (minutes(now_ms) << 8) | c
    }
}

#[derive(Clone, Copy)]
struct VPtr(*mut Item);
// SAFETY: a VPtr points into a Box<Item> owned by the same stripe's table; it is only
// dereferenced while the stripe is locked for writing (or read through &self while the
// stripe is borrowed), and removed from the index before the item is dropped.
unsafe impl Send for VPtr {}
unsafe impl Sync for VPtr {}

pub type Hasher = foldhash::fast::FixedState;

/// One lock's worth of keys.
pub struct Stripe {
    table: HashTable<Box<Item>>,
    volatile: Vec<VPtr>,
    hasher: Hasher,
    /// Keys removed because their TTL passed (lazy or active).
    pub expired: u64,
    /// Bumped by every change to the stripe (and by `get_mut`, which hands out a value to
    /// modify): WATCH compares it before and after a write command to find touched keys.
    pub mods: u64,
    /// The open snapshot's copy-before-write record, if a snapshot has not read this
    /// stripe yet.
    snap: Option<Box<Snapshot>>,
    /// Keys removed because their TTL passed, kept while `track_expired` is on (the AOF
    /// logs them as DEL, as Redis propagates expirations) until `take_expired`.
    expired_keys: Option<Vec<CompactBytes>>,
    /// The open undo record of a parallel script holding this stripe, if any.
    undo: Option<Box<Undo>>,
}

/// Before-images of the keys changed since `undo_begin` (`None`: the key did not exist),
/// each saved at its first change, plus the expiry counters of that moment.
struct Undo {
    pre: hashbrown::HashMap<Vec<u8>, Option<Box<Item>>, Hasher>,
    expired: u64,
    expired_keys: usize,
}

/// A key's state at the snapshot point, saved before its first change after that point.
pub struct Saved {
    pub key: CompactBytes,
    pub val: Value,
    pub expire_at: Option<i64>,
}

/// Copy-before-write record of one stripe for an open snapshot (forkless BGSAVE).
///
/// `pre` maps every key changed since the snapshot point to its state at that point
/// (`None`: it did not exist). Keys not in `pre` are unchanged, so the snapshot reads them
/// straight from the table. Each key is copied at most once per snapshot.
#[derive(Default)]
struct Snapshot {
    pre: HashMap<Vec<u8>, Option<Saved>>,
}

impl Stripe {
    fn new(hasher: Hasher) -> Stripe {
        Stripe {
            table: HashTable::new(),
            volatile: Vec::new(),
            hasher,
            expired: 0,
            mods: 0,
            snap: None,
            expired_keys: None,
            undo: None,
        }
    }

    /// An empty stripe that belongs to no database (a stand-in for one that could not be
    /// locked; see `commands::Ctx::with_stripe`).
    pub fn detached() -> Stripe {
        Stripe::new(Hasher::with_seed(0))
    }

    /// Records `key`'s current state in the open snapshot and undo record (if any)
    /// before it changes.
    #[inline]
    fn preserve(&mut self, key: &[u8], h: u64) {
        if self.snap.is_some() || self.undo.is_some() {
            self.preserve_slow(key, h);
        }
    }

    #[cold]
    fn preserve_slow(&mut self, key: &[u8], h: u64) {
        if let Some(snap) = self.snap.as_mut() {
            if !snap.pre.contains_key(key) {
                let old = self.table.find(h, |it| it.key.as_slice() == key).map(|it| Saved {
                    key: it.key.clone(),
                    val: it.val.clone(),
                    expire_at: it.expire_at(),
                });
                snap.pre.insert(key.to_vec(), old);
            }
        }
        if let Some(undo) = self.undo.as_mut() {
            if let hashbrown::hash_map::EntryRef::Vacant(v) = undo.pre.entry_ref(key) {
                v.insert(self.table.find(h, |it| it.key.as_slice() == key).map(|it| it.duplicate()));
            }
        }
    }

    /// Records every key of the stripe in the open snapshot and undo record (before
    /// SWAPDB and FLUSH*).
    fn preserve_all(&mut self) {
        if let Some(snap) = self.snap.as_mut() {
            for it in self.table.iter() {
                if !snap.pre.contains_key(it.key.as_slice()) {
                    let saved = Saved { key: it.key.clone(), val: it.val.clone(), expire_at: it.expire_at() };
                    snap.pre.insert(it.key.as_slice().to_vec(), Some(saved));
                }
            }
        }
        if let Some(undo) = self.undo.as_mut() {
            for it in self.table.iter() {
                if !undo.pre.contains_key(it.key.as_slice()) {
                    undo.pre.insert(it.key.as_slice().to_vec(), Some(it.duplicate()));
                }
            }
        }
    }

    /// Opens an undo record (a parallel script took this stripe): from now on every
    /// change saves the key's item first. A record already open is kept.
    pub fn undo_begin(&mut self) {
        if self.undo.is_none() {
            let expired_keys = self.expired_keys.as_ref().map_or(0, |v| v.len());
            let pre = hashbrown::HashMap::with_hasher(self.hasher);
            self.undo = Some(Box::new(Undo { pre, expired: self.expired, expired_keys }));
        }
    }

    /// Closes the undo record, keeping every change.
    pub fn undo_commit(&mut self) {
        self.undo = None;
    }

    /// Closes the undo record, putting back every key changed since `undo_begin` (value,
    /// TTL and access clock) and the expiry counters. `mods` keeps counting up, so a
    /// WATCH that compares it only errs on the side of "changed".
    pub fn undo_rollback(&mut self) {
        let Some(undo) = self.undo.take() else { return };
        for (key, old) in undo.pre {
            self.remove(&key);
            if let Some(item) = old {
                self.insert_item(item);
            }
        }
        self.expired = undo.expired;
        if let Some(v) = self.expired_keys.as_mut() {
            v.truncate(undo.expired_keys);
        }
    }

    /// Starts (or stops) recording the keys expiry removes (see `take_expired`).
    pub fn track_expired(&mut self, on: bool) {
        self.expired_keys = if on { Some(self.expired_keys.take().unwrap_or_default()) } else { None };
    }

    /// The keys expiry removed since the last call (empty unless tracking).
    pub fn take_expired(&mut self) -> Vec<CompactBytes> {
        match self.expired_keys.as_mut() {
            Some(v) if !v.is_empty() => std::mem::take(v),
            _ => Vec::new(),
        }
    }

    fn note_expired(&mut self, key: &[u8]) {
        self.expired += 1;
        if let Some(v) = self.expired_keys.as_mut() {
            v.push(CompactBytes::new(key));
        }
    }

    /// Opens a snapshot of this stripe: from now on changes copy the old state first.
    /// The caller holds every stripe's write lock so all stripes share one point in time.
    pub fn snapshot_begin(&mut self) {
        self.snap = Some(Box::default());
    }

    /// True while a snapshot is open and has not read this stripe yet.
    pub fn snapshot_open(&self) -> bool {
        self.snap.is_some()
    }

    /// Calls `f(key, value, expire_at)` for every key as it was at the snapshot point
    /// (or, with no snapshot open, as it is now). Order is unspecified.
    pub fn snapshot_visit(&self, mut f: impl FnMut(&[u8], &Value, Option<i64>)) {
        match &self.snap {
            None => {
                for it in self.table.iter() {
                    f(it.key.as_slice(), &it.val, it.expire_at());
                }
            }
            Some(snap) => {
                for it in self.table.iter() {
                    if !snap.pre.contains_key(it.key.as_slice()) {
                        f(it.key.as_slice(), &it.val, it.expire_at());
                    }
                }
                for s in snap.pre.values().flatten() {
                    f(s.key.as_slice(), &s.val, s.expire_at);
                }
            }
        }
    }

    /// Closes the snapshot on this stripe, dropping the copies.
    pub fn snapshot_end(&mut self) -> Option<usize> {
        self.snap.take().map(|s| s.pre.len())
    }

    pub fn len(&self) -> usize {
        self.table.len()
    }
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }
    pub fn volatile_len(&self) -> usize {
        self.volatile.len()
    }

    #[inline]
    fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    /// Looks a live key up without changing anything (read lock is enough).
    pub fn get(&self, key: &[u8], now: i64) -> Option<&Item> {
        let h = self.hash(key);
        let it = self.table.find(h, |it| it.key.as_slice() == key)?;
        if it.is_expired(now) {
            None
        } else {
            Some(it)
        }
    }

    /// Looks a key up whether or not it has expired (callers check `is_expired`).
    pub fn peek(&self, key: &[u8]) -> Option<&Item> {
        let h = self.hash(key);
        self.table.find(h, |it| it.key.as_slice() == key).map(|b| &**b)
    }

    /// Looks a live key up for modification; an expired key is removed first.
    pub fn get_mut(&mut self, key: &[u8], now: i64) -> Option<&mut Item> {
        let h = self.hash(key);
        self.preserve(key, h);
        let expired = self.table.find(h, |it| it.key.as_slice() == key)?.is_expired(now);
        if expired {
            self.remove_hashed(key, h);
            self.note_expired(key);
            return None;
        }
        self.mods += 1;
        self.table.find_mut(h, |it| it.key.as_slice() == key).map(|b| &mut **b)
    }

    /// Removes the key if it is expired; true when it did.
    pub fn expire_if_needed(&mut self, key: &[u8], now: i64) -> bool {
        let h = self.hash(key);
        match self.table.find(h, |it| it.key.as_slice() == key) {
            Some(it) if it.is_expired(now) => {
                self.remove_hashed(key, h);
                self.note_expired(key);
                true
            }
            _ => false,
        }
    }

    /// Sets key to val with the given expiry (None: no TTL), replacing any old entry.
    pub fn set(&mut self, key: &[u8], val: Value, expire_at: Option<i64>, now: i64) {
        let h = self.hash(key);
        self.mods += 1;
        self.preserve(key, h);
        if let Some(it) = self.table.find_mut(h, |it| it.key.as_slice() == key) {
            it.val = val;
            it.touch(now);
        } else {
            let item = Box::new(Item {
                key: CompactBytes::new(key),
                val,
                expire_at: NO_EXPIRE,
                vidx: 0,
                lru: AtomicU32::new(initial_access(now)),
            });
            let hasher = self.hasher;
            self.table.insert_unique(h, item, move |it| hasher.hash_one(it.key.as_slice()));
        }
        self.set_expire_hashed(key, h, expire_at);
    }

    /// Changes a key's TTL; false if the key does not exist.
    pub fn set_expire(&mut self, key: &[u8], expire_at: Option<i64>) -> bool {
        let h = self.hash(key);
        self.set_expire_hashed(key, h, expire_at)
    }

    fn set_expire_hashed(&mut self, key: &[u8], h: u64, expire_at: Option<i64>) -> bool {
        self.preserve(key, h);
        let Some(it) = self.table.find_mut(h, |it| it.key.as_slice() == key) else {
            return false;
        };
        let it: *mut Item = &mut **it;
        // SAFETY: `it` points into a box owned by the table, which we hold mutably.
        let item = unsafe { &mut *it };
        if !(item.expire_at == NO_EXPIRE && expire_at.is_none()) {
            self.mods += 1;
        }
        match (item.expire_at != NO_EXPIRE, expire_at) {
            (false, Some(at)) => {
                item.expire_at = at;
                item.vidx = self.volatile.len() as u32;
                self.volatile.push(VPtr(it));
            }
            (true, Some(at)) => item.expire_at = at,
            (true, None) => {
                let idx = item.vidx as usize;
                item.expire_at = NO_EXPIRE;
                self.unindex(idx);
            }
            (false, None) => {}
        }
        true
    }

    fn unindex(&mut self, idx: usize) {
        self.volatile.swap_remove(idx);
        if let Some(moved) = self.volatile.get(idx) {
            // SAFETY: index entries point at live items of this stripe.
            unsafe { (*moved.0).vidx = idx as u32 };
        }
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<Box<Item>> {
        let h = self.hash(key);
        self.remove_hashed(key, h)
    }

    fn remove_hashed(&mut self, key: &[u8], h: u64) -> Option<Box<Item>> {
        self.preserve(key, h);
        let entry = self.table.find_entry(h, |it| it.key.as_slice() == key).ok()?;
        let (item, _) = entry.remove();
        self.mods += 1;
        if item.expire_at != NO_EXPIRE {
            self.unindex(item.vidx as usize);
        }
        Some(item)
    }

    /// Inserts a whole item (MOVE, COPY, RENAME), replacing any existing one.
    pub fn insert_item(&mut self, mut item: Box<Item>) {
        self.mods += 1;
        let key = item.key.clone();
        self.remove(key.as_slice());
        let at = item.expire_at();
        item.expire_at = NO_EXPIRE;
        let h = self.hash(key.as_slice());
        let hasher = self.hasher;
        self.table.insert_unique(h, item, move |it| hasher.hash_one(it.key.as_slice()));
        self.set_expire_hashed(key.as_slice(), h, at);
    }

    /// Every item, live or not yet reaped (callers filter with `is_expired`).
    pub fn iter(&self) -> impl Iterator<Item = &Item> {
        self.table.iter().map(|b| &**b)
    }

    /// Empties the stripe, returning the old contents so they can be dropped elsewhere.
    pub fn take(&mut self) -> StripeContents {
        if self.undo.is_some() {
            self.preserve_all();
        }
        self.volatile.clear();
        self.mods += 1;
        let mut table = std::mem::replace(&mut self.table, HashTable::new());
        if let Some(snap) = self.snap.as_mut() {
            // The snapshot still needs the old items: move them into its record.
            let mut rest = HashTable::new();
            let hasher = self.hasher;
            for it in table.drain() {
                if snap.pre.contains_key(it.key.as_slice()) {
                    rest.insert_unique(hasher.hash_one(it.key.as_slice()), it, |i| hasher.hash_one(i.key.as_slice()));
                } else {
                    let it = *it;
                    let expire_at = it.expire_at();
                    let saved = Saved { key: it.key, val: it.val, expire_at };
                    snap.pre.insert(saved.key.as_slice().to_vec(), Some(saved));
                }
            }
            table = rest;
        }
        StripeContents(table)
    }

    /// Swaps contents with another stripe (SWAPDB). (Never under an undo record: parallel
    /// scripts run no keyspace-wide command; a rollback would not swap back.)
    pub fn swap_contents(&mut self, other: &mut Stripe) {
        self.preserve_all();
        other.preserve_all();
        std::mem::swap(&mut self.table, &mut other.table);
        self.mods += 1;
        other.mods += 1;
        std::mem::swap(&mut self.volatile, &mut other.volatile);
    }

    /// One round of Redis-style active expiry: sample up to `samples` keys with a TTL,
    /// remove the expired ones. Returns (sampled, expired).
    pub fn expire_sample(&mut self, now: i64, samples: usize, rng: &mut u64) -> (usize, usize) {
        let n = samples.min(self.volatile.len());
        let mut expired = 0;
        for _ in 0..n {
            if self.volatile.is_empty() {
                break;
            }
            *rng ^= *rng << 13;
            *rng ^= *rng >> 7;
            *rng ^= *rng << 17;
            let idx = (*rng % self.volatile.len() as u64) as usize;
            // SAFETY: index entries point at live items of this stripe.
            let (dead, key) = unsafe {
                let it = &*self.volatile[idx].0;
                (it.is_expired(now), it.key.clone())
            };
            if dead {
                self.remove(key.as_slice());
                self.note_expired(key.as_slice());
                expired += 1;
            }
        }
        (n, expired)
    }

    /// Up to `n` random keys (only keys with a TTL when `volatile`) with their access
    /// field and expiry, for eviction sampling. Expired keys are included (the caller
    /// evicts them first, as Redis would have expired them).
    pub fn sample(&self, n: usize, volatile: bool, rng: &mut u64, out: &mut Vec<(CompactBytes, u32, i64)>) {
        let mut next = || {
            *rng ^= *rng << 13;
            *rng ^= *rng >> 7;
            *rng ^= *rng << 17;
            *rng
        };
        if volatile {
            for _ in 0..n.min(self.volatile.len()) {
                let i = (next() % self.volatile.len() as u64) as usize;
                // SAFETY: index entries point at live items of this stripe.
                let it = unsafe { &*self.volatile[i].0 };
                out.push((it.key.clone(), it.lru.load(Ordering::Relaxed), it.expire_at));
            }
        } else if !self.table.is_empty() {
            for _ in 0..n.min(self.table.len()) {
                let skip = (next() % self.table.len() as u64) as usize;
                if let Some(it) = self.table.iter().nth(skip) {
                    out.push((it.key.clone(), it.lru.load(Ordering::Relaxed), it.expire_at));
                }
            }
        }
    }

    /// Approximate bytes used by this stripe's keys and values.
    pub fn memory(&self) -> usize {
        let per_item = std::mem::size_of::<Item>() + 16;
        let mut total = self.table.capacity() * 9 + self.volatile.capacity() * 8;
        for it in self.table.iter() {
            total += per_item + it.key.heap_size() + it.val.heap_size();
        }
        total
    }
}

/// Contents taken out of a stripe (FLUSHDB/FLUSHALL): dropping it frees the memory.
pub struct StripeContents(HashTable<Box<Item>>);

impl StripeContents {
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

pub type StripeLock = CachePadded<RwLock<Stripe>>;

/// One numbered database.
pub struct Db {
    pub stripes: Box<[StripeLock]>,
    mask: usize,
    hasher: Hasher,
}

impl Db {
    fn new(nstripes: usize, hasher: Hasher) -> Db {
        let stripes = (0..nstripes).map(|_| CachePadded::new(RwLock::new(Stripe::new(hasher))));
        Db { stripes: stripes.collect(), mask: nstripes - 1, hasher }
    }

    /// The stripe a key lives in: by its `{hash tag}` if it has a non-empty one.
    #[inline]
    pub fn stripe_of(&self, key: &[u8]) -> usize {
        let h = self.hasher.hash_one(hash_tag(key));
        ((h >> 32) as usize) & self.mask
    }

    pub fn len(&self) -> usize {
        self.stripes.len()
    }
    pub fn is_empty(&self) -> bool {
        self.stripes.is_empty()
    }
}

/// Redis Cluster's hash tag rule: the part between the first `{` and the next `}`, if
/// non-empty; otherwise the whole key.
pub fn hash_tag(key: &[u8]) -> &[u8] {
    if let Some(open) = key.iter().position(|&c| c == b'{') {
        if let Some(close) = key[open + 1..].iter().position(|&c| c == b'}') {
            if close > 0 {
                return &key[open + 1..open + 1 + close];
            }
        }
    }
    key
}

/// All databases.
pub struct Keyspace {
    pub dbs: Box<[Db]>,
}

impl Keyspace {
    /// `nstripes` is rounded up to a power of two.
    pub fn new(ndbs: usize, nstripes: usize) -> Keyspace {
        let nstripes = nstripes.max(1).next_power_of_two();
        let seed = random_seed();
        let hasher = Hasher::with_seed(seed);
        Keyspace { dbs: (0..ndbs.max(1)).map(|_| Db::new(nstripes, hasher)).collect() }
    }
    pub fn nstripes(&self) -> usize {
        self.dbs[0].stripes.len()
    }
}

fn random_seed() -> u64 {
    use std::collections::hash_map::RandomState;
    RandomState::new().hash_one(0x5eed_u64)
}

/// Redis's strict string2ll (no spaces, no '+', no leading zeros).
pub fn parse_i64_strict(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = if s[0] == b'-' { (true, &s[1..]) } else { (false, s) };
    if digits.is_empty() || !(b'1'..=b'9').contains(&digits[0]) {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    if neg {
        (v <= i64::MAX as u64 + 1).then(|| (v as i64).wrapping_neg())
    } else {
        (v <= i64::MAX as u64).then_some(v as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_is_compact() {
        assert_eq!(std::mem::size_of::<Item>(), 64);
    }

    #[test]
    fn volatile_index_stays_consistent() {
        let ks = Keyspace::new(1, 1);
        let mut s = ks.dbs[0].stripes[0].write();
        for i in 0..100 {
            let k = format!("k{i}");
            s.set(k.as_bytes(), Value::string(b"v"), (i % 2 == 0).then_some(1000 + i), 0);
        }
        assert_eq!(s.volatile_len(), 50);
        for i in (0..100).step_by(4) {
            s.remove(format!("k{i}").as_bytes());
        }
        for i in (2..100).step_by(8) {
            s.set_expire(format!("k{i}").as_bytes(), None);
        }
        s.set(b"k6", Value::string(b"x"), None, 0); // SET clears the TTL
        let live: usize = s.iter().filter(|it| it.expire_at().is_some()).count();
        assert_eq!(live, s.volatile_len());
        let mut rng = 42;
        let (_, exp) = s.expire_sample(i64::MAX, 1000, &mut rng);
        assert!(exp > 0);
        assert_eq!(s.iter().filter(|it| it.expire_at().is_some()).count(), s.volatile_len());
    }

    #[test]
    fn expired_keys_are_invisible() {
        let ks = Keyspace::new(1, 4);
        let db = &ks.dbs[0];
        let mut s = db.stripes[db.stripe_of(b"a")].write();
        s.set(b"a", Value::string(b"1"), Some(100), 0);
        assert!(s.get(b"a", 99).is_some());
        assert!(s.get(b"a", 100).is_none());
        assert!(s.get_mut(b"a", 100).is_none());
        assert_eq!(s.len(), 0);
        assert_eq!(s.expired, 1);
    }

    #[test]
    fn hash_tags_pick_the_stripe() {
        assert_eq!(hash_tag(b"{user1}.a"), b"user1");
        assert_eq!(hash_tag(b"{}.a"), b"{}.a");
        assert_eq!(hash_tag(b"a{b}{c}"), b"b");
        let ks = Keyspace::new(1, 1024);
        let db = &ks.dbs[0];
        assert_eq!(db.stripe_of(b"{x}1"), db.stripe_of(b"{x}2"));
    }

    /// Everything about a stripe a rollback must restore, in key order.
    fn contents(s: &Stripe) -> Vec<(Vec<u8>, String, Option<i64>)> {
        let mut v: Vec<_> =
            s.iter().map(|it| (it.key.as_slice().to_vec(), format!("{:?}", it.val), it.expire_at())).collect();
        v.sort();
        v
    }

    #[test]
    fn undo_rollback_restores_every_change() {
        let ks = Keyspace::new(1, 1);
        let mut s = ks.dbs[0].stripes[0].write();
        s.track_expired(true);
        s.set(b"plain", Value::string(b"1"), None, 0);
        s.set(b"ttl", Value::string(b"2"), Some(5_000), 0);
        s.set(b"gone", Value::string(b"3"), None, 0);
        s.set(b"stale", Value::string(b"4"), Some(10), 0);
        s.set(b"other", Value::string(b"5"), Some(9_000), 0);
        let before = contents(&s);
        let (expired, vol) = (s.expired, s.volatile_len());
        s.undo_begin();
        // Every kind of change: overwrite, TTL removal and change, delete, create, an
        // in-place change, a lazy expiry, and a second change to the same key.
        s.set(b"plain", Value::string(b"changed"), Some(7_000), 100);
        s.set_expire(b"ttl", None);
        s.remove(b"gone");
        s.set(b"new", Value::string(b"n"), Some(8_000), 100);
        if let Some(it) = s.get_mut(b"other", 100) {
            it.val = Value::string(b"mutated");
        }
        assert!(s.get_mut(b"stale", 100).is_none());
        s.set(b"plain", Value::string(b"again"), None, 100);
        assert_eq!(s.expired, expired + 1);
        s.undo_rollback();
        assert_eq!(contents(&s), before);
        assert_eq!((s.expired, s.volatile_len()), (expired, vol));
        assert!(s.take_expired().is_empty(), "the rolled-back expiry is not logged");
        // The volatile index is whole again: every TTL'd key can be sampled and expired.
        let mut rng = 7u64;
        let mut gone = 0;
        for _ in 0..100 {
            gone += s.expire_sample(100_000, 10, &mut rng).1;
        }
        assert_eq!(gone, 3);
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn undo_commit_keeps_changes_and_stops_copying() {
        let ks = Keyspace::new(1, 1);
        let mut s = ks.dbs[0].stripes[0].write();
        s.set(b"a", Value::string(b"1"), None, 0);
        s.undo_begin();
        s.set(b"a", Value::string(b"2"), None, 0);
        s.undo_commit();
        assert!(s.undo.is_none());
        s.set(b"b", Value::string(b"3"), None, 0);
        s.undo_rollback(); // no record: nothing happens
        assert_eq!(contents(&s).len(), 2);
        assert_eq!(format!("{:?}", s.get(b"a", 0).map(|i| &i.val)), format!("{:?}", Some(&Value::Int(2))));
    }

    #[test]
    fn undo_rollback_after_flush_and_under_a_snapshot() {
        let ks = Keyspace::new(1, 1);
        let mut s = ks.dbs[0].stripes[0].write();
        for i in 0..20 {
            s.set(format!("k{i}").as_bytes(), Value::string(b"v"), (i % 3 == 0).then_some(50_000), 0);
        }
        let before = contents(&s);
        s.snapshot_begin();
        s.undo_begin();
        s.set(b"k1", Value::string(b"x"), None, 0);
        drop(s.take());
        s.set(b"fresh", Value::string(b"y"), None, 0);
        s.undo_rollback();
        assert_eq!(contents(&s), before);
        // The snapshot still sees the point where it opened.
        let mut seen = Vec::new();
        s.snapshot_visit(|k, v, e| seen.push((k.to_vec(), format!("{v:?}"), e)));
        seen.sort();
        assert_eq!(seen, before);
    }
}
