//! Metrics: the histogram type the workers record into, the scrape-time [`Snapshot`]
//! the server fills from its counters, its rendering in Prometheus text format (through
//! the `prometheus` crate's encoder), and the hyper `/metrics` endpoint ([`http`]).
//!
//! Must hold: nothing here runs on the command path except [`Hist::observe_ns`] (a few
//! comparisons and an add on the recording worker's own counters); everything else runs
//! at scrape time on the metrics thread. Metric names are final (README "Metrics").
//! Imports nothing else from the crate.

pub mod http;

use prometheus::proto::{Bucket, Counter, Gauge, Histogram, LabelPair, Metric, MetricFamily, MetricType};
use prometheus::{Encoder, TextEncoder};

/// Histogram bucket upper bounds in microseconds (10 us .. 1 s), plus +Inf.
pub const BUCKETS_US: [u64; 15] =
    [10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 1_000_000];

/// A fine log-linear latency histogram (INFO latencystats, Redis's per-command HDR
/// histogram): exact below 32 ns, then 32 sub-buckets per power of two (values are
/// reported as the bucket's highest value, at most 1/32 above the true one), up to 2^41 ns.
#[derive(Clone, Debug)]
pub struct FineHist {
    counts: Box<[u64]>,
    total: u64,
}

const FINE_SUB: u32 = 32;
const FINE_MAX_EXP: u32 = 40;
const FINE_LEN: usize = ((FINE_MAX_EXP - 3) * FINE_SUB) as usize;

impl Default for FineHist {
    fn default() -> Self {
        FineHist { counts: vec![0; FINE_LEN].into_boxed_slice(), total: 0 }
    }
}

impl FineHist {
    fn index(ns: u64) -> usize {
        let ns = ns.min((1u64 << (FINE_MAX_EXP + 1)) - 1);
        if ns < FINE_SUB as u64 {
            return ns as usize;
        }
        let e = 63 - ns.leading_zeros();
        let m = (ns >> (e - 5)) & (FINE_SUB as u64 - 1);
        ((e - 4) * FINE_SUB) as usize + m as usize
    }
    /// The highest value that falls in bucket `i`.
    fn upper(i: usize) -> u64 {
        if i < FINE_SUB as usize {
            return i as u64;
        }
        let e = (i / FINE_SUB as usize) as u32 + 4;
        let m = (i % FINE_SUB as usize) as u64;
        ((FINE_SUB as u64 + m + 1) << (e - 5)) - 1
    }
    #[inline]
    pub fn observe_ns(&mut self, ns: u64) {
        self.counts[Self::index(ns)] += 1;
        self.total += 1;
    }
    pub fn merge(&mut self, o: &FineHist) {
        for (a, b) in self.counts.iter_mut().zip(o.counts.iter()) {
            *a += b;
        }
        self.total += o.total;
    }
    pub fn total(&self) -> u64 {
        self.total
    }
    /// The value (ns) at percentile `p` (0..=100), as hdr_value_at_percentile: the
    /// highest value of the bucket holding the ceil(p% of total)-th observation.
    pub fn value_at_percentile(&self, p: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let want = (((p.clamp(0.0, 100.0) / 100.0) * self.total as f64) + 0.5) as u64;
        let want = want.max(1);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= want {
                return Self::upper(i);
            }
        }
        Self::upper(FINE_LEN - 1)
    }
}

/// A latency histogram kept by one recorder without synchronisation; merged at scrape.
#[derive(Clone, Copy, Debug, Default)]
pub struct Hist {
    /// Observations per bucket (not cumulative); the last one is +Inf.
    pub counts: [u64; BUCKETS_US.len() + 1],
    pub sum_ns: u64,
}

impl Hist {
    #[inline]
    pub fn observe_ns(&mut self, ns: u64) {
        let us = ns / 1000;
        let i = BUCKETS_US.iter().position(|&b| us <= b).unwrap_or(BUCKETS_US.len());
        self.counts[i] += 1;
        self.sum_ns += ns;
    }
    pub fn merge(&mut self, o: &Hist) {
        for (a, b) in self.counts.iter_mut().zip(o.counts.iter()) {
            *a += b;
        }
        self.sum_ns += o.sum_ns;
    }
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }
}

