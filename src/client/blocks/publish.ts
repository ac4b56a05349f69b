import { formatCapability, type Capability } from '../../core/capability.ts'
import { ContentHasher } from '../../core/content-hash.ts'
import { importFileKey } from '../../core/envelope.ts'
import { fromHex, sha256Hex } from '../../core/hash.ts'
import { sealManifest, type Manifest, type SegmentEntry } from '../../core/manifest.ts'
import type { Placement } from '../../core/placement.ts'
import type { Farmer } from '../ports.ts'
import { eligibleFarmers, type Disperser } from './disperse.ts'

/** What a manifest says about the file itself, known before any segment is stored. */
export type ManifestFields = Pick<Manifest, 'fileId' | 'name' | 'mime' | 'size' | 'createdAt' | 'policy' | 'shardSize'>

/**
 * Last step of every upload, streaming or from the outbox: builds the manifest from the stored
 * segments and their plaintext digests, seals it under the file key, replicates it on m + 1
 * eligible farmers and returns the read capability.
 *
 * A resumed upload may publish again, and a different manifest (a farmer changed its address, a
 * fragment moved), under the same key: each sealing has its own random nonce, so that is safe,
 * and each has its own manifest id, so the link is always the last one's. (The upload removes the
 * copies an interrupted publish left: see `UploadJob`.)
 */
export async function publishManifest (disperser: Disperser, fields: ManifestFields, segments: SegmentEntry[], digests: string[],
  rawKey: Uint8Array, farmers: Farmer[], placement: Placement,
  /** Told the manifest's id before any copy is stored (an upload records it, to clean up after an interruption). */
  beforeStore: (manifestId: string) => Promise<void> = async () => {}): Promise<{ capability: Capability, link: string, manifest: Manifest }> {
  const hasher = new ContentHasher()
  for (const d of digests) hasher.addDigest(d)
  const addrs = new Map(farmers.map(f => [f.peerId, f.addrs]))
  const used = new Set(segments.flatMap(e => e.holders.flat()))
  const manifest: Manifest = {
    version: 1, ...fields, contentHash: await hasher.digest(), segments, owner: disperser.owner.publicKey,
    farmers: Object.fromEntries([...used].map(id => [id, addrs.get(id) ?? []]))
  }
  const fileId = fromHex(fields.fileId)
  const sealed = await sealManifest(await importFileKey(rawKey), fileId, manifest)
  const manifestId = await sha256Hex(sealed)
  await beforeStore(manifestId)
  const holders = await disperser.storeManifest(sealed, manifestId, eligibleFarmers(farmers, placement), fields.policy.m + 1)
  const capability: Capability = { kind: 'read', fileId, manifestId, key: rawKey, holders }
  return { capability, link: formatCapability(capability), manifest }
}
