//! Hash and set commands against a real rustis-server process: the properties the
//! differential scripts cannot compare byte for byte (random sampling, full HSCAN/SSCAN
//! iterations of hashtable-encoded collections, SMOVE atomicity under concurrency) and a
//! memory report (100,000 small hashes in Rustis and in redis-server).
//!
//! Run with `RUSTIS_TEST_TARGET=redis` to check the expectations against redis-server
//! (the Rustis-only bound on huge negative counts is skipped then).

mod common;
mod support;

use redis::{cmd, Connection};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};
use support::{against_redis, client, err_line, start};

fn smembers(c: &mut Connection, key: &str) -> HashSet<String> {
    cmd("SMEMBERS").arg(key).query(c).unwrap()
}

fn sadd_range(c: &mut Connection, key: &str, members: impl Iterator<Item = String>) {
    let members: Vec<String> = members.collect();
    for chunk in members.chunks(1000) {
        let _: i64 = cmd("SADD").arg(key).arg(chunk).query(c).unwrap();
    }
}

fn hset_range(c: &mut Connection, key: &str, n: usize) {
    for start in (0..n).step_by(500) {
        let mut command = cmd("HSET");
        command.arg(key);
        for i in start..(start + 500).min(n) {
            command.arg(format!("f{i}")).arg(format!("v{i}"));
        }
        let _: i64 = command.query(c).unwrap();
    }
}

fn encoding(c: &mut Connection, key: &str) -> String {
    cmd("OBJECT").arg("ENCODING").arg(key).query(c).unwrap()
}

fn assert_distinct(v: &[String], what: &str) {
    let uniq: HashSet<&String> = v.iter().collect();
    assert_eq!(uniq.len(), v.len(), "{what}: duplicates in {v:?}");
}

