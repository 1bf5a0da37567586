//! ACL users (Redis 7.0's acl.c, root selector only): the user registry, ACL SETUSER's
//! rules, permission checks for commands, keys and channels, and the ACL command
//! (SETUSER GETUSER DELUSER LIST USERS WHOAMI CAT GENPASS DRYRUN HELP).
//!
//! Must hold:
//! - the `default` user always exists; `requirepass` is its password (CONFIG SET
//!   requirepass rewrites it, as Redis's ACLUpdateDefaultUserPassword);
//! - a client's permissions are looked up by user name at every command, so a change to
//!   a user applies to its connected clients at once; a deleted user's clients are
//!   disconnected;
//! - nothing here runs on the command path while every client is the unrestricted
//!   `default` user (`Shared::acl_open`);
//! - command rules are kept as typed (Redis 7.0's `command_rules`), and the allowed-command
//!   bitmap always equals what replaying them from `+@all`/`-@all` gives.
//!
//! Not yet: selectors, ACL LOG, ACL LOAD/SAVE and aclfile, first-argument rules for
//! commands without subcommands (`+select|0`).

use super::errors;
use super::flags::*;
use super::state::Shared;
use super::{table, Command, Ctx};
use crate::protocol::Reply;
use crate::store::glob::glob_match;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

const G: &str = "server";

pub static COMMANDS: &[Command] = &[Command::container("acl", G, ACL_SUBS).doc(
    "A container for Access List Control commands",
    "6.0.0",
    "Depends on subcommand.",
)];

static ACL_SUBS: &[Command] = &[
    Command::new("acl|setuser", G, -3, ADMIN | NOSCRIPT | LOADING | STALE, acl_setuser)
        .doc(
            "Modify or create the rules for a specific ACL user",
            "6.0.0",
            "O(N). Where N is the number of rules provided.",
        )
        .args("username [rule [rule ...]]"),
    Command::new("acl|getuser", G, 3, ADMIN | NOSCRIPT | LOADING | STALE, acl_getuser)
        .doc(
            "Get the rules for a specific ACL user",
            "6.0.0",
            "O(N). Where N is the number of password, command and pattern rules that the user has.",
        )
        .args("username"),
    Command::new("acl|deluser", G, -3, ADMIN | NOSCRIPT | LOADING | STALE, acl_deluser)
        .doc(
            "Remove the specified ACL users and the associated rules",
            "6.0.0",
            "O(1) amortized time considering the typical user.",
        )
        .args("username [username ...]"),
    Command::new("acl|list", G, 2, ADMIN | NOSCRIPT | LOADING | STALE, acl_list).doc(
        "List the current ACL rules in ACL config file format",
        "6.0.0",
        "O(N). Where N is the number of configured users.",
    ),
    Command::new("acl|users", G, 2, ADMIN | NOSCRIPT | LOADING | STALE, acl_users).doc(
        "List the username of all the configured ACL rules",
        "6.0.0",
        "O(N). Where N is the number of configured users.",
    ),
    Command::new("acl|whoami", G, 2, NOSCRIPT | LOADING | STALE, acl_whoami).doc(
        "Return the name of the user associated to the current connection",
        "6.0.0",
        "O(1)",
    ),
    Command::new("acl|cat", G, -2, NOSCRIPT | LOADING | STALE, acl_cat)
        .doc(
            "List the ACL categories or the commands inside a category",
            "6.0.0",
            "O(1) since the categories and commands are a fixed set.",
        )
        .args("[categoryname]"),
    Command::new("acl|genpass", G, -2, NOSCRIPT | LOADING | STALE, acl_genpass)
        .doc("Generate a pseudorandom secure password to use for ACL users", "6.0.0", "O(1)")
        .args("[bits]"),
    Command::new("acl|dryrun", G, -4, ADMIN | NOSCRIPT | LOADING | STALE, acl_dryrun)
        .doc("Returns whether the user can execute the given command without executing the command.", "7.0.0", "O(1).")
        .args("username command [arg [arg ...]]"),
    Command::new("acl|help", G, 2, LOADING | STALE, acl_help).doc(
        "Show helpful text about the different subcommands",
        "6.0.0",
        "O(1)",
    ),
];

