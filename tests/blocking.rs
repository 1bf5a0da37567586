//! Blocking commands under concurrency: producers and blocked consumers race on the same
//! keys; every element produced is consumed exactly once, waiters are served in FIFO
//! order, timeouts and CLIENT UNBLOCK end a block, and a disconnected waiter is dropped.
//! Also runs against redis-server with RUSTIS_TEST_TARGET=redis.

mod common;
mod support;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[test]
fn zset_producers_and_blocked_consumers_lose_and_duplicate_nothing() {
    let srv = support::start(&["--workers", "4"]);
    let port = srv.port;
    let produced_total = 2_000usize;
    let got: Arc<Mutex<Vec<String>>> = Arc::default();
    let deadline = Instant::now() + Duration::from_secs(20);
    let consumers: Vec<_> = (0..6)
        .map(|_| {
            let got = got.clone();
            std::thread::spawn(move || {
                let mut con = support::client(port);
                while Instant::now() < deadline {
                    // [key, member, score] or nil after the timeout.
                    let r: Option<(String, String, String)> =
                        redis::cmd("BZPOPMIN").arg("q1").arg("q2").arg(0.5).query(&mut con).expect("bzpopmin");
                    match r {
                        Some((_, m, _)) => {
                            let mut g = got.lock().unwrap();
                            g.push(m);
                            if g.len() >= produced_total {
                                return;
                            }
                        }
                        None => {
                            if got.lock().unwrap().len() >= produced_total {
                                return;
                            }
                        }
                    }
                }
            })
        })
        .collect();
    let producers: Vec<_> = (0..4)
        .map(|p| {
            std::thread::spawn(move || {
                let mut con = support::client(port);
                for i in 0..produced_total / 4 {
                    let key = if i % 2 == 0 { "q1" } else { "q2" };
                    let _: i64 =
                        redis::cmd("ZADD").arg(key).arg(i).arg(format!("p{p}-{i}")).query(&mut con).expect("zadd");
                }
            })
        })
        .collect();
    for p in producers {
        p.join().expect("producer");
    }
    for c in consumers {
        c.join().expect("consumer");
    }
    let got = got.lock().unwrap();
    let uniq: HashSet<&String> = got.iter().collect();
    assert_eq!(uniq.len(), got.len(), "an element was delivered twice");
    assert_eq!(got.len(), produced_total, "an element was lost");
    let mut con = support::client(port);
    let left: i64 = redis::cmd("EXISTS").arg("q1").arg("q2").query(&mut con).expect("exists");
    assert_eq!(left, 0);
}

#[test]
fn waiters_are_served_in_fifo_order() {
    let srv = support::start(&[]);
    let port = srv.port;
    let mut handles = Vec::new();
    for i in 0..3 {
        handles.push(std::thread::spawn(move || {
            let mut con = support::client(port);
            let r: Option<(String, String, String)> =
                redis::cmd("BZPOPMAX").arg("fifo").arg(5).query(&mut con).expect("bzpopmax");
            (i, r.map(|x| x.1))
        }));
        // Let each waiter park before the next one arrives.
        std::thread::sleep(Duration::from_millis(150));
    }
    let mut con = support::client(port);
    let _: i64 =
        redis::cmd("ZADD").arg("fifo").arg(3).arg("c").arg(2).arg("b").arg(1).arg("a").query(&mut con).unwrap();
    let mut res: Vec<(usize, Option<String>)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    res.sort();
    // The first to block gets the highest score, and so on.
    assert_eq!(res, vec![(0, Some("c".into())), (1, Some("b".into())), (2, Some("a".into()))]);
}

#[test]
fn timeout_unblock_and_disconnect() {
    let srv = support::start(&[]);
    let port = srv.port;
    let mut con = support::client(port);

    // A timeout returns a null array after roughly the requested time.
    let t = Instant::now();
    let r: Option<Vec<String>> = redis::cmd("BZPOPMIN").arg("none").arg(0.2).query(&mut con).unwrap();
    assert!(r.is_none());
    let took = t.elapsed();
    assert!(took >= Duration::from_millis(180) && took < Duration::from_secs(3), "{took:?}");

    // CLIENT UNBLOCK ... ERROR ends the block with Redis's error.
    let waiter = std::thread::spawn(move || {
        let mut c = support::client(port);
        let id: i64 = redis::cmd("CLIENT").arg("ID").query(&mut c).unwrap();
        std::fs::write(std::env::temp_dir().join(format!("rustis-blk-{port}")), id.to_string()).unwrap();
        redis::cmd("BZPOPMIN").arg("never").arg(0).query::<Option<Vec<String>>>(&mut c).map_err(|e| e.to_string())
    });
    let idfile = std::env::temp_dir().join(format!("rustis-blk-{port}"));
    let mut id = String::new();
    assert!(
        support::wait_until(Duration::from_secs(5), Duration::from_millis(10), || {
            id = std::fs::read_to_string(&idfile).unwrap_or_default();
            !id.is_empty()
        }),
        "no client id"
    );
    let unblocked = support::wait_until(Duration::from_secs(5), Duration::from_millis(20), || {
        let n: i64 = redis::cmd("CLIENT").arg("UNBLOCK").arg(&id).arg("ERROR").query(&mut con).unwrap();
        n == 1
    });
    assert!(unblocked, "the waiter never parked");
    let res = waiter.join().unwrap();
    assert!(res.unwrap_err().contains("client unblocked via CLIENT UNBLOCK"));
    let _ = std::fs::remove_file(&idfile);

    // A waiter that disconnects is dropped: a later push is not consumed by it.
    {
        let mut raw = common::RawConn::connect(port).expect("connect");
        raw.send(b"*3\r\n$8\r\nBZPOPMIN\r\n$4\r\ngone\r\n$1\r\n0\r\n");
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_millis(300));
    let _: i64 = redis::cmd("ZADD").arg("gone").arg(1).arg("m").query(&mut con).unwrap();
    let card: i64 = redis::cmd("ZCARD").arg("gone").query(&mut con).unwrap();
    assert_eq!(card, 1, "a disconnected waiter must not consume elements");
}

