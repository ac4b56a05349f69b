//! The hot loop: `out[r] = Σ_j coeff[r][j] · in[j]` over GF(2^8), for every byte position.
//!
//! Each coefficient is held as two 16-entry nibble tables (see `gf::nibble_tables`), so one
//! product of 16 bytes is two table lookups (`i8x16.swizzle`) and an XOR. The SIMD loop walks the
//! shards once: for each 32-byte position it loads every input vector a single time and folds it
//! into up to `GROUP` output accumulators that live in registers, so inputs are read once per group
//! and outputs written once. Positions the vectors do not cover go through the scalar path, which
//! uses the same tables and is what native builds (and `cargo test`) run everywhere.

/// Most outputs folded per pass. Four accumulators × two vectors plus the input nibbles and two
/// tables fill the 16 vector registers V8 has on x86-64 without spilling.
pub const GROUP: usize = 4;

// Vectors per step for 1..=4 outputs (see `simd::rows_v`). Env-tunable at build time only by
// editing; measured on x86-64 V8 with `npm run bench:codec`.
const V1: usize = 2;
const V2: usize = 2;
const V3: usize = 2;
const V4: usize = 2;

/// Multiplies `tables` (rows × cols, 32 bytes each, row-major) by the `inputs` into the `outputs`,
/// overwriting them. Callers guarantee `inputs.len() == cols`, `outputs.len() == rows`, every shard
/// at least `len` bytes, and that outputs alias neither inputs nor each other.
pub fn mul_matrix(tables: &[[u8; 32]], inputs: &[&[u8]], outputs: &mut [&mut [u8]], len: usize) {
    let cols = inputs.len();
    debug_assert_eq!(tables.len(), cols * outputs.len());
    let in_ptrs: Vec<*const u8> = inputs.iter().map(|s| s.as_ptr()).collect();
    let mut start_row = 0;
    while start_row < outputs.len() {
        let n = core::cmp::min(GROUP, outputs.len() - start_row);
        let out_ptrs: Vec<*mut u8> = outputs[start_row..start_row + n]
            .iter_mut()
            .map(|s| s.as_mut_ptr())
            .collect();
        let t = &tables[start_row * cols..(start_row + n) * cols];
        // SAFETY: lengths were checked by the caller, and `out_ptrs` are distinct `&mut` slices.
        unsafe {
            let done = simd::run(t, &in_ptrs, &out_ptrs, len);
            scalar(t, &in_ptrs, &out_ptrs, done, len);
        }
        start_row += n;
    }
}

/// Byte-at-a-time path for positions `from..len`.
unsafe fn scalar(tables: &[[u8; 32]], inputs: &[*const u8], outputs: &[*mut u8], from: usize, len: usize) {
    let cols = inputs.len();
    for (r, &out) in outputs.iter().enumerate() {
        for p in from..len {
            let mut acc = 0u8;
            for (j, &inp) in inputs.iter().enumerate() {
                let b = *inp.add(p);
                let t = &tables[r * cols + j];
                acc ^= t[(b & 15) as usize] ^ t[16 + (b >> 4) as usize];
            }
            *out.add(p) = acc;
        }
    }
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd {
    use core::arch::wasm32::*;

    /// Runs the vector loop and returns how many leading bytes it produced.
    pub unsafe fn run(tables: &[[u8; 32]], inputs: &[*const u8], outputs: &[*mut u8], len: usize) -> usize {
        match outputs.len() {
            1 => rows::<1, { super::V1 }>(tables, inputs, outputs, len),
            2 => rows::<2, { super::V2 }>(tables, inputs, outputs, len),
            3 => rows::<3, { super::V3 }>(tables, inputs, outputs, len),
            _ => rows::<4, { super::V4 }>(tables, inputs, outputs, len),
        }
    }

    /// `R` outputs, `V` vectors (16 bytes each) of positions per step. Tables are loaded once per
    /// (output, input) per step and reused for all `V` vectors, so wider steps save loads; `V` is
    /// picked per `R` so accumulators, nibbles and tables stay within 16 registers.
    #[inline(always)]
    unsafe fn rows_v<const R: usize, const V: usize>(
        tables: &[[u8; 32]],
        inputs: &[*const u8],
        outputs: &[*mut u8],
        len: usize,
        mut pos: usize,
    ) -> usize {
        let cols = inputs.len();
        let mask = u8x16_splat(0x0f);
        let tp = tables.as_ptr() as *const u8;
        while pos + 16 * V <= len {
            let mut acc = [[u8x16_splat(0); V]; R];
            for j in 0..cols {
                let src = (*inputs.get_unchecked(j)).add(pos);
                let mut lo = [u8x16_splat(0); V];
                let mut hi = [u8x16_splat(0); V];
                for v in 0..V {
                    let x = v128_load(src.add(16 * v) as *const v128);
                    lo[v] = v128_and(x, mask);
                    hi[v] = u8x16_shr(x, 4);
                }
                for r in 0..R {
                    let t = tp.add((r * cols + j) * 32);
                    let tl = v128_load(t as *const v128);
                    let th = v128_load(t.add(16) as *const v128);
                    for v in 0..V {
                        // The only swizzles in the module: their indices are nibbles (0..=15), which
                        // is what lets the build rewrite them to `i8x16.relaxed_swizzle` safely.
                        acc[r][v] = v128_xor(acc[r][v], v128_xor(i8x16_swizzle(tl, lo[v]), i8x16_swizzle(th, hi[v])));
                    }
                }
            }
            for r in 0..R {
                let dst = (*outputs.get_unchecked(r)).add(pos);
                for v in 0..V {
                    v128_store(dst.add(16 * v) as *mut v128, acc[r][v]);
                }
            }
            pos += 16 * V;
        }
        pos
    }

    #[inline(always)]
    unsafe fn rows<const R: usize, const V: usize>(tables: &[[u8; 32]], inputs: &[*const u8], outputs: &[*mut u8], len: usize) -> usize {
        let pos = rows_v::<R, V>(tables, inputs, outputs, len, 0);
        rows_v::<R, 1>(tables, inputs, outputs, len, pos)
    }
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
mod simd {
    pub unsafe fn run(_: &[[u8; 32]], _: &[*const u8], _: &[*mut u8], _: usize) -> usize {
        0
    }
}
