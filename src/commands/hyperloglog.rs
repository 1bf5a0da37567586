//! HyperLogLog commands (COMMAND DOCS group `hyperloglog`): PFADD, PFCOUNT, PFMERGE,
//! PFDEBUG, PFSELFTEST.
//!
//! Must hold: an HLL is a plain string laid out exactly as Redis 7.0's hyperloglog.c
//! lays it out (the "HYLL" header with the cached cardinality, then sparse opcodes or
//! 16384 dense 6-bit registers), so the bytes GET returns equal Redis's after the same
//! writes, and strings produced by Redis are read back here. Replies and errors are
//! Redis's byte for byte.
//!
//! PFCOUNT is read-only for Redis (COMMAND INFO) but takes write locks (`LOCK_WRITE`):
//! like Redis, a single-key PFCOUNT stores the cardinality it computed in the cache bytes.

use super::errors::WRONGTYPE;
use super::flags::*;
use super::{eq_ic, Command, Ctx};
use crate::protocol::Reply;
use crate::store::Value;

const G: &str = "hyperloglog";

const INVALID_HLL: &str = "INVALIDOBJ Corrupted HLL object detected";
const NOT_HLL: &str = "WRONGTYPE Key is not a valid HyperLogLog string value.";

pub static COMMANDS: &[Command] = &[
    Command::new("pfadd", G, -2, WRITE | DENYOOM | FAST, pfadd).ev(super::notify::Ev::KeyIfReply(crate::config::events::STRING, "pfadd"))
        .acl("@hyperloglog")
        .keys(1, 1, 1)
        .ks("RW insert")
        .doc("Adds the specified elements to the specified HyperLogLog.", "2.8.9", "O(1) to add every element.")
        .args("key [element [element ...]]"),
    Command::new("pfcount", G, -2, READONLY | LOCK_WRITE, pfcount)
        .acl("@hyperloglog")
        .keys(1, -1, 1)
        .ks("RW access")
        .notes("RW because it may change the internal representation of the key, and propagate to replicas")
        .doc(
            "Return the approximated cardinality of the set(s) observed by the HyperLogLog at key(s).",
            "2.8.9",
            "O(1) with a very small average constant time when called with a single key. O(N) with N being the number of keys, and much bigger constant times, when called with multiple keys.",
        )
        .args("key [key ...]"),
    Command::new("pfmerge", G, -2, WRITE | DENYOOM, pfmerge).ev(super::notify::Ev::Key(crate::config::events::STRING, "pfadd"))
        .acl("@hyperloglog")
        .keys(1, -1, 1)
        .ks("RW access insert; RO access")
        .doc("Merge N different HyperLogLogs into a single one.", "2.8.9", "O(N) to merge N HyperLogLogs, but with high constant times.")
        .args("destkey sourcekey [sourcekey ...]"),
    Command::new("pfdebug", G, 3, WRITE | DENYOOM | ADMIN, pfdebug)
        .acl("@hyperloglog")
        .keys(2, 2, 1)
        .ks("RW access")
        .doc("Internal commands for debugging HyperLogLog values", "2.8.9", "N/A")
        .args("subcommand key"),
    Command::new("pfselftest", G, 1, ADMIN, pfselftest)
        .acl("@hyperloglog")
        .doc("An internal command for testing HyperLogLog values", "2.8.9", "N/A"),
];

// ---- Representation (hyperloglog.c) ----

const P: u32 = 14;
const Q: u32 = 64 - P;
const REGISTERS: usize = 1 << P;
const P_MASK: u64 = REGISTERS as u64 - 1;
const BITS: usize = 6;
const REGISTER_MAX: u8 = (1 << BITS) - 1;
const HDR: usize = 16;
const DENSE_SIZE: usize = HDR + (REGISTERS * BITS).div_ceil(8);
const DENSE: u8 = 0;
const SPARSE: u8 = 1;
const SPARSE_MAX_BYTES: usize = 3000;
const VAL_MAX_VALUE: u8 = 32;
const VAL_MAX_LEN: usize = 4;
const ZERO_MAX_LEN: usize = 64;
const XZERO_MAX_LEN: usize = 16384;
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

