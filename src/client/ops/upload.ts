/**
 * The one upload engine, for the CLI and the app alike. An upload is a job (`UploadJobRecord`)
 * saved through a `JobStore`: sealing → queued → sending → published, or failed / cancelled.
 * - `run` is the streaming put: each segment is sent as soon as it is sealed.
 * - `seal` is the offline outbox: every segment is sealed and its fragments kept in the store.
 * - `send` sends a sealed job's kept fragments once the grid is back.
 * All three walk the same segment loop and record each segment as it lands, so an interrupted
 * job goes on where it stopped: after a crash, a reload or a lost connection.
 */
import type { Capability } from '../../core/capability.ts'
import { throwIfAborted, type AbortOptions } from '../../core/errors.ts'
import { generateFileId, generateFileKey, importFileKey } from '../../core/envelope.ts'
import { fromHex, toHex } from '../../core/hash.ts'
import type { Manifest } from '../../core/manifest.ts'
import { fromBase64, ownerKeyFromSeed, toBase64 } from '../../core/owner-key.ts'
import { place, type Placement } from '../../core/placement.ts'
import { normalizePolicy, type StoragePolicy } from '../../core/policy.ts'
import { DEFAULT_SHARD_SIZE, segmentLayout, segmentRange, type SegmentLayout } from '../../core/segments.ts'
import { Disperser } from '../blocks/disperse.ts'
import { merkleRoot } from '../../core/merkle.ts'
import { recheckStored } from '../blocks/fragment-health.ts'
import { publishManifest } from '../blocks/publish.ts'
import { removeStrayManifests } from '../blocks/stray-manifests.ts'
import { SegmentSealer } from '../blocks/seal.ts'
import { segmentsInFlight, walkSegments, type SegmentPass } from '../blocks/segment-walk.ts'
import type { JobState, JobStore, SegmentRecord, UploadJobRecord } from '../job-store.ts'
import type { ByteSource, ClientPorts, Farmer, GridPorts } from '../ports.ts'

/** What a new job is made of; a job already in the store under `id` resumes instead when it matches. */
export interface UploadJobInit {
  /** Key-safe id. @default random */
  id?: string
  /** Identifies the source: a stored job resumes only for the same one. @default '' */
  sourceKey?: string
  size: number
  name?: string
  /** @default 'application/octet-stream' */
  mime?: string
  /** Preset name or policy. @default 'live' */
  policy?: string | StoragePolicy
  /** @default DEFAULT_SHARD_SIZE (1 MiB) */
  shardSize?: number
}

export interface UploadRunOptions extends AbortOptions {
  /**
   * Segments in flight at once. One of them at a time is being prepared (about (2k + m) × shard
   * size); the others hold only their k + m fragments. Never more than `IN_FLIGHT_BYTES` of
   * fragments hold (one segment at least): an `archive` segment is 64 MiB of them. @default 2
   */
  concurrency?: number
}

/** Progress of a job, carried by its `progress` events (`CustomEvent<UploadProgress>`). */
export interface UploadProgress {
  state: JobState
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
  /** `shardfarm:r2:…` text of the read capability. */
  link: string
  /** `shardfarm:v2:…`: audits and repairs the file without reading it. */
  verifyLink: string
  manifest: Manifest
  /** The owner key that may delete the fragments; keep it with the uploader, never in a link. */
  ownerSeed: Uint8Array
  /** Fragment bytes sent (lower on a resumed upload). */
  sentBytes: number
  /**
   * Segments recorded as sent whose fragments were no longer all on their holders (a farmer left
   * or lost them while the job waited), and so were sent again.
   */
  restoredSegments: number
  /**
   * Copies of manifests an interrupted publish of this upload left, that could not be removed now
   * (their farmer did not answer): the owner keeps them with the file, so that `rm` reaches them.
   */
  strayCopies: Array<{ id: string, peer: string }>
}

export class UploadJob extends EventTarget {
  readonly store: JobStore
  record: UploadJobRecord
  readonly #layout: SegmentLayout
  readonly #progress: UploadProgress
  /** Set once the job is removed from its store: a save still on its way must not bring it back. */
  #dropped = false

