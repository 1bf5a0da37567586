//! Wire-format costs, RESP2 vs RESP3 vs MessagePack (criterion), on both sides:
//! the server decoding requests into a batch (what the reactor does per read) and
//! encoding replies (what a worker does per command); the client (`rustis::client`,
//! used by rustis-cli and rustis-benchmark) encoding requests and decoding replies. Cases:
//! GET/SET with small, 1 KB and 100 KB values, MGET of 100 keys, an array reply of 1,000
//! elements, a map of 100.
//!
//! Run: `cargo bench --bench protocol` (add a filter: `cargo bench --bench protocol --
//! encode_reply`). Under `cargo test` each case runs once, as a smoke test.
//!
//! RESP2 and RESP3 requests are the same bytes (RESP3 changed replies only), so request
//! decoding compares RESP with MessagePack; replies compare all three.

use criterion::{black_box, criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use rustis::protocol::msgpack;
use rustis::protocol::{parse_batch_at, ParseLimits, Proto, Reply};

/// One command as RESP and as a MessagePack request frame.
fn request(args: &[Vec<u8>]) -> (Vec<u8>, Vec<u8>) {
    let mut resp = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        resp.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        resp.extend_from_slice(a);
        resp.extend_from_slice(b"\r\n");
    }
    let mut body = Vec::new();
    msgpack::put_array_len(&mut body, args.len() + 1);
    msgpack::put_uint(&mut body, 12345);
    for a in args {
        msgpack::put_bin(&mut body, a);
    }
    let mut mp = (body.len() as u32).to_be_bytes().to_vec();
    mp.extend_from_slice(&body);
    (resp, mp)
}

fn cases() -> Vec<(&'static str, Vec<Vec<u8>>)> {
    let key = b"key:000000001234".to_vec();
    let set = |n: usize| vec![b"SET".to_vec(), key.clone(), vec![b'x'; n]];
    let mut mget = vec![b"MGET".to_vec()];
    mget.extend((0..100).map(|i| format!("key:{i:012}").into_bytes()));
    vec![
        ("GET", vec![b"GET".to_vec(), key.clone()]),
        ("SET 16B", set(16)),
        ("SET 1KB", set(1024)),
        ("SET 100KB", set(100 * 1024)),
        ("MGET 100", mget),
    ]
}

fn decode_request(c: &mut Criterion) {
    let limits = ParseLimits { max_cmds: 1 << 20, max_bytes: usize::MAX, ..ParseLimits::default() };
    let mut g = c.benchmark_group("decode_request");
    for (name, args) in cases() {
        // 64 pipelined copies per iteration, as one read would bring them.
        let (r1, m1) = request(&args);
        let (resp, mp) = (r1.repeat(64), m1.repeat(64));
        for (proto, input) in [("resp", &resp), ("msgpack", &mp)] {
            g.throughput(Throughput::Elements(64));
            g.bench_with_input(BenchmarkId::new(proto, name), input, |b, input| {
                b.iter_batched(
                    || input.clone(),
                    |mut buf| {
                        let mut start = 0;
                        let batch = if proto == "resp" {
                            parse_batch_at(&mut buf, &mut start, &limits)
                        } else {
                            msgpack::parse_batch_at(&mut buf, &mut start, &limits)
                        };
                        let batch = batch.expect("complete");
                        assert_eq!(batch.len(), 64);
                        black_box(batch)
                    },
                    BatchSize::SmallInput,
                )
            });
        }
    }
    g.finish();
}

fn replies() -> Vec<(&'static str, Reply)> {
    let bulk = |n: usize| Reply::Bulk(vec![b'x'; n]);
    vec![
        ("OK", Reply::ok()),
        ("GET 16B", bulk(16)),
        ("GET 1KB", bulk(1024)),
        ("GET 100KB", bulk(100 * 1024)),
        ("MGET 100", Reply::Array((0..100).map(|_| bulk(16)).collect())),
        ("array 1000", Reply::Array((0..1000).map(|i| Reply::Bulk(format!("{i:08}").into_bytes())).collect())),
        ("map 100", Reply::Map((0..100).map(|i| (Reply::Bulk(format!("f{i}").into_bytes()), bulk(8))).collect())),
    ]
}

