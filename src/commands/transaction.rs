//! Transactions (COMMAND DOCS group `transactions`): MULTI EXEC DISCARD WATCH UNWATCH.
//!
//! Must hold:
//! - between MULTI and EXEC/DISCARD every command but EXEC, DISCARD, MULTI, WATCH, QUIT
//!   and RESET is queued (`+QUEUED`), not run; one that cannot be queued (unknown, wrong
//!   arity, `no_multi`) is answered with its error and makes EXEC answer EXECABORT;
//! - EXEC takes the union of the queued commands' stripe locks once, in ascending order,
//!   and runs them all before releasing: no other client sees part of a transaction;
//! - a runtime error in one queued command does not stop the others (no rollback);
//! - blocking commands never block inside EXEC: they answer their timeout reply;
//! - WATCH: a write by any client that modifies a watched key (or flushes/swaps its db)
//!   before EXEC takes its locks makes EXEC answer a null array. Writers flag watchers
//!   while still holding their stripe locks (`Ctx::watch_touch`), and EXEC checks the flag
//!   after taking its locks, so no conflicting write is missed. A watched key that had a
//!   TTL and reached it before EXEC also fails the transaction (Redis 7.0).

use super::errors;
use super::flags::*;
use super::state::Session;
use super::{table, Command, Ctx};
use crate::protocol::Reply;
use std::sync::atomic::Ordering;

const G: &str = "transactions";

pub static COMMANDS: &[Command] = &[
    Command::new("multi", G, 1, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY, multi).acl("@transaction").doc(
        "Mark the start of a transaction block",
        "1.2.0",
        "O(1)",
    ),
    Command::new("exec", G, 1, NOSCRIPT | LOADING | STALE | SKIP_SLOWLOG, exec).acl("@transaction").doc(
        "Execute all commands issued after MULTI",
        "1.2.0",
        "Depends on commands in the transaction",
    ),
    Command::new("discard", G, 1, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY, discard).acl("@transaction").doc(
        "Discard all commands issued after MULTI",
        "2.0.0",
        "O(N), when N is the number of queued commands",
    ),
    Command::new("watch", G, -2, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY, watch)
        .keys(1, -1, 1)
        .ks("RO")
        .acl("@transaction")
        .doc("Watch the given keys to determine execution of the MULTI/EXEC block", "2.2.0", "O(1) for every key.")
        .args("key [key ...]"),
    Command::new("unwatch", G, 1, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY, unwatch).acl("@transaction").doc(
        "Forget about all watched keys",
        "2.2.0",
        "O(1)",
    ),
];

/// Commands that run (rather than queue) inside MULTI.
pub fn runs_in_multi(cmd: &Command) -> bool {
    matches!(cmd.name, "exec" | "discard" | "multi" | "watch" | "quit" | "reset")
}

/// Queues a command inside MULTI (Redis's queueMultiCommand).
pub fn queue(session: &mut Session, cmd: &Command, argv: &[&[u8]]) -> Reply {
    if cmd.has(NO_MULTI) {
        session.multi_error = true;
        return Reply::err("ERR Command not allowed inside a transaction");
    }
    if let Some(q) = session.multi.as_mut() {
        q.push(argv.iter().map(|a| a.to_vec()).collect());
        session.multi_script |= cmd.has(SCRIPT);
        session.info.multi.store(q.len() as i64, Ordering::Relaxed);
    }
    Reply::Status("QUEUED".into())
}

/// Leaves MULTI and drops the client's watches (EXEC, DISCARD, RESET).
pub fn reset(ctx_shared: &super::state::Shared, session: &mut Session) {
    session.multi = None;
    session.info.multi.store(-1, Ordering::Relaxed);
    session.multi_error = false;
    session.multi_script = false;
    unwatch_all(ctx_shared, session);
}

fn unwatch_all(shared: &super::state::Shared, session: &mut Session) {
    if !session.watched.is_empty() {
        shared.unwatch_client(session.id);
        session.watched.clear();
    }
    session.watch_dirty.store(false, Ordering::Release);
}

fn multi(ctx: &mut Ctx, _: &[&[u8]]) -> Reply {
    if ctx.session.multi.is_some() {
        return Reply::err("ERR MULTI calls can not be nested");
    }
    ctx.session.multi = Some(Vec::new());
    ctx.session.multi_error = false;
    ctx.session.multi_script = false;
    ctx.session.info.multi.store(0, Ordering::Relaxed);
    Reply::ok()
}

fn discard(ctx: &mut Ctx, _: &[&[u8]]) -> Reply {
    if ctx.session.multi.is_none() {
        return Reply::err("ERR DISCARD without MULTI");
    }
    reset(ctx.shared, ctx.session);
    Reply::ok()
}

