//! The MessagePack protocol (spec: `src/protocol/msgpack.rs`) end to end, decoded with
//! the independent `rmpv` crate: the handshake and its refusals, request ids and typed
//! arguments, every reply kind, malformed frames (error frame, then close), pushes,
//! blocking commands, transactions, `listen` lines, and the differential matrix: every
//! `tests/diff/*.redis` script run over MessagePack against Rustis and over RESP3
//! against a real redis-server, replies compared value for value.

mod common;

use common::{free_port, redis_required, split_args, start_redis, start_rustis, unescape, RawConn, Server};
use rmpv::Value as Mp;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------
// A tiny MessagePack client
// ---------------------------------------------------------------------------------------

struct MpConn {
    s: TcpStream,
    next_id: u64,
}

fn frame_of(v: &Mp) -> Vec<u8> {
    let mut body = Vec::new();
    rmpv::encode::write_value(&mut body, v).expect("encode");
    let mut f = (body.len() as u32).to_be_bytes().to_vec();
    f.extend_from_slice(&body);
    f
}

fn request(id: u64, args: &[&[u8]]) -> Mp {
    let mut items = vec![Mp::from(id)];
    items.extend(args.iter().map(|a| Mp::Binary(a.to_vec())));
    Mp::Array(items)
}

impl MpConn {
    /// Connects and completes the handshake; returns the handshake reply too.
    fn open(port: u16) -> (MpConn, Frame) {
        let mut c = MpConn::raw(port);
        c.send_value(&Mp::Array(vec![Mp::from("rustis"), Mp::from(1)]));
        let hello = c.read().expect("handshake reply");
        (c, hello)
    }

    fn raw(port: u16) -> MpConn {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect to the MessagePack port");
        s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        MpConn { s, next_id: 1 }
    }

    fn send_value(&mut self, v: &Mp) {
        self.s.write_all(&frame_of(v)).expect("write");
    }

    fn send(&mut self, args: &[&[u8]]) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.send_value(&request(id, args));
        id
    }

    fn call(&mut self, args: &[&str]) -> Frame {
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        let id = self.send(&a);
        let f = self.read().expect("reply");
        assert_eq!(f.id, Some(id), "reply to {args:?} carries its id");
        f
    }

    /// The next frame, or None when the server closed the connection.
    fn read(&mut self) -> Option<Frame> {
        let mut len = [0u8; 4];
        if self.s.read_exact(&mut len).is_err() {
            return None;
        }
        let n = u32::from_be_bytes(len) as usize;
        let mut body = vec![0u8; n];
        self.s.read_exact(&mut body).expect("frame body");
        let v = rmpv::decode::read_value(&mut &body[..]).expect("a valid MessagePack value");
        let Mp::Array(parts) = v else { panic!("frame is not an array: {v:?}") };
        assert_eq!(parts.len(), 3, "frame is [id, kind, value]: {parts:?}");
        let id = match &parts[0] {
            Mp::Nil => None,
            other => Some(other.as_u64().expect("unsigned id")),
        };
        let kind = parts[1].as_u64().expect("kind") as u8;
        Some(Frame { id, kind, value: top(kind, &parts[2]) })
    }

    fn expect_closed(&mut self) {
        let mut b = [0u8; 1];
        match self.s.read(&mut b) {
            Ok(0) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            other => panic!("expected the server to close, got {other:?}"),
        }
    }
}

#[derive(Debug)]
struct Frame {
    id: Option<u64>,
    kind: u8,
    value: V,
}

/// A protocol-neutral reply value (what RESP3 and MessagePack both carry).
#[derive(Debug, Clone, PartialEq)]
enum V {
    Simple(Vec<u8>),
    Err(Vec<u8>),
    Int(i64),
    /// Bits of the double (NaNs normalised).
    Dbl(u64),
    Bulk(Vec<u8>),
    Null,
    Arr(Vec<V>),
    Map(Vec<(V, V)>),
    Set(Vec<V>),
    Push(Vec<V>),
    Big(Vec<u8>),
    Verb(Vec<u8>),
    Bool(bool),
}

fn dbl(d: f64) -> V {
    V::Dbl(if d.is_nan() { f64::NAN.to_bits() } else { d.to_bits() })
}

fn bytes_of(v: &Mp) -> Vec<u8> {
    match v {
        Mp::String(s) => s.as_bytes().to_vec(),
        Mp::Binary(b) => b.clone(),
        other => panic!("expected str/bin, got {other:?}"),
    }
}

