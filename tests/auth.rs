//! Password authentication of the default user (`requirepass`, `AUTH`, `HELLO ... AUTH`,
//! protected mode), differential against redis-server 7.0: every scenario runs the same
//! steps on a real `redis-server` and on `rustis-server`, and what each step produces (the
//! raw reply bytes, or a marker such as `<closed>`) must be identical on both.
//!
//! ```text
//! cargo test --release --test auth
//! RUSTIS_AUTH_SELFCHECK=1 cargo test --release --test auth  # redis-server vs redis-server
//! RUSTIS_REQUIRE_REDIS=1 cargo test --release --test auth   # fail (not skip) without redis-server
//! RUSTIS_AUTH_SHOW=1 cargo test --release --test auth -- --nocapture  # print transcripts
//! ```
//!
//! `RUSTIS_AUTH_SELFCHECK=1` replaces rustis-server by a second redis-server, which checks
//! the scenarios themselves (determinism and the pinned texts).
//!
//! Covered: `requirepass` on the command line, in a config file and via `CONFIG SET` (and
//! `CONFIG GET`); which commands answer `-NOAUTH` before authentication and which errors
//! come first (unknown command, arity, unknown subcommand, HELLO's protocol checks); `AUTH`
//! forms with and without a configured password; `HELLO ... AUTH/SETNAME` (options applied
//! left to right); MULTI and pipelines before authentication; runtime password changes and
//! `RESET`; errorstats / commandstats / `total_error_replies`; Redis's limits for
//! unauthenticated clients (multibulk > 10 arguments, bulk > 16384 bytes, > 16 KB of pending
//! output); binary and very long passwords; protected mode for non-loopback clients.
//!
//! # Scripts
//!
//! A scenario starts one server per side with the same arguments (and optionally the same
//! config file) and runs a script. Each line is `<conn>: <action>`; a connection is opened
//! (to 127.0.0.1) on its first use, so the script order decides when a client connects.
//! Actions:
//!
//! - `CMD arg ...` — split like `redis-cli`, sent as a RESP array, one reply read.
//! - `?hello CMD ...` — same, with the values of `server`, `version` and `id` masked.
//! - `?info=p1,p2 CMD ...` — an `INFO` reply reduced to the lines starting with one of the
//!   prefixes (in prefix order, sorted within a prefix); `cmdstat_` lines lose their
//!   `usec`/`usec_per_call` fields.
//! - `!connect-ext` — connect from this machine's first non-loopback IPv4 address.
//! - `!send <escaped bytes>` — send raw bytes (`\r\n`, `\xHH`, ...), read nothing.
//! - `!read` — read one reply. `!idle` — expect nothing for 300 ms (`<nothing>`).
//! - `!closed` — expect the server to close the connection (`<closed>`).
//! - `!pipe [N*]CMD ... | [N*]CMD ...` — all commands in one write, then read as many replies
//!   (the outcome is their concatenation, plus `<closed>` if the server closed first; a
//!   HELLO reply in it is masked like `?hello`).
//!
//! A line `= ...` pins the previous step's outcome on redis-server (the reference): names
//! from [`pinned`] (`NAME` or `NAME*count`) mixed with escaped literals ending in `\r\n`,
//! space separated, or else one escaped literal (see [`parse_pin`]). Mismatches are
//! collected over the whole script and reported together with both transcripts; a server
//! process that exits during a scenario is a failure too.

mod common;

use common::{render, split_args, unescape, RawConn, Server};
use std::fs::{self, File};
use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// `1`: the second side is another redis-server instead of rustis-server.
const SELFCHECK_ENV: &str = "RUSTIS_AUTH_SELFCHECK";
/// `1`: print the transcript of every scenario.
const SHOW_ENV: &str = "RUSTIS_AUTH_SHOW";
/// Longest wait for one reply.
const REPLY_WAIT: Duration = Duration::from_secs(2);
/// `!idle` waits this long for nothing to arrive.
const IDLE_WAIT: Duration = Duration::from_millis(300);
/// `!closed` waits at most this long for the server to close.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

// ---------------------------------------------------------------------------------------
// Texts of redis-server 7.0.15
// ---------------------------------------------------------------------------------------

const NOAUTH: &str = "-NOAUTH Authentication required.\r\n";
const WRONGPASS: &str = "-WRONGPASS invalid username-password pair or user is disabled.\r\n";
/// `AUTH <password>` while the default user has no password (`nopass`).
const NOPASS_AUTH: &str = "-ERR AUTH <password> called without any password configured for the default user. \
                           Are you sure your configuration is correct?\r\n";
/// HELLO (any protocol version, with or without SETNAME) from an unauthenticated client.
const HELLO_NOAUTH: &str = "-NOAUTH HELLO must be called with the client already authenticated, otherwise the \
                            HELLO AUTH <user> <pass> option can be used to authenticate the client and select the \
                            RESP protocol version at the same time\r\n";
/// EXEC (even without MULTI) from an unauthenticated client.
const EXECABORT_NOAUTH: &str = "-EXECABORT Transaction discarded because of: NOAUTH Authentication required.\r\n";
/// Sent unprompted right after accept to a non-loopback client when protected mode is on
/// and the default user has no password; the connection is then closed.
const DENIED: &str = "-DENIED Redis is running in protected mode because protected mode is enabled and no \
                      password is set for the default user. In this mode connections are only accepted from the \
                      loopback interface. If you want to connect from external computers to Redis you may adopt \
                      one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG \
                      SET protected-mode no' from the loopback interface by connecting to Redis from the same \
                      host the server is running, however MAKE SURE Redis is not publicly accessible from \
                      internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively \
                      you can just disable the protected mode by editing the Redis configuration file, and \
                      setting the protected mode option to 'no', and then restarting the server. 3) If you \
                      started the server manually just for testing, restart it with the '--protected-mode no' \
                      option. 4) Setup a an authentication password for the default user. NOTE: You only need \
                      to do one of the above things in order for the server to start accepting connections \
                      from the outside.\r\n";
/// An unauthenticated client announced more than 10 arguments (then closed).
const UNAUTH_MBULK: &str = "-ERR Protocol error: unauthenticated multibulk length\r\n";
/// An unauthenticated client announced a bulk string longer than 16384 bytes (then closed).
const UNAUTH_BULK: &str = "-ERR Protocol error: unauthenticated bulk length\r\n";
const SYNTAX: &str = "-ERR syntax error\r\n";
const AUTH_ARITY: &str = "-ERR wrong number of arguments for 'auth' command\r\n";
const NOPROTO: &str = "-NOPROTO unsupported protocol version\r\n";
const PROTOVER: &str = "-ERR Protocol version is not an integer or out of range\r\n";
const BAD_CLIENT_NAME: &str = "-ERR Client names cannot contain spaces, newlines or special characters.\r\n";
/// `HELLO 3` reply with `server`, `version` and `id` masked (see [`mask_hello`]).
const HELLO3: &str = "%7\r\n$6\r\nserver\r\n$1\r\n*\r\n$7\r\nversion\r\n$1\r\n*\r\n$5\r\nproto\r\n:3\r\n\
                      $2\r\nid\r\n:*\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n\
                      $7\r\nmodules\r\n*0\r\n";
/// `HELLO 2` reply, masked like [`HELLO3`].
const HELLO2: &str = "*14\r\n$6\r\nserver\r\n$1\r\n*\r\n$7\r\nversion\r\n$1\r\n*\r\n$5\r\nproto\r\n:2\r\n\
                      $2\r\nid\r\n:*\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n\
                      $7\r\nmodules\r\n*0\r\n";

