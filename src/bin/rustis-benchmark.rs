//! `rustis-benchmark`: a load generator like `redis-benchmark`, for both protocols.
//!
//! ```text
//! rustis-benchmark [-h host] [-p port] [-a password] [-c clients] [-n requests]
//!                  [-P pipeline] [-d size] [-r keyspace] [-t tests]
//!                  [--protocol resp|msgpack] [--csv] [-q]
//! ```
//!
//! - `-h <host>` (127.0.0.1), `-p <port>` (6379; give the MessagePack port with
//!   `--protocol msgpack`), `-a <password>` (sent with `AUTH` on every connection).
//! - `-c <clients>` (50): parallel connections, one thread each (blocking I/O).
//! - `-n <requests>` (100000): requests per test, over all clients. Every run is bounded
//!   by it.
//! - `-P <pipeline>` (1): requests sent together before reading their replies.
//! - `-d <size>` (3): bytes of the value of SET, LPUSH, HSET, MSET, ... (`x` repeated).
//! - `-r <keyspace>` (none): keys get a random number below `keyspace`, as
//!   redis-benchmark's `__rand_int__` (`key:000000012345`); without `-r` every request
//!   uses the same key (`key:000000000000`).
//! - `-t <tests>` (all): a comma-separated list of `ping, set, get, incr, lpush, rpush,
//!   lpop, rpop, sadd, hset, spop, mset` (case-insensitive). The commands are
//!   redis-benchmark's: `SET key:__rand_int__ <data>`, `GET key:__rand_int__`,
//!   `INCR counter:__rand_int__`, `LPUSH/RPUSH mylist <data>`, `LPOP/RPOP mylist`,
//!   `SADD myset element:__rand_int__`, `HSET myhash element:__rand_int__ <data>`,
//!   `SPOP myset`, `MSET` of 10 `key:__rand_int__ <data>` pairs.
//! - `--protocol resp|msgpack` (resp): the wire protocol.
//! - `--csv`: prints `"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms",
//!   "p95_latency_ms","p99_latency_ms","max_latency_ms"` and one line per test, like
//!   redis-benchmark 7. `-q`: one line per test (`SET: 12345.67 requests per second,
//!   p50=0.123 msec`).
//!
//! While a test runs, a progress line (`SET: rps=... (overall: ...) avg_msec=...`) is
//! redrawn on stderr about four times a second. At the end of each test it prints the
//! number of requests, the elapsed seconds, requests per second and the avg, min, p50,
//! p95, p99 and max latency in milliseconds. A request's latency is the time from
//! sending its pipeline to receiving its reply; latencies go into a log-linear
//! histogram (64 buckets per power of two, under 1.6% error) per thread, merged at the
//! end. Error replies are counted; the first is shown and the exit status is 1 when
//! there were any, as is a connection failure.

use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rustis::client::{Client, Protocol, Value};

#[derive(Clone)]
struct Opts {
    host: String,
    port: u16,
    pass: Option<String>,
    clients: usize,
    requests: u64,
    pipeline: usize,
    data_size: usize,
    keyspace: Option<u64>,
    tests: Vec<String>,
    proto: Protocol,
    csv: bool,
    quiet: bool,
}

const ALL_TESTS: &[&str] =
    &["ping", "set", "get", "incr", "lpush", "rpush", "lpop", "rpop", "sadd", "hset", "spop", "mset"];

fn die(msg: &str) -> ! {
    eprintln!("{msg}");
    std::process::exit(1)
}

