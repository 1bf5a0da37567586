//! The MessagePack protocol v1 on the client side (specification: the module doc of
//! `crate::protocol::msgpack`). Requests are encoded with the server crate's writer
//! helpers (they only emit MessagePack); replies are decoded with the independent `rmpv`
//! crate, so an end-to-end test cross-checks the server's encoder.

use std::io::{self, BufRead, Read};

use super::{bad_data, Value};

/// Encodes the body (without the length prefix) of the request `[id, args...]`. Every
/// argument goes as bin (bytes, as the server takes them).
pub fn encode_request(out: &mut Vec<u8>, id: u64, args: &[&[u8]]) {
    crate::protocol::msgpack::put_array_len(out, args.len() + 1);
    crate::protocol::msgpack::put_uint(out, id);
    for a in args {
        crate::protocol::msgpack::put_bin(out, a);
    }
}

/// Appends one complete request frame (length prefix included).
pub fn encode_request_frame(out: &mut Vec<u8>, id: u64, args: &[&[u8]]) {
    let at = out.len();
    out.extend_from_slice(&[0; 4]);
    encode_request(out, id, args);
    let n = (out.len() - at - 4) as u32;
    out[at..at + 4].copy_from_slice(&n.to_be_bytes());
}

/// Reads one frame: its id (`None` for nil) and its value.
pub fn read_frame<R: BufRead>(r: &mut R) -> io::Result<(Option<u64>, Value)> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed"))
        }
        Err(e) => return Err(e),
    }
    let n = u32::from_be_bytes(len) as usize;
    let mut body = Vec::with_capacity(n.min(1 << 20));
    if r.by_ref().take(n as u64).read_to_end(&mut body)? < n {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed in the middle of a frame"));
    }
    decode_frame(&body)
}

/// Decodes a frame body (`[id, kind, value]`).
pub fn decode_frame(body: &[u8]) -> io::Result<(Option<u64>, Value)> {
    if body.is_empty() {
        return Err(bad_data("empty frame"));
    }
    let mut rd = body;
    let v = rmpv::decode::read_value(&mut rd).map_err(|e| bad_data(format!("invalid MessagePack frame: {e}")))?;
    if !rd.is_empty() {
        return Err(bad_data("bytes left after the frame's value"));
    }
    let mut items = match v {
        rmpv::Value::Array(a) if a.len() == 3 => a,
        _ => return Err(bad_data("frame is not an array [id, kind, value]")),
    };
    let value = items.pop().unwrap_or(rmpv::Value::Nil);
    let kind = items.pop().unwrap_or(rmpv::Value::Nil);
    let id = match &items[0] {
        rmpv::Value::Nil => None,
        v => Some(v.as_u64().ok_or_else(|| bad_data("frame id is not an unsigned integer"))?),
    };
    let kind = kind.as_u64().ok_or_else(|| bad_data("frame kind is not an unsigned integer"))?;
    Ok((id, top_value(kind, value)?))
}

fn mismatch(kind: u64, what: &str) -> io::Error {
    bad_data(format!("frame of kind {kind} holds an unexpected {what}"))
}

/// A value's MessagePack type, for errors (formatting the value itself would cost as
/// much as the value is long).
fn type_of(v: &rmpv::Value) -> &'static str {
    match v {
        rmpv::Value::Nil => "nil",
        rmpv::Value::Boolean(_) => "bool",
        rmpv::Value::Integer(_) => "int",
        rmpv::Value::F32(_) | rmpv::Value::F64(_) => "float",
        rmpv::Value::String(_) => "str",
        rmpv::Value::Binary(_) => "bin",
        rmpv::Value::Array(_) => "array",
        rmpv::Value::Map(_) => "map",
        rmpv::Value::Ext(..) => "ext",
    }
}

fn text(v: rmpv::Value) -> Option<String> {
    match v {
        rmpv::Value::String(s) => Some(lossy(s.into_bytes())),
        rmpv::Value::Binary(b) => Some(lossy(b)),
        _ => None,
    }
}

