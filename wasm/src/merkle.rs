//! The Merkle tree of a fragment, exactly as `src/core/merkle.ts` defines it: 1 KiB leaves (the
//! last may be shorter), leaf = SHA-256(0x00 ‖ leaf), node = SHA-256(0x01 ‖ children) over groups
//! of up to 16 hashes, a last group of one hash promoted unchanged. Every full leaf is a message
//! of the same length and so is every full group, so all but at most one hash per level go
//! through the multi-buffer SHA-256, four at a time on wasm32.

use crate::sha256::{digest, digest_many, DIGEST_BYTES};

/// Bytes of one leaf.
pub const LEAF_BYTES: usize = 1024;
/// Most children of one inner node.
pub const TREE_ARITY: usize = 16;

const LEAF_PREFIX: [u8; 1] = [0x00];
const NODE_PREFIX: [u8; 1] = [0x01];

/// The lanes the batches run on: one SIMD128 vector on wasm32, the same four lanes in plain Rust
/// elsewhere. Two vectors (`Pair`, eight messages) measured no faster in V8 (6.3–7.0 against
/// 5.0–5.5 ms per MiB of tree at p10, interleaved): x86-64 has 16 vector registers, and eight
/// working variables and sixteen schedule words of two vectors each spill.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub type Wide = crate::lanes::V128;
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
pub type Wide = crate::lanes::Portable;

/// Leaves of a fragment of `size` bytes (0 for an empty one, which has no tree).
pub fn leaf_count(size: usize) -> usize {
    (size + LEAF_BYTES - 1) / LEAF_BYTES
}

/// Writes the leaf hashes of `fragment` into `out`, 32 bytes each, in order. `out` must hold
/// `leaf_count(fragment.len()) * 32` bytes.
pub fn leaf_hashes(fragment: &[u8], out: &mut [u8]) {
    let n = leaf_count(fragment.len());
    assert!(out.len() >= n * DIGEST_BYTES);
    let full: Vec<&[u8]> = fragment.chunks_exact(LEAF_BYTES).collect();
    digest_many::<Wide>(&LEAF_PREFIX, &full, out);
    let rest = fragment.chunks_exact(LEAF_BYTES).remainder();
    if !rest.is_empty() {
        digest(&LEAF_PREFIX, rest, &mut out[full.len() * DIGEST_BYTES..n * DIGEST_BYTES]);
    }
}

/// The level above `level` (hashes back to back): full groups batched, a last group of 2–15
/// hashed alone, a last group of one promoted.
fn parent_level(level: &[u8]) -> Vec<u8> {
    let group = TREE_ARITY * DIGEST_BYTES;
    let mut up = vec![0u8; (level.len() + group - 1) / group * DIGEST_BYTES];
    let full: Vec<&[u8]> = level.chunks_exact(group).collect();
    digest_many::<Wide>(&NODE_PREFIX, &full, &mut up);
    let rest = level.chunks_exact(group).remainder();
    let at = full.len() * DIGEST_BYTES;
    if rest.len() == DIGEST_BYTES {
        up[at..].copy_from_slice(rest);
    } else if !rest.is_empty() {
        digest(&NODE_PREFIX, rest, &mut up[at..]);
    }
    up
}

/// The root of `fragment`'s tree. The fragment must not be empty.
pub fn root(fragment: &[u8]) -> [u8; DIGEST_BYTES] {
    assert!(!fragment.is_empty(), "a fragment has at least one byte");
    let mut level = vec![0u8; leaf_count(fragment.len()) * DIGEST_BYTES];
    leaf_hashes(fragment, &mut level);
    while level.len() > DIGEST_BYTES {
        level = parent_level(&level);
    }
    let mut out = [0u8; DIGEST_BYTES];
    out.copy_from_slice(&level);
    out
}
