//! ACL users (Redis 7.0's acl.c): the user registry, ACL SETUSER's rules with selectors,
//! permission checks for commands, keys and channels, the ACL file, and the ACL command
//! (SETUSER GETUSER DELUSER LIST USERS WHOAMI CAT GENPASS DRYRUN LOG LOAD SAVE HELP).
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
//! - ACL LOAD changes nothing unless the whole file is valid.

use super::flags::*;
use super::state::Shared;
use super::{table, Command, Ctx};
use crate::persistence::aof::strerror;
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
    Command::new("acl|log", G, -2, ADMIN | NOSCRIPT | LOADING | STALE, acl_log)
        .doc(
            "List latest events denied because of ACLs in place",
            "6.0.0",
            "O(N) with N being the number of entries shown.",
        )
        .args("[count|RESET]"),
    Command::new("acl|load", G, 2, ADMIN | NOSCRIPT | LOADING | STALE, acl_load).doc(
        "Reload the ACLs from the configured ACL file",
        "6.0.0",
        "O(N). Where N is the number of configured users.",
    ),
    Command::new("acl|save", G, 2, ADMIN | NOSCRIPT | LOADING | STALE, acl_save).doc(
        "Save the current ACL rules in the configured ACL file",
        "6.0.0",
        "O(N). Where N is the number of configured users.",
    ),
    Command::new("acl|help", G, 2, LOADING | STALE, acl_help).doc(
        "Show helpful text about the different subcommands",
        "6.0.0",
        "O(1)",
    ),
];

const READ: u8 = 1;
const WRITE_P: u8 = 2;

/// One user (Redis's `user`): its flags and passwords, the root selector, and further
/// selectors (`(...)` rules); a command is allowed when any selector allows it.
#[derive(Clone, Debug)]
pub struct User {
    pub name: String,
    pub enabled: bool,
    pub nopass: bool,
    /// `sanitize-payload` / `skip-sanitize-payload` as set (None: neither; `reset` sets it).
    sanitize: Option<bool>,
    /// sha256 hex of each password, in the order added.
    pub passwords: Vec<String>,
    root: Selector,
    selectors: Vec<Selector>,
}

/// Command, key and channel permissions (Redis's aclSelector).
#[derive(Clone, Debug)]
struct Selector {
    /// Per command-table id.
    allowed: Vec<bool>,
    /// First arguments allowed for a command whose bit is off (`+select|0`), per id.
    firstargs: Vec<Vec<String>>,
    /// Redis's reserved "future commands" bit: set by +@all, cleared by -@all only.
    all_commands: bool,
    allkeys: bool,
    /// (pattern, READ|WRITE_P)
    keys: Vec<(Vec<u8>, u8)>,
    allchannels: bool,
    channels: Vec<Vec<u8>>,
}

/// Why a command is refused (Redis's ACL_DENIED_*), with the key or channel at fault.
pub enum Denied {
    Cmd(String),
    Key(Vec<u8>),
    Channel(Vec<u8>),
}

impl Denied {
    /// Redis's ACL_DENIED_* order (CMD 1 < KEY 2 < CHANNEL 4): the most relevant wins.
    fn rank(&self) -> u8 {
        match self {
            Denied::Cmd(_) => 1,
            Denied::Key(_) => 2,
            Denied::Channel(_) => 4,
        }
    }
    /// The NOPERM error a client gets.
    pub fn noperm(&self) -> String {
        match self {
            Denied::Cmd(c) => format!("NOPERM this user has no permissions to run the '{c}' command"),
            Denied::Key(_) => "NOPERM this user has no permissions to access one of the keys used as arguments".into(),
            Denied::Channel(_) => {
                "NOPERM this user has no permissions to access one of the channels used as arguments".into()
            }
        }
    }
    /// EXEC's error for a queued command the user may no longer run.
    pub fn at_exec(&self) -> String {
        let why = match self {
            Denied::Cmd(_) => "no permission to execute the command or subcommand",
            Denied::Key(_) => "no permission to touch the specified keys",
            Denied::Channel(_) => "no permission to access one of the channels used as arguments",
        };
        format!("NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: {why}")
    }
    /// ACL DRYRUN's text.
    fn verbose(&self) -> String {
        match self {
            Denied::Cmd(c) => format!("This user has no permissions to run the '{c}' command"),
            Denied::Key(k) => {
                format!("This user has no permissions to access the '{}' key", String::from_utf8_lossy(k))
            }
            Denied::Channel(c) => {
                format!("This user has no permissions to access the '{}' channel", String::from_utf8_lossy(c))
            }
        }
    }
}