fn list(v: &Mp) -> Vec<V> {
    v.as_array().expect("array").iter().map(nested).collect()
}

/// The top-level value of a frame of `kind`.
fn top(kind: u8, v: &Mp) -> V {
    match kind {
        0 => V::Simple(bytes_of(v)),
        1 => V::Err(bytes_of(v)),
        2 => V::Int(v.as_i64().expect("int")),
        3 => dbl(v.as_f64().expect("float64")),
        4 => V::Bulk(bytes_of(v)),
        5 => {
            assert!(v.is_nil());
            V::Null
        }
        6 => V::Arr(list(v)),
        7 => V::Map(v.as_map().expect("map").iter().map(|(k, v)| (nested(k), nested(v))).collect()),
        8 => V::Set(list(v)),
        9 => V::Push(list(v)),
        10 => V::Big(bytes_of(v)),
        11 => V::Verb(bytes_of(v)),
        12 => V::Bool(v.as_bool().expect("bool")),
        k => panic!("unknown kind {k}"),
    }
}

fn nested(v: &Mp) -> V {
    match v {
        Mp::String(s) => V::Simple(s.as_bytes().to_vec()),
        Mp::Binary(b) => V::Bulk(b.clone()),
        Mp::Integer(i) => V::Int(i.as_i64().expect("i64")),
        Mp::F64(d) => dbl(*d),
        Mp::Nil => V::Null,
        Mp::Boolean(b) => V::Bool(*b),
        Mp::Array(_) => V::Arr(list(v)),
        Mp::Map(m) => V::Map(m.iter().map(|(k, v)| (nested(k), nested(v))).collect()),
        Mp::Ext(1, payload) => {
            let inner = rmpv::decode::read_value(&mut &payload[..]).expect("set payload");
            V::Set(list(&inner))
        }
        Mp::Ext(2, p) => V::Big(p.clone()),
        Mp::Ext(3, p) => V::Verb(p.clone()),
        Mp::Ext(4, p) => V::Err(p.clone()),
        other => panic!("unexpected nested value {other:?}"),
    }
}

/// Parses one RESP3 reply into a [`V`].
fn resp3(buf: &[u8]) -> V {
    let mut pos = 0;
    let v = resp3_at(buf, &mut pos);
    assert_eq!(pos, buf.len(), "one reply");
    v
}

fn resp3_at(buf: &[u8], pos: &mut usize) -> V {
    let t = buf[*pos];
    let cr = *pos + buf[*pos..].iter().position(|&c| c == b'\r').expect("CRLF");
    let line = buf[*pos + 1..cr].to_vec();
    *pos = cr + 2;
    let num = || std::str::from_utf8(&line).expect("utf8").parse::<i64>().expect("number");
    let blob = |pos: &mut usize| {
        let n = num();
        if n < 0 {
            return None;
        }
        let b = buf[*pos..*pos + n as usize].to_vec();
        *pos += n as usize + 2;
        Some(b)
    };
    match t {
        b'+' => V::Simple(line),
        b'-' => V::Err(line),
        b':' => V::Int(num()),
        b',' => dbl(std::str::from_utf8(&line).expect("utf8").parse().expect("double")),
        b'#' => V::Bool(line == b"t"),
        b'_' => V::Null,
        b'(' => V::Big(line),
        b'$' => blob(pos).map_or(V::Null, V::Bulk),
        b'=' => blob(pos).map_or(V::Null, V::Verb),
        b'!' => blob(pos).map_or(V::Null, V::Err),
        b'*' | b'~' | b'>' => {
            let n = num();
            if n < 0 {
                return V::Null;
            }
            let items: Vec<V> = (0..n).map(|_| resp3_at(buf, pos)).collect();
            match t {
                b'*' => V::Arr(items),
                b'~' => V::Set(items),
                _ => V::Push(items),
            }
        }
        b'%' => {
            let n = num();
            V::Map((0..n).map(|_| (resp3_at(buf, pos), resp3_at(buf, pos))).collect())
        }
        other => panic!("unknown RESP3 type {:?}", other as char),
    }
}

fn start_mp(extra: &[&str]) -> (Server, u16) {
    let mp = free_port();
    let p = mp.to_string();
    let mut args = vec!["--msgpack-port", p.as_str()];
    args.extend_from_slice(extra);
    (start_rustis(&args), mp)
}

