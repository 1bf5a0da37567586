//! Redis 7.0 compact encodings embedded in RDB payloads: listpack, ziplist, intset, zipmap.
//!
//! Owns: decoding of listpack (`listpack_decode`), ziplist (`ziplist_decode`), intset
//! (`intset_decode`) and zipmap (`zipmap_decode`) blobs, and encoding of listpacks
//! (`ListpackWriter`) and intsets (`intset_encode`). Formats follow Redis's `listpack.c`,
//! `ziplist.c`, `intset.c` and `zipmap.c`.
//!
//! Must hold:
//! - Decoders never panic, never read out of bounds and never allocate more than the input
//!   justifies, whatever the input; malformed input yields `Err` with a short description.
//! - Decoders accept every blob Redis writes. They apply the structural checks of Redis's
//!   deep `*ValidateIntegrity` functions: declared byte totals equal the blob size, the
//!   terminator is the last byte, header element counts match (unless saturated), listpack
//!   backlens and ziplist prevlens/zltail agree, intset members are strictly ascending.
//!   Unlike Redis, empty intsets and zipmaps are accepted; callers decide if that is allowed.
//! - `ListpackWriter` output is byte-identical to building the same listpack with Redis's
//!   `lpAppend` (same strict integer detection, smallest int/string encoding, backlen).
//! - `intset_encode` output is byte-identical to the intset Redis builds for the same set.

const LP_HDR: usize = 6;
const LP_EOF: u8 = 0xFF;
const ZL_HDR: usize = 10;
const ZL_END: u8 = 0xFF;
const ZM_BIGLEN: u8 = 254;
const ZM_END: u8 = 0xFF;

/// `return Err(format!(..))` unless `cond` holds.
macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!($($fmt)+));
        }
    };
}

/// One element of a listpack or ziplist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Int(i64),
    Str(Vec<u8>),
}

impl Entry {
    /// The element as Redis returns it to clients: integers as decimal ASCII.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Entry::Int(v) => v.to_string().into_bytes(),
            Entry::Str(s) => s.clone(),
        }
    }
}

/// `n` bytes of `buf` starting at `at`, or an error if they are not all there.
fn take<'a>(buf: &'a [u8], at: usize, n: usize, what: &str) -> Result<&'a [u8], String> {
    at.checked_add(n).and_then(|end| buf.get(at..end)).ok_or_else(|| format!("{what}: truncated at offset {at}"))
}

fn arr<const N: usize>(buf: &[u8], at: usize, what: &str) -> Result<[u8; N], String> {
    <[u8; N]>::try_from(take(buf, at, N, what)?).map_err(|_| format!("{what}: truncated"))
}

fn byte(buf: &[u8], at: usize, what: &str) -> Result<u8, String> {
    buf.get(at).copied().ok_or_else(|| format!("{what}: truncated at offset {at}"))
}

fn le_u32(buf: &[u8], at: usize, what: &str) -> Result<usize, String> {
    Ok(u32::from_le_bytes(arr(buf, at, what)?) as usize)
}