fn lossy(b: Vec<u8>) -> String {
    String::from_utf8(b).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn bytes(v: rmpv::Value) -> Option<Vec<u8>> {
    match v {
        rmpv::Value::String(s) => Some(s.into_bytes()),
        rmpv::Value::Binary(b) => Some(b),
        _ => None,
    }
}

fn int(v: &rmpv::Value) -> Option<i64> {
    match v {
        rmpv::Value::Integer(i) => i.as_i64(),
        _ => None,
    }
}

fn float(v: &rmpv::Value) -> Option<f64> {
    match v {
        rmpv::Value::F64(d) => Some(*d),
        rmpv::Value::F32(d) => Some(*d as f64),
        _ => None,
    }
}

fn verbatim(b: Vec<u8>) -> io::Result<Value> {
    if b.len() < 4 || b[3] != b':' {
        return Err(bad_data("verbatim string without a format"));
    }
    Ok(Value::Verbatim(lossy(b[..3].to_vec()), b[4..].to_vec()))
}

fn list(v: rmpv::Value) -> io::Result<Option<Vec<Value>>> {
    match v {
        rmpv::Value::Array(a) => Ok(Some(a.into_iter().map(nested).collect::<io::Result<_>>()?)),
        _ => Ok(None),
    }
}

/// The top-level value of a frame of `kind`.
fn top_value(kind: u64, v: rmpv::Value) -> io::Result<Value> {
    use crate::protocol::msgpack::kind as k;
    let what = type_of(&v);
    let out = match u8::try_from(kind).map_err(|_| bad_data(format!("unknown reply kind {kind}")))? {
        k::SIMPLE => text(v).map(Value::Simple),
        k::ERROR => text(v).map(Value::Error),
        k::INT => int(&v).map(Value::Int),
        k::DOUBLE => float(&v).map(Value::Double),
        k::BULK => bytes(v).map(Value::Bulk),
        k::NULL => v.is_nil().then_some(Value::Nil),
        k::ARRAY => list(v)?.map(Value::Array),
        k::SET => list(v)?.map(Value::Set),
        k::PUSH => list(v)?.map(Value::Push),
        k::MAP => match v {
            rmpv::Value::Map(m) => {
                Some(Value::Map(m.into_iter().map(|(a, b)| Ok((nested(a)?, nested(b)?))).collect::<io::Result<_>>()?))
            }
            _ => None,
        },
        k::BIGNUM => text(v).map(Value::BigNumber),
        k::VERBATIM => match bytes(v) {
            Some(b) => Some(verbatim(b)?),
            None => None,
        },
        k::BOOL => v.as_bool().map(Value::Bool),
        _ => return Err(bad_data(format!("unknown reply kind {kind}"))),
    };
    out.ok_or_else(|| mismatch(kind, what))
}

/// A nested element: natural MessagePack types, and ext 1..4 for set, big number,
/// verbatim and error.
fn nested(v: rmpv::Value) -> io::Result<Value> {
    use crate::protocol::msgpack::ext;
    Ok(match v {
        rmpv::Value::Nil => Value::Nil,
        rmpv::Value::Boolean(b) => Value::Bool(b),
        rmpv::Value::Integer(i) => Value::Int(i.as_i64().ok_or_else(|| bad_data("integer out of the i64 range"))?),
        rmpv::Value::F32(d) => Value::Double(d as f64),
        rmpv::Value::F64(d) => Value::Double(d),
        rmpv::Value::String(s) => Value::Simple(lossy(s.into_bytes())),
        rmpv::Value::Binary(b) => Value::Bulk(b),
        rmpv::Value::Array(a) => Value::Array(a.into_iter().map(nested).collect::<io::Result<_>>()?),
        rmpv::Value::Map(m) => {
            Value::Map(m.into_iter().map(|(a, b)| Ok((nested(a)?, nested(b)?))).collect::<io::Result<_>>()?)
        }
        rmpv::Value::Ext(t, payload) => match t {
            ext::SET => {
                let mut rd = &payload[..];
                let inner = rmpv::decode::read_value(&mut rd)
                    .map_err(|e| bad_data(format!("invalid set extension payload: {e}")))?;
                if !rd.is_empty() {
                    return Err(bad_data("bytes left in a set extension payload"));
                }
                match list(inner)? {
                    Some(items) => Value::Set(items),
                    None => return Err(bad_data("set extension payload is not an array")),
                }
            }
            ext::BIGNUM => Value::BigNumber(lossy(payload)),
            ext::VERBATIM => verbatim(payload)?,
            ext::ERROR => Value::Error(lossy(payload)),
            _ => return Err(bad_data(format!("unknown extension type {t}"))),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::msgpack::{put_array_len, put_bin, put_f64, put_int, put_map_len, put_str, put_uint};
    use std::io::BufReader;

    /// `[id, kind, <value written by f>]` as a frame with its length prefix.
    fn frame(id: Option<u64>, kind: u64, f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut body = Vec::new();
        put_array_len(&mut body, 3);
        match id {
            Some(i) => put_uint(&mut body, i),
            None => body.push(0xc0),
        }
        put_uint(&mut body, kind);
        f(&mut body);
        let mut out = (body.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(&body);
        out
    }

    fn ext(out: &mut Vec<u8>, t: i8, payload: &[u8]) {
        // ext 8: length fits in one byte in these tests.
        out.extend_from_slice(&[0xc7, payload.len() as u8, t as u8]);
        out.extend_from_slice(payload);
    }

    fn read(b: &[u8]) -> io::Result<(Option<u64>, Value)> {
        read_frame(&mut BufReader::new(b))
    }

    fn ok(b: &[u8]) -> Value {
        read(b).unwrap().1
    }

    fn bulk(s: &str) -> Value {
        Value::Bulk(s.as_bytes().to_vec())
    }

    #[test]
    fn every_kind() {
        assert_eq!(read(&frame(Some(7), 0, |o| put_str(o, b"OK"))).unwrap(), (Some(7), Value::Simple("OK".into())));
        assert_eq!(ok(&frame(Some(1), 1, |o| put_str(o, b"ERR no"))), Value::Error("ERR no".into()));
        assert_eq!(ok(&frame(Some(1), 2, |o| put_int(o, -5))), Value::Int(-5));
        assert_eq!(ok(&frame(Some(1), 3, |o| put_f64(o, 2.5))), Value::Double(2.5));
        assert_eq!(ok(&frame(Some(1), 3, |o| put_f64(o, f64::NEG_INFINITY))), Value::Double(f64::NEG_INFINITY));
        assert_eq!(ok(&frame(Some(1), 4, |o| put_bin(o, b"a\x00b"))), Value::Bulk(b"a\x00b".to_vec()));
        assert_eq!(ok(&frame(Some(1), 5, |o| o.push(0xc0))), Value::Nil);
        assert_eq!(
            ok(&frame(Some(1), 6, |o| {
                put_array_len(o, 2);
                put_bin(o, b"x");
                o.push(0xc0);
            })),
            Value::Array(vec![bulk("x"), Value::Nil])
        );
        assert_eq!(
            ok(&frame(Some(1), 7, |o| {
                put_map_len(o, 1);
                put_str(o, b"k");
                put_int(o, 1);
            })),
            Value::Map(vec![(Value::Simple("k".into()), Value::Int(1))])
        );
        assert_eq!(
            ok(&frame(Some(1), 8, |o| {
                put_array_len(o, 1);
                put_bin(o, b"m");
            })),
            Value::Set(vec![bulk("m")])
        );
        assert_eq!(
            read(&frame(None, 9, |o| {
                put_array_len(o, 2);
                put_bin(o, b"message");
                put_bin(o, b"c");
            }))
            .unwrap(),
            (None, Value::Push(vec![bulk("message"), bulk("c")]))
        );
        assert_eq!(
            ok(&frame(Some(1), 10, |o| put_str(o, b"123456789012345678901"))),
            Value::BigNumber("123456789012345678901".into())
        );
        assert_eq!(ok(&frame(Some(1), 11, |o| put_bin(o, b"txt:hi"))), Value::Verbatim("txt".into(), b"hi".to_vec()));
        assert_eq!(ok(&frame(Some(1), 12, |o| o.push(0xc3))), Value::Bool(true));
        assert_eq!(ok(&frame(Some(u64::MAX), 12, |o| o.push(0xc2))), Value::Bool(false));
    }

    #[test]
    fn nested_values_and_extensions() {
        let f = frame(Some(3), 6, |o| {
            put_array_len(o, 10);
            put_str(o, b"simple");
            put_bin(o, b"bulk");
            put_int(o, -1);
            put_f64(o, 0.5);
            o.push(0xc0);
            o.push(0xc3);
            let mut set = Vec::new();
            put_array_len(&mut set, 2);
            put_int(&mut set, 1);
            put_int(&mut set, 2);
            ext(o, 1, &set);
            ext(o, 2, b"-99999999999999999999");
            ext(o, 3, b"txt:v");
            ext(o, 4, b"ERR inner");
        });
        assert_eq!(
            ok(&f),
            Value::Array(vec![
                Value::Simple("simple".into()),
                bulk("bulk"),
                Value::Int(-1),
                Value::Double(0.5),
                Value::Nil,
                Value::Bool(true),
                Value::Set(vec![Value::Int(1), Value::Int(2)]),
                Value::BigNumber("-99999999999999999999".into()),
                Value::Verbatim("txt".into(), b"v".to_vec()),
                Value::Error("ERR inner".into()),
            ])
        );
    }

    #[test]
    fn partial_frames() {
        let mut all = frame(Some(1), 4, |o| put_bin(o, b"hello"));
        all.extend(frame(Some(2), 2, |o| put_int(o, 9)));
        let mut r = BufReader::with_capacity(1, &all[..]);
        assert_eq!(read_frame(&mut r).unwrap(), (Some(1), bulk("hello")));
        assert_eq!(read_frame(&mut r).unwrap(), (Some(2), Value::Int(9)));
        for cut in 0..all.len() / 2 {
            let e = read(&all[..cut]).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "cut at {cut}");
        }
    }

    #[test]
    fn malformed_frames() {
        let bad: Vec<Vec<u8>> = vec![
            frame(Some(1), 2, |o| put_str(o, b"not an int")),
            frame(Some(1), 99, |o| o.push(0xc0)),
            frame(Some(1), 11, |o| put_bin(o, b"tx")),
            frame(Some(1), 6, |o| {
                put_array_len(o, 1);
                ext(o, 9, b"?");
            }),
            frame(Some(1), 6, |o| {
                put_array_len(o, 1);
                ext(o, 1, b"\x01");
            }),
            // Not [id, kind, value].
            vec![0, 0, 0, 2, 0x91, 0x01],
            // Invalid MessagePack (reserved byte 0xc1).
            vec![0, 0, 0, 1, 0xc1],
            // Trailing bytes after the value.
            vec![0, 0, 0, 5, 0x93, 0xc0, 0x05, 0xc0, 0x00],
            // Empty frame.
            vec![0, 0, 0, 0],
            // An array claiming 2^32-1 elements in a short frame.
            vec![0, 0, 0, 8, 0x93, 0x01, 0x06, 0xdd, 0xff, 0xff, 0xff, 0xff],
        ];
        for b in bad {
            let e = read(&b).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{b:?}");
        }
        // A length prefix announcing 4 GiB does not allocate up front.
        assert_eq!(read(&[0xff, 0xff, 0xff, 0xff, 0x93]).unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn request_encoding_roundtrips_through_rmpv() {
        let mut out = Vec::new();
        encode_request_frame(&mut out, 300, &[b"SET", b"k", b"v"]);
        let n = u32::from_be_bytes([out[0], out[1], out[2], out[3]]) as usize;
        assert_eq!(n, out.len() - 4);
        let v = rmpv::decode::read_value(&mut &out[4..]).unwrap();
        assert_eq!(
            v,
            rmpv::Value::Array(vec![
                rmpv::Value::from(300u64),
                rmpv::Value::Binary(b"SET".to_vec()),
                rmpv::Value::Binary(b"k".to_vec()),
                rmpv::Value::Binary(b"v".to_vec()),
            ])
        );
    }
}
