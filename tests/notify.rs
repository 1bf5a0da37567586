//! Keyspace notifications (`notify-keyspace-events`), differential against redis-server
//! 7.0: every scenario runs the same commands on a real `redis-server` and on
//! `rustis-server`, and both the command replies and the whole stream of `pmessage`s a
//! `PSUBSCRIBE __key*@*__:*` subscriber receives must be identical, byte for byte.
//!
//! ```text
//! cargo test --test notify
//! RUSTIS_REQUIRE_REDIS=1 cargo test --test notify   # fail (not skip) without redis-server
//! ```
//!
//! # Harness
//!
//! [`Diff::start`] starts both servers, and on each opens a command connection and a
//! subscriber connection (`PSUBSCRIBE __key*@*__:*`). [`Diff::check`] runs a script: each
//! line is sent to both servers and the two replies must match (a mismatch is recorded
//! and the script goes on, so one report shows everything). After every command (not
//! while a `MULTI` is open) the command connection publishes a marker,
//! `PUBLISH __keymark@-__:<step> <command line>`; the marker channel matches the same
//! pattern, so the subscriber stream shows which command produced which events. At the end
//! an `__keymark@-__:end` marker is published, the subscribers read up to it, and then keep
//! reading until 300 ms pass with nothing new (5 s at most), so extra events published
//! late are caught too. The two message lists (markers included) must be identical; on a
//! mismatch the report names the first difference and the command it belongs to, lists
//! every step whose events differ, and prints both lists.
//!
//! `RUSTIS_NOTIFY_SHOW=1` prints redis-server's message list of every scenario.
//!
//! Script lines are split like `redis-cli` does. `~CMD ...` runs a command whose reply
//! is random (not compared); `!sleep <ms>` sleeps; `!dump <key>` runs `DUMP <key>` on
//! each server and keeps that server's payload, which `{dump}` in a later line stands for;
//! `!block CMD ...` sends a blocking command on a new connection and waits until the
//! server counts it as blocked, and `!unblock` reads (and compares) the reply of the
//! oldest such command.

mod common;

use common::{render, split_args, RawConn, Server};
use std::io;
use std::time::{Duration, Instant};

/// The pattern the subscriber listens to (keyspace, keyevent and the harness markers).
const PATTERN: &str = "__key*@*__:*";
/// Channel prefix of the harness's step markers.
const MARK: &str = "__keymark@-__:";
/// A run ends when the subscribers saw nothing new for this long...
const IDLE: Duration = Duration::from_millis(300);
/// ...or after this long in total.
const COLLECT_LIMIT: Duration = Duration::from_secs(5);
/// How long an actively expired key may take to produce its `expired` event.
const ACTIVE_EXPIRE_LIMIT: Duration = Duration::from_secs(2);

// ---------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------

/// One server with its command connection and its subscriber.
struct Side {
    label: &'static str,
    server: Server,
    con: RawConn,
    sub: RawConn,
    /// Payload of the last `!dump` on this server.
    dump: Vec<u8>,
    /// Messages (raw frames) received by the subscriber in the current run.
    msgs: Vec<Vec<u8>>,
    /// Connections parked on a blocking command by `!block`, oldest first.
    blocked: Vec<RawConn>,
}

impl Side {
    fn new(label: &'static str, server: Server) -> Side {
        let mut con = server.conn();
        con.set_timeout(Duration::from_secs(5)).expect("set_timeout");
        let mut sub = server.conn();
        let confirm = sub.cmd_str(&["PSUBSCRIBE", PATTERN]);
        let expected = format!("*3\r\n$10\r\npsubscribe\r\n${}\r\n{PATTERN}\r\n:1\r\n", PATTERN.len()).into_bytes();
        assert_eq!(confirm, expected, "{label}: PSUBSCRIBE confirmation {}", render(&confirm));
        Side { label, server, con, sub, dump: Vec::new(), msgs: Vec::new(), blocked: Vec::new() }
    }

    /// Reads messages until one satisfies `pred` (`true`) or `limit` passes (`false`).
    fn read_until(&mut self, limit: Duration, mut pred: impl FnMut(&[u8]) -> bool) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            self.sub.set_timeout(deadline - now).expect("set_timeout");
            match self.sub.try_read_reply() {
                Ok(m) => {
                    let hit = pred(&m);
                    self.msgs.push(m);
                    if hit {
                        return true;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::TimedOut => return false,
                Err(e) => panic!(
                    "{}: subscriber connection failed: {e}\n--- log tail ---\n{}",
                    self.label,
                    self.server.log_tail(30)
                ),
            }
        }
    }

    /// Reads whatever arrives within `wait`; returns how many messages that was.
    fn drain(&mut self, wait: Duration) -> usize {
        let before = self.msgs.len();
        self.read_until(wait, |_| false);
        self.msgs.len() - before
    }

