//! `rustis-cli` against the real `redis-cli` (7.0): both run the same commands against
//! the same server and their stdout (and exit status) must be identical byte for byte.
//!
//! Covered: every reply type in formatted (`--no-raw`) and raw (`--raw`) output, in
//! RESP2 and RESP3 (`-3`), against a rustis-server and against a scripted fake server
//! (for the RESP3 types no 7.0 command returns: booleans, verbatim strings, pushes,
//! nested maps and sets); commands piped on stdin (quoting, invalid lines,
//! SELECT, quit); `-n`; `-a` with `requirepass` (warning and AUTH failure on stderr);
//! the unreachable-server message and exit status; `--protocol msgpack` printing what
//! RESP3 prints.
//!
//! Without redis-cli the test prints SKIPPED and passes, unless RUSTIS_REQUIRE_REDIS=1.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CLI: &str = env!("CARGO_BIN_EXE_rustis-cli");
/// Longest a single CLI run may take.
const RUN_LIMIT: Duration = Duration::from_secs(20);

struct Out {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    code: Option<i32>,
}

/// Runs `bin args`, feeding `stdin` (or nothing), bounded by [`RUN_LIMIT`].
fn run(bin: &str, args: &[&str], stdin: Option<&[u8]>) -> Out {
    let mut child = Command::new(bin)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {bin}: {e}"));
    let mut input = child.stdin.take().expect("stdin");
    let data = stdin.unwrap_or_default().to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let mut so = child.stdout.take().expect("stdout");
    let mut se = child.stderr.take().expect("stderr");
    let ro = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = so.read_to_end(&mut v);
        v
    });
    let re = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = se.read_to_end(&mut v);
        v
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if start.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{bin} {args:?} ran longer than {RUN_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let _ = writer.join();
    Out { stdout: ro.join().expect("stdout reader"), stderr: re.join().expect("stderr reader"), code: status.code() }
}

/// True when redis-cli can run; otherwise prints SKIPPED (or panics when required).
fn have_redis_cli(test: &str) -> bool {
    let ok = Command::new("redis-cli").arg("--version").output().is_ok_and(|o| o.status.success());
    if !ok {
        if common::redis_required() {
            panic!("redis-cli not found but {}=1 is set", common::REQUIRE_REDIS_ENV);
        }
        eprintln!("SKIPPED {test}: redis-cli not found");
    }
    ok
}

/// Runs the same arguments and input through both CLIs and compares stdout and status
/// (and stderr when `stderr` is true).
fn same(port: u16, args: &[&str], stdin: Option<&[u8]>, stderr: bool) {
    let p = port.to_string();
    let mut full = vec!["-p", p.as_str()];
    full.extend_from_slice(args);
    let theirs = run("redis-cli", &full, stdin);
    let ours = run(CLI, &full, stdin);
    let show = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    assert_eq!(show(&ours.stdout), show(&theirs.stdout), "stdout differs for {full:?} (input {:?})", stdin.map(show));
    assert_eq!(ours.code, theirs.code, "exit status differs for {full:?}");
    if stderr {
        assert_eq!(show(&ours.stderr), show(&theirs.stderr), "stderr differs for {full:?}");
    }
}

/// Commands covering the reply types a rustis-server gives (read-only after setup).
const COMMANDS: &[&[&str]] = &[
    &["PING"],
    &["ECHO", "plain"],
    &["GET", "str"],
    &["GET", "bin"],
    &["GET", "nokey"],
    &["STRLEN", "str"],
    &["LRANGE", "list", "0", "-1"],
    &["LRANGE", "nokey", "0", "-1"],
    &["HGETALL", "hash"],
    &["HGETALL", "nokey"],
    &["SMEMBERS", "set"],
    &["SMEMBERS", "nokey"],
    &["ZRANGE", "zset", "0", "-1", "WITHSCORES"],
    &["ZSCORE", "zset", "a"],
    &["ZSCORE", "zset", "nomember"],
    &["XRANGE", "stream", "-", "+"],
    &["MGET", "str", "nokey", "bin"],
    &["CONFIG", "GET", "maxmemory-policy"],
    &["INFO", "keyspace"],
    &["NOSUCHCOMMAND", "x"],
    &["GET", "list"],
    &["OBJECT", "ENCODING", "list"],
];

