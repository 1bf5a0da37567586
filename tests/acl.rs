//! ACL users (Redis 7.0's ACL core), differential against redis-server 7.0: every scenario
//! runs the same script on a real `redis-server` and on `rustis-server`, and what each step
//! produces (the raw reply bytes, or a marker such as `<closed>`) must be identical on both.
//!
//! ```text
//! cargo test --release --test acl
//! RUSTIS_ACL_SELFCHECK=1 cargo test --release --test acl  # redis-server vs redis-server
//! RUSTIS_REQUIRE_REDIS=1 cargo test --release --test acl  # fail (not skip) without redis-server
//! RUSTIS_ACL_SHOW=1 cargo test --release --test acl -- --nocapture  # print redis-server's transcripts
//! ```
//!
//! `RUSTIS_ACL_SELFCHECK=1` replaces rustis-server by a second redis-server: every test must
//! then pass, which shows that the scripts are deterministic (after the normalisations
//! below) and that the pinned texts are what redis-server 7.0 really sends.
//!
//! Covered: ACL SETUSER's rules (passwords, hashes, flags, command / category /
//! subcommand / first-argument rules, key patterns with `%R~` / `%W~`, channel patterns,
//! `reset*`, `all*`, case-insensitivity, rules applied to an existing user) and its error
//! texts (a failing call changes nothing); ACL GETUSER in RESP2 and RESP3; ACL LIST, including
//! how Redis 7.0 *re-describes* command rules from the permission bitmap (it does not keep
//! them as typed); ACL USERS / WHOAMI / DELUSER / CAT / GENPASS / DRYRUN / HELP; AUTH and
//! `NOPERM` enforcement for commands, subcommands, read and write keys, channels, inside
//! MULTI, and in INFO errorstats / commandstats; what changing or deleting a user does to
//! its connected clients; the `default` user and `requirepass`.
//! Also: selectors `(...)` (SETUSER across arguments, errors, LIST, GETUSER, DRYRUN with
//! the most relevant denial, clearselectors, reset), ACL LOG, and the ACL file (ACL LOAD
//! and SAVE, errors, clients of reloaded users disconnected; `acl_file_load_and_save`
//! compares the two servers directly since each needs its own file).
//!
//! # Scripts
//!
//! Each line is `<conn>: <action>`; a connection is opened (RESP2) on its first use, so the
//! script order decides when a client connects. Actions:
//!
//! - `CMD arg ...` — split like `redis-cli`, sent as a RESP array, one reply read
//!   (SUBSCRIBE-like commands: one reply per channel, stopping at an error reply).
//! - `~CMD ...` — same, but the reply is not compared (`HELLO 3`: its `id` differs).
//! - `?rules CMD ...` — ACL LIST / ACL GETUSER: the order of the single-command rules at
//!   the end of a rule text is normalised (see [`normalize_rules`]).
//! - `?sort CMD ...` — an array reply compared as a sorted list (ACL CAT <category>).
//! - `?hex=N CMD ...` — the reply must be a bulk of N lowercase hex digits (ACL GENPASS);
//!   the outcome is `<N hex digits>`, or the raw reply when it is not.
//! - `?info=p1,p2 CMD ...` — an `INFO` reply reduced to its lines starting with one of the
//!   prefixes, sorted; `cmdstat_` lines lose their `usec` / `usec_per_call` fields.
//! - `!closed` — the server must close the connection within 500 ms (`<closed>`).
//! - `!idle` — nothing may arrive within 200 ms (`<nothing>`).
//!
//! A line `= ...` pins the previous step's outcome on redis-server (the reference): the
//! names of [`pinned`] (`NAME` or `NAME*count`) mixed with escaped literals ending in
//! `\r\n`, space separated, or else one escaped literal (escapes of `common::unescape`).
//! All mismatches of a scenario are reported together with both transcripts; a connection
//! that timed out (1 s) or was closed unexpectedly skips its later steps (`<skipped>`),
//! and a scenario running longer than 4 s skips the rest and fails, so no test can hang.
//!
//! # Normalisations (where Redis's order is unspecified)
//!
//! - Redis 7.0 describes a user's command permissions (ACL LIST, GETUSER `commands`) by
//!   rebuilding them from the permission bitmap, not by keeping the rules as typed: `+@all`
//!   or `-@all`, then categories picked greedily (deterministic: each round the unused
//!   category where more of its commands need the change than not, fewest wrong first, ties
//!   to the most right ones, then ACL CAT order), then the single commands still differing
//!   — those in the order of its command dict, which depends on a per-process random hash
//!   seed (two redis-servers print `+sadd +hset` and `+hset +sadd` for the same user).
//!   [`normalize_rules`] sorts that trailing run of single-command rules (grouped by
//!   command, the rule on the command itself first, then its `cmd|...` rules sorted).
//!   Everything else — which categories in which order, which commands, the signs — is
//!   compared exactly, so the categories of rustis's command table must match Redis's.
//! - `ACL CAT <category>` lists commands in dict order too: compared sorted. `ACL CAT`
//!   without argument has a fixed order and is compared exactly.
//! - INFO commandstats is in dict order: filtered INFO lines are compared sorted.

mod common;

use common::{render, split_args, RawConn, Server};
use std::io;
use std::time::{Duration, Instant};

/// `1`: the second side is another redis-server instead of rustis-server.
const SELFCHECK_ENV: &str = "RUSTIS_ACL_SELFCHECK";
/// `1`: print redis-server's transcript of every scenario.
const SHOW_ENV: &str = "RUSTIS_ACL_SHOW";
/// Longest wait for one reply.
const REPLY_WAIT: Duration = Duration::from_secs(1);
/// `!idle` waits this long for nothing to arrive.
const IDLE_WAIT: Duration = Duration::from_millis(200);
/// `!closed` waits at most this long for the server to close.
const CLOSE_WAIT: Duration = Duration::from_millis(500);
/// A scenario stops running steps after this long (later steps: `<skipped>`, and the
/// scenario fails), so a server that stops answering cannot make a test slow.
const SCENARIO_BUDGET: Duration = Duration::from_secs(4);

// ---------------------------------------------------------------------------------------
// Texts of redis-server 7.0.15
// ---------------------------------------------------------------------------------------

const WRONGPASS: &str = "-WRONGPASS invalid username-password pair or user is disabled.\r\n";
const NOAUTH: &str = "-NOAUTH Authentication required.\r\n";
const NOPERM_KEYS: &str = "-NOPERM this user has no permissions to access one of the keys used as arguments\r\n";
const NOPERM_CHANNELS: &str =
    "-NOPERM this user has no permissions to access one of the channels used as arguments\r\n";
const EXECABORT: &str = "-EXECABORT Transaction discarded because of previous errors.\r\n";
const SYNTAX_ERR: &str = "Syntax error\r\n";
const UNKNOWN_CMD_OR_CAT: &str = "Unknown command or category name in ACL\r\n";
const BAD_HASH: &str =
    "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters\r\n";
const NO_SUCH_PASS: &str = "The password you are trying to remove from the user does not exist\r\n";
const KEYS_AFTER_ALL: &str = "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does \
                              not have any effect. Try 'resetkeys' to start with an empty list of patterns\r\n";
const CHANNELS_AFTER_ALL: &str = "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and \
                                  does not have any effect. Try 'resetchannels' to start with an empty list of \
                                  channels\r\n";
const GENPASS_RANGE: &str = "-ERR ACL GENPASS argument must be the number of bits for the output password, a \
                             positive number up to 4096\r\n";
const NOT_INTEGER: &str = "-ERR value is not an integer or out of range\r\n";
const DEFAULT_NOT_REMOVABLE: &str = "-ERR The 'default' user cannot be removed\r\n";
const HELLO_NOAUTH: &str = "-NOAUTH HELLO must be called with the client already authenticated, otherwise the \
                            HELLO AUTH <user> <pass> option can be used to authenticate the client and select the \
                            RESP protocol version at the same time\r\n";
/// `ACL HELP` (a fixed text).
const ACL_HELP: &str = "*29\r\n\
+ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n\
+CAT [<category>]\r\n\
+    List all commands that belong to <category>, or all command categories\r\n\
+    when no category is specified.\r\n\
+DELUSER <username> [<username> ...]\r\n\
+    Delete a list of users.\r\n\
+DRYRUN <username> <command> [<arg> ...]\r\n\
+    Returns whether the user can execute the given command without executing the command.\r\n\
+GETUSER <username>\r\n\
+    Get the user's details.\r\n\
+GENPASS [<bits>]\r\n\
+    Generate a secure 256-bit user password. The optional `bits` argument can\r\n\
+    be used to specify a different size.\r\n\
+LIST\r\n\
+    Show users details in config file format.\r\n\
+LOAD\r\n\
+    Reload users from the ACL file.\r\n\
+LOG [<count> | RESET]\r\n\
+    Show the ACL log entries.\r\n\
+SAVE\r\n\
+    Save the current config to the ACL file.\r\n\
+SETUSER <username> <attribute> [<attribute> ...]\r\n\
+    Create or modify a user with the specified attributes.\r\n\
+USERS\r\n\
+    List all the registered usernames.\r\n\
+WHOAMI\r\n\
+    Return the current connection username.\r\n\
+HELP\r\n\
+    Prints this help.\r\n";
/// `ACL CAT`: the 21 categories, in Redis's fixed order.
const ACL_CATEGORIES: &str = "*21\r\n$8\r\nkeyspace\r\n$4\r\nread\r\n$5\r\nwrite\r\n$3\r\nset\r\n\
$9\r\nsortedset\r\n$4\r\nlist\r\n$4\r\nhash\r\n$6\r\nstring\r\n$6\r\nbitmap\r\n$11\r\nhyperloglog\r\n\
$3\r\ngeo\r\n$6\r\nstream\r\n$6\r\npubsub\r\n$5\r\nadmin\r\n$4\r\nfast\r\n$4\r\nslow\r\n$8\r\nblocking\r\n\
$9\r\ndangerous\r\n$10\r\nconnection\r\n$11\r\ntransaction\r\n$9\r\nscripting\r\n";
/// GETUSER of the untouched `default` user, RESP2 and RESP3 (`flags` is a set in RESP3).
const GETUSER_DEFAULT2: &str = "*12\r\n$5\r\nflags\r\n*2\r\n$2\r\non\r\n$6\r\nnopass\r\n$9\r\npasswords\r\n*0\r\n\
$8\r\ncommands\r\n$5\r\n+@all\r\n$4\r\nkeys\r\n$2\r\n~*\r\n$8\r\nchannels\r\n$2\r\n&*\r\n$9\r\nselectors\r\n*0\r\n";
const GETUSER_DEFAULT3: &str = "%6\r\n$5\r\nflags\r\n~2\r\n$2\r\non\r\n$6\r\nnopass\r\n$9\r\npasswords\r\n*0\r\n\
$8\r\ncommands\r\n$5\r\n+@all\r\n$4\r\nkeys\r\n$2\r\n~*\r\n$8\r\nchannels\r\n$2\r\n&*\r\n$9\r\nselectors\r\n*0\r\n";
/// GETUSER of a user created by a bare `ACL SETUSER name`.
const GETUSER_FRESH2: &str = "*12\r\n$5\r\nflags\r\n*1\r\n$3\r\noff\r\n$9\r\npasswords\r\n*0\r\n\
$8\r\ncommands\r\n$5\r\n-@all\r\n$4\r\nkeys\r\n$0\r\n\r\n$8\r\nchannels\r\n$0\r\n\r\n$9\r\nselectors\r\n*0\r\n";
const GETUSER_FRESH3: &str = "%6\r\n$5\r\nflags\r\n~1\r\n$3\r\noff\r\n$9\r\npasswords\r\n*0\r\n\
$8\r\ncommands\r\n$5\r\n-@all\r\n$4\r\nkeys\r\n$0\r\n\r\n$8\r\nchannels\r\n$0\r\n\r\n$9\r\nselectors\r\n*0\r\n";

