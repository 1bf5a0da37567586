//! The MessagePack protocol (version 1): a binary alternative to RESP with request ids and
//! typed replies, served on its own listeners (default port 6380). Same command table,
//! same dispatcher, same semantics as RESP3; only the framing differs.
//!
//! Owns: request parsing (incremental, zero-copy like the RESP parser: string arguments
//! are ranges into the read buffer), the handshake, and reply encoding, including the
//! transcoding of already-encoded RESP3 frames (pub/sub pushes, invalidations, MONITOR
//! lines). Must hold: never panics on any input; a malformed frame gets one error frame
//! and the connection is closed; every reply frame carries the id of the request it
//! answers.
//!
//! # Specification (version 1)
//!
//! Everything below is what a client needs; MessagePack itself is
//! <https://github.com/msgpack/msgpack/blob/master/spec.md>.
//!
//! ## Framing
//! Both directions send frames: a 4-byte unsigned big-endian length `N`, then exactly `N`
//! bytes holding one MessagePack value. `N` is at least 1. The largest frame a client may
//! send is the server's `client-query-buffer-limit` (1 GiB by default; the handshake
//! reply announces it as `max-frame`); before authentication it is 256 KiB. Each string
//! argument is also bounded by `proto-max-bulk-len` (16 KiB before authentication, and
//! at most 10 arguments then, as in Redis).
//!
//! ## Handshake
//! The client's first frame must be the array `["rustis", 1]` (a str and the protocol
//! version it speaks). The server answers with a reply frame (see below) of kind map:
//! `[nil, 7, {"server": "rustis", "version": "<server version>", "proto": 1,
//! "id": <client id>, "max-frame": <bytes>}]`. Any other first frame, or another version,
//! gets an error frame and the connection is closed. Version 1 is the only version.
//!
//! ## Requests
//! An array `[id, command, arg1, arg2, ...]`:
//! - `id`: an unsigned integer chosen by the client (0 to 2^64-1), echoed in the reply.
//!   Ids need not be unique or ordered; replies come back in request order anyway.
//! - `command` and every argument: str or bin (taken as bytes), an integer (sent to the
//!   command as its decimal text), or a float32/float64 (its shortest round-trip decimal
//!   text without an exponent, `inf` / `-inf` for infinities).
//!
//! Requests may be pipelined: send many before reading any reply. A connection speaks
//! RESP3 semantics (as after `HELLO 3`): maps, sets, doubles, booleans and pushes keep
//! their type. `HELLO 3` is accepted; `HELLO 2` answers `NOPROTO`.
//!
//! ## Replies
//! Every frame from the server is an array `[id, kind, value]`. `id` is the request's id,
//! or nil for frames that answer no request (out-of-band pushes, MONITOR lines, the
//! handshake reply, protocol errors). `kind` is a small integer:
//!
//! | kind | RESP3 type | value |
//! |---|---|---|
//! | 0 | simple string | str |
//! | 1 | error | str, with its code first, as Redis words it (`"ERR unknown command ..."`, `"WRONGTYPE ..."`) |
//! | 2 | integer | int |
//! | 3 | double | float64 (may be inf / -inf / nan) |
//! | 4 | bulk string | bin |
//! | 5 | null | nil |
//! | 6 | array | array of nested values |
//! | 7 | map | map of nested keys to nested values |
//! | 8 | set | array of nested values |
//! | 9 | push | array of nested values (pub/sub messages, invalidations, subscribe confirmations) |
//! | 10 | big number | str of decimal digits |
//! | 11 | verbatim string | bin: the 3-byte format, `:`, then the text (`txt:...`), as RESP3 carries it |
//! | 12 | boolean | bool |
//!
//! Nested values (elements of arrays, maps, sets, pushes) use the natural MessagePack
//! type where one exists: simple string → str, bulk → bin, integer → int, double →
//! float64, null → nil, boolean → bool, array → array, map → map. The four types without
//! a natural counterpart are extension types: set → ext 1 (payload: a MessagePack
//! array), big number → ext 2 (payload: the decimal digits), verbatim → ext 3 (payload:
//! `fmt:text`), error → ext 4 (payload: the error text; e.g. a failed command inside
//! EXEC).
//!
//! A command answers with exactly one frame carrying its id, with these exceptions, as in
//! RESP3: SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE and their UNSUBSCRIBE forms answer with one
//! push frame per channel (all with the request's id); a PUBLISH whose channel the
//! publishing client itself subscribed to sends that client's push first, then the
//! integer (both with the request's id); CLIENT REPLY OFF/SKIP silence replies; QUIT
//! answers then closes. A blocking command (BLPOP, XREAD BLOCK, ...) answers when it is
//! served or times out. Frames with a nil id can arrive between replies at any time once
//! the client subscribed, enabled tracking or ran MONITOR.
//!
//! ## Errors and malformed input
//! A frame that is not a valid request (bad length, invalid MessagePack, not an array,
//! fewer than 2 elements, an id that is not an unsigned integer, an argument of another
//! type, bytes left after the value) is answered with the error frame
//! `[nil, 1, "ERR Protocol error: <what>"]` and the connection is closed after it; the
//! requests before it in the same pipeline are answered first. A command error (unknown
//! command, wrong arity, WRONGTYPE, ...) is an ordinary kind-1 reply and the connection
//! stays open.

