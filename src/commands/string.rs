//! String commands (COMMAND DOCS group `string`).
//!
//! Must hold: replies and errors are Redis 7.0's byte for byte; values keep Redis's
//! encodings (int / embstr / raw) so OBJECT ENCODING agrees; a string never grows past
//! proto-max-bulk-len.

use super::errors::{self, WRONGTYPE};
use super::flags::*;
use super::{eq_ic, parse_int, Command, Ctx};
use crate::protocol::Reply;
use crate::store::num::{ld_incr, LdError};
use crate::store::{Item, Value};

const G: &str = "string";

pub static COMMANDS: &[Command] = &[
    Command::new("get", G, 2, READONLY | FAST, get).ks("RO access").keys(1, 1, 1).doc("Get the value of a key", "1.0.0", "O(1)").args("key"),
    Command::new("set", G, -3, WRITE | DENYOOM, set).ev(super::notify::Ev::Fn(super::notify::set)).prop(super::aof::Prop::State).ks("RW access update variable_flags").notes("RW and ACCESS due to the optional `GET` argument")
        .keys(1, 1, 1)
        .doc("Set the string value of a key", "1.0.0", "O(1)")
        .args("key value [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|KEEPTTL]"),
    Command::new("setnx", G, 3, WRITE | DENYOOM | FAST, setnx).ev(super::notify::Ev::KeyIfReply(crate::config::events::STRING, "set")).ks("OW insert").keys(1, 1, 1).doc("Set the value of a key, only if the key does not exist", "1.0.0", "O(1)").args("key value"),
    Command::new("setex", G, 4, WRITE | DENYOOM, setex).ev(super::notify::Ev::Fn(super::notify::set)).prop(super::aof::Prop::State).ks("OW update").keys(1, 1, 1).doc("Set the value and expiration of a key", "2.0.0", "O(1)").args("key seconds value"),
    Command::new("psetex", G, 4, WRITE | DENYOOM, psetex).ev(super::notify::Ev::Fn(super::notify::set)).prop(super::aof::Prop::State).ks("OW update").keys(1, 1, 1).doc("Set the value and expiration in milliseconds of a key", "2.6.0", "O(1)").args("key milliseconds value"),
    Command::new("getset", G, 3, WRITE | DENYOOM | FAST, getset).ev(super::notify::Ev::Key(crate::config::events::STRING, "set")).ks("RW access update").keys(1, 1, 1).doc("Set the string value of a key and return its old value", "1.0.0", "O(1)").args("key value"),
    Command::new("getdel", G, 2, WRITE | FAST, getdel).ev(super::notify::Ev::Removed).ks("RW access delete").keys(1, 1, 1).doc("Get the value of a key and delete the key", "6.2.0", "O(1)").args("key"),
    Command::new("getex", G, -2, WRITE | FAST, getex).ev(super::notify::Ev::Fn(super::notify::getex)).prop(super::aof::Prop::Ttl).ks("RW access update").notes("RW and UPDATE because it changes the TTL")
        .keys(1, 1, 1)
        .doc("Get the value of a key and optionally set its expiration", "6.2.0", "O(1)")
        .args("key [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|PERSIST]"),
    Command::new("mget", G, -2, READONLY | FAST, mget).ks("RO access").tips("request_policy:multi_shard").keys(1, -1, 1).doc("Get the values of all the given keys", "1.0.0", "O(N) where N is the number of keys to retrieve.").args("key [key ...]"),
    Command::new("mset", G, -3, WRITE | DENYOOM, mset).ev(super::notify::Ev::AllKeys(crate::config::events::STRING, "set")).ks("OW update").tips("request_policy:multi_shard response_policy:all_succeeded").keys(1, -1, 2).doc("Set multiple keys to multiple values", "1.0.1", "O(N) where N is the number of keys to set.").args("key value [key value ...]"),
    Command::new("msetnx", G, -3, WRITE | DENYOOM, msetnx).ev(super::notify::Ev::AllKeys(crate::config::events::STRING, "set")).ks("OW insert").tips("request_policy:multi_shard response_policy:agg_min").keys(1, -1, 2).doc("Set multiple keys to multiple values, only if none of the keys exist", "1.0.1", "O(N) where N is the number of keys to set.").args("key value [key value ...]"),
    Command::new("strlen", G, 2, READONLY | FAST, strlen).ks("RO").keys(1, 1, 1).doc("Get the length of the value stored in a key", "2.2.0", "O(1)").args("key"),
    Command::new("append", G, 3, WRITE | DENYOOM | FAST, append).ev(super::notify::Ev::Key(crate::config::events::STRING, "append")).ks("RW insert").keys(1, 1, 1).doc("Append a value to a key", "2.0.0", "O(1). The amortized time complexity is O(1) assuming the appended value is small and the already present value is of any size, since the dynamic string library used by Redis will double the free space available on every reallocation.").args("key value"),
    Command::new("incr", G, 2, WRITE | DENYOOM | FAST, incr).ev(super::notify::Ev::Key(crate::config::events::STRING, "incrby")).ks("RW access update").keys(1, 1, 1).doc("Increment the integer value of a key by one", "1.0.0", "O(1)").args("key"),
    Command::new("decr", G, 2, WRITE | DENYOOM | FAST, decr).ev(super::notify::Ev::Key(crate::config::events::STRING, "incrby")).ks("RW access update").keys(1, 1, 1).doc("Decrement the integer value of a key by one", "1.0.0", "O(1)").args("key"),
    Command::new("incrby", G, 3, WRITE | DENYOOM | FAST, incrby).ev(super::notify::Ev::Key(crate::config::events::STRING, "incrby")).ks("RW access update").keys(1, 1, 1).doc("Increment the integer value of a key by the given amount", "1.0.0", "O(1)").args("key increment"),
    Command::new("decrby", G, 3, WRITE | DENYOOM | FAST, decrby).ev(super::notify::Ev::Key(crate::config::events::STRING, "incrby")).ks("RW access update").keys(1, 1, 1).doc("Decrement the integer value of a key by the given number", "1.0.0", "O(1)").args("key decrement"),
    Command::new("incrbyfloat", G, 3, WRITE | DENYOOM | FAST, incrbyfloat).ev(super::notify::Ev::Key(crate::config::events::STRING, "incrbyfloat")).prop(super::aof::Prop::State).ks("RW access update").keys(1, 1, 1).doc("Increment the float value of a key by the given amount", "2.6.0", "O(1)").args("key increment"),
    Command::new("getrange", G, 4, READONLY, getrange).ks("RO access").keys(1, 1, 1).doc("Get a substring of the string stored at a key", "2.4.0", "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.").args("key start end"),
    Command::new("substr", G, 4, READONLY, getrange).ks("RO access").keys(1, 1, 1).doc("Get a substring of the string stored at a key", "1.0.0", "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.").args("key start end"),
    Command::new("setrange", G, 4, WRITE | DENYOOM, setrange).ev(super::notify::Ev::Key(crate::config::events::STRING, "setrange")).ks("RW update").keys(1, 1, 1).doc("Overwrite part of a string at key starting at the specified offset", "2.2.0", "O(1), not counting the time taken to copy the new string in place. Usually, this string is very small so the amortized complexity is O(1). Otherwise, complexity is O(M) with M being the length of the value argument.").args("key offset value"),
    Command::new("lcs", G, -3, READONLY, lcs).ks("RO access").keys(1, 2, 1).doc("Find longest common substring", "7.0.0", "O(N*M) where N and M are the lengths of s1 and s2, respectively").args("key1 key2 [LEN] [IDX] [MINMATCHLEN min-match-len] [WITHMATCHLEN]"),
];