/// Port of Redis `lpStringToInt64` (= `string2ll`): only the canonical decimal spelling of
/// an i64 is accepted (no sign '+', no spaces, no leading zeros, "-0" rejected).
fn parse_canonical_i64(s: &[u8]) -> Option<i64> {
    if s == b"0" {
        return Some(0);
    }
    let (negative, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    if !matches!(digits.first(), Some(b'1'..=b'9')) {
        return None;
    }
    let mut v: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    if negative {
        0i64.checked_sub_unsigned(v)
    } else {
        i64::try_from(v).ok()
    }
}

/// Mirrors `lpEncodeIntegerGetType`: the smallest listpack integer encoding.
fn lp_encode_int(out: &mut Vec<u8>, v: i64) {
    if (0..=127).contains(&v) {
        out.push(v as u8);
    } else if (-4096..=4095).contains(&v) {
        let u = (v & 0x1FFF) as u16; // == (1 << 13) + v for negative v
        out.extend_from_slice(&[0xC0 | (u >> 8) as u8, u as u8]);
    } else if let Ok(x) = i16::try_from(v) {
        out.push(0xF1);
        out.extend_from_slice(&x.to_le_bytes());
    } else if (-(1 << 23)..(1 << 23)).contains(&v) {
        out.push(0xF2);
        out.extend_from_slice(&v.to_le_bytes()[..3]);
    } else if let Ok(x) = i32::try_from(v) {
        out.push(0xF3);
        out.extend_from_slice(&x.to_le_bytes());
    } else {
        out.push(0xF4);
        out.extend_from_slice(&v.to_le_bytes());
    }
}

/// Mirrors `lpEncodeString`. Strings must be shorter than 4 GiB (a listpack limit).
fn lp_encode_str(out: &mut Vec<u8>, s: &[u8]) {
    let n = s.len();
    if n < 64 {
        out.push(0x80 | n as u8);
    } else if n < 4096 {
        out.extend_from_slice(&[0xE0 | (n >> 8) as u8, n as u8]);
    } else {
        out.push(0xF0);
        out.extend_from_slice(&(n as u32).to_le_bytes());
    }
    out.extend_from_slice(s);
}

/// Mirrors `lpEncodeBacklen`, including its thresholds (16383 already takes 3 bytes).
fn lp_backlen(l: usize) -> ([u8; 5], usize) {
    let l = l as u64;
    let n = match l {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2_097_150 => 3,
        2_097_151..=268_435_454 => 4,
        _ => 5,
    };
    let mut b = [0u8; 5];
    for (i, slot) in b.iter_mut().take(n).enumerate() {
        let bits = ((l >> (7 * (n - 1 - i))) & 127) as u8;
        *slot = if i == 0 { bits } else { bits | 128 };
    }
    (b, n)
}

/// Builds a listpack byte-for-byte like a sequence of Redis `lpAppend` calls.
#[derive(Debug, Clone)]
pub struct ListpackWriter {
    buf: Vec<u8>,
    count: usize,
}

impl Default for ListpackWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl ListpackWriter {
    pub fn new() -> Self {
        Self { buf: vec![0; LP_HDR], count: 0 }
    }

    /// Appends `s`, stored as an integer when it is a canonical i64 (like `lpAppend`).
    pub fn push_str(&mut self, s: &[u8]) {
        match parse_canonical_i64(s) {
            Some(v) => self.push_int(v),
            None => {
                let start = self.buf.len();
                lp_encode_str(&mut self.buf, s);
                self.end_entry(start);
            }
        }
    }

    pub fn push_int(&mut self, v: i64) {
        let start = self.buf.len();
        lp_encode_int(&mut self.buf, v);
        self.end_entry(start);
    }

    fn end_entry(&mut self, start: usize) {
        let (b, n) = lp_backlen(self.buf.len() - start);
        self.buf.extend_from_slice(&b[..n]);
        self.count += 1;
    }

    /// Number of entries pushed so far.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Size `finish` would return right now: header + entries + terminator.
    pub fn byte_len(&self) -> usize {
        self.buf.len() + 1
    }

    /// The complete listpack. The element count saturates at 65535 like Redis's header.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.push(LP_EOF);
        let total = u32::try_from(self.buf.len()).unwrap_or(u32::MAX);
        let count = u16::try_from(self.count).unwrap_or(u16::MAX);
        self.buf[..4].copy_from_slice(&total.to_le_bytes());
        self.buf[4..LP_HDR].copy_from_slice(&count.to_le_bytes());
        self.buf
    }
}

/// Decodes the listpack entry at `at`; returns it and its encoded size (without backlen).
fn lp_entry(buf: &[u8], at: usize) -> Result<(Entry, usize), String> {
    const W: &str = "listpack";
    let b = byte(buf, at, W)?;
    let str_at = |hdr: usize, n: usize| -> Result<(Entry, usize), String> {
        Ok((Entry::Str(take(buf, at + hdr, n, W)?.to_vec()), hdr + n))
    };
    let (v, size) = match b {
        0x00..=0x7F => (i64::from(b), 1),
        0x80..=0xBF => return str_at(1, usize::from(b & 0x3F)),
        0xC0..=0xDF => {
            let u = (i64::from(b & 0x1F) << 8) | i64::from(byte(buf, at + 1, W)?);
            (if u >= 1 << 12 { u - (1 << 13) } else { u }, 2)
        }
        0xE0..=0xEF => {
            let n = (usize::from(b & 0x0F) << 8) | usize::from(byte(buf, at + 1, W)?);
            return str_at(2, n);
        }
        0xF0 => return str_at(5, le_u32(buf, at + 1, W)?),
        0xF1 => (i64::from(i16::from_le_bytes(arr(buf, at + 1, W)?)), 3),
        0xF2 => {
            let [x, y, z] = arr(buf, at + 1, W)?;
            (i64::from(i32::from_le_bytes([0, x, y, z]) >> 8), 4)
        }
        0xF3 => (i64::from(i32::from_le_bytes(arr(buf, at + 1, W)?)), 5),
        0xF4 => (i64::from_le_bytes(arr(buf, at + 1, W)?), 9),
        _ => return Err(format!("listpack: invalid encoding 0x{b:02x} at offset {at}")),
    };
    Ok((Entry::Int(v), size))
}

