/**
 * What a farmer does for each request, once its header has parsed. Each operation reads the rest of
 * its request from the `FrameReader` and returns the response to send; a refusal is a thrown
 * `ShardfarmError` whose wire code the service forwards. Hash verification of PUT lives in the
 * store's `put` (the port promises to check before committing), so bytes are hashed exactly once.
 *
 * Budgets (see `fragment-constants.ts`): a PUT reserves its declared size from its peer's and its
 * connection's budgets when the header arrives, and takes the farmer-wide budget only as its body
 * arrives; a GET takes one slot of each of the three GET budgets and streams from the store.
 */
import { FragmentNotFoundError, QuotaExceededError } from '../core/fragment-store.ts'
import type { FragmentReadStream, FragmentStore } from '../core/fragment-store.ts'
import { verifyDelete } from '../core/owner-key.ts'
import { FarmerError } from '../net/protocols/fragment-errors.ts'
import { decodeIds, requestBodyLength } from '../net/protocols/frames.ts'
import type { FarmerStat, OkResponses, RequestHeader } from '../net/protocols/frames.ts'
import type { FrameReader } from '../net/protocols/stream-io.ts'
import { Budget, giveAll, KeyedBudget, takeAll } from './budgets.ts'
import type { StreamOwner } from './budgets.ts'
import type { FarmerMetrics } from './metrics.ts'
import { ReplayGuard } from './replay-guard.ts'

/** A response to send: its header, an optional body, and whether the request was read to its end. */
export interface Reply {
  header: OkResponses[keyof OkResponses]
  /** GET: the fragment, read from the store as the service sends it. */
  body?: FragmentReadStream
  /** False when the farmer answered before reading the whole request (the rest is discarded). */
  consumed: boolean
  /** Gives back what the request holds (GET budget slots); the service calls it once the body is sent or failed. */
  release?: () => void
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
  maxPutBytesPerPeer: number
  maxPutBytesPerConnection: number
  putChargeBytes: number
  maxGetsInFlight: number
  maxGetsPerPeer: number
  maxGetsPerConnection: number
  getChunkBytes: number
  maxClockSkewMs: number
  maxRememberedNonces: number
}

/** How the service watches a stream while an operation waits on the peer. */
export interface TransferWatch {
  /** The peer now owes `bytes` (Infinity when unknown); the rate is measured from here. */
  expect: (bytes: number) => void
  /** `bytes` moved. */
  moved: (bytes: number) => void
  /** The farmer is working on its own (hashing, disk): the rate is not measured. */
  idle: () => void
  /** The stream will move `bytes` of fragment: its absolute deadline grows to that size's share. */
  size: (bytes: number) => void
}

/** Per-request inputs. */
export interface RequestIo {
  reader: FrameReader
  signal: AbortSignal
  /** Re-arms the stream's idle timer. */
  touch: () => void
  /** The remote peer and connection, for the per-peer and per-connection budgets. */
  owner: StreamOwner
  watch: TransferWatch
}

/** The farmer's operations over one store. */
export class FarmerOperations {
  readonly #ctx: OperationsContext
  readonly #nonces: ReplayGuard
  /** PUT bytes received and held, all peers (taken as the body arrives). */
  readonly #putGlobal: Budget
  /** Declared PUT bytes, by peer and by connection (reserved when the header arrives). */
  readonly #putPeer: KeyedBudget
  readonly #putConnection: KeyedBudget
  readonly #getGlobal: Budget
  readonly #getPeer: KeyedBudget
  readonly #getConnection: KeyedBudget

