//! Redis's RDB format: the value serializer (RDB files, DUMP payloads) and the loader.
//!
//! Owns: RDB version 10 writing exactly as Redis 7.0 lays values out (strings with
//! integer and LZF encodings, quicklist-2 lists of listpack nodes, intset / plain sets,
//! listpack / plain hashes, listpack / zset-2 sorted sets, stream-listpacks-2 streams),
//! and reading every type Redis 7.0 can load (RDB versions 1..=10, including the old
//! ziplist, zipmap and quicklist encodings and stream-listpacks v1).
//!
//! Must hold:
//! - the loader never panics and never allocates more than the input can justify: every
//!   length is checked against the bytes left before anything is reserved, and errors say
//!   what was wrong and at which offset;
//! - a value written here loads back into an equal value, here and in redis-server, and
//!   passes `redis-check-rdb`;
//! - values are rebuilt with the encoding limits in force (`LoadLimits`), so a loaded
//!   value reports the OBJECT ENCODING Redis would give it.

use super::crc64::crc64;
use super::lzf;
use super::packed::{self, Entry, ListpackWriter};
use crate::protocol::reply::fmt_double;
use crate::store::hash::{Hash, HashLimits};
use crate::store::list::List;
use crate::store::num::parse_f64;
use crate::store::parse_i64_strict;
use crate::store::set::{Member, Set};
use crate::store::stream::{EntryExport, Group, Nack, NodeExport, Stream, StreamId};
use crate::store::zset::{self, cmp_entry, ZSet};
use crate::store::Value;

/// The RDB version written (Redis 7.0's).
pub const RDB_VERSION: u16 = 10;

// Value types.
const T_STRING: u8 = 0;
const T_LIST: u8 = 1;
const T_SET: u8 = 2;
const T_ZSET: u8 = 3;
const T_HASH: u8 = 4;
const T_ZSET_2: u8 = 5;
const T_MODULE: u8 = 6;
const T_MODULE_2: u8 = 7;
const T_HASH_ZIPMAP: u8 = 9;
const T_LIST_ZIPLIST: u8 = 10;
const T_SET_INTSET: u8 = 11;
const T_ZSET_ZIPLIST: u8 = 12;
const T_HASH_ZIPLIST: u8 = 13;
const T_LIST_QUICKLIST: u8 = 14;
const T_STREAM_LISTPACKS: u8 = 15;
const T_HASH_LISTPACK: u8 = 16;
const T_ZSET_LISTPACK: u8 = 17;
const T_LIST_QUICKLIST_2: u8 = 18;
const T_STREAM_LISTPACKS_2: u8 = 19;

// Opcodes.
pub const OP_FUNCTION2: u8 = 245;
pub const OP_FUNCTION: u8 = 246;
pub const OP_MODULE_AUX: u8 = 247;
pub const OP_IDLE: u8 = 248;
pub const OP_FREQ: u8 = 249;
pub const OP_AUX: u8 = 250;
pub const OP_RESIZEDB: u8 = 251;
pub const OP_EXPIRETIME_MS: u8 = 252;
pub const OP_EXPIRETIME: u8 = 253;
pub const OP_SELECTDB: u8 = 254;
pub const OP_EOF: u8 = 255;

const ENC_INT8: u8 = 0;
const ENC_INT16: u8 = 1;
const ENC_INT32: u8 = 2;
const ENC_LZF: u8 = 3;

const QUICKLIST_NODE_PLAIN: u64 = 1;
const QUICKLIST_NODE_PACKED: u64 = 2;

/// Redis's double2ll bound for storing an integral zset score as a listpack integer.
const SCORE_INT_LIMIT: f64 = 4611686018427387904.0;

/// Serializer options.
#[derive(Clone, Copy, Debug)]
pub struct SaveOpts {
    /// `rdbcompression`: LZF-compress strings longer than 20 bytes when it pays.
    pub compress: bool,
    /// `list-max-listpack-size`: quicklist node size (negative: bytes class, positive:
    /// entries).
    pub list_max_listpack_size: i64,
}

impl Default for SaveOpts {
    fn default() -> Self {
        SaveOpts { compress: true, list_max_listpack_size: -2 }
    }
}

/// Encoding limits used to rebuild loaded values.
#[derive(Clone, Copy, Debug)]
pub struct LoadLimits {
    pub hash: HashLimits,
    pub zset: zset::Limits,
    pub max_intset: usize,
}

