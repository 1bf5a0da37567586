//! Hash commands (COMMAND DOCS group `hash`).
//!
//! Must hold: replies and errors are Redis 7.0's byte for byte; a hash's encoding follows
//! Redis 7.0 (`listpack` up to hash-max-listpack-entries fields of at most
//! hash-max-listpack-value bytes, then `hashtable` for good), so OBJECT ENCODING and the
//! order of HGETALL/HKEYS/HVALS/HSCAN on small hashes agree with Redis; a hash left empty
//! is deleted.

use super::errors::{self, OVERFLOW, SYNTAX};
use super::flags::*;
use super::set::{random_distinct, random_repeat, with_rng, MAX_RANDOM_REPLY, RANGE_ERR};
use super::state::EncLimits;
use super::{eq_ic, parse_int, Command, Ctx};
use crate::protocol::{Proto, Reply};
use crate::store::glob_match;
use crate::store::hash::{Hash, HashLimits};
use crate::store::num::{ld_incr, LdError};

const G: &str = "hash";

const SCAN_CX: &str = "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..";

pub static COMMANDS: &[Command] = &[
    Command::new("hset", G, -4, WRITE | DENYOOM | FAST, hset).ev(super::notify::Ev::Key(crate::config::events::HASH, "hset"))
        .ks("RW update")
        .keys(1, 1, 1)
        .doc("Set the string value of a hash field", "2.0.0", "O(1) for each field/value pair added, so O(N) to add N field/value pairs when the command is called with multiple field/value pairs.")
        .args("key field value [field value ...]"),
    Command::new("hsetnx", G, 4, WRITE | DENYOOM | FAST, hsetnx).ev(super::notify::Ev::KeyIfReply(crate::config::events::HASH, "hset"))
        .ks("RW insert")
        .keys(1, 1, 1)
        .doc("Set the value of a hash field, only if the field does not exist", "2.0.0", "O(1)")
        .args("key field value"),
    Command::new("hget", G, 3, READONLY | FAST, hget)
        .ks("RO access")
        .keys(1, 1, 1)
        .doc("Get the value of a hash field", "2.0.0", "O(1)")
        .args("key field"),
    Command::new("hmset", G, -4, WRITE | DENYOOM | FAST, hmset).ev(super::notify::Ev::Key(crate::config::events::HASH, "hset"))
        .ks("RW update")
        .keys(1, 1, 1)
        .doc("Set multiple hash fields to multiple values", "2.0.0", "O(N) where N is the number of fields being set.")
        .args("key field value [field value ...]"),
    Command::new("hmget", G, -3, READONLY | FAST, hmget)
        .ks("RO access")
        .keys(1, 1, 1)
        .doc("Get the values of all the given hash fields", "2.0.0", "O(N) where N is the number of fields being requested.")
        .args("key field [field ...]"),
    Command::new("hdel", G, -3, WRITE | FAST, hdel).ev(super::notify::Ev::KeyIfReply(crate::config::events::HASH, "hdel"))
        .ks("RW delete")
        .keys(1, 1, 1)
        .doc("Delete one or more hash fields", "2.0.0", "O(N) where N is the number of fields to be removed.")
        .args("key field [field ...]"),
    Command::new("hlen", G, 2, READONLY | FAST, hlen)
        .ks("RO")
        .keys(1, 1, 1)
        .doc("Get the number of fields in a hash", "2.0.0", "O(1)")
        .args("key"),
    Command::new("hstrlen", G, 3, READONLY | FAST, hstrlen)
        .ks("RO")
        .keys(1, 1, 1)
        .doc("Get the length of the value of a hash field", "3.2.0", "O(1)")
        .args("key field"),
    Command::new("hexists", G, 3, READONLY | FAST, hexists)
        .ks("RO")
        .keys(1, 1, 1)
        .doc("Determine if a hash field exists", "2.0.0", "O(1)")
        .args("key field"),
    Command::new("hkeys", G, 2, READONLY, hkeys)
        .ks("RO access")
        .tips("nondeterministic_output_order")
        .keys(1, 1, 1)
        .doc("Get all the fields in a hash", "2.0.0", "O(N) where N is the size of the hash.")
        .args("key"),
    Command::new("hvals", G, 2, READONLY, hvals)
        .ks("RO access")
        .tips("nondeterministic_output_order")
        .keys(1, 1, 1)
        .doc("Get all the values in a hash", "2.0.0", "O(N) where N is the size of the hash.")
        .args("key"),
    Command::new("hgetall", G, 2, READONLY, hgetall)
        .ks("RO access")
        .tips("nondeterministic_output_order")
        .keys(1, 1, 1)
        .doc("Get all the fields and values in a hash", "2.0.0", "O(N) where N is the size of the hash.")
        .args("key"),
    Command::new("hincrby", G, 4, WRITE | DENYOOM | FAST, hincrby).ev(super::notify::Ev::Key(crate::config::events::HASH, "hincrby"))
        .ks("RW access update")
        .keys(1, 1, 1)
        .doc("Increment the integer value of a hash field by the given number", "2.0.0", "O(1)")
        .args("key field increment"),
    Command::new("hincrbyfloat", G, 4, WRITE | DENYOOM | FAST, hincrbyfloat).ev(super::notify::Ev::Key(crate::config::events::HASH, "hincrbyfloat")).prop(super::aof::Prop::HincrFloat)
        .ks("RW access update")
        .keys(1, 1, 1)
        .doc("Increment the float value of a hash field by the given amount", "2.6.0", "O(1)")
        .args("key field increment"),
    Command::new("hrandfield", G, -2, READONLY, hrandfield)
        .ks("RO access")
        .tips("nondeterministic_output")
        .keys(1, 1, 1)
        .doc("Get one or multiple random fields from a hash", "6.2.0", "O(N) where N is the number of fields returned")
        .args("key [count [WITHVALUES]]"),
    Command::new("hscan", G, -3, READONLY, hscan)
        .ks("RO access")
        .tips("nondeterministic_output")
        .keys(1, 1, 1)
        .doc("Incrementally iterate hash fields and associated values", "2.8.0", SCAN_CX)
        .args("key cursor [MATCH pattern] [COUNT count]"),
];

