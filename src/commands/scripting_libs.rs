//! The libraries Redis bundles into its Lua (`bit`, `cjson`, `cmsgpack`, `struct`), written
//! in Rust with the behaviour of the C libraries Redis 7.0 embeds (LuaBitOp, lua-cjson,
//! lua-cmsgpack, Roberto Ierusalimschy's struct) for what scripts use: their outputs are compared with redis-server in
//! tests/diff/scripting.redis.
//!
//! Must hold: every function is total (bad input is a Lua error, never a panic), and
//! encoders are bounded in nesting depth.

use crate::protocol::msgpack;
use mlua::{LightUserData, Lua, MultiValue, Table, Value};

/// Installs `bit`, `cjson`, `cmsgpack` and `struct` as globals.
pub fn install(lua: &Lua) -> mlua::Result<()> {
    let g = lua.globals();
    g.set("struct", structlib(lua)?)?;
    g.set("bit", bit(lua)?)?;
    g.set("cjson", cjson(lua)?)?;
    g.set("cmsgpack", cmsgpack(lua)?)?;
    Ok(())
}

fn err(msg: impl Into<String>) -> mlua::Error {
    mlua::Error::RuntimeError(msg.into())
}

// ---------------------------------------------------------------------------------------
// bit (LuaBitOp): 32-bit operations on Lua numbers
// ---------------------------------------------------------------------------------------

/// LuaBitOp's argument normalisation of argument `n` (1-based) of bit.`name`: the number
/// modulo 2^32, as a signed 32-bit value (luaL_checknumber's error texts).
fn barg(args: &MultiValue, n: usize, name: &str) -> mlua::Result<i32> {
    let bad = |got: &str| err(format!("bad argument #{n} to '{name}' (number expected, got {got})"));
    let v = args.get(n - 1).ok_or_else(|| bad("no value"))?;
    let n = match v {
        Value::Integer(i) => *i as f64,
        Value::Number(n) => *n,
        Value::String(s) => {
            let t = s.to_str().map(|t| t.trim().to_string()).unwrap_or_default();
            t.parse::<f64>().map_err(|_| bad("string"))?
        }
        other => return Err(bad(super::scripting::lua_type_name(other))),
    };
    // Adding 2^52+2^51 and reading the low word is LuaBitOp's trick; this is the same.
    let m = n.rem_euclid(4294967296.0);
    Ok(m as u64 as u32 as i32)
}

fn bit(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let fold = |name: &'static str, op: fn(i32, i32) -> i32| {
        move |_: &Lua, args: MultiValue| -> mlua::Result<i32> {
            let mut acc = barg(&args, 1, name)?;
            for i in 2..=args.len() {
                acc = op(acc, barg(&args, i, name)?);
            }
            Ok(acc)
        }
    };
    t.set("band", lua.create_function(fold("band", |a, b| a & b))?)?;
    t.set("bor", lua.create_function(fold("bor", |a, b| a | b))?)?;
    t.set("bxor", lua.create_function(fold("bxor", |a, b| a ^ b))?)?;
    t.set("tobit", lua.create_function(|_, a: MultiValue| barg(&a, 1, "tobit"))?)?;
    t.set("bnot", lua.create_function(|_, a: MultiValue| Ok(!barg(&a, 1, "bnot")?))?)?;
    t.set("bswap", lua.create_function(|_, a: MultiValue| Ok(barg(&a, 1, "bswap")?.swap_bytes()))?)?;
    let shift = |name: &'static str, op: fn(i32, u32) -> i32| {
        move |_: &Lua, a: MultiValue| -> mlua::Result<i32> {
            Ok(op(barg(&a, 1, name)?, (barg(&a, 2, name)? & 31) as u32))
        }
    };
    t.set("lshift", lua.create_function(shift("lshift", |a, n| ((a as u32) << n) as i32))?)?;
    t.set("rshift", lua.create_function(shift("rshift", |a, n| ((a as u32) >> n) as i32))?)?;
    t.set("arshift", lua.create_function(shift("arshift", |a, n| a >> n))?)?;
    t.set("rol", lua.create_function(shift("rol", |a, n| (a as u32).rotate_left(n) as i32))?)?;
    t.set("ror", lua.create_function(shift("ror", |a, n| (a as u32).rotate_right(n) as i32))?)?;
    t.set(
        "tohex",
        lua.create_function(|_, a: MultiValue| {
            let x = barg(&a, 1, "tohex")? as u32;
            let mut n = if a.len() < 2 { 8 } else { barg(&a, 2, "tohex")? };
            let upper = n < 0;
            if upper {
                n = -n;
            }
            let n = n.clamp(1, 8) as usize;
            let s = if upper { format!("{x:08X}") } else { format!("{x:08x}") };
            Ok(s[8 - n..].to_string())
        })?,
    )?;
    Ok(t)
}

