//! Sorted sets end to end:
//!
//! - a seeded random model test: 20,000 operations (ZADD, ZREM, ZINCRBY, ZRANK, ZREVRANK,
//!   ZCOUNT, ZRANGE by rank / score / lex with REV, LIMIT, WITHSCORES, ZLEXCOUNT) on a
//!   10,000-member set (a `skiplist`), every reply compared with a model kept in the test
//!   (a `BTreeMap` of member → score plus the sorted order);
//! - the multi-key commands under concurrency (`--workers 4`): ZUNIONSTORE/ZINTERSTORE
//!   see their sources atomically, and lock-order-inverting *STORE/ZMPOP mixes finish
//!   (bounded by deadlines, so a deadlock fails instead of hanging);
//! - memory: 100,000 zsets of 10 members loaded into Rustis and redis-server, both RSS
//!   printed (run with `--nocapture`; not asserted).
//!
//! `RUSTIS_TEST_TARGET=redis` runs the first two against redis-server (see tests/support).

mod common;
mod support;

use redis::{cmd, Value};
use std::collections::BTreeMap;
use std::thread;
use std::time::{Duration, Instant};
use support::{client, start, with_deadline};

// ---------------------------------------------------------------------------------------
// Model test
// ---------------------------------------------------------------------------------------

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }
    /// A score: a multiple of 0.5 in [-500, 500).
    fn score(&mut self) -> f64 {
        (self.below(2000) as f64 - 1000.0) / 2.0
    }
}

fn norm(s: f64) -> f64 {
    if s == 0.0 {
        0.0
    } else {
        s
    }
}

/// The model: member → score, plus the (score, member) order as a sorted vector.
#[derive(Default)]
struct Model {
    scores: BTreeMap<String, f64>,
    order: Vec<(f64, String)>,
}

fn cmp(a: &(f64, String), b: &(f64, String)) -> std::cmp::Ordering {
    a.0.partial_cmp(&b.0).unwrap().then_with(|| a.1.cmp(&b.1))
}

impl Model {
    fn pos(&self, e: &(f64, String)) -> Result<usize, usize> {
        self.order.binary_search_by(|x| cmp(x, e))
    }
    /// Sets a member's score; true if it is new.
    fn set(&mut self, m: &str, s: f64) -> bool {
        let s = norm(s);
        let new = match self.scores.insert(m.to_string(), s) {
            Some(old) => {
                let i = self.pos(&(old, m.to_string())).expect("model order");
                self.order.remove(i);
                false
            }
            None => true,
        };
        let e = (s, m.to_string());
        let i = self.pos(&e).unwrap_err();
        self.order.insert(i, e);
        new
    }
    fn remove(&mut self, m: &str) -> bool {
        match self.scores.remove(m) {
            Some(old) => {
                let i = self.pos(&(old, m.to_string())).expect("model order");
                self.order.remove(i);
                true
            }
            None => false,
        }
    }
    fn rank(&self, m: &str) -> Option<usize> {
        let s = *self.scores.get(m)?;
        self.pos(&(s, m.to_string())).ok()
    }
}

/// Redis's rank sanitising: the slice of ascending ranks for start..=stop.
fn rank_slice(len: usize, start: i64, stop: i64) -> std::ops::Range<usize> {
    let l = len as i64;
    let mut a = if start < 0 { l + start } else { start };
    let b = if stop < 0 { l + stop } else { stop };
    if a < 0 {
        a = 0;
    }
    if a > b || a >= l {
        return 0..0;
    }
    a as usize..(b.min(l - 1) + 1) as usize
}

/// Applies Redis's offset/limit walk to an ascending slice, in the given direction.
fn walk(items: &[(f64, String)], rev: bool, limit: Option<(i64, i64)>) -> Vec<(f64, String)> {
    let mut v: Vec<(f64, String)> = items.to_vec();
    if rev {
        v.reverse();
    }
    if let Some((off, count)) = limit {
        if off < 0 {
            return Vec::new();
        }
        let rest = v.into_iter().skip(off as usize);
        return if count < 0 { rest.collect() } else { rest.take(count as usize).collect() };
    }
    v
}

