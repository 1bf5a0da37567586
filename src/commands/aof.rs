//! What write commands log to the AOF (Redis's command propagation), and replaying an
//! AOF's commands at start.
//!
//! Owns: the [`Prop`] policy each command declares in the table, turning a write that
//! changed something into AOF records (`records`), and `replay`.
//!
//! Must hold:
//! - a logged record, replayed on the state the previous records produced, yields the
//!   state the command produced: relative TTLs become absolute (PEXPIREAT, SET ... +
//!   PEXPIREAT, RESTORE ... ABSTTL), random or time-dependent results become the concrete
//!   effect (SPOP -> SREM of the popped members, XADD * -> the id it got, blocking pops
//!   -> the non-blocking pop they did, INCRBYFLOAT -> SET of the result);
//! - records are built while the command still holds its stripe locks, so they see
//!   exactly the state it left (see `persistence::aof` for ordering);
//! - every record is a plain Redis command, so redis-server and redis-check-aof read the
//!   files Rustis writes.

use super::state::{Effects, Session, Shared, WorkerStats};
use super::Ctx;
use crate::persistence::aof::Record;
use crate::persistence::rdb;
use crate::protocol::Reply;
use crate::store::unix_ms;

/// How a command is logged when it changed the dataset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prop {
    /// The command as received (deterministic and time-independent).
    Verbatim,
    /// The resulting state of every key argument: SET (+PEXPIREAT) for strings, RESTORE
    /// ... REPLACE ABSTTL for other types, DEL when gone. Costs the value's size.
    State,
    /// The resulting TTL of the key: PEXPIREAT / PERSIST, or DEL when the key is gone.
    Ttl,
    /// XADD with the id it generated.
    Xadd,
    /// SPOP as SREM of the members it popped.
    Spop,
    /// HINCRBYFLOAT as HSET of the result.
    HincrFloat,
    /// A blocking pop as the non-blocking pop it did.
    BlockingPop,
}

fn bulk_of(r: &Reply) -> Option<Vec<u8>> {
    match r {
        Reply::Bulk(b) => Some(b.clone()),
        Reply::Status(s) => Some(s.clone().into_bytes()),
        _ => None,
    }
}

fn arr(r: &Reply) -> Option<&[Reply]> {
    match r {
        Reply::Array(a) | Reply::Set(a) => Some(a),
        _ => None,
    }
}

/// The RESP encoding of one logged command.
fn cmd(parts: &[&[u8]]) -> Vec<u8> {
    crate::persistence::aof::record(0, parts).1
}

/// The state records of one key (see [`Prop::State`]).
fn key_state(ctx: &Ctx, db: usize, key: &[u8], out: &mut Vec<Record>) {
    let Some(it) = ctx.peek_in(db, key) else {
        out.push((db, cmd(&[b"DEL", key])));
        return;
    };
    let at = it.expire_at();
    if let Some(b) = it.val.as_bytes() {
        out.push((db, cmd(&[b"SET", key, &b])));
        if let Some(at) = at {
            out.push((db, cmd(&[b"PEXPIREAT", key, at.to_string().as_bytes()])));
        }
        return;
    }
    let opts = {
        let c = ctx.shared.config.read();
        rdb::SaveOpts { compress: c.rdbcompression, list_max_listpack_size: c.list_max_listpack_size }
    };
    let payload = rdb::dump_payload(&it.val, opts);
    let ttl = at.unwrap_or(0).to_string();
    out.push((db, cmd(&[b"RESTORE", key, ttl.as_bytes(), &payload, b"REPLACE", b"ABSTTL"])));
}

/// The state records of every (distinct) key argument of the command.
fn keys_state(ctx: &Ctx, argv: &[&[u8]], out: &mut Vec<Record>) {
    let mut seen: Vec<&[u8]> = Vec::new();
    ctx.cmd.for_each_key_pos(argv, |p| {
        if !seen.contains(&argv[p]) {
            seen.push(argv[p]);
        }
    });
    for k in seen {
        key_state(ctx, ctx.session.db, k, out);
    }
}

