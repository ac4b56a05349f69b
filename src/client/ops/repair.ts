/**
 * `shardfarm repair` and the app's Repair: put back the fragments and manifest copies a file lost.
 */
import type { Capability } from '../../core/capability.ts'
import { AbortError, throwIfAborted, type AbortOptions } from '../../core/errors.ts'
import { sha256Hex } from '../../core/hash.ts'
import type { OwnerKey } from '../../core/owner-key.ts'
import { admits } from '../../core/placement.ts'
import { normalizePolicy } from '../../core/policy.ts'
import { fetchManifest } from '../blocks/open-manifest.ts'
import { segmentsHealth, withCopies } from '../blocks/fragment-health.ts'
import { discoverHolders } from '../blocks/holder-lookup.ts'
import type { ClientPorts, Farmer, FarmerRef } from '../ports.ts'

/** The ports a repair runs on. */
export type RepairPorts = Pick<ClientPorts, 'transport' | 'directory' | 'coder'>

/** Progress of a repair, carried by its `progress` events (`CustomEvent<RepairProgress>`). */
export interface RepairProgress {
  /** Segments looked at (and repaired where they needed it) so far. */
  done: number
  segments: number
  /** The file's size in bytes, for a bar in bytes. */
  size: number
}

/**
 * A repair of one file, with the owner's key (new copies carry it, so `rm` can remove them).
 * `run()` does the work (`repairFile` below) and emits `progress` events per segment.
 */
export class Repair extends EventTarget {
  readonly #ports: RepairPorts
  readonly #cap: Capability
  readonly #owner: OwnerKey

  constructor (ports: RepairPorts, cap: Capability, owner: OwnerKey) {
    super()
    this.#ports = ports
    this.#cap = cap
    this.#owner = owner
  }

  async run (options: AbortOptions = {}): Promise<RepairResult> {
    return await repairFile(this.#ports, this.#cap, this.#owner, {
      ...options,
      onProgress: (done, segments, size) => { this.dispatchEvent(new CustomEvent<RepairProgress>('progress', { detail: { done, segments, size } })) }
    })
  }
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
async function repairFile (ports: RepairPorts, cap: Capability, owner: OwnerKey,
  options: AbortOptions & { onProgress: (done: number, segments: number, fileSize: number) => void }): Promise<RepairResult> {
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
    const done = (): void => { options.onProgress(s + 1, manifest.segments.length, manifest.size) }
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
