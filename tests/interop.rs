//! Interoperability with the real Redis tools: `redis-cli` one-shot commands (output
//! identical to what redis-server produces), `redis-cli --pipe`, `redis-benchmark` with and
//! without pipelining, and `redis-cli COMMAND DOCS`.
//!
//! Skipped (loudly) when `redis-cli` / `redis-benchmark` are not installed, unless
//! `RUSTIS_REQUIRE_REDIS=1` is set, in which case a missing tool is a failure. Every tool
//! run is time-boxed and killed when it overruns.

mod common;
mod support;

use common::{redis_required, start_redis, Server};
use std::io::{Read, Write};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};
use support::start;

struct Output {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// True if `tool` can be run; otherwise prints a loud SKIPPED message (or panics when
/// RUSTIS_REQUIRE_REDIS=1).
fn have(tool: &str) -> bool {
    let ok = Command::new(tool).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok();
    if !ok {
        if redis_required() {
            panic!("{tool} not found on PATH but RUSTIS_REQUIRE_REDIS=1 is set (apt-get install redis-tools)");
        }
        eprintln!("\n*** SKIPPED: {tool} not found on PATH; interop test not run ***\n");
    }
    ok
}

/// Runs `tool args` with `stdin` as input, killing it after `limit`.
fn run(tool: &str, args: &[&str], stdin: &[u8], limit: Duration) -> Output {
    let mut child = Command::new(tool)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {tool}: {e}"));
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            break st;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            let so = String::from_utf8_lossy(&out_t.join().unwrap()).into_owned();
            panic!("{tool} {args:?} did not finish within {limit:?}; stdout so far:\n{so}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = feeder.join();
    Output {
        status,
        stdout: String::from_utf8_lossy(&out_t.join().unwrap()).into_owned(),
        stderr: String::from_utf8_lossy(&err_t.join().unwrap()).into_owned(),
    }
}

fn cli(s: &Server, extra: &[&str], args: &[&str]) -> Output {
    let port = s.port.to_string();
    let mut all = vec!["-h", "127.0.0.1", "-p", &port];
    all.extend_from_slice(extra);
    all.extend_from_slice(args);
    run("redis-cli", &all, b"", Duration::from_secs(10))
}

/// The reference server, or None (with a message) when redis-server is missing.
fn reference() -> Option<Server> {
    let r = start_redis(&[]);
    if r.is_none() {
        eprintln!("\n*** redis-server not found: comparing against built-in expectations only ***\n");
    }
    r
}

#[test]
fn redis_cli_one_shot_matches_redis() {
    if !have("redis-cli") {
        return;
    }
    let s = start(&[]);
    let reference = reference();
    let script: &[&[&str]] = &[
        &["SET", "foo", "bar"],
        &["GET", "foo"],
        &["INCR", "n"],
        &["INCR", "n"],
        &["INCRBY", "n", "40"],
        &["GET", "missing"],
        &["MGET", "foo", "missing", "n"],
        &["SET", "foo", "v", "EX", "abc"],
        &["INCR", "foo"],
        &["APPEND", "foo", " baz"],
        &["GET", "foo"],
        &["SET", "sp", "a b\nc"],
        &["GET", "sp"],
        &["TYPE", "n"],
        &["EXISTS", "foo", "n", "missing"],
        &["CONFIG", "GET", "databases"],
        &["PING"],
        &["ECHO", "hello world"],
        &["NOSUCHCOMMAND", "x"],
        &["DEL", "foo", "n", "sp"],
        &["DBSIZE"],
        &["SCAN", "0"],
    ];
    // Built-in expectations for raw (non-tty) output, used when redis-server is missing.
    let builtin: &[&str] = &[
        "OK\n",
        "bar\n",
        "1\n",
        "2\n",
        "42\n",
        "\n",
        "bar\n\n42\n",
        "ERR value is not an integer or out of range\n\n",
        "ERR value is not an integer or out of range\n\n",
        "7\n",
        "bar baz\n",
        "OK\n",
        "a b\nc\n",
        "string\n",
        "2\n",
        "databases\n16\n",
        "PONG\n",
        "hello world\n",
        "ERR unknown command 'NOSUCHCOMMAND', with args beginning with: 'x' \n\n",
        "3\n",
        "0\n",
        "0\n\n",
    ];
    for mode in [&[][..], &["--no-raw"][..], &["-3", "--no-raw"][..]] {
        let mut mismatches = Vec::new();
        for (i, args) in script.iter().enumerate() {
            let got = cli(&s, mode, args);
            let want = match &reference {
                Some(r) => {
                    let o = cli(r, mode, args);
                    (o.stdout, o.status.code())
                }
                None if mode.is_empty() => (builtin[i].to_string(), got.status.code()),
                None => continue,
            };
            if (got.stdout.clone(), got.status.code()) != want {
                mismatches.push(format!(
                    "redis-cli {mode:?} {args:?}:\n  redis:  {:?} (exit {:?})\n  rustis: {:?} (exit {:?}) stderr {:?}",
                    want.0,
                    want.1,
                    got.stdout,
                    got.status.code(),
                    got.stderr
                ));
            }
        }
        assert!(mismatches.is_empty(), "redis-cli output differs:\n{}", mismatches.join("\n"));
    }
}

#[test]
fn redis_cli_pipe_mass_insert() {
    if !have("redis-cli") {
        return;
    }
    let s = start(&[]);
    const N: usize = 10_000;
    let mut input = Vec::new();
    for i in 0..N {
        input.extend_from_slice(&common::encode_command(&[
            b"SET",
            format!("pipe:{i}").as_bytes(),
            format!("value-{i}").as_bytes(),
        ]));
    }
    let port = s.port.to_string();
    let o = run("redis-cli", &["-h", "127.0.0.1", "-p", &port, "--pipe"], &input, Duration::from_secs(20));
    let all = format!("{}{}", o.stdout, o.stderr);
    assert!(o.status.success(), "redis-cli --pipe failed ({:?}):\n{all}", o.status);
    assert!(all.contains(&format!("errors: 0, replies: {N}")), "redis-cli --pipe summary wrong:\n{all}");
    let mut c = s.conn();
    assert_reply!(c.cmd_str(&["DBSIZE"]), format!(":{N}\r\n").as_bytes());
    assert_reply!(c.cmd_str(&["GET", "pipe:9999"]), b"$10\r\nvalue-9999\r\n");

    // Errors are counted too.
    let mut bad = Vec::new();
    for i in 0..100 {
        bad.extend_from_slice(&common::encode_command(&[b"INCR", format!("pipe:{i}").as_bytes()]));
    }
    let o = run("redis-cli", &["-h", "127.0.0.1", "-p", &port, "--pipe"], &bad, Duration::from_secs(20));
    let all = format!("{}{}", o.stdout, o.stderr);
    assert!(all.contains("errors: 100, replies: 100"), "redis-cli --pipe error summary wrong:\n{all}");
}

fn benchmark(pipeline: &str) {
    if !have("redis-benchmark") {
        return;
    }
    let s = start(&[]);
    let port = s.port.to_string();
    let o = run(
        "redis-benchmark",
        &["-h", "127.0.0.1", "-p", &port, "-t", "ping,set,get,incr,mset", "-n", "20000", "-q", "-P", pipeline],
        b"",
        Duration::from_secs(20),
    );
    // -q prints progress with '\r'; the final result of each test ends the line.
    let text = o.stdout.replace('\r', "\n");
    assert!(o.status.success(), "redis-benchmark -P {pipeline} exited with {:?}:\n{text}\n{}", o.status, o.stderr);
    for test in ["PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "MSET (10 keys)"] {
        let line = text.lines().find(|l| l.starts_with(&format!("{test}: ")) && l.contains("requests per second"));
        assert!(line.is_some(), "redis-benchmark -P {pipeline}: no result line for {test}:\n{text}\n{}", o.stderr);
    }
    let summary: Vec<&str> = text.lines().filter(|l| l.contains("requests per second")).collect();
    eprintln!("redis-benchmark -P {pipeline}:\n{}", summary.join("\n"));
    // The server survived and has the benchmark's keys.
    let mut c = s.conn();
    assert_reply!(c.cmd_str(&["PING"]), b"+PONG\r\n");
    assert_reply!(c.cmd_str(&["GET", "counter:__rand_int__"]), b"$5\r\n20000\r\n");
}

#[test]
fn redis_benchmark_no_pipeline() {
    benchmark("1");
}

#[test]
fn redis_benchmark_pipeline_16() {
    benchmark("16");
}

#[test]
fn redis_cli_command_docs() {
    if !have("redis-cli") {
        return;
    }
    let s = start(&[]);
    let got = cli(&s, &[], &["COMMAND", "DOCS", "GET"]);
    assert!(got.status.success(), "redis-cli COMMAND DOCS GET failed: {}", got.stderr);
    for needle in [
        "get\n",
        "summary\n",
        "Get the value of a key\n",
        "since\n",
        "1.0.0\n",
        "group\n",
        "string\n",
        "arguments\n",
        "key\n",
    ] {
        assert!(got.stdout.contains(needle), "COMMAND DOCS GET output lacks {needle:?}:\n{}", got.stdout);
    }
    // Interactive-style output (what redis-cli uses for command hints) works too.
    let pretty = cli(&s, &["--no-raw"], &["COMMAND", "DOCS", "GET"]);
    assert!(pretty.stdout.starts_with("1) \"get\"\n"), "COMMAND DOCS GET --no-raw:\n{}", pretty.stdout);
    if let Some(r) = reference() {
        for mode in [&[][..], &["--no-raw"][..]] {
            let want = cli(&r, mode, &["COMMAND", "DOCS", "GET"]);
            let got = cli(&s, mode, &["COMMAND", "DOCS", "GET"]);
            assert_eq!(got.stdout, want.stdout, "redis-cli {mode:?} COMMAND DOCS GET differs from redis-server's");
        }
    }
}

/// COMMAND DOCS of commands with a history and per-argument `since` (SET, EXPIRE,
/// EXISTS) must match redis-server's too.
#[test]
#[ignore = "COMMAND DOCS does not carry Redis's history, per-argument since or block names yet (see the issue 2 closing note)"]
fn redis_cli_command_docs_match_redis() {
    if !have("redis-cli") {
        return;
    }
    let Some(r) = reference() else { return };
    let s = start(&[]);
    let mut diffs = Vec::new();
    for name in ["SET", "EXPIRE", "EXISTS", "GETEX", "MSET", "SCAN"] {
        let want = cli(&r, &[], &["COMMAND", "DOCS", name]).stdout;
        let got = cli(&s, &[], &["COMMAND", "DOCS", name]).stdout;
        if got != want {
            diffs.push(format!("COMMAND DOCS {name}:\n  redis:  {want:?}\n  rustis: {got:?}"));
        }
    }
    assert!(diffs.is_empty(), "COMMAND DOCS differs from redis-server:\n{}", diffs.join("\n"));
}
