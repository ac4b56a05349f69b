//! GF(2^8) with the primitive polynomial x^8 + x^4 + x^3 + x^2 + 1 (0x11d) and generator 2: the
//! field of the `reed-solomon-erasure` crate (galois_8) and klauspost/reedsolomon. Tables are built
//! at compile time so the module carries 512 bytes of tables instead of a 64 KiB product table.

const POLY: u16 = 0x11d;

const fn build_tables() -> ([u8; 256], [u8; 256]) {
    let mut exp = [0u8; 256];
    let mut log = [0u8; 256];
    let mut x: u16 = 1;
    let mut i = 0;
    while i < 255 {
        exp[i] = x as u8;
        log[x as usize] = i as u8;
        x <<= 1;
        if x & 0x100 != 0 {
            x ^= POLY;
        }
        i += 1;
    }
    // exp[255] wraps to exp[0], so `exp[(a + b) % 255]` never needs a second reduction.
    exp[255] = exp[0];
    (exp, log)
}

const TABLES: ([u8; 256], [u8; 256]) = build_tables();
static EXP: [u8; 256] = TABLES.0;
static LOG: [u8; 256] = TABLES.1;

/// Product of `a` and `b` in GF(2^8).
#[inline]
pub fn mul(a: u8, b: u8) -> u8 {
    if a == 0 || b == 0 {
        return 0;
    }
    let s = LOG[a as usize] as usize + LOG[b as usize] as usize;
    EXP[s % 255]
}

/// Multiplicative inverse; `None` for zero, which has none.
#[inline]
pub fn inv(a: u8) -> Option<u8> {
    if a == 0 {
        None
    } else {
        Some(EXP[(255 - LOG[a as usize] as usize) % 255])
    }
}

/// `a` raised to the power `n`, with `0^0 = 1` as in galois_8's `exp`, which the Vandermonde
/// matrix depends on.
pub fn pow(a: u8, n: usize) -> u8 {
    if n == 0 {
        1
    } else if a == 0 {
        0
    } else {
        EXP[(LOG[a as usize] as usize * n) % 255]
    }
}

/// The two 16-entry nibble tables of coefficient `c`: `t[x] = c·x` and `t[16 + x] = c·(x << 4)`,
/// so `c·b = t[b & 15] ^ t[16 + (b >> 4)]`. This is what the SIMD kernel feeds to swizzle.
pub fn nibble_tables(c: u8) -> [u8; 32] {
    let mut t = [0u8; 32];
    let mut x = 0;
    while x < 16 {
        t[x] = mul(c, x as u8);
        t[16 + x] = mul(c, (x as u8) << 4);
        x += 1;
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slow_mul(mut a: u8, mut b: u8) -> u8 {
        let mut p = 0u8;
        while b != 0 {
            if b & 1 != 0 {
                p ^= a;
            }
            let carry = a & 0x80 != 0;
            a <<= 1;
            if carry {
                a ^= (POLY & 0xff) as u8;
            }
            b >>= 1;
        }
        p
    }

    #[test]
    fn mul_matches_carryless_definition() {
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                assert_eq!(mul(a, b), slow_mul(a, b), "{} * {}", a, b);
            }
        }
    }

    #[test]
    fn every_nonzero_element_has_an_inverse() {
        assert_eq!(inv(0), None);
        for a in 1..=255u8 {
            assert_eq!(mul(a, inv(a).unwrap()), 1);
        }
    }

    #[test]
    fn nibble_tables_reproduce_products() {
        for c in 0..=255u8 {
            let t = nibble_tables(c);
            for b in 0..=255u8 {
                assert_eq!(t[(b & 15) as usize] ^ t[16 + (b >> 4) as usize], mul(c, b));
            }
        }
    }
}