/// Decodes a whole listpack blob (as stored in RDB after any LZF decompression).
pub fn listpack_decode(buf: &[u8]) -> Result<Vec<Entry>, String> {
    const W: &str = "listpack";
    ensure!(buf.len() > LP_HDR, "listpack: {} bytes is shorter than header", buf.len());
    let total = le_u32(buf, 0, W)?;
    ensure!(total == buf.len(), "listpack: header says {total} bytes, blob has {}", buf.len());
    let numele = u16::from_le_bytes(arr(buf, 4, W)?);
    let mut out = Vec::with_capacity(usize::from(numele).min(buf.len()));
    let mut pos = LP_HDR;
    while byte(buf, pos, W)? != LP_EOF {
        let (entry, enclen) = lp_entry(buf, pos)?;
        let end = pos + enclen;
        let (bl, n) = lp_backlen(enclen);
        ensure!(take(buf, end, n, W)? == &bl[..n], "listpack: bad backlen at offset {end}");
        pos = end + n;
        out.push(entry);
    }
    ensure!(pos + 1 == buf.len(), "listpack: EOF marker at offset {pos} is not the last byte");
    let n = out.len();
    ensure!(numele == u16::MAX || usize::from(numele) == n, "listpack: count {numele} != {n}");
    Ok(out)
}

/// Decodes the ziplist entry body (encoding + data) at `at`; returns it and its size.
fn zl_entry(buf: &[u8], at: usize) -> Result<(Entry, usize), String> {
    const W: &str = "ziplist";
    let b = byte(buf, at, W)?;
    let str_at = |hdr: usize, n: usize| -> Result<(Entry, usize), String> {
        Ok((Entry::Str(take(buf, at + hdr, n, W)?.to_vec()), hdr + n))
    };
    let (v, data) = match b {
        0x00..=0x3F => return str_at(1, usize::from(b & 0x3F)),
        0x40..=0x7F => {
            let n = (usize::from(b & 0x3F) << 8) | usize::from(byte(buf, at + 1, W)?);
            return str_at(2, n);
        }
        0x80..=0xBF => return str_at(5, u32::from_be_bytes(arr(buf, at + 1, W)?) as usize),
        0xC0 => (i64::from(i16::from_le_bytes(arr(buf, at + 1, W)?)), 2),
        0xD0 => (i64::from(i32::from_le_bytes(arr(buf, at + 1, W)?)), 4),
        0xE0 => (i64::from_le_bytes(arr(buf, at + 1, W)?), 8),
        0xF0 => {
            let [x, y, z] = arr(buf, at + 1, W)?;
            (i64::from(i32::from_le_bytes([0, x, y, z]) >> 8), 3)
        }
        0xFE => (i64::from(i8::from_le_bytes(arr(buf, at + 1, W)?)), 1),
        0xF1..=0xFD => (i64::from(b & 0x0F) - 1, 0),
        _ => return Err(format!("ziplist: invalid encoding 0x{b:02x} at offset {at}")),
    };
    Ok((Entry::Int(v), 1 + data))
}

/// Decodes a whole ziplist blob (RDB types 10-13 and quicklist v1 nodes).
pub fn ziplist_decode(buf: &[u8]) -> Result<Vec<Entry>, String> {
    const W: &str = "ziplist";
    ensure!(buf.len() > ZL_HDR, "ziplist: {} bytes is shorter than header", buf.len());
    let zlbytes = le_u32(buf, 0, W)?;
    ensure!(zlbytes == buf.len(), "ziplist: header says {zlbytes} bytes, blob has {}", buf.len());
    let zltail = le_u32(buf, 4, W)?;
    ensure!(zltail < buf.len(), "ziplist: tail offset {zltail} out of range");
    let zllen = u16::from_le_bytes(arr(buf, 8, W)?);
    let mut out = Vec::with_capacity(usize::from(zllen).min(buf.len()));
    let (mut pos, mut prev_size, mut last) = (ZL_HDR, 0usize, None);
    loop {
        let first = byte(buf, pos, W)?;
        if first == ZL_END {
            break;
        }
        let (prevlen, plen) = if first < 0xFE { (usize::from(first), 1) } else { (le_u32(buf, pos + 1, W)?, 5) };
        ensure!(prevlen == prev_size, "ziplist: prevlen {prevlen} != {prev_size} at offset {pos}");
        let (entry, body) = zl_entry(buf, pos + plen)?;
        last = Some(pos);
        prev_size = plen + body;
        pos += prev_size;
        out.push(entry);
    }
    ensure!(pos + 1 == buf.len(), "ziplist: end marker at offset {pos} is not the last byte");
    ensure!(last.is_none_or(|l| l == zltail), "ziplist: tail {zltail} is not the last entry");
    let n = out.len();
    ensure!(zllen == u16::MAX || usize::from(zllen) == n, "ziplist: count {zllen} != {n}");
    Ok(out)
}