use super::reply::Reply;
use super::resp::{take_frames, Batch, ParseLimits, ProtocolError, Step};

/// The protocol version this server speaks.
pub const VERSION: u64 = 1;
/// The first element of the handshake frame.
pub const HANDSHAKE_NAME: &[u8] = b"rustis";
/// Largest frame accepted before the client authenticated.
pub const UNAUTH_MAX_FRAME: usize = 256 * 1024;

/// Reply kinds (the second element of every server frame).
pub mod kind {
    pub const SIMPLE: u8 = 0;
    pub const ERROR: u8 = 1;
    pub const INT: u8 = 2;
    pub const DOUBLE: u8 = 3;
    pub const BULK: u8 = 4;
    pub const NULL: u8 = 5;
    pub const ARRAY: u8 = 6;
    pub const MAP: u8 = 7;
    pub const SET: u8 = 8;
    pub const PUSH: u8 = 9;
    pub const BIGNUM: u8 = 10;
    pub const VERBATIM: u8 = 11;
    pub const BOOL: u8 = 12;
}

/// Extension type codes of nested values without a natural MessagePack type.
pub mod ext {
    pub const SET: i8 = 1;
    pub const BIGNUM: i8 = 2;
    pub const VERBATIM: i8 = 3;
    pub const ERROR: i8 = 4;
}

// ---------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------

/// Like [`super::parse_batch_at`] for MessagePack request frames: the batch's `ids` hold
/// each command's request id.
pub fn parse_batch_at(rbuf: &mut Vec<u8>, start: &mut usize, limits: &ParseLimits) -> Option<Batch> {
    take_frames(rbuf, start, limits, parse_request)
}

/// Why a frame is not a request (the text after `ERR Protocol error: `).
fn perr(msg: &'static str) -> Step {
    Step::Err(ProtocolError(msg, None))
}

fn max_frame(limits: &ParseLimits) -> usize {
    if limits.unauthenticated {
        UNAUTH_MAX_FRAME.min(limits.max_frame)
    } else {
        limits.max_frame
    }
}

/// The frame at the front of `buf`: `Ok(Some((body_start, body_end)))` when complete.
fn frame_bounds(buf: &[u8], limits: &ParseLimits) -> Result<Option<(usize, usize)>, &'static str> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let n = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    if n == 0 {
        return Err("empty frame");
    }
    if n > max_frame(limits) {
        return Err("frame too large");
    }
    if buf.len() < 4 + n {
        return Ok(None);
    }
    Ok(Some((4, 4 + n)))
}

/// One request frame: pushes its argument ranges (offset by `base`) and its id.
pub(super) fn parse_request(
    buf: &[u8],
    base: usize,
    limits: &ParseLimits,
    args: &mut Vec<(usize, usize)>,
    synth: &mut Vec<u8>,
    ids: &mut Vec<u64>,
) -> Step {
    let (s, e) = match frame_bounds(buf, limits) {
        Ok(Some(b)) => b,
        Ok(None) => return Step::Incomplete,
        Err(m) => return perr(m),
    };
    let body = &buf[s..e];
    let mut r = Reader { buf: body, pos: 0 };
    let n = match r.array_len() {
        Some(n) => n,
        None => return perr("request is not an array"),
    };
    if n < 2 {
        return perr("request needs an id and a command");
    }
    if n - 1 > 10 && limits.unauthenticated {
        return perr("unauthenticated multibulk length");
    }
    let id = match r.uint() {
        Some(id) => id,
        None => return perr("request id is not an unsigned integer"),
    };
    let first = args.len();
    let fail = |args: &mut Vec<(usize, usize)>, m: &'static str| {
        args.truncate(first);
        perr(m)
    };
    for _ in 1..n {
        match r.arg() {
            Some(Arg::Bytes(off, len)) => {
                if len > limits.max_bulk {
                    return fail(args, "invalid bulk length");
                }
                if len > 16384 && limits.unauthenticated {
                    return fail(args, "unauthenticated bulk length");
                }
                args.push((base + s + off, len));
            }
            Some(number) => {
                // Numbers become their decimal text, written straight into the batch's
                // synthesized bytes.
                let at = synth.len();
                match number {
                    Arg::Int(i) => synth.extend_from_slice(super::reply::fmt_i64(i, &mut [0u8; 20])),
                    Arg::Uint(u) => synth.extend_from_slice(u.to_string().as_bytes()),
                    Arg::Float(d) => synth.extend_from_slice(float_text(d).as_bytes()),
                    Arg::Bytes(..) => unreachable!("matched above"),
                }
                args.push((at | super::resp::SYNTH_FLAG, synth.len() - at));
            }
            None => return fail(args, "arguments must be str, bin, int or float"),
        }
    }
    if r.pos != body.len() {
        return fail(args, "trailing bytes after the request");
    }
    ids.push(id);
    Step::Cmd(e)
}

