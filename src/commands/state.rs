//! State shared by the reactor and the workers: the keyspace, runtime configuration, the
//! client registry (CLIENT LIST/KILL), per-worker statistics, and per-connection sessions.
//!
//! Must hold: nothing here is locked on the per-command hot path except the connection's
//! own session (moved with its batch, never shared) and the worker's own stats.

use crate::config::Config;
use crate::protocol::{Batch, Proto, Reply, Wire};
use crate::store::Keyspace;
use crossbeam_utils::CachePadded;
use parking_lot::{Mutex, RwLock};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;

/// Identifies a connection slot and its generation (slot reuse is detected by gen).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ConnId {
    pub slot: usize,
    pub gen: u64,
}

/// What other connections may see of a client (CLIENT LIST / INFO / KILL).
pub struct ClientInfo {
    pub id: u64,
    pub conn: ConnId,
    pub addr: String,
    pub laddr: String,
    pub fd: i32,
    pub created_ms: i64,
    pub last_interaction_ms: AtomicI64,
    pub db: AtomicUsize,
    pub name: Mutex<Vec<u8>>,
    /// Id of the last command run (index into the command table), +1; 0 = none.
    pub last_cmd: AtomicUsize,
    pub resp: AtomicU8,
    /// RESP or MessagePack (CLIENT LIST shows `proto=msgpack` for the latter).
    pub wire: Wire,
    /// Written by the reactor on every read/write: kept off the workers' cache line.
    pub io: CachePadded<IoCounters>,
    /// Set by CLIENT KILL; the reactor closes the connection.
    pub killed: AtomicBool,
    /// Subscribed channels, patterns, shard channels (CLIENT LIST sub/psub/ssub).
    pub subs: [AtomicUsize; 3],
    /// Commands queued in MULTI, -1 outside a transaction (CLIENT LIST multi=).
    pub multi: AtomicI64,
    /// The ACL user (CLIENT LIST user=, CLIENT KILL USER, ACL DELUSER).
    pub user: Mutex<String>,
}

impl ClientInfo {
    /// A fresh client record (db 0, RESP2, no name, not in MULTI).
    pub fn new(id: u64, conn: ConnId, addr: String, laddr: String, fd: i32, now_ms: i64) -> ClientInfo {
        ClientInfo {
            id,
            conn,
            addr,
            laddr,
            fd,
            created_ms: now_ms,
            last_interaction_ms: AtomicI64::new(now_ms),
            db: AtomicUsize::new(0),
            name: Default::default(),
            last_cmd: AtomicUsize::new(0),
            resp: AtomicU8::new(2),
            wire: Wire::Resp,
            io: Default::default(),
            killed: AtomicBool::new(false),
            subs: Default::default(),
            multi: AtomicI64::new(-1),
            user: Mutex::new("default".to_string()),
        }
    }
}

/// A connection's I/O counters (CLIENT LIST qbuf/obl), updated by the reactor.
#[derive(Default)]
pub struct IoCounters {
    pub qbuf: AtomicUsize,
    pub obl: AtomicUsize,
    pub tot_in: AtomicU64,
    pub tot_out: AtomicU64,
}

