//! Bitmap commands (COMMAND DOCS group `bitmap`): SETBIT, GETBIT, BITCOUNT, BITPOS,
//! BITOP, BITFIELD, BITFIELD_RO.
//!
//! Must hold: bitmaps are plain strings (a bitmap written here reads back with GET
//! exactly as in Redis, and strings modified here become raw, as Redis unshares them);
//! replies, errors and their order are Redis 7.0's (bitops.c) byte for byte.

use super::errors::{SYNTAX, WRONGTYPE};
use super::flags::*;
use super::{eq_ic, parse_int, Command, Ctx};
use crate::protocol::Reply;
use crate::store::{parse_i64_strict, Value};

const G: &str = "bitmap";

const BIT_OFFSET_ERR: &str = "ERR bit offset is not an integer or out of range";
const BIT_VALUE_ERR: &str = "ERR bit is not an integer or out of range";
const BITFIELD_TYPE_ERR: &str =
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";

pub static COMMANDS: &[Command] = &[
    Command::new("setbit", G, 4, WRITE | DENYOOM, setbit).ev(super::notify::Ev::Fn(super::notify::setbit))
        .acl("@bitmap")
        .keys(1, 1, 1)
        .ks("RW access update")
        .doc("Sets or clears the bit at offset in the string value stored at key", "2.2.0", "O(1)")
        .args("key offset value"),
    Command::new("getbit", G, 3, READONLY | FAST, getbit)
        .acl("@bitmap")
        .keys(1, 1, 1)
        .ks("RO access")
        .doc("Returns the bit value at offset in the string value stored at key", "2.2.0", "O(1)")
        .args("key offset"),
    Command::new("bitcount", G, -2, READONLY, bitcount)
        .acl("@bitmap")
        .keys(1, 1, 1)
        .ks("RO access")
        .doc("Count set bits in a string", "2.6.0", "O(N)")
        .args("key [start end [BYTE|BIT]]"),
    Command::new("bitpos", G, -3, READONLY, bitpos)
        .acl("@bitmap")
        .keys(1, 1, 1)
        .ks("RO access")
        .doc("Find first bit set or clear in a string", "2.8.7", "O(N)")
        .args("key bit [start [end [BYTE|BIT]]]"),
    Command::new("bitop", G, -4, WRITE | DENYOOM, bitop).ev(super::notify::Ev::Store(crate::config::events::STRING, "set"))
        .acl("@bitmap")
        .keys(2, -1, 1)
        .ks("OW update; RO access")
        .doc("Perform bitwise operations between strings", "2.6.0", "O(N)")
        .args("operation destkey key [key ...]"),
    Command::new("bitfield", G, -2, WRITE | DENYOOM, bitfield).ev(super::notify::Ev::Key(crate::config::events::STRING, "setbit"))
        .acl("@bitmap")
        .keys(1, 1, 1)
        .ks("RW access update variable_flags")
        .notes("This command allows both access and modification of the key")
        .doc("Perform arbitrary bitfield integer operations on strings", "3.2.0", "O(1) for each subcommand specified")
        .args("key [GET encoding offset|[OVERFLOW WRAP|SAT|FAIL] SET encoding offset value|INCRBY encoding offset increment [GET encoding offset|[OVERFLOW WRAP|SAT|FAIL] SET encoding offset value|INCRBY encoding offset increment ...]]"),
    Command::new("bitfield_ro", G, -2, READONLY | FAST, bitfield_ro)
        .acl("@bitmap")
        .keys(1, 1, 1)
        .ks("RO access")
        .doc("Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD", "6.0.0", "O(1) for each subcommand specified")
        .args("key GET encoding offset [GET encoding offset ...]"),
];

fn max_len(ctx: &Ctx) -> u64 {
    ctx.shared.config.read().proto_max_bulk_len
}

