//! Stream consumer-group commands (COMMAND DOCS group `stream`): XGROUP (CREATE SETID
//! DESTROY CREATECONSUMER DELCONSUMER HELP), XREADGROUP, XACK, XPENDING, XCLAIM,
//! XAUTOCLAIM, XINFO (STREAM [FULL] GROUPS CONSUMERS HELP). The group state itself
//! (PELs, consumers, read counters) lives in `store::stream`.
//!
//! Must hold: replies and errors are Redis 7.0's byte for byte, including the order in
//! which arguments, the key and the group are checked; an entry is pending for at most one
//! consumer; XREADGROUP `>` delivers each entry to one consumer only (the key's stripe is
//! write-locked for the whole command, so concurrent readers of a group serialize);
//! a blocked XREADGROUP whose group is destroyed gets Redis's NOGROUP error.

use super::connection::help_reply;
use super::errors::{self, WRONGTYPE};
use super::flags::*;
use super::stream::{
    entry_reply, parse_id, parse_interval_id, parse_read_args, parse_strict_id, range_reply, streams_reply, xread_plan,
    BLOCKED_DEFAULT_COUNT,
};
use super::{eq_ic, parse_int, Command, Ctx, ExtraSpec};
use crate::protocol::Reply;
use crate::store::stream::{Group, Stream, StreamId, INVALID_ENTRIES_READ};
use crate::store::Value;

const G: &str = "stream";

pub static COMMANDS: &[Command] = &[
    Command::container("xgroup", G, XGROUP_SUBS).doc("A container for consumer groups commands", "5.0.0", "Depends on subcommand."),
    // Keys follow the STREAMS keyword; `xread_plan` locks them after parsing the options.
    Command::new("xreadgroup", G, -7, WRITE | BLOCKING, xreadgroup).prop(super::aof::Prop::State).specs(&[ExtraSpec::keyword("STREAMS", 4, -1, 2, "RO access")]).plan(xread_plan).doc("Return new entries from a stream using a consumer group, or access the history of the pending entries for a given consumer. Can block.", "5.0.0", "For each stream mentioned: O(M) with M being the number of elements returned. If M is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1). On the other side when XREADGROUP blocks, XADD will pay the O(N) time in order to serve the N clients blocked on the stream getting new data.").args("GROUP group consumer [COUNT count] [BLOCK milliseconds] [NOACK] STREAMS key [key ...] id [id ...]"),
    Command::new("xack", G, -4, WRITE | FAST, xack).ks("RW update").keys(1, 1, 1).doc("Marks a pending message as correctly processed, effectively removing it from the pending entries list of the consumer group. Return value of the command is the number of messages successfully acknowledged, that is, the IDs we were actually able to resolve in the PEL.", "5.0.0", "O(1) for each message ID processed.").args("key group id [id ...]"),
    Command::new("xpending", G, -3, READONLY, xpending).ks("RO access").keys(1, 1, 1).tips("nondeterministic_output").doc("Return information and entries from a stream consumer group pending entries list, that are messages fetched but never acknowledged.", "5.0.0", "O(N) with N being the number of elements returned, so asking for a small fixed number of entries per call is O(1). O(M), where M is the total number of entries scanned when used with the IDLE filter. When the command returns just the summary and the list of consumers is small, it runs in O(1) time; otherwise, an additional O(N) time for iterating every consumer.").args("key group [[IDLE min-idle-time] start end count [consumer]]"),
    Command::new("xclaim", G, -6, WRITE | FAST, xclaim).prop(super::aof::Prop::State).ks("RW update").keys(1, 1, 1).tips("nondeterministic_output").doc("Changes (or acquires) ownership of a message in a consumer group, as if the message was delivered to the specified consumer.", "5.0.0", "O(log N) with N being the number of messages in the PEL of the consumer group.").args("key group consumer min-idle-time id [id ...] [IDLE ms] [TIME unix-time-milliseconds] [RETRYCOUNT count] [FORCE] [JUSTID] [LASTID id]"),
    Command::new("xautoclaim", G, -6, WRITE | FAST, xautoclaim).prop(super::aof::Prop::State).ks("RW delete").keys(1, 1, 1).tips("nondeterministic_output").doc("Changes (or acquires) ownership of messages in a consumer group, as if the messages were delivered to the specified consumer.", "6.2.0", "O(1) if COUNT is small.").args("key group consumer min-idle-time start [COUNT count] [JUSTID]"),
    Command::container("xinfo", G, XINFO_SUBS).doc("A container for stream introspection commands", "5.0.0", "Depends on subcommand."),
];

