//! Geo commands (COMMAND DOCS group `geo`): GEOADD GEODIST GEOHASH GEOPOS GEOSEARCH
//! GEOSEARCHSTORE GEORADIUS GEORADIUSBYMEMBER GEORADIUS_RO GEORADIUSBYMEMBER_RO.
//!
//! Must hold: a geo set is a plain sorted set whose scores are Redis's 52-bit interleaved
//! geohashes (geohash.c / geohash_helper.c, step 26, latitude limited to +-85.05112878);
//! searches scan the same 9 neighbour cells as geohashCalculateAreasByShapeWGS84 and
//! filter by Redis's haversine, so results (and COUNT ANY truncation) equal Redis 7.0's;
//! replies and errors are Redis 7.0's byte for byte, in its order of checks.

use super::errors::{NOT_FLOAT, NOT_INT, SYNTAX, WRONGTYPE};
use super::flags::*;
use super::sorted_set::c_strtod;
use super::state::EncLimits;
use super::{eq_ic, plan_key, Command, Ctx, ExtraSpec};
use crate::protocol::{Proto, Reply};
use crate::store::zset::{cmp_entry, Limits, ZSet};
use crate::store::{Item, Value};

const G: &str = "geo";

const SEARCH_CX: &str = "O(N+log(M)) where N is the number of elements in the grid-aligned bounding box area around the shape provided as the filter and M is the number of items inside the shape";
const RADIUS_CX: &str = "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.";

pub static COMMANDS: &[Command] = &[
    Command::new("geoadd", G, -5, WRITE | DENYOOM, geoadd).ev(super::notify::Ev::Key(crate::config::events::ZSET, "zadd")).keys(1, 1, 1).ks("RW update").acl("@geo")
        .doc("Add one or more geospatial items in the geospatial index represented using a sorted set", "3.2.0", "O(log(N)) for each item added, where N is the number of elements in the sorted set.")
        .args("key [NX|XX] [CH] longitude latitude member [longitude latitude member ...]"),
    Command::new("geodist", G, -4, READONLY, geodist).keys(1, 1, 1).ks("RO access").acl("@geo")
        .doc("Returns the distance between two members of a geospatial index", "3.2.0", "O(log(N))")
        .args("key member1 member2 [M|KM|FT|MI]"),
    Command::new("geohash", G, -2, READONLY, geohash).keys(1, 1, 1).ks("RO access").acl("@geo")
        .doc("Returns members of a geospatial index as standard geohash strings", "3.2.0", "O(log(N)) for each member requested, where N is the number of elements in the sorted set.")
        .args("key [member [member ...]]"),
    Command::new("geopos", G, -2, READONLY, geopos).keys(1, 1, 1).ks("RO access").acl("@geo")
        .doc("Returns longitude and latitude of members of a geospatial index", "3.2.0", "O(N) where N is the number of members requested.")
        .args("key [member [member ...]]"),
    Command::new("georadius", G, -6, WRITE | DENYOOM, georadius).ev(super::notify::Ev::Fn(super::notify::store_option)).keys(1, 1, 1).ks("RO access").specs(&[ExtraSpec::keyword("STORE", 6, 0, 0, "OW update"), ExtraSpec::keyword("STOREDIST", 6, 0, 0, "OW update")]).plan(georadius_plan).acl("@geo")
        .doc("Query a sorted set representing a geospatial index to fetch members matching a given maximum distance from a point", "3.2.0", RADIUS_CX)
        .args("key longitude latitude radius M|KM|FT|MI [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC|DESC] [STORE key] [STOREDIST key]"),
    Command::new("georadiusbymember", G, -5, WRITE | DENYOOM, georadiusbymember).ev(super::notify::Ev::Fn(super::notify::store_option)).keys(1, 1, 1).ks("RO access").specs(&[ExtraSpec::keyword("STORE", 5, 0, 0, "OW update"), ExtraSpec::keyword("STOREDIST", 5, 0, 0, "OW update")]).plan(georadius_plan).acl("@geo")
        .doc("Query a sorted set representing a geospatial index to fetch members matching a given maximum distance from a member", "3.2.0", RADIUS_CX)
        .args("key member radius M|KM|FT|MI [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC|DESC] [STORE key] [STOREDIST key]"),
    Command::new("georadius_ro", G, -6, READONLY, georadius_ro).keys(1, 1, 1).ks("RO access").acl("@geo")
        .doc("A read-only variant for GEORADIUS", "3.2.10", RADIUS_CX)
        .args("key longitude latitude radius M|KM|FT|MI [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC|DESC]"),
    Command::new("georadiusbymember_ro", G, -5, READONLY, georadiusbymember_ro).keys(1, 1, 1).ks("RO access").acl("@geo")
        .doc("A read-only variant for GEORADIUSBYMEMBER", "3.2.10", RADIUS_CX)
        .args("key member radius M|KM|FT|MI [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC|DESC]"),
    Command::new("geosearch", G, -7, READONLY, geosearch).keys(1, 1, 1).ks("RO access").acl("@geo")
        .doc("Query a sorted set representing a geospatial index to fetch members inside an area of a box or a circle.", "6.2.0", SEARCH_CX)
        .args("key FROMMEMBER member|FROMLONLAT longitude latitude BYRADIUS radius M|KM|FT|MI|BYBOX width height M|KM|FT|MI [ASC|DESC] [COUNT count [ANY]] [WITHCOORD] [WITHDIST] [WITHHASH]"),
    Command::new("geosearchstore", G, -8, WRITE | DENYOOM, geosearchstore).ev(super::notify::Ev::Store(crate::config::events::ZSET, "geosearchstore")).keys(1, 2, 1).ks("OW update; RO access").acl("@geo")
        .doc("Query a sorted set representing a geospatial index to fetch members inside an area of a box or a circle, and store the result in another key.", "6.2.0", SEARCH_CX)
        .args("destination source FROMMEMBER member|FROMLONLAT longitude latitude BYRADIUS radius M|KM|FT|MI|BYBOX width height M|KM|FT|MI [ASC|DESC] [COUNT count [ANY]] [STOREDIST]"),
];

macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => return e,
        }
    };
}

// ---------------------------------------------------------------------------------------
// geohash.c / geohash_helper.c
// ---------------------------------------------------------------------------------------

const STEP_MAX: u8 = 26;
const LAT_MIN: f64 = -85.05112878;
const LAT_MAX: f64 = 85.05112878;
const LONG_MIN: f64 = -180.0;
const LONG_MAX: f64 = 180.0;
const EARTH_RADIUS: f64 = 6372797.560856;
const MERCATOR_MAX: f64 = 20037726.37;
const D_R: f64 = std::f64::consts::PI / 180.0;

#[derive(Clone, Copy, Default, PartialEq)]
struct Bits {
    bits: u64,
    step: u8,
}

impl Bits {
    fn is_zero(&self) -> bool {
        self.bits == 0 && self.step == 0
    }
}

#[derive(Clone, Copy, Default)]
struct Area {
    lon_min: f64,
    lon_max: f64,
    lat_min: f64,
    lat_max: f64,
}

fn deg_rad(a: f64) -> f64 {
    a * D_R
}

fn rad_deg(a: f64) -> f64 {
    a / D_R
}

/// Spreads the low 32 bits of `v` to the even bit positions.
fn spread(v: u32) -> u64 {
    let mut x = v as u64;
    x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x << 2)) & 0x3333_3333_3333_3333;
    x = (x | (x << 1)) & 0x5555_5555_5555_5555;
    x
}

/// The even bit positions of `v`, packed.
fn squash(v: u64) -> u32 {
    let mut x = v & 0x5555_5555_5555_5555;
    x = (x | (x >> 1)) & 0x3333_3333_3333_3333;
    x = (x | (x >> 2)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x >> 4)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x >> 8)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x >> 16)) & 0x0000_0000_FFFF_FFFF;
    x as u32
}

/// geohashEncode with the given latitude range (longitude is always -180..180).
fn encode(lat_range: (f64, f64), lon: f64, lat: f64, step: u8) -> Option<Bits> {
    if !(LONG_MIN..=LONG_MAX).contains(&lon) || !(LAT_MIN..=LAT_MAX).contains(&lat) {
        return None;
    }
    if lat < lat_range.0 || lat > lat_range.1 {
        return None;
    }
    let mut lat_off = (lat - lat_range.0) / (lat_range.1 - lat_range.0);
    let mut lon_off = (lon - LONG_MIN) / (LONG_MAX - LONG_MIN);
    lat_off *= (1u64 << step) as f64;
    lon_off *= (1u64 << step) as f64;
    Some(Bits { bits: spread(lat_off as u32) | (spread(lon_off as u32) << 1), step })
}

