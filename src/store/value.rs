//! Values stored under keys and their Redis encodings (OBJECT ENCODING).
//!
//! Strings follow Redis's `tryObjectEncoding`: a value that is a canonical i64 (at most 20
//! chars) is stored as `Int`, a value of at most 44 bytes as `Emb` (embstr), anything else,
//! and anything modified in place (APPEND, SETRANGE), as `Raw`.

use super::bytes::CompactBytes;
use super::{hash::Hash, list::List, set::Set, stream::Stream, zset::ZSet};
use std::borrow::Cow;

/// Redis's OBJ_ENCODING_EMBSTR_SIZE_LIMIT.
pub const EMBSTR_LIMIT: usize = 44;

#[derive(Clone, Debug)]
pub enum Value {
    Int(i64),
    Emb(CompactBytes),
    /// Boxed so `Value` stays 24 bytes (and `Item` 64, one jemalloc size class).
    Raw(Box<Vec<u8>>),
    List(Box<List>),
    Hash(Box<Hash>),
    Set(Box<Set>),
    ZSet(Box<ZSet>),
    Stream(Box<Stream>),
}

impl Value {
    /// A string value from client bytes, encoded as Redis would after SET.
    pub fn string(b: &[u8]) -> Value {
        if b.len() <= 20 {
            if let Some(i) = crate::store::parse_i64_strict(b) {
                return Value::Int(i);
            }
        }
        if b.len() <= EMBSTR_LIMIT {
            Value::Emb(CompactBytes::new(b))
        } else {
            Value::Raw(Box::new(b.to_vec()))
        }
    }
    /// A string created by the server (Redis's createStringObject: embstr when short,
    /// no int conversion).
    pub fn created(b: &[u8]) -> Value {
        if b.len() <= EMBSTR_LIMIT {
            Value::Emb(CompactBytes::new(b))
        } else {
            Value::Raw(Box::new(b.to_vec()))
        }
    }
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Int(_) | Value::Emb(_) | Value::Raw(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
            Value::Stream(_) => "stream",
        }
    }
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Int(_) => "int",
            Value::Emb(_) => "embstr",
            Value::Raw(_) => "raw",
            Value::List(l) => l.encoding(),
            Value::Hash(h) => h.encoding(),
            Value::Set(s) => s.encoding(),
            Value::ZSet(z) => z.encoding(),
            Value::Stream(_) => "stream",
        }
    }
    pub fn is_string(&self) -> bool {
        matches!(self, Value::Int(_) | Value::Emb(_) | Value::Raw(_))
    }
    /// The string's bytes (ints formatted). None for non-strings.
    pub fn as_bytes(&self) -> Option<Cow<'_, [u8]>> {
        match self {
            Value::Int(i) => Some(Cow::Owned(i.to_string().into_bytes())),
            Value::Emb(b) => Some(Cow::Borrowed(b.as_slice())),
            Value::Raw(v) => Some(Cow::Borrowed(v)),
            _ => None,
        }
    }
    /// Length of the string form.
    pub fn str_len(&self) -> usize {
        match self {
            Value::Int(i) => crate::store::num::i64_len(*i),
            Value::Emb(b) => b.len(),
            Value::Raw(v) => v.len(),
            _ => 0,
        }
    }
    /// Turns the value into an owned, growable raw string (APPEND, SETRANGE).
    pub fn make_raw(&mut self) -> &mut Vec<u8> {
        if !matches!(self, Value::Raw(_)) {
            let bytes = self.as_bytes().map(|c| c.into_owned()).unwrap_or_default();
            *self = Value::Raw(Box::new(bytes));
        }
        match self {
            Value::Raw(v) => v,
            _ => unreachable!("just made raw"),
        }
    }
    /// Roughly how many bytes a copy of the value moves, in O(1): a string's length, 32
    /// per element of a collection.
    pub fn copy_cost(&self) -> usize {
        match self {
            Value::Int(_) | Value::Emb(_) | Value::Raw(_) => self.str_len(),
            Value::List(l) => l.len() * 32,
            Value::Hash(h) => h.len() * 32,
            Value::Set(s) => s.len() * 32,
            Value::ZSet(z) => z.len() * 32,
            Value::Stream(x) => x.len() * 32,
        }
    }
    /// Approximate heap bytes owned by the value (MEMORY USAGE, used_memory).
    pub fn heap_size(&self) -> usize {
        match self {
            Value::Int(_) => 0,
            Value::Emb(b) => b.heap_size(),
            Value::Raw(v) => v.capacity() + std::mem::size_of::<Vec<u8>>(),
            Value::List(l) => l.heap_size(),
            Value::Hash(h) => h.heap_size(),
            Value::Set(s) => s.heap_size(),
            Value::ZSet(z) => z.heap_size(),
            Value::Stream(x) => x.heap_size(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn encodings_follow_redis() {
        assert_eq!(Value::string(b"123").encoding(), "int");
        assert_eq!(Value::string(b"-9223372036854775808").encoding(), "int");
        assert_eq!(Value::string(b"0123").encoding(), "embstr");
        assert_eq!(Value::string(b" 1").encoding(), "embstr");
        assert_eq!(Value::string(&[b'a'; 44]).encoding(), "embstr");
        assert_eq!(Value::string(&[b'a'; 45]).encoding(), "raw");
        assert_eq!(std::mem::size_of::<Value>(), 24);
    }
}

/// A collection type held in a `Value`: lets commands share the lookup / create /
/// delete-when-empty logic (see `commands::read_coll` and `commands::write_coll`).
pub trait Collection: Default {
    fn of(v: &Value) -> Option<&Self>;
    fn of_mut(v: &mut Value) -> Option<&mut Self>;
    fn into_value(self) -> Value;
    fn is_empty_coll(&self) -> bool;
}

macro_rules! collection {
    ($t:ty, $variant:ident) => {
        impl Collection for $t {
            fn of(v: &Value) -> Option<&Self> {
                match v {
                    Value::$variant(c) => Some(c),
                    _ => None,
                }
            }
            fn of_mut(v: &mut Value) -> Option<&mut Self> {
                match v {
                    Value::$variant(c) => Some(c),
                    _ => None,
                }
            }
            fn into_value(self) -> Value {
                Value::$variant(Box::new(self))
            }
            fn is_empty_coll(&self) -> bool {
                self.is_empty()
            }
        }
    };
}
collection!(List, List);
collection!(Hash, Hash);
collection!(Set, Set);
collection!(ZSet, ZSet);
