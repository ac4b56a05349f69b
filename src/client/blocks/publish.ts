import { formatCapability, verifyCapability, type Capability } from '../../core/capability.ts'
import { ContentHasher } from '../../core/content-hash.ts'
import { deriveVerifyKey, importFileKey } from '../../core/envelope.ts'
import { fromHex, sha256Hex } from '../../core/hash.ts'
import { sealManifestV2, type Manifest, type SegmentEntry } from '../../core/manifest.ts'
import { manifestCopies, type Placement } from '../../core/placement.ts'
import type { Farmer } from '../ports.ts'
import { eligibleFarmers, type Disperser } from './disperse.ts'

/** What a manifest says about the file itself, known before any segment is stored. */
export type ManifestFields = Pick<Manifest, 'fileId' | 'name' | 'mime' | 'size' | 'createdAt' | 'policy' | 'shardSize'>

/** What a published upload hands out: the read link, and the verify link derived from it. */
export interface Published {
  capability: Capability
  link: string
  /** Lets its holder audit and repair the file without reading it (`shardfarm:v2:`). */
  verifyLink: string
  manifest: Manifest
}

/**
 * Last step of every upload, streaming or from the outbox: builds the manifest (version 2) from the
 * stored segments, their Merkle roots and their plaintext digests, seals it (the details under the
 * file key, the verify manifest under the verify key), replicates it and returns the read
 * capability and the verify link.
 *
 * A resumed upload may publish again, and a different manifest (a farmer changed its address, a
 * fragment moved), under the same key: each sealing has its own random nonce, so that is safe,
 * and each has its own manifest id, so the link is always the last one's. (The upload removes the
 * copies an interrupted publish left: see `UploadJob`.)
 */
export async function publishManifest (disperser: Disperser, fields: ManifestFields, segments: SegmentEntry[], digests: string[],
  rawKey: Uint8Array, farmers: Farmer[], placement: Placement,
  /** Told the manifest's id before any copy is stored (an upload records it, to clean up after an interruption). */
  beforeStore: (manifestId: string) => Promise<void> = async () => {}): Promise<Published> {
  const hasher = new ContentHasher()
  for (const d of digests) hasher.addDigest(d)
  const addrs = new Map(farmers.map(f => [f.peerId, f.addrs]))
  const used = new Set(segments.flatMap(e => e.holders.flat()))
  const manifest: Manifest = {
    version: 2, ...fields, contentHash: await hasher.digest(), segments, owner: disperser.owner.publicKey,
    farmers: Object.fromEntries([...used].map(id => [id, addrs.get(id) ?? []]))
  }
  const fileId = fromHex(fields.fileId)
  const sealed = await sealManifestV2(await importFileKey(rawKey), await importFileKey(await deriveVerifyKey(rawKey)), fileId, manifest)
  const manifestId = await sha256Hex(sealed)
  await beforeStore(manifestId)
  const holders = await disperser.storeManifest(sealed, manifestId, eligibleFarmers(farmers, placement), manifestCopies(fields.policy))
  const capability: Capability = { kind: 'read', version: 2, fileId, manifestId, key: rawKey, holders }
  return { capability, link: formatCapability(capability), verifyLink: formatCapability(await verifyCapability(capability)), manifest }
}