fn is_zero(b: u8) -> bool {
    b & 0xc0 == 0
}
fn is_xzero(b: u8) -> bool {
    b & 0xc0 == 0x40
}
fn is_val(b: u8) -> bool {
    b & 0x80 != 0
}
fn zero_len(b: u8) -> usize {
    (b & 0x3f) as usize + 1
}
/// XZERO length; the second byte past the end reads as 0 (sds's terminator).
fn xzero_len(s: &[u8], p: usize) -> usize {
    ((((s[p] & 0x3f) as usize) << 8) | s.get(p + 1).copied().unwrap_or(0) as usize) + 1
}
fn val_value(b: u8) -> u8 {
    ((b >> 2) & 0x1f) + 1
}
fn val_len(b: u8) -> usize {
    (b & 0x3) as usize + 1
}
fn val_op(val: u8, len: usize) -> u8 {
    ((val - 1) << 2 | (len as u8 - 1)) | 0x80
}
fn push_zeros(out: &mut Vec<u8>, len: usize) {
    if len > ZERO_MAX_LEN {
        let l = len - 1;
        out.push((l >> 8) as u8 | 0x40);
        out.push((l & 0xff) as u8);
    } else {
        out.push((len - 1) as u8);
    }
}

fn invalidate_cache(s: &mut [u8]) {
    s[15] |= 0x80;
}
fn valid_cache(s: &[u8]) -> bool {
    s[15] & 0x80 == 0
}

/// Redis's isHLLObjectOrReply checks (after the type check).
fn is_hll(s: &[u8]) -> bool {
    s.len() >= HDR && &s[..4] == b"HYLL" && s[4] <= SPARSE && !(s[4] == DENSE && s.len() != DENSE_SIZE)
}

fn dense_get(regs: &[u8], i: usize) -> u8 {
    let byte = i * BITS / 8;
    let fb = (i * BITS) & 7;
    let b0 = regs[byte] as u32;
    let b1 = regs.get(byte + 1).copied().unwrap_or(0) as u32;
    (((b0 >> fb) | (b1 << (8 - fb))) & REGISTER_MAX as u32) as u8
}

fn dense_set_reg(regs: &mut [u8], i: usize, v: u8) {
    let byte = i * BITS / 8;
    let fb = (i * BITS) & 7;
    let v = v as u32;
    let max = REGISTER_MAX as u32;
    regs[byte] &= !((max << fb) as u8);
    regs[byte] |= (v << fb) as u8;
    if let Some(b) = regs.get_mut(byte + 1) {
        *b &= !((max >> (8 - fb)) as u8);
        *b |= (v >> (8 - fb)) as u8;
    }
}

/// hllDenseSet: 1 if the register grew.
fn dense_set(regs: &mut [u8], i: usize, count: u8) -> bool {
    if count > dense_get(regs, i) {
        dense_set_reg(regs, i, count);
        true
    } else {
        false
    }
}

