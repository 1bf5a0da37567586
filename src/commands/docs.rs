//! COMMAND INFO / COMMAND DOCS replies, generated from each command's declaration.
//! The argument tree for COMMAND DOCS is parsed from the declared usage string
//! (`key value [NX|XX] [EX seconds|PX milliseconds]`), so a command's syntax is written
//! once.

use super::{flags, Command};
use crate::protocol::Reply;

fn b(s: &str) -> Reply {
    Reply::Bulk(s.as_bytes().to_vec())
}

/// COMMAND INFO's 10-element entry.
pub fn info(cmd: &Command) -> Reply {
    let (first, last, step) = match cmd.keys {
        Some(k) => (k.first as i64, k.last as i64, k.step as i64),
        None => (0, 0, 0),
    };
    let mut fl: Vec<Reply> = flags::NAMES
        .iter()
        .filter(|(f, _)| cmd.has(*f) && flags::reported(*f))
        .map(|(_, n)| Reply::Status(n.to_string()))
        .collect();
    if cmd.movable_keys() {
        // Redis lists movablekeys before allow_busy.
        let at = fl.iter().position(|f| *f == Reply::Status("allow_busy".into())).unwrap_or(fl.len());
        fl.insert(at, Reply::Status("movablekeys".into()));
    }
    let cats = cmd.acl_categories().into_iter().map(Reply::Status).collect();
    let tips = cmd.tips.split_whitespace().map(b).collect();
    let subs = if cmd.subs.is_empty() { Reply::Set(vec![]) } else { Reply::Array(cmd.subs.iter().map(info).collect()) };
    Reply::Array(vec![
        b(cmd.name),
        Reply::Int(cmd.arity as i64),
        Reply::Set(fl),
        Reply::Int(first),
        Reply::Int(last),
        Reply::Int(step),
        Reply::Set(cats),
        Reply::Set(tips),
        Reply::Set(key_specs(cmd)),
        subs,
    ])
}

/// (begin index, lastkey relative to it, keystep, flags) per key spec.
pub fn spec_list(cmd: &Command) -> Vec<(i32, i32, i32, Vec<&'static str>)> {
    let Some(k) = cmd.keys else { return vec![] };
    let parts: Vec<Vec<&str>> = if cmd.key_flags.is_empty() {
        vec![if cmd.has(flags::WRITE) { vec!["RW", "update"] } else { vec!["RO", "access"] }]
    } else {
        cmd.key_flags.split(';').map(|p| p.split_whitespace().collect()).collect()
    };
    if parts.len() == 1 {
        let lastkey = if k.last < 0 { k.last } else { k.last - k.first };
        return vec![(k.first, lastkey, k.step, parts.into_iter().next().unwrap_or_default())];
    }
    // Several single-key specs; a negative `last` makes the final spec run to the end
    // (SINTERSTORE: destination, then every source key).
    let n = parts.len();
    parts
        .into_iter()
        .enumerate()
        .map(|(i, f)| (k.first + i as i32, if i + 1 == n && k.last < 0 { k.last } else { 0 }, 1, f))
        .collect()
}

/// A key spec's `find_keys` of type range.
fn range_find_keys(lastkey: i32, keystep: i32, limit: i32) -> Reply {
    Reply::Map(vec![
        (b("type"), b("range")),
        (
            b("spec"),
            Reply::Map(vec![
                (b("lastkey"), Reply::Int(lastkey as i64)),
                (b("keystep"), Reply::Int(keystep as i64)),
                (b("limit"), Reply::Int(limit as i64)),
            ]),
        ),
    ])
}

