//! The worker pool: fixed threads that park on a crossbeam channel, run batches of
//! commands against the striped keyspace, encode replies, and hand them back.
//!
//! Blocking commands never block a worker: a command that must wait leaves a
//! `BlockRequest` in the session; the worker parks the client (session + rest of its
//! batch) in the shared `BlockRegistry` and tells the reactor. A later write to one of the
//! keys serves the waiters in FIFO order right after that write's command, before the
//! writer's next command; the reactor's deadline set turns timeouts into `Job::Timeout`.
//!
//! Must hold: a worker never touches a socket and never spins; it wakes the reactor only
//! when the reactor may be asleep (the `sleeping` flag), once per message.

use crate::commands::state::{Blocked, ConnId, Effects, Session, Shared, Unblock, WorkerStats};
use crate::commands::{self};
use crate::protocol::{msgpack, Batch, Reply, Wire};
use crossbeam_channel::{Receiver, Sender};
use mio::Waker;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Work for the pool.
pub enum Job {
    /// Run one connection's batch.
    Run { conn: ConnId, session: Box<Session>, batch: Batch },
    /// A parked client's deadline passed (sent by the reactor).
    Timeout { client: u64, deadline: i64 },
}

/// A batch's encoded replies, handed back to the reactor.
pub struct Done {
    pub conn: ConnId,
    /// None while the client is parked on a blocking command.
    pub session: Option<Box<Session>>,
    pub out: Vec<u8>,
    /// The batch's buffer, returned for reuse as a read buffer.
    pub spare: Vec<u8>,
    /// When parked: its deadline (unix ms), i64::MAX for none.
    pub blocked_until: Option<i64>,
    /// Pub/sub frames for other connections (then this is not a batch completion and
    /// `conn` is unused).
    pub pushes: Vec<(ConnId, std::sync::Arc<[u8]>)>,
}

pub struct Wake {
    pub waker: Waker,
    /// Set by the reactor right before it may block in epoll_wait.
    pub sleeping: AtomicBool,
}

impl Wake {
    pub fn wake_if_sleeping(&self) {
        if self.sleeping.swap(false, Ordering::SeqCst) {
            if let Err(e) = self.waker.wake() {
                log::error!("waker failed: {e}");
            }
        }
    }
}

pub fn now_ms() -> i64 {
    crate::store::unix_ms()
}

/// A batch in progress: which command runs next and the replies so far.
struct Cursor {
    conn: ConnId,
    session: Box<Session>,
    batch: Batch,
    next: usize,
    out: Vec<u8>,
}

struct Worker<'a> {
    shared: &'a Shared,
    stats: &'a mut WorkerStats,
    tx: &'a Sender<Done>,
    scratch: Vec<(usize, usize)>,
    effects: Effects,
    /// Parked clients that were served and whose batches continue.
    resumed: VecDeque<Cursor>,
    /// Replies held until the AOF is fsynced (`appendfsync always`, see `send`).
    held: Vec<Done>,
}