/// The names a pin line may use.
fn pinned(name: &str) -> Option<&'static str> {
    Some(match name {
        "OK" => "+OK\r\n",
        "PONG" => "+PONG\r\n",
        "QUEUED" => "+QUEUED\r\n",
        "NIL" => "$-1\r\n",
        "NOTHING" => "<nothing>",
        "CLOSED" => "<closed>",
        "WRONGPASS" => WRONGPASS,
        "NOAUTH" => NOAUTH,
        "HELLO_NOAUTH" => HELLO_NOAUTH,
        "NOPERM_KEYS" => NOPERM_KEYS,
        "NOPERM_CHANNELS" => NOPERM_CHANNELS,
        "EXECABORT" => EXECABORT,
        "SYNTAX_ERR" => SYNTAX_ERR,
        "UNKNOWN_CMD_OR_CAT" => UNKNOWN_CMD_OR_CAT,
        "BAD_HASH" => BAD_HASH,
        "NO_SUCH_PASS" => NO_SUCH_PASS,
        "KEYS_AFTER_ALL" => KEYS_AFTER_ALL,
        "CHANNELS_AFTER_ALL" => CHANNELS_AFTER_ALL,
        "GENPASS_RANGE" => GENPASS_RANGE,
        "NOT_INTEGER" => NOT_INTEGER,
        "DEFAULT_NOT_REMOVABLE" => DEFAULT_NOT_REMOVABLE,
        "ACL_HELP" => ACL_HELP,
        "ACL_CATEGORIES" => ACL_CATEGORIES,
        "GETUSER_DEFAULT2" => GETUSER_DEFAULT2,
        "GETUSER_DEFAULT3" => GETUSER_DEFAULT3,
        "GETUSER_FRESH2" => GETUSER_FRESH2,
        "GETUSER_FRESH3" => GETUSER_FRESH3,
        _ => return None,
    })
}

/// A pin line's bytes (see `common::parse_pin`) with this file's [`pinned`] names.
fn parse_pin(text: &str) -> Vec<u8> {
    common::parse_pin(text, pinned)
}

/// `-ERR Error in ACL SETUSER modifier '<rule>': <reason>` (reason ends in `\r\n`).
fn setuser_err(rule: &str, reason: &str) -> String {
    format!("-ERR Error in ACL SETUSER modifier '{rule}': {reason}")
}

// ---------------------------------------------------------------------------------------
// Normalisations
// ---------------------------------------------------------------------------------------

/// In every CRLF-separated line of `reply` that holds a space-separated rule text, sorts
/// the trailing run of single-command rules (`+cmd`, `-cmd`, `+cmd|sub`; not `+@cat`):
/// grouped by command name, groups sorted by name, within a group the rule on the
/// command itself first and the `cmd|...` rules sorted. Redis emits that run in the order
/// of its command dict, which is randomised per process (see the module doc). Lengths do
/// not change, so RESP headers stay valid.
fn normalize_rules(reply: &[u8]) -> Vec<u8> {
    let Ok(text) = std::str::from_utf8(reply) else { return reply.to_vec() };
    let single = |t: &str| (t.starts_with('+') || t.starts_with('-')) && t.len() > 1 && !t[1..].starts_with('@');
    let lines: Vec<String> = text
        .split("\r\n")
        .map(|line| {
            if !line.contains(' ') {
                return line.to_string();
            }
            let mut tokens: Vec<&str> = line.split(' ').collect();
            let start = tokens.iter().rposition(|t| !single(t)).map_or(0, |i| i + 1);
            tokens[start..].sort_by_key(|t| {
                let name = &t[1..];
                let (cmd, sub) = name.split_once('|').map_or((name, None), |(c, s)| (c, Some(s)));
                (cmd.to_string(), sub.is_some(), sub.map(str::to_string), t.to_string())
            });
            tokens.join(" ")
        })
        .collect();
    lines.join("\r\n").into_bytes()
}

/// An array (or set) reply with its elements sorted; anything else unchanged.
fn sort_elements(reply: &[u8]) -> Vec<u8> {
    let Some(header_end) = reply.windows(2).position(|w| w == b"\r\n") else { return reply.to_vec() };
    if !matches!(reply.first(), Some(b'*') | Some(b'~')) {
        return reply.to_vec();
    }
    let mut rest = &reply[header_end + 2..];
    let mut elements = Vec::new();
    while !rest.is_empty() {
        match common::reply_len(rest) {
            Ok(Some(n)) => {
                elements.push(rest[..n].to_vec());
                rest = &rest[n..];
            }
            _ => return reply.to_vec(),
        }
    }
    elements.sort();
    let mut out = reply[..header_end + 2].to_vec();
    for e in elements {
        out.extend(e);
    }
    out
}

/// `<N hex digits>` when `reply` is a bulk of exactly `n` lowercase hex digits, else the
/// reply itself.
fn hex_shape(reply: &[u8], n: usize) -> Vec<u8> {
    let text = String::from_utf8_lossy(reply);
    let ok = text
        .strip_prefix(&format!("${n}\r\n"))
        .and_then(|r| r.strip_suffix("\r\n"))
        .is_some_and(|v| v.len() == n && v.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
    if ok {
        format!("<{n} hex digits>").into_bytes()
    } else {
        reply.to_vec()
    }
}

/// The lines of an INFO reply that start with one of `prefixes`, sorted, with the
/// `usec` / `usec_per_call` fields of `cmdstat_` lines removed.
fn info_lines(reply: &[u8], prefixes: &[&str]) -> Vec<u8> {
    let text = String::from_utf8_lossy(reply);
    if !text.starts_with('$') {
        return reply.to_vec();
    }
    let mut lines: Vec<String> = text
        .split("\r\n")
        .filter(|l| prefixes.iter().any(|p| l.starts_with(p)))
        .map(|l| {
            if !l.starts_with("cmdstat_") {
                return l.to_string();
            }
            let (name, fields) = l.split_once(':').unwrap_or((l, ""));
            let kept: Vec<&str> = fields.split(',').filter(|f| !f.starts_with("usec")).collect();
            format!("{name}:{}", kept.join(","))
        })
        .collect();
    lines.sort();
    format!("<info {}>", lines.join(" ")).into_bytes()
}

// ---------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------

/// How a command step's reply is turned into its outcome.
enum Shape<'a> {
    Exact,
    Ignore,
    Rules,
    Sorted,
    Hex(usize),
    Info(Vec<&'a str>),
}

enum Action<'a> {
    Cmd(Shape<'a>, &'a str),
    Closed,
    Idle,
}

/// A server and its named connections (`None` once closed or out of step).
struct Side {
    label: &'static str,
    server: Server,
    conns: Vec<(String, Option<RawConn>)>,
}

impl Side {
    fn new(label: &'static str, server: Server) -> Side {
        Side { label, server, conns: Vec::new() }
    }

    /// The connection `who`, opened on first use; `None` if it is gone.
    fn conn(&mut self, who: &str) -> Option<&mut RawConn> {
        if !self.conns.iter().any(|(n, _)| n == who) {
            let mut c = self.server.conn();
            c.set_timeout(REPLY_WAIT).expect("set_timeout");
            self.conns.push((who.to_string(), Some(c)));
        }
        self.conns.iter_mut().find(|(n, _)| n == who).and_then(|(_, c)| c.as_mut())
    }

    fn drop_conn(&mut self, who: &str) {
        if let Some((_, c)) = self.conns.iter_mut().find(|(n, _)| n == who) {
            *c = None;
        }
    }

    fn exec(&mut self, who: &str, action: &Action) -> Vec<u8> {
        let Some(conn) = self.conn(who) else { return b"<skipped>".to_vec() };
        match action {
            Action::Closed => {
                let res = conn.expect_closed(CLOSE_WAIT);
                self.drop_conn(who);
                match res {
                    Ok(()) => b"<closed>".to_vec(),
                    Err(e) => format!("<not closed: {e}>").into_bytes(),
                }
            }
            Action::Idle => {
                let _ = conn.set_timeout(IDLE_WAIT);
                let res = conn.try_read_reply();
                let _ = conn.set_timeout(REPLY_WAIT);
                match res {
                    Err(e) if e.kind() == io::ErrorKind::TimedOut => b"<nothing>".to_vec(),
                    Ok(f) => f,
                    Err(e) => {
                        self.drop_conn(who);
                        format!("<{e}>").into_bytes()
                    }
                }
            }
            Action::Cmd(shape, text) => {
                let args = split_args(text).unwrap_or_else(|e| panic!("bad command `{text}`: {e}"));
                assert!(!args.is_empty(), "empty command in the script");
                let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
                let subscribe = matches!(name.as_str(), "subscribe" | "psubscribe" | "ssubscribe");
                let replies = if subscribe { (args.len() - 1).max(1) } else { 1 };
                let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
                let mut out = Vec::new();
                let mut failure = conn.try_send(&common::encode_command(&refs)).err();
                let mut got = 0;
                while failure.is_none() && got < replies {
                    match conn.try_read_reply() {
                        Ok(f) => {
                            got += 1;
                            let error = f.first() == Some(&b'-');
                            out.extend(f);
                            if error {
                                break;
                            }
                        }
                        Err(e) => failure = Some(e),
                    }
                }
                if let Some(e) = failure {
                    self.drop_conn(who);
                    let marker = match e.kind() {
                        io::ErrorKind::UnexpectedEof
                        | io::ErrorKind::ConnectionReset
                        | io::ErrorKind::BrokenPipe
                        | io::ErrorKind::ConnectionAborted => "<closed>".to_string(),
                        io::ErrorKind::TimedOut => format!("<no reply within {REPLY_WAIT:?}>"),
                        _ => format!("<{e}>"),
                    };
                    out.extend(marker.into_bytes());
                    return out;
                }
                match shape {
                    Shape::Exact => out,
                    Shape::Ignore => b"<not compared>".to_vec(),
                    Shape::Rules => normalize_rules(&out),
                    Shape::Sorted => sort_elements(&out),
                    Shape::Hex(n) => hex_shape(&out, *n),
                    Shape::Info(prefixes) => info_lines(&out, prefixes),
                }
            }
        }
    }
}

