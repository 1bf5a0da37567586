//! Helpers shared by the hand-written integration tests (strings, generic, connection,
//! protocol, concurrency, interop). Built on top of `tests/common/mod.rs`.
//!
//! Set `RUSTIS_TEST_TARGET=redis` to run the same tests against a real `redis-server`
//! instead of `rustis-server` (rustis-only flags such as `--workers`/`--stripes` are
//! dropped). That is how the expectations in these tests were checked against Redis 7.0.

#![allow(dead_code)]

pub mod persist;
pub mod values;

use crate::common::{self, Server};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Flags only rustis understands; they are not passed to redis-server.
const RUSTIS_ONLY: &[&str] = &["--workers", "--stripes", "--log-format"];

/// True when the tests should run against redis-server (`RUSTIS_TEST_TARGET=redis`).
pub fn against_redis() -> bool {
    std::env::var("RUSTIS_TEST_TARGET").is_ok_and(|v| v == "redis")
}

/// Starts the server under test with `extra` options (`--name value` pairs).
pub fn start(extra: &[&str]) -> Server {
    if against_redis() {
        let mut args = Vec::new();
        let mut i = 0;
        while i < extra.len() {
            if RUSTIS_ONLY.contains(&extra[i]) {
                i += 2;
            } else {
                args.push(extra[i]);
                i += 1;
            }
        }
        let s = common::start_redis(&args).expect("RUSTIS_TEST_TARGET=redis but redis-server is not installed");
        eprintln!("RUSTIS_TEST_TARGET=redis: testing redis-server on port {}", s.port);
        s
    } else {
        common::start_rustis(extra)
    }
}

/// A synchronous `redis` crate connection to `port` (10 s read/write timeouts).
pub fn client(port: u16) -> redis::Connection {
    let c = redis::Client::open(format!("redis://127.0.0.1:{port}/")).expect("client");
    let con = c.get_connection_with_timeout(Duration::from_secs(5)).expect("connect");
    con.set_read_timeout(Some(Duration::from_secs(10))).expect("read timeout");
    con.set_write_timeout(Some(Duration::from_secs(10))).expect("write timeout");
    con
}

/// Runs `cmd` and returns the server's error line (without `-` and CRLF), panicking if
/// the command succeeded.
pub fn err_line<T: redis::FromRedisValue + std::fmt::Debug>(cmd: &redis::Cmd, con: &mut redis::Connection) -> String {
    match cmd.query::<T>(con) {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => error_text(&e),
    }
}

/// Rebuilds `CODE detail` from a redis crate error.
pub fn error_text(e: &redis::RedisError) -> String {
    match (e.code(), e.detail()) {
        (Some(code), Some(detail)) => format!("{code} {detail}"),
        (Some(code), None) => code.to_string(),
        _ => format!("<non-server error: {e}>"),
    }
}

/// Runs `f` on a new thread and waits at most `limit` for it; panics (naming `what`) if
/// it does not finish in time, and re-raises its panic if it panicked.
pub fn with_deadline<T: Send + 'static>(what: &str, limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::spawn(move || {
        let r = f();
        let _ = tx.send(());
        r
    });
    match rx.recv_timeout(limit) {
        Ok(()) => handle.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            // The closure panicked before sending.
            match handle.join() {
                Ok(v) => v,
                Err(p) => std::panic::resume_unwind(p),
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{what} did not finish within {limit:?} (deadlock?)"),
    }
}

/// One round of lock contention: 6 clients each send 5 pipelines of 200 INCRs on three
/// hot keys (run the server with `--stripes 1` and several workers so they collide).
pub fn contend(port: u16) {
    let threads: Vec<_> = (0..6)
        .map(|t| {
            std::thread::spawn(move || {
                let mut con = client(port);
                let mut p = redis::pipe();
                for i in 0..200 {
                    p.cmd("INCR").arg(format!("hot{}", (t + i) % 3)).ignore();
                }
                for _ in 0..5 {
                    let _: () = p.query(&mut con).expect("pipeline");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("client thread");
    }
}

/// Polls `f` every `step` until it returns true or `limit` passes; returns whether it did.
pub fn wait_until(limit: Duration, step: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(step);
    }
}

/// `assert_eq!` for raw reply bytes that prints both sides rendered readably.
#[macro_export]
macro_rules! assert_reply {
    ($got:expr, $want:expr $(,)?) => {
        assert_eq!($crate::common::render(&$got[..]), $crate::common::render(&$want[..]))
    };
    ($got:expr, $want:expr, $($arg:tt)+) => {
        assert_eq!($crate::common::render(&$got[..]), $crate::common::render(&$want[..]), $($arg)+)
    };
}