impl Worker<'_> {
    /// Hands a message to the reactor, or holds it while an `appendfsync always` write of
    /// this job list is not yet on disk (released together: group commit).
    fn send(&mut self, d: Done) {
        if self.effects.aof_offset > 0 {
            self.held.push(d);
        } else {
            let _ = self.tx.send(d);
        }
    }

    /// Runs one command of `argv` for `session`, then serves clients its writes freed.
    fn exec(&mut self, session: &mut Session, argv: &[&[u8]]) -> Reply {
        let now = now_ms();
        if log::log_enabled!(log::Level::Debug) {
            log::debug!("conn={} cmd={}", session.id, String::from_utf8_lossy(argv[0]));
        }
        commands::execute(self.shared, session, self.stats, &mut self.effects, now, argv, &mut self.scratch)
    }

    /// Runs a cursor until its batch ends or it blocks.
    fn drive(&mut self, mut c: Cursor) {
        c.session.info.last_interaction_ms.store(now_ms(), Ordering::Relaxed);
        // One argv buffer for the whole batch (it borrows the batch's bytes).
        let mut argv: Vec<&[u8]> = Vec::with_capacity(8);
        while c.next < c.batch.len() {
            c.batch.argv(c.next, &mut argv);
            c.session.req_id = c.batch.id(c.next);
            let reply = self.exec(&mut c.session, &argv);
            if c.session.block.is_some() {
                drop(argv);
                self.park(c, None);
                self.serve_effects();
                return;
            }
            emit_reply(&mut c.session, &reply, &mut c.out);
            c.next += 1;
            self.serve_effects();
            if c.session.close_after_reply {
                break;
            }
        }
        drop(argv);
        self.finish(c);
    }

    fn finish(&mut self, c: Cursor) {
        let Cursor { conn, mut session, batch, mut out, .. } = c;
        if let Some(e) = &batch.error {
            if !session.close_after_reply {
                if session.wire == Wire::Msgpack {
                    msgpack::error_frame(None, &e.reply_bytes(), &mut out);
                } else {
                    out.push(b'-');
                    out.extend_from_slice(&e.reply_bytes());
                    out.extend_from_slice(b"\r\n");
                }
                // An error reply like any other (INFO errorstats, total_error_replies).
                commands::count_error(self.stats, "ERR");
                log::info!("conn={} protocol error: {}", session.id, e.reply_text());
            }
            session.close_after_reply = true;
        }
        self.send(Done {
            conn,
            session: Some(session),
            out,
            spare: batch.data,
            blocked_until: None,
            pushes: Vec::new(),
        });
    }

    /// Parks a cursor whose current command asked to block. `again` is the original
    /// deadline when a served client found nothing left and goes back to the head of its
    /// queues (the reactor already knows that deadline).
    fn park(&mut self, mut c: Cursor, again: Option<i64>) {
        let Some(req) = c.session.block.take() else { return };
        let db = c.session.db;
        let deadline = again.unwrap_or(req.deadline.unwrap_or(i64::MAX));
        let keys: Vec<(usize, Vec<u8>)> = req.keys.into_iter().map(|k| (db, k)).collect();
        let conn = c.conn;
        if again.is_none() {
            // Tell the reactor first (earlier replies, deadline): any serve of this client
            // happens after it is in the registry, so its reply is queued after this.
            let out = std::mem::take(&mut c.out);
            self.send(Done {
                conn,
                session: None,
                out,
                spare: Vec::new(),
                blocked_until: Some(deadline),
                pushes: Vec::new(),
            });
        }
        let recheck = keys.clone();
        let b = Blocked {
            conn,
            session: c.session,
            batch: c.batch,
            index: c.next,
            keys,
            on_timeout: req.on_timeout,
            deadline,
            rewrite: req.rewrite,
            postponed: req.postpone,
        };
        self.shared.blocked.lock().add(b, again.is_some());
        self.shared.nblocked.fetch_add(1, Ordering::AcqRel);
        if again.is_none() {
            // A write that landed between our stripe unlock and the registration saw no
            // waiter: look at the keys once more now that we are registered.
            self.effects.ready.extend(recheck);
        }
    }

    fn unpark(&self, client: u64) -> Option<Blocked> {
        let b = self.shared.blocked.lock().take(client)?;
        self.shared.nblocked.fetch_sub(1, Ordering::AcqRel);
        Some(b)
    }

    /// Serves parked clients on keys the last command wrote, FIFO per key; handles
    /// CLIENT UNBLOCK requests.
    fn serve_effects(&mut self) {
        for (client, how) in std::mem::take(&mut self.effects.unblock) {
            if let Some(b) = self.unpark(client) {
                let reply = match how {
                    _ if b.postponed => {
                        self.rerun(b);
                        continue;
                    }
                    Unblock::Timeout | Unblock::Resume => b.on_timeout.clone(),
                    Unblock::Error => Reply::err("UNBLOCKED client unblocked via CLIENT UNBLOCK"),
                };
                self.resume_with(b, reply);
            }
        }
        while let Some((db, key)) = self.effects.ready.pop_front() {
            loop {
                let Some(id) = self.shared.blocked.lock().first_waiter(db, &key) else { break };
                let Some(mut b) = self.unpark(id) else { break };
                let reply = {
                    let mut argv: Vec<&[u8]> = Vec::with_capacity(8);
                    match &b.rewrite {
                        Some(r) => argv.extend(r.iter().map(|a| a.as_slice())),
                        None => b.batch.argv(b.index, &mut argv),
                    }
                    b.session.serving_block = true;
                    let r = commands::execute(
                        self.shared,
                        &mut b.session,
                        self.stats,
                        &mut self.effects,
                        now_ms(),
                        &argv,
                        &mut self.scratch,
                    );
                    b.session.serving_block = false;
                    r
                };
                if b.session.block.is_some() {
                    // Still nothing for it: back to the head of its queues, same deadline.
                    let deadline = b.deadline;
                    let c = Cursor { conn: b.conn, session: b.session, batch: b.batch, next: b.index, out: Vec::new() };
                    self.park(c, Some(deadline));
                    break;
                }
                self.resume_with(b, reply);
            }
        }
    }

    /// Queues a client postponed by CLIENT PAUSE to run its held command again (it is
    /// postponed again if a pause still covers it).
    fn rerun(&mut self, b: Blocked) {
        self.resumed.push_back(Cursor {
            conn: b.conn,
            session: b.session,
            batch: b.batch,
            next: b.index,
            out: Vec::new(),
        });
    }

    /// Queues a parked client's batch to continue after `reply` to its blocked command.
    fn resume_with(&mut self, mut b: Blocked, reply: Reply) {
        let mut out = Vec::new();
        b.session.req_id = b.batch.id(b.index);
        emit_reply(&mut b.session, &reply, &mut out);
        self.resumed.push_back(Cursor { conn: b.conn, session: b.session, batch: b.batch, next: b.index + 1, out });
    }

    fn run_job(&mut self, job: Job) {
        match job {
            Job::Run { conn, session, batch } => {
                let out = Vec::with_capacity(64 * batch.len().max(1));
                self.drive(Cursor { conn, session, batch, next: 0, out });
            }
            Job::Timeout { client, deadline } => {
                let current = self.shared.blocked.lock().clients.get(&client).map(|b| b.deadline);
                if current != Some(deadline) {
                    return;
                }
                if let Some(b) = self.unpark(client) {
                    if b.postponed {
                        self.rerun(b);
                    } else {
                        let reply = b.on_timeout.clone();
                        self.resume_with(b, reply);
                    }
                }
            }
        }
        while let Some(c) = self.resumed.pop_front() {
            self.drive(c);
        }
    }
}

