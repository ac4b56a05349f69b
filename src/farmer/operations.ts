/**
 * What a farmer does for each request, once its header has parsed. Each operation reads the rest of
 * its request from the `FrameReader` and returns the response to send; a refusal is a thrown
 * `ShardfarmError` whose wire code the service forwards. Hash verification of PUT lives in the
 * store's `put` (the port promises to check before committing), so bytes are hashed exactly once.
 */
import { FragmentNotFoundError, QuotaExceededError } from '../core/fragment-store.ts'
import type { FragmentStore } from '../core/fragment-store.ts'
import { verifyDelete } from '../core/owner-key.ts'
import { FarmerError } from '../net/protocols/fragment-errors.ts'
import { decodeIds, requestBodyLength } from '../net/protocols/frames.ts'
import type { FarmerStat, OkResponses, RequestHeader } from '../net/protocols/frames.ts'
import type { FrameReader } from '../net/protocols/stream-io.ts'
import type { FarmerMetrics } from './metrics.ts'
import { ReplayGuard } from './replay-guard.ts'

/** A response to send: its header, an optional body, and whether the request was read to its end. */
export interface Reply {
  header: OkResponses[keyof OkResponses]
  body?: Uint8Array
  /** False when the farmer answered before reading the whole request (the rest is discarded). */
  consumed: boolean
}

/** Everything the operations need; assembled by `FarmerService`. */
export interface OperationsContext {
  store: FragmentStore
  metrics: FarmerMetrics
  /** This farmer's peer id: delete signatures must name it. */
  peerId: string
  info: Pick<FarmerStat, 'region' | 'tier' | 'kind' | 'version'>
  maxFragmentBytes: number
  maxPutBytesInFlight: number
  maxClockSkewMs: number
  maxRememberedNonces: number
}

/** Per-request inputs. */
export interface RequestIo {
  reader: FrameReader
  signal: AbortSignal
  /** Re-arms the stream's idle timer. */
  touch: () => void
}

/** The farmer's operations over one store. */
export class FarmerOperations {
  readonly #ctx: OperationsContext
  readonly #nonces: ReplayGuard
  #putBytesInFlight = 0

  constructor (ctx: OperationsContext) {
    this.#ctx = ctx
    this.#nonces = new ReplayGuard(ctx.maxClockSkewMs, ctx.maxRememberedNonces)
  }

  /** Runs `req`, reading its body from `io`. */
  async run (req: RequestHeader, io: RequestIo): Promise<Reply> {
    switch (req.op) {
      case 'PUT': return await this.#put(req, io)
      case 'GET': return await this.#get(req.id, io)
      case 'HAS': return await this.#has(req.count, io)
      case 'DELETE': return await this.#delete(req, io)
      case 'STAT': return await this.#stat(io)
    }
  }

  async #put (req: Extract<RequestHeader, { op: 'PUT' }>, io: RequestIo): Promise<Reply> {
    const { store } = this.#ctx
    // Answer before the body moves when it would be wasted: held already (content addressing makes
    // this a success), or refused for space. The store re-checks the quota exactly at commit.
    if ((await store.has([req.id], { signal: io.signal }))[0] === true) {
      return { header: { ok: true, stored: false }, consumed: false }
    }
    const stat = await store.stat()
    if (req.size > stat.free) throw new QuotaExceededError(stat.capacity, stat.capacity - stat.free, req.size)
    if (this.#putBytesInFlight + req.size > this.#ctx.maxPutBytesInFlight) {
      throw new FarmerError('BUSY', 'Too many PUT bytes in flight; retry later or elsewhere',
        { limit: this.#ctx.maxPutBytesInFlight })
    }
    this.#reserve(req.size)
    try {
      const bytes = new Uint8Array(req.size)
      const got = await io.reader.readInto(bytes, io.signal, io.touch)
      if (got < req.size) {
        throw new FarmerError('BAD_REQUEST', 'Body shorter than declared size', { declared: req.size, received: got })
      }
      await this.#expectEnd(io, req.size >= this.#ctx.maxFragmentBytes)
      await store.put(req.id, bytes, req.owner === undefined ? {} : { owner: req.owner }, { signal: io.signal })
      this.#ctx.metrics.observeStore(await store.stat())
      return { header: { ok: true, stored: true }, consumed: true }
    } finally {
      this.#reserve(-req.size)
    }
  }

  async #get (id: string, io: RequestIo): Promise<Reply> {
    await this.#expectEnd(io)
    const bytes = await this.#ctx.store.get(id, { signal: io.signal })
    return { header: { ok: true, size: bytes.byteLength }, body: bytes, consumed: true }
  }