fn parse_action(rest: &str) -> Action<'_> {
    let rest = rest.trim();
    match rest {
        "!closed" => return Action::Closed,
        "!idle" => return Action::Idle,
        _ => {}
    }
    if let Some(cmd) = rest.strip_prefix('~') {
        return Action::Cmd(Shape::Ignore, cmd.trim());
    }
    if let Some(q) = rest.strip_prefix('?') {
        let (tag, cmd) = q.split_once(' ').unwrap_or_else(|| panic!("bad step `{rest}`"));
        let shape = match tag {
            "rules" => Shape::Rules,
            "sort" => Shape::Sorted,
            _ => {
                if let Some(n) = tag.strip_prefix("hex=") {
                    Shape::Hex(n.parse().unwrap_or_else(|_| panic!("bad step `{rest}`")))
                } else if let Some(p) = tag.strip_prefix("info=") {
                    Shape::Info(p.split(',').collect())
                } else {
                    panic!("bad step `{rest}`")
                }
            }
        };
        return Action::Cmd(shape, cmd.trim());
    }
    Action::Cmd(Shape::Exact, rest)
}

/// One executed step: its line and the outcome on each side.
struct Step {
    line: String,
    out: [Vec<u8>; 2],
}

fn transcript(steps: &[Step], side: usize) -> String {
    steps
        .iter()
        .enumerate()
        .map(|(i, s)| format!("  #{i:<3} {}\n         {}\n", s.line, render(&s.out[side])))
        .collect()
}

/// Runs `script` on redis-server and on rustis-server (or a second redis-server in
/// self-check mode), both started with `args`, and panics with every mismatch and every
/// failed pin. Skips (returns) when redis-server is not installed, unless required.
fn scenario(title: &str, args: &[&str], script: &[&str]) {
    let Some(redis) = common::start_redis(args) else {
        eprintln!("SKIPPED: redis-server not found on PATH (set RUSTIS_REQUIRE_REDIS=1 to fail instead)");
        return;
    };
    let other = if std::env::var(SELFCHECK_ENV).is_ok_and(|v| v == "1") {
        Side::new("redis#2", common::start_redis(args).expect("redis-server was available a moment ago"))
    } else {
        Side::new("rustis", common::start_rustis(args))
    };
    let mut sides = [Side::new("redis", redis), other];
    let mut steps: Vec<Step> = Vec::new();
    let mut failures = Vec::new();
    let started = Instant::now();
    let mut over_budget = false;
    for raw in script {
        let line = raw.trim();
        if let Some(pin) = line.strip_prefix('=') {
            let expected = parse_pin(pin);
            let step = steps.last().unwrap_or_else(|| panic!("[{title}] a pin needs a step before it"));
            if step.out[0] != expected {
                failures.push(format!(
                    "redis-server does not behave as this test documents: after #{} `{}`\n    expected: {}\n    \
                     received: {}",
                    steps.len() - 1,
                    step.line,
                    render(&expected),
                    render(&step.out[0])
                ));
            }
            continue;
        }
        let (who, rest) = line.split_once(": ").unwrap_or_else(|| panic!("[{title}] bad script line `{line}`"));
        let action = parse_action(rest);
        if started.elapsed() > SCENARIO_BUDGET {
            if !over_budget {
                over_budget = true;
                failures.push(format!(
                    "the scenario took longer than {SCENARIO_BUDGET:?}: steps from #{} on skipped",
                    steps.len()
                ));
            }
            steps.push(Step { line: line.to_string(), out: [b"<skipped>".to_vec(), b"<skipped>".to_vec()] });
            continue;
        }
        let out = [sides[0].exec(who.trim(), &action), sides[1].exec(who.trim(), &action)];
        steps.push(Step { line: line.to_string(), out });
    }
    for side in &mut sides {
        if let Some(status) = side.server.exited() {
            failures.push(format!("{} exited during the scenario with {status}", side.label));
        }
    }
    if std::env::var(SHOW_ENV).is_ok_and(|v| v == "1") {
        eprintln!("[{title}] {} transcript ({:?}):\n{}", sides[0].label, started.elapsed(), transcript(&steps, 0));
    }
    let (a, b) = (sides[0].label, sides[1].label);
    let diffs: Vec<String> = steps
        .iter()
        .enumerate()
        .filter(|(_, s)| s.out[0] != s.out[1])
        .map(|(i, s)| {
            format!("  #{i} `{}`\n    {a:<7}: {}\n    {b:<7}: {}", s.line, render(&s.out[0]), render(&s.out[1]))
        })
        .collect();
    if !diffs.is_empty() {
        failures.insert(
            0,
            format!(
                "{} of {} steps differ:\n{}\n--- {a} transcript ---\n{}--- {b} transcript ---\n{}",
                diffs.len(),
                steps.len(),
                diffs.join("\n"),
                transcript(&steps, 0),
                transcript(&steps, 1)
            ),
        );
    }
    if !failures.is_empty() {
        panic!(
            "[{title}]\n{}\n\n(server logs: {} and {})",
            failures.join("\n\n"),
            sides[0].server.log_path().display(),
            sides[1].server.log_path().display()
        );
    }
}

/// [`scenario`] with `String` script lines (for lines built with `format!`).
fn scenario_owned(title: &str, args: &[&str], script: &[String]) {
    let lines: Vec<&str> = script.iter().map(String::as_str).collect();
    scenario(title, args, &lines);
}

// sha256 of the passwords used below.
const SHA_P1: &str = "f64551fcd6f07823cb87971cfb91446425da18286b3ab1ef935e0cbd7a69f68a";
const SHA_P2: &str = "3946ca64ff78d93ca61090a437cbb6b3d2ca0d488f5f9ccf3059608368b27693";
const SHA_PASSWORD: &str = "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8";
const SHA_X: &str = "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881";
const SHA_PW: &str = "30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4";

// ---------------------------------------------------------------------------------------
// ACL SETUSER rules, ACL LIST
// ---------------------------------------------------------------------------------------

/// ACL SETUSER's rules as ACL LIST shows them: a bare SETUSER creates an `off` user with
/// `resetchannels -@all`; `>pass` / `#hash` add sha256 hashes in insertion order (a
/// duplicate once), `<pass` / `!hash` remove one, `nopass` clears them and `>pass` clears
/// `nopass`; `resetpass` clears both; key patterns keep their order, `%RW~` prints as `~`,
/// `%R~` / `%W~` as typed (upper case), `allkeys` is `~*`, `resetkeys` empties the list;
/// channels likewise, `resetchannels` printed before the `&` patterns; `reset` leaves
/// `off sanitize-payload resetchannels -@all`; rules are case-insensitive and applied to
/// an existing user on top of what it has; the line order is `on/off`, `nopass`,
/// `sanitize-payload`, passwords, keys, channels, commands; users are listed sorted by
/// name (the empty name, which Redis accepts, first).
#[test]
fn setuser_rules_in_acl_list() {
    let script = [
        "A: ACL SETUSER alice".to_string(),
        "= OK".into(),
        "A: ACL LIST".into(),
        r"= *2\r\n$34\r\nuser alice off resetchannels -@all\r\n$34\r\nuser default on nopass ~* &* +@all\r\n".into(),
        format!("A: ACL SETUSER bob on >p1 >p2 <p1 #{SHA_PASSWORD} ~key:* %R~read:* %W~write:* %RW~both:* &chan:* -@all +hget"),
        "= OK".into(),
        "A: ACL LIST".into(),
        format!(
            r"= *3\r\n$34\r\nuser alice off resetchannels -@all\r\n$213\r\nuser bob on #{SHA_P2} #{SHA_PASSWORD} ~key:* %R~read:* %W~write:* ~both:* resetchannels &chan:* -@all +hget\r\n$34\r\nuser default on nopass ~* &* +@all\r\n"
        ),
        // Rules on an existing user add to what it has.
        "A: ACL SETUSER bob off ~more:* &more +hset".into(),
        "A: ?rules ACL LIST".into(),
        "A: ACL SETUSER bob resetkeys ~k1 ~k2 resetkeys ~k3 resetchannels &c1 resetpass >p1 >p1".into(),
        "A: ?rules ACL LIST".into(),
        format!("A: ACL SETUSER bob !{SHA_P1} #{SHA_P2} #{SHA_P1}"),
        "A: ?rules ACL LIST".into(),
        "A: ACL SETUSER bob nopass".into(),
        "A: ?rules ACL LIST".into(),
        "A: ACL SETUSER bob >x".into(),
        "A: ?rules ACL LIST".into(),
        format!(r"= *3\r\n$34\r\nuser alice off resetchannels -@all\r\n$118\r\nuser bob off #{SHA_X} ~k3 resetchannels &c1 -@all +hget +hset\r\n$34\r\nuser default on nopass ~* &* +@all\r\n"),
        "A: ACL SETUSER bob reset".into(),
        "A: ACL LIST".into(),
        r"= *3\r\n$34\r\nuser alice off resetchannels -@all\r\n$49\r\nuser bob off sanitize-payload resetchannels -@all\r\n$34\r\nuser default on nopass ~* &* +@all\r\n".into(),
        // Case-insensitive rule names; later rules win.
        "A: ACL SETUSER carol On NOPASS AllKeys ALLCHANNELS allcommands".into(),
        "A: ACL LIST".into(),
        "A: ACL SETUSER carol OFF RESETPASS RESETKEYS RESETCHANNELS NOCOMMANDS".into(),
        "A: ACL LIST".into(),
        "A: ACL SETUSER carol %r~lower:* %w~w:* %rW~rw:* &X* ResetChannels &Y* ON >x RESET ON nopass ~* &*".into(),
        "A: ACL LIST".into(),
        "A: ACL SETUSER carol resetkeys %r~lower:* %w~w:* %rW~rw:* resetchannels &X* allkeys allchannels".into(),
        "A: ACL LIST".into(),
        "A: ACL SETUSER carol resetkeys %r~lower:* %w~w:* %rW~rw:* %R~* resetchannels &X* &Y*".into(),
        "A: ACL LIST".into(),
        r"= *4\r\n$34\r\nuser alice off resetchannels -@all\r\n$49\r\nuser bob off sanitize-payload resetchannels -@all\r\n$94\r\nuser carol on nopass sanitize-payload %R~lower:* %W~w:* ~rw:* %R~* resetchannels &X* &Y* -@all\r\n$34\r\nuser default on nopass ~* &* +@all\r\n".into(),
        // An empty name is accepted and sorts first.
        "A: ACL SETUSER \"\" on".into(),
        "= OK".into(),
        "A: ACL USERS".into(),
        r"= *5\r\n$0\r\n\r\n$5\r\nalice\r\n$3\r\nbob\r\n$5\r\ncarol\r\n$7\r\ndefault\r\n".into(),
        "A: ?rules ACL LIST".into(),
        "A: ACL DELUSER \"\"".into(),
        "A: ACL USERS".into(),
    ];
    scenario_owned("SETUSER rules in ACL LIST", &[], &script);
}

