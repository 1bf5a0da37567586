//! Set commands (COMMAND DOCS group `set`).
//!
//! Must hold: replies and errors are Redis 7.0's byte for byte; a set's encoding follows
//! Redis 7.0 (`intset` while every member is an integer and there are at most
//! set-max-intset-entries members, else `hashtable`), including the sets Redis builds
//! (SINTERSTORE/SUNIONSTORE/SDIFFSTORE results, the remainder of a large SPOP), so
//! OBJECT ENCODING and the ascending order of small integer sets agree with Redis; a set
//! left empty is deleted. Multi-key commands get all their stripes locked by the planner,
//! so SMOVE and the *STORE commands are atomic.
//!
//! Also home of the random-sampling helpers shared with HRANDFIELD.

use super::errors::{SYNTAX, WRONGTYPE};
use super::flags::*;
use super::hash::{cursor_arg, scan_options, scan_reply};
use super::state::EncLimits;
use super::{parse_int, Command, Ctx};
use crate::protocol::Reply;
use crate::store::glob_match;
use crate::store::hash::xorshift;
use crate::store::set::{Member, Set};
use crate::store::Value;
use std::cell::Cell;
use std::collections::HashSet;

const G: &str = "set";

const SCAN_CX: &str = "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..";
const INTER_CX: &str = "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.";
const UNION_CX: &str = "O(N) where N is the total number of elements in all given sets.";

