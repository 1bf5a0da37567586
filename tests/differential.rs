//! Differential tests: every `tests/diff/*.redis` script runs against a real
//! `redis-server` (7.0) and against `rustis-server`, and every reply must be identical,
//! byte for byte.
//!
//! # Running
//!
//! ```text
//! cargo test --test differential                       # all scripts
//! RUSTIS_DIFF_FILTER=strings cargo test --test differential   # only matching file names
//! RUSTIS_REQUIRE_REDIS=1 cargo test --test differential       # fail (not skip) without redis
//! ```
//!
//! One redis-server and one rustis-server are started for the whole run. Each script runs
//! on a fresh connection to each server, after `FLUSHALL` and `SELECT 0`. All mismatches of
//! all scripts are collected and reported together at the end (file:line, the command,
//! redis's reply and rustis's reply, rendered with `\r\n` and non-printables escaped).
//! Without `redis-server` on PATH the test prints `SKIPPED: redis-server not found` and
//! passes, unless `RUSTIS_REQUIRE_REDIS=1` is set (CI sets it).
//!
//! # Script format (`tests/diff/<topic>.redis`, also described in tests/diff/README.md)
//!
//! Adding a script is a matter of dropping a file into `tests/diff/`; files run in sorted
//! order. One command per line, split exactly like `redis-cli` does (whitespace separated;
//! `"double quotes"` with `\n \r \t \b \a \\ \"` and `\xHH` escapes; `'single quotes'`
//! with only `\'`; unbalanced quotes are an error). Blank lines and lines whose first
//! non-blank character is `#` are ignored. Each command is sent as a RESP array of bulk
//! strings and its one reply is compared byte for byte.
//!
//! Lines starting with `!` are directives:
//!
//! - `!sleep <ms>` — sleep (both servers idle) for `<ms>` milliseconds.
//! - `!noreply-compare <command...>` — run the command on both but compare only the first
//!   byte (the RESP type) of the replies; for nondeterministic replies (TIME, CLIENT ID,
//!   HELLO, RANDOMKEY, TTL of a key with a running clock, ...).
//! - `!raw <escaped bytes>` — send the bytes as they are (after decoding `\r \n \t \b \a
//!   \0 \\ \xHH` escapes; any other `\c` is `c`) and compare the next reply. For inline
//!   commands and protocol tests, e.g. `!raw PING\r\n`. Leading/trailing blanks of the
//!   text are trimmed: write a significant space at either end as `\x20`.
//! - `!send <escaped bytes>` — like `!raw` but reads nothing (e.g. an empty inline line,
//!   or the first half of a command split across writes).
//! - `!read` — read one more reply on both and compare it (after a pipelined `!raw`).
//! - `!closed` — both servers must close the connection now (after QUIT or a protocol
//!   error); follow it with `!reconnect`.
//! - `!reconnect` — open a fresh connection on both (protocol back to RESP2, db 0).
//!
//! A connection-level failure (timeout, EOF, malformed reply) on either side is reported
//! and the script skips ahead to its next `!reconnect` (or its end), since later replies
//! would be out of step. If a server process exits, the run stops and the report ends
//! with the tail of its log.

mod common;

use common::{render, split_args, start_redis, start_rustis, unescape, RawConn, Server};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long `!closed` waits for the server to close the connection.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, PartialEq)]
enum Step {
    /// Send as a RESP array, compare the whole reply.
    Cmd(Vec<Vec<u8>>),
    /// Send as a RESP array, compare the reply's first byte only.
    TypeOnly(Vec<Vec<u8>>),
    /// Send raw bytes, compare the next reply.
    Raw(Vec<u8>),
    /// Send raw bytes, read nothing.
    Send(Vec<u8>),
    /// Read one reply, compare.
    Read,
    /// Both servers must close the connection.
    Closed,
    Sleep(u64),
    Reconnect,
}

#[derive(Debug)]
struct ScriptLine {
    no: usize,
    text: String,
    step: Step,
}

#[derive(Debug)]
struct Script {
    name: String,
    lines: Vec<ScriptLine>,
}

