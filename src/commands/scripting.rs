//! Lua scripting (Redis 7.0's eval.c / script_lua.c): EVAL, EVALSHA, EVAL_RO, EVALSHA_RO
//! and SCRIPT (LOAD EXISTS FLUSH KILL HELP), with one Lua 5.1 VM per worker thread.
//!
//! Owns: the per-worker VMs and their compiled functions, the sandbox, the `redis`
//! library (call, pcall, error_reply, status_reply, sha1hex, log, setresp, set_repl,
//! replicate_commands, the LOG_* and REPL_* constants), and the Lua <-> RESP conversions.
//!
//! Must hold:
//! - atomicity, in one of two ways (DESIGN.md section 5):
//!   - **parallel** (the first try, `script-parallel yes`): the script holds its own
//!     worker's gate, like any command, and the write locks of its declared keys' stripes,
//!     taken in order. A key it did not declare in a stripe it does not hold is taken
//!     without waiting more than `PARALLEL_LOCK_WAIT` (strict two-phase locking: every
//!     stripe stays held to the end, so the run is serializable; the bounded wait breaks
//!     any lock cycle). Every held stripe keeps an undo record, and everything else the
//!     run causes (keyspace events, pub/sub, tracking, AOF records, WATCH flags, wakeups)
//!     waits in the run until it commits. If the run cannot go on (a busy undeclared
//!     stripe, a keyspace-wide command, a write to a value too big to copy cheaply), it
//!     is rolled back and abandoned before anyone saw anything, and run again exclusively;
//!     that script (by sha) or function (by name) then always runs exclusively on this
//!     worker;
//!   - **exclusive**: the script holds every worker's gate (`Shared::gates`), so no other
//!     command runs anywhere while it does, exactly as in single-threaded Redis; it takes
//!     the stripes of each key it touches as it goes, which cannot deadlock because the
//!     only other stripe holders then are background threads that hold one at a time;
//! - either way, a script is never refused for touching a key it did not declare;
//! - the sandbox: scripts cannot create or change globals ("Attempt to modify a readonly
//!   table"), reading an unknown global is an error, and os, io, debug, dofile, loadfile,
//!   require, getfenv and setfenv are gone; `loadstring` compiles text only, in the sandbox;
//! - replies and errors are byte-identical to Redis 7.0's, including the
//!   `script: <sha>, on @user_script:<line>.` suffix of errors raised by scripts;
//! - a script's writes reach the AOF wrapped in MULTI/EXEC (effects replication), and
//!   a SELECT inside a script does not change the caller's database.
//!
//! A script running past busy-reply-threshold is marked busy: the reactor then answers
//! other clients BUSY itself (as Redis does; an exclusive script holds every worker) and
//! takes SCRIPT KILL (stops a script that wrote nothing, at its next hook) and SHUTDOWN
//! NOSAVE. Each worker has its own slot in `Shared::script`. A command already waiting
//! for a gate or a stripe when a script turns busy gives up with BUSY (commands::take_gate
//! and acquire poll every `BUSY_POLL`).
//!
//! The `bit`, `cjson`, `cmsgpack` and `struct` libraries are in scripting_libs.rs, FUNCTION
//! and FCALL in functions.rs.
//!
//! math.random / math.randomseed are Redis's (`lrand48`: one sequence per server), and
//! every table reachable from the globals is read-only (`protect_tables`).

use super::flags::*;
use super::state::Shared;
use super::{table, Command, Ctx};
use crate::protocol::{Proto, Reply};
use mlua::{Function, HookTriggers, Lua, MultiValue, Table, Value, VmState};
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

/// The VM's per-call lookups (by sha or function name) with a fast hasher.
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
type FastSet<K> = HashSet<K, foldhash::fast::RandomState>;
use std::sync::atomic::Ordering;
use std::sync::Arc;

const G: &str = "scripting";

pub static COMMANDS: &[Command] = &[
    Command::new("eval", G, -3, SCRIPT | NOSCRIPT | SKIP_MONITOR | MAY_REPLICATE | STALE | LOCK_WRITE, eval)
        .keynum(2, 0, 1, 1, "RW access update")
        .doc("Execute a Lua script server side", "2.6.0", "Depends on the script that is executed.")
        .args("script numkeys [key [key ...]] [arg [arg ...]]"),
    Command::new("evalsha", G, -3, SCRIPT | NOSCRIPT | SKIP_MONITOR | MAY_REPLICATE | STALE | LOCK_WRITE, evalsha)
        .keynum(2, 0, 1, 1, "RW access update")
        .doc("Execute a Lua script server side", "2.6.0", "Depends on the script that is executed.")
        .args("sha1 numkeys [key [key ...]] [arg [arg ...]]"),
    Command::new("eval_ro", G, -3, SCRIPT | NOSCRIPT | SKIP_MONITOR | STALE | READONLY | LOCK_WRITE, eval_ro)
        .keynum(2, 0, 1, 1, "RO access")
        .doc("Execute a read-only Lua script server side", "7.0.0", "Depends on the script that is executed.")
        .args("script numkeys [key [key ...]] [arg [arg ...]]"),
    Command::new("evalsha_ro", G, -3, SCRIPT | NOSCRIPT | SKIP_MONITOR | STALE | READONLY | LOCK_WRITE, evalsha_ro)
        .keynum(2, 0, 1, 1, "RO access")
        .doc("Execute a read-only Lua script server side", "7.0.0", "Depends on the script that is executed.")
        .args("sha1 numkeys [key [key ...]] [arg [arg ...]]"),
    Command::container("script", G, SCRIPT_SUBS).doc(
        "A container for Lua scripts management commands",
        "2.6.0",
        "Depends on subcommand.",
    ),
];

static SCRIPT_SUBS: &[Command] = &[
    Command::new("script|load", G, 3, NOSCRIPT | STALE, script_load)
        .doc(
            "Load a server-side Lua script to the script cache",
            "2.6.0",
            "O(N) with N being the length in bytes of the script body.",
        )
        .args("script"),
    Command::new("script|exists", G, -3, NOSCRIPT | STALE, script_exists)
        .doc(
            "Check existence of scripts in the script cache.",
            "2.6.0",
            "O(N) with N being the number of scripts to check (so checking a single script is an O(1) operation).",
        )
        .args("sha1 [sha1 ...]"),
    Command::new("script|flush", G, -2, NOSCRIPT, script_flush)
        .doc("Remove all scripts from the script cache", "2.6.0", "O(N) with N being the number of scripts in cache")
        .args("[ASYNC|SYNC]"),
    Command::new("script|kill", G, 2, NOSCRIPT | ALLOW_BUSY, script_kill).doc(
        "Kill the script currently in execution.",
        "2.6.0",
        "O(1)",
    ),
    Command::new("script|help", G, 2, LOADING | STALE, script_help).doc(
        "Show helpful text about the different subcommands",
        "5.0.0",
        "O(1)",
    ),
];

/// True for commands that must start with every worker gate held: EXEC when its
/// transaction queued a script, and scripts (flag SCRIPT) under `script-parallel no`.
/// Other scripts start in parallel.
pub fn needs_world(shared: &Shared, cmd: &Command, session: &super::state::Session) -> bool {
    (cmd.has(SCRIPT) && !shared.enc.script_parallel.load(Ordering::Relaxed))
        || (session.multi_script && cmd.name == "exec")
}

// ---------------------------------------------------------------------------------------
// The VM
// ---------------------------------------------------------------------------------------

/// Lua run once per VM: the sandboxed environment every script runs in.
const BOOTSTRAP: &str = r#"
local errtext = ...
local G = _G
local rawget, rawset, error, tostring, setfenv, type = rawget, rawset, error, tostring, setfenv, type
-- An error raised by a function written in Rust reaches Lua as an error object. A
-- script's pcall sees its text (Redis's pcall turns error tables into their text), an
-- xpcall handler what Redis's would: redis.call's error table {err = text}, or the text.
local opcall, oxpcall = pcall, xpcall
local function fix(ok, ...)
  if ok then return ok, ... end
  return ok, errtext((...), false)
