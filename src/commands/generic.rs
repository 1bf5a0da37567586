//! Generic keyspace commands (COMMAND DOCS group `generic`): DEL UNLINK EXISTS TYPE
//! RENAME RENAMENX KEYS SCAN RANDOMKEY EXPIRE* TTL PTTL EXPIRETIME PEXPIRETIME PERSIST
//! TOUCH COPY MOVE OBJECT DUMP RESTORE (payloads in Redis's RDB format, see
//! `crate::persistence::rdb`).
//!
//! Must hold: multi-key and cross-db commands run under one ordered lock plan, so RENAME,
//! COPY and MOVE are atomic; SCAN returns every key present for the whole scan at least
//! once (its cursor is the next stripe to visit).

use super::errors::{self, SYNTAX};
use super::flags::*;
use super::{eq_ic, parse_int, plan_key, Command, Ctx, ExtraSpec};
use crate::persistence::rdb;
use crate::protocol::Reply;
use crate::store::{glob_match, Value};

const G: &str = "generic";

/// SORT's key specs that Redis marks `unknown` (the keys are found by `sort_plan`).
const SORT_BY_GET: ExtraSpec = ExtraSpec::Unknown {
    notes: "For the optional BY/GET keyword. It is marked 'unknown' because the key names derive from the content of the key we sort",
    flags: "RO access",
    find: |_| 0..0,
};
const SORT_STORE: ExtraSpec = ExtraSpec::Unknown {
    notes: "For the optional STORE keyword. It is marked 'unknown' because the keyword can appear anywhere in the argument array",
    flags: "OW update",
    find: sort_store_pos,
};

/// The STORE destination's position (Redis's sortGetKeys: the last STORE wins; LIMIT,
/// GET and BY arguments are skipped).
fn sort_store_pos(argv: &[&[u8]]) -> std::ops::Range<usize> {
    let mut found = 0..0;
    let mut i = 2;
    while i < argv.len() {
        let a = argv[i];
        if eq_ic(a, "limit") {
            i += 2;
        } else if eq_ic(a, "get") || eq_ic(a, "by") {
            i += 1;
        } else if eq_ic(a, "store") && i + 1 < argv.len() {
            found = i + 1..i + 2;
        }
        i += 1;
    }
    found
}

