/**
 * What an owner does with a stored file besides reading it, for the CLI (`shardfarm stat`, `rm`,
 * `repair`) and the app (My files) alike: check which fragments are still reachable, put back the
 * ones that were lost, and remove them all.
 */
import type { Capability } from '../core/capability.ts'
import { AbortError, throwIfAborted } from '../core/errors.ts'
import { sha256Hex } from '../core/hash.ts'
import type { Manifest, SegmentEntry } from '../core/manifest.ts'
import type { OwnerKey } from '../core/owner-key.ts'
import { admits } from '../core/placement.ts'
import { normalizePolicy } from '../core/policy.ts'
import { fetchManifest } from './download.ts'
import type { DownloadPorts } from './download.ts'
import type { ErasureCoder, Farmer, FarmerRef, FragmentTransport } from './ports.ts'

type Ports = Pick<DownloadPorts, 'transport' | 'directory'>

/** One fragment of a segment: the farmers listed for it, and those that answered that they hold it. */
export interface FragmentHealth { id: string, holders: string[], reachable: string[] }

/** A segment's health: `healthy` with all k + m fragments reachable, `degraded` with k or more, else `lost`. */
export interface SegmentHealth { index: number, available: number, status: 'healthy' | 'degraded' | 'lost', fragments: FragmentHealth[] }

export interface FileHealth { manifest: Manifest, segments: SegmentHealth[] }

/**
 * Asks every holder of the file, once each, which of its fragments it holds (a farmer that does not
 * answer holds none). Fragments none of their listed holders has are then looked for among the
 * directory's farmers (`repair` puts copies there); a healthy file costs no such lookup.
 */
export async function fileHealth (ports: Ports, cap: Capability, options: { signal?: AbortSignal } = {}): Promise<FileHealth> {
  const { manifest, resolve } = await fetchManifest(ports, cap, options)
  const listed = await segmentsHealth(ports.transport, manifest.segments, manifest.policy, resolve, options)
  const missing = listed.flatMap(s => s.fragments.filter(f => f.reachable.length === 0).map(f => f.id))
  if (missing.length === 0) return { manifest, segments: listed }
  const { found } = await discoverHolders(ports, missing, options)
  return { manifest, segments: withCopies(listed, found, manifest.policy) }
}

/** `health` with the copies `found` elsewhere counted as reachable (and as holders). */
function withCopies (health: SegmentHealth[], found: ReadonlyMap<string, string[]>, policy: { k: number, m: number }): SegmentHealth[] {
  return health.map(seg => {
    const fragments = seg.fragments.map(f => {
      const more = (found.get(f.id) ?? []).filter(p => !f.reachable.includes(p))
      return more.length === 0 ? f : { id: f.id, holders: [...new Set([...f.holders, ...more])], reachable: [...f.reachable, ...more] }
    })
    return healthOf(seg.index, fragments, policy)
  })
}

/** A segment's verdict from its fragments: all k + m reachable, k or more, or fewer. */
function healthOf (index: number, fragments: FragmentHealth[], policy: { k: number, m: number }): SegmentHealth {
  const available = fragments.filter(f => f.reachable.length > 0).length
  return { index, available, status: available === policy.k + policy.m ? 'healthy' : available >= policy.k ? 'degraded' : 'lost', fragments }
}

/** A HAS, asked once more if it fails (a reset connection, a busy farmer); undefined if both fail. */
async function askTwice (transport: Pick<FragmentTransport, 'has'>, farmer: FarmerRef, ids: string[], options: { signal?: AbortSignal }): Promise<boolean[] | undefined> {
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
  resolve: (peer: string) => FarmerRef | undefined, options: { signal?: AbortSignal } = {}
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

/** Farmers asked at once by `discoverHolders`. */
const DISCOVERY_CONCURRENCY = 16

/**
 * Which farmers of the directory hold which of `ids`: every listed farmer is asked (HAS, in
 * batches; once more if that fails), at most DISCOVERY_CONCURRENCY at a time. Fragments and
 * manifests are named by their hash, so a copy anywhere is as good as one where the manifest says:
 * this is how downloads find fragments `repair` put on other farmers, and how `rm` finds copies.
 * `answered` holds the farmers that answered (those that did not are neither holders nor, for
 * `repair`, places to put anything).
 */
export async function discoverHolders (ports: Ports, ids: readonly string[], options: { signal?: AbortSignal } = {}): Promise<{ found: Map<string, string[]>, answered: Set<string>, farmers: Farmer[] }> {
  const found = new Map<string, string[]>()
  const answered = new Set<string>()
  if (ids.length === 0) return { found, answered, farmers: [] }
  const farmers = await ports.directory.list(options).catch(() => [])
  const asked = [...ids]
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < farmers.length) {
      const f = farmers[next++]!
      const answer = await askTwice(ports.transport, f, asked, options)
      if (answer === undefined) continue
      answered.add(f.peerId)
      ids.forEach((id, i) => { if (answer[i] === true) found.set(id, [...(found.get(id) ?? []), f.peerId]) })
    }
  }
  await Promise.all(Array.from({ length: Math.min(DISCOVERY_CONCURRENCY, farmers.length) }, worker))
  return { found, answered, farmers }
}

