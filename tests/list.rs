//! List commands against a model and under concurrency.
//!
//! - `random_ops_match_a_model`: a 100,000-element list goes through a seeded random
//!   sequence of 20,000 LPUSH/RPUSH/LPOP/RPOP/LSET/LINSERT/LREM/LTRIM/LMOVE operations;
//!   every reply is compared with a `VecDeque` model, and LINDEX/LRANGE/LLEN probes
//!   (random, out-of-range and negative indexes included) check the contents as it goes.
//! - `concurrent_moves_lose_nothing`: 8 threads RPOPLPUSH/LMOVE between two lists of
//!   1,000 elements for ~2 s on `--workers 4` (one pair of keys in different stripes,
//!   one pair sharing a `{hash tag}` stripe); afterwards each pair still holds exactly
//!   its original elements, none lost, none duplicated.
//!
//! Both run under a deadline so a deadlock is a failure, not a hang.

mod common;

use common::start_rustis;
use redis::{Connection, FromRedisValue, RedisResult};
use std::collections::{BTreeSet, VecDeque};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

fn client(port: u16) -> Connection {
    let c = redis::Client::open(format!("redis://127.0.0.1:{port}/")).expect("client");
    c.get_connection().expect("connect")
}

/// Runs `f` on its own thread; panics if it has not finished within `limit`.
fn with_deadline<F: FnOnce() + Send + 'static>(what: &str, limit: Duration, f: F) {
    let (tx, rx) = mpsc::channel();
    let h = thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    match rx.recv_timeout(limit) {
        Ok(()) => h.join().expect("test body panicked"),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(p) = h.join() {
                std::panic::resume_unwind(p);
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{what}: did not finish within {limit:?} (deadlock?)"),
    }
}

fn q<T: FromRedisValue>(c: &mut Connection, args: &[&str]) -> T {
    try_q(c, args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn try_q<T: FromRedisValue>(c: &mut Connection, args: &[&str]) -> RedisResult<T> {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(c)
}

/// xorshift64*: deterministic and dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    /// An element: mostly from a small vocabulary (so LREM/LINSERT find matches),
    /// sometimes longer than the 22-byte inline size.
    fn elem(&mut self) -> String {
        let n = self.below(500);
        if self.chance(10) {
            format!("long-element-{n}-{}", "x".repeat(20))
        } else {
            format!("v{n}")
        }
    }
}

/// Redis's index → position.
fn resolve(len: usize, i: i64) -> Option<usize> {
    let len = len as i64;
    let p = if i < 0 { len.checked_add(i)? } else { i };
    (0..len).contains(&p).then_some(p as usize)
}

/// Redis's LRANGE/LTRIM normalization: inclusive positions, None when empty.
fn range_of(len: usize, start: i64, end: i64) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut s = if start < 0 { len + start } else { start };
    let mut e = if end < 0 { len + end } else { end };
    if s < 0 {
        s = 0;
    }
    if s > e || s >= len {
        return None;
    }
    if e >= len {
        e = len - 1;
    }
    Some((s as usize, e as usize))
}

fn model_range(m: &VecDeque<String>, start: i64, end: i64) -> Vec<String> {
    match range_of(m.len(), start, end) {
        Some((s, e)) => m.range(s..=e).cloned().collect(),
        None => vec![],
    }
}

/// LREM on the model.
fn model_lrem(m: &mut VecDeque<String>, e: &str, count: i64) -> usize {
    if count == 0 {
        let before = m.len();
        m.retain(|x| x != e);
        return before - m.len();
    }
    let limit = count.unsigned_abs() as usize;
    let mut hits: Vec<usize> = if count > 0 {
        m.iter().enumerate().filter(|(_, x)| *x == e).map(|(i, _)| i).take(limit).collect()
    } else {
        m.iter().enumerate().rev().filter(|(_, x)| *x == e).map(|(i, _)| i).take(limit).collect()
    };
    hits.sort_unstable();
    for p in hits.iter().rev() {
        m.remove(*p);
    }
    hits.len()
}

/// LTRIM on the model.
fn model_ltrim(m: &mut VecDeque<String>, start: i64, end: i64) {
    match range_of(m.len(), start, end) {
        Some((s, e)) => {
            m.truncate(e + 1);
            m.drain(..s);
        }
        None => m.clear(),
    }
}

/// A random index for probes: mostly valid, sometimes negative, past the end, or huge.
fn probe_index(r: &mut Rng, len: usize) -> i64 {
    let len = len as i64;
    match r.below(10) {
        0 => r.range(-len - 5, -1),
        1 => r.range(len - 3, len + 3),
        2 => [i64::MIN, i64::MAX, -len - 1, len][r.below(4) as usize],
        _ => r.range(0, (len - 1).max(0)),
    }
}