pub static COMMANDS: &[Command] = &[
    Command::new("del", G, -2, WRITE, del).ev(super::notify::Ev::Removed).ks("RM delete").tips("request_policy:multi_shard response_policy:agg_sum").keys(1, -1, 1).doc("Delete a key", "1.0.0", "O(N) where N is the number of keys that will be removed. When a key to remove holds a value other than a string, the individual complexity for this key is O(M) where M is the number of elements in the list, set, sorted set or hash. Removing a single key that holds a string value is O(1).").args("key [key ...]"),
    Command::new("unlink", G, -2, WRITE | FAST, del).ev(super::notify::Ev::Removed).ks("RM delete").tips("request_policy:multi_shard response_policy:agg_sum").keys(1, -1, 1).doc("Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.", "4.0.0", "O(1) for each key removed regardless of its size. Then the command does O(N) work in a different thread in order to reclaim memory, where N is the number of allocations the deleted objects where composed of.").args("key [key ...]"),
    Command::new("exists", G, -2, READONLY | FAST, exists).ks("RO").tips("request_policy:multi_shard response_policy:agg_sum").keys(1, -1, 1).doc("Determine if a key exists", "1.0.0", "O(N) where N is the number of keys to check.").args("key [key ...]"),
    Command::new("type", G, 2, READONLY | FAST, type_cmd).ks("RO").keys(1, 1, 1).doc("Determine the type stored at key", "1.0.0", "O(1)").args("key"),
    Command::new("rename", G, 3, WRITE, rename).ev(super::notify::Ev::Fn(super::notify::rename)).ks("RW access delete; OW update").keys(1, 2, 1).doc("Rename a key", "1.0.0", "O(1)").args("key newkey"),
    Command::new("renamenx", G, 3, WRITE | FAST, renamenx).ev(super::notify::Ev::Fn(super::notify::rename)).ks("RW access delete; OW insert").keys(1, 2, 1).doc("Rename a key, only if the new key does not exist", "1.0.0", "O(1)").args("key newkey"),
    Command::new("keys", G, 2, READONLY | DB_STRIPES, keys).acl("@dangerous").tips("request_policy:all_shards nondeterministic_output_order").doc("Find all keys matching the given pattern", "1.0.0", "O(N) with N being the number of keys in the database, under the assumption that the key names in the database and the given pattern have limited length.").args("pattern"),
    Command::new("scan", G, -2, READONLY, scan).tips("nondeterministic_output request_policy:special").doc("Incrementally iterate the keys space", "2.8.0", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.").args("cursor [MATCH pattern] [COUNT count] [TYPE type]"),
    Command::new("randomkey", G, 1, READONLY | DB_STRIPES, randomkey).tips("request_policy:all_shards nondeterministic_output").doc("Return a random key from the keyspace", "1.0.0", "O(1)"),
    Command::new("expire", G, -3, WRITE | FAST, expire).ev(super::notify::Ev::Fn(super::notify::expire)).prop(super::aof::Prop::Ttl).ks("RW update").keys(1, 1, 1).doc("Set a key's time to live in seconds", "1.0.0", "O(1)").args("key seconds [NX|XX|GT|LT]"),
    Command::new("pexpire", G, -3, WRITE | FAST, pexpire).ev(super::notify::Ev::Fn(super::notify::expire)).prop(super::aof::Prop::Ttl).ks("RW update").keys(1, 1, 1).doc("Set a key's time to live in milliseconds", "2.6.0", "O(1)").args("key milliseconds [NX|XX|GT|LT]"),
    Command::new("expireat", G, -3, WRITE | FAST, expireat).ev(super::notify::Ev::Fn(super::notify::expire)).prop(super::aof::Prop::Ttl).ks("RW update").keys(1, 1, 1).doc("Set the expiration for a key as a UNIX timestamp", "1.2.0", "O(1)").args("key unix-time-seconds [NX|XX|GT|LT]"),
    Command::new("pexpireat", G, -3, WRITE | FAST, pexpireat).ev(super::notify::Ev::Fn(super::notify::expire)).prop(super::aof::Prop::Ttl).ks("RW update").keys(1, 1, 1).doc("Set the expiration for a key as a UNIX timestamp specified in milliseconds", "2.6.0", "O(1)").args("key unix-time-milliseconds [NX|XX|GT|LT]"),
    Command::new("ttl", G, 2, READONLY | FAST, ttl).ks("RO access").tips("nondeterministic_output").keys(1, 1, 1).doc("Get the time to live for a key in seconds", "1.0.0", "O(1)").args("key"),
    Command::new("pttl", G, 2, READONLY | FAST, pttl).ks("RO access").tips("nondeterministic_output").keys(1, 1, 1).doc("Get the time to live for a key in milliseconds", "2.6.0", "O(1)").args("key"),
    Command::new("expiretime", G, 2, READONLY | FAST, expiretime).ks("RO access").keys(1, 1, 1).doc("Get the expiration Unix timestamp for a key", "7.0.0", "O(1)").args("key"),
    Command::new("pexpiretime", G, 2, READONLY | FAST, pexpiretime).ks("RO access").keys(1, 1, 1).doc("Get the expiration Unix timestamp for a key in milliseconds", "7.0.0", "O(1)").args("key"),
    Command::new("persist", G, 2, WRITE | FAST, persist).ev(super::notify::Ev::KeyIfReply(crate::config::events::GENERIC, "persist")).ks("RW update").keys(1, 1, 1).doc("Remove the expiration from a key", "2.2.0", "O(1)").args("key"),
    Command::new("touch", G, -2, READONLY | FAST, touch).ks("RO").tips("request_policy:multi_shard response_policy:agg_sum").keys(1, -1, 1).doc("Alters the last access time of a key(s). Returns the number of existing keys specified.", "3.2.1", "O(N) where N is the number of keys that will be touched.").args("key [key ...]"),
    Command::new("copy", G, -3, WRITE | DENYOOM, copy).ev(super::notify::Ev::Fn(super::notify::copy)).ks("RO access; OW update").keys(1, 2, 1).plan(copy_plan).doc("Copy a key", "6.2.0", "O(N) worst case for collections, where N is the number of nested items. O(1) for string values.").args("source destination [DB destination-db] [REPLACE]"),
    Command::new("move", G, 3, WRITE | FAST, move_cmd).ev(super::notify::Ev::Fn(super::notify::move_key)).ks("RW access update").keys(1, 1, 1).plan(move_plan).doc("Move a key to another database", "1.0.0", "O(1)").args("key db"),
    Command::new("sort", G, -2, WRITE | DENYOOM, sort).ev(super::notify::Ev::Fn(super::notify::store_option)).keys(1, 1, 1).ks("RO access").specs(&[SORT_BY_GET, SORT_STORE]).plan(sort_plan).acl("@set @sortedset @list @dangerous -@keyspace")
        .doc("Sort the elements in a list, set or sorted set", "1.0.0", "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N).")
        .args("key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC|DESC] [ALPHA] [STORE destination]"),
    Command::new("sort_ro", G, -2, READONLY, sort_ro).keys(1, 1, 1).ks("RO access").specs(&[SORT_BY_GET]).plan(sort_plan).acl("@set @sortedset @list @dangerous -@keyspace")
        .doc("Sort the elements in a list, set or sorted set. Read-only variant of SORT.", "7.0.0", "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N).")
        .args("key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC|DESC] [ALPHA]"),
    Command::new("dump", G, 2, READONLY, dump).ks("RO access").keys(1, 1, 1).tips("nondeterministic_output").doc("Return a serialized version of the value stored at the specified key.", "2.6.0", "O(1) to access the key and additional O(N*M) to serialize it, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1).").args("key"),
    Command::new("restore", G, -4, WRITE | DENYOOM, restore).ev(super::notify::Ev::Fn(super::notify::restore)).prop(super::aof::Prop::State).ks("OW update").keys(1, 1, 1).acl("@dangerous").doc("Create a key using the provided serialized value, previously obtained using DUMP.", "2.6.0", "O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However for sorted set values the complexity is O(N*M*log(N)) because inserting values into sorted sets is O(log(N)).").args("key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]"),
    Command::container("object", G, OBJECT_SUBS).doc("A container for object introspection commands", "2.2.3", "Depends on subcommand."),
];

static OBJECT_SUBS: &[Command] = &[
    Command::new("object|encoding", G, 3, READONLY, object_encoding)
        .ks("RO")
        .tips("nondeterministic_output")
        .keys(2, 2, 1)
        .doc("Inspect the internal encoding of a Redis object", "2.2.3", "O(1)")
        .args("key"),
    Command::new("object|freq", G, 3, READONLY, object_freq)
        .ks("RO")
        .tips("nondeterministic_output")
        .keys(2, 2, 1)
        .doc("Get the logarithmic access frequency counter of a Redis object", "4.0.0", "O(1)")
        .args("key"),
    Command::new("object|idletime", G, 3, READONLY, object_idletime)
        .ks("RO")
        .tips("nondeterministic_output")
        .keys(2, 2, 1)
        .doc("Get the time since a Redis object was last accessed", "2.2.3", "O(1)")
        .args("key"),
    Command::new("object|refcount", G, 3, READONLY, object_refcount)
        .ks("RO")
        .tips("nondeterministic_output")
        .keys(2, 2, 1)
        .doc("Get the number of references to the value of the key", "2.2.3", "O(1)")
        .args("key"),
    Command::new("object|help", G, 2, LOADING | STALE, object_help).doc(
        "Show helpful text about the different subcommands",
        "6.2.0",
        "O(1)",
    ),
];

fn del(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let now = ctx.now;
    let mut n = 0;
    for k in &argv[1..] {
        let st = ctx.stripe_mut(k);
        if st.get_mut(k, now).is_some() {
            st.remove(k);
            n += 1;
        }
    }
    Reply::Int(n)
}

fn exists(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let n = argv[1..].iter().filter(|k| ctx.peek(k).is_some()).count();
    Reply::Int(n as i64)
}

fn type_cmd(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    match ctx.peek(argv[1]) {
        Some(it) => Reply::Simple(it.val.type_name()),
        None => Reply::Simple("none"),
    }
}

fn rename_generic(ctx: &mut Ctx, argv: &[&[u8]], nx: bool) -> Reply {
    let (src, dst) = (argv[1], argv[2]);
    let now = ctx.now;
    if ctx.stripe_mut(src).get_mut(src, now).is_none() {
        return Reply::err(errors::NO_KEY);
    }
    if src == dst {
        return if nx { Reply::Int(0) } else { Reply::ok() };
    }
    if nx && ctx.stripe_mut(dst).get_mut(dst, now).is_some() {
        return Reply::Int(0);
    }
    let Some(mut item) = ctx.stripe_mut(src).remove(src) else {
        return Reply::err(errors::NO_KEY);
    };
    item.key = crate::store::CompactBytes::new(dst);
    ctx.stripe_mut(dst).insert_item(item);
    if nx {
        Reply::Int(1)
    } else {
        Reply::ok()
    }
}

fn rename(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    rename_generic(ctx, argv, false)
}

fn renamenx(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    rename_generic(ctx, argv, true)
}

fn keys(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let (now, db, pat) = (ctx.now, ctx.session.db, argv[1]);
    let all = pat == b"*";
    let mut out = Vec::new();
    for st in ctx.stripes_of(db) {
        for it in st.iter() {
            if !it.is_expired(now) && (all || glob_match(pat, it.key.as_slice(), false)) {
                out.push(Reply::bulk(it.key.as_slice()));
            }
        }
    }
    Reply::Array(out)
}

fn scan(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let cursor = match parse_cursor(argv[1]) {
        Some(c) => c,
        None => return Reply::err("ERR invalid cursor"),
    };
    let (mut pattern, mut count, mut typ) = (None, 10i64, None);
    let mut i = 2;
    while i < argv.len() {
        let more = argv.len() - i - 1;
        if eq_ic(argv[i], "count") && more >= 1 {
            count = match parse_int(argv[i + 1]) {
                Ok(c) => c,
                Err(e) => return e,
            };
            if count < 1 {
                return Reply::err(SYNTAX);
            }
            i += 2;
        } else if eq_ic(argv[i], "match") && more >= 1 {
            pattern = Some(argv[i + 1]);
            i += 2;
        } else if eq_ic(argv[i], "type") && more >= 1 {
            typ = Some(argv[i + 1].to_ascii_lowercase());
            i += 2;
        } else {
            return Reply::err(SYNTAX);
        }
    }
    let dbi = ctx.session.db;
    let n = ctx.db().stripes.len() as u64;
    let now = ctx.now;
    let mut keys = Vec::new();
    let mut s = cursor;
    while s < n && (keys.len() as i64) < count {
        // The stripe's own lock, or the one EXEC already holds.
        ctx.with_stripe(dbi, s as usize, |st| {
            for it in st.iter() {
                if it.is_expired(now) {
                    continue;
                }
                if let Some(p) = pattern {
                    if !glob_match(p, it.key.as_slice(), false) {
                        continue;
                    }
                }
                if let Some(t) = &typ {
                    if it.val.type_name().as_bytes() != &t[..] {
                        continue;
                    }
                }
                keys.push(Reply::bulk(it.key.as_slice()));
            }
        });
        s += 1;
    }
    let next = if s >= n { 0 } else { s };
    Reply::Array(vec![Reply::Bulk(next.to_string().into_bytes()), Reply::Array(keys)])
}

/// C's strtoul as Redis's parseScanCursorOrReply uses it: optional sign, decimal
/// digits, no leading space, no trailing junk, no overflow; "" is 0, "-1" wraps.
pub fn parse_cursor(a: &[u8]) -> Option<u64> {
    if a.first().is_some_and(|c| c.is_ascii_whitespace()) {
        return None;
    }
    let (neg, digits) = match a.first() {
        Some(b'-') => (true, &a[1..]),
        Some(b'+') => (false, &a[1..]),
        _ => (false, a),
    };
    if digits.is_empty() {
        return if a.is_empty() { Some(0) } else { None };
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

fn randomkey(ctx: &mut Ctx, _: &[&[u8]]) -> Reply {
    let (now, db) = (ctx.now, ctx.session.db);
    let stripes: Vec<_> = ctx.stripes_of(db).filter(|s| !s.is_empty()).collect();
    if stripes.is_empty() {
        return Reply::Nil;
    }
    let mut seed = (now as u64) ^ (ctx.stats.commands.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    for _ in 0..100 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let st = stripes[(seed % stripes.len() as u64) as usize];
        let idx = (seed >> 20) as usize % st.len();
        if let Some(it) = st.iter().nth(idx) {
            if !it.is_expired(now) {
                return Reply::bulk(it.key.as_slice());
            }
        }
    }
    // Mostly expired keys: fall back to a scan.
    for st in stripes {
        if let Some(it) = st.iter().find(|it| !it.is_expired(now)) {
            return Reply::bulk(it.key.as_slice());
        }
    }
    Reply::Nil
}

const E_NX: u8 = 1;
const E_XX: u8 = 2;
const E_GT: u8 = 4;
const E_LT: u8 = 8;

fn expire_generic(ctx: &mut Ctx, argv: &[&[u8]], base: i64, secs: bool) -> Reply {
    let mut flags = 0u8;
    for o in &argv[3..] {
        flags |= match () {
            _ if eq_ic(o, "nx") => E_NX,
            _ if eq_ic(o, "xx") => E_XX,
            _ if eq_ic(o, "gt") => E_GT,
            _ if eq_ic(o, "lt") => E_LT,
            _ => return Reply::err(format!("ERR Unsupported option {}", String::from_utf8_lossy(o))),
        };
    }
    if flags & E_NX != 0 && flags & (E_XX | E_GT | E_LT) != 0 {
        return Reply::err("ERR NX and XX, GT or LT options at the same time are not compatible");
    }
    if flags & E_GT != 0 && flags & E_LT != 0 {
        return Reply::err("ERR GT and LT options at the same time are not compatible");
    }
    let mut when = match parse_int(argv[2]) {
        Ok(w) => w,
        Err(e) => return e,
    };
    let bad = || Reply::err(errors::invalid_expire(ctx.cmd.name));
    if secs {
        if !(i64::MIN / 1000..=i64::MAX / 1000).contains(&when) {
            return bad();
        }
        when *= 1000;
    }
    if when > i64::MAX - base {
        return bad();
    }
    when += base;
    let now = ctx.now;
    let st = ctx.stripe_mut(argv[1]);
    let Some(it) = st.get_mut(argv[1], now) else {
        return Reply::Int(0);
    };
    let cur = it.expire_at();
    if (flags & E_NX != 0 && cur.is_some())
        || (flags & E_XX != 0 && cur.is_none())
        || (flags & E_GT != 0 && cur.is_none_or(|c| when <= c))
        || (flags & E_LT != 0 && cur.is_some_and(|c| when >= c))
    {
        return Reply::Int(0);
    }
    if when <= now {
        st.remove(argv[1]);
    } else {
        st.set_expire(argv[1], Some(when));
    }
    Reply::Int(1)
}

fn expire(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let now = ctx.now;
    expire_generic(ctx, argv, now, true)
}
fn pexpire(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let now = ctx.now;
    expire_generic(ctx, argv, now, false)
}
fn expireat(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    expire_generic(ctx, argv, 0, true)
}
fn pexpireat(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    expire_generic(ctx, argv, 0, false)
}

/// -2 missing, -1 no TTL, else the expiry through `f`.
fn ttl_generic(ctx: &mut Ctx, key: &[u8], f: impl Fn(i64, i64) -> i64) -> Reply {
    let now = ctx.now;
    match ctx.peek(key) {
        None => Reply::Int(-2),
        Some(it) => match it.expire_at() {
            None => Reply::Int(-1),
            Some(at) => Reply::Int(f(at, now)),
        },
    }
}

fn ttl(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    ttl_generic(ctx, argv[1], |at, now| round_secs((at - now).max(0)))
}
fn pttl(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    ttl_generic(ctx, argv[1], |at, now| (at - now).max(0))
}
fn expiretime(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    ttl_generic(ctx, argv[1], |at, _| round_secs(at))
}
fn pexpiretime(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    ttl_generic(ctx, argv[1], |at, _| at)
}

/// Milliseconds to the nearest second, without overflowing near i64::MAX.
fn round_secs(ms: i64) -> i64 {
    ((ms as i128 + 500) / 1000) as i64
}

fn persist(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let now = ctx.now;
    let st = ctx.stripe_mut(argv[1]);
    match st.get(argv[1], now) {
        Some(it) if it.expire_at().is_some() => {
            st.set_expire(argv[1], None);
            Reply::Int(1)
        }
        _ => Reply::Int(0),
    }
}

fn touch(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let now = ctx.now;
    let mut n = 0;
    for k in &argv[1..] {
        if let Some(it) = ctx.get(k) {
            it.touch(now);
            n += 1;
        }
    }
    Reply::Int(n)
}

/// Target db of COPY's `DB n` option, if given and valid.
fn copy_target(argv: &[&[u8]], ndbs: usize) -> Result<Option<usize>, Reply> {
    let mut db = None;
    let mut j = 3;
    while j < argv.len() {
        if eq_ic(argv[j], "replace") {
        } else if eq_ic(argv[j], "db") && j + 1 < argv.len() {
            let v = super::parse_i32(argv[j + 1])? as i64;
            if v < 0 || v as usize >= ndbs {
                return Err(Reply::err(errors::DB_INDEX));
            }
            db = Some(v as usize);
            j += 1;
        } else {
            return Err(Reply::err(SYNTAX));
        }
        j += 1;
    }
    Ok(db)
}

fn copy_plan(ctx: &Ctx, argv: &[&[u8]], out: &mut Vec<(usize, usize)>) {
    let cur = ctx.session.db;
    let dst = copy_target(argv, ctx.shared.keyspace.dbs.len()).ok().flatten().unwrap_or(cur);
    out.push(plan_key(ctx, cur, argv[1]));
    out.push(plan_key(ctx, dst, argv[2]));
}

fn copy(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let replace = argv[3..].iter().any(|a| eq_ic(a, "replace"));
    let cur = ctx.session.db;
    let dst_db = match copy_target(argv, ctx.shared.keyspace.dbs.len()) {
        Ok(d) => d.unwrap_or(cur),
        Err(e) => return e,
    };
    let (src, dst) = (argv[1], argv[2]);
    if dst_db == cur && src == dst {
        return Reply::err("ERR source and destination objects are the same");
    }
    let now = ctx.now;
    let (val, at) = match ctx.get_in(cur, src) {
        None => return Reply::Int(0),
        Some(it) => (it.val.clone(), it.expire_at()),
    };
    let dst_st = ctx.stripe_mut_in(dst_db, dst);
    if dst_st.get_mut(dst, now).is_some() {
        if !replace {
            return Reply::Int(0);
        }
        dst_st.remove(dst);
    }
    dst_st.set(dst, val, at, now);
    Reply::Int(1)
}

fn move_target(argv: &[&[u8]], ndbs: usize) -> Result<usize, Reply> {
    let v = super::parse_i32(argv[2])? as i64;
    if v < 0 || v as usize >= ndbs {
        return Err(Reply::err(errors::DB_INDEX));
    }
    Ok(v as usize)
}

fn move_plan(ctx: &Ctx, argv: &[&[u8]], out: &mut Vec<(usize, usize)>) {
    let cur = ctx.session.db;
    out.push(plan_key(ctx, cur, argv[1]));
    if let Ok(d) = move_target(argv, ctx.shared.keyspace.dbs.len()) {
        out.push(plan_key(ctx, d, argv[1]));
    }
}

fn move_cmd(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let cur = ctx.session.db;
    let dst = match move_target(argv, ctx.shared.keyspace.dbs.len()) {
        Ok(d) => d,
        Err(e) => return e,
    };
    if dst == cur {
        return Reply::err("ERR source and destination objects are the same");
    }
    let (key, now) = (argv[1], ctx.now);
    if ctx.stripe_mut_in(cur, key).get_mut(key, now).is_none() {
        return Reply::Int(0);
    }
    if ctx.stripe_mut_in(dst, key).get_mut(key, now).is_some() {
        return Reply::Int(0);
    }
    match ctx.stripe_mut_in(cur, key).remove(key) {
        Some(item) => {
            ctx.stripe_mut_in(dst, key).insert_item(item);
            Reply::Int(1)
        }
        None => Reply::Int(0),
    }
}

// ---------------------------------------------------------------------------------------
// SORT / SORT_RO (Redis's sort.c semantics)
// ---------------------------------------------------------------------------------------

/// SORT's options.
struct SortOpts<'a> {
    desc: bool,
    alpha: bool,
    limit: Option<(i64, i64)>,
    by: Option<&'a [u8]>,
    dontsort: bool,
    gets: Vec<&'a [u8]>,
    store: Option<&'a [u8]>,
}

fn parse_sort<'a>(argv: &[&'a [u8]], readonly: bool) -> Result<SortOpts<'a>, Reply> {
    let mut o =
        SortOpts { desc: false, alpha: false, limit: None, by: None, dontsort: false, gets: vec![], store: None };
    let mut j = 2;
    while j < argv.len() {
        let left = argv.len() - j - 1;
        let a = argv[j];
        if eq_ic(a, "asc") {
            o.desc = false;
        } else if eq_ic(a, "desc") {
            o.desc = true;
        } else if eq_ic(a, "alpha") {
            o.alpha = true;
        } else if eq_ic(a, "limit") && left >= 2 {
            o.limit = Some((parse_int(argv[j + 1])?, parse_int(argv[j + 2])?));
            j += 2;
        } else if !readonly && eq_ic(a, "store") && left >= 1 {
            o.store = Some(argv[j + 1]);
            j += 1;
        } else if eq_ic(a, "by") && left >= 1 {
            o.by = Some(argv[j + 1]);
            o.dontsort = !argv[j + 1].contains(&b'*');
            j += 1;
        } else if eq_ic(a, "get") && left >= 1 {
            o.gets.push(argv[j + 1]);
            j += 1;
        } else {
            return Err(Reply::err(SYNTAX));
        }
        j += 1;
    }
    Ok(o)
}

