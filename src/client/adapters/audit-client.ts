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
  AUDIT_BATCH_PROTOCOL, AUDIT_CLIENT_TIMEOUT_MS, AUDIT_NONCE_BYTES, AUDIT_PROTOCOL, DEFAULT_CHALLENGE_LEAVES, MAX_AUDIT_BATCH,
  MAX_AUDIT_BATCH_BYTES, MAX_AUDIT_BATCH_RESPONSE_BYTES, MAX_AUDIT_RESPONSE_BYTES, MAX_CHALLENGE_LEAVES, parseAuditAnswer, parseAuditBatchAnswer
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
    checkFragment(fragment)
    const leaves = pickLeaves(leafCount(fragment.size), this.#leaves)
    const nonce = newNonce()
    const { answer, ms, bytes } = await this.#ask(farmer, AUDIT_PROTOCOL, { id: fragment.id, nonce, leaves }, MAX_AUDIT_RESPONSE_BYTES,
      header => parseAuditAnswer(header), options)
    if (typeof answer === 'string') return { verdict: 'failed', reason: answer, ms, bytes }
    const outcome = judge(answer, nonce, fragment, leaves, ms, bytes, farmer.peerId)
    if (outcome instanceof FarmerError) throw outcome
    return outcome
  }

  /**
   * Challenges `farmer` for several fragments in one stream (`/shardfarm/audit-batch/1.0.0`): at
   * most `MAX_AUDIT_BATCH`, of `MAX_AUDIT_BATCH_BYTES` in all. One outcome per fragment, in order;
   * a fragment the farmer refused for a reason of its own (not `NOT_FOUND`) gets its `FarmerError`.
   * A refusal of the whole batch (`BUSY`) or no answer rejects, as `audit` does. A farmer that does
   * not serve the batched protocol is audited one fragment at a time.
   */
  async auditMany (farmer: FarmerRef, fragments: readonly AuditedFragment[], options: AbortOptions = {}): Promise<Array<AuditOutcome | FarmerError>> {
    if (fragments.length === 0) return []
    if (fragments.length > MAX_AUDIT_BATCH || fragments.reduce((n, f) => n + f.size, 0) > MAX_AUDIT_BATCH_BYTES) {
      throw new FarmerError('BAD_REQUEST', `A batch holds at most ${MAX_AUDIT_BATCH} fragments of ${MAX_AUDIT_BATCH_BYTES} bytes in all`, { remote: false })
    }
    fragments.forEach(checkFragment)
    if (new Set(fragments.map(f => f.id)).size !== fragments.length) throw new FarmerError('BAD_REQUEST', 'A batch names each fragment once', { remote: false })
    const challenges = fragments.map(f => ({ id: f.id, leaves: pickLeaves(leafCount(f.size), this.#leaves) }))
    const nonce = newNonce()
    let asked
    try {
      asked = await this.#ask(farmer, AUDIT_BATCH_PROTOCOL, { nonce, items: challenges }, MAX_AUDIT_BATCH_RESPONSE_BYTES,
        header => parseAuditBatchAnswer(header, fragments.length), options)
    } catch (err) {
      if (!(err instanceof FarmerError && err.details.reason === 'unsupported')) throw err
      const one = async (f: AuditedFragment): Promise<AuditOutcome | FarmerError> => await this.audit(farmer, f, options).catch((e: unknown) => {
        if (e instanceof FarmerError && e.code !== 'BUSY' && e.code !== 'UNREACHABLE' && e.code !== 'TIMEOUT') return e
        throw e
      })
      const out: Array<AuditOutcome | FarmerError> = []
      for (const f of fragments) out.push(await one(f))
      return out
    }
    const { answer, ms, bytes } = asked
    const share = Math.round(bytes / fragments.length)
    if (typeof answer === 'string') return fragments.map(() => ({ verdict: 'failed', reason: answer, ms, bytes: share }))
    if (!('results' in answer)) {
      // The batch refused as a whole: the farmer's reason, for every fragment alike.
      if (answer.ok) return fragments.map(() => ({ verdict: 'failed', reason: 'a single answer where a batch answer was due', ms, bytes: share }))
      if (answer.code === 'NOT_FOUND') return fragments.map(() => ({ verdict: 'missing', ms, bytes: share }))
      throw new FarmerError(answer.code, answer.message, { farmer: farmer.peerId, remote: true })
    }
    if (answer.nonce !== nonce) return fragments.map(() => ({ verdict: 'failed', reason: 'nonce not echoed', ms, bytes: share }))
    // Each result carries the batch's nonce (`parseAuditBatchAnswer`), checked just above.
    return answer.results.map((r, i) => judge(r, nonce, fragments[i]!, challenges[i]!.leaves, ms, share, farmer.peerId))
  }

  /**
   * Sends one request frame on `protocol` and reads one answer frame, within the deadline: the
   * decoded answer, or a string saying how the answer broke the protocol. Rejects with a typed
   * `FarmerError` when no answer came (`UNREACHABLE`, `TIMEOUT`; `reason: 'unsupported'` when the
   * farmer does not serve `protocol`) or with `AbortError`.
   */
  async #ask<A> (farmer: FarmerRef, protocol: string, request: Record<string, unknown>, maxAnswer: number,
    parse: (header: Record<string, unknown>) => A, options: AbortOptions): Promise<{ answer: A | string, ms: number, bytes: number }> {
    const started = performance.now()
    const frame = encodeFrame(request)
    const deadline = AbortSignal.timeout(this.#timeoutMs)
    const signal = options.signal === undefined ? deadline : AbortSignal.any([options.signal, deadline])
    try {
      const { answer, answerBytes } = await this.#exchange(targetOf(farmer), protocol, frame, maxAnswer, parse, signal)
      return { answer, ms: performance.now() - started, bytes: frame.byteLength + answerBytes }
    } catch (err) {
      if (options.signal?.aborted === true) throw new AbortError()
      if (deadline.aborted) {
        throw new FarmerError('TIMEOUT', `No audit answer within ${this.#timeoutMs} ms`, { farmer: farmer.peerId, timeoutMs: this.#timeoutMs, remote: false })
      }
      if (err instanceof FarmerError) throw err
      if ((err as { name?: string }).name === 'UnsupportedProtocolError') {
        throw new FarmerError('UNREACHABLE', `Farmer does not serve ${protocol}`, { farmer: farmer.peerId, reason: 'unsupported', remote: false })
      }
      throw new FarmerError('UNREACHABLE', `Farmer unreachable: ${(err as Error).message}`, { farmer: farmer.peerId, remote: false })
    }
  }

  /**
   * Sends the request and reads one answer frame. Resolves with the decoded answer, or with a
   * string saying how the answer broke the protocol (too large, not JSON, malformed); rejects only
   * when no answer came (transport failure, stream ended, deadline).
   */
  async #exchange<A> (target: Multiaddr | PeerId, protocol: string, request: Uint8Array, maxAnswer: number,
    parse: (header: Record<string, unknown>) => A, signal: AbortSignal): Promise<{ answer: A | string, answerBytes: number }> {
    const stream = await this.#libp2p.dialProtocol(target, protocol, { signal })
    const onAbort = (): void => { stream.abort(new Error('Audit aborted')) }
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      const reader = new FrameReader(streamSource(stream))
      await sendAll(stream, request, signal)
      await stream.close({ signal })
      let header: Uint8Array
      try {
        header = await reader.readHeader(maxAnswer, signal)
      } catch (err) {
        if (!(err instanceof FarmerError)) throw err
        if (err.details.reason === 'truncated') {
          throw new FarmerError('UNREACHABLE', 'Farmer unreachable: stream ended before an answer', { remote: false })
        }
        return { answer: `answer refused: ${err.message}`, answerBytes: 0 }
      }
      const answerBytes = 4 + header.byteLength
      try {
        return { answer: parse(parseHeaderObject(header)), answerBytes }
      } catch (err) {
        return { answer: `malformed answer: ${(err as Error).message}`, answerBytes }
      }
    } finally {
      signal.removeEventListener('abort', onAbort)
      if (stream.status === 'open' || stream.status === 'closing') stream.abort(new Error('Audit done'))
    }
  }
}

function checkFragment (fragment: AuditedFragment): void {
  if (!isFragmentId(fragment.id) || !/^[0-9a-f]{64}$/.test(fragment.root) ||
    !Number.isSafeInteger(fragment.size) || fragment.size < 1 || fragment.size > MAX_FRAGMENT_BYTES) {
    throw new FarmerError('BAD_REQUEST', 'An audit needs a fragment id, a hex Merkle root and a size of 1 byte to 16 MiB', { remote: false })
  }
}

function newNonce (): string {
  return toBase64(crypto.getRandomValues(new Uint8Array(AUDIT_NONCE_BYTES)))
}

/**
 * The verdict on one answer: `proven` only for the echoed nonce, the manifest's size and a verified
 * proof of each challenged leaf, in order. A refusal other than `NOT_FOUND` is the farmer's own
 * reason, returned as a `FarmerError` for the caller to throw or pass on.
 */
function judge (answer: AuditAnswer, nonce: string, fragment: AuditedFragment, leaves: number[], ms: number, bytes: number, farmer: string): AuditOutcome | FarmerError {
  const failed = (reason: string): AuditOutcome => ({ verdict: 'failed', reason, ms, bytes })
  if (!answer.ok) {
    if (answer.code === 'NOT_FOUND') return { verdict: 'missing', ms, bytes }
    return new FarmerError(answer.code, answer.message, { farmer, remote: true })
  }
  if (answer.nonce !== nonce) return failed('nonce not echoed')
  if (answer.size !== fragment.size) return failed(`size ${answer.size}, expected ${fragment.size}`)
  if (answer.proofs.length !== leaves.length || answer.proofs.some((p, i) => p.index !== leaves[i])) {
    return failed('proofs are not of the challenged leaves')
  }
  if (!verifyLeaves(fragment.root, fragment.size, answer.proofs)) return failed('a proof does not verify against the root')
  return { verdict: 'proven', ms, bytes }
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