pub static COMMANDS: &[Command] = &[
    Command::new("sadd", G, -3, WRITE | DENYOOM | FAST, sadd).ev(super::notify::Ev::KeyIfReply(crate::config::events::SET, "sadd"))
        .ks("RW insert")
        .keys(1, 1, 1)
        .doc("Add one or more members to a set", "1.0.0", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.")
        .args("key member [member ...]"),
    Command::new("srem", G, -3, WRITE | FAST, srem).ev(super::notify::Ev::KeyIfReply(crate::config::events::SET, "srem"))
        .ks("RW delete")
        .keys(1, 1, 1)
        .doc("Remove one or more members from a set", "1.0.0", "O(N) where N is the number of members to be removed.")
        .args("key member [member ...]"),
    Command::new("smembers", G, 2, READONLY, smembers)
        .ks("RO access")
        .tips("nondeterministic_output_order")
        .keys(1, 1, 1)
        .doc("Get all the members in a set", "1.0.0", "O(N) where N is the set cardinality.")
        .args("key"),
    Command::new("sismember", G, 3, READONLY | FAST, sismember)
        .ks("RO")
        .keys(1, 1, 1)
        .doc("Determine if a given value is a member of a set", "1.0.0", "O(1)")
        .args("key member"),
    Command::new("smismember", G, -3, READONLY | FAST, smismember)
        .ks("RO access")
        .keys(1, 1, 1)
        .doc("Returns the membership associated with the given elements for a set", "6.2.0", "O(N) where N is the number of elements being checked for membership")
        .args("key member [member ...]"),
    Command::new("scard", G, 2, READONLY | FAST, scard)
        .ks("RO")
        .keys(1, 1, 1)
        .doc("Get the number of members in a set", "1.0.0", "O(1)")
        .args("key"),
    Command::new("smove", G, 4, WRITE | FAST, smove).ev(super::notify::Ev::Fn(super::notify::smove))
        .ks("RW access delete; RW insert")
        .keys(1, 2, 1)
        .doc("Move a member from one set to another", "1.0.0", "O(1)")
        .args("source destination member"),
    Command::new("spop", G, -2, WRITE | FAST, spop).ev(super::notify::Ev::KeyIfReply(crate::config::events::SET, "spop")).prop(super::aof::Prop::Spop)
        .ks("RW access delete")
        .tips("nondeterministic_output")
        .keys(1, 1, 1)
        .doc("Remove and return one or multiple random members from a set", "1.0.0", "Without the count argument O(1), otherwise O(N) where N is the value of the passed count.")
        .args("key [count]"),
    Command::new("srandmember", G, -2, READONLY, srandmember)
        .ks("RO access")
        .tips("nondeterministic_output")
        .keys(1, 1, 1)
        .doc("Get one or multiple random members from a set", "1.0.0", "Without the count argument O(1), otherwise O(N) where N is the absolute value of the passed count.")
        .args("key [count]"),
    Command::new("sinter", G, -2, READONLY, sinter)
        .ks("RO access")
        .tips("nondeterministic_output_order")
        .keys(1, -1, 1)
        .doc("Intersect multiple sets", "1.0.0", INTER_CX)
        .args("key [key ...]"),
    Command::new("sintercard", G, -3, READONLY, sintercard)
        .keynum(1, 0, 1, 1, "RO access")
        .doc("Intersect multiple sets and return the cardinality of the result", "7.0.0", INTER_CX)
        .args("numkeys key [key ...] [LIMIT limit]"),
    Command::new("sinterstore", G, -3, WRITE | DENYOOM, sinterstore).ev(super::notify::Ev::Store(crate::config::events::SET, "sinterstore"))
        .ks("RW update; RO access")
        .keys(1, -1, 1)
        .doc("Intersect multiple sets and store the resulting set in a key", "1.0.0", INTER_CX)
        .args("destination key [key ...]"),
    Command::new("sunion", G, -2, READONLY, sunion)
        .ks("RO access")
        .tips("nondeterministic_output_order")
        .keys(1, -1, 1)
        .doc("Add multiple sets", "1.0.0", UNION_CX)
        .args("key [key ...]"),
    Command::new("sunionstore", G, -3, WRITE | DENYOOM, sunionstore).ev(super::notify::Ev::Store(crate::config::events::SET, "sunionstore"))
        .ks("OW update; RO access")
        .keys(1, -1, 1)
        .doc("Add multiple sets and store the resulting set in a key", "1.0.0", UNION_CX)
        .args("destination key [key ...]"),
    Command::new("sdiff", G, -2, READONLY, sdiff)
        .ks("RO access")
        .tips("nondeterministic_output_order")
        .keys(1, -1, 1)
        .doc("Subtract multiple sets", "1.0.0", UNION_CX)
        .args("key [key ...]"),
    Command::new("sdiffstore", G, -3, WRITE | DENYOOM, sdiffstore).ev(super::notify::Ev::Store(crate::config::events::SET, "sdiffstore"))
        .ks("OW update; RO access")
        .keys(1, -1, 1)
        .doc("Subtract multiple sets and store the resulting set in a key", "1.0.0", UNION_CX)
        .args("destination key [key ...]"),
    Command::new("sscan", G, -3, READONLY, sscan)
        .ks("RO access")
        .tips("nondeterministic_output")
        .keys(1, 1, 1)
        .doc("Incrementally iterate Set elements", "2.8.0", SCAN_CX)
        .args("key cursor [MATCH pattern] [COUNT count]"),
];

// ---------------------------------------------------------------------------------------
// Random sampling (SPOP, SRANDMEMBER, HRANDFIELD)
// ---------------------------------------------------------------------------------------

/// getRangeLongFromObjectOrReply(-LONG_MAX, LONG_MAX)'s error (a count of i64::MIN).
pub(crate) const RANGE_ERR: &str =
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807";

/// Most reply elements a negative (repeating) count may ask for. Redis would try to
/// build a reply of any size (and run out of memory); Rustis answers "ERR value is out
/// of range" beyond this, before allocating anything.
pub(crate) const MAX_RANDOM_REPLY: u64 = 1 << 22;

thread_local! {
    static RNG: Cell<u64> = Cell::new(rng_seed());
}

fn rng_seed() -> u64 {
    use std::hash::BuildHasher;
    let t =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
    let tid = std::collections::hash_map::RandomState::new().hash_one(std::thread::current().id());
    (t ^ tid) | 1
}

/// Runs `f` with this thread's xorshift state (seeded from the clock and thread id).
pub(crate) fn with_rng<R>(f: impl FnOnce(&mut u64) -> R) -> R {
    RNG.with(|c| {
        let mut s = c.get();
        let r = f(&mut s);
        c.set(s);
        r
    })
}

/// `count` distinct random elements of a collection of `size > count` elements: a
/// partial shuffle of all of them (`all`) when the collection is compact or `count` is
/// close to `size`, else repeated random picks (`one`) with duplicates skipped.
pub(crate) fn random_distinct<T: Copy + Eq + std::hash::Hash>(
    size: usize,
    count: usize,
    compact: bool,
    rng: &mut u64,
    all: impl FnOnce() -> Vec<T>,
    mut one: impl FnMut(&mut u64) -> T,
) -> Vec<T> {
    if compact || count.saturating_mul(3) > size {
        let mut v = all();
        let count = count.min(v.len());
        for i in 0..count {
            let j = i + (xorshift(rng) % (v.len() - i) as u64) as usize;
            v.swap(i, j);
        }
        v.truncate(count);
        return v;
    }
    let mut seen = HashSet::with_capacity(count);
    let mut out = Vec::with_capacity(count);
    while out.len() < count {
        let x = one(rng);
        if seen.insert(x) {
            out.push(x);
        }
    }
    out
}

/// `n` random elements with repetition (negative counts) of a non-empty collection.
pub(crate) fn random_repeat<T: Copy>(
    n: usize,
    compact: bool,
    rng: &mut u64,
    all: impl FnOnce() -> Vec<T>,
    mut one: impl FnMut(&mut u64) -> T,
) -> Vec<T> {
    let mut out = Vec::with_capacity(n);
    if compact {
        let v = all();
        for _ in 0..n {
            out.push(v[(xorshift(rng) % v.len() as u64) as usize]);
        }
    } else {
        for _ in 0..n {
            out.push(one(rng));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn max_intset(ctx: &Ctx) -> usize {
    EncLimits::get(&ctx.shared.enc.set_max_intset_entries)
}

fn member_reply(m: Member) -> Reply {
    Reply::Bulk(m.to_vec())
}

/// Runs `f` on the set at `key` for reading (counts a keyspace hit or miss).
fn read(ctx: &mut Ctx, key: &[u8], missing: impl FnOnce() -> Reply, f: impl FnOnce(&Set) -> Reply) -> Reply {
    super::read_coll(ctx, key, missing, f)
}

/// Runs `f` on the set at `key` for writing; see `hash::write`.
fn write(ctx: &mut Ctx, key: &[u8], missing: Option<Reply>, f: impl FnOnce(&mut Set) -> Reply) -> Reply {
    super::write_coll(ctx, key, missing, f)
}

/// The sets at `keys` (None for missing keys), or WRONGTYPE if any key holds another
/// type. Every key is checked, as Redis does, even after a missing one.
fn lookup_sets<'c>(ctx: &'c Ctx, keys: &[&[u8]]) -> Result<Vec<Option<&'c Set>>, Reply> {
    let mut out = Vec::with_capacity(keys.len());
    for k in keys {
        match ctx.get(k) {
            None => out.push(None),
            Some(it) => match &it.val {
                Value::Set(s) => out.push(Some(&**s)),
                _ => return Err(Reply::err(WRONGTYPE)),
            },
        }
    }
    Ok(out)
}

/// Stores `set` at `dst` (replacing whatever was there, TTL cleared), or deletes `dst`
/// when the set is empty; replies with the cardinality.
fn store(ctx: &mut Ctx, dst: &[u8], set: Set) -> Reply {
    let now = ctx.now;
    let n = set.len();
    let st = ctx.stripe_mut(dst);
    if n == 0 {
        st.remove(dst);
    } else {
        st.set(dst, Value::Set(Box::new(set)), None, now);
    }
    Reply::Int(n as i64)
}

// ---------------------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------------------

fn sadd(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let max = max_intset(ctx);
    write(ctx, argv[1], None, |s| Reply::Int(argv[2..].iter().filter(|m| s.add(m, max)).count() as i64))
}

fn srem(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    write(ctx, argv[1], Some(Reply::Int(0)), |s| {
        let mut n = 0;
        for m in &argv[2..] {
            n += s.remove(m) as i64;
            if s.is_empty() {
                break;
            }
        }
        Reply::Int(n)
    })
}

fn smembers(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    read(ctx, argv[1], || Reply::Set(vec![]), |s| Reply::Set(s.iter().map(member_reply).collect()))
}

fn sismember(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    read(ctx, argv[1], || Reply::Int(0), |s| Reply::Int(s.contains(argv[2]) as i64))
}

fn smismember(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let ms = &argv[2..];
    read(
        ctx,
        argv[1],
        || Reply::Array(vec![Reply::Int(0); ms.len()]),
        |s| Reply::Array(ms.iter().map(|m| Reply::Int(s.contains(m) as i64)).collect()),
    )
}

fn scard(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    read(ctx, argv[1], || Reply::Int(0), |s| Reply::Int(s.len() as i64))
}

fn smove(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let (src, dst, m) = (argv[1], argv[2], argv[3]);
    let now = ctx.now;
    match ctx.stripe_mut(src).get_mut(src, now) {
        None => return Reply::Int(0),
        Some(it) if !matches!(it.val, Value::Set(_)) => return Reply::err(WRONGTYPE),
        Some(_) => {}
    }
    match ctx.stripe_mut(dst).get_mut(dst, now) {
        Some(it) if !matches!(it.val, Value::Set(_)) => return Reply::err(WRONGTYPE),
        _ => {}
    }
    if src == dst {
        return read(ctx, src, || Reply::Int(0), |s| Reply::Int(s.contains(m) as i64));
    }
    let removed = write(ctx, src, Some(Reply::Int(0)), |s| Reply::Int(s.remove(m) as i64));
    if removed != Reply::Int(1) {
        return removed;
    }
    let max = max_intset(ctx);
    let mut added = false;
    let r = write(ctx, dst, None, |s| {
        added = s.add(m, max);
        Reply::Int(1)
    });
    ctx.changed_hint = Some(added);
    r
}

fn spop(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    if argv.len() == 2 {
        return write(ctx, argv[1], Some(Reply::Nil), |s| {
            with_rng(|rng| s.pop_random(rng)).map(Reply::Bulk).unwrap_or(Reply::Nil)
        });
    }
    if argv.len() > 3 {
        return Reply::err(SYNTAX);
    }
    let count = match parse_int(argv[2]) {
        Ok(c) if c >= 0 => c as u64,
        _ => return Reply::err("ERR value is out of range, must be positive"),
    };
    let max = max_intset(ctx);
    write(ctx, argv[1], Some(Reply::Set(vec![])), |s| {
        let size = s.len() as u64;
        if count == 0 {
            return Reply::Set(vec![]);
        }
        if count >= size {
            // Redis answers with the union of the set alone: an intset-able result is
            // sorted.
            let all: Vec<Vec<u8>> = s.iter().map(|m| m.to_vec()).collect();
            let union = Set::from_members(all.iter().map(|m| &m[..]), max);
            let r = Reply::Set(union.iter().map(member_reply).collect());
            *s = Set::default();
            return r;
        }
        with_rng(|rng| {
            if count * 5 > size {
                // Few members stay: pick them, rebuild the set from them (which may make
                // it an intset again, as in Redis), and return the rest.
                let keep: Vec<Vec<u8>> = random_distinct(
                    size as usize,
                    (size - count) as usize,
                    s.is_compact(),
                    rng,
                    || s.iter().collect(),
                    |r| s.random(r).expect("non-empty"),
                )
                .into_iter()
                .map(|m| m.to_vec())
                .collect();
                let kept = Set::from_members(keep.iter().map(|m| &m[..]), max);
                let popped = s.iter().filter(|m| !kept.contains_member(*m)).map(member_reply).collect();
                *s = kept;
                Reply::Set(popped)
            } else {
                let mut out = Vec::with_capacity(count as usize);
                for _ in 0..count {
                    match s.pop_random(rng) {
                        Some(m) => out.push(Reply::Bulk(m)),
                        None => break,
                    }
                }
                Reply::Set(out)
            }
        })
    })
}

fn srandmember(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    if argv.len() == 2 {
        return read(
            ctx,
            argv[1],
            || Reply::Nil,
            |s| with_rng(|rng| s.random(rng).map(member_reply).unwrap_or(Reply::Nil)),
        );
    }
    if argv.len() > 3 {
        return Reply::err(SYNTAX);
    }
    let count = match parse_int(argv[2]) {
        Ok(i64::MIN) => return Reply::err(RANGE_ERR),
        Ok(c) => c,
        Err(e) => return e,
    };
    if count < 0 && count.unsigned_abs() > MAX_RANDOM_REPLY {
        return Reply::err("ERR value is out of range");
    }
    read(
        ctx,
        argv[1],
        || Reply::Array(vec![]),
        |s| {
            let size = s.len();
            let picked: Vec<Member> = if count == 0 {
                vec![]
            } else if count > 0 && count as u64 >= size as u64 {
                s.iter().collect()
            } else if count > 0 {
                with_rng(|rng| {
                    random_distinct(
                        size,
                        count as usize,
                        s.is_compact(),
                        rng,
                        || s.iter().collect(),
                        |r| s.random(r).expect("non-empty"),
                    )
                })
            } else {
                with_rng(|rng| {
                    random_repeat(
                        count.unsigned_abs() as usize,
                        s.is_compact(),
                        rng,
                        || s.iter().collect(),
                        |r| s.random(r).expect("non-empty"),
                    )
                })
            };
            Reply::Array(picked.into_iter().map(member_reply).collect())
        },
    )
}

/// What an intersection produces.
#[derive(Clone, Copy)]
enum InterOut {
    Members,
    Card(u64),
    Store,
}

/// A multi-key result, computed while the source sets are borrowed.
enum Computed {
    Reply(Reply),
    Store(Set),
}

/// Counts keyspace hits and misses of a read-only multi-key lookup.
fn record_hits(ctx: &mut Ctx, found: usize, total: usize) {
    for i in 0..total {
        ctx.hit(i < found);
    }
}

/// SINTER / SINTERCARD / SINTERSTORE over `keys` (Redis's sinterGenericCommand): the
/// smallest set is walked in its own order and each member tested against the others.
fn inter_generic(ctx: &mut Ctx, keys: &[&[u8]], out: InterOut, dst: Option<&[u8]>) -> Reply {
    let max = max_intset(ctx);
    let (found, computed) = {
        let sets = match lookup_sets(ctx, keys) {
            Ok(s) => s,
            Err(e) => return e,
        };
        let mut sets: Vec<&Set> = sets.into_iter().flatten().collect();
        let found = sets.len();
        let computed = if found < keys.len() {
            match out {
                InterOut::Members => Computed::Reply(Reply::Set(vec![])),
                InterOut::Card(_) => Computed::Reply(Reply::Int(0)),
                InterOut::Store => Computed::Store(Set::default()),
            }
        } else {
            sets.sort_by_key(|s| s.len());
            let (first, rest) = sets.split_first().expect("at least one key");
            let members = first.iter().filter(|m| rest.iter().all(|o| o.contains_member(*m)));
            match out {
                InterOut::Members => Computed::Reply(Reply::Set(members.map(member_reply).collect())),
                InterOut::Card(limit) => {
                    let mut n = 0u64;
                    for _ in members {
                        n += 1;
                        if limit > 0 && n >= limit {
                            break;
                        }
                    }
                    Computed::Reply(Reply::Int(n as i64))
                }
                InterOut::Store => {
                    let mut set = Set::default();
                    for m in members {
                        m.with_bytes(|b| set.add(b, max));
                    }
                    Computed::Store(set)
                }
            }
        };
        (found, computed)
    };
    match (computed, dst) {
        (Computed::Store(set), Some(d)) => store(ctx, d, set),
        (Computed::Store(_), None) => unreachable!("store without a destination"),
        (Computed::Reply(r), _) => {
            record_hits(ctx, found, keys.len());
            r
        }
    }
}

/// SUNION / SDIFF (and their STORE forms) over `keys`, built exactly as Redis's
/// sunionDiffGenericCommand builds its result set (the same encoding conversions,
/// including its choice between the two SDIFF algorithms).
fn union_diff(ctx: &mut Ctx, keys: &[&[u8]], diff: bool, dst: Option<&[u8]>) -> Reply {
    let max = max_intset(ctx);
    let (found, result) = {
        let sets = match lookup_sets(ctx, keys) {
            Ok(s) => s,
            Err(e) => return e,
        };
        let found = sets.iter().filter(|s| s.is_some()).count();
        let mut result = Set::default();
        if !diff {
            for s in sets.iter().flatten() {
                for m in s.iter() {
                    m.with_bytes(|b| result.add(b, max));
                }
            }
        } else if let Some(first) = sets[0] {
            let same = keys[1..].iter().zip(&sets[1..]).any(|(k, s)| s.is_some() && *k == keys[0]);
            if !same {
                let (mut one, mut two) = (0usize, 0usize);
                for s in sets.iter().flatten() {
                    one += first.len();
                    two += s.len();
                }
                let others: Vec<&Set> = sets[1..].iter().flatten().copied().collect();
                if one / 2 <= two {
                    for m in first.iter() {
                        if !others.iter().any(|o| o.contains_member(m)) {
                            m.with_bytes(|b| result.add(b, max));
                        }
                    }
                } else {
                    for m in first.iter() {
                        m.with_bytes(|b| result.add(b, max));
                    }
                    'outer: for o in &others {
                        for m in o.iter() {
                            m.with_bytes(|b| result.remove(b));
                            if result.is_empty() {
                                break 'outer;
                            }
                        }
                    }
                }
            }
        }
        (found, result)
    };
    match dst {
        Some(d) => store(ctx, d, result),
        None => {
            record_hits(ctx, found, keys.len());
            Reply::Set(result.iter().map(member_reply).collect())
        }
    }
}

fn sinter(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    inter_generic(ctx, &argv[1..], InterOut::Members, None)
}

fn sinterstore(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    inter_generic(ctx, &argv[2..], InterOut::Store, Some(argv[1]))
}

fn sintercard(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let numkeys = match crate::store::parse_i64_strict(argv[1]) {
        Some(n) if n >= 1 => n as u64,
        _ => return Reply::err("ERR numkeys should be greater than 0"),
    };
    if numkeys > (argv.len() - 2) as u64 {
        return Reply::err("ERR Number of keys can't be greater than number of args");
    }
    let end = 2 + numkeys as usize;
    let mut limit = 0u64;
    let mut j = end;
    while j < argv.len() {
        if super::eq_ic(argv[j], "limit") && j + 1 < argv.len() {
            j += 1;
            limit = match crate::store::parse_i64_strict(argv[j]) {
                Some(l) if l >= 0 => l as u64,
                _ => return Reply::err("ERR LIMIT can't be negative"),
            };
        } else {
            return Reply::err(SYNTAX);
        }
        j += 1;
    }
    inter_generic(ctx, &argv[2..end], InterOut::Card(limit), None)
}

fn sunion(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    union_diff(ctx, &argv[1..], false, None)
}

fn sunionstore(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    union_diff(ctx, &argv[2..], false, Some(argv[1]))
}

fn sdiff(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    union_diff(ctx, &argv[1..], true, None)
}

fn sdiffstore(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    union_diff(ctx, &argv[2..], true, Some(argv[1]))
}

fn sscan(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let cursor = match cursor_arg(argv[2]) {
        Ok(c) => c,
        Err(e) => return e,
    };
    read(
        ctx,
        argv[1],
        || scan_reply(0, vec![]),
        |s| {
            let (pattern, count) = match scan_options(argv, 3) {
                Ok(o) => o,
                Err(e) => return e,
            };
            let (next, members) = s.scan(cursor, count);
            let items = members
                .into_iter()
                .map(|m| m.to_vec())
                .filter(|m| pattern.is_none_or(|p| glob_match(p, m, false)))
                .map(Reply::Bulk)
                .collect();
            scan_reply(next, items)
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_helpers() {
        let mut rng = 12345;
        let v: Vec<u32> = (0..100).collect();
        for count in [1, 10, 40, 99] {
            let got = random_distinct(100, count, false, &mut rng, || v.clone(), |r| (xorshift(r) % 100) as u32);
            let uniq: HashSet<_> = got.iter().collect();
            assert_eq!((got.len(), uniq.len()), (count, count));
        }
        let got = random_repeat(500, true, &mut rng, || vec![7u32, 8], |_| 0);
        assert_eq!(got.len(), 500);
        assert!(got.iter().all(|x| *x == 7 || *x == 8));
        assert!(got.contains(&7) && got.contains(&8));
    }
}
