//! A small blocking client for both of the server's protocols (RESP2/RESP3 and
//! MessagePack v1), with pipelining. Used by `rustis-cli`, `rustis-benchmark` and the
//! tests.
//!
//! Owns: the client side of the wire: encoding requests (RESP multibulk or MessagePack
//! `[id, command, args...]` frames), decoding every reply type of RESP2/RESP3
//! ([`resp`]) and of the MessagePack protocol ([`msgpack`], decoded with the `rmpv`
//! crate, independently of the server's own encoder), the MessagePack handshake and
//! `HELLO 3` for RESP3.
//!
//! Must hold: never panics on anything the server sends (malformed or hostile input is
//! an `io::Error` of kind `InvalidData`); lengths announced by the peer never cause a
//! large allocation before the bytes have arrived; replies are returned in the order
//! their requests were sent; MessagePack request ids count up from 1 on each
//! connection. Imports only `crate::protocol` (layering rule, scripts/test.sh).
//!
//! Pipelining: [`Client::send`] only queues a request in the write buffer; call
//! [`Client::flush`] once, then [`Client::recv`] once per reply.

pub mod msgpack;
pub mod resp;

use std::io::{self, BufReader, BufWriter, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// The wire protocol of a [`Client`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// RESP2 (the default of a RESP connection).
    Resp2,
    /// RESP on a connection switched with `HELLO 3`.
    Resp3,
    /// The MessagePack protocol v1 (RESP3 semantics, typed frames with request ids).
    Msgpack,
}

impl Protocol {
    /// True for protocols whose replies keep RESP3 types (maps, sets, doubles, ...).
    pub fn is_resp3(self) -> bool {
        !matches!(self, Protocol::Resp2)
    }
}

/// One decoded reply (or nested element), whatever the protocol.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// Simple string (`+OK`).
    Simple(String),
    /// Error text with its code first (`ERR ...`, `WRONGTYPE ...`).
    Error(String),
    Int(i64),
    Double(f64),
    /// Bulk string.
    Bulk(Vec<u8>),
    /// RESP2 `$-1` / `*-1`, RESP3 `_`, MessagePack nil.
    Nil,
    Array(Vec<Value>),
    Map(Vec<(Value, Value)>),
    Set(Vec<Value>),
    Push(Vec<Value>),
    /// Decimal digits (with an optional sign).
    BigNumber(String),
    /// Format (3 chars, e.g. `txt`) and text.
    Verbatim(String, Vec<u8>),
    Bool(bool),
}

impl Value {
    /// The bytes of a string-like value (simple, bulk, verbatim text, error text).
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Simple(s) | Value::Error(s) | Value::BigNumber(s) => Some(s.as_bytes()),
            Value::Bulk(b) | Value::Verbatim(_, b) => Some(b),
            _ => None,
        }
    }

    /// An integer reply, or a string reply holding a decimal integer.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => std::str::from_utf8(self.as_bytes()?).ok()?.parse().ok(),
        }
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Value::Error(_))
    }
}

