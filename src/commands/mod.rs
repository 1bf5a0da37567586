//! The command table and the dispatcher.
//!
//! Owns: every command's single declaration ([`Command`]), admission (lookup, arity,
//! subcommands), the lock planner, panic isolation, and per-command stats. Each Redis
//! command group has its own file that declares its commands next to their handlers.
//!
//! Must hold:
//! - each command is declared exactly once; `COMMAND`, admission, lock planning and
//!   stats all read that declaration (checked by `tests::table_is_consistent`);
//! - a handler only touches stripes the planner locked for it (asking for any other
//!   stripe is a bug and panics, which is caught and answered with an error);
//! - stripes are locked in ascending (db, stripe) order and released before the reply
//!   is encoded.

pub mod acl;
pub mod aof;
pub mod bitmap;
pub mod connection;
pub mod docs;
pub mod errors;
pub mod evict;
pub mod functions;
pub mod generic;
pub mod geo;
pub mod hash;
pub mod hyperloglog;
pub mod list;
pub mod notify;
pub mod pubsub;
pub mod scripting;
pub mod scripting_libs;
pub mod server;
pub mod set;
pub mod sorted_set;
pub mod state;
pub mod stream;
pub mod stream_cg;
pub mod string;
pub mod tracking;
pub mod transaction;

use crate::protocol::{Proto, Reply};
use crate::store::{Db, Stripe};
use parking_lot::{RwLockReadGuard, RwLockWriteGuard};
use state::{BlockRequest, Effects, Session, Shared, WorkerStats};
use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::OnceLock;

pub type Handler = fn(&mut Ctx, &[&[u8]]) -> Reply;
/// Custom lock plan: (db, key) pairs the command will touch, write or read per `Command`.
pub type PlanFn = fn(&Ctx, &[&[u8]], &mut Vec<(usize, usize)>);

pub mod flags {
    pub const WRITE: u32 = 1 << 0;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const ADMIN: u32 = 1 << 3;
    pub const PUBSUB: u32 = 1 << 4;
    pub const NOSCRIPT: u32 = 1 << 5;
    pub const BLOCKING: u32 = 1 << 6;
    pub const LOADING: u32 = 1 << 7;
    pub const STALE: u32 = 1 << 8;
    pub const SKIP_MONITOR: u32 = 1 << 9;
    pub const SKIP_SLOWLOG: u32 = 1 << 10;
    pub const FAST: u32 = 1 << 11;
    pub const NO_AUTH: u32 = 1 << 12;
    pub const MAY_REPLICATE: u32 = 1 << 13;
    pub const NO_MULTI: u32 = 1 << 14;
    pub const SENTINEL: u32 = 1 << 15;
    pub const ALLOW_BUSY: u32 = 1 << 16;
    pub const NO_ASYNC_LOADING: u32 = 1 << 17;
    /// Locks every stripe of every db (FLUSHALL, SWAPDB, KEYS, DBSIZE, ...).
    pub const ALL_STRIPES: u32 = 1 << 24;
    /// Locks every stripe of the current db only.
    pub const DB_STRIPES: u32 = 1 << 25;
    /// Takes write locks on its keys although Redis flags it read-only (PFCOUNT stores
    /// the cardinality it computed in the HLL's cache bytes).
    pub const LOCK_WRITE: u32 = 1 << 26;
    /// Runs a Lua script (EVAL family, FCALL): in parallel first, or holding every
    /// worker's gate (scripting.rs).
    pub const SCRIPT: u32 = 1 << 27;

    pub const NAMES: &[(u32, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (SKIP_MONITOR, "skip_monitor"),
        (SKIP_SLOWLOG, "skip_slowlog"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (MAY_REPLICATE, "may_replicate"),
        (NO_ASYNC_LOADING, "no_async_loading"),
        (NO_MULTI, "no_multi"),
        (SENTINEL, "sentinel"),
        (ALLOW_BUSY, "allow_busy"),
    ];

    /// Flags COMMAND INFO reports (SENTINEL is internal, as in Redis).
    pub fn reported(f: u32) -> bool {
        f != SENTINEL
    }
}

/// Where a command's keys are (Redis's legacy first/last/step triple).
#[derive(Clone, Copy, Debug)]
pub struct KeyRange {
    pub first: i32,
    /// Negative counts from the end: -1 is the last argument.
    pub last: i32,
    pub step: i32,
}

/// A Redis `keynum` key spec: the argument at `index` counts the keys, which start at
/// `index + firstkey` and repeat every `keystep` (LMPOP, ZUNIONSTORE, SINTERCARD, ...).
#[derive(Clone, Copy, Debug)]
pub struct KeyNum {
    pub index: i32,
    pub keynumidx: i32,
    pub firstkey: i32,
    pub keystep: i32,
    pub flags: &'static str,
}

/// A key spec beyond the `keys` range and `keynum` (Redis's key-spec forms).
#[derive(Clone, Copy)]
pub enum ExtraSpec {
    /// Keys follow `keyword` (searched from argument `startfrom` on), found like Redis's
    /// range find_keys: `lastkey` >= 0 keys after the keyword, or to the end (`lastkey` < 0),
    /// of which only the first 1/`limit` when `limit` > 0 (XREAD STREAMS, GEORADIUS STORE).
    Keyword { keyword: &'static str, startfrom: i32, lastkey: i32, limit: i32, flags: &'static str },
    /// Redis's `unknown` begin_search / find_keys (SORT's BY/GET/STORE): `find` gives
    /// the positions COMMAND GETKEYS reports (Redis's getkeys_proc); locking is the
    /// command's `plan`.
    Unknown { notes: &'static str, flags: &'static str, find: fn(&[&[u8]]) -> std::ops::Range<usize> },
}

impl ExtraSpec {
    pub const fn keyword(keyword: &'static str, startfrom: i32, lastkey: i32, limit: i32, flags: &'static str) -> Self {
        ExtraSpec::Keyword { keyword, startfrom, lastkey, limit, flags }
    }
    pub fn flags(&self) -> &'static str {
        match self {
            ExtraSpec::Keyword { flags, .. } | ExtraSpec::Unknown { flags, .. } => flags,
        }
    }
    /// Positions of this spec's keys in `argv` (Redis's getKeysUsingKeySpecs).
    pub fn positions(&self, argv: &[&[u8]]) -> std::ops::Range<usize> {
        let (keyword, startfrom, lastkey, limit) = match *self {
            ExtraSpec::Keyword { keyword, startfrom, lastkey, limit, .. } => (keyword, startfrom, lastkey, limit),
            ExtraSpec::Unknown { find, .. } => return find(argv),
        };
        let argc = argv.len();
        let start = startfrom.max(1) as usize;
        let Some(kw) = (start..argc.saturating_sub(1)).find(|&i| eq_ic(argv[i], keyword)) else { return 0..0 };
        let first = kw + 1;
        let last = if lastkey >= 0 {
            first as i64 + lastkey as i64
        } else if limit == 0 {
            argc as i64 + lastkey as i64
        } else {
            first as i64 + ((argc - first) as i64 / limit as i64 + lastkey as i64)
        };
        let end = (last + 1).clamp(first as i64, argc as i64) as usize;
        first..end
    }
}

pub struct Command {
    /// Lower-case name; subcommands are `parent|sub`.
    pub name: &'static str,
    pub group: &'static str,
    pub arity: i32,
    pub flags: u32,
    pub keys: Option<KeyRange>,
    /// A counted run of keys after the range keys (makes the command `movablekeys`).
    pub keynum: Option<KeyNum>,
    pub specs: &'static [ExtraSpec],
    pub plan: Option<PlanFn>,
    pub run: Option<Handler>,
    pub summary: &'static str,
    pub since: &'static str,
    pub complexity: &'static str,
    /// Argument syntax as in Redis's docs, e.g. `key value [NX | XX]`.
    pub args: &'static str,
    pub subs: &'static [Command],
    pub acl: &'static str,
    /// Key-spec flags as Redis reports them, one `;`-separated entry per key spec
    /// (e.g. `RW access delete; OW update` for RENAME). With several entries, spec i
    /// covers the single key at position `first + i`.
    pub key_flags: &'static str,
    pub key_notes: &'static str,
    /// COMMAND INFO tips (space separated), e.g. `nondeterministic_output`.
    pub tips: &'static str,
    /// How a successful write is logged to the AOF (see [`aof::Prop`]).
    pub prop: aof::Prop,
    /// The keyspace event it emits (see [`notify::Ev`]).
    pub ev: notify::Ev,
}

impl Command {
    pub const fn new(name: &'static str, group: &'static str, arity: i32, flags: u32, run: Handler) -> Command {
        Command {
            name,
            group,
            arity,
            flags,
            keys: None,
            keynum: None,
            specs: &[],
            plan: None,
            run: Some(run),
            summary: "",
            since: "1.0.0",
            complexity: "O(1)",
            args: "",
            subs: &[],
            acl: "",
            key_flags: "",
            key_notes: "",
            tips: "",
            prop: aof::Prop::Verbatim,
            ev: notify::Ev::Custom,
        }
    }
    /// A container with subcommands (CONFIG, CLIENT, ...); `run` handles the bare name.
    pub const fn container(name: &'static str, group: &'static str, subs: &'static [Command]) -> Command {
        Command {
            name,
            group,
            arity: -2,
            flags: 0,
            keys: None,
            keynum: None,
            specs: &[],
            plan: None,
            run: None,
            summary: "",
            since: "1.0.0",
            complexity: "Depends on subcommand.",
            args: "",
            subs,
            acl: "",
            key_flags: "",
            key_notes: "",
            tips: "",
            prop: aof::Prop::Verbatim,
            ev: notify::Ev::Custom,
        }
    }
    pub const fn ks(mut self, flags: &'static str) -> Command {
        self.key_flags = flags;
        self
    }
    pub const fn notes(mut self, notes: &'static str) -> Command {
        self.key_notes = notes;
        self
    }
    pub const fn ev(mut self, e: notify::Ev) -> Command {
        self.ev = e;
        self
    }
    pub const fn prop(mut self, p: aof::Prop) -> Command {
        self.prop = p;
        self
    }
    pub const fn tips(mut self, tips: &'static str) -> Command {
        self.tips = tips;
        self
    }
    pub const fn keys(mut self, first: i32, last: i32, step: i32) -> Command {
        self.keys = Some(KeyRange { first, last, step });
        self
    }
    /// Adds a keynum key spec (see [`KeyNum`]).
    pub const fn keynum(
        mut self,
        index: i32,
        keynumidx: i32,
        firstkey: i32,
        keystep: i32,
        flags: &'static str,
    ) -> Command {
        self.keynum = Some(KeyNum { index, keynumidx, firstkey, keystep, flags });
        self
    }
    pub const fn specs(mut self, specs: &'static [ExtraSpec]) -> Command {
        self.specs = specs;
        self
    }
    /// True when key positions depend on the arguments (COMMAND INFO `movablekeys`).
    pub fn movable_keys(&self) -> bool {
        self.keynum.is_some() || !self.specs.is_empty()
    }
    pub const fn plan(mut self, f: PlanFn) -> Command {
        self.plan = Some(f);
        self
    }
    pub const fn doc(mut self, summary: &'static str, since: &'static str, complexity: &'static str) -> Command {
        self.summary = summary;
        self.since = since;
        self.complexity = complexity;
        self
    }
    pub const fn args(mut self, args: &'static str) -> Command {
        self.args = args;
        self
    }
    pub const fn acl(mut self, acl: &'static str) -> Command {
        self.acl = acl;
        self
    }
    pub const fn arity(mut self, arity: i32) -> Command {
        self.arity = arity;
        self
    }
    pub const fn handler(mut self, run: Handler) -> Command {
        self.run = Some(run);
        self
    }
    pub fn has(&self, f: u32) -> bool {
        self.flags & f != 0
    }
    /// Key argument positions for argv (range keys, then keynum keys).
    pub fn key_positions_argv(&self, argv: &[&[u8]], out: &mut Vec<usize>) {
        self.for_each_key_pos(argv, |p| out.push(p));
    }

