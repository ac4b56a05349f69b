/**
 * `FarmerService` serves the fragment protocol (`/shardfarm/fragment/2.0.0`) from any
 * `FragmentStore`. Node full farmers and (later) browser light farmers both run it: it touches only
 * the libp2p stream API, the store port and WebCrypto.
 *
 * Every stream gets exactly one answer frame. Whatever goes wrong (a malformed frame, a limit, a
 * timeout, a store error) becomes a typed code in that frame rather than a dropped connection; the
 * stream is reset only when the peer keeps sending after the refusal, when it misses its deadline or
 * moves too slowly (`TIMEOUT`, `details.reason` `deadline` or `too-slow`, then a reset), when a GET
 * body fails after its header went out, or when the farmer is stopping.
 *
 * No peer can take the whole farmer: PUT and GET have per-connection, per-peer and farmer-wide
 * budgets (`operations.ts`), every stream has an absolute deadline and a minimum rate
 * (`stream-guard.ts`), and a GET streams its fragment from the store as the reader takes it. No
 * owner key or uploading peer can fill it for free either: claims count against per-owner and
 * per-peer limits and end with their lease unless renewed; a collector, run at start and then
 * every `collectIntervalMs`, removes expired claims and the fragments left with none (`leases.ts`).
 */
import type { Connection, Libp2p, Stream } from '@libp2p/interface'
import type { FragmentStore } from '../core/fragment-store.ts'
import {
  GET_CHUNK_BYTES, MAX_CLOCK_SKEW_MS, MAX_FRAGMENT_BYTES, MAX_GETS_IN_FLIGHT, MAX_GETS_PER_CONNECTION,
  MAX_GETS_PER_PEER, MAX_HAS_IDS, MAX_HEADER_BYTES, MAX_INBOUND_STREAMS, MAX_PUT_BYTES_IN_FLIGHT,
  MAX_PUT_BYTES_PER_CONNECTION, MAX_PUT_BYTES_PER_PEER, MAX_REMEMBERED_NONCES, MIN_TRANSFER_BYTES_PER_SECOND,
  PUT_CHARGE_BYTES, RATE_WINDOW_MS, REFUSAL_DRAIN_MS, STREAM_DEADLINE_MS, STREAM_IDLE_TIMEOUT_MS,
  STREAM_MIN_DEADLINE_MS, COLLECT_INTERVAL_MS, LEASE_MS, MAX_SHARE_PER_OWNER
} from '../net/protocols/fragment-constants.ts'
import type { Op } from '../net/protocols/fragment-constants.ts'
import { FarmerError, toWireCode } from '../net/protocols/fragment-errors.ts'
import { registerFragmentProtocol, unregisterFragmentProtocol } from '../net/protocols/fragment.ts'
import { encodeFrame, parseHeaderObject, parseRequest } from '../net/protocols/frames.ts'
import type { FrameLimits } from '../net/protocols/frames.ts'
import { FrameReader, idleTimer, sendAll, streamSource } from '../net/protocols/stream-io.ts'
import { bytesByClaimState, ClaimUsage, collectExpired } from './leases.ts'
import type { CollectResult } from './leases.ts'
import { FarmerMetrics } from './metrics.ts'
import { FarmerOperations } from './operations.ts'
import type { Reply } from './operations.ts'
import { StreamGuard } from './stream-guard.ts'
import type { StreamGuardLimits } from './stream-guard.ts'

/** Injected dependencies. */
export interface FarmerComponents {
  /** The libp2p node to serve on (only `handle`, `unhandle` and `peerId` are used). */
  libp2p: Pick<Libp2p, 'handle' | 'unhandle' | 'peerId'>
  /** Where fragments live; the quota is the store's. */
  store: FragmentStore
}

