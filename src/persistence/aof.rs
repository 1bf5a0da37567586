//! Redis 7's multi-part append-only file: the manifest, file naming, the append buffer,
//! the writer's fsync policies, rotation at BGREWRITEAOF, and reading AOF files back.
//!
//! Layout (as Redis 7.0): `<dir>/<appenddirname>/` holds `<appendfilename>.manifest`,
//! one base file (`<name>.<seq>.base.rdb`, an RDB snapshot, or `.base.aof`, commands) and
//! one or more incremental files (`<name>.<seq>.incr.aof`, RESP commands). The manifest
//! lists them in load order: `file <name> seq <n> type <b|i|h>`.
//!
//! Must hold:
//! - commands reach the buffer in an order consistent with execution: callers append while
//!   they still hold the stripe locks of the keys they changed, so two writes to one key
//!   are logged in the order they ran;
//! - every record is preceded by a SELECT when its db differs from the previous record's
//!   in the same file (a new file starts with no db selected);
//! - with `appendfsync always`, `synced()` only passes an offset once the bytes up to it
//!   are written and fsynced (callers hold replies until then: group commit); a failed
//!   write or fsync under `always` ends the process, as in Redis;
//! - the manifest is replaced atomically (temp file, fsync, rename) and always names
//!   files that exist.

use crate::protocol::reply::{put_array_len, put_bulk};
use parking_lot::{Condvar, Mutex};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// `appendfsync`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fsync {
    Always,
    EverySec,
    No,
}

impl Fsync {
    pub fn parse(s: &str) -> Option<Fsync> {
        match s.to_ascii_lowercase().as_str() {
            "always" => Some(Fsync::Always),
            "everysec" => Some(Fsync::EverySec),
            "no" => Some(Fsync::No),
            _ => None,
        }
    }
}

/// One manifest line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileInfo {
    pub name: String,
    pub seq: u64,
    /// `b` base, `i` incremental, `h` history (to delete).
    pub kind: char,
}

/// The manifest: the base file (if any), then the incremental files in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    pub base: Option<FileInfo>,
    pub incrs: Vec<FileInfo>,
    pub history: Vec<FileInfo>,
}

impl Manifest {
    /// Parses Redis's manifest format (`file <name> seq <n> type <t>`, `#` comments).
    pub fn parse(text: &str) -> Result<Manifest, String> {
        let mut m = Manifest::default();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            let (mut name, mut seq, mut kind) = (None, None, None);
            let mut i = 0;
            while i + 1 < words.len() {
                match words[i] {
                    "file" => name = Some(words[i + 1].to_string()),
                    "seq" => seq = words[i + 1].parse::<u64>().ok(),
                    "type" => kind = words[i + 1].chars().next(),
                    _ => {}
                }
                i += 2;
            }
            let (Some(name), Some(seq), Some(kind)) = (name, seq, kind) else {
                return Err(format!("Invalid AOF manifest file format at line {}", n + 1));
            };
            if name.contains('/') {
                return Err(format!("AOF file name with a path in the manifest at line {}", n + 1));
            }
            let f = FileInfo { name, seq, kind };
            match kind {
                'b' => {
                    if m.base.is_some() {
                        return Err("Found duplicate base file information in the AOF manifest".into());
                    }
                    m.base = Some(f);
                }
                'i' => {
                    if m.incrs.last().is_some_and(|l| l.seq >= f.seq) {
                        return Err("Found a non-monotonic sequence number in the AOF manifest".into());
                    }
                    m.incrs.push(f);
                }
                'h' => m.history.push(f),
                _ => return Err(format!("Unknown AOF file type '{kind}' in the manifest at line {}", n + 1)),
            }
        }
        if m.base.is_none() && m.incrs.is_empty() {
            return Err("Found an empty AOF manifest".into());
        }
        Ok(m)
    }

    pub fn to_text(&self) -> String {
        let mut s = String::new();
        for f in self.base.iter().chain(&self.history).chain(&self.incrs) {
            s.push_str(&format!("file {} seq {} type {}\n", f.name, f.seq, f.kind));
        }
        s
    }

    /// Files to load, in order.
    pub fn load_order(&self) -> impl Iterator<Item = &FileInfo> {
        self.base.iter().chain(&self.incrs)
    }

    pub fn next_incr_seq(&self) -> u64 {
        self.incrs.last().map(|f| f.seq + 1).unwrap_or(1)
    }

    pub fn next_base_seq(&self) -> u64 {
        self.base.as_ref().map(|f| f.seq + 1).unwrap_or(1)
    }
}

