//! Configuration: built-in defaults, a redis.conf-style file, command-line overrides, and
//! the metadata CONFIG GET/SET read (one [`Opt`] row per option).
//!
//! Must hold: every option has exactly one row; defaults here are the documented ones in
//! `etc/rustis.conf`; a value is validated before it replaces the old one.
//! Imports nothing else from the crate.

use std::fmt::Write as _;

/// One `listen` line: a listener on `addr:port` speaking RESP or MessagePack, over TLS
/// when the line ends with `tls`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listen {
    pub addr: String,
    pub port: u16,
    pub msgpack: bool,
    pub tls: bool,
}

/// TLS versions tls-protocols accepts (Redis's names; rustls has no TLS 1.0/1.1).
pub const TLS_PROTOCOLS: &[&str] = &["TLSv1.2", "TLSv1.3"];

/// One client-output-buffer-limit class: close the client when its pending output
/// passes `hard`, or stays over `soft` for `soft_seconds` (0 disables either).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ObufLimit {
    pub hard: u64,
    pub soft: u64,
    pub soft_seconds: u64,
}

/// Class names of client-output-buffer-limit, in CONFIG GET order.
pub const OBUF_CLASSES: [&str; 3] = ["normal", "slave", "pubsub"];

#[derive(Clone, Debug)]
pub struct Config {
    /// Absolute path of the config file the server started with ("" for none): CONFIG
    /// REWRITE's target, INFO's config_file. Not an option.
    pub config_file: String,
    pub bind: Vec<String>,
    pub port: u16,
    /// The default MessagePack listener's port on every `bind` address (0: none). Only
    /// used when there is no `listen` line.
    pub msgpack_port: u16,
    /// msgpack-port was given explicitly: failing to bind it is fatal (the implicit
    /// default only warns).
    pub msgpack_port_set: bool,
    /// `listen <addr> <port> <resp|msgpack> [tls]` lines, in order.
    pub listen: Vec<Listen>,
    /// RESP over TLS on every `bind` address (0: none).
    pub tls_port: u16,
    /// PEM certificate chain and private key of the TLS listeners.
    pub tls_cert_file: String,
    pub tls_key_file: String,
    /// PEM CA certificates that sign accepted client certificates.
    pub tls_ca_cert_file: String,
    /// yes (a client certificate is required) | optional (verified if sent) | no.
    pub tls_auth_clients: String,
    /// Space-separated subset of [`TLS_PROTOCOLS`], in Redis's spelling.
    pub tls_protocols: String,
    /// client-output-buffer-limit per class: normal, replica (slave), pubsub.
    pub client_output_buffer_limit: [ObufLimit; 3],
    /// Commands per second a client may run (0: no limit). Rustis only.
    pub client_rate_limit: u64,
    /// A script running longer than this (ms) makes the server answer BUSY and accept
    /// SCRIPT KILL (0: never).
    pub busy_reply_threshold: i64,
    /// The ACL file (ACL LOAD / ACL SAVE; loaded at start). "" for none.
    pub aclfile: String,
    /// `user <name> <rules...>` lines of the config file, in order.
    pub users: Vec<Vec<String>>,
    pub databases: usize,
    pub workers: usize,
    pub stripes: usize,
    pub loglevel: String,
    pub log_format: String,
    pub logfile: String,
    pub timeout: u64,
    pub tcp_keepalive: u64,
    pub tcp_backlog: u32,
    pub maxclients: usize,
    pub proto_max_bulk_len: u64,
    pub client_query_buffer_limit: u64,
    pub hz: u32,
    /// `save` points as Redis prints them ("3600 1 300 100"); empty: none.
    pub save: String,
    pub rdbcompression: bool,
    pub rdbchecksum: bool,
    pub stop_writes_on_bgsave_error: bool,
    pub appendonly: bool,
    pub appendfilename: String,
    pub appenddirname: String,
    /// always | everysec | no
    pub appendfsync: String,
    pub aof_use_rdb_preamble: bool,
    pub aof_load_truncated: bool,
    pub auto_aof_rewrite_percentage: u64,
    pub auto_aof_rewrite_min_size: u64,
    pub dir: String,
    pub dbfilename: String,
    pub daemonize: bool,
    pub pidfile: String,
    pub list_max_listpack_size: i64,
    pub list_compress_depth: u64,
    pub hash_max_listpack_entries: u64,
    pub hash_max_listpack_value: u64,
    pub set_max_intset_entries: u64,
    pub zset_max_listpack_entries: u64,
    pub zset_max_listpack_value: u64,
    pub stream_node_max_bytes: u64,
    pub metrics_port: u16,
    pub slowlog_log_slower_than: i64,
    pub slowlog_max_len: u64,
    pub metrics_bind: String,
    pub stream_node_max_entries: u64,
    pub maxmemory: u64,
    pub maxmemory_policy: String,
    pub maxmemory_samples: u64,
    pub lfu_log_factor: u64,
    pub lfu_decay_time: u64,
    pub active_expire_effort: u32,
    pub slowlock_log_slower_than: i64,
    pub lazyfree_lazy_user_flush: bool,
    /// notify-keyspace-events as flags (see [`events`]).
    pub notify_keyspace_events: u32,
    /// no | yes | local (DEBUG allowed from loopback clients only).
    pub enable_debug_command: String,
    /// enable-protected-configs: no, yes or local (CONFIG SET dir / dbfilename).
    pub enable_protected_configs: String,
    /// LATENCY monitor threshold in ms (0: off).
    pub latency_monitor_threshold: u64,
    /// acllog-max-len: ACL LOG entries kept.
    pub acllog_max_len: u64,
    /// requirepass: the default user's password ("" = none).
    pub requirepass: String,
    /// protected-mode: without a password only loopback clients are accepted.
    pub protected_mode: bool,
    /// `rename-command old new` lines in order (new "" removes the command); applied to
    /// the command table at start (not an option: CONFIG GET does not show it).
    pub rename_commands: Vec<(String, String)>,
    /// tracking-table-max-keys (0: no limit).
    pub tracking_table_max_keys: u64,
    /// latency-tracking: per-command latency histograms (INFO latencystats).
    pub latency_tracking: bool,
    /// latency-tracking-info-percentiles (default 50 99 99.9).
    pub latency_tracking_info_percentiles: Vec<f64>,
    /// script-parallel: scripts run in parallel on their declared keys' stripes (yes) or
    /// always alone, as in Redis (no). Rustis only.
    pub script_parallel: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            config_file: String::new(),
            bind: vec!["127.0.0.1".into()],
            port: 6379,
            databases: 16,
            workers: default_workers(),
            stripes: 1024,
            loglevel: "notice".into(),
            log_format: "logfmt".into(),
            logfile: String::new(),
            timeout: 0,
            tcp_keepalive: 300,
            tcp_backlog: 511,
            maxclients: 10000,
            proto_max_bulk_len: 512 * 1024 * 1024,
            client_query_buffer_limit: 1024 * 1024 * 1024,
            hz: 10,
            save: "3600 1 300 100 60 10000".into(),
            rdbcompression: true,
            rdbchecksum: true,
            stop_writes_on_bgsave_error: true,
            appendonly: false,
            appendfilename: "appendonly.aof".into(),
            appenddirname: "appendonlydir".into(),
            appendfsync: "everysec".into(),
            aof_use_rdb_preamble: true,
            aof_load_truncated: true,
            auto_aof_rewrite_percentage: 100,
            auto_aof_rewrite_min_size: 64 * 1024 * 1024,
            dir: ".".into(),
            dbfilename: "dump.rdb".into(),
            daemonize: false,
            pidfile: String::new(),
            list_max_listpack_size: -2,
            list_compress_depth: 0,
            hash_max_listpack_entries: 512,
            hash_max_listpack_value: 64,
            set_max_intset_entries: 512,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
            stream_node_max_bytes: 4096,
            metrics_port: 9540,
            slowlog_log_slower_than: 10_000,
            slowlog_max_len: 128,
            metrics_bind: "127.0.0.1".into(),
            stream_node_max_entries: 100,
            maxmemory: 0,
            maxmemory_policy: "noeviction".into(),
            maxmemory_samples: 5,
            lfu_log_factor: 10,
            lfu_decay_time: 1,
            active_expire_effort: 1,
            slowlock_log_slower_than: 10_000,
            lazyfree_lazy_user_flush: false,
            notify_keyspace_events: 0,
            enable_debug_command: "no".into(),
            enable_protected_configs: "no".into(),
            latency_monitor_threshold: 0,
            latency_tracking: true,
            script_parallel: true,
            tracking_table_max_keys: 1_000_000,
            rename_commands: Vec::new(),
            msgpack_port: 6380,
            msgpack_port_set: false,
            listen: Vec::new(),
            tls_port: 0,
            tls_cert_file: String::new(),
            tls_key_file: String::new(),
            tls_ca_cert_file: String::new(),
            tls_auth_clients: "yes".into(),
            tls_protocols: "TLSv1.2 TLSv1.3".into(),
            client_output_buffer_limit: [
                ObufLimit { hard: 0, soft: 0, soft_seconds: 0 },
                ObufLimit { hard: 256 << 20, soft: 64 << 20, soft_seconds: 60 },
                ObufLimit { hard: 32 << 20, soft: 8 << 20, soft_seconds: 60 },
            ],
            client_rate_limit: 0,
            aclfile: String::new(),
            users: Vec::new(),
            requirepass: String::new(),
            acllog_max_len: 128,
            protected_mode: true,
            latency_tracking_info_percentiles: vec![50.0, 99.0, 99.9],
            busy_reply_threshold: 5000,
        }
    }
}