/// The AOF records for a write command that changed the dataset (locks still held).
pub fn records(ctx: &Ctx, argv: &[&[u8]], reply: &Reply, out: &mut Vec<Record>) {
    let db = ctx.session.db;
    match ctx.cmd.prop {
        Prop::Verbatim => out.push((db, cmd(argv))),
        Prop::State => keys_state(ctx, argv, out),
        Prop::Ttl => {
            let key = argv[1];
            match ctx.peek_in(db, key).map(|it| it.expire_at()) {
                None => out.push((db, cmd(&[b"DEL", key]))),
                Some(Some(at)) => out.push((db, cmd(&[b"PEXPIREAT", key, at.to_string().as_bytes()]))),
                Some(None) => out.push((db, cmd(&[b"PERSIST", key]))),
            }
        }
        Prop::Xadd => match (bulk_of(reply), xadd_id_pos(argv)) {
            (Some(id), Some(pos)) => {
                let mut v: Vec<&[u8]> = argv.to_vec();
                v[pos] = &id;
                out.push((db, cmd(&v)));
            }
            _ => key_state(ctx, db, argv[1], out),
        },
        Prop::Spop => {
            let members: Vec<Vec<u8>> = match reply {
                Reply::Bulk(b) => vec![b.clone()],
                r => arr(r).map(|a| a.iter().filter_map(bulk_of).collect()).unwrap_or_default(),
            };
            if !members.is_empty() {
                let mut v: Vec<&[u8]> = vec![b"SREM", argv[1]];
                v.extend(members.iter().map(|m| m.as_slice()));
                out.push((db, cmd(&v)));
            }
        }
        Prop::HincrFloat => match bulk_of(reply) {
            Some(v) => out.push((db, cmd(&[b"HSET", argv[1], argv[2], &v]))),
            None => key_state(ctx, db, argv[1], out),
        },
        Prop::BlockingPop => blocking_pop(ctx, argv, reply, out),
    }
}

/// Where XADD's id argument is: after the key and the NOMKSTREAM / trim options.
fn xadd_id_pos(argv: &[&[u8]]) -> Option<usize> {
    let eq = |a: &[u8], s: &str| a.eq_ignore_ascii_case(s.as_bytes());
    let mut i = 2;
    while i < argv.len() {
        let a = argv[i];
        if eq(a, "nomkstream") {
            i += 1;
        } else if eq(a, "maxlen") || eq(a, "minid") {
            i += 1;
            if argv.get(i).is_some_and(|x| *x == b"=" || *x == b"~") {
                i += 1;
            }
            i += 1;
        } else if eq(a, "limit") {
            i += 2;
        } else {
            return Some(i);
        }
    }
    None
}

fn blocking_pop(ctx: &Ctx, argv: &[&[u8]], reply: &Reply, out: &mut Vec<Record>) {
    let db = ctx.session.db;
    let name = ctx.cmd.name;
    let rec: Option<Vec<u8>> = match name {
        "blpop" | "brpop" | "bzpopmin" | "bzpopmax" => arr(reply).and_then(|a| a.first()).and_then(bulk_of).map(|k| {
            let c: &[u8] = match name {
                "blpop" => b"LPOP",
                "brpop" => b"RPOP",
                "bzpopmin" => b"ZPOPMIN",
                _ => b"ZPOPMAX",
            };
            cmd(&[c, &k])
        }),
        // BLMOVE src dst from to timeout -> LMOVE src dst from to.
        "blmove" if argv.len() == 6 => Some(cmd(&[b"LMOVE", argv[1], argv[2], argv[3], argv[4]])),
        "brpoplpush" if argv.len() == 4 => Some(cmd(&[b"RPOPLPUSH", argv[1], argv[2]])),
        // BLMPOP timeout numkeys key.. LEFT|RIGHT [COUNT n] -> LMPOP 1 key LEFT|RIGHT COUNT m.
        "blmpop" | "bzmpop" => {
            let a = arr(reply);
            let key = a.and_then(|a| a.first()).and_then(bulk_of);
            let n = a.and_then(|a| a.get(1)).and_then(arr).map(|x| x.len());
            let numkeys = argv.get(2).and_then(|n| crate::store::parse_i64_strict(n)).unwrap_or(0);
            let dir = argv.get(3 + numkeys.max(0) as usize);
            match (key, n, dir) {
                (Some(k), Some(n), Some(dir)) => {
                    let c: &[u8] = if name == "blmpop" { b"LMPOP" } else { b"ZMPOP" };
                    Some(cmd(&[c, b"1", &k, dir, b"COUNT", n.to_string().as_bytes()]))
                }
                _ => None,
            }
        }
        _ => None,
    };
    match rec {
        Some(r) => out.push((db, r)),
        None => {
            // Unknown shape: fall back to the state of every key argument.
            keys_state(ctx, argv, out);
        }
    }
}

