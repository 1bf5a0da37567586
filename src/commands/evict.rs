//! maxmemory: used-memory accounting and Redis's sampled eviction policies.
//!
//! Owns: `used_memory` (jemalloc's allocated bytes, cached for a millisecond) and
//! `perform` (Redis's performEvictions), which every command runs before taking its locks
//! while `maxmemory` is set.
//!
//! Must hold:
//! - nothing is measured while `maxmemory` is 0;
//! - eviction runs with no stripe lock held by the caller and locks one stripe at a time,
//!   so it cannot deadlock with the command that triggered it;
//! - an evicted key is announced (`evicted`) and logged to the AOF as DEL while its stripe
//!   is still locked;
//! - policies follow Redis: `allkeys-*` sample every key, `volatile-*` only keys with a
//!   TTL; `*-lru` evicts the longest idle, `*-lfu` the lowest decayed counter,
//!   `volatile-ttl` the nearest expiry, `*-random` any; `noeviction` never evicts.

use super::state::{Effects, Shared};
use crate::store::CompactBytes;
use std::sync::atomic::Ordering::Relaxed;

pub const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";

/// Candidates kept between evictions (Redis's EVPOOL_SIZE).
const POOL_SIZE: usize = 16;

/// Most keys one command evicts before it goes ahead anyway (Redis bounds the time).
const MAX_EVICT_PER_CALL: usize = 256;

/// Bytes allocated through jemalloc right now (INFO used_memory, the metrics).
pub fn allocated_bytes() -> u64 {
    use tikv_jemalloc_ctl::{epoch, stats};
    let _ = epoch::advance();
    stats::allocated::read().unwrap_or(0) as u64
}

/// jemalloc's allocated bytes (`used_memory`), re-read when older than 1 ms or `fresh`.
pub fn used_memory(shared: &Shared, now_ms: i64, fresh: bool) -> u64 {
    if !fresh && now_ms - shared.used_memory_at.load(Relaxed) < 1 {
        return shared.used_memory.load(Relaxed);
    }
    let v = allocated_bytes();
    shared.used_memory.store(v, Relaxed);
    shared.used_memory_at.store(now_ms, Relaxed);
    v
}