/// Per-connection state, owned by the connection and moved along with its batch.
pub struct Session {
    /// CLIENT TRACKING options (a copy of what `Shared::tracking` holds for this client).
    pub tracking: super::tracking::Mode,
    /// CLIENT CACHING was given for the next command.
    pub caching: bool,
    /// Authenticated (true from the start when the default user has no password).
    pub authenticated: bool,
    /// The ACL user this client runs as.
    pub user: String,
    pub id: u64,
    pub db: usize,
    /// RESP2/RESP3 reply semantics (a MessagePack connection is always RESP3).
    pub proto: Proto,
    /// The framing: RESP or MessagePack (fixed by the listener).
    pub wire: Wire,
    /// The MessagePack request id of the command running now (its reply carries it).
    pub req_id: u64,
    pub info: Arc<ClientInfo>,
    /// Close the connection once this batch's replies are written (QUIT, protocol error).
    pub close_after_reply: bool,
    /// Set by a blocking command that found nothing to serve: the worker parks the
    /// client (see [`BlockRegistry`]) instead of replying.
    pub block: Option<BlockRequest>,
    /// True while a parked client's command is re-run because a key it waits on was
    /// written (XREADGROUP then reports a destroyed group as Redis's serve path does).
    pub serving_block: bool,
    /// Commands queued since MULTI (None: not in a transaction).
    pub multi: Option<Vec<Vec<Vec<u8>>>>,
    /// A command failed to queue (unknown, arity, not allowed): EXEC answers EXECABORT.
    pub multi_error: bool,
    /// A script (EVAL, FCALL, ...) is queued: EXEC takes every worker's gate.
    pub multi_script: bool,
    /// EXEC is running this session's queued commands.
    pub in_exec: bool,
    /// AOF records of the running EXEC, appended together when it ends.
    pub aof_tx: Option<Vec<crate::persistence::aof::Record>>,
    /// CLIENT REPLY state.
    pub reply: ReplyMode,
    /// Watched keys: (db, key, the key's expiry time when WATCH ran, if it had one).
    pub watched: Vec<(usize, Vec<u8>, Option<i64>)>,
    /// Set (by any worker, through [`WatchRegistry`]) when a watched key is modified.
    pub watch_dirty: Arc<AtomicBool>,
    /// The connection (set by the reactor): where pub/sub messages for this client go.
    pub conn: ConnId,
    /// Channels + patterns + shard channels subscribed (RESP2 subscribed mode when > 0).
    pub subs: usize,
}

impl Session {
    pub fn new(info: Arc<ClientInfo>) -> Session {
        let wire = info.wire;
        let proto = if wire == Wire::Msgpack { Proto::Resp3 } else { Proto::Resp2 };
        if wire == Wire::Msgpack {
            info.resp.store(3, Ordering::Relaxed);
        }
        Session {
            id: info.id,
            db: 0,
            proto,
            wire,
            req_id: 0,
            info,
            close_after_reply: false,
            multi: None,
            multi_error: false,
            multi_script: false,
            in_exec: false,
            aof_tx: None,
            reply: ReplyMode::On,
            watched: Vec::new(),
            watch_dirty: Arc::new(AtomicBool::new(false)),
            conn: ConnId::default(),
            subs: 0,
            block: None,
            serving_block: false,
            tracking: Default::default(),
            caching: false,
            authenticated: true,
            user: "default".to_string(),
        }
    }
}

/// The scripts running now, one slot per worker (scripts may run in parallel): what the
/// reactor and SCRIPT KILL need to know.
pub struct Scripts {
    /// How many running scripts are past busy-reply-threshold: while any is, the reactor
    /// answers other clients BUSY itself, as Redis does.
    pub busy: std::sync::atomic::AtomicUsize,
    pub runs: Box<[ScriptState]>,
}

impl Scripts {
    /// True while any running script is past busy-reply-threshold.
    pub fn any_busy(&self) -> bool {
        self.busy.load(Ordering::Acquire) > 0
    }

    /// Redis's BUSY error, naming the kill command for what is busy (FUNCTION KILL when
    /// only functions are).
    pub fn busy_error(&self) -> String {
        let busy = |function: bool| {
            self.runs.iter().any(|r| r.busy.load(Ordering::Acquire) && r.function.load(Ordering::Acquire) == function)
        };
        let kill = if busy(true) && !busy(false) { "FUNCTION KILL" } else { "SCRIPT KILL" };
        format!("BUSY Redis is busy running a script. You can only call {kill} or SHUTDOWN NOSAVE.")
    }
}

/// How often a command waiting for a worker gate or a stripe looks whether a script has
/// turned busy (then it gives up with BUSY, as Redis answers every command then).
pub const BUSY_POLL: std::time::Duration = std::time::Duration::from_millis(5);

