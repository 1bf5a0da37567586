//! `rustis-cli`: the command-line client, like `redis-cli` 7.0 for everyday use.
//!
//! ```text
//! rustis-cli [-h host] [-p port] [-a password] [--user username] [-n db]
//!            [--protocol resp|msgpack] [-2 | -3 | --resp3] [--raw | --no-raw] [cmd args...]
//! ```
//!
//! - With a command after the options, runs it once, prints the reply and exits.
//! - Otherwise, when stdin is not a terminal, reads commands from stdin, one per line,
//!   prints each reply, and stops at end of input (or at `quit` / `exit`).
//! - Otherwise starts an interactive prompt (`127.0.0.1:6379> `, `127.0.0.1:6379[2]> `
//!   for a database other than 0, `not connected> ` when the server is gone) with line
//!   editing and history (kept in `~/.rustiscli_history`). `quit` or `exit` or Ctrl-D
//!   leaves; the connection is retried before each command when it was lost.
//!
//! Options:
//! - `-h <host>` (default 127.0.0.1), `-p <port>` (default 6379; 6380 is the usual
//!   MessagePack port, which must be given with `-p`).
//! - `-a <password>` / `--pass <password>`, `--user <username>`: sends `AUTH` after
//!   connecting (and prints redis-cli's warning about passwords on the command line to
//!   stderr; `--no-auth-warning` silences it). A failed `AUTH` prints
//!   `AUTH failed: <error>` to stderr and the command still runs, as redis-cli does.
//! - `-n <db>`: `SELECT <db>` after connecting.
//! - `--protocol resp|msgpack` (default resp): the wire protocol. A MessagePack
//!   connection has RESP3 semantics, so its replies print as with `-3`.
//! - `-3` / `--resp3`: RESP3 (`HELLO 3` after connecting); `-2`: RESP2 (default).
//! - `--raw`: print replies as plain values, one per line. `--no-raw`: formatted output
//!   even when stdout is not a terminal. Without either, output is formatted on a
//!   terminal and raw otherwise, as in redis-cli.
//!
//! Output is byte-for-byte redis-cli 7.0's: `(integer) 1`, `"quoted"` strings with
//! redis-cli's escaping (`\n \r \t \a \b \\ \"`, `\xHH` for other unprintable bytes),
//! `(nil)`, `(empty array)`, `(empty hash)`, `(empty set)`, numbered nested arrays with
//! redis-cli's indentation, `(error) ERR ...`, and with RESP3 `1# "key" => "value"` for
//! maps, `1~ ` for sets, `(double) 1.5`, `(true)`/`(false)`, verbatim strings as their
//! text. `INFO`, `CLIENT LIST|INFO`, `MEMORY DOCTOR`, `LATENCY DOCTOR` and a few
//! others print their text raw, as in redis-cli. Raw mode prints errors on stdout too
//! and exit codes are redis-cli's (0 after an error reply).
//!
//! Line splitting (stdin and the prompt) follows redis-cli (`sdssplitargs`): arguments
//! are separated by whitespace; `"double quotes"` take the escapes `\n \r \t \b \a \\ \"`
//! and `\xHH`; `'single quotes'` take only `\'`; a closing quote must be followed by a
//! space or the end of the line. An unbalanced line prints `Invalid argument(s)`.
//!
//! When the server cannot be reached, the message is redis-cli's, word for word
//! (`Could not connect to Redis at 127.0.0.1:1: Connection refused`, on stderr, exit
//! status 1 for a one-shot command): the tool speaks the Redis protocol and scripts that
//! match on redis-cli's text keep working.
//!
//! `SUBSCRIBE`, `PSUBSCRIBE` and `SSUBSCRIBE` print `Reading messages... (press Ctrl-C to
//! quit)` (not in raw mode), then every message until the connection closes or Ctrl-C,
//! as redis-cli does; `MONITOR` prints its lines the same way. Out-of-band pushes
//! (messages, invalidations) that arrive while waiting for another command's reply are
//! not printed, as in redis-cli.
//!
//! With `--protocol msgpack`, `-p` must name the server's MessagePack port
//! (`msgpack-port`, 6380 by default); a RESP port never answers the handshake, which is
//! reported after 5 seconds (`... no reply to the MessagePack handshake (is this a
//! MessagePack port?)`).
//!
//! Differences from redis-cli: a big number prints as `(big number) 123` (redis-cli 7.0
//! cannot print one), a RESP3 blob error (`!`) prints like an error, and RESP3
//! attributes are skipped (redis-cli 7.0 fails on both); no command hints or `HELP`, no
//! `connect` command, no repeat prefix (`3 PING`), no `-r`/`-i`, `--eval`, `-x`, `-u`,
//! `--tls`, `--csv`, `--stat`, `--scan`, `--bigkeys` or cluster mode (`-c`).

