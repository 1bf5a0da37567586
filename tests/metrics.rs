//! The Prometheus endpoint: `GET /metrics` counters move with real traffic, lock metrics
//! move under contention, `/healthz` answers, anything else is 404, and `--metrics-port 0`
//! disables the endpoint.
//!
//! ```text
//! cargo test --test metrics
//! ```
//!
//! Rustis-only (redis-server has no metrics endpoint).

mod common;
mod support;

use common::free_port;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// One HTTP/1.1 GET; returns (status code, body).
fn http_get(port: u16, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to metrics port");
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    write!(s, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").expect("send");
    let mut buf = String::new();
    s.read_to_string(&mut buf).expect("read response");
    let status = buf.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = buf.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    // hyper may use chunked encoding; the metric lines are intact either way.
    (status, body)
}

/// The value of the series `name` (exact text before the space), if present.
fn value(body: &str, series: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|r| r.strip_prefix(' ')).and_then(|v| v.trim().parse().ok()))
}

fn scrape(port: u16) -> String {
    let (status, body) = http_get(port, "/metrics");
    assert_eq!(status, 200, "GET /metrics: {body}");
    body
}

#[test]
fn counters_move_with_traffic() {
    if support::against_redis() {
        return;
    }
    let mport = free_port();
    let server = common::start_rustis(&["--metrics-port", &mport.to_string()]);
    let mut con = support::client(server.port);
    let before = scrape(mport);
    for i in 0..50 {
        let _: () = redis::cmd("SET").arg(format!("k{i}")).arg(i).query(&mut con).expect("SET");
    }
    let _: Option<String> = redis::cmd("GET").arg("k1").query(&mut con).expect("GET");
    let _ = redis::cmd("LPUSH").arg("k1").arg("x").query::<()>(&mut con).expect_err("WRONGTYPE");
    let _ = redis::cmd("GET").query::<()>(&mut con).expect_err("arity");
    let after = scrape(mport);

    let d = |series: &str| value(&after, series).unwrap_or(0.0) - value(&before, series).unwrap_or(0.0);
    assert!(d("rustis_commands_processed_total") >= 52.0, "{after}");
    assert_eq!(d("rustis_command_calls_total{cmd=\"set\"}"), 50.0, "{after}");
    assert_eq!(d("rustis_command_duration_seconds_count{cmd=\"set\"}"), 50.0, "{after}");
    assert_eq!(value(&after, "rustis_command_errors_total{cmd=\"lpush\",kind=\"failed\"}"), Some(1.0), "{after}");
    assert_eq!(value(&after, "rustis_command_errors_total{cmd=\"get\",kind=\"rejected\"}"), Some(1.0), "{after}");
    assert_eq!(value(&after, "rustis_keys{db=\"0\"}"), Some(50.0), "{after}");
    assert!(d("rustis_bytes_read_total{protocol=\"resp\"}") > 0.0, "{after}");
    assert!(d("rustis_bytes_written_total{protocol=\"resp\"}") > 0.0, "{after}");
    assert!(value(&after, "rustis_connected_clients{protocol=\"resp\"}").unwrap_or(0.0) >= 1.0, "{after}");
    assert_eq!(value(&after, "rustis_connected_clients{protocol=\"msgpack\"}"), Some(0.0), "{after}");
    assert!(value(&after, "rustis_memory_used_bytes").unwrap_or(0.0) > 0.0, "{after}");
    assert!(value(&after, "rustis_worker_busy_seconds_total{worker=\"0\"}").unwrap_or(0.0) > 0.0, "{after}");
    for name in [
        "rustis_connections_received_total{protocol=\"resp\"}",
        "rustis_connections_received_total{protocol=\"msgpack\"}",
        "rustis_rejected_connections_total",
        "rustis_expired_keys_total",
        "rustis_evicted_keys_total",
        "rustis_blocked_clients",
        "rustis_pubsub_channels",
        "rustis_lock_acquire_failures_total",
        "rustis_active_locks",
        "rustis_worker_queue_depth",
    ] {
        assert!(value(&after, name).is_some(), "{name} missing:\n{after}");
    }
    assert!(after.contains("# TYPE rustis_command_duration_seconds histogram"), "{after}");
    assert!(after.contains("rustis_lock_wait_duration_seconds_bucket{lock=\"stripe\",le=\"+Inf\"}"), "{after}");

    let (status, body) = http_get(mport, "/healthz");
    assert_eq!((status, body.contains("ok")), (200, true));
    assert_eq!(http_get(mport, "/nope").0, 404);
}

#[test]
fn lock_metrics_move_under_contention() {
    if support::against_redis() {
        return;
    }
    let mport = free_port();
    // One stripe and four workers: concurrent clients must wait for each other.
    let server = common::start_rustis(&["--metrics-port", &mport.to_string(), "--workers", "4", "--stripes", "1"]);
    let port = server.port;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut contended = 0.0;
    for _round in 0..20 {
        support::contend(port);
        let body = scrape(mport);
        contended = value(&body, "rustis_lock_acquire_failures_total").unwrap_or(0.0);
        let waits = value(&body, "rustis_lock_wait_duration_seconds_count{lock=\"stripe\"}").unwrap_or(0.0);
        if contended > 0.0 {
            assert_eq!(waits, contended, "every failed try-lock is a timed wait:\n{body}");
            break;
        }
        if Instant::now() > deadline {
            break;
        }
    }
    assert!(contended > 0.0, "no lock contention observed with 6 clients on one stripe");
}

#[test]
fn metrics_port_zero_disables_the_endpoint() {
    if support::against_redis() {
        return;
    }
    let server = common::start_rustis(&["--metrics-port", "0"]);
    let mut con = support::client(server.port);
    let port: Vec<String> = redis::cmd("CONFIG").arg("GET").arg("metrics-port").query(&mut con).expect("CONFIG GET");
    assert_eq!(port, vec!["metrics-port".to_string(), "0".to_string()]);
    assert!(!server.log_tail(50).contains("metrics endpoint listening"), "{}", server.log_tail(50));
}
