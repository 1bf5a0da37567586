//! maxmemory and eviction, with Redis 7.0's expectations (run with
//! `RUSTIS_TEST_TARGET=redis` to check them against redis-server):
//! OOM errors under noeviction, LRU/LFU keep hot keys, volatile policies only evict keys
//! with a TTL (volatile-ttl the nearest expiry first), evictions are counted and notified.

mod common;
mod support;

use std::time::Duration;

fn info_u64(con: &mut redis::Connection, section: &str, field: &str) -> u64 {
    let text: String = redis::cmd("INFO").arg(section).query(con).expect("INFO");
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in INFO {section}"))
}

/// A server whose maxmemory is its current usage plus `headroom` bytes.
fn limited(policy: &str, headroom: u64) -> (common::Server, redis::Connection) {
    let server = support::start(&[]);
    let mut con = support::client(server.port);
    let used = info_u64(&mut con, "memory", "used_memory");
    let _: () =
        redis::cmd("CONFIG").arg("SET").arg("maxmemory").arg(used + headroom).query(&mut con).expect("maxmemory");
    let _: () = redis::cmd("CONFIG").arg("SET").arg("maxmemory-policy").arg(policy).query(&mut con).expect("policy");
    (server, con)
}

/// SETs `prefix:i` for i in range with `size`-byte values, pipelined over a raw
/// connection; returns how many were refused with OOM (any other error fails the test).
fn fill(con: &mut redis::Connection, prefix: &str, range: std::ops::Range<usize>, size: usize) -> usize {
    let port: u16 = redis::cmd("CONFIG")
        .arg("GET")
        .arg("port")
        .query::<Vec<String>>(con)
        .expect("CONFIG GET port")
        .get(1)
        .and_then(|p| p.parse().ok())
        .expect("port");
    let mut raw = common::RawConn::connect(port).expect("connect");
    let val = vec![b'v'; size];
    let mut oom = 0;
    let keys: Vec<usize> = range.collect();
    for chunk in keys.chunks(200) {
        let mut buf = Vec::new();
        for i in chunk {
            buf.extend(common::encode_command(&[b"SET", format!("{prefix}:{i}").as_bytes(), &val]));
        }
        raw.send(&buf);
        for _ in chunk {
            let r = raw.read_reply();
            if r.starts_with(b"-OOM") {
                oom += 1;
            } else {
                assert_eq!(r, b"+OK\r\n", "unexpected reply {}", common::render(&r));
            }
        }
    }
    oom
}

/// Single SETs of 1 KB values until one is refused (the pipelines' own buffers may have
/// pushed usage over the limit only while they were in flight); returns that reply.
fn first_oom(raw: &mut common::RawConn) -> Vec<u8> {
    let val = vec![b'x'; 1024];
    for i in 0..20_000 {
        let r = raw.cmd(&[b"SET", format!("probe:{i}").as_bytes(), &val]);
        if r != b"+OK\r\n" {
            return r;
        }
    }
    panic!("20 MB of SETs were all accepted");
}

fn exists(con: &mut redis::Connection, prefix: &str, range: std::ops::Range<usize>) -> usize {
    let keys: Vec<String> = range.map(|i| format!("{prefix}:{i}")).collect();
    let mut n = 0;
    for chunk in keys.chunks(500) {
        let c: usize = redis::cmd("EXISTS").arg(chunk).query(con).expect("EXISTS");
        n += c;
    }
    n
}

#[test]
fn noeviction_answers_oom_and_keeps_reads_and_deletes_working() {
    let (server, mut con) = limited("noeviction", 2 << 20);
    let refused = fill(&mut con, "k", 0..40_000, 100);
    assert!(refused > 0, "40,000 x 100 bytes fit in 2 MB of headroom?");
    let mut raw = server.conn();
    let r = first_oom(&mut raw);
    assert_eq!(common::render(&r), common::render(b"-OOM command not allowed when used memory > 'maxmemory'.\r\n"));
    assert_eq!(
        common::render(&raw.cmd_str(&["GET", "k:0"])),
        common::render(&[b"$100\r\n".as_slice(), &[b'v'; 100], b"\r\n"].concat())
    );
    // DEL is not denyoom.
    assert_eq!(common::render(&raw.cmd_str(&["DEL", "k:0"])), common::render(b":1\r\n"));
    assert_eq!(info_u64(&mut con, "stats", "evicted_keys"), 0);
}

