//! Persistence in Redis's own formats: RDB snapshots (SAVE, BGSAVE, save points,
//! shutdown), DUMP/RESTORE payloads, loading at start.
//!
//! Owns: the file format code (`rdb`, `lzf`, `crc64`, `packed`), the forkless snapshot
//! (`begin` + `write_snapshot`) and the persistence status INFO reports ([`Persist`]).
//!
//! Must hold:
//! - a snapshot is one point in time: `begin` write-locks every non-empty stripe of every
//!   db (ascending order, like every multi-lock holder) and opens copy-before-write on
//!   them, so no command is half-applied in it; afterwards writers run concurrently and the
//!   store keeps the old state of whatever they change until the saver has read it;
//! - every stripe a snapshot opened is closed again, on success and on error;
//! - at most one save runs at a time (`Persist::try_start`);
//! - a file is written to `temp-<pid>.rdb` in `dir`, fsynced, then renamed over
//!   `dbfilename`: a crash leaves either the old or the new file, never a torn one.
//!
//! Imports only `store`, `protocol` (double formatting) from the crate.

pub mod aof;
pub mod crc64;
pub mod lzf;
pub mod packed;
pub mod rdb;

use crate::store::{Keyspace, Value};
use parking_lot::{Condvar, Mutex, RwLockUpgradableReadGuard};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Persistence status shared by the commands, the cron and INFO.
pub struct Persist {
    st: Mutex<Status>,
    done: Condvar,
    /// Opened snapshots for the background saver thread (BGSAVE).
    jobs: (crossbeam_channel::Sender<SaveJob>, crossbeam_channel::Receiver<SaveJob>),
    /// The last save failed (cheap check for stop-writes-on-bgsave-error).
    pub last_failed: AtomicBool,
    /// The final save at shutdown ran (or SHUTDOWN NOSAVE ruled it out).
    pub shutdown_handled: AtomicBool,
}

/// A BGSAVE (or AOF rewrite) handed to the saver thread: the open snapshot and the
/// dirty counter at its point in time.
pub struct SaveJob {
    pub begun: Begun,
    pub dirty: u64,
    /// For a BGREWRITEAOF: the incr file opened at the snapshot point (its seq).
    pub aof_incr_seq: Option<u64>,
}

/// What INFO persistence reports.
#[derive(Clone, Debug)]
pub struct Status {
    /// A SAVE or BGSAVE is running.
    pub in_progress: bool,
    /// The running save is a BGSAVE.
    pub background: bool,
    pub started_ms: i64,
    /// BGSAVE SCHEDULE (or BGSAVE inside EXEC) asked for a save to start when possible.
    pub scheduled: bool,
    /// Unix seconds of the last successful save (LASTSAVE); server start before any.
    pub last_save: i64,
    pub last_ok: bool,
    /// Unix ms of the last attempt (successful or not): failed saves retry after 5 s.
    pub last_try_ms: i64,
    pub last_bgsave_secs: i64,
    pub saves: u64,
    /// The dirty counter when the last successful save's snapshot was taken.
    pub dirty_at_save: u64,
    /// Keys copied before write during the last save.
    pub last_cow_keys: u64,
    pub last_load_keys_loaded: u64,
    pub last_load_keys_expired: u64,
    /// The running save is a BGREWRITEAOF.
    pub aof_rewrite: bool,
    pub aof_rewrite_scheduled: bool,
    pub aof_last_rewrite_ok: bool,
    pub aof_last_rewrite_secs: i64,
    pub aof_rewrites: u64,
    /// AOF size (base + incr files) right after the last rewrite (auto-aof-rewrite).
    pub aof_base_size: u64,
}

impl Default for Status {
    fn default() -> Self {
        Status {
            in_progress: false,
            background: false,
            started_ms: 0,
            scheduled: false,
            last_save: 0,
            last_ok: true,
            last_try_ms: 0,
            last_bgsave_secs: -1,
            saves: 0,
            dirty_at_save: 0,
            last_cow_keys: 0,
            last_load_keys_loaded: 0,
            last_load_keys_expired: 0,
            aof_rewrite: false,
            aof_rewrite_scheduled: false,
            aof_last_rewrite_ok: true,
            aof_last_rewrite_secs: -1,
            aof_rewrites: 0,
            aof_base_size: 0,
        }
    }
}

impl Persist {
    pub fn new(now_ms: i64) -> Persist {
        let st = Status { last_save: now_ms / 1000, ..Status::default() };
        Persist {
            st: Mutex::new(st),
            done: Condvar::new(),
            jobs: crossbeam_channel::unbounded(),
            last_failed: AtomicBool::new(false),
            shutdown_handled: AtomicBool::new(false),
        }
    }