    /// Calls `f` with each key argument position (no allocation: used per command by
    /// the lock planner).
    pub fn for_each_key_pos(&self, argv: &[&[u8]], mut f: impl FnMut(usize)) {
        if let Some(k) = self.keys {
            if k.first > 0 && argv.len() > k.first as usize {
                let last = if k.last < 0 { argv.len() as i32 + k.last } else { k.last.min(argv.len() as i32 - 1) };
                let mut i = k.first;
                while i <= last {
                    f(i as usize);
                    i += k.step.max(1);
                }
            }
        }
        for spec in self.specs {
            spec.positions(argv).for_each(&mut f);
        }
        if let Some(kn) = self.keynum {
            let at = (kn.index + kn.keynumidx) as usize;
            let Some(n) = argv.get(at).and_then(|a| crate::store::parse_i64_strict(a)) else { return };
            // A count larger than the arguments left is not a key list (GETKEYS errors).
            let first = kn.index as usize + kn.firstkey as usize;
            let step = kn.keystep.max(1) as usize;
            if n <= 0 || first + (n as usize - 1) * step >= argv.len() {
                return;
            }
            for j in 0..n as usize {
                f(first + j * step);
            }
        }
    }

    /// Redis ACL categories: declared ones plus those implied by group and flags.
    pub fn acl_categories(&self) -> Vec<String> {
        let mut cats: Vec<String> = Vec::new();
        let push = |cats: &mut Vec<String>, c: &str| {
            if !cats.iter().any(|x| x == c) {
                cats.push(c.to_string());
            }
        };
        if self.has(flags::WRITE) {
            push(&mut cats, "@write");
        }
        if self.has(flags::READONLY) {
            push(&mut cats, "@read");
        }
        if self.has(flags::ADMIN) {
            push(&mut cats, "@admin");
            push(&mut cats, "@dangerous");
        }
        if self.has(flags::PUBSUB) {
            push(&mut cats, "@pubsub");
        }
        if self.has(flags::BLOCKING) {
            push(&mut cats, "@blocking");
        }
        for c in self.acl.split_whitespace().filter(|c| !c.starts_with('-')) {
            push(&mut cats, c);
        }
        let container = self.run.is_none() && !self.subs.is_empty();
        match self.group {
            _ if container => {}
            "string" => push(&mut cats, "@string"),
            "generic" => push(&mut cats, "@keyspace"),
            "connection" => push(&mut cats, "@connection"),
            "list" => push(&mut cats, "@list"),
            "hash" => push(&mut cats, "@hash"),
            "set" => push(&mut cats, "@set"),
            "sorted-set" => push(&mut cats, "@sortedset"),
            "stream" => push(&mut cats, "@stream"),
            _ => {}
        }
        push(&mut cats, if self.has(flags::FAST) { "@fast" } else { "@slow" });
        // `-@cat` in `acl` drops a category the group would add (SORT is not @keyspace).
        for c in self.acl.split_whitespace().filter_map(|c| c.strip_prefix('-')) {
            cats.retain(|x| x != c);
        }
        cats.sort_by_key(|c| ACL_ORDER.iter().position(|o| o == c).unwrap_or(usize::MAX));
        cats
    }
}

/// Redis's ACL category table order (COMMAND INFO lists categories in this order).
pub const ACL_ORDER: &[&str] = &[
    "@keyspace",
    "@read",
    "@write",
    "@set",
    "@sortedset",
    "@list",
    "@hash",
    "@string",
    "@bitmap",
    "@hyperloglog",
    "@geo",
    "@stream",
    "@pubsub",
    "@admin",
    "@fast",
    "@slow",
    "@blocking",
    "@dangerous",
    "@connection",
    "@transaction",
    "@scripting",
];

/// The flattened table: ids index per-command stats.
pub struct Table {
    pub cmds: Vec<&'static Command>,
    by_name: HashMap<&'static [u8], usize>,
    /// rename-command: names clients use instead of the original (lowercase) ...
    renamed: HashMap<Vec<u8>, usize>,
    /// ... and original names clients can no longer use.
    hidden: std::collections::HashSet<&'static [u8]>,
    /// Top-level commands in declaration order (COMMAND, COMMAND LIST).
    pub top: Vec<usize>,
}

fn groups() -> [&'static [Command]; 18] {
    [
        string::COMMANDS,
        bitmap::COMMANDS,
        list::COMMANDS,
        hash::COMMANDS,
        set::COMMANDS,
        sorted_set::COMMANDS,
        generic::COMMANDS,
        connection::COMMANDS,
        server::COMMANDS,
        geo::COMMANDS,
        stream::COMMANDS,
        stream_cg::COMMANDS,
        transaction::COMMANDS,
        pubsub::COMMANDS,
        hyperloglog::COMMANDS,
        acl::COMMANDS,
        scripting::COMMANDS,
        functions::COMMANDS,
    ]
}

/// `name` lower-cased into `buf` (no allocation); None when longer than any command name.
fn lowered<'a>(name: &[u8], buf: &'a mut [u8; 64]) -> Option<&'a [u8]> {
    let out = buf.get_mut(..name.len())?;
    for (d, s) in out.iter_mut().zip(name) {
        *d = s.to_ascii_lowercase();
    }
    Some(out)
}

