//! Keyspace notifications (`notify-keyspace-events`): `__keyspace@<db>__:<key>` with the
//! event as message and `__keyevent@<db>__:<event>` with the key as message, published
//! through Pub/Sub, with Redis 7.0's event names.
//!
//! Owns: the [`Ev`] policy commands declare in the table (the event a command emits for
//! its key when it changed it, with Redis's `new` and emptied-collection `del` around it),
//! the per-command hook (`before` / `after`), `notify` for handlers with their own events,
//! and `expired` events.
//!
//! Must hold:
//! - nothing is done (not even a lookup) while `notify-keyspace-events` is empty;
//! - events come in the order Redis emits them: a key found expired by a command is
//!   announced (`expired`) before the command's own events; `new` before the event of the
//!   command that created the key; `del` after the event of the command that emptied it;
//! - events are published while the command still holds its stripe locks, so the events
//!   of one key are in execution order.

use super::state::Shared;
use super::Ctx;
use crate::config::events as ev;
use crate::protocol::Reply;
use std::sync::atomic::Ordering::Relaxed;

/// The event a command emits for its key(s), applied after it ran (handlers with
/// option-dependent events emit them themselves and declare `Custom`).
#[derive(Clone, Copy, Debug)]
pub enum Ev {
    /// No event (reads) or emitted by the handler.
    Custom,
    /// `event` for the first key when the command changed it; `new` first if it created
    /// the key; `del` after if it left the collection empty.
    Key(u32, &'static str),
    /// Like `Key`, only when the reply is a non-zero integer / non-nil / non-empty.
    KeyIfReply(u32, &'static str),
    /// A STORE command: `event` on the destination (first key) if it exists afterwards,
    /// else `del` if it existed before.
    Store(u32, &'static str),
    /// `event` for every key argument (MSET).
    AllKeys(u32, &'static str),
    /// `del` for every key argument that existed before and is gone (DEL, UNLINK).
    Removed,
    /// Events that depend on options or the reply: `f(ctx, argv, reply, existed, changed)`
    /// (the functions below).
    Fn(EvFn),
}

pub type EvFn = fn(&mut Ctx, &[&[u8]], &Reply, &[bool], bool);

/// The flags in force (0: notifications off).
#[inline]
pub fn flags(shared: &Shared) -> u32 {
    shared.enc.notify.load(Relaxed)
}

/// Whether write commands must work out their events: notifications are on, or some
/// client tracks keys (every event but `new`/`keymiss` is a modification to invalidate).
#[inline]
pub fn active(shared: &Shared) -> bool {
    flags(shared) != 0 || super::tracking::live(shared)
}

/// Publishes one event for `key` in `db` into `pushes`.
pub fn emit(
    shared: &Shared,
    pushes: &mut Vec<(super::state::ConnId, std::sync::Arc<[u8]>)>,
    db: usize,
    class: u32,
    event: &str,
    key: &[u8],
) {
    let f = flags(shared);
    if f & class == 0 {
        return;
    }
    if f & ev::KEYSPACE != 0 {
        let mut ch = format!("__keyspace@{db}__:").into_bytes();
        ch.extend_from_slice(key);
        super::pubsub::queue_to(shared, pushes, &ch, event.as_bytes(), false);
    }
    if f & ev::KEYEVENT != 0 {
        let ch = format!("__keyevent@{db}__:{event}").into_bytes();
        super::pubsub::queue_to(shared, pushes, &ch, key, false);
    }
}

/// Keys expiry removed outside a command's own bookkeeping (a read's lazy expiry, the
/// active cycle): `expired` events, and DELs in the AOF. Returns the AOF offset to wait
/// for (`appendfsync always`). The caller still holds the keys' stripe lock.
pub fn expired(
    shared: &Shared,
    pushes: &mut Vec<(super::state::ConnId, std::sync::Arc<[u8]>)>,
    db: usize,
    keys: &[crate::store::CompactBytes],
) -> u64 {
    if keys.is_empty() {
        return 0;
    }
    for k in keys {
        emit(shared, pushes, db, ev::EXPIRED, "expired", k.as_slice());
        super::tracking::key_modified(shared, k.as_slice(), 0, pushes, None);
    }
    let recs: Vec<_> = keys.iter().map(|k| crate::persistence::aof::record(db, &[&b"DEL"[..], k.as_slice()])).collect();
    shared.aof.append(&recs, false)
}

impl Ctx<'_> {
    /// Publishes `event` for `key` in the current db (after any pending `expired`).
    pub fn notify(&mut self, class: u32, event: &str, key: &[u8]) {
        let db = self.session.db;
        self.notify_db(db, class, event, key);
    }

    pub fn notify_db(&mut self, db: usize, class: u32, event: &str, key: &[u8]) {
        if !active(self.shared) {
            return;
        }
        self.flush_expired();
        if event != "new" {
            self.invalidate(key);
        }
        emit(self.shared, &mut self.effects.pushes, db, class, event, key);
    }

    /// Client-side caching: `key` was modified by this client (Redis's signalModifiedKey).
    fn invalidate(&mut self, key: &[u8]) {
        let e = &mut *self.effects;
        super::tracking::key_modified(self.shared, key, self.session.id, &mut e.pushes, Some(&mut e.bcast));
    }

    /// Announces (once) the keys the command found expired so far, and keeps them for the
    /// AOF's DEL records.
    pub fn flush_expired(&mut self) {
        let start = self.expired_seen.len();
        self.drain_expired();
        for i in start..self.expired_seen.len() {
            let (db, key) = self.expired_seen[i].clone();
            self.invalidate(&key);
            emit(self.shared, &mut self.effects.pushes, db, ev::EXPIRED, "expired", &key);
        }
    }
}

/// Before a command runs (locks held): whether its first key exists, when its events need
/// to know.
pub fn before(ctx: &Ctx, argv: &[&[u8]]) -> Option<Vec<bool>> {
    if !active(ctx.shared) || matches!(ctx.cmd.ev, Ev::Custom) {
        return None;
    }
    let mut v = Vec::new();
    let db = ctx.session.db;
    // Only keys whose stripe this command holds in the current db can be looked at (COPY
    // ... DB n and MOVE lock another db's stripe); the others count as present.
    ctx.cmd.for_each_key_pos(argv, |p| v.push(!ctx.holds(db, argv[p]) || ctx.peek(argv[p]).is_some()));
    Some(v)
}

fn reply_nonzero(r: &Reply) -> bool {
    match r {
        Reply::Int(n) => *n > 0,
        Reply::Nil | Reply::NilArray => false,
        Reply::Array(a) | Reply::Set(a) => !a.is_empty(),
        Reply::Error(_) => false,
        _ => true,
    }
}

/// After a write command ran and changed something (locks held): its table events.
pub fn after(ctx: &mut Ctx, argv: &[&[u8]], reply: &Reply, existed: Option<Vec<bool>>, changed: bool) {
    let extras = std::mem::take(&mut ctx.extra_events);
    if !active(ctx.shared) {
        ctx.changed_hint = None;
        return;
    }
    ctx.flush_expired();
    if let Some(existed) = existed {
        if ctx.changed_hint != Some(false) || matches!(ctx.cmd.ev, Ev::Fn(_)) {
            table_events(ctx, argv, reply, &existed, changed);
        }
    }
    ctx.changed_hint = None;
    for (class, e, key) in extras {
        ctx.notify(class, e, &key);
    }
}

fn table_events(ctx: &mut Ctx, argv: &[&[u8]], reply: &Reply, existed: &[bool], changed: bool) {
    let mut keys: Vec<usize> = Vec::new();
    ctx.cmd.for_each_key_pos(argv, |p| keys.push(p));
    let now_exists = |ctx: &Ctx, p: usize| ctx.peek(argv[p]).is_some();
    match ctx.cmd.ev {
        Ev::Custom => {}
        Ev::Key(class, name) | Ev::KeyIfReply(class, name) => {
            let (Some(&p), Some(&was)) = (keys.first(), existed.first()) else { return };
            let fire = match ctx.cmd.ev {
                Ev::KeyIfReply(..) => reply_nonzero(reply),
                _ => changed,
            };
            if !fire {
                return;
            }
            let is = now_exists(ctx, p);
            if !was && is {
                ctx.notify(ev::NEW, "new", argv[p]);
            }
            ctx.notify(class, name, argv[p]);
            if was && !is {
                ctx.notify(ev::GENERIC, "del", argv[p]);
            }
        }
        Ev::Store(class, name) => {
            let (Some(&p), Some(&was)) = (keys.first(), existed.first()) else { return };
            if now_exists(ctx, p) {
                if !was {
                    ctx.notify(ev::NEW, "new", argv[p]);
                }
                ctx.notify(class, name, argv[p]);
            } else if was {
                ctx.notify(ev::GENERIC, "del", argv[p]);
            }
        }
        Ev::AllKeys(class, name) => {
            // MSETNX answers 0 when it set nothing.
            if !changed || *reply == Reply::Int(0) {
                return;
            }
            let mut created: Vec<&[u8]> = Vec::new();
            for (i, &p) in keys.iter().enumerate() {
                if !existed.get(i).copied().unwrap_or(true) && !created.contains(&argv[p]) {
                    created.push(argv[p]);
                    ctx.notify(ev::NEW, "new", argv[p]);
                }
                ctx.notify(class, name, argv[p]);
            }
        }
        Ev::Fn(f) => f(ctx, argv, reply, existed, changed),
        Ev::Removed => {
            let mut done: Vec<&[u8]> = Vec::new();
            for (i, &p) in keys.iter().enumerate() {
                if existed.get(i).copied().unwrap_or(false) && !now_exists(ctx, p) && !done.contains(&argv[p]) {
                    done.push(argv[p]);
                    ctx.notify(ev::GENERIC, "del", argv[p]);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Commands whose events depend on their options or reply (Ev::Fn)
// ---------------------------------------------------------------------------------------

fn exists(ctx: &Ctx, key: &[u8]) -> bool {
    ctx.peek(key).is_some()
}

fn has_opt(argv: &[&[u8]], from: usize, opts: &[&str]) -> bool {
    argv.iter().skip(from).any(|a| opts.iter().any(|o| a.eq_ignore_ascii_case(o.as_bytes())))
}

fn new_if_created(ctx: &mut Ctx, was: bool, key: &[u8]) {
    if !was && exists(ctx, key) {
        ctx.notify(ev::NEW, "new", key);
    }
}

fn del_if_gone(ctx: &mut Ctx, was: bool, key: &[u8]) {
    if was && !exists(ctx, key) {
        ctx.notify(ev::GENERIC, "del", key);
    }
}

/// SET, SETEX, PSETEX: `set`, and `expire` when a TTL was given.
pub fn set(ctx: &mut Ctx, argv: &[&[u8]], _: &Reply, existed: &[bool], changed: bool) {
    if !changed {
        return;
    }
    let was = existed.first().copied().unwrap_or(false);
    new_if_created(ctx, was, argv[1]);
    ctx.notify(ev::STRING, "set", argv[1]);
    let name = ctx.cmd.name;
    if name != "set" || has_opt(argv, 3, &["ex", "px", "exat", "pxat"]) {
        ctx.notify(ev::GENERIC, "expire", argv[1]);
    }
}

/// GETEX: `expire` (or `del` for a past time) / `persist`.
pub fn getex(ctx: &mut Ctx, argv: &[&[u8]], r: &Reply, existed: &[bool], changed: bool) {
    if !changed || matches!(r, Reply::Nil) {
        return;
    }
    if has_opt(argv, 2, &["persist"]) {
        ctx.notify(ev::GENERIC, "persist", argv[1]);
    } else if has_opt(argv, 2, &["ex", "px", "exat", "pxat"]) {
        if exists(ctx, argv[1]) {
            ctx.notify(ev::GENERIC, "expire", argv[1]);
        } else {
            del_if_gone(ctx, existed.first().copied().unwrap_or(false), argv[1]);
        }
    }
}

/// EXPIRE and friends: `expire`, or `del` when the time was in the past.
pub fn expire(ctx: &mut Ctx, argv: &[&[u8]], r: &Reply, _: &[bool], _: bool) {
    if *r != Reply::Int(1) {
        return;
    }
    let e = if exists(ctx, argv[1]) { "expire" } else { "del" };
    ctx.notify(ev::GENERIC, e, argv[1]);
}

/// RENAME, RENAMENX: `rename_from` on the source, `rename_to` on the destination.
pub fn rename(ctx: &mut Ctx, argv: &[&[u8]], r: &Reply, _: &[bool], _: bool) {
    let done = matches!(r, Reply::Simple(_) | Reply::Status(_)) || *r == Reply::Int(1);
    if !done || argv[1] == argv[2] {
        return;
    }
    // Redis re-adds the destination (dbAdd): always a `new` key.
    ctx.notify(ev::NEW, "new", argv[2]);
    ctx.notify(ev::GENERIC, "rename_from", argv[1]);
    ctx.notify(ev::GENERIC, "rename_to", argv[2]);
}

/// MOVE: `move_from` in this db, `move_to` in the target db.
pub fn move_key(ctx: &mut Ctx, argv: &[&[u8]], r: &Reply, _: &[bool], _: bool) {
    if *r != Reply::Int(1) {
        return;
    }
    let Some(dst) = crate::store::parse_i64_strict(argv[2]) else { return };
    ctx.notify_db(dst as usize, ev::NEW, "new", argv[1]);
    ctx.notify(ev::GENERIC, "move_from", argv[1]);
    ctx.notify_db(dst as usize, ev::GENERIC, "move_to", argv[1]);
}

/// COPY: `copy_to` on the destination (in the DB option's db).
pub fn copy(ctx: &mut Ctx, argv: &[&[u8]], r: &Reply, _: &[bool], _: bool) {
    if *r != Reply::Int(1) {
        return;
    }
    let mut db = ctx.session.db;
    let mut i = 3;
    while i + 1 < argv.len() {
        if argv[i].eq_ignore_ascii_case(b"db") {
            if let Some(d) = crate::store::parse_i64_strict(argv[i + 1]) {
                db = d as usize;
            }
        }
        i += 1;
    }
    // The destination is added anew (after deleting it with REPLACE): `new` first.
    ctx.notify_db(db, ev::NEW, "new", argv[2]);
    ctx.notify_db(db, ev::GENERIC, "copy_to", argv[2]);
}

/// LMOVE, BLMOVE, RPOPLPUSH, BRPOPLPUSH: push on the destination, pop on the source.
pub fn lmove(ctx: &mut Ctx, argv: &[&[u8]], r: &Reply, existed: &[bool], _: bool) {
    if !matches!(r, Reply::Bulk(_)) {
        return;
    }
    let (from_left, to_left) = match ctx.cmd.name {
        "lmove" | "blmove" => (argv[3].eq_ignore_ascii_case(b"left"), argv[4].eq_ignore_ascii_case(b"left")),
        _ => (false, true),
    };
    let (src, dst) = (argv[1], argv[2]);
    let (src_was, dst_was) = (existed.first().copied().unwrap_or(true), existed.get(1).copied().unwrap_or(true));
    if src != dst {
        new_if_created(ctx, dst_was, dst);
    }
    ctx.notify(ev::LIST, if to_left { "lpush" } else { "rpush" }, dst);
    ctx.notify(ev::LIST, if from_left { "lpop" } else { "rpop" }, src);
    del_if_gone(ctx, src_was, src);
}

/// The key a pop reply names (`[key, ...]`).
fn popped_key(r: &Reply) -> Option<Vec<u8>> {
    match r {
        Reply::Array(a) => match a.first() {
            Some(Reply::Bulk(k)) => Some(k.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// BLPOP BRPOP BZPOPMIN BZPOPMAX LMPOP BLMPOP ZMPOP BZMPOP: the pop on the key it came
/// from, `del` if that emptied it.
pub fn pop(ctx: &mut Ctx, argv: &[&[u8]], r: &Reply, _: &[bool], _: bool) {
    let Some(key) = popped_key(r) else { return };
    let (class, e) = match ctx.cmd.name {
        "blpop" => (ev::LIST, "lpop"),
        "brpop" => (ev::LIST, "rpop"),
        "bzpopmin" => (ev::ZSET, "zpopmin"),
        "bzpopmax" => (ev::ZSET, "zpopmax"),
        "lmpop" | "blmpop" => (ev::LIST, if has_opt(argv, 2, &["left"]) { "lpop" } else { "rpop" }),
        _ => (ev::ZSET, if has_opt(argv, 2, &["min"]) { "zpopmin" } else { "zpopmax" }),
    };
    ctx.notify(class, e, &key);
    del_if_gone(ctx, true, &key);
}

/// SMOVE: `srem` on the source (`del` if emptied), `sadd` on the destination.
pub fn smove(ctx: &mut Ctx, argv: &[&[u8]], r: &Reply, existed: &[bool], _: bool) {
    if *r != Reply::Int(1) {
        return;
    }
    let (src, dst) = (argv[1], argv[2]);
    if src == dst {
        return;
    }
    ctx.notify(ev::SET, "srem", src);
    del_if_gone(ctx, existed.first().copied().unwrap_or(true), src);
    // The hint says whether the member was new in the destination.
    if src != dst && ctx.changed_hint != Some(false) {
        new_if_created(ctx, existed.get(1).copied().unwrap_or(true), dst);
        ctx.notify(ev::SET, "sadd", dst);
    }
}

/// ZADD: `zadd`, or `zincr` with INCR.
pub fn zadd(ctx: &mut Ctx, argv: &[&[u8]], r: &Reply, existed: &[bool], changed: bool) {
    if !changed || matches!(r, Reply::Nil) || ctx.changed_hint == Some(false) {
        return;
    }
    new_if_created(ctx, existed.first().copied().unwrap_or(true), argv[1]);
    let e = if has_opt(argv, 2, &["incr"]) { "zincr" } else { "zadd" };
    ctx.notify(ev::ZSET, e, argv[1]);
}

/// XADD: `xadd` for the new entry.
pub fn xadd(ctx: &mut Ctx, argv: &[&[u8]], r: &Reply, existed: &[bool], _: bool) {
    if !matches!(r, Reply::Bulk(_)) {
        return;
    }
    new_if_created(ctx, existed.first().copied().unwrap_or(true), argv[1]);
    ctx.notify(ev::STREAM, "xadd", argv[1]);
}

/// SORT ... STORE, GEORADIUS[BYMEMBER] ... STORE|STOREDIST: the store event on the
/// destination, or `del` when the result was empty and removed it.
pub fn store_option(ctx: &mut Ctx, argv: &[&[u8]], r: &Reply, existed: &[bool], _: bool) {
    if matches!(r, Reply::Error(_)) {
        return;
    }
    let Some(pos) = argv.iter().rposition(|a| a.eq_ignore_ascii_case(b"store") || a.eq_ignore_ascii_case(b"storedist"))
    else {
        return;
    };
    let Some(dst) = argv.get(pos + 1).copied() else { return };
    let mut keys = Vec::new();
    ctx.cmd.for_each_key_pos(argv, |p| keys.push(p));
    let was = keys.iter().zip(existed).any(|(p, e)| argv[*p] == dst && *e);
    let e = if ctx.cmd.name == "sort" { "sortstore" } else { "georadiusstore" };
    if exists(ctx, dst) {
        new_if_created(ctx, was, dst);
        ctx.notify(if ctx.cmd.name == "sort" { ev::LIST } else { ev::ZSET }, e, dst);
    } else {
        del_if_gone(ctx, was, dst);
    }
}

/// SETBIT: `setbit` only when the bit changed (the reply is the old bit).
pub fn setbit(ctx: &mut Ctx, argv: &[&[u8]], r: &Reply, existed: &[bool], _: bool) {
    let new_bit = argv.get(3).map(|v| *v == b"1").unwrap_or(false) as i64;
    let Reply::Int(old) = r else { return };
    let was = existed.first().copied().unwrap_or(true);
    if *old == new_bit && was {
        return;
    }
    new_if_created(ctx, was, argv[1]);
    ctx.notify(ev::STRING, "setbit", argv[1]);
}

/// RESTORE: the key is always added anew (`new`), then `restore`.
pub fn restore(ctx: &mut Ctx, argv: &[&[u8]], r: &Reply, _: &[bool], _: bool) {
    if !matches!(r, Reply::Simple(_) | Reply::Status(_)) || !exists(ctx, argv[1]) {
        return;
    }
    ctx.notify(ev::NEW, "new", argv[1]);
    ctx.notify(ev::GENERIC, "restore", argv[1]);
}