pub fn manifest_name(appendfilename: &str) -> String {
    format!("{appendfilename}.manifest")
}
pub fn base_name(appendfilename: &str, seq: u64, rdb: bool) -> String {
    format!("{appendfilename}.{seq}.base.{}", if rdb { "rdb" } else { "aof" })
}
pub fn incr_name(appendfilename: &str, seq: u64) -> String {
    format!("{appendfilename}.{seq}.incr.aof")
}

/// Writes `text` to `path` atomically (temp file in the same dir, fsync, rename).
pub fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let mut f = File::create(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        if let Ok(d) = File::open(if dir.as_os_str().is_empty() { Path::new(".") } else { dir }) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// Appends one command in RESP (an array of bulk strings).
pub fn encode_command<A: AsRef<[u8]>>(out: &mut Vec<u8>, argv: &[A]) {
    put_array_len(out, argv.len());
    for a in argv {
        put_bulk(out, a.as_ref());
    }
}

/// One command to log: its db and its RESP encoding (encoded before the buffer's lock is
/// taken, so `Aof::append` only copies bytes under it).
pub type Record = (usize, Vec<u8>);

/// The record of `argv` in `db`.
pub fn record<A: AsRef<[u8]>>(db: usize, argv: &[A]) -> Record {
    let mut out = Vec::with_capacity(16 + argv.iter().map(|a| a.as_ref().len() + 16).sum::<usize>());
    encode_command(&mut out, argv);
    (db, out)
}

/// Items per command when a collection is written as commands (Redis's
/// AOF_REWRITE_ITEMS_PER_CMD).
const ITEMS_PER_CMD: usize = 64;

/// Commands that recreate a key (an AOF base without RDB preamble): SET, RPUSH, SADD,
/// HSET, ZADD in batches of 64 items; streams as RESTORE of their DUMP payload; then
/// PEXPIREAT for a TTL.
pub fn key_commands(
    out: &mut Vec<u8>,
    key: &[u8],
    val: &crate::store::Value,
    at: Option<i64>,
    opts: super::rdb::SaveOpts,
) {
    use crate::store::Value;
    let batched = |out: &mut Vec<u8>, name: &[u8], items: &mut dyn Iterator<Item = Vec<Vec<u8>>>| {
        let mut argv = vec![name.to_vec(), key.to_vec()];
        let mut n = 0;
        for item in items {
            argv.extend(item);
            n += 1;
            if n == ITEMS_PER_CMD {
                encode_command(out, &argv);
                argv.truncate(2);
                n = 0;
            }
        }
        if n > 0 {
            encode_command(out, &argv);
        }
    };
    match val {
        Value::List(l) => batched(out, b"RPUSH", &mut l.iter().map(|e| vec![e.to_vec()])),
        Value::Set(st) => batched(out, b"SADD", &mut st.iter().map(|m| vec![m.to_vec()])),
        Value::Hash(h) => batched(out, b"HSET", &mut h.iter().map(|(f, v)| vec![f.to_vec(), v.to_vec()])),
        Value::ZSet(z) => batched(
            out,
            b"ZADD",
            &mut z.iter().map(|(m, sc)| vec![crate::protocol::reply::fmt_double(sc).into_bytes(), m.to_vec()]),
        ),
        Value::Stream(_) => {
            let payload = super::rdb::dump_payload(val, opts);
            encode_command(out, &[&b"RESTORE"[..], key, b"0", &payload, b"REPLACE"]);
        }
        v => {
            let b = v.as_bytes().map(|c| c.into_owned()).unwrap_or_default();
            encode_command(out, &[&b"SET"[..], key, &b]);
        }
    }
    if let Some(at) = at {
        encode_command(out, &[&b"PEXPIREAT"[..], key, at.to_string().as_bytes()]);
    }
}

/// What reading an AOF's commands found.
#[derive(Debug)]
pub enum Parsed {
    /// Every byte was a complete command.
    Complete(Vec<Vec<Vec<u8>>>),
    /// The commands before byte `valid`, then an incomplete command (a torn tail).
    Truncated { cmds: Vec<Vec<Vec<u8>>>, valid: usize },
}

/// Parses the RESP commands of an AOF (annotations `#...` lines are skipped). Malformed
/// data (not a truncation) is an error naming the offset.
pub fn parse_commands(data: &[u8]) -> Result<Parsed, String> {
    let mut cmds = Vec::new();
    let mut p = 0usize;
    loop {
        if p >= data.len() {
            return Ok(Parsed::Complete(cmds));
        }
        let start = p;
        if data[p] == b'#' {
            match find_crlf(data, p) {
                Some(e) => {
                    p = e + 2;
                    continue;
                }
                None => return Ok(Parsed::Truncated { cmds, valid: start }),
            }
        }
        match parse_one(data, p) {
            Ok(Some((argv, next))) => {
                cmds.push(argv);
                p = next;
            }
            Ok(None) => return Ok(Parsed::Truncated { cmds, valid: start }),
            Err(e) => return Err(format!("Bad file format reading the append only file at offset {start}: {e}")),
        }
    }
}

fn find_crlf(data: &[u8], from: usize) -> Option<usize> {
    data.get(from..)?.windows(2).position(|w| w == b"\r\n").map(|i| from + i)
}

/// One `*N` command at `p`: Ok(None) when the data ends inside it.
#[allow(clippy::type_complexity)]
fn parse_one(data: &[u8], p: usize) -> Result<Option<(Vec<Vec<u8>>, usize)>, String> {
    let num = |data: &[u8], p: usize, prefix: u8| -> Result<Option<(usize, usize)>, String> {
        if p >= data.len() {
            return Ok(None);
        }
        if data[p] != prefix {
            return Err(format!("expected '{}'", prefix as char));
        }
        let Some(e) = find_crlf(data, p + 1) else {
            return if data.len() - p > 32 { Err("length line too long".into()) } else { Ok(None) };
        };
        let s = std::str::from_utf8(&data[p + 1..e]).map_err(|_| "bad length".to_string())?;
        let n: usize = s.parse().map_err(|_| "bad length".to_string())?;
        Ok(Some((n, e + 2)))
    };
    let Some((argc, mut q)) = num(data, p, b'*')? else { return Ok(None) };
    if argc == 0 {
        return Err("empty command".into());
    }
    let mut argv = Vec::with_capacity(argc.min(1024));
    for _ in 0..argc {
        let Some((len, r)) = num(data, q, b'$')? else { return Ok(None) };
        if data.len() < r || data.len() - r < len + 2 {
            return Ok(None);
        }
        if &data[r + len..r + len + 2] != b"\r\n" {
            return Err("missing CRLF after an argument".into());
        }
        argv.push(data[r..r + len].to_vec());
        q = r + len + 2;
    }
    Ok(Some((argv, q)))
}

// ---------------------------------------------------------------------------------------
// The append buffer and the file it drains into
// ---------------------------------------------------------------------------------------

/// Buffered records not yet handed to the writer.
struct Buf {
    on: bool,
    data: Vec<u8>,
    /// Db of the last record in the current file (None: a SELECT is needed).
    db: Option<usize>,
    /// Total bytes ever appended (offsets for `synced`).
    appended: u64,
}

/// The current incremental file and its writer-side state.
pub struct Out {
    pub file: Option<File>,
    pub path: PathBuf,
    pub fsync: Fsync,
    last_fsync: Instant,
    /// Bytes written to files (all of them) so far.
    pub written: u64,
    /// Bytes of the current incr file.
    pub incr_size: u64,
    pub last_write_ok: bool,
}

/// The live AOF: shared by the commands (append), the writer thread and rewrites.
pub struct Aof {
    /// Mirrors the buffer's `on` for a lock-free check on every write command.
    pub on: std::sync::atomic::AtomicBool,
    /// `appendfsync always`: `append` returns offsets callers must wait for.
    always: std::sync::atomic::AtomicBool,
    buf: Mutex<Buf>,
    kick: Condvar,
    /// Taken by the writer while it writes and by rotation (lock order: out, then buf).
    pub out: Mutex<Out>,
    synced: Mutex<u64>,
    write_failed: std::sync::atomic::AtomicBool,
    last_error: Mutex<String>,
    /// The manifest in force (None until the AOF exists).
    pub manifest: Mutex<Option<Manifest>>,
}

impl Default for Aof {
    fn default() -> Self {
        Aof {
            on: Default::default(),
            always: Default::default(),
            buf: Mutex::new(Buf { on: false, data: Vec::new(), db: None, appended: 0 }),
            kick: Condvar::new(),
            out: Mutex::new(Out {
                file: None,
                path: PathBuf::new(),
                fsync: Fsync::EverySec,
                last_fsync: Instant::now(),
                written: 0,
                incr_size: 0,
                last_write_ok: true,
            }),
            synced: Mutex::new(0),
            write_failed: Default::default(),
            last_error: Mutex::new(String::new()),
            manifest: Mutex::new(None),
        }
    }
}

impl Aof {
    /// True while commands are being logged.
    pub fn is_on(&self) -> bool {
        self.buf.lock().on
    }

    /// Starts logging into `file` (an incr file opened for append).
    pub fn start(&self, file: File, path: PathBuf, size: u64, fsync: Fsync) {
        let mut out = self.out.lock();
        out.file = Some(file);
        out.path = path;
        out.fsync = fsync;
        out.incr_size = size;
        self.always.store(fsync == Fsync::Always, std::sync::atomic::Ordering::Relaxed);
        let mut b = self.buf.lock();
        b.on = true;
        b.db = None;
        self.on.store(true, std::sync::atomic::Ordering::Release);
    }

    /// Stops logging (CONFIG SET appendonly no, shutdown), after flushing.
    pub fn stop(&self) {
        self.flush(true);
        let mut out = self.out.lock();
        self.buf.lock().on = false;
        self.on.store(false, std::sync::atomic::Ordering::Release);
        out.file = None;
    }

    pub fn set_fsync(&self, f: Fsync) {
        self.out.lock().fsync = f;
        self.always.store(f == Fsync::Always, std::sync::atomic::Ordering::Relaxed);
    }

    /// Appends records `(db, argv)`, wrapped in MULTI/EXEC when `multi`. Returns the
    /// offset to wait for (`wait_synced`), or 0 when logging is off.
    pub fn append(&self, records: &[Record], multi: bool) -> u64 {
        if records.is_empty() {
            return 0;
        }
        let mut b = self.buf.lock();
        if !b.on {
            return 0;
        }
        let before = b.data.len();
        if multi {
            // The transaction's first db is selected before MULTI (as Redis does).
            let db = records[0].0;
            select(&mut b, db);
            b.data.extend_from_slice(b"*1\r\n$5\r\nMULTI\r\n");
        }
        for (db, bytes) in records {
            select(&mut b, *db);
            b.data.extend_from_slice(bytes);
        }
        if multi {
            b.data.extend_from_slice(b"*1\r\n$4\r\nEXEC\r\n");
        }
        b.appended += (b.data.len() - before) as u64;
        let at = b.appended;
        drop(b);
        if self.always.load(std::sync::atomic::Ordering::Relaxed) {
            // The worker that waits for this offset writes it (see `wait_synced`).
            at
        } else {
            self.kick.notify_one();
            0
        }
    }

    /// Blocks until everything up to `offset` is written and fsynced (`always`). The
    /// caller does the write + fsync itself unless another caller's covers it: whoever
    /// gets the file first writes everything buffered, so one fsync serves every writer
    /// waiting meanwhile (group commit).
    pub fn wait_synced(&self, offset: u64) {
        while offset > 0 && *self.synced.lock() < offset && self.on.load(std::sync::atomic::Ordering::Acquire) {
            self.flush(false);
        }
    }

    pub fn buffered(&self) -> usize {
        self.buf.lock().data.len()
    }

    /// The writer thread's step: waits (at most `idle`) for data, writes it, fsyncs per
    /// policy. `force_fsync`: fsync whatever the policy (shutdown, rotation).
    pub fn flush_wait(&self, idle: std::time::Duration) {
        {
            let mut b = self.buf.lock();
            if b.data.is_empty() {
                self.kick.wait_for(&mut b, idle);
            }
        }
        self.flush(false);
    }

    /// Writes the buffer out; fsyncs per policy (or always when `force_fsync`).
    pub fn flush(&self, force_fsync: bool) {
        let mut out = self.out.lock();
        let (data, upto) = {
            let mut b = self.buf.lock();
            (std::mem::take(&mut b.data), b.appended)
        };
        let size_before = out.incr_size;
        let n = data.len() as u64;
        let policy = out.fsync;
        let need_sync = force_fsync
            || match policy {
                Fsync::Always => !data.is_empty(),
                Fsync::EverySec => out.last_fsync.elapsed().as_millis() >= 1000,
                Fsync::No => false,
            };
        let Some(f) = out.file.as_mut() else {
            drop(out);
            self.mark_synced(upto);
            return;
        };
        let mut err = None;
        if !data.is_empty() {
            if let Err(e) = f.write_all(&data) {
                // Cut a partial write back so the file ends on a whole command, and keep
                // the data to retry: nothing acknowledged is dropped (Redis does the same).
                let _ = f.set_len(size_before);
                let mut b = self.buf.lock();
                let mut keep = data;
                keep.extend_from_slice(&b.data);
                b.data = keep;
                err = Some(format!("Errors writing to the AOF file: {}", strerror(&e)));
            }
        }
        let wrote_ok = err.is_none();
        if wrote_ok && need_sync {
            if let Err(e) = f.sync_data() {
                err = Some(format!("Errors writing to the AOF file: {}", strerror(&e)));
            }
            out.last_fsync = Instant::now();
        }
        if wrote_ok {
            out.written += n;
            out.incr_size = size_before + n;
        }
        out.last_write_ok = err.is_none();
        self.write_failed.store(err.is_some(), std::sync::atomic::Ordering::Release);
        if let Some(e) = &err {
            log::warn!("{e}");
            *self.last_error.lock() = e.clone();
            if policy == Fsync::Always {
                // Replies wait for this write: acknowledging it would lie (Redis exits too).
                log::error!("Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting...");
                std::process::exit(1);
            }
        }
        drop(out);
        if wrote_ok {
            self.mark_synced(upto);
        }
    }

    fn mark_synced(&self, upto: u64) {
        let mut s = self.synced.lock();
        if *s < upto {
            *s = upto;
        }
    }

    /// The last write or fsync failed (writes get MISCONF until one succeeds).
    pub fn failing(&self) -> Option<String> {
        self.write_failed.load(std::sync::atomic::Ordering::Acquire).then(|| self.last_error.lock().clone())
    }

    /// Switches to a new incr file: everything buffered so far goes to the old one (and
    /// is fsynced), records appended afterwards to `file`. Callers make sure no write
    /// command runs meanwhile (they hold every stripe lock).
    pub fn rotate(&self, file: File, path: PathBuf) {
        self.flush(true);
        let mut out = self.out.lock();
        out.file = Some(file);
        out.path = path;
        out.incr_size = 0;
        self.buf.lock().db = None;
    }

    pub fn incr_size(&self) -> u64 {
        self.out.lock().incr_size
    }
    pub fn last_write_ok(&self) -> bool {
        self.out.lock().last_write_ok
    }
}

/// The C library's text for an I/O error (what Redis prints with strerror), without
/// Rust's " (os error N)" suffix.
pub fn strerror(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

fn select(b: &mut Buf, db: usize) {
    if b.db != Some(db) {
        let mut n = [0u8; 20];
        encode_command(&mut b.data, &[&b"SELECT"[..], crate::protocol::reply::fmt_i64(db as i64, &mut n)]);
        b.db = Some(db);
    }
}

/// Opens (creating) an incr file for appending; returns it and its current size.
pub fn open_append(path: &Path) -> std::io::Result<(File, u64)> {
    let f = OpenOptions::new().create(true).append(true).open(path)?;
    let size = f.metadata().map(|m| m.len()).unwrap_or(0);
    Ok((f, size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_roundtrip_and_errors() {
        let text = "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\nfile appendonly.aof.2.incr.aof seq 2 type i\n";
        let m = Manifest::parse(text).unwrap();
        assert_eq!(m.base.as_ref().unwrap().name, "appendonly.aof.1.base.rdb");
        assert_eq!(m.incrs.len(), 2);
        assert_eq!(m.to_text(), text);
        assert_eq!(m.next_incr_seq(), 3);
        assert!(Manifest::parse("").is_err());
        assert!(Manifest::parse("file x seq 1\n").is_err());
        assert!(Manifest::parse("file a seq 2 type i\nfile b seq 1 type i\n").is_err());
        assert!(Manifest::parse("file ../x seq 1 type b\n").is_err());
    }

    #[test]
    fn commands_parse_and_truncation_is_detected() {
        let mut data = Vec::new();
        encode_command(&mut data, &[&b"SET"[..], b"k", b"v\r\n"]);
        data.extend_from_slice(b"#TS:123\r\n");
        encode_command(&mut data, &[&b"DEL"[..], b"k"]);
        let Parsed::Complete(c) = parse_commands(&data).unwrap() else { panic!() };
        assert_eq!(c.len(), 2);
        assert_eq!(c[0][2], b"v\r\n");
        for cut in 1..data.len() {
            match parse_commands(&data[..cut]) {
                Ok(Parsed::Complete(c)) => assert!(c.len() <= 2),
                Ok(Parsed::Truncated { valid, .. }) => assert!(valid < cut),
                Err(e) => panic!("cut {cut}: {e}"),
            }
        }
        assert!(parse_commands(b"*1\r\n$3\r\nSETX\r\n").is_err());
        assert!(parse_commands(b"hello\r\n").is_err());
    }

    #[test]
    fn failed_writes_keep_the_data_and_report_it() {
        let dir = std::env::temp_dir().join(format!("rustis-aof-fail-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bad_path = dir.join("ro.aof");
        std::fs::write(&bad_path, b"").unwrap();
        let ro = File::open(&bad_path).unwrap(); // read-only: every write fails
        let aof = Aof::default();
        aof.start(ro, bad_path.clone(), 0, Fsync::EverySec);
        aof.append(&[record(0, &["SET", "k", "1"])], false);
        aof.flush(false);
        assert_eq!(aof.failing().as_deref(), Some("Errors writing to the AOF file: Bad file descriptor"));
        assert!(aof.buffered() > 0, "the failed write's data is kept");
        aof.append(&[record(0, &["SET", "k", "2"])], false);
        let good = dir.join("good.aof");
        let (f, _) = open_append(&good).unwrap();
        aof.rotate(f, good.clone());
        aof.flush(true);
        assert!(aof.failing().is_none());
        let Parsed::Complete(c) = parse_commands(&std::fs::read(&good).unwrap()).unwrap() else { panic!() };
        let vals: Vec<&[u8]> = c.iter().filter(|a| a[0] == b"SET").map(|a| a[2].as_slice()).collect();
        assert_eq!(vals, [&b"1"[..], b"2"], "both writes reach the new file, in order");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn key_commands_rebuild_values() {
        use crate::store::Value;
        let mut l = crate::store::list::List::new();
        for i in 0..150 {
            l.push(i.to_string().as_bytes(), false);
        }
        let mut out = Vec::new();
        key_commands(&mut out, b"l", &Value::List(Box::new(l)), Some(123), super::super::rdb::SaveOpts::default());
        key_commands(&mut out, b"s", &Value::string(b"v"), None, super::super::rdb::SaveOpts::default());
        let Parsed::Complete(c) = parse_commands(&out).unwrap() else { panic!() };
        let names: Vec<&[u8]> = c.iter().map(|a| a[0].as_slice()).collect();
        assert_eq!(names, [&b"RPUSH"[..], b"RPUSH", b"RPUSH", b"PEXPIREAT", b"SET"]);
        assert_eq!(c[0].len(), 2 + 64);
        assert_eq!(c[2].len(), 2 + 150 - 128);
    }

    #[test]
    fn append_selects_and_wraps_multi() {
        let aof = Aof::default();
        let dir = std::env::temp_dir().join(format!("rustis-aof-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.incr.aof");
        let (f, size) = open_append(&path).unwrap();
        aof.start(f, path.clone(), size, Fsync::Always);
        let at = aof.append(&[record(0, &["SET", "a", "1"])], false);
        aof.append(&[record(2, &["DEL", "b"]), record(2, &["DEL", "c"])], true);
        aof.flush(false);
        aof.wait_synced(at);
        let text = std::fs::read(&path).unwrap();
        let Parsed::Complete(c) = parse_commands(&text).unwrap() else { panic!() };
        let names: Vec<String> = c.iter().map(|a| String::from_utf8_lossy(&a[0]).to_string()).collect();
        assert_eq!(names, ["SELECT", "SET", "SELECT", "MULTI", "DEL", "DEL", "EXEC"]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
