//! Sorted set commands (COMMAND DOCS group `sorted-set`): ZADD ZINCRBY ZREM ZCARD ZSCORE
//! ZMSCORE ZRANK ZREVRANK ZCOUNT ZLEXCOUNT ZRANGE ZRANGESTORE ZREVRANGE ZRANGEBYSCORE
//! ZREVRANGEBYSCORE ZRANGEBYLEX ZREVRANGEBYLEX ZREMRANGEBYRANK ZREMRANGEBYSCORE
//! ZREMRANGEBYLEX ZPOPMIN ZPOPMAX ZMPOP ZRANDMEMBER ZUNION ZINTER ZDIFF ZUNIONSTORE
//! ZINTERSTORE ZDIFFSTORE ZINTERCARD ZSCAN.
//!
//! Must hold: replies and errors are Redis 7.0's byte for byte, in Redis's order of checks
//! (argument syntax, then ranges, then the key's type); scores parse like Redis's strtod
//! based getDoubleFromObject / zslParseRange and print as `%.17g`; WITHSCORES replies are
//! flat in RESP2 and [member, score] pairs in RESP3; a zset left empty is deleted and a
//! *STORE with an empty result deletes its destination; encodings follow Redis 7.0 (see
//! `store::zset`). Multi-key commands get every stripe locked by the planner, so the
//! *STORE commands and ZMPOP are atomic.
//!
//! [`zpop_generic`] is Redis's genericZpopCommand, shared with the blocking pops.

use super::errors::{NOT_FLOAT, NOT_INT, SYNTAX, WRONGTYPE};
use super::flags::*;
use super::generic::parse_cursor;
use super::state::EncLimits;
use super::{eq_ic, parse_int, Command, Ctx};
use crate::protocol::{fmt_double, Proto, Reply};
use crate::store::set::Set;
use crate::store::zset::{cmp_entry, Limits, ZSet};
use crate::store::{glob_match, Item, Value};
use std::cell::Cell;
use std::collections::{HashMap, HashSet};

const G: &str = "sorted-set";

const RANGE_CX: &str =
    "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.";
const BYSCORE_CX: &str = "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).";
const REMRANGE_CX: &str = "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.";
const POP_CX: &str =
    "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.";
const UNION_CX: &str = "O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.";
const INTER_CX: &str = "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.";
const DIFF_CX: &str = "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.";