fn encode_wgs84(lon: f64, lat: f64, step: u8) -> Option<Bits> {
    encode((LAT_MIN, LAT_MAX), lon, lat, step)
}

fn decode(h: Bits) -> Area {
    let ilat = squash(h.bits) as f64;
    let ilon = squash(h.bits >> 1) as f64;
    let div = (1u64 << h.step) as f64;
    let lat_scale = LAT_MAX - LAT_MIN;
    let lon_scale = LONG_MAX - LONG_MIN;
    Area {
        lat_min: LAT_MIN + (ilat / div) * lat_scale,
        lat_max: LAT_MIN + ((ilat + 1.0) / div) * lat_scale,
        lon_min: LONG_MIN + (ilon / div) * lon_scale,
        lon_max: LONG_MIN + ((ilon + 1.0) / div) * lon_scale,
    }
}

/// decodeGeohash: the centre of the step-26 cell of a score, as (lon, lat).
fn decode_score(score: f64) -> (f64, f64) {
    let a = decode(Bits { bits: score as u64, step: STEP_MAX });
    let lon = ((a.lon_min + a.lon_max) / 2.0).clamp(LONG_MIN, LONG_MAX);
    let lat = ((a.lat_min + a.lat_max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    (lon, lat)
}

fn move_x(h: &mut Bits, d: i8) {
    if d == 0 {
        return;
    }
    let mut x = h.bits & 0xaaaa_aaaa_aaaa_aaaa;
    let y = h.bits & 0x5555_5555_5555_5555;
    let zz = 0x5555_5555_5555_5555u64 >> (64 - h.step as u32 * 2);
    if d > 0 {
        x = x.wrapping_add(zz + 1);
    } else {
        x |= zz;
        x = x.wrapping_sub(zz + 1);
    }
    x &= 0xaaaa_aaaa_aaaa_aaaau64 >> (64 - h.step as u32 * 2);
    h.bits = x | y;
}

fn move_y(h: &mut Bits, d: i8) {
    if d == 0 {
        return;
    }
    let x = h.bits & 0xaaaa_aaaa_aaaa_aaaa;
    let mut y = h.bits & 0x5555_5555_5555_5555;
    let zz = 0xaaaa_aaaa_aaaa_aaaau64 >> (64 - h.step as u32 * 2);
    if d > 0 {
        y = y.wrapping_add(zz + 1);
    } else {
        y |= zz;
        y = y.wrapping_sub(zz + 1);
    }
    y &= 0x5555_5555_5555_5555u64 >> (64 - h.step as u32 * 2);
    h.bits = x | y;
}

fn moved(h: Bits, dx: i8, dy: i8) -> Bits {
    let mut n = h;
    move_x(&mut n, dx);
    move_y(&mut n, dy);
    n
}

fn lat_distance(lat1: f64, lat2: f64) -> f64 {
    EARTH_RADIUS * (deg_rad(lat2) - deg_rad(lat1)).abs()
}

fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let lon1r = deg_rad(lon1);
    let lon2r = deg_rad(lon2);
    let v = ((lon2r - lon1r) / 2.0).sin();
    if v == 0.0 {
        return lat_distance(lat1, lat2);
    }
    let lat1r = deg_rad(lat1);
    let lat2r = deg_rad(lat2);
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS * a.sqrt().asin()
}

fn estimate_steps(mut range: f64, lat: f64) -> u8 {
    if range == 0.0 {
        return 26;
    }
    let mut step: i32 = 1;
    while range < MERCATOR_MAX {
        range *= 2.0;
        step += 1;
    }
    step -= 2;
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u8
}

#[derive(Clone, Copy)]
enum Shape {
    Radius(f64),
    Box(f64, f64),
}

struct Search {
    lon: f64,
    lat: f64,
    conv: f64,
    shape: Shape,
}

impl Search {
    fn bounds(&self) -> [f64; 4] {
        let (h, w) = match self.shape {
            Shape::Radius(r) => (self.conv * r, self.conv * r),
            Shape::Box(w, h) => (self.conv * h / 2.0, self.conv * w / 2.0),
        };
        let lat_delta = rad_deg(h / EARTH_RADIUS);
        let top = rad_deg(w / EARTH_RADIUS / deg_rad(self.lat + lat_delta).cos());
        let bottom = rad_deg(w / EARTH_RADIUS / deg_rad(self.lat - lat_delta).cos());
        let south = self.lat < 0.0;
        [
            if south { self.lon - bottom } else { self.lon - top },
            self.lat - lat_delta,
            if south { self.lon + bottom } else { self.lon + top },
            self.lat + lat_delta,
        ]
    }

    /// geohashCalculateAreasByShapeWGS84: centre cell then N S E W NE NW SE SW.
    fn areas(&self) -> [Bits; 9] {
        let [min_lon, min_lat, max_lon, max_lat] = self.bounds();
        let radius = match self.shape {
            Shape::Radius(r) => r,
            Shape::Box(w, h) => ((w / 2.0) * (w / 2.0) + (h / 2.0) * (h / 2.0)).sqrt(),
        } * self.conv;
        let mut steps = estimate_steps(radius, self.lat);
        let mut hash = encode_wgs84(self.lon, self.lat, steps).unwrap_or_default();
        let neighbours = |h: Bits| {
            [
                h,
                moved(h, 0, 1),
                moved(h, 0, -1),
                moved(h, 1, 0),
                moved(h, -1, 0),
                moved(h, 1, 1),
                moved(h, -1, 1),
                moved(h, 1, -1),
                moved(h, -1, -1),
            ]
        };
        let mut n = neighbours(hash);
        let mut area = decode(hash);
        let decrease = decode(n[1]).lat_max < max_lat
            || decode(n[2]).lat_min > min_lat
            || decode(n[3]).lon_max < max_lon
            || decode(n[4]).lon_min > min_lon;
        if steps > 1 && decrease {
            steps -= 1;
            hash = encode_wgs84(self.lon, self.lat, steps).unwrap_or_default();
            n = neighbours(hash);
            area = decode(hash);
        }
        if steps >= 2 {
            let z = Bits::default();
            if area.lat_min < min_lat {
                n[2] = z;
                n[8] = z;
                n[7] = z;
            }
            if area.lat_max > max_lat {
                n[1] = z;
                n[5] = z;
                n[6] = z;
            }
            if area.lon_min < min_lon {
                n[4] = z;
                n[8] = z;
                n[6] = z;
            }
            if area.lon_max > max_lon {
                n[3] = z;
                n[7] = z;
                n[5] = z;
            }
        }
        n
    }

    /// The distance (meters) of a point inside the shape.
    fn within(&self, lon: f64, lat: f64) -> Option<f64> {
        match self.shape {
            Shape::Radius(r) => {
                let d = distance(self.lon, self.lat, lon, lat);
                (d <= r * self.conv).then_some(d)
            }
            Shape::Box(w, h) => {
                let (w, h) = (w * self.conv, h * self.conv);
                if lat_distance(lat, self.lat) > h / 2.0 {
                    return None;
                }
                if distance(lon, lat, self.lon, lat) > w / 2.0 {
                    return None;
                }
                Some(distance(self.lon, self.lat, lon, lat))
            }
        }
    }
}

struct Point {
    member: Vec<u8>,
    score: f64,
    dist: f64,
    lon: f64,
    lat: f64,
}

/// membersOfAllNeighbors: every member inside the shape; `limit` > 0 stops early (ANY).
fn members_in(z: &ZSet, s: &Search, limit: usize) -> Vec<Point> {
    let n = s.areas();
    let mut out = Vec::new();
    let mut last: Option<usize> = None;
    for i in 0..9 {
        if n[i].is_zero() {
            continue;
        }
        if let Some(l) = last {
            if n[i] == n[l] {
                continue;
            }
        }
        if !out.is_empty() && limit > 0 && out.len() >= limit {
            break;
        }
        let shift = 52 - n[i].step as u32 * 2;
        let min = (n[i].bits << shift) as f64;
        let max = ((n[i].bits + 1) << shift) as f64;
        let start = z.count_while(|sc, _| sc < min);
        for (m, sc) in z.iter_from(start, false) {
            if sc >= max {
                break;
            }
            let (lon, lat) = decode_score(sc);
            if let Some(dist) = s.within(lon, lat) {
                out.push(Point { member: m.to_vec(), score: sc, dist, lon, lat });
            }
            if !out.is_empty() && limit > 0 && out.len() >= limit {
                break;
            }
        }
        last = Some(i);
    }
    out
}

// ---------------------------------------------------------------------------------------
// Argument helpers
// ---------------------------------------------------------------------------------------

/// Redis's getDoubleFromObject.
fn parse_double(a: &[u8]) -> Option<f64> {
    if a.is_empty() || matches!(a[0], b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        return None;
    }
    let (v, used, erange) = c_strtod(a);
    if used != a.len() || (erange && (v.is_infinite() || v == 0.0)) || v.is_nan() {
        return None;
    }
    Some(v)
}

fn double_or(a: &[u8], msg: &str) -> Result<f64, Reply> {
    parse_double(a).ok_or_else(|| Reply::err(msg))
}

/// extractLongLatOrReply.
fn lon_lat(a: &[&[u8]]) -> Result<(f64, f64), Reply> {
    let lon = double_or(a[0], NOT_FLOAT)?;
    let lat = double_or(a[1], NOT_FLOAT)?;
    if !(LONG_MIN..=LONG_MAX).contains(&lon) || !(LAT_MIN..=LAT_MAX).contains(&lat) {
        return Err(Reply::Error(format!("ERR invalid longitude,latitude pair {lon:.6},{lat:.6}")));
    }
    Ok((lon, lat))
}

fn unit(a: &[u8]) -> Result<f64, Reply> {
    if eq_ic(a, "m") {
        Ok(1.0)
    } else if eq_ic(a, "km") {
        Ok(1000.0)
    } else if eq_ic(a, "ft") {
        Ok(0.3048)
    } else if eq_ic(a, "mi") {
        Ok(1609.34)
    } else {
        Err(Reply::err("ERR unsupported unit provided. please use M, KM, FT, MI"))
    }
}

/// extractDistanceOrReply: (radius, conversion).
fn radius_arg(a: &[&[u8]]) -> Result<(f64, f64), Reply> {
    let r = double_or(a[0], "ERR need numeric radius")?;
    if r < 0.0 {
        return Err(Reply::err("ERR radius cannot be negative"));
    }
    Ok((r, unit(a[1])?))
}

fn dist_reply(d: f64) -> Reply {
    Reply::Bulk(format!("{d:.4}").into_bytes())
}

/// addReplyHumanLongDouble: `%.17Lf` without trailing zeros, a bulk string in RESP2 and
/// a `,` double in RESP3.
fn coord_reply(proto: Proto, v: f64) -> Reply {
    let mut s = format!("{v:.17}");
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    if s == "-0" {
        s = "0".into();
    }
    if proto == Proto::Resp3 {
        return Reply::Raw(format!(",{s}\r\n").into_bytes());
    }
    Reply::Bulk(s.into_bytes())
}

fn as_zset(it: Option<&Item>) -> Result<Option<&ZSet>, Reply> {
    match it {
        None => Ok(None),
        Some(it) => match &it.val {
            Value::ZSet(z) => Ok(Some(z)),
            _ => Err(Reply::err(WRONGTYPE)),
        },
    }
}

fn limits(ctx: &Ctx) -> Limits {
    let e = &ctx.shared.enc;
    Limits { entries: EncLimits::get(&e.zset_max_listpack_entries), value: EncLimits::get(&e.zset_max_listpack_value) }
}

// ---------------------------------------------------------------------------------------
// GEOADD GEODIST GEOHASH GEOPOS
// ---------------------------------------------------------------------------------------

fn geoadd(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let key = argv[1];
    let (mut nx, mut xx, mut ch) = (false, false, false);
    let mut idx = 2;
    while idx < argv.len() {
        let o = argv[idx];
        if eq_ic(o, "nx") {
            nx = true;
        } else if eq_ic(o, "xx") {
            xx = true;
        } else if eq_ic(o, "ch") {
            ch = true;
        } else {
            break;
        }
        idx += 1;
    }
    let rest = argv.len() - idx;
    if rest % 3 != 0 || (xx && nx) || rest == 0 {
        return Reply::err(SYNTAX);
    }
    let mut items = Vec::with_capacity(rest / 3);
    for t in argv[idx..].chunks(3) {
        let (lon, lat) = tri!(lon_lat(t));
        let bits = encode_wgs84(lon, lat, STEP_MAX).map(|b| b.bits).unwrap_or(0);
        items.push((bits as f64, t[2]));
    }
    let lim = limits(ctx);
    let now = ctx.now;
    let st = ctx.stripe_mut(key);
    match st.get_mut(key, now) {
        Some(it) if !matches!(it.val, Value::ZSet(_)) => return Reply::err(WRONGTYPE),
        Some(_) => {}
        None if xx => return Reply::Int(0),
        None => st.set(key, Value::ZSet(Box::default()), None, now),
    }
    let Some(Value::ZSet(z)) = st.get_mut(key, now).map(|it| &mut it.val) else {
        return Reply::err(WRONGTYPE);
    };
    let (mut added, mut updated) = (0i64, 0i64);
    for (score, m) in items {
        match z.score(m) {
            Some(cur) => {
                if !nx && cur != score {
                    z.update(m, score);
                    updated += 1;
                }
            }
            None if xx => {}
            None => {
                z.insert_new(m, score, lim);
                added += 1;
            }
        }
    }
    if z.is_empty() {
        st.remove(key);
    }
    ctx.changed_hint = Some(added + updated > 0);
    Reply::Int(if ch { added + updated } else { added })
}

fn read_zset<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<Option<&'c ZSet>, Reply> {
    let found = ctx.get(key).is_some();
    ctx.hit(found);
    as_zset(ctx.get(key))
}

