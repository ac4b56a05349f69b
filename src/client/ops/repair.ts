/**
 * `shardfarm repair` and the app's Repair: put back the fragments and manifest copies a file lost.
 */
import type { Capability } from '../../core/capability.ts'
import { AbortError, throwIfAborted, type AbortOptions } from '../../core/errors.ts'
import { sha256Hex } from '../../core/hash.ts'
import { TAG_BYTES } from '../../core/envelope.ts'
import type { OwnerKey } from '../../core/owner-key.ts'
import { chooseTargets, manifestCopies, type TargetRequest } from '../../core/placement.ts'
import { normalizePolicy } from '../../core/policy.ts'
import { fetchVerifyManifest } from '../blocks/open-manifest.ts'
import { provenCopies, segmentsHealth, withCopies } from '../blocks/fragment-health.ts'
import { discoverHolders } from '../blocks/holder-lookup.ts'
import { proveCopies } from '../blocks/proofs.ts'
import type { ClientPorts, Farmer, FarmerRef } from '../ports.ts'
import { fragmentFacts } from './stat.ts'

/** The ports a repair runs on. */
export type RepairPorts = Pick<ClientPorts, 'transport' | 'directory' | 'coder' | 'auditor' | 'scores'>

/** Progress of a repair, carried by its `progress` events (`CustomEvent<RepairProgress>`). */
export interface RepairProgress {
  /** Segments looked at (and repaired where they needed it) so far. */
  done: number
  segments: number
  /** The file's size in bytes, for a bar in bytes. */
  size: number
}

/**
 * A repair of one file, from its read or its verify link, with the owner's key (new copies carry
 * it, so `rm` can remove them).
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
 * Puts back what a file lost. Only proven copies count (`segmentsHealth`): for every segment with
 * at least k proven fragments, the others are rebuilt (Reed-Solomon over ciphertext, from k copies
 * that hash to their ids: a verify link is enough) and stored on farmers chosen as placement
 * chooses (`chooseTargets`: weighted random, vetting and subnet rules, never ranked by free space),
 * a region the segment lacks first. A rebuilt copy counts only once its holder passes an audit of
 * it; a farmer that fails one, or that claimed a copy it could not prove, gets nothing more of this
 * file. The manifest gets back to `manifestCopies` proven copies. Fragment and manifest ids do not
 * change, so every link to the file keeps working: downloads look a fragment up in the directory
 * when its listed holders fail. Only farmers that answered the lookup are written to. One segment
 * at a time: about 2 (k + m) shards of memory.
 */
