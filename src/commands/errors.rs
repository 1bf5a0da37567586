//! Redis 7.0's error texts, byte for byte, kept in one place.

pub const SYNTAX: &str = "ERR syntax error";
pub const NOT_INT: &str = "ERR value is not an integer or out of range";
pub const NOT_FLOAT: &str = "ERR value is not a valid float";
pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
pub const OVERFLOW: &str = "ERR increment or decrement would overflow";
pub const NO_KEY: &str = "ERR no such key";
pub const DB_INDEX: &str = "ERR DB index is out of range";
pub const INVALID_DB: &str = "ERR invalid DB index";
pub const STRING_TOO_LONG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
pub const INCR_NAN: &str = "ERR increment would produce NaN or Infinity";

pub fn arity(name: &str) -> String {
    format!("ERR wrong number of arguments for '{name}' command")
}

pub fn invalid_expire(cmd: &str) -> String {
    format!("ERR invalid expire time in '{cmd}' command")
}

pub fn unknown_command(name: &[u8], args: &[&[u8]]) -> String {
    let mut a = String::new();
    for arg in args {
        if a.len() >= 128 {
            break;
        }
        let room = 128 - a.len();
        let s = String::from_utf8_lossy(arg);
        let s: String = s.chars().take(room).collect();
        a.push_str(&format!("'{s}' "));
    }
    let n = String::from_utf8_lossy(name);
    let n: String = n.chars().take(128).collect();
    format!("ERR unknown command '{n}', with args beginning with: {a}")
}

/// Redis's addReplySubcommandSyntaxError: the subcommand as typed (at most 128 chars),
/// the command upper-cased.
pub fn subcommand_syntax(argv: &[&[u8]]) -> String {
    let sub: String = String::from_utf8_lossy(argv[1]).chars().take(128).collect();
    format!(
        "ERR unknown subcommand or wrong number of arguments for '{sub}'. Try {} HELP.",
        String::from_utf8_lossy(argv[0]).to_uppercase()
    )
}

pub fn unknown_subcommand(sub: &[u8], parent: &str) -> String {
    let s = String::from_utf8_lossy(sub);
    let s: String = s.chars().take(128).collect();
    format!("ERR unknown subcommand '{s}'. Try {} HELP.", parent.to_uppercase())
}
