//! RESP request parser (`rustis::protocol::parse_batch_at`, multibulk and inline) and
//! `split_args`. Input: 3 header bytes (limits, two split points; see common.rs), then
//! the bytes a client sends.
//!
//! Checks beyond "no panic": batch invariants (arg ranges inside the batch's data,
//! every arg owned by one command, no ids, the max-commands cap); the same bytes in one
//! piece, in three pieces and a byte at a time give the same commands, error and
//! buffered tail; the parsed commands re-encoded as multibulk parse back identically.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rustis::protocol::resp::{split_args, INLINE_MAX};
use rustis::protocol::{parse_batch_at, ParseLimits};

#[path = "common.rs"]
mod common;

fuzz_target!(|raw: &[u8]| {
    let _ = split_args(raw);
    let Some(inp) = common::input(raw) else { return };
    if inp.data.len() > INLINE_MAX {
        // Redis rejects a newline-less line over 64 KiB only while it is still partial,
        // so results may depend on how the bytes arrive; keep to inputs below that.
        return;
    }
    let whole = common::same_in_pieces(parse_batch_at, &inp, false);

    // Re-encode what was parsed as multibulk: it must parse back to the same commands.
    let mut enc = Vec::new();
    for (_, argv) in &whole.cmds {
        enc.extend_from_slice(format!("*{}\r\n", argv.len()).as_bytes());
        for a in argv {
            enc.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            enc.extend_from_slice(a);
            enc.extend_from_slice(b"\r\n");
        }
    }
    let again = common::feed(parse_batch_at, &[&enc], &ParseLimits::default(), false, false);
    assert_eq!(again.error, None, "re-encoded commands failed to parse");
    assert!(again.rest.is_empty(), "re-encoded commands left a tail");
    assert_eq!(again.cmds, whole.cmds, "re-encoded commands parsed differently");
});