/// Sets command `id`'s bit, and its subcommands' (Redis's ACLChangeSelectorPerm).
fn change_perm(bits: &mut [bool], firstargs: Option<&mut Vec<Vec<String>>>, id: usize, allow: bool) {
    let t = table();
    bits[id] = allow;
    if let Some(fa) = firstargs {
        fa[id].clear();
    }
    for s in t.cmds[id].subs {
        if let Some(sid) = t.lookup(s.name.as_bytes()) {
            bits[sid] = allow;
        }
    }
}

/// Every command (and subcommand) in category `cat` (Redis's
/// ACLSetSelectorCommandBitsForCategory).
fn set_category(bits: &mut [bool], cats: &[Vec<String>], cat: &str, allow: bool) {
    for (id, c) in cats.iter().enumerate() {
        if c.iter().any(|c| c == cat) {
            change_perm(bits, None, id, allow);
        }
    }
}

fn categories() -> Vec<Vec<String>> {
    table().cmds.iter().map(|c| c.acl_categories()).collect()
}

impl Selector {
    fn new() -> Selector {
        let n = table().len();
        Selector {
            allowed: vec![false; n],
            firstargs: vec![Vec::new(); n],
            all_commands: false,
            allkeys: false,
            keys: Vec::new(),
            allchannels: false,
            channels: Vec::new(),
        }
    }

    /// Unrestricted: the checks can be skipped for its clients.
    fn open(&self) -> bool {
        self.allowed.iter().all(|a| *a) && self.allkeys && self.allchannels
    }

    fn set_all(&mut self, allow: bool) {
        self.allowed.iter_mut().for_each(|a| *a = allow);
        self.firstargs.iter_mut().for_each(|f| f.clear());
        self.all_commands = allow;
    }

    /// One permission rule (commands, keys, channels).
    fn apply(&mut self, op: &str) -> Result<(), &'static str> {
        match op.to_ascii_lowercase().as_str() {
            "allkeys" => {
                self.allkeys = true;
                self.keys.clear();
            }
            "resetkeys" => {
                self.allkeys = false;
                self.keys.clear();
            }
            "allchannels" => {
                self.allchannels = true;
                self.channels.clear();
            }
            "resetchannels" => {
                self.allchannels = false;
                self.channels.clear();
            }
            "allcommands" | "+@all" => self.set_all(true),
            "nocommands" | "-@all" => self.set_all(false),
            _ => return self.apply_complex(op),
        }
        Ok(())
    }
}

impl User {
    fn new(name: &str) -> User {
        User {
            name: name.to_string(),
            enabled: false,
            nopass: false,
            sanitize: None,
            passwords: Vec::new(),
            root: Selector::new(),
            selectors: Vec::new(),
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
        self.root.open()
    }

    /// Applies one ACL SETUSER rule (Redis's ACLSetUser); Err is the reason text. A
    /// `(...)` rule adds a selector built from the rules inside.
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
            "sanitize-payload" => self.sanitize = Some(true),
            "skip-sanitize-payload" => self.sanitize = Some(false),
            "clearselectors" => self.selectors.clear(),
            "reset" => {
                for r in ["resetpass", "resetkeys", "resetchannels", "off", "clearselectors", "-@all"] {
                    self.apply(r)?;
                }
                self.sanitize = Some(true);
            }
            _ if op.starts_with('(') => {
                let Some(inner) = op.strip_prefix('(').and_then(|x| x.strip_suffix(')')) else {
                    return Err("Syntax error");
                };
                let mut sel = Selector::new();
                for r in inner.split_whitespace() {
                    sel.apply(r)?;
                }
                self.selectors.push(sel);
            }
            _ => return self.apply_password(op),
        }
        Ok(())
    }

    /// Password rules; anything else goes to the root selector.
    fn apply_password(&mut self, op: &str) -> Result<(), &'static str> {
        const BADHASH: &str =
            "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters";
        let hash_ok = |h: &str| h.len() == 64 && h.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c));
        let b = op.as_bytes();
        match b.first() {
            Some(b'>') | Some(b'#') => {
                let h = if b[0] == b'>' {
                    sha256_hex(&b[1..])
                } else if hash_ok(&op[1..]) {
                    op[1..].to_string()
                } else {
                    return Err(BADHASH);
                };
                if !self.passwords.contains(&h) {
                    self.passwords.push(h);
                }
                self.nopass = false;
            }
            Some(b'<') | Some(b'!') => {
                let h = if b[0] == b'<' {
                    sha256_hex(&b[1..])
                } else if hash_ok(&op[1..]) {
                    op[1..].to_string()
                } else {
                    return Err(BADHASH);
                };
                let before = self.passwords.len();
                self.passwords.retain(|p| *p != h);
                if self.passwords.len() == before {
                    return Err("The password you are trying to remove from the user does not exist");
                }
            }
            _ => return self.root.apply(op),
        }
        Ok(())
    }
}