use std::io::{self, BufRead, IsTerminal, Write};
use std::process::ExitCode;

use rustis::client::{Client, Protocol, Value};

struct Opts {
    host: String,
    port: u16,
    user: Option<String>,
    pass: Option<String>,
    no_auth_warning: bool,
    db: i64,
    msgpack: bool,
    resp3: bool,
    raw: Option<bool>,
    args: Vec<Vec<u8>>,
}

fn usage() -> ! {
    eprintln!(
        "Usage: rustis-cli [OPTIONS] [cmd [arg [arg ...]]]\n  \
         -h <hostname>      Server hostname (default: 127.0.0.1).\n  \
         -p <port>          Server port (default: 6379).\n  \
         -a <password>      Password to use when connecting to the server.\n  \
         --pass <password>  Alias of -a.\n  \
         --user <username>  Used to send ACL style 'AUTH username pass'. Needs -a.\n  \
         --no-auth-warning  Don't show the warning message when using -a.\n  \
         -n <db>            Database number.\n  \
         --protocol <p>     resp (default) or msgpack.\n  \
         -2                 Start session in RESP2 protocol mode.\n  \
         -3, --resp3        Start session in RESP3 protocol mode.\n  \
         --raw              Use raw formatting for replies (default when STDOUT is not a tty).\n  \
         --no-raw           Force formatted output even when STDOUT is not a tty.\n  \
         --help             Output this help and exit."
    );
    std::process::exit(1)
}

fn parse_opts() -> Opts {
    let mut o = Opts {
        host: "127.0.0.1".into(),
        port: 6379,
        user: None,
        pass: None,
        no_auth_warning: false,
        db: 0,
        msgpack: false,
        resp3: false,
        raw: None,
        args: Vec::new(),
    };
    let argv: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let mut i = 0;
    let value = |i: &mut usize, name: &str| -> String {
        *i += 1;
        match argv.get(*i).and_then(|s| s.to_str()) {
            Some(v) => v.to_string(),
            None => {
                eprintln!("Unrecognized option or bad number of args for: '{name}'");
                std::process::exit(1)
            }
        }
    };
    while i < argv.len() {
        let a = argv[i].to_string_lossy().into_owned();
        match a.as_str() {
            "-h" => o.host = value(&mut i, &a),
            "-p" => {
                let v = value(&mut i, &a);
                o.port = v.parse().unwrap_or_else(|_| {
                    eprintln!("Invalid server port: {v}");
                    std::process::exit(1)
                })
            }
            "-a" | "--pass" => o.pass = Some(value(&mut i, &a)),
            "--user" => o.user = Some(value(&mut i, &a)),
            "--no-auth-warning" => o.no_auth_warning = true,
            "-n" => {
                let v = value(&mut i, &a);
                o.db = v.parse().unwrap_or_else(|_| {
                    eprintln!("Invalid database number: {v}");
                    std::process::exit(1)
                })
            }
            "--protocol" => match value(&mut i, &a).as_str() {
                "resp" => o.msgpack = false,
                "msgpack" => o.msgpack = true,
                p => {
                    eprintln!("Unknown protocol '{p}' (resp or msgpack)");
                    std::process::exit(1)
                }
            },
            "-2" => o.resp3 = false,
            "-3" | "--resp3" => o.resp3 = true,
            "--raw" => o.raw = Some(true),
            "--no-raw" => o.raw = Some(false),
            "--help" => usage(),
            "-v" | "--version" => {
                println!("rustis-cli {}", env!("CARGO_PKG_VERSION"));
                std::process::exit(0)
            }
            _ if a.starts_with('-') && a.len() > 1 && o.args.is_empty() => {
                eprintln!("Unrecognized option or bad number of args for: '{a}'");
                std::process::exit(1)
            }
            _ => break,
        }
        i += 1;
    }
    o.args = argv[i..].iter().map(os_bytes).collect();
    o
}

