//! Connection commands: PING ECHO QUIT RESET HELLO SELECT CLIENT.
//!
//! Owns per-connection state changes (db, protocol, name). Must hold: CLIENT LIST/INFO
//! lines use Redis 7.0's field order and names.

use super::errors;
use super::flags::*;
use super::{eq_ic, Command, Ctx};
use crate::protocol::{Proto, Reply, Wire};
use std::sync::atomic::Ordering;

const G: &str = "connection";

pub static COMMANDS: &[Command] = &[
    Command::new("ping", G, -1, FAST | SENTINEL, ping)
        .tips("request_policy:all_shards response_policy:all_succeeded")
        .doc("Ping the server", "1.0.0", "O(1)")
        .args("[message]"),
    Command::new("echo", G, 2, LOADING | STALE | FAST, echo)
        .doc("Echo the given string", "1.0.0", "O(1)")
        .args("message"),
    Command::new("quit", G, -1, NOSCRIPT | ALLOW_BUSY | NO_AUTH | LOADING | STALE | FAST, quit).doc(
        "Close the connection",
        "1.0.0",
        "O(1)",
    ),
    Command::new("reset", G, 1, NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY, reset).doc(
        "Reset the connection",
        "6.2.0",
        "O(1)",
    ),
    Command::new("auth", G, -2, NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | SENTINEL | ALLOW_BUSY, auth)
        .doc("Authenticate to the server", "1.0.0", "O(N) where N is the number of passwords defined for the user")
        .args("[username] password"),
    Command::new("select", G, 2, LOADING | STALE | FAST, select)
        .doc("Change the selected database for the current connection", "1.0.0", "O(1)")
        .args("index"),
    Command::new("hello", G, -1, NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | SENTINEL | ALLOW_BUSY, hello)
        .doc("Handshake with Redis", "6.0.0", "O(1)")
        .args("[protover [AUTH username password] [SETNAME clientname]]"),
    Command::container("client", G, CLIENT_SUBS).doc(
        "A container for client connection commands",
        "2.4.0",
        "Depends on subcommand.",
    ),
];

