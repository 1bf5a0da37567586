//! `rustis-server [CONFIG_FILE] [--port N] [--bind ADDR] [--workers N] [--stripes N]
//! [--loglevel L] [--log-format logfmt|json] [--<any-config-option> value ...]`
//!
//! Defaults are built in; a config file (redis.conf syntax) overrides them; command-line
//! options override the file, in the order given.

use argh::FromArgs;
use rustis::config::{self, Config};
use std::io::Write;

/// Rustis: a Redis-compatible in-memory data server.
#[derive(FromArgs)]
struct Args {
    /// config file in redis.conf syntax
    #[argh(positional)]
    config_file: Option<String>,
    /// TCP port (default 6379)
    #[argh(option)]
    port: Option<u16>,
    /// address(es) to listen on (default 127.0.0.1)
    #[argh(option)]
    bind: Option<String>,
    /// worker threads (default: cores - 1, at least 1)
    #[argh(option)]
    workers: Option<usize>,
    /// lock stripes per database (rounded up to a power of two; default 1024)
    #[argh(option)]
    stripes: Option<usize>,
    /// debug, verbose, notice, warning or nothing (RUST_LOG overrides)
    #[argh(option)]
    loglevel: Option<String>,
    /// logfmt or json
    #[argh(option)]
    log_format: Option<String>,
    /// print the version and exit
    #[argh(switch, short = 'v')]
    version: bool,
}

const ARGH_OPTS: &[&str] = &["--port", "--bind", "--workers", "--stripes", "--loglevel", "--log-format"];

/// Splits `--name value...` pairs that argh does not know into config directives.
fn split_overrides(raw: Vec<String>) -> (Vec<String>, Vec<(String, Vec<String>)>) {
    let mut known = Vec::new();
    let mut extra: Vec<(String, Vec<String>)> = Vec::new();
    let mut i = 0;
    while i < raw.len() {
        let a = &raw[i];
        if ARGH_OPTS.contains(&a.as_str()) {
            known.push(a.clone());
            if let Some(v) = raw.get(i + 1) {
                known.push(v.clone());
            }
            i += 2;
        } else if a.starts_with("--") && a.len() > 2 && a != "--help" && a != "--version" {
            let mut vals = Vec::new();
            i += 1;
            while i < raw.len() && !raw[i].starts_with("--") {
                vals.push(raw[i].clone());
                i += 1;
            }
            extra.push((a[2..].to_string(), vals));
        } else {
            known.push(a.clone());
            i += 1;
        }
    }
    (known, extra)
}

fn fatal(msg: &str) -> ! {
    eprintln!("\n*** FATAL CONFIG FILE ERROR (Rustis {}) ***\n{}", env!("CARGO_PKG_VERSION"), msg);
    std::process::exit(1);
}

fn init_logging(cfg: &Config) {
    let json = cfg.log_format == "json";
    let mut b = env_logger::Builder::new();
    // The filter lets Rustis's debug lines through and `log::set_max_level` (from
    // --loglevel now, from CONFIG SET loglevel later) decides; RUST_LOG overrides both.
    b.parse_filters("rustis=debug,rustis_server=debug,warn");
    let rust_log = std::env::var("RUST_LOG").ok();
    if let Some(f) = &rust_log {
        b.parse_filters(f);
    }
    b.format(move |buf, rec| {
        let ts = buf.timestamp_millis();
        let msg = rec.args().to_string();
        let level = rec.level().as_str().to_ascii_lowercase();
        let (conn, msg) = split_conn(&msg);
        if json {
            let conn = conn.map(|c| format!(",\"conn\":{c}")).unwrap_or_default();
            writeln!(
                buf,
                "{{\"ts\":\"{}\",\"level\":\"{}\",\"target\":\"{}\"{},\"msg\":{}}}",
                ts,
                level,
                rec.target(),
                conn,
                json_str(msg)
            )
        } else {
            let conn = conn.map(|c| format!(" conn={c}")).unwrap_or_default();
            writeln!(buf, "ts={} level={} target={}{} msg={}", ts, level, rec.target(), conn, logfmt_str(msg))
        }
    });
    if !cfg.logfile.is_empty() {
        match std::fs::OpenOptions::new().create(true).append(true).open(&cfg.logfile) {
            Ok(f) => {
                b.target(env_logger::Target::Pipe(Box::new(f)));
            }
            Err(e) => fatal(&format!("Can't open the log file: {e}")),
        }
    }
    b.init();
    if rust_log.is_none() {
        log::set_max_level(rustis::config::log_level_filter(&cfg.loglevel));
    }
}

/// Messages about a connection start with `conn=<id> ` (the server's convention); the
/// id becomes its own field.
fn split_conn(msg: &str) -> (Option<u64>, &str) {
    if let Some(rest) = msg.strip_prefix("conn=") {
        let end = rest.find(' ').unwrap_or(rest.len());
        if let Ok(id) = rest[..end].parse::<u64>() {
            return (Some(id), rest[end..].trim_start());
        }
    }
    (None, msg)
}