/** What the farmer says about itself, plus optional limits. */
export interface FarmerServiceInit {
  /** Region name used by placement policies, e.g. `eu-west`. */
  region: string
  /** `live` or `archive`. */
  tier: string
  /** `full` (Node, disk) or `light` (browser, IndexedDB). */
  kind: string
  /** Software version reported by STAT. */
  version: string
  /** Largest request header accepted. @default MAX_HEADER_BYTES (16 KiB) */
  maxHeaderBytes?: number
  /** Largest fragment accepted. @default MAX_FRAGMENT_BYTES (16 MiB) */
  maxFragmentBytes?: number
  /** Most ids in one HAS. @default MAX_HAS_IDS (1024) */
  maxHasIds?: number
  /** Idle time after which a stream is answered `TIMEOUT`. @default STREAM_IDLE_TIMEOUT_MS (30 s) */
  idleTimeoutMs?: number
  /** Concurrent inbound streams per connection. @default MAX_INBOUND_STREAMS (32) */
  maxInboundStreams?: number
  /** PUT body bytes held in memory at once, all peers together, taken as they arrive. @default MAX_PUT_BYTES_IN_FLIGHT (256 MiB) */
  maxPutBytesInFlight?: number
  /** Declared PUT bytes one peer may have in flight. @default MAX_PUT_BYTES_PER_PEER (128 MiB) */
  maxPutBytesPerPeer?: number
  /** Declared PUT bytes one connection may have in flight. @default MAX_PUT_BYTES_PER_CONNECTION (128 MiB) */
  maxPutBytesPerConnection?: number
  /** Slice of the farmer-wide PUT budget taken ahead of each read. @default PUT_CHARGE_BYTES (256 KiB) */
  putChargeBytes?: number
  /** Concurrent GETs, all peers together. @default MAX_GETS_IN_FLIGHT (64) */
  maxGetsInFlight?: number
  /** Concurrent GETs of one peer. @default MAX_GETS_PER_PEER (8) */
  maxGetsPerPeer?: number
  /** Concurrent GETs on one connection. @default MAX_GETS_PER_CONNECTION (8) */
  maxGetsPerConnection?: number
  /** Bytes read from the store per step of a GET. @default GET_CHUNK_BYTES (256 KiB) */
  getChunkBytes?: number
  /** Lifetime of a stream moving a full-size fragment, scaled by size. @default STREAM_DEADLINE_MS (60 s) */
  streamDeadlineMs?: number
  /** Shortest lifetime of a stream. @default STREAM_MIN_DEADLINE_MS (15 s) */
  minStreamDeadlineMs?: number
  /** Slowest tolerated transfer while the farmer waits on the peer. @default MIN_TRANSFER_BYTES_PER_SECOND (64 KiB/s) */
  minTransferBytesPerSecond?: number
  /** Window over which the rate is averaged. @default RATE_WINDOW_MS (10 s) */
  rateWindowMs?: number
  /** Accepted distance between a DELETE's timestamp and this clock. @default MAX_CLOCK_SKEW_MS (5 min) */
  maxClockSkewMs?: number
  /** Delete and renew nonces remembered at once. @default MAX_REMEMBERED_NONCES (100 000) */
  maxRememberedNonces?: number
  /** How long a claim lasts from the PUT or RENEW that sets it. @default LEASE_MS (30 days) */
  leaseMs?: number
  /** Period of the lease collector (it also runs at start). @default COLLECT_INTERVAL_MS (1 h) */
  collectIntervalMs?: number
  /** Payload bytes one owner key may hold claims on. @default a quarter of the store's capacity (MAX_SHARE_PER_OWNER) */
  maxBytesPerOwner?: number
  /** Payload bytes one uploading peer may hold claims for. @default a quarter of the store's capacity (MAX_SHARE_PER_OWNER) */
  maxBytesPerPeer?: number
  /**
   * Called with every error the farmer answers `INTERNAL` (a bug or an I/O failure the store did not
   * classify), so the process can log it; the peer only ever sees the bare code.
   * @default undefined (not reported)
   */
  onInternalError?: (err: unknown) => void
}