/// SRANDMEMBER / SPOP: sizes, distinctness for positive counts, membership, removal.
#[test]
fn set_random_sampling() {
    let s = start(&[]);
    let mut c = client(s.port);
    // One small (intset) and one large (hashtable) set.
    sadd_range(&mut c, "ints", (0..100).map(|i| i.to_string()));
    sadd_range(&mut c, "words", (0..1000).map(|i| format!("m{i}")));
    assert_eq!(encoding(&mut c, "ints"), "intset");
    assert_eq!(encoding(&mut c, "words"), "hashtable");

    for (key, size) in [("ints", 100usize), ("words", 1000)] {
        let all = smembers(&mut c, key);
        assert_eq!(all.len(), size);
        let one: String = cmd("SRANDMEMBER").arg(key).query(&mut c).unwrap();
        assert!(all.contains(&one));
        for count in [1usize, 2, 10, 33, 34, 99, 100, 333, 334, 999, 1000, 5000] {
            let got: Vec<String> = cmd("SRANDMEMBER").arg(key).arg(count).query(&mut c).unwrap();
            assert_eq!(got.len(), count.min(size), "SRANDMEMBER {key} {count}");
            assert_distinct(&got, &format!("SRANDMEMBER {key} {count}"));
            assert!(got.iter().all(|m| all.contains(m)), "SRANDMEMBER {key} {count}: unknown member");
        }
        for count in [1usize, 7, 500, 3000] {
            let got: Vec<String> = cmd("SRANDMEMBER").arg(key).arg(-(count as i64)).query(&mut c).unwrap();
            assert_eq!(got.len(), count, "SRANDMEMBER {key} -{count}");
            assert!(got.iter().all(|m| all.contains(m)));
        }
        // Huge positive counts are bounded by the set's size.
        let got: Vec<String> = cmd("SRANDMEMBER").arg(key).arg(i64::MAX).query(&mut c).unwrap();
        assert_eq!(got.iter().collect::<HashSet<_>>().len(), size);
        let card: usize = cmd("SCARD").arg(key).query(&mut c).unwrap();
        assert_eq!(card, size, "SRANDMEMBER must not change the set");
    }

    // Repeating picks cover a small set (20,000 draws over 10 members).
    sadd_range(&mut c, "ten", (0..10).map(|i| format!("t{i}")));
    let got: Vec<String> = cmd("SRANDMEMBER").arg("ten").arg(-20000).query(&mut c).unwrap();
    let mut freq: HashMap<&String, usize> = HashMap::new();
    for m in &got {
        *freq.entry(m).or_default() += 1;
    }
    assert_eq!(freq.len(), 10, "every member drawn");
    assert!(freq.values().all(|&n| n > 1000), "roughly uniform: {freq:?}");

    // SPOP with small, medium and large counts on both encodings.
    for (key, size) in [("ints", 100usize), ("words", 1000)] {
        let before = smembers(&mut c, key);
        let mut popped: Vec<String> = Vec::new();
        let mut left = size;
        for count in [1usize, size / 10, size / 2] {
            let got: Vec<String> = cmd("SPOP").arg(key).arg(count).query(&mut c).unwrap();
            assert_eq!(got.len(), count, "SPOP {key} {count}");
            assert_distinct(&got, "SPOP");
            left -= count;
            let card: usize = cmd("SCARD").arg(key).query(&mut c).unwrap();
            assert_eq!(card, left);
            for m in &got {
                let is: i64 = cmd("SISMEMBER").arg(key).arg(m).query(&mut c).unwrap();
                assert_eq!(is, 0, "popped member {m} still in {key}");
            }
            popped.extend(got);
        }
        let single: String = cmd("SPOP").arg(key).query(&mut c).unwrap();
        popped.push(single);
        let rest = smembers(&mut c, key);
        assert_eq!(rest.len(), size - popped.len());
        // A count of i64::MAX pops everything and deletes the key.
        let got: Vec<String> = cmd("SPOP").arg(key).arg(i64::MAX).query(&mut c).unwrap();
        assert_eq!(got.iter().cloned().collect::<HashSet<_>>(), rest);
        popped.extend(got);
        assert_distinct(&popped, "all SPOPs");
        assert_eq!(popped.into_iter().collect::<HashSet<_>>(), before);
        let exists: i64 = cmd("EXISTS").arg(key).query(&mut c).unwrap();
        assert_eq!(exists, 0);
    }

    // A large SPOP that leaves a few integers rebuilds the remainder as an intset.
    sadd_range(&mut c, "many", (0..1000).map(|i| i.to_string()));
    assert_eq!(encoding(&mut c, "many"), "hashtable");
    let got: Vec<String> = cmd("SPOP").arg("many").arg(900).query(&mut c).unwrap();
    assert_distinct(&got, "SPOP many 900");
    assert_eq!(encoding(&mut c, "many"), "intset");
    let rest = smembers(&mut c, "many");
    assert_eq!(rest.len(), 100);
    assert!(got.iter().all(|m| !rest.contains(m)));

    // Errors.
    assert_eq!(err_line::<()>(cmd("SPOP").arg("ten").arg(-1), &mut c), "ERR value is out of range, must be positive");
    assert_eq!(
        err_line::<()>(cmd("SRANDMEMBER").arg("ten").arg(i64::MIN), &mut c),
        "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
    );
    if !against_redis() {
        // Redis would try to build a reply of 2^63 elements; Rustis refuses up front.
        let t = Instant::now();
        assert_eq!(err_line::<()>(cmd("SRANDMEMBER").arg("ten").arg(-i64::MAX), &mut c), "ERR value is out of range");
        assert!(t.elapsed() < Duration::from_secs(2));
    }
}

