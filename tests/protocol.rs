//! Bad and unusual input on raw TCP: inline commands, big pipelines, every protocol
//! error (exact Redis 7.0 reply, then the connection closes, other clients unaffected),
//! byte-by-byte splitting, proto-max-bulk-len, error texts, and a client that pipelines
//! a lot and never reads.
//!
//! Expectations are Redis 7.0's (`RUSTIS_TEST_TARGET=redis` runs them against redis-server).

mod common;
mod support;

use common::{encode_command, render, RawConn, Server};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};
use support::{against_redis, start, wait_until};

const CLOSE_WAIT: Duration = Duration::from_secs(3);

/// Sends `input` on a fresh connection, expects exactly `want` and then the connection
/// closed; meanwhile an already-open second client must keep working.
fn expect_protocol_error(s: &Server, input: &[u8], want: &[u8]) {
    let mut other = s.conn();
    assert_reply!(other.cmd_str(&["PING"]), b"+PONG\r\n");
    let mut c = s.conn();
    c.send(input);
    let got = c.try_read_reply().unwrap_or_else(|e| panic!("input {}: no reply: {e}", render(input)));
    assert_eq!(render(&got), render(want), "reply to {}", render(input));
    if let Err(e) = c.expect_closed(CLOSE_WAIT) {
        panic!("connection not closed after protocol error for input {}: {e}", render(input));
    }
    assert_reply!(other.cmd_str(&["PING"]), b"+PONG\r\n", "second client broken after {}", render(input));
    assert_reply!(other.cmd_str(&["SET", "still", "ok"]), b"+OK\r\n");
}

#[test]
fn inline_commands() {
    let s = start(&[]);
    let mut c = s.conn();
    c.send(b"PING\r\n");
    assert_reply!(c.read_reply(), b"+PONG\r\n");
    // Bare LF line endings, extra spaces, tabs.
    c.send(b"PING\n");
    assert_reply!(c.read_reply(), b"+PONG\r\n");
    c.send(b"  SET   k1 \t v1  \r\n");
    assert_reply!(c.read_reply(), b"+OK\r\n");
    assert_reply!(c.cmd_str(&["GET", "k1"]), b"$2\r\nv1\r\n");
    // Double and single quotes with escapes.
    c.send(b"SET \"my key\" 'a b'\r\n");
    assert_reply!(c.read_reply(), b"+OK\r\n");
    assert_reply!(c.cmd_str(&["GET", "my key"]), b"$3\r\na b\r\n");
    c.send(b"ECHO \"\\x41\\n\\t\\\"q\\\"\"\r\n");
    assert_reply!(c.read_reply(), b"$6\r\nA\n\t\"q\"\r\n");
    c.send(b"ECHO 'it\\'s'\r\n");
    assert_reply!(c.read_reply(), b"$4\r\nit's\r\n");
    c.send(b"ECHO \"\"\r\n");
    assert_reply!(c.read_reply(), b"$0\r\n\r\n");
    // Empty lines are ignored; so are empty multibulks and null multibulks.
    c.send(b"\r\n\n\r\n*0\r\n*-1\r\nPING\r\n");
    assert_reply!(c.read_reply(), b"+PONG\r\n");
    // Inline and multibulk mixed in one write.
    c.send(b"INCR n\r\n*2\r\n$4\r\nINCR\r\n$1\r\nn\r\nINCR n\n");
    assert_reply!(c.read_reply(), b":1\r\n");
    assert_reply!(c.read_reply(), b":2\r\n");
    assert_reply!(c.read_reply(), b":3\r\n");
    // Inline errors look like normal errors and keep the connection.
    c.send(b"GET\r\n");
    assert_reply!(c.read_reply(), b"-ERR wrong number of arguments for 'get' command\r\n");
    c.send(b"FOO a b\r\n");
    assert_reply!(c.read_reply(), b"-ERR unknown command 'FOO', with args beginning with: 'a' 'b' \r\n");
    assert_reply!(c.cmd_str(&["PING"]), b"+PONG\r\n");
    assert!(c.buffered().is_empty(), "unexpected extra bytes: {}", render(c.buffered()));
}