/// Parses one script line; `Ok(None)` for blank and comment lines.
fn parse_line(line: &str) -> Result<Option<Step>, String> {
    let t = line.trim();
    if t.is_empty() || t.starts_with('#') {
        return Ok(None);
    }
    let Some(directive) = t.strip_prefix('!') else {
        let args = split_args(t)?;
        return Ok(Some(Step::Cmd(args)));
    };
    let (name, rest) = match directive.find(char::is_whitespace) {
        Some(i) => (&directive[..i], directive[i..].trim()),
        None => (directive, ""),
    };
    let no_arg = |step: Step| {
        if rest.is_empty() {
            Ok(Some(step))
        } else {
            Err(format!("!{name} takes no argument"))
        }
    };
    let need_arg = || {
        if rest.is_empty() {
            Err(format!("!{name} needs an argument"))
        } else {
            Ok(rest)
        }
    };
    match name {
        "sleep" => need_arg()?.parse::<u64>().map(|ms| Some(Step::Sleep(ms))).map_err(|e| format!("!sleep <ms>: {e}")),
        "noreply-compare" => {
            let args = split_args(need_arg()?)?;
            Ok(Some(Step::TypeOnly(args)))
        }
        "raw" => Ok(Some(Step::Raw(unescape(need_arg()?)?))),
        "send" => Ok(Some(Step::Send(unescape(need_arg()?)?))),
        "read" => no_arg(Step::Read),
        "closed" => no_arg(Step::Closed),
        "reconnect" => no_arg(Step::Reconnect),
        _ => Err(format!(
            "unknown directive !{name} (known: !sleep !noreply-compare !raw !send !read \
             !closed !reconnect)"
        )),
    }
}

fn parse_script(name: &str, text: &str) -> Result<Script, Vec<String>> {
    let mut lines = Vec::new();
    let mut errors = Vec::new();
    for (i, line) in text.lines().enumerate() {
        match parse_line(line) {
            Ok(Some(step)) => lines.push(ScriptLine { no: i + 1, text: line.trim().to_string(), step }),
            Ok(None) => {}
            Err(e) => errors.push(format!("{name}:{}: {e}: {line}", i + 1)),
        }
    }
    if errors.is_empty() {
        Ok(Script { name: name.to_string(), lines })
    } else {
        Err(errors)
    }
}

fn diff_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("diff")
}

/// Loads and parses the scripts (sorted by file name, filtered by RUSTIS_DIFF_FILTER);
/// panics listing every parse error.
fn load_scripts() -> Vec<Script> {
    let dir = diff_dir();
    let filter = std::env::var("RUSTIS_DIFF_FILTER").unwrap_or_default();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "redis"))
        .collect();
    paths.sort();
    let total = paths.len();
    paths.retain(|p| p.file_name().is_some_and(|n| n.to_string_lossy().contains(filter.as_str())));
    if paths.is_empty() {
        panic!("no tests/diff/*.redis scripts to run ({total} found, RUSTIS_DIFF_FILTER={filter:?})");
    }
    let mut scripts = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        let name = format!("tests/diff/{}", p.file_name().unwrap().to_string_lossy());
        let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {name}: {e}"));
        match parse_script(&name, &text) {
            Ok(s) => scripts.push(s),
            Err(e) => errors.extend(e),
        }
    }
    if !errors.is_empty() {
        panic!("script parse errors:\n{}", errors.join("\n"));
    }
    scripts
}

/// One server under test and its current connection.
struct Side {
    server: Server,
    conn: Option<RawConn>,
}

impl Side {
    fn new(server: Server) -> Side {
        Side { server, conn: None }
    }

    fn reconnect(&mut self) -> Result<(), String> {
        self.conn = None;
        match RawConn::connect(self.server.port) {
            Ok(c) => {
                self.conn = Some(c);
                Ok(())
            }
            Err(e) => Err(format!("<connect failed: {e}>{}", self.death_note())),
        }
    }

    fn conn(&mut self) -> Result<&mut RawConn, String> {
        self.conn.as_mut().ok_or_else(|| "<no connection (closed earlier; add !reconnect)>".to_string())
    }

