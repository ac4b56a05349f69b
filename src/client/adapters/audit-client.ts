/**
 * `AuditClient` challenges farmers over the audit protocol (`net/protocols/audit.ts`): it picks a
 * few distinct leaves at random and a fresh nonce, and checks the proofs the farmer sends against
 * the fragment's Merkle root. A wrong answer of any kind is a `failed` verdict; `NOT_FOUND` is
 * `missing`; a farmer that cannot be reached, answers too late, or refuses for its own reasons
 * (`BUSY`) proves nothing either way, so those reject with a `FarmerError` instead.
 */
import type { Libp2p, PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { AbortError, type AbortOptions } from '../../core/errors.ts'
import { isFragmentId } from '../../core/fragment-store.ts'
import { leafCount, verifyLeaves } from '../../core/merkle.ts'
import { toBase64 } from '../../core/owner-key.ts'
import {
  AUDIT_CLIENT_TIMEOUT_MS, AUDIT_NONCE_BYTES, AUDIT_PROTOCOL, DEFAULT_CHALLENGE_LEAVES, MAX_AUDIT_RESPONSE_BYTES,
  MAX_CHALLENGE_LEAVES, parseAuditAnswer
} from '../../net/protocols/audit.ts'
import type { AuditAnswer } from '../../net/protocols/audit.ts'
import { MAX_FRAGMENT_BYTES } from '../../net/protocols/fragment-constants.ts'
import { FarmerError } from '../../net/protocols/fragment-errors.ts'
import { encodeFrame, parseHeaderObject } from '../../net/protocols/frames.ts'
import { FrameReader, sendAll, streamSource } from '../../net/protocols/stream-io.ts'
import type { AuditedFragment, AuditOutcome, AuditTransport, FarmerRef } from '../ports.ts'

export type { AuditOutcome, AuditedFragment } from '../ports.ts'

/** Options of `AuditClient`. */
export interface AuditClientInit {
  /** Deadline of one audit, dial included (`TIMEOUT` past it). @default AUDIT_CLIENT_TIMEOUT_MS (20 s) */
  timeoutMs?: number
  /** Leaves challenged per audit (1–16; fewer for a fragment with fewer leaves). @default DEFAULT_CHALLENGE_LEAVES (16) */
  leavesPerChallenge?: number
}

/** Audits farmers over libp2p. */
export class AuditClient implements AuditTransport {
  readonly #libp2p: Pick<Libp2p, 'dialProtocol'>
  readonly #timeoutMs: number
  readonly #leaves: number

  constructor (libp2p: Pick<Libp2p, 'dialProtocol'>, init: AuditClientInit = {}) {
    this.#libp2p = libp2p
    this.#timeoutMs = init.timeoutMs ?? AUDIT_CLIENT_TIMEOUT_MS
    const leaves = init.leavesPerChallenge ?? DEFAULT_CHALLENGE_LEAVES
    if (!Number.isSafeInteger(leaves) || leaves < 1 || leaves > MAX_CHALLENGE_LEAVES) {
      throw new FarmerError('BAD_REQUEST', `leavesPerChallenge must be 1–${MAX_CHALLENGE_LEAVES}`, { leavesPerChallenge: leaves, remote: false })
    }
    this.#leaves = leaves
  }

  /** Challenges `farmer` to prove it holds `fragment`. */
  async audit (farmer: FarmerRef, fragment: AuditedFragment, options: AbortOptions = {}): Promise<AuditOutcome> {
    if (!isFragmentId(fragment.id) || !/^[0-9a-f]{64}$/.test(fragment.root) ||
      !Number.isSafeInteger(fragment.size) || fragment.size < 1 || fragment.size > MAX_FRAGMENT_BYTES) {
      throw new FarmerError('BAD_REQUEST', 'An audit needs a fragment id, a hex Merkle root and a size of 1 byte to 16 MiB', { remote: false })
    }
    const started = performance.now()
    const leaves = pickLeaves(leafCount(fragment.size), this.#leaves)
    const nonce = toBase64(crypto.getRandomValues(new Uint8Array(AUDIT_NONCE_BYTES)))
    const request = encodeFrame({ id: fragment.id, nonce, leaves })
    const deadline = AbortSignal.timeout(this.#timeoutMs)
    const signal = options.signal === undefined ? deadline : AbortSignal.any([options.signal, deadline])
    let answer: AuditAnswer | string
    let answerBytes: number
    try {
      ({ answer, answerBytes } = await this.#exchange(targetOf(farmer), request, signal))
    } catch (err) {
      if (options.signal?.aborted === true) throw new AbortError()
      if (deadline.aborted) {
        throw new FarmerError('TIMEOUT', `No audit answer within ${this.#timeoutMs} ms`, { farmer: farmer.peerId, timeoutMs: this.#timeoutMs, remote: false })
      }
      if (err instanceof FarmerError) throw err
      throw new FarmerError('UNREACHABLE', `Farmer unreachable: ${(err as Error).message}`, { farmer: farmer.peerId, remote: false })
    }
    const ms = performance.now() - started
    const bytes = request.byteLength + answerBytes
    const failed = (reason: string): AuditOutcome => ({ verdict: 'failed', reason, ms, bytes })
    if (typeof answer === 'string') return failed(answer)
    if (!answer.ok) {
      if (answer.code === 'NOT_FOUND') return { verdict: 'missing', ms, bytes }
      throw new FarmerError(answer.code, answer.message, { farmer: farmer.peerId, remote: true })
    }
    if (answer.nonce !== nonce) return failed('nonce not echoed')
    if (answer.size !== fragment.size) return failed(`size ${answer.size}, expected ${fragment.size}`)
    if (answer.proofs.length !== leaves.length || answer.proofs.some((p, i) => p.index !== leaves[i])) {
      return failed('proofs are not of the challenged leaves')
    }
    if (!verifyLeaves(fragment.root, fragment.size, answer.proofs)) return failed('a proof does not verify against the root')
    return { verdict: 'proven', ms, bytes }
  }

  /**
   * Sends the request and reads one answer frame. Resolves with the decoded answer, or with a
   * string saying how the answer broke the protocol (too large, not JSON, malformed); rejects only
   * when no answer came (transport failure, stream ended, deadline).
   */
  async #exchange (target: Multiaddr | PeerId, request: Uint8Array, signal: AbortSignal): Promise<{ answer: AuditAnswer | string, answerBytes: number }> {
    const stream = await this.#libp2p.dialProtocol(target, AUDIT_PROTOCOL, { signal })
    const onAbort = (): void => { stream.abort(new Error('Audit aborted')) }
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      const reader = new FrameReader(streamSource(stream))
      await sendAll(stream, request, signal)
      await stream.close({ signal })
      let header: Uint8Array
      try {
        header = await reader.readHeader(MAX_AUDIT_RESPONSE_BYTES, signal)
      } catch (err) {
        if (!(err instanceof FarmerError)) throw err
        if (err.details.reason === 'truncated') {
          throw new FarmerError('UNREACHABLE', 'Farmer unreachable: stream ended before an answer', { remote: false })
        }
        return { answer: `answer refused: ${err.message}`, answerBytes: 0 }
      }
      const answerBytes = 4 + header.byteLength
      try {
        return { answer: parseAuditAnswer(parseHeaderObject(header)), answerBytes }
      } catch (err) {
        return { answer: `malformed answer: ${(err as Error).message}`, answerBytes }
      }
    } finally {
      signal.removeEventListener('abort', onAbort)
      if (stream.status === 'open' || stream.status === 'closing') stream.abort(new Error('Audit done'))
    }
  }
}

/** `count` distinct leaf indices below `leaves`, uniformly at random, in increasing order. */
export function pickLeaves (leaves: number, count: number): number[] {
  const n = Math.min(count, leaves)
  const picked = new Set<number>()
  const r = new Uint32Array(1)
  while (picked.size < n) {
    crypto.getRandomValues(r)
    picked.add(r[0]! % leaves) // bias below 2^-16 for at most 16 384 leaves
  }
  return [...picked].sort((a, b) => a - b)
}

/** A dialable target: the first address that names the peer, else the peer id (libp2p's peer store). */
function targetOf (f: FarmerRef): Multiaddr | PeerId {
  const a = f.addrs.find(x => x.endsWith(`/p2p/${f.peerId}`)) ?? f.addrs[0]
  return a === undefined ? peerIdFromString(f.peerId) : multiaddr(a.includes('/p2p/') ? a : `${a}/p2p/${f.peerId}`)
}
