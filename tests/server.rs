//! Server-group commands with nondeterministic replies that the differential scripts can
//! only type-check: SLOWLOG entries (ids, timestamps, durations, client address/name,
//! argument trimming, max length).
//!
//! ```text
//! cargo test --test server
//! RUSTIS_TEST_TARGET=redis cargo test --test server   # the same against redis-server
//! ```

mod common;
mod support;

use redis::Value;

fn bulk(v: &Value) -> Vec<u8> {
    match v {
        Value::BulkString(b) => b.clone(),
        Value::SimpleString(s) => s.clone().into_bytes(),
        other => panic!("not a string: {other:?}"),
    }
}

fn int(v: &Value) -> i64 {
    match v {
        Value::Int(i) => *i,
        other => panic!("not an integer: {other:?}"),
    }
}

#[test]
fn slowlog_records_trimmed_commands_newest_first() {
    let server = support::start(&[]);
    let mut con = support::client(server.port);
    let _: () = redis::cmd("CONFIG").arg("SET").arg("slowlog-log-slower-than").arg(0).query(&mut con).expect("CONFIG");
    let _: () = redis::cmd("CONFIG").arg("SET").arg("slowlog-max-len").arg(5).query(&mut con).expect("CONFIG");
    let _: () = redis::cmd("CLIENT").arg("SETNAME").arg("slowpoke").query(&mut con).expect("SETNAME");
    let _: () = redis::cmd("SLOWLOG").arg("RESET").query(&mut con).expect("RESET");
    let long = "x".repeat(200);
    let _: () = redis::cmd("SET").arg("k").arg(&long).query(&mut con).expect("SET");
    let mut many = redis::cmd("SADD");
    many.arg("s");
    for i in 0..40 {
        many.arg(i);
    }
    let _: i64 = many.query(&mut con).expect("SADD");
    let before = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() as i64;

    let entries: Vec<Value> = redis::cmd("SLOWLOG").arg("GET").arg(-1).query(&mut con).expect("GET");
    // RESET itself, SET, SADD (newest first).
    assert_eq!(entries.len(), 3, "{entries:?}");
    let fields = |e: &Value| match e {
        Value::Array(f) => f.clone(),
        other => panic!("entry: {other:?}"),
    };
    let sadd = fields(&entries[0]);
    let set = fields(&entries[1]);
    let reset = fields(&entries[2]);
    assert_eq!(sadd.len(), 6);
    assert!(int(&sadd[0]) > int(&set[0]) && int(&set[0]) > int(&reset[0]), "ids grow");
    assert!((int(&set[1]) - before).abs() < 60, "timestamp is unix seconds");
    assert!(int(&set[2]) >= 0, "duration in microseconds");
    let args = |f: &Vec<Value>| match &f[3] {
        Value::Array(a) => a.iter().map(bulk).collect::<Vec<_>>(),
        other => panic!("args: {other:?}"),
    };
    let set_args = args(&set);
    assert_eq!(set_args[0], b"SET");
    assert_eq!(set_args[2], format!("{}... (72 more bytes)", "x".repeat(128)).into_bytes());
    let sadd_args = args(&sadd);
    assert_eq!(sadd_args.len(), 32);
    assert_eq!(sadd_args[31], b"... (11 more arguments)");
    assert!(String::from_utf8(bulk(&set[4])).expect("addr").starts_with("127.0.0.1:"));
    assert_eq!(bulk(&set[5]), b"slowpoke");

    let two: Vec<Value> = redis::cmd("SLOWLOG").arg("GET").arg(2).query(&mut con).expect("GET 2");
    assert_eq!(two.len(), 2);
    // max-len 5 keeps the newest five.
    for _ in 0..10 {
        let _: () = redis::cmd("PING").query(&mut con).expect("PING");
    }
    let len: i64 = redis::cmd("SLOWLOG").arg("LEN").query(&mut con).expect("LEN");
    assert_eq!(len, 5);
    let _: () = redis::cmd("CONFIG").arg("SET").arg("slowlog-log-slower-than").arg(-1).query(&mut con).expect("CONFIG");
    let _: () = redis::cmd("SLOWLOG").arg("RESET").query(&mut con).expect("RESET");
    let _: () = redis::cmd("PING").query(&mut con).expect("PING");
    let len: i64 = redis::cmd("SLOWLOG").arg("LEN").query(&mut con).expect("LEN");
    assert_eq!(len, 0, "-1 disables the slow log");
}