enum Arg {
    /// A str/bin: (offset in the frame body, length).
    Bytes(usize, usize),
    Int(i64),
    /// An unsigned integer above i64::MAX.
    Uint(u64),
    Float(f64),
}

/// A bounds-checked MessagePack reader over one frame body.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Option<u8> {
        let b = *self.buf.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }
    fn be(&mut self, n: usize) -> Option<u64> {
        let s = self.take(n)?;
        Some(s.iter().fold(0u64, |acc, &b| (acc << 8) | b as u64))
    }
    fn array_len(&mut self) -> Option<usize> {
        match self.byte()? {
            b @ 0x90..=0x9f => Some((b & 0x0f) as usize),
            0xdc => Some(self.be(2)? as usize),
            0xdd => Some(self.be(4)? as usize),
            _ => None,
        }
    }
    fn uint(&mut self) -> Option<u64> {
        match self.byte()? {
            b @ 0x00..=0x7f => Some(b as u64),
            0xcc => self.be(1),
            0xcd => self.be(2),
            0xce => self.be(4),
            0xcf => self.be(8),
            0xd0 => u64::try_from(self.be(1)? as u8 as i8).ok(),
            0xd1 => u64::try_from(self.be(2)? as u16 as i16).ok(),
            0xd2 => u64::try_from(self.be(4)? as u32 as i32).ok(),
            0xd3 => u64::try_from(self.be(8)? as i64).ok(),
            _ => None,
        }
    }
    fn arg(&mut self) -> Option<Arg> {
        let tag = self.byte()?;
        let len = match tag {
            0xa0..=0xbf => (tag & 0x1f) as usize,
            0xc4 | 0xd9 => self.be(1)? as usize,
            0xc5 | 0xda => self.be(2)? as usize,
            0xc6 | 0xdb => self.be(4)? as usize,
            0x00..=0x7f => return Some(Arg::Int(tag as i64)),
            0xe0..=0xff => return Some(Arg::Int(tag as i8 as i64)),
            0xcc => return Some(Arg::Int(self.be(1)? as i64)),
            0xcd => return Some(Arg::Int(self.be(2)? as i64)),
            0xce => return Some(Arg::Int(self.be(4)? as i64)),
            0xcf => {
                let u = self.be(8)?;
                return Some(i64::try_from(u).map_or(Arg::Uint(u), Arg::Int));
            }
            0xd0 => return Some(Arg::Int(self.be(1)? as u8 as i8 as i64)),
            0xd1 => return Some(Arg::Int(self.be(2)? as u16 as i16 as i64)),
            0xd2 => return Some(Arg::Int(self.be(4)? as u32 as i32 as i64)),
            0xd3 => return Some(Arg::Int(self.be(8)? as i64)),
            0xca => return Some(Arg::Float(f32::from_bits(self.be(4)? as u32) as f64)),
            0xcb => return Some(Arg::Float(f64::from_bits(self.be(8)?))),
            _ => return None,
        };
        let off = self.pos;
        self.take(len)?;
        Some(Arg::Bytes(off, len))
    }
}

/// A float argument's text: shortest round-trip decimal, no exponent.
fn float_text(d: f64) -> String {
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    format!("{d}")
}

/// What the handshake frame at the front of `buf` says.
#[derive(Debug, PartialEq, Eq)]
pub enum Handshake {
    /// Not all of it has arrived.
    Incomplete,
    /// A valid handshake of `consumed` bytes.
    Ok { consumed: usize },
    /// Not a handshake, or another version: send this error frame text, then close.
    Err(String),
}

/// Checks the client's first frame (`["rustis", 1]`).
pub fn parse_handshake(buf: &[u8], limits: &ParseLimits) -> Handshake {
    let expect = "ERR Protocol error: expected the handshake [\"rustis\", 1]";
    let lim = ParseLimits { unauthenticated: true, ..*limits };
    let (s, e) = match frame_bounds(buf, &lim) {
        Ok(Some(b)) => b,
        Ok(None) => return Handshake::Incomplete,
        // Most likely RESP sent to the MessagePack port: say what was expected.
        Err(_) => return Handshake::Err(expect.into()),
    };
    let mut r = Reader { buf: &buf[s..e], pos: 0 };
    if r.array_len() != Some(2) {
        return Handshake::Err(expect.into());
    }
    match r.arg() {
        Some(Arg::Bytes(off, len)) if &buf[s + off..s + off + len] == HANDSHAKE_NAME => {}
        _ => return Handshake::Err(expect.into()),
    }
    let Some(v) = r.uint() else { return Handshake::Err(expect.into()) };
    if r.pos != e - s {
        return Handshake::Err(expect.into());
    }
    if v != VERSION {
        return Handshake::Err(format!("ERR unsupported protocol version {v} (this server speaks {VERSION})"));
    }
    Handshake::Ok { consumed: e }
}

