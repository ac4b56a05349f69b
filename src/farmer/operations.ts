/**
 * What a farmer does for each request, once its header has parsed. Each operation reads the rest of
 * its request from the `FrameReader` and returns the response to send; a refusal is a thrown
 * `ShardfarmError` whose wire code the service forwards. Hash verification of PUT lives in the
 * store's `put` (the port promises to check before committing), so bytes are hashed exactly once.
 *
 * Budgets (see `fragment-constants.ts`): a PUT reserves its declared size from its peer's and its
 * connection's budgets when the header arrives, and takes the farmer-wide budget only as its body
 * arrives; a GET takes one slot of each of the three GET budgets and streams from the store.
 *
 * Claims: every PUT names an owner key, and the fragment is kept while some owner's claim is live
 * (`leases.ts`). A PUT of an id held already adds or extends the caller's claim and proves the
 * farmer holds the bytes (`proof`), so no uploader takes "already held" on trust; DELETE removes
 * only the signer's claim; RENEW extends one owner's claims on a batch of ids.
 */
import { CorruptFragmentError, FragmentNotFoundError, HashMismatchError, QuotaExceededError } from '../core/fragment-store.ts'
import type { FragmentClaim, FragmentReadStream, FragmentStore } from '../core/fragment-store.ts'
import { sha256Hex } from '../core/hash.ts'
import { checkDelegation, delegatedPutMessage, delegatedRenewMessage, verifyWith } from '../core/delegation.ts'
import { fromBase64, verifyDelete, verifyRenew } from '../core/owner-key.ts'
import { POSSESSION_PROOF_DOMAIN } from '../net/protocols/fragment-constants.ts'
import { FarmerError } from '../net/protocols/fragment-errors.ts'
import { decodeIds, requestBodyLength } from '../net/protocols/frames.ts'
import type { FarmerStat, OkResponses, RequestHeader } from '../net/protocols/frames.ts'
import type { FrameReader } from '../net/protocols/stream-io.ts'
import { Budget, giveAll, KeyedBudget, takeAll } from './budgets.ts'
import type { StreamOwner } from './budgets.ts'
import type { ClaimUsage } from './leases.ts'
import type { FarmerMetrics } from './metrics.ts'
import { ReplayGuard } from './replay-guard.ts'