pub static COMMANDS: &[Command] = &[
    Command::new("zadd", G, -4, WRITE | DENYOOM | FAST, zadd).ev(super::notify::Ev::Fn(super::notify::zadd)).ks("RW update").keys(1, 1, 1)
        .doc("Add one or more members to a sorted set, or update its score if it already exists", "1.2.0", "O(log(N)) for each item added, where N is the number of elements in the sorted set.")
        .args("key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]"),
    Command::new("zincrby", G, 4, WRITE | DENYOOM | FAST, zincrby).ev(super::notify::Ev::Key(crate::config::events::ZSET, "zincr")).ks("RW access update").keys(1, 1, 1)
        .doc("Increment the score of a member in a sorted set", "1.2.0", "O(log(N)) where N is the number of elements in the sorted set.")
        .args("key increment member"),
    Command::new("zrem", G, -3, WRITE | FAST, zrem).ev(super::notify::Ev::KeyIfReply(crate::config::events::ZSET, "zrem")).ks("RW delete").keys(1, 1, 1)
        .doc("Remove one or more members from a sorted set", "1.2.0", "O(M*log(N)) with N being the number of elements in the sorted set and M the number of elements to be removed.")
        .args("key member [member ...]"),
    Command::new("zcard", G, 2, READONLY | FAST, zcard).ks("RO").keys(1, 1, 1)
        .doc("Get the number of members in a sorted set", "1.2.0", "O(1)").args("key"),
    Command::new("zscore", G, 3, READONLY | FAST, zscore).ks("RO access").keys(1, 1, 1)
        .doc("Get the score associated with the given member in a sorted set", "1.2.0", "O(1)").args("key member"),
    Command::new("zmscore", G, -3, READONLY | FAST, zmscore).ks("RO access").keys(1, 1, 1)
        .doc("Get the score associated with the given members in a sorted set", "6.2.0", "O(N) where N is the number of members being requested.")
        .args("key member [member ...]"),
    Command::new("zrank", G, 3, READONLY | FAST, zrank).ks("RO access").keys(1, 1, 1)
        .doc("Determine the index of a member in a sorted set", "2.0.0", "O(log(N))").args("key member"),
    Command::new("zrevrank", G, 3, READONLY | FAST, zrevrank).ks("RO access").keys(1, 1, 1)
        .doc("Determine the index of a member in a sorted set, with scores ordered from high to low", "2.0.0", "O(log(N))").args("key member"),
    Command::new("zcount", G, 4, READONLY | FAST, zcount).ks("RO access").keys(1, 1, 1)
        .doc("Count the members in a sorted set with scores within the given values", "2.0.0", "O(log(N)) with N being the number of elements in the sorted set.")
        .args("key min max"),
    Command::new("zlexcount", G, 4, READONLY | FAST, zlexcount).ks("RO access").keys(1, 1, 1)
        .doc("Count the number of members in a sorted set between a given lexicographical range", "2.8.9", "O(log(N)) with N being the number of elements in the sorted set.")
        .args("key min max"),
    Command::new("zrange", G, -4, READONLY, zrange).ks("RO access").keys(1, 1, 1)
        .doc("Return a range of members in a sorted set", "1.2.0", RANGE_CX)
        .args("key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES]"),
    Command::new("zrangestore", G, -5, WRITE | DENYOOM, zrangestore).ev(super::notify::Ev::Store(crate::config::events::ZSET, "zrangestore")).ks("OW update; RO access").keys(1, 2, 1)
        .doc("Store a range of members from sorted set into another key", "6.2.0", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements stored into the destination key.")
        .args("dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]"),
    Command::new("zrevrange", G, -4, READONLY, zrevrange).ks("RO access").keys(1, 1, 1)
        .doc("Return a range of members in a sorted set, by index, with scores ordered from high to low", "1.2.0", RANGE_CX)
        .args("key start stop [WITHSCORES]"),
    Command::new("zrangebyscore", G, -4, READONLY, zrangebyscore).ks("RO access").keys(1, 1, 1)
        .doc("Return a range of members in a sorted set, by score", "1.0.5", BYSCORE_CX)
        .args("key min max [WITHSCORES] [LIMIT offset count]"),
    Command::new("zrevrangebyscore", G, -4, READONLY, zrevrangebyscore).ks("RO access").keys(1, 1, 1)
        .doc("Return a range of members in a sorted set, by score, with scores ordered from high to low", "2.2.0", BYSCORE_CX)
        .args("key max min [WITHSCORES] [LIMIT offset count]"),
    Command::new("zrangebylex", G, -4, READONLY, zrangebylex).ks("RO access").keys(1, 1, 1)
        .doc("Return a range of members in a sorted set, by lexicographical range", "2.8.9", BYSCORE_CX)
        .args("key min max [LIMIT offset count]"),
    Command::new("zrevrangebylex", G, -4, READONLY, zrevrangebylex).ks("RO access").keys(1, 1, 1)
        .doc("Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings.", "2.8.9", BYSCORE_CX)
        .args("key max min [LIMIT offset count]"),
    Command::new("zremrangebyrank", G, 4, WRITE, zremrangebyrank).ev(super::notify::Ev::KeyIfReply(crate::config::events::ZSET, "zremrangebyrank")).ks("RW delete").keys(1, 1, 1)
        .doc("Remove all members in a sorted set within the given indexes", "2.0.0", REMRANGE_CX).args("key start stop"),
    Command::new("zremrangebyscore", G, 4, WRITE, zremrangebyscore).ev(super::notify::Ev::KeyIfReply(crate::config::events::ZSET, "zremrangebyscore")).ks("RW delete").keys(1, 1, 1)
        .doc("Remove all members in a sorted set within the given scores", "1.2.0", REMRANGE_CX).args("key min max"),
    Command::new("zremrangebylex", G, 4, WRITE, zremrangebylex).ev(super::notify::Ev::KeyIfReply(crate::config::events::ZSET, "zremrangebylex")).ks("RW delete").keys(1, 1, 1)
        .doc("Remove all members in a sorted set between the given lexicographical range", "2.8.9", REMRANGE_CX).args("key min max"),
    Command::new("zpopmin", G, -2, WRITE | FAST, zpopmin).ev(super::notify::Ev::KeyIfReply(crate::config::events::ZSET, "zpopmin")).ks("RW access delete").keys(1, 1, 1)
        .doc("Remove and return members with the lowest scores in a sorted set", "5.0.0", POP_CX).args("key [count]"),
    Command::new("zpopmax", G, -2, WRITE | FAST, zpopmax).ev(super::notify::Ev::KeyIfReply(crate::config::events::ZSET, "zpopmax")).ks("RW access delete").keys(1, 1, 1)
        .doc("Remove and return members with the highest scores in a sorted set", "5.0.0", POP_CX).args("key [count]"),
    Command::new("zmpop", G, -4, WRITE, zmpop).ev(super::notify::Ev::Fn(super::notify::pop)).keynum(1, 0, 1, 1, "RW access delete")
        .doc("Remove and return members with scores in a sorted set", "7.0.0", "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.")
        .args("numkeys key [key ...] MIN|MAX [COUNT count]"),
    Command::new("bzpopmin", G, -3, WRITE | NOSCRIPT | BLOCKING | FAST, bzpopmin).ev(super::notify::Ev::Fn(super::notify::pop)).prop(super::aof::Prop::BlockingPop).ks("RW access delete").keys(1, -2, 1)
        .doc("Remove and return the member with the lowest score from one or more sorted sets, or block until one is available", "5.0.0", "O(log(N)) with N being the number of elements in the sorted set.")
        .args("key [key ...] timeout"),
    Command::new("bzpopmax", G, -3, WRITE | NOSCRIPT | BLOCKING | FAST, bzpopmax).ev(super::notify::Ev::Fn(super::notify::pop)).prop(super::aof::Prop::BlockingPop).ks("RW access delete").keys(1, -2, 1)
        .doc("Remove and return the member with the highest score from one or more sorted sets, or block until one is available", "5.0.0", "O(log(N)) with N being the number of elements in the sorted set.")
        .args("key [key ...] timeout"),
    Command::new("bzmpop", G, -5, WRITE | BLOCKING, bzmpop).ev(super::notify::Ev::Fn(super::notify::pop)).prop(super::aof::Prop::BlockingPop).keynum(2, 0, 1, 1, "RW access delete")
        .doc("Remove and return members with scores in a sorted set or block until one is available", "7.0.0", "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.")
        .args("timeout numkeys key [key ...] MIN|MAX [COUNT count]"),
    Command::new("zrandmember", G, -2, READONLY, zrandmember).ks("RO access").tips("nondeterministic_output").keys(1, 1, 1)
        .doc("Get one or multiple random elements from a sorted set", "6.2.0", "O(N) where N is the number of elements returned")
        .args("key [count [WITHSCORES]]"),
    Command::new("zunion", G, -3, READONLY, zunion).keynum(1, 0, 1, 1, "RO access")
        .doc("Add multiple sorted sets", "6.2.0", UNION_CX)
        .args("numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]"),
    Command::new("zinter", G, -3, READONLY, zinter).keynum(1, 0, 1, 1, "RO access")
        .doc("Intersect multiple sorted sets", "6.2.0", INTER_CX)
        .args("numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]"),
    Command::new("zdiff", G, -3, READONLY, zdiff).keynum(1, 0, 1, 1, "RO access")
        .doc("Subtract multiple sorted sets", "6.2.0", DIFF_CX).args("numkeys key [key ...] [WITHSCORES]"),
    Command::new("zunionstore", G, -4, WRITE | DENYOOM, zunionstore).ev(super::notify::Ev::Store(crate::config::events::ZSET, "zunionstore")).ks("OW update").keys(1, 1, 1).keynum(2, 0, 1, 1, "RO access")
        .doc("Add multiple sorted sets and store the resulting sorted set in a new key", "2.0.0", "O(N)+O(M log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.")
        .args("destination numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM|MIN|MAX]"),
    Command::new("zinterstore", G, -4, WRITE | DENYOOM, zinterstore).ev(super::notify::Ev::Store(crate::config::events::ZSET, "zinterstore")).ks("OW update").keys(1, 1, 1).keynum(2, 0, 1, 1, "RO access")
        .doc("Intersect multiple sorted sets and store the resulting sorted set in a new key", "2.0.0", INTER_CX)
        .args("destination numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM|MIN|MAX]"),
    Command::new("zdiffstore", G, -4, WRITE | DENYOOM, zdiffstore).ev(super::notify::Ev::Store(crate::config::events::ZSET, "zdiffstore")).ks("OW update").keys(1, 1, 1).keynum(2, 0, 1, 1, "RO access")
        .doc("Subtract multiple sorted sets and store the resulting sorted set in a new key", "6.2.0", DIFF_CX)
        .args("destination numkeys key [key ...]"),
    Command::new("zintercard", G, -3, READONLY, zintercard).keynum(1, 0, 1, 1, "RO access")
        .doc("Intersect multiple sorted sets and return the cardinality of the result", "7.0.0", "O(N*K) worst case with N being the smallest input sorted set, K being the number of input sorted sets.")
        .args("numkeys key [key ...] [LIMIT limit]"),
    Command::new("zscan", G, -3, READONLY, zscan).ks("RO access").tips("nondeterministic_output").keys(1, 1, 1)
        .doc("Incrementally iterate sorted sets elements and associated scores", "2.8.0", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..")
        .args("key cursor [MATCH pattern] [COUNT count]"),
];

// ---------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------

const NAN_SCORE: &str = "ERR resulting score is not a number (NaN)";
const NOT_FLOAT_RANGE: &str = "ERR min or max is not a float";
const NOT_LEX_RANGE: &str = "ERR min or max not valid string range item";

fn limits(ctx: &Ctx) -> Limits {
    let e = &ctx.shared.enc;
    Limits { entries: EncLimits::get(&e.zset_max_listpack_entries), value: EncLimits::get(&e.zset_max_listpack_value) }
}

/// The zset at a looked-up key: Ok(None) if missing, Err(WRONGTYPE) if not a zset.
fn as_zset(it: Option<&Item>) -> Result<Option<&ZSet>, Reply> {
    match it {
        None => Ok(None),
        Some(it) => match &it.val {
            Value::ZSet(z) => Ok(Some(z)),
            _ => Err(Reply::err(WRONGTYPE)),
        },
    }
}

/// Counts a keyspace hit or miss for `key`, as Redis's lookupKeyRead does.
fn note_read(ctx: &mut Ctx, key: &[u8]) {
    let found = ctx.get(key).is_some();
    ctx.hit(found);
}

macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => return e,
        }
    };
}