static XGROUP_SUBS: &[Command] = &[
    Command::new("xgroup|create", G, -5, WRITE | DENYOOM, xgroup)
        .ev(super::notify::Ev::Key(crate::config::events::STREAM, "xgroup-create"))
        .ks("RW insert")
        .keys(2, 2, 1)
        .doc("Create a consumer group.", "5.0.0", "O(1)")
        .args("key group <id | $> [MKSTREAM] [ENTRIESREAD entries_read]"),
    Command::new("xgroup|setid", G, -5, WRITE, xgroup)
        .ev(super::notify::Ev::Key(crate::config::events::STREAM, "xgroup-setid"))
        .ks("RW update")
        .keys(2, 2, 1)
        .doc("Set a consumer group to an arbitrary last delivered ID value.", "5.0.0", "O(1)")
        .args("key group <id | $> [ENTRIESREAD entries_read]"),
    Command::new("xgroup|destroy", G, 4, WRITE, xgroup)
        .ev(super::notify::Ev::KeyIfReply(crate::config::events::STREAM, "xgroup-destroy"))
        .ks("RW delete")
        .keys(2, 2, 1)
        .doc(
            "Destroy a consumer group.",
            "5.0.0",
            "O(N) where N is the number of entries in the group's pending entries list (PEL).",
        )
        .args("key group"),
    Command::new("xgroup|createconsumer", G, 5, WRITE | DENYOOM, xgroup)
        .ev(super::notify::Ev::KeyIfReply(crate::config::events::STREAM, "xgroup-createconsumer"))
        .ks("RW insert")
        .keys(2, 2, 1)
        .doc("Create a consumer in a consumer group.", "6.2.0", "O(1)")
        .args("key group consumer"),
    Command::new("xgroup|delconsumer", G, 5, WRITE, xgroup)
        .ev(super::notify::Ev::Key(crate::config::events::STREAM, "xgroup-delconsumer"))
        .ks("RW delete")
        .keys(2, 2, 1)
        .doc("Delete a consumer from a consumer group.", "5.0.0", "O(1)")
        .args("key group consumer"),
    Command::new("xgroup|help", G, 2, LOADING | STALE, xgroup_help).doc(
        "Show helpful text about the different subcommands",
        "5.0.0",
        "O(1)",
    ),
];

static XINFO_SUBS: &[Command] = &[
    Command::new("xinfo|consumers", G, 4, READONLY, xinfo)
        .ks("RO access")
        .keys(2, 2, 1)
        .tips("nondeterministic_output")
        .doc("List the consumers in a consumer group", "5.0.0", "O(1)")
        .args("key group"),
    Command::new("xinfo|groups", G, 3, READONLY, xinfo)
        .ks("RO access")
        .keys(2, 2, 1)
        .doc("List the consumer groups of a stream", "5.0.0", "O(1)")
        .args("key"),
    Command::new("xinfo|stream", G, -3, READONLY, xinfo)
        .ks("RO access")
        .keys(2, 2, 1)
        .doc("Get information about a stream", "5.0.0", "O(1)")
        .args("key [FULL [COUNT count]]"),
    Command::new("xinfo|help", G, 2, LOADING | STALE, xinfo_help).doc(
        "Show helpful text about the different subcommands",
        "5.0.0",
        "O(1)",
    ),
];

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn text(b: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(b)
}

/// Redis's addReplySubcommandSyntaxError.
fn subcommand_syntax(argv: &[&[u8]]) -> Reply {
    Reply::Error(super::errors::subcommand_syntax(argv))
}

fn nogroup(key: &[u8], group: &[u8]) -> Reply {
    Reply::err(format!("NOGROUP No such key '{}' or consumer group '{}'", text(key), text(group)))
}

fn nogroup_for_key(key: &[u8], group: &[u8]) -> Reply {
    Reply::err(format!("NOGROUP No such consumer group '{}' for key name '{}'", text(group), text(key)))
}

fn id_reply(id: StreamId) -> Reply {
    Reply::Bulk(id.to_bytes())
}

/// The stream at `key` for writing: Ok(None) when missing, Err on a wrong type.
fn stream_mut<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<Option<&'c mut Stream>, Reply> {
    let now = ctx.now;
    match ctx.stripe_mut(key).get_mut(key, now) {
        None => Ok(None),
        Some(it) => {
            it.touch(now);
            match &mut it.val {
                Value::Stream(s) => Ok(Some(s)),
                _ => Err(Reply::err(WRONGTYPE)),
            }
        }
    }
}

/// The stream at `key` for reading: Ok(None) when missing, Err on a wrong type.
fn stream_ref<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<Option<&'c Stream>, Reply> {
    let now = ctx.now;
    let found = ctx.get(key).is_some();
    ctx.hit(found);
    match ctx.get(key) {
        None => Ok(None),
        Some(it) => {
            it.touch(now);
            match &it.val {
                Value::Stream(s) => Ok(Some(s)),
                _ => Err(Reply::err(WRONGTYPE)),
            }
        }
    }
}

/// The entry `id` as XCLAIM / XAUTOCLAIM emit it (a null if it is gone).
fn claimed_entry(s: &Stream, id: StreamId) -> Reply {
    match s.get(id) {
        Some(f) => entry_reply(id, f),
        None => Reply::Nil,
    }
}