    /// Sends `args` on a new connection without reading the reply, and waits until the
    /// server reports one more blocked client.
    fn block(&mut self, args: &[Vec<u8>]) {
        let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
        let mut conn = self.server.conn();
        conn.send(&common::encode_command(&refs));
        self.blocked.push(conn);
        let want = format!("blocked_clients:{}\r\n", self.blocked.len());
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let info = self.run(&[b"INFO".to_vec(), b"clients".to_vec()]);
            if String::from_utf8_lossy(&info).contains(&want) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{}: {} did not block within 5 s (INFO clients: {})",
                self.label,
                common::render_args(args),
                render(&info)
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Runs one command and returns its raw reply (panics with the server log on failure).
    fn run(&mut self, args: &[Vec<u8>]) -> Vec<u8> {
        let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
        match self.con.try_cmd(&refs) {
            Ok(r) => r,
            Err(e) => panic!(
                "{}: command {} failed: {e}\n--- log tail ---\n{}",
                self.label,
                common::render_args(args),
                self.server.log_tail(30)
            ),
        }
    }
}

/// redis-server (side 0) and rustis-server (side 1), driven in lockstep.
struct Diff {
    sides: [Side; 2],
    /// Inside `MULTI` (no markers until `EXEC`/`DISCARD`).
    multi: bool,
    /// [`Diff::check`] insists that redis-server published at least one event (so a
    /// scenario cannot pass by both servers publishing nothing).
    expect_events: bool,
    /// Reply mismatches of the current run.
    reply_diffs: Vec<String>,
}

impl Diff {
    /// Starts both servers (with `extra` arguments), subscribes, and sets
    /// `notify-keyspace-events` to `flags` on both (the replies must match) unless it is
    /// `None`. `None` (after a note) when redis-server is not installed and
    /// `RUSTIS_REQUIRE_REDIS` is not `1`.
    fn start(flags: Option<&str>, extra: &[&str]) -> Option<Diff> {
        let Some(redis) = common::start_redis(extra) else {
            eprintln!("SKIPPED: redis-server not found on PATH (set RUSTIS_REQUIRE_REDIS=1 to fail instead)");
            return None;
        };
        let rustis = common::start_rustis(extra);
        let mut d = Diff {
            sides: [Side::new("redis", redis), Side::new("rustis", rustis)],
            multi: false,
            expect_events: true,
            reply_diffs: Vec::new(),
        };
        if let Some(flags) = flags {
            d.step("setup", 0, &format!("CONFIG SET notify-keyspace-events \"{flags}\""));
        }
        Some(d)
    }

    /// Runs one script line on both servers; the replies must match (unless `~`).
    fn step(&mut self, title: &str, n: usize, line: &str) {
        let line = line.trim();
        if let Some(ms) = line.strip_prefix("!sleep ") {
            std::thread::sleep(Duration::from_millis(ms.trim().parse().expect("!sleep <ms>")));
            return;
        }
        if let Some(key) = line.strip_prefix("!dump ") {
            for side in &mut self.sides {
                let reply = side.run(&[b"DUMP".to_vec(), key.trim().as_bytes().to_vec()]);
                side.dump = bulk_payload(&reply)
                    .unwrap_or_else(|| panic!("{}: DUMP {key} replied {}", side.label, render(&reply)))
                    .to_vec();
            }
            return;
        }
        if let Some(cmd) = line.strip_prefix("!block ") {
            let args = split_args(cmd).unwrap_or_else(|e| panic!("bad script line `{line}`: {e}"));
            for side in &mut self.sides {
                side.block(&args);
            }
            return;
        }
        if line == "!unblock" {
            let mut replies = Vec::new();
            for side in &mut self.sides {
                assert!(!side.blocked.is_empty(), "[{title}] step #{n}: !unblock without !block");
                let mut conn = side.blocked.remove(0);
                replies.push(conn.try_read_reply().unwrap_or_else(|e| {
                    panic!("[{title}] step #{n}: {}: the blocked command did not reply: {e}", side.label)
                }));
            }
            if replies[0] != replies[1] {
                self.reply_diffs.push(format!(
                    "[{title}] step #{n} `!unblock`: replies of the blocked command differ\n  redis : {}\n  rustis: {}",
                    render(&replies[0]),
                    render(&replies[1])
                ));
            }
            return;
        }
        let (compare, text) = match line.strip_prefix('~') {
            Some(rest) => (false, rest.trim()),
            None => (true, line),
        };
        let args = split_args(text).unwrap_or_else(|e| panic!("bad script line `{line}`: {e}"));
        assert!(!args.is_empty(), "empty script line");
        let mut replies = Vec::new();
        for side in &mut self.sides {
            let args: Vec<Vec<u8>> =
                args.iter().map(|a| if a == b"{dump}" { side.dump.clone() } else { a.clone() }).collect();
            replies.push(side.run(&args));
        }
        if compare && replies[0] != replies[1] {
            let msg = format!(
                "[{title}] step #{n} `{text}`: replies differ\n  redis : {}\n  rustis: {}",
                render(&replies[0]),
                render(&replies[1])
            );
            // Later steps still run (each command has exactly one reply, so the
            // connections stay in step); the scenario fails at its end.
            if n == 0 {
                panic!("{msg}");
            }
            self.reply_diffs.push(msg);
        }
        let name = String::from_utf8_lossy(&args[0]).to_ascii_uppercase();
        match name.as_str() {
            "MULTI" => self.multi = true,
            "EXEC" | "DISCARD" => self.multi = false,
            _ => {}
        }
        if !self.multi && n > 0 {
            self.mark(title, &n.to_string(), text);
        }
    }

    /// Publishes a marker on both servers.
    fn mark(&mut self, title: &str, tag: &str, text: &str) {
        let channel = format!("{MARK}{tag}");
        let mut replies = Vec::new();
        for side in &mut self.sides {
            replies.push(side.run(&[b"PUBLISH".to_vec(), channel.clone().into_bytes(), text.as_bytes().to_vec()]));
        }
        assert_eq!(replies[0], replies[1], "[{title}] marker PUBLISH {channel}: replies differ");
    }

    /// Runs `script` on both servers (replies compared) and collects the events it
    /// caused; returns the two message lists (redis, rustis).
    fn run(&mut self, title: &str, script: &[&str]) -> [Vec<Vec<u8>>; 2] {
        for side in &mut self.sides {
            side.msgs.clear();
        }
        for (i, line) in script.iter().enumerate() {
            self.step(title, i + 1, line);
        }
        assert!(!self.multi, "[{title}] script ends inside MULTI");
        self.mark(title, "end", title);
        let end_channel = format!("{MARK}end");
        let start = Instant::now();
        for side in &mut self.sides {
            let found =
                side.read_until(COLLECT_LIMIT, |m| pmessage(m).is_some_and(|(_, ch, _)| ch == end_channel.as_bytes()));
            assert!(
                found,
                "[{title}] {}: the end marker did not arrive within {COLLECT_LIMIT:?}; received:\n{}",
                side.label,
                listing(&side.msgs, None)
            );
        }
        self.settle(start);
        [std::mem::take(&mut self.sides[0].msgs), std::mem::take(&mut self.sides[1].msgs)]
    }