fn setup(port: u16) {
    let mut c = common::RawConn::connect(port).expect("connect");
    for args in [
        &["SET", "str", "hello world"][..],
        &["DEL", "list", "hash", "set", "zset", "stream"],
        &["RPUSH", "list", "a", "b c", "d\"e", "x\ny", "", "12"],
        &["HSET", "hash", "f1", "v1", "f2", "2"],
        &["SADD", "set", "m1"],
        &["ZADD", "zset", "1.5", "a", "2", "b", "-inf", "c"],
        &["XADD", "stream", "1-1", "k", "v", "k2", "v2"],
        &["XADD", "stream", "2-1", "k", "w"],
    ] {
        c.cmd_str(args);
    }
    c.cmd(&[b"SET", b"bin", b"\x00\x01\xff\t\\\xc3\xa9 \x7f\"'"]);
    // Twelve elements: two-digit indexes and their indentation.
    let mut big = vec!["RPUSH".to_string(), "list12".to_string()];
    big.extend((1..=12).map(|i| format!("e{i}")));
    let refs: Vec<&str> = big.iter().map(|s| s.as_str()).collect();
    c.cmd_str(&refs);
}

#[test]
fn replies_print_like_redis_cli() {
    if !have_redis_cli("replies_print_like_redis_cli") {
        return;
    }
    let server = common::start_rustis(&[]);
    setup(server.port);
    for mode in ["--no-raw", "--raw"] {
        for proto in [None, Some("-3")] {
            for cmd in COMMANDS.iter().chain([&["LRANGE", "list12", "0", "-1"][..]].iter()) {
                let mut args = vec![mode];
                args.extend(proto);
                args.extend_from_slice(cmd);
                same(server.port, &args, None, false);
            }
        }
    }
}

