//! String commands through the `redis` crate against a real rustis-server process.
//!
//! Every expectation here is Redis 7.0's behaviour (run with `RUSTIS_TEST_TARGET=redis` to
//! check the tests themselves against a real redis-server).

mod common;
mod support;

use redis::{cmd, Value};
use std::time::Duration;
use support::{client, err_line, start};

const NOT_INT: &str = "ERR value is not an integer or out of range";
const OVERFLOW: &str = "ERR increment or decrement would overflow";
const SYNTAX: &str = "ERR syntax error";

fn ttl(con: &mut redis::Connection, key: &str) -> i64 {
    cmd("TTL").arg(key).query(con).unwrap()
}

fn pttl(con: &mut redis::Connection, key: &str) -> i64 {
    cmd("PTTL").arg(key).query(con).unwrap()
}

fn get(con: &mut redis::Connection, key: &str) -> Option<Vec<u8>> {
    cmd("GET").arg(key).query(con).unwrap()
}

#[test]
fn set_options() {
    let s = start(&[]);
    let mut c = client(s.port);

    // Plain SET replies +OK and has no TTL.
    assert_eq!(cmd("SET").arg("k").arg("v").query::<Value>(&mut c).unwrap(), Value::Okay);
    assert_eq!(ttl(&mut c, "k"), -1);

    // EX / PX set a TTL.
    let _: () = cmd("SET").arg("ex").arg("v").arg("EX").arg(100).query(&mut c).unwrap();
    let t = ttl(&mut c, "ex");
    assert!((99..=100).contains(&t), "TTL after EX 100 = {t}");
    let _: () = cmd("SET").arg("px").arg("v").arg("PX").arg(100_000).query(&mut c).unwrap();
    let t = pttl(&mut c, "px");
    assert!((98_000..=100_000).contains(&t), "PTTL after PX 100000 = {t}");

    // EXAT / PXAT: absolute times.
    let now: i64 = {
        let (secs, _micros): (i64, i64) = cmd("TIME").query(&mut c).unwrap();
        secs
    };
    let _: () = cmd("SET").arg("exat").arg("v").arg("EXAT").arg(now + 200).query(&mut c).unwrap();
    let t = ttl(&mut c, "exat");
    assert!((198..=200).contains(&t), "TTL after EXAT now+200 = {t}");
    let _: () = cmd("SET").arg("pxat").arg("v").arg("PXAT").arg((now + 300) * 1000).query(&mut c).unwrap();
    let t = ttl(&mut c, "pxat");
    assert!((298..=300).contains(&t), "TTL after PXAT now+300s = {t}");

    // NX: only if missing.
    assert_eq!(cmd("SET").arg("k").arg("x").arg("NX").query::<Value>(&mut c).unwrap(), Value::Nil);
    assert_eq!(get(&mut c, "k"), Some(b"v".to_vec()));
    assert_eq!(cmd("SET").arg("nx").arg("1").arg("NX").query::<Value>(&mut c).unwrap(), Value::Okay);
    assert_eq!(get(&mut c, "nx"), Some(b"1".to_vec()));

    // XX: only if present.
    assert_eq!(cmd("SET").arg("xx").arg("1").arg("XX").query::<Value>(&mut c).unwrap(), Value::Nil);
    assert_eq!(get(&mut c, "xx"), None);
    assert_eq!(cmd("SET").arg("k").arg("v2").arg("XX").query::<Value>(&mut c).unwrap(), Value::Okay);
    assert_eq!(get(&mut c, "k"), Some(b"v2".to_vec()));

    // KEEPTTL keeps the TTL; a plain SET clears it.
    let _: () = cmd("SET").arg("kt").arg("a").arg("EX").arg(100).query(&mut c).unwrap();
    let _: () = cmd("SET").arg("kt").arg("b").arg("KEEPTTL").query(&mut c).unwrap();
    let t = ttl(&mut c, "kt");
    assert!((99..=100).contains(&t), "TTL after SET KEEPTTL = {t}");
    assert_eq!(get(&mut c, "kt"), Some(b"b".to_vec()));
    let _: () = cmd("SET").arg("kt").arg("c").query(&mut c).unwrap();
    assert_eq!(ttl(&mut c, "kt"), -1, "plain SET must clear the TTL");

    // GET returns the old value (nil when missing) and still sets.
    assert_eq!(cmd("SET").arg("g").arg("one").arg("GET").query::<Value>(&mut c).unwrap(), Value::Nil);
    assert_eq!(
        cmd("SET").arg("g").arg("two").arg("GET").query::<Value>(&mut c).unwrap(),
        Value::BulkString(b"one".to_vec())
    );
    assert_eq!(get(&mut c, "g"), Some(b"two".to_vec()));
    // NX + GET is allowed since 7.0: returns the old value and does not set.
    assert_eq!(
        cmd("SET").arg("g").arg("three").arg("NX").arg("GET").query::<Value>(&mut c).unwrap(),
        Value::BulkString(b"two".to_vec())
    );
    assert_eq!(get(&mut c, "g"), Some(b"two".to_vec()));
    // XX + GET on a missing key: nil, nothing set.
    assert_eq!(cmd("SET").arg("gx").arg("1").arg("XX").arg("GET").query::<Value>(&mut c).unwrap(), Value::Nil);
    assert_eq!(get(&mut c, "gx"), None);
    // GET combined with EX.
    assert_eq!(
        cmd("SET").arg("g").arg("four").arg("GET").arg("EX").arg(50).query::<Value>(&mut c).unwrap(),
        Value::BulkString(b"two".to_vec())
    );
    let t = ttl(&mut c, "g");
    assert!((49..=50).contains(&t), "TTL after SET GET EX 50 = {t}");
    // Options are case-insensitive.
    assert_eq!(
        cmd("SET").arg("ci").arg("1").arg("nx").arg("px").arg(5000).query::<Value>(&mut c).unwrap(),
        Value::Okay
    );
    assert!(pttl(&mut c, "ci") > 0);

    // Errors.
    let e = |c: &mut redis::Connection, args: &[&str]| {
        let mut cm = cmd("SET");
        for a in args {
            cm.arg(*a);
        }
        err_line::<Value>(&cm, c)
    };
    assert_eq!(e(&mut c, &["k", "v", "NX", "XX"]), SYNTAX);
    assert_eq!(e(&mut c, &["k", "v", "EX", "10", "PX", "100"]), SYNTAX);
    assert_eq!(e(&mut c, &["k", "v", "EX", "10", "KEEPTTL"]), SYNTAX);
    assert_eq!(e(&mut c, &["k", "v", "EX"]), SYNTAX);
    assert_eq!(e(&mut c, &["k", "v", "BOGUS"]), SYNTAX);
    assert_eq!(e(&mut c, &["k", "v", "EX", "abc"]), NOT_INT);
    assert_eq!(e(&mut c, &["k", "v", "EX", "0"]), "ERR invalid expire time in 'set' command");
    assert_eq!(e(&mut c, &["k", "v", "PX", "-1"]), "ERR invalid expire time in 'set' command");
    assert_eq!(e(&mut c, &["k", "v", "EX", "9223372036854775807"]), "ERR invalid expire time in 'set' command");
    assert_eq!(e(&mut c, &["k"]), "ERR wrong number of arguments for 'set' command");
    // A failed SET changed nothing.
    assert_eq!(get(&mut c, "k"), Some(b"v2".to_vec()));
    assert_eq!(ttl(&mut c, "k"), -1);
}