    /// Keeps reading until `IDLE` passes with nothing new on either side (bounded by
    /// `COLLECT_LIMIT` since `start`).
    fn settle(&mut self, start: Instant) {
        loop {
            std::thread::sleep(IDLE);
            let got: usize = self.sides.iter_mut().map(|s| s.drain(Duration::from_millis(20))).sum();
            if got == 0 || start.elapsed() >= COLLECT_LIMIT {
                return;
            }
        }
    }

    /// Runs `script` and asserts that both servers replied and published exactly the same.
    fn check(&mut self, title: &str, script: &[&str]) {
        if let Some(report) = self.try_check(title, script) {
            panic!("{report}");
        }
    }

    /// Like [`Diff::check`] but returns the failure report instead of panicking.
    fn try_check(&mut self, title: &str, script: &[&str]) -> Option<String> {
        let [redis, rustis] = self.run(title, script);
        if std::env::var("RUSTIS_NOTIFY_SHOW").is_ok_and(|v| v == "1") {
            eprintln!("[{title}] redis-server published:\n{}", listing(&redis, None));
        }
        let mut report = std::mem::take(&mut self.reply_diffs);
        report.extend(compare(title, script, &redis, &rustis));
        if self.expect_events {
            assert!(redis.iter().any(|m| !is_marker(m)), "[{title}] redis-server published no events: broken scenario");
        }
        (!report.is_empty()).then(|| report.join("\n\n"))
    }
}

/// The payload of a bulk string reply.
fn bulk_payload(reply: &[u8]) -> Option<&[u8]> {
    let rest = reply.strip_prefix(b"$")?;
    let nl = rest.windows(2).position(|w| w == b"\r\n")?;
    let n: usize = std::str::from_utf8(&rest[..nl]).ok()?.parse().ok()?;
    rest.get(nl + 2..nl + 2 + n)
}

/// Splits a RESP array of bulk strings into its elements.
fn bulks(frame: &[u8]) -> Option<Vec<&[u8]>> {
    let rest = frame.strip_prefix(b"*")?;
    let nl = rest.windows(2).position(|w| w == b"\r\n")?;
    let count: usize = std::str::from_utf8(&rest[..nl]).ok()?.parse().ok()?;
    let mut rest = &rest[nl + 2..];
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let payload = bulk_payload(rest)?;
        let header = rest.windows(2).position(|w| w == b"\r\n")? + 2;
        out.push(payload);
        rest = &rest[header + payload.len() + 2..];
    }
    rest.is_empty().then_some(out)
}

/// `(pattern, channel, message)` of a `pmessage` frame.
fn pmessage(frame: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    match bulks(frame)?.as_slice() {
        [kind, pattern, channel, message] if *kind == b"pmessage" => Some((pattern, channel, message)),
        _ => None,
    }
}

/// One message as a line: `channel  message`, markers as `---- #n command`.
fn describe(frame: &[u8]) -> String {
    match pmessage(frame) {
        Some((_, channel, message)) => match channel.strip_prefix(MARK.as_bytes()) {
            Some(tag) => format!("---- #{} {}", String::from_utf8_lossy(tag), String::from_utf8_lossy(message)),
            None => format!("{}  {}", render(channel), render(message)),
        },
        None => format!("<not a pmessage> {}", render(frame)),
    }
}

/// All messages, one per line, with `>>` at index `mark`.
fn listing(msgs: &[Vec<u8>], mark: Option<usize>) -> String {
    let mut s = String::new();
    for (i, m) in msgs.iter().enumerate() {
        let arrow = if Some(i) == mark { ">>" } else { "  " };
        s.push_str(&format!("{arrow}{i:3} {}\n", describe(m)));
    }
    if Some(msgs.len()) == mark {
        s.push_str(">>    <end of list>\n");
    }
    s
}

fn is_marker(frame: &[u8]) -> bool {
    pmessage(frame).is_some_and(|(_, ch, _)| ch.starts_with(MARK.as_bytes()))
}

/// Asserts the two message lists are identical; otherwise prints both, the first
/// difference and the script step it belongs to.
fn assert_same(title: &str, script: &[&str], redis: &[Vec<u8>], rustis: &[Vec<u8>]) {
    if let Some(report) = compare(title, script, redis, rustis) {
        panic!("{report}");
    }
}

/// `None` if the two message lists are identical, otherwise a report: the first
/// difference and the script step it belongs to, every step whose events differ, and both
/// lists.
fn compare(title: &str, script: &[&str], redis: &[Vec<u8>], rustis: &[Vec<u8>]) -> Option<String> {
    if redis == rustis {
        return None;
    }
    let i = redis.iter().zip(rustis).position(|(a, b)| a != b).unwrap_or(redis.len().min(rustis.len()));
    let show = |l: &[Vec<u8>]| l.get(i).map(|m| describe(m)).unwrap_or_else(|| "<nothing>".to_string());
    let strip = |l: &[Vec<u8>]| l.iter().filter(|m| !is_marker(m)).cloned().collect::<Vec<_>>();
    let note = if strip(redis) == strip(rustis) {
        "\n(the events themselves are the same; only their position relative to the step markers differs)"
    } else {
        ""
    };
    Some(format!(
        "[{title}] keyspace notifications differ at message {i}, {}:\n  \
         redis : {}\n  rustis: {}{note}\n{}--- redis ({} messages) ---\n{}--- rustis ({} messages) ---\n{}",
        culprit(script, &redis[..i]),
        show(redis),
        show(rustis),
        step_summary(redis, rustis),
        redis.len(),
        listing(redis, Some(i)),
        rustis.len(),
        listing(rustis, Some(i)),
    ))
}