/// The handshake reply frame.
pub fn handshake_reply(client_id: u64, max_frame: usize, out: &mut Vec<u8>) {
    let info = Reply::Map(vec![
        (Reply::Simple("server"), Reply::Simple("rustis")),
        (Reply::Simple("version"), Reply::Simple(env!("CARGO_PKG_VERSION"))),
        (Reply::Simple("proto"), Reply::Int(VERSION as i64)),
        (Reply::Simple("id"), Reply::Int(client_id as i64)),
        (Reply::Simple("max-frame"), Reply::Int(max_frame as i64)),
    ]);
    encode_reply(None, &info, out);
}

// ---------------------------------------------------------------------------------------
// Replies
// ---------------------------------------------------------------------------------------

/// An error frame (`[id, 1, text]`).
pub fn error_frame(id: Option<u64>, text: &[u8], out: &mut Vec<u8>) {
    let at = begin_frame(id, kind::ERROR, out);
    put_str(out, text);
    end_frame(at, out);
}

/// Appends the frame(s) answering request `id` with `reply`. A pre-encoded RESP3 reply
/// (`Reply::Raw`) becomes one frame per RESP3 value in it.
pub fn encode_reply(id: Option<u64>, reply: &Reply, out: &mut Vec<u8>) {
    if let Reply::Raw(bytes) = reply {
        transcode(id, bytes, out);
        return;
    }
    let k = match reply {
        Reply::Simple(_) | Reply::Status(_) => kind::SIMPLE,
        Reply::Error(_) => kind::ERROR,
        Reply::Int(_) => kind::INT,
        Reply::Double(_) => kind::DOUBLE,
        Reply::Bulk(_) => kind::BULK,
        Reply::Nil | Reply::NilArray => kind::NULL,
        Reply::Array(_) => kind::ARRAY,
        Reply::Map(_) => kind::MAP,
        Reply::Set(_) => kind::SET,
        Reply::Bool(_) => kind::BOOL,
        Reply::Verbatim(..) => kind::VERBATIM,
        Reply::BigNumber(_) => kind::BIGNUM,
        Reply::Raw(_) => unreachable!("handled above"),
    };
    let at = begin_frame(id, k, out);
    match reply {
        Reply::Error(s) => put_str(out, &error_text(s)),
        Reply::Set(items) => {
            put_array_len(out, items.len());
            for it in items {
                put_nested(it, out);
            }
        }
        Reply::Verbatim(fmt, body) => put_verbatim(out, fmt.as_bytes(), body, false),
        Reply::BigNumber(n) => put_str(out, n.as_bytes()),
        other => put_nested(other, out),
    }
    end_frame(at, out);
}

/// Starts `[id, kind, ` with room for the length prefix; returns where the frame starts.
fn begin_frame(id: Option<u64>, k: u8, out: &mut Vec<u8>) -> usize {
    let at = out.len();
    out.extend_from_slice(&[0, 0, 0, 0, 0x93]);
    match id {
        Some(id) => put_uint(out, id),
        None => out.push(0xc0),
    }
    out.push(k);
    at
}

fn end_frame(at: usize, out: &mut [u8]) {
    let n = (out.len() - at - 4) as u32;
    out[at..at + 4].copy_from_slice(&n.to_be_bytes());
}

fn put_nested(r: &Reply, out: &mut Vec<u8>) {
    match r {
        Reply::Simple(s) => put_str(out, s.as_bytes()),
        Reply::Status(s) => put_str(out, s.as_bytes()),
        Reply::Error(s) => put_ext(out, ext::ERROR, &error_text(s)),
        Reply::Int(i) => put_int(out, *i),
        Reply::Double(d) => put_f64(out, *d),
        Reply::Bulk(b) => put_bin(out, b),
        Reply::Nil | Reply::NilArray => out.push(0xc0),
        Reply::Bool(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Reply::Array(items) => {
            put_array_len(out, items.len());
            for it in items {
                put_nested(it, out);
            }
        }
        Reply::Map(pairs) => {
            put_map_len(out, pairs.len());
            for (k, v) in pairs {
                put_nested(k, out);
                put_nested(v, out);
            }
        }
        Reply::Set(items) => {
            let at = begin_ext32(out, ext::SET);
            put_array_len(out, items.len());
            for it in items {
                put_nested(it, out);
            }
            end_ext32(at, out);
        }
        Reply::Verbatim(fmt, body) => put_verbatim(out, fmt.as_bytes(), body, true),
        Reply::BigNumber(n) => put_ext(out, ext::BIGNUM, n.as_bytes()),
        Reply::Raw(bytes) => {
            let mut p = Resp3 { buf: bytes, pos: 0 };
            if !p.value(out, true) {
                out.push(0xc0);
            }
        }
    }
}

/// An error's text as RESP sends it: CR and LF become spaces (Redis 7.0's addReplyError).
fn error_text(s: &str) -> std::borrow::Cow<'_, [u8]> {
    if s.bytes().any(|c| c == b'\r' || c == b'\n') {
        s.bytes().map(|c| if c == b'\r' || c == b'\n' { b' ' } else { c }).collect::<Vec<u8>>().into()
    } else {
        s.as_bytes().into()
    }
}

