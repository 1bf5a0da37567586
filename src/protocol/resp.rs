//! Incremental RESP request parser (multibulk and inline), following Redis 7.0's
//! `processMultibulkBuffer` / `processInlineBuffer` rules and error texts.
//!
//! Zero-copy: the complete frames at the front of a connection's read buffer are moved
//! into a [`Batch`] whose arguments are `(start, len)` ranges into that buffer; the
//! partial tail (if any) is copied into a fresh read buffer. Inline arguments that need
//! unescaping are appended after the frames. Must hold: never panics on any input, keeps
//! partial frames for the next read, and stops at the configured command/byte caps.

use std::ops::Range;

/// Redis's PROTO_INLINE_MAX_SIZE: longest inline line / count line without a newline.
pub const INLINE_MAX: usize = 64 * 1024;

#[derive(Clone, Copy, Debug)]
pub struct ParseLimits {
    /// proto-max-bulk-len
    pub max_bulk: usize,
    /// Stop a batch after this many commands (the rest stays buffered).
    pub max_cmds: usize,
    /// Stop a batch once this many bytes of frames were taken.
    pub max_bytes: usize,
    /// The client must authenticate first: Redis caps multibulk/bulk sizes then.
    pub unauthenticated: bool,
    /// Largest MessagePack frame (client-query-buffer-limit).
    pub max_frame: usize,
}

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits {
            max_bulk: 512 * 1024 * 1024,
            max_cmds: 1024,
            max_bytes: 16 * 1024 * 1024,
            unauthenticated: false,
            max_frame: 1024 * 1024 * 1024,
        }
    }
}

/// A protocol error: the text after `-ERR ` is `Protocol error: <msg>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtocolError(pub &'static str, pub Option<u8>);

impl ProtocolError {
    /// The error line's bytes (without `-` and CRLF), exactly as Redis sends them: the
    /// offending byte of "expected '$', got 'X'" is raw, CR/LF become spaces.
    pub fn reply_bytes(&self) -> Vec<u8> {
        let mut v = format!("ERR Protocol error: {}", self.0).into_bytes();
        if let Some(c) = self.1 {
            v.push(b'\'');
            v.push(if c == b'\r' || c == b'\n' { b' ' } else { c });
            v.push(b'\'');
        }
        v
    }

    /// The error text for logs (the offending byte shown as a char).
    pub fn reply_text(&self) -> String {
        match self.1 {
            Some(c) => format!("ERR Protocol error: {}'{}'", self.0, c as char),
            None => format!("ERR Protocol error: {}", self.0),
        }
    }
}

/// The parsed commands of one read, owning the bytes they point into.
#[derive(Default, Debug)]
pub struct Batch {
    pub data: Vec<u8>,
    /// Argument ranges into `data`.
    pub args: Vec<(usize, usize)>,
    /// Per command: (index of first arg in `args`, argc).
    pub cmds: Vec<(usize, usize)>,
    /// A protocol error that follows the commands: reply with it, then close.
    pub error: Option<ProtocolError>,
    /// MessagePack request ids, one per command (empty for RESP).
    pub ids: Vec<u64>,
}

impl Batch {
    pub fn len(&self) -> usize {
        self.cmds.len()
    }
    pub fn is_empty(&self) -> bool {
        self.cmds.is_empty() && self.error.is_none()
    }
    /// Fills `argv` with the arguments of command `i`.
    pub fn argv<'a>(&'a self, i: usize, argv: &mut Vec<&'a [u8]>) {
        argv.clear();
        let (first, n) = self.cmds[i];
        for &(s, l) in &self.args[first..first + n] {
            argv.push(&self.data[s..s + l]);
        }
    }
    /// The request id of command `i` (MessagePack; 0 for RESP).
    pub fn id(&self, i: usize) -> u64 {
        self.ids.get(i).copied().unwrap_or(0)
    }
    /// Builds a batch from whole argument vectors (tests, internal callers).
    pub fn from_commands(cmds: &[Vec<Vec<u8>>]) -> Batch {
        let mut b = Batch::default();
        for c in cmds {
            let first = b.args.len();
            for a in c {
                b.args.push((b.data.len(), a.len()));
                b.data.extend_from_slice(a);
            }
            b.cmds.push((first, c.len()));
        }
        b
    }
}