static CLIENT_SUBS: &[Command] = &[
    Command::new("client|id", G, 2, NOSCRIPT | LOADING | STALE, client_id).doc("Returns the client ID for the current connection", "5.0.0", "O(1)"),
    Command::new("client|getname", G, 2, NOSCRIPT | LOADING | STALE, client_getname).doc("Get the current connection name", "2.6.9", "O(1)"),
    Command::new("client|setname", G, 3, NOSCRIPT | LOADING | STALE, client_setname)
        .doc("Set the current connection name", "2.6.9", "O(1)")
        .args("connection-name"),
    Command::new("client|info", G, 2, NOSCRIPT | LOADING | STALE, client_info).tips("nondeterministic_output").doc("Returns information about the current client connection.", "6.2.0", "O(1)"),
    Command::new("client|list", G, -2, ADMIN | NOSCRIPT | LOADING | STALE, client_list).tips("nondeterministic_output")
        .doc("Get the list of client connections", "2.4.0", "O(N) where N is the number of client connections")
        .args("[TYPE NORMAL|MASTER|REPLICA|PUBSUB] [ID client-id [client-id ...]]"),
    Command::new("client|kill", G, -3, ADMIN | NOSCRIPT | LOADING | STALE, client_kill)
        .doc("Kill the connection of a client", "2.4.0", "O(N) where N is the number of client connections")
        .args("ip:port | [ID client-id] [TYPE NORMAL|MASTER|SLAVE|REPLICA|PUBSUB] [USER username] [ADDR ip:port] [LADDR ip:port] [SKIPME yes|no]"),
    Command::new("client|unblock", G, -3, ADMIN | NOSCRIPT | LOADING | STALE, client_unblock)
        .doc("Unblock a client blocked in a blocking command from a different connection", "5.0.0", "O(log N) where N is the number of client connections")
        .args("client-id [TIMEOUT|ERROR]"),
    Command::new("client|reply", G, 3, NOSCRIPT | LOADING | STALE, client_reply)
        .doc("Instruct the server whether to reply to commands", "3.2.0", "O(1)")
        .args("ON|OFF|SKIP"),
    Command::new("client|no-evict", G, 3, ADMIN | NOSCRIPT | LOADING | STALE, client_no_evict)
        .acl("@dangerous")
        .doc("Set client eviction mode for the current connection", "7.0.0", "O(1)")
        .args("ON|OFF"),
    Command::new("client|pause", G, -3, ADMIN | NOSCRIPT | LOADING | STALE, client_pause)
        .acl("@dangerous")
        .doc("Stop processing commands from clients for some time", "2.9.50", "O(1)")
        .args("timeout [WRITE|ALL]"),
    Command::new("client|unpause", G, 2, ADMIN | NOSCRIPT | LOADING | STALE, client_unpause)
        .acl("@dangerous")
        .doc("Resume processing of clients that were paused", "6.2.0", "O(N) Where N is the number of paused clients"),
    Command::new("client|tracking", G, -3, NOSCRIPT | LOADING | STALE, super::tracking::client_tracking)
        .doc("Enable or disable server assisted client side caching support", "6.0.0", "O(1). Some options may introduce additional complexity.")
        .args("ON|OFF [REDIRECT client-id] [PREFIX prefix [PREFIX prefix ...]] [BCAST] [OPTIN] [OPTOUT] [NOLOOP]"),
    Command::new("client|caching", G, 3, NOSCRIPT | LOADING | STALE, super::tracking::client_caching)
        .doc("Instruct the server about tracking or not keys in the next request", "6.0.0", "O(1)")
        .args("YES|NO"),
    Command::new("client|getredir", G, 2, NOSCRIPT | LOADING | STALE, super::tracking::client_getredir)
        .doc("Get tracking notifications redirection client ID if any", "6.0.0", "O(1)"),
    Command::new("client|trackinginfo", G, 2, NOSCRIPT | LOADING | STALE, super::tracking::client_trackinginfo)
        .doc("Return information about server assisted client side caching for the current connection", "6.2.0", "O(1)"),
    Command::new("client|help", G, 2, LOADING | STALE, client_help).doc("Show helpful text about the different subcommands", "5.0.0", "O(1)"),
];

fn ping(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    match argv.len() {
        1 => Reply::Simple("PONG"),
        2 => Reply::bulk(argv[1]),
        _ => Reply::err(errors::arity(ctx.cmd.name)),
    }
}

fn echo(_: &mut Ctx, argv: &[&[u8]]) -> Reply {
    Reply::bulk(argv[1])
}

fn quit(ctx: &mut Ctx, _: &[&[u8]]) -> Reply {
    ctx.session.close_after_reply = true;
    Reply::ok()
}

fn set_proto(ctx: &mut Ctx, p: Proto) {
    ctx.session.proto = p;
    ctx.session.info.resp.store(if p == Proto::Resp3 { 3 } else { 2 }, Ordering::Relaxed);
}

fn reset(ctx: &mut Ctx, _: &[&[u8]]) -> Reply {
    super::transaction::reset(ctx.shared, ctx.session);
    ctx.shared.unmonitor(ctx.session.id);
    if ctx.session.tracking.on {
        super::tracking::disable(ctx.shared, ctx.session.id);
        ctx.session.tracking = Default::default();
        ctx.session.caching = false;
    }
    if ctx.session.subs > 0 {
        ctx.shared.pubsub.write().remove_client(ctx.session.id);
        ctx.session.subs = 0;
        for a in &ctx.session.info.subs {
            a.store(0, Ordering::Relaxed);
        }
    }
    ctx.session.db = 0;
    // Back to the default user; logged out unless it needs no password.
    ctx.session.authenticated = ctx.shared.default_nopass.load(Ordering::Relaxed);
    ctx.session.user = "default".to_string();
    *ctx.session.info.user.lock() = "default".to_string();
    ctx.session.info.db.store(0, Ordering::Relaxed);
    set_proto(ctx, Proto::Resp2);
    ctx.session.info.name.lock().clear();
    Reply::Simple("RESET")
}

