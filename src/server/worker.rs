//! The worker pool: fixed threads that park on a crossbeam channel, run batches of
//! commands against the striped keyspace, encode replies, and hand them back.
//!
//! Must hold: a worker never touches a socket and never spins; it wakes the reactor only
//! when the reactor may be asleep (the `sleeping` flag), once per message.

use crate::commands::{self, state::ConnId, state::Session, state::Shared};
use crate::protocol::{reply::put_error, Batch};
use crossbeam_channel::{Receiver, Sender};
use mio::Waker;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// One connection's batch.
pub struct Job {
    pub conn: ConnId,
    pub session: Box<Session>,
    pub batch: Batch,
}

/// A batch's encoded replies, handed back to the reactor with the session.
pub struct Done {
    pub conn: ConnId,
    pub session: Box<Session>,
    pub out: Vec<u8>,
    /// The batch's buffer, returned for reuse as a read buffer.
    pub spare: Vec<u8>,
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
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

pub fn run(idx: usize, shared: Arc<Shared>, rx: Receiver<Vec<Job>>, tx: Sender<Done>, wake: Arc<Wake>) {
    let mut scratch = Vec::with_capacity(16);
    while let Ok(jobs) = rx.recv() {
        let mut stats = shared.workers[idx].lock();
        for job in jobs {
            let Job { conn, mut session, batch } = job;
            let mut out = Vec::with_capacity(64 * batch.len().max(1));
            let now = now_ms();
            let mut argv: Vec<&[u8]> = Vec::with_capacity(8);
            session.info.last_interaction_ms.store(now, Ordering::Relaxed);
            for i in 0..batch.len() {
                batch.argv(i, &mut argv);
                if log::log_enabled!(log::Level::Debug) {
                    log::debug!("conn={} cmd={}", session.id, String::from_utf8_lossy(argv[0]));
                }
                let reply = commands::execute(&shared, &mut session, &mut stats, now, &argv, &mut scratch);
                reply.encode(session.proto, &mut out);
                if session.close_after_reply {
                    break;
                }
            }
            drop(argv);
            if let Some(e) = &batch.error {
                if !session.close_after_reply {
                    put_error(&mut out, &e.reply_text());
                    log::info!("conn={} protocol error: {}", session.id, e.reply_text());
                }
                session.close_after_reply = true;
            }
            let spare = batch.data;
            if tx.send(Done { conn, session, out, spare }).is_err() {
                return;
            }
        }
        drop(stats);
        wake.wake_if_sleeping();
    }
}