  constructor (ctx: OperationsContext) {
    this.#ctx = ctx
    this.#nonces = new ReplayGuard(ctx.maxClockSkewMs, ctx.maxRememberedNonces)
    this.#putGlobal = new Budget(ctx.maxPutBytesInFlight)
    this.#putPeer = new KeyedBudget(ctx.maxPutBytesPerPeer)
    this.#putConnection = new KeyedBudget(ctx.maxPutBytesPerConnection)
    this.#getGlobal = new Budget(ctx.maxGetsInFlight)
    this.#getPeer = new KeyedBudget(ctx.maxGetsPerPeer)
    this.#getConnection = new KeyedBudget(ctx.maxGetsPerConnection)
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
    io.watch.idle()
    // Answer before the body moves when it would be wasted: held already (content addressing makes
    // this a success), or refused for space. The store re-checks the quota exactly at commit.
    if ((await store.has([req.id], { signal: io.signal }))[0] === true) {
      return { header: { ok: true, stored: false }, consumed: false }
    }
    const stat = await store.stat()
    if (req.size > stat.free) throw new QuotaExceededError(stat.capacity, stat.capacity - stat.free, req.size)
    // The declared size is reserved from this peer's and this connection's budgets only: a peer
    // that declares and never sends blocks itself, not the farmer.
    const own: Array<[KeyedBudget, string]> = [[this.#putPeer, io.owner.peer], [this.#putConnection, io.owner.connection]]
    const refused = takeAll(own, req.size)
    if (refused !== -1) {
      throw new FarmerError('BUSY', `Too many PUT bytes in flight from this ${refused === 0 ? 'peer' : 'connection'}; retry later`,
        { limit: own[refused]![0].limit, scope: refused === 0 ? 'peer' : 'connection' })
    }
    this.#ctx.metrics.putReserved(req.size)
    let charged = 0
    try {
      io.watch.size(req.size)
      io.watch.expect(req.size)
      // Pages of a fresh buffer are only touched, so only resident, as bytes are written into it.
      const bytes = new Uint8Array(req.size)
      const progress = (n: number): void => { io.touch(); io.watch.moved(n) }
      let got = 0
      while (got < req.size) {
        // The farmer-wide budget is taken one slice ahead of the bytes, as they arrive.
        const slice = Math.min(this.#ctx.putChargeBytes, req.size - got)
        if (!this.#putGlobal.take(slice)) {
          throw new FarmerError('BUSY', 'Too many PUT bytes in flight; retry later or elsewhere',
            { limit: this.#ctx.maxPutBytesInFlight, scope: 'farmer' })
        }
        charged += slice
        this.#ctx.metrics.inFlight(slice)
        const n = await io.reader.readInto(bytes.subarray(got, got + slice), io.signal, progress)
        got += n
        if (n < slice) break
      }
      if (got < req.size) {
        throw new FarmerError('BAD_REQUEST', 'Body shorter than declared size', { declared: req.size, received: got })
      }
      io.watch.expect(1)
      await this.#expectEnd(io, req.size >= this.#ctx.maxFragmentBytes)
      io.watch.idle()
      await store.put(req.id, bytes, req.owner === undefined ? {} : { owner: req.owner }, { signal: io.signal })
      this.#ctx.metrics.observeStore(await store.stat())
      return { header: { ok: true, stored: true }, consumed: true }
    } finally {
      this.#putGlobal.give(charged)
      this.#ctx.metrics.inFlight(-charged)
      giveAll(own, req.size)
      this.#ctx.metrics.putReserved(-req.size)
    }
  }

  async #get (id: string, io: RequestIo): Promise<Reply> {
    io.watch.expect(1)
    await this.#expectEnd(io)
    io.watch.idle()
    const slots: Array<[KeyedBudget, string] | [Budget]> =
      [[this.#getPeer, io.owner.peer], [this.#getConnection, io.owner.connection], [this.#getGlobal]]
    const refused = takeAll(slots, 1)
    if (refused !== -1) {
      const scope = (['peer', 'connection', 'farmer'] as const)[refused]!
      throw new FarmerError('BUSY', `Too many GETs in flight ${scope === 'farmer' ? 'on this farmer' : `from this ${scope}`}; retry later`,
        { limit: slots[refused]![0].limit, scope })
    }
    this.#ctx.metrics.gets(1)
    let released = false
    const release = (): void => {
      if (released) return
      released = true
      giveAll(slots, 1)
      this.#ctx.metrics.gets(-1)
    }
    try {
      const body = await this.#openRead(id, io.signal)
      io.watch.size(body.size)
      return { header: { ok: true, size: body.size }, body, consumed: true, release }
    } catch (err) {
      release()
      throw err
    }
  }

  /** The store's streaming read, or its `get` cut into chunks for a store that has none. */
  async #openRead (id: string, signal: AbortSignal): Promise<FragmentReadStream> {
    const { store, getChunkBytes } = this.#ctx
    if (store.openRead !== undefined) return await store.openRead(id, { signal, chunkBytes: getChunkBytes })
    const bytes = await store.get(id, { signal })
    async function * chunks (): AsyncGenerator<Uint8Array> {
      for (let off = 0; off < bytes.byteLength; off += getChunkBytes) yield bytes.subarray(off, off + getChunkBytes)
    }
    return { size: bytes.byteLength, chunks: chunks(), close: async () => {} }
  }

  async #has (count: number, io: RequestIo): Promise<Reply> {
    const body = new Uint8Array(requestBodyLength({ op: 'HAS', count }))
    io.watch.expect(body.byteLength)
    if (await io.reader.readInto(body, io.signal, n => { io.touch(); io.watch.moved(n) }) < body.byteLength) {
      throw new FarmerError('BAD_REQUEST', 'HAS body shorter than count ids', { count })
    }
    io.watch.expect(1)
    await this.#expectEnd(io)
    io.watch.idle()
    const held = await this.#ctx.store.has(decodeIds(body), { signal: io.signal })
    return { header: { ok: true, held: held.map(h => (h ? '1' : '0')).join('') }, consumed: true }
  }

  async #delete (req: Extract<RequestHeader, { op: 'DELETE' }>, io: RequestIo): Promise<Reply> {
    io.watch.expect(1)
    await this.#expectEnd(io)
    io.watch.idle()
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
    io.watch.expect(1)
    await this.#expectEnd(io)
    io.watch.idle()
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
}

function forbidden (message: string, details: Record<string, unknown> = {}): FarmerError {
  return new FarmerError('FORBIDDEN', message, details)
}