/// C's isspace.
fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// C strtod over the bytes before the first NUL: (value, bytes consumed, ERANGE set).
pub fn c_strtod(a: &[u8]) -> (f64, usize, bool) {
    let end = a.iter().position(|&c| c == 0).unwrap_or(a.len());
    let mut buf = Vec::with_capacity(end + 1);
    buf.extend_from_slice(&a[..end]);
    buf.push(0);
    let mut eptr: *mut libc::c_char = std::ptr::null_mut();
    // SAFETY: `buf` is NUL-terminated and outlives the call; strtod writes only `eptr`
    // (a pointer into `buf`) and errno, which belongs to this thread.
    unsafe {
        *errno_ptr() = 0;
        let v = libc::strtod(buf.as_ptr() as *const libc::c_char, &mut eptr);
        let used = eptr.offset_from(buf.as_ptr() as *const libc::c_char) as usize;
        (v, used, *errno_ptr() == libc::ERANGE)
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
unsafe fn errno_ptr() -> *mut libc::c_int {
    libc::__errno_location()
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
unsafe fn errno_ptr() -> *mut libc::c_int {
    libc::__error()
}

/// Redis's getDoubleFromObject: the whole argument is a strtod number, no leading
/// space, no overflow or underflow to zero, not NaN.
fn parse_double(a: &[u8]) -> Option<f64> {
    if a.is_empty() || is_c_space(a[0]) {
        return None;
    }
    let (v, used, erange) = c_strtod(a);
    if used != a.len() || (erange && (v.is_infinite() || v == 0.0)) || v.is_nan() {
        return None;
    }
    Some(v)
}

fn score_arg(a: &[u8]) -> Result<f64, Reply> {
    parse_double(a).ok_or_else(|| Reply::err(NOT_FLOAT))
}

/// A score interval (Redis's zrangespec).
#[derive(Clone, Copy, Debug)]
struct ScoreRange {
    min: f64,
    minex: bool,
    max: f64,
    maxex: bool,
}

impl ScoreRange {
    /// Redis's zslParseRange: `(` makes a bound exclusive; the rest is strtod'ed up to
    /// the first NUL (so leading spaces and an empty string are accepted), NaN refused.
    fn parse(min: &[u8], max: &[u8]) -> Result<ScoreRange, Reply> {
        fn bound(a: &[u8]) -> Option<(f64, bool)> {
            let (ex, body) = if a.first() == Some(&b'(') { (true, &a[1..]) } else { (false, a) };
            let cstr = body.iter().position(|&c| c == 0).unwrap_or(body.len());
            let (v, used, _) = c_strtod(body);
            (used == cstr && !v.is_nan()).then_some((v, ex))
        }
        match (bound(min), bound(max)) {
            (Some((min, minex)), Some((max, maxex))) => Ok(ScoreRange { min, minex, max, maxex }),
            _ => Err(Reply::err(NOT_FLOAT_RANGE)),
        }
    }
    fn gte_min(&self, v: f64) -> bool {
        if self.minex {
            v > self.min
        } else {
            v >= self.min
        }
    }
    fn lte_max(&self, v: f64) -> bool {
        if self.maxex {
            v < self.max
        } else {
            v <= self.max
        }
    }
    /// Ascending ranks [lo, hi) of the elements in range.
    fn span(&self, z: &ZSet) -> (usize, usize) {
        let lo = z.count_while(|s, _| !self.gte_min(s));
        let hi = z.count_while(|s, _| self.lte_max(s));
        (lo, hi.max(lo))
    }
}

/// One end of a lex range: `-`, `+`, `[x` or `(x`.
#[derive(Clone, Copy, Debug)]
enum Lex<'a> {
    Min,
    Max,
    Incl(&'a [u8]),
    Excl(&'a [u8]),
}

#[derive(Clone, Copy, Debug)]
struct LexRange<'a> {
    min: Lex<'a>,
    max: Lex<'a>,
}

impl<'a> LexRange<'a> {
    /// Redis's zslParseLexRange.
    fn parse(min: &'a [u8], max: &'a [u8]) -> Result<LexRange<'a>, Reply> {
        fn item(a: &[u8]) -> Option<Lex<'_>> {
            let alone = a.get(1).is_none_or(|&c| c == 0);
            match a.first() {
                Some(b'+') if alone => Some(Lex::Max),
                Some(b'-') if alone => Some(Lex::Min),
                Some(b'(') => Some(Lex::Excl(&a[1..])),
                Some(b'[') => Some(Lex::Incl(&a[1..])),
                _ => None,
            }
        }
        match (item(min), item(max)) {
            (Some(min), Some(max)) => Ok(LexRange { min, max }),
            _ => Err(Reply::err(NOT_LEX_RANGE)),
        }
    }
    fn gte_min(&self, v: &[u8]) -> bool {
        match self.min {
            Lex::Min => true,
            Lex::Max => false,
            Lex::Incl(m) => v >= m,
            Lex::Excl(m) => v > m,
        }
    }
    fn lte_max(&self, v: &[u8]) -> bool {
        match self.max {
            Lex::Min => false,
            Lex::Max => true,
            Lex::Incl(m) => v <= m,
            Lex::Excl(m) => v < m,
        }
    }
    /// Ascending ranks [lo, hi) of the elements in range (members of equal score).
    fn span(&self, z: &ZSet) -> (usize, usize) {
        self.span_dir(z, false)
    }

    /// Like [`LexRange::span`], found from the `rev` end. With equal scores both
    /// directions give the same span. With different scores the members are not in lex
    /// order and Redis's answer is "unspecified", but for a listpack it is a
    /// deterministic linear walk (zzlIsInLexRange, then zzlFirstInLexRange and a walk up
    /// while <= max, or zzlLastInLexRange and a walk down while >= min), which is
    /// reproduced here; a skiplist keeps the binary search (Redis's answer then depends
    /// on its random skiplist levels).
    fn span_dir(&self, z: &ZSet, rev: bool) -> (usize, usize) {
        if z.encoding() == "listpack" {
            return self.pack_span(z, rev);
        }
        let lo = z.count_while(|_, m| !self.gte_min(m));
        let hi = z.count_while(|_, m| self.lte_max(m));
        (lo, hi.max(lo))
    }

    /// Redis's `sdscmplex(min, max) > 0`, or equal ends with one exclusive: always empty.
    fn always_empty(&self) -> bool {
        fn key<'b>(l: &Lex<'b>) -> (u8, &'b [u8]) {
            match *l {
                Lex::Min => (0, b""),
                Lex::Incl(m) | Lex::Excl(m) => (1, m),
                Lex::Max => (2, b""),
            }
        }
        match key(&self.min).cmp(&key(&self.max)) {
            std::cmp::Ordering::Greater => true,
            std::cmp::Ordering::Equal => matches!(self.min, Lex::Excl(_)) || matches!(self.max, Lex::Excl(_)),
            std::cmp::Ordering::Less => false,
        }
    }

    fn pack_span(&self, z: &ZSet, rev: bool) -> (usize, usize) {
        let m: Vec<&[u8]> = z.iter().map(|(m, _)| m).collect();
        let (Some(first), Some(last)) = (m.first(), m.last()) else {
            return (0, 0);
        };
        if self.always_empty() || !self.gte_min(last) || !self.lte_max(first) {
            return (0, 0);
        }
        if rev {
            match m.iter().rposition(|v| self.lte_max(v)) {
                Some(top) if self.gte_min(m[top]) => {
                    let n = m[..=top].iter().rev().take_while(|v| self.gte_min(v)).count();
                    (top + 1 - n, top + 1)
                }
                _ => (0, 0),
            }
        } else {
            match m.iter().position(|v| self.gte_min(v)) {
                Some(lo) => (lo, lo + m[lo..].iter().take_while(|v| self.lte_max(v)).count()),
                None => (0, 0),
            }
        }
    }
}