/// The script running on one worker, if any.
#[derive(Default)]
pub struct ScriptState {
    /// Ran past busy-reply-threshold: other clients get BUSY.
    pub busy: AtomicBool,
    /// SCRIPT KILL (or SHUTDOWN NOSAVE) asked it to stop.
    pub kill: AtomicBool,
    /// It ran a write command (then SCRIPT KILL answers UNKILLABLE).
    pub wrote: AtomicBool,
    /// A script is running (the Lua hook only counts time then), since `started_ms`,
    /// with busy-reply-threshold `threshold_ms` as of its start.
    pub running: AtomicBool,
    pub started_ms: AtomicI64,
    pub threshold_ms: AtomicI64,
    /// The run is a function (FCALL): FUNCTION KILL stops it, SCRIPT KILL does not.
    pub function: AtomicBool,
    /// A running function's name and command line (FUNCTION STATS running_script).
    pub call: Mutex<Option<(String, Vec<Vec<u8>>)>>,
}

/// One LATENCY event: samples (unix s, ms), newest last, and the all-time max (ms).
pub type LatencyEvent = (VecDeque<(i64, u64)>, u64);

/// CLIENT REPLY: answer, stay silent, or stay silent for the next command only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyMode {
    On,
    Off,
    /// Set by CLIENT REPLY SKIP (whose own reply is dropped too).
    SkipThis,
    /// The command after CLIENT REPLY SKIP: dropped, then back to On.
    SkipNext,
}

/// What a blocking command waits for.
pub struct BlockRequest {
    /// Keys (in the session's db) whose change may serve it.
    pub keys: Vec<Vec<u8>>,
    /// Absolute unix ms, or None to wait forever.
    pub deadline: Option<i64>,
    /// The reply on timeout (a null of the command's shape).
    pub on_timeout: Reply,
    /// The command to re-run when a key is written, if not the original (XREAD's `$`
    /// must mean the last ID at block time, so it is re-run with resolved IDs).
    pub rewrite: Option<Vec<Vec<u8>>>,
    /// Postponed by CLIENT PAUSE (no keys): re-run when the pause ends, never served.
    pub postpone: bool,
}

/// A parked client: its session and the rest of its batch.
pub struct Blocked {
    pub conn: ConnId,
    pub session: Box<Session>,
    pub batch: Batch,
    /// Index of the blocked command in `batch`.
    pub index: usize,
    pub keys: Vec<(usize, Vec<u8>)>,
    pub on_timeout: Reply,
    /// Unix ms (i64::MAX: none); a timeout applies only to the block it was armed for.
    pub deadline: i64,
    /// See [`BlockRequest::rewrite`].
    pub rewrite: Option<Vec<Vec<u8>>>,
    /// See [`BlockRequest::postpone`].
    pub postponed: bool,
}

/// Blocked clients by id, and per (db, key) the FIFO of clients waiting on it.
#[derive(Default)]
pub struct BlockRegistry {
    pub clients: HashMap<u64, Blocked>,
    pub keys: HashMap<(usize, Vec<u8>), VecDeque<u64>>,
}

impl BlockRegistry {
    /// Parks a client at the back (or, when re-blocking after a failed serve, the front)
    /// of each of its keys' queues.
    pub fn add(&mut self, b: Blocked, front: bool) {
        let id = b.session.id;
        for k in &b.keys {
            let q = self.keys.entry(k.clone()).or_default();
            if front {
                q.push_front(id);
            } else {
                q.push_back(id);
            }
        }
        self.clients.insert(id, b);
    }
    /// Removes a parked client from every queue.
    pub fn take(&mut self, id: u64) -> Option<Blocked> {
        let b = self.clients.remove(&id)?;
        for k in &b.keys {
            if let Some(q) = self.keys.get_mut(k) {
                q.retain(|x| *x != id);
                if q.is_empty() {
                    self.keys.remove(k);
                }
            }
        }
        Some(b)
    }
    pub fn first_waiter(&self, db: usize, key: &[u8]) -> Option<u64> {
        self.keys.get(&(db, key.to_vec())).and_then(|q| q.front().copied())
    }
}

/// How CLIENT UNBLOCK ends a block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unblock {
    Timeout,
    Error,
    /// The pause ended (CLIENT UNPAUSE): a postponed client re-runs its command.
    Resume,
}

/// CLIENT PAUSE state (Redis's client_pause_type / client_pause_end_time): the most
/// restrictive mode and the latest end asked for win until CLIENT UNPAUSE.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pause {
    /// Unix ms; 0 when not paused.
    pub end: i64,
    /// ALL (every command) rather than WRITE (writes and commands that may replicate).
    pub all: bool,
}

