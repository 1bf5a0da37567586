//! Wire protocols: the `Reply` value every command produces, its RESP2/RESP3 encoder, the
//! incremental RESP request parser, and the MessagePack protocol (parser and encoder).
//!
//! Owns: byte-exact framing. Must hold: the parser never panics and never allocates per
//! argument (arguments are ranges into the connection's read buffer); every reply is
//! encoded exactly as Redis 7.0 encodes it for the client's protocol version.
//! Imports nothing else from the crate.

pub mod msgpack;
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

/// The framing a connection speaks (chosen by its listener).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Wire {
    #[default]
    Resp,
    Msgpack,
}

impl Wire {
    /// The name used in config `listen` lines, CLIENT LIST and metrics labels.
    pub fn name(self) -> &'static str {
        match self {
            Wire::Resp => "resp",
            Wire::Msgpack => "msgpack",
        }
    }
}
