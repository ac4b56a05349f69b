import { describe, it, expect } from 'vitest'
import { canonicalJson } from './canonical.ts'
import { deriveVerifyKey, generateFileId, generateFileKey, importFileKey, MANIFEST_HEADER_BYTES, openBytes, TAG_BYTES } from './envelope.ts'
import { fromHex, toHex } from './hash.ts'
import { decodeManifest, encodeManifest, openManifest, openManifestV2, openVerifyManifest, sealManifest, sealManifestV2, type Manifest } from './manifest.ts'
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

/**
 * `sample(f0 f1 … ff)` sealed by `sealManifest` before format 2, under the key 00 01 … 1f: made with
 * that code, and again with node:crypto (AES-256-GCM, nonce ffffffff ‖ 0, associated data
 * "shardfarm/manifest/v1" ‖ file id).
 */
const GOLDEN_FORMAT1 = [
  'e2adc9a056f2cbc9c37b726b2956e8fd3138cb3fe69bbf67fcfd81a61ec2023ef34348ed41faa4e6ba9ae00229024b715edf863044e13143',
  '6de1a41c26c2d9fd54258610f6667c6b60f9b931ce648a9ae1b5bb79e0dbe88e12bc51f0bd06e9290d8e397a31d7800c6cf582e5c67cb055',
  '772fb5e3d403ee40a368978b1d67790cd71211cbb74689eb880150e55e5136fab9a1a228f2dcc5ed318abe33e2b84a230dd59c5ae3d236ad',
  '7995873660c98f6343aadab29462163ecf4a25a90ad27521f918c960ac3da9987d262176802b04e831172eacd9bb685678599297ed8a4977',
  '5837970bf13cd8d5a55ef8722045314bc9dc40fe8419290c5ea8e09c1937e425092d1af70918c72496d3a1a4557fb3ca19371388b887efb4',
  'b41e4781dfad64097f998aea20251a3c1edcca971058383ca07880e5c0f05987032efaaa336d8536df9e48a3cc1a3cde5e655b43610909a3',
  'ca642e517507af448b3015449dc26987090d04a0b8e5fdc9f8fc5c4e4845857d70050f7384cff46a3443127b3e9d4c2e3e55ddce8cc6d88a',
  'd16e2adc557a0f610923f34ef58ff420a4d6eda8aab3c7005172b3be9f44137445bff18d058be9fa3ff9f340480bba916e0df22c0258ea80',
  '05edf03646bb63873d8850d15f6550fd58c8c9c47ab926a2f86dc2f1ec8299146aca6841c6494d0e0ec83e089284ceb6bc9d19899b5e52dc',
  'db3d7a8524e08ac5a0ab9a7e31f0c0b953c067a35a76ea7a155b42314e4b13800b33f7d3a314a82a1d0571273cf741e98b2e31d556c4eb3a',
  '1e8f18d5ac30756b468bf1dd266d1d8f31fe6513c48b52b4f9c10934b06e86e3217aa5d361247fd452e001224acadae522c9c3b9d5eca123',
  '50b6c9b3c33d5741d86b0cbebfad942bbf0f171f4f1e988963557f18216945af303c6c7aa4bb44d7db7354279e5158340a612a4e5f8d5d32',
  'b2f4090ee264942da72cc2a6cb78b47b89675d29dea272cbf7d3d5bf0138892cbd253f1d5e1caed5e21106271124ac4e0967'
].join('')

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

  it('seals each time with a fresh nonce: the same manifest, or the one a resume makes after a farmer moved', async () => {
    const fileId = generateFileId()
    const key = await importFileKey(generateFileKey())
    const first = sample(fileId)
    const moved = { ...first, farmers: { peerA: ['/ip4/127.0.0.2/tcp/1/ws'] } }
    const manifests = [first, first, moved, moved]
    const seals = await Promise.all(manifests.map(async m => await sealManifest(key, fileId, m)))
    const nonces = seals.map(s => toHex(s.subarray(4, MANIFEST_HEADER_BYTES)))
    expect(new Set(nonces).size).toBe(4)
    expect(new Set(seals.map(s => toHex(s))).size).toBe(4)
    for (const [i, s] of seals.entries()) expect(await openManifest(key, fileId, s)).toEqual(manifests[i])
    // The measure: keystream bytes equal between the first and the moved manifest's sealing.
    const [pa, pb] = [encodeManifest(first), encodeManifest(moved)]
    const [ca, cb] = [seals[0]!, seals[2]!].map((s, i) => s.subarray(s.length - TAG_BYTES - [pa, pb][i]!.length, s.length - TAG_BYTES))
    let equal = 0
    for (let i = 0; i < pa.length; i++) if ((ca![i]! ^ pa[i]!) === (cb![i]! ^ pb[i]!)) equal++
    expect(pa.length).toBe(pb.length)
    expect(equal).toBeLessThan(pa.length / 16)
  })

  it('a sealed manifest with its header changed or stripped is an AuthenticationError', async () => {
    const fileId = generateFileId()
    const key = await importFileKey(generateFileKey())
    const sealed = await sealManifest(key, fileId, sample(fileId))
    const changed = (i: number): Uint8Array => { const t = sealed.slice(); t[i]! ^= 0x40; return t }
    const cases = [sealed.subarray(MANIFEST_HEADER_BYTES), sealed.subarray(4), changed(0), changed(3), changed(4), changed(MANIFEST_HEADER_BYTES - 1)]
    for (const t of cases) await expect(openManifest(key, fileId, t)).rejects.toMatchObject({ name: 'AuthenticationError' })
  })

  it('opens a manifest sealed before format 2 (golden vector: fixed nonce, no header), so older links still work', async () => {
    const fileId = Uint8Array.from({ length: 16 }, (_, i) => 0xf0 + i)
    const key = await importFileKey(Uint8Array.from({ length: 32 }, (_, i) => i))
    const sealed = fromHex(GOLDEN_FORMAT1)
    // Written before policies had `repairAt` and `onFull` (the encoder now writes them, normalised):
    // the sealed bytes are that text and a tag, nothing else. Opened, they get their defaults.
    const { repairAt, onFull, ...written } = sample(fileId).policy
    expect([repairAt, onFull]).toEqual([2, 3])
    const text = canonicalJson({ ...sample(fileId), version: 1, policy: written })
    expect(sealed.length).toBe(new TextEncoder().encode(text).length + TAG_BYTES)
    expect(await openManifest(key, fileId, sealed)).toEqual(sample(fileId))
    await expect(openManifest(key, generateFileId(), sealed)).rejects.toMatchObject({ name: 'AuthenticationError' })
    const t = sealed.slice(); t[100]! ^= 1
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

  describe('version 2: a verify manifest with sealed details', () => {
    async function keys (raw = generateFileKey()): Promise<{ file: CryptoKey, verify: CryptoKey }> {
      return { file: await importFileKey(raw), verify: await importFileKey(await deriveVerifyKey(raw)) }
    }
    function v2 (fileId: Uint8Array): Manifest {
      const m = sample(fileId)
      return { ...m, version: 2, segments: m.segments.map(s => ({ ...s, roots: [id('4'), id('5'), id('6')] })) }
    }

    it('opens whole with both keys, and with the verify key alone shows no name, type or size', async () => {
      const fileId = generateFileId()
      const k = await keys()
      const m = v2(fileId)
      const sealed = await sealManifestV2(k.file, k.verify, fileId, m)
      expect(await openManifestV2(k.file, k.verify, fileId, sealed)).toEqual(m)
      const seen = await openVerifyManifest(k.verify, fileId, sealed)
      expect(seen.segments).toEqual(m.segments)
      expect(seen).not.toHaveProperty('name')
      expect(seen).not.toHaveProperty('mime')
      expect(seen).not.toHaveProperty('size')
      expect(seen).not.toHaveProperty('contentHash')
      // Everything the verify key decrypts: no trace of the name, the type or the content hash.
      const plain = Buffer.from(await openBytes(k.verify, fileId, sealed))
      for (const secret of ['report.pdf', 'application/pdf', m.contentHash, '"size"']) expect(plain.includes(secret)).toBe(false)
    })

    it('the verify key cannot open the details, the file key cannot open the verify manifest', async () => {
      const fileId = generateFileId()
      const k = await keys()
      const sealed = await sealManifestV2(k.file, k.verify, fileId, v2(fileId))
      await expect(openManifestV2(k.verify, k.verify, fileId, sealed)).rejects.toMatchObject({ name: 'AuthenticationError' })
      await expect(openVerifyManifest(k.file, fileId, sealed)).rejects.toMatchObject({ name: 'AuthenticationError' })
      const other = await keys()
      await expect(openVerifyManifest(other.verify, fileId, sealed)).rejects.toMatchObject({ name: 'AuthenticationError' })
    })

    it('needs a Merkle root for every fragment', async () => {
      const fileId = generateFileId()
      const k = await keys()
      const m = v2(fileId)
      await expect(sealManifestV2(k.file, k.verify, fileId, { ...m, segments: [{ ...m.segments[0]!, roots: [id('4')] }] }))
        .rejects.toMatchObject({ name: 'ManifestError', message: expect.stringMatching(/Merkle roots/) })
      await expect(sealManifestV2(k.file, k.verify, fileId, { ...m, segments: [{ ...m.segments[0]!, roots: undefined }] }))
        .rejects.toMatchObject({ name: 'ManifestError' })
    })
  })
})
