//! Server commands (COMMAND DOCS group `server`): DBSIZE FLUSHDB FLUSHALL SWAPDB TIME
//! INFO CONFIG COMMAND SHUTDOWN SAVE BGSAVE LASTSAVE (the RDB machinery itself is in
//! `crate::persistence`; this file decides when to save and reports it).
//!
//! Must hold: keyspace-wide commands run with every stripe they cover locked (so they are
//! atomic against multi-key writers); INFO field names are Redis 7.0's, because client
//! libraries and exporters parse them.

use super::errors;
use super::evict::allocated_bytes;
use super::flags::*;
use super::state::{EncLimits, Shared};
use super::{docs, eq_ic, table, Command, Ctx};
use crate::config;
use crate::persistence::{self, rdb, SaveJob, SaveParams, SaveStats};
use crate::protocol::Reply;
use crate::store::glob_match;
use crate::store::unix_ms;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;

/// The Redis version Rustis is compatible with (INFO, HELLO).
pub const REDIS_VERSION: &str = "7.0.15";

const G: &str = "server";

static LATENCY_SUBS: &[Command] = &[
    Command::new("latency|latest", G, 2, ADMIN | NOSCRIPT | LOADING | STALE, latency_latest)
        .tips("nondeterministic_output request_policy:all_nodes response_policy:special")
        .doc("Return the latest latency samples for all events.", "2.8.13", "O(1)"),
    Command::new("latency|history", G, 3, ADMIN | NOSCRIPT | LOADING | STALE, latency_history)
        .tips("nondeterministic_output request_policy:all_nodes response_policy:special")
        .doc("Return timestamp-latency samples for the event.", "2.8.13", "O(1)")
        .args("event"),
    Command::new("latency|reset", G, -2, ADMIN | NOSCRIPT | LOADING | STALE, latency_reset)
        .tips("request_policy:all_nodes response_policy:agg_sum")
        .doc("Reset latency data for one or more events.", "2.8.13", "O(1)")
        .args("[event [event ...]]"),
    Command::new("latency|doctor", G, 2, ADMIN | NOSCRIPT | LOADING | STALE, latency_doctor)
        .tips("nondeterministic_output request_policy:all_nodes response_policy:special")
        .doc("Return a human readable latency analysis report.", "2.8.13", "O(1)"),
    Command::new("latency|histogram", G, -2, ADMIN | NOSCRIPT | LOADING | STALE, latency_histogram)
        .tips("nondeterministic_output request_policy:all_nodes response_policy:special")
        .doc(
            "Return the cumulative distribution of latencies of a subset of commands or all.",
            "7.0.0",
            "O(N) where N is the number of commands with latency information being retrieved.",
        )
        .args("[command [command ...]]"),
    Command::new("latency|help", G, 2, LOADING | STALE, latency_help).doc(
        "Show helpful text about the different subcommands.",
        "2.8.13",
        "O(1)",
    ),
];

static MEMORY_SUBS: &[Command] = &[
    Command::new("memory|usage", G, -3, READONLY, memory_usage)
        .ks("RO")
        .keys(2, 2, 1)
        .doc("Estimate the memory usage of a key", "4.0.0", "O(N) where N is the number of samples.")
        .args("key [SAMPLES count]"),
    Command::new("memory|doctor", G, 2, 0, memory_doctor)
        .tips("nondeterministic_output request_policy:all_shards response_policy:special")
        .doc("Outputs memory problems report", "4.0.0", "O(1)"),
    Command::new("memory|stats", G, 2, 0, memory_stats)
        .tips("nondeterministic_output request_policy:all_shards response_policy:special")
        .doc("Show memory usage details", "4.0.0", "O(1)"),
    Command::new("memory|malloc-stats", G, 2, 0, memory_malloc_stats)
        .tips("nondeterministic_output request_policy:all_shards response_policy:special")
        .doc("Show allocator internal stats", "4.0.0", "Depends on how much memory is allocated, could be slow"),
    Command::new("memory|purge", G, 2, 0, memory_purge)
        .tips("request_policy:all_shards response_policy:all_succeeded")
        .doc("Ask the allocator to release memory", "4.0.0", "Depends on how much memory is allocated, could be slow"),
    Command::new("memory|help", G, 2, LOADING | STALE, memory_help).doc(
        "Show helpful text about the different subcommands",
        "4.0.0",
        "O(1)",
    ),
];

pub static COMMANDS: &[Command] = &[
    Command::new("dbsize", G, 1, READONLY | FAST | DB_STRIPES, dbsize)
        .acl("@keyspace")
        .tips("request_policy:all_shards response_policy:agg_sum")
        .doc("Return the number of keys in the selected database", "1.0.0", "O(1)"),
    Command::new("flushdb", G, -1, WRITE | DB_STRIPES, flushdb)
        .tips("request_policy:all_shards response_policy:all_succeeded")
        .acl("@keyspace @dangerous")
        .doc(
            "Remove all keys from the current database",
            "1.0.0",
            "O(N) where N is the number of keys in the selected database",
        )
        .args("[ASYNC|SYNC]"),
    Command::new("flushall", G, -1, WRITE | ALL_STRIPES, flushall)
        .tips("request_policy:all_shards response_policy:all_succeeded")
        .acl("@keyspace @dangerous")
        .doc("Remove all keys from all databases", "1.0.0", "O(N) where N is the total number of keys in all databases")
        .args("[ASYNC|SYNC]"),
    Command::new("swapdb", G, 3, WRITE | FAST, swapdb)
        .plan(swapdb_plan)
        .acl("@keyspace @dangerous")
        .doc(
            "Swaps two Redis databases",
            "4.0.0",
            "O(N) where N is the count of clients watching or blocking on keys from both databases.",
        )
        .args("index1 index2"),
    Command::new("time", G, 1, LOADING | STALE | FAST, time).tips("nondeterministic_output").doc(
        "Return the current server time",
        "2.6.0",
        "O(1)",
    ),
    Command::new("info", G, -1, LOADING | STALE | SENTINEL, info)
        .tips("nondeterministic_output request_policy:all_shards response_policy:special")
        .acl("@dangerous")
        .doc("Get information and statistics about the server", "1.0.0", "O(1)")
        .args("[section [section ...]]"),
    Command::new("shutdown", G, -1, ADMIN | NOSCRIPT | LOADING | STALE | NO_MULTI | SENTINEL | ALLOW_BUSY, shutdown)
        .doc(
            "Synchronously save the dataset to disk and then shut down the server",
            "1.0.0",
            "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)",
        )
        .args("[NOSAVE|SAVE] [NOW] [FORCE] [ABORT]"),
    Command::new("save", G, 1, ADMIN | NOSCRIPT | NO_ASYNC_LOADING | NO_MULTI, save).doc(
        "Synchronously save the dataset to disk",
        "1.0.0",
        "O(N) where N is the total number of keys in all databases",
    ),
    Command::new("bgsave", G, -1, ADMIN | NOSCRIPT | NO_ASYNC_LOADING, bgsave)
        .doc("Asynchronously save the dataset to disk", "1.0.0", "O(1)")
        .args("[SCHEDULE]"),
    Command::new("bgrewriteaof", G, 1, ADMIN | NOSCRIPT | NO_ASYNC_LOADING, bgrewriteaof).doc(
        "Asynchronously rewrite the append-only file",
        "1.0.0",
        "O(1)",
    ),
    Command::new("debug", G, -2, ADMIN | NOSCRIPT | LOADING | STALE, debug)
        .plan(debug_plan)
        .doc("A container for debugging commands", "1.0.0", "Depends on subcommand.")
        .args("subcommand [argument]"),
    Command::container("memory", G, MEMORY_SUBS).doc(
        "A container for memory diagnostics commands",
        "4.0.0",
        "Depends on subcommand.",
    ),
    Command::container("latency", G, LATENCY_SUBS).doc(
        "A container for latency diagnostics commands",
        "2.8.13",
        "Depends on subcommand.",
    ),
    Command::new("lastsave", G, 1, LOADING | STALE | FAST, lastsave)
        .tips("nondeterministic_output")
        .acl("@admin @dangerous")
        .doc("Get the UNIX time stamp of the last successful save to disk", "1.0.0", "O(1)"),
    Command::new("monitor", G, 1, ADMIN | NOSCRIPT | LOADING | STALE, monitor).doc(
        "Listen for all requests received by the server in real time",
        "1.0.0",
        "",
    ),
    Command::container("slowlog", G, SLOWLOG_SUBS).doc(
        "A container for slow log commands",
        "2.2.12",
        "Depends on subcommand.",
    ),
    Command::container("config", G, CONFIG_SUBS).doc(
        "A container for server configuration commands",
        "2.0.0",
        "Depends on subcommand.",
    ),
    Command::new("command", G, -1, LOADING | STALE | SENTINEL, command)
        .tips("nondeterministic_output_order")
        .acl("@connection")
        .doc("Get array of Redis command details", "2.8.13", "O(N) where N is the total number of Redis commands")
        .subs_of(COMMAND_SUBS),
];

static SLOWLOG_SUBS: &[Command] = &[
    Command::new("slowlog|get", G, -2, ADMIN | LOADING | STALE, slowlog_get)
        .tips("request_policy:all_nodes nondeterministic_output")
        .doc("Get the slow log's entries", "2.2.12", "O(N) where N is the number of entries returned")
        .args("[count]"),
    Command::new("slowlog|len", G, 2, ADMIN | LOADING | STALE, slowlog_len)
        .tips("request_policy:all_nodes response_policy:agg_sum nondeterministic_output")
        .doc("Get the slow log's length", "2.2.12", "O(1)"),
    Command::new("slowlog|reset", G, 2, ADMIN | LOADING | STALE, slowlog_reset)
        .tips("request_policy:all_nodes response_policy:all_succeeded")
        .doc("Clear all entries from the slow log", "2.2.12", "O(N) where N is the number of entries in the slowlog"),
    Command::new("slowlog|help", G, 2, LOADING | STALE, slowlog_help).doc(
        "Show helpful text about the different subcommands",
        "6.2.0",
        "O(1)",
    ),
];