fn key_specs(cmd: &Command) -> Vec<Reply> {
    let mut specs: Vec<Reply> = spec_list(cmd)
        .into_iter()
        .map(|(index, lastkey, step, fl)| {
            let mut m = Vec::new();
            if !cmd.key_notes.is_empty() {
                m.push((b("notes"), b(cmd.key_notes)));
            }
            m.push((b("flags"), Reply::Set(fl.into_iter().map(|f| Reply::Status(f.to_string())).collect())));
            m.push((
                b("begin_search"),
                Reply::Map(vec![
                    (b("type"), b("index")),
                    (b("spec"), Reply::Map(vec![(b("index"), Reply::Int(index as i64))])),
                ]),
            ));
            m.push((b("find_keys"), range_find_keys(lastkey, step, 0)));
            Reply::Map(m)
        })
        .collect();
    for spec in cmd.specs {
        let fl = Reply::Set(spec.flags().split_whitespace().map(|f| Reply::Status(f.to_string())).collect());
        let unknown = || Reply::Map(vec![(b("type"), b("unknown")), (b("spec"), Reply::Map(vec![]))]);
        specs.push(Reply::Map(match *spec {
            super::ExtraSpec::Keyword { keyword, startfrom, lastkey, limit, .. } => vec![
                (b("flags"), fl),
                (
                    b("begin_search"),
                    Reply::Map(vec![
                        (b("type"), b("keyword")),
                        (
                            b("spec"),
                            Reply::Map(vec![
                                (b("keyword"), b(keyword)),
                                (b("startfrom"), Reply::Int(startfrom as i64)),
                            ]),
                        ),
                    ]),
                ),
                (b("find_keys"), range_find_keys(lastkey, 1, limit)),
            ],
            super::ExtraSpec::Unknown { notes, .. } => vec![
                (b("notes"), b(notes)),
                (b("flags"), fl),
                (b("begin_search"), unknown()),
                (b("find_keys"), unknown()),
            ],
        }));
    }
    if let Some(kn) = cmd.keynum {
        let fl = kn.flags.split_whitespace().map(|f| Reply::Status(f.to_string())).collect();
        specs.push(Reply::Map(vec![
            (b("flags"), Reply::Set(fl)),
            (
                b("begin_search"),
                Reply::Map(vec![
                    (b("type"), b("index")),
                    (b("spec"), Reply::Map(vec![(b("index"), Reply::Int(kn.index as i64))])),
                ]),
            ),
            (
                b("find_keys"),
                Reply::Map(vec![
                    (b("type"), b("keynum")),
                    (
                        b("spec"),
                        Reply::Map(vec![
                            (b("keynumidx"), Reply::Int(kn.keynumidx as i64)),
                            (b("firstkey"), Reply::Int(kn.firstkey as i64)),
                            (b("keystep"), Reply::Int(kn.keystep as i64)),
                        ]),
                    ),
                ]),
            ),
        ]));
    }
    specs
}

/// COMMAND DOCS's map value for one command.
pub fn docs(cmd: &Command) -> Reply {
    let mut m = vec![(b("summary"), b(cmd.summary)), (b("since"), b(cmd.since)), (b("group"), b(cmd.group))];
    // Redis omits an empty complexity (MONITOR).
    if !cmd.complexity.is_empty() {
        m.push((b("complexity"), b(cmd.complexity)));
    }
    let args = parse_args(cmd.args);
    if !args.is_empty() {
        let mut key_idx = 0;
        m.push((b("arguments"), Reply::Array(args.iter().map(|a| a.reply(&mut key_idx)).collect())));
    }
    if !cmd.subs.is_empty() {
        m.push((b("subcommands"), Reply::Map(cmd.subs.iter().map(|s| (b(s.name), docs(s))).collect())));
    }
    Reply::Map(m)
}

#[derive(Debug, Clone, PartialEq)]
pub struct Arg {
    pub name: String,
    pub typ: &'static str,
    pub token: Option<String>,
    pub optional: bool,
    pub multiple: bool,
    pub sub: Vec<Arg>,
}

impl Arg {
    fn reply(&self, key_idx: &mut i64) -> Reply {
        let mut m = vec![(b("name"), b(&self.name)), (b("type"), b(self.typ))];
        if self.typ == "key" {
            m.push((b("key_spec_index"), Reply::Int(*key_idx)));
            *key_idx += 1;
        }
        if let Some(t) = &self.token {
            m.push((b("token"), b(t)));
        }
        let mut fl = Vec::new();
        if self.optional {
            fl.push(Reply::Status("optional".into()));
        }
        if self.multiple {
            fl.push(Reply::Status("multiple".into()));
        }
        if !fl.is_empty() {
            m.push((b("flags"), Reply::Set(fl)));
        }
        if !self.sub.is_empty() {
            m.push((b("arguments"), Reply::Array(self.sub.iter().map(|a| a.reply(key_idx)).collect())));
        }
        Reply::Map(m)
    }
}

fn type_of(name: &str) -> &'static str {
    match name {
        n if n == "key" || n.ends_with("key") || n.starts_with("key") || n == "source" || n == "destination" => "key",
        n if n.contains("pattern") => "pattern",
        n if n.starts_with("unix-time") => "unix-time",
        "seconds" | "milliseconds" | "count" | "offset" | "start" | "end" | "index" | "db" | "numkeys" | "timeout"
        | "decrement" | "cursor" | "index1" | "index2" | "destination-db" | "min-match-len" | "client-id"
        | "protover" => "integer",
        "increment" => "integer",
        _ => "string",
    }
}

