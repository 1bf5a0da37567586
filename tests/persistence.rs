//! Persistence: RDB files and DUMP / RESTORE, checked against Redis 7.0's formats and replies.
//!
//! - RDB files written by `SAVE` / `BGSAVE` must pass `redis-check-rdb`, load into
//!   `redis-server`, and `redis-server`'s files must load into the server under test; the
//!   whole dataset (every type and encoding, several databases, TTLs, binary names, stream
//!   consumer groups) is compared key by key, `OBJECT ENCODING` included.
//! - `DUMP` payloads move between the two servers in both directions; `RESTORE` options
//!   (`REPLACE`, `ABSTTL`, `IDLETIME`, `FREQ`) and its error replies match byte for byte.
//! - `BGSAVE` is a point-in-time snapshot under concurrent writes; save points, `SHUTDOWN`
//!   [`SAVE`|`NOSAVE`], `LASTSAVE` and `INFO persistence` behave like Redis; a corrupt or
//!   truncated data file makes the server refuse to start.
//!
//! ```text
//! cargo test --test persistence
//! RUSTIS_TEST_TARGET=redis cargo test --test persistence   # the same against redis-server
//! RUSTIS_REQUIRE_REDIS=1 cargo test --test persistence     # fail (not skip) without redis
//! ```
//!
//! Tests that compare the server under test with `redis-server` (the first four) skip when
//! `redis-server` is not installed, unless `RUSTIS_REQUIRE_REDIS=1`. With
//! `RUSTIS_TEST_TARGET=redis` "the server under test" is `redis-server` too, so every test
//! runs redis against redis: that is how the expectations here were checked (Redis 7.0.15).
//! `redis-check-rdb` is used when installed (same skip rule).

mod common;
mod support;

use support::persist::{redis_available, start_reference, Prepared};
use support::values::{array, bulk, int, now_ms, run, run_cmd, select, text};

use common::{encode_command, render, RawConn, Server};
use redis::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------
// Servers, directories, small helpers
// ---------------------------------------------------------------------------------------

/// The server under test: rustis, or redis-server with `RUSTIS_TEST_TARGET=redis`.
fn start_target(extra: &[&str]) -> Server {
    support::start(extra)
}

/// Copies `server`'s `dump.rdb` into a new prepared directory.
fn copy_dump(server: &Server, tag: &str) -> Prepared {
    let from = server.dir().join("dump.rdb");
    let prep = Prepared::new(tag);
    fs::copy(&from, prep.dump()).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
    prep
}

/// One field of `INFO persistence`.
fn info_field(con: &mut redis::Connection, field: &str) -> String {
    let info: String = redis::cmd("INFO").arg("persistence").query(con).expect("INFO persistence");
    info.lines()
        .find_map(|l| l.strip_prefix(field).and_then(|r| r.strip_prefix(':')))
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|| panic!("INFO persistence has no {field}:\n{info}"))
}

/// `SAVE`, which must answer exactly `+OK`.
fn save(server: &Server) {
    let mut c = server.conn();
    let reply = c.cmd_str(&["SAVE"]);
    assert_reply!(reply, b"+OK\r\n", "SAVE on {}", server.name);
}

/// Waits (at most `limit`) for the process to exit and returns its status.
fn wait_exit(server: &mut Server, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = server.exited() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "{} did not exit within {limit:?}\n--- log tail ---\n{}",
            server.name,
            server.log_tail(30)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends `SHUTDOWN [arg]`, expects the connection to close without a reply and the process
/// to exit with status 0 within 10 s.
fn shutdown(server: &mut Server, arg: Option<&str>) {
    let mut c = server.conn();
    let mut args: Vec<&[u8]> = vec![b"SHUTDOWN"];
    if let Some(a) = arg {
        args.push(a.as_bytes());
    }
    c.send(&encode_command(&args));
    if let Err(e) = c.expect_closed(Duration::from_secs(10)) {
        panic!("SHUTDOWN {arg:?} on {}: {e}\n--- log tail ---\n{}", server.name, server.log_tail(30));
    }
    let status = wait_exit(server, Duration::from_secs(10));
    assert!(status.success(), "{} exited with {status} after SHUTDOWN {arg:?}", server.name);
}

// ---------------------------------------------------------------------------------------
// RDB / DUMP format checks
// ---------------------------------------------------------------------------------------

/// Redis's CRC-64 (Jones polynomial, reflected, init 0, no final xor): the checksum at
/// the end of RDB files and DUMP payloads.
fn crc64(data: &[u8]) -> u64 {
    const POLY: u64 = 0x95ac_9329_ac4b_c9b5;
    static TABLE: std::sync::OnceLock<[u64; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = [0u64; 256];
        for (i, slot) in t.iter_mut().enumerate() {
            let mut c = i as u64;
            for _ in 0..8 {
                c = if c & 1 == 1 { (c >> 1) ^ POLY } else { c >> 1 };
            }
            *slot = c;
        }
        t
    });
    let mut crc = 0u64;
    for &b in data {
        crc = table[((crc ^ b as u64) & 0xff) as usize] ^ (crc >> 8);
    }
    crc
}

/// Checks an RDB file's frame: `REDIS0010` header (Redis 7.0 writes RDB version 10), EOF
/// opcode, and a CRC-64 trailer that is either correct or (checksum disabled) all zeros.
fn check_rdb_frame(bytes: &[u8], checksum: bool, what: &str) {
    assert!(bytes.len() > 18, "{what}: RDB file too short ({} bytes)", bytes.len());
    assert_eq!(render(&bytes[..9]), render(b"REDIS0010"), "{what}: RDB header");
    let n = bytes.len();
    assert_eq!(bytes[n - 9], 0xff, "{what}: no EOF opcode before the checksum");
    let stored = u64::from_le_bytes(bytes[n - 8..].try_into().expect("8 bytes"));
    if checksum {
        assert_eq!(stored, crc64(&bytes[..n - 8]), "{what}: RDB checksum (CRC-64 over the file)");
    } else {
        assert_eq!(stored, 0, "{what}: with rdbchecksum no the trailer must be 8 zero bytes");
    }
}