fn json_str(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn logfmt_str(s: &str) -> String {
    if s.is_empty() || s.contains([' ', '"', '=', '\n']) {
        json_str(s)
    } else {
        s.to_string()
    }
}

fn main() {
    let raw: Vec<String> = std::env::args().collect();
    let (known, extra) = split_overrides(raw[1..].to_vec());
    let strs: Vec<&str> = known.iter().map(|s| s.as_str()).collect();
    let args = match Args::from_args(&["rustis-server"], &strs) {
        Ok(a) => a,
        Err(e) => {
            let code = if e.status.is_ok() { 0 } else { 1 };
            if code == 0 {
                println!("{}", e.output);
            } else {
                eprintln!("{}", e.output);
            }
            std::process::exit(code);
        }
    };
    if args.version {
        println!(
            "Rustis server v={} (Redis {} compatible)",
            env!("CARGO_PKG_VERSION"),
            rustis::commands::server::REDIS_VERSION
        );
        return;
    }
    let mut cfg = Config::default();
    if let Some(path) = &args.config_file {
        let text =
            std::fs::read_to_string(path).unwrap_or_else(|e| fatal(&format!("Can't open config file '{path}': {e}")));
        if let Err(e) = cfg.load_str(&text) {
            fatal(&e);
        }
        cfg.config_file = std::fs::canonicalize(path).map(|p| p.display().to_string()).unwrap_or_else(|_| path.clone());
    }
    for (name, vals) in &extra {
        if let Err(e) = cfg.apply(name, vals) {
            fatal(&format!("Command line option '--{name} {}': {e}", vals.join(" ")));
        }
    }
    if let Err(e) = rustis::commands::set_renames(&cfg.rename_commands) {
        fatal(&format!("rename-command: {e}"));
    }
    let set = |cfg: &mut Config, name: &str, v: Option<String>| {
        if let Some(v) = v {
            if let Err(e) = cfg.apply(name, std::slice::from_ref(&v)) {
                fatal(&format!("--{name} {v}: {e}"));
            }
        }
    };
    set(&mut cfg, "port", args.port.map(|p| p.to_string()));
    set(&mut cfg, "bind", args.bind);
    set(&mut cfg, "workers", args.workers.map(|w| w.to_string()));
    set(&mut cfg, "stripes", args.stripes.map(|w| w.to_string()));
    set(&mut cfg, "loglevel", args.loglevel);
    set(&mut cfg, "log-format", args.log_format);
    init_logging(&cfg);
    let _ = config::OPTIONS;
    rustis::server::install_signal_handlers();
    let workers = cfg.workers;
    let stripes = cfg.stripes;
    let pidfile = cfg.pidfile.clone();
    let mut handle = match rustis::server::start(cfg) {
        Ok(h) => h,
        Err(e) => {
            log::error!("could not start: {e}");
            if e.kind() == std::io::ErrorKind::InvalidData {
                eprintln!("Fatal error loading the DB: {e}. Exiting.");
            } else if e.get_ref().is_some_and(|i| i.is::<rustis::server::tls::SetupError>()) {
                eprintln!("{e}\nFailed to configure TLS. Exiting.");
            } else if e.kind() == std::io::ErrorKind::InvalidInput {
                eprintln!("Aborting Rustis startup because of ACL errors: {e}");
            } else {
                eprintln!("Could not create server TCP listening socket: {e}");
            }
            std::process::exit(1);
        }
    };
    if let Some(f) = args.config_file {
        log::info!("configuration loaded from {f}");
    }
    if !pidfile.is_empty() {
        let _ = std::fs::write(&pidfile, format!("{}\n", std::process::id()));
    }
    let addrs: Vec<String> = handle.addrs.iter().map(|a| a.to_string()).collect();
    let mp: Vec<String> = handle.msgpack_addrs.iter().map(|a| a.to_string()).collect();
    let tls: Vec<String> = handle.tls_addrs.iter().map(|a| a.to_string()).collect();
    log::info!(
        "Rustis {} started pid={} workers={} stripes={} listening={} msgpack={} tls={}; Ready to accept connections tcp",
        env!("CARGO_PKG_VERSION"),
        std::process::id(),
        workers,
        stripes.next_power_of_two(),
        addrs.join(","),
        if mp.is_empty() { "-".to_string() } else { mp.join(",") },
        if tls.is_empty() { "-".to_string() } else { tls.join(",") }
    );
    let res = handle.join();
    if !pidfile.is_empty() {
        let _ = std::fs::remove_file(&pidfile);
    }
    match res {
        Ok(()) => log::info!("Rustis is now ready to exit, bye bye..."),
        Err(e) => {
            log::error!("server stopped with error: {e}");
            std::process::exit(1);
        }
    }
}