    fn exec(&mut self, step: &Step) -> Result<Vec<u8>, String> {
        let res = match step {
            Step::Cmd(args) | Step::TypeOnly(args) => {
                let args: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
                self.conn()?.try_cmd(&args).map_err(|e| e.to_string())
            }
            Step::Raw(bytes) => {
                let c = self.conn()?;
                c.try_send(bytes).and_then(|()| c.try_read_reply()).map_err(|e| e.to_string())
            }
            Step::Send(bytes) => self.conn()?.try_send(bytes).map(|()| Vec::new()).map_err(|e| e.to_string()),
            Step::Read => self.conn()?.try_read_reply().map_err(|e| e.to_string()),
            Step::Closed => {
                let r = self.conn()?.expect_closed(CLOSE_TIMEOUT);
                self.conn = None;
                r.map(|()| b"<closed>".to_vec())
            }
            Step::Reconnect => self.reconnect().map(|()| Vec::new()),
            Step::Sleep(_) => Ok(Vec::new()),
        };
        res.map_err(|e| format!("<{e}>{}", self.death_note()))
    }

    /// A short note if the server process has exited (its log tail is printed once, at
    /// the end of the report).
    fn death_note(&mut self) -> String {
        match self.server.exited() {
            Some(status) => format!(" [{} process EXITED: {status}]", self.server.name),
            None => String::new(),
        }
    }

    fn log_section(&mut self, lines: usize) -> String {
        let state = match self.server.exited() {
            Some(status) => format!("EXITED: {status}"),
            None => "still running".to_string(),
        };
        format!(
            "{} log ({}, {state}), last {lines} lines:\n{}\n",
            self.server.name,
            self.server.log_path().display(),
            indent(&self.server.log_tail(lines), "    ")
        )
    }
}

fn indent(s: &str, pad: &str) -> String {
    s.lines().map(|l| format!("{pad}{l}")).collect::<Vec<_>>().join("\n")
}

struct Mismatch {
    loc: String,
    command: String,
    redis: String,
    rustis: String,
    note: String,
}

