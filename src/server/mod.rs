//! Wiring: listeners, loading the RDB file or the AOF, the reactor thread, the worker
//! pool, the active-expiry thread, the saver thread (BGSAVE, BGREWRITEAOF, save points),
//! the AOF writer thread, signals and orderly shutdown (AOF flushed and fsynced; the
//! final save when save points are configured).
//!
//! Must hold: the reactor is the only thread touching sockets; workers park on their
//! channel when idle; shutdown stops accepting, closes clients, and joins every thread.

pub mod reactor;
pub mod tls;
pub mod worker;

use crate::commands::{self, state::Shared};
use crate::config::Config;
use crate::protocol::Wire;
use mio::net::TcpListener;
use mio::{Poll, Waker};
use reactor::Listener;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use worker::{now_ms, Wake};

/// A running server (used by `main` and by in-process tests).
pub struct Handle {
    /// The RESP listeners' addresses.
    pub addrs: Vec<SocketAddr>,
    /// The MessagePack listeners' addresses.
    pub msgpack_addrs: Vec<SocketAddr>,
    /// The TLS listeners' addresses (RESP and MessagePack).
    pub tls_addrs: Vec<SocketAddr>,
    pub shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<io::Result<()>>>,
}

impl Handle {
    /// Asks the server to stop and waits for it.
    pub fn shutdown(mut self) -> io::Result<()> {
        self.shared.shutdown_requested.store(true, Ordering::Release);
        self.join()
    }
    pub fn join(&mut self) -> io::Result<()> {
        match self.thread.take() {
            Some(t) => t.join().unwrap_or_else(|_| Err(io::Error::other("server thread panicked"))),
            None => Ok(()),
        }
    }
}

/// Binds every listener: RESP on each `bind` address at `port`; MessagePack on each at
/// `msgpack-port` when there is no `listen` line; RESP over TLS on each at `tls-port`;
/// then every `listen` line. The TLS configuration is built first, only when a TLS
/// listener is configured: a failure is an error wrapping a [`tls::SetupError`].
fn bind_all(cfg: &Config) -> io::Result<Vec<Listener>> {
    let tls = match tls::wanted(cfg) {
        true => Some(tls::server_config(cfg).map_err(|e| io::Error::other(tls::SetupError(e)))?),
        false => None,
    };
    let plain = |sock, wire| Listener { sock, wire, tls: None };
    let mut out = Vec::new();
    for b in &cfg.bind {
        for a in resolve(b, cfg.port)? {
            out.push(plain(bind_one(a, cfg.tcp_backlog)?, Wire::Resp));
        }
    }
    if cfg.listen.is_empty() && cfg.msgpack_port != 0 {
        for b in &cfg.bind {
            for a in resolve(b, cfg.msgpack_port)? {
                match bind_one(a, cfg.tcp_backlog) {
                    Ok(l) => out.push(plain(l, Wire::Msgpack)),
                    Err(e) if !cfg.msgpack_port_set => {
                        log::warn!("MessagePack listener on {a} not started ({e}); set msgpack-port to choose a port")
                    }
                    Err(e) => return Err(e),
                }
            }
        }
    }
    if cfg.tls_port != 0 {
        for b in &cfg.bind {
            for a in resolve(b, cfg.tls_port)? {
                out.push(Listener { sock: bind_one(a, cfg.tcp_backlog)?, wire: Wire::Resp, tls: tls.clone() });
            }
        }
    }
    for l in &cfg.listen {
        let wire = if l.msgpack { Wire::Msgpack } else { Wire::Resp };
        for a in resolve(&l.addr, l.port)? {
            let tls = if l.tls { tls.clone() } else { None };
            out.push(Listener { sock: bind_one(a, cfg.tcp_backlog)?, wire, tls });
        }
    }
    Ok(out)
}

fn resolve(bind: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    let b = bind.trim_start_matches('-');
    let host = if b.contains(':') && !b.starts_with('[') { format!("[{b}]") } else { b.to_string() };
    Ok(format!("{host}:{port}").to_socket_addrs()?.collect())
}

fn bind_one(addr: SocketAddr, backlog: u32) -> io::Result<TcpListener> {
    let std_l = std::net::TcpListener::bind(addr)?;
    // Re-listen with the configured backlog (std uses 128).
    // SAFETY: listen() on the fd we just bound.
    unsafe {
        use std::os::fd::AsRawFd;
        libc::listen(std_l.as_raw_fd(), backlog.max(1) as libc::c_int);
    }
    std_l.set_nonblocking(true)?;
    Ok(TcpListener::from_std(std_l))
}