fn parse_opts() -> Opts {
    let mut o = Opts {
        host: "127.0.0.1".into(),
        port: 6379,
        pass: None,
        clients: 50,
        requests: 100_000,
        pipeline: 1,
        data_size: 3,
        keyspace: None,
        tests: ALL_TESTS.iter().map(|s| s.to_string()).collect(),
        proto: Protocol::Resp2,
        csv: false,
        quiet: false,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < argv.len() {
        let a = argv[i].as_str();
        let mut val = || -> String {
            i += 1;
            argv.get(i).cloned().unwrap_or_else(|| die(&format!("Missing value for option '{a}'")))
        };
        fn num<T: std::str::FromStr>(a: &str, v: String) -> T {
            v.parse().unwrap_or_else(|_| die(&format!("Invalid value for '{a}': {v}")))
        }
        match a {
            "-h" => o.host = val(),
            "-p" => o.port = num(a, val()),
            "-a" => o.pass = Some(val()),
            "-c" => o.clients = num::<usize>(a, val()).max(1),
            "-n" => o.requests = num(a, val()),
            "-P" => o.pipeline = num::<usize>(a, val()).max(1),
            "-d" => o.data_size = num(a, val()),
            "-r" => o.keyspace = Some(num::<u64>(a, val()).max(1)),
            "-t" => {
                let v = val();
                o.tests = v.split(',').map(|t| t.trim().to_ascii_lowercase()).filter(|t| !t.is_empty()).collect();
                for t in &o.tests {
                    if !ALL_TESTS.contains(&t.as_str()) {
                        die(&format!("Unknown test '{t}' (known: {})", ALL_TESTS.join(",")));
                    }
                }
            }
            "--protocol" => {
                o.proto = match val().as_str() {
                    "resp" => Protocol::Resp2,
                    "msgpack" => Protocol::Msgpack,
                    p => die(&format!("Unknown protocol '{p}' (resp or msgpack)")),
                }
            }
            "--csv" => o.csv = true,
            "-q" => o.quiet = true,
            "--help" => die("Usage: rustis-benchmark [-h host] [-p port] [-a password] [-c clients] [-n requests] \
                 [-P pipeline] [-d size] [-r keyspace] [-t tests] [--protocol resp|msgpack] [--csv] [-q]\n\
                 tests: ping,set,get,incr,lpush,rpush,lpop,rpop,sadd,hset,spop,mset"),
            _ => die(&format!("Unrecognized option '{a}' (see --help)")),
        }
        i += 1;
    }
    o
}

// ---------------------------------------------------------------------------------------
// Latency histogram (microseconds, log-linear)
// ---------------------------------------------------------------------------------------

const SUB_BITS: u32 = 6;
const SUB: u64 = 1 << SUB_BITS;

#[derive(Clone)]
struct Hist {
    counts: Vec<u64>,
    total: u64,
    sum: u64,
    min: u64,
    max: u64,
}

impl Hist {
    fn new() -> Hist {
        Hist { counts: vec![0; (SUB as usize) * 60], total: 0, sum: 0, min: u64::MAX, max: 0 }
    }

    fn index(v: u64) -> usize {
        if v < SUB {
            return v as usize;
        }
        let e = 63 - v.leading_zeros();
        let shift = e - SUB_BITS;
        ((shift as u64 + 1) * SUB + ((v >> shift) & (SUB - 1))) as usize
    }

    /// The middle of bucket `i`.
    fn value(i: usize) -> u64 {
        let i = i as u64;
        if i < SUB {
            return i;
        }
        let shift = (i / SUB - 1) as u32;
        let low = (SUB + i % SUB) << shift;
        low + ((1u64 << shift) >> 1)
    }

    fn record(&mut self, us: u64) {
        let i = Hist::index(us).min(self.counts.len() - 1);
        self.counts[i] += 1;
        self.total += 1;
        self.sum += us;
        self.min = self.min.min(us);
        self.max = self.max.max(us);
    }

    fn merge(&mut self, o: &Hist) {
        for (a, b) in self.counts.iter_mut().zip(&o.counts) {
            *a += b;
        }
        self.total += o.total;
        self.sum += o.sum;
        self.min = self.min.min(o.min);
        self.max = self.max.max(o.max);
    }

    /// The latency (µs) at percentile `p` (0..100), clamped to the exact min and max.
    fn percentile(&self, p: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((p / 100.0) * self.total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Hist::value(i).clamp(self.min, self.max);
            }
        }
        self.max
    }
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

// ---------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// One argument of a request template.
#[derive(Clone, Copy)]
enum Part {
    Lit(&'static [u8]),
    /// The prefix followed by `__rand_int__` (12 digits).
    Rand(&'static [u8]),
    /// The `-d` payload.
    Data,
}

/// The request template of `test` (redis-benchmark's commands).
fn template(test: &str) -> Vec<Part> {
    use Part::{Data, Lit, Rand};
    match test {
        "ping" => vec![Lit(b"PING")],
        "set" => vec![Lit(b"SET"), Rand(b"key:"), Data],
        "get" => vec![Lit(b"GET"), Rand(b"key:")],
        "incr" => vec![Lit(b"INCR"), Rand(b"counter:")],
        "lpush" => vec![Lit(b"LPUSH"), Lit(b"mylist"), Data],
        "rpush" => vec![Lit(b"RPUSH"), Lit(b"mylist"), Data],
        "lpop" => vec![Lit(b"LPOP"), Lit(b"mylist")],
        "rpop" => vec![Lit(b"RPOP"), Lit(b"mylist")],
        "sadd" => vec![Lit(b"SADD"), Lit(b"myset"), Rand(b"element:")],
        "hset" => vec![Lit(b"HSET"), Lit(b"myhash"), Rand(b"element:"), Data],
        "spop" => vec![Lit(b"SPOP"), Lit(b"myset")],
        _ => {
            let mut v = vec![Lit(b"MSET")];
            for _ in 0..10 {
                v.extend([Rand(b"key:"), Data]);
            }
            v
        }
    }
}

/// Queues one request of `parts` on `c`; `keys` is scratch space reused across calls.
fn send_request(
    c: &mut Client,
    parts: &[Part],
    keys: &mut Vec<Vec<u8>>,
    rng: &mut Rng,
    keyspace: Option<u64>,
    data: &[u8],
) -> io::Result<u64> {
    keys.resize_with(parts.len(), Vec::new);
    for (p, k) in parts.iter().zip(keys.iter_mut()) {
        if let Part::Rand(prefix) = p {
            k.clear();
            k.extend_from_slice(prefix);
            let n = keyspace.map_or(0, |ks| rng.next() % ks);
            // Writing to a Vec cannot fail.
            let _ = write!(k, "{n:012}");
        }
    }
    let args: Vec<&[u8]> = parts
        .iter()
        .zip(keys.iter())
        .map(|(p, k)| match p {
            Part::Lit(l) => *l,
            Part::Rand(_) => k.as_slice(),
            Part::Data => data,
        })
        .collect();
    c.send(&args)
}

fn title(test: &str) -> &'static str {
    match test {
        "ping" => "PING_MBULK",
        "set" => "SET",
        "get" => "GET",
        "incr" => "INCR",
        "lpush" => "LPUSH",
        "rpush" => "RPUSH",
        "lpop" => "LPOP",
        "rpop" => "RPOP",
        "sadd" => "SADD",
        "hset" => "HSET",
        "spop" => "SPOP",
        _ => "MSET (10 keys)",
    }
}

struct Shared {
    /// Requests handed out so far.
    claimed: AtomicU64,
    /// Replies received so far (for the progress line).
    done: AtomicU64,
    /// Sum of their latencies in µs.
    lat_sum: AtomicU64,
    errors: AtomicU64,
    first_error: Mutex<Option<String>>,
    failed: AtomicBool,
}

fn connect(o: &Opts) -> io::Result<Client> {
    let mut c = Client::connect(&o.host, o.port, o.proto, Some(Duration::from_secs(30)))?;
    if let Some(p) = &o.pass {
        if let Value::Error(e) = c.call(&[b"AUTH", p.as_bytes()])? {
            return Err(io::Error::other(format!("AUTH failed: {e}")));
        }
    }
    Ok(c)
}

/// One client thread: claims batches of up to `-P` requests until `-n` are handed out.
fn worker(mut c: Client, test: &str, o: &Opts, sh: &Shared, seed: u64) -> io::Result<Hist> {
    let mut h = Hist::new();
    let mut rng = Rng(seed | 1);
    let data = vec![b'x'; o.data_size];
    let parts = template(test);
    let mut keys = Vec::new();
    loop {
        let start = sh.claimed.fetch_add(o.pipeline as u64, Ordering::Relaxed);
        if start >= o.requests {
            return Ok(h);
        }
        let k = (o.requests - start).min(o.pipeline as u64);
        for _ in 0..k {
            send_request(&mut c, &parts, &mut keys, &mut rng, o.keyspace, &data)?;
        }
        let t0 = Instant::now();
        c.flush()?;
        let mut got = 0;
        while got < k {
            let (id, v) = c.recv()?;
            if c.is_out_of_band(id, &v) {
                continue;
            }
            got += 1;
            let us = t0.elapsed().as_micros() as u64;
            h.record(us);
            sh.done.fetch_add(1, Ordering::Relaxed);
            sh.lat_sum.fetch_add(us, Ordering::Relaxed);
            if let Value::Error(e) = v {
                sh.errors.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut f) = sh.first_error.lock() {
                    f.get_or_insert(e);
                }
            }
        }
    }
}

/// Runs one test; `None` when a connection failed (message printed).
fn run_test(test: &str, o: &Opts) -> Option<(Hist, f64, u64)> {
    let name = title(test);
    let sh = Arc::new(Shared {
        claimed: AtomicU64::new(0),
        done: AtomicU64::new(0),
        lat_sum: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        first_error: Mutex::new(None),
        failed: AtomicBool::new(false),
    });
    // Connect every client first, so connection setup is not measured.
    let mut conns = Vec::with_capacity(o.clients);
    for _ in 0..o.clients.min(o.requests.max(1) as usize) {
        match connect(o) {
            Ok(c) => conns.push(c),
            Err(e) => {
                eprintln!("Could not connect to server at {}:{}: {e}", o.host, o.port);
                return None;
            }
        }
    }
    let seed0 = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(42);
    let started = Instant::now();
    let finished = Arc::new(AtomicBool::new(false));
    let progress = {
        let (sh, finished) = (sh.clone(), finished.clone());
        let show = !o.csv;
        std::thread::spawn(move || {
            let mut last = (Instant::now(), 0u64);
            let mut shown = false;
            while !finished.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(50));
                if last.0.elapsed() < Duration::from_millis(250) || !show {
                    continue;
                }
                let done = sh.done.load(Ordering::Relaxed);
                let now = Instant::now();
                let rps = (done - last.1) as f64 / now.duration_since(last.0).as_secs_f64();
                let overall = done as f64 / started.elapsed().as_secs_f64();
                let avg = if done > 0 { sh.lat_sum.load(Ordering::Relaxed) as f64 / done as f64 / 1000.0 } else { 0.0 };
                eprint!("\r{name}: rps={rps:.1} (overall: {overall:.1}) avg_msec={avg:.3} (overall: {avg:.3})\x1b[K");
                let _ = io::stderr().flush();
                last = (now, done);
                shown = true;
            }
            shown
        })
    };
    let hists: Vec<Option<Hist>> = std::thread::scope(|s| {
        let handles: Vec<_> = conns
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                let sh = &sh;
                s.spawn(move || match worker(c, test, o, sh, seed0.wrapping_add(i as u64 * 0x9e37_79b9)) {
                    Ok(h) => Some(h),
                    Err(e) => {
                        if !sh.failed.swap(true, Ordering::Relaxed) {
                            eprintln!("\nError from server at {}:{}: {e}", o.host, o.port);
                        }
                        // Stop the others from claiming more work.
                        sh.claimed.store(u64::MAX / 2, Ordering::Relaxed);
                        None
                    }
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().ok().flatten()).collect()
    });
    let secs = started.elapsed().as_secs_f64();
    finished.store(true, Ordering::Relaxed);
    if progress.join().unwrap_or(false) {
        eprint!("\r\x1b[K");
    }
    if sh.failed.load(Ordering::Relaxed) {
        return None;
    }
    let mut total = Hist::new();
    for h in hists.iter().flatten() {
        total.merge(h);
    }
    let errors = sh.errors.load(Ordering::Relaxed);
    if errors > 0 {
        let first = sh.first_error.lock().ok().and_then(|f| f.clone()).unwrap_or_default();
        eprintln!("{name}: {errors} error replies (first: {first})");
    }
    Some((total, secs, errors))
}

