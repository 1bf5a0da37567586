//! Keyspace (generic) commands against a real rustis-server process: DEL/EXISTS, RENAME,
//! COPY/MOVE across databases, KEYS/SCAN, EXPIRE options, active expiry, OBJECT,
//! FLUSHDB/FLUSHALL, SWAPDB.
//!
//! Expectations are Redis 7.0's (`RUSTIS_TEST_TARGET=redis` runs them against redis-server).

mod common;
mod support;

use redis::{cmd, Value};
use std::collections::HashSet;
use std::time::{Duration, Instant};
use support::{client, err_line, start, wait_until};

type Con = redis::Connection;

fn ttl(con: &mut Con, key: &str) -> i64 {
    cmd("TTL").arg(key).query(con).unwrap()
}

fn exists(con: &mut Con, key: &str) -> i64 {
    cmd("EXISTS").arg(key).query(con).unwrap()
}

fn get(con: &mut Con, key: &str) -> Option<String> {
    cmd("GET").arg(key).query(con).unwrap()
}

fn select(con: &mut Con, db: i64) {
    let _: () = cmd("SELECT").arg(db).query(con).unwrap();
}

fn dbsize(con: &mut Con) -> i64 {
    cmd("DBSIZE").query(con).unwrap()
}

/// Sets `n` keys `{prefix}{i}` (value `i`) with MSET in batches.
fn fill(con: &mut Con, prefix: &str, n: usize) {
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let mut c = cmd("MSET");
        for i in chunk {
            c.arg(format!("{prefix}{i}")).arg(*i);
        }
        let _: () = c.query(con).unwrap();
    }
}

/// Full SCAN iteration with the given extra options; returns every key seen (with
/// duplicates counted) and the number of calls.
fn scan_all(con: &mut Con, opts: &[&str]) -> (Vec<String>, usize) {
    let mut cursor = "0".to_string();
    let mut seen = Vec::new();
    let mut calls = 0;
    loop {
        let mut c = cmd("SCAN");
        c.arg(&cursor);
        for o in opts {
            c.arg(*o);
        }
        let (next, keys): (String, Vec<String>) = c.query(con).unwrap();
        calls += 1;
        seen.extend(keys);
        cursor = next;
        if cursor == "0" {
            return (seen, calls);
        }
        assert!(calls < 100_000, "SCAN did not terminate");
    }
}

#[test]
fn del_exists_type_counts() {
    let s = start(&[]);
    let mut c = client(s.port);
    let _: () = cmd("MSET").arg("a").arg(1).arg("b").arg(2).arg("c").arg(3).arg("d").arg(4).query(&mut c).unwrap();
    assert_eq!(cmd("EXISTS").arg("a").arg("b").arg("missing").query::<i64>(&mut c).unwrap(), 2);
    // Repeated keys are counted each time.
    assert_eq!(cmd("EXISTS").arg("a").arg("a").arg("a").query::<i64>(&mut c).unwrap(), 3);
    assert_eq!(cmd("DEL").arg("a").arg("b").arg("missing").query::<i64>(&mut c).unwrap(), 2);
    assert_eq!(cmd("DEL").arg("a").query::<i64>(&mut c).unwrap(), 0);
    // A key deleted once is only counted once even if repeated.
    assert_eq!(cmd("DEL").arg("c").arg("c").query::<i64>(&mut c).unwrap(), 1);
    assert_eq!(cmd("UNLINK").arg("d").arg("nope").query::<i64>(&mut c).unwrap(), 1);
    assert_eq!(dbsize(&mut c), 0);
    let _: () = cmd("SET").arg("s").arg("v").query(&mut c).unwrap();
    assert_eq!(cmd("TYPE").arg("s").query::<String>(&mut c).unwrap(), "string");
    assert_eq!(cmd("TYPE").arg("missing").query::<String>(&mut c).unwrap(), "none");
    assert_eq!(cmd("TOUCH").arg("s").arg("x").arg("s").query::<i64>(&mut c).unwrap(), 2);
    assert_eq!(err_line::<Value>(&cmd("DEL"), &mut c), "ERR wrong number of arguments for 'del' command");
    assert_eq!(err_line::<Value>(&cmd("EXISTS"), &mut c), "ERR wrong number of arguments for 'exists' command");
    // RANDOMKEY.
    assert_eq!(cmd("RANDOMKEY").query::<Option<String>>(&mut c).unwrap(), Some("s".into()));
    let _: () = cmd("FLUSHDB").query(&mut c).unwrap();
    assert_eq!(cmd("RANDOMKEY").query::<Value>(&mut c).unwrap(), Value::Nil);
    fill(&mut c, "r", 50);
    for _ in 0..20 {
        let k: String = cmd("RANDOMKEY").query(&mut c).unwrap();
        let i: usize = k[1..].parse().unwrap();
        assert!(k.starts_with('r') && i < 50, "RANDOMKEY returned {k}");
    }
}