#[cfg(unix)]
fn os_bytes(s: &std::ffi::OsString) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    s.as_bytes().to_vec()
}

#[cfg(not(unix))]
fn os_bytes(s: &std::ffi::OsString) -> Vec<u8> {
    s.to_string_lossy().as_bytes().to_vec()
}

// ---------------------------------------------------------------------------------------
// Connection
// ---------------------------------------------------------------------------------------

struct Cli {
    o: Opts,
    conn: Option<Client>,
    /// The database the connection is in (for the prompt).
    db: i64,
    raw: bool,
}

/// The strerror-like reason of a connect failure, as redis-cli prints it.
fn reason(e: &io::Error) -> String {
    let s = rustis::persistence::aof::strerror(e);
    s.strip_prefix("failed to lookup address information: ").map(str::to_string).unwrap_or(s)
}

impl Cli {
    fn protocol(&self) -> Protocol {
        if self.o.msgpack {
            Protocol::Msgpack
        } else if self.o.resp3 {
            Protocol::Resp3
        } else {
            Protocol::Resp2
        }
    }

    /// Connects, authenticates, selects the database and switches to RESP3 (in
    /// redis-cli's order). Prints what failed to stderr.
    fn connect(&mut self, quiet: bool) -> bool {
        self.conn = None;
        let mut c = match Client::open(&self.o.host, self.o.port, self.protocol(), None) {
            Ok(c) => c,
            Err(e) => {
                if !quiet {
                    eprintln!("Could not connect to Redis at {}:{}: {}", self.o.host, self.o.port, reason(&e));
                }
                return false;
            }
        };
        if let Some(pass) = &self.o.pass {
            let mut args: Vec<&[u8]> = vec![b"AUTH"];
            if let Some(u) = &self.o.user {
                args.push(u.as_bytes());
            }
            args.push(pass.as_bytes());
            match c.call(&args) {
                Ok(Value::Error(e)) => eprintln!("AUTH failed: {e}"),
                Ok(_) => {}
                Err(_) => {
                    eprintln!("\nI/O error");
                    return false;
                }
            }
        }
        self.db = 0;
        if self.o.db != 0 {
            let db = self.o.db.to_string();
            match c.call(&[b"SELECT", db.as_bytes()]) {
                Ok(Value::Error(e)) => eprintln!("SELECT {} failed: {e}", self.o.db),
                Ok(_) => self.db = self.o.db,
                Err(_) => {
                    eprintln!("\nI/O error");
                    return false;
                }
            }
        }
        if self.protocol() == Protocol::Resp3 {
            match c.call(&[b"HELLO", b"3"]) {
                Ok(Value::Error(e)) => eprintln!("HELLO 3 failed: {e}"),
                Ok(_) => {}
                Err(_) => {
                    eprintln!("\nI/O error");
                    return false;
                }
            }
        }
        self.conn = Some(c);
        true
    }

