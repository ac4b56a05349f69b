import { describe, it, expect } from 'vitest'
import { canonicalJson } from './canonical.ts'
import { generateFileId, generateFileKey, importFileKey } from './envelope.ts'
import { toHex } from './hash.ts'
import { decodeManifest, encodeManifest, openManifest, sealManifest, type Manifest } from './manifest.ts'
import { normalizePolicy } from './policy.ts'
import { segmentLayout, segmentRange, segmentsForRange, shardLengthFor } from './segments.ts'

const id = (c: string): string => c.repeat(64)
function sample (fileId: Uint8Array): Manifest {
  return {
    version: 1, fileId: toHex(fileId), name: 'report.pdf', mime: 'application/pdf', size: 5, contentHash: id('a'), createdAt: 1_700_000_000_000,
    policy: normalizePolicy({ k: 2, m: 1 }), shardSize: 1 << 20,
    segments: [{ ciphertextLength: 21, shardLength: 11, fragments: [id('1'), id('2'), id('3')], holders: [['peerA'], ['peerB'], ['peerC']] }],
    farmers: { peerA: ['/ip4/127.0.0.1/tcp/1/ws'] }
  }
}

describe('manifest', () => {
  it('encodes canonically: key order does not change the bytes', () => {
    expect(canonicalJson({ b: 1, a: [true, null, 'x'], c: { z: 1, y: 2 } })).toBe('{"a":[true,null,"x"],"b":1,"c":{"y":2,"z":1}}')
    const m = sample(generateFileId())
    const shuffled = Object.fromEntries(Object.entries(m).reverse()) as unknown as Manifest
    expect(encodeManifest(shuffled)).toEqual(encodeManifest(m))
    expect(decodeManifest(encodeManifest(m))).toEqual(m)
  })

  it('seals with the file key; a wrong key or tampered bytes give AuthenticationError, never a manifest', async () => {
    const fileId = generateFileId()
    const key = await importFileKey(generateFileKey())
    const sealed = await sealManifest(key, fileId, sample(fileId))
    expect(await openManifest(key, fileId, sealed)).toEqual(sample(fileId))
    await expect(openManifest(await importFileKey(generateFileKey()), fileId, sealed)).rejects.toMatchObject({ name: 'AuthenticationError' })
    const t = sealed.slice(); t[3]! ^= 1
    await expect(openManifest(key, fileId, t)).rejects.toMatchObject({ name: 'AuthenticationError' })
  })

  it('refuses malformed manifests with a reason', () => {
    const m = sample(generateFileId())
    const bad = (patch: Record<string, unknown>): Uint8Array => new TextEncoder().encode(JSON.stringify({ ...m, ...patch }))
    expect(() => decodeManifest(new TextEncoder().encode('{nope'))).toThrow(/not JSON/)
    expect(() => decodeManifest(bad({ version: 2 }))).toThrow(/unsupported version 2/)
    expect(() => decodeManifest(bad({ size: -1 }))).toThrow(/size is not an integer/)
    expect(() => decodeManifest(bad({ segments: [] }))).toThrow(/no segments/)
    expect(() => decodeManifest(bad({ segments: [{ ...m.segments[0], fragments: [id('1')] }] }))).toThrow(/needs 3 hex fragment ids/)
    expect(() => decodeManifest(bad({ segments: [{ ...m.segments[0], shardLength: 5 }] }))).toThrow(/does not fit/)
    expect(() => decodeManifest(bad({ policy: { k: 0, m: 1 } }))).toThrow(expect.objectContaining({ name: 'ManifestError', code: 'BAD_MANIFEST' }))
  })
})

describe('segment layout', () => {
  it('fills k shards exactly with ciphertext, and handles empty, tiny and boundary sizes', () => {
    const k = 4; const shard = 1024
    const full = 4 * 1024 - 16
    expect(segmentLayout(0, k, shard).count).toBe(1)
    expect(segmentLayout(1, k, shard).count).toBe(1)
    expect(segmentLayout(full, k, shard).count).toBe(1)
    expect(segmentLayout(full + 1, k, shard).count).toBe(2)
    const l = segmentLayout(full * 3 + 10, k, shard)
    expect(l.count).toBe(4)
    expect(segmentRange(l, 3)).toEqual({ offset: full * 3, length: 10 })
    expect(shardLengthFor(full + 16, k)).toBe(shard)
    expect(shardLengthFor(1 + 16, k)).toBe(5)
    expect(segmentsForRange(l, full - 1, full + 1)).toEqual({ first: 0, last: 1 })
    expect(segmentsForRange(l, 0, l.size)).toEqual({ first: 0, last: 3 })
    expect(() => segmentsForRange(l, 0, l.size + 1)).toThrow(RangeError)
  })
})