#[test]
fn expiry_really_happens() {
    let s = start(&[]);
    let mut c = client(s.port);
    let _: () = cmd("SET").arg("short").arg("v").arg("PX").arg(50).query(&mut c).unwrap();
    let _: () = cmd("PSETEX").arg("short2").arg(50).arg("v").query(&mut c).unwrap();
    let _: () = cmd("SET").arg("long").arg("v").arg("PX").arg(60_000).query(&mut c).unwrap();
    assert_eq!(get(&mut c, "short"), Some(b"v".to_vec()), "key must exist before it expires");
    std::thread::sleep(Duration::from_millis(120));
    assert_eq!(get(&mut c, "short"), None, "key set with PX 50 still readable after 120 ms");
    assert_eq!(cmd("EXISTS").arg("short2").query::<i64>(&mut c).unwrap(), 0);
    assert_eq!(ttl(&mut c, "short"), -2);
    assert_eq!(pttl(&mut c, "short2"), -2);
    assert_eq!(get(&mut c, "long"), Some(b"v".to_vec()));

    // SETEX / PSETEX / GETEX.
    let _: () = cmd("SETEX").arg("se").arg(100).arg("v").query(&mut c).unwrap();
    let t = ttl(&mut c, "se");
    assert!((99..=100).contains(&t), "TTL after SETEX 100 = {t}");
    assert_eq!(
        err_line::<Value>(cmd("SETEX").arg("se").arg(0).arg("v"), &mut c),
        "ERR invalid expire time in 'setex' command"
    );
    assert_eq!(
        err_line::<Value>(cmd("PSETEX").arg("se").arg(-5).arg("v"), &mut c),
        "ERR invalid expire time in 'psetex' command"
    );
    assert_eq!(cmd("GETEX").arg("se").arg("PERSIST").query::<Vec<u8>>(&mut c).unwrap(), b"v");
    assert_eq!(ttl(&mut c, "se"), -1);
    assert_eq!(cmd("GETEX").arg("se").arg("PX").arg(50).query::<Vec<u8>>(&mut c).unwrap(), b"v");
    assert!(pttl(&mut c, "se") > 0);
    std::thread::sleep(Duration::from_millis(120));
    assert_eq!(cmd("GETEX").arg("se").query::<Value>(&mut c).unwrap(), Value::Nil);
    assert_eq!(
        err_line::<Value>(cmd("GETEX").arg("x").arg("EX").arg(1).arg("PERSIST"), &mut c),
        SYNTAX,
        "GETEX with two expiry options"
    );
}