/// The events between consecutive markers: `(marker, events before it)`.
fn segments(msgs: &[Vec<u8>]) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let mut cur = Vec::new();
    for m in msgs {
        match pmessage(m) {
            Some((_, ch, text)) if ch.starts_with(MARK.as_bytes()) => {
                let tag = String::from_utf8_lossy(&ch[MARK.len()..]);
                out.push((format!("#{tag} {}", String::from_utf8_lossy(text)), std::mem::take(&mut cur)));
            }
            Some((_, ch, text)) => {
                cur.push(format!("{}={}", String::from_utf8_lossy(ch), String::from_utf8_lossy(text)))
            }
            None => cur.push(render(m)),
        }
    }
    if !cur.is_empty() {
        out.push(("<after the last marker>".to_string(), cur));
    }
    out
}

/// Every step whose events differ (when both sides have the same markers).
fn step_summary(redis: &[Vec<u8>], rustis: &[Vec<u8>]) -> String {
    let (a, b) = (segments(redis), segments(rustis));
    if a.len() != b.len() || a.iter().zip(&b).any(|(x, y)| x.0 != y.0) {
        return String::new();
    }
    let mut s = String::new();
    let mut n = 0;
    for ((step, ev_a), (_, ev_b)) in a.iter().zip(&b) {
        if ev_a != ev_b {
            n += 1;
            s.push_str(&format!("{step}\n  redis : {}\n  rustis: {}\n", ev_a.join(" "), ev_b.join(" ")));
        }
    }
    format!("--- {n} step(s) with different events ---\n{s}")
}

/// Names the script lines whose events come right after the last marker in `before`.
fn culprit(script: &[&str], before: &[Vec<u8>]) -> String {
    let tag = before.iter().rev().find_map(|m| pmessage(m).and_then(|(_, ch, _)| ch.strip_prefix(MARK.as_bytes())));
    let from = match tag {
        None => 0,
        Some(t) => match String::from_utf8_lossy(t).parse::<usize>() {
            Ok(n) => n,
            Err(_) => return "after the end marker (late events)".to_string(),
        },
    };
    // The lines up to the next one that is followed by a marker.
    let mut lines = Vec::new();
    let mut multi = false;
    for (n, line) in script.iter().enumerate().skip(from).map(|(n, l)| (n + 1, l.trim())) {
        if line.starts_with('!') {
            continue;
        }
        lines.push(format!("#{n} `{line}`"));
        let name = line.trim_start_matches('~').split_whitespace().next().unwrap_or("").to_ascii_uppercase();
        match name.as_str() {
            "MULTI" => multi = true,
            "EXEC" | "DISCARD" => multi = false,
            _ => {}
        }
        if !multi {
            break;
        }
    }
    if lines.is_empty() {
        return "after the last command".to_string();
    }
    format!("in the events of step {}", lines.join(", "))
}

// ---------------------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------------------

/// The comparison itself catches a difference and names the culprit command.
#[test]
#[should_panic(expected = "differ at message 1, in the events of step #3 `SET k v`")]
fn harness_reports_first_difference() {
    let msg = |channel: &str, message: &str| {
        let mut out = format!("*4\r\n$8\r\npmessage\r\n${}\r\n{PATTERN}\r\n", PATTERN.len()).into_bytes();
        for part in [channel, message] {
            out.extend_from_slice(format!("${}\r\n{part}\r\n", part.len()).as_bytes());
        }
        out
    };
    let script = ["GET k", "!sleep 1", "SET k v"];
    let redis = [msg("__keymark@-__:1", "GET k"), msg("__keyspace@0__:k", "set"), msg("__keyevent@0__:set", "k")];
    let rustis = [msg("__keymark@-__:1", "GET k"), msg("__keyevent@0__:set", "k"), msg("__keyspace@0__:k", "set")];
    assert!(pmessage(&redis[1]).is_some());
    assert_same("self-test", &script, &redis, &rustis);
}

#[test]
fn string_commands() {
    let Some(mut d) = Diff::start(Some("KEA"), &[]) else { return };
    d.check(
        "strings",
        &[
            "SET s1 hello",
            "SET s1 hello2 GET",
            "SET s2 v EX 100",
            "SET s2 v2 KEEPTTL",
            "SET s2 v3 XX PX 100000",
            "SET nx v NX",
            "SET nx v NX",
            "SET xx v XX",
            "SETEX s3 100 v",
            "PSETEX s3 100000 v",
            "SETNX s1 other",
            "SETNX s4 v",
            "APPEND s1 \" world\"",
            "APPEND s5 new",
            "SETRANGE s1 0 J",
            "SETRANGE s6 3 abc",
            "SETRANGE s7 0 \"\"",
            "INCR n1",
            "INCRBY n1 10",
            "DECR n1",
            "DECRBY n1 2",
            "INCR s1",
            "INCRBYFLOAT f1 1.5",
            "INCRBYFLOAT f1 abc",
            "GETSET s1 replaced",
            "GETSET s8 fresh",
            "GETDEL s8",
            "GETDEL missing",
            "GETEX s3 EX 200",
            "GETEX s3 PXAT 4102444800000",
            "GETEX s3 PERSIST",
            "GETEX s3",
            "GETEX missing EX 10",
            "GET s1",
            "STRLEN s1",
            "GETRANGE s1 0 2",
            "MSET m1 a m2 b m3 c",
            "MSETNX m1 x m9 y",
            "MSETNX m4 x m5 y",
            "DEL s1 s2 s3 s4 s5 s6 n1 f1 m1 m2 m3 m4 m5 nx xx",
        ],
    );
}