/// Side effects a command leaves for its worker to act on after it returns.
#[derive(Default)]
pub struct Effects {
    /// Keys written while clients are blocked: their waiters are served next.
    pub ready: VecDeque<(usize, Vec<u8>)>,
    /// CLIENT UNBLOCK requests.
    pub unblock: Vec<(u64, Unblock)>,
    /// Pub/sub frames for other connections (PUBLISH), handed to the reactor.
    pub pushes: Vec<(ConnId, Arc<[u8]>)>,
    /// AOF offset the replies produced so far must wait for (`appendfsync always`).
    pub aof_offset: u64,
    /// BCAST invalidations to send when the worker's message is done.
    pub bcast: Vec<super::tracking::BcastKey>,
}

/// Per-command counters of one worker (INFO commandstats).
#[derive(Clone, Copy, Default)]
pub struct CmdStat {
    pub calls: u64,
    pub usec: u64,
    pub rejected: u64,
    pub failed: u64,
    /// Run time distribution (Prometheus rustis_command_duration_seconds).
    pub hist: crate::metrics::Hist,
}

/// Counters kept by one worker without synchronisation; summed when read.
pub struct WorkerStats {
    pub commands: u64,
    pub hits: u64,
    pub misses: u64,
    pub cmd: Vec<CmdStat>,
    /// INFO latencystats per command (allocated at a command's first call while
    /// `latency-tracking` is on).
    pub lat: Vec<Option<Box<crate::metrics::FineHist>>>,
    /// Error replies by their code (ERR, WRONGTYPE, ...): INFO errorstats.
    pub errors: HashMap<String, u64>,
    /// Stripe locks that were not free at the first try, and the time spent waiting.
    pub lock_contended: u64,
    pub lock_wait_ns: u64,
    pub lock_wait_hist: crate::metrics::Hist,
    /// Scripts (EVAL*, FCALL*) run: in parallel, alone (exclusive), and parallel runs
    /// rolled back to be repeated alone.
    pub scripts_parallel: u64,
    pub scripts_exclusive: u64,
    pub script_rollbacks: u64,
    /// This worker's index (its [`WorkerLive`] slot).
    pub idx: usize,
}

/// What a worker publishes for scrapes without taking its stats lock: plain stores by
/// the worker, loads by the metrics thread.
#[derive(Default)]
pub struct WorkerLive {
    /// Stripe locks the worker's current command holds.
    pub active_locks: AtomicU64,
    /// Nanoseconds spent running job batches.
    pub busy_ns: AtomicU64,
    /// Successful write commands run (Redis's server.dirty, summed over workers).
    pub dirty: AtomicU64,
}

impl WorkerStats {
    pub fn new(ncmds: usize, idx: usize) -> WorkerStats {
        WorkerStats {
            idx,
            lock_wait_hist: Default::default(),
            commands: 0,
            hits: 0,
            misses: 0,
            cmd: vec![CmdStat::default(); ncmds],
            lat: vec![None; ncmds],
            errors: HashMap::new(),
            lock_contended: 0,
            lock_wait_ns: 0,
            scripts_parallel: 0,
            scripts_exclusive: 0,
            script_rollbacks: 0,
        }
    }
}

/// Server-wide counters the reactor updates.
#[derive(Default)]
pub struct NetStats {
    pub connections_received: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub bytes_read: AtomicU64,
    pub bytes_written: AtomicU64,
    pub connected_clients: AtomicUsize,
    /// The MessagePack share of the counters above (metrics label them by protocol).
    pub msgpack: WireStats,
    /// Clients closed by client-output-buffer-limit.
    pub obuf_disconnections: AtomicU64,
    /// Times a client ran out of its client-rate-limit budget and was held back.
    pub rate_limited: AtomicU64,
}

