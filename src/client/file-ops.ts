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
 * answer holds none). Holders are those the manifest lists and any farmer of the directory that
 * has a copy (one `repair` put there).
 */
export async function fileHealth (ports: Ports, cap: Capability, options: { signal?: AbortSignal } = {}): Promise<FileHealth> {
  const { manifest, resolve } = await fetchManifest(ports, cap, options)
  const found = await discoverHolders(ports, manifest.segments.flatMap(seg => seg.fragments), options)
  const known = manifest.segments.map(seg => ({
    ...seg, holders: seg.fragments.map((id, i) => [...new Set([...(seg.holders[i] ?? []), ...(found.get(id) ?? [])])])
  }))
  return { manifest, segments: await segmentsHealth(ports.transport, known, manifest.policy, resolve, options) }
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
 * Which farmers of the directory hold which of `ids`: every listed farmer is asked once (HAS, in
 * batches). Fragments and manifests are named by their hash, so a copy anywhere is as good as one
 * where the manifest says: this is how a download finds fragments that `repair` put on new farmers,
 * and how `rm` finds every copy.
 */
export async function discoverHolders (ports: Ports, ids: readonly string[], options: { signal?: AbortSignal } = {}): Promise<Map<string, string[]>> {
  const found = new Map<string, string[]>()
  if (ids.length === 0) return found
  const farmers = await ports.directory.list(options).catch(() => [])
  await Promise.all(farmers.map(async f => {
    const answer = await ports.transport.has(f, [...ids], options).catch(() => [])
    ids.forEach((id, i) => { if (answer[i] === true) found.set(id, [...(found.get(id) ?? []), f.peerId]) })
  }))
  return found
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
}

/**
 * Puts back what a file lost: for every segment with at least k of its k + m fragments somewhere
 * on the grid, the missing ones are rebuilt (Reed-Solomon, from k that hash to their ids) and
 * stored on eligible farmers that hold no other fragment of that segment; the manifest gets back
 * to m + 1 copies. Fragment and manifest ids do not change, so every link to the file keeps
 * working: downloads look a fragment up in the directory when its listed holders fail.
 * New copies carry `owner`'s key, so `rm` can remove them.
 */
export async function repairFile (ports: Ports & { coder: ErasureCoder }, cap: Capability, owner: OwnerKey,
  options: { signal?: AbortSignal, onProgress?: (done: number, segments: number, fileSize: number) => void } = {}): Promise<RepairResult> {
  const { signal } = options
  const { manifest } = await fetchManifest(ports, cap, options)
  const policy = normalizePolicy(manifest.policy)
  const { k, m } = policy
  const ids = manifest.segments.flatMap(seg => seg.fragments)
  const found = await discoverHolders(ports, [...ids, cap.manifestId], options)
  throwIfAborted(signal)
  const farmers = await ports.directory.list(options)
  const byId = new Map(farmers.map(f => [f.peerId, f]))
  const eligible = (f: Farmer, dataFragment: boolean): boolean =>
    (policy.regions.length === 0 || policy.regions.includes(f.region)) && policy.tiers.includes(f.tier) &&
    (f.kind === 'full' || (policy.kinds === 'mixed' && !dataFragment))
  // New copies spread over the grid: the farmer with the most room that has taken the fewest so far.
  const given = new Map<string, number>()
  const pick = (candidates: Farmer[], bytes: number): Farmer[] => candidates.filter(f => f.free >= bytes)
    .sort((a, b) => (given.get(a.peerId) ?? 0) - (given.get(b.peerId) ?? 0) || b.free - a.free || (a.peerId < b.peerId ? -1 : 1))
  const put = async (f: Farmer, id: string, bytes: Uint8Array): Promise<boolean> => {
    try {
      await ports.transport.put(f, id, bytes, { signal, owner })
      given.set(f.peerId, (given.get(f.peerId) ?? 0) + 1)
      return true
    } catch {
      if (signal?.aborted === true) throw new AbortError()
      return false
    }
  }

  const result: RepairResult = { segments: manifest.segments.length, repaired: 0, fragmentsStored: 0, manifestCopiesStored: 0, lost: [], short: [] }
  for (const [s, seg] of manifest.segments.entries()) {
    throwIfAborted(signal)
    const holders = seg.fragments.map(id => found.get(id) ?? [])
    const present = holders.map(h => h.length > 0)
    const have = present.filter(Boolean).length
    if (have < k) { result.lost.push(s); continue }
    if (have === k + m) { options.onProgress?.(s + 1, manifest.segments.length, manifest.size); continue }
    const len = seg.shardLength
    const shards = new Uint8Array((k + m) * len)
    const got = present.map(() => false)
    let count = 0
    for (let i = 0; i < k + m && count < k; i++) {
      for (const peer of holders[i]!) {
        const bytes = await ports.transport.get(byId.get(peer) ?? { peerId: peer, addrs: [] }, seg.fragments[i]!, { signal }).catch(() => undefined)
        if (bytes !== undefined && bytes.length === len && await sha256Hex(bytes) === seg.fragments[i]) {
          shards.set(bytes, i * len)
          got[i] = true
          count++
          break
        }
      }
    }
    if (count < k) { result.short.push(s); continue } // holders that answered HAS but not GET
    const rebuilt = await ports.coder.reconstruct(k, m, shards, got, { signal })
    const taken = new Set(holders.flat())
    let missing = 0
    for (let i = 0; i < k + m; i++) {
      if (present[i] === true) continue
      const frag = rebuilt.subarray(i * len, (i + 1) * len)
      if (await sha256Hex(frag) !== seg.fragments[i]) { missing++; continue } // never store what is not the fragment
      let stored = false
      for (const f of pick(farmers.filter(f => !taken.has(f.peerId) && eligible(f, i < k)), len)) {
        taken.add(f.peerId) // one fragment of a segment per farmer, even if this PUT fails
        if (await put(f, seg.fragments[i]!, frag)) { stored = true; break }
      }
      if (stored) result.fragmentsStored++; else missing++
    }
    if (missing === 0) result.repaired++; else result.short.push(s)
    options.onProgress?.(s + 1, manifest.segments.length, manifest.size)
  }

  // The manifest back to m + 1 copies, on farmers the policy allows (its rules cover the metadata too).
  const manifestHolders = found.get(cap.manifestId) ?? []
  if (manifestHolders.length < m + 1) {
    let sealed: Uint8Array | undefined
    for (const peer of manifestHolders) {
      const bytes = await ports.transport.get(byId.get(peer) ?? { peerId: peer, addrs: [] }, cap.manifestId, { signal }).catch(() => undefined)
      if (bytes !== undefined && await sha256Hex(bytes) === cap.manifestId) { sealed = bytes; break }
    }
    if (sealed !== undefined) {
      let copies = manifestHolders.length
      for (const f of pick(farmers.filter(f => !manifestHolders.includes(f.peerId) && eligible(f, true)), sealed.length)) {
        if (copies >= m + 1) break
        if (await put(f, cap.manifestId, sealed)) { copies++; result.manifestCopiesStored++ }
      }
    }
  }
  return result
}

/**
 * Sends a signed delete for every fragment of the file and every copy of its manifest. Returns how
 * many were removed and how many could not be (a farmer down): running it again later finishes.
 */
export async function deleteFile (ports: Ports, cap: Capability, owner: OwnerKey, options: { signal?: AbortSignal } = {}): Promise<{ deleted: number, failed: number }> {
  const { manifest, resolve } = await fetchManifest(ports, cap, options)
  const jobs = manifest.segments.flatMap(seg => seg.fragments.flatMap((id, i) => (seg.holders[i] ?? []).map(h => ({ id, h }))))
  jobs.push(...cap.holders.map(h => ({ id: cap.manifestId, h })))
  // Copies elsewhere too (put there by `repair`): every one the directory's farmers say they hold.
  const listed = new Set(jobs.map(j => `${j.id}@${j.h}`))
  const found = await discoverHolders(ports, [...manifest.segments.flatMap(seg => seg.fragments), cap.manifestId], options)
  for (const [id, peers] of found) for (const h of peers) if (!listed.has(`${id}@${h}`)) jobs.push({ id, h })
  let deleted = 0
  let failed = 0
  for (const { id, h } of jobs) {
    try { await ports.transport.delete(resolve(h), id, owner, options); deleted++ } catch { failed++ }
  }
  return { deleted, failed }
}
