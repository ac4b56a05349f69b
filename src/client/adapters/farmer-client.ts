/**
 * `FarmerClient` speaks the fragment protocol to farmers: put, get, has, delete, renew and stat. libp2p
 * reuses one connection per farmer; this class bounds the streams open to each farmer, gives every
 * call a deadline, verifies every fragment it receives, and retries once, only on a transport
 * failure, and never a DELETE. A farmer's refusal comes back as a `FarmerError` carrying the wire
 * code (`err.code`) and a stable `err.name` (see `fragment-errors.ts`); it is never retried.
 */
import type { Libp2p, PeerId } from '@libp2p/interface'
import { isPeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { AbortError, ShardfarmError, type AbortOptions } from '../../core/errors.ts'
import { assertFragmentId, EmptyFragmentError } from '../../core/fragment-store.ts'
import { sha256Hex } from '../../core/hash.ts'
import { delegatedPutMessage, delegatedRenewMessage, isDelegatedKey, signAsDelegate } from '../../core/delegation.ts'
import { fromBase64, newNonce, signDelete, signRenew } from '../../core/owner-key.ts'
import type { OwnerKey } from '../../core/owner-key.ts'
import {
  CLIENT_MAX_STREAMS_PER_FARMER, CLIENT_TIMEOUT_MS, MAX_FRAGMENT_BYTES, MAX_HAS_IDS, POSSESSION_PROOF_DOMAIN
} from '../../net/protocols/fragment-constants.ts'
import type { Op } from '../../net/protocols/fragment-constants.ts'
import { FarmerError } from '../../net/protocols/fragment-errors.ts'
import { encodeIds } from '../../net/protocols/frames.ts'
import type { FarmerStat, RequestHeader } from '../../net/protocols/frames.ts'
import { PossessionProofError } from '../errors.ts'
import { KeyedLimiter } from './limiter.ts'
import { exchange } from './exchange.ts'
import type { Exchange, ExchangeResults } from './exchange.ts'

export type { FarmerStat } from '../../net/protocols/frames.ts'

/** A farmer: its multiaddr (with `/p2p/<id>` for DELETE) or its peer id when libp2p knows its addresses. */
export type FarmerTarget = Multiaddr | PeerId

/** Injected dependencies. */
export interface FarmerClientComponents {
  /** The libp2p node to dial from (only `dialProtocol` is used). */
  libp2p: Pick<Libp2p, 'dialProtocol'>
}

/** Client options. */
export interface FarmerClientInit {
  /** Deadline of one call, dial and retry included; past it the call rejects with `TimeoutError` (`TIMEOUT`). @default CLIENT_TIMEOUT_MS (60 s) */
  timeoutMs?: number
  /**
   * Streams open at once to one farmer; further calls wait their turn. Keep it at 10 or below:
   * libp2p aborts a connection that receives more than 10 streams while it is still being set up
   * (yamux `maxEarlyStreams`), and the farmer resets streams past its own limit (32 per connection).
   * @default CLIENT_MAX_STREAMS_PER_FARMER (8)
   */
  maxStreamsPerFarmer?: number
  /** Largest fragment this client sends or accepts. @default MAX_FRAGMENT_BYTES (16 MiB) */
  maxFragmentBytes?: number
}

/** Options of every call: aborting rejects it with `AbortError` and resets its stream; the farmer keeps serving. */
type CallOptions = AbortOptions

/** Options of `get`. */
export interface GetOptions extends CallOptions {
  /**
   * Where to read the fragment: used (and returned) when its length is the size the farmer
   * announces, else a new buffer is. Its contents are undefined when the call fails.
   */
  into?: Uint8Array
}

/** Options of `put`. */
export interface PutOptions extends CallOptions {
  /**
   * The owner whose claim the fragment gets (its signature may later delete or renew it); only its
   * public key is sent. A `DelegatedKey` (`core/delegation.ts`) sends its delegation and signs the
   * PUT with the delegate's key, and the claim is still the owner's.
   */
  owner: Pick<OwnerKey, 'publicKey'>
}

/** Result of `put`. */
export interface PutResult {
  /**
   * False when the farmer already held the fragment; it then proved it holds these very bytes, and
   * the owner's claim was added or extended there all the same.
   */
  stored: boolean
}

/** Result of `renew`. */
export interface RenewResult {
  /** For each id, in order: true when the owner's claim existed and was extended. */
  renewed: boolean[]
  /** When the renewed claims now end (ms since the epoch), as the farmer set it (of the last batch). */
  expiresAt: number
}

/** Client of the fragment protocol. */
export class FarmerClient {
  readonly #libp2p: FarmerClientComponents['libp2p']
  readonly #timeoutMs: number
  readonly #maxFragmentBytes: number
  readonly #limiter: KeyedLimiter

  constructor (components: FarmerClientComponents, init: FarmerClientInit = {}) {
    this.#libp2p = components.libp2p
    this.#timeoutMs = init.timeoutMs ?? CLIENT_TIMEOUT_MS
    this.#maxFragmentBytes = init.maxFragmentBytes ?? MAX_FRAGMENT_BYTES
    this.#limiter = new KeyedLimiter(init.maxStreamsPerFarmer ?? CLIENT_MAX_STREAMS_PER_FARMER)
  }

  /**
   * Stores `bytes` under `id` (its SHA-256) on `farmer`, claimed by `options.owner`. Safe to retry:
   * content addressing makes it idempotent. Every call sends a fresh nonce; when the farmer answers
   * that it holds the fragment already, its proof over that nonce and the bytes is checked, and a
   * missing or wrong one rejects with `PossessionProofError`.
   */
  async put (farmer: FarmerTarget, id: string, bytes: Uint8Array, options: PutOptions): Promise<PutResult> {
    assertFragmentId(id)
    if (bytes.byteLength === 0) throw new EmptyFragmentError(id)
    if (bytes.byteLength > this.#maxFragmentBytes) {
      throw new FarmerError('TOO_LARGE', 'Fragment exceeds the size limit', { size: bytes.byteLength, limit: this.#maxFragmentBytes, remote: false })
    }
    const nonce = newNonce()
    let req: RequestHeader = { op: 'PUT', id, size: bytes.byteLength, owner: options.owner.publicKey, nonce }
    if (isDelegatedKey(options.owner)) {
      const farmerId = peerIdOf(farmer)
      if (farmerId === undefined) {
        throw new FarmerError('BAD_REQUEST', 'A delegated PUT needs the farmer\'s peer id: use a multiaddr ending in /p2p/<id>', { remote: false })
      }
      const ts = Date.now()
      const sig = await signAsDelegate(options.owner, delegatedPutMessage({ id, farmer: farmerId, ts, nonce }))
      req = { ...req, delegation: options.owner.delegation, ts, sig }
    }
    const res = await this.#call(farmer, { op: 'PUT', req, body: bytes }, options, true)
    if (!res.stored) {
      if (res.proof === undefined) throw new PossessionProofError(id, targetKey(farmer), 'missing')
      if (res.proof !== await possessionProof(nonce, bytes)) throw new PossessionProofError(id, targetKey(farmer), 'mismatch')
    }
    return { stored: res.stored }
  }

  /** The fragment's bytes, verified against `id`: a farmer sending other bytes gives `HashMismatchError`. */
  async get (farmer: FarmerTarget, id: string, options: GetOptions = {}): Promise<Uint8Array> {
    assertFragmentId(id)
    const ex = { op: 'GET' as const, req: { op: 'GET' as const, id }, ...(options.into !== undefined ? { into: options.into } : {}) }
    const res = await this.#call(farmer, ex, options, true)
    const actual = await sha256Hex(res.body)
    if (actual !== id) {
      throw new FarmerError('HASH_MISMATCH', 'Farmer sent bytes that do not hash to the fragment id',
        { id, actual, farmer: targetKey(farmer), remote: false })
    }
    return res.body
  }

  /** For each id, in order, whether `farmer` holds it. Batches of more than 1024 ids go as several requests. */
  async has (farmer: FarmerTarget, ids: readonly string[], options: CallOptions = {}): Promise<boolean[]> {
    ids.forEach(id => { assertFragmentId(id) })
    const out: boolean[] = []
    for (let i = 0; i < ids.length; i += MAX_HAS_IDS) {
      const batch = ids.slice(i, i + MAX_HAS_IDS)
      const res = await this.#call(farmer,
        { op: 'HAS', req: { op: 'HAS', count: batch.length }, body: encodeIds(batch) }, options, true)
      for (const c of res.held) out.push(c === '1')
    }
    return out
  }

  /**
   * Deletes the fragment, signed by `owner`. The signature names this farmer and a fresh nonce and
   * timestamp, so it cannot be replayed. Never retried: a second attempt would need a new signature.
   */
  async delete (farmer: FarmerTarget, id: string, owner: OwnerKey, options: CallOptions = {}): Promise<void> {
    assertFragmentId(id)
    const peer = peerIdOf(farmer)
    if (peer === undefined) {
      throw new FarmerError('BAD_REQUEST', 'DELETE needs the farmer\'s peer id: use a multiaddr ending in /p2p/<id>', { remote: false })
    }
    const claim = { id, farmer: peer, ts: Date.now(), nonce: newNonce() }
    const sig = await signDelete(owner, claim)
    await this.#call(farmer,
      { op: 'DELETE', req: { op: 'DELETE', id, owner: owner.publicKey, ts: claim.ts, nonce: claim.nonce, sig } }, options, false)
  }

  /**
   * Extends `owner`'s claims on `ids` at `farmer` by one lease, in signed batches of up to 1024 ids
   * (each signature names this farmer, a fresh nonce and the batch's SHA-256). A batch is retried
   * once on a transport failure with a new signature, since the farmer may have used the first.
   * A `DelegatedKey` renews the owner's claims as its delegate.
   */
  async renew (farmer: FarmerTarget, ids: readonly string[], owner: OwnerKey, options: CallOptions = {}): Promise<RenewResult> {
    ids.forEach(id => { assertFragmentId(id) })
    const peer = peerIdOf(farmer)
    if (peer === undefined) {
      throw new FarmerError('BAD_REQUEST', 'RENEW needs the farmer\'s peer id: use a multiaddr ending in /p2p/<id>', { remote: false })
    }
    const renewed: boolean[] = []
    let expiresAt = 0
    for (let i = 0; i < ids.length; i += MAX_HAS_IDS) {
      const batch = ids.slice(i, i + MAX_HAS_IDS)
      const body = encodeIds(batch)
      const digest = await sha256Hex(body)
      let res
      for (let attempt = 0; ; attempt++) {
        const claim = { farmer: peer, ts: Date.now(), nonce: newNonce(), body: digest }
        // A delegated key signs as the owner's delegate, and the farmer checks the delegation sent beside it.
        const sig = isDelegatedKey(owner) ? await signAsDelegate(owner, delegatedRenewMessage(claim)) : await signRenew(owner, claim)
        const req: RequestHeader = {
          op: 'RENEW', owner: owner.publicKey, count: batch.length, ts: claim.ts, nonce: claim.nonce, sig,
          ...(isDelegatedKey(owner) ? { delegation: owner.delegation } : {})
        }
        try {
          res = await this.#call(farmer, { op: 'RENEW', req, body }, options, false)
          break
        } catch (err) {
          if (attempt > 0 || (err as { code?: string }).code !== 'UNREACHABLE') throw err
        }
      }
      for (const c of res.renewed) renewed.push(c === '1')
      expiresAt = res.expiresAt
    }
    return { renewed, expiresAt }
  }

  /** What the farmer reports about its capacity and itself. */
  async stat (farmer: FarmerTarget, options: CallOptions = {}): Promise<FarmerStat> {
    return (await this.#call(farmer, { op: 'STAT', req: { op: 'STAT' } }, options, true)).stat
  }

  /** One call: deadline, per-farmer slot, one retry on a transport failure when `retry` allows it. */
  async #call<O extends Op> (
    farmer: FarmerTarget, ex: Exchange<O>, options: CallOptions, retry: boolean
  ): Promise<ExchangeResults[O]> {
    const deadline = AbortSignal.timeout(this.#timeoutMs)
    const signal = options.signal === undefined ? deadline : AbortSignal.any([options.signal, deadline])
    const key = targetKey(farmer)
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#limiter.run(key, signal, async () =>
          await exchange(this.#libp2p, farmer, ex, { signal, maxFragmentBytes: this.#maxFragmentBytes }))
      } catch (err) {
        if (options.signal?.aborted === true) throw new AbortError()
        if (deadline.aborted) {
          throw new FarmerError('TIMEOUT', `No answer from the farmer within ${this.#timeoutMs} ms`,
            { op: ex.op, farmer: key, timeoutMs: this.#timeoutMs, remote: false })
        }
        const e = err instanceof ShardfarmError
          ? err
          : new FarmerError('UNREACHABLE', `Farmer unreachable: ${(err as Error).message}`,
            { op: ex.op, farmer: key, cause: (err as Error).name, remote: false })
        if (retry && attempt === 0 && e.code === 'UNREACHABLE') continue
        throw e
      }
    }
  }
}

/** What a farmer holding `bytes` answers to a PUT carrying `nonce` (`docs/protocol.md`, "Possession proof"). */
export async function possessionProof (nonce: string, bytes: Uint8Array): Promise<string> {
  const prefix = new TextEncoder().encode(POSSESSION_PROOF_DOMAIN)
  const salt = fromBase64(nonce)
  const buf = new Uint8Array(prefix.byteLength + salt.byteLength + bytes.byteLength)
  buf.set(prefix)
  buf.set(salt, prefix.byteLength)
  buf.set(bytes, prefix.byteLength + salt.byteLength)
  return await sha256Hex(buf)
}

/** The farmer's peer id string, when the target names one. */
function peerIdOf (farmer: FarmerTarget): string | undefined {
  if (isPeerId(farmer)) return farmer.toString()
  return farmer.getComponents().findLast(c => c.name === 'p2p')?.value
}

/** Key of the per-farmer stream limit: the peer id, or the whole address when it has none. */
function targetKey (farmer: FarmerTarget): string {
  return peerIdOf(farmer) ?? farmer.toString()
}
