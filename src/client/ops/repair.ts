/**
 * `shardfarm repair` and the app's Repair: put back the fragments and manifest copies a file lost.
 */
import type { Capability } from '../../core/capability.ts'
import { AbortError, throwIfAborted, type AbortOptions } from '../../core/errors.ts'
import { sha256Hex } from '../../core/hash.ts'
import { TAG_BYTES } from '../../core/envelope.ts'
import type { SegmentEntry } from '../../core/manifest.ts'
import type { OwnerKey } from '../../core/owner-key.ts'
import { chooseTargets, manifestCopies, type TargetRequest } from '../../core/placement.ts'
import { normalizePolicy } from '../../core/policy.ts'
import { MAX_AUDIT_BATCH } from '../../net/protocols/audit.ts'
import { fetchVerifyManifest } from '../blocks/open-manifest.ts'
import { askTwice, provenCopies } from '../blocks/fragment-health.ts'
import { discoverHolders } from '../blocks/holder-lookup.ts'
import { counts, proveCopies, type ProofPorts } from '../blocks/proofs.ts'
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

/** Options of a `Repair`. */
export interface RepairInit {
  /**
   * Called, and awaited, before each new copy is PUT (fragment or manifest id, farmer): a caller
   * that must never lose track of a claim it made (the keeper, which may be killed mid-repair)
   * journals the intent here first. A PUT is not sent until it resolves; a throw aborts the repair.
   */
  onPlacing?: (copy: { id: string, peer: string }) => Promise<void>
  /**
   * Segments fetched at once; as many more may be storing their rebuilt fragments meanwhile (each
   * holds k + m shards). @default REPAIR_SEGMENTS_IN_FLIGHT
   */
  segmentsInFlight?: number
}

/** Segments a repair fetches at once; a slot goes on to the next once the codec has rebuilt its segment, beside the PUTs. */
export const REPAIR_SEGMENTS_IN_FLIGHT = 3

/**
 * A repair of one file, from its read or its verify link, with the owner's key (new copies carry
 * it, so `rm` can remove them).
 * `run()` does the work (`repairFile` below) and emits `progress` events per segment.
 */
export class Repair extends EventTarget {
  readonly #ports: RepairPorts
  readonly #cap: Capability
  readonly #owner: OwnerKey
  readonly #init: RepairInit

  constructor (ports: RepairPorts, cap: Capability, owner: OwnerKey, init: RepairInit = {}) {
    super()
    this.#ports = ports
    this.#cap = cap
    this.#owner = owner
    this.#init = init
  }