    /// Hands an opened snapshot to the saver thread.
    pub fn submit(&self, job: SaveJob) {
        let _ = self.jobs.0.send(job);
    }

    /// The saver thread's end of the job queue.
    pub fn jobs(&self) -> crossbeam_channel::Receiver<SaveJob> {
        self.jobs.1.clone()
    }

    pub fn status(&self) -> Status {
        self.st.lock().clone()
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut Status) -> R) -> R {
        f(&mut self.st.lock())
    }

    /// Claims the single save slot; false if a save is running.
    pub fn try_start(&self, background: bool, now_ms: i64) -> bool {
        let mut st = self.st.lock();
        if st.in_progress {
            return false;
        }
        st.in_progress = true;
        st.background = background;
        st.started_ms = now_ms;
        st.last_try_ms = now_ms;
        true
    }

    /// Claims the save slot for a BGREWRITEAOF; false if a save is running.
    pub fn try_start_rewrite(&self, now_ms: i64) -> bool {
        let mut st = self.st.lock();
        if st.in_progress {
            return false;
        }
        st.in_progress = true;
        st.background = true;
        st.aof_rewrite = true;
        st.started_ms = now_ms;
        true
    }

    /// Releases the slot after a BGREWRITEAOF.
    pub fn finish_rewrite(&self, ok: bool, size: u64, now_ms: i64) {
        let mut st = self.st.lock();
        st.aof_last_rewrite_secs = (now_ms - st.started_ms) / 1000;
        st.in_progress = false;
        st.background = false;
        st.aof_rewrite = false;
        st.aof_last_rewrite_ok = ok;
        if ok {
            st.aof_rewrites += 1;
            st.aof_base_size = size;
        }
        self.done.notify_all();
    }

    /// Releases the save slot and records the outcome.
    pub fn finish(&self, res: &Result<SaveStats, String>, dirty_at_begin: u64, now_ms: i64) {
        let mut st = self.st.lock();
        if st.background {
            st.last_bgsave_secs = (now_ms - st.started_ms) / 1000;
        }
        st.in_progress = false;
        st.background = false;
        match res {
            Ok(s) => {
                st.last_ok = true;
                st.last_save = now_ms / 1000;
                st.saves += 1;
                st.dirty_at_save = dirty_at_begin;
                st.last_cow_keys = s.cow_keys;
            }
            Err(_) => st.last_ok = false,
        }
        self.last_failed.store(!st.last_ok, Ordering::Relaxed);
        self.done.notify_all();
    }

    /// Waits until no save is running (shutdown).
    pub fn wait_idle(&self) {
        let mut st = self.st.lock();
        while st.in_progress {
            self.done.wait(&mut st);
        }
    }
}

/// Where and how to write a snapshot.
#[derive(Clone, Debug)]
pub struct SaveParams {
    pub dir: String,
    pub dbfilename: String,
    pub opts: rdb::SaveOpts,
    pub checksum: bool,
    pub used_mem: u64,
    pub version: &'static str,
    /// Write the snapshot as Redis commands (an AOF base with aof-use-rdb-preamble no)
    /// instead of RDB.
    pub as_commands: bool,
    /// FUNCTION library codes, written before the data (RDB opcode 245, or FUNCTION
    /// LOAD commands).
    pub functions: Vec<std::sync::Arc<[u8]>>,
}

impl SaveParams {
    pub fn path(&self) -> PathBuf {
        Path::new(&self.dir).join(&self.dbfilename)
    }
}

/// Figures of one finished save.
#[derive(Clone, Debug, Default)]
pub struct SaveStats {
    pub keys: u64,
    pub bytes: u64,
    pub cow_keys: u64,
    pub millis: u64,
}

/// An open snapshot: the point in time and which stripes it covers.
pub struct Begun {
    pub now_ms: i64,
    /// Per db: (keys, keys with a TTL, stripes opened).
    dbs: Vec<(u64, u64, Vec<bool>)>,
    started: Instant,
}

/// Opens a snapshot of the whole keyspace (see the module rules). The caller must hold
/// no stripe lock.
pub fn begin(ks: &Keyspace, now_ms: i64) -> Begun {
    begin_with(ks, now_ms, || {})
}