/// MONITOR: from now on the client receives a line for every command any client runs.
fn monitor(ctx: &mut Ctx, _: &[&[u8]]) -> Reply {
    let id = ctx.session.id;
    let mut m = ctx.shared.monitors.lock();
    if !m.iter().any(|(c, _)| *c == id) {
        m.push((id, ctx.session.conn));
        ctx.shared.nmonitors.store(m.len(), Ordering::Release);
    }
    Reply::ok()
}

/// Feeds a command to MONITOR clients (Redis's replicationFeedMonitors): `+<unix time
/// with us> [<db> <addr>] "arg" ...`. Admin and skip_monitor commands are not shown.
pub fn feed_monitors(ctx: &mut Ctx, argv: &[&[u8]]) {
    if ctx.shared.nmonitors.load(Ordering::Acquire) == 0 || ctx.cmd.has(ADMIN) || ctx.cmd.has(SKIP_MONITOR) {
        return;
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let mut line =
        format!("+{}.{:06} [{} {}]", now.as_secs(), now.subsec_micros(), ctx.session.db, ctx.session.info.addr)
            .into_bytes();
    let secret = super::redacted(ctx.cmd, argv);
    for (j, a) in argv.iter().enumerate() {
        line.push(b' ');
        crate::protocol::reply::sds_repr(if secret.contains(&j) { b"(redacted)" } else { a }, &mut line);
    }
    line.extend_from_slice(b"\r\n");
    let line: std::sync::Arc<[u8]> = line.into();
    for (_, conn) in ctx.shared.monitors.lock().iter() {
        ctx.effects.pushes.push((*conn, line.clone()));
    }
}

fn slowlog_get(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let log = ctx.shared.slowlog.lock();
    let mut count: i64 = 10;
    if argv.len() == 3 {
        match crate::store::parse_i64_strict(argv[2]) {
            Some(c) if c >= -1 => count = c,
            _ => return Reply::err("ERR count should be greater than or equal to -1"),
        }
        if count == -1 {
            count = log.entries.len() as i64;
        }
    }
    Reply::Array(
        log.entries
            .iter()
            .take(count as usize)
            .map(|e| {
                Reply::Array(vec![
                    Reply::Int(e.id as i64),
                    Reply::Int(e.time),
                    Reply::Int(e.usec as i64),
                    Reply::Array(e.argv.iter().map(|a| Reply::bulk(a)).collect()),
                    Reply::bulk(e.addr.as_bytes()),
                    Reply::bulk(&e.name),
                ])
            })
            .collect(),
    )
}

fn slowlog_len(ctx: &mut Ctx, _: &[&[u8]]) -> Reply {
    Reply::Int(ctx.shared.slowlog.lock().entries.len() as i64)
}

fn slowlog_reset(ctx: &mut Ctx, _: &[&[u8]]) -> Reply {
    ctx.shared.slowlog.lock().entries.clear();
    Reply::ok()
}

fn slowlog_help(_: &mut Ctx, _: &[&[u8]]) -> Reply {
    super::connection::help_reply(
        "SLOWLOG",
        &[
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
        ],
    )
}

static CONFIG_SUBS: &[Command] = &[
    Command::new("config|get", G, -3, ADMIN | NOSCRIPT | LOADING | STALE, config_get)
        .doc(
            "Get the values of configuration parameters",
            "2.0.0",
            "O(N) when N is the number of configuration parameters provided",
        )
        .args("parameter [parameter ...]"),
    Command::new("config|set", G, -4, ADMIN | NOSCRIPT | LOADING | STALE, config_set)
        .tips("request_policy:all_nodes response_policy:all_succeeded")
        .doc(
            "Set configuration parameters to the given values",
            "2.0.0",
            "O(N) when N is the number of configuration parameters provided",
        )
        .args("parameter value [parameter value ...]"),
    Command::new("config|rewrite", G, 2, ADMIN | NOSCRIPT | LOADING | STALE, config_rewrite).doc(
        "Rewrite the configuration file with the in memory configuration",
        "2.8.0",
        "O(1)",
    ),
    Command::new("config|resetstat", G, 2, ADMIN | NOSCRIPT | LOADING | STALE, config_resetstat).doc(
        "Reset the stats returned by INFO",
        "2.0.0",
        "O(1)",
    ),
    Command::new("config|help", G, 2, LOADING | STALE, config_help).doc(
        "Show helpful text about the different subcommands",
        "5.0.0",
        "O(1)",
    ),
];

static COMMAND_SUBS: &[Command] = &[
    Command::new("command|count", G, 2, LOADING | STALE, command_count).acl("@connection").doc(
        "Get total number of Redis commands",
        "2.8.13",
        "O(1)",
    ),
    Command::new("command|info", G, -2, LOADING | STALE, command_info)
        .tips("nondeterministic_output_order")
        .acl("@connection")
        .doc(
            "Get array of specific Redis command details, or all when no argument is given.",
            "2.8.13",
            "O(N) where N is the number of commands to look up",
        )
        .args("[command-name [command-name ...]]"),
    Command::new("command|docs", G, -2, LOADING | STALE, command_docs)
        .tips("nondeterministic_output_order")
        .acl("@connection")
        .doc(
            "Get array of specific Redis command documentation",
            "7.0.0",
            "O(N) where N is the number of commands to look up",
        )
        .args("[command-name [command-name ...]]"),
    Command::new("command|getkeys", G, -4, LOADING | STALE, command_getkeys)
        .acl("@connection")
        .doc(
            "Extract keys given a full Redis command",
            "2.8.13",
            "O(N) where N is the number of arguments to the command",
        )
        .args("command [arg [arg ...]]"),
    Command::new("command|getkeysandflags", G, -4, LOADING | STALE, command_getkeysandflags)
        .acl("@connection")
        .doc(
            "Extract keys and access flags given a full Redis command",
            "7.0.0",
            "O(N) where N is the number of arguments to the command",
        )
        .args("command [arg [arg ...]]"),
    Command::new("command|list", G, -2, LOADING | STALE, command_list)
        .tips("nondeterministic_output_order")
        .acl("@connection")
        .doc("Get an array of Redis command names", "7.0.0", "O(N) where N is the total number of Redis commands")
        .args("[FILTERBY MODULE module-name|ACLCAT category|PATTERN pattern]"),
    Command::new("command|help", G, 2, LOADING | STALE, command_help).acl("@connection").doc(
        "Show helpful text about the different subcommands",
        "5.0.0",
        "O(1)",
    ),
];

impl Command {
    /// A command that runs on its own and also has subcommands (COMMAND).
    pub const fn subs_of(mut self, subs: &'static [Command]) -> Command {
        self.subs = subs;
        self
    }
}

fn dbsize(ctx: &mut Ctx, _: &[&[u8]]) -> Reply {
    let db = ctx.session.db;
    Reply::Int(ctx.stripes_of(db).map(|s| s.len()).sum::<usize>() as i64)
}

fn flush_mode(argv: &[&[u8]]) -> Result<(), Reply> {
    match argv.len() {
        1 => Ok(()),
        2 if eq_ic(argv[1], "async") || eq_ic(argv[1], "sync") => Ok(()),
        _ => Err(Reply::err(errors::SYNTAX)),
    }
}

/// Frees taken contents off the worker when there is a lot of it.
fn free_later(contents: Vec<crate::store::StripeContents>) {
    let n: usize = contents.iter().map(|c| c.len()).sum();
    if n > 10_000 {
        let _ = std::thread::Builder::new().name("rustis-lazyfree".into()).spawn(move || drop(contents));
    }
}

fn flushdb(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    if let Err(e) = flush_mode(argv) {
        return e;
    }
    let db = ctx.session.db;
    let taken: Vec<_> = ctx.stripes_mut_of(db).into_iter().map(|s| s.take()).collect();
    free_later(taken);
    super::tracking::flushed(ctx.shared, &mut ctx.effects.pushes);
    Reply::ok()
}

fn flushall(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    if let Err(e) = flush_mode(argv) {
        return e;
    }
    let mut taken = Vec::new();
    for db in 0..ctx.shared.keyspace.dbs.len() {
        taken.extend(ctx.stripes_mut_of(db).into_iter().map(|s| s.take()));
    }
    free_later(taken);
    super::tracking::flushed(ctx.shared, &mut ctx.effects.pushes);
    Reply::ok()
}

fn swapdb_ids(ctx: &Ctx, argv: &[&[u8]]) -> Result<(usize, usize), Reply> {
    let parse = |a: &[u8], msg: &str| {
        crate::store::parse_i64_strict(a)
            .filter(|v| *v >= i32::MIN as i64 && *v <= i32::MAX as i64)
            .ok_or_else(|| Reply::err(format!("ERR {msg}")))
    };
    let a = parse(argv[1], "invalid first DB index")?;
    let b = parse(argv[2], "invalid second DB index")?;
    let n = ctx.shared.keyspace.dbs.len() as i64;
    if a < 0 || a >= n || b < 0 || b >= n {
        return Err(Reply::err(errors::DB_INDEX));
    }
    Ok((a as usize, b as usize))
}

fn swapdb_plan(ctx: &Ctx, argv: &[&[u8]], out: &mut Vec<(usize, usize)>) {
    if let Ok((a, b)) = swapdb_ids(ctx, argv) {
        if a != b {
            for s in 0..ctx.shared.keyspace.nstripes() {
                out.push((a, s));
                out.push((b, s));
            }
        }
    }
}

fn swapdb(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let (a, b) = match swapdb_ids(ctx, argv) {
        Ok(x) => x,
        Err(e) => return e,
    };
    if a != b {
        for s in 0..ctx.shared.keyspace.nstripes() {
            ctx.swap_stripes((a, s), (b, s));
        }
    }
    Reply::ok()
}

fn time(_: &mut Ctx, _: &[&[u8]]) -> Reply {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    Reply::Array(vec![
        Reply::Bulk(d.as_secs().to_string().into_bytes()),
        Reply::Bulk(d.subsec_micros().to_string().into_bytes()),
    ])
}

fn shutdown(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let (mut save, mut nosave, mut abort) = (false, false, false);
    for a in &argv[1..] {
        if eq_ic(a, "save") {
            save = true;
        } else if eq_ic(a, "nosave") {
            nosave = true;
        } else if eq_ic(a, "now") || eq_ic(a, "force") {
        } else if eq_ic(a, "abort") {
            abort = true;
        } else {
            return Reply::err(errors::SYNTAX);
        }
    }
    if (save && nosave) || (abort && argv.len() > 2) {
        return Reply::err(errors::SYNTAX);
    }
    if abort {
        return Reply::err("ERR No shutdown in progress.");
    }
    let force = argv[1..].iter().any(|a| eq_ic(a, "force"));
    log::warn!("User requested shutdown...");
    let points = !ctx.shared.config.read().save_points().is_empty();
    if !nosave && (save || points) {
        if let Err(e) = final_save(ctx.shared) {
            if !force {
                log::warn!("Error trying to save the DB, can't exit: {e}");
                return Reply::err("ERR Errors trying to SHUTDOWN. Check logs.");
            }
        }
    }
    ctx.shared.persist.shutdown_handled.store(true, Ordering::Release);
    ctx.shared.shutdown_requested.store(true, Ordering::Release);
    ctx.session.close_after_reply = true;
    Reply::Raw(Vec::new())
}

fn config_get(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let cfg = ctx.shared.config.read();
    let mut pairs: Vec<(String, String)> = Vec::new();
    for pat in &argv[2..] {
        let literal = !pat.iter().any(|c| matches!(c, b'*' | b'?' | b'['));
        if literal {
            if let Some(o) = config::find(&String::from_utf8_lossy(pat)) {
                let k = String::from_utf8_lossy(pat).to_string();
                if !pairs.iter().any(|(pk, _)| pk.eq_ignore_ascii_case(&k)) {
                    pairs.push((k, (o.get)(&cfg)));
                }
            }
            continue;
        }
        for (k, v) in cfg.get_matching(pat, glob_match) {
            if !pairs.iter().any(|(pk, _)| *pk == k) {
                pairs.push((k, v));
            }
        }
    }
    Reply::Map(pairs.into_iter().map(|(k, v)| (Reply::Bulk(k.into_bytes()), Reply::Bulk(v.into_bytes()))).collect())
}

fn config_set(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    if argv.len() % 2 != 0 {
        return Reply::err(errors::SYNTAX);
    }
    let mut cfg = ctx.shared.config.write();
    let mut next = cfg.clone();
    let mut seen: Vec<&str> = Vec::new();
    for pair in argv[2..].chunks(2) {
        let name = String::from_utf8_lossy(pair[0]).to_string();
        let Some(opt) = config::find(&name) else {
            return Reply::err(format!("ERR Unknown option or number of arguments for CONFIG SET - '{name}'"));
        };
        let fail =
            |why: &str| Reply::err(format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {why}"));
        if seen.contains(&opt.name) {
            return fail("duplicate parameter");
        }
        seen.push(opt.name);
        if opt.immutable {
            return fail("can't set immutable config");
        }
        if crate::config::PROTECTED.contains(&opt.name) && !local_allowed(ctx, &cfg.enable_protected_configs) {
            return fail("can't set protected config");
        }
        let val = String::from_utf8_lossy(pair[1]).to_string();
        if let Err(e) = (opt.set)(&mut next, &[val]) {
            return fail(&e);
        }
    }
    if next.loglevel != cfg.loglevel {
        // RUST_LOG, when set, was the operator's explicit choice at start: it stays.
        if std::env::var_os("RUST_LOG").is_none() {
            log::set_max_level(crate::config::log_level_filter(&next.loglevel));
        }
    }
    ctx.shared.enc.load_from(&next);
    let tracking_limit_lower = next.tracking_table_max_keys != cfg.tracking_table_max_keys;
    if next.requirepass != cfg.requirepass {
        super::acl::set_requirepass(ctx.shared, &next.requirepass);
    }
    let aof_change = (next.appendonly != cfg.appendonly).then_some(next.appendonly);
    let notify_change = next.notify_keyspace_events != cfg.notify_keyspace_events;
    if next.appendfsync != cfg.appendfsync {
        if let Some(f) = crate::persistence::aof::Fsync::parse(&next.appendfsync) {
            ctx.shared.aof.set_fsync(f);
        }
    }
    *cfg = next;
    drop(cfg);
    match aof_change {
        Some(true) => {
            if let Err(e) = super::aof::enable(ctx.shared) {
                log::warn!("Can't turn on the AOF: {e}");
                ctx.shared.config.write().appendonly = false;
                return Reply::err("ERR CONFIG SET failed (possibly related to argument 'appendonly') - Unable to turn on AOF. Check server logs.");
            }
        }
        Some(false) => super::aof::disable(ctx.shared),
        None => {
            if notify_change {
                // CONFIG SET holds no stripe lock: safe to visit them all.
                super::aof::track_expired(ctx.shared, ctx.shared.aof.on.load(Ordering::Relaxed));
            }
        }
    }
    if tracking_limit_lower {
        super::tracking::enforce_limit(ctx.shared, ctx.effects);
    }
    Reply::ok()
}

/// CONFIG REWRITE: the startup config file, rewritten in place (temp file + rename).
fn config_rewrite(ctx: &mut Ctx, _: &[&[u8]]) -> Reply {
    let path = ctx.shared.config_file.clone();
    if path.is_empty() {
        return Reply::err("ERR The server is running without a config file");
    }
    let original = std::fs::read_to_string(&path).unwrap_or_default();
    let text = ctx.shared.config.read().rewrite(&original);
    let tmp = format!("{path}.rewrite-{}", std::process::id());
    let res = std::fs::write(&tmp, text).and_then(|_| std::fs::rename(&tmp, &path));
    match res {
        Ok(()) => {
            log::info!("CONFIG REWRITE executed with success");
            Reply::ok()
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            log::warn!("CONFIG REWRITE failed: {e}");
            Reply::err(format!("ERR Rewriting config file: {e}"))
        }
    }
}

fn config_resetstat(ctx: &mut Ctx, _: &[&[u8]]) -> Reply {
    let n = ctx.stats.cmd.len();
    *ctx.stats = super::state::WorkerStats::new(n, ctx.stats.idx);
    let own = ctx.stats as *const super::state::WorkerStats;
    for w in ctx.shared.workers.iter() {
        if !std::ptr::eq(w.data_ptr() as *const _, own) {
            let mut g = w.lock();
            let idx = g.idx;
            *g = super::state::WorkerStats::new(n, idx);
        }
    }
    for l in ctx.shared.worker_live.iter() {
        l.busy_ns.store(0, Ordering::Relaxed);
    }
    let net = &ctx.shared.net;
    net.connections_received.store(0, Ordering::Relaxed);
    net.rejected_connections.store(0, Ordering::Relaxed);
    net.bytes_read.store(0, Ordering::Relaxed);
    net.bytes_written.store(0, Ordering::Relaxed);
    net.msgpack.connections_received.store(0, Ordering::Relaxed);
    net.msgpack.bytes_read.store(0, Ordering::Relaxed);
    net.msgpack.bytes_written.store(0, Ordering::Relaxed);
    net.obuf_disconnections.store(0, Ordering::Relaxed);
    net.rate_limited.store(0, Ordering::Relaxed);
    ctx.shared.stat_reset_ms.store(ctx.now, Ordering::Relaxed);
    Reply::ok()
}

fn config_help(_: &mut Ctx, _: &[&[u8]]) -> Reply {
    super::connection::help_reply(
        "CONFIG",
        &[
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
        ],
    )
}

fn command(_: &mut Ctx, _: &[&[u8]]) -> Reply {
    let t = table();
    Reply::Array(t.top.iter().map(|&i| docs::info(t.cmds[i])).collect())
}

fn command_count(_: &mut Ctx, _: &[&[u8]]) -> Reply {
    Reply::Int(table().top.len() as i64)
}

/// Looks a command up by "name" or "parent|sub".
fn find_cmd(name: &[u8]) -> Option<&'static Command> {
    let t = table();
    t.lookup_user(name).map(|i| t.cmds[i])
}

fn command_info(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    if argv.len() == 2 {
        return command(ctx, argv);
    }
    Reply::Array(argv[2..].iter().map(|n| find_cmd(n).map(docs::info).unwrap_or(Reply::Nil)).collect())
}

fn command_docs(_: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let t = table();
    if argv.len() == 2 {
        return Reply::Map(
            t.top.iter().map(|&i| (Reply::bulk(t.cmds[i].name.as_bytes()), docs::docs(t.cmds[i]))).collect(),
        );
    }
    Reply::Map(
        argv[2..].iter().filter_map(|n| find_cmd(n).map(|c| (Reply::bulk(c.name.as_bytes()), docs::docs(c)))).collect(),
    )
}

fn getkeys(argv: &[&[u8]]) -> Result<(&'static Command, Vec<usize>), Reply> {
    let args = &argv[2..];
    let t = table();
    let mut cmd = find_cmd(args[0]).ok_or_else(|| Reply::err("ERR Invalid command specified"))?;
    if !cmd.subs.is_empty() && args.len() >= 2 {
        let full = format!("{}|{}", cmd.name, String::from_utf8_lossy(args[1]).to_lowercase());
        cmd =
            t.lookup(full.as_bytes()).map(|i| t.cmds[i]).ok_or_else(|| Reply::err("ERR Invalid command specified"))?;
    }
    if cmd.keys.is_none() && !cmd.movable_keys() && cmd.plan.is_none() {
        return Err(Reply::err("ERR The command has no key arguments"));
    }
    let argc = args.len() as i32;
    if (cmd.arity > 0 && cmd.arity != argc) || argc < -cmd.arity {
        return Err(Reply::err("ERR Invalid number of arguments specified for command"));
    }
    let mut pos = Vec::new();
    cmd.key_positions_argv(args, &mut pos);
    if pos.is_empty() {
        return Err(Reply::err("ERR Invalid arguments specified for command"));
    }
    Ok((cmd, pos))
}

fn command_getkeys(_: &mut Ctx, argv: &[&[u8]]) -> Reply {
    match getkeys(argv) {
        Ok((_, pos)) => Reply::Array(pos.into_iter().map(|p| Reply::bulk(argv[2 + p])).collect()),
        Err(e) => e,
    }
}

/// The key-spec flags (RO/RW/OW/RM, access/update/insert/delete, ...) of the key at
/// argument position `p` of `args` (args[0] is the command name): COMMAND
/// GETKEYSANDFLAGS and ACL key permissions.
pub fn key_flags_at(cmd: &Command, args: &[&[u8]], p: usize) -> Vec<&'static str> {
    let in_keynum = cmd.keynum.is_some_and(|kn| p >= (kn.index + kn.firstkey) as usize);
    if let (true, Some(kn)) = (in_keynum, cmd.keynum) {
        return kn.flags.split_whitespace().collect();
    }
    if let Some(spec) = cmd.specs.iter().find(|sp| sp.positions(args).contains(&p)) {
        return spec.flags().split_whitespace().collect();
    }
    // A key position belongs to the last spec that starts at or before it.
    let f = docs::spec_list(cmd).into_iter().rev().find(|s| s.0 as usize <= p).map(|s| s.3).unwrap_or_default();
    if f.contains(&"variable_flags") {
        // Redis's setGetKeys: SET reads the key only with GET.
        let get = args.get(3..).unwrap_or_default().iter().any(|a| eq_ic(a, "get"));
        return if get { vec!["RW", "access", "update"] } else { vec!["OW", "update"] };
    }
    f
}

