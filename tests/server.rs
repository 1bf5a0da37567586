//! Server-group commands with nondeterministic replies that the differential scripts can
//! only type-check: SLOWLOG entries (ids, timestamps, durations, client address/name,
//! argument trimming, max length).
//!
//! ```text
//! cargo test --test server
//! RUSTIS_TEST_TARGET=redis cargo test --test server   # the same against redis-server
//! ```

mod common;
mod support;

use redis::Value;

fn bulk(v: &Value) -> Vec<u8> {
    match v {
        Value::BulkString(b) => b.clone(),
        Value::SimpleString(s) => s.clone().into_bytes(),
        other => panic!("not a string: {other:?}"),
    }
}

fn int(v: &Value) -> i64 {
    match v {
        Value::Int(i) => *i,
        other => panic!("not an integer: {other:?}"),
    }
}

#[test]
fn slowlog_records_trimmed_commands_newest_first() {
    let server = support::start(&[]);
    let mut con = support::client(server.port);
    let _: () = redis::cmd("CONFIG").arg("SET").arg("slowlog-log-slower-than").arg(0).query(&mut con).expect("CONFIG");
    let _: () = redis::cmd("CONFIG").arg("SET").arg("slowlog-max-len").arg(5).query(&mut con).expect("CONFIG");
    let _: () = redis::cmd("CLIENT").arg("SETNAME").arg("slowpoke").query(&mut con).expect("SETNAME");
    let _: () = redis::cmd("SLOWLOG").arg("RESET").query(&mut con).expect("RESET");
    let long = "x".repeat(200);
    let _: () = redis::cmd("SET").arg("k").arg(&long).query(&mut con).expect("SET");
    let mut many = redis::cmd("SADD");
    many.arg("s");
    for i in 0..40 {
        many.arg(i);
    }
    let _: i64 = many.query(&mut con).expect("SADD");
    let before = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() as i64;

    let entries: Vec<Value> = redis::cmd("SLOWLOG").arg("GET").arg(-1).query(&mut con).expect("GET");
    // RESET itself, SET, SADD (newest first).
    assert_eq!(entries.len(), 3, "{entries:?}");
    let fields = |e: &Value| match e {
        Value::Array(f) => f.clone(),
        other => panic!("entry: {other:?}"),
    };
    let sadd = fields(&entries[0]);
    let set = fields(&entries[1]);
    let reset = fields(&entries[2]);
    assert_eq!(sadd.len(), 6);
    assert!(int(&sadd[0]) > int(&set[0]) && int(&set[0]) > int(&reset[0]), "ids grow");
    assert!((int(&set[1]) - before).abs() < 60, "timestamp is unix seconds");
    assert!(int(&set[2]) >= 0, "duration in microseconds");
    let args = |f: &Vec<Value>| match &f[3] {
        Value::Array(a) => a.iter().map(bulk).collect::<Vec<_>>(),
        other => panic!("args: {other:?}"),
    };
    let set_args = args(&set);
    assert_eq!(set_args[0], b"SET");
    assert_eq!(set_args[2], format!("{}... (72 more bytes)", "x".repeat(128)).into_bytes());
    let sadd_args = args(&sadd);
    assert_eq!(sadd_args.len(), 32);
    assert_eq!(sadd_args[31], b"... (11 more arguments)");
    assert!(String::from_utf8(bulk(&set[4])).expect("addr").starts_with("127.0.0.1:"));
    assert_eq!(bulk(&set[5]), b"slowpoke");

    let two: Vec<Value> = redis::cmd("SLOWLOG").arg("GET").arg(2).query(&mut con).expect("GET 2");
    assert_eq!(two.len(), 2);
    // max-len 5 keeps the newest five.
    for _ in 0..10 {
        let _: () = redis::cmd("PING").query(&mut con).expect("PING");
    }
    let len: i64 = redis::cmd("SLOWLOG").arg("LEN").query(&mut con).expect("LEN");
    assert_eq!(len, 5);
    let _: () = redis::cmd("CONFIG").arg("SET").arg("slowlog-log-slower-than").arg(-1).query(&mut con).expect("CONFIG");
    let _: () = redis::cmd("SLOWLOG").arg("RESET").query(&mut con).expect("RESET");
    let _: () = redis::cmd("PING").query(&mut con).expect("PING");
    let len: i64 = redis::cmd("SLOWLOG").arg("LEN").query(&mut con).expect("LEN");
    assert_eq!(len, 0, "-1 disables the slow log");
}