fn geodist(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let mut to_meter = 1.0;
    if argv.len() == 5 {
        to_meter = tri!(unit(argv[4]));
    } else if argv.len() > 5 {
        return Reply::err(SYNTAX);
    }
    let Some(z) = tri!(read_zset(ctx, argv[1])) else { return Reply::Nil };
    let (Some(s1), Some(s2)) = (z.score(argv[2]), z.score(argv[3])) else { return Reply::Nil };
    let (a, b) = (decode_score(s1), decode_score(s2));
    dist_reply(distance(a.0, a.1, b.0, b.1) / to_meter)
}

fn geohash(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    const ALPHABET: &[u8] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let z = tri!(read_zset(ctx, argv[1]));
    let out = argv[2..]
        .iter()
        .map(|m| match z.and_then(|z| z.score(m)) {
            None => Reply::Nil,
            Some(sc) => {
                let (lon, lat) = decode_score(sc);
                let bits = encode((-90.0, 90.0), lon, lat, STEP_MAX).map(|b| b.bits).unwrap_or(0);
                let buf: Vec<u8> = (0..11)
                    .map(|i| {
                        let idx = if i == 10 { 0 } else { (bits >> (52 - (i + 1) * 5)) & 0x1f };
                        ALPHABET[idx as usize]
                    })
                    .collect();
                Reply::Bulk(buf)
            }
        })
        .collect();
    Reply::Array(out)
}