fn s(b: &str) -> V {
    V::Simple(b.as_bytes().to_vec())
}
fn b(x: &str) -> V {
    V::Bulk(x.as_bytes().to_vec())
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

#[test]
fn handshake_reply_and_refusals() {
    let (srv, mp) = start_mp(&[]);
    let (mut c, hello) = MpConn::open(mp);
    assert_eq!((hello.id, hello.kind), (None, 7));
    let V::Map(fields) = &hello.value else { panic!("{hello:?}") };
    assert!(fields.contains(&(s("server"), s("rustis"))), "{fields:?}");
    assert!(fields.contains(&(s("proto"), V::Int(1))), "{fields:?}");
    assert_eq!(c.call(&["PING"]).value, s("PONG"));

    // RESP sent to the MessagePack port: one error frame, then closed.
    let mut r = MpConn::raw(mp);
    r.s.write_all(b"*1\r\n$4\r\nPING\r\n").expect("write");
    let e = r.read().expect("error frame");
    assert_eq!((e.id, e.kind), (None, 1));
    assert_eq!(e.value, V::Err(b"ERR Protocol error: expected the handshake [\"rustis\", 1]".to_vec()));
    r.expect_closed();

    let mut r = MpConn::raw(mp);
    r.send_value(&Mp::Array(vec![Mp::from("rustis"), Mp::from(2)]));
    let e = r.read().expect("error frame");
    assert_eq!(e.value, V::Err(b"ERR unsupported protocol version 2 (this server speaks 1)".to_vec()));
    r.expect_closed();

    // The RESP port is unaffected.
    let mut resp = RawConn::connect(srv.port).expect("resp");
    assert_eq!(resp.cmd(&[b"PING"]), b"+PONG\r\n");
}

#[test]
fn pipelined_requests_keep_their_ids_and_types() {
    let (_srv, mp) = start_mp(&[]);
    let (mut c, _) = MpConn::open(mp);
    // Typed arguments: an int field value and a float increment.
    let reqs = vec![
        Mp::Array(vec![Mp::from(900u64), Mp::from("HSET"), Mp::from("h"), Mp::from("f"), Mp::from(-42)]),
        Mp::Array(vec![Mp::from(u64::MAX), Mp::from("HGETALL"), Mp::Binary(b"h".to_vec())]),
        Mp::Array(vec![Mp::from(7u64), Mp::from("INCRBYFLOAT"), Mp::from("x"), Mp::F64(1.5)]),
        Mp::Array(vec![Mp::from(7u64), Mp::from("SADD"), Mp::from("s"), Mp::from("a")]),
        Mp::Array(vec![Mp::from(8u64), Mp::from("SMEMBERS"), Mp::from("s")]),
        Mp::Array(vec![Mp::from(9u64), Mp::from("GET"), Mp::from("missing")]),
        Mp::Array(vec![Mp::from(10u64), Mp::from("ZADD"), Mp::from("z"), Mp::F32(2.5), Mp::from("m")]),
        Mp::Array(vec![Mp::from(11u64), Mp::from("ZSCORE"), Mp::from("z"), Mp::from("m")]),
        Mp::Array(vec![Mp::from(12u64), Mp::from("NOSUCH")]),
        Mp::Array(vec![Mp::from(13u64), Mp::from("CLIENT"), Mp::from("INFO")]),
    ];
    let mut all = Vec::new();
    for r in &reqs {
        all.extend(frame_of(r));
    }
    c.s.write_all(&all).expect("pipeline");
    let got: Vec<Frame> = (0..reqs.len()).map(|_| c.read().expect("reply")).collect();
    let ids: Vec<Option<u64>> = got.iter().map(|f| f.id).collect();
    assert_eq!(ids, [900, u64::MAX, 7, 7, 8, 9, 10, 11, 12, 13].map(Some));
    assert_eq!((got[0].kind, &got[0].value), (2, &V::Int(1)));
    assert_eq!((got[1].kind, &got[1].value), (7, &V::Map(vec![(b("f"), b("-42"))])));
    assert_eq!((got[2].kind, &got[2].value), (4, &b("1.5")));
    assert_eq!((got[4].kind, &got[4].value), (8, &V::Set(vec![b("a")])));
    assert_eq!((got[5].kind, &got[5].value), (5, &V::Null));
    assert_eq!((got[7].kind, &got[7].value), (3, &dbl(2.5)));
    assert_eq!(got[8].kind, 1);
    assert_eq!(got[8].value, V::Err(b"ERR unknown command 'NOSUCH', with args beginning with: ".to_vec()));
    assert_eq!(got[9].kind, 11);
    let V::Verb(line) = &got[9].value else { panic!() };
    let line = String::from_utf8_lossy(line);
    assert!(line.starts_with("txt:id="), "{line}");
    assert!(line.contains(" resp=3 proto=msgpack\n"), "{line}");
    // The connection is still usable after a command error.
    assert_eq!(c.call(&["HELLO", "2"]).value, V::Err(b"NOPROTO unsupported protocol version".to_vec()));
    assert_eq!(c.call(&["HELLO", "3"]).kind, 7);
}

#[test]
fn malformed_frame_answers_earlier_requests_then_errors_and_closes() {
    let (_srv, mp) = start_mp(&[]);
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (frame_of(&Mp::Array(vec![Mp::from(2), Mp::from("GET"), Mp::Nil])), "arguments must be str, bin, int or float"),
        (frame_of(&Mp::from("PING")), "request is not an array"),
        (frame_of(&Mp::Array(vec![Mp::from(-1), Mp::from("PING")])), "request id is not an unsigned integer"),
        (vec![0, 0, 0, 0], "empty frame"),
        (vec![0xff, 0xff, 0xff, 0xff], "frame too large"),
    ];
    for (bad, what) in cases {
        let (mut c, _) = MpConn::open(mp);
        let mut bytes = frame_of(&request(1, &[b"PING"]));
        bytes.extend(bad);
        c.s.write_all(&bytes).expect("write");
        let pong = c.read().expect("PONG first");
        assert_eq!((pong.id, pong.value), (Some(1), s("PONG")));
        let e = c.read().expect("error frame");
        assert_eq!((e.id, e.kind), (None, 1), "{what}");
        assert_eq!(e.value, V::Err(format!("ERR Protocol error: {what}").into_bytes()));
        c.expect_closed();
    }
}