fn limits(ctx: &Ctx) -> HashLimits {
    HashLimits {
        max_entries: EncLimits::get(&ctx.shared.enc.hash_max_listpack_entries),
        max_value: EncLimits::get(&ctx.shared.enc.hash_max_listpack_value),
    }
}

/// Runs `f` on the hash at `key` for reading (Redis's lookupKeyRead: counts a keyspace
/// hit or miss); `missing` answers for a missing key, WRONGTYPE for another type.
fn read(ctx: &mut Ctx, key: &[u8], missing: impl FnOnce() -> Reply, f: impl FnOnce(&Hash) -> Reply) -> Reply {
    super::read_coll(ctx, key, missing, f)
}

/// Runs `f` on the hash at `key` for writing. A missing key answers `missing` if given,
/// else `f` runs on a new hash that is stored if it ends up non-empty. A hash left empty
/// is deleted.
fn write(ctx: &mut Ctx, key: &[u8], missing: Option<Reply>, f: impl FnOnce(&mut Hash) -> Reply) -> Reply {
    super::write_coll(ctx, key, missing, f)
}

fn hset_generic(ctx: &mut Ctx, argv: &[&[u8]]) -> Result<i64, Reply> {
    if argv.len() % 2 == 1 {
        return Err(Reply::err(errors::arity(ctx.cmd.name)));
    }
    let lim = limits(ctx);
    let mut added = 0;
    let r = write(ctx, argv[1], None, |h| {
        for p in argv[2..].chunks(2) {
            added += h.set(p[0], p[1], lim) as i64;
        }
        Reply::Int(0)
    });
    if r.is_error() {
        return Err(r);
    }
    Ok(added)
}

fn hset(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    hset_generic(ctx, argv).map(Reply::Int).unwrap_or_else(|e| e)
}

fn hmset(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    hset_generic(ctx, argv).map(|_| Reply::ok()).unwrap_or_else(|e| e)
}

fn hsetnx(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let lim = limits(ctx);
    write(ctx, argv[1], None, |h| {
        if h.contains(argv[2]) {
            Reply::Int(0)
        } else {
            h.set(argv[2], argv[3], lim);
            Reply::Int(1)
        }
    })
}

fn hget(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    read(ctx, argv[1], || Reply::Nil, |h| h.get(argv[2]).map(Reply::bulk).unwrap_or(Reply::Nil))
}

fn hmget(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let fields = &argv[2..];
    read(
        ctx,
        argv[1],
        || Reply::Array(vec![Reply::Nil; fields.len()]),
        |h| Reply::Array(fields.iter().map(|f| h.get(f).map(Reply::bulk).unwrap_or(Reply::Nil)).collect()),
    )
}