/// Runs an AOF's commands against the keyspace (at start, before clients connect), as
/// Redis's fake AOF client does: replies are dropped, errors only counted.
pub fn replay(shared: &Shared, cmds: &[Vec<Vec<u8>>]) -> Result<u64, String> {
    let info =
        std::sync::Arc::new(super::state::ClientInfo::new(0, Default::default(), "aof".into(), String::new(), -1, 0));
    let mut session = Session::new(info);
    let mut stats = WorkerStats::new(super::table().len(), 0);
    let mut effects = Effects::default();
    let mut scratch = Vec::new();
    let mut errors = 0u64;
    for c in cmds {
        let argv: Vec<&[u8]> = c.iter().map(|a| a.as_slice()).collect();
        if super::table().lookup(argv[0]).is_none() {
            return Err(format!("Unknown command '{}' reading the append only file", String::from_utf8_lossy(argv[0])));
        }
        // Time stands still while loading (Redis does not expire keys then): expirations
        // that happened are in the file as DELs, absolute TTLs apply once loaded.
        let r = super::execute(shared, &mut session, &mut stats, &mut effects, 0, &argv, &mut scratch);
        if matches!(r, Reply::Error(_)) {
            errors += 1;
        }
        session.block = None;
        effects.ready.clear();
        effects.unblock.clear();
        effects.pushes.clear();
    }
    if session.multi.is_some() {
        log::warn!("The AOF ends inside a MULTI block: the unfinished transaction was discarded");
    }
    Ok(errors)
}

// ---------------------------------------------------------------------------------------
// The AOF's life: load or create at start, BGREWRITEAOF, turning it on and off
// ---------------------------------------------------------------------------------------

use crate::persistence::aof::{self as file, FileInfo, Fsync, Manifest};
use crate::persistence::{self, SaveJob};
use std::path::PathBuf;

/// `<dir>/<appenddirname>` and `appendfilename`.
pub fn paths(shared: &Shared) -> (PathBuf, String) {
    let c = shared.config.read();
    (std::path::Path::new(&c.dir).join(&c.appenddirname), c.appendfilename.clone())
}

fn fsync_policy(shared: &Shared) -> Fsync {
    Fsync::parse(&shared.config.read().appendfsync).unwrap_or(Fsync::EverySec)
}