pub(super) enum Step {
    /// A command with args pushed; consumed bytes.
    Cmd(usize),
    /// Nothing to run (empty inline line, `*0`); consumed bytes.
    Skip(usize),
    Incomplete,
    Err(ProtocolError),
}

/// Marks an argument range as an offset into the synthesized bytes (inline arguments
/// that needed unescaping, MessagePack numbers) appended after the frames.
pub(super) const SYNTH_FLAG: usize = 1 << (usize::BITS - 1);

/// Takes the complete frames at the front of `rbuf` (up to the limits) and returns them
/// as a batch; `rbuf` is left holding the unparsed tail. Returns `None` when no complete
/// command (and no error) is there.
pub fn parse_batch(rbuf: &mut Vec<u8>, limits: &ParseLimits) -> Option<Batch> {
    let mut start = 0;
    let b = parse_batch_at(rbuf, &mut start, limits);
    rbuf.drain(..start);
    b
}

/// Like [`parse_batch`], for a buffer whose unparsed bytes begin at `*start`.
///
/// Cost stays linear however large the backlog: when the whole buffer was parsed, it is
/// moved into the batch (no copy); when a small tail remains, the tail is copied out;
/// when a large tail remains (a capped batch of a long pipeline), only the parsed frames
/// are copied and `*start` advances (the caller compacts the buffer when convenient).
pub fn parse_batch_at(rbuf: &mut Vec<u8>, start: &mut usize, limits: &ParseLimits) -> Option<Batch> {
    take_frames(rbuf, start, limits, |buf, base, limits, args, synth, _ids| parse_one(buf, base, limits, args, synth))
}

/// Parses one frame at the front of a buffer: `(bytes, their offset in the read buffer,
/// limits, argument ranges, synthesized argument bytes, request ids)`.
pub(super) type ParseOne =
    fn(&[u8], usize, &ParseLimits, &mut Vec<(usize, usize)>, &mut Vec<u8>, &mut Vec<u64>) -> Step;

/// The batching shared by both protocols: takes the complete frames at `*start` with
/// `one`, moving or copying their bytes into the batch as described above.
pub(super) fn take_frames(rbuf: &mut Vec<u8>, start: &mut usize, limits: &ParseLimits, one: ParseOne) -> Option<Batch> {
    let base = *start;
    let mut batch = Batch::default();
    let mut inline = Vec::new();
    let mut pos = base;
    while pos < rbuf.len() && batch.cmds.len() < limits.max_cmds && pos - base < limits.max_bytes {
        let first = batch.args.len();
        match one(&rbuf[pos..], pos, limits, &mut batch.args, &mut inline, &mut batch.ids) {
            Step::Cmd(n) => {
                batch.cmds.push((first, batch.args.len() - first));
                pos += n;
            }
            Step::Skip(n) => pos += n,
            Step::Incomplete => break,
            Step::Err(e) => {
                batch.error = Some(e);
                pos = rbuf.len();
                break;
            }
        }
    }
    if pos == base {
        return None;
    }
    let tail_len = rbuf.len() - pos;
    if base == 0 && tail_len <= pos {
        let tail = rbuf[pos..].to_vec();
        rbuf.truncate(pos);
        batch.data = std::mem::replace(rbuf, tail);
    } else {
        batch.data = rbuf[base..pos].to_vec();
        for a in batch.args.iter_mut() {
            if a.0 & SYNTH_FLAG == 0 {
                a.0 -= base;
            }
        }
        *start = pos;
        if *start == rbuf.len() {
            rbuf.clear();
            *start = 0;
        }
    }
    if !inline.is_empty() || batch.args.iter().any(|a| a.0 & SYNTH_FLAG != 0) {
        let base = batch.data.len();
        batch.data.extend_from_slice(&inline);
        for a in batch.args.iter_mut() {
            if a.0 & SYNTH_FLAG != 0 {
                a.0 = (a.0 & !SYNTH_FLAG) + base;
            }
        }
    }
    if batch.cmds.is_empty() && batch.error.is_none() {
        // Only skipped frames: nothing to run, but the bytes were consumed.
        return Some(batch);
    }
    Some(batch)
}