/// SORT locks its key and STORE key; with BY/GET patterns it reads keys it cannot name
/// in advance, so it takes every stripe of the db.
fn sort_plan(ctx: &Ctx, argv: &[&[u8]], out: &mut Vec<(usize, usize)>) {
    let db = ctx.session.db;
    let readonly = ctx.cmd.name == "sort_ro";
    let Ok(o) = parse_sort(argv, readonly) else {
        out.push(plan_key(ctx, db, argv[1]));
        return;
    };
    let patterns = (o.by.is_some() && !o.dontsort) || o.gets.iter().any(|g| *g != b"#");
    if patterns {
        for s in 0..ctx.shared.keyspace.nstripes() {
            out.push((db, s));
        }
        return;
    }
    out.push(plan_key(ctx, db, argv[1]));
    if let Some(st) = o.store {
        out.push(plan_key(ctx, db, st));
    }
}

/// Redis's lookupKeyByPattern: `#` is the element; `*` is replaced by it; `->field`
/// reads a hash field. Only string (or hash field) values count.
fn lookup_by_pattern(ctx: &Ctx, pattern: &[u8], elem: &[u8]) -> Option<Vec<u8>> {
    if pattern == b"#" {
        return Some(elem.to_vec());
    }
    let star = pattern.iter().position(|&c| c == b'*')?;
    let arrow = pattern[star + 1..].windows(2).position(|w| w == b"->").map(|p| p + star + 1);
    let (keypat, field) = match arrow {
        Some(a) if a + 2 < pattern.len() => (&pattern[..a], Some(&pattern[a + 2..])),
        _ => (pattern, None),
    };
    let mut key = keypat[..star].to_vec();
    key.extend_from_slice(elem);
    key.extend_from_slice(&keypat[star + 1..]);
    let it = ctx.get(&key)?;
    match (field, &it.val) {
        (Some(f), Value::Hash(h)) => h.get(f).map(|v| v.to_vec()),
        (None, v) if v.is_string() => v.as_bytes().map(|b| b.into_owned()),
        _ => None,
    }
}

