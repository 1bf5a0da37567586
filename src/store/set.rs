//! The set value type, in Redis 7.0's two encodings (OBJECT ENCODING):
//!
//! - `intset`: a sorted `Vec<i64>`, used while every member is an integer by Redis's
//!   string2ll rules (no sign but `-`, no leading zeros, no spaces, fits in i64) and the
//!   set has at most `set-max-intset-entries` members. Iteration is ascending, as in Redis.
//! - `hashtable`: the chained [`Dict`] shared with hashes (see `hash.rs` for its SCAN
//!   guarantee). Once converted a set never goes back, except that Redis rebuilds the
//!   remainder of a set after a large SPOP (see `Set::from_members`).
//!
//! Redis 7.0 has no listpack sets.

use super::bytes::CompactBytes;
use super::hash::{xorshift, Dict, DictIter};
use super::num::fmt_i64;
use super::parse_i64_strict;

#[derive(Clone, Debug)]
enum Repr {
    Ints(Vec<i64>),
    Table(Dict<CompactBytes>),
}

impl Default for Repr {
    fn default() -> Self {
        Repr::Ints(Vec::new())
    }
}

/// A Redis set.
#[derive(Clone, Debug, Default)]
pub struct Set {
    repr: Repr,
}

/// A member as stored: an intset integer or a table string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Member<'a> {
    Int(i64),
    Str(&'a [u8]),
}

impl Member<'_> {
    /// The member's bytes (integers formatted in decimal).
    pub fn to_vec(&self) -> Vec<u8> {
        match self {
            Member::Int(i) => i.to_string().into_bytes(),
            Member::Str(s) => s.to_vec(),
        }
    }
    /// Calls `f` with the member's bytes without allocating.
    pub fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            Member::Int(i) => {
                let mut buf = [0u8; 20];
                f(fmt_i64(*i, &mut buf))
            }
            Member::Str(s) => f(s),
        }
    }
}

impl Set {
    /// OBJECT ENCODING name, as Redis 7.0 reports it.
    pub fn encoding(&self) -> &'static str {
        match self.repr {
            Repr::Ints(_) => "intset",
            Repr::Table(_) => "hashtable",
        }
    }
    /// Number of elements.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Ints(v) => v.len(),
            Repr::Table(d) => d.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Approximate heap bytes owned (MEMORY USAGE).
    pub fn heap_size(&self) -> usize {
        match &self.repr {
            Repr::Ints(v) => v.capacity() * 8,
            Repr::Table(d) => d.heap_size(|m| m.heap_size()),
        }
    }
    /// True while the set is an `intset`.
    pub fn is_compact(&self) -> bool {
        matches!(self.repr, Repr::Ints(_))
    }

    /// A set of the given members, built as Redis builds a new set (intset while it can).
    pub fn from_members<'a>(members: impl IntoIterator<Item = &'a [u8]>, max_intset: usize) -> Set {
        let mut s = Set::default();
        for m in members {
            s.add(m, max_intset);
        }
        s
    }

    fn convert(&mut self, extra: usize) {
        if let Repr::Ints(v) = &self.repr {
            let mut d = Dict::with_capacity(v.len() + extra);
            let mut buf = [0u8; 20];
            for &i in v {
                d.insert_new(CompactBytes::new(fmt_i64(i, &mut buf)));
            }
            self.repr = Repr::Table(d);
        }
    }

    /// Adds a member; true if it is new. Converts to `hashtable` when the member is not
    /// an integer or the intset would grow past `max_intset` (Redis's setTypeAdd).
    pub fn add(&mut self, m: &[u8], max_intset: usize) -> bool {
        if let Repr::Ints(v) = &mut self.repr {
            match parse_i64_strict(m) {
                Some(i) => {
                    let Err(pos) = v.binary_search(&i) else { return false };
                    v.reserve_exact(1);
                    v.insert(pos, i);
                    if v.len() > max_intset {
                        self.convert(0);
                    }
                    return true;
                }
                None => self.convert(1),
            }
        }
        match &mut self.repr {
            Repr::Table(d) => {
                if d.get(m).is_some() {
                    return false;
                }
                d.insert_new(CompactBytes::new(m));
                true
            }
            Repr::Ints(_) => unreachable!("converted above"),
        }
    }

    /// Removes a member; true if it was there.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Ints(v) => {
                let Some(i) = parse_i64_strict(m) else { return false };
                match v.binary_search(&i) {
                    Ok(pos) => {
                        v.remove(pos);
                        if v.capacity() > v.len() + v.len() / 4 + 4 {
                            v.shrink_to_fit();
                        }
                        true
                    }
                    Err(_) => false,
                }
            }
            Repr::Table(d) => d.remove(m).is_some(),
        }
    }

    pub fn contains(&self, m: &[u8]) -> bool {
        match &self.repr {
            Repr::Ints(v) => parse_i64_strict(m).is_some_and(|i| v.binary_search(&i).is_ok()),
            Repr::Table(d) => d.get(m).is_some(),
        }
    }

    /// Membership of a member of another set (no formatting when both are intsets).
    pub fn contains_member(&self, m: Member) -> bool {
        match (&self.repr, m) {
            (Repr::Ints(v), Member::Int(i)) => v.binary_search(&i).is_ok(),
            _ => m.with_bytes(|b| self.contains(b)),
        }
    }

    /// Every member: ascending for an intset.
    pub fn iter(&self) -> SetIter<'_> {
        match &self.repr {
            Repr::Ints(v) => SetIter::Ints(v.iter()),
            Repr::Table(d) => SetIter::Table(d.iter()),
        }
    }

    /// A random member.
    pub fn random(&self, rng: &mut u64) -> Option<Member<'_>> {
        match &self.repr {
            Repr::Ints(v) if v.is_empty() => None,
            Repr::Ints(v) => Some(Member::Int(v[(xorshift(rng) % v.len() as u64) as usize])),
            Repr::Table(d) => d.random(rng).map(|m| Member::Str(m.as_slice())),
        }
    }

    /// Removes and returns a random member.
    pub fn pop_random(&mut self, rng: &mut u64) -> Option<Vec<u8>> {
        match &mut self.repr {
            Repr::Ints(v) if v.is_empty() => None,
            Repr::Ints(v) => {
                let i = v.remove((xorshift(rng) % v.len() as u64) as usize);
                Some(i.to_string().into_bytes())
            }
            Repr::Table(d) => {
                let key = d.random(rng)?.as_slice().to_vec();
                d.remove(&key);
                Some(key)
            }
        }
    }

    /// One SSCAN call (see `Hash::scan`): an intset is returned whole with cursor 0.
    pub fn scan(&self, cursor: u64, count: usize) -> (u64, Vec<Member<'_>>) {
        match &self.repr {
            Repr::Ints(_) => (0, self.iter().collect()),
            Repr::Table(d) => {
                let mut out = Vec::new();
                let mut cur = cursor;
                let mut budget = count.saturating_mul(10);
                loop {
                    cur = d.scan(cur, |m| out.push(Member::Str(m.as_slice())));
                    budget = budget.saturating_sub(1);
                    if cur == 0 || budget == 0 || out.len() >= count {
                        break;
                    }
                }
                (cur, out)
            }
        }
    }
}

