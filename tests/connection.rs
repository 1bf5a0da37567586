//! Connection-level behaviour on raw sockets: HELLO/RESP3, CLIENT subcommands (names,
//! ids, LIST/INFO format, KILL), QUIT, SELECT, RESET.
//!
//! Expectations are Redis 7.0's (`RUSTIS_TEST_TARGET=redis` runs them against redis-server).

mod common;
mod support;

use common::{render, RawConn};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use support::start;

/// Field names of a CLIENT LIST / CLIENT INFO line in Redis 7.0, in order.
const CLIENT_FIELDS: &[&str] = &[
    "id",
    "addr",
    "laddr",
    "fd",
    "name",
    "age",
    "idle",
    "flags",
    "db",
    "sub",
    "psub",
    "ssub",
    "multi",
    "qbuf",
    "qbuf-free",
    "argv-mem",
    "multi-mem",
    "rbs",
    "rbp",
    "obl",
    "oll",
    "omem",
    "tot-mem",
    "events",
    "cmd",
    "user",
    "redir",
    "resp",
];

/// Payload of a RESP2 bulk reply (panics on anything else).
fn bulk(reply: &[u8]) -> Vec<u8> {
    assert_eq!(reply.first(), Some(&b'$'), "expected a bulk reply, got {}", render(reply));
    let nl = reply.windows(2).position(|w| w == b"\r\n").unwrap();
    let n: usize = std::str::from_utf8(&reply[1..nl]).unwrap().parse().unwrap();
    let body = &reply[nl + 2..];
    assert_eq!(body.len(), n + 2, "bulk length mismatch in {}", render(reply));
    body[..n].to_vec()
}

/// Payload of a RESP3 verbatim reply `=N\r\ntxt:...\r\n`, without the `txt:` prefix.
fn verbatim(reply: &[u8]) -> Vec<u8> {
    assert_eq!(reply.first(), Some(&b'='), "expected a verbatim reply, got {}", render(reply));
    let nl = reply.windows(2).position(|w| w == b"\r\n").unwrap();
    let n: usize = std::str::from_utf8(&reply[1..nl]).unwrap().parse().unwrap();
    let body = &reply[nl + 2..];
    assert_eq!(body.len(), n + 2, "verbatim length mismatch in {}", render(reply));
    assert_reply!(&body[..4], b"txt:", "verbatim format must be txt: {}", render(reply));
    body[4..n].to_vec()
}

fn int(reply: &[u8]) -> i64 {
    assert_eq!(reply.first(), Some(&b':'), "expected an integer reply, got {}", render(reply));
    std::str::from_utf8(&reply[1..reply.len() - 2]).unwrap().parse().unwrap()
}

/// Parses one `k=v k=v ...` client line, checking the field names and their order.
fn parse_client_line(line: &str) -> HashMap<String, String> {
    let mut names = Vec::new();
    let mut map = HashMap::new();
    for part in line.split(' ') {
        let (k, v) = part.split_once('=').unwrap_or_else(|| panic!("field without '=' in {line:?}"));
        names.push(k.to_string());
        map.insert(k.to_string(), v.to_string());
    }
    assert_eq!(names, CLIENT_FIELDS, "CLIENT field names/order differ from Redis 7.0 in {line:?}");
    map
}

fn client_id(c: &mut RawConn) -> i64 {
    int(&c.cmd_str(&["CLIENT", "ID"]))
}

fn client_info(c: &mut RawConn) -> HashMap<String, String> {
    let text = String::from_utf8(bulk(&c.cmd_str(&["CLIENT", "INFO"]))).unwrap();
    assert!(text.ends_with('\n') && !text.ends_with("\n\n"), "CLIENT INFO must end with one \\n: {text:?}");
    parse_client_line(text.trim_end_matches('\n'))
}

/// The expected HELLO reply tail after `id`: mode, role, modules.
const HELLO_TAIL: &[u8] = b"$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n";

fn check_hello(reply: &[u8], proto: u8, id: i64) {
    let head: &[u8] = if proto == 3 { b"%7\r\n" } else { b"*14\r\n" };
    assert!(reply.starts_with(head), "HELLO {proto} reply header: {}", render(reply));
    let rest = &reply[head.len()..];
    assert!(rest.starts_with(b"$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$"), "HELLO {proto}: {}", render(reply));
    let want_mid = format!("$5\r\nproto\r\n:{proto}\r\n$2\r\nid\r\n:{id}\r\n");
    let mid = reply.windows(want_mid.len()).position(|w| w == want_mid.as_bytes());
    assert!(mid.is_some(), "HELLO {proto} reply lacks {:?}: {}", want_mid, render(reply));
    assert!(reply.ends_with(HELLO_TAIL), "HELLO {proto} reply tail: {}", render(reply));
}

