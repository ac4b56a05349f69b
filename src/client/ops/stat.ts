/**
 * `shardfarm stat`, `shardfarm check` and the app's Check health: which of a file's fragments are
 * proven to be on the grid now.
 */
import type { Capability } from '../../core/capability.ts'
import type { AbortOptions } from '../../core/errors.ts'
import type { Manifest, VerifyManifest } from '../../core/manifest.ts'
import { fetchManifest, fetchVerifyManifest, type OpenedManifest } from '../blocks/open-manifest.ts'
import { provenCopies, segmentsHealth, withCopies, type SegmentHealth } from '../blocks/fragment-health.ts'
import { discoverHolders } from '../blocks/holder-lookup.ts'
import type { GridPorts } from '../ports.ts'

export interface FileHealth<M extends VerifyManifest = Manifest> { manifest: M, segments: SegmentHealth[] }

/** The health of the file a read capability names, with its manifest (name, size) for display. */
export async function fileHealth (ports: GridPorts, cap: Capability, options: AbortOptions = {}): Promise<FileHealth> {
  return await healthOfOpened(ports, await fetchManifest(ports, cap, options), options)
}

/**
 * The health of the file a read or verify capability names. A verify capability is enough: the
 * verify manifest lists every fragment, its holders and its Merkle root.
 */
export async function checkFile (ports: GridPorts, cap: Capability, options: AbortOptions = {}): Promise<FileHealth<VerifyManifest>> {
  return await healthOfOpened(ports, await fetchVerifyManifest(ports, cap, options), options)
}

/**
 * One segment as `check` reports it: fragments proven, claimed and not proven, and missing; and its
 * status: `healthy` (all k + m proven), `degraded` (more than k), `at-risk` (exactly k: one more
 * loss and it is gone), `lost` (fewer than k).
 */
export interface SegmentCheck {
  proven: number
  claimed: number
  missing: number
  k: number
  n: number
  status: 'healthy' | 'degraded' | 'at-risk' | 'lost'
}

/** Counts of a segment's health for `check`. */
export function segmentCheck (s: SegmentHealth, policy: { k: number, m: number }): SegmentCheck {
  const { k } = policy
  const n = k + policy.m
  const proven = s.fragments.filter(f => f.reachable.length > 0).length
  const claimed = s.fragments.filter(f => f.reachable.length === 0 && f.claimed.length > 0).length
  const status = proven === n ? 'healthy' : proven > k ? 'degraded' : proven === k ? 'at-risk' : 'lost'
  return { proven, claimed, missing: s.fragments.length - proven - claimed, k, n, status }
}

/**
 * Asks every holder of the file, once each, which of its fragments it holds, and has each copy it
 * claims proven (a farmer that does not answer holds none). Fragments with no proven copy among
 * their listed holders are then looked for among the directory's farmers (`repair` puts copies
 * there), and the copies found are proven too; a healthy file costs no such lookup.
 */
async function healthOfOpened<M extends VerifyManifest> (ports: GridPorts, opened: OpenedManifest<M>, options: AbortOptions): Promise<FileHealth<M>> {
  const { manifest, resolve } = opened
  const listed = await segmentsHealth(ports, manifest.segments, manifest.policy, resolve, options)
  const missing = listed.flatMap(s => s.fragments.filter(f => f.reachable.length === 0).map(f => f.id))
  if (missing.length === 0) return { manifest, segments: listed }
  const { found, farmers } = await discoverHolders(ports, missing, options)
  const byId = new Map(farmers.map(f => [f.peerId, f]))
  const what = fragmentFacts(manifest)
  const proven = await provenCopies(ports, found, id => what.get(id), peer => byId.get(peer) ?? resolve(peer), options)
  return { manifest, segments: withCopies(listed, proven, manifest.policy) }
}

/** Each fragment's root (when the manifest has them) and size, by id. */
export function fragmentFacts (manifest: VerifyManifest): Map<string, { root?: string, size: number }> {
  const out = new Map<string, { root?: string, size: number }>()
  for (const seg of manifest.segments) {
    seg.fragments.forEach((id, i) => { out.set(id, { size: seg.shardLength, ...(seg.roots !== undefined ? { root: seg.roots[i]! } : {}) }) })
  }
  return out
}