impl Selector {
    fn apply_complex(&mut self, op: &str) -> Result<(), &'static str> {
        const SYNTAX: &str = "Syntax error";
        const UNKNOWN: &str = "Unknown command or category name in ACL";
        let b = op.as_bytes();
        match b.first() {
            Some(b'~') | Some(b'%') => {
                let (flags, pat) = if b[0] == b'~' {
                    (READ | WRITE_P, &b[1..])
                } else {
                    let Some(t) = op.find('~') else { return Err(SYNTAX) };
                    let mut f = 0;
                    for c in op[1..t].bytes() {
                        let bit = match c.to_ascii_uppercase() {
                            b'R' => READ,
                            b'W' => WRITE_P,
                            _ => return Err(SYNTAX),
                        };
                        if f & bit != 0 {
                            return Err(SYNTAX);
                        }
                        f |= bit;
                    }
                    if f == 0 {
                        return Err(SYNTAX);
                    }
                    (f, &b[t + 1..])
                };
                if self.allkeys {
                    if flags == READ | WRITE_P && pat == b"*" {
                        return Ok(());
                    }
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
                let pat = b[1..].to_vec();
                if self.allchannels {
                    if pat == b"*" {
                        return Ok(());
                    }
                    return Err("Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels");
                }
                if pat == b"*" {
                    self.allchannels = true;
                    self.channels.clear();
                } else if !self.channels.contains(&pat) {
                    self.channels.push(pat);
                }
            }
            Some(b'+') | Some(b'-') => {
                let allow = b[0] == b'+';
                let rest = &op[1..];
                let t = table();
                if let Some(cat) = rest.strip_prefix('@') {
                    let cat = format!("@{}", cat.to_ascii_lowercase());
                    if !super::ACL_ORDER.contains(&cat.as_str()) {
                        return Err(UNKNOWN);
                    }
                    set_category(&mut self.allowed, &categories(), &cat, allow);
                } else if let Some((parent, sub)) = rest.split_once('|') {
                    let Some(pid) = t.lookup(parent.as_bytes()).filter(|_| !parent.is_empty()) else {
                        return Err(UNKNOWN);
                    };
                    if sub.is_empty() {
                        return Err(SYNTAX);
                    }
                    if !t.cmds[pid].subs.is_empty() {
                        if sub.contains('|') {
                            return Err("Allowing first-arg of a subcommand is not supported");
                        }
                        let Some(id) = t.lookup(rest.as_bytes()) else { return Err(UNKNOWN) };
                        change_perm(&mut self.allowed, Some(&mut self.firstargs), id, allow);
                    } else {
                        // A first-argument rule (+select|0): only allowing makes sense.
                        if !allow {
                            return Err(UNKNOWN);
                        }
                        if sub.contains('|') {
                            return Err(SYNTAX);
                        }
                        if !self.allowed[pid] {
                            let s = sub.to_string();
                            if !self.firstargs[pid].iter().any(|x| x.eq_ignore_ascii_case(&s)) {
                                self.firstargs[pid].push(s);
                            }
                        }
                    }
                } else {
                    let Some(id) = t.lookup(rest.as_bytes()).filter(|_| !rest.is_empty()) else { return Err(UNKNOWN) };
                    change_perm(&mut self.allowed, Some(&mut self.firstargs), id, allow);
                }
            }
            _ => return Err(SYNTAX),
        }
        Ok(())
    }

    /// Keys, channels and commands as rules (Redis's ACLDescribeSelector).
    fn describe(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        let keys = self.describe_keys();
        if !keys.is_empty() {
            parts.push(keys);
        }
        if self.allchannels {
            parts.push("&*".into());
        } else {
            parts.push("resetchannels".into());
            let ch = self.describe_channels();
            if !ch.is_empty() {
                parts.push(ch);
            }
        }
        parts.push(self.describe_commands());
        parts.join(" ")
    }