fn murmur64a(key: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4a7935bd1e995;
    const R: u32 = 47;
    let mut h = seed ^ (key.len() as u64).wrapping_mul(M);
    let mut chunks = key.chunks_exact(8);
    for c in &mut chunks {
        let mut k = u64::from_le_bytes(c.try_into().unwrap_or([0; 8]));
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        for (i, b) in rest.iter().enumerate().rev() {
            h ^= (*b as u64) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// hllPatLen: (register index, run length of zeros + 1).
fn pat_len(ele: &[u8]) -> (usize, u8) {
    let mut hash = murmur64a(ele, 0xadc83b19);
    let index = (hash & P_MASK) as usize;
    hash >>= P;
    hash |= 1u64 << Q;
    (index, hash.trailing_zeros() as u8 + 1)
}

/// A new, empty sparse HLL (createHLLObject).
fn new_hll() -> Vec<u8> {
    let mut s = Vec::with_capacity(HDR + 2);
    s.extend_from_slice(b"HYLL");
    s.push(SPARSE);
    s.extend_from_slice(&[0; 11]);
    let mut aux = REGISTERS;
    while aux > 0 {
        let x = aux.min(XZERO_MAX_LEN);
        let l = x - 1;
        s.push((l >> 8) as u8 | 0x40);
        s.push((l & 0xff) as u8);
        aux -= x;
    }
    s
}

/// hllSparseToDense (a no-op on dense); Err on corrupted data.
fn sparse_to_dense(s: &mut Vec<u8>) -> Result<(), ()> {
    if s[4] == DENSE {
        return Ok(());
    }
    let mut dense = vec![0u8; DENSE_SIZE];
    dense[..HDR].copy_from_slice(&s[..HDR]);
    dense[4] = DENSE;
    let regs = &mut dense[HDR..];
    let mut idx = 0usize;
    let mut p = HDR;
    while p < s.len() {
        let b = s[p];
        if is_zero(b) {
            idx += zero_len(b);
            p += 1;
        } else if is_xzero(b) {
            idx += xzero_len(s, p);
            p += 2;
        } else {
            let runlen = val_len(b);
            let v = val_value(b);
            if runlen + idx > REGISTERS {
                break;
            }
            for _ in 0..runlen {
                dense_set_reg(regs, idx, v);
                idx += 1;
            }
            p += 1;
        }
    }
    if idx != REGISTERS {
        return Err(());
    }
    *s = dense;
    Ok(())
}

/// hllSparseSet: 1 if changed, 0 if not, -1 on corrupted data. May promote to dense.
fn sparse_set(s: &mut Vec<u8>, index: usize, count: u8) -> i32 {
    if count <= VAL_MAX_VALUE {
        if let Some(r) = sparse_set_inner(s, index, count) {
            return r;
        }
    }
    if sparse_to_dense(s).is_err() {
        return -1;
    }
    dense_set(&mut s[HDR..], index, count) as i32
}

/// The sparse part of hllSparseSet: None means "promote to dense".
fn sparse_set_inner(s: &mut Vec<u8>, index: usize, count: u8) -> Option<i32> {
    let mut p = HDR;
    let mut first = 0usize;
    let mut prev: Option<usize> = None;
    let mut span = 0usize;
    while p < s.len() {
        let b = s[p];
        let oplen;
        if is_zero(b) {
            span = zero_len(b);
            oplen = 1;
        } else if is_val(b) {
            span = val_len(b);
            oplen = 1;
        } else {
            span = xzero_len(s, p);
            oplen = 2;
        }
        if index < first + span {
            break;
        }
        prev = Some(p);
        p += oplen;
        first += span;
    }
    if span == 0 || p >= s.len() {
        return Some(-1);
    }
    let b = s[p];
    let runlen = if is_zero(b) {
        zero_len(b)
    } else if is_xzero(b) {
        xzero_len(s, p)
    } else {
        val_len(b)
    };
    let mut done = false;
    if is_val(b) {
        if val_value(b) >= count {
            return Some(0);
        }
        if runlen == 1 {
            s[p] = val_op(count, 1);
            done = true;
        }
    }
    if !done && is_zero(b) && runlen == 1 {
        s[p] = val_op(count, 1);
        done = true;
    }
    if !done {
        let mut seq: Vec<u8> = Vec::with_capacity(5);
        let last = first + span - 1;
        if !is_val(b) {
            if index != first {
                push_zeros(&mut seq, index - first);
            }
            seq.push(val_op(count, 1));
            if index != last {
                push_zeros(&mut seq, last - index);
            }
        } else {
            let cur = val_value(b);
            if index != first {
                seq.push(val_op(cur, index - first));
            }
            seq.push(val_op(count, 1));
            if index != last {
                seq.push(val_op(cur, last - index));
            }
        }
        let oldlen = if is_xzero(b) { 2 } else { 1 };
        if seq.len() > oldlen && s.len() + seq.len() - oldlen > SPARSE_MAX_BYTES {
            return None;
        }
        s.splice(p..p + oldlen, seq);
    }
    // Merge adjacent VAL opcodes of equal value (scan up to 5 opcodes from prev).
    let mut p = prev.unwrap_or(HDR);
    let mut scan = 5;
    while p < s.len() && scan > 0 {
        scan -= 1;
        let b = s[p];
        if is_xzero(b) {
            p += 2;
            continue;
        } else if is_zero(b) {
            p += 1;
            continue;
        }
        if p + 1 < s.len() && is_val(s[p + 1]) {
            let (v1, v2) = (val_value(b), val_value(s[p + 1]));
            if v1 == v2 {
                let len = val_len(b) + val_len(s[p + 1]);
                if len <= VAL_MAX_LEN {
                    s[p + 1] = val_op(v1, len);
                    s.remove(p);
                    continue;
                }
            }
        }
        p += 1;
    }
    invalidate_cache(s);
    Some(1)
}

/// hllAdd: 1 if a register changed, 0 if not, -1 on corrupted data.
fn hll_add(s: &mut Vec<u8>, ele: &[u8]) -> i32 {
    let (index, count) = pat_len(ele);
    match s[4] {
        DENSE => dense_set(&mut s[HDR..], index, count) as i32,
        SPARSE => sparse_set(s, index, count),
        _ => -1,
    }
}

/// hllMerge: folds the registers of `s` into `max`; Err on corrupted sparse data.
fn hll_merge(max: &mut [u8], s: &[u8]) -> Result<(), ()> {
    if s[4] == DENSE {
        let regs = &s[HDR..];
        for (i, m) in max.iter_mut().enumerate() {
            let v = dense_get(regs, i);
            if v > *m {
                *m = v;
            }
        }
        return Ok(());
    }
    let mut i = 0usize;
    let mut p = HDR;
    while p < s.len() {
        let b = s[p];
        if is_zero(b) {
            i += zero_len(b);
            p += 1;
        } else if is_xzero(b) {
            i += xzero_len(s, p);
            p += 2;
        } else {
            let runlen = val_len(b);
            let v = val_value(b);
            if runlen + i > REGISTERS {
                break;
            }
            for m in &mut max[i..i + runlen] {
                if v > *m {
                    *m = v;
                }
            }
            i += runlen;
            p += 1;
        }
    }
    if i != REGISTERS {
        return Err(());
    }
    Ok(())
}

fn hll_sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let zp = z;
        z += x * y;
        y += y;
        if zp == z {
            return z;
        }
    }
}

fn hll_tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let zp = z;
        y *= 0.5;
        z -= (1.0 - x).powi(2) * y;
        if zp == z {
            return z / 3.0;
        }
    }
}