/// ACL SETUSER error texts (`-ERR Error in ACL SETUSER modifier '<rule>': <reason>`):
/// unknown rule (`Syntax error`, also for a bad `%` rule), unknown command / category /
/// container subcommand (`Unknown command or category name in ACL`, also for `-cmd|arg`
/// on a command without subcommands), a subcommand's first argument, a bad `#` / `!`
/// hash, `<pass` / `!hash` that is not set, a key or channel pattern after `allkeys` /
/// `allchannels` (`~*` / `&*` themselves are just those flags again and accepted; an
/// `allchannels` user lists `&*` without `resetchannels`); usernames with spaces or NUL;
/// arity. A failing call
/// changes nothing: a new user is not created, an existing one keeps its rules, even the
/// rules before the bad one.
#[test]
fn setuser_errors() {
    let e = |rule: &str, reason: &str| format!("= {}", setuser_err(rule, reason).replace("\r\n", r"\r\n"));
    let script = [
        "A: ACL SETUSER e1 foo".to_string(),
        e("foo", SYNTAX_ERR),
        "A: ACL SETUSER e1 on bar".into(),
        e("bar", SYNTAX_ERR),
        "A: ACL SETUSER e1 +nosuchcmd".into(),
        e("+nosuchcmd", UNKNOWN_CMD_OR_CAT),
        "A: ACL SETUSER e1 -nosuchcmd".into(),
        e("-nosuchcmd", UNKNOWN_CMD_OR_CAT),
        "A: ACL SETUSER e1 +@nosuchcat".into(),
        e("+@nosuchcat", UNKNOWN_CMD_OR_CAT),
        "A: ACL SETUSER e1 -@nosuchcat".into(),
        e("-@nosuchcat", UNKNOWN_CMD_OR_CAT),
        "A: ACL SETUSER e1 +@".into(),
        "A: ACL SETUSER e1 +".into(),
        "A: ACL SETUSER e1 -".into(),
        "A: ACL SETUSER e1 +config|nosuch".into(),
        e("+config|nosuch", UNKNOWN_CMD_OR_CAT),
        "A: ACL SETUSER e1 -config|nosuch".into(),
        "A: ACL SETUSER e1 -get|foo".into(),
        e("-get|foo", UNKNOWN_CMD_OR_CAT),
        "A: ACL SETUSER e1 +config|get|x".into(),
        e("+config|get|x", "Allowing first-arg of a subcommand is not supported\r\n"),
        "A: ACL SETUSER e1 #abc".into(),
        e("#abc", BAD_HASH),
        format!("A: ACL SETUSER e1 #{}z", &SHA_PASSWORD[..63]),
        format!("A: ACL SETUSER e1 #{}", SHA_PASSWORD.to_uppercase()),
        format!("A: ACL SETUSER e1 #{SHA_PASSWORD}0"),
        "A: ACL SETUSER e1 #".into(),
        "A: ACL SETUSER e1 !abc".into(),
        e("!abc", BAD_HASH),
        format!("A: ACL SETUSER e1 !{SHA_P1}"),
        e(&format!("!{SHA_P1}"), NO_SUCH_PASS),
        "A: ACL SETUSER e1 <notset".into(),
        e("<notset", NO_SUCH_PASS),
        "A: ACL SETUSER e1 allkeys ~foo".into(),
        e("~foo", KEYS_AFTER_ALL),
        "A: ACL SETUSER e1 ~* %R~foo".into(),
        e("%R~foo", KEYS_AFTER_ALL),
        "A: ACL SETUSER e1 allkeys %W~*".into(),
        "A: ACL SETUSER e1 allchannels &foo".into(),
        e("&foo", CHANNELS_AFTER_ALL),
        "A: ACL SETUSER e2 allkeys ~* allchannels &*".into(),
        "= OK".into(),
        "A: ACL SETUSER e2 ~* &*".into(),
        "A: ACL SETUSER e2 ~* ~x".into(),
        e("~x", KEYS_AFTER_ALL),
        "A: ?rules ACL GETUSER e2".into(),
        "A: ACL SETUSER e1 %X~foo".into(),
        e("%X~foo", SYNTAX_ERR),
        "A: ACL SETUSER e1 %~foo".into(),
        "A: ACL SETUSER e1 %Rfoo".into(),
        "A: ACL SETUSER e1 %RWR~foo".into(),
        "A: ACL SETUSER e1 %".into(),
        "A: ACL SETUSER \"a b\" on".into(),
        r"= -ERR Usernames can't contain spaces or null characters\r\n".into(),
        "A: ACL SETUSER \"a\\x00b\" on".into(),
        "A: ACL SETUSER".into(),
        r"= -ERR wrong number of arguments for 'acl|setuser' command\r\n".into(),
        // None of the calls above created e1.
        "A: ACL GETUSER e1".into(),
        "= NIL".into(),
        "A: ACL USERS".into(),
        // A failing call applies none of its rules.
        "A: ACL SETUSER n1 on >good foo".into(),
        "A: ACL GETUSER n1".into(),
        "= NIL".into(),
        "A: ACL SETUSER n1 on >good ~k &c +get".into(),
        "A: ACL SETUSER n1 off resetpass resetkeys resetchannels -get +nosuch".into(),
        e("+nosuch", UNKNOWN_CMD_OR_CAT),
        "A: ACL LIST".into(),
        r"= *3\r\n$34\r\nuser default on nopass ~* &* +@all\r\n$23\r\nuser e2 off ~* &* -@all\r\n$107\r\nuser n1 on #770e607624d689265ca6c44884d0807d9b054d23c473c106c72be9de08b7376c ~k resetchannels &c -@all +get\r\n".into(),
    ];
    scenario_owned("SETUSER errors", &[], &script);
}

/// First-argument rules (`+cmd|arg` on a command without subcommands, Redis 7.0): accepted
/// and listed after the command rules in the order added; `-cmd|arg` is an error; the
/// user may run the command only with that first argument (`SELECT 0` yes, `SELECT 1`
/// NOPERM naming the command); `+cmd` replaces them, `-cmd` drops them.
#[test]
fn first_arg_rules() {
    scenario(
        "first-arg rules",
        &[],
        &[
            "A: ACL SETUSER s reset on nopass -@all +select|0 +select|2 +ping ~*",
            "= OK",
            "A: ?rules ACL LIST",
            "A: ?rules ACL GETUSER s",
            "A: ACL SETUSER s +get|foo",
            "= OK",
            "A: ?rules ACL GETUSER s",
            "A: ACL SETUSER s -select|0",
            r"= -ERR Error in ACL SETUSER modifier '-select|0': Unknown command or category name in ACL\r\n",
            "B: AUTH s any",
            "= OK",
            "B: SELECT 0",
            "= OK",
            "B: SELECT 1",
            r"= -NOPERM this user has no permissions to run the 'select' command\r\n",
            "B: SELECT 2",
            "B: SELECT",
            r"= -ERR wrong number of arguments for 'select' command\r\n",
            "B: GET foo",
            "B: GET bar",
            "A: ACL DRYRUN s select 0",
            "A: ACL DRYRUN s select 1",
            "A: ACL SETUSER s +select",
            "A: ?rules ACL GETUSER s",
            "B: SELECT 1",
            "A: ACL SETUSER s -get",
            "A: ?rules ACL GETUSER s",
            "B: GET foo",
        ],
    );
}

/// How Redis 7.0 describes command permissions in ACL LIST / GETUSER: not the rules as
/// typed, but rebuilt from the bitmap — `+@all`/`-@all` (whether future commands are
/// allowed), then categories chosen greedily (see the module doc: `-@all +@string +@hash
/// +@list +@set +@sortedset` lists as `-@all +@sortedset +@string +@hash +@list +@set`),
/// then the single commands still differing (`-@all +get +@string -set` → `-@all +@string
/// -set`; `+get` is absorbed). `allcommands` = `+@all` and `nocommands` = `-@all` reset
/// what came before; `-@all +@all` is `+@all`; `+@string -@string` vanishes; a container
/// allowed with a subcommand removed is `+config -config|set`, subcommands allowed alone
/// are `+config|get`, and allowing the last missing subcommand gives `+config` again.
#[test]
fn acl_list_describes_command_rules() {
    scenario(
        "command rules description",
        &[],
        &[
            "A: ACL SETUSER c1 -@all +get +@string -set",
            "A: ?rules ACL GETUSER c1",
            "A: ?rules ACL LIST",
            r"= *2\r\n$45\r\nuser c1 off resetchannels -@all +@string -set\r\n$34\r\nuser default on nopass ~* &* +@all\r\n",
            "A: ACL SETUSER c1 +hset +hget +lpush",
            "A: ?rules ACL GETUSER c1",
            "A: ACL SETUSER c1 +@hash",
            "A: ?rules ACL GETUSER c1",
            "A: ACL SETUSER c1 +@list -lpush -rpush",
            "A: ?rules ACL GETUSER c1",
            "A: ACL SETUSER c1 allcommands",
            "A: ?rules ACL LIST",
            "A: ACL SETUSER c1 -get",
            "A: ?rules ACL LIST",
            "A: ACL SETUSER c1 -@string +get +append",
            "A: ?rules ACL LIST",
            "A: ACL SETUSER c1 -@hash -@list -@set -@sortedset",
            "A: ?rules ACL LIST",
            "A: ACL SETUSER c1 nocommands",
            "A: ?rules ACL LIST",
            "A: ACL SETUSER c1 +get +@all",
            "A: ?rules ACL LIST",
            "A: ACL SETUSER c1 -@all +@all -@all +set",
            "A: ?rules ACL LIST",
            "A: ACL SETUSER c1 -@all +config|get +client|id",
            "A: ?rules ACL GETUSER c1",
            "A: ACL SETUSER c1 +config -config|set",
            "A: ?rules ACL GETUSER c1",
            "A: ACL SETUSER c1 +config|set",
            "A: ?rules ACL GETUSER c1",
            "A: ACL SETUSER c1 -config",
            "A: ?rules ACL GETUSER c1",
            "A: ACL SETUSER c1 reset +@hash -hdel +get",
            "A: ?rules ACL LIST",
            "A: ACL SETUSER c1 +@all -@hash +hget",
            "A: ?rules ACL LIST",
            "A: ACL SETUSER c1 -@all +@string +@hash +@list +@set +@sortedset",
            "A: ?rules ACL LIST",
            "A: ACL SETUSER c1 -@all +@string -@string",
            "A: ?rules ACL LIST",
        ],
    );
}