fn entries_read_reply(g: &Group) -> Reply {
    if g.entries_read != INVALID_ENTRIES_READ {
        Reply::Int(g.entries_read)
    } else {
        Reply::Nil
    }
}

fn lag_reply(s: &Stream, g: &Group) -> Reply {
    s.group_lag(g).map_or(Reply::Nil, Reply::Int)
}

fn field(name: &str) -> Reply {
    Reply::Bulk(name.as_bytes().to_vec())
}

// ---------------------------------------------------------------------------------------
// XGROUP
// ---------------------------------------------------------------------------------------

/// Redis's xgroupCommand: every subcommand but HELP.
fn xgroup(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    match xgroup_inner(ctx, argv) {
        Ok(r) | Err(r) => r,
    }
}

fn xgroup_inner(ctx: &mut Ctx, argv: &[&[u8]]) -> Result<Reply, Reply> {
    let opt = argv[1];
    let argc = argv.len();
    let mut mkstream = false;
    let mut entries_read = INVALID_ENTRIES_READ;
    if eq_ic(opt, "create") && argc >= 6 {
        let mut i = 5;
        while i < argc {
            if eq_ic(argv[i], "mkstream") {
                mkstream = true;
                i += 1;
            } else if eq_ic(argv[i], "entriesread") && i + 1 < argc {
                entries_read = parse_int(argv[i + 1])?;
                if entries_read < 0 && entries_read != INVALID_ENTRIES_READ {
                    return Err(Reply::err("ERR value for ENTRIESREAD must be positive or -1"));
                }
                i += 2;
            } else {
                return Err(subcommand_syntax(argv));
            }
        }
    }
    let (key, gname) = (argv[2], argv[3]);
    let now = ctx.now;
    let exists = stream_mut(ctx, key)?.is_some();
    if !mkstream && !exists {
        return Err(Reply::err(
            "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.",
        ));
    }
    let has_group = stream_mut(ctx, key)?.is_some_and(|s| s.groups.contains_key(gname));
    if !has_group && (eq_ic(opt, "setid") || eq_ic(opt, "createconsumer") || eq_ic(opt, "delconsumer")) {
        return Err(nogroup_for_key(key, gname));
    }
    if eq_ic(opt, "create") && (5..=8).contains(&argc) {
        let id = if argv[4] == b"$" {
            stream_mut(ctx, key)?.map_or(StreamId::MIN, |s| s.last_id)
        } else {
            parse_strict_id(argv[4], 0)?
        };
        if !exists {
            ctx.stripe_mut(key).set(key, Value::Stream(Box::default()), None, now);
        }
        let Some(s) = stream_mut(ctx, key)? else { unreachable!("stream exists or was just created") };
        if s.groups.contains_key(gname) {
            return Err(Reply::err("BUSYGROUP Consumer Group name already exists"));
        }
        s.groups.insert(gname.to_vec(), Group::new(id, entries_read));
        Ok(Reply::ok())
    } else if eq_ic(opt, "setid") && (argc == 5 || argc == 7) {
        let last = stream_mut(ctx, key)?.map_or(StreamId::MIN, |s| s.last_id);
        let id = if argv[4] == b"$" { last } else { parse_id(argv[4], 0)? };
        if argc == 7 {
            if !eq_ic(argv[5], "entriesread") {
                return Err(subcommand_syntax(argv));
            }
            entries_read = parse_int(argv[6])?;
            if entries_read < 0 && entries_read != INVALID_ENTRIES_READ {
                return Err(Reply::err("ERR value for ENTRIESREAD must be positive or -1"));
            }
        }
        if let Some(g) = stream_mut(ctx, key)?.and_then(|s| s.groups.get_mut(gname)) {
            g.last_id = id;
            g.entries_read = entries_read;
        }
        Ok(Reply::ok())
    } else if eq_ic(opt, "destroy") && argc == 4 {
        let removed = stream_mut(ctx, key)?.is_some_and(|s| s.groups.remove(gname).is_some());
        Ok(Reply::Int(removed as i64))
    } else if eq_ic(opt, "createconsumer") && argc == 5 {
        let created = stream_mut(ctx, key)?
            .and_then(|s| s.groups.get_mut(gname))
            .is_some_and(|g| g.create_consumer(argv[4], now));
        Ok(Reply::Int(created as i64))
    } else if eq_ic(opt, "delconsumer") && argc == 5 {
        let pending =
            stream_mut(ctx, key)?.and_then(|s| s.groups.get_mut(gname)).and_then(|g| g.delete_consumer(argv[4]));
        ctx.changed_hint = Some(pending.is_some());
        Ok(Reply::Int(pending.unwrap_or(0) as i64))
    } else {
        Err(subcommand_syntax(argv))
    }
}

