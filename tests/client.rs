//! `rustis::client` end to end against a rustis-server: the same commands over RESP3
//! and MessagePack decode to the same `Value`s (the MessagePack side is decoded by
//! `rmpv`, independently of the server's encoder); pipelined MessagePack replies carry
//! the ids 1, 2, 3, ... in order; RESP2 keeps its downgraded types; the handshake
//! reply; an out-of-band push is skipped by `call`.

mod common;

use std::time::Duration;

use rustis::client::{Client, Protocol, Value};

const T: Option<Duration> = Some(Duration::from_secs(10));

fn b(s: &str) -> Value {
    Value::Bulk(s.as_bytes().to_vec())
}

#[test]
fn resp3_and_msgpack_decode_alike() {
    let mport = common::free_port();
    let server = common::start_rustis(&["--msgpack-port", &mport.to_string()]);
    let mut r3 = Client::connect("127.0.0.1", server.port, Protocol::Resp3, T).expect("resp3");
    let mut mp = Client::connect("127.0.0.1", mport, Protocol::Msgpack, T).expect("msgpack");
    assert!(matches!(mp.server_info(), Value::Map(m) if m.len() >= 5), "{:?}", mp.server_info());
    let setup: &[&[&str]] = &[
        &["SET", "s", "v\r\n\x00"],
        &["RPUSH", "l", "a", "b"],
        &["HSET", "h", "f", "1"],
        &["SADD", "set", "m"],
        &["ZADD", "z", "1.5", "a", "-inf", "b"],
    ];
    for c in setup {
        let args: Vec<&[u8]> = c.iter().map(|a| a.as_bytes()).collect();
        assert!(!r3.call(&args).expect("setup").is_error());
    }
    let cmds: &[&[&str]] = &[
        &["PING"],
        &["GET", "s"],
        &["GET", "nokey"],
        &["LRANGE", "l", "0", "-1"],
        &["HGETALL", "h"],
        &["SMEMBERS", "set"],
        &["ZSCORE", "z", "a"],
        &["ZRANGE", "z", "0", "-1", "WITHSCORES"],
        &["INFO", "keyspace"],
        &["CONFIG", "GET", "maxmemory"],
        &["NOSUCH"],
        &["MULTI"],
        &["INCR", "s"],
        &["EXEC"],
    ];
    for c in cmds {
        let args: Vec<&[u8]> = c.iter().map(|a| a.as_bytes()).collect();
        let a = r3.call(&args).expect("resp3 call");
        let m = mp.call(&args).expect("msgpack call");
        assert_eq!(a, m, "{c:?}");
    }
    assert_eq!(r3.call(&[b"HGETALL", b"h"]).expect("hgetall"), Value::Map(vec![(b("f"), b("1"))]));
    assert_eq!(r3.call(&[b"ZSCORE", b"z", b"b"]).expect("zscore"), Value::Double(f64::NEG_INFINITY));

    // RESP2: maps are flat arrays, doubles are bulk strings.
    let mut r2 = Client::connect("127.0.0.1", server.port, Protocol::Resp2, T).expect("resp2");
    assert_eq!(r2.call(&[b"HGETALL", b"h"]).expect("hgetall"), Value::Array(vec![b("f"), b("1")]));
    assert_eq!(r2.call(&[b"ZSCORE", b"z", b"a"]).expect("zscore"), b("1.5"));
}

#[test]
fn msgpack_pipeline_ids_and_pushes() {
    let mport = common::free_port();
    let server = common::start_rustis(&["--msgpack-port", &mport.to_string()]);
    let mut mp = Client::connect("127.0.0.1", mport, Protocol::Msgpack, T).expect("msgpack");
    let n = 200u64;
    for i in 0..n {
        let v = i.to_string();
        assert_eq!(mp.send(&[b"SET", format!("k{i}").as_bytes(), v.as_bytes()]).expect("send"), i + 1);
    }
    mp.flush().expect("flush");
    for i in 0..n {
        assert_eq!(mp.recv().expect("recv"), (Some(i + 1), Value::Simple("OK".into())));
    }
    let mut r2 = Client::connect("127.0.0.1", server.port, Protocol::Resp2, T).expect("resp2");
    assert_eq!(r2.call(&[b"DBSIZE"]).expect("dbsize"), Value::Int(n as i64));

    // A subscriber gets one push per channel with its request's id; a message published
    // meanwhile arrives with a nil id and `call` skips it.
    let mut sub = Client::connect("127.0.0.1", mport, Protocol::Msgpack, T).expect("msgpack");
    let id = sub.send(&[b"SUBSCRIBE", b"c1"]).expect("send");
    sub.flush().expect("flush");
    let (rid, v) = sub.recv().expect("subscribe reply");
    assert_eq!(rid, Some(id));
    assert_eq!(v, Value::Push(vec![b("subscribe"), b("c1"), Value::Int(1)]));
    assert_eq!(r2.call(&[b"PUBLISH", b"c1", b"hi"]).expect("publish"), Value::Int(1));
    let (rid, v) = sub.recv().expect("message");
    assert_eq!(rid, None);
    assert_eq!(v, Value::Push(vec![b("message"), b("c1"), b("hi")]));
    assert_eq!(r2.call(&[b"PUBLISH", b"c1", b"again"]).expect("publish"), Value::Int(1));
    // The pending message is skipped; the PING reply (a push in subscribed RESP3 mode
    // or a simple string) carries the PING's id.
    let v = sub.call(&[b"PING"]).expect("ping");
    assert!(matches!(&v, Value::Simple(s) if s == "PONG") || matches!(&v, Value::Push(_)), "{v:?}");
}
