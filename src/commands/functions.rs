//! Redis Functions (7.0's functions.c / function_lua.c): FUNCTION LOAD DELETE FLUSH LIST
//! STATS DUMP RESTORE KILL HELP, and FCALL / FCALL_RO.
//!
//! Owns: the library registry (`Shared::functions`: each library's code and its
//! functions' names, flags and descriptions) and the loading of a library's code into a
//! worker's Lua VM (`redis.register_function`). Runs on the scripting machinery: a
//! function call is a script run (alone, under every worker's gate; see scripting.rs)
//! whose callback gets KEYS and ARGV as arguments.
//!
//! Must hold: the registry changes only after a library loaded completely (compiled, ran,
//! registered at least one function, no name clash); every worker reloads its callbacks
//! when `Shared::function_gen` moved; FUNCTION LOAD/DELETE/FLUSH/RESTORE reach the AOF as
//! typed; error texts are Redis 7.0's.

use super::flags::*;
use super::scripting::{lua_error_text, raise, run_script, script_error, with_vm, Vm};
use super::state::Shared;
use super::{Command, Ctx};
use crate::protocol::Reply;
use crate::store::glob::glob_match;
use mlua::{Function, MultiValue, Table, Value};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

const G: &str = "scripting";

pub static COMMANDS: &[Command] = &[
    Command::new("fcall", G, -3, SCRIPT | NOSCRIPT | SKIP_MONITOR | MAY_REPLICATE | STALE | LOCK_WRITE, fcall)
        .keynum(2, 0, 1, 1, "RW access update")
        .doc("Invoke a function", "7.0.0", "Depends on the function that is executed.")
        .args("function numkeys [key [key ...]] [arg [arg ...]]"),
    Command::new("fcall_ro", G, -3, SCRIPT | NOSCRIPT | SKIP_MONITOR | STALE | READONLY | LOCK_WRITE, fcall_ro)
        .keynum(2, 0, 1, 1, "RO access")
        .doc("Invoke a read-only function", "7.0.0", "Depends on the function that is executed.")
        .args("function numkeys [key [key ...]] [arg [arg ...]]"),
    Command::container("function", G, FUNCTION_SUBS).doc(
        "A container for function commands",
        "7.0.0",
        "Depends on subcommand.",
    ),
];

static FUNCTION_SUBS: &[Command] = &[
    Command::new("function|load", G, -3, WRITE | DENYOOM | NOSCRIPT, function_load)
        .doc(
            "Create a function with the given arguments (name, code, description)",
            "7.0.0",
            "O(1) (considering compilation time is redundant)",
        )
        .args("[REPLACE] function-code"),
    Command::new("function|delete", G, 3, WRITE | NOSCRIPT, function_delete)
        .doc("Delete a function by name", "7.0.0", "O(1)")
        .args("library-name"),
    Command::new("function|flush", G, -2, WRITE | NOSCRIPT, function_flush)
        .doc("Deleting all functions", "7.0.0", "O(N) where N is the number of functions deleted")
        .args("[ASYNC|SYNC]"),
    Command::new("function|list", G, -2, NOSCRIPT, function_list)
        .doc("List information about all the functions", "7.0.0", "O(N) where N is the number of functions")
        .args("[LIBRARYNAME library-name-pattern] [WITHCODE]"),
    Command::new("function|stats", G, 2, NOSCRIPT | ALLOW_BUSY, function_stats).doc(
        "Return information about the function currently running (name, description, duration)",
        "7.0.0",
        "O(1)",
    ),
    Command::new("function|dump", G, 2, NOSCRIPT, function_dump).doc(
        "Dump all functions into a serialized binary payload",
        "7.0.0",
        "O(N) where N is the number of functions",
    ),
    Command::new("function|restore", G, -3, WRITE | DENYOOM | NOSCRIPT, function_restore)
        .doc(
            "Restore all the functions on the given payload",
            "7.0.0",
            "O(N) where N is the number of functions on the payload",
        )
        .args("serialized-value [FLUSH|APPEND|REPLACE]"),
    Command::new("function|kill", G, 2, NOSCRIPT | ALLOW_BUSY, function_kill).doc(
        "Kill the function currently in execution.",
        "7.0.0",
        "O(1)",
    ),
    Command::new("function|help", G, 2, LOADING | STALE, function_help).doc(
        "Show helpful text about the different subcommands",
        "7.0.0",
        "O(1)",
    ),
];