fn xgroup_help(_: &mut Ctx, _: &[&[u8]]) -> Reply {
    help_reply(
        "XGROUP",
        &[
            "CREATE <key> <groupname> <id|$> [option]",
            "    Create a new consumer group. Options are:",
            "    * MKSTREAM",
            "      Create the empty stream if it does not exist.",
            "    * ENTRIESREAD entries_read",
            "      Set the group's entries_read counter (internal use).",
            "CREATECONSUMER <key> <groupname> <consumer>",
            "    Create a new consumer in the specified group.",
            "DELCONSUMER <key> <groupname> <consumer>",
            "    Remove the specified consumer.",
            "DESTROY <key> <groupname>",
            "    Remove the specified group.",
            "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
            "    Set the current group ID and entries_read counter.",
        ],
    )
}

// ---------------------------------------------------------------------------------------
// XREADGROUP
// ---------------------------------------------------------------------------------------

/// Redis's xreadCommand with GROUP: `>` delivers new entries (and records them as pending
/// unless NOACK); any other id replays the consumer's own pending entries after it.
fn xreadgroup(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let a = match parse_read_args(ctx, argv, true) {
        Ok(a) => a,
        Err(e) => return e,
    };
    let Some((gname, cname)) = a.group else { return Reply::err(errors::SYNTAX) };
    let serving = ctx.session.serving_block;
    // Validate every key, group and id first (None: `>`).
    let mut ids: Vec<Option<StreamId>> = Vec::with_capacity(a.keys.len());
    for (k, arg) in a.keys.iter().zip(a.ids) {
        let has_group = match stream_mut(ctx, k) {
            // Serving a parked client: the key was deleted or replaced (Redis 7.0
            // unblocks XREADGROUP clients with this error).
            Err(_) | Ok(None) if serving => return Reply::err("UNBLOCKED the stream key no longer exists"),
            Err(e) => return e,
            Ok(None) => None,
            Ok(Some(s)) => Some(s.groups.contains_key(gname)),
        };
        match has_group {
            // A destroyed group is reported the way Redis's serve path reports it.
            Some(false) if serving => {
                return Reply::err("NOGROUP the consumer group this client was blocked on no longer exists")
            }
            Some(true) => {}
            _ => {
                return Reply::err(format!(
                    "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
                    text(k),
                    text(gname)
                ))
            }
        }
        if *arg == b"$" {
            return Reply::err("ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.");
        } else if *arg == b">" {
            ids.push(None);
            continue;
        }
        match parse_strict_id(arg, 0) {
            // The maximum id is how Redis represents `>`.
            Ok(StreamId::MAX) => ids.push(None),
            Ok(id) => ids.push(Some(id)),
            Err(e) => return e,
        }
    }
    let now = ctx.now;
    let count = a.count as usize;
    let mut out: Vec<(Reply, Reply)> = Vec::new();
    let mut created_in: Vec<Vec<u8>> = Vec::new();
    for (k, id) in a.keys.iter().zip(&ids) {
        let Ok(Some(s)) = stream_mut(ctx, k) else { continue };
        let Some(g) = s.groups.get_mut(gname) else { continue };
        if !g.consumers.contains_key(cname) {
            created_in.push(k.to_vec());
        }
        g.consumer(cname, now, true);
        match *id {
            Some(after) => {
                // History: the consumer's pending entries after `after` (Redis's
                // streamIncrID turns the maximum id into 0-0).
                let start = after.incr().unwrap_or(StreamId::MIN);
                let pending: Vec<StreamId> = g.consumers[cname]
                    .pel
                    .range(start..)
                    .take(if count == 0 { usize::MAX } else { count })
                    .copied()
                    .collect();
                let mut entries = Vec::with_capacity(pending.len());
                for pid in pending {
                    match s.get(pid) {
                        Some(f) => {
                            if let Some(n) = s.groups.get_mut(gname).and_then(|g| g.pel.get_mut(&pid)) {
                                n.delivery_time = now;
                                n.delivery_count += 1;
                            }
                            entries.push(entry_reply(pid, f));
                        }
                        None => entries.push(Reply::Array(vec![id_reply(pid), Reply::NilArray])),
                    }
                }
                out.push((Reply::Bulk(k.to_vec()), Reply::Array(entries)));
            }
            None => {
                let last = g.last_id;
                if !s.has_entries() || s.last_entry_id() <= last {
                    continue;
                }
                let Some(start) = last.incr() else { continue };
                let entries = s.range(start, StreamId::MAX, false, count);
                let mut replies = Vec::with_capacity(entries.len());
                for (eid, f) in entries {
                    s.advance_group(gname, eid);
                    if !a.noack {
                        if let Some(g) = s.groups.get_mut(gname) {
                            g.deliver(eid, cname, now);
                        }
                    }
                    replies.push(entry_reply(eid, f));
                }
                out.push((Reply::Bulk(k.to_vec()), Reply::Array(replies)));
            }
        }
    }
    for k in created_in {
        ctx.extra_events.push((crate::config::events::STREAM, "xgroup-createconsumer", k));
    }
    if !out.is_empty() {
        return streams_reply(ctx, out);
    }
    if let Some(ms) = a.block {
        let deadline = (ms > 0).then(|| ctx.now + ms);
        let keys: Vec<&[u8]> = a.keys.to_vec();
        let re = rewrite((gname, cname), a.count, a.noack, ms, &keys, a.ids);
        ctx.block_rewritten(keys.iter().map(|k| k.to_vec()).collect(), deadline, Reply::NilArray, re);
    }
    Reply::NilArray
}

