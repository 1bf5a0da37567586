//! Stream consumer groups: concurrent producers and XREADGROUP consumers (each entry delivered
//! exactly once, nothing left pending), the pending entries list (XPENDING, XCLAIM,
//! XAUTOCLAIM, XACK, NOACK, consumer history), XREADGROUP blocking (woken by XADD, served
//! one waiter per entry, errors when the group or key goes away, timeouts) and the shape of
//! XINFO STREAM ... FULL.
//!
//! Every expectation was checked against redis-server 7.0.15:
//! `RUSTIS_TEST_TARGET=redis cargo test --test stream` (plain `cargo test --test stream`
//! runs against rustis-server). Every loop is bounded by count and time, and every test body
//! runs under `with_deadline` so a hang is a failure.

mod common;
mod support;

use common::{encode_command, RawConn};
use redis::Value;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use support::{client, start, wait_until, with_deadline};

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// Runs `args` and returns the reply (panics on an error reply).
fn run(con: &mut redis::Connection, args: &[&str]) -> Value {
    let mut c = redis::cmd(args[0]);
    for a in &args[1..] {
        c.arg(*a);
    }
    c.query::<Value>(con).unwrap_or_else(|e| panic!("{args:?} failed: {}", support::error_text(&e)))
}

/// The text of a string reply.
fn text(v: &Value) -> String {
    match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        Value::Okay => "OK".to_string(),
        Value::VerbatimString { text, .. } => text.clone(),
        other => panic!("expected a string, got {other:?}"),
    }
}

/// The elements of an array reply.
fn items(v: &Value) -> &[Value] {
    match v {
        Value::Array(a) | Value::Set(a) => a,
        other => panic!("expected an array, got {other:?}"),
    }
}

/// An integer reply.
fn int(v: &Value) -> i64 {
    match v {
        Value::Int(n) => *n,
        other => panic!("expected an integer, got {other:?}"),
    }
}

/// The field names of a `name value name value ...` reply (a flat array or a RESP3 map).
fn field_names(v: &Value) -> Vec<String> {
    match v {
        Value::Map(m) => m.iter().map(|(k, _)| text(k)).collect(),
        _ => items(v).chunks(2).map(|kv| text(&kv[0])).collect(),
    }
}

/// The value of field `name` in a `name value name value ...` reply.
fn field<'a>(v: &'a Value, name: &str) -> &'a Value {
    let found = match v {
        Value::Map(m) => m.iter().find(|(k, _)| text(k) == name).map(|(_, val)| val),
        _ => items(v).chunks(2).find(|kv| text(&kv[0]) == name).map(|kv| &kv[1]),
    };
    found.unwrap_or_else(|| panic!("no field {name:?} in {v:?}"))
}

/// One stream entry: its id and its field/value list (`None` for an entry deleted while
/// it was pending, which a history read reports as `[id, nil]`).
type Entry = (String, Option<Vec<String>>);

/// Parses an array of `[id, [field, value, ...]]` entries.
fn entries(v: &Value) -> Vec<Entry> {
    items(v)
        .iter()
        .map(|e| {
            let e = items(e);
            assert_eq!(e.len(), 2, "entry must be [id, fields]: {e:?}");
            let fields = match &e[1] {
                Value::Nil => None,
                f => Some(items(f).iter().map(text).collect()),
            };
            (text(&e[0]), fields)
        })
        .collect()
}

/// Parses an XREAD/XREADGROUP reply: `None` for the nil reply, else `(key, entries)` pairs.
fn read_reply(v: &Value) -> Option<Vec<(String, Vec<Entry>)>> {
    match v {
        Value::Nil => None,
        Value::Map(m) => Some(m.iter().map(|(k, e)| (text(k), entries(e))).collect()),
        _ => Some(
            items(v)
                .iter()
                .map(|ke| {
                    let ke = items(ke);
                    assert_eq!(ke.len(), 2, "[key, entries] expected: {ke:?}");
                    (text(&ke[0]), entries(&ke[1]))
                })
                .collect(),
        ),
    }
}

/// The entries of a reply that must contain exactly stream `key`.
fn only_stream(v: &Value, key: &str) -> Vec<Entry> {
    let r = read_reply(v).unwrap_or_else(|| panic!("expected entries from {key}, got a nil reply"));
    assert_eq!(r.len(), 1, "expected one stream in {v:?}");
    assert_eq!(r[0].0, key);
    r.into_iter().next().unwrap().1
}