/// Starts the server threads and returns once the listeners are bound.
pub fn start(cfg: Config) -> io::Result<Handle> {
    let listeners = bind_all(&cfg)?;
    let addrs_of = |w: Option<Wire>, tls: bool| -> Vec<SocketAddr> {
        listeners
            .iter()
            .filter(|l| w.is_none_or(|w| l.wire == w) && l.tls.is_some() == tls)
            .filter_map(|l| l.sock.local_addr().ok())
            .collect()
    };
    let (addrs, msgpack_addrs) = (addrs_of(Some(Wire::Resp), false), addrs_of(Some(Wire::Msgpack), false));
    let tls_addrs = addrs_of(None, true);
    let nworkers = cfg.workers.max(1);
    let mut cfg = cfg;
    if let Some(a) = addrs.first() {
        cfg.port = a.port();
    }
    let requirepass = cfg.requirepass.clone();
    let shared = Arc::new(Shared::new(cfg, nworkers, commands::table().len(), now_ms()));
    commands::acl::set_requirepass(&shared, &requirepass);
    // Like Redis, the ACL file (or `user` lines) is applied after requirepass: a file
    // without a `default` line leaves the default user open.
    commands::acl::load_at_startup(&shared).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    if shared.config.read().appendonly {
        commands::aof::load_or_create(&shared).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    } else {
        load_rdb(&shared)?;
    }
    let poll = Poll::new()?;
    let wake = Arc::new(Wake { waker: Waker::new(poll.registry(), reactor::WAKER)?, sleeping: AtomicBool::new(false) });
    let (jobs_tx, jobs_rx) = crossbeam_channel::unbounded();
    let (done_tx, done_rx) = crossbeam_channel::unbounded();
    let mut workers = Vec::new();
    for i in 0..nworkers {
        let (sh, rx, tx, wk) = (shared.clone(), jobs_rx.clone(), done_tx.clone(), wake.clone());
        workers.push(
            std::thread::Builder::new()
                .name(format!("rustis-worker-{i}"))
                .spawn(move || worker::run(i, sh, rx, tx, wk))?,
        );
    }
    commands::aof::track_expired(&shared, shared.aof.on.load(Ordering::Acquire));
    let expiry = {
        let (sh, tx, wk) = (shared.clone(), done_tx.clone(), wake.clone());
        std::thread::Builder::new().name("rustis-expire".into()).spawn(move || expire_loop(sh, tx, wk))?
    };
    drop(done_tx);
    let aof_writer = {
        let sh = shared.clone();
        std::thread::Builder::new().name("rustis-aof".into()).spawn(move || {
            while !sh.shutdown.load(Ordering::Acquire) {
                sh.aof.flush_wait(Duration::from_millis(10));
            }
        })?
    };
    let saver = {
        let sh = shared.clone();
        std::thread::Builder::new().name("rustis-saver".into()).spawn(move || saver_loop(sh))?
    };
    let metrics = start_metrics(&shared, jobs_tx.clone());
    let mut r = reactor::Reactor::new(poll, listeners, shared.clone(), jobs_tx, done_rx, wake, nworkers)?;
    let sh = shared.clone();
    let thread = std::thread::Builder::new().name("rustis-reactor".into()).spawn(move || {
        let res = r.run();
        r.close_all();
        drop(r);
        sh.shutdown.store(true, Ordering::Release);
        for w in workers {
            let _ = w.join();
        }
        let _ = expiry.join();
        let _ = saver.join();
        let _ = aof_writer.join();
        if sh.aof.on.load(Ordering::Acquire) {
            sh.aof.stop();
        }
        if !sh.persist.shutdown_handled.load(Ordering::Acquire) && !sh.config.read().save_points().is_empty() {
            if let Err(e) = commands::server::final_save(&sh) {
                log::error!("Error trying to save the DB on shutdown: {e}");
            }
        }
        if let Some(m) = metrics {
            let _ = m.join();
        }
        res
    })?;
    Ok(Handle { addrs, msgpack_addrs, tls_addrs, shared, thread: Some(thread) })
}