#[test]
fn generic_key_commands() {
    let Some(mut d) = Diff::start(Some("KEA"), &[]) else { return };
    d.check(
        "generic",
        &[
            "MSET a 1 b 2 c 3 d 4",
            "DEL a missing b",
            "DEL missing",
            "UNLINK c missing2",
            "UNLINK missing",
            "EXPIRE d 100",
            "PEXPIRE d 100000",
            "EXPIREAT d 4102444800",
            "PEXPIREAT d 4102444800000",
            "EXPIRE d 100 NX",
            "EXPIRE d 50 LT",
            "EXPIRE missing 100",
            "PERSIST d",
            "PERSIST d",
            "SET gone v",
            "EXPIRE gone -1",
            "SET gone2 v",
            "EXPIREAT gone2 1",
            "SET gone3 v",
            "PEXPIRE gone3 0",
            "SET r1 v",
            "RENAME r1 r2",
            "RENAME r2 r2",
            "RENAME missing r9",
            "SET other x",
            "RENAMENX r2 other",
            "RENAMENX r2 r3",
            "RENAMENX r3 r3",
            "SET r4 y EX 100",
            "RENAME r4 r3",
            "SET mv v",
            "MOVE mv 1",
            "MOVE mv 1",
            "SELECT 1",
            "SET x1 v",
            "MOVE x1 0",
            "MOVE mv 0",
            "SELECT 0",
            "COPY r3 c1",
            "COPY r3 c1",
            "COPY r3 c1 REPLACE",
            "COPY r3 c2 DB 2",
            "COPY missing c3",
            "!dump r3",
            "RESTORE rs1 0 {dump}",
            "RESTORE rs1 0 {dump} REPLACE",
            "RESTORE rs2 100000 {dump}",
            "RESTORE rs3 4102444800000 {dump} ABSTTL",
            "TOUCH r3 c1 missing",
            "EXISTS r3 missing",
            "TYPE r3",
            "TTL rs2",
            "SELECT 2",
            "SET d2 v",
            "APPEND d2 w",
            "DEL d2 c2",
            "SELECT 15",
            "SET d15 v",
            "SELECT 0",
            "DEL other r3 c1 rs1 rs2 rs3 mv d",
            "SELECT 15",
            "FLUSHDB",
            "SELECT 0",
        ],
    );
}

#[test]
fn list_commands() {
    let Some(mut d) = Diff::start(Some("KEA"), &[]) else { return };
    d.check(
        "lists",
        &[
            "LPUSH l a b c",
            "RPUSH l d e",
            "LPUSHX l x",
            "LPUSHX missing x",
            "RPUSHX l y",
            "RPUSHX missing y",
            "LINSERT l BEFORE a ins",
            "LINSERT l AFTER nothere z",
            "LINSERT missing AFTER a z",
            "LSET l 0 first",
            "LREM l 1 b",
            "LREM l 0 nothere",
            "LTRIM l 0 6",
            "LTRIM l 0 -1",
            "LRANGE l 0 -1",
            "LPOP l",
            "RPOP l 2",
            "LPOP l 0",
            "LPOP missing",
            "RPOP missing 3",
            "LMOVE l l2 RIGHT LEFT",
            "LMOVE l l2 LEFT RIGHT",
            "RPOPLPUSH l l2",
            "LMOVE l2 l2 RIGHT LEFT",
            "LMOVE missing l2 LEFT LEFT",
            "LMPOP 2 missing l2 LEFT COUNT 2",
            "LMPOP 1 missing RIGHT",
            "RPUSH one only",
            "LPOP one",
            "RPUSH two a b",
            "RPOP two 5",
            "RPUSH m a",
            "RPOPLPUSH m m",
            "RPOPLPUSH m dst",
            "RPUSH b1 x",
            "BLPOP b1 1",
            "RPUSH b2 x y",
            "BRPOP missing b2 1",
            "BLMOVE b2 b3 LEFT RIGHT 1",
            "BRPOPLPUSH b3 b4 1",
            "BLMPOP 1 2 missing b4 RIGHT COUNT 10",
            "RPUSH srt 3 1 2",
            "SORT srt STORE srtd",
            "SORT srt DESC LIMIT 0 2 STORE srtd",
            "SORT missing STORE srtd",
            "SORT missing STORE srtd",
            "SET str v",
            "LPUSH str x",
            "LMPOP 1 l RIGHT COUNT 100",
            "DEL l l2 dst srt",
        ],
    );
}

#[test]
#[ignore = "known differences from redis-server, listed in README Known differences (keyspace notifications); run with --ignored"]
fn blocked_clients_served_by_writes() {
    let Some(mut d) = Diff::start(Some("KEA"), &[]) else { return };
    d.check(
        "blocked clients",
        &[
            "BLPOP nothing 0.05",
            "!block BLPOP bl1 5",
            "LPUSH bl1 x",
            "!unblock",
            "!block BRPOP bl2 5",
            "RPUSH bl2 a b",
            "!unblock",
            "!block BLMOVE bl3 dst RIGHT LEFT 5",
            "LPUSH bl3 x",
            "!unblock",
            "!block BRPOPLPUSH bl3 bl3 5",
            "RPUSH bl3 y",
            "!unblock",
            "!block BLMPOP 5 2 none bl4 LEFT COUNT 2",
            "RPUSH bl4 a b c",
            "!unblock",
            "!block BLPOP bl5 5",
            "!block BLPOP bl5 5",
            "RPUSH bl5 a b c",
            "!unblock",
            "!unblock",
            "!block BZPOPMIN bz 5",
            "ZADD bz 1 a 2 b",
            "!unblock",
            "!block BZMPOP 5 1 bz2 MAX",
            "ZADD bz2 1 a",
            "!unblock",
            "XGROUP CREATE bs g $ MKSTREAM",
            "!block XREADGROUP GROUP g c1 BLOCK 5000 STREAMS bs >",
            "XADD bs 1-0 f v",
            "!unblock",
            "!block XREAD BLOCK 5000 STREAMS bs $",
            "XADD bs 2-0 f v",
            "!unblock",
            "!block BLPOP bm 5",
            "MULTI",
            "LPUSH bm a",
            "LPUSH bm b",
            "EXEC",
            "!unblock",
            "DEL dst bl2 bl3 bl4 bl5 bz bs bm",
        ],
    );
}