/// The string at `key`: Ok(None) if missing, Err(WRONGTYPE) if not a string.
fn read_str(it: Option<&Item>) -> Result<Option<&Value>, Reply> {
    match it {
        None => Ok(None),
        Some(it) if it.val.is_string() => Ok(Some(&it.val)),
        Some(_) => Err(Reply::err(WRONGTYPE)),
    }
}

fn bulk_of(v: &Value) -> Reply {
    Reply::Bulk(v.as_bytes().map(|c| c.into_owned()).unwrap_or_default())
}

fn get(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let now = ctx.now;
    let it = ctx.get(argv[1]);
    let r = match read_str(it) {
        Ok(Some(v)) => {
            if let Some(it) = it {
                it.touch(now);
            }
            bulk_of(v)
        }
        Ok(None) => Reply::Nil,
        Err(e) => e,
    };
    ctx.hit(!matches!(r, Reply::Nil));
    r
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Unit {
    Sec,
    Ms,
}

/// Redis's getExpireMillisecondsOrReply: absolute unix ms, or the reply to send.
fn expire_ms(ctx: &Ctx, arg: &[u8], unit: Unit, relative: bool) -> Result<i64, Reply> {
    let v = parse_int(arg)?;
    let bad = || Reply::err(errors::invalid_expire(ctx.cmd.name));
    if v <= 0 || (unit == Unit::Sec && v > i64::MAX / 1000) {
        return Err(bad());
    }
    let mut ms = if unit == Unit::Sec { v * 1000 } else { v };
    if relative {
        ms = ms.checked_add(ctx.now).ok_or_else(bad)?;
    }
    if ms <= 0 {
        return Err(bad());
    }
    Ok(ms)
}

const F_NX: u32 = 1;
const F_XX: u32 = 2;
const F_GET: u32 = 4;
const F_KEEPTTL: u32 = 8;
const F_PERSIST: u32 = 16;
const F_EX: u32 = 32;
const F_PX: u32 = 64;
const F_EXAT: u32 = 128;
const F_PXAT: u32 = 256;
const F_ANY_EXPIRE: u32 = F_EX | F_PX | F_EXAT | F_PXAT;

/// Redis's parseExtendedStringArgumentsOrReply for SET (is_set) and GETEX.
fn parse_ext<'a>(argv: &[&'a [u8]], from: usize, is_set: bool) -> Result<(u32, Option<&'a [u8]>), Reply> {
    let mut flags = 0u32;
    let mut expire = None;
    let mut j = from;
    while j < argv.len() {
        let o = argv[j];
        let has_next = j + 1 < argv.len();
        let others_expire = |f: u32, me: u32| f & (F_ANY_EXPIRE & !me) != 0;
        if eq_ic(o, "nx") && flags & F_XX == 0 && is_set {
            flags |= F_NX;
        } else if eq_ic(o, "xx") && flags & F_NX == 0 && is_set {
            flags |= F_XX;
        } else if eq_ic(o, "get") && is_set {
            flags |= F_GET;
        } else if eq_ic(o, "keepttl") && flags & (F_PERSIST | F_ANY_EXPIRE) == 0 && is_set {
            flags |= F_KEEPTTL;
        } else if eq_ic(o, "persist") && !is_set && flags & (F_ANY_EXPIRE | F_KEEPTTL) == 0 {
            flags |= F_PERSIST;
        } else if let Some(f) = [("ex", F_EX), ("px", F_PX), ("exat", F_EXAT), ("pxat", F_PXAT)]
            .iter()
            .find(|(n, _)| eq_ic(o, n))
            .map(|(_, f)| *f)
            .filter(|f| flags & (F_KEEPTTL | F_PERSIST) == 0 && !others_expire(flags, *f) && has_next)
        {
            flags |= f;
            expire = Some(argv[j + 1]);
            j += 1;
        } else {
            return Err(Reply::err(errors::SYNTAX));
        }
        j += 1;
    }
    Ok((flags, expire))
}