fn command_getkeysandflags(_: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let (cmd, pos) = match getkeys(argv) {
        Ok(x) => x,
        Err(e) => return e,
    };
    Reply::Array(
        pos.into_iter()
            .map(|p| {
                let fl = key_flags_at(cmd, &argv[2..], p).into_iter().map(|f| Reply::Status(f.to_string())).collect();
                Reply::Array(vec![Reply::bulk(argv[2 + p]), Reply::Set(fl)])
            })
            .collect(),
    )
}

fn command_list(_: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let t = table();
    let mut filter: Option<(String, Vec<u8>)> = None;
    if argv.len() == 5 && eq_ic(argv[2], "filterby") {
        let kind = String::from_utf8_lossy(argv[3]).to_lowercase();
        if !["module", "aclcat", "pattern"].contains(&kind.as_str()) {
            return Reply::err(errors::SYNTAX);
        }
        filter = Some((kind, argv[4].to_vec()));
    } else if argv.len() != 2 {
        return Reply::err(errors::SYNTAX);
    }
    let mut out = Vec::new();
    for c in &t.cmds {
        let keep = match &filter {
            None => true,
            Some((k, v)) if k == "pattern" => glob_match(v, c.name.as_bytes(), true),
            Some((k, v)) if k == "aclcat" => {
                let want = format!("@{}", String::from_utf8_lossy(v).to_lowercase());
                c.acl_categories().contains(&want)
            }
            Some(_) => false,
        };
        if keep {
            out.push(Reply::bulk(c.name.as_bytes()));
        }
    }
    Reply::Array(out)
}

