//! `Reply`: the protocol-neutral value a command answers with, and its RESP2/RESP3
//! encoding. RESP2 downgrades (maps → flat arrays, doubles → bulk strings, null → `$-1`
//! or `*-1`) follow Redis 7.0's networking.c exactly.

use super::Proto;
use std::io::Write;

#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// `+OK`
    Simple(&'static str),
    /// `+...` with owned text (e.g. TYPE's answer).
    Status(String),
    /// `-ERR ...`: the full text after the dash, code included.
    Error(String),
    Int(i64),
    Bulk(Vec<u8>),
    /// Null bulk (`$-1` in RESP2, `_` in RESP3).
    Nil,
    /// Null array (`*-1` in RESP2, `_` in RESP3).
    NilArray,
    Array(Vec<Reply>),
    /// A map: flat array in RESP2, `%` in RESP3.
    Map(Vec<(Reply, Reply)>),
    /// A set: array in RESP2, `~` in RESP3.
    Set(Vec<Reply>),
    /// A double: bulk string in RESP2, `,` in RESP3 (formatted as `%.17g`).
    Double(f64),
    /// A boolean: `:1`/`:0` in RESP2, `#t`/`#f` in RESP3.
    Bool(bool),
    /// Verbatim string (`=`), plain bulk in RESP2. The format is three bytes, e.g. `txt`.
    Verbatim(&'static str, Vec<u8>),
    /// A big number (`(` in RESP3, a bulk string in RESP2), as decimal digits.
    BigNumber(String),
    /// Bytes already encoded for the target protocol (used for cheap pass-through).
    Raw(Vec<u8>),
}

pub const OK: Reply = Reply::Simple("OK");

impl Reply {
    pub fn ok() -> Reply {
        OK
    }
    pub fn err(msg: impl Into<String>) -> Reply {
        Reply::Error(msg.into())
    }
    pub fn bulk(b: &[u8]) -> Reply {
        Reply::Bulk(b.to_vec())
    }
    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }

    /// Appends the encoding of `self` for `proto` to `out`.
    pub fn encode(&self, proto: Proto, out: &mut Vec<u8>) {
        match self {
            Reply::Simple(s) => put_line(out, b'+', s.as_bytes()),
            Reply::Status(s) => put_line(out, b'+', s.as_bytes()),
            Reply::Error(s) => put_error(out, s),
            Reply::Int(i) => put_int(out, b':', *i),
            Reply::Bulk(b) => put_bulk(out, b),
            Reply::Nil => put_nil(out, proto, b"$-1\r\n"),
            Reply::NilArray => put_nil(out, proto, b"*-1\r\n"),
            Reply::Array(items) => {
                put_int(out, b'*', items.len() as i64);
                for it in items {
                    it.encode(proto, out);
                }
            }
            Reply::Set(items) => {
                let tag = if proto == Proto::Resp3 { b'~' } else { b'*' };
                put_int(out, tag, items.len() as i64);
                for it in items {
                    it.encode(proto, out);
                }
            }
            Reply::Map(pairs) => {
                if proto == Proto::Resp3 {
                    put_int(out, b'%', pairs.len() as i64);
                } else {
                    put_int(out, b'*', pairs.len() as i64 * 2);
                }
                for (k, v) in pairs {
                    k.encode(proto, out);
                    v.encode(proto, out);
                }
            }
            Reply::Double(d) => {
                let s = fmt_double(*d);
                if proto == Proto::Resp3 {
                    put_line(out, b',', s.as_bytes());
                } else {
                    put_bulk(out, s.as_bytes());
                }
            }
            Reply::Bool(b) => {
                if proto == Proto::Resp3 {
                    out.extend_from_slice(if *b { b"#t\r\n" } else { b"#f\r\n" });
                } else {
                    out.extend_from_slice(if *b { b":1\r\n" } else { b":0\r\n" });
                }
            }
            Reply::Verbatim(fmt, body) => {
                if proto == Proto::Resp3 {
                    put_int(out, b'=', body.len() as i64 + 4);
                    out.extend_from_slice(fmt.as_bytes());
                    out.push(b':');
                    out.extend_from_slice(body);
                    out.extend_from_slice(b"\r\n");
                } else {
                    put_bulk(out, body);
                }
            }
            Reply::BigNumber(n) => {
                if proto == Proto::Resp3 {
                    put_line(out, b'(', n.as_bytes());
                } else {
                    put_bulk(out, n.as_bytes());
                }
            }
            Reply::Raw(b) => out.extend_from_slice(b),
        }
    }
}

fn put_nil(out: &mut Vec<u8>, proto: Proto, resp2: &[u8]) {
    if proto == Proto::Resp3 {
        out.extend_from_slice(b"_\r\n");
    } else {
        out.extend_from_slice(resp2);
    }
}

pub fn put_line(out: &mut Vec<u8>, tag: u8, s: &[u8]) {
    out.push(tag);
    out.extend_from_slice(s);
    out.extend_from_slice(b"\r\n");
}