end
G.pcall = function(f, ...) return fix(opcall(f, ...)) end
G.xpcall = function(f, h) return oxpcall(f, function(e) return h(errtext(e, true)) end) end
local env = {}
setmetatable(env, {
  __index = function(t, k)
    local v = rawget(G, k)
    if v == nil then
      error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
    end
    return v
  end,
  __newindex = function(t, k, v) error("Attempt to modify a readonly table", 2) end,
  __metatable = false,
})
rawset(env, "_G", env)
local ls = loadstring
rawset(env, "loadstring", function(s, name)
  if type(s) == "string" and s:byte(1) == 27 then return nil, "bytecode is not allowed" end
  local f, e = ls(s, name)
  if f then setfenv(f, env) end
  return f, e
end)
for _, name in ipairs({"os", "io", "debug", "dofile", "loadfile", "require", "module", "package", "getfenv", "setfenv", "newproxy", "gcinfo"}) do
  G[name] = nil
end
return env, setfenv
"#;

pub(super) struct Vm {
    pub(super) lua: Lua,
    pub(super) env: Table,
    pub(super) redis: Table,
    pub(super) setfenv: Function,
    xpcall: Function,
    handler: Function,
    /// `function() return cb(k, a) end` (FCALL passes KEYS and ARGV as arguments).
    pub(super) bind: Function,
    /// Compiled scripts by sha1, with their shebang's no-writes flag.
    funcs: FastMap<String, (Function, bool)>,
    gen: u64,
    /// FUNCTION callbacks by lowercased function name, as of `Shared::function_gen` ==
    /// `fgen`: (the name as registered, its no-writes flag, the callback).
    pub(super) fcallbacks: FastMap<String, (String, bool, Function)>,
    pub(super) fgen: u64,
    /// Scripts (by sha) and functions (by name) whose parallel run was rolled back once:
    /// they always run exclusively on this worker.
    exclusive_scripts: FastSet<String>,
    pub(super) exclusive_functions: FastSet<String>,
}

thread_local! {
    static VM: RefCell<Option<Vm>> = const { RefCell::new(None) };
    /// The script run in progress on this thread (null otherwise): what redis.call and
    /// friends act on.
    static CURRENT: std::cell::Cell<*mut Run<'static, 'static>> = const { std::cell::Cell::new(std::ptr::null_mut()) };
    /// This thread's slot in `Shared::script` (its worker index), for the VM's hook.
    static SLOT: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    /// The parallel run in progress was abandoned: every redis.* call and the hook raise,
    /// and its result is thrown away.
    static ABANDONED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The error an abandoned parallel run's redis.call and hook raise (never seen by a
/// client: the run is rolled back and repeated exclusively).
fn abandoned() -> mlua::Error {
    raise(ABANDONED_TEXT.as_bytes().to_vec())
}

const ABANDONED_TEXT: &str = "ERR parallel script run abandoned";

/// Largest value (by `Value::copy_cost`) a parallel script may write: its undo record
/// copies it first. Writes to bigger values make the script run exclusively.
const UNDO_COPY_LIMIT: usize = 64 * 1024;

/// Runs `f` on the script run in progress.
fn with_run<R>(f: impl FnOnce(&mut Run<'static, 'static>) -> mlua::Result<R>) -> mlua::Result<R> {
    let p = CURRENT.with(|c| c.get());
    if p.is_null() {
        return Err(raise(b"ERR this redis function is only available while a script runs".to_vec()));
    }
    // SAFETY: CURRENT is set by run_script to its own `run` for exactly the duration of
    // the Lua call that invoked us and cleared right after; run_script does not touch
    // `run` until that call returns, and scripts cannot start scripts (EVAL/FCALL are
    // NOSCRIPT), so this is the only reference to it while it is used.
    f(unsafe { &mut *p })
}

/// redis.call, redis.pcall and redis.setresp: created once per VM, acting on the run in
/// progress.
fn install_run_functions(lua: &Lua, redis: &Table) -> mlua::Result<()> {
    redis.raw_set(
        "call",
        lua.create_function(|lua, args: MultiValue| {
            with_run(|r| match redis_call(lua, r, args) {
                _ if ABANDONED.get() => Err(abandoned()),
                Ok(v) => Ok(v),
                Err(t) => {
                    let text: mlua::String = t.get("err")?;
                    Err(raise(text.as_bytes().to_vec()))
                }
            })
        })?,
    )?;
    redis.raw_set(
        "pcall",
        lua.create_function(|lua, args: MultiValue| {
            with_run(|r| {
                let v = redis_call(lua, r, args).unwrap_or_else(Value::Table);
                if ABANDONED.get() {
                    return Err(abandoned());
                }
                Ok(v)
            })
        })?,
    )?;
    redis.raw_set(
        "setresp",
        lua.create_function(|_, args: MultiValue| {
            if args.len() != 1 {
                return Err(raise(b"ERR redis.setresp() requires one argument.".to_vec()));
            }
            let p = match args.front().and_then(super::scripting_libs::lua_tonumber) {
                Some(2.0) => Proto::Resp2,
                Some(3.0) => Proto::Resp3,
                _ => return Err(raise(b"ERR RESP version must be 2 or 3.".to_vec())),
            };
            with_run(|r| {
                r.resp = p;
                Ok(())
            })
        })?,
    )?;
    Ok(())
}

fn new_vm() -> mlua::Result<Vm> {
    let lua = Lua::new();
    let g = lua.globals();
    let redis = lua.create_table()?;
    // Both take exactly one string; anything else returns (not raises) Redis's error.
    let one_string = |args: &MultiValue| match (args.len(), args.front()) {
        (1, Some(Value::String(s))) => Some(s.clone()),
        _ => None,
    };
    let bad_args = |lua: &Lua| error_table(lua, b"wrong number or type of arguments", false);
    redis.set(
        "error_reply",
        lua.create_function(move |lua, args: MultiValue| match one_string(&args) {
            Some(msg) => error_table(lua, &msg.as_bytes(), true),
            None => bad_args(lua),
        })?,
    )?;
    redis.set(
        "status_reply",
        lua.create_function(move |lua, args: MultiValue| match one_string(&args) {
            Some(msg) => {
                let t = lua.create_table()?;
                t.set("ok", msg)?;
                Ok(t)
            }
            None => bad_args(lua),
        })?,
    )?;
    redis.set(
        "sha1hex",
        lua.create_function(|_, args: MultiValue| {
            if args.len() != 1 {
                return Err(raise(b"ERR wrong number of arguments".to_vec()));
            }
            let s = match args.front() {
                Some(Value::String(s)) => s.as_bytes().to_vec(),
                Some(Value::Integer(i)) => i.to_string().into_bytes(),
                Some(Value::Number(n)) => lua_number_text(*n).into_bytes(),
                _ => Vec::new(),
            };
            Ok(sha1_hex(&s))
        })?,
    )?;
    redis.set(
        "log",
        lua.create_function(|_, args: MultiValue| {
            if args.len() < 2 {
                return Err(raise(b"ERR redis.log() requires two arguments or more.".to_vec()));
            }
            let mut it = args.into_iter();
            let level = match it.next().as_ref().and_then(super::scripting_libs::lua_tonumber) {
                Some(l) => l as i64,
                None => return Err(raise(b"ERR First argument must be a number (log level).".to_vec())),
            };
            if !(0..=3).contains(&level) {
                return Err(raise(b"ERR Invalid debug level.".to_vec()));
            }
            let msg: Vec<String> = it
                .map(|v| match v {
                    Value::String(s) => String::from_utf8_lossy(&s.as_bytes()).into_owned(),
                    Value::Integer(i) => i.to_string(),
                    Value::Number(n) => lua_number_text(n),
                    _ => String::new(),
                })
                .collect();
            let text = msg.join(" ");
            match level {
                0 => log::debug!("script: {text}"),
                1 | 2 => log::info!("script: {text}"),
                _ => log::warn!("script: {text}"),
            }
            Ok(())
        })?,
    )?;
    redis.set("set_repl", lua.create_function(|_, _: MultiValue| Ok(()))?)?;
    redis.set("replicate_commands", lua.create_function(|_, ()| Ok(true))?)?;
    for (k, v) in [
        ("LOG_DEBUG", 0),
        ("LOG_VERBOSE", 1),
        ("LOG_NOTICE", 2),
        ("LOG_WARNING", 3),
        ("REPL_NONE", 0),
        ("REPL_AOF", 1),
        ("REPL_SLAVE", 2),
        ("REPL_REPLICA", 2),
        ("REPL_ALL", 3),
    ] {
        redis.set(k, v)?;
    }
    g.set("redis", redis.clone())?;
    super::scripting_libs::install(&lua)?;
    let xpcall: Function = g.get("xpcall")?;
    let math: Table = g.get("math")?;
    math.set("random", lua.create_function(|_, args: MultiValue| math_random(&args))?)?;
    math.set(
        "randomseed",
        lua.create_function(|_, args: MultiValue| {
            srand48(check_int("randomseed", &args, 1)?);
            Ok(())
        })?,
    )?;
    let errtext = lua.create_function(|lua, (v, as_table): (Value, bool)| match v {
        Value::Error(e) => match script_error(&e) {
            Some(t) if t == format!("ERR {READONLY_TEXT}").as_bytes() => {
                lua.create_string(READONLY_TEXT).map(Value::String)
            }
            Some(t) if as_table => error_table(lua, &t, false).map(Value::Table),
            Some(t) => lua.create_string(t).map(Value::String),
            None => {
                let at = raised_at(&e).unwrap_or_default();
                lua.create_string(format!("{at}{}", lua_error_text(&e))).map(Value::String)
            }
        },
        other => Ok(other),
    })?;
    let (env, setfenv): (Table, Function) = lua.load(BOOTSTRAP).set_name("=bootstrap").call(errtext)?;
    protect_tables(&lua, &g, &env)?;
    // Redis's __redis__err__handler: errors become tables carrying where they were
    // raised (the first frame that is not C; the sandbox's own Lua helpers count as C,
    // as Redis implements them in C).
    let handler = lua.create_function(|lua, err: Value| {
        // Where the error was raised: the first frame that is not C.
        let mut at: Option<(String, String, i32)> = None;
        for level in 1..12 {
            let Some(d) = lua.inspect_stack(level) else { break };
            let src = d.source();
            if src.what == "C" || src.source.as_deref().is_some_and(|s| s.starts_with("=bootstrap")) {
                continue;
            }
            if let Some(s) = src.source.as_deref() {
                let short = src.short_src.as_deref().unwrap_or(s).to_string();
                at = Some((s.to_string(), short, d.curr_line()));
            }
            break;
        }
        let t = match err {
            Value::Table(t) => t,
            other => {
                let t = lua.create_table()?;
                match &other {
                    Value::Error(e) => match script_error(e) {
                        Some(text) => t.set("err", lua.create_string(text)?)?,
                        // A library function's error (luaL_error in Redis's C libraries)
                        // names the script line that called it.
                        None => match &at {
                            Some((_, short, line)) => {
                                t.set("err", format!("ERR {short}:{line}: {}", lua_error_text(e)))?
                            }
                            None => t.set("err", format!("ERR {}", lua_error_text(e)))?,
                        },
                    },
                    Value::String(s) => t.set("err", format!("ERR {}", String::from_utf8_lossy(&s.as_bytes())))?,
                    v => t.set("err", format!("ERR {v:?}"))?,
                }
                t
            }
        };
        if let Some((source, _, line)) = at {
            t.set("source", source)?;
            t.set("line", line)?;
        }
        Ok(t)
    })?;
    let bind: Function = lua
        .load("return function(cb, k, a) return function() return cb(k, a) end end")
        .set_name("=bootstrap")
        .call(())?;
    Ok(Vm {
        lua,
        env,
        redis,
        setfenv,
        xpcall,
        handler,
        bind,
        funcs: FastMap::default(),
        gen: 0,
        fcallbacks: FastMap::default(),
        fgen: u64::MAX,
        exclusive_scripts: FastSet::default(),
        exclusive_functions: FastSet::default(),
    })
}

/// Redis's rand.c (`redisLrand48`): the 48-bit linear congruential generator of lrand48,
/// one state for the whole server (all workers' VMs), starting where Redis's does.
static LRAND48: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0x1234_ABCD_330E);