impl NetStats {
    // Each counts into the totals and, for MessagePack connections, into its share.
    pub fn accepted(&self, wire: Wire) {
        self.connections_received.fetch_add(1, Ordering::Relaxed);
        if wire == Wire::Msgpack {
            self.msgpack.connections_received.fetch_add(1, Ordering::Relaxed);
        }
    }
    pub fn connected(&self, wire: Wire, up: bool) {
        let add =
            |a: &AtomicUsize| if up { a.fetch_add(1, Ordering::Relaxed) } else { a.fetch_sub(1, Ordering::Relaxed) };
        add(&self.connected_clients);
        if wire == Wire::Msgpack {
            add(&self.msgpack.connected_clients);
        }
    }
    pub fn read(&self, wire: Wire, n: usize) {
        self.bytes_read.fetch_add(n as u64, Ordering::Relaxed);
        if wire == Wire::Msgpack {
            self.msgpack.bytes_read.fetch_add(n as u64, Ordering::Relaxed);
        }
    }
    pub fn written(&self, wire: Wire, n: usize) {
        self.bytes_written.fetch_add(n as u64, Ordering::Relaxed);
        if wire == Wire::Msgpack {
            self.msgpack.bytes_written.fetch_add(n as u64, Ordering::Relaxed);
        }
    }
}

/// Connection and traffic counters of one protocol.
#[derive(Default)]
pub struct WireStats {
    pub connections_received: AtomicU64,
    pub bytes_read: AtomicU64,
    pub bytes_written: AtomicU64,
    pub connected_clients: AtomicUsize,
}

/// Compact-encoding thresholds, copied from the config so commands read them without
/// taking the config lock. Refreshed by CONFIG SET.
#[derive(Default)]
pub struct EncLimits {
    pub list_max_listpack_size: AtomicI64,
    pub hash_max_listpack_entries: AtomicU64,
    pub hash_max_listpack_value: AtomicU64,
    pub set_max_intset_entries: AtomicU64,
    pub zset_max_listpack_entries: AtomicU64,
    pub zset_max_listpack_value: AtomicU64,
    pub stream_node_max_bytes: AtomicU64,
    pub stream_node_max_entries: AtomicU64,
    pub slowlog_log_slower_than: AtomicI64,
    pub slowlog_max_len: AtomicU64,
    /// notify-keyspace-events flags (0: off, checked before any notification work).
    pub notify: std::sync::atomic::AtomicU32,
    /// latency-monitor-threshold in ms (0: off).
    pub latency_threshold: AtomicU64,
    /// tracking-table-max-keys (read by every tracked read).
    pub tracking_table_max_keys: AtomicU64,
    /// latency-tracking (INFO latencystats and the command duration histogram).
    pub latency_tracking: AtomicBool,
    /// script-parallel (read by every script).
    pub script_parallel: AtomicBool,
    /// busy-reply-threshold in ms (read by every script).
    pub busy_reply_threshold: AtomicI64,
    /// maxmemory (0: no limit) and maxmemory-samples.
    pub maxmemory: AtomicU64,
    pub maxmemory_samples: AtomicU64,
}

impl EncLimits {
    pub fn load_from(&self, c: &Config) {
        let r = Ordering::Relaxed;
        self.list_max_listpack_size.store(c.list_max_listpack_size, r);
        self.hash_max_listpack_entries.store(c.hash_max_listpack_entries, r);
        self.hash_max_listpack_value.store(c.hash_max_listpack_value, r);
        self.set_max_intset_entries.store(c.set_max_intset_entries, r);
        self.zset_max_listpack_entries.store(c.zset_max_listpack_entries, r);
        self.zset_max_listpack_value.store(c.zset_max_listpack_value, r);
        self.stream_node_max_bytes.store(c.stream_node_max_bytes, r);
        self.stream_node_max_entries.store(c.stream_node_max_entries, r);
        self.slowlog_log_slower_than.store(c.slowlog_log_slower_than, r);
        self.slowlog_max_len.store(c.slowlog_max_len, r);
        self.notify.store(c.notify_keyspace_events, r);
        self.maxmemory.store(c.maxmemory, r);
        self.latency_threshold.store(c.latency_monitor_threshold, r);
        self.latency_tracking.store(c.latency_tracking, r);
        self.script_parallel.store(c.script_parallel, r);
        self.busy_reply_threshold.store(c.busy_reply_threshold, r);
        self.tracking_table_max_keys.store(c.tracking_table_max_keys, r);
        self.maxmemory_samples.store(c.maxmemory_samples, r);
        crate::store::lfu::configure(
            c.maxmemory_policy.contains("lfu"),
            c.lfu_log_factor.min(u32::MAX as u64) as u32,
            c.lfu_decay_time.min(u32::MAX as u64) as u32,
        );
    }
    pub fn get(a: &AtomicU64) -> usize {
        a.load(Ordering::Relaxed) as usize
    }
}