/// Like [`begin`], running `at_point` while every stripe is locked: nothing is written
/// between the snapshot point and `at_point` (BGREWRITEAOF switches incr files there).
pub fn begin_with(ks: &Keyspace, now_ms: i64, at_point: impl FnOnce()) -> Begun {
    let started = Instant::now();
    let mut guards = Vec::new();
    let mut dbs = Vec::with_capacity(ks.dbs.len());
    for db in ks.dbs.iter() {
        let (mut keys, mut vol) = (0u64, 0u64);
        let mut open = vec![false; db.stripes.len()];
        for (i, s) in db.stripes.iter().enumerate() {
            let mut g = s.write();
            if !g.is_empty() {
                g.snapshot_begin();
                open[i] = true;
                keys += g.len() as u64;
                vol += g.volatile_len() as u64;
            }
            guards.push(g);
        }
        dbs.push((keys, vol, open));
    }
    at_point();
    drop(guards);
    Begun { now_ms, dbs, started }
}

/// Closes every stripe `b` opened that is still open (error paths).
fn abort(ks: &Keyspace, b: &Begun) {
    for (db, (_, _, open)) in ks.dbs.iter().zip(&b.dbs) {
        for (s, o) in db.stripes.iter().zip(open) {
            if *o {
                s.write().snapshot_end();
            }
        }
    }
}

/// Writes the snapshot `b` to `p.path()` (temp file, fsync, rename) and closes it.
pub fn write_snapshot(ks: &Keyspace, b: Begun, p: &SaveParams) -> Result<SaveStats, String> {
    let res = write_inner(ks, &b, p);
    if res.is_err() {
        abort(ks, &b);
    }
    res
}