// ---------------------------------------------------------------------------------------
// ACL GETUSER
// ---------------------------------------------------------------------------------------

/// ACL GETUSER: in RESP2 an array of 12 (flags, passwords, commands, keys, channels,
/// selectors), in RESP3 a map whose `flags` is a set; flags in the order `on`/`off`,
/// `nopass`, `sanitize-payload`; passwords as sha256 hex in insertion order; commands /
/// keys / channels as one space-separated string each (empty when none); `selectors`
/// empty. A missing user is a null (`$-1` / `_`).
#[test]
fn getuser_resp2_and_resp3() {
    let script = [
        "A: ACL GETUSER default".to_string(),
        "= GETUSER_DEFAULT2".into(),
        "B: ~HELLO 3".into(),
        "B: ACL GETUSER default".into(),
        "= GETUSER_DEFAULT3".into(),
        "A: ACL SETUSER fresh".into(),
        "A: ACL GETUSER fresh".into(),
        "= GETUSER_FRESH2".into(),
        "B: ACL GETUSER fresh".into(),
        "= GETUSER_FRESH3".into(),
        "A: ACL GETUSER nosuch".into(),
        "= NIL".into(),
        "B: ACL GETUSER nosuch".into(),
        r"= _\r\n".into(),
        "A: ACL SETUSER r3 on >p1 >p2 ~k1 %R~k2 %W~k3 %RW~k4 &a &b:* -@all +@hash +ping".into(),
        "A: ?rules ACL GETUSER r3".into(),
        format!(
            r"= *12\r\n$5\r\nflags\r\n*1\r\n$2\r\non\r\n$9\r\npasswords\r\n*2\r\n$64\r\n{SHA_P1}\r\n$64\r\n{SHA_P2}\r\n$8\r\ncommands\r\n$18\r\n-@all +@hash +ping\r\n$4\r\nkeys\r\n$19\r\n~k1 %R~k2 %W~k3 ~k4\r\n$8\r\nchannels\r\n$7\r\n&a &b:*\r\n$9\r\nselectors\r\n*0\r\n"
        ),
        "B: ?rules ACL GETUSER r3".into(),
        format!(
            r"= %6\r\n$5\r\nflags\r\n~1\r\n$2\r\non\r\n$9\r\npasswords\r\n*2\r\n$64\r\n{SHA_P1}\r\n$64\r\n{SHA_P2}\r\n$8\r\ncommands\r\n$18\r\n-@all +@hash +ping\r\n$4\r\nkeys\r\n$19\r\n~k1 %R~k2 %W~k3 ~k4\r\n$8\r\nchannels\r\n$7\r\n&a &b:*\r\n$9\r\nselectors\r\n*0\r\n"
        ),
        "A: ACL SETUSER r3 nopass allkeys allchannels".into(),
        "A: ?rules ACL GETUSER r3".into(),
        "B: ?rules ACL GETUSER r3".into(),
        "A: ACL SETUSER r3 reset".into(),
        "A: ACL GETUSER r3".into(),
        r"= *12\r\n$5\r\nflags\r\n*2\r\n$3\r\noff\r\n$16\r\nsanitize-payload\r\n$9\r\npasswords\r\n*0\r\n$8\r\ncommands\r\n$5\r\n-@all\r\n$4\r\nkeys\r\n$0\r\n\r\n$8\r\nchannels\r\n$0\r\n\r\n$9\r\nselectors\r\n*0\r\n".into(),
        "B: ACL GETUSER r3".into(),
        "A: ACL SETUSER r3 on nopass".into(),
        "B: ACL GETUSER r3".into(),
        "A: ACL GETUSER".into(),
        r"= -ERR wrong number of arguments for 'acl|getuser' command\r\n".into(),
        "A: ACL GETUSER a b".into(),
    ];
    scenario_owned("GETUSER", &[], &script);
}

// ---------------------------------------------------------------------------------------
// USERS, WHOAMI, DELUSER, CAT, HELP, GENPASS
// ---------------------------------------------------------------------------------------

/// ACL USERS (sorted by name), ACL WHOAMI, ACL DELUSER (the number deleted, missing names
/// ignored, `default` anywhere in the list is an error and nothing is deleted), ACL CAT
/// (the 21 categories in a fixed order; a category's commands — compared as a set, Redis
/// lists them in dict order; category names case-insensitive; unknown category), ACL
/// HELP, and the arity / unknown-subcommand errors of the ACL command.
#[test]
fn users_whoami_deluser_cat_help() {
    scenario(
        "USERS WHOAMI DELUSER CAT HELP",
        &[],
        &[
            "A: ACL USERS",
            r"= *1\r\n$7\r\ndefault\r\n",
            "A: ACL WHOAMI",
            r"= $7\r\ndefault\r\n",
            "A: ACL SETUSER zed",
            "A: ACL SETUSER amy",
            "A: ACL SETUSER Bob",
            "A: ACL SETUSER bob",
            "A: ACL SETUSER _x",
            "A: ACL USERS",
            r"= *6\r\n$3\r\nBob\r\n$2\r\n_x\r\n$3\r\namy\r\n$3\r\nbob\r\n$7\r\ndefault\r\n$3\r\nzed\r\n",
            "A: ACL DELUSER amy default",
            "= DEFAULT_NOT_REMOVABLE",
            "A: ACL DELUSER default",
            "A: ACL USERS",
            "A: ACL DELUSER amy nosuch amy zed",
            r"= :2\r\n",
            "A: ACL DELUSER nosuch",
            r"= :0\r\n",
            "A: ACL DELUSER BOB",
            "A: ACL USERS",
            r"= *4\r\n$3\r\nBob\r\n$2\r\n_x\r\n$3\r\nbob\r\n$7\r\ndefault\r\n",
            "A: ACL DELUSER",
            r"= -ERR wrong number of arguments for 'acl|deluser' command\r\n",
            "A: ACL WHOAMI x",
            r"= -ERR wrong number of arguments for 'acl|whoami' command\r\n",
            "A: ACL USERS x",
            "A: ACL LIST x",
            r"= -ERR wrong number of arguments for 'acl|list' command\r\n",
            "A: ACL CAT",
            "= ACL_CATEGORIES",
            "A: ?sort ACL CAT string",
            "A: ?sort ACL CAT STRING",
            "A: ?sort ACL CAT hash",
            "A: ?sort ACL CAT list",
            "A: ?sort ACL CAT set",
            "A: ?sort ACL CAT sortedset",
            "A: ?sort ACL CAT transaction",
            "A: ?sort ACL CAT pubsub",
            "A: ?sort ACL CAT bitmap",
            "A: ?sort ACL CAT hyperloglog",
            "A: ?sort ACL CAT geo",
            "A: ?sort ACL CAT stream",
            "A: ACL CAT nosuch",
            r"= -ERR Unknown category 'nosuch'\r\n",
            "A: ACL CAT string extra",
            r"= -ERR unknown subcommand or wrong number of arguments for 'CAT'. Try ACL HELP.\r\n",
            "A: ACL HELP",
            "= ACL_HELP",
            "A: ACL HELP x",
            r"= -ERR wrong number of arguments for 'acl|help' command\r\n",
            "A: ACL FOO",
            r"= -ERR unknown subcommand 'FOO'. Try ACL HELP.\r\n",
            "A: ACL",
            r"= -ERR wrong number of arguments for 'acl' command\r\n",
        ],
    );
}

/// ACL GENPASS: 64 hex digits by default (256 bits); with `bits`, ceil(bits / 4) digits
/// (1..4 → 1, 5 → 2, 32 → 8, 33 → 9, 4096 → 1024); random, so only the shape is
/// compared. 0, negative and > 4096 are a range error, a non-number `not an integer`,
/// two arguments the CAT-style arity error.
#[test]
fn genpass_shape_and_errors() {
    scenario(
        "GENPASS",
        &[],
        &[
            "A: ?hex=64 ACL GENPASS",
            "= <64 hex digits>",
            "A: ?hex=8 ACL GENPASS 32",
            "= <8 hex digits>",
            "A: ?hex=9 ACL GENPASS 33",
            "A: ?hex=1 ACL GENPASS 1",
            "A: ?hex=1 ACL GENPASS 4",
            "A: ?hex=2 ACL GENPASS 5",
            "A: ?hex=64 ACL GENPASS 256",
            "A: ?hex=1024 ACL GENPASS 4096",
            "= <1024 hex digits>",
            "A: ACL GENPASS 0",
            "= GENPASS_RANGE",
            "A: ACL GENPASS -1",
            "= GENPASS_RANGE",
            "A: ACL GENPASS 4097",
            "= GENPASS_RANGE",
            "A: ACL GENPASS abc",
            "= NOT_INTEGER",
            "A: ACL GENPASS 9999999999999999999999",
            "= NOT_INTEGER",
            "A: ACL GENPASS 1 2",
            r"= -ERR unknown subcommand or wrong number of arguments for 'GENPASS'. Try ACL HELP.\r\n",
        ],
    );
}

// ---------------------------------------------------------------------------------------
// DRYRUN
// ---------------------------------------------------------------------------------------