const READ: u8 = 1;
const WRITE_P: u8 = 2;

/// One user (Redis's `user` with its root selector).
#[derive(Clone, Debug)]
pub struct User {
    pub name: String,
    pub enabled: bool,
    pub nopass: bool,
    /// sha256 hex of each password, in the order added.
    pub passwords: Vec<String>,
    /// Per command-table id.
    allowed: Vec<bool>,
    /// Set by +@all / allcommands (Redis's "future commands" bit).
    all_commands: bool,
    /// The command rules as typed, lower-cased, each kept once (latest position).
    command_rules: Vec<String>,
    allkeys: bool,
    /// (pattern, READ|WRITE_P)
    keys: Vec<(Vec<u8>, u8)>,
    allchannels: bool,
    channels: Vec<Vec<u8>>,
}

impl User {
    fn new(name: &str) -> User {
        User {
            name: name.to_string(),
            enabled: false,
            nopass: false,
            passwords: Vec::new(),
            allowed: vec![false; table().len()],
            all_commands: false,
            command_rules: Vec::new(),
            allkeys: false,
            keys: Vec::new(),
            allchannels: false,
            channels: Vec::new(),
        }
    }

    /// Redis's default user: on, nopass, every command, key and channel.
    fn default_user() -> User {
        let mut u = User::new("default");
        for r in ["on", "nopass", "~*", "&*", "+@all"] {
            let _ = u.apply(r);
        }
        u
    }

    /// Unrestricted: the checks can be skipped for its clients.
    fn open(&self) -> bool {
        self.all_commands && self.allowed.iter().all(|a| *a) && self.allkeys && self.allchannels
    }

    fn set_all(&mut self, allow: bool) {
        self.allowed.iter_mut().for_each(|a| *a = allow);
        self.all_commands = allow;
        self.command_rules.clear();
    }

    /// Records a command rule as typed (Redis's ACLUpdateCommandRules): an earlier copy
    /// of the same rule (either sign) is dropped.
    fn note_rule(&mut self, rule: &str, allow: bool) {
        let r = rule.to_ascii_lowercase();
        self.command_rules.retain(|x| x[1..] != r);
        self.command_rules.push(format!("{}{}", if allow { '+' } else { '-' }, r));
    }