static RENAMES: OnceLock<Vec<(String, String)>> = OnceLock::new();

/// Applies `rename-command` lines before the table is first used (at start, once).
/// Errors are Redis's config-loading texts.
pub fn set_renames(renames: &[(String, String)]) -> Result<(), String> {
    let base = build_table(&[]);
    let mut taken: Vec<Vec<u8>> = Vec::new();
    for (from, to) in renames {
        if from.contains('|') || base.lookup(from.as_bytes()).is_none() {
            return Err("No such command in rename-command".into());
        }
        let to = to.to_ascii_lowercase().into_bytes();
        if !to.is_empty() && (base.lookup(&to).is_some() || taken.contains(&to)) {
            return Err("Target command name already exists".into());
        }
        taken.push(to);
    }
    RENAMES.set(renames.to_vec()).map_err(|_| "rename-command applied twice".to_string())
}

pub fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| build_table(RENAMES.get().map(|v| v.as_slice()).unwrap_or(&[])))
}

fn build_table(renames: &[(String, String)]) -> Table {
    {
        let mut t = Table {
            cmds: Vec::new(),
            by_name: HashMap::new(),
            renamed: HashMap::new(),
            hidden: Default::default(),
            top: Vec::new(),
        };
        for g in groups() {
            for c in g.iter() {
                t.top.push(t.cmds.len());
                t.by_name.insert(c.name.as_bytes(), t.cmds.len());
                t.cmds.push(c);
                for s in c.subs {
                    t.by_name.insert(s.name.as_bytes(), t.cmds.len());
                    t.cmds.push(s);
                }
            }
        }
        for (from, to) in renames {
            if let Some(id) = t.lookup(from.as_bytes()) {
                t.hidden.insert(t.cmds[id].name.as_bytes());
                t.renamed.retain(|_, v| *v != id);
                if !to.is_empty() {
                    t.renamed.insert(to.to_ascii_lowercase().into_bytes(), id);
                }
            }
        }
        t
    }
}

impl Table {
    pub fn len(&self) -> usize {
        self.cmds.len()
    }
    pub fn is_empty(&self) -> bool {
        self.cmds.is_empty()
    }
    /// Case-insensitive lookup of a top-level name or `parent|sub`.
    pub fn lookup(&self, name: &[u8]) -> Option<usize> {
        let mut buf = [0u8; 64];
        self.by_name.get(lowered(name, &mut buf)?).copied()
    }
    /// Like [`Table::lookup`] for a name a client typed: rename-command applies.
    pub fn lookup_user(&self, name: &[u8]) -> Option<usize> {
        if self.renamed.is_empty() && self.hidden.is_empty() {
            return self.lookup(name);
        }
        let mut buf = [0u8; 64];
        // A new name may be longer than any built-in one (then it is lower-cased on the heap).
        let renamed = match lowered(name, &mut buf) {
            Some(l) => self.renamed.get(l),
            None => self.renamed.get(&name.to_ascii_lowercase()),
        };
        match renamed {
            Some(&id) => Some(id),
            None => self.lookup(name).filter(|&id| !self.hidden.contains(self.cmds[id].name.as_bytes())),
        }
    }
    /// Resolves argv to a command id, or the Redis error for unknown names / arity.
    pub fn resolve(&self, argv: &[&[u8]]) -> Result<usize, String> {
        let Some(id) = self.lookup_user(argv[0]).filter(|_| !argv[0].contains(&b'|')) else {
            return Err(errors::unknown_command(argv[0], &argv[1..]));
        };
        let mut cmd = self.cmds[id];
        let mut id = id;
        if !cmd.subs.is_empty() && argv.len() >= 2 {
            let mut full = Vec::with_capacity(cmd.name.len() + 1 + argv[1].len());
            full.extend_from_slice(cmd.name.as_bytes());
            full.push(b'|');
            full.extend_from_slice(argv[1]);
            match self.lookup(&full) {
                Some(sid) => {
                    id = sid;
                    cmd = self.cmds[sid];
                }
                // Redis names the command as typed (upper-cased), e.g. a renamed one.
                None => return Err(errors::unknown_subcommand(argv[1], &String::from_utf8_lossy(argv[0]))),
            }
        }
        let argc = argv.len() as i32;
        if (cmd.arity > 0 && argc != cmd.arity) || argc < -cmd.arity || (cmd.run.is_none() && argc < 2) {
            return Err(errors::arity(cmd.name));
        }
        Ok(id)
    }
}