/// ACL DRYRUN user cmd args: `+OK` when allowed, otherwise a *bulk string* (not an error)
/// `This user has no permissions to run the '<cmd>' command` / `... to access the '<key>'
/// key` / `... the '<channel>' channel`; a `off` user is still checked; unknown user,
/// unknown command (for an unknown subcommand the container is named), and the target
/// command's arity are errors.
#[test]
fn dryrun() {
    scenario(
        "DRYRUN",
        &[],
        &[
            "A: ACL SETUSER d on nopass -@all +get +set +copy +config|get +publish %R~r:* %W~w:* ~rw:* &news",
            "A: ACL DRYRUN d get rw:1",
            "= OK",
            "A: ACL DRYRUN d GET r:1",
            "= OK",
            "A: ACL DRYRUN d set r:1 v",
            r"= $52\r\nThis user has no permissions to access the 'r:1' key\r\n",
            "A: ACL DRYRUN d get w:1",
            "A: ACL DRYRUN d get other",
            r"= $54\r\nThis user has no permissions to access the 'other' key\r\n",
            "A: ACL DRYRUN d copy r:1 w:1",
            "= OK",
            "A: ACL DRYRUN d copy w:1 r:1",
            "A: ACL DRYRUN d incr rw:1",
            r"= $54\r\nThis user has no permissions to run the 'incr' command\r\n",
            "A: ACL DRYRUN d config get maxmemory",
            "= OK",
            "A: ACL DRYRUN d config set maxmemory 0",
            r"= $60\r\nThis user has no permissions to run the 'config|set' command\r\n",
            "A: ACL DRYRUN d publish news hi",
            "= OK",
            "A: ACL DRYRUN d publish other hi",
            r"= $58\r\nThis user has no permissions to access the 'other' channel\r\n",
            "A: ACL DRYRUN d nosuchcmd",
            r"= -ERR Command 'nosuchcmd' not found\r\n",
            "A: ACL DRYRUN d config nosuchsub",
            r"= -ERR Command 'config' not found\r\n",
            "A: ACL DRYRUN d get",
            r"= -ERR wrong number of arguments for 'get' command\r\n",
            "A: ACL DRYRUN d get a b",
            "A: ACL DRYRUN d config",
            r"= -ERR wrong number of arguments for 'config' command\r\n",
            "A: ACL DRYRUN nosuch get x",
            r"= -ERR User 'nosuch' not found\r\n",
            "A: ACL DRYRUN d",
            r"= -ERR wrong number of arguments for 'acl|dryrun' command\r\n",
            "A: ACL SETUSER d off",
            "A: ACL DRYRUN d get rw:1",
            "= OK",
            "A: ACL DRYRUN default flushall",
            "= OK",
        ],
    );
}

// ---------------------------------------------------------------------------------------
// Enforcement
// ---------------------------------------------------------------------------------------

/// AUTH with users: an `off` user, a wrong password and an unknown user all give
/// WRONGPASS; a `nopass` user accepts any password; `HELLO 3 AUTH` likewise. Then NOPERM
/// for commands (`... to run the '<cmd>' command`), subcommands (`+config|get` allows
/// CONFIG GET only: `'config|set'`), and keys (`... access one of the keys used as
/// arguments`) with Redis 7.0's key-spec rules: a key that is read (ACCESS) needs `%R`,
/// one that is written (INSERT/UPDATE/DELETE) needs `%W`, one that is only looked at
/// (EXISTS, TYPE, OBJECT ENCODING) needs either; COPY / SUNIONSTORE / LMOVE / MSET mixing
/// read and write keys. Unknown commands and arity errors come before NOPERM.
#[test]
fn auth_and_command_key_permissions() {
    scenario(
        "AUTH, commands and keys",
        &[],
        &[
            "A: ACL SETUSER offu off >pw +@all ~*",
            "A: ACL SETUSER np on nopass +@all ~* &*",
            "A: ACL SETUSER u on >pw +@all -@dangerous -incr +config|get +acl|whoami %R~r:* %W~w:* ~rw:*",
            "U: AUTH offu pw",
            "= WRONGPASS",
            "U: AUTH u bad",
            "= WRONGPASS",
            "U: AUTH nosuchuser pw",
            "= WRONGPASS",
            "U: ACL WHOAMI",
            r"= $7\r\ndefault\r\n",
            "U: AUTH np anything",
            "= OK",
            "U: ACL WHOAMI",
            r"= $2\r\nnp\r\n",
            "U: AUTH u pw",
            "= OK",
            "U: ACL WHOAMI",
            r"= $1\r\nu\r\n",
            "H: ~HELLO 3 AUTH np whatever",
            "H: ACL WHOAMI",
            "H: HELLO 3 AUTH u bad",
            "= WRONGPASS",
            "H: ACL WHOAMI",
            // Commands and subcommands.
            "U: INCR rw:1",
            r"= -NOPERM this user has no permissions to run the 'incr' command\r\n",
            "U: KEYS *",
            r"= -NOPERM this user has no permissions to run the 'keys' command\r\n",
            "U: FLUSHDB",
            "U: CONFIG GET maxmemory",
            r"= *2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n",
            "U: CONFIG SET maxmemory 0",
            r"= -NOPERM this user has no permissions to run the 'config|set' command\r\n",
            "U: CONFIG RESETSTAT",
            r"= -NOPERM this user has no permissions to run the 'config|resetstat' command\r\n",
            "U: CONFIG FOO",
            r"= -ERR unknown subcommand 'FOO'. Try CONFIG HELP.\r\n",
            "U: ACL LIST",
            r"= -NOPERM this user has no permissions to run the 'acl|list' command\r\n",
            "U: ACL USERS",
            "U: NOSUCHCMD x",
            r"= -ERR unknown command 'NOSUCHCMD', with args beginning with: 'x' \r\n",
            "U: INCR",
            r"= -ERR wrong number of arguments for 'incr' command\r\n",
            "U: PING",
            "= PONG",
            // Keys: read vs write.
            "U: GET r:1",
            "= NIL",
            "U: SET r:1 v",
            "= NOPERM_KEYS",
            "U: GET w:1",
            "= NOPERM_KEYS",
            "U: SET w:1 v",
            "= OK",
            "U: GET other",
            "= NOPERM_KEYS",
            "U: SET other v",
            "= NOPERM_KEYS",
            "U: SET rw:1 v",
            "= OK",
            "U: GET rw:1",
            "U: EXISTS w:1",
            r"= :1\r\n",
            "U: EXISTS r:1 other",
            "U: TYPE w:1",
            "U: OBJECT ENCODING w:1",
            "U: STRLEN w:1",
            "U: APPEND w:1 x",
            "U: DEL r:1",
            "= NOPERM_KEYS",
            "U: DEL w:1 rw:1",
            "U: UNLINK r:1",
            "U: GETDEL r:1",
            "U: GETDEL rw:1",
            "U: MSET w:1 a w:2 b",
            "= OK",
            "U: MSET w:1 a r:2 b",
            "= NOPERM_KEYS",
            "U: MGET r:1 rw:1",
            "U: MGET r:1 w:1",
            "U: COPY r:1 w:2",
            r"= :0\r\n",
            "U: COPY w:1 r:2",
            "= NOPERM_KEYS",
            "U: COPY rw:1 r:3",
            "U: COPY r:1 rw:2",
            "U: SUNIONSTORE w:dst r:a r:b",
            r"= :0\r\n",
            "U: SUNIONSTORE w:dst r:a w:b",
            "= NOPERM_KEYS",
            "U: SUNIONSTORE r:dst r:a",
            "U: LMOVE r:s w:d LEFT RIGHT",
            "= NOPERM_KEYS",
            "U: LMOVE rw:s w:d LEFT RIGHT",
            "U: RENAME w:a w:b",
            "= NOPERM_KEYS",
            "U: RENAME rw:a w:b",
            r"= -ERR no such key\r\n",
            "U: DBSIZE",
            "A: MGET r:1 r:2 r:3 w:1 w:2 rw:1 rw:2 other",
        ],
    );
}

/// Channel permissions (`&pattern`): PUBLISH / SPUBLISH need a channel matching a
/// pattern; SUBSCRIBE / SSUBSCRIBE with any disallowed channel are refused as a whole
/// (`... access one of the channels used as arguments`, no confirmation for the allowed
/// ones); a PSUBSCRIBE pattern must equal an allowed pattern literally (`news.*` yes,
/// `news.a*` and `n*` no, `exact` yes). `resetchannels` (the default for new users) allows
/// none, `allchannels` all.
#[test]
fn channel_permissions() {
    scenario(
        "channels",
        &[],
        &[
            "A: ACL SETUSER u on >pw +@all ~* &news.* &exact",
            "A: ACL SETUSER none on >pw +@all ~*",
            "P: AUTH u pw",
            "P: PUBLISH news.x hi",
            r"= :0\r\n",
            "P: PUBLISH exact hi",
            "P: PUBLISH other hi",
            "= NOPERM_CHANNELS",
            "P: PUBLISH news hi",
            "P: SPUBLISH news.a hi",
            "P: SPUBLISH other hi",
            "S: AUTH u pw",
            "S: SUBSCRIBE news.a exact other",
            "= NOPERM_CHANNELS",
            "S: SUBSCRIBE other",
            "S: SUBSCRIBE news.a exact",
            r"= *3\r\n$9\r\nsubscribe\r\n$6\r\nnews.a\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$5\r\nexact\r\n:2\r\n",
            "S: PSUBSCRIBE news.a*",
            "= NOPERM_CHANNELS",
            "S: PSUBSCRIBE n*",
            "S: PSUBSCRIBE news.*",
            r"= *3\r\n$10\r\npsubscribe\r\n$6\r\nnews.*\r\n:3\r\n",
            "S: PSUBSCRIBE exact",
            "S: PSUBSCRIBE news.* news.b",
            "= NOPERM_CHANNELS",
            "S: SSUBSCRIBE news.s",
            "S: SSUBSCRIBE other",
            "P: PUBLISH news.a hello",
            r"= :2\r\n",
            "S: !idle",
            "S: !idle",
            "N: AUTH none pw",
            "N: PUBLISH news.x hi",
            "= NOPERM_CHANNELS",
            "N: SUBSCRIBE x",
            "N: PSUBSCRIBE *",
            "A: ACL SETUSER none allchannels",
            "N: PUBLISH anything hi",
            "N: PSUBSCRIBE *",
            "A: ACL DRYRUN u subscribe news.a other",
            "A: ACL DRYRUN u psubscribe news.*",
            "A: ACL DRYRUN u psubscribe news.a*",
        ],
    );
}

/// Inside MULTI, a queued command the user may not run (or with a key / channel it may not
/// use) is answered with its NOPERM error instead of `+QUEUED`, and EXEC then fails with
/// EXECABORT; allowed commands queue and run. Refusals count in INFO errorstats
/// (`errorstat_NOPERM`), `total_error_replies` and the command's `rejected_calls` in
/// commandstats; WRONGPASS counts too.
#[test]
fn multi_and_errorstats() {
    scenario(
        "MULTI and errorstats",
        &[],
        &[
            "A: CONFIG RESETSTAT",
            "U: AUTH u bad",
            "A: ACL SETUSER u on >pw -@all +multi +exec +discard +get +set +publish +ping %R~r:* ~rw:* &c",
            "U: AUTH u bad",
            "= WRONGPASS",
            "U: AUTH u pw",
            "U: MULTI",
            "= OK",
            "U: GET r:1",
            "= QUEUED",
            "U: INCR rw:1",
            r"= -NOPERM this user has no permissions to run the 'incr' command\r\n",
            "U: SET r:1 v",
            "= NOPERM_KEYS",
            "U: SET rw:1 v",
            "= QUEUED",
            "U: PUBLISH other x",
            "= NOPERM_CHANNELS",
            "U: EXEC",
            "= EXECABORT",
            "U: GET rw:1",
            "= NIL",
            "U: MULTI",
            "U: SET rw:1 v",
            "U: GET r:1",
            "U: EXEC",
            r"= *2\r\n+OK\r\n$-1\r\n",
            "U: MULTI",
            "U: GET other",
            "U: DISCARD",
            "= OK",
            "U: GET other",
            "= NOPERM_KEYS",
            "U: INCR x",
            "U: PUBLISH other x",
            "A: ?info=errorstat_,total_error_replies INFO",
            "= <info errorstat_EXECABORT:count=1 errorstat_NOPERM:count=7 errorstat_WRONGPASS:count=2 total_error_replies:10>",
            "A: ?info=cmdstat_get:,cmdstat_set:,cmdstat_incr:,cmdstat_publish:,cmdstat_exec:,cmdstat_auth: INFO commandstats",
        ],
    );
}