/// The XREADGROUP a parked client re-runs: as given, with Redis's default COUNT for
/// blocked reads.
fn rewrite(group: (&[u8], &[u8]), count: i64, noack: bool, ms: i64, keys: &[&[u8]], ids: &[&[u8]]) -> Vec<Vec<u8>> {
    let count = if count > 0 { count } else { BLOCKED_DEFAULT_COUNT };
    let mut re: Vec<Vec<u8>> = vec![b"XREADGROUP".to_vec(), b"GROUP".to_vec(), group.0.to_vec(), group.1.to_vec()];
    re.push(b"COUNT".to_vec());
    re.push(count.to_string().into_bytes());
    if noack {
        re.push(b"NOACK".to_vec());
    }
    re.push(b"BLOCK".to_vec());
    re.push(ms.to_string().into_bytes());
    re.push(b"STREAMS".to_vec());
    re.extend(keys.iter().map(|k| k.to_vec()));
    re.extend(ids.iter().map(|k| k.to_vec()));
    re
}

// ---------------------------------------------------------------------------------------
// XACK XPENDING
// ---------------------------------------------------------------------------------------

fn xack(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let (key, gname) = (argv[1], argv[2]);
    match stream_mut(ctx, key) {
        Err(e) => return e,
        Ok(Some(s)) if s.groups.contains_key(gname) => {}
        Ok(_) => return Reply::Int(0),
    }
    let mut ids = Vec::with_capacity(argv.len() - 3);
    for a in &argv[3..] {
        match parse_strict_id(a, 0) {
            Ok(id) => ids.push(id),
            Err(e) => return e,
        }
    }
    let Ok(Some(s)) = stream_mut(ctx, key) else { return Reply::Int(0) };
    let Some(g) = s.groups.get_mut(gname) else { return Reply::Int(0) };
    Reply::Int(ids.into_iter().filter(|id| g.ack(*id)).count() as i64)
}

fn xpending(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    match xpending_inner(ctx, argv) {
        Ok(r) | Err(r) => r,
    }
}

fn xpending_inner(ctx: &mut Ctx, argv: &[&[u8]]) -> Result<Reply, Reply> {
    let argc = argv.len();
    let justinfo = argc == 3;
    let (key, gname) = (argv[1], argv[2]);
    if argc != 3 && !(6..=9).contains(&argc) {
        return Err(Reply::err(errors::SYNTAX));
    }
    let mut range = None;
    if argc >= 6 {
        let mut startidx = 3;
        let mut minidle = 0;
        if eq_ic(argv[3], "idle") {
            minidle = parse_int(argv[4])?;
            if argc < 8 {
                return Err(Reply::err(errors::SYNTAX));
            }
            startidx += 2;
        }
        let count = parse_int(argv[startidx + 2])?.max(0);
        let (mut start, startex) = parse_interval_id(argv[startidx], 0)?;
        if startex {
            start = start.incr().ok_or_else(|| Reply::err("ERR invalid start ID for the interval"))?;
        }
        let (mut end, endex) = parse_interval_id(argv[startidx + 1], u64::MAX)?;
        if endex {
            end = end.decr().ok_or_else(|| Reply::err("ERR invalid end ID for the interval"))?;
        }
        let consumer = argv.get(startidx + 3).copied();
        range = Some((start, end, count, minidle, consumer));
    }
    let now = ctx.now;
    let s = match stream_ref(ctx, key)? {
        Some(s) if s.groups.contains_key(gname) => s,
        _ => return Err(nogroup(key, gname)),
    };
    let g = &s.groups[gname];
    if justinfo {
        let (Some(first), Some(last)) = (g.pel.keys().next(), g.pel.keys().next_back()) else {
            return Ok(Reply::Array(vec![Reply::Int(0), Reply::Nil, Reply::Nil, Reply::NilArray]));
        };
        let consumers: Vec<Reply> = g
            .consumers
            .iter()
            .filter(|(_, c)| !c.pel.is_empty())
            .map(|(n, c)| Reply::Array(vec![Reply::Bulk(n.clone()), Reply::Bulk(c.pel.len().to_string().into_bytes())]))
            .collect();
        return Ok(Reply::Array(vec![
            Reply::Int(g.pel.len() as i64),
            id_reply(*first),
            id_reply(*last),
            Reply::Array(consumers),
        ]));
    }
    let Some((start, end, mut count, minidle, consumer)) = range else { return Err(Reply::err(errors::SYNTAX)) };
    let ids: Box<dyn Iterator<Item = StreamId>> = match consumer {
        Some(c) => match g.consumers.get(c) {
            None => return Ok(Reply::Array(Vec::new())),
            Some(c) => Box::new(c.pel.range(start..).copied()),
        },
        None => Box::new(g.pel.range(start..).map(|(k, _)| *k)),
    };
    let mut out = Vec::new();
    for id in ids {
        if count == 0 || id > end {
            break;
        }
        let Some(n) = g.pel.get(&id) else { continue };
        if minidle != 0 && now - n.delivery_time < minidle {
            continue;
        }
        count -= 1;
        out.push(Reply::Array(vec![
            id_reply(id),
            Reply::Bulk(n.consumer.clone()),
            Reply::Int((now - n.delivery_time).max(0)),
            Reply::Int(n.delivery_count as i64),
        ]));
    }
    Ok(Reply::Array(out))
}