/// The 7.0 estimator (Ertl) over a register histogram.
fn count_histo(h: &[i64; 64]) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * hll_tau((m - h[Q as usize + 1] as f64) / m);
    for j in (1..=Q as usize).rev() {
        z += h[j] as f64;
        z *= 0.5;
    }
    z += m * hll_sigma(h[0] as f64 / m);
    (ALPHA_INF * m * m / z).round() as u64
}

/// hllCount of a dense or sparse HLL string; Err if the sparse data is corrupted.
fn hll_count(s: &[u8]) -> Result<u64, ()> {
    let mut h = [0i64; 64];
    if s[4] == DENSE {
        let regs = &s[HDR..];
        for i in 0..REGISTERS {
            h[dense_get(regs, i) as usize] += 1;
        }
    } else {
        let mut idx = 0usize;
        let mut p = HDR;
        while p < s.len() {
            let b = s[p];
            if is_zero(b) {
                let r = zero_len(b);
                idx += r;
                h[0] += r as i64;
                p += 1;
            } else if is_xzero(b) {
                let r = xzero_len(s, p);
                idx += r;
                h[0] += r as i64;
                p += 2;
            } else {
                let r = val_len(b);
                idx += r;
                h[val_value(b) as usize] += r as i64;
                p += 1;
            }
        }
        if idx != REGISTERS {
            return Err(());
        }
    }
    Ok(count_histo(&h))
}

// ---- Commands ----