/// HRANDFIELD: sizes, distinctness, WITHVALUES pairs match HGET, both encodings.
#[test]
fn hash_random_sampling() {
    let s = start(&[]);
    let mut c = client(s.port);
    hset_range(&mut c, "small", 50);
    hset_range(&mut c, "big", 2000);
    assert_eq!(encoding(&mut c, "small"), "listpack");
    assert_eq!(encoding(&mut c, "big"), "hashtable");
    for (key, size) in [("small", 50usize), ("big", 2000)] {
        let all: HashMap<String, String> = cmd("HGETALL").arg(key).query(&mut c).unwrap();
        assert_eq!(all.len(), size);
        let one: String = cmd("HRANDFIELD").arg(key).query(&mut c).unwrap();
        assert!(all.contains_key(&one));
        for count in [1usize, 5, 16, 17, 49, 50, 666, 667, 1999, 2000, 10_000] {
            let got: Vec<String> = cmd("HRANDFIELD").arg(key).arg(count).query(&mut c).unwrap();
            assert_eq!(got.len(), count.min(size), "HRANDFIELD {key} {count}");
            assert_distinct(&got, "HRANDFIELD");
            assert!(got.iter().all(|f| all.contains_key(f)));
            let flat: Vec<String> = cmd("HRANDFIELD").arg(key).arg(count).arg("WITHVALUES").query(&mut c).unwrap();
            assert_eq!(flat.len(), 2 * count.min(size));
            let fields: Vec<String> = flat.chunks(2).map(|p| p[0].clone()).collect();
            assert_distinct(&fields, "HRANDFIELD WITHVALUES");
            for p in flat.chunks(2) {
                assert_eq!(all.get(&p[0]), Some(&p[1]), "value of {}", p[0]);
            }
        }
        for count in [1i64, 3, 100, 5000] {
            let flat: Vec<String> = cmd("HRANDFIELD").arg(key).arg(-count).arg("WITHVALUES").query(&mut c).unwrap();
            assert_eq!(flat.len() as i64, 2 * count);
            for p in flat.chunks(2) {
                assert_eq!(all.get(&p[0]), Some(&p[1]));
            }
        }
        let got: Vec<String> = cmd("HRANDFIELD").arg(key).arg(i64::MAX).query(&mut c).unwrap();
        assert_eq!(got.len(), size);
    }
    assert_eq!(
        err_line::<()>(cmd("HRANDFIELD").arg("small").arg(i64::MIN).arg("WITHVALUES"), &mut c),
        "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
    );
    assert_eq!(
        err_line::<()>(cmd("HRANDFIELD").arg("small").arg(-(i64::MAX / 2) - 1).arg("WITHVALUES"), &mut c),
        "ERR value is out of range"
    );
    if !against_redis() {
        let t = Instant::now();
        assert_eq!(
            err_line::<()>(cmd("HRANDFIELD").arg("small").arg(-(i64::MAX / 2)).arg("WITHVALUES"), &mut c),
            "ERR value is out of range"
        );
        assert!(t.elapsed() < Duration::from_secs(2));
    }
}

/// Runs a full SSCAN, calling `between` after every call (to mutate the set).
fn full_sscan(
    c: &mut Connection,
    key: &str,
    count: usize,
    mut between: impl FnMut(&mut Connection, usize),
) -> (HashSet<String>, usize) {
    let mut seen = HashSet::new();
    let mut cursor = 0u64;
    let mut calls = 0;
    loop {
        let (next, items): (u64, Vec<String>) =
            cmd("SSCAN").arg(key).arg(cursor).arg("COUNT").arg(count).query(c).unwrap();
        calls += 1;
        seen.extend(items);
        between(c, calls);
        if next == 0 {
            return (seen, calls);
        }
        cursor = next;
        assert!(calls < 1_000_000, "SSCAN does not terminate");
    }
}