fn first_difference(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

#[derive(Default)]
struct Stats {
    compared: usize,
    mismatches: Vec<Mismatch>,
}

/// Runs one script on fresh connections; returns false if a server died (stop the run).
fn run_script(script: &Script, redis: &mut Side, rustis: &mut Side, stats: &mut Stats) -> bool {
    let setup = [
        ("(connect)", Step::Reconnect),
        ("(setup) FLUSHALL", Step::Cmd(vec![b"FLUSHALL".to_vec()])),
        ("(setup) SELECT 0", Step::Cmd(vec![b"SELECT".to_vec(), b"0".to_vec()])),
    ];
    for (what, step) in &setup {
        let a = redis.exec(step);
        let b = rustis.exec(step);
        let ok = |r: &Result<Vec<u8>, String>| r.as_ref().is_ok_and(|v| v.is_empty() || v.as_slice() == b"+OK\r\n");
        if !ok(&a) || !ok(&b) {
            stats.mismatches.push(Mismatch {
                loc: format!("{}:0", script.name),
                command: what.to_string(),
                redis: show(&a),
                rustis: show(&b),
                note: "whole script skipped: setup failed".to_string(),
            });
            return redis.server.exited().is_none() && rustis.server.exited().is_none();
        }
    }
    let before = stats.mismatches.len();
    // After a connection-level failure the connections are out of step: skip to the
    // script's next `!reconnect`, which puts both sides back in step.
    let mut out_of_step = false;
    for (idx, line) in script.lines.iter().enumerate() {
        if out_of_step && line.step != Step::Reconnect {
            continue;
        }
        out_of_step = false;
        if let Step::Sleep(ms) = line.step {
            std::thread::sleep(Duration::from_millis(ms));
            continue;
        }
        let a = redis.exec(&line.step);
        let b = rustis.exec(&line.step);
        stats.compared += 1;
        let loc = format!("{}:{}", script.name, line.no);
        let same = match (&a, &b, &line.step) {
            (Ok(x), Ok(y), Step::TypeOnly(_)) => x.first() == y.first(),
            (Ok(x), Ok(y), _) => x == y,
            _ => false,
        };
        if same {
            continue;
        }
        let mut note = String::new();
        if let (Ok(x), Ok(y)) = (&a, &b) {
            if matches!(line.step, Step::TypeOnly(_)) {
                note = "only the reply type (first byte) is compared on this line".into();
            } else {
                note = format!("first difference at byte {}", first_difference(x, y));
            }
        }
        let broken = (a.is_err() || b.is_err()) && line.step != Step::Closed;
        if broken {
            if !note.is_empty() {
                note.push_str("; ");
            }
            let next = script.lines[idx + 1..].iter().find(|l| l.step == Step::Reconnect);
            match next {
                Some(l) => {
                    let _ = write!(note, "connection out of step: skipping to line {}", l.no);
                }
                None => note.push_str("connection out of step: rest of this script skipped"),
            }
        }
        stats.mismatches.push(Mismatch { loc, command: line.text.clone(), redis: show(&a), rustis: show(&b), note });
        if redis.server.exited().is_some() || rustis.server.exited().is_some() {
            return false;
        }
        out_of_step = broken;
    }
    println!("{}: {} steps, {} mismatches", script.name, script.lines.len(), stats.mismatches.len() - before);
    true
}

fn show(r: &Result<Vec<u8>, String>) -> String {
    match r {
        Ok(v) => render(v),
        Err(e) => e.clone(),
    }
}

/// At most this many mismatches are written out in full (narrow with RUSTIS_DIFF_FILTER).
const MAX_REPORTED: usize = 400;

fn report(stats: &Stats, scripts: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n{} differential mismatch(es) in {} script(s), {} steps compared:\n",
        stats.mismatches.len(),
        scripts,
        stats.compared
    );
    for m in stats.mismatches.iter().take(MAX_REPORTED) {
        let _ = writeln!(out, "{}: {}", m.loc, m.command);
        let _ = writeln!(out, "    redis:  {}", m.redis);
        let _ = writeln!(out, "    rustis: {}", m.rustis);
        if !m.note.is_empty() {
            let _ = writeln!(out, "    ({})", m.note);
        }
        out.push('\n');
    }
    if stats.mismatches.len() > MAX_REPORTED {
        let _ = writeln!(
            out,
            "... and {} more mismatch(es) not shown (narrow the run with \
             RUSTIS_DIFF_FILTER=<file name part>)\n",
            stats.mismatches.len() - MAX_REPORTED
        );
    }
    out
}

#[test]
fn differential_vs_redis() {
    let scripts = load_scripts();
    let Some(redis) = start_redis(&[]) else {
        let banner = "*".repeat(72);
        eprintln!("\n{banner}");
        eprintln!("*** SKIPPED: redis-server not found: differential tests NOT run");
        eprintln!("*** (install redis-server, or set RUSTIS_REQUIRE_REDIS=1 to fail instead)");
        eprintln!("{banner}\n");
        println!("SKIPPED: redis-server not found");
        return;
    };
    let rustis = start_rustis(&[]);
    let mut redis = Side::new(redis);
    let mut rustis = Side::new(rustis);
    let mut stats = Stats::default();
    let mut ran = 0;
    for script in &scripts {
        ran += 1;
        if !run_script(script, &mut redis, &mut rustis, &mut stats) {
            let skipped: Vec<&str> = scripts[ran..].iter().map(|s| s.name.as_str()).collect();
            if !skipped.is_empty() {
                stats.mismatches.push(Mismatch {
                    loc: script.name.clone(),
                    command: "(a server exited: remaining scripts not run)".into(),
                    redis: redis.death_note(),
                    rustis: rustis.death_note(),
                    note: format!("not run: {}", skipped.join(", ")),
                });
            }
            break;
        }
    }
    if !stats.mismatches.is_empty() {
        let mut msg = report(&stats, ran);
        if redis.server.exited().is_some() {
            msg.push_str(&redis.log_section(40));
        }
        let lines = if rustis.server.exited().is_some() { 60 } else { 20 };
        msg.push_str(&rustis.log_section(lines));
        panic!("{msg}");
    }
    println!("differential: {} scripts, {} steps, all replies identical", scripts.len(), stats.compared);
}

