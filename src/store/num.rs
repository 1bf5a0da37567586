//! Number parsing and formatting that must match Redis exactly. INCRBYFLOAT-style
//! arithmetic runs in C's 80-bit `long double` (src/native/longdouble.c), as Redis's does.

use std::os::raw::{c_char, c_int};

extern "C" {
    fn rustis_ld_incr(
        cur: *const c_char,
        curlen: usize,
        has_cur: c_int,
        incr: *const c_char,
        incrlen: usize,
        out: *mut c_char,
        outlen: usize,
    ) -> c_int;
}

/// Formats an i64 into `buf` without allocating; returns the digits. (protocol/reply.rs
/// has the same 12 lines: the layering rule keeps protocol and store independent.)
pub fn fmt_i64(i: i64, buf: &mut [u8; 20]) -> &[u8] {
    let mut n = i.unsigned_abs();
    let mut pos = buf.len();
    loop {
        pos -= 1;
        buf[pos] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if i < 0 {
        pos -= 1;
        buf[pos] = b'-';
    }
    &buf[pos..]
}

/// Number of characters in the decimal form of `i`.
pub fn i64_len(i: i64) -> usize {
    let mut n = i.unsigned_abs();
    let mut len = if i < 0 { 2 } else { 1 };
    while n >= 10 {
        n /= 10;
        len += 1;
    }
    len
}

#[derive(Debug, PartialEq, Eq)]
pub enum LdError {
    /// The stored value is not a float.
    Current,
    /// The increment is not a float.
    Increment,
    /// The result would be NaN or infinite.
    NanOrInf,
}

/// `cur + incr` in long double, formatted as Redis's ld2string(LD_STR_HUMAN).
pub fn ld_incr(cur: Option<&[u8]>, incr: &[u8]) -> Result<Vec<u8>, LdError> {
    let mut out = vec![0u8; 5 * 1024 + 64];
    let (cp, cl) = cur.map(|c| (c.as_ptr(), c.len())).unwrap_or((std::ptr::null(), 0));
    // SAFETY: pointers and lengths describe live buffers; the C side writes at most
    // `out.len()` bytes and never reads past the given lengths.
    let n = unsafe {
        rustis_ld_incr(
            cp as *const c_char,
            cl,
            cur.is_some() as c_int,
            incr.as_ptr() as *const c_char,
            incr.len(),
            out.as_mut_ptr() as *mut c_char,
            out.len(),
        )
    };
    match n {
        -1 => Err(LdError::Current),
        -2 => Err(LdError::Increment),
        n if n <= 0 => Err(LdError::NanOrInf),
        n => {
            out.truncate(n as usize);
            Ok(out)
        }
    }
}

/// Redis's strtod-based float parsing for doubles (no spaces, no trailing junk, no NaN).
pub fn parse_f64(s: &[u8]) -> Option<f64> {
    if s.is_empty() || s[0].is_ascii_whitespace() {
        return None;
    }
    let t = std::str::from_utf8(s).ok()?;
    let v: f64 = t.parse().ok()?;
    if v.is_nan() {
        return None;
    }
    Some(v)
}

/// LEB128 varint: reads one at `off`, returns (value, offset after it).
#[inline]
pub fn get_varint(buf: &[u8], mut p: usize) -> (u64, usize) {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let b = buf[p];
        p += 1;
        v |= ((b & 0x7f) as u64) << shift;
        if b & 0x80 == 0 {
            return (v, p);
        }
        shift += 7;
    }
}

/// LEB128 varint: appends `v`.
pub fn put_varint(mut v: u64, out: &mut Vec<u8>) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn long_double_matches_redis() {
        assert_eq!(ld_incr(Some(b"10.5"), b"0.1").unwrap(), b"10.6");
        assert_eq!(ld_incr(Some(b"1.1"), b"2.2").unwrap(), b"3.3");
        assert_eq!(ld_incr(None, b"3.0e3").unwrap(), b"3000");
        assert_eq!(ld_incr(Some(b"5"), b"-5").unwrap(), b"0");
        assert_eq!(ld_incr(Some(b"abc"), b"1"), Err(LdError::Current));
        assert_eq!(ld_incr(Some(b"1"), b" 1"), Err(LdError::Increment));
        assert_eq!(ld_incr(Some(b"1"), b"inf"), Err(LdError::NanOrInf));
        assert_eq!(ld_incr(Some(b"1"), b"nan"), Err(LdError::Increment));
    }
}