    /// GETUSER's map of this selector's rules.
    fn getuser_fields(&self) -> Vec<(Reply, Reply)> {
        let b = |s: &str| Reply::Bulk(s.as_bytes().to_vec());
        vec![
            (b("commands"), b(&self.describe_commands())),
            (b("keys"), b(&self.describe_keys())),
            (b("channels"), b(&self.describe_channels())),
        ]
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

    /// Channel patterns (GETUSER's `channels`).
    fn describe_channels(&self) -> String {
        if self.allchannels {
            return "&*".into();
        }
        self.channels.iter().map(|c| format!("&{}", String::from_utf8_lossy(c))).collect::<Vec<_>>().join(" ")
    }

    /// Redis 7.0's ACLDescribeSelectorCommandRules: +@all or -@all, then the categories
    /// that best fit the bitmap (greedy, in category order), then single commands.
    fn describe_commands(&self) -> String {
        let t = table();
        let cats = categories();
        let n = self.allowed.len();
        let additive = !self.all_commands;
        let mut rules: Vec<String> = vec![if additive { "-@all" } else { "+@all" }.into()];
        let mut fake = vec![!additive; n];
        let mut temp = self.allowed.clone();
        let mut applied = vec![false; super::ACL_ORDER.len()];
        loop {
            let mut best = None;
            let (mut mindiff, mut maxsame) = (usize::MAX, 0usize);
            for (j, cat) in super::ACL_ORDER.iter().enumerate() {
                if applied[j] {
                    continue;
                }
                let (mut on, mut off) = (0usize, 0usize);
                for &id in &t.top {
                    if cats[id].iter().any(|c| c == cat) {
                        if temp[id] {
                            on += 1;
                        } else {
                            off += 1;
                        }
                    }
                }
                let (diff, same) = if additive { (off, on) } else { (on, off) };
                if same > diff && (diff < mindiff || (diff == mindiff && same > maxsame)) {
                    best = Some(j);
                    mindiff = diff;
                    maxsame = same;
                }
            }
            let Some(j) = best else { break };
            let cat = super::ACL_ORDER[j];
            set_category(&mut fake, &cats, cat, additive);
            set_category(&mut temp, &cats, cat, !additive);
            rules.push(format!("{}{}", if additive { '+' } else { '-' }, cat));
            applied[j] = true;
        }
        for &id in &t.top {
            let mut ids = vec![id];
            for s in t.cmds[id].subs {
                if let Some(sid) = t.lookup(s.name.as_bytes()) {
                    ids.push(sid);
                }
            }
            for cid in ids {
                if self.allowed[cid] != fake[cid] {
                    rules.push(format!("{}{}", if self.allowed[cid] { '+' } else { '-' }, t.cmds[cid].name));
                    change_perm(&mut fake, None, cid, self.allowed[cid]);
                }
                if !self.allowed[cid] {
                    for a in &self.firstargs[cid] {
                        rules.push(format!("+{}|{}", t.cmds[cid].name, a));
                    }
                }
            }
        }
        rules.join(" ")
    }
}

impl User {
    /// The user as an ACL LIST line (Redis's ACLDescribeUser).
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = vec![format!("user {}", self.name)];
        parts.extend(self.flag_names().into_iter().map(String::from));
        parts.extend(self.passwords.iter().map(|p| format!("#{p}")));
        parts.push(self.root.describe());
        parts.extend(self.selectors.iter().map(|s| format!("({})", s.describe())));
        parts.join(" ")
    }

    /// Redis's ACLCheckAllUserCommandPerm: allowed if the root or any selector allows;
    /// otherwise the most relevant denial (command < key < channel; for the same kind,
    /// the later argument).
    pub fn check(&self, id: usize, cmd: &Command, argv: &[&[u8]]) -> Result<(), Denied> {
        let mut worst = match self.root.check(id, cmd, argv) {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        for s in &self.selectors {
            match s.check(id, cmd, argv) {
                Ok(()) => return Ok(()),
                Err(e) => {
                    if (e.0.rank(), e.1) > (worst.0.rank(), worst.1) {
                        worst = e;
                    }
                }
            }
        }
        Err(worst.0)
    }

    /// Every selector's channel rules (to tell whether SETUSER changed them).
    fn channel_rules(&self) -> Vec<(bool, &[Vec<u8>])> {
        std::iter::once(&self.root).chain(&self.selectors).map(|s| (s.allchannels, s.channels.as_slice())).collect()
    }

    /// Whether some selector lets this user use `ch` (a pattern itself when `literal`).
    fn channel_ok(&self, ch: &[u8], literal: bool) -> bool {
        std::iter::once(&self.root).chain(&self.selectors).any(|s| {
            s.allchannels
                || s.channels.iter().any(|p| if literal { p.as_slice() == ch } else { glob_match(p, ch, false) })
        })
    }

    fn flag_names(&self) -> Vec<&'static str> {
        let mut v = vec![if self.enabled { "on" } else { "off" }];
        if self.nopass {
            v.push("nopass");
        }
        match self.sanitize {
            Some(true) => v.push("sanitize-payload"),
            Some(false) => v.push("skip-sanitize-payload"),
            None => {}
        }
        v
    }

