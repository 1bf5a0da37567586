//! Stream commands (COMMAND DOCS group `stream`): XADD XRANGE XREVRANGE XLEN XDEL XTRIM
//! XSETID XREAD, and the id parsing and entry replies the consumer-group commands
//! (`stream_cg.rs`: XGROUP XREADGROUP XACK XPENDING XCLAIM XAUTOCLAIM XINFO) share.
//!
//! Must hold: replies and errors are Redis 7.0's byte for byte, including the order in
//! which arguments and the key are checked; a stream is never deleted for being empty;
//! ids are parsed as Redis's streamGenericParseIDOrReply does (string2ull semantics).

use super::errors::{self, WRONGTYPE};
use super::flags::*;
use super::state::EncLimits;
use super::{eq_ic, parse_int, plan_key, read_coll, Command, Ctx, ExtraSpec};
use crate::protocol::{Proto, Reply};
use crate::store::stream::{NodeLimits, Stream, StreamId, Trim};
use crate::store::Value;

const G: &str = "stream";

pub(super) const INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";

pub static COMMANDS: &[Command] = &[
    Command::new("xadd", G, -5, WRITE | DENYOOM | FAST, xadd).ev(super::notify::Ev::Fn(super::notify::xadd)).prop(super::aof::Prop::Xadd).ks("RW update").keys(1, 1, 1).notes("UPDATE instead of INSERT because of the optional trimming feature").tips("nondeterministic_output").doc("Appends a new entry to a stream", "5.0.0", "O(1) when adding a new entry, O(N) when trimming where N being the number of entries evicted.").args("key [NOMKSTREAM] [<MAXLEN | MINID> [= | ~] threshold [LIMIT count]] <* | id> field value [field value ...]"),
    Command::new("xrange", G, -4, READONLY, xrange).ks("RO access").keys(1, 1, 1).doc("Return a range of elements in a stream, with IDs matching the specified IDs interval", "5.0.0", "O(N) with N being the number of elements being returned. If N is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1).").args("key start end [COUNT count]"),
    Command::new("xrevrange", G, -4, READONLY, xrevrange).ks("RO access").keys(1, 1, 1).doc("Return a range of elements in a stream, with IDs matching the specified IDs interval, in reverse order (from greater to smaller IDs) compared to XRANGE", "5.0.0", "O(N) with N being the number of elements returned. If N is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1).").args("key end start [COUNT count]"),
    Command::new("xlen", G, 2, READONLY | FAST, xlen).ks("RO").keys(1, 1, 1).doc("Return the number of entries in a stream", "5.0.0", "O(1)").args("key"),
    Command::new("xdel", G, -3, WRITE | FAST, xdel).ev(super::notify::Ev::KeyIfReply(crate::config::events::STREAM, "xdel")).ks("RW delete").keys(1, 1, 1).doc("Removes the specified entries from the stream. Returns the number of items actually deleted, that may be different from the number of IDs passed in case certain IDs do not exist.", "5.0.0", "O(1) for each single item to delete in the stream, regardless of the stream size.").args("key id [id ...]"),
    Command::new("xtrim", G, -4, WRITE, xtrim).ev(super::notify::Ev::KeyIfReply(crate::config::events::STREAM, "xtrim")).ks("RW delete").keys(1, 1, 1).tips("nondeterministic_output").doc("Trims the stream to (approximately if '~' is passed) a certain size", "5.0.0", "O(N), with N being the number of evicted entries. Constant times are very small however, since entries are organized in macro nodes containing multiple entries that can be released with a single deallocation.").args("key <MAXLEN | MINID> [= | ~] threshold [LIMIT count]"),
    Command::new("xsetid", G, -3, WRITE | DENYOOM | FAST, xsetid).ev(super::notify::Ev::Key(crate::config::events::STREAM, "xsetid")).ks("RW update").keys(1, 1, 1).doc("An internal command for replicating stream values", "5.0.0", "O(1)").args("key last-id [ENTRIESADDED entries_added] [MAXDELETEDID max_deleted_entry_id]"),
    // Keys follow the STREAMS keyword; `xread_plan` locks them after parsing the options.
    Command::new("xread", G, -4, READONLY | BLOCKING, xread).specs(&[ExtraSpec::keyword("STREAMS", 1, -1, 2, "RO access")]).plan(xread_plan).doc("Return never seen elements in multiple streams, with IDs greater than the ones reported by the caller for each stream. Can block.", "5.0.0", "For each stream mentioned: O(N) with N being the number of elements being returned, it means that XREAD-ing with a fixed COUNT is O(1). Note that when the BLOCK option is not used, the command is synchronous, and can be considered O(1).").args("[COUNT count] [BLOCK milliseconds] STREAMS key [key ...] id [id ...]"),
];