/// Decodes an intset blob; members must be strictly ascending as Redis keeps them.
pub fn intset_decode(buf: &[u8]) -> Result<Vec<i64>, String> {
    const W: &str = "intset";
    let width = le_u32(buf, 0, W)?;
    ensure!(matches!(width, 2 | 4 | 8), "intset: invalid encoding {width}");
    let count = le_u32(buf, 4, W)? as u64;
    let body = buf.get(8..).unwrap_or_default();
    let size = body.len() as u64;
    ensure!(count.checked_mul(width as u64) == Some(size), "intset: {count}x{width} != {size} bytes");
    let shift = 64 - 8 * width as u32;
    let out: Vec<i64> = body
        .chunks_exact(width)
        .map(|c| {
            let mut b = [0u8; 8];
            b.iter_mut().zip(c).for_each(|(d, s)| *d = *s);
            (i64::from_le_bytes(b) << shift) >> shift
        })
        .collect();
    ensure!(out.windows(2).all(|w| w[0] < w[1]), "intset: members not strictly ascending");
    Ok(out)
}

/// Encodes a set of integers as Redis's intset (sorted, deduplicated, narrowest width).
pub fn intset_encode(values: &[i64]) -> Vec<u8> {
    let mut v = values.to_vec();
    v.sort_unstable();
    v.dedup();
    let (lo, hi) = (v.first().copied().unwrap_or(0), v.last().copied().unwrap_or(0));
    let width: usize = if i16::try_from(lo).is_ok() && i16::try_from(hi).is_ok() {
        2
    } else if i32::try_from(lo).is_ok() && i32::try_from(hi).is_ok() {
        4
    } else {
        8
    };
    let mut out = Vec::with_capacity(8 + width * v.len());
    out.extend_from_slice(&(width as u32).to_le_bytes());
    out.extend_from_slice(&(v.len() as u32).to_le_bytes());
    for x in &v {
        out.extend_from_slice(&x.to_le_bytes()[..width]);
    }
    out
}

/// Reads a zipmap length field at `at`: returns (length, bytes used).
fn zm_len(buf: &[u8], at: usize) -> Result<(usize, usize), String> {
    let b = byte(buf, at, "zipmap")?;
    if b < ZM_BIGLEN {
        Ok((usize::from(b), 1))
    } else {
        Ok((le_u32(buf, at + 1, "zipmap")?, 5))
    }
}