// ---------------------------------------------------------------------------------------
// XCLAIM XAUTOCLAIM
// ---------------------------------------------------------------------------------------

/// Parses an integer option the way getLongLongFromObjectOrReply with a message does.
fn int_or(arg: &[u8], msg: &str) -> Result<i64, Reply> {
    crate::store::parse_i64_strict(arg).ok_or_else(|| Reply::err(format!("ERR {msg}")))
}

fn xclaim(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    match xclaim_inner(ctx, argv) {
        Ok(r) | Err(r) => r,
    }
}

fn xclaim_inner(ctx: &mut Ctx, argv: &[&[u8]]) -> Result<Reply, Reply> {
    let (key, gname, cname) = (argv[1], argv[2], argv[3]);
    match stream_mut(ctx, key)? {
        Some(s) if s.groups.contains_key(gname) => {}
        _ => return Err(nogroup(key, gname)),
    }
    let minidle = int_or(argv[4], "Invalid min-idle-time argument for XCLAIM")?.max(0);
    let mut ids = Vec::new();
    let mut j = 5;
    while j < argv.len() {
        match parse_strict_id(argv[j], 0) {
            Ok(id) => ids.push(id),
            Err(_) => break,
        }
        j += 1;
    }
    let now = ctx.now;
    let (mut force, mut justid) = (false, false);
    let mut retrycount: i64 = -1;
    let mut deliverytime: i64 = -1;
    let mut last_id = StreamId::MIN;
    while j < argv.len() {
        let moreargs = argv.len() - 1 - j;
        let opt = argv[j];
        if eq_ic(opt, "force") {
            force = true;
        } else if eq_ic(opt, "justid") {
            justid = true;
        } else if eq_ic(opt, "idle") && moreargs > 0 {
            j += 1;
            deliverytime = now - int_or(argv[j], "Invalid IDLE option argument for XCLAIM")?;
        } else if eq_ic(opt, "time") && moreargs > 0 {
            j += 1;
            deliverytime = int_or(argv[j], "Invalid TIME option argument for XCLAIM")?;
        } else if eq_ic(opt, "retrycount") && moreargs > 0 {
            j += 1;
            retrycount = int_or(argv[j], "Invalid RETRYCOUNT option argument for XCLAIM")?;
        } else if eq_ic(opt, "lastid") && moreargs > 0 {
            j += 1;
            last_id = parse_strict_id(argv[j], 0)?;
        } else {
            return Err(Reply::err(format!("ERR Unrecognized XCLAIM option '{}'", text(opt))));
        }
        j += 1;
    }
    let Some(s) = stream_mut(ctx, key)? else { return Err(nogroup(key, gname)) };
    if let Some(g) = s.groups.get_mut(gname) {
        if last_id > g.last_id {
            g.last_id = last_id;
        }
    }
    if deliverytime != -1 {
        if deliverytime < 0 || deliverytime > now {
            deliverytime = now;
        }
    } else {
        deliverytime = now;
    }
    let mut out = Vec::new();
    let mut consumer_ready = false;
    let mut created = false;
    for id in ids {
        let exists = s.contains(id);
        let Some(g) = s.groups.get_mut(gname) else { break };
        if !exists {
            // The entry is gone: drop it from the PELs.
            g.ack(id);
            continue;
        }
        let pending = g.pel.get(&id).map(|n| (n.consumer.is_empty(), n.delivery_time));
        let forced = force && pending.is_none();
        if pending.is_none() && !forced {
            continue;
        }
        if let Some((ownerless, t)) = pending {
            if !ownerless && minidle != 0 && now - t < minidle {
                continue;
            }
        }
        if !consumer_ready {
            if !g.consumers.contains_key(cname) {
                created = true;
            }
            g.consumer(cname, now, true);
            consumer_ready = true;
        }
        let n = g.assign(id, cname, now);
        n.delivery_time = deliverytime;
        if retrycount >= 0 {
            n.delivery_count = retrycount as u64;
        } else if !justid {
            n.delivery_count += 1;
        }
        out.push(if justid { id_reply(id) } else { claimed_entry(s, id) });
    }
    if created {
        ctx.extra_events.push((crate::config::events::STREAM, "xgroup-createconsumer", argv[1].to_vec()));
    }
    Ok(Reply::Array(out))
}

