/**
 * Seeded test data shared with `wasm/tests/golden.rs`: the same xorshift32 stream fills the data
 * shards in order, so parity hashes pinned in Rust can be checked again from TypeScript.
 */
export function seededBytes (seed: number, length: number): Uint8Array {
  const out = new Uint8Array(length)
  let x = seed >>> 0 || 1
  for (let i = 0; i < length; i++) {
    x ^= x << 13; x >>>= 0
    x ^= x >>> 17
    x ^= x << 5; x >>>= 0
    out[i] = x & 0xff
  }
  return out
}

/**
 * (k, m, shard length, seed) → SHA-256 (hex) of the m parity shards, back to back. Made with the
 * oracle package (`reed-solomon-erasure`), pinned here and in `wasm/tests/golden.rs`.
 */
export const GOLDEN: ReadonlyArray<{ k: number, m: number, len: number, seed: number, parity: string }> = [
  { k: 4, m: 2, len: 1000, seed: 1, parity: 'f948e564690f724027e9df29e9e8ebc0c479d293623bd6e7d333342f25de93f6' },
  { k: 10, m: 4, len: 4103, seed: 2, parity: 'd1a5c09e2e7a49dfc76270f117a1eec36084b5add20fec6a41325435b9a77ab6' },
  { k: 17, m: 3, len: 33, seed: 3, parity: 'e7027c6260664b6bc6f2ac178a7e3ebe2556304ae8157e631b16043fd1f62b67' },
  { k: 32, m: 8, len: 65536, seed: 4, parity: 'df2dfcbe25262e525ca3e1065a87ba50b86d7c69579f3736bd93264e590e3fc6' },
  { k: 1, m: 1, len: 1, seed: 5, parity: '6922e93e3827642ce4b883c756b31abf80036649d3614bf5fcb3adda43b8ea32' },
  { k: 200, m: 56, len: 77, seed: 6, parity: '9440904fb4ddc5f5adcd6c33410124559e5cbdd7738904586e65e9359b148c5c' }
]
