//! Transactions across connections: MULTI/EXEC is atomic for other clients (readers never
//! see half of a transaction, even with several workers and keys on different stripes),
//! optimistic locking with WATCH never lets a conflicting write through, WATCH is
//! invalidated by other clients' writes, deletions, flushes and by expiry (but not by reads
//! or by writes to other keys), and a blocking command inside MULTI never blocks.
//! Single-connection reply details are in `tests/diff/transactions.redis`.
//!
//! Every expectation was checked against redis-server 7.0.15:
//! `RUSTIS_TEST_TARGET=redis cargo test --test transactions` (plain
//! `cargo test --test transactions` runs against rustis-server with `--workers 4`). Every
//! loop is bounded by count and time, and every test body runs under `with_deadline` so a
//! deadlock is a failure, not a hang.

mod common;
mod support;

use redis::{cmd, Value};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};
use support::{client, start, with_deadline};

const SERVER_ARGS: &[&str] = &["--workers", "4"];

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// Runs `args` and returns the reply (panics on an error reply).
fn run(con: &mut redis::Connection, args: &[&str]) -> Value {
    let mut c = cmd(args[0]);
    for a in &args[1..] {
        c.arg(*a);
    }
    c.query::<Value>(con).unwrap_or_else(|e| panic!("{args:?} failed: {}", support::error_text(&e)))
}

/// Sends `MULTI`, then each command of `cmds` (each must reply `+QUEUED`), then `EXEC`, one
/// round trip at a time so that other clients' commands can interleave with the queueing.
/// Returns EXEC's reply: `Value::Nil` when a watched key was touched, else an array.
fn transaction(con: &mut redis::Connection, cmds: &[Vec<String>]) -> Value {
    assert_eq!(run(con, &["MULTI"]), Value::Okay, "MULTI");
    for c in cmds {
        let args: Vec<&str> = c.iter().map(String::as_str).collect();
        let r = run(con, &args);
        assert_eq!(r, Value::SimpleString("QUEUED".into()), "{args:?} inside MULTI");
    }
    run(con, &["EXEC"])
}