    /// Runs one command and prints its reply(ies). Returns false when the connection
    /// failed (message printed).
    fn run(&mut self, args: &[Vec<u8>]) -> bool {
        if self.conn.is_none() && !self.connect(false) {
            return false;
        }
        let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
        let sub = args.get(1).map(|a| String::from_utf8_lossy(a).to_ascii_lowercase()).unwrap_or_default();
        let argc = args.len();
        let verbatim = name == "info"
            || name == "lolwut"
            || (name == "debug" && (sub == "htstats" || sub == "htstats-key"))
            || (name == "memory" && (sub == "malloc-stats" || sub == "doctor"))
            || (argc == 2 && name == "cluster" && (sub == "nodes" || sub == "info"))
            || (name == "client" && (sub == "list" || sub == "info"))
            || (argc == 3 && name == "latency" && sub == "graph")
            || (argc == 2 && name == "latency" && sub == "doctor");
        let streaming = matches!(name.as_str(), "subscribe" | "psubscribe" | "ssubscribe" | "monitor");
        let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
        let Some(c) = self.conn.as_mut() else { return false };
        let mut send_err = c.send(&refs).and_then(|_| c.flush()).err();
        if send_err.is_none() && name != "monitor" && streaming && !self.raw {
            println!("Reading messages... (press Ctrl-C to quit)");
        }
        let mut first = true;
        loop {
            let r = match send_err.take() {
                Some(e) => Err(e),
                None => c.recv(),
            };
            match r {
                Ok((id, v)) => {
                    if !streaming && c.is_out_of_band(id, &v) {
                        continue;
                    }
                    if first && name == "select" && !v.is_error() {
                        if let Some(db) = args.get(1).and_then(|a| std::str::from_utf8(a).ok()?.parse().ok()) {
                            self.db = db;
                        }
                    }
                    first = false;
                    let out = if verbatim {
                        format_raw(&v)
                    } else if self.raw {
                        let mut o = format_raw(&v);
                        o.push(b'\n');
                        o
                    } else {
                        format_tty(&v, "")
                    };
                    let mut stdout = io::stdout().lock();
                    if stdout.write_all(&out).and_then(|_| stdout.flush()).is_err() {
                        std::process::exit(0);
                    }
                    if !streaming {
                        return true;
                    }
                }
                Err(e) => {
                    self.conn = None;
                    if e.kind() == io::ErrorKind::UnexpectedEof && (name == "quit" || name == "shutdown") {
                        return true;
                    }
                    if streaming && !first {
                        return true;
                    }
                    if e.kind() == io::ErrorKind::UnexpectedEof {
                        eprintln!("Error: Server closed the connection");
                    } else {
                        eprintln!("Error: {}", reason(&e));
                    }
                    return false;
                }
            }
        }
    }

    fn prompt(&self) -> String {
        if self.conn.is_none() {
            return "not connected> ".into();
        }
        let host = if self.o.host.contains(':') { format!("[{}]", self.o.host) } else { self.o.host.clone() };
        if self.db != 0 {
            format!("{host}:{}[{}]> ", self.o.port, self.db)
        } else {
            format!("{host}:{}> ", self.o.port)
        }
    }

    /// One line of the prompt or of stdin. Returns false to stop (quit/exit).
    fn line(&mut self, line: &str) -> bool {
        let args = match split_args(line.as_bytes()) {
            Some(a) => a,
            None => {
                println!("Invalid argument(s)");
                return true;
            }
        };
        if args.is_empty() {
            return true;
        }
        let first = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
        if first == "quit" || first == "exit" {
            return false;
        }
        self.run(&args);
        true
    }
}

// ---------------------------------------------------------------------------------------
// Formatting (redis-cli's cliFormatReplyTTY / cliFormatReplyRaw)
// ---------------------------------------------------------------------------------------

/// redis-cli's `sdscatrepr`: a double-quoted string with C-style escapes.
fn repr(out: &mut Vec<u8>, b: &[u8]) {
    rustis::protocol::reply::sds_repr(b, out)
}