fn fmt_score(s: f64) -> String {
    // Scores in this test are multiples of 0.5 well within 2^53: `{}` prints what %.17g does.
    if s == s.trunc() {
        format!("{}", s as i64)
    } else {
        format!("{s}")
    }
}

fn bulk_strings(v: &Value) -> Vec<String> {
    match v {
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::BulkString(b) => String::from_utf8(b.clone()).unwrap(),
                other => panic!("expected a bulk string, got {other:?}"),
            })
            .collect(),
        other => panic!("expected an array, got {other:?}"),
    }
}

/// Parses a RESP2 reply of members, optionally with scores, into (score, member).
fn parse_members(v: &Value, withscores: bool) -> Vec<(f64, String)> {
    let s = bulk_strings(v);
    if withscores {
        s.chunks(2).map(|p| (p[1].parse::<f64>().unwrap(), p[0].clone())).collect()
    } else {
        s.into_iter().map(|m| (f64::NAN, m)).collect()
    }
}

fn same(got: &[(f64, String)], want: &[(f64, String)], withscores: bool) -> bool {
    got.len() == want.len() && got.iter().zip(want).all(|(g, w)| g.1 == w.1 && (!withscores || g.0 == w.0))
}

fn score_bound(rng: &mut Rng) -> (String, f64, bool) {
    match rng.below(20) {
        0 => ("-inf".into(), f64::NEG_INFINITY, false),
        1 => ("+inf".into(), f64::INFINITY, false),
        _ => {
            let v = rng.score();
            let ex = rng.chance(40);
            (format!("{}{}", if ex { "(" } else { "" }, fmt_score(v)), v, ex)
        }
    }
}

#[derive(Clone)]
enum LexB {
    Min,
    Max,
    In(String),
    Ex(String),
}

fn lex_bound(rng: &mut Rng) -> (String, LexB) {
    match rng.below(12) {
        0 => ("-".into(), LexB::Min),
        1 => ("+".into(), LexB::Max),
        _ => {
            let m = lex_member(rng);
            lex_item(rng, m)
        }
    }
}

fn lex_item(rng: &mut Rng, m: String) -> (String, LexB) {
    if rng.chance(50) {
        (format!("({m}"), LexB::Ex(m))
    } else {
        (format!("[{m}"), LexB::In(m))
    }
}

/// `w0000`..`w2999`, and now and then one with a suffix (a prefix sorts first).
fn lex_member(rng: &mut Rng) -> String {
    let n = rng.below(3000);
    if rng.chance(10) {
        format!("w{n:04}x")
    } else {
        format!("w{n:04}")
    }
}

fn lex_ge_min(v: &str, b: &LexB) -> bool {
    match b {
        LexB::Min => true,
        LexB::Max => false,
        LexB::In(m) => v >= m.as_str(),
        LexB::Ex(m) => v > m.as_str(),
    }
}

fn lex_le_max(v: &str, b: &LexB) -> bool {
    match b {
        LexB::Min => false,
        LexB::Max => true,
        LexB::In(m) => v <= m.as_str(),
        LexB::Ex(m) => v < m.as_str(),
    }
}