fn file_size(p: &std::path::Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

/// Total bytes of the files the manifest names.
pub fn total_size(shared: &Shared) -> u64 {
    let (dir, _) = paths(shared);
    let m = shared.aof.manifest.lock();
    m.as_ref().map(|m| m.load_order().map(|f| file_size(&dir.join(&f.name))).sum()).unwrap_or(0)
}

fn write_manifest(dir: &std::path::Path, name: &str, m: &Manifest) -> Result<(), String> {
    file::write_atomic(&dir.join(file::manifest_name(name)), m.to_text().as_bytes())
        .map_err(|e| format!("Can't persist the AOF manifest {}: {e}", file::manifest_name(name)))
}

/// At start with `appendonly yes`: loads the AOF the manifest names (the RDB file is not
/// read, as in Redis), or creates an empty base + incr + manifest; then logging starts.
pub fn load_or_create(shared: &Shared) -> Result<(), String> {
    let (dir, name) = paths(shared);
    let mpath = dir.join(file::manifest_name(&name));
    let text = match std::fs::read_to_string(&mpath) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(format!("Can't read the AOF manifest {}: {e}", mpath.display())),
    };
    let mut manifest = match text {
        None => {
            std::fs::create_dir_all(&dir)
                .map_err(|e| format!("Can't create the AOF directory {}: {e}", dir.display()))?;
            let preamble = shared.config.read().aof_use_rdb_preamble;
            let base = FileInfo { name: file::base_name(&name, 1, preamble), seq: 1, kind: 'b' };
            let params = persistence::SaveParams {
                dir: dir.display().to_string(),
                dbfilename: base.name.clone(),
                as_commands: !preamble,
                ..super::server::save_params(shared)
            };
            let begun = persistence::begin(&shared.keyspace, unix_ms());
            persistence::write_snapshot(&shared.keyspace, begun, &params)?;
            log::info!("Creating AOF base file {} on server start", base.name);
            let incr = FileInfo { name: file::incr_name(&name, 1), seq: 1, kind: 'i' };
            file::open_append(&dir.join(&incr.name)).map_err(|e| format!("Can't create {}: {e}", incr.name))?;
            log::info!("Creating AOF incr file {} on server start", incr.name);
            let m = Manifest { base: Some(base), incrs: vec![incr], history: vec![] };
            write_manifest(&dir, &name, &m)?;
            m
        }
        Some(t) => {
            let m = Manifest::parse(&t)?;
            load_files(shared, &dir, &m)?;
            m
        }
    };
    if manifest.incrs.is_empty() {
        let incr = FileInfo {
            name: file::incr_name(&name, manifest.next_incr_seq()),
            seq: manifest.next_incr_seq(),
            kind: 'i',
        };
        manifest.incrs.push(incr);
        write_manifest(&dir, &name, &manifest)?;
    }
    let last = manifest.incrs.last().map(|f| dir.join(&f.name)).unwrap_or_default();
    let (f, size) =
        file::open_append(&last).map_err(|e| format!("Can't open the append-only file {}: {e}", last.display()))?;
    let base_size: u64 = manifest.load_order().map(|f| file_size(&dir.join(&f.name))).sum();
    *shared.aof.manifest.lock() = Some(manifest);
    track_expired(shared, true);
    shared.aof.start(f, last, size, fsync_policy(shared));
    shared.persist.with(|s| s.aof_base_size = base_size);
    Ok(())
}