#[test]
fn hello_switches_protocol() {
    let s = start(&[]);
    let mut c = s.conn();
    let id = client_id(&mut c);
    // RESP2 by default.
    assert_reply!(c.cmd_str(&["GET", "missing"]), b"$-1\r\n");

    let r = c.cmd_str(&["HELLO", "3"]);
    check_hello(&r, 3, id);
    // RESP3 null, map, verbatim, double-free bulk, set of replies.
    assert_reply!(c.cmd_str(&["GET", "missing"]), b"_\r\n");
    assert_reply!(c.cmd_str(&["CONFIG", "GET", "databases"]), b"%1\r\n$9\r\ndatabases\r\n$2\r\n16\r\n");
    assert_reply!(c.cmd_str(&["MGET", "missing", "missing2"]), b"*2\r\n_\r\n_\r\n");
    assert_reply!(c.cmd_str(&["SET", "k", "v"]), b"+OK\r\n");
    assert_reply!(c.cmd_str(&["GET", "k"]), b"$1\r\nv\r\n");
    assert_reply!(c.cmd_str(&["SET", "k", "w", "NX"]), b"_\r\n");
    assert_reply!(c.cmd_str(&["OBJECT", "ENCODING", "missing"]), b"_\r\n");
    let info = verbatim(&c.cmd_str(&["CLIENT", "INFO"]));
    let fields = parse_client_line(String::from_utf8(info).unwrap().trim_end_matches('\n'));
    assert_eq!(fields["resp"], "3");
    // HELLO with no arguments replies in the current protocol.
    let r = c.cmd_str(&["HELLO"]);
    check_hello(&r, 3, id);

    // Back to RESP2.
    let r = c.cmd_str(&["HELLO", "2"]);
    check_hello(&r, 2, id);
    assert_reply!(c.cmd_str(&["GET", "missing"]), b"$-1\r\n");
    assert_reply!(c.cmd_str(&["CONFIG", "GET", "databases"]), b"*2\r\n$9\r\ndatabases\r\n$2\r\n16\r\n");
    assert_eq!(client_info(&mut c)["resp"], "2");

    // Bad versions.
    assert_reply!(c.cmd_str(&["HELLO", "4"]), b"-NOPROTO unsupported protocol version\r\n");
    assert_reply!(c.cmd_str(&["HELLO", "1"]), b"-NOPROTO unsupported protocol version\r\n");
    assert_reply!(c.cmd_str(&["HELLO", "abc"]), b"-ERR Protocol version is not an integer or out of range\r\n");
    // Still RESP2 after the failed HELLOs.
    assert_reply!(c.cmd_str(&["GET", "missing"]), b"$-1\r\n");

    // HELLO 3 SETNAME sets the name.
    let r = c.cmd_str(&["HELLO", "3", "SETNAME", "hello-name"]);
    check_hello(&r, 3, id);
    assert_reply!(c.cmd_str(&["CLIENT", "GETNAME"]), b"$10\r\nhello-name\r\n");
    // A new connection starts in RESP2 again.
    let mut c2 = s.conn();
    assert_reply!(c2.cmd_str(&["GET", "missing"]), b"$-1\r\n");
}