#[test]
fn monitor_streams_other_clients_commands() {
    let server = support::start(&[]);
    let mut mon = common::RawConn::connect(server.port).expect("connect");
    assert_eq!(mon.cmd_str(&["MONITOR"]), b"+OK\r\n");
    let mut con = support::client(server.port);
    let _: () = redis::cmd("SET").arg("a b").arg(&b"x\"y\n\x01"[..]).query(&mut con).expect("SET");
    let _: () = redis::cmd("CONFIG").arg("GET").arg("port").query(&mut con).expect("CONFIG (admin: not shown)");
    let _: () = redis::cmd("SELECT").arg(3).query(&mut con).expect("SELECT");
    let _: i64 = redis::cmd("INCR").arg("5").query(&mut con).expect("INCR");
    let lines: Vec<String> = (0..3).map(|_| String::from_utf8(mon.read_reply()).expect("utf8")).collect();
    for l in &lines {
        assert!(l.starts_with('+') && l.ends_with("\r\n"), "{l:?}");
        let ts: f64 = l[1..].split(' ').next().and_then(|t| t.parse().ok()).expect("timestamp");
        assert!(ts > 1.0e9, "{l:?}");
    }
    let body = |l: &str| l.split_once(" [").map(|(_, b)| b.trim_end().to_string()).expect("body");
    let addr = body(&lines[0]).split(']').next().expect("addr").split(' ').nth(1).expect("addr").to_string();
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    assert_eq!(body(&lines[0]), format!("0 {addr}] \"SET\" \"a b\" \"x\\\"y\\n\\x01\""));
    assert_eq!(body(&lines[1]), format!("3 {addr}] \"SELECT\" \"3\""));
    assert_eq!(body(&lines[2]), format!("3 {addr}] \"INCR\" \"5\""));
    // RESET leaves monitor mode: the next command is answered, not streamed.
    assert_eq!(mon.cmd_str(&["RESET"]), b"+RESET\r\n");
    let _: () = redis::cmd("SET").arg("z").arg(1).query(&mut con).expect("SET");
    assert_eq!(mon.cmd_str(&["PING"]), b"+PONG\r\n");
}

#[test]
fn config_rewrite_keeps_the_file_and_persists_changes() {
    if support::against_redis() {
        // Redis writes more lines of its own; the contract checked here is Rustis's.
        return;
    }
    let dir = common::temp_dir("rewrite");
    let path = dir.join("rustis.conf");
    std::fs::write(&path, "# my comment\nhash-max-ziplist-entries 64\n\n# another\nhz 10\nhz 11\n")
        .expect("write conf");
    let p = path.display().to_string();
    let server = common::start_rustis_conf(&p, &[]);
    let mut con = support::client(server.port);
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("hz")
        .arg(25)
        .arg("slowlog-max-len")
        .arg(7)
        .arg("hash-max-listpack-entries")
        .arg(100)
        .query(&mut con)
        .expect("CONFIG SET");
    let _: () = redis::cmd("CONFIG").arg("REWRITE").query(&mut con).expect("CONFIG REWRITE");
    let text = std::fs::read_to_string(&path).expect("read conf");
    // `dir` is set by the test harness on the command line: not a default, so it is kept.
    let expected = format!(
        "# my comment\nhash-max-listpack-entries 100\n\n# another\nhz 25\n\n# Generated by CONFIG REWRITE\nslowlog-max-len 7\ndir {}\n",
        server.dir().display()
    );
    assert_eq!(text, expected);
    drop(con);
    drop(server);
    // The rewritten file starts a server with the new values.
    let server = common::start_rustis_conf(&p, &[]);
    let mut con = support::client(server.port);
    let v: Vec<String> = redis::cmd("CONFIG").arg("GET").arg("slowlog-max-len").query(&mut con).expect("GET");
    assert_eq!(v[1], "7");
    let v: Vec<String> = redis::cmd("CONFIG").arg("GET").arg("hz").query(&mut con).expect("GET");
    assert_eq!(v[1], "25");
}

