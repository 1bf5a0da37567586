//! Client-side caching (`CLIENT TRACKING`), differential against redis-server 7.0.
//!
//! Every scenario runs the same script on a real `redis-server` and on `rustis-server`,
//! with the same set of named connections on each, and everything every connection
//! receives — command replies, RESP3 `invalidate` / `tracking-redir-broken` pushes, RESP2
//! `message`s on `__redis__:invalidate` — must be identical, byte for byte and in the same
//! order. Covered: default mode (which commands track and which writes invalidate, FLUSH*,
//! SWAPDB, expiry), a client's own writes and NOLOOP, BCAST with and without PREFIX,
//! OPTIN/OPTOUT with CLIENT CACHING, REDIRECT (RESP2 subscribers, RESP3 targets, broken
//! redirects), RESP2 without REDIRECT, CLIENT GETREDIR / CLIENT TRACKINGINFO in both
//! protocols, the error replies, the INFO counters and `tracking-table-max-keys`.
//!
//! ```text
//! cargo test --release --test tracking
//! RUSTIS_REQUIRE_REDIS=1 cargo test --release --test tracking       # fail (not skip) without redis-server
//! RUSTIS_TRACKING_SELFCHECK=1 cargo test --release --test tracking  # redis-server against redis-server
//! RUSTIS_TRACKING_SHOW=1 cargo test --release --test tracking       # print redis-server's transcripts
//! ```
//!
//! # Self-check
//!
//! With `RUSTIS_TRACKING_SELFCHECK=1` the second server is another `redis-server` instead
//! of `rustis-server`. Every test must then pass: that shows the scripts are deterministic
//! and that the bytes pinned with `=` lines (below) are what redis-server really sends.
//!
//! # Scripts
//!
//! A scenario declares its connections (name and protocol; RESP3 ones send `HELLO 3`
//! first, unrecorded) and runs a script, one line per step, in lockstep on both servers:
//!
//! - `X: CMD args...` — connection `X` sends the command (split like `redis-cli` does;
//!   `{Y}` stands for connection `Y`'s client id on that server) and reads up to its reply;
//!   RESP3 pushes arriving before the reply are recorded too, in order. (SUBSCRIBE: one
//!   confirmation per channel.) `X: ~CMD ...` does the same but does not compare the reply.
//!   A push that follows the reply (Redis sends a client's own invalidations after the
//!   write's reply) is read, and recorded, by `X`'s next step: the order of replies and
//!   pushes on each connection is compared exactly either way.
//! - `X: !idle` — whatever `X` receives within 200 ms, or `<nothing>`.
//! - `X: !push` — waits (at most 2 s) for one frame the server sends on its own (an
//!   invalidation caused by active expiry).
//! - `X: !mark Y` — `Y` publishes a marker on channel `mark`; `X` (subscribed to it) reads
//!   up to that marker. This is how a RESP2 redirect subscriber is synchronised.
//! - `X: !close` — closes `X`'s connection and waits until the server dropped the client.
//! - `!info` — the `tracking_*` fields of `INFO clients` and `INFO stats` (read on a
//!   hidden connection).
//! - `!sleep <ms>` — sleeps once (both servers idle).
//! - `= <escaped bytes>` — a pin: everything redis-server (the reference) sent in the
//!   previous step, concatenated, must be exactly these bytes (escapes as in
//!   `common::unescape`). Pins document the behaviour that is easy to get wrong; rustis
//!   is held to it by the differential comparison.
//!
//! After the script every connection is read until 200 ms pass in silence, so late or
//! extra messages are caught too. Client ids differ between servers, so they are
//! replaced by `<id:NAME>` in CLIENT ID / CLIENT GETREDIR replies, in the `redirect` field
//! of CLIENT TRACKINGINFO and in `tracking-redir-broken` pushes.
//!
//! # Delivery order the synchronisation relies on
//!
//! Redis queues an invalidation for the tracking client (or its redirect target) before
//! it replies to the command that caused it. So once the writer has its reply, a `PING`
//! from the tracking client returns any pending pushes *before* `+PONG`, and a marker
//! that the writer publishes after its reply reaches a redirect subscriber after the
//! invalidation `message`. A server that delivered invalidations later than that would
//! let a client read a stale cached value after the write completed, so the tests hold
//! rustis to the same order.

mod common;

use common::{render, split_args, unescape, RawConn, Server};
use std::io;
use std::time::{Duration, Instant};

/// `RUSTIS_TRACKING_SELFCHECK=1`: compare redis-server with a second redis-server.
const SELFCHECK_ENV: &str = "RUSTIS_TRACKING_SELFCHECK";
/// `RUSTIS_TRACKING_SHOW=1`: print redis-server's transcript of every scenario.
const SHOW_ENV: &str = "RUSTIS_TRACKING_SHOW";
/// A "nothing arrives" read waits this long.
const IDLE: Duration = Duration::from_millis(200);
/// Upper bound of every wait for a reply, a marker or a push.
const WAIT: Duration = Duration::from_secs(2);
/// The channel of the `!mark` markers.
const MARK_CHANNEL: &str = "mark";
/// Both servers get these (DEBUG SET-ACTIVE-EXPIRE is used by the expiry scenario).
const SERVER_ARGS: &[&str] = &["--enable-debug-command", "yes"];

// ---------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum Proto {
    Resp2,
    Resp3,
}
use Proto::{Resp2, Resp3};

/// One named connection.
struct Client {
    name: String,
    proto: Proto,
    id: i64,
    /// `None` once closed by `!close` or after a timeout / connection error (the
    /// connection is out of step then, so later steps of this client are skipped).
    conn: Option<RawConn>,
}

/// What a step produced on one server, in arrival order.
#[derive(Clone, PartialEq, Eq)]
enum Item {
    /// A frame (reply or push) received by the named connection, ids normalised.
    Frame(String, Vec<u8>),
    /// The named connection received nothing within [`IDLE`].
    Nothing(String),
    /// Something else happened on the named connection (timeout, error, reply not
    /// compared, skipped).
    Note(String, String),
    /// The `tracking_*` INFO fields.
    Info(String),
}

impl Item {
    fn show(&self) -> String {
        match self {
            Item::Frame(who, f) => format!("{who}< {}", render(f)),
            Item::Nothing(who) => format!("{who}: <nothing within {IDLE:?}>"),
            Item::Note(who, text) => format!("{who}: <{text}>"),
            Item::Info(text) => format!("INFO {text}"),
        }
    }
}

/// One server with its named connections.
struct Side {
    label: &'static str,
    server: Server,
    /// Hidden connection for INFO and CLIENT LIST.
    admin: RawConn,
    clients: Vec<Client>,
    /// Sequence number of the last `!mark`.
    marks: u64,
}

/// One parsed script line.
enum Line<'a> {
    Sleep(u64),
    Info,
    Pin(Vec<u8>),
    Client(&'a str, Action<'a>),
}

enum Action<'a> {
    Cmd(&'a str, bool),
    Idle,
    Push,
    Mark(&'a str),
    Close,
}

fn parse(line: &str) -> Line<'_> {
    let line = line.trim();
    if let Some(ms) = line.strip_prefix("!sleep ") {
        return Line::Sleep(ms.trim().parse().unwrap_or_else(|_| panic!("bad script line `{line}`")));
    }
    if line == "!info" {
        return Line::Info;
    }
    if let Some(bytes) = line.strip_prefix("= ") {
        return Line::Pin(unescape(bytes).unwrap_or_else(|e| panic!("bad pin `{line}`: {e}")));
    }
    let (who, rest) = line.split_once(": ").unwrap_or_else(|| panic!("bad script line `{line}`"));
    let rest = rest.trim();
    let action = match rest {
        "!idle" => Action::Idle,
        "!push" => Action::Push,
        "!close" => Action::Close,
        _ => match rest.strip_prefix("!mark ") {
            Some(via) => Action::Mark(via.trim()),
            None => match rest.strip_prefix('~') {
                Some(cmd) => Action::Cmd(cmd.trim(), false),
                None => Action::Cmd(rest, true),
            },
        },
    };
    Line::Client(who.trim(), action)
}

