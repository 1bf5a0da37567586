//! Pub/Sub (COMMAND DOCS group `pubsub`): SUBSCRIBE UNSUBSCRIBE PSUBSCRIBE PUNSUBSCRIBE
//! PUBLISH SSUBSCRIBE SUNSUBSCRIBE SPUBLISH PUBSUB (CHANNELS NUMSUB NUMPAT SHARDCHANNELS
//! SHARDNUMSUB HELP), and the subscription registry they share.
//!
//! Delivery: PUBLISH runs on a worker, looks the receivers up in [`PubSub`] and queues
//! the frame (encoded once per protocol, shared) per receiver in `Effects::pushes`; the
//! worker hands a job batch's frames to the reactor in one message, which appends them to
//! each receiver's output and writes every touched connection once (after the reply of a
//! batch the receiver has in flight, so a subscribe confirmation precedes its messages).
//!
//! Must hold: a client's subscriptions are in the registry exactly while its session
//! counts them (`Session::subs`); a disconnect drops them (`PubSub::remove_client`);
//! replies and errors are Redis 7.0's byte for byte; in RESP2 a subscribed client may only
//! run (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PING, QUIT and RESET.

use super::connection::help_reply;
use super::flags::*;
use super::state::{ConnId, Shared};
use super::{Command, Ctx};
use crate::protocol::{Proto, Reply};
use crate::store::glob::glob_match;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

const G: &str = "pubsub";

pub static COMMANDS: &[Command] = &[
    Command::new("subscribe", G, -2, PUBSUB | NOSCRIPT | LOADING | STALE, subscribe).doc("Listen for messages published to the given channels", "2.0.0", "O(N) where N is the number of channels to subscribe to.").args("channel [channel ...]"),
    Command::new("unsubscribe", G, -1, PUBSUB | NOSCRIPT | LOADING | STALE, unsubscribe).doc("Stop listening for messages posted to the given channels", "2.0.0", "O(N) where N is the number of clients already subscribed to a channel.").args("[channel [channel ...]]"),
    Command::new("psubscribe", G, -2, PUBSUB | NOSCRIPT | LOADING | STALE, psubscribe).doc("Listen for messages published to channels matching the given patterns", "2.0.0", "O(N) where N is the number of patterns the client is already subscribed to.").args("pattern [pattern ...]"),
    Command::new("punsubscribe", G, -1, PUBSUB | NOSCRIPT | LOADING | STALE, punsubscribe).doc("Stop listening for messages posted to channels matching the given patterns", "2.0.0", "O(N+M) where N is the number of patterns the client is already subscribed and M is the number of total patterns subscribed in the system (by any client).").args("[pattern [pattern ...]]"),
    Command::new("publish", G, 3, PUBSUB | LOADING | STALE | FAST, publish).doc("Post a message to a channel", "2.0.0", "O(N+M) where N is the number of clients subscribed to the receiving channel and M is the total number of subscribed patterns (by any client).").args("channel message"),
    Command::new("ssubscribe", G, -2, PUBSUB | NOSCRIPT | LOADING | STALE, ssubscribe).ks("not_key").keys(1, -1, 1).doc("Listen for messages published to the given shard channels", "7.0.0", "O(N) where N is the number of shard channels to subscribe to.").args("shardchannel [shardchannel ...]"),
    Command::new("sunsubscribe", G, -1, PUBSUB | NOSCRIPT | LOADING | STALE, sunsubscribe).ks("not_key").keys(1, -1, 1).doc("Stop listening for messages posted to the given shard channels", "7.0.0", "O(N) where N is the number of clients already subscribed to a shard channel.").args("[shardchannel [shardchannel ...]]"),
    Command::new("spublish", G, 3, PUBSUB | LOADING | STALE | FAST, spublish).ks("not_key").keys(1, 1, 1).doc("Post a message to a shard channel", "7.0.0", "O(N) where N is the number of clients subscribed to the receiving shard channel.").args("shardchannel message"),
    Command::container("pubsub", G, PUBSUB_SUBS).doc("A container for Pub/Sub commands", "2.8.0", "Depends on subcommand."),
];