/// Redis's rank range sanitising: ascending ranks [lo, hi) for `start..=end`.
fn rank_span(len: usize, start: i64, end: i64) -> (usize, usize) {
    let llen = len as i64;
    let mut start = if start < 0 { llen.saturating_add(start) } else { start };
    let end = if end < 0 { llen.saturating_add(end) } else { end };
    if start < 0 {
        start = 0;
    }
    if start > end || start >= llen {
        return (0, 0);
    }
    let end = end.min(llen - 1);
    (start as usize, end as usize + 1)
}

/// A reply of members, with scores flat (RESP2) or as [member, score] pairs (RESP3).
fn members_reply<'a>(proto: Proto, items: impl Iterator<Item = (&'a [u8], f64)>, withscores: bool) -> Reply {
    let mut out = Vec::new();
    for (m, s) in items {
        if !withscores {
            out.push(Reply::bulk(m));
        } else if proto == Proto::Resp3 {
            out.push(Reply::Array(vec![Reply::bulk(m), Reply::Double(s)]));
        } else {
            out.push(Reply::bulk(m));
            out.push(Reply::Double(s));
        }
    }
    Reply::Array(out)
}

/// Writes a *STORE result (ascending, unique members) to `dst`, or deletes `dst` when it
/// is empty. Replies with the result's size.
fn store_result(ctx: &mut Ctx, dst: &[u8], items: &[(Vec<u8>, f64)]) -> Reply {
    let now = ctx.now;
    let lim = limits(ctx);
    let st = ctx.stripe_mut(dst);
    if items.is_empty() {
        st.remove(dst);
        return Reply::Int(0);
    }
    let z = ZSet::from_sorted(items.iter().map(|(m, s)| (m.as_slice(), *s)), lim);
    st.set(dst, Value::ZSet(Box::new(z)), None, now);
    Reply::Int(items.len() as i64)
}

fn owned<'a>(items: impl Iterator<Item = (&'a [u8], f64)>) -> Vec<(Vec<u8>, f64)> {
    items.map(|(m, s)| (m.to_vec(), s)).collect()
}

thread_local! {
    static RNG: Cell<u64> = Cell::new({
        use std::hash::BuildHasher;
        std::collections::hash_map::RandomState::new().hash_one(0x5eed_u64) | 1
    });
}

fn rand_u64() -> u64 {
    RNG.with(|r| {
        let mut x = r.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        r.set(x);
        x
    })
}

fn rand_below(n: usize) -> usize {
    (rand_u64() % n as u64) as usize
}

// ---------------------------------------------------------------------------------------
// ZADD ZINCRBY ZREM
// ---------------------------------------------------------------------------------------

fn zadd(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    zadd_generic(ctx, argv, false)
}

fn zincrby(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    zadd_generic(ctx, argv, true)
}

/// Redis's zaddGenericCommand (ZADD, and ZINCRBY as ZADD INCR).
fn zadd_generic(ctx: &mut Ctx, argv: &[&[u8]], mut incr: bool) -> Reply {
    let key = argv[1];
    let (mut nx, mut xx, mut gt, mut lt, mut ch) = (false, false, false, false, false);
    let mut idx = 2;
    while idx < argv.len() {
        let o = argv[idx];
        if eq_ic(o, "nx") {
            nx = true;
        } else if eq_ic(o, "xx") {
            xx = true;
        } else if eq_ic(o, "ch") {
            ch = true;
        } else if eq_ic(o, "incr") {
            incr = true;
        } else if eq_ic(o, "gt") {
            gt = true;
        } else if eq_ic(o, "lt") {
            lt = true;
        } else {
            break;
        }
        idx += 1;
    }
    let elements = argv.len() - idx;
    if elements % 2 != 0 || elements == 0 {
        return Reply::err(SYNTAX);
    }
    if nx && xx {
        return Reply::err("ERR XX and NX options at the same time are not compatible");
    }
    if (nx && (gt || lt)) || (gt && lt) {
        return Reply::err("ERR GT, LT, and/or NX options at the same time are not compatible");
    }
    if incr && elements > 2 {
        return Reply::err("ERR INCR option supports a single increment-element pair");
    }
    let mut scores = Vec::with_capacity(elements / 2);
    for pair in argv[idx..].chunks(2) {
        scores.push(tri!(score_arg(pair[0])));
    }
    let lim = limits(ctx);
    let now = ctx.now;
    let st = ctx.stripe_mut(key);
    let mut created = false;
    match st.get_mut(key, now) {
        Some(it) if !matches!(it.val, Value::ZSet(_)) => return Reply::err(WRONGTYPE),
        Some(_) => {}
        None if xx => return if incr { Reply::Nil } else { Reply::Int(0) },
        None => {
            st.set(key, Value::ZSet(Box::default()), None, now);
            created = true;
        }
    }
    let Some(Value::ZSet(z)) = st.get_mut(key, now).map(|it| &mut it.val) else {
        return Reply::err(WRONGTYPE);
    };
    let (mut added, mut updated, mut processed) = (0i64, 0i64, 0i64);
    let mut last = 0.0;
    let mut failed = false;
    for (pair, &score) in argv[idx..].chunks(2).zip(&scores) {
        let m = pair[1];
        match z.score(m) {
            Some(cur) => {
                if nx {
                    continue;
                }
                let mut score = score;
                if incr {
                    score += cur;
                    if score.is_nan() {
                        failed = true;
                        break;
                    }
                }
                if (lt && score >= cur) || (gt && score <= cur) {
                    continue;
                }
                last = score;
                processed += 1;
                if score != cur {
                    z.update(m, score);
                    updated += 1;
                }
            }
            None if xx => {}
            None => {
                z.insert_new(m, score, lim);
                last = score;
                added += 1;
                processed += 1;
            }
        }
    }
    if created && z.is_empty() {
        st.remove(key);
    }
    ctx.changed_hint = Some(added + updated > 0);
    if failed {
        return Reply::err(NAN_SCORE);
    }
    if incr {
        if processed > 0 {
            Reply::Double(last)
        } else {
            Reply::Nil
        }
    } else {
        Reply::Int(if ch { added + updated } else { added })
    }
}

fn zrem(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let key = argv[1];
    let now = ctx.now;
    let st = ctx.stripe_mut(key);
    let z = match st.get_mut(key, now) {
        None => return Reply::Int(0),
        Some(it) => match &mut it.val {
            Value::ZSet(z) => z,
            _ => return Reply::err(WRONGTYPE),
        },
    };
    let mut deleted = 0;
    for m in &argv[2..] {
        if z.remove(m).is_some() {
            deleted += 1;
        }
        if z.is_empty() {
            break;
        }
    }
    if z.is_empty() {
        st.remove(key);
    }
    Reply::Int(deleted)
}

