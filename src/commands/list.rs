//! List commands (COMMAND DOCS group `list`): LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LLEN
//! LRANGE LINDEX LSET LINSERT LREM LTRIM LPOS LMOVE RPOPLPUSH LMPOP.
//!
//! Must hold: replies and errors are Redis 7.0's byte for byte, including the order in
//! which arguments and the key are checked (it decides which error wins); a list that
//! becomes empty is deleted; LMOVE/RPOPLPUSH with the same source and destination keep
//! the key (and its TTL). The pop/move/mpop bodies are public functions over a locked
//! `Ctx` so the blocking variants (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP) reuse them.

use super::errors::{self, WRONGTYPE};
use super::flags::*;
use super::{eq_ic, parse_int, Command, Ctx};
use crate::protocol::Reply;
use crate::store::list::List;
use crate::store::Value;

const G: &str = "list";

const PUSH_O: &str =
    "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.";

pub static COMMANDS: &[Command] = &[
    Command::new("lpush", G, -3, WRITE | DENYOOM | FAST, lpush).ev(super::notify::Ev::Key(crate::config::events::LIST, "lpush")).ks("RW insert").keys(1, 1, 1).doc("Prepend one or multiple elements to a list", "1.0.0", PUSH_O).args("key element [element ...]"),
    Command::new("rpush", G, -3, WRITE | DENYOOM | FAST, rpush).ev(super::notify::Ev::Key(crate::config::events::LIST, "rpush")).ks("RW insert").keys(1, 1, 1).doc("Append one or multiple elements to a list", "1.0.0", PUSH_O).args("key element [element ...]"),
    Command::new("lpushx", G, -3, WRITE | DENYOOM | FAST, lpushx).ev(super::notify::Ev::KeyIfReply(crate::config::events::LIST, "lpush")).ks("RW insert").keys(1, 1, 1).doc("Prepend an element to a list, only if the list exists", "2.2.0", PUSH_O).args("key element [element ...]"),
    Command::new("rpushx", G, -3, WRITE | DENYOOM | FAST, rpushx).ev(super::notify::Ev::KeyIfReply(crate::config::events::LIST, "rpush")).ks("RW insert").keys(1, 1, 1).doc("Append an element to a list, only if the list exists", "2.2.0", PUSH_O).args("key element [element ...]"),
    Command::new("lpop", G, -2, WRITE | FAST, lpop).ev(super::notify::Ev::KeyIfReply(crate::config::events::LIST, "lpop")).ks("RW access delete").keys(1, 1, 1).doc("Remove and get the first elements in a list", "1.0.0", "O(N) where N is the number of elements returned").args("key [count]"),
    Command::new("rpop", G, -2, WRITE | FAST, rpop).ev(super::notify::Ev::KeyIfReply(crate::config::events::LIST, "rpop")).ks("RW access delete").keys(1, 1, 1).doc("Remove and get the last elements in a list", "1.0.0", "O(N) where N is the number of elements returned").args("key [count]"),
    Command::new("llen", G, 2, READONLY | FAST, llen).ks("RO").keys(1, 1, 1).doc("Get the length of a list", "1.0.0", "O(1)").args("key"),
    Command::new("lrange", G, 4, READONLY, lrange).ks("RO access").keys(1, 1, 1).doc("Get a range of elements from a list", "1.0.0", "O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest end (HEAD or TAIL) for large lists; and N is the number of elements in the specified range.").args("key start stop"),
    Command::new("lindex", G, 3, READONLY, lindex).ks("RO access").keys(1, 1, 1).doc("Get an element from a list by its index", "1.0.0", "O(N) where N is the number of elements to traverse to get to the element at index. This makes asking for the first or the last element of the list O(1).").args("key index"),
    Command::new("lset", G, 4, WRITE | DENYOOM, lset).ev(super::notify::Ev::Key(crate::config::events::LIST, "lset")).ks("RW update").keys(1, 1, 1).doc("Set the value of an element in a list by its index", "1.0.0", "O(N) where N is the length of the list. Setting either the first or the last element of the list is O(1).").args("key index element"),
    Command::new("linsert", G, 5, WRITE | DENYOOM, linsert).ev(super::notify::Ev::KeyIfReply(crate::config::events::LIST, "linsert")).ks("RW insert").keys(1, 1, 1).doc("Insert an element before or after another element in a list", "2.2.0", "O(N) where N is the number of elements to traverse before seeing the value pivot. This means that inserting somewhere on the left end on the list (head) can be considered O(1) and inserting somewhere on the right end (tail) is O(N).").args("key <BEFORE|AFTER> pivot element"),
    Command::new("lrem", G, 4, WRITE, lrem).ev(super::notify::Ev::KeyIfReply(crate::config::events::LIST, "lrem")).ks("RW delete").keys(1, 1, 1).doc("Remove elements from a list", "1.0.0", "O(N+M) where N is the length of the list and M is the number of elements removed.").args("key count element"),
    Command::new("ltrim", G, 4, WRITE, ltrim).ev(super::notify::Ev::Key(crate::config::events::LIST, "ltrim")).ks("RW delete").keys(1, 1, 1).doc("Trim a list to the specified range", "1.0.0", "O(N) where N is the number of elements to be removed by the operation.").args("key start stop"),
    Command::new("lpos", G, -3, READONLY, lpos).ks("RO access").keys(1, 1, 1).doc("Return the index of matching elements on a list", "6.0.6", "O(N) where N is the number of elements in the list, for the average case. When searching for elements near the head or the tail of the list, or when the MAXLEN option is provided, the command may run in constant time.").args("key element [RANK rank] [COUNT num-matches] [MAXLEN len]"),
    Command::new("lmove", G, 5, WRITE | DENYOOM, lmove).ev(super::notify::Ev::Fn(super::notify::lmove)).ks("RW access delete; RW insert").keys(1, 2, 1).doc("Pop an element from a list, push it to another list and return it", "6.2.0", "O(1)").args("source destination <LEFT|RIGHT> <LEFT|RIGHT>"),
    Command::new("rpoplpush", G, 3, WRITE | DENYOOM, rpoplpush).ev(super::notify::Ev::Fn(super::notify::lmove)).ks("RW access delete; RW insert").keys(1, 2, 1).doc("Remove the last element in a list, prepend it to another list and return it", "1.2.0", "O(1)").args("source destination"),
    Command::new("blpop", G, -3, WRITE | NOSCRIPT | BLOCKING, blpop).ev(super::notify::Ev::Fn(super::notify::pop)).prop(super::aof::Prop::BlockingPop).ks("RW access delete").keys(1, -2, 1).doc("Remove and get the first element in a list, or block until one is available", "2.0.0", "O(N) where N is the number of provided keys.").args("key [key ...] timeout"),
    Command::new("brpop", G, -3, WRITE | NOSCRIPT | BLOCKING, brpop).ev(super::notify::Ev::Fn(super::notify::pop)).prop(super::aof::Prop::BlockingPop).ks("RW access delete").keys(1, -2, 1).doc("Remove and get the last element in a list, or block until one is available", "2.0.0", "O(N) where N is the number of provided keys.").args("key [key ...] timeout"),
    Command::new("blmove", G, 6, WRITE | DENYOOM | NOSCRIPT | BLOCKING, blmove).ev(super::notify::Ev::Fn(super::notify::lmove)).prop(super::aof::Prop::BlockingPop).ks("RW access delete; RW insert").keys(1, 2, 1).doc("Pop an element from a list, push it to another list and return it; or block until one is available", "6.2.0", "O(1)").args("source destination <LEFT|RIGHT> <LEFT|RIGHT> timeout"),
    Command::new("brpoplpush", G, 4, WRITE | DENYOOM | NOSCRIPT | BLOCKING, brpoplpush).ev(super::notify::Ev::Fn(super::notify::lmove)).prop(super::aof::Prop::BlockingPop).ks("RW access delete; RW insert").keys(1, 2, 1).doc("Pop an element from a list, push it to another list and return it; or block until one is available", "2.2.0", "O(1)").args("source destination timeout"),
    Command::new("blmpop", G, -5, WRITE | BLOCKING, blmpop).ev(super::notify::Ev::Fn(super::notify::pop)).prop(super::aof::Prop::BlockingPop).keynum(2, 0, 1, 1, "RW access delete").doc("Pop elements from a list, or block until one is available", "7.0.0", "O(N+M) where N is the number of provided keys and M is the number of elements returned.").args("timeout numkeys key [key ...] <LEFT|RIGHT> [COUNT count]"),
    Command::new("lmpop", G, -4, WRITE, lmpop).ev(super::notify::Ev::Fn(super::notify::pop)).keynum(1, 0, 1, 1, "RW access delete").doc("Pop elements from a list", "7.0.0", "O(N+M) where N is the number of provided keys and M is the number of elements returned.").args("numkeys key [key ...] <LEFT|RIGHT> [COUNT count]"),
];

