//! Pub/Sub between connections: delivery and PUBLISH receiver counts, per-subscriber
//! publish order, pattern and shard subscriptions, cleanup on disconnect, and a slow
//! subscriber cut off at the pubsub output limit without harming the server.
//! (Single-connection behaviour is in tests/diff/pubsub.redis.)
//!
//! ```text
//! cargo test --test pubsub
//! RUSTIS_TEST_TARGET=redis cargo test --test pubsub   # the same against redis-server
//! ```

mod common;
mod support;

use common::RawConn;
use std::time::Duration;

fn frame(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", parts.len()).into_bytes();
    for p in parts {
        out.extend_from_slice(format!("${}\r\n", p.len()).as_bytes());
        out.extend_from_slice(p);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// A (p|s)subscribe confirmation: kind, name, subscription count.
fn confirm(kind: &str, name: &str, n: i64) -> Vec<u8> {
    let mut out = frame(&[kind.as_bytes(), name.as_bytes()]);
    out[1] = b'3';
    out.extend_from_slice(format!(":{n}\r\n").as_bytes());
    out
}

fn numsub(con: &mut redis::Connection, ch: &str) -> i64 {
    let v: Vec<redis::Value> = redis::cmd("PUBSUB").arg("NUMSUB").arg(ch).query(con).expect("PUBSUB NUMSUB");
    redis::from_redis_value(&v[1]).expect("count")
}

#[test]
fn messages_reach_channel_pattern_and_shard_subscribers_in_order() {
    let server = support::start(&["--workers", "3"]);
    let mut sub = RawConn::connect(server.port).expect("connect");
    assert_eq!(sub.cmd_str(&["SUBSCRIBE", "news"]), confirm("subscribe", "news", 1));
    let mut psub = RawConn::connect(server.port).expect("connect");
    assert_eq!(psub.cmd_str(&["PSUBSCRIBE", "n*"]), confirm("psubscribe", "n*", 1));
    let mut ssub = RawConn::connect(server.port).expect("connect");
    assert_eq!(ssub.cmd_str(&["SSUBSCRIBE", "sh"]), confirm("ssubscribe", "sh", 1));

    let mut publisher = support::client(server.port);
    let n: i64 = redis::cmd("PUBLISH").arg("news").arg("hello").query(&mut publisher).expect("PUBLISH");
    assert_eq!(n, 2, "one channel subscriber and one pattern subscriber");
    assert_eq!(sub.read_reply(), frame(&[b"message", b"news", b"hello"]));
    assert_eq!(psub.read_reply(), frame(&[b"pmessage", b"n*", b"news", b"hello"]));
    let n: i64 = redis::cmd("PUBLISH").arg("other").arg("x").query(&mut publisher).expect("PUBLISH");
    assert_eq!(n, 0);
    let n: i64 = redis::cmd("SPUBLISH").arg("sh").arg("s").query(&mut publisher).expect("SPUBLISH");
    assert_eq!(n, 1);
    assert_eq!(ssub.read_reply(), frame(&[b"smessage", b"sh", b"s"]));

    // Order: 2,000 numbered messages from one publisher arrive in publish order.
    let mut p = redis::pipe();
    for i in 0..2000 {
        p.cmd("PUBLISH").arg("news").arg(i.to_string()).ignore();
    }
    let _: () = p.query(&mut publisher).expect("pipeline");
    for i in 0..2000 {
        assert_eq!(sub.read_reply(), frame(&[b"message", b"news", i.to_string().as_bytes()]), "message {i}");
    }
}

#[test]
fn disconnect_and_reset_drop_subscriptions() {
    let server = support::start(&[]);
    let mut con = support::client(server.port);
    {
        let mut sub = RawConn::connect(server.port).expect("connect");
        sub.cmd_str(&["SUBSCRIBE", "gone"]);
        assert_eq!(numsub(&mut con, "gone"), 1);
    }
    assert!(
        support::wait_until(Duration::from_secs(5), Duration::from_millis(10), || numsub(&mut con, "gone") == 0),
        "subscription survived the disconnect"
    );
    let mut sub = RawConn::connect(server.port).expect("connect");
    sub.cmd_str(&["SUBSCRIBE", "r"]);
    sub.cmd_str(&["PSUBSCRIBE", "a*", "b*"]);
    sub.read_reply();
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut con).expect("CLIENT LIST");
    assert!(list.contains(" flags=P db=0 sub=1 psub=2 ssub=0 multi=-1 "), "{list}");
    assert_eq!(sub.cmd_str(&["RESET"]), b"+RESET\r\n");
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut con).expect("CLIENT LIST");
    assert!(!list.contains("flags=P"), "{list}");
    assert_eq!(numsub(&mut con, "r"), 0);
    assert_eq!(sub.cmd_str(&["GET", "k"]), b"$-1\r\n", "RESET leaves subscribed mode");
}

#[test]
fn slow_subscriber_is_disconnected_and_server_stays_up() {
    let server = support::start(&["--workers", "2"]);
    let mut sub = RawConn::connect(server.port).expect("connect");
    sub.cmd_str(&["SUBSCRIBE", "flood"]);
    // Never read again; publish ~64 MB (over the 32 MB pubsub hard limit).
    let mut publisher = support::client(server.port);
    let payload = vec![b'x'; 256 * 1024];
    let mut receivers = Vec::new();
    support::with_deadline("flood", Duration::from_secs(60), move || {
        for _ in 0..256 {
            let n: i64 = redis::cmd("PUBLISH").arg("flood").arg(&payload[..]).query(&mut publisher).expect("PUBLISH");
            receivers.push(n);
            if n == 0 {
                break;
            }
        }
        assert_eq!(receivers.last(), Some(&0), "the slow subscriber was never disconnected");
        let pong: String = redis::cmd("PING").query(&mut publisher).expect("PING");
        assert_eq!(pong, "PONG");
    });
    drop(sub);
}
