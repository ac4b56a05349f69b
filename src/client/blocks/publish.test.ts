import { describe, it, expect } from 'vitest'
import { formatCapability, type Capability } from '../../core/capability.ts'
import { deriveVerifyKey, generateFileId, generateFileKey, importFileKey, MANIFEST_HEADER_BYTES, openBytes } from '../../core/envelope.ts'
import { sha256Hex, toHex } from '../../core/hash.ts'
import { encodeManifest, openManifestV2, type SegmentEntry } from '../../core/manifest.ts'
import { ownerKeyFromSeed } from '../../core/owner-key.ts'
import { place } from '../../core/placement.ts'
import { normalizePolicy } from '../../core/policy.ts'
import { FakeGrid } from '../../../test/support/fake-grid.ts'
import type { ErasureCoder, Farmer } from '../ports.ts'
import { Disperser } from './disperse.ts'
import { fetchManifest } from './open-manifest.ts'
import { publishManifest, type ManifestFields } from './publish.ts'

/** Publishing stores no segment, so the grid needs no coder. */
const NO_CODER = {} as unknown as ErasureCoder

describe('publishing a manifest', () => {
  const policy = normalizePolicy({ k: 2, m: 1 })
  const setup = async (): Promise<{ grid: FakeGrid, publish: (farmers: Farmer[]) => ReturnType<typeof publishManifest>, rawKey: Uint8Array, fileId: Uint8Array }> => {
    const grid = FakeGrid.make(3, NO_CODER)
    for (const [i, f] of grid.farmers.entries()) f.addrs = [`/ip4/10.0.0.${i + 1}/tcp/4001/ws`]
    const rawKey = generateFileKey()
    const fileId = generateFileId()
    const fields: ManifestFields = { fileId: toHex(fileId), name: 'f.bin', mime: 'application/octet-stream', size: 5, createdAt: 1_700_000_000_000, policy, shardSize: 4096 }
    const segment: SegmentEntry = { ciphertextLength: 21, shardLength: 11, fragments: ['1', '2', '3'].map(c => c.repeat(64)), roots: ['4', '5', '6'].map(c => c.repeat(64)), holders: grid.farmers.map(f => [f.peerId]) }
    const owner = await ownerKeyFromSeed(new Uint8Array(32).fill(7))
    const publish = async (farmers: Farmer[]): ReturnType<typeof publishManifest> => {
      const placement = place(policy, farmers, { fragmentSize: 4096, segments: 1 })
      const disperser = new Disperser({ transport: grid, placement, byId: new Map(farmers.map(f => [f.peerId, f])), owner })
      return await publishManifest(disperser, fields, [segment], ['a'.repeat(64)], rawKey, farmers, placement)
    }
    return { grid, publish, rawKey, fileId }
  }

  it('a resumed put that publishes again after a farmer moved seals under a fresh nonce, and both links open', async () => {
    const { grid, publish, rawKey, fileId } = await setup()
    const first = await publish(grid.farmers)
    // The put is resumed after farmer 0 changed its address: the manifest lists the new one.
    const moved = grid.farmers.map((f, i) => i === 0 ? { ...f, addrs: ['/ip4/10.0.9.9/tcp/4001/ws'] } : f)
    const second = await publish(moved)
    expect(second.manifest.farmers).not.toEqual(first.manifest.farmers)
    expect(second.capability.manifestId).not.toBe(first.capability.manifestId)

    // One farmer holds both sealed copies, as in the report.
    const holdsBoth = first.capability.holders.filter(h => second.capability.holders.includes(h))
    expect(holdsBoth.length).toBeGreaterThan(0)
    const store = grid.stores.get(holdsBoth[0]!)!
    const a = await store.get(first.capability.manifestId)
    const b = await store.get(second.capability.manifestId)
    expect(await sha256Hex(a)).toBe(first.capability.manifestId)
    expect(await sha256Hex(b)).toBe(second.capability.manifestId)
    expect(toHex(a.subarray(4, MANIFEST_HEADER_BYTES))).not.toBe(toHex(b.subarray(4, MANIFEST_HEADER_BYTES)))

    // Keystream bytes equal between the two sealings: all of them under a repeated nonce, ~1 in 256 now.
    const key = await importFileKey(rawKey)
    const verifyKey = await importFileKey(await deriveVerifyKey(rawKey))
    const [pa, pb] = [await openBytes(verifyKey, fileId, a), await openBytes(verifyKey, fileId, b)]
    expect(pa.length).toBe(pb.length)
    const ct = (s: Uint8Array, p: Uint8Array): Uint8Array => s.subarray(s.length - 16 - p.length, s.length - 16)
    const [ca, cb] = [ct(a, pa), ct(b, pb)]
    let equal = 0
    for (let i = 0; i < pa.length; i++) if ((ca[i]! ^ pa[i]!) === (cb[i]! ^ pb[i]!)) equal++
    expect(equal).toBeLessThan(pa.length / 16)

    expect(await openManifestV2(key, verifyKey, fileId, a)).toEqual(first.manifest)
    expect(await openManifestV2(key, verifyKey, fileId, b)).toEqual(second.manifest)
    for (const r of [first, second]) {
      expect((await fetchManifest(grid.ports(), r.capability)).manifest).toEqual(r.manifest)
      expect(r.link).toBe(formatCapability(r.capability))
    }
  })

  it('a link to a manifest sealed before format 2 (fixed nonce, no header) still opens from the grid', async () => {
    const { grid, publish, rawKey, fileId } = await setup()
    const published = await publish(grid.farmers)
    // A version-1 manifest (no verify manifest, no Merkle roots), as the code before them made it.
    const manifest = { ...published.manifest, version: 1 as const, segments: published.manifest.segments.map(({ roots: _, ...s }) => s) }
    // The sealing of the code before format 2: raw GCM output under nonce ffffffff ‖ 0.
    const label = new TextEncoder().encode('shardfarm/manifest/v1')
    const aad = new Uint8Array([...label, ...fileId])
    const iv = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0)
    const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: aad }, await importFileKey(rawKey),
      encodeManifest(manifest) as Uint8Array<ArrayBuffer>))
    const manifestId = await sha256Hex(sealed)
    const holder = grid.farmers[1]!
    await grid.put(holder, manifestId, sealed, { owner: await ownerKeyFromSeed(new Uint8Array(32).fill(9)) })
    const cap: Capability = { kind: 'read', fileId, manifestId, key: rawKey, holders: [holder.peerId] }
    expect((await fetchManifest(grid.ports(), cap)).manifest).toEqual(manifest)
  })
})