/// Everything the command handlers can reach beyond their own locks.
pub struct Shared {
    pub keyspace: Keyspace,
    pub config: RwLock<Config>,
    pub clients: Mutex<HashMap<u64, Arc<ClientInfo>>>,
    pub next_client_id: AtomicU64,
    /// Per-worker stats; each worker locks only its own (uncontended) slot.
    pub workers: Box<[CachePadded<Mutex<WorkerStats>>]>,
    pub worker_live: Box<[CachePadded<WorkerLive>]>,
    /// One gate per worker (a big-reader lock): a worker holds its own gate shared while
    /// it runs a command; a script takes every gate exclusively, so it runs alone, as in
    /// Redis, and may touch any key (declared or not) without deadlock.
    pub gates: Box<[CachePadded<RwLock<()>>]>,
    /// Scripts by sha1 (EVAL, SCRIPT LOAD); `script_gen` moves on SCRIPT FLUSH so every
    /// worker drops its compiled functions.
    pub scripts: RwLock<HashMap<String, Arc<[u8]>>>,
    pub script_gen: AtomicU64,
    /// The running script, if any (read by the reactor to answer BUSY).
    pub script: Arc<Scripts>,
    /// FUNCTION libraries; `function_gen` moves on every change so workers reload.
    pub functions: RwLock<super::functions::Registry>,
    pub function_gen: AtomicU64,
    pub net: NetStats,
    pub start_ms: i64,
    pub run_id: String,
    pub port: u16,
    pub shutdown: AtomicBool,
    /// Set after SHUTDOWN to ask the reactor to stop.
    pub shutdown_requested: AtomicBool,
    pub executable: String,
    pub config_file: String,
    pub stat_reset_ms: AtomicI64,
    /// Set by CLIENT KILL so the reactor looks for killed clients right away.
    pub kills_pending: AtomicBool,
    pub enc: EncLimits,
    /// Parked blocking clients. Touched only when clients block, when a key with
    /// waiters is written (`nblocked > 0`), and on timeouts.
    pub blocked: Mutex<BlockRegistry>,
    pub nblocked: AtomicUsize,
    /// CLIENT PAUSE; `pause_end` mirrors `pause.end` so the hot path is one atomic load.
    pub pause: Mutex<Pause>,
    pub pause_end: AtomicI64,
    /// ACL users; `acl_open` is true while no check can refuse anything (only the
    /// default user exists and it may do everything); `default_nopass` mirrors whether
    /// the default user needs no password (clients need no AUTH).
    pub acl: RwLock<super::acl::Acl>,
    pub acl_open: AtomicBool,
    pub default_nopass: AtomicBool,
    /// Client-side caching; `ntracking` counts clients with tracking on (0: no work).
    pub tracking: Mutex<super::tracking::Tracking>,
    pub ntracking: AtomicUsize,
    /// The first client turned tracking on or the last one off: stripes must start or
    /// stop recording expired keys; a worker does it once it holds no stripe lock.
    pub retrack_expired: AtomicBool,
    /// See [`super::tracking::live`].
    pub tracking_live: AtomicBool,
    /// WATCHed keys of all clients. Looked at by write commands only while
    /// `nwatching > 0` (clients with at least one watched key).
    pub watches: Mutex<WatchRegistry>,
    pub nwatching: AtomicUsize,
    pub pubsub: RwLock<super::pubsub::PubSub>,
    pub slowlog: Mutex<SlowLog>,
    /// MONITOR clients (client id, connection); fed only while `nmonitors > 0`.
    pub monitors: Mutex<Vec<(u64, ConnId)>>,
    pub nmonitors: AtomicUsize,
    /// RDB save status (SAVE, BGSAVE, LASTSAVE, INFO persistence).
    pub persist: crate::persistence::Persist,
    /// The append-only file (off unless `appendonly yes`).
    pub aof: crate::persistence::aof::Aof,
    /// DEBUG SET-ACTIVE-EXPIRE: false stops the active expiry cycle.
    pub active_expire: AtomicBool,
    /// Keys removed by maxmemory eviction (INFO evicted_keys).
    pub evicted_keys: AtomicU64,
    /// jemalloc's allocated bytes, refreshed at most every millisecond (`used_memory`).
    pub used_memory: AtomicU64,
    pub used_memory_at: AtomicI64,
    /// Eviction's cache of the dbs that have keys: (when, dbs).
    pub evict_dbs: Mutex<(i64, Vec<usize>)>,
    /// LATENCY monitor events: name -> (samples (unix s, ms), newest last; all-time max).
    pub latency: Mutex<HashMap<&'static str, LatencyEvent>>,
    /// Eviction pool: the best candidates sampled so far, (db, key, score).
    pub evict_pool: Mutex<Vec<(usize, crate::store::CompactBytes, i64)>>,
}