fn put_verbatim(out: &mut Vec<u8>, fmt: &[u8], body: &[u8], nested: bool) {
    let n = fmt.len() + 1 + body.len();
    if nested {
        put_ext_header(out, ext::VERBATIM, n);
    } else {
        put_bin_header(out, n);
    }
    out.extend_from_slice(fmt);
    out.push(b':');
    out.extend_from_slice(body);
}

pub fn put_uint(out: &mut Vec<u8>, v: u64) {
    if v < 128 {
        out.push(v as u8);
    } else if v <= u8::MAX as u64 {
        out.extend_from_slice(&[0xcc, v as u8]);
    } else if v <= u16::MAX as u64 {
        out.push(0xcd);
        out.extend_from_slice(&(v as u16).to_be_bytes());
    } else if v <= u32::MAX as u64 {
        out.push(0xce);
        out.extend_from_slice(&(v as u32).to_be_bytes());
    } else {
        out.push(0xcf);
        out.extend_from_slice(&v.to_be_bytes());
    }
}

pub fn put_int(out: &mut Vec<u8>, v: i64) {
    if v >= 0 {
        put_uint(out, v as u64);
    } else if v >= -32 {
        out.push(v as i8 as u8);
    } else if v >= i8::MIN as i64 {
        out.extend_from_slice(&[0xd0, v as i8 as u8]);
    } else if v >= i16::MIN as i64 {
        out.push(0xd1);
        out.extend_from_slice(&(v as i16).to_be_bytes());
    } else if v >= i32::MIN as i64 {
        out.push(0xd2);
        out.extend_from_slice(&(v as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&v.to_be_bytes());
    }
}

pub fn put_f64(out: &mut Vec<u8>, d: f64) {
    out.push(0xcb);
    out.extend_from_slice(&d.to_bits().to_be_bytes());
}

fn put_len(out: &mut Vec<u8>, n: usize, small: Option<(u8, usize)>, t8: Option<u8>, t16: u8, t32: u8) {
    match small {
        Some((base, max)) if n <= max => out.push(base | n as u8),
        _ => {
            if let (Some(t), true) = (t8, n <= u8::MAX as usize) {
                out.extend_from_slice(&[t, n as u8]);
            } else if n <= u16::MAX as usize {
                out.push(t16);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            } else {
                out.push(t32);
                out.extend_from_slice(&(n as u32).to_be_bytes());
            }
        }
    }
}

pub fn put_str(out: &mut Vec<u8>, s: &[u8]) {
    put_len(out, s.len(), Some((0xa0, 31)), Some(0xd9), 0xda, 0xdb);
    out.extend_from_slice(s);
}

fn put_bin_header(out: &mut Vec<u8>, n: usize) {
    put_len(out, n, None, Some(0xc4), 0xc5, 0xc6);
}

pub fn put_bin(out: &mut Vec<u8>, b: &[u8]) {
    put_bin_header(out, b.len());
    out.extend_from_slice(b);
}

pub fn put_array_len(out: &mut Vec<u8>, n: usize) {
    put_len(out, n, Some((0x90, 15)), None, 0xdc, 0xdd);
}

pub fn put_map_len(out: &mut Vec<u8>, n: usize) {
    put_len(out, n, Some((0x80, 15)), None, 0xde, 0xdf);
}

fn put_ext_header(out: &mut Vec<u8>, t: i8, n: usize) {
    match n {
        1 => out.push(0xd4),
        2 => out.push(0xd5),
        4 => out.push(0xd6),
        8 => out.push(0xd7),
        16 => out.push(0xd8),
        _ if n <= u8::MAX as usize => out.extend_from_slice(&[0xc7, n as u8]),
        _ if n <= u16::MAX as usize => {
            out.push(0xc8);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        _ => {
            out.push(0xc9);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
    }
    out.push(t as u8);
}

fn put_ext(out: &mut Vec<u8>, t: i8, payload: &[u8]) {
    put_ext_header(out, t, payload.len());
    out.extend_from_slice(payload);
}

/// An ext 32 whose length is patched by [`end_ext32`] (the payload size is not known
/// before it is encoded).
fn begin_ext32(out: &mut Vec<u8>, t: i8) -> usize {
    let at = out.len();
    out.extend_from_slice(&[0xc9, 0, 0, 0, 0, t as u8]);
    at
}

fn end_ext32(at: usize, out: &mut [u8]) {
    let n = (out.len() - at - 6) as u32;
    out[at + 1..at + 5].copy_from_slice(&n.to_be_bytes());
}

// ---------------------------------------------------------------------------------------
// RESP3 → MessagePack
// ---------------------------------------------------------------------------------------

/// Re-encodes every RESP3 value in `resp` as one frame with `id`. Returns false (and
/// appends nothing for the rest) if `resp` is not well-formed RESP3, which would be a
/// server bug; callers log it.
pub fn transcode(id: Option<u64>, resp: &[u8], out: &mut Vec<u8>) -> bool {
    let mut p = Resp3 { buf: resp, pos: 0 };
    while p.pos < resp.len() {
        let Some(k) = p.top_kind() else { return false };
        let mark = out.len();
        let at = begin_frame(id, k, out);
        if !p.value(out, false) {
            out.truncate(mark);
            return false;
        }
        end_frame(at, out);
    }
    true
}

struct Resp3<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Resp3<'_> {
    fn top_kind(&self) -> Option<u8> {
        let k = match *self.buf.get(self.pos)? {
            b'+' => kind::SIMPLE,
            b'-' | b'!' => kind::ERROR,
            b':' => kind::INT,
            b',' => kind::DOUBLE,
            b'$' if self.buf.get(self.pos + 1) == Some(&b'-') => kind::NULL,
            b'*' if self.buf.get(self.pos + 1) == Some(&b'-') => kind::NULL,
            b'$' => kind::BULK,
            b'_' => kind::NULL,
            b'*' => kind::ARRAY,
            b'%' => kind::MAP,
            b'~' => kind::SET,
            b'>' => kind::PUSH,
            b'(' => kind::BIGNUM,
            b'=' => kind::VERBATIM,
            b'#' => kind::BOOL,
            _ => return None,
        };
        Some(k)
    }

    /// The line after the type byte (without CRLF); advances past it.
    fn line(&mut self) -> Option<&[u8]> {
        let start = self.pos + 1;
        let rel = self.buf.get(start..)?.iter().position(|&c| c == b'\r')?;
        let end = start + rel;
        self.pos = end + 2;
        if self.pos > self.buf.len() {
            return None;
        }
        self.buf.get(start..end)
    }

    fn num(&mut self) -> Option<i64> {
        super::resp::string2ll(self.line()?)
    }

    fn blob(&mut self) -> Option<&[u8]> {
        let n = usize::try_from(self.num()?).ok()?;
        let s = self.pos;
        let e = s.checked_add(n)?;
        if self.buf.get(e..e + 2)? != b"\r\n" {
            return None;
        }
        self.pos = e + 2;
        self.buf.get(s..e)
    }

    /// Writes the value at the cursor: nested encoding, or the top-level form of its
    /// kind when `nested` is false.
    fn value(&mut self, out: &mut Vec<u8>, nested: bool) -> bool {
        self.value_opt(out, nested).is_some()
    }

    fn value_opt(&mut self, out: &mut Vec<u8>, nested: bool) -> Option<()> {
        let t = *self.buf.get(self.pos)?;
        match t {
            b'+' => put_str(out, self.line()?),
            b'-' => {
                let l = self.line()?;
                if nested {
                    put_ext(out, ext::ERROR, l)
                } else {
                    put_str(out, l)
                }
            }
            b'!' => {
                let b = self.blob()?;
                if nested {
                    put_ext(out, ext::ERROR, b)
                } else {
                    put_str(out, b)
                }
            }
            b':' => put_int(out, self.num()?),
            b',' => {
                let l = self.line()?;
                let d: f64 = std::str::from_utf8(l).ok()?.parse().ok()?;
                put_f64(out, d)
            }
            b'#' => {
                let l = self.line()?;
                out.push(if l == b"t" { 0xc3 } else { 0xc2 })
            }
            b'_' => {
                self.line()?;
                out.push(0xc0)
            }
            b'(' => {
                let l = self.line()?;
                if nested {
                    put_ext(out, ext::BIGNUM, l)
                } else {
                    put_str(out, l)
                }
            }
            b'$' | b'=' => {
                if self.buf.get(self.pos + 1) == Some(&b'-') {
                    self.line()?;
                    out.push(0xc0);
                } else {
                    let b = self.blob()?;
                    if t == b'=' && nested {
                        put_ext(out, ext::VERBATIM, b)
                    } else {
                        put_bin(out, b)
                    }
                }
            }
            b'*' | b'>' | b'~' | b'%' => {
                let n = self.num()?;
                if n < 0 {
                    out.push(0xc0);
                    return Some(());
                }
                let n = n as usize;
                let ext_at = if t == b'~' && nested { Some(begin_ext32(out, ext::SET)) } else { None };
                if t == b'%' {
                    put_map_len(out, n);
                } else {
                    put_array_len(out, n);
                }
                let items = if t == b'%' { n.checked_mul(2)? } else { n };
                for _ in 0..items {
                    self.value_opt(out, true)?;
                }
                if let Some(at) = ext_at {
                    end_ext32(at, out);
                }
            }
            _ => return None,
        }
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::resp::ParseLimits;
    use super::super::Proto;
    use super::*;

    fn frame(body: &[u8]) -> Vec<u8> {
        let mut v = (body.len() as u32).to_be_bytes().to_vec();
        v.extend_from_slice(body);
        v
    }

    fn limits() -> ParseLimits {
        ParseLimits::default()
    }

    #[test]
    fn parses_a_pipeline_with_ids_and_typed_args() {
        // [7, "SET", bin "k", 42, -1.5] then [300, "GET", "k"]
        let mut buf = frame(&[0x95, 7, 0xa3, b'S', b'E', b'T', 0xc4, 1, b'k', 42, 0xcb]);
        buf.extend_from_slice(&(-1.5f64).to_bits().to_be_bytes());
        let l = buf.len() - 4;
        buf[..4].copy_from_slice(&(l as u32).to_be_bytes());
        buf.extend(frame(&[0x93, 0xcd, 0x01, 0x2c, 0xa3, b'G', b'E', b'T', 0xa1, b'k']));
        let mut start = 0;
        let b = parse_batch_at(&mut buf, &mut start, &limits()).expect("complete");
        assert_eq!(b.ids, vec![7, 300]);
        let mut argv = Vec::new();
        b.argv(0, &mut argv);
        assert_eq!(argv, vec![&b"SET"[..], b"k", b"42", b"-1.5"]);
        b.argv(1, &mut argv);
        assert_eq!(argv, vec![&b"GET"[..], b"k"]);
        assert!(b.error.is_none());
    }

    #[test]
    fn integer_arguments_of_every_width_become_decimal_text() {
        // [1, "ECHO", u64::MAX, -300, i64::MIN, 255, -1]
        let mut body = vec![0x97, 1, 0xa4, b'E', b'C', b'H', b'O', 0xcf];
        body.extend_from_slice(&u64::MAX.to_be_bytes());
        body.extend_from_slice(&[0xd1, 0xfe, 0xd4, 0xd3]);
        body.extend_from_slice(&i64::MIN.to_be_bytes());
        body.extend_from_slice(&[0xcc, 0xff, 0xff]);
        let mut buf = frame(&body);
        let b = parse_batch_at(&mut buf, &mut 0, &limits()).expect("complete");
        let mut argv = Vec::new();
        b.argv(0, &mut argv);
        assert_eq!(argv, vec![&b"ECHO"[..], b"18446744073709551615", b"-300", b"-9223372036854775808", b"255", b"-1"]);
    }

    #[test]
    fn waits_for_partial_frames_at_every_split() {
        let whole = frame(&[0x93, 1, 0xa3, b'G', b'E', b'T', 0xa1, b'k']);
        for cut in 0..whole.len() {
            let mut buf = whole[..cut].to_vec();
            let mut start = 0;
            assert!(parse_batch_at(&mut buf, &mut start, &limits()).is_none(), "cut {cut}");
            buf.extend_from_slice(&whole[cut..]);
            let b = parse_batch_at(&mut buf, &mut start, &limits()).expect("complete");
            assert_eq!(b.len(), 1);
        }
    }

    #[test]
    fn malformed_frames_are_errors_after_the_good_ones() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (frame(&[0xa3, b'G', b'E', b'T']), "request is not an array"),
            (frame(&[0x91, 1]), "request needs an id and a command"),
            (frame(&[0x92, 0xff, 0xa1, b'x']), "request id is not an unsigned integer"),
            (frame(&[0x92, 1, 0xc0]), "arguments must be str, bin, int or float"),
            (frame(&[0x92, 1, 0xa1, b'x', 0x00]), "trailing bytes after the request"),
            (frame(&[0x92, 1, 0xa5, b'x']), "arguments must be str, bin, int or float"),
            (vec![0, 0, 0, 0], "empty frame"),
            (vec![0x7f, 0xff, 0xff, 0xff], "frame too large"),
        ];
        let lim = ParseLimits { max_frame: 1 << 20, ..limits() };
        for (bad, msg) in cases {
            let mut buf = frame(&[0x92, 1, 0xa4, b'P', b'I', b'N', b'G']);
            buf.extend_from_slice(&bad);
            let mut start = 0;
            let b = parse_batch_at(&mut buf, &mut start, &lim).expect("something");
            assert_eq!(b.len(), 1, "{msg}");
            assert_eq!(b.error.as_ref().map(|e| e.0), Some(msg));
        }
    }

    #[test]
    fn unauthenticated_limits() {
        let lim = ParseLimits { unauthenticated: true, ..limits() };
        let mut body = vec![0x9c, 1]; // 12 elements: id + 11 args
        for _ in 0..11 {
            body.extend_from_slice(&[0xa1, b'a']);
        }
        let mut buf = frame(&body);
        let b = parse_batch_at(&mut buf, &mut 0, &lim).expect("error");
        assert_eq!(b.error.map(|e| e.0), Some("unauthenticated multibulk length"));
        let mut buf = vec![0, 4, 0, 1];
        let b = parse_batch_at(&mut buf, &mut 0, &lim).expect("error");
        assert_eq!(b.error.map(|e| e.0), Some("frame too large"));
    }

    #[test]
    fn handshake() {
        let ok = frame(&[0x92, 0xa6, b'r', b'u', b's', b't', b'i', b's', 1]);
        assert_eq!(parse_handshake(&ok, &limits()), Handshake::Ok { consumed: ok.len() });
        assert_eq!(parse_handshake(&ok[..5], &limits()), Handshake::Incomplete);
        let v2 = frame(&[0x92, 0xa6, b'r', b'u', b's', b't', b'i', b's', 2]);
        assert!(matches!(parse_handshake(&v2, &limits()), Handshake::Err(e) if e.contains("version 2")));
        let resp = b"*1\r\n$4\r\nPING\r\n";
        assert!(matches!(parse_handshake(resp, &limits()), Handshake::Err(_)));
    }

    /// Decodes one server frame into (id, kind, value bytes) for the tests.
    fn split(f: &[u8]) -> (Option<u64>, u8, Vec<u8>) {
        let n = u32::from_be_bytes([f[0], f[1], f[2], f[3]]) as usize;
        assert_eq!(n, f.len() - 4);
        assert_eq!(f[4], 0x93);
        let mut r = Reader { buf: &f[5..], pos: 0 };
        let id = if f[5] == 0xc0 {
            r.pos = 1;
            None
        } else {
            r.uint()
        };
        let k = r.byte().expect("kind");
        (id, k, f[5 + r.pos..].to_vec())
    }

    #[test]
    fn encodes_every_kind() {
        let mut out = Vec::new();
        encode_reply(Some(9), &Reply::Int(-200), &mut out);
        assert_eq!(split(&out), (Some(9), kind::INT, vec![0xd1, 0xff, 0x38]));
        out.clear();
        encode_reply(Some(1), &Reply::Bulk(b"ab".to_vec()), &mut out);
        assert_eq!(split(&out), (Some(1), kind::BULK, vec![0xc4, 2, b'a', b'b']));
        out.clear();
        encode_reply(Some(1), &Reply::err("ERR x"), &mut out);
        assert_eq!(split(&out).2, vec![0xa5, b'E', b'R', b'R', b' ', b'x']);
        out.clear();
        let set = Reply::Array(vec![Reply::Set(vec![Reply::Int(1)]), Reply::err("E"), Reply::Nil]);
        encode_reply(Some(2), &set, &mut out);
        let (_, k, v) = split(&out);
        assert_eq!(k, kind::ARRAY);
        assert_eq!(v, vec![0x93, 0xc9, 0, 0, 0, 2, 1, 0x91, 1, 0xd4, 4, b'E', 0xc0]);
        out.clear();
        encode_reply(Some(2), &Reply::Verbatim("txt", b"hi".to_vec()), &mut out);
        assert_eq!(split(&out).2, vec![0xc4, 6, b't', b'x', b't', b':', b'h', b'i']);
    }

    #[test]
    fn transcoding_matches_direct_encoding() {
        let replies = vec![
            Reply::Simple("OK"),
            Reply::err("WRONGTYPE Operation against a key holding the wrong kind of value"),
            Reply::Int(i64::MIN),
            Reply::Int(1 << 40),
            Reply::Double(3.25),
            Reply::Double(f64::INFINITY),
            Reply::Bulk(vec![0; 70000]),
            Reply::Nil,
            Reply::NilArray,
            Reply::Bool(true),
            Reply::Map(vec![(Reply::bulk(b"a"), Reply::Set(vec![Reply::bulk(b"x"), Reply::Double(0.5)]))]),
            Reply::Set((0..40).map(Reply::Int).collect()),
            Reply::Array(vec![Reply::Verbatim("txt", b"v".to_vec()), Reply::err("ERR e"), Reply::Array(vec![])]),
            Reply::err("ERR a\r\nb"),
            Reply::Array(vec![Reply::err("ERR a\nb")]),
            Reply::Verbatim("mkd", b"# x".to_vec()),
            Reply::BigNumber("12345678901234567890".into()),
            Reply::Array(vec![Reply::BigNumber("-1".into())]),
        ];
        for r in replies {
            let mut direct = Vec::new();
            encode_reply(Some(5), &r, &mut direct);
            let mut resp = Vec::new();
            r.encode(Proto::Resp3, &mut resp);
            let mut via = Vec::new();
            assert!(transcode(Some(5), &resp, &mut via));
            assert_eq!(direct, via, "{r:?}");
        }
    }

    #[test]
    fn transcodes_pushes_and_several_frames() {
        let resp = b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n:1\r\n";
        let mut out = Vec::new();
        assert!(transcode(None, resp, &mut out));
        let n = u32::from_be_bytes([out[0], out[1], out[2], out[3]]) as usize;
        let (id, k, _) = split(&out[..4 + n]);
        assert_eq!((id, k), (None, kind::PUSH));
        assert_eq!(split(&out[4 + n..]), (None, kind::INT, vec![1]));
        assert!(!transcode(None, b"$5\r\nab\r\n", &mut Vec::new()));
    }

    #[test]
    fn garbage_never_panics() {
        let mut seed = 0x9e3779b97f4a7c15u64;
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 40) as usize;
            let mut body = Vec::with_capacity(len);
            let mut s = seed;
            for _ in 0..len {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                body.push((s >> 33) as u8);
            }
            let mut buf = frame(&body);
            let _ = parse_batch_at(&mut buf, &mut 0, &limits());
            let _ = parse_handshake(&frame(&body), &limits());
            let _ = transcode(Some(1), &body, &mut Vec::new());
        }
    }
}
