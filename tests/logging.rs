//! Structured logs: with `--log-format json` every line the server writes is one JSON
//! object with `ts`, `level`, `target` and `msg`, plus `conn` (a number) when a
//! connection is involved; logfmt lines carry the same fields as `key=value`. The level
//! follows `--loglevel` at start and `CONFIG SET loglevel` at runtime; slow stripe-lock
//! waits are logged at warn with the db, stripe and command.
//!
//! ```text
//! cargo test --test logging
//! ```

mod common;
mod support;

use serde_json::Value;
use std::time::Duration;

/// Every line of the server's output, parsed (panics, naming the line, on any that is
/// not a JSON object with the four base fields).
fn json_lines(s: &common::Server) -> Vec<Value> {
    let text = std::fs::read_to_string(s.log_path()).expect("server log");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
            for f in ["ts", "level", "target", "msg"] {
                assert!(v.get(f).is_some_and(|x| x.is_string()), "no string `{f}` in {l}");
            }
            if let Some(c) = v.get("conn") {
                assert!(c.is_u64(), "conn is not a number in {l}");
            }
            v
        })
        .collect()
}

fn debug_cmd_lines(lines: &[Value], conn: u64, cmd: &str) -> usize {
    lines
        .iter()
        .filter(|v| {
            v["level"] == "debug"
                && v["conn"].as_u64() == Some(conn)
                && v["msg"].as_str() == Some(&format!("cmd={cmd}"))
        })
        .count()
}

/// JSON lines from start to shutdown; runtime level changes take effect at once.
#[test]
fn json_logs_parse_and_follow_config_set_loglevel() {
    let s = common::start_rustis(&["--log-format", "json", "--loglevel", "notice"]);
    let mut con = support::client(s.port);
    let id: u64 = redis::cmd("CLIENT").arg("ID").query(&mut con).unwrap();
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut con).unwrap();
    // notice: no per-command debug lines.
    let lines = json_lines(&s);
    assert_eq!(debug_cmd_lines(&lines, id, "SET"), 0);
    assert!(lines.iter().any(|v| v["level"] == "info"), "no info line at start");
    // debug at runtime: this connection's commands are logged with its id as `conn`.
    let _: () = redis::cmd("CONFIG").arg("SET").arg("loglevel").arg("debug").query(&mut con).unwrap();
    let _: Option<String> = redis::cmd("GET").arg("k").query(&mut con).unwrap();
    let mut other = support::client(s.port);
    let other_id: u64 = redis::cmd("CLIENT").arg("ID").query(&mut other).unwrap();
    drop(other);
    assert!(
        support::wait_until(Duration::from_secs(5), Duration::from_millis(20), || {
            let lines = json_lines(&s);
            debug_cmd_lines(&lines, id, "GET") == 1
                && lines.iter().any(|v| {
                    v["conn"].as_u64() == Some(other_id) && v["msg"].as_str().is_some_and(|m| m.starts_with("closed"))
                })
        }),
        "no debug line for GET / the closed connection:\n{}",
        s.log_tail(20)
    );
    // warning: debug lines stop again.
    let _: () = redis::cmd("CONFIG").arg("SET").arg("loglevel").arg("warning").query(&mut con).unwrap();
    let _: Option<String> = redis::cmd("GET").arg("k").query(&mut con).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(debug_cmd_lines(&json_lines(&s), id, "GET"), 1);
    let v: Vec<String> = redis::cmd("CONFIG").arg("GET").arg("loglevel").query(&mut con).unwrap();
    assert_eq!(v, ["loglevel", "warning"]);
}

/// logfmt (the default): `ts= level= target= [conn=] msg=` on every line.
#[test]
fn logfmt_lines_have_the_fields() {
    let s = common::start_rustis(&["--loglevel", "debug"]);
    let mut con = support::client(s.port);
    let id: u64 = redis::cmd("CLIENT").arg("ID").query(&mut con).unwrap();
    let want = format!(" conn={id} msg=\"cmd=PING\"");
    let _: String = redis::cmd("PING").query(&mut con).unwrap();
    assert!(support::wait_until(Duration::from_secs(5), Duration::from_millis(20), || {
        std::fs::read_to_string(s.log_path()).is_ok_and(|t| t.lines().any(|l| l.ends_with(&want)))
    }));
    let text = std::fs::read_to_string(s.log_path()).unwrap();
    for l in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut it = l.split(' ');
        for key in ["ts=", "level=", "target="] {
            assert!(it.next().is_some_and(|f| f.starts_with(key)), "`{key}` out of place in: {l}");
        }
        assert!(l.contains(" msg="), "no msg in: {l}");
    }
}

/// A stripe-lock wait longer than `slowlock-log-slower-than` (µs; 0 logs every wait) is
/// a warn line naming the db, the stripe and the command, with the waiting connection.
#[test]
fn slow_lock_waits_are_logged_at_warn() {
    // One stripe and four workers: concurrent clients must wait for each other.
    let s = common::start_rustis(&[
        "--log-format",
        "json",
        "--workers",
        "4",
        "--stripes",
        "1",
        "--slowlock-log-slower-than",
        "0",
    ]);
    let port = s.port;
    let found = |s: &common::Server| {
        json_lines(s).into_iter().any(|v| {
            v["level"] == "warn"
                && v["conn"].is_u64()
                && v["msg"].as_str().is_some_and(|m| m.starts_with("slow lock wait") && m.contains("stripe 0 (incr)"))
        })
    };
    for _round in 0..20 {
        support::contend(port);
        if found(&s) {
            return;
        }
    }
    panic!("no slow lock wait logged with 6 clients on one stripe:\n{}", s.log_tail(20));
}