fn watch(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    if ctx.session.multi.is_some() {
        return Reply::err("ERR WATCH inside MULTI is not allowed");
    }
    let db = ctx.session.db;
    for key in &argv[1..] {
        if ctx.session.watched.iter().any(|(d, k, _)| *d == db && k.as_slice() == *key) {
            continue;
        }
        // A key already past its TTL counts as missing (its later deletion is no change).
        let exp = ctx.get(key).and_then(|it| it.expire_at());
        let first = ctx.shared.watches.lock().watch(ctx.session.id, &ctx.session.watch_dirty, db, key);
        if first {
            ctx.shared.nwatching.fetch_add(1, Ordering::AcqRel);
        }
        ctx.session.watched.push((db, key.to_vec(), exp));
    }
    Reply::ok()
}

fn unwatch(ctx: &mut Ctx, _: &[&[u8]]) -> Reply {
    unwatch_all(ctx.shared, ctx.session);
    Reply::ok()
}

/// Commands whose lock plan depends on state that earlier queued commands change (the
/// selected db) or on other dbs: with one of these queued, EXEC locks everything.
fn needs_everything(cmd: &Command) -> bool {
    matches!(cmd.name, "select" | "swapdb" | "move" | "copy")
}

fn exec(ctx: &mut Ctx, _: &[&[u8]]) -> Reply {
    let Some(queued) = ctx.session.multi.take() else { return Reply::err("ERR EXEC without MULTI") };
    if ctx.session.multi_error {
        reset(ctx.shared, ctx.session);
        return Reply::err("EXECABORT Transaction discarded because of previous errors.");
    }
    let t = table();
    let mut cmds: Vec<(&'static Command, Vec<&[u8]>)> = Vec::with_capacity(queued.len());
    // Table ids, for ACL checks and per-command stats.
    let mut ids: Vec<usize> = Vec::with_capacity(queued.len());
    for q in &queued {
        let argv: Vec<&[u8]> = q.iter().map(|a| a.as_slice()).collect();
        match t.resolve(&argv) {
            Ok(id) => {
                cmds.push((t.cmds[id], argv));
                ids.push(id);
            }
            // Checked when queued; the table does not change.
            Err(_) => {
                reset(ctx.shared, ctx.session);
                return Reply::err("EXECABORT Transaction discarded because of previous errors.");
            }
        }
    }
    let everything = cmds.iter().any(|(c, _)| needs_everything(c));
    super::lock_union(ctx, &cmds, everything);
    // Watches: checked under the locks, so a write that flags us has fully happened.
    let now = ctx.now;
    let expired = ctx.session.watched.iter().any(|(_, _, exp)| exp.is_some_and(|at| at <= now));
    if ctx.session.watch_dirty.load(Ordering::Acquire) || expired {
        ctx.release_locks();
        reset(ctx.shared, ctx.session);
        return Reply::NilArray;
    }
    let exec_cmd = ctx.cmd;
    ctx.session.in_exec = true;
    if ctx.shared.aof.on.load(Ordering::Relaxed) {
        ctx.session.aof_tx = Some(Vec::new());
    }
    let mut replies = Vec::with_capacity(cmds.len());
    let mut written: Vec<(usize, Vec<u8>)> = Vec::new();
    for ((cmd, argv), &id) in cmds.iter().zip(&ids) {
        ctx.cmd = cmd;
        if cmd.run.is_none() {
            replies.push(Reply::Error(errors::arity(cmd.name)));
            continue;
        }
        // Permissions are checked again: the user's rules may have changed since queueing.
        if !ctx.shared.acl_open.load(Ordering::Relaxed) {
            if let Err(d) = super::acl::check_denied(ctx.shared, &ctx.session.user, id, cmd, argv) {
                super::acl::log_denied(ctx.shared, ctx.session, &d, true, cmd.name);
                super::count_error(ctx.stats, "NOPERM");
                replies.push(Reply::Error(d.at_exec()));
                continue;
            }
        }
        let reply = super::run_locked(ctx, cmd, id, argv, &mut written);
        replies.push(reply);
    }
    ctx.cmd = exec_cmd;
    ctx.session.in_exec = false;
    if let Some(recs) = ctx.session.aof_tx.take() {
        let at = ctx.shared.aof.append(&recs, true);
        ctx.effects.aof_offset = ctx.effects.aof_offset.max(at);
    }
    ctx.release_locks();
    ctx.effects.ready.extend(written);
    reset(ctx.shared, ctx.session);
    Reply::Array(replies)
}