#[test]
fn ten_thousand_pipelined_incr_in_one_write() {
    let s = start(&[]);
    let mut c = s.conn();
    const N: usize = 10_000;
    let one = encode_command(&[b"INCR", b"k"]);
    let mut all = Vec::with_capacity(one.len() * N);
    for _ in 0..N {
        all.extend_from_slice(&one);
    }
    c.send(&all);
    for i in 1..=N {
        let r = c.read_reply();
        assert_eq!(r, format!(":{i}\r\n").as_bytes(), "reply #{i} was {}", render(&r));
    }
    assert_reply!(c.cmd_str(&["GET", "k"]), b"$5\r\n10000\r\n");
    // The same as inline commands.
    let all: Vec<u8> = b"INCR j\r\n".repeat(N);
    c.send(&all);
    for i in 1..=N {
        let r = c.read_reply();
        assert_eq!(r, format!(":{i}\r\n").as_bytes(), "inline reply #{i} was {}", render(&r));
    }
    assert_reply!(c.cmd_str(&["GET", "j"]), b"$5\r\n10000\r\n");
}

#[test]
fn protocol_errors_reply_and_close() {
    let s = start(&[]);
    let cases: &[(&[u8], &[u8])] = &[
        (b"*abc\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
        (b"*1\r\n+x\r\n", b"-ERR Protocol error: expected '$', got '+'\r\n"),
        (b"*1\r\n:1\r\n", b"-ERR Protocol error: expected '$', got ':'\r\n"),
        (b"*1\r\n\xff\r\n", b"-ERR Protocol error: expected '$', got '\xff'\r\n"),
        (b"*1\r\n\r\r\n", b"-ERR Protocol error: expected '$', got ' '\r\n"),
        (b"*1\r\n$-5\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
        (b"*1\r\n$-1\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
        (b"*1\r\n$abc\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
        (b"*1\r\n$600000000\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
        (b"SET \"abc\r\n", b"-ERR Protocol error: unbalanced quotes in request\r\n"),
        (b"SET 'abc\r\n", b"-ERR Protocol error: unbalanced quotes in request\r\n"),
        (b"SET \"a\"b c\r\n", b"-ERR Protocol error: unbalanced quotes in request\r\n"),
        (b"ECHO 'a'b\r\n", b"-ERR Protocol error: unbalanced quotes in request\r\n"),
    ];
    for (input, want) in cases {
        expect_protocol_error(&s, input, want);
    }
    // Lines too long to ever complete.
    expect_protocol_error(&s, &vec![b'x'; 70_000], b"-ERR Protocol error: too big inline request\r\n");
    let mut big = b"*".to_vec();
    big.extend(std::iter::repeat_n(b'1', 70_000));
    expect_protocol_error(&s, &big, b"-ERR Protocol error: too big mbulk count string\r\n");
    let mut big = b"*1\r\n$".to_vec();
    big.extend(std::iter::repeat_n(b'1', 70_000));
    expect_protocol_error(&s, &big, b"-ERR Protocol error: too big bulk count string\r\n");

    // Commands before the bad frame run and are answered first; nothing after it runs.
    let mut c = s.conn();
    c.send(b"PING\r\nSET before 1\r\n*abc\r\nSET after 1\r\n");
    assert_reply!(c.read_reply(), b"+PONG\r\n");
    assert_reply!(c.read_reply(), b"+OK\r\n");
    assert_reply!(c.read_reply(), b"-ERR Protocol error: invalid multibulk length\r\n");
    c.expect_closed(CLOSE_WAIT).unwrap_or_else(|e| panic!("not closed after pipelined protocol error: {e}"));
    let mut c = s.conn();
    assert_reply!(c.cmd_str(&["EXISTS", "before", "after"]), b":1\r\n");
    assert_reply!(c.cmd_str(&["GET", "after"]), b"$-1\r\n");

    // A bad frame split across writes is detected once complete.
    let mut c = s.conn();
    c.send(b"*1\r\n$");
    std::thread::sleep(Duration::from_millis(30));
    c.send(b"-5\r\n");
    assert_reply!(c.read_reply(), b"-ERR Protocol error: invalid bulk length\r\n");
    c.expect_closed(CLOSE_WAIT).unwrap();
}

#[test]
fn huge_declared_bulk_over_proto_max_bulk_len() {
    let s = start(&["--proto-max-bulk-len", "1mb"]);
    let mut c = s.conn();
    assert_reply!(
        c.cmd_str(&["CONFIG", "GET", "proto-max-bulk-len"]),
        b"*2\r\n$18\r\nproto-max-bulk-len\r\n$7\r\n1048576\r\n"
    );
    expect_protocol_error(&s, b"*1\r\n$2000000\r\n", b"-ERR Protocol error: invalid bulk length\r\n");
    expect_protocol_error(
        &s,
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048577\r\n",
        b"-ERR Protocol error: invalid bulk length\r\n",
    );
    // Exactly the limit is fine.
    let val = vec![b'v'; 1024 * 1024];
    assert_reply!(c.cmd(&[b"SET", b"k", &val]), b"+OK\r\n");
    assert_reply!(c.cmd_str(&["STRLEN", "k"]), b":1048576\r\n");
    // Growing a string past the limit is refused with the documented error.
    assert_reply!(
        c.cmd_str(&["APPEND", "k", "x"]),
        b"-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n"
    );
    assert_reply!(
        c.cmd_str(&["SETRANGE", "k", "1048576", "x"]),
        b"-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n"
    );
}

#[test]
fn command_split_byte_by_byte() {
    let s = start(&[]);
    let mut c = s.conn();
    let value: Vec<u8> = b"hello\r\nworld\0!".to_vec();
    let frame = encode_command(&[b"SET", b"split key", &value]);
    for (i, b) in frame.iter().enumerate() {
        c.send(&[*b]);
        if i % 7 == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    assert_reply!(c.read_reply(), b"+OK\r\n");
    // Inline, byte by byte, then two commands whose boundary falls mid-write.
    for b in b"GET \"split key\"\r\n" {
        c.send(&[*b]);
    }
    let mut want = format!("${}\r\n", value.len()).into_bytes();
    want.extend_from_slice(&value);
    want.extend_from_slice(b"\r\n");
    assert_reply!(c.read_reply(), want);
    let two = [encode_command(&[b"INCR", b"n"]), encode_command(&[b"INCR", b"n"])].concat();
    let (a, b) = two.split_at(two.len() / 2 + 3);
    c.send(a);
    std::thread::sleep(Duration::from_millis(20));
    c.send(b);
    assert_reply!(c.read_reply(), b":1\r\n");
    assert_reply!(c.read_reply(), b":2\r\n");
    // A 300 KB value sent in uneven chunks.
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let frame = encode_command(&[b"SET", b"big", &big]);
    for chunk in frame.chunks(7919) {
        c.send(chunk);
    }
    assert_reply!(c.read_reply(), b"+OK\r\n");
    let got = c.cmd_str(&["GET", "big"]);
    let head = b"$300000\r\n";
    assert!(got.starts_with(head) && got[head.len()..head.len() + big.len()] == big[..], "big value corrupted");
}

#[test]
fn error_texts() {
    let s = start(&[]);
    let mut c = s.conn();
    let cases: &[(&[&str], &[u8])] = &[
        (&["GET"], b"-ERR wrong number of arguments for 'get' command\r\n"),
        (&["GET", "a", "b"], b"-ERR wrong number of arguments for 'get' command\r\n"),
        (&["set", "a"], b"-ERR wrong number of arguments for 'set' command\r\n"),
        (&["MSET", "a", "1", "b"], b"-ERR wrong number of arguments for 'mset' command\r\n"),
        (&["CONFIG", "GET"], b"-ERR wrong number of arguments for 'config|get' command\r\n"),
        (&["CLIENT", "KILL"], b"-ERR wrong number of arguments for 'client|kill' command\r\n"),
        (&["FOO"], b"-ERR unknown command 'FOO', with args beginning with: \r\n"),
        (&["foo", "a", "b c"], b"-ERR unknown command 'foo', with args beginning with: 'a' 'b c' \r\n"),
        (&[""], b"-ERR unknown command '', with args beginning with: \r\n"),
        (&["CONFIG", "FOO"], b"-ERR unknown subcommand 'FOO'. Try CONFIG HELP.\r\n"),
        (&["CONFIG", "foo", "bar"], b"-ERR unknown subcommand 'foo'. Try CONFIG HELP.\r\n"),
        (&["CLIENT", "NOPE"], b"-ERR unknown subcommand 'NOPE'. Try CLIENT HELP.\r\n"),
        (&["OBJECT", "NOPE", "k"], b"-ERR unknown subcommand 'NOPE'. Try OBJECT HELP.\r\n"),
        (&["COMMAND", "NOPE"], b"-ERR unknown subcommand 'NOPE'. Try COMMAND HELP.\r\n"),
        (&["INCR", "k", "k"], b"-ERR wrong number of arguments for 'incr' command\r\n"),
        (&["EXPIRE", "k", "x"], b"-ERR value is not an integer or out of range\r\n"),
        (&["SET", "k", "v", "WHAT"], b"-ERR syntax error\r\n"),
    ];
    for (args, want) in cases {
        assert_eq!(render(&c.cmd_str(args)), render(want), "reply to {args:?}");
    }
    // Long arguments are cut at 128 bytes in the unknown-command message.
    let long = "x".repeat(200);
    let got = c.cmd_str(&["NOPE", &long]);
    let want = format!("-ERR unknown command 'NOPE', with args beginning with: '{}' \r\n", "x".repeat(128));
    assert_eq!(render(&got), render(want.as_bytes()));
    // CR/LF inside an unknown command name cannot break the reply line.
    let got = c.cmd_str(&["A\r\nB"]);
    assert_reply!(got, b"-ERR unknown command 'A  B', with args beginning with: \r\n");
    // All of those kept the connection usable.
    assert_reply!(c.cmd_str(&["PING"]), b"+PONG\r\n");
}

/// RSS of a process in KiB (Linux), if readable.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// A client that pipelines `n` `GET big` commands (about `n * 10 KB` of replies) and
/// never reads a byte. Returns its socket and the thread writing the commands, which
/// yields (bytes sent, bytes to send).
fn flood(port: u16, n: usize) -> (TcpStream, std::thread::JoinHandle<(usize, usize)>) {
    let bad = TcpStream::connect(("127.0.0.1", port)).unwrap();
    bad.set_write_timeout(Some(Duration::from_secs(8))).unwrap();
    let mut writer_stream = bad.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let all = encode_command(&[b"GET", b"big"]).repeat(n);
        let mut sent = 0usize;
        for chunk in all.chunks(64 * 1024) {
            match writer_stream.write_all(chunk) {
                Ok(()) => sent += chunk.len(),
                // The server stopped reading (backpressure) or we were shut down.
                Err(_) => break,
            }
        }
        (sent, all.len())
    });
    (bad, writer)
}

/// The two flooding tests use ~1 GB of memory each on a misbehaving server; run them one
/// at a time so one's load does not skew the other's latency measurement.
static FLOOD_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn flood_lock() -> std::sync::MutexGuard<'static, ()> {
    FLOOD_LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// Number of `id=` lines in CLIENT LIST.
fn client_count(c: &mut RawConn) -> usize {
    let r = c.cmd_str(&["CLIENT", "LIST"]);
    r.split(|b| *b == b'\n').filter(|l| l.starts_with(b"id=")).count()
}

#[test]
fn client_that_never_reads_does_not_hurt_others() {
    let _serial = flood_lock();
    let mut s = start(&[]);
    let mut c = s.conn();
    let value = vec![b'z'; 10 * 1024];
    assert_reply!(c.cmd(&[b"SET", b"big", &value]), b"+OK\r\n");

    // The bad client: 200,000 pipelined GETs (~2 GB of replies), never reads a byte.
    let (bad, writer) = flood(s.port, 200_000);

    // While it floods, other clients are answered promptly, again and again.
    std::thread::sleep(Duration::from_millis(300));
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut pings = 0;
    let mut worst = Duration::ZERO;
    while Instant::now() < deadline {
        let mut p = RawConn::connect(s.port).expect("connect while flooded");
        p.set_timeout(Duration::from_secs(2)).unwrap();
        let t0 = Instant::now();
        let r = p.try_cmd(&[b"PING"]).unwrap_or_else(|e| panic!("PING not answered within 2 s while flooded: {e}"));
        worst = worst.max(t0.elapsed());
        assert_reply!(r, b"+PONG\r\n");
        let t0 = Instant::now();
        assert_reply!(c.cmd_str(&["INCR", "alive"]), format!(":{}\r\n", pings + 1).as_bytes());
        worst = worst.max(t0.elapsed());
        pings += 1;
        assert!(s.exited().is_none(), "server exited while flooded");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(worst < Duration::from_secs(2), "slowest answer while flooded took {worst:?}");
    assert!(pings >= 5, "only {pings} PINGs answered in 3 s");
    eprintln!("server RSS while flooded: {:?} KiB; slowest answer {worst:?}", rss_kib(s.pid()));

    // Drop the bad client.
    let _ = bad.shutdown(Shutdown::Both);
    drop(bad);
    let (sent, total) = writer.join().expect("writer thread");
    eprintln!("bad client wrote {sent} of {total} bytes");

    // The server is still alive and fully working.
    assert!(s.exited().is_none(), "server exited after the bad client left");
    let mut d = s.conn();
    assert_reply!(d.cmd_str(&["PING"]), b"+PONG\r\n");
    assert_reply!(d.cmd_str(&["SET", "after", "1"]), b"+OK\r\n");
    assert_reply!(d.cmd_str(&["GET", "after"]), b"$1\r\n1\r\n");
    let got = d.cmd_str(&["GET", "big"]);
    assert_eq!(got.len(), 10 * 1024 + 10);
    // The bad client is gone from CLIENT LIST soon (only c and d remain).
    let ok = wait_until(Duration::from_secs(5), Duration::from_millis(50), || client_count(&mut d) == 2);
    assert!(ok, "bad client still listed: {}", render(&d.cmd_str(&["CLIENT", "LIST"])));
}

/// Rustis-specific (not Redis 7.0 behaviour: redis-server buffers the whole ~2 GB here):
/// the reactor promises that it "stops reading while a connection's output backlog is
/// over the soft limit" (8 MB), so the memory held for a client that never reads must
/// stay bounded instead of growing with every pipelined command already received.
#[test]
fn output_backlog_of_non_reading_client_is_bounded() {
    if against_redis() {
        eprintln!("SKIPPED against redis-server: Redis does not bound normal clients' output by default");
        return;
    }
    let _serial = flood_lock();
    let mut s = start(&[]);
    let mut c = s.conn();
    let value = vec![b'z'; 10 * 1024];
    assert_reply!(c.cmd(&[b"SET", b"big", &value]), b"+OK\r\n");
    let base = rss_kib(s.pid());
    let (bad, writer) = flood(s.port, 200_000);
    let mut peak = 0;
    let deadline = Instant::now() + Duration::from_secs(4);
    while Instant::now() < deadline {
        if let Some(kib) = rss_kib(s.pid()) {
            peak = peak.max(kib);
        }
        assert_reply!(c.cmd_str(&["PING"]), b"+PONG\r\n");
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = bad.shutdown(Shutdown::Both);
    drop(bad);
    let _ = writer.join();
    assert!(s.exited().is_none(), "server exited");
    eprintln!("RSS before flood {base:?} KiB, peak during flood {peak} KiB");
    assert!(
        peak < 256 * 1024,
        "server RSS reached {peak} KiB (before: {base:?} KiB) for one client that never reads: \
         its output backlog is not bounded by the 8 MB soft limit"
    );
}

#[test]
fn half_closed_client_gets_its_replies() {
    // A client that sends commands then shuts down its write side still gets the replies.
    let s = start(&[]);
    let mut stream = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    stream.write_all(b"SET hc 1\r\nINCR hc\r\nGET hc\r\n").unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    assert_eq!(render(&out), render(b"+OK\r\n:2\r\n$1\r\n2\r\n"));
}
