//! 32-bit words of several messages side by side, for the multi-buffer SHA-256 (`sha256.rs`).
//!
//! SHA-256 is a chain of dependent steps within one message, so one message cannot use SIMD well;
//! N messages of the same length can, one message per lane, every step a single vector op. `Lanes`
//! is the handful of operations the compression function needs. `u32` is one lane (the scalar
//! path, used for the odd message out), `V128` four lanes of SIMD128 on wasm32, `Portable` the
//! same four lanes in plain Rust for native builds (so `cargo test` runs the multi-buffer logic),
//! and `Pair` two of either: eight messages in two independent chains (measured, not used: see
//! `merkle::Wide`).

/// Most lanes any `Lanes` type has; sizes the per-lane block buffers.
pub const MAX_LANES: usize = 8;

/// A vector of `N` 32-bit words, one per message.
pub trait Lanes: Copy {
    /// Messages hashed side by side.
    const N: usize;
    /// `x` in every lane.
    fn splat(x: u32) -> Self;
    /// Lane-wise wrapping addition.
    fn add(self, b: Self) -> Self;
    /// Lane-wise XOR.
    fn xor(self, b: Self) -> Self;
    /// Lane-wise AND.
    fn and(self, b: Self) -> Self;
    /// Lane-wise rotation right by `n` (1..=31).
    fn rotr(self, n: u32) -> Self;
    /// Lane-wise logical shift right by `n` (1..=31).
    fn shr(self, n: u32) -> Self;
    /// The 16 big-endian words of one 64-byte block per lane: `blocks[i]` is lane i's block.
    fn load(blocks: &[[u8; 64]], w: &mut [Self; 16]);
    /// The word in lane `i`.
    fn lane(self, i: usize) -> u32;
}

impl Lanes for u32 {
    const N: usize = 1;
    #[inline(always)]
    fn splat(x: u32) -> Self {
        x
    }
    #[inline(always)]
    fn add(self, b: Self) -> Self {
        self.wrapping_add(b)
    }
    #[inline(always)]
    fn xor(self, b: Self) -> Self {
        self ^ b
    }
    #[inline(always)]
    fn and(self, b: Self) -> Self {
        self & b
    }
    #[inline(always)]
    fn rotr(self, n: u32) -> Self {
        self.rotate_right(n)
    }
    #[inline(always)]
    fn shr(self, n: u32) -> Self {
        self >> n
    }
    #[inline(always)]
    fn load(blocks: &[[u8; 64]], w: &mut [Self; 16]) {
        for (t, word) in w.iter_mut().enumerate() {
            let b = &blocks[0][4 * t..4 * t + 4];
            *word = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        }
    }
    #[inline(always)]
    fn lane(self, _i: usize) -> u32 {
        self
    }
}

/// Four lanes in plain Rust: what `V128` does, for targets without SIMD128.
#[derive(Clone, Copy)]
pub struct Portable([u32; 4]);

impl Portable {
    #[inline(always)]
    fn map(self, f: impl Fn(u32) -> u32) -> Self {
        Portable([f(self.0[0]), f(self.0[1]), f(self.0[2]), f(self.0[3])])
    }
    #[inline(always)]
    fn zip(self, b: Self, f: impl Fn(u32, u32) -> u32) -> Self {
        Portable([f(self.0[0], b.0[0]), f(self.0[1], b.0[1]), f(self.0[2], b.0[2]), f(self.0[3], b.0[3])])
    }
}

impl Lanes for Portable {
    const N: usize = 4;
    #[inline(always)]
    fn splat(x: u32) -> Self {
        Portable([x; 4])
    }
    #[inline(always)]
    fn add(self, b: Self) -> Self {
        self.zip(b, u32::wrapping_add)
    }
    #[inline(always)]
    fn xor(self, b: Self) -> Self {
        self.zip(b, |x, y| x ^ y)
    }
    #[inline(always)]
    fn and(self, b: Self) -> Self {
        self.zip(b, |x, y| x & y)
    }
    #[inline(always)]
    fn rotr(self, n: u32) -> Self {
        self.map(|x| x.rotate_right(n))
    }
    #[inline(always)]
    fn shr(self, n: u32) -> Self {
        self.map(|x| x >> n)
    }
    #[inline(always)]
    fn load(blocks: &[[u8; 64]], w: &mut [Self; 16]) {
        let mut one = [0u32; 16];
        for i in 0..4 {
            u32::load(&blocks[i..i + 1], &mut one);
            for t in 0..16 {
                w[t].0[i] = one[t];
            }
        }
    }
    #[inline(always)]
    fn lane(self, i: usize) -> u32 {
        self.0[i]
    }
}

/// Two vectors of lanes: twice the messages, and two independent dependency chains per step.
#[derive(Clone, Copy)]
pub struct Pair<L: Lanes>(L, L);