fn load_files(shared: &Shared, dir: &std::path::Path, m: &Manifest) -> Result<(), String> {
    let truncate_ok = shared.config.read().aof_load_truncated;
    let files: Vec<&FileInfo> = m.load_order().collect();
    let (mut keys, mut cmds) = (0u64, 0u64);
    for (i, f) in files.iter().enumerate() {
        let path = dir.join(&f.name);
        let data = match std::fs::read(&path) {
            Ok(d) => d,
            Err(e) => return Err(format!("The AOF file {} doesn't exist or can't be read: {e}", f.name)),
        };
        if data.starts_with(b"REDIS") {
            // Expired keys stay until the incr files are replayed (an incr command may
            // have run while they were alive; their expiry, if it happened, is a DEL).
            let info =
                persistence::load(&shared.keyspace, &path, super::server::load_limits(shared), 0)?.unwrap_or_default();
            for code in &info.functions {
                super::functions::load_library(shared, code, true)?;
            }
            keys += info.keys_loaded;
            continue;
        }
        let parsed = file::parse_commands(&data).map_err(|e| format!("{e} ({})", f.name))?;
        let list = match parsed {
            file::Parsed::Complete(c) => c,
            file::Parsed::Truncated { cmds, valid } => {
                let last = i + 1 == files.len();
                if !(last && truncate_ok) {
                    return Err(format!(
                        "Unexpected end of file reading the append only file {}. You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server.",
                        f.name
                    ));
                }
                log::warn!(
                    "!!! Warning: short read while loading the AOF file {}!!! AOF loaded anyway because aof-load-truncated is enabled; truncating it to {valid} bytes",
                    f.name
                );
                let fh = std::fs::OpenOptions::new().write(true).open(&path).map_err(|e| e.to_string())?;
                fh.set_len(valid as u64).map_err(|e| format!("Error truncating the AOF file {}: {e}", f.name))?;
                let _ = fh.sync_all();
                cmds
            }
        };
        cmds += list.len() as u64;
        let errors = replay(shared, &list)?;
        if errors > 0 {
            log::warn!("{errors} commands in {} answered an error while loading", f.name);
        }
    }
    // Loading ran at time 0: give every key the load time as its last access.
    let now = unix_ms();
    for db in shared.keyspace.dbs.iter() {
        for s in db.stripes.iter() {
            for it in s.read().iter() {
                it.touch(now);
            }
        }
    }
    // Loading is not a change to persist.
    let dirty = shared.dirty();
    shared.persist.with(|s| {
        s.dirty_at_save = dirty;
        s.last_load_keys_loaded = keys;
    });
    log::info!("DB loaded from append only file: {} files, {keys} keys from RDB bases, {cmds} commands", files.len());
    Ok(())
}

/// BGREWRITEAOF: opens a new incr file and a snapshot at one point; the saver thread
/// writes the snapshot as the new base. `Err(true)`: a save or rewrite is running.
pub fn rewrite_start(shared: &Shared) -> Result<(), Option<String>> {
    let now = unix_ms();
    if !shared.persist.try_start_rewrite(now) {
        return Err(None);
    }
    let res = (|| -> Result<Option<u64>, String> {
        let (dir, name) = paths(shared);
        std::fs::create_dir_all(&dir).map_err(|e| format!("Can't create the AOF directory {}: {e}", dir.display()))?;
        let dirty = shared.dirty();
        if !shared.aof.on.load(std::sync::atomic::Ordering::Acquire) {
            // AOF off: only a new base (and manifest) is written.
            let begun = persistence::begin(&shared.keyspace, now);
            shared.persist.submit(SaveJob { begun, dirty, aof_incr_seq: None });
            return Ok(None);
        }
        let mut m = shared.aof.manifest.lock().clone().unwrap_or_default();
        let seq = m.next_incr_seq();
        let incr = FileInfo { name: file::incr_name(&name, seq), seq, kind: 'i' };
        let path = dir.join(&incr.name);
        let (f, _) = file::open_append(&path).map_err(|e| format!("Can't open {}: {e}", incr.name))?;
        m.incrs.push(incr.clone());
        write_manifest(&dir, &name, &m)?;
        *shared.aof.manifest.lock() = Some(m);
        log::info!("Creating AOF incr file {} on background rewrite", incr.name);
        let begun = persistence::begin_with(&shared.keyspace, now, || shared.aof.rotate(f, path));
        shared.persist.submit(SaveJob { begun, dirty, aof_incr_seq: Some(seq) });
        Ok(Some(seq))
    })();
    match res {
        Ok(_) => {
            log::info!("Background append only file rewriting started");
            Ok(())
        }
        Err(e) => {
            log::warn!("Can't rewrite the append only file in background: {e}");
            shared.persist.finish_rewrite(false, 0, unix_ms());
            Err(Some(e))
        }
    }
}