const LRAND48_MASK: u64 = (1 << 48) - 1;

fn lrand48() -> i32 {
    let step = |x: u64| x.wrapping_mul(0x5_DEEC_E66D).wrapping_add(0xB) & LRAND48_MASK;
    let prev = LRAND48.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |x| Some(step(x))).unwrap_or_else(|x| x);
    (step(prev) >> 17) as i32
}

/// Where an error raised by a Rust function happened, as luaL_error would prefix it
/// ("user_script:3: "): the frame that called the function, if it is script code (not C,
/// not the sandbox's own helpers). Read from the traceback mlua records.
fn raised_at(e: &mlua::Error) -> Option<String> {
    let mlua::Error::CallbackError { traceback, .. } = e else { return None };
    let mut frames = traceback.lines().map(str::trim).filter(|l| !l.is_empty() && *l != "stack traceback:");
    frames.next()?; // the function itself
    let caller = frames.next()?;
    if caller.starts_with("[C]") || caller.starts_with("bootstrap:") {
        return None;
    }
    caller.find(": in ").map(|i| format!("{}: ", &caller[..i]))
}

/// Lua's luaL_checkint for argument `n` (1-based) of `name`, with its error texts.
fn check_int(name: &str, args: &MultiValue, n: usize) -> mlua::Result<i32> {
    let v = args.get(n - 1);
    match v.and_then(super::scripting_libs::lua_tonumber) {
        Some(x) => Ok(x as i64 as i32),
        None => {
            let got = v.map_or("no value", lua_type_name);
            Err(mlua::Error::RuntimeError(format!("bad argument #{n} to '{name}' (number expected, got {got})")))
        }
    }
}

/// Redis's math.random (redis_math_random: Lua's, on `lrand48`; the number is drawn
/// before the arguments are checked, as there).
fn math_random(args: &MultiValue) -> mlua::Result<f64> {
    const MAX: i32 = i32::MAX;
    let r = (lrand48() % MAX) as f64 / MAX as f64;
    let empty = |n: usize| Err(mlua::Error::RuntimeError(format!("bad argument #{n} to 'random' (interval is empty)")));
    match args.len() {
        0 => Ok(r),
        1 => {
            let u = check_int("random", args, 1)?;
            if u < 1 {
                return empty(1);
            }
            Ok((r * u as f64).floor() + 1.0)
        }
        2 => {
            let l = check_int("random", args, 1)?;
            let u = check_int("random", args, 2)?;
            if l > u {
                return empty(2);
            }
            Ok((r * (u as f64 - l as f64 + 1.0)).floor() + l as f64)
        }
        _ => Err(mlua::Error::RuntimeError("wrong number of arguments".into())),
    }
}

/// `redisSrand48`: the state becomes the seed's 32 bits above 0x330E.
fn srand48(seed: i32) {
    LRAND48.store(((seed as u32 as u64) << 16) | 0x330E, Ordering::Relaxed);
}

// ---------------------------------------------------------------------------------------
// Read-only tables (Redis 7.0.15: every table reachable from the globals is read-only)
// ---------------------------------------------------------------------------------------

/// Named registry entry: a table mapping each read-only stand-in (a library table's
/// proxy, the sandbox's globals) to the real table behind it.
const RO_MAP: &str = "rustis.readonly";
const READONLY_TEXT: &str = "Attempt to modify a readonly table";