#[test]
fn getset_getdel_setnx() {
    let s = start(&[]);
    let mut c = client(s.port);
    assert_eq!(cmd("GETSET").arg("k").arg("a").query::<Value>(&mut c).unwrap(), Value::Nil);
    let _: () = cmd("EXPIRE").arg("k").arg(100).query(&mut c).unwrap();
    assert_eq!(cmd("GETSET").arg("k").arg("b").query::<Vec<u8>>(&mut c).unwrap(), b"a");
    assert_eq!(ttl(&mut c, "k"), -1, "GETSET clears the TTL");
    assert_eq!(cmd("GETDEL").arg("k").query::<Vec<u8>>(&mut c).unwrap(), b"b");
    assert_eq!(cmd("GETDEL").arg("k").query::<Value>(&mut c).unwrap(), Value::Nil);
    assert_eq!(cmd("EXISTS").arg("k").query::<i64>(&mut c).unwrap(), 0);
    assert_eq!(cmd("SETNX").arg("k").arg("1").query::<i64>(&mut c).unwrap(), 1);
    assert_eq!(cmd("SETNX").arg("k").arg("2").query::<i64>(&mut c).unwrap(), 0);
    assert_eq!(get(&mut c, "k"), Some(b"1".to_vec()));
}

#[test]
fn incr_family_and_overflow() {
    let s = start(&[]);
    let mut c = client(s.port);
    assert_eq!(cmd("INCR").arg("n").query::<i64>(&mut c).unwrap(), 1);
    assert_eq!(cmd("INCR").arg("n").query::<i64>(&mut c).unwrap(), 2);
    assert_eq!(cmd("INCRBY").arg("n").arg(40).query::<i64>(&mut c).unwrap(), 42);
    assert_eq!(cmd("DECR").arg("n").query::<i64>(&mut c).unwrap(), 41);
    assert_eq!(cmd("DECRBY").arg("n").arg(50).query::<i64>(&mut c).unwrap(), -9);
    assert_eq!(cmd("INCRBY").arg("n").arg(-1).query::<i64>(&mut c).unwrap(), -10);
    assert_eq!(get(&mut c, "n"), Some(b"-10".to_vec()));
    assert_eq!(cmd("DECR").arg("fresh").query::<i64>(&mut c).unwrap(), -1);

    // INCR keeps the TTL.
    let _: () = cmd("SET").arg("t").arg("5").arg("EX").arg(100).query(&mut c).unwrap();
    assert_eq!(cmd("INCR").arg("t").query::<i64>(&mut c).unwrap(), 6);
    assert!(ttl(&mut c, "t") > 0, "INCR must keep the TTL");

    // Not an integer.
    for bad in ["abc", "1.5", " 1", "1 ", "01", "+1", "", "9223372036854775808", "1e3"] {
        let _: () = cmd("SET").arg("bad").arg(bad).query(&mut c).unwrap();
        assert_eq!(err_line::<Value>(cmd("INCR").arg("bad"), &mut c), NOT_INT, "INCR on {bad:?}");
        assert_eq!(get(&mut c, "bad"), Some(bad.as_bytes().to_vec()), "value changed by failed INCR");
    }
    assert_eq!(err_line::<Value>(cmd("INCRBY").arg("n").arg("abc"), &mut c), NOT_INT);
    assert_eq!(err_line::<Value>(cmd("INCRBY").arg("n").arg("1.0"), &mut c), NOT_INT);
    assert_eq!(err_line::<Value>(cmd("DECRBY").arg("n").arg("x"), &mut c), NOT_INT);

    // Overflow.
    let _: () = cmd("SET").arg("max").arg(i64::MAX).query(&mut c).unwrap();
    assert_eq!(err_line::<Value>(cmd("INCR").arg("max"), &mut c), OVERFLOW);
    assert_eq!(err_line::<Value>(cmd("INCRBY").arg("max").arg(1), &mut c), OVERFLOW);
    assert_eq!(cmd("DECR").arg("max").query::<i64>(&mut c).unwrap(), i64::MAX - 1);
    let _: () = cmd("SET").arg("min").arg(i64::MIN).query(&mut c).unwrap();
    assert_eq!(err_line::<Value>(cmd("DECR").arg("min"), &mut c), OVERFLOW);
    assert_eq!(err_line::<Value>(cmd("DECRBY").arg("min").arg(1), &mut c), OVERFLOW);
    assert_eq!(err_line::<Value>(cmd("INCRBY").arg("min").arg(-1), &mut c), OVERFLOW);
    assert_eq!(get(&mut c, "min"), Some(i64::MIN.to_string().into_bytes()));
    // DECRBY with LLONG_MIN cannot be negated.
    assert_eq!(err_line::<Value>(cmd("DECRBY").arg("n").arg(i64::MIN), &mut c), "ERR decrement would overflow");
    assert_eq!(cmd("INCRBY").arg("z").arg(i64::MIN).query::<i64>(&mut c).unwrap(), i64::MIN);
    // Wrong arity.
    assert_eq!(
        err_line::<Value>(cmd("INCR").arg("a").arg("b"), &mut c),
        "ERR wrong number of arguments for 'incr' command"
    );
}