// ---------------------------------------------------------------------------------------
// Point reads
// ---------------------------------------------------------------------------------------

fn zcard(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    note_read(ctx, argv[1]);
    match as_zset(ctx.get(argv[1])) {
        Ok(Some(z)) => Reply::Int(z.len() as i64),
        Ok(None) => Reply::Int(0),
        Err(e) => e,
    }
}

fn zscore(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    note_read(ctx, argv[1]);
    match as_zset(ctx.get(argv[1])) {
        Ok(Some(z)) => z.score(argv[2]).map(Reply::Double).unwrap_or(Reply::Nil),
        Ok(None) => Reply::Nil,
        Err(e) => e,
    }
}

fn zmscore(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    note_read(ctx, argv[1]);
    let z = tri!(as_zset(ctx.get(argv[1])));
    let out = argv[2..].iter().map(|m| z.and_then(|z| z.score(m)).map(Reply::Double).unwrap_or(Reply::Nil)).collect();
    Reply::Array(out)
}

fn rank_generic(ctx: &mut Ctx, argv: &[&[u8]], rev: bool) -> Reply {
    note_read(ctx, argv[1]);
    match as_zset(ctx.get(argv[1])) {
        Ok(Some(z)) => match z.rank(argv[2]) {
            Some(r) if rev => Reply::Int((z.len() - 1 - r) as i64),
            Some(r) => Reply::Int(r as i64),
            None => Reply::Nil,
        },
        Ok(None) => Reply::Nil,
        Err(e) => e,
    }
}

fn zrank(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    rank_generic(ctx, argv, false)
}

fn zrevrank(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    rank_generic(ctx, argv, true)
}

fn zcount(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let range = tri!(ScoreRange::parse(argv[2], argv[3]));
    note_read(ctx, argv[1]);
    match as_zset(ctx.get(argv[1])) {
        Ok(Some(z)) => {
            let (lo, hi) = range.span(z);
            Reply::Int((hi - lo) as i64)
        }
        Ok(None) => Reply::Int(0),
        Err(e) => e,
    }
}

fn zlexcount(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let range = tri!(LexRange::parse(argv[2], argv[3]));
    note_read(ctx, argv[1]);
    match as_zset(ctx.get(argv[1])) {
        Ok(Some(z)) => {
            let (lo, hi) = range.span(z);
            Reply::Int((hi - lo) as i64)
        }
        Ok(None) => Reply::Int(0),
        Err(e) => e,
    }
}