/// Builds a command line from string slices.
fn line(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// The elements of an array reply.
fn items(v: &Value) -> &[Value] {
    match v {
        Value::Array(a) => a,
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

/// A small deterministic PRNG (xorshift64*), so runs are reproducible without extra crates.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

// ---------------------------------------------------------------------------------------
// Atomicity of EXEC for other clients
// ---------------------------------------------------------------------------------------

#[test]
fn exec_is_atomic_for_other_clients() {
    let s = start(SERVER_ARGS);
    let port = s.port;
    const WRITERS: usize = 3;
    const N: usize = 300;
    {
        let mut c = client(port);
        assert_eq!(run(&mut c, &["MSET", "acct:1", "0", "acct:2", "0"]), Value::Okay);
    }
    with_deadline("MULTI/INCR/INCR/EXEC vs MGET", Duration::from_secs(60), move || {
        let stop = Arc::new(AtomicBool::new(false));
        let reads = Arc::new(AtomicU64::new(0));
        let hard_stop = Instant::now() + Duration::from_secs(45);
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                thread::spawn(move || {
                    let mut c = client(port);
                    for i in 0..N {
                        // Mix in writes to unrelated keys (other stripes) and vary the
                        // order, so the transaction spans several stripes.
                        let other = format!("other:{w}:{i}");
                        let cmds = match i % 3 {
                            0 => vec![line(&["INCR", "acct:1"]), line(&["INCR", "acct:2"])],
                            1 => vec![
                                line(&["INCR", "acct:2"]),
                                line(&["SET", &other, "x"]),
                                line(&["APPEND", &other, "yyyy"]),
                                line(&["GETRANGE", &other, "0", "-1"]),
                                line(&["MGET", "acct:1", "acct:2"]),
                                line(&["INCR", "acct:1"]),
                            ],
                            _ => vec![
                                line(&["INCRBY", "acct:1", "1"]),
                                line(&["GET", "acct:2"]),
                                line(&["INCRBY", "acct:2", "1"]),
                                line(&["DEL", &other]),
                            ],
                        };
                        let r = transaction(&mut c, &cmds);
                        let r = items(&r);
                        assert_eq!(r.len(), cmds.len(), "EXEC reply {r:?}");
                        if i % 3 == 1 {
                            // Nobody else ran between this transaction's commands.
                            let (a, b): (i64, i64) = redis::from_redis_value(&r[4]).unwrap();
                            assert_eq!((a + 1, b), (int(&r[5]), int(&r[0])), "interleaved inside EXEC: {r:?}");
                        }
                        if i % 3 == 0 {
                            assert_eq!(r[0], r[1], "INCR acct:1 / INCR acct:2 inside one EXEC differ: {r:?}");
                        }
                    }
                })
            })
            .collect();
        let readers: Vec<_> = (0..2)
            .map(|r| {
                let stop = stop.clone();
                let reads = reads.clone();
                thread::spawn(move || {
                    let mut c = client(port);
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) && n < 1_000_000 && Instant::now() < hard_stop {
                        let (a, b): (i64, i64) = if r == 0 || n % 4 != 0 {
                            cmd("MGET").arg("acct:1").arg("acct:2").query(&mut c).unwrap()
                        } else {
                            // A read-only transaction is a consistent snapshot too.
                            let v = transaction(&mut c, &[line(&["GET", "acct:1"]), line(&["GET", "acct:2"])]);
                            redis::from_redis_value(&v).unwrap()
                        };
                        assert_eq!(a, b, "a reader saw half of a transaction: acct:1={a} acct:2={b}");
                        n += 1;
                    }
                    reads.fetch_add(n, Ordering::Relaxed);
                })
            })
            .collect();
        for h in writers {
            h.join().expect("writer panicked");
        }
        stop.store(true, Ordering::Relaxed);
        for h in readers {
            h.join().expect("reader panicked (torn transaction?)");
        }
        let reads = reads.load(Ordering::Relaxed);
        assert!(reads > 50, "readers only completed {reads} reads");
        let mut c = client(port);
        let (a, b): (i64, i64) = cmd("MGET").arg("acct:1").arg("acct:2").query(&mut c).unwrap();
        assert_eq!((a, b), ((WRITERS * N) as i64, (WRITERS * N) as i64), "lost increments");
        let leftovers: Vec<String> = cmd("KEYS").arg("other:*").query(&mut c).unwrap();
        let expected = WRITERS * (0..N).filter(|i| i % 3 == 1).count();
        assert_eq!(leftovers.len(), expected, "one other:* key per `i % 3 == 1` transaction");
        eprintln!("{reads} consistent reads");
    });
}