/// One registered function.
#[derive(Clone, Debug)]
pub struct FuncMeta {
    pub name: String,
    pub description: Option<String>,
    pub flags: Vec<String>,
}

/// One library: its code as loaded and its functions in registration order.
#[derive(Clone, Debug)]
pub struct Library {
    pub code: Arc<[u8]>,
    pub funcs: Vec<FuncMeta>,
}

/// Every library by name.
#[derive(Default)]
pub struct Registry {
    pub libs: BTreeMap<String, Library>,
}

impl Registry {
    /// A function by name (case-insensitive, as Redis's function dictionary).
    fn find(&self, name: &str) -> Option<(&str, &FuncMeta)> {
        self.libs
            .iter()
            .find_map(|(l, lib)| lib.funcs.iter().find(|f| f.name.eq_ignore_ascii_case(name)).map(|f| (l.as_str(), f)))
    }
    fn functions_count(&self) -> usize {
        self.libs.values().map(|l| l.funcs.len()).sum()
    }
}

const FLAGS: [&str; 5] = ["no-writes", "allow-oom", "allow-stale", "no-cluster", "allow-cross-slot-keys"];

fn valid_name(n: &str) -> bool {
    !n.is_empty() && n.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

const BAD_NAME: &str =
    "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

/// The library's name from its `#!lua name=<name>` line, and the code with that line
/// blanked (line numbers stay right).
fn metadata(code: &[u8]) -> Result<(String, Vec<u8>), String> {
    if !code.starts_with(b"#!") {
        return Err("ERR Missing library metadata".into());
    }
    let end = code.iter().position(|&c| c == b'\n').unwrap_or(code.len());
    let line = String::from_utf8_lossy(&code[2..end]).to_string();
    let mut parts = line.split(' ').filter(|p| !p.is_empty());
    let engine = parts.next().unwrap_or("");
    if !engine.eq_ignore_ascii_case("lua") {
        return Err(format!("ERR Engine '{engine}' not found"));
    }
    let mut name = None;
    for p in parts {
        match p.strip_prefix("name=") {
            Some(_) if name.is_some() => {
                return Err("ERR Invalid metadata value, name argument was given multiple times".into())
            }
            Some(n) => name = Some(n.to_string()),
            None => return Err(format!("ERR Invalid metadata value given: {p}")),
        }
    }
    let name = name.ok_or_else(|| "ERR Library name was not given".to_string())?;
    if !valid_name(&name) {
        return Err(BAD_NAME.into());
    }
    Ok((name, code[end..].to_vec()))
}

/// Runs a library's code in `vm` with `redis.register_function`; the functions it
/// registered, with their callbacks.
fn load_in_vm(vm: &Vm, body: &[u8]) -> Result<Vec<(FuncMeta, Function)>, String> {
    let lua = &vm.lua;
    let f = lua
        .load(body)
        .set_name("@user_function")
        .into_function()
        .map_err(|e| format!("ERR Error compiling function: {}", lua_error_text(&e)))?;
    vm.setfenv.call::<()>((f.clone(), vm.env.clone())).map_err(|e| format!("ERR {e}"))?;
    let registered: RefCell<Vec<(FuncMeta, Function)>> = RefCell::new(Vec::new());
    let res: mlua::Result<()> = lua.scope(|scope| {
        let reg = scope.create_function(|_, args: MultiValue| {
            let (meta, cb) = register_args(args)?;
            let mut r = registered.borrow_mut();
            if r.iter().any(|(m, _)| m.name == meta.name) {
                return Err(raise(b"ERR Function already exists in the library".to_vec()));
            }
            r.push((meta, cb));
            Ok(())
        })?;
        vm.redis.raw_set("register_function", reg)?;
        // The run-time API is not there while a library loads (as in Redis).
        let saved: Vec<(&str, Value)> =
            ["call", "pcall", "setresp"].iter().map(|k| (*k, vm.redis.raw_get::<Value>(*k).unwrap_or(Value::Nil))).collect();
        for (k, _) in &saved {
            vm.redis.raw_set(*k, Value::Nil)?;
        }
        // While loading, the rest of the redis API does not exist (as in Redis).
        let guard: Table = lua
            .load(
                "return {__index = function(t, k) error(\"Script attempted to access nonexistent global variable '\" .. tostring(k) .. \"'\", 2) end}",
            )
            .set_name("=bootstrap")
            .call(())?;
        vm.redis.set_metatable(Some(guard));
        let r = f.call::<()>(());
        vm.redis.set_metatable(None);
        vm.redis.raw_set("register_function", Value::Nil)?;
        for (k, v) in saved {
            vm.redis.raw_set(k, v)?;
        }
        r
    });
    if let Err(e) = res {
        let text = match script_error(&e) {
            Some(t) => String::from_utf8_lossy(&t).into_owned(),
            None => format!("ERR {}", lua_error_text(&e)),
        };
        return Err(format!("ERR Error registering functions: {text}"));
    }
    let out = registered.into_inner();
    if out.is_empty() {
        return Err("ERR No functions registered".into());
    }
    Ok(out)
}

/// `redis.register_function(name, callback)` or `redis.register_function{function_name=,
/// callback=, flags=, description=}`.
fn register_args(args: MultiValue) -> mlua::Result<(FuncMeta, Function)> {
    let e = |m: &str| raise(format!("ERR {m}").into_bytes());
    // Lua's tostring coercion, as Redis reads these arguments (a number is a name too).
    let text = |v: &Value| match v {
        Value::String(s) => Some(String::from_utf8_lossy(&s.as_bytes()).into_owned()),
        Value::Integer(i) => Some(i.to_string()),
        Value::Number(n) => Some(super::scripting::lua_number_text(*n)),
        _ => None,
    };
    let (name, cb, flags, description) = match args.len() {
        1 => {
            let Some(Value::Table(t)) = args.front() else {
                return Err(e("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments)."));
            };
            let (mut name, mut cb, mut flags, mut desc) = (None, None, Vec::new(), None);
            for pair in t.clone().pairs::<Value, Value>() {
                let (k, v) = pair?;
                match text(&k).as_deref() {
                    Some("function_name") => {
                        name = Some(text(&v).ok_or_else(|| {
                            e("function_name argument given to redis.register_function must be a string")
                        })?)
                    }
                    Some("callback") => match v {
                        Value::Function(f) => cb = Some(f),
                        _ => return Err(e("callback argument given to redis.register_function must be a function")),
                    },
                    Some("description") => {
                        desc = Some(text(&v).ok_or_else(|| {
                            e("description argument given to redis.register_function must be a string")
                        })?)
                    }
                    Some("flags") => {
                        let Value::Table(ft) = v else {
                            return Err(e(
                                "flags argument to redis.register_function must be a table representing function flags",
                            ));
                        };
                        for f in ft.sequence_values::<Value>() {
                            let f = text(&f?).ok_or_else(|| e("unknown flag given"))?;
                            if !FLAGS.contains(&f.as_str()) {
                                return Err(e("unknown flag given"));
                            }
                            flags.push(f);
                        }
                    }
                    _ => return Err(e("unknown argument given to redis.register_function")),
                }
            }
            let name = name.ok_or_else(|| e("redis.register_function must get a function name argument"))?;
            let cb = cb.ok_or_else(|| e("redis.register_function must get a callback argument"))?;
            (name, cb, flags, desc)
        }
        2 => {
            let mut it = args.into_iter();
            let name = it
                .next()
                .as_ref()
                .and_then(text)
                .ok_or_else(|| e("first argument to redis.register_function must be a string"))?;
            let Some(Value::Function(cb)) = it.next() else {
                return Err(e("second argument to redis.register_function must be a function"));
            };
            (name, cb, Vec::new(), None)
        }
        _ => return Err(e("wrong number of arguments to redis.register_function")),
    };
    if !valid_name(&name) {
        return Err(raise(BAD_NAME.as_bytes().to_vec()));
    }
    Ok((FuncMeta { name, description, flags }, cb))
}

/// Loads a library into the registry (FUNCTION LOAD / RESTORE / startup): checked on
/// this worker's VM, then installed; Ok is its name.
pub fn load_library(shared: &Shared, code: &[u8], replace: bool) -> Result<String, String> {
    let (name, body) = metadata(code)?;
    if !replace && shared.functions.read().libs.contains_key(&name) {
        return Err(format!("ERR Library '{name}' already exists"));
    }
    let mut funcs = Vec::new();
    let mut err = None;
    let r = with_vm(shared, |vm| {
        match load_in_vm(vm, &body) {
            Ok(list) => funcs = list.into_iter().map(|(m, _)| m).collect(),
            Err(e) => err = Some(e),
        }
        Reply::ok()
    });
    if let Reply::Error(e) = r {
        return Err(e);
    }
    if let Some(e) = err {
        return Err(e);
    }
    let mut reg = shared.functions.write();
    for f in &funcs {
        if let Some((lib, _)) = reg.find(&f.name) {
            if lib != name {
                return Err(format!("ERR Function {} already exists", f.name));
            }
        }
    }
    reg.libs.insert(name.clone(), Library { code: Arc::from(code), funcs });
    shared.function_gen.fetch_add(1, Ordering::AcqRel);
    Ok(name)
}

fn function_load(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    // Options before the code: REPLACE (any number of times), as Redis parses them.
    let code = argv[argv.len() - 1];
    let mut replace = false;
    for o in &argv[2..argv.len() - 1] {
        if !o.eq_ignore_ascii_case(b"replace") {
            return Reply::Error(format!("ERR Unknown option given: {}", String::from_utf8_lossy(o)));
        }
        replace = true;
    }
    match load_library(ctx.shared, code, replace) {
        Ok(name) => {
            let r = Reply::Bulk(name.into_bytes());
            ctx.log_to_aof(argv, &r, true);
            r
        }
        Err(e) => Reply::Error(e),
    }
}

fn function_delete(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let name = String::from_utf8_lossy(argv[2]).to_string();
    if ctx.shared.functions.write().libs.remove(&name).is_none() {
        return Reply::err("ERR Library not found");
    }
    ctx.shared.function_gen.fetch_add(1, Ordering::AcqRel);
    let r = Reply::ok();
    ctx.log_to_aof(argv, &r, true);
    r
}

fn function_flush(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    if argv.len() > 3
        || (argv.len() == 3 && !argv[2].eq_ignore_ascii_case(b"sync") && !argv[2].eq_ignore_ascii_case(b"async"))
    {
        return Reply::err("ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
    }
    ctx.shared.functions.write().libs.clear();
    ctx.shared.function_gen.fetch_add(1, Ordering::AcqRel);
    let r = Reply::ok();
    ctx.log_to_aof(argv, &r, true);
    r
}

fn function_list(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let (mut pattern, mut code) = (None, false);
    let mut i = 2;
    while i < argv.len() {
        if argv[i].eq_ignore_ascii_case(b"withcode") && !code {
            code = true;
            i += 1;
        } else if argv[i].eq_ignore_ascii_case(b"libraryname") && pattern.is_none() {
            let Some(p) = argv.get(i + 1) else { return Reply::err("ERR library name argument was not given") };
            pattern = Some(*p);
            i += 2;
        } else {
            return Reply::Error(format!("ERR Unknown argument {}", String::from_utf8_lossy(argv[i])));
        }
    }
    let b = |s: &str| Reply::Bulk(s.as_bytes().to_vec());
    let reg = ctx.shared.functions.read();
    let libs = reg
        .libs
        .iter()
        .filter(|(name, _)| pattern.is_none_or(|p| glob_match(p, name.as_bytes(), false)))
        .map(|(name, lib)| {
            let funcs = lib
                .funcs
                .iter()
                .map(|f| {
                    Reply::Map(vec![
                        (b("name"), b(&f.name)),
                        (b("description"), f.description.as_deref().map_or(Reply::Nil, b)),
                        (b("flags"), Reply::Set(f.flags.iter().map(|x| Reply::Status(x.clone())).collect())),
                    ])
                })
                .collect();
            let mut m =
                vec![(b("library_name"), b(name)), (b("engine"), b("LUA")), (b("functions"), Reply::Array(funcs))];
            if code {
                m.push((b("library_code"), Reply::Bulk(lib.code.to_vec())));
            }
            Reply::Map(m)
        })
        .collect();
    Reply::Array(libs)
}

fn function_stats(ctx: &mut Ctx, _: &[&[u8]]) -> Reply {
    stats_reply(ctx.shared)
}

/// FUNCTION STATS: the running function (if a worker is running one) and the engine's
/// counts. Also answered by the event loop while a function is busy.
pub fn stats_reply(shared: &Shared) -> Reply {
    let b = |s: &str| Reply::Bulk(s.as_bytes().to_vec());
    let now = crate::store::unix_ms();
    let running = shared.script.runs.iter().find_map(|r| {
        if !(r.running.load(Ordering::Acquire) && r.function.load(Ordering::Acquire)) {
            return None;
        }
        let (name, argv) = r.call.lock().clone()?;
        let ms = now - r.started_ms.load(Ordering::Acquire);
        Some(Reply::Map(vec![
            (b("name"), b(&name)),
            (b("command"), Reply::Array(argv.into_iter().map(Reply::Bulk).collect())),
            (b("duration_ms"), Reply::Int(ms.max(0))),
        ]))
    });
    let reg = shared.functions.read();
    Reply::Map(vec![
        (b("running_script"), running.unwrap_or(Reply::Nil)),
        (
            b("engines"),
            Reply::Map(vec![(
                b("LUA"),
                Reply::Map(vec![
                    (b("libraries_count"), Reply::Int(reg.libs.len() as i64)),
                    (b("functions_count"), Reply::Int(reg.functions_count() as i64)),
                ]),
            )]),
        ),
    ])
}

/// Every library as RDB function records (opcode 245 + the code), as FUNCTION DUMP
/// and RDB files carry them.
pub fn dump_records(shared: &Shared, w: &mut crate::persistence::rdb::Writer) {
    for lib in shared.functions.read().libs.values() {
        w.byte(crate::persistence::rdb::OP_FUNCTION2);
        w.string(&lib.code);
    }
}

fn function_dump(ctx: &mut Ctx, _: &[&[u8]]) -> Reply {
    let opts = {
        let c = ctx.shared.config.read();
        crate::persistence::rdb::SaveOpts {
            compress: c.rdbcompression,
            list_max_listpack_size: c.list_max_listpack_size,
        }
    };
    let mut w = crate::persistence::rdb::Writer::new(opts);
    dump_records(ctx.shared, &mut w);
    Reply::Bulk(crate::persistence::rdb::seal_payload(w.buf))
}

fn function_restore(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let policy = match argv.get(3) {
        None => "append".to_string(),
        Some(p) if argv.len() == 4 => String::from_utf8_lossy(p).to_ascii_lowercase(),
        Some(_) => return Reply::err("ERR wrong number of arguments for 'function|restore' command"),
    };
    if !matches!(policy.as_str(), "append" | "replace" | "flush") {
        return Reply::err("ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.");
    }
    let Some(body) = crate::persistence::rdb::verify_payload(argv[2]) else {
        return Reply::err("ERR DUMP payload version or checksum are wrong");
    };
    let mut r = crate::persistence::rdb::Reader::new(body);
    let mut codes = Vec::new();
    while r.pos() < body.len() {
        match r.u8() {
            Ok(crate::persistence::rdb::OP_FUNCTION2) => match r.string() {
                Ok(c) => codes.push(c),
                Err(_) => return Reply::err("ERR payload is not a valid functions payload"),
            },
            _ => return Reply::err("ERR given type is not a function"),
        }
    }
    // All or nothing: the current libraries come back if one of the payload's fails.
    let saved: BTreeMap<String, Library> = ctx.shared.functions.read().libs.clone();
    if policy == "flush" {
        ctx.shared.functions.write().libs.clear();
    }
    for c in &codes {
        if let Err(e) = load_library(ctx.shared, c, policy == "replace") {
            // Redis words the collision without quotes here.
            let e = match metadata(c) {
                Ok((name, _)) if e == format!("ERR Library '{name}' already exists") => {
                    format!("ERR Library {name} already exists")
                }
                _ => e,
            };
            ctx.shared.functions.write().libs = saved;
            ctx.shared.function_gen.fetch_add(1, Ordering::AcqRel);
            return Reply::Error(e);
        }
    }
    ctx.shared.function_gen.fetch_add(1, Ordering::AcqRel);
    let r = Reply::ok();
    ctx.log_to_aof(argv, &r, true);
    r
}

fn function_kill(_: &mut Ctx, _: &[&[u8]]) -> Reply {
    Reply::err("NOTBUSY No scripts in execution right now.")
}

fn function_help(_: &mut Ctx, _: &[&[u8]]) -> Reply {
    super::connection::help_reply(
        "FUNCTION",
        &[
            "LOAD [REPLACE] <FUNCTION CODE>",
            "    Create a new library with the given library name and code.",
            "DELETE <LIBRARY NAME>",
            "    Delete the given library.",
            "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
            "    Return general information on all the libraries:",
            "    * Library name",
            "    * The engine used to run the Library",
            "    * Library description",
            "    * Functions list",
            "    * Library code (if WITHCODE is given)",
            "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
            "FLUSH [ASYNC|SYNC]",
            "    Delete all the libraries.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the libraries.",
            "    * SYNC: Synchronously flush the libraries.",
            "DUMP",
            "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
            "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
            "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
            "    control how to handle existing libraries (default APPEND):",
            "    * FLUSH: delete all existing libraries.",
            "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
            "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
            "      libraries with the new libraries (notice that even on this option there is a chance of failure",
            "      in case of functions name collision with another library).",
            "STATS",
            "    Return information about the current function running:",
            "    * Function name",
            "    * Command used to run the function",
            "    * Duration in MS that the function is running",
            "    If no function is running, return nil",
            "    In addition, returns a list of available engines.",
            "KILL",
            "    Kill the current running function.",
        ],
    )
}

fn fcall(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    fcall_generic(ctx, argv, false)
}
fn fcall_ro(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    fcall_generic(ctx, argv, true)
}

fn fcall_generic(ctx: &mut Ctx, argv: &[&[u8]], ro_cmd: bool) -> Reply {
    let (keys, args) = match super::scripting::keys_and_args(argv, "ERR Bad number of keys provided") {
        Ok(x) => x,
        Err(e) => return e,
    };
    let asked = String::from_utf8_lossy(argv[1]).to_ascii_lowercase();
    let shared: &Shared = ctx.shared;
    with_vm(shared, |vm| {
        // The registry is read only when it changed: the VM keeps each function's
        // callback and flags.
        let gen = shared.function_gen.load(Ordering::Acquire);
        if vm.fgen != gen {
            vm.fcallbacks.clear();
            vm.exclusive_functions.clear();
            let codes: Vec<Arc<[u8]>> = shared.functions.read().libs.values().map(|l| l.code.clone()).collect();
            for code in codes {
                let Ok((_, body)) = metadata(&code) else { continue };
                match load_in_vm(vm, &body) {
                    Ok(list) => vm.fcallbacks.extend(list.into_iter().map(|(m, f)| {
                        let no_writes = m.flags.iter().any(|x| x == "no-writes");
                        (m.name.to_ascii_lowercase(), (m.name, no_writes, f))
                    })),
                    Err(e) => log::warn!("a function library failed to load on this worker: {e}"),
                }
            }
            vm.fgen = gen;
        }
        let Some((name, no_writes, cb)) = vm.fcallbacks.get(&asked).cloned() else {
            return Reply::err("ERR Function not found");
        };
        if ro_cmd && !no_writes {
            return Reply::err("ERR Can not execute a script with write flag using *_ro command.");
        }
        let slot = shared.script.runs.get(ctx.stats.idx);
        if let Some(s) = slot {
            *s.call.lock() = Some((name.clone(), argv.iter().map(|a| a.to_vec()).collect()));
        }
        let r = run_script(vm, ctx, &cb, &name, keys, args, no_writes || ro_cmd, true);
        if let Some(s) = slot {
            *s.call.lock() = None;
        }
        r
    })
}