/// Changing a user while its clients are connected (Redis 7.0): permission changes apply
/// to the next command (`-get` → the next GET is NOPERM); `off`, new passwords and
/// `resetpass` do NOT disconnect or de-authenticate its clients; only new AUTHs fail.
/// ACL DELUSER closes every client authenticated as the deleted user — a client deleting
/// its own user first gets its `:1` reply. Changing a user's channel permissions closes
/// its clients that are subscribed to a channel or pattern it may no longer use (others
/// stay, even subscribed ones).
#[test]
fn changing_users_with_connected_clients() {
    scenario(
        "connected clients",
        &[],
        &[
            "A: ACL SETUSER u on >pw +@all ~* &*",
            "C1: AUTH u pw",
            "C2: AUTH u pw",
            "A: ACL SETUSER u -get",
            "C1: GET k",
            r"= -NOPERM this user has no permissions to run the 'get' command\r\n",
            "C1: SET k v",
            "= OK",
            "A: ACL SETUSER u +get",
            "C1: GET k",
            r"= $1\r\nv\r\n",
            "A: ACL SETUSER u resetkeys ~other",
            "C1: GET k",
            "= NOPERM_KEYS",
            "A: ACL SETUSER u allkeys off",
            "C1: !idle",
            "= NOTHING",
            "C1: GET k",
            r"= $1\r\nv\r\n",
            "C1: ACL WHOAMI",
            r"= $1\r\nu\r\n",
            "C3: AUTH u pw",
            "= WRONGPASS",
            "A: ACL SETUSER u on resetpass >other",
            "C1: PING",
            "= PONG",
            "C3: AUTH u pw",
            "= WRONGPASS",
            "A: ACL SETUSER u resetpass",
            "C2: PING",
            "= PONG",
            "A: ACL DELUSER u nosuch",
            r"= :1\r\n",
            "C1: !closed",
            "= CLOSED",
            "C2: !closed",
            "= CLOSED",
            "A: PING",
            "= PONG",
            // Deleting one's own user: the reply, then the connection is closed.
            "A: ACL SETUSER v on nopass +@all",
            "V: AUTH v x",
            "V: ACL DELUSER v",
            r"= :1\r\n",
            "V: !closed",
            "= CLOSED",
            // Channel permission changes close subscribers that lost access.
            "A: ACL SETUSER ps on >pw +@all ~* resetchannels &news.* &other",
            "S1: AUTH ps pw",
            "S2: AUTH ps pw",
            "S3: AUTH ps pw",
            "S4: AUTH ps pw",
            "S1: SUBSCRIBE news.a",
            "S2: PSUBSCRIBE news.*",
            "S3: SUBSCRIBE other",
            "A: ACL SETUSER ps resetchannels &news.a &other",
            "= OK",
            "S2: !closed",
            "= CLOSED",
            "S1: PING",
            r"= *2\r\n$4\r\npong\r\n$0\r\n\r\n",
            "S3: PING",
            "S4: PING",
            "= PONG",
            "A: ACL SETUSER ps -@all +ping",
            "S1: PING",
            "S3: PING",
            "A: ACL SETUSER ps resetchannels &other",
            "S1: !closed",
            "= CLOSED",
            "S3: PING",
            "S4: PING",
            "A: ACL SETUSER ps resetchannels",
            "S3: !closed",
            "= CLOSED",
            "S4: PING",
            "= PONG",
        ],
    );
}

/// The `default` user: `ACL SETUSER default >pw` works like requirepass (new clients get
/// NOAUTH until AUTH; already connected ones stay authenticated) but CONFIG GET
/// requirepass is not changed; `CONFIG SET requirepass x` replaces the default user's
/// passwords by `x` (and `""` makes it `nopass`); `resetpass` leaves a user no client can
/// authenticate as; `nopass` opens it again, also for a client that connected meanwhile and
/// never authenticated (Redis checks the default user's flags at every command); `off` makes
/// new clients unable to do anything but AUTH / HELLO AUTH (which fail), while clients
/// already connected carry on.
#[test]
fn default_user_and_requirepass() {
    let script = [
        "A: ACL SETUSER default >pw".to_string(),
        "= OK".into(),
        "A: ?rules ACL LIST".into(),
        format!(r"= *1\r\n$93\r\nuser default on #{SHA_PW} ~* &* +@all\r\n"),
        "A: CONFIG GET requirepass".into(),
        r"= *2\r\n$11\r\nrequirepass\r\n$0\r\n\r\n".into(),
        "A: PING".into(),
        "= PONG".into(),
        "B: PING".into(),
        "= NOAUTH".into(),
        "B: ACL WHOAMI".into(),
        "B: HELLO 3".into(),
        "= HELLO_NOAUTH".into(),
        "B: AUTH pw".into(),
        "= OK".into(),
        "B: ACL WHOAMI".into(),
        "C: AUTH default pw".into(),
        "= OK".into(),
        "A: CONFIG SET requirepass x".into(),
        "A: ?rules ACL LIST".into(),
        format!(r"= *1\r\n$93\r\nuser default on #{SHA_X} ~* &* +@all\r\n"),
        "A: CONFIG GET requirepass".into(),
        "A: ACL SETUSER default >p1".into(),
        "A: CONFIG GET requirepass".into(),
        r"= *2\r\n$11\r\nrequirepass\r\n$1\r\nx\r\n".into(),
        "A: ACL GETUSER default".into(),
        format!(
            r"= *12\r\n$5\r\nflags\r\n*1\r\n$2\r\non\r\n$9\r\npasswords\r\n*2\r\n$64\r\n{SHA_X}\r\n$64\r\n{SHA_P1}\r\n$8\r\ncommands\r\n$5\r\n+@all\r\n$4\r\nkeys\r\n$2\r\n~*\r\n$8\r\nchannels\r\n$2\r\n&*\r\n$9\r\nselectors\r\n*0\r\n"
        ),
        "D: AUTH pw".into(),
        "= WRONGPASS".into(),
        "D: AUTH p1".into(),
        "= OK".into(),
        "E: AUTH default x".into(),
        "= OK".into(),
        "A: CONFIG SET requirepass \"\"".into(),
        "A: ACL LIST".into(),
        r"= *1\r\n$34\r\nuser default on nopass ~* &* +@all\r\n".into(),
        "F: PING".into(),
        "= PONG".into(),
        "A: ACL SETUSER default >pw".into(),
        "A: ACL SETUSER default resetpass".into(),
        "A: ACL LIST".into(),
        r"= *1\r\n$27\r\nuser default on ~* &* +@all\r\n".into(),
        "A: ACL GETUSER default".into(),
        "A: PING".into(),
        "= PONG".into(),
        "G: PING".into(),
        "= NOAUTH".into(),
        "G: AUTH pw".into(),
        "= WRONGPASS".into(),
        "G: AUTH default \"\"".into(),
        "A: ACL SETUSER default nopass".into(),
        "A: ACL GETUSER default".into(),
        "= GETUSER_DEFAULT2".into(),
        "G: PING".into(),
        "= PONG".into(),
        "H: PING".into(),
        "= PONG".into(),
        "A: ACL SETUSER default off".into(),
        "A: PING".into(),
        "= PONG".into(),
        "A: ACL LIST".into(),
        r"= *1\r\n$35\r\nuser default off nopass ~* &* +@all\r\n".into(),
        "I: PING".into(),
        "= NOAUTH".into(),
        "I: AUTH default anything".into(),
        "= WRONGPASS".into(),
        "I: HELLO 3 AUTH default anything".into(),
        "= WRONGPASS".into(),
        "A: ACL SETUSER default on".into(),
        "J: PING".into(),
        "= PONG".into(),
    ];
    scenario_owned("default user", &[], &script);
}

/// Permissions are checked again at EXEC (Redis 7.0's execCommand): commands queued while
/// allowed but no longer allowed when EXEC runs answer NOPERM with the reason (command,
/// keys, channels) and the others run; each refusal counts in errorstats.
#[test]
fn exec_rechecks_permissions() {
    scenario(
        "EXEC re-check",
        &[],
        &[
            "A: ACL SETUSER u on >pw +@all ~* &*",
            "U: AUTH u pw",
            "U: MULTI",
            "U: SET k v",
            "U: GET k",
            "U: PUBLISH ch x",
            "U: PING",
            "A: ACL SETUSER u -set resetkeys ~other resetchannels",
            "U: EXEC",
            "A: INFO errorstats",
        ],
    );
}

/// `age-seconds` and `client-info` values of an ACL LOG reply replaced by `<...>` (they
/// differ between servers and runs; the rest must match).
fn mask_log(reply: &[u8]) -> String {
    let text = String::from_utf8_lossy(reply).to_string();
    let lines: Vec<&str> = text.split("\r\n").collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        out.push(lines[i].to_string());
        if lines[i] == "age-seconds" || lines[i] == "client-info" {
            out.push("<masked>".into());
            i += 3;
            continue;
        }
        i += 1;
    }
    out.join("|")
}