fn double_text(d: f64) -> String {
    rustis::protocol::fmt_double(d)
}

fn format_tty(v: &Value, prefix: &str) -> Vec<u8> {
    let mut out = Vec::new();
    match v {
        Value::Error(e) => out.extend_from_slice(format!("(error) {e}\n").as_bytes()),
        Value::Simple(s) => {
            out.extend_from_slice(s.as_bytes());
            out.push(b'\n');
        }
        Value::Int(i) => out.extend_from_slice(format!("(integer) {i}\n").as_bytes()),
        Value::Double(d) => out.extend_from_slice(format!("(double) {}\n", double_text(*d)).as_bytes()),
        Value::BigNumber(s) => out.extend_from_slice(format!("(big number) {s}\n").as_bytes()),
        Value::Bulk(b) => {
            repr(&mut out, b);
            out.push(b'\n');
        }
        Value::Verbatim(_, b) => {
            out.extend_from_slice(b);
            out.push(b'\n');
        }
        Value::Nil => out.extend_from_slice(b"(nil)\n"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"(true)\n" } else { b"(false)\n" }),
        Value::Array(items) | Value::Set(items) | Value::Push(items) => {
            if items.is_empty() {
                out.extend_from_slice(match v {
                    Value::Array(_) => b"(empty array)\n".as_slice(),
                    Value::Set(_) => b"(empty set)\n",
                    _ => b"(empty push)\n",
                });
                return out;
            }
            let sep = if matches!(v, Value::Set(_)) { '~' } else { ')' };
            let idxlen = items.len().to_string().len();
            let child = format!("{prefix}{}", " ".repeat(idxlen + 2));
            for (i, item) in items.iter().enumerate() {
                let p = if i == 0 { "" } else { prefix };
                out.extend_from_slice(format!("{p}{:>idxlen$}{sep} ", i + 1).as_bytes());
                out.extend(format_tty(item, &child));
            }
        }
        Value::Map(pairs) => {
            if pairs.is_empty() {
                out.extend_from_slice(b"(empty hash)\n");
                return out;
            }
            let idxlen = pairs.len().to_string().len();
            let child = format!("{prefix}{}", " ".repeat(idxlen + 2));
            for (i, (k, val)) in pairs.iter().enumerate() {
                let p = if i == 0 { "" } else { prefix };
                out.extend_from_slice(format!("{p}{:>idxlen$}# ", i + 1).as_bytes());
                out.extend(format_tty(k, &child));
                out.pop();
                out.extend_from_slice(b" => ");
                // A value of several lines starts on its own line (as redis-cli 7.0).
                let tmp = format_tty(val, &child);
                if tmp[..tmp.len().saturating_sub(1)].contains(&b'\n') {
                    out.push(b'\n');
                    out.extend_from_slice(child.as_bytes());
                }
                out.extend(tmp);
            }
        }
    }
    out
}

fn format_raw(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    match v {
        Value::Nil => {}
        Value::Error(e) => {
            out.extend_from_slice(e.as_bytes());
            out.push(b'\n');
        }
        Value::Simple(s) | Value::BigNumber(s) => out.extend_from_slice(s.as_bytes()),
        Value::Bulk(b) | Value::Verbatim(_, b) => out.extend_from_slice(b),
        Value::Bool(b) => out.extend_from_slice(if *b { b"(true)" } else { b"(false)" }),
        Value::Int(i) => out.extend_from_slice(i.to_string().as_bytes()),
        Value::Double(d) => out.extend_from_slice(double_text(*d).as_bytes()),
        Value::Array(items) | Value::Set(items) | Value::Push(items) => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b'\n');
                }
                out.extend(format_raw(item));
            }
        }
        Value::Map(pairs) => {
            for (i, (k, val)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push(b'\n');
                }
                out.extend(format_raw(k));
                out.push(b' ');
                out.extend(format_raw(val));
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Line splitting (redis-cli's sdssplitargs)
// ---------------------------------------------------------------------------------------

/// Splits a line like redis-cli (`sdssplitargs`, the server's inline-command splitter);
/// `None` for unbalanced quotes.
fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    rustis::protocol::resp::split_args(line)
}

// ---------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------

fn history_path() -> Option<std::path::PathBuf> {
    std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".rustiscli_history"))
}