#[test]
fn config_rewrite_without_a_file_is_an_error() {
    let server = support::start(&[]);
    let mut con = support::client(server.port);
    let e = support::err_line::<()>(redis::cmd("CONFIG").arg("REWRITE"), &mut con);
    assert_eq!(e, "ERR The server is running without a config file");
}

fn status(v: &Value) -> String {
    match v {
        Value::SimpleString(s) => s.clone(),
        Value::Okay => "OK".into(),
        other => panic!("not a status: {other:?}"),
    }
}

#[test]
fn debug_is_off_by_default_like_redis_7() {
    let server = support::start(&[]);
    let mut raw = server.conn();
    let r = raw.cmd_str(&["DEBUG", "SLEEP", "0"]);
    assert_eq!(
        common::render(&r),
        common::render(b"-ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.\r\n")
    );
}

#[test]
fn debug_object_active_expire_and_reload() {
    let dir = common::temp_dir("debug");
    let server =
        support::start(&["--enable-debug-command", "yes", "--dir", dir.to_str().expect("utf-8"), "--save", ""]);
    let mut con = support::client(server.port);
    let _: () = redis::cmd("SET").arg("s").arg("hello").query(&mut con).expect("SET");
    let _: () = redis::cmd("RPUSH").arg("l").arg("a").arg("b").arg("c").query(&mut con).expect("RPUSH");
    let v: Value = redis::cmd("DEBUG").arg("OBJECT").arg("s").query(&mut con).expect("DEBUG OBJECT");
    let s = status(&v);
    assert!(s.contains(" encoding:embstr serializedlength:6 "), "{s}");
    let v: Value = redis::cmd("DEBUG").arg("OBJECT").arg("l").query(&mut con).expect("DEBUG OBJECT");
    let s = status(&v);
    assert!(
        s.contains("encoding:quicklist serializedlength:19 ")
            && s.contains(" ql_nodes:1 ql_avg_node:3.00 ql_listpack_max:-2 ql_compressed:0 ql_uncompressed_size:16"),
        "{s}"
    );
    let e = redis::cmd("DEBUG").arg("OBJECT").arg("missing").query::<Value>(&mut con).unwrap_err();
    assert!(e.to_string().contains("no such key"), "{e}");
    // Active expiry off: an expired key stays in the table (DBSIZE counts it) until on again.
    let _: () = redis::cmd("DEBUG").arg("SET-ACTIVE-EXPIRE").arg(0).query(&mut con).expect("off");
    let _: () = redis::cmd("SET").arg("t").arg("x").arg("PX").arg(30).query(&mut con).expect("SET PX");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let n: i64 = redis::cmd("DBSIZE").query(&mut con).expect("DBSIZE");
    assert_eq!(n, 3, "the expired key was removed although active expiry is off");
    let _: () = redis::cmd("DEBUG").arg("SET-ACTIVE-EXPIRE").arg(1).query(&mut con).expect("on");
    let gone = support::wait_until(std::time::Duration::from_secs(5), std::time::Duration::from_millis(50), || {
        redis::cmd("DBSIZE").query::<i64>(&mut con).expect("DBSIZE") == 2
    });
    assert!(gone, "active expiry did not resume");
    // RELOAD: save, empty, load back.
    let _: () = redis::cmd("DEBUG").arg("RELOAD").query(&mut con).expect("RELOAD");
    let v: Vec<String> = redis::cmd("LRANGE").arg("l").arg(0).arg(-1).query(&mut con).expect("LRANGE");
    assert_eq!(v, ["a", "b", "c"]);
    let v: String = redis::cmd("GET").arg("s").query(&mut con).expect("GET");
    assert_eq!(v, "hello");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn memory_usage_doctor_purge_help() {
    let server = support::start(&[]);
    let mut raw = server.conn();
    raw.cmd_str(&["SET", "k", "hello"]);
    // A small embstr: 64 bytes in Redis 7.0 and in Rustis (one 64-byte item).
    assert_eq!(common::render(&raw.cmd_str(&["MEMORY", "USAGE", "k"])), common::render(b":64\r\n"));
    assert_eq!(common::render(&raw.cmd_str(&["MEMORY", "USAGE", "nokey"])), common::render(b"$-1\r\n"));
    assert_eq!(
        common::render(&raw.cmd_str(&["MEMORY", "USAGE", "k", "SAMPLES", "-1"])),
        common::render(b"-ERR syntax error\r\n")
    );
    assert_eq!(
        common::render(&raw.cmd_str(&["MEMORY", "USAGE", "k", "SAMPLES", "x"])),
        common::render(b"-ERR value is not an integer or out of range\r\n")
    );
    let doc = raw.cmd_str(&["MEMORY", "DOCTOR"]);
    assert!(doc.starts_with(b"$268\r\nHi Sam, this instance is empty"), "{}", common::render(&doc));
    assert_eq!(common::render(&raw.cmd_str(&["MEMORY", "PURGE"])), common::render(b"+OK\r\n"));
    let stats = raw.cmd_str(&["MEMORY", "STATS"]);
    assert!(common::render(&stats).contains("keys.count"));
}

#[test]
fn latency_monitor_records_slow_commands() {
    let server = support::start(&["--enable-debug-command", "yes"]);
    let mut raw = server.conn();
    let disabled = raw.cmd_str(&["LATENCY", "DOCTOR"]);
    assert!(common::render(&disabled).contains("Latency monitoring is disabled"), "{}", common::render(&disabled));
    raw.cmd_str(&["CONFIG", "SET", "latency-monitor-threshold", "10"]);
    let calm = raw.cmd_str(&["LATENCY", "DOCTOR"]);
    assert!(common::render(&calm).contains("no latency spike was observed"), "{}", common::render(&calm));
    assert_eq!(common::render(&raw.cmd_str(&["LATENCY", "LATEST"])), common::render(b"*0\r\n"));
    raw.cmd_str(&["DEBUG", "SLEEP", "0.05"]);
    let latest = String::from_utf8_lossy(&raw.cmd_str(&["LATENCY", "LATEST"])).to_string();
    assert!(latest.starts_with("*1\r\n*4\r\n$7\r\ncommand\r\n:"), "{latest}");
    let hist = String::from_utf8_lossy(&raw.cmd_str(&["LATENCY", "HISTORY", "command"])).to_string();
    assert!(hist.starts_with("*1\r\n*2\r\n:"), "{hist}");
    assert_eq!(common::render(&raw.cmd_str(&["LATENCY", "HISTORY", "nothing"])), common::render(b"*0\r\n"));
    let spikes = common::render(&raw.cmd_str(&["LATENCY", "DOCTOR"]));
    assert!(
        spikes.contains("I have observed latency spikes") && spikes.contains("command: 1 latency spikes"),
        "{spikes}"
    );
    raw.cmd_str(&["SET", "a", "1"]);
    let h = String::from_utf8_lossy(&raw.cmd_str(&["LATENCY", "HISTOGRAM", "set"])).to_string();
    assert!(h.starts_with("*2\r\n$3\r\nset\r\n*4\r\n$5\r\ncalls\r\n:1\r\n$14\r\nhistogram_usec\r\n"), "{h}");
    assert_eq!(common::render(&raw.cmd_str(&["LATENCY", "RESET"])), common::render(b":1\r\n"));
    assert_eq!(common::render(&raw.cmd_str(&["LATENCY", "LATEST"])), common::render(b"*0\r\n"));
}

/// INFO latencystats (Redis 7.0): one `latency_percentiles_usec_<cmd>` line per command
/// called since CONFIG RESETSTAT (subcommands as `container|sub`), with the percentiles
/// of `latency-tracking-info-percentiles` in its order and format; `latency-tracking no`
/// stops recording; bad percentiles are refused with Redis's texts.
#[test]
fn info_latencystats_follows_the_percentile_config() {
    let s = support::start(&[]);
    let mut con = support::client(s.port);
    let section = |con: &mut redis::Connection| -> Vec<(String, Vec<(String, f64)>)> {
        let info: String = redis::cmd("INFO").arg("latencystats").query(con).unwrap();
        let mut lines: Vec<(String, Vec<(String, f64)>)> = info
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| {
                let (name, vals) = l.split_once(':').expect("name:values");
                let name = name.strip_prefix("latency_percentiles_usec_").expect("field prefix").to_string();
                let vals = vals
                    .split(',')
                    .filter(|v| !v.is_empty())
                    .map(|kv| {
                        let (k, v) = kv.split_once('=').expect("pN=value");
                        let (_, frac) = v.split_once('.').expect("a decimal value");
                        assert_eq!(frac.len(), 3, "three decimals in {kv}");
                        (k.to_string(), v.parse::<f64>().expect("a number"))
                    })
                    .collect();
                (name, vals)
            })
            .collect();
        lines.sort_by(|a, b| a.0.cmp(&b.0));
        lines
    };
    let _: () = redis::cmd("CONFIG").arg("RESETSTAT").query(&mut con).unwrap();
    let _: () = redis::cmd("SET").arg("a").arg("b").query(&mut con).unwrap();
    let _: Option<String> = redis::cmd("GET").arg("a").query(&mut con).unwrap();
    let _: i64 = redis::cmd("CLIENT").arg("ID").query(&mut con).unwrap();
    let got = section(&mut con);
    let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["client|id", "config|resetstat", "get", "set"]);
    for (name, vals) in &got {
        let keys: Vec<&str> = vals.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["p50", "p99", "p99.9"], "{name}");
        assert!(vals.windows(2).all(|w| w[0].1 <= w[1].1), "percentiles not ordered for {name}: {vals:?}");
        assert!(vals[0].1 > 0.0, "{name}: {vals:?}");
    }
    // Order and format follow the config; an empty list leaves the lines bare.
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("latency-tracking-info-percentiles")
        .arg("99.90 50.0 0")
        .query(&mut con)
        .unwrap();
    let v: Vec<String> =
        redis::cmd("CONFIG").arg("GET").arg("latency-tracking-info-percentiles").query(&mut con).unwrap();
    assert_eq!(v, ["latency-tracking-info-percentiles", "99.9 50 0"]);
    let got = section(&mut con);
    let set = &got.iter().find(|(n, _)| n == "set").expect("set line").1;
    assert_eq!(set.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), ["p99.9", "p50", "p0"]);
    let _: () =
        redis::cmd("CONFIG").arg("SET").arg("latency-tracking-info-percentiles").arg("").query(&mut con).unwrap();
    assert!(section(&mut con).iter().all(|(_, v)| v.is_empty()));
    for (arg, why) in [
        ("50 101", "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"),
        ("abc", "Invalid latency-tracking-info-percentiles parameters"),
    ] {
        let e = support::err_line::<()>(
            redis::cmd("CONFIG").arg("SET").arg("latency-tracking-info-percentiles").arg(arg),
            &mut con,
        );
        assert_eq!(
            e,
            format!("ERR CONFIG SET failed (possibly related to argument 'latency-tracking-info-percentiles') - {why}")
        );
    }
    // latency-tracking no: nothing is recorded.
    let _: () = redis::cmd("CONFIG").arg("SET").arg("latency-tracking").arg("no").query(&mut con).unwrap();
    let _: () = redis::cmd("CONFIG").arg("RESETSTAT").query(&mut con).unwrap();
    let _: Option<String> = redis::cmd("GET").arg("a").query(&mut con).unwrap();
    assert!(section(&mut con).is_empty());
    // INFO default leaves the section out; INFO all has it after errorstats.
    let info: String = redis::cmd("INFO").query(&mut con).unwrap();
    assert!(!info.contains("# Latencystats"));
    let info: String = redis::cmd("INFO").arg("all").query(&mut con).unwrap();
    let heads: Vec<&str> = info.lines().filter(|l| l.starts_with("# ")).collect();
    let at = heads.iter().position(|h| *h == "# Latencystats").expect("latencystats in INFO all");
    assert_eq!(heads[at - 1], "# Errorstats");
    assert_eq!(heads[at + 1], "# Cluster");
}