fn find_cr(buf: &[u8]) -> Option<usize> {
    buf.iter().position(|&c| c == b'\r')
}

fn parse_one(
    buf: &[u8],
    base: usize,
    limits: &ParseLimits,
    args: &mut Vec<(usize, usize)>,
    inline: &mut Vec<u8>,
) -> Step {
    if buf[0] != b'*' {
        return parse_inline(buf, args, inline);
    }
    let start_args = args.len();
    let fail = |args: &mut Vec<(usize, usize)>, e: ProtocolError| {
        args.truncate(start_args);
        Step::Err(e)
    };
    let cr = match find_cr(buf) {
        Some(i) => i,
        None => {
            if buf.len() > INLINE_MAX {
                return fail(args, ProtocolError("too big mbulk count string", None));
            }
            return Step::Incomplete;
        }
    };
    if cr + 1 >= buf.len() {
        return Step::Incomplete;
    }
    let count = match string2ll(&buf[1..cr]) {
        Some(n) if n <= i32::MAX as i64 => n,
        _ => return fail(args, ProtocolError("invalid multibulk length", None)),
    };
    if count > 10 && limits.unauthenticated {
        return fail(args, ProtocolError("unauthenticated multibulk length", None));
    }
    let mut pos = cr + 2;
    if count <= 0 {
        return Step::Skip(pos);
    }
    for _ in 0..count {
        if pos >= buf.len() {
            args.truncate(start_args);
            return Step::Incomplete;
        }
        if buf[pos] != b'$' {
            return fail(args, ProtocolError("expected '$', got ", Some(buf[pos])));
        }
        let cr = match find_cr(&buf[pos..]) {
            Some(i) => pos + i,
            None => {
                if buf.len() - pos > INLINE_MAX {
                    return fail(args, ProtocolError("too big bulk count string", None));
                }
                args.truncate(start_args);
                return Step::Incomplete;
            }
        };
        if cr + 1 >= buf.len() {
            args.truncate(start_args);
            return Step::Incomplete;
        }
        let len = match string2ll(&buf[pos + 1..cr]) {
            Some(n) if n >= 0 && (n as u64) <= limits.max_bulk as u64 => n as usize,
            _ => return fail(args, ProtocolError("invalid bulk length", None)),
        };
        if len > 16384 && limits.unauthenticated {
            return fail(args, ProtocolError("unauthenticated bulk length", None));
        }
        let data = cr + 2;
        if buf.len() < data + len + 2 {
            args.truncate(start_args);
            return Step::Incomplete;
        }
        args.push((base + data, len));
        pos = data + len + 2;
    }
    Step::Cmd(pos)
}

fn parse_inline(buf: &[u8], args: &mut Vec<(usize, usize)>, inline: &mut Vec<u8>) -> Step {
    let nl = match buf.iter().position(|&c| c == b'\n') {
        Some(i) => i,
        None => {
            if buf.len() > INLINE_MAX {
                return Step::Err(ProtocolError("too big inline request", None));
            }
            return Step::Incomplete;
        }
    };
    let mut line = &buf[..nl];
    if line.last() == Some(&b'\r') {
        line = &line[..line.len() - 1];
    }
    let parts = match split_args(line) {
        Some(p) => p,
        None => return Step::Err(ProtocolError("unbalanced quotes in request", None)),
    };
    if parts.is_empty() {
        return Step::Skip(nl + 1);
    }
    for p in parts {
        args.push((inline.len() | SYNTH_FLAG, p.len()));
        inline.extend_from_slice(&p);
    }
    Step::Cmd(nl + 1)
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Redis's `sdssplitargs`: None on unbalanced quotes.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        while i < line.len() && is_space(line[i]) {
            i += 1;
        }
        if i >= line.len() {
            return Some(out);
        }
        let mut cur = Vec::new();
        let (mut inq, mut insq) = (false, false);
        loop {
            if inq {
                if i >= line.len() {
                    return None;
                }
                let c = line[i];
                if c == b'\\'
                    && i + 3 < line.len()
                    && line[i + 1] == b'x'
                    && hex(line[i + 2]).is_some()
                    && hex(line[i + 3]).is_some()
                {
                    cur.push(hex(line[i + 2]).unwrap_or(0) * 16 + hex(line[i + 3]).unwrap_or(0));
                    i += 3;
                } else if c == b'\\' && i + 1 < line.len() {
                    i += 1;
                    cur.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        o => o,
                    });
                } else if c == b'"' {
                    if i + 1 < line.len() && !is_space(line[i + 1]) {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(c);
                }
            } else if insq {
                if i >= line.len() {
                    return None;
                }
                let c = line[i];
                if c == b'\\' && i + 1 < line.len() && line[i + 1] == b'\'' {
                    i += 1;
                    cur.push(b'\'');
                } else if c == b'\'' {
                    if i + 1 < line.len() && !is_space(line[i + 1]) {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(c);
                }
            } else {
                if i >= line.len() {
                    break;
                }
                match line[i] {
                    c if is_space(c) => break,
                    b'"' => inq = true,
                    b'\'' => insq = true,
                    c => cur.push(c),
                }
            }
            i += 1;
        }
        out.push(cur);
    }
}