// ---------------------------------------------------------------------------------------
// Lookups
// ---------------------------------------------------------------------------------------

/// The list at `key` for reading: Ok(None) if missing, Err(WRONGTYPE) if not a list.
/// Counts a keyspace hit or miss, as Redis's lookupKeyRead does.
fn list_ref<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<Option<&'c List>, Reply> {
    let found = ctx.get(key).is_some();
    ctx.hit(found);
    if !found {
        return Ok(None);
    }
    let now = ctx.now;
    match ctx.get(key) {
        None => Ok(None),
        Some(it) => {
            it.touch(now);
            match &it.val {
                Value::List(l) => Ok(Some(l)),
                _ => Err(Reply::err(WRONGTYPE)),
            }
        }
    }
}

/// The list at `key` for writing (an expired key is removed first): Ok(None) if
/// missing, Err(WRONGTYPE) if not a list.
fn list_mut<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<Option<&'c mut List>, Reply> {
    let now = ctx.now;
    let Some(it) = ctx.stripe_mut(key).get_mut(key, now) else {
        return Ok(None);
    };
    it.touch(now);
    match &mut it.val {
        Value::List(l) => Ok(Some(l)),
        _ => Err(Reply::err(WRONGTYPE)),
    }
}

/// Deletes `key` (Redis never keeps an empty list).
fn remove_key(ctx: &mut Ctx, key: &[u8]) {
    ctx.stripe_mut(key).remove(key);
}

