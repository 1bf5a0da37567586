//! RESP parser throughput: pipelined SET and GET frames parsed into batches.
//! Run: `cargo bench --bench parser`. Prints ns per command and MB/s.

use rustis::protocol::{parse_batch, ParseLimits};
use std::time::Instant;

fn frames(n: usize, value_len: usize) -> Vec<u8> {
    let v = "x".repeat(value_len);
    let mut out = Vec::new();
    for i in 0..n {
        let k = format!("key:{i:012}");
        out.extend_from_slice(
            format!("*3\r\n$3\r\nSET\r\n${}\r\n{}\r\n${}\r\n{}\r\n", k.len(), k, v.len(), v).as_bytes(),
        );
    }
    out
}

fn bench(name: &str, input: &[u8], n: usize) {
    let limits = ParseLimits { max_cmds: 1 << 30, max_bytes: usize::MAX, ..ParseLimits::default() };
    let rounds = 20;
    let start = Instant::now();
    let mut parsed = 0;
    for _ in 0..rounds {
        let mut buf = input.to_vec();
        while let Some(b) = parse_batch(&mut buf, &limits) {
            parsed += b.len();
        }
    }
    let dt = start.elapsed();
    assert_eq!(parsed, n * rounds);
    let per = dt.as_nanos() as f64 / parsed as f64;
    let mbps = (input.len() * rounds) as f64 / dt.as_secs_f64() / 1e6;
    println!("{name:<28} {per:>8.1} ns/command {mbps:>8.0} MB/s");
}

fn main() {
    let n = 100_000;
    bench("SET 16-byte key, 3-byte val", &frames(n, 3), n);
    bench("SET 16-byte key, 1 KB val", &frames(n, 1024), n);
    let inline: Vec<u8> = (0..n).flat_map(|i| format!("GET key:{i:012}\r\n").into_bytes()).collect();
    bench("inline GET", &inline, n);
}