fn command_help(_: &mut Ctx, _: &[&[u8]]) -> Reply {
    super::connection::help_reply(
        "COMMAND",
        &[
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
            "GETKEYSANDFLAGS <full-command>",
            "    Return the keys and the access flags from a full Redis command.",
        ],
    )
}

fn human(bytes: u64) -> String {
    let b = bytes as f64;
    if b < 1024.0 {
        format!("{bytes}B")
    } else if b < 1024.0 * 1024.0 {
        format!("{:.2}K", b / 1024.0)
    } else if b < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}M", b / (1024.0 * 1024.0))
    } else {
        format!("{:.2}G", b / (1024.0 * 1024.0 * 1024.0))
    }
}

fn rss_bytes() -> u64 {
    let s = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = s.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0);
    pages * 4096
}

fn cpu_times() -> (f64, f64) {
    // SAFETY: getrusage fills the struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    (t(ru.ru_stime), t(ru.ru_utime))
}

const DEFAULT_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
];
const ALL_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "commandstats",
    "errorstats",
    "latencystats",
    "cluster",
    "keyspace",
];

fn info(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let mut wanted: Vec<String> = Vec::new();
    for a in &argv[1..] {
        let s = String::from_utf8_lossy(a).to_lowercase();
        match s.as_str() {
            "default" => wanted.extend(DEFAULT_SECTIONS.iter().map(|s| s.to_string())),
            "all" | "everything" => wanted.extend(ALL_SECTIONS.iter().map(|s| s.to_string())),
            _ => wanted.push(s),
        }
    }
    if wanted.is_empty() {
        wanted.extend(DEFAULT_SECTIONS.iter().map(|s| s.to_string()));
    }
    let mut out = String::new();
    for sec in ALL_SECTIONS {
        if !wanted.iter().any(|w| w == sec) {
            continue;
        }
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        info_section(ctx, sec, &mut out);
    }
    Reply::Verbatim("txt", out.into_bytes())
}

/// Sums every worker's counters (our own is passed in, the others are locked briefly).
fn with_all_stats(ctx: &Ctx, mut f: impl FnMut(&super::state::WorkerStats)) {
    f(ctx.stats);
    let own = ctx.stats as *const super::state::WorkerStats;
    for w in ctx.shared.workers.iter() {
        // Our own worker's stats are `ctx.stats` (its mutex is held by this worker).
        if std::ptr::eq(w.data_ptr() as *const _, own) {
            continue;
        }
        // Another worker holds its own stats for one message at most; wait for it.
        let s = w.lock();
        f(&s);
    }
}