#[test]
fn set_commands() {
    let Some(mut d) = Diff::start(Some("KEA"), &[]) else { return };
    d.check(
        "sets",
        &[
            "SADD s a b c",
            "SADD s a",
            "SREM s a",
            "SREM s zz",
            "SREM missing a",
            "SADD t b x y",
            "SINTERSTORE dst s t",
            "SUNIONSTORE dst s t",
            "SDIFFSTORE dst s t",
            "SDIFFSTORE dst s s",
            "SINTERSTORE dst2 s missing",
            "SUNIONSTORE dst3 missing missing2",
            "SMOVE s t b",
            "SMOVE s t nothere",
            "SMOVE t new1 x",
            "SMOVE t t y",
            "SMOVE missing t y",
            "SMOVE new1 t x",
            "SPOP s",
            "SPOP missing",
            "SADD p 1 2 3 4",
            "~SPOP p 2",
            "SPOP p 0",
            "~SPOP p 5",
            "SADD q 1",
            "SPOP q 1",
            "SISMEMBER t b",
            "SMEMBERS missing",
            "SCARD t",
            "SINTERCARD 1 t",
            "SADD big 1 2 3",
            "SREM big 1 2 3",
            "SET str v",
            "SADD str x",
            "DEL t str",
        ],
    );
}

#[test]
fn hash_commands() {
    let Some(mut d) = Diff::start(Some("KEA"), &[]) else { return };
    d.check(
        "hashes",
        &[
            "HSET h f1 v1 f2 v2",
            "HSET h f1 v1",
            "HSETNX h f1 x",
            "HSETNX h f3 v3",
            "HSETNX h2 f v",
            "HMSET h f4 v4 f5 v5",
            "HINCRBY h n 5",
            "HINCRBY h n -2",
            "HINCRBY h f1 1",
            "HINCRBYFLOAT h fl 1.5",
            "HINCRBYFLOAT newh fl 2",
            "HDEL h f1 nothere",
            "HDEL h nothere",
            "HDEL missing f",
            "HGET h f2",
            "HGETALL h2",
            "HLEN h",
            "HDEL h f2 f3 f4 f5 n fl",
            "HDEL h2 f",
            "SET str v",
            "HSET str f v",
            "DEL newh str",
        ],
    );
}

#[test]
fn sorted_set_commands() {
    let Some(mut d) = Diff::start(Some("KEA"), &[]) else { return };
    d.check(
        "zsets",
        &[
            "ZADD z 1 a 2 b 3 c",
            "ZADD z 1 a",
            "ZADD z 5 a",
            "ZADD z NX 9 a",
            "ZADD z NX 9 d",
            "ZADD z XX CH 7 b",
            "ZADD z XX 7 zz",
            "ZADD z INCR 2 c",
            "ZADD z GT 1 c",
            "ZADD z INCR 0 c",
            "ZADD z NX INCR 1 c",
            "ZINCRBY z 1 a",
            "ZINCRBY znew 1 a",
            "ZREM z a nothere",
            "ZREM z nothere",
            "ZREM missing a",
            "ZADD z2 1 a 2 b 3 c 4 d 5 e 6 f",
            "ZREMRANGEBYSCORE z2 1 2",
            "ZREMRANGEBYSCORE z2 100 200",
            "ZREMRANGEBYRANK z2 0 0",
            "ZREMRANGEBYRANK z2 50 60",
            "ZADD lex 0 a 0 b 0 c 0 d",
            "ZREMRANGEBYLEX lex [a [b",
            "ZREMRANGEBYLEX lex [x [z",
            "ZPOPMIN z2",
            "ZPOPMAX z2 2",
            "ZPOPMIN missing",
            "ZPOPMAX z2 0",
            "ZADD z3 1 x",
            "ZPOPMAX z3",
            "ZADD u1 1 a 2 b",
            "ZADD u2 3 b 4 c",
            "ZUNIONSTORE zd 2 u1 u2",
            "ZINTERSTORE zd 2 u1 u2 WEIGHTS 1 2",
            "ZDIFFSTORE zd 2 u1 u2",
            "ZDIFFSTORE zd 2 u1 u1",
            "ZINTERSTORE zd2 2 u1 missing",
            "ZRANGESTORE zr u1 0 -1",
            "ZRANGESTORE zr u1 5 10",
            "ZRANGESTORE zr2 u1 5 10",
            "ZSCORE u1 a",
            "ZRANGE u1 0 -1 WITHSCORES",
            "ZMPOP 1 u1 MIN COUNT 5",
            "BZPOPMIN u2 1",
            "BZMPOP 1 2 missing u2 MAX COUNT 1",
            "ZREMRANGEBYRANK lex 0 -1",
            "ZREMRANGEBYSCORE z -inf +inf",
            "DEL znew z2",
        ],
    );
}

#[test]
fn stream_commands() {
    let Some(mut d) = Diff::start(Some("KEA"), &[]) else { return };
    d.check(
        "streams",
        &[
            "XADD st 1-0 f v",
            "XADD st 2-0 f v",
            "XADD st MAXLEN 2 3-0 f v",
            "XADD st NOMKSTREAM 4-0 f v",
            "XADD missing NOMKSTREAM 1-0 f v",
            "XADD st 1-0 f v",
            "XDEL st 2-0",
            "XDEL st 99-0",
            "XADD st 5-0 f v",
            "XTRIM st MAXLEN 2",
            "XTRIM st MAXLEN 10",
            "XTRIM st MINID 5",
            "XLEN st",
            "XRANGE st - +",
            "XGROUP CREATE st g1 0",
            "XGROUP CREATE st g1 0",
            "XGROUP CREATE st2 g1 $ MKSTREAM",
            "XGROUP CREATE st3 g1 $",
            "XGROUP CREATECONSUMER st g1 c1",
            "XGROUP CREATECONSUMER st g1 c1",
            "XREADGROUP GROUP g1 c2 COUNT 10 STREAMS st >",
            "XREADGROUP GROUP g1 c2 COUNT 10 STREAMS st >",
            "XACK st g1 5-0",
            "XCLAIM st g1 c3 0 5-0",
            "XAUTOCLAIM st g1 c4 0 0-0",
            "XPENDING st g1",
            "XGROUP DELCONSUMER st g1 c1",
            "XGROUP DELCONSUMER st g1 nobody",
            "XGROUP SETID st g1 0",
            "XGROUP SETID st g1 $",
            "XSETID st 10-0",
            "XGROUP DESTROY st g1",
            "XGROUP DESTROY st g1",
            "XDEL st 5-0",
            "XLEN st",
            "DEL st st2",
        ],
    );
}