fn encode_reply(c: &mut Criterion) {
    let mut g = c.benchmark_group("encode_reply");
    for (name, reply) in replies() {
        let mut out = Vec::with_capacity(256 * 1024);
        g.bench_with_input(BenchmarkId::new("resp2", name), &reply, |b, r| {
            b.iter(|| {
                out.clear();
                r.encode(Proto::Resp2, &mut out);
                black_box(out.len())
            })
        });
        g.bench_with_input(BenchmarkId::new("resp3", name), &reply, |b, r| {
            b.iter(|| {
                out.clear();
                r.encode(Proto::Resp3, &mut out);
                black_box(out.len())
            })
        });
        g.bench_with_input(BenchmarkId::new("msgpack", name), &reply, |b, r| {
            b.iter(|| {
                out.clear();
                msgpack::encode_reply(Some(12345), r, &mut out);
                black_box(out.len())
            })
        });
        // Pushes and other pre-encoded RESP3 frames reach MessagePack clients transcoded.
        let mut resp3 = Vec::new();
        reply.encode(Proto::Resp3, &mut resp3);
        g.bench_with_input(BenchmarkId::new("msgpack-transcode", name), &resp3, |b, r| {
            b.iter(|| {
                out.clear();
                assert!(msgpack::transcode(Some(12345), r, &mut out));
                black_box(out.len())
            })
        });
    }
    g.finish();
}

/// Wire sizes, printed once (bytes per request and per reply in each protocol).
fn sizes(_: &mut Criterion) {
    for (name, args) in cases() {
        let (r, m) = request(&args);
        println!("request {name:<10} resp {:>7} B   msgpack {:>7} B", r.len(), m.len());
    }
    for (name, reply) in replies() {
        let (mut r2, mut r3, mut m) = (Vec::new(), Vec::new(), Vec::new());
        reply.encode(Proto::Resp2, &mut r2);
        reply.encode(Proto::Resp3, &mut r3);
        msgpack::encode_reply(Some(12345), &reply, &mut m);
        println!("reply   {name:<10} resp2 {:>7} B  resp3 {:>7} B  msgpack {:>7} B", r2.len(), r3.len(), m.len());
    }
}

/// The client side: encoding a request, decoding a reply.
fn client_side(c: &mut Criterion) {
    use rustis::client::{msgpack as cmp, resp as cresp};
    let mut g = c.benchmark_group("client_encode_request");
    for (name, args) in cases() {
        let argv: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
        let mut out = Vec::with_capacity(256 * 1024);
        g.bench_function(BenchmarkId::new("resp", name), |b| {
            b.iter(|| {
                out.clear();
                cresp::encode_command(&mut out, &argv);
                black_box(out.len())
            })
        });
        g.bench_function(BenchmarkId::new("msgpack", name), |b| {
            b.iter(|| {
                out.clear();
                cmp::encode_request_frame(&mut out, 12345, &argv);
                black_box(out.len())
            })
        });
    }
    g.finish();
    let mut g = c.benchmark_group("client_decode_reply");
    for (name, reply) in replies() {
        for proto in [Proto::Resp2, Proto::Resp3] {
            let mut bytes = Vec::new();
            reply.encode(proto, &mut bytes);
            let label = if proto == Proto::Resp2 { "resp2" } else { "resp3" };
            g.bench_with_input(BenchmarkId::new(label, name), &bytes, |b, bytes| {
                b.iter(|| {
                    let mut rd: &[u8] = bytes;
                    black_box(cresp::read_value(&mut rd).expect("a reply"))
                })
            });
        }
        let mut frame = Vec::new();
        msgpack::encode_reply(Some(12345), &reply, &mut frame);
        let body = frame[4..].to_vec();
        g.bench_with_input(BenchmarkId::new("msgpack", name), &body, |b, body| {
            b.iter(|| black_box(cmp::decode_frame(body).expect("a frame")))
        });
    }
    g.finish();
}

criterion_group!(benches, sizes, decode_request, encode_reply, client_side);
criterion_main!(benches);
