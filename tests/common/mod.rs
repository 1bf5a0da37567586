//! Shared helpers for the integration tests (std only).
//!
//! - [`start_rustis`] / [`start_redis`] spawn a server on a free 127.0.0.1 port in its own
//!   temp dir, wait until it answers `PING`, and kill + reap it when the [`Server`] drops.
//! - [`RawConn`] is a byte-level RESP client: it sends whatever it is given and returns the
//!   raw bytes of exactly one complete RESP2/RESP3 reply, so tests can compare replies
//!   byte for byte.
//! - [`split_args`] splits a line the way `redis-cli` does (Redis's `sdssplitargs`),
//!   [`unescape`] decodes `\r\n`-style escapes, and [`render`] makes raw bytes readable.

#![allow(dead_code)]

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long a server gets to start answering `PING`.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);
/// Read timeout of every [`RawConn`].
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Set to `1` (CI does) to make a missing `redis-server` a failure instead of a skip.
pub const REQUIRE_REDIS_ENV: &str = "RUSTIS_REQUIRE_REDIS";

// ---------------------------------------------------------------------------------------
// Servers
// ---------------------------------------------------------------------------------------

/// A running server process. Dropping it kills and reaps the process; its temp dir (with
/// the log) is removed unless the thread is panicking, so a failing test leaves the log.
pub struct Server {
    pub port: u16,
    /// Human-readable name ("rustis" / "redis") for messages.
    pub name: &'static str,
    child: Child,
    dir: PathBuf,
    log: PathBuf,
}

impl Server {
    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The server's working directory (a fresh temp dir).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Path of the file holding the server's stdout and stderr.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The last `lines` lines of the server log.
    pub fn log_tail(&self, lines: usize) -> String {
        log_tail(&self.log, lines)
    }

    /// A new raw connection to this server (panics if it cannot connect).
    pub fn conn(&self) -> RawConn {
        RawConn::connect(self.port).unwrap_or_else(|e| {
            panic!(
                "cannot connect to {} on port {}: {e}\n--- log tail ({}) ---\n{}",
                self.name,
                self.port,
                self.log.display(),
                self.log_tail(40)
            )
        })
    }

    /// `Some(status)` if the process has exited.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("{} log kept at {}", self.name, self.log.display());
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// Starts the crate's `rustis-server` binary with `--port <free> --bind 127.0.0.1
/// --metrics-port 0 --save ""` (no metrics endpoint and no save points unless `extra_args`
/// asks, like [`start_redis`]) plus `extra_args`,
/// and waits (at most 10 s) until it answers `PING` with `+PONG`.
pub fn start_rustis(extra_args: &[&str]) -> Server {
    let bin = env!("CARGO_BIN_EXE_rustis-server");
    match start_server("rustis", bin, &[], &rustis_base(&["--metrics-port", "0", "--save", ""], extra_args), extra_args)
    {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    }
}

/// Like [`start_rustis`], with the config file `conf` as the first argument.
pub fn start_rustis_conf(conf: &str, extra_args: &[&str]) -> Server {
    let bin = env!("CARGO_BIN_EXE_rustis-server");
    match start_server("rustis", bin, &[conf], &rustis_base(&["--metrics-port", "0"], extra_args), extra_args) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    }
}

/// `base` plus `--msgpack-port 0` (no MessagePack listener) unless the test configures
/// MessagePack listeners itself.
fn rustis_base<'a>(base: &[&'a str], extra: &[&str]) -> Vec<&'a str> {
    let mut v = base.to_vec();
    if !extra.iter().any(|a| *a == "--msgpack-port" || *a == "--listen") {
        v.extend(["--msgpack-port", "0"]);
    }
    v
}

/// Starts `redis-server` (from PATH) with persistence off, in its own temp dir, and waits
/// until it answers `PING`. Returns `None` when `redis-server` is not installed — unless
/// `RUSTIS_REQUIRE_REDIS=1` is set, in which case that is a panic (CI must not skip).
pub fn start_redis(extra_args: &[&str]) -> Option<Server> {
    let base = ["--save", "", "--appendonly", "no", "--daemonize", "no"];
    match start_server("redis", "redis-server", &[], &base, extra_args) {
        Ok(s) => Some(s),
        Err(StartError::NotFound) => {
            if redis_required() {
                panic!(
                    "redis-server not found on PATH but {REQUIRE_REDIS_ENV}=1 is set \
                     (install it: apt-get install -y redis-server redis-tools)"
                );
            }
            None
        }
        Err(e) => panic!("{e}"),
    }
}

