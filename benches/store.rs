//! Striped keyspace throughput: SET/GET through stripe locks, single-threaded and with
//! several threads on shared stripes. Run: `cargo bench --bench store`.

use rustis::store::{Keyspace, Value};
use std::sync::Arc;
use std::time::Instant;

fn run(threads: usize, ops: usize, ks: &Arc<Keyspace>) -> f64 {
    let start = Instant::now();
    let hs: Vec<_> = (0..threads)
        .map(|t| {
            let ks = ks.clone();
            std::thread::spawn(move || {
                let db = &ks.dbs[0];
                let mut x: u64 = 0x9e37_79b9 ^ t as u64;
                for i in 0..ops {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let key = format!("key:{:012}", x % 100_000);
                    let s = &db.stripes[db.stripe_of(key.as_bytes())];
                    if i % 2 == 0 {
                        s.write().set(key.as_bytes(), Value::string(b"value-0123456789"), None, 0);
                    } else {
                        std::hint::black_box(s.read().get(key.as_bytes(), 0).is_some());
                    }
                }
            })
        })
        .collect();
    for h in hs {
        h.join().expect("bench thread");
    }
    (threads * ops) as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let ks = Arc::new(Keyspace::new(1, 1024));
    run(1, 200_000, &ks); // warm up and populate
    for t in [1, 2, 4] {
        let rate = run(t, 1_000_000, &ks);
        println!("{t} thread(s): {:>6.2} M ops/s (50% SET / 50% GET, 100k keys, 1024 stripes)", rate / 1e6);
    }
}