    /// Whether `pass` logs in as this user.
    fn accepts(&self, pass: &[u8]) -> bool {
        self.enabled && (self.nopass || self.passwords.contains(&sha256_hex(pass)))
    }
}

impl Selector {
    /// Redis's ACLSelectorCheckCmd: command bit (or an allowed first argument), keys by
    /// the access their key specs need, channels. The error carries the argument index.
    fn check(&self, id: usize, cmd: &Command, argv: &[&[u8]]) -> Result<(), (Denied, usize)> {
        if !cmd.has(NO_AUTH) && !self.allowed.get(id).copied().unwrap_or(false) {
            let idx = if cmd.name.contains('|') { 2 } else { 1 };
            let first_ok = argv.get(idx).is_some_and(|a| {
                self.firstargs.get(id).is_some_and(|f| f.iter().any(|x| x.as_bytes().eq_ignore_ascii_case(a)))
            });
            if !first_ok {
                return Err((Denied::Cmd(cmd.name.to_string()), 0));
            }
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
                    return Err((Denied::Key(argv[p].to_vec()), p));
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
            for (i, ch) in chans.iter().enumerate() {
                let ok =
                    self.channels.iter().any(|p| if literal { p.as_slice() == *ch } else { glob_match(p, ch, false) });
                if !ok {
                    return Err((Denied::Channel(ch.to_vec()), i + 1));
                }
            }
        }
        Ok(())
    }
}

/// All users by name (ACL USERS / LIST order), and the ACL LOG.
pub struct Acl {
    users: BTreeMap<String, User>,
    /// Newest first (Redis's ACLLog).
    log: std::collections::VecDeque<LogEntry>,
}

/// One ACL LOG entry; equal denials within 60 s are counted in one entry.
struct LogEntry {
    count: u64,
    reason: &'static str,
    context: &'static str,
    object: Vec<u8>,
    username: String,
    /// Unix ms of the latest denial.
    ctime: i64,
    client_info: String,
}

impl Default for Acl {
    fn default() -> Self {
        let mut users = BTreeMap::new();
        users.insert("default".to_string(), User::default_user());
        Acl { users, log: Default::default() }
    }
}

impl Denied {
    fn reason(&self) -> (&'static str, Vec<u8>) {
        match self {
            Denied::Cmd(c) => ("command", c.as_bytes().to_vec()),
            Denied::Key(k) => ("key", k.clone()),
            Denied::Channel(c) => ("channel", c.clone()),
        }
    }
}

/// Records a denial in the ACL LOG (Redis's addACLLogEntry): `reason` is command, key,
/// channel or auth; `context` toplevel or multi.
pub fn log_denial(
    shared: &Shared,
    session: &super::state::Session,
    reason: &'static str,
    context: &'static str,
    object: &[u8],
    username: &str,
    cmd_name: &str,
) {
    let now = crate::store::unix_ms();
    let max = shared.config.read().acllog_max_len as usize;
    let info = super::connection::client_line(&session.info, now, cmd_name);
    let mut acl = shared.acl.write();
    let same = acl.log.iter().position(|e| {
        e.reason == reason
            && e.context == context
            && now - e.ctime <= 60_000
            && e.object == object
            && e.username == username
    });
    let entry = match same {
        Some(i) => {
            let mut e = acl.log.remove(i).expect("index from position");
            e.count += 1;
            e.ctime = now;
            e.client_info = info;
            e
        }
        None => LogEntry {
            count: 1,
            reason,
            context,
            object: object.to_vec(),
            username: username.to_string(),
            ctime: now,
            client_info: info,
        },
    };
    acl.log.push_front(entry);
    acl.log.truncate(max);
}