/// A fake RESP server answering `ECHO <name>` with canned reply `name` (anything else,
/// HELLO included, gets `+OK`), so that types no Redis 7.0 command sends are covered.
fn fake_server(replies: &'static [(&'static str, &'static [u8])]) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for s in l.incoming().take(200) {
            let Ok(s) = s else { continue };
            std::thread::spawn(move || {
                let _ = s.set_read_timeout(Some(Duration::from_secs(20)));
                let mut w = match s.try_clone() {
                    Ok(w) => w,
                    Err(_) => return,
                };
                let mut r = BufReader::new(s);
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let n: usize = line.trim().trim_start_matches('*').parse().unwrap_or(0);
                    let mut args = Vec::new();
                    for _ in 0..n {
                        let mut h = String::new();
                        let _ = r.read_line(&mut h);
                        let len: usize = h.trim().trim_start_matches('$').parse().unwrap_or(0);
                        let mut a = vec![0; len + 2];
                        if r.read_exact(&mut a).is_err() {
                            return;
                        }
                        a.truncate(len);
                        args.push(String::from_utf8_lossy(&a).into_owned());
                    }
                    let reply: &[u8] = match args.get(1).and_then(|k| replies.iter().find(|(n, _)| n == k)) {
                        Some((_, r)) if args[0].eq_ignore_ascii_case("echo") => r,
                        _ => b"+OK\r\n",
                    };
                    if w.write_all(reply).is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

const CANNED: &[(&str, &[u8])] = &[
    ("true", b"#t\r\n"),
    ("false", b"#f\r\n"),
    ("null", b"_\r\n"),
    ("double", b",3.25\r\n"),
    ("inf", b",inf\r\n"),
    ("verbatim", b"=15\r\ntxt:Some string\r\n"),
    // An out-of-band push before the reply: skipped, as redis-cli does.
    ("push", b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n+REAL\r\n"),
    ("nullarray", b"*-1\r\n"),
    ("nested", b"%2\r\n+key\r\n~2\r\n:1\r\n#f\r\n$3\r\nk 2\r\n*2\r\n%1\r\n:7\r\n,-1.5\r\n*0\r\n"),
    ("setofmaps", b"~2\r\n%0\r\n%1\r\n$1\r\na\r\n_\r\n"),
    ("mapmultiline", b"%2\r\n+a\r\n%1\r\n+b\r\n*2\r\n:1\r\n:2\r\n+c\r\n*1\r\n*2\r\n:1\r\n:2\r\n"),
    ("mapsingle", b"%3\r\n+a\r\n*0\r\n+b\r\n%1\r\n+x\r\n*1\r\n:1\r\n+c\r\n%0\r\n"),
    ("arrayerr", b"*2\r\n-ERR inner\r\n:3\r\n"),
];

#[test]
fn resp3_types_print_like_redis_cli() {
    if !have_redis_cli("resp3_types_print_like_redis_cli") {
        return;
    }
    let port = fake_server(CANNED);
    for mode in ["--no-raw", "--raw"] {
        for (name, _) in CANNED {
            same(port, &[mode, "-3", "ECHO", name], None, false);
        }
    }
}

const SCRIPT: &str = "set a 1\nget a\n\n   get    a   \nNOSUCH cmd\n\"unbalanced\nget \"a\"b\nset q x\ndel q\nrpush q \"x\\ty\\x41\\\"\" 'it\\'s' \"\" ''\nlrange q 0 -1\nselect 2\nset x in2\nget x\nselect 0\nget x\nquit\nget a\n";

#[test]
fn stdin_db_and_auth_like_redis_cli() {
    if !have_redis_cli("stdin_db_and_auth_like_redis_cli") {
        return;
    }
    let server = common::start_rustis(&[]);
    let p = server.port;
    for mode in ["--no-raw", "--raw"] {
        common::RawConn::connect(p).expect("connect").cmd_str(&["FLUSHALL"]);
        same(p, &[mode], Some(SCRIPT.as_bytes()), true);
        same(p, &[mode, "-3"], Some(SCRIPT.as_bytes()), true);
    }
    // -n selects the database (and shows in nothing but the data).
    common::RawConn::connect(p).expect("connect").cmd_str(&["FLUSHALL"]);
    let mut c = common::RawConn::connect(p).expect("connect");
    c.cmd_str(&["SELECT", "3"]);
    c.cmd_str(&["SET", "indb3", "yes"]);
    same(p, &["-n", "3", "--no-raw", "GET", "indb3"], None, true);
    same(p, &["-n", "3", "GET", "indb3"], Some(b""), true);
    same(p, &["-n", "3", "--no-raw"], Some(b"get indb3\nselect 0\nget indb3\n"), true);
    same(p, &["-n", "99", "--no-raw", "GET", "indb3"], None, true);
    // -a without requirepass: AUTH fails, the command still runs.
    same(p, &["-a", "nopass", "--no-raw", "PING"], None, true);

    let secured = common::start_rustis(&[]);
    let sp = secured.port;
    common::RawConn::connect(sp).expect("connect").cmd_str(&["CONFIG", "SET", "requirepass", "sekret"]);
    same(sp, &["--no-raw", "GET", "x"], None, true);
    same(sp, &["-a", "sekret", "--no-raw", "SET", "x", "1"], None, true);
    same(sp, &["-a", "sekret", "-3", "--no-raw", "HGETALL", "x"], None, true);
    same(sp, &["-a", "wrong", "--no-raw", "GET", "x"], None, true);
    same(sp, &["--user", "default", "-a", "sekret", "-n", "1", "--no-raw", "DBSIZE"], None, true);
    same(sp, &["--no-auth-warning", "-a", "sekret", "--raw"], Some(b"get x\n"), true);
}

#[test]
fn unreachable_server_like_redis_cli() {
    if !have_redis_cli("unreachable_server_like_redis_cli") {
        return;
    }
    // A port nobody listens on.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    same(port, &["PING"], None, true);
    same(port, &["--no-raw", "GET", "k"], None, true);
    same(port, &[], Some(b"ping\nget k\n"), true);
    let ours = run(CLI, &["-p", &port.to_string(), "PING"], None);
    assert_eq!(ours.code, Some(1));
    assert!(String::from_utf8_lossy(&ours.stderr).starts_with("Could not connect to Redis at 127.0.0.1:"));
}

#[test]
fn msgpack_prints_like_resp3() {
    let mport = common::free_port();
    let ms = mport.to_string();
    let server = common::start_rustis(&["--msgpack-port", &ms]);
    setup(server.port);
    let rp = server.port.to_string();
    for mode in ["--no-raw", "--raw"] {
        for cmd in COMMANDS {
            let mut resp = vec!["-p", rp.as_str(), mode, "-3"];
            resp.extend_from_slice(cmd);
            let mut mp = vec!["-p", ms.as_str(), "--protocol", "msgpack", mode];
            mp.extend_from_slice(cmd);
            let a = run(CLI, &resp, None);
            let b = run(CLI, &mp, None);
            assert_eq!(
                String::from_utf8_lossy(&b.stdout),
                String::from_utf8_lossy(&a.stdout),
                "msgpack output differs from RESP3 for {cmd:?} {mode}"
            );
            assert_eq!(a.code, b.code);
        }
        let mp = ["-p", ms.as_str(), "--protocol", "msgpack", mode];
        let a = run(CLI, &["-p", rp.as_str(), mode, "-3"], Some(SCRIPT.as_bytes()));
        common::RawConn::connect(server.port).expect("connect").cmd_str(&["DEL", "q"]);
        let b = run(CLI, &mp, Some(SCRIPT.as_bytes()));
        common::RawConn::connect(server.port).expect("connect").cmd_str(&["DEL", "q"]);
        assert_eq!(String::from_utf8_lossy(&b.stdout), String::from_utf8_lossy(&a.stdout));
    }
}

/// Runs `bin args` as a subscriber of channels `a` and `b`: waits until the server
/// counts it (on `a`), publishes two messages, then stops it and returns its stdout.
fn subscriber(bin: &str, args: &[&str], server_port: u16) -> String {
    let mut child = Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {bin}: {e}"));
    let mut so = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = so.read_to_end(&mut v);
        v
    });
    let mut c = common::RawConn::connect(server_port).expect("connect");
    let start = Instant::now();
    while c.cmd_str(&["PUBSUB", "NUMSUB", "b"]) != b"*2\r\n$1\r\nb\r\n:1\r\n" {
        assert!(start.elapsed() < RUN_LIMIT, "{bin} {args:?} did not subscribe");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(c.cmd_str(&["PUBLISH", "a", "hello"]), b":1\r\n");
    assert_eq!(c.cmd_str(&["PUBLISH", "b", "two\nlines"]), b":1\r\n");
    // The messages are on their way; give the subscriber time to print them.
    std::thread::sleep(Duration::from_millis(300));
    let _ = child.kill();
    let _ = child.wait();
    String::from_utf8_lossy(&reader.join().expect("reader")).into_owned()
}

#[test]
fn subscribe_prints_like_redis_cli() {
    if !have_redis_cli("subscribe_prints_like_redis_cli") {
        return;
    }
    let mport = common::free_port();
    let ms = mport.to_string();
    let server = common::start_rustis(&["--msgpack-port", &ms]);
    let p = server.port.to_string();
    for mode in [&["--no-raw"][..], &["--raw"], &["--no-raw", "-3"], &["--raw", "-3"]] {
        let mut args = vec!["-p", p.as_str()];
        args.extend_from_slice(mode);
        args.extend(["SUBSCRIBE", "a", "b"]);
        let theirs = subscriber("redis-cli", &args, server.port);
        let ours = subscriber(CLI, &args, server.port);
        assert_eq!(ours, theirs, "{args:?}");
        if mode.contains(&"-3") {
            let mp = ["-p", ms.as_str(), "--protocol", "msgpack", mode[0], "SUBSCRIBE", "a", "b"];
            assert_eq!(subscriber(CLI, &mp, server.port), theirs, "{mp:?}");
        }
    }
}

/// Runs rustis-cli on a pseudo-terminal (so the interactive prompt starts), types
/// `keys` (each followed by Enter, 300 ms apart), and returns what it printed.
fn repl_session(args: &[&str], home: &std::path::Path, keys: &[&str]) -> String {
    use std::fs::File;
    use std::os::fd::FromRawFd;
    use std::sync::{Arc, Mutex};
    let (mut master, mut slave) = (0, 0);
    let ws = libc::winsize { ws_row: 40, ws_col: 200, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: openpty writes two descriptors it opened into master and slave.
    let rc = unsafe { libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), std::ptr::null(), &ws) };
    assert_eq!(rc, 0, "openpty failed");
    // SAFETY: both descriptors were just opened by openpty and are owned here only.
    let (master, slave) = unsafe { (File::from_raw_fd(master), File::from_raw_fd(slave)) };
    let mut child = Command::new(CLI)
        .args(args)
        .env("HOME", home)
        .env("TERM", "xterm")
        .stdin(Stdio::from(slave.try_clone().expect("dup")))
        .stdout(Stdio::from(slave.try_clone().expect("dup")))
        .stderr(Stdio::from(slave))
        .spawn()
        .expect("run rustis-cli");
    let out = Arc::new(Mutex::new(Vec::new()));
    let mut rd = master.try_clone().expect("dup master");
    let sink = out.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        // Ends with EIO once the child has exited and the slave side is closed.
        while let Ok(n) = rd.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().expect("lock").extend_from_slice(&buf[..n]);
        }
    });
    let mut w = master;
    std::thread::sleep(Duration::from_millis(300));
    for k in keys {
        w.write_all(k.as_bytes()).expect("type");
        w.write_all(b"\r").expect("enter");
        std::thread::sleep(Duration::from_millis(300));
    }
    let start = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("rustis-cli REPL did not exit; output: {:?}", String::from_utf8_lossy(&out.lock().expect("lock")));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(100));
    let text = String::from_utf8_lossy(&out.lock().expect("lock")).into_owned();
    text
}