fn main() -> ExitCode {
    let o = parse_opts();
    if o.csv {
        println!(
            "\"test\",\"rps\",\"avg_latency_ms\",\"min_latency_ms\",\"p50_latency_ms\",\"p95_latency_ms\",\"p99_latency_ms\",\"max_latency_ms\""
        );
    }
    let mut status = ExitCode::SUCCESS;
    let tests = o.tests.clone();
    for t in &tests {
        let Some((h, secs, errors)) = run_test(t, &o) else {
            return ExitCode::from(1);
        };
        if errors > 0 {
            status = ExitCode::from(1);
        }
        let name = title(t);
        let rps = if secs > 0.0 { h.total as f64 / secs } else { 0.0 };
        let avg = if h.total > 0 { h.sum as f64 / h.total as f64 / 1000.0 } else { 0.0 };
        let min = if h.total > 0 { h.min } else { 0 };
        let (p50, p95, p99) = (h.percentile(50.0), h.percentile(95.0), h.percentile(99.0));
        if o.csv {
            println!(
                "\"{name}\",\"{rps:.2}\",\"{avg:.3}\",\"{:.3}\",\"{:.3}\",\"{:.3}\",\"{:.3}\",\"{:.3}\"",
                ms(min),
                ms(p50),
                ms(p95),
                ms(p99),
                ms(h.max)
            );
        } else if o.quiet {
            println!("{name}: {rps:.2} requests per second, p50={:.3} msec", ms(p50));
        } else {
            let proto = match o.proto {
                Protocol::Msgpack => "msgpack",
                _ => "resp",
            };
            println!("====== {name} ======");
            println!("  {} requests completed in {secs:.2} seconds", h.total);
            println!("  {} parallel clients", o.clients);
            println!("  {} bytes payload", o.data_size);
            println!("  pipeline {}, protocol {proto}", o.pipeline);
            println!();
            println!("Summary:");
            println!("  throughput summary: {rps:.2} requests per second");
            println!("  latency summary (msec):");
            println!("          avg       min       p50       p95       p99       max");
            println!("    {avg:9.3} {:9.3} {:9.3} {:9.3} {:9.3} {:9.3}", ms(min), ms(p50), ms(p95), ms(p99), ms(h.max));
            println!();
        }
        let _ = io::stdout().flush();
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_close() {
        for v in [0u64, 1, 63, 64, 65, 100, 1000, 12_345, 999_999, 1 << 40] {
            let got = Hist::value(Hist::index(v));
            let err = got.abs_diff(v) as f64 / (v.max(1)) as f64;
            assert!(err < 0.02, "{v} -> {got}");
        }
        let mut h = Hist::new();
        for v in 1..=1000 {
            h.record(v);
        }
        assert!((h.percentile(50.0) as f64 - 500.0).abs() < 10.0);
        assert!((h.percentile(99.0) as f64 - 990.0).abs() < 20.0);
        assert_eq!(h.percentile(100.0), 1000);
        assert_eq!(h.min, 1);
    }
}