/// True when `RUSTIS_REQUIRE_REDIS=1`.
pub fn redis_required() -> bool {
    std::env::var(REQUIRE_REDIS_ENV).is_ok_and(|v| v == "1")
}

#[derive(Debug)]
enum StartError {
    NotFound,
    Failed(String),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::NotFound => write!(f, "server binary not found"),
            StartError::Failed(s) => write!(f, "{s}"),
        }
    }
}

/// Spawns `bin --port P --bind 127.0.0.1 <base> <extra>` in a fresh temp dir (also passed
/// as `--dir` when `base` is non-empty, i.e. for redis-server). Retries with a new port if
/// the process exits during startup (another process may have grabbed the port).
fn start_server(
    name: &'static str,
    bin: &str,
    first: &[&str],
    base: &[&str],
    extra: &[&str],
) -> Result<Server, StartError> {
    let mut last_err = String::new();
    for _attempt in 0..3 {
        let port = free_port();
        let dir = temp_dir(name);
        let log = dir.join(format!("{name}.log"));
        let out = File::create(&log).map_err(|e| StartError::Failed(format!("log file: {e}")))?;
        let err = out.try_clone().map_err(|e| StartError::Failed(format!("log file: {e}")))?;
        let mut cmd = Command::new(bin);
        cmd.args(first).arg("--port").arg(port.to_string()).arg("--bind").arg("127.0.0.1").args(base);
        if !base.is_empty() {
            cmd.arg("--dir").arg(&dir);
        }
        cmd.args(extra).current_dir(&dir).stdin(Stdio::null()).stdout(Stdio::from(out)).stderr(Stdio::from(err));
        let child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let _ = fs::remove_dir_all(&dir);
                return Err(StartError::NotFound);
            }
            Err(e) => {
                return Err(StartError::Failed(format!("cannot spawn {bin}: {e}")));
            }
        };
        let mut server = Server { port, name, child, dir, log };
        match wait_ready(&mut server) {
            Ok(()) => return Ok(server),
            Err(WaitError::Exited(status)) => {
                last_err = format!(
                    "{name} ({bin}) exited during startup on port {port} with {status}\n\
                     --- log tail ({}) ---\n{}",
                    server.log.display(),
                    server.log_tail(40)
                );
                // Keep the log of the failed attempt around only in the final message.
                drop(server);
            }
            Err(WaitError::Timeout(detail)) => {
                let msg = format!(
                    "{name} ({bin}) did not answer PING with +PONG on port {port} within \
                     {STARTUP_TIMEOUT:?} (last: {detail})\n--- log tail ({}) ---\n{}",
                    server.log.display(),
                    server.log_tail(40)
                );
                drop(server);
                return Err(StartError::Failed(msg));
            }
        }
    }
    Err(StartError::Failed(last_err))
}

enum WaitError {
    Exited(std::process::ExitStatus),
    Timeout(String),
}

fn wait_ready(server: &mut Server) -> Result<(), WaitError> {
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    loop {
        if let Some(status) = server.exited() {
            return Err(WaitError::Exited(status));
        }
        let last = match try_ping(server.port) {
            Ok(reply) if reply == b"+PONG\r\n" => return Ok(()),
            Ok(reply) => format!("PING replied {}", render(&reply)),
            Err(e) => e.to_string(),
        };
        if Instant::now() >= deadline {
            return Err(WaitError::Timeout(last));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn try_ping(port: u16) -> io::Result<Vec<u8>> {
    let stream = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(500))?;
    let mut conn = RawConn::from_stream(stream)?;
    conn.set_timeout(Duration::from_secs(1))?;
    conn.try_cmd(&[b"PING"])
}

/// A port that was free a moment ago (bind 127.0.0.1:0, read it, release it).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local_addr").port()
}

/// A new, empty, unique directory under the system temp dir.
pub fn temp_dir(tag: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("rustis-test-{tag}-{}-{n}-{nanos}", std::process::id()));
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    dir
}

/// The last `lines` lines of a file (lossy UTF-8), or a note if it cannot be read.
pub fn log_tail(path: &Path, lines: usize) -> String {
    match fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let all: Vec<&str> = text.lines().collect();
            let start = all.len().saturating_sub(lines);
            all[start..].join("\n")
        }
        Err(e) => format!("<cannot read {}: {e}>", path.display()),
    }
}

// ---------------------------------------------------------------------------------------
// Raw RESP connection
// ---------------------------------------------------------------------------------------