/// A NOPERM refusal of `execute` (or EXEC's re-check) for the ACL LOG.
pub fn log_denied(shared: &Shared, session: &super::state::Session, d: &Denied, multi: bool, cmd: &str) {
    let (reason, object) = d.reason();
    let ctx = if multi { "multi" } else { "toplevel" };
    log_denial(shared, session, reason, ctx, &object, &session.user, cmd);
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

/// The permission check of `execute` (and EXEC) for a session's user.
pub fn check_denied(shared: &Shared, user: &str, id: usize, cmd: &Command, argv: &[&[u8]]) -> Result<(), Denied> {
    let acl = shared.acl.read();
    match acl.users.get(user) {
        Some(u) => u.check(id, cmd, argv),
        // The user was deleted while this client ran: it is being disconnected.
        None => Err(Denied::Cmd(cmd.name.to_string())),
    }
}

fn acl_setuser(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let name = String::from_utf8_lossy(argv[2]).to_string();
    if argv[2].iter().any(|&c| c == b' ' || c == 0) {
        return Reply::err("ERR Usernames can't contain spaces or null characters");
    }
    let sh = ctx.shared;
    let mut acl = sh.acl.write();
    let mut u = acl.users.get(&name).cloned().unwrap_or_else(|| User::new(&name));
    let ops = match merge_selectors(&argv[3..]) {
        Ok(ops) => ops,
        Err(open) => return Reply::Error(format!("ERR Unmatched parenthesis in acl selector starting at '{open}'.")),
    };
    for op in &ops {
        if let Err(why) = u.apply(op) {
            return Reply::Error(format!("ERR Error in ACL SETUSER modifier '{op}': {why}"));
        }
    }
    let channels_changed = acl.users.get(&name).is_some_and(|o| o.channel_rules() != u.channel_rules());
    acl.users.insert(name, u.clone());
    refresh_open(sh, &acl);
    drop(acl);
    if channels_changed {
        kill_unpermitted_subscribers(ctx, &u);
    }
    Reply::ok()
}

/// Redis's ACLMergeSelectorArguments: a selector may span several arguments, from one
/// starting with `(` to one ending with `)`; they are joined with spaces. Err is the
/// argument that opened the unterminated selector.
fn merge_selectors(args: &[&[u8]]) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut open: Option<(String, String)> = None;
    for a in args {
        let op = String::from_utf8_lossy(a).to_string();
        match open.as_mut() {
            Some((acc, _)) => {
                acc.push(' ');
                acc.push_str(&op);
                if op.ends_with(')') {
                    out.extend(open.take().map(|(acc, _)| acc));
                }
            }
            None if op.starts_with('(') && !op.ends_with(')') => open = Some((op.clone(), op)),
            None => out.push(op),
        }
    }
    match open {
        Some((_, first)) => Err(first),
        None => Ok(out),
    }
}

/// After a user's channel rules changed: its clients subscribed to a channel, pattern or
/// shard channel it may no longer use are disconnected (Redis's
/// ACLKillPubsubClientsIfNeeded).
fn kill_unpermitted_subscribers(ctx: &mut Ctx, u: &User) {
    let sh = ctx.shared;
    let ps = sh.pubsub.read();
    let mut doomed = Vec::new();
    for c in sh.clients.lock().values() {
        if *c.user.lock() != u.name || c.subs.iter().all(|n| n.load(Ordering::Relaxed) == 0) {
            continue;
        }
        let [chans, pats, shard] = ps.subscriptions(c.id);
        let ok =
            chans.iter().chain(&shard).all(|c| u.channel_ok(c, false)) && pats.iter().all(|p| u.channel_ok(p, true));
        if !ok {
            doomed.push(c.clone());
        }
    }
    drop(ps);
    for c in doomed {
        if c.id == ctx.session.id {
            ctx.session.close_after_reply = true;
        } else {
            c.killed.store(true, Ordering::Release);
            sh.kills_pending.store(true, Ordering::Release);
        }
    }
}

fn acl_getuser(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let name = String::from_utf8_lossy(argv[2]).to_string();
    let acl = ctx.shared.acl.read();
    let Some(u) = acl.users.get(&name) else { return Reply::Nil };
    let b = |s: &str| Reply::Bulk(s.as_bytes().to_vec());
    let mut fields = vec![
        (b("flags"), Reply::Set(u.flag_names().into_iter().map(b).collect())),
        (b("passwords"), Reply::Array(u.passwords.iter().map(|p| b(p)).collect())),
    ];
    fields.extend(u.root.getuser_fields());
    fields.push((b("selectors"), Reply::Array(u.selectors.iter().map(|s| Reply::Map(s.getuser_fields())).collect())));
    Reply::Map(fields)
}