/// Redis's getBitOffsetFromArgument: `#N` (when `bits` > 0) means N * bits.
fn bit_offset(ctx: &Ctx, arg: &[u8], bits: u32) -> Result<u64, Reply> {
    let hash = bits > 0 && arg.first() == Some(&b'#');
    let digits = if hash { &arg[1..] } else { arg };
    let mut off = parse_i64_strict(digits).ok_or_else(|| Reply::err(BIT_OFFSET_ERR))?;
    if hash {
        off = off.wrapping_mul(bits as i64);
    }
    if off < 0 || (off as u64 >> 3) >= max_len(ctx) {
        return Err(Reply::err(BIT_OFFSET_ERR));
    }
    Ok(off as u64)
}

/// Redis's lookupStringForBitCommand: the key's string, grown (zero padded) so that
/// bit `maxbit` exists; created when missing. Made raw, as Redis unshares it.
fn string_for_bits<'a>(ctx: &'a mut Ctx, key: &[u8], maxbit: u64) -> Result<&'a mut Vec<u8>, Reply> {
    let need = (maxbit >> 3) as usize + 1;
    let now = ctx.now;
    let st = ctx.stripe_mut(key);
    let exists = match st.get_mut(key, now) {
        Some(it) if !it.val.is_string() => return Err(Reply::err(WRONGTYPE)),
        Some(_) => true,
        None => false,
    };
    if !exists {
        st.set(key, Value::Raw(Box::new(vec![0u8; need])), None, now);
    }
    let Some(it) = st.get_mut(key, now) else { unreachable!("just created") };
    let raw = it.val.make_raw();
    if raw.len() < need {
        raw.resize(need, 0);
    }
    Ok(raw)
}

/// Runs `f` on the string at `key` (None when missing), without copying it.
fn with_str<R>(ctx: &mut Ctx, key: &[u8], f: impl FnOnce(Option<&[u8]>) -> R) -> Result<R, Reply> {
    let now = ctx.now;
    let (r, found) = match ctx.get(key) {
        None => (Ok(f(None)), false),
        Some(it) if !it.val.is_string() => (Err(Reply::err(WRONGTYPE)), true),
        Some(it) => {
            it.touch(now);
            let b = it.val.as_bytes().unwrap_or_default();
            (Ok(f(Some(&b))), true)
        }
    };
    ctx.hit(found);
    r
}

/// A copy of the string at `key` (BITOP sources): Ok(None) when missing.
fn read_bytes(ctx: &mut Ctx, key: &[u8]) -> Result<Option<Vec<u8>>, Reply> {
    with_str(ctx, key, |s| s.map(|s| s.to_vec()))
}

fn setbit(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let off = match bit_offset(ctx, argv[2], 0) {
        Ok(o) => o,
        Err(e) => return e,
    };
    let on = match parse_i64_strict(argv[3]) {
        Some(v) if v & !1 == 0 => v as u8,
        _ => return Reply::err(BIT_VALUE_ERR),
    };
    let raw = match string_for_bits(ctx, argv[1], off) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let byte = (off >> 3) as usize;
    let bit = 7 - (off & 7) as u8;
    let old = (raw[byte] >> bit) & 1;
    raw[byte] = (raw[byte] & !(1 << bit)) | (on << bit);
    Reply::Int(old as i64)
}

fn getbit(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let off = match bit_offset(ctx, argv[2], 0) {
        Ok(o) => o,
        Err(e) => return e,
    };
    let byte = (off >> 3) as usize;
    let bit = 7 - (off & 7) as u8;
    with_str(ctx, argv[1], |s| Reply::Int(s.and_then(|s| s.get(byte)).map_or(0, |b| (b >> bit) & 1) as i64))
        .unwrap_or_else(|e| e)
}

/// The BYTE|BIT unit argument: true for BIT.
fn parse_unit(a: &[u8]) -> Result<bool, Reply> {
    if eq_ic(a, "bit") {
        Ok(true)
    } else if eq_ic(a, "byte") {
        Ok(false)
    } else {
        Err(Reply::err(SYNTAX))
    }
}