    /// Applies one ACL SETUSER rule (Redis's ACLSetUser); Err is the reason text.
    pub fn apply(&mut self, op: &str) -> Result<(), &'static str> {
        let lower = op.to_ascii_lowercase();
        match lower.as_str() {
            "on" => self.enabled = true,
            "off" => self.enabled = false,
            "nopass" => {
                self.nopass = true;
                self.passwords.clear();
            }
            "resetpass" => {
                self.nopass = false;
                self.passwords.clear();
            }
            "allkeys" | "~*" => {
                self.allkeys = true;
                self.keys.clear();
            }
            "resetkeys" => {
                self.allkeys = false;
                self.keys.clear();
            }
            "allchannels" | "&*" => {
                self.allchannels = true;
                self.channels.clear();
            }
            "resetchannels" => {
                self.allchannels = false;
                self.channels.clear();
            }
            "allcommands" | "+@all" => self.set_all(true),
            "nocommands" | "-@all" => self.set_all(false),
            "reset" => {
                for r in ["resetpass", "resetkeys", "resetchannels", "off", "-@all"] {
                    self.apply(r)?;
                }
            }
            _ => return self.apply_complex(op),
        }
        Ok(())
    }

    fn apply_complex(&mut self, op: &str) -> Result<(), &'static str> {
        const SYNTAX: &str = "Syntax error";
        const UNKNOWN: &str = "Unknown command or category name in ACL";
        let b = op.as_bytes();
        match b.first() {
            Some(b'>') => {
                let h = sha256_hex(&b[1..]);
                if !self.passwords.contains(&h) {
                    self.passwords.push(h);
                }
                self.nopass = false;
            }
            Some(b'#') => {
                let h = &op[1..];
                if h.len() != 64 || !h.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)) {
                    return Err("The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters");
                }
                if !self.passwords.iter().any(|p| p == h) {
                    self.passwords.push(h.to_string());
                }
                self.nopass = false;
            }
            Some(b'<') | Some(b'!') => {
                let h = if b[0] == b'<' {
                    sha256_hex(&b[1..])
                } else {
                    let h = &op[1..];
                    if h.len() != 64 || !h.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)) {
                        return Err("The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters");
                    }
                    h.to_string()
                };
                let before = self.passwords.len();
                self.passwords.retain(|p| *p != h);
                if self.passwords.len() == before {
                    return Err("The password you are trying to remove from the user does not exist");
                }
            }
            Some(b'~') | Some(b'%') => {
                let (flags, pat) = if b[0] == b'~' {
                    (READ | WRITE_P, &b[1..])
                } else {
                    let Some(t) = op.find('~') else { return Err(SYNTAX) };
                    let mut f = 0;
                    for c in op[1..t].bytes() {
                        match c.to_ascii_uppercase() {
                            b'R' => f |= READ,
                            b'W' => f |= WRITE_P,
                            _ => return Err(SYNTAX),
                        }
                    }
                    if f == 0 {
                        return Err(SYNTAX);
                    }
                    (f, &b[t + 1..])
                };
                if self.allkeys {
                    return Err("Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns");
                }
                if flags == READ | WRITE_P && pat == b"*" {
                    self.allkeys = true;
                    self.keys.clear();
                } else if let Some(e) = self.keys.iter_mut().find(|(p, _)| p.as_slice() == pat) {
                    e.1 |= flags;
                } else {
                    self.keys.push((pat.to_vec(), flags));
                }
            }
            Some(b'&') => {
                if self.allchannels {
                    return Err("Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels");
                }
                let pat = b[1..].to_vec();
                if !self.channels.contains(&pat) {
                    self.channels.push(pat);
                }
            }
            Some(b'+') | Some(b'-') => {
                let allow = b[0] == b'+';
                let rest = &op[1..];
                if let Some(cat) = rest.strip_prefix('@') {
                    let cat = format!("@{}", cat.to_ascii_lowercase());
                    if !super::ACL_ORDER.contains(&cat.as_str()) {
                        return Err(UNKNOWN);
                    }
                    let t = table();
                    for (id, c) in t.cmds.iter().enumerate() {
                        if c.acl_categories().contains(&cat) {
                            self.allowed[id] = allow;
                            // A container follows its subcommands' category only
                            // through them; its own bit follows the category too.
                        }
                    }
                    if !allow {
                        self.all_commands = false;
                    }
                    self.note_rule(rest, allow);
                } else {
                    let t = table();
                    if let Some((parent, sub)) = rest.split_once('|') {
                        if sub.is_empty() {
                            return Err(SYNTAX);
                        }
                        let Some(pid) = t.lookup(parent.as_bytes()) else { return Err(UNKNOWN) };
                        if t.cmds[pid].subs.is_empty() {
                            return Err(SYNTAX);
                        }
                        let Some(id) = t.lookup(rest.as_bytes()) else { return Err(UNKNOWN) };
                        self.allowed[id] = allow;
                    } else {
                        let Some(id) = t.lookup(rest.as_bytes()) else { return Err(UNKNOWN) };
                        self.allowed[id] = allow;
                        for s in t.cmds[id].subs {
                            if let Some(sid) = t.lookup(s.name.as_bytes()) {
                                self.allowed[sid] = allow;
                            }
                        }
                    }
                    if !allow {
                        self.all_commands = false;
                    }
                    self.note_rule(rest, allow);
                }
            }
            _ => return Err(SYNTAX),
        }
        Ok(())
    }

    /// The user as an ACL LIST line (Redis's ACLDescribeUser).
    pub fn describe(&self) -> String {
        let mut s = format!("user {} ", self.name);
        s.push_str(if self.enabled { "on " } else { "off " });
        if self.nopass {
            s.push_str("nopass ");
        }
        s.push_str("sanitize-payload ");
        for p in &self.passwords {
            s.push('#');
            s.push_str(p);
            s.push(' ');
        }
        s.push_str(&self.describe_keys());
        if !s.ends_with(' ') {
            s.push(' ');
        }
        s.push_str(&self.describe_channels());
        if !s.ends_with(' ') {
            s.push(' ');
        }
        s.push_str(&self.describe_commands());
        s.trim_end().to_string()
    }

    fn describe_keys(&self) -> String {
        if self.allkeys {
            return "~*".into();
        }
        let parts: Vec<String> = self
            .keys
            .iter()
            .map(|(p, f)| {
                let pre = match *f {
                    READ => "%R~",
                    WRITE_P => "%W~",
                    _ => "~",
                };
                format!("{pre}{}", String::from_utf8_lossy(p))
            })
            .collect();
        parts.join(" ")
    }

    fn describe_channels(&self) -> String {
        if self.allchannels {
            return "&*".into();
        }
        let mut s = String::from("resetchannels");
        for c in &self.channels {
            s.push_str(" &");
            s.push_str(&String::from_utf8_lossy(c));
        }
        s
    }

    fn describe_commands(&self) -> String {
        let mut s = String::from(if self.all_commands { "+@all" } else { "-@all" });
        for r in &self.command_rules {
            s.push(' ');
            s.push_str(r);
        }
        s
    }

    fn flag_names(&self) -> Vec<&'static str> {
        let mut v = vec![if self.enabled { "on" } else { "off" }];
        if self.nopass {
            v.push("nopass");
        }
        v.push("sanitize-payload");
        v
    }

    /// Whether `pass` logs in as this user.
    fn accepts(&self, pass: &[u8]) -> bool {
        self.enabled && (self.nopass || self.passwords.contains(&sha256_hex(pass)))
    }

    /// Redis's ACLCheckAllUserCommandPerm for one command: Ok, or the NOPERM reply text.
    pub fn check(&self, id: usize, cmd: &Command, argv: &[&[u8]]) -> Result<(), String> {
        if !self.all_commands && !cmd.has(NO_AUTH) && !self.allowed.get(id).copied().unwrap_or(false) {
            return Err(format!("NOPERM this user has no permissions to run the '{}' command", cmd.name));
        }
        if !self.allkeys {
            let mut pos = Vec::new();
            cmd.key_positions_argv(argv, &mut pos);
            for p in pos {
                let fl = super::server::key_flags_at(cmd, argv, p);
                let mut need = 0;
                if fl.contains(&"access") {
                    need |= READ;
                }
                if fl.iter().any(|f| matches!(*f, "insert" | "delete" | "update")) {
                    need |= WRITE_P;
                }
                let ok = self.keys.iter().any(|(pat, f)| f & need == need && glob_match(pat, argv[p], false));
                if !ok {
                    return Err(
                        "NOPERM this user has no permissions to access one of the keys used as arguments".into()
                    );
                }
            }
        }
        if !self.allchannels && cmd.has(PUBSUB) {
            let (chans, literal): (&[&[u8]], bool) = match cmd.name {
                "publish" | "spublish" => (&argv[1..2.min(argv.len())], false),
                "subscribe" | "ssubscribe" => (&argv[1..], false),
                "psubscribe" => (&argv[1..], true),
                _ => (&[], false),
            };
            for ch in chans {
                let ok =
                    self.channels.iter().any(|p| if literal { p.as_slice() == *ch } else { glob_match(p, ch, false) });
                if !ok {
                    return Err(
                        "NOPERM this user has no permissions to access one of the channels used as arguments".into()
                    );
                }
            }
        }
        Ok(())
    }
}

