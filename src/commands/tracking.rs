//! Client-side caching (Redis 7.0's tracking.c): CLIENT TRACKING, CACHING, GETREDIR and
//! TRACKINGINFO (declared in connection.rs's CLIENT table), the table of keys that default-mode clients read, BCAST prefixes, and
//! the invalidation messages: RESP3 `invalidate` pushes, or `message`s on
//! `__redis__:invalidate` to a RESP2 redirect client in Pub/Sub mode.
//!
//! Must hold:
//! - nothing here runs unless some client has tracking on (`Shared::ntracking`);
//! - the table is keyed by key name only, across databases, as in Redis;
//! - entries of clients that turned tracking off or left are dropped lazily, when their
//!   key is invalidated (so INFO's `tracking_total_*` agree with Redis);
//! - invalidations are queued as pushes and reach a client after the reply of the batch
//!   in flight on its connection (a client's own write: after that write's reply);
//! - BCAST keys collected during one worker message are sent as one message per prefix
//!   (Redis: per event-loop iteration), sorted and without duplicates.
//!
//! Lock order: `Shared::tracking`, then `Shared::clients` (never the other way).

use super::errors;
use super::state::{ClientInfo, ConnId, Effects, Session, Shared};
use super::{eq_ic, Command, Ctx};
use crate::protocol::Reply;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// A client's tracking options (Redis's CLIENT_TRACKING_* flags and redirection).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mode {
    pub on: bool,
    pub bcast: bool,
    pub optin: bool,
    pub optout: bool,
    pub noloop: bool,
    /// Client id invalidations go to (0: this client).
    pub redirect: u64,
}

/// What other workers need to know of a tracking client.
struct Tracker {
    info: Arc<ClientInfo>,
    mode: Mode,
    /// BCAST prefixes, in the order given.
    prefixes: Vec<Vec<u8>>,
    /// The redirect client was gone at the last invalidation (TRACKINGINFO's
    /// `broken_redirect`).
    broken: bool,
}

/// The server-wide tracking state (behind `Shared::tracking`).
#[derive(Default)]
pub struct Tracking {
    /// Key -> ids of the default-mode clients that read it.
    table: HashMap<Vec<u8>, Vec<u64>>,
    /// Sum of the table's id lists (INFO tracking_total_items).
    items: usize,
    clients: HashMap<u64, Tracker>,
    /// BCAST prefix -> ids of the clients listening on it.
    prefixes: BTreeMap<Vec<u8>, Vec<u64>>,
}

/// Whether writes must look at the tracking state: some client tracks, or the table
/// still holds keys read by clients that have since stopped (Redis drops those entries
/// when the key is next modified).
#[inline]
pub fn live(shared: &Shared) -> bool {
    shared.tracking_live.load(Ordering::Acquire)
}

fn set_live(shared: &Shared, t: &Tracking) {
    shared.tracking_live.store(!t.clients.is_empty() || !t.table.is_empty(), Ordering::Release);
}

/// INFO's tracking fields: (tracking_total_keys, tracking_total_items, tracking_total_prefixes).
pub fn totals(shared: &Shared) -> (usize, usize, usize) {
    let t = shared.tracking.lock();
    (t.table.len(), t.items, t.prefixes.len())
}

/// A pending BCAST invalidation: (prefix, key, id of the client that modified it, 0 if none).
pub type BcastKey = (Vec<u8>, Vec<u8>, u64);

enum Payload<'a> {
    Keys(&'a [&'a [u8]]),
    /// FLUSHDB/FLUSHALL: a null in the tracking client's own protocol.
    Null,
}

/// Queues an invalidation for tracking client `id` (Redis's sendTrackingMessage).
fn send(shared: &Shared, t: &mut Tracking, id: u64, payload: &Payload, pushes: &mut Vec<(ConnId, Arc<[u8]>)>) {
    let Some(tr) = t.clients.get_mut(&id) else { return };
    let own_resp3 = tr.info.resp.load(Ordering::Relaxed) >= 3;
    let mut target = tr.info.clone();
    let redirected = tr.mode.redirect != 0;
    if redirected {
        match shared.clients.lock().get(&tr.mode.redirect) {
            Some(r) => target = r.clone(),
            None => {
                tr.broken = true;
                if own_resp3 {
                    let mut f = b">2\r\n$21\r\ntracking-redir-broken\r\n".to_vec();
                    f.extend_from_slice(format!(":{}\r\n", tr.mode.redirect).as_bytes());
                    pushes.push((tr.info.conn, f.into()));
                }
                return;
            }
        }
    }
    let mut f: Vec<u8> = if target.resp.load(Ordering::Relaxed) >= 3 {
        b">2\r\n$10\r\ninvalidate\r\n".to_vec()
    } else if redirected && target.subs.iter().any(|s| s.load(Ordering::Relaxed) > 0) {
        b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n".to_vec()
    } else {
        // RESP2 without a Pub/Sub redirect: nothing can carry the message.
        return;
    };
    match payload {
        Payload::Null => f.extend_from_slice(if own_resp3 { b"_\r\n" } else { b"$-1\r\n" }),
        Payload::Keys(keys) => {
            f.extend_from_slice(format!("*{}\r\n", keys.len()).as_bytes());
            for k in keys.iter() {
                f.extend_from_slice(format!("${}\r\n", k.len()).as_bytes());
                f.extend_from_slice(k);
                f.extend_from_slice(b"\r\n");
            }
        }
    }
    pushes.push((target.conn, f.into()));
}