/// Makes every table reachable from the globals read-only, as Redis 7.0.15 does with its
/// patched Lua: each is replaced by an empty proxy whose metatable reads through to it
/// and refuses writes, and the functions that bypass metatables (rawset, rawget, next,
/// pairs, getmetatable, setmetatable, table.insert) are replaced by versions that see the
/// real table behind a proxy and refuse to change it. The string metatable's `__index`
/// becomes the `string` proxy, and getmetatable('') answers a proxy of that metatable.
fn protect_tables(lua: &Lua, g: &Table, env: &Table) -> mlua::Result<()> {
    let map = lua.create_table()?;
    let newindex: Function =
        lua.load(format!("return function() error('{READONLY_TEXT}', 2) end")).set_name("=bootstrap").call(())?;
    let proxy_of = |real: &Table| -> mlua::Result<Table> {
        let p = lua.create_table()?;
        let mt = lua.create_table()?;
        mt.raw_set("__index", real.clone())?;
        mt.raw_set("__newindex", newindex.clone())?;
        p.set_metatable(Some(mt));
        map.raw_set(p.clone(), real.clone())?;
        Ok(p)
    };
    let string_mt: Option<Table> = lua.load("return getmetatable('')").set_name("=bootstrap").call(())?;
    // The functions first (table.insert lives in a table about to be proxied).
    install_readonly_functions(lua, g)?;
    // Every table reachable from the globals, depth first, each proxied once.
    let mut done: Vec<(Table, Table)> = Vec::new();
    let mut stack: Vec<(Table, Value)> = Vec::new();
    for pair in g.pairs::<Value, Value>() {
        let (k, v) = pair?;
        stack.push((g.clone(), k));
        let _ = v;
    }
    while let Some((holder, key)) = stack.pop() {
        let Ok(Value::Table(real)) = holder.raw_get::<Value>(key.clone()) else { continue };
        if real == *g || real == *env {
            continue;
        }
        let proxy = match done.iter().find(|(r, _)| *r == real) {
            Some((_, p)) => p.clone(),
            None => {
                let p = proxy_of(&real)?;
                done.push((real.clone(), p.clone()));
                for pair in real.pairs::<Value, Value>() {
                    let (k, _) = pair?;
                    stack.push((real.clone(), k));
                }
                p
            }
        };
        holder.raw_set(key, proxy)?;
    }
    // Strings index the string proxy; their metatable is shown as a proxy too.
    let string: Table = g.raw_get("string")?;
    if let Some(mt) = string_mt {
        mt.raw_set("__index", string)?;
        let shown = proxy_of(&mt)?;
        lua.set_named_registry_value("rustis.string_mt", shown)?;
    }
    map.raw_set(env.clone(), g.clone())?;
    lua.set_named_registry_value(RO_MAP, map)?;
    Ok(())
}

/// The real table behind a read-only stand-in, or `t` itself.
fn real_table(lua: &Lua, t: &Table) -> mlua::Result<(Table, bool)> {
    let map: Table = lua.named_registry_value(RO_MAP)?;
    Ok(match map.raw_get::<Option<Table>>(t.clone())? {
        Some(real) => (real, true),
        None => (t.clone(), false),
    })
}

/// Argument `n` (1-based) of `name` as a table, with Lua's error text otherwise.
fn table_arg(args: &MultiValue, n: usize, name: &str) -> mlua::Result<Table> {
    match args.get(n - 1) {
        Some(Value::Table(t)) => Ok(t.clone()),
        other => {
            let got = other.map_or("no value", lua_type_name);
            Err(mlua::Error::RuntimeError(format!("bad argument #{n} to '{name}' (table expected, got {got})")))
        }
    }
}

/// Lua 5.1's type() name of a value (mlua tells integers apart; Lua 5.1 does not).
pub(super) fn lua_type_name(v: &Value) -> &'static str {
    match v {
        Value::Integer(_) | Value::Number(_) => "number",
        Value::LightUserData(_) | Value::UserData(_) => "userdata",
        Value::Error(_) => "userdata",
        other => other.type_name(),
    }
}

fn install_readonly_functions(lua: &Lua, g: &Table) -> mlua::Result<()> {
    let readonly = || Err::<MultiValue, _>(raise(format!("ERR {READONLY_TEXT}").into_bytes()));
    let next: Function = g.raw_get("next")?;
    let orig_getmetatable: Function = g.raw_get("getmetatable")?;
    let orig_insert: Function = g.raw_get::<Table>("table")?.raw_get("insert")?;
    g.raw_set(
        "rawset",
        lua.create_function(move |lua, args: MultiValue| {
            let t = table_arg(&args, 1, "rawset")?;
            if real_table(lua, &t)?.1 {
                return readonly();
            }
            let k = args.get(1).cloned().unwrap_or(Value::Nil);
            let v = args.get(2).cloned().unwrap_or(Value::Nil);
            t.raw_set(k, v)?;
            Ok(MultiValue::from_iter([Value::Table(t)]))
        })?,
    )?;
    g.raw_set(
        "rawget",
        lua.create_function(|lua, args: MultiValue| {
            let t = table_arg(&args, 1, "rawget")?;
            let (real, _) = real_table(lua, &t)?;
            real.raw_get::<Value>(args.get(1).cloned().unwrap_or(Value::Nil))
        })?,
    )?;
    let next_fn = lua.create_function(move |lua, args: MultiValue| {
        let t = table_arg(&args, 1, "next")?;
        let (real, _) = real_table(lua, &t)?;
        next.call::<MultiValue>((real, args.get(1).cloned().unwrap_or(Value::Nil)))
    })?;
    g.raw_set("next", next_fn.clone())?;
    g.raw_set(
        "pairs",
        lua.create_function(move |_, args: MultiValue| {
            let t = table_arg(&args, 1, "pairs")?;
            Ok((next_fn.clone(), t, Value::Nil))
        })?,
    )?;
    g.raw_set(
        "getmetatable",
        lua.create_function(move |lua, args: MultiValue| {
            let Some(v) = args.front() else {
                return Err(mlua::Error::RuntimeError("bad argument #1 to 'getmetatable' (value expected)".into()));
            };
            match v {
                Value::Table(t) if real_table(lua, t)?.1 => Ok(Value::Nil),
                Value::String(_) => lua.named_registry_value::<Value>("rustis.string_mt"),
                _ => orig_getmetatable.call::<Value>(v.clone()),
            }
        })?,
    )?;
    g.raw_set(
        "setmetatable",
        lua.create_function(move |lua, args: MultiValue| {
            let t = table_arg(&args, 1, "setmetatable")?;
            if real_table(lua, &t)?.1 {
                return readonly();
            }
            let mt = match args.get(1) {
                Some(Value::Table(m)) => Some(m.clone()),
                Some(Value::Nil) => None,
                _ => {
                    return Err(mlua::Error::RuntimeError(
                        "bad argument #2 to 'setmetatable' (nil or table expected)".into(),
                    ))
                }
            };
            if t.metatable().is_some_and(|m| m.raw_get::<Value>("__metatable").is_ok_and(|v| !v.is_nil())) {
                return Err(mlua::Error::RuntimeError("cannot change a protected metatable".into()));
            }
            t.set_metatable(mt);
            Ok(MultiValue::from_iter([Value::Table(t)]))
        })?,
    )?;
    g.raw_get::<Table>("table")?.raw_set(
        "insert",
        lua.create_function(move |lua, args: MultiValue| {
            let t = table_arg(&args, 1, "insert")?;
            if real_table(lua, &t)?.1 {
                return readonly();
            }
            orig_insert.call::<MultiValue>(args)
        })?,
    )?;
    Ok(())
}

/// An error a `redis` library function raises: the text of its `err` table.
#[derive(Debug)]
struct ScriptError(Vec<u8>);

impl std::fmt::Display for ScriptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", String::from_utf8_lossy(&self.0))
    }
}

impl std::error::Error for ScriptError {}

pub(super) fn raise(text: Vec<u8>) -> mlua::Error {
    mlua::Error::external(ScriptError(text))
}