// ---------------------------------------------------------------------------------------
// Id parsing
// ---------------------------------------------------------------------------------------

/// C's strtoull over the whole string: leading blanks, an optional sign (a minus
/// negates, wrapping), at least one digit, nothing after; None on overflow.
fn strtoull(s: &[u8]) -> Option<u64> {
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    let digits = &s[i..];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u64 = 0;
    for d in digits {
        v = v.checked_mul(10)?.checked_add((d - b'0') as u64)?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// Redis's string2ull.
fn string2ull(s: &[u8]) -> Option<u64> {
    match crate::store::parse_i64_strict(s) {
        Some(v) if v < 0 => None,
        Some(v) => Some(v as u64),
        None => strtoull(s),
    }
}

/// Redis's streamGenericParseIDOrReply. `seq_given` is Some for XADD (accepts `ms-*`);
/// it is set to false for that form.
fn parse_id_generic(
    arg: &[u8],
    missing_seq: u64,
    strict: bool,
    seq_given: Option<&mut bool>,
) -> Result<StreamId, Reply> {
    if arg.len() > 127 {
        return Err(Reply::err(INVALID_ID));
    }
    // The C code works on a NUL-terminated copy.
    let buf = match arg.iter().position(|&c| c == 0) {
        Some(p) => &arg[..p],
        None => arg,
    };
    if strict && (buf == b"-" || buf == b"+") {
        return Err(Reply::err(INVALID_ID));
    }
    let allow_star = seq_given.is_some();
    let mut star = false;
    if buf == b"-" {
        return Ok(StreamId::MIN);
    } else if buf == b"+" {
        return Ok(StreamId::MAX);
    }
    let (ms_part, seq_part) = match buf.iter().position(|&c| c == b'-') {
        Some(p) => (&buf[..p], Some(&buf[p + 1..])),
        None => (buf, None),
    };
    let ms = string2ull(ms_part).ok_or_else(|| Reply::err(INVALID_ID))?;
    let seq = match seq_part {
        Some(b"*") if allow_star => {
            star = true;
            0
        }
        Some(s) => string2ull(s).ok_or_else(|| Reply::err(INVALID_ID))?,
        None => missing_seq,
    };
    if let Some(g) = seq_given {
        *g = !star;
    }
    Ok(StreamId::new(ms, seq))
}

pub(super) fn parse_id(arg: &[u8], missing_seq: u64) -> Result<StreamId, Reply> {
    parse_id_generic(arg, missing_seq, false, None)
}

pub(super) fn parse_strict_id(arg: &[u8], missing_seq: u64) -> Result<StreamId, Reply> {
    parse_id_generic(arg, missing_seq, true, None)
}

/// Redis's streamParseIntervalIdOrReply: `(id` is exclusive (strict id after the paren).
pub(super) fn parse_interval_id(arg: &[u8], missing_seq: u64) -> Result<(StreamId, bool), Reply> {
    if arg.len() > 1 && arg[0] == b'(' {
        Ok((parse_strict_id(&arg[1..], missing_seq)?, true))
    } else {
        Ok((parse_id(arg, missing_seq)?, false))
    }
}

// ---------------------------------------------------------------------------------------
// Replies
// ---------------------------------------------------------------------------------------

pub(super) fn entry_reply(id: StreamId, fields: Vec<Vec<u8>>) -> Reply {
    Reply::Array(vec![Reply::Bulk(id.to_bytes()), Reply::Array(fields.into_iter().map(Reply::Bulk).collect())])
}

pub(super) fn range_reply(s: &Stream, start: StreamId, end: StreamId, rev: bool, count: usize) -> Reply {
    Reply::Array(s.range(start, end, rev, count).into_iter().map(|(id, f)| entry_reply(id, f)).collect())
}

/// The node limits XADD appends with (`stream-node-max-bytes/entries`).
pub(super) fn node_limits(ctx: &Ctx) -> NodeLimits {
    let e = &ctx.shared.enc;
    NodeLimits {
        max_bytes: e.stream_node_max_bytes.load(std::sync::atomic::Ordering::Relaxed),
        max_entries: EncLimits::get(&e.stream_node_max_entries) as u64,
    }
}

// ---------------------------------------------------------------------------------------
// XADD / XTRIM option parsing
// ---------------------------------------------------------------------------------------

struct AddTrimArgs {
    trim: Option<Trim>,
    approx: bool,
    /// Entries a trim may remove (0: no limit).
    limit: u64,
    nomkstream: bool,
    /// The explicit id (None for `*`) and whether its sequence was given (`ms-*`).
    id: Option<StreamId>,
    seq_given: bool,
}

/// Redis's streamParseAddOrTrimArgsOrReply: returns the parsed options and the position
/// of the id (XADD) or the end of the options (XTRIM).
fn parse_add_trim(argv: &[&[u8]], xadd: bool) -> Result<(AddTrimArgs, usize), Reply> {
    let mut a = AddTrimArgs { trim: None, approx: false, limit: 0, nomkstream: false, id: None, seq_given: true };
    let mut limit_given = false;
    let mut i = 2;
    let argc = argv.len();
    while i < argc {
        let moreargs = argc - 1 - i;
        let opt = argv[i];
        if xadd && opt == b"*" {
            break;
        } else if (eq_ic(opt, "maxlen") || eq_ic(opt, "minid")) && moreargs > 0 {
            if a.trim.is_some() {
                return Err(Reply::err(
                    "ERR syntax error, MAXLEN and MINID options at the same time are not compatible",
                ));
            }
            a.approx = false;
            let next = argv[i + 1];
            if moreargs >= 2 && next == b"~" {
                a.approx = true;
                i += 1;
            } else if moreargs >= 2 && next == b"=" {
                i += 1;
            }
            if eq_ic(opt, "maxlen") {
                let n = parse_int(argv[i + 1])?;
                if n < 0 {
                    return Err(Reply::err("ERR The MAXLEN argument must be >= 0."));
                }
                a.trim = Some(Trim::MaxLen(n as u64));
            } else {
                a.trim = Some(Trim::MinId(parse_strict_id(argv[i + 1], 0)?));
            }
            i += 1;
        } else if eq_ic(opt, "limit") && moreargs > 0 {
            let n = parse_int(argv[i + 1])?;
            if n < 0 {
                return Err(Reply::err("ERR The LIMIT argument must be >= 0."));
            }
            a.limit = n as u64;
            limit_given = true;
            i += 1;
        } else if xadd && eq_ic(opt, "nomkstream") {
            a.nomkstream = true;
        } else if xadd {
            let mut seq_given = true;
            a.id = Some(parse_id_generic(opt, 0, true, Some(&mut seq_given))?);
            a.seq_given = seq_given;
            break;
        } else {
            return Err(Reply::err(errors::SYNTAX));
        }
        i += 1;
    }
    if limit_given && a.limit != 0 && a.trim.is_none() {
        return Err(Reply::err("ERR syntax error, LIMIT cannot be used without specifying a trimming strategy"));
    }
    if !xadd && a.trim.is_none() {
        return Err(Reply::err("ERR syntax error, XTRIM must be called with a trimming strategy"));
    }
    if limit_given {
        if !a.approx {
            return Err(Reply::err("ERR syntax error, LIMIT cannot be used without the special ~ option"));
        }
    } else if a.approx {
        // 100 * stream-node-max-entries (100), capped at 10000.
        a.limit = 10000;
    } else {
        a.limit = 0;
    }
    Ok((a, i))
}

// ---------------------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------------------

fn xadd(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let (a, idpos) = match parse_add_trim(argv, true) {
        Ok(x) => x,
        Err(e) => return e,
    };
    let field_pos = idpos + 1;
    if argv.len() < field_pos + 2 || (argv.len() - field_pos) % 2 == 1 {
        return Reply::err(errors::arity(ctx.cmd.name));
    }
    if a.seq_given && a.id == Some(StreamId::MIN) {
        return Reply::err("ERR The ID specified in XADD must be greater than 0-0");
    }
    let now = ctx.now;
    let key = argv[1];
    let lim = node_limits(ctx);
    let st = ctx.stripe_mut(key);
    match st.get_mut(key, now) {
        Some(it) => {
            it.touch(now);
            if !matches!(it.val, Value::Stream(_)) {
                return Reply::err(WRONGTYPE);
            }
        }
        None if a.nomkstream => return Reply::Nil,
        None => st.set(key, Value::Stream(Box::default()), None, now),
    }
    let Some(Value::Stream(s)) = st.get_mut(key, now).map(|it| &mut it.val) else {
        unreachable!("stream just checked or created")
    };
    if s.last_id == StreamId::MAX {
        return Reply::err("ERR The stream has exhausted the last possible ID, unable to add more items");
    }
    let id = match a.id {
        Some(id) if a.seq_given => id,
        Some(id) => {
            if s.last_id.ms == id.ms {
                match s.last_id.incr().filter(|n| n.ms == id.ms) {
                    Some(n) => n,
                    None => {
                        return Reply::err(
                            "ERR The ID specified in XADD is equal or smaller than the target stream top item",
                        )
                    }
                }
            } else {
                id
            }
        }
        None => {
            let ms = now.max(0) as u64;
            if s.last_id.ms >= ms {
                // Not MAX: checked above.
                s.last_id.incr().unwrap_or(StreamId::MAX)
            } else {
                StreamId::new(ms, 0)
            }
        }
    };
    if id <= s.last_id {
        return Reply::err("ERR The ID specified in XADD is equal or smaller than the target stream top item");
    }
    s.append(id, &argv[field_pos..], lim);
    let trimmed = match a.trim {
        Some(how) => s.trim(how, a.approx, a.limit),
        None => 0,
    };
    if trimmed > 0 {
        ctx.extra_events.push((crate::config::events::STREAM, "xtrim", argv[1].to_vec()));
    }
    Reply::Bulk(id.to_bytes())
}

fn xrange(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    range_generic(ctx, argv, false)
}

fn xrevrange(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    range_generic(ctx, argv, true)
}

/// Redis's xrangeGenericCommand.
fn range_generic(ctx: &mut Ctx, argv: &[&[u8]], rev: bool) -> Reply {
    let (startarg, endarg) = if rev { (argv[3], argv[2]) } else { (argv[2], argv[3]) };
    let parsed = (|| -> Result<(StreamId, StreamId, i64), Reply> {
        let (mut start, startex) = parse_interval_id(startarg, 0)?;
        if startex {
            start = start.incr().ok_or_else(|| Reply::err("ERR invalid start ID for the interval"))?;
        }
        let (mut end, endex) = parse_interval_id(endarg, u64::MAX)?;
        if endex {
            end = end.decr().ok_or_else(|| Reply::err("ERR invalid end ID for the interval"))?;
        }
        let mut count: i64 = -1;
        let mut j = 4;
        while j < argv.len() {
            let additional = argv.len() - j - 1;
            if eq_ic(argv[j], "count") && additional >= 1 {
                count = parse_int(argv[j + 1])?.max(0);
                j += 1;
            } else {
                return Err(Reply::err(errors::SYNTAX));
            }
            j += 1;
        }
        Ok((start, end, count))
    })();
    let (start, end, count) = match parsed {
        Ok(x) => x,
        Err(e) => return e,
    };
    read_coll::<Stream>(
        ctx,
        argv[1],
        || Reply::Array(Vec::new()),
        |s| {
            if count == 0 {
                return Reply::NilArray;
            }
            let c = if count < 0 { 0 } else { count as usize };
            range_reply(s, start, end, rev, c)
        },
    )
}

fn xlen(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    read_coll::<Stream>(ctx, argv[1], || Reply::Int(0), |s| Reply::Int(s.len() as i64))
}

fn xdel(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    // Redis looks the key up (missing: 0, WRONGTYPE) before parsing the ids.
    super::write_coll::<Stream>(ctx, argv[1], Some(Reply::Int(0)), |s| {
        let mut ids = Vec::with_capacity(argv.len() - 2);
        for a in &argv[2..] {
            match parse_strict_id(a, 0) {
                Ok(id) => ids.push(id),
                Err(e) => return e,
            }
        }
        let mut deleted = 0;
        for id in ids {
            if s.delete(id) {
                if id > s.max_deleted_id {
                    s.max_deleted_id = id;
                }
                deleted += 1;
            }
        }
        Reply::Int(deleted)
    })
}

fn xtrim(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let (a, _) = match parse_add_trim(argv, false) {
        Ok(x) => x,
        Err(e) => return e,
    };
    let Some(how) = a.trim else { return Reply::err(errors::SYNTAX) };
    super::write_coll::<Stream>(
        ctx,
        argv[1],
        Some(Reply::Int(0)),
        |s| Reply::Int(s.trim(how, a.approx, a.limit) as i64),
    )
}

fn xsetid(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let id = match parse_strict_id(argv[2], 0) {
        Ok(id) => id,
        Err(e) => return e,
    };
    let mut entries_added: i64 = -1;
    let mut max_xdel = StreamId::MIN;
    let mut i = 3;
    while i < argv.len() {
        let moreargs = argv.len() - 1 - i;
        if eq_ic(argv[i], "entriesadded") && moreargs > 0 {
            match parse_int(argv[i + 1]) {
                Ok(n) if n < 0 => return Reply::err("ERR entries_added must be positive"),
                Ok(n) => entries_added = n,
                Err(e) => return e,
            }
        } else if eq_ic(argv[i], "maxdeletedid") && moreargs > 0 {
            match parse_strict_id(argv[i + 1], 0) {
                Ok(m) if id < m => {
                    return Reply::err(
                        "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                    )
                }
                Ok(m) => max_xdel = m,
                Err(e) => return e,
            }
        } else {
            return Reply::err(errors::SYNTAX);
        }
        i += 2;
    }
    super::write_coll::<Stream>(ctx, argv[1], Some(Reply::err("ERR no such key")), |s| {
        if s.has_entries() {
            if id < s.last_entry_id() {
                return Reply::err("ERR The ID specified in XSETID is smaller than the target stream top item");
            }
            if entries_added != -1 && s.len() as u64 > entries_added as u64 {
                return Reply::err(
                    "ERR The entries_added specified in XSETID is smaller than the target stream length",
                );
            }
        }
        s.last_id = id;
        if entries_added != -1 {
            s.entries_added = entries_added as u64;
        }
        if !max_xdel.is_zero() {
            s.max_deleted_id = max_xdel;
        }
        Reply::ok()
    })
}

/// Position of the first key after STREAMS, found the way XREAD's option loop does
/// (values are validated later by the handler).
fn xread_streams_pos(argv: &[&[u8]]) -> Option<usize> {
    let mut i = 1;
    while i < argv.len() {
        let moreargs = argv.len() - i - 1;
        let o = argv[i];
        if (eq_ic(o, "block") || eq_ic(o, "count")) && moreargs > 0 {
            i += 1;
        } else if eq_ic(o, "group") && moreargs >= 2 {
            i += 2;
        } else if eq_ic(o, "noack") {
        } else if eq_ic(o, "streams") && moreargs > 0 {
            return Some(i + 1);
        } else {
            return None;
        }
        i += 1;
    }
    None
}

/// Locks the keys after STREAMS (Redis's keyword key spec: first half of the rest).
pub(super) fn xread_plan(ctx: &Ctx, argv: &[&[u8]], out: &mut Vec<(usize, usize)>) {
    let Some(pos) = xread_streams_pos(argv) else { return };
    let rest = argv.len() - pos;
    if rest % 2 != 0 {
        return;
    }
    let db = ctx.session.db;
    for k in &argv[pos..pos + rest / 2] {
        out.push(plan_key(ctx, db, k));
    }
}

/// XREAD / XREADGROUP options (Redis's xreadCommand option loop).
pub(super) struct ReadArgs<'a> {
    /// 0: no limit.
    pub count: i64,
    /// BLOCK milliseconds (0: forever).
    pub block: Option<i64>,
    /// GROUP name and consumer (XREADGROUP).
    pub group: Option<(&'a [u8], &'a [u8])>,
    pub noack: bool,
    pub keys: &'a [&'a [u8]],
    pub ids: &'a [&'a [u8]],
}

