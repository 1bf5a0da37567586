//! LZF compression, format-compatible with liblzf 3.6 as vendored in Redis.
//!
//! Owns: `compress` (mirrors `lzf_compress` with Redis's build settings: HLOG 16,
//! VERY_FAST, zero-initialised hash table) and `decompress` (mirrors `lzf_decompress`).
//!
//! Must hold:
//! - `compress` behaves like Redis's `rdbSaveLzfStringObject`: it only succeeds when the
//!   output fits in `input.len() - 4` bytes, so callers fall back to a plain string on
//!   `None`. Its output is valid LZF that Redis's `lzf_decompress` accepts.
//! - `decompress` never panics and never reads or writes out of bounds on any input: every
//!   literal run and back reference is bounds-checked, and it succeeds only when exactly
//!   `out_len` bytes are produced from exactly the whole input.
//!
//! Format: a control byte `c`. If `c < 32` a literal run of `c + 1` bytes follows. Otherwise
//! it is a back reference of length `(c >> 5) + 2` (length field 7 means an extra length
//! byte follows and is added) at distance `((c & 0x1f) << 8 | next_byte) + 1`.

const HLOG: u32 = 16;
const HSIZE: usize = 1 << HLOG;
const MAX_LIT: usize = 1 << 5;
const MAX_OFF: usize = 1 << 13;
const MAX_REF: usize = (1 << 8) + (1 << 3);

const ERR: &str = "invalid LZF compressed string";

/// Largest possible expansion: a 3-byte back reference yields at most 264 bytes.
const MAX_EXPANSION: usize = 88;

#[inline]
fn first(input: &[u8], ip: usize) -> u32 {
    (u32::from(input[ip]) << 8) | u32::from(input[ip + 1])
}

#[inline]
fn next(v: u32, input: &[u8], ip: usize) -> u32 {
    (v << 8) | u32::from(input[ip + 2])
}

#[inline]
fn idx(h: u32) -> usize {
    // VERY_FAST variant of liblzf's IDX(); wrapping arithmetic as in C's unsigned math.
    ((h >> (3 * 8 - HLOG)).wrapping_sub(h.wrapping_mul(5)) as usize) & (HSIZE - 1)
}

/// Compress `input` the way Redis does before storing an LZF string in an RDB file.
///
/// Returns `None` when `input.len() <= 4` or the compressed form would not fit in
/// `input.len() - 4` bytes (Redis then stores the string uncompressed).
pub fn compress(input: &[u8]) -> Option<Vec<u8>> {
    if input.len() <= 4 {
        return None;
    }
    lzf_compress(input, input.len() - 4)
}

/// liblzf's `lzf_compress` with an output limit of `out_len` bytes. `None` means "did not
/// fit" (the C function's 0 return). `op` in the C code is `out.len()` here; a literal run
/// is started by pushing a placeholder control byte that is patched when the run ends.
fn lzf_compress(input: &[u8], out_len: usize) -> Option<Vec<u8>> {
    let in_len = input.len();
    if in_len == 0 || out_len == 0 {
        return None;
    }
    HTAB.with(|t| {
        let mut t = t.borrow_mut();
        let (table, epoch) = &mut *t;
        if table.is_empty() {
            table.resize(HSIZE, 0);
        }
        *epoch = epoch.wrapping_add(1);
        if *epoch == 0 {
            table.fill(0);
            *epoch = 1;
        }
        compress_with(input, out_len, &mut Htab { slots: table, epoch: (*epoch as u64) << 32 })
    })
}

thread_local! {
    /// The hash table, reused across calls: a fresh zeroed 256 KB table per call made
    /// saving a million short strings take seconds.
    static HTAB: std::cell::RefCell<(Vec<u64>, u32)> = const { std::cell::RefCell::new((Vec::new(), 0)) };
}

/// liblzf's zero-initialised hash table without the per-call clearing: a slot written in
/// an earlier call (another epoch) reads as empty, so output is identical to a zeroed
/// table's.
struct Htab<'a> {
    slots: &'a mut [u64],
    epoch: u64,
}

impl Htab<'_> {
    #[inline]
    fn get(&self, slot: usize) -> usize {
        let v = self.slots[slot];
        if v & !0xffff_ffff == self.epoch {
            (v & 0xffff_ffff) as usize
        } else {
            0
        }
    }
    #[inline]
    fn set(&mut self, slot: usize, pos1: usize) {
        self.slots[slot] = self.epoch | pos1 as u64;
    }
}

