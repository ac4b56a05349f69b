/**
 * What an owner does with a stored file besides reading it, for the CLI (`shardfarm stat`, `rm`)
 * and the app (My files) alike: check which fragments are still reachable, and remove them all.
 */
import type { Capability } from '../core/capability.ts'
import type { Manifest, SegmentEntry } from '../core/manifest.ts'
import type { OwnerKey } from '../core/owner-key.ts'
import { fetchManifest } from './download.ts'
import type { DownloadPorts } from './download.ts'
import type { FarmerRef, FragmentTransport } from './ports.ts'

type Ports = Pick<DownloadPorts, 'transport' | 'directory'>

/** One fragment of a segment: the farmers listed for it, and those that answered that they hold it. */
export interface FragmentHealth { id: string, holders: string[], reachable: string[] }

/** A segment's health: `healthy` with all k + m fragments reachable, `degraded` with k or more, else `lost`. */
export interface SegmentHealth { index: number, available: number, status: 'healthy' | 'degraded' | 'lost', fragments: FragmentHealth[] }

export interface FileHealth { manifest: Manifest, segments: SegmentHealth[] }

/** Asks every holder of the file, once each, which of its fragments it holds (a farmer that does not answer holds none). */
export async function fileHealth (ports: Ports, cap: Capability, options: { signal?: AbortSignal } = {}): Promise<FileHealth> {
  const { manifest, resolve } = await fetchManifest(ports, cap, options)
  return { manifest, segments: await segmentsHealth(ports.transport, manifest.segments, manifest.policy, resolve, options) }
}

/**
 * The health of `segments` (a sparse array: holes are skipped), asking every holder once for all
 * of its fragments. A holder that `resolve` does not know (gone from the directory), or that does
 * not answer twice, holds none.
 */
export async function segmentsHealth (
  transport: Pick<FragmentTransport, 'has'>, segments: ReadonlyArray<SegmentEntry | undefined>, policy: { k: number, m: number },
  resolve: (peer: string) => FarmerRef | undefined, options: { signal?: AbortSignal } = {}
): Promise<SegmentHealth[]> {
  const { k, m } = policy
  const byHolder = new Map<string, string[]>()
  segments.forEach(seg => seg?.fragments.forEach((id, i) => {
    for (const h of seg.holders[i] ?? []) byHolder.set(h, [...(byHolder.get(h) ?? []), id])
  }))
  const held = new Map<string, Set<string>>()
  await Promise.all([...byHolder].map(async ([peer, ids]) => {
    const ref = resolve(peer)
    const ask = async (): Promise<boolean[]> => ref === undefined ? [] : await transport.has(ref, ids, options)
    // One more try after a failed HAS (a reset connection, a busy farmer) before "holds nothing".
    const answer = await ask().catch(async () => options.signal?.aborted === true ? [] : await ask()).catch(() => [])
    held.set(peer, new Set(ids.filter((_, i) => answer[i] === true)))
  }))
  const out: SegmentHealth[] = []
  segments.forEach((seg, index) => {
    if (seg === undefined) return
    const fragments = seg.fragments.map((id, i) => ({ id, holders: seg.holders[i] ?? [], reachable: (seg.holders[i] ?? []).filter(h => held.get(h)?.has(id) === true) }))
    const available = fragments.filter(f => f.reachable.length > 0).length
    out.push({ index, available, status: available === k + m ? 'healthy' : available >= k ? 'degraded' : 'lost', fragments })
  })
  return out
}

/**
 * Sends a signed delete for every fragment of the file and every copy of its manifest. Returns how
 * many were removed and how many could not be (a farmer down): running it again later finishes.
 */
export async function deleteFile (ports: Ports, cap: Capability, owner: OwnerKey, options: { signal?: AbortSignal } = {}): Promise<{ deleted: number, failed: number }> {
  const { manifest, resolve } = await fetchManifest(ports, cap, options)
  const jobs = manifest.segments.flatMap(seg => seg.fragments.flatMap((id, i) => (seg.holders[i] ?? []).map(h => ({ id, h }))))
  jobs.push(...cap.holders.map(h => ({ id: cap.manifestId, h })))
  let deleted = 0
  let failed = 0
  for (const { id, h } of jobs) {
    try { await ports.transport.delete(resolve(h), id, owner, options); deleted++ } catch { failed++ }
  }
  return { deleted, failed }
}