// ---------------------------------------------------------------------------------------
// cjson (lua-cjson)
// ---------------------------------------------------------------------------------------

const MAX_DEPTH: usize = 1000;

/// lua-cjson's `cjson.null`: a light userdata NULL.
fn null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

fn cjson(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set("null", null())?;
    t.set(
        "encode",
        lua.create_function(|_, v: Value| {
            let mut out = Vec::new();
            json_encode(&v, 0, &mut out)?;
            Ok(mlua::BString::from(out))
        })?,
    )?;
    t.set(
        "decode",
        lua.create_function(|lua, s: mlua::String| {
            let bytes = s.as_bytes();
            let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
                err(format!("Expected value but found invalid token at character {}", e.column().max(1)))
            })?;
            json_to_lua(lua, &v, 0)
        })?,
    )?;
    Ok(t)
}

/// lua-cjson's number format ("%.14g").
fn json_number(n: f64, out: &mut Vec<u8>) -> mlua::Result<()> {
    if n.is_nan() || n.is_infinite() {
        return Err(err("Cannot serialise number: must not be NaN or Inf"));
    }
    if n.fract() == 0.0 && n.abs() < 1e15 {
        out.extend_from_slice((n as i64).to_string().as_bytes());
    } else {
        out.extend_from_slice(crate::protocol::reply::fmt_g(n, 14).as_bytes());
    }
    Ok(())
}

fn json_string(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &c in s {
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            c if c < 0x20 || c == 0x7f => out.extend_from_slice(format!("\\u{c:04x}").as_bytes()),
            c => out.push(c),
        }
    }
    out.push(b'"');
}

/// lua-cjson's array test: every key a positive integer; returns the largest.
fn array_len(t: &Table) -> mlua::Result<Option<usize>> {
    let mut max = 0usize;
    let mut count = 0usize;
    for pair in t.clone().pairs::<Value, Value>() {
        let (k, _) = pair?;
        let i = match k {
            Value::Integer(i) if i >= 1 => i as usize,
            Value::Number(n) if n >= 1.0 && n.fract() == 0.0 => n as usize,
            _ => return Ok(None),
        };
        max = max.max(i);
        count += 1;
    }
    // encode_sparse_array defaults: ratio 2, safe 10.
    if max > 10 && max > count * 2 {
        return Err(err("Cannot serialise table: excessively sparse array"));
    }
    Ok(Some(max))
}