fn sort(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    sort_generic(ctx, argv, false)
}

fn sort_ro(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    sort_generic(ctx, argv, true)
}

fn sort_generic(ctx: &mut Ctx, argv: &[&[u8]], readonly: bool) -> Reply {
    let mut o = match parse_sort(argv, readonly) {
        Ok(o) => o,
        Err(e) => return e,
    };
    let (mut start, mut end);
    // Load the elements (in Redis's order for each type and the dontsort shortcuts).
    let mut elems: Vec<Vec<u8>> = Vec::new();
    let kind;
    {
        let it = ctx.get(argv[1]);
        let val = it.map(|i| &i.val);
        kind = match val {
            None => "list",
            Some(Value::List(_)) => "list",
            Some(Value::Set(_)) => "set",
            Some(Value::ZSet(_)) => "zset",
            Some(_) => return Reply::err(super::errors::WRONGTYPE),
        };
        if o.dontsort && kind == "set" && o.store.is_some() {
            // Redis forces an ALPHA sort so stored results are deterministic.
            o.dontsort = false;
            o.alpha = true;
            o.by = None;
        }
        let len = match val {
            Some(Value::List(l)) => l.len(),
            Some(Value::Set(s)) => s.len(),
            Some(Value::ZSet(z)) => z.len(),
            _ => 0,
        } as i64;
        let (ls, lc) = o.limit.unwrap_or((0, -1));
        start = ls.max(0);
        end = if lc < 0 { len - 1 } else { start + lc - 1 };
        if start >= len {
            start = len - 1;
            end = len - 2;
        }
        if end >= len {
            end = len - 1;
        }
        let ranged = o.dontsort && (kind == "list" || kind == "zset");
        let n = (end - start + 1).max(0) as usize;
        match val {
            // An empty LIMIT window of a dontsort range loads nothing.
            Some(Value::List(_) | Value::ZSet(_)) if ranged && end < start => {}
            Some(Value::List(l)) if ranged => {
                if o.desc {
                    elems.extend(l.iter().rev().skip(start as usize).take(n).map(|e| e.to_vec()));
                } else {
                    elems.extend(l.iter().skip(start as usize).take(n).map(|e| e.to_vec()));
                }
                end -= start;
                start = 0;
            }
            Some(Value::ZSet(z)) if ranged => {
                // Descending starts `start` ranks below the top (iter_from takes an ascending rank).
                let from = if o.desc { z.len() - 1 - start as usize } else { start as usize };
                elems.extend(z.iter_from(from, o.desc).take(n).map(|(m, _)| m.to_vec()));
                end -= start;
                start = 0;
            }
            Some(Value::List(l)) => elems.extend(l.iter().map(|e| e.to_vec())),
            Some(Value::Set(s)) => elems.extend(s.iter().map(|m| m.to_vec())),
            Some(Value::ZSet(z)) => elems.extend(z.iter().map(|(m, _)| m.to_vec())),
            _ => {}
        }
    }
    if !o.dontsort {
        // Sort keys: numeric (strtod) or alpha, from the element or the BY pattern.
        let mut bad_number = false;
        let mut keyed: Vec<(Vec<u8>, f64, Option<Vec<u8>>)> = Vec::with_capacity(elems.len());
        for e in elems.drain(..) {
            let by = match o.by {
                Some(p) => lookup_by_pattern(ctx, p, &e),
                None => Some(e.clone()),
            };
            let mut score = 0.0;
            if !o.alpha {
                if let Some(b) = &by {
                    let (v, used, erange) = super::sorted_set::c_strtod(b);
                    if used != b.len() || erange || v.is_nan() {
                        bad_number = true;
                    }
                    score = v;
                }
            }
            keyed.push((e, score, if o.alpha && o.by.is_some() { by } else { None }));
        }
        if bad_number {
            return Reply::err("ERR One or more scores can't be converted into double");
        }
        let alpha = o.alpha;
        let bypattern = o.by.is_some();
        keyed.sort_by(|a, b| {
            let c = if !alpha {
                a.1.partial_cmp(&b.1).unwrap_or(std::cmp::Ordering::Equal).then_with(|| a.0.cmp(&b.0))
            } else if bypattern {
                match (&a.2, &b.2) {
                    (None, None) => std::cmp::Ordering::Equal,
                    (None, Some(_)) => std::cmp::Ordering::Less,
                    (Some(_), None) => std::cmp::Ordering::Greater,
                    (Some(x), Some(y)) => x.cmp(y),
                }
            } else {
                a.0.cmp(&b.0)
            };
            if o.desc {
                c.reverse()
            } else {
                c
            }
        });
        elems = keyed.into_iter().map(|k| k.0).collect();
    }
    let end = end.min(elems.len() as i64 - 1);
    let range: &[Vec<u8>] = if end >= start && start >= 0 { &elems[start as usize..=(end as usize)] } else { &[] };
    match o.store {
        None => {
            let mut out = Vec::new();
            for e in range {
                if o.gets.is_empty() {
                    out.push(Reply::Bulk(e.clone()));
                }
                for g in &o.gets {
                    out.push(lookup_by_pattern(ctx, g, e).map(Reply::Bulk).unwrap_or(Reply::Nil));
                }
            }
            Reply::Array(out)
        }
        Some(dst) => {
            let mut list = crate::store::list::List::default();
            for e in range {
                if o.gets.is_empty() {
                    list.push(e, false);
                }
                for g in &o.gets {
                    list.push(&lookup_by_pattern(ctx, g, e).unwrap_or_default(), false);
                }
            }
            let n = list.len();
            let now = ctx.now;
            let st = ctx.stripe_mut(dst);
            if n > 0 {
                st.set(dst, Value::List(Box::new(list)), None, now);
            } else {
                st.remove(dst);
            }
            Reply::Int(n as i64)
        }
    }
}