#[test]
fn random_ops_match_a_model() {
    const SEED: u64 = 0x2545_f491_4f6c_dd1d;
    const MEMBERS: u64 = 10_000;
    const OPS: usize = 20_000;
    let s = start(&[]);
    let mut c = client(s.port);
    let mut rng = Rng(SEED);
    let mut model = Model::default();
    let mut lex: Vec<String> = Vec::new(); // sorted members of the all-zero-score key "lx"
    let name = |i: u64| format!("mem:{i:05}");

    // Load 10,000 members (a skiplist) and 3,000 lex members.
    for chunk in (0..MEMBERS).collect::<Vec<_>>().chunks(500) {
        let mut z = cmd("ZADD");
        z.arg("m");
        for &i in chunk {
            let sc = rng.score();
            z.arg(fmt_score(sc)).arg(name(i));
            model.set(&name(i), sc);
        }
        let _: i64 = z.query(&mut c).unwrap();
    }
    for i in 0..3000 {
        let m = format!("w{i:04}");
        let _: i64 = cmd("ZADD").arg("lx").arg(0).arg(&m).query(&mut c).unwrap();
        lex.push(m);
    }
    lex.sort();
    let enc: String = cmd("OBJECT").arg("ENCODING").arg("m").query(&mut c).unwrap();
    assert_eq!(enc, "skiplist");
    let card: usize = cmd("ZCARD").arg("m").query(&mut c).unwrap();
    assert_eq!(card, model.scores.len());

    let started = Instant::now();
    for op in 0..OPS {
        let ctx = |what: &str| format!("seed {SEED:#x}, op {op}: {what}");
        let member = name(rng.below(MEMBERS * 3 / 2));
        match rng.below(100) {
            // ZADD, one or three members, sometimes with NX/XX/CH.
            0..=19 => {
                let n = if rng.chance(30) { 3 } else { 1 };
                let opt = match rng.below(6) {
                    0 => Some("NX"),
                    1 => Some("XX"),
                    2 => Some("CH"),
                    _ => None,
                };
                let mut z = cmd("ZADD");
                z.arg("m");
                if let Some(o) = opt {
                    z.arg(o);
                }
                let mut expect = 0;
                let mut seen = std::collections::HashSet::new();
                for k in 0..n {
                    let m = if k == 0 { member.clone() } else { name(rng.below(MEMBERS * 3 / 2)) };
                    let sc = rng.score();
                    z.arg(fmt_score(sc)).arg(&m);
                    let exists = model.scores.contains_key(&m);
                    let old = model.scores.get(&m).copied();
                    let apply = match opt {
                        Some("NX") => !exists,
                        Some("XX") => exists,
                        _ => true,
                    };
                    if apply {
                        model.set(&m, sc);
                        let first = seen.insert(m.clone());
                        let changed = opt == Some("CH") && old != Some(norm(sc));
                        if first && (!exists || changed) {
                            expect += 1;
                        }
                    }
                }
                // Repeated members inside one ZADD: count as Redis does (first add only).
                let got: i64 = z.query(&mut c).unwrap();
                if seen.len() == n {
                    assert_eq!(got, expect, "{}", ctx("ZADD reply"));
                }
            }
            20..=29 => {
                let other = name(rng.below(MEMBERS * 3 / 2));
                let mut expect = model.remove(&member) as i64;
                if other != member {
                    expect += model.remove(&other) as i64;
                }
                let got: i64 = cmd("ZREM").arg("m").arg(&member).arg(&other).query(&mut c).unwrap();
                assert_eq!(got, expect, "{}", ctx("ZREM"));
            }
            30..=39 => {
                let by = rng.score();
                let new = model.scores.get(&member).copied().unwrap_or(0.0) + by;
                model.set(&member, new);
                let got: String = cmd("ZINCRBY").arg("m").arg(fmt_score(by)).arg(&member).query(&mut c).unwrap();
                assert_eq!(got.parse::<f64>().unwrap(), new, "{}", ctx("ZINCRBY"));
            }
            40..=49 => {
                let rev = rng.chance(50);
                let got: Option<i64> =
                    cmd(if rev { "ZREVRANK" } else { "ZRANK" }).arg("m").arg(&member).query(&mut c).unwrap();
                let want = model.rank(&member).map(|r| if rev { model.order.len() - 1 - r } else { r } as i64);
                assert_eq!(got, want, "{}", ctx("ZRANK"));
                let got: Option<String> = cmd("ZSCORE").arg("m").arg(&member).query(&mut c).unwrap();
                assert_eq!(
                    got.map(|s| s.parse::<f64>().unwrap()),
                    model.scores.get(&member).copied(),
                    "{}",
                    ctx("ZSCORE")
                );
            }
            50..=61 => {
                // ZRANGE by rank.
                let len = model.order.len() as i64;
                let mut pick = || match rng.below(4) {
                    0 => -(rng.below(len as u64 + 20) as i64),
                    _ => rng.below(len as u64 + 20) as i64,
                };
                let (mut a, mut b) = (pick(), pick());
                if rng.chance(70) && a >= 0 && b >= 0 && a > b {
                    std::mem::swap(&mut a, &mut b);
                }
                if rng.chance(92) && a >= 0 {
                    b = a + rng.below(30) as i64;
                }
                let rev = rng.chance(40);
                let ws = rng.chance(50);
                let mut z = cmd("ZRANGE");
                z.arg("m").arg(a).arg(b);
                if rev {
                    z.arg("REV");
                }
                if ws {
                    z.arg("WITHSCORES");
                }
                let got = parse_members(&z.query::<Value>(&mut c).unwrap(), ws);
                let want: Vec<(f64, String)> = if rev {
                    let r = rank_slice(model.order.len(), a, b);
                    let n = model.order.len();
                    model.order[n - r.end..n - r.start].iter().rev().cloned().collect()
                } else {
                    model.order[rank_slice(model.order.len(), a, b)].to_vec()
                };
                assert!(
                    same(&got, &want, ws),
                    "{}: got {:?}, want {:?}",
                    ctx(&format!("ZRANGE {a} {b} rev={rev}")),
                    got,
                    want
                );
            }
            62..=79 => {
                // ZRANGE BYSCORE / ZCOUNT.
                let (min_s, min, minex) = score_bound(&mut rng);
                let (max_s, mut max, mut maxex) = score_bound(&mut rng);
                let mut max_s = max_s;
                if rng.chance(92) && min.is_finite() {
                    max = min + rng.below(20) as f64;
                    maxex = rng.chance(30);
                    max_s = format!("{}{}", if maxex { "(" } else { "" }, fmt_score(max));
                }
                let lo = model.order.partition_point(|e| if minex { e.0 <= min } else { e.0 < min });
                let hi = model.order.partition_point(|e| if maxex { e.0 < max } else { e.0 <= max }).max(lo);
                if rng.chance(25) {
                    let got: i64 = cmd("ZCOUNT").arg("m").arg(&min_s).arg(&max_s).query(&mut c).unwrap();
                    assert_eq!(got as usize, hi - lo, "{}", ctx(&format!("ZCOUNT {min_s} {max_s}")));
                    continue;
                }
                let rev = rng.chance(40);
                let ws = rng.chance(50);
                let limit = rng.chance(40).then(|| (rng.below(40) as i64 - 3, rng.below(30) as i64 - 2));
                let mut z = cmd("ZRANGE");
                z.arg("m");
                if rev {
                    z.arg(&max_s).arg(&min_s).arg("BYSCORE").arg("REV");
                } else {
                    z.arg(&min_s).arg(&max_s).arg("BYSCORE");
                }
                if let Some((o, n)) = limit {
                    z.arg("LIMIT").arg(o).arg(n);
                }
                if ws {
                    z.arg("WITHSCORES");
                }
                let got = parse_members(&z.query::<Value>(&mut c).unwrap(), ws);
                let want = walk(&model.order[lo..hi], rev, limit);
                assert!(
                    same(&got, &want, ws),
                    "{}: got {:?}, want {:?}",
                    ctx(&format!("ZRANGE {min_s} {max_s} BYSCORE rev={rev} limit={limit:?}")),
                    got,
                    want
                );
            }
            _ => {
                // The lex key: ZADD / ZREM / ZRANGE BYLEX / ZLEXCOUNT.
                let m = lex_member(&mut rng);
                match rng.below(4) {
                    0 => {
                        let got: i64 = cmd("ZADD").arg("lx").arg(0).arg(&m).query(&mut c).unwrap();
                        let i = lex.binary_search(&m);
                        assert_eq!(got, i.is_err() as i64, "{}", ctx("lex ZADD"));
                        if let Err(i) = i {
                            lex.insert(i, m);
                        }
                    }
                    1 => {
                        let got: i64 = cmd("ZREM").arg("lx").arg(&m).query(&mut c).unwrap();
                        let i = lex.binary_search(&m);
                        assert_eq!(got, i.is_ok() as i64, "{}", ctx("lex ZREM"));
                        if let Ok(i) = i {
                            lex.remove(i);
                        }
                    }
                    _ => {
                        let (min_s, min) = lex_bound(&mut rng);
                        let (max_s, max) = match &min {
                            LexB::In(m) | LexB::Ex(m) if rng.chance(85) => {
                                let n: u64 = m[1..5].parse().unwrap();
                                let hi = format!("w{:04}", n + rng.below(25));
                                lex_item(&mut rng, hi)
                            }
                            _ => lex_bound(&mut rng),
                        };
                        let lo = lex.partition_point(|v| !lex_ge_min(v, &min));
                        let hi = lex.partition_point(|v| lex_le_max(v, &max)).max(lo);
                        if rng.chance(30) {
                            let got: i64 = cmd("ZLEXCOUNT").arg("lx").arg(&min_s).arg(&max_s).query(&mut c).unwrap();
                            assert_eq!(got as usize, hi - lo, "{}", ctx(&format!("ZLEXCOUNT {min_s} {max_s}")));
                            continue;
                        }
                        let rev = rng.chance(40);
                        let limit = rng.chance(40).then(|| (rng.below(20) as i64 - 2, rng.below(20) as i64 - 2));
                        let mut z = cmd("ZRANGE");
                        z.arg("lx");
                        if rev {
                            z.arg(&max_s).arg(&min_s).arg("BYLEX").arg("REV");
                        } else {
                            z.arg(&min_s).arg(&max_s).arg("BYLEX");
                        }
                        if let Some((o, n)) = limit {
                            z.arg("LIMIT").arg(o).arg(n);
                        }
                        let got = parse_members(&z.query::<Value>(&mut c).unwrap(), false);
                        let slice: Vec<(f64, String)> = lex[lo..hi].iter().map(|m| (0.0, m.clone())).collect();
                        let want = walk(&slice, rev, limit);
                        assert!(
                            same(&got, &want, false),
                            "{}: got {:?}, want {:?}",
                            ctx(&format!("ZRANGE {min_s} {max_s} BYLEX rev={rev} limit={limit:?}")),
                            got,
                            want
                        );
                    }
                }
            }
        }
        if op % 2000 == 0 {
            let card: usize = cmd("ZCARD").arg("m").query(&mut c).unwrap();
            assert_eq!(card, model.order.len(), "{}", ctx("ZCARD"));
        }
    }
    // The whole set at the end, both ways.
    let all =
        parse_members(&cmd("ZRANGE").arg("m").arg(0).arg(-1).arg("WITHSCORES").query::<Value>(&mut c).unwrap(), true);
    assert!(same(&all, &model.order, true), "final contents differ");
    let lx =
        parse_members(&cmd("ZRANGE").arg("lx").arg("-").arg("+").arg("BYLEX").query::<Value>(&mut c).unwrap(), false);
    assert_eq!(lx.into_iter().map(|e| e.1).collect::<Vec<_>>(), lex);
    eprintln!("model test: {OPS} ops in {:?}", started.elapsed());
}

