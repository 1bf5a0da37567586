//! The libraries Redis bundles into its Lua (`bit`, `cjson`, `cmsgpack`, `struct`), written
//! in Rust with the behaviour of the C libraries Redis 7.0 embeds: LuaBitOp (its
//! 2^52+2^51 rounding), lua-cjson 2.1 (decoder tokens, strtod numbers, error texts, the
//! array-length rule), lua-cmsgpack 0.4 (array test, number encoding, decoder cases) and
//! Roberto Ierusalimschy's struct, C integer conversions included. Compared with
//! redis-server in tests/diff/scripting.redis and by seeded random calls in
//! tests/scripting.rs.
//!
//! Must hold: every function is total (bad input is a Lua error, never a panic), and
//! encoders are bounded in nesting depth.

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

/// luaL_checklstring: argument `n` (1-based) of `name` as bytes (a number as Lua prints
/// it), with Lua's error text otherwise.
fn string_arg(args: &MultiValue, n: usize, name: &str) -> mlua::Result<Vec<u8>> {
    match args.get(n - 1) {
        Some(Value::String(s)) => Ok(s.as_bytes().to_vec()),
        Some(Value::Integer(i)) => Ok(i.to_string().into_bytes()),
        Some(Value::Number(x)) => Ok(super::scripting::lua_number_text(*x).into_bytes()),
        other => {
            let got = other.map_or("no value", super::scripting::lua_type_name);
            Err(err(format!("bad argument #{n} to '{name}' (string expected, got {got})")))
        }
    }
}

// ---------------------------------------------------------------------------------------
// bit (LuaBitOp): 32-bit operations on Lua numbers
// ---------------------------------------------------------------------------------------

/// LuaBitOp's argument normalisation of argument `n` (1-based) of bit.`name`: the number
/// modulo 2^32, as a signed 32-bit value (luaL_checknumber's error texts).
/// Lua 5.1's lua_tonumber: a number, or a string that is one (surrounding spaces
/// allowed); None otherwise.
pub(super) fn lua_tonumber(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(i) => Some(*i as f64),
        Value::Number(x) => Some(*x),
        Value::String(s) => {
            let b = s.as_bytes();
            let t = b.trim_ascii();
            match strtod_prefix(t) {
                (x, used) if used > 0 && used == t.len() => Some(x),
                _ => None,
            }
        }
        _ => None,
    }
}

fn barg(args: &MultiValue, n: usize, name: &str) -> mlua::Result<i32> {
    let v = args.get(n - 1);
    let num = v.and_then(lua_tonumber);
    // LuaBitOp: add 2^52+2^51 and take the low word (rounds to nearest, wraps mod 2^32).
    let b = (num.unwrap_or(0.0) + 6755399441055744.0).to_bits() as u32;
    if b == 0 && num.is_none() {
        let got = v.map_or("no value", super::scripting::lua_type_name);
        return Err(err(format!("bad argument #{n} to '{name}' (number expected, got {got})")));
    }
    Ok(b as i32)
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
            let n = if a.len() < 2 { 8 } else { barg(&a, 2, "tohex")? as i64 };
            let upper = n < 0;
            let n = n.abs().min(8) as usize;
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
        lua.create_function(|_, args: MultiValue| {
            if args.len() != 1 {
                return Err(err("bad argument #1 to 'encode' (expected 1 argument)"));
            }
            let mut out = Vec::new();
            json_encode(&args[0], 0, &mut out)?;
            Ok(mlua::BString::from(out))
        })?,
    )?;
    t.set("decode", lua.create_function(|lua, args: MultiValue| json_decode(lua, &args))?)?;
    Ok(t)
}

/// lua-cjson's number format ("%.14g").
fn json_number(n: f64, out: &mut Vec<u8>) -> mlua::Result<()> {
    if n.is_nan() || n.is_infinite() {
        return Err(err("Cannot serialise number: must not be NaN or Inf"));
    }
    out.extend_from_slice(crate::protocol::reply::fmt_g(n, 14).as_bytes());
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
    // lua-cjson's lua_array_length, C ints included: a key of 2^31 or more turns `max`
    // into INT_MIN (x86's conversion), and a table whose max is not positive is an object.
    let mut max: i32 = 0;
    let mut items: i32 = 0;
    for pair in t.clone().pairs::<Value, Value>() {
        let (k, _) = pair?;
        match lua_num(&k) {
            Some(k) if k != 0.0 && k.floor() == k && k >= 1.0 => {
                if k > max as f64 {
                    max = if k >= 2147483648.0 { i32::MIN } else { k as i32 };
                }
                items = items.wrapping_add(1);
            }
            _ => return Ok(None),
        }
    }
    // encode_sparse_array defaults: ratio 2, safe 10, convert off.
    if max > items.wrapping_mul(2) && max > 10 {
        return Err(err("Cannot serialise table: excessively sparse array"));
    }
    Ok(Some(max.max(0) as usize))
}