/// A raw TCP connection speaking RESP. Replies are returned as their exact bytes; bytes
/// past the end of a reply stay buffered for the next read.
pub struct RawConn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl RawConn {
    /// Connects to `127.0.0.1:port` (read timeout 10 s, TCP_NODELAY).
    pub fn connect(port: u16) -> io::Result<RawConn> {
        RawConn::from_stream(TcpStream::connect(("127.0.0.1", port))?)
    }

    /// Wraps an already connected stream (read timeout 10 s, TCP_NODELAY).
    pub fn from_stream(stream: TcpStream) -> io::Result<RawConn> {
        stream.set_read_timeout(Some(READ_TIMEOUT))?;
        stream.set_nodelay(true)?;
        Ok(RawConn { stream, buf: Vec::new() })
    }

    /// Changes the read timeout.
    pub fn set_timeout(&mut self, t: Duration) -> io::Result<()> {
        self.stream.set_read_timeout(Some(t))
    }

    /// The underlying stream (e.g. to shut it down).
    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }

    /// Bytes received but not yet returned as part of a reply.
    pub fn buffered(&self) -> &[u8] {
        &self.buf
    }

    /// Writes raw bytes (panics on I/O error).
    pub fn send(&mut self, bytes: &[u8]) {
        self.try_send(bytes).unwrap_or_else(|e| panic!("send {}: {e}", render(bytes)));
    }

    pub fn try_send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)?;
        self.stream.flush()
    }

    /// Sends `args` as a RESP array of bulk strings and returns the raw bytes of exactly
    /// one reply (panics on I/O error or timeout).
    pub fn cmd(&mut self, args: &[&[u8]]) -> Vec<u8> {
        self.try_cmd(args).unwrap_or_else(|e| {
            panic!("command {}: {e}", render(&encode_command(args)));
        })
    }

    pub fn try_cmd(&mut self, args: &[&[u8]]) -> io::Result<Vec<u8>> {
        self.try_send(&encode_command(args))?;
        self.try_read_reply()
    }

    /// Like [`RawConn::cmd`] but takes `&str` arguments.
    pub fn cmd_str(&mut self, args: &[&str]) -> Vec<u8> {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.cmd(&args)
    }

    /// Reads exactly one complete RESP2/RESP3 reply and returns its raw bytes (panics on
    /// I/O error, timeout, EOF or a malformed reply).
    pub fn read_reply(&mut self) -> Vec<u8> {
        self.try_read_reply().unwrap_or_else(|e| panic!("read_reply: {e}"))
    }

    pub fn try_read_reply(&mut self) -> io::Result<Vec<u8>> {
        loop {
            match reply_len(&self.buf) {
                Ok(Some(n)) => {
                    let rest = self.buf.split_off(n);
                    return Ok(std::mem::replace(&mut self.buf, rest));
                }
                Ok(None) => {}
                Err(msg) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("malformed reply ({msg}): {}", render(&self.buf)),
                    ));
                }
            }
            let mut chunk = [0u8; 16 * 1024];
            let n = match self.stream.read(&mut chunk) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::TimedOut => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("timed out waiting for a reply (have {})", render(&self.buf)),
                    ));
                }
                Err(e) => return Err(e),
            };
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("connection closed by server (have {})", render(&self.buf)),
                ));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Waits up to `timeout` for the server to close the connection. `Ok(())` if it did
    /// (EOF or reset) with no unread bytes; `Err` describes what happened instead.
    pub fn expect_closed(&mut self, timeout: Duration) -> Result<(), String> {
        if !self.buf.is_empty() {
            return Err(format!("unread bytes pending: {}", render(&self.buf)));
        }
        self.stream.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
        let mut chunk = [0u8; 4096];
        let res = loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => break Ok(()),
                Ok(n) => break Err(format!("received {}", render(&chunk[..n]))),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::TimedOut => {
                    break Err(format!("connection still open after {timeout:?}"));
                }
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => break Ok(()),
                Err(e) => break Err(e.to_string()),
            }
        };
        let _ = self.stream.set_read_timeout(Some(READ_TIMEOUT));
        res
    }

    /// Closes the write half (the server sees EOF).
    pub fn shutdown_write(&self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }
}