/// Full HSCAN/SSCAN iterations over 5,000 elements return everything, also while the
/// collection grows and shrinks between calls (elements present throughout are seen).
#[test]
fn scan_full_iteration() {
    let s = start(&[]);
    let mut c = client(s.port);
    let stable: HashSet<String> = (0..5000).map(|i| format!("m{i}")).collect();
    sadd_range(&mut c, "set", stable.iter().cloned());
    sadd_range(&mut c, "ints", (0..5000).map(|i| (i * 7).to_string()));
    assert_eq!(encoding(&mut c, "set"), "hashtable");
    assert_eq!(encoding(&mut c, "ints"), "hashtable");

    for count in [1usize, 10, 100, 1000] {
        let (seen, calls) = full_sscan(&mut c, "set", count, |_, _| {});
        assert_eq!(seen, stable, "SSCAN COUNT {count}");
        if count <= 100 {
            assert!(calls > 5, "SSCAN COUNT {count} should take several calls, took {calls}");
        }
    }
    let (seen, _) = full_sscan(&mut c, "ints", 10, |_, _| {});
    assert_eq!(seen.len(), 5000);

    // Growth (20,000 extra members) and shrinkage (all removed) during the scan.
    let (seen, _) = full_sscan(&mut c, "set", 10, |c, call| {
        if call == 20 {
            sadd_range(c, "set", (0..20000).map(|i| format!("tmp{i}")));
        }
        if call == 200 {
            let tmp: Vec<String> = (0..20000).map(|i| format!("tmp{i}")).collect();
            for chunk in tmp.chunks(1000) {
                let _: i64 = cmd("SREM").arg("set").arg(chunk).query(c).unwrap();
            }
        }
    });
    assert!(stable.iter().all(|m| seen.contains(m)), "a stable member was missed during resizes");
    let card: usize = cmd("SCARD").arg("set").query(&mut c).unwrap();
    assert_eq!(card, 5000);

    // MATCH filters what a full iteration returns.
    let mut matched = HashSet::new();
    let mut cursor = 0u64;
    loop {
        let (next, items): (u64, Vec<String>) =
            cmd("SSCAN").arg("set").arg(cursor).arg("MATCH").arg("m1*").arg("COUNT").arg(50).query(&mut c).unwrap();
        matched.extend(items);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    assert_eq!(matched, stable.iter().filter(|m| m.starts_with("m1")).cloned().collect());

    // HSCAN: fields and their values.
    hset_range(&mut c, "hash", 5000);
    assert_eq!(encoding(&mut c, "hash"), "hashtable");
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut cursor = 0u64;
    let mut calls = 0;
    loop {
        let (next, items): (u64, Vec<String>) =
            cmd("HSCAN").arg("hash").arg(cursor).arg("COUNT").arg(10).query(&mut c).unwrap();
        calls += 1;
        assert_eq!(items.len() % 2, 0);
        for p in items.chunks(2) {
            seen.insert(p[0].clone(), p[1].clone());
        }
        if calls == 30 {
            hset_range(&mut c, "hash", 15000);
        }
        if next == 0 {
            break;
        }
        cursor = next;
    }
    assert!(calls > 50, "HSCAN COUNT 10 took only {calls} calls");
    for i in 0..5000 {
        assert_eq!(seen.get(&format!("f{i}")), Some(&format!("v{i}")), "f{i}");
    }

    // Small encodings come back whole, with cursor 0.
    sadd_range(&mut c, "small", (0..100).map(|i| i.to_string()));
    let (next, items): (u64, Vec<String>) = cmd("SSCAN").arg("small").arg(0).arg("COUNT").arg(1).query(&mut c).unwrap();
    assert_eq!((next, items.len()), (0, 100));
    hset_range(&mut c, "hsmall", 100);
    let (next, items): (u64, Vec<String>) = cmd("HSCAN").arg("hsmall").arg(0).query(&mut c).unwrap();
    assert_eq!((next, items.len()), (0, 200));
}

/// SMOVE under concurrency (4 workers): movers shuttle members between two sets while
/// checkers verify, with single atomic multi-key reads, that no member is ever lost,
/// duplicated or in both sets at once.
#[test]
fn smove_is_atomic() {
    const N: usize = 200;
    let s = start(&["--workers", "4"]);
    let mut c = client(s.port);
    sadd_range(&mut c, "smove:a", (0..N).map(|i| format!("m{i}")));

    let stop = Arc::new(AtomicBool::new(false));
    let moves = Arc::new(AtomicU64::new(0));
    let checks = Arc::new(AtomicU64::new(0));
    let port = s.port;
    let mut handles = Vec::new();
    for t in 0..4u64 {
        let (stop, moves) = (stop.clone(), moves.clone());
        handles.push(thread::spawn(move || {
            let mut c = client(port);
            let mut rng = 0x9e37_79b9_7f4a_7c15u64 ^ (t + 1);
            while !stop.load(Ordering::Relaxed) {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let m = format!("m{}", rng % N as u64);
                let (from, to) = if rng & (1 << 40) == 0 { ("smove:a", "smove:b") } else { ("smove:b", "smove:a") };
                let r: i64 = cmd("SMOVE").arg(from).arg(to).arg(&m).query(&mut c).unwrap();
                moves.fetch_add(r as u64, Ordering::Relaxed);
            }
        }));
    }
    for t in 0..3 {
        let (stop, checks) = (stop.clone(), checks.clone());
        handles.push(thread::spawn(move || {
            let mut c = client(port);
            while !stop.load(Ordering::Relaxed) {
                match t {
                    0 => {
                        let u: Vec<String> = cmd("SUNION").arg("smove:a").arg("smove:b").query(&mut c).unwrap();
                        assert_eq!(u.len(), N, "SUNION saw a member missing");
                    }
                    1 => {
                        let n: usize = cmd("SINTERCARD").arg(2).arg("smove:a").arg("smove:b").query(&mut c).unwrap();
                        assert_eq!(n, 0, "a member was in both sets at once");
                    }
                    _ => {
                        let n: usize =
                            cmd("SUNIONSTORE").arg("smove:u").arg("smove:a").arg("smove:b").query(&mut c).unwrap();
                        assert_eq!(n, N, "SUNIONSTORE saw a member missing");
                    }
                }
                checks.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    thread::sleep(Duration::from_secs(3));
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().expect("a mover or checker failed");
    }
    let a: usize = cmd("SCARD").arg("smove:a").query(&mut c).unwrap();
    let b: usize = cmd("SCARD").arg("smove:b").query(&mut c).unwrap();
    assert_eq!(a + b, N, "SCARD a + SCARD b after the run");
    let (moves, checks) = (moves.load(Ordering::Relaxed), checks.load(Ordering::Relaxed));
    eprintln!("smove_is_atomic: {moves} successful moves, {checks} atomic checks");
    assert!(moves > 100 && checks > 30, "too little work: {moves} moves, {checks} checks");
}

fn vm_rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Loads `n` hashes of 10 fields ("field0".."field9" -> 8-byte values), pipelined.
fn load_hashes(c: &mut Connection, n: usize) {
    for start in (0..n).step_by(1000) {
        let mut p = redis::pipe();
        for i in start..(start + 1000).min(n) {
            let mut command = cmd("HSET");
            command.arg(format!("hash:{i:08}"));
            for f in 0..10 {
                command.arg(format!("field{f}")).arg(format!("v{:07}", (i * 10 + f) % 10_000_000));
            }
            p.add_command(command).ignore();
        }
        let _: () = p.query(c).unwrap();
    }
}

/// Memory report: 100,000 hashes of 10 fields in Rustis and in redis-server (VmRSS after
/// loading, minus VmRSS when empty). Printed, not asserted.
#[test]
fn memory_report_100k_hashes() {
    const N: usize = 100_000;
    let rustis = start(&[]);
    let mut servers = vec![("rustis", rustis)];
    if let Some(r) = common::start_redis(&[]) {
        servers.push(("redis-server", r));
    }
    let mut lines = Vec::new();
    for (name, server) in &servers {
        let mut c = client(server.port);
        let before = vm_rss_kb(server.pid());
        let t = Instant::now();
        load_hashes(&mut c, N);
        let elapsed = t.elapsed();
        let n: usize = cmd("DBSIZE").query(&mut c).unwrap();
        assert_eq!(n, N);
        let enc: String = cmd("OBJECT").arg("ENCODING").arg("hash:00000042").query(&mut c).unwrap();
        assert_eq!(enc, "listpack");
        let len: usize = cmd("HLEN").arg("hash:00000042").query(&mut c).unwrap();
        assert_eq!(len, 10);
        thread::sleep(Duration::from_millis(200));
        let after = vm_rss_kb(server.pid());
        lines.push(format!(
            "{name:>12}: VmRSS {before} kB empty -> {after} kB loaded ({:.1} MB for the data, {:.0} bytes/hash), loaded in {elapsed:.2?}",
            after.saturating_sub(before) as f64 / 1024.0,
            after.saturating_sub(before) as f64 * 1024.0 / N as f64,
        ));
    }
    println!("memory report: {N} hashes x 10 fields (8-byte values)");
    for l in &lines {
        println!("{l}");
    }
    eprintln!("{}", lines.join("\n"));
}