pub fn default_workers() -> usize {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    cores.saturating_sub(1).max(1)
}

/// One configuration option.
pub struct Opt {
    pub name: &'static str,
    /// Can only be set at start-up (file or command line).
    pub immutable: bool,
    pub get: fn(&Config) -> String,
    pub set: fn(&mut Config, &[String]) -> Result<(), String>,
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.into()
}

fn parse_bool(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err("argument must be 'yes' or 'no'".into()),
    }
}

/// Redis's memtoll: `1gb`, `100mb`, `64k`, plain bytes.
pub fn parse_memory(v: &str) -> Result<u64, String> {
    let l = v.to_ascii_lowercase();
    let (num, mul) = [
        ("gb", 1u64 << 30),
        ("mb", 1 << 20),
        ("kb", 1 << 10),
        ("g", 1_000_000_000),
        ("m", 1_000_000),
        ("k", 1000),
        ("b", 1),
    ]
    .iter()
    .find(|(s, _)| l.ends_with(s))
    .map(|(s, m)| (&l[..l.len() - s.len()], *m))
    .unwrap_or((&l, 1));
    let n: u64 = num.parse().map_err(|_| "argument must be a memory value".to_string())?;
    n.checked_mul(mul).ok_or_else(|| "argument must be a memory value".to_string())
}