/// Reads one frame, waiting at most `wait`: `Ok(None)` on timeout.
fn read_frame(conn: &mut RawConn, wait: Duration) -> Result<Option<Vec<u8>>, String> {
    conn.set_timeout(wait.max(Duration::from_millis(1))).map_err(|e| e.to_string())?;
    match conn.try_read_reply() {
        Ok(f) => Ok(Some(f)),
        Err(e) if e.kind() == io::ErrorKind::TimedOut => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

/// Replaces every occurrence of `from` in `hay` by `to`.
fn replace_all(hay: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hay.len());
    let mut i = 0;
    while i < hay.len() {
        if hay[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(hay[i]);
            i += 1;
        }
    }
    out
}

/// The frame a connection speaking `proto` receives for a published `message`.
fn message_frame(proto: Proto, channel: &str, payload: &str) -> Vec<u8> {
    let head = if proto == Resp3 { '>' } else { '*' };
    format!("{head}3\r\n$7\r\nmessage\r\n${}\r\n{channel}\r\n${}\r\n{payload}\r\n", channel.len(), payload.len())
        .into_bytes()
}

impl Side {
    fn new(label: &'static str, server: Server, spec: &[(&str, Proto)]) -> Side {
        let mut admin = server.conn();
        admin.set_timeout(WAIT).expect("set_timeout");
        let mut clients = Vec::new();
        for &(name, proto) in spec {
            let mut conn = server.conn();
            conn.set_timeout(WAIT).expect("set_timeout");
            if proto == Resp3 {
                let hello = conn.cmd_str(&["HELLO", "3"]);
                assert!(hello.starts_with(b"%"), "{label}: HELLO 3 replied {}", render(&hello));
            }
            let reply = conn.cmd_str(&["CLIENT", "ID"]);
            let id = std::str::from_utf8(&reply)
                .ok()
                .and_then(|s| s.strip_prefix(':'))
                .and_then(|s| s.trim_end().parse().ok())
                .unwrap_or_else(|| panic!("{label}: CLIENT ID replied {}", render(&reply)));
            clients.push(Client { name: name.to_string(), proto, id, conn: Some(conn) });
        }
        Side { label, server, admin, clients, marks: 0 }
    }

    fn client(&mut self, name: &str) -> &mut Client {
        self.clients
            .iter_mut()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("the script uses connection `{name}`, which the scenario does not declare"))
    }

    /// `frame` with client ids replaced by `<id:NAME>` (see the module doc).
    fn normalize(&self, frame: Vec<u8>, id_reply: bool) -> Vec<u8> {
        let mut f = frame;
        for c in &self.clients {
            let tag = format!("<id:{}>", c.name);
            if id_reply && f == format!(":{}\r\n", c.id).as_bytes() {
                f = format!(":{tag}\r\n").into_bytes();
            }
            for field in ["redirect", "tracking-redir-broken"] {
                let from = format!("{field}\r\n:{}\r\n", c.id);
                let to = format!("{field}\r\n:{tag}\r\n");
                f = replace_all(&f, from.as_bytes(), to.as_bytes());
            }
        }
        f
    }

    /// Runs one script line on this server.
    fn exec(&mut self, line: &Line) -> Vec<Item> {
        match line {
            Line::Info => vec![self.info()],
            Line::Client(who, Action::Cmd(text, compare)) => self.command(who, text, *compare),
            Line::Client(who, Action::Idle) => self.idle(who),
            Line::Client(who, Action::Push) => self.await_push(who),
            Line::Client(who, Action::Mark(via)) => self.mark(who, via),
            Line::Client(who, Action::Close) => self.close(who),
            Line::Sleep(_) | Line::Pin(_) => unreachable!("handled by Diff::run"),
        }
    }

    fn command(&mut self, who: &str, text: &str, compare: bool) -> Vec<Item> {
        let mut line = text.to_string();
        for c in &self.clients {
            line = line.replace(&format!("{{{}}}", c.name), &c.id.to_string());
        }
        let args = split_args(&line).unwrap_or_else(|e| panic!("bad command `{text}`: {e}"));
        assert!(!args.is_empty(), "empty command in the script");
        let word = |i: usize| args.get(i).map(|a| String::from_utf8_lossy(a).to_ascii_uppercase()).unwrap_or_default();
        let (cmd, sub) = (word(0), word(1));
        let subscribe = ["SUBSCRIBE", "PSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE"].contains(&cmd.as_str());
        let replies = if subscribe { (args.len() - 1).max(1) } else { 1 };
        let id_reply = cmd == "CLIENT" && (sub == "ID" || sub == "GETREDIR");
        let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
        let mut items = Vec::new();
        let mut frames = Vec::new();
        let client = self.client(who);
        let Some(conn) = client.conn.as_mut() else {
            return vec![Item::Note(who.to_string(), "skipped: connection gone".into())];
        };
        let mut failure = conn.try_send(&common::encode_command(&refs)).err().map(|e| format!("send failed: {e}"));
        let mut got = 0;
        let deadline = Instant::now() + WAIT;
        while failure.is_none() && got < replies {
            match read_frame(conn, deadline.saturating_duration_since(Instant::now())) {
                Ok(Some(f)) => {
                    let push = !subscribe && f.first() == Some(&b'>');
                    if !push {
                        got += 1;
                    }
                    frames.push((push, f));
                }
                Ok(None) => failure = Some(format!("no reply within {WAIT:?}")),
                Err(e) => failure = Some(e),
            }
        }
        if failure.is_some() {
            client.conn = None;
        }
        for (push, f) in frames {
            if push || compare {
                items.push(Item::Frame(who.to_string(), self.normalize(f, id_reply && !push)));
            } else {
                items.push(Item::Note(who.to_string(), "reply not compared".into()));
            }
        }
        if let Some(e) = failure {
            items.push(Item::Note(who.to_string(), e));
        }
        items
    }

    /// Reads whatever arrives until [`IDLE`] passes in silence (at most [`WAIT`]).
    fn idle(&mut self, who: &str) -> Vec<Item> {
        let mut frames = Vec::new();
        let mut failure = None;
        let client = self.client(who);
        let Some(conn) = client.conn.as_mut() else {
            return vec![Item::Note(who.to_string(), "skipped: connection gone".into())];
        };
        let start = Instant::now();
        while start.elapsed() < WAIT {
            match read_frame(conn, IDLE) {
                Ok(Some(f)) => frames.push(f),
                Ok(None) => break,
                Err(e) => {
                    failure = Some(e);
                    client.conn = None;
                    break;
                }
            }
        }
        let mut items: Vec<Item> =
            frames.into_iter().map(|f| Item::Frame(who.to_string(), self.normalize(f, false))).collect();
        match failure {
            Some(e) => items.push(Item::Note(who.to_string(), e)),
            None if items.is_empty() => items.push(Item::Nothing(who.to_string())),
            None => {}
        }
        items
    }

    /// Waits (at most [`WAIT`]) for one frame the server sends on its own.
    fn await_push(&mut self, who: &str) -> Vec<Item> {
        let client = self.client(who);
        let Some(conn) = client.conn.as_mut() else {
            return vec![Item::Note(who.to_string(), "skipped: connection gone".into())];
        };
        match read_frame(conn, WAIT) {
            Ok(Some(f)) => vec![Item::Frame(who.to_string(), self.normalize(f, false))],
            Ok(None) => vec![Item::Note(who.to_string(), format!("nothing within {WAIT:?}"))],
            Err(e) => {
                client.conn = None;
                vec![Item::Note(who.to_string(), e)]
            }
        }
    }

    /// `via` publishes the next marker; `who` reads up to it.
    fn mark(&mut self, who: &str, via: &str) -> Vec<Item> {
        self.marks += 1;
        let seq = self.marks.to_string();
        let mut items = self.command(via, &format!("PUBLISH {MARK_CHANNEL} {seq}"), true);
        let client = self.client(who);
        let marker = message_frame(client.proto, MARK_CHANNEL, &seq);
        let Some(conn) = client.conn.as_mut() else {
            items.push(Item::Note(who.to_string(), "skipped: connection gone".into()));
            return items;
        };
        let deadline = Instant::now() + WAIT;
        let mut frames = Vec::new();
        let failure = loop {
            match read_frame(conn, deadline.saturating_duration_since(Instant::now())) {
                Ok(Some(f)) => {
                    let done = f == marker;
                    frames.push(f);
                    if done {
                        break None;
                    }
                }
                Ok(None) => break Some(format!("marker {seq} not received within {WAIT:?}")),
                Err(e) => break Some(e),
            }
        };
        if failure.is_some() {
            client.conn = None;
        }
        items.extend(frames.into_iter().map(|f| Item::Frame(who.to_string(), self.normalize(f, false))));
        if let Some(e) = failure {
            items.push(Item::Note(who.to_string(), e));
        }
        items
    }

    /// Closes `who`'s connection and waits until the server no longer lists the client.
    fn close(&mut self, who: &str) -> Vec<Item> {
        let client = self.client(who);
        client.conn = None;
        let id = client.id.to_string();
        let needle = format!("id={id} ");
        let deadline = Instant::now() + WAIT;
        loop {
            let list = match self.admin.try_cmd(&[b"CLIENT", b"LIST", b"ID", id.as_bytes()]) {
                Ok(r) => r,
                Err(e) => panic!("{}: CLIENT LIST ID {id} failed: {e}", self.label),
            };
            if !String::from_utf8_lossy(&list).contains(&needle) {
                return Vec::new();
            }
            if Instant::now() >= deadline {
                return vec![Item::Note(who.to_string(), format!("server still lists the client after {WAIT:?}"))];
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The `tracking_*` fields of INFO clients and INFO stats.
    fn info(&mut self) -> Item {
        let mut fields = Vec::new();
        for section in ["clients", "stats"] {
            let reply = self
                .admin
                .try_cmd(&[b"INFO", section.as_bytes()])
                .unwrap_or_else(|e| panic!("{}: INFO {section} failed: {e}", self.label));
            let text = String::from_utf8_lossy(&reply).into_owned();
            fields.extend(text.split("\r\n").filter(|l| l.starts_with("tracking_")).map(str::to_string));
        }
        Item::Info(fields.join(" "))
    }

    /// Reads every connection until nothing more is pending (after the caller slept).
    fn drain_all(&mut self) -> Vec<Item> {
        let mut items = Vec::new();
        let mut frames = Vec::new();
        for c in &mut self.clients {
            let Some(conn) = c.conn.as_mut() else { continue };
            let start = Instant::now();
            while start.elapsed() < WAIT {
                match read_frame(conn, Duration::from_millis(20)) {
                    Ok(Some(f)) => frames.push((c.name.clone(), f)),
                    Ok(None) => break,
                    Err(e) => {
                        items.push(Item::Note(c.name.clone(), e));
                        c.conn = None;
                        break;
                    }
                }
            }
        }
        for (who, f) in frames {
            items.push(Item::Frame(who, self.normalize(f, false)));
        }
        items
    }
}

/// One executed script line: its text and what each server produced.
struct Step {
    line: String,
    items: [Vec<Item>; 2],
}

fn show_items(items: &[Item]) -> String {
    if items.is_empty() {
        return "(no frames)".to_string();
    }
    items.iter().map(Item::show).collect::<Vec<_>>().join("\n           ")
}

fn transcript(steps: &[Step], side: usize) -> String {
    let mut s = String::new();
    for (i, step) in steps.iter().enumerate() {
        s.push_str(&format!("  #{i:<3} {}\n", step.line));
        for item in &step.items[side] {
            s.push_str(&format!("         {}\n", item.show()));
        }
    }
    s
}

/// redis-server (side 0) and rustis-server — or a second redis-server in self-check
/// mode — (side 1), driven in lockstep.
struct Diff {
    sides: [Side; 2],
    /// Reports of the scenarios that differed, or whose pins failed.
    failures: Vec<String>,
}

impl Diff {
    /// Starts both servers and opens the connections `spec` declares on each. `None`
    /// (after a note) when redis-server is not installed and `RUSTIS_REQUIRE_REDIS` is not
    /// `1`.
    fn start(spec: &[(&str, Proto)]) -> Option<Diff> {
        let Some(redis) = common::start_redis(SERVER_ARGS) else {
            eprintln!("SKIPPED: redis-server not found on PATH (set RUSTIS_REQUIRE_REDIS=1 to fail instead)");
            return None;
        };
        let second = if std::env::var(SELFCHECK_ENV).is_ok_and(|v| v == "1") {
            let other = common::start_redis(SERVER_ARGS).expect("redis-server was available a moment ago");
            Side::new("redis#2", other, spec)
        } else {
            Side::new("rustis", common::start_rustis(SERVER_ARGS), spec)
        };
        Some(Diff { sides: [Side::new("redis", redis, spec), second], failures: Vec::new() })
    }

    /// Runs `script` on both servers, then drains every connection.
    fn run(&mut self, title: &str, script: &[&str]) -> Vec<Step> {
        let mut steps: Vec<Step> = Vec::new();
        for raw in script {
            let line = parse(raw);
            match &line {
                Line::Sleep(ms) => std::thread::sleep(Duration::from_millis(*ms)),
                Line::Pin(expected) => {
                    let step = steps.last().unwrap_or_else(|| panic!("[{title}] a pin needs a step before it"));
                    let mut got = Vec::new();
                    for item in &step.items[0] {
                        match item {
                            Item::Frame(_, f) => got.extend_from_slice(f),
                            Item::Nothing(_) => {}
                            other => got.extend_from_slice(other.show().as_bytes()),
                        }
                    }
                    if &got != expected {
                        self.failures.push(format!(
                            "[{title}] redis-server does not behave as this test documents: after `{}`\n  \
                             expected: {}\n  received: {}",
                            step.line,
                            render(expected),
                            render(&got)
                        ));
                    }
                }
                _ => {
                    let items = [self.sides[0].exec(&line), self.sides[1].exec(&line)];
                    steps.push(Step { line: raw.trim().to_string(), items });
                }
            }
        }
        std::thread::sleep(IDLE);
        let items = [self.sides[0].drain_all(), self.sides[1].drain_all()];
        steps.push(Step { line: "(end of script: anything still arriving)".to_string(), items });
        if std::env::var(SHOW_ENV).is_ok_and(|v| v == "1") {
            eprintln!("[{title}] {} transcript:\n{}", self.sides[0].label, transcript(&steps, 0));
        }
        steps
    }

    /// Runs `script` and records a failure report if the two servers differ anywhere.
    fn check(&mut self, title: &str, script: &[&str]) {
        let steps = self.run(title, script);
        let (a, b) = (self.sides[0].label, self.sides[1].label);
        let diffs: Vec<String> = steps
            .iter()
            .enumerate()
            .filter(|(_, s)| s.items[0] != s.items[1])
            .map(|(i, s)| {
                format!(
                    "  #{i} `{}`\n    {a:<7}: {}\n    {b:<7}: {}",
                    s.line,
                    show_items(&s.items[0]),
                    show_items(&s.items[1])
                )
            })
            .collect();
        if !diffs.is_empty() {
            self.failures.push(format!(
                "[{title}] {} of {} steps differ:\n{}\n--- {a} transcript ---\n{}--- {b} transcript ---\n{}",
                diffs.len(),
                steps.len(),
                diffs.join("\n"),
                transcript(&steps, 0),
                transcript(&steps, 1)
            ));
        }
    }

    /// Panics with every recorded report.
    fn finish(self) {
        if !self.failures.is_empty() {
            let logs = format!(
                "(server logs: {} and {})",
                self.sides[0].server.log_path().display(),
                self.sides[1].server.log_path().display()
            );
            panic!("{}\n\n{logs}", self.failures.join("\n\n"));
        }
    }
}

/// Runs one scenario: start, check, finish.
fn scenario(title: &str, spec: &[(&str, Proto)], script: &[&str]) {
    let Some(mut d) = Diff::start(spec) else { return };
    d.check(title, script);
    d.finish();
}

// ---------------------------------------------------------------------------------------
// Default mode
// ---------------------------------------------------------------------------------------

/// Default mode (RESP3): a read remembers the key; the first write to it by anybody sends
/// one `invalidate` push with the key and forgets it, so a second write sends nothing
/// until the key is read again. One push per key, in write order (MSET of two tracked keys
/// gives two pushes). Every kind of modification counts (SET, APPEND, DEL, EXPIRE, INCR,
/// LPUSH, HSET even when the value does not change, RENAME both keys, ...), a write that
/// changes nothing (DEL of a missing key, SREM of a missing member, a WRONGTYPE error)
/// does not. Only read-only commands track (EXISTS, TYPE, STRLEN, TTL, SINTER, ...);
/// commands flagged as writes never do, even when they return the value (GETSET, GETDEL,
/// INCR), and key-less reads (DBSIZE) track nothing. Reads inside MULTI are tracked; every
/// tracking client that read a key gets its own push.
#[test]
fn default_mode_invalidates_tracked_keys() {
    scenario(
        "default mode",
        &[("A", Resp3), ("B", Resp2), ("D", Resp3)],
        &[
            "A: CLIENT TRACKING ON",
            "= +OK\\r\\n",
            "A: GET k",
            "= _\\r\\n",
            "B: SET k 1",
            "A: PING",
            "= >2\\r\\n$10\\r\\ninvalidate\\r\\n*1\\r\\n$1\\r\\nk\\r\\n+PONG\\r\\n",
            // The key is no longer tracked: a second write sends nothing.
            "B: SET k 2",
            "A: PING",
            "= +PONG\\r\\n",
            "A: GET k",
            "B: APPEND k x",
            "A: PING",
            "A: MGET m1 m2 m3",
            "B: MSET m3 c m1 a",
            "A: PING",
            "= >2\\r\\n$10\\r\\ninvalidate\\r\\n*1\\r\\n$2\\r\\nm3\\r\\n>2\\r\\n$10\\r\\ninvalidate\\r\\n*1\\r\\n$2\\r\\nm1\\r\\n+PONG\\r\\n",
            "B: SET m2 b",
            "A: PING",
            "B: SET m1 again",
            "A: PING",
            // Every kind of write.
            "B: MSET s v n 1 e v r1 x",
            "B: RPUSH l a",
            "B: HSET h f v",
            "B: SADD st a",
            "B: ZADD z 1 a",
            "A: MGET s n e r1 r2 missing",
            "A: LRANGE l 0 -1",
            "A: HGET h f",
            "A: SMEMBERS st",
            "A: ZRANGE z 0 -1",
            "B: DEL missing",
            "A: PING",
            "B: DEL s",
            "A: PING",
            "B: INCR n",
            "A: PING",
            "B: LPUSH l b",
            "A: PING",
            "B: HSET h f v",
            "= :0\\r\\n",
            "A: PING",
            "= >2\\r\\n$10\\r\\ninvalidate\\r\\n*1\\r\\n$1\\r\\nh\\r\\n+PONG\\r\\n",
            "B: SREM st nothere",
            "A: PING",
            "B: SADD st b",
            "A: PING",
            "B: LPUSH e x",
            "A: PING",
            "B: ZINCRBY z 1 a",
            "A: PING",
            "B: RENAME r1 r2",
            "A: PING",
            "= >2\\r\\n$10\\r\\ninvalidate\\r\\n*1\\r\\n$2\\r\\nr1\\r\\n>2\\r\\n$10\\r\\ninvalidate\\r\\n*1\\r\\n$2\\r\\nr2\\r\\n+PONG\\r\\n",
            "B: EXPIRE e 100",
            "A: PING",
            "A: GET e",
            "B: PERSIST e",
            "A: PING",
            "A: GET e",
            "B: PERSIST e",
            "A: PING",
            "B: SETRANGE e 0 y",
            "A: PING",
            // Which commands track.
            "A: EXISTS r1 r2",
            "A: TYPE t1",
            "A: STRLEN t2",
            "A: TTL t3",
            "A: SINTER t4 t5",
            "A: HGETALL t6",
            "A: GETRANGE t7 0 1",
            "A: BITCOUNT t8",
            "A: PFCOUNT t9",
            "A: XRANGE t10 - +",
            "B: MSET r1 1 r2 2 t1 1 t2 1 t3 1 t5 1 t7 1 t8 1",
            "B: HSET t6 f v",
            "B: PFADD t9 a",
            "B: XADD t10 1-0 f v",
            "A: PING",
            "A: GETSET w1 x",
            "A: GETDEL w2",
            "A: INCR w3",
            "A: SINTERSTORE w4 w5",
            "A: DBSIZE",
            "B: MSET w1 1 w2 1 w3 1 w4 1 w5 1",
            "A: PING",
            "= +PONG\\r\\n",
            "A: MULTI",
            "A: GET x1",
            "A: MGET x2 x3",
            "A: EXEC",
            "B: MSET x3 1 x1 1 x2 1",
            "A: PING",
            // Two tracking clients on the same key.
            "D: CLIENT TRACKING ON",
            "A: GET shared",
            "D: GET shared",
            "B: SET shared 1",
            "A: PING",
            "D: PING",
            "B: SET shared 2",
            "A: PING",
            "D: PING",
        ],
    );
}

/// FLUSHDB / FLUSHALL (from another client or the tracking client itself, SYNC or ASYNC,
/// even on an empty database) send every tracking client one `invalidate` push whose
/// payload is a RESP3 null (`>2 $10 invalidate _`), not a key list, and forget every
/// tracked key. Keys are tracked by name only: a write to the same name in another
/// database invalidates. SWAPDB sends nothing although the values behind tracked names
/// change (Redis 7.0 does not invalidate on SWAPDB); MOVE and COPY invalidate the keys
/// they modify.
#[test]
fn flush_swapdb_and_databases() {
    scenario(
        "flush and databases",
        &[("A", Resp3), ("B", Resp2)],
        &[
            "A: CLIENT TRACKING ON",
            "A: GET k",
            "B: SELECT 1",
            "B: SET k v",
            "A: PING",
            "= >2\\r\\n$10\\r\\ninvalidate\\r\\n*1\\r\\n$1\\r\\nk\\r\\n+PONG\\r\\n",
            "A: MGET k j",
            "B: FLUSHDB",
            "A: PING",
            "= >2\\r\\n$10\\r\\ninvalidate\\r\\n_\\r\\n+PONG\\r\\n",
            // Everything was forgotten: writing the keys sends nothing.
            "B: MSET k 1 j 1",
            "A: PING",
            "= +PONG\\r\\n",
            // An empty database, no tracked key: still a null invalidation.
            "B: SELECT 9",
            "B: FLUSHDB",
            "A: PING",
            "= >2\\r\\n$10\\r\\ninvalidate\\r\\n_\\r\\n+PONG\\r\\n",
            "B: FLUSHALL",
            "A: PING",
            "B: FLUSHALL ASYNC",
            "A: PING",
            "B: FLUSHDB SYNC",
            "A: PING",
            // The tracking client's own FLUSHALL: the reply first, then the push.
            "A: FLUSHALL",
            "= +OK\\r\\n",
            "A: PING",
            "= >2\\r\\n$10\\r\\ninvalidate\\r\\n_\\r\\n+PONG\\r\\n",
            "B: SELECT 0",
            "B: SET k v0",
            "B: SELECT 1",
            "B: SET k v1",
            "A: GET k",
            "B: SWAPDB 0 1",
            "A: PING",
            "= +PONG\\r\\n",
            "A: GET k",
            "B: SET mv 1",
            "A: GET mv",
            "B: MOVE mv 0",
            "A: PING",
            "B: SET src 1",
            "A: GET dst",
            "B: COPY src dst",
            "A: PING",
            "A: GET dst",
            "B: COPY src dst",
            "A: PING",
            "B: COPY src dst REPLACE",
            "A: PING",
        ],
    );
}

/// Expiry invalidates: a lazily expired key (found expired by another client's access, by
/// a write, or by the tracking client's own read) and an actively expired one. When the
/// tracking client's own read expires the key, the reply (`_`) comes first and the push
/// after it — and that read tracks the key again, so the next write invalidates once more.
#[test]
fn expiry_invalidates() {
    scenario(
        "expiry",
        &[("A", Resp3), ("B", Resp2)],
        &[
            "A: CLIENT TRACKING ON",
            "B: DEBUG SET-ACTIVE-EXPIRE 0",
            "B: SET e1 v PX 300",
            "A: GET e1",
            "!sleep 500",
            "B: EXISTS e1",
            "A: PING",
            "= >2\\r\\n$10\\r\\ninvalidate\\r\\n*1\\r\\n$2\\r\\ne1\\r\\n+PONG\\r\\n",
            "B: SET e2 v PX 300",
            "A: GET e2",
            "!sleep 500",
            "A: GET e2",
            "= _\\r\\n",
            "A: PING",
            "= >2\\r\\n$10\\r\\ninvalidate\\r\\n*1\\r\\n$2\\r\\ne2\\r\\n+PONG\\r\\n",
            "B: SET e2 v",
            "A: PING",
            "= >2\\r\\n$10\\r\\ninvalidate\\r\\n*1\\r\\n$2\\r\\ne2\\r\\n+PONG\\r\\n",
            "B: SET e3 v",
            "A: GET e3",
            "B: PEXPIRE e3 300",
            "A: PING",
            "A: GET e3",
            "!sleep 500",
            "B: SET e3 new",
            "A: PING",
            "A: GET e3",
            "B: EXPIRE e3 -1",
            "A: PING",
            "B: DEBUG SET-ACTIVE-EXPIRE 1",
            "B: SET e4 v PX 300",
            "A: GET e4",
            "A: !push",
            "= >2\\r\\n$10\\r\\ninvalidate\\r\\n*1\\r\\n$2\\r\\ne4\\r\\n",
            "A: PING",
        ],
    );
}

// ---------------------------------------------------------------------------------------
// Own writes, NOLOOP
// ---------------------------------------------------------------------------------------

/// A client's own writes invalidate its own keys, and the push comes *after* the write's
/// reply (`+OK` then `>2 invalidate [k]`), also after EXEC's reply for writes inside
/// MULTI. With NOLOOP the client gets nothing for its own writes — but the write still
/// forgets the key, so a later write by another client sends nothing either — while
/// other clients' writes still invalidate and other tracking clients still get their
/// pushes. FLUSHALL ignores NOLOOP. `CLIENT TRACKING ON NOLOOP` while already on is
/// accepted, and a later plain `CLIENT TRACKING ON` drops NOLOOP again.
#[test]
fn own_writes_and_noloop() {
    scenario(
        "own writes and NOLOOP",
        &[("A", Resp3), ("B", Resp2), ("D", Resp3)],
        &[
            "A: CLIENT TRACKING ON",
            "A: GET k",
            "A: SET k 1",
            "= +OK\\r\\n",
            "A: PING",
            "= >2\\r\\n$10\\r\\ninvalidate\\r\\n*1\\r\\n$1\\r\\nk\\r\\n+PONG\\r\\n",
            "A: GET k",
            "A: MSET k 2 other 3",
            "A: PING",
            "A: MGET a b",
            "A: DEL a b",
            "A: MSET a 1 b 2",
            "A: PING",
            "= >2\\r\\n$10\\r\\ninvalidate\\r\\n*1\\r\\n$1\\r\\na\\r\\n>2\\r\\n$10\\r\\ninvalidate\\r\\n*1\\r\\n$1\\r\\nb\\r\\n+PONG\\r\\n",
            "A: MGET a b",
            "A: MULTI",
            "A: SET a x",
            "A: GET b",
            "A: DEL b",
            "A: EXEC",
            "= *3\\r\\n+OK\\r\\n$1\\r\\n2\\r\\n:1\\r\\n",
            "A: PING",
            "= >2\\r\\n$10\\r\\ninvalidate\\r\\n*1\\r\\n$1\\r\\na\\r\\n>2\\r\\n$10\\r\\ninvalidate\\r\\n*1\\r\\n$1\\r\\nb\\r\\n+PONG\\r\\n",
            "A: GET c",
            "A: GETSET c 1",
            "A: GETSET c 2",
            "A: PING",
            "A: GET a",
            "B: SET a y",
            "A: PING",
            // NOLOOP.
            "A: CLIENT TRACKING ON NOLOOP",
            "A: CLIENT TRACKINGINFO",
            "D: CLIENT TRACKING ON",
            "A: GET n",
            "D: GET n",
            "A: SET n 1",
            "= +OK\\r\\n",
            "A: PING",
            "= +PONG\\r\\n",
            "D: PING",
            "= >2\\r\\n$10\\r\\ninvalidate\\r\\n*1\\r\\n$1\\r\\nn\\r\\n+PONG\\r\\n",
            "B: SET n 2",
            "A: PING",
            "= +PONG\\r\\n",
            "A: GET n",
            "B: SET n 3",
            "A: PING",
            "= >2\\r\\n$10\\r\\ninvalidate\\r\\n*1\\r\\n$1\\r\\nn\\r\\n+PONG\\r\\n",
            "A: GET n",
            "A: FLUSHALL",
            "= +OK\\r\\n",
            "A: PING",
            "= >2\\r\\n$10\\r\\ninvalidate\\r\\n_\\r\\n+PONG\\r\\n",
            "D: PING",
            "A: CLIENT TRACKING ON",
            "A: CLIENT TRACKINGINFO",
            "A: GET n",
            "A: SET n 4",
            "A: PING",
        ],
    );
}

// ---------------------------------------------------------------------------------------
// BCAST
// ---------------------------------------------------------------------------------------

/// BCAST: no reads needed, every write to a key under one of the client's prefixes is
/// announced; keys under none of them are not. The keys are collected per prefix and sent
/// once per event-loop iteration: one push per prefix (prefixes in lexicographic order),
/// holding that prefix's keys sorted lexicographically and without duplicates (so MSET
/// `user:2 obj:1 user:10 user:1` gives `[obj:1]` then `[user:1, user:10, user:2]`). The
/// client's own writes are announced after its reply (unless NOLOOP). Errors: PREFIX
/// without BCAST, overlapping prefixes in one command (`a`/`ab`, `ab`/`a`, `a`/`a`) or
/// with the prefixes already registered, switching BCAST on/off while tracking, and
/// OPTIN/OPTOUT with BCAST. Quirk kept from Redis: `CLIENT TRACKING ON BCAST` without
/// PREFIX while already in BCAST with prefixes adds the empty prefix without an overlap
/// check, and a key then matching two prefixes is announced twice.
#[test]
fn bcast_and_prefixes() {
    scenario(
        "BCAST",
        &[("A", Resp3), ("B", Resp2), ("D", Resp3)],
        &[
            "A: CLIENT TRACKING ON PREFIX user:",
            "= -ERR PREFIX option requires BCAST mode to be enabled\\r\\n",
            "A: CLIENT TRACKING ON BCAST PREFIX a PREFIX ab",
            "= -ERR Prefix 'a' overlaps with another provided prefix 'ab'. Prefixes for a single client must not overlap.\\r\\n",
            "A: CLIENT TRACKING ON BCAST PREFIX ab PREFIX a",
            "A: CLIENT TRACKING ON BCAST PREFIX a PREFIX a",
            "A: CLIENT TRACKING ON BCAST OPTIN",
            "= -ERR OPTIN and OPTOUT are not compatible with BCAST\\r\\n",
            "A: CLIENT TRACKING ON BCAST OPTOUT",
            "A: CLIENT TRACKINGINFO",
            "A: CLIENT TRACKING ON BCAST PREFIX user: PREFIX obj:",
            "A: CLIENT TRACKINGINFO",
            "B: SET user:1 x",
            "A: PING",
            "= >2\\r\\n$10\\r\\ninvalidate\\r\\n*1\\r\\n$6\\r\\nuser:1\\r\\n+PONG\\r\\n",
            "B: SET other x",
            "A: PING",
            "= +PONG\\r\\n",
            "B: MSET user:2 a obj:1 b user:10 c user:1 d other e",
            "A: PING",
            "= >2\\r\\n$10\\r\\ninvalidate\\r\\n*1\\r\\n$5\\r\\nobj:1\\r\\n>2\\r\\n$10\\r\\ninvalidate\\r\\n*3\\r\\n$6\\r\\nuser:1\\r\\n$7\\r\\nuser:10\\r\\n$6\\r\\nuser:2\\r\\n+PONG\\r\\n",
            "B: DEL user:2 other user:1",
            "A: PING",
            "B: DEL user:2",
            "A: PING",
            "B: MULTI",
            "B: SET user:3 a",
            "B: SET user:3 b",
            "B: DEL user:3",
            "B: SET obj:0 1",
            "B: EXEC",
            "A: PING",
            "= >2\\r\\n$10\\r\\ninvalidate\\r\\n*1\\r\\n$5\\r\\nobj:0\\r\\n>2\\r\\n$10\\r\\ninvalidate\\r\\n*1\\r\\n$6\\r\\nuser:3\\r\\n+PONG\\r\\n",
            "A: GET other",
            "B: SET other z",
            "A: PING",
            "A: SET user:9 v",
            "= +OK\\r\\n",
            "A: PING",
            "= >2\\r\\n$10\\r\\ninvalidate\\r\\n*1\\r\\n$6\\r\\nuser:9\\r\\n+PONG\\r\\n",
            "A: CLIENT TRACKING ON BCAST PREFIX user:",
            "= -ERR Prefix 'user:' overlaps with an existing prefix 'user:'. Prefixes for a single client must not overlap.\\r\\n",
            "A: CLIENT TRACKING ON BCAST PREFIX us",
            "A: CLIENT TRACKING ON BCAST PREFIX user:1:",
            "A: CLIENT TRACKING ON BCAST PREFIX x:",
            "A: CLIENT TRACKINGINFO",
            "A: CLIENT TRACKING ON",
            "= -ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.\\r\\n",
            "A: CLIENT TRACKING ON OPTIN",
            "B: SET x:1 1",
            "A: PING",
            "B: FLUSHALL",
            "A: PING",
            "= >2\\r\\n$10\\r\\ninvalidate\\r\\n_\\r\\n+PONG\\r\\n",
            "A: CLIENT TRACKING OFF",
            "B: SET user:1 x",
            "A: PING",
            // No prefix: every key.
            "A: CLIENT TRACKING ON BCAST",
            "A: CLIENT TRACKINGINFO",
            "= %3\\r\\n$5\\r\\nflags\\r\\n~2\\r\\n$2\\r\\non\\r\\n$5\\r\\nbcast\\r\\n$8\\r\\nredirect\\r\\n:0\\r\\n$8\\r\\nprefixes\\r\\n*1\\r\\n$0\\r\\n\\r\\n",
            "B: SET anything 1",
            "A: PING",
            "B: MSET q 1 p 2",
            "A: PING",
            "A: CLIENT TRACKING ON BCAST PREFIX z",
            "= -ERR Prefix 'z' overlaps with an existing prefix ''. Prefixes for a single client must not overlap.\\r\\n",
            "A: CLIENT TRACKING OFF",
            // The empty prefix added on top of others (no overlap check): duplicates.
            "A: CLIENT TRACKING ON BCAST PREFIX a PREFIX b",
            "A: CLIENT TRACKING ON BCAST",
            "= +OK\\r\\n",
            "A: CLIENT TRACKINGINFO",
            "B: SET a1 x",
            "A: PING",
            "= >2\\r\\n$10\\r\\ninvalidate\\r\\n*1\\r\\n$2\\r\\na1\\r\\n>2\\r\\n$10\\r\\ninvalidate\\r\\n*1\\r\\n$2\\r\\na1\\r\\n+PONG\\r\\n",
            "B: SET c1 x",
            "A: PING",
            "A: CLIENT TRACKING OFF",
            // NOLOOP, and two clients sharing a prefix.
            "A: CLIENT TRACKING ON BCAST NOLOOP PREFIX n:",
            "D: CLIENT TRACKING ON BCAST PREFIX n:",
            "A: SET n:1 x",
            "A: PING",
            "= +PONG\\r\\n",
            "D: PING",
            "B: SET n:2 x",
            "A: PING",
            "D: PING",
        ],
    );
}

// ---------------------------------------------------------------------------------------
// OPTIN / OPTOUT
// ---------------------------------------------------------------------------------------

/// OPTIN: reads are tracked only right after CLIENT CACHING YES, for the next command
/// only (or the next MULTI/EXEC as a whole). Quirk kept from Redis: other CLIENT
/// subcommands (TRACKINGINFO, ID, ...) do not consume the CACHING flag — any other command
/// does, even one rejected for its arity. OPTOUT: reads are tracked unless CLIENT CACHING
/// NO precedes them. CLIENT TRACKING OFF clears the flag; ON OPTIN while on keeps it; ON
/// without OPTIN while in OPTIN is accepted and drops OPTIN. Errors: CLIENT CACHING when
/// tracking is off or in default mode, CACHING NO in OPTIN and YES in OPTOUT, a bad
/// argument, OPTIN with OPTOUT, switching between OPTIN and OPTOUT while on.
#[test]
fn optin_optout_and_caching() {
    scenario(
        "OPTIN/OPTOUT",
        &[("A", Resp3), ("B", Resp2)],
        &[
            "A: CLIENT CACHING YES",
            "= -ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled\\r\\n",
            "A: CLIENT CACHING NO",
            "A: CLIENT CACHING maybe",
            "A: CLIENT CACHING",
            "A: CLIENT CACHING yes no",
            "A: CLIENT TRACKING ON OPTIN OPTOUT",
            "= -ERR You can't specify both OPTIN mode and OPTOUT mode\\r\\n",
            "A: CLIENT TRACKING ON",
            "A: CLIENT CACHING YES",
            "A: CLIENT TRACKING OFF",
            // OPTIN.
            "A: CLIENT TRACKING ON OPTIN",
            "A: CLIENT TRACKINGINFO",
            "A: CLIENT CACHING NO",
            "= -ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.\\r\\n",
            "A: CLIENT CACHING maybe",
            "= -ERR syntax error\\r\\n",
            "A: GET o1",
            "B: SET o1 1",
            "A: PING",
            "= +PONG\\r\\n",
            "A: CLIENT CACHING YES",
            "A: CLIENT TRACKINGINFO",
            "A: GET o1",
            "A: GET o2",
            "B: MSET o1 2 o2 2",
            "A: PING",
            "= >2\\r\\n$10\\r\\ninvalidate\\r\\n*1\\r\\n$2\\r\\no1\\r\\n+PONG\\r\\n",
            "A: CLIENT CACHING yes",
            "A: PING",
            "A: GET o1",
            "B: SET o1 3",
            "A: PING",
            "= +PONG\\r\\n",
            "A: CLIENT CACHING YES",
            "A: CLIENT ID",
            "A: GET o1",
            "B: SET o1 4",
            "A: PING",
            "= >2\\r\\n$10\\r\\ninvalidate\\r\\n*1\\r\\n$2\\r\\no1\\r\\n+PONG\\r\\n",
            "A: CLIENT CACHING YES",
            "A: GET too many",
            "A: GET o1",
            "B: SET o1 5",
            "A: PING",
            "= +PONG\\r\\n",
            "A: CLIENT CACHING YES",
            "A: MULTI",
            "A: GET o1",
            "A: GET o2",
            "A: EXEC",
            "B: MSET o1 6 o2 6",
            "A: PING",
            "A: CLIENT CACHING YES",
            "A: CLIENT TRACKING OFF",
            "A: CLIENT TRACKING ON OPTIN",
            "A: CLIENT TRACKINGINFO",
            "A: GET o1",
            "B: SET o1 7",
            "A: PING",
            "A: CLIENT CACHING YES",
            "A: CLIENT TRACKING ON OPTIN",
            "A: CLIENT TRACKINGINFO",
            "A: GET o1",
            "B: SET o1 8",
            "A: PING",
            "A: CLIENT TRACKING ON OPTOUT",
            "= -ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.\\r\\n",
            "A: CLIENT TRACKING ON BCAST",
            "A: CLIENT TRACKING ON",
            "= +OK\\r\\n",
            "A: CLIENT TRACKINGINFO",
            "A: GET o3",
            "B: SET o3 1",
            "A: PING",
            "A: CLIENT TRACKING OFF",
            // OPTOUT.
            "A: CLIENT TRACKING ON OPTOUT",
            "A: CLIENT TRACKINGINFO",
            "A: CLIENT CACHING YES",
            "= -ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.\\r\\n",
            "A: GET p1",
            "A: CLIENT CACHING NO",
            "A: CLIENT TRACKINGINFO",
            "A: GET p2",
            "A: GET p3",
            "B: MSET p1 1 p2 1 p3 1",
            "A: PING",
            "= >2\\r\\n$10\\r\\ninvalidate\\r\\n*1\\r\\n$2\\r\\np1\\r\\n>2\\r\\n$10\\r\\ninvalidate\\r\\n*1\\r\\n$2\\r\\np3\\r\\n+PONG\\r\\n",
            "A: CLIENT CACHING no",
            "A: MULTI",
            "A: GET p1",
            "A: GET p2",
            "A: EXEC",
            "B: MSET p1 2 p2 2",
            "A: PING",
            "A: CLIENT CACHING NO",
            "A: ECHO x",
            "A: GET p1",
            "B: SET p1 3",
            "A: PING",
            "A: CLIENT TRACKING ON OPTOUT NOLOOP",
            "A: CLIENT CACHING NO",
            "A: CLIENT TRACKINGINFO",
            "A: CLIENT TRACKING ON OPTIN",
            "A: CLIENT TRACKING OFF",
            "A: CLIENT CACHING NO",
        ],
    );
}

// ---------------------------------------------------------------------------------------
// REDIRECT
// ---------------------------------------------------------------------------------------

/// REDIRECT from a RESP2 client: the target gets `message __redis__:invalidate [key]`
/// (`*3 $7 message $20 __redis__:invalidate *1 $1 k`) as long as it is in Pub/Sub mode —
/// subscribed to *any* channel, not necessarily `__redis__:invalidate` (Redis only checks
/// the Pub/Sub flag). FLUSHALL sends the message with a null payload, in the tracking
/// client's protocol (`$-1`). BCAST works through the redirect too. A RESP2 target that
/// is not in Pub/Sub mode gets nothing; a RESP3 target gets `>2 invalidate [k]` pushes
/// without subscribing, and for FLUSHALL the null is again the *tracking* (RESP2) client's
/// `$-1`, inside a RESP3 push. Redirecting to a nonexistent id or a non-integer is an
/// error; the redirect can be changed while tracking is on.
#[test]
fn redirect_from_resp2_client() {
    scenario(
        "REDIRECT from RESP2",
        &[("A", Resp2), ("W", Resp2), ("C", Resp2), ("E", Resp2), ("T", Resp2), ("R", Resp3)],
        &[
            "C: CLIENT ID",
            "= :<id:C>\\r\\n",
            "C: SUBSCRIBE __redis__:invalidate mark",
            "A: CLIENT TRACKING ON REDIRECT 999999999",
            "= -ERR The client ID you want redirect to does not exist\\r\\n",
            "A: CLIENT TRACKING ON REDIRECT abc",
            "= -ERR value is not an integer or out of range\\r\\n",
            "A: CLIENT TRACKING ON REDIRECT 0",
            "A: CLIENT TRACKING ON REDIRECT -1",
            "A: CLIENT TRACKINGINFO",
            "A: CLIENT TRACKING ON REDIRECT {C}",
            "= +OK\\r\\n",
            "A: CLIENT GETREDIR",
            "= :<id:C>\\r\\n",
            "A: CLIENT TRACKINGINFO",
            "= *6\\r\\n$5\\r\\nflags\\r\\n*1\\r\\n$2\\r\\non\\r\\n$8\\r\\nredirect\\r\\n:<id:C>\\r\\n$8\\r\\nprefixes\\r\\n*0\\r\\n",
            "A: GET k",
            "W: SET k 1",
            "C: !mark W",
            "= :1\\r\\n*3\\r\\n$7\\r\\nmessage\\r\\n$20\\r\\n__redis__:invalidate\\r\\n*1\\r\\n$1\\r\\nk\\r\\n*3\\r\\n$7\\r\\nmessage\\r\\n$4\\r\\nmark\\r\\n$1\\r\\n1\\r\\n",
            "A: GET k",
            "A: SET k 2",
            "= +OK\\r\\n",
            "C: !mark W",
            "A: MGET x y",
            "W: MSET y 1 x 2",
            "C: !mark W",
            "W: FLUSHALL",
            "C: !mark W",
            "= :1\\r\\n*3\\r\\n$7\\r\\nmessage\\r\\n$20\\r\\n__redis__:invalidate\\r\\n$-1\\r\\n*3\\r\\n$7\\r\\nmessage\\r\\n$4\\r\\nmark\\r\\n$1\\r\\n4\\r\\n",
            "A: CLIENT TRACKING OFF",
            "A: CLIENT TRACKING ON BCAST PREFIX u: REDIRECT {C}",
            "A: CLIENT TRACKINGINFO",
            "W: MSET u:2 1 u:1 1 v 1",
            "C: !mark W",
            "A: CLIENT TRACKING OFF",
            // A subscriber of another channel only still gets the invalidations.
            "E: SUBSCRIBE mark",
            "A: CLIENT TRACKING ON REDIRECT {E}",
            "A: GET k",
            "W: SET k 3",
            "E: !mark W",
            "= :2\\r\\n*3\\r\\n$7\\r\\nmessage\\r\\n$20\\r\\n__redis__:invalidate\\r\\n*1\\r\\n$1\\r\\nk\\r\\n*3\\r\\n$7\\r\\nmessage\\r\\n$4\\r\\nmark\\r\\n$1\\r\\n6\\r\\n",
            "C: !mark W",
            // A RESP2 target not in Pub/Sub mode: nothing can be delivered.
            "A: CLIENT TRACKING ON REDIRECT {T}",
            "A: CLIENT GETREDIR",
            "A: GET k",
            "W: SET k 4",
            "T: PING",
            "= +PONG\\r\\n",
            // A RESP3 target: pushes, no subscription needed.
            "A: CLIENT TRACKING ON REDIRECT {R}",
            "A: CLIENT TRACKINGINFO",
            "A: GET k",
            "W: SET k 5",
            "R: PING",
            "= >2\\r\\n$10\\r\\ninvalidate\\r\\n*1\\r\\n$1\\r\\nk\\r\\n+PONG\\r\\n",
            "W: FLUSHALL",
            "R: PING",
            "= >2\\r\\n$10\\r\\ninvalidate\\r\\n$-1\\r\\n+PONG\\r\\n",
            "A: PING",
            "A: CLIENT TRACKING OFF",
            "A: CLIENT GETREDIR",
        ],
    );
}

/// REDIRECT from a RESP3 client to a RESP2 subscriber: FLUSHALL's null payload is the
/// tracking client's RESP3 `_` inside the RESP2 `message` (`*3 ... $20
/// __redis__:invalidate _`) — Redis encodes the null for the client that tracks, not for
/// the one that receives. When the redirect target disconnects nothing is sent at once;
/// the next invalidation that cannot be delivered sends the tracking client a
/// `>2 $21 tracking-redir-broken :<id>` push instead (one per invalidated key, also for
/// FLUSH*), the key is still forgotten, TRACKINGINFO gains `broken_redirect` and GETREDIR
/// still returns the old id. Re-enabling with the dead id is an error; plain
/// `CLIENT TRACKING ON` clears the broken state (redirect 0). A RESP2 tracking client with
/// a broken redirect gets nothing at all, but its TRACKINGINFO shows `broken_redirect`.
#[test]
fn redirect_from_resp3_client_and_broken_redirect() {
    scenario(
        "REDIRECT from RESP3, broken redirect",
        &[("A", Resp3), ("W", Resp2), ("C", Resp2), ("G", Resp2), ("P", Resp2)],
        &[
            "C: SUBSCRIBE __redis__:invalidate mark",
            "A: CLIENT TRACKING ON REDIRECT {C}",
            "A: GET k",
            "W: SET k 1",
            "C: !mark W",
            "A: PING",
            "= +PONG\\r\\n",
            "W: FLUSHALL",
            "C: !mark W",
            "= :1\\r\\n*3\\r\\n$7\\r\\nmessage\\r\\n$20\\r\\n__redis__:invalidate\\r\\n_\\r\\n*3\\r\\n$7\\r\\nmessage\\r\\n$4\\r\\nmark\\r\\n$1\\r\\n2\\r\\n",
            "A: GET k",
            "C: !close",
            "A: PING",
            "= +PONG\\r\\n",
            "A: CLIENT TRACKINGINFO",
            "A: CLIENT GETREDIR",
            "W: SET k 2",
            "A: PING",
            "= >2\\r\\n$21\\r\\ntracking-redir-broken\\r\\n:<id:C>\\r\\n+PONG\\r\\n",
            "A: CLIENT TRACKINGINFO",
            "= %3\\r\\n$5\\r\\nflags\\r\\n~2\\r\\n$2\\r\\non\\r\\n$15\\r\\nbroken_redirect\\r\\n$8\\r\\nredirect\\r\\n:<id:C>\\r\\n$8\\r\\nprefixes\\r\\n*0\\r\\n",
            "A: CLIENT GETREDIR",
            "W: SET k 3",
            "A: PING",
            "= +PONG\\r\\n",
            "A: MGET x y",
            "W: MSET x 1 y 1",
            "A: PING",
            "W: FLUSHDB",
            "A: PING",
            "A: CLIENT TRACKING ON REDIRECT {C}",
            "= -ERR The client ID you want redirect to does not exist\\r\\n",
            "A: CLIENT TRACKING ON",
            "A: CLIENT TRACKINGINFO",
            "A: GET k",
            "W: SET k 4",
            "A: PING",
            "A: CLIENT TRACKING OFF",
            // BCAST through a redirect that breaks.
            "A: CLIENT TRACKING ON BCAST REDIRECT {G}",
            "G: !close",
            "W: MSET q1 1 q2 2",
            "A: PING",
            "A: CLIENT TRACKINGINFO",
            "A: CLIENT TRACKING OFF",
            // A RESP2 tracking client: no push is possible.
            "P: CLIENT TRACKING ON REDIRECT {A}",
            "P: GET z",
            "A: !close",
            "W: SET z 1",
            "P: PING",
            "= +PONG\\r\\n",
            "P: CLIENT TRACKINGINFO",
            "P: CLIENT GETREDIR",
        ],
    );
}

/// A RESP2 client may turn tracking on without REDIRECT (`+OK`, also with BCAST), but it
/// never receives anything: RESP2 has no pushes, so the invalidations are dropped (and the
/// keys forgotten). After HELLO 3 the same connection starts receiving pushes; after
/// HELLO 2 it stops again.
#[test]
fn resp2_without_redirect() {
    scenario(
        "RESP2 without REDIRECT",
        &[("A", Resp2), ("W", Resp2)],
        &[
            "A: CLIENT TRACKING ON",
            "= +OK\\r\\n",
            "A: CLIENT TRACKINGINFO",
            "= *6\\r\\n$5\\r\\nflags\\r\\n*1\\r\\n$2\\r\\non\\r\\n$8\\r\\nredirect\\r\\n:0\\r\\n$8\\r\\nprefixes\\r\\n*0\\r\\n",
            "A: CLIENT GETREDIR",
            "= :0\\r\\n",
            "A: GET k",
            "W: SET k 1",
            "A: PING",
            "= +PONG\\r\\n",
            "A: GET k",
            "A: SET k 2",
            "= +OK\\r\\n",
            "A: FLUSHALL",
            "= +OK\\r\\n",
            "A: !idle",
            "A: GET k",
            "A: ~HELLO 3",
            "W: SET k 3",
            "A: PING",
            "= >2\\r\\n$10\\r\\ninvalidate\\r\\n*1\\r\\n$1\\r\\nk\\r\\n+PONG\\r\\n",
            "A: GET k",
            "A: ~HELLO 2",
            "W: SET k 4",
            "A: PING",
            "= +PONG\\r\\n",
            "A: CLIENT TRACKING OFF",
            "A: CLIENT TRACKING ON BCAST",
            "W: SET k 5",
            "A: PING",
            "A: !idle",
            "A: CLIENT TRACKINGINFO",
        ],
    );
}

// ---------------------------------------------------------------------------------------
// CLIENT GETREDIR / CLIENT TRACKINGINFO / errors
// ---------------------------------------------------------------------------------------

/// CLIENT GETREDIR (-1 when off, 0 when on without redirect, the id with one) and CLIENT
/// TRACKINGINFO (a map in RESP3, a flat array in RESP2: `flags` as a set/array in the
/// order on, bcast, optin, caching-yes, optout, caching-no, noloop, broken_redirect; or
/// just `off`; `redirect` -1 when off; `prefixes` sorted) in every mode, in both
/// protocols. Re-issuing `CLIENT TRACKING ON` replaces the options: without REDIRECT the
/// redirect goes back to 0, without NOLOOP the flag goes away.
#[test]
fn getredir_and_trackinginfo() {
    let modes: &[&str] = &[
        "OFF",
        "ON",
        "ON NOLOOP",
        "ON REDIRECT {C}",
        "ON",
        "ON REDIRECT {C} NOLOOP",
        "OFF",
        "ON OPTIN",
        "!CACHING YES",
        "ON OPTIN NOLOOP REDIRECT {C}",
        "OFF",
        "ON OPTOUT",
        "!CACHING NO",
        "OFF",
        "ON BCAST",
        "OFF",
        "ON BCAST PREFIX z: PREFIX a: PREFIX m: NOLOOP REDIRECT {C}",
        "ON BCAST PREFIX b:",
        "OFF",
    ];
    let mut script = Vec::new();
    for who in ["A", "B"] {
        for m in modes {
            match m.strip_prefix('!') {
                Some(caching) => script.push(format!("{who}: CLIENT {caching}")),
                None => script.push(format!("{who}: CLIENT TRACKING {m}")),
            }
            script.push(format!("{who}: CLIENT GETREDIR"));
            script.push(format!("{who}: CLIENT TRACKINGINFO"));
        }
    }
    let script: Vec<&str> = script.iter().map(String::as_str).collect();
    scenario("GETREDIR and TRACKINGINFO", &[("A", Resp3), ("B", Resp2), ("C", Resp2)], &script);
}

/// Error replies and option parsing of CLIENT TRACKING / CACHING / GETREDIR /
/// TRACKINGINFO: arity errors name the subcommand (`client|tracking`), unknown options and
/// missing option values are `-ERR syntax error`, options are case-insensitive and may
/// repeat, OFF accepts (and ignores) the ON options but still validates a REDIRECT id.
/// CLIENT TRACKING OFF resets the mode, but keys tracked before it stay in the tracking
/// table: after OFF and ON again, a write to a key read before OFF still invalidates it.
/// Switching to BCAST discards such pending keys instead.
#[test]
fn tracking_errors_and_off() {
    scenario(
        "errors and OFF",
        &[("A", Resp3), ("W", Resp2)],
        &[
            "A: CLIENT TRACKING",
            "= -ERR wrong number of arguments for 'client|tracking' command\\r\\n",
            "A: CLIENT TRACKING maybe",
            "= -ERR syntax error\\r\\n",
            "A: CLIENT TRACKING ON FOO",
            "A: CLIENT TRACKING ON REDIRECT",
            "A: CLIENT TRACKING ON PREFIX",
            "A: CLIENT TRACKING ON BCAST PREFIX",
            "A: CLIENT TRACKING ON REDIRECT 1x",
            "A: CLIENT TRACKING ON REDIRECT 99999999999999999999",
            "A: CLIENT TRACKING ON REDIRECT {W} REDIRECT 999999999",
            "A: CLIENT TRACKING OFF FOO",
            "A: CLIENT TRACKING OFF BCAST",
            "= +OK\\r\\n",
            "A: CLIENT TRACKING OFF PREFIX a",
            "A: CLIENT TRACKING OFF OPTIN OPTOUT",
            "A: CLIENT TRACKING OFF REDIRECT 999999999",
            "= -ERR The client ID you want redirect to does not exist\\r\\n",
            "A: CLIENT TRACKINGINFO",
            "A: CLIENT TRACKINGINFO x",
            "= -ERR wrong number of arguments for 'client|trackinginfo' command\\r\\n",
            "A: CLIENT GETREDIR x",
            "A: CLIENT CACHING",
            "A: CLIENT CACHING yes no",
            "A: CLIENT TRACKING oN bcast prefix x noloop",
            "A: CLIENT TRACKINGINFO",
            "A: CLIENT TRACKING ON BCAST BCAST",
            "A: CLIENT TRACKING oFf",
            "A: CLIENT TRACKING OFF",
            "A: CLIENT TRACKING ON NOLOOP NOLOOP OPTIN OPTIN",
            "A: CLIENT TRACKINGINFO",
            "A: CLIENT TRACKING OFF",
            // OFF keeps the keys already tracked.
            "A: CLIENT TRACKING ON",
            "A: GET k",
            "A: CLIENT TRACKING OFF",
            "W: SET k 1",
            "A: PING",
            "= +PONG\\r\\n",
            "A: CLIENT TRACKING ON",
            "A: GET k2",
            "A: CLIENT TRACKING OFF",
            "A: CLIENT TRACKINGINFO",
            "A: CLIENT TRACKING ON",
            "W: SET k2 1",
            "A: PING",
            "= >2\\r\\n$10\\r\\ninvalidate\\r\\n*1\\r\\n$2\\r\\nk2\\r\\n+PONG\\r\\n",
            "A: GET k3",
            "A: CLIENT TRACKING OFF",
            "A: CLIENT TRACKING ON BCAST PREFIX zzz",
            "W: SET k3 1",
            "A: PING",
            "= +PONG\\r\\n",
            "A: CLIENT TRACKING OFF",
            "A: CLIENT TRACKING ON",
            "W: SET k3 2",
            "A: PING",
        ],
    );
}

// ---------------------------------------------------------------------------------------
// INFO, tracking-table-max-keys
// ---------------------------------------------------------------------------------------

/// INFO: `tracking_clients` (clients with tracking on) in Clients; in Stats
/// `tracking_total_keys` (distinct key names in the tracking table),
/// `tracking_total_items` (key/client pairs) and `tracking_total_prefixes` (distinct BCAST
/// prefixes over all clients). Turning tracking off or disconnecting does not remove a
/// client's keys from the table (they go when invalidated); it removes its prefixes.
#[test]
fn info_tracking_counters() {
    scenario(
        "INFO counters",
        &[("A", Resp3), ("D", Resp3), ("E", Resp2), ("W", Resp2)],
        &[
            "!info",
            "= INFO tracking_clients:0 tracking_total_keys:0 tracking_total_items:0 tracking_total_prefixes:0",
            "A: CLIENT TRACKING ON",
            "!info",
            "A: MGET a b c",
            "!info",
            "A: MGET a b",
            "!info",
            "D: CLIENT TRACKING ON",
            "D: MGET a b x",
            "!info",
            "= INFO tracking_clients:2 tracking_total_keys:4 tracking_total_items:6 tracking_total_prefixes:0",
            "W: SET a 1",
            "!info",
            "D: CLIENT TRACKING OFF",
            "!info",
            "W: SET b 1",
            "!info",
            "D: CLIENT TRACKING ON BCAST PREFIX p PREFIX q",
            "!info",
            "E: CLIENT TRACKING ON BCAST PREFIX p PREFIX r",
            "!info",
            "= INFO tracking_clients:3 tracking_total_keys:2 tracking_total_items:2 tracking_total_prefixes:3",
            "D: GET c",
            "W: SET x 1",
            "!info",
            "E: !close",
            "!info",
            "D: CLIENT TRACKING OFF",
            "!info",
            "A: !close",
            "!info",
            "W: SET c 1",
            "!info",
            "D: CLIENT TRACKING ON OPTIN",
            "D: GET c",
            "D: CLIENT CACHING YES",
            "D: GET d",
            "!info",
            "W: FLUSHALL",
            "!info",
            "= INFO tracking_clients:1 tracking_total_keys:0 tracking_total_items:0 tracking_total_prefixes:0",
        ],
    );
}

/// The invalidated keys of an eviction run, from `A`'s pushes (`None` for a push that is
/// not a one-key `invalidate`), and `A`'s other frames plus the INFO items, in order.
fn split_pushes(items: &[Item]) -> (Vec<Option<String>>, Vec<String>) {
    let (mut keys, mut rest) = (Vec::new(), Vec::new());
    for item in items {
        match item {
            Item::Frame(who, f) if who == "A" && f.starts_with(b">") => {
                let text = String::from_utf8_lossy(f);
                let key = text
                    .strip_prefix(">2\r\n$10\r\ninvalidate\r\n*1\r\n$")
                    .and_then(|r| r.split_once("\r\n"))
                    .and_then(|(n, r)| r.strip_suffix("\r\n").filter(|k| n.parse::<usize>().ok() == Some(k.len())));
                keys.push(key.map(str::to_string));
            }
            other => rest.push(other.show()),
        }
    }
    (keys, rest)
}

/// `tracking-table-max-keys`: when the tracking table holds more keys than allowed,
/// Redis evicts keys picked at random and invalidates them at once (a push each to the
/// tracking client) — before the tracking client's next reply, here a PING right after
/// the reads. Which keys are evicted is random in Redis, so what is compared per phase
/// is: every reply and INFO line exactly; the number of eviction pushes (tracked - limit);
/// that they name distinct tracked keys; and that writing every tracked key afterwards
/// invalidates exactly the keys that were not evicted. Also CONFIG GET/SET of the option
/// (default 1000000, 0 = no limit, the range error) and lowering the limit below the
/// table size (the next command evicts).
#[test]
fn tracking_table_max_keys() {
    let Some(mut d) = Diff::start(&[("A", Resp3), ("W", Resp2)]) else { return };
    d.check(
        "tracking-table-max-keys config",
        &[
            "W: CONFIG GET tracking-table-max-keys",
            "= *2\\r\\n$23\\r\\ntracking-table-max-keys\\r\\n$7\\r\\n1000000\\r\\n",
            "W: CONFIG SET tracking-table-max-keys -1",
            "W: CONFIG SET tracking-table-max-keys abc",
            "W: CONFIG SET tracking-table-max-keys 2",
            "W: CONFIG GET tracking-table-max-keys",
            "A: CLIENT TRACKING ON",
        ],
    );
    // (title, the reads (ending with A's PING), the keys read, the limit)
    let phases: [(&str, Vec<&str>, &[&str], usize); 3] = [
        ("one MGET of 5 keys, limit 2", vec!["A: MGET k1 k2 k3 k4 k5", "A: PING"], &["k1", "k2", "k3", "k4", "k5"], 2),
        (
            "5 GETs, limit 2",
            vec!["A: GET g1", "A: GET g2", "A: GET g3", "A: GET g4", "A: GET g5", "A: PING"],
            &["g1", "g2", "g3", "g4", "g5"],
            2,
        ),
        (
            "4 keys tracked without a limit, then limit 1",
            vec![
                "W: CONFIG SET tracking-table-max-keys 0",
                "A: MGET h1 h2 h3 h4",
                "A: PING",
                "!info",
                "W: CONFIG SET tracking-table-max-keys 1",
                "A: PING",
            ],
            &["h1", "h2", "h3", "h4"],
            1,
        ),
    ];
    for (title, mut reads, keys, limit) in phases {
        reads.push("!info");
        let write = format!("W: MSET {}", keys.iter().map(|k| format!("{k} 1")).collect::<Vec<_>>().join(" "));
        let after = [write.as_str(), "A: PING", "!info"];
        let read_steps = d.run(&format!("{title}: reads"), &reads);
        let write_steps = d.run(&format!("{title}: writes"), &after);
        let mut summaries = Vec::new();
        for side in 0..2 {
            let items = |steps: &[Step]| steps.iter().flat_map(|s| s.items[side].clone()).collect::<Vec<_>>();
            // The last step of a run is the final drain: pushes there came after A's PONG.
            let (reading, late) = read_steps.split_at(read_steps.len() - 1);
            let (evicted, rest_reads) = split_pushes(&items(reading));
            let (late, _) = split_pushes(&items(late));
            let (invalidated, rest_writes) = split_pushes(&items(&write_steps));
            let mut s = vec![format!("replies and INFO while reading: {rest_reads:?}")];
            s.push(format!("replies and INFO while writing: {rest_writes:?}"));
            s.push(format!("eviction pushes before the PING's reply: {}", evicted.len()));
            s.push(format!("pushes after the PING's reply: {}", late.len()));
            let name = |k: &Option<String>| k.clone().unwrap_or_else(|| "<not a one-key invalidate>".to_string());
            let ev: Vec<String> = evicted.iter().map(name).collect();
            let inv: Vec<String> = invalidated.iter().map(name).collect();
            let mut all: Vec<&str> = ev.iter().chain(&inv).map(String::as_str).collect();
            all.sort_unstable();
            let mut tracked = keys.to_vec();
            tracked.sort_unstable();
            s.push(format!(
                "evicted keys distinct and tracked: {}",
                ev.iter().all(|k| keys.contains(&k.as_str()))
                    && ev.iter().enumerate().all(|(i, k)| !ev[..i].contains(k))
            ));
            s.push(format!("evicted + invalidated by the writes = every tracked key once: {}", all == tracked));
            if side == 0 && evicted.len() != keys.len() - limit {
                d.failures.push(format!(
                    "[{title}] redis-server does not behave as this test documents: {} eviction pushes, \
                     expected {} (evicted {ev:?})",
                    evicted.len(),
                    keys.len() - limit
                ));
            }
            summaries.push((s, ev, inv));
        }
        if summaries[0].0 != summaries[1].0 {
            let (a, b) = (d.sides[0].label, d.sides[1].label);
            let mut report = format!("[{title}] the eviction runs differ:\n");
            for (i, (x, y)) in summaries[0].0.iter().zip(&summaries[1].0).enumerate() {
                let mark = if x == y { " " } else { "*" };
                report.push_str(&format!("{mark} {i}\n    {a:<7}: {x}\n    {b:<7}: {y}\n"));
            }
            for (side, (_, ev, inv)) in summaries.iter().enumerate() {
                report.push_str(&format!(
                    "  {}: evicted {ev:?}, invalidated by the writes {inv:?}\n",
                    d.sides[side].label
                ));
            }
            report.push_str(&format!(
                "--- {a} transcript ---\n{}  -- then --\n{}--- {b} transcript ---\n{}  -- then --\n{}",
                transcript(&read_steps, 0),
                transcript(&write_steps, 0),
                transcript(&read_steps, 1),
                transcript(&write_steps, 1)
            ));
            d.failures.push(report);
        }
    }
    d.finish();
}