/// All users by name (ACL USERS / LIST order).
pub struct Acl {
    users: BTreeMap<String, User>,
}

impl Default for Acl {
    fn default() -> Self {
        let mut users = BTreeMap::new();
        users.insert("default".to_string(), User::default_user());
        Acl { users }
    }
}

impl Acl {
    /// The default user's password follows `requirepass` (Redis's
    /// ACLUpdateDefaultUserPassword).
    pub fn set_default_password(&mut self, pass: &str) {
        if let Some(u) = self.users.get_mut("default") {
            let _ = u.apply("resetpass");
            let _ = if pass.is_empty() { u.apply("nopass") } else { u.apply(&format!(">{pass}")) };
        }
    }
    /// Whether new clients start authenticated (the default user is on and nopass).
    pub fn default_nopass(&self) -> bool {
        self.users.get("default").is_some_and(|u| u.enabled && u.nopass)
    }
    pub fn authenticate(&self, user: &[u8], pass: &[u8]) -> bool {
        let name = String::from_utf8_lossy(user);
        self.users.get(name.as_ref()).is_some_and(|u| u.accepts(pass))
    }
    pub fn user(&self, name: &str) -> Option<&User> {
        self.users.get(name)
    }
}

/// Refreshes `Shared::acl_open` (every check skipped while the default user is
/// unrestricted and no other user exists).
fn refresh_open(shared: &Shared, acl: &Acl) {
    let open = acl.users.len() == 1 && acl.users.get("default").is_some_and(|u| u.open());
    shared.acl_open.store(open, Ordering::Release);
    shared.default_nopass.store(acl.default_nopass(), Ordering::Release);
}