/// ACL LOG (Redis 7.0): failed AUTH / HELLO AUTH (reason `auth`, object the command),
/// refused commands, keys and channels (object the command, key or channel), the
/// `multi` context, equal denials counted in one entry, newest first, `ACL LOG <count>`,
/// RESET, and argument errors.
#[test]
fn acl_log_entries() {
    let Some(redis) = common::start_redis(&[]) else {
        assert!(!common::redis_required(), "redis-server is required");
        eprintln!("redis-server not installed: skipped");
        return;
    };
    let rustis = common::start_rustis(&[]);
    let run = |s: &Server| -> Vec<String> {
        let mut a = s.conn();
        let mut u = s.conn();
        let mut out = Vec::new();
        for cmd in [&["ACL", "SETUSER", "u", "on", ">pw", "-get", "~a*", "&c"][..], &["ACL", "LOG", "RESET"]] {
            out.push(render(&a.cmd_str(cmd)));
        }
        for cmd in [
            &["AUTH", "u", "wrong"][..],
            &["AUTH", "u", "wrong"],
            &["HELLO", "3", "AUTH", "u", "bad"],
            &["AUTH", "u", "pw"],
            &["GET", "a1"],
            &["SET", "b", "1"],
        ] {
            out.push(render(&u.cmd_str(cmd)));
        }
        out.push(render(&a.cmd_str(&["ACL", "SETUSER", "u", "+@all"])));
        for cmd in [&["SET", "b", "1"][..], &["PUBLISH", "x", "1"], &["MULTI"], &["SET", "zz", "1"], &["EXEC"]] {
            out.push(render(&u.cmd_str(cmd)));
        }
        for cmd in [
            &["ACL", "LOG"][..],
            &["ACL", "LOG", "2"],
            &["ACL", "LOG", "0"],
            &["ACL", "LOG", "x"],
            &["ACL", "LOG", "1", "2"],
        ] {
            out.push(mask_log(&a.cmd_str(cmd)));
        }
        out.push(render(&a.cmd_str(&["ACL", "LOG", "RESET"])));
        out.push(render(&a.cmd_str(&["ACL", "LOG"])));
        out
    };
    let (want, got) = (run(&redis), run(&rustis));
    for (i, (w, g)) in want.iter().zip(&got).enumerate() {
        assert_eq!(g, w, "step {i}");
    }
    assert_eq!(want.len(), got.len());
}

// ---------------------------------------------------------------------------------------
// Selectors and the ACL file
// ---------------------------------------------------------------------------------------

/// Selectors: `(...)` rules, one argument or spread over several (joined with spaces),
/// unmatched parenthesis and bad rules inside; ACL LIST and GETUSER (RESP2 and RESP3)
/// show them after the root rules; a command is allowed when the root or any selector
/// allows it, and DRYRUN reports the most relevant denial (a key beats a command);
/// clearselectors and reset drop them; NOPERM enforcement through a selector.
#[test]
fn selectors() {
    scenario(
        "selectors",
        &[],
        &[
            "A: ACL SETUSER s1 on nopass ~x* +ping (~foo* +get) (+set ~bar*)",
            "= OK",
            "A: ?rules ACL LIST",
            "A: ?rules ACL GETUSER s1",
            "A: ACL SETUSER s2 (~a +get)",
            "A: ACL SETUSER s3 (~a +get",
            r"= -ERR Unmatched parenthesis in acl selector starting at '(~a'.\r\n",
            "A: ACL SETUSER s4 (bogus)",
            r"= -ERR Error in ACL SETUSER modifier '(bogus)': Syntax error\r\n",
            "A: ACL SETUSER s4 (on)",
            "A: ACL SETUSER s4 (>pw)",
            "A: ACL SETUSER s4 (~k* +get) (&ch* +publish) (%R~r* +@read)",
            "A: ?rules ACL LIST",
            "A: ~HELLO 3",
            "A: ?rules ACL GETUSER s4",
            "A: ~HELLO 2",
            "A: ACL SETUSER s6 on nopass %R~r* (%W~w* +@string)",
            "A: ACL DRYRUN s6 set r1 v",
            r"= $51\r\nThis user has no permissions to access the 'r1' key\r\n",
            "A: ACL DRYRUN s6 get w1",
            "A: ACL DRYRUN s6 set w1 x",
            "= OK",
            "A: ACL DRYRUN s6 incr w1",
            "A: ACL DRYRUN s1 get foo1",
            "= OK",
            "A: ACL DRYRUN s1 get bar1",
            "A: ACL DRYRUN s1 set bar1 v",
            "= OK",
            "A: ACL DRYRUN s1 ping",
            "= OK",
            "A: ACL DRYRUN s4 publish ch1 m",
            "A: ACL DRYRUN s4 publish other m",
            "B: AUTH s1 any",
            "= OK",
            "B: SET bar1 v",
            "= OK",
            "B: GET bar1",
            "B: GET foo1",
            "= NIL",
            "B: SET foo1 v",
            "A: ACL SETUSER s1 clearselectors",
            "A: ?rules ACL LIST",
            "B: SET bar2 v",
            "A: ACL SETUSER s6 reset",
            "A: ?rules ACL GETUSER s6",
        ],
    );
}

/// ACL LOAD and ACL SAVE without an aclfile: Redis's long error.
#[test]
fn acl_load_save_without_a_file() {
    scenario(
        "no aclfile",
        &[],
        &[
            "A: ACL LOAD",
            "A: ACL SAVE",
            "A: ACL LOAD x",
            "A: CONFIG GET aclfile",
            r#"= *2\r\n$7\r\naclfile\r\n$0\r\n\r\n"#,
        ],
    );
}

/// The ACL file on both servers (each in its own directory): loaded at start, ACL SAVE
/// writes what ACL LIST shows (byte-identical files), ACL LOAD errors name the file and
/// line and change nothing (duplicates, bad rules, lines not starting with `user`,
/// comments), a valid LOAD replaces every user (a missing `default` is recreated open) and
/// disconnects clients authenticated as other users.
#[test]
fn acl_file_load_and_save() {
    let initial = "user default on nopass ~* &* +@all\nuser alice on >pw ~a* +get\n";
    let mut sides = Vec::new();
    for name in ["redis", "rustis"] {
        let dir = common::temp_dir(&format!("aclfile-{name}"));
        let path = dir.join("users.acl");
        std::fs::write(&path, initial).expect("write the acl file");
        let p = path.to_string_lossy().to_string();
        let srv = if name == "redis" {
            match common::start_redis(&["--aclfile", &p]) {
                Some(s) => s,
                None => {
                    eprintln!("SKIPPED: redis-server not found on PATH");
                    return;
                }
            }
        } else {
            common::start_rustis(&["--aclfile", &p])
        };
        sides.push((srv, path, dir));
    }
    let files: [&str; 6] = [
        "user default on nopass ~* &* +@all\nuser carol on bogus\n",
        "user default on nopass ~* &* +@all\nuser carol on nopass +get\nuser carol on\n",
        "user carol on nopass +get ~*\n\n# comment\n",
        "usr carol\n",
        "user default on nopass ~* &* +@all\nuser c (~a +get\n",
        "user carol on nopass +get ~*\nuser dave on >pw (~d* +set)\n",
    ];
    let mut outs: Vec<Vec<String>> = vec![Vec::new(), Vec::new()];
    for (i, (srv, path, _)) in sides.iter().enumerate() {
        let p = path.to_string_lossy().to_string();
        let norm = |b: Vec<u8>| render(&b).replace(&p, "<aclfile>");
        let out = &mut outs[i];
        let mut a = RawConn::connect(srv.port).expect("connect");
        let mut alice = RawConn::connect(srv.port).expect("connect");
        out.push(norm(alice.cmd(&[b"AUTH", b"alice", b"pw"])));
        out.push(norm(a.cmd(&[b"ACL", b"LIST"])));
        out.push(norm(a.cmd(&[b"ACL", b"SETUSER", b"bob", b"on", b">x", b"(~b*", b"+set)"])));
        out.push(norm(a.cmd(&[b"ACL", b"SAVE"])));
        out.push(std::fs::read_to_string(path).expect("saved file"));
        for f in files {
            std::fs::write(path, f).expect("write");
            out.push(norm(a.cmd(&[b"ACL", b"LOAD"])));
            out.push(norm(a.cmd(&[b"ACL", b"LIST"])));
        }
        // The last LOAD succeeded: alice's client was disconnected, the admin stays.
        let closed = alice.expect_closed(Duration::from_millis(1000));
        out.push(format!("alice closed: {}", closed.is_ok()));
        out.push(norm(a.cmd(&[b"PING"])));
        // A missing file: strerror's text, as Redis prints it.
        std::fs::remove_file(path).expect("remove the acl file");
        out.push(norm(a.cmd(&[b"ACL", b"LOAD"])));
        out.push(norm(a.cmd(&[b"AUTH", b"dave", b"pw"])));
        out.push(norm(a.cmd(&[b"SET", b"d1", b"v"])));
        out.push(norm(a.cmd(&[b"GET", b"d1"])));
    }
    let mut diffs = Vec::new();
    for (i, (r, s)) in outs[0].iter().zip(&outs[1]).enumerate() {
        if r != s {
            diffs.push(format!("step {i}:\n  redis:  {r}\n  rustis: {s}"));
        }
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    assert!(outs[0].iter().any(|o| o.contains("Duplicate user 'carol' found on line 3")), "{:?}", outs[0]);
    for (_, _, dir) in &sides {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// Start-up: `user` lines in the config file declare users; an ACL file with errors, or
/// an ACL file together with `user` lines, stops the server from starting (as Redis).
#[test]
fn acl_file_and_user_lines_at_startup() {
    let dir = common::temp_dir("acl-startup");
    let conf = dir.join("users.conf");
    std::fs::write(&conf, "user carol on >pw ~c* +get\nuser dan off\n").expect("conf");
    let srv = common::start_rustis_conf(&conf.to_string_lossy(), &[]);
    let mut c = RawConn::connect(srv.port).expect("connect");
    let list = render(&c.cmd(&[b"ACL", b"LIST"]));
    assert!(list.contains("user carol on #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 ~c* resetchannels -@all +get"), "{list}");
    assert!(list.contains("user dan off resetchannels -@all"), "{list}");
    drop(srv);

    let bad = dir.join("bad.acl");
    std::fs::write(&bad, "user default on nopass ~* &* +@all\nuser x on bogus\n").expect("acl");
    let both = dir.join("both.conf");
    std::fs::write(&both, format!("user y on nopass\naclfile {}\n", dir.join("good.acl").display())).expect("conf");
    std::fs::write(dir.join("good.acl"), "user z on nopass\n").expect("acl");
    let cases: [(Vec<String>, &str); 3] = [
        (vec!["--aclfile".into(), bad.to_string_lossy().to_string()], "Syntax error"),
        (vec![both.to_string_lossy().to_string()], "at the same setting an ACL file path is invalid"),
        (vec!["--aclfile".into(), dir.join("missing.acl").to_string_lossy().to_string()], "missing.acl"),
    ];
    for (args, why) in cases {
        let mut all = args.clone();
        all.extend(["--port".into(), common::free_port().to_string(), "--msgpack-port".into(), "0".into()]);
        all.extend(["--metrics-port".into(), "0".into(), "--save".into(), "".into()]);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_rustis-server"))
            .args(&all)
            .current_dir(&dir)
            .output()
            .expect("run rustis-server");
        let text = String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
        assert!(!out.status.success(), "{args:?} started: {text}");
        assert!(
            text.contains("Aborting Rustis startup because of ACL errors") && text.contains(why),
            "{args:?}: {text}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
