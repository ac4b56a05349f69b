import { afterAll, describe, expect, it } from 'vitest'
import { createNodeCodecPool } from '../../codec/pool.node.ts'
import { generateFileId, generateFileKey, importFileKey } from '../../core/envelope.ts'
import { sha256Hex } from '../../core/hash.ts'
import { merkleRoot } from '../../core/merkle.ts'
import type { StoragePolicy } from '../../core/policy.ts'
import { segmentLayout } from '../../core/segments.ts'
import type { ErasureCoder } from '../ports.ts'
import { SegmentSealer } from './seal.ts'

const pool = createNodeCodecPool({ size: 1 })
afterAll(() => { pool.terminate() })

const policy: StoragePolicy = { name: 'test', k: 3, m: 2 }
const plain = crypto.getRandomValues(new Uint8Array(50_000))

async function prepareAll (coder: ErasureCoder, merkleRoots?: boolean): Promise<Array<{ frags: Uint8Array[], ids: string[], roots: string[] }>> {
  const layout = segmentLayout(plain.length, policy.k, 8192)
  const sealer = new SegmentSealer({
    key: await importFileKey(generateFileKey()), fileId: generateFileId(), layout, policy, coder,
    source: { size: plain.length, read: async (off, len) => plain.slice(off, off + len) },
    ...(merkleRoots !== undefined ? { merkleRoots } : {})
  })
  const out = []
  for (let s = 0; s < layout.count; s++) {
    const seg = await sealer.prepare(s)
    out.push({ frags: seg.frags.map(f => f.slice()), ids: seg.ids, roots: seg.roots })
    sealer.give(seg.shards)
  }
  return out
}

async function expectNamed (segments: Array<{ frags: Uint8Array[], ids: string[], roots: string[] }>): Promise<void> {
  expect(segments.length).toBeGreaterThan(1)
  for (const seg of segments) {
    expect(seg.frags).toHaveLength(policy.k + policy.m)
    expect(seg.ids).toEqual(await Promise.all(seg.frags.map(async f => await sha256Hex(f))))
    expect(seg.roots).toEqual(seg.frags.map(f => merkleRoot(f)))
  }
}

describe('SegmentSealer names each fragment by id and Merkle root', () => {
  it('in the codec worker, which hashes them while it holds the shards', async () => {
    await expectNamed(await prepareAll(pool))
  })

  it('on the calling thread, with a coder that only encodes', async () => {
    const plainCoder: ErasureCoder = {
      encodeShards: async (k, m, shards, o) => await pool.encodeShards(k, m, shards, o),
      reconstruct: async (k, m, shards, present, o) => await pool.reconstruct(k, m, shards, present, o)
    }
    await expectNamed(await prepareAll(plainCoder))
  })

  it('without roots only when switched off, for benchmarks', async () => {
    const segs = await prepareAll(pool, false)
    expect(segs.every(s => s.roots.length === 0 && s.ids.length === policy.k + policy.m)).toBe(true)
  })
})