fn parse_num<T: std::str::FromStr>(v: &str, min: i64, max: i64) -> Result<T, String> {
    let n: i64 = v.parse().map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
    if n < min || n > max {
        return Err(format!("argument must be between {min} and {max} inclusive"));
    }
    v.parse().map_err(|_| "argument couldn't be parsed into an integer".to_string())
}

fn one(a: &[String]) -> Result<&str, String> {
    match a {
        [v] => Ok(v),
        _ => Err("wrong number of arguments".into()),
    }
}

macro_rules! opt_num {
    ($name:expr, $field:ident, $t:ty, $min:expr, $max:expr, $imm:expr) => {
        Opt {
            name: $name,
            immutable: $imm,
            get: |c| c.$field.to_string(),
            set: |c, a| {
                c.$field = parse_num::<$t>(one(a)?, $min, $max)?;
                Ok(())
            },
        }
    };
}
macro_rules! opt_bool {
    ($name:expr, $field:ident, $imm:expr) => {
        Opt {
            name: $name,
            immutable: $imm,
            get: |c| yes_no(c.$field),
            set: |c, a| {
                c.$field = parse_bool(one(a)?)?;
                Ok(())
            },
        }
    };
}
macro_rules! opt_mem {
    ($name:expr, $field:ident, $min:expr) => {
        Opt {
            name: $name,
            immutable: false,
            get: |c| c.$field.to_string(),
            set: |c, a| {
                let v = parse_memory(one(a)?)?;
                if v < $min {
                    return Err(format!("argument must be a memory value bigger than {}", $min));
                }
                c.$field = v;
                Ok(())
            },
        }
    };
}
/// An immutable no / yes / local option (enable-debug-command and its kin).
macro_rules! opt_no_yes_local {
    ($name:expr, $field:ident) => {
        Opt {
            name: $name,
            immutable: true,
            get: |c| c.$field.clone(),
            set: |c, a| {
                let v = one(a)?.to_ascii_lowercase();
                if !["no", "yes", "local"].contains(&v.as_str()) {
                    return Err("argument(s) must be one of the following: no, yes, local".into());
                }
                c.$field = v;
                Ok(())
            },
        }
    };
}
macro_rules! opt_str {
    ($name:expr, $field:ident, $imm:expr) => {
        Opt {
            name: $name,
            immutable: $imm,
            get: |c| c.$field.clone(),
            set: |c, a| {
                c.$field = one(a)?.to_string();
                Ok(())
            },
        }
    };
}