#[test]
fn rename_keeps_ttl() {
    let s = start(&[]);
    let mut c = client(s.port);
    let _: () = cmd("SET").arg("a").arg("va").arg("EX").arg(100).query(&mut c).unwrap();
    let _: () = cmd("RENAME").arg("a").arg("b").query(&mut c).unwrap();
    assert_eq!(exists(&mut c, "a"), 0);
    assert_eq!(get(&mut c, "b"), Some("va".into()));
    let t = ttl(&mut c, "b");
    assert!((99..=100).contains(&t), "TTL after RENAME = {t}");
    // RENAME over an existing key with a TTL: the destination takes the source's (no) TTL.
    let _: () = cmd("SET").arg("src").arg("1").query(&mut c).unwrap();
    let _: () = cmd("RENAME").arg("src").arg("b").query(&mut c).unwrap();
    assert_eq!(ttl(&mut c, "b"), -1);
    assert_eq!(get(&mut c, "b"), Some("1".into()));
    // Renaming a key to itself is fine.
    let _: () = cmd("RENAME").arg("b").arg("b").query(&mut c).unwrap();
    assert_eq!(get(&mut c, "b"), Some("1".into()));
    assert_eq!(err_line::<Value>(cmd("RENAME").arg("missing").arg("x"), &mut c), "ERR no such key");
    assert_eq!(err_line::<Value>(cmd("RENAMENX").arg("missing").arg("x"), &mut c), "ERR no such key");
    // RENAMENX.
    let _: () = cmd("SET").arg("other").arg("o").arg("PX").arg(100_000).query(&mut c).unwrap();
    assert_eq!(cmd("RENAMENX").arg("other").arg("b").query::<i64>(&mut c).unwrap(), 0);
    assert_eq!(get(&mut c, "other"), Some("o".into()));
    assert_eq!(cmd("RENAMENX").arg("other").arg("fresh").query::<i64>(&mut c).unwrap(), 1);
    assert!(ttl(&mut c, "fresh") > 90, "RENAMENX must keep the TTL");
    assert_eq!(cmd("RENAMENX").arg("fresh").arg("fresh").query::<i64>(&mut c).unwrap(), 0);
    // A renamed key with a short TTL still expires.
    let _: () = cmd("SET").arg("short").arg("v").arg("PX").arg(80).query(&mut c).unwrap();
    let _: () = cmd("RENAME").arg("short").arg("short2").query(&mut c).unwrap();
    std::thread::sleep(Duration::from_millis(150));
    assert_eq!(exists(&mut c, "short2"), 0);
}