fn json_encode(v: &Value, depth: usize, out: &mut Vec<u8>) -> mlua::Result<()> {
    match v {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(u) if u.0.is_null() => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(i) => json_number(*i as f64, out)?,
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
                            Value::Integer(_) | Value::Number(_) => {
                                let mut tmp = Vec::new();
                                json_number(lua_tonumber(&k).unwrap_or(0.0), &mut tmp)?;
                                json_string(&tmp, out);
                            }
                            other => {
                                return Err(err(format!(
                                    "Cannot serialise {}: table key must be a number or string",
                                    super::scripting::lua_type_name(other)
                                )))
                            }
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

/// lua-cjson 2.1's decoder (as Redis bundles it: decode_invalid_numbers on, depth limit
/// 1000), token by token, so scripts get the same values and the same error texts
/// ("Expected comma or object end but found T_STRING at character 9"). The input is a C
/// string: it ends at its first NUL byte.
struct JsonDecoder<'a> {
    data: &'a [u8],
    pos: usize,
    depth: usize,
    tmp: Vec<u8>,
}

#[derive(Clone, Copy, PartialEq)]
enum Tok {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str,
    Num(f64),
    Bool(bool),
    Null,
    Colon,
    Comma,
    End,
    Error(&'static str),
}

impl Tok {
    fn name(self) -> &'static str {
        match self {
            Tok::ObjBegin => "T_OBJ_BEGIN",
            Tok::ObjEnd => "T_OBJ_END",
            Tok::ArrBegin => "T_ARR_BEGIN",
            Tok::ArrEnd => "T_ARR_END",
            Tok::Str => "T_STRING",
            Tok::Num(_) => "T_NUMBER",
            Tok::Bool(_) => "T_BOOLEAN",
            Tok::Null => "T_NULL",
            Tok::Colon => "T_COLON",
            Tok::Comma => "T_COMMA",
            Tok::End => "T_END",
            Tok::Error(e) => e,
        }
    }
}

/// C's strtod on the longest prefix it accepts (decimal, hex, inf/infinity, nan): the
/// value and the bytes used (0: no number).
fn strtod_prefix(b: &[u8]) -> (f64, usize) {
    let mut i = 0;
    let neg = match b.first() {
        Some(b'-') => {
            i = 1;
            true
        }
        Some(b'+') => {
            i = 1;
            false
        }
        _ => false,
    };
    let sign = if neg { -1.0 } else { 1.0 };
    let rest = &b[i..];
    let starts = |w: &str| rest.len() >= w.len() && rest[..w.len()].eq_ignore_ascii_case(w.as_bytes());
    if starts("infinity") {
        return (sign * f64::INFINITY, i + 8);
    }
    if starts("inf") {
        return (sign * f64::INFINITY, i + 3);
    }
    if starts("nan") {
        let mut n = i + 3;
        if b.get(n) == Some(&b'(') {
            if let Some(close) = b[n..].iter().position(|&c| c == b')') {
                if b[n + 1..n + close].iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_') {
                    n += close + 1;
                }
            }
        }
        return (if neg { -f64::NAN } else { f64::NAN }, n);
    }
    if rest.len() > 2 && rest[0] == b'0' && (rest[1] | 0x20) == b'x' {
        // Hex: digits [. digits] [p [+-] digits].
        let mut j = 2;
        let mut mant = 0f64;
        let mut digits = 0;
        while let Some(d) = rest.get(j).and_then(|c| (*c as char).to_digit(16)) {
            mant = mant * 16.0 + d as f64;
            j += 1;
            digits += 1;
        }
        let mut scale = 0i32;
        if rest.get(j) == Some(&b'.') {
            let mut k = j + 1;
            while let Some(d) = rest.get(k).and_then(|c| (*c as char).to_digit(16)) {
                mant = mant * 16.0 + d as f64;
                scale -= 4;
                k += 1;
                digits += 1;
            }
            if digits > 0 {
                j = k;
            }
        }
        if digits == 0 {
            return (0.0, i + 1); // "0" then an 'x' that is not part of the number
        }
        if matches!(rest.get(j), Some(b'p' | b'P')) {
            let mut k = j + 1;
            let eneg = match rest.get(k) {
                Some(b'-') => {
                    k += 1;
                    true
                }
                Some(b'+') => {
                    k += 1;
                    false
                }
                _ => false,
            };
            let start = k;
            let mut e = 0i32;
            while let Some(d) = rest.get(k).filter(|c| c.is_ascii_digit()) {
                e = e.saturating_mul(10).saturating_add((d - b'0') as i32);
                k += 1;
            }
            if k > start {
                scale = scale.saturating_add(if eneg { -e } else { e });
                j = k;
            }
        }
        return (sign * mant * 2f64.powi(scale), i + j);
    }
    // Decimal: digits [. digits] [e [+-] digits], at least one mantissa digit.
    let mut j = 0;
    while rest.get(j).is_some_and(|c| c.is_ascii_digit()) {
        j += 1;
    }
    let mut mant_digits = j;
    if rest.get(j) == Some(&b'.') {
        let mut k = j + 1;
        while rest.get(k).is_some_and(|c| c.is_ascii_digit()) {
            k += 1;
        }
        mant_digits += k - j - 1;
        if mant_digits > 0 {
            j = k;
        }
    }
    if mant_digits == 0 {
        return (0.0, 0);
    }
    if matches!(rest.get(j), Some(b'e' | b'E')) {
        let mut k = j + 1;
        if matches!(rest.get(k), Some(b'+' | b'-')) {
            k += 1;
        }
        let start = k;
        while rest.get(k).is_some_and(|c| c.is_ascii_digit()) {
            k += 1;
        }
        if k > start {
            j = k;
        }
    }
    let text = std::str::from_utf8(&rest[..j]).unwrap_or("0");
    let text = text.strip_suffix('.').unwrap_or(text);
    let v: f64 = text.parse().unwrap_or(0.0);
    (sign * v, i + j)
}