#[test]
fn incrbyfloat_values() {
    let s = start(&[]);
    let mut c = client(s.port);
    let f = |c: &mut redis::Connection, key: &str, by: &str| -> String {
        cmd("INCRBYFLOAT").arg(key).arg(by).query::<String>(c).unwrap()
    };
    assert_eq!(f(&mut c, "f", "3"), "3");
    assert_eq!(f(&mut c, "f", "0.5"), "3.5");
    let _: () = cmd("SET").arg("f").arg("10.50").query(&mut c).unwrap();
    assert_eq!(f(&mut c, "f", "0.1"), "10.6");
    assert_eq!(f(&mut c, "f", "-5"), "5.6");
    assert_eq!(get(&mut c, "f"), Some(b"5.6".to_vec()));
    let _: () = cmd("SET").arg("e").arg("5.0e3").query(&mut c).unwrap();
    assert_eq!(f(&mut c, "e", "2.0e2"), "5200");
    let _: () = cmd("SET").arg("i").arg("17").query(&mut c).unwrap();
    assert_eq!(f(&mut c, "i", "1.25"), "18.25");
    assert_eq!(f(&mut c, "i", "-18.25"), "0");
    assert_eq!(f(&mut c, "neg", "-0.1"), "-0.1");
    assert_eq!(f(&mut c, "small", "0.0001"), "0.0001");
    assert_eq!(f(&mut c, "big", "1e20"), "100000000000000000000");
    assert_eq!(f(&mut c, "third", "1"), "1");
    assert_eq!(f(&mut c, "third", "0.3333333333333333"), "1.3333333333333333");

    // Errors.
    let _: () = cmd("SET").arg("s").arg("abc").query(&mut c).unwrap();
    assert_eq!(err_line::<Value>(cmd("INCRBYFLOAT").arg("s").arg("1"), &mut c), "ERR value is not a valid float");
    assert_eq!(err_line::<Value>(cmd("INCRBYFLOAT").arg("f").arg("x"), &mut c), "ERR value is not a valid float");
    assert_eq!(
        err_line::<Value>(cmd("INCRBYFLOAT").arg("f").arg("inf"), &mut c),
        "ERR increment would produce NaN or Infinity"
    );
    assert_eq!(get(&mut c, "f"), Some(b"5.6".to_vec()));
}