/// One command's counters, summed over workers.
#[derive(Clone, Debug, Default)]
pub struct CommandSnap {
    pub name: String,
    pub calls: u64,
    /// Error replies while running.
    pub failed: u64,
    /// Refused before running (arity, unknown subcommand, ...).
    pub rejected: u64,
    pub duration: Hist,
}

/// Everything one scrape reports.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub commands_processed: u64,
    pub commands: Vec<CommandSnap>,
    pub bytes_read: u64,
    pub bytes_written: u64,
    pub connected_clients: u64,
    pub connections_received: u64,
    /// The MessagePack share of bytes_read, bytes_written, connected_clients and
    /// connections_received (the rest is RESP).
    pub msgpack: [u64; 4],
    pub rejected_connections: u64,
    pub obuf_disconnections: u64,
    pub rate_limited: u64,
    /// Scripts run in parallel and alone, and parallel runs rolled back.
    pub scripts: [u64; 2],
    pub script_rollbacks: u64,
    /// (db index, keys) for non-empty dbs.
    pub keys: Vec<(usize, u64)>,
    pub expired_keys: u64,
    pub evicted_keys: u64,
    pub memory_used: u64,
    pub blocked_clients: u64,
    pub pubsub_channels: u64,
    /// Waits for contended stripe locks.
    pub lock_wait: Hist,
    pub lock_acquire_failures: u64,
    pub active_locks: u64,
    pub worker_queue_depth: u64,
    /// Seconds each worker spent running jobs.
    pub worker_busy_seconds: Vec<f64>,
}

/// A family with `protocol="resp"` and `protocol="msgpack"` series from a total and its
/// MessagePack share.
fn by_protocol(name: &str, help: &str, t: MetricType, total: u64, msgpack: u64) -> MetricFamily {
    let resp = total.saturating_sub(msgpack) as f64;
    let mk = |p: &str, v: f64| {
        if t == MetricType::GAUGE {
            gauge(&[("protocol", p)], v)
        } else {
            counter(&[("protocol", p)], v)
        }
    };
    family(name, help, t, vec![mk("resp", resp), mk("msgpack", msgpack as f64)])
}

fn family(name: &str, help: &str, t: MetricType, metrics: Vec<Metric>) -> MetricFamily {
    let mut f = MetricFamily::default();
    f.set_name(name.to_string());
    f.set_help(help.to_string());
    f.set_field_type(t);
    for m in metrics {
        f.mut_metric().push(m);
    }
    f
}

fn labelled(labels: &[(&str, &str)]) -> Metric {
    let mut m = Metric::default();
    m.set_label(
        labels
            .iter()
            .map(|(k, v)| {
                let mut l = LabelPair::default();
                l.set_name(k.to_string());
                l.set_value(v.to_string());
                l
            })
            .collect(),
    );
    m
}

fn counter(labels: &[(&str, &str)], v: f64) -> Metric {
    let mut m = labelled(labels);
    let mut c = Counter::default();
    c.set_value(v);
    m.set_counter(c);
    m
}

fn gauge(labels: &[(&str, &str)], v: f64) -> Metric {
    let mut m = labelled(labels);
    let mut g = Gauge::default();
    g.set_value(v);
    m.set_gauge(g);
    m
}

fn histogram(labels: &[(&str, &str)], h: &Hist) -> Metric {
    let mut m = labelled(labels);
    let mut p = Histogram::default();
    let mut cum = 0;
    let mut buckets = Vec::with_capacity(BUCKETS_US.len());
    for (i, b) in BUCKETS_US.iter().enumerate() {
        cum += h.counts[i];
        let mut bk = Bucket::default();
        bk.set_upper_bound(*b as f64 / 1e6);
        bk.set_cumulative_count(cum);
        buckets.push(bk);
    }
    p.set_bucket(buckets);
    p.set_sample_count(h.count());
    p.set_sample_sum(h.sum_ns as f64 / 1e9);
    m.set_histogram(p);
    m
}