/// A worker's hold on the script gates while it runs one command (the guards are only
/// held, for their Drop: hence the allow).
#[allow(dead_code)]
enum Gate<'a> {
    One(parking_lot::RwLockReadGuard<'a, ()>),
    All(Vec<parking_lot::RwLockWriteGuard<'a, ()>>),
}

enum Guard<'a> {
    R(RwLockReadGuard<'a, Stripe>),
    W(RwLockWriteGuard<'a, Stripe>),
}

/// The stripes one command holds, sorted by (db, stripe).
#[derive(Default)]
pub struct Locks<'a> {
    held: Vec<(usize, usize, Guard<'a>)>,
}

impl<'a> Locks<'a> {
    fn find(&self, db: usize, stripe: usize) -> Option<usize> {
        self.held.binary_search_by(|(d, s, _)| (*d, *s).cmp(&(db, stripe))).ok()
    }
    pub fn release(&mut self) {
        self.held.clear();
    }
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }
    pub fn count(&self) -> usize {
        self.held.len()
    }
}

/// What `Ctx::write_begin` records for `Ctx::write_end`.
pub struct WriteMark {
    mods: u64,
    existed: Option<Vec<bool>>,
}

/// A key and its db.
pub type DbKey = (usize, Vec<u8>);

/// What a handler sees.
pub struct Ctx<'a> {
    pub shared: &'a Shared,
    pub session: &'a mut Session,
    pub stats: &'a mut WorkerStats,
    pub now: i64,
    pub cmd: &'static Command,
    pub locks: Locks<'a>,
    pub effects: &'a mut Effects,
    /// Expired keys a read-locked lookup found; deleted once the locks are released.
    stale: std::cell::RefCell<Vec<(usize, Vec<u8>)>>,
    /// Keys this command's writes found expired and removed (announced as `expired`,
    /// logged to the AOF as DEL).
    pub expired_seen: Vec<(usize, Vec<u8>)>,
    /// Read lookups that missed, for `keymiss` events (only while class `m` is on).
    pub misses: std::cell::RefCell<Vec<(usize, Vec<u8>)>>,
    /// Set by handlers that know whether their write changed anything (ZADD, SMOVE's add,
    /// XGROUP DELCONSUMER): events are skipped when false.
    pub changed_hint: Option<bool>,
    /// Events a handler adds after its main one (XADD's `xtrim`, consumers created by
    /// XREADGROUP/XCLAIM/XAUTOCLAIM): (class, event, key).
    pub extra_events: Vec<(u32, &'static str, Vec<u8>)>,
    /// A script running in parallel (scripting.rs): it holds its worker's gate only and
    /// the stripes of its declared keys; any other stripe is taken without waiting (or
    /// the run is rolled back and repeated exclusively), and every held stripe keeps an
    /// undo record.
    pub parallel: bool,
    /// Set by a parallel script that had to give up: `execute` releases everything and
    /// runs the command again holding every worker gate.
    pub rerun_exclusive: bool,
    /// Set when `with_stripe` could not take a stripe without waiting (parallel scripts
    /// only): the command's result is meaningless and its run must be abandoned.
    pub lock_missed: std::cell::Cell<bool>,
    /// Waiting for a stripe gives up (`gave_up`) once a script turns busy: set for the lock
    /// plan of commands that are not ALLOW_BUSY.
    pub busy_exit: bool,
    pub gave_up: bool,
    /// In a parallel script, the keys whose watchers to flag once it commits.
    pub watch_deferred: std::cell::RefCell<Option<Vec<DbKey>>>,
}

impl<'a> Ctx<'a> {
    /// Looks up a live key in the current db (read or write lock held). An expired key
    /// is reported missing and queued for deletion, as Redis deletes on access.
    pub fn get(&self, key: &[u8]) -> Option<&crate::store::Item> {
        self.get_in(self.session.db, key)
    }

    /// Like `get` in `db`; counts as an access (LRU clock / LFU counter), as Redis's
    /// lookupKey does.
    pub fn get_in(&self, db: usize, key: &[u8]) -> Option<&crate::store::Item> {
        let it = self.peek_in(db, key)?;
        it.touch(self.now);
        Some(it)
    }

    /// A live key without counting an access (Redis's LOOKUP_NOTOUCH: TYPE, TTL, EXISTS,
    /// OBJECT, and the server's own bookkeeping).
    pub fn peek(&self, key: &[u8]) -> Option<&crate::store::Item> {
        self.peek_in(self.session.db, key)
    }

    pub fn peek_in(&self, db: usize, key: &[u8]) -> Option<&crate::store::Item> {
        let found = self.stripe_in(db, key).peek(key);
        let live = match found {
            Some(it) if it.is_expired(self.now) => {
                self.stale.borrow_mut().push((db, key.to_vec()));
                None
            }
            other => other,
        };
        if live.is_none()
            && self.cmd.has(flags::READONLY)
            && notify::flags(self.shared) & crate::config::events::KEY_MISS != 0
        {
            self.misses.borrow_mut().push((db, key.to_vec()));
        }
        live
    }

    pub fn db(&self) -> &'a Db {
        &self.shared.keyspace.dbs[self.session.db]
    }
    pub fn db_at(&self, db: usize) -> &'a Db {
        &self.shared.keyspace.dbs[db]
    }
    /// The (locked) stripe that holds `key` in the current db.
    pub fn stripe(&self, key: &[u8]) -> &Stripe {
        self.stripe_in(self.session.db, key)
    }
    pub fn stripe_in(&self, db: usize, key: &[u8]) -> &Stripe {
        let s = self.shared.keyspace.dbs[db].stripe_of(key);
        self.stripe_at(db, s)
    }
    pub fn stripe_at(&self, db: usize, s: usize) -> &Stripe {
        match self.locks.find(db, s).map(|i| &self.locks.held[i].2) {
            Some(Guard::R(g)) => g,
            Some(Guard::W(g)) => g,
            None => panic!("{}: stripe {db}/{s} used without being locked", self.cmd.name),
        }
    }
    pub fn stripe_mut(&mut self, key: &[u8]) -> &mut Stripe {
        let db = self.session.db;
        self.stripe_mut_in(db, key)
    }
    pub fn stripe_mut_in(&mut self, db: usize, key: &[u8]) -> &mut Stripe {
        let s = self.shared.keyspace.dbs[db].stripe_of(key);
        self.stripe_mut_at(db, s)
    }
    pub fn stripe_mut_at(&mut self, db: usize, s: usize) -> &mut Stripe {
        let name = self.cmd.name;
        match self.locks.find(db, s).map(|i| &mut self.locks.held[i].2) {
            Some(Guard::W(g)) => g,
            _ => panic!("{name}: stripe {db}/{s} written without a write lock"),
        }
    }
    /// Every held stripe of `db`, in order (keyspace-wide commands).
    pub fn stripes_of(&self, db: usize) -> impl Iterator<Item = &Stripe> {
        self.locks.held.iter().filter(move |(d, _, _)| *d == db).map(|(_, _, g)| match g {
            Guard::R(g) => &**g,
            Guard::W(g) => &**g,
        })
    }
    pub fn stripes_mut_of(&mut self, db: usize) -> Vec<&mut Stripe> {
        self.locks
            .held
            .iter_mut()
            .filter(move |(d, _, _)| *d == db)
            .filter_map(|(_, _, g)| match g {
                Guard::W(g) => Some(&mut **g),
                Guard::R(_) => None,
            })
            .collect()
    }
    /// Parks this client until one of `keys` (current db) is written or the deadline
    /// passes; the command's reply is then produced by re-running it, or `on_timeout`.
    pub fn block(&mut self, keys: Vec<Vec<u8>>, deadline: Option<i64>, on_timeout: Reply) {
        self.session.block = Some(BlockRequest { keys, deadline, on_timeout, rewrite: None, postpone: false });
    }

    /// Like [`Ctx::block`], but the command re-run when a key is written is `argv`.
    pub fn block_rewritten(
        &mut self,
        keys: Vec<Vec<u8>>,
        deadline: Option<i64>,
        on_timeout: Reply,
        argv: Vec<Vec<u8>>,
    ) {
        self.session.block = Some(BlockRequest { keys, deadline, on_timeout, rewrite: Some(argv), postpone: false });
    }

    pub fn proto(&self) -> Proto {
        self.session.proto
    }
    pub fn hit(&mut self, found: bool) {
        if found {
            self.stats.hits += 1;
        } else {
            self.stats.misses += 1;
        }
    }
    /// Swaps the contents of two held (write-locked) stripes (SWAPDB).
    pub fn swap_stripes(&mut self, a: (usize, usize), b: (usize, usize)) {
        let name = self.cmd.name;
        let (Some(ia), Some(ib)) = (self.locks.find(a.0, a.1), self.locks.find(b.0, b.1)) else {
            panic!("{name}: swapping stripes that are not locked");
        };
        if ia == ib {
            return;
        }
        let (lo, hi) = (ia.min(ib), ia.max(ib));
        let (x, y) = self.locks.held.split_at_mut(hi);
        match (&mut x[lo].2, &mut y[0].2) {
            (Guard::W(g1), Guard::W(g2)) => g1.swap_contents(g2),
            _ => panic!("{name}: swapping stripes without write locks"),
        }
    }

    /// Releases every stripe this command holds (and says so in the worker's live stats).
    pub fn release_locks(&mut self) {
        if !self.locks.is_empty() {
            self.locks.release();
            self.shared.worker_live[self.stats.idx].active_locks.store(0, Relaxed);
        }
    }

    /// Ends the undo records of every held stripe (parallel scripts): keeps the changes,
    /// or with `rollback` puts every changed key back as it was when the stripe was taken.
    pub fn end_undo(&mut self, rollback: bool) {
        for (_, _, g) in self.locks.held.iter_mut() {
            if let Guard::W(g) = g {
                if rollback {
                    g.undo_rollback();
                } else {
                    g.undo_commit();
                }
            }
        }
    }

    /// Opens an undo record on every held stripe (a parallel script starts).
    pub fn begin_undo(&mut self) {
        for (_, _, g) in self.locks.held.iter_mut() {
            if let Guard::W(g) = g {
                g.undo_begin();
            }
        }
    }
}

/// Waits for a lock with `attempt` (a timed try): in `BUSY_POLL` slices, giving up
/// (None) once a script turns busy.
fn wait_unless_busy<G>(shared: &Shared, mut attempt: impl FnMut(std::time::Duration) -> Option<G>) -> Option<G> {
    loop {
        if let Some(g) = attempt(state::BUSY_POLL) {
            return Some(g);
        }
        if shared.script.any_busy() {
            return None;
        }
    }
}

/// Takes this worker's gate (or, for an exclusive run, every worker's). With `busy_exit`
/// a wait gives up (None) once a script turns busy.
fn take_gate(shared: &Shared, idx: usize, world: bool, busy_exit: bool) -> Option<Gate<'_>> {
    if !world {
        let g = &shared.gates[idx];
        if let Some(r) = g.try_read() {
            return Some(Gate::One(r));
        }
        return if busy_exit {
            wait_unless_busy(shared, |t| g.try_read_for(t)).map(Gate::One)
        } else {
            Some(Gate::One(g.read()))
        };
    }
    let mut all = Vec::with_capacity(shared.gates.len());
    for g in shared.gates.iter() {
        all.push(if busy_exit { wait_unless_busy(shared, |t| g.try_write_for(t))? } else { g.write() });
    }
    Some(Gate::All(all))
}

/// Computes the command's lock plan and takes the locks, in ascending order.
fn lock_plan<'a>(ctx: &mut Ctx<'a>, argv: &[&[u8]], scratch: &mut Vec<(usize, usize)>) {
    let cmd = ctx.cmd;
    let write = cmd.has(flags::WRITE) || cmd.has(flags::LOCK_WRITE);
    scratch.clear();
    plan_stripes(ctx, argv, scratch);
    if scratch.is_empty() {
        return;
    }
    scratch.sort_unstable();
    scratch.dedup();
    for &(d, s) in scratch.iter() {
        acquire(ctx, d, s, write);
        if ctx.gave_up {
            return;
        }
    }
}