#[test]
fn pushes_blocking_and_transactions() {
    let (srv, mp) = start_mp(&[]);
    let (mut sub, _) = MpConn::open(mp);
    let id = sub.send(&[b"SUBSCRIBE", b"ch1", b"ch2"]);
    for (i, ch) in ["ch1", "ch2"].iter().enumerate() {
        let f = sub.read().expect("subscribe confirmation");
        assert_eq!((f.id, f.kind), (Some(id), 9));
        assert_eq!(f.value, V::Push(vec![b("subscribe"), b(ch), V::Int(i as i64 + 1)]));
    }
    let mut resp = RawConn::connect(srv.port).expect("resp");
    assert_eq!(resp.cmd(&[b"PUBLISH", b"ch2", b"hello"]), b":1\r\n");
    let m = sub.read().expect("message");
    assert_eq!((m.id, m.kind), (None, 9));
    assert_eq!(m.value, V::Push(vec![b("message"), b("ch2"), b("hello")]));
    // A RESP3-style client may run commands while subscribed.
    assert_eq!(sub.call(&["PING"]).value, s("PONG"));

    // A blocked command's reply carries its request id when served.
    let (mut w, _) = MpConn::open(mp);
    let id = w.send(&[b"BLPOP", b"q", b"5"]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while resp.cmd(&[b"CLIENT", b"LIST"]).windows(9).filter(|x| x == b"cmd=blpop").count() == 0 {
        assert!(Instant::now() < deadline, "BLPOP never blocked");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(resp.cmd(&[b"RPUSH", b"q", b"x"]), b":1\r\n");
    let f = w.read().expect("served");
    assert_eq!((f.id, f.kind, f.value), (Some(id), 6, V::Arr(vec![b("q"), b("x")])));

    // MULTI/EXEC: every queued command gets its own id; errors nest as ext 4.
    let (mut t, _) = MpConn::open(mp);
    assert_eq!(t.call(&["MULTI"]).value, s("OK"));
    assert_eq!(t.call(&["SET", "a", "notanumber"]).value, s("QUEUED"));
    assert_eq!(t.call(&["INCR", "a"]).value, s("QUEUED"));
    assert_eq!(t.call(&["EXISTS", "a"]).value, s("QUEUED"));
    let exec = t.call(&["EXEC"]);
    assert_eq!(
        (exec.kind, exec.value),
        (6, V::Arr(vec![s("OK"), V::Err(b"ERR value is not an integer or out of range".to_vec()), V::Int(1)]))
    );
}

#[test]
fn listen_lines_choose_the_listeners() {
    let (a, m) = (free_port(), free_port());
    let (a_s, m_s) = (a.to_string(), m.to_string());
    let srv = start_rustis(&["--listen", "127.0.0.1", &a_s, "resp", "--listen", "127.0.0.1", &m_s, "msgpack"]);
    let mut extra = RawConn::connect(a).expect("extra RESP listener");
    assert_eq!(extra.cmd(&[b"SET", b"k", b"v"]), b"+OK\r\n");
    let (mut c, _) = MpConn::open(m);
    assert_eq!(c.call(&["GET", "k"]).value, b("v"));
    let mut main = RawConn::connect(srv.port).expect("port/bind listener");
    assert_eq!(main.cmd(&[b"GET", b"k"]), b"$1\r\nv\r\n");
}

#[test]
fn metrics_and_client_list_tell_the_protocols_apart() {
    let mport = free_port();
    let mp_s = mport.to_string();
    let (srv, mp) = start_mp(&["--metrics-port", &mp_s]);
    let (mut c, _) = MpConn::open(mp);
    assert_eq!(c.call(&["SET", "k", "v"]).value, s("OK"));
    let mut resp = RawConn::connect(srv.port).expect("resp");
    let list = resp.cmd(&[b"CLIENT", b"LIST"]);
    let text = String::from_utf8_lossy(&list);
    assert_eq!(text.matches(" proto=msgpack").count(), 1, "{text}");
    assert_eq!(text.matches(" resp=2\n").count(), 1, "{text}");
    let info = String::from_utf8_lossy(&resp.cmd(&[b"INFO", b"clients"])).to_string();
    assert!(info.contains("\r\nrustis_resp_clients:1\r\nrustis_msgpack_clients:1\r\n"), "{info}");
    let body = http_get(mport);
    let metric = |series: &str| -> f64 {
        body.lines()
            .find_map(|l| l.strip_prefix(series).and_then(|r| r.strip_prefix(' ')))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{series} missing:\n{body}"))
    };
    assert_eq!(metric("rustis_connected_clients{protocol=\"msgpack\"}"), 1.0);
    assert_eq!(metric("rustis_connected_clients{protocol=\"resp\"}"), 1.0);
    assert_eq!(metric("rustis_connections_received_total{protocol=\"msgpack\"}"), 1.0);
    assert!(metric("rustis_bytes_read_total{protocol=\"msgpack\"}") > 0.0);
    assert!(metric("rustis_bytes_written_total{protocol=\"msgpack\"}") > 0.0);
}

fn http_get(port: u16) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("metrics endpoint");
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").expect("request");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("response");
    out
}

// ---------------------------------------------------------------------------------------
// The differential matrix
// ---------------------------------------------------------------------------------------

/// Every tests/diff script over MessagePack (Rustis) and over RESP3 (redis-server): the
/// decoded replies must be equal. Lines that are about RESP framing (`!raw`, `!send` and
/// the `!read`s after them) and HELLO lines (HELLO 2 is refused on MessagePack) are
/// skipped on both sides. pubsub.redis is left out: its reads are counted for RESP2's
/// subscribed mode (in RESP3 a PUBLISH to one's own channel answers twice); pub/sub over
/// MessagePack is covered by `pushes_blocking_and_transactions`.
#[test]
fn diff_scripts_over_msgpack_match_redis_resp3() {
    let Some(redis) = start_redis(&[]) else {
        assert!(!redis_required(), "redis-server is required (RUSTIS_REQUIRE_REDIS=1)");
        eprintln!("SKIPPED: redis-server not found");
        return;
    };
    let (_srv, mp) = start_mp(&[]);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/diff");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/diff")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "redis"))
        .filter(|p| !p.ends_with("pubsub.redis"))
        .collect();
    paths.sort();
    let mut mismatches = Vec::new();
    let mut compared = 0;
    for p in &paths {
        let name = p.file_name().expect("name").to_string_lossy().to_string();
        let text = std::fs::read_to_string(p).expect("script");
        let mut r = resp3_conn(redis.port);
        let (mut m, _) = MpConn::open(mp);
        for setup in [&["FLUSHALL"][..], &["SELECT", "0"]] {
            let a: Vec<&[u8]> = setup.iter().map(|s| s.as_bytes()).collect();
            r.cmd(&a);
            m.call(setup);
        }
        let mut skipping_reads = false;
        for (no, line) in text.lines().enumerate() {
            let t = line.trim();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            let (args, type_only) = if let Some(d) = t.strip_prefix('!') {
                let (dname, rest) = d.split_once(char::is_whitespace).unwrap_or((d, ""));
                match dname {
                    "raw" | "send" => {
                        skipping_reads = true;
                        let _ = unescape(rest.trim());
                        continue;
                    }
                    "read" | "closed" if skipping_reads => continue,
                    "read" => {
                        let rb = r.try_read_reply().unwrap_or_else(|e| panic!("{name}:{}: !read: redis: {e}", no + 1));
                        let (rv, mv) = (resp3(&rb), m.read().expect("frame").value);
                        compared += 1;
                        if rv != mv {
                            mismatches.push(format!(
                                "{name}:{} !read\n  redis:  {}\n  rustis: {}",
                                no + 1,
                                show(&rv),
                                show(&mv)
                            ));
                        }
                        continue;
                    }
                    "sleep" => {
                        std::thread::sleep(Duration::from_millis(rest.trim().parse().expect("ms")));
                        continue;
                    }
                    "reconnect" => {
                        r = resp3_conn(redis.port);
                        m = MpConn::open(mp).0;
                        continue;
                    }
                    "closed" => {
                        r.expect_closed(Duration::from_secs(5)).expect("redis closed");
                        m.expect_closed();
                        continue;
                    }
                    "noreply-compare" => (split_args(rest.trim()).expect("args"), true),
                    other => panic!("{name}:{}: unknown directive !{other}", no + 1),
                }
            } else {
                (split_args(t).expect("args"), false)
            };
            skipping_reads = false;
            if args.first().is_some_and(|a| a.eq_ignore_ascii_case(b"HELLO")) {
                continue;
            }
            let a: Vec<&[u8]> = args.iter().map(|x| x.as_slice()).collect();
            let rv = match r.try_cmd(&a) {
                Ok(bytes) => resp3(&bytes),
                Err(e) => panic!("{name}:{}: {t}: redis: {e}", no + 1),
            };
            let id = m.send(&a);
            let f = m.read().unwrap_or_else(|| panic!("{name}:{}: rustis closed the connection", no + 1));
            compared += 1;
            let same =
                if type_only { std::mem::discriminant(&rv) == std::mem::discriminant(&f.value) } else { rv == f.value };
            if f.id != Some(id) && !matches!(f.value, V::Push(_)) {
                mismatches.push(format!("{name}:{}: {t}: reply id {:?}, expected {id}", no + 1, f.id));
            }
            if !same {
                mismatches.push(format!(
                    "{name}:{}: {t}\n  redis:  {}\n  rustis: {}",
                    no + 1,
                    show(&rv),
                    show(&f.value)
                ));
            }
        }
    }
    eprintln!("compared {compared} replies over {} scripts", paths.len());
    assert!(compared > 1000, "only {compared} replies compared");
    assert!(mismatches.is_empty(), "{} mismatches:\n{}", mismatches.len(), mismatches.join("\n"));
}