#[test]
fn append_setrange_getrange() {
    let s = start(&[]);
    let mut c = client(s.port);
    assert_eq!(cmd("APPEND").arg("a").arg("Hello").query::<i64>(&mut c).unwrap(), 5);
    assert_eq!(cmd("APPEND").arg("a").arg(" World").query::<i64>(&mut c).unwrap(), 11);
    assert_eq!(get(&mut c, "a"), Some(b"Hello World".to_vec()));
    assert_eq!(cmd("STRLEN").arg("a").query::<i64>(&mut c).unwrap(), 11);
    assert_eq!(cmd("STRLEN").arg("missing").query::<i64>(&mut c).unwrap(), 0);
    // APPEND to an integer-encoded value.
    let _: () = cmd("SET").arg("n").arg(12).query(&mut c).unwrap();
    assert_eq!(cmd("APPEND").arg("n").arg("34").query::<i64>(&mut c).unwrap(), 4);
    assert_eq!(cmd("INCR").arg("n").query::<i64>(&mut c).unwrap(), 1235);

    // SETRANGE overwrites, extends, and pads with zero bytes.
    assert_eq!(cmd("SETRANGE").arg("a").arg(6).arg("Redis").query::<i64>(&mut c).unwrap(), 11);
    assert_eq!(get(&mut c, "a"), Some(b"Hello Redis".to_vec()));
    assert_eq!(cmd("SETRANGE").arg("a").arg(11).arg("!!").query::<i64>(&mut c).unwrap(), 13);
    assert_eq!(cmd("SETRANGE").arg("pad").arg(5).arg("x").query::<i64>(&mut c).unwrap(), 6);
    assert_eq!(get(&mut c, "pad"), Some(b"\0\0\0\0\0x".to_vec()));
    // Empty value on a missing key creates nothing; on an existing key returns its length.
    assert_eq!(cmd("SETRANGE").arg("none").arg(3).arg("").query::<i64>(&mut c).unwrap(), 0);
    assert_eq!(cmd("EXISTS").arg("none").query::<i64>(&mut c).unwrap(), 0);
    assert_eq!(cmd("SETRANGE").arg("a").arg(100).arg("").query::<i64>(&mut c).unwrap(), 13);
    assert_eq!(err_line::<Value>(cmd("SETRANGE").arg("a").arg(-1).arg("x"), &mut c), "ERR offset is out of range");
    assert_eq!(
        err_line::<Value>(cmd("SETRANGE").arg("a").arg(536_870_911).arg("xx"), &mut c),
        "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
    );
    assert_eq!(err_line::<Value>(cmd("SETRANGE").arg("a").arg("x").arg("x"), &mut c), NOT_INT);

    // GETRANGE with positive, negative and out-of-range indices.
    let _: () = cmd("SET").arg("s").arg("This is a string").query(&mut c).unwrap();
    let gr = |c: &mut redis::Connection, a: i64, b: i64| -> Vec<u8> {
        cmd("GETRANGE").arg("s").arg(a).arg(b).query::<Vec<u8>>(c).unwrap()
    };
    assert_eq!(gr(&mut c, 0, 3), b"This");
    assert_eq!(gr(&mut c, -3, -1), b"ing");
    assert_eq!(gr(&mut c, 0, -1), b"This is a string");
    assert_eq!(gr(&mut c, 10, 100), b"string");
    assert_eq!(gr(&mut c, 5, 3), b"");
    assert_eq!(gr(&mut c, -100, 3), b"This");
    assert_eq!(gr(&mut c, 100, 200), b"");
    assert_eq!(cmd("GETRANGE").arg("missing").arg(0).arg(-1).query::<Vec<u8>>(&mut c).unwrap(), b"");
    assert_eq!(cmd("SUBSTR").arg("s").arg(5).arg(6).query::<Vec<u8>>(&mut c).unwrap(), b"is");
    // GETRANGE on an integer-encoded value.
    let _: () = cmd("SET").arg("int").arg(123456).query(&mut c).unwrap();
    assert_eq!(cmd("GETRANGE").arg("int").arg(1).arg(3).query::<Vec<u8>>(&mut c).unwrap(), b"234");
}