static PUBSUB_SUBS: &[Command] = &[
    Command::new("pubsub|channels", G, -2, PUBSUB | LOADING | STALE, pubsub_channels).doc("List active channels", "2.8.0", "O(N) where N is the number of active channels, and assuming constant time pattern matching (relatively short channels and patterns)").args("[pattern]"),
    Command::new("pubsub|numsub", G, -2, PUBSUB | LOADING | STALE, pubsub_numsub).doc("Get the count of subscribers for channels", "2.8.0", "O(N) for the NUMSUB subcommand, where N is the number of requested channels").args("[channel [channel ...]]"),
    Command::new("pubsub|numpat", G, 2, PUBSUB | LOADING | STALE, pubsub_numpat).doc("Get the count of unique patterns pattern subscriptions", "2.8.0", "O(1)"),
    Command::new("pubsub|shardchannels", G, -2, PUBSUB | LOADING | STALE, pubsub_shardchannels).doc("List active shard channels", "7.0.0", "O(N) where N is the number of active shard channels, and assuming constant time pattern matching (relatively short shard channels).").args("[pattern]"),
    Command::new("pubsub|shardnumsub", G, -2, PUBSUB | LOADING | STALE, pubsub_shardnumsub).doc("Get the count of subscribers for shard channels", "7.0.0", "O(N) for the SHARDNUMSUB subcommand, where N is the number of requested shard channels").args("[shardchannel [shardchannel ...]]"),
    Command::new("pubsub|help", G, 2, LOADING | STALE, pubsub_help).doc("Show helpful text about the different subcommands", "6.2.0", "O(1)"),
];

/// One subscriber of a channel or pattern.
#[derive(Clone, Copy, Debug)]
struct Sub {
    conn: ConnId,
    proto: Proto,
}

/// Channel / pattern / shard-channel name -> subscribing clients (by client id).
type Table = BTreeMap<Vec<u8>, HashMap<u64, Sub>>;

/// Every subscription of every client.
#[derive(Default)]
pub struct PubSub {
    channels: Table,
    patterns: Table,
    shard: Table,
    /// Per client: (channels, patterns, shard channels) it is subscribed to, in order.
    clients: HashMap<u64, [Vec<Vec<u8>>; 3]>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Channel = 0,
    Pattern = 1,
    Shard = 2,
}

impl PubSub {
    fn table(&mut self, k: Kind) -> &mut Table {
        match k {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shard,
        }
    }
    fn add(&mut self, k: Kind, client: u64, sub: Sub, name: &[u8]) -> bool {
        let t = self.table(k);
        let fresh = t.entry(name.to_vec()).or_default().insert(client, sub).is_none();
        if fresh {
            self.clients.entry(client).or_default()[k as usize].push(name.to_vec());
        }
        fresh
    }
    fn remove(&mut self, k: Kind, client: u64, name: &[u8]) -> bool {
        let t = self.table(k);
        let Some(m) = t.get_mut(name) else { return false };
        if m.remove(&client).is_none() {
            return false;
        }
        if m.is_empty() {
            t.remove(name);
        }
        if let Some(c) = self.clients.get_mut(&client) {
            c[k as usize].retain(|n| n != name);
            if c.iter().all(|v| v.is_empty()) {
                self.clients.remove(&client);
            }
        }
        true
    }
    /// Subscriptions of `client` by kind (channels, patterns, shard channels).
    fn counts_of(&self, client: u64) -> [usize; 3] {
        self.clients.get(&client).map_or([0; 3], |c| [c[0].len(), c[1].len(), c[2].len()])
    }
    /// A client's channels, patterns and shard channels (ACL checks after SETUSER).
    pub fn subscriptions(&self, client: u64) -> [Vec<Vec<u8>>; 3] {
        self.clients.get(&client).cloned().unwrap_or_default()
    }
    fn names(&self, k: Kind, client: u64) -> Vec<Vec<u8>> {
        self.clients.get(&client).map(|c| c[k as usize].clone()).unwrap_or_default()
    }
    /// The count a (un)subscribe reply shows (Redis 7.0): channels + patterns, or, for
    /// the shard commands, shard channels only.
    fn count(&self, k: Kind, client: u64) -> usize {
        self.clients.get(&client).map_or(0, |c| match k {
            Kind::Shard => c[2].len(),
            _ => c[0].len() + c[1].len(),
        })
    }
    /// Drops every subscription of a client (disconnect).
    pub fn remove_client(&mut self, client: u64) {
        let Some(c) = self.clients.remove(&client) else { return };
        for (i, names) in c.iter().enumerate() {
            let t = match i {
                0 => &mut self.channels,
                1 => &mut self.patterns,
                _ => &mut self.shard,
            };
            for n in names {
                if let Some(m) = t.get_mut(n) {
                    m.remove(&client);
                    if m.is_empty() {
                        t.remove(n);
                    }
                }
            }
        }
    }
    /// Channels, patterns and shard channels with at least one subscriber (INFO stats,
    /// metrics).
    pub fn counts(&self) -> (usize, usize, usize) {
        (self.channels.len(), self.patterns.len(), self.shard.len())
    }
    pub fn pattern_count(&self) -> usize {
        self.patterns.len()
    }
}

