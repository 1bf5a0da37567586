//! RDB loading (`rustis::persistence::rdb`): whole files (`load_file`, as at start-up and
//! DEBUG RELOAD) and DUMP payloads (`verify_payload` + `load_payload`, as RESTORE does).
//! The first byte picks:
//! - bit 0 clear: `load_file` of the rest; set: `load_payload` of the rest (the type
//!   byte and value, without the version and CRC trailer, so the fuzzer is not stopped
//!   by the checksum; `verify_payload` is run on the same bytes too);
//! - bit 1: tiny encoding limits (listpack/intset conversions on every small value)
//!   instead of the defaults.
//!
//! Checks beyond "no panic": every value loaded can be dumped (DUMP) and that payload
//! passes `verify_payload` and loads again as a value of the same type, whose dump has
//! the same size.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rustis::persistence::rdb::{self, LoadLimits, SaveOpts};
use rustis::store::hash::HashLimits;
use rustis::store::zset;
use rustis::store::Value;

/// 2023-11-14: keys with an earlier expire time are skipped as expired.
const NOW_MS: i64 = 1_700_000_000_000;

fuzz_target!(|raw: &[u8]| {
    let Some((&mode, data)) = raw.split_first() else { return };
    let lim = if mode & 2 != 0 {
        LoadLimits {
            hash: HashLimits { max_entries: 2, max_value: 4 },
            zset: zset::Limits { entries: 2, value: 4 },
            max_intset: 2,
        }
    } else {
        LoadLimits::default()
    };
    if mode & 1 == 0 {
        let mut n = 0u64;
        // The db number is bounded by the caller (persistence::load), not here.
        let res = rdb::load_file(data, lim, NOW_MS, |_db, _key, val, _at| {
            n += 1;
            redump(&val, lim);
            Ok(())
        });
        if let Ok(info) = res {
            assert_eq!(info.keys_loaded, n, "keys_loaded does not count the keys handed over");
        }
    } else {
        let _ = rdb::verify_payload(data);
        if let Ok(val) = rdb::load_payload(data, lim) {
            redump(&val, lim);
        }
    }
});

/// DUMP then RESTORE of a loaded value must work and keep its type.
fn redump(val: &Value, lim: LoadLimits) {
    let p = rdb::dump_payload(val, SaveOpts::default());
    let body = rdb::verify_payload(&p).expect("our own DUMP payload fails verify_payload");
    let again = match rdb::load_payload(body, lim) {
        Ok(v) => v,
        Err(e) => panic!("our own DUMP payload of a {} does not load: {e}", val.type_name()),
    };
    assert_eq!(again.type_name(), val.type_name(), "type changed through DUMP/RESTORE");
    let p2 = rdb::dump_payload(&again, SaveOpts::default());
    assert_eq!(p2.len(), p.len(), "a {} changed size through DUMP/RESTORE", val.type_name());
}