/// The (db, stripe) pairs `ctx.cmd` needs for `argv` (unsorted, may repeat).
fn plan_stripes(ctx: &Ctx, argv: &[&[u8]], out: &mut Vec<(usize, usize)>) {
    let cmd = ctx.cmd;
    let ks = &ctx.shared.keyspace;
    if cmd.has(flags::ALL_STRIPES) {
        for (d, db) in ks.dbs.iter().enumerate() {
            for s in 0..db.stripes.len() {
                out.push((d, s));
            }
        }
    } else if cmd.has(flags::DB_STRIPES) {
        let d = ctx.session.db;
        for s in 0..ks.dbs[d].stripes.len() {
            out.push((d, s));
        }
    } else if let Some(plan) = cmd.plan {
        plan(ctx, argv, out);
    } else if cmd.keys.is_some() || cmd.movable_keys() {
        let d = ctx.session.db;
        cmd.for_each_key_pos(argv, |p| out.push((d, ks.dbs[d].stripe_of(argv[p]))));
    }
}

/// Takes one stripe lock (callers go in ascending (db, stripe) order), counting and
/// timing contention and warning about slow waits.
fn acquire<'a>(ctx: &mut Ctx<'a>, d: usize, s: usize, write: bool) {
    let shared: &'a Shared = ctx.shared;
    let lock = &shared.keyspace.dbs[d].stripes[s];
    let fast = if write { lock.try_write().map(Guard::W) } else { lock.try_read().map(Guard::R) };
    let g = match fast {
        Some(g) => g,
        None => {
            let t = std::time::Instant::now();
            let g = if ctx.busy_exit {
                let waited = wait_unless_busy(shared, |t| {
                    if write {
                        lock.try_write_for(t).map(Guard::W)
                    } else {
                        lock.try_read_for(t).map(Guard::R)
                    }
                });
                let Some(g) = waited else {
                    ctx.gave_up = true;
                    return;
                };
                g
            } else if write {
                Guard::W(lock.write())
            } else {
                Guard::R(lock.read())
            };
            let waited = t.elapsed();
            ctx.stats.lock_contended += 1;
            ctx.stats.lock_wait_ns += waited.as_nanos() as u64;
            ctx.stats.lock_wait_hist.observe_ns(waited.as_nanos() as u64);
            let warn_us = shared.config.read().slowlock_log_slower_than;
            if warn_us >= 0 && waited.as_micros() as i64 > warn_us {
                log::warn!(
                    "conn={} slow lock wait: {} us for db {} stripe {} ({})",
                    ctx.session.id,
                    waited.as_micros(),
                    d,
                    s,
                    ctx.cmd.name
                );
            }
            g
        }
    };
    // Sorted insert: callers go in ascending order (a push), except scripts, which take
    // stripes as they go while every worker gate is theirs.
    let at = ctx.locks.held.partition_point(|(hd, hs, _)| (*hd, *hs) < (d, s));
    ctx.locks.held.insert(at, (d, s, g));
    ctx.shared.worker_live[ctx.stats.idx].active_locks.store(ctx.locks.held.len() as u64, Relaxed);
}

/// Locks the union of the stripes `cmds` need (EXEC): write where any of them writes.
/// `everything` locks every stripe of every db for writing (a queued SELECT, MOVE, ...
/// makes the plan depend on state the commands change).
pub fn lock_union(ctx: &mut Ctx, cmds: &[(&'static Command, Vec<&[u8]>)], everything: bool) {
    let mut want: Vec<(usize, usize, bool)> = Vec::new();
    if everything {
        for (d, db) in ctx.shared.keyspace.dbs.iter().enumerate() {
            for s in 0..db.stripes.len() {
                want.push((d, s, true));
            }
        }
    } else {
        let saved = ctx.cmd;
        let mut tmp = Vec::new();
        for (cmd, argv) in cmds {
            ctx.cmd = cmd;
            tmp.clear();
            plan_stripes(ctx, argv, &mut tmp);
            let w = cmd.has(flags::WRITE) || cmd.has(flags::LOCK_WRITE);
            want.extend(tmp.iter().map(|&(d, s)| (d, s, w)));
        }
        ctx.cmd = saved;
    }
    want.sort_unstable();
    let mut i = 0;
    while i < want.len() {
        let (d, s, _) = want[i];
        let mut w = false;
        while i < want.len() && want[i].0 == d && want[i].1 == s {
            w |= want[i].2;
            i += 1;
        }
        acquire(ctx, d, s, w);
    }
}

/// Runs one command under locks its caller already holds (EXEC, scripts): watch
/// bookkeeping, keyspace events and AOF records (`write_begin`/`write_end`), tracking,
/// MONITOR, per-command stats and SLOWLOG. Blocking commands do not block here: they
/// time out at once (BLMOVE / BRPOPLPUSH answer a null bulk, as in Redis). Keys written
/// while clients are parked are added to `written`.
pub(crate) fn run_locked(
    ctx: &mut Ctx,
    cmd: &'static Command,
    id: usize,
    argv: &[&[u8]],
    written: &mut Vec<(usize, Vec<u8>)>,
) -> Reply {
    let Some(run) = cmd.run else { return Reply::Error(errors::arity(cmd.name)) };
    let saved = ctx.cmd;
    ctx.cmd = cmd;
    let start = std::time::Instant::now();
    let snap = ctx.watch_snapshot();
    let mark = ctx.write_begin(argv);
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(ctx, argv)));
    let mut reply = match res {
        Ok(r) => r,
        Err(_) => {
            log::error!("command {} panicked inside {}", cmd.name, saved.name);
            Reply::Error(format!("ERR internal error while running '{}'", cmd.name))
        }
    };
    ctx.watch_touch(snap, argv, &reply);
    if ctx.session.tracking.on && cmd.has(flags::READONLY) {
        tracking::remember(ctx.shared, ctx.session, cmd, argv, ctx.effects);
    }
    server::feed_monitors(ctx, argv);
    if let Some(req) = ctx.session.block.take() {
        reply = if matches!(cmd.name, "blmove" | "brpoplpush") { Reply::Nil } else { req.on_timeout };
    } else if cmd.has(flags::WRITE) && ctx.shared.nblocked.load(std::sync::atomic::Ordering::Acquire) > 0 {
        let db = ctx.session.db;
        cmd.for_each_key_pos(argv, |p| written.push((db, argv[p].to_vec())));
    }
    let ns = start.elapsed().as_nanos() as u64;
    let usec = ns / 1000;
    slowlog_record(ctx.shared, ctx.session, cmd, argv, usec, ctx.now);
    let st = &mut ctx.stats.cmd[id];
    st.calls += 1;
    st.usec += usec;
    if ctx.shared.enc.latency_tracking.load(Relaxed) {
        ctx.stats.lat[id].get_or_insert_with(Default::default).observe_ns(ns);
    }
    if matches!(reply, Reply::Error(_)) {
        st.failed += 1;
    }
    ctx.write_end(mark, argv, &reply);
    ctx.cmd = saved;
    reply
}

/// Takes the stripes `argv` (run as `ctx.cmd`) needs that are not held yet, for writing
/// (exclusive scripts: called with every worker gate held, so any order is safe).
pub(crate) fn lock_more(ctx: &mut Ctx, argv: &[&[u8]]) {
    for (d, s) in missing_stripes(ctx, argv) {
        acquire(ctx, d, s, true);
    }
}

/// The stripes `argv` (run as `ctx.cmd`) needs that are not held yet, in order.
fn missing_stripes(ctx: &Ctx, argv: &[&[u8]]) -> Vec<(usize, usize)> {
    let mut want = Vec::new();
    plan_stripes(ctx, argv, &mut want);
    want.sort_unstable();
    want.dedup();
    want.retain(|&(d, s)| ctx.locks.find(d, s).is_none());
    want
}

/// How long a parallel script waits for a stripe it did not declare before it gives up
/// (then its run is rolled back and repeated exclusively). Short: a wait that long is
/// either real contention or a lock cycle, which only giving up breaks.
pub const PARALLEL_LOCK_WAIT: std::time::Duration = std::time::Duration::from_micros(500);

/// Like `lock_more` for a parallel script, which holds stripes other commands may be
/// waiting for: each missing stripe is waited for at most `PARALLEL_LOCK_WAIT`, gets an
/// undo record, and false means one could not be had (the run must be abandoned).
pub(crate) fn try_lock_more(ctx: &mut Ctx, argv: &[&[u8]]) -> bool {
    let shared = ctx.shared;
    for (d, s) in missing_stripes(ctx, argv) {
        let Some(mut g) = shared.keyspace.dbs[d].stripes[s].try_write_for(PARALLEL_LOCK_WAIT) else {
            ctx.stats.lock_contended += 1;
            return false;
        };
        g.undo_begin();
        let at = ctx.locks.held.partition_point(|(hd, hs, _)| (*hd, *hs) < (d, s));
        ctx.locks.held.insert(at, (d, s, Guard::W(g)));
    }
    shared.worker_live[ctx.stats.idx].active_locks.store(ctx.locks.held.len() as u64, Relaxed);
    true
}