  async run (options: AbortOptions = {}): Promise<RepairResult> {
    return await repairFile(this.#ports, this.#cap, this.#owner, {
      ...options,
      ...this.#init,
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
 * when its listed holders fail. Only farmers that answered the lookup are written to. A few segments
 * at a time (`segmentsInFlight`), each with its k fetches in parallel, and as many more storing
 * their rebuilt fragments meanwhile: at most 2 × `segmentsInFlight` × (k + m) shards of memory.
 */
async function repairFile (ports: RepairPorts, cap: Capability, owner: OwnerKey,
  options: AbortOptions & RepairInit & { onProgress: (done: number, segments: number, fileSize: number) => void }): Promise<RepairResult> {
  const { signal } = options
  ports.coder.warm?.() // its start-up overlaps the manifest, HAS and directory round trips
  const { manifest, resolve } = await fetchVerifyManifest(ports, cap, options)
  const policy = normalizePolicy(manifest.policy)
  const { k, m } = policy
  const size = manifest.segments.reduce((n, s) => n + s.ciphertextLength - TAG_BYTES, 0)
  // Every listed holder is asked once with HAS, a hint. The copies it claims are proven later, per
  // segment and only where it matters: in a segment that lost fragments, the k fetched are proven
  // by hashing to their ids, and only the claimed ones not fetched are audited; a segment whose
  // every fragment is claimed is audited whole, as `check` does.
  // The directory's list is asked for beside the HAS round; it is needed only after it.
  const listed = ports.directory.list(options)
  listed.catch(() => {}) // read (and a failure taken as an empty list) by discoverHolders
  const said = await claimsOf(ports, manifest.segments, resolve, options)
  const claimedOf = (entry: SegmentEntry, i: number): string[] =>
    (entry.holders[i] ?? []).filter(h => said.get(h)?.has(entry.fragments[i]!) === true && counts(ports, h))
  // The fragments no listed holder claims, and the manifest, are asked of the whole directory,
  // which also tells which farmers answer at all; the copies found are proven in turn.
  const missing = manifest.segments.flatMap(entry => entry.fragments.filter((_, i) => claimedOf(entry, i).length === 0))
  const { found, answered, farmers } = await discoverHolders(ports, [...missing, cap.manifestId], { ...options, listed })
  throwIfAborted(signal)
  const byId = new Map(farmers.map(f => [f.peerId, f]))
  const refOf = (peer: string): FarmerRef => byId.get(peer) ?? resolve(peer)
  const facts = fragmentFacts(manifest)
  const proven = await provenCopies(ports, found, id => facts.get(id), refOf, options)
  // Farmers that claimed a copy and did not prove it, or failed to take one: nothing more of this file.
  const failed = new Set<string>([...found].flatMap(([id, peers]) => facts.has(id) ? peers.filter(p => !(proven.get(id) ?? []).includes(p)) : []))
  const live = farmers.filter(f => answered.has(f.peerId))
  const choice = { exclude: failed, ...(ports.scores !== undefined ? { weight: (p: string) => ports.scores!.weight(p) } : {}) }
  const targets = (request: TargetRequest): Farmer[] => chooseTargets(live, request, choice)
  /**
   * Rebuilt copies stored and not proven yet (`later` puts), by farmer: proven in batches (one
   * audit stream for several copies) as soon as a farmer has `PROOF_BATCH` of them, the rest when
   * a pass ends (`proveStored`). A proven copy counts from then on, in `proven`; a farmer that does
   * not prove one (fails, or does not answer, right after taking it) gets nothing more of this
   * file, and its segment is repaired again, once.
   */
  const stored = new Map<string, StoredCopy[]>()
  const proving: Array<Promise<void>> = []
  let proofError: unknown
  let again = new Set<number>()
  /** Set once a pass has no segment left to start: from then on stored copies are proven at once. */
  let draining = false
  const proveNow = (copies: StoredCopy[]): void => {
    proving.push(proveCopies(ports, copies, options).then(verdicts => {
      copies.forEach((c, i) => {
        if (verdicts[i] === 'proven') { proven.set(c.id, [...proven.get(c.id) ?? [], c.farmer.peerId]); return }
        result.fragmentsStored--
        again.add(c.segment)
        failed.add(c.farmer.peerId) // it took the copy a moment ago: silence now is no better than a failure
      })
    }, (err: unknown) => { proofError ??= err }))
  }
  /** Starts the proofs of every copy waiting in `stored`. */
  const proveWaiting = (): void => {
    for (const copies of stored.values()) if (copies.length > 0) proveNow(copies.splice(0))
  }
  /** Proves what is left of `stored` and waits for every proof; the segments to repair again. */
  const proveStored = async (): Promise<Set<number>> => {
    proveWaiting()
    draining = false
    while (proving.length > 0) await Promise.all(proving.splice(0))
    if (proofError !== undefined) throw proofError
    const out = again
    again = new Set()
    return out
  }
  /**
   * PUTs a copy; true once it is stored and, unless `later` names its segment, proven. A copy with
   * a root put `later` is proven with others of its farmer (`stored`).
   */
  const put = async (f: Farmer, id: string, bytes: Uint8Array, root?: string, later?: number): Promise<boolean> => {
    await options.onPlacing?.({ id, peer: f.peerId }) // journaled before any byte leaves
    try {
      await ports.transport.put(f, id, bytes, { signal, owner })
    } catch {
      if (signal?.aborted === true) throw new AbortError()
      failed.add(f.peerId) // not tried again in this repair
      return false
    }
    result.placed.push({ id, peer: f.peerId }) // the owner's `rm` reaches it whatever the proof says
    // Stored, says the farmer: it counts once it proves it.
    if (later !== undefined && root !== undefined) {
      const waiting = stored.get(f.peerId) ?? []
      stored.set(f.peerId, waiting)
      waiting.push({ farmer: f, id, size: bytes.length, root, segment: later })
      if (waiting.length >= PROOF_BATCH || draining) proveNow(waiting.splice(0))
      return true
    }
    const [verdict] = await proveCopies(ports, [{ farmer: f, id, size: bytes.length, ...(root !== undefined ? { root } : {}) }], options)
    if (verdict !== 'proven') { failed.add(f.peerId); return false }
    return true
  }
  /** Whether fetched `bytes` hash to `id`: the transport's word when it checks that already. */
  const hashesTo = async (bytes: Uint8Array, id: string): Promise<boolean> => ports.transport.verifiesHashes === true || await sha256Hex(bytes) === id
  /** The first copy of `id` among `peers` that hashes to it. */
  const fetchGood = async (id: string, peers: string[], length?: number): Promise<Uint8Array | undefined> => {
    for (const peer of peers) {
      const bytes = await ports.transport.get(refOf(peer), id, { signal }).catch(() => undefined)
      throwIfAborted(signal)
      if (bytes !== undefined && (length === undefined || bytes.length === length) && await hashesTo(bytes, id)) return bytes
    }
    return undefined
  }

  /**
   * The first copy of fragment `id` among `peers` that hashes to it: a GET that hashes right
   * proves the copy. A farmer in `unproven` that hands over nothing or the wrong bytes failed.
   * The transport may read the bytes straight into `into` (the fragment's place in its segment);
   * what a failed try left there is rebuilt like any absent fragment.
   */
  const fetchFrom = async (id: string, peers: string[], into: Uint8Array, unproven: ReadonlySet<string>): Promise<{ bytes: Uint8Array, peer: string } | undefined> => {
    const length = into.length
    for (const peer of peers) {
      const bytes = await ports.transport.get(refOf(peer), id, { signal, into }).catch((err: { code?: string }) => err.code === 'NOT_FOUND' || err.code === 'HASH_MISMATCH' ? null : undefined)
      throwIfAborted(signal)
      if (bytes instanceof Uint8Array && bytes.length === length && await hashesTo(bytes, id)) return { bytes, peer }
      if (bytes !== undefined && unproven.has(peer)) failed.add(peer) // it said it held the copy
    }
    return undefined
  }

  /** The manifest back to `manifestCopies` copies, each proven by a GET that hashes right or an audit. */
  const restoreManifest = async (): Promise<void> => {
    const claimedCopies = found.get(cap.manifestId) ?? []
    const sealed = await fetchGood(cap.manifestId, claimedCopies)
    if (sealed === undefined) return
    const verdicts = await proveCopies(ports, claimedCopies.map(p => ({ farmer: refOf(p), id: cap.manifestId, size: sealed.length })), options)
    let have = claimedCopies.filter((_, i) => verdicts[i] === 'proven').length
    const want = manifestCopies(policy)
    if (have >= want) return
    for (const f of targets({ count: want - have + TARGET_TRIES, bytes: sealed.length, purpose: 'manifest', policy, holders: claimedCopies })) {
      if (have >= want) break
      if (await put(f, cap.manifestId, sealed)) { have++; result.manifestCopiesStored++ }
    }
  }

  const result: RepairResult = { segments: manifest.segments.length, repaired: 0, fragmentsStored: 0, manifestCopiesStored: 0, lost: [], short: [], placed: [] }
  let finished = 0
  /** Rebuilds what one segment lacks; 'repaired', 'short', 'lost' or 'whole'. */
  const repairSegment = async (s: number, onRebuilt: () => void): Promise<'repaired' | 'short' | 'lost' | 'whole'> => {
    const entry = manifest.segments[s]!
    const len = entry.shardLength
    // Per fragment: copies already proven (found in the directory), and copies only claimed.
    const frags = entry.fragments.map((id, i) => {
      const sure = proven.get(id) ?? []
      return { id, proven: [...sure], claimed: claimedOf(entry, i).filter(p => !sure.includes(p)) }
    })
    const held = (): number => frags.filter(f => f.proven.length + f.claimed.length > 0).length
    /** Audits the claimed copies of fragments `which`: proven ones count, the others' farmers failed. */
    const audit = async (which: number[]): Promise<void> => {
      const copies = which.flatMap(i => frags[i]!.claimed.map(peer => ({ i, peer })))
      const verdicts = await proveCopies(ports, copies.map(c => ({ farmer: refOf(c.peer), id: frags[c.i]!.id, size: len, ...(entry.roots !== undefined ? { root: entry.roots[c.i]! } : {}) })), options)
      copies.forEach((c, j) => {
        if (verdicts[j] === 'proven') frags[c.i]!.proven.push(c.peer)
        else if (verdicts[j] !== 'unreachable') failed.add(c.peer)
      })
      for (const i of which) frags[i]!.claimed = []
    }
    if (held() < k) return 'lost'
    if (held() === k + m) {
      await audit(frags.map((_, i) => i))
      if (frags.every(f => f.proven.length > 0)) return 'whole'
      if (held() < k) return 'lost'
    }
    const available = held()
    // Never a second fragment of the segment on a farmer: every listed holder (whatever it
    // answered) and every farmer found with a copy is out. Too few others: nothing to fetch for.
    const taken = new Set([...entry.holders.flat(), ...frags.flatMap(f => f.proven)])
    const need = k + m - available
    if (targets({ count: need, bytes: len, purpose: 'fragment', policy, holders: taken }).length < need) return 'short'
    const shards = new Uint8Array((k + m) * len)
    const got = frags.map(() => false)
    // k fetches at once, data fragments first, proven copies before claimed ones; one that fails
    // hands over to the next untried.
    const order = frags.map((_, i) => i).filter(i => frags[i]!.proven.length + frags[i]!.claimed.length > 0)
    let next = 0
    let count = 0
    await Promise.all(Array.from({ length: k }, async () => {
      while (count < k && next < order.length) {
        const i = order[next++]!
        const f = frags[i]!
        const slot = shards.subarray(i * len, (i + 1) * len)
        const copy = await fetchFrom(f.id, [...f.proven, ...f.claimed], slot, new Set(f.claimed))
        if (copy === undefined) { f.proven = []; f.claimed = []; continue } // rebuilt
        f.proven = [copy.peer] // the GET proved it
        f.claimed = []
        if (count < k) {
          if (copy.bytes !== slot) slot.set(copy.bytes)
          got[i] = true
          count++
        }
      }
    }))
    if (count < k) return 'short' // holders that did not hand over
    // The fragments not fetched that some farmer claims: proven by audit, else rebuilt.
    await audit(frags.map((_, i) => i).filter(i => !got[i] && frags[i]!.claimed.length > 0))
    const unusable = frags.map((f, i) => !got[i] && f.proven.length === 0)
    const rebuilt = await ports.coder.reconstruct(k, m, shards, got, signal !== undefined ? { signal } : {})
    onRebuilt() // its fetches are done: the next segment's may start beside these PUTs
    // Every lost fragment PUT at once; each farmer is taken (synchronously, before any await) by
    // one fragment only, so two of the segment's fragments never land on the same farmer.
    const placed = await Promise.all(frags.map(async (f, i) => {
      if (!unusable[i]) return true
      const frag = rebuilt.subarray(i * len, (i + 1) * len)
      if (await sha256Hex(frag) !== f.id) return false // never store what is not the fragment
      for (let tries = 0; tries < TARGET_TRIES; tries++) {
        const [target] = targets({ count: 1, bytes: len, purpose: 'fragment', policy, fullOnly: i < policy.onFull, holders: taken })
        if (target === undefined) return false
        taken.add(target.peerId)
        if (await put(target, f.id, frag, entry.roots?.[i], s)) { result.fragmentsStored++; return true }
      }
      return false
    }))
    return placed.every(Boolean) ? 'repaired' : 'short'
  }
  const segments = manifest.segments.length
  const outcomes = new Map<number, Awaited<ReturnType<typeof repairSegment>>>()
  /** Repairs `which` segments, a few at a time. */
  const pass = async (which: number[], progress: boolean): Promise<void> => {
    let next = 0
    const inFlight = Math.max(1, Math.min(options.segmentsInFlight ?? REPAIR_SEGMENTS_IN_FLIGHT, which.length))
    let failure = false // one segment's error stops the others taking more
    // Segments started and not yet stored. A slot goes on to fetch the next as soon as its segment
    // is rebuilt (downloads and uploads overlap on a real link), once at most `inFlight` are left
    // unfinished: at most 2 × `inFlight` segments are held at once.
    const unfinished = new Set<Promise<void>>()
    await Promise.all(Array.from({ length: inFlight }, async () => {
      while (next < which.length && !failure) {
        throwIfAborted(signal)
        const s = which[next++]!
        let rebuilt!: () => void
        const fetched = new Promise<void>(resolve => { rebuilt = resolve })
        const done: Promise<void> = repairSegment(s, rebuilt).then(outcome => {
          outcomes.set(s, outcome)
          if (progress) options.onProgress(++finished, segments, size)
        }, (err: unknown) => { failure = true; throw err }).finally(() => { unfinished.delete(done) })
        done.catch(() => {}) // its error reaches the pass through the awaits below
        unfinished.add(done)
        await Promise.race([fetched, done])
        while (unfinished.size > inFlight) await Promise.race(unfinished)
      }
      // Nothing left to start: the copies waiting for a batch are proven now, beside the last segments.
      draining = true
      proveWaiting()
      await Promise.all(unfinished)
    }))
  }
  // The manifest back to its number of copies, beside the segments: small, and its own round trips.
  const manifestRestored = restoreManifest()
  manifestRestored.catch(() => {}) // awaited below; a segment's error may end the repair first
  await pass(manifest.segments.map((_, s) => s), true)
  // The new copies are proven together; segments where one failed get one more pass, on other farmers.
  const redo = await proveStored()
  if (redo.size > 0) {
    await pass([...redo].sort((a, b) => a - b), false)
    for (const s of await proveStored()) outcomes.set(s, 'short')
  }
  for (const [s, outcome] of [...outcomes].sort((a, b) => a[0] - b[0])) {
    if (outcome === 'repaired') result.repaired++
    else if (outcome === 'lost') result.lost.push(s)
    else if (outcome === 'short') result.short.push(s)
  }

  await manifestRestored
  throwIfAborted(signal)
  return result
}

/** A rebuilt copy stored and waiting for its proof, with the segment to repair again if it fails. */
interface StoredCopy { farmer: Farmer, id: string, size: number, root: string, segment: number }

/**
 * Rebuilt copies of one farmer proven in one audit stream, once it has this many waiting: half a
 * full batch, so that proofs overlap the rest of the repair rather than all waiting for its end.
 */
const PROOF_BATCH = MAX_AUDIT_BATCH / 2

/** Farmers tried, in the order `chooseTargets` gives, for one rebuilt fragment before giving up on it. */
const TARGET_TRIES = 8

/** Which of its listed fragments each holder says it has (HAS, asked twice if it fails; a hint only). */
async function claimsOf (ports: ProofPorts, segments: readonly SegmentEntry[], resolve: (peer: string) => FarmerRef,
  options: AbortOptions): Promise<Map<string, Set<string>>> {
  const byHolder = new Map<string, string[]>()
  for (const seg of segments) seg.fragments.forEach((id, i) => { for (const h of seg.holders[i] ?? []) byHolder.set(h, [...byHolder.get(h) ?? [], id]) })
  const said = new Map<string, Set<string>>()
  await Promise.all([...byHolder].map(async ([peer, ids]) => {
    const answer = await askTwice(ports.transport, resolve(peer), ids, options)
    said.set(peer, new Set(ids.filter((_, i) => answer?.[i] === true)))
  }))
  return said
}