/// Normalizes a (start, end) range over `totlen` units as Redis does; None if empty.
fn clamp_range(mut start: i64, mut end: i64, totlen: i64) -> Option<(i64, i64)> {
    if start < 0 {
        start += totlen;
    }
    if end < 0 {
        end += totlen;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= totlen {
        end = totlen - 1;
    }
    (start <= end).then_some((start, end))
}

fn bit_at(s: &[u8], i: i64) -> u8 {
    (s[(i >> 3) as usize] >> (7 - (i & 7))) & 1
}

fn bitcount(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    // Redis 7.0 looks the key up before parsing the range.
    with_str(ctx, argv[1], |s| match s {
        None => Reply::Int(0),
        Some(s) => bitcount_of(s, argv),
    })
    .unwrap_or_else(|e| e)
}

fn bitcount_of(s: &[u8], argv: &[&[u8]]) -> Reply {
    let len = s.len() as i64;
    let (start, end, isbit) = match argv.len() {
        2 => (0, len - 1, false),
        4 | 5 => {
            let start = match parse_int(argv[2]) {
                Ok(v) => v,
                Err(e) => return e,
            };
            let end = match parse_int(argv[3]) {
                Ok(v) => v,
                Err(e) => return e,
            };
            let isbit = if argv.len() == 5 {
                match parse_unit(argv[4]) {
                    Ok(b) => b,
                    Err(e) => return e,
                }
            } else {
                false
            };
            if start < 0 && end < 0 && start > end {
                return Reply::Int(0);
            }
            (start, end, isbit)
        }
        _ => return Reply::err(SYNTAX),
    };
    let totlen = if isbit { len << 3 } else { len };
    let Some((start, end)) = clamp_range(start, end, totlen) else { return Reply::Int(0) };
    let count: u64 = if isbit {
        let (sb, eb) = ((start >> 3) as usize, (end >> 3) as usize);
        if sb == eb {
            (start..=end).map(|i| bit_at(s, i) as u64).sum()
        } else {
            let head: u64 = (start..((sb as i64 + 1) << 3)).map(|i| bit_at(s, i) as u64).sum();
            let tail: u64 = ((eb as i64) << 3..=end).map(|i| bit_at(s, i) as u64).sum();
            let mid: u64 = s[sb + 1..eb].iter().map(|b| b.count_ones() as u64).sum();
            head + mid + tail
        }
    } else {
        s[start as usize..=end as usize].iter().map(|b| b.count_ones() as u64).sum()
    };
    Reply::Int(count as i64)
}

fn bitpos(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let bit = match parse_int(argv[2]) {
        Ok(b @ (0 | 1)) => b as u8,
        Ok(_) => return Reply::err("ERR The bit argument must be 1 or 0."),
        Err(e) => return e,
    };
    with_str(ctx, argv[1], |s| match s {
        None => Reply::Int(if bit == 1 { -1 } else { 0 }),
        Some(s) => bitpos_of(s, bit, argv),
    })
    .unwrap_or_else(|e| e)
}

fn bitpos_of(s: &[u8], bit: u8, argv: &[&[u8]]) -> Reply {
    let len = s.len() as i64;
    let mut end_given = false;
    let (start, end, isbit) = match argv.len() {
        3 => (0, len - 1, false),
        4..=6 => {
            let start = match parse_int(argv[3]) {
                Ok(v) => v,
                Err(e) => return e,
            };
            let isbit = if argv.len() == 6 {
                match parse_unit(argv[5]) {
                    Ok(b) => b,
                    Err(e) => return e,
                }
            } else {
                false
            };
            let end = if argv.len() >= 5 {
                end_given = true;
                match parse_int(argv[4]) {
                    Ok(v) => v,
                    Err(e) => return e,
                }
            } else if isbit {
                (len << 3) + 7
            } else {
                len - 1
            };
            (start, end, isbit)
        }
        _ => return Reply::err(SYNTAX),
    };
    let totlen = if isbit { len << 3 } else { len };
    let Some((start, end)) = clamp_range(start, end, totlen) else { return Reply::Int(-1) };
    // Bit positions of the range, inclusive.
    let (first, last) = if isbit { (start, end) } else { (start << 3, (end << 3) + 7) };
    let mut i = first;
    while i <= last {
        if i & 7 == 0 && i + 7 <= last {
            let b = s[(i >> 3) as usize];
            let skip = if bit == 1 { 0 } else { 0xff };
            if b == skip {
                i += 8;
                continue;
            }
        }
        if bit_at(s, i) == bit {
            return Reply::Int(i);
        }
        i += 1;
    }
    // Not found: looking for a clear bit with no explicit end, the string counts as
    // zero padded on the right.
    if bit == 0 && !end_given {
        return Reply::Int(last + 1);
    }
    Reply::Int(-1)
}

fn bitop(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    #[derive(Clone, Copy, PartialEq)]
    enum Op {
        And,
        Or,
        Xor,
        Not,
    }
    let name = argv[1];
    let op = if eq_ic(name, "and") {
        Op::And
    } else if eq_ic(name, "or") {
        Op::Or
    } else if eq_ic(name, "xor") {
        Op::Xor
    } else if eq_ic(name, "not") {
        Op::Not
    } else {
        return Reply::err(SYNTAX);
    };
    if op == Op::Not && argv.len() != 4 {
        return Reply::err("ERR BITOP NOT must be called with a single source key.");
    }
    let mut srcs: Vec<Vec<u8>> = Vec::with_capacity(argv.len() - 3);
    for k in &argv[3..] {
        match read_bytes(ctx, k) {
            Ok(Some(s)) => srcs.push(s),
            Ok(None) => srcs.push(Vec::new()),
            Err(e) => return e,
        }
    }
    let maxlen = srcs.iter().map(|s| s.len()).max().unwrap_or(0);
    let dest = argv[2];
    let now = ctx.now;
    if maxlen == 0 {
        ctx.stripe_mut(dest).remove(dest);
        return Reply::Int(0);
    }
    let mut res = vec![0u8; maxlen];
    for (j, out) in res.iter_mut().enumerate() {
        let byte = |s: &Vec<u8>| s.get(j).copied().unwrap_or(0);
        let mut v = byte(&srcs[0]);
        if op == Op::Not {
            v = !v;
        }
        for s in &srcs[1..] {
            let b = byte(s);
            match op {
                Op::And => v &= b,
                Op::Or => v |= b,
                Op::Xor => v ^= b,
                Op::Not => {}
            }
        }
        *out = v;
    }
    ctx.stripe_mut(dest).set(dest, Value::Raw(Box::new(res)), None, now);
    Reply::Int(maxlen as i64)
}

#[derive(Clone, Copy, PartialEq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Clone, Copy, PartialEq)]
enum BfKind {
    Get,
    Set,
    Incrby,
}

struct BfOp {
    kind: BfKind,
    offset: u64,
    bits: u32,
    signed: bool,
    val: i64,
    ow: Overflow,
}

/// Redis's getBitfieldTypeFromArgument: `i1`..`i64` or `u1`..`u63`.
fn bitfield_type(a: &[u8]) -> Result<(bool, u32), Reply> {
    let err = || Reply::err(BITFIELD_TYPE_ERR);
    let signed = match a.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(err()),
    };
    // Redis reads the width as a C string: it stops at a NUL byte.
    let rest = &a[1..];
    let rest = &rest[..rest.iter().position(|&c| c == 0).unwrap_or(rest.len())];
    match parse_i64_strict(rest) {
        Some(b) if b >= 1 && ((signed && b <= 64) || (!signed && b <= 63)) => Ok((signed, b as u32)),
        _ => Err(err()),
    }
}

