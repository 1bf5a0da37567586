//! Many clients at once against a server with several workers (`--workers 4`): counters
//! add up exactly, multi-key commands are atomic (no torn MSET, RENAME never shows zero or
//! two keys), and lock-order-inverting multi-key commands do not deadlock.
//!
//! Every test is bounded: fixed operation counts plus deadlines, and the whole body runs
//! under `with_deadline` so a deadlock is a failure, not a hang.

mod common;
mod support;

use redis::{cmd, Value};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};
use support::{client, start, with_deadline};

const SERVER_ARGS: &[&str] = &["--workers", "4"];

#[test]
fn concurrent_incr_totals_add_up() {
    let s = start(SERVER_ARGS);
    let port = s.port;
    const THREADS: usize = 16;
    const OPS: usize = 1500;
    const KEYS: usize = 10;
    with_deadline("16 INCR threads", Duration::from_secs(30), move || {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                thread::spawn(move || {
                    let mut c = client(port);
                    let mut mine = [0i64; KEYS];
                    for i in 0..OPS {
                        let k = (t * 7 + i) % KEYS;
                        // Mix INCR, INCRBY and pipelined INCRs.
                        match i % 3 {
                            0 => {
                                let _: i64 = cmd("INCR").arg(format!("ctr:{k}")).query(&mut c).unwrap();
                                mine[k] += 1;
                            }
                            1 => {
                                let _: i64 = cmd("INCRBY").arg(format!("ctr:{k}")).arg(3).query(&mut c).unwrap();
                                mine[k] += 3;
                            }
                            _ => {
                                let _: (i64, i64) = redis::pipe()
                                    .cmd("INCR")
                                    .arg(format!("ctr:{k}"))
                                    .cmd("DECRBY")
                                    .arg(format!("ctr:{}", (k + 1) % KEYS))
                                    .arg(2)
                                    .query(&mut c)
                                    .unwrap();
                                mine[k] += 1;
                                mine[(k + 1) % KEYS] -= 2;
                            }
                        }
                    }
                    mine
                })
            })
            .collect();
        let mut want = [0i64; KEYS];
        for h in handles {
            let mine = h.join().expect("INCR thread panicked");
            for k in 0..KEYS {
                want[k] += mine[k];
            }
        }
        let mut c = client(port);
        for (k, w) in want.iter().enumerate() {
            let got: i64 = cmd("GET").arg(format!("ctr:{k}")).query(&mut c).unwrap();
            assert_eq!(got, *w, "ctr:{k} lost updates");
        }
    });
}

#[test]
fn mset_is_never_torn() {
    let s = start(SERVER_ARGS);
    let port = s.port;
    const WRITERS: usize = 4;
    const READERS: usize = 4;
    const ITERS: usize = 2000;
    let keys: Vec<String> = (1..=8).map(|i| format!("k{i}")).collect();
    {
        let mut c = client(port);
        let mut m = cmd("MSET");
        for k in &keys {
            m.arg(k).arg("init");
        }
        let _: () = m.query(&mut c).unwrap();
    }
    with_deadline("MSET/MGET torn-read check", Duration::from_secs(30), move || {
        let stop = Arc::new(AtomicBool::new(false));
        let reads = Arc::new(AtomicU64::new(0));
        let deadline = Instant::now() + Duration::from_secs(4);
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let keys = keys.clone();
                thread::spawn(move || {
                    let mut c = client(port);
                    for i in 0..ITERS {
                        let v = format!("w{w}-{i}");
                        let mut m = cmd("MSET");
                        // Alternate key order so writers lock in different orders.
                        let order: Vec<&String> =
                            if (w + i) % 2 == 0 { keys.iter().collect() } else { keys.iter().rev().collect() };
                        for k in order {
                            m.arg(k).arg(&v);
                        }
                        let _: () = m.query(&mut c).unwrap();
                        if Instant::now() > deadline {
                            break;
                        }
                    }
                })
            })
            .collect();
        let readers: Vec<_> = (0..READERS)
            .map(|r| {
                let keys = keys.clone();
                let stop = stop.clone();
                let reads = reads.clone();
                thread::spawn(move || {
                    let mut c = client(port);
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        let mut m = cmd("MGET");
                        if r % 2 == 0 {
                            m.arg(&keys);
                        } else {
                            m.arg(keys.iter().rev().collect::<Vec<_>>());
                        }
                        let vals: Vec<String> = m.query(&mut c).unwrap();
                        assert_eq!(vals.len(), 8);
                        assert!(vals.iter().all(|v| *v == vals[0]), "torn MSET observed by MGET: {vals:?}");
                        n += 1;
                    }
                    reads.fetch_add(n, Ordering::Relaxed);
                })
            })
            .collect();
        for h in writers {
            h.join().expect("writer panicked");
        }
        stop.store(true, Ordering::Relaxed);
        for h in readers {
            h.join().expect("reader panicked (torn MSET?)");
        }
        let reads = reads.load(Ordering::Relaxed);
        assert!(reads > 100, "readers only completed {reads} MGETs");
        eprintln!("{reads} MGETs, none torn");
    });
}