/** Serves one `FragmentStore` over the fragment protocol. */
export class FarmerService {
  /** Counters for the metrics endpoint. */
  readonly metrics = new FarmerMetrics()
  readonly #components: FarmerComponents
  readonly #limits: Required<FrameLimits>
  readonly #idleTimeoutMs: number
  readonly #maxInboundStreams: number
  readonly #ops: FarmerOperations
  readonly #onInternalError: ((err: unknown) => void) | undefined
  readonly #guardLimits: StreamGuardLimits
  /** Open streams, so `stop()` can abort them; their handler promises, so it can wait for them. */
  readonly #active = new Map<Stream, Promise<void>>()
  #started = false
  readonly #init: FarmerServiceInit
  readonly #usage = new ClaimUsage({ maxBytesPerOwner: 0, maxBytesPerPeer: 0 })
  readonly #leaseMs: number
  #collectTimer: ReturnType<typeof setInterval> | undefined
  #collecting: Promise<CollectResult | undefined> | undefined

  constructor (components: FarmerComponents, init: FarmerServiceInit) {
    this.#components = components
    this.#init = init
    this.#leaseMs = init.leaseMs ?? LEASE_MS
    this.#limits = {
      maxHeaderBytes: init.maxHeaderBytes ?? MAX_HEADER_BYTES,
      maxFragmentBytes: init.maxFragmentBytes ?? MAX_FRAGMENT_BYTES,
      maxHasIds: init.maxHasIds ?? MAX_HAS_IDS
    }
    this.#idleTimeoutMs = init.idleTimeoutMs ?? STREAM_IDLE_TIMEOUT_MS
    this.#maxInboundStreams = init.maxInboundStreams ?? MAX_INBOUND_STREAMS
    this.#onInternalError = init.onInternalError
    this.#guardLimits = {
      deadlineMs: init.streamDeadlineMs ?? STREAM_DEADLINE_MS,
      minDeadlineMs: init.minStreamDeadlineMs ?? STREAM_MIN_DEADLINE_MS,
      minBytesPerSecond: init.minTransferBytesPerSecond ?? MIN_TRANSFER_BYTES_PER_SECOND,
      rateWindowMs: init.rateWindowMs ?? RATE_WINDOW_MS
    }
    this.#ops = new FarmerOperations({
      store: components.store,
      metrics: this.metrics,
      peerId: components.libp2p.peerId.toString(),
      info: { region: init.region, tier: init.tier, kind: init.kind, version: init.version },
      maxFragmentBytes: this.#limits.maxFragmentBytes,
      maxPutBytesInFlight: init.maxPutBytesInFlight ?? MAX_PUT_BYTES_IN_FLIGHT,
      maxPutBytesPerPeer: init.maxPutBytesPerPeer ?? MAX_PUT_BYTES_PER_PEER,
      maxPutBytesPerConnection: init.maxPutBytesPerConnection ?? MAX_PUT_BYTES_PER_CONNECTION,
      putChargeBytes: init.putChargeBytes ?? PUT_CHARGE_BYTES,
      maxGetsInFlight: init.maxGetsInFlight ?? MAX_GETS_IN_FLIGHT,
      maxGetsPerPeer: init.maxGetsPerPeer ?? MAX_GETS_PER_PEER,
      maxGetsPerConnection: init.maxGetsPerConnection ?? MAX_GETS_PER_CONNECTION,
      getChunkBytes: init.getChunkBytes ?? GET_CHUNK_BYTES,
      maxClockSkewMs: init.maxClockSkewMs ?? MAX_CLOCK_SKEW_MS,
      maxRememberedNonces: init.maxRememberedNonces ?? MAX_REMEMBERED_NONCES,
      leaseMs: this.#leaseMs,
      usage: this.#usage
    })
  }

  /**
   * Counts the claims the store holds, collects expired ones, registers the protocol handler and
   * starts the periodic collector. Idempotent.
   */
  async start (): Promise<void> {
    if (this.#started) return
    const { store } = this.#components
    const stat = await store.stat()
    this.#usage.limits = {
      maxBytesPerOwner: this.#init.maxBytesPerOwner ?? Math.floor(stat.capacity * MAX_SHARE_PER_OWNER),
      maxBytesPerPeer: this.#init.maxBytesPerPeer ?? Math.floor(stat.capacity * MAX_SHARE_PER_OWNER)
    }
    await this.#usage.rebuild(store)
    await this.collect()
    this.metrics.observeStore(await store.stat())
    await registerFragmentProtocol(this.#components.libp2p, (stream, connection) => { this.#accept(stream, connection) },
      { maxInboundStreams: this.#maxInboundStreams })
    this.#started = true
    const every = this.#init.collectIntervalMs ?? COLLECT_INTERVAL_MS
    this.#collectTimer = setInterval(() => { void this.collect() }, every)
    this.#collectTimer.unref?.()
  }

  /**
   * Removes expired claims and the fragments left with none, once; a call while one runs waits for
   * it. Resolves to what it did (undefined when the store failed; reported through `onInternalError`).
   */
  async collect (): Promise<CollectResult | undefined> {
    this.#collecting ??= (async () => {
      try {
        const { store } = this.#components
        const now = Date.now()
        const result = await collectExpired(store, this.#usage, now, this.#leaseMs)
        this.metrics.collected(result.claimsExpired, result.fragmentsCollected)
        this.metrics.observeClaims(await bytesByClaimState(store, now))
        this.metrics.observeStore(await store.stat())
        return result
      } catch (err) {
        this.#onInternalError?.(err)
        return undefined
      } finally {
        this.#collecting = undefined
      }
    })()
    return await this.#collecting
  }

  /** Refreshes the claim-state gauges from the store (for a metrics scrape). */
  async observeClaims (): Promise<void> {
    this.metrics.observeClaims(await bytesByClaimState(this.#components.store, Date.now()))
  }

  /** Unregisters the handler, aborts streams in flight and waits for their handlers to finish. Idempotent. */
  async stop (): Promise<void> {
    if (!this.#started) return
    this.#started = false
    clearInterval(this.#collectTimer)
    await this.#collecting
    await unregisterFragmentProtocol(this.#components.libp2p)
    for (const stream of this.#active.keys()) stream.abort(new Error('Farmer is stopping'))
    await Promise.allSettled([...this.#active.values()])
  }

  #accept (stream: Stream, connection: Connection): void {
    const owner = { peer: connection.remotePeer.toString(), connection: connection.id }
    const done = this.#serve(stream, owner).finally(() => {
      this.#active.delete(stream)
      this.metrics.streams(-1)
    })
    this.#active.set(stream, done)
    this.metrics.streams(1)
  }

  async #serve (stream: Stream, owner: { peer: string, connection: string }): Promise<void> {
    const ac = new AbortController()
    const timer = idleTimer(stream, this.#idleTimeoutMs, () => {
      ac.abort(new FarmerError('TIMEOUT', 'Stream idle for too long', { reason: 'idle', idleTimeoutMs: this.#idleTimeoutMs }))
    })
    /** Set when the stream missed its deadline or moved too slowly: it is reset, not drained. */
    let cut: FarmerError | undefined
    const guard = new StreamGuard(this.#guardLimits, err => {
      cut = err
      this.metrics.cutStream(String(err.details.reason))
      ac.abort(err)
    })
    guard.expect(Infinity) // the header must arrive within one rate window
    const reader = new FrameReader(streamSource(stream))
    let op: Op | undefined
    let consumed = false
    let answered = false
    let reply: Reply | undefined
    try {
      const header = parseHeaderObject(await reader.readHeader(this.#limits.maxHeaderBytes, ac.signal))
      const req = parseRequest(header, this.#limits)
      op = req.op
      this.metrics.request(op)
      reply = await this.#ops.run(req, { reader, signal: ac.signal, touch: timer.touch, owner, watch: guard })
      consumed = reply.consumed
      guard.idle()
      const frame = encodeFrame(reply.header, this.#limits.maxHeaderBytes)
      let sent = 0
      if (reply.body === undefined) {
        answered = true
        await sendAll(stream, frame, ac.signal, timer.touch)
      } else {
        // The first chunk is read before the header goes out: a fragment of one chunk is verified
        // whole by then, so a corrupt one is still answered CORRUPT_FRAGMENT rather than reset.
        const chunks = reply.body.chunks[Symbol.asyncIterator]()
        let next = await chunks.next()
        answered = true
        // From the header on, the farmer waits on the reader: the rate counts what it takes.
        guard.expect(frame.byteLength + reply.body.size)
        const progress = (n: number): void => { timer.touch(); guard.moved(n) }
        await sendAll(stream, frame, ac.signal, progress)
        while (next.done !== true) {
          await sendAll(stream, next.value, ac.signal, progress)
          sent += next.value.byteLength
          next = await chunks.next()
        }
        guard.idle()
      }
      this.metrics.success(op, req.op === 'PUT' ? (consumed ? req.size : 0) : sent)
      if (op === 'GET') this.metrics.reader(owner.peer)
    } catch (err) {
      if (!this.#started) return // stop() already reset the stream
      if (stream.status !== 'open') {
        // The peer reset or aborted the stream: there is no one to answer, and it is not our error.
        this.metrics.reset()
        return
      }
      const cause = ac.signal.aborted ? ac.signal.reason : err
      const code = toWireCode(cause)
      this.metrics.error(code)
      if (code === 'INTERNAL') this.#onInternalError?.(cause)
      if (answered) {
        // The answer's header went out (a GET body failed, or its reader stalled): a frame now would
        // be read as fragment bytes, so the stream is reset and the client sees a broken transfer.
        stream.abort(cause instanceof Error ? cause : new Error(String(cause)))
        return
      }
      if (stream.writeStatus === 'writable') stream.send(this.#errorFrame(code, cause))
    } finally {
      timer.clear()
      guard.clear()
      await reply?.body?.close().catch(() => {})
      reply?.release?.()
      await this.#finish(stream, reader, consumed, cut)
    }
  }

  #errorFrame (code: string, err: unknown): Uint8Array {
    // Store errors carry safe details (sizes, ids); INTERNAL ones may not, so they go out bare.
    const message = code === 'INTERNAL' ? 'Internal farmer error' : (err as Error).message.slice(0, 200)
    const details = code === 'INTERNAL' ? undefined : (err as { details?: unknown }).details
    try {
      return encodeFrame({ ok: false, code, message, ...(details !== undefined ? { details } : {}) }, this.#limits.maxHeaderBytes)
    } catch {
      return encodeFrame({ ok: false, code, message }) // details too big for a frame: drop them
    }
  }

  /**
   * Closes our write end, then, when the request was not read to its end (a refusal or an early
   * answer), discards what the peer still sends for a short grace time so it can read our answer;
   * a peer that keeps sending after that is reset. A stream `cut` for its deadline or its rate gets
   * no grace: its answer is flushed (for as long as the grace allows) and it is reset at once.
   */
  async #finish (stream: Stream, reader: FrameReader, consumed: boolean, cut?: FarmerError): Promise<void> {
    if (stream.status !== 'open') return
    const grace = AbortSignal.timeout(REFUSAL_DRAIN_MS)
    try {
      await stream.close({ signal: grace })
      if (cut !== undefined) throw cut
      if (!consumed) await reader.discardToEnd(grace)
    } catch {
      if (stream.status === 'open') stream.abort(cut ?? new Error('Peer did not end its request'))
    }
  }
}