/// Watched keys in stripes this command holds, with their state before it runs
/// (None when nobody watches anything).
pub struct WatchSnap(Vec<(usize, Vec<u8>, usize, u64, bool)>);

impl Ctx<'_> {
    /// Before a write: records, for every watched key in a held stripe, the stripe's
    /// modification counter and whether the key exists.
    pub fn watch_snapshot(&self) -> Option<WatchSnap> {
        let cmd = self.cmd;
        if !(cmd.has(flags::WRITE) || cmd.has(flags::LOCK_WRITE))
            || self.shared.nwatching.load(std::sync::atomic::Ordering::Acquire) == 0
        {
            return None;
        }
        let reg = self.shared.watches.lock();
        let mut v = Vec::new();
        for (db, key) in reg.keys() {
            let s = self.shared.keyspace.dbs[*db].stripe_of(key);
            if let Some(i) = self.locks.find(*db, s) {
                let st = self.held_stripe(i);
                let exists = st.get(key, self.now).is_some();
                v.push((*db, key.clone(), i, st.mods, exists));
            }
        }
        Some(WatchSnap(v))
    }

    /// After a write (locks still held): flags the watchers of every key it modified
    /// (Redis's signalModifiedKey -> touchWatchedKey).
    pub fn watch_touch(&self, snap: Option<WatchSnap>, argv: &[&[u8]], reply: &Reply) {
        let Some(WatchSnap(v)) = snap else { return };
        // Redis checks before it writes: a command answering an error changed nothing.
        if matches!(reply, Reply::Error(_)) {
            return;
        }
        let cmd = self.cmd;
        let wide = cmd.has(flags::ALL_STRIPES) || cmd.has(flags::DB_STRIPES);
        let reg = self.shared.watches.lock();
        for (db, key, i, mods, existed) in v {
            let st = self.held_stripe(i);
            if st.mods == mods {
                continue;
            }
            let exists = st.get(&key, self.now).is_some();
            let mut named = false;
            if db == self.session.db {
                cmd.for_each_key_pos(argv, |p| named |= argv[p] == key.as_slice());
            }
            if existed != exists || (named && !wide) || (wide && (existed || exists)) {
                match self.watch_deferred.borrow_mut().as_mut() {
                    Some(later) => later.push((db, key)),
                    None => reg.touch(db, &key),
                }
            }
        }
    }

    /// Moves the keys expiry removed from the held stripes into `expired_seen`.
    pub fn drain_expired(&mut self) {
        for (db, _, g) in self.locks.held.iter_mut() {
            if let Guard::W(g) = g {
                for k in g.take_expired() {
                    self.expired_seen.push((*db, k.as_slice().to_vec()));
                }
            }
        }
    }

    /// Logs a write that changed the dataset to the AOF (locks still held). Inside EXEC
    /// the records wait in the session and are appended as one MULTI/EXEC.
    pub fn log_to_aof(&mut self, argv: &[&[u8]], reply: &Reply, changed: bool) {
        if !self.shared.aof.on.load(Relaxed) {
            return;
        }
        let mut recs = Vec::new();
        // Keys the command found expired (and removed) come first, as DELs.
        self.drain_expired();
        for (db, k) in self.expired_seen.drain(..) {
            recs.push(crate::persistence::aof::record(db, &[&b"DEL"[..], &k]));
        }
        if changed {
            aof::records(self, argv, reply, &mut recs);
        }
        if recs.is_empty() {
            return;
        }
        if let Some(tx) = self.session.aof_tx.as_mut() {
            tx.extend(recs);
        } else {
            let at = self.shared.aof.append(&recs, false);
            self.effects.aof_offset = self.effects.aof_offset.max(at);
        }
    }

    /// `key` in `db` as stored (expired or not), if its stripe is held.
    pub fn held_peek(&self, db: usize, key: &[u8]) -> Option<&crate::store::Item> {
        let i = self.locks.find(db, self.shared.keyspace.dbs[db].stripe_of(key))?;
        self.held_stripe(i).peek(key)
    }

    /// True when this command holds the lock of `key`'s stripe in `db`.
    pub fn holds(&self, db: usize, key: &[u8]) -> bool {
        self.locks.find(db, self.shared.keyspace.dbs[db].stripe_of(key)).is_some()
    }

    /// Sum of the change counters of every stripe this command holds.
    fn held_mods(&self) -> u64 {
        (0..self.locks.count()).map(|i| self.held_stripe(i).mods).sum()
    }

    /// How much a write changed (Redis's server.dirty increment): 0 when no held stripe
    /// changed, else the number of changes, at most one per key argument (at least 1).
    pub fn dirty_since(&self, before: u64, argv: &[&[u8]]) -> u64 {
        let delta = self.held_mods().wrapping_sub(before);
        if delta == 0 {
            return 0;
        }
        let mut keys = 0u64;
        self.cmd.for_each_key_pos(argv, |_| keys += 1);
        delta.min(keys.max(1))
    }

    /// Before a write command runs (its locks held): the baseline `write_end` compares
    /// with. None for other commands.
    pub fn write_begin(&self, argv: &[&[u8]]) -> Option<WriteMark> {
        if !self.cmd.has(flags::WRITE) {
            return None;
        }
        Some(WriteMark { mods: self.held_mods(), existed: notify::before(self, argv) })
    }

    /// After a write command ran (locks still held): the dirty counter, its keyspace
    /// events and its AOF records (keys it found expired are announced and logged even
    /// when it answered an error).
    pub fn write_end(&mut self, mark: Option<WriteMark>, argv: &[&[u8]], reply: &Reply) {
        let Some(mark) = mark else { return };
        let mut changed = 0;
        if !matches!(reply, Reply::Error(_)) {
            changed = self.dirty_since(mark.mods, argv);
            self.shared.worker_live[self.stats.idx].dirty.fetch_add(changed, Relaxed);
        }
        notify::after(self, argv, reply, mark.existed, changed > 0);
        self.log_to_aof(argv, reply, changed > 0);
    }

    fn held_stripe(&self, i: usize) -> &Stripe {
        match &self.locks.held[i].2 {
            Guard::R(g) => g,
            Guard::W(g) => g,
        }
    }

    /// Runs `f` on stripe `s` of `db`, using the lock this command already holds on it
    /// or taking a read lock for the call (SCAN, INFO: never deadlocks inside EXEC).
    ///
    /// A parallel script must not wait for a stripe while it holds others (it could
    /// deadlock with a command that holds that one and waits for one of the script's): it
    /// waits briefly, then gives up, sets `lock_missed` and shows `f` an empty stripe.
    pub fn with_stripe<R>(&self, db: usize, s: usize, f: impl FnOnce(&Stripe) -> R) -> R {
        match self.locks.find(db, s) {
            Some(i) => f(self.held_stripe(i)),
            None if self.parallel => match self.shared.keyspace.dbs[db].stripes[s].try_read_for(PARALLEL_LOCK_WAIT) {
                Some(g) => f(&g),
                None => {
                    self.lock_missed.set(true);
                    f(&Stripe::detached())
                }
            },
            None => f(&self.shared.keyspace.dbs[db].stripes[s].read()),
        }
    }
}

/// A plan function's helper: the stripe index of `key` in `db`.
pub fn plan_key(ctx: &Ctx, db: usize, key: &[u8]) -> (usize, usize) {
    (db, ctx.shared.keyspace.dbs[db].stripe_of(key))
}

/// Runs one command: resolve, admit, lock, execute (panics caught), record stats.
pub fn execute(
    shared: &Shared,
    session: &mut Session,
    stats: &mut WorkerStats,
    effects: &mut Effects,
    now: i64,
    argv: &[&[u8]],
    scratch: &mut Vec<(usize, usize)>,
) -> Reply {
    let r = execute_inner(shared, session, stats, effects, now, argv, scratch);
    // CLIENT CACHING lasts for one command: any other (even one refused), unless a
    // transaction is open (Redis's resetClient).
    if session.caching && session.multi.is_none() && !eq_ic(argv[0], "client") {
        session.caching = false;
    }
    r
}

