//! Pub/Sub delivery throughput against a running server (Rustis or redis-server):
//! fan-out (1 channel, 100 subscribers) and many channels (1,000 channels, 1 subscriber
//! each). Prints delivered messages per second. Driven by `scripts/bench.sh --pubsub`,
//! which runs it against both servers in one run:
//!
//! ```text
//! cargo bench --bench pubsub -- <port> [messages]
//! ```
//!
//! Without a port it prints this usage and exits 0 (so `cargo test --all-targets` passes).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const PAYLOAD: &[u8] = b"0123456789abcdef";

fn command(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    s.set_nodelay(true).expect("nodelay");
    s
}

/// Reads exactly `n` bytes (the subscriber knows how much it will get).
fn drain(s: &mut TcpStream, mut n: usize) {
    let mut buf = vec![0u8; 64 * 1024];
    while n > 0 {
        let want = n.min(buf.len());
        let got = s.read(&mut buf[..want]).expect("subscriber read");
        assert!(got > 0, "server closed a subscriber");
        n -= got;
    }
}

fn message_frame_len(channel: &[u8]) -> usize {
    format!("*3\r\n$7\r\nmessage\r\n${}\r\n", channel.len()).len()
        + channel.len()
        + 2
        + format!("${}\r\n", PAYLOAD.len()).len()
        + PAYLOAD.len()
        + 2
}

/// `channels` channels with `per` subscribers each; `total` messages spread evenly over
/// the channels. Returns delivered messages per second.
fn run(port: u16, channels: usize, per: usize, total: usize) -> f64 {
    let names: Vec<Vec<u8>> = (0..channels).map(|i| format!("ch:{i:05}").into_bytes()).collect();
    let per_channel = total / channels;
    // Subscribe everyone first (confirmation read), then start the readers.
    let mut subs: Vec<(TcpStream, usize)> = Vec::new();
    for name in &names {
        for _ in 0..per {
            let mut s = connect(port);
            s.write_all(&command(&[b"SUBSCRIBE", name])).expect("subscribe");
            let confirm = format!("*3\r\n$9\r\nsubscribe\r\n${}\r\n", name.len()).len() + name.len() + 2 + 4;
            drain(&mut s, confirm);
            subs.push((s, per_channel * message_frame_len(name)));
        }
    }
    let threads = 16.min(subs.len());
    let mut groups: Vec<Vec<(TcpStream, usize)>> = (0..threads).map(|_| Vec::new()).collect();
    for (i, s) in subs.into_iter().enumerate() {
        groups[i % threads].push(s);
    }
    let start = Instant::now();
    let readers: Vec<_> = groups
        .into_iter()
        .map(|g| {
            std::thread::spawn(move || {
                for (mut s, n) in g {
                    drain(&mut s, n);
                }
            })
        })
        .collect();
    let mut publisher = connect(port);
    let mut batch = Vec::new();
    let mut pending = 0;
    let reply_len = |n: usize| format!(":{n}\r\n").len();
    for i in 0..per_channel * channels {
        batch.extend(command(&[b"PUBLISH", &names[i % channels], PAYLOAD]));
        pending += 1;
        if pending == 100 {
            publisher.write_all(&batch).expect("publish");
            drain(&mut publisher, 100 * reply_len(per));
            batch.clear();
            pending = 0;
        }
    }
    if pending > 0 {
        publisher.write_all(&batch).expect("publish");
        drain(&mut publisher, pending * reply_len(per));
    }
    for r in readers {
        r.join().expect("reader");
    }
    (per_channel * channels * per) as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let Some(port) = args.first().and_then(|p| p.parse::<u16>().ok()) else {
        eprintln!("usage: cargo bench --bench pubsub -- <port> [messages]  (see scripts/bench.sh --pubsub)");
        return;
    };
    let total: usize = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(100_000);
    let fanout = run(port, 1, 100, total);
    println!("fanout_1x100 {fanout:.0}");
    let many = run(port, 1000, 1, total);
    println!("channels_1000x1 {many:.0}");
}