/// Redis's XREAD/XREADGROUP option parsing, with its errors in its order.
pub(super) fn parse_read_args<'a>(ctx: &Ctx, argv: &'a [&'a [u8]], xreadgroup: bool) -> Result<ReadArgs<'a>, Reply> {
    let mut a = ReadArgs { count: 0, block: None, group: None, noack: false, keys: &[], ids: &[] };
    let mut streams_arg = 0;
    let mut i = 1;
    while i < argv.len() {
        let moreargs = argv.len() - i - 1;
        let o = argv[i];
        if eq_ic(o, "block") && moreargs > 0 {
            i += 1;
            // Redis's getTimeoutFromObjectOrReply in milliseconds.
            match crate::store::parse_i64_strict(argv[i]) {
                None => return Err(Reply::err("ERR timeout is not an integer or out of range")),
                Some(t) if t < 0 => return Err(Reply::err("ERR timeout is negative")),
                Some(t) if t > 0 && t > i64::MAX - ctx.now => return Err(Reply::err("ERR timeout is out of range")),
                Some(t) => a.block = Some(t),
            }
        } else if eq_ic(o, "count") && moreargs > 0 {
            i += 1;
            a.count = parse_int(argv[i])?.max(0);
        } else if eq_ic(o, "streams") && moreargs > 0 {
            streams_arg = i + 1;
            if (argv.len() - streams_arg) % 2 != 0 {
                return Err(Reply::err(
                    "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.",
                ));
            }
            break;
        } else if eq_ic(o, "group") && moreargs >= 2 {
            if !xreadgroup {
                return Err(Reply::err(
                    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            a.group = Some((argv[i + 1], argv[i + 2]));
            i += 2;
        } else if eq_ic(o, "noack") {
            if !xreadgroup {
                return Err(Reply::err(
                    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            a.noack = true;
        } else {
            return Err(Reply::err(errors::SYNTAX));
        }
        i += 1;
    }
    if streams_arg == 0 {
        return Err(Reply::err(errors::SYNTAX));
    }
    if xreadgroup && a.group.is_none() {
        return Err(Reply::err("ERR Missing GROUP option for XREADGROUP"));
    }
    let n = (argv.len() - streams_arg) / 2;
    a.keys = &argv[streams_arg..streams_arg + n];
    a.ids = &argv[streams_arg + n..];
    Ok(a)
}

/// Wraps per-stream replies: `[[key, entries], ...]` in RESP2, a map in RESP3.
pub(super) fn streams_reply(ctx: &Ctx, out: Vec<(Reply, Reply)>) -> Reply {
    match ctx.proto() {
        Proto::Resp2 => Reply::Array(out.into_iter().map(|(k, v)| Reply::Array(vec![k, v])).collect()),
        _ => Reply::Map(out),
    }
}

/// Redis's XREAD_BLOCKED_DEFAULT_COUNT: the COUNT a blocked read without one is served with.
pub(super) const BLOCKED_DEFAULT_COUNT: i64 = 1000;

fn xread(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let a = match parse_read_args(ctx, argv, false) {
        Ok(a) => a,
        Err(e) => return e,
    };
    let (keys, count) = (a.keys, a.count);
    let mut ids: Vec<StreamId> = Vec::with_capacity(keys.len());
    for (k, arg) in keys.iter().zip(a.ids) {
        let now = ctx.now;
        let last = match ctx.get(k) {
            None => None,
            Some(it) => {
                it.touch(now);
                match &it.val {
                    Value::Stream(s) => Some(s.last_id),
                    // A parked client whose key was replaced keeps waiting, as in Redis.
                    _ if ctx.session.serving_block => None,
                    _ => return Reply::err(WRONGTYPE),
                }
            }
        };
        if *arg == b"$" {
            ids.push(last.unwrap_or_default());
            continue;
        } else if *arg == b">" {
            return Reply::err(
                "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.",
            );
        }
        match parse_strict_id(arg, 0) {
            Ok(id) => ids.push(id),
            Err(e) => return e,
        }
    }
    let mut out: Vec<(Reply, Reply)> = Vec::new();
    for (k, &gt) in keys.iter().zip(&ids) {
        let found = ctx.get(k).is_some();
        ctx.hit(found);
        let Some(Value::Stream(s)) = ctx.get(k).map(|it| &it.val) else { continue };
        if !s.has_entries() || s.last_entry_id() <= gt {
            continue;
        }
        let Some(start) = gt.incr() else { continue };
        out.push((Reply::Bulk(k.to_vec()), range_reply(s, start, StreamId::MAX, false, count as usize)));
    }
    if !out.is_empty() {
        return streams_reply(ctx, out);
    }
    if let Some(ms) = a.block {
        // Park on the keys. The re-run uses the IDs resolved now, so `$` keeps meaning
        // "entries added after the block started" (the deadline stays the original one).
        let deadline = (ms > 0).then(|| ctx.now + ms);
        let count = if count > 0 { count } else { BLOCKED_DEFAULT_COUNT };
        let mut re: Vec<Vec<u8>> = vec![b"XREAD".to_vec(), b"COUNT".to_vec(), count.to_string().into_bytes()];
        re.push(b"BLOCK".to_vec());
        re.push(ms.to_string().into_bytes());
        re.push(b"STREAMS".to_vec());
        re.extend(keys.iter().map(|k| k.to_vec()));
        re.extend(ids.iter().map(|id| id.to_bytes()));
        ctx.block_rewritten(keys.iter().map(|k| k.to_vec()).collect(), deadline, Reply::NilArray, re);
    }
    Reply::NilArray
}