fn object_lookup<'c>(ctx: &'c Ctx, key: &[u8]) -> Option<&'c crate::store::Item> {
    ctx.peek(key)
}

fn object_encoding(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    match object_lookup(ctx, argv[2]) {
        Some(it) => Reply::bulk(it.val.encoding().as_bytes()),
        None => Reply::Nil,
    }
}

fn object_freq(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    match object_lookup(ctx, argv[2]) {
        Some(it) if crate::store::lfu::enabled() => {
            Reply::Int(crate::store::lfu::counter(it.lru.load(std::sync::atomic::Ordering::Relaxed), ctx.now) as i64)
        }
        Some(_) => Reply::err("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."),
        None => Reply::Nil,
    }
}

fn object_idletime(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let now_s = crate::store::lru_clock(ctx.now);
    match object_lookup(ctx, argv[2]) {
        Some(_) if crate::store::lfu::enabled() => Reply::err("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."),
        Some(it) => Reply::Int(now_s.saturating_sub(it.lru.load(std::sync::atomic::Ordering::Relaxed)) as i64),
        None => Reply::Nil,
    }
}

fn object_refcount(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    match object_lookup(ctx, argv[2]) {
        // Redis shares the integers 0..9999 (OBJ_SHARED_REFCOUNT).
        Some(it) => match it.val {
            Value::Int(i) if (0..10000).contains(&i) => Reply::Int(i32::MAX as i64),
            _ => Reply::Int(1),
        },
        None => Reply::Nil,
    }
}