#[test]
fn mset_mget_msetnx() {
    let s = start(&[]);
    let mut c = client(s.port);
    let _: () = cmd("MSET").arg("a").arg(1).arg("b").arg(2).arg("c").arg(3).query(&mut c).unwrap();
    let v: Vec<Option<String>> = cmd("MGET").arg("a").arg("b").arg("missing").arg("c").query(&mut c).unwrap();
    assert_eq!(v, vec![Some("1".into()), Some("2".into()), None, Some("3".into())]);
    // The last value of a repeated key wins.
    let _: () = cmd("MSET").arg("d").arg("x").arg("d").arg("y").query(&mut c).unwrap();
    assert_eq!(get(&mut c, "d"), Some(b"y".to_vec()));
    // MSET clears TTLs.
    let _: () = cmd("EXPIRE").arg("a").arg(100).query(&mut c).unwrap();
    let _: () = cmd("MSET").arg("a").arg(10).query(&mut c).unwrap();
    assert_eq!(ttl(&mut c, "a"), -1);
    assert_eq!(
        err_line::<Value>(cmd("MSET").arg("a").arg(1).arg("b"), &mut c),
        "ERR wrong number of arguments for 'mset' command"
    );
    assert_eq!(err_line::<Value>(cmd("MSET").arg("a"), &mut c), "ERR wrong number of arguments for 'mset' command");
    assert_eq!(err_line::<Value>(&cmd("MGET"), &mut c), "ERR wrong number of arguments for 'mget' command");

    // MSETNX: all or nothing.
    assert_eq!(cmd("MSETNX").arg("n1").arg("a").arg("n2").arg("b").query::<i64>(&mut c).unwrap(), 1);
    assert_eq!(cmd("MSETNX").arg("n3").arg("c").arg("n1").arg("z").query::<i64>(&mut c).unwrap(), 0);
    assert_eq!(cmd("EXISTS").arg("n3").query::<i64>(&mut c).unwrap(), 0, "MSETNX partially applied");
    assert_eq!(get(&mut c, "n1"), Some(b"a".to_vec()));
    assert_eq!(
        err_line::<Value>(cmd("MSETNX").arg("a").arg(1).arg("b"), &mut c),
        "ERR wrong number of arguments for 'msetnx' command"
    );
}