// ---------------------------------------------------------------------------------------
// Self-checks of the harness itself (no servers needed)
// ---------------------------------------------------------------------------------------

fn args(list: &[&str]) -> Vec<Vec<u8>> {
    list.iter().map(|s| s.as_bytes().to_vec()).collect()
}

#[test]
fn splitter_matches_redis_cli() {
    assert_eq!(split_args("").unwrap(), Vec::<Vec<u8>>::new());
    assert_eq!(split_args("   \t ").unwrap(), Vec::<Vec<u8>>::new());
    assert_eq!(split_args("  SET  foo\tbar ").unwrap(), args(&["SET", "foo", "bar"]));
    assert_eq!(split_args(r#"SET "a b" 'c d'"#).unwrap(), args(&["SET", "a b", "c d"]));
    assert_eq!(split_args(r#""\n\r\t\b\a\\\"\q""#).unwrap(), vec![b"\n\r\t\x08\x07\\\"q".to_vec()]);
    assert_eq!(split_args(r#""\x00\xff\x41\xZZ""#).unwrap(), vec![b"\x00\xffAxZZ".to_vec()]);
    assert_eq!(
        split_args(r#"'it\'s' 'a\nb' 'a\\b'"#).unwrap(),
        vec![b"it's".to_vec(), b"a\\nb".to_vec(), b"a\\\\b".to_vec()]
    );
    assert_eq!(split_args(r#""" ''"#).unwrap(), args(&["", ""]));
    // A quote may open in the middle of a word.
    assert_eq!(split_args(r#"ab"c d" e"#).unwrap(), args(&["abc d", "e"]));
    // Backslashes outside quotes are literal.
    assert_eq!(split_args(r"a\nb \x41").unwrap(), args(&[r"a\nb", r"\x41"]));
    // Non-ASCII passes through as UTF-8 bytes.
    assert_eq!(split_args("é ü").unwrap(), args(&["é", "ü"]));
    for bad in [r#""abc"#, r#"'abc"#, r#""abc"def"#, r#"'abc'def"#, r#"x "\"#, r#"'\\'"#, r#""abc\"#] {
        assert!(split_args(bad).is_err(), "{bad:?} should be an error");
    }
}

#[test]
fn unescape_and_render() {
    assert_eq!(unescape(r"PING\r\n").unwrap(), b"PING\r\n");
    assert_eq!(unescape(r"\x00\x7f\\\q\t").unwrap(), b"\x00\x7f\\q\t");
    assert!(unescape(r"abc\").is_err());
    assert!(unescape(r"\x4").is_err());
    assert_eq!(render(b"+OK\r\n"), r#""+OK\r\n""#);
    assert_eq!(render(b"$2\r\n\x00\"\r\n"), r#""$2\r\n\x00\"\r\n""#);
}

#[test]
fn script_lines_parse() {
    assert_eq!(parse_line("  # comment").unwrap(), None);
    assert_eq!(parse_line("").unwrap(), None);
    assert_eq!(parse_line("SET k 'v 1'").unwrap(), Some(Step::Cmd(args(&["SET", "k", "v 1"]))));
    assert_eq!(parse_line("!sleep 15").unwrap(), Some(Step::Sleep(15)));
    assert_eq!(parse_line("!noreply-compare TIME").unwrap(), Some(Step::TypeOnly(args(&["TIME"]))));
    assert_eq!(parse_line(r"!raw PING\r\n").unwrap(), Some(Step::Raw(b"PING\r\n".to_vec())));
    assert_eq!(parse_line(r"!send \r\n").unwrap(), Some(Step::Send(b"\r\n".to_vec())));
    assert_eq!(parse_line("!read").unwrap(), Some(Step::Read));
    assert_eq!(parse_line("!closed").unwrap(), Some(Step::Closed));
    assert_eq!(parse_line("!reconnect").unwrap(), Some(Step::Reconnect));
    assert!(parse_line("!bogus").is_err());
    assert!(parse_line("!sleep").is_err());
    assert!(parse_line("!sleep x").is_err());
    assert!(parse_line("!read now").is_err());
    assert!(parse_line("GET \"unterminated").is_err());
}

/// A mix of every RESP2/RESP3 reply type, nested, with nulls and an attribute.
const SAMPLE_REPLIES: &[&[u8]] = &[
    b"+OK\r\n",
    b"-ERR unknown command 'foo'\r\n",
    b":-42\r\n",
    b"$-1\r\n",
    b"*-1\r\n",
    b"$0\r\n\r\n",
    b"$5\r\na\r\nb\n\r\n",
    b"*0\r\n",
    b"_\r\n",
    b",3.14\r\n",
    b"#t\r\n",
    b"(12345678901234567890\r\n",
    b"!9\r\nSYNTAX er\r\n",
    b"=15\r\ntxt:Some string\r\n",
    b"*3\r\n:1\r\n*2\r\n$1\r\nx\r\n$-1\r\n*0\r\n",
    b"%2\r\n+first\r\n:1\r\n$6\r\nsecond\r\n~2\r\n_\r\n,inf\r\n",
    b"|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.19\r\n*2\r\n:2\r\n:3\r\n",
    b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$3\r\nmsg\r\n",
    b"*2\r\n|1\r\n+a\r\n+b\r\n:1\r\n*1\r\n*1\r\n*1\r\n*0\r\n",
];

#[test]
fn reply_len_every_prefix() {
    for r in SAMPLE_REPLIES {
        for cut in 0..r.len() {
            assert_eq!(common::reply_len(&r[..cut]), Ok(None), "prefix {cut} of {}", render(r));
        }
        assert_eq!(common::reply_len(r), Ok(Some(r.len())), "{}", render(r));
        let mut two = r.to_vec();
        two.extend_from_slice(b"+NEXT\r\n");
        assert_eq!(common::reply_len(&two), Ok(Some(r.len())), "{}", render(r));
    }
    for bad in [&b"?x\r\n"[..], b"$-2\r\n", b"$3\r\nabcd\r\n", b"*x\r\n", b"%-1\r\n"] {
        assert!(common::reply_len(bad).is_err(), "{}", render(bad));
    }
}

#[test]
fn read_reply_across_split_reads() {
    use std::io::Write;
    use std::net::TcpListener;

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let all: Vec<u8> = SAMPLE_REPLIES.concat();
    let to_send = all.clone();
    let writer = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_nodelay(true).unwrap();
        // Byte by byte, with pauses so the reader really sees partial replies...
        for (i, b) in to_send.iter().enumerate() {
            s.write_all(&[*b]).unwrap();
            if i % 3 == 0 {
                std::thread::sleep(Duration::from_micros(300));
            }
        }
        // ...then several replies in a single write.
        s.write_all(&to_send).unwrap();
        // Keep the socket open until the reader is done.
        let mut buf = [0u8; 1];
        let _ = std::io::Read::read(&mut s, &mut buf);
    });
    let mut conn = RawConn::connect(port).unwrap();
    for round in 0..2 {
        for r in SAMPLE_REPLIES {
            assert_eq!(conn.read_reply(), r.to_vec(), "round {round}, expected {}", render(r));
        }
    }
    assert!(conn.buffered().is_empty());
    conn.shutdown_write();
    writer.join().unwrap();
}

#[test]
fn read_reply_times_out_and_sees_close() {
    use std::io::Write;
    use std::net::TcpListener;

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        // Half a reply, then silence until the client gives up, then a close.
        s.write_all(b"*2\r\n:1\r\n").unwrap();
        let mut buf = [0u8; 1];
        let _ = std::io::Read::read(&mut s, &mut buf);
        s.write_all(b"+late\r\n").unwrap();
    });
    let mut conn = RawConn::connect(port).unwrap();
    conn.set_timeout(Duration::from_millis(200)).unwrap();
    let err = conn.try_read_reply().unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut, "{err}");
    assert!(err.to_string().contains(r#""*2\r\n:1\r\n""#), "{err}");
    conn.send(b"x");
    // The rest of the reply arrives, then the server closes the connection.
    assert_eq!(conn.read_reply(), b"*2\r\n:1\r\n+late\r\n");
    server.join().unwrap();
    assert_eq!(conn.expect_closed(Duration::from_secs(2)), Ok(()));
}
