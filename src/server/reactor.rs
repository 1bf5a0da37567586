//! The reactor: one mio event loop that owns every socket. It accepts, reads, parses
//! complete frames into batches, hands one poll iteration's batches to the worker pool as
//! one message, and writes the replies that come back.
//!
//! Must hold (DESIGN.md section 2): never touches the keyspace and never blocks; one batch
//! in flight per connection; completions for a closed/reused slot are dropped by
//! generation; one write per connection per pass; reads stop while a connection's output
//! backlog is over the soft limit.
//!
//! TLS connections (listeners with a rustls config, see tls.rs) hold a
//! `rustls::ServerConnection`: reads feed the socket's bytes through it into `rbuf`,
//! writes move `wbuf` into it and write its records; the handshake advances from both
//! paths and never blocks. Byte counters count what the socket moved. A plain connection
//! pays one branch per read and per write.

use super::worker::{now_ms, Done, Job, Wake};
use crate::commands::state::{ClientInfo, ConnId, Session, Shared};
use crate::config::ObufLimit;
use crate::protocol::msgpack::{self, Handshake};
use crate::protocol::{parse_batch_at, ParseLimits, Wire};
use crossbeam_channel::{Receiver, Sender};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use slab::Slab;
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const WAKER: Token = Token(usize::MAX - 1);
const LISTENER_BASE: usize = usize::MAX - 64;
const READ_CHUNK: usize = 64 * 1024;
/// Unparsed input a connection may hold while its batch runs: beyond it the rest stays
/// in the kernel until that batch completes (Redis reads 16 KB per event). Keeps a
/// huge pipeline from parking megabytes in user space, where they would count as used
/// memory and make maxmemory evict for I/O instead of data.
const READ_AHEAD: usize = 256 * 1024;
/// Replies an unauthenticated client may have pending (Redis's 16 KB reply buffer).
const UNAUTH_OUTPUT_LIMIT: usize = 16 * 1024;
/// Stop reading from a connection while this much output waits to be written.
const OUTPUT_SOFT_LIMIT: usize = 8 * 1024 * 1024;

/// Set by SIGINT/SIGTERM.
pub static SIGNALLED: AtomicBool = AtomicBool::new(false);

/// A listening socket, its framing, and its TLS configuration if it speaks TLS.
pub struct Listener {
    pub sock: TcpListener,
    pub wire: Wire,
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

struct Conn {
    stream: TcpStream,
    /// TLS state (None on plain listeners). rbuf/wbuf hold plaintext either way.
    tls: Option<Box<rustls::ServerConnection>>,
    gen: u64,
    info: Arc<ClientInfo>,
    rbuf: Vec<u8>,
    /// Start of the unparsed bytes in `rbuf` (see `parse_batch_at`).
    rpos: usize,
    wbuf: Vec<u8>,
    wpos: usize,
    /// None while a batch is in flight.
    session: Option<Box<Session>>,
    /// Close once the pending output is written.
    closing: bool,
    /// Reading was skipped (output backlog or in-flight cap); try again later.
    read_pending: bool,
    peer_closed: bool,
    /// Parked on a blocking command (its session is in the block registry).
    parked: bool,
    /// Pub/sub frames that arrived while a batch was in flight: written after its replies.
    pushes: Vec<u8>,
    /// RESP or MessagePack (from the listener).
    wire: Wire,
    /// MessagePack: the handshake frame was accepted.
    handshaken: bool,
    /// Since when the pending output is over its class's soft limit.
    over_soft_since: Option<Instant>,
    /// client-rate-limit budget (commands) and when it was last refilled.
    tokens: f64,
    refilled: Instant,
    /// Out of budget: neither parsed nor read until the budget refills.
    throttled: bool,
}

pub struct Reactor {
    poll: Poll,
    listeners: Vec<Listener>,
    conns: Slab<Conn>,
    next_gen: u64,
    shared: Arc<Shared>,
    jobs_tx: Sender<Vec<Job>>,
    done_rx: Receiver<Done>,
    wake: Arc<Wake>,
    nworkers: usize,
    pending: Vec<Job>,
    spare_bufs: Vec<Vec<u8>>,
    /// Deadlines of parked (blocked) clients: (unix ms, client id, deadline).
    timers: std::collections::BTreeSet<(i64, u64)>,
    scratch: Box<[u8]>,
    /// Config values the loop needs, refreshed every tick (no lock per read).
    limits: ParseLimits,
    query_limit: usize,
    /// client-output-buffer-limit: normal, replica, pubsub.
    obuf: [ObufLimit; 3],
    /// client-rate-limit (commands per second, 0 = none).
    rate: u64,
    /// Connections waiting for their rate budget: (slot, generation).
    throttled: Vec<(usize, u64)>,
}

impl Reactor {
    pub fn new(
        poll: Poll,
        listeners: Vec<Listener>,
        shared: Arc<Shared>,
        jobs_tx: Sender<Vec<Job>>,
        done_rx: Receiver<Done>,
        wake: Arc<Wake>,
        nworkers: usize,
    ) -> io::Result<Reactor> {
        let mut r = Reactor {
            poll,
            listeners,
            conns: Slab::with_capacity(1024),
            next_gen: 1,
            shared,
            jobs_tx,
            done_rx,
            wake,
            nworkers,
            pending: Vec::new(),
            spare_bufs: Vec::new(),
            timers: Default::default(),
            scratch: vec![0u8; READ_CHUNK].into_boxed_slice(),
            limits: ParseLimits::default(),
            query_limit: usize::MAX,
            obuf: Default::default(),
            rate: 0,
            throttled: Vec::new(),
        };
        r.refresh_limits();
        for (i, l) in r.listeners.iter_mut().enumerate() {
            r.poll.registry().register(&mut l.sock, Token(LISTENER_BASE + i), Interest::READABLE)?;
        }
        Ok(r)
    }