#[test]
fn client_setname_getname_id() {
    let s = start(&[]);
    let mut a = s.conn();
    let mut b = s.conn();
    let ida = client_id(&mut a);
    let idb = client_id(&mut b);
    assert!(ida > 0 && idb > ida, "client ids must be positive and increasing: {ida}, {idb}");
    assert_eq!(client_id(&mut a), ida, "CLIENT ID must be stable");

    assert_reply!(a.cmd_str(&["CLIENT", "GETNAME"]), b"$-1\r\n");
    assert_reply!(a.cmd_str(&["CLIENT", "SETNAME", "alpha"]), b"+OK\r\n");
    assert_reply!(a.cmd_str(&["CLIENT", "GETNAME"]), b"$5\r\nalpha\r\n");
    assert_reply!(b.cmd_str(&["CLIENT", "GETNAME"]), b"$-1\r\n", "names are per connection");
    for bad in ["a b", "a\nb", "caf\u{e9}"] {
        assert_reply!(
            a.cmd_str(&["CLIENT", "SETNAME", bad]),
            b"-ERR Client names cannot contain spaces, newlines or special characters.\r\n",
            "SETNAME {bad:?}"
        );
    }
    assert_reply!(a.cmd_str(&["CLIENT", "GETNAME"]), b"$5\r\nalpha\r\n");
    // An empty name clears it.
    assert_reply!(a.cmd_str(&["CLIENT", "SETNAME", ""]), b"+OK\r\n");
    assert_reply!(a.cmd_str(&["CLIENT", "GETNAME"]), b"$-1\r\n");
    assert_reply!(
        a.cmd_str(&["CLIENT", "SETNAME"]),
        b"-ERR wrong number of arguments for 'client|setname' command\r\n"
    );
    assert_reply!(a.cmd_str(&["CLIENT", "FOO"]), b"-ERR unknown subcommand 'FOO'. Try CLIENT HELP.\r\n");
    let help = a.cmd_str(&["CLIENT", "HELP"]);
    assert!(help.starts_with(b"*"), "CLIENT HELP: {}", render(&help));
    assert!(
        help.windows(b"CLIENT <subcommand>".len()).any(|w| w == b"CLIENT <subcommand>"),
        "CLIENT HELP: {}",
        render(&help)
    );
}

#[test]
fn client_info_and_list_format() {
    let s = start(&[]);
    let mut a = s.conn();
    let mut b = s.conn();
    let ida = client_id(&mut a);
    let idb = client_id(&mut b);
    assert_reply!(a.cmd_str(&["CLIENT", "SETNAME", "conn-a"]), b"+OK\r\n");
    assert_reply!(a.cmd_str(&["SELECT", "3"]), b"+OK\r\n");

    let info = client_info(&mut a);
    assert_eq!(info["id"], ida.to_string());
    let local = a.stream().local_addr().unwrap();
    assert_eq!(info["addr"], local.to_string(), "addr= must be the client's address");
    assert_eq!(info["laddr"], format!("127.0.0.1:{}", s.port), "laddr= must be the server's address");
    assert!(info["fd"].parse::<i64>().unwrap() > 0, "fd={}", info["fd"]);
    assert_eq!(info["name"], "conn-a");
    assert!(info["age"].parse::<u64>().unwrap() < 5);
    assert!(info["idle"].parse::<u64>().unwrap() < 5);
    assert_eq!(info["flags"], "N");
    assert_eq!(info["db"], "3");
    assert_eq!(info["sub"], "0");
    assert_eq!(info["psub"], "0");
    assert_eq!(info["multi"], "-1");
    assert_eq!(info["cmd"], "client|info");
    assert_eq!(info["user"], "default");
    assert_eq!(info["resp"], "2");
    for numeric in ["qbuf", "qbuf-free", "argv-mem", "multi-mem", "rbs", "rbp", "obl", "oll", "omem", "tot-mem"] {
        assert!(info[numeric].parse::<u64>().is_ok(), "{numeric}={} is not a number", info[numeric]);
    }

    // CLIENT LIST: one line per connection, each with the same format.
    let list = String::from_utf8(bulk(&b.cmd_str(&["CLIENT", "LIST"]))).unwrap();
    assert!(list.ends_with('\n'), "CLIENT LIST must end with \\n: {list:?}");
    let lines: Vec<HashMap<String, String>> = list.lines().map(parse_client_line).collect();
    let ids: Vec<i64> = lines.iter().map(|l| l["id"].parse().unwrap()).collect();
    assert!(ids.contains(&ida) && ids.contains(&idb), "CLIENT LIST ids {ids:?} lack {ida}/{idb}");
    let la = lines.iter().find(|l| l["id"] == ida.to_string()).unwrap();
    assert_eq!(la["name"], "conn-a");
    assert_eq!(la["db"], "3");
    assert_eq!(la["cmd"], "client|info", "cmd= is the last command of that client");
    let lb = lines.iter().find(|l| l["id"] == idb.to_string()).unwrap();
    assert_eq!(lb["cmd"], "client|list");
    assert_eq!(lb["addr"], b.stream().local_addr().unwrap().to_string());

    // CLIENT LIST ID filters; TYPE normal lists every normal client.
    let one = String::from_utf8(bulk(&b.cmd_str(&["CLIENT", "LIST", "ID", &ida.to_string()]))).unwrap();
    assert_eq!(one.lines().count(), 1, "CLIENT LIST ID {ida}: {one:?}");
    assert_eq!(parse_client_line(one.trim_end())["id"], ida.to_string());
    let normal = String::from_utf8(bulk(&b.cmd_str(&["CLIENT", "LIST", "TYPE", "normal"]))).unwrap();
    assert!(normal.lines().count() >= 2);
    assert_reply!(b.cmd_str(&["CLIENT", "LIST", "TYPE", "bogus"]), b"-ERR Unknown client type 'bogus'\r\n".to_vec());
    assert_reply!(b.cmd_str(&["CLIENT", "LIST", "ID", "x"]), b"-ERR Invalid client ID\r\n".to_vec());

    // A closed connection disappears from CLIENT LIST.
    drop(a);
    let gone = support::wait_until(Duration::from_secs(3), Duration::from_millis(20), || {
        let list = String::from_utf8(bulk(&b.cmd_str(&["CLIENT", "LIST"]))).unwrap();
        !list.lines().any(|l| l.starts_with(&format!("id={ida} ")))
    });
    assert!(gone, "closed client {ida} still listed");
}