#[test]
fn copy_and_move_across_dbs() {
    let s = start(&[]);
    let mut c = client(s.port);
    let mut c1 = client(s.port);
    select(&mut c1, 1);

    let _: () = cmd("SET").arg("k").arg("v").arg("EX").arg(100).query(&mut c).unwrap();
    assert_eq!(cmd("COPY").arg("k").arg("k2").query::<i64>(&mut c).unwrap(), 1);
    assert_eq!(get(&mut c, "k2"), Some("v".into()));
    assert!(ttl(&mut c, "k2") > 90, "COPY must copy the TTL");
    let _: () = cmd("SET").arg("k").arg("v2").arg("KEEPTTL").query(&mut c).unwrap();
    assert_eq!(get(&mut c, "k2"), Some("v".into()), "COPY must not share the value");
    assert_eq!(cmd("COPY").arg("k").arg("k2").query::<i64>(&mut c).unwrap(), 0);
    assert_eq!(cmd("COPY").arg("k").arg("k2").arg("REPLACE").query::<i64>(&mut c).unwrap(), 1);
    assert_eq!(get(&mut c, "k2"), Some("v2".into()));
    assert_eq!(cmd("COPY").arg("missing").arg("k3").query::<i64>(&mut c).unwrap(), 0);

    // COPY into another database.
    assert_eq!(cmd("COPY").arg("k").arg("k").arg("DB").arg(1).query::<i64>(&mut c).unwrap(), 1);
    assert_eq!(get(&mut c1, "k"), Some("v2".into()));
    assert!(ttl(&mut c1, "k") > 90);
    assert_eq!(get(&mut c, "k"), Some("v2".into()), "COPY must leave the source");
    assert_eq!(
        err_line::<Value>(cmd("COPY").arg("k").arg("k"), &mut c),
        "ERR source and destination objects are the same"
    );
    assert_eq!(
        err_line::<Value>(cmd("COPY").arg("k").arg("x").arg("DB").arg(16), &mut c),
        "ERR DB index is out of range"
    );
    assert_eq!(
        err_line::<Value>(cmd("COPY").arg("k").arg("x").arg("DB").arg("abc"), &mut c),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(err_line::<Value>(cmd("COPY").arg("k").arg("x").arg("BOGUS"), &mut c), "ERR syntax error");

    // SELECT switches what the same connection sees.
    select(&mut c, 1);
    assert_eq!(get(&mut c, "k2"), None);
    assert_eq!(get(&mut c, "k"), Some("v2".into()));
    select(&mut c, 0);

    // MOVE.
    let _: () = cmd("SET").arg("m").arg("mv").arg("EX").arg(100).query(&mut c).unwrap();
    assert_eq!(cmd("MOVE").arg("m").arg(2).query::<i64>(&mut c).unwrap(), 1);
    assert_eq!(exists(&mut c, "m"), 0);
    select(&mut c1, 2);
    assert_eq!(get(&mut c1, "m"), Some("mv".into()));
    assert!(ttl(&mut c1, "m") > 90, "MOVE must keep the TTL");
    assert_eq!(cmd("MOVE").arg("m").arg(2).query::<i64>(&mut c).unwrap(), 0, "MOVE of a missing key");
    // Destination already has the key: nothing moves.
    let _: () = cmd("SET").arg("m").arg("other").query(&mut c).unwrap();
    assert_eq!(cmd("MOVE").arg("m").arg(2).query::<i64>(&mut c).unwrap(), 0);
    assert_eq!(get(&mut c, "m"), Some("other".into()));
    assert_eq!(get(&mut c1, "m"), Some("mv".into()));
    assert_eq!(
        err_line::<Value>(cmd("MOVE").arg("m").arg(0), &mut c),
        "ERR source and destination objects are the same"
    );
    assert_eq!(err_line::<Value>(cmd("MOVE").arg("m").arg(16), &mut c), "ERR DB index is out of range");
    assert_eq!(err_line::<Value>(cmd("MOVE").arg("m").arg("x"), &mut c), "ERR value is not an integer or out of range");
}

#[test]
fn keys_patterns() {
    let s = start(&[]);
    let mut c = client(s.port);
    for k in ["hello", "hallo", "hxllo", "hllo", "heeeello", "h*llo", "other"] {
        let _: () = cmd("SET").arg(k).arg(1).query(&mut c).unwrap();
    }
    let keys = |c: &mut Con, pat: &str| -> Vec<String> {
        let mut v: Vec<String> = cmd("KEYS").arg(pat).query(c).unwrap();
        v.sort();
        v
    };
    assert_eq!(keys(&mut c, "h?llo"), vec!["h*llo", "hallo", "hello", "hxllo"]);
    assert_eq!(keys(&mut c, "h*llo"), vec!["h*llo", "hallo", "heeeello", "hello", "hllo", "hxllo"]);
    assert_eq!(keys(&mut c, "h[ae]llo"), vec!["hallo", "hello"]);
    assert_eq!(keys(&mut c, "h[^e]llo"), vec!["h*llo", "hallo", "hxllo"]);
    assert_eq!(keys(&mut c, "h[a-b]llo"), vec!["hallo"]);
    assert_eq!(keys(&mut c, "h\\*llo"), vec!["h*llo"]);
    assert_eq!(keys(&mut c, "*").len(), 7);
    assert_eq!(keys(&mut c, "nomatch*"), Vec::<String>::new());
    // Expired keys are not listed.
    let _: () = cmd("SET").arg("hzllo").arg(1).arg("PX").arg(30).query(&mut c).unwrap();
    std::thread::sleep(Duration::from_millis(80));
    assert!(!keys(&mut c, "h?llo").contains(&"hzllo".to_string()));
}

#[test]
fn scan_returns_every_key() {
    let s = start(&[]);
    let mut c = client(s.port);
    const N: usize = 5000;
    fill(&mut c, "key:", N);
    fill(&mut c, "other:", 300);
    let want: HashSet<String> = (0..N).map(|i| format!("key:{i}")).collect();

    let (seen, calls) = scan_all(&mut c, &["COUNT", "100"]);
    let set: HashSet<String> = seen.iter().cloned().collect();
    assert_eq!(set.len(), N + 300, "SCAN COUNT 100 over {} keys saw {} distinct keys", N + 300, set.len());
    assert!(want.is_subset(&set));
    assert!(calls > 10, "COUNT 100 over 5300 keys should need many calls, took {calls}");

    // MATCH.
    let (seen, _) = scan_all(&mut c, &["MATCH", "key:*", "COUNT", "100"]);
    let set: HashSet<String> = seen.into_iter().collect();
    assert_eq!(set, want, "SCAN MATCH key:* must return exactly the key:* keys");
    let (seen, _) = scan_all(&mut c, &["MATCH", "key:1?", "COUNT", "1000"]);
    let set: HashSet<String> = seen.into_iter().collect();
    let want10: HashSet<String> = (10..20).map(|i| format!("key:{i}")).collect();
    assert_eq!(set, want10);

    // TYPE.
    let (seen, _) = scan_all(&mut c, &["COUNT", "100", "TYPE", "string", "MATCH", "other:*"]);
    let set: HashSet<String> = seen.into_iter().collect();
    assert_eq!(set.len(), 300);
    let (seen, _) = scan_all(&mut c, &["COUNT", "500", "TYPE", "list"]);
    assert!(seen.is_empty(), "TYPE list must match nothing, got {} keys", seen.len());

    // Errors.
    assert_eq!(err_line::<Value>(cmd("SCAN").arg("abc"), &mut c), "ERR invalid cursor");
    assert_eq!(err_line::<Value>(cmd("SCAN").arg(0).arg("COUNT").arg(0), &mut c), "ERR syntax error");
    assert_eq!(
        err_line::<Value>(cmd("SCAN").arg(0).arg("COUNT").arg("x"), &mut c),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(err_line::<Value>(cmd("SCAN").arg(0).arg("BOGUS"), &mut c), "ERR syntax error");

    // Keys deleted mid-scan are fine, keys present throughout are returned at least once.
    let mut cursor = "0".to_string();
    let mut seen = HashSet::new();
    let mut calls = 0;
    loop {
        let (next, keys): (String, Vec<String>) = cmd("SCAN").arg(&cursor).arg("COUNT").arg(200).query(&mut c).unwrap();
        seen.extend(keys);
        calls += 1;
        if calls == 3 {
            let _: i64 = cmd("DEL").arg("other:1").arg("other:2").query(&mut c).unwrap();
        }
        cursor = next;
        if cursor == "0" {
            break;
        }
    }
    assert!(want.is_subset(&seen), "keys present throughout a SCAN were missed");
}

#[test]
fn expire_options() {
    let s = start(&[]);
    let mut c = client(s.port);
    let _: () = cmd("SET").arg("k").arg("v").query(&mut c).unwrap();
    let exp = |c: &mut Con, args: &[&str]| -> i64 {
        let mut cm = cmd("EXPIRE");
        cm.arg("k");
        for a in args {
            cm.arg(*a);
        }
        cm.query(c).unwrap()
    };
    // No TTL yet: XX and GT fail, NX succeeds.
    assert_eq!(exp(&mut c, &["100", "XX"]), 0);
    assert_eq!(exp(&mut c, &["100", "GT"]), 0);
    assert_eq!(ttl(&mut c, "k"), -1);
    assert_eq!(exp(&mut c, &["100", "NX"]), 1);
    assert_eq!(exp(&mut c, &["200", "NX"]), 0);
    assert!(ttl(&mut c, "k") <= 100);
    assert_eq!(exp(&mut c, &["200", "XX"]), 1);
    assert!(ttl(&mut c, "k") > 150);
    assert_eq!(exp(&mut c, &["100", "GT"]), 0);
    assert_eq!(exp(&mut c, &["300", "GT"]), 1);
    assert!(ttl(&mut c, "k") > 250);
    assert_eq!(exp(&mut c, &["400", "LT"]), 0);
    assert_eq!(exp(&mut c, &["50", "LT"]), 1);
    assert!(ttl(&mut c, "k") <= 50);
    // LT on a key without TTL succeeds (no TTL counts as infinite).
    let _: () = cmd("PERSIST").arg("k").query(&mut c).unwrap();
    assert_eq!(ttl(&mut c, "k"), -1);
    assert_eq!(exp(&mut c, &["50", "LT"]), 1);
    assert_eq!(cmd("PERSIST").arg("k").query::<i64>(&mut c).unwrap(), 1);
    assert_eq!(cmd("PERSIST").arg("k").query::<i64>(&mut c).unwrap(), 0);
    // Incompatible options.
    let e = |c: &mut Con, args: &[&str]| {
        let mut cm = cmd("EXPIRE");
        cm.arg("k");
        for a in args {
            cm.arg(*a);
        }
        err_line::<Value>(&cm, c)
    };
    assert_eq!(e(&mut c, &["10", "NX", "XX"]), "ERR NX and XX, GT or LT options at the same time are not compatible");
    assert_eq!(e(&mut c, &["10", "GT", "LT"]), "ERR GT and LT options at the same time are not compatible");
    assert_eq!(e(&mut c, &["10", "NX", "GT"]), "ERR NX and XX, GT or LT options at the same time are not compatible");
    assert_eq!(e(&mut c, &["10", "FOO"]), "ERR Unsupported option FOO");
    assert_eq!(e(&mut c, &["abc"]), "ERR value is not an integer or out of range");
    assert_eq!(e(&mut c, &["9223372036854775807"]), "ERR invalid expire time in 'expire' command");
    assert_eq!(ttl(&mut c, "k"), -1);
    // Missing key.
    assert_eq!(cmd("EXPIRE").arg("missing").arg(10).query::<i64>(&mut c).unwrap(), 0);
    // A non-positive TTL deletes the key.
    assert_eq!(exp(&mut c, &["-1"]), 1);
    assert_eq!(exists(&mut c, "k"), 0);
    // EXPIREAT in the past deletes; PEXPIREAT / EXPIRETIME / PEXPIRETIME.
    let (now, _): (i64, i64) = cmd("TIME").query(&mut c).unwrap();
    let _: () = cmd("SET").arg("k").arg("v").query(&mut c).unwrap();
    assert_eq!(cmd("EXPIRETIME").arg("k").query::<i64>(&mut c).unwrap(), -1);
    assert_eq!(cmd("EXPIRETIME").arg("missing").query::<i64>(&mut c).unwrap(), -2);
    assert_eq!(cmd("EXPIREAT").arg("k").arg(now + 1000).query::<i64>(&mut c).unwrap(), 1);
    assert_eq!(cmd("EXPIRETIME").arg("k").query::<i64>(&mut c).unwrap(), now + 1000);
    assert_eq!(cmd("PEXPIRETIME").arg("k").query::<i64>(&mut c).unwrap(), (now + 1000) * 1000);
    assert_eq!(cmd("PEXPIREAT").arg("k").arg((now + 2000) * 1000 + 7).query::<i64>(&mut c).unwrap(), 1);
    assert_eq!(cmd("PEXPIRETIME").arg("k").query::<i64>(&mut c).unwrap(), (now + 2000) * 1000 + 7);
    assert_eq!(cmd("PEXPIRE").arg("k").arg(100_000).arg("GT").query::<i64>(&mut c).unwrap(), 0);
    assert_eq!(cmd("PEXPIRE").arg("k").arg(100_000).arg("LT").query::<i64>(&mut c).unwrap(), 1);
    let pt: i64 = cmd("PTTL").arg("k").query(&mut c).unwrap();
    assert!((99_000..=100_000).contains(&pt), "PTTL = {pt}");
    assert_eq!(cmd("EXPIREAT").arg("k").arg(now - 10).query::<i64>(&mut c).unwrap(), 1);
    assert_eq!(exists(&mut c, "k"), 0);
    // PEXPIRE really expires.
    let _: () = cmd("SET").arg("p").arg("v").query(&mut c).unwrap();
    assert_eq!(cmd("PEXPIRE").arg("p").arg(50).query::<i64>(&mut c).unwrap(), 1);
    std::thread::sleep(Duration::from_millis(120));
    assert_eq!(exists(&mut c, "p"), 0);
}

#[test]
fn active_expiry_without_access() {
    let s = start(&[]);
    let mut c = client(s.port);
    const N: usize = 2000;
    let mut p = redis::pipe();
    for i in 0..N {
        p.cmd("SET").arg(format!("exp:{i}")).arg(i).arg("PX").arg(100).ignore();
    }
    for i in 0..10 {
        p.cmd("SET").arg(format!("keep:{i}")).arg(i).ignore();
    }
    let _: () = p.query(&mut c).unwrap();
    let start_size = dbsize(&mut c);
    assert!(start_size > 10, "keys with PX 100 vanished before DBSIZE was read ({start_size})");
    // Only DBSIZE is sent: expired keys must be reclaimed by the server on its own.
    let t0 = Instant::now();
    let mut last = start_size;
    let gone = wait_until(Duration::from_secs(3), Duration::from_millis(50), || {
        last = dbsize(&mut c);
        last == 10
    });
    assert!(gone, "active expiry: DBSIZE still {last} after {:?} (expected 10)", t0.elapsed());
    let info: String = cmd("INFO").arg("stats").query(&mut c).unwrap();
    let expired: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("expired_keys:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("INFO stats has expired_keys");
    assert_eq!(expired, N as u64, "expired_keys in INFO stats");
}

#[test]
fn object_encoding() {
    let s = start(&[]);
    let mut c = client(s.port);
    let enc = |c: &mut Con, k: &str| -> Option<String> { cmd("OBJECT").arg("ENCODING").arg(k).query(c).unwrap() };
    let set = |c: &mut Con, k: &str, v: &str| {
        let _: () = cmd("SET").arg(k).arg(v).query(c).unwrap();
    };
    set(&mut c, "i", "12345");
    assert_eq!(enc(&mut c, "i").as_deref(), Some("int"));
    set(&mut c, "neg", "-9223372036854775808");
    assert_eq!(enc(&mut c, "neg").as_deref(), Some("int"));
    set(&mut c, "toobig", "9223372036854775808");
    assert_eq!(enc(&mut c, "toobig").as_deref(), Some("embstr"));
    set(&mut c, "lead0", "0123");
    assert_eq!(enc(&mut c, "lead0").as_deref(), Some("embstr"));
    set(&mut c, "e", "hello");
    assert_eq!(enc(&mut c, "e").as_deref(), Some("embstr"));
    set(&mut c, "e44", &"x".repeat(44));
    assert_eq!(enc(&mut c, "e44").as_deref(), Some("embstr"));
    set(&mut c, "r45", &"x".repeat(45));
    assert_eq!(enc(&mut c, "r45").as_deref(), Some("raw"));
    // APPEND and SETRANGE produce raw strings; INCR produces int.
    set(&mut c, "a", "ab");
    let _: i64 = cmd("APPEND").arg("a").arg("c").query(&mut c).unwrap();
    assert_eq!(enc(&mut c, "a").as_deref(), Some("raw"));
    let _: i64 = cmd("INCR").arg("counter").query(&mut c).unwrap();
    assert_eq!(enc(&mut c, "counter").as_deref(), Some("int"));
    let _: String = cmd("INCRBYFLOAT").arg("fl").arg("1.5").query(&mut c).unwrap();
    assert_eq!(enc(&mut c, "fl").as_deref(), Some("embstr"));
    assert_eq!(enc(&mut c, "missing"), None);
    // Other OBJECT subcommands.
    assert!(cmd("OBJECT").arg("REFCOUNT").arg("e").query::<i64>(&mut c).unwrap() >= 1);
    let idle: i64 = cmd("OBJECT").arg("IDLETIME").arg("e").query(&mut c).unwrap();
    assert!((0..5).contains(&idle), "OBJECT IDLETIME = {idle}");
    assert_eq!(cmd("OBJECT").arg("IDLETIME").arg("missing").query::<Value>(&mut c).unwrap(), Value::Nil);
    assert_eq!(
        err_line::<Value>(cmd("OBJECT").arg("BOGUS").arg("e"), &mut c),
        "ERR unknown subcommand 'BOGUS'. Try OBJECT HELP."
    );
    let help: Vec<String> = cmd("OBJECT").arg("HELP").query(&mut c).unwrap();
    assert!(help[0].starts_with("OBJECT <subcommand>"), "OBJECT HELP first line: {:?}", help[0]);
}

#[test]
fn flushdb_and_flushall() {
    let s = start(&[]);
    let mut c = client(s.port);
    let mut c1 = client(s.port);
    select(&mut c1, 1);
    fill(&mut c, "a", 100);
    fill(&mut c1, "b", 50);
    assert_eq!(dbsize(&mut c), 100);
    assert_eq!(dbsize(&mut c1), 50);
    let _: () = cmd("FLUSHDB").query(&mut c).unwrap();
    assert_eq!(dbsize(&mut c), 0);
    assert_eq!(dbsize(&mut c1), 50, "FLUSHDB must only empty the selected database");
    fill(&mut c, "a", 100);
    let _: () = cmd("FLUSHDB").arg("ASYNC").query(&mut c).unwrap();
    assert_eq!(dbsize(&mut c), 0);
    fill(&mut c, "a", 10);
    let _: () = cmd("FLUSHALL").query(&mut c).unwrap();
    assert_eq!(dbsize(&mut c), 0);
    assert_eq!(dbsize(&mut c1), 0);
    fill(&mut c1, "b", 10);
    let _: () = cmd("FLUSHALL").arg("SYNC").query(&mut c).unwrap();
    assert_eq!(dbsize(&mut c1), 0);
    assert_eq!(err_line::<Value>(cmd("FLUSHDB").arg("BOGUS"), &mut c), "ERR syntax error");
    assert_eq!(err_line::<Value>(cmd("FLUSHALL").arg("BOGUS"), &mut c), "ERR syntax error");
    // Keys written after a flush are there.
    let _: () = cmd("SET").arg("after").arg("1").query(&mut c).unwrap();
    assert_eq!(get(&mut c, "after"), Some("1".into()));
}

#[test]
fn swapdb() {
    let s = start(&[]);
    let mut c = client(s.port);
    let mut c1 = client(s.port);
    select(&mut c1, 1);
    let _: () = cmd("SET").arg("k").arg("zero").arg("EX").arg(100).query(&mut c).unwrap();
    let _: () = cmd("SET").arg("only0").arg("x").query(&mut c).unwrap();
    let _: () = cmd("SET").arg("k").arg("one").query(&mut c1).unwrap();
    let _: () = cmd("SWAPDB").arg(0).arg(1).query(&mut c).unwrap();
    // Connections stay on their db number and see the swapped contents.
    assert_eq!(get(&mut c, "k"), Some("one".into()));
    assert_eq!(ttl(&mut c, "k"), -1);
    assert_eq!(exists(&mut c, "only0"), 0);
    assert_eq!(get(&mut c1, "k"), Some("zero".into()));
    assert!(ttl(&mut c1, "k") > 90, "TTL must travel with SWAPDB");
    assert_eq!(get(&mut c1, "only0"), Some("x".into()));
    assert_eq!(dbsize(&mut c), 1);
    assert_eq!(dbsize(&mut c1), 2);
    // Swapping a db with itself is a no-op.
    let _: () = cmd("SWAPDB").arg(1).arg(1).query(&mut c).unwrap();
    assert_eq!(get(&mut c1, "k"), Some("zero".into()));
    // A fresh connection (db 0) sees the swapped data too.
    let mut c2 = client(s.port);
    assert_eq!(get(&mut c2, "k"), Some("one".into()));
    assert_eq!(err_line::<Value>(cmd("SWAPDB").arg(0).arg(16), &mut c), "ERR DB index is out of range");
    assert_eq!(err_line::<Value>(cmd("SWAPDB").arg("a").arg(1), &mut c), "ERR invalid first DB index");
    assert_eq!(err_line::<Value>(cmd("SWAPDB").arg(0).arg("b"), &mut c), "ERR invalid second DB index");
    assert_eq!(err_line::<Value>(cmd("SWAPDB").arg(0), &mut c), "ERR wrong number of arguments for 'swapdb' command");
}