/// enable-protected-configs (Redis 7.0, default no): CONFIG SET of `dir` and
/// `dbfilename` is refused unless it is `yes`, or `local` for a loopback client; the
/// option itself is immutable.
#[test]
fn protected_configs_need_enable_protected_configs() {
    for (setting, allowed) in [(None, false), (Some("yes"), true), (Some("local"), true)] {
        let dir = std::env::temp_dir();
        let dir = dir.to_str().expect("utf-8 temp dir");
        let s = match setting {
            Some(v) => support::start(&["--enable-protected-configs", v]),
            None => support::start(&[]),
        };
        let mut con = support::client(s.port);
        let v: Vec<String> = redis::cmd("CONFIG").arg("GET").arg("enable-protected-configs").query(&mut con).unwrap();
        assert_eq!(v, ["enable-protected-configs", setting.unwrap_or("no")]);
        for (name, value) in [("dir", dir), ("dbfilename", "other.rdb")] {
            let r = redis::cmd("CONFIG").arg("SET").arg(name).arg(value).query::<()>(&mut con);
            match (allowed, r) {
                (true, Ok(())) => {}
                (false, Err(e)) => assert_eq!(
                    support::error_text(&e),
                    format!(
                        "ERR CONFIG SET failed (possibly related to argument '{name}') - can't set protected config"
                    )
                ),
                (a, r) => panic!("{setting:?} {name}: allowed={a} but got {r:?}"),
            }
        }
        let e = support::err_line::<()>(
            redis::cmd("CONFIG").arg("SET").arg("enable-protected-configs").arg("yes"),
            &mut con,
        );
        assert_eq!(
            e,
            "ERR CONFIG SET failed (possibly related to argument 'enable-protected-configs') - can't set immutable config"
        );
    }
}

