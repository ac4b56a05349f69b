//! Shardfarm's erasure codec: Reed-Solomon over GF(2^8), byte-compatible with
//! `reed-solomon-erasure` and klauspost/reedsolomon, with a SIMD128 kernel on wasm32; and the
//! Merkle roots of the fragments it makes, with a multi-buffer SHA-256.
//!
//! `gf` (field), `matrix` (systematic Vandermonde, inversion), `kernel` (the hot loop), `rs`
//! (the codec), `lanes` + `sha256` (many equal-length messages hashed at once) and `merkle` (the
//! tree of `src/core/merkle.ts`) are pure Rust; `ffi` is the C ABI the TypeScript loader calls,
//! built only for wasm32.

pub mod error;
pub mod gf;
pub mod kernel;
pub mod lanes;
pub mod matrix;
pub mod merkle;
pub mod rs;
pub mod sha256;

#[cfg(target_arch = "wasm32")]
mod ffi;

pub use error::Error;
pub use rs::ReedSolomon;