fn select(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let db = match super::parse_i32(argv[1]) {
        Ok(d) => d as i64,
        Err(e) => return e,
    };
    if db < 0 || db as usize >= ctx.shared.keyspace.dbs.len() {
        return Reply::err(errors::DB_INDEX);
    }
    ctx.session.db = db as usize;
    ctx.session.info.db.store(db as usize, Ordering::Relaxed);
    Reply::ok()
}

/// What a non-loopback client is told in protected mode (Redis 7.0's text).
pub const DENIED: &str = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

/// Redis's ACLAuthenticateUser for the only user there is so far: `default`, which
/// accepts any password while it has none (nopass).
fn check_user(ctx: &Ctx, user: &[u8], pass: &[u8]) -> bool {
    ctx.shared.acl.read().authenticate(user, pass)
}

/// A failed AUTH / HELLO AUTH in the ACL LOG (reason `auth`, object the command name as
/// typed).
fn log_auth_failure(ctx: &Ctx, user: &[u8], typed: &[u8]) {
    let ctxname = if ctx.session.multi.is_some() { "multi" } else { "toplevel" };
    let name = String::from_utf8_lossy(user);
    super::acl::log_denial(ctx.shared, ctx.session, "auth", ctxname, typed, &name, ctx.cmd.name);
}

/// Logs the client in as `user` (AUTH, HELLO AUTH).
fn login(ctx: &mut Ctx, user: &[u8]) {
    let name = String::from_utf8_lossy(user).to_string();
    ctx.session.authenticated = true;
    *ctx.session.info.user.lock() = name.clone();
    ctx.session.user = name;
}

/// AUTH [username] password.
fn auth(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    if argv.len() > 3 {
        return Reply::err(errors::SYNTAX);
    }
    let (user, pass) = if argv.len() == 2 { (&b"default"[..], argv[1]) } else { (argv[1], argv[2]) };
    if argv.len() == 2 && ctx.shared.acl.read().user("default").is_some_and(|u| u.nopass) {
        return Reply::err("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?");
    }
    if check_user(ctx, user, pass) {
        login(ctx, user);
        Reply::ok()
    } else {
        log_auth_failure(ctx, user, argv[0]);
        Reply::err(WRONGPASS)
    }
}

fn valid_name(name: &[u8]) -> bool {
    name.iter().all(|&c| (b'!'..=b'~').contains(&c))
}