/// Runs `redis-check-rdb` on `path` if it is installed: it must exit 0. Returns whether it
/// ran.
fn redis_check_rdb(path: &Path) -> bool {
    match Command::new("redis-check-rdb").arg(path).output() {
        Ok(out) => {
            assert!(
                out.status.success(),
                "redis-check-rdb {} failed ({}):\n{}{}",
                path.display(),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            true
        }
        Err(e) if common::redis_required() => panic!("redis-check-rdb cannot be run: {e}"),
        Err(_) => {
            eprintln!("redis-check-rdb not installed: skipping that check");
            false
        }
    }
}

/// Checks a DUMP payload's footer: RDB version 10 (little endian) and the CRC-64 of
/// everything before the checksum. Returns the payload's RDB object type byte.
fn check_payload(p: &[u8], what: &str) -> u8 {
    assert!(p.len() > 10, "{what}: DUMP payload too short: {}", render(p));
    let n = p.len();
    assert_eq!(u16::from_le_bytes([p[n - 10], p[n - 9]]), 10, "{what}: payload RDB version");
    let stored = u64::from_le_bytes(p[n - 8..].try_into().expect("8 bytes"));
    assert_eq!(stored, crc64(&p[..n - 8]), "{what}: payload CRC-64");
    p[0]
}

/// The RDB object type Redis 7.0 uses for a value with this `OBJECT ENCODING`.
fn rdb_type_for(encoding: &str) -> u8 {
    match encoding {
        "int" | "embstr" | "raw" => 0, // RDB_TYPE_STRING
        "quicklist" => 18,             // RDB_TYPE_LIST_QUICKLIST_2
        "intset" => 11,                // RDB_TYPE_SET_INTSET
        "hashtable-set" => 2,          // RDB_TYPE_SET
        "hashtable-hash" => 4,         // RDB_TYPE_HASH
        "listpack-hash" => 16,         // RDB_TYPE_HASH_LISTPACK
        "listpack-zset" => 17,         // RDB_TYPE_ZSET_LISTPACK
        "skiplist" => 5,               // RDB_TYPE_ZSET_2
        "stream" => 19,                // RDB_TYPE_STREAM_LISTPACKS_2
        other => panic!("no RDB type for encoding {other}"),
    }
}

/// Builds a DUMP payload around `body` (type byte + object) with a correct footer.
fn make_payload(body: &[u8], version: u16) -> Vec<u8> {
    let mut p = body.to_vec();
    p.extend_from_slice(&version.to_le_bytes());
    let crc = crc64(&p);
    p.extend_from_slice(&crc.to_le_bytes());
    p
}

/// The payload of a raw `$n\r\n...\r\n` reply.
fn raw_bulk(reply: &[u8]) -> Vec<u8> {
    assert!(reply.starts_with(b"$") && reply.ends_with(b"\r\n"), "not a bulk reply: {}", render(reply));
    let nl = reply.iter().position(|&b| b == b'\n').expect("header line");
    let n: usize = std::str::from_utf8(&reply[1..nl - 1]).expect("len").parse().expect("bulk length");
    assert_eq!(reply.len(), nl + 1 + n + 2, "bulk reply length: {}", render(reply));
    reply[nl + 1..nl + 1 + n].to_vec()
}

// ---------------------------------------------------------------------------------------
// The fixture: every type and encoding, in databases 0, 3 and 15
// ---------------------------------------------------------------------------------------

/// Deterministic pseudo-random bytes (xorshift64*), with NUL and CRLF planted in them.
fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        let r = x.wrapping_mul(0x2545_f491_4f6c_dd1d);
        out.extend_from_slice(&r.to_le_bytes()[..(len - out.len()).min(8)]);
    }
    for (i, b) in [0u8, b'\r', b'\n', 0, 0xff].iter().enumerate() {
        if len > 100 {
            out[len / 3 + i] = *b;
        }
    }
    out
}

/// A 100-byte member / value.
fn long_text(c: char) -> String {
    std::iter::repeat_n(c, 100).collect()
}

/// Keys the fixture creates, with the `OBJECT ENCODING` Redis 7.0 gives them.
const FIXTURE_ENCODINGS: &[(u8, &str, &str)] = &[
    (0, "str:int", "int"),
    (0, "str:neg", "int"),
    (0, "str:i64max", "int"),
    (0, "str:negzero", "embstr"),
    (0, "str:lead0", "embstr"),
    (0, "str:short", "embstr"),
    (0, "str:raw45", "raw"),
    (0, "str:big_a", "raw"),
    (0, "str:big_rand", "raw"),
    (0, "str:empty", "embstr"),
    (0, "list:small", "quicklist"),
    (0, "list:big", "quicklist"),
    (0, "list:huge", "quicklist"),
    (0, "set:intset", "intset"),
    (0, "set:intset600", "hashtable"),
    (0, "set:strings", "hashtable"),
    (0, "hash:small", "listpack"),
    (0, "hash:big", "hashtable"),
    (0, "hash:longval", "hashtable"),
    (0, "zset:small", "listpack"),
    (0, "zset:big", "skiplist"),
    (0, "zset:longmember", "skiplist"),
    (3, "stream:s1", "stream"),
    (3, "stream:empty", "stream"),
    (3, "stream:big", "stream"),
    (3, "stream:alldeleted", "stream"),
    (3, "db3:str", "embstr"),
    (15, "ttl:str", "embstr"),
    (15, "ttl:list", "quicklist"),
    (15, "ttl:hash", "listpack"),
    (15, "ttl:zset", "skiplist"),
];