/// A percentile as Redis prints it ("%f", trailing zeros and dot trimmed): 99.9, 50.
pub fn fmt_percentile(p: f64) -> String {
    let s = format!("{p:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Redis's loglevel as a `log` filter (debug and verbose are both debug).
pub fn log_level_filter(loglevel: &str) -> log::LevelFilter {
    match loglevel {
        "debug" | "verbose" => log::LevelFilter::Debug,
        "notice" => log::LevelFilter::Info,
        "warning" => log::LevelFilter::Warn,
        _ => log::LevelFilter::Off,
    }
}

/// Options CONFIG SET changes only when enable-protected-configs allows (Redis 7.0's
/// PROTECTED_CONFIG: they decide where files are written).
pub const PROTECTED: &[&str] = &["dir", "dbfilename"];

pub const LOGLEVELS: &[&str] = &["debug", "verbose", "notice", "warning", "nothing"];

pub static OPTIONS: &[Opt] = &[
    Opt {
        name: "bind",
        immutable: true,
        get: |c| c.bind.join(" "),
        set: |c, a| {
            let addrs: Vec<String> = a.iter().flat_map(|s| s.split_whitespace()).map(String::from).collect();
            if addrs.is_empty() {
                return Err("wrong number of arguments".into());
            }
            c.bind = addrs;
            Ok(())
        },
    },
    opt_num!("port", port, u16, 0, 65535, true),
    Opt {
        name: "msgpack-port",
        immutable: true,
        get: |c| c.msgpack_port.to_string(),
        set: |c, a| {
            c.msgpack_port = parse_num::<u16>(one(a)?, 0, 65535)?;
            c.msgpack_port_set = true;
            Ok(())
        },
    },
    opt_num!("metrics-port", metrics_port, u16, 0, 65535, true),
    opt_num!("tls-port", tls_port, u16, 0, 65535, true),
    opt_str!("tls-cert-file", tls_cert_file, true),
    opt_str!("tls-key-file", tls_key_file, true),
    opt_str!("tls-ca-cert-file", tls_ca_cert_file, true),
    Opt {
        name: "tls-auth-clients",
        immutable: true,
        get: |c| c.tls_auth_clients.clone(),
        set: |c, a| {
            let v = one(a)?.to_ascii_lowercase();
            if !["yes", "no", "optional"].contains(&v.as_str()) {
                return Err("argument(s) must be one of the following: no, yes, optional".into());
            }
            c.tls_auth_clients = v;
            Ok(())
        },
    },
    Opt {
        name: "tls-protocols",
        immutable: true,
        get: |c| c.tls_protocols.clone(),
        set: |c, a| {
            let mut v: Vec<&str> = Vec::new();
            for w in a.iter().flat_map(|s| s.split_whitespace()) {
                let p = TLS_PROTOCOLS
                    .iter()
                    .find(|p| p.eq_ignore_ascii_case(w))
                    .ok_or_else(|| format!("Invalid tls-protocols specified ({w}); supported: TLSv1.2, TLSv1.3"))?;
                if !v.contains(p) {
                    v.push(p);
                }
            }
            if v.is_empty() {
                v = TLS_PROTOCOLS.to_vec();
            }
            c.tls_protocols = v.join(" ");
            Ok(())
        },
    },
    opt_num!("slowlog-log-slower-than", slowlog_log_slower_than, i64, -1, i64::MAX, false),
    opt_num!("slowlog-max-len", slowlog_max_len, u64, 0, i64::MAX, false),
    opt_str!("metrics-bind", metrics_bind, true),
    opt_num!("databases", databases, usize, 1, i32::MAX as i64, true),
    opt_num!("workers", workers, usize, 1, 1024, true),
    opt_num!("stripes", stripes, usize, 1, 1 << 20, true),
    Opt {
        name: "loglevel",
        immutable: false,
        get: |c| c.loglevel.clone(),
        set: |c, a| {
            let v = one(a)?.to_ascii_lowercase();
            if !LOGLEVELS.contains(&v.as_str()) {
                return Err("argument(s) must be one of the following: debug, verbose, notice, warning, nothing".into());
            }
            c.loglevel = v;
            Ok(())
        },
    },
    Opt {
        name: "log-format",
        immutable: true,
        get: |c| c.log_format.clone(),
        set: |c, a| {
            let v = one(a)?.to_ascii_lowercase();
            if v != "logfmt" && v != "json" {
                return Err("argument must be one of the following: logfmt, json".into());
            }
            c.log_format = v;
            Ok(())
        },
    },
    opt_str!("logfile", logfile, true),
    opt_num!("timeout", timeout, u64, 0, i32::MAX as i64, false),
    opt_num!("tcp-keepalive", tcp_keepalive, u64, 0, i32::MAX as i64, false),
    opt_num!("tcp-backlog", tcp_backlog, u32, 0, i32::MAX as i64, true),
    opt_num!("maxclients", maxclients, usize, 1, i32::MAX as i64, false),
    opt_mem!("proto-max-bulk-len", proto_max_bulk_len, 1024 * 1024),
    opt_mem!("client-query-buffer-limit", client_query_buffer_limit, 1024 * 1024),
    Opt {
        name: "client-output-buffer-limit",
        immutable: false,
        get: |c| {
            let l = &c.client_output_buffer_limit;
            (0..3)
                .map(|i| format!("{} {} {} {}", OBUF_CLASSES[i], l[i].hard, l[i].soft, l[i].soft_seconds))
                .collect::<Vec<_>>()
                .join(" ")
        },
        set: |c, a| {
            // Redis 7.0's texts; nothing changes unless every group is valid.
            let words: Vec<&str> = a.iter().flat_map(|s| s.split_whitespace()).collect();
            if words.is_empty() || words.len() % 4 != 0 {
                return Err("Wrong number of arguments in buffer limit configuration.".into());
            }
            let mut next = c.client_output_buffer_limit;
            for g in words.chunks(4) {
                let class = match g[0].to_ascii_lowercase().as_str() {
                    "normal" => 0,
                    "slave" | "replica" => 1,
                    "pubsub" => 2,
                    _ => return Err("Invalid client class specified in buffer limit configuration.".into()),
                };
                let bad = || "Error in hard, soft or soft_seconds setting in buffer limit configuration.".to_string();
                let hard = parse_memory(g[1]).map_err(|_| bad())?;
                let soft = parse_memory(g[2]).map_err(|_| bad())?;
                let soft_seconds = g[3].parse::<u64>().map_err(|_| bad())?;
                next[class] = ObufLimit { hard, soft, soft_seconds };
            }
            c.client_output_buffer_limit = next;
            Ok(())
        },
    },
    opt_num!("client-rate-limit", client_rate_limit, u64, 0, i64::MAX, false),
    opt_num!("busy-reply-threshold", busy_reply_threshold, i64, 0, i64::MAX, false),
    opt_num!("hz", hz, u32, 0, i32::MAX as i64, false),
    Opt {
        name: "save",
        immutable: false,
        get: |c| c.save.clone(),
        set: |c, a| {
            let words: Vec<&str> = a.iter().flat_map(|s| s.split_whitespace()).collect();
            if words.len() % 2 != 0 || words.iter().any(|w| w.parse::<u64>().is_err()) {
                return Err("Invalid save parameters".into());
            }
            c.save = words.iter().map(|w| w.parse::<u64>().unwrap_or(0).to_string()).collect::<Vec<_>>().join(" ");
            Ok(())
        },
    },
    opt_bool!("rdbcompression", rdbcompression, false),
    opt_bool!("rdbchecksum", rdbchecksum, false),
    opt_bool!("stop-writes-on-bgsave-error", stop_writes_on_bgsave_error, false),
    opt_bool!("appendonly", appendonly, false),
    Opt {
        name: "appendfilename",
        immutable: true,
        get: |c| c.appendfilename.clone(),
        set: |c, a| {
            let v = one(a)?;
            if v.is_empty() || v.contains('/') || v == "." || v == ".." {
                return Err("appendfilename can't be a path, just a filename".into());
            }
            c.appendfilename = v.to_string();
            Ok(())
        },
    },
    Opt {
        name: "appenddirname",
        immutable: true,
        get: |c| c.appenddirname.clone(),
        set: |c, a| {
            let v = one(a)?;
            if v.is_empty() || v.contains('/') || v == "." || v == ".." {
                return Err("appenddirname can't be a path, just a dirname".into());
            }
            c.appenddirname = v.to_string();
            Ok(())
        },
    },
    Opt {
        name: "appendfsync",
        immutable: false,
        get: |c| c.appendfsync.clone(),
        set: |c, a| {
            let v = one(a)?.to_ascii_lowercase();
            if !["always", "everysec", "no"].contains(&v.as_str()) {
                return Err("argument(s) must be one of the following: everysec, always, no".into());
            }
            c.appendfsync = v;
            Ok(())
        },
    },
    opt_bool!("aof-use-rdb-preamble", aof_use_rdb_preamble, false),
    opt_bool!("aof-load-truncated", aof_load_truncated, false),
    opt_num!("auto-aof-rewrite-percentage", auto_aof_rewrite_percentage, u64, 0, i32::MAX as i64, false),
    Opt {
        name: "auto-aof-rewrite-min-size",
        immutable: false,
        get: |c| c.auto_aof_rewrite_min_size.to_string(),
        set: |c, a| {
            c.auto_aof_rewrite_min_size = parse_memory(one(a)?)?;
            Ok(())
        },
    },
    opt_str!("dir", dir, false),
    opt_str!("aclfile", aclfile, true),
    opt_str!("dbfilename", dbfilename, false),
    opt_bool!("daemonize", daemonize, true),
    opt_str!("pidfile", pidfile, true),
    opt_num!("list-max-listpack-size", list_max_listpack_size, i64, -5, i32::MAX as i64, false),
    opt_num!("list-compress-depth", list_compress_depth, u64, 0, i32::MAX as i64, false),
    opt_num!("hash-max-listpack-entries", hash_max_listpack_entries, u64, 0, i64::MAX, false),
    opt_num!("hash-max-listpack-value", hash_max_listpack_value, u64, 0, i64::MAX, false),
    opt_num!("set-max-intset-entries", set_max_intset_entries, u64, 0, i64::MAX, false),
    opt_num!("zset-max-listpack-entries", zset_max_listpack_entries, u64, 0, i64::MAX, false),
    opt_num!("zset-max-listpack-value", zset_max_listpack_value, u64, 0, i64::MAX, false),
    Opt {
        name: "stream-node-max-bytes",
        immutable: false,
        get: |c| c.stream_node_max_bytes.to_string(),
        set: |c, a| {
            c.stream_node_max_bytes = parse_memory(one(a)?)?;
            Ok(())
        },
    },
    opt_num!("stream-node-max-entries", stream_node_max_entries, u64, 0, i64::MAX, false),
    Opt {
        name: "maxmemory",
        immutable: false,
        get: |c| c.maxmemory.to_string(),
        set: |c, a| {
            c.maxmemory = parse_memory(one(a)?)?;
            Ok(())
        },
    },
    Opt {
        name: "maxmemory-policy",
        immutable: false,
        get: |c| c.maxmemory_policy.clone(),
        set: |c, a| {
            const P: &[&str] = &[
                "volatile-lru",
                "volatile-lfu",
                "volatile-random",
                "volatile-ttl",
                "allkeys-lru",
                "allkeys-lfu",
                "allkeys-random",
                "noeviction",
            ];
            let v = one(a)?.to_ascii_lowercase();
            if !P.contains(&v.as_str()) {
                return Err(format!("argument(s) must be one of the following: {}", P.join(", ")));
            }
            c.maxmemory_policy = v;
            Ok(())
        },
    },
    opt_num!("maxmemory-samples", maxmemory_samples, u64, 1, i32::MAX as i64, false),
    opt_num!("latency-monitor-threshold", latency_monitor_threshold, u64, 0, i64::MAX, false),
    opt_bool!("latency-tracking", latency_tracking, false),
    opt_bool!("script-parallel", script_parallel, false),
    opt_num!("tracking-table-max-keys", tracking_table_max_keys, u64, 0, i64::MAX, false),
    opt_str!("requirepass", requirepass, false),
    opt_num!("acllog-max-len", acllog_max_len, u64, 0, i64::MAX, false),
    opt_bool!("protected-mode", protected_mode, false),
    Opt {
        name: "latency-tracking-info-percentiles",
        immutable: false,
        get: |c| c.latency_tracking_info_percentiles.iter().map(|p| fmt_percentile(*p)).collect::<Vec<_>>().join(" "),
        set: |c, a| {
            let mut v = Vec::new();
            for w in a.iter().flat_map(|x| x.split_ascii_whitespace()) {
                let p: f64 = w
                    .parse()
                    .ok()
                    .filter(|p: &f64| !p.is_nan())
                    .ok_or_else(|| "Invalid latency-tracking-info-percentiles parameters".to_string())?;
                if !(0.0..=100.0).contains(&p) {
                    return Err("latency-tracking-info-percentiles parameters should sit between [0.0,100.0]".into());
                }
                v.push(p);
            }
            c.latency_tracking_info_percentiles = v;
            Ok(())
        },
    },
    opt_num!("lfu-log-factor", lfu_log_factor, u64, 0, i32::MAX as i64, false),
    opt_num!("lfu-decay-time", lfu_decay_time, u64, 0, i32::MAX as i64, false),
    opt_num!("active-expire-effort", active_expire_effort, u32, 1, 10, false),
    opt_num!("slowlock-log-slower-than", slowlock_log_slower_than, i64, -1, i64::MAX, false),
    opt_bool!("lazyfree-lazy-user-flush", lazyfree_lazy_user_flush, false),
    opt_no_yes_local!("enable-protected-configs", enable_protected_configs),
    opt_no_yes_local!("enable-debug-command", enable_debug_command),
    Opt {
        name: "notify-keyspace-events",
        immutable: false,
        get: |c| events::to_string(c.notify_keyspace_events),
        set: |c, a| {
            c.notify_keyspace_events = events::parse(one(a)?)
                .ok_or_else(|| "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".to_string())?;
            Ok(())
        },
    },
];

/// Redis 7.0's old names for renamed options.
pub const ALIASES: &[(&str, &str)] = &[
    ("list-max-ziplist-size", "list-max-listpack-size"),
    ("hash-max-ziplist-entries", "hash-max-listpack-entries"),
    ("hash-max-ziplist-value", "hash-max-listpack-value"),
    ("zset-max-ziplist-entries", "zset-max-listpack-entries"),
    ("zset-max-ziplist-value", "zset-max-listpack-value"),
    ("lua-time-limit", "busy-reply-threshold"),
];

pub fn find(name: &str) -> Option<&'static Opt> {
    let name = ALIASES.iter().find(|(a, _)| a.eq_ignore_ascii_case(name)).map(|(_, n)| *n).unwrap_or(name);
    OPTIONS.iter().find(|o| o.name.eq_ignore_ascii_case(name))
}

impl Config {
    /// The `save` points as (seconds, changes).
    pub fn save_points(&self) -> Vec<(u64, u64)> {
        let w: Vec<u64> = self.save.split_whitespace().filter_map(|x| x.parse().ok()).collect();
        w.chunks(2).filter(|c| c.len() == 2).map(|c| (c[0], c[1])).collect()
    }

    /// Applies one directive (file line, command-line override, CONFIG SET at start).
    pub fn apply(&mut self, name: &str, args: &[String]) -> Result<(), String> {
        if name.eq_ignore_ascii_case("listen") {
            let words: Vec<&str> = args.iter().flat_map(|a| a.split_whitespace()).collect();
            let (addr, port, proto, tls) = match words[..] {
                [addr, port, proto] => (addr, port, proto, false),
                [addr, port, proto, t] if t.eq_ignore_ascii_case("tls") => (addr, port, proto, true),
                [_, _, _, t] => return Err(format!("unknown listen option '{t}' (expected tls)")),
                _ => return Err("wrong number of arguments: listen <addr> <port> <resp|msgpack> [tls]".into()),
            };
            let port = parse_num::<u16>(port, 0, 65535)?;
            let msgpack = match proto.to_ascii_lowercase().as_str() {
                "resp" => false,
                "msgpack" => true,
                _ => return Err(format!("unknown protocol '{proto}' (expected resp or msgpack)")),
            };
            self.listen.push(Listen { addr: addr.to_string(), port, msgpack, tls });
            return Ok(());
        }
        if name.eq_ignore_ascii_case("user") {
            if args.is_empty() {
                return Err("wrong number of arguments".into());
            }
            self.users.push(args.to_vec());
            return Ok(());
        }
        if name.eq_ignore_ascii_case("rename-command") {
            let [from, to] = args else { return Err("Bad directive or wrong number of arguments".into()) };
            self.rename_commands.push((from.clone(), to.clone()));
            return Ok(());
        }
        let opt = find(name).ok_or_else(|| "Bad directive or wrong number of arguments".to_string())?;
        (opt.set)(self, args)
    }

    /// Parses redis.conf syntax; errors name the line as Redis does.
    pub fn load_str(&mut self, text: &str) -> Result<(), String> {
        // Several `save` lines in one file add up (redis.conf's classic three lines).
        let mut saw_save = false;
        for (n, line) in text.lines().enumerate() {
            let t = line.trim();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            let parts = split_config_line(t).ok_or_else(|| {
                format!(
                    "Reading the configuration file, at line {}\n>>> '{}'\nUnbalanced quotes in configuration line",
                    n + 1,
                    t
                )
            })?;
            if parts.is_empty() {
                continue;
            }
            if parts[0].eq_ignore_ascii_case("daemonize") && parts.get(1).map(|v| v == "yes").unwrap_or(false) {
                return Err(format!("Reading the configuration file, at line {}\n>>> '{}'\ndaemonize yes is not supported: run under a supervisor (etc/rustis.service)", n + 1, t));
            }
            let mut args = parts[1..].to_vec();
            if parts[0].eq_ignore_ascii_case("save") {
                if saw_save && !args.iter().all(|a| a.trim().is_empty()) {
                    args.insert(0, self.save.clone());
                }
                saw_save = true;
            }
            if let Err(e) = self.apply(&parts[0], &args) {
                return Err(format!("Reading the configuration file, at line {}\n>>> '{}'\n{}", n + 1, t, e));
            }
        }
        Ok(())
    }

    /// Values of every option matching the glob (CONFIG GET), in table order.
    pub fn get_matching(&self, pattern: &[u8], matcher: fn(&[u8], &[u8], bool) -> bool) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = OPTIONS
            .iter()
            .filter(|o| matcher(pattern, o.name.as_bytes(), true))
            .map(|o| (o.name.to_string(), (o.get)(self)))
            .collect();
        for (alias, name) in ALIASES {
            if matcher(pattern, alias.as_bytes(), true) {
                if let Some(o) = find(name) {
                    out.push((alias.to_string(), (o.get)(self)));
                }
            }
        }
        out
    }

    /// CONFIG REWRITE: `original` (the config file's text) with every known option's line
    /// set to its current value, duplicates of it dropped, comments and unknown lines kept;
    /// options that differ from their defaults and were not in the file are appended
    /// under Redis's "# Generated by CONFIG REWRITE" marker.
    pub fn rewrite(&self, original: &str) -> String {
        let defaults = Config::default();
        let mut seen: Vec<&'static str> = Vec::new();
        let mut out = String::new();
        for line in original.lines() {
            let t = line.trim();
            if t == "# Generated by CONFIG REWRITE" {
                continue;
            }
            let opt = if t.is_empty() || t.starts_with('#') {
                None
            } else {
                split_config_line(t).and_then(|p| p.first().and_then(|n| find(n)))
            };
            match opt {
                None => {
                    out.push_str(line);
                    out.push('\n');
                }
                Some(o) if seen.contains(&o.name) => {}
                Some(o) => {
                    seen.push(o.name);
                    let _ = writeln!(out, "{}", config_line(o, self));
                }
            }
        }
        let mut extra = String::new();
        for o in OPTIONS {
            if !seen.contains(&o.name) && !o.immutable && (o.get)(self) != (o.get)(&defaults) {
                let _ = writeln!(extra, "{}", config_line(o, self));
            }
        }
        if !extra.is_empty() {
            if !out.is_empty() && !out.ends_with("\n\n") {
                out.push('\n');
            }
            out.push_str("# Generated by CONFIG REWRITE\n");
            out.push_str(&extra);
        }
        out
    }

    /// The config as redis.conf lines (for logs).
    pub fn dump(&self) -> String {
        let mut s = String::new();
        for o in OPTIONS {
            let _ = writeln!(s, "{} {}", o.name, (o.get)(self));
        }
        s
    }
}