#[test]
fn transfer_invariant_under_concurrency() {
    let s = start(SERVER_ARGS);
    let port = s.port;
    const ACCOUNTS: usize = 10;
    const THREADS: usize = 4;
    const TRANSFERS: usize = 250;
    let names: Vec<String> = (0..ACCOUNTS).map(|i| format!("bank:{i}")).collect();
    {
        let mut c = client(port);
        let mut m = cmd("MSET");
        for n in &names {
            m.arg(n).arg(100);
        }
        let _: () = m.query(&mut c).unwrap();
    }
    with_deadline("transfers vs MGET sum", Duration::from_secs(60), move || {
        let stop = Arc::new(AtomicBool::new(false));
        let reads = Arc::new(AtomicU64::new(0));
        let hard_stop = Instant::now() + Duration::from_secs(45);
        let movers: Vec<_> = (0..THREADS)
            .map(|t| {
                let names = names.clone();
                thread::spawn(move || {
                    let mut c = client(port);
                    let mut rng = Rng::new(t as u64 + 1);
                    let mut delta = [0i64; ACCOUNTS];
                    for _ in 0..TRANSFERS {
                        let from = rng.below(ACCOUNTS as u64) as usize;
                        let to = (from + 1 + rng.below(ACCOUNTS as u64 - 1) as usize) % ACCOUNTS;
                        let x = 1 + rng.below(20) as i64;
                        let xs = x.to_string();
                        let r = transaction(
                            &mut c,
                            &[line(&["DECRBY", &names[from], &xs]), line(&["INCRBY", &names[to], &xs])],
                        );
                        assert_eq!(items(&r).len(), 2, "EXEC reply {r:?}");
                        delta[from] -= x;
                        delta[to] += x;
                    }
                    delta
                })
            })
            .collect();
        let readers: Vec<_> = (0..2)
            .map(|r| {
                let names = names.clone();
                let stop = stop.clone();
                let reads = reads.clone();
                thread::spawn(move || {
                    let mut c = client(port);
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) && n < 1_000_000 && Instant::now() < hard_stop {
                        let vals: Vec<i64> = if r == 0 || n % 4 != 0 {
                            cmd("MGET").arg(&names).query(&mut c).unwrap()
                        } else {
                            let gets: Vec<Vec<String>> = names.iter().map(|k| line(&["GET", k])).collect();
                            redis::from_redis_value(&transaction(&mut c, &gets)).unwrap()
                        };
                        let sum: i64 = vals.iter().sum();
                        assert_eq!(sum, 1000, "money created or destroyed mid-transfer: {vals:?}");
                        n += 1;
                    }
                    reads.fetch_add(n, Ordering::Relaxed);
                })
            })
            .collect();
        let mut want = [100i64; ACCOUNTS];
        for h in movers {
            let d = h.join().expect("transfer thread panicked");
            for i in 0..ACCOUNTS {
                want[i] += d[i];
            }
        }
        stop.store(true, Ordering::Relaxed);
        for h in readers {
            h.join().expect("reader panicked (torn transfer?)");
        }
        let reads = reads.load(Ordering::Relaxed);
        assert!(reads > 50, "readers only completed {reads} reads");
        let mut c = client(port);
        let got: Vec<i64> = cmd("MGET").arg(&names).query(&mut c).unwrap();
        assert_eq!(got, want.to_vec(), "final balances");
        assert_eq!(got.iter().sum::<i64>(), 1000);
        eprintln!("{reads} reads, sum always 1000");
    });
}

// ---------------------------------------------------------------------------------------
// WATCH
// ---------------------------------------------------------------------------------------

#[test]
fn watch_never_misses_a_conflicting_write() {
    let s = start(SERVER_ARGS);
    let port = s.port;
    const THREADS: usize = 4;
    const SUCCESSES: usize = 200;
    const MAX_ATTEMPTS: usize = 10_000;
    with_deadline("WATCH/GET/MULTI/SET/EXEC counter", Duration::from_secs(120), move || {
        let hard_stop = Instant::now() + Duration::from_secs(100);
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                thread::spawn(move || {
                    let mut c = client(port);
                    let mut written = Vec::new();
                    let mut aborts = 0usize;
                    let mut attempts = 0usize;
                    while written.len() < SUCCESSES {
                        attempts += 1;
                        assert!(
                            attempts <= MAX_ATTEMPTS && Instant::now() < hard_stop,
                            "only {} successes after {attempts} attempts",
                            written.len()
                        );
                        assert_eq!(run(&mut c, &["WATCH", "counter"]), Value::Okay);
                        let v: Option<i64> = cmd("GET").arg("counter").query(&mut c).unwrap();
                        let next = v.unwrap_or(0) + 1;
                        let r = transaction(&mut c, &[line(&["SET", "counter", &next.to_string()])]);
                        match r {
                            Value::Nil => aborts += 1,
                            Value::Array(ref a) => {
                                assert_eq!(a, &[Value::Okay], "EXEC reply");
                                written.push(next);
                            }
                            other => panic!("unexpected EXEC reply {other:?}"),
                        }
                    }
                    (written, aborts)
                })
            })
            .collect();
        let mut all = Vec::new();
        let mut aborts = 0;
        for h in handles {
            let (w, a) = h.join().expect("counter thread panicked");
            all.extend(w);
            aborts += a;
        }
        assert_eq!(all.len(), THREADS * SUCCESSES, "successful EXECs");
        // Every successful EXEC wrote a distinct value: no two clients both succeeded on
        // the same read (a missed conflict would write the same v+1 twice).
        all.sort_unstable();
        let want: Vec<i64> = (1..=(THREADS * SUCCESSES) as i64).collect();
        assert_eq!(all, want, "values written by successful EXECs");
        let mut c = client(port);
        let fin: i64 = cmd("GET").arg("counter").query(&mut c).unwrap();
        assert_eq!(fin, (THREADS * SUCCESSES) as i64, "final counter");
        eprintln!("{} successes, {aborts} aborted EXECs", all.len());
    });
}