/// Reads the HLL at `key` (lookupKeyRead + isHLLObjectOrReply): Ok(None) when missing.
fn read_hll(ctx: &mut Ctx, key: &[u8]) -> Result<Option<Vec<u8>>, Reply> {
    let now = ctx.now;
    let r = match ctx.get(key) {
        None => Ok(None),
        Some(it) => {
            it.touch(now);
            match &it.val {
                Value::Emb(_) | Value::Raw(_) => {
                    let b = it.val.as_bytes().unwrap_or_default();
                    if is_hll(&b) {
                        Ok(Some(b.into_owned()))
                    } else {
                        Err(Reply::err(NOT_HLL))
                    }
                }
                Value::Int(_) => Err(Reply::err(NOT_HLL)),
                _ => Err(Reply::err(WRONGTYPE)),
            }
        }
    };
    ctx.hit(!matches!(r, Ok(None)));
    r
}

/// The HLL at `key` for writing, unshared (made raw), created empty when missing
/// (`create`) or Ok(None). The bool tells whether it was created.
fn write_hll<'a>(ctx: &'a mut Ctx, key: &[u8], create: bool) -> Result<Option<(&'a mut Vec<u8>, bool)>, Reply> {
    let now = ctx.now;
    let st = ctx.stripe_mut(key);
    let exists = match st.get_mut(key, now) {
        None => false,
        Some(it) => {
            it.touch(now);
            match &it.val {
                Value::Emb(_) | Value::Raw(_) => {}
                Value::Int(_) => return Err(Reply::err(NOT_HLL)),
                _ => return Err(Reply::err(WRONGTYPE)),
            }
            if !is_hll(&it.val.as_bytes().unwrap_or_default()) {
                return Err(Reply::err(NOT_HLL));
            }
            true
        }
    };
    if !exists {
        if !create {
            return Ok(None);
        }
        st.set(key, Value::Raw(Box::new(new_hll())), None, now);
    }
    let Some(it) = st.get_mut(key, now) else { unreachable!("checked or just created") };
    Ok(Some((it.val.make_raw(), !exists)))
}

fn pfadd(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let key = argv[1];
    let (s, created) = match write_hll(ctx, key, true) {
        Err(e) => return e,
        Ok(Some(s)) => s,
        Ok(None) => unreachable!("created"),
    };
    let mut updated = created as i64;
    for ele in &argv[2..] {
        match hll_add(s, ele) {
            1 => updated += 1,
            -1 => return Reply::err(INVALID_HLL),
            _ => {}
        }
    }
    if updated > 0 {
        invalidate_cache(s);
    }
    Reply::Int((updated > 0) as i64)
}

fn pfcount(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    if argv.len() > 2 {
        let mut max = vec![0u8; REGISTERS];
        for key in &argv[1..] {
            match read_hll(ctx, key) {
                Err(e) => return e,
                Ok(None) => {}
                Ok(Some(s)) => {
                    if hll_merge(&mut max, &s).is_err() {
                        return Reply::err(INVALID_HLL);
                    }
                }
            }
        }
        let mut h = [0i64; 64];
        for &v in &max {
            h[v as usize] += 1;
        }
        return Reply::Int(count_histo(&h) as i64);
    }
    let s = match read_hll(ctx, argv[1]) {
        Err(e) => return e,
        Ok(None) => return Reply::Int(0),
        Ok(Some(s)) => s,
    };
    if valid_cache(&s) {
        let card = u64::from_le_bytes(s[8..16].try_into().unwrap_or([0; 8]));
        return Reply::Int(card as i64);
    }
    let c = match hll_count(&s) {
        Ok(c) => c,
        Err(()) => return Reply::err(INVALID_HLL),
    };
    // Redis stores the result in the cache (the stripe is write-locked: LOCK_WRITE).
    if write_locked(ctx, argv[1]) {
        if let Ok(Some((s, _))) = write_hll(ctx, argv[1], false) {
            s[8..16].copy_from_slice(&c.to_le_bytes());
        }
    }
    Reply::Int(c as i64)
}

