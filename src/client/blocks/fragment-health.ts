/**
 * The health of a file's fragments: which holders still have which fragments, asked with HAS.
 * HAS is a farmer's word, not a proof: these verdicts decide what to look up and what to store
 * again, never what bytes to trust (every fragment read is checked against its id).
 */
import type { AbortOptions } from '../../core/errors.ts'
import { throwIfAborted } from '../../core/errors.ts'
import type { SegmentEntry } from '../../core/manifest.ts'
import type { Farmer, FarmerRef, FragmentTransport } from '../ports.ts'

/** One fragment of a segment: the farmers listed for it, and those that answered that they hold it. */
export interface FragmentHealth { id: string, holders: string[], reachable: string[] }

/** A segment's health: `healthy` with all k + m fragments reachable, `degraded` with k or more, else `lost`. */
export interface SegmentHealth { index: number, available: number, status: 'healthy' | 'degraded' | 'lost', fragments: FragmentHealth[] }

/** `health` with the copies `found` elsewhere counted as reachable (and as holders). */
export function withCopies (health: SegmentHealth[], found: ReadonlyMap<string, string[]>, policy: { k: number, m: number }): SegmentHealth[] {
  return health.map(seg => {
    const fragments = seg.fragments.map(f => {
      const more = (found.get(f.id) ?? []).filter(p => !f.reachable.includes(p))
      return more.length === 0 ? f : { id: f.id, holders: [...new Set([...f.holders, ...more])], reachable: [...f.reachable, ...more] }
    })
    return healthOf(seg.index, fragments, policy)
  })
}

/** A segment's verdict from its fragments: all k + m reachable, k or more, or fewer. */
export function healthOf (index: number, fragments: FragmentHealth[], policy: { k: number, m: number }): SegmentHealth {
  const available = fragments.filter(f => f.reachable.length > 0).length
  return { index, available, status: available === policy.k + policy.m ? 'healthy' : available >= policy.k ? 'degraded' : 'lost', fragments }
}

/** A HAS, asked once more if it fails (a reset connection, a busy farmer); undefined if both fail. */
export async function askTwice (transport: Pick<FragmentTransport, 'has'>, farmer: FarmerRef, ids: string[], options: AbortOptions): Promise<boolean[] | undefined> {
  const ask = async (): Promise<boolean[]> => await transport.has(farmer, ids, options)
  return await ask().catch(async () => options.signal?.aborted === true ? undefined : await ask()).catch(() => undefined)
}

/**
 * The health of `segments` (a sparse array: holes are skipped), asking every holder once for all
 * of its fragments. A holder that `resolve` does not know (gone from the directory), or that does
 * not answer twice, holds none.
 */
export async function segmentsHealth (
  transport: Pick<FragmentTransport, 'has'>, segments: ReadonlyArray<SegmentEntry | undefined>, policy: { k: number, m: number },
  resolve: (peer: string) => FarmerRef | undefined, options: AbortOptions = {}
): Promise<SegmentHealth[]> {
  const byHolder = new Map<string, string[]>()
  segments.forEach(seg => seg?.fragments.forEach((id, i) => {
    for (const h of seg.holders[i] ?? []) byHolder.set(h, [...(byHolder.get(h) ?? []), id])
  }))
  const held = new Map<string, Set<string>>()
  await Promise.all([...byHolder].map(async ([peer, ids]) => {
    const ref = resolve(peer)
    const answer = ref === undefined ? undefined : await askTwice(transport, ref, ids, options)
    held.set(peer, new Set(ids.filter((_, i) => answer?.[i] === true)))
  }))
  const out: SegmentHealth[] = []
  segments.forEach((seg, index) => {
    if (seg === undefined) return
    const fragments = seg.fragments.map((id, i) => ({ id, holders: seg.holders[i] ?? [], reachable: (seg.holders[i] ?? []).filter(h => held.get(h)?.has(id) === true) }))
    out.push(healthOf(index, fragments, policy))
  })
  return out
}

/**
 * Before a resumed upload (or outbox drain) trusts what it recorded as stored, every holder of a
 * finished segment is asked, once for all its fragments, whether it still has them: while the
 * upload waited, a farmer may have left the grid, restarted empty or lost a file. Returns, for each
 * segment with a fragment gone, the holders that still have each of its fragments; `storeSegment`
 * then sends only the lost ones (sealing a segment again gives the same fragments: same key, nonce
 * and associated data).
 */
export async function recheckStored (transport: Pick<FragmentTransport, 'has'>, finished: ReadonlyArray<SegmentEntry | undefined>,
  policy: { k: number, m: number }, byId: ReadonlyMap<string, Farmer>, signal?: AbortSignal): Promise<Map<number, string[][]>> {
  const health = await segmentsHealth(transport, finished, policy, p => byId.get(p), signal !== undefined ? { signal } : {})
  throwIfAborted(signal) // an aborted HAS reads as "not held": do not forget segments because of it
  return new Map(health.filter(h => h.status !== 'healthy').map(h => [h.index, h.fragments.map(f => f.reachable)]))
}