fn info_section(ctx: &mut Ctx, sec: &str, o: &mut String) {
    let sh = ctx.shared;
    let now = ctx.now;
    let cfg = sh.config.read().clone();
    match sec {
        "server" => {
            let uptime = (now - sh.start_ms) / 1000;
            let uname = uname();
            let _ = write!(
                o,
                "# Server\r\nredis_version:{REDIS_VERSION}\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\nredis_build_id:0\r\nredis_mode:standalone\r\nos:{uname}\r\narch_bits:64\r\nmonotonic_clock:POSIX clock_gettime\r\nmultiplexing_api:epoll\r\natomicvar_api:c11-builtin\r\ngcc_version:0.0.0\r\nprocess_id:{}\r\nprocess_supervised:no\r\nrun_id:{}\r\ntcp_port:{}\r\nserver_time_usec:{}\r\nuptime_in_seconds:{}\r\nuptime_in_days:{}\r\nhz:{}\r\nconfigured_hz:{}\r\nlru_clock:{}\r\nexecutable:{}\r\nconfig_file:{}\r\nio_threads_active:0\r\nrustis_version:{}\r\nrustis_workers:{}\r\nrustis_stripes:{}\r\n",
                std::process::id(),
                sh.run_id,
                sh.port,
                now * 1000,
                uptime,
                uptime / 86400,
                cfg.hz,
                cfg.hz,
                crate::store::lru_clock(now) & 0xff_ffff,
                sh.executable,
                sh.config_file,
                env!("CARGO_PKG_VERSION"),
                sh.workers.len(),
                sh.keyspace.nstripes(),
            );
        }
        "clients" => {
            let mp_clients = sh.net.msgpack.connected_clients.load(Ordering::Relaxed);
            let _ = write!(
                o,
                "# Clients\r\nconnected_clients:{}\r\ncluster_connections:0\r\nmaxclients:{}\r\nclient_recent_max_input_buffer:0\r\nclient_recent_max_output_buffer:0\r\nblocked_clients:{}\r\ntracking_clients:{}\r\nclients_in_timeout_table:{}\r\nrustis_resp_clients:{}\r\nrustis_msgpack_clients:{}\r\n",
                sh.net.connected_clients.load(Ordering::Relaxed),
                cfg.maxclients,
                sh.nblocked.load(Ordering::Relaxed),
                sh.ntracking.load(Ordering::Relaxed),
                sh.nblocked.load(Ordering::Relaxed),
                sh.net.connected_clients.load(Ordering::Relaxed).saturating_sub(mp_clients),
                mp_clients,
            );
        }
        "memory" => {
            let (used, rss) = (allocated_bytes(), rss_bytes());
            let (maxmem, policy) = {
                let c = sh.config.read();
                (c.maxmemory, c.maxmemory_policy.clone())
            };
            let _ = write!(
                o,
                "# Memory\r\nused_memory:{used}\r\nused_memory_human:{}\r\nused_memory_rss:{rss}\r\nused_memory_rss_human:{}\r\nused_memory_peak:{used}\r\nused_memory_peak_human:{}\r\nmaxmemory:{maxmem}\r\nmaxmemory_human:{}\r\nmaxmemory_policy:{policy}\r\nmem_fragmentation_ratio:{:.2}\r\nmem_allocator:jemalloc-5.3.0\r\nlazyfree_pending_objects:0\r\n",
                human(used),
                human(rss),
                human(used),
                human(maxmem),
                if used > 0 { rss as f64 / used as f64 } else { 0.0 }
            );
        }
        "persistence" => {
            let st = sh.persist.status();
            let bg = st.in_progress && st.background && !st.aof_rewrite;
            let aof_on = sh.aof.on.load(Ordering::Relaxed);
            let now = unix_ms();
            let _ = write!(
                o,
                "# Persistence\r\nloading:0\r\nasync_loading:0\r\ncurrent_cow_peak:0\r\ncurrent_cow_size:0\r\ncurrent_cow_size_age:0\r\ncurrent_fork_perc:0.00\r\ncurrent_save_keys_processed:0\r\ncurrent_save_keys_total:0\r\nrdb_changes_since_last_save:{}\r\nrdb_bgsave_in_progress:{}\r\nrdb_last_save_time:{}\r\nrdb_last_bgsave_status:{}\r\nrdb_last_bgsave_time_sec:{}\r\nrdb_current_bgsave_time_sec:{}\r\nrdb_saves:{}\r\nrdb_last_cow_size:0\r\nrdb_last_load_keys_expired:{}\r\nrdb_last_load_keys_loaded:{}\r\naof_enabled:{}\r\naof_rewrite_in_progress:{}\r\naof_rewrite_scheduled:{}\r\naof_last_rewrite_time_sec:{}\r\naof_current_rewrite_time_sec:{}\r\naof_last_bgrewrite_status:{}\r\naof_rewrites:{}\r\naof_rewrites_consecutive_failures:0\r\naof_last_write_status:{}\r\naof_last_cow_size:0\r\nmodule_fork_in_progress:0\r\nmodule_fork_last_cow_size:0\r\n",
                sh.dirty().saturating_sub(st.dirty_at_save),
                bg as u8,
                st.last_save,
                if st.last_ok { "ok" } else { "err" },
                st.last_bgsave_secs,
                if bg { (now - st.started_ms) / 1000 } else { -1 },
                st.saves,
                st.last_load_keys_expired,
                st.last_load_keys_loaded,
                aof_on as u8,
                (st.in_progress && st.aof_rewrite) as u8,
                st.aof_rewrite_scheduled as u8,
                st.aof_last_rewrite_secs,
                if st.in_progress && st.aof_rewrite { (now - st.started_ms) / 1000 } else { -1 },
                if st.aof_last_rewrite_ok { "ok" } else { "err" },
                st.aof_rewrites,
                if sh.aof.last_write_ok() { "ok" } else { "err" },
            );
            if aof_on {
                let _ = write!(
                    o,
                    "aof_current_size:{}\r\naof_base_size:{}\r\naof_pending_rewrite:{}\r\naof_buffer_length:{}\r\naof_pending_bio_fsync:0\r\naof_delayed_fsync:0\r\n",
                    super::aof::total_size(sh),
                    st.aof_base_size,
                    st.aof_rewrite_scheduled as u8,
                    sh.aof.buffered(),
                );
            }
        }
        "stats" => {
            let (mut cmds, mut hits, mut misses, mut errs) = (0u64, 0u64, 0u64, 0u64);
            let (mut contended, mut wait_ns) = (0u64, 0u64);
            let mut scripts = [0u64; 3];
            with_all_stats(ctx, |s| {
                scripts[0] += s.scripts_parallel;
                scripts[1] += s.scripts_exclusive;
                scripts[2] += s.script_rollbacks;
                cmds += s.commands;
                hits += s.hits;
                misses += s.misses;
                errs += s.errors.values().sum::<u64>();
                contended += s.lock_contended;
                wait_ns += s.lock_wait_ns;
            });
            let mut expired = 0u64;
            for (d, db) in sh.keyspace.dbs.iter().enumerate() {
                for s in 0..db.stripes.len() {
                    expired += ctx.with_stripe(d, s, |st| st.expired);
                }
            }
            let n = &sh.net;
            let ps = sh.pubsub.read().counts();
            let trk = super::tracking::totals(sh);
            let _ = write!(
                o,
                "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\ninstantaneous_ops_per_sec:0\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\ntotal_net_repl_input_bytes:0\r\ntotal_net_repl_output_bytes:0\r\ninstantaneous_input_kbps:0.00\r\ninstantaneous_output_kbps:0.00\r\ninstantaneous_input_repl_kbps:0.00\r\ninstantaneous_output_repl_kbps:0.00\r\nrejected_connections:{}\r\nsync_full:0\r\nsync_partial_ok:0\r\nsync_partial_err:0\r\nexpired_keys:{}\r\nexpired_stale_perc:0.00\r\nexpired_time_cap_reached_count:0\r\nexpire_cycle_cpu_milliseconds:0\r\nevicted_keys:{}\r\nevicted_clients:0\r\ntotal_eviction_exceeded_time:0\r\ncurrent_eviction_exceeded_time:0\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\npubsub_channels:{}\r\npubsub_patterns:{}\r\npubsubshard_channels:{}\r\nlatest_fork_usec:0\r\ntotal_forks:0\r\nmigrate_cached_sockets:0\r\nslave_expires_tracked_keys:0\r\nactive_defrag_hits:0\r\nactive_defrag_misses:0\r\nactive_defrag_key_hits:0\r\nactive_defrag_key_misses:0\r\ntotal_active_defrag_time:0\r\ncurrent_active_defrag_time:0\r\ntracking_total_keys:{}\r\ntracking_total_items:{}\r\ntracking_total_prefixes:{}\r\nunexpected_error_replies:0\r\ntotal_error_replies:{}\r\ndump_payload_sanitizations:0\r\ntotal_reads_processed:0\r\ntotal_writes_processed:0\r\nio_threaded_reads_processed:0\r\nio_threaded_writes_processed:0\r\nreply_buffer_shrinks:0\r\nreply_buffer_expands:0\r\nrustis_lock_contended:{}\r\nrustis_lock_wait_usec:{}\r\nrustis_output_limit_disconnections:{}\r\nrustis_rate_limited:{}\r\nrustis_scripts_parallel:{}\r\nrustis_scripts_exclusive:{}\r\nrustis_script_rollbacks:{}\r\n",
                n.connections_received.load(Ordering::Relaxed),
                cmds,
                n.bytes_read.load(Ordering::Relaxed),
                n.bytes_written.load(Ordering::Relaxed),
                n.rejected_connections.load(Ordering::Relaxed),
                expired,
                sh.evicted_keys.load(Ordering::Relaxed),
                hits,
                misses,
                ps.0,
                ps.1,
                ps.2,
                trk.0,
                trk.1,
                trk.2,
                errs,
                contended,
                wait_ns / 1000,
                n.obuf_disconnections.load(Ordering::Relaxed),
                n.rate_limited.load(Ordering::Relaxed),
                scripts[0],
                scripts[1],
                scripts[2],
            );
        }
        "replication" => {
            let _ = write!(
                o,
                "# Replication\r\nrole:master\r\nconnected_slaves:0\r\nmaster_failover_state:no-failover\r\nmaster_replid:{}\r\nmaster_replid2:0000000000000000000000000000000000000000\r\nmaster_repl_offset:0\r\nsecond_repl_offset:-1\r\nrepl_backlog_active:0\r\nrepl_backlog_size:1048576\r\nrepl_backlog_first_byte_offset:0\r\nrepl_backlog_histlen:0\r\n",
                sh.run_id
            );
        }
        "cpu" => {
            let (sys, user) = cpu_times();
            let _ = write!(
                o,
                "# CPU\r\nused_cpu_sys:{sys:.6}\r\nused_cpu_user:{user:.6}\r\nused_cpu_sys_children:0.000000\r\nused_cpu_user_children:0.000000\r\nused_cpu_sys_main_thread:{sys:.6}\r\nused_cpu_user_main_thread:{user:.6}\r\n"
            );
        }
        "modules" => o.push_str("# Modules\r\n"),
        "commandstats" => {
            let t = table();
            let mut agg = vec![super::state::CmdStat::default(); t.len()];
            with_all_stats(ctx, |s| {
                for (a, c) in agg.iter_mut().zip(&s.cmd) {
                    a.calls += c.calls;
                    a.usec += c.usec;
                    a.rejected += c.rejected;
                    a.failed += c.failed;
                }
            });
            o.push_str("# Commandstats\r\n");
            for (i, a) in agg.iter().enumerate() {
                if a.calls == 0 && a.rejected == 0 && a.failed == 0 {
                    continue;
                }
                let per = if a.calls > 0 { a.usec as f64 / a.calls as f64 } else { 0.0 };
                let _ = write!(
                    o,
                    "cmdstat_{}:calls={},usec={},usec_per_call={:.2},rejected_calls={},failed_calls={}\r\n",
                    t.cmds[i].name, a.calls, a.usec, per, a.rejected, a.failed
                );
            }
        }
        "errorstats" => {
            let mut errs: std::collections::BTreeMap<String, u64> = Default::default();
            with_all_stats(ctx, |s| {
                for (k, v) in &s.errors {
                    *errs.entry(k.clone()).or_default() += v;
                }
            });
            o.push_str("# Errorstats\r\n");
            for (k, v) in errs {
                let _ = write!(o, "errorstat_{k}:count={v}\r\n");
            }
        }
        "latencystats" => {
            let t = table();
            let mut agg: Vec<Option<crate::metrics::FineHist>> = vec![None; t.len()];
            with_all_stats(ctx, |s| {
                for (a, h) in agg.iter_mut().zip(&s.lat) {
                    if let Some(h) = h {
                        a.get_or_insert_with(Default::default).merge(h);
                    }
                }
            });
            let pcts = sh.config.read().latency_tracking_info_percentiles.clone();
            o.push_str("# Latencystats\r\n");
            for (i, h) in agg.iter().enumerate() {
                let Some(h) = h.as_ref().filter(|h| h.total() > 0) else { continue };
                let _ = write!(o, "latency_percentiles_usec_{}:", t.cmds[i].name);
                for (j, p) in pcts.iter().enumerate() {
                    if j > 0 {
                        o.push(',');
                    }
                    let v = h.value_at_percentile(*p) as f64 / 1000.0;
                    let _ = write!(o, "p{}={v:.3}", crate::config::fmt_percentile(*p));
                }
                o.push_str("\r\n");
            }
        }
        "cluster" => o.push_str("# Cluster\r\ncluster_enabled:0\r\n"),
        "keyspace" => {
            o.push_str("# Keyspace\r\n");
            for (i, db) in sh.keyspace.dbs.iter().enumerate() {
                let (mut keys, mut vol) = (0usize, 0usize);
                for s in 0..db.stripes.len() {
                    ctx.with_stripe(i, s, |g| {
                        keys += g.len();
                        vol += g.volatile_len();
                    });
                }
                if keys > 0 {
                    let _ = write!(o, "db{i}:keys={keys},expires={vol},avg_ttl=0\r\n");
                }
            }
        }
        _ => {}
    }
}