impl Default for LoadLimits {
    fn default() -> Self {
        LoadLimits {
            hash: HashLimits { max_entries: 512, max_value: 64 },
            zset: zset::Limits { entries: 128, value: 64 },
            max_intset: 512,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------

/// An RDB byte stream being built.
pub struct Writer {
    pub buf: Vec<u8>,
    opts: SaveOpts,
}

impl Writer {
    pub fn new(opts: SaveOpts) -> Writer {
        Writer { buf: Vec::new(), opts }
    }

    pub fn byte(&mut self, b: u8) {
        self.buf.push(b);
    }

    /// Redis's rdbSaveLen.
    pub fn len(&mut self, n: u64) {
        if n < 1 << 6 {
            self.buf.push(n as u8);
        } else if n < 1 << 14 {
            self.buf.push(0x40 | (n >> 8) as u8);
            self.buf.push(n as u8);
        } else if n <= u32::MAX as u64 {
            self.buf.push(0x80);
            self.buf.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            self.buf.push(0x81);
            self.buf.extend_from_slice(&n.to_be_bytes());
        }
    }

    /// Redis's rdbEncodeInteger: true if `v` fits an 8/16/32-bit encoding.
    fn int_enc(&mut self, v: i64) -> bool {
        if (i8::MIN as i64..=i8::MAX as i64).contains(&v) {
            self.buf.extend_from_slice(&[0xC0 | ENC_INT8, v as i8 as u8]);
        } else if (i16::MIN as i64..=i16::MAX as i64).contains(&v) {
            self.buf.push(0xC0 | ENC_INT16);
            self.buf.extend_from_slice(&(v as i16).to_le_bytes());
        } else if (i32::MIN as i64..=i32::MAX as i64).contains(&v) {
            self.buf.push(0xC0 | ENC_INT32);
            self.buf.extend_from_slice(&(v as i32).to_le_bytes());
        } else {
            return false;
        }
        true
    }

    /// Redis's rdbSaveRawString: integer encoding for short integer strings, LZF for
    /// long compressible ones (when `rdbcompression`), otherwise length + bytes.
    pub fn string(&mut self, s: &[u8]) {
        if s.len() <= 11 {
            if let Some(v) = parse_i64_strict(s) {
                if self.int_enc(v) {
                    return;
                }
            }
        }
        if self.opts.compress && s.len() > 20 {
            if let Some(c) = lzf::compress(s) {
                self.buf.push(0xC0 | ENC_LZF);
                self.len(c.len() as u64);
                self.len(s.len() as u64);
                self.buf.extend_from_slice(&c);
                return;
            }
        }
        self.len(s.len() as u64);
        self.buf.extend_from_slice(s);
    }

    /// Redis's rdbSaveLongLongAsStringObject.
    pub fn int_string(&mut self, v: i64) {
        if !self.int_enc(v) {
            let s = v.to_string();
            self.len(s.len() as u64);
            self.buf.extend_from_slice(s.as_bytes());
        }
    }

    pub fn aux(&mut self, key: &str, val: &str) {
        self.byte(OP_AUX);
        self.string(key.as_bytes());
        self.string(val.as_bytes());
    }

    /// The file header: magic, version and Redis's aux fields.
    pub fn header(&mut self, version: &str, ctime: i64, used_mem: u64) {
        self.buf.extend_from_slice(format!("REDIS{RDB_VERSION:04}").as_bytes());
        self.aux("redis-ver", version);
        self.aux("redis-bits", "64");
        self.aux("ctime", &ctime.to_string());
        self.aux("used-mem", &used_mem.to_string());
        self.aux("aof-base", "0");
    }

    pub fn select_db(&mut self, db: usize, size: u64, expires: u64) {
        self.byte(OP_SELECTDB);
        self.len(db as u64);
        self.byte(OP_RESIZEDB);
        self.len(size);
        self.len(expires);
    }

    /// One key: optional expire opcode, type, key, value.
    pub fn key_value(&mut self, key: &[u8], val: &Value, expire_at: Option<i64>) {
        if let Some(at) = expire_at {
            self.byte(OP_EXPIRETIME_MS);
            self.buf.extend_from_slice(&at.to_le_bytes());
        }
        let ty_at = self.buf.len();
        self.byte(0);
        self.string(key);
        let ty = self.value(val);
        self.buf[ty_at] = ty;
    }

    /// The EOF opcode and the CRC64 footer (zero when `checksum` is off).
    pub fn finish(mut self, checksum: bool) -> Vec<u8> {
        self.byte(OP_EOF);
        let crc = if checksum { crc64(0, &self.buf) } else { 0 };
        self.buf.extend_from_slice(&crc.to_le_bytes());
        self.buf
    }

    /// Writes a value's body; returns its RDB type.
    pub fn value(&mut self, val: &Value) -> u8 {
        match val {
            Value::Int(i) => {
                self.int_string(*i);
                T_STRING
            }
            Value::Emb(b) => {
                self.string(b.as_slice());
                T_STRING
            }
            Value::Raw(v) => {
                self.string(v);
                T_STRING
            }
            Value::List(l) => {
                self.list(l);
                T_LIST_QUICKLIST_2
            }
            Value::Set(s) => self.set(s),
            Value::Hash(h) => self.hash(h),
            Value::ZSet(z) => self.zset(z),
            Value::Stream(s) => {
                self.stream(s);
                T_STREAM_LISTPACKS_2
            }
        }
    }

    fn list(&mut self, l: &List) {
        // Redis's quicklist node limits: a negative fill is a size class, positive a count.
        let fill = self.opts.list_max_listpack_size;
        let (max_bytes, max_count) = match fill {
            f if f >= 0 => (usize::MAX, (f.max(1)) as usize),
            -1 => (4096, usize::MAX),
            -2 => (8192, usize::MAX),
            -3 => (16384, usize::MAX),
            -4 => (32768, usize::MAX),
            _ => (65536, usize::MAX),
        };
        let mut nodes: Vec<Vec<u8>> = Vec::new();
        let mut lp = ListpackWriter::new();
        for e in l.iter() {
            let extra = e.len() + 11;
            if !lp.is_empty() && (lp.len() >= max_count || lp.byte_len() + extra > max_bytes) {
                nodes.push(std::mem::take(&mut lp).finish());
            }
            lp.push_str(e);
        }
        if !lp.is_empty() {
            nodes.push(lp.finish());
        }
        self.len(nodes.len() as u64);
        for n in nodes {
            self.len(QUICKLIST_NODE_PACKED);
            self.string(&n);
        }
    }

    fn set(&mut self, s: &Set) -> u8 {
        if s.is_compact() {
            let ints: Vec<i64> = s.iter().filter_map(|m| if let Member::Int(i) = m { Some(i) } else { None }).collect();
            self.string(&packed::intset_encode(&ints));
            T_SET_INTSET
        } else {
            self.len(s.len() as u64);
            for m in s.iter() {
                m.with_bytes(|b| self.string(b));
            }
            T_SET
        }
    }

    fn hash(&mut self, h: &Hash) -> u8 {
        if h.is_compact() {
            let mut lp = ListpackWriter::new();
            for (f, v) in h.iter() {
                lp.push_str(f);
                lp.push_str(v);
            }
            self.string(&lp.finish());
            T_HASH_LISTPACK
        } else {
            self.len(h.len() as u64);
            for (f, v) in h.iter() {
                self.string(f);
                self.string(v);
            }
            T_HASH
        }
    }

    fn zset(&mut self, z: &ZSet) -> u8 {
        if z.encoding() == "listpack" {
            let mut lp = ListpackWriter::new();
            for (m, s) in z.iter() {
                lp.push_str(m);
                if (-SCORE_INT_LIMIT..=SCORE_INT_LIMIT).contains(&s) && s.trunc() == s {
                    lp.push_int(s as i64);
                } else {
                    lp.push_str(fmt_double(s).as_bytes());
                }
            }
            self.string(&lp.finish());
            T_ZSET_LISTPACK
        } else {
            // Like Redis, from the tail so a loader can insert at the head.
            self.len(z.len() as u64);
            let all: Vec<(&[u8], f64)> = z.iter().collect();
            for (m, s) in all.into_iter().rev() {
                self.string(m);
                self.buf.extend_from_slice(&s.to_le_bytes());
            }
            T_ZSET_2
        }
    }

    fn stream_id(&mut self, id: StreamId) {
        self.len(id.ms);
        self.len(id.seq);
    }

    fn stream(&mut self, s: &Stream) {
        self.len(s.node_count() as u64);
        for node in s.export_nodes() {
            let mut key = [0u8; 16];
            key[..8].copy_from_slice(&node.master.ms.to_be_bytes());
            key[8..].copy_from_slice(&node.master.seq.to_be_bytes());
            self.string(&key);
            self.string(&node_listpack(&node));
        }
        self.len(s.len() as u64);
        self.stream_id(s.last_id);
        self.stream_id(s.first_id());
        self.stream_id(s.max_deleted_id);
        self.len(s.entries_added);
        self.len(s.groups.len() as u64);
        for (name, g) in &s.groups {
            self.string(name);
            self.stream_id(g.last_id);
            self.len(g.entries_read as u64);
            self.len(g.pel.len() as u64);
            for (id, nack) in &g.pel {
                raw_id(&mut self.buf, *id);
                self.buf.extend_from_slice(&nack.delivery_time.to_le_bytes());
                self.len(nack.delivery_count);
            }
            self.len(g.consumers.len() as u64);
            for (cname, c) in &g.consumers {
                self.string(cname);
                self.buf.extend_from_slice(&c.seen_time.to_le_bytes());
                self.len(c.pel.len() as u64);
                for id in &c.pel {
                    raw_id(&mut self.buf, *id);
                }
            }
        }
    }
}

fn raw_id(out: &mut Vec<u8>, id: StreamId) {
    out.extend_from_slice(&id.ms.to_be_bytes());
    out.extend_from_slice(&id.seq.to_be_bytes());
}

/// A stream node as Redis's listpack: master entry, then entries with their lp-count.
fn node_listpack(node: &NodeExport) -> Vec<u8> {
    let mut lp = ListpackWriter::new();
    lp.push_int(node.live as i64);
    lp.push_int(node.deleted as i64);
    lp.push_int(node.fields.len() as i64);
    for f in &node.fields {
        lp.push_str(f);
    }
    lp.push_int(0);
    for e in &node.entries {
        let flags = (e.deleted as i64) | if e.same_fields { 2 } else { 0 };
        lp.push_int(flags);
        lp.push_int(e.id.ms.wrapping_sub(node.master.ms) as i64);
        lp.push_int(e.id.seq.wrapping_sub(node.master.seq) as i64);
        let count = if e.same_fields {
            for v in &e.strings {
                lp.push_str(v);
            }
            e.strings.len() as i64 + 3
        } else {
            let nfields = (e.strings.len() / 2) as i64;
            lp.push_int(nfields);
            for s in &e.strings {
                lp.push_str(s);
            }
            nfields * 2 + 4
        };
        lp.push_int(count);
    }
    lp.finish()
}

/// A DUMP payload: type, value, RDB version (2 bytes LE), CRC64 (8 bytes LE).
pub fn dump_payload(val: &Value, opts: SaveOpts) -> Vec<u8> {
    let mut w = Writer::new(opts);
    w.byte(0);
    let ty = w.value(val);
    w.buf[0] = ty;
    w.buf.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64(0, &w.buf);
    w.buf.extend_from_slice(&crc.to_le_bytes());
    w.buf
}

/// Appends the RDB version and CRC64 a DUMP payload ends with (FUNCTION DUMP's records).
pub fn seal_payload(mut buf: Vec<u8>) -> Vec<u8> {
    buf.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64(0, &buf);
    buf.extend_from_slice(&crc.to_le_bytes());
    buf
}

/// Checks a DUMP payload's version and checksum (Redis's verifyDumpPayload); returns the
/// type + value bytes.
pub fn verify_payload(p: &[u8]) -> Option<&[u8]> {
    if p.len() < 10 {
        return None;
    }
    let body = &p[..p.len() - 10];
    let ver = u16::from_le_bytes([p[p.len() - 10], p[p.len() - 9]]);
    if ver > RDB_VERSION {
        return None;
    }
    let mut crc = [0u8; 8];
    crc.copy_from_slice(&p[p.len() - 8..]);
    (crc64(0, &p[..p.len() - 8]) == u64::from_le_bytes(crc)).then_some(body)
}

/// Decodes a verified DUMP payload body into a value.
pub fn load_payload(body: &[u8], lim: LoadLimits) -> Result<Value, String> {
    let mut r = Reader::new(body);
    let ty = r.u8()?;
    let v = r.value(ty, lim)?;
    v.ok_or_else(|| "empty value".to_string())
}

// ---------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------

/// A cursor over RDB bytes. Errors name the offset.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

/// What a loaded file said besides its keys.
#[derive(Debug, Default)]
pub struct LoadInfo {
    pub version: u16,
    pub aux: Vec<(Vec<u8>, Vec<u8>)>,
    pub keys_loaded: u64,
    pub keys_expired: u64,
    /// FUNCTION library codes found (RDB opcode 245), for the caller to load.
    pub functions: Vec<Vec<u8>>,
    pub empty_keys_skipped: u64,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    fn err<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("{what} at offset {}", self.pos))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.buf.len() - self.pos < n {
            return self.err("unexpected end of data");
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn arr<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    /// Redis's rdbLoadLenByRef: (length or encoding, is_encoded).
    fn len_enc(&mut self) -> Result<(u64, bool), String> {
        let b = self.u8()?;
        Ok(match b >> 6 {
            0 => ((b & 0x3f) as u64, false),
            1 => ((((b & 0x3f) as u64) << 8) | self.u8()? as u64, false),
            3 => ((b & 0x3f) as u64, true),
            _ => match b {
                0x80 => (u32::from_be_bytes(self.arr()?) as u64, false),
                0x81 => (u64::from_be_bytes(self.arr()?), false),
                _ => return self.err("unknown length encoding"),
            },
        })
    }

    pub fn length(&mut self) -> Result<u64, String> {
        match self.len_enc()? {
            (n, false) => Ok(n),
            _ => self.err("encoded value where a length was expected"),
        }
    }

    /// A length that counts items each at least `min_bytes` long: rejects counts the
    /// remaining input cannot hold, so corrupt lengths cannot trigger huge allocations.
    fn count(&mut self, min_bytes: usize) -> Result<usize, String> {
        let n = self.length()?;
        let left = (self.buf.len() - self.pos) as u64;
        if n.saturating_mul(min_bytes.max(1) as u64) > left {
            return self.err("length larger than the remaining data");
        }
        Ok(n as usize)
    }

    /// Redis's rdbGenericLoadStringObject.
    pub fn string(&mut self) -> Result<Vec<u8>, String> {
        let (n, enc) = self.len_enc()?;
        if !enc {
            let n = usize::try_from(n).or_else(|_| self.err("string too long"))?;
            return Ok(self.take(n)?.to_vec());
        }
        match n as u8 {
            ENC_INT8 => Ok((self.u8()? as i8).to_string().into_bytes()),
            ENC_INT16 => Ok(i16::from_le_bytes(self.arr()?).to_string().into_bytes()),
            ENC_INT32 => Ok(i32::from_le_bytes(self.arr()?).to_string().into_bytes()),
            ENC_LZF => {
                let clen = self.length()? as usize;
                let len = self.length()?;
                // LZF expands at most ~ 1 + 264/3 per input byte; reject absurd sizes.
                if len > (clen as u64).saturating_mul(100).saturating_add(64) {
                    return self.err("LZF length out of range");
                }
                let at = self.pos;
                let data = self.take(clen)?;
                lzf::decompress(data, len as usize).map_err(|e| format!("invalid LZF data ({e}) at offset {at}"))
            }
            _ => self.err("unknown string encoding"),
        }
    }

    /// Redis's rdbLoadDoubleValue (the old ZSET type's text scores).
    fn text_double(&mut self) -> Result<f64, String> {
        match self.u8()? {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            n => {
                let s = self.take(n as usize)?;
                match std::str::from_utf8(s).ok().and_then(|t| t.parse::<f64>().ok()) {
                    Some(d) => Ok(d),
                    None => self.err("invalid double"),
                }
            }
        }
    }

    fn binary_double(&mut self) -> Result<f64, String> {
        Ok(f64::from_le_bytes(self.arr()?))
    }

    fn ms_time(&mut self) -> Result<i64, String> {
        Ok(i64::from_le_bytes(self.arr()?))
    }

    fn raw_id(&mut self) -> Result<StreamId, String> {
        let b: [u8; 16] = self.arr()?;
        let mut ms = [0u8; 8];
        let mut seq = [0u8; 8];
        ms.copy_from_slice(&b[..8]);
        seq.copy_from_slice(&b[8..]);
        Ok(StreamId::new(u64::from_be_bytes(ms), u64::from_be_bytes(seq)))
    }

    fn stream_id(&mut self) -> Result<StreamId, String> {
        Ok(StreamId::new(self.length()?, self.length()?))
    }

    fn packed<T>(&mut self, what: &str, f: impl FnOnce(&[u8]) -> Result<T, String>) -> Result<T, String> {
        let at = self.pos;
        let blob = self.string()?;
        f(&blob).map_err(|e| format!("invalid {what} ({e}) at offset {at}"))
    }

    /// Reads a value of type `ty`. `Ok(None)`: a valid but empty collection (Redis skips
    /// those when loading a file).
    pub fn value(&mut self, ty: u8, lim: LoadLimits) -> Result<Option<Value>, String> {
        let v = match ty {
            T_STRING => return Ok(Some(Value::string(&self.string()?))),
            T_LIST => {
                let n = self.count(1)?;
                let mut l = List::new();
                for _ in 0..n {
                    l.push(&self.string()?, false);
                }
                Value::List(Box::new(l))
            }
            T_LIST_ZIPLIST => {
                let items = self.packed("ziplist", packed::ziplist_decode)?;
                let mut l = List::new();
                for e in items {
                    l.push(&e.to_bytes(), false);
                }
                Value::List(Box::new(l))
            }
            T_LIST_QUICKLIST | T_LIST_QUICKLIST_2 => {
                let n = self.count(1)?;
                let mut l = List::new();
                for _ in 0..n {
                    let container = if ty == T_LIST_QUICKLIST_2 { self.length()? } else { QUICKLIST_NODE_PACKED };
                    if container == QUICKLIST_NODE_PLAIN {
                        l.push(&self.string()?, false);
                        continue;
                    }
                    if container != QUICKLIST_NODE_PACKED {
                        return self.err("unknown quicklist node container");
                    }
                    let items = if ty == T_LIST_QUICKLIST_2 {
                        self.packed("listpack", packed::listpack_decode)?
                    } else {
                        self.packed("ziplist", packed::ziplist_decode)?
                    };
                    if items.is_empty() {
                        return self.err("empty quicklist node");
                    }
                    for e in items {
                        l.push(&e.to_bytes(), false);
                    }
                }
                Value::List(Box::new(l))
            }
            T_SET => {
                let n = self.count(1)?;
                let mut s = Set::default();
                for _ in 0..n {
                    let m = self.string()?;
                    if !s.add(&m, lim.max_intset) {
                        return self.err("duplicate set member");
                    }
                }
                Value::Set(Box::new(s))
            }
            T_SET_INTSET => {
                let ints = self.packed("intset", packed::intset_decode)?;
                let mut s = Set::default();
                for i in ints {
                    if !s.add(i.to_string().as_bytes(), lim.max_intset) {
                        return self.err("duplicate intset member");
                    }
                }
                Value::Set(Box::new(s))
            }
            T_HASH => {
                let n = self.count(2)?;
                let mut h = Hash::default();
                for _ in 0..n {
                    let f = self.string()?;
                    let v = self.string()?;
                    if !h.set(&f, &v, lim.hash) {
                        return self.err("duplicate hash field");
                    }
                }
                Value::Hash(Box::new(h))
            }
            T_HASH_ZIPMAP => {
                let pairs = self.packed("zipmap", packed::zipmap_decode)?;
                let mut h = Hash::default();
                for (f, v) in pairs {
                    if !h.set(&f, &v, lim.hash) {
                        return self.err("duplicate hash field");
                    }
                }
                Value::Hash(Box::new(h))
            }
            T_HASH_ZIPLIST | T_HASH_LISTPACK => {
                let items = if ty == T_HASH_LISTPACK {
                    self.packed("listpack", packed::listpack_decode)?
                } else {
                    self.packed("ziplist", packed::ziplist_decode)?
                };
                if items.len() % 2 != 0 {
                    return self.err("hash with an odd number of elements");
                }
                let mut h = Hash::default();
                for pair in items.chunks(2) {
                    if !h.set(&pair[0].to_bytes(), &pair[1].to_bytes(), lim.hash) {
                        return self.err("duplicate hash field");
                    }
                }
                Value::Hash(Box::new(h))
            }
            T_ZSET | T_ZSET_2 => {
                let n = self.count(2)?;
                let mut entries = Vec::with_capacity(n);
                for _ in 0..n {
                    let m = self.string()?;
                    let s = if ty == T_ZSET_2 { self.binary_double()? } else { self.text_double()? };
                    if s.is_nan() {
                        return self.err("NaN zset score");
                    }
                    entries.push((m, s));
                }
                zset_from(entries, lim).or_else(|e| self.err(&e))?
            }
            T_ZSET_ZIPLIST | T_ZSET_LISTPACK => {
                let items = if ty == T_ZSET_LISTPACK {
                    self.packed("listpack", packed::listpack_decode)?
                } else {
                    self.packed("ziplist", packed::ziplist_decode)?
                };
                if items.len() % 2 != 0 {
                    return self.err("zset with an odd number of elements");
                }
                let mut entries = Vec::with_capacity(items.len() / 2);
                for pair in items.chunks(2) {
                    let s = match &pair[1] {
                        Entry::Int(i) => *i as f64,
                        Entry::Str(b) => match parse_f64(b) {
                            Some(d) if !d.is_nan() => d,
                            _ => return self.err("invalid zset score"),
                        },
                    };
                    entries.push((pair[0].to_bytes(), s));
                }
                zset_from(entries, lim).or_else(|e| self.err(&e))?
            }
            T_STREAM_LISTPACKS | T_STREAM_LISTPACKS_2 => {
                return Ok(Some(Value::Stream(Box::new(self.stream(ty == T_STREAM_LISTPACKS_2)?))))
            }
            T_MODULE | T_MODULE_2 => return self.err("module values are not supported"),
            _ => return self.err(&format!("unknown value type {ty}")),
        };
        let empty = match &v {
            Value::List(l) => l.is_empty(),
            Value::Set(s) => s.is_empty(),
            Value::Hash(h) => h.is_empty(),
            Value::ZSet(z) => z.is_empty(),
            _ => false,
        };
        Ok((!empty).then_some(v))
    }

    fn stream(&mut self, v2: bool) -> Result<Stream, String> {
        let mut s = Stream::new();
        let nodes = self.count(2)?;
        for _ in 0..nodes {
            let key = self.string()?;
            if key.len() != 16 {
                return self.err("stream node key is not 16 bytes");
            }
            let mut ms = [0u8; 8];
            let mut seq = [0u8; 8];
            ms.copy_from_slice(&key[..8]);
            seq.copy_from_slice(&key[8..]);
            let master = StreamId::new(u64::from_be_bytes(ms), u64::from_be_bytes(seq));
            let at = self.pos;
            let items = self.packed("stream listpack", packed::listpack_decode)?;
            let node = parse_node(master, &items).map_err(|e| format!("invalid stream node ({e}) at offset {at}"))?;
            s.import_node(node).map_err(|e| format!("{e} at offset {at}"))?;
        }
        let _len = self.length()?;
        s.last_id = self.stream_id()?;
        if v2 {
            let _first = self.stream_id()?;
            s.max_deleted_id = self.stream_id()?;
            s.entries_added = self.length()?;
        } else {
            s.entries_added = s.len() as u64;
        }
        let ngroups = self.count(3)?;
        for _ in 0..ngroups {
            let name = self.string()?;
            let last_id = self.stream_id()?;
            let entries_read = if v2 { self.length()? as i64 } else { crate::store::stream::INVALID_ENTRIES_READ };
            let mut g = Group::new(last_id, entries_read);
            let npel = self.count(17)?;
            for _ in 0..npel {
                let id = self.raw_id()?;
                let delivery_time = self.ms_time()?;
                let delivery_count = self.length()?;
                g.pel.insert(id, Nack { delivery_time, delivery_count, consumer: Vec::new() });
            }
            let nconsumers = self.count(9)?;
            for _ in 0..nconsumers {
                let cname = self.string()?;
                let seen = self.ms_time()?;
                g.create_consumer(&cname, seen);
                let n = self.count(16)?;
                for _ in 0..n {
                    let id = self.raw_id()?;
                    match g.pel.get_mut(&id) {
                        Some(nack) if nack.consumer.is_empty() => nack.consumer = cname.clone(),
                        _ => return self.err("consumer pending entry not in the group's PEL"),
                    }
                    if let Some(c) = g.consumers.get_mut(&cname) {
                        c.pel.insert(id);
                        c.seen_time = seen;
                    }
                }
                if let Some(c) = g.consumers.get_mut(&cname) {
                    c.seen_time = seen;
                }
            }
            if g.pel.values().any(|n| n.consumer.is_empty()) {
                return self.err("group pending entry without a consumer");
            }
            s.groups.insert(name, g);
        }
        Ok(s)
    }
}

fn zset_from(mut entries: Vec<(Vec<u8>, f64)>, lim: LoadLimits) -> Result<Value, String> {
    entries.sort_by(|a, b| cmp_entry(a.1, &a.0, b.1, &b.0));
    let mut seen = std::collections::HashSet::with_capacity(entries.len());
    for (m, _) in &entries {
        if !seen.insert(m.as_slice()) {
            return Err("duplicate zset member".into());
        }
    }
    let z = ZSet::from_sorted(entries.iter().map(|(m, s)| (m.as_slice(), *s)), lim.zset);
    Ok(Value::ZSet(Box::new(z)))
}

fn lp_int(e: Option<&Entry>) -> Result<i64, String> {
    match e {
        Some(Entry::Int(i)) => Ok(*i),
        Some(Entry::Str(s)) => parse_i64_strict(s).ok_or_else(|| "expected an integer".to_string()),
        None => Err("truncated node".into()),
    }
}

/// Parses a stream node listpack (master entry + entries, see `node_listpack`).
fn parse_node(master: StreamId, items: &[Entry]) -> Result<NodeExport, String> {
    let mut it = items.iter();
    let live = lp_int(it.next())?;
    let deleted = lp_int(it.next())?;
    let nfields = lp_int(it.next())?;
    if !(0..=items.len() as i64).contains(&nfields) {
        return Err("bad master field count".into());
    }
    let mut fields = Vec::with_capacity(nfields as usize);
    for _ in 0..nfields {
        fields.push(it.next().ok_or("truncated master entry")?.to_bytes());
    }
    if lp_int(it.next())? != 0 {
        return Err("missing master entry terminator".into());
    }
    let mut entries = Vec::new();
    while let Some(flags) = it.next() {
        let flags = lp_int(Some(flags))?;
        let ms = master.ms.wrapping_add(lp_int(it.next())? as u64);
        let seq = master.seq.wrapping_add(lp_int(it.next())? as u64);
        let same = flags & 2 != 0;
        let nstrings = if same {
            nfields
        } else {
            let n = lp_int(it.next())?;
            if !(0..=items.len() as i64).contains(&n) {
                return Err("bad entry field count".into());
            }
            n * 2
        };
        let mut strings = Vec::with_capacity(nstrings as usize);
        for _ in 0..nstrings {
            strings.push(it.next().ok_or("truncated entry")?.to_bytes());
        }
        let _lp_count = lp_int(it.next())?;
        entries.push(EntryExport { id: StreamId::new(ms, seq), deleted: flags & 1 != 0, same_fields: same, strings });
    }
    let (l, d) = entries.iter().fold((0i64, 0i64), |(l, d), e| if e.deleted { (l, d + 1) } else { (l + 1, d) });
    if l != live || d != deleted {
        return Err("master entry counts do not match the entries".into());
    }
    Ok(NodeExport { master, fields, live: live as u32, deleted: deleted as u32, entries })
}

/// Loads a whole RDB file, calling `on_key(db, key, value, expire_at)` for every key.
/// Keys that expired before `now` are counted and skipped, as a Redis master does.
pub fn load_file(
    data: &[u8],
    lim: LoadLimits,
    now: i64,
    mut on_key: impl FnMut(usize, Vec<u8>, Value, Option<i64>) -> Result<(), String>,
) -> Result<LoadInfo, String> {
    let mut info = LoadInfo::default();
    if data.len() < 9 || &data[..5] != b"REDIS" {
        return Err("wrong signature trying to load DB from file".into());
    }
    let ver = std::str::from_utf8(&data[5..9]).ok().and_then(|s| s.parse::<u16>().ok());
    let Some(ver) = ver.filter(|v| (1..=RDB_VERSION).contains(v)) else {
        return Err(format!("can't handle RDB format version {}", String::from_utf8_lossy(&data[5..9])));
    };
    info.version = ver;
    let mut r = Reader::new(data);
    r.pos = 9;
    let mut db = 0usize;
    let mut expire: Option<i64> = None;
    loop {
        let op = r.u8()?;
        match op {
            OP_EXPIRETIME => {
                expire = Some(u32::from_le_bytes(r.arr()?) as i64 * 1000);
                continue;
            }
            OP_EXPIRETIME_MS => {
                expire = Some(r.ms_time()?);
                continue;
            }
            OP_FREQ => {
                r.u8()?;
                continue;
            }
            OP_IDLE => {
                r.length()?;
                continue;
            }
            OP_EOF => break,
            OP_SELECTDB => {
                db = r.length()? as usize;
                continue;
            }
            OP_RESIZEDB => {
                r.length()?;
                r.length()?;
                continue;
            }
            OP_AUX => {
                let k = r.string()?;
                let v = r.string()?;
                info.aux.push((k, v));
                continue;
            }
            OP_MODULE_AUX => return r.err("module aux data is not supported"),
            OP_FUNCTION2 => {
                info.functions.push(r.string()?);
                continue;
            }
            OP_FUNCTION => return r.err("pre-release function format is not supported"),
            _ => {}
        }
        let key = r.string()?;
        let at = r.pos;
        let val = r.value(op, lim)?;
        let exp = expire.take();
        let Some(val) = val else {
            info.empty_keys_skipped += 1;
            continue;
        };
        if exp.is_some_and(|e| e < now) {
            info.keys_expired += 1;
            continue;
        }
        on_key(db, key, val, exp).map_err(|e| format!("{e} (key at offset {at})"))?;
        info.keys_loaded += 1;
    }
    if ver >= 5 {
        let at = r.pos;
        let expected: [u8; 8] = r.arr()?;
        let expected = u64::from_le_bytes(expected);
        if expected != 0 {
            let crc = crc64(0, &data[..at]);
            if crc != expected {
                return Err(format!("wrong RDB checksum expected: ({expected:x}) got: ({crc:x})"));
            }
        }
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::stream::NodeLimits;

    fn roundtrip(v: &Value) -> Value {
        let p = dump_payload(v, SaveOpts::default());
        let body = verify_payload(&p).expect("valid payload");
        load_payload(body, LoadLimits::default()).expect("loads")
    }

    #[test]
    fn lengths_follow_redis() {
        let mut w = Writer::new(SaveOpts::default());
        for n in [0u64, 63, 64, 16383, 16384, u32::MAX as u64, u32::MAX as u64 + 1] {
            w.len(n);
        }
        let mut r = Reader::new(&w.buf);
        for n in [0u64, 63, 64, 16383, 16384, u32::MAX as u64, u32::MAX as u64 + 1] {
            assert_eq!(r.length().unwrap(), n);
        }
        assert_eq!(&w.buf[..3], &[0, 63, 0x40]);
    }

    #[test]
    fn strings_use_int_and_lzf_encodings() {
        let mut w = Writer::new(SaveOpts::default());
        w.string(b"-128");
        assert_eq!(w.buf, [0xC0, 0x80]);
        let mut w = Writer::new(SaveOpts::default());
        w.string(b"007");
        assert_eq!(w.buf, [3, b'0', b'0', b'7']);
        let long = vec![b'a'; 1000];
        let mut w = Writer::new(SaveOpts::default());
        w.string(&long);
        assert_eq!(w.buf[0], 0xC3);
        assert_eq!(Reader::new(&w.buf).string().unwrap(), long);
        let mut w = Writer::new(SaveOpts { compress: false, ..Default::default() });
        w.string(&long);
        assert_eq!(w.buf.len(), 1002);
    }

    #[test]
    fn values_roundtrip() {
        for s in [&b"12345"[..], b"-9223372036854775808", b"", b"hello", &[7u8; 100]] {
            let v = Value::string(s);
            assert_eq!(roundtrip(&v).as_bytes().unwrap(), v.as_bytes().unwrap());
        }
        let mut l = List::new();
        for i in 0..5000 {
            l.push(format!("e{i}").as_bytes(), false);
        }
        l.push(b"123", false);
        let Value::List(back) = roundtrip(&Value::List(Box::new(l.clone()))) else { panic!() };
        assert!(back.iter().eq(l.iter()));

        let lim = LoadLimits::default();
        for n in [3usize, 1000] {
            let mut h = Hash::default();
            for i in 0..n {
                h.set(format!("f{i}").as_bytes(), format!("{i}").as_bytes(), lim.hash);
            }
            let Value::Hash(back) = roundtrip(&Value::Hash(Box::new(h.clone()))) else { panic!() };
            assert_eq!(back.encoding(), h.encoding());
            let mut a: Vec<_> = h.iter().collect();
            let mut b: Vec<_> = back.iter().collect();
            a.sort();
            b.sort();
            assert_eq!(a, b);
        }
        for members in [vec!["1", "2", "-5"], vec!["a", "1"]] {
            let s = Set::from_members(members.iter().map(|m| m.as_bytes()), 512);
            let Value::Set(back) = roundtrip(&Value::Set(Box::new(s.clone()))) else { panic!() };
            assert_eq!(back.encoding(), s.encoding());
            assert_eq!(back.len(), s.len());
        }
        for n in [5usize, 300] {
            let mut e: Vec<(Vec<u8>, f64)> = (0..n).map(|i| (format!("m{i}").into_bytes(), i as f64 * 1.5)).collect();
            e.push((b"neg".to_vec(), f64::NEG_INFINITY));
            e.push((b"big".to_vec(), 1e300));
            let Value::ZSet(z) = zset_from(e, lim).unwrap() else { panic!() };
            let Value::ZSet(back) = roundtrip(&Value::ZSet(z.clone())) else { panic!() };
            assert_eq!(back.encoding(), z.encoding());
            assert!(back.iter().eq(z.iter()));
        }
    }

    #[test]
    fn streams_roundtrip() {
        let mut s = Stream::new();
        let lim = NodeLimits { max_bytes: 4096, max_entries: 3 };
        for i in 1..=10u64 {
            let v = i.to_string();
            let pairs: Vec<&[u8]> =
                if i % 4 == 0 { vec![b"other", v.as_bytes()] } else { vec![b"f", v.as_bytes(), b"g", b"x"] };
            s.append(StreamId::new(i, 0), &pairs, lim);
        }
        s.delete(StreamId::new(2, 0));
        s.max_deleted_id = StreamId::new(2, 0);
        let mut g = Group::new(StreamId::new(5, 0), 5);
        g.create_consumer(b"alice", 1000);
        g.create_consumer(b"bob", 1000);
        g.deliver(StreamId::new(3, 0), b"alice", 1000);
        g.deliver(StreamId::new(5, 0), b"bob", 2000);
        s.groups.insert(b"g1".to_vec(), g);
        let Value::Stream(back) = roundtrip(&Value::Stream(Box::new(s.clone()))) else { panic!() };
        assert_eq!(back.len(), s.len());
        assert_eq!(back.last_id, s.last_id);
        assert_eq!(back.entries_added, s.entries_added);
        assert_eq!(back.max_deleted_id, s.max_deleted_id);
        assert_eq!(back.range(StreamId::MIN, StreamId::MAX, false, 0), s.range(StreamId::MIN, StreamId::MAX, false, 0));
        let (a, b) = (&s.groups[&b"g1".to_vec()], &back.groups[&b"g1".to_vec()]);
        assert_eq!(a.pel.len(), b.pel.len());
        assert_eq!(b.pel[&StreamId::new(5, 0)].consumer, b"bob");
        assert_eq!(b.consumers[&b"alice".to_vec()].pel.len(), 1);
    }

    #[test]
    fn payload_checks() {
        let p = dump_payload(&Value::string(b"hello"), SaveOpts::default());
        assert!(verify_payload(&p).is_some());
        let mut bad = p.clone();
        bad[1] ^= 1;
        assert!(verify_payload(&bad).is_none());
        assert!(verify_payload(&p[..5]).is_none());
    }

    #[test]
    fn corrupt_input_never_panics() {
        let mut w = Writer::new(SaveOpts::default());
        w.header("7.0.15", 0, 0);
        w.select_db(0, 3, 0);
        let mut h = Hash::default();
        h.set(b"a", b"1", LoadLimits::default().hash);
        w.key_value(b"h", &Value::Hash(Box::new(h)), Some(1 << 50));
        let mut l = List::new();
        l.push(b"x", false);
        w.key_value(b"l", &Value::List(Box::new(l)), None);
        w.key_value(b"s", &Value::string(&[b'z'; 200]), None);
        let file = w.finish(true);
        let ok = load_file(&file, LoadLimits::default(), 0, |_, _, _, _| Ok(())).unwrap();
        assert_eq!(ok.keys_loaded, 3);
        let mut rng = 0x9e3779b97f4a7c15u64;
        for i in 0..20_000 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let mut f = file.clone();
            if i % 3 == 0 {
                f.truncate((rng as usize) % f.len());
            } else {
                let at = (rng as usize) % f.len();
                f[at] = (rng >> 32) as u8;
            }
            let _ = load_file(&f, LoadLimits::default(), 0, |_, _, _, _| Ok(()));
        }
    }
}