/// Pushes `elems` onto the list at `key`, creating it if needed.
fn push_into(ctx: &mut Ctx, key: &[u8], elems: &[&[u8]], left: bool) -> usize {
    let now = ctx.now;
    let st = ctx.stripe_mut(key);
    if let Some(it) = st.get_mut(key, now) {
        if let Value::List(l) = &mut it.val {
            for e in elems {
                l.push(e, left);
            }
            return l.len();
        }
    }
    let mut l = List::new();
    for e in elems {
        l.push(e, left);
    }
    let n = l.len();
    st.set(key, Value::List(Box::new(l)), None, now);
    n
}

fn bulks(v: Vec<Vec<u8>>) -> Reply {
    Reply::Array(v.into_iter().map(Reply::Bulk).collect())
}

/// Redis's getRangeLongFromObjectOrReply: an integer in `min..=max`. `msg` (without the
/// `ERR ` prefix) replaces both the not-an-integer and the out-of-range errors.
fn parse_range(a: &[u8], min: i64, max: i64, msg: Option<&str>) -> Result<i64, Reply> {
    let v = match (parse_int(a), msg) {
        (Ok(v), _) => v,
        (Err(_), Some(m)) => return Err(Reply::err(format!("ERR {m}"))),
        (Err(e), None) => return Err(e),
    };
    if v < min || v > max {
        return Err(Reply::err(match msg {
            Some(m) => format!("ERR {m}"),
            None => format!("ERR value is out of range, value must between {min} and {max}"),
        }));
    }
    Ok(v)
}

/// Redis's getPositiveLongFromObjectOrReply.
fn parse_positive(a: &[u8], msg: Option<&str>) -> Result<i64, Reply> {
    parse_range(a, 0, i64::MAX, Some(msg.unwrap_or("value is out of range, must be positive")))
}

// ---------------------------------------------------------------------------------------
// Reusable bodies (also for the blocking variants)
// ---------------------------------------------------------------------------------------

/// Popped elements, in pop order.
pub type Popped = Vec<Vec<u8>>;

/// Pops up to `count` elements from the head (`left`) or the tail, in pop order.
pub fn pop(list: &mut List, left: bool, count: usize) -> Popped {
    let n = count.min(list.len());
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        match list.pop(left) {
            Some(e) => out.push(e.as_slice().to_vec()),
            None => break,
        }
    }
    out
}

/// Pops up to `count` elements from the list at `key`, deleting the key when it
/// empties. Ok(None) when there is no such key; Err(WRONGTYPE) when it is not a list.
pub fn pop_key(ctx: &mut Ctx, key: &[u8], left: bool, count: usize) -> Result<Option<Popped>, Reply> {
    let Some(l) = list_mut(ctx, key)? else {
        return Ok(None);
    };
    let out = pop(l, left, count);
    if l.is_empty() {
        remove_key(ctx, key);
    }
    Ok(Some(out))
}