fn hdel(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    write(ctx, argv[1], Some(Reply::Int(0)), |h| {
        let mut n = 0;
        for f in &argv[2..] {
            n += h.remove(f) as i64;
            if h.is_empty() {
                break;
            }
        }
        Reply::Int(n)
    })
}

fn hlen(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    read(ctx, argv[1], || Reply::Int(0), |h| Reply::Int(h.len() as i64))
}

fn hstrlen(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    read(ctx, argv[1], || Reply::Int(0), |h| Reply::Int(h.get(argv[2]).map_or(0, |v| v.len()) as i64))
}

fn hexists(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    read(ctx, argv[1], || Reply::Int(0), |h| Reply::Int(h.contains(argv[2]) as i64))
}

fn hkeys(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    read(ctx, argv[1], || Reply::Array(vec![]), |h| Reply::Array(h.iter().map(|(f, _)| Reply::bulk(f)).collect()))
}

fn hvals(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    read(ctx, argv[1], || Reply::Array(vec![]), |h| Reply::Array(h.iter().map(|(_, v)| Reply::bulk(v)).collect()))
}

fn hgetall(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    read(
        ctx,
        argv[1],
        || Reply::Map(vec![]),
        |h| Reply::Map(h.iter().map(|(f, v)| (Reply::bulk(f), Reply::bulk(v))).collect()),
    )
}

fn hincrby(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let incr = match parse_int(argv[3]) {
        Ok(i) => i,
        Err(e) => return e,
    };
    let lim = limits(ctx);
    write(ctx, argv[1], None, |h| {
        let cur = match h.get(argv[2]) {
            None => 0,
            Some(v) => match crate::store::parse_i64_strict(v) {
                Some(i) => i,
                None => return Reply::err("ERR hash value is not an integer"),
            },
        };
        let Some(new) = cur.checked_add(incr) else { return Reply::err(OVERFLOW) };
        h.set(argv[2], new.to_string().as_bytes(), lim);
        Reply::Int(new)
    })
}

fn hincrbyfloat(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    match ld_incr(None, argv[3]) {
        Ok(_) => {}
        Err(LdError::NanOrInf) => return Reply::err("ERR value is NaN or Infinity"),
        Err(_) => return Reply::err(errors::NOT_FLOAT),
    }
    let lim = limits(ctx);
    write(ctx, argv[1], None, |h| {
        let new = match ld_incr(Some(h.get(argv[2]).unwrap_or(b"0")), argv[3]) {
            Ok(v) => v,
            Err(LdError::Current) => return Reply::err("ERR hash value is not a float"),
            Err(LdError::Increment) => return Reply::err(errors::NOT_FLOAT),
            Err(LdError::NanOrInf) => return Reply::err(errors::INCR_NAN),
        };
        h.set(argv[2], &new, lim);
        Reply::Bulk(new)
    })
}

fn hrandfield(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    if argv.len() == 2 {
        return read(
            ctx,
            argv[1],
            || Reply::Nil,
            |h| with_rng(|rng| h.random(rng).map(|(f, _)| Reply::bulk(f)).unwrap_or(Reply::Nil)),
        );
    }
    let count = match parse_int(argv[2]) {
        Ok(c) if c == i64::MIN => return Reply::err(RANGE_ERR),
        Ok(c) => c,
        Err(e) => return e,
    };
    let withvalues = match argv.len() {
        3 => false,
        4 if eq_ic(argv[3], "withvalues") => true,
        _ => return Reply::err(SYNTAX),
    };
    if withvalues && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
        return Reply::err("ERR value is out of range");
    }
    let per = if withvalues { 2 } else { 1 };
    if count < 0 && count.unsigned_abs().saturating_mul(per) > MAX_RANDOM_REPLY {
        return Reply::err("ERR value is out of range");
    }
    let proto = ctx.proto();
    read(
        ctx,
        argv[1],
        || Reply::Array(vec![]),
        |h| {
            let size = h.len();
            let pairs: Vec<(&[u8], &[u8])> = if count >= 0 && count as u64 >= size as u64 {
                h.iter().collect()
            } else if count >= 0 {
                with_rng(|rng| {
                    random_distinct(
                        size,
                        count as usize,
                        h.is_compact(),
                        rng,
                        || h.iter().collect(),
                        |r| h.random(r).expect("non-empty"),
                    )
                })
            } else {
                with_rng(|rng| {
                    random_repeat(
                        count.unsigned_abs() as usize,
                        h.is_compact(),
                        rng,
                        || h.iter().collect(),
                        |r| h.random(r).expect("non-empty"),
                    )
                })
            };
            pair_reply(pairs, withvalues, proto)
        },
    )
}