fn get_unsigned(p: &[u8], mut offset: u64, bits: u32) -> u64 {
    let mut v = 0u64;
    for _ in 0..bits {
        let byte = (offset >> 3) as usize;
        let bit = 7 - (offset & 7);
        let bv = p.get(byte).map_or(0, |b| (b >> bit) & 1) as u64;
        v = (v << 1) | bv;
        offset += 1;
    }
    v
}

fn get_signed(p: &[u8], offset: u64, bits: u32) -> i64 {
    let mut v = get_unsigned(p, offset, bits) as i64;
    if bits < 64 && v & (1i64 << (bits - 1)) != 0 {
        v |= (u64::MAX << bits) as i64;
    }
    v
}

fn set_unsigned(p: &mut [u8], mut offset: u64, bits: u32, value: u64) {
    for j in 0..bits {
        let bv = ((value >> (bits - 1 - j)) & 1) as u8;
        let byte = (offset >> 3) as usize;
        let bit = 7 - (offset & 7) as u8;
        p[byte] = (p[byte] & !(1 << bit)) | (bv << bit);
        offset += 1;
    }
}

/// Redis's checkUnsignedBitfieldOverflow: (overflowed, value to store on overflow).
fn check_unsigned(value: u64, incr: i64, bits: u32, ow: Overflow) -> (bool, u64) {
    let max: u64 = if bits == 64 { u64::MAX } else { (1u64 << bits) - 1 };
    let maxincr = max.wrapping_sub(value) as i64;
    let minincr = (value as i64).wrapping_neg();
    let wrap = || {
        let mask = if bits >= 64 { 0 } else { u64::MAX << bits };
        value.wrapping_add(incr as u64) & !mask
    };
    if value > max || (incr > 0 && incr > maxincr) {
        let lim = match ow {
            Overflow::Wrap => wrap(),
            Overflow::Sat => max,
            Overflow::Fail => 0,
        };
        (true, lim)
    } else if incr < 0 && incr < minincr {
        let lim = match ow {
            Overflow::Wrap => wrap(),
            Overflow::Sat => 0,
            Overflow::Fail => 0,
        };
        (true, lim)
    } else {
        (false, 0)
    }
}