/// Encodes `args` as a RESP array of bulk strings.
pub fn encode_command(args: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + args.iter().map(|a| a.len() + 16).sum::<usize>());
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Length of the first complete RESP2/RESP3 reply in `buf`: `Ok(None)` if more bytes are
/// needed, `Err` if the bytes cannot be a reply. Iterative, so deep nesting is fine.
pub fn reply_len(buf: &[u8]) -> Result<Option<usize>, String> {
    let mut pos = 0usize;
    // Number of values still to read, per open aggregate (innermost last).
    let mut pending: Vec<u64> = vec![1];
    while let Some(top) = pending.last_mut() {
        if *top == 0 {
            pending.pop();
            continue;
        }
        *top -= 1;
        let Some(line_end) = find_crlf(buf, pos) else {
            return Ok(None);
        };
        let kind = buf[pos];
        let line = &buf[pos + 1..line_end];
        let after = line_end + 2;
        match kind {
            b'+' | b'-' | b':' | b',' | b'#' | b'(' => pos = after,
            b'_' => {
                if !line.is_empty() {
                    return Err(format!("null with payload at byte {pos}"));
                }
                pos = after;
            }
            b'$' | b'!' | b'=' => {
                let n = parse_len(line, pos)?;
                if n < 0 {
                    if kind != b'$' || n != -1 {
                        return Err(format!("bad length {n} at byte {pos}"));
                    }
                    pos = after;
                } else {
                    let end = after + n as usize;
                    if buf.len() < end + 2 {
                        return Ok(None);
                    }
                    if &buf[end..end + 2] != b"\r\n" {
                        return Err(format!("bulk payload not followed by CRLF at byte {end}"));
                    }
                    pos = end + 2;
                }
            }
            b'*' | b'~' | b'>' | b'%' | b'|' => {
                let n = parse_len(line, pos)?;
                pos = after;
                if n < 0 {
                    if kind != b'*' || n != -1 {
                        return Err(format!("bad aggregate length {n} at byte {pos}"));
                    }
                    continue;
                }
                let mut elems = n as u64;
                if kind == b'%' || kind == b'|' {
                    elems *= 2;
                }
                if kind == b'|' {
                    // An attribute is followed by the reply it annotates.
                    if let Some(t) = pending.last_mut() {
                        *t += 1;
                    }
                }
                pending.push(elems);
            }
            other => {
                return Err(format!("unknown reply type byte {} at byte {pos}", render(&[other])));
            }
        }
    }
    Ok(Some(pos))
}

fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    if buf.len() < from + 2 {
        return None;
    }
    buf[from..].windows(2).position(|w| w == b"\r\n").map(|i| from + i)
}

fn parse_len(line: &[u8], pos: usize) -> Result<i64, String> {
    std::str::from_utf8(line)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .filter(|n| *n >= -1)
        .ok_or_else(|| format!("bad length {} at byte {pos}", render(line)))
}

// ---------------------------------------------------------------------------------------
// Text helpers
// ---------------------------------------------------------------------------------------

/// Splits a line into arguments exactly like `redis-cli` (Redis's `sdssplitargs`):
/// whitespace separates arguments; `"double quotes"` support `\n \r \t \b \a \\ \"` and
/// `\xHH` (any other `\c` is `c`); `'single quotes'` support only `\'`; a closing quote
/// must be followed by whitespace or the end of the line; unbalanced quotes are an error.
/// A quote may start in the middle of an argument (`a"b c"` is one argument `ab c`).
pub fn split_args(line: &str) -> Result<Vec<Vec<u8>>, String> {
    let p = line.as_bytes();
    let at = |i: usize| -> u8 { p.get(i).copied().unwrap_or(0) };
    let is_space = |c: u8| matches!(c, b' ' | b'\n' | b'\r' | b'\t' | 0x0b | 0x0c);
    let mut args = Vec::new();
    let mut i = 0usize;
    loop {
        while i < p.len() && is_space(p[i]) {
            i += 1;
        }
        if i >= p.len() {
            return Ok(args);
        }
        let mut cur = Vec::new();
        let (mut inq, mut insq, mut done) = (false, false, false);
        while !done {
            let c = at(i);
            if inq {
                if c == b'\\' && at(i + 1) == b'x' && at(i + 2).is_ascii_hexdigit() && at(i + 3).is_ascii_hexdigit() {
                    cur.push(hex_val(at(i + 2)) * 16 + hex_val(at(i + 3)));
                    i += 3;
                } else if c == b'\\' && at(i + 1) != 0 {
                    i += 1;
                    cur.push(match at(i) {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                } else if c == b'"' {
                    if at(i + 1) != 0 && !is_space(at(i + 1)) {
                        return Err(format!("closing quote must be followed by a space at column {}", i + 1));
                    }
                    done = true;
                } else if c == 0 && i >= p.len() {
                    return Err("unbalanced double quotes".to_string());
                } else {
                    cur.push(c);
                }
            } else if insq {
                if c == b'\\' && at(i + 1) == b'\'' {
                    i += 1;
                    cur.push(b'\'');
                } else if c == b'\'' {
                    if at(i + 1) != 0 && !is_space(at(i + 1)) {
                        return Err(format!("closing quote must be followed by a space at column {}", i + 1));
                    }
                    done = true;
                } else if c == 0 && i >= p.len() {
                    return Err("unbalanced single quotes".to_string());
                } else {
                    cur.push(c);
                }
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' => done = true,
                    0 if i >= p.len() => done = true,
                    b'"' => inq = true,
                    b'\'' => insq = true,
                    _ => cur.push(c),
                }
            }
            if i < p.len() {
                i += 1;
            }
        }
        args.push(cur);
    }
}

fn hex_val(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c - b'A' + 10,
    }
}