    pub fn run(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        let mut last_tick = Instant::now();
        loop {
            // Tell workers we may sleep, then re-check completions (no lost wake-up).
            self.wake.sleeping.store(true, Ordering::SeqCst);
            let timeout = if self.done_rx.is_empty() { Some(self.next_timeout()) } else { Some(Duration::ZERO) };
            let res = self.poll.poll(&mut events, timeout);
            self.wake.sleeping.store(false, Ordering::SeqCst);
            if let Err(e) = res {
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
            for ev in events.iter() {
                let t = ev.token();
                if t == WAKER {
                    continue;
                }
                if t.0 >= LISTENER_BASE {
                    self.accept(t.0 - LISTENER_BASE);
                    continue;
                }
                let slot = t.0;
                if ev.is_writable() {
                    self.flush(slot);
                }
                if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                    self.read(slot, ev.is_read_closed() || ev.is_error());
                }
            }
            self.drain_completions();
            self.retry_throttled();
            self.fire_timers();
            self.dispatch();
            if SIGNALLED.load(Ordering::Relaxed) || self.shared.shutdown_requested.load(Ordering::Acquire) {
                log::info!("shutting down: closing {} connections", self.conns.len());
                return Ok(());
            }
            if last_tick.elapsed() >= Duration::from_millis(100) {
                last_tick = Instant::now();
                self.tick();
            }
        }
    }

