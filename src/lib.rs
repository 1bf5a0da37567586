//! Rustis: a Redis-compatible in-memory data server that uses every core.
//!
//! A tour (see `DESIGN.md` in the shared folder for the full map):
//! - [`server`]: one mio reactor thread owns every socket, parses RESP frames into
//!   batches, and hands each poll iteration's batches to a fixed worker pool over
//!   crossbeam channels; workers run commands and send encoded replies back.
//! - [`commands`]: the command table (each command declared once) and one file per
//!   Redis command group.
//! - [`store`]: 16 databases of cache-padded, RwLock'd stripes; keys hash to stripes
//!   (by `{hash tag}` when present); multi-key commands lock stripes in ascending order.
//! - [`protocol`]: the `Reply` type, RESP2/RESP3 encoding, the incremental parser.
//! - [`config`]: defaults, redis.conf parsing and CONFIG GET/SET metadata.
//! - [`persistence`]: RDB and AOF file formats (Redis 7.0's), forkless snapshots with
//!   copy-before-write in the stripes, the AOF append buffer and its fsync policies.
//!
//! Import direction: `config`, `protocol`, `store` import nothing else from the crate;
//! `persistence` imports `store` and `protocol`; `commands` imports `store`, `protocol`,
//! `config` and `persistence`; `server` imports everything.

pub mod client;
pub mod commands;
pub mod config;
pub mod metrics;
pub mod persistence;
pub mod protocol;
pub mod server;
pub mod store;

/// jemalloc, as Redis uses: no per-allocation header and tight size classes keep per-key
/// memory at Redis's level (glibc malloc measured ~50% more RSS for 1M small keys), and
/// INFO's used_memory comes from its statistics.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