#[test]
fn random_ops_match_a_model() {
    let s = start_rustis(&[]);
    let port = s.port;
    with_deadline("list model", Duration::from_secs(600), move || {
        let mut c = client(port);
        let mut r = Rng(0x5eed_1157_0000_0001);
        let (big, aux) = ("biglist", "auxlist");
        let mut m: VecDeque<String> = VecDeque::new();
        let mut a: VecDeque<String> = VecDeque::new();

        // 100,000 elements, pushed 1,000 per RPUSH.
        for _ in 0..100 {
            let batch: Vec<String> = (0..1000).map(|_| r.elem()).collect();
            let mut args = vec!["RPUSH", big];
            args.extend(batch.iter().map(|s| s.as_str()));
            let n: i64 = q(&mut c, &args);
            m.extend(batch);
            assert_eq!(n as usize, m.len());
        }
        assert_eq!(q::<i64>(&mut c, &["LLEN", big]), 100_000);
        assert_eq!(q::<Vec<String>>(&mut c, &["LRANGE", big, "0", "-1"]), Vec::from(m.clone()));

        for step in 0..20_000 {
            let ctx = format!("step {step}");
            match r.below(9) {
                0 | 1 => {
                    let left = r.chance(50);
                    let elems: Vec<String> = (0..r.range(1, 3)).map(|_| r.elem()).collect();
                    let mut args = vec![if left { "LPUSH" } else { "RPUSH" }, big];
                    args.extend(elems.iter().map(|s| s.as_str()));
                    let n: i64 = q(&mut c, &args);
                    for e in elems {
                        if left {
                            m.push_front(e);
                        } else {
                            m.push_back(e);
                        }
                    }
                    assert_eq!(n as usize, m.len(), "{ctx}");
                }
                2 => {
                    let left = r.chance(50);
                    let name = if left { "LPOP" } else { "RPOP" };
                    if r.chance(50) {
                        let got: Option<String> = q(&mut c, &[name, big]);
                        let want = if left { m.pop_front() } else { m.pop_back() };
                        assert_eq!(got, want, "{ctx} {name}");
                    } else {
                        let n = r.range(0, 4);
                        let got: Vec<String> = q(&mut c, &[name, big, &n.to_string()]);
                        let want: Vec<String> =
                            (0..n).filter_map(|_| if left { m.pop_front() } else { m.pop_back() }).collect();
                        assert_eq!(got, want, "{ctx} {name} {n}");
                    }
                }
                3 => {
                    let i = probe_index(&mut r, m.len());
                    let e = r.elem();
                    let got: RedisResult<String> = try_q(&mut c, &["LSET", big, &i.to_string(), &e]);
                    match resolve(m.len(), i) {
                        Some(p) => {
                            assert_eq!(got.expect("LSET in range"), "OK", "{ctx}");
                            m[p] = e;
                        }
                        None => {
                            let err = got.expect_err("LSET out of range");
                            assert!(err.to_string().contains("index out of range"), "{ctx}: {err}");
                        }
                    }
                }
                4 => {
                    let after = r.chance(50);
                    let pivot = if r.chance(90) { r.elem() } else { "no-such-pivot".to_string() };
                    let e = r.elem();
                    let got: i64 = q(&mut c, &["LINSERT", big, if after { "AFTER" } else { "BEFORE" }, &pivot, &e]);
                    match m.iter().position(|x| *x == pivot) {
                        Some(p) => {
                            m.insert(p + after as usize, e);
                            assert_eq!(got as usize, m.len(), "{ctx} LINSERT");
                        }
                        None => assert_eq!(got, -1, "{ctx} LINSERT missing pivot"),
                    }
                }
                5 => {
                    let count = r.range(-2, 2);
                    let e = r.elem();
                    let got: i64 = q(&mut c, &["LREM", big, &count.to_string(), &e]);
                    let removed = model_lrem(&mut m, &e, count);
                    assert_eq!(got as usize, removed, "{ctx} LREM {count} {e}");
                }
                6 => {
                    // Small trims at both ends keep the list large.
                    let start = r.range(0, 2);
                    let end = if r.chance(50) { r.range(-3, -1) } else { m.len() as i64 + r.range(-3, 3) };
                    let got: String = q(&mut c, &["LTRIM", big, &start.to_string(), &end.to_string()]);
                    assert_eq!(got, "OK");
                    model_ltrim(&mut m, start, end);
                }
                7 => {
                    let (fl, tl) = (r.chance(50), r.chance(50));
                    let side = |l: bool| if l { "LEFT" } else { "RIGHT" };
                    let (src, dst, same) = match r.below(3) {
                        0 => (big, aux, false),
                        1 => (aux, big, false),
                        _ => (big, big, true),
                    };
                    let got: Option<String> = q(&mut c, &["LMOVE", src, dst, side(fl), side(tl)]);
                    let (sm, dm) = if src == big { (&mut m, &mut a) } else { (&mut a, &mut m) };
                    let v = if fl { sm.pop_front() } else { sm.pop_back() };
                    if let Some(v) = &v {
                        let target = if same { sm } else { dm };
                        if tl {
                            target.push_front(v.clone());
                        } else {
                            target.push_back(v.clone());
                        }
                    }
                    assert_eq!(got, v, "{ctx} LMOVE {src} {dst}");
                }
                _ => {
                    // Probes.
                    let i = probe_index(&mut r, m.len());
                    let got: Option<String> = q(&mut c, &["LINDEX", big, &i.to_string()]);
                    assert_eq!(got, resolve(m.len(), i).map(|p| m[p].clone()), "{ctx} LINDEX {i}");
                    let s0 = probe_index(&mut r, m.len());
                    // Mostly short windows; sometimes a long or arbitrary one.
                    let e0 =
                        if r.chance(99) { s0.saturating_add(r.range(-2, 50)) } else { probe_index(&mut r, m.len()) };
                    // A huge end only near the tail, so replies stay short.
                    let (s0, e0) = if r.chance(5) { (m.len() as i64 - r.range(0, 60), i64::MAX) } else { (s0, e0) };
                    let got: Vec<String> = q(&mut c, &["LRANGE", big, &s0.to_string(), &e0.to_string()]);
                    assert_eq!(got, model_range(&m, s0, e0), "{ctx} LRANGE {s0} {e0}");
                    assert_eq!(q::<i64>(&mut c, &["LLEN", big]) as usize, m.len(), "{ctx} LLEN");
                }
            }
            if step % 5000 == 4999 {
                assert_eq!(q::<Vec<String>>(&mut c, &["LRANGE", big, "0", "-1"]), Vec::from(m.clone()), "{ctx}");
                assert_eq!(q::<Vec<String>>(&mut c, &["LRANGE", aux, "0", "-1"]), Vec::from(a.clone()), "{ctx}");
            }
        }
        assert!(m.len() > 50_000, "the list stayed large ({})", m.len());
        assert_eq!(q::<Vec<String>>(&mut c, &["LRANGE", big, "0", "-1"]), Vec::from(m.clone()));
        assert_eq!(q::<Vec<String>>(&mut c, &["LRANGE", aux, "0", "-1"]), Vec::from(a.clone()));
        assert_eq!(q::<i64>(&mut c, &["EXISTS", aux]), i64::from(!a.is_empty()));
        // LTRIM to a window, then the whole list again.
        let got: String = q(&mut c, &["LTRIM", big, "-1000", "-1"]);
        assert_eq!(got, "OK");
        model_ltrim(&mut m, -1000, -1);
        assert_eq!(q::<Vec<String>>(&mut c, &["LRANGE", big, "0", "-1"]), Vec::from(m.clone()));
        assert_eq!(q::<String>(&mut c, &["OBJECT", "ENCODING", big]), "quicklist");
    });
}