fn tokenize(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '[' | ']' | '|' | '<' | '>' => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                out.push(c.to_string());
            }
            ' ' => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Parses a usage string into COMMAND DOCS arguments.
pub fn parse_args(s: &str) -> Vec<Arg> {
    let toks = tokenize(s);
    let mut pos = 0;
    parse_seq(&toks, &mut pos)
}

fn is_token(w: &str) -> bool {
    w.chars().any(|c| c.is_ascii_uppercase()) && !w.chars().any(|c| c.is_ascii_lowercase())
}

fn parse_seq(t: &[String], pos: &mut usize) -> Vec<Arg> {
    let mut alts: Vec<Vec<Arg>> = vec![vec![]];
    while *pos < t.len() {
        let w = t[*pos].as_str();
        match w {
            "]" | ">" => break,
            // "<A|B>": a required group (LINSERT, LMOVE, LMPOP).
            "<" => {
                *pos += 1;
                let inner = parse_seq(t, pos);
                *pos += 1; // '>'
                let cur = alts.last_mut().expect("non-empty");
                let arg = if inner.len() == 1 {
                    inner.into_iter().next().expect("len 1")
                } else {
                    Arg {
                        name: "block".into(),
                        typ: "block",
                        token: None,
                        optional: false,
                        multiple: false,
                        sub: inner,
                    }
                };
                cur.push(arg);
            }
            "|" => {
                *pos += 1;
                alts.push(vec![]);
            }
            "[" => {
                *pos += 1;
                let inner = parse_seq(t, pos);
                *pos += 1; // ']'
                let cur = alts.last_mut().expect("non-empty");
                // "x [x ...]" means x is repeatable.
                if inner.len() == 1 && inner[0].name.ends_with("...") {
                    if let Some(prev) = cur.last_mut() {
                        prev.multiple = true;
                        continue;
                    }
                }
                let arg = if inner.len() == 1 {
                    let mut a = inner.into_iter().next().expect("len 1");
                    a.optional = true;
                    a
                } else {
                    Arg { name: "block".into(), typ: "block", token: None, optional: true, multiple: false, sub: inner }
                };
                cur.push(arg);
            }
            "..." => {
                *pos += 1;
                if let Some(prev) = alts.last_mut().and_then(|c| c.last_mut()) {
                    prev.name.push_str(" ...");
                    prev.name = prev.name.trim_end_matches(" ...").to_string() + "...";
                }
            }
            _ => {
                *pos += 1;
                let cur = alts.last_mut().expect("non-empty");
                if is_token(w) {
                    let next_is_value = *pos < t.len()
                        && !is_token(&t[*pos])
                        && !["[", "]", "|", "...", "<", ">"].contains(&t[*pos].as_str());
                    if next_is_value {
                        let v = t[*pos].clone();
                        *pos += 1;
                        cur.push(Arg {
                            typ: type_of(&v),
                            name: v,
                            token: Some(w.into()),
                            optional: false,
                            multiple: false,
                            sub: vec![],
                        });
                    } else {
                        cur.push(Arg {
                            name: w.to_lowercase(),
                            typ: "pure-token",
                            token: Some(w.into()),
                            optional: false,
                            multiple: false,
                            sub: vec![],
                        });
                    }
                } else {
                    cur.push(Arg {
                        name: w.to_string(),
                        typ: type_of(w),
                        token: None,
                        optional: false,
                        multiple: false,
                        sub: vec![],
                    });
                }
            }
        }
    }
    if alts.len() == 1 {
        return alts.pop().unwrap_or_default();
    }
    let sub = alts
        .into_iter()
        .map(|mut a| {
            if a.len() == 1 {
                a.pop().expect("len 1")
            } else {
                Arg { name: "block".into(), typ: "block", token: None, optional: false, multiple: false, sub: a }
            }
        })
        .collect();
    vec![Arg { name: "condition".into(), typ: "oneof", token: None, optional: false, multiple: false, sub }]
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn usage_strings_parse() {
        let a = parse_args("key [key ...]");
        assert_eq!(a.len(), 1);
        assert!(a[0].multiple);
        assert_eq!(a[0].typ, "key");
        let a = parse_args("key value [NX|XX] [GET] [EX seconds|PX milliseconds|KEEPTTL]");
        assert_eq!(a.len(), 5);
        assert_eq!(a[2].typ, "oneof");
        assert!(a[2].optional);
        assert_eq!(a[3].typ, "pure-token");
        assert_eq!(a[4].sub[0].token.as_deref(), Some("EX"));
        assert_eq!(a[4].sub[0].typ, "integer");
        for c in &super::super::table().cmds {
            let _ = parse_args(c.args);
        }
    }
}