// ---------------------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------------------

fn scores_of(v: &Value) -> BTreeMap<String, f64> {
    parse_members(v, true).into_iter().map(|(s, m)| (m, s)).collect()
}

/// A writer moves every member of `src1`, then of `src2`, to score i (one ZADD each), so
/// at any instant src2's score is src1's or one less. ZUNIONSTORE/ZINTERSTORE readers must
/// see exactly that: a torn read of the two sources would show src2 ahead of src1.
#[test]
fn zunionstore_sees_its_sources_atomically() {
    let s = start(&["--workers", "4"]);
    let port = s.port;
    const ROUNDS: i64 = 1500;
    const READERS: usize = 3;
    with_deadline("ZUNIONSTORE atomicity", Duration::from_secs(60), move || {
        let mut c = client(port);
        let mut setup = |key: &str, prefix: &str| {
            let mut z = cmd("ZADD");
            z.arg(key);
            for j in 0..50 {
                z.arg(0).arg(format!("{prefix}{j}"));
            }
            let _: i64 = z.query(&mut c).unwrap();
        };
        setup("src1", "a");
        setup("src2", "b");
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = {
            let stop = stop.clone();
            thread::spawn(move || {
                let mut c = client(port);
                for i in 1..=ROUNDS {
                    for (key, prefix) in [("src1", "a"), ("src2", "b")] {
                        let mut z = cmd("ZADD");
                        z.arg(key);
                        for j in 0..50 {
                            z.arg(i).arg(format!("{prefix}{j}"));
                        }
                        let _: i64 = z.query(&mut c).unwrap();
                    }
                }
                stop.store(true, std::sync::atomic::Ordering::SeqCst);
            })
        };
        let readers: Vec<_> = (0..READERS)
            .map(|t| {
                let stop = stop.clone();
                thread::spawn(move || {
                    let mut c = client(port);
                    let dst = format!("dst{t}");
                    let mut checks = 0;
                    while !stop.load(std::sync::atomic::Ordering::SeqCst) || checks < 10 {
                        let inter = checks % 2 == 1;
                        let n: i64 = if inter {
                            // Members differ, so an intersection is empty: check ZUNION instead
                            // and exercise ZINTERSTORE's locking on the side.
                            let _: i64 =
                                cmd("ZINTERSTORE").arg(&dst).arg(2).arg("src1").arg("src2").query(&mut c).unwrap();
                            let v: Value =
                                cmd("ZUNION").arg(2).arg("src2").arg("src1").arg("WITHSCORES").query(&mut c).unwrap();
                            let _: i64 = cmd("DEL").arg(&dst).query(&mut c).unwrap();
                            let sc = scores_of(&v);
                            check_snapshot(&sc);
                            sc.len() as i64
                        } else {
                            let n: i64 =
                                cmd("ZUNIONSTORE").arg(&dst).arg(2).arg("src1").arg("src2").query(&mut c).unwrap();
                            let v: Value =
                                cmd("ZRANGE").arg(&dst).arg(0).arg(-1).arg("WITHSCORES").query(&mut c).unwrap();
                            check_snapshot(&scores_of(&v));
                            n
                        };
                        assert_eq!(n, 100);
                        checks += 1;
                    }
                    checks
                })
            })
            .collect();
        writer.join().unwrap();
        let total: usize = readers.into_iter().map(|r| r.join().unwrap()).sum();
        eprintln!("atomicity: {total} snapshots checked");
    });
}