/// One SLOWLOG entry (Redis's slowlogEntry).
pub struct SlowEntry {
    pub id: u64,
    /// Unix seconds.
    pub time: i64,
    pub usec: u64,
    /// Arguments as Redis stores them: at most 32 (the last says how many more), each
    /// at most 128 bytes (then "... (N more bytes)").
    pub argv: Vec<Vec<u8>>,
    pub addr: String,
    pub name: Vec<u8>,
}

/// The slow log, newest first. Touched only by commands slower than the threshold.
#[derive(Default)]
pub struct SlowLog {
    pub entries: VecDeque<SlowEntry>,
    pub next_id: u64,
}

impl SlowLog {
    pub fn push(&mut self, mut e: SlowEntry, max_len: usize) {
        e.id = self.next_id;
        self.next_id += 1;
        self.entries.push_front(e);
        self.entries.truncate(max_len);
    }
}

/// Which clients watch which keys (Redis's db->watched_keys), so a write on any worker
/// can flag the watchers' transactions as dirty (Redis's touchWatchedKey).
#[derive(Default)]
pub struct WatchRegistry {
    keys: HashMap<(usize, Vec<u8>), Vec<u64>>,
    clients: HashMap<u64, Watcher>,
}

/// One watching client: its dirty flag and its watched (db, key)s.
type Watcher = (Arc<AtomicBool>, Vec<(usize, Vec<u8>)>);

impl WatchRegistry {
    /// Registers `client`'s watch of `key`; returns true when the client had no watch.
    pub fn watch(&mut self, client: u64, dirty: &Arc<AtomicBool>, db: usize, key: &[u8]) -> bool {
        let first = !self.clients.contains_key(&client);
        let entry = self.clients.entry(client).or_insert_with(|| (dirty.clone(), Vec::new()));
        if entry.1.iter().any(|(d, k)| *d == db && k == key) {
            return first;
        }
        entry.1.push((db, key.to_vec()));
        self.keys.entry((db, key.to_vec())).or_default().push(client);
        first
    }

    /// Drops every watch of `client`; true if it had any.
    pub fn unwatch(&mut self, client: u64) -> bool {
        let Some((_, keys)) = self.clients.remove(&client) else { return false };
        for k in keys {
            if let Some(v) = self.keys.get_mut(&k) {
                v.retain(|c| *c != client);
                if v.is_empty() {
                    self.keys.remove(&k);
                }
            }
        }
        true
    }

    /// Flags every client watching `key` in `db`.
    pub fn touch(&self, db: usize, key: &[u8]) {
        if let Some(v) = self.keys.get(&(db, key.to_vec())) {
            for c in v {
                if let Some((flag, _)) = self.clients.get(c) {
                    flag.store(true, Ordering::Release);
                }
            }
        }
    }

    /// Every watched (db, key).
    pub fn keys(&self) -> impl Iterator<Item = &(usize, Vec<u8>)> {
        self.keys.keys()
    }
}

impl Shared {
    /// Redis's server.dirty: write commands that succeeded since start.
    pub fn dirty(&self) -> u64 {
        self.worker_live.iter().map(|w| w.dirty.load(Ordering::Relaxed)).sum()
    }