fn json_encode(v: &Value, depth: usize, out: &mut Vec<u8>) -> mlua::Result<()> {
    match v {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(u) if u.0.is_null() => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(i) => out.extend_from_slice(i.to_string().as_bytes()),
        Value::Number(n) => json_number(*n, out)?,
        Value::String(s) => json_string(&s.as_bytes(), out),
        Value::Table(t) => {
            if depth >= MAX_DEPTH {
                return Err(err(format!("Cannot serialise, excessive nesting ({})", depth + 1)));
            }
            match array_len(t)? {
                Some(n) if n > 0 => {
                    out.push(b'[');
                    for i in 1..=n {
                        if i > 1 {
                            out.push(b',');
                        }
                        json_encode(&t.raw_get::<Value>(i)?, depth + 1, out)?;
                    }
                    out.push(b']');
                }
                _ => {
                    out.push(b'{');
                    let mut first = true;
                    for pair in t.clone().pairs::<Value, Value>() {
                        let (k, val) = pair?;
                        if !first {
                            out.push(b',');
                        }
                        first = false;
                        match &k {
                            Value::String(s) => json_string(&s.as_bytes(), out),
                            Value::Integer(i) => json_string(i.to_string().as_bytes(), out),
                            Value::Number(n) => {
                                let mut tmp = Vec::new();
                                json_number(*n, &mut tmp)?;
                                json_string(&tmp, out);
                            }
                            _ => return Err(err("Cannot serialise table: table key must be a number or string")),
                        }
                        out.push(b':');
                        json_encode(&val, depth + 1, out)?;
                    }
                    out.push(b'}');
                }
            }
        }
        other => return Err(err(format!("Cannot serialise {}: type not supported", other.type_name()))),
    }
    Ok(())
}

fn json_to_lua(lua: &Lua, v: &serde_json::Value, depth: usize) -> mlua::Result<Value> {
    if depth > MAX_DEPTH {
        return Err(err("Found too many nested data structures"));
    }
    Ok(match v {
        serde_json::Value::Null => null(),
        serde_json::Value::Bool(b) => Value::Boolean(*b),
        serde_json::Value::Number(n) => Value::Number(n.as_f64().unwrap_or(0.0)),
        serde_json::Value::String(s) => Value::String(lua.create_string(s)?),
        serde_json::Value::Array(items) => {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, it) in items.iter().enumerate() {
                t.raw_set(i + 1, json_to_lua(lua, it, depth + 1)?)?;
            }
            Value::Table(t)
        }
        serde_json::Value::Object(m) => {
            let t = lua.create_table()?;
            for (k, it) in m {
                t.raw_set(k.as_str(), json_to_lua(lua, it, depth + 1)?)?;
            }
            Value::Table(t)
        }
    })
}

// ---------------------------------------------------------------------------------------
// cmsgpack (lua-cmsgpack)
// ---------------------------------------------------------------------------------------

fn cmsgpack(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set(
        "pack",
        lua.create_function(|_, args: MultiValue| {
            if args.is_empty() {
                return Err(err("MessagePack pack needs input."));
            }
            let mut out = Vec::new();
            for a in args.iter() {
                mp_pack(a, 0, &mut out)?;
            }
            Ok(mlua::BString::from(out))
        })?,
    )?;
    t.set(
        "unpack",
        lua.create_function(|lua, s: mlua::String| {
            let bytes = s.as_bytes().to_vec();
            let mut rd = &bytes[..];
            let mut vals = Vec::new();
            while !rd.is_empty() {
                let v = rmpv::decode::read_value(&mut rd).map_err(|_| err("Missing bytes in input."))?;
                vals.push(mp_to_lua(lua, &v, 0)?);
            }
            Ok(MultiValue::from_vec(vals))
        })?,
    )?;
    Ok(t)
}

fn mp_pack(v: &Value, depth: usize, out: &mut Vec<u8>) -> mlua::Result<()> {
    match v {
        Value::Nil => out.push(0xc0),
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(i) => msgpack::put_int(out, *i),
        Value::Number(n) => {
            if n.fract() == 0.0 && n.abs() < 9.007_199_254_740_992e15 {
                msgpack::put_int(out, *n as i64);
            } else if (*n as f32) as f64 == *n {
                out.push(0xca);
                out.extend_from_slice(&(*n as f32).to_bits().to_be_bytes());
            } else {
                msgpack::put_f64(out, *n);
            }
        }
        Value::String(s) => msgpack::put_str(out, &s.as_bytes()),
        Value::Table(t) if depth < 16 => match array_len(t).unwrap_or(None) {
            Some(n) if n > 0 && t.raw_len() == n => {
                msgpack::put_array_len(out, n);
                for i in 1..=n {
                    mp_pack(&t.raw_get::<Value>(i)?, depth + 1, out)?;
                }
            }
            _ => {
                let pairs: Vec<(Value, Value)> = t.clone().pairs::<Value, Value>().collect::<mlua::Result<_>>()?;
                msgpack::put_map_len(out, pairs.len());
                for (k, val) in pairs {
                    mp_pack(&k, depth + 1, out)?;
                    mp_pack(&val, depth + 1, out)?;
                }
            }
        },
        // Deeper tables and unsupported types pack as nil, as lua-cmsgpack does.
        _ => out.push(0xc0),
    }
    Ok(())
}