/// LMOVE's body: pops one element from `src` (head if `from_left`) and pushes it onto
/// `dst` (head if `to_left`), creating `dst` if needed. Ok(None) when `src` does not
/// exist. A wrong-typed `src` or `dst` is an error and changes nothing. `src == dst`
/// rotates the list in place (the key and its TTL stay).
pub fn move_key(
    ctx: &mut Ctx,
    src: &[u8],
    dst: &[u8],
    from_left: bool,
    to_left: bool,
) -> Result<Option<Vec<u8>>, Reply> {
    match list_mut(ctx, src)? {
        None => return Ok(None),
        Some(l) if l.is_empty() => return Ok(None),
        Some(_) => {}
    }
    if src != dst {
        list_mut(ctx, dst)?;
    }
    let Some(l) = list_mut(ctx, src)? else {
        return Ok(None);
    };
    let Some(v) = l.pop(from_left) else {
        return Ok(None);
    };
    let v = v.as_slice().to_vec();
    if l.is_empty() && src != dst {
        remove_key(ctx, src);
    }
    push_into(ctx, dst, &[&v], to_left);
    Ok(Some(v))
}

/// LMPOP's body: pops up to `count` elements from the first of `keys` that holds a
/// non-empty list. Ok(Some((index into keys, elements))), Ok(None) when every key is
/// missing, Err(WRONGTYPE) at the first wrong-typed key met before a list.
pub fn mpop_keys(ctx: &mut Ctx, keys: &[&[u8]], left: bool, count: usize) -> Result<Option<(usize, Popped)>, Reply> {
    for (i, key) in keys.iter().enumerate() {
        match list_mut(ctx, key)? {
            Some(l) if !l.is_empty() => {}
            _ => continue,
        }
        if let Some(v) = pop_key(ctx, key, left, count)? {
            return Ok(Some((i, v)));
        }
    }
    Ok(None)
}

/// LMPOP/BLMPOP's reply: `[key, [elements...]]`.
pub fn mpop_reply(key: &[u8], elems: Popped) -> Reply {
    Reply::Array(vec![Reply::bulk(key), bulks(elems)])
}

/// `LEFT` (true) or `RIGHT` (false), case-insensitive; anything else is a syntax error.
pub fn parse_where(a: &[u8]) -> Result<bool, Reply> {
    if eq_ic(a, "left") {
        Ok(true)
    } else if eq_ic(a, "right") {
        Ok(false)
    } else {
        Err(Reply::err(errors::SYNTAX))
    }
}

/// LMPOP/BLMPOP arguments: the keys are `argv[first_key..first_key + numkeys]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MpopArgs {
    pub first_key: usize,
    pub numkeys: usize,
    pub left: bool,
    pub count: usize,
}

/// Parses `numkeys key [key ...] LEFT|RIGHT [COUNT count]` starting at
/// `argv[numkeys_idx]` (1 for LMPOP, 2 for BLMPOP), with Redis's errors.
pub fn parse_mpop(argv: &[&[u8]], numkeys_idx: usize) -> Result<MpopArgs, Reply> {
    let numkeys = parse_range(argv[numkeys_idx], 1, i64::MAX, Some("numkeys should be greater than 0"))? as u64;
    let where_idx = (numkeys_idx as u64).saturating_add(numkeys).saturating_add(1);
    if where_idx >= argv.len() as u64 {
        return Err(Reply::err(errors::SYNTAX));
    }
    let where_idx = where_idx as usize;
    let left = parse_where(argv[where_idx])?;
    let mut count = None;
    let mut j = where_idx + 1;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        if count.is_none() && eq_ic(argv[j], "count") && more > 0 {
            j += 1;
            count = Some(parse_range(argv[j], 1, i64::MAX, Some("count should be greater than 0"))?);
        } else {
            return Err(Reply::err(errors::SYNTAX));
        }
        j += 1;
    }
    Ok(MpopArgs {
        first_key: numkeys_idx + 1,
        numkeys: numkeys as usize,
        left,
        count: usize::try_from(count.unwrap_or(1)).unwrap_or(usize::MAX),
    })
}

// ---------------------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------------------