/// Encodes a reply unless CLIENT REPLY OFF/SKIP silences it (Redis's CLIENT_REPLY_OFF /
/// CLIENT_REPLY_SKIP: SKIP drops its own reply and the next command's).
fn emit_reply(session: &mut Session, reply: &Reply, out: &mut Vec<u8>) {
    use crate::commands::state::ReplyMode;
    match session.reply {
        ReplyMode::On if session.wire == Wire::Msgpack => msgpack::encode_reply(Some(session.req_id), reply, out),
        ReplyMode::On => reply.encode(session.proto, out),
        ReplyMode::Off => {}
        ReplyMode::SkipThis => session.reply = ReplyMode::SkipNext,
        ReplyMode::SkipNext => session.reply = ReplyMode::On,
    }
}

pub fn run(idx: usize, shared: Arc<Shared>, rx: Receiver<Vec<Job>>, tx: Sender<Done>, wake: Arc<Wake>) {
    let mut scratch = Vec::with_capacity(16);
    let mut effects = Effects::default();
    while let Ok(jobs) = rx.recv() {
        let busy = std::time::Instant::now();
        let mut stats = shared.workers[idx].lock();
        let mut w = Worker {
            shared: &shared,
            stats: &mut stats,
            tx: &tx,
            scratch: std::mem::take(&mut scratch),
            effects: std::mem::take(&mut effects),
            resumed: VecDeque::new(),
            held: Vec::new(),
        };
        for job in jobs {
            w.run_job(job);
        }
        // Group commit (`appendfsync always`): run what else is already queued before
        // waiting, so one fsync covers all of it.
        let mut extra = 0;
        while w.effects.aof_offset > 0 && extra < 64 {
            let Ok(more) = rx.try_recv() else { break };
            extra += 1;
            for job in more {
                w.run_job(job);
            }
        }
        if w.effects.aof_offset > 0 {
            shared.aof.wait_synced(w.effects.aof_offset);
            w.effects.aof_offset = 0;
        }
        for d in std::mem::take(&mut w.held) {
            let _ = tx.send(d);
        }
        scratch = std::mem::take(&mut w.scratch);
        effects = std::mem::take(&mut w.effects);
        if shared.retrack_expired.load(Ordering::Relaxed) && shared.retrack_expired.swap(false, Ordering::AcqRel) {
            commands::aof::track_expired(&shared, shared.aof.on.load(Ordering::Acquire));
        }
        commands::tracking::flush_bcast(&shared, &mut effects);
        if !effects.pushes.is_empty() {
            // One message for all frames this batch of jobs published.
            let pushes = std::mem::take(&mut effects.pushes);
            let conn = ConnId::default();
            let _ =
                tx.send(Done { conn, session: None, out: Vec::new(), spare: Vec::new(), blocked_until: None, pushes });
        }
        drop(stats);
        shared.worker_live[idx].busy_ns.fetch_add(busy.elapsed().as_nanos() as u64, Ordering::Relaxed);
        wake.wake_if_sleeping();
    }
}