/// A: `WATCH key`; then `between` runs (on B); then A: `MULTI; SET key mine; EXEC`.
/// Returns A's EXEC reply.
fn watch_then(a: &mut redis::Connection, key: &str, between: impl FnOnce()) -> Value {
    assert_eq!(run(a, &["WATCH", key]), Value::Okay);
    between();
    transaction(a, &[line(&["SET", key, "mine"])])
}

#[test]
fn watch_is_invalidated_by_other_clients_and_expiry() {
    let s = start(SERVER_ARGS);
    let port = s.port;
    with_deadline("WATCH invalidation cases", Duration::from_secs(30), move || {
        let mut a = client(port);
        let mut b = client(port);
        let ok = Value::Array(vec![Value::Okay]);

        // Untouched: EXEC runs.
        run(&mut b, &["SET", "k", "v"]);
        assert_eq!(watch_then(&mut a, "k", || {}), ok, "untouched watched key");

        // B overwrites k with the same value it already has.
        run(&mut b, &["SET", "k", "v"]);
        let r = watch_then(&mut a, "k", || assert_eq!(run(&mut b, &["SET", "k", "v"]), Value::Okay));
        assert_eq!(r, Value::Nil, "SET of the same value by another client");
        assert_eq!(run(&mut b, &["GET", "k"]), Value::BulkString(b"v".to_vec()), "aborted EXEC wrote nothing");

        // B deletes k.
        let r = watch_then(&mut a, "k", || assert_eq!(run(&mut b, &["DEL", "k"]), Value::Int(1)));
        assert_eq!(r, Value::Nil, "DEL by another client");
        assert_eq!(run(&mut b, &["EXISTS", "k"]), Value::Int(0));

        // B creates a key A watched while it did not exist.
        let r = watch_then(&mut a, "k", || assert_eq!(run(&mut b, &["SET", "k", "new"]), Value::Okay));
        assert_eq!(r, Value::Nil, "creation of a watched missing key");

        // B: EXPIRE k 0 deletes the key (Redis 7.0 replies 1 and the key is gone).
        let r = watch_then(&mut a, "k", || assert_eq!(run(&mut b, &["EXPIRE", "k", "0"]), Value::Int(1)));
        assert_eq!(r, Value::Nil, "EXPIRE k 0 by another client");
        assert_eq!(run(&mut b, &["EXISTS", "k"]), Value::Int(0));

        // B: EXPIRE with a positive TTL modifies the key too.
        run(&mut b, &["SET", "k", "v"]);
        let r = watch_then(&mut a, "k", || assert_eq!(run(&mut b, &["EXPIRE", "k", "1000"]), Value::Int(1)));
        assert_eq!(r, Value::Nil, "EXPIRE k 1000 by another client");

        // B: FLUSHALL while k exists.
        run(&mut b, &["SET", "k", "v"]);
        let r = watch_then(&mut a, "k", || assert_eq!(run(&mut b, &["FLUSHALL"]), Value::Okay));
        assert_eq!(r, Value::Nil, "FLUSHALL by another client");

        // B: FLUSHALL while the watched key does not exist: not a change of k.
        run(&mut b, &["SET", "unrelated", "x"]);
        let r = watch_then(&mut a, "nokey", || assert_eq!(run(&mut b, &["FLUSHALL"]), Value::Okay));
        assert_eq!(r, ok, "FLUSHALL of a db without the watched key");

        // Reads, and writes to other keys or to the same name in another db, do not count.
        run(&mut b, &["SET", "k", "v"]);
        let r = watch_then(&mut a, "k", || {
            assert_eq!(run(&mut b, &["GET", "k"]), Value::BulkString(b"v".to_vec()));
            assert_eq!(run(&mut b, &["EXISTS", "k"]), Value::Int(1));
            assert_eq!(run(&mut b, &["SET", "k2", "x"]), Value::Okay);
            assert_eq!(run(&mut b, &["DEL", "k2"]), Value::Int(1));
            assert_eq!(run(&mut b, &["SELECT", "1"]), Value::Okay);
            assert_eq!(run(&mut b, &["SET", "k", "db1"]), Value::Okay);
            assert_eq!(run(&mut b, &["SELECT", "0"]), Value::Okay);
        });
        assert_eq!(r, ok, "reads / other keys / other db");
        assert_eq!(run(&mut b, &["GET", "k"]), Value::BulkString(b"mine".to_vec()), "EXEC ran");

        // A watched key that expires before EXEC: Redis 7.0 fails the EXEC, whether or not
        // anything touched the key (active expiry may or may not have deleted it).
        run(&mut b, &["SET", "k", "v", "PX", "100"]);
        let r = watch_then(&mut a, "k", || thread::sleep(Duration::from_millis(300)));
        assert_eq!(r, Value::Nil, "watched key expired before EXEC");
        assert_eq!(run(&mut b, &["GET", "k"]), Value::Nil, "aborted EXEC wrote nothing");

        // Each aborted EXEC forgot its watches: a fresh transaction without WATCH runs.
        run(&mut b, &["SET", "k", "v"]);
        assert_eq!(transaction(&mut a, &[line(&["GET", "k"])]), Value::Array(vec![Value::BulkString(b"v".to_vec())]));

        // UNWATCH forgets the watch; other clients' writes after it do not matter.
        assert_eq!(run(&mut a, &["WATCH", "k"]), Value::Okay);
        assert_eq!(run(&mut a, &["UNWATCH"]), Value::Okay);
        run(&mut b, &["SET", "k", "changed"]);
        assert_eq!(transaction(&mut a, &[line(&["SET", "k", "mine"])]), ok, "after UNWATCH");

        // A write by another client between MULTI and EXEC aborts as well.
        let r = {
            assert_eq!(run(&mut a, &["WATCH", "k"]), Value::Okay);
            assert_eq!(run(&mut a, &["MULTI"]), Value::Okay);
            assert_eq!(run(&mut a, &["SET", "k", "mine2"]), Value::SimpleString("QUEUED".into()));
            run(&mut b, &["SET", "k", "theirs"]);
            run(&mut a, &["EXEC"])
        };
        assert_eq!(r, Value::Nil, "write between MULTI and EXEC");
        assert_eq!(run(&mut b, &["GET", "k"]), Value::BulkString(b"theirs".to_vec()));
    });
}