/// Fills databases 0, 3 and 15 with the fixture and leaves the connection on db 0.
fn populate(con: &mut redis::Connection) {
    select(con, 0);
    // Strings.
    for (k, v) in [
        ("str:int", "12345"),
        ("str:neg", "-987654321"),
        ("str:i64max", "9223372036854775807"),
        ("str:negzero", "-0"),
        ("str:lead0", "007"),
        ("str:short", "hello world"),
        ("str:raw45", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHI"),
        ("str:empty", ""),
    ] {
        run(con, &["SET", k, v]);
    }
    let big_a = "a".repeat(100_000);
    run(con, &["SET", "str:big_a", &big_a]);
    run_cmd(con, redis::cmd("SET").arg("str:big_rand").arg(pseudo_random(100_000, 7)), "SET str:big_rand");

    // Lists.
    run(con, &["RPUSH", "list:small", "alpha", "42", "-7"]);
    for chunk in 0..10 {
        let mut c = redis::cmd("RPUSH");
        c.arg("list:big");
        for i in chunk * 1000..(chunk + 1) * 1000 {
            if i % 3 == 0 {
                c.arg(i);
            } else {
                c.arg(format!("item:{i}"));
            }
        }
        run_cmd(con, &c, "RPUSH list:big");
    }
    let mut c = redis::cmd("RPUSH");
    c.arg("list:huge").arg("b".repeat(70_000)).arg(pseudo_random(70_000, 11)).arg("small").arg(70_000);
    run_cmd(con, &c, "RPUSH list:huge");

    // Sets.
    run(con, &["SADD", "set:intset", "1", "2", "3", "-5", "1000000", "-9223372036854775808"]);
    let mut c = redis::cmd("SADD");
    c.arg("set:intset600");
    for i in 0..600 {
        c.arg(i * 3 - 100);
    }
    run_cmd(con, &c, "SADD set:intset600");
    run(con, &["SADD", "set:strings", "apple", "banana", "cherry", "", "12"]);

    // Hashes.
    run(con, &["HSET", "hash:small", "f1", "v1", "f2", "123", "f3", ""]);
    let mut c = redis::cmd("HSET");
    c.arg("hash:big");
    for i in 0..1000 {
        c.arg(format!("field:{i}")).arg(format!("value:{}", i * 7));
    }
    run_cmd(con, &c, "HSET hash:big");
    run(con, &["HSET", "hash:longval", "short", "x", "long", &long_text('v')]);

    // Sorted sets.
    run(
        con,
        &[
            "ZADD",
            "zset:small",
            "1.5",
            "a",
            "-inf",
            "b",
            "inf",
            "c",
            "0",
            "d",
            "-0.0",
            "e",
            "1e300",
            "f",
            "3.14159265358979",
            "g",
        ],
    );
    let mut c = redis::cmd("ZADD");
    c.arg("zset:big");
    for i in 0..500 {
        c.arg(format!("{}", i as f64 * 0.25 - 17.0)).arg(format!("member:{i}"));
    }
    run_cmd(con, &c, "ZADD zset:big");
    run(con, &["ZADD", "zset:longmember", "1", &long_text('m'), "2", "short"]);

    // Streams (db 3).
    select(con, 3);
    run(con, &["SET", "db3:str", "in db 3"]);
    run(con, &["XADD", "stream:s1", "1-1", "f", "v"]);
    run(con, &["XADD", "stream:s1", "1-2", "a", "1", "b", "2", "c", "3"]);
    run(con, &["XADD", "stream:s1", "2-0", "name", "alice", "n", "42"]);
    run_cmd(con, redis::cmd("XADD").arg("stream:s1").arg("5-0").arg("bin").arg(pseudo_random(300, 3)), "XADD 5-0");
    let mut auto_ids = Vec::new();
    for i in 0..6 {
        let id = run(con, &["XADD", "stream:s1", "*", "i", &i.to_string(), "payload", "x"]);
        auto_ids.push(text(&id));
    }
    assert_eq!(int(&run(con, &["XDEL", "stream:s1", "1-2", &auto_ids[2]])), 2);
    assert_eq!(int(&run(con, &["XTRIM", "stream:s1", "MINID", "2-0"])), 1);
    run(con, &["XGROUP", "CREATE", "stream:s1", "g1", "0"]);
    run(con, &["XREADGROUP", "GROUP", "g1", "alice", "COUNT", "3", "STREAMS", "stream:s1", ">"]);
    run(con, &["XREADGROUP", "GROUP", "g1", "bob", "COUNT", "2", "STREAMS", "stream:s1", ">"]);
    // Re-reading her own history bumps the delivery count of alice's entries.
    run(con, &["XREADGROUP", "GROUP", "g1", "alice", "STREAMS", "stream:s1", "0"]);
    assert_eq!(int(&run(con, &["XACK", "stream:s1", "g1", "2-0"])), 1);
    run(con, &["XGROUP", "CREATE", "stream:s1", "g2", "$"]);
    run(con, &["XGROUP", "CREATECONSUMER", "stream:s1", "g2", "carol"]);
    run(con, &["XGROUP", "CREATE", "stream:s1", "g3", "0", "ENTRIESREAD", "2"]);
    run(con, &["XGROUP", "CREATE", "stream:empty", "grp", "$", "MKSTREAM"]);
    for chunk in 0..3 {
        let mut p = redis::pipe();
        for i in chunk * 100..(chunk + 1) * 100 {
            p.cmd("XADD").arg("stream:big").arg(format!("{}-0", i + 1)).arg("f").arg(i).arg("g").arg("x").ignore();
        }
        p.query::<()>(con).expect("XADD stream:big");
    }
    run(con, &["XDEL", "stream:big", "10-0", "150-0", "299-0"]);
    run(con, &["XGROUP", "CREATE", "stream:big", "readers", "100-0"]);
    run(con, &["XADD", "stream:alldeleted", "10-0", "a", "1"]);
    run(con, &["XADD", "stream:alldeleted", "11-0", "b", "2"]);
    run(con, &["XDEL", "stream:alldeleted", "10-0", "11-0"]);
    run(con, &["XSETID", "stream:alldeleted", "20-0", "ENTRIESADDED", "5", "MAXDELETEDID", "15-0"]);

    // TTLs and binary key names (db 15).
    select(con, 15);
    run(con, &["SET", "ttl:str", "expiring"]);
    run(con, &["PEXPIRE", "ttl:str", "3600000"]);
    run(con, &["RPUSH", "ttl:list", "x", "y"]);
    run(con, &["EXPIREAT", "ttl:list", "4102444800"]);
    run(con, &["HSET", "ttl:hash", "k", "v"]);
    run(con, &["PEXPIRE", "ttl:hash", "7200000"]);
    let mut c = redis::cmd("ZADD");
    c.arg("ttl:zset");
    for i in 0..200 {
        c.arg(i).arg(format!("m{i}"));
    }
    run_cmd(con, &c, "ZADD ttl:zset");
    run(con, &["EXPIRE", "ttl:zset", "86400"]);
    run_cmd(con, redis::cmd("SET").arg(&b"bin\x00key\r\n\xff"[..]).arg(&b"v\x00\xff"[..]), "SET binary key");
    run_cmd(con, redis::cmd("HSET").arg(&b"\xff\xfe\x00"[..]).arg(&b"\x00"[..]).arg(&b"\r\n"[..]), "HSET binary key");
    run_cmd(con, redis::cmd("SADD").arg(&b"set\x00bin"[..]).arg(&b"\x00"[..]).arg("m"), "SADD binary key");
    select(con, 0);
}

// ---------------------------------------------------------------------------------------
// Snapshots: the whole dataset in a comparable form
// ---------------------------------------------------------------------------------------

/// PTTL, compared with a 10 s tolerance (files are loaded a few seconds later).
#[derive(Debug, Clone, Copy)]
enum Ttl {
    Persistent,
    Missing,
    Ms(i64),
}

impl PartialEq for Ttl {
    fn eq(&self, other: &Ttl) -> bool {
        match (self, other) {
            (Ttl::Persistent, Ttl::Persistent) | (Ttl::Missing, Ttl::Missing) => true,
            (Ttl::Ms(a), Ttl::Ms(b)) => (a - b).abs() <= 10_000,
            _ => false,
        }
    }
}

fn ttl_bucket(pttl: i64) -> Ttl {
    match pttl {
        -1 => Ttl::Persistent,
        -2 => Ttl::Missing,
        ms => {
            assert!(ms >= 0, "PTTL {ms}");
            Ttl::Ms(ms)
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Entry {
    kind: String,
    /// Canonical value, flattened to bytes (see [`flatten`]).
    value: Vec<u8>,
    ttl: Ttl,
    encoding: String,
}

type Snapshot = BTreeMap<(u8, Vec<u8>), Entry>;

/// Serialises a reply into bytes, unambiguously (lengths prefix strings and arrays).
fn flatten(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Nil => out.extend_from_slice(b"_;"),
        Value::Int(i) => out.extend_from_slice(format!(":{i};").as_bytes()),
        Value::BulkString(b) => {
            out.extend_from_slice(format!("${}:", b.len()).as_bytes());
            out.extend_from_slice(b);
            out.push(b';');
        }
        Value::SimpleString(s) => out.extend_from_slice(format!("+{s};").as_bytes()),
        Value::Okay => out.extend_from_slice(b"+OK;"),
        Value::Array(a) => {
            out.extend_from_slice(format!("*{}:", a.len()).as_bytes());
            for e in a {
                flatten(e, out);
            }
        }
        other => out.extend_from_slice(format!("?{other:?};").as_bytes()),
    }
}

/// Looks `name` up in a flat `[name, value, name, value, ...]` reply.
fn field<'a>(pairs: &'a [Value], name: &str) -> &'a Value {
    pairs
        .chunks(2)
        .find(|kv| kv.len() == 2 && bulk(&kv[0]) == name.as_bytes())
        .map(|kv| &kv[1])
        .unwrap_or_else(|| panic!("no field {name} in {pairs:?}"))
}

/// The deterministic parts of `XINFO STREAM key FULL COUNT 0` (no radix-tree sizes, no
/// delivery or seen times).
fn stream_info(con: &mut redis::Connection, key: &[u8]) -> Value {
    let info =
        run_cmd(con, redis::cmd("XINFO").arg("STREAM").arg(key).arg("FULL").arg("COUNT").arg(0), "XINFO STREAM FULL");
    let top = array(&info);
    let mut out = Vec::new();
    for name in ["length", "last-generated-id", "max-deleted-entry-id", "entries-added", "recorded-first-entry-id"] {
        out.push(Value::BulkString(name.as_bytes().to_vec()));
        out.push(field(top, name).clone());
    }
    for group in array(field(top, "groups")) {
        let g = array(group);
        let mut gv = Vec::new();
        for name in ["name", "last-delivered-id", "entries-read", "lag", "pel-count"] {
            gv.push(field(g, name).clone());
        }
        // Group PEL entries: [id, consumer, delivery time, delivery count].
        for pe in array(field(g, "pending")) {
            let pe = array(pe);
            assert_eq!(pe.len(), 4, "group PEL entry {pe:?}");
            gv.push(Value::Array(vec![pe[0].clone(), pe[1].clone(), pe[3].clone()]));
        }
        for consumer in array(field(g, "consumers")) {
            let c = array(consumer);
            let mut cv = vec![field(c, "name").clone(), field(c, "pel-count").clone()];
            // Consumer PEL entries: [id, delivery time, delivery count].
            for pe in array(field(c, "pending")) {
                let pe = array(pe);
                assert_eq!(pe.len(), 3, "consumer PEL entry {pe:?}");
                cv.push(Value::Array(vec![pe[0].clone(), pe[2].clone()]));
            }
            gv.push(Value::Array(cv));
        }
        out.push(Value::Array(gv));
    }
    Value::Array(out)
}

/// The canonical value of `key` (of type `kind`) in the selected database.
fn canonical_value(con: &mut redis::Connection, key: &[u8], kind: &str) -> Vec<u8> {
    let q = |con: &mut redis::Connection, name: &str, extra: &[&str]| -> Value {
        let mut c = redis::cmd(name);
        c.arg(key);
        for a in extra {
            c.arg(*a);
        }
        run_cmd(con, &c, name)
    };
    let v = match kind {
        "string" => q(con, "GET", &[]),
        "list" => q(con, "LRANGE", &["0", "-1"]),
        "set" => {
            let mut m: Vec<Vec<u8>> = array(&q(con, "SMEMBERS", &[])).iter().map(bulk).collect();
            m.sort();
            Value::Array(m.into_iter().map(Value::BulkString).collect())
        }
        "hash" => {
            let all = q(con, "HGETALL", &[]);
            let mut pairs: Vec<(Vec<u8>, Vec<u8>)> =
                array(&all).chunks(2).map(|kv| (bulk(&kv[0]), bulk(&kv[1]))).collect();
            pairs.sort();
            Value::Array(pairs.into_iter().flat_map(|(f, v)| [Value::BulkString(f), Value::BulkString(v)]).collect())
        }
        "zset" => q(con, "ZRANGE", &["0", "-1", "WITHSCORES"]),
        "stream" => Value::Array(vec![q(con, "XRANGE", &["-", "+"]), stream_info(con, key)]),
        other => panic!("unexpected type {other} for key {}", render(key)),
    };
    let mut out = Vec::new();
    flatten(&v, &mut out);
    out
}

/// Every key of every database (0..16): type, canonical value, TTL, encoding.
fn snapshot(con: &mut redis::Connection) -> Snapshot {
    let mut snap = Snapshot::new();
    for db in 0..16u8 {
        select(con, db);
        let mut keys = BTreeSet::new();
        let mut cursor = "0".to_string();
        for round in 0.. {
            assert!(round < 100_000, "SCAN did not finish in db {db}");
            let reply = run(con, &["SCAN", &cursor, "COUNT", "1000"]);
            let parts = array(&reply);
            cursor = text(&parts[0]);
            keys.extend(array(&parts[1]).iter().map(bulk));
            if cursor == "0" {
                break;
            }
        }
        for key in keys {
            let kind = text(&run_cmd(con, redis::cmd("TYPE").arg(&key), "TYPE"));
            let value = canonical_value(con, &key, &kind);
            let ttl = ttl_bucket(int(&run_cmd(con, redis::cmd("PTTL").arg(&key), "PTTL")));
            let encoding = text(&run_cmd(con, redis::cmd("OBJECT").arg("ENCODING").arg(&key), "OBJECT ENCODING"));
            snap.insert((db, key), Entry { kind, value, ttl, encoding });
        }
    }
    select(con, 0);
    snap
}

/// Describes where two byte strings first differ.
fn describe_diff(a: &[u8], b: &[u8]) -> String {
    let at = a.iter().zip(b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
    let from = at.saturating_sub(40);
    format!(
        "lengths {} vs {}, first difference at byte {at}:\n  expected ...{}\n  got      ...{}",
        a.len(),
        b.len(),
        render(&a[from..a.len().min(at + 120)]),
        render(&b[from..b.len().min(at + 120)])
    )
}

/// Asserts that two snapshots hold the same keys with equal entries; reports the first
/// difference.
fn assert_same_dataset(what: &str, expected: &Snapshot, got: &Snapshot) {
    assert!(!expected.is_empty(), "{what}: the expected dataset is empty");
    let missing: Vec<String> = expected
        .keys()
        .filter(|k| !got.contains_key(*k))
        .take(10)
        .map(|(db, k)| format!("db{db}:{}", render(k)))
        .collect();
    let extra: Vec<String> = got
        .keys()
        .filter(|k| !expected.contains_key(*k))
        .take(10)
        .map(|(db, k)| format!("db{db}:{}", render(k)))
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{what}: key sets differ ({} vs {} keys); missing: {missing:?}; unexpected: {extra:?}",
        expected.len(),
        got.len()
    );
    for ((db, key), e) in expected {
        let g = &got[&(*db, key.clone())];
        if e == g {
            continue;
        }
        let name = format!("db{db}:{}", render(key));
        assert_eq!(e.kind, g.kind, "{what}: TYPE of {name}");
        assert_eq!(e.encoding, g.encoding, "{what}: OBJECT ENCODING of {name}");
        assert_eq!(e.ttl, g.ttl, "{what}: PTTL of {name} (10 s tolerance)");
        panic!("{what}: value of {name} ({}) differs: {}", e.kind, describe_diff(&e.value, &g.value));
    }
}

/// Checks that the fixture produced the intended types and encodings (on the server it
/// was written to), so the round trips really cover them.
fn check_fixture(snap: &Snapshot, server: &str) {
    for (db, key, enc) in FIXTURE_ENCODINGS {
        let e = snap
            .get(&(*db, key.as_bytes().to_vec()))
            .unwrap_or_else(|| panic!("{server}: fixture key db{db}:{key} is missing"));
        assert_eq!(e.encoding, *enc, "{server}: OBJECT ENCODING of fixture key db{db}:{key}");
    }
    let ttl_str = &snap[&(15, b"ttl:str".to_vec())];
    assert!(matches!(ttl_str.ttl, Ttl::Ms(ms) if ms > 3_500_000), "{server}: ttl:str PTTL {:?}", ttl_str.ttl);
    let ttl_list = &snap[&(15, b"ttl:list".to_vec())];
    let until_2100 = 4_102_444_800_000 - now_ms();
    assert_eq!(ttl_list.ttl, Ttl::Ms(until_2100), "{server}: ttl:list PTTL (EXPIREAT 2100-01-01)");
    assert!(snap.contains_key(&(15, b"bin\x00key\r\n\xff".to_vec())), "{server}: binary key missing");
    assert_eq!(snap.keys().filter(|(db, _)| *db == 0).count(), 22, "{server}: keys in db 0");
}

// ---------------------------------------------------------------------------------------
// 1-3. RDB files across servers
// ---------------------------------------------------------------------------------------

#[test]
fn rustis_dump_passes_redis_check_rdb_and_loads_into_redis() {
    if !redis_available("rustis_dump_passes_redis_check_rdb_and_loads_into_redis") {
        return;
    }
    let src = start_target(&["--save", ""]);
    let mut con = support::client(src.port);
    populate(&mut con);
    let expected = snapshot(&mut con);
    check_fixture(&expected, src.name);
    save(&src);
    let bytes = fs::read(src.dir().join("dump.rdb")).expect("SAVE wrote dump.rdb in dir");
    check_rdb_frame(&bytes, true, "dump.rdb after SAVE");
    redis_check_rdb(&src.dir().join("dump.rdb"));

    let prep = copy_dump(&src, "rdb-to-redis");
    let dst = start_reference(&["--dir", prep.arg(), "--dbfilename", "dump.rdb"]);
    let got = snapshot(&mut support::client(dst.port));
    assert_same_dataset(&format!("{} dump loaded into redis-server", src.name), &expected, &got);
}

#[test]
fn redis_dump_loads_into_rustis() {
    if !redis_available("redis_dump_loads_into_rustis") {
        return;
    }
    let src = start_reference(&[]);
    let mut con = support::client(src.port);
    populate(&mut con);
    let expected = snapshot(&mut con);
    check_fixture(&expected, "redis");
    save(&src);
    let prep = copy_dump(&src, "rdb-from-redis");
    let dst = start_target(&["--dir", prep.arg(), "--save", ""]);
    let mut dcon = support::client(dst.port);
    let got = snapshot(&mut dcon);
    assert_same_dataset(&format!("redis-server dump loaded into {}", dst.name), &expected, &got);
    assert_eq!(info_field(&mut dcon, "loading"), "0");
    assert_eq!(info_field(&mut dcon, "rdb_changes_since_last_save"), "0", "loading is not a change");
}

#[test]
fn rustis_roundtrip_through_its_own_dump() {
    let mut sizes = Vec::new();
    for (flags, checksum) in
        [(&[][..], true), (&["--rdbcompression", "no"][..], true), (&["--rdbchecksum", "no"][..], false)]
    {
        let what = format!("round trip with {flags:?}");
        let mut args = vec!["--save", ""];
        args.extend_from_slice(flags);
        let src = start_target(&args);
        let mut con = support::client(src.port);
        populate(&mut con);
        let expected = snapshot(&mut con);
        check_fixture(&expected, src.name);
        save(&src);
        let path = src.dir().join("dump.rdb");
        let bytes = fs::read(&path).unwrap_or_else(|e| panic!("{what}: read dump.rdb: {e}"));
        check_rdb_frame(&bytes, checksum, &what);
        redis_check_rdb(&path);
        sizes.push(bytes.len());

        let prep = copy_dump(&src, "roundtrip");
        let dst = start_target(&["--dir", prep.arg(), "--save", ""]);
        let got = snapshot(&mut support::client(dst.port));
        assert_same_dataset(&what, &expected, &got);
    }
    // 100 KB of 'a' and a 70 KB list element of 'b' are LZF-compressed by default only.
    assert!(
        sizes[1] >= sizes[0] + 150_000,
        "rdbcompression no must store compressible values raw: {} bytes vs {} compressed",
        sizes[1],
        sizes[0]
    );
}

// ---------------------------------------------------------------------------------------
// 4. DUMP / RESTORE
// ---------------------------------------------------------------------------------------

/// DUMPs every key of `from` and RESTOREs it (same db, remaining TTL) into `to`; checks
/// every payload's footer and RDB type. Returns the payloads by key.
fn copy_by_dump(
    from: &mut redis::Connection,
    to: &mut redis::Connection,
    snap: &Snapshot,
    what: &str,
) -> BTreeMap<(u8, Vec<u8>), Vec<u8>> {
    let mut payloads = BTreeMap::new();
    for ((db, key), e) in snap {
        select(from, *db);
        select(to, *db);
        let p = bulk(&run_cmd(from, redis::cmd("DUMP").arg(key), "DUMP"));
        let name = format!("{what}: DUMP db{db}:{}", render(key));
        let t = check_payload(&p, &name);
        let enc = match (e.kind.as_str(), e.encoding.as_str()) {
            ("set", "hashtable") => "hashtable-set",
            ("hash", "hashtable") => "hashtable-hash",
            ("hash", "listpack") => "listpack-hash",
            ("zset", "listpack") => "listpack-zset",
            (_, enc) => enc,
        };
        assert_eq!(t, rdb_type_for(enc), "{name}: RDB type byte for a {} {}", e.kind, e.encoding);
        let ttl = match e.ttl {
            Ttl::Ms(ms) => ms.max(1),
            _ => 0,
        };
        let reply = run_cmd(to, redis::cmd("RESTORE").arg(key).arg(ttl).arg(&p), &format!("RESTORE ({name})"));
        assert_eq!(reply, Value::Okay, "{name}: RESTORE reply");
        payloads.insert((*db, key.clone()), p);
    }
    select(from, 0);
    select(to, 0);
    payloads
}

/// RESTORE's options and errors on one server. Every reply is checked against what Redis
/// 7.0.15 answers; the raw replies are returned for a byte-for-byte comparison.
fn restore_checks(server: &Server) -> Vec<(String, Vec<u8>)> {
    let name = server.name;
    let mut c = server.conn();
    let mut log: Vec<(String, Vec<u8>)> = Vec::new();
    let mut check = |label: &str, c: &mut RawConn, args: &[&[u8]], want: &[u8]| {
        let got = c.cmd(args);
        assert_eq!(render(&got), render(want), "{name}: {label}");
        log.push((label.to_string(), got));
    };
    let ok: &[u8] = b"+OK\r\n";
    let busy: &[u8] = b"-BUSYKEY Target key name already exists.\r\n";
    let bad_payload: &[u8] = b"-ERR DUMP payload version or checksum are wrong\r\n";

    check("SET src", &mut c, &[b"SET", b"src", b"hello"], ok);
    let p = raw_bulk(&c.cmd(&[b"DUMP", b"src"]));
    assert_eq!(check_payload(&p, name), 0, "{name}: string payload type");
    check("RPUSH srclist", &mut c, &[b"RPUSH", b"srclist", b"a", b"b", b"c"], b":3\r\n");
    let lp = raw_bulk(&c.cmd(&[b"DUMP", b"srclist"]));
    check("DUMP missing key", &mut c, &[b"DUMP", b"nosuchkey"], b"$-1\r\n");

    // Plain RESTORE, then BUSYKEY (checked before the TTL and the payload).
    check("RESTORE", &mut c, &[b"RESTORE", b"dst", b"0", &p], ok);
    check("GET restored", &mut c, &[b"GET", b"dst"], b"$5\r\nhello\r\n");
    check("PTTL restored with ttl 0", &mut c, &[b"PTTL", b"dst"], b":-1\r\n");
    check("RESTORE existing", &mut c, &[b"RESTORE", b"dst", b"0", &p], busy);
    check("RESTORE existing, bad payload", &mut c, &[b"RESTORE", b"dst", b"0", b"junk"], busy);
    check("RESTORE existing, negative ttl", &mut c, &[b"RESTORE", b"dst", b"-1", &p], busy);

    // REPLACE, also across types.
    check("SET dst", &mut c, &[b"SET", b"dst", b"other"], ok);
    check("RESTORE REPLACE", &mut c, &[b"RESTORE", b"dst", b"0", &p, b"REPLACE"], ok);
    check("GET replaced", &mut c, &[b"GET", b"dst"], b"$5\r\nhello\r\n");
    check("RESTORE REPLACE list", &mut c, &[b"RESTORE", b"dst", b"0", &lp, b"replace"], ok);
    check("TYPE replaced", &mut c, &[b"TYPE", b"dst"], b"+list\r\n");
    check("LRANGE replaced", &mut c, &[b"LRANGE", b"dst", b"0", b"-1"], b"*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n");

    // Relative and absolute TTLs.
    check("RESTORE ttl", &mut c, &[b"RESTORE", b"rel", b"5000", &p], ok);
    let pttl = c.cmd(&[b"PTTL", b"rel"]);
    let ms: i64 = std::str::from_utf8(&pttl[1..pttl.len() - 2]).unwrap().parse().unwrap();
    assert!((3000..=5000).contains(&ms), "{name}: PTTL after RESTORE ttl 5000: {ms}");
    let at = (now_ms() + 100_000).to_string();
    check("RESTORE ABSTTL", &mut c, &[b"RESTORE", b"abs", at.as_bytes(), &p, b"ABSTTL"], ok);
    let pttl = c.cmd(&[b"PTTL", b"abs"]);
    let ms: i64 = std::str::from_utf8(&pttl[1..pttl.len() - 2]).unwrap().parse().unwrap();
    assert!((90_000..=100_000).contains(&ms), "{name}: PTTL after RESTORE ABSTTL now+100s: {ms}");
    // An absolute TTL in the past: +OK, nothing is created, and REPLACE deletes the old key.
    check("RESTORE ABSTTL past", &mut c, &[b"RESTORE", b"past", b"1000", &p, b"ABSTTL"], ok);
    check("EXISTS past", &mut c, &[b"EXISTS", b"past"], b":0\r\n");
    check("SET past", &mut c, &[b"SET", b"past", b"x"], ok);
    check("RESTORE ABSTTL past REPLACE", &mut c, &[b"RESTORE", b"past", b"1000", &p, b"ABSTTL", b"REPLACE"], ok);
    check("EXISTS past after REPLACE", &mut c, &[b"EXISTS", b"past"], b":0\r\n");

    // IDLETIME and FREQ (FREQ is accepted, and ignored, without an LFU policy).
    check("RESTORE IDLETIME", &mut c, &[b"RESTORE", b"idle", b"0", &p, b"IDLETIME", b"1000"], ok);
    let idle = c.cmd(&[b"OBJECT", b"IDLETIME", b"idle"]);
    let secs: i64 = std::str::from_utf8(&idle[1..idle.len() - 2]).unwrap().parse().unwrap();
    assert!((1000..=1010).contains(&secs), "{name}: OBJECT IDLETIME after RESTORE IDLETIME 1000: {secs}");
    check("RESTORE FREQ", &mut c, &[b"RESTORE", b"freq", b"0", &p, b"FREQ", b"100"], ok);
    check("GET freq", &mut c, &[b"GET", b"freq"], b"$5\r\nhello\r\n");
    check("RESTORE all options", &mut c, &[b"RESTORE", b"freq", b"0", &p, b"REPLACE", b"ABSTTL", b"FREQ", b"0"], ok);

    // Option errors (checked before BUSYKEY).
    check(
        "FREQ 256",
        &mut c,
        &[b"RESTORE", b"e1", b"0", &p, b"FREQ", b"256"],
        b"-ERR Invalid FREQ value, must be >= 0 and <= 255\r\n",
    );
    check(
        "FREQ -1",
        &mut c,
        &[b"RESTORE", b"e1", b"0", &p, b"FREQ", b"-1"],
        b"-ERR Invalid FREQ value, must be >= 0 and <= 255\r\n",
    );
    check(
        "IDLETIME -1",
        &mut c,
        &[b"RESTORE", b"e1", b"0", &p, b"IDLETIME", b"-1"],
        b"-ERR Invalid IDLETIME value, must be >= 0\r\n",
    );
    check(
        "IDLETIME abc",
        &mut c,
        &[b"RESTORE", b"e1", b"0", &p, b"IDLETIME", b"abc"],
        b"-ERR value is not an integer or out of range\r\n",
    );
    check(
        "IDLETIME with FREQ",
        &mut c,
        &[b"RESTORE", b"e1", b"0", &p, b"IDLETIME", b"1", b"FREQ", b"1"],
        b"-ERR syntax error\r\n",
    );
    check("unknown option", &mut c, &[b"RESTORE", b"e1", b"0", &p, b"FOO"], b"-ERR syntax error\r\n");
    check("FREQ without value", &mut c, &[b"RESTORE", b"e1", b"0", &p, b"FREQ"], b"-ERR syntax error\r\n");
    check("option errors before BUSYKEY", &mut c, &[b"RESTORE", b"dst", b"0", &p, b"FOO"], b"-ERR syntax error\r\n");

    // TTL and payload errors.
    check("negative ttl", &mut c, &[b"RESTORE", b"e1", b"-1", &p], b"-ERR Invalid TTL value, must be >= 0\r\n");
    check(
        "non-integer ttl",
        &mut c,
        &[b"RESTORE", b"e1", b"1.5", &p],
        b"-ERR value is not an integer or out of range\r\n",
    );
    let mut flipped = p.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x20;
    check("flipped byte", &mut c, &[b"RESTORE", b"e1", b"0", &flipped], bad_payload);
    check("truncated payload", &mut c, &[b"RESTORE", b"e1", b"0", &p[..p.len() - 3]], bad_payload);
    check("payload cut to 9 bytes", &mut c, &[b"RESTORE", b"e1", b"0", &p[..9]], bad_payload);
    check("empty payload", &mut c, &[b"RESTORE", b"e1", b"0", b""], bad_payload);
    let newer = make_payload(&p[..p.len() - 10], 11);
    check("RDB version 11", &mut c, &[b"RESTORE", b"e1", b"0", &newer], bad_payload);
    let older = make_payload(&p[..p.len() - 10], 9);
    check("RDB version 9 (older versions load)", &mut c, &[b"RESTORE", b"old", b"0", &older], ok);
    check("GET old", &mut c, &[b"GET", b"old"], b"$5\r\nhello\r\n");
    let unknown_type = make_payload(b"\xee\x05hello", 10);
    check("unknown object type", &mut c, &[b"RESTORE", b"e1", b"0", &unknown_type], b"-ERR Bad data format\r\n");
    let short_string = make_payload(b"\x00\x40\x64abc", 10);
    check(
        "string shorter than its length",
        &mut c,
        &[b"RESTORE", b"e1", b"0", &short_string],
        b"-ERR Bad data format\r\n",
    );
    check("EXISTS e1", &mut c, &[b"EXISTS", b"e1"], b":0\r\n");
    check(
        "RESTORE arity",
        &mut c,
        &[b"RESTORE", b"e1", b"0"],
        b"-ERR wrong number of arguments for 'restore' command\r\n",
    );
    check("DUMP arity", &mut c, &[b"DUMP"], b"-ERR wrong number of arguments for 'dump' command\r\n");

    // A hand-made payload: string "hello" as written by Redis (type 0, 6-bit length).
    let hand = make_payload(b"\x00\x05hello", 10);
    assert_eq!(render(&hand), render(&p), "{name}: DUMP of \"hello\" is Redis's exact payload");
    log
}

#[test]
fn dump_restore_interop() {
    let target = start_target(&["--save", ""]);
    let target_log = restore_checks(&target);
    if !redis_available("dump_restore_interop") {
        return;
    }
    let reference = start_reference(&[]);
    let redis_log = restore_checks(&reference);
    assert_eq!(target_log.len(), redis_log.len());
    for ((label, t), (_, r)) in target_log.iter().zip(&redis_log) {
        assert_eq!(render(t), render(r), "{label}: {} vs redis-server", target.name);
    }

    let mut tcon = support::client(target.port);
    let mut rcon = support::client(reference.port);
    run(&mut tcon, &["FLUSHALL"]);
    run(&mut rcon, &["FLUSHALL"]);

    // redis-server -> target.
    populate(&mut rcon);
    let expected = snapshot(&mut rcon);
    check_fixture(&expected, "redis");
    let redis_payloads = copy_by_dump(&mut rcon, &mut tcon, &expected, "redis -> target");
    let got = snapshot(&mut tcon);
    assert_same_dataset(&format!("DUMP from redis-server, RESTORE into {}", target.name), &expected, &got);

    // target -> redis-server.
    run(&mut tcon, &["FLUSHALL"]);
    run(&mut rcon, &["FLUSHALL"]);
    populate(&mut tcon);
    let expected = snapshot(&mut tcon);
    check_fixture(&expected, target.name);
    let target_payloads = copy_by_dump(&mut tcon, &mut rcon, &expected, "target -> redis");
    let got = snapshot(&mut rcon);
    assert_same_dataset(&format!("DUMP from {}, RESTORE into redis-server", target.name), &expected, &got);

    // Short strings (no LZF) have exactly one encoding: the payloads must be identical.
    let mut compared = 0;
    for ((db, key), e) in &expected {
        let Some(rp) = redis_payloads.get(&(*db, key.clone())) else { continue };
        let value_len = match e.kind.as_str() {
            "string" => e.value.len(),
            _ => continue,
        };
        if value_len > 24 {
            continue;
        }
        let tp = &target_payloads[&(*db, key.clone())];
        assert_eq!(render(tp), render(rp), "DUMP payload of db{db}:{} differs from redis-server's", render(key));
        compared += 1;
    }
    assert!(compared >= 6, "only {compared} short string payloads compared");
}

// ---------------------------------------------------------------------------------------
// 5-8. BGSAVE, save points, SHUTDOWN, corrupt files, INFO persistence
// ---------------------------------------------------------------------------------------

#[test]
fn bgsave_is_point_in_time_under_concurrent_writes() {
    const N: usize = 200_000;
    const BATCH: usize = 1000;
    let server = start_target(&["--save", ""]);
    let mut con = support::client(server.port);
    for start in (0..N).step_by(BATCH) {
        let mut p = redis::pipe();
        for i in start..start + BATCH {
            p.cmd("SET").arg(format!("k:{i}")).arg(format!("v0:{i}")).ignore();
        }
        p.query::<()>(&mut con).expect("SET batch");
    }

    let mut raw = server.conn();
    assert_reply!(raw.cmd_str(&["BGSAVE"]), b"+Background saving started\r\n");
    // A second BGSAVE while the first runs is refused. Only asserted when INFO says the
    // first is still running; it is sent before any write, so even if it raced and started
    // a new save, that save holds the same data.
    let info = raw.cmd_str(&["INFO", "persistence"]);
    if String::from_utf8_lossy(&info).contains("rdb_bgsave_in_progress:1") {
        let again = raw.cmd_str(&["BGSAVE"]);
        if again.starts_with(b"-") {
            assert_reply!(again, b"-ERR Background save already in progress\r\n");
        } else {
            assert_reply!(again, b"+Background saving started\r\n");
            eprintln!("note: the first BGSAVE finished before the second was sent");
        }
    } else {
        eprintln!("note: BGSAVE finished before INFO; the in-progress error was not observed");
    }

    // Concurrent writes from another connection.
    let mut writer = support::client(server.port);
    for start in (0..N).step_by(BATCH) {
        let mut p = redis::pipe();
        for i in start..start + BATCH {
            p.cmd("SET").arg(format!("k:{i}")).arg(format!("v1:{i}")).ignore();
            if i % 7 == 0 {
                p.cmd("DEL").arg(format!("k:{i}")).ignore();
            }
            if i % 10 == 0 {
                p.cmd("SET").arg(format!("new:{i}")).arg("x").ignore();
            }
        }
        p.query::<()>(&mut writer).expect("write batch");
    }
    let done = support::wait_until(Duration::from_secs(60), Duration::from_millis(50), || {
        info_field(&mut con, "rdb_bgsave_in_progress") == "0"
    });
    assert!(done, "BGSAVE still in progress after 60 s");
    assert_eq!(info_field(&mut con, "rdb_last_bgsave_status"), "ok");
    let live: i64 = redis::cmd("DBSIZE").query(&mut con).expect("DBSIZE");
    assert_eq!(live as usize, N - N.div_ceil(7) + N / 10, "live dataset after the writes");

    let prep = copy_dump(&server, "bgsave");
    let bytes = fs::read(prep.dump()).expect("read dump");
    check_rdb_frame(&bytes, true, "BGSAVE dump");
    let loaded = start_target(&["--dir", prep.arg(), "--save", ""]);
    let mut lcon = support::client(loaded.port);
    let size: i64 = redis::cmd("DBSIZE").query(&mut lcon).expect("DBSIZE");
    assert_eq!(size as usize, N, "keys in the BGSAVE snapshot");
    for start in (0..N).step_by(BATCH) {
        let keys: Vec<String> = (start..start + BATCH).map(|i| format!("k:{i}")).collect();
        let vals: Vec<Option<String>> = redis::cmd("MGET").arg(&keys).query(&mut lcon).expect("MGET");
        for (i, v) in (start..start + BATCH).zip(vals) {
            assert_eq!(v.as_deref(), Some(format!("v0:{i}").as_str()), "k:{i} in the BGSAVE snapshot");
        }
    }
    let news: Vec<String> = (0..N).step_by(10).take(1000).map(|i| format!("new:{i}")).collect();
    let exists: i64 = redis::cmd("EXISTS").arg(&news).query(&mut lcon).expect("EXISTS");
    assert_eq!(exists, 0, "keys written after BGSAVE must not be in its snapshot");
}

#[test]
fn save_points_shutdown_and_restart() {
    // A save point fires after `secs` seconds once `changes` writes happened.
    let server = start_target(&["--save", "1 1"]);
    let mut con = support::client(server.port);
    let dump = server.dir().join("dump.rdb");
    assert!(!dump.exists(), "no dump before any write");
    let before: i64 = redis::cmd("LASTSAVE").query(&mut con).expect("LASTSAVE");
    run(&mut con, &["SET", "k", "v"]);
    let saved = support::wait_until(Duration::from_secs(10), Duration::from_millis(50), || {
        dump.exists()
            && info_field(&mut con, "rdb_changes_since_last_save") == "0"
            && info_field(&mut con, "rdb_bgsave_in_progress") == "0"
    });
    assert!(saved, "save point \"1 1\" did not save within 10 s\n{}", server.log_tail(20));
    assert_eq!(info_field(&mut con, "rdb_last_bgsave_status"), "ok");
    let after: i64 = redis::cmd("LASTSAVE").query(&mut con).expect("LASTSAVE");
    assert!(after > before, "LASTSAVE must advance: {before} -> {after}");
    check_rdb_frame(&fs::read(&dump).expect("read dump"), true, "save point dump");
    drop(server);

    // SHUTDOWN saves when save points are configured.
    let prep = Prepared::new("shutdown");
    let with_points = ["--dir", prep.arg(), "--save", "3600 1"];
    let mut s1 = start_target(&with_points);
    let mut con = support::client(s1.port);
    run(&mut con, &["SET", "a", "1"]);
    run(&mut con, &["RPUSH", "l", "x", "y"]);
    shutdown(&mut s1, None);
    assert!(prep.dump().exists(), "SHUTDOWN with save points must write dump.rdb");

    // ... SHUTDOWN NOSAVE does not.
    let mut s2 = start_target(&with_points);
    let mut con = support::client(s2.port);
    let a: Option<String> = redis::cmd("GET").arg("a").query(&mut con).expect("GET");
    assert_eq!(a.as_deref(), Some("1"), "data saved by SHUTDOWN is loaded at startup");
    let l: Vec<String> = redis::cmd("LRANGE").arg("l").arg(0).arg(-1).query(&mut con).expect("LRANGE");
    assert_eq!(l, ["x", "y"]);
    run(&mut con, &["SET", "b", "2"]);
    shutdown(&mut s2, Some("NOSAVE"));

    // ... SHUTDOWN SAVE saves even without save points, plain SHUTDOWN then does not.
    let without_points = ["--dir", prep.arg(), "--save", ""];
    let mut s3 = start_target(&without_points);
    let mut con = support::client(s3.port);
    let b: Option<String> = redis::cmd("GET").arg("b").query(&mut con).expect("GET");
    assert_eq!(b, None, "a write before SHUTDOWN NOSAVE must be lost");
    let a: Option<String> = redis::cmd("GET").arg("a").query(&mut con).expect("GET");
    assert_eq!(a.as_deref(), Some("1"));
    run(&mut con, &["SET", "c", "3"]);
    shutdown(&mut s3, Some("SAVE"));

    let mut s4 = start_target(&without_points);
    let mut con = support::client(s4.port);
    let c: Option<String> = redis::cmd("GET").arg("c").query(&mut con).expect("GET");
    assert_eq!(c.as_deref(), Some("3"), "SHUTDOWN SAVE must save");
    run(&mut con, &["SET", "d", "4"]);
    shutdown(&mut s4, None);

    let s5 = start_target(&without_points);
    let mut con = support::client(s5.port);
    let d: Option<String> = redis::cmd("GET").arg("d").query(&mut con).expect("GET");
    assert_eq!(d, None, "SHUTDOWN without save points must not save");
    let dbsize: i64 = redis::cmd("DBSIZE").query(&mut con).expect("DBSIZE");
    assert_eq!(dbsize, 3, "a, l, c");
}

/// Starts the server binary on `dir` directly (the common helpers panic when a server
/// exits during startup) and returns its exit status and output; kills it and fails if it
/// is still running after 10 s.
fn start_expecting_exit(dir: &Path, what: &str) -> (ExitStatus, String) {
    let port = common::free_port().to_string();
    let log_path = dir.join("server.log");
    let log = fs::File::create(&log_path).expect("log file");
    let mut cmd = if support::against_redis() {
        let mut c = Command::new("redis-server");
        c.args(["--port", &port, "--bind", "127.0.0.1", "--dir"]).arg(dir);
        c.args(["--save", "", "--appendonly", "no", "--daemonize", "no"]);
        c
    } else {
        let mut c = Command::new(env!("CARGO_BIN_EXE_rustis-server"));
        c.args(["--port", &port, "--bind", "127.0.0.1", "--metrics-port", "0", "--dir"]).arg(dir);
        c.args(["--save", ""]);
        c
    };
    cmd.current_dir(dir).stdin(Stdio::null()).stdout(log.try_clone().expect("log")).stderr(log);
    let mut child = cmd.spawn().expect("spawn server");
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{what}: the server did not exit within 10 s (it must refuse the file)\n{}",
                common::log_tail(&log_path, 20)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (status, String::from_utf8_lossy(&fs::read(&log_path).unwrap_or_default()).into_owned())
}

#[test]
fn corrupt_and_truncated_dump_refuses_to_start() {
    let server = start_target(&["--save", ""]);
    let mut con = support::client(server.port);
    run(&mut con, &["SET", "small", "value"]);
    run(&mut con, &["RPUSH", "list", "a", "b", "c"]);
    // Incompressible bulk: the middle of the file lies inside this value, so flipping a
    // byte there is caught by the checksum and nothing else.
    run_cmd(&mut con, redis::cmd("SET").arg("big").arg(pseudo_random(64 * 1024, 99)), "SET big");
    run(&mut con, &["SET", "tail", "value"]);
    save(&server);
    let good = fs::read(server.dir().join("dump.rdb")).expect("read dump");
    check_rdb_frame(&good, true, "valid dump");

    // Control: the intact file loads.
    let ok_dir = Prepared::new("intact");
    fs::write(ok_dir.dump(), &good).expect("write dump");
    let loaded = start_target(&["--dir", ok_dir.arg(), "--save", ""]);
    let size: i64 = redis::cmd("DBSIZE").query(&mut support::client(loaded.port)).expect("DBSIZE");
    assert_eq!(size, 4, "the intact dump loads");
    drop(loaded);

    let mut truncated = good[..good.len() / 2].to_vec();
    truncated.shrink_to_fit();
    let mut flipped = good.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x01;
    let mut header = good.clone();
    header[..9].copy_from_slice(b"NOTREDIS!");
    for (what, bytes) in [("truncated to half", truncated), ("flipped byte", flipped), ("bad header", header)] {
        let prep = Prepared::new("corrupt");
        fs::write(prep.dump(), &bytes).expect("write corrupt dump");
        if Command::new("redis-check-rdb").output().is_ok() {
            let out = Command::new("redis-check-rdb").arg(prep.dump()).output().expect("redis-check-rdb");
            assert!(!out.status.success(), "{what}: redis-check-rdb accepts the file, so it is not corrupt");
        }
        let (status, log) = start_expecting_exit(prep.path(), what);
        assert!(!status.success(), "{what}: the server must exit non-zero, got {status}\n{log}");
        // Redis says "Wrong signature trying to load DB from file" for a bad header.
        let lower = log.to_lowercase();
        let names_it = lower.contains("rdb") || (support::against_redis() && lower.contains("load db"));
        assert!(names_it, "{what}: the log must name the RDB file or problem:\n{log}");
        eprintln!("{what}: exit {status}; log tail:\n{}", common::log_tail(&prep.path().join("server.log"), 3));
    }
}

#[test]
fn info_persistence_fields() {
    let server = start_target(&["--save", ""]);
    let mut con = support::client(server.port);
    assert_eq!(info_field(&mut con, "loading"), "0");
    assert_eq!(info_field(&mut con, "rdb_changes_since_last_save"), "0");
    assert_eq!(info_field(&mut con, "rdb_bgsave_in_progress"), "0");
    assert_eq!(info_field(&mut con, "rdb_last_bgsave_status"), "ok");

    run(&mut con, &["SET", "a", "1"]);
    run(&mut con, &["SET", "b", "2"]);
    run(&mut con, &["SET", "a", "3"]);
    run(&mut con, &["DEL", "missing"]);
    run(&mut con, &["GET", "a"]);
    assert_eq!(info_field(&mut con, "rdb_changes_since_last_save"), "3", "3 SETs; reads and no-op DEL");

    save(&server);
    assert_eq!(info_field(&mut con, "rdb_changes_since_last_save"), "0", "SAVE resets the counter");
    let lastsave: i64 = redis::cmd("LASTSAVE").query(&mut con).expect("LASTSAVE");
    assert_eq!(info_field(&mut con, "rdb_last_save_time"), lastsave.to_string());
    assert!((lastsave - now_ms() / 1000).abs() <= 5, "LASTSAVE is the unix time of the save: {lastsave}");
    assert!(server.dir().join("dump.rdb").exists(), "SAVE writes dump.rdb in dir");

    // BGSAVE SCHEDULE with nothing running starts a save right away.
    run(&mut con, &["SET", "c", "4"]);
    assert_eq!(info_field(&mut con, "rdb_changes_since_last_save"), "1");
    let mut raw = server.conn();
    assert_reply!(raw.cmd_str(&["BGSAVE", "SCHEDULE"]), b"+Background saving started\r\n");
    let done = support::wait_until(Duration::from_secs(30), Duration::from_millis(20), || {
        info_field(&mut con, "rdb_bgsave_in_progress") == "0"
    });
    assert!(done, "BGSAVE did not finish within 30 s");
    assert_eq!(info_field(&mut con, "rdb_last_bgsave_status"), "ok");
    assert_eq!(info_field(&mut con, "rdb_changes_since_last_save"), "0", "BGSAVE resets the counter");
    assert_reply!(raw.cmd_str(&["BGSAVE", "NOW"]), b"-ERR syntax error\r\n");
    assert_eq!(info_field(&mut con, "loading"), "0");
}