impl<'a> JsonDecoder<'a> {
    fn byte(&self, i: usize) -> u8 {
        self.data.get(i).copied().unwrap_or(0)
    }

    /// lua-cjson's json_is_invalid_number: '+', hex, leading zeros, inf, nan.
    fn invalid_number(&self) -> bool {
        let mut p = self.pos;
        if self.byte(p) == b'+' {
            return true;
        }
        if self.byte(p) == b'-' {
            p += 1;
        }
        let c = self.byte(p);
        if c == b'0' {
            let c2 = self.byte(p + 1);
            return (c2 | 0x20) == b'x' || c2.is_ascii_digit();
        } else if c <= b'9' {
            return false;
        }
        let word = |w: &[u8]| (0..3).all(|k| self.byte(p + k).eq_ignore_ascii_case(&w[k]));
        word(b"inf") || word(b"nan")
    }

    fn number(&mut self) -> Tok {
        let (v, used) = strtod_prefix(&self.data[self.pos..]);
        if used == 0 {
            return Tok::Error("invalid number");
        }
        self.pos += used;
        Tok::Num(v)
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let mut v = 0u32;
        for k in 0..4 {
            v = v * 16 + (self.byte(at + k) as char).to_digit(16)?;
        }
        Some(v)
    }

    /// After `\u` at `self.pos` (the backslash): appends the UTF-8 bytes.
    fn unicode_escape(&mut self) -> bool {
        let Some(mut cp) = self.hex4(self.pos + 2) else { return false };
        let mut len = 6;
        if cp & 0xF800 == 0xD800 {
            if cp & 0x400 != 0 || self.byte(self.pos + 6) != b'\\' || self.byte(self.pos + 7) != b'u' {
                return false;
            }
            let Some(low) = self.hex4(self.pos + 8) else { return false };
            if low & 0xFC00 != 0xDC00 {
                return false;
            }
            cp = (((cp & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000;
            len = 12;
        }
        let mut buf = [0u8; 4];
        match char::from_u32(cp) {
            Some(c) => self.tmp.extend_from_slice(c.encode_utf8(&mut buf).as_bytes()),
            None => return false,
        }
        self.pos += len;
        true
    }

    /// A string token; `self.pos` is at the opening quote. Errors point where they are.
    fn string(&mut self) -> Result<(), usize> {
        self.pos += 1;
        self.tmp.clear();
        loop {
            let c = self.byte(self.pos);
            match c {
                b'"' => {
                    self.pos += 1;
                    return Ok(());
                }
                0 => return Err(0),
                b'\\' => {
                    let e = match self.byte(self.pos + 1) {
                        b'"' => b'"',
                        b'\\' => b'\\',
                        b'/' => b'/',
                        b'b' => 0x08,
                        b'f' => 0x0c,
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'u' => {
                            if self.unicode_escape() {
                                continue;
                            }
                            return Err(2);
                        }
                        _ => return Err(1),
                    };
                    self.tmp.push(e);
                    self.pos += 2;
                }
                c => {
                    self.tmp.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// The next token and where it starts (0-based).
    fn next(&mut self) -> (Tok, usize) {
        while matches!(self.byte(self.pos), b' ' | b'\t' | b'\r' | b'\n') {
            self.pos += 1;
        }
        let at = self.pos;
        let single = match self.byte(at) {
            0 => return (Tok::End, at),
            b'{' => Some(Tok::ObjBegin),
            b'}' => Some(Tok::ObjEnd),
            b'[' => Some(Tok::ArrBegin),
            b']' => Some(Tok::ArrEnd),
            b',' => Some(Tok::Comma),
            b':' => Some(Tok::Colon),
            _ => None,
        };
        if let Some(t) = single {
            self.pos += 1;
            return (t, at);
        }
        let c = self.byte(at);
        let rest = &self.data[at..];
        match c {
            b'"' => match self.string() {
                Ok(()) => (Tok::Str, at),
                Err(kind) => {
                    let e = ["unexpected end of string", "invalid escape code", "invalid unicode escape code"][kind];
                    (Tok::Error(e), self.pos)
                }
            },
            b'-' | b'0'..=b'9' => {
                let t = self.number();
                (t, if matches!(t, Tok::Error(_)) { self.pos } else { at })
            }
            _ if rest.starts_with(b"true") => {
                self.pos += 4;
                (Tok::Bool(true), at)
            }
            _ if rest.starts_with(b"false") => {
                self.pos += 5;
                (Tok::Bool(false), at)
            }
            _ if rest.starts_with(b"null") => {
                self.pos += 4;
                (Tok::Null, at)
            }
            b'f' | b'i' | b'I' | b'n' | b'N' | b't' | b'+' if self.invalid_number() => {
                let t = self.number();
                (t, if matches!(t, Tok::Error(_)) { self.pos } else { at })
            }
            _ => (Tok::Error("invalid token"), at),
        }
    }

    fn fail(exp: &str, tok: Tok, at: usize) -> mlua::Error {
        err(format!("Expected {exp} but found {} at character {}", tok.name(), at + 1))
    }

    fn descend(&mut self) -> mlua::Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(err(format!(
                "Found too many nested data structures ({}) at character {}",
                self.depth, self.pos
            )));
        }
        Ok(())
    }

    /// An object's next key and its colon (the key is in `tmp`).
    fn key(&mut self, lua: &Lua, tok: Tok, at: usize) -> mlua::Result<mlua::String> {
        if tok != Tok::Str {
            return Err(Self::fail("object key string", tok, at));
        }
        let key = lua.create_string(&self.tmp)?;
        let (t, a) = self.next();
        if t != Tok::Colon {
            return Err(Self::fail("colon", t, a));
        }
        Ok(key)
    }

    /// The value starting with `tok`, iteratively (nesting only grows a heap stack).
    fn parse(&mut self, lua: &Lua, mut tok: Tok, mut at: usize) -> mlua::Result<Value> {
        enum Open {
            Obj(Table, mlua::String),
            Arr(Table, usize),
        }
        let mut open: Vec<Open> = Vec::new();
        loop {
            let mut v = match tok {
                Tok::Str => Value::String(lua.create_string(&self.tmp)?),
                Tok::Num(n) => Value::Number(n),
                Tok::Bool(b) => Value::Boolean(b),
                Tok::Null => null(),
                Tok::ObjBegin | Tok::ArrBegin => {
                    self.descend()?;
                    let t = lua.create_table()?;
                    let (t2, a2) = self.next();
                    if tok == Tok::ObjBegin && t2 != Tok::ObjEnd {
                        let key = self.key(lua, t2, a2)?;
                        open.push(Open::Obj(t, key));
                        (tok, at) = self.next();
                        continue;
                    }
                    if tok == Tok::ArrBegin && t2 != Tok::ArrEnd {
                        open.push(Open::Arr(t, 1));
                        (tok, at) = (t2, a2);
                        continue;
                    }
                    self.depth -= 1;
                    Value::Table(t)
                }
                other => return Err(Self::fail("value", other, at)),
            };
            // Hand the value to the innermost open container; a closed one goes up.
            loop {
                match open.last_mut() {
                    None => return Ok(v),
                    Some(Open::Obj(t, key)) => {
                        t.raw_set(key.clone(), v)?;
                        let (t2, a2) = self.next();
                        if t2 == Tok::ObjEnd {
                            let Some(Open::Obj(t, _)) = open.pop() else { unreachable!("an object is open") };
                            self.depth -= 1;
                            v = Value::Table(t);
                            continue;
                        }
                        if t2 != Tok::Comma {
                            return Err(Self::fail("comma or object end", t2, a2));
                        }
                        let (t3, a3) = self.next();
                        *key = self.key(lua, t3, a3)?;
                        (tok, at) = self.next();
                        break;
                    }
                    Some(Open::Arr(t, i)) => {
                        t.raw_set(*i, v)?;
                        *i += 1;
                        let (t2, a2) = self.next();
                        if t2 == Tok::ArrEnd {
                            let Some(Open::Arr(t, _)) = open.pop() else { unreachable!("an array is open") };
                            self.depth -= 1;
                            v = Value::Table(t);
                            continue;
                        }
                        if t2 != Tok::Comma {
                            return Err(Self::fail("comma or array end", t2, a2));
                        }
                        (tok, at) = self.next();
                        break;
                    }
                }
            }
        }
    }
}

/// cjson.decode(text).
fn json_decode(lua: &Lua, args: &MultiValue) -> mlua::Result<Value> {
    if args.len() != 1 {
        return Err(err("bad argument #1 to 'decode' (expected 1 argument)"));
    }
    let text = string_arg(args, 1, "decode")?;
    if text.len() >= 2 && (text[0] == 0 || text[1] == 0) {
        return Err(err("JSON parser does not support UTF-16 or UTF-32"));
    }
    let data = match text.iter().position(|&c| c == 0) {
        Some(n) => &text[..n],
        None => &text[..],
    };
    let mut d = JsonDecoder { data, pos: 0, depth: 0, tmp: Vec::new() };
    let (tok, at) = d.next();
    let v = d.parse(lua, tok, at)?;
    let (tok, at) = d.next();
    if tok != Tok::End {
        return Err(JsonDecoder::fail("the end", tok, at));
    }
    Ok(v)
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
                return Err(err("bad argument #0 to 'pack' (MessagePack pack needs input.)"));
            }
            let mut out = Vec::new();
            for a in args.iter() {
                mp_pack(a, 0, &mut out)?;
            }
            Ok(mlua::BString::from(out))
        })?,
    )?;
    t.set("unpack", lua.create_function(|lua, args: MultiValue| mp_unpack(lua, &args))?)?;
    Ok(t)
}

/// lua-cmsgpack's nesting limit for packing: deeper tables pack as nil.
const MP_MAX_NESTING: usize = 16;

/// C's `(T)x == x` test lua-cmsgpack uses to pack a number as an integer, for a range
/// [lo, hi) of T (out-of-range casts never compare equal on x86).
fn int_equivalent(n: f64, lo: f64, hi: f64) -> bool {
    n.is_finite() && n >= lo && n < hi && n.trunc() == n
}

fn lua_num(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(i) => Some(*i as f64),
        Value::Number(n) => Some(*n),
        _ => None,
    }
}