fn repl(cli: &mut Cli) {
    let mut ed = match rustyline::DefaultEditor::new() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("cannot start the line editor: {e}");
            return;
        }
    };
    let hist = history_path();
    if let Some(h) = &hist {
        let _ = ed.load_history(h);
    }
    loop {
        let prompt = cli.prompt();
        match ed.readline(&prompt) {
            Ok(line) => {
                if !line.trim().is_empty() {
                    let _ = ed.add_history_entry(line.as_str());
                    if let Some(h) = &hist {
                        let _ = ed.save_history(h);
                    }
                }
                if !cli.line(&line) {
                    break;
                }
            }
            Err(rustyline::error::ReadlineError::Interrupted) => continue,
            Err(_) => break,
        }
    }
}

fn main() -> ExitCode {
    let o = parse_opts();
    let raw = o.raw.unwrap_or(!io::stdout().is_terminal());
    if o.pass.is_some() && !o.no_auth_warning {
        eprintln!("Warning: Using a password with '-a' or '-u' option on the command line interface may not be safe.");
    }
    let mut cli = Cli { o, conn: None, db: 0, raw };
    if !cli.o.args.is_empty() {
        if !cli.connect(false) {
            return ExitCode::from(1);
        }
        let args = std::mem::take(&mut cli.o.args);
        return if cli.run(&args) { ExitCode::SUCCESS } else { ExitCode::from(1) };
    }
    let stdin_tty = io::stdin().is_terminal();
    cli.connect(false);
    if stdin_tty {
        repl(&mut cli);
        return ExitCode::SUCCESS;
    }
    let stdin = io::stdin();
    let mut lines = stdin.lock();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match lines.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let line = String::from_utf8_lossy(&buf).into_owned();
        if !cli.line(line.trim_end_matches(['\n', '\r'])) {
            break;
        }
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_redis_cli() {
        let s = |l: &str| split_args(l.as_bytes());
        assert_eq!(s("set a  b"), Some(vec![b"set".to_vec(), b"a".to_vec(), b"b".to_vec()]));
        assert_eq!(s(r#"x "a\tb\x41\"" 'it\'s'"#), Some(vec![b"x".to_vec(), b"a\tbA\"".to_vec(), b"it's".to_vec()]));
        assert_eq!(s(r#""a"b"#), None);
        assert_eq!(s(r#""open"#), None);
        assert_eq!(s("'open"), None);
        assert_eq!(s(r#""" ''"#), Some(vec![vec![], vec![]]));
        assert_eq!(s("   "), Some(vec![]));
    }

    #[test]
    fn formats_like_redis_cli() {
        let v = Value::Array(vec![
            Value::Int(1),
            Value::Array(vec![Value::Bulk(b"a\n\x01".to_vec()), Value::Nil]),
            Value::Array(vec![]),
        ]);
        assert_eq!(
            String::from_utf8(format_tty(&v, "")).unwrap(),
            "1) (integer) 1\n2) 1) \"a\\n\\x01\"\n   2) (nil)\n3) (empty array)\n"
        );
        let m = Value::Map(vec![(Value::Bulk(b"k".to_vec()), Value::Double(1.5))]);
        assert_eq!(String::from_utf8(format_tty(&m, "")).unwrap(), "1# \"k\" => (double) 1.5\n");
        assert_eq!(String::from_utf8(format_raw(&m)).unwrap(), "k 1.5");
    }
}