/// Redis's checkSignedBitfieldOverflow: (overflowed, value to store on overflow).
fn check_signed(value: i64, incr: i64, bits: u32, ow: Overflow) -> (bool, i64) {
    let max: i64 = if bits == 64 { i64::MAX } else { (1i64 << (bits - 1)) - 1 };
    let min = (-max) - 1;
    let maxincr = (max as u64).wrapping_sub(value as u64) as i64;
    let minincr = min.wrapping_sub(value);
    let wrap = || {
        let mut c = (value as u64).wrapping_add(incr as u64);
        if bits < 64 {
            let msb = 1u64 << (bits - 1);
            let mask = u64::MAX << bits;
            if c & msb != 0 {
                c |= mask;
            } else {
                c &= !mask;
            }
        }
        c as i64
    };
    if value > max || (bits != 64 && incr > maxincr) || (value >= 0 && incr > 0 && incr > maxincr) {
        let lim = match ow {
            Overflow::Wrap => wrap(),
            Overflow::Sat => max,
            Overflow::Fail => 0,
        };
        (true, lim)
    } else if value < min || (bits != 64 && incr < minincr) || (value < 0 && incr < 0 && incr < minincr) {
        let lim = match ow {
            Overflow::Wrap => wrap(),
            Overflow::Sat => min,
            Overflow::Fail => 0,
        };
        (true, lim)
    } else {
        (false, 0)
    }
}

fn bitfield(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    bitfield_generic(ctx, argv, false)
}

fn bitfield_ro(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    bitfield_generic(ctx, argv, true)
}

