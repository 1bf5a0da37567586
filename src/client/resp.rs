//! RESP2/RESP3 on the client side: request encoding and a streaming reply decoder.
//!
//! The decoder reads from a `BufRead`, so a reply split over many TCP reads is handled
//! by blocking until the rest arrives; end of input in the middle of a reply is an
//! `UnexpectedEof` error. Every RESP3 type is decoded, attributes (`|`) are skipped.

use std::io::{self, BufRead, Read, Write};

use super::{bad_data, Value};

/// Longest header or simple line accepted (simple strings, errors, numbers).
const MAX_LINE: u64 = 64 * 1024 * 1024;
/// Deepest nesting accepted.
const MAX_DEPTH: usize = 512;

/// Writes one command as a RESP multibulk.
pub fn write_command<W: Write>(w: &mut W, args: &[&[u8]]) -> io::Result<()> {
    write!(w, "*{}\r\n", args.len())?;
    for a in args {
        write!(w, "${}\r\n", a.len())?;
        w.write_all(a)?;
        w.write_all(b"\r\n")?;
    }
    Ok(())
}

/// Encodes one command as a RESP multibulk into a buffer (the server's encoders for the
/// length lines: no `format!` per argument).
pub fn encode_command(out: &mut Vec<u8>, args: &[&[u8]]) {
    use crate::protocol::reply::{put_array_len, put_bulk};
    put_array_len(out, args.len());
    for a in args {
        put_bulk(out, a);
    }
}

/// Reads one complete reply.
pub fn read_value<R: BufRead>(r: &mut R) -> io::Result<Value> {
    read_depth(r, 0)
}

fn eof() -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed in the middle of a reply")
}

/// One `\r\n`-terminated line without its terminator.
fn read_line<R: BufRead>(r: &mut R) -> io::Result<Vec<u8>> {
    let mut line = Vec::new();
    r.by_ref().take(MAX_LINE).read_until(b'\n', &mut line)?;
    if line.is_empty() {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed"));
    }
    if !line.ends_with(b"\r\n") {
        return Err(if line.len() as u64 >= MAX_LINE { bad_data("reply line too long") } else { eof() });
    }
    line.truncate(line.len() - 2);
    Ok(line)
}

fn text(b: Vec<u8>) -> String {
    String::from_utf8(b).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn parse_i64(b: &[u8]) -> io::Result<i64> {
    std::str::from_utf8(b)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad_data(format!("invalid integer in reply: {:?}", String::from_utf8_lossy(b))))
}

/// Parses a RESP3 double's text (`1.5`, `inf`, `-inf`, `nan`).
pub fn parse_double(b: &[u8]) -> io::Result<f64> {
    let s = std::str::from_utf8(b).map_err(|_| bad_data("invalid double in reply"))?;
    match s.to_ascii_lowercase().as_str() {
        "inf" | "+inf" => Ok(f64::INFINITY),
        "-inf" => Ok(f64::NEG_INFINITY),
        "nan" | "-nan" => Ok(f64::NAN),
        _ => s.parse().map_err(|_| bad_data(format!("invalid double in reply: {s:?}"))),
    }
}

/// A length header: `None` for -1, an error for other negatives.
fn parse_len(b: &[u8]) -> io::Result<Option<usize>> {
    let n = parse_i64(b)?;
    if n == -1 {
        return Ok(None);
    }
    usize::try_from(n).map(Some).map_err(|_| bad_data(format!("invalid length in reply: {n}")))
}

/// `n` bytes then `\r\n`. Allocation grows with what arrives, not with what `n` claims.
fn read_blob<R: BufRead>(r: &mut R, n: usize) -> io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(n.min(1 << 20));
    let got = r.by_ref().take(n as u64).read_to_end(&mut buf)?;
    if got < n {
        return Err(eof());
    }
    let mut crlf = [0u8; 2];
    r.read_exact(&mut crlf).map_err(|_| eof())?;
    if &crlf != b"\r\n" {
        return Err(bad_data("bulk string not terminated by CRLF"));
    }
    Ok(buf)
}