fn xautoclaim(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    match xautoclaim_inner(ctx, argv) {
        Ok(r) | Err(r) => r,
    }
}

fn xautoclaim_inner(ctx: &mut Ctx, argv: &[&[u8]]) -> Result<Reply, Reply> {
    let (key, gname, cname) = (argv[1], argv[2], argv[3]);
    let minidle = int_or(argv[4], "Invalid min-idle-time argument for XAUTOCLAIM")?.max(0);
    let (mut start, startex) = parse_interval_id(argv[5], 0)?;
    if startex {
        start = start.incr().ok_or_else(|| Reply::err("ERR invalid start ID for the interval"))?;
    }
    let mut count: i64 = 100;
    let mut justid = false;
    let mut j = 6;
    while j < argv.len() {
        let moreargs = argv.len() - 1 - j;
        if eq_ic(argv[j], "count") && moreargs > 0 {
            // LONG_MAX / max(sizeof(streamID), attempts_factor)
            let max = i64::MAX / 16;
            count = match crate::store::parse_i64_strict(argv[j + 1]) {
                Some(c) if (1..=max).contains(&c) => c,
                _ => return Err(Reply::err("ERR COUNT must be > 0")),
            };
            j += 1;
        } else if eq_ic(argv[j], "justid") {
            justid = true;
        } else {
            return Err(Reply::err(errors::SYNTAX));
        }
        j += 1;
    }
    let now = ctx.now;
    let s = match stream_mut(ctx, key)? {
        Some(s) if s.groups.contains_key(gname) => s,
        _ => return Err(nogroup(key, gname)),
    };
    let mut attempts = count * 10;
    let mut cursor = Some(start);
    let mut out = Vec::new();
    let mut deleted = Vec::new();
    let mut consumer_ready = false;
    let mut created = false;
    while attempts > 0 && count > 0 {
        attempts -= 1;
        let Some(c) = cursor else { break };
        let Some(g) = s.groups.get_mut(gname) else { break };
        let Some((&id, n)) = g.pel.range(c..).next() else {
            cursor = None;
            break;
        };
        cursor = id.incr();
        let idle_ok = minidle == 0 || now - n.delivery_time >= minidle;
        if !s.contains(id) {
            if let Some(g) = s.groups.get_mut(gname) {
                g.ack(id);
            }
            deleted.push(id_reply(id));
            count -= 1;
            continue;
        }
        if !idle_ok {
            continue;
        }
        let Some(g) = s.groups.get_mut(gname) else { break };
        if !consumer_ready {
            if !g.consumers.contains_key(cname) {
                created = true;
            }
            g.consumer(cname, now, true);
            consumer_ready = true;
        }
        let n = g.assign(id, cname, now);
        n.delivery_time = now;
        if !justid {
            n.delivery_count += 1;
        }
        out.push(if justid { id_reply(id) } else { claimed_entry(s, id) });
        count -= 1;
    }
    let next = cursor
        .and_then(|c| s.groups.get(gname).and_then(|g| g.pel.range(c..).next().map(|(k, _)| *k)))
        .unwrap_or(StreamId::MIN);
    if created {
        ctx.extra_events.push((crate::config::events::STREAM, "xgroup-createconsumer", argv[1].to_vec()));
    }
    Ok(Reply::Array(vec![id_reply(next), Reply::Array(out), Reply::Array(deleted)]))
}

// ---------------------------------------------------------------------------------------
// XINFO
// ---------------------------------------------------------------------------------------

fn xinfo(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    match xinfo_inner(ctx, argv) {
        Ok(r) | Err(r) => r,
    }
}

fn xinfo_inner(ctx: &mut Ctx, argv: &[&[u8]]) -> Result<Reply, Reply> {
    let opt = argv[1];
    let key = argv[2];
    let now = ctx.now;
    let Some(s) = stream_ref(ctx, key)? else { return Err(Reply::err("ERR no such key")) };
    if eq_ic(opt, "consumers") && argv.len() == 4 {
        let Some(g) = s.groups.get(argv[3]) else { return Err(nogroup_for_key(key, argv[3])) };
        Ok(Reply::Array(
            g.consumers
                .iter()
                .map(|(name, c)| {
                    Reply::Map(vec![
                        (field("name"), Reply::Bulk(name.clone())),
                        (field("pending"), Reply::Int(c.pel.len() as i64)),
                        (field("idle"), Reply::Int((now - c.seen_time).max(0))),
                    ])
                })
                .collect(),
        ))
    } else if eq_ic(opt, "groups") && argv.len() == 3 {
        Ok(Reply::Array(
            s.groups
                .iter()
                .map(|(name, g)| {
                    Reply::Map(vec![
                        (field("name"), Reply::Bulk(name.clone())),
                        (field("consumers"), Reply::Int(g.consumers.len() as i64)),
                        (field("pending"), Reply::Int(g.pel.len() as i64)),
                        (field("last-delivered-id"), id_reply(g.last_id)),
                        (field("entries-read"), entries_read_reply(g)),
                        (field("lag"), lag_reply(s, g)),
                    ])
                })
                .collect(),
        ))
    } else if eq_ic(opt, "stream") {
        xinfo_stream(s, argv)
    } else {
        Err(subcommand_syntax(argv))
    }
}

