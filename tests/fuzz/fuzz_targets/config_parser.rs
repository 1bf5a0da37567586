//! Config parsing (`rustis::config::Config`): redis.conf text through `load_str` (which
//! splits lines with redis.conf quoting and calls `apply` per directive). The input is
//! the file's text (invalid UTF-8 replaced, as a lossy read would).
//!
//! Checks beyond "no panic": a file that loads can be rewritten (CONFIG REWRITE's
//! `rewrite`) into a file that loads again and gives every option (but the immutable
//! ones, which the rewrite of an empty file leaves out) the same value; `rewrite` of the
//! input text itself loads as well.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rustis::config::{Config, OPTIONS};

fuzz_target!(|raw: &[u8]| {
    let text = String::from_utf8_lossy(raw);
    let mut cfg = Config::default();
    if cfg.load_str(&text).is_err() {
        return;
    }
    let _ = cfg.dump();
    let _ = cfg.save_points();

    let generated = cfg.rewrite("");
    let mut back = Config::default();
    if let Err(e) = back.load_str(&generated) {
        panic!("CONFIG REWRITE output does not load: {e}\n--- rewritten:\n{generated}");
    }
    for o in OPTIONS.iter().filter(|o| !o.immutable) {
        assert_eq!((o.get)(&back), (o.get)(&cfg), "option {} changed through CONFIG REWRITE", o.name);
    }

    let rewritten = cfg.rewrite(&text);
    let mut back = Config::default();
    if let Err(e) = back.load_str(&rewritten) {
        panic!("CONFIG REWRITE of the file does not load: {e}\n--- rewritten:\n{rewritten}");
    }
});