  async #has (count: number, io: RequestIo): Promise<Reply> {
    const body = new Uint8Array(requestBodyLength({ op: 'HAS', count }))
    if (await io.reader.readInto(body, io.signal, io.touch) < body.byteLength) {
      throw new FarmerError('BAD_REQUEST', 'HAS body shorter than count ids', { count })
    }
    await this.#expectEnd(io)
    const held = await this.#ctx.store.has(decodeIds(body), { signal: io.signal })
    return { header: { ok: true, held: held.map(h => (h ? '1' : '0')).join('') }, consumed: true }
  }

  async #delete (req: Extract<RequestHeader, { op: 'DELETE' }>, io: RequestIo): Promise<Reply> {
    await this.#expectEnd(io)
    const now = Date.now()
    if (Math.abs(now - req.ts) > this.#ctx.maxClockSkewMs) {
      throw forbidden('Delete request is stale or from the future', { ts: req.ts, now, maxSkewMs: this.#ctx.maxClockSkewMs })
    }
    const meta = await this.#ctx.store.meta(req.id, { signal: io.signal })
    if (meta === undefined) throw new FragmentNotFoundError(req.id)
    if (meta.owner === undefined) throw forbidden('Fragment has no owner key; it is never deleted by request')
    const claim = { id: req.id, farmer: this.#ctx.peerId, ts: req.ts, nonce: req.nonce }
    if (!await verifyDelete(meta.owner, claim, req.sig)) throw forbidden('Signature does not verify with the owner key')
    // Claim the nonce only after the signature verifies, so strangers cannot fill the guard.
    const claimed = this.#nonces.claim(req.nonce, req.ts, now)
    if (claimed === 'replayed') throw forbidden('Delete request was already used')
    if (claimed === 'full') throw new FarmerError('BUSY', 'Too many recent deletes; retry later')
    await this.#ctx.store.delete(req.id, { signal: io.signal })
    this.#ctx.metrics.observeStore(await this.#ctx.store.stat())
    return { header: { ok: true }, consumed: true }
  }

  async #stat (io: RequestIo): Promise<Reply> {
    await this.#expectEnd(io)
    const s = await this.#ctx.store.stat()
    this.#ctx.metrics.observeStore(s)
    const stat: FarmerStat = { capacity: s.capacity, used: s.used, free: s.free, count: s.count, ...this.#ctx.info }
    return { header: { ok: true, stat }, consumed: true }
  }

  /**
   * A request ends where its header says; anything after is a framing error. A PUT body already at
   * the size limit that keeps going is `TOO_LARGE`, since its actual length is past the limit.
   */
  async #expectEnd (io: RequestIo, atSizeLimit = false): Promise<void> {
    if (await io.reader.atEnd(io.signal)) return
    if (atSizeLimit) throw new FarmerError('TOO_LARGE', 'Fragment exceeds the size limit', { limit: this.#ctx.maxFragmentBytes })
    throw new FarmerError('BAD_REQUEST', 'Malformed frame: bytes after the end of the request', { reason: 'trailing' })
  }

  #reserve (delta: number): void {
    this.#putBytesInFlight += delta
    this.#ctx.metrics.inFlight(delta)
  }
}

function forbidden (message: string, details: Record<string, unknown> = {}): FarmerError {
  return new FarmerError('FORBIDDEN', message, details)
}