fn push_generic(ctx: &mut Ctx, argv: &[&[u8]], left: bool, only_existing: bool) -> Reply {
    let key = argv[1];
    match list_mut(ctx, key) {
        Err(e) => e,
        Ok(Some(l)) => {
            for e in &argv[2..] {
                l.push(e, left);
            }
            Reply::Int(l.len() as i64)
        }
        Ok(None) if only_existing => Reply::Int(0),
        Ok(None) => Reply::Int(push_into(ctx, key, &argv[2..], left) as i64),
    }
}

fn lpush(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    push_generic(ctx, argv, true, false)
}

fn rpush(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    push_generic(ctx, argv, false, false)
}

fn lpushx(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    push_generic(ctx, argv, true, true)
}

fn rpushx(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    push_generic(ctx, argv, false, true)
}

fn pop_generic(ctx: &mut Ctx, argv: &[&[u8]], left: bool) -> Reply {
    if argv.len() > 3 {
        return Reply::err(errors::arity(ctx.cmd.name));
    }
    let count = match argv.get(2).map(|a| parse_positive(a, None)).transpose() {
        Ok(c) => c,
        Err(e) => return e,
    };
    let n = count.map_or(1, |c| usize::try_from(c).unwrap_or(usize::MAX));
    match pop_key(ctx, argv[1], left, n) {
        Err(e) => e,
        Ok(None) if count.is_some() => Reply::NilArray,
        Ok(None) => Reply::Nil,
        Ok(Some(v)) if count.is_some() => bulks(v),
        Ok(Some(v)) => v.into_iter().next().map_or(Reply::Nil, Reply::Bulk),
    }
}

fn lpop(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    pop_generic(ctx, argv, true)
}

fn rpop(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    pop_generic(ctx, argv, false)
}

fn llen(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    match list_ref(ctx, argv[1]) {
        Ok(l) => Reply::Int(l.map_or(0, |l| l.len() as i64)),
        Err(e) => e,
    }
}

fn lrange(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let (start, end) = match (parse_int(argv[2]), parse_int(argv[3])) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let l = match list_ref(ctx, argv[1]) {
        Ok(Some(l)) => l,
        Ok(None) => return Reply::Array(vec![]),
        Err(e) => return e,
    };
    match l.range_of(start, end) {
        Some((s, e)) => Reply::Array(l.range(s, e).map(Reply::bulk).collect()),
        None => Reply::Array(vec![]),
    }
}

fn lindex(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let l = match list_ref(ctx, argv[1]) {
        Ok(Some(l)) => l,
        Ok(None) => return Reply::Nil,
        Err(e) => return e,
    };
    let idx = match parse_int(argv[2]) {
        Ok(i) => i,
        Err(e) => return e,
    };
    match l.resolve(idx).and_then(|p| l.get(p)) {
        Some(e) => Reply::bulk(e),
        None => Reply::Nil,
    }
}

fn lset(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let l = match list_mut(ctx, argv[1]) {
        Ok(Some(l)) => l,
        Ok(None) => return Reply::err(errors::NO_KEY),
        Err(e) => return e,
    };
    let idx = match parse_int(argv[2]) {
        Ok(i) => i,
        Err(e) => return e,
    };
    match l.resolve(idx) {
        Some(p) if l.set(p, argv[3]) => Reply::ok(),
        _ => Reply::err("ERR index out of range"),
    }
}

fn linsert(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let after = if eq_ic(argv[2], "after") {
        true
    } else if eq_ic(argv[2], "before") {
        false
    } else {
        return Reply::err(errors::SYNTAX);
    };
    let l = match list_mut(ctx, argv[1]) {
        Ok(Some(l)) => l,
        Ok(None) => return Reply::Int(0),
        Err(e) => return e,
    };
    match l.find(argv[3]) {
        Some(p) => {
            l.insert(p + after as usize, argv[4]);
            Reply::Int(l.len() as i64)
        }
        None => Reply::Int(-1),
    }
}

fn lrem(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let count = match parse_int(argv[2]) {
        Ok(c) => c,
        Err(e) => return e,
    };
    let l = match list_mut(ctx, argv[1]) {
        Ok(Some(l)) => l,
        Ok(None) => return Reply::Int(0),
        Err(e) => return e,
    };
    let n = l.remove(argv[3], count.unsigned_abs(), count < 0);
    if l.is_empty() {
        remove_key(ctx, argv[1]);
    }
    Reply::Int(n as i64)
}