pub enum SetIter<'a> {
    Ints(std::slice::Iter<'a, i64>),
    Table(DictIter<'a, CompactBytes>),
}

impl<'a> Iterator for SetIter<'a> {
    type Item = Member<'a>;
    fn next(&mut self) -> Option<Member<'a>> {
        match self {
            SetIter::Ints(it) => it.next().map(|i| Member::Int(*i)),
            SetIter::Table(it) => it.next().map(|m| Member::Str(m.as_slice())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(s: &Set) -> Vec<Vec<u8>> {
        s.iter().map(|m| m.to_vec()).collect()
    }

    #[test]
    fn intset_is_sorted_and_converts() {
        let mut s = Set::default();
        for m in ["3", "-1", "2", "3"] {
            s.add(m.as_bytes(), 4);
        }
        assert_eq!(members(&s), vec![b"-1".to_vec(), b"2".to_vec(), b"3".to_vec()]);
        assert_eq!(s.encoding(), "intset");
        assert!(s.contains(b"2") && !s.contains(b"02") && !s.contains(b"x"));
        s.add(b"4", 4);
        assert_eq!(s.encoding(), "intset");
        s.add(b"5", 4);
        assert_eq!(s.encoding(), "hashtable");
        assert!(s.contains(b"-1") && s.contains(b"5"));
        let mut t = Set::default();
        for m in ["1", "007"] {
            t.add(m.as_bytes(), 512);
        }
        assert_eq!(t.encoding(), "hashtable");
        assert!(t.contains(b"1") && t.contains(b"007") && !t.contains(b"7"));
        assert!(t.contains_member(Member::Int(1)));
    }

    #[test]
    fn extremes_stay_integers() {
        let mut s = Set::default();
        s.add(b"-9223372036854775808", 10);
        s.add(b"9223372036854775807", 10);
        assert_eq!(s.encoding(), "intset");
        s.add(b"-0", 10);
        assert_eq!(s.encoding(), "hashtable");
        assert_eq!(s.len(), 3);
        assert!(s.contains(b"-9223372036854775808"));
    }

    #[test]
    fn pop_until_empty() {
        let mut s = Set::from_members(["a", "b", "1"].iter().map(|m| m.as_bytes()), 512);
        let mut rng = 99;
        let mut got = Vec::new();
        while let Some(m) = s.pop_random(&mut rng) {
            got.push(m);
        }
        got.sort();
        assert_eq!(got, vec![b"1".to_vec(), b"a".to_vec(), b"b".to_vec()]);
        assert!(s.is_empty());
    }
}