fn acl_deluser(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let sh = ctx.shared;
    let mut acl = sh.acl.write();
    if argv[2..].iter().any(|a| *a == b"default") {
        return Reply::err("ERR The 'default' user cannot be removed");
    }
    let mut n = 0;
    for a in &argv[2..] {
        let name = String::from_utf8_lossy(a).to_string();
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
        return Reply::Error(super::errors::subcommand_syntax(argv));
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
        return Reply::Error(super::errors::subcommand_syntax(argv));
    }
    let bits = match argv.get(2) {
        None => 256,
        Some(a) => match crate::store::parse_i64_strict(a) {
            Some(b) if (1..=4096).contains(&b) => b,
            Some(_) => return Reply::err("ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096"),
            None => return Reply::err("ERR value is not an integer or out of range"),
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
    let not_found = || Reply::Error(format!("ERR Command '{}' not found", String::from_utf8_lossy(args[0])));
    let Some(id0) = t.lookup_user(args[0]) else { return not_found() };
    let id = match t.resolve(args) {
        Ok(id) => id,
        // An unknown subcommand: Redis reports the command as not found.
        Err(_) if !t.cmds[id0].subs.is_empty() && args.len() >= 2 => return not_found(),
        Err(e) => return Reply::Error(e),
    };
    match u.check(id, t.cmds[id], args) {
        Ok(()) => Reply::ok(),
        Err(d) => Reply::Bulk(d.verbose().into_bytes()),
    }
}

const NO_ACLFILE: &str = "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.";

/// Parses an ACL file (Redis's ACLLoadFromFile): `user <name> <rules...>` lines, blank
/// lines skipped; every error is collected. A missing `default` user is created as
/// Redis's default. Nothing is applied unless the whole file is valid.
pub fn parse_acl_file(path: &str, text: &str) -> Result<BTreeMap<String, User>, String> {
    let mut users: BTreeMap<String, User> = BTreeMap::new();
    let mut errors = String::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        let words = match crate::config::split_config_line(t) {
            Some(w) => w,
            None => {
                errors.push_str(&format!("{path}:{n}: unbalanced quotes in acl line. "));
                continue;
            }
        };
        if words.len() < 2 || words[0] != "user" {
            errors.push_str(&format!("{path}:{n} should start with user keyword followed by the username. "));
            continue;
        }
        let name = &words[1];
        if users.contains_key(name) {
            errors.push_str(&format!("WARNING: Duplicate user '{name}' found on line {n}. "));
            continue;
        }
        let args: Vec<&[u8]> = words[2..].iter().map(|w| w.as_bytes()).collect();
        let ops = match merge_selectors(&args) {
            Ok(ops) => ops,
            Err(_) => {
                // Redis 7.0's text, without a space before the final WARNING.
                errors.push_str(&format!("{path}:{n}: Unmatched parenthesis in selector definition."));
                continue;
            }
        };
        let mut u = User::new(name);
        if let Some(why) = ops.iter().find_map(|op| u.apply(op).err()) {
            errors.push_str(&format!("{path}:{n}: {why}. "));
            continue;
        }
        users.insert(name.clone(), u);
    }
    if !errors.is_empty() {
        errors.push_str("WARNING: ACL errors detected, no change to the previously active ACL rules was performed");
        return Err(errors);
    }
    users.entry("default".into()).or_insert_with(User::default_user);
    Ok(users)
}

/// Replaces every user with `users` (ACL LOAD, startup). As Redis 7.0 does, clients
/// authenticated as any user but `default` are disconnected.
fn install_users(shared: &Shared, users: BTreeMap<String, User>, me: Option<&mut super::state::Session>) {
    let mut acl = shared.acl.write();
    acl.users = users;
    refresh_open(shared, &acl);
    drop(acl);
    let mut me = me;
    for c in shared.clients.lock().values() {
        if *c.user.lock() == "default" {
            continue;
        }
        match me.as_deref_mut() {
            Some(s) if s.id == c.id => s.close_after_reply = true,
            _ => {
                c.killed.store(true, Ordering::Release);
                shared.kills_pending.store(true, Ordering::Release);
            }
        }
    }
}

/// At start: the aclfile, or the config file's `user` lines (not both, as in Redis).
pub fn load_at_startup(shared: &Shared) -> Result<(), String> {
    let (path, lines) = {
        let c = shared.config.read();
        (c.aclfile.clone(), c.users.clone())
    };
    if !path.is_empty() && !lines.is_empty() {
        return Err("Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid. This setup is very likely to lead to configuration errors and security holes, please define either an ACL file or declare users directly in your redis.conf, but not both.".into());
    }
    if !path.is_empty() {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("Error loading ACLs, opening file '{path}': {}", strerror(&e)))?;
        let users = parse_acl_file(&path, &text)?;
        install_users(shared, users, None);
        return Ok(());
    }
    let mut acl = shared.acl.write();
    for words in lines {
        let name = words[0].clone();
        let args: Vec<&[u8]> = words[1..].iter().map(|w| w.as_bytes()).collect();
        let ops = merge_selectors(&args)
            .map_err(|open| format!("Unmatched parenthesis in acl selector starting at '{open}'"))?;
        let mut u = acl.users.get(&name).cloned().unwrap_or_else(|| User::new(&name));
        for op in &ops {
            u.apply(op).map_err(|why| format!("Error in user declaration '{name}': {why}"))?;
        }
        acl.users.insert(name, u);
    }
    refresh_open(shared, &acl);
    Ok(())
}