fn bitfield_generic(ctx: &mut Ctx, argv: &[&[u8]], ro: bool) -> Reply {
    let mut ops: Vec<BfOp> = Vec::new();
    let mut ow = Overflow::Wrap;
    let mut readonly = true;
    let mut highest: u64 = 0;
    let mut j = 2;
    while j < argv.len() {
        let rem = argv.len() - j - 1;
        let sub = argv[j];
        let kind = if eq_ic(sub, "get") && rem >= 2 {
            BfKind::Get
        } else if eq_ic(sub, "set") && rem >= 3 {
            BfKind::Set
        } else if eq_ic(sub, "incrby") && rem >= 3 {
            BfKind::Incrby
        } else if eq_ic(sub, "overflow") && rem >= 1 {
            let t = argv[j + 1];
            ow = if eq_ic(t, "wrap") {
                Overflow::Wrap
            } else if eq_ic(t, "sat") {
                Overflow::Sat
            } else if eq_ic(t, "fail") {
                Overflow::Fail
            } else {
                return Reply::err("ERR Invalid OVERFLOW type specified");
            };
            j += 2;
            continue;
        } else {
            return Reply::err(SYNTAX);
        };
        let (signed, bits) = match bitfield_type(argv[j + 1]) {
            Ok(t) => t,
            Err(e) => return e,
        };
        let offset = match bit_offset(ctx, argv[j + 2], bits) {
            Ok(o) => o,
            Err(e) => return e,
        };
        let mut val = 0;
        if kind != BfKind::Get {
            readonly = false;
            highest = highest.max(offset + bits as u64 - 1);
            val = match parse_int(argv[j + 3]) {
                Ok(v) => v,
                Err(e) => return e,
            };
        }
        ops.push(BfOp { kind, offset, bits, signed, val, ow });
        j += if kind == BfKind::Get { 3 } else { 4 };
    }

    if readonly {
        return with_str(ctx, argv[1], |s| {
            Reply::Array(ops.iter().map(|op| get_reply(s.unwrap_or_default(), op)).collect())
        })
        .unwrap_or_else(|e| e);
    }
    if ro {
        return Reply::err("ERR BITFIELD_RO only supports the GET subcommand");
    }
    let p = match string_for_bits(ctx, argv[1], highest) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let mut out = Vec::with_capacity(ops.len());
    for op in &ops {
        match op.kind {
            BfKind::Get => out.push(get_reply(p, op)),
            _ if op.signed => {
                let old = get_signed(p, op.offset, op.bits);
                let (ovf, newval, ret) = if op.kind == BfKind::Incrby {
                    let (ovf, wrapped) = check_signed(old, op.val, op.bits, op.ow);
                    let nv = if ovf { wrapped } else { old.wrapping_add(op.val) };
                    (ovf, nv, nv)
                } else {
                    let (ovf, wrapped) = check_signed(op.val, 0, op.bits, op.ow);
                    (ovf, if ovf { wrapped } else { op.val }, old)
                };
                if ovf && op.ow == Overflow::Fail {
                    out.push(Reply::Nil);
                } else {
                    out.push(Reply::Int(ret));
                    set_unsigned(p, op.offset, op.bits, newval as u64);
                }
            }
            _ => {
                let old = get_unsigned(p, op.offset, op.bits);
                let (ovf, newval, ret) = if op.kind == BfKind::Incrby {
                    let (ovf, wrapped) = check_unsigned(old, op.val, op.bits, op.ow);
                    let nv = if ovf { wrapped } else { old.wrapping_add(op.val as u64) };
                    (ovf, nv, nv)
                } else {
                    let (ovf, wrapped) = check_unsigned(op.val as u64, 0, op.bits, op.ow);
                    (ovf, if ovf { wrapped } else { op.val as u64 }, old)
                };
                if ovf && op.ow == Overflow::Fail {
                    out.push(Reply::Nil);
                } else {
                    out.push(Reply::Int(ret as i64));
                    set_unsigned(p, op.offset, op.bits, newval);
                }
            }
        }
    }
    Reply::Array(out)
}

fn get_reply(s: &[u8], op: &BfOp) -> Reply {
    if op.signed {
        Reply::Int(get_signed(s, op.offset, op.bits))
    } else {
        Reply::Int(get_unsigned(s, op.offset, op.bits) as i64)
    }
}