fn hello(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let mut proto = None;
    let mut i = 1;
    if argv.len() >= 2 {
        match crate::store::parse_i64_strict(argv[1]) {
            None => return Reply::err("ERR Protocol version is not an integer or out of range"),
            Some(v) if !(2..=3).contains(&v) || (v == 2 && ctx.session.wire == Wire::Msgpack) => {
                // A MessagePack connection always carries RESP3 types.
                return Reply::err("NOPROTO unsupported protocol version");
            }
            Some(v) => proto = Some(if v == 3 { Proto::Resp3 } else { Proto::Resp2 }),
        }
        i = 2;
    }
    while i < argv.len() {
        let more = argv.len() - i - 1;
        if eq_ic(argv[i], "auth") && more >= 2 {
            if !check_user(ctx, argv[i + 1], argv[i + 2]) {
                log_auth_failure(ctx, argv[i + 1], argv[0]);
                return Reply::err(WRONGPASS);
            }
            login(ctx, argv[i + 1]);
            i += 3;
        } else if eq_ic(argv[i], "setname") && more >= 1 {
            if !valid_name(argv[i + 1]) {
                return Reply::err("ERR Client names cannot contain spaces, newlines or special characters.");
            }
            // Set at once, as Redis does (even if HELLO then answers NOAUTH).
            *ctx.session.info.name.lock() = argv[i + 1].to_vec();
            i += 2;
        } else {
            return Reply::err(format!("ERR Syntax error in HELLO option '{}'", String::from_utf8_lossy(argv[i])));
        }
    }
    if !ctx.session.authenticated && !ctx.shared.default_nopass.load(Ordering::Relaxed) {
        return Reply::err("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
    }
    if let Some(p) = proto {
        set_proto(ctx, p);
    }
    let proto_n = if ctx.session.proto == Proto::Resp3 { 3 } else { 2 };
    Reply::Map(vec![
        (Reply::bulk(b"server"), Reply::bulk(b"redis")),
        (Reply::bulk(b"version"), Reply::bulk(super::server::REDIS_VERSION.as_bytes())),
        (Reply::bulk(b"proto"), Reply::Int(proto_n)),
        (Reply::bulk(b"id"), Reply::Int(ctx.session.id as i64)),
        (Reply::bulk(b"mode"), Reply::bulk(b"standalone")),
        (Reply::bulk(b"role"), Reply::bulk(b"master")),
        (Reply::bulk(b"modules"), Reply::Array(vec![])),
    ])
}

fn client_id(ctx: &mut Ctx, _: &[&[u8]]) -> Reply {
    Reply::Int(ctx.session.id as i64)
}

fn client_getname(ctx: &mut Ctx, _: &[&[u8]]) -> Reply {
    let n = ctx.session.info.name.lock();
    if n.is_empty() {
        Reply::Nil
    } else {
        Reply::Bulk(n.clone())
    }
}

fn client_setname(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    if !valid_name(argv[2]) {
        return Reply::err("ERR Client names cannot contain spaces, newlines or special characters.");
    }
    *ctx.session.info.name.lock() = argv[2].to_vec();
    Reply::ok()
}

/// One CLIENT LIST line in Redis 7.0's format.
pub fn client_line(info: &super::state::ClientInfo, now: i64, cmd_name: &str) -> String {
    let name = info.name.lock().clone();
    let age = (now - info.created_ms).max(0) / 1000;
    let idle = (now - info.last_interaction_ms.load(Ordering::Relaxed)).max(0) / 1000;
    let last = info.last_cmd.load(Ordering::Relaxed);
    let cmd = if last == 0 { "NULL".to_string() } else { super::table().cmds[last - 1].name.to_string() };
    let cmd = if cmd_name.is_empty() { cmd } else { cmd_name.to_string() };
    let subs: Vec<usize> = info.subs.iter().map(|a| a.load(Ordering::Relaxed)).collect();
    let multi = info.multi.load(Ordering::Relaxed);
    // Redis's flag letters, in its order: P (subscribed), x (in MULTI); N for none.
    let mut flags = String::new();
    if subs.iter().any(|&n| n > 0) {
        flags.push('P');
    }
    if multi >= 0 {
        flags.push('x');
    }
    if flags.is_empty() {
        flags.push('N');
    }
    format!(
        "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} qbuf={} qbuf-free=0 argv-mem=0 multi-mem=0 rbs=16384 rbp=0 obl={} oll=0 omem=0 tot-mem=0 events=r cmd={} user={} redir=-1 resp={}{}",
        info.id,
        info.addr,
        info.laddr,
        info.fd,
        String::from_utf8_lossy(&name),
        age,
        idle,
        flags,
        info.db.load(Ordering::Relaxed),
        subs[0],
        subs[1],
        subs[2],
        multi,
        info.io.qbuf.load(Ordering::Relaxed),
        info.io.obl.load(Ordering::Relaxed),
        cmd,
        info.user.lock(),
        info.resp.load(Ordering::Relaxed),
        if info.wire == Wire::Msgpack { " proto=msgpack" } else { "" },
    )
}

fn client_info(ctx: &mut Ctx, _: &[&[u8]]) -> Reply {
    let line = client_line(&ctx.session.info, ctx.now, "client|info");
    Reply::Verbatim("txt", format!("{line}\n").into_bytes())
}

fn client_list(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let mut ids: Option<Vec<u64>> = None;
    let mut i = 2;
    while i < argv.len() {
        if eq_ic(argv[i], "type") && i + 1 < argv.len() {
            let t = argv[i + 1];
            if !["normal", "master", "replica", "slave", "pubsub"].iter().any(|x| eq_ic(t, x)) {
                return Reply::err(format!("ERR Unknown client type '{}'", String::from_utf8_lossy(t)));
            }
            if !eq_ic(t, "normal") {
                ids = Some(vec![]);
            }
            i += 2;
        } else if eq_ic(argv[i], "id") && i + 1 < argv.len() {
            let mut v = Vec::new();
            for a in &argv[i + 1..] {
                match crate::store::parse_i64_strict(a) {
                    Some(n) if n > 0 => v.push(n as u64),
                    Some(_) => {}
                    None => return Reply::err("ERR Invalid client ID"),
                }
            }
            ids = Some(v);
            i = argv.len();
        } else {
            return Reply::err(errors::SYNTAX);
        }
    }
    let mut clients: Vec<_> = ctx.shared.clients.lock().values().cloned().collect();
    clients.sort_by_key(|c| c.id);
    let mut out = String::new();
    for c in clients {
        if let Some(ids) = &ids {
            if !ids.contains(&c.id) {
                continue;
            }
        }
        let own = c.id == ctx.session.id;
        out.push_str(&client_line(&c, ctx.now, if own { "client|list" } else { "" }));
        out.push('\n');
    }
    Reply::Verbatim("txt", out.into_bytes())
}

fn client_kill(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let clients: Vec<_> = ctx.shared.clients.lock().values().cloned().collect();
    if argv.len() == 3 {
        // Old form: CLIENT KILL addr:port
        let addr = String::from_utf8_lossy(argv[2]);
        return match clients.iter().find(|c| c.addr == addr) {
            Some(c) => {
                kill(ctx, c);
                Reply::ok()
            }
            None => Reply::err("ERR No such client"),
        };
    }
    let (mut id, mut addr, mut laddr, mut skipme, mut typ) = (None, None, None, true, None);
    let mut i = 2;
    while i < argv.len() {
        if i + 1 >= argv.len() {
            return Reply::err(errors::SYNTAX);
        }
        let v = argv[i + 1];
        if eq_ic(argv[i], "id") {
            match crate::store::parse_i64_strict(v) {
                Some(n) if n > 0 => id = Some(n as u64),
                _ => return Reply::err("ERR client-id should be greater than 0"),
            }
        } else if eq_ic(argv[i], "addr") {
            addr = Some(String::from_utf8_lossy(v).to_string());
        } else if eq_ic(argv[i], "laddr") {
            laddr = Some(String::from_utf8_lossy(v).to_string());
        } else if eq_ic(argv[i], "type") {
            if !["normal", "master", "replica", "slave", "pubsub"].iter().any(|x| eq_ic(v, x)) {
                return Reply::err(format!("ERR Unknown client type '{}'", String::from_utf8_lossy(v)));
            }
            typ = Some(v.to_ascii_lowercase());
        } else if eq_ic(argv[i], "user") {
            if v != b"default" {
                return Reply::err(format!("ERR No such user '{}'", String::from_utf8_lossy(v)));
            }
        } else if eq_ic(argv[i], "skipme") {
            if eq_ic(v, "yes") {
                skipme = true;
            } else if eq_ic(v, "no") {
                skipme = false;
            } else {
                return Reply::err(errors::SYNTAX);
            }
        } else {
            return Reply::err(errors::SYNTAX);
        }
        i += 2;
    }
    let mut killed = 0;
    for c in &clients {
        if id.is_some_and(|x| x != c.id)
            || addr.as_ref().is_some_and(|a| *a != c.addr)
            || laddr.as_ref().is_some_and(|a| *a != c.laddr)
            || typ.as_ref().is_some_and(|t| t != b"normal")
            || (skipme && c.id == ctx.session.id)
        {
            continue;
        }
        kill(ctx, c);
        killed += 1;
    }
    Reply::Int(killed)
}

fn kill(ctx: &mut Ctx, c: &super::state::ClientInfo) {
    if c.id == ctx.session.id {
        ctx.session.close_after_reply = true;
    } else {
        c.killed.store(true, Ordering::Release);
        ctx.shared.kills_pending.store(true, Ordering::Release);
    }
}

fn client_unblock(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let id = match super::parse_int(argv[2]) {
        Ok(i) => i,
        Err(e) => return e,
    };
    let how = match argv.get(3) {
        None => super::state::Unblock::Timeout,
        Some(a) if eq_ic(a, "timeout") => super::state::Unblock::Timeout,
        Some(a) if eq_ic(a, "error") => super::state::Unblock::Error,
        Some(_) => return Reply::err("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"),
    };
    if argv.len() > 4 {
        return Reply::err(errors::SYNTAX);
    }
    // Clients postponed by CLIENT PAUSE are not blocked on a command: nothing to end.
    let parked = id > 0 && ctx.shared.blocked.lock().clients.get(&(id as u64)).is_some_and(|b| !b.postponed);
    if parked {
        ctx.effects.unblock.push((id as u64, how));
    }
    Reply::Int(parked as i64)
}

/// CLIENT REPLY ON|OFF|SKIP: OFF and SKIP are not answered; SKIP silences only the next
/// command (the worker drops replies while `session.reply` says so).
fn client_reply(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    use super::state::ReplyMode;
    let mode = if eq_ic(argv[2], "on") {
        ReplyMode::On
    } else if eq_ic(argv[2], "off") {
        ReplyMode::Off
    } else if eq_ic(argv[2], "skip") {
        ReplyMode::SkipThis
    } else {
        return Reply::err(super::errors::SYNTAX);
    };
    ctx.session.reply = mode;
    Reply::ok()
}

/// CLIENT PAUSE timeout [WRITE|ALL]: Redis 7.0's clientCommand checks the mode first,
/// then the timeout (milliseconds, relative); the longer end and the stricter mode win.
fn client_pause(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    if argv.len() > 4 {
        return Reply::Error(super::errors::subcommand_syntax(argv));
    }
    let all = match argv.get(3) {
        None => true,
        Some(a) if eq_ic(a, "all") => true,
        Some(a) if eq_ic(a, "write") => false,
        Some(_) => return Reply::err("ERR CLIENT PAUSE mode must be WRITE or ALL"),
    };
    let ms = match super::parse_int(argv[2]) {
        Ok(v) => v,
        Err(_) => return Reply::err("ERR timeout is not an integer or out of range"),
    };
    if ms < 0 {
        return Reply::err("ERR timeout is negative");
    }
    // Redis 7.0 adds the timeout to the clock unchecked; a huge one pauses "forever".
    let now = crate::store::unix_ms();
    let end = if ms > 0 { now.saturating_add(ms) } else { 0 };
    let mut p = ctx.shared.pause.lock();
    if p.end <= now {
        *p = Default::default();
    }
    p.all |= all;
    p.end = p.end.max(end);
    ctx.shared.pause_end.store(p.end, Ordering::Release);
    Reply::ok()
}

/// CLIENT UNPAUSE: ends the pause and re-runs every postponed client's command.
fn client_unpause(ctx: &mut Ctx, _: &[&[u8]]) -> Reply {
    *ctx.shared.pause.lock() = Default::default();
    ctx.shared.pause_end.store(0, Ordering::Release);
    let ids: Vec<u64> =
        ctx.shared.blocked.lock().clients.iter().filter(|(_, b)| b.postponed).map(|(id, _)| *id).collect();
    ctx.effects.unblock.extend(ids.into_iter().map(|id| (id, super::state::Unblock::Resume)));
    Reply::ok()
}

/// Whether CLIENT PAUSE holds back `cmd` now (Redis 7.0's processCommand): every command
/// under ALL; under WRITE, commands flagged write or may-replicate, and EXEC of a
/// transaction that queued one. A pause whose end has passed is cleared here.
pub fn postpones(shared: &super::state::Shared, session: &super::state::Session, cmd: &Command, now: i64) -> bool {
    let mut p = shared.pause.lock();
    if p.end == 0 {
        return false;
    }
    if p.end <= now {
        *p = Default::default();
        shared.pause_end.store(0, Ordering::Release);
        return false;
    }
    if p.all || cmd.has(WRITE | MAY_REPLICATE) {
        return true;
    }
    if cmd.name == "exec" {
        if let Some(q) = &session.multi {
            let t = super::table();
            return q.iter().any(|argv| {
                let args: Vec<&[u8]> = argv.iter().map(|a| a.as_slice()).collect();
                t.resolve(&args).is_ok_and(|id| t.cmds[id].has(WRITE | MAY_REPLICATE))
            });
        }
    }
    false
}

/// CLIENT NO-EVICT ON|OFF: accepted (Rustis has no client eviction, so nothing changes).
fn client_no_evict(_: &mut Ctx, argv: &[&[u8]]) -> Reply {
    if eq_ic(argv[2], "on") || eq_ic(argv[2], "off") {
        Reply::ok()
    } else {
        Reply::err(super::errors::SYNTAX)
    }
}

fn client_help(_: &mut Ctx, _: &[&[u8]]) -> Reply {
    // Redis 7.0's text verbatim (it lists subcommands later issues add).
    help_reply(
        "CLIENT",
        &[
            "CACHING (YES|NO)",
            "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
            "GETREDIR",
            "    Return the client ID we are redirecting to when tracking is enabled.",
            "GETNAME",
            "    Return the name of the current connection.",
            "ID",
            "    Return the ID of the current connection.",
            "INFO",
            "    Return information about the current client connection.",
            "KILL <ip:port>",
            "    Kill connection made from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Kill connections. Options are:",
            "    * ADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made from the specified address",
            "    * LADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made to specified local address",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Kill connections by type.",
            "    * USER <username>",
            "      Kill connections authenticated by <username>.",
            "    * SKIPME (YES|NO)",
            "      Skip killing current connection (default: yes).",
            "LIST [options ...]",
            "    Return information about client connections. Options:",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Return clients of specified type.",
            "UNPAUSE",
            "    Stop the current client pause, resuming traffic.",
            "PAUSE <timeout> [WRITE|ALL]",
            "    Suspend all, or just write, clients for <timeout> milliseconds.",
            "REPLY (ON|OFF|SKIP)",
            "    Control the replies sent to the current connection.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
            "UNBLOCK <clientid> [TIMEOUT|ERROR]",
            "    Unblock the specified blocked client.",
            "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
            "         [OPTIN] [OPTOUT] [NOLOOP]",
            "    Control server assisted client side caching.",
            "TRACKINGINFO",
            "    Report tracking status for the current connection.",
            "NO-EVICT (ON|OFF)",
            "    Protect current client connection from eviction.",
        ],
    )
}

/// Redis's addReplyHelp: a header line, the given lines, and HELP's own entry.
pub fn help_reply(cmd: &str, lines: &[&str]) -> Reply {
    let mut v = vec![Reply::Status(format!("{cmd} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"))];
    v.extend(lines.iter().map(|l| Reply::Status(l.to_string())));
    v.push(Reply::Status("HELP".into()));
    v.push(Reply::Status("    Prints this help.".into()));
    Reply::Array(v)
}