fn bulk(out: &mut Vec<u8>, b: &[u8]) {
    out.push(b'$');
    out.extend_from_slice(b.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(b);
    out.extend_from_slice(b"\r\n");
}

/// One element of a pub/sub frame.
enum Part<'a> {
    Bulk(&'a [u8]),
    Null,
    Int(i64),
}

/// A pub/sub frame: `*n` in RESP2, a push `>n` in RESP3.
fn frame(proto: Proto, parts: &[Part]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.push(if proto == Proto::Resp2 { b'*' } else { b'>' });
    out.extend_from_slice(parts.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    for p in parts {
        match p {
            Part::Bulk(b) => bulk(&mut out, b),
            Part::Null => out.extend_from_slice(if proto == Proto::Resp2 { b"$-1\r\n" } else { b"_\r\n" }),
            Part::Int(i) => {
                out.push(b':');
                out.extend_from_slice(i.to_string().as_bytes());
                out.extend_from_slice(b"\r\n");
            }
        }
    }
    out
}

fn me(ctx: &Ctx) -> Sub {
    Sub { conn: ctx.session.conn, proto: ctx.session.proto }
}

fn subscribe_generic(ctx: &mut Ctx, argv: &[&[u8]], k: Kind, what: &[u8]) -> Reply {
    let sub = me(ctx);
    let id = ctx.session.id;
    let mut out = Vec::new();
    let mut ps = ctx.shared.pubsub.write();
    for name in &argv[1..] {
        ps.add(k, id, sub, name);
        let n = ps.count(k, id) as i64;
        out.extend(frame(ctx.session.proto, &[Part::Bulk(what), Part::Bulk(name), Part::Int(n)]));
    }
    publish_counts(ctx, &ps);
    Reply::Raw(out)
}

fn unsubscribe_generic(ctx: &mut Ctx, argv: &[&[u8]], k: Kind, what: &[u8]) -> Reply {
    let id = ctx.session.id;
    let proto = ctx.session.proto;
    let mut out = Vec::new();
    let mut ps = ctx.shared.pubsub.write();
    let names: Vec<Vec<u8>> =
        if argv.len() > 1 { argv[1..].iter().map(|a| a.to_vec()).collect() } else { ps.names(k, id) };
    if names.is_empty() {
        // Nothing to leave: one reply with a null name.
        let n = ps.count(k, id) as i64;
        out.extend(frame(proto, &[Part::Bulk(what), Part::Null, Part::Int(n)]));
    }
    for name in names {
        ps.remove(k, id, &name);
        let n = ps.count(k, id) as i64;
        out.extend(frame(proto, &[Part::Bulk(what), Part::Bulk(&name), Part::Int(n)]));
    }
    publish_counts(ctx, &ps);
    Reply::Raw(out)
}

/// Mirrors the client's subscription counts into its session and CLIENT LIST info.
fn publish_counts(ctx: &mut Ctx, ps: &PubSub) {
    let id = ctx.session.id;
    let c = ps.counts_of(id);
    ctx.session.subs = c.iter().sum();
    for (a, v) in ctx.session.info.subs.iter().zip(c) {
        a.store(v, std::sync::atomic::Ordering::Relaxed);
    }
}

fn subscribe(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    subscribe_generic(ctx, argv, Kind::Channel, b"subscribe")
}
fn psubscribe(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    subscribe_generic(ctx, argv, Kind::Pattern, b"psubscribe")
}
fn ssubscribe(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    subscribe_generic(ctx, argv, Kind::Shard, b"ssubscribe")
}
fn unsubscribe(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    unsubscribe_generic(ctx, argv, Kind::Channel, b"unsubscribe")
}
fn punsubscribe(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    unsubscribe_generic(ctx, argv, Kind::Pattern, b"punsubscribe")
}
fn sunsubscribe(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    unsubscribe_generic(ctx, argv, Kind::Shard, b"sunsubscribe")
}

/// Queues `message` for every subscriber of `channel` (and, unless shard, every matching
/// pattern) and answers the number of receivers. Frames for the publishing connection
/// itself (RESP3) go before that reply, as Redis writes them.
fn publish_generic(ctx: &mut Ctx, channel: &[u8], message: &[u8], shard: bool) -> Reply {
    let me = ctx.session.conn;
    let before = ctx.effects.pushes.len();
    let n = queue_message(ctx, channel, message, shard);
    let mut own = Vec::new();
    let mut i = before;
    while i < ctx.effects.pushes.len() {
        if ctx.effects.pushes[i].0 == me {
            own.extend_from_slice(&ctx.effects.pushes.remove(i).1);
        } else {
            i += 1;
        }
    }
    if own.is_empty() {
        return Reply::Int(n);
    }
    own.extend_from_slice(format!(":{n}\r\n").as_bytes());
    Reply::Raw(own)
}

fn queue_message(ctx: &mut Ctx, channel: &[u8], message: &[u8], shard: bool) -> i64 {
    queue_to(ctx.shared, &mut ctx.effects.pushes, channel, message, shard)
}

/// Queues `message` on `channel` for every subscriber into `pushes` (for the reactor);
/// returns the number of receivers. Used by PUBLISH and keyspace notifications.
pub fn queue_to(
    shared: &Shared,
    pushes: &mut Vec<(ConnId, Arc<[u8]>)>,
    channel: &[u8],
    message: &[u8],
    shard: bool,
) -> i64 {
    let ps = shared.pubsub.read();
    let mut n = 0;
    let (table, kind): (&Table, &[u8]) = if shard { (&ps.shard, b"smessage") } else { (&ps.channels, b"message") };
    if let Some(subs) = table.get(channel) {
        // Encoded once per protocol, shared by every receiver.
        let mut frames: [Option<Arc<[u8]>>; 2] = [None, None];
        for s in subs.values() {
            let f = frames[(s.proto != Proto::Resp2) as usize].get_or_insert_with(|| {
                frame(s.proto, &[Part::Bulk(kind), Part::Bulk(channel), Part::Bulk(message)]).into()
            });
            pushes.push((s.conn, f.clone()));
            n += 1;
        }
    }
    if !shard {
        for (pat, subs) in &ps.patterns {
            if glob_match(pat, channel, false) {
                let mut frames: [Option<Arc<[u8]>>; 2] = [None, None];
                for s in subs.values() {
                    let f = frames[(s.proto != Proto::Resp2) as usize].get_or_insert_with(|| {
                        let parts =
                            [Part::Bulk(b"pmessage"), Part::Bulk(pat), Part::Bulk(channel), Part::Bulk(message)];
                        frame(s.proto, &parts).into()
                    });
                    pushes.push((s.conn, f.clone()));
                    n += 1;
                }
            }
        }
    }
    n
}

fn publish(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    publish_generic(ctx, argv[1], argv[2], false)
}
fn spublish(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    publish_generic(ctx, argv[1], argv[2], true)
}

fn channels_generic(ctx: &mut Ctx, argv: &[&[u8]], shard: bool) -> Reply {
    let pat = argv.get(2).copied();
    let ps = ctx.shared.pubsub.read();
    let t = if shard { &ps.shard } else { &ps.channels };
    Reply::Array(t.keys().filter(|c| pat.is_none_or(|p| glob_match(p, c, false))).map(|c| Reply::bulk(c)).collect())
}

fn numsub_generic(ctx: &mut Ctx, argv: &[&[u8]], shard: bool) -> Reply {
    let ps = ctx.shared.pubsub.read();
    let t = if shard { &ps.shard } else { &ps.channels };
    // A flat array in RESP3 too (Redis 7.0).
    let mut v = Vec::new();
    for c in &argv[2..] {
        v.push(Reply::bulk(c));
        v.push(Reply::Int(t.get(*c).map_or(0, |m| m.len()) as i64));
    }
    Reply::Array(v)
}

fn pubsub_channels(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    channels_generic(ctx, argv, false)
}
fn pubsub_shardchannels(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    channels_generic(ctx, argv, true)
}
fn pubsub_numsub(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    numsub_generic(ctx, argv, false)
}
fn pubsub_shardnumsub(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    numsub_generic(ctx, argv, true)
}
fn pubsub_numpat(ctx: &mut Ctx, _: &[&[u8]]) -> Reply {
    Reply::Int(ctx.shared.pubsub.read().pattern_count() as i64)
}

fn pubsub_help(_: &mut Ctx, _: &[&[u8]]) -> Reply {
    help_reply(
        "PUBSUB",
        &[
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> (default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
        ],
    )
}

/// Commands a RESP2 client may run while subscribed.
pub fn allowed_when_subscribed(cmd: &Command) -> bool {
    matches!(
        cmd.name,
        "subscribe"
            | "unsubscribe"
            | "psubscribe"
            | "punsubscribe"
            | "ssubscribe"
            | "sunsubscribe"
            | "ping"
            | "quit"
            | "reset"
    )
}

/// PING in RESP2 subscribed mode: `["pong", message or ""]`.
pub fn subscribed_ping(argv: &[&[u8]]) -> Reply {
    Reply::Array(vec![Reply::bulk(b"pong"), Reply::bulk(argv.get(1).copied().unwrap_or(b""))])
}
