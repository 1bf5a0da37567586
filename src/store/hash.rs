//! The hash value type (scaffold: filled in by the collections work).

/// A Redis hash.
#[derive(Clone, Debug, Default)]
pub struct Hash {}

impl Hash {
    /// OBJECT ENCODING name, as Redis 7.0 reports it.
    pub fn encoding(&self) -> &'static str {
        "hash"
    }
    /// Number of elements.
    pub fn len(&self) -> usize {
        0
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Approximate heap bytes owned (MEMORY USAGE).
    pub fn heap_size(&self) -> usize {
        0
    }
}