fn uname() -> String {
    // SAFETY: uname fills the struct we pass; fields are NUL-terminated C strings.
    unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut u) != 0 {
            return "Linux".into();
        }
        let f = |a: &[libc::c_char]| std::ffi::CStr::from_ptr(a.as_ptr()).to_string_lossy().to_string();
        format!("{} {} {}", f(&u.sysname), f(&u.release), f(&u.machine))
    }
}

// ---------------------------------------------------------------------------------------
// SAVE BGSAVE LASTSAVE and the save machinery's entry points
// ---------------------------------------------------------------------------------------

/// Where and how to save, from the config in force.
pub fn save_params(sh: &Shared) -> SaveParams {
    let c = sh.config.read();
    SaveParams {
        dir: c.dir.clone(),
        dbfilename: c.dbfilename.clone(),
        opts: rdb::SaveOpts { compress: c.rdbcompression, list_max_listpack_size: c.list_max_listpack_size },
        checksum: c.rdbchecksum,
        used_mem: allocated_bytes(),
        version: REDIS_VERSION,
        as_commands: false,
        functions: sh.functions.read().libs.values().map(|l| l.code.clone()).collect(),
    }
}

/// The encoding limits loaded values are rebuilt with.
pub fn load_limits(sh: &Shared) -> rdb::LoadLimits {
    let e = &sh.enc;
    rdb::LoadLimits {
        hash: crate::store::hash::HashLimits {
            max_entries: EncLimits::get(&e.hash_max_listpack_entries),
            max_value: EncLimits::get(&e.hash_max_listpack_value),
        },
        zset: crate::store::zset::Limits {
            entries: EncLimits::get(&e.zset_max_listpack_entries),
            value: EncLimits::get(&e.zset_max_listpack_value),
        },
        max_intset: EncLimits::get(&e.set_max_intset_entries),
    }
}

/// Runs a synchronous save (SAVE, SHUTDOWN) on the calling thread, which must hold no
/// stripe lock. `Err(None)`: another save is running.
pub fn save_sync(sh: &Shared) -> Result<SaveStats, Option<String>> {
    let now = unix_ms();
    if !sh.persist.try_start(false, now) {
        return Err(None);
    }
    let dirty = sh.dirty();
    let begun = persistence::begin(&sh.keyspace, now);
    let res = persistence::write_snapshot(&sh.keyspace, begun, &save_params(sh));
    sh.persist.finish(&res, dirty, unix_ms());
    match res {
        Ok(s) => {
            log::info!("DB saved on disk ({} keys, {} bytes, {} ms)", s.keys, s.bytes, s.millis);
            Ok(s)
        }
        Err(e) => {
            log::warn!("Error saving DB on disk: {e}");
            Err(Some(e))
        }
    }
}

/// Opens a snapshot now and hands it to the saver thread. False if a save is running.
pub fn bgsave_start(sh: &Shared, why: &str) -> bool {
    let now = unix_ms();
    if !sh.persist.try_start(true, now) {
        return false;
    }
    let dirty = sh.dirty();
    let begun = persistence::begin(&sh.keyspace, now);
    log::info!("Background saving started ({why})");
    sh.persist.submit(SaveJob { begun, dirty, aof_incr_seq: None });
    true
}

/// The saver thread's work for one BGSAVE job.
pub fn bgsave_run(sh: &Shared, job: SaveJob) {
    let res = persistence::write_snapshot(&sh.keyspace, job.begun, &save_params(sh));
    sh.persist.finish(&res, job.dirty, unix_ms());
    match res {
        Ok(s) => log::info!(
            "Background saving terminated with success ({} keys, {} bytes, {} ms, {} keys copied before write)",
            s.keys,
            s.bytes,
            s.millis,
            s.cow_keys
        ),
        Err(e) => log::warn!("Background saving error: {e}"),
    }
}

/// Save-point cron (Redis's serverCron part): starts a BGSAVE when a `save` point is
/// reached or one was scheduled. Called by the saver thread every 100 ms.
pub fn save_cron(sh: &Shared) {
    let now = unix_ms();
    let st = sh.persist.status();
    if st.in_progress {
        return;
    }
    if st.aof_rewrite_scheduled {
        // Cleared only once the rewrite is marked in progress: INFO never shows neither
        // scheduled nor in progress in between (a client waiting on both would stop early).
        let _ = super::aof::rewrite_start(sh);
        sh.persist.with(|s| s.aof_rewrite_scheduled = false);
        return;
    }
    if st.scheduled {
        bgsave_start(sh, "scheduled");
        sh.persist.with(|s| s.scheduled = false);
        return;
    }
    if sh.aof.on.load(Ordering::Relaxed) {
        let (perc, min) = {
            let c = sh.config.read();
            (c.auto_aof_rewrite_percentage, c.auto_aof_rewrite_min_size)
        };
        if perc > 0 {
            let size = super::aof::total_size(sh);
            let base = st.aof_base_size.max(1);
            if size > min && size > base && (size - base) * 100 / base >= perc {
                log::info!("Starting automatic rewriting of AOF on {}% growth", (size - base) * 100 / base);
                let _ = super::aof::rewrite_start(sh);
                return;
            }
        }
    }
    let changes = sh.dirty().saturating_sub(st.dirty_at_save);
    if changes == 0 {
        return;
    }
    let points = sh.config.read().save_points();
    let elapsed = now / 1000 - st.last_save;
    // After a failed save, retry only every 5 seconds (CONFIG_BGSAVE_RETRY_DELAY).
    let may_retry = st.last_ok || now - st.last_try_ms >= 5000;
    for (secs, need) in points {
        if changes >= need && elapsed >= secs as i64 && may_retry {
            bgsave_start(sh, &format!("{changes} changes in {secs} seconds"));
            return;
        }
    }
}

/// The save at shutdown (SHUTDOWN, SIGTERM with save points): waits for a running
/// BGSAVE, then saves synchronously.
pub fn final_save(sh: &Shared) -> Result<(), String> {
    log::warn!("Saving the final RDB snapshot before exiting.");
    loop {
        sh.persist.wait_idle();
        match save_sync(sh) {
            Ok(_) => return Ok(()),
            Err(Some(e)) => return Err(e),
            Err(None) => continue,
        }
    }
}

/// Redis's writeCommandsDeniedByDiskError: the error write commands get while the last
/// RDB save failed (with save points and stop-writes-on-bgsave-error) or while the AOF
/// cannot be written.
pub fn writes_denied(sh: &Shared) -> Option<String> {
    if sh.aof.on.load(Ordering::Relaxed) {
        if let Some(e) = sh.aof.failing() {
            return Some(format!("MISCONF {e}"));
        }
    }
    if !sh.persist.last_failed.load(Ordering::Relaxed) {
        return None;
    }
    let c = sh.config.read();
    (c.stop_writes_on_bgsave_error && !c.save_points().is_empty()).then(|| MISCONF.to_string())
}

pub const MISCONF: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";

fn save(ctx: &mut Ctx, _: &[&[u8]]) -> Reply {
    // Redis refuses SAVE only while a BGSAVE runs; an AOF rewrite is waited for here.
    let st = ctx.shared.persist.status();
    if st.in_progress && st.aof_rewrite {
        ctx.shared.persist.wait_idle();
    }
    match save_sync(ctx.shared) {
        Ok(_) => Reply::ok(),
        Err(None) => Reply::err("ERR Background save already in progress"),
        Err(Some(_)) => Reply::err("ERR"),
    }
}