/// The text of a [`ScriptError`] inside an mlua error, if that is what it is.
pub(super) fn script_error(e: &mlua::Error) -> Option<Vec<u8>> {
    match e {
        mlua::Error::CallbackError { cause, .. } => script_error(cause),
        mlua::Error::ExternalError(x) => x.downcast_ref::<ScriptError>().map(|s| s.0.clone()),
        _ => None,
    }
}

/// Lua 5.1's number to string ("%.14g").
pub(super) fn lua_number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        return format!("{}", n as i64);
    }
    crate::protocol::reply::fmt_g(n, 14)
}

/// Redis's luaPushErrorBuff: `-CODE msg` or `msg` (given code ERR) into `{err="CODE msg"}`.
pub(super) fn error_table(lua: &Lua, text: &[u8], add_dash: bool) -> mlua::Result<Table> {
    let mut buf = text.to_vec();
    if add_dash && buf.first() != Some(&b'-') {
        buf.insert(0, b'-');
    }
    let msg = if buf.first() == Some(&b'-') {
        match buf.iter().position(|&c| c == b' ') {
            None => [b"ERR ".as_slice(), &buf[1..]].concat(),
            Some(_) => buf[1..].to_vec(),
        }
    } else {
        [b"ERR ".as_slice(), &buf].concat()
    };
    let msg = trim_crlf(&msg);
    let t = lua.create_table()?;
    t.set("err", lua.create_string(msg)?)?;
    Ok(t)
}

fn trim_crlf(b: &[u8]) -> &[u8] {
    let mut s = b;
    while let [rest @ .., last] = s {
        if *last == b'\r' || *last == b'\n' {
            s = rest;
        } else {
            break;
        }
    }
    s
}

// ---------------------------------------------------------------------------------------
// EVAL
// ---------------------------------------------------------------------------------------

fn eval(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    eval_generic(ctx, argv, false, false)
}
fn evalsha(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    eval_generic(ctx, argv, true, false)
}
fn eval_ro(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    eval_generic(ctx, argv, false, true)
}
fn evalsha_ro(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    eval_generic(ctx, argv, true, true)
}

/// The script's `#!lua flags=...` line: (no-writes, where the code starts: the shebang
/// line is skipped but its newline kept, so line numbers stay right).
fn shebang(body: &[u8]) -> Result<(bool, usize), String> {
    if !body.starts_with(b"#!") {
        return Ok((false, 0));
    }
    let end = body.iter().position(|&c| c == b'\n').unwrap_or(body.len());
    let line = String::from_utf8_lossy(&body[2..end]).to_string();
    let mut parts = line.split(' ').filter(|p| !p.is_empty());
    let engine = parts.next().unwrap_or("");
    if engine != "lua" {
        return Err(format!("ERR Unexpected engine in script shebang: #!{engine}"));
    }
    let mut no_writes = false;
    for p in parts {
        let Some(flags) = p.strip_prefix("flags=") else {
            return Err(format!("ERR Unknown lua shebang option: {p}"));
        };
        for f in flags.split(',').filter(|f| !f.is_empty()) {
            match f {
                "no-writes" => no_writes = true,
                "allow-oom" | "allow-stale" | "no-cluster" | "allow-cross-slot-keys" => {}
                other => return Err(format!("ERR Unexpected flag in script shebang: {other}")),
            }
        }
    }
    Ok((no_writes, end))
}

/// Compiles a script on this VM and remembers it (with its no-writes flag).
fn compile_script(vm: &mut Vm, sha: &str, body: &[u8]) -> Result<(Function, bool), String> {
    let (no_writes, start) = shebang(body)?;
    let f = compile(vm, &body[start..])?;
    vm.funcs.insert(sha.to_string(), (f.clone(), no_writes));
    Ok((f, no_writes))
}

/// A slice of command arguments.
type Args<'v, 'a> = &'v [&'a [u8]];

/// `<script> numkeys key... arg...` (EVAL*, FCALL*): the keys and the arguments, or
/// Redis's error (`not_int` when numkeys is not a number: the two families word it
/// differently).
pub(super) fn keys_and_args<'v, 'a>(
    argv: &'v [&'a [u8]],
    not_int: &str,
) -> Result<(Args<'v, 'a>, Args<'v, 'a>), Reply> {
    let nkeys = match crate::store::parse_i64_strict(argv[2]) {
        Some(n) => n,
        None => return Err(Reply::err(not_int)),
    };
    if nkeys < 0 {
        return Err(Reply::err("ERR Number of keys can't be negative"));
    }
    if nkeys as usize > argv.len() - 3 {
        return Err(Reply::err("ERR Number of keys can't be greater than number of args"));
    }
    Ok(argv[3..].split_at(nkeys as usize))
}

fn eval_generic(ctx: &mut Ctx, argv: &[&[u8]], by_sha: bool, ro: bool) -> Reply {
    let (keys, args) = match keys_and_args(argv, "ERR value is not an integer or out of range") {
        Ok(x) => x,
        Err(e) => return e,
    };
    let sha = if by_sha {
        match std::str::from_utf8(argv[1]) {
            Ok(s) => s.to_ascii_lowercase(),
            Err(_) => return Reply::err("NOSCRIPT No matching script. Please use EVAL."),
        }
    } else {
        sha1_hex(argv[1])
    };
    let shared: &Shared = ctx.shared;
    with_vm(shared, |vm| {
        // A script this VM compiled is in the shared cache too (SCRIPT FLUSH replaces the
        // VM), so the body is only needed, and the cache only written, the first time.
        let (f, no_writes) = match vm.funcs.get(&sha) {
            Some(x) => x.clone(),
            None => {
                let body: Arc<[u8]> = if by_sha {
                    match shared.scripts.read().get(&sha) {
                        Some(b) => b.clone(),
                        None => return Reply::err("NOSCRIPT No matching script. Please use EVAL."),
                    }
                } else {
                    Arc::from(argv[1])
                };
                match compile_script(vm, &sha, &body) {
                    Ok(x) => {
                        if !by_sha {
                            shared.scripts.write().entry(sha.clone()).or_insert(body);
                        }
                        x
                    }
                    Err(e) => return Reply::Error(e),
                }
            }
        };
        run_script(vm, ctx, &f, &sha, keys, args, ro || no_writes, false)
    })
}

/// The hook that implements busy-reply-threshold and SCRIPT KILL: every 10,000
/// instructions of a running script it marks the script busy once it ran too long (the
/// reactor then answers BUSY) and stops it when SCRIPT KILL or SHUTDOWN NOSAVE asks.
fn install_hook(lua: &Lua, scripts: Arc<super::state::Scripts>) {
    lua.set_hook(HookTriggers::new().every_nth_instruction(10_000), move |_, _| {
        let Some(state) = scripts.runs.get(SLOT.get()) else { return Ok(VmState::Continue) };
        if !state.running.load(Ordering::Acquire) {
            return Ok(VmState::Continue);
        }
        if ABANDONED.get() {
            return Err(abandoned());
        }
        if state.kill.load(Ordering::Acquire) {
            return Err(raise(b"ERR Script killed by user with SCRIPT KILL...".to_vec()));
        }
        let threshold = state.threshold_ms.load(Ordering::Relaxed);
        let ran = crate::store::unix_ms() - state.started_ms.load(Ordering::Relaxed);
        if threshold > 0 && !state.busy.load(Ordering::Relaxed) && ran >= threshold {
            log::warn!(
                "Slow script detected: still in execution after {ran} milliseconds. You can try killing the script using the SCRIPT KILL command."
            );
            state.busy.store(true, Ordering::Release);
            scripts.busy.fetch_add(1, Ordering::AcqRel);
        }
        Ok(VmState::Continue)
    });
}