#[test]
fn binary_safe_keys_and_values() {
    let s = start(&[]);
    let mut c = client(s.port);
    let keys: Vec<Vec<u8>> = vec![
        b"\0".to_vec(),
        b"a\0b".to_vec(),
        b"\r\n".to_vec(),
        b"key\r\nwith\r\ncrlf".to_vec(),
        b"\n".to_vec(),
        b"\r".to_vec(),
        b"*1\r\n$4\r\nPING\r\n".to_vec(),
        b"\xff\xfe\x00\x01".to_vec(),
        b" spaced key ".to_vec(),
    ];
    let all_bytes: Vec<u8> = (0..=255u8).collect();
    for (i, k) in keys.iter().enumerate() {
        let mut val = all_bytes.clone();
        val.extend_from_slice(b"\r\n\0$-1\r\n");
        val.push(i as u8);
        let _: () = cmd("SET").arg(k.as_slice()).arg(val.as_slice()).query(&mut c).unwrap();
        let got: Vec<u8> = cmd("GET").arg(k.as_slice()).query(&mut c).unwrap();
        assert_eq!(got, val, "value of key {k:?} did not round-trip");
        assert_eq!(cmd("STRLEN").arg(k.as_slice()).query::<usize>(&mut c).unwrap(), val.len());
    }
    // Every key is distinct and listed exactly.
    assert_eq!(cmd("DBSIZE").query::<usize>(&mut c).unwrap(), keys.len());
    let mut listed: Vec<Vec<u8>> = cmd("KEYS").arg("*").query(&mut c).unwrap();
    listed.sort();
    let mut want = keys.clone();
    want.sort();
    assert_eq!(listed, want);
    // An empty key and an empty value are valid.
    let _: () = cmd("SET").arg("").arg("").query(&mut c).unwrap();
    assert_eq!(cmd("GET").arg("").query::<Value>(&mut c).unwrap(), Value::BulkString(vec![]));
    // APPEND / SETRANGE / GETRANGE with binary data.
    let _: () = cmd("SET").arg(b"bin".as_slice()).arg(b"\0\r".as_slice()).query(&mut c).unwrap();
    assert_eq!(cmd("APPEND").arg("bin").arg(b"\n\0".as_slice()).query::<i64>(&mut c).unwrap(), 4);
    assert_eq!(cmd("SETRANGE").arg("bin").arg(1).arg(b"\xff".as_slice()).query::<i64>(&mut c).unwrap(), 4);
    assert_eq!(get(&mut c, "bin"), Some(b"\0\xff\n\0".to_vec()));
    assert_eq!(cmd("GETRANGE").arg("bin").arg(1).arg(2).query::<Vec<u8>>(&mut c).unwrap(), b"\xff\n");
    // MSET / MGET with binary keys.
    let _: () = cmd("MSET")
        .arg(b"m\0".as_slice())
        .arg(b"1\r".as_slice())
        .arg(b"m\n".as_slice())
        .arg(b"\n2".as_slice())
        .query(&mut c)
        .unwrap();
    let got: Vec<Vec<u8>> = cmd("MGET").arg(b"m\0".as_slice()).arg(b"m\n".as_slice()).query(&mut c).unwrap();
    assert_eq!(got, vec![b"1\r".to_vec(), b"\n2".to_vec()]);
}

