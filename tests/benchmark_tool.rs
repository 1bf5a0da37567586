//! `rustis-benchmark` against a rustis-server, over RESP and MessagePack: exit status,
//! the CSV output (header and one parsable line per test), and that the requests it
//! claims to have sent are the ones the server executed (key counts, counters, lists).

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BENCH: &str = env!("CARGO_BIN_EXE_rustis-benchmark");

/// Runs the benchmark (bounded to 60 s) and returns its stdout; panics unless it exits 0.
fn bench(args: &[&str]) -> String {
    let mut child = Command::new(BENCH)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run rustis-benchmark");
    let start = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("rustis-benchmark {args:?} ran longer than 60 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().expect("output");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "rustis-benchmark {args:?} failed: {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Parses the CSV: checks the header, returns (test, [rps, avg, min, p50, p95, p99, max]).
fn parse_csv(out: &str) -> Vec<(String, Vec<f64>)> {
    let mut lines = out.lines();
    assert_eq!(
        lines.next(),
        Some(
            "\"test\",\"rps\",\"avg_latency_ms\",\"min_latency_ms\",\"p50_latency_ms\",\"p95_latency_ms\",\"p99_latency_ms\",\"max_latency_ms\""
        )
    );
    lines
        .map(|l| {
            let cells: Vec<&str> = l.split("\",\"").map(|c| c.trim_matches('"')).collect();
            assert_eq!(cells.len(), 8, "{l}");
            let nums: Vec<f64> = cells[1..].iter().map(|c| c.parse().unwrap_or_else(|_| panic!("{l}"))).collect();
            assert!(nums[0] > 0.0, "rps: {l}");
            // min <= p50 <= p95 <= p99 <= max
            assert!(nums[2] <= nums[3] && nums[3] <= nums[4] && nums[4] <= nums[5] && nums[5] <= nums[6], "{l}");
            (cells[0].to_string(), nums)
        })
        .collect()
}

/// An integer reply (`:5`) or a bulk string holding one (`$3\r\n500`).
fn int_reply(r: Vec<u8>) -> i64 {
    let s = String::from_utf8_lossy(&r).into_owned();
    let text = match s.strip_prefix(':') {
        Some(rest) => rest.trim().to_string(),
        None => s.split("\r\n").nth(1).unwrap_or_default().to_string(),
    };
    text.parse().unwrap_or_else(|_| panic!("not an integer reply: {s:?}"))
}

fn check(port: &str, resp_port: u16, proto: &str) {
    let mut c = common::RawConn::connect(resp_port).expect("connect");
    c.cmd_str(&["FLUSHALL"]);
    let base = ["-p", port, "--protocol", proto, "--csv", "-c", "4"];

    let mut a = base.to_vec();
    a.extend(["-t", "set", "-n", "1000", "-r", "100", "-P", "8"]);
    let rows = parse_csv(&bench(&a));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0, "SET");
    let n = int_reply(c.cmd_str(&["DBSIZE"]));
    assert!(n > 0 && n <= 100, "DBSIZE after SET -r 100: {n}");

    let mut a = base.to_vec();
    a.extend(["-t", "incr", "-n", "500"]);
    parse_csv(&bench(&a));
    assert_eq!(int_reply(c.cmd_str(&["GET", "counter:000000000000"])), 500);

    let mut a = base.to_vec();
    a.extend(["-t", "lpush,lpop,rpush", "-n", "300", "-P", "3", "-d", "10"]);
    let rows = parse_csv(&bench(&a));
    let names: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(names, ["LPUSH", "LPOP", "RPUSH"]);
    assert_eq!(int_reply(c.cmd_str(&["LLEN", "mylist"])), 300);
    assert_eq!(c.cmd_str(&["LINDEX", "mylist", "0"]), b"$10\r\nxxxxxxxxxx\r\n");

    let mut a = base.to_vec();
    a.extend(["-t", "ping,get,sadd,hset,mset,spop,rpop", "-n", "200", "-r", "50"]);
    let rows = parse_csv(&bench(&a));
    assert_eq!(rows.len(), 7);
    let n = int_reply(c.cmd_str(&["HLEN", "myhash"]));
    assert!(n > 0 && n <= 50, "HLEN {n}");

    // Human-readable and quiet output.
    let out = bench(&["-p", port, "--protocol", proto, "-c", "2", "-n", "50", "-t", "get"]);
    assert!(out.contains("====== GET ======") && out.contains("50 requests completed"), "{out}");
    assert!(out.contains("requests per second") && out.contains("p99"), "{out}");
    let out = bench(&["-p", port, "--protocol", proto, "-q", "-n", "50", "-t", "ping"]);
    assert!(out.starts_with("PING_MBULK: ") && out.contains("requests per second"), "{out}");
}

#[test]
fn benchmark_over_resp() {
    let server = common::start_rustis(&[]);
    check(&server.port.to_string(), server.port, "resp");
}

#[test]
fn benchmark_over_msgpack() {
    let mport = common::free_port();
    let ms = mport.to_string();
    let server = common::start_rustis(&["--msgpack-port", &ms]);
    check(&ms, server.port, "msgpack");
}

#[test]
fn unreachable_server_fails() {
    let port = common::free_port().to_string();
    let out = Command::new(BENCH).args(["-p", &port, "-n", "10", "-t", "ping"]).output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Could not connect"));
}
