//! The set value type (scaffold: filled in by the collections work).

/// A Redis set.
#[derive(Clone, Debug, Default)]
pub struct Set {}

impl Set {
    /// OBJECT ENCODING name, as Redis 7.0 reports it.
    pub fn encoding(&self) -> &'static str {
        "set"
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