#[test]
fn client_kill_closes_other_connection() {
    let s = start(&[]);
    let mut killer = s.conn();
    let mut victim = s.conn();
    let mut bystander = s.conn();
    let vid = client_id(&mut victim);
    assert_reply!(victim.cmd_str(&["PING"]), b"+PONG\r\n");

    assert_reply!(killer.cmd_str(&["CLIENT", "KILL", "ID", &vid.to_string()]), b":1\r\n");
    let t0 = Instant::now();
    victim.expect_closed(Duration::from_secs(3)).unwrap_or_else(|e| panic!("killed client not closed: {e}"));
    assert!(t0.elapsed() < Duration::from_secs(3));
    // Killing it again finds nobody.
    assert_reply!(killer.cmd_str(&["CLIENT", "KILL", "ID", &vid.to_string()]), b":0\r\n");
    assert_reply!(killer.cmd_str(&["CLIENT", "KILL", "ID", "99999999"]), b":0\r\n");
    assert_reply!(killer.cmd_str(&["CLIENT", "KILL", "ID", "x"]), b"-ERR client-id should be greater than 0\r\n");
    // By default SKIPME yes: a client does not kill itself.
    let kid = client_id(&mut killer);
    assert_reply!(killer.cmd_str(&["CLIENT", "KILL", "ID", &kid.to_string()]), b":0\r\n");
    // Old form: CLIENT KILL ip:port.
    assert_reply!(killer.cmd_str(&["CLIENT", "KILL", "1.2.3.4:5"]), b"-ERR No such client\r\n");
    let baddr = bystander.stream().local_addr().unwrap().to_string();
    let mut other = s.conn();
    let oaddr = other.stream().local_addr().unwrap().to_string();
    assert_reply!(other.cmd_str(&["PING"]), b"+PONG\r\n");
    assert_reply!(killer.cmd_str(&["CLIENT", "KILL", &oaddr]), b"+OK\r\n");
    other.expect_closed(Duration::from_secs(3)).unwrap_or_else(|e| panic!("CLIENT KILL addr: {e}"));
    // New form with ADDR.
    assert_reply!(killer.cmd_str(&["CLIENT", "KILL", "ADDR", &baddr]), b":1\r\n");
    bystander.expect_closed(Duration::from_secs(3)).unwrap_or_else(|e| panic!("CLIENT KILL ADDR: {e}"));
    // The killer is unaffected.
    assert_reply!(killer.cmd_str(&["PING"]), b"+PONG\r\n");
    // SKIPME no: a client can kill itself; it gets its reply first.
    assert_reply!(killer.cmd_str(&["CLIENT", "KILL", "ID", &kid.to_string(), "SKIPME", "no"]), b":1\r\n");
    killer.expect_closed(Duration::from_secs(3)).unwrap_or_else(|e| panic!("self-kill: {e}"));
    let mut fresh = s.conn();
    assert_reply!(fresh.cmd_str(&["PING"]), b"+PONG\r\n");
}