/// rename-command (config file or command line): the old name is an unknown command,
/// the new one runs it (subcommands included, errors name the command as typed), `""`
/// removes a command, and COMMAND INFO finds the new name.
#[test]
fn rename_command_hides_and_renames() {
    let s = support::start(&["--rename-command", "CONFIG", "MYCFG", "--rename-command", "flushall", ""]);
    let mut c = s.conn();
    let cases: &[(&[&str], &str)] = &[
        (
            &["CONFIG", "GET", "maxclients"],
            "-ERR unknown command 'CONFIG', with args beginning with: 'GET' 'maxclients' \r\n",
        ),
        (&["mycfg", "GET", "maxclients"], "*2\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n"),
        (&["MyCfg", "foo"], "-ERR unknown subcommand 'foo'. Try MYCFG HELP.\r\n"),
        (&["FLUSHALL"], "-ERR unknown command 'FLUSHALL', with args beginning with: \r\n"),
        (&["FLUSHDB"], "+OK\r\n"),
    ];
    for (args, want) in cases {
        assert_eq!(common::render(&c.cmd_str(args)), common::render(want.as_bytes()), "{args:?}");
    }
    let info = c.cmd_str(&["COMMAND", "INFO", "mycfg"]);
    assert!(info.starts_with(b"*1\r\n*") && info.windows(6).any(|w| w == b"config"), "{}", common::render(&info));
}