    pub fn new(config: Config, nworkers: usize, ncmds: usize, now_ms: i64) -> Shared {
        let config_file = config.config_file.clone();
        let keyspace = Keyspace::new(config.databases, config.stripes);
        let port = config.port;
        let enc = EncLimits::default();
        enc.load_from(&config);
        Shared {
            keyspace,
            config: RwLock::new(config),
            clients: Mutex::new(HashMap::new()),
            next_client_id: AtomicU64::new(1),
            workers: (0..nworkers).map(|i| CachePadded::new(Mutex::new(WorkerStats::new(ncmds, i)))).collect(),
            worker_live: (0..nworkers).map(|_| CachePadded::new(WorkerLive::default())).collect(),
            gates: (0..nworkers).map(|_| CachePadded::new(RwLock::new(()))).collect(),
            scripts: RwLock::new(HashMap::new()),
            script_gen: AtomicU64::new(0),
            script: Arc::new(Scripts {
                busy: Default::default(),
                runs: (0..nworkers.max(1)).map(|_| ScriptState::default()).collect(),
            }),
            functions: RwLock::new(Default::default()),
            function_gen: AtomicU64::new(0),
            net: NetStats::default(),
            start_ms: now_ms,
            run_id: random_hex(40),
            port,
            shutdown: AtomicBool::new(false),
            shutdown_requested: AtomicBool::new(false),
            executable: std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default(),
            config_file,
            stat_reset_ms: AtomicI64::new(now_ms),
            kills_pending: AtomicBool::new(false),
            enc,
            blocked: Mutex::new(BlockRegistry::default()),
            nblocked: AtomicUsize::new(0),
            pause: Mutex::new(Pause::default()),
            pause_end: AtomicI64::new(0),
            acl: RwLock::new(Default::default()),
            acl_open: AtomicBool::new(true),
            default_nopass: AtomicBool::new(true),
            tracking: Mutex::new(Default::default()),
            ntracking: AtomicUsize::new(0),
            retrack_expired: AtomicBool::new(false),
            tracking_live: AtomicBool::new(false),
            watches: Mutex::new(WatchRegistry::default()),
            nwatching: AtomicUsize::new(0),
            pubsub: RwLock::new(Default::default()),
            slowlog: Mutex::new(SlowLog::default()),
            monitors: Mutex::new(Vec::new()),
            persist: crate::persistence::Persist::new(now_ms),
            aof: Default::default(),
            active_expire: AtomicBool::new(true),
            evicted_keys: AtomicU64::new(0),
            used_memory: AtomicU64::new(0),
            used_memory_at: AtomicI64::new(0),
            evict_dbs: Mutex::new((i64::MIN / 2, Vec::new())),
            evict_pool: Mutex::new(Vec::new()),
            latency: Mutex::new(HashMap::new()),
            nmonitors: AtomicUsize::new(0),
        }
    }

    /// Takes a client out of MONITOR mode (RESET, disconnect).
    pub fn unmonitor(&self, client: u64) {
        if self.nmonitors.load(Ordering::Acquire) == 0 {
            return;
        }
        let mut m = self.monitors.lock();
        m.retain(|(c, _)| *c != client);
        self.nmonitors.store(m.len(), Ordering::Release);
    }

    /// Drops every watch of a client (UNWATCH, EXEC, DISCARD, RESET, disconnect).
    pub fn unwatch_client(&self, client: u64) {
        if self.nwatching.load(Ordering::Acquire) == 0 {
            return;
        }
        if self.watches.lock().unwatch(client) {
            self.nwatching.fetch_sub(1, Ordering::AcqRel);
        }
    }

    pub fn next_id(&self) -> u64 {
        self.next_client_id.fetch_add(1, Ordering::Relaxed)
    }
}

pub fn random_hex(n: usize) -> String {
    use std::collections::hash_map::RandomState;
    use std::hash::BuildHasher;
    let mut out = String::with_capacity(n);
    let mut i = 0u64;
    while out.len() < n {
        let h = RandomState::new().hash_one(i);
        out.push_str(&format!("{h:016x}"));
        i += 1;
    }
    out.truncate(n);
    out
}