fn check_snapshot(sc: &BTreeMap<String, f64>) {
    let a: Vec<f64> = sc.iter().filter(|(m, _)| m.starts_with('a')).map(|(_, s)| *s).collect();
    let b: Vec<f64> = sc.iter().filter(|(m, _)| m.starts_with('b')).map(|(_, s)| *s).collect();
    assert_eq!((a.len(), b.len()), (50, 50));
    assert!(a.iter().all(|s| *s == a[0]), "torn ZADD inside src1: {a:?}");
    assert!(b.iter().all(|s| *s == b[0]), "torn ZADD inside src2: {b:?}");
    assert!(b[0] == a[0] || b[0] == a[0] - 1.0, "sources read at different times: src1={} src2={}", a[0], b[0]);
}

/// Many clients run *STORE commands, ZRANGESTORE and multi-key ZMPOP over the same four
/// keys in every order (each command's stripes are locked in one global order, so no
/// cycle can form). Bounded by a deadline; every key holds a zset afterwards or is gone.
#[test]
fn multi_key_commands_do_not_deadlock() {
    let s = start(&["--workers", "4"]);
    let port = s.port;
    const THREADS: usize = 8;
    const OPS: usize = 600;
    with_deadline("multi-key zset commands", Duration::from_secs(60), move || {
        let keys = ["k0", "k1", "k2", "k3"];
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                thread::spawn(move || {
                    let mut c = client(port);
                    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ ((t as u64 + 1) * 0x1234_5678));
                    for _ in 0..OPS {
                        let k = |r: &mut Rng| keys[r.below(4) as usize];
                        let (a, b, d) = (k(&mut rng), k(&mut rng), k(&mut rng));
                        let r: redis::RedisResult<Value> = match rng.below(7) {
                            0 => cmd("ZUNIONSTORE").arg(d).arg(2).arg(a).arg(b).query(&mut c),
                            1 => cmd("ZINTERSTORE")
                                .arg(d)
                                .arg(2)
                                .arg(a)
                                .arg(b)
                                .arg("WEIGHTS")
                                .arg(1)
                                .arg(2)
                                .query(&mut c),
                            2 => cmd("ZDIFFSTORE").arg(d).arg(2).arg(a).arg(b).query(&mut c),
                            3 => cmd("ZRANGESTORE").arg(d).arg(a).arg(0).arg(-1).query(&mut c),
                            4 => cmd("ZMPOP").arg(3).arg(a).arg(b).arg(d).arg("MIN").arg("COUNT").arg(2).query(&mut c),
                            5 => cmd("ZUNION").arg(4).arg(keys[3]).arg(keys[2]).arg(keys[1]).arg(keys[0]).query(&mut c),
                            _ => {
                                let mut z = cmd("ZADD");
                                z.arg(a);
                                for _ in 0..5 {
                                    z.arg(rng.below(100)).arg(format!("m{}", rng.below(50)));
                                }
                                z.query(&mut c)
                            }
                        };
                        r.expect("zset command failed");
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let mut c = client(port);
        for k in keys {
            let t: String = cmd("TYPE").arg(k).query(&mut c).unwrap();
            assert!(t == "zset" || t == "none", "{k} is a {t}");
        }
        let pong: String = cmd("PING").query(&mut c).unwrap();
        assert_eq!(pong, "PONG");
    });
}

// ---------------------------------------------------------------------------------------
// Memory
// ---------------------------------------------------------------------------------------

fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Loads `n` zsets of 10 members (pipelined) and returns (RSS before, RSS after) in kB.
fn load_zsets(server: &common::Server, n: usize) -> (u64, u64) {
    let mut c = server.conn();
    let _ = c.cmd(&[b"PING"]);
    let before = rss_kb(server.pid()).unwrap_or(0);
    const BATCH: usize = 1000;
    let mut i = 0;
    while i < n {
        let end = (i + BATCH).min(n);
        let mut buf = Vec::new();
        for k in i..end {
            let key = format!("zs:{k}");
            let mut args: Vec<Vec<u8>> = vec![b"ZADD".to_vec(), key.into_bytes()];
            for j in 0..10 {
                args.push(format!("{}", j * 3 + (k % 7)).into_bytes());
                args.push(format!("member:{j}").into_bytes());
            }
            let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
            buf.extend_from_slice(&common::encode_command(&refs));
        }
        c.send(&buf);
        for _ in i..end {
            let r = c.read_reply();
            assert_eq!(r, b":10\r\n");
        }
        i = end;
    }
    let enc = c.cmd(&[b"OBJECT", b"ENCODING", b"zs:0"]);
    assert_eq!(enc, b"$8\r\nlistpack\r\n");
    std::thread::sleep(Duration::from_millis(200));
    (before, rss_kb(server.pid()).unwrap_or(0))
}

#[test]
fn memory_of_small_zsets_vs_redis() {
    const N: usize = 100_000;
    let rustis = common::start_rustis(&[]);
    let (rb, ra) = load_zsets(&rustis, N);
    drop(rustis);
    let mb = |kb: u64| kb as f64 / 1024.0;
    eprintln!("memory: {N} zsets x 10 members: rustis VmRSS {:.1} MB (empty {:.1} MB)", mb(ra), mb(rb));
    match common::start_redis(&[]) {
        Some(redis) => {
            let (eb, ea) = load_zsets(&redis, N);
            eprintln!("memory: {N} zsets x 10 members: redis  VmRSS {:.1} MB (empty {:.1} MB)", mb(ea), mb(eb));
            eprintln!(
                "memory: growth rustis {:.1} MB vs redis {:.1} MB ({:.2}x)",
                mb(ra - rb),
                mb(ea - eb),
                (ra - rb) as f64 / (ea - eb).max(1) as f64
            );
        }
        None => eprintln!("memory: redis-server not found, Rustis figure only"),
    }
}