/// XINFO STREAM key [FULL [COUNT count]] (Redis's xinfoReplyWithStreamInfo).
fn xinfo_stream(s: &Stream, argv: &[&[u8]]) -> Result<Reply, Reply> {
    let rest = &argv[3..];
    let mut full = false;
    let mut count: i64 = 10;
    match rest.len() {
        0 => {}
        1 | 3 if eq_ic(rest[0], "full") => {
            full = true;
            if rest.len() == 3 {
                if !eq_ic(rest[1], "count") {
                    return Err(Reply::err(errors::SYNTAX));
                }
                count = parse_int(rest[2])?;
                if count < 0 {
                    count = 10;
                }
            }
        }
        _ => return Err(subcommand_syntax(argv)),
    }
    let mut m = vec![
        (field("length"), Reply::Int(s.len() as i64)),
        (field("radix-tree-keys"), Reply::Int(s.node_count() as i64)),
        (field("radix-tree-nodes"), Reply::Int(s.rax_nodes() as i64)),
        (field("last-generated-id"), id_reply(s.last_id)),
        (field("max-deleted-entry-id"), id_reply(s.max_deleted_id)),
        (field("entries-added"), Reply::Int(s.entries_added as i64)),
        (field("recorded-first-entry-id"), id_reply(s.first_id())),
    ];
    if !full {
        let edge = |rev: bool| match s.range(StreamId::MIN, StreamId::MAX, rev, 1).pop() {
            Some((id, f)) => entry_reply(id, f),
            None => Reply::Nil,
        };
        m.push((field("groups"), Reply::Int(s.groups.len() as i64)));
        m.push((field("first-entry"), edge(false)));
        m.push((field("last-entry"), edge(true)));
        return Ok(Reply::Map(m));
    }
    let limit = if count == 0 { usize::MAX } else { count as usize };
    m.push((field("entries"), range_reply(s, StreamId::MIN, StreamId::MAX, false, count as usize)));
    let groups = s
        .groups
        .iter()
        .map(|(name, g)| {
            let pel = g
                .pel
                .iter()
                .take(limit)
                .map(|(id, n)| {
                    Reply::Array(vec![
                        id_reply(*id),
                        Reply::Bulk(n.consumer.clone()),
                        Reply::Int(n.delivery_time),
                        Reply::Int(n.delivery_count as i64),
                    ])
                })
                .collect();
            let consumers = g
                .consumers
                .iter()
                .map(|(cn, c)| {
                    let cpel = c
                        .pel
                        .iter()
                        .take(limit)
                        .filter_map(|id| g.pel.get(id).map(|n| (id, n)))
                        .map(|(id, n)| {
                            Reply::Array(vec![
                                id_reply(*id),
                                Reply::Int(n.delivery_time),
                                Reply::Int(n.delivery_count as i64),
                            ])
                        })
                        .collect();
                    Reply::Map(vec![
                        (field("name"), Reply::Bulk(cn.clone())),
                        (field("seen-time"), Reply::Int(c.seen_time)),
                        (field("pel-count"), Reply::Int(c.pel.len() as i64)),
                        (field("pending"), Reply::Array(cpel)),
                    ])
                })
                .collect();
            Reply::Map(vec![
                (field("name"), Reply::Bulk(name.clone())),
                (field("last-delivered-id"), id_reply(g.last_id)),
                (field("entries-read"), entries_read_reply(g)),
                (field("lag"), lag_reply(s, g)),
                (field("pel-count"), Reply::Int(g.pel.len() as i64)),
                (field("pending"), Reply::Array(pel)),
                (field("consumers"), Reply::Array(consumers)),
            ])
        })
        .collect();
    m.push((field("groups"), Reply::Array(groups)));
    Ok(Reply::Map(m))
}

fn xinfo_help(_: &mut Ctx, _: &[&[u8]]) -> Reply {
    help_reply(
        "XINFO",
        &[
            "CONSUMERS <key> <groupname>",
            "    Show consumers of <groupname>.",
            "GROUPS <key>",
            "    Show the stream consumer groups.",
            "STREAM <key> [FULL [COUNT <count>]",
            "    Show information about the stream.",
        ],
    )
}