fn ltrim(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let (start, end) = match (parse_int(argv[2]), parse_int(argv[3])) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let l = match list_mut(ctx, argv[1]) {
        Ok(Some(l)) => l,
        Ok(None) => return Reply::ok(),
        Err(e) => return e,
    };
    let len = l.len();
    let (ltrim, rtrim) = match l.range_of(start, end) {
        Some((s, e)) => (s, len - e - 1),
        None => (len, 0),
    };
    l.trim(ltrim, rtrim);
    if l.is_empty() {
        remove_key(ctx, argv[1]);
    }
    Reply::ok()
}

fn lpos(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let (mut rank, mut count, mut maxlen) = (1i64, None::<i64>, 0i64);
    let mut j = 3;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        let opt = argv[j];
        let parsed = if eq_ic(opt, "rank") && more > 0 {
            j += 1;
            parse_int(argv[j]).and_then(|r| {
                rank = r;
                if r == 0 {
                    Err(Reply::err("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list"))
                } else {
                    Ok(())
                }
            })
        } else if eq_ic(opt, "count") && more > 0 {
            j += 1;
            parse_positive(argv[j], Some("COUNT can't be negative")).map(|c| count = Some(c))
        } else if eq_ic(opt, "maxlen") && more > 0 {
            j += 1;
            parse_positive(argv[j], Some("MAXLEN can't be negative")).map(|m| maxlen = m)
        } else {
            Err(Reply::err(errors::SYNTAX))
        };
        if let Err(e) = parsed {
            return e;
        }
        j += 1;
    }
    let l = match list_ref(ctx, argv[1]) {
        Ok(Some(l)) => l,
        Ok(None) if count.is_some() => return Reply::Array(vec![]),
        Ok(None) => return Reply::Nil,
        Err(e) => return e,
    };
    let ele = argv[2];
    let from_tail = rank < 0;
    // Redis negates the rank in a C long: RANK -2^63 stays negative, so every match
    // qualifies and COUNT never stops the scan.
    let wrapped = rank == i64::MIN;
    let rank = if wrapped { 1 } else { rank.unsigned_abs() };
    let len = l.len();
    let limit = if maxlen == 0 { len } else { (maxlen as u64).min(len as u64) as usize };
    let mut found = Vec::new();
    let mut matches = 0u64;
    let mut check = |i: usize, e: &[u8]| -> bool {
        if e != ele {
            return false;
        }
        matches += 1;
        if matches < rank {
            return false;
        }
        found.push(i as i64);
        match count {
            None => true,
            Some(0) => false,
            Some(c) => !wrapped && found.len() as u64 >= c as u64,
        }
    };
    if from_tail {
        for (k, e) in l.iter().rev().take(limit).enumerate() {
            if check(len - 1 - k, e) {
                break;
            }
        }
    } else {
        for (k, e) in l.iter().take(limit).enumerate() {
            if check(k, e) {
                break;
            }
        }
    }
    match count {
        Some(_) => Reply::Array(found.into_iter().map(Reply::Int).collect()),
        None => found.first().map_or(Reply::Nil, |&i| Reply::Int(i)),
    }
}

fn lmove_generic(ctx: &mut Ctx, src: &[u8], dst: &[u8], from_left: bool, to_left: bool) -> Reply {
    match move_key(ctx, src, dst, from_left, to_left) {
        Ok(Some(v)) => Reply::Bulk(v),
        Ok(None) => Reply::Nil,
        Err(e) => e,
    }
}

fn lmove(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let (from, to) = match (parse_where(argv[3]), parse_where(argv[4])) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    lmove_generic(ctx, argv[1], argv[2], from, to)
}

fn rpoplpush(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    lmove_generic(ctx, argv[1], argv[2], false, true)
}

fn lmpop(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let a = match parse_mpop(argv, 1) {
        Ok(a) => a,
        Err(e) => return e,
    };
    let keys = &argv[a.first_key..a.first_key + a.numkeys];
    match mpop_keys(ctx, keys, a.left, a.count) {
        Ok(Some((i, v))) => mpop_reply(keys[i], v),
        Ok(None) => Reply::NilArray,
        Err(e) => e,
    }
}

// ---------------------------------------------------------------------------------------
// Blocking variants: try the non-blocking body; if there is nothing, park the client on
// the keys (see server::worker). A later push re-runs the command for it, FIFO.
// ---------------------------------------------------------------------------------------