#[test]
fn expired_events_lazy_and_active() {
    let Some(mut d) = Diff::start(Some("KEA"), &[]) else { return };
    // Each key expires alone between two commands, so whether the server expires it
    // lazily (on the access) or in its active cycle (during the sleep), its `expired`
    // event lands at the same place in the stream: right before the accessing command's
    // events.
    d.check(
        "lazy expiry",
        &[
            "SET lazy v PX 50",
            "!sleep 150",
            "GET lazy",
            "SET lazy2 v PX 50",
            "!sleep 150",
            "EXISTS lazy2",
            "SET w v PX 50",
            "!sleep 150",
            "APPEND w x",
            "RPUSH wl a",
            "PEXPIRE wl 50",
            "!sleep 150",
            "LPUSH wl b",
            "HSET wh f v",
            "EXPIRE wh 1",
            "PEXPIRE wh 50",
            "!sleep 150",
            "HGET wh f",
            "SET ttl v EX 100",
            "SET r v PX 50",
            "!sleep 150",
            "RENAME r r2",
            "SELECT 3",
            "SET db3 v PX 50",
            "!sleep 150",
            "TTL db3",
            "SELECT 0",
            "DEL w wl ttl",
        ],
    );

    // Keys nobody touches again: only the active cycle can expire them, at its own pace,
    // so only the set of events is compared.
    let script = ["SET a1 v PX 50", "SADD a2 x", "PEXPIRE a2 80", "SELECT 4", "SET a3 v PX 60", "SELECT 0"];
    let [mut redis, mut rustis] = d.run("active expiry", &script);
    assert!(d.reply_diffs.is_empty(), "{}", d.reply_diffs.join("\n\n"));
    let expected: [(&[u8], &[u8]); 3] =
        [(b"__keyevent@0__:expired", b"a1"), (b"__keyevent@0__:expired", b"a2"), (b"__keyevent@4__:expired", b"a3")];
    let start = Instant::now();
    for (side, got) in d.sides.iter_mut().zip([&mut redis, &mut rustis]) {
        side.msgs = std::mem::take(got);
        for (channel, key) in expected {
            let seen =
                |msgs: &[Vec<u8>]| msgs.iter().any(|m| pmessage(m).is_some_and(|(_, c, k)| c == channel && k == key));
            if !seen(&side.msgs) {
                let left = ACTIVE_EXPIRE_LIMIT.saturating_sub(start.elapsed()).max(Duration::from_millis(1));
                side.read_until(left, |m| pmessage(m).is_some_and(|(_, c, k)| c == channel && k == key));
            }
            assert!(
                seen(&side.msgs),
                "[active expiry] {}: no {} {} within {ACTIVE_EXPIRE_LIMIT:?}; received:\n{}",
                side.label,
                render(channel),
                render(key),
                listing(&side.msgs, None)
            );
        }
    }
    d.settle(Instant::now());
    let mut lists = [std::mem::take(&mut d.sides[0].msgs), std::mem::take(&mut d.sides[1].msgs)];
    for l in &mut lists {
        l.retain(|m| !is_marker(m));
        l.sort();
    }
    assert_same("active expiry (sorted, markers removed)", &[], &lists[0], &lists[1]);
    d.expect_events = false;
    d.check("after active expiry", &["EXISTS a1 a2", "SELECT 4", "GET a3", "SELECT 0"]);
}

/// A little of everything, leaving no keys behind.
const MIXED: &[&str] = &[
    "SET a 1",
    "APPEND a x",
    "INCR cnt",
    "LPUSH l x y",
    "LPOP l",
    "SADD s x",
    "HSET h f v",
    "ZADD z 1 m",
    "XADD x 1-0 f v",
    "EXPIRE a 100",
    "PERSIST a",
    "GET missing",
    "GET a",
    "HGET missingh f",
    "RENAME a b",
    "SET e v PX 50",
    "!sleep 150",
    "GET e",
    "DEL l s h z x b cnt",
];

#[test]
fn event_class_filtering() {
    let Some(mut d) = Diff::start(Some(""), &[]) else { return };
    d.expect_events = false;
    let mut failures = Vec::new();
    for flags in [
        "",
        "K",
        "E",
        "A",
        "g",
        "Kg",
        "E$",
        "Ex",
        "Kl",
        "Es",
        "Kh",
        "Ez",
        "Kt",
        "KEm",
        "Em",
        "KEd",
        "KEe",
        "KEn",
        "KEA",
        "KEAn",
        "KEAm",
        "Kg$lshzxet",
        "AKEmn",
    ] {
        let set = format!("CONFIG SET notify-keyspace-events \"{flags}\"");
        let mut script = vec![set.as_str(), "CONFIG GET notify-keyspace-events"];
        script.extend_from_slice(MIXED);
        failures.extend(d.try_check(&format!("flags \"{flags}\""), &script));
    }
    assert!(failures.is_empty(), "{} of the flag settings differ:\n\n{}", failures.len(), failures.join("\n\n"));
}