/// One `name value` line; multi-word values of list options (bind, save) stay separate
/// words, other values with blanks or quotes are quoted.
fn config_line(o: &Opt, c: &Config) -> String {
    let v = (o.get)(c);
    let list = matches!(o.name, "bind" | "save");
    if v.is_empty() {
        format!("{} \"\"", o.name)
    } else if list {
        // Each word on its own, quoted when it must be (a quote in a bind address would
        // otherwise make the rewritten file unloadable; found by fuzzing).
        let words: Vec<String> = v.split(' ').map(quoted).collect();
        format!("{} {}", o.name, words.join(" "))
    } else {
        format!("{} {}", o.name, quoted(&v))
    }
}

/// `v` as one config-file word: as is, or double-quoted with escapes when it holds
/// blanks, quotes or backslashes.
fn quoted(v: &str) -> String {
    if !v.chars().any(|ch| ch.is_whitespace() || ch == '"' || ch == '\'' || ch == '\\') {
        return v.to_string();
    }
    let mut q = String::from("\"");
    for ch in v.chars() {
        match ch {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            '\n' => q.push_str("\\n"),
            '\r' => q.push_str("\\r"),
            '\t' => q.push_str("\\t"),
            _ => q.push(ch),
        }
    }
    q.push('"');
    q
}