#[test]
fn repl_prompt_editing_and_history() {
    let server = common::start_rustis(&[]);
    let p = server.port.to_string();
    let home = common::temp_dir("cli-home");
    let out = repl_session(
        &["-p", &p],
        &home,
        &["set a 1", "get a", "select 2", "get a", "\x1b[A", "\"bad", "get a\x1b[D\x1b[Db", "quit"],
    );
    let prompt = format!("127.0.0.1:{p}> ");
    let prompt2 = format!("127.0.0.1:{p}[2]> ");
    assert!(out.contains(&prompt) && out.contains(&prompt2), "{out:?}");
    assert!(out.contains("OK\r\n\"1\"\r\n") || out.contains("\r\n\"1\"\r\n"), "{out:?}");
    // `get a` in db 2, then Up + Enter runs it again.
    assert_eq!(out.matches("(nil)\r\n").count(), 2, "{out:?}");
    assert!(out.contains("Invalid argument(s)"), "{out:?}");
    // Left arrow twice then `b`: `getb a` is an unknown command.
    assert!(out.contains("(error) ERR unknown command 'getb'"), "{out:?}");
    let hist = std::fs::read_to_string(home.join(".rustiscli_history")).expect("history file");
    for line in ["set a 1", "select 2", "getb a"] {
        assert!(hist.lines().any(|l| l == line), "{line:?} not in history {hist:?}");
    }
    // Unreachable server: the message, then the `not connected> ` prompt.
    let port = common::free_port().to_string();
    let out = repl_session(&["-p", &port], &home, &["ping", "quit"]);
    assert!(out.contains("Could not connect to Redis at 127.0.0.1:"), "{out:?}");
    assert!(out.contains("not connected> "), "{out:?}");
    let _ = std::fs::remove_dir_all(&home);
}