/// HRANDFIELD's reply: fields, or fields and values (flat in RESP2, pairs in RESP3).
fn pair_reply(pairs: Vec<(&[u8], &[u8])>, withvalues: bool, proto: Proto) -> Reply {
    if !withvalues {
        return Reply::Array(pairs.into_iter().map(|(f, _)| Reply::bulk(f)).collect());
    }
    if proto == Proto::Resp3 {
        return Reply::Array(
            pairs.into_iter().map(|(f, v)| Reply::Array(vec![Reply::bulk(f), Reply::bulk(v)])).collect(),
        );
    }
    let mut out = Vec::with_capacity(pairs.len() * 2);
    for (f, v) in pairs {
        out.push(Reply::bulk(f));
        out.push(Reply::bulk(v));
    }
    Reply::Array(out)
}

/// MATCH / COUNT options of HSCAN / SSCAN (Redis's scanGenericCommand).
pub(crate) fn scan_options<'a>(argv: &[&'a [u8]], from: usize) -> Result<(Option<&'a [u8]>, usize), Reply> {
    let (mut pattern, mut count) = (None, 10usize);
    let mut i = from;
    while i < argv.len() {
        let more = argv.len() - i - 1;
        if eq_ic(argv[i], "count") && more >= 1 {
            let c = parse_int(argv[i + 1])?;
            if c < 1 {
                return Err(Reply::err(SYNTAX));
            }
            count = usize::try_from(c).unwrap_or(usize::MAX);
        } else if eq_ic(argv[i], "match") && more >= 1 {
            pattern = Some(argv[i + 1]).filter(|p| *p != b"*");
        } else {
            return Err(Reply::err(SYNTAX));
        }
        i += 2;
    }
    Ok((pattern, count))
}

/// Parses a SCAN-family cursor, or answers Redis's error.
pub(crate) fn cursor_arg(a: &[u8]) -> Result<u64, Reply> {
    super::generic::parse_cursor(a).ok_or_else(|| Reply::err("ERR invalid cursor"))
}

pub(crate) fn scan_reply(cursor: u64, items: Vec<Reply>) -> Reply {
    Reply::Array(vec![Reply::Bulk(cursor.to_string().into_bytes()), Reply::Array(items)])
}

fn hscan(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let cursor = match cursor_arg(argv[2]) {
        Ok(c) => c,
        Err(e) => return e,
    };
    read(
        ctx,
        argv[1],
        || scan_reply(0, vec![]),
        |h| {
            let (pattern, count) = match scan_options(argv, 3) {
                Ok(o) => o,
                Err(e) => return e,
            };
            let (next, pairs) = h.scan(cursor, count);
            let mut out = Vec::with_capacity(pairs.len() * 2);
            for (f, v) in pairs {
                if pattern.is_none_or(|p| glob_match(p, f, false)) {
                    out.push(Reply::bulk(f));
                    out.push(Reply::bulk(v));
                }
            }
            scan_reply(next, out)
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::errors::NOT_INT;

    #[test]
    fn scan_options_follow_redis() {
        let a: Vec<&[u8]> = vec![b"hscan", b"k", b"0", b"MATCH", b"a*", b"COUNT", b"5"];
        assert_eq!(scan_options(&a, 3).unwrap(), (Some(&b"a*"[..]), 5));
        let a: Vec<&[u8]> = vec![b"hscan", b"k", b"0", b"count", b"0"];
        assert_eq!(scan_options(&a, 3).unwrap_err(), Reply::err(SYNTAX));
        let a: Vec<&[u8]> = vec![b"hscan", b"k", b"0", b"count", b"x"];
        assert_eq!(scan_options(&a, 3).unwrap_err(), Reply::err(NOT_INT));
        let a: Vec<&[u8]> = vec![b"hscan", b"k", b"0", b"match"];
        assert_eq!(scan_options(&a, 3).unwrap_err(), Reply::err(SYNTAX));
    }
}