/// Starts the Prometheus endpoint (`metrics-port`, `metrics-bind`; port 0: none). A bind
/// failure is logged and the server runs without it.
fn start_metrics<T: Send + 'static>(
    shared: &Arc<Shared>,
    queue: crossbeam_channel::Sender<T>,
) -> Option<std::thread::JoinHandle<()>> {
    let (bind, port) = {
        let c = shared.config.read();
        (c.metrics_bind.clone(), c.metrics_port)
    };
    if port == 0 {
        return None;
    }
    let host = if bind.contains(':') && !bind.starts_with('[') { format!("[{bind}]") } else { bind };
    let addr = match format!("{host}:{port}").to_socket_addrs().ok().and_then(|mut a| a.next()) {
        Some(a) => a,
        None => {
            log::error!("metrics endpoint disabled: cannot resolve metrics-bind {host}");
            return None;
        }
    };
    let sh = shared.clone();
    let render: crate::metrics::http::Render =
        Arc::new(move || crate::metrics::render(&metrics_snapshot(&sh, queue.len() as u64)));
    let stop = Arc::new(AtomicBool::new(false));
    // The endpoint stops with the server: a watcher flips `stop` once shutdown is set.
    let (sh, st) = (shared.clone(), stop.clone());
    match crate::metrics::http::spawn(addr, render, stop) {
        Ok((local, t)) => {
            log::info!("metrics endpoint listening on http://{local}/metrics");
            let watcher = std::thread::Builder::new().name("rustis-metrics-stop".into()).spawn(move || {
                while !sh.shutdown.load(Ordering::Acquire) {
                    std::thread::sleep(Duration::from_millis(100));
                }
                st.store(true, Ordering::Release);
                let _ = t.join();
            });
            watcher.ok()
        }
        Err(e) => {
            log::error!("metrics endpoint disabled: cannot listen on {addr}: {e}");
            None
        }
    }
}

/// One scrape's numbers, from the same counters INFO reads.
fn metrics_snapshot(shared: &Shared, queue_depth: u64) -> crate::metrics::Snapshot {
    use crate::metrics::{CommandSnap, Hist, Snapshot};
    let t = commands::table();
    let mut cmds: Vec<CommandSnap> =
        t.cmds.iter().map(|c| CommandSnap { name: c.name.to_string(), ..Default::default() }).collect();
    let mut s = Snapshot::default();
    let mut lock_wait = Hist::default();
    for w in shared.workers.iter() {
        let g = w.lock();
        s.commands_processed += g.commands;
        s.lock_acquire_failures += g.lock_contended;
        s.scripts[0] += g.scripts_parallel;
        s.scripts[1] += g.scripts_exclusive;
        s.script_rollbacks += g.script_rollbacks;
        lock_wait.merge(&g.lock_wait_hist);
        for (c, st) in cmds.iter_mut().zip(g.cmd.iter()) {
            c.calls += st.calls;
            c.failed += st.failed;
            c.rejected += st.rejected;
            c.duration.merge(&st.hist);
        }
    }
    s.lock_wait = lock_wait;
    s.commands = cmds;
    let n = &shared.net;
    s.bytes_read = n.bytes_read.load(Ordering::Relaxed);
    s.bytes_written = n.bytes_written.load(Ordering::Relaxed);
    s.connected_clients = n.connected_clients.load(Ordering::Relaxed) as u64;
    s.connections_received = n.connections_received.load(Ordering::Relaxed);
    s.obuf_disconnections = n.obuf_disconnections.load(Ordering::Relaxed);
    s.rate_limited = n.rate_limited.load(Ordering::Relaxed);
    let m = &n.msgpack;
    s.msgpack = [
        m.bytes_read.load(Ordering::Relaxed),
        m.bytes_written.load(Ordering::Relaxed),
        m.connected_clients.load(Ordering::Relaxed) as u64,
        m.connections_received.load(Ordering::Relaxed),
    ];
    s.rejected_connections = n.rejected_connections.load(Ordering::Relaxed);
    for (i, db) in shared.keyspace.dbs.iter().enumerate() {
        let mut keys = 0u64;
        for st in db.stripes.iter() {
            let g = st.read();
            keys += g.len() as u64;
            s.expired_keys += g.expired;
        }
        if keys > 0 {
            s.keys.push((i, keys));
        }
    }
    s.memory_used = commands::evict::allocated_bytes();
    s.evicted_keys = shared.evicted_keys.load(Ordering::Relaxed);
    s.blocked_clients = shared.nblocked.load(Ordering::Relaxed) as u64;
    s.pubsub_channels = shared.pubsub.read().counts().0 as u64;
    s.active_locks = shared.worker_live.iter().map(|l| l.active_locks.load(Ordering::Relaxed)).sum();
    s.worker_busy_seconds = shared.worker_live.iter().map(|l| l.busy_ns.load(Ordering::Relaxed) as f64 / 1e9).collect();
    s.worker_queue_depth = queue_depth;
    s
}