/// Decodes backslash escapes in unquoted text: `\r \n \t \b \a \0 \\ \xHH`; any other
/// `\c` is `c`. Used for raw protocol bytes (`!raw PING\r\n`).
pub fn unescape(s: &str) -> Result<Vec<u8>, String> {
    let p = s.as_bytes();
    let mut out = Vec::with_capacity(p.len());
    let mut i = 0;
    while i < p.len() {
        if p[i] != b'\\' {
            out.push(p[i]);
            i += 1;
            continue;
        }
        let Some(&c) = p.get(i + 1) else {
            return Err("trailing backslash".to_string());
        };
        i += 2;
        out.push(match c {
            b'r' => b'\r',
            b'n' => b'\n',
            b't' => b'\t',
            b'b' => 0x08,
            b'a' => 0x07,
            b'0' => 0,
            b'x' => {
                let (Some(&h), Some(&l)) = (p.get(i), p.get(i + 1)) else {
                    return Err("\\x needs two hex digits".to_string());
                };
                if !h.is_ascii_hexdigit() || !l.is_ascii_hexdigit() {
                    return Err("\\x needs two hex digits".to_string());
                }
                i += 2;
                hex_val(h) * 16 + hex_val(l)
            }
            other => other,
        });
    }
    Ok(out)
}

/// Renders raw bytes readably: printable ASCII as is, `\r \n \t \\ \"` escaped, anything
/// else as `\xHH`, all inside double quotes. Long inputs are cut at 4000 bytes.
pub fn render(bytes: &[u8]) -> String {
    const MAX: usize = 4000;
    let shown = &bytes[..bytes.len().min(MAX)];
    let mut s = String::with_capacity(shown.len() + 2);
    s.push('"');
    for &b in shown {
        match b {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s.push('"');
    if bytes.len() > MAX {
        s.push_str(&format!("... ({} bytes total)", bytes.len()));
    }
    s
}

/// Renders an argument list the way it could be typed into `redis-cli`: plain words as
/// is, anything with spaces, quotes or non-printables double-quoted with escapes.
pub fn render_args(args: &[Vec<u8>]) -> String {
    args.iter()
        .map(|a| {
            let plain =
                !a.is_empty() && a.iter().all(|&b| b.is_ascii_graphic() && b != b'"' && b != b'\'' && b != b'\\');
            if plain {
                String::from_utf8_lossy(a).into_owned()
            } else {
                let r = render(&a[..a.len().min(200)]);
                if a.len() > 200 {
                    format!("{r}...({} bytes)", a.len())
                } else {
                    r
                }
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Parses the text after `=` of a pin line: space-separated tokens, each a name from
/// `pinned` (`NAME` or `NAME*count`) or an escaped literal ending in `\r\n`, as long as
/// at least one token is a name; otherwise the whole text is one escaped literal.
pub fn parse_pin(text: &str, pinned: impl Fn(&str) -> Option<&'static str>) -> Vec<u8> {
    let text = text.trim();
    let name = |token: &str| -> Option<String> {
        let (n, count) = match token.split_once('*') {
            Some((n, c)) => (n, c.parse::<usize>().ok()?),
            None => (token, 1),
        };
        pinned(n).map(|t| t.repeat(count))
    };
    let tokens: Vec<&str> = text.split(' ').collect();
    let tokenized =
        tokens.iter().any(|t| name(t).is_some()) && tokens.iter().all(|t| name(t).is_some() || t.ends_with(r"\r\n"));
    let literal = |t: &str| unescape(t).unwrap_or_else(|e| panic!("bad pin `{text}`: {e}"));
    if !tokenized {
        return literal(text);
    }
    let mut out = Vec::new();
    for token in tokens {
        match name(token) {
            Some(t) => out.extend_from_slice(t.as_bytes()),
            None => out.extend(literal(token)),
        }
    }
    out
}