/// After CONFIG SET requirepass / at start.
pub fn set_requirepass(shared: &Shared, pass: &str) {
    let mut acl = shared.acl.write();
    acl.set_default_password(pass);
    refresh_open(shared, &acl);
}

/// The permission check of `execute` for a session's user.
pub fn check(shared: &Shared, user: &str, id: usize, cmd: &Command, argv: &[&[u8]]) -> Result<(), String> {
    let acl = shared.acl.read();
    match acl.users.get(user) {
        Some(u) => u.check(id, cmd, argv),
        // The user was deleted while this client ran: it is being disconnected.
        None => Err(format!("NOPERM this user has no permissions to run the '{}' command", cmd.name)),
    }
}

fn acl_setuser(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let name = String::from_utf8_lossy(argv[2]).to_string();
    let sh = ctx.shared;
    let mut acl = sh.acl.write();
    let mut u = acl.users.get(&name).cloned().unwrap_or_else(|| User::new(&name));
    for a in &argv[3..] {
        let op = String::from_utf8_lossy(a);
        if let Err(why) = u.apply(&op) {
            return Reply::Error(format!("ERR Error in ACL SETUSER modifier '{op}': {why}"));
        }
    }
    acl.users.insert(name, u);
    refresh_open(sh, &acl);
    Reply::ok()
}

fn acl_getuser(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let name = String::from_utf8_lossy(argv[2]).to_string();
    let acl = ctx.shared.acl.read();
    let Some(u) = acl.users.get(&name) else { return Reply::Nil };
    let b = |s: &str| Reply::Bulk(s.as_bytes().to_vec());
    Reply::Map(vec![
        (b("flags"), Reply::Array(u.flag_names().into_iter().map(b).collect())),
        (b("passwords"), Reply::Array(u.passwords.iter().map(|p| b(p)).collect())),
        (b("commands"), b(&u.describe_commands())),
        (b("keys"), b(&u.describe_keys())),
        (b("channels"), b(&u.describe_channels())),
        (b("selectors"), Reply::Array(Vec::new())),
    ])
}