#[test]
fn one_megabyte_value() {
    let s = start(&[]);
    let mut c = client(s.port);
    let big: Vec<u8> = (0..1024 * 1024).map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let _: () = cmd("SET").arg("big").arg(big.as_slice()).query(&mut c).unwrap();
    let got: Vec<u8> = cmd("GET").arg("big").query(&mut c).unwrap();
    assert_eq!(got.len(), big.len());
    assert!(got == big, "1 MB value did not round-trip");
    assert_eq!(cmd("STRLEN").arg("big").query::<usize>(&mut c).unwrap(), big.len());
    let slice: Vec<u8> = cmd("GETRANGE").arg("big").arg(500_000).arg(500_099).query(&mut c).unwrap();
    assert_eq!(slice, &big[500_000..500_100]);
    assert_eq!(cmd("APPEND").arg("big").arg(big.as_slice()).query::<usize>(&mut c).unwrap(), 2 * big.len());
    let got: Vec<u8> = cmd("GET").arg("big").query(&mut c).unwrap();
    assert!(got[..big.len()] == big[..] && got[big.len()..] == big[..], "APPENDed 2 MB value wrong");
    // A pipeline of several large values.
    let mut p = redis::pipe();
    for i in 0..4 {
        p.cmd("SET").arg(format!("b{i}")).arg(big.as_slice()).ignore();
    }
    for i in 0..4 {
        p.cmd("GET").arg(format!("b{i}"));
    }
    let vals: Vec<Vec<u8>> = p.query(&mut c).unwrap();
    assert_eq!(vals.len(), 4);
    assert!(vals.iter().all(|v| *v == big));
}

#[test]
fn lcs() {
    let s = start(&[]);
    let mut c = client(s.port);
    let _: () = cmd("MSET").arg("key1").arg("ohmytext").arg("key2").arg("mynewtext").query(&mut c).unwrap();
    assert_eq!(cmd("LCS").arg("key1").arg("key2").query::<String>(&mut c).unwrap(), "mytext");
    assert_eq!(cmd("LCS").arg("key1").arg("key2").arg("LEN").query::<i64>(&mut c).unwrap(), 6);
    assert_eq!(cmd("LCS").arg("key1").arg("missing").query::<String>(&mut c).unwrap(), "");

    // IDX reply, exactly as Redis 7.0 sends it (raw bytes).
    let mut raw = s.conn();
    assert_eq!(
        raw.cmd_str(&["LCS", "key1", "key2", "IDX"]),
        b"*4\r\n$7\r\nmatches\r\n*2\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n*2\r\n*2\r\n:2\r\n:3\r\n\
*2\r\n:0\r\n:1\r\n$3\r\nlen\r\n:6\r\n"
            .to_vec()
    );
    assert_eq!(
        raw.cmd_str(&["LCS", "key1", "key2", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"]),
        b"*4\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n$3\r\nlen\r\n:6\r\n".to_vec()
    );
    assert_eq!(
        raw.cmd_str(&["LCS", "key1", "key2", "LEN", "IDX"]),
        b"-ERR If you want both the length and indexes, please just use IDX.\r\n".to_vec()
    );
    assert_eq!(raw.cmd_str(&["LCS", "key1", "key2", "FOO"]), b"-ERR syntax error\r\n".to_vec());
    assert_eq!(
        raw.cmd_str(&["LCS", "key1", "key2", "MINMATCHLEN", "x"]),
        b"-ERR value is not an integer or out of range\r\n".to_vec()
    );
    // Binary content.
    let _: () = cmd("MSET")
        .arg("b1")
        .arg(b"\0a\r\nb\0".as_slice())
        .arg("b2")
        .arg(b"xa\r\n\0".as_slice())
        .query(&mut c)
        .unwrap();
    assert_eq!(cmd("LCS").arg("b1").arg("b2").query::<Vec<u8>>(&mut c).unwrap(), b"a\r\n\0");
}