#[test]
fn allkeys_lru_keeps_recently_used_keys() {
    let (_server, mut con) = limited("allkeys-lru", 4 << 20);
    let _: () = redis::cmd("CONFIG").arg("SET").arg("maxmemory-samples").arg(10).query(&mut con).expect("samples");
    assert_eq!(fill(&mut con, "old", 0..10_000, 100), 0);
    // Touch the first 1,000 a few times, a second apart from the rest (LRU clock is in s).
    std::thread::sleep(Duration::from_millis(1100));
    for _ in 0..3 {
        let keys: Vec<String> = (0..1000).map(|i| format!("old:{i}")).collect();
        let _: Vec<Option<String>> = redis::cmd("MGET").arg(&keys).query(&mut con).expect("MGET");
    }
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(fill(&mut con, "new", 0..14_000, 100), 0, "allkeys-lru must never refuse");
    let evicted = info_u64(&mut con, "stats", "evicted_keys");
    assert!(evicted > 1_000, "only {evicted} evictions");
    let hot = exists(&mut con, "old", 0..1000);
    let cold = exists(&mut con, "old", 1000..10_000);
    // Sampled LRU is approximate: recently used keys must survive clearly more often than
    // the others (redis-server 7.0: 1000/1000 hot, ~6500/9000 cold; Rustis evicts more
    // keys overall, see README, e.g. ~720/1000 hot, ~1350/9000 cold).
    eprintln!("allkeys-lru: hot kept {hot}/1000, cold kept {cold}/9000, evicted {evicted}");
    assert!(hot >= 500, "hot keys kept: {hot}/1000 (cold kept: {cold}/9000)");
    assert!((cold as f64 / 9000.0) + 0.2 < hot as f64 / 1000.0, "hot {hot}/1000 vs cold {cold}/9000");
}

#[test]
fn volatile_policies_only_evict_keys_with_a_ttl() {
    let (server, mut con) = limited("volatile-ttl", 4 << 20);
    // Persistent keys, then keys with increasing TTLs.
    assert_eq!(fill(&mut con, "keep", 0..5_000, 100), 0);
    let val = "v".repeat(100);
    for chunk in (0..30_000usize).collect::<Vec<_>>().chunks(200) {
        let mut p = redis::pipe();
        for i in chunk {
            p.cmd("SET").arg(format!("t:{i}")).arg(&val).arg("EX").arg(10_000 + i).ignore();
        }
        p.query::<()>(&mut con).expect("SET EX");
    }
    assert_eq!(exists(&mut con, "keep", 0..5_000), 5_000, "a key without TTL was evicted");
    let early = exists(&mut con, "t", 0..5_000);
    let late = exists(&mut con, "t", 25_000..30_000);
    assert!(late > early, "volatile-ttl kept {early} of the nearest expiries and {late} of the furthest");
    // Nothing volatile left to evict: OOM.
    let _: () =
        redis::cmd("CONFIG").arg("SET").arg("maxmemory-policy").arg("volatile-lru").query(&mut con).expect("policy");
    let _: usize =
        redis::cmd("DEL").arg((0..30_000).map(|i| format!("t:{i}")).collect::<Vec<_>>()).query(&mut con).expect("DEL");
    let refused = fill(&mut con, "more", 0..60_000, 100);
    assert!(refused > 0, "volatile-lru with no volatile keys must refuse writes once full");
    let mut raw = server.conn();
    assert!(first_oom(&mut raw).starts_with(b"-OOM"));
}

#[test]
fn allkeys_lfu_tracks_frequency_and_keeps_frequent_keys() {
    let (_server, mut con) = limited("allkeys-lfu", 4 << 20);
    let _: () = redis::cmd("SET").arg("f").arg("v").query(&mut con).expect("SET");
    let f0: i64 = redis::cmd("OBJECT").arg("FREQ").arg("f").query(&mut con).expect("OBJECT FREQ");
    for _ in 0..200 {
        let _: Option<String> = redis::cmd("GET").arg("f").query(&mut con).expect("GET");
    }
    let f1: i64 = redis::cmd("OBJECT").arg("FREQ").arg("f").query(&mut con).expect("OBJECT FREQ");
    assert!(f1 > f0, "LFU counter did not grow: {f0} -> {f1}");
    let e = redis::cmd("OBJECT").arg("IDLETIME").arg("f").query::<i64>(&mut con).unwrap_err();
    assert!(e.to_string().contains("An LFU maxmemory policy is selected"), "{e}");
    assert_eq!(fill(&mut con, "cold", 0..10_000, 100), 0);
    for _ in 0..20 {
        let keys: Vec<String> = (0..500).map(|i| format!("cold:{i}")).collect();
        let _: Vec<Option<String>> = redis::cmd("MGET").arg(&keys).query(&mut con).expect("MGET");
    }
    assert_eq!(fill(&mut con, "new", 0..40_000, 100), 0);
    let hot = exists(&mut con, "cold", 0..500);
    assert!(hot >= 400, "frequent keys kept: {hot}/500");
    assert_eq!(exists(&mut con, "f", 0..0), 0);
}

#[test]
fn evictions_are_notified() {
    let (server, mut con) = limited("allkeys-random", 2 << 20);
    let _: () =
        redis::cmd("CONFIG").arg("SET").arg("notify-keyspace-events").arg("Ee").query(&mut con).expect("notify");
    let mut sub = server.conn();
    sub.cmd_str(&["SUBSCRIBE", "__keyevent@0__:evicted"]);
    assert_eq!(fill(&mut con, "k", 0..40_000, 100), 0);
    sub.set_timeout(Duration::from_secs(5)).expect("timeout");
    let msg = sub.read_reply();
    let text = common::render(&msg);
    assert!(text.contains("__keyevent@0__:evicted") && text.contains("k:"), "{text}");
}