// ---------------------------------------------------------------------------------------
// MULTI state and blocking commands
// ---------------------------------------------------------------------------------------

#[test]
fn multi_state_is_per_connection() {
    let s = start(SERVER_ARGS);
    let port = s.port;
    with_deadline("MULTI state per connection", Duration::from_secs(30), move || {
        let mut a = client(port);
        let mut b = client(port);
        // A's queued commands are invisible to B until EXEC; B is not in MULTI.
        assert_eq!(run(&mut a, &["MULTI"]), Value::Okay);
        assert_eq!(run(&mut a, &["SET", "q", "1"]), Value::SimpleString("QUEUED".into()));
        assert_eq!(run(&mut b, &["GET", "q"]), Value::Nil);
        assert_eq!(run(&mut b, &["SET", "q", "b"]), Value::Okay);
        assert_eq!(run(&mut a, &["GET", "q"]), Value::SimpleString("QUEUED".into()));
        let r = run(&mut a, &["EXEC"]);
        assert_eq!(r, Value::Array(vec![Value::Okay, Value::BulkString(b"1".to_vec())]));

        // DISCARD throws the queue away.
        assert_eq!(run(&mut a, &["MULTI"]), Value::Okay);
        assert_eq!(run(&mut a, &["SET", "d", "1"]), Value::SimpleString("QUEUED".into()));
        assert_eq!(run(&mut a, &["DISCARD"]), Value::Okay);
        assert_eq!(run(&mut b, &["EXISTS", "d"]), Value::Int(0));

        // A connection that closes in the middle of MULTI leaves nothing behind, and its
        // watches do not outlive it.
        {
            let mut gone = client(port);
            assert_eq!(run(&mut gone, &["WATCH", "q"]), Value::Okay);
            assert_eq!(run(&mut gone, &["MULTI"]), Value::Okay);
            assert_eq!(run(&mut gone, &["SET", "gone", "1"]), Value::SimpleString("QUEUED".into()));
        }
        assert!(
            support::wait_until(Duration::from_secs(5), Duration::from_millis(20), || {
                let n: i64 = cmd("CLIENT").arg("LIST").query::<String>(&mut b).unwrap().lines().count() as i64;
                n == 2
            }),
            "the closed client did not go away"
        );
        assert_eq!(run(&mut b, &["SET", "q", "after"]), Value::Okay);
        assert_eq!(run(&mut b, &["EXISTS", "gone"]), Value::Int(0));

        // A queue-time error in A's transaction does not affect B at all.
        assert_eq!(run(&mut a, &["MULTI"]), Value::Okay);
        let e = support::err_line::<Value>(cmd("GET").arg("x").arg("y"), &mut a);
        assert_eq!(e, "ERR wrong number of arguments for 'get' command");
        assert_eq!(run(&mut b, &["PING"]), Value::SimpleString("PONG".into()));
        let e = support::err_line::<Value>(&cmd("EXEC"), &mut a);
        assert_eq!(e, "EXECABORT Transaction discarded because of previous errors.");
        assert_eq!(run(&mut a, &["GET", "q"]), Value::BulkString(b"after".to_vec()), "A is out of MULTI");
    });
}