impl<L: Lanes> Lanes for Pair<L> {
    const N: usize = 2 * L::N;
    #[inline(always)]
    fn splat(x: u32) -> Self {
        Pair(L::splat(x), L::splat(x))
    }
    #[inline(always)]
    fn add(self, b: Self) -> Self {
        Pair(self.0.add(b.0), self.1.add(b.1))
    }
    #[inline(always)]
    fn xor(self, b: Self) -> Self {
        Pair(self.0.xor(b.0), self.1.xor(b.1))
    }
    #[inline(always)]
    fn and(self, b: Self) -> Self {
        Pair(self.0.and(b.0), self.1.and(b.1))
    }
    #[inline(always)]
    fn rotr(self, n: u32) -> Self {
        Pair(self.0.rotr(n), self.1.rotr(n))
    }
    #[inline(always)]
    fn shr(self, n: u32) -> Self {
        Pair(self.0.shr(n), self.1.shr(n))
    }
    #[inline(always)]
    fn load(blocks: &[[u8; 64]], w: &mut [Self; 16]) {
        let mut lo = [L::splat(0); 16];
        let mut hi = [L::splat(0); 16];
        L::load(&blocks[..L::N], &mut lo);
        L::load(&blocks[L::N..2 * L::N], &mut hi);
        for t in 0..16 {
            w[t] = Pair(lo[t], hi[t]);
        }
    }
    #[inline(always)]
    fn lane(self, i: usize) -> u32 {
        if i < L::N {
            self.0.lane(i)
        } else {
            self.1.lane(i - L::N)
        }
    }
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub use simd::V128;

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd {
    use super::Lanes;
    use core::arch::wasm32::*;

    /// Four lanes in one SIMD128 register. SIMD128 has no rotate, so a rotation is two shifts
    /// and an OR; V8 turns the constant shift amounts into immediates.
    #[derive(Clone, Copy)]
    pub struct V128(v128);

    impl Lanes for V128 {
        const N: usize = 4;
        #[inline(always)]
        fn splat(x: u32) -> Self {
            V128(u32x4_splat(x))
        }
        #[inline(always)]
        fn add(self, b: Self) -> Self {
            V128(i32x4_add(self.0, b.0))
        }
        #[inline(always)]
        fn xor(self, b: Self) -> Self {
            V128(v128_xor(self.0, b.0))
        }
        #[inline(always)]
        fn and(self, b: Self) -> Self {
            V128(v128_and(self.0, b.0))
        }
        #[inline(always)]
        fn rotr(self, n: u32) -> Self {
            V128(v128_or(u32x4_shr(self.0, n), i32x4_shl(self.0, 32 - n)))
        }
        #[inline(always)]
        fn shr(self, n: u32) -> Self {
            V128(u32x4_shr(self.0, n))
        }
        #[inline(always)]
        fn load(blocks: &[[u8; 64]], w: &mut [Self; 16]) {
            // Row i holds four consecutive words of lane i; a 4×4 transpose makes word-major
            // columns. The byte swap is a constant shuffle (`i8x16.shuffle`), not a swizzle, so
            // the relaxed build's rewrite (wasm/build.sh) leaves it alone.
            let row = |i: usize, q: usize| -> v128 {
                // SAFETY: 16 bytes at offset 16q of a 64-byte block; v128_load allows unaligned.
                let v = unsafe { v128_load(blocks[i].as_ptr().add(16 * q) as *const v128) };
                i8x16_shuffle::<3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12>(v, v)
            };
            for q in 0..4 {
                let (r0, r1, r2, r3) = (row(0, q), row(1, q), row(2, q), row(3, q));
                let t0 = i32x4_shuffle::<0, 4, 1, 5>(r0, r1);
                let t1 = i32x4_shuffle::<2, 6, 3, 7>(r0, r1);
                let t2 = i32x4_shuffle::<0, 4, 1, 5>(r2, r3);
                let t3 = i32x4_shuffle::<2, 6, 3, 7>(r2, r3);
                w[4 * q] = V128(i32x4_shuffle::<0, 1, 4, 5>(t0, t2));
                w[4 * q + 1] = V128(i32x4_shuffle::<2, 3, 6, 7>(t0, t2));
                w[4 * q + 2] = V128(i32x4_shuffle::<0, 1, 4, 5>(t1, t3));
                w[4 * q + 3] = V128(i32x4_shuffle::<2, 3, 6, 7>(t1, t3));
            }
        }
        #[inline(always)]
        fn lane(self, i: usize) -> u32 {
            match i {
                0 => u32x4_extract_lane::<0>(self.0),
                1 => u32x4_extract_lane::<1>(self.0),
                2 => u32x4_extract_lane::<2>(self.0),
                _ => u32x4_extract_lane::<3>(self.0),
            }
        }
    }
}