fn acl_deluser(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let sh = ctx.shared;
    let mut acl = sh.acl.write();
    let mut n = 0;
    for a in &argv[2..] {
        let name = String::from_utf8_lossy(a).to_string();
        if name == "default" {
            return Reply::err("ERR The 'default' user cannot be removed");
        }
        if acl.users.remove(&name).is_some() {
            n += 1;
            // Its clients go (Redis frees them).
            for c in sh.clients.lock().values() {
                if *c.user.lock() == name {
                    if c.id == ctx.session.id {
                        ctx.session.close_after_reply = true;
                    } else {
                        c.killed.store(true, Ordering::Release);
                        sh.kills_pending.store(true, Ordering::Release);
                    }
                }
            }
        }
    }
    refresh_open(sh, &acl);
    Reply::Int(n)
}

fn acl_list(ctx: &mut Ctx, _: &[&[u8]]) -> Reply {
    let acl = ctx.shared.acl.read();
    Reply::Array(acl.users.values().map(|u| Reply::Bulk(u.describe().into_bytes())).collect())
}

fn acl_users(ctx: &mut Ctx, _: &[&[u8]]) -> Reply {
    let acl = ctx.shared.acl.read();
    Reply::Array(acl.users.keys().map(|n| Reply::Bulk(n.as_bytes().to_vec())).collect())
}

fn acl_whoami(ctx: &mut Ctx, _: &[&[u8]]) -> Reply {
    Reply::Bulk(ctx.session.user.as_bytes().to_vec())
}

fn acl_cat(_: &mut Ctx, argv: &[&[u8]]) -> Reply {
    if argv.len() > 3 {
        return Reply::err(errors::SYNTAX);
    }
    match argv.get(2) {
        None => Reply::Array(super::ACL_ORDER.iter().map(|c| Reply::Bulk(c.as_bytes()[1..].to_vec())).collect()),
        Some(c) => {
            let cat = format!("@{}", String::from_utf8_lossy(c).to_ascii_lowercase());
            if !super::ACL_ORDER.contains(&cat.as_str()) {
                return Reply::Error(format!("ERR Unknown category '{}'", String::from_utf8_lossy(c)));
            }
            let t = table();
            Reply::Array(
                t.cmds
                    .iter()
                    .filter(|c| c.run.is_some() && c.acl_categories().contains(&cat))
                    .map(|c| Reply::Bulk(c.name.as_bytes().to_vec()))
                    .collect(),
            )
        }
    }
}

fn acl_genpass(_: &mut Ctx, argv: &[&[u8]]) -> Reply {
    if argv.len() > 3 {
        return Reply::err(errors::SYNTAX);
    }
    let bits = match argv.get(2) {
        None => 256,
        Some(a) => match crate::store::parse_i64_strict(a) {
            Some(b) if (1..=4096).contains(&b) => b,
            _ => return Reply::err("ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096"),
        },
    };
    let chars = (bits as usize).div_ceil(4);
    let mut raw = vec![0u8; chars.div_ceil(2)];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        let _ = f.read_exact(&mut raw);
    }
    let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    Reply::Bulk(hex.as_bytes()[..chars].to_vec())
}

fn acl_dryrun(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let name = String::from_utf8_lossy(argv[2]).to_string();
    let acl = ctx.shared.acl.read();
    let Some(u) = acl.users.get(&name) else {
        return Reply::Error(format!("ERR User '{name}' not found"));
    };
    let t = table();
    let args = &argv[3..];
    let Some(id0) = t.lookup_user(args[0]) else {
        return Reply::Error(format!("ERR Command '{}' not found", String::from_utf8_lossy(args[0])));
    };
    let id = match t.resolve(args) {
        Ok(id) => id,
        Err(e) if t.cmds[id0].subs.is_empty() => return Reply::Error(e),
        Err(e) => return Reply::Error(e),
    };
    match u.check(id, t.cmds[id], args) {
        Ok(()) => Reply::ok(),
        Err(e) => {
            let msg = e.strip_prefix("NOPERM ").unwrap_or(&e);
            let mut m = msg.to_string();
            if let Some(f) = m.get_mut(0..1) {
                f.make_ascii_uppercase();
            }
            Reply::Bulk(m.into_bytes())
        }
    }
}