/// Invalidates `key` for the default-mode clients that read it (Redis's
/// trackingInvalidateKey) and notes it for BCAST clients whose prefix matches: into
/// `bcast` when given (sent by [`flush_bcast`]), else sent right away.
fn invalidate_in(
    shared: &Shared,
    t: &mut Tracking,
    key: &[u8],
    by: u64,
    pushes: &mut Vec<(ConnId, Arc<[u8]>)>,
    bcast: Option<&mut Vec<BcastKey>>,
) {
    if !t.prefixes.is_empty() {
        let hits: Vec<Vec<u8>> = t.prefixes.keys().filter(|p| key.starts_with(p)).cloned().collect();
        match bcast {
            Some(b) => b.extend(hits.into_iter().map(|p| (p, key.to_vec(), by))),
            None => {
                for p in hits {
                    send_prefix(shared, t, &p, &[(key, by)], pushes);
                }
            }
        }
    }
    let Some(ids) = t.table.remove(key) else { return };
    t.items -= ids.len();
    for id in ids {
        let Some(tr) = t.clients.get(&id) else { continue };
        if !tr.mode.on || tr.mode.bcast || (tr.mode.noloop && id == by) {
            continue;
        }
        send(shared, t, id, &Payload::Keys(&[key]), pushes);
    }
}

/// A key was modified by client `by` (0: by the server: expiry, eviction).
pub fn key_modified(
    shared: &Shared,
    key: &[u8],
    by: u64,
    pushes: &mut Vec<(ConnId, Arc<[u8]>)>,
    bcast: Option<&mut Vec<BcastKey>>,
) {
    if !live(shared) {
        return;
    }
    let mut t = shared.tracking.lock();
    invalidate_in(shared, &mut t, key, by, pushes, bcast);
    set_live(shared, &t);
}

/// Sends `keys` (key, modifier) of prefix `p` to its BCAST clients, leaving out for a
/// NOLOOP client the keys it modified itself.
fn send_prefix(
    shared: &Shared,
    t: &mut Tracking,
    p: &[u8],
    keys: &[(&[u8], u64)],
    pushes: &mut Vec<(ConnId, Arc<[u8]>)>,
) {
    let Some(ids) = t.prefixes.get(p).cloned() else { return };
    for id in ids {
        let noloop = t.clients.get(&id).is_some_and(|tr| tr.mode.noloop);
        let list: Vec<&[u8]> = keys.iter().filter(|(_, by)| !(noloop && *by == id)).map(|(k, _)| *k).collect();
        if !list.is_empty() {
            send(shared, t, id, &Payload::Keys(&list), pushes);
        }
    }
}

/// Sends the BCAST invalidations collected during one worker message: per prefix, the
/// keys sorted and deduplicated (the first modifier of a key counts, as in Redis's rax).
pub fn flush_bcast(shared: &Shared, effects: &mut Effects) {
    if effects.bcast.is_empty() {
        return;
    }
    let mut by_prefix: BTreeMap<Vec<u8>, BTreeMap<Vec<u8>, u64>> = BTreeMap::new();
    for (p, k, by) in std::mem::take(&mut effects.bcast) {
        by_prefix.entry(p).or_default().entry(k).or_insert(by);
    }
    let mut t = shared.tracking.lock();
    for (p, keys) in by_prefix {
        let list: Vec<(&[u8], u64)> = keys.iter().map(|(k, by)| (k.as_slice(), *by)).collect();
        send_prefix(shared, &mut t, &p, &list, &mut effects.pushes);
    }
}

/// FLUSHDB / FLUSHALL: every tracking client gets a null invalidation, and the table is
/// emptied (Redis's trackingInvalidateKeysOnFlush).
pub fn flushed(shared: &Shared, pushes: &mut Vec<(ConnId, Arc<[u8]>)>) {
    if !live(shared) {
        return;
    }
    let mut t = shared.tracking.lock();
    let ids: Vec<u64> = t.clients.iter().filter(|(_, tr)| tr.mode.on).map(|(id, _)| *id).collect();
    for id in ids {
        send(shared, &mut t, id, &Payload::Null, pushes);
    }
    t.table.clear();
    t.items = 0;
    set_live(shared, &t);
}