fn mp_to_lua(lua: &Lua, v: &rmpv::Value, depth: usize) -> mlua::Result<Value> {
    if depth > 64 {
        return Err(err("MessagePack input nested too deeply."));
    }
    Ok(match v {
        rmpv::Value::Nil => Value::Nil,
        rmpv::Value::Boolean(b) => Value::Boolean(*b),
        rmpv::Value::Integer(i) => match i.as_i64() {
            Some(x) => Value::Number(x as f64),
            None => Value::Number(i.as_u64().unwrap_or(0) as f64),
        },
        rmpv::Value::F32(f) => Value::Number(*f as f64),
        rmpv::Value::F64(f) => Value::Number(*f),
        rmpv::Value::String(s) => Value::String(lua.create_string(s.as_bytes())?),
        rmpv::Value::Binary(b) => Value::String(lua.create_string(b)?),
        rmpv::Value::Array(items) => {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, it) in items.iter().enumerate() {
                t.raw_set(i + 1, mp_to_lua(lua, it, depth + 1)?)?;
            }
            Value::Table(t)
        }
        rmpv::Value::Map(pairs) => {
            let t = lua.create_table()?;
            for (k, it) in pairs {
                let k = mp_to_lua(lua, k, depth + 1)?;
                if !k.is_nil() {
                    t.raw_set(k, mp_to_lua(lua, it, depth + 1)?)?;
                }
            }
            Value::Table(t)
        }
        rmpv::Value::Ext(_, _) => Value::Nil,
    })
}

// ---------------------------------------------------------------------------------------
// struct (Roberto Ierusalimschy's struct library, as Redis bundles it)
// ---------------------------------------------------------------------------------------

/// The format state: byte order and maximum alignment.
struct Fmt<'a> {
    f: &'a [u8],
    i: usize,
    little: bool,
    maxalign: usize,
}

/// One format item: (option, size).
enum Item {
    Int { size: usize, signed: bool },
    Float,
    Double,
    Char(usize),
    Zstr,
    Pad,
    Skip,
}

impl Fmt<'_> {
    fn num(&mut self, default: usize) -> usize {
        let start = self.i;
        while self.i < self.f.len() && self.f[self.i].is_ascii_digit() {
            self.i += 1;
        }
        if self.i == start {
            return default;
        }
        std::str::from_utf8(&self.f[start..self.i]).ok().and_then(|s| s.parse().ok()).unwrap_or(default)
    }

    fn next(&mut self) -> mlua::Result<Option<Item>> {
        while self.i < self.f.len() {
            let c = self.f[self.i];
            self.i += 1;
            let item = match c {
                b' ' => continue,
                b'<' => {
                    self.little = true;
                    continue;
                }
                b'>' => {
                    self.little = false;
                    continue;
                }
                b'=' => {
                    self.little = cfg!(target_endian = "little");
                    continue;
                }
                b'!' => {
                    self.maxalign = self.num(8);
                    continue;
                }
                b'b' => Item::Int { size: 1, signed: true },
                b'B' => Item::Int { size: 1, signed: false },
                b'h' => Item::Int { size: 2, signed: true },
                b'H' => Item::Int { size: 2, signed: false },
                b'l' => Item::Int { size: 8, signed: true },
                b'L' | b'T' => Item::Int { size: 8, signed: false },
                b'i' | b'I' => {
                    let size = self.num(4);
                    if !(1..=8).contains(&size) {
                        return Err(err(format!("integral size {size} is larger than limit of 8")));
                    }
                    Item::Int { size, signed: c == b'i' }
                }
                b'f' => Item::Float,
                b'd' => Item::Double,
                b'c' => Item::Char(self.num(1)),
                b's' => Item::Zstr,
                b'x' => Item::Pad,
                b'X' => Item::Skip,
                other => return Err(err(format!("invalid format option '{}'", other as char))),
            };
            return Ok(Some(item));
        }
        Ok(None)
    }

    /// Padding needed before an item of `size` at `pos`.
    fn pad(&self, size: usize, pos: usize) -> usize {
        let align = size.min(self.maxalign).max(1);
        if align.is_power_of_two() {
            (align - (pos & (align - 1))) & (align - 1)
        } else {
            0
        }
    }
}