fn expire_from_flags(ctx: &Ctx, flags: u32, expire: Option<&[u8]>) -> Result<Option<i64>, Reply> {
    let Some(e) = expire else { return Ok(None) };
    let (unit, rel) = match flags & F_ANY_EXPIRE {
        F_EX => (Unit::Sec, true),
        F_PX => (Unit::Ms, true),
        F_EXAT => (Unit::Sec, false),
        _ => (Unit::Ms, false),
    };
    expire_ms(ctx, e, unit, rel).map(Some)
}

/// The shared body of SET / SETEX / PSETEX / SETNX.
fn set_generic(ctx: &mut Ctx, key: &[u8], val: &[u8], flags: u32, at: Option<i64>) -> Reply {
    let now = ctx.now;
    let st = ctx.stripe_mut(key);
    // Look only (no `get_mut`): a SET NX/XX that does nothing must not touch WATCHers.
    let existing = st.get(key, now);
    let mut old = None;
    if flags & F_GET != 0 {
        match existing {
            Some(it) if !it.val.is_string() => return Reply::err(WRONGTYPE),
            Some(it) => old = Some(bulk_of(&it.val)),
            None => old = Some(Reply::Nil),
        }
    }
    let found = existing.is_some();
    let keep = if flags & F_KEEPTTL != 0 { existing.and_then(|it| it.expire_at()) } else { None };
    if (flags & F_NX != 0 && found) || (flags & F_XX != 0 && !found) {
        return old.unwrap_or(Reply::Nil);
    }
    st.set(key, Value::string(val), at.or(keep), now);
    if at.is_some_and(|a| a <= now) {
        st.remove(key);
    }
    old.unwrap_or(Reply::ok())
}