/// Decodes a zipmap blob (RDB type 9, Redis < 2.6 hashes) into (field, value) pairs.
#[allow(clippy::type_complexity)] // signature fixed by the public API
pub fn zipmap_decode(buf: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>, String> {
    const W: &str = "zipmap";
    let zmlen = byte(buf, 0, W)?;
    let mut out = Vec::new();
    let mut pos = 1;
    while byte(buf, pos, W)? != ZM_END {
        let (klen, n) = zm_len(buf, pos)?;
        let key = take(buf, pos + n, klen, W)?.to_vec();
        pos += n + klen;
        let (vlen, n) = zm_len(buf, pos)?;
        let free = usize::from(byte(buf, pos + n, W)?);
        let val = take(buf, pos + n + 1, vlen, W)?.to_vec();
        pos += n + 1 + vlen + free;
        out.push((key, val));
    }
    ensure!(pos + 1 == buf.len(), "zipmap: end marker at offset {pos} is not the last byte");
    let n = out.len();
    ensure!(zmlen == ZM_BIGLEN || usize::from(zmlen) == n, "zipmap: count {zmlen} != {n}");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(b: &[u8]) -> Entry {
        Entry::Str(b.to_vec())
    }

    fn lp(items: &[Entry]) -> Vec<u8> {
        let mut w = ListpackWriter::new();
        for e in items {
            match e {
                Entry::Int(v) => w.push_int(*v),
                Entry::Str(b) => w.push_str(b),
            }
        }
        w.finish()
    }

    /// Test-only ziplist builder following `ziplistPush` encoding choices.
    fn zl(items: &[Entry]) -> Vec<u8> {
        let (mut body, mut prev, mut tail) = (Vec::new(), 0usize, ZL_HDR);
        for e in items {
            let start = body.len();
            tail = ZL_HDR + start;
            if prev < 254 {
                body.push(prev as u8);
            } else {
                body.push(0xFE);
                body.extend_from_slice(&(prev as u32).to_le_bytes());
            }
            match e {
                Entry::Int(v @ 0..=12) => body.push(0xF1 + *v as u8),
                Entry::Int(v) => {
                    let fits = |n: usize| (-(1i64 << (8 * n - 1))..(1i64 << (8 * n - 1))).contains(v);
                    let n = [1, 2, 3, 4].into_iter().find(|&n| fits(n)).unwrap_or(8);
                    body.push([0xFE, 0xC0, 0xF0, 0xD0, 0, 0, 0, 0xE0][n - 1]);
                    body.extend_from_slice(&v.to_le_bytes()[..n]);
                }
                Entry::Str(b) => {
                    let n = b.len();
                    if n <= 0x3F {
                        body.push(n as u8);
                    } else if n <= 0x3FFF {
                        body.extend([0x40 | (n >> 8) as u8, n as u8]);
                    } else {
                        body.push(0x80);
                        body.extend_from_slice(&(n as u32).to_be_bytes());
                    }
                    body.extend_from_slice(b);
                }
            }
            prev = body.len() - start;
        }
        let mut out = ((ZL_HDR + body.len() + 1) as u32).to_le_bytes().to_vec();
        out.extend_from_slice(&(tail as u32).to_le_bytes());
        out.extend_from_slice(&u16::try_from(items.len()).unwrap_or(u16::MAX).to_le_bytes());
        out.extend(body);
        out.push(ZL_END);
        out
    }

    /// Test-only zipmap builder; every value gets `free` padding bytes.
    fn zm(count: u8, pairs: &[(&[u8], &[u8])], free: u8) -> Vec<u8> {
        let mut out = vec![count];
        let len = |out: &mut Vec<u8>, n: usize| {
            if n < 254 {
                out.push(n as u8);
            } else {
                out.push(254);
                out.extend_from_slice(&(n as u32).to_le_bytes());
            }
        };
        for (k, v) in pairs {
            len(&mut out, k.len());
            out.extend_from_slice(k);
            len(&mut out, v.len());
            out.push(free);
            out.extend_from_slice(v);
            out.extend(std::iter::repeat_n(0xAA, free.into()));
        }
        out.push(ZM_END);
        out
    }

    fn patched(good: &[u8], i: usize, v: u8) -> Vec<u8> {
        let mut b = good.to_vec();
        b[i] = v;
        b
    }

    #[test]
    fn entry_to_bytes() {
        assert_eq!(Entry::Int(-42).to_bytes(), b"-42");
        assert_eq!(Entry::Int(i64::MIN).to_bytes(), b"-9223372036854775808");
        assert_eq!(s(b"xy").to_bytes(), b"xy");
    }

    #[test]
    fn listpack_known_vectors() {
        let mut w = ListpackWriter::new();
        assert!(w.is_empty());
        w.push_str(b"a");
        w.push_int(1);
        assert_eq!((w.len(), w.byte_len()), (2, 12));
        let bytes = w.finish();
        // 12 bytes in total: the header's total-bytes field is 0x0c.
        assert_eq!(bytes, [0x0c, 0, 0, 0, 2, 0, 0x81, b'a', 0x02, 0x01, 0x01, 0xff]);
        assert_eq!(listpack_decode(&bytes).unwrap(), [s(b"a"), Entry::Int(1)]);
        assert_eq!(ListpackWriter::default().finish(), [7, 0, 0, 0, 0, 0, 0xff]);
        assert_eq!(listpack_decode(&[7, 0, 0, 0, 0, 0, 0xff]).unwrap(), []);
        let one = |v: i64| lp(&[Entry::Int(v)])[LP_HDR..].to_vec();
        assert_eq!(one(-1), [0xDF, 0xFF, 2, 0xFF]);
        assert_eq!(one(300), [0xC1, 0x2C, 2, 0xFF]);
        assert_eq!(one(4096), [0xF1, 0x00, 0x10, 3, 0xFF]);
        assert_eq!(one(-4097), [0xF1, 0xFF, 0xEF, 3, 0xFF]);
        assert_eq!(one(-8_388_608), [0xF2, 0x00, 0x00, 0x80, 4, 0xFF]);
        assert_eq!(one(i64::MIN), [0xF4, 0, 0, 0, 0, 0, 0, 0, 0x80, 9, 0xFF]);
    }

    #[test]
    fn listpack_int_boundaries() {
        let (hi, lo) = (i64::from(i32::MAX), i64::from(i32::MIN));
        let (hi1, lo1, max, min) = (hi + 1, lo - 1, i64::MAX, i64::MIN);
        let vals = [
            0, 127, 128, -1, -4096, 4095, 4096, -4097, 32767, -32768, 32768, -32769, 8388607, -8388608, 8388608,
            -8388609, hi, lo, hi1, lo1, max, min,
        ];
        let sizes = [1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 9, 9, 9, 9];
        for (v, enclen) in vals.into_iter().zip(sizes) {
            let mut w = ListpackWriter::new();
            w.push_int(v);
            assert_eq!(w.byte_len(), LP_HDR + enclen + 1 + 1, "value {v}");
            let bytes = w.finish();
            let mut w2 = ListpackWriter::new();
            w2.push_str(v.to_string().as_bytes());
            assert_eq!(w2.finish(), bytes, "push_str vs push_int for {v}");
            assert_eq!(listpack_decode(&bytes).unwrap(), [Entry::Int(v)]);
        }
        let all: Vec<Entry> = vals.into_iter().map(Entry::Int).collect();
        assert_eq!(listpack_decode(&lp(&all)).unwrap(), all);
    }

    #[test]
    fn listpack_string_lengths() {
        let lens = [0, 63, 64, 125, 126, 4095, 4096, 16377, 16378, 70000];
        let hdrs = [1, 1, 2, 2, 2, 2, 5, 5, 5, 5]; // encoding header sizes
        let backlens = [1, 1, 1, 1, 2, 2, 2, 2, 3, 3];
        let mut all = Vec::new();
        for ((n, hdr), bl) in lens.into_iter().zip(hdrs).zip(backlens) {
            let e = s(&vec![b'x'; n]);
            let mut w = ListpackWriter::new();
            w.push_str(&e.to_bytes());
            assert_eq!(w.byte_len(), LP_HDR + hdr + n + bl + 1, "len {n}");
            let bytes = w.finish();
            assert_eq!(listpack_decode(&bytes).unwrap(), std::slice::from_ref(&e), "len {n}");
            all.push(e);
        }
        let head = |n: usize| lp(&[s(&vec![b'y'; n])])[LP_HDR..LP_HDR + 5].to_vec();
        assert_eq!(head(63)[0], 0xBF);
        assert_eq!(head(64)[..2], [0xE0, 0x40]);
        assert_eq!(head(4095)[..2], [0xEF, 0xFF]);
        assert_eq!(head(4096), [0xF0, 0x00, 0x10, 0x00, 0x00]);
        assert_eq!(head(70000), [0xF0, 0x70, 0x11, 0x01, 0x00]);
        // Encoded size 16383 takes a 3-byte backlen in Redis (`l < 16383` boundary).
        assert!(lp(&[s(&[b'z'; 16378])]).ends_with(&[b'z', 0x00, 0xFF, 0xFF, 0xFF]));
        all.push(Entry::Int(-7));
        assert_eq!(listpack_decode(&lp(&all)).unwrap(), all);
    }

    #[test]
    fn push_str_integer_detection() {
        let strs = b"007,-0,+1, 1,1 ,,-,00,1a,1.0,0x1,9223372036854775808,-9223372036854775809,\
            18446744073709551616,123456789012345678901";
        for x in strs.split(|&c| c == b',') {
            let mut w = ListpackWriter::new();
            w.push_str(x);
            assert_eq!(listpack_decode(&w.finish()).unwrap(), [s(x)], "{x:?}");
        }
        let ints = "0,-1,4096,-4097,9223372036854775807,-9223372036854775808";
        for x in ints.split(',') {
            let mut w = ListpackWriter::new();
            w.push_str(x.as_bytes());
            assert_eq!(listpack_decode(&w.finish()).unwrap(), [Entry::Int(x.parse().unwrap())]);
        }
    }

    #[test]
    fn listpack_count_saturates() {
        let check = |w: &ListpackWriter, hdr: [u8; 2]| {
            let b = w.clone().finish();
            assert_eq!((b[4], b[5], listpack_decode(&b).unwrap().len()), (hdr[0], hdr[1], w.len()));
        };
        let mut w = ListpackWriter::new();
        for i in 0..65_534 {
            w.push_int(i % 200);
        }
        check(&w, [0xFE, 0xFF]);
        w.push_str(b"x");
        check(&w, [0xFF, 0xFF]); // 65535 entries: saturated
        w.push_int(5);
        check(&w, [0xFF, 0xFF]);
    }

    #[test]
    fn listpack_rejects_malformed() {
        let good = lp(&[s(b"a"), Entry::Int(1)]);
        assert!(listpack_decode(&patched(&good, 0, 0x0b)).is_err()); // wrong total
        assert!(listpack_decode(&patched(&good, 4, 3)).is_err()); // wrong count
        assert!(listpack_decode(&patched(&good, 8, 3)).is_err()); // wrong backlen
        assert!(listpack_decode(&patched(&good, 9, 0xF5)).is_err()); // invalid encoding
        assert!(listpack_decode(&patched(&good, 6, 0x85)).is_err()); // string past the end
        let mut unknown = patched(&good, 4, 0xFF);
        unknown[5] = 0xFF;
        assert_eq!(listpack_decode(&unknown).unwrap().len(), 2);
        let mut trailing = patched(&good, 0, 13);
        trailing.push(0);
        assert!(listpack_decode(&trailing).is_err());
        assert!(listpack_decode(&[7, 0, 0, 0, 1, 0, 0x00]).is_err()); // no EOF
        assert!(listpack_decode(&[]).is_err());
        assert!(listpack_decode(&[6, 0, 0, 0, 0, 0]).is_err());
    }

    #[test]
    fn ziplist_known_vectors() {
        let v = [16, 0, 0, 0, 13, 0, 0, 0, 2, 0, 0x00, 0x01, b'a', 0x03, 0xF6, 0xFF];
        assert_eq!(ziplist_decode(&v).unwrap(), [s(b"a"), Entry::Int(5)]);
        assert_eq!(zl(&[s(b"a"), Entry::Int(5)]), v);
        let mut v = vec![108, 0, 0, 0, 105, 0, 0, 0, 7, 0];
        v.extend([0x00, 0xFE, 0xFE]); // int8 -2
        v.extend([0x03, 0xC0, 0xE8, 0x03]); // int16 1000
        v.extend([0x04, 0xF0, 0x60, 0x79, 0xFE]); // int24 -100000
        v.extend([0x05, 0xD0, 0, 0, 0, 0x40]); // int32 1 << 30
        v.extend([0x06, 0xE0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF]); // int64 -(1 << 40)
        v.extend([0x0A, 0x40, 0x40]); // 14-bit string length 64
        v.extend([b'z'; 64]);
        v.extend([67, 0xF1, 0xFF]); // immediate 0, end
        let mut want = [-2, 1000, -100_000, 1 << 30, -(1 << 40)].map(Entry::Int).to_vec();
        want.extend([s(&[b'z'; 64]), Entry::Int(0)]);
        assert_eq!(ziplist_decode(&v).unwrap(), want);
        assert_eq!(zl(&want), v);
        assert_eq!(ziplist_decode(&zl(&[])).unwrap(), []);
    }

    #[test]
    fn ziplist_round_trips() {
        let mut items: Vec<Entry> = (0..=13).chain([-1, -128, 127, 128, -129]).map(Entry::Int).collect();
        let mid = [32767, -32768, 32768, -32769, 8_388_607, -8_388_608, 8_388_608, -8_388_609];
        items.extend(mid.map(Entry::Int));
        items.extend([i32::MAX.into(), i32::MIN.into(), i64::MAX, i64::MIN].map(Entry::Int));
        for n in [0, 63, 64, 300, 16383, 16384, 70000] {
            items.push(s(&vec![b'q'; n]));
            items.push(Entry::Int(7)); // follows a big entry: 5-byte prevlen
        }
        let bytes = zl(&items);
        assert_eq!(ziplist_decode(&bytes).unwrap(), items);
        let big = zl(&[s(&[b'q'; 300]), Entry::Int(7)]);
        assert_eq!(big[ZL_HDR + 303..ZL_HDR + 308], [0xFE, 0x2F, 0x01, 0, 0]);
        assert_eq!(big[ZL_HDR + 1..ZL_HDR + 3], [0x41, 0x2C]);
        let huge = zl(&[s(&[b'q'; 16384])]);
        assert_eq!(huge[ZL_HDR + 1..ZL_HDR + 6], [0x80, 0, 0, 0x40, 0]);
        let mut unknown = bytes.clone();
        unknown[8..10].copy_from_slice(&[0xFF, 0xFF]);
        assert_eq!(ziplist_decode(&unknown).unwrap().len(), items.len());
    }

    #[test]
    fn ziplist_rejects_malformed() {
        let good = zl(&[s(b"a"), Entry::Int(5)]);
        assert!(ziplist_decode(&patched(&good, 0, 17)).is_err()); // zlbytes
        assert!(ziplist_decode(&patched(&good, 4, 10)).is_err()); // zltail not at last entry
        assert!(ziplist_decode(&patched(&good, 4, 200)).is_err()); // zltail out of range
        assert!(ziplist_decode(&patched(&good, 8, 3)).is_err()); // zllen
        assert!(ziplist_decode(&patched(&good, 13, 2)).is_err()); // prevlen
        assert!(ziplist_decode(&patched(&good, 14, 0xC1)).is_err()); // invalid encoding
        assert!(ziplist_decode(&patched(&good, 11, 0x3F)).is_err()); // string past the end
        assert!(ziplist_decode(&patched(&good, 13, 0xFF)).is_err()); // early end marker
        assert!(ziplist_decode(&[11, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0xFF]).is_ok());
        assert!(ziplist_decode(&[11, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0x00]).is_err());
        assert!(ziplist_decode(&[]).is_err());
    }

    #[test]
    fn intset_vectors() {
        let v = [2, 0, 0, 0, 3, 0, 0, 0, 0xFB, 0xFF, 1, 0, 0x10, 0x27];
        assert_eq!(intset_decode(&v).unwrap(), [-5, 1, 10000]);
        assert_eq!(intset_encode(&[10000, 1, -5, 1]), v);
        assert_eq!(intset_encode(&[]), [2, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(intset_decode(&intset_encode(&[])).unwrap(), Vec::<i64>::new());
        let width = |vals: &[i64]| intset_encode(vals)[0];
        assert_eq!(width(&[i16::MIN.into(), i16::MAX.into()]), 2);
        assert_eq!(width(&[32768]), 4);
        assert_eq!(width(&[-32769, 0]), 4);
        assert_eq!(width(&[i32::MIN.into(), i32::MAX.into()]), 4);
        assert_eq!(width(&[i64::from(i32::MAX) + 1]), 8);
        assert_eq!(width(&[i64::from(i32::MIN) - 1]), 8);
        for vals in [vec![i64::MIN, -1, 0, i64::MAX], vec![-40000, 3, 40000], vec![-7, 7]] {
            let b = intset_encode(&vals);
            assert_eq!(b.len(), 8 + vals.len() * usize::from(b[0]));
            assert_eq!(intset_decode(&b).unwrap(), vals);
        }
        assert!(intset_decode(&[3, 0, 0, 0, 1, 0, 0, 0, 1, 2, 3]).is_err()); // bad encoding
        assert!(intset_decode(&[2, 0, 0, 0, 2, 0, 0, 0, 1, 0]).is_err()); // short body
        assert!(intset_decode(&[2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 1, 0]).is_err()); // unsorted
        assert!(intset_decode(&[2, 0, 0, 0, 2, 0, 0, 0, 1, 0, 1, 0]).is_err()); // duplicate
        assert!(intset_decode(&[8, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF]).is_err()); // huge count
        assert!(intset_decode(&[2, 0, 0]).is_err());
    }

    #[test]
    fn zipmap_vectors() {
        let v = [2, 3, b'f', b'o', b'o', 3, 2, b'b', b'a', b'r', 0, 0, 1, b'k', 0, 0, 0xFF];
        let want = vec![(b"foo".to_vec(), b"bar".to_vec()), (b"k".to_vec(), Vec::new())];
        assert_eq!(zipmap_decode(&v).unwrap(), want);
        let long = vec![b'v'; 300];
        let b = zm(254, &[(b"key", &long), (&[b'k'; 254], b"x")], 3);
        assert_eq!(b[5..10], [254, 0x2C, 0x01, 0, 0]);
        let got = zipmap_decode(&b).unwrap();
        assert_eq!((got[0].1.len(), got[1].0.len(), got[1].1.clone()), (300, 254, b"x".to_vec()));
        assert_eq!(zipmap_decode(&[0, 0xFF]).unwrap(), []);
        let mut bad = v;
        bad[0] = 3;
        assert!(zipmap_decode(&bad).is_err()); // count mismatch
        assert!(zipmap_decode(&v[..16]).is_err()); // no end marker
        assert!(zipmap_decode(&[1, 1, b'a', 1, 9, b'b', 0xFF]).is_err()); // free past end
        assert!(zipmap_decode(&[1, 1, b'a', 5, 0, b'b', 0xFF]).is_err()); // value past end
        assert!(zipmap_decode(&[0, 0xFF, 0]).is_err()); // trailing byte
        assert!(zipmap_decode(&[1, 254, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]).is_err());
        assert!(zipmap_decode(&[]).is_err());
    }

    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    #[test]
    fn fuzz_mutations_never_panic() {
        let mut mixed = vec![s(b"hello"), s(&[b'm'; 70]), s(b""), s(&[b'n'; 300])];
        mixed.extend([-5, 4096, 1 << 20, i64::MIN, 12, -100_000, 1 << 40].map(Entry::Int));
        let bases = [
            lp(&mixed),
            lp(&[s(&[b'b'; 5000])]),
            zl(&mixed),
            intset_encode(&[-3, 9, 70000]),
            intset_encode(&[1, 2, 3]),
            intset_encode(&[i64::MIN, 0, i64::MAX]),
            zm(2, &[(b"f1", b"v1"), (b"f2", &[b'w'; 260])], 2),
        ];
        assert!(listpack_decode(&bases[0]).is_ok() && ziplist_decode(&bases[2]).is_ok());
        assert!(intset_decode(&bases[5]).is_ok() && zipmap_decode(&bases[6]).is_ok());
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        for i in 0..20_000 {
            let mut b = if i % 8 == 7 {
                (0..rng.below(40)).map(|_| rng.next() as u8).collect()
            } else {
                bases[i % bases.len()].clone()
            };
            for _ in 0..=rng.below(4) {
                let (len, val) = (b.len(), rng.next() as u8);
                match rng.below(5) {
                    0 if len > 0 => b[rng.below(len.min(24))] = val,
                    1 if len > 0 => b[rng.below(len)] = val,
                    2 => b.truncate(rng.below(len + 1)),
                    3 => b.insert(rng.below(len + 1), val),
                    _ if len > 0 => {
                        b.remove(rng.below(len));
                    }
                    _ => {}
                }
            }
            if rng.below(2) == 0 && b.len() >= 4 {
                let n = b.len() as u32; // keep the size header consistent to reach deeper code
                b[..4].copy_from_slice(&n.to_le_bytes());
            }
            let _ = (listpack_decode(&b), ziplist_decode(&b), intset_decode(&b), zipmap_decode(&b));
        }
    }
}
