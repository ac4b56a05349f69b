import { formatCapability, type Capability } from '../core/capability.ts'
import { ContentHasher } from '../core/content-hash.ts'
import { AbortError, throwIfAborted } from '../core/errors.ts'
import { generateFileId, generateFileKey, importFileKey, type SegmentCipher } from '../core/envelope.ts'
import { fromHex, sha256Hex, toHex } from '../core/hash.ts'
import { sealManifest, type Manifest, type SegmentEntry } from '../core/manifest.ts'
import { fromBase64, ownerKeyFromSeed, toBase64, type OwnerKey } from '../core/owner-key.ts'
import { place, type Placement } from '../core/placement.ts'
import { releaseBytes } from '../core/release.ts'
import { normalizePolicy, type StoragePolicy } from '../core/policy.ts'
import { DEFAULT_SHARD_SIZE, segmentLayout, segmentRange, type SegmentLayout } from '../core/segments.ts'
import { describe, FragmentUndeliverableError, SourceChangedError } from './errors.ts'
import { segmentsHealth } from './file-ops.ts'
import { sealSegment, SegmentBuffers, type SealedSegment } from './seal.ts'
import type { ByteSource, ErasureCoder, Farmer, FarmerDirectory, FragmentTransport, JournalState, UploadJournal } from './ports.ts'

export interface UploadPorts {
  transport: FragmentTransport
  directory: FarmerDirectory
  coder: ErasureCoder
  /** AES-GCM engine for segments. @default webCryptoCipher */
  cipher?: SegmentCipher
}

export interface UploadOptions {
  /** Preset name or policy. @default 'live' */
  policy?: string | StoragePolicy
  name?: string
  /** @default 'application/octet-stream' */
  mime?: string
  /** @default DEFAULT_SHARD_SIZE (1 MiB) */
  shardSize?: number
  /**
   * Segments in flight at once. One of them at a time is being prepared (about (2k + m) × shard
   * size); the others hold only their k + m fragments. @default 2
   */
  concurrency?: number
  /** Where to keep progress so an interrupted upload resumes. @default none */
  journal?: UploadJournal
  /** Identifies the source for the journal (changes when the file does). Required with `journal`. */
  sourceKey?: string
  signal?: AbortSignal
}

export interface UploadProgress {
  total: number
  read: number
  encoded: number
  /** Plaintext bytes whose every fragment is on a farmer. */
  stored: number
  /** Fragment bytes actually sent over the network (skipped ones, on resume, are not counted). */
  sent: number
  segment: number
  segments: number
}

export interface UploadResult {
  capability: Capability
  /** `shardfarm:r1:…` text of the read capability. */
  link: string
  manifest: Manifest
  /** The owner key that may delete the fragments; keep it with the uploader, never in a link. */
  ownerSeed: Uint8Array
  /** Fragment bytes sent (lower on a resumed upload). */
  sentBytes: number
  /**
   * On a resumed upload, finished segments whose fragments were no longer all on their holders
   * (a farmer left or lost them while the upload waited), and so were stored again.
   */
  restoredSegments: number
}

/** A segment ready to store: its k + m fragments, their ids, and what the manifest records of it. */
interface PreparedSegment extends SealedSegment {
  ids: string[]
  /** SHA-256 of the plaintext (for the file's content hash). */
  digest: string
}

/** Retry a fragment on this many other farmers before giving up. */
const MAX_ALTERNATES = 4

/**
 * Disperses `source`: segments are read, encrypted, encoded and PUT while later ones are read, with
 * at most `concurrency` segments in memory. Emits `progress` events (`CustomEvent<UploadProgress>`).
 */
export class Upload extends EventTarget {
  readonly #ports: UploadPorts
  readonly #source: ByteSource
  /** The reused plaintext buffer (see `#readPlain`). */
  #plainBuffer: Uint8Array | undefined
  /**
   * Segment buffers (k + m shards each) come back here once stored, and the next segment is sealed
   * into one. One waits at most: segments are prepared one at a time, and on a 1 GiB CLI put
   * (4 in flight) that already reuses 84 of 103 buffers; keeping 4 reused nearly all but held
   * 30–40 MiB more at peak (see README).
   */
  readonly #buffers: SegmentBuffers
  readonly #opts: UploadOptions
  readonly #progress: UploadProgress
  constructor (ports: UploadPorts, source: ByteSource, options: UploadOptions = {}) {
    super()
    this.#ports = ports
    this.#source = source
    this.#opts = options
    this.#buffers = new SegmentBuffers(1)
    this.#progress = { total: source.size, read: 0, encoded: 0, stored: 0, sent: 0, segment: 0, segments: 0 }
  }

