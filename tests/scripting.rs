//! Lua scripting beyond the reply-by-reply comparisons of tests/diff/scripting.redis:
//! atomicity under concurrent writers on a multi-worker server (declared keys and keys
//! the script never declared), invariants readers can check mid-flight, the AOF record of
//! a script (its effects inside MULTI/EXEC), and the sandbox across scripts.

mod common;

use common::{start_rustis, RawConn};
use std::time::Duration;

fn int_reply(r: &[u8]) -> i64 {
    let s = String::from_utf8_lossy(r);
    let t = s.trim_start_matches([':', '$']).lines().last().unwrap_or("").trim().to_string();
    t.parse().unwrap_or_else(|_| panic!("not an integer reply: {s:?}"))
}

/// Read-modify-write scripts (GET then SET, not atomic on their own) from 4 clients, one
/// on a declared key and one on a key the script does not declare, interleaved with
/// plain INCRs from 2 more clients: no update is lost.
#[test]
fn scripts_are_atomic_under_concurrent_writers() {
    let srv = start_rustis(&["--workers", "4"]);
    let port = srv.port;
    let rmw_declared =
        b"local v = tonumber(redis.call('get', KEYS[1]) or '0'); redis.call('set', KEYS[1], v + 1); return v + 1";
    let rmw_undeclared = b"local v = tonumber(redis.call('get', 'undeclared') or '0'); redis.call('set', 'undeclared', v + 1); return v + 1";
    let n = 300;
    let mut threads = Vec::new();
    for t in 0..6 {
        threads.push(std::thread::spawn(move || {
            let mut c = RawConn::connect(port).expect("connect");
            for _ in 0..n {
                match t {
                    0 | 1 => {
                        c.cmd(&[b"EVAL", rmw_declared, b"1", b"counter"]);
                    }
                    2 | 3 => {
                        c.cmd(&[b"EVAL", rmw_undeclared, b"0"]);
                    }
                    4 => {
                        c.cmd(&[b"INCR", b"counter"]);
                    }
                    _ => {
                        c.cmd(&[b"INCR", b"undeclared"]);
                    }
                }
            }
        }));
    }
    for t in threads {
        t.join().expect("client thread");
    }
    let mut c = RawConn::connect(port).expect("connect");
    assert_eq!(int_reply(&c.cmd(&[b"GET", b"counter"])), 3 * n as i64);
    assert_eq!(int_reply(&c.cmd(&[b"GET", b"undeclared"])), 3 * n as i64);
}

/// A script moving units between two accounts it does not declare, while readers MGET
/// both: the sum is always the same (no reader sees half a transfer).
#[test]
fn readers_never_see_half_a_script() {
    let srv = start_rustis(&["--workers", "4"]);
    let port = srv.port;
    let mut c = RawConn::connect(port).expect("connect");
    c.cmd(&[b"MSET", b"acct:a", b"1000", b"acct:b", b"1000"]);
    let transfer = b"redis.call('decrby', 'acct:a', 1); redis.call('incrby', 'acct:b', 1); return 1";
    let writers: Vec<_> = (0..2)
        .map(|_| {
            std::thread::spawn(move || {
                let mut c = RawConn::connect(port).expect("connect");
                for _ in 0..400 {
                    assert_eq!(c.cmd(&[b"EVAL", transfer, b"0"]), b":1\r\n");
                }
            })
        })
        .collect();
    let readers: Vec<_> = (0..2)
        .map(|_| {
            std::thread::spawn(move || {
                let mut c = RawConn::connect(port).expect("connect");
                for _ in 0..400 {
                    let r = c.cmd(&[b"MGET", b"acct:a", b"acct:b"]);
                    let text = String::from_utf8_lossy(&r).to_string();
                    let nums: Vec<i64> = text.lines().filter_map(|l| l.parse().ok()).collect();
                    assert_eq!(nums.len(), 2, "{text:?}");
                    assert_eq!(nums[0] + nums[1], 2000, "a reader saw half a transfer: {text:?}");
                }
            })
        })
        .collect();
    for t in writers.into_iter().chain(readers) {
        t.join().expect("thread");
    }
    assert_eq!(c.cmd(&[b"GET", b"acct:a"]), b"$3\r\n200\r\n");
}

/// A script's writes go to the AOF as its effects, inside MULTI/EXEC; a script that only
/// reads writes nothing; the data comes back after a restart from the AOF.
#[test]
fn script_effects_reach_the_aof_in_a_transaction() {
    let srv = start_rustis(&["--appendonly", "yes", "--appendfsync", "always"]);
    let mut c = RawConn::connect(srv.port).expect("connect");
    assert_eq!(
        c.cmd(&[
            b"EVAL",
            b"redis.call('set', KEYS[1], 'x'); redis.call('rpush', 'lst', 'a', 'b'); return 1",
            b"1",
            b"k"
        ]),
        b":1\r\n"
    );
    assert_eq!(c.cmd(&[b"EVAL", b"return redis.call('get', 'k')", b"0"]), b"$1\r\nx\r\n");
    let dir = srv.dir().join("appendonlydir");
    let mut text = String::new();
    for e in std::fs::read_dir(&dir).expect("appendonlydir").flatten() {
        if e.file_name().to_string_lossy().contains(".incr.aof") {
            text.push_str(&String::from_utf8_lossy(&std::fs::read(e.path()).expect("aof")));
        }
    }
    let multi = text.find("MULTI").expect("MULTI in the AOF");
    let set = text.find("$3\r\nset\r\n").or_else(|| text.find("$3\r\nSET\r\n")).expect("SET in the AOF");
    let rpush = text.to_ascii_lowercase().find("rpush").expect("RPUSH in the AOF");
    let exec = text.rfind("EXEC").expect("EXEC in the AOF");
    assert!(multi < set && set < rpush && rpush < exec, "{text:?}");
    assert!(!text.to_ascii_lowercase().contains("eval"), "the script itself is not logged: {text:?}");
    assert_eq!(text.matches("MULTI").count(), 1, "the read-only script logged nothing: {text:?}");
}