/** Claim writes a RENEW runs at once. */
const RENEW_WRITES_AT_ONCE = 16

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
  /** How long a claim lasts from the PUT or RENEW that sets it. */
  leaseMs: number
  /** Bytes claimed per owner and per peer, with their limits. */
  usage: ClaimUsage
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
  /** The commit of the last PUT of each id still committing, settled, for the next one to wait on. */
  readonly #commits = new Map<string, Promise<void>>()

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
      case 'RENEW': return await this.#renew(req, io)
    }
  }

  async #put (req: Extract<RequestHeader, { op: 'PUT' }>, io: RequestIo): Promise<Reply> {
    const { store } = this.#ctx
    io.watch.idle()
    if (req.delegation !== undefined) await this.#checkDelegatedPut(req)
    const claim: FragmentClaim = { owner: req.owner, peer: io.owner.peer, expiresAt: Date.now() + this.#ctx.leaseMs }
    // Answer before the body moves when it would be wasted: held already (content addressing makes
    // this a success, proven from our copy), or refused for space. The store re-checks the quota
    // exactly at commit.
    if ((await store.has([req.id], { signal: io.signal }))[0] === true) {
      const held = await this.#claimHeld(req, claim, io)
      if (held !== undefined) return held
    }
    const stat = await store.stat()
    if (req.size > stat.free) throw new QuotaExceededError(stat.capacity, stat.capacity - stat.free, req.size)
    const { usage } = this.#ctx
    usage.check(req.size, [], [claim])
    // The declared size is reserved from this peer's and this connection's budgets only: a peer
    // that declares and never sends blocks itself, not the farmer.
    const own: Array<[KeyedBudget, string]> = [[this.#putPeer, io.owner.peer], [this.#putConnection, io.owner.connection]]
    const refused = takeAll(own, req.size)
    if (refused !== -1) {
      throw new FarmerError('BUSY', `Too many PUT bytes in flight from this ${refused === 0 ? 'peer' : 'connection'}; retry later`,
        { limit: own[refused]![0].limit, scope: refused === 0 ? 'peer' : 'connection' })
    }
    this.#ctx.metrics.putReserved(req.size)
    // Counted from now (no await since the check), so concurrent PUTs of one owner cannot pass the limit together.
    usage.apply(req.size, [], [claim])
    let kept = false
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
      await this.#oneAtATime(req.id, async () => {
        // Another PUT of this id may have stored it since this one found it absent. The store would
        // merge this claim into the held ones, replacing the owner's own if it has one there, so the
        // claim counted above may be no new bytes at all: add it as to a held id, counting what changes.
        if ((await store.has([req.id], { signal: io.signal }))[0] === true) {
          const actual = await sha256Hex(bytes)
          if (actual !== req.id) throw new HashMismatchError(req.id, actual)
          if (await this.#addClaim(req.id, claim, req.size, [claim], io.signal) !== undefined) return
        }
        // Only PUTs create fragments and they commit one at a time per id: this one is the first.
        await store.put(req.id, bytes, { claims: [claim] }, { signal: io.signal })
      })
      kept = true
      this.#ctx.metrics.observeStore(await store.stat())
      return { header: { ok: true, stored: true }, consumed: true }
    } finally {
      if (!kept) usage.apply(req.size, [claim], [])
      this.#putGlobal.give(charged)
      this.#ctx.metrics.inFlight(-charged)
      giveAll(own, req.size)
      this.#ctx.metrics.putReserved(-req.size)
    }
  }

  /**
   * A PUT of an id held: proves possession from our copy, then adds or extends the caller's claim.
   * Undefined when our copy turned out corrupt or went meanwhile: the PUT then takes the body.
   */
  async #claimHeld (req: Extract<RequestHeader, { op: 'PUT' }>, claim: FragmentClaim, io: RequestIo): Promise<Reply | undefined> {
    let proof: string
    let size: number // as held, not as declared: a claim counts the bytes it keeps
    try {
      ({ proof, size } = await this.#possessionProof(req.id, req.nonce, io.signal))
    } catch (err) {
      if (err instanceof CorruptFragmentError || err instanceof FragmentNotFoundError) return undefined
      throw err
    }
    if (await this.#addClaim(req.id, claim, size, [], io.signal) === undefined) return undefined
    return { header: { ok: true, stored: false, proof }, consumed: false }
  }

  /**
   * Adds or extends `claim` on the held `id` and counts the change the store makes, in the same
   * atomic step. `counted` are claims already counted for this id (a PUT's reservation), which the
   * change replaces; with none, the change is first checked against the owner's and peer's limits.
   * Resolves to the claims kept, or undefined when `id` is not held (nothing counted).
   */
  async #addClaim (id: string, claim: FragmentClaim, size: number, counted: readonly FragmentClaim[],
    signal: AbortSignal): Promise<FragmentClaim[] | undefined> {
    const { store, usage } = this.#ctx
    let applied: [readonly FragmentClaim[], FragmentClaim[]] | undefined
    const undo = (): void => {
      if (applied === undefined) return
      usage.apply(size, applied[1], applied[0])
      usage.apply(size, [], counted)
      applied = undefined
    }
    try {
      const kept = await store.updateClaims(id, claims => {
        // Never shortens the caller's lease: a renewal may already run past this PUT's.
        const mine = claims.find(c => c.owner === claim.owner)
        const next = mine !== undefined && mine.expiresAt > claim.expiresAt ? { ...claim, expiresAt: mine.expiresAt } : claim
        const after = [...claims.filter(c => c.owner !== claim.owner), next]
        if (counted.length === 0) usage.check(size, claims, after)
        usage.apply(size, claims, after)
        usage.apply(size, counted, [])
        applied = [claims, after]
        return after
      }, { signal })
      if (kept === undefined) undo()
      return kept
    } catch (err) {
      undo()
      throw err
    }
  }

  /**
   * Runs `commit` once every earlier commit of `id` has settled. The map holds one entry per id
   * being committed, so it is bounded by the PUTs in flight.
   */
  async #oneAtATime (id: string, commit: () => Promise<void>): Promise<void> {
    const run = (this.#commits.get(id) ?? Promise.resolve()).then(commit)
    const settled = run.catch(() => {})
    this.#commits.set(id, settled)
    try {
      await run
    } finally {
      if (this.#commits.get(id) === settled) this.#commits.delete(id)
    }
  }

  /**
   * Hex SHA-256 of the possession domain, the nonce's 16 bytes and the fragment as we hold it, read
   * through the store's verified stream (a rotten copy throws `CorruptFragmentError` and is dropped).
   * WebCrypto has no incremental digest, so the bytes are gathered into one buffer, charged to the
   * farmer-wide PUT budget like a body being received.
   */
  async #possessionProof (id: string, nonce: string, signal: AbortSignal): Promise<{ proof: string, size: number }> {
    const prefix = new TextEncoder().encode(POSSESSION_PROOF_DOMAIN)
    const salt = fromBase64(nonce)
    const read = await this.#openRead(id, signal)
    const total = prefix.byteLength + salt.byteLength + read.size
    if (!this.#putGlobal.take(read.size)) {
      await read.close()
      throw new FarmerError('BUSY', 'Too many PUT bytes in flight; retry later or elsewhere',
        { limit: this.#ctx.maxPutBytesInFlight, scope: 'farmer' })
    }
    try {
      const buf = new Uint8Array(total)
      buf.set(prefix)
      buf.set(salt, prefix.byteLength)
      let off = prefix.byteLength + salt.byteLength
      for await (const chunk of read.chunks) {
        if (off + chunk.byteLength > total) throw new CorruptFragmentError(id)
        buf.set(chunk, off)
        off += chunk.byteLength
      }
      if (off !== total) throw new CorruptFragmentError(id)
      return { proof: await sha256Hex(buf), size: read.size }
    } finally {
      this.#putGlobal.give(read.size)
      await read.close()
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
    const now = this.#checkClock(req.ts)
    const meta = await this.#ctx.store.meta(req.id, { signal: io.signal })
    if (meta === undefined) throw new FragmentNotFoundError(req.id)
    const claim = { id: req.id, farmer: this.#ctx.peerId, ts: req.ts, nonce: req.nonce }
    if (!await verifyDelete(req.owner, claim, req.sig)) throw forbidden('Signature does not verify with the owner key')
    this.#claimNonce(req.nonce, req.ts, now)
    // Only the signer's claim goes; the bytes go with the last claim. An owner with no claim here
    // (never had one, or its lease ended) is done as well: nothing of its own is left.
    let before: readonly FragmentClaim[] = []
    let after: FragmentClaim[] = []
    const kept = await this.#ctx.store.updateClaims(req.id, claims => {
      before = claims
      after = claims.filter(c => c.owner !== req.owner)
      return after
    }, { signal: io.signal })
    if (kept === undefined) throw new FragmentNotFoundError(req.id)
    this.#ctx.usage.apply(meta.size, before, after)
    this.#ctx.metrics.observeStore(await this.#ctx.store.stat())
    return { header: { ok: true }, consumed: true }
  }

  async #renew (req: Extract<RequestHeader, { op: 'RENEW' }>, io: RequestIo): Promise<Reply> {
    const body = new Uint8Array(requestBodyLength(req))
    io.watch.expect(body.byteLength)
    if (await io.reader.readInto(body, io.signal, n => { io.touch(); io.watch.moved(n) }) < body.byteLength) {
      throw new FarmerError('BAD_REQUEST', 'RENEW body shorter than count ids', { count: req.count })
    }
    io.watch.expect(1)
    await this.#expectEnd(io)
    io.watch.idle()
    const now = this.#checkClock(req.ts)
    const signed = { farmer: this.#ctx.peerId, ts: req.ts, nonce: req.nonce, body: await sha256Hex(body) }
    if (req.delegation !== undefined) {
      // The owner's claims, renewed by its delegate: the owner signed the delegation, the delegate this request.
      const d = await checkDelegation(req.delegation, { owner: req.owner, now })
      if (!await verifyWith(d.delegate, delegatedRenewMessage(signed), req.sig)) throw forbidden('Signature does not verify with the delegate key')
    } else if (!await verifyRenew(req.owner, signed, req.sig)) throw forbidden('Signature does not verify with the owner key')
    this.#claimNonce(req.nonce, req.ts, now)
    const expiresAt = now + this.#ctx.leaseMs
    const { store } = this.#ctx
    const renewOne = async (id: string): Promise<boolean> => {
      const meta = await store.meta(id, { signal: io.signal })
      let found = false
      if (meta?.claims.some(c => c.owner === req.owner) === true) {
        await store.updateClaims(id, claims => claims.map(c => {
          if (c.owner !== req.owner) return c
          found = true
          return { ...c, expiresAt: Math.max(c.expiresAt, expiresAt) }
        }), { signal: io.signal })
      }
      return found
    }
    // A few at a time: each is a small durable write on a disk store (1024 ids: 1.0–2.6 s one by one,
    // 0.6 s sixteen at a time, on this ext4 VM).
    const ids = decodeIds(body)
    const bits: boolean[] = []
    for (let i = 0; i < ids.length; i += RENEW_WRITES_AT_ONCE) {
      bits.push(...await Promise.all(ids.slice(i, i + RENEW_WRITES_AT_ONCE).map(renewOne)))
    }
    return { header: { ok: true, renewed: bits.map(b => (b ? '1' : '0')).join(''), expiresAt }, consumed: true }
  }

  /**
   * A PUT made by an owner's delegate (a keeper): the owner signed the delegation, the delegate this
   * PUT, for this farmer and recently. Its nonce is not remembered: a replay needs the fragment's
   * bytes and only sets the claim the delegation allows anyway.
   */
  async #checkDelegatedPut (req: Extract<RequestHeader, { op: 'PUT' }>): Promise<void> {
    const now = this.#checkClock(req.ts ?? 0)
    const d = await checkDelegation(req.delegation, { owner: req.owner, now })
    const signed = delegatedPutMessage({ id: req.id, farmer: this.#ctx.peerId, ts: req.ts ?? 0, nonce: req.nonce })
    if (!await verifyWith(d.delegate, signed, req.sig ?? '')) throw forbidden('Signature does not verify with the delegate key')
  }

  /** Refuses a signed request stamped too far from this clock; returns the time now. */
  #checkClock (ts: number): number {
    const now = Date.now()
    if (Math.abs(now - ts) > this.#ctx.maxClockSkewMs) {
      throw forbidden('Request is stale or from the future', { ts, now, maxSkewMs: this.#ctx.maxClockSkewMs })
    }
    return now
  }

  /** Uses a signed request's nonce once. Called only after its signature verifies, so strangers cannot fill the guard. */
  #claimNonce (nonce: string, ts: number, now: number): void {
    const claimed = this.#nonces.claim(nonce, ts, now)
    if (claimed === 'replayed') throw forbidden('Request was already used')
    if (claimed === 'full') throw new FarmerError('BUSY', 'Too many recent signed requests; retry later')
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
