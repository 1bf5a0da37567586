//! `CompactBytes`: an immutable byte string that keeps up to 22 bytes inline (no heap
//! allocation) in a 24-byte value. Used for keys and short string values, this is what
//! keeps per-key overhead near Redis's.

use std::borrow::Borrow;
use std::fmt;

pub const INLINE_CAP: usize = 22;

#[derive(Clone)]
pub enum CompactBytes {
    Inline { len: u8, buf: [u8; INLINE_CAP] },
    Heap(Box<[u8]>),
}

impl CompactBytes {
    pub fn new(b: &[u8]) -> CompactBytes {
        if b.len() <= INLINE_CAP {
            let mut buf = [0u8; INLINE_CAP];
            buf[..b.len()].copy_from_slice(b);
            CompactBytes::Inline { len: b.len() as u8, buf }
        } else {
            CompactBytes::Heap(b.into())
        }
    }
    #[inline]
    pub fn as_slice(&self) -> &[u8] {
        match self {
            CompactBytes::Inline { len, buf } => &buf[..*len as usize],
            CompactBytes::Heap(b) => b,
        }
    }
    pub fn len(&self) -> usize {
        self.as_slice().len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Heap bytes owned beyond the inline value itself.
    pub fn heap_size(&self) -> usize {
        match self {
            CompactBytes::Inline { .. } => 0,
            CompactBytes::Heap(b) => b.len(),
        }
    }
}

impl Borrow<[u8]> for CompactBytes {
    fn borrow(&self) -> &[u8] {
        self.as_slice()
    }
}

impl PartialEq for CompactBytes {
    fn eq(&self, o: &Self) -> bool {
        self.as_slice() == o.as_slice()
    }
}
impl Eq for CompactBytes {}

impl fmt::Debug for CompactBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn compact_layout() {
        assert_eq!(std::mem::size_of::<CompactBytes>(), 24);
        for n in [0, 1, 22, 23, 100] {
            let v: Vec<u8> = (0..n as u8).collect();
            let c = CompactBytes::new(&v);
            assert_eq!(c.as_slice(), &v[..]);
            assert_eq!(c.heap_size() > 0, n > 22);
        }
    }
}
