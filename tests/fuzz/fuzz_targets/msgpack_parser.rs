//! MessagePack protocol (`rustis::protocol::msgpack`): request parsing, the handshake
//! and RESP3 → MessagePack transcoding. The first byte picks the function:
//! - 0x00..=0x7f: `parse_batch_at`; then 3 header bytes (limits, two split points; see
//!   common.rs) and the request frames;
//! - 0x80..=0xbf: `parse_handshake` of the rest (unauthenticated limits when bit 0 is set);
//! - 0xc0..=0xff: `transcode` of the rest as RESP3 (request id = the low 6 bits, none if 0).
//!
//! Checks beyond "no panic": batch invariants (exactly one id per command, arg ranges
//! inside the data, ...); one piece vs three pieces vs a byte at a time; parsed requests
//! re-encoded parse back identically; a valid handshake is `Incomplete` one byte short
//! and consumes exactly its frame; a successful transcode emits only well-formed frames
//! (4-byte length, one MessagePack value `[id, kind, value]` with the given id).

#![no_main]

use libfuzzer_sys::fuzz_target;
use rustis::protocol::msgpack::{self, Handshake};
use rustis::protocol::ParseLimits;

#[path = "common.rs"]
mod common;

fuzz_target!(|raw: &[u8]| {
    let Some((&mode, rest)) = raw.split_first() else { return };
    match mode {
        0x00..=0x7f => requests(rest),
        0x80..=0xbf => handshake(rest, mode & 1 != 0),
        _ => transcode(rest, mode & 0x3f),
    }
});

fn requests(raw: &[u8]) {
    let Some(inp) = common::input(raw) else { return };
    let whole = common::same_in_pieces(msgpack::parse_batch_at, &inp, true);

    let mut enc = Vec::new();
    for (id, argv) in &whole.cmds {
        let mut body = Vec::new();
        msgpack::put_array_len(&mut body, argv.len() + 1);
        msgpack::put_uint(&mut body, *id);
        for a in argv {
            msgpack::put_bin(&mut body, a);
        }
        enc.extend_from_slice(&(body.len() as u32).to_be_bytes());
        enc.extend_from_slice(&body);
    }
    let again = common::feed(msgpack::parse_batch_at, &[&enc], &ParseLimits::default(), false, true);
    assert_eq!(again.error, None, "re-encoded requests failed to parse");
    assert!(again.rest.is_empty(), "re-encoded requests left a tail");
    assert_eq!(again.cmds, whole.cmds, "re-encoded requests parsed differently");
}

fn handshake(buf: &[u8], unauthenticated: bool) {
    let lim = ParseLimits { unauthenticated, ..ParseLimits::default() };
    if let Handshake::Ok { consumed } = msgpack::parse_handshake(buf, &lim) {
        assert!(consumed >= 5 && consumed <= buf.len(), "consumed {consumed} of {}", buf.len());
        let n = u32::from_be_bytes(buf[..4].try_into().unwrap()) as usize;
        assert_eq!(consumed, 4 + n, "handshake consumed more or less than its frame");
        assert_eq!(msgpack::parse_handshake(&buf[..consumed - 1], &lim), Handshake::Incomplete);
    }
}

fn transcode(resp: &[u8], id: u8) {
    let id = (id != 0).then_some(id as u64);
    let mut out = Vec::new();
    let ok = msgpack::transcode(id, resp, &mut out);
    if !ok {
        return;
    }
    let mut rest = &out[..];
    while !rest.is_empty() {
        assert!(rest.len() >= 4, "truncated frame header");
        let n = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
        assert!(n >= 1 && rest.len() >= 4 + n, "bad frame length {n} ({} bytes left)", rest.len());
        let mut body = &rest[4..4 + n];
        let v = rmpv::decode::read_value(&mut body).expect("frame is not valid MessagePack");
        assert!(body.is_empty(), "bytes after the frame's value");
        let a = v.as_array().expect("frame is not an array");
        assert_eq!(a.len(), 3, "frame is not [id, kind, value]");
        match id {
            Some(id) => assert_eq!(a[0].as_u64(), Some(id), "frame carries the wrong id"),
            None => assert!(a[0].is_nil(), "frame without a request has an id"),
        }
        assert!(a[1].as_u64().is_some_and(|k| k <= 12), "bad kind {:?}", a[1]);
        rest = &rest[4 + n..];
    }
}