#[test]
fn concurrent_moves_lose_nothing() {
    let s = start_rustis(&["--workers", "4"]);
    let port = s.port;
    with_deadline("concurrent LMOVE/RPOPLPUSH", Duration::from_secs(120), move || {
        const N: usize = 1000;
        const THREADS: u64 = 8;
        let pairs: [(&str, &str); 2] = [("lista", "listb"), ("{t}a", "{t}b")];
        let mut c = client(port);
        for (p, (a, _)) in pairs.iter().enumerate() {
            for chunk in 0..10 {
                let elems: Vec<String> = (chunk * 100..(chunk + 1) * 100).map(|i| format!("p{p}-e{i}")).collect();
                let mut args = vec!["RPUSH", *a];
                args.extend(elems.iter().map(|s| s.as_str()));
                let _: i64 = q(&mut c, &args);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                thread::spawn(move || {
                    let mut c = client(port);
                    let mut r = Rng(0x1234_5678 + t * 7919);
                    let mut ops = 0u64;
                    while Instant::now() < deadline {
                        let (a, b) = pairs[r.below(2) as usize];
                        let (src, dst) = if r.chance(50) { (a, b) } else { (b, a) };
                        let side = |l: bool| if l { "LEFT" } else { "RIGHT" };
                        let _: Option<String> = match r.below(4) {
                            0 => q(&mut c, &["RPOPLPUSH", src, dst]),
                            1 => q(&mut c, &["RPOPLPUSH", src, src]),
                            _ => q(&mut c, &["LMOVE", src, dst, side(r.chance(50)), side(r.chance(50))]),
                        };
                        ops += 1;
                    }
                    ops
                })
            })
            .collect();
        let ops: u64 = handles.into_iter().map(|h| h.join().expect("mover thread panicked")).sum();
        assert!(ops > 100, "only {ops} moves in 2 s");
        for (p, (a, b)) in pairs.iter().enumerate() {
            let la: i64 = q(&mut c, &["LLEN", a]);
            let lb: i64 = q(&mut c, &["LLEN", b]);
            assert_eq!((la + lb) as usize, N, "pair {p}: {la} + {lb}");
            let mut all: Vec<String> = q(&mut c, &["LRANGE", a, "0", "-1"]);
            all.extend(q::<Vec<String>>(&mut c, &["LRANGE", b, "0", "-1"]));
            let set: BTreeSet<String> = all.iter().cloned().collect();
            assert_eq!(set.len(), N, "pair {p}: duplicated elements");
            let want: BTreeSet<String> = (0..N).map(|i| format!("p{p}-e{i}")).collect();
            assert_eq!(set, want, "pair {p}: elements lost or invented");
        }
    });
}
