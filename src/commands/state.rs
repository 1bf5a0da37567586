//! State shared by the reactor and the workers: the keyspace, runtime configuration, the
//! client registry (CLIENT LIST/KILL), per-worker statistics, and per-connection sessions.
//!
//! Must hold: nothing here is locked on the per-command hot path except the connection's
//! own session (moved with its batch, never shared) and the worker's own stats.

use crate::config::Config;
use crate::protocol::Proto;
use crate::store::Keyspace;
use crossbeam_utils::CachePadded;
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;

/// Identifies a connection slot and its generation (slot reuse is detected by gen).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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
    pub qbuf: AtomicUsize,
    pub obl: AtomicUsize,
    pub tot_in: AtomicU64,
    pub tot_out: AtomicU64,
    /// Set by CLIENT KILL; the reactor closes the connection.
    pub killed: AtomicBool,
}

/// Per-connection state, owned by the connection and moved along with its batch.
pub struct Session {
    pub id: u64,
    pub db: usize,
    pub proto: Proto,
    pub info: Arc<ClientInfo>,
    /// Close the connection once this batch's replies are written (QUIT, protocol error).
    pub close_after_reply: bool,
}

impl Session {
    pub fn new(info: Arc<ClientInfo>) -> Session {
        Session { id: info.id, db: 0, proto: Proto::Resp2, info, close_after_reply: false }
    }
}

/// Per-command counters of one worker (INFO commandstats).
#[derive(Clone, Copy, Default)]
pub struct CmdStat {
    pub calls: u64,
    pub usec: u64,
    pub rejected: u64,
    pub failed: u64,
}

/// Counters kept by one worker without synchronisation; summed when read.
pub struct WorkerStats {
    pub commands: u64,
    pub hits: u64,
    pub misses: u64,
    pub cmd: Vec<CmdStat>,
    /// Error replies by their code (ERR, WRONGTYPE, ...): INFO errorstats.
    pub errors: HashMap<String, u64>,
    /// Stripe locks that were not free at the first try, and the time spent waiting.
    pub lock_contended: u64,
    pub lock_wait_ns: u64,
}

impl WorkerStats {
    pub fn new(ncmds: usize) -> WorkerStats {
        WorkerStats {
            commands: 0,
            hits: 0,
            misses: 0,
            cmd: vec![CmdStat::default(); ncmds],
            errors: HashMap::new(),
            lock_contended: 0,
            lock_wait_ns: 0,
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
}

impl Shared {
    pub fn new(config: Config, nworkers: usize, ncmds: usize, now_ms: i64) -> Shared {
        let keyspace = Keyspace::new(config.databases, config.stripes);
        let port = config.port;
        let enc = EncLimits::default();
        enc.load_from(&config);
        Shared {
            keyspace,
            config: RwLock::new(config),
            clients: Mutex::new(HashMap::new()),
            next_client_id: AtomicU64::new(1),
            workers: (0..nworkers).map(|_| CachePadded::new(Mutex::new(WorkerStats::new(ncmds)))).collect(),
            net: NetStats::default(),
            start_ms: now_ms,
            run_id: random_hex(40),
            port,
            shutdown: AtomicBool::new(false),
            shutdown_requested: AtomicBool::new(false),
            executable: std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default(),
            config_file: String::new(),
            stat_reset_ms: AtomicI64::new(now_ms),
            kills_pending: AtomicBool::new(false),
            enc,
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