/// Redis's strict `string2ll`: optional '-', no '+', no leading zeros, no spaces, fits i64.
pub fn string2ll(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = if s[0] == b'-' { (true, &s[1..]) } else { (false, s) };
    if digits.is_empty() || digits[0] == b'0' {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    if neg {
        if v > i64::MAX as u64 + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else if v > i64::MAX as u64 {
        None
    } else {
        Some(v as i64)
    }
}

/// Range helper for callers that keep arg ranges.
pub fn range_of(a: (usize, usize)) -> Range<usize> {
    a.0..a.0 + a.1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmds_of(b: &Batch) -> Vec<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        let mut argv = Vec::new();
        for i in 0..b.len() {
            b.argv(i, &mut argv);
            out.push(argv.iter().map(|a| a.to_vec()).collect());
        }
        out
    }

    fn parse_all(input: &[u8]) -> (Vec<Vec<Vec<u8>>>, Option<ProtocolError>, Vec<u8>) {
        let mut rbuf = input.to_vec();
        let mut cmds = Vec::new();
        let mut err = None;
        while let Some(b) = parse_batch(&mut rbuf, &ParseLimits::default()) {
            cmds.extend(cmds_of(&b));
            if b.error.is_some() {
                err = b.error;
                break;
            }
        }
        (cmds, err, rbuf)
    }

    #[test]
    fn multibulk_and_inline() {
        let (c, e, rest) = parse_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\nset a \"b c\\n\"\r\n\r\n*1\r\n$4\r\nPI");
        assert_eq!(e, None);
        assert_eq!(
            c,
            vec![
                vec![b"GET".to_vec(), b"k".to_vec()],
                vec![b"PING".to_vec()],
                vec![b"set".to_vec(), b"a".to_vec(), b"b c\n".to_vec()],
            ]
        );
        assert_eq!(rest, b"*1\r\n$4\r\nPI");
    }

    #[test]
    fn every_split_point_gives_same_commands() {
        let input: &[u8] = b"*3\r\n$3\r\nSET\r\n$4\r\nk\r\n\0\r\n$0\r\n\r\nPING x\r\n*0\r\n*1\r\n$4\r\nPING\r\n";
        let (want, _, rest) = parse_all(input);
        assert!(rest.is_empty());
        assert_eq!(want.len(), 3);
        for split in 0..=input.len() {
            let mut rbuf = input[..split].to_vec();
            let mut got = Vec::new();
            while let Some(b) = parse_batch(&mut rbuf, &ParseLimits::default()) {
                got.extend(cmds_of(&b));
            }
            rbuf.extend_from_slice(&input[split..]);
            while let Some(b) = parse_batch(&mut rbuf, &ParseLimits::default()) {
                got.extend(cmds_of(&b));
            }
            assert_eq!(got, want, "split at {split}");
            assert!(rbuf.is_empty());
        }
    }

    #[test]
    fn errors_match_redis_texts() {
        let e = |i: &[u8]| parse_all(i).1.map(|e| e.reply_text());
        assert_eq!(e(b"*x\r\n").unwrap(), "ERR Protocol error: invalid multibulk length");
        assert_eq!(e(b"*1\r\n+a\r\n").unwrap(), "ERR Protocol error: expected '$', got '+'");
        assert_eq!(e(b"*1\r\n$-1\r\n").unwrap(), "ERR Protocol error: invalid bulk length");
        assert_eq!(e(b"*1\r\n$600000000\r\n").unwrap(), "ERR Protocol error: invalid bulk length");
        assert_eq!(e(b"set a \"b\r\n").unwrap(), "ERR Protocol error: unbalanced quotes in request");
        assert_eq!(e(&vec![b'a'; 70000]).unwrap(), "ERR Protocol error: too big inline request");
        let mut big = b"*1\r\n$".to_vec();
        big.extend(vec![b'1'; 70000]);
        assert_eq!(e(&big).unwrap(), "ERR Protocol error: too big bulk count string");
    }

    #[test]
    fn commands_before_an_error_are_kept() {
        let (c, e, _) = parse_all(b"PING\r\n*1\r\n$x\r\n");
        assert_eq!(c, vec![vec![b"PING".to_vec()]]);
        assert!(e.is_some());
    }

    #[test]
    fn offset_parsing_is_linear_and_correct() {
        // A long pipeline parsed in capped batches: every command comes out once, in order.
        let n = 5000;
        let mut rbuf = Vec::new();
        for i in 0..n {
            rbuf.extend_from_slice(format!("*2\r\n$3\r\nGET\r\n${}\r\nk{}\r\n", format!("k{i}").len(), i).as_bytes());
            if i % 7 == 0 {
                rbuf.extend_from_slice(format!("GET i{i}\r\n").as_bytes());
            }
        }
        let lim = ParseLimits { max_cmds: 64, ..Default::default() };
        let mut start = 0;
        let mut got = Vec::new();
        while let Some(b) = parse_batch_at(&mut rbuf, &mut start, &lim) {
            assert!(b.data.len() < 64 * 40, "a batch copies only its own frames");
            got.extend(cmds_of(&b).into_iter().map(|c| c[1].clone()));
        }
        let mut want = Vec::new();
        for i in 0..n {
            want.push(format!("k{i}").into_bytes());
            if i % 7 == 0 {
                want.push(format!("i{i}").into_bytes());
            }
        }
        assert_eq!(got, want);
        assert!(rbuf.is_empty() && start == 0);
    }

    #[test]
    fn caps_leave_the_rest_buffered() {
        let mut rbuf = b"PING\r\n".repeat(10);
        let lim = ParseLimits { max_cmds: 3, ..Default::default() };
        let b = parse_batch(&mut rbuf, &lim).unwrap();
        assert_eq!(b.len(), 3);
        assert_eq!(rbuf.len(), 7 * 6);
    }

    #[test]
    fn seeded_garbage_never_panics() {
        let mut seed: u64 = 0x9e3779b97f4a7c15;
        let alphabet = b"*$\r\n0123456789-abc \"'\\x";
        for _ in 0..20000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 40) as usize;
            let mut input = Vec::with_capacity(len);
            let mut s = seed;
            for _ in 0..len {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                input.push(alphabet[(s >> 33) as usize % alphabet.len()]);
            }
            let mut rbuf = input.clone();
            let mut guard = 0;
            while let Some(b) = parse_batch(&mut rbuf, &ParseLimits::default()) {
                guard += 1;
                assert!(guard < 100);
                if b.error.is_some() {
                    break;
                }
            }
        }
    }

    #[test]
    fn string2ll_is_strict() {
        assert_eq!(string2ll(b"0"), Some(0));
        assert_eq!(string2ll(b"-12"), Some(-12));
        assert_eq!(string2ll(b"012"), None);
        assert_eq!(string2ll(b"+1"), None);
        assert_eq!(string2ll(b"-0"), None);
        assert_eq!(string2ll(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(string2ll(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(string2ll(b"9223372036854775808"), None);
    }
}