#[test]
fn quit_replies_ok_and_closes() {
    let s = start(&[]);
    let mut c = s.conn();
    assert_reply!(c.cmd_str(&["SET", "k", "v"]), b"+OK\r\n");
    assert_reply!(c.cmd_str(&["QUIT"]), b"+OK\r\n");
    c.expect_closed(Duration::from_secs(3)).unwrap_or_else(|e| panic!("after QUIT: {e}"));
    // Commands pipelined after QUIT are not executed.
    let mut c = s.conn();
    c.send(b"QUIT\r\nSET after quit\r\n");
    assert_reply!(c.read_reply(), b"+OK\r\n");
    c.expect_closed(Duration::from_secs(3)).unwrap_or_else(|e| panic!("after inline QUIT: {e}"));
    let mut c = s.conn();
    assert_reply!(c.cmd_str(&["GET", "after"]), b"$-1\r\n", "command after QUIT was executed");
    assert_reply!(c.cmd_str(&["GET", "k"]), b"$1\r\nv\r\n");
}

#[test]
fn select_range() {
    let s = start(&[]);
    let mut c = s.conn();
    for bad in ["16", "-1", "2147483647", "-2147483648"] {
        assert_reply!(c.cmd_str(&["SELECT", bad]), b"-ERR DB index is out of range\r\n", "SELECT {bad}");
    }
    assert_reply!(c.cmd_str(&["SELECT", "abc"]), b"-ERR value is not an integer or out of range\r\n");
    assert_reply!(
        c.cmd_str(&["SELECT", "100000000000"]),
        b"-ERR value is out of range, value must between -2147483648 and 2147483647\r\n"
    );
    assert_reply!(c.cmd_str(&["SELECT"]), b"-ERR wrong number of arguments for 'select' command\r\n");
    assert_reply!(c.cmd_str(&["SELECT", "15"]), b"+OK\r\n");
    assert_reply!(c.cmd_str(&["SET", "k", "in15"]), b"+OK\r\n");
    assert_reply!(c.cmd_str(&["SELECT", "0"]), b"+OK\r\n");
    assert_reply!(c.cmd_str(&["GET", "k"]), b"$-1\r\n");
    assert_reply!(c.cmd_str(&["SELECT", "15"]), b"+OK\r\n");
    assert_reply!(c.cmd_str(&["GET", "k"]), b"$4\r\nin15\r\n");
    // With --databases 4 the range shrinks.
    let s4 = start(&["--databases", "4"]);
    let mut c = s4.conn();
    assert_reply!(c.cmd_str(&["SELECT", "3"]), b"+OK\r\n");
    assert_reply!(c.cmd_str(&["SELECT", "4"]), b"-ERR DB index is out of range\r\n");
}

#[test]
fn reset_restores_defaults() {
    let s = start(&[]);
    let mut c = s.conn();
    let id = client_id(&mut c);
    assert_reply!(c.cmd_str(&["SELECT", "5"]), b"+OK\r\n");
    assert_reply!(c.cmd_str(&["CLIENT", "SETNAME", "before-reset"]), b"+OK\r\n");
    check_hello(&c.cmd_str(&["HELLO", "3"]), 3, id);
    assert_reply!(c.cmd_str(&["SET", "k5", "v"]), b"+OK\r\n");

    assert_reply!(c.cmd_str(&["RESET"]), b"+RESET\r\n");
    // Back to RESP2, db 0, no name; same connection and id.
    assert_reply!(c.cmd_str(&["GET", "missing"]), b"$-1\r\n");
    assert_reply!(c.cmd_str(&["CLIENT", "GETNAME"]), b"$-1\r\n");
    assert_reply!(c.cmd_str(&["GET", "k5"]), b"$-1\r\n", "RESET must select db 0");
    let info = client_info(&mut c);
    assert_eq!(info["db"], "0");
    assert_eq!(info["resp"], "2");
    assert_eq!(info["name"], "");
    assert_eq!(info["id"], id.to_string());
    assert_reply!(c.cmd_str(&["RESET", "x"]), b"-ERR wrong number of arguments for 'reset' command\r\n");
}

