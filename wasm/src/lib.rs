//! Shardfarm's erasure codec: Reed-Solomon over GF(2^8), byte-compatible with
//! `reed-solomon-erasure` and klauspost/reedsolomon, with a SIMD128 kernel on wasm32.
//!
//! `gf` (field), `matrix` (systematic Vandermonde, inversion), `kernel` (the hot loop) and `rs`
//! (the codec) are pure Rust; `ffi` is the C ABI the TypeScript loader calls, built only for wasm32.

pub mod error;
pub mod gf;
pub mod kernel;
pub mod matrix;
pub mod rs;

#[cfg(target_arch = "wasm32")]
mod ffi;

pub use error::Error;
pub use rs::ReedSolomon;
