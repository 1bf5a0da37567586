//! Small helpers over the `redis` crate's values, shared by the persistence tests
//! (tests/persistence.rs, tests/aof.rs).

use redis::Value;
use std::time::{SystemTime, UNIX_EPOCH};

pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_millis() as i64
}

/// Runs a command given as `&str` words; panics (naming the command) on error replies.
pub fn run(con: &mut redis::Connection, args: &[&str]) -> Value {
    let mut c = redis::cmd(args[0]);
    for a in &args[1..] {
        c.arg(*a);
    }
    c.query::<Value>(con).unwrap_or_else(|e| panic!("{}: {e}", args.join(" ")))
}

/// Runs a prepared command; panics (with `what`) on error replies.
pub fn run_cmd(con: &mut redis::Connection, c: &redis::Cmd, what: &str) -> Value {
    c.query::<Value>(con).unwrap_or_else(|e| panic!("{what}: {e}"))
}

pub fn select(con: &mut redis::Connection, db: u8) {
    run(con, &["SELECT", &db.to_string()]);
}

pub fn bulk(v: &Value) -> Vec<u8> {
    match v {
        Value::BulkString(b) => b.clone(),
        Value::SimpleString(s) => s.clone().into_bytes(),
        Value::Okay => b"OK".to_vec(),
        other => panic!("not a string: {other:?}"),
    }
}

pub fn text(v: &Value) -> String {
    String::from_utf8_lossy(&bulk(v)).into_owned()
}

pub fn int(v: &Value) -> i64 {
    match v {
        Value::Int(i) => *i,
        other => panic!("not an integer: {other:?}"),
    }
}

pub fn array(v: &Value) -> &[Value] {
    match v {
        Value::Array(a) => a,
        other => panic!("not an array: {other:?}"),
    }
}