/// Globals cannot leak from one script into the next (nor through loadstring), and a
/// failing script leaves the server serving.
#[test]
fn sandbox_holds_across_scripts() {
    let srv = start_rustis(&["--workers", "2"]);
    let mut c = RawConn::connect(srv.port).expect("connect");
    let r = c.cmd(&[b"EVAL", b"leak = 1", b"0"]);
    assert!(r.starts_with(b"-ERR user_script:1: Attempt to modify a readonly table"), "{}", common::render(&r));
    let r = c.cmd(&[b"EVAL", b"local f = loadstring('leak2 = 1'); f()", b"0"]);
    assert!(common::render(&r).contains("Attempt to modify a readonly table"), "{}", common::render(&r));
    let r = c.cmd(&[b"EVAL", b"return leak2", b"0"]);
    assert!(common::render(&r).contains("nonexistent global variable 'leak2'"), "{}", common::render(&r));
    let r = c.cmd(&[b"EVAL", b"return getfenv", b"0"]);
    assert!(common::render(&r).contains("nonexistent global variable 'getfenv'"), "{}", common::render(&r));
    let r = c.cmd(&[b"EVAL", b"local s = string.dump(function() end); return loadstring(s)", b"0"]);
    assert_eq!(r, b"$-1\r\n", "bytecode is refused");
    assert_eq!(c.cmd(&[b"PING"]), b"+PONG\r\n");
    c.set_timeout(Duration::from_secs(5)).expect("timeout");
}

/// A script looping forever: after busy-reply-threshold other clients get BUSY, SCRIPT
/// KILL stops it (its client gets Redis's "killed" error) and the server serves again.
/// Same replies from redis-server.
#[test]
fn a_looping_script_is_busy_then_killed() {
    let mut transcripts = Vec::new();
    let mut servers = vec![start_rustis(&["--busy-reply-threshold", "200", "--workers", "1"])];
    if let Some(r) = common::start_redis(&["--busy-reply-threshold", "200"]) {
        servers.push(r);
    }
    for srv in &servers {
        let port = srv.port;
        let looping = std::thread::spawn(move || {
            let mut a = RawConn::connect(port).expect("connect");
            a.cmd(&[b"EVAL", b"local i = 0 while true do i = i + 1 end", b"0"])
        });
        std::thread::sleep(Duration::from_millis(600));
        let mut b = RawConn::connect(port).expect("connect");
        let mut t = vec![b.cmd(&[b"GET", b"x"]), b.cmd(&[b"PING"]), b.cmd(&[b"SCRIPT", b"KILL"])];
        t.push(looping.join().expect("looping client"));
        t.push(b.cmd(&[b"PING"]));
        t.push(b.cmd(&[b"SCRIPT", b"KILL"]));
        transcripts.push(t);
    }
    let rustis = &transcripts[0];
    assert!(rustis[0].starts_with(b"-BUSY Redis is busy running a script."), "{}", common::render(&rustis[0]));
    assert_eq!(rustis[2], b"+OK\r\n");
    assert!(
        rustis[3].starts_with(b"-ERR Script killed by user with SCRIPT KILL... script: "),
        "{}",
        common::render(&rustis[3])
    );
    assert_eq!(rustis[4], b"+PONG\r\n");
    if let Some(redis) = transcripts.get(1) {
        same_replies(rustis, redis);
    }
}

