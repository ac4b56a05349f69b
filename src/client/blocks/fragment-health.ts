/**
 * The health of a file's fragments: which holders can prove they still have which fragments. Each
 * holder is asked once with HAS, a farmer's word and only a hint; every copy it claims is then
 * proven (`proofs.ts`: an audit against the fragment's Merkle root, or a GET that hashes right).
 * Only proven copies count. Every fragment read is still checked against its id.
 */
import type { AbortOptions } from '../../core/errors.ts'
import { throwIfAborted } from '../../core/errors.ts'
import type { SegmentEntry } from '../../core/manifest.ts'
import type { Farmer, FarmerRef, FragmentTransport } from '../ports.ts'
import { counts, proveCopies, type CopyToProve, type ProofPorts } from './proofs.ts'

/**
 * One fragment of a segment: the farmers listed (or found) for it, those that proved they hold it
 * (`reachable`: the copies that count), and those that said so and did not prove it (`claimed`).
 */
export interface FragmentHealth { id: string, holders: string[], reachable: string[], claimed: string[] }

/** A segment's health: `healthy` with all k + m fragments reachable, `degraded` with k or more, else `lost`. */
export interface SegmentHealth { index: number, available: number, status: 'healthy' | 'degraded' | 'lost', fragments: FragmentHealth[] }

/** `health` with the copies `found` elsewhere (already proven) counted as reachable (and as holders). */
export function withCopies (health: SegmentHealth[], found: ReadonlyMap<string, string[]>, policy: { k: number, m: number }): SegmentHealth[] {
  return health.map(seg => {
    const fragments = seg.fragments.map(f => {
      const more = (found.get(f.id) ?? []).filter(p => !f.reachable.includes(p))
      return more.length === 0
        ? f
        : { id: f.id, holders: [...new Set([...f.holders, ...more])], reachable: [...f.reachable, ...more], claimed: f.claimed.filter(p => !more.includes(p)) }
    })
    return healthOf(seg.index, fragments, policy)
  })
}

/**
 * Of the copies `found` (fragment id → farmers that said they hold it, as `discoverHolders`
 * answers), those proven; `what` gives each fragment's root and size (undefined: not ours to prove).
 */
export async function provenCopies (ports: ProofPorts, found: ReadonlyMap<string, string[]>,
  what: (id: string) => { root?: string, size: number } | undefined, resolve: (peer: string) => FarmerRef | undefined,
  options: AbortOptions = {}): Promise<Map<string, string[]>> {
  const copies: CopyToProve[] = []
  for (const [id, peers] of found) {
    const w = what(id)
    if (w === undefined) continue
    for (const peer of peers) {
      const farmer = resolve(peer)
      if (farmer !== undefined && counts(ports, peer)) copies.push({ farmer, id, size: w.size, ...(w.root !== undefined ? { root: w.root } : {}) })
    }
  }
  const verdicts = await proveCopies(ports, copies, options)
  const out = new Map<string, string[]>()
  copies.forEach((c, i) => { if (verdicts[i] === 'proven') out.set(c.id, [...out.get(c.id) ?? [], c.farmer.peerId]) })
  return out
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
 * The health of `segments` (a sparse array: holes are skipped): every holder is asked once, with
 * HAS, for all of its fragments, then every copy it claims is proven (`proveCopies`). A holder that
 * `resolve` does not know (gone from the directory), that does not answer twice, or whose audits
 * put it below the trust threshold, holds none.
 */
export async function segmentsHealth (
  ports: ProofPorts, segments: ReadonlyArray<SegmentEntry | undefined>, policy: { k: number, m: number },
  resolve: (peer: string) => FarmerRef | undefined, options: AbortOptions = {}
): Promise<SegmentHealth[]> {
  const byHolder = new Map<string, string[]>()
  segments.forEach(seg => seg?.fragments.forEach((id, i) => {
    for (const h of seg.holders[i] ?? []) byHolder.set(h, [...(byHolder.get(h) ?? []), id])
  }))
  const said = new Map<string, Set<string>>()
  await Promise.all([...byHolder].map(async ([peer, ids]) => {
    const ref = resolve(peer)
    const answer = ref === undefined ? undefined : await askTwice(ports.transport, ref, ids, options)
    said.set(peer, new Set(ids.filter((_, i) => answer?.[i] === true)))
  }))
  // Every claimed copy, proven: a key per (fragment, holder), since one farmer may hold several.
  const copies: CopyToProve[] = []
  const at = new Map<string, number>()
  segments.forEach(seg => seg?.fragments.forEach((id, i) => {
    for (const h of seg.holders[i] ?? []) {
      const farmer = resolve(h)
      if (farmer === undefined || said.get(h)?.has(id) !== true || !counts(ports, h) || at.has(`${id} ${h}`)) continue
      at.set(`${id} ${h}`, copies.length)
      copies.push({ farmer, id, size: seg.shardLength, ...(seg.roots !== undefined ? { root: seg.roots[i]! } : {}) })
    }
  }))
  const verdicts = await proveCopies(ports, copies, options)
  const proven = (id: string, h: string): boolean => verdicts[at.get(`${id} ${h}`) ?? -1] === 'proven'
  const out: SegmentHealth[] = []
  segments.forEach((seg, index) => {
    if (seg === undefined) return
    const fragments = seg.fragments.map((id, i) => {
      const holders = seg.holders[i] ?? []
      return {
        id,
        holders,
        reachable: holders.filter(h => proven(id, h)),
        claimed: holders.filter(h => said.get(h)?.has(id) === true && !proven(id, h))
      }
    })
    out.push(healthOf(index, fragments, policy))
  })
  return out
}

/**
 * Before a resumed upload (or outbox drain) trusts what it recorded as stored, every holder of a
 * finished segment is asked, once for all its fragments, to prove it still has them: while the
 * upload waited, a farmer may have left the grid, restarted empty or lost a file. Returns, for each
 * segment with a fragment gone, the holders that still have each of its fragments; `storeSegment`
 * then sends only the lost ones (sealing a segment again gives the same fragments: same key, nonce
 * and associated data).
 */
export async function recheckStored (ports: ProofPorts, finished: ReadonlyArray<SegmentEntry | undefined>,
  policy: { k: number, m: number }, byId: ReadonlyMap<string, Farmer>, signal?: AbortSignal): Promise<Map<number, string[][]>> {
  const health = await segmentsHealth(ports, finished, policy, p => byId.get(p), signal !== undefined ? { signal } : {})
  throwIfAborted(signal) // an aborted HAS reads as "not held": do not forget segments because of it
  return new Map(health.filter(h => h.status !== 'healthy').map(h => [h.index, h.fragments.map(f => f.reachable)]))
}