fn arg_number(v: Option<&Value>, n: usize) -> mlua::Result<f64> {
    match v {
        Some(Value::Integer(i)) => Ok(*i as f64),
        Some(Value::Number(x)) => Ok(*x),
        Some(Value::String(s)) => s
            .to_str()
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .ok_or_else(|| err(format!("bad argument #{n} to 'pack' (number expected, got string)"))),
        _ => Err(err(format!("bad argument #{n} to 'pack' (number expected, got no value)"))),
    }
}

fn structlib(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set(
        "pack",
        lua.create_function(|_, args: MultiValue| {
            let mut it = args.into_iter();
            let Some(Value::String(f)) = it.next() else {
                return Err(err("bad argument #1 to 'pack' (string expected)"));
            };
            let f = f.as_bytes().to_vec();
            let vals: Vec<Value> = it.collect();
            let mut fm = Fmt { f: &f, i: 0, little: cfg!(target_endian = "little"), maxalign: 1 };
            let mut out: Vec<u8> = Vec::new();
            let mut k = 0usize;
            while let Some(item) = fm.next()? {
                match item {
                    Item::Int { size, .. } => {
                        out.resize(out.len() + fm.pad(size, out.len()), 0);
                        let v = arg_number(vals.get(k), k + 2)? as i64 as u64;
                        k += 1;
                        let bytes = v.to_le_bytes();
                        if fm.little {
                            out.extend_from_slice(&bytes[..size]);
                        } else {
                            out.extend(bytes[..size].iter().rev());
                        }
                    }
                    Item::Float | Item::Double => {
                        let size = if matches!(item, Item::Float) { 4 } else { 8 };
                        out.resize(out.len() + fm.pad(size, out.len()), 0);
                        let v = arg_number(vals.get(k), k + 2)?;
                        k += 1;
                        let b: Vec<u8> = if size == 4 {
                            if fm.little {
                                (v as f32).to_le_bytes().to_vec()
                            } else {
                                (v as f32).to_be_bytes().to_vec()
                            }
                        } else if fm.little {
                            v.to_le_bytes().to_vec()
                        } else {
                            v.to_be_bytes().to_vec()
                        };
                        out.extend_from_slice(&b);
                    }
                    Item::Char(_) | Item::Zstr => {
                        let n = if let Item::Char(n) = item { n } else { 0 };
                        let s = match vals.get(k) {
                            Some(Value::String(s)) => s.as_bytes().to_vec(),
                            Some(Value::Integer(i)) => i.to_string().into_bytes(),
                            Some(Value::Number(x)) => x.to_string().into_bytes(),
                            _ => {
                                return Err(err(format!(
                                    "bad argument #{} to 'pack' (string expected, got no value)",
                                    k + 2
                                )))
                            }
                        };
                        k += 1;
                        match item {
                            Item::Zstr => {
                                out.extend_from_slice(&s);
                                out.push(0);
                            }
                            _ => {
                                let n = if n == 0 { s.len() } else { n };
                                if s.len() < n {
                                    return Err(err(format!("bad argument #{} to 'pack' (string too short)", k + 1)));
                                }
                                out.extend_from_slice(&s[..n]);
                            }
                        }
                    }
                    Item::Pad => out.push(0),
                    Item::Skip => {}
                }
            }
            Ok(mlua::BString::from(out))
        })?,
    )?;
    t.set(
        "unpack",
        lua.create_function(|lua, (f, data, init): (mlua::String, mlua::String, Option<i64>)| {
            let f = f.as_bytes().to_vec();
            let d = data.as_bytes().to_vec();
            let mut pos = (init.unwrap_or(1).max(1) - 1) as usize;
            let mut fm = Fmt { f: &f, i: 0, little: cfg!(target_endian = "little"), maxalign: 1 };
            let mut out: Vec<Value> = Vec::new();
            let short = || err("bad argument #2 to 'unpack' (data string too short)");
            while let Some(item) = fm.next()? {
                match item {
                    Item::Int { size, signed } => {
                        pos += fm.pad(size, pos);
                        let b = d.get(pos..pos + size).ok_or_else(short)?;
                        let mut v: u64 = 0;
                        for j in 0..size {
                            let byte = if fm.little { b[size - 1 - j] } else { b[j] };
                            v = (v << 8) | byte as u64;
                        }
                        let n = if signed && size < 8 && v & (1 << (size * 8 - 1)) != 0 {
                            (v | (!0u64 << (size * 8))) as i64 as f64
                        } else if signed {
                            v as i64 as f64
                        } else {
                            v as f64
                        };
                        out.push(Value::Number(n));
                        pos += size;
                    }
                    Item::Float | Item::Double => {
                        let size = if matches!(item, Item::Float) { 4 } else { 8 };
                        pos += fm.pad(size, pos);
                        let b = d.get(pos..pos + size).ok_or_else(short)?;
                        let v = if size == 4 {
                            let a = [b[0], b[1], b[2], b[3]];
                            (if fm.little { f32::from_le_bytes(a) } else { f32::from_be_bytes(a) }) as f64
                        } else {
                            let a = [b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]];
                            if fm.little {
                                f64::from_le_bytes(a)
                            } else {
                                f64::from_be_bytes(a)
                            }
                        };
                        out.push(Value::Number(v));
                        pos += size;
                    }
                    Item::Char(n) => {
                        let n = if n == 0 {
                            match out.pop() {
                                Some(Value::Number(x)) => x as usize,
                                _ => return Err(err("format 'c0' needs a previous size")),
                            }
                        } else {
                            n
                        };
                        let b = d.get(pos..pos + n).ok_or_else(short)?;
                        out.push(Value::String(lua.create_string(b)?));
                        pos += n;
                    }
                    Item::Zstr => {
                        let rest = d.get(pos..).ok_or_else(short)?;
                        let end = rest.iter().position(|&c| c == 0).ok_or_else(|| err("unfinished string in data"))?;
                        out.push(Value::String(lua.create_string(&rest[..end])?));
                        pos += end + 1;
                    }
                    Item::Pad => pos += 1,
                    Item::Skip => {}
                }
            }
            out.push(Value::Number((pos + 1) as f64));
            Ok(MultiValue::from_vec(out))
        })?,
    )?;
    t.set(
        "size",
        lua.create_function(|_, f: mlua::String| {
            let f = f.as_bytes().to_vec();
            let mut fm = Fmt { f: &f, i: 0, little: true, maxalign: 1 };
            let mut pos = 0usize;
            while let Some(item) = fm.next()? {
                let size = match item {
                    Item::Int { size, .. } => size,
                    Item::Float => 4,
                    Item::Double => 8,
                    Item::Char(n) => n,
                    Item::Zstr => return Err(err("options 's' has no fixed size")),
                    Item::Pad => 1,
                    Item::Skip => 0,
                };
                pos += fm.pad(size, pos) + size;
            }
            Ok(pos)
        })?,
    )?;
    Ok(t)
}