#[test]
fn blocking_command_in_multi_does_not_block() {
    let s = start(SERVER_ARGS);
    let port = s.port;
    with_deadline("blocking commands inside MULTI", Duration::from_secs(10), move || {
        let mut c = client(port);
        let t0 = Instant::now();
        let r = transaction(&mut c, &[line(&["BLPOP", "empty", "0"])]);
        assert_eq!(r, Value::Array(vec![Value::Nil]), "MULTI; BLPOP empty 0; EXEC");

        let r = transaction(
            &mut c,
            &[
                line(&["BRPOP", "empty", "0"]),
                line(&["BLMOVE", "empty", "dst", "LEFT", "RIGHT", "0"]),
                line(&["BZPOPMIN", "emptyz", "0"]),
                line(&["BLMPOP", "0", "1", "empty", "LEFT"]),
                line(&["XREAD", "BLOCK", "0", "STREAMS", "st", "$"]),
                line(&["RPUSH", "list", "a", "b"]),
                line(&["BLPOP", "list", "0"]),
            ],
        );
        let r = items(&r);
        assert_eq!(r.len(), 7);
        assert!(r[..5].iter().all(|v| *v == Value::Nil), "timed-out replies: {r:?}");
        assert_eq!(int(&r[5]), 2);
        assert_eq!(
            r[6],
            Value::Array(vec![Value::BulkString(b"list".to_vec()), Value::BulkString(b"a".to_vec())]),
            "BLPOP on a non-empty list pops at once"
        );
        assert!(t0.elapsed() < Duration::from_secs(8), "EXEC blocked");

        // No waiter was left behind: a later push stays in the list, and the connection
        // answers at once.
        let mut other = client(port);
        assert_eq!(run(&mut other, &["RPUSH", "empty", "x"]), Value::Int(1));
        assert_eq!(run(&mut other, &["LLEN", "empty"]), Value::Int(1));
        assert_eq!(run(&mut c, &["PING"]), Value::SimpleString("PONG".into()));
        assert_eq!(run(&mut c, &["LRANGE", "empty", "0", "-1"]), Value::Array(vec![Value::BulkString(b"x".to_vec())]));
    });
}