fn write_inner(ks: &Keyspace, b: &Begun, p: &SaveParams) -> Result<SaveStats, String> {
    let dir = Path::new(&p.dir);
    let tmp = dir.join(format!("temp-{}.rdb", std::process::id()));
    let res = write_file(ks, b, p, &tmp);
    match res {
        Ok(mut stats) => {
            std::fs::rename(&tmp, p.path()).map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                format!(
                    "Error moving temp DB file {} on the final destination {}: {e}",
                    tmp.display(),
                    p.path().display()
                )
            })?;
            if let Ok(d) = std::fs::File::open(if p.dir.is_empty() { Path::new(".") } else { dir }) {
                let _ = d.sync_all();
            }
            stats.millis = b.started.elapsed().as_millis() as u64;
            Ok(stats)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

fn write_file(ks: &Keyspace, b: &Begun, p: &SaveParams, tmp: &Path) -> Result<SaveStats, String> {
    let io_err = |e: std::io::Error| {
        format!("Failed opening the temp RDB file {} (in server root dir {}) for saving: {e}", tmp.display(), p.dir)
    };
    let file = std::fs::File::create(tmp).map_err(io_err)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut stats = SaveStats::default();
    let mut crc = 0u64;
    let mut w = rdb::Writer::new(p.opts);
    if !p.as_commands {
        w.header(p.version, b.now_ms / 1000, p.used_mem);
    }
    for code in &p.functions {
        if p.as_commands {
            aof::encode_command(
                &mut w.buf,
                &[b"FUNCTION".to_vec(), b"LOAD".to_vec(), b"REPLACE".to_vec(), code.to_vec()],
            );
        } else {
            w.byte(rdb::OP_FUNCTION2);
            w.string(code);
        }
    }
    let mut flush = |w: &mut rdb::Writer, out: &mut std::io::BufWriter<std::fs::File>| -> Result<(), String> {
        if p.checksum {
            crc = crc64::crc64(crc, &w.buf);
        }
        stats.bytes += w.buf.len() as u64;
        out.write_all(&w.buf).map_err(|e| format!("Write error saving DB on disk: {e}"))?;
        w.buf.clear();
        Ok(())
    };
    let now = b.now_ms;
    let mut keys = 0u64;
    let mut cow = 0u64;
    for (i, (db, (size, vol, open))) in ks.dbs.iter().zip(&b.dbs).enumerate() {
        if *size == 0 {
            continue;
        }
        if p.as_commands {
            aof::encode_command(&mut w.buf, &[b"SELECT".to_vec(), i.to_string().into_bytes()]);
        } else {
            w.select_db(i, *size, *vol);
        }
        for (s, o) in db.stripes.iter().zip(open) {
            if !*o {
                continue;
            }
            let g = s.upgradable_read();
            g.snapshot_visit(|k: &[u8], v: &Value, at: Option<i64>| {
                if at.is_none_or(|t| t > now) {
                    if p.as_commands {
                        aof::key_commands(&mut w.buf, k, v, at, p.opts);
                    } else {
                        w.key_value(k, v, at);
                    }
                    keys += 1;
                }
            });
            let mut g = RwLockUpgradableReadGuard::upgrade(g);
            cow += g.snapshot_end().unwrap_or(0) as u64;
            drop(g);
            flush(&mut w, &mut out)?;
        }
    }
    if !p.as_commands {
        w.byte(rdb::OP_EOF);
        flush(&mut w, &mut out)?;
        let crc = if p.checksum { crc } else { 0 };
        out.write_all(&crc.to_le_bytes()).map_err(|e| format!("Write error saving DB on disk: {e}"))?;
        stats.bytes += 8;
    }
    let file = out.into_inner().map_err(|e| format!("Write error saving DB on disk: {e}"))?;
    file.sync_all().map_err(|e| format!("Write error saving DB on disk (fsync): {e}"))?;
    stats.keys = keys;
    stats.cow_keys = cow;
    Ok(stats)
}

/// Loads `path` into the (empty) keyspace. `Ok(None)` when the file does not exist.
pub fn load(ks: &Keyspace, path: &Path, lim: rdb::LoadLimits, now_ms: i64) -> Result<Option<rdb::LoadInfo>, String> {
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("Fatal error loading the DB: {e}. Exiting.")),
    };
    let ndbs = ks.dbs.len();
    let info = rdb::load_file(&data, lim, now_ms, |db, key, val, at| {
        if db >= ndbs {
            return Err(format!(
                "FATAL: Data file was created with a Redis server configured to handle more than {ndbs} databases"
            ));
        }
        let d = &ks.dbs[db];
        let mut s = d.stripes[d.stripe_of(&key)].write();
        if s.peek(&key).is_some() {
            return Err(format!("RDB has duplicated key '{}' in DB {db}", String::from_utf8_lossy(&key)));
        }
        s.set(&key, val, at, now_ms);
        Ok(())
    })
    .map_err(|e| format!("Short read or corrupt data loading DB {}: {e}", path.display()))?;
    Ok(Some(info))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(dir: &Path) -> SaveParams {
        SaveParams {
            dir: dir.display().to_string(),
            dbfilename: "dump.rdb".into(),
            opts: rdb::SaveOpts::default(),
            checksum: true,
            used_mem: 0,
            version: "7.0.15",
            as_commands: false,
            functions: Vec::new(),
        }
    }

    #[test]
    fn snapshot_is_point_in_time() {
        let ks = Keyspace::new(2, 8);
        let put = |db: usize, k: &str, v: &str| {
            let d = &ks.dbs[db];
            d.stripes[d.stripe_of(k.as_bytes())].write().set(k.as_bytes(), Value::string(v.as_bytes()), None, 0);
        };
        for i in 0..500 {
            put(0, &format!("k{i}"), &format!("old{i}"));
        }
        put(1, "other", "x");
        let b = begin(&ks, 1);
        // Changes after the snapshot point: overwrite, delete, add, flush a db.
        for i in 0..500 {
            let d = &ks.dbs[0];
            let key = format!("k{i}");
            let mut s = d.stripes[d.stripe_of(key.as_bytes())].write();
            match i % 3 {
                0 => s.set(key.as_bytes(), Value::string(b"new"), None, 2),
                1 => drop(s.remove(key.as_bytes())),
                _ => {
                    if let Some(it) = s.get_mut(key.as_bytes(), 2) {
                        it.val = Value::string(b"mutated");
                    }
                }
            }
        }
        put(0, "fresh", "y");
        for s in ks.dbs[1].stripes.iter() {
            drop(s.write().take());
        }
        let dir = std::env::temp_dir().join(format!("rustis-snap-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = params(&dir);
        let st = write_snapshot(&ks, b, &p).unwrap();
        assert_eq!(st.keys, 501);
        assert!(ks.dbs.iter().all(|d| d.stripes.iter().all(|s| !s.read().snapshot_open())));
        let back = Keyspace::new(2, 8);
        let info = load(&back, &p.path(), rdb::LoadLimits::default(), 0).unwrap().unwrap();
        assert_eq!(info.keys_loaded, 501);
        for i in 0..500 {
            let key = format!("k{i}");
            let d = &back.dbs[0];
            let s = d.stripes[d.stripe_of(key.as_bytes())].read();
            assert_eq!(s.get(key.as_bytes(), 0).unwrap().val.as_bytes().unwrap(), format!("old{i}").as_bytes());
        }
        let d = &back.dbs[0];
        assert!(d.stripes[d.stripe_of(b"fresh")].read().get(b"fresh", 0).is_none());
        let d = &back.dbs[1];
        assert!(d.stripes[d.stripe_of(b"other")].read().get(b"other", 0).is_some());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