async function repairFile (ports: RepairPorts, cap: Capability, owner: OwnerKey,
  options: AbortOptions & { onProgress: (done: number, segments: number, fileSize: number) => void }): Promise<RepairResult> {
  const { signal } = options
  const { manifest, resolve } = await fetchVerifyManifest(ports, cap, options)
  const policy = normalizePolicy(manifest.policy)
  const { k, m } = policy
  const size = manifest.segments.reduce((n, s) => n + s.ciphertextLength - TAG_BYTES, 0)
  const listed = await segmentsHealth(ports, manifest.segments, policy, resolve, options)
  // The fragments no listed holder proved, and the manifest, are asked of the whole directory,
  // which also tells which farmers answer at all; the copies found are proven in turn.
  const missing = listed.flatMap(seg => seg.fragments.filter(f => f.reachable.length === 0).map(f => f.id))
  const { found, answered, farmers } = await discoverHolders(ports, [...missing, cap.manifestId], options)
  throwIfAborted(signal)
  const byId = new Map(farmers.map(f => [f.peerId, f]))
  const refOf = (peer: string): FarmerRef => byId.get(peer) ?? resolve(peer)
  const facts = fragmentFacts(manifest)
  const proven = await provenCopies(ports, found, id => facts.get(id), refOf, options)
  const health = withCopies(listed, proven, policy)
  // Farmers that claimed a copy and did not prove it, or failed to take one: nothing more of this file.
  const failed = new Set<string>([
    ...health.flatMap(seg => seg.fragments.flatMap(f => f.claimed)),
    ...[...found].flatMap(([id, peers]) => facts.has(id) ? peers.filter(p => !(proven.get(id) ?? []).includes(p)) : [])
  ])
  const live = farmers.filter(f => answered.has(f.peerId))
  const choice = { exclude: failed, ...(ports.scores !== undefined ? { weight: (p: string) => ports.scores!.weight(p) } : {}) }
  const targets = (request: TargetRequest): Farmer[] => chooseTargets(live, request, choice)
  const given = new Map<string, number>()
  const put = async (f: Farmer, id: string, bytes: Uint8Array, root?: string): Promise<boolean> => {
    try {
      await ports.transport.put(f, id, bytes, { signal, owner })
    } catch {
      if (signal?.aborted === true) throw new AbortError()
      failed.add(f.peerId) // not tried again in this repair
      return false
    }
    // Stored, says the farmer: it counts once it proves it.
    const [verdict] = await proveCopies(ports, [{ farmer: f, id, size: bytes.length, ...(root !== undefined ? { root } : {}) }], options)
    result.placed.push({ id, peer: f.peerId }) // the owner's `rm` reaches it whatever the proof said
    if (verdict !== 'proven') { failed.add(f.peerId); return false }
    given.set(f.peerId, (given.get(f.peerId) ?? 0) + 1)
    return true
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
    const done = (): void => { options.onProgress(s + 1, manifest.segments.length, size) }
    if (seg.available < k) { result.lost.push(s); done(); continue }
    if (seg.available === k + m) { done(); continue }
    const len = entry.shardLength
    // Never a second fragment of the segment on a farmer: every listed holder (whatever it
    // answered) and every farmer found with a copy is out. Too few others: nothing to fetch for.
    const taken = new Set([...entry.holders.flat(), ...seg.fragments.flatMap(f => f.reachable)])
    const need = k + m - seg.available
    if (targets({ count: need, bytes: len, purpose: 'fragment', policy, holders: taken }).length < need) { result.short.push(s); done(); continue }
    const shards = new Uint8Array((k + m) * len)
    const got = seg.fragments.map(() => false)
    const unusable = seg.fragments.map(f => f.reachable.length === 0) // nobody proved it, or nobody handed it over intact
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
    if (count < k) { result.short.push(s); done(); continue } // proven holders that did not hand over
    const rebuilt = await ports.coder.reconstruct(k, m, shards, got, signal !== undefined ? { signal } : {})
    let short = 0
    for (let i = 0; i < k + m; i++) {
      if (!unusable[i]) continue
      const frag = rebuilt.subarray(i * len, (i + 1) * len)
      if (await sha256Hex(frag) !== seg.fragments[i]!.id) { short++; continue } // never store what is not the fragment
      let stored = false
      for (const f of targets({ count: TARGET_TRIES, bytes: len, purpose: 'fragment', policy, fullOnly: i < k, holders: taken })) {
        taken.add(f.peerId)
        if (await put(f, seg.fragments[i]!.id, frag, entry.roots?.[i])) { stored = true; break }
      }
      if (stored) result.fragmentsStored++; else short++
    }
    if (short === 0) result.repaired++; else result.short.push(s)
    done()
  }

  // The manifest back to its number of copies, each proven by a GET that hashes right.
  const claimedCopies = found.get(cap.manifestId) ?? []
  const sealed = await fetchGood(cap.manifestId, claimedCopies)
  if (sealed !== undefined) {
    const verdicts = await proveCopies(ports, claimedCopies.map(p => ({ farmer: refOf(p), id: cap.manifestId, size: sealed.length })), options)
    const copies = claimedCopies.filter((_, i) => verdicts[i] === 'proven')
    let have = copies.length
    const want = manifestCopies(policy)
    if (have < want) {
      for (const f of targets({ count: want - have + TARGET_TRIES, bytes: sealed.length, purpose: 'manifest', policy, holders: claimedCopies })) {
        if (have >= want) break
        if (await put(f, cap.manifestId, sealed)) { have++; result.manifestCopiesStored++ }
      }
    }
  }
  throwIfAborted(signal)
  return result
}

/** Farmers tried, in the order `chooseTargets` gives, for one rebuilt fragment before giving up on it. */
const TARGET_TRIES = 8
