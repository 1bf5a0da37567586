//! Regression tests for inputs found by the fuzz targets in tests/fuzz (run them with
//! scripts/fuzz.sh): each feeds the exact bytes to the same public function and asserts
//! an error (or a well-formed result) instead of a panic. Also replays the checked-in
//! seed corpora, so a change that makes a seed panic is caught by `cargo test` too.

use std::path::Path;

use rustis::config::Config;
use rustis::persistence::rdb::{self, LoadLimits};
use rustis::protocol::{msgpack, parse_batch, ParseLimits};

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz/corpus").join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(!files.is_empty(), "no seeds in {}", dir.display());
    files.iter().map(|f| std::fs::read(f).unwrap()).collect()
}

/// Parses all of `data` in one piece with the server's default limits; returns the
/// commands and whether a protocol error ended them.
fn parse_all(data: &[u8], msgpack: bool) -> (usize, bool) {
    let mut rbuf = data.to_vec();
    let (mut cmds, mut start) = (0, 0);
    for _ in 0..=data.len() {
        let b = if msgpack {
            msgpack::parse_batch_at(&mut rbuf, &mut start, &ParseLimits::default())
        } else {
            parse_batch(&mut rbuf, &ParseLimits::default())
        };
        let Some(b) = b else { break };
        cmds += b.len();
        if b.error.is_some() {
            return (cmds, true);
        }
    }
    (cmds, false)
}

#[test]
fn resp_seeds_parse() {
    for s in seeds("resp_parser") {
        // 3 header bytes (limits, split points), then the request bytes.
        let (cmds, _) = parse_all(&s[3..], false);
        assert!(cmds > 0, "seed {:?} parsed to no command", String::from_utf8_lossy(&s));
    }
}

#[test]
fn msgpack_seeds_parse() {
    for s in seeds("msgpack_parser") {
        let data = &s[1..];
        match s[0] {
            0x00..=0x7f => assert!(parse_all(&data[3..], true).0 > 0, "request seed {s:?} parsed to nothing"),
            0x80..=0xbf => {
                let lim = ParseLimits { unauthenticated: true, ..ParseLimits::default() };
                assert!(!matches!(msgpack::parse_handshake(data, &lim), msgpack::Handshake::Incomplete));
            }
            _ => assert!(msgpack::transcode(Some(1), data, &mut Vec::new()), "transcode seed {s:?} refused"),
        }
    }
}

#[test]
fn rdb_seeds_load() {
    for s in seeds("rdb_loader") {
        let (mode, data) = (s[0], &s[1..]);
        let lim = LoadLimits::default();
        if mode & 1 == 0 {
            let info = rdb::load_file(data, lim, 0, |_, _, _, _| Ok(())).expect("RDB seed loads");
            assert!(info.keys_loaded > 0);
        } else {
            rdb::load_payload(data, lim).expect("DUMP payload seed loads");
        }
    }
}

#[test]
fn config_seeds_load() {
    for s in seeds("config_parser") {
        let text = String::from_utf8(s).unwrap();
        Config::default().load_str(&text).unwrap_or_else(|e| panic!("config seed {text:?}: {e}"));
    }
}

/// A config file that loads must survive CONFIG REWRITE of itself (the file it writes
/// is loaded at the next start).
fn rewrite_reloads(text: &str) -> Result<(), String> {
    let mut cfg = Config::default();
    cfg.load_str(text)?;
    let out = cfg.rewrite(text);
    Config::default().load_str(&out).map_err(|e| format!("rewritten file does not load: {e}\n{out}"))
}

/// config_parser found: `bind "' "` loads (one address `'`), but the rewrite wrote it
/// unquoted (`bind '`), which failed with "Unbalanced quotes in configuration line".
/// Fixed: list options quote each word that needs it.
#[test]
fn config_rewrite_bind_with_quote() {
    let text = "bind \"' \"";
    Config::default().load_str(text).expect("the input itself loads");
    rewrite_reloads(text).unwrap();
}