#[test]
fn ping_and_echo() {
    let s = start(&[]);
    let mut c = s.conn();
    assert_reply!(c.cmd_str(&["PING"]), b"+PONG\r\n");
    assert_reply!(c.cmd_str(&["ping", "hi there"]), b"$8\r\nhi there\r\n");
    assert_reply!(c.cmd_str(&["PING", "a", "b"]), b"-ERR wrong number of arguments for 'ping' command\r\n");
    assert_reply!(c.cmd(&[b"ECHO", b"\0\r\n"]), b"$3\r\n\0\r\n\r\n");
    assert_reply!(c.cmd_str(&["ECHO"]), b"-ERR wrong number of arguments for 'echo' command\r\n");
    // Inline PING.
    c.send(b"PING\r\n");
    assert_reply!(c.read_reply(), b"+PONG\r\n");
}

/// CLIENT REPLY OFF / SKIP / ON: silenced replies are never sent; NO-EVICT is accepted.
#[test]
fn client_reply_off_skip_on() {
    let server = support::start(&[]);
    let mut c = server.conn();
    let mut batch = Vec::new();
    for cmd in [
        &["CLIENT", "REPLY", "OFF"][..],
        &["SET", "a", "1"],
        &["INCR", "a"],
        &["CLIENT", "REPLY", "ON"],
        &["GET", "a"],
        &["CLIENT", "REPLY", "SKIP"],
        &["INCR", "a"],
        &["GET", "a"],
        &["CLIENT", "NO-EVICT", "on"],
        &["CLIENT", "REPLY", "maybe"],
    ] {
        let args: Vec<&[u8]> = cmd.iter().map(|a| a.as_bytes()).collect();
        batch.extend(common::encode_command(&args));
    }
    c.send(&batch);
    let mut got = Vec::new();
    for _ in 0..5 {
        got.extend(c.read_reply());
    }
    assert_eq!(common::render(&got), common::render(b"+OK\r\n$1\r\n2\r\n$1\r\n3\r\n+OK\r\n-ERR syntax error\r\n"));
}

/// `blocked_clients` from INFO clients.
fn blocked_clients(c: &mut RawConn) -> usize {
    let info = String::from_utf8_lossy(&bulk(&c.cmd_str(&["INFO", "clients"]))).to_string();
    info.lines().find_map(|l| l.strip_prefix("blocked_clients:")).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}

/// CLIENT PAUSE WRITE (Redis 7.0 pause.tcl): reads run at once; a write is held (and
/// counted in blocked_clients) until CLIENT UNPAUSE, then runs and is answered; EXEC of a
/// transaction with a queued write is held too, a read-only one is not.
#[test]
fn client_pause_write_holds_writes_until_unpause() {
    let s = start(&[]);
    let mut admin = s.conn();
    let mut w = s.conn();
    let mut tx = s.conn();
    w.set_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(admin.cmd_str(&["CLIENT", "PAUSE", "100000", "WRITE"]), b"+OK\r\n");
    assert_eq!(w.cmd_str(&["GET", "k"]), b"$-1\r\n");
    assert_eq!(w.cmd_str(&["PING"]), b"+PONG\r\n");
    assert_eq!(blocked_clients(&mut admin), 0);
    w.send(&common::encode_command(&[b"SET", b"k", b"v"]));
    // A read-only transaction goes through; one with a write waits at EXEC.
    assert_eq!(tx.cmd_str(&["MULTI"]), b"+OK\r\n");
    assert_eq!(tx.cmd_str(&["GET", "k"]), b"+QUEUED\r\n");
    assert_eq!(tx.cmd_str(&["EXEC"]), b"*1\r\n$-1\r\n");
    assert!(
        support::wait_until(Duration::from_secs(5), Duration::from_millis(10), || blocked_clients(&mut admin) == 1),
        "the paused SET is not counted as blocked"
    );
    // Still held a while later, and the key is untouched.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(admin.cmd_str(&["GET", "k"]), b"$-1\r\n");
    assert_eq!(admin.cmd_str(&["CLIENT", "UNPAUSE"]), b"+OK\r\n");
    assert_eq!(w.read_reply(), b"+OK\r\n");
    assert_eq!(admin.cmd_str(&["GET", "k"]), b"$1\r\nv\r\n");
    assert_eq!(blocked_clients(&mut admin), 0);
}