fn bgsave(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let schedule = match argv.len() {
        1 => false,
        2 if eq_ic(argv[1], "schedule") => true,
        _ => return Reply::err(errors::SYNTAX),
    };
    let st = ctx.shared.persist.status();
    if st.in_progress && st.background && !st.aof_rewrite {
        return Reply::err("ERR Background save already in progress");
    }
    // Inside EXEC this worker holds stripe locks, so the snapshot cannot open here: the
    // saver thread starts it right after (Redis schedules it too).
    if ctx.session.in_exec || (st.in_progress && schedule) {
        ctx.shared.persist.with(|s| s.scheduled = true);
        return Reply::Status("Background saving scheduled".into());
    }
    if st.in_progress {
        return Reply::err(
            "ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.",
        );
    }
    if bgsave_start(ctx.shared, "BGSAVE") {
        Reply::Status("Background saving started".into())
    } else {
        Reply::err("ERR Background save already in progress")
    }
}

fn lastsave(ctx: &mut Ctx, _: &[&[u8]]) -> Reply {
    Reply::Int(ctx.shared.persist.status().last_save)
}

fn bgrewriteaof(ctx: &mut Ctx, _: &[&[u8]]) -> Reply {
    let st = ctx.shared.persist.status();
    if st.in_progress && st.aof_rewrite {
        return Reply::err("ERR Background append only file rewriting already in progress");
    }
    if st.in_progress || ctx.session.in_exec {
        ctx.shared.persist.with(|s| s.aof_rewrite_scheduled = true);
        return Reply::Status("Background append only file rewriting scheduled".into());
    }
    match super::aof::rewrite_start(ctx.shared) {
        Ok(()) => Reply::Status("Background append only file rewriting started".into()),
        Err(None) => {
            ctx.shared.persist.with(|s| s.aof_rewrite_scheduled = true);
            Reply::Status("Background append only file rewriting scheduled".into())
        }
        Err(Some(_)) => Reply::err(
            "ERR Can't execute an AOF background rewriting. Please check the server logs for more information.",
        ),
    }
}

// ---------------------------------------------------------------------------------------
// DEBUG (the subcommands tests and tools rely on)
// ---------------------------------------------------------------------------------------

fn debug_plan(ctx: &Ctx, argv: &[&[u8]], out: &mut Vec<(usize, usize)>) {
    if argv.len() >= 3 && eq_ic(argv[1], "object") {
        out.push(super::plan_key(ctx, ctx.session.db, argv[2]));
    }
}

fn debug_allowed(ctx: &Ctx) -> bool {
    let v = ctx.shared.config.read().enable_debug_command.clone();
    local_allowed(ctx, &v)
}

/// Redis's allowProtectedAction: `yes`, or `local` and a loopback client.
fn local_allowed(ctx: &Ctx, setting: &str) -> bool {
    match setting {
        "yes" => true,
        "local" => {
            let a = &ctx.session.info.addr;
            a.starts_with("127.") || a.starts_with("[::1]") || a.starts_with("::1")
        }
        _ => false,
    }
}

fn debug(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    if !debug_allowed(ctx) {
        return Reply::err("ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.");
    }
    let sub = String::from_utf8_lossy(argv[1]).to_ascii_lowercase();
    match (sub.as_str(), argv.len()) {
        ("help", 2) => super::connection::help_reply(
            "DEBUG",
            &[
                "JMAP",
                "    Does nothing (Rustis has no Java heap either).",
                "OBJECT <key>",
                "    Show low level info about the `key` and associated value.",
                "RELOAD",
                "    Save the RDB on disk and reload it back to memory.",
                "SET-ACTIVE-EXPIRE <0|1>",
                "    Setting it to 0 disables expiring keys in background when they are not",
                "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
                "    default.",
                "SLEEP <seconds>",
                "    Stop the server for <seconds>. Decimals allowed.",
            ],
        ),
        ("sleep", 3) => {
            let secs = String::from_utf8_lossy(argv[2]).parse::<f64>().unwrap_or(0.0);
            if secs > 0.0 && secs.is_finite() {
                std::thread::sleep(std::time::Duration::from_secs_f64(secs.min(3600.0)));
            }
            Reply::ok()
        }
        ("jmap", 2) => Reply::ok(),
        ("set-active-expire", 3) => {
            let on = crate::store::parse_i64_strict(argv[2]).unwrap_or(1) != 0;
            ctx.shared.active_expire.store(on, Ordering::Relaxed);
            Reply::ok()
        }
        ("object", 3) => {
            let Some(it) = ctx.peek(argv[2]) else { return Reply::err("ERR no such key") };
            let mut w = rdb::Writer::new(rdb::SaveOpts::default());
            w.value(&it.val);
            let lru = it.lru.load(Ordering::Relaxed);
            let idle = crate::store::lru_clock(ctx.now).saturating_sub(lru);
            let refcount = match it.val {
                crate::store::Value::Int(i) if (0..10000).contains(&i) => i32::MAX as i64,
                _ => 1,
            };
            let mut s = format!(
                "Value at:{:p} refcount:{refcount} encoding:{} serializedlength:{} lru:{} lru_seconds_idle:{idle}",
                &it.val,
                it.val.encoding(),
                w.buf.len(),
                lru & 0xff_ffff,
            );
            if let crate::store::Value::List(l) = &it.val {
                let nodes = rdb::Reader::new(&w.buf).length().unwrap_or(0);
                let fill = ctx.shared.config.read().list_max_listpack_size;
                let _ = write!(
                    s,
                    " ql_nodes:{} ql_avg_node:{:.2} ql_listpack_max:{fill} ql_compressed:0 ql_uncompressed_size:{}",
                    nodes,
                    l.len() as f64 / nodes.max(1) as f64,
                    {
                        let mut lp = persistence::packed::ListpackWriter::new();
                        for e in l.iter() {
                            lp.push_str(e);
                        }
                        lp.byte_len() + nodes.saturating_sub(1) as usize * 7
                    }
                );
            }
            Reply::Status(s)
        }
        ("reload", 2) => {
            // Save, empty the dataset, load the file back (like Redis; other clients keep
            // running here, so writes between the save and the load are lost, as in Redis
            // they could not happen).
            if !ctx.locks.is_empty() {
                return Reply::err("ERR DEBUG RELOAD can't run inside a transaction");
            }
            if save_sync(ctx.shared).is_err() {
                return Reply::err("ERR Error trying to save the DB");
            }
            for db in ctx.shared.keyspace.dbs.iter() {
                for s in db.stripes.iter() {
                    drop(s.write().take());
                }
            }
            let path = save_params(ctx.shared).path();
            match persistence::load(&ctx.shared.keyspace, &path, load_limits(ctx.shared), unix_ms()) {
                Ok(_) => Reply::ok(),
                Err(e) => {
                    log::warn!("DEBUG RELOAD: {e}");
                    Reply::err("ERR Error trying to load the RDB dump, check server logs.")
                }
            }
        }
        _ => Reply::Error(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try DEBUG HELP.",
            String::from_utf8_lossy(argv[1])
        )),
    }
}

// ---------------------------------------------------------------------------------------
// MEMORY
// ---------------------------------------------------------------------------------------

/// MEMORY USAGE: the item (64 bytes), the key's and the value's heap bytes. Rustis's own
/// layout, so figures differ from Redis's except for small strings.
fn memory_usage(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let mut i = 3;
    while i < argv.len() {
        if eq_ic(argv[i], "samples") && i + 1 < argv.len() {
            match crate::store::parse_i64_strict(argv[i + 1]) {
                Some(n) if n >= 0 => {}
                Some(_) => return Reply::err(errors::SYNTAX),
                None => return Reply::err(errors::NOT_INT),
            }
            i += 2;
        } else {
            return Reply::err(errors::SYNTAX);
        }
    }
    match ctx.peek(argv[2]) {
        Some(it) => {
            Reply::Int((std::mem::size_of::<crate::store::Item>() + it.key.heap_size() + it.val.heap_size()) as i64)
        }
        None => Reply::Nil,
    }
}

fn memory_doctor(_: &mut Ctx, _: &[&[u8]]) -> Reply {
    let text = if allocated_bytes() < 5 * 1024 * 1024 {
        "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n"
    } else {
        "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n"
    };
    Reply::Verbatim("txt", text.as_bytes().to_vec())
}

