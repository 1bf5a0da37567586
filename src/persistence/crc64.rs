//! CRC-64 as used by Redis for RDB files and DUMP payloads.
//!
//! Owns: the Jones polynomial CRC-64 (`0xad93d23594c935a9`, reflected input and
//! output, no final xor) exactly as Redis's `crc64.c` computes it. Redis calls it as
//! `crc64(0, data)`; passing a previous result as `crc` continues the checksum, so
//! `crc64(crc64(0, a), b) == crc64(0, a ++ b)` must always hold.
//!
//! Implementation: slice-by-8 tables built at compile time by a `const fn`, so there is
//! no runtime initialisation and no allocation. Pure `std`, never panics.

/// The Jones polynomial, bit-reflected (Redis's 0xad93d23594c935a9 reversed).
const POLY_REFLECTED: u64 = 0x95ac_9329_ac4b_c9b5;

const fn build_tables() -> [[u64; 256]; 8] {
    let mut t = [[0u64; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u64;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ POLY_REFLECTED } else { crc >> 1 };
            bit += 1;
        }
        t[0][i] = crc;
        i += 1;
    }
    let mut k = 1;
    while k < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = t[k - 1][i];
            t[k][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            i += 1;
        }
        k += 1;
    }
    t
}

static TABLES: [[u64; 256]; 8] = build_tables();

/// Continue a Redis CRC-64 over `data`, starting from `crc` (use 0 for a fresh checksum).
pub fn crc64(crc: u64, data: &[u8]) -> u64 {
    let t = &TABLES;
    let mut crc = crc;
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let v = crc ^ u64::from_le_bytes(w);
        crc = t[7][(v & 0xff) as usize]
            ^ t[6][((v >> 8) & 0xff) as usize]
            ^ t[5][((v >> 16) & 0xff) as usize]
            ^ t[4][((v >> 24) & 0xff) as usize]
            ^ t[3][((v >> 32) & 0xff) as usize]
            ^ t[2][((v >> 40) & 0xff) as usize]
            ^ t[1][((v >> 48) & 0xff) as usize]
            ^ t[0][(v >> 56) as usize];
    }
    for &b in chunks.remainder() {
        crc = t[0][((crc ^ u64::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bit-at-a-time reference straight from the definition (reflected, poly reversed).
    fn crc64_bitwise(mut crc: u64, data: &[u8]) -> u64 {
        for &b in data {
            crc ^= u64::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ POLY_REFLECTED } else { crc >> 1 };
            }
        }
        crc
    }

    fn xorshift(state: &mut u64) -> u64 {
        let mut x = *state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *state = x;
        x
    }

    #[test]
    fn redis_test_vector() {
        // From Redis's crc64.c self test.
        assert_eq!(crc64(0, b"123456789"), 0xe9c6_d914_c4b8_d9ca);
        assert_eq!(crc64_bitwise(0, b"123456789"), 0xe9c6_d914_c4b8_d9ca);
        assert_eq!(crc64(0, b""), 0);
    }

    #[test]
    fn redis_lorem_ipsum_vector() {
        // Second vector from Redis's crc64.c self test.
        let li = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed \
do eiusmod tempor incididunt ut labore et dolore magna \
aliqua. Ut enim ad minim veniam, quis nostrud exercitation \
ullamco laboris nisi ut aliquip ex ea commodo consequat. Duis \
aute irure dolor in reprehenderit in voluptate velit esse \
cillum dolore eu fugiat nulla pariatur. Excepteur sint \
occaecat cupidatat non proident, sunt in culpa qui officia \
deserunt mollit anim id est laborum.\0"; // Redis hashes sizeof(li): NUL included
        assert_eq!(crc64(0, li), 0xc779_4709_e696_83b3);
        assert_eq!(crc64_bitwise(0, li), 0xc779_4709_e696_83b3);
    }

    #[test]
    fn reflected_polynomial_matches_jones() {
        assert_eq!(POLY_REFLECTED.reverse_bits(), 0xad93_d235_94c9_35a9);
    }

    #[test]
    fn incremental_equals_whole() {
        let mut s = 0x1234_5678_9abc_def1u64;
        let data: Vec<u8> = (0..1000).map(|_| xorshift(&mut s) as u8).collect();
        let whole = crc64(0, &data);
        assert_eq!(whole, crc64_bitwise(0, &data));
        for split in [0, 1, 3, 7, 8, 9, 15, 16, 17, 500, 999, 1000] {
            let (a, b) = data.split_at(split);
            assert_eq!(crc64(crc64(0, a), b), whole, "split {split}");
        }
    }

    #[test]
    fn matches_bitwise_on_random_lengths() {
        let mut s = 0xdead_beef_cafe_f00du64;
        for len in 0..100 {
            let data: Vec<u8> = (0..len).map(|_| xorshift(&mut s) as u8).collect();
            let init = xorshift(&mut s);
            assert_eq!(crc64(init, &data), crc64_bitwise(init, &data), "len {len}");
        }
    }

    #[test]
    fn detects_single_bit_flip() {
        let data = b"REDIS0010 some payload".to_vec();
        let c = crc64(0, &data);
        for i in 0..data.len() * 8 {
            let mut d = data.clone();
            d[i / 8] ^= 1 << (i % 8);
            assert_ne!(crc64(0, &d), c);
        }
    }
}
