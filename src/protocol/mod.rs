//! Wire protocols: the `Reply` value every command produces, its RESP2/RESP3 encoder, and
//! the incremental RESP request parser.
//!
//! Owns: byte-exact framing. Must hold: the parser never panics and never allocates per
//! argument (arguments are ranges into the connection's read buffer); every reply is
//! encoded exactly as Redis 7.0 encodes it for the client's protocol version.
//! Imports nothing else from the crate.

pub mod reply;
pub mod resp;

pub use reply::{fmt_double, Reply};
pub use resp::{parse_batch, parse_batch_at, Batch, ParseLimits, ProtocolError};

/// Protocol version a connection speaks (HELLO 2|3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    Resp2,
    Resp3,
}
