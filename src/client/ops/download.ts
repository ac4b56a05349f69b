import { releaseBytes } from '../../core/release.ts'
import { type Capability } from '../../core/capability.ts'
import { ContentHasher } from '../../core/content-hash.ts'
import { AbortError, throwIfAborted } from '../../core/errors.ts'
import { decryptSegment, importFileKey, TAG_BYTES } from '../../core/envelope.ts'
import { sha256Hex } from '../../core/hash.ts'
import type { Manifest } from '../../core/manifest.ts'
import { segmentsForRange } from '../../core/segments.ts'
import { ContentMismatchError, describe, SegmentUnavailableError, TRANSIENT_CODES } from '../errors.ts'
import { discoverHolders } from '../blocks/holder-lookup.ts'
import { fetchManifest, type OpenedManifest } from '../blocks/open-manifest.ts'
import { SegmentBuffers } from '../blocks/segment-buffers.ts'
import type { ClientPorts, FarmerRef } from '../ports.ts'

export interface DownloadOptions {
  /** Plaintext byte range [start, end) to fetch; only the segments it touches are downloaded. @default the whole file */
  range?: { start: number, end: number }
  /** Segments fetched ahead of the one being written. @default 3 */
  concurrency?: number
  /**
   * Fragments requested beyond the k needed once a segment is late (see `hedgeAfterMs`), so one
   * slow farmer does not hold it up. @default 1
   */
  hedge?: number
  /**
   * How long a segment's k requests may run before the `hedge` extra ones go out. @default twice
   * the median time of this download's recent fragment fetches (within 50 ms–5 s; 1 s before any)
   */
  hedgeAfterMs?: number
  /** The manifest, when the caller already fetched it (to show the name first): not fetched again. */
  opened?: OpenedManifest
  /**
   * The sink is done with each chunk when its promise resolves (it wrote or copied it), so the
   * chunk's memory is freed then instead of at the next full GC. @default false
   */
  releaseChunks?: boolean
  signal?: AbortSignal
}

export interface DownloadProgress {
  total: number
  written: number
  segment: number
  segments: number
  /** Fragments that failed, were corrupt, or were not needed and cancelled. */
  fragmentErrors: number
}

/** Bounds of the adaptive hedge delay, and the delay before any fetch has been timed. */
const HEDGE_MIN_MS = 50
const HEDGE_MAX_MS = 5_000
const HEDGE_FIRST_MS = 1_000
/** Recent fragment fetch times kept for the median. */
const FETCH_SAMPLES = 64

/**
 * Streams a file (or a range of it) in order. Per segment it asks for k fragments, data fragments
 * first (with all k data fragments nothing needs decoding), takes the first k that hash to their
 * ids, and asks for another whenever one fails. A segment still incomplete after twice the usual
 * fragment time asks `hedge` more holders (a hedged request): a slow farmer costs one fetch, and a
 * healthy grid carries no extra traffic (asking k + 1 up front spent 10 % more of every farmer's
 * CPU, which on a busy grid slowed downloads by more than it saved). Emits `progress` events.
 */
export class Download extends EventTarget {
  readonly #ports: ClientPorts
  readonly #cap: Capability
  readonly #opts: DownloadOptions
  /** Durations (ms) of recent successful fragment fetches. */
  readonly #fetchTimes: number[] = []
  /**
   * Ciphertext buffers come back here once decrypted, and plaintext buffers once the sink is done
   * with them (`releaseChunks`), for the next segments: fresh 10 MiB buffers cost their zero-fill and
   * first-touch page faults every time (see docs/performance.md, Download). One of each is kept; more are freed.
   */
  readonly #cts = new SegmentBuffers(1)
  readonly #plains = new SegmentBuffers(1)
  manifest?: Manifest

  constructor (ports: ClientPorts, cap: Capability, options: DownloadOptions = {}) {
    super()
    this.#ports = ports
    this.#cap = cap
    this.#opts = options
  }