// ---------------------------------------------------------------------------------------
// ZRANGE and friends
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum RangeType {
    Auto,
    Rank,
    Score,
    Lex,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Dir {
    Auto,
    Fwd,
    Rev,
}

fn zrange(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    zrange_generic(ctx, argv, 1, None, RangeType::Auto, Dir::Auto)
}

fn zrangestore(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    zrange_generic(ctx, argv, 2, Some(argv[1]), RangeType::Auto, Dir::Auto)
}

fn zrevrange(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    zrange_generic(ctx, argv, 1, None, RangeType::Rank, Dir::Rev)
}

fn zrangebyscore(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    zrange_generic(ctx, argv, 1, None, RangeType::Score, Dir::Fwd)
}

fn zrevrangebyscore(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    zrange_generic(ctx, argv, 1, None, RangeType::Score, Dir::Rev)
}

fn zrangebylex(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    zrange_generic(ctx, argv, 1, None, RangeType::Lex, Dir::Fwd)
}

fn zrevrangebylex(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    zrange_generic(ctx, argv, 1, None, RangeType::Lex, Dir::Rev)
}

/// Redis's zrangeGenericCommand: ZRANGE, ZRANGESTORE and the deprecated variants.
/// `src` is the index of the source key; `store` the destination for ZRANGESTORE.
fn zrange_generic(
    ctx: &mut Ctx,
    argv: &[&[u8]],
    src: usize,
    store: Option<&[u8]>,
    mut rt: RangeType,
    mut dir: Dir,
) -> Reply {
    let (mut withscores, mut offset, mut limit) = (false, 0i64, -1i64);
    let mut j = src + 3;
    while j < argv.len() {
        let left = argv.len() - j - 1;
        let a = argv[j];
        if store.is_none() && eq_ic(a, "withscores") {
            withscores = true;
        } else if eq_ic(a, "limit") && left >= 2 {
            offset = tri!(parse_int(argv[j + 1]));
            limit = tri!(parse_int(argv[j + 2]));
            j += 2;
        } else if dir == Dir::Auto && eq_ic(a, "rev") {
            dir = Dir::Rev;
        } else if rt == RangeType::Auto && eq_ic(a, "bylex") {
            rt = RangeType::Lex;
        } else if rt == RangeType::Auto && eq_ic(a, "byscore") {
            rt = RangeType::Score;
        } else {
            return Reply::err(SYNTAX);
        }
        j += 1;
    }
    if dir == Dir::Auto {
        dir = Dir::Fwd;
    }
    if rt == RangeType::Auto {
        rt = RangeType::Rank;
    }
    if limit != -1 && rt == RangeType::Rank {
        return Reply::err("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX");
    }
    if withscores && rt == RangeType::Lex {
        return Reply::err("ERR syntax error, WITHSCORES not supported in combination with BYLEX");
    }
    let rev = dir == Dir::Rev;
    let (mut minidx, mut maxidx) = (src + 1, src + 2);
    if rev && rt != RangeType::Rank {
        std::mem::swap(&mut minidx, &mut maxidx);
    }
    enum Spec<'a> {
        Rank(i64, i64),
        Score(ScoreRange),
        Lex(LexRange<'a>),
    }
    let spec = match rt {
        RangeType::Score => Spec::Score(tri!(ScoreRange::parse(argv[minidx], argv[maxidx]))),
        RangeType::Lex => Spec::Lex(tri!(LexRange::parse(argv[minidx], argv[maxidx]))),
        _ => Spec::Rank(tri!(parse_int(argv[minidx])), tri!(parse_int(argv[maxidx]))),
    };
    note_read(ctx, argv[src]);
    let z = match as_zset(ctx.get(argv[src])) {
        Ok(Some(z)) => z,
        Ok(None) => {
            return match store {
                Some(dst) => store_result(ctx, dst, &[]),
                None => Reply::Array(vec![]),
            }
        }
        Err(e) => return e,
    };
    // Ascending ranks [lo, hi), then Redis's offset/limit walk in the asked direction.
    let (lo, hi, offset, limit) = match spec {
        Spec::Rank(start, end) => {
            let (lo, hi) = if rev {
                let (a, b) = rank_span(z.len(), start, end);
                (z.len() - b, z.len() - a)
            } else {
                rank_span(z.len(), start, end)
            };
            (lo, hi, 0, -1)
        }
        Spec::Score(r) => {
            let (lo, hi) = r.span(z);
            (lo, hi, offset, limit)
        }
        Spec::Lex(r) => {
            let (lo, hi) = r.span_dir(z, rev);
            (lo, hi, offset, limit)
        }
    };
    let count = hi - lo;
    let items: Vec<(&[u8], f64)> = if offset < 0 || offset as u64 >= count as u64 || lo >= hi {
        Vec::new()
    } else {
        let mut n = count - offset as usize;
        if limit >= 0 {
            n = n.min(limit as usize);
        }
        let start = if rev { hi - 1 - offset as usize } else { lo + offset as usize };
        z.iter_from(start, rev).take(n).collect()
    };
    match store {
        Some(dst) => {
            let mut v = owned(items.into_iter());
            if rev {
                v.reverse();
            }
            store_result(ctx, dst, &v)
        }
        None => members_reply(ctx.proto(), items.into_iter(), withscores),
    }
}

// ---------------------------------------------------------------------------------------
// ZREMRANGEBY*
// ---------------------------------------------------------------------------------------

fn zremrangebyrank(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let start = tri!(parse_int(argv[2]));
    let end = tri!(parse_int(argv[3]));
    zremrange_generic(ctx, argv[1], |z| rank_span(z.len(), start, end))
}

fn zremrangebyscore(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let r = tri!(ScoreRange::parse(argv[2], argv[3]));
    zremrange_generic(ctx, argv[1], |z| r.span(z))
}

fn zremrangebylex(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let r = tri!(LexRange::parse(argv[2], argv[3]));
    zremrange_generic(ctx, argv[1], |z| r.span(z))
}

fn zremrange_generic(ctx: &mut Ctx, key: &[u8], span: impl Fn(&ZSet) -> (usize, usize)) -> Reply {
    let now = ctx.now;
    let st = ctx.stripe_mut(key);
    let z = match st.get_mut(key, now) {
        None => return Reply::Int(0),
        Some(it) => match &mut it.val {
            Value::ZSet(z) => z,
            _ => return Reply::err(WRONGTYPE),
        },
    };
    let (lo, hi) = span(z);
    let n = z.remove_range(lo, hi, None);
    if z.is_empty() {
        st.remove(key);
    }
    Reply::Int(n as i64)
}

// ---------------------------------------------------------------------------------------
// Pops
// ---------------------------------------------------------------------------------------

/// Owned (member, score) pairs.
pub type Entries = Vec<(Vec<u8>, f64)>;

/// Pops up to `count` members of the zset at `key`: the lowest scores first, or with
/// `max` the highest first. The key is deleted when it empties. Ok(None): no such key.
pub fn pop_entries(ctx: &mut Ctx, key: &[u8], max: bool, count: usize) -> Result<Option<Entries>, Reply> {
    let now = ctx.now;
    let st = ctx.stripe_mut(key);
    let z = match st.get_mut(key, now) {
        None => return Ok(None),
        Some(it) => match &mut it.val {
            Value::ZSet(z) => z,
            _ => return Err(Reply::err(WRONGTYPE)),
        },
    };
    let len = z.len();
    let n = count.min(len);
    let mut out = Vec::with_capacity(n);
    if max {
        z.remove_range(len - n, len, Some(&mut out));
        out.reverse();
    } else {
        z.remove_range(0, n, Some(&mut out));
    }
    if z.is_empty() {
        st.remove(key);
    }
    Ok(Some(out))
}

/// Redis's genericZpopCommand, for ZPOPMIN/ZPOPMAX/ZMPOP and the blocking variants.
///
/// Pops from the first of `keys` that exists (WRONGTYPE if that one is not a zset).
/// `count` -1 is a plain single pop. Reply shapes: flat `[member, score, ...]`; with
/// `nested`, `[[member, score], ...]`; `emitkey` prefixes the key (`[key, member, score]`
/// flat, `[key, [[member, score], ...]]` nested). With no key to pop from: a null array
/// when `nil_when_empty`, else an empty array.
pub fn zpop_generic(
    ctx: &mut Ctx,
    keys: &[&[u8]],
    max: bool,
    count: i64,
    emitkey: bool,
    nested: bool,
    nil_when_empty: bool,
) -> Reply {
    let now = ctx.now;
    let mut found = None;
    for k in keys {
        match ctx.stripe_mut(k).get_mut(k, now) {
            None => continue,
            Some(it) if matches!(it.val, Value::ZSet(_)) => {
                found = Some(*k);
                break;
            }
            Some(_) => return Reply::err(WRONGTYPE),
        }
    }
    let Some(key) = found else {
        return if nil_when_empty { Reply::NilArray } else { Reply::Array(vec![]) };
    };
    if count == 0 {
        return Reply::Array(vec![]);
    }
    let count = if count < 0 { 1 } else { count as usize };
    let popped = match pop_entries(ctx, key, max, count) {
        Ok(Some(p)) => p,
        Ok(None) => Vec::new(),
        Err(e) => return e,
    };
    let mut out = Vec::with_capacity(popped.len() * 2 + 1);
    if emitkey && !nested {
        out.push(Reply::bulk(key));
    }
    for (m, s) in popped {
        if nested {
            out.push(Reply::Array(vec![Reply::Bulk(m), Reply::Double(s)]));
        } else {
            out.push(Reply::Bulk(m));
            out.push(Reply::Double(s));
        }
    }
    if emitkey && nested {
        return Reply::Array(vec![Reply::bulk(key), Reply::Array(out)]);
    }
    Reply::Array(out)
}

fn zpop_minmax(ctx: &mut Ctx, argv: &[&[u8]], max: bool) -> Reply {
    if argv.len() > 3 {
        return Reply::err(SYNTAX);
    }
    let mut count = -1;
    if argv.len() == 3 {
        count = match parse_int(argv[2]) {
            Ok(c) if c >= 0 => c,
            _ => return Reply::err("ERR value is out of range, must be positive"),
        };
    }
    let nested = ctx.proto() == Proto::Resp3 && count != -1;
    zpop_generic(ctx, &argv[1..2], max, count, false, nested, false)
}

fn zpopmin(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    zpop_minmax(ctx, argv, false)
}

fn zpopmax(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    zpop_minmax(ctx, argv, true)
}

/// Parses ZMPOP/BZMPOP arguments from `numkeys_idx`: (keys, max, count).
pub fn parse_zmpop<'a>(argv: &[&'a [u8]], numkeys_idx: usize) -> Result<(Vec<&'a [u8]>, bool, i64), Reply> {
    let numkeys = match parse_int(argv[numkeys_idx]) {
        Ok(n) if n >= 1 => n as u64,
        _ => return Err(Reply::err("ERR numkeys should be greater than 0")),
    };
    let where_idx = (numkeys_idx as u64).saturating_add(numkeys).saturating_add(1);
    if where_idx >= argv.len() as u64 {
        return Err(Reply::err(SYNTAX));
    }
    let where_idx = where_idx as usize;
    let max = if eq_ic(argv[where_idx], "min") {
        false
    } else if eq_ic(argv[where_idx], "max") {
        true
    } else {
        return Err(Reply::err(SYNTAX));
    };
    let mut count = -1i64;
    let mut j = where_idx + 1;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        if count == -1 && eq_ic(argv[j], "count") && more > 0 {
            j += 1;
            count = match parse_int(argv[j]) {
                Ok(c) if c >= 1 => c,
                _ => return Err(Reply::err("ERR count should be greater than 0")),
            };
        } else {
            return Err(Reply::err(SYNTAX));
        }
        j += 1;
    }
    if count == -1 {
        count = 1;
    }
    Ok((argv[numkeys_idx + 1..where_idx].to_vec(), max, count))
}