/// The names a pin line may use.
fn pinned(name: &str) -> Option<&'static str> {
    Some(match name {
        "NOAUTH" => NOAUTH,
        "WRONGPASS" => WRONGPASS,
        "NOPASS_AUTH" => NOPASS_AUTH,
        "HELLO_NOAUTH" => HELLO_NOAUTH,
        "EXECABORT_NOAUTH" => EXECABORT_NOAUTH,
        "DENIED" => DENIED,
        "UNAUTH_MBULK" => UNAUTH_MBULK,
        "UNAUTH_BULK" => UNAUTH_BULK,
        "SYNTAX" => SYNTAX,
        "AUTH_ARITY" => AUTH_ARITY,
        "NOPROTO" => NOPROTO,
        "PROTOVER" => PROTOVER,
        "BAD_CLIENT_NAME" => BAD_CLIENT_NAME,
        "HELLO3" => HELLO3,
        "HELLO2" => HELLO2,
        "OK" => "+OK\r\n",
        "PONG" => "+PONG\r\n",
        "QUEUED" => "+QUEUED\r\n",
        "RESET" => "+RESET\r\n",
        "NIL" => "$-1\r\n",
        "NOTHING" => "<nothing>",
        "CLOSED" => "<closed>",
        _ => return None,
    })
}

/// A pin line's bytes (see `common::parse_pin`) with this file's [`pinned`] names.
fn parse_pin(text: &str) -> Vec<u8> {
    common::parse_pin(text, pinned)
}

// ---------------------------------------------------------------------------------------
// Servers
// ---------------------------------------------------------------------------------------

fn selfcheck() -> bool {
    std::env::var(SELFCHECK_ENV).is_ok_and(|v| v == "1")
}

/// A server started by this file (see [`start`]: with a password the shared helpers would
/// wait in vain for `PING` to answer `+PONG`).
struct OwnServer {
    child: Child,
    dir: PathBuf,
    log: PathBuf,
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("server log kept at {}", self.log.display());
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

enum Proc {
    Shared(Server),
    Own(OwnServer),
}

/// One running server of a side.
struct Srv {
    port: u16,
    proc_: Proc,
}

impl Srv {
    fn exited(&mut self) -> Option<ExitStatus> {
        match &mut self.proc_ {
            Proc::Shared(s) => s.exited(),
            Proc::Own(o) => o.child.try_wait().ok().flatten(),
        }
    }