/// A compact rendering: `"bulk"`, `+simple`, `-err`, `~[set]`, `>[push]`, `{k: v}`,
/// `=verbatim`, `(big`, `,double`.
fn show(v: &V) -> String {
    let list = |items: &[V]| items.iter().map(show).collect::<Vec<_>>().join(", ");
    match v {
        V::Simple(x) => format!("+{}", String::from_utf8_lossy(x)),
        V::Err(x) => format!("-{}", String::from_utf8_lossy(x)),
        V::Int(i) => format!(":{i}"),
        V::Dbl(bits) => format!(",{}", f64::from_bits(*bits)),
        V::Bulk(x) => format!("{:?}", String::from_utf8_lossy(x)),
        V::Null => "null".into(),
        V::Arr(items) => format!("[{}]", list(items)),
        V::Set(items) => format!("~[{}]", list(items)),
        V::Push(items) => format!(">[{}]", list(items)),
        V::Map(pairs) => {
            format!(
                "{{{}}}",
                pairs.iter().map(|(k, v)| format!("{}: {}", show(k), show(v))).collect::<Vec<_>>().join(", ")
            )
        }
        V::Big(x) => format!("({}", String::from_utf8_lossy(x)),
        V::Verb(x) => format!("={:?}", String::from_utf8_lossy(x)),
        V::Bool(b) => format!("#{b}"),
    }
}

fn resp3_conn(port: u16) -> RawConn {
    let mut r = RawConn::connect(port).expect("redis");
    let hello = r.cmd(&[b"HELLO", b"3"]);
    assert!(hello.starts_with(b"%"), "HELLO 3");
    r
}