/// A looping script that wrote cannot be killed (UNKILLABLE); SHUTDOWN NOSAVE still
/// stops it and the server.
#[test]
fn a_script_that_wrote_is_unkillable_but_shutdown_nosave_works() {
    let mut srv = start_rustis(&["--busy-reply-threshold", "200", "--workers", "1"]);
    let port = srv.port;
    let looping = std::thread::spawn(move || {
        let mut a = RawConn::connect(port).expect("connect");
        let _ = a.try_cmd(&[b"EVAL", b"redis.call('set', 'w', '1') while true do end", b"0"]);
    });
    std::thread::sleep(Duration::from_millis(600));
    let mut b = RawConn::connect(port).expect("connect");
    let r = b.cmd(&[b"SCRIPT", b"KILL"]);
    assert!(r.starts_with(b"-UNKILLABLE Sorry the script already executed write commands"), "{}", common::render(&r));
    b.send(&common::encode_command(&[b"SHUTDOWN", b"NOSAVE"]));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while srv.exited().is_none() {
        assert!(std::time::Instant::now() < deadline, "the server did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = looping.join();
}

/// FUNCTION DUMP payloads are byte-identical to redis-server's and restore on either
/// side; an RDB file with function libraries from redis-server loads into Rustis (and
/// FCALL works), and Rustis's SAVE carries them back to redis-server.
#[test]
fn function_dump_restore_and_rdb_interop() {
    let Some(redis) = common::start_redis(&[]) else {
        assert!(!common::redis_required(), "redis-server is required");
        return;
    };
    let rustis = start_rustis(&[]);
    let lib = b"#!lua name=interop\nredis.register_function('hello', function(keys, args) return 'hello ' .. args[1] end)\nredis.register_function{function_name='rd', callback=function(keys) return redis.call('get', keys[1]) end, flags={'no-writes'}}";
    let mut r = RawConn::connect(redis.port).expect("redis");
    let mut s = RawConn::connect(rustis.port).expect("rustis");
    for c in [&mut r, &mut s] {
        assert_eq!(c.cmd(&[b"FUNCTION", b"LOAD", lib]), b"$7\r\ninterop\r\n");
    }
    let dr = r.cmd(&[b"FUNCTION", b"DUMP"]);
    let ds = s.cmd(&[b"FUNCTION", b"DUMP"]);
    assert_eq!(common::render(&dr), common::render(&ds), "FUNCTION DUMP payloads differ");
    // Redis's payload restores into Rustis.
    let payload = &dr[dr.iter().position(|&c| c == b'\n').expect("bulk") + 1..dr.len() - 2];
    let (er, es) = (r.cmd(&[b"FUNCTION", b"RESTORE", payload]), s.cmd(&[b"FUNCTION", b"RESTORE", payload]));
    assert_eq!(common::render(&es), common::render(&er), "RESTORE onto an existing library");
    assert_eq!(s.cmd(&[b"FUNCTION", b"FLUSH"]), b"+OK\r\n");
    assert_eq!(s.cmd(&[b"FUNCTION", b"RESTORE", payload]), b"+OK\r\n");
    assert_eq!(s.cmd(&[b"FCALL", b"hello", b"0", b"world"]), b"$11\r\nhello world\r\n");
    // RDB: redis-server's dump.rdb with the library loads into a fresh Rustis.
    assert_eq!(r.cmd(&[b"SET", b"k", b"v"]), b"+OK\r\n");
    assert_eq!(r.cmd(&[b"SAVE"]), b"+OK\r\n");
    let rdb = redis.dir().join("dump.rdb");
    let dir = common::temp_dir("fn-rdb");
    std::fs::copy(&rdb, dir.join("dump.rdb")).expect("copy dump.rdb");
    let d = dir.to_string_lossy().to_string();
    let loaded = start_rustis(&["--dir", &d, "--dbfilename", "dump.rdb"]);
    let mut l = RawConn::connect(loaded.port).expect("loaded");
    assert_eq!(l.cmd(&[b"FCALL_RO", b"rd", b"1", b"k"]), b"$1\r\nv\r\n");
    // ... and Rustis's SAVE carries it to a fresh redis-server.
    assert_eq!(l.cmd(&[b"SAVE"]), b"+OK\r\n");
    let back = common::start_redis(&["--dir", &d, "--dbfilename", "dump.rdb"]).expect("redis-server");
    let mut b = RawConn::connect(back.port).expect("redis back");
    assert_eq!(b.cmd(&[b"FCALL", b"hello", b"0", b"again"]), b"$11\r\nhello again\r\n");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Function libraries survive a restart through the AOF (FUNCTION LOAD is logged as
/// typed) and through a BGREWRITEAOF base (written into the RDB preamble).
#[test]
fn functions_survive_restart_via_aof() {
    let dir = common::temp_dir("fn-aof");
    let d = dir.to_string_lossy().to_string();
    let args = ["--dir", d.as_str(), "--appendonly", "yes", "--appendfsync", "always"];
    let lib = b"#!lua name=keep\nredis.register_function('kept', function() return 'still here' end)";
    {
        let srv = start_rustis(&args);
        let mut c = RawConn::connect(srv.port).expect("connect");
        assert_eq!(c.cmd(&[b"FUNCTION", b"LOAD", lib]), b"$4\r\nkeep\r\n");
    }
    {
        let srv = start_rustis(&args);
        let mut c = RawConn::connect(srv.port).expect("connect");
        assert_eq!(c.cmd(&[b"FCALL", b"kept", b"0"]), b"$10\r\nstill here\r\n");
        assert!(c.cmd(&[b"BGREWRITEAOF"]).starts_with(b"+"));
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let info = String::from_utf8_lossy(&c.cmd(&[b"INFO", b"persistence"])).to_string();
            if info.contains("aof_rewrite_in_progress:0") && !info.contains("aof_rewrite_scheduled:1") {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "rewrite never finished");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let srv = start_rustis(&args);
    let mut c = RawConn::connect(srv.port).expect("connect");
    assert_eq!(c.cmd(&[b"FCALL", b"kept", b"0"]), b"$10\r\nstill here\r\n");
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A transaction that holds the stripe of `u` in db 1 for half a second (DEBUG SLEEP
/// inside EXEC): a script that did not declare `u` cannot take it meanwhile.
fn hold_undeclared_stripe(port: u16) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut t = RawConn::connect(port).expect("connect");
        t.cmd(&[b"SELECT", b"1"]);
        t.cmd(&[b"MULTI"]);
        t.cmd(&[b"INCR", b"u"]);
        t.cmd(&[b"DEBUG", b"SLEEP", b"0.5"]);
        t.cmd(&[b"EXEC"])
    })
}

/// Waits (10 s at most) until CLIENT LIST shows every one of `cmds` (e.g. `cmd=exec`):
/// those clients are running, or parked in, those commands.
fn wait_for_commands(c: &mut RawConn, cmds: &[&str]) {
    let start = std::time::Instant::now();
    loop {
        let list = String::from_utf8_lossy(&c.cmd(&[b"CLIENT", b"LIST"])).to_string();
        if cmds.iter().all(|w| list.contains(w)) {
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "never saw {cmds:?}: {list}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Rustis's transcript against redis-server's, step by step.
fn same_replies(rustis: &[Vec<u8>], redis: &[Vec<u8>]) {
    assert_eq!(rustis.len(), redis.len());
    for (i, (a, b)) in rustis.iter().zip(redis).enumerate() {
        assert_eq!(common::render(a), common::render(b), "step {i}");
    }
}

/// A field of INFO stats as a number.
fn stat(c: &mut RawConn, field: &str) -> i64 {
    let r = c.cmd(&[b"INFO", b"stats"]);
    let text = String::from_utf8_lossy(&r).to_string();
    let prefix = format!("{field}:");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in {text:?}"))
}

/// A script that spins for `ms` milliseconds of server time (TIME), then INCRs KEYS[1]:
/// replies [new value, server time in us when it finished].
fn slow_incr(ms: u64) -> Vec<u8> {
    format!(
        "local t = redis.call('time') local s = t[1] * 1000000 + t[2] \
         repeat t = redis.call('time') until t[1] * 1000000 + t[2] - s > {} \
         return {{redis.call('incr', KEYS[1]), t[1] * 1000000 + t[2]}}",
        ms * 1000
    )
    .into_bytes()
}

/// INCRs KEYS[1]: replies [new value, server time in us when it started].
const QUICK_INCR: &[u8] = b"local t = redis.call('time') return {redis.call('incr', KEYS[1]), t[1] * 1000000 + t[2]}";

/// The two integers of a [value, time] reply.
fn pair(r: &[u8]) -> (i64, i64) {
    let text = String::from_utf8_lossy(r).to_string();
    let v: Vec<i64> = text.lines().filter_map(|l| l.strip_prefix(':')).filter_map(|n| n.parse().ok()).collect();
    assert_eq!(v.len(), 2, "{text:?}");
    (v[0], v[1])
}

/// Runs `EVAL body 1 key` on a new connection from a thread.
fn eval_async(port: u16, body: Vec<u8>, key: &'static str) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut c = RawConn::connect(port).expect("connect");
        c.set_timeout(Duration::from_secs(30)).expect("timeout");
        c.cmd(&[b"EVAL", &body, b"1", key.as_bytes()])
    })
}

/// Scripts on different keys run at the same time on different workers; scripts on the
/// same key still run one after the other; `script-parallel no` makes every script run
/// alone again (as in Redis). Checked with the server's own clock (TIME inside the
/// scripts): a quick script started 150 ms into a slow one either started before the
/// slow one ended (parallel) or after (serialized).
#[test]
fn scripts_on_different_keys_run_in_parallel() {
    let srv = start_rustis(&["--workers", "2"]);
    let port = srv.port;
    let mut c = RawConn::connect(port).expect("connect");
    let overlap = |slow_key: &'static str, quick_key: &'static str| {
        let slow = eval_async(port, slow_incr(500), slow_key);
        std::thread::sleep(Duration::from_millis(150));
        let quick = pair(&eval_async(port, QUICK_INCR.to_vec(), quick_key).join().expect("quick"));
        let slow = pair(&slow.join().expect("slow"));
        (slow, quick)
    };

    // Parallel: the quick script on another key started while the slow one ran.
    let ((a, slow_end), (b, quick_start)) = overlap("a", "b");
    assert_eq!((a, b), (1, 1));
    assert!(quick_start < slow_end, "the script on another key waited for the slow one");

    // Same key: the second script waits for the first (atomicity).
    let ((a1, slow_end), (a2, quick_start)) = overlap("a", "a");
    assert_eq!((a1, a2), (2, 3), "the slow script ran first");
    assert!(quick_start >= slow_end);
    assert_eq!(stat(&mut c, "rustis_scripts_parallel"), 4);
    assert_eq!(stat(&mut c, "rustis_scripts_exclusive"), 0);
    assert_eq!(stat(&mut c, "rustis_script_rollbacks"), 0);

    // script-parallel no: every script runs alone, as in Redis.
    assert_eq!(c.cmd(&[b"CONFIG", b"SET", b"script-parallel", b"no"]), b"+OK\r\n");
    let ((_, slow_end), (_, quick_start)) = overlap("a", "b");
    assert!(quick_start >= slow_end, "an exclusive script let another run beside it");
    assert_eq!(stat(&mut c, "rustis_scripts_exclusive"), 2);
    assert_eq!(c.cmd(&[b"CONFIG", b"GET", b"script-parallel"]), b"*2\r\n$15\r\nscript-parallel\r\n$2\r\nno\r\n");
}

/// The rollback path, made deterministic: a transaction holds the stripe of a key the
/// script did not declare (`u`, in db 1) for half a second, so the script's parallel run
/// (which already wrote its declared key) cannot take it. The run is rolled back and
/// repeated alone once the transaction is done: the reply, the data, the keyspace events
/// and the AOF all show exactly one run.
#[test]
fn a_script_blocked_on_an_undeclared_key_is_rolled_back_and_rerun_alone() {
    let srv = start_rustis(&[
        "--workers",
        "2",
        "--enable-debug-command",
        "yes",
        "--notify-keyspace-events",
        "KA",
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
    ]);
    let port = srv.port;
    let mut c = RawConn::connect(port).expect("connect");
    assert_eq!(c.cmd(&[b"SET", b"k", b"old"]), b"+OK\r\n");
    let mut sub = RawConn::connect(port).expect("connect");
    sub.cmd(&[b"PSUBSCRIBE", b"__keyspace@*__:*"]);

    // The transaction: holds db 1's `u` stripe while it sleeps.
    let tx = hold_undeclared_stripe(port);
    wait_for_commands(&mut c, &["cmd=exec"]);
    let script = b"redis.call('set', KEYS[1], 'new') redis.call('select', 1) return redis.call('incr', 'u')";
    assert_eq!(c.cmd(&[b"EVAL", script, b"1", b"k"]), b":2\r\n", "the script ran after the transaction");
    assert_eq!(tx.join().expect("transaction"), b"*2\r\n:1\r\n+OK\r\n");
    assert_eq!(c.cmd(&[b"GET", b"k"]), b"$3\r\nnew\r\n");
    assert_eq!(stat(&mut c, "rustis_script_rollbacks"), 1);
    assert_eq!(stat(&mut c, "rustis_scripts_exclusive"), 1);
    assert_eq!(stat(&mut c, "rustis_scripts_parallel"), 0);

    // Keyspace events: the transaction's incrby, then the script's set and incrby, once.
    c.cmd(&[b"SET", b"done", b"1"]);
    let mut events = Vec::new();
    sub.set_timeout(Duration::from_secs(5)).expect("timeout");
    loop {
        let m = String::from_utf8_lossy(&sub.read_reply()).to_string();
        let parts: Vec<&str> = m.lines().filter(|l| !l.starts_with(['*', '$'])).collect();
        let (channel, event) = (parts[2].to_string(), parts[3].to_string());
        if channel.ends_with(":done") {
            break;
        }
        events.push(format!("{channel} {event}"));
    }
    assert_eq!(
        events,
        ["__keyspace@1__:u incrby", "__keyspace@0__:k set", "__keyspace@1__:u incrby"],
        "events of the rolled-back run leaked"
    );

    // The AOF has the script's effects once.
    let dir = srv.dir().join("appendonlydir");
    let mut text = String::new();
    for e in std::fs::read_dir(&dir).expect("appendonlydir").flatten() {
        if e.file_name().to_string_lossy().contains(".incr.aof") {
            text.push_str(&String::from_utf8_lossy(&std::fs::read(e.path()).expect("aof")));
        }
    }
    assert_eq!(text.matches("$3\r\nnew\r\n").count(), 1, "{text:?}");

    // With `u` free the script runs again without a rollback: alone at once on the
    // worker that remembers it, in parallel on the other.
    assert_eq!(c.cmd(&[b"EVAL", script, b"1", b"k"]), b":3\r\n");
    assert_eq!(stat(&mut c, "rustis_script_rollbacks"), 1);
    assert_eq!(stat(&mut c, "rustis_scripts_exclusive") + stat(&mut c, "rustis_scripts_parallel"), 2);
}

/// The rollback path for a function, with a client blocked on the list it pushes to: the
/// rolled-back run's push neither stays nor wakes the client; the rerun's push is served
/// to it exactly once.
#[test]
fn a_rolled_back_function_wakes_a_blocked_client_once() {
    let srv = start_rustis(&["--workers", "2", "--enable-debug-command", "yes"]);
    let port = srv.port;
    let mut c = RawConn::connect(port).expect("connect");
    let lib = b"#!lua name=rb\nredis.register_function('pushinc', function(keys, args) redis.call('rpush', keys[1], 'item') redis.call('select', 1) return redis.call('incr', 'u') end)";
    assert_eq!(c.cmd(&[b"FUNCTION", b"LOAD", lib]), b"$2\r\nrb\r\n");
    let blocked = std::thread::spawn(move || {
        let mut b = RawConn::connect(port).expect("connect");
        b.set_timeout(Duration::from_secs(20)).expect("timeout");
        b.cmd(&[b"BLPOP", b"q", b"10"])
    });
    let tx = hold_undeclared_stripe(port);
    wait_for_commands(&mut c, &["cmd=exec", "cmd=blpop"]);
    assert_eq!(c.cmd(&[b"FCALL", b"pushinc", b"1", b"q"]), b":2\r\n");
    assert_eq!(tx.join().expect("transaction"), b"*2\r\n:1\r\n+OK\r\n");
    assert_eq!(blocked.join().expect("blocked client"), b"*2\r\n$1\r\nq\r\n$4\r\nitem\r\n");
    assert_eq!(c.cmd(&[b"LLEN", b"q"]), b":0\r\n", "the rolled-back push stayed");
    assert_eq!(stat(&mut c, "rustis_script_rollbacks"), 1);
    assert_eq!(stat(&mut c, "rustis_scripts_exclusive"), 1);
}

/// Rollbacks under load: scripts (each a new sha, so none is remembered as exclusive)
/// increment their declared counter, then a hot key they did not declare, while
/// transactions keep that hot key's stripe held and a plain client increments a declared
/// counter. Every count comes out exact: a rolled-back run leaves no trace.
#[test]
fn rolled_back_runs_leave_no_trace_under_load() {
    let srv = start_rustis(&["--workers", "4", "--enable-debug-command", "yes"]);
    let port = srv.port;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut scripts = Vec::new();
    for t in 0..2 {
        let done = done.clone();
        scripts.push(std::thread::spawn(move || {
            let mut c = RawConn::connect(port).expect("connect");
            let start = std::time::Instant::now();
            let mut n = 0i64;
            while n < 40 || (!done.load(std::sync::atomic::Ordering::Acquire) && n < 3000) {
                assert!(start.elapsed() < Duration::from_secs(60));
                let body = format!(
                    "-- {t}:{n}\nlocal v = redis.call('incr', KEYS[1]) redis.call('select', 1) redis.call('incr', 'hot') return v"
                );
                let key = format!("c:{t}");
                assert_eq!(int_reply(&c.cmd(&[b"EVAL", body.as_bytes(), b"1", key.as_bytes()])), n + 1);
                n += 1;
            }
            n
        }));
    }
    let plain = std::thread::spawn(move || {
        let mut c = RawConn::connect(port).expect("connect");
        for _ in 0..300 {
            c.cmd(&[b"INCR", b"plain"]);
            c.cmd(&[b"EVAL", b"return redis.call('incr', KEYS[1])", b"1", b"plain"]);
        }
    });
    let mut t = RawConn::connect(port).expect("connect");
    t.cmd(&[b"SELECT", b"1"]);
    for _ in 0..60 {
        t.cmd(&[b"MULTI"]);
        t.cmd(&[b"INCR", b"hot"]);
        t.cmd(&[b"DEBUG", b"SLEEP", b"0.003"]);
        let r = t.cmd(&[b"EXEC"]);
        assert!(r.starts_with(b"*2\r\n:") && r.ends_with(b"+OK\r\n"), "{}", common::render(&r));
    }
    done.store(true, std::sync::atomic::Ordering::Release);
    let runs: Vec<i64> = scripts.into_iter().map(|h| h.join().expect("script client")).collect();
    plain.join().expect("plain client");
    let mut c = RawConn::connect(port).expect("connect");
    for (i, n) in runs.iter().enumerate() {
        assert_eq!(int_reply(&c.cmd(&[b"GET", format!("c:{i}").as_bytes()])), *n);
    }
    assert_eq!(int_reply(&c.cmd(&[b"GET", b"plain"])), 600);
    c.cmd(&[b"SELECT", b"1"]);
    assert_eq!(int_reply(&c.cmd(&[b"GET", b"hot"])), runs.iter().sum::<i64>() + 60);
    let rollbacks = stat(&mut c, "rustis_script_rollbacks");
    assert!(rollbacks > 0, "no run was rolled back: the test did not test its path");
    eprintln!("script runs {runs:?}, rollbacks {rollbacks}");
}

/// math.random is Redis's: one lrand48 sequence for the whole server from the same state
/// at start (EVAL and FCALL draw from it in turn, on any worker), so a fresh Rustis and a
/// fresh redis-server give the same numbers.
#[test]
fn math_random_follows_redis_from_the_start() {
    let mut servers = vec![start_rustis(&["--workers", "2"])];
    if let Some(r) = common::start_redis(&[]) {
        servers.push(r);
    }
    let mut outs = Vec::new();
    for srv in &servers {
        let mut c = RawConn::connect(srv.port).expect("connect");
        let mut out = vec![c.cmd(&[b"EVAL", b"return {math.random(1000), math.random(5, 10)}", b"0"])];
        c.cmd(&[
            b"FUNCTION",
            b"LOAD",
            b"#!lua name=rnd\nredis.register_function('rnd', function() return math.random(1000000) end)",
        ]);
        out.push(c.cmd(&[b"FCALL", b"rnd", b"0"]));
        // Another connection (another worker, on Rustis) continues the same sequence.
        let mut d = RawConn::connect(srv.port).expect("connect");
        out.push(d.cmd(&[b"EVAL", b"return tostring(math.random())", b"0"]));
        outs.push(out);
    }
    // The first draws from redis-server 7.0 (its fixed initial lrand48 state).
    assert_eq!(outs[0][0], b"*2\r\n:397\r\n:10\r\n");
    if let Some(redis) = outs.get(1) {
        assert_eq!(outs[0], *redis);
    }
}

/// A busy function: FUNCTION STATS shows it (name, command, duration), SCRIPT KILL is
/// refused with the FUNCTION KILL hint and FUNCTION KILL stops it; a busy EVAL script
/// is the other way round. Same replies from redis-server (duration masked).
#[test]
fn busy_functions_and_scripts_answer_their_own_kill() {
    let mut servers = vec![start_rustis(&["--busy-reply-threshold", "100", "--workers", "2"])];
    if let Some(r) = common::start_redis(&["--busy-reply-threshold", "100"]) {
        servers.push(r);
    }
    let mut transcripts = Vec::new();
    for srv in &servers {
        let port = srv.port;
        let mut b = RawConn::connect(port).expect("connect");
        b.cmd(&[
            b"FUNCTION",
            b"LOAD",
            b"#!lua name=spinlib\nredis.register_function('spin', function(k, a) local i = 0 while true do i = i + 1 end end)",
        ]);
        let mut t = Vec::new();
        let spin = std::thread::spawn(move || {
            let mut a = RawConn::connect(port).expect("connect");
            a.cmd(&[b"FCALL", b"spin", b"1", b"kk", b"argone"])
        });
        std::thread::sleep(Duration::from_millis(400));
        let stats = String::from_utf8_lossy(&b.cmd(&[b"FUNCTION", b"STATS"])).to_string();
        // Mask the duration (the integer after duration_ms).
        let masked: Vec<&str> = stats.split("\r\n").collect();
        let mut out = Vec::new();
        let mut mask_next = false;
        for l in masked {
            if mask_next && l.starts_with(':') {
                out.push(":<ms>".to_string());
                mask_next = false;
                continue;
            }
            mask_next |= l == "duration_ms";
            out.push(l.to_string());
        }
        t.push(out.join("\r\n").into_bytes());
        t.push(b.cmd(&[b"SCRIPT", b"KILL"]));
        t.push(b.cmd(&[b"GET", b"x"]));
        t.push(b.cmd(&[b"FUNCTION", b"KILL"]));
        t.push(spin.join().expect("spin client"));
        let eval = std::thread::spawn(move || {
            let mut a = RawConn::connect(port).expect("connect");
            a.cmd(&[b"EVAL", b"local i = 0 while true do i = i + 1 end", b"0"])
        });
        std::thread::sleep(Duration::from_millis(400));
        t.push(b.cmd(&[b"FUNCTION", b"KILL"]));
        t.push(b.cmd(&[b"FUNCTION", b"STATS"]));
        t.push(b.cmd(&[b"SCRIPT", b"KILL"]));
        t.push(eval.join().expect("eval client"));
        t.push(b.cmd(&[b"FUNCTION", b"KILL"]));
        transcripts.push(t);
    }
    let rustis = &transcripts[0];
    let stats = String::from_utf8_lossy(&rustis[0]).to_string();
    assert!(stats.contains("running_script\r\n*6\r\n$4\r\nname\r\n$4\r\nspin\r\n$7\r\ncommand\r\n*5"), "{stats:?}");
    assert!(rustis[1].starts_with(b"-BUSY Redis is busy running a script. You can only call FUNCTION KILL"));
    assert_eq!(rustis[3], b"+OK\r\n");
    if let Some(redis) = transcripts.get(1) {
        same_replies(rustis, redis);
    }
}

/// A command sent before a script turned busy, and waiting for it (for the key it holds,
/// or, with `script-parallel no`, for the worker), gets BUSY once the script is busy, as
/// in Redis, instead of waiting until the script ends. Same replies from redis-server.
#[test]
fn commands_waiting_for_a_script_get_busy_when_it_turns_busy() {
    let mut servers = vec![
        start_rustis(&["--busy-reply-threshold", "300", "--workers", "2"]),
        start_rustis(&["--busy-reply-threshold", "300", "--workers", "2", "--script-parallel", "no"]),
    ];
    if let Some(r) = common::start_redis(&["--busy-reply-threshold", "300"]) {
        servers.push(r);
    }
    let mut transcripts = Vec::new();
    for srv in &servers {
        let port = srv.port;
        let spin = std::thread::spawn(move || {
            let mut a = RawConn::connect(port).expect("connect");
            a.cmd(&[b"EVAL", b"local i = 0 while true do i = i + 1 end", b"1", b"k"])
        });
        std::thread::sleep(Duration::from_millis(100));
        // Sent while the script runs but is not busy yet: it waits for the script.
        let waiting = std::thread::spawn(move || {
            let mut b = RawConn::connect(port).expect("connect");
            b.set_timeout(Duration::from_secs(20)).expect("timeout");
            b.cmd(&[b"SET", b"k", b"v"])
        });
        std::thread::sleep(Duration::from_millis(600));
        let mut c = RawConn::connect(port).expect("connect");
        let mut t = vec![waiting.join().expect("waiting client")];
        t.push(c.cmd(&[b"SCRIPT", b"KILL"]));
        t.push(spin.join().expect("script client"));
        t.push(c.cmd(&[b"SET", b"k", b"after"]));
        transcripts.push(t);
    }
    for t in &transcripts[..2] {
        assert!(
            t[0].starts_with(b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL"),
            "{}",
            common::render(&t[0])
        );
        assert_eq!(t[1], b"+OK\r\n");
        assert_eq!(t[3], b"+OK\r\n");
    }
    if let Some(redis) = transcripts.get(2) {
        for rustis in &transcripts[..2] {
            same_replies(rustis, redis);
        }
    }
}

/// Transactions meeting a busy script, as in Redis: a command refused with BUSY inside
/// MULTI dooms the transaction, EXEC during the busy script aborts it (EXECABORT ...
/// BUSY), DISCARD and QUIT still work. Same replies from redis-server.
#[test]
fn transactions_meeting_a_busy_script() {
    let mut servers = vec![start_rustis(&["--busy-reply-threshold", "100", "--workers", "2"])];
    if let Some(r) = common::start_redis(&["--busy-reply-threshold", "100"]) {
        servers.push(r);
    }
    let mut transcripts = Vec::new();
    for srv in &servers {
        let port = srv.port;
        let mut b = RawConn::connect(port).expect("connect");
        let mut d = RawConn::connect(port).expect("connect");
        let mut e = RawConn::connect(port).expect("connect");
        let mut q = RawConn::connect(port).expect("connect");
        let mut t = vec![b.cmd(&[b"MULTI"]), b.cmd(&[b"SET", b"x", b"1"])];
        t.push(d.cmd(&[b"MULTI"]));
        t.push(e.cmd(&[b"MULTI"]));
        let spin = std::thread::spawn(move || {
            let mut a = RawConn::connect(port).expect("connect");
            a.cmd(&[b"EVAL", b"local i = 0 while true do i = i + 1 end", b"0"])
        });
        std::thread::sleep(Duration::from_millis(400));
        t.push(b.cmd(&[b"EXEC"]));
        t.push(d.cmd(&[b"SET", b"z", b"1"]));
        t.push(e.cmd(&[b"DISCARD"]));
        t.push(q.cmd(&[b"QUIT"]));
        t.push(b.cmd(&[b"SCRIPT", b"KILL"]));
        t.push(spin.join().expect("script client"));
        t.push(b.cmd(&[b"EXEC"]));
        t.push(d.cmd(&[b"EXEC"]));
        t.push(e.cmd(&[b"EXEC"]));
        t.push(b.cmd(&[b"EXISTS", b"x", b"z"]));
        transcripts.push(t);
    }
    let rustis = &transcripts[0];
    assert!(
        rustis[4].starts_with(b"-EXECABORT Transaction discarded because of: BUSY"),
        "{}",
        common::render(&rustis[4])
    );
    if let Some(redis) = transcripts.get(1) {
        same_replies(rustis, redis);
    }
}

/// cjson.decode against lua-cjson on seeded random JSON-ish text (fragments of valid and
/// broken JSON, odd numbers, escapes, bytes that are not UTF-8): the same value (encoded
/// back) or the same error text, input by input.
#[test]
fn cjson_decode_matches_redis_on_random_text() {
    let Some(redis) = common::start_redis(&[]) else {
        eprintln!("redis-server not available: skipped");
        return;
    };
    let rustis = start_rustis(&[]);
    let atoms: &[&[u8]] = &[
        b"{",
        b"}",
        b"[",
        b"]",
        b",",
        b":",
        b"\"a\"",
        b"\"b\\u00e9\"",
        b"1",
        b"-2.5e3",
        b"0x1f",
        b"012",
        b"true",
        b"false",
        b"null",
        b"nan",
        b"inf",
        b"+3",
        b" ",
        b"\"",
        b"\\",
        b"\\u",
        b"\"\\ud800\\udc00\"",
        b"1e",
        b"-",
        b".5",
        b"\"x\\ny\"",
        b"\xff",
        b"tru",
        b"{\"k\":",
        b"[1,2]",
        b"\"\\q\"",
        b"1e5",
        b"0x1p-2",
        b"-0",
        b"1.5e+308",
        b"4.9e-324",
        b"0X1A.8",
        b"123456789012345678",
        b"1E-7",
        b"-Infinity",
        b"-NaN",
        b"nan(12)",
    ];
    let script: &[u8] = b"local ok, e = pcall(cjson.decode, ARGV[1]) if ok then if type(e) == 'table' then return cjson.encode(e) end return tostring(e) else return 'ERR:' .. e end";
    let mut a = RawConn::connect(redis.port).expect("connect");
    let mut b = RawConn::connect(rustis.port).expect("connect");
    let mut seed: u64 = 0x5eed_1234;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for i in 0..1500 {
        let n = next() % 9;
        let mut text = Vec::new();
        for _ in 0..n {
            text.extend_from_slice(atoms[(next() % atoms.len() as u64) as usize]);
        }
        let ra = a.cmd(&[b"EVAL", script, b"0", &text]);
        let rb = b.cmd(&[b"EVAL", script, b"0", &text]);
        assert_eq!(common::render(&rb), common::render(&ra), "input {i}: {}", common::render(&text));
    }
}

/// The bundled libraries against Redis's C ones on seeded random calls: cmsgpack.pack of
/// random nested values, cmsgpack.unpack of random bytes, struct.pack with random formats
/// and arguments, and every bit function with awkward numbers (fractions, 2^31, strings),
/// errors included. (Numbers within 2.2e-16 of an integer are left out: mlua hands them
/// to Rust as that integer; see README Known differences.)
#[test]
fn bundled_libraries_match_redis_on_random_calls() {
    let Some(redis) = common::start_redis(&[]) else {
        eprintln!("redis-server not available: skipped");
        return;
    };
    let rustis = start_rustis(&[]);
    let mut a = RawConn::connect(redis.port).expect("connect");
    let mut b = RawConn::connect(rustis.port).expect("connect");
    let mut seed: u64 = 0xc0ffee;
    let mut next = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    fn pick<'a>(next: &mut impl FnMut(usize) -> usize, xs: &[&'a str]) -> &'a str {
        xs[next(xs.len())]
    }
    fn lua_val(next: &mut impl FnMut(usize) -> usize, depth: usize) -> String {
        let nums = [
            "0",
            "1",
            "-1",
            "127",
            "128",
            "255",
            "256",
            "-32",
            "-33",
            "-128",
            "-129",
            "65535",
            "65536",
            "-32768",
            "-32769",
            "2^31",
            "-2^31-1",
            "2^32",
            "2^53",
            "-2^53",
            "2^63",
            "1.5",
            "-0.25",
            "1e300",
            "0.1",
            "3.0",
            "1/0",
            "-1/0",
            "0/0",
            "1e15",
            "123456789012345",
            "2^0.5",
            "1e-5",
            "123.456e10",
        ];
        match next(if depth < 3 { 10 } else { 6 }) {
            0 | 1 => pick(next, &nums).to_string(),
            2 => format!("'{}'", "x".repeat(pick(next, &["0", "1", "31", "32", "255", "256"]).parse().unwrap_or(0))),
            3 => pick(next, &["true", "false", "nil", "cjson.null", "redis.status_reply('OK')"]).to_string(),
            4 => pick(next, &["'\\255\\0a'", "'a\\\"b'", "'/'", "'\\n\\t'", "'\\31'", "'\\127'"]).to_string(),
            5 => "{}".to_string(),
            6 | 7 => {
                let n = next(5);
                format!("{{{}}}", (0..n).map(|_| lua_val(next, depth + 1)).collect::<Vec<_>>().join(","))
            }
            _ => {
                let n = 1 + next(3);
                let keys = ["'k'", "1", "2", "'z'", "3.5", "true"];
                let parts: Vec<String> =
                    (0..n).map(|_| format!("[{}]={}", pick(next, &keys), lua_val(next, depth + 1))).collect();
                format!("{{{}}}", parts.join(","))
            }
        }
    }
    for i in 0..1500 {
        let (body, arg): (String, Vec<u8>) = match next(7) {
            4 => (
                format!("local ok, r = pcall(function() return cjson.encode({}) end) return r", lua_val(&mut next, 0)),
                Vec::new(),
            ),
            5 => (format!("return {}", lua_val(&mut next, 0)), Vec::new()),
            6 => {
                let fmt = pick(
                    &mut next,
                    &[
                        "b", "B", "h", "H", "i", "I", "l", "L", "<i", ">i", "i2", "i8", "f", "d", "s", "c3", "c0", "x",
                        "<h>H", "!4i", "Bx", "i3", "c2i",
                    ],
                );
                let init = pick(&mut next, &["1", "2", "nil"]);
                let data: Vec<u8> = (0..next(10)).map(|_| next(256) as u8).collect();
                // 'f' and 'd' read raw float bits: keep them away from tiny values.
                let data = if fmt.contains('f') || fmt.contains('d') {
                    data.iter().map(|&x| x | 0x40).collect()
                } else {
                    data
                };
                (format!("local ok, r = pcall(function() return {{struct.unpack('{fmt}', ARGV[1], {init})}} end) if ok then for i, v in ipairs(r) do r[i] = tostring(v) end end return r"), data)
            }
            0 => (
                format!("local ok, r = pcall(function() return cmsgpack.pack({}) end) return r", lua_val(&mut next, 0)),
                Vec::new(),
            ),
            1 => {
                let prefixes: [&[u8]; 8] =
                    [b"", b"\x92", b"\x81", b"\xc4", b"\xdc\x00\x02", b"\xa3ab", b"\x93\x01", b"\xd9\x02"];
                let mut bytes = prefixes[next(prefixes.len())].to_vec();
                for _ in 0..next(7) {
                    // No float markers: random float bits could be tiny numbers.
                    let x = next(256) as u8;
                    bytes.push(if x == 0xca || x == 0xcb { 0x01 } else { x });
                }
                ("local ok, r = pcall(function() return cmsgpack.unpack(ARGV[1]) end) if not ok then return r end if type(r) == 'table' then local n = 0 for _ in pairs(r) do n = n + 1 end return 'table:' .. n end return type(r) .. ':' .. tostring(r)".to_string(), bytes)
            }
            2 => {
                let fmt = pick(
                    &mut next,
                    &[
                        "b", "B", "h", "H", "i", "I", "l", "L", "<i", ">i", "i2", "i8", "f", "d", "s", "c3", "c0", "x",
                        "<h>H", "!4i", "Bx",
                    ],
                );
                let n = next(4);
                let args: Vec<&str> = (0..n)
                    .map(|_| pick(&mut next, &["1", "-1", "300", "70000", "2.5", "'ab'", "-129", "4294967295"]))
                    .collect();
                let args = if args.is_empty() { String::new() } else { format!(",{}", args.join(",")) };
                (format!("local ok, r = pcall(function() return struct.pack('{fmt}'{args}) end) if ok then return {{r}} end return r"), Vec::new())
            }
            _ => {
                let op = pick(
                    &mut next,
                    &[
                        "band", "bor", "bxor", "lshift", "rshift", "arshift", "rol", "ror", "tohex", "bnot", "bswap",
                        "tobit",
                    ],
                );
                let n = 1 + next(3);
                let args: Vec<&str> = (0..n)
                    .map(|_| {
                        pick(
                            &mut next,
                            &[
                                "1",
                                "-1",
                                "0xffffffff",
                                "2^31",
                                "-2^31",
                                "2^32+5",
                                "7.9",
                                "-7.9",
                                "'12'",
                                "33",
                                "-3",
                                "' 0x10 '",
                                "'x'",
                                "{}",
                            ],
                        )
                    })
                    .collect();
                (
                    format!(
                        "local ok, r = pcall(function() return bit.{op}({}) end) return {{tostring(ok), r}}",
                        args.join(",")
                    ),
                    Vec::new(),
                )
            }
        };
        // ARGV[1] is always there (only the unpack calls read it).
        let argv: Vec<&[u8]> = vec![b"EVAL", body.as_bytes(), b"0", &arg];
        let ra = a.cmd(&argv);
        let rb = b.cmd(&argv);
        assert_eq!(common::render(&rb), common::render(&ra), "call {i}: {body} {}", common::render(&arg));
    }
}