    fn log_tail(&self) -> String {
        match &self.proc_ {
            Proc::Shared(s) => s.log_tail(30),
            Proc::Own(o) => common::log_tail(&o.log, 30),
        }
    }
}

/// Starts redis-server (`redis`) or rustis-server with `args` (and `conf` as the config
/// file). `None`: redis-server is not installed (and not required). The shared helpers are
/// used unless the server starts with a password, a config file or its own `--bind` (the
/// helpers always pass `--bind 127.0.0.1`, and rustis-server refuses a repeated option).
fn start(redis: bool, label: &'static str, args: &[&str], conf: Option<&str>) -> Option<Srv> {
    let own_bind = args.contains(&"--bind");
    if conf.is_none() && !own_bind && !args.contains(&"--requirepass") {
        let server = if redis { common::start_redis(args)? } else { common::start_rustis(args) };
        return Some(Srv { port: server.port, proc_: Proc::Shared(server) });
    }
    let bin = if redis { "redis-server" } else { env!("CARGO_BIN_EXE_rustis-server") };
    let base: &[&str] = if redis {
        &["--save", "", "--appendonly", "no", "--daemonize", "no"]
    } else {
        &["--metrics-port", "0", "--save", ""]
    };
    let mut last = String::new();
    for _attempt in 0..3 {
        let port = common::free_port();
        let dir = common::temp_dir(label);
        let log = dir.join(format!("{label}.log"));
        let out = File::create(&log).expect("create log file");
        let err = out.try_clone().expect("clone log file");
        let mut cmd = Command::new(bin);
        if let Some(text) = conf {
            let path = dir.join("auth.conf");
            fs::write(&path, text).expect("write config file");
            cmd.arg(path);
        }
        cmd.arg("--port").arg(port.to_string());
        if !own_bind {
            cmd.args(["--bind", "127.0.0.1"]);
        }
        cmd.args(base).arg("--dir").arg(&dir);
        cmd.args(args).current_dir(&dir).stdin(Stdio::null()).stdout(Stdio::from(out)).stderr(Stdio::from(err));
        let child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::NotFound && redis => {
                let _ = fs::remove_dir_all(&dir);
                if common::redis_required() {
                    panic!("redis-server not found on PATH but {}=1 is set", common::REQUIRE_REDIS_ENV);
                }
                return None;
            }
            Err(e) => panic!("cannot spawn {bin}: {e}"),
        };
        let mut own = OwnServer { child, dir, log };
        let deadline = Instant::now() + common::STARTUP_TIMEOUT;
        loop {
            if let Some(status) = own.child.try_wait().ok().flatten() {
                last = format!("{label} exited during startup with {status}:\n{}", common::log_tail(&own.log, 30));
                break;
            }
            if ready(port) {
                return Some(Srv { port, proc_: Proc::Own(own) });
            }
            if Instant::now() >= deadline {
                panic!("{label} did not answer PING on port {port}:\n{}", common::log_tail(&own.log, 30));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    panic!("{last}")
}

/// True when the server on `port` answers `QUIT` with `+OK`. (Not PING: with a password
/// that is a NOAUTH error, which would show up in the error statistics; Redis answers QUIT
/// before authentication and statistics.)
fn ready(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(300)) else {
        return false;
    };
    let Ok(mut conn) = RawConn::from_stream(stream) else {
        return false;
    };
    if conn.set_timeout(Duration::from_secs(1)).is_err() {
        return false;
    }
    matches!(conn.try_cmd(&[b"QUIT"]), Ok(r) if r == b"+OK\r\n")
}

/// This machine's first non-loopback IPv4 address (`ip -4 -o addr show scope global`, else
/// `hostname -I`).
fn external_ipv4() -> Option<Ipv4Addr> {
    let run = |prog: &str, args: &[&str]| -> String {
        Command::new(prog)
            .args(args)
            .stderr(Stdio::null())
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    let usable = |ip: &Ipv4Addr| !ip.is_loopback() && !ip.is_unspecified() && !ip.is_link_local();
    let ip_out = run("ip", &["-4", "-o", "addr", "show", "scope", "global"]);
    let mut tokens = ip_out.split_whitespace();
    while let Some(t) = tokens.next() {
        if t == "inet" {
            if let Some(ip) = tokens.next().and_then(|a| a.split('/').next()).and_then(|a| a.parse().ok()) {
                if usable(&ip) {
                    return Some(ip);
                }
            }
        }
    }
    run("hostname", &["-I"]).split_whitespace().filter_map(|t| t.parse::<Ipv4Addr>().ok()).find(usable)
}

/// The address for `!connect-ext`, or `None` after printing why the test is skipped.
fn external_or_skip(test: &str) -> Option<Ipv4Addr> {
    let ip = external_ipv4();
    if ip.is_none() {
        eprintln!(
            "{test}: skipped: this machine has no non-loopback IPv4 address (`ip -4 -o addr show scope global` \
             and `hostname -I` found none), so protected mode cannot be exercised"
        );
    }
    ip
}

// ---------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------

#[derive(PartialEq)]
enum State {
    Open,
    Closed,
    Desync,
}

struct Conn {
    name: String,
    raw: RawConn,
    state: State,
}

/// One server and its named connections.
struct Side {
    label: &'static str,
    srv: Srv,
    conns: Vec<Conn>,
    ext: Option<Ipv4Addr>,
}

fn note(text: &str) -> Vec<u8> {
    format!("<{text}>").into_bytes()
}

/// How a read ended when it did not return a reply.
enum End {
    Closed(Vec<u8>),
    Timeout,
    Failed(String),
}

fn read_one(raw: &mut RawConn, wait: Duration) -> Result<Vec<u8>, End> {
    if let Err(e) = raw.set_timeout(wait) {
        return Err(End::Failed(e.to_string()));
    }
    raw.try_read_reply().map_err(|e| match e.kind() {
        io::ErrorKind::TimedOut => End::Timeout,
        io::ErrorKind::UnexpectedEof
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => End::Closed(raw.buffered().to_vec()),
        _ => End::Failed(e.to_string()),
    })
}

impl Conn {
    /// Appends the end of a failed read to `out` and updates the state.
    fn end(&mut self, end: End, out: &mut Vec<u8>) {
        match end {
            End::Closed(partial) => {
                self.state = State::Closed;
                if partial.is_empty() {
                    out.extend_from_slice(b"<closed>");
                } else {
                    out.extend(note(&format!("closed after partial reply {}", render(&partial))));
                }
            }
            End::Timeout => {
                self.state = State::Desync;
                out.extend(note(&format!("no reply within {REPLY_WAIT:?}")));
            }
            End::Failed(e) => {
                self.state = State::Desync;
                out.extend(note(&format!("read failed: {e}")));
            }
        }
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), Vec<u8>> {
        self.raw.try_send(bytes).map_err(|e| {
            self.state = State::Closed;
            note(&format!("send failed: {}", e.kind()))
        })
    }

    /// Reads `count` replies; stops early when the connection closes or times out.
    fn read_n(&mut self, count: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for _ in 0..count {
            match read_one(&mut self.raw, REPLY_WAIT) {
                Ok(r) => out.extend(r),
                Err(end) => {
                    self.end(end, &mut out);
                    break;
                }
            }
        }
        out
    }
}

fn encode(args: &[Vec<u8>]) -> Vec<u8> {
    let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
    common::encode_command(&refs)
}

fn split(line: &str) -> Vec<Vec<u8>> {
    let args = split_args(line).unwrap_or_else(|e| panic!("bad command `{}`: {e}", short(line)));
    assert!(!args.is_empty(), "empty command in script");
    args
}

impl Side {
    fn connect(&self, ext: bool) -> io::Result<RawConn> {
        let ip = if ext { self.ext.expect("!connect-ext needs an external address") } else { Ipv4Addr::LOCALHOST };
        let stream = TcpStream::connect_timeout(&SocketAddr::from((ip, self.srv.port)), REPLY_WAIT)?;
        RawConn::from_stream(stream)
    }

    /// Runs one action on connection `who` and returns its outcome.
    fn step(&mut self, who: &str, action: &str) -> Vec<u8> {
        let found = self.conns.iter().position(|c| c.name == who);
        if action == "!connect-ext" {
            assert!(found.is_none(), "`{who}: !connect-ext` but {who} is already connected");
            return match self.connect(true) {
                Ok(raw) => {
                    self.conns.push(Conn { name: who.to_string(), raw, state: State::Open });
                    note("connected")
                }
                Err(e) => note(&format!("connect failed: {}", e.kind())),
            };
        }
        let idx = match found {
            Some(i) => i,
            None => match self.connect(false) {
                Ok(raw) => {
                    self.conns.push(Conn { name: who.to_string(), raw, state: State::Open });
                    self.conns.len() - 1
                }
                Err(e) => return note(&format!("connect failed: {}", e.kind())),
            },
        };
        let conn = &mut self.conns[idx];
        match conn.state {
            State::Open => {}
            State::Closed => return note("skipped: connection closed"),
            State::Desync => return note("skipped: connection out of sync"),
        }
        if let Some(bytes) = action.strip_prefix("!send ") {
            let bytes = unescape(bytes).unwrap_or_else(|e| panic!("bad !send `{}`: {e}", short(action)));
            return match conn.send(&bytes) {
                Ok(()) => note("sent"),
                Err(n) => n,
            };
        }
        if let Some(spec) = action.strip_prefix("!pipe ") {
            let mut bytes = Vec::new();
            let mut count = 0;
            for part in spec.split(" | ") {
                let (n, cmd) = match part.split_once('*') {
                    Some((n, rest)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
                        (n.parse::<usize>().expect("count"), rest)
                    }
                    _ => (1, part),
                };
                let one = encode(&split(cmd));
                for _ in 0..n {
                    bytes.extend_from_slice(&one);
                }
                count += n;
            }
            if let Err(n) = conn.send(&bytes) {
                return n;
            }
            return mask_hello(&conn.read_n(count));
        }
        match action {
            "!read" => return conn.read_n(1),
            "!closed" => {
                return match conn.raw.expect_closed(CLOSE_WAIT) {
                    Ok(()) => {
                        conn.state = State::Closed;
                        b"<closed>".to_vec()
                    }
                    Err(e) => {
                        conn.state = State::Desync;
                        note(&format!("not closed: {e}"))
                    }
                };
            }
            "!idle" => {
                return match read_one(&mut conn.raw, IDLE_WAIT) {
                    Ok(r) => {
                        conn.state = State::Desync;
                        let mut out = note("unexpected reply");
                        out.extend(r);
                        out
                    }
                    Err(End::Timeout) => b"<nothing>".to_vec(),
                    Err(end) => {
                        let mut out = Vec::new();
                        conn.end(end, &mut out);
                        out
                    }
                };
            }
            _ => {}
        }
        assert!(!action.starts_with('!'), "unknown action `{action}`");
        let (filter, cmd) = match action.strip_prefix('?') {
            Some(rest) => rest.split_once(' ').unwrap_or_else(|| panic!("bad action `{action}`")),
            None => ("", action),
        };
        if let Err(n) = conn.send(&encode(&split(cmd))) {
            return n;
        }
        let reply = conn.read_n(1);
        if reply.starts_with(b"<") {
            return reply;
        }
        if filter == "hello" {
            mask_hello(&reply)
        } else if let Some(prefixes) = filter.strip_prefix("info=") {
            info_lines(&reply, &prefixes.split(',').collect::<Vec<_>>())
        } else {
            assert!(filter.is_empty(), "unknown filter `?{filter}`");
            reply
        }
    }
}

/// Replaces the values of `server`, `version` and `id` in a HELLO reply by `*` (a bulk
/// string stays a bulk string, an integer an integer).
fn mask_hello(reply: &[u8]) -> Vec<u8> {
    let mut out = reply.to_vec();
    for key in ["server", "version", "id"] {
        let pat = format!("${}\r\n{key}\r\n", key.len()).into_bytes();
        let Some(pos) = out.windows(pat.len()).position(|w| w == pat.as_slice()) else {
            continue;
        };
        let start = pos + pat.len();
        let Ok(Some(len)) = common::reply_len(&out[start..]) else {
            continue;
        };
        let masked: Vec<u8> =
            if out[start] == b'$' { b"$1\r\n*\r\n".to_vec() } else { vec![out[start], b'*', b'\r', b'\n'] };
        out.splice(start..start + len, masked);
    }
    out
}

/// `<info>` followed by the lines of a bulk-string INFO reply that start with one of
/// `prefixes` (one `\n` before each line), grouped by prefix and sorted within a group;
/// `cmdstat_` lines without their timing fields.
fn info_lines(reply: &[u8], prefixes: &[&str]) -> Vec<u8> {
    let text = String::from_utf8_lossy(reply);
    let Some((header, body)) = text.split_once("\r\n") else {
        return reply.to_vec();
    };
    if !header.starts_with('$') {
        return reply.to_vec();
    }
    let lines: Vec<&str> = body.split("\r\n").collect();
    let mut out = String::from("<info>");
    for prefix in prefixes {
        let mut group: Vec<String> = lines
            .iter()
            .filter(|l| l.starts_with(prefix))
            .map(|l| match l.split_once(':') {
                Some((name, fields)) if name.starts_with("cmdstat_") => {
                    let kept: Vec<&str> = fields
                        .split(',')
                        .filter(|f| !f.starts_with("usec=") && !f.starts_with("usec_per_call="))
                        .collect();
                    format!("{name}:{}", kept.join(","))
                }
                _ => l.to_string(),
            })
            .collect();
        group.sort();
        for l in group {
            out.push('\n');
            out.push_str(&l);
        }
    }
    out.into_bytes()
}

/// A script line shortened for messages.
fn short(line: &str) -> String {
    if line.len() <= 120 {
        line.to_string()
    } else {
        let mut cut = 100;
        while !line.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{}...({} bytes)", &line[..cut], line.len())
    }
}

/// Where two outcomes first differ, with some context.
fn first_difference(a: &[u8], b: &[u8]) -> String {
    let at = a.iter().zip(b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
    let from = at.saturating_sub(20);
    let ctx = |s: &[u8]| render(&s[from.min(s.len())..(at + 40).min(s.len())]);
    format!("first difference at byte {at} (lengths {} / {}): {} vs {}", a.len(), b.len(), ctx(a), ctx(b))
}

/// Shows an outcome in a transcript (long ones cut).
fn show(out: &[u8]) -> String {
    if out.len() <= 300 {
        render(out)
    } else {
        format!("{}... ({} bytes)", render(&out[..300]), out.len())
    }
}

/// Runs `script` on redis-server and on rustis-server (or a second redis-server in
/// self-check mode), both started with `args` and the config file `conf`; `ext` is the
/// address `!connect-ext` uses. Panics with a report listing every mismatch.
fn scenario<S: AsRef<str>>(title: &str, args: &[&str], conf: Option<&str>, ext: Option<Ipv4Addr>, script: &[S]) {
    let Some(reference) = start(true, "redis", args, conf) else {
        eprintln!("{title}: skipped: redis-server is not installed (set {}=1 to fail)", common::REQUIRE_REDIS_ENV);
        return;
    };
    let (label, other) = if selfcheck() {
        ("redis#2", start(true, "redis2", args, conf).expect("second redis-server"))
    } else {
        ("rustis", start(false, "rustis", args, conf).expect("rustis-server"))
    };
    let mut sides = [
        Side { label: "redis", srv: reference, conns: Vec::new(), ext },
        Side { label, srv: other, conns: Vec::new(), ext },
    ];
    let started = Instant::now();
    let mut problems: Vec<String> = Vec::new();
    let mut transcript: Vec<(String, Vec<Vec<u8>>)> = Vec::new();
    for (n, line) in script.iter().enumerate() {
        let line = line.as_ref().trim();
        let step = n + 1;
        if let Some(pin) = line.strip_prefix('=') {
            let expected = parse_pin(pin);
            let (last_line, outs) = transcript.last().expect("a pin line must follow a step");
            if outs[0] != expected {
                problems.push(format!(
                    "line {step}: `{last_line}` on redis-server is not what the script pins\n    got:    {}\n    \
                     pinned: {}\n    {}",
                    show(&outs[0]),
                    show(&expected),
                    first_difference(&outs[0], &expected)
                ));
            }
            continue;
        }
        let (who, action) = line.split_once(": ").unwrap_or_else(|| panic!("bad script line `{}`", short(line)));
        let outs: Vec<Vec<u8>> = sides.iter_mut().map(|s| s.step(who.trim(), action.trim())).collect();
        if outs[0] != outs[1] {
            problems.push(format!(
                "line {step}: `{}`\n    {:<7} {}\n    {:<7} {}\n    {}",
                short(line),
                sides[0].label,
                show(&outs[0]),
                sides[1].label,
                show(&outs[1]),
                first_difference(&outs[0], &outs[1])
            ));
        }
        transcript.push((short(line), outs));
    }
    for side in &mut sides {
        if let Some(status) = side.srv.exited() {
            problems.push(format!(
                "{} exited during the scenario with {status}\n--- log tail ---\n{}",
                side.label,
                side.srv.log_tail()
            ));
        }
    }
    let render_transcript = |k: usize| -> String {
        transcript.iter().map(|(line, outs)| format!("  {line}\n      -> {}\n", show(&outs[k]))).collect()
    };
    if std::env::var(SHOW_ENV).is_ok_and(|v| v == "1") {
        eprintln!("=== {title} ({:?}) ===\n{}", started.elapsed(), render_transcript(0));
    }
    if !problems.is_empty() {
        panic!(
            "{title}: {} problem(s) between {} and {}:\n\n{}\n\n--- {} transcript ---\n{}\n--- {} transcript ---\n{}",
            problems.len(),
            sides[0].label,
            sides[1].label,
            problems.join("\n\n"),
            sides[0].label,
            render_transcript(0),
            sides[1].label,
            render_transcript(1)
        );
    }
}

// ---------------------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------------------

/// `--requirepass pw` on the command line: a new client gets `-NOAUTH Authentication
/// required.` for PING and CONFIG GET until `AUTH pw` / `AUTH default pw` (`+OK`); then
/// `CONFIG GET requirepass` shows the password.
#[test]
fn requirepass_on_command_line() {
    scenario(
        "requirepass_on_command_line",
        &["--requirepass", "pw"],
        None,
        None,
        &[
            "a: PING",
            "= NOAUTH",
            "a: CONFIG GET requirepass",
            "= NOAUTH",
            "a: AUTH pw",
            "= OK",
            "a: PING",
            "= PONG",
            "a: CONFIG GET requirepass",
            r"= *2\r\n$11\r\nrequirepass\r\n$2\r\npw\r\n",
            "b: GET k",
            "= NOAUTH",
            "b: AUTH default pw",
            "= OK",
            "b: GET k",
            "= NIL",
        ],
    );
}

/// `requirepass "s3cret pass"` in a config file (quoted, with a space) is the password;
/// a prefix of it is `-WRONGPASS`.
#[test]
fn requirepass_in_config_file() {
    scenario(
        "requirepass_in_config_file",
        &[],
        Some("requirepass \"s3cret pass\"\n"),
        None,
        &[
            "a: PING",
            "= NOAUTH",
            "a: AUTH s3cret",
            "= WRONGPASS",
            "a: AUTH \"s3cret pass\"",
            "= OK",
            "a: CONFIG GET requirepass",
            r"= *2\r\n$11\r\nrequirepass\r\n$11\r\ns3cret pass\r\n",
        ],
    );
}

/// Before authentication only AUTH, HELLO, QUIT and RESET run; every other known command
/// (PING, ECHO, GET, SELECT, CLIENT ..., MULTI, WATCH, SUBSCRIBE, COMMAND, CONFIG, INFO,
/// ...) answers `-NOAUTH Authentication required.`, inline commands too. Errors found
/// before the authentication check win: unknown command, wrong arity, unknown
/// subcommand. EXEC answers `-EXECABORT Transaction discarded because of: NOAUTH ...`.
/// HELLO's own checks (protocol version, option syntax) come before its NOAUTH text.
/// A rejected SELECT or CLIENT SETNAME has no effect; RESET keeps the client
/// unauthenticated; QUIT answers `+OK` and closes.
#[test]
fn commands_before_auth() {
    scenario(
        "commands_before_auth",
        &["--requirepass", "pw"],
        None,
        None,
        &[
            "a: PING",
            "= NOAUTH",
            "a: PING hello",
            "= NOAUTH",
            "a: ECHO x",
            "= NOAUTH",
            "a: GET k",
            "= NOAUTH",
            "a: SET k v",
            "= NOAUTH",
            "a: EXISTS k",
            "= NOAUTH",
            "a: KEYS *",
            "= NOAUTH",
            "a: DBSIZE",
            "= NOAUTH",
            "a: FLUSHALL",
            "= NOAUTH",
            "a: SELECT 1",
            "= NOAUTH",
            "a: CLIENT SETNAME x",
            "= NOAUTH",
            "a: CLIENT GETNAME",
            "= NOAUTH",
            "a: CLIENT ID",
            "= NOAUTH",
            "a: MULTI",
            "= NOAUTH",
            "a: DISCARD",
            "= NOAUTH",
            "a: EXEC",
            "= EXECABORT_NOAUTH",
            "a: WATCH k",
            "= NOAUTH",
            "a: UNWATCH",
            "= NOAUTH",
            "a: SUBSCRIBE c",
            "= NOAUTH",
            "a: PSUBSCRIBE c*",
            "= NOAUTH",
            "a: PUBLISH c m",
            "= NOAUTH",
            "a: COMMAND",
            "= NOAUTH",
            "a: COMMAND COUNT",
            "= NOAUTH",
            "a: CONFIG GET requirepass",
            "= NOAUTH",
            "a: CONFIG SET requirepass x",
            "= NOAUTH",
            "a: INFO",
            "= NOAUTH",
            "a: TIME",
            "= NOAUTH",
            // Errors that come before the authentication check.
            "a: NOSUCH",
            r"= -ERR unknown command 'NOSUCH', with args beginning with: \r\n",
            "a: nosuch a b",
            r"= -ERR unknown command 'nosuch', with args beginning with: 'a' 'b' \r\n",
            "a: GET",
            r"= -ERR wrong number of arguments for 'get' command\r\n",
            "a: GET a b",
            r"= -ERR wrong number of arguments for 'get' command\r\n",
            "a: SET",
            r"= -ERR wrong number of arguments for 'set' command\r\n",
            "a: CLIENT",
            r"= -ERR wrong number of arguments for 'client' command\r\n",
            "a: CONFIG",
            r"= -ERR wrong number of arguments for 'config' command\r\n",
            "a: CLIENT nosub",
            r"= -ERR unknown subcommand 'nosub'. Try CLIENT HELP.\r\n",
            "a: CONFIG nosub",
            r"= -ERR unknown subcommand 'nosub'. Try CONFIG HELP.\r\n",
            "a: HELLO 4",
            "= NOPROTO",
            "a: HELLO x",
            "= PROTOVER",
            "a: HELLO 3 FOO",
            r"= -ERR Syntax error in HELLO option 'FOO'\r\n",
            "a: HELLO 3",
            "= HELLO_NOAUTH",
            // Inline commands are checked the same way.
            r"a: !send PING\r\n",
            "a: !read",
            "= NOAUTH",
            // RESET runs but does not authenticate; QUIT runs and closes.
            "a: RESET",
            "= RESET",
            "a: PING",
            "= NOAUTH",
            "a: QUIT",
            "= OK",
            "a: !closed",
            "= CLOSED",
            // A rejected SELECT / CLIENT SETNAME changed nothing.
            "b: SELECT 1",
            "= NOAUTH",
            "b: CLIENT SETNAME early",
            "= NOAUTH",
            "b: AUTH pw",
            "= OK",
            "b: SET k v",
            "= OK",
            "b: SELECT 0",
            "= OK",
            "b: EXISTS k",
            r"= :1\r\n",
            "b: CLIENT GETNAME",
            "= NIL",
            "b: PING",
            "= PONG",
        ],
    );
}

/// MULTI before authentication is rejected (no transaction starts: the next command gets
/// NOAUTH, not QUEUED, and EXEC gets EXECABORT). After AUTH, AUTH can be queued; a wrong
/// password inside EXEC is a `-WRONGPASS` element and the client stays authenticated.
/// In a pipeline the authentication state changes between commands: everything before a
/// successful AUTH gets NOAUTH, everything after it runs (RESP and inline alike).
#[test]
fn multi_and_pipelines_before_auth() {
    scenario(
        "multi_and_pipelines_before_auth",
        &["--requirepass", "pw"],
        None,
        None,
        &[
            "a: MULTI",
            "= NOAUTH",
            "a: SET x 1",
            "= NOAUTH",
            "a: EXEC",
            "= EXECABORT_NOAUTH",
            "a: AUTH pw",
            "= OK",
            "a: MULTI",
            "= OK",
            "a: SET x 1",
            "= QUEUED",
            "a: AUTH wrong",
            "= QUEUED",
            "a: AUTH pw",
            "= QUEUED",
            "a: GET x",
            "= QUEUED",
            "a: EXEC",
            r"= *4\r\n+OK\r\n-WRONGPASS invalid username-password pair or user is disabled.\r\n+OK\r\n$1\r\n1\r\n",
            "a: PING",
            "= PONG",
            "a: MULTI",
            "= OK",
            "a: AUTH wrong",
            "= QUEUED",
            "a: EXEC",
            r"= *1\r\n-WRONGPASS invalid username-password pair or user is disabled.\r\n",
            "a: PING",
            "= PONG",
            "b: !pipe PING | SET y 1 | AUTH pw | GET y | SET y 2 | GET y",
            r"= NOAUTH NOAUTH OK NIL OK $1\r\n2\r\n",
            "c: !pipe AUTH wrong | PING | AUTH pw | PING",
            "= WRONGPASS NOAUTH OK PONG",
            r"d: !send PING\r\nAUTH pw\r\nPING\r\n",
            "d: !read",
            "= NOAUTH",
            "d: !read",
            "= OK",
            "d: !read",
            "= PONG",
            "e: !pipe MULTI | SET z 1 | AUTH pw | MULTI | SET z 1 | EXEC",
            r"= NOAUTH NOAUTH OK OK QUEUED *1\r\n+OK\r\n",
        ],
    );
}

/// AUTH forms with a password configured: `AUTH pw` and `AUTH default pw` succeed;
/// a wrong password, another user name, `DEFAULT` (user names are case-sensitive), a
/// differently-cased password and the empty password all give `-WRONGPASS invalid
/// username-password pair or user is disabled.`; `AUTH a b c` is `-ERR syntax error`,
/// bare `AUTH` an arity error. A failed AUTH after a successful one does not log out.
#[test]
fn auth_forms_with_password() {
    scenario(
        "auth_forms_with_password",
        &["--requirepass", "pw"],
        None,
        None,
        &[
            "a: AUTH",
            "= AUTH_ARITY",
            "a: AUTH a b c",
            "= SYNTAX",
            "a: AUTH pw b c",
            "= SYNTAX",
            "a: AUTH wrong",
            "= WRONGPASS",
            "a: AUTH someuser pw",
            "= WRONGPASS",
            "a: AUTH DEFAULT pw",
            "= WRONGPASS",
            "a: AUTH PW",
            "= WRONGPASS",
            "a: AUTH \"\"",
            "= WRONGPASS",
            "a: AUTH default \"\"",
            "= WRONGPASS",
            "a: AUTH \"\" pw",
            "= WRONGPASS",
            "a: PING",
            "= NOAUTH",
            "a: AUTH default pw",
            "= OK",
            "a: AUTH wrong",
            "= WRONGPASS",
            "a: PING",
            "= PONG",
            "a: AUTH someuser pw",
            "= WRONGPASS",
            "a: PING",
            "= PONG",
            "a: auth pw",
            "= OK",
            "b: auth PW",
            "= WRONGPASS",
            "b: Auth pw",
            "= OK",
            "b: PING",
            "= PONG",
        ],
    );
}

/// AUTH without a configured password: `AUTH <password>` (even empty) is `-ERR AUTH
/// <password> called without any password configured for the default user. Are you sure
/// your configuration is correct?`, while `AUTH default <anything>` is `+OK` (the default
/// user is `nopass`), and another user name is `-WRONGPASS`. `HELLO 3 AUTH default
/// <anything>` succeeds likewise.
#[test]
fn auth_without_password() {
    scenario(
        "auth_without_password",
        &[],
        None,
        None,
        &[
            "a: AUTH pw",
            "= NOPASS_AUTH",
            "a: AUTH \"\"",
            "= NOPASS_AUTH",
            "a: AUTH default pw",
            "= OK",
            "a: AUTH default \"\"",
            "= OK",
            "a: AUTH someuser pw",
            "= WRONGPASS",
            "a: AUTH a b c",
            "= SYNTAX",
            "a: AUTH",
            "= AUTH_ARITY",
            "a: PING",
            "= PONG",
            "a: HELLO 3 AUTH someuser x",
            "= WRONGPASS",
            "a: ?hello HELLO 3 AUTH default anything",
            "= HELLO3",
            "a: CONFIG GET requirepass",
            r"= %1\r\n$11\r\nrequirepass\r\n$0\r\n\r\n",
            "a: PING",
            "= PONG",
        ],
    );
}

/// HELLO while unauthenticated: `HELLO`, `HELLO 2`, `HELLO 3` (and with SETNAME) answer
/// the long `-NOAUTH HELLO must be called with the client already authenticated, ...`
/// text; `HELLO 4` is NOPROTO and `HELLO AUTH default pw` the protocol-version error
/// (AUTH needs a protover). Options run left to right with immediate effect: AUTH
/// authenticates at once (a later SETNAME error or syntax error leaves the client
/// authenticated but the protocol unchanged), the first failing AUTH stops HELLO (a later
/// correct AUTH is not tried), and SETNAME sets the name even when HELLO then answers
/// NOAUTH. The full reply is compared with `server`, `version` and `id` masked.
#[test]
fn hello_with_auth() {
    scenario(
        "hello_with_auth",
        &["--requirepass", "pw"],
        None,
        None,
        &[
            "a: HELLO",
            "= HELLO_NOAUTH",
            "a: HELLO 2",
            "= HELLO_NOAUTH",
            "a: HELLO 3",
            "= HELLO_NOAUTH",
            "a: HELLO 4",
            "= NOPROTO",
            "a: HELLO x",
            "= PROTOVER",
            "a: HELLO AUTH default pw",
            "= PROTOVER",
            "a: HELLO 3 AUTH default",
            r"= -ERR Syntax error in HELLO option 'AUTH'\r\n",
            "a: HELLO 3 AUTH default wrong",
            "= WRONGPASS",
            "a: HELLO 3 AUTH DEFAULT pw",
            "= WRONGPASS",
            "a: HELLO 3 AUTH someone pw",
            "= WRONGPASS",
            "a: HELLO 3 AUTH default wrong AUTH default pw",
            "= WRONGPASS",
            "a: PING",
            "= NOAUTH",
            "a: HELLO 3 AUTH default wrong SETNAME x",
            "= WRONGPASS",
            "a: HELLO 3 SETNAME early",
            "= HELLO_NOAUTH",
            "a: ?hello HELLO 3 AUTH default pw",
            "= HELLO3",
            "a: PING",
            "= PONG",
            "a: CLIENT GETNAME",
            r"= $5\r\nearly\r\n",
            "a: CONFIG GET requirepass",
            r"= %1\r\n$11\r\nrequirepass\r\n$2\r\npw\r\n",
            "b: ?hello HELLO 2 AUTH default pw SETNAME x",
            "= HELLO2",
            "b: CLIENT GETNAME",
            r"= $1\r\nx\r\n",
            "c: HELLO 3 AUTH default pw SETNAME \"bad name\"",
            "= BAD_CLIENT_NAME",
            "c: PING",
            "= PONG",
            "c: CONFIG GET requirepass",
            r"= *2\r\n$11\r\nrequirepass\r\n$2\r\npw\r\n",
            "c: CLIENT GETNAME",
            "= NIL",
            "d: HELLO 3 AUTH default pw SETNAME",
            r"= -ERR Syntax error in HELLO option 'SETNAME'\r\n",
            "d: PING",
            "= PONG",
            "e: HELLO 3 AUTH default pw AUTH default wrong",
            "= WRONGPASS",
            "e: PING",
            "= PONG",
            "e: ?hello HELLO 3",
            "= HELLO3",
            "e: ?hello HELLO",
            "= HELLO3",
            "f: HELLO 2 SETNAME \"bad name\"",
            "= BAD_CLIENT_NAME",
            "f: ?hello hello 3 auth default pw setname f1",
            "= HELLO3",
            "f: CLIENT GETNAME",
            r"= $2\r\nf1\r\n",
        ],
    );
}

/// `CONFIG SET requirepass` at runtime: clients connected while there was no password
/// stay authenticated (before and after a later password change), a new client must AUTH
/// (an old password is WRONGPASS), `CONFIG SET requirepass ""` lets every client run
/// commands, including one that never authenticated — but such a client is still not
/// authenticated when a password is set again. No connection is closed.
#[test]
fn runtime_requirepass_changes() {
    scenario(
        "runtime_requirepass_changes",
        &[],
        None,
        None,
        &[
            "a: PING",
            "= PONG",
            "b: PING",
            "= PONG",
            "a: CONFIG SET requirepass pw",
            "= OK",
            "a: PING",
            "= PONG",
            "b: PING",
            "= PONG",
            "c: PING",
            "= NOAUTH",
            "a: CONFIG GET requirepass",
            r"= *2\r\n$11\r\nrequirepass\r\n$2\r\npw\r\n",
            "a: CONFIG SET requirepass pw2",
            "= OK",
            "b: PING",
            "= PONG",
            "c: AUTH pw",
            "= WRONGPASS",
            "c: AUTH pw2",
            "= OK",
            "c: PING",
            "= PONG",
            "d: PING",
            "= NOAUTH",
            "a: CONFIG SET requirepass \"\"",
            "= OK",
            "d: PING",
            "= PONG",
            "e: PING",
            "= PONG",
            "a: CONFIG SET requirepass pw",
            "= OK",
            "d: PING",
            "= NOAUTH",
            "e: PING",
            "= PONG",
            "b: PING",
            "= PONG",
            "c: PING",
            "= PONG",
            "d: AUTH pw",
            "= OK",
            "a: CONFIG SET requirepass \"\"",
            "= OK",
            "a: CONFIG GET requirepass",
            r"= *2\r\n$11\r\nrequirepass\r\n$0\r\n\r\n",
            "f: AUTH pw",
            "= NOPASS_AUTH",
        ],
    );
}

/// RESET logs the client out when the default user has a password (also a client that
/// was implicitly authenticated because it connected before the password was set) and
/// goes back to RESP2; with no password the client can run commands right after RESET.
#[test]
fn reset_and_authentication() {
    scenario(
        "reset_and_authentication",
        &["--requirepass", "pw"],
        None,
        None,
        &[
            "a: ?hello HELLO 3 AUTH default pw",
            "= HELLO3",
            "a: RESET",
            "= RESET",
            "a: PING",
            "= NOAUTH",
            "a: CONFIG GET requirepass",
            "= NOAUTH",
            "a: AUTH pw",
            "= OK",
            "a: CONFIG GET requirepass",
            r"= *2\r\n$11\r\nrequirepass\r\n$2\r\npw\r\n",
            "b: RESET",
            "= RESET",
            "b: PING",
            "= NOAUTH",
            "a: CONFIG SET requirepass \"\"",
            "= OK",
            "a: RESET",
            "= RESET",
            "a: PING",
            "= PONG",
            "c: PING",
            "= PONG",
            "a: CONFIG SET requirepass pw",
            "= OK",
            "c: PING",
            "= PONG",
            "c: RESET",
            "= RESET",
            "c: PING",
            "= NOAUTH",
            "c: AUTH pw",
            "= OK",
            "c: PING",
            "= PONG",
        ],
    );
}

/// Error and command statistics: NOAUTH rejections (HELLO's NOAUTH text included) count
/// as `errorstat_NOAUTH`, failed AUTH / HELLO AUTH as `errorstat_WRONGPASS`, EXEC's
/// rejection as `errorstat_EXECABORT`, unknown-command and arity errors as `errorstat_ERR`
/// (`total_error_replies` is their sum). A command refused by NOAUTH or arity counts as
/// `rejected_calls` (not `calls`); AUTH and HELLO count as calls with `failed_calls`.
#[test]
fn error_and_command_stats() {
    scenario(
        "error_and_command_stats",
        &["--requirepass", "pw"],
        None,
        None,
        &[
            "a: PING",
            "a: GET k",
            "a: AUTH wrong",
            "a: AUTH x y",
            "a: HELLO 3",
            "a: HELLO 3 AUTH default bad",
            "a: NOSUCH",
            "a: GET",
            "a: MULTI",
            "a: EXEC",
            "a: AUTH pw",
            "= OK",
            "a: ?info=errorstat_ INFO errorstats",
            concat!(
                r"= <info>\nerrorstat_ERR:count=2\nerrorstat_EXECABORT:count=1",
                r"\nerrorstat_NOAUTH:count=4\nerrorstat_WRONGPASS:count=3"
            ),
            "a: ?info=total_error_replies: INFO stats",
            r"= <info>\ntotal_error_replies:10",
            concat!(
                "a: ?info=cmdstat_auth:,cmdstat_hello:,cmdstat_get:,cmdstat_ping:,cmdstat_multi:,cmdstat_exec:,",
                "cmdstat_set: INFO commandstats"
            ),
            concat!(
                r"= <info>",
                r"\ncmdstat_auth:calls=3,rejected_calls=0,failed_calls=2",
                r"\ncmdstat_hello:calls=2,rejected_calls=0,failed_calls=2",
                r"\ncmdstat_get:calls=0,rejected_calls=2,failed_calls=0",
                r"\ncmdstat_ping:calls=0,rejected_calls=1,failed_calls=0",
                r"\ncmdstat_multi:calls=0,rejected_calls=1,failed_calls=0",
                r"\ncmdstat_exec:calls=0,rejected_calls=1,failed_calls=0",
            ),
        ],
    );
}

/// Input limits for unauthenticated clients (Redis 7.0): announcing more than 10
/// arguments (`*11`) gets `-ERR Protocol error: unauthenticated multibulk length`, a bulk
/// string longer than 16384 bytes `-ERR Protocol error: unauthenticated bulk length`, and
/// the connection is closed (`*10` and `$16384` are accepted). The check applies per
/// command at parse time, so a big command pipelined after a successful AUTH runs, while
/// one after a failed AUTH is refused; after RESET the limits apply again; inline
/// commands are not limited this way. The protocol errors count as `errorstat_ERR`.
/// Without a password there are no such limits.
#[test]
fn unauthenticated_input_limits() {
    let big = "v".repeat(20_000);
    let pw16k = "p".repeat(16_384);
    let script = vec![
        r"a: !send *10\r\n".to_string(),
        "a: !idle".into(),
        "= NOTHING".into(),
        r"b: !send *11\r\n".into(),
        "b: !read".into(),
        "= UNAUTH_MBULK".into(),
        "b: !closed".into(),
        "= CLOSED".into(),
        r"c: !send *2\r\n$4\r\nAUTH\r\n$16384\r\n".into(),
        "c: !idle".into(),
        "= NOTHING".into(),
        format!(r"c: !send {pw16k}\r\n"),
        "c: !read".into(),
        "= WRONGPASS".into(),
        "c: PING".into(),
        "= NOAUTH".into(),
        r"d: !send *2\r\n$4\r\nAUTH\r\n$16385\r\n".into(),
        "d: !read".into(),
        "= UNAUTH_BULK".into(),
        "d: !closed".into(),
        "= CLOSED".into(),
        format!("e: !pipe AUTH pw | SET k {big} | STRLEN k"),
        r"= OK OK :20000\r\n".into(),
        r"f: !send *2\r\n$4\r\nAUTH\r\n$5\r\nwrong\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$20000\r\n".into(),
        "f: !read".into(),
        "= WRONGPASS".into(),
        "f: !read".into(),
        "= UNAUTH_BULK".into(),
        "f: !closed".into(),
        "= CLOSED".into(),
        "g: !pipe AUTH pw | RPUSH l x x x x x x x x x x x x x x x x x x x x".into(),
        r"= OK :20\r\n".into(),
        "h: !pipe HELLO 3 AUTH default pw | RPUSH l2 x x x x x x x x x x x x x x x x x x x x".into(),
        r"= HELLO3 :20\r\n".into(),
        "h: RESET".into(),
        "= RESET".into(),
        r"h: !send *11\r\n".into(),
        "h: !read".into(),
        "= UNAUTH_MBULK".into(),
        "h: !closed".into(),
        "= CLOSED".into(),
        format!(r"i: !send AUTH {big}\r\n"),
        "i: !read".into(),
        "= WRONGPASS".into(),
        "j: AUTH pw".into(),
        "= OK".into(),
        "j: ?info=errorstat_ INFO errorstats".into(),
        r"= <info>\nerrorstat_ERR:count=4\nerrorstat_NOAUTH:count=1\nerrorstat_WRONGPASS:count=3".into(),
    ];
    scenario("unauthenticated_input_limits", &["--requirepass", "pw"], None, None, &script);

    scenario(
        "unauthenticated_input_limits (no password)",
        &[],
        None,
        None,
        &[
            "a: RPUSH l x x x x x x x x x x x x x x x x x x x x".to_string(),
            r"= :20\r\n".into(),
            format!("a: SET k {big}"),
            "= OK".into(),
            "a: STRLEN k".into(),
            r"= :20000\r\n".into(),
        ],
    );
}

/// Output limit for unauthenticated clients: once a client that still has to
/// authenticate has more pending output than fits Redis's 16 KB reply buffer (257
/// WRONGPASS replies of 64 bytes, or 482 NOAUTH replies of 34), the server stops
/// processing its input and closes the connection without sending any of it; 256 / 481
/// replies are delivered. So 1000 pipelined wrong AUTHs followed by the right one end in a
/// closed connection, while the same 1000 attempts in batches of 250 followed by the
/// right password succeed (there is no lockout). An authenticated client has no such
/// limit. errorstats count exactly the replies produced before the stop.
#[test]
fn unauthenticated_output_limit() {
    scenario(
        "unauthenticated_output_limit",
        &["--requirepass", "pw"],
        None,
        None,
        &[
            "a: !pipe 256*AUTH wrong",
            "= WRONGPASS*256",
            "a: PING",
            "= NOAUTH",
            "b: !pipe 257*AUTH wrong",
            "= CLOSED",
            "c: !pipe 1000*AUTH wrong | AUTH pw | PING",
            "= CLOSED",
            "d: !pipe 250*AUTH wrong",
            "= WRONGPASS*250",
            "d: !pipe 250*AUTH wrong",
            "= WRONGPASS*250",
            "d: !pipe 250*AUTH wrong",
            "= WRONGPASS*250",
            "d: !pipe 250*AUTH wrong | AUTH pw | PING",
            "= WRONGPASS*250 OK PONG",
            "e: !pipe 481*PING",
            "= NOAUTH*481",
            "f: !pipe 482*PING",
            "= CLOSED",
            "g: AUTH pw",
            "= OK",
            "g: !pipe 1000*AUTH wrong | PING",
            "= WRONGPASS*1000 PONG",
            "g: ?info=errorstat_ INFO errorstats",
            r"= <info>\nerrorstat_NOAUTH:count=964\nerrorstat_WRONGPASS:count=2770",
        ],
    );
}

/// Passwords are binary-safe: one containing NUL and CRLF set with CONFIG SET is echoed
/// by CONFIG GET and only the exact bytes authenticate. A 1 MiB password can be set and
/// used by an authenticated client (`AUTH` with it is `+OK`, a one-byte difference
/// WRONGPASS), but an unauthenticated client cannot even send it (bulk > 16384 bytes);
/// a 16384-byte password is the longest a new client can authenticate with.
#[test]
fn binary_and_long_passwords() {
    let huge = "x".repeat(1 << 20);
    let huge_wrong = format!("{}y", &huge[1..]);
    let pw16k = "p".repeat(16_384);
    scenario(
        "binary_and_long_passwords",
        &[],
        None,
        None,
        &[
            r#"a: CONFIG SET requirepass "a\x00b\r\nc""#.to_string(),
            "= OK".into(),
            "a: CONFIG GET requirepass".into(),
            r"= *2\r\n$11\r\nrequirepass\r\n$6\r\na\x00b\r\nc\r\n".into(),
            "b: AUTH a".into(),
            "= WRONGPASS".into(),
            r#"b: AUTH "a\x00b""#.into(),
            "= WRONGPASS".into(),
            r#"b: AUTH "a\x00b\r\nc\r\n""#.into(),
            "= WRONGPASS".into(),
            r#"b: AUTH "a\x00b\r\nc""#.into(),
            "= OK".into(),
            "b: PING".into(),
            "= PONG".into(),
            r#"c: AUTH default "a\x00b\r\nc""#.into(),
            "= OK".into(),
            format!("a: CONFIG SET requirepass {huge}"),
            "= OK".into(),
            "a: CONFIG GET requirepass".into(),
            format!("a: AUTH {huge_wrong}"),
            "= WRONGPASS".into(),
            format!("a: AUTH {huge}"),
            "= OK".into(),
            format!("a: AUTH default {huge}"),
            "= OK".into(),
            r"d: !send *2\r\n$4\r\nAUTH\r\n$1048576\r\n".into(),
            "d: !read".into(),
            "= UNAUTH_BULK".into(),
            "d: !closed".into(),
            "= CLOSED".into(),
            format!("a: CONFIG SET requirepass {pw16k}"),
            "= OK".into(),
            format!("e: AUTH {pw16k}"),
            "= OK".into(),
            "e: PING".into(),
            "= PONG".into(),
            "a: PING".into(),
            "= PONG".into(),
        ],
    );
}

/// Protected mode (on by default) with no password and `--bind 0.0.0.0`: a client
/// connecting from a non-loopback address receives, without sending anything, the
/// `-DENIED Redis is running in protected mode ...` text and is disconnected; it counts in
/// `rejected_connections`. Loopback clients work. Once `CONFIG SET requirepass pw` is
/// done, remote clients are accepted (and must AUTH); after `CONFIG SET requirepass ""`
/// an already connected remote client keeps working but new ones are denied again;
/// `CONFIG SET protected-mode no` lets them in.
#[test]
fn protected_mode_without_password() {
    let Some(ip) = external_or_skip("protected_mode_without_password") else {
        return;
    };
    scenario(
        "protected_mode_without_password",
        &["--bind", "0.0.0.0"],
        None,
        Some(ip),
        &[
            "x: !connect-ext",
            "x: !read",
            "= DENIED",
            "x: !closed",
            "= CLOSED",
            "l: PING",
            "= PONG",
            "l: CONFIG GET protected-mode",
            r"= *2\r\n$14\r\nprotected-mode\r\n$3\r\nyes\r\n",
            "l: ?info=rejected_connections: INFO stats",
            r"= <info>\nrejected_connections:1",
            "l: CONFIG SET requirepass pw",
            "= OK",
            "y: !connect-ext",
            "y: !idle",
            "= NOTHING",
            "y: PING",
            "= NOAUTH",
            "y: AUTH pw",
            "= OK",
            "y: PING",
            "= PONG",
            "l: CONFIG SET requirepass \"\"",
            "= OK",
            "y: PING",
            "= PONG",
            "z: !connect-ext",
            "z: !read",
            "= DENIED",
            "z: !closed",
            "= CLOSED",
            "l: CONFIG SET protected-mode no",
            "= OK",
            "w: !connect-ext",
            "w: PING",
            "= PONG",
            "l: ?info=rejected_connections: INFO stats",
            r"= <info>\nrejected_connections:2",
        ],
    );
}

/// Remote clients are accepted when protected mode is off (`--protected-mode no`) or when
/// the default user has a password (`--requirepass pw`, then they must AUTH).
#[test]
fn protected_mode_off_or_password_set() {
    let Some(ip) = external_or_skip("protected_mode_off_or_password_set") else {
        return;
    };
    scenario(
        "protected_mode_off_or_password_set (--protected-mode no)",
        &["--bind", "0.0.0.0", "--protected-mode", "no"],
        None,
        Some(ip),
        &[
            "x: !connect-ext",
            "x: PING",
            "= PONG",
            "x: CONFIG GET protected-mode",
            r"= *2\r\n$14\r\nprotected-mode\r\n$2\r\nno\r\n",
            "x: ?info=rejected_connections: INFO stats",
            r"= <info>\nrejected_connections:0",
        ],
    );
    scenario(
        "protected_mode_off_or_password_set (--requirepass pw)",
        &["--bind", "0.0.0.0", "--requirepass", "pw"],
        None,
        Some(ip),
        &["x: !connect-ext", "x: !idle", "= NOTHING", "x: PING", "= NOAUTH", "x: AUTH pw", "= OK", "x: PING", "= PONG"],
    );
}