fn object_help(_: &mut Ctx, _: &[&[u8]]) -> Reply {
    super::connection::help_reply(
        "OBJECT",
        &[
            "ENCODING <key>",
            "    Return the kind of internal representation used in order to store the value",
            "    associated with a <key>.",
            "FREQ <key>",
            "    Return the access frequency index of the <key>. The returned integer is",
            "    proportional to the logarithm of the recent access frequency of the key.",
            "IDLETIME <key>",
            "    Return the idle time of the <key>, that is the approximated number of",
            "    seconds elapsed since the last access to the key.",
            "REFCOUNT <key>",
            "    Return the number of references of the value associated with the specified",
            "    <key>.",
        ],
    )
}

// ---------------------------------------------------------------------------------------
// DUMP RESTORE
// ---------------------------------------------------------------------------------------

fn dump(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let opts = {
        let c = ctx.shared.config.read();
        rdb::SaveOpts { compress: c.rdbcompression, list_max_listpack_size: c.list_max_listpack_size }
    };
    match ctx.get(argv[1]) {
        Some(it) => Reply::Bulk(rdb::dump_payload(&it.val, opts)),
        None => Reply::Nil,
    }
}

fn restore(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let (mut replace, mut absttl) = (false, false);
    let (mut idle, mut freq): (Option<i64>, Option<i64>) = (None, None);
    let mut j = 4;
    while j < argv.len() {
        let more = argv.len() - j - 1;
        if eq_ic(argv[j], "replace") {
            replace = true;
        } else if eq_ic(argv[j], "absttl") {
            absttl = true;
        } else if eq_ic(argv[j], "idletime") && more >= 1 && freq.is_none() {
            let v = match parse_int(argv[j + 1]) {
                Ok(v) => v,
                Err(e) => return e,
            };
            if v < 0 {
                return Reply::err("ERR Invalid IDLETIME value, must be >= 0");
            }
            idle = Some(v);
            j += 1;
        } else if eq_ic(argv[j], "freq") && more >= 1 && idle.is_none() {
            let v = match parse_int(argv[j + 1]) {
                Ok(v) => v,
                Err(e) => return e,
            };
            if !(0..=255).contains(&v) {
                return Reply::err("ERR Invalid FREQ value, must be >= 0 and <= 255");
            }
            freq = Some(v);
            j += 1;
        } else {
            return Reply::err(SYNTAX);
        }
        j += 1;
    }
    let (key, now) = (argv[1], ctx.now);
    if !replace && ctx.stripe_mut(key).get_mut(key, now).is_some() {
        return Reply::err("BUSYKEY Target key name already exists.");
    }
    let mut ttl = match parse_int(argv[2]) {
        Ok(v) => v,
        Err(e) => return e,
    };
    if ttl < 0 {
        return Reply::err("ERR Invalid TTL value, must be >= 0");
    }
    let Some(body) = rdb::verify_payload(argv[3]) else {
        return Reply::err("ERR DUMP payload version or checksum are wrong");
    };
    let val = match rdb::load_payload(body, super::server::load_limits(ctx.shared)) {
        Ok(v) => v,
        Err(e) => {
            log::debug!("RESTORE payload rejected: {e}");
            return Reply::err("ERR Bad data format");
        }
    };
    if ttl != 0 && !absttl {
        ttl = ttl.saturating_add(now);
    }
    let st = ctx.stripe_mut(key);
    if replace {
        st.remove(key);
    }
    if ttl != 0 && ttl <= now {
        // Already expired: the key is just gone (Redis's checkAlreadyExpired).
        return Reply::ok();
    }
    st.set(key, val, (ttl != 0).then_some(ttl), now);
    let lfu = crate::store::lfu::enabled();
    if let Some(it) = ctx.stripe_mut(key).get_mut(key, now) {
        match (idle, freq, lfu) {
            (Some(idle), _, false) => {
                let clock = crate::store::lru_clock(now).saturating_sub(idle.min(u32::MAX as i64) as u32);
                it.lru.store(clock, std::sync::atomic::Ordering::Relaxed);
            }
            (_, Some(f), true) => {
                it.lru.store(crate::store::lfu::with_counter(now, f as u32), std::sync::atomic::Ordering::Relaxed)
            }
            _ => {}
        }
    }
    Reply::ok()
}
