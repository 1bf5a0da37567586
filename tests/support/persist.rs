//! Prepared data directories and the reference redis-server, for the tests that start
//! servers on data files (tests/persistence.rs, tests/aof.rs).

use crate::common::{self, Server};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// True if `redis-server` can be run. Prints a skip note (or panics when
/// `RUSTIS_REQUIRE_REDIS=1`) when it cannot.
pub fn redis_available(test: &str) -> bool {
    let probe = Command::new("redis-server").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status();
    match probe {
        Ok(_) => true,
        Err(e) if common::redis_required() => {
            panic!("{test}: redis-server cannot be run but {}=1: {e}", common::REQUIRE_REDIS_ENV)
        }
        Err(_) => {
            eprintln!("skipping {test}: redis-server is not installed");
            false
        }
    }
}

/// Starts the reference redis-server (persistence off unless `extra` says otherwise).
pub fn start_reference(extra: &[&str]) -> Server {
    common::start_redis(extra).expect("redis-server was available a moment ago")
}

/// A directory prepared by a test (to hold a data file before a server starts on it).
/// Removed on drop unless the test is failing.
pub struct Prepared(PathBuf);

impl Prepared {
    pub fn new(tag: &str) -> Prepared {
        Prepared(common::temp_dir(tag))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn arg(&self) -> &str {
        self.0.to_str().expect("temp dir path is UTF-8")
    }

    pub fn dump(&self) -> PathBuf {
        self.0.join("dump.rdb")
    }
}

impl Drop for Prepared {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("prepared dir kept at {}", self.0.display());
        } else {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}