fn set(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let (flags, expire) = match parse_ext(argv, 3, true) {
        Ok(x) => x,
        Err(e) => return e,
    };
    let at = match expire_from_flags(ctx, flags, expire) {
        Ok(a) => a,
        Err(e) => return e,
    };
    set_generic(ctx, argv[1], argv[2], flags, at)
}

fn setnx(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let now = ctx.now;
    let st = ctx.stripe_mut(argv[1]);
    if st.get(argv[1], now).is_some() {
        return Reply::Int(0);
    }
    st.set(argv[1], Value::string(argv[2]), None, now);
    Reply::Int(1)
}

fn setex(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    match expire_ms(ctx, argv[2], Unit::Sec, true) {
        Ok(at) => set_generic(ctx, argv[1], argv[3], 0, Some(at)),
        Err(e) => e,
    }
}

fn psetex(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    match expire_ms(ctx, argv[2], Unit::Ms, true) {
        Ok(at) => set_generic(ctx, argv[1], argv[3], 0, Some(at)),
        Err(e) => e,
    }
}

fn getset(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    set_generic(ctx, argv[1], argv[2], F_GET, None)
}

fn getdel(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let now = ctx.now;
    let st = ctx.stripe_mut(argv[1]);
    let r = match st.get_mut(argv[1], now) {
        None => Reply::Nil,
        Some(it) if !it.val.is_string() => return Reply::err(WRONGTYPE),
        Some(it) => bulk_of(&it.val),
    };
    if !matches!(r, Reply::Nil) {
        st.remove(argv[1]);
    }
    ctx.hit(!matches!(r, Reply::Nil));
    r
}

fn getex(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let (flags, expire) = match parse_ext(argv, 2, false) {
        Ok(x) => x,
        Err(e) => return e,
    };
    let now = ctx.now;
    let r = match ctx.stripe_mut(argv[1]).get_mut(argv[1], now) {
        None => return Reply::Nil,
        Some(it) if !it.val.is_string() => return Reply::err(WRONGTYPE),
        Some(it) => bulk_of(&it.val),
    };
    let at = match expire_from_flags(ctx, flags, expire) {
        Ok(a) => a,
        Err(e) => return e,
    };
    let st = ctx.stripe_mut(argv[1]);
    if let Some(at) = at {
        if at <= now {
            st.remove(argv[1]);
        } else {
            st.set_expire(argv[1], Some(at));
        }
    } else if flags & F_PERSIST != 0 {
        st.set_expire(argv[1], None);
    }
    r
}

fn mget(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let mut out = Vec::with_capacity(argv.len() - 1);
    for k in &argv[1..] {
        out.push(match ctx.get(k) {
            Some(it) if it.val.is_string() => bulk_of(&it.val),
            _ => Reply::Nil,
        });
    }
    Reply::Array(out)
}

fn mset(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    if argv.len() % 2 == 0 {
        return Reply::err(errors::arity(ctx.cmd.name));
    }
    let now = ctx.now;
    for pair in argv[1..].chunks(2) {
        ctx.stripe_mut(pair[0]).set(pair[0], Value::string(pair[1]), None, now);
    }
    Reply::ok()
}

fn msetnx(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    if argv.len() % 2 == 0 {
        return Reply::err(errors::arity(ctx.cmd.name));
    }
    let now = ctx.now;
    for pair in argv[1..].chunks(2) {
        if ctx.stripe_mut(pair[0]).get_mut(pair[0], now).is_some() {
            return Reply::Int(0);
        }
    }
    for pair in argv[1..].chunks(2) {
        ctx.stripe_mut(pair[0]).set(pair[0], Value::string(pair[1]), None, now);
    }
    Reply::Int(1)
}

fn strlen(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    match read_str(ctx.get(argv[1])) {
        Ok(Some(v)) => Reply::Int(v.str_len() as i64),
        Ok(None) => Reply::Int(0),
        Err(e) => e,
    }
}

fn max_len(ctx: &Ctx) -> u64 {
    ctx.shared.config.read().proto_max_bulk_len
}

