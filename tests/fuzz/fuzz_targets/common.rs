//! Shared by the two request-parser targets: limits chosen by the input, feeding the same
//! bytes in pieces the way the reactor does, and the batch invariants.

#![allow(dead_code)]

use rustis::protocol::{Batch, ParseLimits, ProtocolError};

pub type ParseAt = fn(&mut Vec<u8>, &mut usize, &ParseLimits) -> Option<Batch>;

/// Every command, error and unparsed tail a connection sees for one input.
#[derive(Debug, Default, PartialEq)]
pub struct Outcome {
    /// (request id, argv) per command, in order.
    pub cmds: Vec<(u64, Vec<Vec<u8>>)>,
    pub error: Option<ProtocolError>,
    /// Bytes left buffered when the input ran out (no error).
    pub rest: Vec<u8>,
}

/// The input's header: 3 bytes (limits, two split points), then the bytes to parse.
/// An all-zero header means the server's defaults and no split.
pub struct Input<'a> {
    pub limits: ParseLimits,
    /// Drop the parsed prefix of the read buffer after every batch (the reactor's
    /// compaction) instead of letting `start` advance.
    pub compact: bool,
    pub splits: [usize; 2],
    pub data: &'a [u8],
}

pub fn input(raw: &[u8]) -> Option<Input<'_>> {
    let (&[l, a, b], data) = (<&[u8; 3]>::try_from(raw.get(..3)?).ok()?, &raw[3..]);
    let d = ParseLimits::default();
    let limits = ParseLimits {
        unauthenticated: l & 1 != 0,
        max_cmds: [d.max_cmds, 1, 2, 3][(l >> 1 & 3) as usize],
        max_bytes: [d.max_bytes, 1, 16, 64][(l >> 3 & 3) as usize],
        max_bulk: if l & 0x20 != 0 { 8 } else { d.max_bulk },
        max_frame: if l & 0x40 != 0 { 64 } else { d.max_frame },
    };
    let at = |x: u8| x as usize * data.len() / 255;
    let mut splits = [at(a), at(b)];
    splits.sort_unstable();
    Some(Input { limits, compact: l & 0x80 != 0, splits, data })
}

/// Checks what must hold of any batch.
pub fn check_batch(b: &Batch, lim: &ParseLimits, msgpack: bool) {
    assert!(b.cmds.len() <= lim.max_cmds, "batch of {} commands over max_cmds {}", b.cmds.len(), lim.max_cmds);
    let mut next = 0;
    for &(first, n) in &b.cmds {
        assert_eq!(first, next, "commands' args are not contiguous");
        assert!(n >= 1, "command without arguments");
        next = first + n;
    }
    assert_eq!(next, b.args.len(), "args not owned by a command");
    for &(s, l) in &b.args {
        assert!(
            s.checked_add(l).is_some_and(|e| e <= b.data.len()),
            "arg ({s}, {l}) outside data of {} bytes",
            b.data.len()
        );
    }
    if msgpack {
        assert_eq!(b.ids.len(), b.cmds.len(), "not exactly one id per command");
    } else {
        assert!(b.ids.is_empty(), "RESP batch with ids");
    }
}

/// Feeds `chunks` one after another into one read buffer, parsing after each as the
/// reactor does (repeatedly, while batches come), until an error closes the connection.
pub fn feed(parse: ParseAt, chunks: &[&[u8]], lim: &ParseLimits, compact: bool, msgpack: bool) -> Outcome {
    let mut rbuf = Vec::new();
    let mut start = 0usize;
    let mut out = Outcome::default();
    'chunks: for c in chunks {
        rbuf.extend_from_slice(c);
        // Each batch consumes at least one byte, so this bound is never the one that stops.
        for _ in 0..=rbuf.len() {
            let before = rbuf.len() - start;
            let Some(b) = parse(&mut rbuf, &mut start, lim) else { break };
            assert!(start <= rbuf.len(), "start {start} past the buffer ({})", rbuf.len());
            assert!(rbuf.len() - start < before, "a batch consumed nothing");
            check_batch(&b, lim, msgpack);
            let mut argv = Vec::new();
            for i in 0..b.len() {
                b.argv(i, &mut argv);
                out.cmds.push((b.id(i), argv.iter().map(|a| a.to_vec()).collect()));
            }
            if let Some(e) = b.error {
                out.error = Some(e);
                break 'chunks;
            }
            if compact {
                rbuf.drain(..start);
                start = 0;
            }
        }
    }
    if out.error.is_none() {
        out.rest = rbuf[start..].to_vec();
    }
    out
}

/// The same bytes in one piece and in three (possibly empty) pieces must give the same
/// commands, error and tail; returns the one-piece outcome.
pub fn same_in_pieces(parse: ParseAt, inp: &Input<'_>, msgpack: bool) -> Outcome {
    let whole = feed(parse, &[inp.data], &inp.limits, false, msgpack);
    let [a, b] = inp.splits;
    let (d, lim) = (inp.data, &inp.limits);
    let pieces = feed(parse, &[&d[..a], &d[a..b], &d[b..]], lim, inp.compact, msgpack);
    assert_eq!(whole, pieces, "one piece vs split at {a}, {b}");
    // A byte at a time exercises every partial-frame path (small inputs only: quadratic).
    if d.len() <= 256 {
        let bytes: Vec<&[u8]> = d.chunks(1).collect();
        let single = feed(parse, &bytes, lim, !inp.compact, msgpack);
        assert_eq!(whole, single, "one piece vs a byte at a time");
    }
    whole
}