/// Evicts keys while used memory is over `maxmemory`. False when it stays over and
/// nothing can be evicted (noeviction, or no candidate): denyoom commands then get OOM.
pub fn perform(shared: &Shared, effects: &mut Effects, now_ms: i64) -> bool {
    let max = shared.enc.maxmemory.load(Relaxed);
    if max == 0 || used_memory(shared, now_ms, false) <= max {
        return true;
    }
    // Redis skips eviction while clients are paused (the dataset must not change).
    if shared.pause_end.load(Relaxed) > now_ms {
        return true;
    }
    let (volatile, rank) = {
        let c = shared.config.read();
        let p = c.maxmemory_policy.as_str();
        if p == "noeviction" {
            return false;
        }
        let rank = if p.ends_with("lru") {
            Rank::Lru
        } else if p.ends_with("lfu") {
            Rank::Lfu
        } else if p == "volatile-ttl" {
            Rank::Ttl
        } else {
            Rank::Random
        };
        (p.starts_with("volatile"), rank)
    };
    let samples = shared.enc.maxmemory_samples.load(Relaxed).clamp(1, 4096) as usize;
    let mut rng = 0x2545_f491_4f6c_dd1d_u64 ^ (now_ms as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let mut cands: Vec<(CompactBytes, u32, i64)> = Vec::new();
    let dbs = nonempty_dbs(shared, now_ms);
    let mut evicted = 0usize;
    // jemalloc is asked at most once a millisecond; between reads the freed bytes are
    // estimated from the evicted items (reading it per key made eviction 5x slower).
    let mut used = used_memory(shared, now_ms, false);
    for _ in 0..MAX_EVICT_PER_CALL {
        if used <= max {
            shared.used_memory.store(used, Relaxed);
            return true;
        }
        // Sample every db with keys into the eviction pool (Redis's evictionPoolPopulate:
        // the best candidates seen stay in the pool across evictions).
        let mut pool = shared.evict_pool.lock();
        for &dbi in &dbs {
            let db = &shared.keyspace.dbs[dbi];
            let n = db.stripes.len();
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let start = (rng % n as u64) as usize;
            let mut got = 0;
            for i in 0..n {
                if got >= samples {
                    break;
                }
                let st = db.stripes[(start + i) % n].read();
                let has = if volatile { st.volatile_len() > 0 } else { !st.is_empty() };
                if !has {
                    continue;
                }
                cands.clear();
                st.sample(samples - got, volatile, &mut rng, &mut cands);
                drop(st);
                got += cands.len();
                for (k, access, expire_at) in cands.drain(..) {
                    let score = score(rank, access, expire_at, now_ms);
                    if !pool.iter().any(|(d, pk, _)| *d == dbi && *pk == k) {
                        pool.push((dbi, k, score));
                    }
                }
            }
        }
        pool.sort_by_key(|(_, _, sc)| std::cmp::Reverse(*sc));
        pool.truncate(POOL_SIZE);
        let best = if pool.is_empty() { None } else { Some(pool.remove(0)) };
        drop(pool);
        // Nothing left to evict: fail only if this call freed nothing (Redis's EVICT_FAIL);
        // otherwise the command goes ahead and the next one carries on.
        let Some((db, key, _)) = best else {
            shared.used_memory.store(used, Relaxed);
            return evicted > 0;
        };
        let d = &shared.keyspace.dbs[db];
        let mut st = d.stripes[d.stripe_of(key.as_slice())].write();
        if let Some(item) = st.remove(key.as_slice()) {
            used = used.saturating_sub((item.key.heap_size() + item.val.heap_size() + 80) as u64);
            drop(item);
            evicted += 1;
            shared.evicted_keys.fetch_add(1, Relaxed);
            super::notify::emit(
                shared,
                &mut effects.pushes,
                db,
                crate::config::events::EVICTED,
                "evicted",
                key.as_slice(),
            );
            super::tracking::key_modified(shared, key.as_slice(), 0, &mut effects.pushes, None);
            let at = shared.aof.append(&[crate::persistence::aof::record(db, &[&b"DEL"[..], key.as_slice()])], false);
            effects.aof_offset = effects.aof_offset.max(at);
        }
    }
    // Time's up (Redis's EVICT_RUNNING): the command runs; eviction continues next time.
    shared.used_memory.store(used, Relaxed);
    true
}

/// The dbs that have keys, re-scanned at most every 100 ms (only while over the limit).
fn nonempty_dbs(shared: &Shared, now_ms: i64) -> Vec<usize> {
    let mut cache = shared.evict_dbs.lock();
    if now_ms - cache.0 >= 100 {
        cache.1 = shared
            .keyspace
            .dbs
            .iter()
            .enumerate()
            .filter(|(_, db)| db.stripes.iter().any(|s| !s.read().is_empty()))
            .map(|(i, _)| i)
            .collect();
        cache.0 = now_ms;
    }
    cache.1.clone()
}

/// Higher is a better victim.
/// What a policy evicts first.
#[derive(Clone, Copy)]
enum Rank {
    Lru,
    Lfu,
    Ttl,
    Random,
}

fn score(rank: Rank, access: u32, expire_at: i64, now_ms: i64) -> i64 {
    if expire_at != crate::store::NO_EXPIRE && expire_at <= now_ms {
        return i64::MAX; // already expired: free memory first
    }
    match rank {
        Rank::Lru => crate::store::lru_clock(now_ms).wrapping_sub(access) as i64,
        Rank::Lfu => 255 - crate::store::lfu::counter(access, now_ms) as i64,
        Rank::Ttl => i64::MAX - 1 - expire_at,
        Rank::Random => 0,
    }
}