fn mp_int(out: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        match n {
            0..=127 => out.push(n as u8),
            128..=0xff => out.extend_from_slice(&[0xcc, n as u8]),
            0x100..=0xffff => {
                out.push(0xcd);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            0x1_0000..=0xffff_ffff => {
                out.push(0xce);
                out.extend_from_slice(&(n as u32).to_be_bytes());
            }
            _ => {
                out.push(0xcf);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2147483648 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn mp_len(out: &mut Vec<u8>, n: usize, fix: u8, fix_max: usize, b16: u8, b32: u8) {
    if n <= fix_max {
        out.push(fix | n as u8);
    } else if n <= 0xffff {
        out.push(b16);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(b32);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

/// lua-cmsgpack 0.4's table_is_an_array: every key a positive number equal to an int,
/// and the largest equal to the count (an empty table is an array).
fn mp_is_array(t: &Table) -> mlua::Result<bool> {
    let (mut count, mut max) = (0i64, 0i64);
    for pair in t.clone().pairs::<Value, Value>() {
        let (k, _) = pair?;
        match lua_num(&k) {
            Some(n) if n > 0.0 && int_equivalent(n, -2147483648.0, 2147483648.0) => {
                max = max.max(n as i64);
                count += 1;
            }
            _ => return Ok(false),
        }
    }
    Ok(max == count)
}

/// lua-cmsgpack 0.4's mp_encode_lua_type.
fn mp_pack(v: &Value, level: usize, out: &mut Vec<u8>) -> mlua::Result<()> {
    match v {
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(_) | Value::Number(_) => {
            let n = lua_num(v).unwrap_or(0.0);
            if int_equivalent(n, -9223372036854775808.0, 9223372036854775808.0) {
                mp_int(out, n as i64);
            } else if (n as f32) as f64 == n {
                out.push(0xca);
                out.extend_from_slice(&(n as f32).to_bits().to_be_bytes());
            } else {
                out.push(0xcb);
                out.extend_from_slice(&n.to_bits().to_be_bytes());
            }
        }
        Value::String(s) => {
            let b = s.as_bytes();
            if b.len() < 32 {
                out.push(0xa0 | b.len() as u8);
            } else if b.len() <= 0xff {
                out.extend_from_slice(&[0xd9, b.len() as u8]);
            } else {
                mp_len(out, b.len(), 0, 0, 0xda, 0xdb);
            }
            out.extend_from_slice(&b);
        }
        Value::Table(t) if level < MP_MAX_NESTING => {
            if mp_is_array(t)? {
                let n = t.raw_len();
                mp_len(out, n, 0x90, 15, 0xdc, 0xdd);
                for j in 1..=n {
                    mp_pack(&t.get::<Value>(j)?, level + 1, out)?;
                }
            } else {
                let pairs: Vec<(Value, Value)> = t.clone().pairs::<Value, Value>().collect::<mlua::Result<_>>()?;
                mp_len(out, pairs.len(), 0x80, 15, 0xde, 0xdf);
                for (k, val) in pairs {
                    mp_pack(&k, level + 1, out)?;
                    mp_pack(&val, level + 1, out)?;
                }
            }
        }
        // nil, functions, userdata, and tables nested too deep pack as nil.
        _ => out.push(0xc0),
    }
    Ok(())
}

/// Why decoding stopped: lua-cmsgpack's MP_CUR_ERROR_EOF and MP_CUR_ERROR_BADFMT.
enum MpErr {
    Eof,
    BadFmt,
    Lua(mlua::Error),
}

impl From<mlua::Error> for MpErr {
    fn from(e: mlua::Error) -> Self {
        MpErr::Lua(e)
    }
}

/// Nesting that decoding allows (lua-cmsgpack recurses on the C stack without a limit;
/// a worker's stack is smaller, so deeper input is refused).
const MP_MAX_DECODE_DEPTH: usize = 200;

struct MpCur<'a> {
    b: &'a [u8],
    p: usize,
}

impl MpCur<'_> {
    fn need(&self, n: usize) -> Result<&[u8], MpErr> {
        self.b.get(self.p..self.p.checked_add(n).ok_or(MpErr::Eof)?).ok_or(MpErr::Eof)
    }
    fn take(&mut self, n: usize) -> Result<&[u8], MpErr> {
        let start = self.p;
        self.need(n)?;
        self.p += n;
        Ok(&self.b[start..start + n])
    }
    fn be(&mut self, n: usize) -> Result<u64, MpErr> {
        Ok(self.take(n)?.iter().fold(0u64, |a, &x| (a << 8) | x as u64))
    }
}

/// lua-cmsgpack 0.4's mp_decode_to_lua_type.
fn mp_decode(lua: &Lua, c: &mut MpCur, depth: usize) -> Result<Value, MpErr> {
    if depth > MP_MAX_DECODE_DEPTH {
        return Err(MpErr::Lua(err("MessagePack input nested too deeply.")));
    }
    let t = c.need(1)?[0];
    let num = |x: f64| Ok(Value::Number(x));
    match t {
        // uint 8/16/32/64 (0xcc..0xcf) and int 8/16/32/64 (0xd0..0xd3): Lua numbers.
        0xcc..=0xd3 => {
            let w = 1usize << (t & 3);
            c.p += 1;
            let v = c.be(w)?;
            if t >= 0xd0 {
                let shift = 64 - 8 * w as u32;
                num(((v << shift) as i64 >> shift) as f64)
            } else {
                num(v as f64)
            }
        }
        0xc0 => {
            c.p += 1;
            Ok(Value::Nil)
        }
        0xc2 | 0xc3 => {
            c.p += 1;
            Ok(Value::Boolean(t == 0xc3))
        }
        0xca => {
            c.p += 1;
            num(f32::from_bits(c.be(4)? as u32) as f64)
        }
        0xcb => {
            c.p += 1;
            num(f64::from_bits(c.be(8)?))
        }
        0xd9..=0xdb => {
            let w = match t {
                0xd9 => 1,
                0xda => 2,
                _ => 4,
            };
            c.need(1 + w)?;
            c.p += 1;
            let l = c.be(w)? as usize;
            Ok(Value::String(lua.create_string(c.take(l)?)?))
        }
        0xdc..=0xdf => {
            let w = if t == 0xdc || t == 0xde { 2 } else { 4 };
            c.need(1 + w)?;
            c.p += 1;
            let l = c.be(w)? as usize;
            if t <= 0xdd {
                mp_decode_array(lua, c, l, depth)
            } else {
                mp_decode_map(lua, c, l, depth)
            }
        }
        _ if t & 0x80 == 0 => {
            c.p += 1;
            num(t as f64)
        }
        _ if t & 0xe0 == 0xe0 => {
            c.p += 1;
            num(t as i8 as f64)
        }
        _ if t & 0xe0 == 0xa0 => {
            let l = (t & 0x1f) as usize;
            c.need(1 + l)?;
            c.p += 1;
            Ok(Value::String(lua.create_string(c.take(l)?)?))
        }
        _ if t & 0xf0 == 0x90 => {
            c.p += 1;
            mp_decode_array(lua, c, (t & 0xf) as usize, depth)
        }
        _ if t & 0xf0 == 0x80 => {
            c.p += 1;
            mp_decode_map(lua, c, (t & 0xf) as usize, depth)
        }
        _ => Err(MpErr::BadFmt),
    }
}

fn mp_decode_array(lua: &Lua, c: &mut MpCur, len: usize, depth: usize) -> Result<Value, MpErr> {
    let t = lua.create_table()?;
    for i in 1..=len {
        let v = mp_decode(lua, c, depth + 1)?;
        t.raw_set(i, v)?;
    }
    Ok(Value::Table(t))
}

fn mp_decode_map(lua: &Lua, c: &mut MpCur, len: usize, depth: usize) -> Result<Value, MpErr> {
    let t = lua.create_table()?;
    for _ in 0..len {
        let k = mp_decode(lua, c, depth + 1)?;
        let v = mp_decode(lua, c, depth + 1)?;
        match &k {
            Value::Nil => return Err(MpErr::Lua(err("table index is nil"))),
            Value::Number(n) if n.is_nan() => return Err(MpErr::Lua(err("table index is NaN"))),
            _ => t.raw_set(k, v)?,
        }
    }
    Ok(Value::Table(t))
}

/// cmsgpack.unpack(s): every value packed in `s`, in order.
fn mp_unpack(lua: &Lua, args: &MultiValue) -> mlua::Result<MultiValue> {
    let bytes = string_arg(args, 1, "unpack")?;
    let mut c = MpCur { b: &bytes, p: 0 };
    let mut vals = Vec::new();
    while c.p < bytes.len() {
        match mp_decode(lua, &mut c, 0) {
            Ok(v) => vals.push(v),
            Err(MpErr::Eof) => return Err(err("Missing bytes in input.")),
            Err(MpErr::BadFmt) => return Err(err("Bad data format in input.")),
            Err(MpErr::Lua(e)) => return Err(e),
        }
    }
    Ok(MultiValue::from_vec(vals))
}

// ---------------------------------------------------------------------------------------
// struct (Roberto Ierusalimschy's struct library, as Redis bundles it)
// ---------------------------------------------------------------------------------------

/// The format state: byte order and maximum alignment.
struct Fmt<'a> {
    /// The struct function reading it (pack, unpack, size), for error texts.
    name: &'static str,
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
                other => {
                    let name = self.name;
                    return Err(err(format!(
                        "bad argument #1 to '{name}' (invalid format option '{}')",
                        other as char
                    )));
                }
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

/// struct's type name for argument errors: a missing argument reads as nil there.
fn struct_type_name(v: Option<&Value>) -> &'static str {
    v.map_or("nil", super::scripting::lua_type_name)
}

fn arg_number(v: Option<&Value>, n: usize) -> mlua::Result<f64> {
    v.and_then(lua_tonumber)
        .ok_or_else(|| err(format!("bad argument #{n} to 'pack' (number expected, got {})", struct_type_name(v))))
}

fn structlib(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set(
        "pack",
        lua.create_function(|_, args: MultiValue| {
            let f = string_arg(&args, 1, "pack")?;
            let vals: Vec<Value> = args.into_iter().skip(1).collect();
            let mut fm = Fmt { name: "pack", f: &f, i: 0, little: cfg!(target_endian = "little"), maxalign: 1 };
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
                            Some(Value::Number(x)) => super::scripting::lua_number_text(*x).into_bytes(),
                            other => {
                                return Err(err(format!(
                                    "bad argument #{} to 'pack' (string expected, got {})",
                                    k + 2,
                                    struct_type_name(other)
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
                                    return Err(err(format!("bad argument #{} to 'pack' (string too short)", k + 2)));
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
        lua.create_function(|lua, args: MultiValue| {
            let f = string_arg(&args, 1, "unpack")?;
            let d = string_arg(&args, 2, "unpack")?;
            let init = match args.get(2) {
                None | Some(Value::Nil) => 1,
                Some(v) => lua_tonumber(v).ok_or_else(|| {
                    let got = super::scripting::lua_type_name(v);
                    err(format!("bad argument #3 to 'unpack' (number expected, got {got})"))
                })? as i64,
            };
            let mut pos = (init.max(1) - 1) as usize;
            let mut fm = Fmt { name: "unpack", f: &f, i: 0, little: cfg!(target_endian = "little"), maxalign: 1 };
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
                        // struct checks the bounds (pos + size) before the option itself.
                        if pos + n > d.len() {
                            return Err(short());
                        }
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
                    Item::Pad => {
                        d.get(pos..pos + 1).ok_or_else(short)?;
                        pos += 1;
                    }
                    Item::Skip => {}
                }
            }
            out.push(Value::Number((pos + 1) as f64));
            Ok(MultiValue::from_vec(out))
        })?,
    )?;
    t.set(
        "size",
        lua.create_function(|_, args: MultiValue| {
            let f = string_arg(&args, 1, "size")?;
            let mut fm = Fmt { name: "size", f: &f, i: 0, little: true, maxalign: 1 };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtod_prefix_takes_what_c_takes() {
        let cases: &[(&str, f64, usize)] = &[
            ("12abc", 12.0, 2),
            ("-0.5e-2,", -0.005, 7),
            ("1e", 1.0, 1),
            ("1e+", 1.0, 1),
            ("1.", 1.0, 2),
            (".5", 0.5, 2),
            ("-", 0.0, 0),
            ("0x1F]", 31.0, 4),
            ("0x1p3", 8.0, 5),
            ("0x", 0.0, 1),
            ("+7", 7.0, 2),
            ("infinityx", f64::INFINITY, 8),
            ("-inf", f64::NEG_INFINITY, 4),
            ("1e400", f64::INFINITY, 5),
        ];
        for (text, v, used) in cases {
            assert_eq!(strtod_prefix(text.as_bytes()), (*v, *used), "{text}");
        }
        let (n, used) = strtod_prefix(b"nan(abc)x");
        assert!(n.is_nan());
        assert_eq!(used, 8);
    }
}