/// BZPOPMIN/BZPOPMAX: pop from the first non-empty key, or park until one is fed.
fn bzpop(ctx: &mut Ctx, argv: &[&[u8]], max: bool) -> Reply {
    let deadline = tri!(super::parse_timeout(argv[argv.len() - 1], ctx.now));
    let keys = &argv[1..argv.len() - 1];
    let r = zpop_generic(ctx, keys, max, -1, true, false, true);
    if r == Reply::NilArray {
        ctx.block(keys.iter().map(|k| k.to_vec()).collect(), deadline, Reply::NilArray);
    }
    r
}

fn bzpopmin(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    bzpop(ctx, argv, false)
}

fn bzpopmax(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    bzpop(ctx, argv, true)
}

fn bzmpop(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let deadline = tri!(super::parse_timeout(argv[1], ctx.now));
    let (keys, max, count) = tri!(parse_zmpop(argv, 2));
    let r = zpop_generic(ctx, &keys, max, count, true, true, true);
    if r == Reply::NilArray {
        ctx.block(keys.iter().map(|k| k.to_vec()).collect(), deadline, Reply::NilArray);
    }
    r
}

fn zmpop(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let (keys, max, count) = tri!(parse_zmpop(argv, 1));
    zpop_generic(ctx, &keys, max, count, true, true, true)
}

// ---------------------------------------------------------------------------------------
// ZRANDMEMBER
// ---------------------------------------------------------------------------------------

fn zrandmember(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    if argv.len() >= 3 {
        let l = match parse_int(argv[2]) {
            Ok(l) if l == i64::MIN => {
                return Reply::err(
                    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
                )
            }
            Ok(l) => l,
            Err(e) => return e,
        };
        let mut withscores = false;
        if argv.len() > 4 || (argv.len() == 4 && !eq_ic(argv[3], "withscores")) {
            return Reply::err(SYNTAX);
        } else if argv.len() == 4 {
            withscores = true;
            if !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
                return Reply::err("ERR value is out of range");
            }
        }
        return zrandmember_count(ctx, argv[1], l, withscores);
    }
    note_read(ctx, argv[1]);
    match as_zset(ctx.get(argv[1])) {
        Ok(Some(z)) => z.get(rand_below(z.len())).map(|(m, _)| Reply::bulk(m)).unwrap_or(Reply::Nil),
        Ok(None) => Reply::Nil,
        Err(e) => e,
    }
}

fn zrandmember_count(ctx: &mut Ctx, key: &[u8], l: i64, withscores: bool) -> Reply {
    let proto = ctx.proto();
    note_read(ctx, key);
    let z = match as_zset(ctx.get(key)) {
        Ok(Some(z)) => z,
        Ok(None) => return Reply::Array(vec![]),
        Err(e) => return e,
    };
    let size = z.len();
    let count = l.unsigned_abs() as usize;
    if count == 0 {
        return Reply::Array(vec![]);
    }
    // Negative count (or 1): independent picks, repeats allowed.
    if l < 0 || count == 1 {
        let picks = (0..count).map(|_| z.get(rand_below(size)).unwrap_or((&[][..], 0.0)));
        return members_reply(proto, picks, withscores);
    }
    // The whole set, in the order Redis walks it (from the highest score down).
    if count >= size {
        return members_reply(proto, z.iter_from(size - 1, true), withscores);
    }
    // Distinct ranks: a partial shuffle when many are asked for, else rejection sampling.
    let ranks: Vec<usize> = if count * 3 > size {
        let mut all: Vec<usize> = (0..size).collect();
        for i in 0..count {
            let j = i + rand_below(size - i);
            all.swap(i, j);
        }
        all.truncate(count);
        all
    } else {
        let mut seen = HashSet::with_capacity(count);
        let mut v = Vec::with_capacity(count);
        while v.len() < count {
            let r = rand_below(size);
            if seen.insert(r) {
                v.push(r);
            }
        }
        v
    };
    members_reply(proto, ranks.into_iter().filter_map(|r| z.get(r)), withscores)
}

// ---------------------------------------------------------------------------------------
// ZUNION ZINTER ZDIFF (+STORE) ZINTERCARD
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Agg {
    Sum,
    Min,
    Max,
}