#[test]
fn msgpack_auth_and_db_like_resp3() {
    let mport = common::free_port();
    let ms = mport.to_string();
    let server = common::start_rustis(&["--msgpack-port", &ms]);
    let rp = server.port.to_string();
    let mut c = common::RawConn::connect(server.port).expect("connect");
    c.cmd_str(&["SELECT", "2"]);
    c.cmd_str(&["SET", "x", "in db 2"]);
    c.cmd_str(&["CONFIG", "SET", "requirepass", "sekret"]);
    let cases: &[&[&str]] = &[
        &["--no-raw", "GET", "x"],
        &["-a", "sekret", "-n", "2", "--no-raw", "GET", "x"],
        &["-a", "wrong", "--no-raw", "GET", "x"],
        &["--user", "default", "-a", "sekret", "-n", "2", "--raw", "DBSIZE"],
    ];
    for args in cases {
        let mut resp = vec!["-p", rp.as_str(), "-3"];
        resp.extend_from_slice(args);
        let mut mp = vec!["-p", ms.as_str(), "--protocol", "msgpack"];
        mp.extend_from_slice(args);
        let (a, b) = (run(CLI, &resp, None), run(CLI, &mp, None));
        assert_eq!(String::from_utf8_lossy(&b.stdout), String::from_utf8_lossy(&a.stdout), "{args:?}");
        // Unauthenticated, RESP3 also reports its refused HELLO 3 (msgpack has none).
        let err = |o: &Out| {
            let text = String::from_utf8_lossy(&o.stderr).into_owned();
            text.lines().filter(|l| !l.starts_with("HELLO 3 failed: NOAUTH")).collect::<Vec<_>>().join("\n")
        };
        assert_eq!(err(&b), err(&a), "{args:?}");
        assert_eq!(a.code, b.code, "{args:?}");
    }
    // A RESP port does not answer the MessagePack handshake: a clear error, status 1.
    let out = run(CLI, &["-p", rp.as_str(), "--protocol", "msgpack", "PING"], None);
    assert_eq!(out.code, Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("MessagePack handshake"), "{:?}", out.stderr);
}