fn append(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let now = ctx.now;
    let limit = max_len(ctx);
    let st = ctx.stripe_mut(argv[1]);
    match st.get_mut(argv[1], now) {
        None => {
            st.set(argv[1], Value::string(argv[2]), None, now);
            Reply::Int(argv[2].len() as i64)
        }
        Some(it) if !it.val.is_string() => Reply::err(WRONGTYPE),
        Some(it) => {
            if (it.val.str_len() + argv[2].len()) as u64 > limit {
                return Reply::err(errors::STRING_TOO_LONG);
            }
            let raw = it.val.make_raw();
            raw.extend_from_slice(argv[2]);
            Reply::Int(raw.len() as i64)
        }
    }
}

fn incr_by(ctx: &mut Ctx, key: &[u8], by: i64) -> Reply {
    let now = ctx.now;
    let st = ctx.stripe_mut(key);
    let cur = match st.get_mut(key, now) {
        None => 0,
        Some(it) => match &it.val {
            Value::Int(i) => *i,
            v if v.is_string() => match v.as_bytes().and_then(|b| crate::store::parse_i64_strict(&b)) {
                Some(i) => i,
                None => return Reply::err(errors::NOT_INT),
            },
            _ => return Reply::err(WRONGTYPE),
        },
    };
    let Some(n) = cur.checked_add(by) else {
        return Reply::err(errors::OVERFLOW);
    };
    match st.get_mut(key, now) {
        Some(it) => it.val = Value::Int(n),
        None => st.set(key, Value::Int(n), None, now),
    }
    Reply::Int(n)
}

fn incr(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    incr_by(ctx, argv[1], 1)
}

fn decr(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    incr_by(ctx, argv[1], -1)
}

fn incrby(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    match parse_int(argv[2]) {
        Ok(by) => incr_by(ctx, argv[1], by),
        Err(e) => e,
    }
}

fn decrby(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    match parse_int(argv[2]) {
        Ok(i64::MIN) => Reply::err("ERR decrement would overflow"),
        Ok(by) => incr_by(ctx, argv[1], -by),
        Err(e) => e,
    }
}

fn incrbyfloat(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let now = ctx.now;
    let st = ctx.stripe_mut(argv[1]);
    let cur = match st.get_mut(argv[1], now) {
        None => None,
        Some(it) if !it.val.is_string() => return Reply::err(WRONGTYPE),
        Some(it) => it.val.as_bytes().map(|b| b.into_owned()),
    };
    match ld_incr(cur.as_deref(), argv[2]) {
        Ok(s) => {
            match st.get_mut(argv[1], now) {
                Some(it) => it.val = Value::created(&s),
                None => st.set(argv[1], Value::created(&s), None, now),
            }
            Reply::Bulk(s)
        }
        Err(LdError::NanOrInf) => Reply::err(errors::INCR_NAN),
        Err(_) => Reply::err(errors::NOT_FLOAT),
    }
}

fn getrange(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let (mut start, mut end) = match (parse_int(argv[2]), parse_int(argv[3])) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let v = match read_str(ctx.get(argv[1])) {
        Ok(Some(v)) => v.as_bytes().map(|b| b.into_owned()).unwrap_or_default(),
        Ok(None) => return Reply::Bulk(Vec::new()),
        Err(e) => return e,
    };
    let len = v.len() as i64;
    if start < 0 && end < 0 && start > end {
        return Reply::Bulk(Vec::new());
    }
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    if start > end || len == 0 {
        return Reply::Bulk(Vec::new());
    }
    Reply::Bulk(v[start as usize..=end as usize].to_vec())
}

fn setrange(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let offset = match parse_int(argv[2]) {
        Ok(o) => o,
        Err(e) => return e,
    };
    if offset < 0 {
        return Reply::err("ERR offset is out of range");
    }
    let val = argv[3];
    let limit = max_len(ctx);
    let now = ctx.now;
    let too_long = |off: i64| (off as u64).checked_add(val.len() as u64).is_none_or(|t| t > limit);
    let st = ctx.stripe_mut(argv[1]);
    match st.get_mut(argv[1], now) {
        None => {
            if val.is_empty() {
                return Reply::Int(0);
            }
            if too_long(offset) {
                return Reply::err(errors::STRING_TOO_LONG);
            }
            let mut buf = vec![0u8; offset as usize + val.len()];
            buf[offset as usize..].copy_from_slice(val);
            let n = buf.len();
            st.set(argv[1], Value::Raw(Box::new(buf)), None, now);
            Reply::Int(n as i64)
        }
        Some(it) if !it.val.is_string() => Reply::err(WRONGTYPE),
        Some(it) => {
            if val.is_empty() {
                return Reply::Int(it.val.str_len() as i64);
            }
            if too_long(offset) {
                return Reply::err(errors::STRING_TOO_LONG);
            }
            let raw = it.val.make_raw();
            let end = offset as usize + val.len();
            if raw.len() < end {
                raw.resize(end, 0);
            }
            raw[offset as usize..end].copy_from_slice(val);
            Reply::Int(raw.len() as i64)
        }
    }
}