/// An `InvalidData` error: the peer sent something that is not a valid reply.
pub(crate) fn bad_data(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// How long [`Client::open`] waits for the MessagePack handshake reply when no timeout
/// was given.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection to a server.
pub struct Client {
    proto: Protocol,
    reader: BufReader<TcpStream>,
    writer: BufWriter<TcpStream>,
    /// The last MessagePack request id handed out.
    last_id: u64,
    /// Scratch buffer for one MessagePack request frame.
    frame: Vec<u8>,
    /// The MessagePack handshake reply (`Value::Map`), or `Nil` for RESP.
    server_info: Value,
}

impl Client {
    /// Connects, does the MessagePack handshake (for [`Protocol::Msgpack`]) and sends
    /// `HELLO 3` (for [`Protocol::Resp3`]; an error reply to it is an error here).
    /// `timeout` bounds the connect and every later read and write.
    pub fn connect(host: &str, port: u16, proto: Protocol, timeout: Option<Duration>) -> io::Result<Client> {
        let mut c = Client::open(host, port, proto, timeout)?;
        if proto == Protocol::Resp3 {
            c.hello3()?;
        }
        Ok(c)
    }

    /// Like [`Client::connect`] without `HELLO 3`: for callers that must send `AUTH` or
    /// `SELECT` first (then call [`Client::hello3`]). The MessagePack handshake is done.
    pub fn open(host: &str, port: u16, proto: Protocol, timeout: Option<Duration>) -> io::Result<Client> {
        let stream = connect_tcp(host, port, timeout)?;
        stream.set_read_timeout(timeout)?;
        stream.set_write_timeout(timeout)?;
        let _ = stream.set_nodelay(true);
        let reader = BufReader::with_capacity(64 * 1024, stream.try_clone()?);
        let writer = BufWriter::with_capacity(64 * 1024, stream);
        let mut c = Client { proto, reader, writer, last_id: 0, frame: Vec::new(), server_info: Value::Nil };
        if proto == Protocol::Msgpack {
            // A RESP port never answers the handshake: do not wait forever.
            if timeout.is_none() {
                c.set_read_timeout(Some(HANDSHAKE_TIMEOUT))?;
            }
            c.handshake().map_err(|e| match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => io::Error::new(
                    io::ErrorKind::TimedOut,
                    "no reply to the MessagePack handshake (is this a MessagePack port?)",
                ),
                _ => e,
            })?;
            c.set_read_timeout(timeout)?;
        }
        Ok(c)
    }

    /// Sends `HELLO 3` and reads its reply; an error reply becomes an `io::Error`
    /// (kind `Other`) with the error text.
    pub fn hello3(&mut self) -> io::Result<Value> {
        match self.call(&[b"HELLO", b"3"])? {
            Value::Error(e) => Err(io::Error::other(e)),
            v => Ok(v),
        }
    }

    fn handshake(&mut self) -> io::Result<()> {
        let mut body = Vec::with_capacity(16);
        crate::protocol::msgpack::put_array_len(&mut body, 2);
        crate::protocol::msgpack::put_str(&mut body, crate::protocol::msgpack::HANDSHAKE_NAME);
        crate::protocol::msgpack::put_uint(&mut body, crate::protocol::msgpack::VERSION);
        self.writer.write_all(&(body.len() as u32).to_be_bytes())?;
        self.writer.write_all(&body)?;
        self.writer.flush()?;
        match self.recv()? {
            (None, v @ Value::Map(_)) => {
                self.server_info = v;
                Ok(())
            }
            (_, Value::Error(e)) => Err(io::Error::other(format!("handshake refused: {e}"))),
            (_, v) => Err(bad_data(format!("unexpected handshake reply: {v:?}"))),
        }
    }

    /// The protocol of this connection.
    pub fn protocol(&self) -> Protocol {
        self.proto
    }

    /// The MessagePack handshake reply (a map with `server`, `version`, `proto`, `id`,
    /// `max-frame`), or `Nil` for RESP.
    pub fn server_info(&self) -> &Value {
        &self.server_info
    }

    /// Queues one request in the write buffer (nothing is sent before [`Client::flush`],
    /// unless the buffer fills). Returns its MessagePack id (0 for RESP).
    pub fn send(&mut self, args: &[&[u8]]) -> io::Result<u64> {
        if args.is_empty() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "empty command"));
        }
        match self.proto {
            Protocol::Resp2 | Protocol::Resp3 => {
                resp::write_command(&mut self.writer, args)?;
                Ok(0)
            }
            Protocol::Msgpack => {
                self.last_id += 1;
                let id = self.last_id;
                self.frame.clear();
                msgpack::encode_request(&mut self.frame, id, args);
                self.writer.write_all(&(self.frame.len() as u32).to_be_bytes())?;
                self.writer.write_all(&self.frame)?;
                Ok(id)
            }
        }
    }

    /// Sends everything queued.
    pub fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }

    /// Reads the next frame: the request id it carries (always `None` for RESP; `None`
    /// for MessagePack frames answering no request) and its value. An error reply is
    /// `Ok(Value::Error)`; `Err` is an I/O or protocol failure (or the server closing:
    /// `UnexpectedEof`).
    pub fn recv(&mut self) -> io::Result<(Option<u64>, Value)> {
        match self.proto {
            Protocol::Resp2 | Protocol::Resp3 => Ok((None, resp::read_value(&mut self.reader)?)),
            Protocol::Msgpack => msgpack::read_frame(&mut self.reader),
        }
    }

    /// Sends one command and returns its reply, skipping out-of-band pushes (see
    /// [`Client::is_out_of_band`]).
    pub fn call(&mut self, args: &[&[u8]]) -> io::Result<Value> {
        self.send(args)?;
        self.flush()?;
        loop {
            let (id, v) = self.recv()?;
            if !self.is_out_of_band(id, &v) {
                return Ok(v);
            }
        }
    }

    /// True for a frame that answers no command: with MessagePack, a push with a nil
    /// id; with RESP3 (which has no ids), a push whose first element is `message`,
    /// `pmessage`, `smessage` or `invalidate` (subscribe confirmations are replies).
    pub fn is_out_of_band(&self, id: Option<u64>, v: &Value) -> bool {
        let Value::Push(items) = v else { return false };
        if self.proto == Protocol::Msgpack {
            return id.is_none();
        }
        let kind = items.first().and_then(|k| k.as_bytes()).unwrap_or_default();
        [&b"message"[..], b"pmessage", b"smessage", b"invalidate"].iter().any(|k| kind.eq_ignore_ascii_case(k))
    }

    /// Sets the read timeout of the socket (`None`: block).
    pub fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        self.reader.get_ref().set_read_timeout(t)
    }
}

fn connect_tcp(host: &str, port: u16, timeout: Option<Duration>) -> io::Result<TcpStream> {
    let addrs: Vec<_> = (host, port).to_socket_addrs()?.collect();
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
    for a in addrs {
        let r = match timeout {
            Some(t) => TcpStream::connect_timeout(&a, t),
            None => TcpStream::connect(a),
        };
        match r {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(last)
}