#[test]
fn rename_ping_pong_exactly_one_key_exists() {
    let s = start(SERVER_ARGS);
    let port = s.port;
    {
        let mut c = client(port);
        let _: () = cmd("SET").arg("a").arg("payload").query(&mut c).unwrap();
    }
    with_deadline("RENAME ping-pong", Duration::from_secs(30), move || {
        let stop = Arc::new(AtomicBool::new(false));
        let renames = Arc::new(AtomicU64::new(0));
        let deadline = Instant::now() + Duration::from_secs(3);
        let movers: Vec<_> = (0..4)
            .map(|t| {
                let renames = renames.clone();
                thread::spawn(move || {
                    let mut c = client(port);
                    let (from, to) = if t % 2 == 0 { ("a", "b") } else { ("b", "a") };
                    let mut ok = 0u64;
                    while Instant::now() < deadline {
                        for (f, tt) in [(from, to), (to, from)] {
                            match cmd("RENAME").arg(f).arg(tt).query::<()>(&mut c) {
                                Ok(()) => ok += 1,
                                Err(e) => {
                                    let text = support::error_text(&e);
                                    assert_eq!(text, "ERR no such key", "unexpected RENAME error");
                                }
                            }
                        }
                    }
                    renames.fetch_add(ok, Ordering::Relaxed);
                })
            })
            .collect();
        let readers: Vec<_> = (0..4)
            .map(|r| {
                let stop = stop.clone();
                thread::spawn(move || {
                    let mut c = client(port);
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        if r % 2 == 0 {
                            let e: i64 = cmd("EXISTS").arg("a").arg("b").query(&mut c).unwrap();
                            assert_eq!(e, 1, "EXISTS a b during RENAME ping-pong");
                        } else {
                            let v: Vec<Option<String>> = cmd("MGET").arg("a").arg("b").query(&mut c).unwrap();
                            let present: Vec<&String> = v.iter().flatten().collect();
                            assert_eq!(present, vec!["payload"], "MGET a b during RENAME ping-pong: {v:?}");
                        }
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        for h in movers {
            h.join().expect("rename thread panicked");
        }
        stop.store(true, Ordering::Relaxed);
        let mut observations = 0;
        for h in readers {
            observations += h.join().expect("reader saw zero or two keys");
        }
        let renames = renames.load(Ordering::Relaxed);
        assert!(renames > 100, "only {renames} successful RENAMEs");
        assert!(observations > 100, "only {observations} observations");
        let mut c = client(port);
        assert_eq!(cmd("EXISTS").arg("a").arg("b").query::<i64>(&mut c).unwrap(), 1);
        assert_eq!(cmd("DBSIZE").query::<i64>(&mut c).unwrap(), 1);
        eprintln!("{renames} renames, {observations} observations, always exactly one key");
    });
}

#[test]
fn lock_order_inversions_do_not_deadlock() {
    let s = start(SERVER_ARGS);
    let port = s.port;
    let finished = with_deadline("MSET/RENAME lock-order threads", Duration::from_secs(15), move || {
        let deadline = Instant::now() + Duration::from_secs(2);
        let kinds =
            ["MSET x y", "MSET y x", "RENAME x y", "RENAME y x", "COPY x y", "MSETNX y x", "DEL x y", "MGET y x"];
        let handles: Vec<_> = (0..kinds.len() * 2)
            .map(|t| {
                let kind = kinds[t % kinds.len()];
                thread::spawn(move || {
                    let mut c = client(port);
                    let mut n = 0u64;
                    while Instant::now() < deadline {
                        let r: redis::RedisResult<Value> = match kind {
                            "MSET x y" => cmd("MSET").arg("x").arg(1).arg("y").arg(2).query(&mut c),
                            "MSET y x" => cmd("MSET").arg("y").arg(3).arg("x").arg(4).query(&mut c),
                            "RENAME x y" => cmd("RENAME").arg("x").arg("y").query(&mut c),
                            "RENAME y x" => cmd("RENAME").arg("y").arg("x").query(&mut c),
                            "COPY x y" => cmd("COPY").arg("x").arg("y").arg("REPLACE").query(&mut c),
                            "MSETNX y x" => cmd("MSETNX").arg("y").arg(5).arg("x").arg(6).query(&mut c),
                            "DEL x y" => cmd("DEL").arg("y").arg("x").query(&mut c),
                            _ => cmd("MGET").arg("y").arg("x").query(&mut c),
                        };
                        match r {
                            Ok(_) => {}
                            Err(e) if support::error_text(&e) == "ERR no such key" => {}
                            Err(e) => panic!("{kind}: unexpected error {e}"),
                        }
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("thread panicked")).sum::<u64>()
    });
    assert!(finished > 100, "only {finished} commands completed in 2 s");
    // The server is still healthy and consistent afterwards.
    let mut c = client(port);
    let _: () = cmd("MSET").arg("x").arg("fx").arg("y").arg("fy").query(&mut c).unwrap();
    let v: Vec<String> = cmd("MGET").arg("x").arg("y").query(&mut c).unwrap();
    assert_eq!(v, vec!["fx", "fy"]);
    eprintln!("{finished} multi-key commands completed without deadlock");
}

#[test]
fn many_clients_on_many_keys_with_expiry() {
    // Writers with short TTLs race against active expiry and readers; every reply must be
    // a value that was written or nil, never garbage, and the server must stay consistent.
    let s = start(SERVER_ARGS);
    let port = s.port;
    with_deadline("SET PX / GET / DEL mix", Duration::from_secs(30), move || {
        let deadline = Instant::now() + Duration::from_secs(2);
        let handles: Vec<_> = (0..12)
            .map(|t| {
                thread::spawn(move || {
                    let mut c = client(port);
                    let mut i = 0u64;
                    while Instant::now() < deadline {
                        let k = format!("e:{}", i % 200);
                        match t % 3 {
                            0 => {
                                let _: () = cmd("SET")
                                    .arg(&k)
                                    .arg(format!("val-{k}"))
                                    .arg("PX")
                                    .arg(5 + i % 20)
                                    .query(&mut c)
                                    .unwrap();
                            }
                            1 => {
                                let v: Option<String> = cmd("GET").arg(&k).query(&mut c).unwrap();
                                if let Some(v) = v {
                                    assert_eq!(v, format!("val-{k}"));
                                }
                            }
                            _ => {
                                let _: i64 = cmd("DEL").arg(&k).query(&mut c).unwrap();
                            }
                        }
                        i += 1;
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().expect("thread panicked");
        }
        // All keys had TTLs of at most 25 ms: soon nothing is left.
        let mut c = client(port);
        let empty = support::wait_until(Duration::from_secs(3), Duration::from_millis(50), || {
            cmd("DBSIZE").query::<i64>(&mut c).unwrap() == 0
        });
        assert!(empty, "DBSIZE {} after all keys expired", cmd("DBSIZE").query::<i64>(&mut c).unwrap());
    });
}