  async run (): Promise<UploadResult> {
    const { signal, journal } = this.#opts
    throwIfAborted(signal)
    const state = await this.#startState()
    const policy = normalizePolicy(state.policy)
    const layout = segmentLayout(this.#source.size, policy.k, state.shardSize)
    this.#progress.segments = layout.count
    const fileId = fromHex(state.fileIdHex)
    const key = await importFileKey(fromBase64(state.keyB64))
    const owner = await ownerKeyFromSeed(fromBase64(state.ownerSeedB64))
    const farmers = await this.#ports.directory.list({ signal })
    const placement = place(policy, farmers, { fragmentSize: state.shardSize, segments: layout.count })
    const byId = new Map(farmers.map(f => [f.peerId, f]))
    const resuming = Object.keys(state.done).length > 0
    // Finished segments that lost fragments since, with the holders that still have the others.
    const restore = resuming ? await this.#recheck(state, policy, byId) : new Map<number, string[][]>()
    const disperser = new Disperser({
      transport: this.#ports.transport, placement, byId, owner, onSent: n => { this.#progress.sent += n },
      ...(signal !== undefined ? { signal } : {})
    })

    // One segment at a time is read, encrypted and encoded; the others in flight are only their
    // fragments. Preparing is when a segment is largest (plaintext, ciphertext and parity at once,
    // about 3.4× its size), and with every worker free to prepare, several finishing their PUTs
    // together all swelled at once: a 4 GiB CLI put at 4 segments peaked at 303–348 MiB, where
    // the bound below is one swollen segment plus fragments. Preparing is CPU work on the main
    // thread and the one codec worker, so running it serially costs no overlap worth having.
    let preparing: Promise<unknown> = Promise.resolve()
    const prepareInTurn = async (s: number): Promise<PreparedSegment> => {
      const turn = preparing.then(async () => await this.#prepare(s, layout, policy, key, fileId))
      preparing = turn.catch(() => {})
      return await turn
    }

    const entries: SegmentEntry[] = new Array(layout.count)
    const digests: string[] = new Array(layout.count)
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < layout.count) {
        const s = next++
        const done = state.done[s]
        const kept = restore.get(s)
        if (done !== undefined && kept === undefined) {
          entries[s] = done.entry
          digests[s] = done.digest
          this.#advance(segmentRange(layout, s).length, 'skip', s)
          continue
        }
        const { shards, frags, ids, digest, ciphertextLength, shardLength } = await prepareInTurn(s)
        if (done !== undefined && digest !== done.digest) {
          // Same key, nonce and associated data over other plaintext must never be stored, and the
          // kept fragments would not fit the new ones: this upload cannot go on.
          await journal?.clear()
          throw new SourceChangedError(s)
        }
        digests[s] = digest
        const holders = await disperser.storeSegment(s, frags, ids, resuming, kept)
        this.#buffers.give(shards) // every fragment is on a farmer: the next segment is sealed into this buffer
        entries[s] = { ciphertextLength, shardLength, fragments: ids, holders }
        state.done[s] = { digest: digests[s], entry: entries[s] }
        await journal?.save(state)
        this.#advance(segmentRange(layout, s).length, 'stored', s)
      }
    }
    try {
      await Promise.all(Array.from({ length: Math.max(1, this.#opts.concurrency ?? 2) }, worker))
    } finally {
      this.#buffers.clear()
    }

    const { capability, link, manifest } = await publishManifest(disperser, {
      fileId: state.fileIdHex, name: this.#opts.name ?? '', mime: this.#opts.mime ?? 'application/octet-stream',
      size: this.#source.size, createdAt: state.createdAt, policy, shardSize: state.shardSize
    }, entries, digests, fromBase64(state.keyB64), farmers, placement)
    await journal?.clear()
    return { capability, link, manifest, ownerSeed: fromBase64(state.ownerSeedB64), sentBytes: this.#progress.sent, restoredSegments: restore.size }
  }

  /**
   * `recheckStored` over the journal's finished segments. Their entries stay in the journal until
   * they are stored again and replaced: an upload interrupted before that still knows, next time,
   * which holders kept which fragments.
   */
  async #recheck (state: JournalState, policy: StoragePolicy, byId: ReadonlyMap<string, Farmer>): Promise<Map<number, string[][]>> {
    const finished: Array<SegmentEntry | undefined> = []
    for (const [s, d] of Object.entries(state.done)) finished[Number(s)] = d.entry
    return await recheckStored(this.#ports.transport, finished, policy, byId, this.#opts.signal)
  }

  /**
   * Reads, hashes, encrypts and encodes segment `s` into a buffer from `#buffers`. Its own function
   * so that a plaintext from `read` is garbage as soon as it returns.
   */
  async #prepare (s: number, layout: SegmentLayout, policy: StoragePolicy, key: CryptoKey, fileId: Uint8Array): Promise<PreparedSegment> {
    const { signal } = this.#opts
    const r = segmentRange(layout, s)
    const plain = r.length === 0 ? new Uint8Array(0) : await this.#readPlain(r.offset, r.length)
    this.#advance(r.length, 'read', s)
    const digest = await sha256Hex(plain)
    const sealed = await sealSegment(plain, {
      key, fileId, index: s, count: layout.count, policy, coder: this.#ports.coder, buffers: this.#buffers,
      ...(this.#ports.cipher !== undefined ? { cipher: this.#ports.cipher } : {}), ...(signal !== undefined ? { signal } : {})
    })
    // Encrypted: not read again. (With `readInto` it is the reused buffer, kept.)
    if (this.#source.fresh === true && this.#source.readInto === undefined) releaseBytes(plain)
    this.#advance(r.length, 'encoded', s)
    const ids = await Promise.all(sealed.frags.map(async f => await sha256Hex(f)))
    return { ...sealed, ids, digest }
  }

  /**
   * A segment's plaintext: read into the upload's one plaintext buffer when the source can do that
   * (`readInto`; safe because segments are prepared one at a time and the plaintext is not used once
   * encrypted), else a buffer from `read`.
   */
  async #readPlain (offset: number, length: number): Promise<Uint8Array> {
    if (this.#source.readInto === undefined) return await this.#source.read(offset, length)
    if (this.#plainBuffer === undefined || this.#plainBuffer.length < length) this.#plainBuffer = new Uint8Array(length)
    const view = this.#plainBuffer.subarray(0, length)
    await this.#source.readInto(offset, view)
    return view
  }

  async #startState (): Promise<JournalState> {
    const { journal, sourceKey } = this.#opts
    const policy = normalizePolicy(this.#opts.policy ?? 'live')
    const shardSize = this.#opts.shardSize ?? DEFAULT_SHARD_SIZE
    const saved = await journal?.load()
    // Resume only the same upload: the same file asked for under another policy (say, after the
    // grid refused the first one) starts over instead of inheriting the old policy.
    if (saved !== undefined && saved.sourceKey === sourceKey && saved.shardSize === shardSize &&
      JSON.stringify(normalizePolicy(saved.policy)) === JSON.stringify(policy)) return saved
    const ownerSeed = crypto.getRandomValues(new Uint8Array(32))
    const state: JournalState = {
      version: 1, sourceKey: sourceKey ?? '', fileIdHex: toHex(generateFileId()), keyB64: toBase64(generateFileKey()),
      ownerSeedB64: toBase64(ownerSeed), policy, shardSize, done: {}, createdAt: Date.now()
    }
    await journal?.save(state)
    return state
  }

  #advance (bytes: number, what: 'read' | 'encoded' | 'stored' | 'skip', segment: number): void {
    const p = this.#progress
    if (what === 'skip') { p.read += bytes; p.encoded += bytes; p.stored += bytes } else p[what] += bytes
    p.segment = segment
    this.dispatchEvent(new CustomEvent<UploadProgress>('progress', { detail: { ...p } }))
  }
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

/** What a manifest says about the file itself, known before any segment is stored. */
export type ManifestFields = Pick<Manifest, 'fileId' | 'name' | 'mime' | 'size' | 'createdAt' | 'policy' | 'shardSize'>

/**
 * Last step of every upload, streaming or from the outbox: builds the manifest from the stored
 * segments and their plaintext digests, seals it under the file key, replicates it on m + 1
 * eligible farmers and returns the read capability.
 */
export async function publishManifest (disperser: Disperser, fields: ManifestFields, segments: SegmentEntry[], digests: string[],
  rawKey: Uint8Array, farmers: Farmer[], placement: Placement): Promise<{ capability: Capability, link: string, manifest: Manifest }> {
  const hasher = new ContentHasher()
  for (const d of digests) hasher.addDigest(d)
  const addrs = new Map(farmers.map(f => [f.peerId, f.addrs]))
  const used = new Set(segments.flatMap(e => e.holders.flat()))
  const manifest: Manifest = {
    version: 1, ...fields, contentHash: await hasher.digest(), segments, owner: disperser.owner.publicKey,
    farmers: Object.fromEntries([...used].map(id => [id, addrs.get(id) ?? []]))
  }
  const fileId = fromHex(fields.fileId)
  const sealed = await sealManifest(await importFileKey(rawKey), fileId, manifest)
  const manifestId = await sha256Hex(sealed)
  const holders = await disperser.storeManifest(sealed, manifestId, eligibleFarmers(farmers, placement), fields.policy.m + 1)
  const capability: Capability = { kind: 'read', fileId, manifestId, key: rawKey, holders }
  return { capability, link: formatCapability(capability), manifest }
}

/**
 * The farmers the policy allows (a segment's choice plus its spares is every eligible farmer). The
 * manifest goes only to them: a region or tier rule covers the file's metadata as well as its data.
 */
export function eligibleFarmers (farmers: Farmer[], placement: Placement): Farmer[] {
  const ok = new Set([...placement.segments[0] ?? [], ...placement.spares[0] ?? []])
  return farmers.filter(f => ok.has(f.peerId))
}

/** What a `Disperser` needs: where fragments go and who owns them. */
export interface DisperserInit {
  transport: FragmentTransport
  placement: Placement
  byId: Map<string, Farmer>
  owner: OwnerKey
  signal?: AbortSignal
  /** Called with the size of every fragment actually sent. */
  onSent?: (bytes: number) => void
}

/**
 * Puts fragments on farmers with failover; shared by the streaming upload and the offline outbox.
 */
export class Disperser {
  readonly #c: DisperserInit
  readonly #failed = new Set<string>()
  /** Fragment bytes sent so far. */
  sent = 0

  constructor (init: DisperserInit) {
    this.#c = init
  }

  /** The owner whose public key every stored fragment carries. */
  get owner (): OwnerKey {
    return this.#c.owner
  }

  /**
   * PUTs the k + m fragments in parallel, each to its placed farmer; a fragment whose farmer fails
   * moves to the next spare not yet used by this segment. Farmers that failed once are skipped for
   * the rest of the upload. On a resumed upload, a farmer already holding a fragment is not sent it.
   * `kept[i]`, when not empty, lists farmers known to hold fragment i already: it is not sent, and
   * those farmers get no other fragment of the segment.
   */
  async storeSegment (s: number, frags: Uint8Array[], ids: string[], resuming: boolean, kept: string[][] = []): Promise<string[][]> {
    const { signal, placement, byId, owner } = this.#c
    const keeping = new Set(kept.flat())
    const placed = placement.segments[s]!
    const sending = (i: number): boolean => (kept[i]?.length ?? 0) === 0
    const inUse = new Set([...placed.filter((_, i) => sending(i)), ...keeping])
    // The farmers placed for kept fragments are free to take a lost one.
    const spares = [...placed.filter((_, i) => !sending(i)), ...placement.spares[s] ?? []].filter(p => !this.#failed.has(p))
    const putOne = async (i: number): Promise<string[]> => {
      if (!sending(i)) return kept[i]!
      const tried: Array<{ peerId: string, error: string }> = []
      let target: string | undefined = placement.segments[s]![i]!
      if (this.#failed.has(target) || keeping.has(target)) target = this.#takeSpare(spares, inUse)
      while (target !== undefined && tried.length <= MAX_ALTERNATES) {
        const farmer = byId.get(target)!
        try {
          throwIfAborted(signal)
          const held = resuming && (await this.#c.transport.has(farmer, [ids[i]!], { signal }))[0] === true
          if (!held) {
            await this.#c.transport.put(farmer, ids[i]!, frags[i]!, { signal, owner })
            this.sent += frags[i]!.length
            this.#c.onSent?.(frags[i]!.length)
          }
          return [target]
        } catch (err) {
          if (signal?.aborted === true) throw new AbortError()
          tried.push({ peerId: target, error: describe(err) })
          this.#failed.add(target)
          target = this.#takeSpare(spares, inUse)
        }
      }
      throw new FragmentUndeliverableError(s, i, tried)
    }
    return await Promise.all(frags.map(async (_, i) => await putOne(i)))
  }

  #takeSpare (spares: string[], inUse: Set<string>): string | undefined {
    while (spares.length > 0) {
      const p = spares.shift()!
      if (!inUse.has(p) && !this.#failed.has(p)) {
        inUse.add(p)
        return p
      }
    }
    return undefined
  }

  /** Replicates the sealed manifest on `copies` farmers (losing any m of them loses nothing). */
  async storeManifest (sealed: Uint8Array, id: string, farmers: Farmer[], copies: number): Promise<string[]> {
    const { signal, owner } = this.#c
    const candidates = farmers.filter(f => !this.#failed.has(f.peerId) && f.free >= sealed.length)
      .sort((a, b) => b.free - a.free || (a.peerId < b.peerId ? -1 : 1))
    const holders: string[] = []
    const tried: Array<{ peerId: string, error: string }> = []
    for (const f of candidates) {
      if (holders.length >= copies) break
      try {
        await this.#c.transport.put(f, id, sealed, { signal, owner })
        holders.push(f.peerId)
      } catch (err) {
        if (signal?.aborted === true) throw new AbortError()
        tried.push({ peerId: f.peerId, error: describe(err) })
      }
    }
    if (holders.length === 0) throw new FragmentUndeliverableError(-1, 0, tried)
    return holders
  }

}