fn execute_inner(
    shared: &Shared,
    session: &mut Session,
    stats: &mut WorkerStats,
    effects: &mut Effects,
    now: i64,
    argv: &[&[u8]],
    scratch: &mut Vec<(usize, usize)>,
) -> Reply {
    let t = table();
    let id = match t.resolve(argv) {
        Ok(id) => id,
        Err(e) => {
            if let Some(id) = t.lookup(argv[0]) {
                stats.cmd[id].rejected += 1;
            }
            count_error(stats, &e);
            // EXEC refused (arity) aborts the transaction (Redis's execCommandAbort).
            if t.lookup(argv[0]).is_some_and(|i| t.cmds[i].name == "exec") {
                transaction::reset(shared, session);
                let why = e.strip_prefix("ERR ").unwrap_or(&e);
                return Reply::Error(format!("EXECABORT Transaction discarded because of: {why}"));
            }
            // A command that cannot be queued dooms the transaction (EXECABORT).
            if session.multi.is_some() {
                session.multi_error = true;
            }
            return Reply::Error(e);
        }
    };
    let cmd = t.cmds[id];
    let Some(run) = cmd.run else {
        return Reply::Error(errors::arity(cmd.name));
    };
    // Redis 7.0 checks authentication right after the command lookup and arity, then
    // ACL permissions (before a transaction queues the command).
    let denied = if !session.authenticated && !cmd.has(flags::NO_AUTH) && !shared.default_nopass.load(Relaxed) {
        Some("NOAUTH Authentication required.".to_string())
    } else if !shared.acl_open.load(Relaxed) {
        acl::check_denied(shared, &session.user, id, cmd, argv).err().map(|d| {
            acl::log_denied(shared, session, &d, session.multi.is_some(), cmd.name);
            d.noperm()
        })
    } else {
        None
    };
    if let Some(e) = denied {
        stats.cmd[id].rejected += 1;
        if cmd.name == "exec" {
            transaction::reset(shared, session);
            count_error(stats, "EXECABORT");
            return Reply::Error(format!("EXECABORT Transaction discarded because of: {e}"));
        }
        count_error(stats, &e);
        if session.multi.is_some() {
            session.multi_error = true;
        }
        return Reply::Error(e);
    }
    if session.subs > 0 && session.proto == Proto::Resp2 && !pubsub::allowed_when_subscribed(cmd) {
        let name = cmd.name;
        return Reply::Error(format!(
            "ERR Can't execute '{name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
        ));
    }
    if shared.enc.maxmemory.load(Relaxed) > 0 && !evict::perform(shared, effects, now) && cmd.has(flags::DENYOOM) {
        if session.multi.is_some() {
            session.multi_error = true;
        }
        count_error(stats, evict::OOM);
        return Reply::err(evict::OOM);
    }
    if cmd.has(flags::WRITE) || cmd.name == "ping" {
        if let Some(e) = server::writes_denied(shared) {
            if session.multi.is_some() {
                session.multi_error = true;
            }
            count_error(stats, &e);
            return Reply::Error(e);
        }
    }
    if shared.pause_end.load(Relaxed) > 0 && !session.serving_block && connection::postpones(shared, session, cmd, now)
    {
        let end = shared.pause_end.load(Relaxed);
        session.block = Some(BlockRequest {
            keys: Vec::new(),
            deadline: Some(end),
            on_timeout: Reply::Nil,
            rewrite: None,
            postpone: true,
        });
        return Reply::Nil;
    }
    if session.multi.is_some() && !transaction::runs_in_multi(cmd) {
        return transaction::queue(session, cmd, argv);
    }
    if session.subs > 0 && session.proto == Proto::Resp2 && cmd.name == "ping" {
        return pubsub::subscribed_ping(argv);
    }
    session.info.last_cmd.store(id + 1, std::sync::atomic::Ordering::Relaxed);
    let start = std::time::Instant::now();
    // Every command holds its worker's gate shared. Scripts first run in parallel like
    // that; one that must give up (and EXEC with a script, and every script under
    // `script-parallel no`) takes all of them, so it runs alone (see scripting.rs).
    let mut world = scripting::needs_world(shared, cmd, session);
    let reply = loop {
        let busy_exit = !cmd.has(flags::ALLOW_BUSY);
        let Some(gate) = take_gate(shared, stats.idx, world, busy_exit) else {
            break Reply::Error(shared.script.busy_error());
        };
        let mut ctx = Ctx {
            shared,
            session,
            stats,
            now,
            cmd,
            locks: Locks::default(),
            effects,
            stale: Default::default(),
            expired_seen: Vec::new(),
            misses: Default::default(),
            changed_hint: None,
            extra_events: Vec::new(),
            parallel: !world && cmd.has(flags::SCRIPT),
            busy_exit,
            gave_up: false,
            rerun_exclusive: false,
            lock_missed: Default::default(),
            watch_deferred: Default::default(),
        };
        let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            lock_plan(&mut ctx, argv, scratch);
            if ctx.gave_up {
                ctx.release_locks();
                return Reply::Error(ctx.shared.script.busy_error());
            }
            // A script's own later waits (keys it touches as it runs) never give up.
            ctx.busy_exit = false;
            let snap = ctx.watch_snapshot();
            let mark = ctx.write_begin(argv);
            let r = run(&mut ctx, argv);
            if ctx.rerun_exclusive {
                // The script rolled its run back: nothing happened, start over.
                ctx.release_locks();
                return r;
            }
            ctx.write_end(mark, argv, &r);
            ctx.watch_touch(snap, argv, &r);
            if !ctx.session.serving_block {
                server::feed_monitors(&mut ctx, argv);
            }
            ctx.release_locks();
            // Written keys may serve parked clients (checked only while any are parked).
            // A command that parked its client wrote nothing (and must not re-signal itself).
            if cmd.has(flags::WRITE)
                && ctx.session.block.is_none()
                && ctx.shared.nblocked.load(std::sync::atomic::Ordering::Acquire) > 0
            {
                let db = ctx.session.db;
                let ready = &mut ctx.effects.ready;
                cmd.for_each_key_pos(argv, |p| ready.push_back((db, argv[p].to_vec())));
            }
            let stale_keys: Vec<(usize, Vec<u8>)> = ctx.stale.get_mut().drain(..).collect();
            let misses: Vec<(usize, Vec<u8>)> = ctx.misses.get_mut().drain(..).collect();
            // While CLIENT PAUSE is on, expired keys read as missing but stay (Redis's
            // expireIfNeeded under a pause).
            let paused = ctx.shared.pause_end.load(Relaxed) > now;
            for (db, key) in stale_keys.into_iter().filter(|_| !paused) {
                let d = &ctx.shared.keyspace.dbs[db];
                let mut st = d.stripes[d.stripe_of(&key)].write();
                if st.expire_if_needed(&key, now) {
                    let at = notify::expired(ctx.shared, &mut ctx.effects.pushes, db, &st.take_expired());
                    ctx.effects.aof_offset = ctx.effects.aof_offset.max(at);
                }
            }
            for (db, key) in misses {
                notify::emit(ctx.shared, &mut ctx.effects.pushes, db, crate::config::events::KEY_MISS, "keymiss", &key);
            }
            // After the read's own lazy expirations (which invalidate), as in Redis.
            if ctx.session.tracking.on && cmd.has(flags::READONLY) {
                tracking::remember(ctx.shared, ctx.session, cmd, argv, ctx.effects);
            }
            r
        }));
        let r = match res {
            Ok(r) => r,
            Err(p) => {
                let msg = p
                    .downcast_ref::<String>()
                    .map(|s| s.as_str())
                    .or_else(|| p.downcast_ref::<&str>().copied())
                    .unwrap_or("unknown panic");
                log::error!("command {} panicked: {}", cmd.name, msg);
                if ctx.parallel {
                    // A parallel script stopped half way: undo what it did.
                    ctx.end_undo(true);
                }
                Reply::Error(format!("ERR internal error while running '{}'", cmd.name))
            }
        };
        let again = ctx.rerun_exclusive;
        drop(ctx);
        drop(gate);
        if again && !world {
            world = true;
            continue;
        }
        break r;
    };
    let ns = start.elapsed().as_nanos() as u64;
    slowlog_record(shared, session, cmd, argv, ns / 1000, now);
    let st = &mut stats.cmd[id];
    st.calls += 1;
    st.usec += ns / 1000;
    if shared.enc.latency_tracking.load(Relaxed) {
        st.hist.observe_ns(ns);
        stats.lat[id].get_or_insert_with(Default::default).observe_ns(ns);
    }
    stats.commands += 1;
    if let Reply::Error(e) = &reply {
        stats.cmd[id].failed += 1;
        count_error(stats, e);
    }
    reply
}