fn memory_stats(ctx: &mut Ctx, _: &[&[u8]]) -> Reply {
    let (used, rss) = (allocated_bytes(), rss_bytes());
    let mut keys = 0u64;
    let mut dbs = Vec::new();
    for (i, db) in ctx.shared.keyspace.dbs.iter().enumerate() {
        let (mut n, mut vol, mut overhead) = (0u64, 0u64, 0u64);
        for s in db.stripes.iter() {
            let g = s.read();
            n += g.len() as u64;
            vol += g.volatile_len() as u64;
            overhead += (g.len() * std::mem::size_of::<crate::store::Item>()) as u64;
        }
        if n > 0 {
            keys += n;
            dbs.push((
                Reply::bulk(format!("db.{i}").as_bytes()),
                Reply::Map(vec![
                    (Reply::bulk(b"overhead.hashtable.main"), Reply::Int(overhead as i64)),
                    (Reply::bulk(b"overhead.hashtable.expires"), Reply::Int((vol * 8) as i64)),
                ]),
            ));
        }
    }
    let aof = ctx.shared.aof.buffered() as i64;
    let mut m = vec![
        (Reply::bulk(b"peak.allocated"), Reply::Int(used as i64)),
        (Reply::bulk(b"total.allocated"), Reply::Int(used as i64)),
        (Reply::bulk(b"startup.allocated"), Reply::Int(0)),
        (Reply::bulk(b"replication.backlog"), Reply::Int(0)),
        (Reply::bulk(b"clients.slaves"), Reply::Int(0)),
        (Reply::bulk(b"clients.normal"), Reply::Int(0)),
        (Reply::bulk(b"cluster.links"), Reply::Int(0)),
        (Reply::bulk(b"aof.buffer"), Reply::Int(aof)),
        (Reply::bulk(b"lua.caches"), Reply::Int(0)),
        (Reply::bulk(b"functions.caches"), Reply::Int(0)),
    ];
    m.extend(dbs);
    let dataset = used;
    m.extend([
        (Reply::bulk(b"keys.count"), Reply::Int(keys as i64)),
        (Reply::bulk(b"keys.bytes-per-key"), Reply::Int(used.checked_div(keys).unwrap_or(0) as i64)),
        (Reply::bulk(b"dataset.bytes"), Reply::Int(dataset as i64)),
        (Reply::bulk(b"dataset.percentage"), Reply::Double(100.0)),
        (Reply::bulk(b"peak.percentage"), Reply::Double(100.0)),
        (Reply::bulk(b"allocator.allocated"), Reply::Int(used as i64)),
        (Reply::bulk(b"allocator.resident"), Reply::Int(rss as i64)),
        (Reply::bulk(b"rss-overhead.ratio"), Reply::Double(if used > 0 { rss as f64 / used as f64 } else { 0.0 })),
        (Reply::bulk(b"fragmentation"), Reply::Double(if used > 0 { rss as f64 / used as f64 } else { 0.0 })),
        (Reply::bulk(b"fragmentation.bytes"), Reply::Int(rss as i64 - used as i64)),
    ]);
    Reply::Map(m)
}

fn memory_malloc_stats(_: &mut Ctx, _: &[&[u8]]) -> Reply {
    use tikv_jemalloc_ctl::{epoch, stats};
    let _ = epoch::advance();
    let text = format!(
        "jemalloc (Rustis summary): allocated={} active={} resident={} mapped={} retained={}\n",
        stats::allocated::read().unwrap_or(0),
        stats::active::read().unwrap_or(0),
        stats::resident::read().unwrap_or(0),
        stats::mapped::read().unwrap_or(0),
        stats::retained::read().unwrap_or(0),
    );
    Reply::Verbatim("txt", text.into_bytes())
}

extern "C" {
    /// jemalloc's mallctl, as tikv-jemallocator links it (prefixed `_rjem_`).
    fn _rjem_mallctl(
        name: *const libc::c_char,
        oldp: *mut libc::c_void,
        oldlenp: *mut libc::size_t,
        newp: *mut libc::c_void,
        newlen: libc::size_t,
    ) -> libc::c_int;
}

fn memory_purge(_: &mut Ctx, _: &[&[u8]]) -> Reply {
    // Every arena returns its dirty pages (Redis: jemalloc "arena.<MALLCTL_ARENAS_ALL>.purge").
    // SAFETY: a void mallctl: NUL-terminated name, no old or new value.
    let rc = unsafe {
        _rjem_mallctl(c"arena.4096.purge".as_ptr(), std::ptr::null_mut(), std::ptr::null_mut(), std::ptr::null_mut(), 0)
    };
    if rc != 0 {
        log::debug!("MEMORY PURGE: mallctl returned {rc}");
    }
    Reply::ok()
}

fn memory_help(_: &mut Ctx, _: &[&[u8]]) -> Reply {
    super::connection::help_reply(
        "MEMORY",
        &[
            "DOCTOR",
            "    Return memory problems reports.",
            "MALLOC-STATS",
            "    Return internal statistics report from the memory allocator.",
            "PURGE",
            "    Attempt to purge dirty pages for reclamation by the allocator.",
            "STATS",
            "    Return information about the memory usage of the server.",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value. Nested values are",
            "    sampled up to <count> times (default: 5, 0 means sample all).",
        ],
    )
}

// ---------------------------------------------------------------------------------------
// LATENCY (the latency monitor: events over latency-monitor-threshold)
// ---------------------------------------------------------------------------------------

/// Redis's LATENCY_TS_LEN: samples kept per event.
const LATENCY_SAMPLES: usize = 160;

/// Records a latency sample (Redis's latencyAddSample: one sample per second, the max).
pub fn latency_add(sh: &Shared, event: &'static str, ms: u64, now_ms: i64) {
    let now = now_ms / 1000;
    let mut m = sh.latency.lock();
    let (samples, max) = m.entry(event).or_default();
    *max = (*max).max(ms);
    match samples.back_mut() {
        Some((t, v)) if *t == now => *v = (*v).max(ms),
        _ => {
            samples.push_back((now, ms));
            if samples.len() > LATENCY_SAMPLES {
                samples.pop_front();
            }
        }
    }
}

fn latency_latest(ctx: &mut Ctx, _: &[&[u8]]) -> Reply {
    let m = ctx.shared.latency.lock();
    let mut names: Vec<&&str> = m.keys().collect();
    names.sort();
    Reply::Array(
        names
            .into_iter()
            .filter_map(|n| {
                let (samples, max) = &m[*n];
                let (t, v) = samples.back()?;
                Some(Reply::Array(vec![
                    Reply::bulk(n.as_bytes()),
                    Reply::Int(*t),
                    Reply::Int(*v as i64),
                    Reply::Int(*max as i64),
                ]))
            })
            .collect(),
    )
}

fn latency_history(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let m = ctx.shared.latency.lock();
    let name = String::from_utf8_lossy(argv[2]);
    let Some((samples, _)) = m.get(name.as_ref()) else { return Reply::Array(vec![]) };
    Reply::Array(samples.iter().map(|(t, v)| Reply::Array(vec![Reply::Int(*t), Reply::Int(*v as i64)])).collect())
}

fn latency_reset(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let mut m = ctx.shared.latency.lock();
    if argv.len() == 2 {
        let n = m.len();
        m.clear();
        return Reply::Int(n as i64);
    }
    let mut n = 0;
    for a in &argv[2..] {
        if m.remove(String::from_utf8_lossy(a).as_ref()).is_some() {
            n += 1;
        }
    }
    Reply::Int(n)
}

fn latency_doctor(ctx: &mut Ctx, _: &[&[u8]]) -> Reply {
    let threshold = ctx.shared.enc.latency_threshold.load(Ordering::Relaxed);
    let m = ctx.shared.latency.lock();
    let text = if m.is_empty() && threshold == 0 {
        "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n".to_string()
    } else if m.is_empty() {
        "Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n".to_string()
    } else {
        let mut t = String::from(
            "Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n",
        );
        let mut names: Vec<&&str> = m.keys().collect();
        names.sort();
        for (i, n) in names.iter().enumerate() {
            let (samples, max) = &m[**n];
            let avg = samples.iter().map(|(_, v)| *v).sum::<u64>() / samples.len().max(1) as u64;
            let _ = writeln!(
                t,
                "{}. {}: {} latency spikes (average {}ms). Worst all time event {}ms.",
                i + 1,
                n,
                samples.len(),
                avg,
                max
            );
        }
        t.push_str("\nI have a few advices for you:\n\n- Check your Slow Log to understand what are the commands you are running which are too slow to execute. Please check https://redis.io/commands/slowlog for more information.\n");
        t
    };
    Reply::Verbatim("txt", text.into_bytes())
}

/// LATENCY HISTOGRAM: per command, calls and a cumulative histogram keyed by bucket
/// upper bounds in microseconds (Rustis's Prometheus buckets, not Redis's powers of 2).
fn latency_histogram(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let t = table();
    let mut per: Vec<crate::metrics::Hist> = vec![Default::default(); t.cmds.len()];
    let mut calls = vec![0u64; t.cmds.len()];
    with_all_stats(ctx, |s| {
        for (i, c) in s.cmd.iter().enumerate() {
            per[i].merge(&c.hist);
            calls[i] += c.calls;
        }
    });
    let wanted: Vec<String> = argv[2..].iter().map(|a| String::from_utf8_lossy(a).to_ascii_lowercase()).collect();
    let mut out = Vec::new();
    for (i, c) in t.cmds.iter().enumerate() {
        if calls[i] == 0 || (!wanted.is_empty() && !wanted.iter().any(|w| w == c.name)) {
            continue;
        }
        let mut cum = 0u64;
        let mut buckets = Vec::new();
        for (j, n) in per[i].counts.iter().enumerate() {
            cum += n;
            if *n == 0 {
                continue;
            }
            let bound = crate::metrics::BUCKETS_US.get(j).copied().unwrap_or(u64::MAX);
            buckets.push((Reply::Int(bound.min(i64::MAX as u64) as i64), Reply::Int(cum as i64)));
        }
        out.push((
            Reply::bulk(c.name.as_bytes()),
            Reply::Map(vec![
                (Reply::bulk(b"calls"), Reply::Int(calls[i] as i64)),
                (Reply::bulk(b"histogram_usec"), Reply::Map(buckets)),
            ]),
        ));
    }
    Reply::Map(out)
}

fn latency_help(_: &mut Ctx, _: &[&[u8]]) -> Reply {
    super::connection::help_reply(
        "LATENCY",
        &[
            "DOCTOR",
            "    Return a human readable latency analysis report.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HISTOGRAM [COMMAND ...]",
            "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
            "    If no commands are specified then all histograms are replied.",
        ],
    )
}