fn geopos(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    let proto = ctx.proto();
    let z = tri!(read_zset(ctx, argv[1]));
    let out = argv[2..]
        .iter()
        .map(|m| match z.and_then(|z| z.score(m)) {
            None => Reply::NilArray,
            Some(sc) => {
                let (lon, lat) = decode_score(sc);
                Reply::Array(vec![coord_reply(proto, lon), coord_reply(proto, lat)])
            }
        })
        .collect();
    Reply::Array(out)
}

// ---------------------------------------------------------------------------------------
// GEORADIUS* GEOSEARCH*
// ---------------------------------------------------------------------------------------

const BY_COORDS: u8 = 1;
const BY_MEMBER: u8 = 2;
const SEARCH: u8 = 4;
const SEARCH_STORE: u8 = 8;
const NO_STORE: u8 = 16;

fn georadius(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    georadius_generic(ctx, argv, 1, BY_COORDS)
}

fn georadius_ro(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    georadius_generic(ctx, argv, 1, BY_COORDS | NO_STORE)
}

fn georadiusbymember(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    georadius_generic(ctx, argv, 1, BY_MEMBER)
}

fn georadiusbymember_ro(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    georadius_generic(ctx, argv, 1, BY_MEMBER | NO_STORE)
}

fn geosearch(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    georadius_generic(ctx, argv, 1, SEARCH)
}