export interface RepairResult {
  segments: number
  /** Segments that had lost fragments and have all k + m again. */
  repaired: number
  /** Fragments rebuilt and stored on new farmers. */
  fragmentsStored: number
  /** Copies of the manifest stored on new farmers. */
  manifestCopiesStored: number
  /** Segments below k fragments: nothing can bring them back. */
  lost: number[]
  /** Segments still short of k + m (too few eligible farmers, or their PUTs failed): run again later. */
  short: number[]
  /**
   * Where the new copies went (fragment or manifest id, farmer). The owner keeps these, so that
   * `deleteFile` reaches them even when those farmers are offline as it runs.
   */
  placed: Array<{ id: string, peer: string }>
}

/**
 * Puts back what a file lost: for every segment with at least k of its k + m fragments somewhere
 * on the grid, the missing ones (and any whose holders fail to hand them over intact) are rebuilt
 * (Reed-Solomon, from k that hash to their ids) and stored on farmers the policy allows that hold
 * no fragment of that segment, preferring regions the segment lacks; the manifest gets back to
 * m + 1 copies. Fragment and manifest ids do not change, so every link to the file keeps working:
 * downloads look a fragment up in the directory when its listed holders fail. New copies carry
 * `owner`'s key, so `rm` can remove them. Only farmers that answered the lookup are written to,
 * and one whose PUT fails is not tried again. One segment at a time: about 2 (k + m) shards of memory.
 */
export async function repairFile (ports: Ports & { coder: ErasureCoder }, cap: Capability, owner: OwnerKey,
  options: { signal?: AbortSignal, onProgress?: (done: number, segments: number, fileSize: number) => void } = {}): Promise<RepairResult> {
  const { signal } = options
  const { manifest, resolve } = await fetchManifest(ports, cap, options)
  const policy = normalizePolicy(manifest.policy)
  const { k, m } = policy
  const listed = await segmentsHealth(ports.transport, manifest.segments, policy, resolve, options)
  // The fragments no listed holder has, and the manifest, are asked of the whole directory, which
  // also tells which farmers answer at all.
  const missing = listed.flatMap(seg => seg.fragments.filter(f => f.reachable.length === 0).map(f => f.id))
  const { found, answered, farmers } = await discoverHolders(ports, [...missing, cap.manifestId], options)
  throwIfAborted(signal)
  const health = withCopies(listed, found, policy)
  const byId = new Map(farmers.map(f => [f.peerId, f]))
  const refOf = (peer: string): FarmerRef => byId.get(peer) ?? resolve(peer)
  const failed = new Set<string>()
  const eligible = (f: Farmer, dataFragment: boolean): boolean => answered.has(f.peerId) && !failed.has(f.peerId) &&
    admits(policy, f) && (f.kind === 'full' || !dataFragment)
  // New copies spread: a region the segment lacks first, then whoever has taken fewest, then room.
  const given = new Map<string, number>()
  const pick = (candidates: Farmer[], bytes: number, regions: ReadonlySet<string>): Farmer[] => candidates.filter(f => f.free >= bytes)
    .sort((a, b) => Number(regions.has(a.region)) - Number(regions.has(b.region)) ||
      (given.get(a.peerId) ?? 0) - (given.get(b.peerId) ?? 0) || b.free - a.free || (a.peerId < b.peerId ? -1 : 1))
  const put = async (f: Farmer, id: string, bytes: Uint8Array): Promise<boolean> => {
    try {
      await ports.transport.put(f, id, bytes, { signal, owner })
      given.set(f.peerId, (given.get(f.peerId) ?? 0) + 1)
      result.placed.push({ id, peer: f.peerId })
      return true
    } catch {
      if (signal?.aborted === true) throw new AbortError()
      failed.add(f.peerId) // not tried again in this repair
      return false
    }
  }
  /** The first copy of `id` among `peers` that hashes to it. */
  const fetchGood = async (id: string, peers: string[], length?: number): Promise<Uint8Array | undefined> => {
    for (const peer of peers) {
      const bytes = await ports.transport.get(refOf(peer), id, { signal }).catch(() => undefined)
      throwIfAborted(signal)
      if (bytes !== undefined && (length === undefined || bytes.length === length) && await sha256Hex(bytes) === id) return bytes
    }
    return undefined
  }

  const result: RepairResult = { segments: manifest.segments.length, repaired: 0, fragmentsStored: 0, manifestCopiesStored: 0, lost: [], short: [], placed: [] }
  for (const seg of health) {
    throwIfAborted(signal)
    const s = seg.index
    const entry = manifest.segments[s]!
    const done = (): void => { options.onProgress?.(s + 1, manifest.segments.length, manifest.size) }
    if (seg.available < k) { result.lost.push(s); done(); continue }
    if (seg.available === k + m) { done(); continue }
    const len = entry.shardLength
    // Never a second fragment of the segment on a farmer: every listed holder (whatever it
    // answered) and every farmer found with a copy is out. Too few others: nothing to fetch for.
    const taken = new Set([...entry.holders.flat(), ...seg.fragments.flatMap(f => f.reachable)])
    const room = farmers.filter(f => !taken.has(f.peerId) && eligible(f, false) && f.free >= len).length
    if (room < k + m - seg.available) { result.short.push(s); done(); continue }
    const shards = new Uint8Array((k + m) * len)
    const got = seg.fragments.map(() => false)
    const unusable = seg.fragments.map(f => f.reachable.length === 0) // nobody has it, or nobody handed it over intact
    // k fetches at once, data fragments first; one that fails hands over to the next untried.
    const order = seg.fragments.map((_, i) => i).filter(i => !unusable[i])
    let next = 0
    let count = 0
    await Promise.all(Array.from({ length: k }, async () => {
      while (count < k && next < order.length) {
        const i = order[next++]!
        const bytes = await fetchGood(seg.fragments[i]!.id, seg.fragments[i]!.reachable, len)
        if (bytes === undefined) unusable[i] = true
        else if (count < k) { shards.set(bytes, i * len); got[i] = true; count++ }
      }
    }))
    if (count < k) { result.short.push(s); done(); continue } // holders that answered HAS but did not hand over
    const rebuilt = await ports.coder.reconstruct(k, m, shards, got, signal !== undefined ? { signal } : {})
    const regions = new Set(seg.fragments.flatMap(f => f.reachable).map(p => byId.get(p)?.region).filter((r): r is string => r !== undefined))
    let short = 0
    for (let i = 0; i < k + m; i++) {
      if (!unusable[i]) continue
      const frag = rebuilt.subarray(i * len, (i + 1) * len)
      if (await sha256Hex(frag) !== seg.fragments[i]!.id) { short++; continue } // never store what is not the fragment
      let stored = false
      for (const f of pick(farmers.filter(f => !taken.has(f.peerId) && eligible(f, i < k)), len, regions)) {
        taken.add(f.peerId)
        if (await put(f, seg.fragments[i]!.id, frag)) { stored = true; regions.add(f.region); break }
      }
      if (stored) result.fragmentsStored++; else short++
    }
    if (short === 0) result.repaired++; else result.short.push(s)
    done()
  }

  // The manifest back to m + 1 copies, on farmers the policy allows (its rules cover the metadata too).
  const copies = found.get(cap.manifestId) ?? []
  if (copies.length < m + 1) {
    const sealed = await fetchGood(cap.manifestId, copies)
    if (sealed !== undefined) {
      let have = copies.length
      for (const f of pick(farmers.filter(f => !copies.includes(f.peerId) && eligible(f, true)), sealed.length, new Set())) {
        if (have >= m + 1) break
        if (await put(f, cap.manifestId, sealed)) { have++; result.manifestCopiesStored++ }
      }
    }
  }
  throwIfAborted(signal)
  return result
}