  private constructor (store: JobStore, record: UploadJobRecord) {
    super()
    this.store = store
    this.record = record
    this.#layout = segmentLayout(record.size, record.policy.k, record.shardSize)
    this.#progress = { state: record.state, total: record.size, read: 0, encoded: 0, stored: 0, sent: 0, segment: 0, segments: this.#layout.count }
  }

  /**
   * The job under `init.id` when the store has one for the same source, policy and shard size that
   * is not published yet; else a new job (replacing any other under that id) with fresh keys.
   */
  static async open (store: JobStore, init: UploadJobInit): Promise<UploadJob> {
    const policy = normalizePolicy(init.policy ?? 'live')
    const shardSize = init.shardSize ?? DEFAULT_SHARD_SIZE
    const sourceKey = init.sourceKey ?? ''
    const saved = init.id === undefined ? undefined : await store.getJob(init.id)
    // Resume only the same upload: the same file asked for under another policy (say, after the
    // grid refused the first one) starts over instead of inheriting the old policy.
    if (saved !== undefined && saved.state !== 'published' && saved.sourceKey === sourceKey && saved.size === init.size &&
      saved.shardSize === shardSize && JSON.stringify(normalizePolicy(saved.policy)) === JSON.stringify(policy)) return new UploadJob(store, saved)
    if (saved !== undefined) await store.deleteJob(saved.id)
    const record: UploadJobRecord = {
      version: 2, id: init.id ?? toHex(crypto.getRandomValues(new Uint8Array(8))), sourceKey, name: init.name ?? '',
      mime: init.mime ?? 'application/octet-stream', size: init.size, policy, shardSize, createdAt: Date.now(),
      fileIdHex: toHex(generateFileId()), keyB64: toBase64(generateFileKey()), ownerSeedB64: toBase64(crypto.getRandomValues(new Uint8Array(32))),
      state: 'sealing', keeps: false
    }
    await store.putJob(record)
    return new UploadJob(store, record)
  }

  /** A job already in the store (an outbox entry), or undefined. */
  static async load (store: JobStore, id: string): Promise<UploadJob | undefined> {
    const record = await store.getJob(id)
    return record === undefined ? undefined : new UploadJob(store, record)
  }

  get id (): string { return this.record.id }
  get state (): JobState { return this.record.state }