/// CLIENT PAUSE (ALL by default) with a timeout: every command waits until the pause
/// ends by itself, including the pausing client's own next command (even a shorter WRITE
/// pause, which does not shorten or weaken the first).
#[test]
fn client_pause_all_ends_after_timeout() {
    let s = start(&[]);
    let mut a = s.conn();
    let mut b = s.conn();
    a.set_timeout(Duration::from_secs(10)).unwrap();
    b.set_timeout(Duration::from_secs(10)).unwrap();
    let t = Instant::now();
    assert_eq!(a.cmd_str(&["CLIENT", "PAUSE", "400"]), b"+OK\r\n");
    assert_eq!(a.cmd_str(&["CLIENT", "PAUSE", "10", "WRITE"]), b"+OK\r\n");
    let waited = t.elapsed();
    assert!(waited >= Duration::from_millis(300), "the pauser's next command ran after {waited:?} of a 400 ms pause");
    assert_eq!(a.cmd_str(&["CLIENT", "PAUSE", "400"]), b"+OK\r\n");
    let t = Instant::now();
    assert_eq!(b.cmd_str(&["GET", "k"]), b"$-1\r\n");
    let waited = t.elapsed();
    assert!(waited >= Duration::from_millis(300), "GET ran after {waited:?} of a 400 ms pause");
    // Over: nothing waits now.
    assert_eq!(a.cmd_str(&["SET", "k", "1"]), b"+OK\r\n");
    assert_eq!(b.cmd_str(&["GET", "k"]), b"$1\r\n1\r\n");
}

/// CLIENT PAUSE argument errors in Redis 7.0's words and order (mode before timeout);
/// a syntax error is answered at once even while paused.
#[test]
fn client_pause_errors() {
    let s = start(&[]);
    let mut c = s.conn();
    let cases: &[(&[&str], &str)] = &[
        (&["CLIENT", "PAUSE", "10", "foo"], "-ERR CLIENT PAUSE mode must be WRITE or ALL\r\n"),
        (&["CLIENT", "PAUSE", "abc", "foo"], "-ERR CLIENT PAUSE mode must be WRITE or ALL\r\n"),
        (&["CLIENT", "PAUSE", "abc"], "-ERR timeout is not an integer or out of range\r\n"),
        (&["CLIENT", "PAUSE", "-1", "WRITE"], "-ERR timeout is negative\r\n"),
        (
            &["CLIENT", "PAUSE", "10", "WRITE", "x"],
            "-ERR unknown subcommand or wrong number of arguments for 'PAUSE'. Try CLIENT HELP.\r\n",
        ),
        (&["CLIENT", "PAUSE"], "-ERR wrong number of arguments for 'client|pause' command\r\n"),
        (&["CLIENT", "UNPAUSE", "x"], "-ERR wrong number of arguments for 'client|unpause' command\r\n"),
        (&["CLIENT", "PAUSE", "0"], "+OK\r\n"),
        (&["CLIENT", "UNPAUSE"], "+OK\r\n"),
    ];
    for (args, want) in cases {
        let got = c.cmd_str(args);
        assert_eq!(render(&got), render(want.as_bytes()), "{args:?}");
    }
    assert_eq!(c.cmd_str(&["CLIENT", "PAUSE", "100000", "WRITE"]), b"+OK\r\n");
    assert_eq!(render(&c.cmd_str(&["SET", "k"])), render(b"-ERR wrong number of arguments for 'set' command\r\n"));
    assert_eq!(c.cmd_str(&["CLIENT", "UNPAUSE"]), b"+OK\r\n");
}

/// Under CLIENT PAUSE WRITE keys do not expire: an expired key reads as missing but
/// stays in the keyspace (neither lazy nor active expiry deletes it) until the pause ends.
#[test]
fn client_pause_write_holds_expiry() {
    let s = start(&[]);
    let mut c = s.conn();
    assert_eq!(c.cmd_str(&["SET", "k", "v", "PX", "50"]), b"+OK\r\n");
    assert_eq!(c.cmd_str(&["CLIENT", "PAUSE", "100000", "WRITE"]), b"+OK\r\n");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(c.cmd_str(&["GET", "k"]), b"$-1\r\n");
    assert_eq!(c.cmd_str(&["DBSIZE"]), b":1\r\n");
    assert_eq!(c.cmd_str(&["CLIENT", "UNPAUSE"]), b"+OK\r\n");
    assert_eq!(c.cmd_str(&["GET", "k"]), b"$-1\r\n");
    assert_eq!(c.cmd_str(&["DBSIZE"]), b":0\r\n");
}