/// Adds a command to SLOWLOG when it ran for at least `slowlog-log-slower-than` us.
/// Argument positions Redis 7.0 redacts in SLOWLOG and MONITOR: AUTH's, HELLO's
/// `AUTH user pass`, and the value of CONFIG SET requirepass.
pub fn redacted(cmd: &Command, argv: &[&[u8]]) -> Vec<usize> {
    match cmd.name {
        "auth" => (1..argv.len()).collect(),
        "hello" => {
            let mut v = Vec::new();
            let mut i = 2;
            while i < argv.len() {
                if eq_ic(argv[i], "auth") && i + 2 < argv.len() {
                    v.extend([i + 1, i + 2]);
                    i += 3;
                } else {
                    i += 1;
                }
            }
            v
        }
        "config|set" => (2..argv.len()).step_by(2).filter(|&i| eq_ic(argv[i], "requirepass")).map(|i| i + 1).collect(),
        _ => Vec::new(),
    }
}

pub fn slowlog_record(shared: &Shared, session: &Session, cmd: &Command, argv: &[&[u8]], usec: u64, now: i64) {
    let lat = shared.enc.latency_threshold.load(Relaxed);
    if lat > 0 && usec / 1000 >= lat {
        let event = if cmd.has(flags::FAST) { "fast-command" } else { "command" };
        server::latency_add(shared, event, usec / 1000, now);
    }
    let threshold = shared.enc.slowlog_log_slower_than.load(Relaxed);
    if threshold < 0 || (usec as i64) < threshold || cmd.has(flags::SKIP_SLOWLOG) {
        return;
    }
    const MAX_ARGC: usize = 32;
    const MAX_STRING: usize = 128;
    let n = argv.len().min(MAX_ARGC);
    let mut args: Vec<Vec<u8>> = Vec::with_capacity(n);
    let secret = redacted(cmd, argv);
    for (j, a) in argv.iter().take(n).enumerate() {
        if secret.contains(&j) {
            args.push(b"(redacted)".to_vec());
        } else if j == MAX_ARGC - 1 && argv.len() != MAX_ARGC {
            args.push(format!("... ({} more arguments)", argv.len() - MAX_ARGC + 1).into_bytes());
        } else if a.len() > MAX_STRING {
            let mut v = a[..MAX_STRING].to_vec();
            v.extend_from_slice(format!("... ({} more bytes)", a.len() - MAX_STRING).as_bytes());
            args.push(v);
        } else {
            args.push(a.to_vec());
        }
    }
    let e = state::SlowEntry {
        id: 0,
        time: now / 1000,
        usec,
        argv: args,
        addr: session.info.addr.clone(),
        name: session.info.name.lock().clone(),
    };
    let max = shared.enc.slowlog_max_len.load(Relaxed) as usize;
    shared.slowlog.lock().push(e, max);
}

pub fn count_error(stats: &mut WorkerStats, e: &str) {
    let code = e.split(' ').next().unwrap_or("ERR");
    if let Some(c) = stats.errors.get_mut(code) {
        *c += 1;
    } else {
        stats.errors.insert(code.to_string(), 1);
    }
}

/// Runs `f` on the collection at `key` for reading (Redis's lookupKeyRead: counts a
/// keyspace hit or miss); `missing` answers for a missing key, WRONGTYPE for another type.
pub fn read_coll<T: crate::store::value::Collection>(
    ctx: &mut Ctx,
    key: &[u8],
    missing: impl FnOnce() -> Reply,
    f: impl FnOnce(&T) -> Reply,
) -> Reply {
    let now = ctx.now;
    let (found, r) = match ctx.get(key) {
        None => (false, missing()),
        Some(it) => {
            it.touch(now);
            match T::of(&it.val) {
                Some(c) => (true, f(c)),
                None => (true, Reply::err(errors::WRONGTYPE)),
            }
        }
    };
    ctx.hit(found);
    r
}

/// Runs `f` on the collection at `key` for writing. A missing key answers `missing` if
/// given, else `f` runs on a new collection that is stored if it ends up non-empty. A
/// collection left empty is deleted (Redis never keeps empty collections).
pub fn write_coll<T: crate::store::value::Collection>(
    ctx: &mut Ctx,
    key: &[u8],
    missing: Option<Reply>,
    f: impl FnOnce(&mut T) -> Reply,
) -> Reply {
    let now = ctx.now;
    let st = ctx.stripe_mut(key);
    match st.get_mut(key, now) {
        Some(it) => {
            it.touch(now);
            let Some(c) = T::of_mut(&mut it.val) else { return Reply::err(errors::WRONGTYPE) };
            let r = f(c);
            if c.is_empty_coll() {
                st.remove(key);
            }
            r
        }
        None => match missing {
            Some(r) => r,
            None => {
                let mut c = T::default();
                let r = f(&mut c);
                if !c.is_empty_coll() {
                    st.set(key, c.into_value(), None, now);
                }
                r
            }
        },
    }
}

/// Case-insensitive ASCII comparison of an argument with an option name.
#[inline]
pub fn eq_ic(a: &[u8], b: &str) -> bool {
    a.eq_ignore_ascii_case(b.as_bytes())
}

/// Redis's getTimeoutFromObjectOrReply for blocking commands: seconds as a float,
/// truncated to ms; 0 waits forever (None), otherwise the absolute deadline.
pub fn parse_timeout(a: &[u8], now: i64) -> Result<Option<i64>, Reply> {
    let secs = crate::store::num::parse_f64(a)
        .filter(|v| v.is_finite())
        .ok_or_else(|| Reply::err("ERR timeout is not a float or out of range"))?;
    let ms = (secs * 1000.0).trunc();
    if ms < 0.0 {
        return Err(Reply::err("ERR timeout is negative"));
    }
    if ms == 0.0 {
        return Ok(None);
    }
    if ms >= (i64::MAX - now) as f64 {
        return Err(Reply::err("ERR timeout is out of range"));
    }
    Ok(Some(now + ms as i64))
}

/// Redis's getIntFromObjectOrReply: an i64 that must also fit in 32 bits.
pub fn parse_i32(a: &[u8]) -> Result<i32, Reply> {
    let v = parse_int(a)?;
    i32::try_from(v).map_err(|_| Reply::err("ERR value is out of range, value must between -2147483648 and 2147483647"))
}

/// Parses an integer argument the way Redis's getLongLongFromObject does.
pub fn parse_int(a: &[u8]) -> Result<i64, Reply> {
    crate::store::parse_i64_strict(a).ok_or_else(|| Reply::err(errors::NOT_INT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_consistent() {
        let t = table();
        let mut seen = std::collections::HashSet::new();
        for c in &t.cmds {
            assert!(seen.insert(c.name), "{} declared twice", c.name);
            assert_eq!(c.name, c.name.to_lowercase(), "names are lower case");
            assert!(c.arity != 0, "{}: arity 0", c.name);
            assert!(!(c.has(flags::WRITE) && c.has(flags::READONLY)), "{}", c.name);
            if c.run.is_none() {
                assert!(!c.subs.is_empty(), "{} has no handler", c.name);
            }
            for s in c.subs {
                assert!(s.name.starts_with(&format!("{}|", c.name)), "{}", s.name);
            }
            if let Some(k) = c.keys {
                assert!(k.first > 0 && k.step > 0, "{}", c.name);
                // A variadic command may take no key at all (SUNSUBSCRIBE: arity -1, keys 1..).
                assert!(c.arity.abs() > k.first || c.arity == -1, "{}: key beyond arity", c.name);
            }
            assert!(!c.summary.is_empty(), "{} has no summary", c.name);
            assert!(!c.group.is_empty());
            assert!(t.lookup(c.name.as_bytes()) == t.lookup(c.name.to_uppercase().as_bytes()));
        }
    }

    #[test]
    fn resolve_errors_match_redis() {
        let t = table();
        assert_eq!(
            t.resolve(&[b"nosuch", b"a", b"b"]).unwrap_err(),
            "ERR unknown command 'nosuch', with args beginning with: 'a' 'b' "
        );
        assert_eq!(t.resolve(&[b"GET"]).unwrap_err(), "ERR wrong number of arguments for 'get' command");
        assert_eq!(t.resolve(&[b"config", b"nope"]).unwrap_err(), "ERR unknown subcommand 'nope'. Try CONFIG HELP.");
        assert_eq!(t.resolve(&[b"config"]).unwrap_err(), "ERR wrong number of arguments for 'config' command");
        assert_eq!(
            t.resolve(&[b"config", b"get"]).unwrap_err(),
            "ERR wrong number of arguments for 'config|get' command"
        );
    }
}