fn ids(es: &[Entry]) -> Vec<String> {
    es.iter().map(|e| e.0.clone()).collect()
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// `ms-seq` as a pair of numbers (for ordering ids).
fn parse_id(id: &str) -> (u64, u64) {
    let (ms, seq) = id.split_once('-').unwrap_or_else(|| panic!("bad stream id {id:?}"));
    (ms.parse().unwrap(), seq.parse().unwrap())
}

/// One row of the extended XPENDING form: (id, consumer, idle ms, delivery count).
fn pending_rows(v: &Value) -> Vec<(String, String, i64, i64)> {
    items(v)
        .iter()
        .map(|r| {
            let r = items(r);
            assert_eq!(r.len(), 4, "XPENDING row must have 4 elements: {r:?}");
            (text(&r[0]), text(&r[1]), int(&r[2]), int(&r[3]))
        })
        .collect()
}

/// `(id, owner, delivery count)` of every pending entry of group `g` (idle time dropped,
/// after checking it is sane).
fn pel(con: &mut redis::Connection, key: &str, group: &str) -> Vec<(String, String, i64)> {
    let rows = pending_rows(&run(con, &["XPENDING", key, group, "-", "+", "1000"]));
    rows.into_iter()
        .map(|(id, owner, idle, count)| {
            assert!((0..600_000).contains(&idle), "implausible idle time {idle} for {id}");
            (id, owner, count)
        })
        .collect()
}

/// The summary form of XPENDING: (count, smallest id, greatest id, [(consumer, count)]).
type PendingSummary = (i64, Option<String>, Option<String>, Vec<(String, String)>);

fn pending_summary(con: &mut redis::Connection, key: &str, group: &str) -> PendingSummary {
    let v = run(con, &["XPENDING", key, group]);
    let v = items(&v);
    assert_eq!(v.len(), 4, "XPENDING summary must have 4 elements: {v:?}");
    let opt = |x: &Value| match x {
        Value::Nil => None,
        x => Some(text(x)),
    };
    let consumers = match &v[3] {
        Value::Nil => Vec::new(),
        c => items(c)
            .iter()
            .map(|p| {
                let p = items(p);
                // Redis sends each consumer's count as a bulk string, not an integer.
                (text(&p[0]), text(&p[1]))
            })
            .collect(),
    };
    (int(&v[0]), opt(&v[1]), opt(&v[2]), consumers)
}

/// `blocked_clients` from INFO clients.
fn blocked_clients(con: &mut redis::Connection) -> i64 {
    let info = text(&run(con, &["INFO", "clients"]));
    info.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .unwrap_or_else(|| panic!("no blocked_clients in {info:?}"))
        .trim()
        .parse()
        .unwrap()
}

/// Waits (at most 10 s) until exactly `n` clients are blocked.
fn wait_blocked(con: &mut redis::Connection, n: i64) {
    let ok = wait_until(Duration::from_secs(10), Duration::from_millis(10), || blocked_clients(con) == n);
    assert!(ok, "expected {n} blocked clients, have {}", blocked_clients(con));
}

/// Sends `args` on a raw connection without reading the reply.
fn send(c: &mut RawConn, args: &[&str]) {
    let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    c.send(&encode_command(&args));
}

/// The exact RESP2 bytes of an XREADGROUP reply carrying one entry of one stream.
fn one_entry_reply(key: &str, id: &str, fields: &[&str]) -> Vec<u8> {
    let bulk = |s: &str| format!("${}\r\n{s}\r\n", s.len());
    let mut out = format!("*1\r\n*2\r\n{}*1\r\n*2\r\n{}*{}\r\n", bulk(key), bulk(id), fields.len());
    for f in fields {
        out.push_str(&bulk(f));
    }
    out.into_bytes()
}

/// Asserts that `c` has received nothing within `wait` (it is still blocked).
fn assert_no_reply(c: &mut RawConn, wait: Duration, what: &str) {
    c.set_timeout(wait).unwrap();
    match c.try_read_reply() {
        Ok(r) => panic!("{what}: expected no reply yet, got {}", common::render(&r)),
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::TimedOut, "{what}: {e}"),
    }
    assert!(c.buffered().is_empty(), "{what}: partial reply {}", common::render(c.buffered()));
    c.set_timeout(common::READ_TIMEOUT).unwrap();
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

#[test]
fn consumer_group_delivers_each_entry_once_under_concurrency() {
    const TOTAL: usize = 4_000;
    const PRODUCERS: usize = 2;
    const CONSUMERS: usize = 4;
    let srv = start(&["--workers", "4"]);
    let port = srv.port;
    with_deadline("producers and XREADGROUP consumers", Duration::from_secs(120), move || {
        let mut con = client(port);
        assert_eq!(run(&mut con, &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]), Value::Okay);

        let delivered = Arc::new(AtomicUsize::new(0));
        let deadline = Instant::now() + Duration::from_secs(60);
        let consumers: Vec<_> = (0..CONSUMERS)
            .map(|n| {
                let delivered = delivered.clone();
                thread::spawn(move || {
                    let name = format!("c{n}");
                    let mut c = client(port);
                    // (id, seq field) of every entry this consumer got.
                    let mut got: Vec<(String, String)> = Vec::new();
                    // Always read at least once, so every consumer is created in the group.
                    loop {
                        let r = run(
                            &mut c,
                            &["XREADGROUP", "GROUP", "g", &name, "COUNT", "7", "BLOCK", "100", "STREAMS", "s", ">"],
                        );
                        if let Some(streams) = read_reply(&r) {
                            assert_eq!(streams.len(), 1);
                            assert_eq!(streams[0].0, "s");
                            let es = &streams[0].1;
                            assert!(!es.is_empty() && es.len() <= 7, "COUNT 7 returned {} entries", es.len());
                            let mut ack = redis::cmd("XACK");
                            ack.arg("s").arg("g");
                            for (id, fields) in es {
                                let fields = fields.as_ref().expect("a new entry cannot be deleted");
                                assert_eq!(fields.len(), 2, "{fields:?}");
                                assert_eq!(fields[0], "seq");
                                got.push((id.clone(), fields[1].clone()));
                                ack.arg(id);
                            }
                            let acked: i64 = ack.query(&mut c).expect("xack");
                            assert_eq!(acked as usize, es.len(), "{name} could not ack all it was given");
                            delivered.fetch_add(es.len(), Ordering::SeqCst);
                        }
                        if delivered.load(Ordering::SeqCst) >= TOTAL || Instant::now() >= deadline {
                            break;
                        }
                    }
                    got
                })
            })
            .collect();
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                thread::spawn(move || {
                    let mut c = client(port);
                    (0..TOTAL / PRODUCERS)
                        .map(|i| {
                            let seq = format!("{p}:{i}");
                            let id = text(&run(&mut c, &["XADD", "s", "*", "seq", &seq]));
                            (id, seq)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();

        let mut produced: HashMap<String, String> = HashMap::new();
        for p in producers {
            for (id, seq) in p.join().expect("producer panicked") {
                assert!(produced.insert(id.clone(), seq).is_none(), "XADD returned id {id} twice");
            }
        }
        assert_eq!(produced.len(), TOTAL);
        let mut seen: HashMap<String, String> = HashMap::new();
        let mut total_got = 0;
        for c in consumers {
            for (id, seq) in c.join().expect("consumer panicked") {
                total_got += 1;
                assert_eq!(produced.get(&id), Some(&seq), "entry {id} delivered with the wrong fields");
                if let Some(prev) = seen.insert(id.clone(), seq) {
                    panic!("entry {id} ({prev}) delivered twice");
                }
            }
        }
        let missing = produced.keys().filter(|id| !seen.contains_key(*id)).count();
        assert_eq!(missing, 0, "{missing} entries never delivered (delivered {total_got})");
        assert_eq!(total_got, TOTAL);
        let produced_ids: HashSet<&String> = produced.keys().collect();
        let seen_ids: HashSet<&String> = seen.keys().collect();
        assert_eq!(produced_ids, seen_ids);

        // Nothing is left pending, and the group has read everything.
        assert_eq!(pending_summary(&mut con, "s", "g"), (0, None, None, vec![]));
        assert_eq!(int(&run(&mut con, &["XLEN", "s"])), TOTAL as i64);
        let groups = run(&mut con, &["XINFO", "GROUPS", "s"]);
        let groups = items(&groups);
        assert_eq!(groups.len(), 1);
        let g = &groups[0];
        assert_eq!(field_names(g), strs(&["name", "consumers", "pending", "last-delivered-id", "entries-read", "lag"]));
        assert_eq!(text(field(g, "name")), "g");
        assert_eq!(int(field(g, "consumers")), CONSUMERS as i64);
        assert_eq!(int(field(g, "pending")), 0);
        assert_eq!(int(field(g, "entries-read")), TOTAL as i64);
        assert_eq!(int(field(g, "lag")), 0);
        let last = produced.keys().max_by_key(|id| parse_id(id)).unwrap();
        assert_eq!(&text(field(g, "last-delivered-id")), last);
        let consumers = run(&mut con, &["XINFO", "CONSUMERS", "s", "g"]);
        for c in items(&consumers) {
            assert_eq!(int(field(c, "pending")), 0, "{c:?}");
        }
    });
}

#[test]
fn unacked_entries_stay_pending_and_can_be_claimed() {
    let srv = start(&[]);
    let port = srv.port;
    with_deadline("XPENDING / XCLAIM / XAUTOCLAIM", Duration::from_secs(60), move || {
        let mut con = client(port);
        let c = &mut con;
        assert_eq!(run(c, &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]), Value::Okay);
        for i in 1..=8 {
            let id = format!("{i}-0");
            assert_eq!(text(&run(c, &["XADD", "s", &id, "n", &i.to_string()])), id);
        }
        let six = strs(&["1-0", "2-0", "3-0", "4-0", "5-0", "6-0"]);

        // A reads six entries and acks none of them.
        let got = only_stream(&run(c, &["XREADGROUP", "GROUP", "g", "A", "COUNT", "6", "STREAMS", "s", ">"]), "s");
        assert_eq!(ids(&got), six);
        assert_eq!(got[0].1, Some(strs(&["n", "1"])));
        assert_eq!(
            pending_summary(c, "s", "g"),
            (6, Some("1-0".into()), Some("6-0".into()), vec![("A".into(), "6".into())])
        );
        let want: Vec<_> = six.iter().map(|id| (id.clone(), "A".to_string(), 1)).collect();
        assert_eq!(pel(c, "s", "g"), want);
        // Filters of the extended form: COUNT, consumer, IDLE.
        assert_eq!(pending_rows(&run(c, &["XPENDING", "s", "g", "-", "+", "2"])).len(), 2);
        assert_eq!(pending_rows(&run(c, &["XPENDING", "s", "g", "-", "+", "100", "A"])).len(), 6);
        assert_eq!(pending_rows(&run(c, &["XPENDING", "s", "g", "-", "+", "100", "B"])), vec![]);
        assert_eq!(pending_rows(&run(c, &["XPENDING", "s", "g", "IDLE", "3600000", "-", "+", "100"])), vec![]);

        // XCLAIM with a min-idle-time the entries have not reached claims nothing.
        assert_eq!(items(&run(c, &["XCLAIM", "s", "g", "B", "3600000", "1-0"])).len(), 0);
        // XCLAIM moves entries to B and increments their delivery count...
        let claimed = entries(&run(c, &["XCLAIM", "s", "g", "B", "0", "1-0", "2-0"]));
        assert_eq!(claimed, vec![("1-0".into(), Some(strs(&["n", "1"]))), ("2-0".into(), Some(strs(&["n", "2"])))]);
        // ...except with JUSTID, which returns only ids and keeps the count.
        let justid = run(c, &["XCLAIM", "s", "g", "B", "0", "3-0", "JUSTID"]);
        assert_eq!(items(&justid).iter().map(text).collect::<Vec<_>>(), strs(&["3-0"]));
        assert_eq!(
            pel(c, "s", "g"),
            vec![
                ("1-0".into(), "B".into(), 2),
                ("2-0".into(), "B".into(), 2),
                ("3-0".into(), "B".into(), 1),
                ("4-0".into(), "A".into(), 1),
                ("5-0".into(), "A".into(), 1),
                ("6-0".into(), "A".into(), 1),
            ]
        );
        assert_eq!(
            pending_summary(c, "s", "g"),
            (6, Some("1-0".into()), Some("6-0".into()), vec![("A".into(), "3".into()), ("B".into(), "3".into())])
        );

        // XAUTOCLAIM pages through the PEL COUNT entries at a time; the last page returns
        // the 0-0 cursor.
        let mut cursor = "0-0".to_string();
        let mut pages: Vec<(Vec<String>, String)> = Vec::new();
        for _ in 0..10 {
            let r = run(c, &["XAUTOCLAIM", "s", "g", "C", "0", &cursor, "COUNT", "2"]);
            let r = items(&r);
            assert_eq!(r.len(), 3, "XAUTOCLAIM replies [cursor, entries, deleted ids]: {r:?}");
            assert_eq!(items(&r[2]).len(), 0, "nothing was deleted: {r:?}");
            cursor = text(&r[0]);
            pages.push((ids(&entries(&r[1])), cursor.clone()));
            if cursor == "0-0" {
                break;
            }
        }
        assert_eq!(
            pages,
            vec![
                (strs(&["1-0", "2-0"]), "3-0".to_string()),
                (strs(&["3-0", "4-0"]), "5-0".to_string()),
                (strs(&["5-0", "6-0"]), "0-0".to_string()),
            ]
        );
        assert_eq!(
            pel(c, "s", "g"),
            vec![
                ("1-0".into(), "C".into(), 3),
                ("2-0".into(), "C".into(), 3),
                ("3-0".into(), "C".into(), 2),
                ("4-0".into(), "C".into(), 2),
                ("5-0".into(), "C".into(), 2),
                ("6-0".into(), "C".into(), 2),
            ]
        );
        // A min-idle-time no entry has reached claims nothing.
        let r = run(c, &["XAUTOCLAIM", "s", "g", "A", "3600000", "0-0", "COUNT", "100"]);
        let r = items(&r);
        assert_eq!((text(&r[0]), items(&r[1]).len(), items(&r[2]).len()), ("0-0".to_string(), 0, 0));
        // XAUTOCLAIM JUSTID returns ids only and does not increment delivery counts.
        let r = run(c, &["XAUTOCLAIM", "s", "g", "B", "0", "0-0", "COUNT", "100", "JUSTID"]);
        let r = items(&r);
        assert_eq!(text(&r[0]), "0-0");
        assert_eq!(items(&r[1]).iter().map(text).collect::<Vec<_>>(), six);
        assert_eq!(items(&r[2]).len(), 0);
        let counts: Vec<i64> =
            pel(c, "s", "g").into_iter().map(|(_, owner, n)| if owner == "B" { n } else { -1 }).collect();
        assert_eq!(counts, vec![3, 3, 2, 2, 2, 2]);

        // A pending entry deleted from the stream is reported in XAUTOCLAIM's third element
        // and dropped from the PEL.
        assert_eq!(int(&run(c, &["XDEL", "s", "4-0"])), 1);
        let r = run(c, &["XAUTOCLAIM", "s", "g", "D", "0", "0-0", "COUNT", "100"]);
        let r = items(&r);
        assert_eq!(r.len(), 3);
        assert_eq!(text(&r[0]), "0-0");
        assert_eq!(ids(&entries(&r[1])), strs(&["1-0", "2-0", "3-0", "5-0", "6-0"]));
        assert_eq!(items(&r[2]).iter().map(text).collect::<Vec<_>>(), strs(&["4-0"]));
        assert_eq!(
            pending_summary(c, "s", "g"),
            (5, Some("1-0".into()), Some("6-0".into()), vec![("D".into(), "5".into())])
        );
        let left: Vec<String> = pel(c, "s", "g").into_iter().map(|(id, _, _)| id).collect();
        assert_eq!(left, strs(&["1-0", "2-0", "3-0", "5-0", "6-0"]));

        // Acking everything empties the PEL; acking again acks nothing.
        assert_eq!(int(&run(c, &["XACK", "s", "g", "1-0", "2-0", "3-0", "4-0", "5-0", "6-0"])), 5);
        assert_eq!(int(&run(c, &["XACK", "s", "g", "1-0"])), 0);
        assert_eq!(pending_summary(c, "s", "g"), (0, None, None, vec![]));
        // Entries 7 and 8 were never delivered.
        let rest = only_stream(&run(c, &["XREADGROUP", "GROUP", "g", "A", "STREAMS", "s", ">"]), "s");
        assert_eq!(ids(&rest), strs(&["7-0", "8-0"]));
    });
}

#[test]
fn blocked_xreadgroup_is_woken_by_xadd() {
    let srv = start(&[]);
    let port = srv.port;
    with_deadline("blocked XREADGROUP woken by XADD", Duration::from_secs(60), move || {
        let mut con = client(port);
        assert_eq!(run(&mut con, &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]), Value::Okay);

        // One waiter: it gets exactly the new entry, which enters its PEL.
        let mut w = RawConn::connect(port).unwrap();
        send(&mut w, &["XREADGROUP", "GROUP", "g", "c1", "BLOCK", "0", "STREAMS", "s", ">"]);
        wait_blocked(&mut con, 1);
        let id = text(&run(&mut con, &["XADD", "s", "*", "k", "v"]));
        assert_reply!(w.read_reply(), one_entry_reply("s", &id, &["k", "v"]));
        wait_blocked(&mut con, 0);
        assert_eq!(pel(&mut con, "s", "g"), vec![(id.clone(), "c1".to_string(), 1)]);
        assert_reply!(w.cmd_str(&["PING"]), b"+PONG\r\n");

        // Two waiters on the same group: one XADD serves exactly one of them (the one that
        // has waited longest); the other stays blocked until the next entry.
        let mut w1 = RawConn::connect(port).unwrap();
        let mut w2 = RawConn::connect(port).unwrap();
        send(&mut w1, &["XREADGROUP", "GROUP", "g", "c2", "BLOCK", "0", "STREAMS", "s", ">"]);
        wait_blocked(&mut con, 1);
        send(&mut w2, &["XREADGROUP", "GROUP", "g", "c3", "BLOCK", "0", "STREAMS", "s", ">"]);
        wait_blocked(&mut con, 2);
        let id2 = text(&run(&mut con, &["XADD", "s", "*", "n", "2"]));
        assert_reply!(w1.read_reply(), one_entry_reply("s", &id2, &["n", "2"]));
        assert_no_reply(&mut w2, Duration::from_millis(300), "second waiter after one XADD");
        assert_eq!(blocked_clients(&mut con), 1);
        assert_eq!(pending_summary(&mut con, "s", "g").0, 2);
        let owners: Vec<String> = pel(&mut con, "s", "g").into_iter().map(|(_, owner, _)| owner).collect();
        assert_eq!(owners, strs(&["c1", "c2"]));
        let id3 = text(&run(&mut con, &["XADD", "s", "*", "n", "3"]));
        assert_reply!(w2.read_reply(), one_entry_reply("s", &id3, &["n", "3"]));
        wait_blocked(&mut con, 0);
        assert_no_reply(&mut w1, Duration::from_millis(100), "first waiter after the second XADD");
        let owners: Vec<String> = pel(&mut con, "s", "g").into_iter().map(|(_, owner, _)| owner).collect();
        assert_eq!(owners, strs(&["c1", "c2", "c3"]));

        // A still-blocked waiter can be released with CLIENT UNBLOCK (a nil reply).
        let mut w3 = RawConn::connect(port).unwrap();
        let w3_id = w3.cmd_str(&["CLIENT", "ID"]);
        let w3_id = String::from_utf8_lossy(&w3_id[1..w3_id.len() - 2]).into_owned();
        send(&mut w3, &["XREADGROUP", "GROUP", "g", "c4", "BLOCK", "0", "STREAMS", "s", ">"]);
        wait_blocked(&mut con, 1);
        assert_eq!(int(&run(&mut con, &["CLIENT", "UNBLOCK", &w3_id])), 1);
        assert_reply!(w3.read_reply(), b"*-1\r\n");
        assert_eq!(blocked_clients(&mut con), 0);
        assert_eq!(pending_summary(&mut con, "s", "g").0, 3);
    });
}

#[test]
fn blocked_xreadgroup_errors_when_group_or_key_goes_away() {
    let srv = start(&[]);
    let port = srv.port;
    with_deadline("blocked XREADGROUP when the group or key goes away", Duration::from_secs(60), move || {
        let mut con = client(port);
        let block = ["XREADGROUP", "GROUP", "g", "c1", "BLOCK", "0", "STREAMS", "s", ">"];

        // XGROUP DESTROY of the group a client is blocked on.
        assert_eq!(run(&mut con, &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]), Value::Okay);
        let mut w = RawConn::connect(port).unwrap();
        send(&mut w, &block);
        wait_blocked(&mut con, 1);
        assert_eq!(int(&run(&mut con, &["XGROUP", "DESTROY", "s", "g"])), 1);
        assert_reply!(w.read_reply(), b"-NOGROUP the consumer group this client was blocked on no longer exists\r\n");
        wait_blocked(&mut con, 0);
        assert_reply!(w.cmd_str(&["PING"]), b"+PONG\r\n");

        // DEL of the stream key.
        assert_eq!(run(&mut con, &["XGROUP", "CREATE", "s", "g", "$"]), Value::Okay);
        send(&mut w, &block);
        wait_blocked(&mut con, 1);
        assert_eq!(int(&run(&mut con, &["DEL", "s"])), 1);
        assert_reply!(w.read_reply(), b"-UNBLOCKED the stream key no longer exists\r\n");
        wait_blocked(&mut con, 0);
        assert_reply!(w.cmd_str(&["PING"]), b"+PONG\r\n");

        // Overwriting the key with another type ends the block the same way.
        assert_eq!(run(&mut con, &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]), Value::Okay);
        send(&mut w, &block);
        wait_blocked(&mut con, 1);
        assert_eq!(run(&mut con, &["SET", "s", "x"]), Value::Okay);
        assert_reply!(w.read_reply(), b"-UNBLOCKED the stream key no longer exists\r\n");
        wait_blocked(&mut con, 0);
        assert_eq!(int(&run(&mut con, &["DEL", "s"])), 1);

        // With a BLOCK timeout and no new entries the reply is a null array.
        assert_eq!(run(&mut con, &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]), Value::Okay);
        let t = Instant::now();
        assert_reply!(w.cmd_str(&["XREADGROUP", "GROUP", "g", "c1", "BLOCK", "200", "STREAMS", "s", ">"]), b"*-1\r\n");
        let took = t.elapsed();
        assert!(took >= Duration::from_millis(150) && took < Duration::from_secs(5), "BLOCK 200 took {took:?}");
        assert_eq!(blocked_clients(&mut con), 0);
        // The timed-out read left nothing behind: the next entry is still undelivered.
        let id = text(&run(&mut con, &["XADD", "s", "*", "k", "v"]));
        let got = only_stream(&run(&mut con, &["XREADGROUP", "GROUP", "g", "c2", "STREAMS", "s", ">"]), "s");
        assert_eq!(ids(&got), vec![id]);
    });
}