/// Active expiry: Redis's sampled cycle, per stripe, time-boxed so no stripe is held for
/// long. Runs `hz` times a second.
fn expire_loop(shared: Arc<Shared>, done: crossbeam_channel::Sender<worker::Done>, wake: Arc<Wake>) {
    let mut rng: u64 = 0x2545_f491_4f6c_dd1d ^ now_ms() as u64;
    let mut cursor = 0usize;
    while !shared.shutdown.load(Ordering::Acquire) {
        let (hz, effort) = {
            let c = shared.config.read();
            (c.hz.clamp(1, 500), c.active_expire_effort.clamp(1, 10))
        };
        let start = Instant::now();
        // Redis: 25% of CPU at most per cycle, 20 keys per sample (+ effort).
        let budget = Duration::from_micros(250_000 / hz as u64);
        let samples = 20 + 5 * (effort as usize - 1);
        let threshold = samples * (10 - effort as usize + 1) / 40; // ~25% at effort 1
                                                                   // Resume where the last cycle stopped so no stripe starves.
        let per_db = shared.keyspace.nstripes();
        // CLIENT PAUSE stops active expiry, as in Redis (a paused replica set must not diverge).
        let paused = shared.pause_end.load(Ordering::Relaxed) > crate::store::unix_ms();
        let active = shared.active_expire.load(Ordering::Relaxed) && !paused;
        let total = if active { per_db * shared.keyspace.dbs.len() } else { 0 };
        for _ in 0..total {
            cursor = (cursor + 1) % total;
            let s = &shared.keyspace.dbs[cursor / per_db].stripes[cursor % per_db];
            {
                if s.read().volatile_len() == 0 {
                    continue;
                }
                let mut st = s.write();
                let now = now_ms();
                for _ in 0..16 {
                    let (sampled, expired) = st.expire_sample(now, samples, &mut rng);
                    if sampled == 0 || expired <= threshold {
                        break;
                    }
                }
                // With the AOF or `expired` events on, the removed keys are logged as DELs and
                // announced while the stripe is still locked (ordered with its writes).
                let mut pushes = Vec::new();
                commands::notify::expired(&shared, &mut pushes, cursor / per_db, &st.take_expired());
                if !pushes.is_empty() {
                    let _ = done.send(worker::Done {
                        conn: Default::default(),
                        session: None,
                        out: Vec::new(),
                        spare: Vec::new(),
                        blocked_until: None,
                        pushes,
                    });
                    wake.wake_if_sleeping();
                }
                drop(st);
                if start.elapsed() > budget {
                    break;
                }
            }
        }
        let period = Duration::from_millis(1000 / hz as u64);
        let spent = start.elapsed();
        if spent < period {
            std::thread::sleep(period - spent);
        }
    }
}

extern "C" fn on_signal(_: libc::c_int) {
    reactor::SIGNALLED.store(true, Ordering::Relaxed);
}

/// Installs SIGINT/SIGTERM handlers that request a graceful shutdown; ignores SIGPIPE.
pub fn install_signal_handlers() {
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
}

/// Loads `dir`/`dbfilename` into the empty keyspace, if the file exists. A file that
/// cannot be read or is corrupt stops the start (as Redis exits), naming the problem.
fn load_rdb(shared: &Shared) -> io::Result<()> {
    let path = {
        let c = shared.config.read();
        std::path::Path::new(&c.dir).join(&c.dbfilename)
    };
    let t0 = Instant::now();
    let lim = commands::server::load_limits(shared);
    match crate::persistence::load(&shared.keyspace, &path, lim, now_ms()) {
        Ok(None) => Ok(()),
        Ok(Some(info)) => {
            for code in &info.functions {
                commands::functions::load_library(shared, code, true).map_err(|e| {
                    io::Error::new(io::ErrorKind::InvalidData, format!("loading a function library: {e}"))
                })?;
            }
            log::info!(
                "Done loading RDB, keys loaded: {}, keys expired: {}. DB loaded from disk: {:.3} seconds",
                info.keys_loaded,
                info.keys_expired,
                t0.elapsed().as_secs_f64()
            );
            shared.persist.with(|s| {
                s.last_load_keys_loaded = info.keys_loaded;
                s.last_load_keys_expired = info.keys_expired;
            });
            Ok(())
        }
        Err(e) => Err(io::Error::new(io::ErrorKind::InvalidData, e)),
    }
}

/// The saver thread: writes BGSAVE snapshots and runs the save-point cron every 100 ms.
fn saver_loop(shared: Arc<Shared>) {
    let jobs = shared.persist.jobs();
    while !shared.shutdown.load(Ordering::Acquire) {
        match jobs.recv_timeout(Duration::from_millis(100)) {
            Ok(job) if shared.persist.status().aof_rewrite => commands::aof::rewrite_run(&shared, job),
            Ok(job) => commands::server::bgsave_run(&shared, job),
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => commands::server::save_cron(&shared),
            Err(_) => break,
        }
    }
    // A snapshot opened just before shutdown still has to be written (and closed).
    while let Ok(job) = jobs.try_recv() {
        if shared.persist.status().aof_rewrite {
            commands::aof::rewrite_run(&shared, job);
        } else {
            commands::server::bgsave_run(&shared, job);
        }
    }
}