/// The saver thread's work for a BGREWRITEAOF: the snapshot becomes the new base; the
/// manifest then names it and the incr files from the rewrite point on; older files go.
pub fn rewrite_run(shared: &Shared, job: SaveJob) {
    let (dir, name) = paths(shared);
    let base_seq = shared.aof.manifest.lock().as_ref().map(|m| m.next_base_seq()).unwrap_or(1);
    let preamble = shared.config.read().aof_use_rdb_preamble;
    let base = FileInfo { name: file::base_name(&name, base_seq, preamble), seq: base_seq, kind: 'b' };
    let params = persistence::SaveParams {
        dir: dir.display().to_string(),
        dbfilename: base.name.clone(),
        as_commands: !preamble,
        ..super::server::save_params(shared)
    };
    let res = persistence::write_snapshot(&shared.keyspace, job.begun, &params).and_then(|_| {
        let mut guard = shared.aof.manifest.lock();
        let old = guard.clone().unwrap_or_default();
        let incrs: Vec<FileInfo> = match job.aof_incr_seq {
            Some(seq) => old.incrs.iter().filter(|f| f.seq >= seq).cloned().collect(),
            None => Vec::new(),
        };
        let m = Manifest { base: Some(base.clone()), incrs, history: vec![] };
        write_manifest(&dir, &name, &m)?;
        for f in old.load_order() {
            if !m.load_order().any(|n| n.name == f.name) {
                log::info!("Removing the history file {}", f.name);
                let _ = std::fs::remove_file(dir.join(&f.name));
            }
        }
        *guard = Some(m);
        Ok(())
    });
    let size = total_size(shared);
    match &res {
        Ok(()) => log::info!("Background AOF rewrite finished successfully"),
        Err(e) => log::warn!("Background AOF rewrite failed: {e}"),
    }
    shared.persist.finish_rewrite(res.is_ok(), size, unix_ms());
}

/// CONFIG SET appendonly yes at runtime: like Redis, a rewrite creates the base and the
/// incr file logging starts with.
pub fn enable(shared: &Shared) -> Result<(), String> {
    let (dir, name) = paths(shared);
    std::fs::create_dir_all(&dir).map_err(|e| format!("Can't create the AOF directory {}: {e}", dir.display()))?;
    let now = unix_ms();
    shared.persist.wait_idle();
    if !shared.persist.try_start_rewrite(now) {
        return Err("a save started meanwhile".into());
    }
    let mut m = shared.aof.manifest.lock().clone().unwrap_or_default();
    let seq = m.next_incr_seq();
    let incr = FileInfo { name: file::incr_name(&name, seq), seq, kind: 'i' };
    let path = dir.join(&incr.name);
    let (f, _) = match file::open_append(&path) {
        Ok(x) => x,
        Err(e) => {
            shared.persist.finish_rewrite(false, 0, unix_ms());
            return Err(format!("Can't open {}: {e}", incr.name));
        }
    };
    m.incrs.push(incr);
    *shared.aof.manifest.lock() = Some(m);
    let dirty = shared.dirty();
    let fsync = fsync_policy(shared);
    track_expired(shared, true);
    let begun = persistence::begin_with(&shared.keyspace, now, || shared.aof.start(f, path, 0, fsync));
    shared.persist.submit(SaveJob { begun, dirty, aof_incr_seq: Some(seq) });
    Ok(())
}

/// CONFIG SET appendonly no: flush, fsync and stop logging.
pub fn disable(shared: &Shared) {
    shared.aof.stop();
    track_expired(shared, false);
}

/// Makes every stripe record the keys expiry removes (logged as DELs in the AOF,
/// announced as `expired` events, invalidated for client tracking) while any needs them; `aof_on` is the AOF state
/// about to be in force.
pub fn track_expired(shared: &Shared, aof_on: bool) {
    let f = super::notify::flags(shared);
    use crate::config::events as ev;
    let tracking = shared.ntracking.load(std::sync::atomic::Ordering::Acquire) > 0;
    let on = aof_on || tracking || (f & ev::EXPIRED != 0 && f & (ev::KEYSPACE | ev::KEYEVENT) != 0);
    for db in shared.keyspace.dbs.iter() {
        for s in db.stripes.iter() {
            s.write().track_expired(on);
        }
    }
}