#[test]
fn xreadgroup_noack_and_history() {
    let srv = start(&[]);
    let port = srv.port;
    with_deadline("NOACK and consumer history", Duration::from_secs(60), move || {
        let mut con = client(port);
        let c = &mut con;
        assert_eq!(run(c, &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]), Value::Okay);
        for (id, f, v) in [("1-0", "a", "1"), ("2-0", "b", "2"), ("3-0", "c", "3")] {
            run(c, &["XADD", "s", id, f, v]);
        }

        // NOACK delivers without adding to the PEL, but still advances the group.
        let got =
            only_stream(&run(c, &["XREADGROUP", "GROUP", "g", "c1", "COUNT", "2", "NOACK", "STREAMS", "s", ">"]), "s");
        assert_eq!(got, vec![("1-0".into(), Some(strs(&["a", "1"]))), ("2-0".into(), Some(strs(&["b", "2"])))]);
        assert_eq!(pending_summary(c, "s", "g"), (0, None, None, vec![]));
        let groups = run(c, &["XINFO", "GROUPS", "s"]);
        let g = &items(&groups)[0];
        assert_eq!(text(field(g, "last-delivered-id")), "2-0");
        assert_eq!(int(field(g, "entries-read")), 2);
        assert_eq!(int(field(g, "lag")), 1);
        // History (id 0) only holds entries delivered with acknowledgement required.
        assert_eq!(only_stream(&run(c, &["XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s", "0"]), "s"), vec![]);

        let got = only_stream(&run(c, &["XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s", ">"]), "s");
        assert_eq!(ids(&got), strs(&["3-0"]));
        assert_eq!(pel(c, "s", "g"), vec![("3-0".into(), "c1".into(), 1)]);

        // Reading the history returns the consumer's own pending entries (and counts as
        // another delivery).
        let hist = only_stream(&run(c, &["XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s", "0"]), "s");
        assert_eq!(hist, vec![("3-0".into(), Some(strs(&["c", "3"])))]);
        assert_eq!(pel(c, "s", "g"), vec![("3-0".into(), "c1".into(), 2)]);
        // A history read never blocks, even with BLOCK.
        let hist = only_stream(&run(c, &["XREADGROUP", "GROUP", "g", "c1", "BLOCK", "0", "STREAMS", "s", "0"]), "s");
        assert_eq!(ids(&hist), strs(&["3-0"]));
        // Another consumer has no history; ids after the last pending one give nothing.
        assert_eq!(only_stream(&run(c, &["XREADGROUP", "GROUP", "g", "c2", "STREAMS", "s", "0"]), "s"), vec![]);
        assert_eq!(only_stream(&run(c, &["XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s", "3-0"]), "s"), vec![]);

        // COUNT limits the history; an entry deleted while pending shows up as [id, nil].
        run(c, &["XADD", "s", "4-0", "d", "4"]);
        let got = only_stream(&run(c, &["XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s", ">"]), "s");
        assert_eq!(ids(&got), strs(&["4-0"]));
        let hist = only_stream(&run(c, &["XREADGROUP", "GROUP", "g", "c1", "COUNT", "1", "STREAMS", "s", "0"]), "s");
        assert_eq!(ids(&hist), strs(&["3-0"]));
        assert_eq!(int(&run(c, &["XDEL", "s", "3-0"])), 1);
        let hist = only_stream(&run(c, &["XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s", "0"]), "s");
        assert_eq!(hist, vec![("3-0".into(), None), ("4-0".into(), Some(strs(&["d", "4"])))]);

        // After XACK the history is empty.
        assert_eq!(int(&run(c, &["XACK", "s", "g", "3-0", "4-0"])), 2);
        assert_eq!(only_stream(&run(c, &["XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s", "0"]), "s"), vec![]);
        assert_eq!(int(&run(c, &["XACK", "s", "g", "3-0", "4-0"])), 0);
        assert_eq!(pending_summary(c, "s", "g"), (0, None, None, vec![]));
    });
}