/**
 * Sends a signed delete for every fragment of the file and every copy of its manifest: those the
 * manifest lists, those in `copies` (where repairs put some), and any the directory's farmers say
 * they hold. Returns how many were removed and how many could not be (a farmer down); the manifest
 * stays until every fragment is gone, so running it again later finishes.
 */
export async function deleteFile (ports: Ports, cap: Capability, owner: OwnerKey,
  options: { signal?: AbortSignal, copies?: ReadonlyArray<{ id: string, peer: string }> } = {}): Promise<{ deleted: number, failed: number }> {
  const { manifest, resolve } = await fetchManifest(ports, cap, options)
  const jobs = new Map<string, { id: string, h: string }>()
  const add = (id: string, h: string): void => { jobs.set(`${id}@${h}`, { id, h }) }
  manifest.segments.forEach(seg => seg.fragments.forEach((id, i) => { for (const h of seg.holders[i] ?? []) add(id, h) }))
  for (const h of cap.holders) add(cap.manifestId, h)
  // The copies repairs placed (the owner kept where): a farmer that is offline now counts as failed.
  for (const c of options.copies ?? []) add(c.id, c.peer)
  // And any other copy the directory's farmers say they hold.
  const { found } = await discoverHolders(ports, [...manifest.segments.flatMap(seg => seg.fragments), cap.manifestId], options)
  for (const [id, peers] of found) for (const h of peers) add(id, h)
  let deleted = 0
  let failed = 0
  const run = async (list: Array<{ id: string, h: string }>): Promise<void> => {
    for (const { id, h } of list) {
      try {
        await ports.transport.delete(resolve(h), id, owner, options)
        deleted++
      } catch (err) {
        // A farmer that answers that it has no such fragment (it lost it, or an earlier rm took it)
        // leaves nothing to remove there.
        if ((err as { code?: string }).code !== 'NOT_FOUND') failed++
      }
    }
  }
  // Fragments first; the manifest only once they are all gone, so that running rm again after a
  // farmer was down can still read which fragments to remove.
  const all = [...jobs.values()]
  await run(all.filter(j => j.id !== cap.manifestId))
  if (failed === 0) await run(all.filter(j => j.id === cap.manifestId))
  return { deleted, failed }
}