/// Runs `f` with this worker's VM (created, or recreated after SCRIPT FLUSH, as needed).
pub(super) fn with_vm(shared: &Shared, f: impl FnOnce(&mut Vm) -> Reply) -> Reply {
    VM.with(|cell| {
        let mut slot = cell.borrow_mut();
        let gen = shared.script_gen.load(Ordering::Acquire);
        if slot.as_ref().is_none_or(|vm| vm.gen != gen) {
            match new_vm().and_then(|vm| {
                install_run_functions(&vm.lua, &vm.redis)?;
                install_hook(&vm.lua, shared.script.clone());
                Ok(vm)
            }) {
                Ok(mut vm) => {
                    vm.gen = gen;
                    *slot = Some(vm);
                }
                Err(e) => return Reply::Error(format!("ERR could not start the Lua VM: {e}")),
            }
        }
        match slot.as_mut() {
            Some(vm) => f(vm),
            None => Reply::err("ERR no Lua VM"),
        }
    })
}

fn compile(vm: &Vm, body: &[u8]) -> Result<Function, String> {
    let f = vm
        .lua
        .load(body)
        .set_name("@user_script")
        .into_function()
        .map_err(|e| format!("ERR Error compiling script (new function): {}", lua_error_text(&e)))?;
    vm.setfenv.call::<()>((f.clone(), vm.env.clone())).map_err(|e| format!("ERR {e}"))?;
    Ok(f)
}

/// An mlua error's Lua message (without mlua's decorations).
pub(super) fn lua_error_text(e: &mlua::Error) -> String {
    match e {
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        // mlua appends a traceback to errors raised outside its own protected calls.
        mlua::Error::RuntimeError(m) => m.split("\nstack traceback:").next().unwrap_or(m).to_string(),
        mlua::Error::CallbackError { cause, .. } => lua_error_text(cause),
        other => other.to_string(),
    }
}

/// What one script run needs inside its `redis.call`s.
pub(super) struct Run<'c, 'a> {
    ctx: &'c mut Ctx<'a>,
    resp: Proto,
    ro: bool,
    written: Vec<(usize, Vec<u8>)>,
}

/// Runs a script (or, with `as_function`, a FUNCTION callback that gets KEYS and ARGV as
/// arguments); `label` names it in errors (the sha, or the function name).
#[allow(clippy::too_many_arguments)]
pub(super) fn run_script(
    vm: &mut Vm,
    ctx: &mut Ctx,
    f: &Function,
    label: &str,
    keys: &[&[u8]],
    args: &[&[u8]],
    ro: bool,
    as_function: bool,
) -> Reply {
    let parallel = ctx.parallel;
    if parallel {
        let known = if as_function { &vm.exclusive_functions } else { &vm.exclusive_scripts };
        if known.contains(label) {
            ctx.rerun_exclusive = true;
            return Reply::Nil;
        }
        // Everything the run changes or emits can still be taken back until it ends.
        ctx.begin_undo();
        *ctx.watch_deferred.get_mut() = Some(Vec::new());
    }
    let marks =
        (ctx.effects.pushes.len(), ctx.effects.bcast.len(), ctx.effects.unblock.len(), ctx.misses.get_mut().len());
    ABANDONED.set(false);
    SLOT.set(ctx.stats.idx);
    let saved_db = ctx.session.db;
    let saved_proto = ctx.session.proto;
    let outer_exec = ctx.session.in_exec;
    if !outer_exec {
        ctx.session.in_exec = true;
        if ctx.shared.aof.on.load(Ordering::Relaxed) {
            ctx.session.aof_tx = Some(Vec::new());
        }
    }
    // busy-reply-threshold and SCRIPT KILL: the VM's hook (installed once, see with_vm)
    // reads these.
    let shared: &Shared = ctx.shared;
    let scripts = &shared.script;
    let Some(state) = scripts.runs.get(ctx.stats.idx) else { return Reply::err("ERR no script slot") };
    state.busy.store(false, Ordering::Release);
    state.kill.store(false, Ordering::Release);
    state.wrote.store(false, Ordering::Release);
    state.function.store(as_function, Ordering::Release);
    state.threshold_ms.store(shared.enc.busy_reply_threshold.load(Ordering::Relaxed), Ordering::Release);
    state.started_ms.store(crate::store::unix_ms(), Ordering::Release);
    state.running.store(true, Ordering::Release);
    let mut run = Run { ctx, resp: Proto::Resp2, ro, written: Vec::new() };
    let lua = &vm.lua;
    // redis.call / pcall / setresp reach `run` through CURRENT while Lua runs.
    CURRENT.with(|c| c.set(std::ptr::from_mut(&mut run).cast::<Run<'static, 'static>>()));
    // Cleared when this scope ends, even by a panic: CURRENT never outlives `run`.
    struct Clear;
    impl Drop for Clear {
        fn drop(&mut self) {
            CURRENT.with(|c| c.set(std::ptr::null_mut()));
        }
    }
    let clear = Clear;
    let result: mlua::Result<Reply> = (|| {
        let kt =
            lua.create_sequence_from(keys.iter().map(|k| lua.create_string(k)).collect::<mlua::Result<Vec<_>>>()?)?;
        let at =
            lua.create_sequence_from(args.iter().map(|a| lua.create_string(a)).collect::<mlua::Result<Vec<_>>>()?)?;
        let target = if as_function {
            vm.bind.call::<Function>((f.clone(), kt, at))?
        } else {
            vm.env.raw_set("KEYS", kt)?;
            vm.env.raw_set("ARGV", at)?;
            f.clone()
        };
        let out: MultiValue = vm.xpcall.call((target, vm.handler.clone()))?;
        let mut it = out.into_iter();
        let ok = matches!(it.next(), Some(Value::Boolean(true)));
        let first = it.next().unwrap_or(Value::Nil);
        if ok {
            return Ok(lua_to_reply(&first));
        }
        Ok(match first {
            Value::Table(t) => {
                let err: Option<mlua::String> = t.get("err").ok();
                let msg = err.map(|s| String::from_utf8_lossy(&s.as_bytes()).into_owned()).unwrap_or_default();
                let source: Option<String> = t.get("source").ok();
                let line: Option<i64> = t.get("line").ok();
                match (source, line) {
                    (Some(s), Some(l)) => Reply::Error(format!("{msg} script: {label}, on {s}:{l}.")),
                    _ => Reply::Error(msg),
                }
            }
            other => Reply::Error(format!("ERR {other:?}")),
        })
    })();
    drop(clear);
    state.running.store(false, Ordering::Release);
    if state.busy.swap(false, Ordering::AcqRel) {
        scripts.busy.fetch_sub(1, Ordering::AcqRel);
    }
    state.kill.store(false, Ordering::Release);
    let Run { ctx, written, .. } = run;
    ctx.session.db = saved_db;
    ctx.session.proto = saved_proto;
    if parallel {
        let deferred = ctx.watch_deferred.get_mut().take().unwrap_or_default();
        if ABANDONED.get() {
            // Put every held stripe back and drop what the run emitted: nobody saw it.
            ABANDONED.set(false);
            ctx.end_undo(true);
            ctx.effects.pushes.truncate(marks.0);
            ctx.effects.bcast.truncate(marks.1);
            ctx.effects.unblock.truncate(marks.2);
            ctx.misses.get_mut().truncate(marks.3);
            ctx.expired_seen.clear();
            if !outer_exec {
                ctx.session.in_exec = false;
                ctx.session.aof_tx = None;
            }
            ctx.stats.script_rollbacks += 1;
            ctx.rerun_exclusive = true;
            let known = if as_function { &mut vm.exclusive_functions } else { &mut vm.exclusive_scripts };
            known.insert(label.to_string());
            return Reply::Nil;
        }
        ctx.end_undo(false);
        if !deferred.is_empty() {
            let reg = ctx.shared.watches.lock();
            for (db, key) in deferred {
                reg.touch(db, &key);
            }
        }
        ctx.stats.scripts_parallel += 1;
    } else {
        ctx.stats.scripts_exclusive += 1;
    }
    if !outer_exec {
        ctx.session.in_exec = false;
        if let Some(recs) = ctx.session.aof_tx.take() {
            if !recs.is_empty() {
                let at = ctx.shared.aof.append(&recs, true);
                ctx.effects.aof_offset = ctx.effects.aof_offset.max(at);
            }
        }
    }
    ctx.effects.ready.extend(written);
    match result {
        Ok(r) => r,
        Err(e) => Reply::Error(format!("ERR {}", lua_error_text(&e))),
    }
}