#[test]
fn xinfo_stream_full_reports_groups_and_pel() {
    let srv = start(&[]);
    let port = srv.port;
    with_deadline("XINFO STREAM FULL", Duration::from_secs(60), move || {
        let mut con = client(port);
        let c = &mut con;
        for i in 1..=4 {
            run(c, &["XADD", "s", &format!("{i}-0"), "f", &i.to_string()]);
        }
        assert_eq!(run(c, &["XGROUP", "CREATE", "s", "g1", "0"]), Value::Okay);
        assert_eq!(run(c, &["XGROUP", "CREATE", "s", "g2", "$"]), Value::Okay);
        // g1: alice reads 1-0 and 2-0, bob 3-0, alice 4-0; 2-0 is acked; bob claims 1-0.
        only_stream(&run(c, &["XREADGROUP", "GROUP", "g1", "alice", "COUNT", "2", "STREAMS", "s", ">"]), "s");
        only_stream(&run(c, &["XREADGROUP", "GROUP", "g1", "bob", "COUNT", "1", "STREAMS", "s", ">"]), "s");
        only_stream(&run(c, &["XREADGROUP", "GROUP", "g1", "alice", "COUNT", "1", "STREAMS", "s", ">"]), "s");
        assert_eq!(int(&run(c, &["XACK", "s", "g1", "2-0"])), 1);
        assert_eq!(items(&run(c, &["XCLAIM", "s", "g1", "bob", "0", "1-0"])).len(), 1);
        run(c, &["XADD", "s", "5-0", "f", "5"]);

        let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64;
        let plausible_time = |t: i64| (t - now_ms).abs() < 600_000;

        let info = run(c, &["XINFO", "STREAM", "s", "FULL"]);
        assert_eq!(
            field_names(&info),
            strs(&[
                "length",
                "radix-tree-keys",
                "radix-tree-nodes",
                "last-generated-id",
                "max-deleted-entry-id",
                "entries-added",
                "recorded-first-entry-id",
                "entries",
                "groups",
            ])
        );
        assert_eq!(int(field(&info, "length")), 5);
        assert_eq!(text(field(&info, "last-generated-id")), "5-0");
        assert_eq!(text(field(&info, "max-deleted-entry-id")), "0-0");
        assert_eq!(int(field(&info, "entries-added")), 5);
        assert_eq!(text(field(&info, "recorded-first-entry-id")), "1-0");
        let es = entries(field(&info, "entries"));
        assert_eq!(ids(&es), strs(&["1-0", "2-0", "3-0", "4-0", "5-0"]));
        assert_eq!(es[4].1, Some(strs(&["f", "5"])));

        let groups = items(field(&info, "groups"));
        assert_eq!(groups.len(), 2, "{groups:?}");
        let group_fields =
            strs(&["name", "last-delivered-id", "entries-read", "lag", "pel-count", "pending", "consumers"]);
        let consumer_fields = strs(&["name", "seen-time", "pel-count", "pending"]);

        let g1 = &groups[0];
        assert_eq!(field_names(g1), group_fields);
        assert_eq!(text(field(g1, "name")), "g1");
        assert_eq!(text(field(g1, "last-delivered-id")), "4-0");
        assert_eq!(int(field(g1, "entries-read")), 4);
        assert_eq!(int(field(g1, "lag")), 1);
        assert_eq!(int(field(g1, "pel-count")), 3);
        // Group PEL rows: [id, consumer, delivery time, delivery count].
        let gpel: Vec<(String, String, i64)> = items(field(g1, "pending"))
            .iter()
            .map(|r| {
                let r = items(r);
                assert_eq!(r.len(), 4, "{r:?}");
                assert!(plausible_time(int(&r[2])), "delivery time {:?} is not near now ({now_ms})", r[2]);
                (text(&r[0]), text(&r[1]), int(&r[3]))
            })
            .collect();
        assert_eq!(
            gpel,
            vec![("1-0".into(), "bob".into(), 2), ("3-0".into(), "bob".into(), 1), ("4-0".into(), "alice".into(), 1)]
        );
        let consumers = items(field(g1, "consumers"));
        assert_eq!(consumers.len(), 2);
        // Consumer PEL rows: [id, delivery time, delivery count].
        let mut summary = Vec::new();
        for cons in consumers {
            assert_eq!(field_names(cons), consumer_fields);
            assert!(plausible_time(int(field(cons, "seen-time"))), "{cons:?}");
            let rows: Vec<(String, i64)> = items(field(cons, "pending"))
                .iter()
                .map(|r| {
                    let r = items(r);
                    assert_eq!(r.len(), 3, "{r:?}");
                    assert!(plausible_time(int(&r[1])), "{r:?}");
                    (text(&r[0]), int(&r[2]))
                })
                .collect();
            summary.push((text(field(cons, "name")), int(field(cons, "pel-count")), rows));
        }
        assert_eq!(
            summary,
            vec![
                ("alice".to_string(), 1, vec![("4-0".to_string(), 1)]),
                ("bob".to_string(), 2, vec![("1-0".to_string(), 2), ("3-0".to_string(), 1)]),
            ]
        );

        // g2 was created at `$`: Redis 7.0 does not know how many entries it has read, so
        // entries-read is nil, and once the stream grows past it the lag is unknown too.
        let g2 = &groups[1];
        assert_eq!(field_names(g2), group_fields);
        assert_eq!(text(field(g2, "name")), "g2");
        assert_eq!(text(field(g2, "last-delivered-id")), "4-0");
        assert_eq!(field(g2, "entries-read"), &Value::Nil);
        assert_eq!(field(g2, "lag"), &Value::Nil);
        assert_eq!(int(field(g2, "pel-count")), 0);
        assert_eq!(items(field(g2, "pending")).len(), 0);
        assert_eq!(items(field(g2, "consumers")).len(), 0);

        // COUNT limits the entries and the PEL listings (pel-count stays the full count).
        let info = run(c, &["XINFO", "STREAM", "s", "FULL", "COUNT", "2"]);
        assert_eq!(int(field(&info, "length")), 5);
        assert_eq!(ids(&entries(field(&info, "entries"))), strs(&["1-0", "2-0"]));
        let g1 = &items(field(&info, "groups"))[0];
        assert_eq!(int(field(g1, "pel-count")), 3);
        assert_eq!(items(field(g1, "pending")).len(), 2);
    });
}