fn compress_with(input: &[u8], out_len: usize, htab: &mut Htab) -> Option<Vec<u8>> {
    let in_len = input.len();
    // Positions are stored +1 so that 0 means "empty slot" (liblzf rejects ref == in_data
    // anyway, so position 0 is never a usable match in either implementation).
    let mut out: Vec<u8> = Vec::with_capacity(out_len + 1);
    let mut lit: usize = 0;
    out.push(0); // start run
    let mut ip: usize = 0;

    if in_len >= 3 {
        let mut hval = first(input, ip);
        while ip + 2 < in_len {
            hval = next(hval, input, ip);
            let slot = idx(hval);
            let r = htab.get(slot); // 0 = none, else position + 1
            htab.set(slot, ip + 1);

            let matched = r > 1 && {
                let rf = r - 1;
                let off = ip - rf - 1;
                off < MAX_OFF
                    && input[rf + 2] == input[ip + 2]
                    && input[rf] == input[ip]
                    && input[rf + 1] == input[ip + 1]
            };

            if matched {
                let rf = r - 1;
                let off = ip - rf - 1;
                let mut len: usize = 2;
                let maxlen = (in_len - ip - len).min(MAX_REF);

                // Exact form of liblzf's "op - !lit + 3 + 1 >= out_end" test.
                let op_after_undo = out.len() - usize::from(lit == 0);
                if op_after_undo + 3 + 1 >= out_len {
                    return None;
                }

                let pos = out.len() - lit - 1;
                out[pos] = (lit as u8).wrapping_sub(1); // stop run
                if lit == 0 {
                    out.pop(); // undo run if length is zero
                }

                loop {
                    len += 1;
                    if !(len < maxlen && input[rf + len] == input[ip + len]) {
                        break;
                    }
                }

                len -= 2; // len is now #octets - 1
                ip += 1;

                if len < 7 {
                    out.push(((off >> 8) + (len << 5)) as u8);
                } else {
                    out.push(((off >> 8) + (7 << 5)) as u8);
                    out.push((len - 7) as u8);
                }
                out.push(off as u8);

                lit = 0;
                out.push(0); // start run

                ip += len + 1;

                if ip + 2 >= in_len {
                    break;
                }

                // VERY_FAST: re-hash the two positions before ip.
                ip -= 2;
                hval = first(input, ip);

                hval = next(hval, input, ip);
                htab.set(idx(hval), ip + 1);
                ip += 1;

                hval = next(hval, input, ip);
                htab.set(idx(hval), ip + 1);
                ip += 1;
            } else {
                // one more literal byte we must copy
                if out.len() >= out_len {
                    return None;
                }
                lit += 1;
                out.push(input[ip]);
                ip += 1;
                if lit == MAX_LIT {
                    let pos = out.len() - lit - 1;
                    out[pos] = (lit - 1) as u8; // stop run
                    lit = 0;
                    out.push(0); // start run
                }
            }
        }
    }

    if out.len() + 3 > out_len {
        // at most 3 bytes can be missing here
        return None;
    }

    while ip < in_len {
        lit += 1;
        out.push(input[ip]);
        ip += 1;
        if lit == MAX_LIT {
            let pos = out.len() - lit - 1;
            out[pos] = (lit - 1) as u8;
            lit = 0;
            out.push(0);
        }
    }

    let pos = out.len() - lit - 1;
    out[pos] = (lit as u8).wrapping_sub(1); // end run
    if lit == 0 {
        out.pop(); // undo run if length is zero
    }
    if out.len() > out_len {
        return None;
    }
    Some(out)
}