fn read_many<R: BufRead>(r: &mut R, n: usize, depth: usize) -> io::Result<Vec<Value>> {
    let mut v = Vec::with_capacity(n.min(1024));
    for _ in 0..n {
        v.push(read_depth(r, depth + 1)?);
    }
    Ok(v)
}

fn read_depth<R: BufRead>(r: &mut R, depth: usize) -> io::Result<Value> {
    if depth > MAX_DEPTH {
        return Err(bad_data("reply nested too deeply"));
    }
    let line = read_line(r)?;
    let (&t, rest) = line.split_first().ok_or_else(|| bad_data("empty reply line"))?;
    Ok(match t {
        b'+' => Value::Simple(text(rest.to_vec())),
        b'-' => Value::Error(text(rest.to_vec())),
        b':' => Value::Int(parse_i64(rest)?),
        b'_' => Value::Nil,
        b',' => Value::Double(parse_double(rest)?),
        b'(' => Value::BigNumber(text(rest.to_vec())),
        b'#' => match rest {
            b"t" => Value::Bool(true),
            b"f" => Value::Bool(false),
            _ => return Err(bad_data("invalid boolean in reply")),
        },
        b'$' => match parse_len(rest)? {
            None => Value::Nil,
            Some(n) => Value::Bulk(read_blob(r, n)?),
        },
        b'!' => match parse_len(rest)? {
            None => Value::Nil,
            Some(n) => Value::Error(text(read_blob(r, n)?)),
        },
        b'=' => match parse_len(rest)? {
            None => Value::Nil,
            Some(n) => {
                let b = read_blob(r, n)?;
                if b.len() < 4 || b[3] != b':' {
                    return Err(bad_data("verbatim string without a format"));
                }
                Value::Verbatim(text(b[..3].to_vec()), b[4..].to_vec())
            }
        },
        b'*' | b'~' | b'>' => match parse_len(rest)? {
            None => Value::Nil,
            Some(n) => {
                let v = read_many(r, n, depth)?;
                match t {
                    b'*' => Value::Array(v),
                    b'~' => Value::Set(v),
                    _ => Value::Push(v),
                }
            }
        },
        b'%' | b'|' => match parse_len(rest)? {
            None => Value::Nil,
            Some(n) => {
                let mut m = Vec::with_capacity(n.min(1024));
                for _ in 0..n {
                    let k = read_depth(r, depth + 1)?;
                    let v = read_depth(r, depth + 1)?;
                    m.push((k, v));
                }
                if t == b'|' {
                    // An attribute: metadata about the reply that follows.
                    return read_depth(r, depth);
                }
                Value::Map(m)
            }
        },
        _ => return Err(bad_data(format!("unknown reply type byte {:?}", t as char))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufReader;

    /// Yields at most one byte per read, like a trickling socket.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() || buf.is_empty() {
                return Ok(0);
            }
            buf[0] = self.0[0];
            self.0 = &self.0[1..];
            Ok(1)
        }
    }

    fn parse(b: &[u8]) -> io::Result<Value> {
        let one = read_value(&mut BufReader::new(b));
        let two = read_value(&mut BufReader::with_capacity(1, Trickle(b)));
        match (&one, &two) {
            (Ok(a), Ok(b)) => assert_eq!(format!("{a:?}"), format!("{b:?}")),
            (Err(a), Err(b)) => assert_eq!(a.kind(), b.kind()),
            _ => panic!("trickled parse differs: {one:?} vs {two:?}"),
        }
        one
    }

    fn ok(b: &[u8]) -> Value {
        parse(b).unwrap()
    }

    fn bulk(s: &str) -> Value {
        Value::Bulk(s.as_bytes().to_vec())
    }

    #[test]
    fn resp2_types() {
        assert_eq!(ok(b"+OK\r\n"), Value::Simple("OK".into()));
        assert_eq!(ok(b"-ERR bad thing\r\n"), Value::Error("ERR bad thing".into()));
        assert_eq!(ok(b":-42\r\n"), Value::Int(-42));
        assert_eq!(ok(b"$5\r\nhe\r\no\r\n"), bulk("he\r\no"));
        assert_eq!(ok(b"$0\r\n\r\n"), bulk(""));
        assert_eq!(ok(b"$-1\r\n"), Value::Nil);
        assert_eq!(ok(b"*-1\r\n"), Value::Nil);
        assert_eq!(ok(b"*0\r\n"), Value::Array(vec![]));
        assert_eq!(
            ok(b"*3\r\n:1\r\n*2\r\n$1\r\na\r\n$-1\r\n+x\r\n"),
            Value::Array(vec![Value::Int(1), Value::Array(vec![bulk("a"), Value::Nil]), Value::Simple("x".into())])
        );
    }

    #[test]
    fn resp3_types() {
        assert_eq!(ok(b"_\r\n"), Value::Nil);
        assert_eq!(ok(b",1.5\r\n"), Value::Double(1.5));
        assert_eq!(ok(b",inf\r\n"), Value::Double(f64::INFINITY));
        assert_eq!(ok(b",-inf\r\n"), Value::Double(f64::NEG_INFINITY));
        assert!(matches!(ok(b",nan\r\n"), Value::Double(d) if d.is_nan()));
        assert_eq!(ok(b"(-1234567890123456789012\r\n"), Value::BigNumber("-1234567890123456789012".into()));
        assert_eq!(ok(b"=9\r\ntxt:hello\r\n"), Value::Verbatim("txt".into(), b"hello".to_vec()));
        assert_eq!(ok(b"#t\r\n"), Value::Bool(true));
        assert_eq!(ok(b"#f\r\n"), Value::Bool(false));
        assert_eq!(ok(b"!8\r\nERR x\r\ny\r\n"), Value::Error("ERR x\r\ny".into()));
        assert_eq!(ok(b"~2\r\n:1\r\n+a\r\n"), Value::Set(vec![Value::Int(1), Value::Simple("a".into())]));
        assert_eq!(ok(b"%1\r\n+k\r\n:7\r\n"), Value::Map(vec![(Value::Simple("k".into()), Value::Int(7))]));
        assert_eq!(ok(b"%0\r\n"), Value::Map(vec![]));
        assert_eq!(
            ok(b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1\r\nm\r\n"),
            Value::Push(vec![bulk("message"), bulk("ch"), bulk("m")])
        );
        // An attribute is skipped.
        assert_eq!(ok(b"|1\r\n+ttl\r\n:3\r\n:5\r\n"), Value::Int(5));
    }

    #[test]
    fn pipelined_replies_in_order() {
        let mut r = BufReader::with_capacity(3, Trickle(b"+A\r\n:2\r\n$1\r\nc\r\n"));
        assert_eq!(read_value(&mut r).unwrap(), Value::Simple("A".into()));
        assert_eq!(read_value(&mut r).unwrap(), Value::Int(2));
        assert_eq!(read_value(&mut r).unwrap(), bulk("c"));
        assert_eq!(read_value(&mut r).unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn partial_and_malformed_input() {
        let full: &[u8] = b"*2\r\n$3\r\nabc\r\n%1\r\n+k\r\n,2.5\r\n";
        assert!(parse(full).is_ok());
        for cut in 0..full.len() {
            let e = parse(&full[..cut]).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "cut at {cut}");
        }
        for bad in [
            &b"?\r\n"[..],
            b":12x\r\n",
            b"$-2\r\n",
            b"$3\r\nabcXY",
            b"#x\r\n",
            b",1.5.5\r\n",
            b"=2\r\nab\r\n",
            b"*99999999999999999999\r\n",
            b"\r\n",
        ] {
            let e = parse(bad).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{bad:?}");
        }
        // A huge announced length does not allocate up front.
        assert_eq!(parse(b"$4000000000\r\nab").unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(parse(b"*4000000000\r\n:1\r\n").unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
        // Nesting is bounded.
        let deep = b"*1\r\n".repeat(10_000);
        assert_eq!(parse(&deep).unwrap_err().kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn encodes_multibulk() {
        let mut out = Vec::new();
        encode_command(&mut out, &[b"SET", b"k", b""]);
        assert_eq!(out, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
    }
}