#[test]
fn list_producers_and_blocked_consumers_lose_and_duplicate_nothing() {
    let srv = support::start(&["--workers", "4"]);
    let port = srv.port;
    let total = 2_000usize;
    let got: Arc<Mutex<Vec<String>>> = Arc::default();
    let deadline = Instant::now() + Duration::from_secs(20);
    let consumers: Vec<_> = (0..6)
        .map(|i| {
            let got = got.clone();
            std::thread::spawn(move || {
                let mut con = support::client(port);
                while Instant::now() < deadline && got.lock().unwrap().len() < total {
                    // Mix BLPOP, BRPOP and BLMOVE-through-a-private-list.
                    let v: Option<String> = match i % 3 {
                        0 => redis::cmd("BLPOP")
                            .arg("l1")
                            .arg("l2")
                            .arg(0.3)
                            .query::<Option<(String, String)>>(&mut con)
                            .expect("blpop")
                            .map(|x| x.1),
                        1 => redis::cmd("BRPOP")
                            .arg("l2")
                            .arg("l1")
                            .arg(0.3)
                            .query::<Option<(String, String)>>(&mut con)
                            .expect("brpop")
                            .map(|x| x.1),
                        _ => {
                            let m: Option<String> = redis::cmd("BLMOVE")
                                .arg("l1")
                                .arg(format!("mine{i}"))
                                .arg("LEFT")
                                .arg("RIGHT")
                                .arg(0.3)
                                .query(&mut con)
                                .expect("blmove");
                            if m.is_some() {
                                let _: Option<String> =
                                    redis::cmd("RPOP").arg(format!("mine{i}")).query(&mut con).unwrap();
                            }
                            m
                        }
                    };
                    if let Some(v) = v {
                        got.lock().unwrap().push(v);
                    }
                }
            })
        })
        .collect();
    let producers: Vec<_> = (0..4)
        .map(|p| {
            std::thread::spawn(move || {
                let mut con = support::client(port);
                for i in 0..total / 4 {
                    let key = if i % 3 == 0 { "l2" } else { "l1" };
                    let _: i64 = redis::cmd("RPUSH").arg(key).arg(format!("p{p}-{i}")).query(&mut con).expect("rpush");
                }
            })
        })
        .collect();
    for p in producers {
        p.join().expect("producer");
    }
    for c in consumers {
        c.join().expect("consumer");
    }
    let got = got.lock().unwrap();
    let uniq: HashSet<&String> = got.iter().collect();
    assert_eq!(uniq.len(), got.len(), "an element was delivered twice");
    assert_eq!(got.len(), total, "an element was lost");
}

#[test]
fn xread_block_dollar_sees_only_entries_added_after_it_blocked() {
    let srv = support::start(&[]);
    let port = srv.port;
    let mut con = support::client(port);
    let _: String = redis::cmd("XADD").arg("xs").arg("1-1").arg("f").arg("before").query(&mut con).unwrap();
    let reader = std::thread::spawn(move || {
        let mut c = support::client(port);
        let r: redis::Value =
            redis::cmd("XREAD").arg("BLOCK").arg(5000).arg("STREAMS").arg("xs").arg("$").query(&mut c).unwrap();
        r
    });
    std::thread::sleep(Duration::from_millis(300));
    // A write to another key must not wake it with nothing; then the real entry.
    let _: String = redis::cmd("XADD").arg("other").arg("1-1").arg("f").arg("x").query(&mut con).unwrap();
    let _: String = redis::cmd("XADD").arg("xs").arg("2-1").arg("f").arg("after").query(&mut con).unwrap();
    let got = format!("{:?}", reader.join().unwrap());
    assert!(got.contains("2-1") && got.contains("after"), "{got}");
    assert!(!got.contains("before"), "{got}");

    // Timeout: a null reply after about the requested time.
    let t = Instant::now();
    let r: redis::Value =
        redis::cmd("XREAD").arg("BLOCK").arg(200).arg("STREAMS").arg("xs").arg("$").query(&mut con).unwrap();
    assert_eq!(r, redis::Value::Nil);
    assert!(t.elapsed() >= Duration::from_millis(180), "{:?}", t.elapsed());
}