    fn accept(&mut self, li: usize) {
        loop {
            let wire = self.listeners[li].wire;
            let (stream, peer) = match self.listeners[li].sock.accept() {
                Ok(s) => s,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    log::warn!("accept failed: {e}");
                    return;
                }
            };
            self.shared.net.accepted(wire);
            let (maxclients, protected) = {
                let c = self.shared.config.read();
                (c.maxclients, c.protected_mode)
            };
            let nopass = self.shared.default_nopass.load(Ordering::Acquire);
            // Protected mode (Redis 7.0): no password for the default user means only
            // loopback clients get in; others are told why and disconnected.
            // A refused TLS client is closed without a word (plaintext would be garbage to it).
            let tls_cfg = self.listeners[li].tls.clone();
            if protected && nopass && !peer.ip().is_loopback() {
                let mut s = stream;
                if tls_cfg.is_none() {
                    let _ = s.write(&error_line(wire, crate::commands::connection::DENIED));
                }
                self.shared.net.rejected_connections.fetch_add(1, Ordering::Relaxed);
                log::warn!("rejected connection from {peer}: protected mode");
                continue;
            }
            if self.conns.len() >= maxclients {
                let mut s = stream;
                if tls_cfg.is_none() {
                    let _ = s.write(&error_line(wire, "-ERR max number of clients reached\r\n"));
                }
                self.shared.net.rejected_connections.fetch_add(1, Ordering::Relaxed);
                log::warn!("rejected connection from {peer}: max number of clients reached");
                continue;
            }
            let tls = match tls_cfg.map(rustls::ServerConnection::new) {
                None => None,
                Some(Ok(t)) => Some(Box::new(t)),
                Some(Err(e)) => {
                    log::warn!("TLS setup failed for a connection from {peer}: {e}");
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            set_keepalive(&stream, self.shared.config.read().tcp_keepalive);
            let laddr = stream.local_addr().map(|a| a.to_string()).unwrap_or_default();
            let entry = self.conns.vacant_entry();
            let slot = entry.key();
            let gen = self.next_gen;
            self.next_gen += 1;
            let now = now_ms();
            let mut info = ClientInfo::new(
                self.shared.next_id(),
                ConnId { slot, gen },
                peer.to_string(),
                laddr,
                raw_fd(&stream),
                now,
            );
            info.wire = wire;
            let info = Arc::new(info);
            let mut conn = Conn {
                stream,
                tls,
                gen,
                info: info.clone(),
                rbuf: self.spare_bufs.pop().unwrap_or_default(),
                rpos: 0,
                wbuf: Vec::new(),
                wpos: 0,
                session: Some(Box::new({
                    let mut se = Session::new(info.clone());
                    se.conn = ConnId { slot, gen };
                    se.authenticated = nopass;
                    se
                })),
                closing: false,
                read_pending: false,
                peer_closed: false,
                parked: false,
                pushes: Vec::new(),
                wire,
                handshaken: wire == Wire::Resp,
                over_soft_since: None,
                tokens: self.rate as f64,
                refilled: Instant::now(),
                throttled: false,
            };
            if let Err(e) =
                self.poll.registry().register(&mut conn.stream, Token(slot), Interest::READABLE | Interest::WRITABLE)
            {
                log::warn!("register failed: {e}");
                continue;
            }
            log::debug!("conn={} accepted from {}", info.id, info.addr);
            self.shared.clients.lock().insert(info.id, info);
            self.shared.net.connected(wire, true);
            entry.insert(conn);
        }
    }

    /// Reads everything available (a short read counts as drained), then parses.
    fn refresh_limits(&mut self) {
        let cfg = self.shared.config.read();
        self.query_limit = cfg.client_query_buffer_limit as usize;
        self.limits = ParseLimits {
            max_bulk: cfg.proto_max_bulk_len as usize,
            max_frame: self.query_limit,
            ..ParseLimits::default()
        };
        self.obuf = cfg.client_output_buffer_limit;
        self.rate = cfg.client_rate_limit;
    }

    fn read(&mut self, slot: usize, closed_hint: bool) {
        let limit = self.query_limit;
        let Some(c) = self.conns.get_mut(slot) else { return };
        if c.closing {
            return;
        }
        if c.wbuf.len() - c.wpos > OUTPUT_SOFT_LIMIT || c.throttled {
            c.read_pending = true;
            return;
        }
        c.read_pending = false;
        // Compact a buffer whose parsed prefix has grown past half of it.
        if c.rpos > 0 && c.rpos * 2 >= c.rbuf.len() {
            c.rbuf.drain(..c.rpos);
            c.rpos = 0;
        }
        let mut total = 0usize;
        let handshaking = c.tls.as_ref().is_some_and(|t| t.is_handshaking());
        if c.tls.is_some() {
            let (n, err) = tls_read(c, &mut self.scratch, closed_hint, limit);
            total = n;
            if let Some(e) = err {
                // A client that does not speak TLS gets no alert, like redis-server
                // (OpenSSL's "wrong version number"): the connection just closes.
                let plaintext = handshaking
                    && matches!(
                        e,
                        rustls::Error::InvalidMessage(
                            rustls::InvalidMessage::InvalidContentType | rustls::InvalidMessage::UnknownProtocolVersion
                        )
                    );
                let hint = if plaintext { " (not a TLS client?)" } else { "" };
                log::info!("conn={} closing TLS connection from {}: {e}{hint}", c.info.id, c.info.addr);
                if let Some(mut t) = c.tls.take() {
                    if !plaintext {
                        let _ = t.write_tls(&mut c.stream);
                    }
                }
                self.shared.net.read(c.wire, total);
                self.close(slot);
                return;
            }
        } else {
            loop {
                // Read into a reusable zeroed scratch buffer, then copy only what arrived.
                match c.stream.read(&mut self.scratch[..]) {
                    Ok(0) => {
                        c.peer_closed = true;
                        break;
                    }
                    Ok(n) => {
                        c.rbuf.extend_from_slice(&self.scratch[..n]);
                        total += n;
                        if n < self.scratch.len() && !closed_hint {
                            break;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => {
                        c.peer_closed = true;
                        break;
                    }
                }
                if c.rbuf.len() - c.rpos > limit {
                    break;
                }
                if c.session.is_none() && c.rbuf.len() - c.rpos >= READ_AHEAD && !closed_hint {
                    // Come back when this input is parsed (after the batch in flight).
                    c.read_pending = true;
                    break;
                }
            }
        }
        if total > 0 {
            self.shared.net.read(c.wire, total);
            c.info.io.tot_in.fetch_add(total as u64, Ordering::Relaxed);
        }
        if c.rbuf.len() - c.rpos > limit {
            log::warn!(
                "conn={} closing client that reached max query buffer length ({} bytes)",
                c.info.id,
                c.rbuf.len()
            );
            self.close(slot);
            return;
        }
        c.info.io.qbuf.store(c.rbuf.len() - c.rpos, Ordering::Relaxed);
        if handshaking && c.tls.as_ref().is_some_and(|t| t.wants_write()) {
            // Handshake messages (and TLS 1.3 tickets once it completes) go out now.
            self.flush(slot);
            if !self.conns.contains(slot) {
                return;
            }
        }
        // Commands sent before a half-close still run (as in Redis); then we close.
        self.parse(slot);
        self.close_if_peer_gone(slot);
    }

    fn close_if_peer_gone(&mut self, slot: usize) {
        if let Some(c) = self.conns.get(slot) {
            // A parked client that hung up is dropped now (close() unparks it).
            if c.peer_closed && (c.parked || (c.session.is_some() && c.wpos == c.wbuf.len())) {
                self.close(slot);
            }
        }
    }

    /// Parses the connection's buffered frames into a job, if no batch is in flight.
    fn parse(&mut self, slot: usize) {
        let mut limits = self.limits;
        let nopass = self.shared.default_nopass.load(Ordering::Acquire);
        let Some(c) = self.conns.get_mut(slot) else { return };
        // Not yet authenticated: Redis's small multibulk/bulk caps, and one command per
        // batch so that an AUTH lifts them for the commands after it.
        if !nopass && c.session.as_ref().is_some_and(|s| !s.authenticated) {
            limits.unauthenticated = true;
            limits.max_cmds = 1;
        }
        if c.closing || c.session.is_none() || c.rbuf.len() == c.rpos {
            return;
        }
        if c.wbuf.len() - c.wpos > OUTPUT_SOFT_LIMIT {
            // Back-pressure: no new batch until the client has read its replies.
            c.read_pending = true;
            return;
        }
        if self.rate > 0 {
            // client-rate-limit: a one-second token bucket; an empty bucket parks the
            // connection (no parse, no read) until it holds a whole command again.
            let now = Instant::now();
            let rate = self.rate as f64;
            c.tokens = (c.tokens + now.duration_since(c.refilled).as_secs_f64() * rate).min(rate);
            c.refilled = now;
            if c.tokens < 1.0 {
                if !c.throttled {
                    c.throttled = true;
                    self.throttled.push((slot, c.gen));
                    self.shared.net.rate_limited.fetch_add(1, Ordering::Relaxed);
                }
                return;
            }
            limits.max_cmds = limits.max_cmds.min(c.tokens as usize);
        }
        if !c.handshaken {
            match msgpack::parse_handshake(&c.rbuf[c.rpos..], &limits) {
                Handshake::Incomplete => return,
                Handshake::Ok { consumed } => {
                    c.rpos += consumed;
                    c.handshaken = true;
                    msgpack::handshake_reply(c.info.id, limits.max_frame, &mut c.wbuf);
                }
                Handshake::Err(text) => {
                    log::info!("conn={} MessagePack handshake refused: {text}", c.info.id);
                    msgpack::error_frame(None, text.as_bytes(), &mut c.wbuf);
                    c.closing = true;
                    self.flush(slot);
                    return;
                }
            }
            if c.rpos == c.rbuf.len() {
                c.rbuf.clear();
                c.rpos = 0;
                self.flush(slot);
                return;
            }
        }
        let parse = if c.wire == Wire::Msgpack { msgpack::parse_batch_at } else { parse_batch_at };
        let mut answered = false;
        while let Some(batch) = parse(&mut c.rbuf, &mut c.rpos, &limits) {
            if self.shared.script.any_busy() && !batch.is_empty() {
                // A script is past busy-reply-threshold (an exclusive one holds every
                // worker): answer here, as Redis would.
                busy_replies(&self.shared, c, &batch);
                self.spare_bufs.push(recycle(batch.data));
                answered = true;
                if c.closing {
                    break;
                }
                continue;
            }
            if batch.is_empty() {
                // Only empty lines: the bytes are consumed, keep looking.
                self.spare_bufs.push(recycle(batch.data));
                continue;
            }
            if self.rate > 0 {
                c.tokens -= batch.len() as f64;
            }
            let session = c.session.take().expect("checked above");
            self.pending.push(Job::Run { conn: ConnId { slot, gen: c.gen }, session, batch });
            break;
        }
        if answered {
            self.flush(slot);
        }
    }

    /// Hands this iteration's jobs to the pool: one message, split only when there is
    /// enough work for several workers.
    fn dispatch(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let jobs = std::mem::take(&mut self.pending);
        let parts = self.nworkers.min(jobs.len().div_ceil(4)).max(1);
        if parts == 1 {
            let _ = self.jobs_tx.send(jobs);
            return;
        }
        let per = jobs.len().div_ceil(parts);
        let mut it = jobs.into_iter();
        loop {
            let chunk: Vec<Job> = it.by_ref().take(per).collect();
            if chunk.is_empty() {
                break;
            }
            let _ = self.jobs_tx.send(chunk);
        }
    }

    fn drain_completions(&mut self) {
        while let Ok(done) = self.done_rx.try_recv() {
            let Done { conn, session, out, spare, blocked_until, pushes } = done;
            if !pushes.is_empty() {
                self.deliver(pushes);
                continue;
            }
            let Some(c) = self.conns.get_mut(conn.slot) else { continue };
            if c.gen != conn.gen {
                continue;
            }
            c.parked = blocked_until.is_some();
            if let Some(deadline) = blocked_until {
                // Parked on a blocking command: flush earlier replies, arm the deadline.
                if deadline != i64::MAX {
                    self.timers.insert((deadline, c.info.id));
                }
                if c.wbuf.is_empty() {
                    c.wbuf = out;
                    c.wpos = 0;
                } else {
                    c.wbuf.extend_from_slice(&out);
                }
                self.flush(conn.slot);
                self.close_if_peer_gone(conn.slot);
                continue;
            }
            let Some(session) = session else { continue };
            if c.wbuf.is_empty() {
                c.wbuf = out;
                c.wpos = 0;
            } else {
                c.wbuf.extend_from_slice(&out);
            }
            if !c.pushes.is_empty() {
                let p = std::mem::take(&mut c.pushes);
                c.wbuf.extend_from_slice(&p);
            }
            if c.rbuf.is_empty() && c.rbuf.capacity() < spare.capacity() {
                c.rbuf = recycle(spare);
            }
            let close = session.close_after_reply;
            let unauth = !session.authenticated && !self.shared.default_nopass.load(Ordering::Acquire);
            c.session = Some(session);
            if close {
                c.closing = true;
            }
            if unauth {
                // Redis keeps an unauthenticated client's replies in its 16 KB reply buffer
                // until the input it read is processed; a reply that does not fit closes
                // the client and nothing is sent. Commands run one per batch here, so the
                // replies wait while complete commands remain buffered.
                if c.wbuf.len() - c.wpos > UNAUTH_OUTPUT_LIMIT {
                    log::info!("conn={} closing unauthenticated client over the reply buffer limit", c.info.id);
                    self.close(conn.slot);
                    continue;
                }
                if !close && !c.read_pending {
                    self.parse(conn.slot);
                    let dispatched = self.conns.get(conn.slot).is_some_and(|c| c.session.is_none());
                    if dispatched {
                        continue;
                    }
                }
            }
            self.flush(conn.slot);
            if self.check_output_limit(conn.slot) {
                continue;
            }
            if let Some(c) = self.conns.get_mut(conn.slot) {
                if c.read_pending {
                    self.read(conn.slot, false);
                } else {
                    self.parse(conn.slot);
                    self.close_if_peer_gone(conn.slot);
                }
            }
        }
        if self.shared.kills_pending.swap(false, Ordering::AcqRel) {
            self.tick();
        }
    }

    /// Queues pub/sub frames: appended at once for idle or parked clients, after the
    /// replies of an in-flight batch otherwise; each touched connection is written once.
    /// A subscriber whose unsent output passes the pubsub hard limit
    /// (client-output-buffer-limit pubsub, 32 MB) is disconnected.
    fn deliver(&mut self, pushes: Vec<(ConnId, std::sync::Arc<[u8]>)>) {
        let mut touched: Vec<usize> = Vec::new();
        let mut doomed: Vec<usize> = Vec::new();
        for (conn, frame) in pushes {
            let Some(c) = self.conns.get_mut(conn.slot) else { continue };
            if c.gen != conn.gen || c.closing {
                continue;
            }
            let hard = self.obuf[class_of(c)].hard as usize;
            if hard > 0 && c.wbuf.len() - c.wpos + c.pushes.len() + frame.len() > hard {
                log::warn!(
                    "conn={} closing client over client-output-buffer-limit {} (hard limit {hard} bytes)",
                    c.info.id,
                    crate::config::OBUF_CLASSES[class_of(c)]
                );
                self.shared.net.obuf_disconnections.fetch_add(1, Ordering::Relaxed);
                c.closing = true;
                doomed.push(conn.slot);
                continue;
            }
            let idle = c.session.is_some() || c.parked;
            let dst = if idle { &mut c.wbuf } else { &mut c.pushes };
            if c.wire == Wire::Msgpack {
                if !msgpack::transcode(None, &frame, dst) {
                    log::error!("conn={} dropped a push that is not RESP3", c.info.id);
                }
            } else {
                dst.extend_from_slice(&frame);
            }
            if idle {
                touched.push(conn.slot);
            }
        }
        touched.sort_unstable();
        touched.dedup();
        for slot in touched {
            self.flush(slot);
            self.check_output_limit(slot);
        }
        for slot in doomed {
            self.close(slot);
        }
    }

    /// One write() of everything pending; closes if the connection was marked closing.
    fn flush(&mut self, slot: usize) {
        let Some(c) = self.conns.get_mut(slot) else { return };
        let mut written = 0usize;
        if let Some(tls) = c.tls.as_deref_mut() {
            match tls_write(tls, &mut c.stream, &c.wbuf, &mut c.wpos) {
                Ok(n) => written = n,
                Err(_) => {
                    self.close(slot);
                    return;
                }
            }
        } else {
            while c.wpos < c.wbuf.len() {
                match c.stream.write(&c.wbuf[c.wpos..]) {
                    Ok(0) => break,
                    Ok(n) => {
                        c.wpos += n;
                        written += n;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => {
                        self.close(slot);
                        return;
                    }
                }
            }
        }
        if written > 0 {
            self.shared.net.written(c.wire, written);
            c.info.io.tot_out.fetch_add(written as u64, Ordering::Relaxed);
        }
        if c.wpos == c.wbuf.len() {
            c.wpos = 0;
            if c.wbuf.capacity() > 1 << 20 {
                c.wbuf = Vec::new();
            } else {
                c.wbuf.clear();
            }
            // TLS: records rustls still holds must reach the socket before closing.
            if c.closing && !c.tls.as_ref().is_some_and(|t| t.wants_write()) {
                self.close(slot);
                return;
            }
            if c.read_pending && c.session.is_some() {
                self.read(slot, false);
            }
        }
        if let Some(c) = self.conns.get(slot) {
            c.info.io.obl.store(c.wbuf.len() - c.wpos, Ordering::Relaxed);
        }
    }

    /// Closes the connection if its pending output breaks its class's
    /// client-output-buffer-limit (hard at once, soft after soft-seconds); true if closed.
    fn check_output_limit(&mut self, slot: usize) -> bool {
        let Some(c) = self.conns.get_mut(slot) else { return true };
        let class = class_of(c);
        let lim = self.obuf[class];
        let pending = (c.wbuf.len() - c.wpos + c.pushes.len()) as u64;
        let over_hard = lim.hard > 0 && pending > lim.hard;
        let over_soft = lim.soft > 0 && pending > lim.soft;
        if !over_soft {
            c.over_soft_since = None;
        }
        let soft_expired = over_soft && {
            let since = *c.over_soft_since.get_or_insert_with(Instant::now);
            since.elapsed() >= Duration::from_secs(lim.soft_seconds)
        };
        if !over_hard && !soft_expired {
            return false;
        }
        log::warn!(
            "conn={} closing client over client-output-buffer-limit {} ({pending} bytes pending; hard {}, soft {} for {} s)",
            c.info.id,
            crate::config::OBUF_CLASSES[class],
            lim.hard,
            lim.soft,
            lim.soft_seconds
        );
        self.shared.net.obuf_disconnections.fetch_add(1, Ordering::Relaxed);
        self.close(slot);
        true
    }

    /// Parses for throttled connections whose rate budget holds a command again.
    fn retry_throttled(&mut self) {
        if self.throttled.is_empty() {
            return;
        }
        let rate = self.rate as f64;
        let now = Instant::now();
        let mut ready = Vec::new();
        self.throttled.retain(|&(slot, gen)| {
            let Some(c) = self.conns.get_mut(slot).filter(|c| c.gen == gen) else { return false };
            let tokens = c.tokens + now.duration_since(c.refilled).as_secs_f64() * rate;
            if rate > 0.0 && tokens < 1.0 {
                return true;
            }
            c.throttled = false;
            ready.push(slot);
            false
        });
        for slot in ready {
            let pending = self.conns.get(slot).is_some_and(|c| c.read_pending);
            if pending {
                self.read(slot, false);
            } else {
                self.parse(slot);
            }
        }
    }

    /// How long epoll may sleep: until the next tick or the nearest blocking deadline.
    fn next_timeout(&self) -> Duration {
        let tick = Duration::from_millis(if self.throttled.is_empty() { 100 } else { 2 });
        match self.timers.first() {
            Some(&(at, _)) => Duration::from_millis((at - now_ms()).clamp(0, 100) as u64).min(tick),
            None => tick,
        }
    }

    /// Turns passed deadlines into timeout jobs for the pool.
    fn fire_timers(&mut self) {
        if self.timers.is_empty() {
            return;
        }
        let now = now_ms();
        while let Some(&(at, client)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.pop_first();
            self.pending.push(Job::Timeout { client, deadline: at });
        }
    }

    fn close(&mut self, slot: usize) {
        if !self.conns.contains(slot) {
            return;
        }
        let mut c = self.conns.remove(slot);
        if c.session.is_none() {
            // In flight or parked: a parked client is dropped from the registry here.
            if self.shared.blocked.lock().take(c.info.id).is_some() {
                self.shared.nblocked.fetch_sub(1, Ordering::AcqRel);
            }
        }
        if let Some(t) = c.tls.as_deref_mut() {
            // Best effort, never blocking: a TLS client that completed the handshake is
            // told the connection ends (close_notify), as a clean TLS shutdown.
            if !t.is_handshaking() {
                t.send_close_notify();
                let _ = t.write_tls(&mut c.stream);
            }
        }
        let _ = self.poll.registry().deregister(&mut c.stream);
        self.shared.clients.lock().remove(&c.info.id);
        self.shared.unwatch_client(c.info.id);
        self.shared.pubsub.write().remove_client(c.info.id);
        self.shared.unmonitor(c.info.id);
        if self.shared.ntracking.load(Ordering::Acquire) > 0 {
            crate::commands::tracking::disable(&self.shared, c.info.id);
        }
        self.shared.net.connected(c.wire, false);
        log::debug!("conn={} closed ({})", c.info.id, c.info.addr);
    }

    /// Periodic work: CLIENT KILL flags and idle timeouts.
    fn tick(&mut self) {
        self.refresh_limits();
        let timeout_ms = self.shared.config.read().timeout as i64 * 1000;
        let now = now_ms();
        let mut doomed = Vec::new();
        let mut over = Vec::new();
        for (slot, c) in self.conns.iter() {
            if c.over_soft_since.is_some() {
                over.push(slot);
            }
            if c.info.killed.load(Ordering::Acquire) {
                doomed.push(slot);
            } else if timeout_ms > 0
                && c.session.is_some()
                && now - c.info.last_interaction_ms.load(Ordering::Relaxed) > timeout_ms
            {
                log::debug!("conn={} closing idle client", c.info.id);
                doomed.push(slot);
            }
        }
        for slot in doomed {
            self.close(slot);
        }
        // Soft limits expire with time, not only when output is added.
        for slot in over {
            self.check_output_limit(slot);
        }
    }

    /// Closes every connection (shutdown).
    pub fn close_all(&mut self) {
        let slots: Vec<usize> = self.conns.iter().map(|(s, _)| s).collect();
        for s in slots {
            self.flush(s);
            self.close(s);
        }
    }
}

/// Reads a TLS connection's socket until it would block (or the same stop rules as the
/// plain path: a short read, the query buffer limit, the read-ahead cap), decrypting into
/// `rbuf`. Returns the bytes the socket delivered and the TLS error that ends the
/// connection, if any. rustls is fed from `scratch` at most one record buffer at a time
/// and drained after each step, so it never holds plaintext between calls.
fn tls_read(c: &mut Conn, scratch: &mut [u8], closed_hint: bool, limit: usize) -> (usize, Option<rustls::Error>) {
    let Some(tls) = c.tls.as_deref_mut() else { return (0, None) };
    let mut total = 0usize;
    loop {
        let n = match c.stream.read(scratch) {
            Ok(0) => {
                c.peer_closed = true;
                break;
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => {
                c.peer_closed = true;
                break;
            }
        };
        total += n;
        let mut input = &scratch[..n];
        // An empty slice would look like EOF to rustls: feed only while bytes remain.
        while !input.is_empty() {
            match tls.read_tls(&mut input) {
                // close_notify was received: rustls takes nothing more.
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => return (total, Some(rustls::Error::General(e.to_string()))),
            }
            let state = match tls.process_new_packets() {
                Ok(s) => s,
                Err(e) => return (total, Some(e)),
            };
            let p = state.plaintext_bytes_to_read();
            if p > 0 {
                let start = c.rbuf.len();
                c.rbuf.resize(start + p, 0);
                if let Err(e) = tls.reader().read_exact(&mut c.rbuf[start..]) {
                    c.rbuf.truncate(start);
                    return (total, Some(rustls::Error::General(e.to_string())));
                }
            }
            if state.peer_has_closed() {
                c.peer_closed = true;
            }
        }
        if c.peer_closed || (n < scratch.len() && !closed_hint) || c.rbuf.len() - c.rpos > limit {
            break;
        }
        if c.session.is_none() && c.rbuf.len() - c.rpos >= READ_AHEAD && !closed_hint {
            c.read_pending = true;
            break;
        }
    }
    (total, None)
}

/// Moves `wbuf[*wpos..]` into rustls (bounded by its 64 KB send buffer) and writes its
/// records until the socket would block or nothing is left; Ok(bytes the socket took).
fn tls_write(
    tls: &mut rustls::ServerConnection,
    stream: &mut TcpStream,
    wbuf: &[u8],
    wpos: &mut usize,
) -> io::Result<usize> {
    let mut written = 0usize;
    loop {
        if *wpos < wbuf.len() {
            *wpos += tls.writer().write(&wbuf[*wpos..])?;
        }
        if !tls.wants_write() {
            return Ok(written);
        }
        match tls.write_tls(stream) {
            Ok(0) => return Ok(written),
            Ok(n) => written += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(written),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

fn recycle(mut v: Vec<u8>) -> Vec<u8> {
    v.clear();
    if v.capacity() > 1 << 20 {
        Vec::new()
    } else {
        v
    }
}

fn raw_fd(s: &TcpStream) -> i32 {
    use std::os::fd::AsRawFd;
    s.as_raw_fd()
}

fn set_keepalive(s: &TcpStream, secs: u64) {
    if secs == 0 {
        return;
    }
    use std::os::fd::AsRawFd;
    let fd = s.as_raw_fd();
    let on: libc::c_int = 1;
    let idle = secs as libc::c_int;
    let intvl = ((secs / 3).max(1)) as libc::c_int;
    let cnt: libc::c_int = 3;
    // SAFETY: plain setsockopt calls on a valid socket with correctly sized values.
    unsafe {
        let sz = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE, &on as *const _ as *const _, sz);
        libc::setsockopt(fd, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, &idle as *const _ as *const _, sz);
        libc::setsockopt(fd, libc::IPPROTO_TCP, libc::TCP_KEEPINTVL, &intvl as *const _ as *const _, sz);
        libc::setsockopt(fd, libc::IPPROTO_TCP, libc::TCP_KEEPCNT, &cnt as *const _ as *const _, sz);
    }
}

/// A one-line error for a client refused at accept (`-TEXT\r\n` in RESP), in the
/// listener's protocol.
fn error_line(wire: Wire, resp: &str) -> Vec<u8> {
    match wire {
        Wire::Resp => resp.as_bytes().to_vec(),
        Wire::Msgpack => {
            let mut out = Vec::new();
            let text = resp.trim_start_matches('-').trim_end_matches("\r\n");
            msgpack::error_frame(None, text.as_bytes(), &mut out);
            out
        }
    }
}

/// The client-output-buffer-limit class of a connection: pubsub while it has a
/// subscription, normal otherwise (there are no replicas yet).
fn class_of(c: &Conn) -> usize {
    if c.info.subs.iter().any(|n| n.load(Ordering::Relaxed) > 0) {
        2
    } else {
        0
    }
}

/// While a script is busy (Redis's BUSY state): SCRIPT KILL stops it unless it wrote
/// (UNKILLABLE), SHUTDOWN NOSAVE stops it and the server, anything else gets BUSY. The
/// replies are written straight into the connection's output, in its protocol. With
/// several busy scripts (parallel ones), SCRIPT KILL stops them all, or none if any wrote.
fn busy_replies(shared: &Shared, c: &mut Conn, batch: &crate::protocol::Batch) {
    use crate::protocol::Reply;
    // SCRIPT KILL stops busy EVAL scripts, FUNCTION KILL busy functions (as in Redis).
    let busy = |function: bool| {
        shared
            .script
            .runs
            .iter()
            .filter(move |r| r.busy.load(Ordering::Acquire) && r.function.load(Ordering::Acquire) == function)
    };
    let proto = c.session.as_ref().map_or(crate::protocol::Proto::Resp2, |s| s.proto);
    let mut argv = Vec::new();
    for i in 0..batch.len() {
        batch.argv(i, &mut argv);
        let is = |j: usize, w: &str| argv.get(j).is_some_and(|a| a.eq_ignore_ascii_case(w.as_bytes()));
        let busy_err = || Reply::Error(shared.script.busy_error());
        let reply = if (is(0, "script") || is(0, "function")) && is(1, "kill") && argv.len() == 2 {
            let function = is(0, "function");
            if busy(function).next().is_none() {
                busy_err()
            } else if busy(function).any(|r| r.wrote.load(Ordering::Acquire)) {
                Reply::err("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.")
            } else {
                busy(function).for_each(|r| r.kill.store(true, Ordering::Release));
                Reply::ok()
            }
        } else if is(0, "function") && is(1, "stats") && argv.len() == 2 && busy(true).next().is_some() {
            crate::commands::functions::stats_reply(shared)
        } else if is(0, "shutdown") && is(1, "nosave") {
            log::warn!("conn={} SHUTDOWN NOSAVE while a script is busy: stopping it", c.info.id);
            shared.script.runs.iter().for_each(|r| r.kill.store(true, Ordering::Release));
            shared.persist.shutdown_handled.store(true, Ordering::Release);
            shared.shutdown_requested.store(true, Ordering::Release);
            c.closing = true;
            return;
        } else if is(0, "quit") {
            c.closing = true;
            Reply::ok()
        } else if let Some(s) = c.session.as_mut().filter(|s| s.multi.is_some()) {
            // Inside MULTI, as Redis's rejectCommand: the refusal dooms the transaction,
            // and EXEC itself aborts it.
            if is(0, "exec") {
                crate::commands::transaction::reset(shared, s);
                Reply::Error(format!("EXECABORT Transaction discarded because of: {}", shared.script.busy_error()))
            } else if is(0, "discard") {
                crate::commands::transaction::reset(shared, s);
                Reply::ok()
            } else {
                s.multi_error = true;
                busy_err()
            }
        } else {
            busy_err()
        };
        match c.wire {
            Wire::Resp => reply.encode(proto, &mut c.wbuf),
            Wire::Msgpack => msgpack::encode_reply(Some(batch.id(i)), &reply, &mut c.wbuf),
        }
        if c.closing {
            return;
        }
    }
}
