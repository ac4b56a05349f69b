/**
 * The module's Merkle roots against `core/merkle.ts`, run in Node (`merkle.test.ts`) and in
 * Chromium (`merkle.browser.test.ts`): the same tree must come out of both engines, byte for
 * byte, at every edge of its shape.
 */
import { describe, expect, it } from 'vitest'
import { buildTree, LEAF_BYTES, merkleRoot } from '../../core/merkle.ts'
import type { Codec } from '../codec.ts'
import { createCodecService } from '../service.ts'
import { seededBytes } from './vectors.ts'

const KiB = LEAF_BYTES

/** Sizes around every shape edge: 1–3 leaves, a last leaf of 1 byte or 1 short, 16/17 and 256/257 leaves, 16 MiB. */
export const MERKLE_SIZES: readonly number[] = [
  1, 2, KiB - 1, KiB, KiB + 1, 2 * KiB - 1, 2 * KiB, 2 * KiB + 1, 3 * KiB - 1, 3 * KiB, 3 * KiB + 1,
  16 * KiB, 16 * KiB + 1, 17 * KiB, 17 * KiB + 1, 256 * KiB, 256 * KiB + 1, 257 * KiB, 257 * KiB - 1,
  16 * 1024 * KiB
]

/** Runs the suite on codecs from `load` (one per variant the platform can run). */
export function runMerkleRootTests (label: string, load: () => Promise<Codec>): void {
  describe(`Merkle roots from the codec module (${label})`, () => {
    it('equal merkleRoot at every shape edge up to 16 MiB', async () => {
      const codec = await load()
      for (const size of MERKLE_SIZES) {
        const bytes = seededBytes(size, size)
        expect(codec.merkleRoot(bytes), `${size} bytes`).toBe(merkleRoot(bytes))
      }
    })

    it('leaf hashes equal level 0 of buildTree, the short last leaf included', async () => {
      const codec = await load()
      for (const size of [1, KiB - 1, KiB + 1, 17 * KiB + 5, 257 * KiB]) {
        const bytes = seededBytes(size + 7, size)
        expect(codec.merkleLeaves(bytes), `${size} bytes`).toEqual(buildTree(bytes).levels[0])
      }
    })

    it('an empty fragment has no tree: a typed error, as merkleRoot throws one', async () => {
      const codec = await load()
      expect(() => codec.merkleRoot(new Uint8Array(0))).toThrow(expect.objectContaining({ name: 'EmptyShardsError' }))
      expect(() => codec.merkleLeaves(new Uint8Array(0))).toThrow(expect.objectContaining({ name: 'EmptyShardsError' }))
      expect(() => merkleRoot(new Uint8Array(0))).toThrow(expect.objectContaining({ name: 'MerkleInputError' }))
    })

    it('roots of shards where they lie in wasm memory equal merkleRoot of each', async () => {
      const codec = await load()
      const set = codec.alloc(4, 2, 5 * KiB + 3)
      set.data().set(seededBytes(3, 4 * set.shardLength))
      set.encode()
      for (let i = 0; i < 6; i++) expect(set.merkleRoot(i), `shard ${i}`).toBe(merkleRoot(set.shard(i)))
      expect(() => set.merkleRoot(6)).toThrow(RangeError)
      set.free()
    })

    it('encodeShardsWithDigests gives every job its own fragments\' roots, two jobs of one shape at once', async () => {
      const k = 4
      const m = 2
      const len = 33 * KiB + 9
      const service = createCodecService(load(), { merkle: 'wasm' })
      const job = (seed: number): ArrayBuffer => {
        const b = new Uint8Array((k + m) * len)
        b.set(seededBytes(seed, k * len))
        return b.buffer
      }
      // One worker, one cached shard set: the second job reuses it while the first awaits its ids.
      const [a, b] = await Promise.all([
        service.encodeShardsWithDigests(k, m, len, job(41), true),
        service.encodeShardsWithDigests(k, m, len, job(42), true)
      ])
      for (const r of [a, b]) {
        const view = new Uint8Array(r.shards)
        const want = Array.from({ length: k + m }, (_, i) => merkleRoot(view.subarray(i * len, (i + 1) * len)))
        expect(r.roots).toEqual(want)
      }
      expect(a.roots[0]).not.toBe(b.roots[0])
    })
  })
}