fn acl_help(_: &mut Ctx, _: &[&[u8]]) -> Reply {
    super::connection::help_reply(
        "ACL",
        &[
            "CAT [<category>]",
            "    List all commands that belong to <category>, or all command categories",
            "    when no category is specified.",
            "DELUSER <username> [<username> ...]",
            "    Delete a list of users.",
            "DRYRUN <username> <command> [<arg> ...]",
            "    Returns whether the user can execute the given command without executing the command.",
            "GETUSER <username>",
            "    Get the user's details.",
            "GENPASS [<bits>]",
            "    Generate a secure 256-bit user password. The optional `bits` argument can",
            "    be used to specify a different size.",
            "LIST",
            "    Show users details in config file format.",
            "LOAD",
            "    Reload users from the ACL file.",
            "LOG [<count> | RESET]",
            "    Show the ACL log entries.",
            "SAVE",
            "    Save the current config to the ACL file.",
            "SETUSER <username> <attribute> [<attribute> ...]",
            "    Create or modify a user with the specified attributes.",
            "USERS",
            "    List all the registered usernames.",
            "WHOAMI",
            "    Return the current connection username.",
        ],
    )
}

/// SHA-256 of `data` as lowercase hex (how Redis stores ACL passwords).
pub fn sha256_hex(data: &[u8]) -> String {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
        0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
        0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
        0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
        0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
        0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
        0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] =
        [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
    let mut msg = data.to_vec();
    let bitlen = (data.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bitlen.to_be_bytes());
    for chunk in msg.chunks(64) {
        let mut w = [0u32; 64];
        for i in 0..16 {
            w[i] = u32::from_be_bytes([chunk[4 * i], chunk[4 * i + 1], chunk[4 * i + 2], chunk[4 * i + 3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16].wrapping_add(s0).wrapping_add(w[i - 7]).wrapping_add(s1);
        }
        let mut v = h;
        for i in 0..64 {
            let s1 = v[4].rotate_right(6) ^ v[4].rotate_right(11) ^ v[4].rotate_right(25);
            let ch = (v[4] & v[5]) ^ (!v[4] & v[6]);
            let t1 = v[7].wrapping_add(s1).wrapping_add(ch).wrapping_add(K[i]).wrapping_add(w[i]);
            let s0 = v[0].rotate_right(2) ^ v[0].rotate_right(13) ^ v[0].rotate_right(22);
            let maj = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);
            let t2 = s0.wrapping_add(maj);
            v = [t1.wrapping_add(t2), v[0], v[1], v[2], v[3].wrapping_add(t1), v[4], v[5], v[6]];
        }
        for (a, b) in h.iter_mut().zip(v) {
            *a = a.wrapping_add(b);
        }
    }
    h.iter().map(|x| format!("{x:08x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_known_vectors() {
        assert_eq!(sha256_hex(b""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(
            sha256_hex(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
    }

    #[test]
    fn rules_round_trip_through_describe() {
        let mut u = User::new("u");
        for r in ["on", ">pw", "~k*", "%R~r*", "&ch", "-@all", "+get", "+@string", "-set"] {
            u.apply(r).unwrap();
        }
        assert!(u.accepts(b"pw") && !u.accepts(b"x"));
        let line = u.describe();
        assert!(line.ends_with("~k* %R~r* resetchannels &ch -@all +get +@string -set"), "{line}");
        // Replaying the described command rules on a fresh user gives the same bitmap.
        let mut v = User::new("v");
        for r in u.describe_commands().split(' ') {
            v.apply(r).unwrap();
        }
        assert_eq!(u.allowed, v.allowed);
    }
}