/// Decompress an LZF block that must expand to exactly `out_len` bytes.
///
/// Any malformed input (truncated control data, a literal run or back reference past the
/// ends of the buffers, or a size mismatch) yields `Err("invalid LZF compressed string")`.
pub fn decompress(input: &[u8], out_len: usize) -> Result<Vec<u8>, &'static str> {
    // Reject impossible sizes before allocating (protects against hostile lengths).
    if out_len > input.len().saturating_mul(MAX_EXPANSION) {
        return Err(ERR);
    }
    let mut out: Vec<u8> = Vec::with_capacity(out_len);
    let mut ip = 0usize;
    while ip < input.len() {
        let ctrl = usize::from(input[ip]);
        ip += 1;
        if ctrl < (1 << 5) {
            // literal run
            let n = ctrl + 1;
            if out.len() + n > out_len {
                return Err(ERR);
            }
            let lits = input.get(ip..ip + n).ok_or(ERR)?;
            out.extend_from_slice(lits);
            ip += n;
        } else {
            // back reference
            let mut len = ctrl >> 5;
            let mut back = (ctrl & 0x1f) << 8;
            if len == 7 {
                len += usize::from(*input.get(ip).ok_or(ERR)?);
                ip += 1;
            }
            back += usize::from(*input.get(ip).ok_or(ERR)?);
            ip += 1;
            let len = len + 2;
            if out.len() + len > out_len {
                return Err(ERR);
            }
            // ref = op - back - 1 must not precede the start of the output.
            let start = out.len().checked_sub(back + 1).ok_or(ERR)?;
            if back + 1 >= len {
                // non-overlapping: copy in one go
                out.extend_from_within(start..start + len);
            } else {
                // overlapping copy (run-length style), byte by byte as liblzf does
                for i in 0..len {
                    let b = *out.get(start + i).ok_or(ERR)?;
                    out.push(b);
                }
            }
        }
    }
    if out.len() != out_len {
        return Err(ERR);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xorshift(state: &mut u64) -> u64 {
        let mut x = *state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *state = x;
        x
    }

    fn random_bytes(seed: u64, n: usize) -> Vec<u8> {
        let mut s = seed;
        (0..n).map(|_| xorshift(&mut s) as u8).collect()
    }

    fn roundtrip(data: &[u8]) -> Option<usize> {
        let c = compress(data)?;
        assert!(c.len() <= data.len() - 4, "output exceeds len-4");
        assert_eq!(decompress(&c, data.len()).unwrap(), data);
        Some(c.len())
    }

    /// Compress with an unlimited budget (C callers may pass any out_len).
    fn roundtrip_unbounded(data: &[u8]) {
        let c = lzf_compress(data, data.len() + data.len() / 16 + 64).unwrap();
        assert_eq!(decompress(&c, data.len()).unwrap(), data);
    }

    #[test]
    fn none_cases() {
        assert_eq!(compress(b""), None);
        assert_eq!(compress(b"a"), None);
        assert_eq!(compress(b"abcd"), None);
        assert_eq!(compress(b"aaaa"), None);
        // Incompressible data never fits in len-4.
        for n in [5, 6, 10, 100, 1000, 100_000] {
            assert_eq!(compress(&random_bytes(n as u64 + 1, n)), None, "random len {n}");
        }
        // Short strings that cannot save 4 bytes.
        assert_eq!(compress(b"abcde"), None);
        assert_eq!(compress(b"aaaaa"), None);
    }

    #[test]
    fn redis_compatible_output() {
        // `SET lzfstr <"abcdefghij" * 200>` then `DUMP lzfstr` on redis-server 7.0.15
        // (rdbcompression yes): 00 c3 <clen 27> <len 47d0 = 2000> <39 bytes LZF> <ver> <crc>
        const DUMP_HEX: &str = "00c32747d00a6162636465666768696a61e0ff09e1ff0de2ff11e2ff11e2ff\
11e2ff11e2ff11e2821101696a0a00d9968d016ab4e1ea";
        let dump = hex(DUMP_HEX);
        let lzf = &dump[5..5 + 0x27];
        assert_eq!(dump.len(), 5 + 0x27 + 10);
        let expect: Vec<u8> = b"abcdefghij".repeat(200);
        assert_eq!(decompress(lzf, 2000).unwrap(), expect);
        // Our compressor mirrors liblzf's algorithm, so it produces the same bytes.
        assert_eq!(compress(&expect).unwrap(), lzf);
        // Wrong expected length is rejected.
        assert!(decompress(lzf, 1999).is_err());
        assert!(decompress(lzf, 2001).is_err());
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len() / 2).map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn roundtrips() {
        assert_eq!(roundtrip(b"aaaaa"), None);
        assert!(roundtrip(&[b'a'; 6]).is_some() || compress(&[b'a'; 6]).is_none());
        assert!(roundtrip(&[0u8; 100]).unwrap() < 20);
        assert!(roundtrip(&b"hello world ".repeat(50)).unwrap() < 40);
        for n in 0..300usize {
            let d: Vec<u8> = (0..n).map(|i| (i % 7) as u8).collect();
            if n > 4 {
                let _ = roundtrip(&d);
            }
            if n > 0 {
                roundtrip_unbounded(&d);
                roundtrip_unbounded(&random_bytes(n as u64 + 7, n));
            }
        }
        // Long matches (> MAX_REF), long literal runs, mixed content.
        let mut mixed = Vec::new();
        let mut s = 42u64;
        for i in 0..2000u64 {
            match xorshift(&mut s) % 4 {
                0 => mixed.extend(std::iter::repeat_n((i % 251) as u8, (i % 600) as usize + 1)),
                1 => mixed.extend(random_bytes(i, (i % 70) as usize)),
                2 => {
                    let start = mixed.len().saturating_sub(9000);
                    let n = (i as usize % 300).min(mixed.len() - start);
                    let chunk: Vec<u8> = mixed[start..start + n].to_vec();
                    mixed.extend(chunk);
                }
                _ => mixed.extend_from_slice(b"the quick brown fox "),
            }
        }
        assert!(roundtrip(&mixed).is_some());
    }

    #[test]
    fn one_megabyte() {
        let mut data = Vec::with_capacity(1 << 20);
        let mut s = 7u64;
        while data.len() < (1 << 20) {
            let r = xorshift(&mut s);
            if r.is_multiple_of(3) {
                data.extend(random_bytes(r, 16));
            } else {
                data.extend_from_slice(format!("key:{}:value:{};", r % 1000, r % 97).as_bytes());
            }
        }
        data.truncate(1 << 20);
        let n = roundtrip(&data).unwrap();
        assert!(n < data.len());
        // Pure random 1 MB: incompressible, but still round-trips unbounded.
        roundtrip_unbounded(&random_bytes(99, 1 << 20));
    }

    #[test]
    fn truncated_input_is_err() {
        let data = b"abcabcabcabcabcabcabc-xyz-xyz-xyz-hello hello hello hello".repeat(20);
        let c = compress(&data).unwrap();
        for cut in 0..c.len() {
            assert!(decompress(&c[..cut], data.len()).is_err(), "cut {cut}");
        }
        assert!(decompress(&[], 1).is_err());
        assert_eq!(decompress(&[], 0).unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn malformed_inputs_are_err() {
        // back reference before start of output
        assert!(decompress(&[0x20, 0x00], 3).is_err());
        // literal run longer than the input
        assert!(decompress(&[0x05, b'a'], 6).is_err());
        // literal run longer than out_len
        assert!(decompress(&[0x01, b'a', b'b'], 1).is_err());
        // back reference missing its offset byte / extended length byte
        assert!(decompress(&[0x00, b'a', 0x20], 4).is_err());
        assert!(decompress(&[0x00, b'a', 0xe0], 20).is_err());
        assert!(decompress(&[0x00, b'a', 0xe0, 0x01], 20).is_err());
        // valid: 'a' then ref len 3 at distance 1 -> "aaaa"
        assert_eq!(decompress(&[0x00, b'a', 0x20, 0x00], 4).unwrap(), b"aaaa");
        // hostile out_len is rejected before allocating
        assert!(decompress(&[0x00, b'a'], usize::MAX).is_err());
        assert!(decompress(&[0x00, b'a'], 1 << 40).is_err());
    }

    #[test]
    fn random_corruption_never_panics() {
        let data = b"The RDB format stores strings, lists, sets and more. ".repeat(40);
        let c = compress(&data).unwrap();
        let mut s = 0x9e37_79b9_7f4a_7c15u64;
        let mut ok = 0;
        for _ in 0..20_000 {
            let mut m = c.clone();
            let r = xorshift(&mut s);
            match r % 4 {
                0 => {
                    let i = (xorshift(&mut s) as usize) % m.len();
                    m[i] ^= 1 << (xorshift(&mut s) % 8);
                }
                1 => {
                    let i = (xorshift(&mut s) as usize) % m.len();
                    m[i] = xorshift(&mut s) as u8;
                }
                2 => {
                    let n = (xorshift(&mut s) as usize) % m.len();
                    m.truncate(n);
                }
                _ => {
                    let n = 1 + (xorshift(&mut s) as usize) % 64;
                    m = random_bytes(xorshift(&mut s), n);
                }
            }
            let want = if r % 8 == 7 { (xorshift(&mut s) % 4000) as usize } else { data.len() };
            if let Ok(out) = decompress(&m, want) {
                assert_eq!(out.len(), want);
                ok += 1;
            }
        }
        // Some bit flips inside literals still decode; most corruptions must not.
        assert!(ok < 20_000);
    }
}