fn lcs(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let fetch = |k: &[u8]| -> Result<Vec<u8>, ()> {
        match ctx.get(k) {
            None => Ok(Vec::new()),
            Some(it) if it.val.is_string() => Ok(it.val.as_bytes().map(|b| b.into_owned()).unwrap_or_default()),
            Some(_) => Err(()),
        }
    };
    let (a, b) = match (fetch(argv[1]), fetch(argv[2])) {
        (Ok(a), Ok(b)) => (a, b),
        _ => return Reply::err("ERR The specified keys must contain string values"),
    };
    let (mut getlen, mut getidx, mut withmatchlen, mut minmatchlen) = (false, false, false, 0i64);
    let mut j = 3;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        if eq_ic(argv[j], "idx") {
            getidx = true;
        } else if eq_ic(argv[j], "len") {
            getlen = true;
        } else if eq_ic(argv[j], "withmatchlen") {
            withmatchlen = true;
        } else if eq_ic(argv[j], "minmatchlen") && more > 0 {
            match parse_int(argv[j + 1]) {
                Ok(v) => minmatchlen = v.max(0),
                Err(e) => return e,
            }
            j += 1;
        } else {
            return Reply::err(errors::SYNTAX);
        }
        j += 1;
    }
    if getidx && getlen {
        return Reply::err("ERR If you want both the length and indexes, please just use IDX.");
    }
    let (alen, blen) = (a.len(), b.len());
    let cells = (alen as u64 + 1) * (blen as u64 + 1);
    if cells.saturating_mul(4) > max_len(ctx) {
        return Reply::err("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
    }
    let w = blen + 1;
    let mut dp = vec![0u32; cells as usize];
    for i in 1..=alen {
        for jj in 1..=blen {
            dp[i * w + jj] = if a[i - 1] == b[jj - 1] {
                dp[(i - 1) * w + jj - 1] + 1
            } else {
                dp[(i - 1) * w + jj].max(dp[i * w + jj - 1])
            };
        }
    }
    let total = dp[alen * w + blen];
    let mut idx = total as usize;
    let computelcs = getidx || !getlen;
    let mut result = vec![0u8; if computelcs { idx } else { 0 }];
    let mut matches = Vec::new();
    let (mut ast, mut aend, mut bst, mut bend) = (alen, 0usize, 0usize, 0usize);
    let (mut i, mut jj) = (alen, blen);
    while computelcs && i > 0 && jj > 0 {
        let mut emit = false;
        if a[i - 1] == b[jj - 1] {
            result[idx - 1] = a[i - 1];
            if ast == alen {
                ast = i - 1;
                aend = i - 1;
                bst = jj - 1;
                bend = jj - 1;
            } else if ast == i && bst == jj {
                ast -= 1;
                bst -= 1;
            } else {
                emit = true;
            }
            if ast == 0 || bst == 0 {
                emit = true;
            }
            idx -= 1;
            i -= 1;
            jj -= 1;
        } else {
            if dp[(i - 1) * w + jj] > dp[i * w + jj - 1] {
                i -= 1;
            } else {
                jj -= 1;
            }
            if ast != alen {
                emit = true;
            }
        }
        let mlen = aend.wrapping_sub(ast).wrapping_add(1);
        if emit {
            if (minmatchlen == 0 || mlen as i64 >= minmatchlen) && getidx {
                let mut m = vec![
                    Reply::Array(vec![Reply::Int(ast as i64), Reply::Int(aend as i64)]),
                    Reply::Array(vec![Reply::Int(bst as i64), Reply::Int(bend as i64)]),
                ];
                if withmatchlen {
                    m.push(Reply::Int(mlen as i64));
                }
                matches.push(Reply::Array(m));
            }
            ast = alen;
        }
    }
    if getidx {
        Reply::Map(vec![
            (Reply::bulk(b"matches"), Reply::Array(matches)),
            (Reply::bulk(b"len"), Reply::Int(total as i64)),
        ])
    } else if getlen {
        Reply::Int(total as i64)
    } else {
        Reply::Bulk(result)
    }
}