#[test]
fn config_flags_readback_and_errors() {
    let Some(mut d) = Diff::start(None, &["--notify-keyspace-events", "Elg"]) else { return };
    d.expect_events = false;
    let mut script = vec!["CONFIG GET notify-keyspace-events".to_string()];
    for flags in [
        "KEA",
        "AKE",
        "Kg",
        "E$",
        "Ex",
        "gKE$lshzxet",
        "g$lshzxetd",
        "g$lshzxetdKE",
        "AKEmn",
        "nmEKA",
        "KEAn",
        "KEm",
        "KEn",
        "tezxhsl$g",
        "x",
        "AA",
        "KKEE",
        "d",
        "e",
        "K",
        "E",
        "",
        "KEQ",
        "kea",
        "KE A",
        "KE*",
        "KEA",
        "KEL",
    ] {
        script.push(format!("CONFIG SET notify-keyspace-events \"{flags}\""));
        script.push("CONFIG GET notify-keyspace-events".to_string());
    }
    script.push("CONFIG GET notify*".to_string());
    script.push("CONFIG SET notify-keyspace-events KEA notify-keyspace-events KEg".to_string());
    script.push("CONFIG GET notify-keyspace-events".to_string());
    script.push("CONFIG SET notify-keyspace-events KEg maxmemory-policy bogus".to_string());
    script.push("CONFIG GET notify-keyspace-events".to_string());
    script.push("CONFIG SET notify-keyspace-events".to_string());
    script.push("CONFIG SET notify-keyspace-events \"\"".to_string());
    // Last, as the most obscure: a NUL ends the flag string for redis-server (it parses a
    // C string), so "KE\0Q" is accepted as "KE".
    script.push("CONFIG SET notify-keyspace-events \"KE\\x00Q\"".to_string());
    script.push("CONFIG GET notify-keyspace-events".to_string());
    let script: Vec<&str> = script.iter().map(|s| s.as_str()).collect();
    d.check("config readback", &script);
}

#[test]
fn new_key_events() {
    let Some(mut d) = Diff::start(Some("KEn"), &[]) else { return };
    d.check(
        "new (KEn)",
        &[
            "SET a 1",
            "SET a 2",
            "SETNX a 3",
            "MSET b 1 c 2",
            "APPEND d x",
            "SETRANGE e 2 x",
            "INCR f",
            "INCRBYFLOAT g 1",
            "LPUSH l x",
            "LPUSH l y",
            "RPUSHX nol x",
            "SADD s x",
            "HSET h f v",
            "HINCRBY h2 f 1",
            "ZADD z 1 m",
            "ZINCRBY z2 1 m",
            "XADD x 1-0 f v",
            "XGROUP CREATE x2 g $ MKSTREAM",
            "SETBIT bits 3 1",
            "BITFIELD bf SET u8 0 1",
            "BITOP NOT bn bits",
            "PFADD hll a",
            "PFMERGE hll2 hll",
            "GEOADD geo 13.361389 38.115556 Palermo",
            "RENAME a a2",
            "RENAME b c",
            "COPY c c3",
            "COPY c c3 REPLACE",
            "!dump c",
            "RESTORE r 0 {dump}",
            "RESTORE r 0 {dump} REPLACE",
            "MOVE r 1",
            "SINTERSTORE si s s",
            "SUNIONSTORE si s s",
            "ZUNIONSTORE zu 1 z",
            "ZRANGESTORE zr z 0 -1",
            "SORT l STORE sorted",
            "LMOVE l l3 LEFT LEFT",
            "SMOVE s s2 x",
            "GETSET gs v",
            "GETEX a2 EX 10",
            "SET a2 v",
            "GETDEL a2",
            "SET a2 v",
            "FLUSHALL",
        ],
    );
}

#[test]
#[ignore = "known differences from redis-server, listed in README Known differences (keyspace notifications); run with --ignored"]
fn transactions_and_bitmap_hll_geo() {
    let Some(mut d) = Diff::start(Some("KEA"), &[]) else { return };
    d.check(
        "multi/exec",
        &[
            "MULTI",
            "SET a 1",
            "INCR a",
            "LPUSH l x",
            "LPUSH a x",
            "EXPIRE a 100",
            "DEL a l",
            "EXEC",
            "MULTI",
            "SET x 1",
            "DISCARD",
            "WATCH w",
            "SET w changed",
            "MULTI",
            "SET w inside",
            "EXEC",
            "MULTI",
            "SET y 1",
            "NOSUCHCOMMAND",
            "EXEC",
            "DEL w",
        ],
    );
    d.check(
        "bitmaps, hyperloglog, geo",
        &[
            "SETBIT bm 7 1",
            "SETBIT bm 7 1",
            "SETBIT bm 100 0",
            "GETBIT bm 7",
            "BITCOUNT bm",
            "BITOP OR dest bm bm",
            "BITOP AND dest missing1 missing2",
            "BITOP AND dest2 missing1 missing2",
            "BITOP NOT dest3 bm",
            "BITFIELD bf SET u8 0 255",
            "BITFIELD bf GET u8 0",
            "BITFIELD bf INCRBY u8 0 1",
            "BITFIELD bf OVERFLOW FAIL INCRBY u8 0 300",
            "BITFIELD_RO bf GET u8 0",
            "PFADD hll a b c",
            "PFADD hll a",
            "PFADD hll",
            "PFADD hll2 x",
            "PFADD hll3",
            "PFCOUNT hll",
            "PFCOUNT hll hll2",
            "PFMERGE hllm hll hll2",
            "PFMERGE hllm",
            "GEOADD geo 13.361389 38.115556 Palermo",
            "GEOADD geo 15.087269 37.502669 Catania",
            "GEOADD geo NX 15.087269 37.502669 Catania",
            "GEOADD geo XX CH 15.1 37.5 Catania",
            "GEODIST geo Palermo Catania km",
            "GEOSEARCHSTORE gdst geo FROMLONLAT 15 37 BYRADIUS 200 km ASC",
            "GEOSEARCHSTORE gdst geo FROMLONLAT 15 37 BYRADIUS 200 km ASC STOREDIST",
            "GEOSEARCHSTORE gdst geo FROMLONLAT 0 0 BYRADIUS 1 km",
            "GEORADIUS geo 15 37 200 km STORE gdst2",
            "GEORADIUSBYMEMBER geo Palermo 300 km STOREDIST gdst3",
            "DEL bm dest dest3 bf hll hll2 hll3 hllm geo gdst2 gdst3",
        ],
    );
}