/// Errors never contain newlines on the wire: Redis replaces them with spaces.
pub fn put_error(out: &mut Vec<u8>, s: &str) {
    out.push(b'-');
    for &c in s.as_bytes() {
        out.push(if c == b'\r' || c == b'\n' { b' ' } else { c });
    }
    out.extend_from_slice(b"\r\n");
}

pub fn put_int(out: &mut Vec<u8>, tag: u8, i: i64) {
    out.push(tag);
    let mut buf = itoa_buf();
    out.extend_from_slice(fmt_i64(i, &mut buf));
    out.extend_from_slice(b"\r\n");
}

pub fn put_bulk(out: &mut Vec<u8>, b: &[u8]) {
    put_int(out, b'$', b.len() as i64);
    out.extend_from_slice(b);
    out.extend_from_slice(b"\r\n");
}

fn itoa_buf() -> [u8; 20] {
    [0u8; 20]
}

/// Formats an i64 into `buf` without allocating; returns the digits.
pub fn fmt_i64(i: i64, buf: &mut [u8; 20]) -> &[u8] {
    let neg = i < 0;
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
    if neg {
        pos -= 1;
        buf[pos] = b'-';
    }
    &buf[pos..]
}

/// Formats a double as C's `%.17g` (what Redis 7.0's addReplyDouble uses), with `inf`,
/// `-inf` and `nan` spelled as Redis spells them.
pub fn fmt_double(d: f64) -> String {
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if d.is_nan() {
        return "nan".into();
    }
    fmt_g(d, 17)
}

/// C `%.{prec}g` formatting.
pub fn fmt_g(d: f64, prec: usize) -> String {
    if d == 0.0 {
        return if d.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    let prec = prec.max(1);
    // Scientific form with prec significant digits tells us the exponent after rounding.
    let sci = format!("{:.*e}", prec - 1, d);
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= prec as i32 {
        let mant = strip_zeros(mant);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{}{:02}", mant, sign, exp.abs())
    } else {
        let decimals = (prec as i32 - 1 - exp).max(0) as usize;
        let fixed = format!("{:.*}", decimals, d);
        strip_zeros(&fixed).to_string()
    }
}

fn strip_zeros(s: &str) -> &str {
    if s.contains('.') {
        let t = s.trim_end_matches('0');
        t.trim_end_matches('.')
    } else {
        s
    }
}

/// Redis's `sdscatrepr`: `s` double-quoted with C escapes (MONITOR lines, redis-cli).
pub fn sds_repr(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &c in s {
        match c {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            7 => out.extend_from_slice(b"\\a"),
            8 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(c),
            _ => out.extend_from_slice(format!("\\x{c:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

/// Writes `*<n>\r\n`.
pub fn put_array_len(out: &mut Vec<u8>, n: usize) {
    put_int(out, b'*', n as i64);
}

/// Small helper so callers can `write!` into a reply buffer.
pub fn write_fmt(out: &mut Vec<u8>, args: std::fmt::Arguments) {
    let _ = out.write_fmt(args);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(r: &Reply, p: Proto) -> String {
        let mut v = Vec::new();
        r.encode(p, &mut v);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn g17_matches_c() {
        assert_eq!(fmt_g(1.5, 17), "1.5");
        assert_eq!(fmt_g(0.1, 17), "0.10000000000000001");
        assert_eq!(fmt_g(1e20, 17), "1e+20");
        assert_eq!(fmt_g(123456789.0, 17), "123456789");
        assert_eq!(fmt_g(1e-5, 17), "1.0000000000000001e-05");
        assert_eq!(fmt_g(-2.5, 17), "-2.5");
        assert_eq!(fmt_g(1e16, 17), "10000000000000000");
        assert_eq!(fmt_g(1e17, 17), "1e+17");
        assert_eq!(fmt_double(f64::INFINITY), "inf");
    }

    #[test]
    fn resp2_and_resp3_downgrades() {
        assert_eq!(enc(&Reply::Nil, Proto::Resp2), "$-1\r\n");
        assert_eq!(enc(&Reply::Nil, Proto::Resp3), "_\r\n");
        assert_eq!(enc(&Reply::NilArray, Proto::Resp2), "*-1\r\n");
        let m = Reply::Map(vec![(Reply::bulk(b"a"), Reply::Int(1))]);
        assert_eq!(enc(&m, Proto::Resp2), "*2\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(enc(&m, Proto::Resp3), "%1\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(enc(&Reply::Double(1.5), Proto::Resp2), "$3\r\n1.5\r\n");
        assert_eq!(enc(&Reply::Double(1.5), Proto::Resp3), ",1.5\r\n");
        assert_eq!(enc(&Reply::err("ERR a\r\nb"), Proto::Resp2), "-ERR a  b\r\n");
        assert_eq!(enc(&Reply::Int(i64::MIN), Proto::Resp2), ":-9223372036854775808\r\n");
        assert_eq!(enc(&Reply::Verbatim("txt", b"hi".to_vec()), Proto::Resp3), "=6\r\ntxt:hi\r\n");
    }
}