/// Splits a config line with redis.conf quoting rules.
pub fn split_config_line(line: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut in_word = false;
    while let Some(c) = chars.next() {
        match c {
            '"' | '\'' => {
                let q = c;
                in_word = true;
                loop {
                    match chars.next() {
                        None => return None,
                        Some('\\') if q == '"' => match chars.next() {
                            Some('n') => cur.push('\n'),
                            Some('t') => cur.push('\t'),
                            Some('r') => cur.push('\r'),
                            Some(o) => cur.push(o),
                            None => return None,
                        },
                        Some(x) if x == q => break,
                        Some(x) => cur.push(x),
                    }
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_and_overrides() {
        let mut c = Config::default();
        c.load_str("# comment\nport 7000\nbind 0.0.0.0 ::1\nsave \"\"\nproto-max-bulk-len 2mb\n").unwrap();
        assert_eq!(c.port, 7000);
        assert_eq!(c.bind, vec!["0.0.0.0", "::1"]);
        assert_eq!(c.proto_max_bulk_len, 2 << 20);
        let e = c.load_str("nosuch 1").unwrap_err();
        assert!(e.contains("Bad directive"), "{e}");
        assert!(c.load_str("port 70000").is_err());
        assert!(c.load_str("save \"unbalanced").is_err());
    }

    #[test]
    fn tls_options() {
        let mut c = Config::default();
        assert_eq!(c.tls_port, 0);
        assert_eq!(c.tls_auth_clients, "yes");
        assert_eq!(c.tls_protocols, "TLSv1.2 TLSv1.3");
        c.load_str("tls-port 6390\ntls-auth-clients optional\ntls-protocols \"tlsv1.3\"\n").unwrap();
        assert_eq!((c.tls_port, c.tls_auth_clients.as_str(), c.tls_protocols.as_str()), (6390, "optional", "TLSv1.3"));
        let e = c.load_str("tls-protocols \"TLSv1.1 TLSv1.2\"").unwrap_err();
        assert!(e.contains("Invalid tls-protocols"), "{e}");
        assert!(c.load_str("tls-auth-clients maybe").is_err());
        c.load_str("tls-protocols \"\"").unwrap();
        assert_eq!(c.tls_protocols, "TLSv1.2 TLSv1.3");
        c.load_str("listen 127.0.0.1 7000 msgpack tls\nlisten 127.0.0.1 7001 resp\n").unwrap();
        assert_eq!(c.listen[0], Listen { addr: "127.0.0.1".into(), port: 7000, msgpack: true, tls: true });
        assert!(!c.listen[1].tls);
        assert!(c.load_str("listen 127.0.0.1 7002 resp ssl").is_err());
        assert!(find("tls-port").is_some_and(|o| o.immutable));
    }

    #[test]
    fn every_option_round_trips() {
        let mut c = Config::default();
        for o in OPTIONS {
            let v = (o.get)(&c);
            let args: Vec<String> = if v.is_empty() { vec![String::new()] } else { vec![v.clone()] };
            (o.set)(&mut c, &args).unwrap_or_else(|e| panic!("{}: {e}", o.name));
            assert_eq!((o.get)(&c), v, "{}", o.name);
        }
    }
}

#[cfg(test)]
mod shipped_file {
    use super::*;

    /// etc/rustis.conf documents the defaults: loading it must change nothing.
    #[test]
    fn etc_rustis_conf_matches_defaults() {
        let mut c = Config::default();
        c.load_str(include_str!("../etc/rustis.conf")).unwrap();
        let (a, b) = (c.dump(), Config::default().dump());
        let norm = |s: &str| s.replace("dir ./", "dir .");
        assert_eq!(norm(&a), norm(&b));
        for o in OPTIONS {
            if o.name != "workers" {
                assert!(include_str!("../etc/rustis.conf").contains(o.name), "{} undocumented", o.name);
            }
        }
    }
}

/// Keyspace notification classes (Redis's NOTIFY_* flags) and their config string.
pub mod events {
    pub const KEYSPACE: u32 = 1 << 0;
    pub const KEYEVENT: u32 = 1 << 1;
    pub const GENERIC: u32 = 1 << 2;
    pub const STRING: u32 = 1 << 3;
    pub const LIST: u32 = 1 << 4;
    pub const SET: u32 = 1 << 5;
    pub const HASH: u32 = 1 << 6;
    pub const ZSET: u32 = 1 << 7;
    pub const EXPIRED: u32 = 1 << 8;
    pub const EVICTED: u32 = 1 << 9;
    pub const STREAM: u32 = 1 << 10;
    pub const KEY_MISS: u32 = 1 << 11;
    pub const MODULE: u32 = 1 << 12;
    pub const NEW: u32 = 1 << 13;
    /// 'A': every class but key-miss and new.
    pub const ALL: u32 = GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;

    const CLASSES: &[(char, u32)] = &[
        ('g', GENERIC),
        ('$', STRING),
        ('l', LIST),
        ('s', SET),
        ('h', HASH),
        ('z', ZSET),
        ('x', EXPIRED),
        ('e', EVICTED),
        ('t', STREAM),
        ('d', MODULE),
        ('n', NEW),
    ];

    /// Redis's keyspaceEventsStringToFlags; None on an unknown character.
    pub fn parse(s: &str) -> Option<u32> {
        let mut f = 0;
        // A NUL ends the string, as in Redis's C string handling.
        for ch in s.chars().take_while(|c| *c != '\0') {
            f |= match ch {
                'A' => ALL,
                'K' => KEYSPACE,
                'E' => KEYEVENT,
                'm' => KEY_MISS,
                c => CLASSES.iter().find(|(x, _)| *x == c)?.1,
            };
        }
        Some(f)
    }

    /// Redis's keyspaceEventsFlagsToString (which, like Redis, omits 'n' after 'A').
    pub fn to_string(f: u32) -> String {
        let mut s = String::new();
        if f & ALL == ALL {
            s.push('A');
        } else {
            for (c, bit) in CLASSES {
                if f & bit != 0 {
                    s.push(*c);
                }
            }
        }
        for (c, bit) in [('K', KEYSPACE), ('E', KEYEVENT), ('m', KEY_MISS)] {
            if f & bit != 0 {
                s.push(c);
            }
        }
        s
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        #[test]
        fn flags_print_like_redis() {
            for (i, o) in [
                ("KEA", "AKE"),
                ("Kg", "gK"),
                ("AKEn", "AKE"),
                ("g$lshzxetd", "A"),
                ("ntdgm", "gtdnm"),
                ("Kz$", "$zK"),
                ("", ""),
            ] {
                assert_eq!(to_string(parse(i).unwrap()), o, "{i}");
            }
            assert!(parse("Q").is_none());
        }
    }
}