fn acl_load(ctx: &mut Ctx, _: &[&[u8]]) -> Reply {
    let path = ctx.shared.config.read().aclfile.clone();
    if path.is_empty() {
        return Reply::err(NO_ACLFILE);
    }
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => return Reply::Error(format!("ERR Error loading ACLs, opening file '{path}': {}", strerror(&e))),
    };
    match parse_acl_file(&path, &text) {
        Ok(users) => {
            install_users(ctx.shared, users, Some(ctx.session));
            Reply::ok()
        }
        Err(e) => Reply::Error(format!("ERR {e}")),
    }
}

fn acl_save(ctx: &mut Ctx, _: &[&[u8]]) -> Reply {
    let path = ctx.shared.config.read().aclfile.clone();
    if path.is_empty() {
        return Reply::err(NO_ACLFILE);
    }
    let mut text = String::new();
    for u in ctx.shared.acl.read().users.values() {
        text.push_str(&u.describe());
        text.push('\n');
    }
    // Written beside the target, then renamed over it: a crash never leaves half a file.
    let tmp = format!("{path}.tmp-{}", std::process::id());
    let res = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, &path));
    match res {
        Ok(()) => Reply::ok(),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            log::warn!("ACL SAVE to {path} failed: {e}");
            Reply::err(
                "ERR There was an error trying to save the ACLs. Please check the server logs for more information",
            )
        }
    }
}

/// ACL LOG [count | RESET]: newest first, at most `count` (default 10).
fn acl_log(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    if argv.len() > 3 {
        return Reply::Error(super::errors::subcommand_syntax(argv));
    }
    let mut count = 10i64;
    if let Some(a) = argv.get(2) {
        if a.eq_ignore_ascii_case(b"reset") {
            ctx.shared.acl.write().log.clear();
            return Reply::ok();
        }
        match crate::store::parse_i64_strict(a) {
            Some(n) => count = n.max(0),
            None => return Reply::err("ERR value is not an integer or out of range"),
        }
    }
    let now = ctx.now;
    let acl = ctx.shared.acl.read();
    let b = |s: &[u8]| Reply::Bulk(s.to_vec());
    Reply::Array(
        acl.log
            .iter()
            .take(count as usize)
            .map(|e| {
                Reply::Map(vec![
                    (b(b"count"), Reply::Int(e.count as i64)),
                    (b(b"reason"), b(e.reason.as_bytes())),
                    (b(b"context"), b(e.context.as_bytes())),
                    (b(b"object"), b(&e.object)),
                    (b(b"username"), b(e.username.as_bytes())),
                    (b(b"age-seconds"), Reply::Double((now - e.ctime) as f64 / 1000.0)),
                    (b(b"client-info"), b(e.client_info.as_bytes())),
                ])
            })
            .collect(),
    )
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

/// `data` with SHA-1/SHA-256's padding: 0x80, zeros, the bit length (big-endian), to a
/// multiple of 64 bytes.
pub(super) fn md_padded(data: &[u8]) -> Vec<u8> {
    let mut msg = data.to_vec();
    let bitlen = (data.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bitlen.to_be_bytes());
    msg
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
    for chunk in md_padded(data).chunks(64) {
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
        assert!(line.contains("~k* %R~r* resetchannels &ch -@all"), "{line}");
        // Replaying the described command rules on a fresh user gives the same bitmap.
        let mut v = User::new("v");
        for r in u.root.describe_commands().split(' ') {
            v.apply(r).unwrap();
        }
        assert_eq!(u.root.allowed, v.root.allowed);
    }

    #[test]
    fn selectors_round_trip_through_describe() {
        let mut u = User::new("u");
        for r in ["on", "nopass", "(~a* +get)", "(%W~w* &c* +publish +set)", "+ping"] {
            u.apply(r).unwrap();
        }
        let line = u.describe();
        assert_eq!(
            line,
            "user u on nopass resetchannels -@all +ping (~a* resetchannels -@all +get) \
             (%W~w* resetchannels &c* -@all +set +publish)"
        );
        // ACL SAVE writes this line; loading it back gives the same description.
        let users = parse_acl_file("f", &line).unwrap();
        assert_eq!(users["u"].describe(), line);
        assert!(users.contains_key("default"));
    }
}