/// The Prometheus text exposition of a snapshot.
pub fn render(s: &Snapshot) -> String {
    use MetricType::{COUNTER, GAUGE, HISTOGRAM};
    let one = |name: &str, help: &str, t: MetricType, v: f64| {
        let m = if t == COUNTER { counter(&[], v) } else { gauge(&[], v) };
        family(name, help, t, vec![m])
    };
    let used: Vec<&CommandSnap> = s.commands.iter().filter(|c| c.calls + c.rejected > 0).collect();
    let mut errors = Vec::new();
    for c in &used {
        if c.failed > 0 {
            errors.push(counter(&[("cmd", &c.name), ("kind", "failed")], c.failed as f64));
        }
        if c.rejected > 0 {
            errors.push(counter(&[("cmd", &c.name), ("kind", "rejected")], c.rejected as f64));
        }
    }
    let mut fams = vec![
        one("rustis_commands_processed_total", "Commands run", COUNTER, s.commands_processed as f64),
        family(
            "rustis_command_calls_total",
            "Calls per command",
            COUNTER,
            used.iter().map(|c| counter(&[("cmd", &c.name)], c.calls as f64)).collect(),
        ),
        family(
            "rustis_command_duration_seconds",
            "Command run time (locking included)",
            HISTOGRAM,
            used.iter().filter(|c| c.calls > 0).map(|c| histogram(&[("cmd", &c.name)], &c.duration)).collect(),
        ),
        family("rustis_command_errors_total", "Error replies per command; kind=failed|rejected", COUNTER, errors),
        by_protocol("rustis_bytes_read_total", "Bytes read from clients", COUNTER, s.bytes_read, s.msgpack[0]),
        by_protocol("rustis_bytes_written_total", "Bytes written to clients", COUNTER, s.bytes_written, s.msgpack[1]),
        by_protocol("rustis_connected_clients", "Connected clients", GAUGE, s.connected_clients, s.msgpack[2]),
        by_protocol(
            "rustis_connections_received_total",
            "Connections accepted",
            COUNTER,
            s.connections_received,
            s.msgpack[3],
        ),
        one(
            "rustis_rejected_connections_total",
            "Connections refused (maxclients)",
            COUNTER,
            s.rejected_connections as f64,
        ),
        one(
            "rustis_output_buffer_limit_disconnections_total",
            "Clients closed by client-output-buffer-limit",
            COUNTER,
            s.obuf_disconnections as f64,
        ),
        one(
            "rustis_rate_limited_total",
            "Times a client used up its client-rate-limit budget and was held back",
            COUNTER,
            s.rate_limited as f64,
        ),
        family(
            "rustis_scripts_total",
            "Scripts and functions run (EVAL*, FCALL*), in parallel or alone (exclusive)",
            COUNTER,
            vec![
                counter(&[("mode", "parallel")], s.scripts[0] as f64),
                counter(&[("mode", "exclusive")], s.scripts[1] as f64),
            ],
        ),
        one(
            "rustis_script_rollbacks_total",
            "Parallel script runs rolled back to run again alone (an undeclared key was busy)",
            COUNTER,
            s.script_rollbacks as f64,
        ),
        family(
            "rustis_keys",
            "Keys per database",
            GAUGE,
            s.keys.iter().map(|(db, n)| gauge(&[("db", &db.to_string())], *n as f64)).collect(),
        ),
        one("rustis_expired_keys_total", "Keys removed by expiry", COUNTER, s.expired_keys as f64),
        one("rustis_evicted_keys_total", "Keys evicted by maxmemory", COUNTER, s.evicted_keys as f64),
        one("rustis_memory_used_bytes", "Bytes allocated (jemalloc)", GAUGE, s.memory_used as f64),
        one("rustis_blocked_clients", "Clients parked on blocking commands", GAUGE, s.blocked_clients as f64),
        one("rustis_pubsub_channels", "Channels with subscribers", GAUGE, s.pubsub_channels as f64),
        family(
            "rustis_lock_wait_duration_seconds",
            "Waits for contended locks, by lock kind",
            HISTOGRAM,
            vec![histogram(&[("lock", "stripe")], &s.lock_wait)],
        ),
        one(
            "rustis_lock_acquire_failures_total",
            "Lock try-acquisitions that found the lock taken",
            COUNTER,
            s.lock_acquire_failures as f64,
        ),
        one("rustis_active_locks", "Stripe locks held now", GAUGE, s.active_locks as f64),
        one("rustis_worker_queue_depth", "Job batches waiting for a worker", GAUGE, s.worker_queue_depth as f64),
        family(
            "rustis_worker_busy_seconds_total",
            "Time each worker spent running commands",
            COUNTER,
            s.worker_busy_seconds.iter().enumerate().map(|(i, v)| counter(&[("worker", &i.to_string())], *v)).collect(),
        ),
    ];
    // The encoder refuses a family without series and stops there, dropping every family
    // after it (a fresh server with no errors lost most of its scrape): leave them out.
    fams.retain(|f| !f.get_metric().is_empty());
    let mut buf = Vec::new();
    if let Err(e) = TextEncoder::new().encode(&fams, &mut buf) {
        log::error!("metrics encoding failed: {e}");
    }
    String::from_utf8_lossy(&buf).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_and_render() {
        let mut h = Hist::default();
        h.observe_ns(5_000); // 5 us
        h.observe_ns(300_000); // 300 us
        h.observe_ns(5_000_000_000); // 5 s: +Inf
        assert_eq!(h.counts[0], 1);
        assert_eq!(h.counts[5], 1);
        assert_eq!(h.counts[BUCKETS_US.len()], 1);
        let s = Snapshot {
            commands: vec![CommandSnap { name: "get".into(), calls: 3, failed: 1, rejected: 0, duration: h }],
            keys: vec![(0, 7)],
            worker_busy_seconds: vec![0.5],
            ..Default::default()
        };
        let text = render(&s);
        assert!(text.contains("rustis_command_calls_total{cmd=\"get\"} 3"), "{text}");
        assert!(text.contains("rustis_command_duration_seconds_bucket{cmd=\"get\",le=\"0.00001\"} 1"), "{text}");
        assert!(text.contains("rustis_command_duration_seconds_count{cmd=\"get\"} 3"), "{text}");
        assert!(text.contains("rustis_command_errors_total{cmd=\"get\",kind=\"failed\"} 1"), "{text}");
        assert!(text.contains("rustis_keys{db=\"0\"} 7"), "{text}");
        assert!(text.contains("rustis_worker_busy_seconds_total{worker=\"0\"} 0.5"), "{text}");
    }

    #[test]
    fn a_fresh_server_renders_every_family_with_series() {
        // No commands, no errors, no keys: the empty families are left out and the rest
        // still render (the encoder used to stop at the first empty one).
        let s =
            Snapshot { connected_clients: 3, msgpack: [10, 20, 1, 4], connections_received: 9, ..Default::default() };
        let text = render(&s);
        assert!(!text.contains("rustis_command_calls_total"), "{text}");
        assert!(text.contains("rustis_connected_clients{protocol=\"resp\"} 2"), "{text}");
        assert!(text.contains("rustis_connected_clients{protocol=\"msgpack\"} 1"), "{text}");
        assert!(text.contains("rustis_connections_received_total{protocol=\"msgpack\"} 4"), "{text}");
        assert!(text.contains("rustis_worker_queue_depth 0"), "{text}");
    }
}