  /** The streaming put: seals each segment and sends it at once, then publishes the manifest. */
  async run (ports: ClientPorts, source: ByteSource, options: UploadRunOptions = {}): Promise<UploadResult> {
    return await this.#guard(options, async () => {
      const sealer = await this.#sealer(ports, source, options)
      const { disperser, farmers, placement, restore, recorded } = await this.#dispersal(ports, options)
      await this.#setState('sending')
      const sent = await this.#walk(this.#sendingPass(disperser, restore, {
        async fragmentsOf (s) {
          const p = await sealer.prepare(s)
          return { frags: p.frags, record: recordOf(p), release: () => { sealer.give(p.shards) } }
        }
      }, options), recorded, () => { sealer.clear() })
      return await this.#publish(ports, disperser, sent, farmers, placement, restore.size)
    })
  }

  /** The offline half: seals every segment into the store, fragments and all; the job is then queued. */
  async seal (ports: Pick<ClientPorts, 'coder' | 'cipher'>, source: ByteSource, options: AbortOptions = {}): Promise<void> {
    await this.#guard(options, async () => {
      if (!this.record.keeps) await this.#save({ ...this.record, keeps: true })
      const sealer = await this.#sealer(ports, source, options)
      await this.#walk({
        concurrency: 1,
        done: () => true,
        fragmentsOf: async s => {
          const p = await sealer.prepare(s)
          return { frags: p.frags, record: recordOf(p), release: () => { sealer.give(p.shards) } }
        },
        deliver: async (s, frags, record) => {
          for (const [i, f] of frags.entries()) await this.store.putFragment(this.id, s, i, f)
          this.#advance('stored', segmentRange(this.#layout, s).length, s)
          return record
        }
      }, await this.store.segments(this.id), () => { sealer.clear() })
      await this.#setState('queued')
    })
  }

  /** The online half of an outbox job: sends its kept fragments, then publishes the manifest. */
  async send (ports: GridPorts, options: AbortOptions = {}): Promise<UploadResult> {
    if (!this.record.keeps || this.record.state === 'sealing') throw new TypeError(`Job ${this.id} has no sealed fragments to send`)
    return await this.#guard(options, async () => {
      const { disperser, farmers, placement, restore, recorded } = await this.#dispersal(ports, options)
      await this.#setState('sending')
      const sent = await this.#walk(this.#sendingPass(disperser, restore, {
        fragmentsOf: async (s, recorded) => {
          const frags: Uint8Array[] = []
          for (let i = 0; i < recorded!.fragments.length; i++) {
            const f = await this.store.getFragment(this.id, s, i)
            if (f === undefined) throw new Error(`The outbox lost fragment ${i} of segment ${s}`)
            frags.push(f)
          }
          // Sealed by a version before Merkle roots: they are computed from the kept fragments.
          return { frags, record: recorded!.roots === undefined ? { ...recorded!, roots: frags.map(f => merkleRoot(f)) } : recorded! }
        }
      }, { concurrency: 1 }), recorded)
      const result = await this.#publish(ports, disperser, sent, farmers, placement, restore.size)
      await this.store.deleteFragments(this.id)
      return result
    })
  }

  /** Removes the job from its store (once its result is kept elsewhere, or it is given up). */
  async forget (): Promise<void> {
    this.#dropped = true
    await this.store.deleteJob(this.id)
  }

  /** Runs a phase; a failure leaves the job failed and an abort cancelled, but a sealed outbox job queued. */
  async #guard<T> (options: AbortOptions, phase: () => Promise<T>): Promise<T> {
    throwIfAborted(options.signal)
    try {
      return await phase()
    } catch (err) {
      if (!this.#dropped) {
        const aborted = options.signal?.aborted === true
        const e = err as { name?: string, code?: string, message?: string }
        // A sealed outbox job waits for the next drain whatever stopped this one.
        const state: JobState = this.record.keeps && this.record.state !== 'sealing' ? 'queued' : aborted ? 'cancelled' : 'failed'
        await this.#save({ ...this.record, state, lastError: { name: e.name ?? 'Error', message: e.message ?? String(err), ...(e.code !== undefined ? { code: e.code } : {}) } }).catch(() => {})
        this.#emit()
      }
      throw err
    }
  }

  async #sealer (ports: Pick<ClientPorts, 'coder' | 'cipher'>, source: ByteSource, options: AbortOptions): Promise<SegmentSealer> {
    return new SegmentSealer({
      key: await importFileKey(fromBase64(this.record.keyB64)), fileId: fromHex(this.record.fileIdHex), layout: this.#layout,
      policy: this.record.policy, coder: ports.coder, source, onStep: (step, bytes, s) => { this.#advance(step, bytes, s) },
      ...(ports.cipher !== undefined ? { cipher: ports.cipher } : {}), ...(options.signal !== undefined ? { signal: options.signal } : {})
    })
  }

  /**
   * Farmers, placement and a disperser for this job; and, for segments recorded as sent, which lost
   * fragments since (with the holders that still have the others): `recheckStored`.
   */
  async #dispersal (ports: GridPorts, options: AbortOptions): Promise<{ disperser: Disperser, farmers: Farmer[], placement: Placement, restore: Map<number, string[][]>, recorded: Array<SegmentRecord | undefined> }> {
    const { signal } = options
    const { policy, shardSize } = this.record
    const farmers = await ports.directory.list({ signal })
    // This client's audit scores weigh the draw: a farmer that failed its audits gets nothing new.
    const choice = ports.scores !== undefined ? { weight: (p: string) => ports.scores!.weight(p) } : {}
    const placement = place(policy, farmers, { fragmentSize: shardSize, segments: this.#layout.count, ...choice })
    const byId = new Map(farmers.map(f => [f.peerId, f]))
    const recorded = await this.store.segments(this.id)
    const sent = recorded.map(r => r?.holders === undefined ? undefined : { ...r, holders: r.holders })
    const restore = sent.some(r => r !== undefined) ? await recheckStored(ports, sent, policy, byId, signal) : new Map<number, string[][]>()
    const owner = await ownerKeyFromSeed(fromBase64(this.record.ownerSeedB64))
    const disperser = new Disperser({
      transport: ports.transport, placement, byId, owner, choice, onSent: n => { this.#progress.sent += n },
      ...(signal !== undefined ? { signal } : {})
    })
    return { disperser, farmers, placement, restore, recorded }
  }

  /** A pass that sends each segment not yet on farmers (or that lost fragments since) and records its holders. */
  #sendingPass (disperser: Disperser, restore: Map<number, string[][]>, from: Pick<SegmentPass, 'fragmentsOf'>, options: UploadRunOptions): SegmentPass {
    return {
      concurrency: segmentsInFlight(options.concurrency ?? 2, (this.record.policy.k + this.record.policy.m) * this.record.shardSize),
      fragmentsOf: from.fragmentsOf,
      // A segment recorded without Merkle roots (before version 2 manifests) is sealed again for them.
      done: (s, recorded) => recorded.holders !== undefined && recorded.roots !== undefined && !restore.has(s),
      deliver: async (s, frags, record) => {
        const holders = await disperser.storeSegment(s, frags, record.fragments, restore.get(s))
        this.#advance('stored', segmentRange(this.#layout, s).length, s)
        return { ...record, holders }
      }
    }
  }

  /** The segment loop (`walkSegments`) over this job's records, as read at the start; a changed source drops the job. */
  async #walk (pass: SegmentPass, recorded: ReadonlyArray<SegmentRecord | undefined>, cleanup: () => void = () => {}): Promise<SegmentRecord[]> {
    try {
      return await walkSegments(this.#layout.count, recorded, pass, {
        skipped: s => { this.#advance('skip', segmentRange(this.#layout, s).length, s) },
        changed: async () => { await this.forget() },
        record: async (s, record) => { if (!this.#dropped) await this.store.putSegment(this.id, s, record) }
      })
    } finally {
      cleanup()
    }
  }

  async #publish (ports: GridPorts, disperser: Disperser, segments: SegmentRecord[], farmers: Farmer[], placement: Placement, restored: number): Promise<UploadResult> {
    const r = this.record
    const { capability, link, verifyLink, manifest } = await publishManifest(disperser, {
      fileId: r.fileIdHex, name: r.name, mime: r.mime, size: r.size, createdAt: r.createdAt, policy: r.policy, shardSize: r.shardSize
    }, segments.map(({ digest: _, ...entry }) => ({ ...entry, holders: entry.holders! })), segments.map(s => s.digest), fromBase64(r.keyB64), farmers, placement,
    async id => { await this.#save({ ...this.record, unpublished: [...this.record.unpublished ?? [], id] }) })
    const strays = await removeStrayManifests(ports, (this.record.unpublished ?? []).filter(id => id !== capability.manifestId), disperser.owner)
    const { lastError: _, unpublished: __, ...rest } = this.record
    await this.#save({ ...rest, state: 'published', link })
    this.#emit()
    return { capability, link, verifyLink, manifest, ownerSeed: fromBase64(r.ownerSeedB64), sentBytes: this.#progress.sent, restoredSegments: restored, strayCopies: strays }
  }

  async #setState (state: JobState): Promise<void> {
    await this.#save({ ...this.record, state })
    this.#emit()
  }

  async #save (record: UploadJobRecord): Promise<void> {
    this.record = record
    if (!this.#dropped) await this.store.putJob(record)
  }

  #advance (what: 'read' | 'encoded' | 'stored' | 'skip', bytes: number, segment: number): void {
    const p = this.#progress
    if (what === 'skip') { p.read += bytes; p.encoded += bytes; p.stored += bytes } else p[what] += bytes
    p.segment = segment
    this.#emit()
  }

  #emit (): void {
    this.#progress.state = this.record.state
    this.dispatchEvent(new CustomEvent<UploadProgress>('progress', { detail: { ...this.#progress } }))
  }
}

function recordOf (p: { ids: string[], roots: string[], digest: string, ciphertextLength: number, shardLength: number }): SegmentRecord {
  return { digest: p.digest, ciphertextLength: p.ciphertextLength, shardLength: p.shardLength, fragments: p.ids, roots: p.roots }
}