fn aggregate(target: &mut f64, v: f64, agg: Agg) {
    match agg {
        Agg::Sum => {
            *target += v;
            // +inf + -inf: Redis keeps the convention that the result is 0.
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Agg::Min => {
            if v < *target {
                *target = v;
            }
        }
        Agg::Max => {
            if v > *target {
                *target = v;
            }
        }
    }
}

/// An input of the set operations: a zset, a plain set (every score 1), or nothing.
#[derive(Clone, Copy)]
enum Src<'a> {
    None,
    Z(&'a ZSet),
    S(&'a Set),
}

impl<'a> Src<'a> {
    fn len(&self) -> usize {
        match self {
            Src::None => 0,
            Src::Z(z) => z.len(),
            Src::S(s) => s.len(),
        }
    }
    fn find(&self, m: &[u8]) -> Option<f64> {
        match self {
            Src::None => None,
            Src::Z(z) => z.score(m),
            Src::S(s) => s.contains(m).then_some(1.0),
        }
    }
    fn for_each(&self, mut f: impl FnMut(&[u8], f64) -> bool) {
        match self {
            Src::None => {}
            Src::Z(z) => {
                for (m, s) in z.iter() {
                    if !f(m, s) {
                        return;
                    }
                }
            }
            Src::S(s) => {
                for m in s.iter() {
                    if !m.with_bytes(|b| f(b, 1.0)) {
                        return;
                    }
                }
            }
        }
    }
}

fn zunion(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    zsetop_generic(ctx, argv, None, 1, SetOp::Union, false)
}

fn zinter(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    zsetop_generic(ctx, argv, None, 1, SetOp::Inter, false)
}

fn zdiff(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    zsetop_generic(ctx, argv, None, 1, SetOp::Diff, false)
}

fn zunionstore(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    zsetop_generic(ctx, argv, Some(argv[1]), 2, SetOp::Union, false)
}

fn zinterstore(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    zsetop_generic(ctx, argv, Some(argv[1]), 2, SetOp::Inter, false)
}

fn zdiffstore(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    zsetop_generic(ctx, argv, Some(argv[1]), 2, SetOp::Diff, false)
}

fn zintercard(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    zsetop_generic(ctx, argv, None, 1, SetOp::Inter, true)
}

/// Redis's zunionInterDiffGenericCommand.
fn zsetop_generic(ctx: &mut Ctx, argv: &[&[u8]], dst: Option<&[u8]>, nk: usize, op: SetOp, card_only: bool) -> Reply {
    let setnum = tri!(parse_int(argv[nk]));
    if setnum < 1 {
        return Reply::err(format!("ERR at least 1 input key is needed for '{}' command", ctx.cmd.name));
    }
    if setnum > (argv.len() - (nk + 1)) as i64 {
        return Reply::err(SYNTAX);
    }
    let setnum = setnum as usize;
    let keys = &argv[nk + 1..nk + 1 + setnum];
    if dst.is_none() {
        for k in keys {
            note_read(ctx, k);
        }
    }
    let mut srcs: Vec<(Src, f64)> = Vec::with_capacity(setnum);
    for k in keys {
        let src = match ctx.get(k) {
            None => Src::None,
            Some(it) => match &it.val {
                Value::ZSet(z) => Src::Z(z),
                Value::Set(s) => Src::S(s),
                _ => return Reply::err(WRONGTYPE),
            },
        };
        srcs.push((src, 1.0));
    }
    let (mut agg, mut withscores, mut limit) = (Agg::Sum, false, 0usize);
    let mut j = nk + 1 + setnum;
    while j < argv.len() {
        let remaining = argv.len() - j;
        let a = argv[j];
        if op != SetOp::Diff && !card_only && remaining > setnum && eq_ic(a, "weights") {
            j += 1;
            for src in srcs.iter_mut() {
                src.1 = match parse_double(argv[j]) {
                    Some(w) => w,
                    None => return Reply::err("ERR weight value is not a float"),
                };
                j += 1;
            }
        } else if op != SetOp::Diff && !card_only && remaining >= 2 && eq_ic(a, "aggregate") {
            let v = argv[j + 1];
            agg = if eq_ic(v, "sum") {
                Agg::Sum
            } else if eq_ic(v, "min") {
                Agg::Min
            } else if eq_ic(v, "max") {
                Agg::Max
            } else {
                return Reply::err(SYNTAX);
            };
            j += 2;
        } else if dst.is_none() && !card_only && eq_ic(a, "withscores") {
            withscores = true;
            j += 1;
        } else if card_only && remaining >= 2 && eq_ic(a, "limit") {
            limit = match parse_int(argv[j + 1]) {
                Ok(l) if l >= 0 => l as usize,
                _ => return Reply::err("ERR LIMIT can't be negative"),
            };
            j += 2;
        } else {
            return Reply::err(SYNTAX);
        }
    }
    if op != SetOp::Diff {
        // Smallest first (stable, like glibc's merge-sort qsort), as Redis does.
        srcs.sort_by_key(|(s, _)| s.len());
    }
    let mut result: Vec<(Vec<u8>, f64)> = Vec::new();
    let mut cardinality = 0usize;
    match op {
        SetOp::Inter => {
            let (first, w0) = srcs[0];
            if first.len() > 0 {
                first.for_each(|m, s| {
                    let mut score = w0 * s;
                    if score.is_nan() {
                        score = 0.0;
                    }
                    for (src, w) in &srcs[1..] {
                        match src.find(m) {
                            Some(v) => aggregate(&mut score, v * w, agg),
                            None => return true,
                        }
                    }
                    if card_only {
                        cardinality += 1;
                        return !(limit > 0 && cardinality >= limit);
                    }
                    result.push((m.to_vec(), score));
                    true
                });
            }
        }
        SetOp::Union => {
            let mut acc: HashMap<Vec<u8>, f64> = HashMap::new();
            for (src, w) in &srcs {
                src.for_each(|m, s| {
                    let mut score = w * s;
                    if score.is_nan() {
                        score = 0.0;
                    }
                    match acc.get_mut(m) {
                        Some(t) => aggregate(t, score, agg),
                        None => {
                            acc.insert(m.to_vec(), score);
                        }
                    }
                    true
                });
            }
            result = acc.into_iter().collect();
        }
        SetOp::Diff => {
            let (first, _) = srcs[0];
            first.for_each(|m, s| {
                if !srcs[1..].iter().any(|(src, _)| src.find(m).is_some()) {
                    result.push((m.to_vec(), s));
                }
                true
            });
        }
    }
    drop(srcs);
    if card_only {
        return Reply::Int(cardinality as i64);
    }
    result.sort_by(|a, b| cmp_entry(a.1, &a.0, b.1, &b.0));
    match dst {
        Some(d) => store_result(ctx, d, &result),
        None => members_reply(ctx.proto(), result.iter().map(|(m, s)| (m.as_slice(), *s)), withscores),
    }
}

// ---------------------------------------------------------------------------------------
// ZSCAN
// ---------------------------------------------------------------------------------------

/// A score as ZSCAN prints it: `%.17g`, except that a listpack stores integral scores
/// within ±2^62 as integers (Redis's double2ll), which print as integers.
fn scan_score(s: f64, packed: bool) -> String {
    const LIM: f64 = 4611686018427387904.0;
    if packed && (-LIM..=LIM).contains(&s) && s.trunc() == s {
        (s as i64).to_string()
    } else {
        fmt_double(s)
    }
}

fn zscan(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let Some(cursor) = parse_cursor(argv[2]) else {
        return Reply::err("ERR invalid cursor");
    };
    note_read(ctx, argv[1]);
    let z = match as_zset(ctx.get(argv[1])) {
        Ok(Some(z)) => z,
        Ok(None) => return Reply::Array(vec![Reply::bulk(b"0"), Reply::Array(vec![])]),
        Err(e) => return e,
    };
    let (mut count, mut pattern) = (10i64, None);
    let mut i = 3;
    while i < argv.len() {
        let more = argv.len() - i;
        if eq_ic(argv[i], "count") && more >= 2 {
            count = match crate::store::parse_i64_strict(argv[i + 1]) {
                Some(c) => c,
                None => return Reply::err(NOT_INT),
            };
            if count < 1 {
                return Reply::err(SYNTAX);
            }
            i += 2;
        } else if eq_ic(argv[i], "match") && more >= 2 {
            pattern = Some(argv[i + 1]).filter(|p| *p != b"*");
            i += 2;
        } else {
            return Reply::err(SYNTAX);
        }
    }
    let packed = z.encoding() == "listpack";
    let (next, items) = z.scan(cursor, count as usize);
    let mut out = Vec::with_capacity(items.len() * 2);
    for (m, s) in items {
        if pattern.is_some_and(|p| !glob_match(p, m, false)) {
            continue;
        }
        out.push(Reply::bulk(m));
        out.push(Reply::Bulk(scan_score(s, packed).into_bytes()));
    }
    Reply::Array(vec![Reply::Bulk(next.to_string().into_bytes()), Reply::Array(out)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_parse_like_redis() {
        assert_eq!(parse_double(b"1.5"), Some(1.5));
        assert_eq!(parse_double(b"0x10"), Some(16.0));
        assert_eq!(parse_double(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_double(b"+inf"), Some(f64::INFINITY));
        assert_eq!(parse_double(b"1e400"), None);
        assert_eq!(parse_double(b"1e-400"), None);
        assert_eq!(parse_double(b" 1"), None);
        assert_eq!(parse_double(b"1 "), None);
        assert_eq!(parse_double(b""), None);
        assert_eq!(parse_double(b"nan"), None);
        assert!(parse_double(b"1e-310").is_some());
    }

    #[test]
    fn ranges_parse_like_redis() {
        let r = ScoreRange::parse(b"(1", b"+inf").unwrap();
        assert!(r.minex && !r.maxex && r.max.is_infinite());
        assert!(ScoreRange::parse(b"", b"( 2").is_ok());
        assert!(ScoreRange::parse(b"[1", b"2").is_err());
        assert!(ScoreRange::parse(b"(nan", b"2").is_err());
        assert!(LexRange::parse(b"-", b"+").is_ok());
        assert!(LexRange::parse(b"a", b"+").is_err());
        assert!(LexRange::parse(b"-x", b"+").is_err());
        assert_eq!(rank_span(10, 0, -1), (0, 10));
        assert_eq!(rank_span(10, -3, -2), (7, 9));
        assert_eq!(rank_span(10, 5, 2), (0, 0));
        assert_eq!(rank_span(10, -100, 100), (0, 10));
        assert_eq!(rank_span(10, i64::MIN, i64::MAX), (0, 10));
    }
}