/// After a read-only command of a tracking client: remembers its keys (Redis's
/// trackingRememberKeys), then keeps the table within tracking-table-max-keys.
pub fn remember(shared: &Shared, session: &Session, cmd: &Command, argv: &[&[u8]], effects: &mut Effects) {
    let m = session.tracking;
    if !m.on || m.bcast || (m.optin && !session.caching) || (m.optout && session.caching) {
        return;
    }
    let mut pos = Vec::new();
    cmd.for_each_key_pos(argv, |p| pos.push(p));
    if pos.is_empty() {
        return;
    }
    let max = super::state::EncLimits::get(&shared.enc.tracking_table_max_keys);
    let mut t = shared.tracking.lock();
    for p in pos {
        let ids = t.table.entry(argv[p].to_vec()).or_default();
        if !ids.contains(&session.id) {
            ids.push(session.id);
            t.items += 1;
        }
    }
    limit(shared, &mut t, max, effects);
    set_live(shared, &t);
}

/// Keeps the table within tracking-table-max-keys (0: no limit) by invalidating keys.
/// Redis evicts random keys in beforeSleep; here the first keys the map yields.
fn limit(shared: &Shared, t: &mut Tracking, max: usize, effects: &mut Effects) {
    while max > 0 && t.table.len() > max {
        let Some(k) = t.table.keys().next().cloned() else { break };
        invalidate_in(shared, t, &k, 0, &mut effects.pushes, Some(&mut effects.bcast));
    }
}

/// CONFIG SET tracking-table-max-keys: applies a lower limit at once.
pub fn enforce_limit(shared: &Shared, effects: &mut Effects) {
    let max = super::state::EncLimits::get(&shared.enc.tracking_table_max_keys);
    let mut t = shared.tracking.lock();
    limit(shared, &mut t, max, effects);
    set_live(shared, &t);
}

/// Turns tracking off for a client (CLIENT TRACKING OFF, RESET, disconnect). When it
/// was the last tracking client, stripes may stop recording expired keys.
pub fn disable(shared: &Shared, id: u64) {
    let mut t = shared.tracking.lock();
    if let Some(tr) = t.clients.remove(&id) {
        for p in &tr.prefixes {
            if let Some(ids) = t.prefixes.get_mut(p) {
                ids.retain(|x| *x != id);
                if ids.is_empty() {
                    t.prefixes.remove(p);
                }
            }
        }
        set_live(shared, &t);
        if shared.ntracking.fetch_sub(1, Ordering::AcqRel) == 1 {
            shared.retrack_expired.store(true, Ordering::Release);
        }
    }
}

/// Redis's checkPrefixCollisionsOrReply: no prefix may be a prefix of another of the
/// same client (given now or before).
fn prefix_collision(existing: &[Vec<u8>], new: &[&[u8]]) -> Option<String> {
    let overlap = |a: &[u8], b: &[u8]| a.starts_with(b) || b.starts_with(a);
    let s = |b: &[u8]| String::from_utf8_lossy(b).to_string();
    for (i, p) in new.iter().enumerate() {
        if let Some(e) = existing.iter().find(|e| overlap(e, p)) {
            return Some(format!(
                "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                s(p),
                s(e)
            ));
        }
        if let Some(q) = new[i + 1..].iter().find(|q| overlap(p, q)) {
            return Some(format!(
                "ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                s(p),
                s(q)
            ));
        }
    }
    None
}

/// CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX p ...] [BCAST] [OPTIN] [OPTOUT] [NOLOOP]
/// with Redis 7.0's checks in its order.
pub fn client_tracking(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let mut opt = Mode { on: true, ..Default::default() };
    let mut prefixes: Vec<&[u8]> = Vec::new();
    let mut j = 3;
    while j < argv.len() {
        let more = j + 1 < argv.len();
        let a = argv[j];
        if eq_ic(a, "redirect") && more {
            j += 1;
            if opt.redirect != 0 {
                return Reply::err("ERR A client can only redirect to a single other client");
            }
            let id = match super::parse_int(argv[j]) {
                Ok(v) => v,
                Err(e) => return e,
            };
            if id <= 0 || !ctx.shared.clients.lock().contains_key(&(id as u64)) {
                return Reply::err("ERR The client ID you want redirect to does not exist");
            }
            opt.redirect = id as u64;
        } else if eq_ic(a, "bcast") {
            opt.bcast = true;
        } else if eq_ic(a, "optin") {
            opt.optin = true;
        } else if eq_ic(a, "optout") {
            opt.optout = true;
        } else if eq_ic(a, "noloop") {
            opt.noloop = true;
        } else if eq_ic(a, "prefix") && more {
            j += 1;
            prefixes.push(argv[j]);
        } else {
            return Reply::err(errors::SYNTAX);
        }
        j += 1;
    }
    let cur = ctx.session.tracking;
    if eq_ic(argv[2], "on") {
        if !opt.bcast && !prefixes.is_empty() {
            return Reply::err("ERR PREFIX option requires BCAST mode to be enabled");
        }
        if cur.on && cur.bcast != opt.bcast {
            return Reply::err("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.");
        }
        if opt.bcast && (opt.optin || opt.optout) {
            return Reply::err("ERR OPTIN and OPTOUT are not compatible with BCAST");
        }
        if opt.optin && opt.optout {
            return Reply::err("ERR You can't specify both OPTIN mode and OPTOUT mode");
        }
        if (opt.optin && cur.optout) || (opt.optout && cur.optin) {
            return Reply::err("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.");
        }
        let sh = ctx.shared;
        let id = ctx.session.id;
        let mut t = sh.tracking.lock();
        if opt.bcast {
            let existing = t.clients.get(&id).map(|tr| tr.prefixes.clone()).unwrap_or_default();
            if let Some(e) = prefix_collision(&existing, &prefixes) {
                return Reply::Error(e);
            }
        }
        if !t.clients.contains_key(&id) && sh.ntracking.fetch_add(1, Ordering::AcqRel) == 0 {
            sh.retrack_expired.store(true, Ordering::Release);
        }
        let tr = t.clients.entry(id).or_insert_with(|| Tracker {
            info: ctx.session.info.clone(),
            mode: Mode::default(),
            prefixes: Vec::new(),
            broken: false,
        });
        tr.mode = opt;
        tr.broken = false;
        let mut added: Vec<Vec<u8>> = Vec::new();
        if opt.bcast {
            // Prefixes add up over successive CLIENT TRACKING ON calls, as in Redis.
            let list: Vec<&[u8]> = if prefixes.is_empty() { vec![&b""[..]] } else { prefixes };
            for p in list {
                if !tr.prefixes.iter().any(|x| x == p) {
                    tr.prefixes.push(p.to_vec());
                    added.push(p.to_vec());
                }
            }
        }
        for p in added {
            let ids = t.prefixes.entry(p).or_default();
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        set_live(sh, &t);
        ctx.session.tracking = opt;
    } else if eq_ic(argv[2], "off") {
        disable(ctx.shared, ctx.session.id);
        ctx.session.tracking = Mode::default();
        ctx.session.caching = false;
    } else {
        return Reply::err(errors::SYNTAX);
    }
    Reply::ok()
}

/// CLIENT CACHING YES|NO: the next command's reads are tracked (OPTIN) or not (OPTOUT).
pub fn client_caching(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let m = ctx.session.tracking;
    if !m.on {
        return Reply::err(
            "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled",
        );
    }
    if eq_ic(argv[2], "yes") {
        if !m.optin {
            return Reply::err("ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.");
        }
    } else if eq_ic(argv[2], "no") {
        if !m.optout {
            return Reply::err("ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.");
        }
    } else {
        return Reply::err(errors::SYNTAX);
    }
    ctx.session.caching = true;
    Reply::ok()
}

pub fn client_getredir(ctx: &mut Ctx, _: &[&[u8]]) -> Reply {
    let m = ctx.session.tracking;
    Reply::Int(if m.on { m.redirect as i64 } else { -1 })
}

pub fn client_trackinginfo(ctx: &mut Ctx, _: &[&[u8]]) -> Reply {
    let m = ctx.session.tracking;
    let (mut prefixes, broken) = match ctx.shared.tracking.lock().clients.get(&ctx.session.id) {
        Some(tr) => (tr.prefixes.clone(), tr.broken),
        None => (Vec::new(), false),
    };
    // Redis keeps a client's prefixes in a radix tree: listed in byte order.
    prefixes.sort();
    let mut flags = vec![if m.on { "on" } else { "off" }];
    if m.bcast {
        flags.push("bcast");
    }
    if m.optin {
        flags.push("optin");
        if ctx.session.caching {
            flags.push("caching-yes");
        }
    }
    if m.optout {
        flags.push("optout");
        if ctx.session.caching {
            flags.push("caching-no");
        }
    }
    if m.noloop {
        flags.push("noloop");
    }
    if broken {
        flags.push("broken_redirect");
    }
    let flags = Reply::Set(flags.into_iter().map(|f| Reply::Bulk(f.as_bytes().to_vec())).collect());
    Reply::Map(vec![
        (Reply::Bulk(b"flags".to_vec()), flags),
        (Reply::Bulk(b"redirect".to_vec()), Reply::Int(if m.on { m.redirect as i64 } else { -1 })),
        (Reply::Bulk(b"prefixes".to_vec()), Reply::Array(prefixes.into_iter().map(Reply::Bulk).collect())),
    ])
}