fn bpop(ctx: &mut Ctx, argv: &[&[u8]], left: bool) -> Reply {
    let deadline = match super::parse_timeout(argv[argv.len() - 1], ctx.now) {
        Ok(d) => d,
        Err(e) => return e,
    };
    let keys = &argv[1..argv.len() - 1];
    match mpop_keys(ctx, keys, left, 1) {
        Ok(Some((i, mut v))) => Reply::Array(vec![Reply::bulk(keys[i]), Reply::Bulk(v.pop().unwrap_or_default())]),
        Ok(None) => {
            ctx.block(keys.iter().map(|k| k.to_vec()).collect(), deadline, Reply::NilArray);
            Reply::NilArray
        }
        Err(e) => e,
    }
}

fn blpop(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    bpop(ctx, argv, true)
}

fn brpop(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    bpop(ctx, argv, false)
}

fn bmove(ctx: &mut Ctx, src: &[u8], dst: &[u8], from_left: bool, to_left: bool, timeout: &[u8]) -> Reply {
    let deadline = match super::parse_timeout(timeout, ctx.now) {
        Ok(d) => d,
        Err(e) => return e,
    };
    match move_key(ctx, src, dst, from_left, to_left) {
        Ok(Some(v)) => Reply::Bulk(v),
        Ok(None) => {
            // Redis blocks on the source only, and its timeout reply is a null array.
            ctx.block(vec![src.to_vec()], deadline, Reply::NilArray);
            Reply::Nil
        }
        Err(e) => e,
    }
}

fn blmove(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let (from, to) = match (parse_where(argv[3]), parse_where(argv[4])) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    bmove(ctx, argv[1], argv[2], from, to, argv[5])
}

fn brpoplpush(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    bmove(ctx, argv[1], argv[2], false, true, argv[3])
}

fn blmpop(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let deadline = match super::parse_timeout(argv[1], ctx.now) {
        Ok(d) => d,
        Err(e) => return e,
    };
    let a = match parse_mpop(argv, 2) {
        Ok(a) => a,
        Err(e) => return e,
    };
    let keys = &argv[a.first_key..a.first_key + a.numkeys];
    match mpop_keys(ctx, keys, a.left, a.count) {
        Ok(Some((i, v))) => mpop_reply(keys[i], v),
        Ok(None) => {
            ctx.block(keys.iter().map(|k| k.to_vec()).collect(), deadline, Reply::NilArray);
            Reply::NilArray
        }
        Err(e) => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<&[u8]> {
        s.split(' ').map(|a| a.as_bytes()).collect()
    }

    #[test]
    fn mpop_arguments_parse_like_redis() {
        let a = parse_mpop(&args("lmpop 2 a b LEFT COUNT 3"), 1).unwrap();
        assert_eq!(a, MpopArgs { first_key: 2, numkeys: 2, left: true, count: 3 });
        let a = parse_mpop(&args("blmpop 0 1 a right"), 2).unwrap();
        assert_eq!(a, MpopArgs { first_key: 3, numkeys: 1, left: false, count: 1 });
        let err = |s: &str| match parse_mpop(&args(s), 1) {
            Err(Reply::Error(e)) => e,
            other => panic!("{other:?}"),
        };
        assert_eq!(err("lmpop 0 a left"), "ERR numkeys should be greater than 0");
        assert_eq!(err("lmpop x a left"), "ERR numkeys should be greater than 0");
        assert_eq!(err("lmpop 3 a left"), errors::SYNTAX);
        assert_eq!(err("lmpop 9223372036854775807 a left"), errors::SYNTAX);
        assert_eq!(err("lmpop 1 a up"), errors::SYNTAX);
        assert_eq!(err("lmpop 1 a left count 0"), "ERR count should be greater than 0");
        assert_eq!(err("lmpop 1 a left count 1 count 2"), errors::SYNTAX);
        assert_eq!(err("lmpop 1 a left count"), errors::SYNTAX);
    }

    #[test]
    fn pop_takes_from_either_end_in_pop_order() {
        let mut l = List::new();
        for e in ["a", "b", "c", "d"] {
            l.push(e.as_bytes(), false);
        }
        assert_eq!(pop(&mut l, false, 2), vec![b"d".to_vec(), b"c".to_vec()]);
        assert_eq!(pop(&mut l, true, 10), vec![b"a".to_vec(), b"b".to_vec()]);
        assert!(pop(&mut l, true, 1).is_empty());
    }
}