  /** Writes the plaintext to `sink` chunk by chunk, in order. Resolves with the manifest. */
  async run (sink: (chunk: Uint8Array) => Promise<void> | void): Promise<Manifest> {
    const { signal } = this.#opts
    const { manifest, resolve } = this.#opts.opened ?? await fetchManifest(this.#ports, this.#cap, { signal })
    this.manifest = manifest
    const key = await importFileKey(this.#cap.key!)
    const k = manifest.policy.k
    const segPlain = k * manifest.shardSize - 16
    const layout = { size: manifest.size, k, shardSize: manifest.shardSize, segmentPlaintext: segPlain, count: manifest.segments.length }
    const whole = this.#opts.range === undefined
    const start = this.#opts.range?.start ?? 0
    const end = this.#opts.range?.end ?? manifest.size
    // A whole download walks every segment, even the one empty segment of an empty file, so the
    // content hash covers exactly what the uploader hashed.
    const { first, last } = whole ? { first: 0, last: manifest.segments.length - 1 } : segmentsForRange(layout, start, end)
    const progress: DownloadProgress = { total: end - start, written: 0, segment: first, segments: manifest.segments.length, fragmentErrors: 0 }
    const hasher = new ContentHasher()
    const recycle = this.#opts.releaseChunks === true
    const fetchSeg = async (s: number): Promise<Uint8Array> => {
      const { ct, reusable } = await this.#fetchSegment(manifest, s, resolve, progress)
      const into = recycle ? this.#plains.take(ct.length - TAG_BYTES) : undefined
      try {
        const plain = await decryptSegment(key, this.#cap.fileId, s, manifest.segments.length, ct, this.#ports.cipher, into)
        if (into !== undefined && plain !== into) this.#plains.give(into) // an engine that cannot write into it (WebCrypto)
        return plain
      } finally {
        // Ours alone (see #fetchSegment), and decrypted: not read again.
        if (reusable) this.#cts.give(ct); else releaseBytes(ct)
      }
    }
    // A sliding window: segment s + concurrency is requested once s is written.
    const window = Math.max(1, this.#opts.concurrency ?? 3)
    const pending = new Map<number, Promise<Uint8Array>>()
    const launch = (s: number): void => {
      if (s <= last && !pending.has(s)) {
        const p = fetchSeg(s)
        p.catch(() => {}) // observed when awaited below
        pending.set(s, p)
      }
    }
    for (let s = first; s < first + window; s++) launch(s)
    for (let s = first; s <= last; s++) {
      throwIfAborted(signal)
      launch(s)
      const plain = await pending.get(s)!
      pending.delete(s)
      if (whole) await hasher.add(plain)
      const from = s === first ? start - s * segPlain : 0
      const to = s === last ? end - s * segPlain : plain.length
      const out = plain.subarray(from, to)
      if (out.length > 0) await sink(out)
      if (recycle) this.#plains.give(plain) // the sink is done with it
      // Only now the next one: at most `window` segments are in memory, this one included.
      launch(s + window)
      progress.written += out.length
      progress.segment = s
      this.dispatchEvent(new CustomEvent<DownloadProgress>('progress', { detail: { ...progress } }))
    }
    this.#cts.clear()
    this.#plains.clear()
    if (whole && await hasher.digest() !== manifest.contentHash) throw new ContentMismatchError()
    return manifest
  }

  /**
   * Segment `s`'s ciphertext. `reusable` when it is a buffer from `#cts` that no request can still
   * write into (every data fragment landed in its slot), so it may be handed back once decrypted.
   */
  async #fetchSegment (manifest: Manifest, s: number, resolve: (id: string) => FarmerRef, progress: DownloadProgress): Promise<{ ct: Uint8Array, reusable: boolean }> {
    const { k, m } = manifest.policy
    const seg = manifest.segments[s]!
    const len = seg.shardLength
    const ctl = new AbortController()
    const signal = this.#opts.signal === undefined ? ctl.signal : AbortSignal.any([ctl.signal, this.#opts.signal])
    // Data fragments are read straight into their place in the ciphertext (when the transport can):
    // with all k of them, that buffer is the segment, with no copy and no second set of buffers.
    const data = this.#cts.take(k * len)
    const slot = (i: number): Uint8Array | undefined => i < k ? data.subarray(i * len, (i + 1) * len) : undefined
    const got = new Map<number, Uint8Array>()
    const tried: Array<{ peerId: string, error: string }> = []
    const queue = Array.from({ length: k + m }, (_, i) => i) // data fragments first
    let inFlight = 0
    let extra = 0 // hedged requests allowed: none until the segment is late
    let hedgeTimer: ReturnType<typeof setTimeout> | undefined
    // Where the manifest's holders could not give k fragments, the directory's farmers are asked
    // (once per segment, for its missing ids only) who has a copy: `repair` puts them elsewhere.
    const elsewhere = new Map<number, string[]>()
    let lookedUp = false
    await new Promise<void>((resolveAll, reject) => {
      const pump = (): void => {
        if (got.size >= k) { ctl.abort(); resolveAll(); return }
        while (inFlight < k - got.size + extra && queue.length > 0) {
          const i = queue.shift()!
          inFlight++
          const t0 = performance.now()
          void this.#fetchFragment(seg.fragments[i]!, elsewhere.get(i) ?? seg.holders[i] ?? [], resolve, signal, tried, slot(i)).then(bytes => {
            inFlight--
            if (bytes !== undefined) {
              got.set(i, bytes)
              this.#timed(performance.now() - t0)
            } else progress.fragmentErrors++
            pump()
          })
        }
        if (inFlight === 0 && got.size < k) {
          if (this.#opts.signal?.aborted === true) { reject(new AbortError()); return }
          if (lookedUp) { reject(new SegmentUnavailableError(s, k, got.size, tried)); return }
          lookedUp = true
          const missing = seg.fragments.map((id, i) => ({ id, i })).filter(f => !got.has(f.i))
          inFlight++ // the lookup holds the segment open
          void discoverHolders(this.#ports, missing.map(f => f.id), { signal }).catch(() => ({ found: new Map<string, string[]>() })).then(({ found }) => {
            inFlight--
            // A holder that only failed for a moment (a dial that timed out) and now says it has the
            // copy is asked once more; one that answered wrong bytes or nothing useful is not.
            const refused = new Set(tried.filter(t => !TRANSIENT_CODES.has(t.error)).map(t => t.peerId))
            for (const { id, i } of missing) {
              const more = (found.get(id) ?? []).filter(p => !refused.has(p))
              if (more.length > 0) { elsewhere.set(i, more); queue.push(i) }
            }
            extra = k + m // everything found may go at once: the segment is late already
            pump()
          })
        }
      }
      const hedge = this.#opts.hedge ?? 1
      if (hedge > 0) hedgeTimer = setTimeout(() => { extra = hedge; pump() }, this.#hedgeDelay())
      pump()
    }).finally(() => { clearTimeout(hedgeTimer) })
    const dataComplete = Array.from({ length: k }, (_, i) => got.has(i)).every(Boolean)
    if (dataComplete) {
      for (let i = 0; i < k; i++) {
        const b = got.get(i)!
        if (b.buffer !== data.buffer) data.set(b, i * len) // a transport that did not use the slot
      }
      return { ct: data.subarray(0, seg.ciphertextLength), reusable: true }
    }
    const shards = new Uint8Array((k + m) * len)
    for (const [i, b] of got) {
      shards.set(b, i * len)
      if (b.buffer !== data.buffer) releaseBytes(b)
    }
    releaseBytes(data) // a data fragment still in flight may write into it: never reused
    const present = Array.from({ length: k + m }, (_, i) => got.has(i))
    const rebuilt = await this.#ports.coder.reconstruct(k, m, shards, present, { signal: this.#opts.signal, dataOnly: true })
    return { ct: rebuilt.subarray(0, seg.ciphertextLength), reusable: false }
  }

  #timed (ms: number): void {
    this.#fetchTimes.push(ms)
    if (this.#fetchTimes.length > FETCH_SAMPLES) this.#fetchTimes.shift()
  }

  #hedgeDelay (): number {
    if (this.#opts.hedgeAfterMs !== undefined) return this.#opts.hedgeAfterMs
    if (this.#fetchTimes.length === 0) return HEDGE_FIRST_MS
    const sorted = [...this.#fetchTimes].sort((a, b) => a - b)
    return Math.min(HEDGE_MAX_MS, Math.max(HEDGE_MIN_MS, 2 * sorted[sorted.length >> 1]!))
  }

  /** One fragment from any of its holders; undefined when none gives bytes that hash to `id`. */
  async #fetchFragment (id: string, holders: string[], resolve: (id: string) => FarmerRef, signal: AbortSignal,
    tried: Array<{ peerId: string, error: string }>, into?: Uint8Array): Promise<Uint8Array | undefined> {
    for (const peerId of holders) {
      if (signal.aborted) return undefined
      try {
        const bytes = await this.#ports.transport.get(resolve(peerId), id, { signal, ...(into !== undefined ? { into } : {}) })
        // A fragment that does not hash to its id is an erasure, never data. (A verifying transport
        // has already refused such bytes by throwing.)
        if (this.#ports.transport.verifiesHashes === true || await sha256Hex(bytes) === id) return bytes
        tried.push({ peerId, error: 'HASH_MISMATCH' })
      } catch (err) {
        if (!signal.aborted) tried.push({ peerId, error: describe(err) })
      }
    }
    return undefined
  }
}