#[cfg(test)]
mod fine_tests {
    use super::FineHist;

    #[test]
    fn buckets_are_contiguous_and_tight() {
        let mut prev = None;
        for i in 0..super::FINE_LEN {
            let up = FineHist::upper(i);
            if let Some(p) = prev {
                assert_eq!(FineHist::index(p + 1), i, "value {} after bucket {}", p + 1, i - 1);
            }
            assert_eq!(FineHist::index(up), i);
            prev = Some(up);
        }
        for v in [1u64, 31, 32, 33, 1000, 12_345, 999_999, 1 << 30] {
            let up = FineHist::upper(FineHist::index(v));
            assert!(up >= v && up - v <= v / 32, "{v} -> {up}");
        }
    }

    #[test]
    fn percentiles_follow_the_distribution() {
        let mut h = FineHist::default();
        assert_eq!(h.value_at_percentile(50.0), 0);
        for v in 1..=1000u64 {
            h.observe_ns(v * 1000);
        }
        let p50 = h.value_at_percentile(50.0);
        assert!((500_000..=516_000).contains(&p50), "{p50}");
        let p99 = h.value_at_percentile(99.0);
        assert!((990_000..=1_022_000).contains(&p99), "{p99}");
        assert!(h.value_at_percentile(0.0) >= 1000 && h.value_at_percentile(0.0) < 1032);
        let mut g = FineHist::default();
        g.merge(&h);
        assert_eq!(g.total(), 1000);
        assert_eq!(g.value_at_percentile(99.9), h.value_at_percentile(99.9));
    }
}