/// One `redis.call` / `redis.pcall`: the reply as a Lua value, or Redis's error table.
fn redis_call(lua: &Lua, run: &mut Run, args: MultiValue) -> Result<Value, Table> {
    let err = |text: &str| error_table(lua, text.as_bytes(), false).map_err(|_| lua.create_table().expect("table"));
    if args.is_empty() {
        return Err(err("Please specify at least one argument for this redis lib call").unwrap_or_else(|t| t));
    }
    // Strings are borrowed from Lua; only numbers are formatted into new bytes.
    enum Arg<'s> {
        Lua(mlua::BorrowedBytes<'s>),
        Own(Vec<u8>),
    }
    let mut items: Vec<Arg> = Vec::with_capacity(args.len());
    for a in args.iter() {
        match a {
            Value::String(s) => items.push(Arg::Lua(s.as_bytes())),
            Value::Integer(i) => items.push(Arg::Own(i.to_string().into_bytes())),
            Value::Number(n) => items.push(Arg::Own(lua_number_text(*n).into_bytes())),
            _ => {
                return Err(err("Lua redis lib command arguments must be strings or integers").unwrap_or_else(|t| t));
            }
        }
    }
    let argv: Vec<&[u8]> = items
        .iter()
        .map(|a| match a {
            Arg::Lua(b) => &**b,
            Arg::Own(v) => v.as_slice(),
        })
        .collect();
    let reply = exec_in_script(run, &argv);
    match reply {
        Reply::Error(e) => {
            Err(error_table(lua, e.as_bytes(), true).unwrap_or_else(|_| lua.create_table().expect("table")))
        }
        r => reply_to_lua(lua, &r, run.resp).map_err(|_| lua.create_table().expect("table")),
    }
}

/// Runs a command for a script: lookup, the script rules, ACL, locks, then the command.
fn exec_in_script(run: &mut Run, argv: &[&[u8]]) -> Reply {
    if ABANDONED.get() {
        return Reply::err(ABANDONED_TEXT);
    }
    let t = table();
    let id = match t.resolve(argv) {
        Ok(id) => id,
        Err(e) if e.starts_with("ERR wrong number of arguments") => {
            return Reply::err("ERR Wrong number of args calling Redis command from script")
        }
        Err(_) => return Reply::err("ERR Unknown Redis command called from script"),
    };
    let cmd = t.cmds[id];
    if cmd.run.is_none() {
        return Reply::err("ERR Wrong number of args calling Redis command from script");
    }
    if cmd.has(NOSCRIPT) {
        return Reply::err("ERR This Redis command is not allowed from script");
    }
    if run.ro && cmd.has(WRITE) {
        return Reply::err("ERR Write commands are not allowed from read-only scripts.");
    }
    let ctx = &mut *run.ctx;
    if !ctx.shared.acl_open.load(Ordering::Relaxed) {
        if let Err(d) = super::acl::check_denied(ctx.shared, &ctx.session.user, id, cmd, argv) {
            super::acl::log_denied(ctx.shared, ctx.session, &d, false, cmd.name);
            return Reply::err("ERR The user executing the script can't run this command or subcommand");
        }
    }
    ctx.session.proto = run.resp;
    let saved = ctx.cmd;
    ctx.cmd = cmd;
    let go_on = if ctx.parallel {
        !(cmd.has(ALL_STRIPES) || cmd.has(DB_STRIPES))
            && super::try_lock_more(ctx, argv)
            && !(cmd.has(WRITE) && too_big_to_undo(ctx, cmd, argv))
    } else {
        super::lock_more(ctx, argv);
        true
    };
    ctx.cmd = saved;
    if !go_on {
        ABANDONED.set(true);
        return Reply::err(ABANDONED_TEXT);
    }
    if cmd.has(WRITE) {
        if let Some(state) = ctx.shared.script.runs.get(ctx.stats.idx) {
            state.wrote.store(true, Ordering::Release);
        }
    }
    let reply = super::run_locked(ctx, cmd, id, argv, &mut run.written);
    if ctx.lock_missed.get() {
        ABANDONED.set(true);
    }
    reply
}

/// True when a write by `cmd` would make a parallel script's undo record copy a value
/// bigger than `UNDO_COPY_LIMIT` (such scripts run exclusively, copying nothing).
fn too_big_to_undo(ctx: &Ctx, cmd: &Command, argv: &[&[u8]]) -> bool {
    let db = ctx.session.db;
    let mut big = false;
    cmd.for_each_key_pos(argv, |p| {
        if !big {
            big = ctx.held_peek(db, argv[p]).is_some_and(|it| it.val.copy_cost() > UNDO_COPY_LIMIT);
        }
    });
    big
}

// ---------------------------------------------------------------------------------------
// Conversions
// ---------------------------------------------------------------------------------------

/// A command's reply as the script sees it (Redis's redisProtocolToLuaType).
fn reply_to_lua(lua: &Lua, r: &Reply, resp: Proto) -> mlua::Result<Value> {
    let s = |b: &[u8]| lua.create_string(b).map(Value::String);
    let status = |text: &str| -> mlua::Result<Value> {
        let t = lua.create_table()?;
        t.set("ok", text)?;
        Ok(Value::Table(t))
    };
    let seq = |items: &[Reply]| -> mlua::Result<Value> {
        let t = lua.create_table_with_capacity(items.len(), 0)?;
        for (i, it) in items.iter().enumerate() {
            t.raw_set(i + 1, reply_to_lua(lua, it, resp)?)?;
        }
        Ok(Value::Table(t))
    };
    let r3 = resp == Proto::Resp3;
    Ok(match r {
        Reply::Simple(x) => status(x)?,
        Reply::Status(x) => status(x)?,
        Reply::Error(e) => Value::Table(error_table(lua, e.as_bytes(), true)?),
        Reply::Int(i) => Value::Integer(*i),
        Reply::Bulk(b) => s(b)?,
        Reply::Nil | Reply::NilArray => {
            if r3 {
                Value::Nil
            } else {
                Value::Boolean(false)
            }
        }
        Reply::Array(items) => seq(items)?,
        Reply::Set(items) if r3 => {
            let inner = lua.create_table()?;
            for it in items {
                inner.raw_set(reply_to_lua(lua, it, resp)?, true)?;
            }
            let t = lua.create_table()?;
            t.set("set", inner)?;
            Value::Table(t)
        }
        Reply::Set(items) => seq(items)?,
        Reply::Map(pairs) if r3 => {
            let inner = lua.create_table()?;
            for (k, v) in pairs {
                inner.raw_set(reply_to_lua(lua, k, resp)?, reply_to_lua(lua, v, resp)?)?;
            }
            let t = lua.create_table()?;
            t.set("map", inner)?;
            Value::Table(t)
        }
        Reply::Map(pairs) => {
            let flat: Vec<Reply> = pairs.iter().flat_map(|(k, v)| [k.clone(), v.clone()]).collect();
            seq(&flat)?
        }
        Reply::Double(d) if r3 => {
            let t = lua.create_table()?;
            t.set("double", *d)?;
            Value::Table(t)
        }
        Reply::Double(d) => s(crate::protocol::fmt_double(*d).as_bytes())?,
        Reply::Bool(b) if r3 => Value::Boolean(*b),
        Reply::Bool(b) => Value::Integer(*b as _),
        Reply::Verbatim(fmt, body) if r3 => {
            let inner = lua.create_table()?;
            inner.set("format", *fmt)?;
            inner.set("string", lua.create_string(body)?)?;
            let t = lua.create_table()?;
            t.set("verbatim_string", inner)?;
            Value::Table(t)
        }
        Reply::Verbatim(_, body) => s(body)?,
        Reply::BigNumber(n) if r3 => {
            let t = lua.create_table()?;
            t.set("big_number", n.as_str())?;
            Value::Table(t)
        }
        Reply::BigNumber(n) => s(n.as_bytes())?,
        Reply::Raw(bytes) => match parse_resp(bytes) {
            Some(r) => reply_to_lua(lua, &r, resp)?,
            None => Value::Nil,
        },
    })
}