fn geosearchstore(ctx: &mut Ctx, argv: &[&[u8]]) -> Reply {
    georadius_generic(ctx, argv, 2, SEARCH | SEARCH_STORE)
}

/// Locks the source key and any STORE / STOREDIST destination of GEORADIUS*.
fn georadius_plan(ctx: &Ctx, argv: &[&[u8]], out: &mut Vec<(usize, usize)>) {
    let db = ctx.session.db;
    out.push(plan_key(ctx, db, argv[1]));
    let base = if ctx.cmd.name == "georadius" { 6 } else { 5 };
    for i in base..argv.len().saturating_sub(1) {
        if eq_ic(argv[i], "store") || eq_ic(argv[i], "storedist") {
            out.push(plan_key(ctx, db, argv[i + 1]));
        }
    }
}

#[derive(PartialEq, Clone, Copy)]
enum Sort {
    None,
    Asc,
    Desc,
}

/// Redis's georadiusGeneric.
fn georadius_generic(ctx: &mut Ctx, argv: &[&[u8]], src: usize, flags: u8) -> Reply {
    let proto = ctx.proto();
    let found = ctx.get(argv[src]).is_some();
    ctx.hit(found);
    let z: Option<&ZSet> = tri!(as_zset(ctx.get(argv[src])));
    let mut storekey: Option<&[u8]> = None;
    let mut storedist = false;
    let mut center = (0.0, 0.0);
    let mut shape: Option<Shape> = None;
    let mut conv = 1.0;
    let base;
    if flags & BY_COORDS != 0 {
        base = 6;
        center = tri!(lon_lat(&argv[2..4]));
        let (r, c) = tri!(radius_arg(&argv[4..6]));
        shape = Some(Shape::Radius(r));
        conv = c;
    } else if flags & BY_MEMBER != 0 {
        base = 5;
        if let Some(z) = z {
            let Some(sc) = z.score(argv[2]) else {
                return Reply::err("ERR could not decode requested zset member");
            };
            center = decode_score(sc);
            let (r, c) = tri!(radius_arg(&argv[3..5]));
            shape = Some(Shape::Radius(r));
            conv = c;
        }
    } else if flags & SEARCH_STORE != 0 {
        base = 3;
        storekey = Some(argv[1]);
    } else {
        base = 2;
    }
    let (mut withdist, mut withhash, mut withcoords) = (false, false, false);
    let (mut frommember, mut fromloc, mut byradius, mut bybox) = (false, false, false, false);
    let mut sort = Sort::None;
    let mut any = false;
    let mut count: i64 = 0;
    let search = flags & SEARCH != 0;
    let can_store = flags & (NO_STORE | SEARCH) == 0;
    let remaining = argv.len() - base;
    let mut i = 0;
    while i < remaining {
        let arg = argv[base + i];
        let at = |k: usize| argv[base + i + k];
        if eq_ic(arg, "withdist") {
            withdist = true;
        } else if eq_ic(arg, "withhash") {
            withhash = true;
        } else if eq_ic(arg, "withcoord") {
            withcoords = true;
        } else if eq_ic(arg, "any") {
            any = true;
        } else if eq_ic(arg, "asc") {
            sort = Sort::Asc;
        } else if eq_ic(arg, "desc") {
            sort = Sort::Desc;
        } else if eq_ic(arg, "count") && i + 1 < remaining {
            count = tri!(crate::store::parse_i64_strict(at(1)).ok_or_else(|| Reply::err(NOT_INT)));
            if count <= 0 {
                return Reply::err("ERR COUNT must be > 0");
            }
            i += 1;
        } else if eq_ic(arg, "store") && i + 1 < remaining && can_store {
            storekey = Some(at(1));
            storedist = false;
            i += 1;
        } else if eq_ic(arg, "storedist") && i + 1 < remaining && can_store {
            storekey = Some(at(1));
            storedist = true;
            i += 1;
        } else if eq_ic(arg, "storedist") && search && flags & SEARCH_STORE != 0 {
            storedist = true;
        } else if eq_ic(arg, "frommember") && i + 1 < remaining && search && !fromloc {
            if let Some(z) = z {
                let Some(sc) = z.score(at(1)) else {
                    return Reply::err("ERR could not decode requested zset member");
                };
                center = decode_score(sc);
            }
            frommember = true;
            i += 1;
        } else if eq_ic(arg, "fromlonlat") && i + 2 < remaining && search && !frommember {
            center = tri!(lon_lat(&argv[base + i + 1..base + i + 3]));
            fromloc = true;
            i += 2;
        } else if eq_ic(arg, "byradius") && i + 2 < remaining && search && !bybox {
            let (r, c) = tri!(radius_arg(&argv[base + i + 1..base + i + 3]));
            shape = Some(Shape::Radius(r));
            conv = c;
            byradius = true;
            i += 2;
        } else if eq_ic(arg, "bybox") && i + 3 < remaining && search && !byradius {
            let w = tri!(double_or(at(1), "ERR need numeric width"));
            let h = tri!(double_or(at(2), "ERR need numeric height"));
            if h < 0.0 || w < 0.0 {
                return Reply::err("ERR height or width cannot be negative");
            }
            conv = tri!(unit(at(3)));
            shape = Some(Shape::Box(w, h));
            bybox = true;
            i += 3;
        } else {
            return Reply::err(SYNTAX);
        }
        i += 1;
    }
    if storekey.is_some() && (withdist || withhash || withcoords) {
        let what = if flags & SEARCH_STORE != 0 { "GEOSEARCHSTORE" } else { "STORE option in GEORADIUS" };
        return Reply::Error(format!("ERR {what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options"));
    }
    let name = String::from_utf8_lossy(argv[0]);
    if search && !(frommember || fromloc) {
        return Reply::Error(format!("ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}"));
    }
    if search && !(byradius || bybox) {
        return Reply::Error(format!("ERR exactly one of BYRADIUS and BYBOX arguments must be provided for {name}"));
    }
    if any && count == 0 {
        return Reply::err("ERR the ANY argument requires COUNT argument");
    }
    let (Some(z), Some(shape)) = (z, shape) else {
        return match storekey {
            Some(dst) => {
                ctx.stripe_mut(dst).remove(dst);
                Reply::Int(0)
            }
            None => Reply::Array(vec![]),
        };
    };
    if count != 0 && sort == Sort::None && !any {
        sort = Sort::Asc;
    }
    let s = Search { lon: center.0, lat: center.1, conv, shape };
    let mut pts = members_in(z, &s, if any { count as usize } else { 0 });
    if pts.is_empty() && storekey.is_none() {
        return Reply::Array(vec![]);
    }
    match sort {
        Sort::Asc => pts.sort_by(|a, b| a.dist.total_cmp(&b.dist)),
        Sort::Desc => pts.sort_by(|a, b| b.dist.total_cmp(&a.dist)),
        Sort::None => {}
    }
    if count > 0 {
        pts.truncate(count as usize);
    }
    for p in pts.iter_mut() {
        p.dist /= conv;
    }
    let Some(dst) = storekey else {
        let opts = withdist as usize + withhash as usize + withcoords as usize;
        let out = pts
            .into_iter()
            .map(|p| {
                if opts == 0 {
                    return Reply::Bulk(p.member);
                }
                let mut v = vec![Reply::Bulk(p.member)];
                if withdist {
                    v.push(dist_reply(p.dist));
                }
                if withhash {
                    v.push(Reply::Int(p.score as i64));
                }
                if withcoords {
                    v.push(Reply::Array(vec![coord_reply(proto, p.lon), coord_reply(proto, p.lat)]));
                }
                Reply::Array(v)
            })
            .collect();
        return Reply::Array(out);
    };
    let mut items: Vec<(Vec<u8>, f64)> =
        pts.into_iter().map(|p| (p.member, if storedist { p.dist } else { p.score })).collect();
    items.sort_by(|a, b| cmp_entry(a.1, &a.0, b.1, &b.0));
    let n = items.len();
    let lim = limits(ctx);
    let now = ctx.now;
    let st = ctx.stripe_mut(dst);
    if n == 0 {
        st.remove(dst);
    } else {
        let zs = ZSet::from_sorted(items.iter().map(|(m, s)| (m.as_slice(), *s)), lim);
        st.set(dst, Value::ZSet(Box::new(zs)), None, now);
    }
    Reply::Int(n as i64)
}