/// Whether the stripe holding `key` (current db) is held with a write lock.
fn write_locked(ctx: &Ctx, key: &[u8]) -> bool {
    let db = ctx.session.db;
    let stripe = ctx.db().stripe_of(key);
    ctx.locks.find(db, stripe).is_some_and(|i| matches!(ctx.locks.held[i].2, super::Guard::W(_)))
}

fn pfmerge(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let mut max = vec![0u8; REGISTERS];
    let mut use_dense = false;
    for key in &argv[1..] {
        match read_hll(ctx, key) {
            Err(e) => return e,
            Ok(None) => {}
            Ok(Some(s)) => {
                if s[4] == DENSE {
                    use_dense = true;
                }
                if hll_merge(&mut max, &s).is_err() {
                    return Reply::err(INVALID_HLL);
                }
            }
        }
    }
    let dest = argv[1];
    let (s, _) = match write_hll(ctx, dest, true) {
        Err(e) => return e,
        Ok(Some(s)) => s,
        Ok(None) => unreachable!("created"),
    };
    if use_dense && sparse_to_dense(s).is_err() {
        return Reply::err(INVALID_HLL);
    }
    for (j, &m) in max.iter().enumerate() {
        if m == 0 {
            continue;
        }
        if s[4] == DENSE {
            dense_set(&mut s[HDR..], j, m);
        } else {
            sparse_set(s, j, m);
        }
    }
    invalidate_cache(s);
    Reply::ok()
}

fn pfdebug(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let cmd = argv[1];
    let s = match write_hll(ctx, argv[2], false) {
        Err(e) => return e,
        Ok(None) => return Reply::err("ERR The specified key does not exist"),
        Ok(Some((s, _))) => s,
    };
    if eq_ic(cmd, "getreg") {
        if s[4] == SPARSE && sparse_to_dense(s).is_err() {
            return Reply::err(INVALID_HLL);
        }
        let regs = &s[HDR..];
        Reply::Array((0..REGISTERS).map(|i| Reply::Int(dense_get(regs, i) as i64)).collect())
    } else if eq_ic(cmd, "decode") {
        if s[4] != SPARSE {
            return Reply::err("ERR HLL encoding is not sparse");
        }
        let mut out = String::new();
        let mut p = HDR;
        while p < s.len() {
            let b = s[p];
            if is_zero(b) {
                out.push_str(&format!("z:{} ", zero_len(b)));
                p += 1;
            } else if is_xzero(b) {
                out.push_str(&format!("Z:{} ", xzero_len(s, p)));
                p += 2;
            } else {
                out.push_str(&format!("v:{},{} ", val_value(b), val_len(b)));
                p += 1;
            }
        }
        Reply::Bulk(out.trim_matches(' ').as_bytes().to_vec())
    } else if eq_ic(cmd, "encoding") {
        Reply::Simple(if s[4] == DENSE { "dense" } else { "sparse" })
    } else if eq_ic(cmd, "todense") {
        if s[4] != SPARSE {
            return Reply::Int(0);
        }
        if sparse_to_dense(s).is_err() {
            return Reply::err(INVALID_HLL);
        }
        Reply::Int(1)
    } else {
        Reply::err(format!("ERR Unknown PFDEBUG subcommand '{}'", String::from_utf8_lossy(cmd)))
    }
}

fn pfselftest(_ctx: &mut Ctx, _argv: &[&[u8]]) -> Reply {
    Reply::ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_and_dense_agree() {
        let mut s = new_hll();
        let mut d = new_hll();
        assert!(sparse_to_dense(&mut d).is_ok());
        for i in 0..500 {
            let e = format!("ele:{i}");
            hll_add(&mut s, e.as_bytes());
            hll_add(&mut d, e.as_bytes());
        }
        assert_eq!(s[4], SPARSE);
        let c = hll_count(&s).unwrap_or(0);
        assert_eq!(Ok(c), hll_count(&d));
        assert!((450..550).contains(&c), "{c}");
        assert!(sparse_to_dense(&mut s).is_ok());
        s[8..16].copy_from_slice(&d[8..16]);
        assert_eq!(s, d);
    }
}