/// A pre-encoded reply (rare here: a RESP3 double some commands write directly) read back.
fn parse_resp(b: &[u8]) -> Option<Reply> {
    let cr = b.iter().position(|&c| c == b'\r')?;
    let line = std::str::from_utf8(&b[1..cr]).ok()?;
    match b.first()? {
        b',' => line.parse().ok().map(Reply::Double),
        b':' => line.parse().ok().map(Reply::Int),
        b'+' => Some(Reply::Status(line.to_string())),
        b'$' => {
            let n: usize = line.parse().ok()?;
            Some(Reply::Bulk(b.get(cr + 2..cr + 2 + n)?.to_vec()))
        }
        _ => None,
    }
}

/// The script's return value as a reply (Redis's luaReplyToRedisReply).
fn lua_to_reply(v: &Value) -> Reply {
    match v {
        Value::String(s) => Reply::Bulk(s.as_bytes().to_vec()),
        Value::Integer(i) => Reply::Int(*i),
        // C's (long long) cast on x86: NaN and out-of-range values give INT64_MIN.
        Value::Number(n) if n.is_nan() || n.abs() >= i64::MAX as f64 => Reply::Int(i64::MIN),
        Value::Number(n) => Reply::Int(*n as i64),
        Value::Boolean(true) => Reply::Int(1),
        Value::Boolean(false) => Reply::Nil,
        Value::Table(t) => table_to_reply(t),
        _ => Reply::Nil,
    }
}

fn table_to_reply(t: &Table) -> Reply {
    let text = |v: Value| match v {
        Value::String(s) => Some(String::from_utf8_lossy(&s.as_bytes()).into_owned()),
        _ => None,
    };
    if let Some(e) = t.raw_get::<Value>("err").ok().and_then(text) {
        return Reply::Error(e);
    }
    if let Some(ok) = t.raw_get::<Value>("ok").ok().and_then(text) {
        return Reply::Status(ok);
    }
    if let Ok(Value::Number(d)) = t.raw_get::<Value>("double") {
        return Reply::Double(d);
    }
    if let Ok(Value::Integer(d)) = t.raw_get::<Value>("double") {
        return Reply::Double(d as f64);
    }
    if let Ok(Value::Table(m)) = t.raw_get::<Value>("map") {
        let mut pairs = Vec::new();
        for (k, v) in m.pairs::<Value, Value>().flatten() {
            pairs.push((lua_to_reply(&k), lua_to_reply(&v)));
        }
        return Reply::Map(pairs);
    }
    if let Ok(Value::Table(m)) = t.raw_get::<Value>("set") {
        let items: Vec<Reply> = m.pairs::<Value, Value>().flatten().map(|(k, _)| lua_to_reply(&k)).collect();
        return Reply::Set(items);
    }
    if let Some(b) = t.raw_get::<Value>("big_number").ok().and_then(text) {
        return Reply::BigNumber(b);
    }
    if let Ok(Value::Table(vs)) = t.raw_get::<Value>("verbatim_string") {
        let body: Option<mlua::String> = vs.get("string").ok();
        return Reply::Verbatim("txt", body.map(|b| b.as_bytes().to_vec()).unwrap_or_default());
    }
    let mut items = Vec::new();
    for i in 1.. {
        match t.raw_get::<Value>(i) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(v) => items.push(lua_to_reply(&v)),
        }
    }
    Reply::Array(items)
}

// ---------------------------------------------------------------------------------------
// SCRIPT
// ---------------------------------------------------------------------------------------

fn script_load(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let body = argv[2];
    let sha = sha1_hex(body);
    if !ctx.shared.scripts.read().contains_key(&sha) {
        // Compiled on this worker now, so a syntax error is reported at load time.
        let r = with_vm(ctx.shared, |vm| match compile_script(vm, &sha, body) {
            Ok(_) => Reply::ok(),
            Err(e) => Reply::Error(e),
        });
        if r.is_error() {
            return r;
        }
        ctx.shared.scripts.write().insert(sha.clone(), Arc::from(body));
    }
    Reply::Bulk(sha.into_bytes())
}

fn script_exists(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let scripts = ctx.shared.scripts.read();
    Reply::Array(
        argv[2..]
            .iter()
            .map(|a| Reply::Int(scripts.contains_key(&String::from_utf8_lossy(a).to_ascii_lowercase()) as i64))
            .collect(),
    )
}

fn script_flush(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    if argv.len() > 3
        || (argv.len() == 3 && !argv[2].eq_ignore_ascii_case(b"sync") && !argv[2].eq_ignore_ascii_case(b"async"))
    {
        return Reply::err("ERR SCRIPT FLUSH only support SYNC|ASYNC option");
    }
    ctx.shared.scripts.write().clear();
    ctx.shared.script_gen.fetch_add(1, Ordering::AcqRel);
    Reply::ok()
}

fn script_kill(_: &mut Ctx, _: &[&[u8]]) -> Reply {
    Reply::err("NOTBUSY No scripts in execution right now.")
}

fn script_help(_: &mut Ctx, _: &[&[u8]]) -> Reply {
    super::connection::help_reply(
        "SCRIPT",
        &[
            "EXISTS <sha1> [<sha1> ...]",
            "    Return information about the existence of the scripts in the script cache.",
            "FLUSH [ASYNC|SYNC]",
            "    Flush the Lua scripts cache. Very dangerous on replicas.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the scripts cache.",
            "    * SYNC: Synchronously flush the scripts cache.",
            "KILL",
            "    Kill the currently executing Lua script.",
            "LOAD <script>",
            "    Load a script into the scripts cache without executing it.",
        ],
    )
}

// ---------------------------------------------------------------------------------------
// SHA-1
// ---------------------------------------------------------------------------------------

/// SHA-1 of `data` as lowercase hex (script ids, redis.sha1hex).
pub fn sha1_hex(data: &[u8]) -> String {
    let mut h: [u32; 5] = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0];
    for chunk in super::acl::md_padded(data).chunks(64) {
        let mut w = [0u32; 80];
        for i in 0..16 {
            w[i] = u32::from_be_bytes([chunk[4 * i], chunk[4 * i + 1], chunk[4 * i + 2], chunk[4 * i + 3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A827999),
                20..=39 => (b ^ c ^ d, 0x6ED9EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1BBCDC),
                _ => (b ^ c ^ d, 0xCA62C1D6),
            };
            let t = a.rotate_left(5).wrapping_add(f).wrapping_add(e).wrapping_add(k).wrapping_add(*wi);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e]) {
            *x = x.wrapping_add(y);
        }
    }
    h.iter().map(|x| format!("{x:08x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lrand48_follows_redis() {
        // redis-server 7.0: EVAL "math.randomseed(42) return {math.random(1000000),
        // math.random(1000000)}" 0 answers 744526, 342702.
        srand48(42);
        let pick = |v: i32| ((v % i32::MAX) as f64 / i32::MAX as f64 * 1_000_000.0).floor() as i64 + 1;
        assert_eq!([pick(lrand48()), pick(lrand48())], [744526, 342702]);
    }

    #[test]
    fn sha1_vectors() {
        assert_eq!(sha1_hex(b""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(sha1_hex(b"abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(sha1_hex(b"return 'hi'"), "2f31ba2bb6d6a0f42cc159d2e2dad55440778de3");
    }

    #[test]
    fn error_tables_follow_redis() {
        let lua = Lua::new();
        let get = |b: &[u8], dash: bool| -> String {
            let t = error_table(&lua, b, dash).unwrap();
            t.get::<String>("err").unwrap()
        };
        assert_eq!(get(b"noprefix", true), "ERR noprefix");
        assert_eq!(get(b"MY err", true), "MY err");
        assert_eq!(get(b"-X y", true), "X y");
        assert_eq!(
            get(b"Unknown Redis command called from script", false),
            "ERR Unknown Redis command called from script"
        );
    }
}
